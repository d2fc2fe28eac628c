/*  store_gc.c - cleaning the entry log (vl_store_gc_*).

    The log (vlog.c) removes segments when told to; which ones may go is
    decided here, from the 'd' values in RocksDB: after a write that
    deleted (a trim, a truncation, a dropped log stream), in the writer
    thread.

    Removing segments takes a RocksDB flush first, and a flush that finds
    the disk full stops RocksDB's writes until it finds room again. So the
    cleaning looks at the free space first
    (vl_store_flush_room, which also keeps the flush at a segment's end
    from starting on a full disk), and the store
    keeps DIR/vlog/reserve, S_RESERVE bytes allocated while there is room:
    on a full disk a write that deletes (a trim) and the cleaning after it
    release it, so that a trim gives space back even then; it is made
    again once there is room. A start on a nearly full disk releases it
    too, so that RocksDB can open (vl_store_gc_open_room).
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "log.h"
#include "store.h"
#include "store_i.h"
#include "util.h"
#include "vlog.h"

#define S_RESERVE (8ull << 20)    /* DIR/vlog/reserve */
#define S_MOVE_ROOM (32ull << 20) /* free space a move of live entries leaves */
#define S_OPEN_ROOM (4ull << 20)  /* less free at open: the reserve goes */

/*  ---- room on the disk ------------------------------------------------------ */

static void s_reserve_path(const vl_store_t *self, char *buf, size_t size)
{
    snprintf(buf, size, "%s/vlog/reserve", self->dir);
}

/*  Bytes free on the store's disk (UINT64_MAX when unknown). */
static uint64_t s_disk_free(const vl_store_t *self)
{
    struct statvfs sv;
    if (statvfs(self->dir, &sv) != 0)
        return UINT64_MAX;
    return (uint64_t)sv.f_bavail * sv.f_frsize;
}

void vl_store_gc_reserve(vl_store_t *self)
{
    char path[PATH_MAX];
    s_reserve_path(self, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size >= S_RESERVE)
        return;
    if (s_disk_free(self) < 2 * S_RESERVE)
        return; /* not now: after a cleaning that made room */
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    int rc = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)S_RESERVE);
    if (fd >= 0)
        close(fd);
    if (rc) {
        vl_log(LOG_WARNING, "store: cannot keep %s (%llu MiB for trims on a full disk): %s", path,
               (unsigned long long)(S_RESERVE >> 20), strerror(rc));
        unlink(path);
    }
}

bool vl_store_gc_release(vl_store_t *self)
{
    char path[PATH_MAX];
    s_reserve_path(self, path, sizeof path);
    if (unlink(path) != 0)
        return false;
    vl_log(LOG_NOTICE,
           "store: the disk of %s is full: released the %llu MiB kept in %s so that trims can "
           "free space",
           self->dir, (unsigned long long)(S_RESERVE >> 20), path);
    return true;
}

void vl_store_gc_open_room(vl_store_t *self)
{
    if (s_disk_free(self) < S_OPEN_ROOM)
        vl_store_gc_release(self);
}

/*  True when the disk has room for the flush that removing segments
    takes (releasing the reserve if need be). When not, the cleaning is put
    off to the next write (gc_more), logged once until it can go on. */
static bool s_flush_room(vl_store_t *self)
{
    uint64_t free_b, need;
    bool room = vl_store_flush_room(self, &free_b, &need);
    if (!room && vl_store_gc_release(self))
        room = vl_store_flush_room(self, &free_b, &need);
    if (room) {
        if (self->gc_put_off)
            vl_log(LOG_NOTICE, "store: the disk of %s has room again: cleaning the entry log",
                   self->dir);
        self->gc_put_off = false;
        return true;
    }
    if (!self->gc_put_off)
        vl_log(LOG_WARNING,
               "store: entry log cleanup put off: %" PRIu64 " bytes free on the disk of %s, "
               "and removing segments needs a RocksDB flush of about %" PRIu64
               "; free space on it (the cleaning goes on by itself then)",
               free_b, self->dir, need);
    self->gc_put_off = true;
    self->gc_more = true;
    return false;
}

/*  The oldest segment a stored batch refers to, ignoring the log streams
    whose first batch is in segment skip (0: none), at most the one written
    (per log stream, its first batch is its oldest): *keep_p. *legacy_p
    when a batch from before the entry log (format 2) keeps every one.
    False when it could not look (logged). */
static bool s_keep(vl_store_t *self, uint32_t skip, uint32_t *keep_p, bool *legacy_p)
{
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
            if (seg < keep && seg != skip)
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
    *keep_p = keep;
    *legacy_p = legacy;
    return true;
}

/*  Removes the segments nothing needs any more: below the oldest one a
    stored batch refers to and, after a flush, below the one written. Runs
    in the writer thread. False when it could not look, or batches from
    before the entry log (format 2) keep every segment. */
static bool s_log_drop(vl_store_t *self)
{
    if (vl_vlog_nsegs(self->vlog) < 2)
        return true;
    uint32_t keep;
    bool legacy;
    if (!s_keep(self, 0, &keep, &legacy))
        return false;
    if (keep <= vl_vlog_first_id(self->vlog))
        return !legacy;
    if (!s_flush_room(self) || !vl_vlog_drop(self->vlog, keep))
        return false;
    vl_store_gc_reserve(self);
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
        if (!vl_store_read_bat_decode(self, key, klen, v, vlen, ls, &bat)) {
            vl_store_seterr(
                "ls=%u: a stored batch is malformed or refers to bytes the entry log does "
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
            vl_store_seterr("ls=%u: the stored entries llsn=%llu.. fail their checksum (the data "
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
    return vl_store_iter_done(it, rc, "walk an entry log segment");
}

/*  Frees what trims and deletions left: segments nothing refers to go
    (s_log_drop); then, while the oldest segment is kept by log streams
    that hold little against what their move frees (a quarter or less of
    the bytes of the segments below the oldest one the other log streams
    need, and at most S_GC_STEP bytes: one trimmed less often than the
    others, a quiet topic, a small one next to a big trimmed one), those
    log streams are copied whole to the end of the log so that those
    segments can go too, when the disk keeps S_MOVE_ROOM free after the
    copy. At most S_GC_MOVES moves and S_GC_STEP bytes
    copied per call: this runs in the writer thread, appends wait
    meanwhile; when it stops there with segments left, gc_more makes the
    next write (an append, a commit) go on, so that a big cleaning is done
    in steps between writes. */
#define S_GC_MOVES 4
#define S_GC_STEP (64ull << 20)
void vl_store_gc_run(vl_store_t *self)
{
    self->gc_more = false;
    uint64_t moved = 0;
    for (int i = 0;; i++) {
        if (!s_log_drop(self) || vl_vlog_nsegs(self->vlog) < 2)
            return;
        if (i == S_GC_MOVES || moved >= S_GC_STEP) {
            self->gc_more = true;
            return;
        }
        /* the copy must not start a segment while the read lock is held */
        if (vl_vlog_rotate_full(self->vlog) != 0)
            return;
        uint32_t seg = vl_vlog_first_id(self->vlog), after;
        bool legacy;
        if (!s_keep(self, seg, &after, &legacy) || legacy)
            return;
        uint64_t live = 0, limit = vl_vlog_bytes_below(self->vlog, after) / 4;
        if (limit > S_GC_STEP)
            limit = S_GC_STEP;
        vl_vlog_rdlock(self->vlog);
        int rc = s_seg_walk(self, seg, limit, &live, NULL);
        vl_vlog_unlock(self->vlog);
        if (rc || live > limit)
            return;
        /* a copy that filled the disk would get the node's log streams
           sealed (a disk fault) before the segments go */
        uint64_t free_b = s_disk_free(self);
        if (free_b < live + S_MOVE_ROOM) {
            vl_log(LOG_INFO,
                   "store: not moving %llu live bytes out of entry log segment %u: %llu bytes "
                   "free on the disk, less than that and %llu MiB",
                   (unsigned long long)live, seg, (unsigned long long)free_b,
                   (unsigned long long)(S_MOVE_ROOM >> 20));
            return;
        }
        vl_store_batch_t *b = vl_store_batch_new();
        live = 0;
        vl_vlog_rdlock(self->vlog);
        rc = s_seg_walk(self, seg, limit, &live, b);
        vl_vlog_unlock(self->vlog);
        /* seg stays mapped until s_log_drop: b's bytes point into it */
        if (!rc)
            rc = vl_store_log_write(self, b, true);
        vl_store_batch_destroy(&b);
        if (rc) {
            vl_log(LOG_WARNING, "store: moving the live entries out of segment %u: %s", seg,
                   vl_store_errmsg());
            return;
        }
        moved += live;
        vl_log(LOG_INFO,
               "store: moved %llu live bytes out of entry log segment %u to free it and the "
               "%u after it",
               (unsigned long long)live, seg, after - seg - 1);
    }
}
