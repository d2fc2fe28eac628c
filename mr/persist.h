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
    Every write is one WriteBatch, so a crash leaves either all of a change
    or none of it; metadata writes are synced, commit rounds are synced
    themselves or by a synced write after them (vl_persist_write), and
    nothing is announced before it is durable. Loading replays the rounds
    after the last metadata write or checkpoint of each topic.

    Threads: one thread builds batches and writes metadata (the server's
    loop), another may write the commit batches (its writer); history
    reads may run in the first while the second writes.
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

/*  Writes the whole metadata of state (SNs, topics, log streams, counters),
    replacing what was stored, and deletes the commit history of the topic
    drop_topic (0: none) and of the log streams drop_ls[0..ndrop_ls). One
    synced batch. VL_ESTORE with errbuf set on failure. */
int vl_persist_save_meta(vl_persist_t *self, const vl_mrstate_t *state, uint32_t drop_topic,
                         const uint32_t *drop_ls, size_t ndrop_ls, char *errbuf,
                         size_t errbuf_size);

/*  A commit round's write, built but not yet written. */
typedef struct vl_persist_batch vl_persist_batch_t;

/*  Builds the write of a computed commit round that is not yet applied to
    state (state is read for checkpoints): one G record per topic of the
    round, and a K checkpoint every 64 groups of a topic. Call from the
    thread that owns state, in round order. Caller owns the result (write
    it, or destroy it). */
vl_persist_batch_t *vl_persist_commit_batch(vl_persist_t *self, const vl_mrstate_t *state,
                                            const vl_commit_t *round);
void vl_persist_batch_destroy(vl_persist_batch_t **batch_p);

/*  Writes a batch (takes ownership), synced or not. An unsynced write
    becomes durable with the next synced one: the write-ahead log is
    synced up to the end. VL_ESTORE with errbuf set on failure. Any
    thread. */
int vl_persist_write(vl_persist_t *self, vl_persist_batch_t **batch_p, bool sync, char *errbuf,
                     size_t errbuf_size);

/*  Makes everything written so far durable (a synced write of nothing).
    VL_ESTORE with errbuf set when even that fails. Any thread. */
int vl_persist_sync(vl_persist_t *self, char *errbuf, size_t errbuf_size);

/*  Builds and writes one round with sync (vl_persist_commit_batch, then
    vl_persist_write). VL_ESTORE with errbuf set. */
int vl_persist_commit(vl_persist_t *self, const vl_mrstate_t *state, const vl_commit_t *round,
                      char *errbuf, size_t errbuf_size);

/*  Reads up to max commit ranges of log stream ls (of topic topic_id) in
    LLSN order, beginning with the range that holds llsn_from. *n_p gets the
    number read. VL_ESTORE with errbuf set on failure. */
int vl_persist_ranges(vl_persist_t *self, uint32_t topic_id, uint32_t ls_id, uint64_t llsn_from,
                      vl_persist_range_t *out, size_t max, size_t *n_p, char *errbuf,
                      size_t errbuf_size);

/*  Finds the commit range of topic_id that holds glsn. *found_p is false
    when there is none. VL_ESTORE with errbuf set on failure. */
int vl_persist_range_at(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                        vl_persist_range_t *out, bool *found_p, char *errbuf, size_t errbuf_size);

#endif
