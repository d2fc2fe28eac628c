/*  vlog.c - the storage node's entry log.

    RocksDB writes every value twice at least (its WAL, then the flushed
    table) and checksums them in software with Debian's build: for 4 KiB
    entries that bound appends at a third of the disk. So the entries go
    once to an append-only log of our own, in DIR/vlog/NNNNNNNNNN.vlog, and
    RocksDB keeps only where they are ('S' values, see store_i.h), with its
    WAL off:

    - Every store write is one record: header (magic "VLR1", CRC-32C of the
      rest, payload bytes u64, batch bytes u32, zero u32; little endian),
      the entries of its batches back to back, then the RocksDB WriteBatch
      itself (rocksdb_writebatch_data). The record is written before the
      WriteBatch is applied to RocksDB, and when the write asks for sync
      the disk starts on it first (sync_file_range) and it is fdatasync'ed
      after (vl_vlog_rec_sync): one synced write per group commit, with
      the index's CPU work done while the disk writes. Nothing is
      acknowledged before the fdatasync; RocksDB's memtable holding the
      values meanwhile is harmless, as the WAL is off and only the writer
      thread (busy in that fdatasync) switches or flushes memtables.
    - Each WriteBatch also puts 'w' -> segment u32, offset u64 of its own
      record (vl_vlog_rec_pos). After a crash RocksDB holds what its last
      flush wrote, 'w' says which record that was, and the records after
      it are applied again from the log (vl_vlog_open: s_position, then
      s_replay through the hook apply). A torn record at the end of the
      last segment (a crash in the middle of a write) was never
      acknowledged and is cut off.
    - A segment is closed (fdatasync'ed) when it passes the segment size
      (vl_vlog_segment_bytes_for: a sixteenth of the data disk, 4 MiB to
      512 MiB, or varlogsn's --segment-size), which also starts a RocksDB
      flush, so a restart replays about one segment at most. A segment
      goes once no 'd' value refers to it and a flush made its records
      unnecessary for replay (vl_vlog_drop, called by vl_store_gc_run in
      store_gc.c after trims and deletions).
    - Readers see the segments through read-only shared mappings (the page
      cache, no copy); seglock keeps a segment mapped while a cursor may
      point into it.
    - Zeros written ahead (vl_vlog_prewrite). A synced write that grows a
      file also commits the file's new size and blocks to the file
      system's journal, which every file on the disk shares; one over
      blocks already written and inside the file writes only the data
      (dd oflag=dsync of 4 KiB on the test machine's ext4: 0.15 ms
      appending, 0.09 ms overwriting). So while the writer has nothing to
      do, it writes and syncs zeros ahead of the last segment's end, a
      megabyte at a time, and the records that follow overwrite them; a
      writer that is never idle (a bulk load) appends as before and pays
      no second write. The zeros past the log's end are no record: the
      open takes an all-zero tail of the last segment for written-ahead
      space and keeps it (a tail with anything else in it is a torn write,
      cut off as before), and a segment is cut to its records' end when
      the next one starts, so only the last segment has such a tail.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>
#include "crc32c.h"
#include "log.h"
#include "vlog.h"

#define S_LOG_MAGIC 0x31524c56u /* "VLR1" little endian */
#define S_REC_HDR VL_VLOG_REC_HDR
#define S_SEG_ROTATE VL_VLOG_SEG_MAX /* until vl_vlog_set_segment_bytes */
#define S_MAP_STEP (1ull << 30)      /* a segment's mapping grows in these steps */
#define S_REC_MAX VL_VLOG_REC_MAX

static __thread char s_errmsg[512];

void vl_vlog_seterr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_errmsg, sizeof s_errmsg, fmt, ap);
    va_end(ap);
}

const char *vl_vlog_errmsg(void)
{
    return s_errmsg;
}

/*  ---- segments -------------------------------------------------------------- */

static void s_seg_path(const vl_vlog_t *self, uint32_t id, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%010u.vlog", self->logdir, id);
}

/*  Maps fd as segment id and adds it at the end of the table (seglock held
    for writing, or nobody else running). */
static int s_seg_add(vl_vlog_t *self, uint32_t id, int fd, uint64_t size)
{
    uint64_t maplen = (size / self->map_step + 1) * self->map_step;
    void *map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        vl_vlog_seterr("entry log: mmap of segment %u: %s", id, strerror(errno));
        close(fd);
        return VL_ESTORE;
    }
    self->segs = vl_realloc(self->segs, (self->nsegs + 1) * sizeof *self->segs);
    self->segs[self->nsegs++] =
        (vl_vlog_seg_t){.id = id, .fd = fd, .map = map, .maplen = maplen, .size = size};
    return 0;
}

static vl_vlog_seg_t *s_seg_last(vl_vlog_t *self)
{
    return &self->segs[self->nsegs - 1];
}

/*  Where the next record goes: the end of the last segment (its size;
    only the writer thread changes it). */
static uint64_t s_log_end(vl_vlog_t *self)
{
    return s_seg_last(self)->size;
}

/*  Creates segment id (empty) and makes it the one written. */
static int s_seg_create(vl_vlog_t *self, uint32_t id)
{
    char path[PATH_MAX];
    s_seg_path(self, id, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        vl_vlog_seterr("entry log: create %s: %s (check the data directory's disk and permissions)",
                       path, strerror(errno));
        return VL_ESTORE;
    }
    if (fsync(self->logdir_fd) != 0) {
        vl_vlog_seterr("entry log: fsync of %s: %s", self->logdir, strerror(errno));
        close(fd);
        unlink(path);
        return VL_ESTORE;
    }
    pthread_rwlock_wrlock(&self->seglock);
    int rc = s_seg_add(self, id, fd, 0);
    pthread_rwlock_unlock(&self->seglock);
    if (rc != 0)
        unlink(path); /* else every later rotation fails on it (O_EXCL) */
    return rc;
}

/*  Closes the segment written (its records durable) and starts the next. */
static int s_rotate(vl_vlog_t *self)
{
    vl_vlog_seg_t *last = s_seg_last(self);
    /* a closed segment ends with its last record: only the last one has
       zeros written ahead (a reopen reads the others to their end) */
    if (ftruncate(last->fd, (off_t)last->size) != 0) {
        vl_vlog_seterr("entry log: cutting the zeros written ahead off segment %u: %s", last->id,
                       strerror(errno));
        return VL_ESTORE;
    }
    if (fdatasync(last->fd) != 0) {
        vl_vlog_seterr("entry log: fdatasync of segment %u: %s", last->id, strerror(errno));
        return VL_ESTORE;
    }
    int rc = s_seg_create(self, s_seg_last(self)->id + 1);
    if (rc)
        return rc;
    /* a closed segment is only read, through its mapping: no descriptor
       per segment (a node may have thousands); segs moved (realloc) */
    last = &self->segs[self->nsegs - 2];
    close(last->fd);
    last->fd = -1;
    /* the memtables' records are in the closed segment: a flush now keeps
       a restart's replay to about one segment */
    if (self->hooks.flush(self->hooks.arg, false, "flush after a segment") != 0)
        vl_log(LOG_WARNING, "store: %s", s_errmsg);
    return 0;
}

int vl_vlog_rotate_full(vl_vlog_t *self)
{
    return s_log_end(self) >= self->rotate ? s_rotate(self) : 0;
}

/*  ---- writing records --------------------------------------------------------- */

bool vl_vlog_rec_start(vl_vlog_t *self, vl_vlog_rec_t *rec)
{
    int rc = s_log_end(self) >= self->rotate ? s_rotate(self) : 0;
    if (rc) {
        rec->err = rc;
        snprintf(rec->errmsg, sizeof rec->errmsg, "%s", s_errmsg);
        return false;
    }
    rec->reserved = true;
    rec->seg = s_seg_last(self)->id;
    rec->off = s_log_end(self);
    rec->pay_len = 0;
    return true;
}

void vl_vlog_rec_clear(vl_vlog_rec_t *rec)
{
    rec->reserved = false;
    rec->npieces = 0;
    rec->own.len = 0;
    rec->err = 0;
}

void vl_vlog_rec_free(vl_vlog_rec_t *rec)
{
    free(rec->pieces);
    vl_wbuf_free(&rec->own);
}

/*  Writes all of iov (n buffers) at off, in pieces as the kernel takes them. */
static int s_pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        int cnt = n < IOV_MAX ? n : IOV_MAX;
        ssize_t w = pwritev(fd, iov, cnt, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0 && w > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int vl_vlog_rec_begin(vl_vlog_t *self, vl_vlog_rec_t *rec)
{
    if (self->broken) {
        vl_vlog_seterr("%s", self->brokenmsg);
        return VL_ESTORE;
    }
    if (rec->err) {
        vl_vlog_seterr("%s", rec->errmsg);
        return rec->err;
    }
    if (!rec->reserved) {
        if (s_log_end(self) >= self->rotate) {
            int rc = s_rotate(self);
            if (rc)
                return rc;
        }
        rec->seg = s_seg_last(self)->id;
        rec->off = s_log_end(self);
        rec->pay_len = 0;
    } else if (rec->seg != s_seg_last(self)->id || rec->off != s_log_end(self)) {
        vl_vlog_seterr("entry log: a batch was built before the previous one was written (a bug: "
                       "report it)");
        return VL_ESTORE;
    }
    return 0;
}

/*  Grows the mapping of segment seg (the last) to hold end bytes. */
static int s_map_grow(vl_vlog_t *self, vl_vlog_seg_t *seg, uint64_t end)
{
    /* readers' pointers into the mapping are gone once seglock is ours */
    uint64_t len = (end / self->map_step + 1) * self->map_step;
    pthread_rwlock_wrlock(&self->seglock);
    void *map = mremap((void *)seg->map, seg->maplen, len, MREMAP_MAYMOVE);
    if (map != MAP_FAILED) {
        seg->map = map;
        seg->maplen = len;
    }
    pthread_rwlock_unlock(&self->seglock);
    if (map == MAP_FAILED) {
        vl_vlog_seterr("entry log: growing the mapping of segment %u to %llu bytes: %s", seg->id,
                       (unsigned long long)len, strerror(errno));
        return VL_ESTORE;
    }
    return 0;
}

void vl_vlog_rec_cancel(vl_vlog_t *self, vl_vlog_rec_t *rec)
{
    /* no record may stay that the index did not take: a replay would
       apply it (and no value refers to its bytes) */
    vl_vlog_seg_t *seg = s_seg_last(self);
    __atomic_store_n(&seg->size, rec->off, __ATOMIC_RELEASE);
    if (ftruncate(seg->fd, (off_t)rec->off) != 0 && !self->broken) {
        snprintf(self->brokenmsg, sizeof self->brokenmsg,
                 "entry log: cutting a failed write off segment %u: %s (restart the "
                 "storage node)",
                 seg->id, strerror(errno));
        self->broken = 1;
    }
}

int vl_vlog_rec_write(vl_vlog_t *self, vl_vlog_rec_t *rec, const void *rep, size_t replen,
                      bool sync)
{
    if (replen > UINT32_MAX || rec->pay_len + replen > S_REC_MAX - rec->off) {
        vl_vlog_seterr("entry log: a write of %llu bytes does not fit a segment",
                       (unsigned long long)(rec->pay_len + replen));
        return VL_ESTORE;
    }
    uint8_t hdr[S_REC_HDR];
    vl_put_le32(hdr, S_LOG_MAGIC);
    vl_put_le64(hdr + 8, rec->pay_len);
    vl_put_le32(hdr + 16, (uint32_t)replen);
    vl_put_le32(hdr + 20, 0);
    size_t niov = rec->npieces + 2;
    struct iovec *iov = vl_malloc(niov * sizeof *iov);
    uint32_t crc = vl_crc32c(0, hdr + 8, S_REC_HDR - 8);
    for (size_t i = 0; i < rec->npieces; i++) {
        const vl_vlog_piece_t *p = &rec->pieces[i];
        const void *data = p->ptr ? p->ptr : rec->own.data + p->own_off;
        iov[i + 1] = (struct iovec){.iov_base = (void *)data, .iov_len = p->len};
        crc = vl_crc32c(crc, data, p->len);
    }
    crc = vl_crc32c(crc, rep, replen);
    vl_put_le32(hdr + 4, crc);
    iov[0] = (struct iovec){.iov_base = hdr, .iov_len = sizeof hdr};
    iov[niov - 1] = (struct iovec){.iov_base = (void *)rep, .iov_len = replen};
    vl_vlog_seg_t *seg = s_seg_last(self);
    uint64_t total = S_REC_HDR + rec->pay_len + replen;
    if (rec->off + total > seg->maplen && s_map_grow(self, seg, rec->off + total) != 0) {
        free(iov);
        return VL_ESTORE;
    }
    int rc = 0;
    if (s_pwritev_all(seg->fd, iov, (int)niov, rec->off) != 0) {
        vl_vlog_seterr("entry log: write to segment %u: %s (check the disk of the storage node)",
                       seg->id, strerror(errno));
        rc = VL_ESTORE;
    }
    free(iov);
    if (rc) {
        vl_vlog_rec_cancel(self, rec);
        return rc;
    }
    /* the disk starts on the bytes now, while the caller applies the
       index's batch (CPU: 20-25 us for one small append on the test
       machine); vl_vlog_rec_sync then waits for them and flushes the
       disk's cache. A failure here shows again in the fdatasync. */
    if (sync)
        (void)sync_file_range(seg->fd, (off_t)rec->off, (off_t)total, SYNC_FILE_RANGE_WRITE);
    /* the bytes are there before any value refers to them */
    __atomic_store_n(&seg->size, rec->off + total, __ATOMIC_RELEASE);
    return 0;
}

int vl_vlog_rec_sync(vl_vlog_t *self)
{
    vl_vlog_seg_t *seg = s_seg_last(self);
    if (fdatasync(seg->fd) == 0)
        return 0;
    /* the kernel may have dropped the pages: nothing is known any more */
    vl_vlog_seterr("entry log: fdatasync of segment %u: %s (restart the storage node)", seg->id,
                   strerror(errno));
    snprintf(self->brokenmsg, sizeof self->brokenmsg, "%s", s_errmsg);
    self->broken = 1;
    return VL_ESTORE;
}

/*  ---- opening: the records the index lacks ------------------------------------ */

/*  Reads the record at off of segment g: 0 and *len_p when it is whole and
    its checksum holds, VL_ESTORE otherwise (message set). */
static int s_rec_check(const vl_vlog_seg_t *g, uint64_t off, uint64_t *len_p, const uint8_t **rep_p,
                       uint32_t *replen_p)
{
    if (off > g->size || g->size - off < S_REC_HDR) { /* no read past the end of the file */
        vl_vlog_seterr("segment %u: %llu bytes at offset %llu are not a record header", g->id,
                       (unsigned long long)(off > g->size ? 0 : g->size - off),
                       (unsigned long long)off);
        return VL_ESTORE;
    }
    const uint8_t *h = g->map + off;
    uint64_t pay = vl_get_le64(h + 8);
    uint32_t replen = vl_get_le32(h + 16);
    if (vl_get_le32(h) != S_LOG_MAGIC || pay > g->size - off - S_REC_HDR ||
        replen > g->size - off - S_REC_HDR - pay) {
        vl_vlog_seterr("segment %u: no whole record at offset %llu", g->id,
                       (unsigned long long)off);
        return VL_ESTORE;
    }
    uint32_t crc = vl_crc32c(0, h + 8, S_REC_HDR - 8);
    crc = vl_crc32c(crc, h + S_REC_HDR, pay + replen);
    if (crc != vl_get_le32(h + 4)) {
        vl_vlog_seterr("segment %u: the record at offset %llu fails its checksum", g->id,
                       (unsigned long long)off);
        return VL_ESTORE;
    }
    *len_p = S_REC_HDR + pay + replen;
    *rep_p = h + S_REC_HDR + pay;
    *replen_p = replen;
    return 0;
}

/*  The last segment lost its record at woff, which RocksDB applied: finds
    where its whole records end, cuts the rest off when that is at or before
    woff. VL_ESTORE otherwise (a record lost in the middle). */
static int s_tail(vl_vlog_t *self, uint64_t woff)
{
    vl_vlog_seg_t *g = s_seg_last(self);
    uint64_t off = 0, len, last = UINT64_MAX;
    const uint8_t *rep;
    uint32_t replen;
    while (off < g->size && s_rec_check(g, off, &len, &rep, &replen) == 0) {
        last = off;
        off += len;
    }
    if (off > woff) {
        vl_vlog_seterr(
            "entry log: it lacks record %u/%llu, which the store already applied, in the "
            "middle of its last segment (the data directory is damaged); replace this "
            "replica",
            g->id, (unsigned long long)woff);
        return VL_ESTORE;
    }
    /* what the crash took may be commits and trims (the store holds them)
       but no entries: the store would point at bytes that are gone */
    bool lost;
    int rc = self->hooks.lost(self->hooks.arg, g->id, off, &lost);
    if (rc)
        return rc;
    if (lost) {
        vl_vlog_seterr("entry log: a crash took entries from the log's end (segment %u from offset "
                       "%llu) that the store had already recorded: they were written with --sync "
                       "none; replace this replica",
                       g->id, (unsigned long long)off);
        return VL_ESTORE;
    }
    vl_log(LOG_WARNING,
           "store: the entry log lost its last %llu bytes in a crash, written without sync "
           "(commits or trims the store already holds); going on from offset %llu of segment %u",
           (unsigned long long)(g->size - off), (unsigned long long)off, g->id);
    if (ftruncate(g->fd, (off_t)off) != 0 || fdatasync(g->fd) != 0) {
        vl_vlog_seterr("entry log: cutting segment %u at %llu: %s", g->id, (unsigned long long)off,
                       strerror(errno));
        return VL_ESTORE;
    }
    g->size = off;
    /* 'w' still names the lost record: the next records, written from off
       on, would be taken for it after another crash (or not replayed).
       It names the last whole record instead, durably, before any write. */
    uint32_t wseg = g->id;
    if (last == UINT64_MAX && self->nsegs > 1) {
        const vl_vlog_seg_t *p = g - 1;
        wseg = p->id;
        for (off = 0; off < p->size && s_rec_check(p, off, &len, &rep, &replen) == 0; off += len)
            last = off;
    }
    uint8_t wv[VL_VLOG_POS_LEN];
    vl_put_be32(wv, wseg);
    vl_put_be64(wv + 4, last);
    /* none: replay from the start */
    rc = self->hooks.set_position(self->hooks.arg, last == UINT64_MAX ? NULL : wv);
    if (rc)
        return rc;
    return self->hooks.flush(self->hooks.arg, true,
                             "flush the entry log position after its lost tail");
}

static int s_seg_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*  Opens the log's directory, creating it when missing, and maps the
    segments it holds (they must have consecutive ids). */
static int s_scan(vl_vlog_t *self)
{
    if (mkdir(self->logdir, 0755) != 0 && errno != EEXIST) {
        vl_vlog_seterr("entry log: mkdir %s: %s", self->logdir, strerror(errno));
        return VL_ESTORE;
    }
    self->logdir_fd = open(self->logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->logdir_fd < 0) {
        vl_vlog_seterr("entry log: open %s: %s", self->logdir, strerror(errno));
        return VL_ESTORE;
    }
    DIR *d = opendir(self->logdir);
    if (!d) {
        vl_vlog_seterr("entry log: opendir %s: %s", self->logdir, strerror(errno));
        return VL_ESTORE;
    }
    uint32_t *ids = NULL;
    size_t nids = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned id;
        char tail[8];
        if (sscanf(e->d_name, "%10u.%5s", &id, tail) == 2 && strcmp(tail, "vlog") == 0 &&
            strlen(e->d_name) == 15) {
            ids = vl_realloc(ids, (nids + 1) * sizeof *ids);
            ids[nids++] = id;
        }
    }
    closedir(d);
    if (nids > 1)
        qsort(ids, nids, sizeof *ids, s_seg_cmp);
    int rc = 0;
    for (size_t i = 0; i < nids && !rc; i++) {
        char path[PATH_MAX];
        s_seg_path(self, ids[i], path, sizeof path);
        if (i > 0 && ids[i] != ids[i - 1] + 1) {
            vl_vlog_seterr("entry log: segment %u is missing before %s (the data directory is "
                           "damaged; replace this replica)",
                           ids[i - 1] + 1, path);
            rc = VL_ESTORE;
            break;
        }
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            vl_vlog_seterr("entry log: open %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            rc = VL_ESTORE;
            break;
        }
        rc = s_seg_add(self, ids[i], fd, (uint64_t)st.st_size);
        if (!rc && i > 0) { /* only the last one is written */
            close(self->segs[self->nsegs - 2].fd);
            self->segs[self->nsegs - 2].fd = -1;
        }
    }
    free(ids);
    return rc;
}

/*  Finds where the index's durable state ends (hook position): the record
    after the one it applied last, *at_p (segment index) and *off_p. Sets
    *done_p when that record is lost (s_tail, which ends the opening). */
static int s_position(vl_vlog_t *self, size_t *at_p, uint64_t *off_p, bool *done_p)
{
    uint8_t w[VL_VLOG_POS_LEN];
    size_t vlen = 0;
    bool found;
    int rc = self->hooks.position(self->hooks.arg, w, &vlen, &found);
    if (rc)
        return rc;
    *at_p = 0;
    *off_p = 0;
    *done_p = false;
    if (!found)
        return 0;
    bool ok = vlen == VL_VLOG_POS_LEN;
    uint32_t wseg = ok ? vl_get_be32(w) : 0;
    uint64_t woff = ok ? vl_get_be64(w + 4) : 0;
    uint64_t len;
    const uint8_t *rep;
    uint32_t replen;
    if (!ok || wseg < self->segs[0].id || wseg - self->segs[0].id >= self->nsegs) {
        vl_vlog_seterr("entry log: the store's last write was in segment %u, which is not there "
                       "(the data directory is damaged; replace this replica)",
                       wseg);
        return VL_ESTORE;
    }
    size_t at = wseg - self->segs[0].id;
    if (s_rec_check(&self->segs[at], woff, &len, &rep, &replen) == 0) {
        *at_p = at;
        *off_p = woff + len;
        return 0;
    }
    /* RocksDB flushed the effect of a record the crash then lost: one
       written without sync (a commit, a trim; entries are synced first
       unless --sync none). The store has it, the log need not: it goes
       on from its last whole record, if that is where the lost one began
       or earlier. */
    if (at + 1 < self->nsegs) {
        vl_vlog_seterr("entry log: it lacks record %u/%llu, which the store already "
                       "applied, and later segments exist (the data directory is damaged); "
                       "replace this replica",
                       wseg, (unsigned long long)woff);
        return VL_ESTORE;
    }
    *done_p = true;
    return s_tail(self, woff); /* sets the message when it fails */
}

/*  Whether the n bytes at p are all zero. */
static bool s_zeros(const uint8_t *p, uint64_t n)
{
    static const uint8_t zero[4096];
    for (; n >= sizeof zero; p += sizeof zero, n -= sizeof zero)
        if (memcmp(p, zero, sizeof zero) != 0)
            return false;
    return n == 0 || memcmp(p, zero, n) == 0;
}

/*  Applies to the index (hook apply) the records from offset off of
    segment index at on, cutting off a write torn by a crash at the end;
    then, when it applied any, makes the index durable (hook flush). */
static int s_replay(vl_vlog_t *self, size_t at, uint64_t off)
{
    uint64_t applied = 0;
    for (; at < self->nsegs; at++, off = 0) {
        vl_vlog_seg_t *g = &self->segs[at];
        while (off < g->size) {
            uint64_t len;
            const uint8_t *rep;
            uint32_t replen;
            if (s_rec_check(g, off, &len, &rep, &replen) != 0) {
                if (at + 1 < self->nsegs) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "%s", s_errmsg);
                    vl_vlog_seterr("entry log: %s, and later segments exist (the data directory is "
                                   "damaged; replace this replica)",
                                   msg);
                    return VL_ESTORE;
                }
                /* zeros written ahead (vl_vlog_prewrite): kept for the
                   next records */
                if (s_zeros(g->map + off, g->size - off)) {
                    g->size = off;
                    break;
                }
                /* a write torn by a crash: never acknowledged */
                vl_log(LOG_WARNING,
                       "store: entry log segment %u ends with %llu bytes of an unfinished "
                       "write (a crash while writing); cutting them off",
                       g->id, (unsigned long long)(g->size - off));
                if (ftruncate(g->fd, (off_t)off) != 0 || fdatasync(g->fd) != 0) {
                    vl_vlog_seterr("entry log: cutting segment %u at %llu: %s", g->id,
                                   (unsigned long long)off, strerror(errno));
                    return VL_ESTORE;
                }
                g->size = off;
                break;
            }
            int rc = self->hooks.apply(self->hooks.arg, rep, replen);
            if (rc)
                return rc;
            applied++;
            off += len;
        }
    }
    if (applied > 0) {
        vl_log(LOG_NOTICE,
               "store: applied %llu records of the entry log that the store had "
               "not flushed (the last stop was not clean)",
               (unsigned long long)applied);
        /* a process crash leaves records only in the page cache: the flush
           must not make the store durably ahead of them */
        if (fdatasync(s_seg_last(self)->fd) != 0) {
            vl_vlog_seterr("entry log: fdatasync of segment %u after the replay: %s",
                           s_seg_last(self)->id, strerror(errno));
            return VL_ESTORE;
        }
        return self->hooks.flush(self->hooks.arg, true, "flush after the replay");
    }
    return 0;
}

/*  ---- life ---------------------------------------------------------------- */

vl_vlog_t *vl_vlog_new(const char *dir, const vl_vlog_hooks_t *hooks)
{
    vl_vlog_t *self = vl_calloc(1, sizeof *self);
    self->hooks = *hooks;
    size_t n = strlen(dir) + 8;
    self->logdir = vl_malloc(n);
    snprintf(self->logdir, n, "%s/vlog", dir);
    self->logdir_fd = -1;
    self->rotate = S_SEG_ROTATE;
    self->map_step = S_MAP_STEP;
    self->prewrite = VL_VLOG_PREWRITE;
    /* readers take seglock recursively (a cursor's call sums sizes with
       another cursor): readers must not queue behind a waiting writer */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_READER_NP);
    pthread_rwlock_init(&self->seglock, &ra);
    pthread_rwlockattr_destroy(&ra);
    return self;
}

int vl_vlog_open(vl_vlog_t *self)
{
    int rc = s_scan(self);
    if (rc)
        return rc;
    if (self->nsegs == 0)
        return s_seg_create(self, 1);
    size_t at;
    uint64_t off;
    bool done;
    rc = s_position(self, &at, &off, &done);
    if (rc || done)
        return rc;
    return s_replay(self, at, off);
}

void vl_vlog_destroy(vl_vlog_t **self_p)
{
    vl_vlog_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nsegs; i++) {
        munmap((void *)self->segs[i].map, self->segs[i].maplen);
        if (self->segs[i].fd >= 0)
            close(self->segs[i].fd);
    }
    free(self->segs);
    if (self->logdir_fd >= 0)
        close(self->logdir_fd);
    free(self->logdir);
    pthread_rwlock_destroy(&self->seglock);
    free(self);
    *self_p = NULL;
}

int vl_vlog_sync(vl_vlog_t *self)
{
    return self->nsegs > 0 ? fdatasync(s_seg_last(self)->fd) : 0;
}

void vl_vlog_set_segment_bytes(vl_vlog_t *self, uint64_t bytes)
{
    self->rotate = bytes;
}

uint64_t vl_vlog_segment_bytes_for(uint64_t disk_bytes)
{
    uint64_t b = disk_bytes / VL_VLOG_SEG_FRACTION;
    if (disk_bytes == 0 || b > VL_VLOG_SEG_MAX)
        return VL_VLOG_SEG_MAX;
    return b < VL_VLOG_SEG_MIN ? VL_VLOG_SEG_MIN : b;
}

void vl_vlog_set_map_step(vl_vlog_t *self, uint64_t bytes)
{
    self->map_step = bytes;
}

/*  ---- zeros written ahead ------------------------------------------------------ */

#define S_PREWRITE_MIN_FREE (64ull << 20) /* no zeros ahead on a disk with less free */
#define S_PREWRITE_RETRY_US 1000000

void vl_vlog_set_prewrite(vl_vlog_t *self, uint64_t bytes)
{
    self->prewrite = bytes;
}

void vl_vlog_prewrite(vl_vlog_t *self)
{
    if (self->broken || self->nsegs == 0 || self->prewrite == 0)
        return;
    vl_vlog_seg_t *g = s_seg_last(self);
    if (g->size >= self->rotate)
        return;
    /* the file's size from lseek, not fstat: a stat asks for the file's
       ctime, and since Linux 6.13 (multigrain timestamps) the next write
       then stamps a fresh fine-grained ctime, which makes the following
       fdatasync write the inode too: 2,000 synced overwrites of 300 bytes
       with an fstat after each took 0.25-0.26 s on the test machine's
       ext4, 0.18 s without */
    off_t end = lseek(g->fd, 0, SEEK_END);
    if (end < 0)
        return;
    /* past the records' end, the file holds zeros written ahead */
    uint64_t from = (uint64_t)end > g->size ? (uint64_t)end : g->size;
    if (from - g->size >= self->prewrite / 2)
        return;
    uint64_t to = from + self->prewrite;
    if (to > self->rotate)
        to = self->rotate; /* the next segment starts there: they would be cut */
    if (to <= from)
        return;
    int64_t now = vl_now_us();
    if (now < self->prewrite_after_us)
        return;
    struct statvfs vfs;
    if (fstatvfs(g->fd, &vfs) != 0 || (uint64_t)vfs.f_bavail * vfs.f_frsize < S_PREWRITE_MIN_FREE) {
        self->prewrite_after_us = now + S_PREWRITE_RETRY_US;
        return;
    }
    int rc = vl_pwrite_zeros(g->fd, from, to);
    if (rc != 0) {
        /* the disk filled: the space goes back to the records */
        vl_log(LOG_INFO, "store: writing zeros ahead in entry log segment %u: %s; trying again "
                         "in a second",
               g->id, strerror(rc));
        if (ftruncate(g->fd, (off_t)from) != 0 && !self->broken) {
            snprintf(self->brokenmsg, sizeof self->brokenmsg,
                     "entry log: cutting the zeros written ahead off segment %u: %s (restart "
                     "the storage node)",
                     g->id, strerror(errno));
            self->broken = 1;
        }
        self->prewrite_after_us = now + S_PREWRITE_RETRY_US;
        return;
    }
    if (fdatasync(g->fd) != 0) {
        /* as for a record's: the kernel may have dropped pages of records
           written without sync too */
        snprintf(self->brokenmsg, sizeof self->brokenmsg,
                 "entry log: fdatasync of segment %u: %s (restart the storage node)", g->id,
                 strerror(errno));
        self->broken = 1;
    }
}

size_t vl_vlog_segments(vl_vlog_t *self)
{
    pthread_rwlock_rdlock(&self->seglock);
    size_t n = self->nsegs;
    pthread_rwlock_unlock(&self->seglock);
    return n;
}

/*  ---- removing segments ---------------------------------------------------- */

bool vl_vlog_drop(vl_vlog_t *self, uint32_t keep)
{
    /* their records must not be needed for a replay; and what the flush
       makes durable must be in the log first */
    if (fdatasync(s_seg_last(self)->fd) != 0) {
        vl_log(LOG_WARNING, "store: entry log cleanup: fdatasync: %s", strerror(errno));
        return false;
    }
    if (self->hooks.flush(self->hooks.arg, true, "flush before removing segments") != 0) {
        vl_log(LOG_WARNING, "store: entry log cleanup: %s", s_errmsg);
        return false;
    }
    size_t drop = keep - self->segs[0].id;
    pthread_rwlock_wrlock(&self->seglock);
    for (size_t i = 0; i < drop; i++) {
        vl_vlog_seg_t *g = &self->segs[i];
        char path[PATH_MAX];
        s_seg_path(self, g->id, path, sizeof path);
        munmap((void *)g->map, g->maplen);
        if (g->fd >= 0)
            close(g->fd);
        if (unlink(path) != 0)
            vl_log(LOG_WARNING, "store: removing %s: %s", path, strerror(errno));
    }
    memmove(self->segs, self->segs + drop, (self->nsegs - drop) * sizeof *self->segs);
    self->nsegs -= drop;
    pthread_rwlock_unlock(&self->seglock);
    fsync(self->logdir_fd);
    vl_log(LOG_INFO, "store: removed %zu entry log segments no entry is left in", drop);
    return true;
}
