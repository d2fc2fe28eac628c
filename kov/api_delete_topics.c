/*  api_delete_topics.c - DeleteTopics (key 20), versions 0-3.

    Deletes every partition's varlog topic T-p, the last first. Kov's own
    topics ("__kov_*") cannot be deleted through Kafka.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"
#include "varlog.h"

typedef struct {
    char *name;
    int16_t err;
} s_topic_t;

typedef struct {
    vl_kreq_t *req;
    int16_t version;
    int32_t n;
    s_topic_t *topics;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++)
        free(c->topics[i].name);
    free(c->topics);
    free(c);
}

static void s_delete_one(vl_client_t *client, s_topic_t *t)
{
    char part[300];
    int rc;
    int32_t npart = vl_ktopics_count(client, t->name, &rc);
    if (npart < 0) {
        t->err = vl_kerr_from_vl(rc);
        return;
    }
    if (npart == 0) {
        t->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    /* from the last one, so a topic half-deleted by a failure still shows
       its first partitions and can be deleted again */
    for (int32_t p = npart; p-- > 0;) {
        vl_ktopic_part_name(part, sizeof part, t->name, p);
        rc = vl_topic_delete(client, part);
        if (rc != 0 && rc != VL_ENOTOPIC) {
            vl_log(LOG_WARNING, "delete topic %s: %s", part, vl_client_errmsg(client));
            t->err = vl_kerr_from_vl(rc);
            return;
        }
    }
    vl_log(LOG_NOTICE, "deleted topic %s (%d partitions)", t->name, (int)npart);
}

static void s_work(void *arg, vl_client_t *client)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++)
        if (!c->topics[i].err)
            s_delete_one(client, &c->topics[i]);
}

static void s_done(void *arg)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    if (c->version >= 1)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        vl_kw_str(w, false, c->topics[i].name);
        vl_kw_i16(w, c->topics[i].err);
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->version = req->api_version;
    int32_t n = vl_kr_array(r, false, 2);
    if (n > 0)
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        vl_kstr_t name = vl_kr_str(r, false);
        if (!vl_kr_ok(r))
            break;
        s_topic_t *t = &c->topics[c->n++];
        t->name = vl_kstr_dup(name);
        const char *why;
        t->err = vl_ktopic_check_n(name.ptr, name.len, &why);
        if (!t->err && vl_ktopic_internal(t->name))
            t->err = VL_KERR_INVALID_TOPIC; /* Kov's own state */
    }
    (void)vl_kr_i32(r); /* timeout_ms */
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    vl_kparts_run(req->server->parts, s_work, s_done, c);
}

const vl_kapi_t vl_kapi_delete_topics = {
    .key = 20, .name = "DeleteTopics", .min = 0, .max = 3, .flex_min = 4, .handle = s_handle};
