/*  client.c - the vl_client_t: metadata, topics, blocking append, lookup
    and trim.

    Every call takes the client's mutex, so a client may be shared by
    threads; its sockets (the rpc to the MR and the DEALERs to storage nodes
    in sns) are only touched under it. The mutex is recursive because
    vl_trim reads one entry through vl_subscribe.

    The metadata (vl_meta_t) is cached. Calls that must see the present
    (vl_topic_info, vl_topic_list, vl_subscribe, vl_lookup_offset, vl_trim)
    fetch it first; vl_append uses the cache and fetches only when the topic
    or log stream is unknown or an error made the cache suspect.

    Error messages are kept per thread (tagged with the client) so that two
    threads sharing a client each read the message of their own failure.

    Blocking calls to storage nodes match replies by request id and drop
    everything else: a reply to an earlier call that timed out arrives on
    the same socket and must not be taken for the current one. A timed-out
    socket is closed, so that ZeroMQ does not deliver a queued request to a
    node that comes back long after the caller gave up.
*/
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "client_i.h"
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

static int s_meta_refresh(vl_client_t *c)
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
                              "(set --mr or VARLOG_MR)",
                              vl_rpc_endpoints(c->mr), c->timeout_ms);
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
    if (c->meta_valid)
        vl_meta_free(&c->meta);
    c->meta = meta;
    c->meta_valid = true;
    c->meta_stale = false;
    return 0;
}

/*  The topic in the cache, fetching fresh metadata when asked, when the
    cache is stale or when the topic is not in it. Caller holds the lock. */
static int s_topic(vl_client_t *c, const char *name, bool fresh, const char *what,
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
        int rc = s_meta_refresh(c);
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

int vl_client_route(vl_client_t *c, const char *topic, bool fresh, const char *what,
                    vl_route_t *route)
{
    memset(route, 0, sizeof *route);
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = s_topic(c, topic, fresh, what, &t);
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
            r->nrep = t->ls[i].nrep;
            for (uint32_t k = 0; k < r->nrep && k < VL_WIRE_MAX_REPLICAS; k++) {
                const vl_meta_sn_t *sn = vl_meta_sn_by_id(&c->meta, t->ls[i].replicas[k]);
                snprintf(r->addr[k], sizeof r->addr[k], "%s", sn ? sn->addr : "");
                r->alive[k] = sn && sn->alive;
            }
        }
    }
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

int vl_client_open(const char *mr_endpoints, const vl_client_opts_t *opts, vl_client_t **client_p,
                   char *errbuf, size_t errbuf_size)
{
    char err[VL_CLIENT_ERRMSG_SIZE];
    *client_p = NULL;
    if (!mr_endpoints || !*mr_endpoints) {
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "no metadata repository endpoint given; set --mr or VARLOG_MR "
                     "(e.g. tcp://127.0.0.1:9092)");
        return VL_EINVAL;
    }
    vl_rpc_t *rpc = vl_rpc_new(mr_endpoints, err, sizeof err);
    if (!rpc) {
        if (errbuf)
            snprintf(errbuf, errbuf_size, "%s (set --mr or VARLOG_MR)", err);
        return VL_EINVAL;
    }
    vl_client_t *c = vl_calloc(1, sizeof *c);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&c->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    c->mr = rpc;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : VL_CLIENT_TIMEOUT_DEFAULT;
    c->sns = zhashx_new();
    zhashx_set_destructor(c->sns, s_sock_destroy);
    c->next_id = ((uint64_t)getpid() << 32) | 1;
    c->client_id = vl_random_u64();
    int rc = s_meta_refresh(c);
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

/*  Sends an admin request to the MR; what prefixes the error message
    ("create topic=app"). *id (may be NULL) receives the reply's id. */
static int s_mr_admin(vl_client_t *c, uint16_t type, const vl_admin_t *a, uint32_t *id,
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

static void s_info_fill(const vl_meta_topic_t *t, vl_topic_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->topic_id = t->id;
    snprintf(info->name, sizeof info->name, "%s", t->name);
    info->replication_factor = t->rf;
    info->nls = t->nls;
    for (uint32_t i = 0; i < t->nls && i < sizeof info->ls_ids / sizeof info->ls_ids[0]; i++)
        info->ls_ids[i] = t->ls[i].id;
    info->hwm = t->hwm;
    info->end_offset = t->end_offset;
    info->trim_glsn = t->trim_glsn;
    info->trim_offset = t->trim_offset;
}

int vl_topic_info(vl_client_t *c, const char *name, vl_topic_info_t *info)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = s_topic(c, name, true, "topic info", &t);
    if (rc == 0)
        s_info_fill(t, info);
    vl_client_unlock(c);
    return rc;
}

int vl_topic_list(vl_client_t *c, vl_topic_info_t *infos, size_t max, size_t *n)
{
    vl_client_lock(c);
    int rc = s_meta_refresh(c);
    if (rc == 0) {
        for (size_t i = 0; i < c->meta.ntopics && i < max; i++)
            s_info_fill(&c->meta.topics[i], &infos[i]);
        *n = c->meta.ntopics;
    } else {
        *n = 0;
        vl_client_fail(c, rc, "list topics: %s", s_err.msg);
    }
    vl_client_unlock(c);
    return rc;
}

int vl_topic_create(vl_client_t *c, const char *name, uint32_t nls, uint32_t rf, uint32_t *topic_id)
{
    if (!name || !vl_topic_name_valid(name))
        return vl_client_fail(c, VL_ENAME, "create topic=%s: %s", name ? name : "(null)",
                              vl_err_str(VL_ENAME));
    vl_client_lock(c);
    int rc = 0;
    if (nls == 0) {
        /* the documented default: one log stream per storage node, up to 3 */
        if (!c->meta_valid || c->meta_stale)
            rc = s_meta_refresh(c);
        nls = rc == 0 && c->meta.nsn > 0 ? (c->meta.nsn < 3 ? c->meta.nsn : 3) : 1;
        rc = 0;
    }
    if (rf == 0)
        rf = 1;
    vl_admin_t a = {.nls = nls, .rf = rf};
    snprintf(a.name, sizeof a.name, "%s", name);
    char what[300];
    snprintf(what, sizeof what, "create topic=%s", name);
    uint32_t id = 0;
    rc = s_mr_admin(c, VL_MSG_CREATE_TOPIC, &a, &id, what);
    if (rc == 0 && topic_id)
        *topic_id = id;
    vl_client_unlock(c);
    return rc;
}

int vl_topic_delete(vl_client_t *c, const char *name)
{
    if (!name || !vl_topic_name_valid(name))
        return vl_client_fail(c, VL_ENAME, "delete topic=%s: %s", name ? name : "(null)",
                              vl_err_str(VL_ENAME));
    vl_client_lock(c);
    vl_admin_t a = {0};
    snprintf(a.name, sizeof a.name, "%s", name);
    char what[300];
    snprintf(what, sizeof what, "delete topic=%s", name);
    int rc = s_mr_admin(c, VL_MSG_DELETE_TOPIC, &a, NULL, what);
    vl_client_unlock(c);
    return rc;
}

/*  ---- blocking calls to storage nodes ------------------------------------ */

static zsock_t *s_sn_sock(vl_client_t *c, const char *addr)
{
    zsock_t *sock = zhashx_lookup(c->sns, addr);
    if (sock)
        return sock;
    sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    if (zsock_connect(sock, "%s", addr) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    zhashx_insert(c->sns, addr, sock);
    return sock;
}

/*  One outstanding request of a blocking call. */
typedef struct {
    const char *addr;
    zsock_t *sock;
    uint64_t request_id;
    uint16_t type;
    bool done;
    zmsg_t *reply; /* set when done */
    vl_hdr_t hdr;
    vl_rbuf_t body;
} s_call_t;

static int s_call_send(vl_client_t *c, s_call_t *call, uint16_t type, const vl_wbuf_t *body,
                       zmsg_t *payload)
{
    call->sock = s_sn_sock(c, call->addr);
    if (!call->sock) {
        zmsg_destroy(&payload);
        return VL_EINVAL;
    }
    call->type = type;
    call->request_id = c->next_id++;
    vl_hdr_t hdr = {.type = type,
                    .request_id = call->request_id,
                    .cluster_id = c->meta_valid ? c->meta.cluster_id : 0};
    zmsg_t *msg = vl_wire_msg(&hdr, body);
    if (payload) {
        zframe_t *f;
        while ((f = zmsg_pop(payload)))
            zmsg_append(msg, &f);
        zmsg_destroy(&payload);
    }
    if (zmsg_send(&msg, call->sock) != 0) {
        zmsg_destroy(&msg);
        return VL_EIO;
    }
    return 0;
}

/*  Waits until every call is done, or (stop_on_found) one LOOKUP reply says
    found, or timeout. Returns 0 or VL_ETIMEDOUT. */
static int s_call_wait(vl_client_t *c, s_call_t *calls, size_t n, bool stop_on_found)
{
    int64_t deadline = zclock_mono() + c->timeout_ms;
    zmq_pollitem_t *items = vl_calloc(n, sizeof *items);
    int rc = 0;
    for (;;) {
        size_t pending = 0, npoll = 0;
        for (size_t i = 0; i < n; i++) {
            if (calls[i].done || !calls[i].sock)
                continue;
            pending++;
            bool dup = false;
            for (size_t k = 0; k < npoll; k++)
                if (items[k].socket == zsock_resolve(calls[i].sock))
                    dup = true;
            if (!dup)
                items[npoll++] =
                    (zmq_pollitem_t){.socket = zsock_resolve(calls[i].sock), .events = ZMQ_POLLIN};
        }
        if (pending == 0)
            break;
        int64_t left = deadline - zclock_mono();
        if (left <= 0) {
            rc = VL_ETIMEDOUT;
            break;
        }
        if (zmq_poll(items, (int)npoll, (long)left) < 0)
            continue; /* EINTR: the deadline still bounds the wait */
        for (size_t k = 0; k < npoll; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *msg = zmsg_recv(items[k].socket);
            if (!msg)
                continue;
            vl_hdr_t hdr;
            vl_rbuf_t body;
            bool taken = false;
            if (vl_wire_parse(msg, &hdr, &body) == 0)
                for (size_t i = 0; i < n && !taken; i++) {
                    s_call_t *call = &calls[i];
                    if (call->done || !call->sock || zsock_resolve(call->sock) != items[k].socket ||
                        hdr.request_id != call->request_id ||
                        hdr.type != (call->type | VL_MSG_REPLY))
                        continue;
                    call->done = taken = true;
                    call->reply = msg;
                    call->hdr = hdr;
                    call->body = body;
                    if (stop_on_found && hdr.status == 0) {
                        vl_rbuf_t r = body;
                        if (vl_rbuf_u8(&r) == 1 && !r.err)
                            goto out;
                    }
                }
            if (!taken)
                zmsg_destroy(&msg); /* stale reply of an earlier call */
        }
    }
out:
    free(items);
    if (rc == VL_ETIMEDOUT)
        /* drop the sockets of unanswered calls with whatever they queued */
        for (size_t i = 0; i < n; i++)
            if (!calls[i].done && calls[i].sock) {
                for (size_t k = 0; k < n; k++)
                    if (k != i && calls[k].sock == calls[i].sock)
                        calls[k].sock = NULL;
                zhashx_delete(c->sns, calls[i].addr);
                calls[i].sock = NULL;
            }
    return rc;
}

static void s_call_free(s_call_t *calls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmsg_destroy(&calls[i].reply);
}

/*  ---- append ---------------------------------------------------------------- */

/*  One APPEND of entries data[from..n) to log stream ls_id of topic t at
    addr. On 0 or VL_ESEALED, *head gets how many of them are committed
    and glsns[from..from+*head) their GLSNs (VL_ESEALED: a seal cut the
    batch after that head; the rest is not in the log). Caller holds the
    lock. */
static int s_append_resolve(vl_client_t *c, const char *topic, uint32_t ls_id, uint64_t bseq,
                            size_t want, uint64_t *glsns, size_t *head);

static int s_append_once(vl_client_t *c, const char *topic, const vl_meta_topic_t *t,
                         uint32_t ls_id, const char *addr, const void *const *data,
                         const size_t *len, size_t from, size_t n, uint64_t *glsns, size_t *head)
{
    *head = 0;
    uint64_t bseq = ++c->next_bseq;
    s_call_t call = {.addr = addr};
    /* the entries back to back in one payload frame, their sizes in the body */
    size_t total_len = 0;
    for (size_t i = from; i < n; i++)
        total_len += len[i];
    uint8_t *sizes = vl_malloc(4 * (n - from) + 1);
    zframe_t *frame = zframe_new(NULL, total_len);
    uint8_t *p = zframe_data(frame);
    for (size_t i = from; i < n; i++) {
        vl_put_le32(sizes + 4 * (i - from), (uint32_t)len[i]);
        if (len[i])
            memcpy(p, data[i], len[i]);
        p += len[i];
    }
    vl_append_t a = {.topic_id = t->id,
                     .ls_id = ls_id,
                     .client_id = c->client_id,
                     .batch_seq = bseq,
                     .n = (uint32_t)(n - from),
                     .sizes = sizes};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    free(sizes);
    zmsg_t *payload = zmsg_new();
    if (n > from)
        zmsg_append(payload, &frame);
    zframe_destroy(&frame);
    int rc = s_call_send(c, &call, VL_MSG_APPEND, &b, payload);
    vl_wbuf_free(&b);
    if (rc == 0)
        rc = s_call_wait(c, &call, 1, false);
    vl_append_reply_t r = {0};
    bool have_runs = false;
    if (rc == VL_EINVAL)
        rc = vl_client_fail(c, VL_EINVAL,
                            "append topic=%s ls=%u: cannot connect to storage node '%s': "
                            "not a valid ZeroMQ endpoint; fix its address with varlogctl sn",
                            topic, ls_id, call.addr);
    else if (rc == VL_EIO)
        rc = vl_client_fail(c, rc, "append topic=%s ls=%u: cannot send to %s", topic, ls_id,
                            call.addr);
    else if (rc == VL_ETIMEDOUT) {
        /* the batch may be written: ask what became of it (t may be
           replaced by a metadata fetch from here on) */
        s_call_free(&call, 1);
        return s_append_resolve(c, topic, ls_id, bseq, n - from, glsns ? glsns + from : NULL, head);
    } else if (call.hdr.status != 0) {
        char text[512];
        vl_rbuf_t rest = call.body;
        vl_wire_errtext(&call.body, text, sizeof text);
        rc = vl_client_fail(c, (int)call.hdr.status, "append topic=%s ls=%u: %s", topic, ls_id,
                            text);
        c->meta_stale = true;
        if (rc == VL_ESEALED) {
            /* a seal that cut the batch names its committed head after the
               message */
            char skip[1024];
            vl_rbuf_str(&rest, skip, sizeof skip - 1);
            if (!rest.err && rest.left > 0 && vl_append_reply_decode(&rest, &r) == 0)
                have_runs = true;
        }
    } else {
        if (vl_append_reply_decode(&call.body, &r) == 0)
            have_runs = true;
        else
            rc = VL_EPROTO;
    }
    if (have_runs) {
        uint64_t total = 0;
        for (uint32_t i = 0; i < r.nruns; i++)
            total += r.runs[i].count;
        if ((rc == 0 && total != n - from) || (rc == VL_ESEALED && total >= n - from)) {
            rc = vl_client_fail(c, VL_EPROTO,
                                "append topic=%s ls=%u: malformed APPEND reply from %s (%llu "
                                "GLSNs for %zu entries)",
                                topic, ls_id, call.addr, (unsigned long long)total, n - from);
        } else {
            size_t k = from;
            for (uint32_t i = 0; i < r.nruns; i++)
                for (uint32_t j = 0; j < r.runs[i].count; j++)
                    if (glsns)
                        glsns[k++] = r.runs[i].glsn_begin + j;
            *head = (size_t)total;
        }
        vl_append_reply_free(&r);
    } else if (rc == VL_EPROTO) {
        rc = vl_client_fail(c, VL_EPROTO, "append topic=%s ls=%u: malformed APPEND reply from %s",
                            topic, ls_id, call.addr);
    }
    s_call_free(&call, 1);
    return rc;
}

vl_batch_fate_t vl_batch_fate(const vl_batch_status_reply_t *r, uint64_t want, uint64_t *covered_p)
{
    uint64_t covered = 0;
    for (uint32_t i = 0; i < r->ar.nruns; i++)
        covered += r->ar.runs[i].count;
    *covered_p = covered;
    if (r->found && r->n == want && covered == want)
        return VL_BATCH_COMMITTED; /* the answer that got lost */
    if (r->final && covered < want && (!r->found || covered == r->n))
        return VL_BATCH_CUT;
    return VL_BATCH_UNKNOWN; /* not (all) there yet and the log stream runs */
}

/*  The APPEND of batch bseq (want entries) to ls_id got no reply: asks
    the replicas what became of it, as the appender does (appender.c): 0
    when it is committed (glsns[0..want) filled); VL_ESEALED when the log
    stream is sealed and only the first *head entries (their GLSNs filled)
    are in the log, the rest never will be; VL_ETIMEDOUT when the log
    stream was not sealed in time and the batch may still be committed.
    Caller holds the lock. */
static int s_append_resolve(vl_client_t *c, const char *topic, uint32_t ls_id, uint64_t bseq,
                            size_t want, uint64_t *glsns, size_t *head)
{
    int64_t start = zclock_mono();
    int64_t window = 2 * (int64_t)c->timeout_ms < 10000 ? 10000 : 2 * (int64_t)c->timeout_ms;
    int saved_timeout = c->timeout_ms;
    uint32_t asked = 0;
    int rc = VL_ETIMEDOUT;
    while (zclock_mono() - start < window) {
        const vl_meta_topic_t *t;
        char addr[VL_WIRE_MAX_ADDR + 1] = "";
        c->timeout_ms = saved_timeout;
        if (s_topic(c, topic, true, "append", &t) == 0)
            for (uint32_t i = 0; i < t->nls; i++) {
                const vl_meta_ls_t *ls = &t->ls[i];
                if (ls->id != ls_id || ls->nrep == 0)
                    continue;
                /* the primary while it runs (only the answer may be lost),
                   else the replicas in turn */
                uint32_t k = ls->state == VL_LS_RUNNING ? 0 : asked++ % ls->nrep;
                const vl_meta_sn_t *sn = vl_meta_sn_by_id(&c->meta, ls->replicas[k]);
                if (sn)
                    snprintf(addr, sizeof addr, "%s", sn->addr);
            }
        if (*addr) {
            vl_batch_status_t q = {
                .topic_id = t->id, .ls_id = ls_id, .client_id = c->client_id, .batch_seq = bseq};
            vl_wbuf_t b;
            vl_wbuf_init(&b);
            vl_batch_status_encode(&q, &b);
            s_call_t call = {.addr = addr};
            c->timeout_ms = 500; /* one replica: a dead one must not hold us long */
            int crc = s_call_send(c, &call, VL_MSG_BATCH_STATUS, &b, NULL);
            vl_wbuf_free(&b);
            if (crc == 0)
                crc = s_call_wait(c, &call, 1, false);
            vl_batch_status_reply_t r;
            if (crc == 0 && call.hdr.status == 0 &&
                vl_batch_status_reply_decode(&call.body, &r) == 0) {
                uint64_t covered;
                vl_batch_fate_t fate = vl_batch_fate(&r, want, &covered);
                if (fate != VL_BATCH_UNKNOWN) {
                    size_t k = 0;
                    for (uint32_t i = 0; i < r.ar.nruns; i++)
                        for (uint32_t j = 0; j < r.ar.runs[i].count && k < want; j++, k++)
                            if (glsns)
                                glsns[k] = r.ar.runs[i].glsn_begin + j;
                    *head = k;
                    rc = fate == VL_BATCH_COMMITTED ? 0 : VL_ESEALED;
                }
                vl_append_reply_free(&r.ar);
            }
            s_call_free(&call, 1);
            if (rc != VL_ETIMEDOUT)
                break;
        }
        zclock_sleep(250);
    }
    c->timeout_ms = saved_timeout;
    c->meta_stale = true;
    if (rc == VL_ESEALED)
        return vl_client_fail(c, rc,
                              "append topic=%s ls=%u: no reply from its primary; the log stream "
                              "was sealed with %zu of the batch's %zu entries committed, the "
                              "others are not in the log",
                              topic, ls_id, *head, want);
    if (rc == VL_ETIMEDOUT)
        return vl_client_fail(c, rc,
                              "append topic=%s ls=%u: no reply from its primary within %d ms, "
                              "and the log stream was not sealed within %lld ms more to settle "
                              "the batch; the storage node may be down or slow (the batch may "
                              "still be committed later: check before appending it again)",
                              topic, ls_id, saved_timeout, (long long)window);
    return 0;
}

int vl_append(vl_client_t *c, const char *topic, uint32_t ls_id, const void *const *data,
              const size_t *len, size_t n, uint64_t *glsns)
{
    if (n == 0)
        return 0;
    if (!topic || !vl_topic_name_valid(topic))
        return vl_client_fail(c, VL_ENAME, "append topic=%s: %s", topic ? topic : "(null)",
                              vl_err_str(VL_ENAME));
    if (n > VL_WIRE_MAX_ENTRIES)
        return vl_client_fail(c, VL_EINVAL,
                              "append topic=%s: %zu entries in one batch; at most %u fit in "
                              "one message (split the batch)",
                              topic, n, (unsigned)VL_WIRE_MAX_ENTRIES);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] > VL_MAX_ENTRY_SIZE_DEFAULT)
            return vl_client_fail(c, VL_ETOOBIG,
                                  "append topic=%s: entry %zu is %zu bytes; the maximum entry "
                                  "size is %u bytes (split it)",
                                  topic, i, len[i], (unsigned)VL_MAX_ENTRY_SIZE_DEFAULT);
        total += len[i];
    }
    if (total > VL_WIRE_MAX_PAYLOAD)
        return vl_client_fail(c, VL_EINVAL,
                              "append topic=%s: %zu bytes in one batch; at most %u bytes fit in "
                              "one message (split the batch)",
                              topic, total, (unsigned)VL_WIRE_MAX_PAYLOAD);
    if (glsns)
        memset(glsns, 0, n * sizeof *glsns);
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = s_topic(c, topic, false, "append", &t);
    if (rc != 0)
        goto out;
    /* A log stream that refuses the batch because it is sealed (or gone)
       wrote nothing past what it says is committed: the rest goes to
       another running log stream (unless ls_id pinned one). So does the
       part of an unanswered batch that the replicas of the sealed log
       stream say is not in the log (s_append_resolve). */
    size_t done = 0;
    uint32_t refused = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        const vl_meta_ls_t *ls = NULL;
        if (ls_id) {
            for (int pass = 0; pass < 2 && !ls; pass++) {
                for (uint32_t i = 0; i < t->nls && !ls; i++)
                    if (t->ls[i].id == ls_id)
                        ls = &t->ls[i];
                if (!ls && pass == 0 && (rc = s_topic(c, topic, true, "append", &t)) != 0)
                    goto out;
            }
            if (!ls) {
                rc = vl_client_fail(c, VL_ENOLS,
                                    "append topic=%s ls=%u: the topic has no such log stream "
                                    "(see `varlogctl ls list %s`)",
                                    topic, ls_id, topic);
                goto out;
            }
        } else {
            uint32_t nrun = 0;
            for (uint32_t i = 0; i < t->nls; i++)
                nrun += t->ls[i].state == VL_LS_RUNNING && t->ls[i].id != refused;
            if (nrun == 0) {
                rc = vl_client_fail(c, t->nls ? VL_ESEALED : VL_ENOLS,
                                    "append topic=%s: no running log stream (%u sealed or "
                                    "deleted); unseal one or add one with `varlogctl ls add %s`",
                                    topic, t->nls, topic);
                c->meta_stale = true;
                goto out;
            }
            uint32_t k = c->rr++ % nrun;
            for (uint32_t i = 0; i < t->nls && !ls; i++)
                if (t->ls[i].state == VL_LS_RUNNING && t->ls[i].id != refused && k-- == 0)
                    ls = &t->ls[i];
        }
        uint32_t this_ls = ls->id;
        const vl_meta_sn_t *sn = ls->nrep ? vl_meta_sn_by_id(&c->meta, ls->replicas[0]) : NULL;
        if (!sn) {
            c->meta_stale = true;
            rc = vl_client_fail(c, VL_EUNAVAIL,
                                "append topic=%s ls=%u: the metadata names no address for the "
                                "primary storage node; check `varlogctl sn list`",
                                topic, this_ls);
            goto out;
        }
        char addr[VL_WIRE_MAX_ADDR + 1];
        snprintf(addr, sizeof addr, "%s", sn->addr);
        size_t head = 0;
        rc = s_append_once(c, topic, t, this_ls, addr, data, len, done, n, glsns, &head);
        done += head;
        if (rc == 0 || ls_id || (rc != VL_ESEALED && rc != VL_ENOLS))
            break;
        /* fresh metadata: the refused log stream shows its new state */
        refused = this_ls;
        int rc2 = s_topic(c, topic, true, "append", &t);
        if (rc2 != 0) {
            rc = rc2;
            break;
        }
    }
out:
    vl_client_unlock(c);
    return rc;
}

/*  ---- lookup -------------------------------------------------------------- */

int vl_lookup_offset(vl_client_t *c, const char *topic, uint64_t offset, uint64_t *glsn,
                     uint64_t *entry_offset)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = s_topic(c, topic, true, "lookup", &t);
    if (rc != 0)
        goto out;
    if (offset < t->trim_offset) {
        rc = vl_client_fail(c, VL_ETRIMMED,
                            "lookup topic=%s offset=%llu: trimmed; the log starts at offset "
                            "%llu",
                            topic, (unsigned long long)offset, (unsigned long long)t->trim_offset);
        goto out;
    }
    if (offset >= t->end_offset) {
        rc = vl_client_fail(c, VL_ERANGE,
                            "lookup topic=%s offset=%llu: beyond the end of the log (end "
                            "offset %llu)",
                            topic, (unsigned long long)offset, (unsigned long long)t->end_offset);
        goto out;
    }
    /* ask one replica of every log stream at once; the one holding the
       byte answers found=1 */
    s_call_t *calls = vl_calloc(t->nls ? t->nls : 1, sizeof *calls);
    size_t n = 0;
    vl_subscribe_t q = {.topic_id = t->id, .glsn_begin = offset};
    for (uint32_t i = 0; i < t->nls; i++) {
        const vl_meta_ls_t *ls = &t->ls[i];
        const vl_meta_sn_t *sn = ls->nrep ? vl_meta_sn_by_id(&c->meta, ls->replicas[0]) : NULL;
        if (ls->state == VL_LS_DELETED || !sn)
            continue;
        calls[n].addr = sn->addr;
        q.ls_id = ls->id;
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_subscribe_encode(&q, &b);
        if (s_call_send(c, &calls[n], VL_MSG_LOOKUP, &b, NULL) == 0)
            n++;
        else
            calls[n] = (s_call_t){0};
        vl_wbuf_free(&b);
    }
    int wrc = s_call_wait(c, calls, n, true);
    rc = VL_EIO;
    int first_err = 0;
    char text[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (!calls[i].done)
            continue;
        if (calls[i].hdr.status != 0) {
            if (!first_err) {
                first_err = (int)calls[i].hdr.status;
                vl_wire_errtext(&calls[i].body, text, sizeof text);
            }
            continue;
        }
        vl_sub_data_t d;
        if (vl_sub_data_decode(&calls[i].body, &d) != 0)
            continue;
        if (d.last == 1 && d.n >= 1) {
            *glsn = d.entries[0].glsn;
            if (entry_offset)
                *entry_offset = d.entries[0].offset;
            rc = 0;
        }
        vl_sub_data_free(&d);
        if (rc == 0)
            break;
    }
    if (rc != 0 && first_err)
        rc = vl_client_fail(c, first_err, "lookup topic=%s offset=%llu: %s", topic,
                            (unsigned long long)offset, text);
    else if (rc != 0 && wrc == VL_ETIMEDOUT)
        rc = vl_client_fail(c, VL_ETIMEDOUT,
                            "lookup topic=%s offset=%llu: no storage node answered with the "
                            "entry within %d ms; are the storage nodes running?",
                            topic, (unsigned long long)offset, c->timeout_ms);
    else if (rc != 0)
        rc = vl_client_fail(c, VL_EIO,
                            "lookup topic=%s offset=%llu: no log stream holds that byte "
                            "(was it trimmed meanwhile?); retry",
                            topic, (unsigned long long)offset);
    s_call_free(calls, n);
    free(calls);
out:
    vl_client_unlock(c);
    return rc;
}

/*  ---- trim ------------------------------------------------------------------ */

int vl_trim(vl_client_t *c, const char *topic, uint64_t glsn)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = s_topic(c, topic, true, "trim", &t);
    if (rc != 0)
        goto out;
    if (glsn > t->hwm) {
        rc = vl_client_fail(c, VL_ERANGE,
                            "trim topic=%s: GLSN %llu is beyond the high watermark %llu", topic,
                            (unsigned long long)glsn, (unsigned long long)t->hwm);
        goto out;
    }
    if (glsn + 1 <= t->trim_glsn)
        goto out; /* already trimmed there */
    uint32_t topic_id = t->id;
    uint64_t offset = t->end_offset;
    if (glsn < t->hwm) {
        /* the new trim point's byte offset: read the entry g+1 itself */
        vl_subscriber_t *sub = NULL;
        rc = vl_subscribe(c, topic, glsn + 1, glsn + 2, &sub);
        if (rc == 0) {
            vl_entry_t e;
            rc = vl_subscriber_next(sub, &e, c->timeout_ms);
            if (rc == 0)
                offset = e.offset;
            vl_subscriber_destroy(&sub);
        }
        if (rc != 0) {
            rc = vl_client_fail(c, rc == VL_EEOF ? VL_EPROTO : rc,
                                "trim topic=%s: reading GLSN %llu for its offset: %s", topic,
                                (unsigned long long)glsn + 1, s_err.msg);
            goto out;
        }
    }
    vl_admin_t a = {.id = topic_id, .glsn = glsn + 1, .offset = offset};
    snprintf(a.name, sizeof a.name, "%s", topic);
    char what[300];
    snprintf(what, sizeof what, "trim topic=%s glsn=%llu", topic, (unsigned long long)glsn);
    rc = s_mr_admin(c, VL_MSG_TRIM, &a, NULL, what);
out:
    vl_client_unlock(c);
    return rc;
}
