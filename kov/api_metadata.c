/*  api_metadata.c - Metadata (key 3), versions 0-8.

    The brokers are the live gateways (kov/gw.h: their ids and advertised
    addresses); the leader of partition p of T is the owner of "T-p"
    (replicas and in-sync replicas: the leader alone) and the controller
    is the groups' coordinator (kafkajs's idempotent producer needs
    controller_id to name a real broker). A partition without a live
    owner (this gateway lost its registration) has leader -1 and
    LEADER_NOT_AVAILABLE, which clients retry.
    Topics come from the cluster's topic list (topics.c: "T-p" is
    partition p of T); a named topic that does not exist is created with
    --partitions partitions when auto-creation is on (default, like
    Kafka's broker) and the request allows it (v4+ field), else answered
    UNKNOWN_TOPIC_OR_PARTITION. Kov's own topics ("__kov_*") are marked
    internal. The listing and creation block on the cluster, so they run
    on a data-path thread (vl_kparts_run).
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

typedef struct {
    char *name;
    int16_t err;
    int32_t npart;
    const char *why; /* static */
} s_topic_t;

typedef struct {
    vl_kreq_t *req;
    int16_t version;
    bool all, auto_create;
    int32_t ntopics;
    s_topic_t *topics;
    vl_ktopic_t *listed; /* all == true: the listing */
    size_t nlisted;
    int rc; /* of the listing */
    char msg[256];
    /* copied from the server: the worker does not touch it */
    int32_t partitions, rf;
    uint32_t nls;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->ntopics; i++)
        free(c->topics[i].name);
    free(c->topics);
    vl_ktopics_free(c->listed, c->nlisted);
    free(c);
}

static void s_work(void *arg, vl_client_t *client)
{
    s_ctx_t *c = arg;
    c->rc = vl_ktopics_list(client, &c->listed, &c->nlisted);
    if (c->rc != 0) {
        snprintf(c->msg, sizeof c->msg, "%s", vl_client_errmsg(client));
        return;
    }
    for (int32_t i = 0; i < c->ntopics; i++) {
        s_topic_t *t = &c->topics[i];
        if (t->err)
            continue;
        for (size_t j = 0; j < c->nlisted; j++)
            if (strcmp(c->listed[j].name, t->name) == 0)
                t->npart = c->listed[j].npart;
        if (t->npart > 0)
            continue;
        if (!c->auto_create || vl_ktopic_internal(t->name)) {
            t->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        char msg[256];
        t->err = vl_ktopics_create(client, t->name, c->partitions, c->rf, c->nls, msg, sizeof msg);
        if (t->err == VL_KERR_TOPIC_ALREADY_EXISTS) /* another client created it meanwhile */
            t->err = 0;
        if (t->err == 0)
            t->npart = vl_ktopics_count(client, t->name, &c->rc);
        else
            vl_log(LOG_WARNING, "auto-create of topic %s failed: %s", t->name, msg);
        if (t->err == 0 && t->npart <= 0)
            t->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION; /* deleted at once */
        c->rc = 0;
    }
}

static void s_write_partitions(vl_kw_t *w, int16_t v, const vl_kgw_view_t *view, int32_t self_id,
                               const char *name, int32_t npart)
{
    vl_kw_array(w, false, npart);
    for (int32_t p = 0; p < npart; p++) {
        char part[300];
        vl_ktopic_part_name(part, sizeof part, name, p);
        const vl_kgw_member_t *m = view ? vl_kgw_view_part_owner(view, part) : NULL;
        int32_t node = view ? (m ? m->id : -1) : self_id;
        vl_kw_i16(w, node < 0 ? VL_KERR_LEADER_NOT_AVAILABLE : 0);
        vl_kw_i32(w, p);
        vl_kw_i32(w, node); /* leader */
        if (v >= 7)
            vl_kw_i32(w, 0); /* leader epoch */
        vl_kw_array(w, false, 1);
        vl_kw_i32(w, node); /* replicas */
        vl_kw_array(w, false, 1);
        vl_kw_i32(w, node); /* in-sync replicas */
        if (v >= 5)
            vl_kw_array(w, false, 0); /* offline replicas */
    }
}

static void s_write_topic(vl_kw_t *w, int16_t v, const vl_kgw_view_t *view, int32_t node,
                          const char *name, int16_t err, int32_t npart)
{
    vl_kw_i16(w, err);
    vl_kw_str(w, false, name);
    if (v >= 1)
        vl_kw_bool(w, vl_ktopic_internal(name));
    s_write_partitions(w, v, view, node, name, err ? 0 : npart);
    if (v >= 8)
        vl_kw_i32(w, INT32_MIN); /* topic authorized operations: not computed */
}

/*  The brokers: every live gateway (this one alone without gw). */
static void s_write_brokers(vl_kw_t *w, int16_t v, vl_kserver_t *s, const vl_kgw_view_t *view)
{
    int32_t n = 0;
    for (size_t i = 0; view && i < view->n; i++)
        n += view->m[i].alive;
    vl_kw_array(w, false, view ? n : 1);
    for (size_t i = 0; i < (view ? view->n : 1); i++) {
        char host[264];
        int port;
        if (view && !view->m[i].alive)
            continue;
        if (!view || vl_kgw_split_addr(view->m[i].addr, host, sizeof host, &port) != 0) {
            snprintf(host, sizeof host, "%s", s->adv_host); /* cannot happen: we wrote it */
            port = s->adv_port;
        }
        vl_kw_i32(w, view ? view->m[i].id : s->opts.node_id);
        vl_kw_str(w, false, host);
        vl_kw_i32(w, port);
        if (v >= 1)
            vl_kw_str(w, false, NULL); /* rack */
    }
}

static void s_done(void *arg)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kserver_t *s = req->server;
    int16_t v = c->version;
    int32_t node = s->opts.node_id;
    vl_kw_t *w = &req->out;
    if (c->rc != 0)
        vl_log(LOG_WARNING, "metadata: cannot list topics: %s", c->msg);
    vl_kgw_view_t view = {0}, *vp = NULL;
    if (s->gw) {
        vl_kgw_snapshot(s->gw, &view);
        vp = &view;
    }
    if (v >= 3)
        vl_kw_i32(w, 0); /* throttle */
    s_write_brokers(w, v, s, vp);
    if (v >= 2)
        vl_kw_str(w, false, "varlog-kov"); /* cluster id */
    const vl_kgw_member_t *ctl = vp ? vl_kgw_view_group_owner(vp) : NULL;
    if (v >= 1)
        vl_kw_i32(w, ctl ? ctl->id : node); /* controller */
    if (c->all) {
        size_t n = c->rc == 0 ? c->nlisted : 0, shown = 0;
        for (size_t i = 0; i < n; i++)
            shown += v >= 1 || !vl_ktopic_internal(c->listed[i].name);
        vl_kw_array(w, false, (int32_t)shown);
        for (size_t i = 0; i < n; i++)
            if (v >= 1 || !vl_ktopic_internal(c->listed[i].name))
                s_write_topic(w, v, vp, node, c->listed[i].name, 0, c->listed[i].npart);
    } else {
        vl_kw_array(w, false, c->ntopics);
        for (int32_t i = 0; i < c->ntopics; i++) {
            s_topic_t *t = &c->topics[i];
            int16_t err = c->rc != 0 && !t->err ? vl_kerr_from_vl(c->rc) : t->err;
            s_write_topic(w, v, vp, node, t->name, err, t->npart);
        }
    }
    if (v >= 8)
        vl_kw_i32(w, INT32_MIN); /* cluster authorized operations */
    vl_kgw_view_free(&view);
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->version = v;
    int32_t n = vl_kr_array(r, false, 2);
    c->all = n < 0 || (v == 0 && n == 0);
    if (n > 0) {
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
        for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
            vl_kstr_t name = vl_kr_str(r, false);
            s_topic_t *t = &c->topics[c->ntopics];
            if (!vl_kr_ok(r))
                break;
            c->ntopics++;
            t->name = vl_kstr_dup(name);
            t->err = vl_ktopic_check_n(name.ptr, name.len, &t->why);
        }
    }
    c->auto_create = !req->server->opts.no_auto_create;
    if (v >= 4 && !vl_kr_bool(r))
        c->auto_create = false;
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    c->partitions = req->server->opts.partitions;
    c->rf = req->server->opts.replication;
    c->nls = req->server->opts.log_streams;
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    vl_kparts_run(req->server->parts, s_work, s_done, c);
}

const vl_kapi_t vl_kapi_metadata = {
    .key = 3, .name = "Metadata", .min = 0, .max = 8, .flex_min = 9, .handle = s_handle};
