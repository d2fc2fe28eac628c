/*  test_kbatch.c - unit tests of Kafka RecordBatch v2 parsing and building
    and of Kov's stored form of a record (kov/batch.c, kov/compress.c).

    Batches are made here by an encoder of the test's own (not
    vl_kbatch_build), compressed with the codecs' own libraries the way
    clients do (gzip, raw snappy and xerial framing made by hand, lz4
    frame, zstd), plus batches made by real clients as an outside
    reference: kafka-python 2.0.2 (none, gzip, xerial snappy, lz4, zstd)
    and kcat 1.7.1 on librdkafka 2.0.2 (none, gzip, raw snappy, lz4, zstd). Bad input - a wrong CRC or magic, every truncation,
    huge counts and lengths, decompression bombs, a few thousand mutated
    batches - must give an error code and a message, never a crash or an
    unbounded allocation (the ASan build checks the memory side).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include "kov/batch.h"
#include "kov/compress.h"
#include "crc32c.h"
#include "util.h"

#define MIB (1024 * 1024)

/* ---- an encoder of the test's own ----------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} tbuf_t;

static uint8_t *tb_grow(tbuf_t *b, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

static void tb_put(tbuf_t *b, const void *data, size_t n)
{
    if (n)
        memcpy(tb_grow(b, n), data, n);
}

static void tb_uvarint(tbuf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        *tb_grow(b, 1) = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *tb_grow(b, 1) = (uint8_t)v;
}

static void tb_varint(tbuf_t *b, int64_t v)
{
    tb_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void tb_be(tbuf_t *b, uint64_t v, int bytes)
{
    uint8_t *p = tb_grow(b, (size_t)bytes);
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void tb_kbytes(tbuf_t *b, vl_kbytes_t v)
{
    tb_varint(b, v.len);
    if (v.len > 0)
        tb_put(b, v.ptr, (size_t)v.len);
}

/*  A byte string: NULL is null, else len bytes (len < 0: strlen). */
static vl_kbytes_t kb(const char *s, int len)
{
    vl_kbytes_t v = {-1, NULL};
    if (s) {
        v.len = len < 0 ? (int32_t)strlen(s) : len;
        v.ptr = (const uint8_t *)s;
    }
    return v;
}

static vl_krecord_t krec(int64_t ts, vl_kbytes_t key, vl_kbytes_t value, vl_kheader_t *h,
                         uint32_t nh)
{
    vl_krecord_t r = {ts, 0, key, value, nh, h};
    return r;
}

/*  The Kafka records of recs[0..n) (offset deltas 0..n-1). */
static void tb_records(tbuf_t *b, const vl_krecord_t *recs, size_t n, int64_t first_ts)
{
    for (size_t i = 0; i < n; i++) {
        tbuf_t r = {0};
        *tb_grow(&r, 1) = 0;
        tb_varint(&r, recs[i].timestamp - first_ts);
        tb_varint(&r, (int64_t)i);
        tb_kbytes(&r, recs[i].key);
        tb_kbytes(&r, recs[i].value);
        tb_varint(&r, recs[i].nheaders);
        for (uint32_t k = 0; k < recs[i].nheaders; k++) {
            tb_kbytes(&r, recs[i].headers[k].key);
            tb_kbytes(&r, recs[i].headers[k].value);
        }
        tb_varint(b, (int64_t)r.len);
        tb_put(b, r.p, r.len);
        free(r.p);
    }
}

static void s_gzip(const uint8_t *in, size_t len, tbuf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t bound = deflateBound(&z, (uLong)len);
    uint8_t *p = tb_grow(out, bound);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = p;
    z.avail_out = (uInt)bound;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len -= z.avail_out;
    deflateEnd(&z);
}

static void s_snappy_raw(const uint8_t *in, size_t len, tbuf_t *out)
{
    size_t n = snappy_max_compressed_length(len);
    char *p = (char *)tb_grow(out, n);
    assert_int_equal(snappy_compress((const char *)in, len, p, &n), SNAPPY_OK);
    out->len -= snappy_max_compressed_length(len) - n;
}

/*  The xerial framing snappy-java writes, in blocks of block bytes. */
static void s_snappy_xerial(const uint8_t *in, size_t len, size_t block, tbuf_t *out)
{
    static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    tb_put(out, magic, 8);
    tb_be(out, 1, 4);
    tb_be(out, 1, 4);
    for (size_t at = 0; at < len; at += block) {
        size_t n = len - at < block ? len - at : block;
        size_t lenpos = out->len;
        tb_be(out, 0, 4);
        size_t before = out->len;
        s_snappy_raw(in + at, n, out);
        uint32_t blen = (uint32_t)(out->len - before);
        out->p[lenpos] = (uint8_t)(blen >> 24);
        out->p[lenpos + 1] = (uint8_t)(blen >> 16);
        out->p[lenpos + 2] = (uint8_t)(blen >> 8);
        out->p[lenpos + 3] = (uint8_t)blen;
    }
}

static void s_lz4(const uint8_t *in, size_t len, tbuf_t *out)
{
    size_t bound = LZ4F_compressFrameBound(len, NULL);
    uint8_t *p = tb_grow(out, bound);
    size_t n = LZ4F_compressFrame(p, bound, in, len, NULL);
    assert_false(LZ4F_isError(n));
    out->len -= bound - n;
}

static void s_zstd(const uint8_t *in, size_t len, tbuf_t *out)
{
    size_t bound = ZSTD_compressBound(len);
    uint8_t *p = tb_grow(out, bound);
    size_t n = ZSTD_compress(p, bound, in, len, 3);
    assert_false(ZSTD_isError(n));
    out->len -= bound - n;
}

/*  codec 2 is raw snappy; XERIAL (a codec number of the test's) is
    snappy in xerial framing, 100-byte blocks so there are several. */
#define XERIAL 102

static void s_compress(int codec, const uint8_t *in, size_t len, tbuf_t *out)
{
    switch (codec) {
    case VL_KCODEC_NONE:
        tb_put(out, in, len);
        break;
    case VL_KCODEC_GZIP:
        s_gzip(in, len, out);
        break;
    case VL_KCODEC_SNAPPY:
        s_snappy_raw(in, len, out);
        break;
    case XERIAL:
        s_snappy_xerial(in, len, 100, out);
        break;
    case VL_KCODEC_LZ4:
        s_lz4(in, len, out);
        break;
    case VL_KCODEC_ZSTD:
        s_zstd(in, len, out);
        break;
    default:
        fail();
    }
}

/*  Sets batch length and CRC of the batch at b->p + at from its bytes. */
static void tb_seal(tbuf_t *b, size_t at)
{
    uint8_t *h = b->p + at;
    uint32_t blen = (uint32_t)(b->len - at - 12);
    uint8_t tmp[4] = {(uint8_t)(blen >> 24), (uint8_t)(blen >> 16), (uint8_t)(blen >> 8),
                      (uint8_t)blen};
    memcpy(h + 8, tmp, 4);
    uint32_t crc = vl_crc32c(0, h + 21, b->len - at - 21);
    uint8_t c[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8),
                    (uint8_t)crc};
    memcpy(h + 17, c, 4);
}

/*  A whole batch of recs[0..n) appended to b: codec as s_compress takes,
    extra attribute bits, the count field as given (count < 0: n). */
static void tb_batch_x(tbuf_t *b, int codec, int extra_attrs, int64_t count,
                       const vl_krecord_t *recs, size_t n)
{
    int64_t first = n ? recs[0].timestamp : 0, max = first;
    for (size_t i = 1; i < n; i++)
        if (recs[i].timestamp > max)
            max = recs[i].timestamp;
    size_t at = b->len;
    tb_be(b, 1000, 8);         /* base offset: a producer's is 0; anything goes */
    tb_be(b, 0, 4);            /* length, set by tb_seal */
    tb_be(b, 7, 4);            /* partition leader epoch */
    tb_be(b, 2, 1);            /* magic */
    tb_be(b, 0, 4);            /* CRC, set by tb_seal */
    int attrs = (codec == XERIAL ? VL_KCODEC_SNAPPY : codec) | extra_attrs;
    tb_be(b, (uint64_t)attrs, 2);
    if (count < 0)
        count = (int64_t)n;
    tb_be(b, (uint64_t)(count - 1), 4);
    tb_be(b, (uint64_t)first, 8);
    tb_be(b, (uint64_t)max, 8);
    tb_be(b, 4242, 8);         /* producer id */
    tb_be(b, 3, 2);            /* producer epoch */
    tb_be(b, 17, 4);           /* base sequence */
    tb_be(b, (uint64_t)count, 4);
    tbuf_t raw = {0};
    tb_records(&raw, recs, n, first);
    s_compress(codec, raw.p, raw.len, b);
    free(raw.p);
    tb_seal(b, at);
}

static void tb_batch(tbuf_t *b, int codec, const vl_krecord_t *recs, size_t n)
{
    tb_batch_x(b, codec, 0, -1, recs, n);
}

/*  With VL_KBATCH_CORPUS=DIR, each valid record set the cases make is
    also written to DIR as a seed for the fuzzer (tests/fuzz/run.sh): two
    selector bytes (0: parse, as it is), then the record set. */
static void s_corpus_add(const tbuf_t *b)
{
    static int seq;
    const char *dir = getenv("VL_KBATCH_CORPUS");
    if (!dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%d", dir, seq++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("\0\0", 1, 2, f), 2);
    assert_int_equal(fwrite(b->p, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
}

/* ---- comparing records ---------------------------------------------- */

/*  The header's rule for a record stored as its value bytes alone. */
static bool s_is_plain(const vl_krecord_t *r)
{
    return r->key.len < 0 && r->nheaders == 0 && r->value.len >= 0 &&
           !(r->value.len >= VL_KREC_MAGIC_LEN &&
             memcmp(r->value.ptr, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN) == 0);
}

static void s_bytes_equal(vl_kbytes_t want, vl_kbytes_t got)
{
    assert_int_equal(got.len, want.len);
    if (want.len > 0)
        assert_memory_equal(got.ptr, want.ptr, (size_t)want.len);
}

static void s_rec_equal(const vl_krecord_t *want, const vl_krecord_t *got)
{
    assert_int_equal(got->timestamp, want->timestamp);
    s_bytes_equal(want->key, got->key);
    s_bytes_equal(want->value, got->value);
    assert_int_equal(got->nheaders, want->nheaders);
    for (uint32_t i = 0; i < want->nheaders; i++) {
        s_bytes_equal(want->headers[i].key, got->headers[i].key);
        s_bytes_equal(want->headers[i].value, got->headers[i].value);
    }
}

static int s_parse(const tbuf_t *b, size_t max_bytes, vl_kbatch_t **v, size_t *n, char *err)
{
    return vl_kbatch_parse(b->p, b->len, max_bytes, v, n, err, 256);
}

static void s_free_batches(vl_kbatch_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vl_kbatch_free(&v[i]);
    free(v);
}

/*  A sample of records covering what the format can say: null and empty
    keys and values, headers with null values, values that begin with the
    stored form's magic, timestamps out of order and at the extremes. */
static vl_kheader_t s_h2[2], s_h1[1];
static vl_krecord_t s_sample[11];
static const size_t s_nsample = 11;
static char s_long[300];

static void s_sample_init(void)
{
    s_h2[0] = (vl_kheader_t){kb("trace", -1), kb("abc\0def", 7)};
    s_h2[1] = (vl_kheader_t){kb("", -1), kb(NULL, 0)};
    s_h1[0] = (vl_kheader_t){kb("h", -1), kb("", -1)};
    s_sample[0] = krec(1700000000000, kb(NULL, 0), kb("hello world\n", -1), NULL, 0);
    s_sample[1] = krec(1700000000005, kb("key", -1), kb("v", -1), NULL, 0);
    s_sample[2] = krec(1699999999990, kb("", -1), kb("", -1), NULL, 0);
    s_sample[3] = krec(1700000000001, kb(NULL, 0), kb(NULL, 0), NULL, 0);
    s_sample[4] = krec(1700000000002, kb(NULL, 0), kb("", -1), NULL, 0);
    s_sample[5] = krec(1700000000003, kb(NULL, 0), kb(VL_KREC_MAGIC "after", 9), NULL, 0);
    s_sample[6] = krec(1700000000004, kb(NULL, 0), kb(VL_KREC_MAGIC, 4), NULL, 0);
    s_sample[7] = krec(-1, kb("k", -1), kb(NULL, 0), s_h2, 2);
    s_sample[8] = krec(1700000000009, kb(NULL, 0), kb("x", -1), s_h1, 1);
    s_sample[9] = krec(INT64_MAX, kb(NULL, 0), kb("\0kv", 3), NULL, 0);
    for (size_t i = 0; i < sizeof s_long; i++)
        s_long[i] = (char)('a' + i % 26);
    /* lengths past one varint byte: the record (90 bytes, zigzag 180) and the key */
    s_sample[10] = krec(1700000000010, kb(s_long, 70), kb(s_long, 10), s_h1, 1);
}

/*  Batches kafka-python 2.0.2 built (DefaultRecordBatchBuilder), one per
    codec; its snappy is the xerial framing. */
/* kafka-python 2.0.2 DefaultRecordBatchBuilder, codec 0 (plain), 164 bytes */
static const char s_golden_plain[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x98\x00\x00\x00\x00\x02\xa1\xb6\x03\xdf\x00\x00\x00"
    "\x00\x00\x03\x00\x00\x01\x8b\xcf\xe5\x68\x00\x00\x00\x01\x8b\xcf\xe5\x68\x05\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x04\x6c\x00\x00\x00\x01\x60\x68\x65\x6c\x6c\x6f"
    "\x20\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f"
    "\x20\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f\x20\x00\x24\x00\x0a\x02"
    "\x04\x6b\x31\x01\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x01\x0c\x00\x13\x04\x00\x00\x00\x2a\x00"
    "\x02\x06\x01\x1e\x00\x6b\x76\x01\x68\x65\x6c\x6c\x6f\x20\x68\x65\x6c\x6c\x6f\x00"
    ;
/* kafka-python 2.0.2 DefaultRecordBatchBuilder, codec 1 (gzip), 134 bytes */
static const char s_golden_gzip[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7a\x00\x00\x00\x00\x02\xb3\x15\x27\x3b\x00\x01\x00"
    "\x00\x00\x03\x00\x00\x01\x8b\xcf\xe5\x68\x00\x00\x00\x01\x8b\xcf\xe5\x68\x05\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x04\x1f\x8b\x08\x00\xe5\x5a\x16\x6b\x02\xff\xcb"
    "\x61\x60\x60\x60\x4c\xc8\x48\xcd\xc9\xc9\x57\x20\x9e\x64\x50\x61\xe0\x62\x62\xc9\x36\x64\x64\x61"
    "\xc9\x30\x64\x29\x33\x64\xc9\x30\x62\xe4\x61\x10\x66\x01\x1a\xa6\xc5\xc0\xc4\xc6\x28\xc7\x90\x5d"
    "\xc6\x88\xa4\x81\x01\x00\x44\x59\xa9\x2a\x67\x00\x00\x00"
    ;
/* kafka-python 2.0.2 DefaultRecordBatchBuilder, codec 2 (snappy), 148 bytes */
static const char s_golden_snappy[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x88\x00\x00\x00\x00\x02\x9e\x54\xac\x5b\x00\x02\x00"
    "\x00\x00\x03\x00\x00\x01\x8b\xcf\xe5\x68\x00\x00\x00\x01\x8b\xcf\xe5\x68\x05\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x04\x82\x53\x4e\x41\x50\x50\x59\x00\x00\x00\x00"
    "\x01\x00\x00\x00\x01\x00\x00\x00\x43\x67\x2c\x6c\x00\x00\x00\x01\x60\x68\x65\x6c\x6c\x6f\x20\xa6"
    "\x06\x00\xc0\x00\x24\x00\x0a\x02\x04\x6b\x31\x01\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x01\x0c"
    "\x00\x13\x04\x00\x00\x00\x2a\x00\x02\x06\x01\x1e\x00\x6b\x76\x01\x68\x65\x6c\x6c\x6f\x20\x68\x65"
    "\x6c\x6c\x6f\x00"
    ;
/* kafka-python 2.0.2 DefaultRecordBatchBuilder, codec 3 (lz4), 147 bytes */
static const char s_golden_lz4[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x87\x00\x00\x00\x00\x02\x7a\xf7\x4e\xa3\x00\x03\x00"
    "\x00\x00\x03\x00\x00\x01\x8b\xcf\xe5\x68\x00\x00\x00\x01\x8b\xcf\xe5\x68\x05\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x04\x04\x22\x4d\x18\x68\x40\x67\x00\x00\x00\x00"
    "\x00\x00\x00\x42\x3f\x00\x00\x00\xcf\x6c\x00\x00\x00\x01\x60\x68\x65\x6c\x6c\x6f\x20\x06\x00\x17"
    "\xf3\x16\x00\x24\x00\x0a\x02\x04\x6b\x31\x01\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x01\x0c\x00"
    "\x13\x04\x00\x00\x00\x2a\x00\x02\x06\x01\x1e\x00\x6b\x76\x01\x4f\x00\x50\x65\x6c\x6c\x6f\x00\x00"
    "\x00\x00\x00"
    ;
/* kafka-python 2.0.2 DefaultRecordBatchBuilder, codec 4 (zstd), 130 bytes */
static const char s_golden_zstd[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x76\x00\x00\x00\x00\x02\x95\x4b\xe9\xf1\x00\x04\x00"
    "\x00\x00\x03\x00\x00\x01\x8b\xcf\xe5\x68\x00\x00\x00\x01\x8b\xcf\xe5\x68\x05\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x04\x28\xb5\x2f\xfd\x20\x67\xe5\x01\x00\x24\x03"
    "\x6c\x00\x00\x00\x01\x60\x68\x65\x6c\x6c\x6f\x20\x00\x24\x00\x0a\x02\x04\x6b\x31\x01\x04\x04\x68"
    "\x31\x04\x76\x31\x04\x68\x32\x01\x0c\x00\x13\x04\x00\x00\x00\x2a\x00\x02\x06\x01\x1e\x00\x6b\x76"
    "\x01\x00\x02\x00\x95\x82\xf1\x06\x2a\x49"
    ;

/*  What kcat sent to librdkafka's mock cluster (captured with strace and
    tests/lib/kafka_capture.py), one batch per codec, for
        kcat -P -t cap -p 0 -K : -z CODEC -H h1=v1 -H h2= -l in.txt
    with in.txt the lines s_rdk_lines below. */
/* kcat 1.7.1 (librdkafka 2.0.2) Produce v7, none, 802 bytes, attributes 0x00 */
static const char s_rdk_none[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x16\x00\x00\x00\x00\x02\x6a\xce\xeb\xf3\x00\x00\x00"
    "\x00\x00\x09\x00\x00\x01\xa2\x4f\x51\xb8\xa3\x00\x00\x01\xa2\x4f\x51\xb8\xa3\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x0a\x5e\x00\x00\x00\x04\x6b\x31\x3a\x66\x69\x72"
    "\x73\x74\x20\x76\x61\x6c\x75\x65\x20\x76\x61\x6c\x75\x65\x20\x76\x61\x6c\x75\x65\x20\x76\x61\x6c"
    "\x75\x65\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x58\x00\x00\x02\x00\x38\x65\x6d\x70\x74\x79"
    "\x20\x6b\x65\x79\x2c\x20\x76\x61\x6c\x75\x65\x20\x76\x61\x6c\x75\x65\x20\x76\x61\x6c\x75\x65\x04"
    "\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x9e\x01\x00\x00\x04\x08\x6b\x65\x79\x31\x76\x6c\x69\x6e"
    "\x65\x20\x31\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77"
    "\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74"
    "\x65\x78\x74\x20\x74\x65\x78\x74\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x9e\x01\x00\x00\x06"
    "\x08\x6b\x65\x79\x32\x76\x6c\x69\x6e\x65\x20\x32\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63"
    "\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74"
    "\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x04\x04\x68\x31\x04\x76\x31"
    "\x04\x68\x32\x00\x9e\x01\x00\x00\x08\x08\x6b\x65\x79\x33\x76\x6c\x69\x6e\x65\x20\x33\x20\x6f\x66"
    "\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f"
    "\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x20\x74\x65"
    "\x78\x74\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x9e\x01\x00\x00\x0a\x08\x6b\x65\x79\x34\x76"
    "\x6c\x69\x6e\x65\x20\x34\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65"
    "\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78"
    "\x74\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x9e\x01"
    "\x00\x00\x0c\x08\x6b\x65\x79\x35\x76\x6c\x69\x6e\x65\x20\x35\x20\x6f\x66\x20\x61\x20\x6b\x63\x61"
    "\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70"
    "\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x04\x04\x68\x31"
    "\x04\x76\x31\x04\x68\x32\x00\x9e\x01\x00\x00\x0e\x08\x6b\x65\x79\x36\x76\x6c\x69\x6e\x65\x20\x36"
    "\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68"
    "\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74"
    "\x20\x74\x65\x78\x74\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x9e\x01\x00\x00\x10\x08\x6b\x65"
    "\x79\x37\x76\x6c\x69\x6e\x65\x20\x37\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74"
    "\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20"
    "\x74\x65\x78\x74\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32"
    "\x00\x9e\x01\x00\x00\x12\x08\x6b\x65\x79\x38\x76\x6c\x69\x6e\x65\x20\x38\x20\x6f\x66\x20\x61\x20"
    "\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20"
    "\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x04"
    "\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00"
    ;
/* kcat 1.7.1 (librdkafka 2.0.2) Produce v7, gzip, 249 bytes, attributes 0x01 */
static const char s_rdk_gzip[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xed\x00\x00\x00\x00\x02\x13\xb9\xff\x4b\x00\x01\x00"
    "\x00\x00\x09\x00\x00\x01\xa2\x4f\x51\xb8\xdb\x00\x00\x01\xa2\x4f\x51\xb8\xdb\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x0a\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xad"
    "\xcc\x4f\x0a\x82\x40\x14\x80\xf1\x57\x0c\x21\x11\x11\x9d\xe0\x1d\xc0\xcd\xf8\x9f\x4e\xd2\x2a\x18"
    "\xec\x89\x32\x9a\xa2\x4f\xcb\xcb\x74\xd6\x1c\x66\x11\x14\xb4\x69\x36\xdf\xea\xe3\x77\x01\x00\xa1"
    "\xe5\xa9\xa8\xfa\x81\x71\x52\xf5\x48\xdf\x15\xa2\x94\x62\x92\xa2\x0c\xe0\x0c\xb0\x86\x8c\x9a\x8e"
    "\x67\xd4\x34\xfb\x3f\xe7\xe7\x6a\xc1\xbd\x65\x93\x53\x5d\xdd\x08\x25\xb6\x05\x2a\xd4\xb9\x62\xcc"
    "\x55\xc7\x63\x4f\x3e\xde\x2b\x2e\x71\x68\x1b\xc2\x9e\x3a\x52\x4c\x57\x64\x7a\xf0\x3b\x1f\xe0\xc6"
    "\x80\x81\x05\x03\x17\xa0\x67\xc0\xd0\x82\xa1\x0b\x70\x6b\xc0\xc8\x82\x91\x0b\x70\x67\xc0\xd8\x82"
    "\xb1\x0b\x70\x6f\xc0\xc4\x82\x89\x0b\xf0\x60\xc0\xd4\x82\xa9\x0b\xf0\x68\xc0\xcc\x82\xd9\xbf\xe0"
    "\x0b\xde\x7b\xde\xf3\xe5\x02\x00\x00"
    ;
/* kcat 1.7.1 (librdkafka 2.0.2) Produce v7, snappy, 293 bytes, attributes 0x02 */
static const char s_rdk_snappy[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x19\x00\x00\x00\x00\x02\xee\xf4\xdb\x5c\x00\x02\x00"
    "\x00\x00\x09\x00\x00\x01\xa2\x4f\x51\xb9\x0e\x00\x00\x01\xa2\x4f\x51\xb9\x0e\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x0a\xe5\x05\x48\x5e\x00\x00\x00\x04\x6b\x31\x3a"
    "\x66\x69\x72\x73\x74\x20\x76\x61\x6c\x75\x65\x46\x06\x00\x68\x04\x04\x68\x31\x04\x76\x31\x04\x68"
    "\x32\x00\x58\x00\x00\x02\x00\x38\x65\x6d\x70\x74\x79\x20\x6b\x65\x79\x2c\x72\x2d\x00\xf0\x40\x9e"
    "\x01\x00\x00\x04\x08\x6b\x65\x79\x31\x76\x6c\x69\x6e\x65\x20\x31\x20\x6f\x66\x20\x61\x20\x6b\x63"
    "\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65"
    "\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x20\x74\x65\x78\x74\x05\x0a\x1d\x7e\x01\x51\x00\x06"
    "\x01\x51\x00\x32\x09\x51\x00\x32\xfe\x51\x00\x01\x51\x00\x08\x01\x51\x00\x33\x09\x51\x00\x33\xfe"
    "\x51\x00\x01\x51\x00\x0a\x01\x51\x00\x34\x09\x51\x00\x34\xfe\x51\x00\x01\x51\x00\x0c\x01\x51\x00"
    "\x35\x09\x51\x00\x35\xfe\x51\x00\x01\x51\x00\x0e\x01\x51\x00\x36\x09\x51\x00\x36\xfe\x51\x00\x01"
    "\x51\x00\x10\x01\x51\x00\x37\x09\x51\x00\x37\xfe\x51\x00\x01\x51\x00\x12\x01\x51\x00\x38\x09\x51"
    "\x00\x38\xfe\x51\x00"
    ;
/* kcat 1.7.1 (librdkafka 2.0.2) Produce v7, lz4, 298 bytes, attributes 0x03 */
static const char s_rdk_lz4[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1e\x00\x00\x00\x00\x02\x6e\xd2\x96\x9f\x00\x03\x00"
    "\x00\x00\x09\x00\x00\x01\xa2\x4f\x51\xb9\x49\x00\x00\x01\xa2\x4f\x51\xb9\x49\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x0a\x04\x22\x4d\x18\x60\x40\x82\xde\x00\x00\x00"
    "\xfe\x04\x5e\x00\x00\x00\x04\x6b\x31\x3a\x66\x69\x72\x73\x74\x20\x76\x61\x6c\x75\x65\x06\x00\xff"
    "\x0c\x04\x04\x68\x31\x04\x76\x31\x04\x68\x32\x00\x58\x00\x00\x02\x00\x38\x65\x6d\x70\x74\x79\x20"
    "\x6b\x65\x79\x2c\x2d\x00\x0a\xf6\x2d\x9e\x01\x00\x00\x04\x08\x6b\x65\x79\x31\x76\x6c\x69\x6e\x65"
    "\x20\x31\x20\x6f\x66\x20\x61\x20\x6b\x63\x61\x74\x20\x63\x61\x70\x74\x75\x72\x65\x2c\x20\x77\x69"
    "\x74\x68\x20\x73\x6f\x6d\x65\x20\x72\x65\x70\x65\x61\x74\x65\x64\x20\x74\x65\x78\x74\x05\x00\x07"
    "\x7e\x00\x00\x51\x00\x10\x06\x51\x00\x12\x32\x51\x00\x1f\x32\x51\x00\x31\x10\x08\x51\x00\x12\x33"
    "\x51\x00\x1f\x33\x51\x00\x31\x10\x0a\x51\x00\x12\x34\x51\x00\x1f\x34\x51\x00\x31\x10\x0c\x51\x00"
    "\x12\x35\x51\x00\x1f\x35\x51\x00\x31\x10\x0e\x51\x00\x12\x36\x51\x00\x1f\x36\x51\x00\x31\x10\x10"
    "\x51\x00\x12\x37\x51\x00\x1f\x37\x51\x00\x31\x10\x12\x51\x00\x12\x38\x51\x00\x1f\x38\x51\x00\x28"
    "\x50\x31\x04\x68\x32\x00\x00\x00\x00\x00"
    ;
/* kcat 1.7.1 (librdkafka 2.0.2) Produce v7, zstd, 247 bytes, attributes 0x04 */
static const char s_rdk_zstd[] =
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xeb\x00\x00\x00\x00\x02\x40\x4f\x02\xe6\x00\x04\x00"
    "\x00\x00\x09\x00\x00\x01\xa2\x4f\x51\xb9\xb0\x00\x00\x01\xa2\x4f\x51\xb9\xb0\xff\xff\xff\xff\xff"
    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x0a\x28\xb5\x2f\xfd\x00\x58\x8d\x05\x00\x72\x48"
    "\x1e\x21\x70\xa9\x3a\xfc\xff\xef\x2b\xfc\xaa\x61\x04\x39\x24\x63\xb6\xf0\x85\xaa\x10\x29\xcb\x46"
    "\xee\xe0\xf9\x13\x1a\x1a\x6d\x24\x47\x4d\x06\x8e\x63\x68\x9a\x02\xc3\x10\x96\x65\xa0\x28\x82\x24"
    "\x71\x10\xce\x4b\x17\x50\x3d\xb6\x6e\xbc\x59\xf1\x8e\xb7\x7e\xf1\xa9\x0a\xe3\xa8\x25\x06\x23\xbf"
    "\xb2\xb6\xe2\xc3\x1d\x1f\xc9\x91\xa1\x8a\x1f\x7f\x21\x4d\xda\x9b\x97\x6e\x55\x8f\x0d\x99\x97\x3c"
    "\xdb\xa2\xee\x28\x40\x15\xa1\x30\xda\xa7\xed\x8b\x76\x9f\x4d\x51\xe3\xc6\x2e\x09\x3a\x3c\xb9\xaa"
    "\x9a\x08\x18\x00\x05\x52\xc0\x1c\x08\x58\x00\x24\x00\x0f\x58\x2c\x00\x12\x80\x07\x2c\x16\x00\x09"
    "\xc0\x03\x16\x0b\x80\x04\xe0\x01\x8b\x05\x40\x02\xf0\x80\xc5\x02\x90\xa0\x02\x63\xc0\x18\xc0\x28"
    "\x1b\x1c\xaa\x7b\x8c\x57\xec"
    ;
static const char *s_rdk_lines[] = {
    "k1:first value value value value", ":empty key, value value value"};

/* ---- cases ------------------------------------------------------------ */

/*  The CRC Kafka uses is CRC-32C: pin the check value of the standard. */
static void test_crc32c_vector(void **state)
{
    assert_int_equal(vl_crc32c(0, "123456789", 9), 0xE3069283u);
}

/*  Batches made by kafka-python parse into the records it was given. */
static void test_golden_kafka_python(void **state)
{
    const char *bufs[] = {s_golden_plain, s_golden_gzip, s_golden_snappy, s_golden_lz4,
                          s_golden_zstd};
    size_t lens[] = {sizeof s_golden_plain - 1, sizeof s_golden_gzip - 1,
                     sizeof s_golden_snappy - 1, sizeof s_golden_lz4 - 1,
                     sizeof s_golden_zstd - 1};
    vl_kheader_t h[2] = {{kb("h1", -1), kb("v1", -1)}, {kb("h2", -1), kb(NULL, 0)}};
    vl_krecord_t want[4] = {
        krec(1700000000000, kb(NULL, 0), kb("hello hello hello hello hello hello hello hello ", -1),
             NULL, 0),
        krec(1700000000005, kb("k1", -1), kb(NULL, 0), h, 2),
        krec(1699999999990, kb("", -1), kb("", -1), NULL, 0),
        krec(1700000000001, kb(NULL, 0), kb("\0kv\1hello hello", 15), NULL, 0),
    };
    /* the snappy one is xerial-framed */
    assert_memory_equal(s_golden_snappy + 61, "\x82SNAPPY\0", 8);
    for (int k = 0; k < 5; k++) {
        vl_kbatch_t *v;
        size_t n;
        char err[256];
        tbuf_t g = {(uint8_t *)bufs[k], lens[k], lens[k]};
        s_corpus_add(&g);
        int rc = vl_kbatch_parse((const uint8_t *)bufs[k], lens[k], MIB, &v, &n, err, sizeof err);
        assert_int_equal(rc, 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].attributes & 7, k);
        assert_int_equal(v[0].nrecords, 4);
        assert_int_equal(v[0].producer_id, -1);
        assert_int_equal(v[0].base_sequence, -1);
        assert_int_equal(v[0].first_timestamp, 1700000000000);
        assert_int_equal(v[0].max_timestamp, 1700000000005);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(v[0].records[i].offset_delta, i);
            s_rec_equal(&want[i], &v[0].records[i]);
        }
        s_free_batches(v, n);
    }
}

/*  librdkafka's batches (kcat, every codec) parse into what kcat read. */
static void test_golden_librdkafka(void **state)
{
    const struct {
        const char *b;
        size_t len;
        int codec;
    } caps[] = {{s_rdk_none, sizeof s_rdk_none - 1, VL_KCODEC_NONE},
                {s_rdk_gzip, sizeof s_rdk_gzip - 1, VL_KCODEC_GZIP},
                {s_rdk_snappy, sizeof s_rdk_snappy - 1, VL_KCODEC_SNAPPY},
                {s_rdk_lz4, sizeof s_rdk_lz4 - 1, VL_KCODEC_LZ4},
                {s_rdk_zstd, sizeof s_rdk_zstd - 1, VL_KCODEC_ZSTD}};
    vl_kheader_t h[2] = {{kb("h1", -1), kb("v1", -1)}, {kb("h2", -1), kb("", -1)}};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        tbuf_t g = {(uint8_t *)caps[c].b, caps[c].len, caps[c].len};
        s_corpus_add(&g);
        vl_kbatch_t *v;
        size_t n;
        char err[256] = "";
        int rc = vl_kbatch_parse(g.p, g.len, MIB, &v, &n, err, sizeof err);
        if (rc)
            print_error("%s: %s\n", vl_kcompress_name(caps[c].codec), err);
        assert_int_equal(rc, 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].attributes, caps[c].codec);
        assert_int_equal(v[0].nrecords, 10);
        for (uint32_t i = 0; i < 10; i++) {
            char key[16], value[128];
            const vl_krecord_t *r = &v[0].records[i];
            if (i < 2) {
                const char *colon = strchr(s_rdk_lines[i], ':');
                snprintf(key, sizeof key, "%.*s", (int)(colon - s_rdk_lines[i]), s_rdk_lines[i]);
                snprintf(value, sizeof value, "%s", colon + 1);
            } else {
                snprintf(key, sizeof key, "key%u", i - 1);
                snprintf(value, sizeof value,
                         "line %u of a kcat capture, with some repeated text text text", i - 1);
            }
            vl_krecord_t want = krec(r->timestamp, kb(key, -1), kb(value, -1), h, 2);
            s_rec_equal(&want, r);
            assert_true(r->timestamp >= v[0].first_timestamp);
            assert_true(r->timestamp <= v[0].max_timestamp);
        }
        s_free_batches(v, n);
    }
}

/*  Every codec (snappy raw and xerial) gives back the records exactly,
    with the header's fields; two batches back to back are both read. */
static void test_codecs(void **state)
{
    static const int codecs[] = {VL_KCODEC_NONE,   VL_KCODEC_GZIP, VL_KCODEC_SNAPPY, XERIAL,
                                 VL_KCODEC_LZ4, VL_KCODEC_ZSTD};
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        tbuf_t b = {0};
        tb_batch(&b, codecs[c], s_sample, s_nsample);
        tb_batch(&b, codecs[c], s_sample + 1, 3);
        s_corpus_add(&b);
        vl_kbatch_t *v;
        size_t n;
        char err[256] = "";
        assert_int_equal(s_parse(&b, MIB, &v, &n, err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].base_offset, 1000);
        assert_int_equal(v[0].partition_leader_epoch, 7);
        assert_int_equal(v[0].producer_id, 4242);
        assert_int_equal(v[0].producer_epoch, 3);
        assert_int_equal(v[0].base_sequence, 17);
        assert_int_equal(v[0].last_offset_delta, s_nsample - 1);
        assert_int_equal(v[0].first_timestamp, s_sample[0].timestamp);
        assert_int_equal(v[0].max_timestamp, INT64_MAX);
        assert_int_equal(v[0].nrecords, s_nsample);
        for (size_t i = 0; i < s_nsample; i++)
            s_rec_equal(&s_sample[i], &v[0].records[i]);
        assert_int_equal(v[1].nrecords, 3);
        for (size_t i = 0; i < 3; i++)
            s_rec_equal(&s_sample[1 + i], &v[1].records[i]);
        s_free_batches(v, n);
        free(b.p);
    }
}

/*  Concatenated gzip members and zstd frames are one stream, as the Java
    client's decoders read them. */
static void test_concatenated_streams(void **state)
{
    tbuf_t raw = {0};
    tb_records(&raw, s_sample, s_nsample, s_sample[0].timestamp);
    for (int codec = VL_KCODEC_GZIP; codec <= VL_KCODEC_ZSTD; codec++) {
        if (codec == VL_KCODEC_SNAPPY)
            continue;
        tbuf_t z = {0};
        s_compress(codec, raw.p, 40, &z);
        s_compress(codec, raw.p + 40, raw.len - 40, &z);
        uint8_t *out;
        size_t len;
        char err[256];
        assert_int_equal(vl_kcompress_decompress(codec, z.p, z.len, MIB, &out, &len, err, 256), 0);
        assert_int_equal(len, raw.len);
        assert_memory_equal(out, raw.p, raw.len);
        free(out);
        /* garbage after the last stream is not silently ignored */
        tb_put(&z, "junk", 4);
        assert_int_equal(vl_kcompress_decompress(codec, z.p, z.len, MIB, &out, &len, err, 256),
                         VL_KERR_CORRUPT_MESSAGE);
        assert_null(out);
        free(z.p);
    }
    free(raw.p);
}

/*  vl_kbatch_build's batch of stored entries parses back into the records
    (plain entries with plain_ts), with Kafka's header fields for a Fetch
    response; a second batch appends after the first. */
static void test_build_roundtrip(void **state)
{
    const void *data[11];
    size_t len[11];
    uint8_t *enc[11];
    for (size_t i = 0; i < s_nsample; i++) {
        len[i] = vl_krec_size(&s_sample[i]);
        enc[i] = malloc(len[i] + 1);
        vl_krec_encode(&s_sample[i], enc[i]);
        data[i] = enc[i];
    }
    /* a plain line as `echo >>` writes it */
    const char *line = "written by echo\n";
    data[0] = line;
    len[0] = strlen(line);
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    vl_kbatch_build(41, data, len, s_nsample, 555, &out, &out_len, &out_cap);
    size_t first_len = out_len;
    tbuf_t built = {out, out_len, out_cap};
    s_corpus_add(&built);
    vl_kbatch_build(51, data + 2, len + 2, 1, 555, &out, &out_len, &out_cap);
    vl_kbatch_t *v;
    size_t n;
    char err[256];
    assert_int_equal(vl_kbatch_parse(out, out_len, MIB, &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].base_offset, 41);
    assert_int_equal(v[0].attributes, 0);
    assert_int_equal(v[0].producer_id, -1);
    assert_int_equal(v[0].producer_epoch, -1);
    assert_int_equal(v[0].base_sequence, -1);
    assert_int_equal(v[0].last_offset_delta, s_nsample - 1);
    assert_int_equal(v[0].first_timestamp, 555);
    vl_krecord_t want0 = krec(555, kb(NULL, 0), kb(line, -1), NULL, 0);
    s_rec_equal(&want0, &v[0].records[0]);
    int64_t max_ts = 555;
    for (size_t i = 1; i < s_nsample; i++) {
        vl_krecord_t w = s_sample[i];
        if (s_is_plain(&w))
            w.timestamp = 555; /* stored plain: its timestamp is not kept */
        s_rec_equal(&w, &v[0].records[i]);
        if (w.timestamp > max_ts)
            max_ts = w.timestamp;
    }
    assert_int_equal(max_ts, 1700000000010);
    assert_int_equal(v[0].max_timestamp, max_ts);
    assert_int_equal(v[1].base_offset, 51);
    assert_int_equal(v[1].nrecords, 1);
    s_rec_equal(&s_sample[2], &v[1].records[0]);
    /* the first batch's length field covers exactly its bytes */
    assert_int_equal(vl_get_be32(out + 8) + 12, first_len);
    s_free_batches(v, n);
    free(out);
    for (size_t i = 0; i < s_nsample; i++)
        free(enc[i]);
}

/*  Records of every size across the varint boundaries of their lengths
    (a record length of 64 and 8192 takes one byte more), plain and rich,
    built into one batch, parse back exactly: the lengths written match
    the bytes. */
static void test_build_sizes(void **state)
{
    enum { N = 400 };
    static const size_t extra[] = {8180, 8185, 8190, 8191, 8192, 8200, 1048570, 1048576};
    size_t n = 0;
    uint8_t *big = malloc(1048576 + 64);
    for (size_t i = 0; i < 1048576 + 64; i++)
        big[i] = (uint8_t)(i * 7 + 1);
    const void *data[2 * N + 16];
    size_t len[2 * N + 16];
    uint8_t *enc[2 * N + 16];
    vl_krecord_t want[2 * N + 16];
    vl_kheader_t h = {kb("hk", -1), kb("hv", -1)};
    for (size_t k = 0; k < N + 8; k++) {
        size_t vlen = k < N ? k : extra[k - N];
        /* plain, then the same value with a key and a header */
        want[n++] = krec(5, kb(NULL, 0), kb((const char *)big, (int)vlen), NULL, 0);
        want[n++] = krec(6 + (int64_t)k, kb((const char *)big + 1, (int)(vlen % 300)),
                         kb((const char *)big, (int)vlen), &h, 1);
    }
    for (size_t i = 0; i < n; i++) {
        len[i] = vl_krec_size(&want[i]);
        enc[i] = malloc(len[i] + 1);
        vl_krec_encode(&want[i], enc[i]);
        data[i] = enc[i];
    }
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    vl_kbatch_build(0, data, len, n, 5, &out, &out_len, &out_cap);
    vl_kbatch_t *v;
    size_t nb;
    char err[256] = "";
    int rc = vl_kbatch_parse(out, out_len, 64 * MIB, &v, &nb, err, sizeof err);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(v[0].nrecords, n);
    for (size_t i = 0; i < n; i++) {
        s_rec_equal(&want[i], &v[0].records[i]);
        free(enc[i]);
    }
    s_free_batches(v, nb);
    free(out);
    free(big);
}

/*  Stored form: plain records are their value bytes (an empty value a
    zero-length entry); every other record, a value beginning with the
    magic included, decodes back exactly; foreign entries that begin with
    the magic but do not decode in full are plain values. */
static void test_stored_form(void **state)
{
    for (size_t i = 0; i < s_nsample; i++) {
        const vl_krecord_t *r = &s_sample[i];
        size_t size = vl_krec_size(r);
        uint8_t *e = malloc(size + 1);
        vl_krec_encode(r, e);
        bool plain = s_is_plain(r);
        if (plain) {
            assert_int_equal(size, r->value.len);
            if (size)
                assert_memory_equal(e, r->value.ptr, size);
        } else {
            assert_true(size >= VL_KREC_MAGIC_LEN);
            assert_memory_equal(e, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN);
        }
        vl_kheader_t h[4];
        vl_krecord_t got;
        uint32_t nh = vl_krec_decode(e, size, 99, h, 4, &got);
        assert_int_equal(nh, r->nheaders);
        vl_krecord_t want = *r;
        if (plain)
            want.timestamp = 99;
        s_rec_equal(&want, &got);
        /* too little room for the headers: the count says how many */
        if (r->nheaders > 1) {
            assert_int_equal(vl_krec_decode(e, size, 99, h, 1, &got), r->nheaders);
            assert_int_equal(got.nheaders, 1);
            s_bytes_equal(r->headers[0].key, got.headers[0].key);
        }
        free(e);
    }
    /* the examples of doc/KOV.md, byte for byte */
    static const struct {
        vl_krecord_t r;
        const char *entry;
        size_t len;
    } ex[] = {
        {{1, 0, {-1, NULL}, {-1, NULL}, 0, NULL}, VL_KREC_MAGIC "\x02\x01\x01\x00", 8},
        {{1, 0, {1, (const uint8_t *)"k"}, {1, (const uint8_t *)"v"}, 0, NULL},
         VL_KREC_MAGIC "\x02\x02k\x02v\x00", 10},
        {{1, 0, {-1, NULL}, {5, (const uint8_t *)VL_KREC_MAGIC "x"}, 0, NULL},
         VL_KREC_MAGIC "\x02\x01\x0a" VL_KREC_MAGIC "x\x00", 13},
        {{1, 0, {-1, NULL}, {6, (const uint8_t *)"hello\n"}, 0, NULL}, "hello\n", 6},
        {{1, 0, {-1, NULL}, {0, (const uint8_t *)""}, 0, NULL}, "", 0},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        uint8_t e[32];
        assert_int_equal(vl_krec_size(&ex[i].r), ex[i].len);
        vl_krec_encode(&ex[i].r, e);
        assert_memory_equal(e, ex[i].entry, ex[i].len);
    }
    /* the magic, then something that is not the rest of a stored record */
    static const char *foreign[] = {VL_KREC_MAGIC, VL_KREC_MAGIC "\x02", VL_KREC_MAGIC "abcdef",
                                    VL_KREC_MAGIC "\x02\x01\x01\x00\x00"};
    static const size_t flen[] = {4, 5, 10, 9};
    for (size_t i = 0; i < 4; i++) {
        vl_krecord_t got;
        assert_int_equal(vl_krec_decode((const uint8_t *)foreign[i], flen[i], 7, NULL, 0, &got), 0);
        vl_krecord_t want = krec(7, kb(NULL, 0), kb(foreign[i], (int)flen[i]), NULL, 0);
        s_rec_equal(&want, &got);
    }
    /* a decodable rich entry: magic, ts 1, null key, empty value, 0 headers */
    vl_krecord_t got;
    assert_int_equal(
        vl_krec_decode((const uint8_t *)VL_KREC_MAGIC "\x02\x01\x00\x00", 8, 7, NULL, 0, &got), 0);
    vl_krecord_t want = krec(1, kb(NULL, 0), kb("", 0), NULL, 0);
    s_rec_equal(&want, &got);
}

static int s_one(const tbuf_t *b, size_t max_bytes, char *err)
{
    vl_kbatch_t *v = (vl_kbatch_t *)&v;
    size_t n = 99;
    int rc = s_parse(b, max_bytes, &v, &n, err);
    if (rc) {
        assert_null(v);
        assert_int_equal(n, 0);
        assert_true(strlen(err) > 0);
    }
    s_free_batches(v, n);
    return rc;
}

/*  A wrong CRC, magic, attributes or count gives its Kafka error code and
    a message that says what was wrong. */
static void test_bad_header(void **state)
{
    char err[256];
    tbuf_t b = {0};
    tb_batch(&b, VL_KCODEC_NONE, s_sample, 3);
    b.p[b.len - 1] ^= 1;
    assert_int_equal(s_one(&b, MIB, err), VL_KERR_CORRUPT_MESSAGE);
    assert_non_null(strstr(err, "batch 0"));
    assert_non_null(strstr(err, "CRC 0x"));
    b.p[b.len - 1] ^= 1;
    assert_int_equal(s_one(&b, MIB, err), 0);
    for (int magic = 0; magic < 4; magic++) {
        b.p[16] = (uint8_t)magic;
        tb_seal(&b, 0);
        assert_int_equal(s_one(&b, MIB, err), magic == 2 ? 0
                                              : magic < 2 ? VL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT
                                                          : VL_KERR_CORRUPT_MESSAGE);
    }
    free(b.p);
    struct {
        int extra;
        int64_t count;
        int want;
    } cases[] = {
        {0x10, -1, VL_KERR_INVALID_RECORD},               /* transactional */
        {0x20, -1, VL_KERR_INVALID_RECORD},               /* control */
        {5, -1, VL_KERR_UNSUPPORTED_COMPRESSION_TYPE},    /* codec 5 */
        {7, -1, VL_KERR_UNSUPPORTED_COMPRESSION_TYPE},    /* codec 7 */
        {0, 4, VL_KERR_CORRUPT_MESSAGE},                  /* count > records */
        {0, 2, VL_KERR_CORRUPT_MESSAGE},                  /* count < records */
        {0, 0, VL_KERR_INVALID_RECORD},                   /* no records */
        {0, INT32_MAX, VL_KERR_CORRUPT_MESSAGE},          /* huge count */
        {0, (int64_t)UINT32_MAX, VL_KERR_INVALID_RECORD}, /* count -1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tbuf_t c = {0};
        tb_batch_x(&c, VL_KCODEC_NONE, cases[i].extra, cases[i].count, s_sample, 3);
        assert_int_equal(s_one(&c, MIB, err), cases[i].want);
        free(c.p);
    }
    /* an empty record set */
    tbuf_t e = {0};
    assert_int_equal(s_one(&e, MIB, err), VL_KERR_INVALID_RECORD);
}

/*  Records whose fields disagree with their lengths, offset deltas out of
    order, huge lengths and counts: each refused, nothing allocated for a
    count the bytes cannot hold. */
static void test_bad_records(void **state)
{
    char err[256];
    /* record bodies, each inside a correct batch header with count 1 */
    static const struct {
        const char *rec;
        size_t len;
        int want;
    } cases[] = {
        {"\x0c\x00\x00\x00\x01\x01\x00", 7, 0},                          /* ok: null key, null value */
        {"\x0c\x00\x00\x02\x01\x01\x00", 7, VL_KERR_INVALID_RECORD},     /* delta 1 */
        {"\x0e\x00\x00\x00\x01\x01\x00\x00", 8, VL_KERR_CORRUPT_MESSAGE}, /* length +1 */
        {"\x0a\x00\x00\x00\x01\x01\x00", 7, VL_KERR_CORRUPT_MESSAGE},     /* length -1 */
        {"\x0c\x00\x00\x00\x03\x01\x00", 7, VL_KERR_CORRUPT_MESSAGE},     /* key len -2 */
        {"\x0c\x00\x00\x00\x02\x01\x00", 7, VL_KERR_CORRUPT_MESSAGE},     /* key past */
        {"\x0c\x00\x00\x00\x01\x01\x02", 7, VL_KERR_CORRUPT_MESSAGE},     /* 1 header, no bytes */
        {"\x10\x00\x00\x00\x01\x01\x02\x01\x00", 9, VL_KERR_CORRUPT_MESSAGE}, /* null hdr key */
        {"\x10\x00\x00\x00\x01\x01\x02\x00\x01", 9, 0},                   /* header "" -> null */
        {"\x14\x00\x00\x00\x01\x01\xfe\xff\xff\xff\x0f", 11, VL_KERR_CORRUPT_MESSAGE},
        {"\x0c\x00\x00\x00\x01\xfe\xff\xff\xff\x0f\x00", 11, VL_KERR_CORRUPT_MESSAGE},
        {"\xfe\xff\xff\xff\x0f\x00\x00\x00\x01\x01\x00", 11, VL_KERR_CORRUPT_MESSAGE},
        {"\xff\xff\xff\xff\xff\x01\x00\x00\x01\x01\x00", 11, VL_KERR_CORRUPT_MESSAGE}, /* 6B */
        {"\x16\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02\x00\x01\x01\x00", 16,
         VL_KERR_CORRUPT_MESSAGE}, /* varlong past 64 bits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tbuf_t b = {0};
        tb_batch_x(&b, VL_KCODEC_NONE, 0, 1, NULL, 0);
        tb_put(&b, cases[i].rec, cases[i].len);
        tb_seal(&b, 0);
        int rc = s_one(&b, MIB, err);
        if (rc != cases[i].want)
            print_error("case %zu: %d (%s)\n", i, rc, err);
        assert_int_equal(rc, cases[i].want);
        free(b.p);
    }
}

/*  Every truncation of a valid record set fails cleanly: cut as it is (a
    length that passes the end), and cut with the batch length and CRC
    fixed up so the record parser or the codec meets the cut. */
static void test_truncations(void **state)
{
    static const int codecs[] = {VL_KCODEC_NONE,   VL_KCODEC_GZIP, VL_KCODEC_SNAPPY, XERIAL,
                                 VL_KCODEC_LZ4, VL_KCODEC_ZSTD};
    char err[256];
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        tbuf_t b = {0};
        tb_batch(&b, codecs[c], s_sample, s_nsample);
        size_t full = b.len;
        for (size_t cut = 0; cut < full; cut++) {
            tbuf_t t = {malloc(cut + 1), cut, cut + 1};
            memcpy(t.p, b.p, cut);
            int rc = s_one(&t, MIB, err);
            assert_int_not_equal(rc, 0);
            if (cut >= 61) {
                tb_seal(&t, 0);
                rc = s_one(&t, MIB, err);
                if (rc == 0)
                    print_error("codec %d cut %zu parsed\n", codecs[c], cut);
                assert_int_equal(rc, VL_KERR_CORRUPT_MESSAGE);
            }
            free(t.p);
        }
        free(b.p);
    }
}

/*  A bomb: a small batch that decompresses far past max_bytes is refused
    with MESSAGE_TOO_LARGE after at most max_bytes of output. */
static void test_bombs(void **state)
{
    const size_t chunk = MIB;
    uint8_t *zeros = calloc(1, chunk);
    assert_non_null(zeros);
    char err[256];
    /* zstd: 100 MiB of zeros, streamed */
    tbuf_t z = {0};
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    for (int i = 0; i < 100; i++) {
        ZSTD_inBuffer in = {zeros, chunk, 0};
        ZSTD_EndDirective end = i == 99 ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            uint8_t *p = tb_grow(&z, 65536);
            ZSTD_outBuffer out = {p, 65536, 0};
            left = ZSTD_compressStream2(cc, &out, &in, end);
            assert_false(ZSTD_isError(left));
            z.len -= 65536 - out.pos;
        } while (in.pos < in.size || (end == ZSTD_e_end && left));
    }
    ZSTD_freeCCtx(cc);
    /* gzip, lz4, xerial snappy: 64 MiB of zeros; raw snappy says 100 MiB */
    tbuf_t g = {0}, l = {0}, x = {0}, s = {0};
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    LZ4F_cctx *lc;
    assert_false(LZ4F_isError(LZ4F_createCompressionContext(&lc, LZ4F_VERSION)));
    uint8_t *p = tb_grow(&l, LZ4F_HEADER_SIZE_MAX);
    l.len -= LZ4F_HEADER_SIZE_MAX - LZ4F_compressBegin(lc, p, LZ4F_HEADER_SIZE_MAX, NULL);
    tbuf_t blk = {0};
    s_snappy_raw(zeros, chunk, &blk);
    s_snappy_xerial(zeros, 0, 1, &x);
    for (int i = 0; i < 64; i++) {
        zs.next_in = zeros;
        zs.avail_in = (uInt)chunk;
        do {
            zs.next_out = tb_grow(&g, 65536);
            zs.avail_out = 65536;
            assert_int_not_equal(deflate(&zs, i == 63 ? Z_FINISH : Z_NO_FLUSH), Z_STREAM_ERROR);
            g.len -= zs.avail_out;
        } while (zs.avail_in || (i == 63 && zs.avail_out == 0));
        size_t bound = LZ4F_compressBound(chunk, NULL);
        p = tb_grow(&l, bound);
        l.len -= bound - LZ4F_compressUpdate(lc, p, bound, zeros, chunk, NULL);
        tb_be(&x, blk.len, 4);
        tb_put(&x, blk.p, blk.len);
    }
    deflateEnd(&zs);
    size_t end_bound = LZ4F_compressBound(0, NULL);
    p = tb_grow(&l, end_bound);
    l.len -= end_bound - LZ4F_compressEnd(lc, p, end_bound, NULL);
    LZ4F_freeCompressionContext(lc);
    tb_uvarint(&s, 100 * MIB);
    tb_put(&s, blk.p + 3, blk.len - 3); /* not the bytes the length promises */
    const struct {
        int codec;
        tbuf_t *b;
    } bombs[] = {{VL_KCODEC_ZSTD, &z},
                 {VL_KCODEC_GZIP, &g},
                 {VL_KCODEC_LZ4, &l},
                 {VL_KCODEC_SNAPPY, &x},
                 {VL_KCODEC_SNAPPY, &s}};
    for (size_t i = 0; i < 5; i++) {
        uint8_t *out = (uint8_t *)&out;
        size_t len = 1;
        int rc = vl_kcompress_decompress(bombs[i].codec, bombs[i].b->p, bombs[i].b->len, MIB,
                                         &out, &len, err, sizeof err);
        assert_int_equal(rc, VL_KERR_MESSAGE_TOO_LARGE);
        assert_null(out);
        assert_non_null(strstr(err, "more than 1048576 bytes"));
        /* a bound that fits: the whole stream decodes (not the lying one) */
        if (i < 4 && bombs[i].codec != VL_KCODEC_ZSTD) {
            rc = vl_kcompress_decompress(bombs[i].codec, bombs[i].b->p, bombs[i].b->len,
                                         64 * MIB, &out, &len, err, sizeof err);
            assert_int_equal(rc, 0);
            assert_int_equal(len, 64 * MIB);
            assert_memory_equal(out, zeros, chunk);
            free(out);
        }
    }
    /* a frame that states its size (as librdkafka's do): the output is
       sized from it, within the bound */
    uint8_t *big0 = calloc(1, 16 * MIB);
    tbuf_t zs16 = {0};
    s_zstd(big0, 16 * MIB, &zs16);
    assert_int_equal(ZSTD_getFrameContentSize(zs16.p, zs16.len), 16 * MIB);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(vl_kcompress_decompress(VL_KCODEC_ZSTD, zs16.p, zs16.len, MIB, &out,
                                             &out_len, err, sizeof err),
                     VL_KERR_MESSAGE_TOO_LARGE);
    assert_int_equal(vl_kcompress_decompress(VL_KCODEC_ZSTD, zs16.p, zs16.len, 16 * MIB, &out,
                                             &out_len, err, sizeof err),
                     0);
    assert_int_equal(out_len, 16 * MIB);
    assert_memory_equal(out, big0, 16 * MIB);
    free(out);
    free(zs16.p);
    free(big0);
    /* in a batch, the same error */
    tbuf_t b = {0};
    tb_batch_x(&b, VL_KCODEC_NONE, 0, 1, NULL, 0);
    b.p[22] = VL_KCODEC_ZSTD;
    tb_put(&b, z.p, z.len);
    tb_seal(&b, 0);
    assert_int_equal(s_one(&b, MIB, err), VL_KERR_MESSAGE_TOO_LARGE);
    /* and an uncompressed batch larger than max_bytes */
    tbuf_t u = {0};
    tb_batch(&u, VL_KCODEC_NONE, s_sample, s_nsample);
    assert_int_equal(s_one(&u, 100, err), VL_KERR_MESSAGE_TOO_LARGE);
    free(u.p);
    free(b.p);
    free(z.p);
    free(g.p);
    free(l.p);
    free(x.p);
    free(s.p);
    free(blk.p);
    free(zeros);
}

/*  A parsed batch's records survive the stored form and a batch built
    from it: the property every produce and fetch relies on. */
static void s_check_roundtrip(const vl_kbatch_t *b)
{
    const void **data = calloc(b->nrecords, sizeof *data);
    size_t *len = calloc(b->nrecords, sizeof *len);
    for (uint32_t i = 0; i < b->nrecords; i++) {
        len[i] = vl_krec_size(&b->records[i]);
        uint8_t *e = malloc(len[i] + 1);
        vl_krec_encode(&b->records[i], e);
        data[i] = e;
    }
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    vl_kbatch_build(0, data, len, b->nrecords, 1, &out, &out_len, &out_cap);
    vl_kbatch_t *v;
    size_t n;
    char err[256];
    assert_int_equal(vl_kbatch_parse(out, out_len, SIZE_MAX, &v, &n, err, sizeof err), 0);
    assert_int_equal(v[0].nrecords, b->nrecords);
    for (uint32_t i = 0; i < b->nrecords; i++) {
        vl_krecord_t w = b->records[i];
        if (s_is_plain(&w))
            w.timestamp = 1;
        s_rec_equal(&w, &v[0].records[i]);
        free((void *)data[i]);
    }
    s_free_batches(v, n);
    free(out);
    free(data);
    free(len);
}

static uint64_t s_rng = 0x9E3779B97F4A7C15ull;

static uint64_t s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/*  A few thousand deterministic mutations of valid batches of every codec
    (bytes set, bits flipped, bytes cut or inserted), half with batch
    length and CRC fixed up so they reach the records and the codecs: each
    parses or fails with a message; what parses round-trips. */
static void test_mutations(void **state)
{
    static const int codecs[] = {VL_KCODEC_NONE,   VL_KCODEC_GZIP, VL_KCODEC_SNAPPY, XERIAL,
                                 VL_KCODEC_LZ4, VL_KCODEC_ZSTD};
    char err[256];
    size_t parsed = 0, failed = 0;
    for (int iter = 0; iter < 6000; iter++) {
        tbuf_t b = {0};
        tb_batch(&b, codecs[iter % 6], s_sample, s_nsample);
        int muts = 1 + (int)(s_rand() % 4);
        for (int m = 0; m < muts && b.len > 0; m++) {
            size_t at = s_rand() % b.len;
            switch (s_rand() % 5) {
            case 0:
                b.p[at] = (uint8_t)s_rand();
                break;
            case 1:
                b.p[at] ^= (uint8_t)(1u << (s_rand() % 8));
                break;
            case 2:
                b.len = at;
                break;
            case 3: {
                size_t k = 1 + s_rand() % 8;
                tb_grow(&b, k);
                memmove(b.p + at + k, b.p + at, b.len - k - at);
                for (size_t j = 0; j < k; j++)
                    b.p[at + j] = (uint8_t)s_rand();
                break;
            }
            default: { /* a field made extreme */
                static const uint8_t ff[5] = {0xff, 0xff, 0xff, 0xff, 0x0f};
                size_t k = b.len - at < 5 ? b.len - at : 5;
                memcpy(b.p + at, ff, k);
                break;
            }
            }
        }
        if (b.len >= 61 && (iter & 1))
            tb_seal(&b, 0);
        vl_kbatch_t *v;
        size_t n;
        int rc = s_parse(&b, 64 * 1024, &v, &n, err);
        if (rc == 0) {
            parsed++;
            for (size_t k = 0; k < n; k++)
                s_check_roundtrip(&v[k]);
            s_free_batches(v, n);
        } else {
            failed++;
            assert_true(strlen(err) > 0);
        }
        /* the stored-form decoder takes anything */
        vl_kheader_t h[2];
        vl_krecord_t r;
        vl_krec_decode(b.p, b.len > 61 ? b.len - 61 : 0, 0, h, 2, &r);
        free(b.p);
    }
    print_message("mutations: %zu parsed, %zu refused\n", parsed, failed);
    assert_true(parsed > 0 && failed > 0);
}

static int s_setup(void **state)
{
    s_sample_init();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vector),
        cmocka_unit_test(test_golden_kafka_python),
        cmocka_unit_test(test_golden_librdkafka),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_concatenated_streams),
        cmocka_unit_test(test_build_roundtrip),
        cmocka_unit_test(test_build_sizes),
        cmocka_unit_test(test_stored_form),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests_name("kbatch", tests, s_setup, NULL);
}
