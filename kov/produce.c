/*  produce.c - Produce on varlog: one sticky appender per partition this
    gateway writes (made on first use by a worker, kept), each Kafka batch
    one atomic varlog batch (vl_appender_append_batch: one APPEND to one
    log stream, committed whole at contiguous GLSNs, in call order), its
    answer base_offset = first GLSN - 1.

    The calls of a partition wait in one FIFO (waiting) until the appender
    has room (KP_MAX_INFLIGHT_*, below the appender's own flow control, so
    the loop thread never blocks in it). An idempotent producer's batch is
    checked when it reaches the head (its producer id known to pid.c
    first):
    - a batch this partition has (same epoch, base sequence and count,
      among the last KP_RECENT) is answered with its original base offset
      and not appended again; one still in flight waits for it;
    - an older epoch: INVALID_PRODUCER_EPOCH; a newer one starts over;
    - when this gateway does not know the producer's past on the partition
      (its first batch here since this gateway started or took the
      partition over, also back from another owner: vl_kparts_owner_epoch,
      or the batch after a failed one), the batch is
      looked up in the log by its name first (vl_batch_find): one that the
      previous owner, or this gateway before a restart, committed is
      answered with its offset and not appended; once one is not there,
      the producer's next batches are not looked up;
    - otherwise the base sequence must be the next one (OUT_OF_ORDER_
      SEQUENCE_NUMBER), except after a look-up that found nothing or a
      failed batch: lenient, like a broker whose producer state was lost.
    Idempotent batches are named (s_name_client: producer id and epoch;
    base sequence + 1) so that the look-up finds them (doc/DESIGN.md,
    "Kov"; doc/KOV.md, "Several gateways").
*/
#include <inttypes.h>
#include <string.h>
#include "log.h"
#include "part_i.h"
#include "util.h"

static void s_pump(vl_kpart_t *part);

static void s_op_free(kp_produce_t *op)
{
    free(op->buf);
    free(op->len);
    free(op);
}

static void s_answer_now(void *arg)
{
    kp_produce_t *op = arg;
    if (!op->kp->destroying)
        op->cb(op->arg, op->kerr, op->kerr ? -1 : op->base_offset, op->msg);
    s_op_free(op);
}

/*  Answers op and the retries waiting on it (from the loop, never inside
    the call that made them), then frees them. */
static void s_answer(kp_produce_t *op, int16_t kerr, int64_t base_offset, const char *msg)
{
    while (op) {
        kp_produce_t *next = op->dups;
        op->kerr = kerr;
        op->base_offset = base_offset;
        if (msg != op->msg)
            snprintf(op->msg, sizeof op->msg, "%s", msg ? msg : "");
        vl_kparts_post(op->kp, s_answer_now, op);
        op = next;
    }
}

/*  ---- idempotent producers ----------------------------------------------- */

/*  The state of producer pid on part; made (at epoch, any sequence next)
    when missing and make. */
static kp_pstate_t *s_pstate(vl_kpart_t *part, int64_t pid, bool make, int16_t epoch)
{
    /* a partition has few producers: a scan of an array */
    for (size_t i = 0; i < part->npstates; i++)
        if (part->pstates[i]->pid == pid)
            return part->pstates[i];
    if (!make)
        return NULL;
    kp_pstate_t *st = vl_calloc(1, sizeof *st);
    st->pid = pid;
    st->epoch = epoch;
    st->lenient = true;
    st->probe = true;
    part->pstates = vl_realloc(part->pstates, (part->npstates + 1) * sizeof *part->pstates);
    part->pstates[part->npstates++] = st;
    return st;
}

static int32_t s_seq_add(int32_t seq, size_t n)
{
    return (int32_t)(((int64_t)seq + (int64_t)n) % ((int64_t)INT32_MAX + 1));
}

/*  What s_check_seq decides. */
enum { S_ANSWERED, S_APPEND, S_LOOKUP };

/*  The name of an idempotent batch in varlog (vl_appender_append_batch_
    named): the client part from the producer id and epoch, the sequence
    part the base sequence + 1, so that the batches of one producer epoch
    reach a partition in growing name order. */
static uint64_t s_name_client(int64_t pid, int16_t epoch)
{
    uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uint16_t)epoch << 48;
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h ? h : 1;
}

/*  Checks op (idempotent) against its producer's state on the partition:
    S_APPEND, op goes on to the appender; S_ANSWERED, it was answered (or
    waits on the batch it repeats); S_LOOKUP, this gateway does not know
    whether the producer's batch is in the log already (written by
    another gateway, or by this one before a restart): look it up first. */
static int s_check_seq(vl_kpart_t *part, kp_produce_t *op)
{
    const vl_kproducer_t *p = &op->prod;
    char msg[512];
    if (p->producer_id >= part->kp->pid_known_end) {
        snprintf(msg, sizeof msg,
                 "produce topic=%.200s: producer id %lld was never allocated (InitProducerId "
                 "first)",
                 part->topic, (long long)p->producer_id);
        s_answer(op, KERR_UNKNOWN_PRODUCER_ID, -1, msg);
        return S_ANSWERED;
    }
    kp_pstate_t *st = s_pstate(part, p->producer_id, true, p->producer_epoch);
    if (p->producer_epoch < st->epoch) {
        snprintf(msg, sizeof msg,
                 "produce topic=%.200s: producer %lld epoch %d is older than its epoch %d here "
                 "(another producer with this id took over)",
                 part->topic, (long long)p->producer_id, p->producer_epoch, st->epoch);
        s_answer(op, KERR_INVALID_PRODUCER_EPOCH, -1, msg);
        return S_ANSWERED;
    }
    if (p->producer_epoch != st->epoch) { /* a new epoch starts over */
        st->epoch = p->producer_epoch;
        st->nrecent = 0;
        st->lenient = true;
    }
    for (int i = 0; i < st->nrecent; i++) {
        kp_seqbatch_t *sb = &st->recent[i];
        if (sb->base_seq != p->base_sequence || sb->epoch != p->producer_epoch)
            continue;
        if (sb->count != op->n)
            break;          /* not the same batch: a sequence error below */
        if (sb->inflight) { /* a retry of a batch in flight: its answer */
            op->dups = sb->inflight->dups;
            sb->inflight->dups = op;
        } else
            s_answer(op, 0, sb->base_offset, "");
        part->kp->stats.produce_dups++;
        return S_ANSWERED;
    }
    if (st->probe && !op->looked_up)
        return S_LOOKUP;
    if (!st->lenient && p->base_sequence != st->next_seq) {
        snprintf(msg, sizeof msg,
                 "produce topic=%.200s: producer %lld epoch %d sent sequence %d, expected %d",
                 part->topic, (long long)p->producer_id, p->producer_epoch, p->base_sequence,
                 st->next_seq);
        s_answer(op, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, msg);
        return S_ANSWERED;
    }
    if (st->nrecent == KP_RECENT) {
        memmove(st->recent, st->recent + 1, (KP_RECENT - 1) * sizeof *st->recent);
        st->nrecent--;
    }
    st->recent[st->nrecent++] = (kp_seqbatch_t){.epoch = p->producer_epoch,
                                                .base_seq = p->base_sequence,
                                                .count = (uint32_t)op->n,
                                                .base_offset = -1,
                                                .inflight = op};
    st->next_seq = s_seq_add(p->base_sequence, op->n);
    st->lenient = false;
    return S_APPEND;
}

/*  op's batch is done: its producer's state learns the offset, or
    forgets the batch when it failed (then the next batch may begin
    anywhere: the client retries this one, maybe after later ones). */
static void s_seq_done(vl_kpart_t *part, kp_produce_t *op, bool ok, int64_t base_offset)
{
    kp_pstate_t *st = s_pstate(part, op->prod.producer_id, false, 0);
    if (!st)
        return;
    for (int i = 0; i < st->nrecent; i++) {
        kp_seqbatch_t *sb = &st->recent[i];
        if (sb->inflight != op)
            continue;
        sb->inflight = NULL;
        if (ok) {
            sb->base_offset = base_offset;
            return;
        }
        memmove(st->recent + i, st->recent + i + 1,
                (size_t)(st->nrecent - i - 1) * sizeof *st->recent);
        st->nrecent--;
        st->lenient = true;
        st->probe = true; /* it may be committed after all (a timeout): look its retry up */
        return;
    }
}

/*  ---- looking a batch up -------------------------------------------------- */

typedef struct {
    vl_kparts_t *kp;
    char topic[256];
    kp_produce_t *op;
    uint64_t name_client, name_seq;
    int rc;
    uint64_t first_glsn;
    size_t n;
    char msg[512];
} kp_lookup_t;

static void s_lookup_work(void *arg, vl_client_t *client)
{
    kp_lookup_t *l = arg;
    l->rc = vl_batch_find(client, l->topic, l->name_client, l->name_seq, &l->first_glsn, &l->n);
    if (l->rc == VL_EBUSY)
        snprintf(l->msg, sizeof l->msg,
                 "produce topic=%.200s: the producer's batch is in the log but not committed "
                 "yet; retry",
                 l->topic);
    else if (l->rc != 0)
        snprintf(l->msg, sizeof l->msg, "produce topic=%.200s: looking the batch up: %s",
                 l->topic, vl_client_errmsg(client));
}

/*  The lookup's answer: a batch that is there is answered with its offset
    (and the producer's state learns it), one that is not goes on to the
    appender; the partition's other calls waited meanwhile. */
static void s_lookup_done(void *arg)
{
    kp_lookup_t *l = arg;
    kp_produce_t *op = l->op;
    vl_kpart_t *part = l->kp->destroying ? NULL : op->part;
    if (!part) {
        s_op_free(op);
        free(l);
        return;
    }
    part->looking = false;
    kp_pstate_t *st = s_pstate(part, op->prod.producer_id, true, op->prod.producer_epoch);
    if (l->rc == 0 && l->n == op->n && st->epoch == op->prod.producer_epoch) {
        if (st->nrecent == KP_RECENT) {
            memmove(st->recent, st->recent + 1, (KP_RECENT - 1) * sizeof *st->recent);
            st->nrecent--;
        }
        int64_t base = (int64_t)l->first_glsn - 1;
        st->recent[st->nrecent++] = (kp_seqbatch_t){.epoch = op->prod.producer_epoch,
                                                    .base_seq = op->prod.base_sequence,
                                                    .count = (uint32_t)op->n,
                                                    .base_offset = base};
        st->next_seq = s_seq_add(op->prod.base_sequence, op->n);
        st->lenient = false;
        vl_kpart_committed(part, l->first_glsn + l->n - 1);
        part->kp->stats.produce_dups++;
        vl_log(LOG_NOTICE,
               "produce topic=%s: producer %lld epoch %d sequence %d (%zu records) is in the "
               "log already at offset %lld (written by another gateway, or before a restart): "
               "answered with it, not appended again",
               part->topic, (long long)op->prod.producer_id, op->prod.producer_epoch,
               op->prod.base_sequence, op->n, (long long)base);
        s_answer(op, 0, base, "");
    } else if (l->rc == 0 && l->n == 0) {
        st->probe = false; /* not there: neither are the producer's later ones */
        op->looked_up = true;
        op->next = part->waiting;
        part->waiting = op;
        if (!op->next)
            part->waiting_tail = &op->next;
    } else {
        if (l->rc == 0)
            snprintf(l->msg, sizeof l->msg,
                     "produce topic=%.200s: a batch of %zu records with this producer's "
                     "sequence is in the log with %zu records",
                     part->topic, op->n, l->n);
        s_answer(op,
                 l->rc == 0 ? KERR_OUT_OF_ORDER_SEQUENCE_NUMBER
                 : l->rc == VL_EBUSY ? KERR_REQUEST_TIMED_OUT
                                     : vl_kparts_kerr(l->rc),
                 -1, l->msg);
    }
    free(l);
    s_pump(part);
}

static void s_lookup(vl_kpart_t *part, kp_produce_t *op)
{
    kp_lookup_t *l = vl_calloc(1, sizeof *l);
    l->kp = part->kp;
    snprintf(l->topic, sizeof l->topic, "%s", part->topic);
    l->op = op;
    l->name_client = s_name_client(op->prod.producer_id, op->prod.producer_epoch);
    l->name_seq = (uint64_t)(uint32_t)op->prod.base_sequence + 1;
    part->looking = true;
    vl_kparts_run_own(part->kp, s_lookup_work, s_lookup_done, l, true);
}

/*  ---- the appender --------------------------------------------------------- */

typedef struct {
    vl_kparts_t *kp;
    char topic[256];
    vl_appender_t *app;
    int rc;
    char msg[512];
} kp_open_t;

static void s_open_work(void *arg, vl_client_t *client)
{
    kp_open_t *o = arg;
    vl_appender_opts_t opts = {.sticky = true};
    o->rc = vl_appender_new(client, o->topic, &opts, NULL, &o->app);
    if (o->rc != 0)
        snprintf(o->msg, sizeof o->msg, "%s", vl_client_errmsg(client));
}

static void s_open_done(void *arg)
{
    kp_open_t *o = arg;
    vl_kpart_t *part = o->kp->destroying ? NULL : zhashx_lookup(o->kp->parts, o->topic);
    if (!part) {
        vl_appender_destroy(&o->app);
        free(o);
        return;
    }
    part->app_opening = false;
    part->app = o->app;
    if (o->rc != 0) {
        if (o->rc == VL_ENOTOPIC)
            vl_kpart_gone(part);
        /* every call waiting fails; the next one tries again */
        kp_produce_t *op = part->waiting;
        part->waiting = NULL;
        part->waiting_tail = &part->waiting;
        while (op) {
            kp_produce_t *next = op->next;
            s_answer(op, vl_kparts_kerr(o->rc), -1, o->msg);
            op = next;
        }
    } else
        s_pump(part);
    free(o);
}

/*  The appender's callback (its thread): to the loop. */
static void s_produce_done(void *arg);
static void s_batch_cb(void *arg, int rc, uint64_t first_glsn, size_t committed, const char *msg)
{
    kp_produce_t *op = arg;
    op->rc = rc;
    op->first_glsn = first_glsn;
    op->committed = committed;
    if (rc != 0)
        snprintf(op->msg, sizeof op->msg, "produce: %s", msg);
    vl_kparts_post(op->part->kp, s_produce_done, op);
}

static void s_produce_done(void *arg)
{
    kp_produce_t *op = arg;
    vl_kpart_t *part = op->part;
    part->inflight_bytes -= op->bytes;
    part->inflight_entries -= op->n;
    if (part->kp->destroying) {
        s_answer(op, 0, 0, NULL);
        return;
    }
    bool idem = op->prod.producer_id >= 0;
    if (op->rc == 0) {
        vl_kpart_committed(part, op->first_glsn + op->n - 1);
        if (idem)
            s_seq_done(part, op, true, (int64_t)op->first_glsn - 1);
        s_answer(op, 0, (int64_t)op->first_glsn - 1, "");
    } else {
        if (op->committed > 0) {
            /* never with storage nodes that report whole batches only; the
               head is in the log, the client must not be told an offset
               for records that are not there: a storage error */
            vl_kpart_committed(part, op->first_glsn + op->committed - 1);
            if (op->committed == op->n)
                snprintf(op->msg + strlen(op->msg), sizeof op->msg - strlen(op->msg),
                         " (the batch's %zu records are in the log from offset %llu on, but "
                         "not at contiguous offsets: a storage node older than this gateway "
                         "split it; upgrade the storage nodes)",
                         op->n, (unsigned long long)op->first_glsn - 1);
            else
                snprintf(op->msg + strlen(op->msg), sizeof op->msg - strlen(op->msg),
                         " (the first %zu of the batch's %zu records are in the log at offset "
                         "%llu, the others not: a seal cut it on a storage node older than "
                         "this gateway; upgrade the storage nodes)",
                         op->committed, op->n, (unsigned long long)op->first_glsn - 1);
        }
        if (idem)
            s_seq_done(part, op, false, -1);
        /* the topic gone (or deleted and made again: the appender knows
           the old one's log streams only), no log stream took it: a new
           appender for the next call, once nothing is in flight */
        if (op->rc == VL_ENOTOPIC || op->rc == VL_EUNAVAIL || op->rc == VL_ESEALED ||
            op->rc == VL_ENOLS)
            part->app_stale = true;
        s_answer(op, op->committed > 0 ? KERR_KAFKA_STORAGE_ERROR : vl_kparts_kerr(op->rc), -1,
                 op->msg);
    }
    if (part->app_stale && part->inflight_entries == 0) {
        vl_appender_destroy(&part->app); /* nothing in flight: no wait */
        part->app_stale = false;
    }
    s_pump(part);
}

/*  Hands the waiting calls to the appender while it has room. */
static void s_pump(vl_kpart_t *part)
{
    vl_kparts_t *kp = part->kp;
    if (!part->waiting || part->looking)
        return;
    if (!part->app) {
        if (part->app_opening)
            return;
        part->app_opening = true;
        kp_open_t *o = vl_calloc(1, sizeof *o);
        o->kp = kp;
        snprintf(o->topic, sizeof o->topic, "%s", part->topic);
        vl_kparts_run_own(kp, s_open_work, s_open_done, o, true);
        return;
    }
    while (part->waiting) {
        kp_produce_t *op = part->waiting;
        if (part->app_stale)
            return; /* s_produce_done replaces it once nothing is in flight */
        if (part->inflight_entries > 0 &&
            (part->inflight_bytes + op->bytes > KP_MAX_INFLIGHT_BYTES ||
             part->inflight_entries + op->n > KP_MAX_INFLIGHT_ENTRIES))
            return; /* s_produce_done pumps again */
        bool idem = op->prod.producer_id >= 0;
        /* an id past those known: read the meta topic (again) first */
        bool unknown = idem && (!kp->pid_loaded || op->prod.producer_id >= kp->pid_known_end);
        if (unknown && (!op->pid_waited || kp->pid_busy)) {
            op->pid_waited = true;
            if (!kp->pid_busy)
                vl_kparts_pid_load(kp);
            return; /* vl_kparts_produce_pump_all goes on */
        }
        part->waiting = op->next;
        if (!part->waiting)
            part->waiting_tail = &part->waiting;
        op->next = NULL;
        if (unknown && !kp->pid_loaded) {
            s_answer(op, vl_kparts_kerr(kp->pid_rc), -1, kp->pid_msg);
            continue;
        }
        int check = idem ? s_check_seq(part, op) : S_APPEND;
        if (check == S_ANSWERED)
            continue;
        if (check == S_LOOKUP) {
            s_lookup(part, op); /* s_lookup_done pumps again */
            return;
        }
        const void **data = vl_malloc(op->n * sizeof *data);
        size_t at = 0;
        for (size_t i = 0; i < op->n; i++) {
            data[i] = op->buf + at;
            at += op->len[i];
        }
        part->inflight_bytes += op->bytes;
        part->inflight_entries += op->n;
        int rc = idem ? vl_appender_append_batch_named(
                            part->app, data, op->len, op->n,
                            s_name_client(op->prod.producer_id, op->prod.producer_epoch),
                            (uint64_t)(uint32_t)op->prod.base_sequence + 1, s_batch_cb, op)
                      : vl_appender_append_batch(part->app, data, op->len, op->n, s_batch_cb, op);
        free(data);
        if (rc == 0) {
            kp->stats.produce_batches++;
            kp->stats.produce_records += op->n;
        }
        if (rc != 0) {
            part->inflight_bytes -= op->bytes;
            part->inflight_entries -= op->n;
            if (idem)
                s_seq_done(part, op, false, -1);
            s_answer(op, vl_kparts_kerr(rc), -1, vl_client_errmsg(kp->client));
        }
    }
}

/*  After pid.c loaded the producer ids: the partitions waiting for them
    go on. */
void vl_kparts_produce_pump_all(vl_kparts_t *self)
{
    for (vl_kpart_t *part = zhashx_first(self->parts); part; part = zhashx_next(self->parts))
        if (part->waiting)
            s_pump(part);
}

void vl_kparts_produce(vl_kparts_t *self, const char *topic, const vl_kproducer_t *prod,
                       const void *const *data, const size_t *len, size_t n,
                       vl_kparts_produce_cb_t *cb, void *arg)
{
    vl_kpart_t *part = vl_kpart_get(self, topic);
    kp_produce_t *op = vl_calloc(1, sizeof *op);
    op->kp = self;
    op->part = part;
    op->cb = cb;
    op->arg = arg;
    op->n = n;
    op->prod = prod ? *prod : (vl_kproducer_t){.producer_id = -1};
    if (op->prod.producer_id < 0)
        op->prod.producer_id = -1;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += len[i];
    if (n == 0 || n > KP_MAX_BATCH_ENTRIES || total > KP_MAX_BATCH_BYTES) {
        int16_t kerr = n == 0 ? KERR_CORRUPT_MESSAGE : KERR_MESSAGE_TOO_LARGE;
        snprintf(op->msg, sizeof op->msg,
                 "produce topic=%s: a batch of %zu records and %llu bytes; a batch holds 1 to "
                 "%u records and at most %u bytes (send smaller batches: batch.size)",
                 topic, n, (unsigned long long)total, (unsigned)KP_MAX_BATCH_ENTRIES,
                 (unsigned)KP_MAX_BATCH_BYTES);
        s_answer(op, kerr, -1, op->msg);
        return;
    }
    op->bytes = (size_t)total;
    op->buf = vl_malloc(total ? total : 1);
    op->len = vl_malloc(n * sizeof *op->len);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(op->buf + at, data[i], len[i]);
        op->len[i] = len[i];
        at += len[i];
    }
    *part->waiting_tail = op;
    part->waiting_tail = &op->next;
    s_pump(part);
}

void vl_kparts_owner_epoch(vl_kparts_t *self, const char *topic, uint64_t view_epoch)
{
    vl_kpart_t *part = vl_kpart_get(self, topic);
    if (part->owner_epoch == view_epoch)
        return;
    if (part->owner_epoch != 0 && part->npstates > 0)
        vl_log(LOG_INFO,
               "produce topic=%s: the gateways' view moved from epoch %" PRIu64 " to %" PRIu64
               ": the next batch of each of %zu idempotent producer(s) is looked up in the log "
               "first (another gateway may have written some)",
               topic, part->owner_epoch, view_epoch, part->npstates);
    part->owner_epoch = view_epoch;
    for (size_t i = 0; i < part->npstates; i++) {
        part->pstates[i]->probe = true;
        part->pstates[i]->lenient = true;
    }
}

void vl_kpart_produce_free(vl_kpart_t *part)
{
    /* the appender's callbacks post to the loop: the caller drains them */
    vl_appender_destroy(&part->app);
    while (part->waiting) {
        kp_produce_t *op = part->waiting;
        part->waiting = op->next;
        s_op_free(op);
    }
    part->waiting_tail = &part->waiting;
    for (size_t i = 0; i < part->npstates; i++)
        free(part->pstates[i]);
    free(part->pstates);
    part->pstates = NULL;
    part->npstates = 0;
}
