/*  crc32c.h - CRC-32C (Castagnoli): the storage node's entry log
    and Kafka's RecordBatch v2 (varlogkov).

    The SSE 4.2 instruction when the CPU has it (picked once, at the first
    call), else a table; both give the same value. Debian's librocksdb is
    built without the instruction, which made its WAL checksum a quarter of
    a busy storage node's CPU time: the entry log checks its records itself.
*/
#ifndef VL_CRC32C_H
#define VL_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/*  Extends crc (0 to start) with len bytes of data. */
uint32_t vl_crc32c(uint32_t crc, const void *data, size_t len);

#endif
