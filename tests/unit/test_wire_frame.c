/*  test_wire_frame.c - unit tests of the wire codec's primitives and
    framing (lib/wire.c): the write and read buffers, the header frame byte
    for byte, replies and their error text, message type names, messages
    whose frames are wrong (size, magic, version, type, body, payload
    frames), and topic names.

    Like test_wire, it links tests/lib/wirefx.c (the samples, the adapters
    and the allocation tracking: see wirefx.h).
*/
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

/* ---- primitives ------------------------------------------------------- */

static void test_wbuf_rbuf(void **state)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u8(&b, 0x01);
    vl_wbuf_u16(&b, 0x0302);
    vl_wbuf_u32(&b, 0x07060504);
    vl_wbuf_u64(&b, 0x0f0e0d0c0b0a0908ull);
    vl_wbuf_str(&b, "hi");
    vl_wbuf_str(&b, "");
    static const uint8_t want[] = {1,  2,  3,  4,  5, 6, 7,   8,   9, 10, 11,
                                   12, 13, 14, 15, 2, 0, 'h', 'i', 0, 0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);

    vl_rbuf_t r;
    char s[8];
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_u8(&r), 0x01);
    assert_int_equal(vl_rbuf_u16(&r), 0x0302);
    assert_int_equal(vl_rbuf_u32(&r), 0x07060504);
    assert_true(vl_rbuf_u64(&r) == 0x0f0e0d0c0b0a0908ull);
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "hi");
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "");
    assert_int_equal(r.err, 0);
    assert_int_equal(r.left, 0);
    /* reading past the end fails, and the failure sticks */
    assert_int_equal(vl_rbuf_u8(&r), 0);
    assert_int_equal(r.err, VL_EPROTO);

    /* a failed wide read does not consume, but later reads still fail */
    vl_rbuf_init(&r, b.data, 3);
    assert_int_equal(vl_rbuf_u32(&r), 0);
    assert_int_equal(r.err, VL_EPROTO);
    assert_int_equal(vl_rbuf_u8(&r), 0);
    assert_int_equal(vl_rbuf_u16(&r), 0);
    assert_true(vl_rbuf_u64(&r) == 0);
    memset(s, 'z', sizeof s);
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "");
    assert_int_equal(vl_rbuf_count(&r, 10, 0), 0);

    /* string longer than max: error, empty output */
    vl_rbuf_init(&r, b.data + 15, 4);
    vl_rbuf_str(&r, s, 1);
    assert_string_equal(s, "");
    assert_int_equal(r.err, VL_EPROTO);
    vl_wbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* counts: max and bytes-left checks; item_size 0 checks max only */
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 3);
    vl_wbuf_u64(&b, 0);
    vl_wbuf_u32(&b, 0);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 3, 4), 3);
    assert_int_equal(r.err, 0);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 2, 4), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 3, 5), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_rbuf_init(&r, b.data, 4);
    assert_int_equal(vl_rbuf_count(&r, 3, 0), 3);
    assert_int_equal(r.err, 0);
    vl_wbuf_free(&b);
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, UINT32_MAX);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, UINT32_MAX, 1 << 20), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_wbuf_free(&b);

    /* growth well past the first block keeps every byte */
    vl_wbuf_init(&b);
    for (uint32_t i = 0; i < 10000; i++)
        vl_wbuf_u32(&b, i * 2654435761u);
    assert_int_equal(b.len, 40000);
    assert_true(b.cap >= b.len);
    vl_rbuf_init(&r, b.data, b.len);
    for (uint32_t i = 0; i < 10000; i++)
        assert_int_equal(vl_rbuf_u32(&r), i * 2654435761u);
    assert_int_equal(r.err, 0);
    vl_wbuf_free(&b);
    vl_wbuf_free(&b); /* idempotent */

    /* an empty rbuf with no data pointer (what a failed parse leaves) */
    vl_rbuf_init(&r, NULL, 0);
    vl_rbuf_str(&r, s, 7);
    assert_int_equal(r.err, VL_EPROTO);
}

/* ---- framing ---------------------------------------------------------- */

static zmsg_t *s_raw_msg(uint32_t magic, uint16_t version, uint16_t type, uint64_t rid,
                         uint32_t cluster, uint32_t status)
{
    uint8_t h[VL_WIRE_HDR_SIZE];
    vl_put_le32(h, magic);
    vl_put_le16(h + 4, version);
    vl_put_le16(h + 6, type);
    vl_put_le64(h + 8, rid);
    vl_put_le32(h + 16, cluster);
    vl_put_le32(h + 20, status);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, h, sizeof h);
    return msg;
}

static void test_wire_msg_parse(void **state)
{
    vl_wbuf_t b;
    wfx_sample_encode(WFX_SUBSCRIBE, &b);
    for (uint16_t type = 1; type < VL_MSG_TYPE_MAX; type++) {
        for (int reply = 0; reply < 2; reply++) {
            vl_hdr_t h = {(uint16_t)(type | (reply ? VL_MSG_REPLY : 0)),
                          0x1122334455667788ull + type, 0xdeadbeef, reply ? VL_ESEALED : 0};
            zmsg_t *msg = vl_wire_msg(&h, &b);
            assert_int_equal(zmsg_size(msg), 2);
            zframe_t *f = zmsg_first(msg);
            assert_int_equal(zframe_size(f), VL_WIRE_HDR_SIZE);
            /* the documented layout, byte for byte */
            const uint8_t *p = zframe_data(f);
            assert_memory_equal(p, "VLOG", 4);
            assert_int_equal(vl_get_le16(p + 4), VL_WIRE_VERSION);
            assert_int_equal(vl_get_le16(p + 6), h.type);
            assert_true(vl_get_le64(p + 8) == h.request_id);
            assert_int_equal(vl_get_le32(p + 16), h.cluster_id);
            assert_int_equal(vl_get_le32(p + 20), h.status);
            f = zmsg_next(msg);
            assert_int_equal(zframe_size(f), b.len);
            assert_memory_equal(zframe_data(f), b.data, b.len);

            /* the payload frame rides after the body */
            zmsg_addstr(msg, "entry-1entry-2");
            vl_hdr_t got;
            vl_rbuf_t body;
            assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
            assert_int_equal(got.type, h.type);
            assert_true(got.request_id == h.request_id);
            assert_int_equal(got.cluster_id, h.cluster_id);
            assert_int_equal(got.status, h.status);
            assert_int_equal(body.left, b.len);
            assert_int_equal(body.err, 0);
            vl_subscribe_t sub;
            assert_int_equal(vl_subscribe_decode(&body, &sub), 0);
            assert_int_equal(sub.ls_id, wfx_subscribe.ls_id);
            assert_int_equal(zmsg_size(msg), 3);
            zmsg_destroy(&msg);
        }
    }
    vl_wbuf_free(&b);

    /* NULL body and empty body both give an empty frame 1 */
    vl_hdr_t h = {VL_MSG_GET_META, 1, 2, 0};
    vl_wbuf_init(&b);
    zmsg_t *msgs[2] = {vl_wire_msg(&h, NULL), vl_wire_msg(&h, &b)};
    for (int i = 0; i < 2; i++) {
        vl_hdr_t got;
        vl_rbuf_t body;
        assert_int_equal(zmsg_size(msgs[i]), 2);
        assert_int_equal(vl_wire_parse(msgs[i], &got, &body), 0);
        assert_int_equal(body.left, 0);
        assert_int_equal(got.type, VL_MSG_GET_META);
        zmsg_destroy(&msgs[i]);
    }
}

static void test_wire_reply(void **state)
{
    vl_hdr_t req = {VL_MSG_APPEND, 0xfeedfacecafebeefull, 99, 0};
    vl_hdr_t got;
    vl_rbuf_t body;
    char text[1100];

    /* success: reply type, same ids, empty body */
    zmsg_t *msg = vl_wire_reply(&req, 0, "ignored %d", 1);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.type, VL_MSG_APPEND | VL_MSG_REPLY);
    assert_true(got.request_id == req.request_id);
    assert_int_equal(got.cluster_id, 99);
    assert_int_equal(got.status, 0);
    assert_int_equal(body.left, 0);
    zmsg_destroy(&msg);

    /* error: formatted message in the body */
    msg = vl_wire_reply(&req, VL_ESEALED, "append ls=%d: %s; retry after unseal", 7,
                        vl_err_str(VL_ESEALED));
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.status, VL_ESEALED);
    assert_int_equal(got.type, VL_MSG_APPEND | VL_MSG_REPLY);
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "append ls=7: log stream is sealed; retry after unseal");
    /* errtext reads a copy: the body can be read again */
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "append ls=7: log stream is sealed; retry after unseal");
    /* a small output buffer truncates */
    char small[7];
    vl_wire_errtext(&body, small, sizeof small);
    assert_string_equal(small, "append");
    zmsg_destroy(&msg);

    /* error without text: empty body, errtext says so */
    msg = vl_wire_reply(&req, VL_EIO, NULL);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.status, VL_EIO);
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "(no message)");
    zmsg_destroy(&msg);

    /* the reply to a reply keeps one reply bit */
    vl_hdr_t rep = {VL_MSG_SUBSCRIBE | VL_MSG_REPLY, 5, 6, 0};
    msg = vl_wire_reply(&rep, VL_EEOF, "%s", "done");
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.type, VL_MSG_SUBSCRIBE | VL_MSG_REPLY);
    zmsg_destroy(&msg);

    /* a very long message is cut, not refused, and still readable */
    char *longtext = wfx_repeat('m', 5000);
    msg = vl_wire_reply(&req, VL_EINVAL, "%s", longtext);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    vl_wire_errtext(&body, text, sizeof text);
    assert_true(strlen(text) > 100);
    assert_true(strlen(text) < 1024);
    assert_int_equal(strspn(text, "m"), strlen(text));
    zmsg_destroy(&msg);
    free(longtext);

    /* errtext on bodies that are not a string */
    static const uint8_t trunc[] = {10, 0, 'a', 'b'};
    static const uint8_t nul[] = {3, 0, 'a', 0, 'b'};
    static const uint8_t huge[] = {0xff, 0xff, 'a'};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{trunc, sizeof trunc}, {nul, sizeof nul}, {huge, sizeof huge}, {NULL, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *p = wfx_exact(bad[i].p, bad[i].n);
        vl_rbuf_init(&body, p, bad[i].n);
        vl_wire_errtext(&body, text, sizeof text);
        assert_string_equal(text, "(no message)");
        free(p);
    }
}

static void test_wire_type_name(void **state)
{
    for (uint16_t t = 1; t < VL_MSG_TYPE_MAX; t++) {
        const char *n = vl_wire_type_name(t);
        assert_non_null(n);
        assert_string_not_equal(n, "UNKNOWN");
        assert_string_equal(vl_wire_type_name(t | VL_MSG_REPLY), n);
        for (uint16_t u = 1; u < t; u++)
            assert_string_not_equal(vl_wire_type_name(u), n);
    }
    assert_string_equal(vl_wire_type_name(VL_MSG_APPEND), "APPEND");
    assert_string_equal(vl_wire_type_name(VL_MSG_STATUS), "STATUS");
    assert_string_equal(vl_wire_type_name(0), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(VL_MSG_REPLY), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(VL_MSG_TYPE_MAX), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(0x7fff), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(0xffff), "UNKNOWN");
}

static void s_expect_parse(zmsg_t *msg, int want)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    memset(&body, 0xa5, sizeof body);
    int rc = vl_wire_parse(msg, &h, &body);
    assert_int_equal(rc, want);
    if (rc) {
        /* nothing to read in an unparsed body, and reading is safe */
        assert_int_equal(body.left, 0);
        assert_int_equal(wfx_try_meta(body.p, body.left), VL_EPROTO);
    }
}

/*  The frames after a good header, for test_wire_parse_malformed: a
    missing body frame, a body over the maximum, more than one payload
    frame. */
static void s_parse_bad_frames(void)
{
    zmsg_t *msg;
    vl_hdr_t h;
    vl_rbuf_t body;

    /* missing body frame */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_PING, 1, 0, 0);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);

    /* body of exactly VL_WIRE_MAX_BODY is fine, one byte more is not */
    uint8_t *big = calloc(1, VL_WIRE_MAX_BODY + 1);
    assert_non_null(big);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_REPORT, 1, 0, 0);
    zmsg_addmem(msg, big, VL_WIRE_MAX_BODY);
    assert_int_equal(vl_wire_parse(msg, &h, &body), 0);
    assert_int_equal(body.left, VL_WIRE_MAX_BODY);
    zmsg_destroy(&msg);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_REPORT, 1, 0, 0);
    zmsg_addmem(msg, big, VL_WIRE_MAX_BODY + 1);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);
    free(big);

    /* one payload frame is fine, a second one is not (version 1 sent one
       per entry) */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_APPEND, 1, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, 0);
    zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, VL_EPROTO);
    for (int i = 0; i < 100; i++)
        zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);
}

static void test_wire_parse_malformed(void **state)
{
    zmsg_t *msg;
    vl_hdr_t h;
    vl_rbuf_t body;
    uint8_t hdr[VL_WIRE_HDR_SIZE + 1] = {0};

    /* empty message */
    msg = zmsg_new();
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);

    /* header frame of the wrong size, with a body frame after it */
    static const size_t sizes[] = {0, 1, VL_WIRE_HDR_SIZE - 1, VL_WIRE_HDR_SIZE + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vl_put_le32(hdr, VL_WIRE_MAGIC);
        vl_put_le16(hdr + 4, VL_WIRE_VERSION);
        vl_put_le16(hdr + 6, VL_MSG_PING);
        msg = zmsg_new();
        zmsg_addmem(msg, hdr, sizes[i]);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        zmsg_destroy(&msg);
    }

    /* wrong magic (byte-swapped, zero, one bit off) */
    static const uint32_t magics[] = {0x564c4f47u, 0, VL_WIRE_MAGIC ^ 1};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        msg = s_raw_msg(magics[i], VL_WIRE_VERSION, VL_MSG_PING, 1, 2, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        zmsg_destroy(&msg);
    }

    /* wrong version: VL_EVERSION, with the header filled for the reply */
    static const uint16_t versions[] = {0, VL_WIRE_VERSION + 1, 0xffff};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        msg = s_raw_msg(VL_WIRE_MAGIC, versions[i], VL_MSG_APPEND, 0x123456789ull, 77, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EVERSION);
        assert_int_equal(vl_wire_parse(msg, &h, &body), VL_EVERSION);
        assert_int_equal(h.type, VL_MSG_APPEND);
        assert_true(h.request_id == 0x123456789ull);
        assert_int_equal(h.cluster_id, 77);
        zmsg_t *rep =
            vl_wire_reply(&h, VL_EVERSION, "protocol version %u not supported", versions[i]);
        assert_int_equal(vl_wire_parse(rep, &h, &body), 0);
        assert_int_equal(h.status, VL_EVERSION);
        assert_true(h.request_id == 0x123456789ull);
        zmsg_destroy(&rep);
        zmsg_destroy(&msg);
    }

    /* types: 0 and >= VL_MSG_TYPE_MAX, with or without the reply bit */
    static const uint16_t types[] = {
        0,      VL_MSG_REPLY, VL_MSG_TYPE_MAX, VL_MSG_TYPE_MAX | VL_MSG_REPLY, VL_MSG_TYPE_MAX + 1,
        0x7fff, 0xffff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, types[i], 9, 0, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        assert_int_equal(vl_wire_parse(msg, &h, &body), VL_EPROTO);
        assert_true(h.request_id == 9); /* still answerable */
        zmsg_destroy(&msg);
    }
    /* the edges that are valid */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_TYPE_MAX - 1, 9, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    s_expect_parse(msg, 0);
    zmsg_destroy(&msg);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, 1 | VL_MSG_REPLY, 9, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    s_expect_parse(msg, 0);
    zmsg_destroy(&msg);

    s_parse_bad_frames();
}

/* ---- topic names -------------------------------------------------------- */

static void test_topic_name_valid(void **state)
{
    static const char *good[] = {"orders",    "a",
                                 "A",         "0",
                                 "_",         "-",
                                 "a.b",       "a..b",
                                 "x-y_z.0",   "-leading-dash",
                                 "trailing.", "ABCxyz0123456789"};
    static const char *bad[] = {"",    ".",           ".hidden", "..",   "a/b",  "/a",
                                "a b", " a",          "a ",      "a\tb", "a\nb", "a:b",
                                "a*",  "caf\xc3\xa9", "\x80",    "\xff", "a\\b", "a@b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!vl_topic_name_valid(good[i]))
            fail_msg("'%s' should be a valid topic name", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vl_topic_name_valid(bad[i]))
            fail_msg("'%s' should not be a valid topic name", bad[i]);

    char *n255 = wfx_repeat('t', 255), *n256 = wfx_repeat('t', 256);
    assert_true(vl_topic_name_valid(n255));
    assert_false(vl_topic_name_valid(n256));
    n255[0] = '.';
    assert_false(vl_topic_name_valid(n255));
    n255[0] = 't';
    n255[254] = '/';
    assert_false(vl_topic_name_valid(n255));
    free(n255);
    free(n256);

    /* every byte value: exactly the documented set is accepted */
    for (int c = 1; c < 256; c++) {
        char name[3] = {'x', (char)c, '\0'};
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
        assert_int_equal(vl_topic_name_valid(name), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wbuf_rbuf),
        cmocka_unit_test(test_wire_msg_parse),
        cmocka_unit_test(test_wire_reply),
        cmocka_unit_test(test_wire_type_name),
        cmocka_unit_test(test_wire_parse_malformed),
        cmocka_unit_test(test_topic_name_valid),
    };
    return cmocka_run_group_tests_name("wire_frame", tests, NULL, NULL);
}
