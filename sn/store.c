/*  store.c - the storage node's RocksDB store: open, close, the format,
    replica states, and every write, through the entry log.

    Keys and values are documented in store.h. All numbers, in keys and in
    values, are big endian. RocksDB reports errors as a malloc'd char *err;
    they are turned into VL_ESTORE and a thread-local message here, once
    (s_check), and nowhere else.

    Entries are stored one value per written batch (see "entries" in
    store_i.h), their bytes in the entry log (vlog.c), which this file
    drives: it writes each batch there first (vl_store_log_write) and
    answers the log's hooks (replay, flush, position); store_gc.c decides
    which segments may go. Batches are built in store_batch.c, reads are in
    store_read.c (store_i.h says what each file holds).
*/
#include <errno.h>
#include <inttypes.h>
#include <rocksdb/c.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include "log.h"
#include "store.h"
#include "store_i.h"
#include "util.h"
#include "vlog.h"

/*  rocksdb::InfoLogLevel::HEADER_LEVEL (the C API has no name for it):
    RocksDB's info log takes no line but headers (see vl_store_open). */
#define S_ROCKSDB_LOG_HEADER 5

static __thread char s_errmsg[512];

void vl_store_seterr(const char *fmt, ...)
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
    vl_store_seterr("rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return VL_ESTORE;
}

const char *vl_store_errmsg(void)
{
    return s_errmsg;
}

int vl_store_iter_done(rocksdb_iterator_t *it, int rc, const char *what)
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

/*  ---- the entry log (vlog.c): what it asks of RocksDB ------------------------

    The entries' bytes are in the entry log (vlog.h, vlog.c); RocksDB holds
    where they are, and 'w', the log position of the last write. The log's
    hooks below apply its records, flush, read and store 'w' and look for
    entries a crash took; the cleaning of segments (store_gc.c) reads the
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
        vl_store_seterr("%s", vl_vlog_errmsg());
    return rc;
}

bool vl_store_flush_room(vl_store_t *self, uint64_t *free_p, uint64_t *need_p)
{
    uint64_t mem = 0;
    char *v = rocksdb_property_value(self->db, "rocksdb.cur-size-all-mem-tables");
    if (v)
        mem = strtoull(v, NULL, 10);
    rocksdb_free(v);
    struct statvfs sv;
    *free_p = statvfs(self->dir, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : UINT64_MAX;
    *need_p = mem + S_FLUSH_SLACK;
    return *free_p >= *need_p;
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

/*  A flush the log asks for: after the replay and before removing
    segments (wait), or at a segment's end (not waited for, only to keep
    the next replay short: not started when the disk lacks room for it,
    see vl_store_flush_room). */
static int s_hook_flush(void *arg, bool wait, const char *what)
{
    vl_store_t *self = arg;
    uint64_t free_b, need;
    if (!wait && !vl_store_flush_room(self, &free_b, &need)) {
        vl_vlog_seterr("%s: not started: %" PRIu64 " bytes free on the disk of %s, it needs "
                       "about %" PRIu64 " (a restart replays more of the entry log meanwhile)",
                       what, free_b, self->dir, need);
        return VL_ESTORE;
    }
    return s_to_vlog(s_flush(self, wait, what));
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
    return s_to_vlog(vl_store_iter_done(it, 0, "look for entries the entry log lost"));
}

/*  Writes batch b as the next record of the entry log (synced when sync)
    and applies it to RocksDB (while the disk writes the record). On
    failure nothing of it stays in the log or in RocksDB, or the log is
    broken (a failed fdatasync) and the storage node must restart. */
int vl_store_log_write(vl_store_t *self, vl_store_batch_t *b, bool sync)
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
    /* while the disk writes the record (a synced one) */
    char *err = NULL;
    rocksdb_write(self->db, self->wo, b->wb, &err);
    rc = s_check(err, "write");
    if (rc) { /* RocksDB did not take it: neither may a replay */
        vl_vlog_rec_cancel(self->vlog, &b->rec);
        return rc;
    }
    /* a failure breaks the log and fails the store (vl_sn_fault): the
       values RocksDB took meanwhile are in its memtable only (WAL off,
       and a failed store is not flushed at close). Whether the disk has
       the record is unknown, as after a crash between the sync and the
       REPORT: a restart replays it if it is whole, and entries a storage
       node never reported are cut when their log stream is sealed */
    if (sync && (rc = vl_vlog_rec_sync(self->vlog)) != 0)
        return s_from_vlog(rc);
    return 0;
}

void vl_store_set_failed(vl_store_t *self)
{
    self->failed = true;
}

void vl_store_set_segment_bytes(vl_store_t *self, uint64_t bytes)
{
    vl_vlog_set_segment_bytes(self->vlog, bytes);
}

void vl_store_set_map_step(vl_store_t *self, uint64_t bytes)
{
    vl_vlog_set_map_step(self->vlog, bytes);
}

void vl_store_idle(vl_store_t *self)
{
    if (!self->failed)
        vl_vlog_prewrite(self->vlog);
}

size_t vl_store_segments(vl_store_t *self)
{
    return vl_vlog_segments(self->vlog);
}

/*  ---- open / close ---------------------------------------------------- */

#define S_FORMAT 3 /* 1: one 'd' key per entry; 2: one per batch; 3: the entry log */

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
        vl_store_seterr("data directory %s has store format %d; this varlogsn reads format %d (use "
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
        vl_store_batch_put_inline(b, vl_get_be32((const uint8_t *)key + 1),
                                  vl_get_be64((const uint8_t *)key + 5), 1, size, e, elen);
    }
    rc = vl_store_iter_done(it, rc, "convert entries to batches");
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
    /* RocksDB's own info log (DIR/LOG) stays empty: Debian's RocksDB 7.8
       (built with assertions) aborts the process on the first line it logs
       after a write of that file met ENOSPC (its EnvLogger ignores the
       error, the next Append asserts `sync_without_flush_called_`), and it
       logs from its flush threads at any moment. Its errors reach us as
       the status of our calls, logged by varlogsn. */
    rocksdb_options_set_info_log_level(self->opts, S_ROCKSDB_LOG_HEADER);
    vl_store_gc_open_room(self);
    char *err = NULL;
    self->db = rocksdb_open(self->opts, dir, &err);
    if (!self->db) {
        bool full = err && strstr(err, strerror(ENOSPC));
        vl_store_seterr("rocksdb open %s: %s (%s)", dir, err ? err : "unknown error",
                        full ? "the disk is full: free space on it and start again"
                             : "is another varlogsn using this data directory?");
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
    vl_store_gc_reserve(self);
    *store_p = self;
    return 0;
}

/*  RocksDB handles left open after a failed write, kept reachable until the
    process ends (which closes their files) so that a leak checker does
    not take them for leaks. */
static rocksdb_t *s_left_open[16];

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
    /* a background write of RocksDB's own may have failed too (a flush on a
       full disk), which nothing of ours saw */
    char *bg = rocksdb_property_value(self->db, "rocksdb.background-errors");
    if (bg && strtoull(bg, NULL, 10) > 0)
        self->failed = true;
    rocksdb_free(bg);
    if (self->failed) {
        vl_log(LOG_NOTICE, "store: a write to the disk failed since the store opened: RocksDB "
                           "is left as after a crash (the next start replays the entry log)");
        for (size_t i = 0; i < sizeof s_left_open / sizeof s_left_open[0]; i++)
            if (!s_left_open[i]) {
                s_left_open[i] = self->db;
                break;
            }
    } else {
        if (s_flush(self, true, "flush at close") != 0)
            vl_log(LOG_WARNING, "store: %s (the next start replays the entry log)", s_errmsg);
        rocksdb_close(self->db);
    }
    vl_vlog_destroy(&self->vlog);
    rocksdb_writeoptions_destroy(self->wo);
    rocksdb_readoptions_destroy(self->ro);
    rocksdb_options_destroy(self->opts);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/*  ---- states ---------------------------------------------------------- */

static int s_state_decode(uint32_t ls, const char *v, size_t vlen, vl_store_state_t *s)
{
    if (vlen != S_STATE_LEN) {
        vl_store_seterr("ls=%u: replica state has %zu bytes, expected %d: the data directory is "
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
            vl_store_seterr("replica state key of %zu bytes: the data directory is corrupt", klen);
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
        vl_store_seterr("ls=%u: no replica state", ls_id);
        return VL_ENOLS;
    }
    rc = s_state_decode(ls_id, v, vlen, state);
    rocksdb_free(v);
    return rc;
}

int vl_store_write(vl_store_t *self, vl_store_batch_t *batch, bool sync)
{
    int rc = vl_store_log_write(self, batch, sync);
    /* a write that deletes (a trim) may use the reserve: it frees more */
    if (rc == VL_ESTORE && batch->deletes && vl_store_gc_release(self))
        rc = vl_store_log_write(self, batch, sync);
    if (rc == 0 && (batch->deletes || self->gc_more))
        vl_store_gc_run(self);
    return rc;
}
