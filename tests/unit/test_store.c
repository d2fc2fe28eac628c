/*  test_store.c - unit tests of the storage node's RocksDB store: the
    index over the entries (sn/store.c, store_batch.c, store_read.c).

    Each test opens a store in a fresh temp directory, writes through
    batches the way the writer thread does, and checks what the readers
    find, including after close and reopen (what a restart recovers): reads,
    commit ranges and lookups, trims, deletions, batch names, and the older
    store formats. The entry log under it (sn/vlog.c) is test_vlog's; the
    fixture is tests/lib/storefx.c.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <rocksdb/c.h>
#include "../../sn/store.h"
#include "../../lib/util.h"
#include "../lib/storefx.h"

/*  The store appends entries to one buffer; this cuts it back into one
    frame per entry for the checks (as stfx_read_entries does). */
static int s_read_committed(vl_store_t *store, uint32_t ls_id, vl_store_cursor_t *cur,
                            uint64_t glsn_limit, uint32_t max_n, size_t max_bytes,
                            vl_entry_pos_t *pos, zmsg_t *frames, uint32_t *n_p, bool *more_p)
{
    vl_wbuf_t data;
    vl_wbuf_init(&data);
    int rc = vl_store_read_committed(store, ls_id, cur, glsn_limit, max_n, max_bytes, pos,
                                     frames ? &data : NULL, n_p, more_p);
    size_t off = 0;
    for (uint32_t i = 0; frames && i < *n_p; i++) {
        zmsg_addmem(frames, data.data + off, pos[i].size);
        off += pos[i].size;
    }
    assert_int_equal(off, data.len);
    vl_wbuf_free(&data);
    return rc;
}

static void test_write_read(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t st = {.topic_id = 1, .ls_id = 7};
    stfx_write(f->store, &st, 10);
    stfx_write(f->store, &st, 5);
    zmsg_t *frames = zmsg_new();
    uint32_t n;
    uint64_t bytes;
    assert_int_equal(stfx_read_entries(f->store, 7, 3, 100, 1 << 20, frames, &n, &bytes), 0);
    assert_int_equal(n, 13);
    char buf[32];
    uint64_t llsn = 3, sum = 0;
    for (zframe_t *fr = zmsg_first(frames); fr; fr = zmsg_next(frames), llsn++) {
        uint64_t size = stfx_entry(7, llsn, buf);
        assert_int_equal(zframe_size(fr), size);
        assert_memory_equal(zframe_data(fr), buf, size);
        sum += size;
    }
    assert_int_equal(bytes, sum);
    zmsg_destroy(&frames);

    /* Limits: max_n, and max_bytes past the first entry. */
    frames = zmsg_new();
    assert_int_equal(stfx_read_entries(f->store, 7, 1, 4, 1 << 20, frames, &n, &bytes), 0);
    assert_int_equal(n, 4);
    zmsg_destroy(&frames);
    frames = zmsg_new();
    assert_int_equal(stfx_read_entries(f->store, 7, 1, 100, 1, frames, &n, &bytes), 0);
    assert_int_equal(n, 1);
    zmsg_destroy(&frames);

    /* Another LS does not leak into this one; past the end reads nothing. */
    vl_store_state_t other = {.topic_id = 1, .ls_id = 8};
    stfx_write(f->store, &other, 3);
    frames = zmsg_new();
    assert_int_equal(stfx_read_entries(f->store, 7, 16, 100, 1 << 20, frames, &n, &bytes), 0);
    assert_int_equal(n, 0);
    zmsg_destroy(&frames);

    uint64_t s;
    assert_int_equal(vl_store_sum_sizes(f->store, 7, 1, 15, &s), 0);
    assert_int_equal(s, st.bytes_end);
    assert_int_equal(vl_store_sum_sizes(f->store, 7, 1, 16, &s), VL_ETRIMMED);
}

static void test_recover(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 1}, b = {.topic_id = 2, .ls_id = 2};
    stfx_write(f->store, &a, 8);
    stfx_write(f->store, &b, 4);
    stfx_commit(f->store, &a, 1, 0, 5);
    stfx_reopen(f);

    vl_store_state_t *states;
    size_t n;
    assert_int_equal(vl_store_states(f->store, &states, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(states[0].ls_id, 1);
    assert_int_equal(states[0].topic_id, 1);
    assert_int_equal(states[0].llsn_end, 8);
    assert_int_equal(states[0].bytes_end, a.bytes_end);
    assert_int_equal(states[0].applied_llsn_end, 5);
    assert_int_equal(states[0].hwm, 5);
    assert_int_equal(states[1].ls_id, 2);
    assert_int_equal(states[1].topic_id, 2);
    assert_int_equal(states[1].llsn_end, 4);
    assert_int_equal(states[1].bytes_end, b.bytes_end);
    assert_int_equal(states[1].applied_llsn_end, 0);
    free(states);

    vl_store_state_t one;
    assert_int_equal(vl_store_state(f->store, 1, &one), 0);
    assert_int_equal(one.llsn_end, 8);
    assert_int_equal(vl_store_state(f->store, 3, &one), VL_ENOLS);

    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 1, 3, &r), 0);
    assert_int_equal(r.glsn_begin, 1);
    assert_int_equal(r.llsn_begin, 1);
    assert_int_equal(r.count, 5);
    assert_int_equal(r.offset_begin, 0);
    assert_int_equal(r.version, 1);
}

/*  LS 1 and LS 2 of one topic interleave: LS 1 gets GLSN 1-3 and 7-8, LS 2
    gets 4-6. Offsets follow the sizes. */
static void test_commit_lookup(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 1}, b = {.topic_id = 1, .ls_id = 2};
    stfx_write(f->store, &a, 5);
    stfx_write(f->store, &b, 3);
    char buf[32];
    uint64_t size_a[6], size_b[4];
    for (uint64_t i = 1; i <= 5; i++)
        size_a[i] = stfx_entry(1, i, buf);
    for (uint64_t i = 1; i <= 3; i++)
        size_b[i] = stfx_entry(2, i, buf);
    uint64_t off_a1 = 0, off_b = size_a[1] + size_a[2] + size_a[3];
    uint64_t off_a2 = off_b + size_b[1] + size_b[2] + size_b[3];
    stfx_commit(f->store, &a, 1, off_a1, 3);
    stfx_commit(f->store, &b, 4, off_b, 3);
    stfx_commit(f->store, &a, 7, off_a2, 2);

    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 1, 5, &r), 0);
    assert_int_equal(r.glsn_begin, 1); /* range ends before 5: 5 is not LS 1's */
    assert_int_equal(vl_store_find_range(f->store, 1, 8, &r), 0);
    assert_int_equal(r.glsn_begin, 7);
    assert_int_equal(r.llsn_begin, 4);
    assert_int_equal(vl_store_find_range(f->store, 2, 3, &r), VL_ERANGE);

    /* Read LS 1 from GLSN 2 in steps of 2 entries. */
    vl_entry_pos_t pos[8];
    vl_store_cursor_t cur = {.glsn = 2};
    uint32_t n;
    bool more;
    zmsg_t *frames = zmsg_new();
    assert_int_equal(s_read_committed(f->store, 1, &cur, 100, 2, 1 << 20, pos, frames, &n, &more),
                     0);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_int_equal(pos[0].glsn, 2);
    assert_int_equal(pos[0].llsn, 2);
    assert_int_equal(pos[0].offset, size_a[1]);
    assert_int_equal(pos[1].glsn, 3);
    assert_int_equal(pos[1].offset, size_a[1] + size_a[2]);
    stfx_entry(1, 2, buf);
    assert_memory_equal(zframe_data(zmsg_first(frames)), buf, size_a[2]);
    zmsg_destroy(&frames);
    assert_int_equal(s_read_committed(f->store, 1, &cur, 100, 8, 1 << 20, pos, NULL, &n, &more), 0);
    assert_int_equal(n, 2);
    assert_false(more);
    assert_int_equal(pos[0].glsn, 7);
    assert_int_equal(pos[0].llsn, 4);
    assert_int_equal(pos[0].offset, off_a2);
    assert_int_equal(pos[1].glsn, 8);
    assert_int_equal(pos[1].offset, off_a2 + size_a[4]);
    /* Nothing more is committed. */
    assert_int_equal(s_read_committed(f->store, 1, &cur, 100, 8, 1 << 20, pos, NULL, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_false(more);

    /* A fresh cursor in the middle of a range, and a limit. */
    vl_store_cursor_t mid = {.glsn = 5};
    assert_int_equal(s_read_committed(f->store, 2, &mid, 6, 8, 1 << 20, pos, NULL, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pos[0].glsn, 5);
    assert_int_equal(pos[0].llsn, 2);
    assert_int_equal(pos[0].offset, off_b + size_b[1]);
    /* A cursor on a GLSN of another LS starts at this LS's next one. */
    vl_store_cursor_t other = {.glsn = 4};
    assert_int_equal(s_read_committed(f->store, 1, &other, 100, 1, 1 << 20, pos, NULL, &n, &more),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(pos[0].glsn, 7);

    /* Lookups by byte offset. */
    bool found;
    vl_entry_pos_t p;
    assert_int_equal(vl_store_lookup_offset(f->store, 1, 0, &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 1);
    assert_int_equal(vl_store_lookup_offset(f->store, 1, size_a[1] + 1, &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 2);
    assert_int_equal(p.llsn, 2);
    assert_int_equal(p.offset, size_a[1]);
    assert_int_equal(vl_store_lookup_offset(f->store, 1, off_b, &p, &found), 0);
    assert_false(found); /* LS 2's byte */
    assert_int_equal(vl_store_lookup_offset(f->store, 2, off_b + size_b[1], &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 5);
    assert_int_equal(vl_store_lookup_offset(f->store, 1, off_a2 + size_a[4], &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 8);
    assert_int_equal(p.offset, off_a2 + size_a[4]);
    assert_int_equal(
        vl_store_lookup_offset(f->store, 1, off_a2 + size_a[4] + size_a[5], &p, &found), 0);
    assert_false(found); /* past the end */
}

static void test_trim(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 3};
    stfx_write(f->store, &a, 10);
    char buf[32];
    uint64_t off = 0, offs[11];
    for (uint64_t i = 1; i <= 10; i++) {
        offs[i] = off;
        off += stfx_entry(3, i, buf);
    }
    stfx_commit(f->store, &a, 1, 0, 4);       /* GLSN 1-4 */
    stfx_commit(f->store, &a, 5, offs[5], 4); /* GLSN 5-8 */
    stfx_commit(f->store, &a, 9, offs[9], 2); /* GLSN 9-10 */

    /* Trim to 7: range 1-4 goes, range 5-8 keeps its keys, entries 5-6 go. */
    vl_store_batch_t *b = vl_store_batch_new();
    assert_int_equal(vl_store_batch_trim(f->store, b, 3, 7), 0);
    a.trim_glsn = 7;
    vl_store_batch_put_state(b, &a);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_destroy(&b);

    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 3, 4, &r), VL_ERANGE);
    assert_int_equal(vl_store_find_range(f->store, 3, 7, &r), 0);
    assert_int_equal(r.glsn_begin, 5);

    vl_entry_pos_t pos[16];
    uint32_t n;
    bool more;
    vl_store_cursor_t cur = {.glsn = 7};
    assert_int_equal(s_read_committed(f->store, 3, &cur, 100, 16, 1 << 20, pos, NULL, &n, &more),
                     0);
    assert_int_equal(n, 4);
    assert_int_equal(pos[0].glsn, 7);
    assert_int_equal(pos[0].offset, offs[7]); /* offsets still right past the cut */
    assert_int_equal(pos[3].glsn, 10);
    vl_store_cursor_t below = {.glsn = 6};
    assert_int_equal(s_read_committed(f->store, 3, &below, 100, 16, 1 << 20, pos, NULL, &n, &more),
                     VL_ETRIMMED);
    vl_store_cursor_t way_below = {.glsn = 1};
    int rc = s_read_committed(f->store, 3, &way_below, 100, 16, 1 << 20, pos, NULL, &n, &more);
    assert_int_equal(rc, VL_ETRIMMED); /* starts at range 5-8, whose 5 is gone */

    zmsg_t *frames = zmsg_new();
    uint64_t bytes;
    assert_int_equal(stfx_read_entries(f->store, 3, 1, 100, 1 << 20, frames, &n, &bytes), 0);
    assert_int_equal(n, 0);
    zmsg_destroy(&frames);

    bool found;
    vl_entry_pos_t p;
    assert_int_equal(vl_store_lookup_offset(f->store, 3, offs[2], &p, &found), 0);
    assert_false(found);
    assert_int_equal(vl_store_lookup_offset(f->store, 3, offs[8], &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 8);

    /* Trim at a range boundary, then everything. */
    b = vl_store_batch_new();
    assert_int_equal(vl_store_batch_trim(f->store, b, 3, 9), 0);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_clear(b);
    assert_int_equal(vl_store_find_range(f->store, 3, 8, &r), VL_ERANGE);
    assert_int_equal(vl_store_batch_trim(f->store, b, 3, 11), 0);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_destroy(&b);
    assert_int_equal(vl_store_find_range(f->store, 3, 100, &r), VL_ERANGE);
    stfx_reopen(f);
    vl_store_state_t st;
    assert_int_equal(vl_store_state(f->store, 3, &st), 0);
    assert_int_equal(st.trim_glsn, 7);
    assert_int_equal(st.llsn_end, 10);
}

static void test_delete_ls(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 4}, b = {.topic_id = 1, .ls_id = 5};
    stfx_write(f->store, &a, 6);
    stfx_write(f->store, &b, 6);
    stfx_commit(f->store, &a, 1, 0, 6);
    stfx_commit(f->store, &b, 7, a.bytes_end, 6);
    vl_store_batch_t *batch = vl_store_batch_new();
    vl_store_batch_delete_ls(batch, 4);
    assert_int_equal(vl_store_write(f->store, batch, true), 0);
    vl_store_batch_destroy(&batch);
    stfx_reopen(f);

    vl_store_state_t *states;
    size_t n;
    assert_int_equal(vl_store_states(f->store, &states, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(states[0].ls_id, 5);
    free(states);
    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 4, 100, &r), VL_ERANGE);
    zmsg_t *frames = zmsg_new();
    uint32_t cnt;
    uint64_t bytes;
    assert_int_equal(stfx_read_entries(f->store, 4, 1, 100, 1 << 20, frames, &cnt, &bytes), 0);
    assert_int_equal(cnt, 0);
    assert_int_equal(stfx_read_entries(f->store, 5, 1, 100, 1 << 20, frames, &cnt, &bytes), 0);
    assert_int_equal(cnt, 6);
    zmsg_destroy(&frames);
    bool found;
    vl_entry_pos_t p;
    assert_int_equal(vl_store_lookup_offset(f->store, 4, 0, &p, &found), 0);
    assert_false(found);
    assert_int_equal(vl_store_lookup_offset(f->store, 5, a.bytes_end, &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 7);
}

static void s_put_bids(vl_store_t *store, uint32_t ls_id, const vl_batch_id_t *ids, size_t n)
{
    vl_store_batch_t *b = vl_store_batch_new();
    for (size_t i = 0; i < n; i++)
        vl_store_batch_put_bid(b, ls_id, &ids[i]);
    assert_int_equal(vl_store_write(store, b, false), 0);
    vl_store_batch_destroy(&b);
}

/*  A base (a sync of a trimmed log stream): delete_data drops every entry,
    range, offset key and batch name of one log stream but keeps its state
    (the writer rewrites it) and the other log streams; first_entry finds
    the lowest entry held from a given LLSN. */
static void test_delete_data_first_entry(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 4}, b = {.topic_id = 1, .ls_id = 5};
    stfx_write(f->store, &a, 6);
    stfx_write(f->store, &b, 6);
    stfx_commit(f->store, &a, 1, 0, 6);
    vl_batch_id_t id = {.llsn_begin = 1, .client_id = 9, .batch_seq = 1, .n = 6};
    s_put_bids(f->store, 4, &id, 1);
    uint64_t first = 0;
    bool found = false;
    assert_int_equal(vl_store_first_entry(f->store, 4, 1, &first, &found), 0);
    assert_true(found);
    assert_int_equal(first, 1);
    assert_int_equal(vl_store_first_entry(f->store, 4, 4, &first, &found), 0);
    assert_int_equal(first, 4);
    assert_int_equal(vl_store_first_entry(f->store, 4, 7, &first, &found), 0);
    assert_false(found); /* not the next log stream's */

    vl_store_batch_t *batch = vl_store_batch_new();
    vl_store_batch_delete_data(batch, 4);
    assert_int_equal(vl_store_write(f->store, batch, true), 0);
    vl_store_batch_destroy(&batch);
    stfx_reopen(f);
    vl_store_state_t st;
    assert_int_equal(vl_store_state(f->store, 4, &st), 0);
    assert_int_equal(st.llsn_end, 6);
    assert_int_equal(vl_store_first_entry(f->store, 4, 1, &first, &found), 0);
    assert_false(found);
    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 4, 100, &r), VL_ERANGE);
    vl_entry_pos_t p;
    assert_int_equal(vl_store_lookup_offset(f->store, 4, 0, &p, &found), 0);
    assert_false(found);
    bool complete;
    assert_int_equal(vl_store_find_bid(f->store, 4, 9, 1, 0, 6, 100, &id, &found, &complete), 0);
    assert_false(found);
    assert_int_equal(vl_store_first_entry(f->store, 5, 1, &first, &found), 0);
    assert_true(found);
    assert_int_equal(first, 1);
}

/*  Batch names: found by (client, seq) newest first, read back for a
    replication range, mapped to GLSN runs, and deleted with the entries
    they begin at by a seal's truncation, a trim and a replica's deletion. */
static void test_batch_names(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 6};
    stfx_write(f->store, &a, 12);
    /* client 7: seqs 1 (1..3), 2 (4..8), 4 (11..12); client 9: 1 (9..10) */
    const vl_batch_id_t ids[] = {{1, 7, 1, 3}, {4, 7, 2, 5}, {9, 9, 1, 2}, {11, 7, 4, 2}};
    s_put_bids(f->store, 6, ids, 4);
    vl_batch_id_t other = {1, 7, 3, 1}; /* another log stream: never seen from ls 6 */
    s_put_bids(f->store, 7, &other, 1);
    stfx_reopen(f);

    vl_batch_id_t id;
    bool found, complete;
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 2, 0, 12, 100, &id, &found, &complete), 0);
    assert_true(found);
    assert_true(id.llsn_begin == 4 && id.n == 5);
    assert_int_equal(vl_store_find_bid(f->store, 6, 9, 1, 0, 12, 100, &id, &found, &complete), 0);
    assert_true(found && id.llsn_begin == 9);
    /* seq 3 of client 7 is not here: the whole range is searched */
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 3, 0, 12, 100, &id, &found, &complete), 0);
    assert_true(!found && complete);
    /* an older batch of the client past a newer one (a resend under its
       name) does not end the search: seq 1 at 1..3 is found behind seq 2
       and 4 */
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 1, 0, 12, 100, &id, &found, &complete), 0);
    assert_true(found && id.llsn_begin == 1 && id.n == 3);
    /* the hint bounds it from below */
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 1, 3, 12, 100, &id, &found, &complete), 0);
    assert_true(!found && complete);
    /* the last names, oldest first, up to an end and a count */
    vl_batch_id_t *last;
    uint32_t nlast;
    assert_int_equal(vl_store_last_bids(f->store, 6, 12, 3, &last, &nlast), 0);
    assert_int_equal(nlast, 3);
    assert_true(last[0].llsn_begin == 4 && last[1].llsn_begin == 9 && last[2].llsn_begin == 11);
    assert_true(last[2].client_id == 7 && last[2].batch_seq == 4 && last[2].n == 2);
    free(last);
    assert_int_equal(vl_store_last_bids(f->store, 6, 10, 100, &last, &nlast), 0);
    assert_int_equal(nlast, 3);
    assert_true(last[0].llsn_begin == 1 && last[2].llsn_begin == 9);
    free(last);
    /* the end bounds the search (a batch past the durable end is not there) */
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 4, 0, 10, 100, &id, &found, &complete), 0);
    assert_false(found);
    /* so does max_scan, and then the search is incomplete */
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 1, 0, 12, 2, &id, &found, &complete), 0);
    assert_true(!found && !complete);

    /* a seal at llsn 6 cuts the batch at 4..8 (client 7, seq 2): its
       name then names 4..6 only, so that other batches may take 7.. */
    {
        vl_store_batch_t *wb = vl_store_batch_new();
        assert_int_equal(vl_store_batch_truncate(f->store, wb, 6, 6), 0);
        assert_int_equal(vl_store_write(f->store, wb, true), 0);
        vl_store_batch_destroy(&wb);
        stfx_reopen(f);
        assert_int_equal(
            vl_store_find_bid(f->store, 6, 7, 2, 0, 6, 100, &id, &found, &complete), 0);
        assert_true(found && id.llsn_begin == 4 && id.n == 3);
        /* the names past the end went with the entries */
        assert_int_equal(
            vl_store_find_bid(f->store, 6, 9, 1, 0, 12, 100, &id, &found, &complete), 0);
        assert_false(found);
        stfx_write(f->store, &a, 12); /* the entries again, for what follows */
        s_put_bids(f->store, 6, ids, 4);
    }

    /* names of the batches holding 5..9: the one at 4 and the one at 9 */
    vl_wbuf_t out;
    vl_wbuf_init(&out);
    uint32_t n;
    assert_int_equal(vl_store_read_bids(f->store, 6, 5, 9, &out, &n), 0);
    assert_int_equal(n, 2);
    vl_wire_bid(out.data, 0, &id);
    assert_true(id.llsn_begin == 4 && id.client_id == 7 && id.batch_seq == 2);
    vl_wire_bid(out.data, 1, &id);
    assert_true(id.llsn_begin == 9 && id.client_id == 9);
    vl_wbuf_free(&out);

    /* GLSN runs: entries 1..4 at GLSN 10.., 5..8 at 20.. */
    stfx_commit(f->store, &a, 10, 0, 4);
    stfx_commit(f->store, &a, 20, 0, 4);
    vl_run_t *runs;
    uint32_t nruns;
    uint64_t covered;
    assert_int_equal(vl_store_llsn_runs(f->store, 6, 4, 5, &runs, &nruns, &covered), 0);
    assert_int_equal(nruns, 2);
    assert_true(runs[0].glsn_begin == 13 && runs[0].count == 1);
    assert_true(runs[1].glsn_begin == 20 && runs[1].count == 4);
    assert_int_equal(covered, 5);
    free(runs);
    assert_int_equal(vl_store_llsn_runs(f->store, 6, 9, 2, &runs, &nruns, &covered), 0);
    assert_int_equal(nruns, 0);
    assert_int_equal(covered, 0);
    free(runs);

    /* a seal discards 10..12: the name at 11 goes, the one at 9 stays */
    vl_store_batch_t *b = vl_store_batch_new();
    vl_store_batch_delete_entries(b, 6, 10, 12);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_clear(b);
    assert_int_equal(vl_store_find_bid(f->store, 6, 7, 4, 0, 12, 100, &id, &found, &complete), 0);
    assert_false(found);
    assert_int_equal(vl_store_find_bid(f->store, 6, 9, 1, 0, 12, 100, &id, &found, &complete), 0);
    assert_true(found);
    /* a trim to GLSN 21 (LLSN 6) drops the names of batches wholly below
       the first entry kept; the one holding it (4..8) stays, so its fate
       can still be told */
    assert_int_equal(vl_store_batch_trim(f->store, b, 6, 21), 0);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_clear(b);
    vl_wbuf_init(&out);
    assert_int_equal(vl_store_read_bids(f->store, 6, 1, 100, &out, &n), 0);
    assert_int_equal(n, 2);
    vl_wire_bid(out.data, 0, &id);
    assert_true(id.llsn_begin == 4 && id.batch_seq == 2);
    vl_wire_bid(out.data, 1, &id);
    assert_true(id.llsn_begin == 9);
    vl_wbuf_free(&out);
    /* deleting the replica deletes the rest, and only its own */
    vl_store_batch_delete_ls(b, 6);
    assert_int_equal(vl_store_write(f->store, b, false), 0);
    vl_store_batch_destroy(&b);
    vl_wbuf_init(&out);
    assert_int_equal(vl_store_read_bids(f->store, 6, 1, 100, &out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_store_read_bids(f->store, 7, 1, 1, &out, &n), 0);
    assert_int_equal(n, 1);
    vl_wbuf_free(&out);
}

/*  Entries are stored one value per written batch: reads cross batch
    boundaries (empty entries included), sums and committed reads and
    offset lookups find entries inside batches, a seal's truncation cuts a
    batch in the middle, a trim keeps the batch holding its first kept
    entry. */
static void test_batches(void **state)
{
    stfx_t *f = *state;
    const char *a[] = {"a", "bb", "ccc"}, *b[] = {""},
               *c[] = {"dddd", "eeeee", "ffffff", "ggggggg"};
    for (uint32_t ls = 9; ls <= 11; ls++) {
        stfx_put_strs(f->store, ls, 1, a, 3); /* llsn 1..3 */
        stfx_put_strs(f->store, ls, 4, b, 1); /* 4: empty */
        stfx_put_strs(f->store, ls, 5, c, 4); /* 5..8 */
    }
    char out[256];
    assert_int_equal(stfx_read_strs(f->store, 9, 2, 100, 1 << 20, out), 7);
    assert_string_equal(out, "bb|ccc||dddd|eeeee|ffffff|ggggggg");
    assert_int_equal(stfx_read_strs(f->store, 9, 2, 2, 1 << 20, out), 2);
    assert_string_equal(out, "bb|ccc");
    assert_int_equal(stfx_read_strs(f->store, 9, 3, 100, 4, out), 2); /* "ccc" + "" fit in 4 */
    assert_int_equal(stfx_read_strs(f->store, 9, 9, 100, 1 << 20, out), 0);
    assert_int_equal(stfx_read_strs(f->store, 9, 0, 100, 1 << 20, out), 0); /* no llsn 0 */
    uint64_t sum;
    assert_int_equal(vl_store_sum_sizes(f->store, 9, 2, 7, &sum), 0);
    assert_int_equal(sum, 2 + 3 + 0 + 4 + 5 + 6);
    assert_int_equal(vl_store_sum_sizes(f->store, 9, 1, 8, &sum), 0);
    assert_int_equal(sum, 28);
    assert_int_equal(vl_store_sum_sizes(f->store, 9, 1, 9, &sum), VL_ETRIMMED);

    /* committed: llsn 1..5 at GLSN 10.., 6..8 at GLSN 20.. */
    vl_store_range_t r1 = {.glsn_begin = 10, .llsn_begin = 1, .count = 5, .bytes = 10};
    vl_store_range_t r2 = {
        .glsn_begin = 20, .llsn_begin = 6, .count = 3, .offset_begin = 10, .bytes = 18};
    vl_store_batch_t *wb = vl_store_batch_new();
    vl_store_batch_put_range(wb, 9, &r1);
    vl_store_batch_put_range(wb, 9, &r2);
    assert_int_equal(vl_store_write(f->store, wb, false), 0);
    vl_store_batch_clear(wb);
    vl_entry_pos_t pos[16];
    uint32_t n;
    bool more;
    vl_store_cursor_t cur = {.glsn = 11};
    assert_int_equal(s_read_committed(f->store, 9, &cur, 100, 16, 1 << 20, pos, NULL, &n, &more),
                     0);
    assert_int_equal(n, 7);
    uint64_t want_glsn[] = {11, 12, 13, 14, 20, 21, 22}, want_off[] = {1, 3, 6, 6, 10, 15, 21};
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(pos[i].glsn, want_glsn[i]);
        assert_int_equal(pos[i].offset, want_off[i]);
        assert_int_equal(pos[i].llsn, i + 2);
    }
    bool found;
    vl_entry_pos_t p;
    assert_int_equal(vl_store_lookup_offset(f->store, 9, 12, &p, &found), 0);
    assert_true(found);
    assert_int_equal(p.glsn, 20);
    assert_int_equal(p.offset, 10);

    /* a seal at llsn 6 cuts the batch 5..8 */
    assert_int_equal(vl_store_batch_truncate(f->store, wb, 10, 6), 0);
    assert_int_equal(vl_store_write(f->store, wb, false), 0);
    vl_store_batch_clear(wb);
    assert_int_equal(stfx_read_strs(f->store, 10, 1, 100, 1 << 20, out), 6);
    assert_string_equal(out, "a|bb|ccc||dddd|eeeee");
    assert_int_equal(stfx_read_strs(f->store, 10, 7, 100, 1 << 20, out), 0);
    /* at a batch boundary: nothing cut, the later batches go */
    assert_int_equal(vl_store_batch_truncate(f->store, wb, 11, 3), 0);
    assert_int_equal(vl_store_write(f->store, wb, false), 0);
    vl_store_batch_clear(wb);
    assert_int_equal(stfx_read_strs(f->store, 11, 1, 100, 1 << 20, out), 3);
    assert_int_equal(stfx_read_strs(f->store, 11, 4, 100, 1 << 20, out), 0);

    /* a trim to GLSN 13 (llsn 4, the empty one): the batch 1..3 goes */
    assert_int_equal(vl_store_batch_trim(f->store, wb, 9, 13), 0);
    assert_int_equal(vl_store_write(f->store, wb, false), 0);
    vl_store_batch_clear(wb);
    assert_int_equal(stfx_read_strs(f->store, 9, 1, 100, 1 << 20, out), 0);
    assert_int_equal(stfx_read_strs(f->store, 9, 4, 100, 1 << 20, out), 5);
    /* to GLSN 21 (llsn 7): the batch 5..8 holds it and stays whole */
    assert_int_equal(vl_store_batch_trim(f->store, wb, 9, 21), 0);
    assert_int_equal(vl_store_write(f->store, wb, false), 0);
    vl_store_batch_destroy(&wb);
    assert_int_equal(stfx_read_strs(f->store, 9, 4, 100, 1 << 20, out), 0);
    assert_int_equal(stfx_read_strs(f->store, 9, 7, 100, 1 << 20, out), 2);
    assert_string_equal(out, "ffffff|ggggggg");
    stfx_reopen(f);
    assert_int_equal(stfx_read_strs(f->store, 9, 7, 100, 1 << 20, out), 2);
}

/*  A data directory written with one key per entry (store format 1) is
    converted when opened: every entry reads back the same. */
static void test_format1_converted(void **state)
{
    stfx_t *f = *state;
    vl_store_destroy(&f->store);
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, f->dir, &err);
    assert_null(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_delete(db, wo, "v", 1, &err); /* format 1 had no format key */
    assert_null(err);
    const char *e[] = {"one", "", "three"};
    for (uint64_t llsn = 1; llsn <= 3; llsn++) {
        uint8_t k[13];
        k[0] = 'd';
        vl_put_be32(k + 1, 5);
        vl_put_be64(k + 5, llsn);
        rocksdb_put(db, wo, (const char *)k, sizeof k, e[llsn - 1], strlen(e[llsn - 1]), &err);
        assert_null(err);
    }
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    char out[64];
    assert_int_equal(stfx_read_strs(f->store, 5, 1, 100, 1 << 20, out), 3);
    assert_string_equal(out, "one||three");
    stfx_reopen(f); /* converted once: the same again */
    assert_int_equal(stfx_read_strs(f->store, 5, 1, 100, 1 << 20, out), 3);
    assert_string_equal(out, "one||three");
}

/*  A data directory of store format 2 (batches as 'B' values holding
    their entries, before the entry log) opens without conversion: its
    batches read where they are, new ones go to the entry log, a seal's
    truncation cuts an old batch, and all of it survives a reopen. */
static void test_format2_read(void **state)
{
    stfx_t *f = *state;
    vl_store_destroy(&f->store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", f->dir);
    assert_int_equal(system(cmd), 0);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, f->dir, &err);
    assert_null(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_put(db, wo, "v", 1, "\x02", 1, &err);
    assert_null(err);
    /* 'd' ls 12 llsn 1 -> 'B', n 3, sizes 2 3 1, "aa" "bbb" "c" */
    uint8_t k[13], v[5 + 12 + 6];
    k[0] = 'd';
    vl_put_be32(k + 1, 12);
    vl_put_be64(k + 5, 1);
    v[0] = 'B';
    vl_put_be32(v + 1, 3);
    vl_put_le32(v + 5, 2);
    vl_put_le32(v + 9, 3);
    vl_put_le32(v + 13, 1);
    memcpy(v + 17, "aabbbc", 6);
    rocksdb_put(db, wo, (const char *)k, sizeof k, (const char *)v, sizeof v, &err);
    assert_null(err);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);

    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    char out[64];
    assert_int_equal(stfx_read_strs(f->store, 12, 1, 100, 1 << 20, out), 3);
    assert_string_equal(out, "aa|bbb|c");
    const char *more[] = {"dd", "e"};
    stfx_put_strs(f->store, 12, 4, more, 2);
    assert_int_equal(stfx_read_strs(f->store, 12, 1, 100, 1 << 20, out), 5);
    assert_string_equal(out, "aa|bbb|c|dd|e");
    stfx_reopen(f);
    assert_int_equal(stfx_read_strs(f->store, 12, 1, 100, 1 << 20, out), 5);
    assert_string_equal(out, "aa|bbb|c|dd|e");
    /* a seal cuts the old batch after its second entry */
    vl_store_batch_t *b = vl_store_batch_new();
    assert_int_equal(vl_store_batch_truncate(f->store, b, 12, 2), 0);
    assert_int_equal(vl_store_write(f->store, b, true), 0);
    vl_store_batch_destroy(&b);
    assert_int_equal(stfx_read_strs(f->store, 12, 1, 100, 1 << 20, out), 2);
    assert_string_equal(out, "aa|bbb");
    stfx_reopen(f);
    assert_int_equal(stfx_read_strs(f->store, 12, 1, 100, 1 << 20, out), 2);
    assert_string_equal(out, "aa|bbb");
}

static void test_open_error(void **state)
{
    vl_store_t *store = NULL;
    assert_int_equal(vl_store_open("/proc/version/not-a-dir", 0, &store), VL_ESTORE);
    assert_null(store);
    assert_non_null(strstr(vl_store_errmsg(), "/proc/version/not-a-dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_recover, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_lookup, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_trim, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_ls, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_batch_names, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_data_first_entry, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_batches, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_format1_converted, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_format2_read, stfx_setup, stfx_teardown),
        cmocka_unit_test(test_open_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
