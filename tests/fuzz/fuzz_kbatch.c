/*  fuzz_kbatch.c - libFuzzer target for Kafka record batches and the
    stored form (kov/batch.c, kov/compress.c). Built and run by
    tests/fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined).

    The first input byte picks what is fuzzed: even, vl_kbatch_parse of
    the rest as a Produce record set (the CRC checks would stop almost
    every mutation at the header, so odd-numbered second bytes get their
    batch length and CRC fixed up first, letting the fuzzer reach the
    records and the codecs); odd, vl_krec_decode of the rest as a stored
    entry. Whatever parses must survive the stored form and a built batch
    unchanged; a difference aborts (a finding).
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kov/batch.h"
#include "crc32c.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool s_bytes_same(vl_kbytes_t a, vl_kbytes_t b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static bool s_same(const vl_krecord_t *a, const vl_krecord_t *b)
{
    if (a->timestamp != b->timestamp || !s_bytes_same(a->key, b->key) ||
        !s_bytes_same(a->value, b->value) || a->nheaders != b->nheaders)
        return false;
    for (uint32_t i = 0; i < a->nheaders; i++)
        if (!s_bytes_same(a->headers[i].key, b->headers[i].key) ||
            !s_bytes_same(a->headers[i].value, b->headers[i].value))
            return false;
    return true;
}

/*  Each record through the stored form and a built batch, back. */
static void s_roundtrip(const vl_kbatch_t *b)
{
    const void **ents = vl_calloc(b->nrecords, sizeof *ents);
    size_t *lens = vl_calloc(b->nrecords, sizeof *lens);
    for (uint32_t i = 0; i < b->nrecords; i++) {
        lens[i] = vl_krec_size(&b->records[i]);
        uint8_t *e = vl_malloc(lens[i] + 1);
        vl_krec_encode(&b->records[i], e);
        ents[i] = e;
    }
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    const int64_t plain_ts = 12345;
    vl_kbatch_build(0, ents, lens, b->nrecords, plain_ts, &out, &out_len, &out_cap);
    vl_kbatch_t *v;
    size_t n;
    char err[256];
    if (vl_kbatch_parse(out, out_len, SIZE_MAX, &v, &n, err, sizeof err) || n != 1 ||
        v[0].nrecords != b->nrecords) {
        fprintf(stderr, "a built batch does not parse: %s\n", err);
        abort();
    }
    for (uint32_t i = 0; i < b->nrecords; i++) {
        vl_krecord_t want = b->records[i];
        const uint8_t *e = ents[i];
        if (!(lens[i] >= VL_KREC_MAGIC_LEN && memcmp(e, VL_KREC_MAGIC, VL_KREC_MAGIC_LEN) == 0))
            want.timestamp = plain_ts; /* stored plain */
        if (!s_same(&want, &v[0].records[i])) {
            fprintf(stderr, "record %u changed on its way through the stored form\n", i);
            abort();
        }
        free((void *)ents[i]);
    }
    vl_kbatch_free(&v[0]);
    free(v);
    free(out);
    free(ents);
    free(lens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (data[0] & 1) {
        vl_kheader_t h[4];
        vl_krecord_t r;
        uint32_t nh = vl_krec_decode(data + 1, size - 1, 0, h, 4, &r);
        if (r.nheaders != (nh < 4 ? nh : 4))
            abort();
        return 0;
    }
    size_t len = size - 2;
    uint8_t *buf = vl_malloc(len + 1);
    memcpy(buf, data + 2, len);
    if ((data[1] & 1) && len >= 61) {
        uint32_t blen = (uint32_t)(len - 12);
        vl_put_be32(buf + 8, blen);
        vl_put_be32(buf + 17, vl_crc32c(0, buf + 21, len - 21));
    }
    vl_kbatch_t *v;
    size_t n;
    char err[256];
    if (vl_kbatch_parse(buf, len, 1 << 20, &v, &n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++) {
            s_roundtrip(&v[i]);
            vl_kbatch_free(&v[i]);
        }
        free(v);
    } else if (err[0] == 0) {
        abort(); /* every error has a message */
    }
    free(buf);
    return 0;
}
