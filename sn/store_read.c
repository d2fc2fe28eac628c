/*  store_read.c - the store's reads (vl_store_read_*, lookups, batch names).

    Reads use iterators bounded by the key prefix of their log stream; an
    entry missing inside a stored commit range means it was trimmed, which
    the readers report as VL_ETRIMMED rather than skipping. Any thread may
    read. Entries are read through an entry cursor (s_ecur_t, store_i.h)
    over the batch values, which holds the entry log's read lock while it
    is open: the segments it points into stay.
*/
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "store_i.h"
#include "util.h"
#include "vlog.h"

/*  ---- the entry cursor --------------------------------------------------- */

/*  Decodes a batch value; false when the key is not a 'd' key of ls or the
    value is malformed (sizes that do not add up to the payload, bytes
    outside the entry log). The caller holds the entry log's read lock. */
bool vl_store_read_bat_decode(vl_store_t *self, const char *key, size_t klen, const char *v,
                              size_t vlen, uint32_t ls, s_bat_t *b)
{
    if (!s_key_is(key, klen, 'd', ls) || vlen < S_BAT_HDR)
        return false;
    b->start = vl_get_be64((const uint8_t *)key + 5);
    b->n = vl_get_be32((const uint8_t *)v + 1);
    if (v[0] == 'S') {
        if (b->n == 0 || vlen < S_SBAT_HDR || (vlen - S_SBAT_HDR) / 4 != b->n ||
            (vlen - S_SBAT_HDR) % 4)
            return false;
        b->logged = true;
        b->seg = vl_get_be32((const uint8_t *)v + 5);
        b->seg_off = vl_get_be64((const uint8_t *)v + 9);
        b->crc = vl_get_be32((const uint8_t *)v + 17);
        b->checked = false;
        b->sizes = (const uint8_t *)v + S_SBAT_HDR;
        b->dlen = vl_wire_sizes_sum(b->sizes, b->n);
        b->data = vl_vlog_bytes(self->vlog, b->seg, b->seg_off, b->dlen);
        return b->data != NULL;
    }
    if (v[0] != 'B' || b->n == 0 || (vlen - S_BAT_HDR) / 4 < b->n)
        return false;
    b->logged = false;
    b->checked = true; /* RocksDB checks its blocks */
    b->sizes = (const uint8_t *)v + S_BAT_HDR;
    b->data = b->sizes + 4 * (size_t)b->n;
    b->dlen = vlen - S_BAT_HDR - 4 * (size_t)b->n;
    return vl_wire_sizes_sum(b->sizes, b->n) == b->dlen;
}

static void s_ecur_load(s_ecur_t *c)
{
    c->have = false;
    if (!rocksdb_iter_valid(c->it))
        return;
    size_t klen, vlen;
    const char *key = rocksdb_iter_key(c->it, &klen);
    if (!s_key_is(key, klen, 'd', c->ls))
        return;
    const char *v = rocksdb_iter_value(c->it, &vlen);
    if (!vl_store_read_bat_decode(c->store, key, klen, v, vlen, c->ls, &c->bat)) {
        c->corrupt = true;
        return;
    }
    c->have = true;
    c->idx = 0;
    c->off = 0;
}

/*  Positions c on entry llsn, or, when the store lacks it, on the first
    entry past it (c->have false when there is none). */
void vl_store_read_seek(s_ecur_t *c, uint64_t llsn)
{
    if (!c->it) {
        /* the entries point into log segments: none goes away meanwhile */
        vl_vlog_rdlock(c->store->vlog);
        c->it = rocksdb_create_iterator(c->store->db, c->store->ro);
    }
    uint8_t k[S_KEY_LEN];
    s_key(k, 'd', c->ls, llsn);
    rocksdb_iter_seek_for_prev(c->it, (const char *)k, sizeof k);
    s_ecur_load(c);
    if (c->have && c->bat.start + c->bat.n > llsn) {
        for (uint64_t l = c->bat.start; l < llsn; l++)
            c->off += vl_wire_size(c->bat.sizes, c->idx++);
        return;
    }
    /* the batch before ends below llsn (or there is none): the next one */
    if (c->have)
        rocksdb_iter_next(c->it);
    else
        rocksdb_iter_seek(c->it, (const char *)k, sizeof k);
    s_ecur_load(c);
}

/*  True when the bytes of c's batch may be used (checked against their
    CRC, once per batch); else marks c corrupt (vl_store_read_done says so). */
bool vl_store_read_check(s_ecur_t *c)
{
    if (s_bat_check(&c->bat))
        return true;
    c->corrupt = true;
    vl_store_seterr(
        "ls=%u: the stored entries llsn=%llu..%llu fail their checksum (the data directory "
        "is damaged; replace this replica)",
        c->ls, (unsigned long long)c->bat.start, (unsigned long long)(c->bat.start + c->bat.n - 1));
    return false;
}

static void s_ecur_next(s_ecur_t *c)
{
    if (!c->have)
        return;
    c->off += s_ecur_size(c);
    if (++c->idx < c->bat.n)
        return;
    rocksdb_iter_next(c->it);
    s_ecur_load(c);
}

/*  Frees c; returns rc, or the iterator's error, or VL_ESTORE for a value
    that did not decode. */
int vl_store_read_done(s_ecur_t *c, int rc, const char *what)
{
    /* a value that did not decode reads as a missing entry: say damaged,
       not trimmed */
    if ((!rc || rc == VL_ETRIMMED) && c->corrupt) {
        vl_store_seterr("ls=%u: %s: a stored batch of entries is malformed (the data directory is "
                        "damaged; replace this replica)",
                        c->ls, what);
        rc = VL_ESTORE;
    }
    if (!c->it)
        return rc;
    rc = vl_store_iter_done(c->it, rc, what);
    c->it = NULL;
    vl_vlog_unlock(c->store->vlog);
    return rc;
}

static int s_range_decode(const char *k, const char *v, size_t vlen, vl_store_range_t *r)
{
    if (vlen != S_RANGE_LEN) {
        vl_store_seterr("commit range of %zu bytes, expected %d: the data directory is corrupt",
                        vlen, S_RANGE_LEN);
        return VL_ESTORE;
    }
    const uint8_t *p = (const uint8_t *)v;
    r->llsn_begin = vl_get_be64(p);
    r->count = vl_get_be64(p + 8);
    r->offset_begin = vl_get_be64(p + 16);
    r->bytes = vl_get_be64(p + 24);
    r->version = vl_get_be64(p + 32);
    r->glsn_begin = vl_get_be64((const uint8_t *)k + 5);
    return 0;
}

/*  ---- reads ------------------------------------------------------------ */

int vl_store_read_entries(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t max_n,
                          size_t max_bytes, vl_wbuf_t *sizes, vl_wbuf_t *data, uint32_t *n_p,
                          uint64_t *bytes_p)
{
    *n_p = 0;
    *bytes_p = 0;
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, llsn_begin);
    uint64_t want = llsn_begin;
    uint32_t n = 0;
    uint64_t bytes = 0;
    int rc = 0;
    while (n < max_n && s_ecur_at(&c, want)) {
        uint32_t size = s_ecur_size(&c);
        if (n > 0 && bytes + size > max_bytes)
            break;
        if (!vl_store_read_check(&c)) {
            rc = VL_ESTORE;
            break;
        }
        vl_wbuf_u32(sizes, size);
        vl_wbuf_mem(data, s_ecur_data(&c), size);
        bytes += size;
        n++;
        want++;
        s_ecur_next(&c);
    }
    *n_p = n;
    *bytes_p = bytes;
    return vl_store_read_done(&c, rc, "read entries");
}

int vl_store_first_entry(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t *llsn_p,
                         bool *found_p)
{
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, llsn_from);
    *found_p = c.have;
    *llsn_p = c.have ? s_ecur_llsn(&c) : 0;
    return vl_store_read_done(&c, 0, "find the first entry");
}

int vl_store_sum_sizes(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint64_t llsn_end,
                       uint64_t *sum_p)
{
    *sum_p = 0;
    if (llsn_begin > llsn_end)
        return 0;
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, llsn_begin);
    uint64_t want = llsn_begin, sum = 0;
    while (want <= llsn_end && s_ecur_at(&c, want)) {
        if (c.idx == 0 && c.bat.start + c.bat.n - 1 <= llsn_end) {
            sum += c.bat.dlen; /* the whole batch at once */
            want += c.bat.n;
            c.idx = c.bat.n - 1;
            c.off = c.bat.dlen - s_ecur_size(&c);
        } else {
            sum += s_ecur_size(&c);
            want++;
        }
        s_ecur_next(&c);
    }
    int rc = 0;
    if (want <= llsn_end) {
        vl_store_seterr("ls=%u: entry llsn=%llu is not in the store (trimmed or never written)",
                        ls_id, (unsigned long long)want);
        rc = VL_ETRIMMED;
    }
    *sum_p = sum;
    return vl_store_read_done(&c, rc, "sum entry sizes");
}
/*  Reads into r the commit range of ls_id found from glsn: at or below it
    (back true: seek_for_prev) or at or above it (back false: seek).
    VL_ERANGE when there is none. */
static int s_seek_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, bool back,
                        vl_store_range_t *r, const char *what)
{
    uint8_t k[S_KEY_LEN];
    s_key(k, 'c', ls_id, glsn);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    if (back)
        rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    else
        rocksdb_iter_seek(it, (const char *)k, sizeof k);
    int rc = VL_ERANGE;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (s_key_is(key, klen, 'c', ls_id)) {
            const char *v = rocksdb_iter_value(it, &vlen);
            rc = s_range_decode(key, v, vlen, r);
        }
    }
    if (rc == VL_ERANGE && back)
        vl_store_seterr("ls=%u: no commit range at or below glsn=%llu", ls_id,
                        (unsigned long long)glsn);
    return vl_store_iter_done(it, rc, what);
}

int vl_store_find_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, vl_store_range_t *r)
{
    return s_seek_range(self, ls_id, glsn, true, r, "find commit range");
}

/*  Finds the first range with glsn_begin >= glsn. */
static int s_next_range(vl_store_t *self, uint32_t ls_id, uint64_t glsn, vl_store_range_t *r)
{
    return s_seek_range(self, ls_id, glsn, false, r, "find next commit range");
}

/*  Positions cur on the committed entry at or after cur->glsn. Returns
    VL_ERANGE when there is none. */
static int s_cursor_seek(vl_store_t *self, uint32_t ls_id, vl_store_cursor_t *cur)
{
    vl_store_range_t r;
    int rc = vl_store_find_range(self, ls_id, cur->glsn, &r);
    if (rc == 0 && r.glsn_begin + r.count > cur->glsn) {
        uint64_t llsn = r.llsn_begin + (cur->glsn - r.glsn_begin);
        uint64_t offset = r.offset_begin;
        if (llsn > r.llsn_begin) {
            uint64_t sum;
            rc = vl_store_sum_sizes(self, ls_id, r.llsn_begin, llsn - 1, &sum);
            if (rc == VL_ETRIMMED) {
                /* The head of the range is trimmed: count back from its end. */
                rc = vl_store_sum_sizes(self, ls_id, llsn, r.llsn_begin + r.count - 1, &sum);
                if (rc)
                    return rc;
                offset = r.offset_begin + r.bytes - sum;
            } else if (rc)
                return rc;
            else
                offset += sum;
        }
        cur->llsn = llsn;
        cur->offset = offset;
        cur->range_end = r.glsn_begin + r.count;
        cur->valid = true;
        return 0;
    }
    if (rc && rc != VL_ERANGE)
        return rc;
    for (;;) {
        rc = s_next_range(self, ls_id, cur->glsn, &r);
        if (rc)
            return rc;
        if (r.count > 0)
            break;
        cur->glsn = r.glsn_begin + 1; /* an empty range: skip it */
    }
    cur->glsn = r.glsn_begin;
    cur->llsn = r.llsn_begin;
    cur->offset = r.offset_begin;
    cur->range_end = r.glsn_begin + r.count;
    cur->valid = true;
    return 0;
}

int vl_store_read_committed(vl_store_t *self, uint32_t ls_id, vl_store_cursor_t *cur,
                            uint64_t glsn_limit, uint32_t max_n, size_t max_bytes,
                            vl_entry_pos_t *pos, vl_wbuf_t *data, uint32_t *n_p, bool *more_p)
{
    *n_p = 0;
    *more_p = false;
    uint32_t n = 0;
    size_t bytes = 0;
    /* One entry cursor for the whole call: the ranges of a log stream hold
       consecutive LLSNs, so the entries of the next range follow where the
       last one stopped; only a gap (a trim) needs another seek. */
    s_ecur_t c = {.store = self, .ls = ls_id};
    int rc = 0;
    while (n < max_n && cur->glsn < glsn_limit) {
        if (!cur->valid) {
            rc = s_cursor_seek(self, ls_id, cur);
            if (rc == VL_ERANGE) {
                rc = 0;
                break; /* nothing more committed */
            }
            if (rc)
                break;
            if (cur->glsn >= glsn_limit)
                break;
        }
        if (!s_ecur_at(&c, cur->llsn)) {
            if (c.it) {
                rc = vl_store_read_done(&c, 0, "read committed entries");
                if (rc)
                    break;
            }
            vl_store_read_seek(&c, cur->llsn);
        }
        bool full = false;
        while (cur->glsn < cur->range_end && cur->glsn < glsn_limit) {
            if (n >= max_n) {
                full = true;
                break;
            }
            if (!s_ecur_at(&c, cur->llsn)) {
                vl_store_seterr("ls=%u: committed entry glsn=%llu llsn=%llu is gone (trimmed)",
                                ls_id, (unsigned long long)cur->glsn,
                                (unsigned long long)cur->llsn);
                rc = VL_ETRIMMED;
                break;
            }
            uint32_t size = s_ecur_size(&c);
            if (n > 0 && bytes + size > max_bytes) {
                full = true;
                break;
            }
            if (data && !vl_store_read_check(&c)) {
                rc = VL_ESTORE;
                break;
            }
            pos[n].glsn = cur->glsn;
            pos[n].llsn = cur->llsn;
            pos[n].offset = cur->offset;
            pos[n].size = size;
            if (data)
                vl_wbuf_mem(data, s_ecur_data(&c), size);
            n++;
            bytes += size;
            cur->glsn++;
            cur->llsn++;
            cur->offset += size;
            s_ecur_next(&c);
        }
        if (rc)
            break;
        if (cur->glsn >= cur->range_end)
            cur->valid = false; /* the next entry is in a later range */
        if (full) {
            *more_p = true;
            break;
        }
    }
    rc = vl_store_read_done(&c, rc, "read committed entries");
    *n_p = n;
    if (rc)
        return rc;
    if (n >= max_n && cur->glsn < glsn_limit)
        *more_p = true;
    return 0;
}

int vl_store_lookup_offset(vl_store_t *self, uint32_t ls_id, uint64_t offset, vl_entry_pos_t *pos,
                           bool *found_p)
{
    *found_p = false;
    memset(pos, 0, sizeof *pos);
    uint8_t k[S_KEY_LEN];
    s_key(k, 'o', ls_id, offset);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    uint64_t glsn_begin = 0;
    bool have = false;
    if (rocksdb_iter_valid(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (s_key_is(key, klen, 'o', ls_id)) {
            const char *v = rocksdb_iter_value(it, &vlen);
            if (vlen == 8) {
                glsn_begin = vl_get_be64((const uint8_t *)v);
                have = true;
            }
        }
    }
    int rc = vl_store_iter_done(it, 0, "lookup offset");
    if (rc || !have)
        return rc;
    vl_store_range_t r;
    rc = vl_store_find_range(self, ls_id, glsn_begin, &r);
    if (rc == VL_ERANGE)
        return 0;
    if (rc)
        return rc;
    if (r.glsn_begin != glsn_begin || offset < r.offset_begin || offset >= r.offset_begin + r.bytes)
        return 0;
    /* Walk the range's entries summing sizes up to the one holding offset.
       When the head of the range is trimmed, start from the first entry
       left and count its offset back from the end of the range. */
    uint64_t llsn_last = r.llsn_begin + r.count - 1;
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, r.llsn_begin);
    uint64_t first = c.have ? s_ecur_llsn(&c) : r.llsn_begin;
    uint64_t at = r.offset_begin;
    if (first != r.llsn_begin) {
        uint64_t sum = 0;
        rc = first <= llsn_last ? vl_store_sum_sizes(self, ls_id, first, llsn_last, &sum)
                                : VL_ETRIMMED;
        at = r.offset_begin + r.bytes - sum;
        if (!rc && offset < at) {
            vl_store_seterr("ls=%u: offset %llu is trimmed", ls_id, (unsigned long long)offset);
            rc = VL_ETRIMMED;
        }
        if (rc)
            return vl_store_read_done(&c, rc, "lookup offset");
    }
    for (uint64_t llsn = first; llsn <= llsn_last; llsn++, s_ecur_next(&c)) {
        if (!s_ecur_at(&c, llsn)) {
            vl_store_seterr(
                "ls=%u: entry llsn=%llu of the range holding offset %llu is gone (trimmed)", ls_id,
                (unsigned long long)llsn, (unsigned long long)offset);
            rc = VL_ETRIMMED;
            break;
        }
        uint32_t size = s_ecur_size(&c);
        if (offset < at + size) {
            pos->glsn = r.glsn_begin + (llsn - r.llsn_begin);
            pos->llsn = llsn;
            pos->offset = at;
            *found_p = true;
            break;
        }
        at += size;
    }
    return vl_store_read_done(&c, rc, "lookup offset");
}

/*  ---- batch names --------------------------------------------------------- */

static bool s_bid_decode(const char *key, size_t klen, const char *v, size_t vlen, uint32_t ls_id,
                         vl_batch_id_t *id)
{
    if (!s_key_is(key, klen, 'b', ls_id) || vlen != S_BID_LEN)
        return false;
    id->llsn_begin = vl_get_be64((const uint8_t *)key + 5);
    id->client_id = vl_get_be64((const uint8_t *)v);
    id->batch_seq = vl_get_be64((const uint8_t *)v + 8);
    id->n = vl_get_be32((const uint8_t *)v + 16);
    return true;
}

int vl_store_read_bids(vl_store_t *self, uint32_t ls_id, uint64_t llsn_from, uint64_t llsn_to,
                       vl_wbuf_t *out, uint32_t *n_p)
{
    *n_p = 0;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'b', ls_id, llsn_from);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    /* the batch that holds llsn_from may begin before it */
    rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
    size_t klen = 0;
    const char *key = rocksdb_iter_valid(it) ? rocksdb_iter_key(it, &klen) : NULL;
    if (!key || !s_key_is(key, klen, 'b', ls_id))
        rocksdb_iter_seek(it, (const char *)k, sizeof k);
    for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vlen;
        key = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        vl_batch_id_t id;
        if (!s_bid_decode(key, klen, v, vlen, ls_id, &id) || id.llsn_begin > llsn_to)
            break;
        if (id.llsn_begin + id.n <= llsn_from)
            continue; /* ends before the range */
        uint8_t rec[VL_WIRE_BID_SIZE];
        vl_wire_bid_put(rec, &id);
        vl_wbuf_mem(out, rec, sizeof rec);
        (*n_p)++;
    }
    return vl_store_iter_done(it, 0, "read batch names");
}

int vl_store_find_bid(vl_store_t *self, uint32_t ls_id, uint64_t client_id, uint64_t batch_seq,
                      uint64_t llsn_hint, uint64_t llsn_end, uint32_t max_scan, vl_batch_id_t *id,
                      bool *found_p, bool *complete_p)
{
    *found_p = false;
    *complete_p = true;
    if (llsn_end <= llsn_hint)
        return 0;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'b', ls_id, llsn_end);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    uint32_t scanned = 0;
    for (rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k); rocksdb_iter_valid(it);
         rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        vl_batch_id_t b;
        if (!s_bid_decode(key, klen, v, vlen, ls_id, &b) || b.llsn_begin <= llsn_hint)
            break;
        /* No stop at an older batch of the same client: a batch resent
           under its name after a lost answer may land after newer ones. */
        if (b.client_id == client_id && b.batch_seq == batch_seq) {
            *id = b;
            *found_p = true;
            break;
        }
        if (++scanned >= max_scan) {
            *complete_p = false;
            break;
        }
    }
    return vl_store_iter_done(it, 0, "find batch name");
}

int vl_store_last_bids(vl_store_t *self, uint32_t ls_id, uint64_t llsn_end, uint32_t max,
                       vl_batch_id_t **ids_p, uint32_t *n_p)
{
    *ids_p = NULL;
    *n_p = 0;
    if (llsn_end == 0 || max == 0)
        return 0;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'b', ls_id, llsn_end);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    vl_batch_id_t *ids = NULL;
    uint32_t n = 0, cap = 0;
    for (rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k);
         rocksdb_iter_valid(it) && n < max; rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        vl_batch_id_t b;
        if (!s_bid_decode(key, klen, v, vlen, ls_id, &b))
            break;
        if (b.client_id == 0)
            continue; /* a sync's base mark */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            ids = vl_realloc(ids, cap * sizeof *ids);
        }
        ids[n++] = b;
    }
    /* newest first as read: turn them round */
    for (uint32_t i = 0; i < n / 2; i++) {
        vl_batch_id_t t = ids[i];
        ids[i] = ids[n - 1 - i];
        ids[n - 1 - i] = t;
    }
    *ids_p = ids;
    *n_p = n;
    return vl_store_iter_done(it, 0, "read batch names");
}

int vl_store_llsn_runs(vl_store_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t count,
                       vl_run_t **runs_p, uint32_t *nruns_p, uint64_t *covered_p)
{
    *runs_p = NULL;
    *nruns_p = 0;
    *covered_p = 0;
    if (count == 0)
        return 0;
    uint64_t llsn_last = llsn_begin + count - 1;
    uint8_t k[S_KEY_LEN];
    s_key(k, 'c', ls_id, UINT64_MAX);
    rocksdb_iterator_t *it = rocksdb_create_iterator(self->db, self->ro);
    /* Commit ranges grow in LLSN as in GLSN: walk back from the newest
       (a batch asked about is a recent one) to the first that reaches
       llsn_begin, collecting those that overlap [llsn_begin, llsn_last]. */
    vl_run_t *runs = NULL;
    uint32_t n = 0, cap = 0;
    int rc = 0;
    for (rocksdb_iter_seek_for_prev(it, (const char *)k, sizeof k); rocksdb_iter_valid(it);
         rocksdb_iter_prev(it)) {
        size_t klen, vlen;
        const char *key = rocksdb_iter_key(it, &klen);
        if (!s_key_is(key, klen, 'c', ls_id))
            break;
        vl_store_range_t r;
        const char *v = rocksdb_iter_value(it, &vlen);
        if ((rc = s_range_decode(key, v, vlen, &r)) != 0)
            break;
        if (r.count == 0 || r.llsn_begin > llsn_last)
            continue;
        if (r.llsn_begin + r.count <= llsn_begin)
            break;
        uint64_t lo = r.llsn_begin > llsn_begin ? r.llsn_begin : llsn_begin;
        uint64_t hi =
            r.llsn_begin + r.count - 1 < llsn_last ? r.llsn_begin + r.count - 1 : llsn_last;
        if (n == cap) {
            cap = cap ? 2 * cap : 4;
            runs = vl_realloc(runs, cap * sizeof *runs);
        }
        runs[n++] = (vl_run_t){.glsn_begin = r.glsn_begin + (lo - r.llsn_begin),
                               .count = (uint32_t)(hi - lo + 1)};
        if (r.llsn_begin <= llsn_begin)
            break;
    }
    rc = vl_store_iter_done(it, rc, "map llsns to glsns");
    if (rc) {
        free(runs);
        return rc;
    }
    /* collected newest first; the covered part must begin at llsn_begin */
    uint64_t covered = 0;
    for (uint32_t i = 0; i < n / 2; i++) {
        vl_run_t t = runs[i];
        runs[i] = runs[n - 1 - i];
        runs[n - 1 - i] = t;
    }
    for (uint32_t i = 0; i < n; i++)
        covered += runs[i].count;
    *runs_p = runs;
    *nruns_p = n;
    *covered_p = covered;
    return 0;
}
