/*  test_mrserver.c - the MR actor (mr/server.c) in-process, over real
    DEALER sockets: what a storage node's connection may change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "server.h"
#include "wire.h"

#define S_CLUSTER 7
#define S_SN_ADDR "tcp://127.0.0.1:1"

static zsock_t *s_dealer(int port)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    assert_non_null(s);
    zsock_set_linger(s, 0);
    assert_int_equal(zsock_connect(s, "tcp://127.0.0.1:%d", port), 0);
    return s;
}

/*  Receives the next message of type `type` on s within ms; NULL if none.
    Other messages (META pushes) are dropped. */
static zmsg_t *s_recv_type(zsock_t *s, uint16_t type, int ms, vl_hdr_t *hdr, vl_rbuf_t *body)
{
    int64_t deadline = zclock_mono() + ms;
    zpoller_t *poller = zpoller_new(s, NULL);
    zmsg_t *found = NULL;
    while (!found && zclock_mono() < deadline) {
        if (!zpoller_wait(poller, (int)(deadline - zclock_mono())))
            break;
        zmsg_t *msg = zmsg_recv(s);
        if (msg && vl_wire_parse(msg, hdr, body) == 0 && hdr->type == type)
            found = msg;
        else
            zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    return found;
}

static void s_send_admin(zsock_t *s, uint16_t type, uint64_t id, const vl_admin_t *a)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    vl_hdr_t h = {.type = type, .request_id = id, .cluster_id = S_CLUSTER};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    assert_int_equal(zmsg_send(&msg, s), 0);
}

static void s_admin_ok(zsock_t *s, uint16_t type, const vl_admin_t *a)
{
    static uint64_t id = 1;
    s_send_admin(s, type, ++id, a);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *reply = s_recv_type(s, type | VL_MSG_REPLY, 5000, &h, &body);
    assert_non_null(reply);
    assert_int_equal(h.status, 0);
    zmsg_destroy(&reply);
}

static void s_send_report_applied(zsock_t *s, uint64_t llsn_end, uint64_t applied)
{
    vl_report_item_t it = {
        .ls_id = 1, .llsn_end = llsn_end, .bytes_end = llsn_end * 10, .applied_llsn_end = applied};
    vl_report_t r = {.sn_id = 1, .n = 1, .items = &it};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_report_encode(&r, &b);
    vl_hdr_t h = {.type = VL_MSG_REPORT, .cluster_id = S_CLUSTER};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    assert_int_equal(zmsg_send(&msg, s), 0);
}

static void s_send_report(zsock_t *s, uint64_t llsn_end)
{
    s_send_report_applied(s, llsn_end, 0);
}

/*  A REPORT counts only from the connection of the SN's last HELLO: one
    from another connection (a dead process's, queued) changes nothing and
    is answered with an error, so that a live SN that reconnected says HELLO
    again. */
static void test_report_from_stale_connection(void **state)
{
    (void)state;
    char dir[] = "/tmp/vl-test-mrserver.XXXXXX";
    assert_non_null(mkdtemp(dir));
    vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = dir,
                          .commit_tick_us = 500,
                          .cluster_id = S_CLUSTER};
    zactor_t *mr = vl_mr_start(&cfg);
    assert_non_null(mr);
    int port = vl_mr_port(mr);
    assert_true(port > 0);

    zsock_t *adm = s_dealer(port);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", S_SN_ADDR);
    s_admin_ok(adm, VL_MSG_ADD_SN, &a);
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    a.nls = 1;
    a.rf = 1;
    s_admin_ok(adm, VL_MSG_CREATE_TOPIC, &a);

    /* the live SN process says HELLO */
    zsock_t *live = s_dealer(port);
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", S_SN_ADDR);
    s_send_admin(live, VL_MSG_HELLO, 1, &a);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = s_recv_type(live, VL_MSG_HELLO | VL_MSG_REPLY, 5000, &h, &body);
    assert_non_null(msg);
    vl_meta_t meta;
    assert_int_equal(vl_meta_decode(&body, &meta), 0);
    assert_int_equal(meta.sn_id, 1);
    vl_meta_free(&meta);
    zmsg_destroy(&msg);

    /* a REPORT from another connection: refused, nothing committed */
    zsock_t *stale = s_dealer(port);
    s_send_report(stale, 5);
    msg = s_recv_type(stale, VL_MSG_REPORT | VL_MSG_REPLY, 5000, &h, &body);
    assert_non_null(msg);
    assert_int_equal(h.status, VL_ENOSN);
    zmsg_destroy(&msg);
    msg = s_recv_type(live, VL_MSG_COMMIT, 300, &h, &body);
    assert_null(msg);

    /* the same REPORT from the HELLO's connection commits */
    s_send_report(live, 5);
    msg = s_recv_type(live, VL_MSG_COMMIT, 5000, &h, &body);
    assert_non_null(msg);
    vl_commit_t c;
    assert_int_equal(vl_commit_decode(&body, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.items[0].count, 5);
    vl_commit_free(&c);
    zmsg_destroy(&msg);

    zsock_destroy(&stale);
    zsock_destroy(&live);
    zsock_destroy(&adm);
    zactor_destroy(&mr);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/*  The MR's commit ticks and rounds so far (pipe command STATS). */
static void s_stats(zactor_t *mr, uint64_t *ticks, uint64_t *rounds)
{
    assert_int_equal(zstr_send(mr, "STATS"), 0);
    assert_int_equal(zsock_recv(mr, "88", ticks, rounds), 0);
}

/*  Expects the next COMMIT on s to hold one item of ls 1 from llsn_begin,
    count entries. */
static void s_expect_commit(zsock_t *s, uint64_t llsn_begin, uint64_t count)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = s_recv_type(s, VL_MSG_COMMIT, 5000, &h, &body);
    assert_non_null(msg);
    vl_commit_t c;
    assert_int_equal(vl_commit_decode(&body, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.items[0].llsn_begin, llsn_begin);
    assert_int_equal(c.items[0].count, count);
    vl_commit_free(&c);
    zmsg_destroy(&msg);
}

/*  The commit timer stops while nothing changes (an idle MR does not tick
    2,000 times a second), the next REPORT that raises an end starts it and
    is committed, a heartbeat REPORT that changes nothing does not; a
    replica that comes back behind is sent the history it lacks on its
    first REPORT. Counts, not times, are asserted: the idle windows only
    need to be long enough for a running timer to have ticked many times. */
static void test_commit_timer_idles(void **state)
{
    (void)state;
    char dir[] = "/tmp/vl-test-mrserver.XXXXXX";
    assert_non_null(mkdtemp(dir));
    vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = dir,
                          .commit_tick_us = 500,
                          .cluster_id = S_CLUSTER};
    zactor_t *mr = vl_mr_start(&cfg);
    assert_non_null(mr);
    int port = vl_mr_port(mr);
    assert_true(port > 0);

    zsock_t *adm = s_dealer(port);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", S_SN_ADDR);
    s_admin_ok(adm, VL_MSG_ADD_SN, &a);
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    a.nls = 1;
    a.rf = 1;
    s_admin_ok(adm, VL_MSG_CREATE_TOPIC, &a);

    zsock_t *sn = s_dealer(port);
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", S_SN_ADDR);
    s_send_admin(sn, VL_MSG_HELLO, 1, &a);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = s_recv_type(sn, VL_MSG_HELLO | VL_MSG_REPLY, 5000, &h, &body);
    assert_non_null(msg);
    zmsg_destroy(&msg);

    s_send_report(sn, 5);
    s_expect_commit(sn, 1, 5);

    /* idle: at 500 us a running timer would tick hundreds of times */
    uint64_t t0, r0, t1, r1;
    zclock_sleep(100);
    s_stats(mr, &t0, &r0);
    zclock_sleep(400);
    s_stats(mr, &t1, &r1);
    assert_true(t1 - t0 <= 2);
    assert_int_equal(r1, r0);

    /* a heartbeat REPORT (the same ends, applied) wakes nothing */
    s_send_report_applied(sn, 5, 5);
    assert_null(s_recv_type(sn, VL_MSG_COMMIT, 300, &h, &body));
    s_stats(mr, &t0, &r0);
    zclock_sleep(300);
    s_stats(mr, &t1, &r1);
    assert_true(t1 - t0 <= 2);
    assert_int_equal(r1, r0);

    /* new entries: committed, one more round */
    s_send_report_applied(sn, 8, 5);
    s_expect_commit(sn, 6, 3);
    s_stats(mr, &t1, &r1);
    assert_int_equal(r1, r0 + 1);

    /* the SN restarts having lost the commits it had not stored: its
       first REPORT after HELLO gets the history (each range as it was
       committed) */
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", S_SN_ADDR);
    s_send_admin(sn, VL_MSG_HELLO, 2, &a);
    msg = s_recv_type(sn, VL_MSG_HELLO | VL_MSG_REPLY, 5000, &h, &body);
    assert_non_null(msg);
    zmsg_destroy(&msg);
    s_send_report_applied(sn, 8, 0);
    s_expect_commit(sn, 1, 5);
    s_expect_commit(sn, 6, 3);

    zsock_destroy(&sn);
    zsock_destroy(&adm);
    zactor_destroy(&mr);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    zsys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_from_stale_connection),
        cmocka_unit_test(test_commit_timer_idles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
