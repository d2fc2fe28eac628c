/*  api_describe_configs.c - DescribeConfigs (key 32), versions 0-2.

    A Kov topic's configs are fixed by the mapping, not set per topic:
    nothing expires (retention is a trim: DeleteRecords), nothing is
    compacted, timestamps are the producer's. They are reported read-only
    with source DEFAULT_CONFIG. A broker resource (this gateway) has no
    configs to show. Whether a topic exists is asked of the cluster on a
    data-path thread.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

#define S_TYPE_TOPIC 2
#define S_TYPE_BROKER 4
#define S_SOURCE_DEFAULT 5

static const char *const s_topic_configs[][2] = {
    {"cleanup.policy", "delete"},     {"retention.ms", "-1"},
    {"retention.bytes", "-1"},        {"message.timestamp.type", "CreateTime"},
    {"compression.type", "producer"}, {"min.insync.replicas", "1"},
};
#define S_NCONFIGS (sizeof s_topic_configs / sizeof s_topic_configs[0])

typedef struct {
    int8_t type;
    char *name;
    int32_t nkeys; /* -1: all */
    char **keys;
    int16_t err;
    const char *msg; /* static */
} s_res_t;

typedef struct {
    vl_kreq_t *req;
    int16_t version;
    int32_t n;
    s_res_t *res;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        for (int32_t k = 0; k < c->res[i].nkeys; k++)
            free(c->res[i].keys[k]);
        free(c->res[i].keys);
        free(c->res[i].name);
    }
    free(c->res);
    free(c);
}

static void s_work(void *arg, vl_client_t *client)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        s_res_t *res = &c->res[i];
        if (res->err || res->type != S_TYPE_TOPIC)
            continue;
        int rc;
        int32_t npart = vl_ktopics_count(client, res->name, &rc);
        if (npart < 0) {
            res->err = vl_kerr_from_vl(rc);
            res->msg = "cannot list the cluster's topics";
        } else if (npart == 0) {
            res->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            res->msg = "no such topic";
        }
    }
}

static bool s_wanted(const s_res_t *res, const char *key)
{
    if (res->nkeys < 0)
        return true;
    for (int32_t k = 0; k < res->nkeys; k++)
        if (strcmp(res->keys[k], key) == 0)
            return true;
    return false;
}

static void s_write_configs(vl_kw_t *w, int16_t v, const s_res_t *res)
{
    size_t n = 0;
    if (!res->err && res->type == S_TYPE_TOPIC)
        for (size_t i = 0; i < S_NCONFIGS; i++)
            n += s_wanted(res, s_topic_configs[i][0]);
    vl_kw_array(w, false, (int32_t)n);
    for (size_t i = 0; i < S_NCONFIGS && n > 0; i++) {
        if (!s_wanted(res, s_topic_configs[i][0]))
            continue;
        vl_kw_str(w, false, s_topic_configs[i][0]);
        vl_kw_str(w, false, s_topic_configs[i][1]);
        vl_kw_bool(w, true); /* read only */
        if (v == 0)
            vl_kw_bool(w, true); /* is default */
        else
            vl_kw_i8(w, S_SOURCE_DEFAULT);
        vl_kw_bool(w, false); /* sensitive */
        if (v >= 1)
            vl_kw_array(w, false, 0); /* synonyms */
    }
}

static void s_done(void *arg)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_res_t *res = &c->res[i];
        vl_kw_i16(w, res->err);
        vl_kw_str(w, false, res->err ? res->msg : NULL);
        vl_kw_i8(w, res->type);
        vl_kw_str(w, false, res->name);
        s_write_configs(w, c->version, res);
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->version = req->api_version;
    int32_t n = vl_kr_array(r, false, 1 + 2 + 4);
    if (n > 0)
        c->res = vl_calloc((size_t)n, sizeof *c->res);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        int8_t type = vl_kr_i8(r);
        char *name = vl_kr_strdup(r, false);
        int32_t nk = vl_kr_array(r, false, 2);
        if (!vl_kr_ok(r)) {
            free(name);
            break;
        }
        s_res_t *res = &c->res[c->n++];
        res->type = type;
        res->name = name;
        res->nkeys = nk;
        if (nk > 0)
            res->keys = vl_calloc((size_t)nk, sizeof *res->keys);
        for (int32_t k = 0; k < nk; k++) {
            res->keys[k] = vl_kr_strdup(r, false);
            if (!res->keys[k]) {
                res->nkeys = k;
                break;
            }
        }
        const char *why;
        if (type == S_TYPE_TOPIC && (res->err = vl_ktopic_check(name, &why)) != 0)
            res->msg = why;
        else if (type != S_TYPE_TOPIC && type != S_TYPE_BROKER) {
            res->err = VL_KERR_INVALID_REQUEST;
            res->msg = "only topic (2) and broker (4) resources have configs in Kov";
        }
    }
    if (c->version >= 1)
        (void)vl_kr_bool(r); /* include synonyms: there are none */
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    vl_kparts_run(req->server->parts, s_work, s_done, c);
}

const vl_kapi_t vl_kapi_describe_configs = {
    .key = 32, .name = "DescribeConfigs", .min = 0, .max = 2, .flex_min = 4, .handle = s_handle};
