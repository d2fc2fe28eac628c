/*  round.c - the commit rounds of the metadata repository, and the resends
    of history to replicas behind.

    A round is computed on the tick, applied in memory at once (the next
    tick builds on it) and its write added to the next proposal (lead.c:
    rounds computed while one proposal is in flight go out together as
    the next). Its COMMITs are sent only once the proposal holding it is
    applied: held by a majority of the MR's replicas and written to the
    store. So the tick never waits for consensus, and no SN hears of a
    round that could be forgotten. The metadata the MR shows (META, seal
    ends, trim checks) waits for a quiet state (lead.c), so it never shows
    a round that is not applied.

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

/*  ---- commit rounds ---------------------------------------------------------- */

/*  A COMMIT body as wire.h lays it out: term u64, version u64, n u32,
    then n items of a fixed size (two u32, seven u64). */
#define S_COMMIT_HDR 20
#define S_COMMIT_ITEM 64

/*  Sends each connected SN the items of an applied round for the log
    streams it hosts, and advances the log streams' durable ends and the replicas'
    sent ends where the commit follows what they were sent before (a
    replica further behind ignores it and is caught up by
    vl_mr_round_resend). One pass over the items notes each in the list of
    each of its replicas' SNs (items x rf work, not SNs x items lookups);
    the round is encoded once, and each SN's message is made of its items'
    encoded bytes, so an item is encoded once whatever the replication
    factor. */
void vl_mr_round_send(self_t *self, const vl_commit_t *round)
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
    vl_commit_encode(round, &self->round_buf); /* the items only are used */
    assert(self->round_buf.len == S_COMMIT_HDR + (size_t)round->n * S_COMMIT_ITEM);
    const uint8_t *items = self->round_buf.data + S_COMMIT_HDR;
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .request_id = 0, .cluster_id = self->cluster_id};
    for (size_t p = 0; p < self->npeers; p++) {
        s_peer_t *peer = &self->peers[p];
        if (peer->nround == 0)
            continue;
        vl_wbuf_t *b = &self->commit_buf;
        b->len = 0;
        vl_wbuf_u64(b, self->lead_term);
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

/*  Computes one round, applies it in memory and adds it to the next
    proposal (lead.c); its COMMITs go out once it is committed. Returns
    false when there was nothing to commit (the state is then clean) or
    this replica does not lead (the timer stops), true when a round was
    made or must be tried at the next tick (requests wait for a quiet
    state, or the next proposal is full: the state stays dirty). */
bool vl_mr_round_commit(self_t *self)
{
    if (!vl_mr_lead_live(self))
        return false;
    if (vl_mr_lead_waiting(self) || self->admin || self->nnext >= S_MAX_ROUNDS)
        return true;
    vl_commit_t round;
    if (vl_mrstate_commit_compute(self->state, &round) == 0) {
        vl_commit_free(&round);
        vl_mrstate_clear_dirty(self->state);
        return false;
    }
    /* built from the state before the round (its checkpoints add the
       round's items), then applied: the next round continues from it */
    if (!self->next_batch)
        self->next_batch = vl_persist_batch_new();
    vl_persist_commit_batch_add(self->persist, self->next_batch, self->state, &round);
    vl_mrstate_commit_apply(self->state, &round);
    /* the round took every log stream up to its replicas' minimum end:
       nothing more until a report raises one */
    vl_mrstate_clear_dirty(self->state);
    vl_mr_lead_add_round(self, &round);
    return true;
}

/*  ---- resends ---------------------------------------------------------------- */

/*  c->term is this leader's: a resend of an old range carries the version
    that committed it, and the term of the leader sending it now. */
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
        vl_commit_t c = {.term = self->lead_term,
                         .version = self->resend[i].version,
                         .n = 1,
                         .items = &self->resend[i].item};
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
