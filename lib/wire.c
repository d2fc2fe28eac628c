/*  wire.c - the varlog protocol's buffers and framing: the growing write
    buffer and the bounds-checked read cursor every codec uses, the header
    and frames of a message, error replies, message names. The bodies'
    codecs are in wire_body.c.

    Bodies are written with a growing buffer and read with a cursor whose
    first failure is sticky, so a decoder reads all fields and checks once.
    Counts are checked against the bytes left before anything is allocated:
    a message cannot ask for more memory than it is long.
*/
#include <stdarg.h>
#include <string.h>
#include "wire.h"
#include "util.h"

/* ---- writer ---------------------------------------------------------- */

void vl_wbuf_init(vl_wbuf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void vl_wbuf_free(vl_wbuf_t *b)
{
    free(b->data);
    vl_wbuf_init(b);
}

uint8_t *vl_wbuf_grow_slow(vl_wbuf_t *b, size_t n)
{
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n)
        cap *= 2;
    b->data = vl_realloc(b->data, cap);
    b->cap = cap;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void vl_wbuf_reserve(vl_wbuf_t *b, size_t n)
{
    size_t len = b->len;
    vl_wbuf_grow(b, n);
    b->len = len;
}

void vl_wbuf_mem(vl_wbuf_t *b, const void *data, size_t len)
{
    if (len > 0)
        memcpy(vl_wbuf_grow(b, len), data, len);
}

void vl_wbuf_str(vl_wbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    vl_wbuf_u16(b, (uint16_t)n);
    memcpy(vl_wbuf_grow(b, n), s, n);
}

/* ---- reader ---------------------------------------------------------- */

void vl_rbuf_init(vl_rbuf_t *r, const void *data, size_t len)
{
    r->p = data;
    r->left = len;
    r->err = 0;
}

void vl_rbuf_str(vl_rbuf_t *r, char *out, size_t max)
{
    uint16_t n = vl_rbuf_u16(r);
    if (!r->err && n > max)
        r->err = VL_EPROTO;
    const uint8_t *p = vl_rbuf_take(r, r->err ? 0 : n);
    if (!p || r->err) {
        out[0] = '\0';
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    if (memchr(out, '\0', n))
        r->err = VL_EPROTO; /* embedded NUL: not a name or address */
}

uint32_t vl_rbuf_count(vl_rbuf_t *r, uint32_t max, size_t item_size)
{
    uint32_t n = vl_rbuf_u32(r);
    if (r->err)
        return 0;
    if (n > max || (item_size && (uint64_t)n * item_size > r->left)) {
        r->err = VL_EPROTO;
        return 0;
    }
    return n;
}

/* ---- framing ---------------------------------------------------------- */

zmsg_t *vl_wire_msg(const vl_hdr_t *hdr, const vl_wbuf_t *body)
{
    uint8_t h[VL_WIRE_HDR_SIZE];
    vl_put_le32(h, VL_WIRE_MAGIC);
    vl_put_le16(h + 4, VL_WIRE_VERSION);
    vl_put_le16(h + 6, hdr->type);
    vl_put_le64(h + 8, hdr->request_id);
    vl_put_le32(h + 16, hdr->cluster_id);
    vl_put_le32(h + 20, hdr->status);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, h, sizeof h);
    zmsg_addmem(msg, body ? body->data : NULL, body ? body->len : 0);
    return msg;
}

zmsg_t *vl_wire_reply(const vl_hdr_t *req, uint32_t status, const char *fmt, ...)
{
    vl_hdr_t h = *req;
    h.type = (uint16_t)((req->type & ~VL_MSG_REPLY) | VL_MSG_REPLY);
    h.status = status;
    if (status == 0 || !fmt)
        return vl_wire_msg(&h, NULL);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_str(&b, text);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    return msg;
}

int vl_wire_parse(zmsg_t *msg, vl_hdr_t *hdr, vl_rbuf_t *body)
{
    memset(hdr, 0, sizeof *hdr);
    vl_rbuf_init(body, NULL, 0);
    zframe_t *f = zmsg_first(msg);
    if (!f || zframe_size(f) != VL_WIRE_HDR_SIZE)
        return VL_EPROTO;
    const uint8_t *h = zframe_data(f);
    hdr->type = vl_get_le16(h + 6);
    hdr->request_id = vl_get_le64(h + 8);
    hdr->cluster_id = vl_get_le32(h + 16);
    hdr->status = vl_get_le32(h + 20);
    if (vl_get_le32(h) != VL_WIRE_MAGIC)
        return VL_EPROTO;
    if (vl_get_le16(h + 4) != VL_WIRE_VERSION)
        return VL_EVERSION;
    uint16_t base = hdr->type & ~VL_MSG_REPLY;
    if (base == 0 || base >= VL_MSG_TYPE_MAX)
        return VL_EPROTO;
    f = zmsg_next(msg);
    if (!f || zframe_size(f) > VL_WIRE_MAX_BODY)
        return VL_EPROTO;
    if (zmsg_size(msg) > 3) /* header, body, at most one payload frame */
        return VL_EPROTO;
    vl_rbuf_init(body, zframe_data(f), zframe_size(f));
    return 0;
}

int vl_wire_payload(zmsg_t *msg, uint32_t n, uint64_t sum, zframe_t **data_p, char *why,
                    size_t why_size)
{
    *data_p = NULL;
    size_t frames = zmsg_size(msg);
    if (n == 0) {
        if (frames != 2) {
            snprintf(why, why_size, "%zu payload frames for no entries (expected none)",
                     frames < 2 ? (size_t)0 : frames - 2);
            return VL_EPROTO;
        }
        return 0;
    }
    if (frames != 3) {
        snprintf(why, why_size, "%zu payload frames for %u entries (expected one)",
                 frames < 2 ? (size_t)0 : frames - 2, n);
        return VL_EPROTO;
    }
    zframe_t *f = zmsg_last(msg);
    if (zframe_size(f) != sum) {
        snprintf(why, why_size,
                 "the %u entry sizes add up to %llu bytes but the payload frame has %zu", n,
                 (unsigned long long)sum, zframe_size(f));
        return VL_EPROTO;
    }
    *data_p = f;
    return 0;
}

uint64_t vl_wire_sizes_sum(const uint8_t *sizes, uint32_t n)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += vl_wire_size(sizes, i);
    return sum;
}

int vl_wire_send_to(zsock_t *router, zframe_t *rid, zmsg_t **msg_p)
{
    zframe_t *to = zframe_dup(rid);
    zmsg_prepend(*msg_p, &to);
    if (zmsg_send(msg_p, router) == 0)
        return 0;
    zmsg_destroy(msg_p);
    return -1;
}

void vl_wire_errtext(vl_rbuf_t *body, char *out, size_t size)
{
    char text[1024];
    vl_rbuf_t r = *body;
    vl_rbuf_str(&r, text, sizeof text - 1);
    snprintf(out, size, "%s", r.err ? "(no message)" : text);
}

const char *vl_wire_type_name(uint16_t type)
{
    static const char *names[] = {
        [VL_MSG_HELLO] = "HELLO",
        [VL_MSG_REPORT] = "REPORT",
        [VL_MSG_COMMIT] = "COMMIT",
        [VL_MSG_META] = "META",
        [VL_MSG_GET_META] = "GET_META",
        [VL_MSG_CREATE_TOPIC] = "CREATE_TOPIC",
        [VL_MSG_DELETE_TOPIC] = "DELETE_TOPIC",
        [VL_MSG_ADD_SN] = "ADD_SN",
        [VL_MSG_REMOVE_SN] = "REMOVE_SN",
        [VL_MSG_ADD_LS] = "ADD_LS",
        [VL_MSG_TRIM] = "TRIM",
        [VL_MSG_APPEND] = "APPEND",
        [VL_MSG_SUBSCRIBE] = "SUBSCRIBE",
        [VL_MSG_SUB_CREDIT] = "SUB_CREDIT",
        [VL_MSG_SUB_CANCEL] = "SUB_CANCEL",
        [VL_MSG_LOOKUP] = "LOOKUP",
        [VL_MSG_REPLICATE] = "REPLICATE",
        [VL_MSG_SN_STATUS] = "SN_STATUS",
        [VL_MSG_PING] = "PING",
        [VL_MSG_STATUS] = "STATUS",
        [VL_MSG_SEAL] = "SEAL",
        [VL_MSG_UNSEAL] = "UNSEAL",
        [VL_MSG_UPDATE_LS] = "UPDATE_LS",
        [VL_MSG_SYNC] = "SYNC",
        [VL_MSG_SN_SYNC] = "SN_SYNC",
        [VL_MSG_BATCH_STATUS] = "BATCH_STATUS",
        [VL_MSG_MR_STATUS] = "MR_STATUS",
        [VL_MSG_MR_ADD] = "MR_ADD",
        [VL_MSG_MR_REMOVE] = "MR_REMOVE",
        [VL_MSG_MR_TRANSFER] = "MR_TRANSFER",
    };
    uint16_t base = type & ~VL_MSG_REPLY;
    if (base == 0 || base >= VL_MSG_TYPE_MAX)
        return "UNKNOWN";
    return names[base];
}
