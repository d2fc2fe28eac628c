/*  api_fetch.c - Fetch (key 1), versions 4-11 (0-3 advertised, refused).

    Versions 0-3 return message formats 0/1, which Kov does not build:
    they are advertised from 0 (librdkafka's feature checks look at the
    minimum) and answered UNSUPPORTED_VERSION per partition.

    Every partition is read with vl_kparts_fetch at once (tail reads come
    from the data path's in-memory window). If the answer holds fewer than
    min_bytes and max_wait_ms > 0, the request long-polls: a watch on each
    partition at its high watermark (vl_kparts_watch) and a zloop timer
    for what is left of max_wait_ms; the first commit wakes it, the
    partitions are read again, and it waits again only if there is still
    less than min_bytes and time left. Nothing spins: between two reads
    there is always a commit or the deadline.

    The response holds each partition's batches while the total stays
    within the request's max_bytes (the first non-empty partition always,
    as Kafka does, so a large record is never stuck). No transactions:
    last stable offset = high watermark, no aborted transactions, and the
    isolation level does not matter. Fetch sessions (v7+) are not kept:
    session id 0 tells the client to send full requests, which clients
    accept.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

typedef struct s_ctx s_ctx_t;

typedef struct {
    s_ctx_t *c;
    char name[300]; /* varlog topic T-p */
    int32_t index;
    int64_t offset;
    int32_t max_bytes;
    int16_t err;
    bool refused; /* at parse time: never read */
    vl_kmarks_t marks;
    uint8_t *records; /* owned */
    size_t len;
    vl_kwatch_t *watch; /* while long-polling */
} s_part_t;

typedef struct {
    char *name;
    int32_t n;
    s_part_t *parts;
} s_topic_t;

struct s_ctx {
    vl_kreq_t *req;
    int16_t version;
    int32_t max_wait_ms, min_bytes, max_bytes;
    int64_t deadline; /* zclock_mono() ms */
    int32_t n;
    s_topic_t *topics;
    uint32_t pending; /* fetches not answered yet */
    int timer_id;     /* -1: none */
};

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        for (int32_t j = 0; j < c->topics[i].n; j++)
            free(c->topics[i].parts[j].records);
        free(c->topics[i].parts);
        free(c->topics[i].name);
    }
    free(c->topics);
    free(c);
}

static void s_write_part(vl_kw_t *w, int16_t v, const s_part_t *p, bool with_records)
{
    vl_kw_i32(w, p->index);
    vl_kw_i16(w, p->err);
    vl_kw_i64(w, p->err ? -1 : p->marks.high_watermark);
    if (v >= 4)
        vl_kw_i64(w, p->err ? -1 : p->marks.high_watermark); /* last stable offset */
    if (v >= 5)
        vl_kw_i64(w, p->err ? -1 : p->marks.log_start);
    if (v >= 4)
        vl_kw_array(w, false, 0); /* aborted transactions */
    if (v >= 11)
        vl_kw_i32(w, -1); /* preferred read replica */
    if (with_records && !p->err)
        vl_kw_bytes(w, false, p->records, (int32_t)p->len);
    else
        vl_kw_bytes(w, false, NULL, 0);
}

static void s_answer(s_ctx_t *c)
{
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    int16_t v = c->version;
    if (v >= 1)
        vl_kw_i32(w, 0); /* throttle */
    if (v >= 7) {
        vl_kw_i16(w, 0);
        vl_kw_i32(w, 0); /* session id: no sessions */
    }
    size_t total = 0;
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        vl_kw_str(w, false, t->name);
        vl_kw_array(w, false, t->n);
        for (int32_t j = 0; j < t->n; j++) {
            s_part_t *p = &t->parts[j];
            bool with = p->len > 0 && (total == 0 || total + p->len <= (size_t)c->max_bytes);
            if (with)
                total += p->len;
            s_write_part(w, v, p, with);
        }
    }
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_fetch_all(s_ctx_t *c);

/*  Ends the long poll: every watch and the timer. */
static void s_stop_wait(s_ctx_t *c)
{
    vl_kserver_t *s = c->req->server;
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++)
            if (c->topics[i].parts[j].watch)
                vl_kparts_unwatch(s->parts, &c->topics[i].parts[j].watch);
    if (c->timer_id >= 0)
        zloop_timer_end(s->loop, c->timer_id);
    c->timer_id = -1;
}

static void s_woken(void *arg)
{
    s_part_t *p = arg;
    s_ctx_t *c = p->c;
    p->watch = NULL; /* its callback ran: no unwatch */
    s_stop_wait(c);
    s_fetch_all(c);
}

static int s_timeout(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_ctx_t *c = arg;
    c->timer_id = -1; /* a one-shot timer: zloop removes it */
    s_stop_wait(c);
    s_answer(c);
    return 0;
}

/*  All partitions read: answer, or wait for more. */
static void s_fetched_all(s_ctx_t *c)
{
    vl_kserver_t *s = c->req->server;
    size_t total = 0;
    bool err = false;
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++) {
            total += c->topics[i].parts[j].len;
            err |= c->topics[i].parts[j].err != 0;
        }
    int64_t left = c->deadline - zclock_mono();
    if (total >= (size_t)c->min_bytes || err || left <= 0 || !c->req->conn) {
        s_answer(c);
        return;
    }
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++) {
            s_part_t *p = &c->topics[i].parts[j];
            if (p->refused)
                continue;
            int64_t at = p->offset > p->marks.high_watermark ? p->offset : p->marks.high_watermark;
            p->watch = vl_kparts_watch(s->parts, p->name, at, s_woken, p);
        }
    c->timer_id = zloop_timer(s->loop, (size_t)left, 1, s_timeout, c);
}

static void s_fetched(void *arg, int16_t kerr, const vl_kmarks_t *marks, const uint8_t *records,
                      size_t len, const char *msg)
{
    s_part_t *p = arg;
    s_ctx_t *c = p->c;
    p->err = kerr;
    if (marks)
        p->marks = *marks;
    free(p->records);
    p->records = NULL;
    p->len = 0;
    if (!kerr && len > 0) {
        p->records = vl_malloc(len);
        memcpy(p->records, records, len);
        p->len = len;
    }
    if (kerr && kerr != VL_KERR_OFFSET_OUT_OF_RANGE)
        vl_log(LOG_INFO, "fetch %s at %" PRId64 ": error %d: %s", p->name, p->offset, kerr,
               msg ? msg : "");
    if (--c->pending == 0)
        s_fetched_all(c);
}

static void s_fetch_all(s_ctx_t *c)
{
    vl_kserver_t *s = c->req->server;
    c->pending = 1; /* held while sending */
    for (int32_t i = 0; i < c->n; i++)
        for (int32_t j = 0; j < c->topics[i].n; j++) {
            s_part_t *p = &c->topics[i].parts[j];
            if (p->refused)
                continue;
            c->pending++;
            size_t max = p->max_bytes > 0 ? (size_t)p->max_bytes : 1;
            vl_kparts_fetch(s->parts, p->name, p->offset, max, s_fetched, p);
        }
    if (--c->pending == 0)
        s_fetched_all(c);
}

/*  Reads the topics and partitions of a v4+ (or, old, v0-3) request. */
static void s_read_topics(s_ctx_t *c, vl_kr_t *r, bool old)
{
    int16_t v = c->version;
    size_t min_part = 4 + 8 + 4 + (v >= 9 ? 4 : 0) + (v >= 5 ? 8 : 0);
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
            if (v >= 9)
                (void)vl_kr_i32(r); /* current leader epoch */
            p->offset = vl_kr_i64(r);
            if (v >= 5)
                (void)vl_kr_i64(r); /* the follower's log start offset */
            p->max_bytes = vl_kr_i32(r);
            if (!vl_kr_ok(r))
                break;
            t->n++;
            p->refused = true;
            if (old)
                p->err = VL_KERR_UNSUPPORTED_VERSION;
            else if (terr)
                p->err = terr;
            else if (p->index < 0)
                p->err = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else {
                p->refused = false;
                vl_ktopic_part_name(p->name, sizeof p->name, t->name, p->index);
            }
        }
    }
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    int16_t v = req->api_version;
    c->req = req;
    c->version = v;
    c->timer_id = -1;
    (void)vl_kr_i32(r); /* replica id: consumers send -1 */
    c->max_wait_ms = vl_kr_i32(r);
    c->min_bytes = vl_kr_i32(r);
    c->max_bytes = v >= 3 ? vl_kr_i32(r) : INT32_MAX;
    if (v >= 4)
        (void)vl_kr_i8(r); /* isolation level: no transactions, all the same */
    if (v >= 7) {
        (void)vl_kr_i32(r); /* session id */
        (void)vl_kr_i32(r); /* session epoch */
    }
    s_read_topics(c, r, v < 4);
    if (v >= 7) {
        int32_t nf = vl_kr_array(r, false, 2 + 4);
        for (int32_t i = 0; i < nf && vl_kr_ok(r); i++) {
            (void)vl_kr_str(r, false);
            int32_t np = vl_kr_array(r, false, 4);
            vl_kr_skip(r, np > 0 ? (size_t)np * 4 : 0);
        }
    }
    if (v >= 11)
        (void)vl_kr_str(r, false); /* rack id */
    if (!vl_kr_ok(r)) {
        s_ctx_free(c);
        vl_kreq_bad(req, r->what);
        return;
    }
    if (c->max_bytes <= 0)
        c->max_bytes = 1;
    if (c->min_bytes < 0)
        c->min_bytes = 0;
    c->deadline = zclock_mono() + (c->max_wait_ms > 0 ? c->max_wait_ms : 0);
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    if (v < 4)
        s_answer(c);
    else
        s_fetch_all(c);
}

const vl_kapi_t vl_kapi_fetch = {
    .key = 1, .name = "Fetch", .min = 0, .max = 11, .flex_min = 12, .handle = s_handle};
