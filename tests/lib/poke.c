/*  poke.c - sends malformed input to a varlog daemon and checks it survives.

    Usage: vl_poke ENDPOINT
    Sends random frames, a truncated header, a wrong magic, a wrong protocol
    version, an unknown type, bodies whose counts and string lengths claim
    far more than they hold (a huge declared length), too many frames and
    an oversized append; after each it sends a PING and fails (exit 1) unless
    the daemon answers within 3 s. Replies to the bad messages themselves
    are drained and ignored. Exit 0 when the daemon served every PING.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "wire.h"

static zsock_t *s_sock;
static uint64_t s_next_id = 1;

static int s_ping(const char *what)
{
    vl_hdr_t h = {.type = VL_MSG_PING, .request_id = 1000000 + s_next_id++};
    zmsg_t *msg = vl_wire_msg(&h, NULL);
    zmsg_send(&msg, s_sock);
    zpoller_t *poller = zpoller_new(s_sock, NULL);
    int64_t deadline = zclock_mono() + 3000;
    int ok = 0;
    while (!ok && zclock_mono() < deadline) {
        if (!zpoller_wait(poller, (int)(deadline - zclock_mono())))
            break;
        zmsg_t *reply = zmsg_recv(s_sock);
        vl_hdr_t rh;
        vl_rbuf_t body;
        if (reply && vl_wire_parse(reply, &rh, &body) == 0 && rh.request_id == h.request_id &&
            rh.type == (VL_MSG_PING | VL_MSG_REPLY))
            ok = 1;
        zmsg_destroy(&reply);
    }
    zpoller_destroy(&poller);
    if (!ok) {
        fprintf(stderr, "vl_poke: no PING reply after %s\n", what);
        return 1;
    }
    return 0;
}

static void s_send_frames(int n, const void *const *data, const size_t *len)
{
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < n; i++)
        zmsg_addmem(msg, data[i], len[i]);
    zmsg_send(&msg, s_sock);
}

static void s_header(uint8_t *h, uint32_t magic, uint16_t version, uint16_t type)
{
    vl_put_le32(h, magic);
    vl_put_le16(h + 4, version);
    vl_put_le16(h + 6, type);
    vl_put_le64(h + 8, s_next_id++);
    vl_put_le32(h + 16, 1);
    vl_put_le32(h + 20, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vl_poke ENDPOINT\n");
        return 2;
    }
    zsys_init();
    s_sock = zsock_new_dealer(argv[1]);
    if (!s_sock) {
        fprintf(stderr, "vl_poke: cannot connect to %s\n", argv[1]);
        return 2;
    }
    zsock_set_linger(s_sock, 0);
    int failed = s_ping("connecting");
    srand(42);

    /* random frames */
    for (int i = 0; i < 200 && !failed; i++) {
        uint8_t buf[256];
        size_t len = (size_t)(rand() % sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rand();
        const void *d[] = {buf, buf};
        size_t l[] = {len, len / 2};
        s_send_frames(1 + rand() % 2, d, l);
    }
    failed |= s_ping("random frames");

    uint8_t h[VL_WIRE_HDR_SIZE];
    /* truncated header */
    s_header(h, VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_GET_META);
    {
        const void *d[] = {h};
        size_t l[] = {10};
        s_send_frames(1, d, l);
    }
    failed |= s_ping("a truncated header");

    /* wrong magic, wrong version, unknown types */
    uint16_t types[] = {0, VL_MSG_TYPE_MAX, 0x7fff, 0xffff};
    s_header(h, 0xdeadbeef, VL_WIRE_VERSION, VL_MSG_PING);
    {
        const void *d[] = {h, ""};
        size_t l[] = {sizeof h, 0};
        s_send_frames(2, d, l);
        s_header(h, VL_WIRE_MAGIC, 99, VL_MSG_PING);
        s_send_frames(2, d, l);
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            s_header(h, VL_WIRE_MAGIC, VL_WIRE_VERSION, types[i]);
            s_send_frames(2, d, l);
        }
    }
    failed |= s_ping("wrong magic, version and types");

    /* huge declared lengths: every request type with a body that claims
       2^32-1 items or a 65535-byte string but holds 8 bytes */
    for (uint16_t t = 1; t < VL_MSG_TYPE_MAX && !failed; t++) {
        uint8_t body[8];
        memset(body, 0xff, sizeof body);
        s_header(h, VL_WIRE_MAGIC, VL_WIRE_VERSION, t);
        const void *d[] = {h, body};
        size_t l[] = {sizeof h, sizeof body};
        s_send_frames(2, d, l);
        s_header(h, VL_WIRE_MAGIC, VL_WIRE_VERSION, t);
        s_send_frames(1, d, l); /* header without body */
        char what[64];
        snprintf(what, sizeof what, "huge declared lengths in a %s", vl_wire_type_name(t));
        failed |= s_ping(what);
    }

    /* APPENDs and REPLICATEs whose sizes and payload disagree (sizes that
       add up to more than the frame, sizes whose sum overflows 32 bits, no
       payload frame, two payload frames, a payload for no entries), and an
       entry over the maximum entry size */
    for (int replicate = 0; replicate < 2 && !failed; replicate++) {
        struct {
            uint32_t n, size;
            int frames;
            size_t frame_len;
        } cases[] = {
            {5, 10, 1, 8}, {2, UINT32_MAX, 1, 2},
            {1, 8, 0, 0},  {1, 8, 2, 8},
            {0, 0, 1, 8},  {1, VL_MAX_ENTRY_SIZE_DEFAULT * 2, 1, VL_MAX_ENTRY_SIZE_DEFAULT * 2}};
        /* (a REPLICATE of a big entry is well formed: not sent, it could
           land in a backup of a test's cluster) */
        size_t ncases = sizeof cases / sizeof cases[0] - (size_t)replicate;
        for (size_t c = 0; c < ncases; c++) {
            uint8_t sizes[4 * 5];
            for (uint32_t i = 0; i < cases[c].n; i++)
                vl_put_le32(sizes + 4 * i, cases[c].size);
            vl_wbuf_t b;
            vl_wbuf_init(&b);
            vl_append_t a = {
                .topic_id = 1, .ls_id = 1, .n = cases[c].n, .llsn_begin = 1, .sizes = sizes};
            vl_append_encode(&a, replicate, &b);
            vl_hdr_t ah = {.type = replicate ? VL_MSG_REPLICATE : VL_MSG_APPEND,
                           .request_id = s_next_id++};
            zmsg_t *msg = vl_wire_msg(&ah, &b);
            vl_wbuf_free(&b);
            uint8_t *mem = vl_calloc(1, cases[c].frame_len + 1);
            for (int f = 0; f < cases[c].frames; f++)
                zmsg_addmem(msg, mem, cases[c].frame_len);
            free(mem);
            zmsg_send(&msg, s_sock);
        }
    }
    failed |= s_ping("bad appends");

    /* too many frames */
    {
        zmsg_t *msg = zmsg_new();
        s_header(h, VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_APPEND);
        zmsg_addmem(msg, h, sizeof h);
        for (int i = 0; i < VL_WIRE_MAX_ENTRIES + 10; i++)
            zmsg_addmem(msg, "x", 1);
        zmsg_send(&msg, s_sock);
    }
    failed |= s_ping("too many frames");

    zsock_destroy(&s_sock);
    if (!failed)
        printf("vl_poke: %s survived every malformed message\n", argv[1]);
    return failed ? 1 : 0;
}
