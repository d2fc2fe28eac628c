/*  lsread.c - reads one log stream from one replica, for the tests.

    Usage: vl_lsread MR TOPIC LSID SN_ID [IDLE_MS]
    Finds the topic, the log stream and the storage node's address in the
    metadata, subscribes to the log stream's committed entries on that
    storage node alone (from the trim point, following) and prints
    "GLSN<TAB>data" per entry in GLSN order. Stops when nothing arrived for
    IDLE_MS (default 1500) milliseconds: a log stream has no end of its own.
    Exit 0, or 1 with a line on stderr when the node refused or the
    arguments name nothing. Integration tests compare the output of every
    replica of a log stream with what a normal subscriber saw.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc.h"
#include "util.h"
#include "wire.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: vl_lsread MR TOPIC LSID SN_ID [IDLE_MS]\n");
        return 2;
    }
    uint32_t ls_id = (uint32_t)strtoul(argv[3], NULL, 10);
    uint32_t sn_id = (uint32_t)strtoul(argv[4], NULL, 10);
    int idle_ms = argc > 5 ? atoi(argv[5]) : 1500;
    char err[512];
    vl_rpc_t *mr = vl_rpc_new(argv[1], err, sizeof err);
    if (!mr) {
        fprintf(stderr, "vl_lsread: %s\n", err);
        return 1;
    }
    zmsg_t *reply = NULL;
    vl_hdr_t hdr;
    vl_rbuf_t body;
    vl_meta_t meta;
    if (vl_rpc_call(mr, VL_MSG_GET_META, NULL, 5000, &reply, &hdr, &body, err, sizeof err) != 0 ||
        vl_meta_decode(&body, &meta) != 0) {
        fprintf(stderr, "vl_lsread: cannot get the metadata from %s: %s\n", argv[1], err);
        return 1;
    }
    zmsg_destroy(&reply);
    vl_rpc_destroy(&mr);
    const vl_meta_topic_t *t = vl_meta_topic_by_name(&meta, argv[2]);
    const vl_meta_sn_t *sn = vl_meta_sn_by_id(&meta, sn_id);
    if (!t || !sn) {
        fprintf(stderr, "vl_lsread: no topic '%s' or no storage node %u\n", argv[2], sn_id);
        return 1;
    }
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 100);
    if (zsock_connect(sock, "%s", sn->addr) != 0) {
        fprintf(stderr, "vl_lsread: cannot connect to %s\n", sn->addr);
        return 1;
    }
    vl_subscribe_t q = {
        .topic_id = t->id, .ls_id = ls_id, .glsn_begin = 0, .glsn_end = VL_GLSN_MAX, .credit = 64};
    vl_hdr_t h = {.type = VL_MSG_SUBSCRIBE, .request_id = 7, .cluster_id = meta.cluster_id};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_subscribe_encode(&q, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    zmsg_send(&msg, sock);
    zpoller_t *poller = zpoller_new(sock, NULL);
    int rc = 0;
    for (;;) {
        if (!zpoller_wait(poller, idle_ms))
            break;
        msg = zmsg_recv(sock);
        if (!msg)
            break;
        vl_hdr_t rh;
        vl_rbuf_t rb;
        if (vl_wire_parse(msg, &rh, &rb) != 0 || rh.request_id != h.request_id) {
            zmsg_destroy(&msg);
            continue;
        }
        if (rh.status != 0) {
            vl_wire_errtext(&rb, err, sizeof err);
            fprintf(stderr, "vl_lsread: sn %u: %s\n", sn_id, err);
            zmsg_destroy(&msg);
            rc = 1;
            break;
        }
        vl_sub_data_t d;
        zframe_t *payload = NULL;
        char why[160] = "";
        bool ok = vl_sub_data_decode(&rb, &d) == 0;
        if (ok) {
            uint64_t sum = 0;
            for (uint32_t i = 0; i < d.n; i++)
                sum += d.entries[i].size;
            ok = vl_wire_payload(msg, d.n, sum, &payload, why, sizeof why) == 0;
            if (!ok)
                vl_sub_data_free(&d);
        }
        if (!ok) {
            fprintf(stderr, "vl_lsread: malformed data from sn %u %s\n", sn_id, why);
            zmsg_destroy(&msg);
            rc = 1;
            break;
        }
        const uint8_t *p = payload ? zframe_data(payload) : NULL;
        for (uint32_t i = 0; i < d.n; i++) {
            printf("%llu\t", (unsigned long long)d.entries[i].glsn);
            fwrite(p, 1, d.entries[i].size, stdout);
            p += d.entries[i].size;
            putchar('\n');
        }
        bool last = d.last;
        vl_sub_data_free(&d);
        zmsg_destroy(&msg);
        if (last)
            break;
        vl_hdr_t ch = h;
        ch.type = VL_MSG_SUB_CREDIT;
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        msg = vl_wire_msg(&ch, &b);
        vl_wbuf_free(&b);
        zmsg_send(&msg, sock);
    }
    vl_hdr_t ch = h;
    ch.type = VL_MSG_SUB_CANCEL;
    msg = vl_wire_msg(&ch, NULL);
    zmsg_send(&msg, sock);
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    vl_meta_free(&meta);
    return rc;
}
