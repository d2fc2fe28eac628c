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
    and bytes of every log stream of the topic after that round. A round
    is still within one WriteBatch (the MR replicates a batch of the rounds
    computed while the last one was being replicated, persist_fsm.c): a
    crash leaves a whole round or none of it.

    RocksDB errors are translated here, once, into VL_ESTORE plus text.
*/
#include <errno.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "persist_i.h"

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
    if (vl_persist_fsm_open(self, errbuf, errbuf_size) != 0) {
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

int vl_persist_put(vl_persist_t *self, rocksdb_writebatch_t *b, bool sync, const char *what,
                   char *errbuf, size_t errbuf_size)
{
    char *err = NULL;
    rocksdb_write(self->db, sync ? self->wsync : self->wnosync, b, &err);
    rocksdb_writebatch_destroy(b);
    if (err) {
        snprintf(errbuf, errbuf_size, "writing %s to the MR store in %s: %s; check the disk", what,
                 self->dir, err);
        rocksdb_free(err);
        return VL_ESTORE;
    }
    return 0;
}

static int s_write(vl_persist_t *self, rocksdb_writebatch_t *b, const char *what, char *errbuf,
                   size_t errbuf_size)
{
    return vl_persist_put(self, b, true, what, errbuf, errbuf_size);
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

/*  ---- checkpoints due, history errors ---------------------------------------- */

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

int vl_persist_iter_error(vl_persist_t *self, rocksdb_iterator_t *it, int rc, char *errbuf,
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

int vl_persist_corrupt(vl_persist_t *self, const char *what, uint32_t topic_id, char *errbuf,
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
        int rc = vl_persist_iter_error(self, it, 0, errbuf, errbuf_size);
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
            rc = vl_persist_corrupt(self, "commit range", vl_get_be32((const uint8_t *)key + 1),
                                    errbuf, errbuf_size);
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
    rc = vl_persist_iter_error(self, it, rc, errbuf, errbuf_size);
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
    uint64_t count_from = t->hwm; /* the groups after it count towards the next checkpoint */
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *val = rocksdb_iter_value(it, &vlen);
        s_ckpt_t c;
        if (klen == 13 && memcmp(key, k, 5) == 0) {
            if (vl_persist_group_ckpt_parse(key, klen, val, vlen, &c) != 0)
                rc = vl_persist_corrupt(self, "checkpoint", t->id, errbuf, errbuf_size);
            else if (c.hwm <= t->hwm)
                count_from = c.hwm;
            else {
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
    /* the next checkpoint comes S_CKPT_EVERY groups after the newest one,
       also when a metadata write since has a newer hwm than it: the
       groups between are counted, not replayed (else a leader that
       starts after such a write would put it off, and a snapshot, which
       holds at least the groups after the newest checkpoint, would
       grow) */
    uint32_t groups = 0;
    kl = s_key32_64(k, 'G', t->id, count_from + 1);
    if (rc == 0)
        rocksdb_iter_seek(it, k, kl);
    for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            break;
        if (vl_get_be64((const uint8_t *)key + 5) <= t->hwm) {
            groups++;
            continue;
        }
        const char *val = rocksdb_iter_value(it, &vlen);
        s_group_t g;
        /* every round continues its topic exactly where the last ended */
        if (vl_persist_group_parse(key, klen, val, vlen, &g) != 0 || g.glsn_begin != t->hwm + 1 ||
            g.offset_begin != t->end_offset) {
            rc = vl_persist_corrupt(self, "commit group", t->id, errbuf, errbuf_size);
            break;
        }
        s_gcur_t cur;
        s_group_begin(&g, &cur);
        for (uint32_t i = 0; i < g.n && rc == 0; i++) {
            /* initialized only for the compiler, which no longer sees the
               parse (group.c) that makes the next line succeed */
            s_gitem_t item = {0};
            s_group_next(&cur, &item); /* cannot fail: parsed */
            vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(state, item.ls_id);
            if (!ls || ls->topic_id != t->id || item.llsn_begin != ls->committed_llsn_end + 1) {
                rc = vl_persist_corrupt(self, "commit group", t->id, errbuf, errbuf_size);
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
    rc = vl_persist_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
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

vl_persist_batch_t *vl_persist_meta_batch(const vl_mrstate_t *state, uint32_t drop_topic,
                                          const uint32_t *drop_ls, size_t ndrop_ls)
{
    vl_persist_batch_t *batch = vl_persist_batch_new();
    rocksdb_writebatch_t *b = batch->b;
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
    return batch;
}

int vl_persist_save_meta(vl_persist_t *self, const vl_mrstate_t *state, uint32_t drop_topic,
                         const uint32_t *drop_ls, size_t ndrop_ls, char *errbuf, size_t errbuf_size)
{
    vl_persist_batch_t *batch = vl_persist_meta_batch(state, drop_topic, drop_ls, ndrop_ls);
    rocksdb_writebatch_t *b = batch->b;
    free(batch);
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

vl_persist_batch_t *vl_persist_batch_new(void)
{
    vl_persist_batch_t *batch = vl_calloc(1, sizeof *batch);
    batch->b = rocksdb_writebatch_create();
    return batch;
}

vl_persist_batch_t *vl_persist_commit_batch(vl_persist_t *self, const vl_mrstate_t *state,
                                            const vl_commit_t *round)
{
    vl_persist_batch_t *batch = vl_persist_batch_new();
    vl_persist_commit_batch_add(self, batch, state, round);
    return batch;
}

void vl_persist_commit_batch_add(vl_persist_t *self, vl_persist_batch_t *batch,
                                 const vl_mrstate_t *state, const vl_commit_t *round)
{
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
        if (s_ckpt_due(self, c->topic_id)) {
            s_put_ckpt(batch->b, state, round->version, c, j - i, &v);
            vl_persist_prune_add(self, batch, state, c->topic_id);
        }
        i = j;
    }
    vl_wbuf_free(&v);
}

/*  Ends batch with its prunes' range deletes (persist_i.h says why at the
    end): of each topic, its groups up to the checkpoint and its
    checkpoints before it. */
static void s_batch_seal(const vl_persist_batch_t *batch)
{
    s_tail_t *tail = batch->tail;
    for (size_t i = 0; tail && i < tail->n; i++) {
        char lo[16], hi[16];
        const s_prune_t *p = &tail->v[i];
        size_t l1 = s_key32_64(lo, 'G', p->topic_id, 0);
        size_t l2 = s_key32_64(hi, 'G', p->topic_id, p->hwm + 1);
        rocksdb_writebatch_delete_range(batch->b, lo, l1, hi, l2);
        l1 = s_key32_64(lo, 'K', p->topic_id, 0);
        l2 = s_key32_64(hi, 'K', p->topic_id, p->hwm);
        rocksdb_writebatch_delete_range(batch->b, lo, l1, hi, l2);
    }
    if (tail)
        tail->n = 0;
}

const uint8_t *vl_persist_batch_data(const vl_persist_batch_t *batch, size_t *len_p)
{
    s_batch_seal(batch);
    return (const uint8_t *)rocksdb_writebatch_data(batch->b, len_p);
}

void vl_persist_batch_destroy(vl_persist_batch_t **batch_p)
{
    if (!batch_p || !*batch_p)
        return;
    rocksdb_writebatch_destroy((*batch_p)->b);
    if ((*batch_p)->tail)
        free((*batch_p)->tail->v);
    free((*batch_p)->tail);
    free(*batch_p);
    *batch_p = NULL;
}

int vl_persist_write(vl_persist_t *self, vl_persist_batch_t **batch_p, bool sync, char *errbuf,
                     size_t errbuf_size)
{
    vl_persist_batch_t *batch = *batch_p;
    /* per thread, and this may be another than the opener's (see
       vl_persist_open) */
    rocksdb_set_perf_level(rocksdb_disable);
    s_batch_seal(batch);
    char *err = NULL;
    rocksdb_write(self->db, sync ? self->wsync : self->wnosync, batch->b, &err);
    vl_persist_batch_destroy(batch_p);
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

int vl_persist_commit(vl_persist_t *self, const vl_mrstate_t *state, const vl_commit_t *round,
                      char *errbuf, size_t errbuf_size)
{
    if (round->n == 0)
        return 0;
    vl_persist_batch_t *batch = vl_persist_commit_batch(self, state, round);
    return vl_persist_write(self, &batch, true, errbuf, errbuf_size);
}
