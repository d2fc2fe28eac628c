/*  state.h - the metadata repository's cluster state and commit rule.

    Pure in-memory state, no I/O, so that the ordering rule can be unit
    tested: storage nodes, topics, log streams with their replicas, and the
    last report of every replica. The server feeds reports in, asks for one
    commit round per tick, builds the round's store write from the state
    before it, and then applies it here (vl_mrstate_commit_compute does not
    change the state); memory that ran ahead of what is replicated is
    replaced by a reload from the store.

    Records (vl_mrstate_sn_t, _topic_t, _ls_t) are plain data returned by
    lookups: they are borrowed, and stay valid until the state changes its
    membership (add/remove of an SN, topic or log stream).
*/
#ifndef VL_MRSTATE_H
#define VL_MRSTATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*  Most log streams one CREATE_TOPIC may ask for. */
#define VL_MRSTATE_MAX_NLS 1024

typedef struct vl_mrstate vl_mrstate_t;

typedef struct {
    uint32_t id;
    char addr[VL_WIRE_MAX_ADDR + 1];
} vl_mrstate_sn_t;

/*  One replica of a log stream: what its SN last reported, plus the
    server's resend bookkeeping (volatile: never persisted). */
typedef struct {
    uint32_t sn_id;
    uint64_t llsn_end;         /* last LLSN durable on the replica */
    uint64_t bytes_end;        /* bytes of entries 1..llsn_end */
    uint64_t applied_llsn_end; /* last LLSN whose commit the replica stored */
    uint8_t state;             /* the log stream state it last reported */
    bool synced;               /* a report came since start / the SN's HELLO */
    uint64_t sent_llsn_end;    /* commits sent to it cover LLSNs up to here */
    uint64_t lag_applied;      /* applied_llsn_end when lag_since_us was set */
    int64_t lag_since_us;      /* 0, or when the replica was last seen progressing
                                  while behind the committed end */
} vl_mrstate_replica_t;

typedef struct {
    uint32_t id, topic_id;
    uint8_t state; /* vl_ls_state_t */
    uint32_t nrep;
    vl_mrstate_replica_t replicas[VL_WIRE_MAX_REPLICAS]; /* [0] is the primary */
    uint64_t committed_llsn_end, committed_bytes;
    uint32_t epoch; /* bumped at every seal and unseal (persisted, in META) */
    uint32_t seal_sn; /* sealed by varlogadm for this down storage node (0:
                         by hand, or running; persisted, in META) */
    uint64_t durable_llsn_end; /* the server's: committed end that is durable
                                  and announced (rounds are applied here
                                  before their raft command is) */
} vl_mrstate_ls_t;

typedef struct {
    uint32_t id;
    char name[VL_WIRE_MAX_NAME + 1];
    uint32_t rf;
    uint64_t hwm, end_offset;        /* last committed GLSN, bytes through it */
    uint64_t trim_glsn, trim_offset; /* first GLSN kept (1 before any trim) */
    uint32_t nls;
    vl_mrstate_ls_t **ls; /* the topic's log streams by id, borrowed */
} vl_mrstate_topic_t;

/*  Commit version and id allocators; persisted together under key V. */
typedef struct {
    uint64_t version;
    uint32_t next_sn_id, next_topic_id, next_ls_id;
} vl_mrstate_counters_t;

/*  Creates an empty state (version 0, ids from 1). Caller owns the result. */
vl_mrstate_t *vl_mrstate_new(void);
void vl_mrstate_destroy(vl_mrstate_t **self_p);

void vl_mrstate_counters(const vl_mrstate_t *self, vl_mrstate_counters_t *out);
void vl_mrstate_set_counters(vl_mrstate_t *self, const vl_mrstate_counters_t *c);
uint64_t vl_mrstate_version(const vl_mrstate_t *self);

/*  ---- storage nodes ---------------------------------------------------- */

/*  Registers an SN by address; *id_p gets its new id. VL_EINVAL for an empty
    address, VL_EEXIST when the address is registered (id_p then holds the
    existing id). */
int vl_mrstate_sn_add(vl_mrstate_t *self, const char *addr, uint32_t *id_p);

/*  Unregisters an SN. VL_ENOSN when unknown, VL_EBUSY while it hosts a
    replica of any log stream. */
int vl_mrstate_sn_remove(vl_mrstate_t *self, uint32_t id);

/*  Lookups; NULL when absent. */
vl_mrstate_sn_t *vl_mrstate_sn_by_id(const vl_mrstate_t *self, uint32_t id);
vl_mrstate_sn_t *vl_mrstate_sn_by_addr(const vl_mrstate_t *self, const char *addr);
size_t vl_mrstate_sn_count(const vl_mrstate_t *self);
vl_mrstate_sn_t *vl_mrstate_sn_at(const vl_mrstate_t *self, size_t i); /* by id order */

/*  Forgets what an SN's replicas reported (it said HELLO: it restarted and
    may hold less than before); the next report re-syncs them. */
void vl_mrstate_sn_reset(vl_mrstate_t *self, uint32_t sn_id);

/*  ---- topics and log streams ------------------------------------------- */

/*  Creates a topic with nls log streams of replication factor rf, placing
    the replicas. nls 0 means the number of SNs capped at 3 (at least 1); rf
    0 means 1. Returns VL_ENAME (bad name), VL_EEXIST, VL_EINVAL (nls or rf
    too large), VL_EUNAVAIL (rf > number of SNs); errbuf says which. */
int vl_mrstate_topic_create(vl_mrstate_t *self, const char *name, uint32_t nls, uint32_t rf,
                            uint32_t *id_p, char *errbuf, size_t errbuf_size);

/*  Deletes a topic and its log streams. VL_ENOTOPIC when unknown. */
int vl_mrstate_topic_delete(vl_mrstate_t *self, uint32_t id);

vl_mrstate_topic_t *vl_mrstate_topic_by_id(const vl_mrstate_t *self, uint32_t id);
vl_mrstate_topic_t *vl_mrstate_topic_by_name(const vl_mrstate_t *self, const char *name);
size_t vl_mrstate_topic_count(const vl_mrstate_t *self);
vl_mrstate_topic_t *vl_mrstate_topic_at(const vl_mrstate_t *self, size_t i); /* by id order */

/*  Adds one log stream to a topic, placed with the topic's rf.
    VL_ENOTOPIC, VL_EUNAVAIL (fewer SNs than rf); errbuf says which. */
int vl_mrstate_ls_add(vl_mrstate_t *self, uint32_t topic_id, uint32_t *ls_id_p, char *errbuf,
                      size_t errbuf_size);

vl_mrstate_ls_t *vl_mrstate_ls_by_id(const vl_mrstate_t *self, uint32_t id);
size_t vl_mrstate_ls_count(const vl_mrstate_t *self);
vl_mrstate_ls_t *vl_mrstate_ls_at(const vl_mrstate_t *self, size_t i); /* by id order */

/*  ---- seal, unseal, replace --------------------------------------------- */

/*  Seals a RUNNING log stream at its committed end: commit rounds skip it
    from now on, so committed_llsn_end is its sealed end. What replicas
    reported of their state before is forgotten: only a report made after
    they learned the seal can show them in line. Bumps the epoch. seal_sn
    is the storage node whose failure made varlogadm seal it (0: by hand);
    sealing a sealed log stream changes nothing, except that a seal by
    hand makes an automatic one the operator's (seal_sn 0). VL_ENOLS when
    unknown (errbuf says so). */
int vl_mrstate_ls_seal(vl_mrstate_t *self, uint32_t ls_id, uint32_t seal_sn, char *errbuf,
                       size_t errbuf_size);

/*  Unseals a sealed log stream when every replica's last report shows it
    in line: state SEALED, llsn_end == applied_llsn_end == committed end,
    and bumps the epoch. VL_EBUSY otherwise, with errbuf naming the first replica behind and
    what to run (topic is the topic name for the hint). Unsealing a RUNNING
    log stream changes nothing. VL_ENOLS when unknown. */
int vl_mrstate_ls_unseal(vl_mrstate_t *self, uint32_t ls_id, const char *topic, char *errbuf,
                         size_t errbuf_size);

/*  Replaces replica sn_from of a sealed log stream by sn_to, in the same
    place (a replaced primary makes sn_to the primary); the new replica
    starts empty and unsynced. VL_ENOLS, VL_EBUSY (not sealed), VL_ENOSN
    (sn_to unknown or sn_from not a replica), VL_EEXIST (sn_to already a
    replica); errbuf says which. */
int vl_mrstate_ls_update(vl_mrstate_t *self, uint32_t ls_id, uint32_t sn_from, uint32_t sn_to,
                         const char *topic, char *errbuf, size_t errbuf_size);

/*  The replica of ls on sn_id, or NULL. */
vl_mrstate_replica_t *vl_mrstate_replica(vl_mrstate_ls_t *ls, uint32_t sn_id);

/*  ---- loading (persist) ------------------------------------------------ */

/*  Insert records read back from disk; ids are kept. A log stream needs its
    topic loaded first. VL_EEXIST on a duplicate id, VL_ENOTOPIC for a log
    stream of an unknown topic, VL_EINVAL for a malformed record. */
int vl_mrstate_load_sn(vl_mrstate_t *self, uint32_t id, const char *addr);
int vl_mrstate_load_topic(vl_mrstate_t *self, const vl_mrstate_topic_t *rec);
int vl_mrstate_load_ls(vl_mrstate_t *self, const vl_mrstate_ls_t *rec);

/*  ---- reports and commits ---------------------------------------------- */

/*  Records an SN's report. Items for log streams the SN does not host are
    skipped. Returns VL_ENOSN when rep->sn_id is not registered. */
int vl_mrstate_report(vl_mrstate_t *self, const vl_report_t *rep);

/*  Records one item of a report of sn_id (which the caller found
    registered) and returns the replica it updated, NULL when sn_id hosts
    no replica of that log stream; *ls_p gets the log stream (NULL when
    unknown). For a caller that has more to do per replica: one lookup. */
vl_mrstate_replica_t *vl_mrstate_report_item(vl_mrstate_t *self, uint32_t sn_id,
                                             const vl_report_item_t *it, vl_mrstate_ls_t **ls_p);

/*  Computes the next commit round without changing the state: for each topic
    by id and each RUNNING log stream by id, the entries written on every
    replica and not yet committed get the next GLSNs and offsets. Fills out
    (free with vl_commit_free) and returns the number of items; out->version
    is the round's version (current + 1) when items > 0. */
uint32_t vl_mrstate_commit_compute(const vl_mrstate_t *self, vl_commit_t *out);

/*  Applies a computed (and persisted) round. */
void vl_mrstate_commit_apply(vl_mrstate_t *self, const vl_commit_t *round);

/*  True when a commit round may find something to commit: set by what can
    raise the minimum end of a running log stream past its committed end (a
    report that changes a replica's ends there or brings it in sync, an
    unseal, a new state), cleared by the caller once a round computed from
    the state since has been applied or found nothing. While it is false a
    round would commit nothing, so the server skips the O(log streams)
    computation (an idle MR does no per-tick work). */
bool vl_mrstate_dirty(const vl_mrstate_t *self);
void vl_mrstate_clear_dirty(vl_mrstate_t *self);

/*  ---- metadata and trim ------------------------------------------------ */

/*  Fills out with the whole metadata (alive flags 0; the server sets them).
    Free with vl_meta_free. */
void vl_mrstate_meta(const vl_mrstate_t *self, uint32_t cluster_id, uint32_t sn_id, vl_meta_t *out);

/*  Checks TRIM(topic, glsn = new first GLSN kept, offset = its byte offset).
    range is the commit range holding glsn (NULL when glsn > hwm). Sets
    *noop when glsn is not past the current trim point. Returns VL_ENOTOPIC,
    VL_ERANGE (glsn > hwm + 1), VL_EINVAL (offset does not match), VL_ESTORE
    (no range for a committed glsn); errbuf says which. */
int vl_mrstate_trim_check(const vl_mrstate_t *self, uint32_t topic_id, uint64_t glsn,
                          uint64_t offset, const vl_commit_item_t *range, bool *noop, char *errbuf,
                          size_t errbuf_size);

/*  Sets a checked trim point. */
void vl_mrstate_trim_apply(vl_mrstate_t *self, uint32_t topic_id, uint64_t glsn, uint64_t offset);

#endif
