/*  test_mrserver.c - the MR actor (mr/server.c) in-process, over real
    DEALER sockets: what a storage node's connection may change; and its
    store across restarts on the consensus engine (a group of one): a
    store from before replication, a lost raft log, a lost store rebuilt
    from the raft snapshot and log, options refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "persist.h"
#include "server.h"
#include "state.h"
#include "wire.h"
#include "../lib/fixture.h"

#define S_CLUSTER 7

static void s_send_admin(zsock_t *s, uint16_t type, uint64_t id, const vl_admin_t *a)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    vl_hdr_t h = {.type = type, .request_id = id, .cluster_id = S_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(s, NULL, &msg);
}

static void s_admin_ok(zsock_t *s, uint16_t type, const vl_admin_t *a)
{
    static uint64_t id = 1;
    s_send_admin(s, type, ++id, a);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *reply = fx_recv_type(s, type | VL_MSG_REPLY, 5000, &h, &body, NULL);
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
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(s, NULL, &msg);
}

static void s_send_report(zsock_t *s, uint64_t llsn_end)
{
    s_send_report_applied(s, llsn_end, 0);
}

/*  Starts an MR in dir with n SNs registered (tcp://127.0.0.1:1..n) and a
    topic "t" of nls log streams of replication factor rf; sets *port_p to
    the MR's port. Returns the MR. */
static zactor_t *s_mr_start(const char *dir, int n, uint32_t nls, uint32_t rf, int *port_p)
{
    vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = dir,
                          .commit_tick_us = 500,
                          .cluster_id = S_CLUSTER};
    zactor_t *mr = vl_mr_start(&cfg);
    assert_non_null(mr);
    int port = vl_mr_port(mr);
    assert_true(port > 0);
    zsock_t *adm = fx_dealer("tcp://127.0.0.1:%d", port);
    vl_admin_t a;
    for (int i = 0; i < n; i++) {
        memset(&a, 0, sizeof a);
        snprintf(a.addr, sizeof a.addr, "tcp://127.0.0.1:%d", i + 1);
        s_admin_ok(adm, VL_MSG_ADD_SN, &a);
    }
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    a.nls = nls;
    a.rf = rf;
    s_admin_ok(adm, VL_MSG_CREATE_TOPIC, &a);
    zsock_destroy(&adm);
    *port_p = port;
    return mr;
}

/*  Says HELLO (request id id) as the SN at tcp://127.0.0.1:sn on the DEALER
    s and waits for the reply; decodes its META into *meta when not NULL
    (caller frees). */
static void s_hello(zsock_t *s, int sn, uint64_t id, vl_meta_t *meta)
{
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "tcp://127.0.0.1:%d", sn);
    s_send_admin(s, VL_MSG_HELLO, id, &a);
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = fx_recv_type(s, VL_MSG_HELLO | VL_MSG_REPLY, 5000, &h, &body, NULL);
    assert_non_null(msg);
    if (meta)
        assert_int_equal(vl_meta_decode(&body, meta), 0);
    zmsg_destroy(&msg);
}

/*  Starts an MR with n SNs registered (tcp://127.0.0.1:1..n) and a topic
    "t" of nls log streams of replication factor rf; each SN says HELLO on
    its own DEALER (sns[i], caller destroys). Returns the MR. */
static zactor_t *s_cluster(const char *dir, int n, uint32_t nls, uint32_t rf, zsock_t **sns)
{
    int port;
    zactor_t *mr = s_mr_start(dir, n, nls, rf, &port);
    for (int i = 0; i < n; i++) {
        sns[i] = fx_dealer("tcp://127.0.0.1:%d", port);
        s_hello(sns[i], i + 1, 1, NULL);
    }
    return mr;
}

/*  A REPORT counts only from the connection of the SN's last HELLO: one
    from another connection (a dead process's, queued) changes nothing and
    is answered with an error, so that a live SN that reconnected says HELLO
    again. */
static void test_report_from_stale_connection(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    int port;
    zactor_t *mr = s_mr_start(dir, 1, 1, 1, &port);

    /* the live SN process says HELLO */
    zsock_t *live = fx_dealer("tcp://127.0.0.1:%d", port);
    vl_meta_t meta;
    s_hello(live, 1, 1, &meta);
    assert_int_equal(meta.sn_id, 1);
    vl_meta_free(&meta);

    /* a REPORT from another connection: refused, nothing committed */
    vl_hdr_t h;
    vl_rbuf_t body;
    zsock_t *stale = fx_dealer("tcp://127.0.0.1:%d", port);
    s_send_report(stale, 5);
    zmsg_t *msg = fx_recv_type(stale, VL_MSG_REPORT | VL_MSG_REPLY, 5000, &h, &body, NULL);
    assert_non_null(msg);
    assert_int_equal(h.status, VL_ENOSN);
    zmsg_destroy(&msg);
    msg = fx_recv_type(live, VL_MSG_COMMIT, 300, &h, &body, NULL);
    assert_null(msg);

    /* the same REPORT from the HELLO's connection commits */
    s_send_report(live, 5);
    msg = fx_recv_type(live, VL_MSG_COMMIT, 5000, &h, &body, NULL);
    assert_non_null(msg);
    vl_commit_t c;
    assert_int_equal(vl_commit_decode(&body, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.items[0].count, 5);
    vl_commit_free(&c);
    zmsg_destroy(&msg);

    zsock_destroy(&stale);
    zsock_destroy(&live);
    zactor_destroy(&mr);
    fx_rmdir(dir);
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
    zmsg_t *msg = fx_recv_type(s, VL_MSG_COMMIT, 5000, &h, &body, NULL);
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
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    zsock_t *sns[1];
    zactor_t *mr = s_cluster(dir, 1, 1, 1, sns);
    zsock_t *sn = sns[0];

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
    vl_hdr_t h;
    vl_rbuf_t body;
    s_send_report_applied(sn, 5, 5);
    assert_null(fx_recv_type(sn, VL_MSG_COMMIT, 300, &h, &body, NULL));
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
    s_hello(sn, 1, 2, NULL);
    s_send_report_applied(sn, 8, 0);
    s_expect_commit(sn, 1, 5);
    s_expect_commit(sn, 6, 3);

    zsock_destroy(&sn);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  A REPORT of sn_id for log streams ls[0..n), all at llsn_end. Caller
    owns the result. */
static zmsg_t *s_report_many(uint32_t sn_id, const uint32_t *ls, uint32_t n, uint64_t llsn_end)
{
    vl_report_item_t *it = calloc(n, sizeof *it);
    for (uint32_t i = 0; i < n; i++) {
        it[i].ls_id = ls[i];
        it[i].llsn_end = llsn_end;
        it[i].bytes_end = llsn_end * 10;
    }
    vl_report_t r = {.sn_id = sn_id, .n = n, .items = it};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_report_encode(&r, &b);
    vl_hdr_t h = {.type = VL_MSG_REPORT, .cluster_id = S_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    free(it);
    return msg;
}

static void s_send_report_many(zsock_t *s, uint32_t sn_id, const uint32_t *ls, uint32_t n,
                               uint64_t llsn_end)
{
    zmsg_t *msg = s_report_many(sn_id, ls, n, llsn_end);
    fx_send(s, NULL, &msg);
}

/*  A round's COMMITs, assembled in one pass over its items: each SN gets
    exactly the items of the log streams it holds a replica of (rf 2 over
    3 SNs), in the round's order, and both replicas the same GLSNs. */
static void test_round_split_by_sn(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    zsock_t *sns[3];
    zactor_t *mr = s_cluster(dir, 3, 30, 2, sns);
    /* who holds what, from the META */
    vl_hdr_t h;
    vl_rbuf_t body;
    s_send_admin(sns[0], VL_MSG_GET_META, 9, &(vl_admin_t){0});
    zmsg_t *msg = fx_recv_type(sns[0], VL_MSG_GET_META | VL_MSG_REPLY, 5000, &h, &body, NULL);
    assert_non_null(msg);
    vl_meta_t meta;
    assert_int_equal(vl_meta_decode(&body, &meta), 0);
    zmsg_destroy(&msg);
    assert_int_equal(meta.ntopics, 1);
    assert_int_equal(meta.topics[0].nls, 30);
    uint32_t held[3][30], nheld[3] = {0, 0, 0};
    for (uint32_t k = 0; k < 30; k++) {
        const vl_meta_ls_t *ls = &meta.topics[0].ls[k];
        assert_int_equal(ls->nrep, 2);
        for (uint32_t r = 0; r < 2; r++)
            held[ls->replicas[r] - 1][nheld[ls->replicas[r] - 1]++] = ls->id;
    }
    vl_meta_free(&meta);
    /* every replica reports 4 entries (the SNs' reports may fall into
       different rounds: a log stream commits once both its replicas
       reported) */
    for (int i = 0; i < 3; i++)
        s_send_report_many(sns[i], (uint32_t)i + 1, held[i], nheld[i], 4);
    uint64_t glsn_of[31] = {0};
    for (int i = 0; i < 3; i++) {
        uint32_t got = 0;
        bool told[31] = {false};
        while (got < nheld[i]) {
            msg = fx_recv_type(sns[i], VL_MSG_COMMIT, 5000, &h, &body, NULL);
            assert_non_null(msg);
            vl_commit_t c;
            assert_int_equal(vl_commit_decode(&body, &c), 0);
            for (uint32_t j = 0; j < c.n; j++) {
                /* only its own log streams, each once, in id order within
                   a round (a log stream whose other replica's SN reported
                   later comes in a later round) */
                assert_true(got < nheld[i]);
                uint32_t k = 0;
                while (k < nheld[i] && held[i][k] != c.items[j].ls_id)
                    k++;
                assert_true(k < nheld[i]);
                assert_false(told[c.items[j].ls_id]);
                told[c.items[j].ls_id] = true;
                if (j > 0)
                    assert_true(c.items[j].ls_id > c.items[j - 1].ls_id);
                got++;
                assert_int_equal(c.items[j].llsn_begin, 1);
                assert_int_equal(c.items[j].count, 4);
                uint32_t id = c.items[j].ls_id;
                /* both replicas' SNs are told the same GLSNs */
                if (glsn_of[id])
                    assert_int_equal(c.items[j].glsn_begin, glsn_of[id]);
                glsn_of[id] = c.items[j].glsn_begin;
            }
            vl_commit_free(&c);
            zmsg_destroy(&msg);
        }
        assert_null(fx_recv_type(sns[i], VL_MSG_COMMIT, 50, &h, &body, NULL));
    }
    /* the 30 ranges of 4 tile GLSNs 1..120 */
    bool seen[31] = {false};
    for (uint32_t id = 1; id <= 30; id++) {
        assert_true(glsn_of[id] >= 1 && glsn_of[id] <= 117 && (glsn_of[id] - 1) % 4 == 0);
        assert_false(seen[(glsn_of[id] - 1) / 4]);
        seen[(glsn_of[id] - 1) / 4] = true;
    }
    for (int i = 0; i < 3; i++)
        zsock_destroy(&sns[i]);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  A flood of big REPORTs: while 1,000 REPORTs of 1,000 items are handled
    rounds keep being made (how many depends on how fast the reports are
    decoded, so the count is printed, not asserted: 15-25 when the reader's
    budget was new, 4-6 when the ROUTER was drained 256 messages at a time
    whatever they cost), every round continues where the last one ended,
    and the last REPORT's ends are committed in the end: the reports are
    not starved either. */
#define S_FLOOD 1000
static void test_report_flood_keeps_ticking(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    zsock_t *sns[1];
    zactor_t *mr = s_cluster(dir, 1, 1000, 1, sns);
    zsock_set_sndhwm(sns[0], 0);
    uint32_t ls[1000];
    for (uint32_t i = 0; i < 1000; i++)
        ls[i] = i + 1;
    /* built first, so that they arrive together */
    zmsg_t *reports[S_FLOOD];
    for (uint64_t k = 1; k <= S_FLOOD; k++)
        reports[k - 1] = s_report_many(1, ls, 1000, k);
    uint64_t t0, r0, t1, r1;
    s_stats(mr, &t0, &r0);
    for (int k = 0; k < S_FLOOD; k++)
        fx_send(sns[0], NULL, &reports[k]);
    /* the COMMITs up to the last end of every log stream */
    uint64_t ends[1001] = {0}, done = 0;
    vl_hdr_t h;
    vl_rbuf_t body;
    while (done < 1000) {
        zmsg_t *msg = fx_recv_type(sns[0], VL_MSG_COMMIT, 10000, &h, &body, NULL);
        assert_non_null(msg);
        vl_commit_t c;
        assert_int_equal(vl_commit_decode(&body, &c), 0);
        for (uint32_t j = 0; j < c.n; j++) {
            uint32_t id = c.items[j].ls_id;
            assert_true(id >= 1 && id <= 1000);
            assert_int_equal(c.items[j].llsn_begin, ends[id] + 1);
            ends[id] += c.items[j].count;
            if (ends[id] == S_FLOOD)
                done++;
        }
        vl_commit_free(&c);
        zmsg_destroy(&msg);
    }
    s_stats(mr, &t1, &r1);
    print_message("report flood: %llu rounds while 1,000 reports of 1,000 items were handled\n",
                  (unsigned long long)(r1 - r0));
    assert_true(r1 - r0 >= 1);
    zsock_destroy(&sns[0]);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  ---- the store across restarts ---------------------------------------------- */

/*  Starts an MR on dir as it is (snapshot every `snap` commands, 0: the
    engine's default); *port_p gets its port. */
static zactor_t *s_mr_open(const char *dir, uint32_t snap, int *port_p)
{
    vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = dir,
                          .commit_tick_us = 500,
                          .cluster_id = S_CLUSTER,
                          .snapshot_threshold = snap,
                          .snapshot_trailing = snap};
    zactor_t *mr = vl_mr_start(&cfg);
    if (!mr)
        fail_msg("%s", cfg.errbuf);
    *port_p = vl_mr_port(mr);
    assert_true(*port_p > 0);
    return mr;
}

/*  The META of a GET_META on a new DEALER to port (caller frees). */
static void s_meta(int port, vl_meta_t *meta)
{
    zsock_t *s = fx_dealer("tcp://127.0.0.1:%d", port);
    s_send_admin(s, VL_MSG_GET_META, 77, &(vl_admin_t){0});
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = fx_recv_type(s, VL_MSG_GET_META | VL_MSG_REPLY, 5000, &h, &body, NULL);
    assert_non_null(msg);
    assert_int_equal(h.status, 0);
    assert_int_equal(vl_meta_decode(&body, meta), 0);
    zmsg_destroy(&msg);
    zsock_destroy(&s);
}

/*  As SN 1 (HELLO on a new DEALER to port), reports ls 1 at ends
    from+1 .. to one at a time, each committed before the next (a round
    and a raft command each); the SN has applied up to from. */
static void s_rounds(int port, uint64_t from, uint64_t to)
{
    zsock_t *sn = fx_dealer("tcp://127.0.0.1:%d", port);
    s_hello(sn, 1, 1, NULL);
    for (uint64_t end = from + 1; end <= to; end++) {
        s_send_report_applied(sn, end, end - 1);
        s_expect_commit(sn, end, 1);
    }
    zsock_destroy(&sn);
}

static void s_rm_sub(const char *dir, const char *sub)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    fx_rmdir(path);
}

/*  A data directory from before replication (a store, no raft log) is the
    base of the new raft log: its metadata and commits are served and
    continued; and what is committed on top survives a restart. */
static void test_store_before_raft(void **state)
{
    (void)state;
    char dir[64], err[512];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    assert_non_null(p);
    vl_mrstate_t *st = vl_mrstate_new();
    uint32_t id;
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:1", &id), 0);
    assert_int_equal(vl_mrstate_topic_create(st, "old", 1, 1, &id, err, sizeof err), 0);
    assert_int_equal(vl_persist_save_meta(p, st, 0, NULL, 0, err, sizeof err), 0);
    vl_report_item_t it = {.ls_id = 1, .llsn_end = 4, .bytes_end = 40};
    vl_report_t rep = {.sn_id = 1, .n = 1, .items = &it};
    assert_int_equal(vl_mrstate_report(st, &rep), 0);
    vl_commit_t c;
    assert_int_equal(vl_mrstate_commit_compute(st, &c), 1);
    assert_int_equal(vl_persist_commit(p, st, &c, err, sizeof err), 0);
    vl_commit_free(&c);
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st);

    int port;
    zactor_t *mr = s_mr_open(dir, 0, &port);
    vl_meta_t meta;
    s_meta(port, &meta);
    assert_int_equal(meta.ntopics, 1);
    assert_string_equal(meta.topics[0].name, "old");
    assert_int_equal(meta.topics[0].hwm, 4);
    assert_int_equal(meta.version, 1);
    vl_meta_free(&meta);
    s_rounds(port, 4, 7);
    zactor_destroy(&mr);

    mr = s_mr_open(dir, 0, &port);
    s_meta(port, &meta);
    assert_int_equal(meta.topics[0].hwm, 7);
    assert_int_equal(meta.version, 4);
    vl_meta_free(&meta);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  A store whose raft log is gone becomes the base of a new one: what is
    committed afterwards is applied (not taken for the old log's replay)
    and survives the next restart. */
static void test_raft_log_lost(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    int port;
    zactor_t *mr = s_mr_start(dir, 1, 1, 1, &port);
    s_rounds(port, 0, 6);
    zactor_destroy(&mr);
    s_rm_sub(dir, "raft");

    mr = s_mr_open(dir, 0, &port);
    s_rounds(port, 6, 8);
    zactor_destroy(&mr);
    mr = s_mr_open(dir, 0, &port);
    vl_meta_t meta;
    s_meta(port, &meta);
    assert_int_equal(meta.topics[0].hwm, 8);
    assert_int_equal(meta.version, 8);
    vl_meta_free(&meta);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  A lost store is rebuilt from the raft snapshot (taken every 8 commands
    here) and the entries after it; the commits go on where they were. */
static void test_store_lost(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    int port;
    zactor_t *mr = s_mr_open(dir, 8, &port);
    zsock_t *adm = fx_dealer("tcp://127.0.0.1:%d", port);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "tcp://127.0.0.1:1");
    s_admin_ok(adm, VL_MSG_ADD_SN, &a);
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    a.nls = 1;
    a.rf = 1;
    s_admin_ok(adm, VL_MSG_CREATE_TOPIC, &a);
    zsock_destroy(&adm);
    s_rounds(port, 0, 30);
    zactor_destroy(&mr);
    s_rm_sub(dir, "mr.db");

    mr = s_mr_open(dir, 8, &port);
    vl_meta_t meta;
    s_meta(port, &meta);
    assert_int_equal(meta.nsn, 1);
    assert_int_equal(meta.ntopics, 1);
    assert_int_equal(meta.topics[0].hwm, 30);
    assert_int_equal(meta.topics[0].end_offset, 300);
    assert_int_equal(meta.version, 30);
    vl_meta_free(&meta);
    s_rounds(port, 30, 33);
    zactor_destroy(&mr);
    fx_rmdir(dir);
}

/*  Replication settings that cannot work are refused at start, saying
    why. */
static void test_refused_settings(void **state)
{
    (void)state;
    char dir[64];
    fx_tmpdir(dir, sizeof dir, "mrserver");
    static const struct {
        const char *peers, *raft_addr;
        bool join;
        const char *why;
    } bad[] = {
        {"2@127.0.0.1:1@tcp://127.0.0.1:2", NULL, false, "does not name this replica"},
        {"1@127.0.0.1:1", NULL, false, "is not ID@RAFTADDR@ENDPOINT"},
        {"1@127.0.0.1:1@tcp://a,1@127.0.0.1:2@tcp://b", NULL, false, "twice"},
        {"1@127.0.0.1:1@tcp://a", "127.0.0.1:2", false, "differs"},
        {"1@127.0.0.1:0@tcp://a,2@127.0.0.1:3@tcp://b", NULL, false, "a group of one only"},
        {NULL, "nohost", false, "HOST:PORT"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                              .data_dir = dir,
                              .cluster_id = S_CLUSTER,
                              .peers = bad[i].peers,
                              .raft_addr = bad[i].raft_addr,
                              .join = bad[i].join};
        assert_null(vl_mr_start(&cfg));
        assert_int_not_equal(cfg.rc, 0);
        if (!strstr(cfg.errbuf, bad[i].why))
            fail_msg("case %zu: '%s' does not say '%s'", i, cfg.errbuf, bad[i].why);
    }
    /* a store with metadata and no raft log: not for a replica that joins,
       nor for a new group of several */
    int port;
    zactor_t *mr = s_mr_start(dir, 1, 1, 1, &port);
    zactor_destroy(&mr);
    s_rm_sub(dir, "raft");
    vl_mr_config_t cfg = {
        .listen = "tcp://127.0.0.1:*", .data_dir = dir, .cluster_id = S_CLUSTER, .join = true};
    assert_null(vl_mr_start(&cfg));
    assert_non_null(strstr(cfg.errbuf, "--join"));
    cfg.join = false;
    cfg.peers = "1@127.0.0.1:1@tcp://a,2@127.0.0.1:3@tcp://b";
    assert_null(vl_mr_start(&cfg));
    assert_non_null(strstr(cfg.errbuf, "start this replica alone"));
    fx_rmdir(dir);
}

int main(void)
{
    zsys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_from_stale_connection),
        cmocka_unit_test(test_commit_timer_idles),
        cmocka_unit_test(test_round_split_by_sn),
        cmocka_unit_test(test_report_flood_keeps_ticking),
        cmocka_unit_test(test_store_before_raft),
        cmocka_unit_test(test_raft_log_lost),
        cmocka_unit_test(test_store_lost),
        cmocka_unit_test(test_refused_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
