/*  appender_fate.c - what became of each batch the appender's thread sent:
    its APPEND reply, and when there was none, the BATCH_STATUS questions
    that settle it; refused batches queued for another log stream;
    finished ones handed to the in-order queue.

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
    Each APPEND names its batch (the appender's random client id and a
    batch sequence number, fresh for every log stream the batch goes to,
    kept by every resend there), and the replicas keep the name with the
    entries. A batch without an answer is resolved: its log stream is set
    aside, the appender resends it under the same name to the primary
    while the log stream runs (every timeout; the primary answers a name
    it holds with the batch's outcome instead of appending it again: a
    refusal of a resend says nothing of the first send and is ignored),
    watches the metadata and asks the replicas (BATCH_STATUS) what became
    of the batch. Committed: done, with
    its GLSNs. Once the log stream is sealed, a replica holding exactly the
    sealed end answers for good: the entries it does not hold were
    discarded and can never be committed, so they are sent to another log
    stream like a refused batch. A log stream that is not sealed within
    VL_BATCH_RESOLVE_MS (or twice the timeout, if longer) leaves the batch
    failed with VL_ETIMEDOUT, as it may still be committed. Those rules
    are the ones vl_append follows too (batch.h).
*/
#include <stdarg.h>
#include <string.h>
#include "appender_i.h"
#include "batch.h"
#include "util.h"

/*  Takes b off the in-flight list (it was answered or given up). */
static void s_unflight(vl_appender_t *self, vl_appender_batch_t *b)
{
    for (size_t i = 0; i < self->ninflight; i++)
        if (self->inflight[i] == b) {
            self->inflight[i] = self->inflight[--self->ninflight];
            self->ls[b->ls].inflight--;
            break;
        }
}

void vl_appender_fate_finish(vl_appender_t *self, vl_appender_batch_t *b, int rc, const char *fmt,
                             ...)
{
    s_unflight(self, b);
    for (size_t i = 0; i < self->nretry; i++)
        if (self->retry[i] == b) {
            memmove(self->retry + i, self->retry + i + 1,
                    (self->nretry - i - 1) * sizeof *self->retry);
            self->nretry--;
            break;
        }
    vl_appender_buf_release(NULL, b->buf); /* ZeroMQ may still hold it */
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
    if (rc != 0 && self->o.sticky)
        __atomic_store_n(&self->halted, true, __ATOMIC_RELEASE); /* the log keeps a prefix */
    vl_ordq_done(self->ordq, b->seq);
}

/*  Records the GLSN runs of the next entries of b (its committed part). */
static void s_batch_runs(vl_appender_batch_t *b, const vl_append_reply_t *r)
{
    b->done += vl_batch_glsns(r, b->glsns ? b->glsns + b->done : NULL, b->n - b->done);
}

/*  Records the committed head of b named by r (fewer entries than b has
    left) and keeps the payload of the rest only. */
static void s_batch_head(vl_appender_batch_t *b, const vl_append_reply_t *r)
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
static void s_batch_requeue(vl_appender_t *self, vl_appender_batch_t *b, int rc, const char *why)
{
    if (self->o.ls_id != 0 || b->attempts >= APP_MAX_ATTEMPTS) {
        vl_appender_fate_finish(self, b, rc, "%s", why);
        return;
    }
    if (b->batch_cb && b->done > 0) {
        /* an atomic batch is never sent in parts: its head would have
           GLSNs apart from its tail's (storage nodes that report only
           batch ends never let a seal cut one; older ones may) */
        vl_appender_fate_finish(self, b, rc,
                                "%s; the batch is atomic: its first %zu of %zu entries are in "
                                "the log, the others were not sent again",
                                why, b->done, b->n);
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

/*  A BATCH_STATUS answer about b, which is being resolved. */
static void s_on_status_reply(vl_appender_t *self, vl_appender_batch_t *b, const vl_hdr_t *hdr,
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
        vl_appender_fate_finish(self, b, 0, NULL);
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
        vl_appender_conn_open(self, self->ls[b->ls].conn);
        s_batch_requeue(self, b, VL_ESEALED, why);
    }
    vl_append_reply_free(&r.ar); /* VL_BATCH_UNKNOWN: asked again later */
}

/*  True for a refusal that, answering a resend of a batch whose first
    answer was lost, says nothing of what became of the first send. */
static bool s_resend_refusal(int status)
{
    return vl_batch_movable(status) || status == VL_EBUSY || status == VL_EUNAVAIL ||
           status == VL_ETIMEDOUT || status == VL_ESTALE;
}

void vl_appender_fate_reply(vl_appender_t *self, size_t conn, zmsg_t *msg)
{
    vl_hdr_t hdr;
    vl_rbuf_t body;
    vl_appender_batch_t *b = NULL;
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
    if (hdr.status != 0 && b->resolving && s_resend_refusal((int)hdr.status)) {
        /* may answer a resend: says nothing of the first send, which
           BATCH_STATUS settles */
        zmsg_destroy(&msg);
        return;
    }
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
        if (hdr.status == VL_ESEALED || hdr.status == VL_ENOLS || hdr.status == VL_EUNAVAIL ||
            hdr.status == VL_ESTORE)
            if (self->o.ls_id == 0)
                self->ls[b->ls].usable = false;
        char why[512];
        snprintf(why, sizeof why, "append topic=%.64s ls=%u: %.380s", self->topic, ls_id, text);
        if (vl_batch_movable((int)hdr.status))
            /* nothing past the head was written: send it elsewhere */
            s_batch_requeue(self, b, (int)hdr.status, why);
        else
            vl_appender_fate_finish(self, b, (int)hdr.status, "%s", why);
        zmsg_destroy(&msg);
        return;
    }
    vl_append_reply_t r;
    int rc = vl_append_reply_decode(&body, &r);
    uint64_t total = rc == 0 ? vl_batch_count(&r) : 0;
    if (rc != 0 || total != want) {
        vl_appender_fate_finish(
            self, b, VL_EPROTO,
            "append topic=%s ls=%u: malformed APPEND reply from %s (%llu GLSNs for "
            "%zu entries)",
            self->topic, ls_id, self->conns[conn].addr, (unsigned long long)total, want);
    } else {
        vl_appender_ls_t *ls = &self->ls[b->ls];
        ls->suspect_until_us = 0; /* it answers */
        if (r.llsn_begin > ls->acked_llsn)
            ls->acked_llsn = r.llsn_begin;
        s_batch_runs(b, &r);
        vl_appender_fate_finish(self, b, 0, NULL);
    }
    if (rc == 0)
        vl_append_reply_free(&r);
    zmsg_destroy(&msg);
}

/*  b got no answer in time: from now on it is resolved, and its log
    stream is not used for new batches meanwhile. */
static void s_resolve_start(vl_appender_t *self, vl_appender_batch_t *b, int64_t now_us)
{
    vl_appender_ls_t *ls = &self->ls[b->ls];
    int64_t window = vl_batch_resolve_ms(self->o.timeout_ms);
    b->resolving = true;
    b->resolve_until_us = now_us + window * 1000;
    b->next_query_us = now_us;
    if (b->next_resend_us < now_us) /* not just resent with the others */
        b->next_resend_us = now_us;
    if (ls->suspect_until_us < b->resolve_until_us)
        ls->suspect_until_us = b->resolve_until_us;
}

static void s_resolve_ask(vl_appender_t *self, vl_appender_batch_t *b, const vl_appender_ls_t *ls,
                          const char *addr);

/*  Asks about b: the primary while the log stream runs (the answer may
    only be lost), else every replica. */
static void s_resolve_query(vl_appender_t *self, vl_appender_batch_t *b, int64_t now_us)
{
    vl_appender_refresh(self, now_us); /* learns the log stream's state */
    vl_appender_ls_t *ls = &self->ls[b->ls];
    b->next_query_us = now_us + APP_QUERY_US;
    if (ls->nrep == 0)
        return;
    /* sealed: every replica at once (the one holding the sealed end
       answers for good, the others refuse), so a dead one costs no turn */
    uint32_t first = vl_batch_replica(ls->state, ls->nrep, b->queries++);
    uint32_t count = ls->state == VL_LS_RUNNING ? 1 : ls->nrep;
    for (uint32_t k = 0; k < count; k++)
        s_resolve_ask(self, b, ls, ls->rep[(first + k) % ls->nrep]);
}

/*  Sends BATCH_STATUS about b to the replica of ls at addr. */
static void s_resolve_ask(vl_appender_t *self, vl_appender_batch_t *b, const vl_appender_ls_t *ls,
                          const char *addr)
{
    if (!*addr)
        return;
    size_t conn = vl_appender_conn_get(self, addr);
    if (!self->conns[conn].sock)
        return;
    vl_batch_status_t q = {.topic_id = self->topic_id,
                           .ls_id = ls->id,
                           .client_id = b->name_client ? b->name_client : self->client_id,
                           .batch_seq = b->name_client ? b->name_seq : b->bseq,
                           .llsn_hint = b->hint};
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

/*  Sticky: resends every batch in flight on log stream li, in the order
    they were sent, on a new connection. A batch lost on the way may have
    later ones behind it still queued for the primary (ZeroMQ sends them
    once it reconnects); resent alone it would come after them, out of
    order. The new connection drops what the old one queued, and what the
    old one still delivers is a run of the same batches in the same order,
    so each batch is appended where it first arrives: in order. */
static void s_resend_all(vl_appender_t *self, size_t li, int64_t now_us)
{
    vl_appender_batch_t **v = vl_malloc((self->ninflight + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < self->ninflight; i++)
        if (self->inflight[i]->ls == li && self->inflight[i]->epoch == self->ls[li].epoch) {
            size_t k = n++;
            while (k > 0 && v[k - 1]->seq > self->inflight[i]->seq) {
                v[k] = v[k - 1];
                k--;
            }
            v[k] = self->inflight[i];
        }
    vl_appender_conn_open(self, self->ls[li].conn);
    for (size_t k = 0; k < n; k++) {
        v[k]->next_resend_us = now_us + (int64_t)self->o.timeout_ms * 1000;
        vl_appender_send_append(self, v[k]);
    }
    free(v);
}

void vl_appender_fate_timeouts(vl_appender_t *self, int64_t now_us)
{
    for (size_t i = 0; i < self->ninflight;) {
        vl_appender_batch_t *b = self->inflight[i];
        if (!b->resolving && now_us >= b->sent_us + APP_UNANSWERED_US && now_us < b->deadline_us) {
            /* A primary that is alive answers a seal at once: a batch long
               unanswered on a log stream sealed since has lost its primary,
               so it is resolved without waiting for the timeout. */
            vl_appender_refresh(self, now_us);
            if (self->ls[b->ls].state != VL_LS_RUNNING)
                s_resolve_start(self, b, now_us);
        }
        if (!b->resolving && now_us >= b->deadline_us)
            s_resolve_start(self, b, now_us);
        if (b->resolving && now_us >= b->resolve_until_us) {
            vl_appender_fate_finish(
                self, b, VL_ETIMEDOUT,
                "append topic=%s ls=%u: no reply from %s within %d ms, and the log "
                "stream was not sealed within %d ms more to settle the batch; the "
                "storage node may be down or slow (the batch may still be committed "
                "later: check before appending it again)",
                self->topic, self->ls[b->ls].id, self->conns[self->ls[b->ls].conn].addr,
                self->o.timeout_ms, (int)((b->resolve_until_us - b->deadline_us) / 1000));
            continue; /* b left the list: i holds the next one */
        }
        if (b->resolving && now_us >= b->next_resend_us && self->ls[b->ls].state == VL_LS_RUNNING &&
            self->ls[b->ls].epoch == b->epoch) {
            /* Idempotent: the primary holds the batch's name if it wrote
               it, and answers with what became of it instead of appending
               it again (a seal answers for good through BATCH_STATUS).
               Only in the epoch it was sent in: after a seal and an unseal
               earlier batches of the writer may wait for a retry (refused
               by the seal), and a resend, taken in the new epoch, would
               overtake them (chaos.sh: a sticky writer's lines 25, 26 and
               29 before 23 and 24 after an SN was cut off); BATCH_STATUS
               settles it, as before resends existed. */
            if (self->o.sticky)
                s_resend_all(self, b->ls, now_us);
            else {
                b->next_resend_us = now_us + (int64_t)self->o.timeout_ms * 1000;
                vl_appender_send_append(self, b);
            }
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
        vl_appender_batch_t *b = self->retry[i];
        if (now_us < b->deadline_us) {
            i++;
            continue;
        }
        char why[512];
        memcpy(why, b->errmsg, sizeof why);
        vl_appender_fate_finish(
            self, b, VL_ESEALED,
            "%s; no other running log stream took it within %d ms (unseal one or "
            "add one with `varlogctl ls add %s`)",
            why, self->o.timeout_ms, self->topic);
    }
}
