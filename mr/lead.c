/*  lead.c - leadership of the metadata repository: what the leader
    proposes, the requests that wait for a quiet state, and taking and
    losing leadership.

    Group commit: at most one proposal of commit rounds is in flight. The
    tick goes on computing rounds meanwhile (each applied in memory, so
    the next builds on it, and added to one store batch); when the
    proposal in flight is committed, its rounds' COMMITs are sent, in
    order (as fsm.c applies it, before this replica's store write: the
    raft log holds the rounds, and a start replays it into the store), and
    once it is applied the rounds computed since go out as the next
    proposal. So the tick
    never waits for consensus, and a proposal costs one raft log write
    (one fdatasync in a group of one) whatever the number of rounds in it.

    Quiet state: the leader's memory is ahead of its store while rounds or
    a metadata change are in flight. META replies (they show committed
    ends: only applied ones), admin operations (a metadata change is built
    from memory, seal ends and trim checks read the store's history) wait
    for a quiet state: memory equal to what is applied. While one waits,
    ticks compute no round; the rounds already computed are proposed, and
    once they are applied the requests are served in order. One admin
    operation is in flight at a time; it is answered, and META pushed to
    the SNs, once its change is applied.

    Losing leadership (the engine says another role, or applies a command
    this leader did not propose: vl_mr_lead_end) drops the rounds not yet
    applied (none was announced), answers the admin operation in flight
    and every waiting request with a retryable error, and reloads memory
    from the store (everything applied). A failed proposal is handled the
    same way; if the engine still says this replica leads (a failure that
    did not cost leadership), a fence command is proposed,
    and the replica leads again once it is applied: the entries before it
    (a failed proposal may still be committed) are then all applied to
    memory and the store alike.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "persist.h"
#include "raft.h"
#include "server_i.h"
#include "state.h"
#include "util.h"

/*  A proposal's done callback argument: done callbacks of proposals made
    before leadership changed (gen) find nothing to do. */
typedef struct {
    self_t *self;
    uint64_t gen;
} s_ctx_t;

static const char *s_status_str(self_t *self, int status)
{
    switch (status) {
    case VL_MRRAFT_ENOTLEADER:
        return "this replica is not the leader";
    case VL_MRRAFT_ELEADERSHIP:
        return "leadership was lost before it was committed";
    case VL_MRRAFT_ESTOPPED:
        return "the consensus engine stopped";
    default:
        return vl_mrraft_errmsg(self->raft);
    }
}

/*  Proposes a command of type with batch's bytes; 0 or a VL_MRRAFT_E*
    code (done is then not called). */
static int s_propose(self_t *self, uint8_t type, const vl_persist_batch_t *batch,
                     vl_mrraft_done_fn *done)
{
    vl_mr_fsm_encode(self, type, batch);
    s_ctx_t *ctx = vl_malloc(sizeof *ctx);
    ctx->self = self;
    ctx->gen = self->gen;
    int rc = vl_mrraft_propose(self->raft, self->cmd_buf.data, self->cmd_buf.len, done, ctx);
    if (rc != 0)
        free(ctx);
    return rc;
}

/*  Takes a done callback's argument: self, or NULL when the proposal is
    from before leadership changed or the actor is stopping. */
static self_t *s_done_self(void *arg)
{
    s_ctx_t *ctx = arg;
    self_t *self = ctx->self;
    uint64_t gen = ctx->gen;
    free(ctx);
    return self->terminated || gen != self->gen ? NULL : self;
}

/*  ---- the requests that wait ----------------------------------------------- */

/*  Serves the waiting requests while the state is quiet (an admin
    operation may make it busy again). */
static void s_serve(self_t *self)
{
    while (self->nwaiters > 0 && vl_mr_lead_quiet(self)) {
        s_waiter_t w = self->waiters[0];
        memmove(self->waiters, self->waiters + 1, --self->nwaiters * sizeof *self->waiters);
        if (w.admin)
            vl_mr_admin_run(self, w.rid, &w.hdr, &w.body);
        else
            vl_mr_server_reply_meta(self, w.rid, &w.hdr, w.sn_id);
        zframe_destroy(&w.rid);
    }
}

void vl_mr_lead_wait(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, uint32_t sn_id,
                     const vl_admin_t *admin)
{
    if (self->nwaiters == self->capwaiters) {
        self->capwaiters = self->capwaiters ? self->capwaiters * 2 : 8;
        self->waiters = vl_realloc(self->waiters, self->capwaiters * sizeof *self->waiters);
    }
    s_waiter_t *w = &self->waiters[self->nwaiters++];
    memset(w, 0, sizeof *w);
    w->rid = zframe_dup(rid);
    w->hdr = *hdr;
    w->sn_id = sn_id;
    if (admin) {
        w->admin = true;
        w->body = *admin;
    }
    s_serve(self);
}

bool vl_mr_lead_quiet(self_t *self)
{
    return self->leading && !self->rounds_proposed && self->nnext == 0 && !self->admin;
}

bool vl_mr_lead_waiting(self_t *self)
{
    return self->nwaiters > 0;
}

/*  After a proposal was applied: the rounds computed meanwhile go out,
    or, when there are none, the waiting requests are served; then the
    tick runs again if it paused for them. */
static void s_next(self_t *self)
{
    if (self->nnext > 0)
        vl_mr_lead_flush(self);
    else
        s_serve(self);
    vl_mr_server_tick_wake(self);
}

/*  ---- failures, fences ------------------------------------------------------ */

static void s_fence_done(void *arg, int status, uint64_t index)
{
    self_t *self = s_done_self(arg);
    if (!self || !self->fencing)
        return;
    self->fencing = false;
    if (status != 0) {
        vl_log(LOG_ERR,
               "mr: the fence after a failed proposal failed (%s); trying again in a second",
               s_status_str(self, status));
        return;
    }
    vl_log(LOG_NOTICE, "mr: fence applied at raft index %" PRIu64 "; leading again", index);
    if (vl_mrraft_role(self->raft) == VL_MRRAFT_LEADER &&
        vl_mrraft_term(self->raft) == self->lead_term)
        vl_mr_lead_begin(self, self->lead_term);
}

/*  Proposes a fence when the engine says this replica leads but it
    stepped down after a failed proposal. */
static void s_fence(self_t *self)
{
    if (self->leading || self->fencing || self->terminated ||
        vl_mrraft_role(self->raft) != VL_MRRAFT_LEADER ||
        vl_mrraft_term(self->raft) != self->lead_term)
        return;
    vl_persist_batch_t *empty = vl_persist_batch_new();
    int rc = s_propose(self, VL_MR_CMD_FENCE, empty, s_fence_done);
    vl_persist_batch_destroy(&empty);
    if (rc == 0)
        self->fencing = true;
    else
        vl_log(LOG_ERR, "mr: proposing a fence: %s; trying again in a second",
               s_status_str(self, rc));
}

static int s_fence_timer(zloop_t *loop, int timer_id, void *arg)
{
    s_fence(arg);
    return 0;
}

/*  A proposal failed: what it changed in memory goes, and so does
    leadership until a fence shows everything before it applied. The fence
    is proposed from the loop, not from here: a proposal's callback may run
    inside libraft while it steps down (its state still says leader, its
    leader state is being torn down), and a proposal from there crashed
    varlogmr (chaos.sh, four times after cut links). */
static void s_failed(self_t *self, const char *what, int status)
{
    char why[512];
    snprintf(why, sizeof why, "%s failed: %s", what, s_status_str(self, status));
    vl_mr_lead_end(self, why);
    if (zloop_timer(self->loop, 1, 1, s_fence_timer, self) < 0)
        vl_log(LOG_ERR, "mr: cannot schedule the fence; the heartbeat proposes it within a second");
}

void vl_mr_lead_heartbeat(self_t *self)
{
    if (self->role == VL_MRRAFT_LEADER)
        s_fence(self);
}

/*  ---- rounds ------------------------------------------------------------------- */

static void s_rounds_free(vl_commit_t *rounds, size_t *n_p)
{
    for (size_t i = 0; i < *n_p; i++)
        vl_commit_free(&rounds[i]);
    *n_p = 0;
}

static void s_rounds_done(void *arg, int status, uint64_t index)
{
    self_t *self = s_done_self(arg);
    if (!self)
        return; /* its rounds were dropped when leadership changed */
    if (status != 0) {
        self->rounds_proposed = false;
        s_failed(self, "a proposal of commit rounds", status);
        return;
    }
    /* applied: held by a majority, in every replica's store from now on
       (its COMMITs went out already when fsm.c applied it, unless it was
       applied elsewhere than through fsm.c's hook) */
    vl_mr_lead_rounds_committed(self);
    self->rounds_proposed = false;
    s_rounds_free(self->flight, &self->nflight);
    s_next(self);
}

void vl_mr_lead_rounds_committed(self_t *self)
{
    if (!self->rounds_proposed || self->flight_sent)
        return;
    self->flight_sent = true;
    vl_metric_observe_us(self->m_proposal, vl_now_us() - self->flight_us);
    for (size_t i = 0; i < self->nflight; i++) {
        self->rounds++;
        vl_mr_stats_round(self, &self->flight[i]);
        vl_mr_round_send(self, &self->flight[i]);
    }
}

void vl_mr_lead_add_round(self_t *self, const vl_commit_t *round)
{
    if (self->nnext == self->capnext) {
        self->capnext = self->capnext ? self->capnext * 2 : 16;
        self->next = vl_realloc(self->next, self->capnext * sizeof *self->next);
    }
    self->next[self->nnext++] = *round;
    vl_mr_lead_flush(self);
}

void vl_mr_lead_flush(self_t *self)
{
    if (!self->leading || self->rounds_proposed || self->nnext == 0)
        return;
    int rc = s_propose(self, VL_MR_CMD_ROUNDS, self->next_batch, s_rounds_done);
    vl_persist_batch_destroy(&self->next_batch);
    if (rc != 0) {
        s_failed(self, "proposing commit rounds", rc);
        return;
    }
    /* the next rounds become the ones in flight (the arrays swap) */
    vl_commit_t *flight = self->flight;
    size_t cap = self->capflight;
    self->flight = self->next;
    self->capflight = self->capnext;
    self->nflight = self->nnext;
    self->next = flight;
    self->capnext = cap;
    self->nnext = 0;
    self->rounds_proposed = true;
    self->flight_sent = false;
    self->flight_us = vl_now_us();
}

/*  ---- metadata changes ------------------------------------------------------------ */

static void s_admin_free(s_admin_op_t **op_p)
{
    s_admin_op_t *op = *op_p;
    if (!op)
        return;
    zframe_destroy(&op->rid);
    zmsg_destroy(&op->reply);
    free(op);
    *op_p = NULL;
}

static void s_meta_done(void *arg, int status, uint64_t index)
{
    self_t *self = s_done_self(arg);
    if (!self || !self->admin)
        return; /* answered when leadership changed */
    if (status != 0) {
        s_failed(self, "a proposal of a metadata change", status); /* answers it */
        return;
    }
    s_admin_op_t *op = self->admin;
    self->admin = NULL;
    if (op->note[0])
        vl_log(op->log_level, "%s", op->note);
    s_send(self, op->rid, &op->reply);
    if (op->drop_sn)
        vl_mr_server_peer_drop(self, op->drop_sn);
    vl_mr_server_push_meta(self);
    s_admin_free(&op);
    s_next(self);
}

void vl_mr_lead_propose_meta(self_t *self, vl_persist_batch_t **batch_p, s_admin_op_t **op_p)
{
    s_admin_op_t *op = *op_p;
    *op_p = NULL;
    int rc = s_propose(self, VL_MR_CMD_META, *batch_p, s_meta_done);
    vl_persist_batch_destroy(batch_p);
    if (rc == 0) {
        self->admin = op;
        return;
    }
    /* memory holds the change: it goes with leadership */
    s_failed(self, "proposing a metadata change", rc);
    vl_mr_server_reply_error(self, op->rid, &op->hdr, VL_EUNAVAIL,
                             "%s: the metadata repository could not replicate the change (%s); "
                             "retry",
                             vl_wire_type_name(op->hdr.type), s_status_str(self, rc));
    s_admin_free(&op);
}

/*  ---- taking and losing leadership ------------------------------------------------ */

bool vl_mr_lead_live(self_t *self)
{
    if (!self->leading)
        return false;
    if (vl_mrraft_role(self->raft) == VL_MRRAFT_LEADER &&
        vl_mrraft_term(self->raft) == self->lead_term)
        return true;
    vl_mr_lead_end(self, "the consensus engine no longer reports this replica as the leader");
    return false;
}

void vl_mr_lead_begin(self_t *self, uint64_t term)
{
    if (self->leading && self->lead_term == term)
        return;
    if (self->leading)
        vl_mr_lead_end(self, "a new term began");
    self->fencing = false;
    /* the store holds everything applied, and every entry of earlier
       terms is applied: memory starts from it, every replica unsynced
       until its next full report */
    vl_mr_server_reload(self);
    self->leading = true;
    self->lead_term = term;
    self->gen++;
    vl_log(LOG_NOTICE,
           "mr: leading in term %" PRIu64 " from raft index %" PRIu64 ": version=%" PRIu64
           " topics=%zu log streams=%zu",
           term, vl_persist_applied(self->persist), vl_mrstate_version(self->state),
           vl_mrstate_topic_count(self->state), vl_mrstate_ls_count(self->state));
    s_next(self);
}

void vl_mr_lead_end(self_t *self, const char *why)
{
    bool was = self->leading || self->fencing;
    self->leading = false;
    self->fencing = false;
    self->gen++;
    /* nothing of these was announced */
    vl_persist_batch_destroy(&self->next_batch);
    s_rounds_free(self->next, &self->nnext);
    s_rounds_free(self->flight, &self->nflight);
    self->rounds_proposed = false;
    if (self->admin) {
        s_admin_op_t *op = self->admin;
        self->admin = NULL;
        vl_mr_server_reply_error(self, op->rid, &op->hdr, VL_EUNAVAIL,
                                 "%s: leadership of the metadata repository changed before the "
                                 "change was applied; retry (it may have been applied after all)",
                                 vl_wire_type_name(op->hdr.type));
        s_admin_free(&op);
    }
    /* the waiting requests were not run: a refusal, they may go again */
    for (size_t i = 0; i < self->nwaiters; i++) {
        vl_mr_server_reply_not_leader(self, self->waiters[i].rid, &self->waiters[i].hdr);
        zframe_destroy(&self->waiters[i].rid);
    }
    self->nwaiters = 0;
    vl_mr_server_reload(self);
    if (was)
        vl_log(LOG_NOTICE,
               "mr: no longer leading (term %" PRIu64 "): %s; state reloaded: version=%" PRIu64,
               self->lead_term, why, vl_mrstate_version(self->state));
}

void vl_mr_lead_free(self_t *self)
{
    vl_persist_batch_destroy(&self->next_batch);
    s_rounds_free(self->next, &self->nnext);
    s_rounds_free(self->flight, &self->nflight);
    free(self->next);
    free(self->flight);
    s_admin_free(&self->admin);
    for (size_t i = 0; i < self->nwaiters; i++)
        zframe_destroy(&self->waiters[i].rid);
    free(self->waiters);
}
