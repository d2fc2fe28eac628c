/*  persist.h - the metadata repository's RocksDB store.

    Keys (numbers big endian so that keys sort by number, DESIGN.md):
        S sn_id                -> addr
        T topic_id             -> topic record
        L ls_id                -> log stream record (committed ends as of the
                                  last metadata write)
        V                      -> version and id counters
        G topic_id glsn_begin  -> one commit round's ranges of the topic
        K topic_id hwm         -> checkpoint: every log stream's committed
                                  end after the round that ended at hwm
                                  (G and K records that nothing needs any
                                  more are pruned: history.c)
        A                      -> the raft index of the last replicated
                                  command applied (u64)
    Every change is one WriteBatch, so a crash leaves either all of a change
    or none of it. The MR replicates changes as the serialized bytes of
    their batch (vl_persist_meta_batch, vl_persist_commit_batch, then
    vl_persist_batch_data); every replica applies a committed one with
    vl_persist_apply, unsynced, with its raft index in the same batch: the
    raft log is the write-ahead log, and a command whose index is not past
    A was applied already. Loading replays the rounds after the last
    metadata write or checkpoint of each topic.

    Threads: one thread builds, applies and reads (the server's loop);
    vl_persist_write may run in another.
*/
#ifndef VL_PERSIST_H
#define VL_PERSIST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "state.h"
#include "wire.h"

typedef struct vl_persist vl_persist_t;

/*  One commit range read back from the history, with the version of the
    round that committed it. */
typedef struct {
    vl_commit_item_t item;
    uint64_t version;
} vl_persist_range_t;

/*  Opens (creating dir and the database when missing) the store under dir.
    NULL with errbuf set on failure. Caller owns the result. */
vl_persist_t *vl_persist_open(const char *dir, char *errbuf, size_t errbuf_size);
void vl_persist_destroy(vl_persist_t **self_p);

/*  Loads SNs, topics, log streams and counters into state (which should be
    empty). VL_ESTORE with errbuf set on a read error or a corrupt record. */
int vl_persist_load(vl_persist_t *self, vl_mrstate_t *state, char *errbuf, size_t errbuf_size);

/*  A write, built but not yet written. */
typedef struct vl_persist_batch vl_persist_batch_t;

/*  The write of the whole metadata of state (SNs, topics, log streams,
    counters), replacing what was stored, and deleting the commit history
    of the topic drop_topic (0: none) and of the log streams
    drop_ls[0..ndrop_ls). Caller owns the result. */
vl_persist_batch_t *vl_persist_meta_batch(const vl_mrstate_t *state, uint32_t drop_topic,
                                          const uint32_t *drop_ls, size_t ndrop_ls);

/*  vl_persist_meta_batch written at once, synced. VL_ESTORE with errbuf set
    on failure. */
int vl_persist_save_meta(vl_persist_t *self, const vl_mrstate_t *state, uint32_t drop_topic,
                         const uint32_t *drop_ls, size_t ndrop_ls, char *errbuf,
                         size_t errbuf_size);

/*  An empty write. Caller owns the result. */
vl_persist_batch_t *vl_persist_batch_new(void);

/*  Adds to batch the write of a computed commit round that is not yet
    applied to state (state is read for checkpoints): one G record per
    topic of the round, and a K checkpoint every 64 groups of a topic,
    with the prune of the history before it that nothing needs (state's
    trim points and replicas' applied ends say what: history.c); the
    prunes' range deletes end the batch once its bytes are taken. Call
    from the thread that owns state, in round order; a batch may hold
    several rounds, each added before the next is computed. */
void vl_persist_commit_batch_add(vl_persist_t *self, vl_persist_batch_t *batch,
                                 const vl_mrstate_t *state, const vl_commit_t *round);

/*  A new batch holding one round (vl_persist_commit_batch_add). Caller
    owns the result (write it, or destroy it). */
vl_persist_batch_t *vl_persist_commit_batch(vl_persist_t *self, const vl_mrstate_t *state,
                                            const vl_commit_t *round);
void vl_persist_batch_destroy(vl_persist_batch_t **batch_p);

/*  The serialized batch (RocksDB's WriteBatch format): its bytes, borrowed
    until the batch changes, and their count in *len_p. The first call
    ends the batch with its prunes' range deletes (vl_persist_commit_batch_add):
    add no round to it after. */
const uint8_t *vl_persist_batch_data(const vl_persist_batch_t *batch, size_t *len_p);

/*  Writes a batch (takes ownership), synced or not. An unsynced write
    becomes durable with the next synced one: the write-ahead log is
    synced up to the end. VL_ESTORE with errbuf set on failure. Any
    thread. */
int vl_persist_write(vl_persist_t *self, vl_persist_batch_t **batch_p, bool sync, char *errbuf,
                     size_t errbuf_size);

/*  Builds and writes one round with sync (vl_persist_commit_batch, then
    vl_persist_write). VL_ESTORE with errbuf set. */
int vl_persist_commit(vl_persist_t *self, const vl_mrstate_t *state, const vl_commit_t *round,
                      char *errbuf, size_t errbuf_size);

/*  Reads up to max commit ranges of log stream ls (of topic topic_id) in
    LLSN order, beginning with the range that holds llsn_from. *n_p gets the
    number read: fewer than max at the end of the history, and where it
    has a gap (a replica that installed a snapshot lacks the history
    before the snapshot's checkpoints; none when llsn_from is in it).
    VL_ESTORE with errbuf set on failure. */
int vl_persist_ranges(vl_persist_t *self, uint32_t topic_id, uint32_t ls_id, uint64_t llsn_from,
                      vl_persist_range_t *out, size_t max, size_t *n_p, char *errbuf,
                      size_t errbuf_size);

/*  Finds the commit range of topic_id that holds glsn. *found_p is false
    when there is none (or the history held here lacks it: see
    vl_persist_ranges). VL_ESTORE with errbuf set on failure. */
int vl_persist_range_at(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                        vl_persist_range_t *out, bool *found_p, char *errbuf, size_t errbuf_size);

/*  For a trim to glsn: the range that holds glsn (vl_persist_range_at).
    When the history held here lacks it (*found_p false), *held_from_p
    gets the first GLSN after glsn from which this store holds the
    topic's history again (0: none, which only a damaged store shows for
    a committed GLSN past the trim point): a replica restored from a raft
    snapshot lacks what came before the snapshot's window (history.c).
    VL_ESTORE with errbuf set on failure. */
int vl_persist_trim_range(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                          vl_persist_range_t *out, bool *found_p, uint64_t *held_from_p,
                          char *errbuf, size_t errbuf_size);

/*  ---- the replicated state machine's store (persist_fsm.c) ---------------- */

/*  The raft index of the last command applied (0: none; a store from
    before replication, or a new one). */
uint64_t vl_persist_applied(const vl_persist_t *self);

/*  Applies a replicated command's batch (data: vl_persist_batch_data's
    bytes, borrowed) at raft index `index`: writes it unsynced with key A
    set to index, in one batch. Does nothing when index is not past the
    applied index (raft replays what follows its last snapshot at every
    start). VL_EINVAL when data is not a batch, VL_ESTORE when the write
    fails; errbuf says which. */
int vl_persist_apply(vl_persist_t *self, uint64_t index, const uint8_t *data, size_t len,
                     char *errbuf, size_t errbuf_size);

/*  The commit rounds a replicated batch holds (its G records, in order; a
    round is the run of records of one version), decoded into *rounds_p
    (caller frees each with vl_commit_free, then the array) and their
    count in *n_p. Replicas do not call it (a replica that did not compute
    the rounds writes the batch and reloads its memory from the store when
    it needs it, fsm.c); it shows what a batch carries, for the tests that
    check a batch holds exactly the rounds computed and for debugging.
    VL_EINVAL with errbuf set when data is not a batch or a G record in
    it is malformed. */
int vl_persist_batch_rounds(const uint8_t *data, size_t len, vl_commit_t **rounds_p, size_t *n_p,
                            char *errbuf, size_t errbuf_size);

/*  The store as one serialized batch, bounded whatever the length of the
    commit history: every key (key A included) but the history before
    where the snapshot's begins, which is, per topic, the oldest
    checkpoint held, or a newer one so that the snapshot's history comes
    to about S_SNAP_BYTES at most (persist_i.h; the newest checkpoint
    and the groups after it always); the snapshot holds the checkpoints
    from there on and the groups after it. The batch first deletes every
    key but the history a receiver keeps: of each topic with a checkpoint
    in the snapshot, its groups up to where the snapshot's begin and its
    checkpoints before that (persist_fsm.c says why that is the same
    history). *data_p is malloc'd (caller frees), *len_p its length.
    VL_ESTORE with errbuf set on a read error. */
int vl_persist_snapshot(vl_persist_t *self, uint8_t **data_p, size_t *len_p, char *errbuf,
                        size_t errbuf_size);

/*  Replaces the store with a snapshot (vl_persist_snapshot's bytes) taken
    at raft index `index`, synced, and sets the applied index to index:
    every key goes but the older commit history the snapshot keeps (its
    own goes in its place), so the store then holds the snapshot's
    history and whatever older history it held itself.
    Nothing changes when the applied index is index or more (*done_p
    false). The caller reloads its state after a restore (*done_p true).
    VL_EINVAL (not a snapshot), VL_ESTORE; errbuf says which. */
int vl_persist_restore(vl_persist_t *self, uint64_t index, const uint8_t *data, size_t len,
                       bool *done_p, char *errbuf, size_t errbuf_size);

/*  Forgets the applied index (synced): the store becomes the base of a
    new raft log, as a store from before replication is. VL_ESTORE with
    errbuf set on failure. */
int vl_persist_rebase(vl_persist_t *self, char *errbuf, size_t errbuf_size);

/*  True when the store holds no key at all (a new data directory). */
bool vl_persist_empty(vl_persist_t *self);

#endif
