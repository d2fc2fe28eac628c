/*  appender.c - asynchronous, batching, pipelining appends.

    vl_appender_append(_many) copies each entry once, straight into the
    open batch: its payload buffer, its sizes, its callback arguments (run
    length coded, so a caller that passes one argument for many entries
    stores one). The callers close a batch when it is full (batch_entries
    or batch_bytes) and put it on a ready list, under a mutex taken once per
    call, with at most one clock read (the time a batch is opened, for
    linger); an eventfd wakes the appender's thread (a zactor) only when it
    may not know of the work (a batch opened or a ready list no longer
    empty), so a busy producer costs one syscall per batch, not per entry.
    The thread owns every socket: one DEALER per primary storage node.

    The thread takes the ready batches in order, and the open one when it
    has lingered linger_us and a log stream has room for it (under back
    pressure it keeps filling instead) or when a flush waits for it, and
    sends each batch as one APPEND to the next log stream (round robin per
    batch) that has fewer than `pipeline` batches in flight. The payload
    frame is the batch's buffer itself, by reference (zmq_msg_init_data with
    a reference count, so that the batch keeps it for a retry and the last
    of the batch and ZeroMQ frees it): a byte is copied once between the
    caller and the socket, and a batch costs a few allocations whatever its
    entry count. Replies are matched by request id.

    Batches complete out of order across log streams, but callbacks run in
    append order: the in-order queue (vl_ordq) releases a batch only when
    every batch closed before it is done. The memory held is bounded: append
    blocks while the entries not yet called back exceed max_bytes or
    max_entries.

    The APPEND reply carries GLSN runs only, not offsets; callbacks get
    offset UINT64_MAX (an entry's offset is known to subscribers and to
    vl_lookup_offset). With opts.count_cb, one call per run of entries with
    one argument and one outcome instead, and no GLSNs are kept.

    Failover: a log stream that answers VL_ESEALED (sealed: nothing of the
    batch was written past the sealed end, and an append cut by the seal
    names its committed head) or VL_ENOLS (not written) is marked unusable
    and the batch, minus its committed head, is queued for retry; the
    metadata is refreshed when no usable log stream is left, and the retry
    goes to another running one. Each batch keeps its payload and sizes
    for that. In sticky mode
    (one log stream, for input order) no new batch is sent while a retry
    is pending, and retries go out in append order once every batch sent to
    the sealed log stream has its answer, so the order survives the move.
    A batch that timed out is not simply sent again: it may be written,
    and committed later, and a retry would put it in the log twice. Each
    APPEND names its batch (the appender's random client id and a batch
    sequence number, fresh for every send), and the replicas keep the name
    with the entries. A batch without an answer is resolved: its log
    stream is set aside, the appender watches the metadata and asks the
    replicas (BATCH_STATUS) what became of the batch. Committed: done, with
    its GLSNs. Once the log stream is sealed, a replica holding exactly the
    sealed end answers for good: the entries it does not hold were
    discarded and can never be committed, so they are sent to another log
    stream like a refused batch. A log stream that is not sealed within
    VL_BATCH_RESOLVE_MS (or twice the timeout, if longer) leaves the batch
    failed with VL_ETIMEDOUT, as it may still be committed. Those rules
    are the ones vl_append follows too (batch.h).
*/
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "batch.h"
#include "client_i.h"
#include "ordq.h"
#include "util.h"

/*  ---- appender -------------------------------------------------------------- */

#define APP_MAX_BYTES ((size_t)64 << 20)

#define APP_BUF_MAX ((size_t)1 << 20) /* largest first size of a batch's buffer */
#define APP_COPY_MAX 256              /* smaller payloads are copied into their frame */

/*  A batch's payload. The callers write the entries into it, and ZeroMQ
    sends it from there (zmq_msg_init_data) while the batch keeps it for a
    retry: whichever lets go last frees it, maybe ZeroMQ's I/O thread. */
typedef struct {
    int refs; /* atomic */
    size_t cap;
    uint8_t data[];
} s_buf_t;

/*  cb_args of consecutive entries, run-length coded: a caller that passes
    one argument for many entries (varlogfs: its open file) costs one run. */
typedef struct {
    void *arg;
    size_t n;
} s_run_t;

typedef struct s_batch {
    struct s_batch *next; /* in the callers' ready list or the thread's FIFO */
    int64_t t_us;         /* when its first entry was queued, for linger */
    uint64_t seq;         /* in the ordq */
    uint64_t request_id;
    size_t ls; /* index in self->ls */
    size_t n, bytes;
    s_run_t *args; /* the entries' cb_args */
    size_t nargs, cap_args;
    uint64_t *glsns; /* n slots (only for a per-entry callback): glsns[0..done) are known */
    size_t done;     /* entries committed so far (a head cut by a seal) */
    uint8_t *sizes;  /* n sizes, u32 little endian (as the body holds them) */
    size_t cap_n;
    s_buf_t *buf; /* the entries back to back: buf->data[off, bytes) are */
    size_t off;   /* those not committed yet, the payload (kept for a retry) */
    int attempts;
    int rc;
    char errmsg[512];
    int64_t deadline_us;
    int64_t sent_us;
    uint64_t bseq;            /* the name of its last send (with the client id) */
    bool resolving;           /* unanswered: asking the replicas what became of it */
    int64_t resolve_until_us; /* then it fails with VL_ETIMEDOUT */
    int64_t next_query_us;
    uint32_t queries; /* BATCH_STATUS sent so far, to go round the replicas */
} s_batch_t;

#define APP_MAX_ATTEMPTS 8
#define APP_REFRESH_US 200000 /* metadata refresh while no log stream is usable */
#define APP_QUERY_US ((int64_t)VL_BATCH_QUERY_MS * 1000)
#define APP_SUSPECT_US 1000000 /* unanswered this long: is its log stream still running? */

typedef struct {
    uint32_t id;
    size_t conn;
    int inflight;
    bool usable;
    uint8_t state;            /* as the metadata last said */
    int64_t suspect_until_us; /* a batch went unanswered: not used until then */
    uint64_t acked_bseq;      /* the newest answered batch sent here, */
    uint64_t acked_llsn;      /* and the LLSN it began at */
    uint32_t nrep;            /* replicas as the metadata last said */
    char rep[VL_WIRE_MAX_REPLICAS][VL_WIRE_MAX_ADDR + 1];
} s_ls_t;

typedef struct {
    char addr[VL_WIRE_MAX_ADDR + 1];
    zsock_t *sock;
} s_conn_t;

struct vl_appender {
    vl_client_t *client;
    char topic[VL_WIRE_MAX_NAME + 1];
    uint32_t topic_id, cluster_id;
    vl_append_cb_t *cb;
    vl_appender_opts_t o;
    size_t max_bytes, max_entries;
    int efd;
    zactor_t *actor;

    /* shared with the callers, under mutex */
    pthread_mutex_t mutex;
    pthread_cond_t cond;            /* room in the queue; completions for flush */
    s_batch_t *open;                /* the batch the callers fill */
    s_batch_t *ready, **ready_tail; /* full ones, for the thread to send */
    uint64_t appended, completed;
    size_t outstanding_bytes;
    uint64_t flush_target; /* close the open batch without lingering */
    bool stopping;
    int first_rc;
    char first_msg[512];

    /* the thread's own */
    s_ls_t *ls;
    size_t nls, rr;
    s_conn_t *conns;
    size_t nconns;
    s_batch_t *pend, **pend_tail; /* FIFO of closed batches not sent yet */
    int64_t open_t_us;            /* t_us of the open batch, INT64_MAX: none */
    s_batch_t **inflight;
    size_t ninflight;
    s_batch_t **retry; /* refused batches waiting for another log stream */
    size_t nretry;
    size_t cur; /* sticky: the log stream in use */
    int64_t last_refresh_us;
    vl_ordq_t *ordq;
    uint64_t next_id;
    uint64_t client_id; /* random: names this appender's batches */
    uint64_t next_bseq;
};

static void s_wake(vl_appender_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write(self->efd, &one, sizeof one);
    (void)rc; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

static s_buf_t *s_buf_new(size_t cap)
{
    s_buf_t *buf = vl_malloc(sizeof *buf + cap);
    buf->refs = 1;
    buf->cap = cap;
    return buf;
}

/*  Drops a reference to buf; also ZeroMQ's free function for a payload
    sent from it (hint is the buffer). */
static void s_buf_release(void *data, void *hint)
{
    (void)data;
    s_buf_t *buf = hint;
    if (buf && __atomic_sub_fetch(&buf->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(buf);
}

/*  A new batch for the callers to fill, its buffer room for at least
    first bytes. */
static s_batch_t *s_batch_new(vl_appender_t *self, size_t first, int64_t now_us)
{
    s_batch_t *b = vl_calloc(1, sizeof *b);
    /* room for a full batch: growing it would copy the bytes again (a
       larger batch_bytes grows, by doubling) */
    size_t cap = self->o.batch_bytes < APP_BUF_MAX ? self->o.batch_bytes : APP_BUF_MAX;
    b->buf = s_buf_new(first > cap ? first : cap);
    b->cap_n = self->o.batch_entries < 256 ? self->o.batch_entries : 256;
    b->sizes = vl_malloc(4 * b->cap_n);
    b->t_us = now_us;
    return b;
}

static void s_batch_free(s_batch_t *b)
{
    free(b->args);
    free(b->glsns);
    free(b->sizes);
    s_buf_release(NULL, b->buf);
    free(b);
}

/*  Adds an entry to batch b (the caller checked the limits); mutex held. */
static void s_batch_add(s_batch_t *b, const void *data, size_t len, void *cb_arg)
{
    if (b->bytes + len > b->buf->cap) {
        size_t cap = b->buf->cap * 2;
        while (cap < b->bytes + len)
            cap *= 2;
        s_buf_t *buf = vl_realloc(b->buf, sizeof *buf + cap);
        buf->cap = cap;
        b->buf = buf; /* no frame points into it yet */
    }
    if (b->n == b->cap_n) {
        b->cap_n *= 2;
        b->sizes = vl_realloc(b->sizes, 4 * b->cap_n);
    }
    memcpy(b->buf->data + b->bytes, data, len);
    vl_put_le32(b->sizes + 4 * b->n, (uint32_t)len);
    b->bytes += len;
    b->n++;
    if (b->nargs > 0 && b->args[b->nargs - 1].arg == cb_arg) {
        b->args[b->nargs - 1].n++;
        return;
    }
    if (b->nargs == b->cap_args) {
        b->cap_args = b->cap_args ? b->cap_args * 2 : 4;
        b->args = vl_realloc(b->args, b->cap_args * sizeof *b->args);
    }
    b->args[b->nargs++] = (s_run_t){.arg = cb_arg, .n = 1};
}

/*  Closes the open batch: on the ready list for the thread; mutex held.
    Returns true when the list was empty (the thread may not know). */
static bool s_close_open_locked(vl_appender_t *self)
{
    s_batch_t *b = self->open;
    self->open = NULL;
    bool was_empty = self->ready == NULL;
    *self->ready_tail = b;
    self->ready_tail = &b->next;
    return was_empty;
}

/*  Moves the callers' full batches into the thread's FIFO, in order (each
    gets its place in the in-order queue), with the open batch when a
    flush waits for it or, if take_open, when it has lingered long enough
    (the caller has room to send it: under back pressure it keeps filling). */
static void s_take_input(vl_appender_t *self, int64_t now_us, bool take_open)
{
    pthread_mutex_lock(&self->mutex);
    if (self->open && (self->flush_target > self->appended - self->open->n ||
                       (take_open && now_us >= self->open->t_us + self->o.linger_us)))
        s_close_open_locked(self);
    s_batch_t *b = self->ready;
    self->ready = NULL;
    self->ready_tail = &self->ready;
    self->open_t_us = self->open ? self->open->t_us : INT64_MAX;
    pthread_mutex_unlock(&self->mutex);
    for (; b; b = b->next) {
        b->seq = vl_ordq_push(self->ordq, b);
        if (self->cb && !self->o.count_cb)
            b->glsns = vl_calloc(b->n, sizeof *b->glsns);
        *self->pend_tail = b;
        self->pend_tail = &b->next;
    }
}

/*  Takes the head of the FIFO. */
static s_batch_t *s_pend_pop(vl_appender_t *self)
{
    s_batch_t *b = self->pend;
    self->pend = b->next;
    if (!self->pend)
        self->pend_tail = &self->pend;
    b->next = NULL;
    return b;
}

static void s_refresh(vl_appender_t *self, int64_t now_us);

/*  The next log stream with room in its pipeline, round robin (sticky: the
    current one, or another when it is unusable); -1 if none. */
static int s_pick_ls(vl_appender_t *self, int64_t now_us)
{
    bool any_usable = false;
    for (size_t i = 0; i < self->nls; i++)
        any_usable |= self->ls[i].usable;
    if (!any_usable && self->o.ls_id == 0) {
        /* every log stream we know refused: ask the MR what runs now */
        s_refresh(self, now_us);
        any_usable = false;
        for (size_t i = 0; i < self->nls; i++)
            any_usable |= self->ls[i].usable;
        if (!any_usable)
            return -1;
    }
    if (self->o.sticky && self->o.ls_id == 0) {
        s_ls_t *cur = &self->ls[self->cur];
        if (!cur->usable || now_us < cur->suspect_until_us) {
            /* Entries are committed in input order only if they move once
               everything sent is answered (or resolved). Then another
               usable one, one not suspect if there is one. */
            if (self->ninflight > 0)
                return -1;
            size_t start = (size_t)(now_us / 1000) % self->nls;
            for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < self->nls; k++) {
                    s_ls_t *ls = &self->ls[(start + k) % self->nls];
                    if (ls->usable && (pass == 1 || now_us >= ls->suspect_until_us) &&
                        (!cur->usable || now_us < cur->suspect_until_us)) {
                        self->cur = (start + k) % self->nls;
                        cur = ls;
                    }
                }
        }
        return cur->inflight < self->o.pipeline ? (int)self->cur : -1;
    }
    /* round robin over the usable ones; those with a batch being
       resolved (an unanswered one) only when no other has room */
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < self->nls; k++) {
            size_t i = (self->rr + k) % self->nls;
            s_ls_t *ls = &self->ls[i];
            if ((ls->usable || !any_usable) && ls->inflight < self->o.pipeline &&
                (pass == 1 || now_us >= ls->suspect_until_us)) {
                self->rr = i + 1;
                return (int)i;
            }
        }
    return -1;
}

static void s_batch_finish(vl_appender_t *self, s_batch_t *b, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*  Takes b off the in-flight list (it was answered or given up). */
static void s_unflight(vl_appender_t *self, s_batch_t *b)
{
    for (size_t i = 0; i < self->ninflight; i++)
        if (self->inflight[i] == b) {
            self->inflight[i] = self->inflight[--self->ninflight];
            self->ls[b->ls].inflight--;
            break;
        }
}

static void s_batch_finish(vl_appender_t *self, s_batch_t *b, int rc, const char *fmt, ...)
{
    s_unflight(self, b);
    for (size_t i = 0; i < self->nretry; i++)
        if (self->retry[i] == b) {
            memmove(self->retry + i, self->retry + i + 1,
                    (self->nretry - i - 1) * sizeof *self->retry);
            self->nretry--;
            break;
        }
    s_buf_release(NULL, b->buf); /* ZeroMQ may still hold it */
    b->buf = NULL;
    b->rc = rc;
    if (rc != 0 && fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->errmsg, sizeof b->errmsg, fmt, ap);
        va_end(ap);
    }
    if ((rc == VL_ESEALED || rc == VL_ENOLS || rc == VL_EUNAVAIL) && self->o.ls_id == 0 &&
        b->attempts > 0)
        self->ls[b->ls].usable = false;
    vl_ordq_done(self->ordq, b->seq);
}

/*  Sends b's payload (its entries not yet committed) as the last frame of
    a message on sock: by reference, with a reference of b's buffer that
    ZeroMQ drops once it is sent (a small one is copied). */
static int s_send_payload(s_batch_t *b, zsock_t *sock)
{
    size_t len = b->bytes - b->off;
    zmq_msg_t m;
    if (len <= APP_COPY_MAX) {
        zmq_msg_init_size(&m, len);
        if (len > 0)
            memcpy(zmq_msg_data(&m), b->buf->data + b->off, len);
    } else {
        __atomic_add_fetch(&b->buf->refs, 1, __ATOMIC_RELAXED);
        if (zmq_msg_init_data(&m, b->buf->data + b->off, len, s_buf_release, b->buf) != 0) {
            s_buf_release(NULL, b->buf);
            return -1;
        }
    }
    if (zmq_msg_send(&m, zsock_resolve(sock), 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

/*  Sends the entries of b not yet committed (its payload) to log stream li as
    one APPEND, and puts b in flight. */
static void s_send_batch(vl_appender_t *self, s_batch_t *b, int li, int64_t now_us)
{
    s_ls_t *ls = &self->ls[li];
    b->ls = (size_t)li;
    b->request_id = self->next_id++;
    b->deadline_us = now_us + (int64_t)self->o.timeout_ms * 1000;
    b->sent_us = now_us;
    b->attempts++;
    b->bseq = ++self->next_bseq;
    b->resolving = false;
    vl_hdr_t hdr = {
        .type = VL_MSG_APPEND, .request_id = b->request_id, .cluster_id = self->cluster_id};
    vl_append_t a = {.topic_id = self->topic_id,
                     .ls_id = ls->id,
                     .client_id = self->client_id,
                     .batch_seq = b->bseq,
                     .n = (uint32_t)(b->n - b->done),
                     .sizes = b->sizes + 4 * b->done};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_append_encode(&a, false, &body);
    zmsg_t *msg = vl_wire_msg(&hdr, &body);
    vl_wbuf_free(&body);
    self->inflight = vl_realloc(self->inflight, (self->ninflight + 1) * sizeof *self->inflight);
    self->inflight[self->ninflight++] = b;
    ls->inflight++;
    s_conn_t *conn = &self->conns[ls->conn];
    /* The payload goes by reference, b's buffer stays for a retry. Once
       the first frame is queued ZeroMQ takes the rest of the message. */
    int rc = -1;
    if (conn->sock) {
        rc = a.n > 0 ? zmsg_sendm(&msg, conn->sock) : zmsg_send(&msg, conn->sock);
        if (rc == 0 && a.n > 0)
            rc = s_send_payload(b, conn->sock);
    }
    if (rc != 0) {
        zmsg_destroy(&msg);
        s_batch_finish(self, b, VL_EIO, "append topic=%s ls=%u: cannot send to %s", self->topic,
                       ls->id, conn->addr);
    }
}

/*  Sends the batches waiting for a retry, in append order. In sticky mode
    only once nothing is in flight any more, so that the order of the
    entries survives the move. Returns true when none is left waiting. */
static bool s_send_retries(vl_appender_t *self, int64_t now_us)
{
    if (self->nretry == 0)
        return true;
    if (self->o.sticky && self->ninflight > 0)
        return false;
    while (self->nretry > 0) {
        int li = s_pick_ls(self, now_us);
        if (li < 0)
            return false;
        s_batch_t *b = self->retry[0];
        memmove(self->retry, self->retry + 1, (self->nretry - 1) * sizeof *self->retry);
        self->nretry--;
        s_send_batch(self, b, li, now_us);
    }
    return true;
}

static bool s_any_usable(const vl_appender_t *self)
{
    if (self->o.ls_id != 0)
        return true;
    for (size_t i = 0; i < self->nls; i++)
        if (self->ls[i].usable)
            return true;
    return false;
}

/*  Sends closed batches while pipelines have room; the open one too once
    it has lingered (and there is room for it). */
static void s_cut_batches(vl_appender_t *self, int64_t now_us)
{
    if (!s_send_retries(self, now_us) && self->o.sticky)
        return; /* new batches would overtake the retried ones */
    for (;;) {
        int li = -1;
        if (!self->pend) {
            if (now_us - self->o.linger_us < self->open_t_us)
                return; /* nothing, or the open batch may still grow */
            li = s_pick_ls(self, now_us);
            if (li < 0 && s_any_usable(self))
                return; /* no room: the open batch keeps filling */
            s_take_input(self, now_us, true);
            if (!self->pend)
                return;
        } else
            li = s_pick_ls(self, now_us);
        if (li >= 0) {
            s_send_batch(self, s_pend_pop(self), li, now_us);
            continue;
        }
        /* no room; or no log stream takes appends at all (every one
           sealed, or the metadata unreachable): then the entries fail once
           they have waited the timeout, rather than wait for ever */
        if (s_any_usable(self) || now_us < self->pend->t_us + (int64_t)self->o.timeout_ms * 1000)
            return;
        s_batch_finish(self, s_pend_pop(self), VL_EUNAVAIL,
                       "append topic=%s: no running log stream took the entries within %d ms "
                       "(see `varlogctl ls list %s`: unseal one or add one with `varlogctl ls add "
                       "%s`; or the metadata repository is unreachable)",
                       self->topic, self->o.timeout_ms, self->topic, self->topic);
    }
}

/*  Records the GLSN runs of the next entries of b (its committed part). */
static void s_batch_runs(s_batch_t *b, const vl_append_reply_t *r)
{
    b->done += vl_batch_glsns(r, b->glsns ? b->glsns + b->done : NULL, b->n - b->done);
}

/*  Records the committed head of b named by r (fewer entries than b has
    left) and keeps the payload of the rest only. */
static void s_batch_head(s_batch_t *b, const vl_append_reply_t *r)
{
    uint64_t head = vl_batch_count(r);
    if (head == 0)
        return;
    size_t from = b->done;
    s_batch_runs(b, r);
    uint64_t cut = vl_wire_sizes_sum(b->sizes + 4 * from, (uint32_t)(b->done - from));
    if (cut <= b->bytes - b->off)
        b->off += cut;
}

/*  Nothing of b past its head is in the log, nor ever will be: queues it
    for another log stream, in append order among the other retries (or
    fails it when it may not move). why: what happened to the first try. */
static void s_batch_requeue(vl_appender_t *self, s_batch_t *b, int rc, const char *why)
{
    if (self->o.ls_id != 0 || b->attempts >= APP_MAX_ATTEMPTS) {
        s_batch_finish(self, b, rc, "%s", why);
        return;
    }
    s_unflight(self, b);
    b->resolving = false;
    b->deadline_us = vl_now_us() + (int64_t)self->o.timeout_ms * 1000;
    snprintf(b->errmsg, sizeof b->errmsg, "%s", why);
    size_t i = self->nretry;
    self->retry = vl_realloc(self->retry, (self->nretry + 1) * sizeof *self->retry);
    while (i > 0 && self->retry[i - 1]->seq > b->seq) {
        self->retry[i] = self->retry[i - 1];
        i--;
    }
    self->retry[i] = b;
    self->nretry++;
}

/*  (Re)opens the DEALER of conn, dropping whatever the old one still
    queues. No send limit: the pipeline bounds what is in flight. A socket
    that cannot connect stays NULL: its batches fail with VL_EIO. */
static void s_conn_open(vl_appender_t *self, size_t conn)
{
    s_conn_t *c = &self->conns[conn];
    zsock_destroy(&c->sock);
    c->sock = zsock_new(ZMQ_DEALER);
    if (!c->sock)
        return;
    zsock_set_linger(c->sock, 0);
    zsock_set_sndhwm(c->sock, 0);
    if (zsock_connect(c->sock, "%s", c->addr) != 0)
        zsock_destroy(&c->sock);
}

/*  A BATCH_STATUS answer about b, which is being resolved. */
static void s_on_status_reply(vl_appender_t *self, s_batch_t *b, const vl_hdr_t *hdr,
                              vl_rbuf_t *body)
{
    uint32_t ls_id = self->ls[b->ls].id;
    if (hdr->status != 0)
        return; /* e.g. a replica behind the sealed end: another one next time */
    vl_batch_status_reply_t r;
    if (vl_batch_status_reply_decode(body, &r) != 0)
        return;
    uint64_t want = b->n - b->done, covered;
    vl_batch_fate_t fate = vl_batch_fate(&r, want, &covered);
    if (fate == VL_BATCH_COMMITTED) {
        s_batch_runs(b, &r.ar);
        s_batch_finish(self, b, 0, NULL);
    } else if (fate == VL_BATCH_CUT) {
        char why[512];
        snprintf(why, sizeof why,
                 "append topic=%.64s ls=%u: no answer from its primary within %d ms; the log "
                 "stream was sealed with %" PRIu64 " of the batch's %" PRIu64
                 " entries committed, the others are not in the log",
                 self->topic, ls_id, self->o.timeout_ms, covered, want);
        s_batch_head(b, &r.ar);
        /* An APPEND that never left (its peer unreachable) must not reach
           that primary later, after its log stream was sealed and
           unsealed again: a new socket drops it. Batches still in flight
           on the old one get no reply any more and are resolved too. */
        s_conn_open(self, self->ls[b->ls].conn);
        s_batch_requeue(self, b, VL_ESEALED, why);
    }
    vl_append_reply_free(&r.ar); /* VL_BATCH_UNKNOWN: asked again later */
}

static void s_on_reply(vl_appender_t *self, size_t conn, zmsg_t *msg)
{
    vl_hdr_t hdr;
    vl_rbuf_t body;
    s_batch_t *b = NULL;
    if (vl_wire_parse(msg, &hdr, &body) == 0 && hdr.type == (VL_MSG_BATCH_STATUS | VL_MSG_REPLY)) {
        for (size_t i = 0; i < self->ninflight; i++)
            if (self->inflight[i]->resolving && self->inflight[i]->bseq == hdr.request_id) {
                s_on_status_reply(self, self->inflight[i], &hdr, &body);
                break;
            }
        zmsg_destroy(&msg);
        return;
    }
    if (hdr.type == (VL_MSG_APPEND | VL_MSG_REPLY))
        for (size_t i = 0; i < self->ninflight && !b; i++)
            if (self->inflight[i]->request_id == hdr.request_id &&
                self->ls[self->inflight[i]->ls].conn == conn)
                b = self->inflight[i];
    if (!b) {
        zmsg_destroy(&msg); /* a batch that was moved, or garbage */
        return;
    }
    uint32_t ls_id = self->ls[b->ls].id;
    size_t want = b->n - b->done;
    if (hdr.status != 0) {
        char text[400];
        vl_rbuf_t r = body;
        vl_wire_errtext(&body, text, sizeof text);
        vl_append_reply_t ar;
        if (hdr.status == VL_ESEALED && vl_batch_sealed_head(r, &ar) == 0) {
            if (vl_batch_count(&ar) < want)
                s_batch_head(b, &ar);
            /* else nonsense: trust none of it */
            vl_append_reply_free(&ar);
        }
        if (hdr.status == VL_ESEALED || hdr.status == VL_ENOLS || hdr.status == VL_EUNAVAIL)
            if (self->o.ls_id == 0)
                self->ls[b->ls].usable = false;
        char why[512];
        snprintf(why, sizeof why, "append topic=%.64s ls=%u: %.380s", self->topic, ls_id, text);
        if (vl_batch_movable((int)hdr.status))
            /* nothing past the head was written: send it elsewhere */
            s_batch_requeue(self, b, (int)hdr.status, why);
        else
            s_batch_finish(self, b, (int)hdr.status, "%s", why);
        zmsg_destroy(&msg);
        return;
    }
    vl_append_reply_t r;
    int rc = vl_append_reply_decode(&body, &r);
    uint64_t total = rc == 0 ? vl_batch_count(&r) : 0;
    if (rc != 0 || total != want) {
        s_batch_finish(self, b, VL_EPROTO,
                       "append topic=%s ls=%u: malformed APPEND reply from %s (%llu GLSNs for "
                       "%zu entries)",
                       self->topic, ls_id, self->conns[conn].addr, (unsigned long long)total, want);
    } else {
        s_ls_t *ls = &self->ls[b->ls];
        ls->suspect_until_us = 0; /* it answers */
        if (b->bseq > ls->acked_bseq) {
            ls->acked_bseq = b->bseq;
            ls->acked_llsn = r.llsn_begin;
        }
        s_batch_runs(b, &r);
        s_batch_finish(self, b, 0, NULL);
    }
    if (rc == 0)
        vl_append_reply_free(&r);
    zmsg_destroy(&msg);
}

/*  The connection to addr, made when missing. */
static size_t s_conn_get(vl_appender_t *self, const char *addr)
{
    size_t conn = 0;
    while (conn < self->nconns && strcmp(self->conns[conn].addr, addr) != 0)
        conn++;
    if (conn < self->nconns)
        return conn;
    self->conns = vl_realloc(self->conns, (self->nconns + 1) * sizeof *self->conns);
    s_conn_t *c = &self->conns[self->nconns++];
    memset(c, 0, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    s_conn_open(self, conn);
    return conn;
}

/*  b got no answer in time: from now on it is resolved, and its log
    stream is not used for new batches meanwhile. */
static void s_resolve_start(vl_appender_t *self, s_batch_t *b, int64_t now_us)
{
    s_ls_t *ls = &self->ls[b->ls];
    int64_t window = vl_batch_resolve_ms(self->o.timeout_ms);
    b->resolving = true;
    b->resolve_until_us = now_us + window * 1000;
    b->next_query_us = now_us;
    if (ls->suspect_until_us < b->resolve_until_us)
        ls->suspect_until_us = b->resolve_until_us;
}

/*  Asks a replica about b: the primary while the log stream runs (the
    answer may only be lost), else the replicas in turn. */
static void s_resolve_query(vl_appender_t *self, s_batch_t *b, int64_t now_us)
{
    s_refresh(self, now_us); /* learns the log stream's state */
    s_ls_t *ls = &self->ls[b->ls];
    b->next_query_us = now_us + APP_QUERY_US;
    if (ls->nrep == 0)
        return;
    const char *addr = ls->rep[vl_batch_replica(ls->state, ls->nrep, b->queries++)];
    if (!*addr)
        return;
    size_t conn = s_conn_get(self, addr);
    if (!self->conns[conn].sock)
        return;
    vl_batch_status_t q = {.topic_id = self->topic_id,
                           .ls_id = ls->id,
                           .client_id = self->client_id,
                           .batch_seq = b->bseq,
                           .llsn_hint = ls->acked_bseq < b->bseq ? ls->acked_llsn : 0};
    /* the answer is matched by the batch's name: any of the questions
       about it may be the one answered */
    vl_hdr_t hdr = {
        .type = VL_MSG_BATCH_STATUS, .request_id = b->bseq, .cluster_id = self->cluster_id};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_batch_status_encode(&q, &body);
    zmsg_t *msg = vl_wire_msg(&hdr, &body);
    vl_wbuf_free(&body);
    if (zmsg_send(&msg, self->conns[conn].sock) != 0)
        zmsg_destroy(&msg);
}

static void s_check_timeouts(vl_appender_t *self, int64_t now_us)
{
    for (size_t i = 0; i < self->ninflight;) {
        s_batch_t *b = self->inflight[i];
        if (!b->resolving && now_us >= b->sent_us + APP_SUSPECT_US && now_us < b->deadline_us) {
            /* A primary that is alive answers a seal at once: a batch long
               unanswered on a log stream sealed since has lost its primary,
               so it is resolved without waiting for the timeout. */
            s_refresh(self, now_us);
            if (self->ls[b->ls].state != VL_LS_RUNNING)
                s_resolve_start(self, b, now_us);
        }
        if (!b->resolving && now_us >= b->deadline_us)
            s_resolve_start(self, b, now_us);
        if (b->resolving && now_us >= b->resolve_until_us) {
            s_batch_finish(self, b, VL_ETIMEDOUT,
                           "append topic=%s ls=%u: no reply from %s within %d ms, and the log "
                           "stream was not sealed within %d ms more to settle the batch; the "
                           "storage node may be down or slow (the batch may still be committed "
                           "later: check before appending it again)",
                           self->topic, self->ls[b->ls].id, self->conns[self->ls[b->ls].conn].addr,
                           self->o.timeout_ms,
                           (int)((b->resolve_until_us - b->deadline_us) / 1000));
            continue; /* b left the list: i holds the next one */
        }
        if (b->resolving && now_us >= b->next_query_us) {
            s_resolve_query(self, b, now_us);
            /* the answer may have finished b already */
            if (i < self->ninflight && self->inflight[i] != b)
                continue;
        }
        i++;
    }
    /* refused batches that found no running log stream in time */
    for (size_t i = 0; i < self->nretry;) {
        s_batch_t *b = self->retry[i];
        if (now_us < b->deadline_us) {
            i++;
            continue;
        }
        char why[512];
        memcpy(why, b->errmsg, sizeof why);
        s_batch_finish(self, b, VL_ESEALED,
                       "%s; no other running log stream took it within %d ms (unseal one or "
                       "add one with `varlogctl ls add %s`)",
                       why, self->o.timeout_ms, self->topic);
    }
}

/*  Learns the topic's log streams again: running ones become usable (new
    ones and new primaries get a connection), the others unusable. */
static void s_refresh(vl_appender_t *self, int64_t now_us)
{
    if (now_us - self->last_refresh_us < APP_REFRESH_US)
        return;
    vl_route_t route;
    int rc = vl_client_route(self->client, self->topic, true, "appender", &route);
    /* counted from the end of the call: with the MR unreachable it took the
       whole timeout, and the callers of one pass must not each wait again */
    self->last_refresh_us = vl_now_us();
    if (rc != 0)
        return;
    if (route.topic_id != self->topic_id) {
        vl_route_free(&route);
        return; /* deleted and created again: not ours */
    }
    for (size_t i = 0; i < self->nls; i++)
        self->ls[i].usable = false;
    for (uint32_t k = 0; k < route.nls; k++) {
        const vl_route_ls_t *r = &route.ls[k];
        if (self->o.ls_id != 0 && r->id != self->o.ls_id)
            continue; /* pinned: the others are not ours to send to */
        size_t i = 0;
        while (i < self->nls && self->ls[i].id != r->id)
            i++;
        if (i < self->nls) { /* what a batch being resolved needs */
            s_ls_t *ls = &self->ls[i];
            ls->state = r->state;
            ls->nrep = r->nrep;
            memcpy(ls->rep, r->addr, sizeof ls->rep);
        }
        if (r->state != VL_LS_RUNNING || r->nrep == 0 || !*r->addr[0])
            continue;
        size_t conn = s_conn_get(self, r->addr[0]);
        if (i == self->nls) {
            self->ls = vl_realloc(self->ls, (self->nls + 1) * sizeof *self->ls);
            s_ls_t *ls = &self->ls[self->nls++];
            *ls = (s_ls_t){.id = r->id, .conn = conn, .state = r->state, .nrep = r->nrep};
            memcpy(ls->rep, r->addr, sizeof ls->rep);
        }
        /* a new primary: batches still in flight stay matched to the old
           connection until they are answered or resolved */
        if (self->ls[i].inflight == 0)
            self->ls[i].conn = conn;
        self->ls[i].usable = self->ls[i].conn == conn;
    }
    vl_route_free(&route);
}

/*  Runs the callbacks of the batches that are done, in append order. */
static void s_complete(vl_appender_t *self)
{
    s_batch_t *b;
    while ((b = vl_ordq_pop(self->ordq))) {
        /* a head committed before a failure keeps its GLSNs */
        size_t at = 0;
        for (size_t r = 0; r < b->nargs; r++) {
            void *arg = b->args[r].arg;
            size_t end = at + b->args[r].n;
            if (self->o.count_cb) {
                /* the run's committed part, then the rest */
                size_t mid = b->done < at ? at : b->done > end ? end : b->done;
                if (mid > at)
                    self->o.count_cb(arg, 0, mid - at);
                if (end > mid)
                    self->o.count_cb(arg, b->rc, end - mid);
            } else if (self->cb) {
                for (size_t i = at; i < end; i++)
                    self->cb(arg, i < b->done ? 0 : b->rc,
                             i < b->done && b->glsns ? b->glsns[i] : 0, UINT64_MAX);
            }
            at = end;
        }
        pthread_mutex_lock(&self->mutex);
        self->completed += b->n;
        self->outstanding_bytes -= b->bytes;
        if (b->rc != 0 && self->first_rc == 0) {
            self->first_rc = b->rc;
            snprintf(self->first_msg, sizeof self->first_msg, "%s", b->errmsg);
        }
        pthread_cond_broadcast(&self->cond);
        pthread_mutex_unlock(&self->mutex);
        s_batch_free(b);
    }
}

/*  How long the thread may sleep (ms, -1 forever). */
static long s_poll_timeout(vl_appender_t *self, int64_t now_us)
{
    int64_t until = INT64_MAX;
    /* a batch can be cut when some log stream it may go to has room */
    bool room = false, usable = false;
    for (size_t i = 0; i < self->nls; i++) {
        bool ok = self->o.ls_id != 0 || self->ls[i].usable;
        if (self->o.sticky && self->o.ls_id == 0 && self->ls[self->cur].usable)
            ok = i == self->cur;
        usable |= ok;
        room |= ok && self->ls[i].inflight < self->o.pipeline;
    }
    /* sticky: s_pick_ls moves off a log stream that is unusable or has a
       batch being resolved only once nothing is in flight; until then
       there is no room (or the thread would spin on a zero timeout) */
    if (self->o.sticky && self->o.ls_id == 0 && self->nls > 0 && self->ninflight > 0 &&
        (!self->ls[self->cur].usable || now_us < self->ls[self->cur].suspect_until_us))
        room = false;
    if (room && !(self->o.sticky && self->nretry > 0)) {
        if (self->pend)
            until = self->pend->t_us + self->o.linger_us;
        else if (self->open_t_us != INT64_MAX)
            until = self->open_t_us + self->o.linger_us;
    }
    for (size_t i = 0; i < self->ninflight; i++) {
        const s_batch_t *b = self->inflight[i];
        int64_t t;
        if (b->resolving)
            t = b->next_query_us < b->resolve_until_us ? b->next_query_us : b->resolve_until_us;
        else if (now_us < b->sent_us + APP_SUSPECT_US)
            t = b->sent_us + APP_SUSPECT_US;
        else /* look at its log stream's state now and then */
            t = now_us + APP_REFRESH_US < b->deadline_us ? now_us + APP_REFRESH_US : b->deadline_us;
        if (t < until)
            until = t;
    }
    for (size_t i = 0; i < self->nretry; i++)
        if (self->retry[i]->deadline_us < until)
            until = self->retry[i]->deadline_us;
    /* refused batches, or entries with no usable log stream: look for a
       running log stream again now and then */
    if ((self->nretry > 0 || ((self->pend || self->open_t_us != INT64_MAX) && !usable)) &&
        now_us + APP_REFRESH_US < until)
        until = now_us + APP_REFRESH_US;
    if (until == INT64_MAX)
        return -1;
    if (until <= now_us)
        return 0;
    return (long)((until - now_us + 999) / 1000);
}

static void s_actor(zsock_t *pipe, void *args)
{
    vl_appender_t *self = args;
    for (size_t i = 0; i < self->nconns; i++)
        s_conn_open(self, i);
    zsock_signal(pipe, 0);
    size_t nitems = 2 + self->nconns;
    zmq_pollitem_t *items = vl_calloc(nitems, sizeof *items);
    bool terminated = false;
    while (!terminated) {
        int64_t now = vl_now_us();
        s_take_input(self, now, false);
        s_check_timeouts(self, now);
        s_cut_batches(self, now);
        s_complete(self);
        long timeout = s_poll_timeout(self, now);
        if (nitems < 2 + self->nconns) { /* a refresh connected new primaries */
            nitems = 2 + self->nconns;
            items = vl_realloc(items, nitems * sizeof *items);
        }
        items[0] = (zmq_pollitem_t){.socket = zsock_resolve(pipe), .events = ZMQ_POLLIN};
        items[1] = (zmq_pollitem_t){.fd = self->efd, .events = ZMQ_POLLIN};
        int npoll = 2;
        for (size_t i = 0; i < self->nconns; i++)
            if (self->conns[i].sock)
                items[npoll++] = (zmq_pollitem_t){.socket = zsock_resolve(self->conns[i].sock),
                                                  .events = ZMQ_POLLIN};
        if (zmq_poll(items, npoll, timeout) < 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            if (!cmd || streq(cmd, "$TERM"))
                terminated = true;
            zstr_free(&cmd);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t rc = read(self->efd, &v, sizeof v);
            (void)rc;
        }
        for (int k = 2; k < npoll; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            /* a connection reset while this pass handled an earlier one is
               no longer in the list: skip it */
            size_t conn = 0;
            while (conn < self->nconns &&
                   (!self->conns[conn].sock ||
                    zsock_resolve(self->conns[conn].sock) != items[k].socket))
                conn++;
            if (conn == self->nconns)
                continue;
            for (int m = 0; m < 256 && self->conns[conn].sock &&
                            (zsock_events(self->conns[conn].sock) & ZMQ_POLLIN);
                 m++) {
                zmsg_t *msg = zmsg_recv(self->conns[conn].sock);
                if (msg)
                    s_on_reply(self, conn, msg);
            }
        }
    }
    /* destroy flushed first, so this only matters when it was interrupted:
       whatever is left fails */
    s_take_input(self, INT64_MAX, true);
    while (self->pend)
        s_batch_finish(self, s_pend_pop(self), VL_ECLOSED,
                       "append topic=%s: the appender was destroyed", self->topic);
    while (self->ninflight > 0)
        s_batch_finish(self, self->inflight[0], VL_ECLOSED,
                       "append topic=%s: the appender was destroyed", self->topic);
    while (self->nretry > 0)
        s_batch_finish(self, self->retry[0], VL_ECLOSED,
                       "append topic=%s: the appender was destroyed", self->topic);
    s_complete(self);
    free(items);
    for (size_t i = 0; i < self->nconns; i++)
        zsock_destroy(&self->conns[i].sock);
}

int vl_appender_new(vl_client_t *client, const char *topic, const vl_appender_opts_t *opts,
                    vl_append_cb_t *cb, vl_appender_t **app_p)
{
    *app_p = NULL;
    vl_route_t route;
    int rc = vl_client_route(client, topic, true, "appender", &route);
    if (rc != 0)
        return rc;
    vl_appender_t *self = vl_calloc(1, sizeof *self);
    self->client = client;
    snprintf(self->topic, sizeof self->topic, "%s", topic);
    self->topic_id = route.topic_id;
    self->cluster_id = route.cluster_id;
    self->cb = cb;
    if (opts)
        self->o = *opts;
    if (self->o.batch_bytes == 0)
        self->o.batch_bytes = 256 << 10;
    if (self->o.batch_entries == 0)
        self->o.batch_entries = 1024;
    if (self->o.batch_entries > VL_WIRE_MAX_ENTRIES)
        self->o.batch_entries = VL_WIRE_MAX_ENTRIES;
    /* a batch is one payload frame: at most batch_bytes (or one entry) */
    if (self->o.batch_bytes > VL_WIRE_MAX_PAYLOAD)
        self->o.batch_bytes = VL_WIRE_MAX_PAYLOAD;
    if (self->o.linger_us <= 0)
        self->o.linger_us = opts && opts->linger_us < 0 ? 0 : 200;
    if (self->o.pipeline <= 0)
        self->o.pipeline = 8;
    if (self->o.timeout_ms <= 0)
        self->o.timeout_ms = client->timeout_ms;
    self->ls = vl_calloc(route.nls ? route.nls : 1, sizeof *self->ls);
    self->conns = vl_calloc(route.nls ? route.nls : 1, sizeof *self->conns);
    for (uint32_t i = 0; i < route.nls; i++) {
        const vl_route_ls_t *r = &route.ls[i];
        if (self->o.ls_id ? r->id != self->o.ls_id : r->state != VL_LS_RUNNING)
            continue;
        if (r->nrep == 0 || !*r->addr[0])
            continue;
        size_t conn = 0;
        while (conn < self->nconns && strcmp(self->conns[conn].addr, r->addr[0]) != 0)
            conn++;
        if (conn == self->nconns)
            snprintf(self->conns[self->nconns++].addr, sizeof self->conns[0].addr, "%s",
                     r->addr[0]);
        s_ls_t *ls = &self->ls[self->nls++];
        *ls =
            (s_ls_t){.id = r->id, .conn = conn, .usable = true, .state = r->state, .nrep = r->nrep};
        memcpy(ls->rep, r->addr, sizeof ls->rep);
    }
    vl_route_free(&route);
    if (self->nls == 0) {
        if (self->o.ls_id)
            rc = vl_client_fail(client, VL_ENOLS,
                                "appender topic=%s ls=%u: the topic has no such log stream "
                                "with a primary (see `varlogctl ls list %s`)",
                                topic, self->o.ls_id, topic);
        else
            rc = vl_client_fail(client, VL_ESEALED,
                                "appender topic=%s: no running log stream with a primary; "
                                "unseal one or add one with `varlogctl ls add %s`",
                                topic, topic);
        free(self->ls);
        free(self->conns);
        free(self);
        return rc;
    }
    if (self->o.sticky)
        self->cur = (size_t)((uint64_t)getpid() ^ (uint64_t)(vl_now_us() / 1000)) % self->nls;
    size_t per_batch = self->o.batch_entries;
    self->max_bytes = APP_MAX_BYTES;
    self->max_entries = ((size_t)self->o.pipeline * self->nls + 2) * per_batch;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) {
        rc = vl_client_fail(client, VL_EIO, "appender topic=%s: eventfd: %s", topic,
                            strerror(errno));
        free(self->ls);
        free(self->conns);
        free(self);
        return rc;
    }
    pthread_mutex_init(&self->mutex, NULL);
    pthread_cond_init(&self->cond, NULL);
    self->ready_tail = &self->ready;
    self->pend_tail = &self->pend;
    self->open_t_us = INT64_MAX;
    self->ordq = vl_ordq_new();
    self->next_id = ((uint64_t)getpid() << 32) | 1;
    self->client_id = vl_random_u64();
    self->actor = zactor_new(s_actor, self);
    *app_p = self;
    return 0;
}

/*  True when an entry of len bytes must wait: something is outstanding and
    it would exceed max_bytes or max_entries; mutex held. */
static bool s_full(const vl_appender_t *self, size_t len)
{
    return self->appended > self->completed &&
           (self->outstanding_bytes + len > self->max_bytes ||
            self->appended - self->completed >= self->max_entries);
}

int vl_appender_append_many(vl_appender_t *self, const void *const *data, const size_t *len,
                            size_t n, void *const *cb_args)
{
    /* checked before anything is queued, so that an error queues nothing */
    for (size_t i = 0; i < n; i++)
        if (len[i] > VL_MAX_ENTRY_SIZE_DEFAULT)
            return vl_client_fail(self->client, VL_ETOOBIG,
                                  "append topic=%s: entry %zu of %zu has %zu bytes; the maximum "
                                  "entry size is %u bytes (split it)",
                                  self->topic, i + 1, n, len[i],
                                  (unsigned)VL_MAX_ENTRY_SIZE_DEFAULT);
    /* One lock, at most one clock read and a wake-up only when the thread
       may not know of the work: the whole call, unless flow control makes
       it wait part way. Entries go straight into the open batch, which is
       closed for the thread when it is full. */
    bool wake = false;
    int64_t now_us = -1;
    size_t i = 0;
    pthread_mutex_lock(&self->mutex);
    while (i < n) {
        while (!self->stopping && s_full(self, len[i])) {
            pthread_cond_wait(&self->cond, &self->mutex);
            now_us = -1; /* a batch opened after the wait lingers (and times out) from then */
        }
        if (self->stopping) {
            pthread_mutex_unlock(&self->mutex);
            if (wake)
                s_wake(self);
            return vl_client_fail(self->client, VL_ECLOSED,
                                  "append topic=%s: the appender is closing (%zu of %zu entries "
                                  "of the call were queued)",
                                  self->topic, i, n);
        }
        /* the first entry fits (we waited for it); the others as long as
           each one alone would not have had to wait */
        do {
            s_batch_t *b = self->open;
            if (b && (b->n == self->o.batch_entries ||
                      (b->n > 0 && b->bytes + len[i] > self->o.batch_bytes))) {
                wake |= s_close_open_locked(self);
                b = NULL;
            }
            if (!b) {
                if (now_us < 0)
                    now_us = vl_now_us();
                /* the thread must learn of a batch to linger over */
                wake |= self->ready == NULL;
                b = self->open = s_batch_new(self, len[i], now_us);
            }
            s_batch_add(b, data[i], len[i], cb_args ? cb_args[i] : NULL);
            self->appended++;
            self->outstanding_bytes += len[i];
            i++;
        } while (i < n && !s_full(self, len[i]));
        if (i < n && wake) {
            /* about to wait for room: the thread must see what is queued */
            pthread_mutex_unlock(&self->mutex);
            s_wake(self);
            wake = false;
            pthread_mutex_lock(&self->mutex);
        }
    }
    pthread_mutex_unlock(&self->mutex);
    if (wake)
        s_wake(self);
    return 0;
}

int vl_appender_append(vl_appender_t *self, const void *data, size_t len, void *cb_arg)
{
    return vl_appender_append_many(self, &data, &len, 1, &cb_arg);
}

int vl_appender_flush(vl_appender_t *self)
{
    pthread_mutex_lock(&self->mutex);
    uint64_t target = self->appended;
    if (self->flush_target < target)
        self->flush_target = target;
    pthread_mutex_unlock(&self->mutex);
    s_wake(self);
    pthread_mutex_lock(&self->mutex);
    while (self->completed < target)
        pthread_cond_wait(&self->cond, &self->mutex);
    int rc = self->first_rc;
    char msg[sizeof self->first_msg];
    memcpy(msg, self->first_msg, sizeof msg);
    self->first_rc = 0;
    self->first_msg[0] = '\0';
    pthread_mutex_unlock(&self->mutex);
    if (rc != 0)
        vl_client_fail(self->client, rc, "%s", msg);
    return rc;
}

void vl_appender_destroy(vl_appender_t **app_p)
{
    if (!app_p || !*app_p)
        return;
    vl_appender_t *self = *app_p;
    vl_appender_flush(self);
    pthread_mutex_lock(&self->mutex);
    self->stopping = true;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mutex);
    zactor_destroy(&self->actor);
    free(self->inflight);
    free(self->retry);
    vl_ordq_destroy(&self->ordq);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mutex);
    close(self->efd);
    free(self->ls);
    free(self->conns);
    free(self);
    *app_p = NULL;
}
