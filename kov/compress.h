/*  compress.h - the codecs of Kafka record batches, decompression only.

    A batch's records are compressed as a whole (attributes bits 0-2):
    1 gzip (zlib; a zlib stream or several gzip members are accepted too),
    2 snappy (a raw block as librdkafka sends it, or the xerial framing the
    Java client and kafka-python send), 3 lz4 (the standard frame format),
    4 zstd. Every codec decodes into a buffer that grows up to a bound and
    no further, so a small request that inflates to gigabytes (a zip bomb)
    costs at most the bound before it is refused.
*/
#ifndef VL_KOV_COMPRESS_H
#define VL_KOV_COMPRESS_H
#include <stddef.h>
#include <stdint.h>

#define VL_KCODEC_NONE 0
#define VL_KCODEC_GZIP 1
#define VL_KCODEC_SNAPPY 2
#define VL_KCODEC_LZ4 3
#define VL_KCODEC_ZSTD 4

/*  The name of codec c: "none", "gzip", "snappy", "lz4", "zstd", or
    "unknown" for 5-7. */
const char *vl_kcompress_name(int codec);

/*  Decompresses in[0..len) of codec (1-4) into *out (caller owns, free;
    NULL on error) and *out_len, at most max_bytes. Returns 0, or a Kafka
    code (kov/batch.h): CORRUPT_MESSAGE when the bytes are not a valid
    stream of the codec (errbuf says what the library said),
    MESSAGE_TOO_LARGE when the output would pass max_bytes,
    UNSUPPORTED_COMPRESSION_TYPE for another codec. */
int vl_kcompress_decompress(int codec, const uint8_t *in, size_t len, size_t max_bytes,
                            uint8_t **out, size_t *out_len, char *errbuf, size_t errbuf_size);

#endif
