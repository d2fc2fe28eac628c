/*  store_batch.c - the store's write batches (vl_store_batch_*).

    A batch gathers what one vl_store_write makes durable at once: entries
    (their bytes reserved in the entry log, a 'd' value saying where),
    replica states, commit ranges, batch names, and the deletions of trims,
    truncations and dropped log streams. A batch with deletions asks for
    the entry log's cleaning after its write (store_gc.c).
*/
#include <stdlib.h>
#include <string.h>
#include "crc32c.h"
#include "store.h"
#include "store_i.h"
#include "util.h"
#include "vlog.h"

/*  ---- batches ---------------------------------------------------------- */

vl_store_batch_t *vl_store_batch_new(void)
{
    vl_store_batch_t *self = vl_calloc(1, sizeof *self);
    self->wb = rocksdb_writebatch_create();
    return self;
}

void vl_store_batch_destroy(vl_store_batch_t **self_p)
{
    vl_store_batch_t *self = *self_p;
    if (!self)
        return;
    rocksdb_writebatch_destroy(self->wb);
    vl_vlog_rec_free(&self->rec);
    free(self);
    *self_p = NULL;
}

void vl_store_batch_clear(vl_store_batch_t *self)
{
    rocksdb_writebatch_clear(self->wb);
    vl_vlog_rec_clear(&self->rec);
    self->deletes = false;
}

int vl_store_batch_count(vl_store_batch_t *self)
{
    return rocksdb_writebatch_count(self->wb);
}

/*  Puts an 'S' value: n entries at off of segment seg. */
static void s_put_logged(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin, uint32_t n,
                         const uint8_t *sizes, uint32_t seg, uint64_t off, uint32_t crc)
{
    uint8_t k[S_KEY_LEN], hdr[S_SBAT_HDR];
    s_key(k, 'd', ls_id, llsn_begin);
    hdr[0] = 'S';
    vl_put_be32(hdr + 1, n);
    vl_put_be32(hdr + 5, seg);
    vl_put_be64(hdr + 9, off);
    vl_put_be32(hdr + 17, crc);
    const char *keys[1] = {(const char *)k};
    size_t klens[1] = {sizeof k};
    const char *vals[2] = {(const char *)hdr, (const char *)sizes};
    size_t vlens[2] = {sizeof hdr, 4 * (size_t)n};
    rocksdb_writebatch_putv(self->wb, 1, keys, klens, 2, vals, vlens);
}

static void s_put_entries(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                          uint64_t llsn_begin, uint32_t n, const uint8_t *sizes, const void *data,
                          size_t bytes, bool copy)
{
    if (n == 0)
        return;
    uint32_t seg;
    uint64_t off;
    if (!vl_vlog_reserve(store->vlog, &self->rec, bytes, &seg, &off))
        return; /* vl_store_write fails with the reason */
    vl_vlog_rec_add(&self->rec, copy ? NULL : data, data, bytes);
    s_put_logged(self, ls_id, llsn_begin, n, sizes, seg, off, vl_crc32c(0, data, bytes));
}

void vl_store_batch_put_entries(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                const void *data, size_t bytes)
{
    s_put_entries(self, store, ls_id, llsn_begin, n, sizes, data, bytes, true);
}

void vl_store_batch_put_entries_ref(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                                    uint64_t llsn_begin, uint32_t n, const uint8_t *sizes,
                                    const void *data, size_t bytes)
{
    s_put_entries(self, store, ls_id, llsn_begin, n, sizes, data, bytes, false);
}

/*  Puts a 'B' value (the entries inside it): the format-1 conversion and
    the cut of a batch from before the entry log. */
void vl_store_batch_put_inline(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_begin,
                               uint32_t n, const uint8_t *sizes, const void *data, size_t bytes)
{
    if (n == 0)
        return;
    uint8_t k[S_KEY_LEN], hdr[S_BAT_HDR];
    s_key(k, 'd', ls_id, llsn_begin);
    hdr[0] = 'B';
    vl_put_be32(hdr + 1, n);
    /* three parts, no copy of the payload into one buffer */
    const char *keys[1] = {(const char *)k};
    size_t klens[1] = {sizeof k};
    const char *vals[3] = {(const char *)hdr, (const char *)sizes, bytes ? data : ""};
    size_t vlens[3] = {sizeof hdr, 4 * (size_t)n, bytes};
    rocksdb_writebatch_putv(self->wb, 1, keys, klens, 3, vals, vlens);
}

void vl_store_batch_put_entry(vl_store_batch_t *self, vl_store_t *store, uint32_t ls_id,
                              uint64_t llsn, const void *data, size_t len)
{
    uint8_t size[4];
    vl_put_le32(size, (uint32_t)len);
    vl_store_batch_put_entries(self, store, ls_id, llsn, 1, size, data, len);
}

static void s_state_encode(const vl_store_state_t *s, uint8_t *v)
{
    vl_put_be32(v, s->topic_id);
    vl_put_be64(v + 4, s->llsn_end);
    vl_put_be64(v + 12, s->bytes_end);
    vl_put_be64(v + 20, s->applied_llsn_end);
    vl_put_be64(v + 28, s->hwm);
    vl_put_be64(v + 36, s->trim_glsn);
}

void vl_store_batch_put_state(vl_store_batch_t *self, const vl_store_state_t *state)
{
    uint8_t k[S_KEY_LS], v[S_STATE_LEN];
    k[0] = 'm';
    vl_put_be32(k + 1, state->ls_id);
    s_state_encode(state, v);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
}

void vl_store_batch_put_range(vl_store_batch_t *self, uint32_t ls_id, const vl_store_range_t *r)
{
    uint8_t k[S_KEY_LEN], v[S_RANGE_LEN];
    s_key(k, 'c', ls_id, r->glsn_begin);
    vl_put_be64(v, r->llsn_begin);
    vl_put_be64(v + 8, r->count);
    vl_put_be64(v + 16, r->offset_begin);
    vl_put_be64(v + 24, r->bytes);
    vl_put_be64(v + 32, r->version);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
    /* A range without bytes holds no offset, and its offset_begin equals
       the next range's: it gets no 'o' key, so 'o' keys stay unique. */
    if (r->bytes > 0) {
        uint8_t ok[S_KEY_LEN], ov[8];
        s_key(ok, 'o', ls_id, r->offset_begin);
        vl_put_be64(ov, r->glsn_begin);
        rocksdb_writebatch_put(self->wb, (const char *)ok, sizeof ok, (const char *)ov, sizeof ov);
    }
}

static void s_delete_range(vl_store_batch_t *self, char prefix, uint32_t ls, uint64_t from,
                           uint64_t to)
{
    if (from >= to)
        return;
    uint8_t b[S_KEY_LEN], e[S_KEY_LEN];
    s_key(b, prefix, ls, from);
    s_key(e, prefix, ls, to);
    self->deletes = true;
    rocksdb_writebatch_delete_range(self->wb, (const char *)b, sizeof b, (const char *)e, sizeof e);
}

/*  Deletes keys prefix ls from..the end of the log stream: the range ends
    at the next log stream's first key, which the u64 part cannot reach, so
    it also covers key UINT64_MAX. */
static void s_delete_rest(vl_store_batch_t *self, char prefix, uint32_t ls, uint64_t from)
{
    uint8_t b[S_KEY_LEN], e[S_KEY_LEN];
    s_key(b, prefix, ls, from);
    if (ls == UINT32_MAX) {
        e[0] = (uint8_t)(prefix + 1);
        memset(e + 1, 0, S_KEY_LEN - 1);
    } else
        s_key(e, prefix, ls + 1, 0);
    self->deletes = true;
    rocksdb_writebatch_delete_range(self->wb, (const char *)b, sizeof b, (const char *)e, sizeof e);
}

void vl_store_batch_delete_entries(vl_store_batch_t *self, uint32_t ls_id, uint64_t llsn_from,
                                   uint64_t llsn_to)
{
    if (llsn_from > llsn_to)
        return;
    /* the entries, and the names of the batches that begin among them */
    static const char prefixes[] = {'d', 'b'};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        if (llsn_to < UINT64_MAX) {
            s_delete_range(self, prefixes[i], ls_id, llsn_from, llsn_to + 1);
            continue;
        }
        s_delete_rest(self, prefixes[i], ls_id, llsn_from);
    }
}

int vl_store_batch_truncate(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                            uint64_t llsn_end)
{
    /* the batch holding llsn_end + 1 may begin at or before llsn_end: it is
       written again with its entries up to llsn_end only */
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, llsn_end + 1);
    int rc = 0;
    if (s_ecur_at(&c, llsn_end + 1) && c.bat.start <= llsn_end) {
        uint32_t keep = (uint32_t)(llsn_end + 1 - c.bat.start);
        if (c.bat.logged && !vl_store_read_check(&c))
            ;                  /* damaged: vl_store_read_done says so */
        else if (c.bat.logged) /* the same bytes in the log, fewer of them */
            s_put_logged(batch, ls_id, c.bat.start, keep, c.bat.sizes, c.bat.seg, c.bat.seg_off,
                         vl_crc32c(0, c.bat.data, c.off));
        else
            vl_store_batch_put_inline(batch, ls_id, c.bat.start, keep, c.bat.sizes, c.bat.data,
                                      c.off);
    }
    rc = vl_store_read_done(&c, rc, "truncate");
    if (rc)
        return rc;
    /* and so is its name: it names the entries held, up to llsn_end.
       Kept whole, it would later cover the LLSNs past the end, which other
       batches take after the unseal: a BATCH_STATUS or a resend under the
       name would then be answered with their GLSNs as the batch's. */
    vl_wbuf_t names;
    vl_wbuf_init(&names);
    uint32_t nnames = 0;
    rc = vl_store_read_bids(self, ls_id, llsn_end, llsn_end, &names, &nnames);
    for (uint32_t i = 0; rc == 0 && i < nnames; i++) {
        vl_batch_id_t id;
        vl_wire_bid(names.data, i, &id);
        if (id.llsn_begin <= llsn_end && id.llsn_begin + id.n - 1 > llsn_end) {
            id.n = (uint32_t)(llsn_end + 1 - id.llsn_begin);
            vl_store_batch_put_bid(batch, ls_id, &id);
        }
    }
    vl_wbuf_free(&names);
    if (rc)
        return rc;
    vl_store_batch_delete_entries(batch, ls_id, llsn_end + 1, UINT64_MAX);
    return 0;
}

void vl_store_batch_put_bid(vl_store_batch_t *self, uint32_t ls_id, const vl_batch_id_t *id)
{
    uint8_t k[S_KEY_LEN], v[S_BID_LEN];
    s_key(k, 'b', ls_id, id->llsn_begin);
    vl_put_be64(v, id->client_id);
    vl_put_be64(v + 8, id->batch_seq);
    vl_put_be32(v + 16, id->n);
    rocksdb_writebatch_put(self->wb, (const char *)k, sizeof k, (const char *)v, sizeof v);
}

void vl_store_batch_delete_ls(vl_store_batch_t *self, uint32_t ls_id)
{
    vl_store_batch_delete_data(self, ls_id);
    uint8_t k[S_KEY_LS];
    k[0] = 'm';
    vl_put_be32(k + 1, ls_id);
    rocksdb_writebatch_delete(self->wb, (const char *)k, sizeof k);
}

void vl_store_batch_delete_data(vl_store_batch_t *self, uint32_t ls_id)
{
    static const char prefixes[] = {'d', 'c', 'o', 'b'};
    for (size_t i = 0; i < sizeof prefixes; i++)
        s_delete_rest(self, prefixes[i], ls_id, 0);
}

int vl_store_batch_trim(vl_store_t *self, vl_store_batch_t *batch, uint32_t ls_id,
                        uint64_t trim_glsn)
{
    if (trim_glsn <= 1)
        return 0;
    /* The last range starting below the trim point decides the cut: if it
       reaches the trim point it stays (only its entries below go), if it
       ends below, it goes too. */
    vl_store_range_t r;
    int rc = vl_store_find_range(self, ls_id, trim_glsn - 1, &r);
    if (rc == VL_ERANGE)
        return 0; /* no commit range below the trim point */
    if (rc)
        return rc;
    uint64_t range_end = r.glsn_begin + r.count;
    uint64_t keep_llsn, keep_glsn_key, keep_offset_key;
    if (range_end > trim_glsn) {
        keep_llsn = r.llsn_begin + (trim_glsn - r.glsn_begin);
        keep_glsn_key = r.glsn_begin;
        keep_offset_key = r.offset_begin;
    } else {
        keep_llsn = r.llsn_begin + r.count;
        keep_glsn_key = range_end;
        keep_offset_key = r.offset_begin + r.bytes;
    }
    /* a batch that holds keep_llsn stays whole (its entries below the
       trim point are no longer read: the trim point says so) */
    s_ecur_t c = {.store = self, .ls = ls_id};
    vl_store_read_seek(&c, keep_llsn);
    uint64_t keep_key = s_ecur_at(&c, keep_llsn) ? c.bat.start : keep_llsn;
    rc = vl_store_read_done(&c, 0, "trim");
    if (rc)
        return rc;
    /* Batch names are kept for every entry still held (from keep_key on),
       the one that straddles keep_key included: BATCH_STATUS must never
       call a batch absent whose entries were committed and trimmed (it
       answers "not final" below the first entry held). */
    uint64_t keep_name = keep_key;
    vl_wbuf_t holder;
    vl_wbuf_init(&holder);
    uint32_t nholder = 0;
    rc = vl_store_read_bids(self, ls_id, keep_key, keep_key, &holder, &nholder);
    if (rc == 0 && nholder > 0) {
        vl_batch_id_t id;
        vl_wire_bid(holder.data, 0, &id);
        keep_name = id.llsn_begin;
    }
    vl_wbuf_free(&holder);
    if (rc)
        return rc;
    s_delete_range(batch, 'd', ls_id, 0, keep_key);
    s_delete_range(batch, 'b', ls_id, 0, keep_name);
    s_delete_range(batch, 'c', ls_id, 0, keep_glsn_key);
    s_delete_range(batch, 'o', ls_id, 0, keep_offset_key);
    return 0;
}
