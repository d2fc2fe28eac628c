/*  fuzz_kcodec.c - libFuzzer target of varlogkov's Kafka codec
    (kov/codec.c): a request header, then reads of every kind in an order
    the input itself picks (one byte an operation), as the API handlers
    make them. The reader must stop at the first bad length with its
    sticky error, never read past the bytes nor allocate for a count the
    bytes cannot hold.
*/
#include <stdint.h>
#include <stdlib.h>
#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vl_kr_t r;
    vl_kr_init(&r, data, size);
    vl_kreq_hdr_t h;
    if (!vl_kr_req_hdr(&r, &h))
        return 0;
    bool flex = h.api_version & 1;
    while (vl_kr_ok(&r) && vl_kr_left(&r) > 0) {
        switch (vl_kr_i8(&r) & 15) {
        case 0: vl_kr_i16(&r); break;
        case 1: vl_kr_i32(&r); break;
        case 2: vl_kr_i64(&r); break;
        case 3: vl_kr_uvarint(&r); break;
        case 4: vl_kr_varint(&r); break;
        case 5: vl_kr_varlong(&r); break;
        case 6: vl_kr_str(&r, flex); break;
        case 7: vl_kr_bytes(&r, flex); break;
        case 8: free(vl_kr_strdup(&r, flex)); break;
        case 9: {
            int32_t n = vl_kr_array(&r, flex, 4);
            for (int32_t i = 0; i < n && vl_kr_ok(&r); i++)
                vl_kr_i32(&r);
            break;
        }
        case 10: vl_kr_tags(&r); break;
        case 11: vl_kr_bool(&r); break;
        case 12: vl_kr_skip(&r, vl_kr_left(&r) / 2 + 1); break;
        default: flex = !flex; break;
        }
    }
    return 0;
}
