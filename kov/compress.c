/*  compress.c - decompression of Kafka record batches: gzip (zlib),
    snappy (libsnappy's C API, raw and xerial framing), lz4 (frame format,
    liblz4) and zstd (libzstd), each streaming into a bounded buffer.

    The output buffer grows by doubling up to max_bytes + 1 bytes: a codec
    that fills that last byte has more than max_bytes to give, so the batch
    is refused with MESSAGE_TOO_LARGE without decoding the rest. Snappy
    states its uncompressed size up front, which is checked before the
    buffer is allocated. zstd's window is bounded by the library's default
    limit (2^27 bytes); a frame asking for more is refused as corrupt.
    Concatenated gzip members, lz4 frames and zstd frames are accepted, as
    the Java client's decoders do; bytes after the last one are not.
*/
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include "batch.h"
#include "compress.h"
#include "util.h"

#define KC_FIRST_CAP (64 * 1024)
#define KC_HINT_MAX (64 * 1024 * 1024) /* a stated size past this is grown to */

/*  xerial's snappy-java framing: a 16-byte header (this magic, then a
    version and a compatible version, int32 each), then blocks of
    [int32 big-endian length][raw snappy block]. */
static const uint8_t s_xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define KC_XERIAL_HEADER 16

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t limit; /* max_bytes + 1: reaching it means too large */
} s_out_t;

/*  hint: the size the stream says it decodes to (0: unknown), trusted
    only up to the limit and KC_HINT_MAX: a wrong one costs a realloc,
    never the bound. */
static void s_out_init(s_out_t *o, size_t max_bytes, size_t in_len, size_t hint)
{
    o->limit = max_bytes < SIZE_MAX ? max_bytes + 1 : SIZE_MAX;
    size_t cap = in_len < KC_FIRST_CAP / 4 ? KC_FIRST_CAP : in_len * 4;
    if (hint && hint <= KC_HINT_MAX)
        cap = hint + 1; /* + 1: room to see the end without another pass */
    o->cap = cap < o->limit ? cap : o->limit;
    o->p = vl_malloc(o->cap);
    o->len = 0;
}

/*  More room when the buffer is full; false when it is full at the limit. */
static bool s_out_room(s_out_t *o)
{
    if (o->len < o->cap)
        return true;
    if (o->cap >= o->limit)
        return false;
    o->cap = o->cap > o->limit / 2 ? o->limit : o->cap * 2;
    o->p = vl_realloc(o->p, o->cap);
    return true;
}

static int s_fail(char *why, size_t why_size, int code, const char *codec, const char *what)
{
    if (why && why_size)
        snprintf(why, why_size, "%s: %s", codec, what);
    return code;
}

static int s_too_large(char *why, size_t why_size, const char *codec, size_t max_bytes)
{
    if (why && why_size)
        snprintf(why, why_size,
                 "%s: the records decompress to more than %zu bytes (send smaller batches: "
                 "the producer's batch.size / message.max.bytes)",
                 codec, max_bytes);
    return VL_KERR_MESSAGE_TOO_LARGE;
}

static int s_gzip(const uint8_t *in, size_t len, s_out_t *o, char *why, size_t why_size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* 32: a gzip or a zlib header, whichever the stream has */
    if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "gzip", "inflateInit2 failed");
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len; /* a batch is shorter than 2 GiB (int32 length) */
    int rc = 0;
    for (;;) {
        if (!s_out_room(o)) {
            rc = s_too_large(why, why_size, "gzip", o->limit - 1);
            break;
        }
        z.next_out = o->p + o->len;
        z.avail_out = (uInt)(o->cap - o->len);
        int zr = inflate(&z, Z_NO_FLUSH);
        o->len = o->cap - z.avail_out;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0)
                break;
            inflateReset(&z); /* another gzip member follows */
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "gzip",
                        z.msg ? z.msg : "invalid stream");
            break;
        }
        if (z.avail_in == 0 && z.avail_out > 0) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "gzip", "truncated stream");
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

/*  One raw snappy block appended to o (its stated size checked first). */
static int s_snappy_block(const uint8_t *in, size_t len, s_out_t *o, char *why, size_t why_size)
{
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "snappy",
                      "not a snappy block (bad length prefix)");
    if (n >= o->limit - o->len)
        return s_too_large(why, why_size, "snappy", o->limit - 1);
    if (o->len + n > o->cap) {
        o->cap = o->len + n;
        o->p = vl_realloc(o->p, o->cap);
    }
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)o->p + o->len, &got) != SNAPPY_OK ||
        got != n)
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "snappy", "corrupt block");
    o->len += n;
    return 0;
}

static int s_snappy(const uint8_t *in, size_t len, s_out_t *o, char *why, size_t why_size)
{
    if (len < KC_XERIAL_HEADER || memcmp(in, s_xerial_magic, sizeof s_xerial_magic) != 0)
        return s_snappy_block(in, len, o, why, why_size);
    size_t pos = KC_XERIAL_HEADER;
    while (pos < len) {
        if (len - pos < 4)
            return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "snappy",
                          "xerial framing: a block length cut short");
        uint32_t n = vl_get_be32(in + pos);
        pos += 4;
        if (n > len - pos)
            return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "snappy",
                          "xerial framing: a block longer than the bytes left");
        int rc = s_snappy_block(in + pos, n, o, why, why_size);
        if (rc)
            return rc;
        pos += n;
    }
    return 0;
}

static int s_lz4(const uint8_t *in, size_t len, s_out_t *o, char *why, size_t why_size)
{
    LZ4F_dctx *d;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "lz4", "no decompression context");
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        if (!s_out_room(o)) {
            rc = s_too_large(why, why_size, "lz4", o->limit - 1);
            break;
        }
        size_t src = len - pos, dst = o->cap - o->len;
        size_t ret = LZ4F_decompress(d, o->p + o->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(ret)) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "lz4", LZ4F_getErrorName(ret));
            break;
        }
        pos += src;
        o->len += dst;
        if (pos == len && ret == 0)
            break; /* the last frame ended with the input */
        if (pos == len && dst == 0 && o->len < o->cap) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "lz4", "truncated frame");
            break;
        }
    }
    LZ4F_freeDecompressionContext(d);
    return rc;
}

static int s_zstd(const uint8_t *in, size_t len, s_out_t *o, char *why, size_t why_size)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!z)
        abort(); /* allocation failure: the one wrapper's policy */
    ZSTD_initDStream(z);
    ZSTD_inBuffer ib = {in, len, 0};
    int rc = 0;
    for (;;) {
        if (!s_out_room(o)) {
            rc = s_too_large(why, why_size, "zstd", o->limit - 1);
            break;
        }
        ZSTD_outBuffer ob = {o->p, o->cap, o->len};
        size_t ret = ZSTD_decompressStream(z, &ob, &ib);
        if (ZSTD_isError(ret)) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "zstd", ZSTD_getErrorName(ret));
            break;
        }
        o->len = ob.pos;
        if (ib.pos == ib.size && ret == 0)
            break; /* the last frame ended with the input */
        if (ib.pos == ib.size && ob.pos < ob.size) {
            rc = s_fail(why, why_size, VL_KERR_CORRUPT_MESSAGE, "zstd", "truncated frame");
            break;
        }
    }
    ZSTD_freeDStream(z);
    return rc;
}

/*  The decoded size a stream states, when it states one: a single zstd
    frame's content size (librdkafka's zstd batches have it), an lz4 frame's
    content size (when the producer set it), gzip's ISIZE trailer (the
    size modulo 2^32 of the last member). 0 when unknown. */
static size_t s_size_hint(int codec, const uint8_t *in, size_t len)
{
    if (codec == VL_KCODEC_ZSTD) {
        unsigned long long n = ZSTD_getFrameContentSize(in, len);
        return n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || n > SIZE_MAX / 2
                   ? 0
                   : (size_t)n;
    }
    if (codec == VL_KCODEC_GZIP && len >= 18)
        return vl_get_le32(in + len - 4);
    if (codec == VL_KCODEC_LZ4) {
        LZ4F_dctx *d;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
            return 0;
        LZ4F_frameInfo_t info;
        size_t n = len;
        size_t rc = LZ4F_getFrameInfo(d, &info, in, &n);
        LZ4F_freeDecompressionContext(d);
        return LZ4F_isError(rc) || info.contentSize > SIZE_MAX / 2 ? 0
                                                                   : (size_t)info.contentSize;
    }
    return 0;
}

const char *vl_kcompress_name(int codec)
{
    static const char *names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec <= VL_KCODEC_ZSTD ? names[codec] : "unknown";
}

int vl_kcompress_decompress(int codec, const uint8_t *in, size_t len, size_t max_bytes,
                            uint8_t **out, size_t *out_len, char *errbuf, size_t errbuf_size)
{
    *out = NULL;
    *out_len = 0;
    if (codec < VL_KCODEC_GZIP || codec > VL_KCODEC_ZSTD) {
        if (errbuf && errbuf_size)
            snprintf(errbuf, errbuf_size, "compression codec %d is not one Kov knows", codec);
        return VL_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    s_out_t o;
    s_out_init(&o, max_bytes, len, s_size_hint(codec, in, len));
    int rc;
    switch (codec) {
    case VL_KCODEC_GZIP:
        rc = s_gzip(in, len, &o, errbuf, errbuf_size);
        break;
    case VL_KCODEC_SNAPPY:
        rc = s_snappy(in, len, &o, errbuf, errbuf_size);
        break;
    case VL_KCODEC_LZ4:
        rc = s_lz4(in, len, &o, errbuf, errbuf_size);
        break;
    default:
        rc = s_zstd(in, len, &o, errbuf, errbuf_size);
        break;
    }
    if (rc) {
        free(o.p);
        return rc;
    }
    *out = o.p;
    *out_len = o.len;
    return 0;
}
