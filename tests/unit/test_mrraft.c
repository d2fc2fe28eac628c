/*  test_mrraft.c - the MR's consensus engine (mr/raft.c, mr/raft_core.c):
    the command codec; the chain, snapshot header and leader logic on
    libraft's raft_fixture (a deterministic in-process cluster with kill,
    disconnect and disk fault controls); and real engines over TCP on
    127.0.0.1, a group of one and a group of three. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <raft/fixture.h>
#include "raft.h"
#include "raft_i.h"
#include "util.h"
#include "../lib/fixture.h"

/*  ---- a state machine that records what it applied ----------------------- */

typedef struct {
    uint64_t index;  /* last raft index applied */
    uint64_t n;      /* commands applied */
    uint64_t digest; /* vl_mrraft_hash chained over the commands applied */
    uint64_t *ids;   /* each command's first 8 bytes (its id) */
    size_t cap;
    int skips;    /* replays of an index applied already */
    int restores; /* snapshots restored */
    int role;     /* what the role callback said last */
    uint64_t term, leader;
} tsm_t;

static uint64_t s_cmd_id(const uint8_t *data, size_t len)
{
    uint64_t id = 0;
    for (size_t i = 0; i < len && i < 8; i++)
        id |= (uint64_t)data[i] << (8 * i);
    return id;
}

static void tsm_push(tsm_t *t, uint64_t id)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->ids = vl_realloc(t->ids, t->cap * sizeof *t->ids);
    }
    t->ids[t->n++] = id;
}

static int tsm_apply(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
    tsm_t *t = arg;
    if (index <= t->index) {
        t->skips++;
        return 0;
    }
    t->index = index;
    t->digest = vl_mrraft_hash(t->digest, data, len);
    tsm_push(t, s_cmd_id(data, len));
    return 0;
}

static int tsm_snapshot(void *arg, uint8_t **data_p, size_t *len_p)
{
    tsm_t *t = arg;
    size_t len = 24 + 8 * t->n;
    uint8_t *p = vl_malloc(len);
    vl_put_le64(p, t->index);
    vl_put_le64(p + 8, t->n);
    vl_put_le64(p + 16, t->digest);
    for (size_t i = 0; i < t->n; i++)
        vl_put_le64(p + 24 + 8 * i, t->ids[i]);
    *data_p = p;
    *len_p = len;
    return 0;
}

static int tsm_restore(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
    tsm_t *t = arg;
    t->restores++;
    if (index <= t->index)
        return 0;
    if (len < 24 || len != 24 + 8 * vl_get_le64(data + 8))
        return -1;
    t->index = vl_get_le64(data);
    t->n = 0;
    t->digest = vl_get_le64(data + 16);
    for (size_t i = 0; i < vl_get_le64(data + 8); i++)
        tsm_push(t, vl_get_le64(data + 24 + 8 * i));
    return 0;
}

static void tsm_role(void *arg, int role, uint64_t term, uint64_t leader_id)
{
    tsm_t *t = arg;
    t->role = role;
    t->term = term;
    t->leader = leader_id;
}

static const vl_mrraft_fsm_t s_tsm_ops = {tsm_apply, tsm_snapshot, tsm_restore, tsm_role};

static void tsm_fini(tsm_t *t)
{
    free(t->ids);
    memset(t, 0, sizeof *t);
}

/*  a's sequence is a prefix of b's (or b's of a's). */
static void s_assert_prefix(const tsm_t *a, const tsm_t *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (a->ids[i] != b->ids[i])
            fail_msg("applied sequences differ at command %zu: %llu vs %llu", i,
                     (unsigned long long)a->ids[i], (unsigned long long)b->ids[i]);
}

static void s_assert_same(const tsm_t *a, const tsm_t *b)
{
    assert_int_equal(a->n, b->n);
    s_assert_prefix(a, b);
    assert_int_equal(a->digest, b->digest);
}

/*  A command of len bytes (at least 8) starting with id. */
static uint8_t *s_cmd(uint64_t id, size_t len)
{
    uint8_t *p = vl_malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i < 8 ? id >> (8 * i) : id * 31 + i);
    return p;
}

typedef struct {
    int calls;
    int status;
    uint64_t index;
} done_t;

static void s_done(void *arg, int status, uint64_t index)
{
    done_t *d = arg;
    d->calls++;
    d->status = status;
    d->index = index;
}

/*  ---- the codec ----------------------------------------------------------- */

static void test_codec_roundtrip(void **state)
{
    (void)state;
    size_t lens[110];
    size_t nlens = 0;
    for (size_t len = 0; len <= 100; len++)
        lens[nlens++] = len;
    lens[nlens++] = 1001;
    lens[nlens++] = 4093;
    lens[nlens++] = 65536;
    lens[nlens++] = 1 << 20;
    uint64_t prev = 0;
    for (size_t k = 0; k < nlens; k++) {
        size_t len = lens[k], n = 0;
        uint8_t *data = s_cmd(k, len);
        uint64_t hash = 0;
        uint8_t *buf = vl_mrraft_encode(prev, data, len, &n, &hash);
        assert_int_equal(n % 8, 0);
        assert_int_equal(n, VL_MRRAFT_HDR + ((len + 7) / 8) * 8);
        for (size_t i = VL_MRRAFT_HDR + len; i < n; i++)
            assert_int_equal(buf[i], 0);
        assert_int_equal(hash, vl_mrraft_hash(prev, data, len));
        const uint8_t *d;
        size_t l;
        uint64_t p, h;
        assert_int_equal(vl_mrraft_decode(buf, n, &d, &l, &p, &h), 0);
        assert_int_equal(l, len);
        assert_memory_equal(d, data, len ? len : 0);
        assert_int_equal(p, prev);
        assert_int_equal(h, hash);
        /* the chain: each hash depends on the one before */
        assert_int_not_equal(hash, vl_mrraft_hash(prev ^ 1, data, len));
        prev = hash;
        free(buf);
        free(data);
    }
}

/*  Every single-byte change of an encoded command, header, data or
    padding, is refused; and so is every truncation. */
static void test_codec_corruption(void **state)
{
    (void)state;
    for (size_t len = 0; len <= 100; len++) {
        uint8_t *data = s_cmd(len * 7 + 1, len);
        size_t n;
        uint8_t *buf = vl_mrraft_encode(0x1234567890abcdefULL, data, len, &n, NULL);
        const uint8_t *d;
        size_t l;
        uint64_t p, h;
        for (size_t i = 0; i < n; i++) {
            uint8_t orig = buf[i];
            for (int flip = 1; flip < 256; flip++) {
                buf[i] = (uint8_t)(orig ^ flip);
                if (vl_mrraft_decode(buf, n, &d, &l, &p, &h) == 0)
                    fail_msg("len %zu: byte %zu ^ %d accepted", len, i, flip);
            }
            buf[i] = orig;
        }
        for (size_t cut = 0; cut < n; cut++)
            assert_int_equal(vl_mrraft_decode(buf, cut, &d, &l, &p, &h), -1);
        assert_int_equal(vl_mrraft_decode(buf, n, &d, &l, &p, &h), 0);
        free(buf);
        free(data);
    }
}

/*  ---- a real engine: a group of one ---------------------------------------- */

/*  A free TCP port in 20000-32000 on 127.0.0.1 (raft binds it later, so
    another process could take it in between: unlikely in that range). */
static int s_free_port(void)
{
    static int next;
    if (!next)
        next = 20000 + (int)(getpid() % 1000) * 12;
    for (int tries = 0; tries < 12000; tries++) {
        int port = next++;
        if (next >= 32000)
            next = 20000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        if (rc == 0)
            return port;
    }
    fail_msg("no free port in 20000-32000");
    return -1;
}

typedef bool(s_pred_fn)(void *arg);

typedef struct {
    s_pred_fn *pred;
    void *arg;
    int64_t deadline;
    bool ok;
} s_wait_t;

static int s_wait_tick(zloop_t *loop, int timer_id, void *arg)
{
    s_wait_t *w = arg;
    if (w->pred(w->arg))
        w->ok = true;
    return w->ok || zclock_mono() > w->deadline ? -1 : 0;
}

/*  Runs loop until pred holds (true) or ms passed (false). */
static bool s_run_until(zloop_t *loop, s_pred_fn *pred, void *arg, int ms)
{
    s_wait_t w = {pred, arg, zclock_mono() + ms, false};
    if (pred(arg))
        return true;
    int id = zloop_timer(loop, 1, 0, s_wait_tick, &w);
    while (!w.ok && zclock_mono() <= w.deadline)
        zloop_start(loop);
    zloop_timer_end(loop, id);
    return w.ok;
}

typedef struct {
    vl_mrraft_t *raft;
    tsm_t sm;
    done_t *done;
    int ndone;
} one_t;

static bool p_one_leader(void *arg)
{
    one_t *o = arg;
    return vl_mrraft_role(o->raft) == VL_MRRAFT_LEADER;
}

static bool p_one_done(void *arg)
{
    one_t *o = arg;
    for (int i = 0; i < o->ndone; i++)
        if (o->done[i].calls == 0)
            return false;
    return true;
}

static vl_mrraft_t *s_one_new(zloop_t *loop, one_t *o, const char *dir, const char *address)
{
    vl_mrraft_opts_t opts = {.id = 1, .address = address, .dir = dir};
    char err[512] = "";
    vl_mrraft_t *raft = vl_mrraft_new(loop, &opts, &s_tsm_ops, &o->sm, err, sizeof err);
    if (!raft)
        fail_msg("vl_mrraft_new: %s", err);
    vl_mrraft_member_t m = {.id = 1};
    snprintf(m.address, sizeof m.address, "%s", address);
    bool done = false;
    if (vl_mrraft_bootstrap(raft, &m, 1, &done, err, sizeof err) != 0)
        fail_msg("bootstrap: %s", err);
    if (vl_mrraft_start(raft, err, sizeof err) != 0)
        fail_msg("start: %s", err);
    o->raft = raft;
    return raft;
}

/*  A group of one bootstraps, elects itself, applies what it proposes;
    restarted from its directory it does not bootstrap again and replays
    the same chain. */
static void test_engine_one(void **state)
{
    (void)state;
    char dir[256], address[64];
    fx_tmpdir(dir, sizeof dir, "mrraft1");
    snprintf(address, sizeof address, "127.0.0.1:%d", s_free_port());
    zloop_t *loop = zloop_new();
    one_t o = {0};
    done_t done[20] = {{0}};
    s_one_new(loop, &o, dir, address);
    assert_int_equal(vl_mrraft_propose(o.raft, (const uint8_t *)"x", 1, s_done, &done[0]),
                     VL_MRRAFT_ENOTLEADER);
    assert_true(s_run_until(loop, p_one_leader, &o, 5000));
    assert_int_equal(o.sm.role, VL_MRRAFT_LEADER);
    assert_int_equal(o.sm.leader, 1);
    assert_int_equal(vl_mrraft_leader(o.raft, NULL), 1);
    for (int i = 0; i < 20; i++) {
        uint8_t *cmd = s_cmd((uint64_t)i + 1, 8 + (size_t)i * 13);
        assert_int_equal(vl_mrraft_propose(o.raft, cmd, 8 + (size_t)i * 13, s_done, &done[i]), 0);
        free(cmd);
    }
    o.done = done;
    o.ndone = 20;
    assert_true(s_run_until(loop, p_one_done, &o, 5000));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(done[i].calls, 1);
        assert_int_equal(done[i].status, 0);
        assert_true(done[i].index > 0);
        if (i)
            assert_true(done[i].index == done[i - 1].index + 1);
    }
    assert_int_equal(o.sm.n, 20);
    assert_int_equal(o.sm.index, done[19].index);
    assert_int_equal(vl_mrraft_applied_index(o.raft), done[19].index);
    vl_mrraft_member_t m[2];
    assert_int_equal(vl_mrraft_members(o.raft, m, 2), 1);
    assert_int_equal(m[0].id, 1);
    assert_string_equal(m[0].address, address);
    assert_int_equal(m[0].role, VL_MRRAFT_VOTER);
    tsm_t before = o.sm;
    vl_mrraft_destroy(&o.raft);
    assert_null(o.raft);

    /* restart: a fresh state machine sees the same chain again */
    memset(&o.sm, 0, sizeof o.sm);
    vl_mrraft_opts_t opts = {.id = 1, .address = address, .dir = dir};
    char err[512];
    o.raft = vl_mrraft_new(loop, &opts, &s_tsm_ops, &o.sm, err, sizeof err);
    assert_non_null(o.raft);
    vl_mrraft_member_t me = {.id = 1};
    snprintf(me.address, sizeof me.address, "%s", address);
    bool did = true;
    assert_int_equal(vl_mrraft_bootstrap(o.raft, &me, 1, &did, err, sizeof err), 0);
    assert_false(did);
    assert_int_equal(vl_mrraft_start(o.raft, err, sizeof err), 0);
    assert_true(s_run_until(loop, p_one_leader, &o, 5000));
    s_assert_same(&o.sm, &before);
    vl_mrraft_destroy(&o.raft);
    tsm_fini(&o.sm);
    tsm_fini(&before);
    zloop_destroy(&loop);
    fx_rmdir(dir);
}

/*  Bad arguments get a clear error and create nothing. */
static void test_engine_bad_input(void **state)
{
    (void)state;
    zloop_t *loop = zloop_new();
    tsm_t sm = {0};
    char err[512] = "";
    vl_mrraft_opts_t opts = {.id = 0, .address = "127.0.0.1:1", .dir = "/tmp"};
    assert_null(vl_mrraft_new(loop, &opts, &s_tsm_ops, &sm, err, sizeof err));
    assert_non_null(strstr(err, "raft id"));
    opts = (vl_mrraft_opts_t){.id = 1, .address = "127.0.0.1:1", .dir = "/dev/null/raft"};
    assert_null(vl_mrraft_new(loop, &opts, &s_tsm_ops, &sm, err, sizeof err));
    assert_non_null(strstr(err, "/dev/null/raft"));
    zloop_destroy(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_corruption),
        cmocka_unit_test(test_engine_one),
        cmocka_unit_test(test_engine_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
