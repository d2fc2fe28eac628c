/*  server_i.h - private structures shared by the varlogmr actor's files.

    server.c   the actor: its loop, sockets and timers, the dispatch of
               requests, HELLO and REPORT, META, the life cycle
    admin.c    the admin operations: topics, log streams, storage nodes,
               seal, unseal, update, trim
    round.c    the commit rounds, the writer thread that makes them
               durable, and the resends of history to replicas behind

    All three run on the actor's one thread (the writer thread shares
    nothing with them but its pipe) and share self_t.
*/
#ifndef VL_MR_SERVER_I_H
#define VL_MR_SERVER_I_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "persist.h"
#include "state.h"
#include "wire.h"

#define S_RESEND_BATCH 64 /* commit ranges per resend pass */
#define S_MAX_INFLIGHT 64 /* rounds written but not yet durable */

typedef struct {
    uint32_t sn_id;
    zframe_t *rid; /* its ZeroMQ routing id, from HELLO or REPORT */
    int64_t last_seen_us;
    uint32_t *round; /* its items of the round being sent, by index (s_send_round) */
    uint32_t nround, capround;
} s_peer_t;

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
    int64_t last_store_error_us;
    int64_t last_unregistered_log_us;
    zactor_t *writer;                     /* writes the commit rounds (vl_mr_round_writer_actor) */
    vl_commit_t inflight[S_MAX_INFLIGHT]; /* handed to the writer, in order */
    size_t inflight_head, ninflight;
    uint32_t writer_jobs;  /* rounds the writer has not answered yet */
    bool writer_failed;    /* a round's write failed: nothing is sent */
    bool writer_resetting; /* RESET sent, its answer not yet in */
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

/*  Replies with a body of one u32, id. */
void vl_mr_server_reply_id(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t id);

/*  Pushes the (just persisted) metadata to every connected SN. */
void vl_mr_server_push_meta(self_t *self);

/*  Forgets storage node sn_id as a peer (it was removed). */
void vl_mr_server_peer_drop(self_t *self, uint32_t sn_id);

/*  Replaces the in-memory state with what the store holds: used when a
    metadata write failed, so that memory never runs ahead of the disk. */
void vl_mr_server_reload(self_t *self);

/*  ---- admin.c ------------------------------------------------------------- */

/*  Handles an admin request (CREATE_TOPIC, DELETE_TOPIC, ADD_SN, REMOVE_SN,
    ADD_LS, TRIM, SEAL, UNSEAL, UPDATE_LS) from rid; body is its body. */
void vl_mr_admin_handle(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);

/*  ---- round.c ------------------------------------------------------------- */

/*  The writer thread's actor function; args is the vl_persist_t *. */
void vl_mr_round_writer_actor(zsock_t *pipe, void *args);

/*  Handles one answer of the writer. */
void vl_mr_round_writer_answer(self_t *self);

/*  After a failed write, once the writer has answered every round: asks it
    for a synced write (when that works the state is reloaded). */
void vl_mr_round_writer_reset(self_t *self);

/*  Waits until no round is in flight and the store is known good; false
    when the store is failing. */
bool vl_mr_round_drain(self_t *self);

/*  Computes one round and hands it to the writer. False when there was
    nothing to commit (the state is then clean), true when a round went to
    the writer or must be tried at the next tick. */
bool vl_mr_round_commit(self_t *self);

/*  Sends replica r of ls (on peer) the next batch of the history it lacks,
    unless a batch is in flight. */
void vl_mr_round_feed(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls, vl_mrstate_replica_t *r);

/*  The lag check, every heartbeat: resends what a replica stuck behind
    the committed end presumably lost. */
void vl_mr_round_resend(self_t *self);

#endif
