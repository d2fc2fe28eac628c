/*  api_list_offsets.c - ListOffsets (key 2), versions 0-5.

    -1 (latest) is the high watermark, -2 (earliest) the log start offset
    (trim point - 1), from vl_kparts_marks (other negative values: the high
    watermark too). A timestamp ts >= 0 (offsets for times) asks for the
    first offset whose record timestamp is at or after ts, or -1 when no
    record is: Kov keeps no time index, so a data-path thread
    (vl_kparts_run) binary-searches the offsets [log start, HWM) of the
    marks, reading one entry per step (a bounded subscription [g, g+1)):
    at most ceil(log2(n)) + 1 reads for n records. The answer's timestamp
    field is the found record's. An offset trimmed while the search runs
    moves its lower bound past it; another read error answers
    KAFKA_STORAGE_ERROR (REQUEST_TIMED_OUT for a timeout), which clients
    retry.
    - The search takes the timestamps as sorted (one producer's are, near
      enough). With timestamps out of order it answers an offset whose
      record is >= ts and whose predecessor's is < ts (or the log start),
      which need not be the first such record (Kafka's time index, built
      on the largest timestamp so far, finds the first).
    - A record stored plain (null key, no headers: its timestamp is not
      kept) counts as stamped with the time of the request, the same time
      Fetch reports for it: older timestamps find it, later ones do not.
    doc/KOV.md ("ListOffsets by timestamp") says the same.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "batch.h"
#include "server_i.h"
#include "util.h"
#include "varlog.h"

typedef struct s_ctx s_ctx_t;

typedef struct {
    s_ctx_t *c;
    char name[300];
    int32_t index;
    int64_t timestamp;
    int16_t err;
    bool refused;
    int64_t offset;
    int64_t found_ts;  /* timestamp of the record found by a search, else -1 */
    vl_kmarks_t marks; /* the partition's when the search starts */
} s_part_t;

typedef struct {
    char *name;
    int32_t n;
    s_part_t *parts;
} s_topic_t;

struct s_ctx {
    vl_kreq_t *req;
    int16_t version;
    int32_t n;
    s_topic_t *topics;
    uint32_t pending;
};

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

static void s_answer(s_ctx_t *c)
{
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    int16_t v = c->version;
    if (v >= 2)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        vl_kw_str(w, false, t->name);
        vl_kw_array(w, false, t->n);
        for (int32_t j = 0; j < t->n; j++) {
            s_part_t *p = &t->parts[j];
            vl_kw_i32(w, p->index);
            vl_kw_i16(w, p->err);
            if (v == 0) {
                vl_kw_array(w, false, p->err ? 0 : 1);
                if (!p->err)
                    vl_kw_i64(w, p->offset);
            } else {
                vl_kw_i64(w, p->err ? -1 : p->found_ts);
                vl_kw_i64(w, p->err ? -1 : p->offset);
                if (v >= 4)
                    vl_kw_i32(w, 0); /* leader epoch */
            }
        }
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  The timestamp of the record at Kafka offset o of p (plain ones: now). */
static int s_read_ts(vl_client_t *client, const s_part_t *p, int64_t o, int64_t now, int64_t *ts)
{
    vl_subscriber_t *sub = NULL;
    uint64_t glsn = (uint64_t)o + 1;
    int rc = vl_subscribe(client, p->name, glsn, glsn + 1, &sub);
    if (rc == 0) {
        vl_entry_t e;
        rc = vl_subscriber_next(sub, &e, 10000);
        if (rc == 0) {
            vl_krecord_t r;
            (void)vl_krec_decode(e.data, e.size, now, NULL, 0, &r);
            *ts = r.timestamp;
        } else if (rc == VL_EEOF) {
            rc = VL_EPROTO; /* a committed entry below the HWM must be there */
        }
    }
    vl_subscriber_destroy(&sub);
    return rc;
}

/*  Binary search for the first offset in [log start, HWM) whose record's
    timestamp is >= p->timestamp (data-path thread). */
static void s_search(void *arg, vl_client_t *client)
{
    s_part_t *p = arg;
    int64_t lo = p->marks.log_start, hi = p->marks.high_watermark, ts = -1, now = s_wall_ms();
    int64_t found_ts = -1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int rc = s_read_ts(client, p, mid, now, &ts);
        if (rc == VL_ETRIMMED) { /* trimmed meanwhile: so is every offset below it */
            lo = mid + 1;
            continue;
        }
        if (rc != 0) {
            vl_log(LOG_WARNING,
                   "list offsets %s: reading offset %" PRId64 " for timestamp %" PRId64
                   ": %s; the client may ask again",
                   p->name, mid, p->timestamp, vl_err_str(rc));
            p->err = vl_kerr_from_vl(rc);
            if (p->err == VL_KERR_OFFSET_OUT_OF_RANGE || p->err == VL_KERR_UNKNOWN_SERVER_ERROR)
                p->err = VL_KERR_KAFKA_STORAGE_ERROR; /* retriable for clients */
            return;
        }
        if (ts >= p->timestamp) {
            hi = mid;
            found_ts = ts;
        } else {
            lo = mid + 1;
        }
    }
    if (lo < p->marks.high_watermark) {
        p->offset = lo;
        p->found_ts = found_ts;
    } else {
        p->offset = -1; /* no record at or after the timestamp */
    }
}

static void s_search_done(void *arg)
{
    s_part_t *p = arg;
    if (--p->c->pending == 0)
        s_answer(p->c);
}

static void s_marks(void *arg, int16_t kerr, const vl_kmarks_t *marks, const char *msg)
{
    s_part_t *p = arg;
    s_ctx_t *c = p->c;
    p->err = kerr;
    p->found_ts = -1;
    if (!kerr && p->timestamp >= 0) {
        p->marks = *marks;
        vl_kparts_run(c->req->server->parts, s_search, s_search_done, p);
        return;
    }
    if (!kerr)
        p->offset = p->timestamp == -2 ? marks->log_start : marks->high_watermark;
    else
        vl_log(LOG_INFO, "list offsets %s: error %d: %s", p->name, kerr, msg ? msg : "");
    if (--c->pending == 0)
        s_answer(c);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    int16_t v = req->api_version;
    c->req = req;
    c->version = v;
    (void)vl_kr_i32(r); /* replica id */
    if (v >= 2)
        (void)vl_kr_i8(r); /* isolation level */
    size_t min_part = 4 + 8 + (v >= 4 ? 4 : 0) + (v == 0 ? 4 : 0);
    int32_t n = vl_kr_array(r, false, 2 + 4);
    if (n > 0)
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        vl_kstr_t name = vl_kr_str(r, false);
        int32_t np = vl_kr_array(r, false, min_part);
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
            p->c = c;
            p->index = vl_kr_i32(r);
            if (v >= 4)
                (void)vl_kr_i32(r); /* current leader epoch */
            p->timestamp = vl_kr_i64(r);
            if (v == 0)
                (void)vl_kr_i32(r); /* max_num_offsets: one is given */
            if (!vl_kr_ok(r))
                break;
            t->n++;
            p->refused = true;
            if (terr)
                p->err = terr;
            else if (p->index < 0)
                p->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else {
                p->refused = false;
                vl_ktopic_part_name(p->name, sizeof p->name, t->name, p->index);
            }
        }
    }
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    c->pending = 1;
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++)
            if (!c->topics[i].parts[j].refused) {
                c->pending++;
                vl_kparts_marks(req->server->parts, c->topics[i].parts[j].name, s_marks,
                                &c->topics[i].parts[j]);
            }
    if (--c->pending == 0)
        s_answer(c);
}

const vl_kapi_t vl_kapi_list_offsets = {
    .key = 2, .name = "ListOffsets", .min = 0, .max = 5, .flex_min = 6, .handle = s_handle};
