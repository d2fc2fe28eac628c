/*  batch.h - Kafka RecordBatch v2 and the form Kov stores a record in.

    A Produce request carries record batches (magic 2): a 61-byte header
    (base offset, length, leader epoch, magic, CRC-32C of everything after
    the CRC, attributes, last offset delta, first/max timestamp, producer
    id/epoch, base sequence, record count) then records, compressed as a
    whole by gzip, snappy (raw or xerial framing), lz4 (frame) or zstd when
    the attributes say so. vl_kbatch_parse validates all of it (every
    length checked before use, decompressed size bounded) and yields the
    records; vl_kbatch_build makes an uncompressed batch for a Fetch
    response from stored entries.

    Stored form (one varlog entry per Kafka record):
    - a record with a null key, no headers and a non-null value that does
      not begin with VL_KREC_MAGIC is stored as its value bytes alone (an
      empty value as a zero-length entry, which varlog stores), so
      `cat` of the varlog topic shows what a producer sent and a line
      written with `echo >>` is a record a consumer reads (its timestamp
      is not kept: Fetch reports such a record with the timestamp given
      to vl_kbatch_build);
    - every other record (a value that itself begins with the magic
      included) is stored as VL_KREC_MAGIC followed by its timestamp, key,
      value and headers (the encoding is in batch.c and doc/KOV.md,
      "Stored form"), so keys, null values, headers and timestamps
      round-trip exactly.
    An entry that begins with VL_KREC_MAGIC but does not decode in full is
    read back as a plain value (it was written by something other than Kov).
*/
#ifndef VL_KOV_BATCH_H
#define VL_KOV_BATCH_H
#include <stddef.h>
#include <stdint.h>

#define VL_KREC_MAGIC "\0kv\1"
#define VL_KREC_MAGIC_LEN 4

/*  Kafka error codes these functions return (positive Kafka codes, 0 = ok). */
#define VL_KERR_CORRUPT_MESSAGE 2
#define VL_KERR_MESSAGE_TOO_LARGE 10
#define VL_KERR_INVALID_RECORD 87
#define VL_KERR_UNSUPPORTED_COMPRESSION_TYPE 76
#define VL_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT 43

typedef struct {
    int32_t len;        /* -1: null */
    const uint8_t *ptr; /* borrowed */
} vl_kbytes_t;

typedef struct {
    vl_kbytes_t key;
    vl_kbytes_t value;
} vl_kheader_t;

/*  One record of a batch. Pointers are borrowed from the batch (the
    request, or its decompressed buffer): valid until vl_kbatch_free. */
typedef struct {
    int64_t timestamp;  /* absolute: batch first timestamp + delta */
    int32_t offset_delta;
    vl_kbytes_t key;
    vl_kbytes_t value;
    uint32_t nheaders;
    vl_kheader_t *headers; /* nheaders of them */
} vl_krecord_t;

typedef struct {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int16_t attributes;     /* bits 0-2 compression, 3 timestamp type,
                               4 transactional, 5 control */
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;    /* -1: not idempotent */
    int16_t producer_epoch;
    int32_t base_sequence;
    uint32_t nrecords;
    vl_krecord_t *records;  /* nrecords, in order */
    void *owned_;           /* decompressed bytes and arrays; batch.c's */
} vl_kbatch_t;

/*  Parses every record batch in the Produce record set data[0..len) into
    *batches (caller owns; free each with vl_kbatch_free and the array
    with free) and *n. A record set holds one or more batches; clients send
    one per partition per request. max_bytes bounds the size of one batch's
    records (decompressed, or as sent when uncompressed). Returns 0 or a
    VL_KERR_* code: CORRUPT_MESSAGE for a bad CRC, truncation, an invalid
    compressed stream, sizes or counts that disagree with the bytes;
    UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0/1; INVALID_RECORD for
    transactional or control batches (Kov does not do transactions), offset
    deltas other than 0, 1, 2 ..., a record count of 0 or one that
    disagrees with the last offset delta, an empty record set;
    UNSUPPORTED_COMPRESSION_TYPE for codec 5-7; MESSAGE_TOO_LARGE past
    max_bytes. On error *batches is NULL, *n 0, and errbuf (may be NULL)
    says which batch and what was wrong ("batch 0 (at byte 0): CRC 0x..
    != 0x.."). Whether zstd is allowed at the request's Produce version
    (v3+ only, else UNSUPPORTED_COMPRESSION_TYPE) is the caller's check. */
int vl_kbatch_parse(const uint8_t *data, size_t len, size_t max_bytes, vl_kbatch_t **batches,
                    size_t *n, char *errbuf, size_t errbuf_size);

/*  Frees what a parsed batch owns (not the struct itself). NULL-safe. */
void vl_kbatch_free(vl_kbatch_t *batch);

/*  The stored form of record r: its size (vl_krec_size) and the bytes
    written to out (vl_krec_encode writes exactly vl_krec_size(r) bytes). */
size_t vl_krec_size(const vl_krecord_t *r);
void vl_krec_encode(const vl_krecord_t *r, uint8_t *out);

/*  Decodes a stored entry into *r (pointers into data; headers into the
    caller's array hdrs of max_headers slots, r->nheaders set; a plain
    value gets timestamp plain_ts, null key, no headers). Never fails:
    entries that are not Kov's rich form are plain values. Returns the
    number of headers the entry has (may exceed max_headers: call again
    with more room). */
uint32_t vl_krec_decode(const uint8_t *data, size_t len, int64_t plain_ts, vl_kheader_t *hdrs,
                        uint32_t max_headers, vl_krecord_t *r);

/*  Appends to out (a growable buffer: *out, *out_len, *out_cap; realloc'd)
    one uncompressed RecordBatch v2 holding the n stored entries data[i]
    (len[i] bytes) whose Kafka offsets are base_offset .. base_offset+n-1,
    with producer id -1 and a correct CRC-32C. plain_ts is the timestamp
    reported for plain entries. n >= 1. */
void vl_kbatch_build(int64_t base_offset, const void *const *data, const size_t *len, size_t n,
                     int64_t plain_ts, uint8_t **out, size_t *out_len, size_t *out_cap);

#endif
