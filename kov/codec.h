/*  codec.h - the Kafka wire primitives of varlogkov: a reader and a writer.

    A request is read with a vl_kr_t over the bytes of one frame. Every read
    checks the bytes it needs against what is left; the first failure sets
    a sticky error (r->err, with a message in r->what) and every later read
    returns zero values, so a handler parses a whole request and checks
    vl_kr_ok() once, as lib/wire.c's vl_rbuf does. Array counts are bounded
    by the bytes left before anything is allocated (an element takes at
    least min_size bytes), so a hostile count cannot make us allocate more
    than the frame's size.

    A response is written into a vl_kw_t, a growable buffer (allocation
    failure aborts, like everything else built on vl_malloc). The compact
    (flexible, KIP-482) forms of strings, bytes and arrays are chosen by a
    `flex` argument: length + 1 as an unsigned varint, 0 for null. Tagged
    fields are skipped on read and written empty.

    Headers: request header v1 (api key, version, correlation id, nullable
    client id) and v2 (v1 + tagged fields); response header v0
    (correlation id) and v1 (v0 + tagged fields). ApiVersions responses
    always use header v0 (KIP-511), whatever the request's version.
*/
#ifndef VL_KOV_CODEC_H
#define VL_KOV_CODEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Kafka error codes the server and handlers answer with. */
#define VL_KERR_NONE 0
#define VL_KERR_UNKNOWN_SERVER_ERROR (-1)
#define VL_KERR_OFFSET_OUT_OF_RANGE 1
#define VL_KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define VL_KERR_REQUEST_TIMED_OUT 7
#define VL_KERR_INVALID_TOPIC 17
#define VL_KERR_INVALID_REQUIRED_ACKS 21
#define VL_KERR_UNSUPPORTED_VERSION 35
#define VL_KERR_TOPIC_ALREADY_EXISTS 36
#define VL_KERR_INVALID_PARTITIONS 37
#define VL_KERR_INVALID_REPLICATION_FACTOR 38
#define VL_KERR_INVALID_REPLICA_ASSIGNMENT 39
#define VL_KERR_INVALID_CONFIG 40
#define VL_KERR_INVALID_REQUEST 42
#define VL_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53
#define VL_KERR_KAFKA_STORAGE_ERROR 56

/*  A string or bytes field: ptr into the frame (borrowed), len -1 for null. */
typedef struct {
    const uint8_t *ptr;
    int32_t len;
} vl_kstr_t;

/*  ---- reader ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p; /* borrowed */
    size_t len, pos;
    bool err;         /* sticky: set by the first read that failed */
    const char *what; /* what failed (static text) */
} vl_kr_t;

void vl_kr_init(vl_kr_t *r, const void *data, size_t len);
static inline bool vl_kr_ok(const vl_kr_t *r)
{
    return !r->err;
}
static inline size_t vl_kr_left(const vl_kr_t *r)
{
    return r->err ? 0 : r->len - r->pos;
}
/*  Marks the reader failed with a static message (first one kept). */
void vl_kr_fail(vl_kr_t *r, const char *what);

int8_t vl_kr_i8(vl_kr_t *r);
int16_t vl_kr_i16(vl_kr_t *r);
int32_t vl_kr_i32(vl_kr_t *r);
int64_t vl_kr_i64(vl_kr_t *r);
bool vl_kr_bool(vl_kr_t *r);
/*  Unsigned varint of at most 5 bytes (a u32), and the zigzag varint
    (i32) and varlong (i64, at most 10 bytes) of record fields. */
uint32_t vl_kr_uvarint(vl_kr_t *r);
int32_t vl_kr_varint(vl_kr_t *r);
int64_t vl_kr_varlong(vl_kr_t *r);

/*  A (nullable) string: int16 length (flex: uvarint length+1), -1 null.
    The bytes are checked to be there, not copied. */
vl_kstr_t vl_kr_str(vl_kr_t *r, bool flex);
/*  A (nullable) bytes field: int32 length (flex: uvarint length+1). */
vl_kstr_t vl_kr_bytes(vl_kr_t *r, bool flex);
/*  A non-null string copied NUL-terminated (caller frees), or NULL with
    the reader failed (null, or a NUL byte inside). */
char *vl_kr_strdup(vl_kr_t *r, bool flex);
/*  s copied NUL-terminated ("" for null; a NUL inside ends it early: the
    name checks see s itself). Caller frees. */
char *vl_kstr_dup(vl_kstr_t s);

/*  An array's count: int32 (flex: uvarint count+1); -1 for a null array.
    Fails when count * min_size exceeds the bytes left, so callers may
    allocate count elements. min_size >= 1. */
int32_t vl_kr_array(vl_kr_t *r, bool flex, size_t min_size);

/*  Skips a tagged-field section (count, then tag, size, data each). */
void vl_kr_tags(vl_kr_t *r);

/*  Skips n bytes. */
void vl_kr_skip(vl_kr_t *r, size_t n);

/*  The fields of a request header. */
typedef struct {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    vl_kstr_t client_id; /* borrowed from the frame */
} vl_kreq_hdr_t;

/*  Reads request header v1 (api key, version, correlation id, nullable
    client id); a v2 header follows with vl_kr_tags once the caller knows
    the request is flexible. Returns vl_kr_ok(r). */
bool vl_kr_req_hdr(vl_kr_t *r, vl_kreq_hdr_t *h);

/*  ---- writer ------------------------------------------------------------ */

typedef struct {
    uint8_t *buf; /* owned */
    size_t len, cap;
} vl_kw_t;

void vl_kw_init(vl_kw_t *w);
void vl_kw_free(vl_kw_t *w);
/*  Makes room for n more bytes and returns where they go (len advanced). */
uint8_t *vl_kw_put(vl_kw_t *w, size_t n);
void vl_kw_raw(vl_kw_t *w, const void *data, size_t n);

void vl_kw_i8(vl_kw_t *w, int8_t v);
void vl_kw_i16(vl_kw_t *w, int16_t v);
void vl_kw_i32(vl_kw_t *w, int32_t v);
void vl_kw_i64(vl_kw_t *w, int64_t v);
void vl_kw_bool(vl_kw_t *w, bool v);
void vl_kw_uvarint(vl_kw_t *w, uint32_t v);
void vl_kw_varint(vl_kw_t *w, int32_t v);
void vl_kw_varlong(vl_kw_t *w, int64_t v);

/*  A string: s NUL-terminated, NULL for a null string. */
void vl_kw_str(vl_kw_t *w, bool flex, const char *s);
/*  A string or bytes of len bytes (len -1: null). */
void vl_kw_strn(vl_kw_t *w, bool flex, const void *s, int32_t len);
void vl_kw_bytes(vl_kw_t *w, bool flex, const void *data, int32_t len);
/*  An array's count (-1: null); the elements follow. */
void vl_kw_array(vl_kw_t *w, bool flex, int32_t n);
/*  An empty tagged-field section. */
void vl_kw_tags(vl_kw_t *w);

/*  Writes an int32 at an earlier position (a size or count known later). */
void vl_kw_i32_at(vl_kw_t *w, size_t pos, int32_t v);

/*  Starts a response frame: a 4-byte size placeholder, the correlation id
    and, for header v1, an empty tagged-field section. */
void vl_kw_resp_hdr(vl_kw_t *w, int32_t correlation_id, bool hdr_v1);
/*  Fills in the frame size of a response begun at position 0. */
void vl_kw_frame_end(vl_kw_t *w);

#endif
