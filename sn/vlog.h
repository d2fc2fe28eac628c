/*  vlog.h - the storage node's entry log (vl_vlog_*).

    An append-only log of records in DIR/vlog/NNNNNNNNNN.vlog (segments),
    next to the store's RocksDB index (store.c): every store write is one
    record, the entries' bytes followed by the index's own batch, written
    (and fdatasync'ed when asked) before the index applies that batch. The
    record format, the segments, the recovery after a crash and the
    removal of segments are described in vlog.c.

    The log knows nothing of RocksDB: what it needs of the index (apply a
    record's batch again, flush, read and store the log position, look for
    entries a crash took) it asks through hooks (vl_vlog_hooks_t). Which
    segments the index still refers to is the store's business: it tells
    vl_vlog_drop which ones may go.

    Threads: only one thread (the store's writer) builds records, writes
    them, rotates and drops segments; any thread may read the segments'
    bytes while it holds the read lock (vl_vlog_rdlock). The struct body is
    here only for the static inline helpers of the hot paths (one call per
    stored batch read or written); other files use the functions.

    Errors: functions return 0 or a VL_E* code; vl_vlog_errmsg() gives the
    calling thread's detail of its last failure (the store passes it on as
    its own message).
*/
#ifndef VL_SN_VLOG_H
#define VL_SN_VLOG_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "util.h"
#include "wire.h"

#define VL_VLOG_REC_HDR 24           /* bytes of a record's header */
#define VL_VLOG_REC_MAX (8ull << 30) /* a sanity bound on one record */
#define VL_VLOG_POS_LEN 12           /* an encoded position: segment u32, offset u64 */
#define VL_VLOG_SEG_MIN (4ull << 20) /* vl_vlog_segment_bytes_for's bounds */
#define VL_VLOG_SEG_MAX (512ull << 20)
#define VL_VLOG_SEG_FRACTION 16 /* a segment is this fraction of the disk */
#define VL_VLOG_PREWRITE (1ull << 20) /* zeros vl_vlog_prewrite writes ahead at a time */

/*  What the log asks of the index (the store). Every hook gets arg, and
    returns 0 or a VL_E* code, after describing the failure with
    vl_vlog_seterr. */
typedef struct {
    void *arg;
    /*  Applies the index's batch of one record again (rep, replen bytes;
        borrowed): the replay of the records the index had not flushed. */
    int (*apply)(void *arg, const uint8_t *rep, uint32_t replen);
    /*  Flushes the index (waiting for it when wait); what names the
        occasion for the message. */
    int (*flush)(void *arg, bool wait, const char *what);
    /*  Reads the position the index stored last (the record it applied
        last, see vl_vlog_rec_pos): *found_p false when it holds none;
        else *len_p is the stored value's length and its first
        VL_VLOG_POS_LEN bytes at most are copied to pos. */
    int (*position)(void *arg, uint8_t *pos, size_t *len_p, bool *found_p);
    /*  Stores pos (VL_VLOG_POS_LEN bytes) as the position, or deletes it
        when pos is NULL (replay from the start), not synced (the log
        flushes next). */
    int (*set_position)(void *arg, const uint8_t *pos);
    /*  Sets *lost_p when the index refers to entry bytes at or past offset
        off of segment seg (the last one): bytes a crash took from the log
        while the index kept where they were. */
    int (*lost)(void *arg, uint32_t seg, uint64_t off, bool *lost_p);
} vl_vlog_hooks_t;

/*  One file of the entry log. */
typedef struct {
    uint32_t id;
    int fd;             /* the last segment's, -1 for the others */
    const uint8_t *map; /* maplen bytes of address space, PROT_READ */
    uint64_t maplen;    /* a multiple of map_step, at least the size */
    uint64_t size;      /* bytes written (atomic: the writer grows the last) */
} vl_vlog_seg_t;

typedef struct vl_vlog vl_vlog_t;

/*  The log's own: read only through the functions below. */
struct vl_vlog {
    vl_vlog_hooks_t hooks;
    char *logdir;
    int logdir_fd;
    pthread_rwlock_t seglock; /* segs: readers read, rotation and drops change */
    vl_vlog_seg_t *segs;      /* consecutive ids, oldest first */
    size_t nsegs;
    uint64_t rotate;   /* segment size that starts the next one; tests make it small */
    uint64_t map_step; /* a segment's mapping grows in these steps; tests make it small */
    uint64_t prewrite; /* bytes vl_vlog_prewrite writes at a time (0: none) */
    int64_t prewrite_after_us; /* after a failed prewrite, none before this time */
    int broken;        /* a log write left the file in an unknown state */
    char brokenmsg[512];
};

/*  A payload piece of the record being built: the caller's memory (ptr)
    or the record's own copy (own_off into own). */
typedef struct {
    const void *ptr;
    size_t own_off, len;
} vl_vlog_piece_t;

/*  A record being built (embedded in a store batch; all zero is empty).
    Its fields are the log's. */
typedef struct {
    bool reserved; /* seg/off are set: payload was reserved */
    uint32_t seg;
    uint64_t off, pay_len; /* where the record goes; its payload bytes so far */
    vl_vlog_piece_t *pieces;
    size_t npieces, cap;
    vl_wbuf_t own;
    int err; /* a reservation failed: the write fails with it */
    char errmsg[512];
} vl_vlog_rec_t;

/*  ---- life ---------------------------------------------------------------- */

/*  A log in dir/vlog, not opened yet (nothing on disk is touched), that
    asks hooks (copied) of the index. Caller owns the result. */
vl_vlog_t *vl_vlog_new(const char *dir, const vl_vlog_hooks_t *hooks);

/*  Opens the log, creating dir/vlog and its first segment when missing;
    then, from the index's position (hook position), applies again
    (hook apply) every record the index did not flush, and cuts off a
    record torn by a crash at the end. Returns 0 or VL_ESTORE (message in
    vl_vlog_errmsg). On failure what was opened stays until
    vl_vlog_destroy. */
int vl_vlog_open(vl_vlog_t *self);

/*  Unmaps and closes every segment (no sync: see vl_vlog_sync) and frees
    the log. NULL-safe; sets *self_p to NULL. */
void vl_vlog_destroy(vl_vlog_t **self_p);

/*  fdatasyncs the segment being written (nothing when there is none).
    Returns 0, or -1 with errno set, like fdatasync(2). */
int vl_vlog_sync(vl_vlog_t *self);

/*  The size at which the log starts a new segment (512 MiB until set):
    varlogsn sets vl_vlog_segment_bytes_for its data disk, or
    --segment-size; tests make it small. */
void vl_vlog_set_segment_bytes(vl_vlog_t *self, uint64_t bytes);
/*  The segment size for a data disk of disk_bytes (0: unknown): a
    sixteenth of it, at least VL_VLOG_SEG_MIN and at most VL_VLOG_SEG_MAX,
    so that a trim can give most of a small disk back (only the segment
    being written stays; the others go when nothing they hold is kept). */
uint64_t vl_vlog_segment_bytes_for(uint64_t disk_bytes);
/*  Tests: the step in which a segment's mapping grows (1 GiB; a multiple
    of the page size). */
void vl_vlog_set_map_step(vl_vlog_t *self, uint64_t bytes);

/*  For the writer when it has nothing to do: when fewer than half of
    VL_VLOG_PREWRITE bytes of zeros lie written ahead of the last
    segment's end, writes VL_VLOG_PREWRITE more (not past the segment
    size) and fdatasyncs them. The records that follow then overwrite
    blocks that are allocated and inside the file, and their fdatasync
    writes only data; a record appended to the file also has to commit
    the file's new size and blocks to the file system's journal (vlog.c).
    Does nothing on a disk with less than 64 MiB free; a failure (the
    disk filled) takes the zeros back and waits a second before the next
    try. */
void vl_vlog_prewrite(vl_vlog_t *self);
/*  Tests: the bytes vl_vlog_prewrite writes at a time (0: never). */
void vl_vlog_set_prewrite(vl_vlog_t *self, uint64_t bytes);
/*  How many segments the log has (any thread). */
size_t vl_vlog_segments(vl_vlog_t *self);

/*  The calling thread's message of its last failed vl_vlog call. */
const char *vl_vlog_errmsg(void);
/*  Sets it (hooks describe their failures with it). */
void vl_vlog_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  ---- reading --------------------------------------------------------------- */

/*  Keeps every segment mapped where it is until vl_vlog_unlock: pointers
    from vl_vlog_bytes stay valid meanwhile. Recursive: a reader may take
    it again (readers never queue behind a waiting writer). */
static inline void vl_vlog_rdlock(vl_vlog_t *self)
{
    pthread_rwlock_rdlock(&self->seglock);
}

static inline void vl_vlog_unlock(vl_vlog_t *self)
{
    pthread_rwlock_unlock(&self->seglock);
}

/*  The mapped bytes [off, off+len) of segment seg, or NULL when the log
    does not hold them. The caller holds the read lock. */
static inline const uint8_t *vl_vlog_bytes(vl_vlog_t *self, uint32_t seg, uint64_t off,
                                           uint64_t len)
{
    if (self->nsegs == 0 || seg < self->segs[0].id || seg - self->segs[0].id >= self->nsegs)
        return NULL;
    const vl_vlog_seg_t *g = &self->segs[seg - self->segs[0].id];
    uint64_t size = __atomic_load_n(&g->size, __ATOMIC_ACQUIRE);
    if (off > size || len > size - off)
        return NULL;
    return g->map + off;
}

/*  ---- writing (the writer thread only) -------------------------------------- */

/*  The slow part of vl_vlog_reserve, at a record's first reservation:
    starts the next segment when the last one is full, and places rec at
    the end of the log. False (rec->err set) when the rotation failed. */
bool vl_vlog_rec_start(vl_vlog_t *self, vl_vlog_rec_t *rec);

/*  Reserves len payload bytes in record rec; sets *seg and *off to where
    they will be. Records with payload are built one at a time, each
    written before the next is begun. False when it failed (now or at an
    earlier reservation of rec): vl_vlog_rec_begin fails with the reason. */
static inline bool vl_vlog_reserve(vl_vlog_t *self, vl_vlog_rec_t *rec, size_t len, uint32_t *seg,
                                   uint64_t *off)
{
    if (rec->err)
        return false;
    if (!rec->reserved && !vl_vlog_rec_start(self, rec))
        return false;
    if (rec->pay_len + len > VL_VLOG_REC_MAX - rec->off) {
        rec->err = VL_ESTORE;
        snprintf(rec->errmsg, sizeof rec->errmsg,
                 "entry log: one write of more than %llu bytes does not fit a segment",
                 (unsigned long long)VL_VLOG_REC_MAX);
        return false;
    }
    *seg = rec->seg;
    *off = rec->off + VL_VLOG_REC_HDR + rec->pay_len;
    rec->pay_len += len;
    return true;
}

/*  Adds the next len payload bytes of rec (reserved): ptr, borrowed until
    the record is written, or, when ptr is NULL, a copy of copy. */
static inline void vl_vlog_rec_add(vl_vlog_rec_t *rec, const void *ptr, const void *copy,
                                   size_t len)
{
    if (len == 0)
        return;
    if (rec->npieces == rec->cap) {
        rec->cap = rec->cap ? rec->cap * 2 : 16;
        rec->pieces = vl_realloc(rec->pieces, rec->cap * sizeof *rec->pieces);
    }
    vl_vlog_piece_t *p = &rec->pieces[rec->npieces++];
    p->ptr = ptr;
    p->len = len;
    p->own_off = rec->own.len;
    if (!ptr)
        vl_wbuf_mem(&rec->own, copy, len);
}

/*  Empties rec for the next record (keeps its memory). */
void vl_vlog_rec_clear(vl_vlog_rec_t *rec);
/*  Frees what rec holds (not rec itself). */
void vl_vlog_rec_free(vl_vlog_rec_t *rec);

/*  Writing rec, first step: fails when the log is broken or a reservation
    failed; places a record without payload at the end of the log (a new
    segment first when the last one is full). After it vl_vlog_rec_pos
    says where rec goes. Returns 0 or a VL_E* code (message set). */
int vl_vlog_rec_begin(vl_vlog_t *self, vl_vlog_rec_t *rec);

/*  Encodes where rec goes (segment u32, offset u64, big endian) into pos
    (VL_VLOG_POS_LEN bytes): the index stores it with the record's batch
    (hook position reads it back). */
static inline void vl_vlog_rec_pos(const vl_vlog_rec_t *rec, uint8_t *pos)
{
    vl_put_be32(pos, rec->seg);
    vl_put_be64(pos + 4, rec->off);
}

/*  Writing rec, second step: writes it as the next record, its payload
    then rep (the index's batch, replen bytes; borrowed); when sync, the
    disk starts writing it (sync_file_range), and vl_vlog_rec_sync must
    follow. On 0 readers see its bytes. On failure nothing of it stays in
    the log (or the log is broken: every later write fails). Returns 0 or
    VL_ESTORE (message set). */
int vl_vlog_rec_write(vl_vlog_t *self, vl_vlog_rec_t *rec, const void *rep, size_t replen,
                      bool sync);

/*  Writing a record, third step when it asked for sync: fdatasync of the
    last segment, which holds it. On failure the log is broken (the kernel
    may have dropped its pages: every later write fails; restart the
    storage node) and the record stays as written (the index may refer to
    it). Returns 0 or VL_ESTORE (message set). */
int vl_vlog_rec_sync(vl_vlog_t *self);

/*  Takes back rec, written by vl_vlog_rec_write, when the index could not
    apply its batch: a replay must not apply it either. */
void vl_vlog_rec_cancel(vl_vlog_t *self, vl_vlog_rec_t *rec);

/*  ---- segments (the writer thread only) ------------------------------------- */

static inline size_t vl_vlog_nsegs(const vl_vlog_t *self)
{
    return self->nsegs;
}

/*  The id of the oldest segment, the id of the one written. The log has
    at least one segment once open. */
static inline uint32_t vl_vlog_first_id(const vl_vlog_t *self)
{
    return self->segs[0].id;
}

static inline uint32_t vl_vlog_last_id(const vl_vlog_t *self)
{
    return self->segs[self->nsegs - 1].id;
}

/*  The bytes of the segments below segment keep. */
static inline uint64_t vl_vlog_bytes_below(const vl_vlog_t *self, uint32_t keep)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->nsegs && self->segs[i].id < keep; i++)
        n += self->segs[i].size;
    return n;
}

/*  Starts the next segment when the one written is full (rotation).
    Returns 0 or VL_ESTORE (message set). */
int vl_vlog_rotate_full(vl_vlog_t *self);

/*  Removes the segments below segment keep (which the index no longer
    refers to; keep is past the oldest one): after an fdatasync of the log and a flush of the index
    (hook flush), so that no replay needs their records. False when it
    could not (logged). */
bool vl_vlog_drop(vl_vlog_t *self, uint32_t keep);

#endif
