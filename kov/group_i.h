/*  group_i.h - the consumer-group coordinator's shared state (private).

    group.c holds the coordinator, groups and membership (JoinGroup,
    SyncGroup, Heartbeat, LeaveGroup, timeouts); group_offsets.c committed
    offsets and the administrative APIs (OffsetCommit, OffsetFetch,
    DescribeGroups, ListGroups, DeleteGroups); group_rec.c the records of
    the log: their encoding, their validation on replay, applying them,
    snapshots and the queue of appends in flight.

    The durable state is what the records say: a group's offsets (applied
    when their record is committed, by decoding that very record, so a
    replay applies the same bytes the same way) and the body of the last
    GROUP record committed for it (kg_group_t.meta). Membership in memory
    runs ahead of the log between rebalances, as in Kafka.
*/
#ifndef VL_KOV_GROUP_I_H
#define VL_KOV_GROUP_I_H
#include <czmq.h>
#include "group.h"

enum {
    KG_EMPTY,
    KG_PREPARING,
    KG_COMPLETING,
    KG_STABLE,
    KG_DEAD,
};

typedef struct {
    char *name;
    uint8_t *meta;
    size_t len;
} kg_proto_t;

typedef struct kg_member {
    struct kg_member *next; /* in join order */
    char *id;
    char *client_id;
    char *client_host;
    int32_t session_ms;
    int32_t rebalance_ms;
    size_t nprotos;
    kg_proto_t *protos;
    uint8_t *assignment;
    size_t assignment_len;
    int64_t deadline;           /* session expiry */
    bool awaiting_join;         /* a JoinGroup waits for the rebalance */
    vl_kgroup_join_cb *join_cb; /* its answer (NULL: forgotten) */
    void *join_arg;
    bool answer_join;   /* its JoinGroup is to be answered (s_complete_join) */
    bool awaiting_sync; /* a SyncGroup waits for the assignment */
    vl_kgroup_sync_cb *sync_cb;
    void *sync_arg;
} kg_member_t;

/*  A member id handed out with MEMBER_ID_REQUIRED, not joined yet. */
typedef struct kg_pending {
    struct kg_pending *next;
    char *id;
    int64_t deadline;
} kg_pending_t;

typedef struct {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* NULL: null */
    int64_t commit_ms;
} kg_offset_t;

typedef struct {
    char *id;
    int state;
    int32_t generation;
    char *protocol_type; /* "" when none */
    char *protocol;      /* "" when none */
    char *leader;        /* "" when none */
    kg_member_t *members;
    size_t nmembers;
    kg_pending_t *pending;
    int64_t rebalance_deadline;
    zhashx_t *offsets; /* "partition:topic" -> kg_offset_t */
    uint8_t *meta;     /* body of the last GROUP record committed */
    size_t meta_len;
    bool syncing; /* the leader's assignment is being stored */
} kg_group_t;

/*  A record appended and not yet committed. */
typedef struct kg_op {
    struct kg_op *next;
    vl_kgroup_t *self;
    int type;      /* KG_REC_* */
    uint8_t *data; /* the record */
    size_t len;
    char *group_id;
    int32_t generation; /* GROUP: the generation it stores */
    /* the answer to send once committed */
    vl_kgroup_commit_cb *commit_cb;
    vl_kgroup_delete_cb *delete_cb;
    void *arg;
    int16_t *errors; /* commit: per offset; delete: per group */
    size_t nerrors;
    size_t delete_index; /* delete: which of errors this record answers */
    struct kg_delete *del;
    bool held; /* waiting for a snapshot to be appended first */
} kg_op_t;

/*  A DeleteGroups answered when the last of its tombstones is committed. */
typedef struct kg_delete {
    vl_kgroup_delete_cb *cb;
    void *arg;
    int16_t *errors;
    size_t n;
    size_t waiting;
} kg_delete_t;

struct vl_kgroup {
    vl_kgroup_store_t store;
    vl_kgroup_opts_t opts;
    zhashx_t *groups; /* id -> kg_group_t */
    int64_t now;
    /* appends in flight (in order) and those held behind a snapshot */
    kg_op_t *inflight, *inflight_tail;
    size_t ninflight;
    kg_op_t *held, *held_tail;
    uint64_t since_snapshot; /* records appended since the last snapshot */
    bool snapshot_due;
    uint32_t snapshot_chunks;    /* of the snapshot in flight (0: none) */
    uint64_t prev_snapshot_glsn; /* first record of the last complete snapshot */
    uint64_t snap_first_glsn;    /* of the snapshot in flight */
    vl_kgroup_stats_t stats;
    bool loading;
    bool inactive; /* another gateway coordinates: every API answers NOT_COORDINATOR */
    /* replay: a snapshot being read (its chunks must be consecutive) */
    zhashx_t *shadow;
    uint64_t shadow_id;
    uint32_t shadow_next, shadow_count;
    uint64_t shadow_glsn;
    char errbuf[320];
};

/*  record types */
enum {
    KG_REC_OFFSETS = 1,
    KG_REC_GROUP = 2,
    KG_REC_TOMBSTONE = 3,
    KG_REC_SNAPSHOT = 4,
};
#define KG_REC_MAGIC "KOVG"
#define KG_REC_VERSION 1
#define KG_REC_HDR 10 /* magic 4, version 1, type 1, body length 4 */

/*  group.c */
kg_group_t *kg_group_get(zhashx_t *groups, const char *id, bool create);
void kg_group_free(kg_group_t **g_p);
void kg_groups_destructor(void **item);
const char *kg_state_name(int state);
void kg_member_free(kg_member_t **m_p);
kg_member_t *kg_member_find(kg_group_t *g, const char *id);
void kg_offset_free(kg_offset_t **o_p);
void kg_offsets_destructor(void **item);

/*  group_rec.c: encoding (a growable buffer) */
typedef struct {
    uint8_t *p;
    size_t len, cap;
} kg_buf_t;
void kg_buf_free(kg_buf_t *b);
/*  A GROUP record of g as it stands (members, their chosen protocol's
    metadata and their assignments). */
void kg_rec_group(kg_buf_t *b, const kg_group_t *g);
void kg_rec_offsets(kg_buf_t *b, const char *group_id, const vl_kgroup_offset_t *offsets,
                    const int16_t *skip, size_t n, int64_t now);
void kg_rec_tombstone(kg_buf_t *b, const char *group_id);

/*  Validates record data[0..len) and applies it to groups (all or
    nothing); 0 or VL_EPROTO / VL_EVERSION with errbuf. live: the record
    was just committed by this coordinator (a GROUP record then only
    becomes the group's stored metadata; membership is already there). */
int kg_rec_apply(vl_kgroup_t *self, zhashx_t *groups, const uint8_t *data, size_t len, bool live,
                 char *errbuf, size_t errbuf_size);

/*  Replay of one record of the log (snapshots included). */
int kg_rec_replay(void *arg, uint64_t glsn, const uint8_t *data, size_t len);

/*  Appends op's record (or holds it behind a snapshot due). Takes op. */
void kg_store_append(vl_kgroup_t *self, kg_op_t *op);
kg_op_t *kg_op_new(vl_kgroup_t *self, int type, kg_buf_t *b, const char *group_id);
void kg_op_free(kg_op_t **op_p);
/*  Appends the GROUP record of g (after a rebalance or when it emptied). */
void kg_store_group(vl_kgroup_t *self, kg_group_t *g);

/*  group.c: the answer of a GROUP record committed (or failed). */
void kg_group_stored(vl_kgroup_t *self, kg_op_t *op, int rc);
/*  group_offsets.c: answers of OFFSETS and TOMBSTONE records. */
void kg_offsets_stored(vl_kgroup_t *self, kg_op_t *op, int rc);
void kg_tombstone_stored(vl_kgroup_t *self, kg_op_t *op, int rc);

#endif
