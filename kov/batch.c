/*  batch.c - Kafka RecordBatch v2: parsing a Produce request's record set,
    building a Fetch response's batch, and Kov's stored form of a record.

    Parsing trusts nothing: every length is checked against the bytes left
    before it is used, a count is checked against what the bytes could
    hold (a record takes at least 7 bytes, a header 2) before anything is
    allocated, each record's length must match its fields exactly, and the
    decompressed size of a batch is bounded by the caller (compress.c).
    Records of an uncompressed batch point into the request; those of a
    compressed one into the batch's own decompressed buffer.

    Varints are Kafka's: little-endian base 128, zigzag encoded, at most 5
    bytes for an int32 (varint) and 10 for an int64 (varlong); fixed-size
    fields are big-endian.

    Stored form (doc/KOV.md, "Stored form"): a record that a plain value
    cannot express is stored as VL_KREC_MAGIC, then
        timestamp  varlong (absolute, milliseconds)
        key        varint length (-1: null) + bytes
        value      varint length (-1: null) + bytes
        headers    varint count, then per header: varint key length (>= 0)
                   + key, varint value length (-1: null) + value
    with nothing after the last header. Every other record (null key, no
    headers, a value that does not begin with the magic) is its value bytes
    alone, an empty value included (varlog stores zero-length entries).
    So every entry Kov writes that begins with the magic decodes in full,
    and decoding an entry reproduces the record exactly.
*/
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "compress.h"
#include "crc32c.h"
#include "util.h"

#define KB_HEADER_LEN 61 /* base offset .. record count */
#define KB_LOG_OVERHEAD 12 /* base offset + batch length: not in the length */
#define KB_OFF_MAGIC 16
#define KB_OFF_CRC 17
#define KB_OFF_ATTR 21 /* the CRC covers from here to the end */
#define KB_MIN_RECORD 7 /* length, attributes, timestamp and offset deltas,
                           key and value lengths, header count: a byte each */
#define KB_MIN_HEADER 2 /* key length and value length */
#define KB_ATTR_CODEC 0x07
#define KB_ATTR_TRANSACTIONAL 0x10
#define KB_ATTR_CONTROL 0x20

/*  What a parsed batch owns: the decompressed records (NULL when the batch
    was not compressed) and the headers of all its records, in order. */
typedef struct {
    uint8_t *raw;
    vl_kheader_t *hdrs;
} s_owned_t;

/*  The growing array of a batch's headers while its records are read. */
typedef struct {
    vl_kheader_t *v;
    size_t n, cap;
} s_hdrs_t;

/*  A read cursor: p and left move together; a failed read moves nothing
    the caller still uses (it gives up on the whole record). */
typedef struct {
    const uint8_t *p;
    size_t left;
} s_cur_t;

static int s_fail(char *why, size_t why_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(char *why, size_t why_size, int code, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- varints --------------------------------------------------------- */

static bool s_uvarint(s_cur_t *c, unsigned max_bytes, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes && i < c->left; i++) {
        uint8_t b = c->p[i];
        if (i == 9 && b > 1)
            return false; /* past 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            c->p += i + 1;
            c->left -= i + 1;
            *out = v;
            return true;
        }
    }
    return false; /* truncated, or longer than max_bytes */
}

static bool s_varint(s_cur_t *c, int32_t *out)
{
    uint64_t u;
    if (!s_uvarint(c, 5, &u) || u > UINT32_MAX)
        return false;
    uint32_t z = (uint32_t)u;
    *out = (int32_t)((z >> 1) ^ (0u - (z & 1)));
    return true;
}

static bool s_varlong(s_cur_t *c, int64_t *out)
{
    uint64_t u;
    if (!s_uvarint(c, 10, &u))
        return false;
    *out = (int64_t)((u >> 1) ^ (0 - (u & 1)));
    return true;
}

static uint64_t s_zz32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31));
}

static uint64_t s_zz64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
}

static size_t s_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *s_put_uvarint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/*  A length-prefixed byte string: -1 is null (when nullable), otherwise
    the length must fit in what is left. */
static bool s_bytes(s_cur_t *c, bool nullable, vl_kbytes_t *b)
{
    int32_t len;
    if (!s_varint(c, &len) || len < -1 || (len == -1 && !nullable))
        return false;
    b->len = len;
    b->ptr = NULL;
    if (len >= 0) {
        if ((size_t)len > c->left)
            return false;
        b->ptr = c->p;
        c->p += len;
        c->left -= (size_t)len;
    }
    return true;
}

static size_t s_bytes_size(const vl_kbytes_t *b)
{
    return s_uvarint_size(s_zz32(b->len)) + (b->len > 0 ? (size_t)b->len : 0);
}

static uint8_t *s_put_bytes(uint8_t *p, const vl_kbytes_t *b)
{
    p = s_put_uvarint(p, s_zz32(b->len));
    if (b->len > 0) {
        memcpy(p, b->ptr, (size_t)b->len);
        p += b->len;
    }
    return p;
}

/* ---- fixed-size big-endian fields ------------------------------------ */

static uint16_t s_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void s_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- the fields a record and a stored entry share -------------------- */

/*  Key, value, header count and headers: the tail of a Kafka record and
    of the stored form alike. */
static size_t s_fields_size(const vl_krecord_t *r)
{
    size_t n = s_bytes_size(&r->key) + s_bytes_size(&r->value) +
               s_uvarint_size(s_zz32((int32_t)r->nheaders));
    for (uint32_t i = 0; i < r->nheaders; i++)
        n += s_bytes_size(&r->headers[i].key) + s_bytes_size(&r->headers[i].value);
    return n;
}

static uint8_t *s_put_fields(uint8_t *p, const vl_krecord_t *r)
{
    p = s_put_bytes(p, &r->key);
    p = s_put_bytes(p, &r->value);
    p = s_put_uvarint(p, s_zz32((int32_t)r->nheaders));
    for (uint32_t i = 0; i < r->nheaders; i++) {
        p = s_put_bytes(p, &r->headers[i].key);
        p = s_put_bytes(p, &r->headers[i].value);
    }
    return p;
}

/*  Reads a header count and that many headers: each kept in hdrs[] while
    there is room (max of them), all counted in *count. */
static bool s_read_headers(s_cur_t *c, vl_kheader_t *hdrs, uint32_t max, uint32_t *count)
{
    int32_t n;
    if (!s_varint(c, &n) || n < 0 || (size_t)n > c->left / KB_MIN_HEADER)
        return false;
    for (int32_t i = 0; i < n; i++) {
        vl_kheader_t h;
        if (!s_bytes(c, false, &h.key) || !s_bytes(c, true, &h.value))
            return false;
        if ((uint32_t)i < max)
            hdrs[i] = h;
    }
    *count = (uint32_t)n;
    return true;
}

/* ---- parsing ---------------------------------------------------------- */

static void s_hdrs_push(s_hdrs_t *h, const vl_kheader_t *v)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->v = vl_realloc(h->v, h->cap * sizeof *h->v);
    }
    h->v[h->n++] = *v;
}

/*  Record i of a batch whose first timestamp is first_ts, from c (which it
    consumes exactly). Its headers are appended to h; r->headers is set by
    the caller once h stops moving. */
static int s_record(s_cur_t *c, int64_t first_ts, uint32_t i, vl_krecord_t *r, s_hdrs_t *h,
                    char *why, size_t why_size)
{
    int32_t len, count;
    int64_t ts_delta;
    if (!s_varint(c, &len) || len < 0 || (size_t)len > c->left)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "record %" PRIu32 ": its length (%" PRId32 ") passes the %zu bytes left", i,
                      len, c->left);
    s_cur_t rc = {c->p, (size_t)len};
    c->p += len;
    c->left -= (size_t)len;
    /* attributes (one byte, unused by every version so far) skipped */
    bool ok = rc.left >= 1;
    if (ok) {
        rc.p++;
        rc.left--;
    }
    if (!ok || !s_varlong(&rc, &ts_delta) || !s_varint(&rc, &r->offset_delta) ||
        !s_bytes(&rc, true, &r->key) || !s_bytes(&rc, true, &r->value))
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "record %" PRIu32 ": its fields pass its length (%" PRId32 " bytes)", i,
                      len);
    if (r->offset_delta != (int32_t)i)
        return s_fail(why, why_size, VL_KERR_INVALID_RECORD,
                      "record %" PRIu32 " has offset delta %" PRId32
                      " (a producer numbers its records 0, 1, 2 ...)",
                      i, r->offset_delta);
    if (!s_varint(&rc, &count) || count < 0 || (size_t)count > rc.left / KB_MIN_HEADER)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "record %" PRIu32 ": bad header count (%" PRId32 ") for the %zu bytes left",
                      i, count, rc.left);
    for (int32_t k = 0; k < count; k++) {
        vl_kheader_t hd;
        if (!s_bytes(&rc, false, &hd.key) || !s_bytes(&rc, true, &hd.value))
            return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                          "record %" PRIu32 " header %" PRId32
                          ": a null key or a length past the record",
                          i, k);
        s_hdrs_push(h, &hd);
    }
    if (rc.left)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "record %" PRIu32 ": %zu bytes after its last field (length %" PRId32 ")", i,
                      rc.left, len);
    r->timestamp = (int64_t)((uint64_t)first_ts + (uint64_t)ts_delta);
    r->nheaders = (uint32_t)count;
    return 0;
}

/*  The count records of b in p[0..len). */
static int s_records(const uint8_t *p, size_t len, uint32_t count, vl_kbatch_t *b,
                     s_owned_t *own, char *why, size_t why_size)
{
    if (count > len / KB_MIN_RECORD)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "%" PRIu32 " records cannot fit in %zu bytes", count, len);
    b->records = vl_calloc(count, sizeof *b->records);
    s_hdrs_t h = {NULL, 0, 0};
    s_cur_t c = {p, len};
    int rc = 0;
    for (uint32_t i = 0; i < count && !rc; i++)
        rc = s_record(&c, b->first_timestamp, i, &b->records[i], &h, why, why_size);
    if (!rc && c.left)
        rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                    "%zu bytes after the last of its %" PRIu32 " records", c.left, count);
    own->hdrs = h.v;
    if (rc)
        return rc;
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        b->records[i].headers = b->records[i].nheaders ? h.v + at : NULL;
        at += b->records[i].nheaders;
    }
    b->nrecords = count;
    return 0;
}

/*  The fixed-size header of the batch at data[0..left): its checks, its
    fields into b, its size in *size. */
static int s_batch_header(const uint8_t *data, size_t left, vl_kbatch_t *b, int32_t *count,
                          size_t *size, char *why, size_t why_size)
{
    if (left < KB_OFF_MAGIC + 1)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "%zu bytes left, a batch header needs %d", left, KB_HEADER_LEN);
    int8_t magic = (int8_t)data[KB_OFF_MAGIC];
    if (magic == 0 || magic == 1)
        return s_fail(why, why_size, VL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT,
                      "message format v%d; Kov takes record batches v2 only (Kafka >= 0.11 "
                      "clients: use a newer client or set its api.version)",
                      magic);
    if (magic != 2)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "magic %d (a batch v2 has 2)",
                      magic);
    if (left < KB_HEADER_LEN)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "%zu bytes left, a batch header needs %d", left, KB_HEADER_LEN);
    int32_t blen = (int32_t)vl_get_be32(data + 8);
    if (blen < KB_HEADER_LEN - KB_LOG_OVERHEAD || (size_t)blen > left - KB_LOG_OVERHEAD)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "batch length %" PRId32 " (at least %d, at most the %zu bytes left)", blen,
                      KB_HEADER_LEN - KB_LOG_OVERHEAD, left - KB_LOG_OVERHEAD);
    *size = KB_LOG_OVERHEAD + (size_t)blen;
    uint32_t crc = vl_get_be32(data + KB_OFF_CRC);
    uint32_t want = vl_crc32c(0, data + KB_OFF_ATTR, *size - KB_OFF_ATTR);
    if (crc != want)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE,
                      "CRC 0x%08" PRIx32 " != 0x%08" PRIx32 " (the CRC-32C of its bytes)", crc,
                      want);
    b->base_offset = (int64_t)vl_get_be64(data);
    b->partition_leader_epoch = (int32_t)vl_get_be32(data + 12);
    b->attributes = (int16_t)s_get_be16(data + 21);
    b->last_offset_delta = (int32_t)vl_get_be32(data + 23);
    b->first_timestamp = (int64_t)vl_get_be64(data + 27);
    b->max_timestamp = (int64_t)vl_get_be64(data + 35);
    b->producer_id = (int64_t)vl_get_be64(data + 43);
    b->producer_epoch = (int16_t)s_get_be16(data + 51);
    b->base_sequence = (int32_t)vl_get_be32(data + 53);
    *count = (int32_t)vl_get_be32(data + 57);
    if (b->attributes & (KB_ATTR_TRANSACTIONAL | KB_ATTR_CONTROL))
        return s_fail(why, why_size, VL_KERR_INVALID_RECORD,
                      "a %s batch; Kov does not do transactions (use a non-transactional "
                      "producer)",
                      b->attributes & KB_ATTR_CONTROL ? "control" : "transactional");
    int codec = b->attributes & KB_ATTR_CODEC;
    if (codec > VL_KCODEC_ZSTD)
        return s_fail(why, why_size, VL_KERR_UNSUPPORTED_COMPRESSION_TYPE,
                      "compression codec %d (Kov knows 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)",
                      codec);
    if (*count <= 0 || b->last_offset_delta != *count - 1)
        return s_fail(why, why_size, VL_KERR_INVALID_RECORD,
                      "record count %" PRId32 " with last offset delta %" PRId32
                      " (a batch holds records 0 .. count-1, at least one)",
                      *count, b->last_offset_delta);
    return 0;
}

/*  One batch at data[0..left) into b; *size its length. */
static int s_batch(const uint8_t *data, size_t left, size_t max_bytes, vl_kbatch_t *b,
                   size_t *size, char *why, size_t why_size)
{
    int32_t count = 0;
    int rc = s_batch_header(data, left, b, &count, size, why, why_size);
    if (rc)
        return rc;
    s_owned_t *own = vl_calloc(1, sizeof *own);
    b->owned_ = own;
    const uint8_t *p = data + KB_HEADER_LEN;
    size_t len = *size - KB_HEADER_LEN;
    int codec = b->attributes & KB_ATTR_CODEC;
    if (codec != VL_KCODEC_NONE) {
        rc = vl_kcompress_decompress(codec, p, len, max_bytes, &own->raw, &len, why, why_size);
        if (rc)
            return rc;
        p = own->raw;
    } else if (len > max_bytes) {
        return s_fail(why, why_size, VL_KERR_MESSAGE_TOO_LARGE,
                      "%zu bytes of records, more than the %zu a batch may hold", len, max_bytes);
    }
    return s_records(p, len, (uint32_t)count, b, own, why, why_size);
}

int vl_kbatch_parse(const uint8_t *data, size_t len, size_t max_bytes, vl_kbatch_t **batches,
                    size_t *n, char *errbuf, size_t errbuf_size)
{
    *batches = NULL;
    *n = 0;
    if (len == 0)
        return s_fail(errbuf, errbuf_size, VL_KERR_INVALID_RECORD,
                      "an empty record set (a produce sends at least one record batch)");
    /* every batch takes at least a header: the array is bounded by len */
    size_t cap = len / KB_HEADER_LEN + 1;
    vl_kbatch_t *v = vl_calloc(cap, sizeof *v);
    char why[256] = "";
    size_t off = 0, i = 0;
    int rc = 0;
    while (off < len && !rc) {
        size_t size = 0;
        rc = s_batch(data + off, len - off, max_bytes, &v[i], &size, why, sizeof why);
        i++;
        off += size;
    }
    if (rc) {
        s_fail(errbuf, errbuf_size, rc, "batch %zu (at byte %zu): %s", i - 1, off, why);
        for (size_t k = 0; k < i; k++)
            vl_kbatch_free(&v[k]);
        free(v);
        return rc;
    }
    *batches = v;
    *n = i;
    return 0;
}

void vl_kbatch_free(vl_kbatch_t *batch)
{
    if (!batch)
        return;
    s_owned_t *own = batch->owned_;
    if (own) {
        free(own->raw);
        free(own->hdrs);
        free(own);
    }
    free(batch->records);
    batch->owned_ = NULL;
    batch->records = NULL;
    batch->nrecords = 0;
}

/* ---- the stored form -------------------------------------------------- */

/*  True when r is stored as its value bytes alone. */
static bool s_plain(const vl_krecord_t *r)
{
    return r->key.len < 0 && r->nheaders == 0 && r->value.len >= 0 &&
           !(r->value.len >= VL_KREC_MAGIC_LEN &&
             memcmp(r->value.ptr, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN) == 0);
}

size_t vl_krec_size(const vl_krecord_t *r)
{
    if (s_plain(r))
        return (size_t)r->value.len;
    return VL_KREC_MAGIC_LEN + s_uvarint_size(s_zz64(r->timestamp)) + s_fields_size(r);
}

void vl_krec_encode(const vl_krecord_t *r, uint8_t *out)
{
    if (s_plain(r)) {
        if (r->value.len)
            memcpy(out, r->value.ptr, (size_t)r->value.len);
        return;
    }
    memcpy(out, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN);
    uint8_t *p = s_put_uvarint(out + VL_KREC_MAGIC_LEN, s_zz64(r->timestamp));
    s_put_fields(p, r);
}

uint32_t vl_krec_decode(const uint8_t *data, size_t len, int64_t plain_ts, vl_kheader_t *hdrs,
                        uint32_t max_headers, vl_krecord_t *r)
{
    r->offset_delta = 0;
    r->headers = hdrs;
    if (len >= VL_KREC_MAGIC_LEN && memcmp(data, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN) == 0) {
        s_cur_t c = {data + VL_KREC_MAGIC_LEN, len - VL_KREC_MAGIC_LEN};
        uint32_t count;
        if (s_varlong(&c, &r->timestamp) && s_bytes(&c, true, &r->key) &&
            s_bytes(&c, true, &r->value) && s_read_headers(&c, hdrs, max_headers, &count) &&
            c.left == 0) {
            r->nheaders = count < max_headers ? count : max_headers;
            return count;
        }
    }
    /* a plain value: entries are far smaller than 2 GiB (VL_MAX_ENTRY_SIZE) */
    r->timestamp = plain_ts;
    r->key.len = -1;
    r->key.ptr = NULL;
    r->value.len = (int32_t)len;
    r->value.ptr = data;
    r->nheaders = 0;
    return 0;
}

/* ---- building a batch for Fetch --------------------------------------- */

static uint8_t *s_out_grow(uint8_t **out, size_t *out_len, size_t *out_cap, size_t n)
{
    if (*out_len + n > *out_cap) {
        size_t cap = *out_cap ? *out_cap : 256;
        while (cap < *out_len + n)
            cap *= 2;
        *out = vl_realloc(*out, cap);
        *out_cap = cap;
    }
    uint8_t *p = *out + *out_len;
    *out_len += n;
    return p;
}

/*  Decodes stored entry (data, len) into *r with its headers in *hdrs (a
    caller's array of *cap, replaced by a larger heap one when too small:
    *heap says whether *hdrs is the caller's to free). */
static void s_decode_all(const void *data, size_t len, int64_t plain_ts, vl_kheader_t **hdrs,
                         uint32_t *cap, bool *heap, vl_krecord_t *r)
{
    uint32_t n = vl_krec_decode(data, len, plain_ts, *hdrs, *cap, r);
    if (n <= *cap)
        return;
    if (*heap)
        free(*hdrs);
    *hdrs = vl_calloc(n, sizeof **hdrs);
    *cap = n;
    *heap = true;
    vl_krec_decode(data, len, plain_ts, *hdrs, *cap, r);
}

void vl_kbatch_build(int64_t base_offset, const void *const *data, const size_t *len, size_t n,
                     int64_t plain_ts, uint8_t **out, size_t *out_len, size_t *out_cap)
{
    assert(n >= 1 && n <= INT32_MAX);
    size_t start = *out_len;
    s_out_grow(out, out_len, out_cap, KB_HEADER_LEN);
    vl_kheader_t stack[16], *hdrs = stack;
    uint32_t cap = 16;
    bool heap = false;
    int64_t first_ts = 0, max_ts = 0;
    for (size_t i = 0; i < n; i++) {
        vl_krecord_t r;
        s_decode_all(data[i], len[i], plain_ts, &hdrs, &cap, &heap, &r);
        if (i == 0)
            first_ts = max_ts = r.timestamp;
        else if (r.timestamp > max_ts)
            max_ts = r.timestamp;
        int64_t delta = (int64_t)((uint64_t)r.timestamp - (uint64_t)first_ts);
        size_t body = 1 + s_uvarint_size(s_zz64(delta)) + s_uvarint_size(s_zz32((int32_t)i)) +
                      s_fields_size(&r);
        uint64_t zlen = s_zz32((int32_t)body);
        uint8_t *p = s_out_grow(out, out_len, out_cap, s_uvarint_size(zlen) + body);
        p = s_put_uvarint(p, zlen);
        *p++ = 0; /* record attributes: unused */
        p = s_put_uvarint(p, s_zz64(delta));
        p = s_put_uvarint(p, s_zz32((int32_t)i));
        s_put_fields(p, &r);
    }
    if (heap)
        free(hdrs);
    uint8_t *h = *out + start;
    size_t size = *out_len - start;
    vl_put_be64(h, (uint64_t)base_offset);
    vl_put_be32(h + 8, (uint32_t)(size - KB_LOG_OVERHEAD));
    /* no leader epoch: a client then skips its log-truncation checks (KIP-320) */
    vl_put_be32(h + 12, UINT32_MAX);
    h[KB_OFF_MAGIC] = 2;
    s_put_be16(h + 21, 0); /* no compression, create time, not transactional */
    vl_put_be32(h + 23, (uint32_t)(n - 1));
    vl_put_be64(h + 27, (uint64_t)first_ts);
    vl_put_be64(h + 35, (uint64_t)max_ts);
    vl_put_be64(h + 43, UINT64_MAX); /* producer id -1 */
    s_put_be16(h + 51, UINT16_MAX);  /* producer epoch -1 */
    vl_put_be32(h + 53, UINT32_MAX); /* base sequence -1 */
    vl_put_be32(h + 57, (uint32_t)n);
    vl_put_be32(h + KB_OFF_CRC, vl_crc32c(0, h + KB_OFF_ATTR, size - KB_OFF_ATTR));
}
