/*  history.c - reads of the MR store's commit history, and its pruning.

    The history of a topic is its G records in GLSN order, with a K
    checkpoint every S_CKPT_EVERY of them (persist.c writes them, group.c
    has their format). A read by GLSN is one seek; a read by log stream
    starts from the last checkpoint before the wanted LLSN, so neither
    reads the whole history.

    A replica that installed a raft snapshot of a long history holds, of
    each topic's history, only what followed the checkpoint the snapshot's
    history begins at (and what it held itself before, persist_fsm.c):
    the older part is missing. A
    read there finds nothing, a read by log stream stops where the
    history it walks has such a gap (a range that does not continue from
    the LLSN wanted): nothing is ever returned that is not the range
    holding the next LLSN.

    Pruning: the history is read for resends to SN replicas behind (from
    their applied end on, or, for a replica a sync fills, from the
    source's first kept batch), trim checks (from the trim point on) and
    seal replies (a log stream's last range). So when the leader writes
    a checkpoint of a topic it looks for the newest older checkpoint
    that is before the trim point and before every log stream's needed
    LLSN (s_needed_from; the replicas' REPORTs are in the leader's
    memory), and prunes the groups up to it and the checkpoints before
    it in the same replicated batch: every replica prunes the same at
    the same raft index. DESIGN.md has the rule and what it bounds.
*/
#include <string.h>
#include "persist_i.h"

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
        if (vl_persist_group_ckpt_parse(key, klen, val, vlen, &c) != 0)
            return vl_persist_corrupt(self, "checkpoint", topic_id, errbuf, errbuf_size);
        if (vl_persist_group_ckpt_end(&c, ls_id) < llsn) {
            *start_p = c.hwm + 1;
            if (c.hwm == UINT64_MAX)
                break;
            lo = c.hwm + 1;
        } else {
            hi = mid;
        }
    }
    return vl_persist_iter_error(self, it, 0, errbuf, errbuf_size);
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
    bool jumped_last = false, gap = false;
    while (rc == 0 && rocksdb_iter_valid(it) && *n_p < max) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0)
            break;
        const char *val = rocksdb_iter_value(it, &vlen);
        s_group_t g;
        if (vl_persist_group_parse(key, klen, val, vlen, &g) != 0) {
            rc = vl_persist_corrupt(self, "commit group", topic_id, errbuf, errbuf_size);
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
                if (item.llsn_begin > next) {
                    gap = true; /* the history before it is not here */
                    break;
                }
                vl_persist_group_item(&g, &item, glsn, off, &out[(*n_p)++]);
                next = item.llsn_begin + item.count;
                found = true;
                break; /* one range per log stream per round */
            }
            glsn += item.count;
            off += item.bytes;
        }
        if (gap)
            break;
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
    rc = vl_persist_iter_error(self, it, rc, errbuf, errbuf_size);
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
            if (vl_persist_group_parse(key, klen, val, vlen, &g) != 0) {
                rc = vl_persist_corrupt(self, "commit group", topic_id, errbuf, errbuf_size);
            } else if (glsn <= g.hwm) {
                uint64_t at = g.glsn_begin, off = g.offset_begin;
                s_gcur_t cur;
                s_group_begin(&g, &cur);
                for (uint32_t i = 0; i < g.n; i++) {
                    s_gitem_t item;
                    s_group_next(&cur, &item); /* cannot fail: parsed */
                    if (glsn - at < item.count) {
                        vl_persist_group_item(&g, &item, at, off, out);
                        *found_p = true;
                        break;
                    }
                    at += item.count;
                    off += item.bytes;
                }
            }
        }
    }
    rc = vl_persist_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    return rc;
}

/*  The key of the first group of topic_id at or after glsn (0: none). */
static uint64_t s_group_from(rocksdb_iterator_t *it, uint32_t topic_id, uint64_t glsn)
{
    char k[16];
    size_t kl = s_key32_64(k, 'G', topic_id, glsn);
    rocksdb_iter_seek(it, k, kl);
    size_t klen;
    const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
    if (!key || klen != 13 || memcmp(key, k, 5) != 0)
        return 0;
    return vl_get_be64((const uint8_t *)key + 5);
}

int vl_persist_trim_range(vl_persist_t *self, uint32_t topic_id, uint64_t glsn,
                          vl_persist_range_t *out, bool *found_p, uint64_t *held_from_p,
                          char *errbuf, size_t errbuf_size)
{
    *held_from_p = 0;
    int rc = vl_persist_range_at(self, topic_id, glsn, out, found_p, errbuf, errbuf_size);
    if (rc != 0 || *found_p)
        return rc;
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    *held_from_p = s_group_from(it, topic_id, glsn);
    rc = vl_persist_iter_error(self, it, rc, errbuf, errbuf_size);
    rocksdb_iter_destroy(it);
    return rc;
}

/*  ---- pruning ---------------------------------------------------------------- */

/*  The lowest LLSN of ls whose commit range may still be asked for, with
    ct the newest checkpoint before the topic's trim point:
    - by a replica: its applied end + 1, from its last REPORT (a replica
      the leader has not heard from since it began to lead: 1);
    - by a replica that a sync will fill: it starts just past the
      source's first kept entry's stored batch (DESIGN.md, "Sync of a
      trimmed log stream"), and a stored batch holds at most
      VL_WIRE_MAX_ENTRIES entries, so within that many before the first
      entry past ct (every entry at or past the trim point is). Unless
      the log stream is quiet: nothing committed past ct and every
      replica's end at the committed end, so that any batch it stores
      later begins past it. */
static uint64_t s_needed_from(const vl_mrstate_ls_t *ls, const s_ckpt_t *ct)
{
    uint64_t end = vl_persist_group_ckpt_end(ct, ls->id);
    bool quiet = ls->committed_llsn_end == end;
    uint64_t need = end + 1;
    for (uint32_t r = 0; r < ls->nrep; r++) {
        const vl_mrstate_replica_t *rep = &ls->replicas[r];
        if (!rep->synced)
            return 1;
        if (rep->applied_llsn_end + 1 < need)
            need = rep->applied_llsn_end + 1;
        quiet = quiet && rep->llsn_end == end;
    }
    uint64_t sync = end + 1 > VL_WIRE_MAX_ENTRIES ? end + 1 - VL_WIRE_MAX_ENTRIES : 1;
    return !quiet && sync < need ? sync : need;
}

/*  Whether checkpoint c is before every log stream's needed[k] (by the
    position of the log stream in t): nothing up to it is needed. */
static bool s_unneeded(const vl_mrstate_topic_t *t, const uint64_t *needed, const s_ckpt_t *c)
{
    for (uint32_t k = 0; k < t->nls; k++)
        if (vl_persist_group_ckpt_end(c, t->ls[k]->id) >= needed[k])
            return false;
    return true;
}

/*  Whether the store holds at least S_PRUNE_SPAN checkpoints of topic_id
    before the one at hwm, or none but groups up to hwm (the topic's
    first checkpoint, or a history from before checkpoints): so that a
    prune's range deletes come once per S_PRUNE_SPAN checkpoints (every
    read of the store pays for the tombstones until a compaction). */
static bool s_prune_worth(rocksdb_iterator_t *it, uint32_t topic_id, uint64_t hwm)
{
    char k[16];
    size_t kl = s_key32_64(k, 'K', topic_id, 0);
    int n = 0;
    for (rocksdb_iter_seek(it, k, kl); rocksdb_iter_valid(it) && n < S_PRUNE_SPAN;
         rocksdb_iter_next(it)) {
        size_t klen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (klen != 13 || memcmp(key, k, 5) != 0 || vl_get_be64((const uint8_t *)key + 5) >= hwm)
            break;
        n++;
    }
    if (n >= S_PRUNE_SPAN)
        return true;
    if (n > 0)
        return false;
    uint64_t first = s_group_from(it, topic_id, 0);
    return first > 0 && first <= hwm;
}

static void s_tail_put(vl_persist_batch_t *batch, uint32_t topic_id, uint64_t hwm)
{
    if (!batch->tail)
        batch->tail = vl_calloc(1, sizeof *batch->tail);
    s_tail_t *tail = batch->tail;
    for (size_t i = 0; i < tail->n; i++)
        if (tail->v[i].topic_id == topic_id) {
            if (hwm > tail->v[i].hwm)
                tail->v[i].hwm = hwm;
            return;
        }
    if (tail->n == tail->cap) {
        tail->cap = tail->cap ? tail->cap * 2 : 4;
        tail->v = vl_realloc(tail->v, tail->cap * sizeof *tail->v);
    }
    tail->v[tail->n].topic_id = topic_id;
    tail->v[tail->n++].hwm = hwm;
}

/*  The checkpoint of topic_id at or after hwm, parsed into c; false when
    there is none (or it is corrupt: loading reports it). */
static bool s_ckpt_from(rocksdb_iterator_t *it, uint32_t topic_id, uint64_t hwm, s_ckpt_t *c)
{
    char k[16];
    size_t kl = s_key32_64(k, 'K', topic_id, hwm);
    rocksdb_iter_seek(it, k, kl);
    size_t klen, vlen;
    const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
    if (!key || klen != 13 || memcmp(key, k, 5) != 0)
        return false;
    const char *val = rocksdb_iter_value(it, &vlen);
    return vl_persist_group_ckpt_parse(key, klen, val, vlen, c) == 0;
}

/*  The newest checkpoint of t in [lo, ct_hwm] before what every log
    stream needs (s_needed_from, with ct the checkpoint at ct_hwm):
    committed ends only grow along the history, so a bisection over the
    checkpoints' GLSNs (a few seeks). 0 when there is none. */
static uint64_t s_prune_point(rocksdb_iterator_t *it, const vl_mrstate_topic_t *t, uint64_t ct_hwm,
                              uint64_t lo)
{
    s_ckpt_t c;
    if (!s_ckpt_from(it, t->id, ct_hwm, &c))
        return 0;
    /* before the iterator moves: c's ends are in its value */
    uint64_t *needed = vl_calloc(t->nls ? t->nls : 1, sizeof *needed);
    for (uint32_t k = 0; k < t->nls; k++)
        needed[k] = s_needed_from(t->ls[k], &c);
    uint64_t hi = ct_hwm + 1, hwm = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!s_ckpt_from(it, t->id, mid, &c) || c.hwm >= hi) {
            hi = mid; /* none in [mid, hi) */
        } else if (s_unneeded(t, needed, &c)) {
            hwm = c.hwm;
            lo = c.hwm + 1;
        } else {
            hi = mid;
        }
    }
    free(needed);
    return hwm;
}

void vl_persist_prune_add(vl_persist_t *self, vl_persist_batch_t *batch, const vl_mrstate_t *state,
                          uint32_t topic_id)
{
    const vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(state, topic_id);
    /* a trim may need any range after the trim point */
    if (!t || t->trim_glsn < 2)
        return;
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ropts);
    char k[16];
    size_t kl = s_key32_64(k, 'K', topic_id, t->trim_glsn - 1), klen;
    rocksdb_iter_seek_for_prev(it, k, kl);
    const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
    uint64_t hwm = 0;
    if (key && klen == 13 && memcmp(key, k, 5) == 0) {
        /* the newest checkpoint before the trim point; the search goes
           back from it to the oldest one held, and only when there is
           a span of them to prune at all */
        uint64_t ct_hwm = vl_get_be64((const uint8_t *)key + 5);
        s_ckpt_t oldest;
        if (s_prune_worth(it, topic_id, ct_hwm) && s_ckpt_from(it, topic_id, 0, &oldest))
            hwm = s_prune_point(it, t, ct_hwm, oldest.hwm);
    }
    if (hwm > 0 && s_prune_worth(it, topic_id, hwm))
        s_tail_put(batch, topic_id, hwm);
    rocksdb_iter_destroy(it);
}
