/*  util.h - small helpers shared by every module (private).

    Allocation failure aborts (as CZMQ and Redis do): the effort goes to I/O
    and network faults instead. Little-endian load/store for the wire and
    big-endian for RocksDB keys (so keys sort by number).
*/
#ifndef VL_UTIL_H
#define VL_UTIL_H
#include <stddef.h>
#include <stdint.h>

void *vl_malloc(size_t n);
void *vl_calloc(size_t n, size_t size);
void *vl_realloc(void *p, size_t n);
char *vl_strdup(const char *s);

/*  Monotonic clock in microseconds. */
int64_t vl_now_us(void);
/*  A random non-zero number (getrandom), for ids that must not collide. */
uint64_t vl_random_u64(void);

static inline void vl_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void vl_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void vl_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t vl_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t vl_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t vl_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline void vl_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void vl_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint32_t vl_get_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t vl_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
