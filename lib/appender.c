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
    pressure it keeps filling instead) or when a flush waits for it (or a
    push asks for it), and
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

    What became of each batch sent (answers, failover, batches without
    an answer) is appender_fate.c's.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "curve.h"
#include "appender_i.h"
#include "util.h"

#define APP_MAX_BYTES ((size_t)64 << 20)
#define APP_BUF_MAX ((size_t)1 << 20) /* largest first size of a batch's buffer */
#define APP_COPY_MAX 256              /* smaller payloads are copied into their frame */

static void s_wake(vl_appender_t *self)
{
    uint64_t one = 1;
    ssize_t rc = write(self->efd, &one, sizeof one);
    (void)rc; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
}

static vl_appender_buf_t *s_buf_new(size_t cap)
{
    vl_appender_buf_t *buf = vl_malloc(sizeof *buf + cap);
    buf->refs = 1;
    buf->cap = cap;
    return buf;
}

/*  Drops a reference to buf; also ZeroMQ's free function for a payload
    sent from it (hint is the buffer). */
void vl_appender_buf_release(void *data, void *hint)
{
    (void)data;
    vl_appender_buf_t *buf = hint;
    if (buf && __atomic_sub_fetch(&buf->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(buf);
}

/*  A new batch for the callers to fill, its buffer room for at least
    first bytes. */
static vl_appender_batch_t *s_batch_new(vl_appender_t *self, size_t first, int64_t now_us)
{
    vl_appender_batch_t *b = vl_calloc(1, sizeof *b);
    /* room for a full batch: growing it would copy the bytes again (a
       larger batch_bytes grows, by doubling) */
    size_t cap = self->o.batch_bytes < APP_BUF_MAX ? self->o.batch_bytes : APP_BUF_MAX;
    b->buf = s_buf_new(first > cap ? first : cap);
    b->cap_n = self->o.batch_entries < 256 ? self->o.batch_entries : 256;
    b->sizes = vl_malloc(4 * b->cap_n);
    b->t_us = now_us;
    return b;
}

static void s_batch_free(vl_appender_batch_t *b)
{
    free(b->args);
    free(b->glsns);
    free(b->sizes);
    vl_appender_buf_release(NULL, b->buf);
    free(b);
}

/*  Adds an entry to batch b (the caller checked the limits); mutex held. */
static void s_batch_add(vl_appender_batch_t *b, const void *data, size_t len, void *cb_arg)
{
    if (b->bytes + len > b->buf->cap) {
        size_t cap = b->buf->cap * 2;
        while (cap < b->bytes + len)
            cap *= 2;
        vl_appender_buf_t *buf = vl_realloc(b->buf, sizeof *buf + cap);
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
    b->args[b->nargs++] = (vl_appender_run_t){.arg = cb_arg, .n = 1};
}

/*  Closes the open batch: on the ready list for the thread; mutex held.
    Returns true when the list was empty (the thread may not know). */
static bool s_close_open_locked(vl_appender_t *self)
{
    vl_appender_batch_t *b = self->open;
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
    vl_appender_batch_t *b = self->ready;
    self->ready = NULL;
    self->ready_tail = &self->ready;
    self->open_t_us = self->open ? self->open->t_us : INT64_MAX;
    pthread_mutex_unlock(&self->mutex);
    for (; b; b = b->next) {
        b->seq = vl_ordq_push(self->ordq, b);
        if (b->batch_cb || (self->cb && !self->o.count_cb))
            b->glsns = vl_calloc(b->n, sizeof *b->glsns);
        *self->pend_tail = b;
        self->pend_tail = &b->next;
    }
}

/*  Takes the head of the FIFO. */
static vl_appender_batch_t *s_pend_pop(vl_appender_t *self)
{
    vl_appender_batch_t *b = self->pend;
    self->pend = b->next;
    if (!self->pend)
        self->pend_tail = &self->pend;
    b->next = NULL;
    return b;
}

/*  The next log stream with room in its pipeline, round robin (sticky: the
    current one, or another when it is unusable); -1 if none. */
static int s_pick_ls(vl_appender_t *self, int64_t now_us)
{
    bool any_usable = false;
    for (size_t i = 0; i < self->nls; i++)
        any_usable |= self->ls[i].usable;
    if (!any_usable && self->o.ls_id == 0) {
        /* every log stream we know refused: ask the MR what runs now */
        vl_appender_refresh(self, now_us);
        any_usable = false;
        for (size_t i = 0; i < self->nls; i++)
            any_usable |= self->ls[i].usable;
        if (!any_usable)
            return -1;
    }
    if (self->o.sticky && self->o.ls_id == 0) {
        vl_appender_ls_t *cur = &self->ls[self->cur];
        if (!cur->usable || now_us < cur->suspect_until_us) {
            /* Entries are committed in input order only if they move once
               everything sent is answered (or resolved). Then another
               usable one, one not suspect if there is one. */
            if (self->ninflight > 0)
                return -1;
            size_t start = (size_t)(now_us / 1000) % self->nls;
            for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < self->nls; k++) {
                    vl_appender_ls_t *ls = &self->ls[(start + k) % self->nls];
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
            vl_appender_ls_t *ls = &self->ls[i];
            if ((ls->usable || !any_usable) && ls->inflight < self->o.pipeline &&
                (pass == 1 || now_us >= ls->suspect_until_us)) {
                self->rr = i + 1;
                return (int)i;
            }
        }
    return -1;
}

/*  Sends b's payload (its entries not yet committed) as the last frame of
    a message on sock: by reference, with a reference of b's buffer that
    ZeroMQ drops once it is sent (a small one is copied). */
static int s_send_payload(vl_appender_batch_t *b, zsock_t *sock)
{
    size_t len = b->bytes - b->off;
    zmq_msg_t m;
    if (len <= APP_COPY_MAX) {
        zmq_msg_init_size(&m, len);
        if (len > 0)
            memcpy(zmq_msg_data(&m), b->buf->data + b->off, len);
    } else {
        __atomic_add_fetch(&b->buf->refs, 1, __ATOMIC_RELAXED);
        if (zmq_msg_init_data(&m, b->buf->data + b->off, len, vl_appender_buf_release, b->buf) !=
            0) {
            vl_appender_buf_release(NULL, b->buf);
            return -1;
        }
    }
    if (zmq_msg_send(&m, zsock_resolve(sock), 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

int vl_appender_send_append(vl_appender_t *self, vl_appender_batch_t *b)
{
    vl_appender_ls_t *ls = &self->ls[b->ls];
    vl_hdr_t hdr = {
        .type = VL_MSG_APPEND, .request_id = b->request_id, .cluster_id = self->cluster_id};
    vl_append_t a = {.topic_id = self->topic_id,
                     .ls_id = ls->id,
                     .client_id = b->name_client ? b->name_client : self->client_id,
                     .batch_seq = b->name_client ? b->name_seq : b->bseq,
                     .epoch = ls->epoch,
                     .n = (uint32_t)(b->n - b->done),
                     .sizes = b->sizes + 4 * b->done};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_append_encode(&a, false, &body);
    zmsg_t *msg = vl_wire_msg(&hdr, &body);
    vl_wbuf_free(&body);
    vl_appender_conn_t *conn = &self->conns[ls->conn];
    /* The payload goes by reference, b's buffer stays for a retry. Once
       the first frame is queued ZeroMQ takes the rest of the message. */
    int rc = -1;
    if (conn->sock) {
        rc = a.n > 0 ? zmsg_sendm(&msg, conn->sock) : zmsg_send(&msg, conn->sock);
        if (rc == 0 && a.n > 0)
            rc = s_send_payload(b, conn->sock);
    }
    if (rc != 0)
        zmsg_destroy(&msg);
    return rc;
}

/*  Sends the entries of b not yet committed (its payload) to log stream li as
    one APPEND under a new name, and puts b in flight. */
static void s_send_batch(vl_appender_t *self, vl_appender_batch_t *b, int li, int64_t now_us)
{
    vl_appender_ls_t *ls = &self->ls[li];
    b->ls = (size_t)li;
    b->request_id = self->next_id++;
    b->deadline_us = now_us + (int64_t)self->o.timeout_ms * 1000;
    b->sent_us = now_us;
    b->attempts++;
    b->bseq = ++self->next_bseq;
    /* answered before this send: the batch, if written, begins past it */
    b->hint = ls->acked_llsn;
    b->epoch = ls->epoch;
    b->resolving = false;
    self->inflight = vl_realloc(self->inflight, (self->ninflight + 1) * sizeof *self->inflight);
    self->inflight[self->ninflight++] = b;
    ls->inflight++;
    if (vl_appender_send_append(self, b) != 0)
        vl_appender_fate_finish(self, b, VL_EIO, "append topic=%s ls=%u: cannot send to %s",
                                self->topic, ls->id, self->conns[ls->conn].addr);
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
        vl_appender_batch_t *b = self->retry[0];
        memmove(self->retry, self->retry + 1, (self->nretry - 1) * sizeof *self->retry);
        self->nretry--;
        s_send_batch(self, b, li, now_us);
        if (__atomic_load_n(&self->halted, __ATOMIC_ACQUIRE))
            return false; /* it failed at once (sticky): the rest fail unsent */
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

/*  Sticky, after a batch failed: the batches not sent (or waiting for a
    retry) fail unsent, so that nothing after the failed one can be
    committed; those in flight are resolved as ever. */
static void s_halt_rest(vl_appender_t *self, int64_t now_us)
{
    s_take_input(self, now_us, true);
    while (self->nretry > 0 || self->pend) {
        vl_appender_batch_t *b = self->nretry > 0 ? self->retry[0] : s_pend_pop(self);
        vl_appender_fate_finish(self, b, VL_ECLOSED,
                                "append topic=%s: not sent: an earlier batch failed, and in "
                                "sticky mode nothing after a failed batch is sent (the "
                                "entries in the log stay a prefix of the input)",
                                self->topic);
    }
}

/*  Sends closed batches while pipelines have room; the open one too once
    it has lingered (and there is room for it). */
static void s_cut_batches(vl_appender_t *self, int64_t now_us)
{
    if (__atomic_load_n(&self->halted, __ATOMIC_ACQUIRE)) {
        s_halt_rest(self, now_us);
        /* without stop_on_error, writing goes on once what was sent
           before is settled */
        if (!self->o.stop_on_error && self->ninflight == 0)
            __atomic_store_n(&self->halted, false, __ATOMIC_RELEASE);
        return;
    }
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
            if (__atomic_load_n(&self->halted, __ATOMIC_ACQUIRE))
                return; /* it failed at once: the next pass fails the rest */
            continue;
        }
        /* no room; or no log stream takes appends at all (every one
           sealed, or the metadata unreachable): then the entries fail once
           they have waited the timeout, rather than wait for ever */
        if (s_any_usable(self) || now_us < self->pend->t_us + (int64_t)self->o.timeout_ms * 1000)
            return;
        vl_appender_fate_finish(
            self, s_pend_pop(self), VL_EUNAVAIL,
            "append topic=%s: no running log stream took the entries within %d ms "
            "(see `varlogctl ls list %s`: unseal one or add one with `varlogctl ls add "
            "%s`; or the metadata repository is unreachable)",
            self->topic, self->o.timeout_ms, self->topic, self->topic);
    }
}

/*  (Re)opens the DEALER of conn, dropping whatever the old one still
    queues. No send limit: the pipeline bounds what is in flight. A socket
    that cannot connect stays NULL: its batches fail with VL_EIO. */
void vl_appender_conn_open(vl_appender_t *self, size_t conn)
{
    vl_appender_conn_t *c = &self->conns[conn];
    zsock_destroy(&c->sock);
    c->sock = zsock_new(ZMQ_DEALER);
    if (!c->sock)
        return;
    zsock_set_linger(c->sock, 0);
    zsock_set_sndhwm(c->sock, 0);
    vl_curve_client(c->sock);
    if (zsock_connect(c->sock, "%s", c->addr) != 0)
        zsock_destroy(&c->sock);
}

/*  The connection to addr, made when missing. */
size_t vl_appender_conn_get(vl_appender_t *self, const char *addr)
{
    size_t conn = 0;
    while (conn < self->nconns && strcmp(self->conns[conn].addr, addr) != 0)
        conn++;
    if (conn < self->nconns)
        return conn;
    self->conns = vl_realloc(self->conns, (self->nconns + 1) * sizeof *self->conns);
    vl_appender_conn_t *c = &self->conns[self->nconns++];
    memset(c, 0, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    vl_appender_conn_open(self, conn);
    return conn;
}

/*  Learns the topic's log streams again: running ones become usable (new
    ones and new primaries get a connection), the others unusable. */
void vl_appender_refresh(vl_appender_t *self, int64_t now_us)
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
            vl_appender_ls_t *ls = &self->ls[i];
            ls->state = r->state;
            ls->epoch = r->epoch;
            ls->nrep = r->nrep;
            memcpy(ls->rep, r->addr, sizeof ls->rep);
        }
        if (r->state != VL_LS_RUNNING || r->nrep == 0 || !*r->addr[0])
            continue;
        size_t conn = vl_appender_conn_get(self, r->addr[0]);
        if (i == self->nls) {
            self->ls = vl_realloc(self->ls, (self->nls + 1) * sizeof *self->ls);
            vl_appender_ls_t *ls = &self->ls[self->nls++];
            *ls = (vl_appender_ls_t){
                .id = r->id, .conn = conn, .state = r->state, .epoch = r->epoch, .nrep = r->nrep};
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

/*  The one callback of an atomic batch: rc 0 only when every entry is
    committed at contiguous GLSNs (one APPEND to one log stream is, by
    storage nodes that report batch ends only: see vl_appender_append_batch). */
static void s_complete_atomic(vl_appender_t *self, vl_appender_batch_t *b)
{
    int rc = b->rc;
    uint64_t first = b->done > 0 ? b->glsns[0] : 0;
    for (size_t i = 1; i < b->done && rc == 0; i++)
        if (b->glsns[i] != first + i) {
            rc = VL_EPROTO;
            snprintf(b->errmsg, sizeof b->errmsg,
                     "append topic=%s: an atomic batch of %zu entries was committed at "
                     "GLSNs that are not contiguous (%" PRIu64 " then %" PRIu64
                     " at entry %zu): a storage node older than this library reported part "
                     "of a batch; upgrade the storage nodes",
                     self->topic, b->n, b->glsns[i - 1], b->glsns[i], i + 1);
        }
    b->rc = rc;
    b->batch_cb(b->nargs > 0 ? b->args[0].arg : NULL, rc, first, b->done, rc != 0 ? b->errmsg : "");
}

/*  Runs the callbacks of the batches that are done, in append order. */
static void s_complete(vl_appender_t *self)
{
    vl_appender_batch_t *b;
    while ((b = vl_ordq_pop(self->ordq))) {
        /* a head committed before a failure keeps its GLSNs */
        size_t at = 0;
        if (b->batch_cb)
            s_complete_atomic(self, b);
        for (size_t r = 0; r < b->nargs && !b->batch_cb; r++) {
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
        const vl_appender_batch_t *b = self->inflight[i];
        int64_t t;
        if (b->resolving)
            t = b->next_query_us < b->resolve_until_us ? b->next_query_us : b->resolve_until_us;
        else if (now_us < b->sent_us + APP_UNANSWERED_US)
            t = b->sent_us + APP_UNANSWERED_US;
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
        vl_appender_conn_open(self, i);
    zsock_signal(pipe, 0);
    size_t nitems = 2 + self->nconns;
    zmq_pollitem_t *items = vl_calloc(nitems, sizeof *items);
    bool terminated = false;
    while (!terminated) {
        int64_t now = vl_now_us();
        s_take_input(self, now, false);
        vl_appender_fate_timeouts(self, now);
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
                    vl_appender_fate_reply(self, conn, msg);
            }
        }
    }
    /* destroy flushed first, so this only matters when it was interrupted:
       whatever is left fails */
    s_take_input(self, INT64_MAX, true);
    while (self->pend)
        vl_appender_fate_finish(self, s_pend_pop(self), VL_ECLOSED,
                                "append topic=%s: the appender was destroyed", self->topic);
    while (self->ninflight > 0)
        vl_appender_fate_finish(self, self->inflight[0], VL_ECLOSED,
                                "append topic=%s: the appender was destroyed", self->topic);
    while (self->nretry > 0)
        vl_appender_fate_finish(self, self->retry[0], VL_ECLOSED,
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
        vl_appender_ls_t *ls = &self->ls[self->nls++];
        *ls = (vl_appender_ls_t){.id = r->id,
                                 .conn = conn,
                                 .usable = true,
                                 .state = r->state,
                                 .epoch = r->epoch,
                                 .nrep = r->nrep};
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
            vl_appender_batch_t *b = self->open;
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

static int s_append_batch(vl_appender_t *self, const void *const *data, const size_t *len,
                          size_t n, uint64_t name_client, uint64_t name_seq,
                          vl_append_batch_cb_t *cb, void *cb_arg)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] > VL_MAX_ENTRY_SIZE_DEFAULT)
            return vl_client_fail(self->client, VL_ETOOBIG,
                                  "append topic=%s: entry %zu of the atomic batch of %zu has %zu "
                                  "bytes; the maximum entry size is %u bytes (split it)",
                                  self->topic, i + 1, n, len[i],
                                  (unsigned)VL_MAX_ENTRY_SIZE_DEFAULT);
        total += len[i];
    }
    if (n == 0 || !cb)
        return vl_client_fail(self->client, VL_EINVAL,
                              "append topic=%s: an atomic batch needs at least one entry and a "
                              "callback",
                              self->topic);
    if (n > VL_WIRE_MAX_ENTRIES || total > VL_WIRE_MAX_PAYLOAD)
        return vl_client_fail(
            self->client, VL_ETOOBIG,
            "append topic=%s: an atomic batch holds at most %u entries and %u "
            "bytes; this one has %zu entries and %" PRIu64 " bytes (split it in several batches)",
            self->topic, (unsigned)VL_WIRE_MAX_ENTRIES, (unsigned)VL_WIRE_MAX_PAYLOAD, n, total);
    bool wake = false;
    pthread_mutex_lock(&self->mutex);
    /* room for the whole batch (or nothing outstanding: it goes alone) */
    while (!self->stopping && self->appended > self->completed &&
           (self->outstanding_bytes + total > self->max_bytes ||
            self->appended - self->completed + n > self->max_entries))
        pthread_cond_wait(&self->cond, &self->mutex);
    if (self->stopping) {
        pthread_mutex_unlock(&self->mutex);
        return vl_client_fail(self->client, VL_ECLOSED,
                              "append topic=%s: the appender is closing (the atomic batch was "
                              "not queued)",
                              self->topic);
    }
    /* entries queued before it go in the batch before it (the order
       stays), and nothing joins it: it is closed at once */
    if (self->open && self->open->n > 0)
        wake |= s_close_open_locked(self);
    vl_appender_batch_t *b = s_batch_new(self, (size_t)total, vl_now_us());
    for (size_t i = 0; i < n; i++)
        s_batch_add(b, data[i], len[i], cb_arg);
    b->batch_cb = cb;
    b->name_client = name_client;
    b->name_seq = name_client ? name_seq : 0;
    self->open = b;
    wake |= s_close_open_locked(self);
    self->appended += n;
    self->outstanding_bytes += (size_t)total;
    pthread_mutex_unlock(&self->mutex);
    if (wake)
        s_wake(self);
    return 0;
}

int vl_appender_append_batch(vl_appender_t *self, const void *const *data, const size_t *len,
                             size_t n, vl_append_batch_cb_t *cb, void *cb_arg)
{
    return s_append_batch(self, data, len, n, 0, 0, cb, cb_arg);
}

int vl_appender_append_batch_named(vl_appender_t *self, const void *const *data,
                                   const size_t *len, size_t n, uint64_t name_client,
                                   uint64_t name_seq, vl_append_batch_cb_t *cb, void *cb_arg)
{
    if (name_client == 0 || name_seq == 0)
        return vl_client_fail(self->client, VL_EINVAL,
                              "append topic=%s: a batch name needs a non-zero client id and "
                              "sequence number",
                              self->topic);
    return s_append_batch(self, data, len, n, name_client, name_seq, cb, cb_arg);
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
    if (rc != 0) /* the caller has the error: sticky sending may go on */
        __atomic_store_n(&self->halted, false, __ATOMIC_RELEASE);
    if (rc != 0)
        vl_client_fail(self->client, rc, "%s", msg);
    return rc;
}

void vl_appender_push(vl_appender_t *self)
{
    pthread_mutex_lock(&self->mutex);
    bool wake = self->flush_target < self->appended;
    if (wake)
        self->flush_target = self->appended;
    pthread_mutex_unlock(&self->mutex);
    if (wake)
        s_wake(self);
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
