/*  round.c - the commit rounds of the metadata repository, the writer
    thread that makes them durable, and the resends of history to replicas
    behind.

    Commit rounds are written by a writer thread (handlers never
    block on disk), and pipelined: the loop computes round N, builds its
    write, applies it in memory and hands the write to the writer; the
    next tick may compute N+1 from that state while N is being synced. The
    writer writes whatever rounds are queued, the last one synced (which
    makes the ones before it durable too), and reports the last version
    written; only then does the loop send those rounds' COMMITs, in order.
    So the tick is not held up by the fsync, and a round is still never
    announced before it is durable. The metadata the MR shows (META, seal
    ends, trim checks) and the metadata writes wait until no round is in
    flight (vl_mr_round_drain; admin operations are rare and a sync is
    short), so they never show or persist a round that is not durable. If
    the writer fails, no later round is written or sent; once the writer
    has answered every round in flight and a synced write succeeds again,
    the state is reloaded from the store (what is durable) and rounds
    resume.

    Resends: each replica remembers up to where commits were sent to it
    (sent_llsn_end, state.h). A replica that says HELLO, or that the MR has
    not heard since it started, is re-synced from its first report:
    sent_llsn_end = its applied end. When it is behind the committed end
    and nothing is in flight, the missing ranges are read from the history
    and sent in bounded batches; when its applied end has not moved for a
    second while behind, whatever was in flight is presumed lost and sent
    again. The next batch goes out when the replica's report shows the last
    one applied; the lag check runs on the heartbeat (it need not look at
    every replica every tick).
*/
#include <assert.h>
#include <inttypes.h>
#include "log.h"
#include "persist.h"
#include "server_i.h"
#include "state.h"
#include "util.h"
#include "wire.h"

#define S_LAG_US (1 * 1000000) /* resend what is in flight after 1 s */
#define S_WRITER_BATCH 256     /* rounds the writer syncs at once, at most */

/*  ---- commit rounds ---------------------------------------------------------- */

/*  A COMMIT body as wire.h lays it out: version u64, n u32, then n items
    of a fixed size (two u32, seven u64). */
#define S_COMMIT_HDR 12
#define S_COMMIT_ITEM 64

/*  Sends each connected SN the items of the round for the log streams it
    hosts, and advances the log streams' durable ends and the replicas'
    sent ends where the commit follows what they were sent before (a
    replica further behind ignores it and is caught up by
    vl_mr_round_resend). One pass over the items notes each in the list of
    each of its replicas' SNs (items x rf work, not SNs x items lookups);
    the round is encoded once, and each SN's message is made of its items'
    encoded bytes, so an item is encoded once whatever the replication
    factor. */
static void s_send_round(self_t *self, const vl_commit_t *round)
{
    for (size_t p = 0; p < self->npeers; p++)
        self->peers[p].nround = 0;
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        if (vl_log_level >= LOG_DEBUG)
            vl_log(LOG_DEBUG,
                   "mr: version=%" PRIu64 " topic=%u ls=%u llsn=%" PRIu64 " glsn=%" PRIu64
                   " count=%" PRIu64 " offset=%" PRIu64 " bytes=%" PRIu64,
                   round->version, c->topic_id, c->ls_id, c->llsn_begin, c->glsn_begin, c->count,
                   c->offset_begin, c->bytes);
        vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self->state, c->ls_id);
        if (!ls)
            continue;
        uint64_t end = c->llsn_begin + c->count - 1;
        ls->durable_llsn_end = end;
        for (uint32_t k = 0; k < ls->nrep; k++) {
            vl_mrstate_replica_t *r = &ls->replicas[k];
            s_peer_t *peer = s_peer(self, r->sn_id);
            if (!peer || !peer->rid)
                continue;
            if (peer->nround == peer->capround) {
                peer->capround = peer->capround ? peer->capround * 2 : 64;
                peer->round = vl_realloc(peer->round, peer->capround * sizeof *peer->round);
            }
            peer->round[peer->nround++] = i;
            if (r->synced && r->sent_llsn_end + 1 == c->llsn_begin)
                r->sent_llsn_end = end;
        }
    }
    self->round_buf.len = 0;
    vl_commit_encode(round, &self->round_buf);
    assert(self->round_buf.len == S_COMMIT_HDR + (size_t)round->n * S_COMMIT_ITEM);
    const uint8_t *items = self->round_buf.data + S_COMMIT_HDR;
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .request_id = 0, .cluster_id = self->cluster_id};
    for (size_t p = 0; p < self->npeers; p++) {
        s_peer_t *peer = &self->peers[p];
        if (peer->nround == 0)
            continue;
        vl_wbuf_t *b = &self->commit_buf;
        b->len = 0;
        vl_wbuf_u64(b, round->version);
        vl_wbuf_u32(b, peer->nround);
        /* runs of consecutive items in one copy (with rf 3 on 3 SNs, the
           whole round) */
        for (uint32_t j = 0; j < peer->nround;) {
            uint32_t first = peer->round[j], last = first;
            for (j++; j < peer->nround && peer->round[j] == last + 1; j++)
                last++;
            vl_wbuf_mem(b, items + (size_t)first * S_COMMIT_ITEM,
                        (size_t)(last - first + 1) * S_COMMIT_ITEM);
        }
        zmsg_t *msg = vl_wire_msg(&h, b);
        s_send(self, peer->rid, &msg);
    }
}

/*  ---- the writer thread --------------------------------------------------------

    Pipe protocol: the loop sends "W" + batch pointer (ownership passes) +
    version per round, and "RESET" after a failure; the writer answers "D"
    + last version + number of rounds + status + error text for each group
    of rounds it wrote, and "R" + 0 + 0 + status + error text for a RESET. */

void vl_mr_round_writer_actor(zsock_t *pipe, void *args)
{
    vl_persist_t *persist = args;
    zsock_signal(pipe, 0);
    bool failed = false, term = false;
    char err[512] = "";
    vl_persist_batch_t *batch[S_WRITER_BATCH];
    while (!term) {
        char *cmd = NULL;
        void *ptr = NULL;
        uint64_t version = 0;
        if (zsock_recv(pipe, "sp8", &cmd, &ptr, &version) != 0)
            break;
        if (!cmd || streq(cmd, "$TERM")) {
            free(cmd);
            break;
        }
        if (streq(cmd, "RESET")) {
            int rc = vl_persist_sync(persist, err, sizeof err);
            failed = rc != 0;
            zsock_send(pipe, "s844s", "R", (uint64_t)0, (uint32_t)0, (uint32_t)rc, rc ? err : "");
            free(cmd);
            continue;
        }
        /* "W": take every round queued behind it too, and sync once */
        size_t n = 0;
        uint64_t last = version;
        batch[n++] = ptr;
        free(cmd);
        while (n < S_WRITER_BATCH && (zsock_events(pipe) & ZMQ_POLLIN)) {
            if (zsock_recv(pipe, "sp8", &cmd, &ptr, &version) != 0 || !cmd || !streq(cmd, "W")) {
                term = true; /* only $TERM comes while rounds are queued */
                free(cmd);
                break;
            }
            free(cmd);
            batch[n++] = ptr;
            last = version;
        }
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (failed) {
                /* no round after a failed one is written: it was
                   computed on top of it */
                vl_persist_batch_destroy(&batch[i]);
                continue;
            }
            rc = vl_persist_write(persist, &batch[i], i + 1 == n, err, sizeof err);
            if (rc != 0)
                failed = true;
        }
        zsock_send(pipe, "s844s", "D", last, (uint32_t)n, (uint32_t)(failed ? VL_ESTORE : 0),
                   failed ? err : "");
    }
    /* rounds still queued at $TERM were never announced: drop them */
    while (zsock_events(pipe) & ZMQ_POLLIN) {
        char *cmd = NULL;
        void *ptr = NULL;
        if (zsock_recv(pipe, "sp8", &cmd, &ptr, NULL) != 0)
            break;
        if (cmd && streq(cmd, "W") && ptr) {
            vl_persist_batch_t *b = ptr;
            vl_persist_batch_destroy(&b);
        }
        free(cmd);
    }
}

static void s_store_error(self_t *self, uint64_t version, const char *err)
{
    int64_t now = vl_now_us();
    if (now - self->last_store_error_us > 1000000) {
        vl_log(LOG_ERR, "mr: version=%" PRIu64 " not committed: %s", version, err);
        self->last_store_error_us = now;
    }
}

/*  Sends the oldest round in flight, now durable, and forgets it. */
static void s_inflight_send(self_t *self)
{
    vl_commit_t *round = &self->inflight[self->inflight_head];
    self->rounds++;
    s_send_round(self, round);
    vl_commit_free(round);
    self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
    self->ninflight--;
}

/*  After a failed write, once the writer has answered every round: ask it
    for a synced write; when that works the store holds exactly what is
    durable and the state is reloaded from it. */
void vl_mr_round_writer_reset(self_t *self)
{
    if (!self->writer_failed || self->writer_jobs > 0 || self->writer_resetting)
        return;
    zstr_send(self->writer, "RESET");
    self->writer_resetting = true;
}

/*  Handles one answer of the writer. */
void vl_mr_round_writer_answer(self_t *self)
{
    char *kind = NULL, *err = NULL;
    uint64_t last = 0;
    uint32_t n = 0, status = 0;
    if (zsock_recv(self->writer, "s844s", &kind, &last, &n, &status, &err) != 0)
        return;
    if (kind && streq(kind, "D")) {
        self->writer_jobs -= n <= self->writer_jobs ? n : self->writer_jobs;
        if (status == 0 && !self->writer_failed) {
            while (self->ninflight > 0 && self->inflight[self->inflight_head].version <= last)
                s_inflight_send(self);
        } else {
            s_store_error(self, last, err && err[0] ? err : "the store failed");
            self->writer_failed = true;
            /* nothing in flight is announced: the reload forgets it */
            while (self->ninflight > 0) {
                vl_commit_free(&self->inflight[self->inflight_head]);
                self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
                self->ninflight--;
            }
        }
        vl_mr_round_writer_reset(self);
    } else if (kind && streq(kind, "R")) {
        self->writer_resetting = false;
        if (status == 0) {
            vl_log(LOG_NOTICE, "mr: the store works again; reloading the state from it");
            vl_mr_server_reload(self);
            self->writer_failed = false;
        } else {
            /* tried again at the next heartbeat */
            s_store_error(self, vl_mrstate_version(self->state), err ? err : "sync failed");
        }
    }
    free(kind);
    free(err);
}

/*  Waits until no round is in flight and the store is known good: before
    anything that shows or persists the metadata (META, admin operations),
    so that they never show or write a round that is not durable. Blocks
    the loop for at most a synced write or two. Returns false when the
    store is failing. */
bool vl_mr_round_drain(self_t *self)
{
    while (self->writer_jobs > 0 || self->writer_failed) {
        vl_mr_round_writer_reset(self);
        bool resetting = self->writer_resetting;
        zpoller_t *poller = zpoller_new(zactor_sock(self->writer), NULL);
        void *which = zpoller_wait(poller, 10000);
        zpoller_destroy(&poller);
        if (!which)
            return false; /* the writer is stuck on the disk */
        vl_mr_round_writer_answer(self);
        if (resetting && !self->writer_resetting && self->writer_failed)
            return false; /* the sync failed: the store is still failing */
    }
    return true;
}

/*  Computes one round, applies it in memory and hands its write to the
    writer; its COMMITs go out when the writer reports it durable
    (vl_mr_round_writer_answer). Returns false when there was nothing to
    commit (the state is then clean), true when a round went to the writer
    or must be tried at the next tick (too many in flight, or the store is
    failing: the state stays dirty). */
bool vl_mr_round_commit(self_t *self)
{
    if (self->ninflight >= S_MAX_INFLIGHT || self->writer_failed)
        return true;
    vl_commit_t round;
    if (vl_mrstate_commit_compute(self->state, &round) == 0) {
        vl_commit_free(&round);
        vl_mrstate_clear_dirty(self->state);
        return false;
    }
    /* built from the state before the round (its checkpoints add the
       round's items), then applied: the next round continues from it */
    vl_persist_batch_t *batch = vl_persist_commit_batch(self->persist, self->state, &round);
    vl_mrstate_commit_apply(self->state, &round);
    /* the round took every log stream up to its replicas' minimum end:
       nothing more until a report raises one */
    vl_mrstate_clear_dirty(self->state);
    uint64_t version = round.version;
    self->inflight[(self->inflight_head + self->ninflight) % S_MAX_INFLIGHT] = round;
    self->ninflight++;
    self->writer_jobs++;
    if (zsock_send(self->writer, "sp8", "W", (void *)batch, version) != 0) {
        /* cannot happen (inproc pipe); treat it as a failed write */
        vl_persist_batch_destroy(&batch);
        self->writer_jobs--;
        s_store_error(self, version, "cannot hand the round to the writer thread");
        self->writer_failed = true;
        while (self->ninflight > 0) {
            vl_commit_free(&self->inflight[self->inflight_head]);
            self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
            self->ninflight--;
        }
        vl_mr_round_writer_reset(self);
    }
    return true;
}

/*  ---- resends ---------------------------------------------------------------- */

static void s_send_commit(self_t *self, zframe_t *rid, const vl_commit_t *c)
{
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .request_id = 0, .cluster_id = self->cluster_id};
    /* one buffer for all: vl_wire_msg copies the body into the message */
    self->commit_buf.len = 0;
    vl_commit_encode(c, &self->commit_buf);
    zmsg_t *msg = vl_wire_msg(&h, &self->commit_buf);
    s_send(self, rid, &msg);
}

/*  Sends replica r of ls the next batch of ranges after its sent end. */
static void s_resend_batch(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls,
                           vl_mrstate_replica_t *r)
{
    char err[512];
    size_t n = 0;
    if (vl_persist_ranges(self->persist, ls->topic_id, ls->id, r->sent_llsn_end + 1, self->resend,
                          S_RESEND_BATCH, &n, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "mr: sn=%u ls=%u resend: %s", r->sn_id, ls->id, err);
        return;
    }
    vl_log(LOG_DEBUG, "mr: sn=%u ls=%u resending %zu ranges from llsn=%" PRIu64, r->sn_id, ls->id,
           n, r->sent_llsn_end + 1);
    for (size_t i = 0; i < n; i++) {
        /* a replica stores a commit only for entries it holds (a replica
           being synced gets its entries in pieces): send no range past its
           reported end, the next report brings the rest */
        if (self->resend[i].item.llsn_begin + self->resend[i].item.count - 1 > r->llsn_end)
            break;
        /* one message per range: each keeps the version that committed it */
        vl_commit_t c = {
            .version = self->resend[i].version, .n = 1, .items = &self->resend[i].item};
        s_send_commit(self, peer->rid, &c);
        uint64_t end = self->resend[i].item.llsn_begin + self->resend[i].item.count - 1;
        if (end > r->sent_llsn_end)
            r->sent_llsn_end = end;
    }
}

/*  Sends replica r of ls (on peer) the next batch of the history it lacks,
    unless a batch is in flight: one at a time, so a far-behind replica is
    fed at the pace it applies and never flooded. Called for each replica a
    REPORT names (its applied end may have moved) and from the heartbeat. */
void vl_mr_round_feed(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls, vl_mrstate_replica_t *r)
{
    /* the durable end: rounds in flight are not in the history yet, and
       go out by themselves when they are */
    if (!r->synced || r->applied_llsn_end >= ls->durable_llsn_end || !peer || !peer->rid)
        return;
    if (r->sent_llsn_end < r->applied_llsn_end)
        r->sent_llsn_end = r->applied_llsn_end;
    if (r->sent_llsn_end >= ls->durable_llsn_end || r->sent_llsn_end > r->applied_llsn_end ||
        r->sent_llsn_end >= r->llsn_end)
        return;
    s_resend_batch(self, peer, ls, r);
}

/*  The lag check, every heartbeat: a replica behind the committed end
    whose applied end has not moved since the last heartbeat (a second) is
    presumed to have lost what was in flight, which is sent again. */
void vl_mr_round_resend(self_t *self)
{
    int64_t now = vl_now_us();
    size_t nls = vl_mrstate_ls_count(self->state);
    for (size_t i = 0; i < nls; i++) {
        vl_mrstate_ls_t *ls = vl_mrstate_ls_at(self->state, i);
        for (uint32_t k = 0; k < ls->nrep; k++) {
            vl_mrstate_replica_t *r = &ls->replicas[k];
            if (!r->synced)
                continue;
            if (r->applied_llsn_end >= ls->durable_llsn_end) {
                r->lag_since_us = 0;
                continue;
            }
            s_peer_t *peer = s_peer(self, r->sn_id);
            if (!peer || !peer->rid)
                continue;
            /* heartbeats come S_HEARTBEAT_MS apart, give or take the
               loop's latency: a lag seen at two of them in a row is a
               second old (a tenth of slack so that a heartbeat a little
               early does not wait for the next one) */
            if (r->lag_since_us == 0 || r->lag_applied != r->applied_llsn_end) {
                r->lag_applied = r->applied_llsn_end;
                r->lag_since_us = now;
            } else if (now - r->lag_since_us >= S_LAG_US - S_LAG_US / 10) {
                vl_log(LOG_INFO,
                       "mr: sn=%u ls=%u applied=%" PRIu64 " stuck behind committed=%" PRIu64
                       " for 1 s; resending",
                       r->sn_id, ls->id, r->applied_llsn_end, ls->durable_llsn_end);
                r->sent_llsn_end = r->applied_llsn_end;
                r->lag_since_us = now;
            }
            vl_mr_round_feed(self, peer, ls, r);
        }
    }
}
