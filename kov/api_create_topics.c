/*  api_create_topics.c - CreateTopics (key 19), versions 0-4.

    A topic of N partitions is the varlog topics T-0 .. T-(N-1), each with
    --log-streams log streams of the requested replication factor (-1 or
    0: the defaults). Manual replica assignments have no meaning on varlog
    and are refused (INVALID_REPLICA_ASSIGNMENT); so are topic configs
    other than the fixed values DescribeConfigs reports (INVALID_CONFIG),
    rather than accepted and ignored. validate_only checks the name, the
    counts and whether the topic exists, and creates nothing.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

typedef struct {
    char *name;
    int32_t npart;
    int16_t rf;
    int16_t err;
    char msg[300];
} s_topic_t;

typedef struct {
    vl_kreq_t *req;
    int16_t version;
    bool validate_only;
    int32_t n;
    s_topic_t *topics;
    int32_t def_partitions, def_rf;
    uint32_t nls;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++)
        free(c->topics[i].name);
    free(c->topics);
    free(c);
}

static void s_work(void *arg, vl_client_t *client)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        if (t->err)
            continue;
        int32_t npart = t->npart == -1 ? c->def_partitions : t->npart;
        int32_t rf = t->rf == -1 ? c->def_rf : t->rf;
        int rc;
        int32_t have = vl_ktopics_count(client, t->name, &rc);
        if (have < 0) {
            t->err = vl_kerr_from_vl(rc);
            snprintf(t->msg, sizeof t->msg, "cannot list topics: %s", vl_client_errmsg(client));
        } else if (have > 0) {
            t->err = VL_KERR_TOPIC_ALREADY_EXISTS;
            snprintf(t->msg, sizeof t->msg, "topic '%s' already exists", t->name);
        } else if (!c->validate_only) {
            t->err = vl_ktopics_create(client, t->name, npart, rf, c->nls, t->msg, sizeof t->msg);
            if (!t->err)
                vl_log(LOG_NOTICE, "created topic %s: %d partitions", t->name, (int)npart);
        }
    }
}

static void s_done(void *arg)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    if (c->version >= 2)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        vl_kw_str(w, false, t->name);
        vl_kw_i16(w, t->err);
        if (c->version >= 1)
            vl_kw_str(w, false, t->err ? t->msg : NULL);
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

/*  Reads one topic's assignments and configs; sets t->err when they ask
    for something Kov cannot do. */
static void s_read_extras(vl_kr_t *r, s_topic_t *t)
{
    int32_t na = vl_kr_array(r, false, 8);
    for (int32_t j = 0; j < na && vl_kr_ok(r); j++) {
        (void)vl_kr_i32(r);
        int32_t nb = vl_kr_array(r, false, 4);
        vl_kr_skip(r, nb > 0 ? (size_t)nb * 4 : 0);
    }
    if (na > 0 && !t->err) {
        t->err = VL_KERR_INVALID_REPLICA_ASSIGNMENT;
        snprintf(t->msg, sizeof t->msg,
                 "manual replica assignment is not supported by Kov: give num_partitions and "
                 "replication_factor instead");
    }
    int32_t nc = vl_kr_array(r, false, 4);
    for (int32_t j = 0; j < nc && vl_kr_ok(r); j++) {
        vl_kstr_t k = vl_kr_str(r, false);
        vl_kstr_t val = vl_kr_str(r, false);
        if (!vl_kr_ok(r) || t->err)
            continue;
        t->err = VL_KERR_INVALID_CONFIG;
        snprintf(t->msg, sizeof t->msg,
                 "topic config %.*s=%.*s: Kov topics have fixed configs (see DescribeConfigs); "
                 "create the topic without it",
                 k.len > 0 ? (int)k.len : 0, k.len > 0 ? (const char *)k.ptr : "",
                 val.len > 0 ? (int)val.len : 0, val.len > 0 ? (const char *)val.ptr : "");
    }
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    vl_kserver_t *s = req->server;
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->version = req->api_version;
    int32_t n = vl_kr_array(r, false, 2 + 4 + 2 + 4 + 4);
    if (n > 0)
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        s_topic_t *t = &c->topics[i];
        vl_kstr_t name = vl_kr_str(r, false);
        t->npart = vl_kr_i32(r);
        t->rf = vl_kr_i16(r);
        if (!vl_kr_ok(r))
            break;
        c->n++;
        t->name = vl_kstr_dup(name);
        const char *why;
        t->err = vl_ktopic_check_n(name.ptr, name.len, &why);
        if (t->err)
            snprintf(t->msg, sizeof t->msg, "%s", why);
        else if (t->npart == 0 || t->npart < -1 || t->npart > VL_KOV_MAX_PARTITIONS) {
            t->err = VL_KERR_INVALID_PARTITIONS;
            snprintf(t->msg, sizeof t->msg, "num_partitions %d: use 1..%d (or -1: %d)",
                     (int)t->npart, VL_KOV_MAX_PARTITIONS, (int)s->opts.partitions);
        } else if (t->rf == 0 || t->rf < -1) {
            t->err = VL_KERR_INVALID_REPLICATION_FACTOR;
            snprintf(t->msg, sizeof t->msg, "replication_factor %d: use 1 or more (or -1)",
                     (int)t->rf);
        }
        s_read_extras(r, t);
    }
    (void)vl_kr_i32(r); /* timeout_ms: creation is synchronous */
    if (c->version >= 1)
        c->validate_only = vl_kr_bool(r);
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    c->def_partitions = s->opts.partitions;
    c->def_rf = s->opts.replication;
    c->nls = s->opts.log_streams;
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    vl_kparts_run(s->parts, s_work, s_done, c);
}

const vl_kapi_t vl_kapi_create_topics = {
    .key = 19, .name = "CreateTopics", .min = 0, .max = 4, .flex_min = 5, .handle = s_handle};
