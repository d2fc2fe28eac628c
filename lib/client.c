/*  client.c - the vl_client_t: its errors, its lock, the cached metadata
    and the admin calls to the MR. The calls that use it live in files of
    their own: topic.c (vl_topic_*), append.c (vl_append), lookup.c
    (vl_lookup_offset), trim.c (vl_trim), call.c (their blocking calls to
    storage nodes), appender.c and subscriber.c.

    Every call takes the client's mutex, so a client may be shared by
    threads; its sockets (the rpc to the MR and the DEALERs to storage nodes
    in sns) are only touched under it. The mutex is not recursive: nothing
    that holds it takes it again (vl_trim reads an entry through a
    subscriber that uses vl_client_route_locked).

    The metadata (vl_meta_t) is cached. Calls that must see the present
    (vl_topic_info, vl_topic_list, vl_subscribe, vl_lookup_offset, vl_trim)
    fetch it first; vl_append uses the cache and fetches only when the topic
    or log stream is unknown or an error made the cache suspect.

    Error messages are kept per thread (tagged with the client) so that two
    threads sharing a client each read the message of their own failure.
*/
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "curve.h"
#include "client_i.h"
#include "mrconn.h"
#include "util.h"

static __thread struct {
    const vl_client_t *client;
    char msg[VL_CLIENT_ERRMSG_SIZE];
} s_err;

int vl_client_fail(vl_client_t *client, int rc, const char *fmt, ...)
{
    char msg[VL_CLIENT_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap); /* fmt may name s_err.msg itself */
    va_end(ap);
    s_err.client = client;
    memcpy(s_err.msg, msg, sizeof msg);
    return rc;
}

const char *vl_client_errmsg(vl_client_t *client)
{
    if (client && s_err.client == client)
        return s_err.msg;
    return "";
}

void vl_client_lock(vl_client_t *client)
{
    pthread_mutex_lock(&client->mutex);
}

void vl_client_unlock(vl_client_t *client)
{
    pthread_mutex_unlock(&client->mutex);
}

static void s_sock_destroy(void **item)
{
    zsock_destroy((zsock_t **)item);
}

/*  ---- metadata ------------------------------------------------------------ */

int vl_client_refresh(vl_client_t *c)
{
    char err[512];
    zmsg_t *reply = NULL;
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_rpc_call(c->mr, VL_MSG_GET_META, NULL, c->timeout_ms, &reply, &hdr, &body, err,
                         sizeof err);
    if (rc == VL_ETIMEDOUT)
        return vl_client_fail(c, rc,
                              "no reply from %s within %d ms; is varlogmr running? "
                              "(set --mr or VARLOG_MR)%s",
                              vl_rpc_endpoints(c->mr), c->timeout_ms, vl_curve_hint());
    if (rc != 0)
        return vl_client_fail(c, rc, "get metadata from %s: %s", vl_rpc_endpoints(c->mr), err);
    vl_meta_t meta;
    rc = vl_meta_decode(&body, &meta);
    zmsg_destroy(&reply);
    if (rc != 0)
        return vl_client_fail(c, VL_EPROTO,
                              "get metadata from %s: malformed META reply; is it a varlogmr "
                              "of the same version?",
                              vl_rpc_endpoints(c->mr));
    if (c->meta_valid && vl_meta_older(&meta, c->meta.term, c->meta.version)) {
        /* a deposed MR leader's (it has not noticed the new term yet):
           the cached metadata is newer; the next refresh asks again */
        vl_meta_free(&meta);
        return 0;
    }
    /* MR replicas the user did not name: rotate to them too */
    vl_mrconn_learn(vl_rpc_conn(c->mr), meta.members, meta.nmembers);
    if (c->meta_valid)
        vl_meta_free(&c->meta);
    c->meta = meta;
    c->meta_valid = true;
    c->meta_stale = false;
    return 0;
}

int vl_client_topic(vl_client_t *c, const char *name, bool fresh, const char *what,
                    const vl_meta_topic_t **topic_p)
{
    *topic_p = NULL;
    if (!name || !vl_topic_name_valid(name))
        return vl_client_fail(c, VL_ENAME, "%s topic=%s: %s", what, name ? name : "(null)",
                              vl_err_str(VL_ENAME));
    const vl_meta_topic_t *t = NULL;
    if (!fresh && c->meta_valid && !c->meta_stale)
        t = vl_meta_topic_by_name(&c->meta, name);
    if (!t) {
        int rc = vl_client_refresh(c);
        if (rc != 0)
            return vl_client_fail(c, rc, "%s topic=%s: %s", what, name, s_err.msg);
        t = vl_meta_topic_by_name(&c->meta, name);
    }
    if (!t)
        return vl_client_fail(c, VL_ENOTOPIC,
                              "%s topic=%s: no such topic (list topics with `varlogctl topic "
                              "list`, create one with `varlogctl topic create %s`)",
                              what, name, name);
    *topic_p = t;
    return 0;
}

int vl_client_route_locked(vl_client_t *c, const char *topic, bool fresh, const char *what,
                           vl_route_t *route)
{
    memset(route, 0, sizeof *route);
    const vl_meta_topic_t *t;
    int rc = vl_client_topic(c, topic, fresh, what, &t);
    if (rc == 0) {
        route->cluster_id = c->meta.cluster_id;
        route->topic_id = t->id;
        route->hwm = t->hwm;
        route->end_offset = t->end_offset;
        route->trim_glsn = t->trim_glsn;
        route->trim_offset = t->trim_offset;
        route->nls = t->nls;
        route->ls = vl_calloc(t->nls ? t->nls : 1, sizeof *route->ls);
        for (uint32_t i = 0; i < t->nls; i++) {
            vl_route_ls_t *r = &route->ls[i];
            r->id = t->ls[i].id;
            r->state = t->ls[i].state;
            r->epoch = t->ls[i].epoch;
            r->nrep = t->ls[i].nrep;
            for (uint32_t k = 0; k < r->nrep && k < VL_WIRE_MAX_REPLICAS; k++) {
                const vl_meta_sn_t *sn = vl_meta_sn_by_id(&c->meta, t->ls[i].replicas[k]);
                snprintf(r->addr[k], sizeof r->addr[k], "%s", sn ? sn->addr : "");
                r->alive[k] = sn && sn->alive;
            }
        }
    }
    return rc;
}

int vl_client_route(vl_client_t *c, const char *topic, bool fresh, const char *what,
                    vl_route_t *route)
{
    vl_client_lock(c);
    int rc = vl_client_route_locked(c, topic, fresh, what, route);
    vl_client_unlock(c);
    return rc;
}

void vl_route_free(vl_route_t *route)
{
    free(route->ls);
    route->ls = NULL;
    route->nls = 0;
}

/*  ---- open / close ------------------------------------------------------ */

/*  CZMQ starts at its first socket and then takes SIGINT and SIGTERM for
    itself (its handler only sets zsys_interrupted), unless ZSYS_SIGHANDLER
    is "false": a program that links libvarlog would no longer stop on
    Ctrl-C. A library must leave its application's signals alone, so CZMQ
    is started here once and whatever the application had is put back. An
    application that started CZMQ itself keeps what it chose. */
static void s_czmq_start(void)
{
    struct sigaction sint, sterm;
    sigaction(SIGINT, NULL, &sint);
    sigaction(SIGTERM, NULL, &sterm);
    zsys_init();
    sigaction(SIGINT, &sint, NULL);
    sigaction(SIGTERM, &sterm, NULL);
}

int vl_client_open(const char *mr_endpoints, const vl_client_opts_t *opts, vl_client_t **client_p,
                   char *errbuf, size_t errbuf_size)
{
    static pthread_once_t czmq_once = PTHREAD_ONCE_INIT;
    pthread_once(&czmq_once, s_czmq_start);
    char err[VL_CLIENT_ERRMSG_SIZE];
    *client_p = NULL;
    if (!mr_endpoints || !*mr_endpoints) {
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "no metadata repository endpoint given; set --mr or VARLOG_MR "
                     "(e.g. tcp://127.0.0.1:9092)");
        return VL_EINVAL;
    }
    /* CURVE settings from VARLOG_KEY and VARLOG_SERVER_KEY, before the
       first socket */
    if (vl_curve_setup_env(err, sizeof err) != 0) {
        if (errbuf)
            snprintf(errbuf, errbuf_size, "%s", err);
        return VL_EINVAL;
    }
    vl_rpc_t *rpc = vl_rpc_new(mr_endpoints, err, sizeof err);
    if (!rpc) {
        if (errbuf)
            snprintf(errbuf, errbuf_size, "%s (set --mr or VARLOG_MR)", err);
        return VL_EINVAL;
    }
    vl_client_t *c = vl_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mutex, NULL);
    c->mr = rpc;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : VL_CLIENT_TIMEOUT_DEFAULT;
    c->sns = zhashx_new();
    zhashx_set_destructor(c->sns, s_sock_destroy);
    c->next_id = ((uint64_t)getpid() << 32) | 1;
    c->client_id = vl_random_u64();
    int rc = vl_client_refresh(c);
    if (rc != 0) {
        if (errbuf)
            snprintf(errbuf, errbuf_size, "%s", s_err.msg);
        vl_client_destroy(&c);
        return rc;
    }
    *client_p = c;
    return 0;
}

void vl_client_destroy(vl_client_t **client_p)
{
    if (!client_p || !*client_p)
        return;
    vl_client_t *c = *client_p;
    zhashx_destroy(&c->sns);
    vl_rpc_destroy(&c->mr);
    if (c->meta_valid)
        vl_meta_free(&c->meta);
    pthread_mutex_destroy(&c->mutex);
    if (s_err.client == c)
        s_err.client = NULL;
    free(c);
    *client_p = NULL;
}

/*  ---- admin calls to the MR ---------------------------------------------- */

int vl_client_admin(vl_client_t *c, uint16_t type, const vl_admin_t *a, uint32_t *id,
                    const char *what)
{
    char err[512];
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    zmsg_t *reply = NULL;
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_rpc_call(c->mr, type, &b, c->timeout_ms, &reply, &hdr, &body, err, sizeof err);
    vl_wbuf_free(&b);
    /* whatever happened, what we know about topics may have changed */
    c->meta_stale = true;
    if (rc == VL_ETIMEDOUT)
        return vl_client_fail(c, rc,
                              "%s: no reply from %s within %d ms; is varlogmr running? "
                              "(the request may still take effect)",
                              what, vl_rpc_endpoints(c->mr), c->timeout_ms);
    if (rc != 0)
        return vl_client_fail(c, rc, "%s: %s", what, err);
    uint32_t v = vl_rbuf_u32(&body);
    zmsg_destroy(&reply);
    if (id)
        *id = body.err ? 0 : v;
    return 0;
}
