/*  kbatch.c - parse throughput of Kafka record batches (kov/batch.c,
    kov/compress.c): a 1 MB batch of 100-byte records, uncompressed and
    compressed with each codec, parsed over and over; prints MB/s (of
    uncompressed record bytes) and records/s per codec, and the cost of
    vl_kbatch_build for a Fetch. A benchmark, not a test: nothing is
    asserted about time. Built by make check; run build/tests/bench/kbatch
    [SECONDS per codec, default 1].
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include "kov/batch.h"
#include "kov/compress.h"
#include "crc32c.h"
#include "util.h"

#define NREC 10000
#define RECLEN 100

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*  The records of batch b (header 61 bytes) compressed with codec into a
    new batch; *len its size. */
static uint8_t *s_recompress(const uint8_t *b, size_t blen, int codec, size_t *len)
{
    const uint8_t *in = b + 61;
    size_t n = blen - 61, cap = n + n / 4 + 1024, clen = cap;
    uint8_t *out = malloc(61 + cap);
    memcpy(out, b, 61);
    uint8_t *z = out + 61;
    switch (codec) {
    case VL_KCODEC_NONE:
        memcpy(z, in, n);
        clen = n;
        break;
    case VL_KCODEC_GZIP: {
        z_stream s;
        memset(&s, 0, sizeof s);
        deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        s.next_in = (Bytef *)in;
        s.avail_in = (uInt)n;
        s.next_out = z;
        s.avail_out = (uInt)cap;
        if (deflate(&s, Z_FINISH) != Z_STREAM_END)
            abort();
        clen = cap - s.avail_out;
        deflateEnd(&s);
        break;
    }
    case VL_KCODEC_SNAPPY:
        if (snappy_compress((const char *)in, n, (char *)z, &clen) != SNAPPY_OK)
            abort();
        break;
    case VL_KCODEC_LZ4:
        clen = LZ4F_compressFrame(z, cap, in, n, NULL);
        if (LZ4F_isError(clen))
            abort();
        break;
    default:
        clen = ZSTD_compress(z, cap, in, n, 3);
        if (ZSTD_isError(clen))
            abort();
    }
    *len = 61 + clen;
    out[22] = (uint8_t)codec; /* attributes, low byte */
    vl_put_be32(out + 8, (uint32_t)(*len - 12));
    vl_put_be32(out + 17, vl_crc32c(0, out + 21, *len - 21));
    return out;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    /* log-like 100-byte lines: a counter and words from a small vocabulary */
    static const char *words[] = {"GET", "POST", "/api/v1/items", "200", "404", "user=", "ms",
                                  "ok",  "INFO", "WARN",          "req", "id=",  "kafka"};
    uint8_t(*recs)[RECLEN] = malloc(sizeof(*recs) * NREC);
    const void **data = malloc(sizeof *data * NREC);
    size_t *lens = malloc(sizeof *lens * NREC);
    uint64_t seed = 42;
    for (int i = 0; i < NREC; i++) {
        int at = snprintf((char *)recs[i], RECLEN, "%08d ", i);
        while (at < RECLEN - 1) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *w = words[(seed >> 33) % 13];
            for (; *w && at < RECLEN - 1; w++)
                recs[i][at++] = (uint8_t)*w;
            if (at < RECLEN - 1)
                recs[i][at++] = ' ';
        }
        recs[i][RECLEN - 1] = '\n';
        data[i] = recs[i];
        lens[i] = RECLEN;
    }
    uint8_t *plain = NULL;
    size_t plain_len = 0, plain_cap = 0;
    double t0 = s_now();
    int builds = 0;
    do {
        plain_len = 0;
        vl_kbatch_build(0, data, lens, NREC, 1700000000000, &plain, &plain_len, &plain_cap);
        builds++;
    } while (s_now() - t0 < secs);
    double bt = (s_now() - t0) / builds;
    printf("kbatch: %d records of %d bytes, a %zu-byte batch\n", NREC, RECLEN, plain_len);
    printf("%-8s %10s %10s %12s %10s\n", "codec", "bytes", "MB/s", "records/s", "codec MB/s");
    printf("%-8s %10zu %10.0f %12.0f\n", "build", plain_len, NREC * RECLEN / bt / 1e6, NREC / bt);
    for (int codec = VL_KCODEC_NONE; codec <= VL_KCODEC_ZSTD; codec++) {
        size_t len;
        uint8_t *b = s_recompress(plain, plain_len, codec, &len);
        int iters = 0;
        t0 = s_now();
        do {
            vl_kbatch_t *v;
            size_t n;
            char err[256];
            if (vl_kbatch_parse(b, len, 64 << 20, &v, &n, err, sizeof err) ||
                v[0].nrecords != NREC) {
                fprintf(stderr, "kbatch: %s: %s\n", vl_kcompress_name(codec), err);
                return 1;
            }
            vl_kbatch_free(&v[0]);
            free(v);
            iters++;
        } while (s_now() - t0 < secs);
        double t = (s_now() - t0) / iters;
        /* the codec alone, for comparison */
        double dt = 0;
        if (codec != VL_KCODEC_NONE) {
            iters = 0;
            t0 = s_now();
            do {
                uint8_t *out;
                size_t out_len;
                if (vl_kcompress_decompress(codec, b + 61, len - 61, 64 << 20, &out, &out_len,
                                            NULL, 0))
                    return 1;
                free(out);
                iters++;
            } while (s_now() - t0 < secs);
            dt = (s_now() - t0) / iters;
        }
        printf("%-8s %10zu %10.0f %12.0f %10.0f\n", vl_kcompress_name(codec), len,
               NREC * RECLEN / t / 1e6, NREC / t, dt ? (plain_len - 61) / dt / 1e6 : 0);
        free(b);
    }
    free(plain);
    free(recs);
    free(data);
    free(lens);
    return 0;
}
