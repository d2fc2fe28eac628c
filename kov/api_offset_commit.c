/*  api_offset_commit.c - OffsetCommit (key 8), versions 0-7.

    The response comes once the record holding every offset of the request
    is committed in varlog (a kill -9 of the gateway after it loses none).
    v0 carries no generation or member: a simple commit. The retention
    time (v2-4) and the commit timestamp (v1) are not kept: committed
    offsets stay until their group is deleted.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

typedef struct {
    char *name;
    int32_t n; /* its partitions: offs[first .. first + n) */
    size_t first;
} s_topic_t;

typedef struct {
    vl_kreq_t *req;
    int32_t ntopics;
    s_topic_t *topics;
    vl_kgroup_offset_t *offs;
    size_t noffs;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->ntopics; i++)
        free(c->topics[i].name);
    for (size_t i = 0; i < c->noffs; i++)
        free((char *)c->offs[i].metadata);
    free(c->topics);
    free(c->offs);
    free(c);
}

static void s_done(void *arg, const int16_t *errors, size_t n)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    if (req->api_version >= 3)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->ntopics);
    for (int32_t t = 0; t < c->ntopics; t++) {
        s_topic_t *tp = &c->topics[t];
        vl_kw_str(w, false, tp->name);
        vl_kw_array(w, false, tp->n);
        for (int32_t p = 0; p < tp->n; p++) {
            size_t i = tp->first + (size_t)p;
            vl_kw_i32(w, c->offs[i].partition);
            vl_kw_i16(w, i < n ? errors[i] : VL_KERR_UNKNOWN_SERVER_ERROR);
        }
    }
    if (n && errors[0])
        vl_log(LOG_INFO, "OffsetCommit (request %" PRIu64 "): %s", req->id,
               vl_kerr_name(errors[0]));
    req->ctx = NULL;
    s_ctx_free(c);
    vl_kreq_reply(req);
}

/*  The topics and their partitions; false when the body did not parse. */
static bool s_parse_topics(s_ctx_t *c, vl_kr_t *r, int16_t v)
{
    c->ntopics = vl_kr_array(r, false, 2 + 4);
    if (c->ntopics < 0)
        c->ntopics = 0;
    c->topics = vl_calloc((size_t)c->ntopics + 1, sizeof *c->topics);
    size_t cap = 0;
    for (int32_t t = 0; t < c->ntopics && vl_kr_ok(r); t++) {
        s_topic_t *tp = &c->topics[t];
        tp->name = vl_kr_strdup(r, false);
        tp->n = vl_kr_array(r, false, 4 + 8 + 2);
        if (tp->n < 0)
            tp->n = 0;
        tp->first = c->noffs;
        if (c->noffs + (size_t)tp->n > cap) {
            cap = (c->noffs + (size_t)tp->n) * 2;
            c->offs = vl_realloc(c->offs, cap * sizeof *c->offs);
        }
        for (int32_t p = 0; p < tp->n && vl_kr_ok(r); p++) {
            vl_kgroup_offset_t *o = &c->offs[c->noffs++];
            o->topic = tp->name;
            o->partition = vl_kr_i32(r);
            o->offset = vl_kr_i64(r);
            o->leader_epoch = v >= 6 ? vl_kr_i32(r) : -1;
            if (v == 1)
                (void)vl_kr_i64(r); /* commit_timestamp */
            o->metadata = vl_kcoord_strdup(vl_kr_str(r, false));
        }
        if (!vl_kr_ok(r))
            tp->n = (int32_t)(c->noffs - tp->first);
    }
    return vl_kr_ok(r);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    vl_kgroup_commit_t cm = {.generation_id = -1, .member_id = ""};
    char *group = vl_kr_strdup(r, false);
    char *member = NULL;
    if (v >= 1) {
        cm.generation_id = vl_kr_i32(r);
        member = vl_kr_strdup(r, false);
    }
    if (v >= 7)
        (void)vl_kr_str(r, false); /* group_instance_id */
    if (v >= 2 && v <= 4)
        (void)vl_kr_i64(r); /* retention_time_ms */
    bool ok = vl_kr_ok(r) && s_parse_topics(c, r, v);
    if (!ok) {
        vl_kreq_bad(req, r->what);
        s_ctx_free(c);
    } else {
        cm.group_id = group;
        if (member)
            cm.member_id = member;
        cm.n = c->noffs;
        cm.offsets = c->offs;
        req->ctx = c;
        req->ctx_free = s_ctx_free;
        vl_kgroup_commit(req->server->groups, &cm, s_done, c);
    }
    free(group);
    free(member);
}

const vl_kapi_t vl_kapi_offset_commit = {
    .key = 8, .name = "OffsetCommit", .min = 0, .max = 7, .flex_min = 8, .handle = s_handle};
