/*  group.h - Kov's consumer-group coordinator (no sockets, loop thread only).

    Kafka's group membership protocol and committed offsets, as a module
    the gateway's loop thread drives: the wire handlers (kov/join_group.c,
    kov/offset_commit.c, ...) decode a request into the structs below,
    call vl_kgroup_<api> and encode what its callback hands back; a timer
    calls vl_kgroup_tick so that rebalance and session timeouts pass.

    States of a group (Kafka's): Empty (no members; may hold offsets),
    PreparingRebalance (a JoinGroup started a rebalance: waiting until
    every known member rejoined or the rebalance timeout passed),
    CompletingRebalance (JoinGroup answered, waiting for the leader's
    SyncGroup), Stable (assignments handed out), Dead (being removed).
    Member ids are "<client_id>-<uuid>"; the protocol chosen is the first
    of the leader's protocols that every member supports.

    Durability: committed offsets and the group metadata of each completed
    rebalance are records appended through a vl_kgroup_store_t (kov/
    offsets.c keeps them in the varlog topic "__kov_offsets"; the unit
    tests use an in-memory twin). An OffsetCommit, the SyncGroup that
    completes a rebalance and a DeleteGroups are answered only after their
    record is committed; vl_kgroup_load replays the records at start.
    Every vl_kgroup_opts_t.snapshot_every records the whole state is
    appended as a snapshot and the records before the previous snapshot
    are trimmed. The record format is in doc/KOV.md ("Consumer groups").

    Callbacks: every API answers through a callback with the request's
    arg. It may run inside the call (answers that need nothing more) or
    later, from vl_kgroup_tick, from another API call or from a store
    completion; exactly once, unless vl_kgroup_forget drops it. Strings
    and arrays in answers are borrowed: valid during the callback only.
    Strings in requests are NUL-terminated and copied when kept.
*/
#ifndef VL_KOV_GROUP_H
#define VL_KOV_GROUP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kerr.h"

typedef struct vl_kgroup vl_kgroup_t;

/*  ---- persistence ----------------------------------------------------------- */

/*  A record's append finished: rc 0 and its GLSN when committed, or a VL_E*
    code. Runs on the loop thread, never inside the append call, in the
    order of the appends. */
typedef void(vl_kgroup_stored_fn)(void *arg, int rc, uint64_t glsn);

/*  One record met on replay; returns 0 or a VL_E* code, which stops it. */
typedef int(vl_kgroup_record_fn)(void *arg, uint64_t glsn, const uint8_t *data, size_t len);

typedef struct {
    void *ctx;
    /*  Appends one record (copied); records are committed in the order of
        the calls, then done(arg, ...). */
    void (*append)(void *ctx, const uint8_t *data, size_t len, vl_kgroup_stored_fn *done,
                   void *arg);
    /*  Deletes every record below glsn (in the background; best effort: a
        record left behind is replayed and then overridden by the snapshot
        that follows it). */
    void (*trim)(void *ctx, uint64_t glsn);
    /*  Calls fn for every record kept, in order, and returns 0, fn's
        error, or a VL_E* code with errbuf saying what failed. Blocking. */
    int (*replay)(void *ctx, vl_kgroup_record_fn *fn, void *fnarg, char *errbuf,
                  size_t errbuf_size);
} vl_kgroup_store_t;

typedef struct {
    int32_t min_session_timeout_ms; /* default 1000 (Kafka: 6000) */
    int32_t max_session_timeout_ms; /* default 1800000 */
    int32_t max_metadata_bytes;     /* offset metadata, default 4096 */
    uint32_t snapshot_every;        /* records between snapshots, default 1000 */
    size_t snapshot_chunk_bytes;    /* largest snapshot record, default 512 KiB */
    int64_t (*clock_ms)(void);      /* monotonic ms; default the system's */
} vl_kgroup_opts_t;

/*  A coordinator storing through store (copied; its ctx must outlive the
    coordinator). opts may be NULL. Caller owns the result. */
vl_kgroup_t *vl_kgroup_new(const vl_kgroup_store_t *store, const vl_kgroup_opts_t *opts);

/*  Frees (NULL-safe); pending callbacks are not run (vl_kgroup_forget
    semantics: the caller frees their arguments). */
void vl_kgroup_destroy(vl_kgroup_t **self_p);

/*  Rebuilds the state from the store's records (call once, before any
    API call). Returns 0, or a VL_E* code with errbuf saying which record
    (GLSN) was refused and why; the state is then as it was before that
    record. Members restored from the log get a fresh session timeout. */
int vl_kgroup_load(vl_kgroup_t *self, char *errbuf, size_t errbuf_size);

/*  Expires members whose session timed out and completes rebalances
    whose timeout passed. now_ms on the clock of opts.clock_ms. */
void vl_kgroup_tick(vl_kgroup_t *self, int64_t now_ms);

/*  Several gateways (kov/gw.h): while inactive (another gateway is the
    coordinator) every API answers NOT_COORDINATOR (ListGroups: no group)
    and the timer does nothing; vl_kgroup_idle says whether no record is
    in flight (the gateway then replaces the coordinator with a fresh
    replay when it becomes the coordinator again). */
void vl_kgroup_set_active(vl_kgroup_t *self, bool active);
bool vl_kgroup_idle(vl_kgroup_t *self);

/*  Drops every pending callback whose arg is arg (its connection closed). */
void vl_kgroup_forget(vl_kgroup_t *self, void *arg);

/*  ---- membership -------------------------------------------------------------- */

typedef struct {
    const char *name;
    const uint8_t *metadata;
    size_t metadata_len;
} vl_kgroup_proto_t;

typedef struct {
    const char *group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: pass session_timeout_ms */
    const char *member_id;        /* "" for a new member */
    const char *client_id;        /* the request header's (NULL: "") */
    const char *client_host;      /* "/127.0.0.1" */
    const char *protocol_type;    /* "consumer" */
    size_t nprotocols;
    const vl_kgroup_proto_t *protocols;
    bool require_member_id; /* v4+: a new member gets MEMBER_ID_REQUIRED */
} vl_kgroup_join_t;

typedef struct {
    const char *member_id;
    const uint8_t *metadata;
    size_t metadata_len;
} vl_kgroup_member_meta_t;

typedef struct {
    int16_t error;
    int32_t generation_id; /* -1 on error */
    const char *protocol_type;
    const char *protocol_name; /* "" on error */
    const char *leader;        /* "" on error */
    const char *member_id;     /* the member's, also with MEMBER_ID_REQUIRED */
    size_t nmembers;           /* the leader only: every member */
    const vl_kgroup_member_meta_t *members;
} vl_kgroup_joined_t;

typedef void(vl_kgroup_join_cb)(void *arg, const vl_kgroup_joined_t *res);
void vl_kgroup_join(vl_kgroup_t *self, const vl_kgroup_join_t *req, vl_kgroup_join_cb *cb,
                    void *arg);

typedef struct {
    const char *member_id;
    const uint8_t *assignment;
    size_t assignment_len;
} vl_kgroup_assignment_t;

typedef struct {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *protocol_type; /* v5+; NULL: not checked */
    const char *protocol_name; /* v5+; NULL: not checked */
    size_t nassignments;       /* the leader's */
    const vl_kgroup_assignment_t *assignments;
} vl_kgroup_sync_t;

/*  error, and the member's assignment (len 0 when none or on error). */
typedef void(vl_kgroup_sync_cb)(void *arg, int16_t error, const char *protocol_type,
                                const char *protocol_name, const uint8_t *assignment,
                                size_t assignment_len);
void vl_kgroup_sync(vl_kgroup_t *self, const vl_kgroup_sync_t *req, vl_kgroup_sync_cb *cb,
                    void *arg);

/*  Heartbeat: 0, REBALANCE_IN_PROGRESS (rejoin), UNKNOWN_MEMBER_ID,
    ILLEGAL_GENERATION. Answered inside the call. */
int16_t vl_kgroup_heartbeat(vl_kgroup_t *self, const char *group_id, int32_t generation_id,
                            const char *member_id);

/*  LeaveGroup of n members (v0-2: n = 1): errors[i] for member_ids[i]
    (UNKNOWN_MEMBER_ID or 0); returns the group-level error
    (UNKNOWN_MEMBER_ID when the group is unknown, COORDINATOR_NOT_AVAILABLE
    while it is being deleted, else 0). */
int16_t vl_kgroup_leave(vl_kgroup_t *self, const char *group_id, const char *const *member_ids,
                        size_t n, int16_t *errors);

/*  ---- offsets ------------------------------------------------------------------- */

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1: none */
    const char *metadata; /* NULL: null */
} vl_kgroup_offset_t;

typedef struct {
    const char *group_id;
    int32_t generation_id; /* -1: a simple commit (group without members) */
    const char *member_id;
    size_t n;
    const vl_kgroup_offset_t *offsets;
} vl_kgroup_commit_t;

/*  errors[i] for req->offsets[i] (n of them). */
typedef void(vl_kgroup_commit_cb)(void *arg, const int16_t *errors, size_t n);
void vl_kgroup_commit(vl_kgroup_t *self, const vl_kgroup_commit_t *req, vl_kgroup_commit_cb *cb,
                      void *arg);

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;       /* -1: none committed */
    int32_t leader_epoch; /* -1: none */
    const char *metadata; /* NULL: null ("" when none committed) */
    int16_t error;
} vl_kgroup_fetched_t;

typedef struct {
    const char *topic;
    size_t npartitions;
    const int32_t *partitions;
} vl_kgroup_fetch_topic_t;

/*  OffsetFetch of the given topics' partitions, or of every committed
    partition of the group when topics is NULL (v2+: a null array). The
    answer lists partitions in the order asked (all: by topic, partition). */
typedef void(vl_kgroup_fetch_cb)(void *arg, int16_t error, const vl_kgroup_fetched_t *parts,
                                 size_t n);
void vl_kgroup_fetch(vl_kgroup_t *self, const char *group_id, const vl_kgroup_fetch_topic_t *topics,
                     size_t ntopics, vl_kgroup_fetch_cb *cb, void *arg);

/*  ---- administration ------------------------------------------------------------ */

typedef struct {
    const char *member_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /* for the chosen protocol */
    size_t metadata_len;
    const uint8_t *assignment;
    size_t assignment_len;
} vl_kgroup_member_desc_t;

typedef struct {
    int16_t error;
    const char *group_id;
    const char *state; /* "Empty", "PreparingRebalance", "CompletingRebalance",
                          "Stable", "Dead" (unknown group: "Dead", error 0) */
    const char *protocol_type;
    const char *protocol_name;
    int32_t generation_id;
    size_t nmembers;
    const vl_kgroup_member_desc_t *members;
} vl_kgroup_desc_t;

/*  Calls cb once per group id, in order. */
typedef void(vl_kgroup_describe_cb)(void *arg, const vl_kgroup_desc_t *desc);
void vl_kgroup_describe(vl_kgroup_t *self, const char *const *group_ids, size_t n,
                        vl_kgroup_describe_cb *cb, void *arg);

typedef struct {
    const char *group_id;
    const char *protocol_type;
    const char *state;
} vl_kgroup_listed_t;

/*  Every group, sorted by id. */
typedef void(vl_kgroup_list_cb)(void *arg, const vl_kgroup_listed_t *groups, size_t n);
void vl_kgroup_list(vl_kgroup_t *self, vl_kgroup_list_cb *cb, void *arg);

/*  DeleteGroups: errors[i] for group_ids[i]: 0 (its offsets and metadata
    deleted, durably), GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, INVALID_GROUP_ID
    or COORDINATOR_NOT_AVAILABLE (the store failed). */
typedef void(vl_kgroup_delete_cb)(void *arg, const int16_t *errors, size_t n);
void vl_kgroup_delete(vl_kgroup_t *self, const char *const *group_ids, size_t n,
                      vl_kgroup_delete_cb *cb, void *arg);

/*  ---- inspection ---------------------------------------------------------------- */

/*  A canonical text of the durable state (groups sorted, their generation,
    protocol, leader, members and assignments as last stored, offsets sorted)
    so that tests compare a replayed coordinator with the live one. Caller
    frees. */
char *vl_kgroup_dump(vl_kgroup_t *self);

/*  Counters: records appended, snapshots completed, the GLSN of the last
    snapshot (0: none). */
typedef struct {
    uint64_t records;
    uint64_t snapshots;
    uint64_t snapshot_glsn;
    uint64_t replayed;
} vl_kgroup_stats_t;
void vl_kgroup_stats(vl_kgroup_t *self, vl_kgroup_stats_t *stats);

#endif
