/*  test_snserver.c - the storage node actor (sn/server.c) in-process.

    The test plays the metadata repository (a ROUTER the SN connects its
    DEALER to: it answers HELLO, pushes META and sends COMMIT as it likes)
    and the clients and other storage nodes (DEALERs to the SN's ROUTER),
    so it can order messages the way a real cluster only does by chance.
    The SN and its peers are tests/lib/snfx.c's.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "bidmap.h"
#include "server.h"
#include "store.h"
#include "util.h"
#include "wire.h"
#include "../lib/fixture.h"
#include "../lib/snfx.h"

/*  Makes v the view of a log stream sealed (epoch 1) at llsn_end, every
    entry of size bytes committed, GLSN = LLSN (one log stream). */
static void s_seal_view(snfx_ls_view_t *v, uint64_t llsn_end, uint64_t size)
{
    v->state = VL_LS_SEALED;
    v->committed_llsn_end = llsn_end;
    v->committed_bytes = llsn_end * size;
    v->hwm = llsn_end;
    v->end_offset = llsn_end * size;
    v->epoch = 1;
}

/*  ---- tests --------------------------------------------------------------- */

/*  A trim that arrives while a commit below it is still queued (so that
    both may land in one writer batch, where the trim does not see the
    range) still deletes every entry below the trim point. */
static void test_trim_after_queued_commit(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        snfx_t *f = snfx_start(&snfx_rf1, false);
        uint64_t id = snfx_send_append(f, 3, 10);
        snfx_wait_report(f, 3, 0, NULL);
        /* COMMIT and, right behind it, the META that trims all of it */
        snfx_send_commit(f, 1, 1, 1, 3, 0, 30);
        snfx_ls_view_t v = snfx_rf1;
        v.committed_llsn_end = 3;
        v.committed_bytes = 30;
        v.hwm = 3;
        v.end_offset = 30;
        v.trim_glsn = 4;
        v.trim_offset = 30;
        snfx_send_meta(f, NULL, &v);
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), 0);
        snfx_wait_report(f, 3, 3, NULL);
        /* the COMMIT may be applied before the META is read: stopping then
           would test nothing (on a loaded machine it failed so) */
        snfx_wait_trim_seen(f, 4);
        snfx_stop_sn(f);
        vl_store_t *store;
        assert_int_equal(vl_store_open(f->dir, 0, &store), 0);
        vl_wbuf_t sizes, data;
        vl_wbuf_init(&sizes);
        vl_wbuf_init(&data);
        uint32_t n = 99;
        uint64_t bytes = 0;
        assert_int_equal(
            vl_store_read_entries(store, SNFX_LS, 1, 10, 1 << 20, &sizes, &data, &n, &bytes), 0);
        vl_wbuf_free(&sizes);
        vl_wbuf_free(&data);
        vl_store_destroy(&store);
        if (n != 0)
            fail_msg("round %d: %u entries below the trim point are still stored", round, n);
        snfx_finish(&f);
    }
}

/*  A LOOKUP (and a SUBSCRIBE) right after an append was acknowledged
    finds it, even when the commit range is still queued behind a slow
    synced write (the append is answered when the COMMIT arrives). */
static void test_read_right_after_ack(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, true);
    enum { ROUNDS = 20, SMALL = 100, BIG = 512 * 1024 };
    uint64_t llsn = 0;          /* entries appended */
    uint64_t committed = 0;     /* entries committed (GLSN = LLSN: one LS) */
    uint64_t offset_end = 0;    /* bytes of the committed entries */
    uint64_t pending_bytes = 0; /* bytes appended, not committed */
    uint64_t big_id = 0;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t a_id = snfx_send_append(f, 1, SMALL);
        uint64_t a_llsn = ++llsn;
        pending_bytes += SMALL;
        snfx_wait_report(f, a_llsn, 0, NULL);
        /* a big synced write ahead of the commit in the writer's queue */
        uint64_t next_big = snfx_send_append(f, 1, BIG);
        ++llsn;
        uint64_t count = a_llsn - committed;
        uint64_t a_offset = offset_end + pending_bytes - SMALL;
        snfx_send_commit(f, (uint64_t)r + 1, committed + 1, committed + 1, count, offset_end,
                         pending_bytes);
        committed = a_llsn;
        offset_end += pending_bytes;
        pending_bytes = BIG;
        /* answered in LLSN order */
        if (big_id)
            assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, big_id, NULL, NULL), 0);
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, a_id, NULL, NULL), 0);
        big_id = next_big;

        uint64_t lookup_id = snfx_send_sub(f, VL_MSG_LOOKUP, a_offset + 1, 0, 0);
        uint64_t sub_id = snfx_send_sub(f, VL_MSG_SUBSCRIBE, a_llsn, a_llsn + 1, 4);
        zmsg_t *msg;
        vl_rbuf_t body;
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_LOOKUP, lookup_id, &msg, &body), 0);
        vl_sub_data_t d;
        assert_int_equal(vl_sub_data_decode(&body, &d), 0);
        if (d.last != 1)
            fail_msg("round %d: LOOKUP of offset %llu (llsn %llu, acknowledged) not found", r,
                     (unsigned long long)a_offset + 1, (unsigned long long)a_llsn);
        assert_int_equal(d.entries[0].glsn, a_llsn);
        assert_int_equal(d.entries[0].offset, a_offset);
        vl_sub_data_free(&d);
        zmsg_destroy(&msg);
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, sub_id, &msg, &body), 0);
        assert_int_equal(vl_sub_data_decode(&body, &d), 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.entries[0].glsn, a_llsn);
        assert_int_equal(zmsg_size(msg), 3);
        vl_sub_data_free(&d);
        zmsg_destroy(&msg);
    }
    snfx_finish(&f);
}

/*  Reads GLSNs 1..end of the log back (test_write_failure): the entry at
    each GLSN, which must lie in 1..n, goes to got[glsn]. Returns how many
    entries came. */
static uint64_t s_read_log(snfx_t *f, uint64_t end, uint64_t n, char (*got)[16])
{
    uint64_t sub_id = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 1, end + 1, 64);
    uint64_t seen = 0;
    bool last = false;
    while (!last) {
        zmsg_t *msg;
        vl_rbuf_t body;
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, sub_id, &msg, &body), 0);
        vl_sub_data_t d;
        assert_int_equal(vl_sub_data_decode(&body, &d), 0);
        uint64_t sum = 0;
        for (uint32_t k = 0; k < d.n; k++)
            sum += d.entries[k].size;
        zframe_t *fr;
        char why[160];
        assert_int_equal(vl_wire_payload(msg, d.n, sum, &fr, why, sizeof why), 0);
        const char *p = fr ? (const char *)zframe_data(fr) : NULL;
        for (uint32_t k = 0; k < d.n; k++) {
            assert_true(d.entries[k].glsn >= 1 && d.entries[k].glsn <= n);
            snprintf(got[d.entries[k].glsn], sizeof got[0], "%.*s", (int)d.entries[k].size, p);
            p += d.entries[k].size;
            seen++;
        }
        last = d.last;
        vl_sub_data_free(&d);
        zmsg_destroy(&msg);
    }
    return seen;
}

/*  A failed WRITE fails the writes queued behind it; appends that come
    meanwhile are refused, and every answer stays the answer of its own
    append: each acknowledged append's GLSN holds its own entry, and the
    log holds nothing else. */
static void test_write_failure(void **state)
{
    (void)state;
    enum { N = 40 };
    snfx_t *f = snfx_start(&snfx_rf1, false);
    snfx_fault(f, "WRITE", 3);
    uint64_t ids[N];
    int status[N];
    uint64_t glsn[N];
    for (int i = 0; i < N; i++) {
        char text[16];
        snprintf(text, sizeof text, "entry-%02d", i);
        ids[i] = snfx_send_append_text(f, text);
        status[i] = -1;
        zclock_sleep(i % 4 == 0 ? 1 : 0);
    }
    /* play the MR (commit whatever is reported) until every append has
       its answer */
    uint64_t committed = 0, committed_bytes = 0, version = 0;
    int answered = 0;
    zpoller_t *poller = zpoller_new(f->mr, f->client, NULL);
    int64_t deadline = zclock_mono() + 10000;
    while (answered < N && zclock_mono() < deadline) {
        zsock_t *which = zpoller_wait(poller, 200);
        if (!which)
            continue;
        zmsg_t *msg = zmsg_recv(which);
        assert_non_null(msg);
        if (which == f->mr) {
            zframe_t *rid = zmsg_pop(msg);
            zframe_destroy(&rid);
        }
        vl_hdr_t h;
        vl_rbuf_t body;
        assert_int_equal(vl_wire_parse(msg, &h, &body), 0);
        if (which == f->mr && h.type == VL_MSG_REPORT) {
            vl_report_t r;
            assert_int_equal(vl_report_decode(&body, &r), 0);
            for (uint32_t k = 0; k < r.n; k++)
                if (r.items[k].ls_id == SNFX_LS && r.items[k].llsn_end > committed) {
                    uint64_t count = r.items[k].llsn_end - committed;
                    uint64_t bytes = r.items[k].bytes_end - committed_bytes;
                    snfx_send_commit(f, ++version, committed + 1, committed + 1, count,
                                     committed_bytes, bytes);
                    committed += count;
                    committed_bytes += bytes;
                }
            vl_report_free(&r);
        } else if (which == f->client && h.type == (VL_MSG_APPEND | VL_MSG_REPLY)) {
            int i = (int)h.request_id - (int)ids[0];
            assert_true(i >= 0 && i < N);
            assert_int_equal(status[i], -1);
            status[i] = (int)h.status;
            if (h.status == 0) {
                vl_append_reply_t ar;
                assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
                assert_int_equal(ar.nruns, 1);
                assert_int_equal(ar.runs[0].count, 1);
                glsn[i] = ar.runs[0].glsn_begin;
                vl_append_reply_free(&ar);
            }
            answered++;
        }
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    assert_int_equal(answered, N);
    int ok = 0, failed = 0;
    for (int i = 0; i < N; i++)
        status[i] == 0 ? ok++ : failed++;
    assert_true(failed >= 1);
    assert_int_equal((uint64_t)ok, committed);

    /* read the log back: glsn[i] holds entry i */
    char got[N + 1][16];
    memset(got, 0, sizeof got);
    uint64_t seen = s_read_log(f, committed, N, got);
    assert_int_equal(seen, committed);
    for (int i = 0; i < N; i++) {
        if (status[i] != 0)
            continue;
        char want[16];
        snprintf(want, sizeof want, "entry-%02d", i);
        if (strcmp(got[glsn[i]], want) != 0)
            fail_msg("append %d was answered glsn=%llu, which holds '%s'", i,
                     (unsigned long long)glsn[i], got[glsn[i]]);
    }
    snfx_finish(&f);
}

/*  A failed COMMIT job fails the one queued behind it; when the MR resends
    both, a waiting append spanning them gets each GLSN once (not the
    resent ranges twice), and only once every entry is committed. */
static void test_commit_failure(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    uint64_t id = snfx_send_append(f, 10, 10);
    snfx_wait_report(f, 10, 0, NULL);
    snfx_fault(f, "COMMIT", 1);
    snfx_send_commit(f, 1, 1, 1, 3, 0, 30);
    snfx_send_commit(f, 2, 4, 4, 3, 30, 30);
    zclock_sleep(300);
    /* the MR resends from the applied end */
    snfx_send_commit(f, 1, 1, 1, 3, 0, 30);
    snfx_send_commit(f, 2, 4, 4, 3, 30, 30);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = fx_recv_type(f->client, VL_MSG_APPEND | VL_MSG_REPLY, 300, &h, &body, NULL);
    if (msg)
        fail_msg("append answered (status %u) before its last 4 entries were committed", h.status);
    snfx_send_commit(f, 3, 7, 7, 4, 60, 40);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, &msg, &body), 0);
    vl_append_reply_t ar;
    assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
    uint64_t total = 0;
    for (uint32_t k = 0; k < ar.nruns; k++)
        total += ar.runs[k].count;
    assert_int_equal(total, 10);
    assert_int_equal(ar.runs[0].glsn_begin, 1);
    vl_append_reply_free(&ar);
    zmsg_destroy(&msg);
    snfx_wait_report(f, 10, 10, NULL);
    snfx_finish(&f);
}

/*  Sends SUB_CREDIT(credit) for subscription id on sock. */
static void s_send_credit(zsock_t *sock, uint64_t id, uint32_t credit)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, credit);
    vl_hdr_t h = {.type = VL_MSG_SUB_CREDIT, .request_id = id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(sock, NULL, &msg);
}

/*  A subscription whose client says nothing (no credit, no keepalive) is
    dropped after the idle time; one kept alive by SUB_CREDIT(0) is not.
    SUBSCRIBE with credit 0 is refused. */
static void test_idle_subscription_dropped(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    zactor_t *actor = vl_sn_actor(f->sn);
    assert_int_equal(zstr_sendx(actor, "SUB_IDLE_MS", "400", NULL), 0);
    assert_int_equal(zsock_wait(actor), 0);

    uint64_t zero = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 1, VL_GLSN_MAX, 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, zero, NULL, NULL), VL_EINVAL);

    /* two following subscriptions on the idle log stream */
    uint64_t alive = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 1, VL_GLSN_MAX, 4);
    zsock_t *other = fx_dealer("%s", f->sn_ep);
    vl_subscribe_t q = {.topic_id = SNFX_TOPIC,
                        .ls_id = SNFX_LS,
                        .glsn_begin = 1,
                        .glsn_end = VL_GLSN_MAX,
                        .credit = 4};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_subscribe_encode(&q, &b);
    vl_hdr_t h = {.type = VL_MSG_SUBSCRIBE, .request_id = 99, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(other, NULL, &msg);
    /* only the first says it is alive, for 2.5 s (> the idle time plus
       the one-second check) */
    for (int i = 0; i < 25; i++) {
        s_send_credit(f->client, alive, 0);
        zclock_sleep(100);
    }
    uint64_t id = snfx_send_append(f, 1, 10);
    snfx_wait_report(f, 1, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 1, 0, 10);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), 0);
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, alive, &msg, &body), 0);
    vl_sub_data_t d;
    assert_int_equal(vl_sub_data_decode(&body, &d), 0);
    assert_int_equal(d.n, 1);
    vl_sub_data_free(&d);
    zmsg_destroy(&msg);
    /* the silent one was dropped: nothing comes */
    msg = fx_recv_type(other, VL_MSG_SUBSCRIBE | VL_MSG_REPLY, 500, &h, &body, NULL);
    if (msg)
        fail_msg("the silent subscription was still served (status %u)", h.status);
    zsock_destroy(&other);
    snfx_finish(&f);
}

/*  After a seal and an unseal, LLSNs past the sealed end are used again:
    a REPLICATE sent before the seal (queued since) must not be written by
    the backup, or the primary's new batch at the same LLSNs would be
    skipped as overlap and the backup hold other bytes than the primary. */
static void test_stale_replicate_after_unseal(void **state)
{
    (void)state;
    /* this SN is the backup; node 2 (not running) the primary */
    snfx_ls_view_t v = {.state = VL_LS_RUNNING, .nrep = 2, .replicas = {2, 1}};
    snfx_t *f = snfx_start(&v, false);
    enum { SIZE = 10 };
    zsock_t *primary = f->client;
    uint64_t id = snfx_send_replicate(f, primary, 1, 15, SIZE, 'a', 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), 0);
    snfx_wait_report(f, 15, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 15, 0, 15 * SIZE);
    snfx_wait_report(f, 15, 15, NULL);

    /* sealed at 15, then unsealed */
    s_seal_view(&v, 15, SIZE);
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_SEALED);
    v.state = VL_LS_RUNNING;
    v.epoch = 2;
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_RUNNING);

    /* the batch of before the seal arrives now: refused */
    id = snfx_send_replicate(f, primary, 16, 5, SIZE, 'x', 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), VL_ESTALE);
    /* the primary's batch of the new epoch at the same LLSNs is written */
    id = snfx_send_replicate(f, primary, 16, 3, SIZE, 'n', 2);
    zmsg_t *msg;
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, &msg, &body), 0);
    vl_append_reply_t ar;
    assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
    assert_int_equal(ar.llsn_begin, 18);
    vl_append_reply_free(&ar);
    zmsg_destroy(&msg);
    /* a batch of a newer epoch than this node knows: refused too */
    id = snfx_send_replicate(f, primary, 19, 1, SIZE, 'n', 3);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), VL_ESTALE);

    snfx_wait_report(f, 18, 15, NULL);
    snfx_send_commit(f, 2, 16, 16, 3, 15 * SIZE, 3 * SIZE);
    snfx_wait_report(f, 18, 18, NULL);
    uint64_t sub = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 16, 19, 4);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, sub, &msg, &body), 0);
    vl_sub_data_t d;
    assert_int_equal(vl_sub_data_decode(&body, &d), 0);
    assert_int_equal(d.n, 3);
    zframe_t *fr;
    char why[160];
    assert_int_equal(vl_wire_payload(msg, d.n, 3 * SIZE, &fr, why, sizeof why), 0);
    for (uint32_t k = 0; k < d.n; k++) {
        assert_int_equal(d.entries[k].size, SIZE);
        assert_int_equal(((const char *)zframe_data(fr))[k * SIZE], 'n');
    }
    vl_sub_data_free(&d);
    zmsg_destroy(&msg);
    snfx_finish(&f);
}

/*  An APPEND on its way during a seal and an unseal (queued in a socket
    while a link was cut) arrives at the primary after the unseal: its
    client was told the batch is not in the log (the seal's end excludes
    it) and sent it elsewhere, so the primary must not write it now. The
    epoch it carries fences it. */
static void test_stale_append_after_unseal(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    enum { SIZE = 10 };
    uint64_t id = snfx_send_append(f, 3, SIZE);
    snfx_wait_report(f, 3, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 3, 0, 3 * SIZE);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), 0);

    snfx_ls_view_t v = snfx_rf1;
    s_seal_view(&v, 3, SIZE);
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_SEALED);
    v.state = VL_LS_RUNNING;
    v.epoch = 2;
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_RUNNING);

    /* sent in epoch 0, before the seal: refused, nothing written */
    f->epoch = 0;
    id = snfx_send_append(f, 2, SIZE);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), VL_ESEALED);
    /* of a newer epoch than the node knows (its META is late): refused too */
    f->epoch = 3;
    id = snfx_send_append(f, 2, SIZE);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), VL_ESEALED);
    /* of the node's epoch: written right after the sealed end */
    f->epoch = 2;
    id = snfx_send_append(f, 1, SIZE);
    snfx_wait_report(f, 4, 3, NULL);
    snfx_send_commit(f, 2, 4, 4, 1, 3 * SIZE, SIZE);
    zmsg_t *msg;
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, &msg, &body), 0);
    vl_append_reply_t ar;
    assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
    assert_int_equal(ar.llsn_begin, 4);
    assert_int_equal(ar.nruns, 1);
    assert_int_equal(ar.runs[0].glsn_begin, 4);
    vl_append_reply_free(&ar);
    zmsg_destroy(&msg);
    snfx_finish(&f);
}

/*  Asks the SN what became of batch (client_id, batch_seq); expects the
    status st and, when 0, fills *r (caller frees r->ar). */
static void s_batch_status(snfx_t *f, uint64_t client_id, uint64_t batch_seq, uint64_t hint, int st,
                           vl_batch_status_reply_t *r)
{
    vl_batch_status_t q = {.topic_id = SNFX_TOPIC,
                           .ls_id = SNFX_LS,
                           .client_id = client_id,
                           .batch_seq = batch_seq,
                           .llsn_hint = hint};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_encode(&q, &b);
    vl_hdr_t h = {
        .type = VL_MSG_BATCH_STATUS, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(f->client, NULL, &msg);
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_BATCH_STATUS, h.request_id, &msg, &body), st);
    if (st == 0)
        assert_int_equal(vl_batch_status_reply_decode(&body, r), 0);
    zmsg_destroy(&msg);
}

/*  A client whose APPEND went unanswered asks the replicas what became of
    the batch: while the log stream runs they say what they hold and what
    of it is committed; once it is sealed and the replica holds exactly the
    sealed end, the answer is final, and a batch (or the part of one) past
    the sealed end is reported as not in the log. */
static void test_batch_status(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    enum { SIZE = 10 };
    const uint64_t C = 0xc1c1c1c1c1ull, D = 0xd2d2ull;
    uint64_t a1 = snfx_send_append_named(f, 3, SIZE, C, 1); /* llsn 1..3 */
    snfx_wait_report(f, 3, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 3, 0, 3 * SIZE);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, a1, NULL, NULL), 0);
    snfx_send_append_named(f, 4, SIZE, C, 2); /* llsn 4..7 */
    snfx_send_append_named(f, 2, SIZE, D, 1); /* llsn 8..9 */
    snfx_wait_report(f, 9, 3, NULL);

    vl_batch_status_reply_t r;
    s_batch_status(f, C, 1, 0, 0, &r);
    assert_true(r.found && !r.final);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ar.llsn_begin, 1);
    assert_int_equal(r.ar.nruns, 1);
    assert_int_equal(r.ar.runs[0].glsn_begin, 1);
    assert_int_equal(r.ar.runs[0].count, 3);
    vl_append_reply_free(&r.ar);
    /* written, nothing committed yet */
    s_batch_status(f, C, 2, 0, 0, &r);
    assert_true(r.found && !r.final);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.ar.llsn_begin, 4);
    assert_int_equal(r.ar.nruns, 0);
    vl_append_reply_free(&r.ar);
    /* a hint at or past the batch's start hides it */
    s_batch_status(f, C, 2, 4, 0, &r);
    assert_false(r.found);
    vl_append_reply_free(&r.ar);
    /* never sent: not here, and the log stream runs, so not final */
    s_batch_status(f, C, 3, 0, 0, &r);
    assert_true(!r.found && !r.final);
    vl_append_reply_free(&r.ar);

    /* the first two entries of batch C/2 are committed, then the seal */
    snfx_send_commit(f, 2, 4, 4, 2, 3 * SIZE, 2 * SIZE);
    snfx_wait_report(f, 9, 5, NULL);
    snfx_ls_view_t v = snfx_rf1;
    s_seal_view(&v, 5, SIZE);
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_SEALED);

    s_batch_status(f, C, 2, 0, 0, &r); /* cut by the seal: its head only */
    assert_true(r.found && r.final);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ar.nruns, 1);
    assert_int_equal(r.ar.runs[0].glsn_begin, 4);
    assert_int_equal(r.ar.runs[0].count, 2);
    vl_append_reply_free(&r.ar);
    s_batch_status(f, D, 1, 0, 0, &r); /* wholly past the sealed end */
    assert_true(!r.found && r.final);
    vl_append_reply_free(&r.ar);
    s_batch_status(f, C, 3, 0, 0, &r);
    assert_true(!r.found && r.final);
    vl_append_reply_free(&r.ar);
    s_batch_status(f, C, 1, 0, 0, &r);
    assert_true(r.found && r.final);
    assert_int_equal(r.n, 3);
    vl_append_reply_free(&r.ar);

    /* Trimmed to GLSN 4 (LLSN 4): batch C/1 (llsn 1..3) goes with its
       name. Committed and trimmed is not "absent": the answer for it (the
       client knows no batch of its own there: hint 0) is no longer final,
       while C/2, which holds the first entry kept, still answers. */
    v.trim_glsn = 4;
    v.trim_offset = 3 * SIZE;
    snfx_send_meta(f, NULL, &v);
    snfx_wait_trim_seen(f, 4);
    bool gone = false;
    for (int64_t until = zclock_mono() + 5000; !gone && zclock_mono() < until;) {
        s_batch_status(f, C, 1, 0, 0, &r);
        gone = !r.found;
        if (gone)
            assert_false(r.final);
        vl_append_reply_free(&r.ar);
        if (!gone)
            zclock_sleep(20); /* the trim is written by the writer thread */
    }
    assert_true(gone);
    s_batch_status(f, C, 2, 0, 0, &r);
    assert_true(r.found && r.final);
    assert_int_equal(r.n, 2);
    vl_append_reply_free(&r.ar);
    /* a client that knows its batch at llsn 4 asks about a later one: the
       names past it are all there, so "not here" is final */
    s_batch_status(f, C, 3, 4, 0, &r);
    assert_true(!r.found && r.final);
    vl_append_reply_free(&r.ar);

    snfx_finish(&f);
}

/*  Waits for the reply to APPEND id; expects status st and, when 0, n
    entries at one GLSN run from glsn. */
static void s_append_answer(snfx_t *f, uint64_t id, int st, uint64_t glsn, uint32_t n)
{
    zmsg_t *msg;
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, &msg, &body), st);
    if (st == 0) {
        vl_append_reply_t r;
        assert_int_equal(vl_append_reply_decode(&body, &r), 0);
        assert_int_equal(r.nruns, 1);
        assert_int_equal(r.runs[0].glsn_begin, glsn);
        assert_int_equal(r.runs[0].count, n);
        vl_append_reply_free(&r);
    }
    zmsg_destroy(&msg);
}

/*  A batch a seal cut (its head committed, its tail discarded) and resent
    under its name after the unseal is neither appended again nor joined
    (the LLSNs past the sealed end hold another batch now): refused with
    VL_ESEALED, nothing written; the other batch gets its own GLSNs. */
static void test_append_resent_after_cut(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    enum { SIZE = 10 };
    const uint64_t C = 0xc0ffeeull, D = 0xd00dull;
    snfx_send_append_named(f, 4, SIZE, C, 1); /* llsn 1..4 */
    snfx_wait_report(f, 4, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 2, 0, 2 * SIZE); /* its head 1..2 */
    snfx_wait_report(f, 4, 2, NULL);
    snfx_ls_view_t v = snfx_rf1;
    s_seal_view(&v, 2, SIZE);
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_SEALED);
    v.state = VL_LS_RUNNING;
    v.epoch = 2;
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_RUNNING);
    uint64_t d = snfx_send_append_named(f, 2, SIZE, D, 1); /* llsn 3..4 again */
    snfx_wait_report(f, 4, 2, NULL);
    s_append_answer(f, snfx_send_append_named(f, 4, SIZE, C, 1), VL_ESEALED, 0, 0);
    snfx_send_commit(f, 2, 3, 3, 2, 2 * SIZE, 2 * SIZE);
    s_append_answer(f, d, 0, 3, 2);
    snfx_wait_report(f, 4, 4, NULL); /* nothing written by the resend */
    /* after a restart in this epoch, with D's entries committed at 3..4
       where C's tail was: C resent is still the batch a seal cut (its
       name names 1..2 only), never "committed" with D's GLSNs */
    snfx_restart_sn(f, &v);
    snfx_wait_report(f, 4, 4, NULL);
    s_append_answer(f, snfx_send_append_named(f, 4, SIZE, C, 1), VL_ESEALED, 0, 0);
    s_append_answer(f, snfx_send_append_named(f, 2, SIZE, D, 1), 0, 3, 2);
    snfx_wait_report(f, 4, 4, NULL);
    snfx_finish(&f);
}

/*  The primary's window of batch names: the last max names are found
    (with their entries), older ones are forgotten, oldest first, and a
    name seen again replaces its entry. */
static void test_bidmap_window(void **state)
{
    (void)state;
    vl_bidmap_t *m = vl_bidmap_new(256);
    for (uint64_t i = 1; i <= 1000; i++) {
        vl_batch_id_t id = {.llsn_begin = 10 * i, .client_id = i % 7, .batch_seq = i, .n = 3};
        vl_bidmap_entry_t *e = vl_bidmap_add(m, &id);
        if (i % 2) {
            vl_run_t *runs = malloc(sizeof *runs);
            runs->glsn_begin = 100 * i;
            runs->count = 3;
            vl_bidmap_set_runs(e, runs, 1);
        }
    }
    assert_int_equal(vl_bidmap_size(m), 256);
    for (uint64_t i = 1; i <= 1000; i++) {
        vl_bidmap_entry_t *e = vl_bidmap_find(m, i % 7, i);
        if (i <= 1000 - 256) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(e->id.llsn_begin, 10 * i);
        assert_true(i % 2 ? e->runs && e->runs[0].glsn_begin == 100 * i : !e->runs);
    }
    assert_null(vl_bidmap_find(m, 1, 1000)); /* another client's */
    vl_batch_id_t again = {.llsn_begin = 5, .client_id = 1000 % 7, .batch_seq = 1000, .n = 1};
    vl_bidmap_add(m, &again);
    assert_int_equal(vl_bidmap_size(m), 256);
    assert_int_equal(vl_bidmap_find(m, 1000 % 7, 1000)->id.llsn_begin, 5);
    vl_bidmap_clear(m);
    assert_int_equal(vl_bidmap_size(m), 0);
    assert_null(vl_bidmap_find(m, 999 % 7, 999));
    vl_bidmap_destroy(&m);
    assert_null(m);
}

/*  Idempotent appends: an APPEND resent under the name of a batch the
    primary holds is not appended again. Before the commit it is joined
    (the answer goes to the resend), after it answered with the original
    GLSNs, a resend with another entry count is refused; after a restart
    the names come back from the store: a committed batch is answered, one
    written but not yet committed waits for its commit. The log holds each
    batch once (the LLSN end never grows on a resend). */
static void test_append_resent(void **state)
{
    (void)state;
    snfx_t *f = snfx_start(&snfx_rf1, false);
    enum { SIZE = 10 };
    const uint64_t C = 0xc0ffeeull;
    uint64_t a1 = snfx_send_append_named(f, 3, SIZE, C, 1); /* llsn 1..3 */
    snfx_wait_report(f, 3, 0, NULL);
    uint64_t a2 = snfx_send_append_named(f, 3, SIZE, C, 1); /* its answer was lost */
    /* ordered behind the resend on the same socket: proves it was taken */
    uint64_t a3 = snfx_send_append_named(f, 2, SIZE, C, 2); /* llsn 4..5 */
    snfx_wait_report(f, 5, 0, NULL);
    snfx_send_commit(f, 1, 1, 1, 5, 0, 5 * SIZE);
    s_append_answer(f, a2, 0, 1, 3);
    s_append_answer(f, a3, 0, 4, 2);
    (void)a1; /* its answer went to the resend */
    /* committed: answered again at once, nothing written */
    s_append_answer(f, snfx_send_append_named(f, 3, SIZE, C, 1), 0, 1, 3);
    s_append_answer(f, snfx_send_append_named(f, 1, SIZE, C, 1), VL_EPROTO, 0, 0);
    uint64_t a4 = snfx_send_append_named(f, 4, SIZE, C, 3); /* llsn 6..9, not committed */
    snfx_wait_report(f, 9, 5, NULL);
    (void)a4;

    snfx_restart_sn(f, &snfx_rf1);
    snfx_wait_report(f, 9, 5, NULL);
    s_append_answer(f, snfx_send_append_named(f, 2, SIZE, C, 2), 0, 4, 2);
    uint64_t a5 = snfx_send_append_named(f, 4, SIZE, C, 3); /* held: waits for the commit */
    uint64_t a6 = snfx_send_append_named(f, 1, SIZE, C, 4); /* new: llsn 10 */
    snfx_wait_report(f, 10, 5, NULL);
    snfx_send_commit(f, 2, 6, 6, 5, 5 * SIZE, 5 * SIZE);
    s_append_answer(f, a5, 0, 6, 4);
    s_append_answer(f, a6, 0, 10, 1);
    snfx_wait_report(f, 10, 10, NULL);

    /* each batch once: 10 entries in the log */
    char got[11][16];
    assert_int_equal(s_read_log(f, 10, 10, got), 10);
    snfx_finish(&f);
}

/*  A backup keeps the batch names that come with REPLICATE, so that it
    can answer for a primary that died. */
static void test_batch_status_backup(void **state)
{
    (void)state;
    snfx_ls_view_t v = {.state = VL_LS_RUNNING, .nrep = 2, .replicas = {2, 1}};
    snfx_t *f = snfx_start(&v, false);
    enum { SIZE = 10 };
    /* entries 1..5, from two batches of one client */
    vl_batch_id_t ids[2] = {{1, 0xe1, 7, 2}, {3, 0xe1, 8, 3}};
    uint64_t id = snfx_send_replicate_bids(f, f->client, 1, 5, SIZE, 'r', 0, ids, 2);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), 0);
    snfx_wait_report(f, 5, 0, NULL);
    snfx_send_commit(f, 1, 1, 10, 4, 0, 4 * SIZE);
    snfx_wait_report(f, 5, 4, NULL);
    vl_batch_status_reply_t r;
    s_batch_status(f, 0xe1, 8, 0, 0, &r);
    assert_true(r.found && !r.final);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ar.llsn_begin, 3);
    assert_int_equal(r.ar.nruns, 1);
    assert_int_equal(r.ar.runs[0].glsn_begin, 12);
    assert_int_equal(r.ar.runs[0].count, 2);
    vl_append_reply_free(&r.ar);
    /* the client's older batch stops the search: 7 lies below 8 */
    s_batch_status(f, 0xe1, 7, 0, 0, &r);
    assert_true(r.found);
    assert_int_equal(r.ar.llsn_begin, 1);
    vl_append_reply_free(&r.ar);
    s_batch_status(f, 0xe1, 6, 0, 0, &r);
    assert_false(r.found);
    vl_append_reply_free(&r.ar);
    snfx_finish(&f);
}

/*  Waits (up to ms) for a REPORT of n items: the heartbeat, with two log
    streams. */
static void s_wait_report_items(snfx_t *f, uint32_t n, int ms, const char *what)
{
    int64_t deadline = zclock_mono() + ms;
    vl_report_t r;
    while (zclock_mono() < deadline)
        if (snfx_next_report(f, 200, &r)) {
            uint32_t got = r.n;
            vl_report_free(&r);
            if (got == n)
                return;
        }
    fail_msg("no REPORT of %u items within %d ms (%s)", n, ms, what);
}

/*  A REPORT carries only the replicas that changed since the last one
    (issue 5: with 1,000 log streams the reports were most of the MR's
    work); the 1 s heartbeat and the first REPORT after a HELLO carry
    every replica. */
static void test_partial_reports(void **state)
{
    (void)state;
    snfx_t *f = snfx_start_n(&snfx_rf1, 2, false);
    /* right after a heartbeat: the next one is a second away */
    s_wait_report_items(f, 2, 3000, "heartbeat after start");
    uint64_t id = snfx_send_append(f, 3, 10); /* to ls 1 only */
    vl_report_t r;
    assert_true(snfx_next_report(f, 900, &r));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.items[0].ls_id, SNFX_LS);
    assert_int_equal(r.items[0].llsn_end, 3);
    assert_int_equal(r.items[0].bytes_end, 30);
    vl_report_free(&r);
    snfx_send_commit(f, 1, 1, 1, 3, 0, 30);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), 0);
    assert_true(snfx_next_report(f, 900, &r));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.items[0].ls_id, SNFX_LS);
    assert_int_equal(r.items[0].applied_llsn_end, 3);
    vl_report_free(&r);
    /* nothing changed: no REPORT until the heartbeat, which has both */
    s_wait_report_items(f, 2, 1500, "heartbeat");

    /* the MR refuses a REPORT (a reconnect): HELLO, then a complete one */
    vl_hdr_t h = {
        .type = VL_MSG_REPORT | VL_MSG_REPLY, .cluster_id = SNFX_CLUSTER, .status = VL_ENOSN};
    zmsg_t *msg = vl_wire_reply(&h, VL_ENOSN, "say HELLO again");
    fx_send(f->mr, f->sn_rid, &msg);
    vl_rbuf_t body;
    zmsg_t *hello = fx_recv_type(f->mr, VL_MSG_HELLO, 3000, &h, &body, NULL);
    assert_non_null(hello);
    zmsg_destroy(&hello);
    snfx_send_meta_n(f, &h, &snfx_rf1, 2);
    snfx_send_append(f, 1, 10); /* a change of ls 1 right after the HELLO */
    /* the first REPORT after the HELLO, whatever made it go out */
    assert_true(snfx_next_report(f, 900, &r));
    if (r.n != 2)
        fail_msg("the first REPORT after a HELLO carried %u replicas, not both", r.n);
    vl_report_free(&r);
    snfx_finish(&f);
}

/*  Issue 4: a replica that lacks entries its sync source has trimmed
    takes a base from a REPLICATE that carries the base mark (and only
    then, and only while sealed): it drops what it held, starts at the
    base, stores the commit range that holds the base whole (its head is
    trimmed), and then reads like the other replicas: below the trim point
    VL_ETRIMMED, LOOKUP by offset for kept entries. */
static void test_sync_base(void **state)
{
    (void)state;
    enum { SIZE = 10 };
    /* this SN is a backup of node 2 (not running); the test plays node 2 */
    snfx_ls_view_t v = {.state = VL_LS_RUNNING, .nrep = 2, .replicas = {2, 1}};
    snfx_t *f = snfx_start(&v, false);
    zsock_t *src = f->client;
    /* it got llsn 1..2 before it fell behind */
    uint64_t id = snfx_send_replicate(f, src, 1, 2, SIZE, 'o', 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), 0);
    /* a base is refused while the log stream runs */
    vl_batch_id_t mark = {.llsn_begin = 6, .client_id = 0, .batch_seq = 6, .n = 0};
    id = snfx_send_replicate_bids(f, src, 6, 5, SIZE, 'k', 0, &mark, 1);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), VL_EINVAL);

    /* llsn 1..10 committed as glsn 1..10 (a range 1..2, a range 3..10),
       trimmed below glsn 6 (offset 50), sealed at 10 */
    s_seal_view(&v, 10, SIZE);
    v.trim_glsn = 6;
    v.trim_offset = 5 * SIZE;
    snfx_send_meta(f, NULL, &v);
    snfx_wait_report_state(f, VL_LS_SEALED);

    /* without the mark, a REPLICATE past the end is a gap */
    id = snfx_send_replicate(f, src, 6, 5, SIZE, 'k', 1);
    zmsg_t *msg;
    vl_rbuf_t body;
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, &msg, &body), VL_EGAP);
    vl_append_reply_t ar;
    assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
    assert_int_equal(ar.llsn_begin, 2);
    vl_append_reply_free(&ar);
    zmsg_destroy(&msg);
    /* a base past the sealed end, or whose bytes disagree: refused */
    vl_batch_id_t far = {.llsn_begin = 12, .client_id = 0, .batch_seq = 6, .n = 0};
    id = snfx_send_replicate_bids(f, src, 12, 0, SIZE, 'k', 1, &far, 1);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, NULL, NULL), VL_EPROTO);

    /* with it: base at 5, entries 6..10 */
    id = snfx_send_replicate_bids(f, src, 6, 5, SIZE, 'k', 1, &mark, 1);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_REPLICATE, id, &msg, &body), 0);
    assert_int_equal(vl_append_reply_decode(&body, &ar), 0);
    assert_int_equal(ar.llsn_begin, 10);
    vl_append_reply_free(&ar);
    zmsg_destroy(&msg);
    vl_report_item_t it;
    snfx_wait_report(f, 10, 5, &it);
    assert_int_equal(it.bytes_end, 10 * SIZE);
    assert_int_equal(it.applied_llsn_end, 5);
    /* the MR resends from llsn 6: the range 3..10 that holds it */
    snfx_send_commit(f, 2, 3, 3, 8, 2 * SIZE, 8 * SIZE);
    snfx_wait_report(f, 10, 10, &it);
    snfx_wait_report_state(f, VL_LS_SEALED);

    /* reads: kept entries by GLSN and by offset, trimmed ones refused */
    uint64_t sub = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 6, 11, 4);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, sub, &msg, &body), 0);
    vl_sub_data_t d;
    assert_int_equal(vl_sub_data_decode(&body, &d), 0);
    assert_int_equal(d.n, 5);
    for (uint32_t k = 0; k < d.n; k++) {
        assert_int_equal(d.entries[k].glsn, 6 + k);
        assert_int_equal(d.entries[k].llsn, 6 + k);
        assert_int_equal(d.entries[k].offset, (5 + k) * SIZE);
    }
    vl_sub_data_free(&d);
    zmsg_destroy(&msg);
    sub = snfx_send_sub(f, VL_MSG_SUBSCRIBE, 3, 11, 4);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_SUBSCRIBE, sub, NULL, NULL), VL_ETRIMMED);
    uint64_t lk = snfx_send_sub(f, VL_MSG_LOOKUP, 7 * SIZE + 3, 0, 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_LOOKUP, lk, &msg, &body), 0);
    assert_int_equal(vl_sub_data_decode(&body, &d), 0);
    assert_int_equal(d.last, 1);
    assert_int_equal(d.entries[0].glsn, 8);
    assert_int_equal(d.entries[0].offset, 7 * SIZE);
    vl_sub_data_free(&d);
    zmsg_destroy(&msg);
    lk = snfx_send_sub(f, VL_MSG_LOOKUP, 2 * SIZE + 3, 0, 0);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_LOOKUP, lk, NULL, NULL), VL_ETRIMMED);

    /* what it held below the base is gone; after a restart it is still
       at the base and in line */
    snfx_stop_sn(f);
    vl_store_t *store;
    assert_int_equal(vl_store_open(f->dir, 0, &store), 0);
    vl_store_state_t st;
    assert_int_equal(vl_store_state(store, SNFX_LS, &st), 0);
    assert_int_equal(st.llsn_end, 10);
    assert_int_equal(st.applied_llsn_end, 10);
    assert_int_equal(st.bytes_end, 10 * SIZE);
    uint64_t first = 0;
    bool found = false;
    assert_int_equal(vl_store_first_entry(store, SNFX_LS, 1, &first, &found), 0);
    assert_true(found);
    assert_int_equal(first, 6);
    vl_store_destroy(&store);
    snfx_finish(&f);
}

/*  Reads what the SN sends to the fake MR replicas a and b for ms,
    counting each one's messages sent after request id `after` (na, nb:
    the SN numbers what it sends the MR) and answering the PINGs of the
    ones marked live, as a leader does. */
static void s_mr_pump(zsock_t *a, bool a_live, zsock_t *b, bool b_live, uint64_t after, int ms,
                      int *na, int *nb)
{
    zpoller_t *poller = zpoller_new(a, b, NULL);
    int64_t end = zclock_mono() + ms, left;
    while ((left = end - zclock_mono()) > 0) {
        zsock_t *which = zpoller_wait(poller, (int)left);
        if (!which)
            break;
        zmsg_t *msg = zmsg_recv(which);
        zframe_t *rid = zmsg_pop(msg);
        vl_hdr_t h;
        vl_rbuf_t body;
        if (vl_wire_parse(msg, &h, &body) == 0) {
            if (h.request_id > after)
                (*(which == a ? na : nb))++;
            if (h.type == VL_MSG_PING && (which == a ? a_live : b_live)) {
                zmsg_t *reply = fx_reply(&h, 0, NULL);
                fx_send(which, rid, &reply);
            }
        }
        zframe_destroy(&rid);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
}

/*  Waits (ms) for a request of type at the fake MR replica mr and refuses
    it as a follower does, naming leader. */
static void s_mr_refuse(zsock_t *mr, uint16_t type, int ms, const char *leader)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    zframe_t *rid = NULL;
    zmsg_t *msg = fx_recv_type(mr, type, ms, &h, &body, &rid);
    assert_non_null(msg);
    zmsg_destroy(&msg);
    msg = vl_wire_reply(&h, VL_ENOTLEADER, "%s", leader);
    fx_send(mr, rid, &msg);
    zframe_destroy(&rid);
}

/*  Waits for HELLO at the fake MR replica mr, answers it with META (two
    log streams) and returns the HELLO's request id after the complete
    REPORT that follows. */
static uint64_t s_mr_hello_report(snfx_t *f, zsock_t *mr, int ms, const char *what)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    zframe_destroy(&f->sn_rid);
    zmsg_t *hello = fx_recv_type(mr, VL_MSG_HELLO, ms, &h, &body, &f->sn_rid);
    if (!hello)
        fail_msg("no HELLO within %d ms (%s)", ms, what);
    zmsg_destroy(&hello);
    f->mr = mr;
    snfx_send_meta_n(f, &h, &snfx_rf1, 2);
    s_wait_report_items(f, 2, 1000, what);
    return h.request_id;
}

/*  Starts the SN of f in f->dir, given the MR replicas eps (--mr). */
static void s_sn_start_mrs(snfx_t *f, const char *eps)
{
    vl_sn_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = f->dir,
                          .mr = eps,
                          .max_entry_size = 1 << 20,
                          .cluster_id = SNFX_CLUSTER};
    char err[512];
    if (vl_sn_new(&cfg, &f->sn, err, sizeof err) != 0)
        fail_msg("vl_sn_new: %s", err);
    snprintf(f->sn_ep, sizeof f->sn_ep, "%s", vl_sn_endpoint(f->sn));
}

/*  The MR is a group of replicas and the SN is given both (--mr A,B): it
    follows a refusal naming the leader with HELLO and a complete REPORT
    there, and the replica it left hears nothing more; it goes back when
    the leader changes again; and when the leader falls silent it moves
    to the other replica by itself (PINGing a silent MR first). */
static void test_mr_leader(void **state)
{
    (void)state;
    snfx_t fix = {0}, *f = &fix;
    fx_tmpdir(f->dir, sizeof f->dir, "snleader");
    zsock_t *a = zsock_new(ZMQ_ROUTER), *b = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(a, 0);
    zsock_set_linger(b, 0);
    char a_ep[64], b_ep[64], eps[140];
    assert_true(fx_bind(a, a_ep, sizeof a_ep) > 0);
    assert_true(fx_bind(b, b_ep, sizeof b_ep) > 0);
    snprintf(eps, sizeof eps, "%s,%s", a_ep, b_ep);
    s_sn_start_mrs(f, eps);

    /* a is a follower: it names b */
    s_mr_refuse(a, VL_MSG_HELLO, 5000, b_ep);
    uint64_t hello = s_mr_hello_report(f, b, 1000, "at b, named by a");
    int na = 0, nb = 0;
    s_mr_pump(a, false, b, true, hello, 1500, &na, &nb);
    if (na != 0 || nb == 0)
        fail_msg("after the move to b: %d messages to a, %d to b", na, nb);

    /* b loses the leadership to a: its refusal of a REPORT names a */
    s_mr_refuse(b, VL_MSG_REPORT, 1500, a_ep);
    hello = s_mr_hello_report(f, a, 1000, "back at a, named by b");
    na = nb = 0;
    s_mr_pump(a, true, b, false, hello, 1500, &na, &nb);
    if (nb != 0 || na == 0)
        fail_msg("after the move back to a: %d messages to a, %d to b", na, nb);

    /* a falls silent (nothing answered, not even PING): on to b */
    int64_t t0 = zclock_mono();
    s_mr_hello_report(f, b, 4000, "at b after a fell silent");
    int64_t waited = zclock_mono() - t0;
    if (waited < 300 || waited > 3500)
        fail_msg("moved to b %lld ms after a's last answer", (long long)waited);

    vl_sn_destroy(&f->sn);
    zframe_destroy(&f->sn_rid);
    zsock_destroy(&a);
    zsock_destroy(&b);
    fx_rmdir(f->dir);
}

/*  The MR leader's process dies (kill -9: its kernel closes the
    connection at once): the SN moves on to the next replica without
    waiting for silence, and while the group elects a new leader it does
    not go back to the dead one a follower still names. With three fake
    replicas a, b, c: a answers HELLO, then its socket is closed; b hears
    HELLO well before silence could have moved the SN (a PING after a
    second, the move half a second later), refuses it naming a (a
    follower that has not noticed yet), and the SN goes to c at once (b
    hears no PING), not back to a (a replica is listening there again: a
    restarted process). */
static void test_mr_dropped(void **state)
{
    (void)state;
    snfx_t fix = {0}, *f = &fix;
    fx_tmpdir(f->dir, sizeof f->dir, "sndropped");
    zsock_t *mr[3];
    char ep[3][64], eps[200];
    for (int i = 0; i < 3; i++) {
        mr[i] = zsock_new(ZMQ_ROUTER);
        zsock_set_linger(mr[i], 0);
        assert_true(fx_bind(mr[i], ep[i], sizeof ep[i]) > 0);
    }
    snprintf(eps, sizeof eps, "%s,%s,%s", ep[0], ep[1], ep[2]);
    s_sn_start_mrs(f, eps);
    s_mr_hello_report(f, mr[0], 5000, "at a");

    /* a dies */
    int64_t t0 = zclock_mono();
    zsock_destroy(&mr[0]);
    vl_hdr_t h;
    vl_rbuf_t body;
    zframe_t *rid = NULL;
    zmsg_t *msg = fx_recv_type(mr[1], VL_MSG_HELLO, 4000, &h, &body, &rid);
    int64_t waited = zclock_mono() - t0;
    if (!msg)
        fail_msg("no HELLO at b within 4000 ms of a's end");
    if (waited > 900)
        fail_msg("HELLO at b %lld ms after a's end: the SN waited for silence", (long long)waited);
    /* a comes back (a restarted replica, a follower now) */
    mr[0] = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(mr[0], 0);
    int64_t bind_until = zclock_mono() + 2000;
    while (zsock_bind(mr[0], "%s", ep[0]) < 0 && zclock_mono() < bind_until)
        zclock_sleep(10);
    /* b refuses, naming the dead leader a */
    zmsg_destroy(&msg);
    msg = vl_wire_reply(&h, VL_ENOTLEADER, "%s", ep[0]);
    fx_send(mr[1], rid, &msg);
    zframe_destroy(&rid);
    uint64_t hello = s_mr_hello_report(f, mr[2], 2000, "at c after b named the dead a");
    /* b's refusal moved it, not b's silence (a PING to b first) */
    msg = fx_recv_type(mr[1], VL_MSG_PING, 100, &h, &body, NULL);
    if (msg)
        fail_msg("the SN PINGed b: it left b after its silence, not its refusal");
    int na = 0, nc = 0;
    s_mr_pump(mr[0], true, mr[2], true, hello, 1500, &na, &nc);
    if (na != 0 || nc == 0)
        fail_msg("after the move to c: %d messages to a, %d to c", na, nc);

    vl_sn_destroy(&f->sn);
    zframe_destroy(&f->sn_rid);
    for (int i = 0; i < 3; i++)
        zsock_destroy(&mr[i]);
    fx_rmdir(f->dir);
}

/*  Collects the REPORTs of ms milliseconds (at least one full one: the
    SN reports every replica each second) and fails unless every item of
    SNFX_LS says applied end `applied` and state `ls_state`. */
static void s_reports_hold(snfx_t *f, int ms, uint64_t applied, uint8_t ls_state, const char *what)
{
    int64_t deadline = zclock_mono() + ms;
    int items = 0;
    while (zclock_mono() < deadline) {
        vl_report_t r;
        if (!snfx_next_report(f, 100, &r))
            continue;
        for (uint32_t i = 0; i < r.n; i++) {
            if (r.items[i].ls_id != SNFX_LS)
                continue;
            items++;
            if (r.items[i].applied_llsn_end != applied || r.items[i].state != ls_state)
                fail_msg("%s: REPORT says applied=%llu state=%u, expected applied=%llu state=%u",
                         what, (unsigned long long)r.items[i].applied_llsn_end, r.items[i].state,
                         (unsigned long long)applied, ls_state);
        }
        vl_report_free(&r);
    }
    if (items == 0)
        fail_msg("%s: no REPORT of the log stream in %d ms", what, ms);
}

/*  Fencing: once the SN heard the MR leader of term 5, a COMMIT or META of
    term 4 (a deposed leader's) changes nothing, one of term 5 or 6 is
    applied, and so is nothing older than the META applied: an older term
    (an unseal of term 5 after a seal of term 6) or an older version of
    the same term. */
static void test_fence(void **state)
{
    (void)state;
    enum { SIZE = 10 };
    snfx_t *f = snfx_start(&snfx_rf1, false);
    f->term = 5;
    snfx_ls_view_t v = snfx_rf1;
    snfx_send_meta(f, NULL, &v);
    uint64_t id = snfx_send_append(f, 3, SIZE);
    snfx_wait_report(f, 3, 0, NULL);

    /* term 4: neither the commit nor a seal at 0 */
    f->term = 4;
    snfx_send_commit(f, 1, 1, 1, 3, 0, 3 * SIZE);
    snfx_ls_view_t sealed0 = v;
    s_seal_view(&sealed0, 0, SIZE);
    snfx_send_meta(f, NULL, &sealed0);
    s_reports_hold(f, 1300, 0, VL_LS_RUNNING, "after COMMIT and META of term 4");
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *early = fx_recv_type(f->client, VL_MSG_APPEND | VL_MSG_REPLY, 100, &h, &body, NULL);
    if (early)
        fail_msg("the APPEND was answered (status %u) after a COMMIT of term 4", h.status);

    /* term 5: the commit is applied and the append answered */
    f->term = 5;
    snfx_send_commit(f, 1, 1, 1, 3, 0, 3 * SIZE);
    assert_int_equal(fx_wait_reply(f->client, VL_MSG_APPEND, id, NULL, NULL), 0);
    snfx_wait_report(f, 3, 3, NULL);

    /* term 6: a seal at 3 is applied */
    f->term = 6;
    snfx_ls_view_t sealed3 = v;
    s_seal_view(&sealed3, 3, SIZE);
    snfx_send_meta(f, NULL, &sealed3);
    snfx_wait_report_state(f, VL_LS_SEALED);

    /* an unseal of term 5 (newer version), then one of term 6 but an
       older version: neither undoes the seal */
    snfx_ls_view_t unsealed = v;
    unsealed.committed_llsn_end = 3;
    unsealed.committed_bytes = 3 * SIZE;
    unsealed.hwm = 3;
    unsealed.end_offset = 3 * SIZE;
    unsealed.epoch = 2;
    f->term = 5;
    snfx_send_meta(f, NULL, &unsealed);
    f->term = 6;
    f->meta_version -= 3;
    snfx_send_meta(f, NULL, &unsealed);
    s_reports_hold(f, 1300, 3, VL_LS_SEALED, "after unseals of term 5 and an older version");

    /* the same unseal from the leader of term 7 is applied */
    f->term = 7;
    f->meta_version += 10;
    snfx_send_meta(f, NULL, &unsealed);
    snfx_wait_report_state(f, VL_LS_RUNNING);
    snfx_finish(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trim_after_queued_commit),
        cmocka_unit_test(test_read_right_after_ack),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_commit_failure),
        cmocka_unit_test(test_idle_subscription_dropped),
        cmocka_unit_test(test_stale_replicate_after_unseal),
        cmocka_unit_test(test_stale_append_after_unseal),
        cmocka_unit_test(test_batch_status),
        cmocka_unit_test(test_append_resent),
        cmocka_unit_test(test_bidmap_window),
        cmocka_unit_test(test_append_resent_after_cut),
        cmocka_unit_test(test_batch_status_backup),
        cmocka_unit_test(test_partial_reports),
        cmocka_unit_test(test_sync_base),
        cmocka_unit_test(test_mr_leader),
        cmocka_unit_test(test_mr_dropped),
        cmocka_unit_test(test_fence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
