/*  kpart.c - drives kov/part.c (the gateway's data path) against a real
    cluster, for tests/integration/kpart.sh and the benchmark.

    Usage: vl_kpart MR COMMAND TOPIC [ARGS]
      produce TOPIC NBATCH N   NBATCH batches of N records "b<i>-r<j>"
                               produced from the loop thread (all in flight
                               at once), then every batch fetched back
                               (Fetch from its base offset, through the
                               window or a catch-up reader): each batch's
                               records must be at base..base+N-1, in order.
                               Prints "base N" per batch.
      idem TOPIC               InitProducerId; a batch, its retry (the same
                               base offset, appended once), the next one,
                               the next through another gateway's kparts
                               and the one after back here (a later view
                               epoch: taken, not a sequence gap),
                               a sequence gap (45), an older epoch (47), an
                               id never allocated (59).
      watch TOPIC              a watch at the HWM fires on a produce (once
                               the follower delivered it: a Fetch reads it
                               from the tail window); then
                               prints "watching OFFSET" and waits (60 s at
                               most) for a commit by another writer (the
                               follower's), which a Fetch then reads from
                               the tail window.
      consume TOPIC MAXBYTES   Fetches of at most MAXBYTES from the log start
                               to the HWM, each where the last stopped: the
                               offsets dense, one catch-up subscription for
                               them all.
      range TOPIC              marks, then Fetch below the log start must
                               be OFFSET_OUT_OF_RANGE and at the log start
                               must return the record there. Prints
                               "log_start L hwm H".
      gone TOPIC               prints "watching OFFSET" and waits for the
                               topic's deletion to fire the watch; then
                               Fetch and Produce are UNKNOWN_TOPIC_OR_PARTITION.
      bench TOPIC TOTAL N SIZE TOTAL records of SIZE bytes in batches of N
                               (at most 64 batches in flight); prints
                               "records/s".
    Exit 0, or 1 with "vl_kpart: ..." on stderr saying what failed.

    The records come back as RecordBatch v2 bytes (kov/batch.c's
    vl_kbatch_build); this file parses them on its own (uncompressed, plain
    values), so a batch the builder got wrong fails here too.
*/
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../kov/batch.h"
#include "../../kov/part.h"
#include "util.h"

static vl_kparts_t *kp;
static vl_client_t *client;
static vl_kparts_opts_t opts = {.workers = 2, .window_bytes = 1 << 20, .meta_topic = "__kov_meta"};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vl_kpart: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/*  ---- RecordBatch v2 ------------------------------------------------------ */

static uint64_t s_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int64_t s_get_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t z = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    die("truncated varint in a fetched batch");
}

/*  Calls fn(offset, value, len) for every record of the batches in
    data[0..len) (uncompressed). */
typedef void(s_rec_fn)(void *arg, int64_t offset, const uint8_t *value, size_t len);
static void s_parse(const uint8_t *data, size_t len, s_rec_fn *fn, void *arg)
{
    const uint8_t *p = data, *end = data + len;
    while (end - p >= 61) {
        int64_t base = (int64_t)s_get_be(p, 8);
        size_t blen = (size_t)s_get_be(p + 8, 4);
        if (p[16] != 2 || blen + 12 > (size_t)(end - p) || blen < 49)
            die("malformed batch at byte %zu of a fetch", (size_t)(p - data));
        if (s_get_be(p + 21, 2) & 7)
            die("compressed batch in a fetch");
        uint32_t nrec = (uint32_t)s_get_be(p + 57, 4);
        const uint8_t *r = p + 61, *bend = p + 12 + blen;
        for (uint32_t i = 0; i < nrec; i++) {
            int64_t rlen = s_get_varint(&r, bend);
            const uint8_t *rend = r + rlen;
            if (rlen < 0 || rend > bend)
                die("malformed record in a fetch");
            r++; /* attributes */
            s_get_varint(&r, rend);
            int64_t delta = s_get_varint(&r, rend);
            int64_t klen = s_get_varint(&r, rend);
            if (klen > 0)
                r += klen;
            int64_t vlen = s_get_varint(&r, rend);
            if (vlen < 0 || r + vlen > rend)
                die("bad value length in a fetch");
            fn(arg, base + delta, r, (size_t)vlen);
            r = rend;
        }
        p = bend;
    }
}

/*  ---- the loop ------------------------------------------------------------- */

/*  Runs the module's callbacks until *count reaches want (60 s at most). */
static void s_run_until(const int *count, int want, const char *what)
{
    struct pollfd pfd = {.fd = vl_kparts_fd(kp), .events = POLLIN};
    int64_t deadline = vl_now_us() + 60 * 1000000LL;
    while (*count < want) {
        if (vl_now_us() > deadline)
            die("%s: %d of %d callbacks after 60 s", what, *count, want);
        if (poll(&pfd, 1, 500) > 0)
            vl_kparts_dispatch(kp);
    }
}

typedef struct {
    int done;
    int16_t kerr;
    int64_t base;
    char msg[512];
} s_ans_t;

static void s_produced(void *arg, int16_t kerr, int64_t base_offset, const char *msg)
{
    s_ans_t *a = arg;
    a->kerr = kerr;
    a->base = base_offset;
    snprintf(a->msg, sizeof a->msg, "%s", msg);
    a->done++;
}

/*  Produces records (n of them, "PREFIX-r<j>" or SIZE bytes) and waits. */
static void s_produce(const char *topic, const vl_kproducer_t *prod, const char *prefix, size_t n,
                      s_ans_t *a)
{
    char **recs = vl_calloc(n, sizeof *recs);
    size_t *len = vl_calloc(n, sizeof *len);
    for (size_t j = 0; j < n; j++) {
        recs[j] = vl_malloc(64);
        len[j] = (size_t)snprintf(recs[j], 64, "%s-r%zu", prefix, j);
    }
    memset(a, 0, sizeof *a);
    vl_kparts_produce(kp, topic, prod, (const void *const *)recs, len, n, s_produced, a);
    if (a->done)
        die("produce called back inside the call");
    s_run_until(&a->done, 1, "produce");
    for (size_t j = 0; j < n; j++)
        free(recs[j]);
    free(recs);
    free(len);
}

typedef struct {
    int done;
    int16_t kerr;
    vl_kmarks_t marks;
    uint8_t *recs;
    size_t len;
    char msg[512];
} s_fetch_t;

static void s_fetched(void *arg, int16_t kerr, const vl_kmarks_t *marks, const uint8_t *records,
                      size_t len, const char *msg)
{
    s_fetch_t *f = arg;
    f->kerr = kerr;
    if (marks)
        f->marks = *marks;
    free(f->recs);
    f->recs = vl_malloc(len ? len : 1);
    if (len)
        memcpy(f->recs, records, len);
    f->len = len;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    f->done++;
}

static void s_fetch(const char *topic, int64_t offset, size_t max_bytes, s_fetch_t *f)
{
    f->done = 0;
    vl_kparts_fetch(kp, topic, offset, max_bytes, s_fetched, f);
    s_run_until(&f->done, 1, "fetch");
}

/*  ---- produce ------------------------------------------------------------ */

typedef struct {
    int64_t want; /* the next offset expected */
    int64_t end;
    const char *prefix;
    size_t j;
} s_check_t;

static void s_check_rec(void *arg, int64_t offset, const uint8_t *value, size_t len)
{
    s_check_t *c = arg;
    if (offset != c->want || offset >= c->end)
        return; /* records past the batch (another writer's) */
    char want[64];
    size_t wl = (size_t)snprintf(want, sizeof want, "%s-r%zu", c->prefix, c->j);
    if (len != wl || memcmp(value, want, wl) != 0)
        die("offset %lld holds '%.*s', expected '%s': the batch is not contiguous",
            (long long)offset, (int)(len > 64 ? 64 : len), (const char *)value, want);
    c->want++;
    c->j++;
}

static int s_cmd_produce(const char *topic, int nbatch, size_t n)
{
    s_ans_t *a = vl_calloc((size_t)nbatch, sizeof *a);
    char **recs = vl_calloc(n, sizeof *recs);
    size_t *len = vl_calloc(n, sizeof *len);
    int done = 0;
    for (int i = 0; i < nbatch; i++) {
        for (size_t j = 0; j < n; j++) {
            free(recs[j]);
            recs[j] = vl_malloc(64);
            len[j] = (size_t)snprintf(recs[j], 64, "b%d-r%zu", i, j);
        }
        vl_kparts_produce(kp, topic, NULL, (const void *const *)recs, len, n, s_produced, &a[i]);
    }
    for (size_t j = 0; j < n; j++)
        free(recs[j]);
    free(recs);
    free(len);
    struct pollfd pfd = {.fd = vl_kparts_fd(kp), .events = POLLIN};
    int64_t deadline = vl_now_us() + 120 * 1000000LL;
    while (done < nbatch) {
        if (vl_now_us() > deadline)
            die("produce: %d of %d batches answered after 120 s", done, nbatch);
        if (poll(&pfd, 1, 500) > 0)
            vl_kparts_dispatch(kp);
        done = 0;
        for (int i = 0; i < nbatch; i++)
            done += a[i].done;
    }
    int64_t prev = -1;
    for (int i = 0; i < nbatch; i++) {
        if (a[i].kerr)
            die("batch %d: error %d: %s", i, a[i].kerr, a[i].msg);
        if (a[i].base <= prev)
            die("batch %d at offset %lld, not after batch %d's %lld: not in call order", i,
                (long long)a[i].base, i - 1, (long long)prev);
        prev = a[i].base;
        printf("%lld %zu\n", (long long)a[i].base, n);
    }
    /* every batch read back: its records at base..base+n-1 */
    s_fetch_t f = {0};
    for (int i = 0; i < nbatch; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "b%d", i);
        s_check_t c = {.want = a[i].base, .end = a[i].base + (int64_t)n, .prefix = prefix};
        while (c.want < c.end) {
            s_fetch(topic, c.want, 1 << 20, &f);
            if (f.kerr)
                die("fetch of offset %lld: error %d: %s", (long long)c.want, f.kerr, f.msg);
            if (f.marks.high_watermark < a[i].base + (int64_t)n)
                die("fetch reports HWM %lld below an acknowledged batch's end %lld",
                    (long long)f.marks.high_watermark, (long long)(a[i].base + (int64_t)n));
            int64_t before = c.want;
            s_parse(f.recs, f.len, s_check_rec, &c);
            if (c.want == before)
                die("fetch of offset %lld returned no record of batch %d", (long long)before, i);
        }
    }
    free(f.recs);
    free(a);
    fflush(stdout);
    return 0;
}

/*  ---- idempotence --------------------------------------------------------- */

typedef struct {
    int done;
    int16_t kerr;
    int64_t pid;
    int16_t epoch;
} s_pid_t;

static void s_pid_cb(void *arg, int16_t kerr, int64_t producer_id, int16_t epoch)
{
    s_pid_t *p = arg;
    p->kerr = kerr;
    p->pid = producer_id;
    p->epoch = epoch;
    p->done++;
}

static void s_expect(const s_ans_t *a, int16_t kerr, const char *what)
{
    if (a->kerr != kerr)
        die("%s: error %d (%s), expected %d", what, a->kerr, a->msg, kerr);
    if (kerr)
        printf("%s: error %d: %s\n", what, kerr, a->msg);
}

static int s_cmd_idem(const char *topic)
{
    s_pid_t p1 = {0}, p2 = {0};
    vl_kparts_init_pid(kp, s_pid_cb, &p1);
    vl_kparts_init_pid(kp, s_pid_cb, &p2);
    s_run_until(&p1.done, 1, "init pid");
    s_run_until(&p2.done, 1, "init pid");
    if (p1.kerr || p2.kerr || p1.pid < 0 || p1.pid == p2.pid)
        die("InitProducerId: errors %d %d, ids %lld %lld", p1.kerr, p2.kerr, (long long)p1.pid,
            (long long)p2.pid);
    printf("producer ids %lld %lld\n", (long long)p1.pid, (long long)p2.pid);
    vl_kproducer_t prod = {.producer_id = p1.pid, .producer_epoch = 0, .base_sequence = 0};
    s_ans_t a, b;
    vl_kparts_owner_epoch(kp, topic, 1);
    s_produce(topic, &prod, "idem0", 10, &a);
    s_expect(&a, 0, "first batch");
    s_produce(topic, &prod, "idem0", 10, &b); /* a retry */
    s_expect(&b, 0, "retried batch");
    if (b.base != a.base)
        die("a retried batch got offset %lld, the original %lld", (long long)b.base,
            (long long)a.base);
    prod.base_sequence = 10;
    s_produce(topic, &prod, "idem1", 5, &b);
    s_expect(&b, 0, "next batch");
    if (b.base < a.base + 10)
        die("the next batch at %lld overlaps the first (%lld + 10)", (long long)b.base,
            (long long)a.base);
    /* another gateway owns the partition for a while (this one was
       declared expired and came back) and writes the producer's next
       batch; back here, in a later view epoch, the batch after it is
       taken, not refused as a sequence gap */
    vl_kparts_t *mine = kp;
    if (vl_kparts_new(client, &opts, &kp) != 0)
        die("vl_kparts_new: %s", vl_client_errmsg(client));
    vl_kparts_owner_epoch(kp, topic, 2);
    prod.base_sequence = 15;
    s_produce(topic, &prod, "other-gw", 5, &b);
    s_expect(&b, 0, "a batch through another gateway");
    vl_kparts_destroy(&kp);
    kp = mine;
    vl_kparts_owner_epoch(kp, topic, 3);
    prod.base_sequence = 20;
    s_produce(topic, &prod, "back", 5, &b);
    s_expect(&b, 0, "the next batch back on the first gateway");
    prod.base_sequence = 40;
    s_produce(topic, &prod, "gap", 5, &b);
    s_expect(&b, 45, "sequence gap");
    prod.producer_epoch = 1;
    prod.base_sequence = 0;
    s_produce(topic, &prod, "epoch1", 3, &b);
    s_expect(&b, 0, "new epoch");
    prod.producer_epoch = 0;
    prod.base_sequence = 15;
    s_produce(topic, &prod, "old", 3, &b);
    s_expect(&b, 47, "older epoch");
    vl_kproducer_t stranger = {.producer_id = p2.pid + 1000000, .base_sequence = 0};
    s_produce(topic, &stranger, "stranger", 1, &b);
    s_expect(&b, 59, "unknown producer id");
    printf("first batch at %lld\n", (long long)a.base);
    return 0;
}

/*  ---- watch ------------------------------------------------------------------ */

typedef struct {
    int done;
} s_watch_t;

static void s_watched(void *arg)
{
    ((s_watch_t *)arg)->done++;
}

typedef struct {
    int done, kerr;
    vl_kmarks_t marks;
} s_marks_t;

static void s_marked(void *arg, int16_t kerr, const vl_kmarks_t *marks, const char *msg)
{
    s_marks_t *m = arg;
    (void)msg;
    m->kerr = kerr;
    if (marks)
        m->marks = *marks;
    m->done++;
}

static vl_kmarks_t s_marks(const char *topic)
{
    s_marks_t m = {0};
    vl_kparts_marks(kp, topic, s_marked, &m);
    s_run_until(&m.done, 1, "marks");
    if (m.kerr)
        die("marks of %s: error %d", topic, m.kerr);
    return m.marks;
}

static int s_cmd_watch(const char *topic)
{
    vl_kmarks_t m = s_marks(topic);
    s_watch_t w = {0};
    vl_kwatch_t *h = vl_kparts_watch(kp, topic, m.high_watermark, s_watched, &w);
    if (w.done)
        die("watch called back inside the call");
    /* nothing new yet: a dispatch round must not fire it */
    struct pollfd pfd = {.fd = vl_kparts_fd(kp), .events = POLLIN};
    while (poll(&pfd, 1, 300) > 0)
        vl_kparts_dispatch(kp);
    if (w.done)
        die("the watch at offset %lld fired with nothing new", (long long)m.high_watermark);
    s_ans_t a;
    s_produce(topic, NULL, "wake", 1, &a);
    s_run_until(&w.done, 1, "watch woken by a produce");
    /* the watch fired once the follower delivered it: the window has it */
    s_fetch_t f = {0};
    s_fetch(topic, a.base, 1 << 20, &f);
    vl_kparts_stats_t st;
    vl_kparts_stats(kp, &st);
    if (f.kerr || f.len == 0 || st.fetch_window != 1)
        die("the fetch a produce's watch woke: error %d, %zu bytes, %llu from the window", f.kerr,
            f.len, (unsigned long long)st.fetch_window);
    printf("woken by a produce at %lld, fetched from the window\n", (long long)a.base);
    /* another writer */
    s_watch_t w2 = {0};
    vl_kwatch_t *h2 = vl_kparts_watch(kp, topic, a.base + 1, s_watched, &w2);
    printf("watching %lld\n", (long long)(a.base + 1));
    fflush(stdout);
    s_run_until(&w2.done, 1, "watch woken by another writer");
    s_fetch(topic, a.base + 1, 1 << 20, &f);
    if (f.kerr || f.len == 0)
        die("fetch after the watch fired: error %d, %zu bytes", f.kerr, f.len);
    vl_kparts_stats(kp, &st);
    if (st.followers != 1 || st.fetch_window != 2)
        die("the fetch of what the follower delivered was not answered from the window "
            "(followers %llu, window fetches %llu, catch-up fetches %llu)",
            (unsigned long long)st.followers, (unsigned long long)st.fetch_window,
            (unsigned long long)st.fetch_catchup);
    printf("woken by another writer: HWM %lld, fetched from the window\n",
           (long long)f.marks.high_watermark);
    free(f.recs);
    (void)h;
    (void)h2; /* fired: their handles are gone */
    /* an unwatched watch never fires */
    s_watch_t w3 = {0};
    vl_kwatch_t *h3 = vl_kparts_watch(kp, topic, f.marks.high_watermark + 100, s_watched, &w3);
    vl_kparts_unwatch(kp, &h3);
    if (h3)
        die("unwatch left the handle");
    return 0;
}

/*  ---- consume -------------------------------------------------------------- */

typedef struct {
    int64_t next;
    size_t n;
} s_seq_t;

static void s_seq_rec(void *arg, int64_t offset, const uint8_t *value, size_t len)
{
    s_seq_t *q = arg;
    (void)value;
    (void)len;
    if (offset != q->next)
        die("fetched offset %lld, expected %lld", (long long)offset, (long long)q->next);
    q->next++;
    q->n++;
}

static int s_cmd_consume(const char *topic, size_t max_bytes)
{
    vl_kmarks_t m = s_marks(topic);
    s_seq_t q = {.next = m.log_start};
    s_fetch_t f = {0};
    int fetches = 0;
    while (q.next < m.high_watermark) {
        int64_t before = q.next;
        s_fetch(topic, q.next, max_bytes, &f);
        fetches++;
        if (f.kerr)
            die("fetch at %lld: error %d: %s", (long long)q.next, f.kerr, f.msg);
        s_parse(f.recs, f.len, s_seq_rec, &q);
        if (q.next == before)
            die("fetch at %lld below the HWM %lld returned nothing", (long long)before,
                (long long)m.high_watermark);
    }
    free(f.recs);
    vl_kparts_stats_t st;
    vl_kparts_stats(kp, &st);
    printf("%zu records in %d fetches, %llu subscription(s)\n", q.n, fetches,
           (unsigned long long)st.catchup_opened);
    if (st.catchup_opened != 1)
        die("sequential fetches opened %llu subscriptions; the catch-up reader should continue",
            (unsigned long long)st.catchup_opened);
    return 0;
}

/*  ---- range --------------------------------------------------------------- */

static int s_cmd_range(const char *topic)
{
    vl_kmarks_t m = s_marks(topic);
    printf("log_start %lld hwm %lld\n", (long long)m.log_start, (long long)m.high_watermark);
    s_fetch_t f = {0};
    if (m.log_start > 0) {
        s_fetch(topic, m.log_start - 1, 1 << 20, &f);
        if (f.kerr != 1)
            die("fetch below the log start %lld: error %d, expected OFFSET_OUT_OF_RANGE (1)",
                (long long)m.log_start, f.kerr);
        printf("below the log start: error %d: %s\n", f.kerr, f.msg);
    }
    s_fetch(topic, m.high_watermark + 5, 1 << 20, &f);
    if (f.kerr != 1)
        die("fetch past the HWM: error %d, expected OFFSET_OUT_OF_RANGE (1)", f.kerr);
    s_fetch(topic, m.log_start, 1 << 20, &f);
    if (f.kerr || f.len == 0)
        die("fetch at the log start %lld: error %d (%s), %zu bytes", (long long)m.log_start, f.kerr,
            f.msg, f.len);
    int64_t first = (int64_t)s_get_be(f.recs, 8);
    if (first != m.log_start)
        die("fetch at the log start returned offset %lld", (long long)first);
    free(f.recs);
    return 0;
}

/*  ---- gone ------------------------------------------------------------------ */

static int s_cmd_gone(const char *topic)
{
    vl_kmarks_t m = s_marks(topic);
    s_watch_t w = {0};
    vl_kwatch_t *h = vl_kparts_watch(kp, topic, m.high_watermark, s_watched, &w);
    (void)h; /* it fires: the handle goes with it */
    printf("watching %lld\n", (long long)m.high_watermark);
    s_run_until(&w.done, 1, "watch woken by the topic's deletion");
    s_fetch_t f = {0};
    s_fetch(topic, 0, 1 << 20, &f);
    if (f.kerr != 3)
        die("fetch of a deleted topic: error %d (%s), expected UNKNOWN_TOPIC_OR_PARTITION (3)",
            f.kerr, f.msg);
    free(f.recs);
    s_ans_t a;
    s_produce(topic, NULL, "late", 1, &a);
    if (a.kerr != 3)
        die("produce to a deleted topic: error %d (%s), expected 3", a.kerr, a.msg);
    printf("gone: the watch fired; fetch and produce: error 3: %s\n", a.msg);
    return 0;
}

/*  ---- bench ---------------------------------------------------------------- */

static int s_cmd_bench(const char *topic, size_t total, size_t n, size_t size)
{
    size_t nbatch = (total + n - 1) / n;
    s_ans_t *a = vl_calloc(nbatch, sizeof *a);
    char *rec = vl_malloc(size);
    memset(rec, 'x', size);
    const void **data = vl_malloc(n * sizeof *data);
    size_t *len = vl_malloc(n * sizeof *len);
    for (size_t j = 0; j < n; j++) {
        data[j] = rec;
        len[j] = size;
    }
    int done = 0;
    size_t sent = 0;
    struct pollfd pfd = {.fd = vl_kparts_fd(kp), .events = POLLIN};
    int64_t t0 = vl_now_us();
    while ((size_t)done < nbatch) {
        while (sent < nbatch && sent - (size_t)done < 64) {
            size_t k = sent == nbatch - 1 && total % n ? total % n : n;
            vl_kparts_produce(kp, topic, NULL, data, len, k, s_produced, &a[sent]);
            sent++;
        }
        if (poll(&pfd, 1, 1000) > 0)
            vl_kparts_dispatch(kp);
        done = 0;
        for (size_t i = 0; i < sent; i++)
            done += a[i].done;
    }
    double s = (double)(vl_now_us() - t0) / 1e6;
    for (size_t i = 0; i < nbatch; i++)
        if (a[i].kerr)
            die("batch %zu: error %d: %s", i, a[i].kerr, a[i].msg);
    printf("%.0f records/s (%zu records of %zu bytes in batches of %zu, %.2f s)\n",
           (double)total / s, total, size, n, s);
    free(a);
    free(rec);
    free(data);
    free(len);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: vl_kpart MR produce|idem|watch|consume|range|gone|bench TOPIC [ARGS]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char err[512];
    if (vl_client_open(argv[1], NULL, &client, err, sizeof err) != 0)
        die("cannot open the cluster at %s: %s", argv[1], err);
    if (vl_kparts_new(client, &opts, &kp) != 0)
        die("vl_kparts_new: %s", vl_client_errmsg(client));
    const char *cmd = argv[2], *topic = argv[3];
    int rc = 2;
    if (strcmp(cmd, "produce") == 0 && argc == 6)
        rc = s_cmd_produce(topic, atoi(argv[4]), (size_t)atol(argv[5]));
    else if (strcmp(cmd, "idem") == 0)
        rc = s_cmd_idem(topic);
    else if (strcmp(cmd, "watch") == 0)
        rc = s_cmd_watch(topic);
    else if (strcmp(cmd, "consume") == 0 && argc == 5)
        rc = s_cmd_consume(topic, (size_t)atol(argv[4]));
    else if (strcmp(cmd, "gone") == 0)
        rc = s_cmd_gone(topic);
    else if (strcmp(cmd, "range") == 0)
        rc = s_cmd_range(topic);
    else if (strcmp(cmd, "bench") == 0 && argc == 7)
        rc =
            s_cmd_bench(topic, (size_t)atol(argv[4]), (size_t)atol(argv[5]), (size_t)atol(argv[6]));
    else
        fprintf(stderr, "vl_kpart: unknown command or wrong arguments: %s\n", cmd);
    vl_kparts_destroy(&kp);
    vl_client_destroy(&client);
    return rc;
}
