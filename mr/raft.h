/*  raft.h - the metadata repository's consensus engine: Debian's libraft
    (canonical raft 0.15) with its libuv log and TCP transport, driven from
    the MR actor's zloop on the same thread.

    The engine replicates opaque commands (the MR's commit rounds and
    metadata changes) and hands them back, in log order, to the state
    machine callbacks below, on every replica. One replica is a group of
    one: the same code path.

    What it adds to libraft, and why (0.15.0 defects fixed upstream later):
    - every command carries a header: its length, the hash of the previous
      command and its own hash (a chain). A replica whose chain breaks on
      apply has diverged (Raft's figure-8 case, which 0.15 can commit): it
      stops applying, logs why at LOG_CRIT and reports VL_MRRAFT_DIVERGED
      as its role, instead of serving different commits;
    - every command is padded to a multiple of 8 bytes (0.15 could corrupt
      unaligned entries that travel together in one AppendEntries);
    - TCP_NODELAY on every raft connection, both directions (0.15's TCP
      transport never sets it: 20+ ms per round without it);
    - a barrier when this replica becomes leader: the role callback reports
      VL_MRRAFT_LEADER only once every entry of earlier terms is applied
      (0.15 appends no no-op entry on election);
    - SIGPIPE ignored (a peer that died mid-write killed followers);
    - role changes found by polling raft_state() (0.15 has no callback).

    Threads: everything runs on the thread of the zloop given to
    vl_mrraft_new; nothing here is thread-safe (nor is libraft).
*/
#ifndef VL_MRRAFT_H
#define VL_MRRAFT_H
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Roles, as the role callback and vl_mrraft_role report them. */
typedef enum {
    VL_MRRAFT_UNAVAILABLE = 0, /* starting, or stopped */
    VL_MRRAFT_FOLLOWER,
    VL_MRRAFT_CANDIDATE, /* also a leader not serving yet (its barrier is not
                            applied) or handing over after a disk fault */
    VL_MRRAFT_LEADER,   /* and every entry of earlier terms is applied */
    VL_MRRAFT_DIVERGED, /* the command chain broke: this replica stopped */
} vl_mrraft_role_t;

/*  Member roles in the configuration (libraft's RAFT_STANDBY/VOTER/SPARE). */
typedef enum {
    VL_MRRAFT_VOTER = 0,
    VL_MRRAFT_STANDBY,
    VL_MRRAFT_SPARE,
} vl_mrraft_member_role_t;

typedef struct {
    uint64_t id;          /* >= 1 */
    char address[256];    /* its raft transport address, HOST:PORT */
    int role;             /* vl_mrraft_member_role_t */
    /* filled by vl_mrraft_members on the leader, 0 elsewhere: */
    uint64_t match_index; /* last log index known replicated there */
} vl_mrraft_member_t;

typedef struct {
    uint64_t id;                 /* this replica's raft id (>= 1) */
    const char *address;         /* HOST:PORT the transport binds and peers dial */
    const char *dir;             /* the raft log and snapshots (created if missing) */
    unsigned election_ms;        /* 0: 500 */
    unsigned heartbeat_ms;       /* 0: 50 */
    unsigned snapshot_threshold; /* commands between snapshots; 0: 16384 */
    unsigned snapshot_trailing;  /* entries kept behind a snapshot; 0: 4096 */
} vl_mrraft_opts_t;

/*  The state machine. Every callback runs on the loop's thread, from
    inside the engine (it may propose, it must not destroy the engine);
    arg is the one given to vl_mrraft_new. */
typedef struct {
    /*  A committed command, in log order, with its raft index (data is
        borrowed, len is the length proposed, padding removed). Called on
        every replica, the proposer included, after a restart again for
        the entries after the last snapshot: it must be idempotent (skip
        an index it already applied). Returns 0, or non-zero when the
        state cannot take it (the engine then stops applying: the replica
        reports VL_MRRAFT_DIVERGED). */
    int (*apply)(void *arg, uint64_t index, const uint8_t *data, size_t len);
    /*  The whole state as of the last applied command, as one buffer
        allocated with malloc (the engine frees it). Returns 0 or non-zero
        (the snapshot is skipped). */
    int (*snapshot)(void *arg, uint8_t **data_p, size_t *len_p);
    /*  Replaces the state with a snapshot taken at raft index `index` (at
        start, from disk, and when a leader installs one on a lagging
        replica). A state already past index may ignore it. 0 or non-zero. */
    int (*restore)(void *arg, uint64_t index, const uint8_t *data, size_t len);
    /*  The role changed (see vl_mrraft_role_t); leader_id is the current
        leader's id when known, else 0. */
    void (*role)(void *arg, int role, uint64_t term, uint64_t leader_id);
} vl_mrraft_fsm_t;

typedef struct vl_mrraft vl_mrraft_t;

/*  Creates the engine on loop (adds its poller and its 1 ms timer there,
    and makes the loop nonstop: zloop_set_nonstop) with the raft log in
    opts->dir. Does not start it. NULL with errbuf set on failure. Caller
    owns the result. A signal (libuv's handlers too) can still end
    zloop_start with an interrupted poll: call it again, as the MR's actor
    does. */
vl_mrraft_t *vl_mrraft_new(zloop_t *loop, const vl_mrraft_opts_t *opts,
                           const vl_mrraft_fsm_t *fsm, void *arg, char *errbuf,
                           size_t errbuf_size);

/*  Stops the engine (a pending proposal's done callback gets
    VL_MRRAFT_ESTOPPED: its outcome is unknown, the entry may be in the
    log and be applied later, after a restart or by the others) and frees
    it. NULL-safe. */
void vl_mrraft_destroy(vl_mrraft_t **self_p);

/*  Writes the first configuration: members[0..n) as voters. Only on a
    replica that has no raft state yet; true in *done_p when it did,
    false when state exists already (then nothing changes: not an error).
    0, or non-zero with errbuf set. Call before vl_mrraft_start. */
int vl_mrraft_bootstrap(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n,
                        bool *done_p, char *errbuf, size_t errbuf_size);

/*  Offline recovery of a group that lost its majority (libraft's
    raft_recover): appends to this replica's raft log a configuration of
    members[0..n) as voters, which it (and every replica recovered the
    same way) takes on its next start. Only on a replica with raft state,
    before vl_mrraft_start (the engine is then destroyed unstarted). 0, or
    non-zero with errbuf set. */
int vl_mrraft_recover(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n, char *errbuf,
                      size_t errbuf_size);

/*  Starts the engine: loads the raft log (restore, then apply of the
    entries after the snapshot run from here, synchronously or during the
    loop's first turns), then takes part in elections. A replica with no
    state and no bootstrap waits to be added by the leader (--join). 0, or
    non-zero with errbuf set. */
int vl_mrraft_start(vl_mrraft_t *self, char *errbuf, size_t errbuf_size);

/*  done(arg, status, index) of a proposal or a membership change: status
    0 when the entry was committed and applied (index is its raft index),
    else a VL_MRRAFT_E* code (index 0). VL_MRRAFT_ELEADERSHIP does not mean
    the entry is lost: a later leader may still commit it. */
typedef void(vl_mrraft_done_fn)(void *arg, int status, uint64_t index);

#define VL_MRRAFT_ENOTLEADER 1  /* this replica is not the leader */
#define VL_MRRAFT_ELEADERSHIP 2 /* leadership lost before the entry committed (also
                                   after a disk write failed here: the leader
                                   steps down, followers may still commit it) */
#define VL_MRRAFT_ESTOPPED 3    /* the engine is stopping or diverged (as
                                   with ELEADERSHIP, the entry may still be
                                   committed elsewhere or after a restart) */
#define VL_MRRAFT_EFAIL 4       /* anything else (see vl_mrraft_errmsg) */

/*  Proposes a command of len bytes (copied). The done callback runs once,
    after the command is applied here (so the state machine has seen it)
    or when it failed. Returns 0, or VL_MRRAFT_ENOTLEADER / _ESTOPPED /
    _EFAIL at once (done is then not called). */
int vl_mrraft_propose(vl_mrraft_t *self, const uint8_t *data, size_t len,
                      vl_mrraft_done_fn *done, void *arg);

/*  Membership (leader only, one change at a time; same returns as
    vl_mrraft_propose): add id at address as a spare, assign it a role
    (a standby or voter is caught up first), remove it, or transfer
    leadership to id (0: the most up-to-date voter). */
int vl_mrraft_add(vl_mrraft_t *self, uint64_t id, const char *address, vl_mrraft_done_fn *done,
                  void *arg);
int vl_mrraft_assign(vl_mrraft_t *self, uint64_t id, int role, vl_mrraft_done_fn *done, void *arg);
int vl_mrraft_remove(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg);
int vl_mrraft_transfer(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg);

/*  What this replica knows now. */
int vl_mrraft_role(vl_mrraft_t *self); /* vl_mrraft_role_t */
uint64_t vl_mrraft_id(vl_mrraft_t *self);
uint64_t vl_mrraft_term(vl_mrraft_t *self);
/* 0: unknown; *address_p (when not NULL) is borrowed until the loop runs again */
uint64_t vl_mrraft_leader(vl_mrraft_t *self, const char **address_p);
uint64_t vl_mrraft_last_index(vl_mrraft_t *self);
uint64_t vl_mrraft_commit_index(vl_mrraft_t *self);
uint64_t vl_mrraft_applied_index(vl_mrraft_t *self);

/*  The configuration's members (at most max) into out; returns how many
    there are (0 once the engine left the group: diverged). On the
    leader, match_index is filled. */
size_t vl_mrraft_members(vl_mrraft_t *self, vl_mrraft_member_t *out, size_t max);

/*  The last error's text (borrowed, valid until the next call). */
const char *vl_mrraft_errmsg(vl_mrraft_t *self);

/*  ---- the command codec (exposed for tests) ------------------------------ */

/*  Bytes of the header before a command's data. */
#define VL_MRRAFT_HDR 24

/*  The chained hash of a command: of prev and the data. */
uint64_t vl_mrraft_hash(uint64_t prev, const uint8_t *data, size_t len);

/*  Encodes a command: header (magic, len, prev, its hash), data, zero
    padding to a multiple of 8. Returns the malloc'd buffer (caller owns
    it) and its length in *out_len; *hash_p gets the command's hash. */
uint8_t *vl_mrraft_encode(uint64_t prev, const uint8_t *data, size_t len, size_t *out_len,
                          uint64_t *hash_p);

/*  Decodes buf (buf_len bytes, as raft delivered it): *data_p and *len_p
    point into buf, *prev_p and *hash_p are the header's. 0, or -1 when the
    header is malformed (bad magic, length past the buffer, padding not
    zero, the hash does not match the data). */
int vl_mrraft_decode(const uint8_t *buf, size_t buf_len, const uint8_t **data_p, size_t *len_p,
                     uint64_t *prev_p, uint64_t *hash_p);

#endif
