/*  test_wire_body.c - round trips of every message body of the wire codec
    (lib/wire.c): each sample encodes to its documented size (some byte for
    byte), decodes to the same values and frees what it allocated; the
    empty forms (no items, the REPLICATE and LOOKUP reply forms) too, and
    an APPEND's payload frame is sliced by its sizes.

    Like test_wire, it links tests/lib/wirefx.c (the samples, the adapters
    and the allocation tracking: see wirefx.h).
*/
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util.h"
#include "varlog_err.h"
#include "wire.h"
#include "../lib/wirefx.h"

/* ---- round trips ------------------------------------------------------ */

static void test_roundtrip_report(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_report_t m;
    wfx_sample_encode(WFX_REPORT, &b);
    assert_int_equal(b.len, 8 + 29 * wfx_report.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_report_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.sn_id, wfx_report.sn_id);
    assert_int_equal(m.n, wfx_report.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_int_equal(m.items[i].ls_id, wfx_report_items[i].ls_id);
        assert_true(m.items[i].llsn_end == wfx_report_items[i].llsn_end);
        assert_true(m.items[i].bytes_end == wfx_report_items[i].bytes_end);
        assert_true(m.items[i].applied_llsn_end == wfx_report_items[i].applied_llsn_end);
        assert_int_equal(m.items[i].state, wfx_report_items[i].state);
    }
    vl_report_free(&m);
    assert_null(m.items);
    assert_int_equal(m.n, 0);
    vl_report_free(&m); /* twice is harmless */
    vl_wbuf_free(&b);

    /* no items */
    vl_report_t empty = {9, 0, NULL};
    vl_wbuf_init(&b);
    vl_report_encode(&empty, &b);
    assert_int_equal(b.len, 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_report_decode(&r, &m), 0);
    assert_int_equal(m.sn_id, 9);
    assert_int_equal(m.n, 0);
    vl_report_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_commit(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_commit_t m;
    wfx_sample_encode(WFX_COMMIT, &b);
    assert_int_equal(b.len, 20 + 64 * wfx_commit.n);
    /* the term leads the body, little endian */
    assert_true(vl_get_le64(b.data) == wfx_commit.term);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_commit_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_true(m.term == wfx_commit.term);
    assert_true(m.version == wfx_commit.version);
    assert_int_equal(m.n, wfx_commit.n);
    /* the items are plain integers with no padding holes between u32
       pairs and u64s, so compare field by field anyway for clarity */
    for (uint32_t i = 0; i < m.n; i++) {
        const vl_commit_item_t *a = &m.items[i], *e = &wfx_commit_items[i];
        assert_int_equal(a->topic_id, e->topic_id);
        assert_int_equal(a->ls_id, e->ls_id);
        assert_true(a->llsn_begin == e->llsn_begin);
        assert_true(a->glsn_begin == e->glsn_begin);
        assert_true(a->count == e->count);
        assert_true(a->offset_begin == e->offset_begin);
        assert_true(a->bytes == e->bytes);
        assert_true(a->hwm == e->hwm);
        assert_true(a->end_offset == e->end_offset);
    }
    vl_commit_free(&m);
    assert_null(m.items);
    vl_wbuf_free(&b);

    vl_commit_t empty = {.term = 3, .version = 1};
    vl_wbuf_init(&b);
    vl_commit_encode(&empty, &b);
    assert_int_equal(b.len, 20);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_commit_decode(&r, &m), 0);
    assert_int_equal(m.n, 0);
    assert_true(m.term == 3);
    assert_true(m.version == 1);
    vl_commit_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

/*  The order of METAs: by term, then by version within a term. */
static void test_meta_older(void **state)
{
    vl_meta_t m = {.term = 5, .version = 10};
    assert_true(vl_meta_older(&m, 6, 0));   /* an older term, whatever the version */
    assert_true(vl_meta_older(&m, 5, 11));  /* the same term, an older version */
    assert_false(vl_meta_older(&m, 5, 10)); /* the same one */
    assert_false(vl_meta_older(&m, 5, 9));
    assert_false(vl_meta_older(&m, 4, 100)); /* a newer term, whatever the version */
    assert_false(vl_meta_older(&m, 0, 0));
}

static void test_roundtrip_meta(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_meta_t m;
    wfx_sample_encode(WFX_META, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_meta_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.cluster_id, wfx_meta.cluster_id);
    assert_true(m.version == wfx_meta.version);
    assert_true(m.term == wfx_meta.term);
    assert_int_equal(m.sn_id, wfx_meta.sn_id);
    assert_int_equal(m.nsn, wfx_meta.nsn);
    for (uint32_t i = 0; i < m.nsn; i++) {
        assert_int_equal(m.sns[i].id, wfx_meta.sns[i].id);
        assert_string_equal(m.sns[i].addr, wfx_meta.sns[i].addr);
        assert_int_equal(m.sns[i].alive, wfx_meta.sns[i].alive);
    }
    assert_int_equal(strlen(m.sns[2].addr), VL_WIRE_MAX_ADDR);
    assert_int_equal(m.ntopics, wfx_meta.ntopics);
    for (uint32_t i = 0; i < m.ntopics; i++) {
        const vl_meta_topic_t *a = &m.topics[i], *e = &wfx_meta.topics[i];
        assert_int_equal(a->id, e->id);
        assert_string_equal(a->name, e->name);
        assert_int_equal(a->rf, e->rf);
        assert_true(a->hwm == e->hwm);
        assert_true(a->end_offset == e->end_offset);
        assert_true(a->trim_glsn == e->trim_glsn);
        assert_true(a->trim_offset == e->trim_offset);
        assert_int_equal(a->nls, e->nls);
        for (uint32_t j = 0; j < a->nls; j++) {
            assert_int_equal(a->ls[j].id, e->ls[j].id);
            assert_int_equal(a->ls[j].state, e->ls[j].state);
            assert_int_equal(a->ls[j].nrep, e->ls[j].nrep);
            for (uint32_t k = 0; k < a->ls[j].nrep; k++)
                assert_int_equal(a->ls[j].replicas[k], e->ls[j].replicas[k]);
            assert_true(a->ls[j].committed_llsn_end == e->ls[j].committed_llsn_end);
            assert_true(a->ls[j].committed_bytes == e->ls[j].committed_bytes);
            assert_int_equal(a->ls[j].epoch, e->ls[j].epoch);
            assert_int_equal(a->ls[j].seal_sn, e->ls[j].seal_sn);
        }
    }
    assert_int_equal(strlen(m.topics[2].name), VL_WIRE_MAX_NAME);
    assert_int_equal(m.topics[2].ls[0].nrep, VL_WIRE_MAX_REPLICAS);

    /* lookups */
    assert_ptr_equal(vl_meta_topic_by_name(&m, "orders"), &m.topics[0]);
    assert_ptr_equal(vl_meta_topic_by_name(&m, "a"), &m.topics[1]);
    assert_null(vl_meta_topic_by_name(&m, "order"));
    assert_null(vl_meta_topic_by_name(&m, ""));
    assert_ptr_equal(vl_meta_topic_by_id(&m, UINT32_MAX), &m.topics[2]);
    assert_null(vl_meta_topic_by_id(&m, 3));
    assert_ptr_equal(vl_meta_sn_by_id(&m, 5), &m.sns[2]);
    assert_null(vl_meta_sn_by_id(&m, 3));
    vl_meta_free(&m);
    assert_int_equal(m.nsn, 0);
    assert_int_equal(m.ntopics, 0);
    assert_null(vl_meta_topic_by_name(&m, "orders"));
    vl_meta_free(&m);
    vl_wbuf_free(&b);

    /* an empty cluster */
    vl_meta_t empty = {.cluster_id = 7, .version = 1, .term = 2};
    vl_wbuf_init(&b);
    vl_meta_encode(&empty, &b);
    assert_int_equal(b.len, 32);
    /* cluster_id u32, version u64, then the term */
    assert_true(vl_get_le64(b.data + 12) == 2);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_meta_decode(&r, &m), 0);
    assert_int_equal(m.cluster_id, 7);
    assert_true(m.version == 1);
    assert_true(m.term == 2);
    assert_int_equal(m.nsn, 0);
    assert_int_equal(m.ntopics, 0);
    vl_meta_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_admin(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_admin_t m;
    wfx_sample_encode(WFX_ADMIN, &b);
    assert_int_equal(b.len, 2 + VL_WIRE_MAX_NAME + 2 + strlen(wfx_admin.addr) + 12 + 16 + 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_admin_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.name, wfx_admin.name);
    assert_string_equal(m.addr, wfx_admin.addr);
    assert_int_equal(m.id, wfx_admin.id);
    assert_int_equal(m.nls, wfx_admin.nls);
    assert_int_equal(m.rf, wfx_admin.rf);
    assert_true(m.glsn == wfx_admin.glsn);
    assert_true(m.offset == wfx_admin.offset);
    assert_int_equal(m.sn_from, wfx_admin.sn_from);
    assert_int_equal(m.sn_to, wfx_admin.sn_to);
    vl_wbuf_free(&b);

    /* the fields a request does not use stay empty */
    vl_admin_t trim = {.id = 3, .glsn = 10, .offset = 99};
    vl_wbuf_init(&b);
    vl_admin_encode(&trim, &b);
    assert_int_equal(b.len, 4 + 12 + 16 + 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_admin_decode(&r, &m), 0);
    assert_string_equal(m.name, "");
    assert_string_equal(m.addr, "");
    assert_int_equal(m.id, 3);
    assert_true(m.glsn == 10);
    assert_true(m.offset == 99);
    assert_int_equal(m.sn_from, 0);
    assert_int_equal(m.sn_to, 0);
    vl_wbuf_free(&b);
}

static void test_roundtrip_append(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_append_t m;
    wfx_fill_sizes();

    wfx_sample_encode(WFX_APPEND, &b);
    assert_int_equal(b.len, 32 + 4 * VL_WIRE_MAX_ENTRIES);
    /* the sizes follow n, as they are, little endian */
    assert_memory_equal(b.data + 32, wfx_append_sizes, sizeof wfx_append_sizes);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_decode(&r, false, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.topic_id, wfx_append.topic_id);
    assert_int_equal(m.ls_id, wfx_append.ls_id);
    assert_int_equal(m.n, VL_WIRE_MAX_ENTRIES);
    assert_true(m.client_id == wfx_append.client_id);
    assert_true(m.batch_seq == wfx_append.batch_seq);
    assert_true(m.llsn_begin == 0); /* not on the wire for APPEND */
    assert_true(m.bytes_before == 0);
    assert_int_equal(m.epoch, wfx_append.epoch); /* the epoch the client saw */
    assert_int_equal(m.nbids, 0);
    assert_ptr_equal(m.sizes, b.data + 32); /* borrowed, not copied */
    for (uint32_t i = 0; i < m.n; i++)
        assert_int_equal(vl_wire_size(m.sizes, i), i * 2654435761u);
    vl_wbuf_free(&b);

    wfx_sample_encode(WFX_REPLICATE, &b);
    assert_int_equal(b.len, 36 + 2 * VL_WIRE_BID_SIZE + 4 * VL_WIRE_MAX_ENTRIES);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_decode(&r, true, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.topic_id, wfx_append.topic_id);
    assert_int_equal(m.ls_id, wfx_append.ls_id);
    assert_int_equal(m.n, wfx_append.n);
    assert_true(m.client_id == 0); /* not on the wire for REPLICATE */
    assert_true(m.llsn_begin == wfx_append.llsn_begin);
    assert_true(m.bytes_before == wfx_append.bytes_before);
    assert_int_equal(m.epoch, wfx_append.epoch);
    assert_int_equal(m.nbids, 2);
    assert_ptr_equal(m.bids, b.data + 36);
    vl_batch_id_t id;
    vl_wire_bid(m.bids, 0, &id);
    assert_true(id.llsn_begin == 90 && id.client_id == 0xfeedfacecafe0001ull &&
                id.batch_seq == 76 && id.n == 20);
    vl_wire_bid(m.bids, 1, &id);
    assert_true(id.llsn_begin == 110 && id.client_id == UINT64_MAX && id.batch_seq == UINT64_MAX &&
                id.n == UINT32_MAX);
    assert_ptr_equal(m.sizes, b.data + 36 + 2 * VL_WIRE_BID_SIZE);
    assert_memory_equal(m.sizes, wfx_append_sizes, sizeof wfx_append_sizes);
    vl_wbuf_free(&b);

    /* no entries: no sizes, NULL is fine to encode */
    vl_append_t none = {.topic_id = 1, .ls_id = 2, .llsn_begin = 3, .bytes_before = 4, .epoch = 5};
    for (int rep = 0; rep < 2; rep++) {
        vl_wbuf_init(&b);
        vl_append_encode(&none, rep, &b);
        assert_int_equal(b.len, rep ? 36 : 32);
        vl_rbuf_init(&r, b.data, b.len);
        assert_int_equal(vl_append_decode(&r, rep, &m), 0);
        assert_int_equal(m.n, 0);
        vl_wbuf_free(&b);
    }

    /* more batch names than entries + 1: refused */
    {
        vl_append_t few = wfx_append;
        few.n = 1;
        vl_wbuf_init(&b);
        vl_append_encode(&few, true, &b);
        assert_int_equal(wfx_try_wbuf(wfx_try_replicate, &b), 0);
        vl_put_le32(b.data + 8, 0); /* n = 0 with 2 names */
        assert_int_equal(wfx_try_wbuf(wfx_try_replicate, &b), VL_EPROTO);
        vl_wbuf_free(&b);
    }

    /* n > VL_WIRE_MAX_ENTRIES is refused in both forms, even with the
       sizes there (the n field is patched: the encoder would read n sizes) */
    for (int rep = 0; rep < 2; rep++) {
        static const uint32_t ns[] = {VL_WIRE_MAX_ENTRIES + 1, UINT32_MAX};
        for (size_t i = 0; i < 2; i++) {
            vl_wbuf_init(&b);
            vl_append_encode(&wfx_append, rep, &b);
            vl_wbuf_u32(&b, 0);
            vl_put_le32(b.data + (rep ? 8 : 28), ns[i]);
            assert_int_equal(wfx_try_wbuf(rep ? wfx_try_replicate : wfx_try_append, &b), VL_EPROTO);
            vl_wbuf_free(&b);
        }
    }
    /* fewer sizes than n: refused */
    for (int rep = 0; rep < 2; rep++) {
        vl_wbuf_init(&b);
        vl_append_encode(&wfx_append, rep, &b);
        b.len -= 1;
        assert_int_equal(wfx_try_wbuf(rep ? wfx_try_replicate : wfx_try_append, &b), VL_EPROTO);
        vl_wbuf_free(&b);
    }
}

static void test_roundtrip_batch_status(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    wfx_sample_encode(WFX_BATCH_STATUS, &b);
    assert_int_equal(b.len, 32);
    vl_batch_status_t m;
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_batch_status_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_memory_equal(&m, &wfx_batch_status, sizeof m);
    vl_wbuf_free(&b);

    wfx_sample_encode(WFX_BATCH_STATUS_REPLY, &b);
    vl_batch_status_reply_t rm;
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_batch_status_reply_decode(&r, &rm), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(rm.final, 1);
    assert_int_equal(rm.found, 1);
    assert_int_equal(rm.n, 40);
    assert_true(rm.ar.llsn_begin == 77);
    assert_int_equal(rm.ar.nruns, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(rm.ar.runs[i].glsn_begin == wfx_runs[i].glsn_begin);
        assert_int_equal(rm.ar.runs[i].count, wfx_runs[i].count);
    }
    vl_append_reply_free(&rm.ar);
    vl_wbuf_free(&b);
}

/*  Builds an APPEND message of n entries with the given sizes and frames
    payload frames of the given lengths. */
static zmsg_t *s_batch_msg(uint32_t n, const uint32_t *sizes, int frames, const size_t *lens)
{
    uint8_t raw[4 * 8];
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++)
        vl_put_le32(raw + 4 * i, sizes[i]);
    vl_append_t a = {.topic_id = 1, .ls_id = 2, .n = n, .sizes = raw};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    vl_hdr_t h = {VL_MSG_APPEND, 1, 2, 0};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    for (int f = 0; f < frames; f++) {
        uint8_t *mem = calloc(1, lens[f] + 1);
        for (size_t k = 0; k < lens[f]; k++)
            mem[k] = (uint8_t)('a' + k % 26);
        zmsg_addmem(msg, mem, lens[f]);
        free(mem);
    }
    return msg;
}

/*  Parses msg as a receiver does; returns vl_wire_payload's result. */
static int s_check_batch(zmsg_t *msg, zframe_t **data_p)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &h, &body);
    if (rc)
        return rc;
    vl_append_t a;
    assert_int_equal(vl_append_decode(&body, false, &a), 0);
    char why[160] = "";
    rc = vl_wire_payload(msg, a.n, vl_wire_sizes_sum(a.sizes, a.n), data_p, why, sizeof why);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_true(strlen(why) > 0); /* says what is wrong */
        assert_null(*data_p);
    }
    return rc;
}

static void test_batch_payload(void **state)
{
    zmsg_t *msg;
    zframe_t *data;

    /* round trip: entries back to back in one frame, sliced by the sizes */
    {
        static const uint32_t sizes[] = {3, 0, 5, 1};
        static const size_t lens[] = {9};
        msg = s_batch_msg(4, sizes, 1, lens);
        assert_int_equal(zmsg_size(msg), 3);
        assert_int_equal(s_check_batch(msg, &data), 0);
        assert_non_null(data);
        assert_ptr_equal(data, zmsg_last(msg));
        assert_int_equal(zframe_size(data), 9);
        assert_memory_equal(zframe_data(data), "abcdefghi", 9);
        zmsg_destroy(&msg);
    }
    /* no entries and no payload frame: fine, no data */
    msg = s_batch_msg(0, NULL, 0, NULL);
    assert_int_equal(s_check_batch(msg, &data), 0);
    assert_null(data);
    zmsg_destroy(&msg);
    /* n entries of size 0: one empty payload frame */
    {
        static const uint32_t sizes[] = {0, 0};
        static const size_t lens[] = {0};
        msg = s_batch_msg(2, sizes, 1, lens);
        assert_int_equal(s_check_batch(msg, &data), 0);
        assert_int_equal(zframe_size(data), 0);
        zmsg_destroy(&msg);
    }

    /* malformed: sizes add up to more, or less, than the frame */
    {
        static const uint32_t sizes[] = {3, 4};
        static const size_t more[] = {6}, less[] = {8};
        msg = s_batch_msg(2, sizes, 1, more);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, sizes, 1, less);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
    }
    /* malformed: sizes whose sum wraps in 32 bits to the frame's size */
    {
        static const uint32_t wrap0[] = {UINT32_MAX, 1}, wrap2[] = {UINT32_MAX, 3},
                              wrap_many[] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                                             UINT32_MAX, UINT32_MAX, UINT32_MAX, 8};
        static const size_t zero[] = {0}, two[] = {2}, one[] = {1};
        msg = s_batch_msg(2, wrap0, 1, zero);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, wrap2, 1, two);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(8, wrap_many, 1, one);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        assert_true(vl_wire_sizes_sum((const uint8_t *)"\xff\xff\xff\xff\x01\0\0\0", 2) ==
                    (uint64_t)UINT32_MAX + 1);
    }
    /* malformed: entries but no payload frame; a payload frame for no
       entries; two payload frames (the sizes match their sum, as version 1
       would have sent them) */
    {
        static const uint32_t sizes[] = {4, 4};
        static const size_t lens[] = {4, 4}, eight[] = {8};
        msg = s_batch_msg(2, sizes, 0, NULL);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(0, NULL, 1, eight);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, sizes, 2, lens);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO); /* refused by the parse */
        zframe_t *f = NULL;
        char why[160] = "";
        assert_int_equal(vl_wire_payload(msg, 2, 8, &f, why, sizeof why), VL_EPROTO);
        assert_null(f);
        assert_non_null(strstr(why, "2 payload frames"));
        zmsg_destroy(&msg);
    }
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_append_reply(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_append_reply_t m;
    wfx_sample_encode(WFX_APPEND_REPLY, &b);
    assert_int_equal(b.len, 12 + 12 * wfx_append_reply.nruns);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_reply_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_true(m.llsn_begin == wfx_append_reply.llsn_begin);
    assert_int_equal(m.nruns, wfx_append_reply.nruns);
    for (uint32_t i = 0; i < m.nruns; i++) {
        assert_true(m.runs[i].glsn_begin == wfx_runs[i].glsn_begin);
        assert_int_equal(m.runs[i].count, wfx_runs[i].count);
    }
    vl_append_reply_free(&m);
    assert_null(m.runs);
    vl_wbuf_free(&b);

    /* the REPLICATE reply form: durable end, no runs */
    vl_append_reply_t rep = {12345, 0, NULL};
    vl_wbuf_init(&b);
    vl_append_reply_encode(&rep, &b);
    assert_int_equal(b.len, 12);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_reply_decode(&r, &m), 0);
    assert_true(m.llsn_begin == 12345);
    assert_int_equal(m.nruns, 0);
    vl_append_reply_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_subscribe(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_subscribe_t m;
    wfx_sample_encode(WFX_SUBSCRIBE, &b);
    /* layout pinned byte for byte: u32 u32 u64 u64 u32, little endian */
    static const uint8_t want[] = {3,    0,    0,    0,    9,  0, 0,    0,    17,   0,
                                   0,    0,    0,    0,    0,  0, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 64, 0, 0,    0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_subscribe_decode(&r, &m), 0);
    assert_int_equal(m.topic_id, 3);
    assert_int_equal(m.ls_id, 9);
    assert_true(m.glsn_begin == 17);
    assert_true(m.glsn_end == VL_GLSN_MAX);
    assert_int_equal(m.credit, 64);
    vl_wbuf_free(&b);
}

static void test_roundtrip_sub_data(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_sub_data_t m;
    wfx_sample_encode(WFX_SUB_DATA, &b);
    assert_int_equal(b.len, 5 + 28 * wfx_sub_data.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sub_data_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.last, 1);
    assert_int_equal(m.n, wfx_sub_data.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_true(m.entries[i].glsn == wfx_entries[i].glsn);
        assert_true(m.entries[i].llsn == wfx_entries[i].llsn);
        assert_true(m.entries[i].offset == wfx_entries[i].offset);
        assert_int_equal(m.entries[i].size, wfx_entries[i].size);
    }
    vl_sub_data_free(&m);
    assert_null(m.entries);
    vl_wbuf_free(&b);

    /* LOOKUP reply form: not found, no entries */
    vl_sub_data_t none = {0, 0, NULL};
    vl_wbuf_init(&b);
    vl_sub_data_encode(&none, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sub_data_decode(&r, &m), 0);
    assert_int_equal(m.last, 0);
    assert_int_equal(m.n, 0);
    vl_sub_data_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_sn_status(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_sn_status_t m;
    wfx_sample_encode(WFX_SN_STATUS, &b);
    assert_int_equal(b.len, 2 + strlen(wfx_sn_status.addr) + 16 + 1 + 2 +
                                strlen(wfx_sn_status.fault_why) + 4 + 49 * wfx_sn_status.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sn_status_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.addr, wfx_sn_status.addr);
    assert_true(m.disk_total == wfx_sn_status.disk_total);
    assert_true(m.disk_free == wfx_sn_status.disk_free);
    assert_int_equal(m.fault, 1);
    assert_string_equal(m.fault_why, wfx_sn_status.fault_why);
    assert_int_equal(m.n, wfx_sn_status.n);
    for (uint32_t i = 0; i < m.n; i++) {
        const vl_sn_replica_t *a = &m.replicas[i], *e = &wfx_replicas[i];
        assert_int_equal(a->topic_id, e->topic_id);
        assert_int_equal(a->ls_id, e->ls_id);
        assert_true(a->llsn_end == e->llsn_end);
        assert_true(a->bytes_end == e->bytes_end);
        assert_true(a->committed_llsn_end == e->committed_llsn_end);
        assert_true(a->committed_glsn_end == e->committed_glsn_end);
        assert_true(a->trim_glsn == e->trim_glsn);
        assert_int_equal(a->state, e->state);
    }
    vl_sn_status_free(&m);
    assert_null(m.replicas);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

static void test_roundtrip_seal_sync(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_seal_reply_t s;
    wfx_sample_encode(WFX_SEAL_REPLY, &b);
    assert_int_equal(b.len, 20);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_seal_reply_decode(&r, &s), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(s.ls_id, wfx_seal_reply.ls_id);
    assert_true(s.llsn_end == wfx_seal_reply.llsn_end);
    assert_true(s.glsn_end == wfx_seal_reply.glsn_end);
    /* it begins with the id u32 of every admin reply */
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_u32(&r), wfx_seal_reply.ls_id);
    vl_wbuf_free(&b);

    vl_sync_t y;
    wfx_sample_encode(WFX_SYNC, &b);
    assert_int_equal(b.len, 20 + 2 + strlen(wfx_sync.dest_addr) + 4);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_decode(&r, &y), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(y.topic_id, wfx_sync.topic_id);
    assert_int_equal(y.ls_id, wfx_sync.ls_id);
    assert_true(y.llsn_end == wfx_sync.llsn_end);
    assert_int_equal(y.dest_sn, wfx_sync.dest_sn);
    assert_string_equal(y.dest_addr, wfx_sync.dest_addr);
    assert_int_equal(y.epoch, wfx_sync.epoch);
    vl_wbuf_free(&b);

    vl_sync_reply_t m;
    wfx_sample_encode(WFX_SYNC_REPLY, &b);
    assert_int_equal(b.len, 4 + 28 * wfx_sync_reply.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_reply_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.n, wfx_sync_reply.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_int_equal(m.items[i].ls_id, wfx_sync_items[i].ls_id);
        assert_int_equal(m.items[i].src_sn, wfx_sync_items[i].src_sn);
        assert_int_equal(m.items[i].dest_sn, wfx_sync_items[i].dest_sn);
        assert_true(m.items[i].dest_llsn_end == wfx_sync_items[i].dest_llsn_end);
        assert_true(m.items[i].llsn_end == wfx_sync_items[i].llsn_end);
    }
    vl_sync_reply_free(&m);
    assert_null(m.items);
    vl_wbuf_free(&b);

    /* nothing to sync */
    vl_sync_reply_t none = {0, NULL};
    vl_wbuf_init(&b);
    vl_sync_reply_encode(&none, &b);
    assert_int_equal(b.len, 4);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_reply_decode(&r, &m), 0);
    assert_int_equal(m.n, 0);
    vl_sync_reply_free(&m);
    vl_wbuf_free(&b);

    /* a count beyond the body allocates nothing */
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 1000);
    for (int k = 0; k < 28; k++)
        vl_wbuf_u8(&b, 0);
    assert_int_equal(wfx_try_wbuf(wfx_try_sync_reply, &b), VL_EPROTO);
    assert_int_equal(wfx_calloc_calls, 0);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

/*  VL_ENOTLEADER: the leader's endpoint, or nothing; what a follower
    builds with vl_wire_reply decodes to the same hint. */
static void test_notleader(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_notleader_t m;
    wfx_sample_encode(WFX_NOTLEADER, &b);
    assert_int_equal(b.len, 2 + strlen(wfx_notleader.leader));
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_notleader_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.leader, wfx_notleader.leader);
    vl_wbuf_free(&b);

    /* no leader known: an empty string */
    vl_notleader_t none = {""};
    vl_wbuf_init(&b);
    vl_notleader_encode(&none, &b);
    assert_int_equal(b.len, 2);
    vl_rbuf_init(&r, b.data, b.len);
    memset(&m, 0xa5, sizeof m);
    assert_int_equal(vl_notleader_decode(&r, &m), 0);
    assert_string_equal(m.leader, "");
    vl_wbuf_free(&b);

    /* the reply a follower sends, as a requester parses it */
    const char *leaders[] = {"tcp://127.0.0.1:9094", ""};
    for (size_t i = 0; i < 2; i++) {
        vl_hdr_t req = {.type = VL_MSG_GET_META, .request_id = 42};
        zmsg_t *msg = vl_wire_reply(&req, VL_ENOTLEADER, "%s", leaders[i]);
        vl_hdr_t h;
        vl_rbuf_t body;
        assert_int_equal(vl_wire_parse(msg, &h, &body), 0);
        assert_int_equal(h.status, VL_ENOTLEADER);
        assert_int_equal(h.type, VL_MSG_GET_META | VL_MSG_REPLY);
        assert_int_equal(vl_notleader_decode(&body, &m), 0);
        assert_string_equal(m.leader, leaders[i]);
        zmsg_destroy(&msg);
    }

    /* malformed: no body, half a length, a length past the end (an
       overlong endpoint and an embedded NUL: test_bad_strings) */
    assert_int_equal(wfx_try_exact(wfx_try_notleader, NULL, 0), VL_EPROTO);
    static const uint8_t half[] = {5};
    assert_int_equal(wfx_try_exact(wfx_try_notleader, half, sizeof half), VL_EPROTO);
    static const uint8_t past[] = {9, 0, 't', 'c', 'p'};
    assert_int_equal(wfx_try_exact(wfx_try_notleader, past, sizeof past), VL_EPROTO);

    /* the code itself: stable, retryable */
    assert_int_equal(VL_ENOTLEADER, 25);
    assert_int_equal(vl_err_errno(VL_ENOTLEADER), EAGAIN);
    assert_string_equal(vl_err_name(VL_ENOTLEADER), "VL_ENOTLEADER");
}

/*  MR membership: MR_STATUS, MR_ADD, MR_REMOVE/MR_TRANSFER round trips,
    and the bad inputs they refuse. */
static void test_mr_membership(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_mr_status_t st;
    wfx_sample_encode(WFX_MR_STATUS, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_mr_status_decode(&r, &st), 0);
    assert_int_equal(r.left, 0);
    assert_true(st.leader_id == 2 && st.term == 7 && st.commit_index == 1000);
    assert_true(st.applied_index == 999 && st.last_index == UINT64_MAX);
    assert_int_equal(st.n, 3);
    for (uint32_t i = 0; i < st.n; i++) {
        const vl_mr_member_t *a = &st.members[i], *e = &wfx_mr_status.members[i];
        assert_true(a->id == e->id);
        assert_string_equal(a->raft_addr, e->raft_addr);
        assert_string_equal(a->endpoint, e->endpoint);
        assert_int_equal(a->role, e->role);
        assert_true(a->match_index == e->match_index);
    }
    assert_int_equal(strlen(st.members[2].endpoint), VL_WIRE_MAX_ADDR);
    /* a role past the known ones is refused */
    b.data[5 * 8 + 4 + 8 + 2 + strlen("127.0.0.1:9192") + 2 + strlen("tcp://127.0.0.1:9092")] = 3;
    assert_int_equal(wfx_try_wbuf(wfx_try_mr_status, &b), VL_EPROTO);
    vl_wbuf_free(&b);

    /* more members than VL_WIRE_MAX_MEMBERS */
    vl_wbuf_init(&b);
    for (int i = 0; i < 5; i++)
        vl_wbuf_u64(&b, 1);
    vl_wbuf_u32(&b, VL_WIRE_MAX_MEMBERS + 1);
    for (int i = 0; i <= VL_WIRE_MAX_MEMBERS; i++) {
        vl_mr_member_t m = {.id = 1};
        vl_mr_add_encode(&m, &b);
        vl_wbuf_u8(&b, 0);
        vl_wbuf_u64(&b, 0);
    }
    assert_int_equal(wfx_try_wbuf(wfx_try_mr_status, &b), VL_EPROTO);
    vl_wbuf_free(&b);

    /* MR_ADD */
    vl_mr_member_t add = {.id = 4,
                          .raft_addr = "10.0.0.4:9192",
                          .endpoint = "tcp://10.0.0.4:9092",
                          .role = VL_MR_SPARE,
                          .match_index = 9};
    vl_mr_member_t got;
    vl_wbuf_init(&b);
    vl_mr_add_encode(&add, &b);
    assert_int_equal(b.len, 8 + 2 + strlen(add.raft_addr) + 2 + strlen(add.endpoint));
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_mr_add_decode(&r, &got), 0);
    assert_true(got.id == 4 && got.role == 0 && got.match_index == 0); /* not sent */
    assert_string_equal(got.raft_addr, add.raft_addr);
    assert_string_equal(got.endpoint, add.endpoint);
    vl_wbuf_free(&b);

    /* MR_REMOVE, MR_TRANSFER */
    uint64_t id = 1;
    vl_wbuf_init(&b);
    vl_mr_id_encode(UINT64_MAX, &b);
    assert_int_equal(b.len, 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_mr_id_decode(&r, &id), 0);
    assert_true(id == UINT64_MAX);
    vl_rbuf_init(&r, b.data, 7);
    assert_int_equal(vl_mr_id_decode(&r, &id), VL_EPROTO);
    assert_true(id == 0);
    vl_wbuf_free(&b);

    /* the names logs and varlogctl use */
    assert_string_equal(vl_wire_type_name(VL_MSG_MR_STATUS), "MR_STATUS");
    assert_string_equal(vl_wire_type_name(VL_MSG_MR_ADD | VL_MSG_REPLY), "MR_ADD");
    assert_string_equal(vl_wire_type_name(VL_MSG_MR_REMOVE), "MR_REMOVE");
    assert_string_equal(vl_wire_type_name(VL_MSG_MR_TRANSFER), "MR_TRANSFER");
    assert_string_equal(vl_mr_role_name(VL_MR_STANDBY), "standby");
    assert_string_equal(vl_mr_role_name(3), "unknown");
    assert_int_equal(wfx_nlive, 0);
}

/*  META's MR member endpoints: written when there are some, read when
    bytes remain; what follows them (a STATUS reply's trailer) is left. */
static void test_meta_members(void **state)
{
    vl_meta_member_t members[] = {{1, "tcp://127.0.0.1:9092"}, {UINT64_MAX, "tcp://mr-3:9096"}};
    vl_meta_t m = {.cluster_id = 7, .version = 3, .term = 4, .nmembers = 2, .members = members};
    vl_meta_t got;
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_wbuf_init(&b);
    vl_meta_encode(&m, &b);
    size_t len = b.len;
    assert_int_equal(len, 32 + 4 + 8 + 2 + strlen(members[0].endpoint) + 8 + 2 +
                              strlen(members[1].endpoint));
    vl_wbuf_str(&b, "trailer");
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_meta_decode(&r, &got), 0);
    assert_int_equal(r.left, b.len - len);
    assert_int_equal(got.nmembers, 2);
    assert_true(got.term == 4);
    assert_true(got.members[0].id == 1 && got.members[1].id == UINT64_MAX);
    assert_string_equal(got.members[1].endpoint, "tcp://mr-3:9096");
    vl_meta_free(&got);
    assert_null(got.members);
    assert_int_equal(got.nmembers, 0);

    /* every prefix inside the section is refused, with nothing left allocated */
    for (size_t n = 32 + 1; n < len; n++)
        if (wfx_try_exact(wfx_try_meta, b.data, n) != VL_EPROTO)
            fail_msg("a META cut at %zu of %zu bytes was taken", n, len);
    /* more members than VL_WIRE_MAX_MEMBERS */
    vl_wbuf_t big;
    vl_wbuf_init(&big);
    vl_wbuf_mem(&big, b.data, 32);
    vl_wbuf_u32(&big, VL_WIRE_MAX_MEMBERS + 1);
    for (int i = 0; i <= VL_WIRE_MAX_MEMBERS; i++) {
        vl_wbuf_u64(&big, 1);
        vl_wbuf_str(&big, "tcp://a:1");
    }
    assert_int_equal(wfx_try_wbuf(wfx_try_meta, &big), VL_EPROTO);
    vl_wbuf_free(&big);
    vl_wbuf_free(&b);
    assert_int_equal(wfx_nlive, 0);
}

/*  VL_WIRE_CORPUS=DIR: the sample of every body, its WFX_* index first,
    one file each, as the seed corpus of tests/fuzz/fuzz_wire.c. */
static void s_write_corpus(const char *dir)
{
    for (int c = 0; c < WFX_NCODECS; c++) {
        vl_wbuf_t b;
        wfx_sample_encode(c, &b);
        char path[4096];
        snprintf(path, sizeof path, "%s/sample-%02d", dir, c);
        FILE *f = fopen(path, "wb");
        if (f) {
            uint8_t sel = (uint8_t)c;
            fwrite(&sel, 1, 1, f);
            fwrite(b.data, 1, b.len, f);
            fclose(f);
        }
        vl_wbuf_free(&b);
    }
}

int main(void)
{
    if (getenv("VL_WIRE_CORPUS"))
        s_write_corpus(getenv("VL_WIRE_CORPUS"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_report),
        cmocka_unit_test(test_roundtrip_commit),
        cmocka_unit_test(test_roundtrip_meta),
        cmocka_unit_test(test_meta_older),
        cmocka_unit_test(test_roundtrip_admin),
        cmocka_unit_test(test_roundtrip_append),
        cmocka_unit_test(test_roundtrip_batch_status),
        cmocka_unit_test(test_batch_payload), /* the APPEND's payload frame */
        cmocka_unit_test(test_roundtrip_append_reply),
        cmocka_unit_test(test_roundtrip_subscribe),
        cmocka_unit_test(test_roundtrip_sub_data),
        cmocka_unit_test(test_roundtrip_sn_status),
        cmocka_unit_test(test_roundtrip_seal_sync),
        cmocka_unit_test(test_notleader),
        cmocka_unit_test(test_mr_membership),
        cmocka_unit_test(test_meta_members),
    };
    return cmocka_run_group_tests_name("wire_body", tests, NULL, NULL);
}
