/*  crc32c.c - CRC-32C with the SSE 4.2 instruction or a table (crc32c.h). */
#include "crc32c.h"
#include <pthread.h>
#include <string.h>

static uint32_t s_table[8][256];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static uint32_t (*s_impl)(uint32_t, const uint8_t *, size_t);

/*  Slicing by 8: eight table lookups per 8 bytes. */
static uint32_t s_soft(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= crc; /* little endian: the low 4 bytes meet the CRC */
        crc = s_table[7][v & 0xff] ^ s_table[6][(v >> 8) & 0xff] ^ s_table[5][(v >> 16) & 0xff] ^
              s_table[4][(v >> 24) & 0xff] ^ s_table[3][(v >> 32) & 0xff] ^
              s_table[2][(v >> 40) & 0xff] ^ s_table[1][(v >> 48) & 0xff] ^ s_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = s_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/*  Three streams at once for long inputs (the instruction has a latency of
    three cycles and a throughput of one): blocks of S_LONG bytes, the
    CRCs of the first two then moved past the bytes that follow them by a
    table for S_LONG zero bytes (Mark Adler's method, crc32c.c on
    stackoverflow, rewritten). */
#define S_LONG 8192
static uint32_t s_long[4][256];

/*  GF(2) matrix (32 columns) times vector. */
static uint32_t s_gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1)
            sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void s_gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++)
        square[n] = s_gf2_times(mat, mat[n]);
}

/*  The operator that appends len zero bytes to a raw CRC register. */
static void s_zeros_op(uint32_t *even, size_t len)
{
    uint32_t odd[32];
    odd[0] = 0x82f63b78u; /* one zero bit */
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    s_gf2_square(even, odd); /* two zero bits */
    s_gf2_square(odd, even); /* four */
    do {
        s_gf2_square(even, odd);
        len >>= 1;
        if (len == 0)
            return;
        s_gf2_square(odd, even);
        len >>= 1;
    } while (len);
    for (int n = 0; n < 32; n++)
        even[n] = odd[n];
}

static void s_zeros_table(uint32_t zeros[][256], size_t len)
{
    uint32_t op[32];
    s_zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = s_gf2_times(op, n);
        zeros[1][n] = s_gf2_times(op, n << 8);
        zeros[2][n] = s_gf2_times(op, n << 16);
        zeros[3][n] = s_gf2_times(op, n << 24);
    }
}

static uint32_t s_shift(uint32_t zeros[][256], uint32_t crc)
{
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
           zeros[3][crc >> 24];
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t s_hard(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 3 * S_LONG) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < S_LONG; i += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + i, 8);
            memcpy(&v1, p + S_LONG + i, 8);
            memcpy(&v2, p + 2 * S_LONG + i, 8);
            c = __builtin_ia32_crc32di(c, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c = s_shift(s_long, (uint32_t)c) ^ (uint32_t)c1;
        c = s_shift(s_long, (uint32_t)c) ^ (uint32_t)c2;
        p += 3 * S_LONG;
        len -= 3 * S_LONG;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

static void s_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        s_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            s_table[t][i] = (s_table[t - 1][i] >> 8) ^ s_table[0][s_table[t - 1][i] & 0xff];
    s_impl = s_soft;
    s_zeros_table(s_long, S_LONG);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        s_impl = s_hard;
#endif
}

uint32_t vl_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&s_once, s_init);
    return ~s_impl(~crc, data, len);
}
