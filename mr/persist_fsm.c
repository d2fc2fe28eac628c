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

    A snapshot is the store as one batch that first deletes, then puts;
    restoring it is one synced write of that batch with A set to the
    snapshot's index. A store already at or past that index ignores it
    (at every start raft hands its last snapshot back, and the store is
    usually ahead of it). The snapshot must stay small: it is
    built in memory on the server's loop, every S_SNAPSHOT_THRESHOLD
    commands (raft.c), and sent whole to a replica that lags. Everything
    but the commit history is in it (S, T, L, V, A); of the history, per
    topic, what the store holds from its oldest checkpoint on (what is
    left after pruning, history.c), but counted back from the newest
    checkpoint at most S_SNAP_BYTES, about, shared by the topics alike
    (the newest checkpoint and the groups after it always): all of a
    pruned topic of a few log streams, 3 checkpoints' worth (192 groups)
    of a topic of 1,000. Loading needs only the newest checkpoint and
    the groups after it (persist.c s_replay starts there, or from the T
    record's hwm when that is newer, which is within those groups); the
    rest is what a new leader needs for resends and trim checks.

    Restoring deletes every key but the receiver's own older history:
    of each topic that has a checkpoint in the snapshot, the groups up to
    the hwm where the snapshot's history begins and the checkpoints
    before it. That history is the same as the one the snapshot came
    from: a replica applies only committed commands of the one raft log,
    so what it holds is a prefix of the sender's history, and the keys
    it shares with the snapshot have the same values. Whatever it held
    past that point is replaced by the snapshot's groups (a topic, or any
    history of one, that the snapshot lacks goes too). When the sender
    held more than the snapshot carries, a store that held no history (a
    new replica) then has the snapshot's window only; one that held an
    older part has that part, a gap, then the window; loading reads only
    the window's end. Reads of the history in the gap or before find
    nothing (history.c): an SN replica whose applied end lies there
    cannot be caught up from this MR replica's history, only from one
    that kept it, and a trim there is refused (vl_persist_trim_range
    says from where the history is held).

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

/*  Where a topic's history in a snapshot begins: at its checkpoint hwm
    (the groups after it, the checkpoints from it on). */
typedef struct {
    uint32_t topic_id;
    uint64_t hwm;
} s_start_t;

/*  Deletes [lo, hi) from b when that is a range at all (RocksDB refuses a
    range delete whose end is before its beginning). */
static void s_delete_between(rocksdb_writebatch_t *b, const char *lo, size_t lolen, const char *hi,
                             size_t hilen)
{
    size_t n = lolen < hilen ? lolen : hilen;
    int cmp = memcmp(lo, hi, n);
    if (cmp < 0 || (cmp == 0 && lolen < hilen))
        rocksdb_writebatch_delete_range(b, lo, lolen, hi, hilen);
}

/*  The bytes of S_CKPT_EVERY groups of n items and their checkpoint in
    a snapshot, about: keys, headers, and items of a few bytes each (a
    log stream id delta, an LLSN, a count and bytes as varints). */
static uint64_t s_span_bytes(uint64_t n)
{
    return S_CKPT_EVERY * (13 + S_GROUP_HDR + 8 * n) + 13 + S_CKPT_HDR + S_CKPT_ITEM * n;
}

/*  The hwm of the oldest checkpoint of the topic of the checkpoint it
    is at (the topic's newest) such that the history from it on comes to
    at most budget bytes (s_span_bytes of each checkpoint's log streams;
    the newest counts whatever its size): the store's history of the
    topic, bounded. Moves it anywhere. */
static uint64_t s_start_of(rocksdb_iterator_t *it, const char *prefix, uint64_t budget)
{
    uint64_t hwm = 0, bytes = 0;
    while (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, prefix, 5) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        /* a checkpoint's log streams (a corrupt one: loading reports it) */
        bytes += s_span_bytes(vlen >= S_CKPT_HDR ? vl_get_le32((const uint8_t *)val + 17) : 0);
        if (hwm != 0 && bytes > budget)
            break;
        hwm = vl_get_be64((const uint8_t *)key + 5);
        rocksdb_iter_prev(it);
    }
    return hwm;
}

/*  Where each topic that has a checkpoint begins in the snapshot, in
    topic order: S_SNAP_BYTES shared by the topics alike. One seek per
    topic to find them, one more and a step per checkpoint carried to
    place the start. */
static s_start_t *s_snap_starts(rocksdb_iterator_t *it, size_t *n_p)
{
    s_start_t *out = NULL;
    size_t n = 0, cap = 0;
    char k[16];
    rocksdb_iter_seek(it, "K", 1);
    while (rocksdb_iter_valid(it)) {
        size_t klen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen == 0 || key[0] != 'K')
            break;
        if (klen != 13) { /* not a checkpoint: load reports it */
            rocksdb_iter_next(it);
            continue;
        }
        uint32_t t = vl_get_be32((const uint8_t *)key + 1);
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            out = vl_realloc(out, cap * sizeof *out);
        }
        out[n++].topic_id = t;
        if (t == UINT32_MAX)
            break;
        size_t kl = s_key32(k, 'K', t + 1);
        rocksdb_iter_seek(it, k, kl);
    }
    for (size_t i = 0; i < n; i++) {
        size_t kl = s_key32_64(k, 'K', out[i].topic_id, UINT64_MAX);
        rocksdb_iter_seek_for_prev(it, k, kl);
        out[i].hwm = s_start_of(it, k, S_SNAP_BYTES / n);
    }
    *n_p = n;
    return out;
}

/*  The deletes that begin a snapshot: every key but the history a
    receiver keeps, which is, per topic with a checkpoint in the snapshot,
    its groups up to the hwm the snapshot's history begins at and its
    checkpoints before it (the snapshot's own history replaces the rest;
    a topic without one is all in the snapshot). */
static void s_snapshot_deletes(rocksdb_writebatch_t *b, const s_start_t *ck, size_t nck)
{
    rocksdb_writebatch_delete_range(b, "", 0, "G", 1);
    rocksdb_writebatch_delete_range(b, "H", 1, "K", 1);
    /* every key begins with an ASCII letter: "L" .. "\xff" is the rest */
    rocksdb_writebatch_delete_range(b, "L", 1, "\xff", 1);
    char lo[16], hi[16];
    static const char prefixes[] = {'G', 'K'};
    for (size_t p = 0; p < sizeof prefixes; p++) {
        lo[0] = prefixes[p];
        size_t lolen = 1;
        for (size_t i = 0; i < nck; i++) {
            size_t hilen = s_key32_64(hi, prefixes[p], ck[i].topic_id, 0);
            s_delete_between(b, lo, lolen, hi, hilen);
            /* kept: groups that begin at or before the start's hwm,
               checkpoints before it (it is put again) */
            uint64_t from = prefixes[p] == 'G' ? ck[i].hwm + 1 : ck[i].hwm;
            lolen = s_key32_64(lo, prefixes[p], ck[i].topic_id, from);
        }
        hi[0] = (char)(prefixes[p] + 1);
        s_delete_between(b, lo, lolen, hi, 1);
    }
}

/*  The start of topic_id in ck (sorted), or false. */
static bool s_start_find(const s_start_t *ck, size_t nck, uint32_t topic_id, uint64_t *hwm_p)
{
    size_t lo = 0, hi = nck;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ck[mid].topic_id < topic_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == nck || ck[lo].topic_id != topic_id)
        return false;
    *hwm_p = ck[lo].hwm;
    return true;
}

/*  Puts every key of the store into b but the commit history before each
    topic's start: of the G records, those after it (all of a topic
    without one), of the K records, those from it on. */
static void s_snapshot_puts(rocksdb_writebatch_t *b, rocksdb_iterator_t *it, const s_start_t *ck,
                            size_t nck)
{
    char k[16];
    rocksdb_iter_seek_to_first(it);
    while (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        uint64_t hwm;
        if (klen == 13 && (key[0] == 'G' || key[0] == 'K') &&
            s_start_find(ck, nck, vl_get_be32((const uint8_t *)key + 1), &hwm) &&
            vl_get_be64((const uint8_t *)key + 5) < hwm + (key[0] == 'G')) {
            /* past the older groups or checkpoints at once */
            size_t kl =
                s_key32_64(k, key[0], vl_get_be32((const uint8_t *)key + 1), hwm + (key[0] == 'G'));
            rocksdb_iter_seek(it, k, kl);
            continue;
        }
        const char *val = rocksdb_iter_value(it, &vlen);
        rocksdb_writebatch_put(b, key, klen, val, vlen);
        rocksdb_iter_next(it);
    }
}

int vl_persist_snapshot(vl_persist_t *self, uint8_t **data_p, size_t *len_p, char *errbuf,
                        size_t errbuf_size)
{
    *data_p = NULL;
    *len_p = 0;
    /* both passes read one consistent view of the store */
    const rocksdb_snapshot_t *view = rocksdb_create_snapshot(self->db);
    rocksdb_readoptions_t *ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(ropts, view);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, ropts);
    size_t nck;
    s_start_t *ck = s_snap_starts(it, &nck);
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    s_snapshot_deletes(b, ck, nck);
    s_snapshot_puts(b, it, ck, nck);
    free(ck);
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ropts);
    rocksdb_release_snapshot(self->db, view);
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
