/*  persist_fsm.c - the MR store as the state machine that raft replicates.

    What is replicated is the store's own write: the serialized bytes of a
    RocksDB WriteBatch (rocksdb_writebatch_data), built by the leader from
    its state (a metadata change, or the commit rounds computed while the
    last proposal was in flight). Every replica applies a committed command
    by recreating the batch from those bytes, adding key A = the command's
    raft index to it, and writing it unsynced: the raft log, synced before
    anything is committed, is the write-ahead log, and a crash that loses
    unsynced RocksDB writes loses the same suffix of commands and of A, so
    raft's replay of the entries after its last snapshot restores them.
    A command at or below A was applied already and is skipped.

    A snapshot is every key of the store, key A included, as one batch that
    first deletes everything (a range delete over all keys, then the puts:
    a batch applies in order, so the puts win); restoring it is one synced
    write of that batch with A set to the snapshot's index. A store
    already at or past that index ignores it (at every start raft hands
    its last snapshot back, and the store is usually ahead of it).

    Followers learn a commit round from its G records: a replicated batch
    of rounds holds, per round and topic, the round's version and its
    items (group.c), from which every field of the COMMIT items follows,
    so the rounds are not replicated a second time.
*/
#include <stdlib.h>
#include <string.h>
#include "persist_i.h"

/*  The applied index's key, and the size of a WriteBatch's header
    (sequence u64, count u32): shorter bytes are not a batch. */
static const char s_key_applied[] = {'A'};
#define S_BATCH_HDR 12

int vl_persist_fsm_open(vl_persist_t *self, char *errbuf, size_t errbuf_size)
{
    char *err = NULL;
    size_t vlen = 0;
    char *val = rocksdb_get(self->db, self->ropts, s_key_applied, 1, &vlen, &err);
    int rc = 0;
    if (err) {
        snprintf(errbuf, errbuf_size, "reading the applied raft index in %s: %s; check the disk",
                 self->dir, err);
        rc = VL_ESTORE;
    } else if (val && vlen != 8) {
        snprintf(errbuf, errbuf_size,
                 "the MR store in %s has a corrupt applied raft index (%zu bytes); restore the "
                 "data directory from a backup",
                 self->dir, vlen);
        rc = VL_ESTORE;
    } else {
        self->applied = val ? vl_get_be64((const uint8_t *)val) : 0;
    }
    rocksdb_free(err);
    rocksdb_free(val);
    return rc;
}

uint64_t vl_persist_applied(const vl_persist_t *self)
{
    return self->applied;
}

static void s_put_applied(rocksdb_writebatch_t *b, uint64_t index)
{
    uint8_t v[8];
    vl_put_be64(v, index);
    rocksdb_writebatch_put(b, s_key_applied, 1, (const char *)v, sizeof v);
}

static int s_not_batch(const char *what, size_t len, char *errbuf, size_t errbuf_size)
{
    snprintf(errbuf, errbuf_size,
             "%s of %zu bytes is not a store write (shorter than its %d-byte header)", what, len,
             S_BATCH_HDR);
    return VL_EINVAL;
}

int vl_persist_apply(vl_persist_t *self, uint64_t index, const uint8_t *data, size_t len,
                     char *errbuf, size_t errbuf_size)
{
    if (index <= self->applied)
        return 0;
    /* RocksDB writes the count into the header of what it is given */
    if (len < S_BATCH_HDR)
        return s_not_batch("a replicated command", len, errbuf, errbuf_size);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from((const char *)data, len);
    s_put_applied(b, index);
    int rc = vl_persist_put(self, b, false, "a replicated change", errbuf, errbuf_size);
    if (rc == 0)
        self->applied = index;
    return rc;
}

/*  ---- the rounds of a replicated batch -------------------------------------- */

typedef struct {
    vl_commit_t *rounds;
    size_t n, cap;
    bool bad;
} s_rounds_t;

/*  One G record of the batch: its items appended to the round of its
    version (a new round when the version differs from the last one's). */
static void s_rounds_put(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    s_rounds_t *r = arg;
    if (r->bad || klen == 0 || key[0] != 'G')
        return; /* checkpoints, and anything else a round writes */
    s_group_t g;
    if (vl_persist_group_parse(key, klen, val, vlen, &g) != 0) {
        r->bad = true;
        return;
    }
    if (r->n == 0 || r->rounds[r->n - 1].version != g.version) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 8;
            r->rounds = vl_realloc(r->rounds, r->cap * sizeof *r->rounds);
        }
        memset(&r->rounds[r->n], 0, sizeof r->rounds[r->n]);
        r->rounds[r->n++].version = g.version;
    }
    vl_commit_t *c = &r->rounds[r->n - 1];
    c->items = vl_realloc(c->items, ((size_t)c->n + g.n) * sizeof *c->items);
    uint64_t glsn = g.glsn_begin, off = g.offset_begin;
    s_gcur_t cur;
    s_group_begin(&g, &cur);
    for (uint32_t i = 0; i < g.n; i++) {
        s_gitem_t it = {0};
        s_group_next(&cur, &it); /* cannot fail: parsed */
        vl_persist_range_t range;
        vl_persist_group_item(&g, &it, glsn, off, &range);
        c->items[c->n++] = range.item;
        glsn += it.count;
        off += it.bytes;
    }
}

static void s_rounds_delete(void *arg, const char *key, size_t klen)
{
    (void)key;
    (void)klen;
    ((s_rounds_t *)arg)->bad = true; /* a batch of rounds only puts */
}

int vl_persist_batch_rounds(const uint8_t *data, size_t len, vl_commit_t **rounds_p, size_t *n_p,
                            char *errbuf, size_t errbuf_size)
{
    *rounds_p = NULL;
    *n_p = 0;
    if (len < S_BATCH_HDR)
        return s_not_batch("a replicated batch of rounds", len, errbuf, errbuf_size);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from((const char *)data, len);
    s_rounds_t r = {0};
    rocksdb_writebatch_iterate(b, &r, s_rounds_put, s_rounds_delete);
    rocksdb_writebatch_destroy(b);
    if (r.bad) {
        for (size_t i = 0; i < r.n; i++)
            vl_commit_free(&r.rounds[i]);
        free(r.rounds);
        snprintf(errbuf, errbuf_size,
                 "a replicated batch of rounds holds a malformed commit group or a delete");
        return VL_EINVAL;
    }
    *rounds_p = r.rounds;
    *n_p = r.n;
    return 0;
}

/*  ---- snapshots ---------------------------------------------------------------- */

int vl_persist_snapshot(vl_persist_t *self, uint8_t **data_p, size_t *len_p, char *errbuf,
                        size_t errbuf_size)
{
    *data_p = NULL;
    *len_p = 0;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    /* every key begins with an ASCII letter: "" .. "\xff" is all of them */
    rocksdb_writebatch_delete_range(b, "", 0, "\xff", 1);
    /* one iterator reads one consistent view of the store */
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *val = rocksdb_iter_value(it, &vlen);
        rocksdb_writebatch_put(b, key, klen, val, vlen);
    }
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    if (err) {
        snprintf(errbuf, errbuf_size,
                 "reading the MR store in %s for a snapshot: %s; check the disk", self->dir, err);
        rocksdb_free(err);
        rocksdb_writebatch_destroy(b);
        return VL_ESTORE;
    }
    size_t len;
    const char *data = rocksdb_writebatch_data(b, &len);
    *data_p = vl_malloc(len);
    memcpy(*data_p, data, len);
    *len_p = len;
    rocksdb_writebatch_destroy(b);
    return 0;
}

int vl_persist_restore(vl_persist_t *self, uint64_t index, const uint8_t *data, size_t len,
                       bool *done_p, char *errbuf, size_t errbuf_size)
{
    *done_p = false;
    if (index <= self->applied)
        return 0;
    if (len < S_BATCH_HDR)
        return s_not_batch("a snapshot", len, errbuf, errbuf_size);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create_from((const char *)data, len);
    /* after the snapshot's own A: the snapshot stands for everything up
       to index, whatever command it last applied */
    s_put_applied(b, index);
    /* synced: a restore is rare, and it replaces what raft replays from */
    int rc = vl_persist_put(self, b, true, "a snapshot", errbuf, errbuf_size);
    if (rc != 0)
        return rc;
    self->applied = index;
    /* the checkpoint counts were of the old history: vl_persist_load,
       which the caller runs next, counts again */
    self->nckpt = 0;
    *done_p = true;
    return 0;
}

int vl_persist_rebase(vl_persist_t *self, char *errbuf, size_t errbuf_size)
{
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    rocksdb_writebatch_delete(b, s_key_applied, 1);
    int rc = vl_persist_put(self, b, true, "the applied raft index", errbuf, errbuf_size);
    if (rc == 0)
        self->applied = 0;
    return rc;
}

bool vl_persist_empty(vl_persist_t *self)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    rocksdb_iter_seek_to_first(it);
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    /* a store that cannot be read is not taken for an empty one */
    bool empty = !rocksdb_iter_valid(it) && !err;
    rocksdb_free(err);
    rocksdb_iter_destroy(it);
    return empty;
}
