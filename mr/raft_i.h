/*  raft_i.h - the consensus engine's logic without I/O (private to
    mr/raft.c, mr/raft_core.c and their tests).

    vl_mrraft_core_t is everything the engine adds to libraft that does not
    need libuv: the adapter from the MR's vl_mrraft_fsm_t to libraft's
    struct raft_fsm (the command chain check, the snapshot header that
    carries the chain across snapshots and restarts) and the leader side
    (the barrier before acting as leader, proposals chained to the last
    one, stepping down after a disk write failed, role changes found by
    polling). It works on any struct raft: the engine's (libuv log and TCP
    transport, mr/raft.c) or one of a raft_fixture's in-process servers,
    where the tests drive it deterministically.

    Use: vl_mrraft_core_init, hand &core->fsm to raft_init (or
    raft_fixture_grow), vl_mrraft_core_bind the struct raft, then call
    vl_mrraft_core_poll after every turn of the raft instance's I/O (every
    uv_run, every raft_fixture_step). To stop: vl_mrraft_core_stop, close
    the raft instance (its callbacks then report VL_MRRAFT_ESTOPPED), then
    vl_mrraft_core_fini.
*/
#ifndef VL_MRRAFT_I_H
#define VL_MRRAFT_I_H
/* libraft's raft.h by way of raft/uv.h, which includes it relative to
   itself: a plain <raft.h> would find this directory's raft.h first when
   -I mr is on the command line (the MR's tests) */
#include <raft/uv.h>
#include "raft.h"

/*  Bytes of the header the engine puts before the state machine's bytes in
    every snapshot: magic, reserved, the raft index the snapshot was taken
    at, the hash of the last command applied by then. */
#define VL_MRRAFT_SNAP_HDR 24

/*  Commands longer than this are refused (the header's length is 32 bits;
    libraft holds whole entries in memory and sends them in one message). */
#define VL_MRRAFT_MAX_CMD (256u << 20)

typedef struct vl_mrraft_req vl_mrraft_req_t;

typedef struct {
    struct raft_fsm fsm; /* give to raft_init / raft_fixture_grow */
    struct raft *raft;   /* bound by vl_mrraft_core_bind (borrowed) */
    vl_mrraft_fsm_t ops; /* the state machine */
    void *arg;
    char who[32]; /* "mr[ID]": every log line starts with it */

    /* the apply side: the chain as applied here */
    uint64_t applied_index; /* raft index of the last command applied */
    uint64_t applied_hash;  /* its hash (0 before the first command) */
    bool diverged;          /* the chain broke or the state refused: stopped */
    uint8_t snap_hdr[VL_MRRAFT_SNAP_HDR];
    struct raft_buffer snap_bufs[2]; /* the snapshot in progress (header, state) */

    /* the leader side */
    uint64_t tail_hash;  /* hash of the last command proposed here */
    uint64_t ready_term; /* the term whose barrier applied: LEADER in it */
    bool barrier_pending;
    uint64_t barrier_term;
    struct raft_barrier barrier;
    bool transfer_pending; /* stepping down after a disk write failed */
    struct raft_transfer step_down;
    uint64_t retry_at;     /* no barrier before this time (raft io ms) */
    bool stopping;         /* callbacks report VL_MRRAFT_ESTOPPED, no role calls */
    vl_mrraft_req_t *reqs; /* proposals and changes libraft still holds */

    /* what the role callback was last told */
    int role;
    uint64_t term;
    uint64_t leader_id;

    char errmsg[512];
} vl_mrraft_core_t;

/*  Sets core up for the state machine ops (copied; arg is passed to its
    callbacks) of replica id. */
void vl_mrraft_core_init(vl_mrraft_core_t *core, uint64_t id, const vl_mrraft_fsm_t *ops,
                         void *arg);

/*  The raft instance core->fsm was given to (after raft_init). */
void vl_mrraft_core_bind(vl_mrraft_core_t *core, struct raft *raft);

/*  Looks at the raft instance after it ran: issues the barrier of a new
    leader, reports a changed role (or term, or leader) to the role
    callback, fails the pending requests of a diverged replica. */
void vl_mrraft_core_poll(vl_mrraft_core_t *core);

/*  The role as vl_mrraft_role reports it (live, not the last reported). */
int vl_mrraft_core_role(vl_mrraft_core_t *core);

/*  As vl_mrraft_propose, _add, _assign, _remove, _transfer (raft.h). */
int vl_mrraft_core_propose(vl_mrraft_core_t *core, const uint8_t *data, size_t len,
                           vl_mrraft_done_fn *done, void *arg);
int vl_mrraft_core_add(vl_mrraft_core_t *core, uint64_t id, const char *address,
                       vl_mrraft_done_fn *done, void *arg);
int vl_mrraft_core_assign(vl_mrraft_core_t *core, uint64_t id, int role, vl_mrraft_done_fn *done,
                          void *arg);
int vl_mrraft_core_remove(vl_mrraft_core_t *core, uint64_t id, vl_mrraft_done_fn *done, void *arg);
int vl_mrraft_core_transfer(vl_mrraft_core_t *core, uint64_t id, vl_mrraft_done_fn *done,
                            void *arg);

/*  From now on every request libraft still holds (and every later one)
    ends with VL_MRRAFT_ESTOPPED, and the role callback is not called any
    more. Call before closing the raft instance. */
void vl_mrraft_core_stop(vl_mrraft_core_t *core);

/*  Frees what is left once the raft instance is closed. */
void vl_mrraft_core_fini(vl_mrraft_core_t *core);

/*  Encodes a command into out (vl_mrraft_encoded_len(len) bytes): what
    vl_mrraft_encode does, into a buffer the caller chose. Returns its
    hash. */
size_t vl_mrraft_encoded_len(size_t len);
uint64_t vl_mrraft_encode_into(uint8_t *out, uint64_t prev, const uint8_t *data, size_t len);

#endif
