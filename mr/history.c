/*  history.c - reads of the MR store's commit history.

    The history of a topic is its G records in GLSN order, with a K
    checkpoint every S_CKPT_EVERY of them (persist.c writes them, group.c
    has their format). A read by GLSN is one seek; a read by log stream
    starts from the last checkpoint before the wanted LLSN, so neither
    reads the whole history.

    A replica that installed a raft snapshot holds, of each topic's
    history, only what followed the snapshot's newest checkpoint (and what
    it held itself before, persist_fsm.c): the older part is missing. A
    read there finds nothing, a read by log stream stops where the
    history it walks has such a gap (a range that does not continue from
    the LLSN wanted): nothing is ever returned that is not the range
    holding the next LLSN.
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
