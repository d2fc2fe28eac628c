/*  store.h - the storage node's RocksDB store (vl_store_*).

    One RocksDB database per data directory holds every log stream replica
    of the storage node; the entries' bytes are in the entry log next to
    it (DIR/vlog, see vlog.h), RocksDB says where. Keys (DESIGN.md "SN
    RocksDB", numbers big endian so that keys sort numerically):

        'd' ls u32 llsn_begin u64  -> a batch of entries: 'S', n u32, segment
                                      u32, offset u64, n sizes (u32 little
                                      endian); format 2 stores also hold
                                      'B', n u32, n sizes, the entries
        'v'                        -> store format (3)
        'w'                        -> the entry log record of the last write
                                      (segment u32, offset u64)
        'c' ls u32 glsn_begin u64  -> commit range (vl_store_range_t)
        'o' ls u32 offset_begin u64 -> glsn_begin (ranges with bytes > 0)
        'm' ls u32                 -> replica state (vl_store_state_t)
        'b' ls u32 llsn_begin u64  -> name of the client batch that begins
                                      there: client id, batch seq, n

    Writes go through a batch (vl_store_batch_t) so that entries and the
    replica's new ends land atomically: after a crash the 'm' key says
    exactly what is durable. Only the writer thread writes; any thread may
    read (RocksDB handles are thread-safe).

    Errors: functions return 0 or a VL_E* code; vl_store_errmsg() gives the
    calling thread's detail of its last failure (thread-local, because the
    server and the writer thread use one store).
*/
#ifndef VL_SN_STORE_H
#define VL_SN_STORE_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "wire.h"

typedef struct vl_store vl_store_t;
typedef struct vl_store_batch vl_store_batch_t;

/*  The persistent state of one replica (the 'm' key). */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t llsn_end;         /* last durable LLSN (0: none) */
    uint64_t bytes_end;        /* sum of the sizes of entries 1..llsn_end */
    uint64_t applied_llsn_end; /* last LLSN whose commit range is stored */
    uint64_t hwm;              /* topic HWM as of the last stored commit: every
                                  entry of this LS with GLSN <= hwm is known */
    uint64_t trim_glsn;        /* first GLSN kept (0 or 1: nothing trimmed) */
} vl_store_state_t;

/*  One commit range (the 'c' key): entries llsn_begin..llsn_begin+count-1
    got GLSNs glsn_begin.. and topic bytes [offset_begin, offset_begin+bytes). */
typedef struct {
    uint64_t glsn_begin, llsn_begin, count, offset_begin, bytes, version;
} vl_store_range_t;

/*  A reading position in GLSN order inside one LS, kept between calls of
    vl_store_read_committed so that continuing a read does not re-sum the
    sizes from the start of the range. Set glsn and valid = false to start. */
typedef struct {
    uint64_t glsn;      /* next GLSN wanted */
    bool valid;         /* llsn/offset/range_end below are known */
    uint64_t llsn;      /* LLSN of glsn */
    uint64_t offset;    /* topic offset of glsn */
    uint64_t range_end; /* first GLSN past the commit range holding glsn */
} vl_store_cursor_t;

/*  Opens (creating if missing) the database in dir, with memtables of
    memtable_bytes (0: 64 MiB; up to 4 of them fill before writes wait for
    a flush). Returns 0 or VL_ESTORE (message in vl_store_errmsg). Caller
    owns *store_p. */
int vl_store_open(const char *dir, uint64_t memtable_bytes, vl_store_t **store_p);
void vl_store_destroy(vl_store_t **self_p);

/*  The size at which the entry log starts a new segment (512 MiB until
    set; varlogsn sets it from its data disk, vl_vlog_segment_bytes_for),
    and how many segments it has. */
void vl_store_set_segment_bytes(vl_store_t *self, uint64_t bytes);
/*  Tests: the step in which a segment's mapping grows (1 GiB; a multiple of
    the page size). */
void vl_store_set_map_step(vl_store_t *self, uint64_t bytes);
size_t vl_store_segments(vl_store_t *self);
/*  The writer has nothing queued: the entry log writes zeros ahead of its
    end when it has few left (vl_vlog_prewrite), so that the next synced
    appends change no file-system metadata. Writer thread only. */
void vl_store_idle(vl_store_t *self);

/*  A write to this store's disk failed (disk full, I/O error): at close
    RocksDB is not closed but left (its files are then as after a crash,
    which the next start replays from the entry log), because Debian's
    RocksDB, built with assertions, aborts closing a file whose write
    failed. */
void vl_store_set_failed(vl_store_t *self);

/*  The calling thread's message of its last failed store call. */
const char *vl_store_errmsg(void);

/*  Reads every replica state ('m' keys). On 0, *states_p (caller frees with
    free()) holds *n_p states ordered by ls id. */
int vl_store_states(vl_store_t *self, vl_store_state_t **states_p, size_t *n_p);

/*  Reads the state of one replica: VL_ENOLS when it has none. */
int vl_store_state(vl_store_t *self, uint32_t ls_id, vl_store_state_t *state);

/*  ---- writing ---------------------------------------------------------- */

vl_store_batch_t *vl_store_batch_new(void);
void vl_store_batch_destroy(vl_store_batch_t **self_p);
void vl_store_batch_clear(vl_store_batch_t *self);
/*  Number of operations in the batch. */
int vl_store_batch_count(vl_store_batch_t *self);
/*  Adds n entries llsn_begin.. as one value: sizes (n u32 little endian,
    as the wire holds them) and data, their bytes back to back (bytes),
    copied. The bytes go to store's entry log when the batch is written,
    the value says where: a batch with entries must be written (or
    cleared) before another one gets entries. */
void vl_store_batch_put_entries(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                const void *data, size_t bytes);
/*  The same without a copy of data: it must stay as it is until
    vl_store_write returns (the writer's jobs hold their payload frames). */
void vl_store_batch_put_entries_ref(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                    uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                    const void *data, size_t bytes);
/*  One entry, as a batch of one (copied). */
void vl_store_batch_put_entry(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                              uint64_t llsn, const void *data, size_t len);
void vl_store_batch_put_state(vl_store_batch_t *self, const vl_store_state_t *state);
void vl_store_batch_put_range(vl_store_batch_t *self, uint32_t ls_id, const vl_store_range_t *r);
/*  Adds the deletion of everything of ls_id below trim_glsn that the store
    holds now: entries, whole commit ranges and their offset keys. A range
    that straddles trim_glsn keeps its 'c'/'o' keys (its entries below the
    trim point are deleted). Reads the store; returns 0 or VL_ESTORE. */
int vl_store_batch_trim(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                        uint64_t trim_glsn);
/*  Adds the deletion of the stored batches of entries of ls_id, and of the
    names of client batches, that begin in llsn_from..llsn_to (inclusive). */
void vl_store_batch_delete_entries(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_from,
                                   uint64_t llsn_to);
/*  Adds what discards every entry of ls_id past llsn_end (an uncommitted
    suffix at a seal): the batch holding llsn_end + 1 is written again cut
    at llsn_end, the later ones deleted. Reads the store, so the batch must
    not hold writes of this log stream not yet in the store. Returns 0 or
    VL_ESTORE. */
int vl_store_batch_truncate(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                            uint64_t llsn_end);
/*  Adds the name of a client batch (DESIGN.md "Client failover"): the
    entries id->llsn_begin.. came in batch id->batch_seq of id->client_id. */
void vl_store_batch_put_bid(vl_store_batch_t *self, uint32_t ls_id, const vl_batch_id_t *id);
/*  Adds the deletion of every key of ls_id. */
void vl_store_batch_delete_ls(vl_store_batch_t *self, uint32_t ls_id);
/*  Adds the deletion of every entry, commit range, offset key and batch
    name of ls_id, but not of its state (a base replaces them, see
    VL_WRITER_BASE). */
void vl_store_batch_delete_data(vl_store_batch_t *self, uint32_t ls_id);
/*  Writes the batch atomically, fsynced when sync: one record of the
    entry log, then RocksDB (without its WAL). Returns 0 or VL_ESTORE. */
int vl_store_write(vl_store_t *self, vl_store_batch_t *batch, bool sync);

/*  ---- reading ---------------------------------------------------------- */

/*  Appends the entries llsn_begin.. of ls_id, at most max_n entries and,
    past the first, max_bytes bytes, to data (their bytes back to back) and
    their sizes to sizes (u32 little endian each, as a REPLICATE body holds
    them); stops early at the first LLSN the store does not have. Sets *n_p
    and *bytes_p. */
int vl_store_read_entries(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t max_n,
                          size_t max_bytes, vl_wbuf_t *sizes, vl_wbuf_t *data, uint32_t *n_p,
                          uint64_t *bytes_p);

/*  The first (lowest) LLSN of ls_id the store holds an entry of, from
    llsn_from on: *found_p false when there is none. Entries below it
    were trimmed (or never written). */
int vl_store_first_entry(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t *llsn_p,
                         bool *found_p);

/*  Sums the sizes of entries llsn_begin..llsn_end (inclusive) of ls_id into
 *sum_p. VL_ETRIMMED when one of them is not in the store. */
int vl_store_sum_sizes(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint64_t llsn_end,
                       uint64_t *sum_p);

/*  Finds the commit range of ls_id with the largest glsn_begin <= glsn.
    Returns 0, VL_ERANGE when there is none, or VL_ESTORE. The range may end
    before glsn (then glsn is not an entry of this LS). */
int vl_store_find_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, vl_store_range_t *r);

/*  Reads committed entries of ls_id in GLSN order from cur->glsn up to (not
    including) glsn_limit: at most max_n entries and, past the first,
    max_bytes bytes. Fills pos[0..*n_p) (pos has max_n slots, sizes
    included) and appends the entries' bytes back to back to data (when not
    NULL): one payload for one message. Advances cur.
    *more_p is true when it stopped on max_n/max_bytes rather than on the
    limit or the end of what is committed. VL_ETRIMMED when an entry of a
    stored commit range is gone (trimmed). */
int vl_store_read_committed(vl_store_t *self, uint32_t ls_id, vl_store_cursor_t *cur,
                            uint64_t glsn_limit, uint32_t max_n, size_t max_bytes,
                            vl_entry_pos_t *pos, vl_wbuf_t *data, uint32_t *n_p, bool *more_p);

/*  Finds the committed entry of ls_id holding topic byte offset: *found_p
    false when no entry of this LS holds it. */
int vl_store_lookup_offset(vl_store_t *self, uint32_t ls_id, uint64_t offset, vl_entry_pos_t *pos,
                           bool *found_p);

/*  ---- batch names ------------------------------------------------------- */

/*  Appends to out (28-byte records as a REPLICATE body holds them, see
    vl_wire_bid) the names of the batches of ls_id that hold an entry in
    llsn_from..llsn_to, in LLSN order; sets *n_p. */
int vl_store_read_bids(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t llsn_to,
                       vl_wbuf_t *out, uint32_t *n_p);

/*  Looks for batch (client_id, batch_seq) among the batches of ls_id that
    begin in llsn_hint+1..llsn_end, newest first. Stops after max_scan
    batches: *complete_p is false then (the search did not cover the
    range). Not at an older batch of the same client: a batch resent under
    the same name may land after newer ones. Sets *found_p and, when
    found, *id. */
int vl_store_find_bid(vl_store_t *self, uint32_t ls_id, uint64_t client_id, uint64_t batch_seq,
                      uint64_t llsn_hint, uint64_t llsn_end, uint32_t max_scan, vl_batch_id_t *id,
                      bool *found_p, bool *complete_p);

/*  The names of the last (at most max) batches of ls_id that begin at or
    before llsn_end, oldest first: *ids_p (caller frees), *n_p. Sync base
    marks (client id 0) are left out. */
int vl_store_last_bids(vl_store_t *self, uint32_t ls_id, uint64_t llsn_end, uint32_t max,
                       vl_batch_id_t **ids_p, uint32_t *n_p);

/*  The GLSN runs of the committed entries among llsn_begin..+count-1 of
    ls_id, in order, from the stored commit ranges: *runs_p (caller frees;
    NULL when none), *nruns_p, and *covered_p, how many entries they hold
    (committed entries of a log stream are a prefix of it, so they are
    llsn_begin..+covered-1). */
int vl_store_llsn_runs(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t count,
                       vl_run_t **runs_p, uint32_t *nruns_p, uint64_t *covered_p);

#endif
