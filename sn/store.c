/*  store.c - the storage node's RocksDB store.

    Keys and values are documented in store.h. All numbers, in keys and in
    values, are big endian. RocksDB reports errors as a malloc'd char *err;
    they are turned into VL_ESTORE and a thread-local message here, once
    (s_check), and nowhere else.

    Entries are stored one value per written batch (see "entries" below),
    their bytes in the entry log (vlog.c), which this file drives: it
    writes each batch there first (s_log_write), answers the log's hooks
    (replay, flush, position) and decides which segments may go
    (s_log_gc). Reads use iterators bounded by the key prefix of their log
    stream; an entry missing inside a stored commit range means it was
    trimmed, which the readers report as VL_ETRIMMED rather than skipping.
*/
#include <errno.h>
#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "crc32c.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "vlog.h"

struct vl_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo; /* no RocksDB WAL: the entry log is the WAL */
    rocksdb_readoptions_t *ro;
    char *dir;
    vl_vlog_t *vlog; /* the entry log: the entries' bytes */
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

static __thread char s_errmsg[512];

static void s_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_errmsg, sizeof s_errmsg, fmt, ap);
    va_end(ap);
}

/*  Translates RocksDB's error string (and frees it). */
static int s_check(char *err, const char *what)
{
    if (!err)
        return 0;
    s_seterr("rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return VL_ESTORE;
}

const char *vl_store_errmsg(void)
{
    return s_errmsg;
}

static void s_key(uint8_t *k, char prefix, uint32_t ls, uint64_t n)
{
    k[0] = (uint8_t)prefix;
    vl_put_be32(k + 1, ls);
    vl_put_be64(k + 5, n);
}

static bool s_key_is(const char *k, size_t klen, char prefix, uint32_t ls)
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

/*  Decodes a batch value; false when the key is not a 'd' key of ls or the
    value is malformed (sizes that do not add up to the payload, bytes
    outside the entry log). The caller holds the entry log's read lock. */
static bool s_bat_decode(vl_store_t *self, const char *key, size_t klen, const char *v, size_t vlen,
                         uint32_t ls, s_bat_t *b)
{
    if (!s_key_is(key, klen, 'd', ls) || vlen < S_BAT_HDR)
        return false;
    b->start = vl_get_be64((const uint8_t *)key + 5);
    b->n = vl_get_be32((const uint8_t *)v + 1);
    if (v[0] == 'S') {
        if (b->n == 0 || vlen < S_SBAT_HDR || (vlen - S_SBAT_HDR) / 4 != b->n ||
            (vlen - S_SBAT_HDR) % 4)
            return false;
        b->logged = true;
        b->seg = vl_get_be32((const uint8_t *)v + 5);
        b->seg_off = vl_get_be64((const uint8_t *)v + 9);
        b->crc = vl_get_be32((const uint8_t *)v + 17);
        b->checked = false;
        b->sizes = (const uint8_t *)v + S_SBAT_HDR;
        b->dlen = vl_wire_sizes_sum(b->sizes, b->n);
        b->data = vl_vlog_bytes(self->vlog, b->seg, b->seg_off, b->dlen);
        return b->data != NULL;
    }
    if (v[0] != 'B' || b->n == 0 || (vlen - S_BAT_HDR) / 4 < b->n)
        return false;
    b->logged = false;
    b->checked = true; /* RocksDB checks its blocks */
    b->sizes = (const uint8_t *)v + S_BAT_HDR;
    b->data = b->sizes + 4 * (size_t)b->n;
    b->dlen = vlen - S_BAT_HDR - 4 * (size_t)b->n;
    return vl_wire_sizes_sum(b->sizes, b->n) == b->dlen;
}

/*  Checks b's bytes against their CRC once; false when they differ (a
    damaged disk or file). */
static bool s_bat_check(s_bat_t *b)
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

static void s_ecur_load(s_ecur_t *c)
{
    c->have = false;
    if (!rocksdb_iter_valid(c->it))
        return;
    size_t klen, vlen;
    const char *key = rocksdb_iter_key(c->it, &klen);
    if (!s_key_is(key, klen, 'd', c->ls))
        return;
    const char *v = rocksdb_iter_value(c->it, &vlen);
    if (!s_bat_decode(c->store, key, klen, v, vlen, c->ls, &c->bat)) {
        c->corrupt = true;
        return;
    }
    c->have = true;
    c->idx = 0;
    c->off = 0;
}

/*  Positions c on entry llsn, or, when the store lacks it, on the first
    entry past it (c->have false when there is none). */
static void s_ecur_seek(s_ecur_t *c, uint64_t llsn)
{
    if (!c->it) {
        /* the entries point into log segments: none goes away meanwhile */
        vl_vlog_rdlock(c->store->vlog);
        c->it = rocksdb_create_iterator(c->store->db, c->store->ro);
    }
    uint8_t k[S_KEY_LEN];
    s_key(k, 'd', c->ls, llsn);
    rocksdb_iter_seek_for_prev(c->it, (const char *)k, sizeof k);
    s_ecur_load(c);
    if (c->have && c->bat.start + c->bat.n > llsn) {
        for (uint64_t l = c->bat.start; l < llsn; l++)
            c->off += vl_wire_size(c->bat.sizes, c->idx++);
        return;
    }
    /* the batch before ends below llsn (or there is none): the next one */
    if (c->have)
        rocksdb_iter_next(c->it);
    else
        rocksdb_iter_seek(c->it, (const char *)k, sizeof k);
    s_ecur_load(c);
}

static uint64_t s_ecur_llsn(const s_ecur_t *c)
{
    return c->bat.start + c->idx;
}

/*  True when c is on entry llsn. */
static bool s_ecur_at(const s_ecur_t *c, uint64_t llsn)
{
    return c->have && s_ecur_llsn(c) == llsn;
}

static uint32_t s_ecur_size(const s_ecur_t *c)
{
    return vl_wire_size(c->bat.sizes, c->idx);
}

static const uint8_t *s_ecur_data(const s_ecur_t *c)
{
    return c->bat.data + c->off;
}

/*  True when the bytes of c's batch may be used (checked against their
    CRC, once per batch); else marks c corrupt (s_ecur_done says so). */
static bool s_ecur_check(s_ecur_t *c)
{
    if (s_bat_check(&c->bat))
        return true;
    c->corrupt = true;
    s_seterr("ls=%u: the stored entries llsn=%llu..%llu fail their checksum (the data directory "
             "is damaged; replace this replica)",
             c->ls, (unsigned long long)c->bat.start,
             (unsigned long long)(c->bat.start + c->bat.n - 1));
    return false;
}

static void s_ecur_next(s_ecur_t *c)
{
    if (!c->have)
        return;
    c->off += s_ecur_size(c);
    if (++c->idx < c->bat.n)
        return;
    rocksdb_iter_next(c->it);
    s_ecur_load(c);
}

static int s_iter_done(rocksdb_iterator_t *it, int rc, const char *what);

/*  Frees c; returns rc, or the iterator's error, or VL_ESTORE for a value
    that did not decode. */
static int s_ecur_done(s_ecur_t *c, int rc, const char *what)
{
    /* a value that did not decode reads as a missing entry: say damaged,
       not trimmed */
    if ((!rc || rc == VL_ETRIMMED) && c->corrupt) {
        s_seterr("ls=%u: %s: a stored batch of entries is malformed (the data directory is "
                 "damaged; replace this replica)",
                 c->ls, what);
        rc = VL_ESTORE;
    }
    if (!c->it)
        return rc;
    rc = s_iter_done(c->it, rc, what);
    c->it = NULL;
    vl_vlog_unlock(c->store->vlog);
    return rc;
}

/*  ---- the entry log (vlog.c): what it asks of RocksDB ------------------------

    The entries' bytes are in the entry log (vlog.h, vlog.c); RocksDB holds
    where they are, and 'w', the log position of the last write. The log's
    hooks below apply its records, flush, read and store 'w' and look for
    entries a crash took; the cleaning of segments (s_log_gc) reads the
    'd' values and has the log drop the segments they no longer refer to.
    Errors cross between the two modules' thread-local messages: s_to_vlog
    when a hook fails, s_from_vlog when a vl_vlog call does. */

/*  Passes the store's message of failure rc (if any) to the entry log. */
static int s_to_vlog(int rc)
{
    if (rc)
        vl_vlog_seterr("%s", s_errmsg);
    return rc;
}

/*  Takes the entry log's message of failure rc (if any) as the store's. */
static int s_from_vlog(int rc)
{
    if (rc)
        s_seterr("%s", vl_vlog_errmsg());
    return rc;
}

/*  Flushes RocksDB's memtables (waiting for it when wait). Returns 0 or
    VL_ESTORE (message set, "flush <what>: ..."). */
static int s_flush(vl_store_t *self, bool wait, const char *what)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, wait);
    char *err = NULL;
    rocksdb_flush(self->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    return s_check(err, what);
}

static int s_hook_flush(void *arg, bool wait, const char *what)
{
    return s_to_vlog(s_flush(arg, wait, what));
}

/*  Applies the WriteBatch of a record again (the replay). */
static int s_hook_apply(void *arg, const uint8_t *rep, uint32_t replen)
{
    vl_store_t *self = arg;
    char *err = NULL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create_from((const char *)rep, replen);
    rocksdb_write(self->db, self->wo, wb, &err);
    rocksdb_writebatch_destroy(wb);
    return s_to_vlog(s_check(err, "replay the entry log"));
}

/*  Reads 'w': where RocksDB's durable state ends. */
static int s_hook_position(void *arg, uint8_t *pos, size_t *len_p, bool *found_p)
{
    vl_store_t *self = arg;
    char *err = NULL;
    size_t vlen = 0;
    char *w = rocksdb_get(self->db, self->ro, "w", 1, &vlen, &err);
    if (err)
        return s_to_vlog(s_check(err, "read the entry log position"));
    *found_p = w != NULL;
    *len_p = vlen;
    if (w) {
        memcpy(pos, w, vlen < VL_VLOG_POS_LEN ? vlen : VL_VLOG_POS_LEN);
        rocksdb_free(w);
    }
    return 0;
}

/*  Puts 'w' (pos), or deletes it (NULL), after the log lost its tail. */
static int s_hook_set_position(void *arg, const uint8_t *pos)
{
    vl_store_t *self = arg;
    char *err = NULL;
    if (!pos)
        rocksdb_delete(self->db, self->wo, "w", 1, &err);
    else
        rocksdb_put(self->db, self->wo, "w", 1, (const char *)pos, VL_VLOG_POS_LEN, &err);
    return s_to_vlog(s_check(err, "set the entry log position after its lost tail"));
}

/*  Sets *lost_p when the last batch of some log stream has bytes at or past
    offset off of segment seg: entries written without sync (--sync none)
    that a crash took from the log while RocksDB kept their values. */
static int s_log_lost_entries(void *arg, uint32_t seg, uint64_t off, bool *lost_p)
{
    vl_store_t *self = arg;
    *lost_p = false;
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    uint8_t k[S_KEY_LEN];
    s_key(k, 'd', 0, 0);
    rocksdb_iter_seek(it, (const char *)k, sizeof k);
    while (rocksdb_iter_valid(it) && !*lost_p) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != S_KEY_LEN || key[0] != 'd')
            break;
        uint32_t ls = vl_get_be32((const uint8_t *)key + 1);
        s_key(k, 'd', ls, UINT64_MAX); /* its last batch: the newest bytes */
        rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
        if (!rocksdb_iter_valid(it))
            break;
        const char *v = rocksdb_iter_value(it, &vlen);
        if (vlen >= S_SBAT_HDR && v[0] == 'S') {
            uint32_t n = vl_get_be32((const uint8_t *)v + 1);
            uint32_t vseg = vl_get_be32((const uint8_t *)v + 5);
            uint64_t voff = vl_get_be64((const uint8_t *)v + 9);
            uint64_t bytes = (vlen - S_SBAT_HDR) / 4 >= n
                                 ? vl_wire_sizes_sum((const uint8_t *)v + S_SBAT_HDR, n)
                                 : UINT64_MAX;
            if (vseg > seg || (vseg == seg && (voff > off || bytes > off - voff)))
                *lost_p = true;
        }
        if (ls == UINT32_MAX)
            break;
        s_key(k, 'd', ls + 1, 0);
        rocksdb_iter_seek(it, (const char *)k, sizeof k);
    }
    return s_to_vlog(s_iter_done(it, 0, "look for entries the entry log lost"));
}

/*  Writes batch b as the next record of the entry log (synced when sync)
    and applies it to RocksDB. On failure nothing of it stays, in the log or
    in RocksDB. */
static int s_log_write(vl_store_t *self, vl_store_batch_t *b, bool sync)
{
    int rc = vl_vlog_rec_begin(self->vlog, &b->rec);
    if (rc)
        return s_from_vlog(rc);
    /* the record names itself: after a crash, 'w' says which record
       RocksDB's last flush covered, and the replay goes on after it */
    uint8_t wv[VL_VLOG_POS_LEN];
    vl_vlog_rec_pos(&b->rec, wv);
    rocksdb_writebatch_put(b->wb, "w", 1, (const char *)wv, sizeof wv);
    size_t replen;
    const char *repdata = rocksdb_writebatch_data(b->wb, &replen);
    rc = vl_vlog_rec_write(self->vlog, &b->rec, repdata, replen, sync);
    if (rc)
        return s_from_vlog(rc);
    char *err = NULL;
    rocksdb_write(self->db, self->wo, b->wb, &err);
    rc = s_check(err, "write");
    if (rc) /* RocksDB did not take it: neither may a replay */
        vl_vlog_rec_cancel(self->vlog, &b->rec);
    return rc;
}

/*  Removes the segments nothing needs any more: below the oldest one a
    stored batch refers to (per log stream, its first batch is its oldest)
    and, after a flush, below the one written. Runs in the writer thread.
    False when it could not look, or batches from before the entry log
    (format 2) keep every segment. */
static bool s_log_drop(vl_store_t *self)
{
    if (vl_vlog_nsegs(self->vlog) < 2)
        return true;
    uint32_t keep = vl_vlog_last_id(self->vlog);
    bool legacy = false;
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    uint8_t k[S_KEY_LEN];
    s_key(k, 'd', 0, 0);
    for (rocksdb_iter_seek(it, (const char *)k, sizeof k); rocksdb_iter_valid(it);) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != S_KEY_LEN || key[0] != 'd')
            break;
        const char *v = rocksdb_iter_value(it, &vlen);
        uint32_t ls = vl_get_be32((const uint8_t *)key + 1);
        if (vlen >= S_SBAT_HDR && v[0] == 'S') {
            uint32_t seg = vl_get_be32((const uint8_t *)v + 5);
            if (seg < keep)
                keep = seg;
        } else {
            keep = 0; /* a batch from before the entry log: keep everything */
            legacy = true;
        }
        if (ls == UINT32_MAX || keep <= vl_vlog_first_id(self->vlog))
            break;
        s_key(k, 'd', ls + 1, 0);
        rocksdb_iter_seek(it, (const char *)k, sizeof k);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        vl_log(LOG_WARNING, "store: entry log cleanup: %s", err);
        rocksdb_free(err);
        return false;
    }
    if (keep <= vl_vlog_first_id(self->vlog))
        return !legacy;
    if (!vl_vlog_drop(self->vlog, keep))
        return false;
    return !legacy;
}

/*  Walks every log stream whose oldest batch lies in segment seg (a log
    stream's batches are in segment order, so that is its first one): adds
    the bytes of all its batches to *live_p, stopping once that passes
    limit; with b, also puts all of them again into b, their bytes to be
    copied to the end of the log. A log stream moves whole, so its batches
    stay in segment order. */
static int s_seg_walk(vl_store_t *self, uint32_t seg, uint64_t limit, uint64_t *live_p,
                      vl_store_batch_t *b)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    uint8_t k[S_KEY_LEN];
    s_key(k, 'd', 0, 0);
    rocksdb_iter_seek(it, (const char *)k, sizeof k);
    int rc = 0;
    bool moving = false; /* walking a log stream whose first batch is in seg */
    while (rocksdb_iter_valid(it) && *live_p <= limit) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != S_KEY_LEN || key[0] != 'd')
            break;
        uint32_t ls = vl_get_be32((const uint8_t *)key + 1);
        const char *v = rocksdb_iter_value(it, &vlen);
        s_bat_t bat;
        if (!s_bat_decode(self, key, klen, v, vlen, ls, &bat)) {
            s_seterr("ls=%u: a stored batch is malformed or refers to bytes the entry log does "
                     "not hold (the data directory is damaged; replace this replica)",
                     ls);
            rc = VL_ESTORE;
            break;
        }
        if (!moving && (!bat.logged || bat.seg != seg)) {
            /* its first batch is elsewhere: the next log stream */
            if (ls == UINT32_MAX)
                break;
            s_key(k, 'd', ls + 1, 0);
            rocksdb_iter_seek(it, (const char *)k, sizeof k);
            continue;
        }
        moving = true;
        *live_p += bat.dlen;
        if (b && bat.logged && !s_bat_check(&bat)) {
            s_seterr("ls=%u: the stored entries llsn=%llu.. fail their checksum (the data "
                     "directory is damaged; replace this replica)",
                     ls, (unsigned long long)bat.start);
            rc = VL_ESTORE;
            break;
        }
        if (b && bat.logged)
            vl_store_batch_put_entries_ref(b, self, ls, bat.start, bat.n, bat.sizes, bat.data,
                                           bat.dlen);
        rocksdb_iter_next(it);
        /* the next key: still this log stream, or the first of another */
        if (rocksdb_iter_valid(it)) {
            const char *nk = rocksdb_iter_key(it, &klen);
            if (klen != S_KEY_LEN || nk[0] != 'd' || vl_get_be32((const uint8_t *)nk + 1) != ls)
                moving = false;
        }
    }
    return s_iter_done(it, rc, "walk an entry log segment");
}

/*  Frees what trims and deletions left: segments nothing refers to go
    (s_log_drop); then, while the oldest segment is kept by log streams
    that hold little (a quarter of a segment or less in all: one trimmed
    less often than the others, a quiet topic), those log streams are
    copied whole to the end of the log so that it can go too. At most
    S_GC_MOVES segments per call: this runs in the writer thread, appends
    wait meanwhile. */
#define S_GC_MOVES 4
static void s_log_gc(vl_store_t *self)
{
    for (int i = 0;; i++) {
        if (!s_log_drop(self) || i == S_GC_MOVES || vl_vlog_nsegs(self->vlog) < 2)
            return;
        /* the copy must not start a segment while the read lock is held */
        if (vl_vlog_rotate_full(self->vlog) != 0)
            return;
        uint32_t seg = vl_vlog_first_id(self->vlog);
        uint64_t live = 0, limit = vl_vlog_first_size(self->vlog) / 4;
        vl_vlog_rdlock(self->vlog);
        int rc = s_seg_walk(self, seg, limit, &live, NULL);
        vl_vlog_unlock(self->vlog);
        if (rc || live > limit)
            return;
        vl_store_batch_t *b = vl_store_batch_new();
        live = 0;
        vl_vlog_rdlock(self->vlog);
        rc = s_seg_walk(self, seg, limit, &live, b);
        vl_vlog_unlock(self->vlog);
        /* seg stays mapped until s_log_drop: b's bytes point into it */
        if (!rc)
            rc = s_log_write(self, b, true);
        vl_store_batch_destroy(&b);
        if (rc) {
            vl_log(LOG_WARNING, "store: moving the live entries out of segment %u: %s", seg,
                   s_errmsg);
            return;
        }
        vl_log(LOG_INFO, "store: moved %llu live bytes out of entry log segment %u to free it",
               (unsigned long long)live, seg);
    }
}

void vl_store_set_segment_bytes(vl_store_t *self, uint64_t bytes)
{
    vl_vlog_set_segment_bytes(self->vlog, bytes);
}

void vl_store_set_map_step(vl_store_t *self, uint64_t bytes)
{
    vl_vlog_set_map_step(self->vlog, bytes);
}

size_t vl_store_segments(vl_store_t *self)
{
    return vl_vlog_segments(self->vlog);
}

/*  ---- open / close ---------------------------------------------------- */

#define S_FORMAT 3 /* 1: one 'd' key per entry; 2: one per batch; 3: the entry log */

static void s_put_inline(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t n,
                         const uint8_t *sizes, const void *data, size_t bytes);

/*  Checks the store's format ('v' key) and brings a store of format 1 (one
    'd' key per entry, written before batches were stored whole) to format
    2, each entry becoming a batch of one, in one synced write with the new
    'v' key (atomic: a crash leaves the old format, converted again).
    Format 2 needs no conversion: its batches are read where they are, new
    ones go to the entry log. */
static int s_format(vl_store_t *self)
{
    char *err = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get(self->db, self->ro, "v", 1, &vlen, &err);
    if (err)
        return s_check(err, "read the format");
    int format = v && vlen == 1 ? v[0] : 0;
    if (v)
        rocksdb_free(v);
    if (format == S_FORMAT)
        return 0;
    if (format > S_FORMAT || (v && vlen != 1)) {
        s_seterr("data directory %s has store format %d; this varlogsn reads format %d (use "
                 "the varlogsn that wrote it)",
                 self->dir, format, S_FORMAT);
        return VL_ESTORE;
    }
    vl_store_batch_t *b = vl_store_batch_new();
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    int rc = 0;
    for (rocksdb_iter_seek(it, "d", 1); format < 2 && rocksdb_iter_valid(it);
         rocksdb_iter_next(it)) {
        size_t klen, elen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != S_KEY_LEN || key[0] != 'd')
            break;
        const char *e = rocksdb_iter_value(it, &elen);
        uint8_t size[4];
        vl_put_le32(size, (uint32_t)elen);
        s_put_inline(b, vl_get_be32((const uint8_t *)key + 1),
                     vl_get_be64((const uint8_t *)key + 5), 1, size, e, elen);
    }
    rc = s_iter_done(it, rc, "convert entries to batches");
    const char fmt = S_FORMAT;
    rocksdb_writebatch_put(b->wb, "v", 1, &fmt, 1);
    if (!rc)
        rc = vl_store_write(self, b, true);
    vl_store_batch_destroy(&b);
    return rc;
}

int vl_store_open(const char *dir, uint64_t memtable_bytes, vl_store_t **store_p)
{
    *store_p = NULL;
    vl_store_t *self = vl_calloc(1, sizeof *self);
    self->dir = vl_strdup(dir);
    self->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(self->opts, 1);
    /* The memtables hold where entries are, commit ranges and states, not
       the entries (those are in the entry log): a few dozen bytes per
       written batch, so 64 MiB (varlogsn's default) rarely fills before a
       segment rotation flushes it. When the entries were values, 256 MiB
       against 64 gave +15-35 % appends. */
    rocksdb_options_set_write_buffer_size(self->opts,
                                          memtable_bytes ? (size_t)memtable_bytes : 64u << 20);
    rocksdb_options_set_max_write_buffer_number(self->opts, 4);
    rocksdb_options_increase_parallelism(self->opts, 2);
    char *err = NULL;
    self->db = rocksdb_open(self->opts, dir, &err);
    if (!self->db) {
        s_seterr("rocksdb open %s: %s (is another varlogsn using this data directory?)", dir,
                 err ? err : "unknown error");
        if (err)
            rocksdb_free(err);
        int rc = VL_ESTORE;
        rocksdb_options_destroy(self->opts);
        free(self->dir);
        free(self);
        return rc;
    }
    self->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(self->wo, 1);
    self->ro = rocksdb_readoptions_create();
    vl_vlog_hooks_t hooks = {.arg = self,
                             .apply = s_hook_apply,
                             .flush = s_hook_flush,
                             .position = s_hook_position,
                             .set_position = s_hook_set_position,
                             .lost = s_log_lost_entries};
    self->vlog = vl_vlog_new(dir, &hooks);
    int rc = s_from_vlog(vl_vlog_open(self->vlog));
    if (!rc)
        rc = s_format(self);
    if (rc) {
        vl_store_destroy(&self);
        return rc;
    }
    *store_p = self;
    return 0;
}

void vl_store_destroy(vl_store_t **self_p)
{
    vl_store_t *self = *self_p;
    if (!self)
        return;
    /* the memtables hold what only the entry log has: flush them so that
       the next start replays nothing (the log synced first: the flush must
       not get ahead of it) */
    if (vl_vlog_sync(self->vlog) != 0)
        vl_log(LOG_WARNING, "store: fdatasync of the entry log at close: %s", strerror(errno));
    if (s_flush(self, true, "flush at close") != 0)
        vl_log(LOG_WARNING, "store: %s (the next start replays the entry log)", s_errmsg);
    rocksdb_close(self->db);
    vl_vlog_destroy(&self->vlog);
    rocksdb_writeoptions_destroy(self->wo);
    rocksdb_readoptions_destroy(self->ro);
    rocksdb_options_destroy(self->opts);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/*  ---- states ---------------------------------------------------------- */

static void s_state_encode(const vl_store_state_t *s, uint8_t *v)
{
    vl_put_be32(v, s->topic_id);
    vl_put_be64(v + 4, s->llsn_end);
    vl_put_be64(v + 12, s->bytes_end);
    vl_put_be64(v + 20, s->applied_llsn_end);
    vl_put_be64(v + 28, s->hwm);
    vl_put_be64(v + 36, s->trim_glsn);
}

static int s_state_decode(uint32_t ls, const char *v, size_t vlen, vl_store_state_t *s)
{
    if (vlen != S_STATE_LEN) {
        s_seterr("ls=%u: replica state has %zu bytes, expected %d: the data directory is "
                 "corrupt or from another version",
                 ls, vlen, S_STATE_LEN);
        return VL_ESTORE;
    }
    const uint8_t *p = (const uint8_t *)v;
    memset(s, 0, sizeof *s);
    s->ls_id = ls;
    s->topic_id = vl_get_be32(p);
    s->llsn_end = vl_get_be64(p + 4);
    s->bytes_end = vl_get_be64(p + 12);
    s->applied_llsn_end = vl_get_be64(p + 20);
    s->hwm = vl_get_be64(p + 28);
    s->trim_glsn = vl_get_be64(p + 36);
    return 0;
}

int vl_store_states(vl_store_t *self, vl_store_state_t **states_p, size_t *n_p)
{
    *states_p = NULL;
    *n_p = 0;
    size_t n = 0, cap = 16;
    vl_store_state_t *states = vl_malloc(cap * sizeof *states);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    int rc = 0;
    for (rocksdb_iter_seek(it, "m", 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        if (klen < 1 || k[0] != 'm')
            break;
        if (klen != S_KEY_LS) {
            s_seterr("replica state key of %zu bytes: the data directory is corrupt", klen);
            rc = VL_ESTORE;
            break;
        }
        const char *v = rocksdb_iter_value(it, &vlen);
        if (n == cap) {
            cap *= 2;
            states = vl_realloc(states, cap * sizeof *states);
        }
        rc = s_state_decode(vl_get_be32((const uint8_t *)k + 1), v, vlen, &states[n]);
        if (rc)
            break;
        n++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (!rc)
        rc = s_check(err, "read replica states");
    else if (err)
        rocksdb_free(err);
    rocksdb_iter_destroy(it);
    if (rc) {
        free(states);
        return rc;
    }
    *states_p = states;
    *n_p = n;
    return 0;
}

int vl_store_state(vl_store_t *self, uint32_t ls_id, vl_store_state_t *state)
{
    uint8_t k[S_KEY_LS];
    k[0] = 'm';
    vl_put_be32(k + 1, ls_id);
    size_t vlen;
    char *err = NULL;
    char *v = rocksdb_get(self->db, self->ro, (const char *)k, sizeof k, &vlen, &err);
    int rc = s_check(err, "read replica state");
    if (rc)
        return rc;
    if (!v) {
        s_seterr("ls=%u: no replica state", ls_id);
        return VL_ENOLS;
    }
    rc = s_state_decode(ls_id, v, vlen, state);
    rocksdb_free(v);
    return rc;
}

/*  ---- batches ---------------------------------------------------------- */

vl_store_batch_t *vl_store_batch_new(void)
{
    vl_store_batch_t *self = vl_calloc(1, sizeof *self);
    self->wb = rocksdb_writebatch_create();
    return self;
}

void vl_store_batch_destroy(vl_store_batch_t **self_p)
{
    vl_store_batch_t *self = *self_p;
    if (!self)
        return;
    rocksdb_writebatch_destroy(self->wb);
    vl_vlog_rec_free(&self->rec);
    free(self);
    *self_p = NULL;
}

void vl_store_batch_clear(vl_store_batch_t *self)
{
    rocksdb_writebatch_clear(self->wb);
    vl_vlog_rec_clear(&self->rec);
    self->deletes = false;
}

int vl_store_batch_count(vl_store_batch_t *self)
{
    return rocksdb_writebatch_count(self->wb);
}

/*  Puts an 'S' value: n entries at off of segment seg. */
static void s_put_logged(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t n,
                         const uint8_t *sizes, uint32_t seg, uint64_t off, uint32_t crc)
{
    uint8_t k[S_KEY_LEN], hdr[S_SBAT_HDR];
    s_key(k, 'd', ls_id, llsn_begin);
    hdr[0] = 'S';
    vl_put_be32(hdr + 1, n);
    vl_put_be32(hdr + 5, seg);
    vl_put_be64(hdr + 9, off);
    vl_put_be32(hdr + 17, crc);
    const char *keys[1] = {(const char *)k};
    size_t klens[1] = {sizeof k};
    const char *vals[2] = {(const char *)hdr, (const char *)sizes};
    size_t vlens[2] = {sizeof hdr, 4 * (size_t)n};
    rocksdb_writebatch_putv(self->wb, 1, keys, klens, 2, vals, vlens);
}

static void s_put_entries(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                          uint64_t llsn_begin, uint32_t n, const uint8_t *sizes, const void *data,
                          size_t bytes, bool copy)
{
    if (n == 0)
        return;
    uint32_t seg;
    uint64_t off;
    if (!vl_vlog_reserve(store->vlog, &self->rec, bytes, &seg, &off))
        return; /* vl_store_write fails with the reason */
    vl_vlog_rec_add(&self->rec, copy ? NULL : data, data, bytes);
    s_put_logged(self, ls_id, llsn_begin, n, sizes, seg, off, vl_crc32c(0, data, bytes));
}

void vl_store_batch_put_entries(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                const void *data, size_t bytes)
{
    s_put_entries(self, store, ls_id, llsn_begin, n, sizes, data, bytes, true);
}

void vl_store_batch_put_entries_ref(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                    uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                    const void *data, size_t bytes)
{
    s_put_entries(self, store, ls_id, llsn_begin, n, sizes, data, bytes, false);
}

/*  Puts a 'B' value (the entries inside it): the format-1 conversion and
    the cut of a batch from before the entry log. */
static void s_put_inline(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t n,
                         const uint8_t *sizes, const void *data, size_t bytes)
{
    if (n == 0)
        return;
    uint8_t k[S_KEY_LEN], hdr[S_BAT_HDR];
    s_key(k, 'd', ls_id, llsn_begin);
    hdr[0] = 'B';
    vl_put_be32(hdr + 1, n);
    /* three parts, no copy of the payload into one buffer */
    const char *keys[1] = {(const char *)k};
    size_t klens[1] = {sizeof k};
    const char *vals[3] = {(const char *)hdr, (const char *)sizes, bytes ? data : ""};
    size_t vlens[3] = {sizeof hdr, 4 * (size_t)n, bytes};
    rocksdb_writebatch_putv(self->wb, 1, keys, klens, 3, vals, vlens);
}

void vl_store_batch_put_entry(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                              uint64_t llsn, const void *data, size_t len)
{
    uint8_t size[4];
    vl_put_le32(size, (uint32_t)len);
    vl_store_batch_put_entries(self, store, ls_id, llsn, 1, size, data, len);
}
void vl_store_batch_put_state(vl_store_batch_t *self, const vl_store_state_t *state)
{
    uint8_t k[S_KEY_LS], v[S_STATE_LEN];
    k[0] = 'm';
    vl_put_be32(k + 1, state->ls_id);
    s_state_encode(state, v);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
}

void vl_store_batch_put_range(vl_store_batch_t *self, uint32_t ls_id, const vl_store_range_t *r)
{
    uint8_t k[S_KEY_LEN], v[S_RANGE_LEN];
    s_key(k, 'c', ls_id, r->glsn_begin);
    vl_put_be64(v, r->llsn_begin);
    vl_put_be64(v + 8, r->count);
    vl_put_be64(v + 16, r->offset_begin);
    vl_put_be64(v + 24, r->bytes);
    vl_put_be64(v + 32, r->version);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
    /* A range without bytes holds no offset, and its offset_begin equals
       the next range's: it gets no 'o' key, so 'o' keys stay unique. */
    if (r->bytes > 0) {
        uint8_t ok[S_KEY_LEN], ov[8];
        s_key(ok, 'o', ls_id, r->offset_begin);
        vl_put_be64(ov, r->glsn_begin);
        rocksdb_writebatch_put(self->wb, (const char *)ok, sizeof ok, (const char *)ov, sizeof ov);
    }
}

static void s_delete_range(vl_store_batch_t *self, char prefix, uint32_t ls, uint64_t from,
                           uint64_t to)
{
    if (from >= to)
        return;
    uint8_t b[S_KEY_LEN], e[S_KEY_LEN];
    s_key(b, prefix, ls, from);
    s_key(e, prefix, ls, to);
    self->deletes = true;
    rocksdb_writebatch_delete_range(self->wb, (const char *)b, sizeof b, (const char *)e, sizeof e);
}

void vl_store_batch_delete_entries(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_from,
                                   uint64_t llsn_to)
{
    if (llsn_from > llsn_to)
        return;
    /* the entries, and the names of the batches that begin among them */
    static const char prefixes[] = {'d', 'b'};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        if (llsn_to < UINT64_MAX) {
            s_delete_range(self, prefixes[i], ls_id, llsn_from, llsn_to + 1);
            continue;
        }
        /* [from, end of the ls): the u64 part cannot reach the next ls */
        uint8_t b[S_KEY_LEN], e[S_KEY_LEN];
        s_key(b, prefixes[i], ls_id, llsn_from);
        if (ls_id == UINT32_MAX) {
            e[0] = (uint8_t)(prefixes[i] + 1);
            memset(e + 1, 0, S_KEY_LEN - 1);
        } else
            s_key(e, prefixes[i], ls_id + 1, 0);
        self->deletes = true;
        self->deletes = true;
        rocksdb_writebatch_delete_range(self->wb, (const char *)b, sizeof b, (const char *)e,
                                        sizeof e);
    }
}

int vl_store_batch_truncate(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                            uint64_t llsn_end)
{
    /* the batch holding llsn_end + 1 may begin at or before llsn_end: it is
       written again with its entries up to llsn_end only */
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, llsn_end + 1);
    int rc = 0;
    if (s_ecur_at(&c, llsn_end + 1) && c.bat.start <= llsn_end) {
        uint32_t keep = (uint32_t)(llsn_end + 1 - c.bat.start);
        if (c.bat.logged && !s_ecur_check(&c))
            ;                  /* damaged: s_ecur_done says so */
        else if (c.bat.logged) /* the same bytes in the log, fewer of them */
            s_put_logged(batch, ls_id, c.bat.start, keep, c.bat.sizes, c.bat.seg, c.bat.seg_off,
                         vl_crc32c(0, c.bat.data, c.off));
        else
            s_put_inline(batch, ls_id, c.bat.start, keep, c.bat.sizes, c.bat.data, c.off);
    }
    rc = s_ecur_done(&c, rc, "truncate");
    if (rc)
        return rc;
    vl_store_batch_delete_entries(batch, ls_id, llsn_end + 1, UINT64_MAX);
    return 0;
}

void vl_store_batch_put_bid(vl_store_batch_t *self, uint32_t ls_id, const vl_batch_id_t *id)
{
    uint8_t k[S_KEY_LEN], v[S_BID_LEN];
    s_key(k, 'b', ls_id, id->llsn_begin);
    vl_put_be64(v, id->client_id);
    vl_put_be64(v + 8, id->batch_seq);
    vl_put_be32(v + 16, id->n);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
}

void vl_store_batch_delete_ls(vl_store_batch_t *self, uint32_t ls_id)
{
    vl_store_batch_delete_data(self, ls_id);
    uint8_t k[S_KEY_LS];
    k[0] = 'm';
    vl_put_be32(k + 1, ls_id);
    rocksdb_writebatch_delete(self->wb, (const char *)k, sizeof k);
}

void vl_store_batch_delete_data(vl_store_batch_t *self, uint32_t ls_id)
{
    static const char prefixes[] = {'d', 'c', 'o', 'b'};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        /* [prefix ls 0, prefix ls+1 0): the u64 part cannot reach the end
           key of ls, so the range also covers key UINT64_MAX. */
        uint8_t b[S_KEY_LEN], e[S_KEY_LEN];
        s_key(b, prefixes[i], ls_id, 0);
        if (ls_id == UINT32_MAX) {
            e[0] = (uint8_t)(prefixes[i] + 1);
            memset(e + 1, 0, S_KEY_LEN - 1);
        } else
            s_key(e, prefixes[i], ls_id + 1, 0);
        self->deletes = true;
        self->deletes = true;
        rocksdb_writebatch_delete_range(self->wb, (const char *)b, sizeof b, (const char *)e,
                                        sizeof e);
    }
}

static int s_range_decode(const char *k, const char *v, size_t vlen, vl_store_range_t *r)
{
    if (vlen != S_RANGE_LEN) {
        s_seterr("commit range of %zu bytes, expected %d: the data directory is corrupt", vlen,
                 S_RANGE_LEN);
        return VL_ESTORE;
    }
    const uint8_t *p = (const uint8_t *)v;
    r->llsn_begin = vl_get_be64(p);
    r->count = vl_get_be64(p + 8);
    r->offset_begin = vl_get_be64(p + 16);
    r->bytes = vl_get_be64(p + 24);
    r->version = vl_get_be64(p + 32);
    r->glsn_begin = vl_get_be64((const uint8_t *)k + 5);
    return 0;
}

static int s_iter_done(rocksdb_iterator_t *it, int rc, const char *what)
{
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (rc) {
        if (err)
            rocksdb_free(err);
        return rc;
    }
    return s_check(err, what);
}

int vl_store_batch_trim(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                        uint64_t trim_glsn)
{
    if (trim_glsn <= 1)
        return 0;
    /* The last range starting below the trim point decides the cut: if it
       reaches the trim point it stays (only its entries below go), if it
       ends below, it goes too. */
    vl_store_range_t r;
    int rc = vl_store_find_range(self, ls_id, trim_glsn - 1, &r);
    if (rc == VL_ERANGE)
        return 0; /* no commit range below the trim point */
    if (rc)
        return rc;
    uint64_t range_end = r.glsn_begin + r.count;
    uint64_t keep_llsn, keep_glsn_key, keep_offset_key;
    if (range_end > trim_glsn) {
        keep_llsn = r.llsn_begin + (trim_glsn - r.glsn_begin);
        keep_glsn_key = r.glsn_begin;
        keep_offset_key = r.offset_begin;
    } else {
        keep_llsn = r.llsn_begin + r.count;
        keep_glsn_key = range_end;
        keep_offset_key = r.offset_begin + r.bytes;
    }
    /* a batch that holds keep_llsn stays whole (its entries below the
       trim point are no longer read: the trim point says so) */
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, keep_llsn);
    uint64_t keep_key = s_ecur_at(&c, keep_llsn) ? c.bat.start : keep_llsn;
    rc = s_ecur_done(&c, 0, "trim");
    if (rc)
        return rc;
    /* Batch names are kept for every entry still held (from keep_key on),
       the one that straddles keep_key included: BATCH_STATUS must never
       call a batch absent whose entries were committed and trimmed (it
       answers "not final" below the first entry held). */
    uint64_t keep_name = keep_key;
    vl_wbuf_t holder;
    vl_wbuf_init(&holder);
    uint32_t nholder = 0;
    rc = vl_store_read_bids(self, ls_id, keep_key, keep_key, &holder, &nholder);
    if (rc == 0 && nholder > 0) {
        vl_batch_id_t id;
        vl_wire_bid(holder.data, 0, &id);
        keep_name = id.llsn_begin;
    }
    vl_wbuf_free(&holder);
    if (rc)
        return rc;
    s_delete_range(batch, 'd', ls_id, 0, keep_key);
    s_delete_range(batch, 'b', ls_id, 0, keep_name);
    s_delete_range(batch, 'c', ls_id, 0, keep_glsn_key);
    s_delete_range(batch, 'o', ls_id, 0, keep_offset_key);
    return 0;
}

int vl_store_write(vl_store_t *self, vl_store_batch_t *batch, bool sync)
{
    int rc = s_log_write(self, batch, sync);
    if (rc == 0 && batch->deletes)
        s_log_gc(self);
    return rc;
}

/*  ---- reads ------------------------------------------------------------ */

int vl_store_read_entries(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t max_n,
                          size_t max_bytes, vl_wbuf_t *sizes, vl_wbuf_t *data, uint32_t *n_p,
                          uint64_t *bytes_p)
{
    *n_p = 0;
    *bytes_p = 0;
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, llsn_begin);
    uint64_t want = llsn_begin;
    uint32_t n = 0;
    uint64_t bytes = 0;
    int rc = 0;
    while (n < max_n && s_ecur_at(&c, want)) {
        uint32_t size = s_ecur_size(&c);
        if (n > 0 && bytes + size > max_bytes)
            break;
        if (!s_ecur_check(&c)) {
            rc = VL_ESTORE;
            break;
        }
        vl_wbuf_u32(sizes, size);
        vl_wbuf_mem(data, s_ecur_data(&c), size);
        bytes += size;
        n++;
        want++;
        s_ecur_next(&c);
    }
    *n_p = n;
    *bytes_p = bytes;
    return s_ecur_done(&c, rc, "read entries");
}

int vl_store_first_entry(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t *llsn_p,
                         bool *found_p)
{
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, llsn_from);
    *found_p = c.have;
    *llsn_p = c.have ? s_ecur_llsn(&c) : 0;
    return s_ecur_done(&c, 0, "find the first entry");
}

int vl_store_sum_sizes(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint64_t llsn_end,
                       uint64_t *sum_p)
{
    *sum_p = 0;
    if (llsn_begin > llsn_end)
        return 0;
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, llsn_begin);
    uint64_t want = llsn_begin, sum = 0;
    while (want <= llsn_end && s_ecur_at(&c, want)) {
        if (c.idx == 0 && c.bat.start + c.bat.n - 1 <= llsn_end) {
            sum += c.bat.dlen; /* the whole batch at once */
            want += c.bat.n;
            c.idx = c.bat.n - 1;
            c.off = c.bat.dlen - s_ecur_size(&c);
        } else {
            sum += s_ecur_size(&c);
            want++;
        }
        s_ecur_next(&c);
    }
    int rc = 0;
    if (want <= llsn_end) {
        s_seterr("ls=%u: entry llsn=%llu is not in the store (trimmed or never written)", ls_id,
                 (unsigned long long)want);
        rc = VL_ETRIMMED;
    }
    *sum_p = sum;
    return s_ecur_done(&c, rc, "sum entry sizes");
}
int vl_store_find_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, vl_store_range_t *r)
{
    uint8_t k[S_KEY_LEN];
    s_key(k, 'c', ls_id, glsn);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    int rc = VL_ERANGE;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (s_key_is(key, klen, 'c', ls_id)) {
            const char *v = rocksdb_iter_value(it, &vlen);
            rc = s_range_decode(key, v, vlen, r);
        }
    }
    if (rc == VL_ERANGE)
        s_seterr("ls=%u: no commit range at or below glsn=%llu", ls_id, (unsigned long long)glsn);
    return s_iter_done(it, rc, "find commit range");
}

/*  Finds the first range with glsn_begin >= glsn. */
static int s_next_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, vl_store_range_t *r)
{
    uint8_t k[S_KEY_LEN];
    s_key(k, 'c', ls_id, glsn);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    rocksdb_iter_seek(it, (const char *)k, sizeof k);
    int rc = VL_ERANGE;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (s_key_is(key, klen, 'c', ls_id)) {
            const char *v = rocksdb_iter_value(it, &vlen);
            rc = s_range_decode(key, v, vlen, r);
        }
    }
    return s_iter_done(it, rc, "find next commit range");
}

/*  Positions cur on the committed entry at or after cur->glsn. Returns
    VL_ERANGE when there is none. */
static int s_cursor_seek(vl_store_t *self, uint32_t ls_id, vl_store_cursor_t *cur)
{
    vl_store_range_t r;
    int rc = vl_store_find_range(self, ls_id, cur->glsn, &r);
    if (rc == 0 && r.glsn_begin + r.count > cur->glsn) {
        uint64_t llsn = r.llsn_begin + (cur->glsn - r.glsn_begin);
        uint64_t offset = r.offset_begin;
        if (llsn > r.llsn_begin) {
            uint64_t sum;
            rc = vl_store_sum_sizes(self, ls_id, r.llsn_begin, llsn - 1, &sum);
            if (rc == VL_ETRIMMED) {
                /* The head of the range is trimmed: count back from its end. */
                rc = vl_store_sum_sizes(self, ls_id, llsn, r.llsn_begin + r.count - 1, &sum);
                if (rc)
                    return rc;
                offset = r.offset_begin + r.bytes - sum;
            } else if (rc)
                return rc;
            else
                offset += sum;
        }
        cur->llsn = llsn;
        cur->offset = offset;
        cur->range_end = r.glsn_begin + r.count;
        cur->valid = true;
        return 0;
    }
    if (rc && rc != VL_ERANGE)
        return rc;
    for (;;) {
        rc = s_next_range(self, ls_id, cur->glsn, &r);
        if (rc)
            return rc;
        if (r.count > 0)
            break;
        cur->glsn = r.glsn_begin + 1; /* an empty range: skip it */
    }
    cur->glsn = r.glsn_begin;
    cur->llsn = r.llsn_begin;
    cur->offset = r.offset_begin;
    cur->range_end = r.glsn_begin + r.count;
    cur->valid = true;
    return 0;
}

int vl_store_read_committed(vl_store_t *self, uint32_t ls_id, vl_store_cursor_t *cur,
                            uint64_t glsn_limit, uint32_t max_n, size_t max_bytes,
                            vl_entry_pos_t *pos, vl_wbuf_t *data, uint32_t *n_p, bool *more_p)
{
    *n_p = 0;
    *more_p = false;
    uint32_t n = 0;
    size_t bytes = 0;
    /* One entry cursor for the whole call: the ranges of a log stream hold
       consecutive LLSNs, so the entries of the next range follow where the
       last one stopped; only a gap (a trim) needs another seek. */
    s_ecur_t c = {.store = self, .ls = ls_id};
    int rc = 0;
    while (n < max_n && cur->glsn < glsn_limit) {
        if (!cur->valid) {
            rc = s_cursor_seek(self, ls_id, cur);
            if (rc == VL_ERANGE) {
                rc = 0;
                break; /* nothing more committed */
            }
            if (rc)
                break;
            if (cur->glsn >= glsn_limit)
                break;
        }
        if (!s_ecur_at(&c, cur->llsn)) {
            if (c.it) {
                rc = s_ecur_done(&c, 0, "read committed entries");
                if (rc)
                    break;
            }
            s_ecur_seek(&c, cur->llsn);
        }
        bool full = false;
        while (cur->glsn < cur->range_end && cur->glsn < glsn_limit) {
            if (n >= max_n) {
                full = true;
                break;
            }
            if (!s_ecur_at(&c, cur->llsn)) {
                s_seterr("ls=%u: committed entry glsn=%llu llsn=%llu is gone (trimmed)", ls_id,
                         (unsigned long long)cur->glsn, (unsigned long long)cur->llsn);
                rc = VL_ETRIMMED;
                break;
            }
            uint32_t size = s_ecur_size(&c);
            if (n > 0 && bytes + size > max_bytes) {
                full = true;
                break;
            }
            if (data && !s_ecur_check(&c)) {
                rc = VL_ESTORE;
                break;
            }
            pos[n].glsn = cur->glsn;
            pos[n].llsn = cur->llsn;
            pos[n].offset = cur->offset;
            pos[n].size = size;
            if (data)
                vl_wbuf_mem(data, s_ecur_data(&c), size);
            n++;
            bytes += size;
            cur->glsn++;
            cur->llsn++;
            cur->offset += size;
            s_ecur_next(&c);
        }
        if (rc)
            break;
        if (cur->glsn >= cur->range_end)
            cur->valid = false; /* the next entry is in a later range */
        if (full) {
            *more_p = true;
            break;
        }
    }
    rc = s_ecur_done(&c, rc, "read committed entries");
    *n_p = n;
    if (rc)
        return rc;
    if (n >= max_n && cur->glsn < glsn_limit)
        *more_p = true;
    return 0;
}

int vl_store_lookup_offset(vl_store_t *self, uint32_t ls_id, uint64_t offset, vl_entry_pos_t *pos,
                           bool *found_p)
{
    *found_p = false;
    memset(pos, 0, sizeof *pos);
    uint8_t k[S_KEY_LEN];
    s_key(k, 'o', ls_id, offset);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    uint64_t glsn_begin = 0;
    bool have = false;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (s_key_is(key, klen, 'o', ls_id)) {
            const char *v = rocksdb_iter_value(it, &vlen);
            if (vlen == 8) {
                glsn_begin = vl_get_be64((const uint8_t *)v);
                have = true;
            }
        }
    }
    int rc = s_iter_done(it, 0, "lookup offset");
    if (rc || !have)
        return rc;
    vl_store_range_t r;
    rc = vl_store_find_range(self, ls_id, glsn_begin, &r);
    if (rc == VL_ERANGE)
        return 0;
    if (rc)
        return rc;
    if (r.glsn_begin != glsn_begin || offset < r.offset_begin || offset >= r.offset_begin + r.bytes)
        return 0;
    /* Walk the range's entries summing sizes up to the one holding offset.
       When the head of the range is trimmed, start from the first entry
       left and count its offset back from the end of the range. */
    uint64_t llsn_last = r.llsn_begin + r.count - 1;
    s_ecur_t c = {.store = self, .ls = ls_id};
    s_ecur_seek(&c, r.llsn_begin);
    uint64_t first = c.have ? s_ecur_llsn(&c) : r.llsn_begin;
    uint64_t at = r.offset_begin;
    if (first != r.llsn_begin) {
        uint64_t sum = 0;
        rc = first <= llsn_last ? vl_store_sum_sizes(self, ls_id, first, llsn_last, &sum)
                                : VL_ETRIMMED;
        at = r.offset_begin + r.bytes - sum;
        if (!rc && offset < at) {
            s_seterr("ls=%u: offset %llu is trimmed", ls_id, (unsigned long long)offset);
            rc = VL_ETRIMMED;
        }
        if (rc)
            return s_ecur_done(&c, rc, "lookup offset");
    }
    for (uint64_t llsn = first; llsn <= llsn_last; llsn++, s_ecur_next(&c)) {
        if (!s_ecur_at(&c, llsn)) {
            s_seterr("ls=%u: entry llsn=%llu of the range holding offset %llu is gone (trimmed)",
                     ls_id, (unsigned long long)llsn, (unsigned long long)offset);
            rc = VL_ETRIMMED;
            break;
        }
        uint32_t size = s_ecur_size(&c);
        if (offset < at + size) {
            pos->glsn = r.glsn_begin + (llsn - r.llsn_begin);
            pos->llsn = llsn;
            pos->offset = at;
            *found_p = true;
            break;
        }
        at += size;
    }
    return s_ecur_done(&c, rc, "lookup offset");
}

/*  ---- batch names --------------------------------------------------------- */

static bool s_bid_decode(const char *key, size_t klen, const char *v, size_t vlen, uint32_t ls_id,
                         vl_batch_id_t *id)
{
    if (!s_key_is(key, klen, 'b', ls_id) || vlen != S_BID_LEN)
        return false;
    id->llsn_begin = vl_get_be64((const uint8_t *)key + 5);
    id->client_id = vl_get_be64((const uint8_t *)v);
    id->batch_seq = vl_get_be64((const uint8_t *)v + 8);
    id->n = vl_get_be32((const uint8_t *)v + 16);
    return true;
}

int vl_store_read_bids(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t llsn_to,
                       vl_wbuf_t *out, uint32_t *n_p)
{
    *n_p = 0;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'b', ls_id, llsn_from);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    /* the batch that holds llsn_from may begin before it */
    rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    size_t klen = 0;
    const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
    if (!key || !s_key_is(key, klen, 'b', ls_id))
        rocksdb_iter_seek(it, (const char *)k, sizeof k);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vlen;
        key = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        vl_batch_id_t id;
        if (!s_bid_decode(key, klen, v, vlen, ls_id, &id) || id.llsn_begin > llsn_to)
            break;
        if (id.llsn_begin + id.n <= llsn_from)
            continue; /* ends before the range */
        uint8_t rec[VL_WIRE_BID_SIZE];
        vl_wire_bid_put(rec, &id);
        vl_wbuf_mem(out, rec, sizeof rec);
        (*n_p)++;
    }
    return s_iter_done(it, 0, "read batch names");
}

int vl_store_find_bid(vl_store_t *self, uint32_t ls_id, uint64_t client_id, uint64_t batch_seq,
                      uint64_t llsn_hint, uint64_t llsn_end, uint32_t max_scan, vl_batch_id_t *id,
                      bool *found_p, bool *complete_p)
{
    *found_p = false;
    *complete_p = true;
    if (llsn_end <= llsn_hint)
        return 0;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'b', ls_id, llsn_end);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    uint32_t scanned = 0;
    for (rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k); rocksdb_iter_valid(it);
         rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        vl_batch_id_t b;
        if (!s_bid_decode(key, klen, v, vlen, ls_id, &b) || b.llsn_begin <= llsn_hint)
            break;
        if (b.client_id == client_id) {
            if (b.batch_seq == batch_seq) {
                *id = b;
                *found_p = true;
                break;
            }
            /* a client sends its batches to a log stream in growing
               batch_seq order: an earlier one of its batches here means
               this one is not below it */
            if (b.batch_seq < batch_seq)
                break;
        }
        if (++scanned >= max_scan) {
            *complete_p = false;
            break;
        }
    }
    return s_iter_done(it, 0, "find batch name");
}

int vl_store_llsn_runs(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t count,
                       vl_run_t **runs_p, uint32_t *nruns_p, uint64_t *covered_p)
{
    *runs_p = NULL;
    *nruns_p = 0;
    *covered_p = 0;
    if (count == 0)
        return 0;
    uint64_t llsn_last = llsn_begin + count - 1;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'c', ls_id, UINT64_MAX);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    /* Commit ranges grow in LLSN as in GLSN: walk back from the newest
       (a batch asked about is a recent one) to the first that reaches
       llsn_begin, collecting those that overlap [llsn_begin, llsn_last]. */
    vl_run_t *runs = NULL;
    uint32_t n = 0, cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k); rocksdb_iter_valid(it);
         rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (!s_key_is(key, klen, 'c', ls_id))
            break;
        vl_store_range_t r;
        const char *v = rocksdb_iter_value(it, &vlen);
        if ((rc = s_range_decode(key, v, vlen, &r)) != 0)
            break;
        if (r.count == 0 || r.llsn_begin > llsn_last)
            continue;
        if (r.llsn_begin + r.count <= llsn_begin)
            break;
        uint64_t lo = r.llsn_begin > llsn_begin ? r.llsn_begin : llsn_begin;
        uint64_t hi =
            r.llsn_begin + r.count - 1 < llsn_last ? r.llsn_begin + r.count - 1 : llsn_last;
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            runs = vl_realloc(runs, cap * sizeof *runs);
        }
        runs[n++] = (vl_run_t){.glsn_begin = r.glsn_begin + (lo - r.llsn_begin),
                               .count = (uint32_t)(hi - lo + 1)};
        if (r.llsn_begin <= llsn_begin)
            break;
    }
    rc = s_iter_done(it, rc, "map llsns to glsns");
    if (rc) {
        free(runs);
        return rc;
    }
    /* collected newest first; the covered part must begin at llsn_begin */
    uint64_t covered = 0;
    for (uint32_t i = 0; i < n / 2; i++) {
        vl_run_t t = runs[i];
        runs[i] = runs[n - 1 - i];
        runs[n - 1 - i] = t;
    }
    for (uint32_t i = 0; i < n; i++)
        covered += runs[i].count;
    *runs_p = runs;
    *nruns_p = n;
    *covered_p = covered;
    return 0;
}
