/*  persist.c - the metadata repository's RocksDB store.

    Values are little endian like the wire and start with a format byte so a
    later layout can be told apart. Metadata changes are rare (admin
    operations, trims), so each one rewrites every S/T/L record in one
    batch: a range delete of the three prefixes followed by the puts. That
    keeps deletes (topic, SN) free of bookkeeping, and a batch applies in
    order, so the puts win over the range deletes before them.

    Commit rounds are frequent and write only what the round changed: its
    C and R keys, the L records of its log streams, the T records of its
    topics and V. Everything is written with sync before the server
    announces it: the order never changes after a crash.

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

struct vl_persist {
    char *dir;
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *wsync;
    rocksdb_readoptions_t *ropts;
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
    return r.err ? VL_ESTORE : 0;
}

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

int vl_persist_load(vl_persist_t *self, vl_mrstate_t *state, char *errbuf, size_t errbuf_size)
{
    /* topics before their log streams; counters last so that they can be
       raised past any id in use */
    int rc = s_scan(self, 'S', s_load_sn, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'T', s_load_topic, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'L', s_load_ls, state, errbuf, errbuf_size);
    if (rc == 0)
        rc = s_scan(self, 'V', s_load_counters, state, errbuf, errbuf_size);
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
    if (drop_topic) {
        size_t l1 = s_key32(k1, 'C', drop_topic), l2 = s_key32(k2, 'C', drop_topic + 1);
        if (drop_topic == UINT32_MAX)
            k2[0] = 'D', l2 = 1;
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

int vl_persist_commit(vl_persist_t *self, const vl_mrstate_t *state, const vl_commit_t *round,
                      char *errbuf, size_t errbuf_size)
{
    if (round->n == 0)
        return 0;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    char k[16];
    vl_wbuf_t v;
    vl_wbuf_init(&v);
    /* The puts go in key order, C, L, R, T then V (a round lists its items
       by topic, then log stream). RocksDB's memtable skip list tries each
       insert next to the previous one first: a round's C keys follow each
       other at the end of their topic's history and go in at that spot;
       L and R keys have older versions or ranges between them and still
       search from the top. Memtable inserts are most of the MR's CPU per
       round (about 2 us a key on the benchmark machine). */
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        v.len = 0;
        vl_wbuf_u8(&v, S_FMT);
        vl_wbuf_u32(&v, c->ls_id);
        vl_wbuf_u64(&v, c->llsn_begin);
        vl_wbuf_u64(&v, c->count);
        vl_wbuf_u64(&v, c->offset_begin);
        vl_wbuf_u64(&v, c->bytes);
        vl_wbuf_u64(&v, c->hwm);
        vl_wbuf_u64(&v, c->end_offset);
        vl_wbuf_u64(&v, round->version);
        size_t kl = s_key32_64(k, 'C', c->topic_id, c->glsn_begin);
        rocksdb_writebatch_put(b, k, kl, (const char *)v.data, v.len);
    }
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        const vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(state, c->ls_id);
        if (!ls)
            continue; /* cannot happen: the round was computed from state */
        /* one range per log stream per round, so these are its new ends */
        s_put_ls(b, ls, c->llsn_begin + c->count - 1, ls->committed_bytes + c->bytes);
    }
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        v.len = 0;
        vl_wbuf_u64(&v, c->glsn_begin);
        size_t kl = s_key32_64(k, 'R', c->ls_id, c->llsn_begin);
        rocksdb_writebatch_put(b, k, kl, (const char *)v.data, v.len);
    }
    vl_wbuf_free(&v);
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        /* every item of a topic carries the topic's ends after the whole
           round: one put per topic and round, not one per item (a round
           over 300 log streams wrote the same key 300 times) */
        if (i + 1 < round->n && round->items[i + 1].topic_id == c->topic_id)
            continue;
        const vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(state, c->topic_id);
        if (t)
            s_put_topic(b, t, c->hwm, c->end_offset);
    }
    vl_mrstate_counters_t cnt;
    vl_mrstate_counters(state, &cnt);
    cnt.version = round->version;
    s_put_counters(b, &cnt);
    return s_write(self, b, "a commit round", errbuf, errbuf_size);
}

/*  ---- history ---------------------------------------------------------------- */

static int s_get_range(vl_persist_t *self, uint32_t topic_id, uint64_t glsn_begin,
                       vl_persist_range_t *out, bool *found_p, char *errbuf, size_t errbuf_size)
{
    char k[16];
    size_t kl = s_key32_64(k, 'C', topic_id, glsn_begin);
    size_t vlen = 0;
    char *err = NULL;
    char *val = rocksdb_get(self->db, self->ropts, k, kl, &vlen, &err);
    *found_p = false;
    if (err) {
        snprintf(errbuf, errbuf_size, "reading the commit history in %s: %s; check the disk",
                 self->dir, err);
        rocksdb_free(err);
        return VL_ESTORE;
    }
    if (!val)
        return 0;
    int rc = s_decode_range(k, kl, val, vlen, out);
    rocksdb_free(val);
    if (rc != 0) {
        snprintf(errbuf, errbuf_size,
                 "the commit history in %s has a corrupt range (topic %u glsn %llu); restore "
                 "the data directory from a backup",
                 self->dir, topic_id, (unsigned long long)glsn_begin);
        return rc;
    }
    *found_p = true;
    return 0;
}

int vl_persist_ranges(vl_persist_t *self, uint32_t topic_id, uint32_t ls_id, uint64_t llsn_from,
                      vl_persist_range_t *out, size_t max, size_t *n_p, char *errbuf,
                      size_t errbuf_size)
{
    *n_p = 0;
    char k[16];
    size_t kl = s_key32_64(k, 'R', ls_id, llsn_from);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    /* the range holding llsn_from begins at or before it */
    rocksdb_iter_seek_for_prev(it, k, kl);
    if (rocksdb_iter_valid(it)) {
        size_t klen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            rocksdb_iter_seek(it, k, kl);
    } else {
        rocksdb_iter_seek(it, k, kl);
    }
    int rc = 0;
    for (; rocksdb_iter_valid(it) && *n_p < max; rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        if (vlen != 8) {
            snprintf(errbuf, errbuf_size,
                     "the commit history in %s has a corrupt index record (ls %u); restore "
                     "the data directory from a backup",
                     self->dir, ls_id);
            rc = VL_ESTORE;
            break;
        }
        bool found;
        rc = s_get_range(self, topic_id, vl_get_le64((const uint8_t *)val), &out[*n_p], &found,
                         errbuf, errbuf_size);
        if (rc != 0)
            break;
        if (!found || out[*n_p].item.ls_id != ls_id)
            continue; /* index left over from a deleted topic: skip */
        if (out[*n_p].item.llsn_begin + out[*n_p].item.count <= llsn_from)
            continue; /* wholly before llsn_from */
        (*n_p)++;
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && rc == 0) {
        snprintf(errbuf, errbuf_size, "reading the commit history in %s: %s; check the disk",
                 self->dir, err);
        rc = VL_ESTORE;
    }
    rocksdb_free(err);
    rocksdb_iter_destroy(it);
    return rc;
}

int vl_persist_range_at(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                        vl_persist_range_t *out, bool *found_p, char *errbuf, size_t errbuf_size)
{
    *found_p = false;
    char k[16];
    size_t kl = s_key32_64(k, 'C', topic_id, glsn);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    rocksdb_iter_seek_for_prev(it, k, kl);
    int rc = 0;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *val = rocksdb_iter_value(it, &vlen);
        if (klen == 13 && memcmp(key, k, 5) == 0) {
            if (s_decode_range(key, klen, val, vlen, out) != 0) {
                snprintf(errbuf, errbuf_size,
                         "the commit history in %s has a corrupt range (topic %u); restore "
                         "the data directory from a backup",
                         self->dir, topic_id);
                rc = VL_ESTORE;
            } else if (glsn - out->item.glsn_begin < out->item.count) {
                *found_p = true;
            }
        }
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err && rc == 0) {
        snprintf(errbuf, errbuf_size, "reading the commit history in %s: %s; check the disk",
                 self->dir, err);
        rc = VL_ESTORE;
    }
    rocksdb_free(err);
    rocksdb_iter_destroy(it);
    return rc;
}
