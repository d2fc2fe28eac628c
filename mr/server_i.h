/*  server_i.h - private structures shared by the varlogmr actor's files.

    server.c   the actor: its loop, sockets and timers, the dispatch of
               requests, HELLO and REPORT, META, the life cycle
    admin.c    the admin operations: topics, log streams, storage nodes,
               seal, unseal, update, trim
    round.c    the commit rounds, and the resends of history to replicas
               behind
    lead.c     leadership: what the leader proposes (rounds grouped while
               one proposal is in flight, metadata changes), the requests
               that wait for a quiet state, taking and losing leadership
    fsm.c      the replicated state machine: the commands, and the
               engine's callbacks (apply, snapshot, restore, role)
    members.c  the MR's own membership: the replicated client endpoints
               of its replicas, and MR_STATUS, MR_ADD, MR_REMOVE,
               MR_TRANSFER

    All of them run on the actor's one thread, which also runs the
    consensus engine (raft.h), and share self_t.
*/
#ifndef VL_MR_SERVER_I_H
#define VL_MR_SERVER_I_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "metrics.h"
#include "persist.h"
#include "raft.h"
#include "server.h"
#include "state.h"
#include "wire.h"

#define S_RESEND_BATCH 64 /* commit ranges per resend pass */
#define S_MAX_ROUNDS 256  /* rounds in one proposal, at most */
#define S_MAX_MEMBERS 16  /* MR replicas named by --peers */

typedef struct {
    uint32_t sn_id;
    zframe_t *rid; /* its ZeroMQ routing id, from HELLO or REPORT */
    int64_t last_seen_us;
    uint32_t *round; /* its items of the round being sent, by index (s_send_round) */
    uint32_t nround, capround;
} s_peer_t;

/*  A request that needs the state to be quiet (memory equal to what is
    applied: no proposal in flight, no round waiting for one): a META
    reply (GET_META, STATUS, HELLO) or an admin operation. */
typedef struct {
    zframe_t *rid;
    vl_hdr_t hdr;
    uint32_t sn_id;  /* META: the receiver's sn id */
    bool admin;      /* else a META reply */
    vl_admin_t body; /* admin: the decoded request */
} s_waiter_t;

/*  An admin operation whose metadata change is being replicated: what to
    do once it is applied. */
typedef struct {
    zframe_t *rid;
    vl_hdr_t hdr;
    zmsg_t *reply;    /* sent once applied */
    uint32_t drop_sn; /* a removed storage node to forget as a peer (0: none) */
    int log_level;    /* and a line to log then */
    char note[256];
} s_admin_op_t;

/*  An MR replica's client endpoint (for the hint in "not the leader"
    replies, and META's member list): seeded from --peers, then
    replicated (members.c). */
typedef struct {
    uint64_t id;
    char endpoint[VL_WIRE_MAX_ADDR + 1];
} s_member_t;

/*  The membership change in flight (members.c). */
typedef struct s_member_op s_member_op_t;

typedef struct {
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *router;
    int port;
    int tfd;
    uint32_t tick_us;
    bool tick_armed;
    int64_t last_round_us;  /* when the last round was computed */
    uint64_t ticks, rounds; /* counted for the STATS pipe command (tests) */
    bool terminated;
    bool failed; /* the store cannot be read: the actor stops (vl_mr_server_reload) */
    uint32_t cluster_id;
    vl_mrstate_t *state;
    vl_persist_t *persist;
    s_peer_t *peers;
    size_t npeers, cappeers;
    uint32_t *peer_of; /* sn id -> index in peers + 1 (0: none), for ids < npeer_of */
    size_t npeer_of;
    vl_wbuf_t commit_buf; /* a COMMIT body, reused for every message */
    vl_wbuf_t round_buf;  /* the whole round's COMMIT body (s_send_round) */
    vl_persist_range_t resend[S_RESEND_BATCH];
    int64_t last_unregistered_log_us;
    /* consensus (lead.c, fsm.c) */
    vl_mrraft_t *raft;
    uint64_t raft_id;
    s_member_t members[S_MAX_MEMBERS];
    size_t nmembers;
    s_member_op_t *member_op; /* the membership change in flight, or NULL */
    bool handover_pending;    /* HANDOVER: leadership is being handed over (server.c) */
    int handover_timer;       /* its bound (zloop timer id), or -1 */
    int role;                 /* as the engine last reported it */
    uint64_t leader_id;       /* 0: unknown */
    bool serving;             /* the ROUTER is read (from the first role that knows a leader) */
    bool leading;             /* acting as leader: ticks run, memory may be ahead of the store */
    bool fencing;             /* a fence is in flight after a failed proposal (lead.c) */
    bool state_stale;         /* memory lags the store: rounds applied to the store only
                                 (fsm.c); reloaded before it is used */
    uint64_t lead_term;       /* the term it leads in */
    uint64_t gen;             /* bumped when leadership is taken or lost: older proposals' done
                                 callbacks find their rounds gone */
    vl_persist_batch_t *next_batch; /* the write of the rounds computed since the last proposal */
    vl_commit_t *next;              /* those rounds, applied in memory, in order */
    size_t nnext, capnext;
    vl_commit_t *flight; /* the rounds of the proposal in flight (sent once it is applied) */
    size_t nflight, capflight;
    bool rounds_proposed; /* a proposal of rounds is in flight */
    bool flight_sent;     /* its rounds' COMMITs went out (reset by each proposal) */
    s_admin_op_t *admin;  /* the admin operation in flight, or NULL */
    s_waiter_t *waiters;  /* requests waiting for a quiet state, in order */
    size_t nwaiters, capwaiters;
    vl_wbuf_t cmd_buf; /* a command being proposed */
    int64_t flight_us; /* when the proposal of rounds in flight was made */
    /* metrics (stats.c) */
    vl_metric_t *m_rounds, *m_entries, *m_proposal, *m_term, *m_leader, *m_role;
    vl_metric_t *m_commit_index, *m_applied_index, *m_last_index;
} self_t;

/*  ---- helpers of all three files (inline: a round calls them for every
    replica it advanced) ---------------------------------------------------- */

static inline s_peer_t *s_peer(self_t *self, uint32_t sn_id)
{
    /* a round looks up the SN of every replica it advanced: by index */
    if (sn_id >= self->npeer_of || self->peer_of[sn_id] == 0)
        return NULL;
    return &self->peers[self->peer_of[sn_id] - 1];
}

static inline void s_send(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    vl_wire_send_to(self->router, rid, msg_p); /* a lost one is recovered by retries */
}

/*  ---- server.c ------------------------------------------------------------ */

/*  Replies an error: status and a formatted text, and logs it. */
void vl_mr_server_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*  The header of the reply to req. */
vl_hdr_t vl_mr_server_reply_hdr(self_t *self, const vl_hdr_t *req);

/*  The reply to req with a body of one u32, id. Caller owns the result. */
zmsg_t *vl_mr_server_id_msg(self_t *self, const vl_hdr_t *req, uint32_t id);

/*  Replies with the metadata (its sn_id field set to sn_id). */
void vl_mr_server_reply_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t sn_id);

/*  Replies that this replica is not the leader, naming the leader (its
    client endpoint from --peers, else its raft address) when known: the
    request was not run, it may be sent again. VL_EUNAVAIL. */
void vl_mr_server_reply_not_leader(self_t *self, zframe_t *rid, const vl_hdr_t *req);

/*  Pushes the (just applied) metadata to every connected SN. */
void vl_mr_server_push_meta(self_t *self);

/*  Forgets storage node sn_id as a peer (it was removed). */
void vl_mr_server_peer_drop(self_t *self, uint32_t sn_id);

/*  Replaces the in-memory state with what the store holds (everything
    applied): when leadership changes, when a proposal failed, after a
    replicated metadata change or a snapshot was applied. Every replica is
    unsynced until its next full report. When the store cannot be read the
    actor stops (self->failed): memory may be ahead of what is applied. */
void vl_mr_server_reload(self_t *self);

/*  Arms the commit timer if the state is dirty and this replica leads. */
void vl_mr_server_tick_wake(self_t *self);

/*  Starts reading the ROUTER (once a leader is known at start). */
void vl_mr_server_serve(self_t *self);

/*  ---- admin.c ------------------------------------------------------------- */

/*  Takes an admin request (CREATE_TOPIC, DELETE_TOPIC, ADD_SN, REMOVE_SN,
    ADD_LS, TRIM, SEAL, UNSEAL, UPDATE_LS) from rid (body is its body):
    queued until the state is quiet (vl_mr_lead_wait). */
void vl_mr_admin_handle(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);

/*  Runs a queued admin request on the quiet state: replies at once, or
    proposes its metadata change (vl_mr_lead_propose_meta) and replies
    when that is applied. */
void vl_mr_admin_run(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a);

/*  ---- round.c ------------------------------------------------------------- */

/*  Computes one round, applies it in memory and adds it to the next
    proposal (vl_mr_lead_flush). False when there was nothing to commit
    (the state is then clean) or this replica does not lead, true when a
    round was made or must be tried at the next tick. */
bool vl_mr_round_commit(self_t *self);

/*  Sends the COMMITs of an applied round to the SNs of its log streams'
    replicas, and advances their durable and sent ends. */
void vl_mr_round_send(self_t *self, const vl_commit_t *round);

/*  Sends replica r of ls (on peer) the next batch of the history it lacks,
    unless a batch is in flight. */
void vl_mr_round_feed(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls, vl_mrstate_replica_t *r);

/*  The lag check, every heartbeat: resends what a replica stuck behind
    the committed end presumably lost. */
void vl_mr_round_resend(self_t *self);

/*  ---- lead.c -------------------------------------------------------------- */

/*  True when this replica leads now: it took leadership (the role
    callback) and the engine still says so, in the same term. When the
    engine no longer does, steps down first. */
bool vl_mr_lead_live(self_t *self);

/*  Takes leadership in term (the engine reported LEADER: every entry of
    earlier terms is applied): memory reloaded from the store, the commit
    tick started. */
void vl_mr_lead_begin(self_t *self, uint64_t term);

/*  Steps down (why is logged): the tick stops, rounds not yet applied are
    dropped, the admin operation in flight and the waiting requests are
    answered with a retryable error, memory is reloaded from the store. */
void vl_mr_lead_end(self_t *self, const char *why);

/*  Takes a round computed and applied in memory (its write is in
    self->next_batch) into the next proposal, and proposes at once unless
    a proposal is in flight. */
void vl_mr_lead_add_round(self_t *self, const vl_commit_t *round);

/*  Proposes the rounds computed since the last proposal, unless one is
    in flight. */
void vl_mr_lead_flush(self_t *self);

/*  The proposal of rounds in flight is committed (held by a majority):
    their COMMITs go out, once. fsm.c calls it as it applies the command,
    before this replica's store write, which only materializes what the
    raft log holds (a start replays it): the storage nodes do not wait for
    that write. The proposal's done callback calls it too. */
void vl_mr_lead_rounds_committed(self_t *self);

/*  True when memory equals what is applied: no proposal in flight, no
    round waiting for one (the leader's META, seal ends and trim checks
    need it). */
bool vl_mr_lead_quiet(self_t *self);

/*  True while requests wait for a quiet state: ticks compute no round. */
bool vl_mr_lead_waiting(self_t *self);

/*  Queues a request until the state is quiet (served at once when it
    is). Takes a copy of rid. */
void vl_mr_lead_wait(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, uint32_t sn_id,
                     const vl_admin_t *admin);

/*  Proposes an admin operation's metadata change (batch: taken) and keeps
    op (taken) until it is applied (then its reply, peer drop, log line
    and META push) or fails (then memory is reloaded and the request
    answered with a retryable error). */
void vl_mr_lead_propose_meta(self_t *self, vl_persist_batch_t **batch_p, s_admin_op_t **op_p);

/*  Every heartbeat: a leader that stepped down after a failed proposal
    while the engine kept it leader proposes a fence, and leads again once
    the fence is applied (everything before it is then applied too). */
void vl_mr_lead_heartbeat(self_t *self);

/*  Frees what lead.c holds (at stop: nothing is answered). */
void vl_mr_lead_free(self_t *self);

/*  ---- fsm.c --------------------------------------------------------------- */

/*  Commands: type u8, proposer raft id u64, term u64, then a store batch
    (vl_persist_batch_data's bytes). */
#define VL_MR_CMD_ROUNDS 1 /* commit rounds (their G records) */
#define VL_MR_CMD_META 2   /* a metadata change */
#define VL_MR_CMD_FENCE 3  /* nothing: applied, everything before it is */
#define VL_MR_CMD_MEMBERS                                                                          \
    4 /* not a store batch: the members' client endpoints,                                         \
         u32 n, {raft id u64, endpoint str} (members.c) */
#define VL_MR_CMD_HDR 17

/*  Encodes a command of this replica into self->cmd_buf. */
void vl_mr_fsm_encode(self_t *self, uint8_t type, const vl_persist_batch_t *batch);

/*  The engine's state machine callbacks (arg is self). */
extern const vl_mrraft_fsm_t vl_mr_fsm;

/*  Creates and starts this replica's engine on self->loop, with the raft
    log in cfg->data_dir/raft: the members from cfg->peers (or this replica
    alone), bootstrapped unless cfg->join or the log exists. The store and
    self->router must be open (the engine applies from here on). 0, or a
    VL_E* code with errbuf set. */
int vl_mr_fsm_start(self_t *self, const vl_mr_config_t *cfg, char *errbuf, size_t errbuf_size);

/*  ---- members.c ----------------------------------------------------------- */

/*  The client endpoint of raft member id (borrowed), or NULL. */
const char *vl_mr_members_endpoint(self_t *self, uint64_t id);

/*  Applies a VL_MR_CMD_MEMBERS command (the header included): the list
    replaces self->members. 0, or -1 (logged) when it is malformed. */
int vl_mr_members_apply(self_t *self, uint64_t index, const uint8_t *data, size_t len);

/*  Puts the member list before a snapshot of the store (*data_p, malloc'd,
    replaced). 0. */
int vl_mr_members_snapshot(self_t *self, uint8_t **data_p, size_t *len_p);

/*  Takes the member list off the front of a snapshot (when it has one:
    older snapshots do not) and points *data_p, *len_p at the store's
    part. 0, or -1 when the list is malformed. */
int vl_mr_members_restore(self_t *self, const uint8_t **data_p, size_t *len_p);

/*  Fills m->members (allocated; vl_meta_free frees it) with the voters
    whose endpoints are known. */
void vl_mr_members_meta(self_t *self, vl_meta_t *m);

/*  MR_STATUS, MR_ADD, MR_REMOVE, MR_TRANSFER, on the leader. */
void vl_mr_members_handle(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);

/*  Frees the change in flight (at stop: nothing is answered). */
void vl_mr_members_free(self_t *self);

/*  ---- stats.c ----------------------------------------------------------------- */

/*  Makes the series; counts an applied round; sets the raft gauges. */
void vl_mr_stats_init(self_t *self);
void vl_mr_stats_round(self_t *self, const vl_commit_t *round);
void vl_mr_stats_heartbeat(self_t *self);

#endif
