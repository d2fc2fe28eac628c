/*  store_i.h - private to the store (vl_store_*): its state and what its
    files share.

    Around store.c, one file per concern, all working on one vl_store_t:

        store.c        open, close, the format and its migration, replica
                       states, the entry log's hooks, the write of a batch
        store_batch.c  building write batches: entries, states, commit
                       ranges, batch names, trims, truncations, deletions
        store_read.c   reads: the entry cursor, entries, committed entries
                       in GLSN order, commit ranges, offsets, batch names
        store_gc.c     cleaning the entry log: which segments may go, and
                       moving what keeps the oldest one

    A function called from another file is vl_store_<file>_<verb> (store.c's
    own: vl_store_<verb>) and declared here; everything else stays static.
    The entry cursor's per-entry helpers are static inline here: reads run
    at millions of entries a second.
*/
#ifndef VL_SN_STORE_I_H
#define VL_SN_STORE_I_H
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stdint.h>
#include "crc32c.h"
#include "store.h"
#include "util.h"
#include "vlog.h"
#include "wire.h"

struct vl_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo; /* no RocksDB WAL: the entry log is the WAL */
    rocksdb_readoptions_t *ro;
    char *dir;
    vl_vlog_t *vlog; /* the entry log: the entries' bytes */
    bool failed;     /* a write to the disk failed since the store opened */
    bool gc_more;    /* the cleaning stopped at its bound (or for room): the
                        next write goes on */
    bool gc_put_off; /* it stopped for lack of room (logged once) */
};

struct vl_store_batch {
    rocksdb_writebatch_t *wb;
    vl_vlog_rec_t rec; /* the entry log record this batch becomes */
    bool deletes;      /* the write may free log segments (GC after it) */
};

#define S_KEY_LS 5   /* prefix byte + ls u32 */
#define S_KEY_LEN 13 /* prefix byte + ls u32 + u64 */
#define S_STATE_LEN 44
#define S_RANGE_LEN 40
#define S_BID_LEN 20 /* client id u64, batch seq u64, n u32 */

static inline void s_key(uint8_t *k, char prefix, uint32_t ls, uint64_t n)
{
    k[0] = (uint8_t)prefix;
    vl_put_be32(k + 1, ls);
    vl_put_be64(k + 5, n);
}

static inline bool s_key_is(const char *k, size_t klen, char prefix, uint32_t ls)
{
    return klen == S_KEY_LEN && k[0] == prefix && vl_get_be32((const uint8_t *)k + 1) == ls;
}

/*  ---- entries: one value per written batch --------------------------------

    'd' ls llsn_begin -> 'S', n u32, segment id u32, offset u64, CRC-32C
    u32 of the entries' bytes (big endian), n sizes u32 (little endian, as
    the wire carries them): the n entries lie back to back in the entry
    log, at that offset of that segment. Readers check the CRC the first
    time they use a batch's bytes (RocksDB checked its blocks on reads: a
    flipped bit on the disk is reported, not served). Stores of format 2
    also hold values written before the entry log, read as they are: 'd'
    ls llsn_begin -> 'B', n u32 (big endian), n sizes, the n entries. One
    RocksDB key per writer job instead of one per entry: the memtable, the
    compaction and every iteration cost per batch. An entry is found by
    the batch at or before its LLSN (seek for prev). */

#define S_BAT_HDR 5
#define S_SBAT_HDR 21

typedef struct {
    uint64_t start; /* LLSN of entry 0 */
    uint32_t n;
    const uint8_t *sizes; /* n u32 little endian */
    const uint8_t *data;  /* the entries back to back */
    size_t dlen;
    bool logged; /* 'S': data is in segment seg at seg_off */
    uint32_t seg;
    uint64_t seg_off;
    uint32_t crc; /* 'S': of data */
    bool checked; /* data matched crc (or needs no check: 'B') */
} s_bat_t;

/*  Checks b's bytes against their CRC once; false when they differ (a
    damaged disk or file). */
static inline bool s_bat_check(s_bat_t *b)
{
    if (!b->checked && vl_crc32c(0, b->data, b->dlen) == b->crc)
        b->checked = true;
    return b->checked;
}

/*  A reading position on one entry of one log stream, over batch values. */
typedef struct {
    vl_store_t *store;
    uint32_t ls;
    rocksdb_iterator_t *it;
    bool have; /* bat and idx/off name an entry */
    s_bat_t bat;
    uint32_t idx; /* entry index in bat */
    size_t off;   /* its byte offset in bat.data */
    bool corrupt; /* a value did not decode, or its bytes their CRC */
} s_ecur_t;

static inline uint64_t s_ecur_llsn(const s_ecur_t *c)
{
    return c->bat.start + c->idx;
}

/*  True when c is on entry llsn. */
static inline bool s_ecur_at(const s_ecur_t *c, uint64_t llsn)
{
    return c->have && s_ecur_llsn(c) == llsn;
}

static inline uint32_t s_ecur_size(const s_ecur_t *c)
{
    return vl_wire_size(c->bat.sizes, c->idx);
}

static inline const uint8_t *s_ecur_data(const s_ecur_t *c)
{
    return c->bat.data + c->off;
}

/*  ---- store.c ------------------------------------------------------------ */

/*  Sets the calling thread's message (vl_store_errmsg). */
void vl_store_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  Destroys iterator it; returns rc when set (freeing the iterator's error,
    if any), else 0 or VL_ESTORE for the iterator's error ("rocksdb what"). */
int vl_store_iter_done(rocksdb_iterator_t *it, int rc, const char *what);

/*  Writes batch b as the next record of the entry log (synced when sync)
    and applies it to RocksDB. On failure nothing of it stays, in the log or
    in RocksDB. */
int vl_store_log_write(vl_store_t *self, vl_store_batch_t *b, bool sync);

/*  ---- store_batch.c ------------------------------------------------------ */

/*  Puts a 'B' value (the entries inside it): the format-1 conversion and
    the cut of a batch from before the entry log. */
void vl_store_batch_put_inline(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin,
                               uint32_t n, const uint8_t *sizes, const void *data, size_t bytes);

/*  ---- store_read.c ------------------------------------------------------- */

/*  Decodes a batch value; false when the key is not a 'd' key of ls or the
    value is malformed (sizes that do not add up to the payload, bytes
    outside the entry log). The caller holds the entry log's read lock. */
bool vl_store_read_bat_decode(vl_store_t *self, const char *key, size_t klen, const char *v,
                              size_t vlen, uint32_t ls, s_bat_t *b);

/*  Positions c on entry llsn, or, when the store lacks it, on the first
    entry past it (c->have false when there is none). */
void vl_store_read_seek(s_ecur_t *c, uint64_t llsn);

/*  True when the bytes of c's batch may be used (checked against their
    CRC, once per batch); else marks c corrupt (vl_store_read_done says so). */
bool vl_store_read_check(s_ecur_t *c);

/*  Frees c; returns rc, or the iterator's error, or VL_ESTORE for a value
    that did not decode. */
int vl_store_read_done(s_ecur_t *c, int rc, const char *what);

/*  A flush that finds the disk full stops RocksDB's writes (a background
    error, cleared by RocksDB itself once there is room again), so flushes
    of ours are started only when the disk has room for one: true when it
    has the memtables' size and S_FLUSH_SLACK (*free_p: bytes free,
    UINT64_MAX when unknown; *need_p: what a flush needs). */
#define S_FLUSH_SLACK (1u << 20)
bool vl_store_flush_room(vl_store_t *self, uint64_t *free_p, uint64_t *need_p);

/*  ---- store_gc.c --------------------------------------------------------- */

/*  Frees what trims and deletions left (after a write that deleted, and
    after the writes that follow while there is more to do: gc_more). */
void vl_store_gc_run(vl_store_t *self);
/*  Allocates DIR/vlog/reserve when missing and the disk has room (at open,
    after a cleaning). */
void vl_store_gc_reserve(vl_store_t *self);
/*  Removes it (the disk is full): true when there was one. */
bool vl_store_gc_release(vl_store_t *self);
/*  Before RocksDB opens: on a disk with less than a few MiB free, removes
    the reserve, so that RocksDB can write what its open writes (a new
    MANIFEST, an OPTIONS file, the flush after the replay) and the node
    starts, reports its full disk and serves reads. */
void vl_store_gc_open_room(vl_store_t *self);

#endif
