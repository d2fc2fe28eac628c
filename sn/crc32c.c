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

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t s_hard(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
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
