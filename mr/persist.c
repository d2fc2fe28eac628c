/*  persist.c - the metadata repository's RocksDB store.

    Values are little endian like the wire and start with a format byte so a
    later layout can be told apart. Metadata changes are rare (admin
    operations, trims), so each one rewrites every S/T/L record in one
    batch: a range delete of the three prefixes followed by the puts. That
    keeps deletes (topic, SN) free of bookkeeping, and a batch applies in
    order, so the puts win over the range deletes before them.

    Commit rounds are frequent, so a round writes one key per topic it
    advanced (issue 5): G topic glsn_begin -> the round's items of that
    topic, in log stream id order. Keys per log stream and round (a range
    key, an LLSN index key and the L record, three per advancing log
    stream) cost about 1.5 us of CPU each in RocksDB's memtable skip list,
    4.5 ms per round with 1,000 log streams; a G key goes in at the end of
    its topic's history, where the skip list's insert hint finds it. The
    per-log-stream committed ends of the T and L records are then only as
    new as the last metadata write; the rounds after it are replayed at
    load. So that neither the replay nor a history lookup by log stream
    has to read the whole history, every S_CKPT_EVERY groups of a topic
    the round also writes a checkpoint K topic hwm -> the committed end
    and bytes of every log stream of the topic after that round. Rounds
    are still one synced WriteBatch each: a crash leaves a whole round or
    none of it.

    RocksDB errors are translated here, once, into VL_ESTORE plus text.
*/
#include <errno.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "persist.h"
#include "util.h"

#define S_FMT 1
#define S_FMT_GROUP 2       /* a G value with varint items (S_FMT: fixed items) */
#define S_CKPT_EVERY 64     /* groups of a topic between two checkpoints */
#define S_GROUP_HDR 21      /* fmt u8, version u64, offset_begin u64, n u32 */
#define S_GROUP_ITEM 28     /* format 1: ls u32, llsn_begin u64, count u64, bytes u64 */
#define S_GROUP_ITEM_MAX 35 /* format 2: ls delta (5), llsn_begin, count, bytes (10 each) */
#define S_CKPT_HDR 21       /* fmt u8, version u64, end_offset u64, n u32 */
#define S_CKPT_ITEM 20      /* ls u32, llsn_end u64, bytes u64 */

/*  Groups written per topic since its last checkpoint (loop thread only). */
typedef struct {
    uint32_t topic_id, groups;
} s_ckpt_count_t;

struct vl_persist {
    char *dir;
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *wsync, *wnosync;
    rocksdb_readoptions_t *ropts;
    s_ckpt_count_t *ckpt;
    size_t nckpt;
    uint8_t *gbuf; /* a G value being built (loop thread only) */
    size_t gcap;
};

/*  A round's write, built on the loop thread, written on the writer's. */
struct vl_persist_batch {
    rocksdb_writebatch_t *b;
};

/*  ---- keys ---------------------------------------------------------------- */

static size_t s_key32(char *k, char prefix, uint32_t id)
{
    k[0] = prefix;
    vl_put_be32((uint8_t *)k + 1, id);
    return 5;
}

static size_t s_key32_64(char *k, char prefix, uint32_t id, uint64_t n)
{
    k[0] = prefix;
    vl_put_be32((uint8_t *)k + 1, id);
    vl_put_be64((uint8_t *)k + 5, n);
    return 13;
}

/*  ---- lifecycle ------------------------------------------------------------ */

/*  mkdir -p: the data directory is created when missing (varlogmr(8)). */
static int s_mkdirs(const char *dir)
{
    char *path = vl_strdup(dir);
    int rc = 0;
    for (char *p = path + 1; *p && rc == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(path, 0755) != 0 && errno != EEXIST)
        rc = -1;
    free(path);
    return rc;
}

vl_persist_t *vl_persist_open(const char *dir, char *errbuf, size_t errbuf_size)
{
    if (s_mkdirs(dir) != 0) {
        snprintf(errbuf, errbuf_size,
                 "cannot create data directory '%s': %s; check the path and its permissions", dir,
                 strerror(errno));
        return NULL;
    }
    vl_persist_t *self = vl_calloc(1, sizeof *self);
    self->dir = vl_strdup(dir);
    self->options = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(self->options, 1);
    self->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(self->wsync, 1);
    self->wnosync = rocksdb_writeoptions_create();
    self->ropts = rocksdb_readoptions_create();
    /* RocksDB counts every key comparison in a thread-local perf context
       by default; the MR never reads it, and with the library's dynamic
       TLS the counting was a fifth of a commit round's memtable inserts.
       The level is per thread: this is the thread that writes. */
    rocksdb_set_perf_level(rocksdb_disable);
    char path[4096];
    snprintf(path, sizeof path, "%s/mr.db", dir);
    char *err = NULL;
    self->db = rocksdb_open(self->options, path, &err);
    if (err || !self->db) {
        snprintf(errbuf, errbuf_size,
                 "cannot open the MR store '%s': %s; is another varlogmr using this data "
                 "directory?",
                 path, err ? err : "unknown error");
        rocksdb_free(err);
        vl_persist_destroy(&self);
        return NULL;
    }
    return self;
}

void vl_persist_destroy(vl_persist_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_persist_t *self = *self_p;
    if (self->db)
        rocksdb_close(self->db);
    rocksdb_readoptions_destroy(self->ropts);
    rocksdb_writeoptions_destroy(self->wsync);
    rocksdb_writeoptions_destroy(self->wnosync);
    free(self->ckpt);
    free(self->gbuf);
    rocksdb_options_destroy(self->options);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

static int s_write(vl_persist_t *self, rocksdb_writebatch_t *b, const char *what, char *errbuf,
                   size_t errbuf_size)
{
    char *err = NULL;
    rocksdb_write(self->db, self->wsync, b, &err);
    rocksdb_writebatch_destroy(b);
    if (err) {
        snprintf(errbuf, errbuf_size, "writing %s to the MR store in %s: %s; check the disk", what,
                 self->dir, err);
        rocksdb_free(err);
        return VL_ESTORE;
    }
    return 0;
}

/*  ---- records --------------------------------------------------------------- */

static void s_put_counters(rocksdb_writebatch_t *b, const vl_mrstate_counters_t *c)
{
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    vl_wbuf_u8(&v, S_FMT);
    vl_wbuf_u64(&v, c->version);
    vl_wbuf_u32(&v, c->next_sn_id);
    vl_wbuf_u32(&v, c->next_topic_id);
    vl_wbuf_u32(&v, c->next_ls_id);
    rocksdb_writebatch_put(b, "V", 1, (const char *)v.data, v.len);
    vl_wbuf_free(&v);
}

static void s_put_topic(rocksdb_writebatch_t *b, const vl_mrstate_topic_t *t, uint64_t hwm,
                        uint64_t end_offset)
{
    char k[16];
    size_t kl = s_key32(k, 'T', t->id);
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    vl_wbuf_u8(&v, S_FMT);
    vl_wbuf_str(&v, t->name);
    vl_wbuf_u32(&v, t->rf);
    vl_wbuf_u64(&v, hwm);
    vl_wbuf_u64(&v, end_offset);
    vl_wbuf_u64(&v, t->trim_glsn);
    vl_wbuf_u64(&v, t->trim_offset);
    rocksdb_writebatch_put(b, k, kl, (const char *)v.data, v.len);
    vl_wbuf_free(&v);
}

static void s_put_ls(rocksdb_writebatch_t *b, const vl_mrstate_ls_t *ls,
                     uint64_t committed_llsn_end, uint64_t committed_bytes)
{
    char k[16];
    size_t kl = s_key32(k, 'L', ls->id);
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    vl_wbuf_u8(&v, S_FMT);
    vl_wbuf_u32(&v, ls->topic_id);
    vl_wbuf_u8(&v, ls->state);
    vl_wbuf_u32(&v, ls->nrep);
    for (uint32_t i = 0; i < ls->nrep; i++)
        vl_wbuf_u32(&v, ls->replicas[i].sn_id);
    vl_wbuf_u64(&v, committed_llsn_end);
    vl_wbuf_u64(&v, committed_bytes);
    vl_wbuf_u32(&v, ls->epoch);
    vl_wbuf_u32(&v, ls->seal_sn);
    rocksdb_writebatch_put(b, k, kl, (const char *)v.data, v.len);
    vl_wbuf_free(&v);
}

static int s_decode_topic(const char *val, size_t len, vl_mrstate_topic_t *t)
{
    vl_rbuf_t r;
    vl_rbuf_init(&r, val, len);
    if (vl_rbuf_u8(&r) != S_FMT)
        return VL_ESTORE;
    vl_rbuf_str(&r, t->name, VL_WIRE_MAX_NAME);
    t->rf = vl_rbuf_u32(&r);
    t->hwm = vl_rbuf_u64(&r);
    t->end_offset = vl_rbuf_u64(&r);
    t->trim_glsn = vl_rbuf_u64(&r);
    t->trim_offset = vl_rbuf_u64(&r);
    return r.err ? VL_ESTORE : 0;
}

static int s_decode_ls(const char *val, size_t len, vl_mrstate_ls_t *ls)
{
    vl_rbuf_t r;
    vl_rbuf_init(&r, val, len);
    if (vl_rbuf_u8(&r) != S_FMT)
        return VL_ESTORE;
    ls->topic_id = vl_rbuf_u32(&r);
    ls->state = vl_rbuf_u8(&r);
    ls->nrep = vl_rbuf_u32(&r);
    if (ls->nrep > VL_WIRE_MAX_REPLICAS)
        return VL_ESTORE;
    for (uint32_t i = 0; i < ls->nrep; i++)
        ls->replicas[i].sn_id = vl_rbuf_u32(&r);
    ls->committed_llsn_end = vl_rbuf_u64(&r);
    ls->committed_bytes = vl_rbuf_u64(&r);
    /* records written before epochs existed end here: epoch 0 */
    ls->epoch = r.left >= 4 ? vl_rbuf_u32(&r) : 0;
    /* and before automatic seals were recorded: by hand */
    ls->seal_sn = r.left >= 4 ? vl_rbuf_u32(&r) : 0;
    return r.err ? VL_ESTORE : 0;
}

/*  Commit range as written before groups (format of 'C' keys), read only
    to migrate an old store (s_migrate). */
static int s_decode_range(const char *key, size_t klen, const char *val, size_t len,
                          vl_persist_range_t *out)
{
    if (klen != 13 || key[0] != 'C')
        return VL_ESTORE;
    memset(out, 0, sizeof *out);
    out->item.topic_id = vl_get_be32((const uint8_t *)key + 1);
    out->item.glsn_begin = vl_get_be64((const uint8_t *)key + 5);
    vl_rbuf_t r;
    vl_rbuf_init(&r, val, len);
    if (vl_rbuf_u8(&r) != S_FMT)
        return VL_ESTORE;
    out->item.ls_id = vl_rbuf_u32(&r);
    out->item.llsn_begin = vl_rbuf_u64(&r);
    out->item.count = vl_rbuf_u64(&r);
    out->item.offset_begin = vl_rbuf_u64(&r);
    out->item.bytes = vl_rbuf_u64(&r);
    out->item.hwm = vl_rbuf_u64(&r);
    out->item.end_offset = vl_rbuf_u64(&r);
    out->version = vl_rbuf_u64(&r);
    return r.err || out->item.count == 0 ? VL_ESTORE : 0;
}

/*  ---- groups and checkpoints ------------------------------------------------- */

/*  One G record, parsed in place: items stay in the value's bytes.

    Format 1 (S_FMT) has fixed 28-byte items. Format 2 (S_FMT_GROUP, what
    rounds write) has varint (LEB128) items: ls as the difference from the
    item before (modulo 2^32; items are in id order, so usually 1), then
    llsn_begin, count and bytes. A round of 1,000 log streams that each
    gained a few entries is then about 8 bytes an item instead of 28, and
    the value's bytes are most of what the MR's writer and RocksDB's
    compactions spend their CPU on (the WAL's checksums, copies and
    writes, snappy): at 1,000 log streams and 2,000 rounds a second, 56
    MB/s of G values in format 1. Both formats are read. */
typedef struct {
    uint32_t topic_id, n;
    uint8_t fmt;
    uint64_t glsn_begin, offset_begin, version;
    uint64_t hwm, end_offset; /* the topic's ends after the group */
    const uint8_t *items, *items_end;
} s_group_t;

typedef struct {
    uint32_t ls_id;
    uint64_t llsn_begin, count, bytes;
} s_gitem_t;

/*  A walk over a group's items. */
typedef struct {
    const uint8_t *p, *end;
    uint8_t fmt;
    uint32_t ls_id; /* the item before's (format 2 deltas) */
} s_gcur_t;

static size_t s_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/*  Reads a varint from [*p, end); false when it runs past end or past 64
    bits. */
static bool s_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static void s_group_begin(const s_group_t *g, s_gcur_t *cur)
{
    cur->p = g->items;
    cur->end = g->items_end;
    cur->fmt = g->fmt;
    cur->ls_id = 0;
}

/*  The next item; false when the bytes run out or do not make one. */
static bool s_group_next(s_gcur_t *cur, s_gitem_t *it)
{
    if (cur->fmt == S_FMT) {
        if (cur->end - cur->p < S_GROUP_ITEM)
            return false;
        it->ls_id = vl_get_le32(cur->p);
        it->llsn_begin = vl_get_le64(cur->p + 4);
        it->count = vl_get_le64(cur->p + 12);
        it->bytes = vl_get_le64(cur->p + 20);
        cur->p += S_GROUP_ITEM;
        return true;
    }
    uint64_t delta;
    if (!s_varint_get(&cur->p, cur->end, &delta) || delta > UINT32_MAX ||
        !s_varint_get(&cur->p, cur->end, &it->llsn_begin) ||
        !s_varint_get(&cur->p, cur->end, &it->count) ||
        !s_varint_get(&cur->p, cur->end, &it->bytes))
        return false;
    cur->ls_id += (uint32_t)delta;
    it->ls_id = cur->ls_id;
    return true;
}

static int s_group_parse(const char *key, size_t klen, const char *val, size_t vlen, s_group_t *g)
{
    const uint8_t *v = (const uint8_t *)val;
    if (klen != 13 || key[0] != 'G' || vlen < S_GROUP_HDR || (v[0] != S_FMT && v[0] != S_FMT_GROUP))
        return VL_ESTORE;
    g->fmt = v[0];
    g->topic_id = vl_get_be32((const uint8_t *)key + 1);
    g->glsn_begin = vl_get_be64((const uint8_t *)key + 5);
    g->version = vl_get_le64(v + 1);
    g->offset_begin = vl_get_le64(v + 9);
    g->n = vl_get_le32(v + 17);
    g->items = v + S_GROUP_HDR;
    g->items_end = v + vlen;
    if (g->n == 0 || g->glsn_begin == 0)
        return VL_ESTORE;
    /* exactly n items that fill the value, every count at least 1, no
       sum overflowing: the walks that follow need not check again */
    uint64_t glsn = g->glsn_begin, off = g->offset_begin;
    s_gcur_t cur;
    s_group_begin(g, &cur);
    for (uint32_t i = 0; i < g->n; i++) {
        s_gitem_t it;
        if (!s_group_next(&cur, &it) || it.count == 0 || glsn + it.count < glsn ||
            off + it.bytes < off || it.llsn_begin + it.count < it.llsn_begin)
            return VL_ESTORE;
        glsn += it.count;
        off += it.bytes;
    }
    if (cur.p != cur.end)
        return VL_ESTORE;
    g->hwm = glsn - 1;
    g->end_offset = off;
    return 0;
}

/*  Item it of g as a range; glsn and offset are where it begins (the sums
    of the items before it). */
static void s_group_item(const s_group_t *g, const s_gitem_t *it, uint64_t glsn, uint64_t offset,
                         vl_persist_range_t *out)
{
    memset(out, 0, sizeof *out);
    out->item.topic_id = g->topic_id;
    out->item.ls_id = it->ls_id;
    out->item.llsn_begin = it->llsn_begin;
    out->item.count = it->count;
    out->item.bytes = it->bytes;
    out->item.glsn_begin = glsn;
    out->item.offset_begin = offset;
    out->item.hwm = g->hwm;
    out->item.end_offset = g->end_offset;
    out->version = g->version;
}

/*  One K record, parsed in place. */
typedef struct {
    uint64_t hwm, version, end_offset;
    uint32_t n;
    const uint8_t *ends; /* n * S_CKPT_ITEM bytes, by log stream id */
} s_ckpt_t;

static int s_ckpt_parse(const char *key, size_t klen, const char *val, size_t vlen, s_ckpt_t *c)
{
    const uint8_t *v = (const uint8_t *)val;
    if (klen != 13 || key[0] != 'K' || vlen < S_CKPT_HDR || v[0] != S_FMT)
        return VL_ESTORE;
    c->hwm = vl_get_be64((const uint8_t *)key + 5);
    c->version = vl_get_le64(v + 1);
    c->end_offset = vl_get_le64(v + 9);
    c->n = vl_get_le32(v + 17);
    if ((vlen - S_CKPT_HDR) % S_CKPT_ITEM != 0 || (vlen - S_CKPT_HDR) / S_CKPT_ITEM != c->n)
        return VL_ESTORE;
    c->ends = v + S_CKPT_HDR;
    return 0;
}

/*  The committed end of ls_id in checkpoint c (0: not there, i.e. the log
    stream was added later and had nothing committed then). */
static uint64_t s_ckpt_end(const s_ckpt_t *c, uint32_t ls_id)
{
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint32_t id = vl_get_le32(c->ends + (size_t)mid * S_CKPT_ITEM);
        if (id == ls_id)
            return vl_get_le64(c->ends + (size_t)mid * S_CKPT_ITEM + 4);
        if (id < ls_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/*  Counts a group of topic_id; true when it is due a checkpoint. */
static bool s_ckpt_due(vl_persist_t *self, uint32_t topic_id)
{
    s_ckpt_count_t *c = NULL;
    for (size_t i = 0; i < self->nckpt; i++)
        if (self->ckpt[i].topic_id == topic_id)
            c = &self->ckpt[i];
    if (!c) {
        self->ckpt = vl_realloc(self->ckpt, (self->nckpt + 1) * sizeof *self->ckpt);
        c = &self->ckpt[self->nckpt++];
        c->topic_id = topic_id;
        c->groups = 0;
    }
    if (++c->groups < S_CKPT_EVERY)
        return false;
    c->groups = 0;
    return true;
}

static void s_ckpt_set(vl_persist_t *self, uint32_t topic_id, uint32_t groups)
{
    s_ckpt_due(self, topic_id);
    for (size_t i = 0; i < self->nckpt; i++)
        if (self->ckpt[i].topic_id == topic_id)
            self->ckpt[i].groups = groups;
}

static int s_iter_error(vl_persist_t *self, rocksdb_iterator_t *it, int rc, char *errbuf,
                        size_t errbuf_size)
{
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && rc == 0) {
        snprintf(errbuf, errbuf_size, "reading the commit history in %s: %s; check the disk",
                 self->dir, err);
        rc = VL_ESTORE;
    }
    rocksdb_free(err);
    return rc;
}

static int s_corrupt(vl_persist_t *self, const char *what, uint32_t topic_id, char *errbuf,
                     size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size,
             "the commit history in %s has a corrupt %s (topic %u); restore the data directory "
             "from a backup",
             self->dir, what, topic_id);
    return VL_ESTORE;
}

/*  ---- load ------------------------------------------------------------------- */

/*  Calls fn on every key of one prefix, in key order. */
typedef int(s_visit_fn)(vl_mrstate_t *state, const char *key, size_t klen, const char *val,
                        size_t vlen);

static int s_scan(vl_persist_t *self, char prefix, s_visit_fn *fn, vl_mrstate_t *state,
                  char *errbuf, size_t errbuf_size)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    int rc = 0;
    for (rocksdb_iter_seek(it, &prefix, 1); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen == 0 || key[0] != prefix)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        rc = fn(state, key, klen, val, vlen);
        if (rc != 0) {
            snprintf(errbuf, errbuf_size,
                     "the MR store in %s has a corrupt '%c' record (%s); restore the data "
                     "directory from a backup",
                     self->dir, prefix, vl_err_str(rc));
            rc = VL_ESTORE;
            break;
        }
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && rc == 0) {
        snprintf(errbuf, errbuf_size, "reading the MR store in %s: %s; check the disk", self->dir,
                 err);
        rc = VL_ESTORE;
    }
    rocksdb_free(err);
    rocksdb_iter_destroy(it);
    return rc;
}

static int s_load_sn(vl_mrstate_t *state, const char *key, size_t klen, const char *val,
                     size_t vlen)
{
    if (klen != 5 || vlen == 0 || vlen > VL_WIRE_MAX_ADDR || memchr(val, '\0', vlen))
        return VL_ESTORE;
    char addr[VL_WIRE_MAX_ADDR + 1];
    memcpy(addr, val, vlen);
    addr[vlen] = '\0';
    return vl_mrstate_load_sn(state, vl_get_be32((const uint8_t *)key + 1), addr);
}

static int s_load_topic(vl_mrstate_t *state, const char *key, size_t klen, const char *val,
                        size_t vlen)
{
    if (klen != 5)
        return VL_ESTORE;
    vl_mrstate_topic_t t;
    memset(&t, 0, sizeof t);
    t.id = vl_get_be32((const uint8_t *)key + 1);
    int rc = s_decode_topic(val, vlen, &t);
    return rc ? rc : vl_mrstate_load_topic(state, &t);
}

static int s_load_ls(vl_mrstate_t *state, const char *key, size_t klen, const char *val,
                     size_t vlen)
{
    if (klen != 5)
        return VL_ESTORE;
    vl_mrstate_ls_t ls;
    memset(&ls, 0, sizeof ls);
    ls.id = vl_get_be32((const uint8_t *)key + 1);
    int rc = s_decode_ls(val, vlen, &ls);
    return rc ? rc : vl_mrstate_load_ls(state, &ls);
}

static int s_load_counters(vl_mrstate_t *state, const char *key, size_t klen, const char *val,
                           size_t vlen)
{
    if (klen != 1)
        return VL_ESTORE;
    vl_rbuf_t r;
    vl_rbuf_init(&r, val, vlen);
    vl_mrstate_counters_t c;
    if (vl_rbuf_u8(&r) != S_FMT)
        return VL_ESTORE;
    c.version = vl_rbuf_u64(&r);
    c.next_sn_id = vl_rbuf_u32(&r);
    c.next_topic_id = vl_rbuf_u32(&r);
    c.next_ls_id = vl_rbuf_u32(&r);
    if (r.err)
        return VL_ESTORE;
    vl_mrstate_set_counters(state, &c);
    return 0;
}

/*  A store written before commit groups holds one C key per range (and an
    R index key per range; the T and L records were rewritten every round,
    so they are exact). Each C range becomes a group of one item, the C and
    R keys go. Batches of S_MIGRATE_BATCH ranges; a crash in between leaves
    the C keys, and the next start migrates again (the G puts are the
    same). */
#define S_MIGRATE_BATCH 4096
static int s_migrate(vl_persist_t *self, char *errbuf, size_t errbuf_size)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    rocksdb_iter_seek(it, "C", 1);
    bool any = rocksdb_iter_valid(it);
    if (any) {
        size_t klen;
        const char *key = rocksdb_iter_key(it, &klen);
        any = klen > 0 && key[0] == 'C';
    }
    if (!any) {
        int rc = s_iter_error(self, it, 0, errbuf, errbuf_size);
        rocksdb_iter_destroy(it);
        return rc;
    }
    int rc = 0;
    size_t n = 0;
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen == 0 || key[0] != 'C')
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        vl_persist_range_t r;
        if (s_decode_range(key, klen, val, vlen, &r) != 0) {
            rc = s_corrupt(self, "commit range", vl_get_be32((const uint8_t *)key + 1), errbuf,
                           errbuf_size);
            break;
        }
        v.len = 0;
        vl_wbuf_u8(&v, S_FMT);
        vl_wbuf_u64(&v, r.version);
        vl_wbuf_u64(&v, r.item.offset_begin);
        vl_wbuf_u32(&v, 1);
        vl_wbuf_u32(&v, r.item.ls_id);
        vl_wbuf_u64(&v, r.item.llsn_begin);
        vl_wbuf_u64(&v, r.item.count);
        vl_wbuf_u64(&v, r.item.bytes);
        char k[16];
        size_t kl = s_key32_64(k, 'G', r.item.topic_id, r.item.glsn_begin);
        rocksdb_writebatch_put(b, k, kl, (const char *)v.data, v.len);
        if (++n % S_MIGRATE_BATCH == 0) {
            rc = s_write(self, b, "migrated commit history", errbuf, errbuf_size);
            b = rocksdb_writebatch_create();
        }
    }
    vl_wbuf_free(&v);
    rc = s_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    if (rc != 0) {
        rocksdb_writebatch_destroy(b);
        return rc;
    }
    rocksdb_writebatch_delete_range(b, "C", 1, "D", 1);
    rocksdb_writebatch_delete_range(b, "R", 1, "S", 1);
    return s_write(self, b, "migrated commit history", errbuf, errbuf_size);
}

/*  Brings the committed ends of topic t and its log streams from its T and
    L records (as of the last metadata write) up to its last round: from
    its newest checkpoint if that is newer, then every group after it.
    *version_p is raised to the newest round seen. */
static int s_replay(vl_persist_t *self, vl_mrstate_t *state, vl_mrstate_topic_t *t,
                    uint64_t *version_p, char *errbuf, size_t errbuf_size)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    char k[16];
    size_t kl = s_key32_64(k, 'K', t->id, UINT64_MAX);
    rocksdb_iter_seek_for_prev(it, k, kl);
    int rc = 0;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *val = rocksdb_iter_value(it, &vlen);
        s_ckpt_t c;
        if (klen == 13 && memcmp(key, k, 5) == 0) {
            if (s_ckpt_parse(key, klen, val, vlen, &c) != 0)
                rc = s_corrupt(self, "checkpoint", t->id, errbuf, errbuf_size);
            else if (c.hwm > t->hwm) {
                for (uint32_t i = 0; i < c.n; i++) {
                    const uint8_t *e = c.ends + (size_t)i * S_CKPT_ITEM;
                    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(state, vl_get_le32(e));
                    if (!ls || ls->topic_id != t->id)
                        continue; /* cannot happen: log streams go with their topic */
                    ls->committed_llsn_end = vl_get_le64(e + 4);
                    ls->committed_bytes = vl_get_le64(e + 12);
                }
                t->hwm = c.hwm;
                t->end_offset = c.end_offset;
                if (c.version > *version_p)
                    *version_p = c.version;
            }
        }
    }
    uint32_t groups = 0;
    kl = s_key32_64(k, 'G', t->id, t->hwm + 1);
    if (rc == 0)
        rocksdb_iter_seek(it, k, kl);
    for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        s_group_t g;
        /* every round continues its topic exactly where the last ended */
        if (s_group_parse(key, klen, val, vlen, &g) != 0 || g.glsn_begin != t->hwm + 1 ||
            g.offset_begin != t->end_offset) {
            rc = s_corrupt(self, "commit group", t->id, errbuf, errbuf_size);
            break;
        }
        s_gcur_t cur;
        s_group_begin(&g, &cur);
        for (uint32_t i = 0; i < g.n && rc == 0; i++) {
            s_gitem_t item;
            s_group_next(&cur, &item); /* cannot fail: parsed */
            vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(state, item.ls_id);
            if (!ls || ls->topic_id != t->id || item.llsn_begin != ls->committed_llsn_end + 1) {
                rc = s_corrupt(self, "commit group", t->id, errbuf, errbuf_size);
                break;
            }
            ls->committed_llsn_end += item.count;
            ls->committed_bytes += item.bytes;
        }
        t->hwm = g.hwm;
        t->end_offset = g.end_offset;
        if (g.version > *version_p)
            *version_p = g.version;
        groups++;
    }
    rc = s_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    /* the next checkpoint comes S_CKPT_EVERY groups after the last one */
    s_ckpt_set(self, t->id, groups % S_CKPT_EVERY);
    return rc;
}

int vl_persist_load(vl_persist_t *self, vl_mrstate_t *state, char *errbuf, size_t errbuf_size)
{
    int rc = s_migrate(self, errbuf, errbuf_size);
    /* topics before their log streams; counters last so that they can be
       raised past any id in use */
    if (rc == 0)
        rc = s_scan(self, 'S', s_load_sn, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'T', s_load_topic, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'L', s_load_ls, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'V', s_load_counters, state, errbuf, errbuf_size);
    vl_mrstate_counters_t c;
    vl_mrstate_counters(state, &c);
    for (size_t i = 0; rc == 0 && i < vl_mrstate_topic_count(state); i++)
        rc = s_replay(self, state, vl_mrstate_topic_at(state, i), &c.version, errbuf, errbuf_size);
    if (rc == 0)
        vl_mrstate_set_counters(state, &c);
    return rc;
}

/*  ---- writes ---------------------------------------------------------------- */

int vl_persist_save_meta(vl_persist_t *self, const vl_mrstate_t *state, uint32_t drop_topic,
                         const uint32_t *drop_ls, size_t ndrop_ls, char *errbuf, size_t errbuf_size)
{
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range(b, "L", 1, "M", 1);
    rocksdb_writebatch_delete_range(b, "S", 1, "T", 1);
    rocksdb_writebatch_delete_range(b, "T", 1, "U", 1);
    char k1[16], k2[16];
    /* a deleted topic's history: its groups and checkpoints (and C ranges
       of a store written before groups, s_migrate) */
    static const char topic_prefixes[] = {'C', 'G', 'K'};
    for (size_t p = 0; drop_topic && p < sizeof topic_prefixes; p++) {
        size_t l1 = s_key32(k1, topic_prefixes[p], drop_topic);
        size_t l2 = s_key32(k2, topic_prefixes[p], drop_topic + 1);
        if (drop_topic == UINT32_MAX)
            k2[0] = (char)(topic_prefixes[p] + 1), l2 = 1;
        rocksdb_writebatch_delete_range(b, k1, l1, k2, l2);
    }
    for (size_t i = 0; i < ndrop_ls; i++) {
        size_t l1 = s_key32(k1, 'R', drop_ls[i]), l2 = s_key32(k2, 'R', drop_ls[i] + 1);
        if (drop_ls[i] == UINT32_MAX)
            k2[0] = 'S', l2 = 1;
        rocksdb_writebatch_delete_range(b, k1, l1, k2, l2);
    }
    for (size_t i = 0; i < vl_mrstate_sn_count(state); i++) {
        const vl_mrstate_sn_t *sn = vl_mrstate_sn_at(state, i);
        size_t kl = s_key32(k1, 'S', sn->id);
        rocksdb_writebatch_put(b, k1, kl, sn->addr, strlen(sn->addr));
    }
    for (size_t i = 0; i < vl_mrstate_topic_count(state); i++) {
        const vl_mrstate_topic_t *t = vl_mrstate_topic_at(state, i);
        s_put_topic(b, t, t->hwm, t->end_offset);
    }
    for (size_t i = 0; i < vl_mrstate_ls_count(state); i++) {
        const vl_mrstate_ls_t *ls = vl_mrstate_ls_at(state, i);
        s_put_ls(b, ls, ls->committed_llsn_end, ls->committed_bytes);
    }
    vl_mrstate_counters_t c;
    vl_mrstate_counters(state, &c);
    s_put_counters(b, &c);
    return s_write(self, b, "metadata", errbuf, errbuf_size);
}

/*  Puts checkpoint K topic hwm for the topic of items[0..n) (one group),
    from state before the round plus the round's items: both are in log
    stream id order, so one merge. */
static void s_put_ckpt(rocksdb_writebatch_t *b, const vl_mrstate_t *state, uint64_t version,
                       const vl_commit_item_t *items, uint32_t n, vl_wbuf_t *v)
{
    const vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(state, items[0].topic_id);
    if (!t)
        return; /* cannot happen: the round was computed from state */
    v->len = 0;
    vl_wbuf_u8(v, S_FMT);
    vl_wbuf_u64(v, version);
    vl_wbuf_u64(v, items[n - 1].end_offset);
    vl_wbuf_u32(v, t->nls);
    uint32_t i = 0;
    for (uint32_t k = 0; k < t->nls; k++) {
        const vl_mrstate_ls_t *ls = t->ls[k];
        uint64_t end = ls->committed_llsn_end, bytes = ls->committed_bytes;
        while (i < n && items[i].ls_id < ls->id)
            i++;
        if (i < n && items[i].ls_id == ls->id) {
            end = items[i].llsn_begin + items[i].count - 1;
            bytes += items[i].bytes;
        }
        vl_wbuf_u32(v, ls->id);
        vl_wbuf_u64(v, end);
        vl_wbuf_u64(v, bytes);
    }
    char k[16];
    size_t kl = s_key32_64(k, 'K', t->id, items[n - 1].hwm);
    rocksdb_writebatch_put(b, k, kl, (const char *)v->data, v->len);
}

vl_persist_batch_t *vl_persist_commit_batch(vl_persist_t *self, const vl_mrstate_t *state,
                                            const vl_commit_t *round)
{
    vl_persist_batch_t *batch = vl_calloc(1, sizeof *batch);
    batch->b = rocksdb_writebatch_create();
    char k[16];
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    /* a round lists its items by topic, then log stream: one group each */
    for (uint32_t i = 0; i < round->n;) {
        const vl_commit_item_t *c = &round->items[i];
        uint32_t j = i;
        while (j < round->n && round->items[j].topic_id == c->topic_id)
            j++;
        size_t need = S_GROUP_HDR + (size_t)(j - i) * S_GROUP_ITEM_MAX;
        if (need > self->gcap) {
            self->gcap = need * 2;
            self->gbuf = vl_realloc(self->gbuf, self->gcap);
        }
        uint8_t *g = self->gbuf;
        g[0] = S_FMT_GROUP;
        vl_put_le64(g + 1, round->version);
        vl_put_le64(g + 9, c->offset_begin);
        vl_put_le32(g + 17, j - i);
        size_t len = S_GROUP_HDR;
        uint32_t prev = 0;
        for (uint32_t m = i; m < j; m++) {
            const vl_commit_item_t *it = &round->items[m];
            len += s_varint_put(g + len, (uint32_t)(it->ls_id - prev));
            len += s_varint_put(g + len, it->llsn_begin);
            len += s_varint_put(g + len, it->count);
            len += s_varint_put(g + len, it->bytes);
            prev = it->ls_id;
        }
        size_t kl = s_key32_64(k, 'G', c->topic_id, c->glsn_begin);
        rocksdb_writebatch_put(batch->b, k, kl, (const char *)g, len);
        if (s_ckpt_due(self, c->topic_id))
            s_put_ckpt(batch->b, state, round->version, c, j - i, &v);
        i = j;
    }
    vl_wbuf_free(&v);
    return batch;
}

void vl_persist_batch_destroy(vl_persist_batch_t **batch_p)
{
    if (!batch_p || !*batch_p)
        return;
    rocksdb_writebatch_destroy((*batch_p)->b);
    free(*batch_p);
    *batch_p = NULL;
}

int vl_persist_write(vl_persist_t *self, vl_persist_batch_t **batch_p, bool sync, char *errbuf,
                     size_t errbuf_size)
{
    vl_persist_batch_t *batch = *batch_p;
    *batch_p = NULL;
    /* per thread, and this may be the writer's (see vl_persist_open) */
    rocksdb_set_perf_level(rocksdb_disable);
    char *err = NULL;
    rocksdb_write(self->db, sync ? self->wsync : self->wnosync, batch->b, &err);
    rocksdb_writebatch_destroy(batch->b);
    free(batch);
    if (err) {
        snprintf(errbuf, errbuf_size,
                 "writing a commit round to the MR store in %s: %s; check "
                 "the disk",
                 self->dir, err);
        rocksdb_free(err);
        return VL_ESTORE;
    }
    return 0;
}

int vl_persist_sync(vl_persist_t *self, char *errbuf, size_t errbuf_size)
{
    /* a synced write of one no-op: the write-ahead log is synced through
       everything written before it */
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_delete(b, "~sync", 5);
    return s_write(self, b, "a sync marker", errbuf, errbuf_size);
}

int vl_persist_commit(vl_persist_t *self, const vl_mrstate_t *state, const vl_commit_t *round,
                      char *errbuf, size_t errbuf_size)
{
    if (round->n == 0)
        return 0;
    vl_persist_batch_t *batch = vl_persist_commit_batch(self, state, round);
    return vl_persist_write(self, &batch, true, errbuf, errbuf_size);
}

/*  ---- history ---------------------------------------------------------------- */

/*  Where to start looking for the range of ls_id holding llsn: just after
    the last checkpoint of topic_id in which ls_id had not committed llsn
    yet (0: from the beginning). Committed ends only grow along a topic's
    history, so this is a binary search over the checkpoints' GLSNs: about
    64 seeks whatever the length of the history. */
static int s_ckpt_before(vl_persist_t *self, rocksdb_iterator_t *it, uint32_t topic_id,
                         uint32_t ls_id, uint64_t llsn, uint64_t *start_p, char *errbuf,
                         size_t errbuf_size)
{
    uint64_t lo = 0, hi = UINT64_MAX;
    *start_p = 0;
    char k[16];
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        size_t kl = s_key32_64(k, 'K', topic_id, mid);
        rocksdb_iter_seek(it, k, kl);
        size_t klen, vlen;
        const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
        if (!key || klen != 13 || memcmp(key, k, 5) != 0) {
            hi = mid; /* no checkpoint at or after mid */
            continue;
        }
        s_ckpt_t c;
        const char *val = rocksdb_iter_value(it, &vlen);
        if (s_ckpt_parse(key, klen, val, vlen, &c) != 0)
            return s_corrupt(self, "checkpoint", topic_id, errbuf, errbuf_size);
        if (s_ckpt_end(&c, ls_id) < llsn) {
            *start_p = c.hwm + 1;
            if (c.hwm == UINT64_MAX)
                break;
            lo = c.hwm + 1;
        } else {
            hi = mid;
        }
    }
    return s_iter_error(self, it, 0, errbuf, errbuf_size);
}

int vl_persist_ranges(vl_persist_t *self, uint32_t topic_id, uint32_t ls_id, uint64_t llsn_from,
                      vl_persist_range_t *out, size_t max, size_t *n_p, char *errbuf,
                      size_t errbuf_size)
{
    *n_p = 0;
    if (max == 0)
        return 0;
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    uint64_t next = llsn_from ? llsn_from : 1, start;
    int rc = s_ckpt_before(self, it, topic_id, ls_id, next, &start, errbuf, errbuf_size);
    char k[16];
    size_t kl = s_key32_64(k, 'G', topic_id, start);
    if (rc == 0)
        rocksdb_iter_seek(it, k, kl);
    /* A log stream that advances in every round is in every group; one that
       advances rarely may be missing from long runs of them: after twice
       the groups between two checkpoints without it, jump ahead with the
       checkpoints instead of reading on. */
    int miss = 0;
    bool jumped_last = false;
    while (rc == 0 && rocksdb_iter_valid(it) && *n_p < max) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        s_group_t g;
        if (s_group_parse(key, klen, val, vlen, &g) != 0) {
            rc = s_corrupt(self, "commit group", topic_id, errbuf, errbuf_size);
            break;
        }
        bool found = false;
        uint64_t glsn = g.glsn_begin, off = g.offset_begin;
        s_gcur_t cur;
        s_group_begin(&g, &cur);
        for (uint32_t i = 0; i < g.n; i++) {
            s_gitem_t item;
            s_group_next(&cur, &item); /* cannot fail: parsed */
            if (item.ls_id == ls_id && item.llsn_begin + item.count - 1 >= next) {
                s_group_item(&g, &item, glsn, off, &out[(*n_p)++]);
                next = item.llsn_begin + item.count;
                found = true;
                break; /* one range per log stream per round */
            }
            glsn += item.count;
            off += item.bytes;
        }
        if (found) {
            miss = 0;
        } else if (++miss > 2 * S_CKPT_EVERY && !jumped_last) {
            rc = s_ckpt_before(self, it, topic_id, ls_id, next, &start, errbuf, errbuf_size);
            if (rc != 0)
                break;
            miss = 0;
            if (start > g.glsn_begin) {
                kl = s_key32_64(k, 'G', topic_id, start);
                rocksdb_iter_seek(it, k, kl);
                continue;
            }
            jumped_last = true; /* past the last checkpoint: read on to the end */
            kl = s_key32_64(k, 'G', topic_id, g.glsn_begin);
            rocksdb_iter_seek(it, k, kl);
        }
        rocksdb_iter_next(it);
    }
    rc = s_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    return rc;
}

int vl_persist_range_at(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                        vl_persist_range_t *out, bool *found_p, char *errbuf, size_t errbuf_size)
{
    *found_p = false;
    char k[16];
    size_t kl = s_key32_64(k, 'G', topic_id, glsn);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    rocksdb_iter_seek_for_prev(it, k, kl);
    int rc = 0;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *val = rocksdb_iter_value(it, &vlen);
        s_group_t g;
        if (klen == 13 && memcmp(key, k, 5) == 0) {
            if (s_group_parse(key, klen, val, vlen, &g) != 0) {
                rc = s_corrupt(self, "commit group", topic_id, errbuf, errbuf_size);
            } else if (glsn <= g.hwm) {
                uint64_t at = g.glsn_begin, off = g.offset_begin;
                s_gcur_t cur;
                s_group_begin(&g, &cur);
                for (uint32_t i = 0; i < g.n; i++) {
                    s_gitem_t item;
                    s_group_next(&cur, &item); /* cannot fail: parsed */
                    if (glsn - at < item.count) {
                        s_group_item(&g, &item, at, off, out);
                        *found_p = true;
                        break;
                    }
                    at += item.count;
                    off += item.bytes;
                }
            }
        }
    }
    rc = s_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    return rc;
}
