/*  test_kcodec.c - the Kafka wire primitives of varlogkov (kov/codec.c).

    Every type round-trips through the writer and the reader, in both the
    classic and the compact (flexible) forms, against byte sequences
    written out by hand from the Kafka protocol guide. Hostile input: every
    truncation of a valid request fails cleanly (sticky error, zero values,
    nothing read past the end), negative and huge lengths and counts are
    refused before the caller allocates, varints that overflow their type
    are refused, and random bytes never read past the buffer (ASan checks
    the last one in the sanitizer build).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "codec.h"

static void test_ints_roundtrip(void **state)
{
    (void)state;
    vl_kw_t w;
    vl_kw_init(&w);
    vl_kw_i8(&w, -5);
    vl_kw_i16(&w, -12345);
    vl_kw_i32(&w, INT32_MIN);
    vl_kw_i64(&w, INT64_MAX);
    vl_kw_bool(&w, true);
    static const uint8_t want[] = {0xfb, 0xcf, 0xc7, 0x80, 0,    0,    0,    0x7f,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);
    vl_kr_t r;
    vl_kr_init(&r, w.buf, w.len);
    assert_int_equal(vl_kr_i8(&r), -5);
    assert_int_equal(vl_kr_i16(&r), -12345);
    assert_int_equal(vl_kr_i32(&r), INT32_MIN);
    assert_true(vl_kr_i64(&r) == INT64_MAX);
    assert_true(vl_kr_bool(&r));
    assert_true(vl_kr_ok(&r));
    assert_int_equal(vl_kr_left(&r), 0);
    /* one more read fails and stays failed */
    assert_int_equal(vl_kr_i8(&r), 0);
    assert_false(vl_kr_ok(&r));
    assert_non_null(r.what);
    vl_kw_free(&w);
}

static void test_varints(void **state)
{
    (void)state;
    /* zigzag: 0->0, -1->1, 1->2, -2->3, 63->126, -64->127, 64->128 (2 bytes) */
    static const struct {
        int64_t v;
        uint8_t bytes[10];
        size_t n;
    } cases[] = {
        {0, {0}, 1},
        {-1, {1}, 1},
        {1, {2}, 1},
        {-2, {3}, 1},
        {63, {126}, 1},
        {-64, {127}, 1},
        {64, {0x80, 1}, 2},
        {300, {0xd8, 4}, 2},
        {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
        {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vl_kw_t w;
        vl_kw_init(&w);
        vl_kw_varint(&w, (int32_t)cases[i].v);
        assert_int_equal(w.len, cases[i].n);
        assert_memory_equal(w.buf, cases[i].bytes, cases[i].n);
        vl_kr_t r;
        vl_kr_init(&r, w.buf, w.len);
        assert_int_equal(vl_kr_varint(&r), (int32_t)cases[i].v);
        assert_true(vl_kr_ok(&r));
        vl_kw_free(&w);
    }
    int64_t longs[] = {0, -1, INT64_MAX, INT64_MIN, 1LL << 40, -(1LL << 50)};
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        vl_kw_t w;
        vl_kw_init(&w);
        vl_kw_varlong(&w, longs[i]);
        vl_kr_t r;
        vl_kr_init(&r, w.buf, w.len);
        assert_true(vl_kr_varlong(&r) == longs[i]);
        assert_true(vl_kr_ok(&r));
        vl_kw_free(&w);
    }
    vl_kw_t w;
    vl_kw_init(&w);
    vl_kw_uvarint(&w, UINT32_MAX);
    vl_kr_t r;
    vl_kr_init(&r, w.buf, w.len);
    assert_true(vl_kr_uvarint(&r) == UINT32_MAX);
    vl_kw_free(&w);

    /* too long: six continuation bytes for a u32 */
    static const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    vl_kr_init(&r, too_long, sizeof too_long);
    assert_int_equal(vl_kr_uvarint(&r), 0);
    assert_false(vl_kr_ok(&r));
    /* five bytes whose last one has more than 4 bits: beyond 32 bits */
    static const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    vl_kr_init(&r, too_big, sizeof too_big);
    (void)vl_kr_uvarint(&r);
    assert_false(vl_kr_ok(&r));
    /* a varlong of 11 bytes */
    static const uint8_t long11[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1};
    vl_kr_init(&r, long11, sizeof long11);
    (void)vl_kr_varlong(&r);
    assert_false(vl_kr_ok(&r));
    /* truncated in the middle */
    vl_kr_init(&r, too_long, 3);
    (void)vl_kr_varint(&r);
    assert_false(vl_kr_ok(&r));
}

static void test_strings_bytes(void **state)
{
    (void)state;
    vl_kw_t w;
    vl_kw_init(&w);
    vl_kw_str(&w, false, "abc");
    vl_kw_str(&w, false, NULL);
    vl_kw_str(&w, true, "xy");
    vl_kw_str(&w, true, NULL);
    vl_kw_str(&w, true, "");
    vl_kw_bytes(&w, false, "\0\1", 2);
    vl_kw_bytes(&w, false, NULL, -1);
    vl_kw_bytes(&w, true, "\xff", 1);
    vl_kw_bytes(&w, true, NULL, -1);
    static const uint8_t want[] = {0, 3, 'a', 'b', 'c', 0xff, 0xff, 3,    'x',  'y', 0,    1, 0,
                                   0, 0, 2,   0,   1,   0xff, 0xff, 0xff, 0xff, 2,   0xff, 0};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);
    vl_kr_t r;
    vl_kr_init(&r, w.buf, w.len);
    vl_kstr_t s = vl_kr_str(&r, false);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "abc", 3);
    assert_int_equal(vl_kr_str(&r, false).len, -1);
    s = vl_kr_str(&r, true);
    assert_int_equal(s.len, 2);
    assert_memory_equal(s.ptr, "xy", 2);
    assert_int_equal(vl_kr_str(&r, true).len, -1);
    assert_int_equal(vl_kr_str(&r, true).len, 0);
    s = vl_kr_bytes(&r, false);
    assert_int_equal(s.len, 2);
    assert_int_equal(vl_kr_bytes(&r, false).len, -1);
    s = vl_kr_bytes(&r, true);
    assert_int_equal(s.len, 1);
    assert_int_equal(s.ptr[0], 0xff);
    assert_int_equal(vl_kr_bytes(&r, true).len, -1);
    assert_true(vl_kr_ok(&r));
    assert_int_equal(vl_kr_left(&r), 0);
    vl_kw_free(&w);

    /* strdup: copies with a NUL; refuses null and embedded NUL */
    static const uint8_t named[] = {0, 2, 'h', 'i'};
    vl_kr_init(&r, named, sizeof named);
    char *dup = vl_kr_strdup(&r, false);
    assert_string_equal(dup, "hi");
    free(dup);
    static const uint8_t nul[] = {0, 2, 'h', 0};
    vl_kr_init(&r, nul, sizeof nul);
    assert_null(vl_kr_strdup(&r, false));
    assert_false(vl_kr_ok(&r));
    static const uint8_t null_str[] = {0xff, 0xff};
    vl_kr_init(&r, null_str, sizeof null_str);
    assert_null(vl_kr_strdup(&r, false));
    assert_false(vl_kr_ok(&r));
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    vl_kr_t r;
    /* string length beyond the buffer */
    static const uint8_t s_long[] = {0x7f, 0xff, 'a'};
    vl_kr_init(&r, s_long, sizeof s_long);
    vl_kstr_t s = vl_kr_str(&r, false);
    assert_false(vl_kr_ok(&r));
    assert_int_equal(s.len, -1);
    assert_null(s.ptr);
    /* negative lengths other than -1 */
    static const uint8_t s_neg[] = {0xff, 0xfe};
    vl_kr_init(&r, s_neg, sizeof s_neg);
    (void)vl_kr_str(&r, false);
    assert_false(vl_kr_ok(&r));
    static const uint8_t b_neg[] = {0x80, 0, 0, 0};
    vl_kr_init(&r, b_neg, sizeof b_neg);
    (void)vl_kr_bytes(&r, false);
    assert_false(vl_kr_ok(&r));
    /* 2 GB bytes field */
    static const uint8_t b_huge[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3};
    vl_kr_init(&r, b_huge, sizeof b_huge);
    (void)vl_kr_bytes(&r, false);
    assert_false(vl_kr_ok(&r));
    /* compact bytes of UINT32_MAX-1 */
    static const uint8_t cb_huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 1};
    vl_kr_init(&r, cb_huge, sizeof cb_huge);
    (void)vl_kr_bytes(&r, true);
    assert_false(vl_kr_ok(&r));
    /* arrays: count bounded by bytes left / element size */
    static const uint8_t a_huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    vl_kr_init(&r, a_huge, sizeof a_huge);
    assert_int_equal(vl_kr_array(&r, false, 4), 0);
    assert_false(vl_kr_ok(&r));
    static const uint8_t a_ok[] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
    vl_kr_init(&r, a_ok, sizeof a_ok);
    assert_int_equal(vl_kr_array(&r, false, 4), 2);
    assert_true(vl_kr_ok(&r));
    vl_kr_init(&r, a_ok, sizeof a_ok);
    assert_int_equal(vl_kr_array(&r, false, 5), 0); /* 2 * 5 > 8 bytes left */
    assert_false(vl_kr_ok(&r));
    static const uint8_t a_null[] = {0xff, 0xff, 0xff, 0xff};
    vl_kr_init(&r, a_null, sizeof a_null);
    assert_int_equal(vl_kr_array(&r, false, 4), -1);
    assert_true(vl_kr_ok(&r));
    static const uint8_t a_neg[] = {0xff, 0xff, 0xff, 0xfe};
    vl_kr_init(&r, a_neg, sizeof a_neg);
    (void)vl_kr_array(&r, false, 4);
    assert_false(vl_kr_ok(&r));
    static const uint8_t ca[] = {0x03, 1, 2}; /* compact: 2 elements */
    vl_kr_init(&r, ca, sizeof ca);
    assert_int_equal(vl_kr_array(&r, true, 1), 2);
    static const uint8_t ca_null[] = {0};
    vl_kr_init(&r, ca_null, sizeof ca_null);
    assert_int_equal(vl_kr_array(&r, true, 1), -1);
    assert_true(vl_kr_ok(&r));
    static const uint8_t ca_huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    vl_kr_init(&r, ca_huge, sizeof ca_huge);
    (void)vl_kr_array(&r, true, 1);
    assert_false(vl_kr_ok(&r));
}

static void test_tags(void **state)
{
    (void)state;
    /* two tagged fields (tag 0: 3 bytes, tag 7: 0 bytes), then an int16 */
    static const uint8_t t[] = {2, 0, 3, 'a', 'b', 'c', 7, 0, 0x12, 0x34};
    vl_kr_t r;
    vl_kr_init(&r, t, sizeof t);
    vl_kr_tags(&r);
    assert_int_equal(vl_kr_i16(&r), 0x1234);
    assert_true(vl_kr_ok(&r));
    /* a tagged field longer than what is left */
    static const uint8_t bad[] = {1, 0, 9, 'a'};
    vl_kr_init(&r, bad, sizeof bad);
    vl_kr_tags(&r);
    assert_false(vl_kr_ok(&r));
    /* a huge tag count with nothing behind it ends at the first truncation */
    static const uint8_t many[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    vl_kr_init(&r, many, sizeof many);
    vl_kr_tags(&r);
    assert_false(vl_kr_ok(&r));
    vl_kw_t w;
    vl_kw_init(&w);
    vl_kw_tags(&w);
    assert_int_equal(w.len, 1);
    assert_int_equal(w.buf[0], 0);
    vl_kw_free(&w);
}

/*  A Metadata v1 request as librdkafka sends it: header v1, topics ["t"]. */
static const uint8_t s_req[] = {0,   3,   0,   1,   0, 0, 0, 42, 0, 6, 'r', 'd',
                                'k', 'a', 'f', 'k', 0, 0, 0, 1,  0, 1, 't'};

static void test_request_header(void **state)
{
    (void)state;
    vl_kr_t r;
    vl_kreq_hdr_t h;
    vl_kr_init(&r, s_req, sizeof s_req);
    assert_true(vl_kr_req_hdr(&r, &h));
    assert_int_equal(h.api_key, 3);
    assert_int_equal(h.api_version, 1);
    assert_int_equal(h.correlation_id, 42);
    assert_int_equal(h.client_id.len, 6);
    assert_memory_equal(h.client_id.ptr, "rdkafk", 6);
    assert_int_equal(vl_kr_array(&r, false, 2), 1);
    vl_kstr_t t = vl_kr_str(&r, false);
    assert_int_equal(t.len, 1);
    assert_true(vl_kr_ok(&r));

    /* every truncation fails, with zero values, and never reads past n */
    for (size_t n = 0; n < sizeof s_req; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, s_req, n);
        vl_kr_init(&r, copy, n);
        bool ok = vl_kr_req_hdr(&r, &h);
        int32_t cnt = vl_kr_array(&r, false, 2);
        (void)vl_kr_str(&r, false);
        assert_false(ok && vl_kr_ok(&r) && cnt == 1);
        assert_false(vl_kr_ok(&r));
        assert_true(r.pos <= n);
        free(copy);
    }
}

static void test_response_frame(void **state)
{
    (void)state;
    vl_kw_t w;
    vl_kw_init(&w);
    vl_kw_resp_hdr(&w, 7, true);
    vl_kw_i16(&w, 0);
    vl_kw_frame_end(&w);
    static const uint8_t want[] = {0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0};
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.buf, want, sizeof want);
    vl_kw_free(&w);
    vl_kw_init(&w);
    vl_kw_resp_hdr(&w, -1, false);
    vl_kw_frame_end(&w);
    assert_int_equal(w.len, 8);
    assert_int_equal(w.buf[3], 4);
    /* the buffer grows past its first allocation */
    for (int i = 0; i < 10000; i++)
        vl_kw_i32(&w, i);
    assert_int_equal(w.len, 8 + 40000);
    assert_int_equal(w.buf[w.len - 1], (uint8_t)9999);
    vl_kw_free(&w);
    assert_null(w.buf);
}

/*  Random bytes through a parse of every kind: never past the end. */
static void test_random_bytes(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % 64);
        uint8_t *buf = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rand();
        vl_kr_t r;
        vl_kr_init(&r, buf, n);
        vl_kreq_hdr_t h;
        (void)vl_kr_req_hdr(&r, &h);
        for (int k = 0; k < 8 && vl_kr_ok(&r); k++) {
            switch (rand() % 6) {
            case 0:
                (void)vl_kr_str(&r, rand() & 1);
                break;
            case 1:
                (void)vl_kr_bytes(&r, rand() & 1);
                break;
            case 2: {
                int32_t c = vl_kr_array(&r, rand() & 1, 4);
                assert_true(c <= 0 || (size_t)c * 4 <= n);
                break;
            }
            case 3:
                vl_kr_tags(&r);
                break;
            case 4:
                (void)vl_kr_varlong(&r);
                break;
            default:
                (void)vl_kr_i64(&r);
            }
        }
        assert_true(r.pos <= n);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ints_roundtrip), cmocka_unit_test(test_varints),
        cmocka_unit_test(test_strings_bytes),  cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_tags),           cmocka_unit_test(test_request_header),
        cmocka_unit_test(test_response_frame), cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
