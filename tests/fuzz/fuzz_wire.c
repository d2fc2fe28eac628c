/*  fuzz_wire.c - libFuzzer target of varlog's wire protocol (lib/wire.c,
    lib/wire_body.c): every message body decoder and the frame parser, fed
    arbitrary bytes. The first byte picks the decoder, the rest is the
    body. A decoder must fail or succeed cleanly: no read past the bytes,
    no unbounded allocation, and what it allocated freed by its _free.
    Built and run by tests/fuzz/run.sh (clang, ASan, UBSan); the samples of
    tests/lib/wirefx.c seed the corpus (test_wire_body writes them).
*/
#include <czmq.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*  The frame parser: the bytes split into up to four frames at the
    positions their first bytes name. */
static void s_frames(const uint8_t *data, size_t len)
{
    zmsg_t *msg = zmsg_new();
    size_t at = 0;
    for (int f = 0; f < 4 && at < len; f++) {
        size_t n = len - at;
        if (f < 3 && n > 1) {
            size_t want = data[at] % n;
            n = want ? want : n;
        }
        zmsg_addmem(msg, data + at, n);
        at += n;
    }
    vl_hdr_t hdr;
    vl_rbuf_t body;
    if (vl_wire_parse(msg, &hdr, &body) == 0) {
        zframe_t *payload = NULL;
        char why[128];
        vl_append_t a;
        if (vl_append_decode(&body, false, &a) == 0)
            vl_wire_payload(msg, a.n, vl_wire_sizes_sum(a.sizes, a.n), &payload, why, sizeof why);
    }
    zmsg_destroy(&msg);
}

/*  A REPLICATE's batch names are read through vl_wire_bid. */
static void s_append(vl_rbuf_t *r, bool replicate)
{
    vl_append_t m;
    if (vl_append_decode(r, replicate, &m) != 0)
        return;
    vl_batch_id_t id;
    for (uint32_t i = 0; i < m.nbids; i++)
        vl_wire_bid(m.bids, i, &id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    vl_rbuf_t r;
    vl_rbuf_init(&r, data + 1, size - 1);
    /* the selectors follow the WFX_* order of tests/lib/wirefx.h (its
       samples seed the corpus); then MR_REMOVE's id and the frames */
    union {
        vl_report_t report;
        vl_commit_t commit;
        vl_meta_t meta;
        vl_admin_t admin;
        vl_append_reply_t append_reply;
        vl_subscribe_t subscribe;
        vl_sub_data_t sub_data;
        vl_sn_status_t sn_status;
        vl_seal_reply_t seal_reply;
        vl_sync_t sync;
        vl_sync_reply_t sync_reply;
        vl_batch_status_t batch_status;
        vl_batch_status_reply_t batch_status_reply;
        vl_notleader_t notleader;
        vl_mr_status_t mr_status;
        vl_mr_member_t mr_add;
        uint64_t id;
    } m;
    switch (data[0] % 20) {
    case 0:
        if (vl_report_decode(&r, &m.report) == 0)
            vl_report_free(&m.report);
        break;
    case 1:
        if (vl_commit_decode(&r, &m.commit) == 0)
            vl_commit_free(&m.commit);
        break;
    case 2:
        if (vl_meta_decode(&r, &m.meta) == 0)
            vl_meta_free(&m.meta);
        break;
    case 3:
        vl_admin_decode(&r, &m.admin);
        break;
    case 4:
    case 5:
        s_append(&r, data[0] % 20 == 5);
        break;
    case 6:
        if (vl_append_reply_decode(&r, &m.append_reply) == 0)
            vl_append_reply_free(&m.append_reply);
        break;
    case 7:
        vl_subscribe_decode(&r, &m.subscribe);
        break;
    case 8:
        if (vl_sub_data_decode(&r, &m.sub_data) == 0)
            vl_sub_data_free(&m.sub_data);
        break;
    case 9:
        if (vl_sn_status_decode(&r, &m.sn_status) == 0)
            vl_sn_status_free(&m.sn_status);
        break;
    case 10:
        vl_seal_reply_decode(&r, &m.seal_reply);
        break;
    case 11:
        vl_sync_decode(&r, &m.sync);
        break;
    case 12:
        if (vl_sync_reply_decode(&r, &m.sync_reply) == 0)
            vl_sync_reply_free(&m.sync_reply);
        break;
    case 13:
        vl_batch_status_decode(&r, &m.batch_status);
        break;
    case 14:
        if (vl_batch_status_reply_decode(&r, &m.batch_status_reply) == 0)
            vl_append_reply_free(&m.batch_status_reply.ar);
        break;
    case 15:
        vl_notleader_decode(&r, &m.notleader);
        break;
    case 16:
        vl_mr_status_decode(&r, &m.mr_status);
        break;
    case 17:
        vl_mr_add_decode(&r, &m.mr_add);
        break;
    case 18:
        vl_mr_id_decode(&r, &m.id);
        break;
    default:
        s_frames(data + 1, size - 1);
        break;
    }
    return 0;
}
