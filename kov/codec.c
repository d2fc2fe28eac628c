/*  codec.c - Kafka wire primitives: the checked reader, the growable writer.

    Kafka integers are big-endian two's complement; the varints of record
    fields are protobuf's (7 bits a byte, low first), signed ones zigzag
    encoded. A varint longer than its type allows is an error, not a
    silently truncated value.
*/
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "util.h"

/* ---- reader ---------------------------------------------------------------- */

void vl_kr_init(vl_kr_t *r, const void *data, size_t len)
{
    r->p = data;
    r->len = len;
    r->pos = 0;
    r->err = false;
    r->what = NULL;
}

void vl_kr_fail(vl_kr_t *r, const char *what)
{
    if (!r->err) {
        r->err = true;
        r->what = what;
    }
}

/*  The next n bytes, or NULL with the reader failed. */
static const uint8_t *s_take(vl_kr_t *r, size_t n, const char *what)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->pos) {
        vl_kr_fail(r, what);
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

int8_t vl_kr_i8(vl_kr_t *r)
{
    const uint8_t *p = s_take(r, 1, "truncated int8");
    return p ? (int8_t)p[0] : 0;
}

int16_t vl_kr_i16(vl_kr_t *r)
{
    const uint8_t *p = s_take(r, 2, "truncated int16");
    return p ? (int16_t)(uint16_t)((p[0] << 8) | p[1]) : 0;
}

int32_t vl_kr_i32(vl_kr_t *r)
{
    const uint8_t *p = s_take(r, 4, "truncated int32");
    return p ? (int32_t)vl_get_be32(p) : 0;
}

int64_t vl_kr_i64(vl_kr_t *r)
{
    const uint8_t *p = s_take(r, 8, "truncated int64");
    return p ? (int64_t)vl_get_be64(p) : 0;
}

bool vl_kr_bool(vl_kr_t *r)
{
    return vl_kr_i8(r) != 0;
}

/*  An unsigned varint of at most maxbytes bytes. */
static uint64_t s_uvarint(vl_kr_t *r, int maxbytes)
{
    uint64_t v = 0;
    for (int i = 0; i < maxbytes; i++) {
        const uint8_t *p = s_take(r, 1, "truncated varint");
        if (!p)
            return 0;
        v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
        if (!(p[0] & 0x80)) {
            /* the last byte of a 5-byte u32 (10-byte u64) holds 4 (1) bits */
            if (i == maxbytes - 1 && (p[0] >> (maxbytes == 5 ? 4 : 1)) != 0) {
                vl_kr_fail(r, "varint too large");
                return 0;
            }
            return v;
        }
    }
    vl_kr_fail(r, "varint too long");
    return 0;
}

uint32_t vl_kr_uvarint(vl_kr_t *r)
{
    return (uint32_t)s_uvarint(r, 5);
}

int32_t vl_kr_varint(vl_kr_t *r)
{
    uint32_t u = (uint32_t)s_uvarint(r, 5);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t vl_kr_varlong(vl_kr_t *r)
{
    uint64_t u = s_uvarint(r, 10);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

static vl_kstr_t s_sized(vl_kr_t *r, int64_t len, const char *what)
{
    vl_kstr_t s = {.ptr = NULL, .len = -1};
    if (r->err)
        return s;
    if (len < -1) {
        vl_kr_fail(r, "negative length");
        return s;
    }
    if (len == -1)
        return s;
    s.ptr = s_take(r, (size_t)len, what);
    s.len = s.ptr ? (int32_t)len : -1;
    return s;
}

vl_kstr_t vl_kr_str(vl_kr_t *r, bool flex)
{
    int64_t len = flex ? (int64_t)vl_kr_uvarint(r) - 1 : vl_kr_i16(r);
    return s_sized(r, len, "string longer than the request");
}

vl_kstr_t vl_kr_bytes(vl_kr_t *r, bool flex)
{
    int64_t len = flex ? (int64_t)vl_kr_uvarint(r) - 1 : vl_kr_i32(r);
    return s_sized(r, len, "bytes longer than the request");
}

char *vl_kr_strdup(vl_kr_t *r, bool flex)
{
    vl_kstr_t s = vl_kr_str(r, flex);
    if (r->err)
        return NULL;
    if (s.len < 0 || memchr(s.ptr, 0, (size_t)s.len)) {
        vl_kr_fail(r, s.len < 0 ? "null string where a name is required" : "NUL in a string");
        return NULL;
    }
    char *out = vl_malloc((size_t)s.len + 1);
    memcpy(out, s.ptr, (size_t)s.len);
    out[s.len] = '\0';
    return out;
}

char *vl_kstr_dup(vl_kstr_t s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *out = vl_malloc(n + 1);
    if (n)
        memcpy(out, s.ptr, n);
    out[n] = '\0';
    return out;
}

int32_t vl_kr_array(vl_kr_t *r, bool flex, size_t min_size)
{
    int64_t n = flex ? (int64_t)vl_kr_uvarint(r) - 1 : vl_kr_i32(r);
    if (r->err)
        return 0;
    if (n < -1) {
        vl_kr_fail(r, "negative array count");
        return 0;
    }
    if (n > 0 && (uint64_t)n > (r->len - r->pos) / (min_size ? min_size : 1)) {
        vl_kr_fail(r, "array count larger than the request");
        return 0;
    }
    return (int32_t)n;
}

void vl_kr_tags(vl_kr_t *r)
{
    uint32_t n = vl_kr_uvarint(r);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        (void)vl_kr_uvarint(r); /* tag */
        uint32_t size = vl_kr_uvarint(r);
        (void)s_take(r, size, "tagged field longer than the request");
    }
}

void vl_kr_skip(vl_kr_t *r, size_t n)
{
    (void)s_take(r, n, "truncated field");
}

bool vl_kr_req_hdr(vl_kr_t *r, vl_kreq_hdr_t *h)
{
    h->api_key = vl_kr_i16(r);
    h->api_version = vl_kr_i16(r);
    h->correlation_id = vl_kr_i32(r);
    h->client_id = vl_kr_str(r, false);
    return !r->err;
}

/* ---- writer ---------------------------------------------------------------- */

void vl_kw_init(vl_kw_t *w)
{
    w->buf = NULL;
    w->len = w->cap = 0;
}

void vl_kw_free(vl_kw_t *w)
{
    free(w->buf);
    vl_kw_init(w);
}

uint8_t *vl_kw_put(vl_kw_t *w, size_t n)
{
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n)
            cap *= 2;
        w->buf = vl_realloc(w->buf, cap);
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void vl_kw_raw(vl_kw_t *w, const void *data, size_t n)
{
    if (n)
        memcpy(vl_kw_put(w, n), data, n);
}

void vl_kw_i8(vl_kw_t *w, int8_t v)
{
    *vl_kw_put(w, 1) = (uint8_t)v;
}

void vl_kw_i16(vl_kw_t *w, int16_t v)
{
    uint8_t *p = vl_kw_put(w, 2);
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}

void vl_kw_i32(vl_kw_t *w, int32_t v)
{
    vl_put_be32(vl_kw_put(w, 4), (uint32_t)v);
}

void vl_kw_i64(vl_kw_t *w, int64_t v)
{
    vl_put_be64(vl_kw_put(w, 8), (uint64_t)v);
}

void vl_kw_bool(vl_kw_t *w, bool v)
{
    vl_kw_i8(w, v ? 1 : 0);
}

static void s_uvarint64(vl_kw_t *w, uint64_t v)
{
    while (v >= 0x80) {
        vl_kw_i8(w, (int8_t)(uint8_t)(v | 0x80));
        v >>= 7;
    }
    vl_kw_i8(w, (int8_t)(uint8_t)v);
}

void vl_kw_uvarint(vl_kw_t *w, uint32_t v)
{
    s_uvarint64(w, v);
}

void vl_kw_varint(vl_kw_t *w, int32_t v)
{
    s_uvarint64(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void vl_kw_varlong(vl_kw_t *w, int64_t v)
{
    s_uvarint64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void vl_kw_str(vl_kw_t *w, bool flex, const char *s)
{
    vl_kw_strn(w, flex, s, s ? (int32_t)strlen(s) : -1);
}

void vl_kw_strn(vl_kw_t *w, bool flex, const void *s, int32_t len)
{
    if (flex)
        vl_kw_uvarint(w, (uint32_t)(len + 1));
    else
        vl_kw_i16(w, (int16_t)len);
    if (len > 0)
        vl_kw_raw(w, s, (size_t)len);
}

void vl_kw_bytes(vl_kw_t *w, bool flex, const void *data, int32_t len)
{
    if (flex)
        vl_kw_uvarint(w, (uint32_t)(len + 1));
    else
        vl_kw_i32(w, len);
    if (len > 0)
        vl_kw_raw(w, data, (size_t)len);
}

void vl_kw_array(vl_kw_t *w, bool flex, int32_t n)
{
    if (flex)
        vl_kw_uvarint(w, (uint32_t)(n + 1));
    else
        vl_kw_i32(w, n);
}

void vl_kw_tags(vl_kw_t *w)
{
    vl_kw_uvarint(w, 0);
}

void vl_kw_i32_at(vl_kw_t *w, size_t pos, int32_t v)
{
    vl_put_be32(w->buf + pos, (uint32_t)v);
}

void vl_kw_resp_hdr(vl_kw_t *w, int32_t correlation_id, bool hdr_v1)
{
    vl_kw_i32(w, 0); /* frame size, vl_kw_frame_end */
    vl_kw_i32(w, correlation_id);
    if (hdr_v1)
        vl_kw_tags(w);
}

void vl_kw_frame_end(vl_kw_t *w)
{
    vl_kw_i32_at(w, 0, (int32_t)(w->len - 4));
}
