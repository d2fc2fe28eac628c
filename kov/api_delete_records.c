/*  api_delete_records.c - DeleteRecords (key 21), versions 0-1.

    Deleting the records before offset O of partition p keeps offset O:
    offset = GLSN - 1, so GLSNs 1..O go, i.e. vl_trim(T-p, O), and the
    low watermark (log start) becomes O. O = -1 means the high watermark
    (everything written so far); O beyond it is OFFSET_OUT_OF_RANGE and
    deletes nothing. vl_trim and vl_topic_info block on the cluster, so
    the whole request runs on a data-path thread (vl_kparts_run).
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"
#include "varlog.h"

typedef struct {
    char name[300];
    int32_t index;
    int64_t offset;
    int16_t err;
    int64_t low;
} s_part_t;

typedef struct {
    char *name;
    int32_t n;
    s_part_t *parts;
} s_topic_t;

typedef struct {
    vl_kreq_t *req;
    int32_t n;
    s_topic_t *topics;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        free(c->topics[i].parts);
        free(c->topics[i].name);
    }
    free(c->topics);
    free(c);
}

static void s_delete_part(vl_client_t *client, s_part_t *p)
{
    vl_topic_info_t info;
    int rc = vl_topic_info(client, p->name, &info);
    if (rc != 0) {
        p->err = vl_kerr_from_vl(rc);
        return;
    }
    int64_t hwm = (int64_t)info.hwm; /* next Kafka offset = last GLSN */
    int64_t o = p->offset == -1 ? hwm : p->offset;
    if (o < 0 || o > hwm) {
        p->err = VL_KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (o > 0) {
        rc = vl_trim(client, p->name, (uint64_t)o);
        if (rc == 0)
            rc = vl_topic_info(client, p->name, &info);
        if (rc != 0) {
            vl_log(LOG_WARNING, "delete records %s before %" PRId64 ": %s", p->name, o,
                   vl_client_errmsg(client));
            p->err = vl_kerr_from_vl(rc);
            return;
        }
        vl_log(LOG_NOTICE, "deleted records of %s before offset %" PRId64, p->name, o);
    }
    p->low = info.trim_glsn > 1 ? (int64_t)info.trim_glsn - 1 : 0;
}

static void s_work(void *arg, vl_client_t *client)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++)
            if (!c->topics[i].parts[j].err)
                s_delete_part(client, &c->topics[i].parts[j]);
}

static void s_done(void *arg)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        vl_kw_str(w, false, t->name);
        vl_kw_array(w, false, t->n);
        for (int32_t j = 0; j < t->n; j++) {
            vl_kw_i32(w, t->parts[j].index);
            vl_kw_i64(w, t->parts[j].err ? -1 : t->parts[j].low);
            vl_kw_i16(w, t->parts[j].err);
        }
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    int32_t n = vl_kr_array(r, false, 2 + 4);
    if (n > 0)
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        vl_kstr_t name = vl_kr_str(r, false);
        int32_t np = vl_kr_array(r, false, 4 + 8);
        if (!vl_kr_ok(r))
            break;
        s_topic_t *t = &c->topics[c->n++];
        t->name = vl_kstr_dup(name);
        const char *why;
        int16_t terr = vl_ktopic_check_n(name.ptr, name.len, &why);
        if (np > 0)
            t->parts = vl_calloc((size_t)np, sizeof *t->parts);
        for (int32_t j = 0; j < np && vl_kr_ok(r); j++) {
            s_part_t *p = &t->parts[t->n];
            p->index = vl_kr_i32(r);
            p->offset = vl_kr_i64(r);
            if (!vl_kr_ok(r))
                break;
            t->n++;
            if (terr)
                p->err = terr;
            else if (p->index < 0)
                p->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else
                vl_ktopic_part_name(p->name, sizeof p->name, t->name, p->index);
        }
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

const vl_kapi_t vl_kapi_delete_records = {
    .key = 21, .name = "DeleteRecords", .min = 0, .max = 1, .flex_min = 2, .handle = s_handle};
