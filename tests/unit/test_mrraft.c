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
#include <dirent.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <raft/fixture.h>
#include "raft.h"
#include "raft_i.h"
#include "util.h"
#include "zerofill.h"
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
    bool refuse; /* apply fails */
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
    if (t->refuse)
        return -1;
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

/*  Nothing twice in a sequence. */
static void s_assert_distinct(const tsm_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = i + 1; j < t->n; j++)
            if (t->ids[i] == t->ids[j])
                fail_msg("command %llu applied twice", (unsigned long long)t->ids[i]);
}

static bool s_has(const tsm_t *t, uint64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ids[i] == id)
            return true;
    return false;
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
    stopped, it ends a pending proposal with ESTOPPED; restarted from its
    directory it does not bootstrap again and replays the same chain. */
/*  The extents of fd that are allocated but unwritten (FIEMAP), or -1
    when the file system does not say (tmpfs). */
static int s_unwritten_extents(int fd)
{
    size_t size = sizeof(struct fiemap) + 256 * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, size);
    assert_non_null(fm);
    fm->fm_length = FIEMAP_MAX_OFFSET;
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = 256;
    int n = -1;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) == 0) {
        n = 0;
        for (uint32_t i = 0; i < fm->fm_mapped_extents; i++)
            if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN)
                n++;
    }
    free(fm);
    return n;
}

/*  The raft log's segments are prepared as written blocks (zerofill.c):
    posix_fallocate, which libraft calls, writes zeros beyond the end of
    the file and keeps the bytes already there. */
static void test_zerofill(void **state)
{
    (void)state;
    char dir[256], path[300];
    fx_tmpdir(dir, sizeof dir, "zerofill");
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "abcdefgh", 8, 0), 8);
    /* the libc symbol is ours in this binary, as in varlogmr */
    assert_int_equal(posix_fallocate(fd, 4, (3 << 20) + 5), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, (3 << 20) + 9);
    char *buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    assert_memory_equal(buf, "abcdefgh", 8);
    for (off_t i = 8; i < st.st_size; i++)
        if (buf[i] != 0)
            fail_msg("byte %lld is %d, not 0", (long long)i, buf[i]);
    free(buf);
    int unwritten = s_unwritten_extents(fd);
    if (unwritten >= 0)
        assert_int_equal(unwritten, 0);
    /* within the file: nothing written, nothing changed, no error */
    assert_int_equal(vl_zerofill(fd, 0, 8), 0);
    char head[8];
    assert_int_equal(pread(fd, head, 8, 0), 8);
    assert_memory_equal(head, "abcdefgh", 8);
    assert_int_equal(vl_zerofill(fd, -1, 8), EINVAL);
    assert_int_equal(vl_zerofill(fd, 0, 0), EINVAL);
    close(fd);
    assert_int_equal(vl_zerofill(fd, 0, 4096), EBADF);
    fx_rmdir(dir);
}

/*  Every open segment libraft prepared in DIR is made of written blocks. */
static void s_assert_segments_written(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int segments = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "open-", 5) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        int unwritten = s_unwritten_extents(fd);
        close(fd);
        if (unwritten > 0)
            fail_msg("%s has %d unwritten extents: libraft's posix_fallocate was not ours", path,
                     unwritten);
        segments++;
    }
    closedir(d);
    assert_true(segments > 0);
}

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
    s_assert_segments_written(dir);
    assert_int_equal(vl_mrraft_applied_index(o.raft), done[19].index);
    vl_mrraft_member_t m[2];
    assert_int_equal(vl_mrraft_members(o.raft, m, 2), 1);
    assert_int_equal(m[0].id, 1);
    assert_string_equal(m[0].address, address);
    assert_int_equal(m[0].role, VL_MRRAFT_VOTER);
    tsm_t before = o.sm;
    /* stopped with a proposal in flight: its caller hears ESTOPPED, once */
    done_t late = {0};
    uint8_t *cmd = s_cmd(99, 8);
    assert_int_equal(vl_mrraft_propose(o.raft, cmd, 8, s_done, &late), 0);
    free(cmd);
    vl_mrraft_destroy(&o.raft);
    assert_null(o.raft);
    assert_int_equal(late.calls, 1);
    assert_int_equal(late.status, VL_MRRAFT_ESTOPPED);

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
    /* the stopped proposal's outcome was unknown: it may have reached the
       log before the stop, then it is applied now, once */
    s_assert_prefix(&before, &o.sm);
    assert_true(o.sm.n == 20 || (o.sm.n == 21 && o.sm.ids[20] == 99));
    vl_mrraft_destroy(&o.raft);
    tsm_fini(&o.sm);
    tsm_fini(&before);
    zloop_destroy(&loop);
    fx_rmdir(dir);
}

static bool p_one_diverged(void *arg)
{
    one_t *o = arg;
    return vl_mrraft_role(o->raft) == VL_MRRAFT_DIVERGED;
}

/*  A state machine that refuses a command stops the engine for good: the
    replica leaves the group, its proposer and later callers hear
    ESTOPPED, and it can still be asked about and destroyed. */
static void test_engine_diverged(void **state)
{
    (void)state;
    char dir[256], address[64];
    fx_tmpdir(dir, sizeof dir, "mrraftd");
    snprintf(address, sizeof address, "127.0.0.1:%d", s_free_port());
    zloop_t *loop = zloop_new();
    one_t o = {0};
    done_t d[2] = {{0}};
    s_one_new(loop, &o, dir, address);
    assert_true(s_run_until(loop, p_one_leader, &o, 5000));
    o.sm.refuse = true;
    assert_int_equal(vl_mrraft_propose(o.raft, (const uint8_t *)"refused!", 8, s_done, &d[0]), 0);
    assert_true(s_run_until(loop, p_one_diverged, &o, 5000));
    assert_int_equal(o.sm.role, VL_MRRAFT_DIVERGED);
    o.done = d;
    o.ndone = 1;
    assert_true(s_run_until(loop, p_one_done, &o, 5000));
    assert_int_equal(d[0].status, VL_MRRAFT_ESTOPPED);
    assert_int_equal(vl_mrraft_propose(o.raft, (const uint8_t *)"late", 4, s_done, &d[1]),
                     VL_MRRAFT_ESTOPPED);
    assert_non_null(strstr(vl_mrraft_errmsg(o.raft), "diverged"));
    vl_mrraft_member_t m;
    assert_int_equal(vl_mrraft_members(o.raft, &m, 1), 0);
    assert_int_equal(vl_mrraft_leader(o.raft, NULL), 0);
    zclock_sleep(20);
    assert_int_equal(vl_mrraft_role(o.raft), VL_MRRAFT_DIVERGED);
    vl_mrraft_destroy(&o.raft);
    assert_int_equal(d[1].calls, 0);
    tsm_fini(&o.sm);
    zloop_destroy(&loop);
    fx_rmdir(dir);
}

/*  Bad arguments get a clear error and change nothing; an engine that
    never started, or failed to, is destroyed cleanly. */
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

    char dir[256], dir2[256], address[64];
    fx_tmpdir(dir, sizeof dir, "mrraftb");
    fx_tmpdir(dir2, sizeof dir2, "mrraftb");
    snprintf(address, sizeof address, "127.0.0.1:%d", s_free_port());
    opts = (vl_mrraft_opts_t){.id = 1, .address = address, .dir = dir};
    vl_mrraft_t *raft = vl_mrraft_new(loop, &opts, &s_tsm_ops, &sm, err, sizeof err);
    assert_non_null(raft);
    vl_mrraft_destroy(&raft); /* never started */
    raft = vl_mrraft_new(loop, &opts, &s_tsm_ops, &sm, err, sizeof err);
    assert_non_null(raft);
    bool did = true;
    assert_int_equal(vl_mrraft_bootstrap(raft, NULL, 0, &did, err, sizeof err), VL_MRRAFT_EFAIL);
    assert_false(did);
    vl_mrraft_member_t m[2] = {{.id = 1}, {.id = 1}};
    snprintf(m[0].address, sizeof m[0].address, "%s", address);
    snprintf(m[1].address, sizeof m[1].address, "127.0.0.1:2");
    assert_int_equal(vl_mrraft_bootstrap(raft, m, 2, &did, err, sizeof err), VL_MRRAFT_EFAIL);
    assert_non_null(strstr(err, "own id"));
    assert_int_equal(vl_mrraft_bootstrap(raft, m, 1, &did, err, sizeof err), 0);
    assert_true(did);
    assert_int_equal(vl_mrraft_start(raft, err, sizeof err), 0);
    assert_int_equal(vl_mrraft_start(raft, err, sizeof err), VL_MRRAFT_EFAIL);
    assert_non_null(strstr(err, "started already"));
    assert_int_equal(vl_mrraft_bootstrap(raft, m, 1, &did, err, sizeof err), VL_MRRAFT_EFAIL);
    assert_non_null(strstr(err, "before start"));
    /* a second engine on the same address cannot start */
    tsm_t sm2 = {0};
    opts.dir = dir2;
    vl_mrraft_t *raft2 = vl_mrraft_new(loop, &opts, &s_tsm_ops, &sm2, err, sizeof err);
    assert_non_null(raft2);
    assert_int_equal(vl_mrraft_bootstrap(raft2, m, 1, &did, err, sizeof err), 0);
    assert_int_equal(vl_mrraft_start(raft2, err, sizeof err), VL_MRRAFT_EFAIL);
    assert_non_null(strstr(err, address));
    assert_non_null(strstr(err, "in use"));
    vl_mrraft_destroy(&raft2);
    vl_mrraft_destroy(&raft);
    tsm_fini(&sm);
    tsm_fini(&sm2);
    zloop_destroy(&loop);
    fx_rmdir(dir);
    fx_rmdir(dir2);
}

/*  ---- the core on raft_fixture ---------------------------------------------- */

#define FX_MAX 5

/*  A fixture cluster, each server with a core and a recording state
    machine. Dead servers are not polled (their process does not run). */
typedef struct {
    struct raft_fixture f;
    unsigned n;
    vl_mrraft_core_t core[FX_MAX];
    tsm_t sm[FX_MAX];
} fx_t;

static void fx_init(fx_t *x, unsigned n, unsigned snapshot_threshold)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    assert_int_equal(raft_fixture_initialize(&x->f), 0);
    for (unsigned i = 0; i < n; i++) {
        vl_mrraft_core_init(&x->core[i], i + 1, &s_tsm_ops, &x->sm[i]);
        assert_int_equal(raft_fixture_grow(&x->f, &x->core[i].fsm), 0);
        struct raft *r = raft_fixture_get(&x->f, i);
        vl_mrraft_core_bind(&x->core[i], r);
        if (snapshot_threshold) {
            raft_set_snapshot_threshold(r, snapshot_threshold);
            raft_set_snapshot_trailing(r, 2);
        }
    }
}

/*  Bootstraps every server with all as voters and starts them. */
static void fx_start(fx_t *x)
{
    struct raft_configuration conf;
    assert_int_equal(raft_fixture_configuration(&x->f, x->n, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&x->f, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&x->f), 0);
}

static void fx_fini(fx_t *x)
{
    for (unsigned i = 0; i < x->n; i++)
        vl_mrraft_core_stop(&x->core[i]);
    raft_fixture_close(&x->f);
    for (unsigned i = 0; i < x->n; i++) {
        vl_mrraft_core_fini(&x->core[i]);
        tsm_fini(&x->sm[i]);
    }
}

static void fx_step(fx_t *x)
{
    raft_fixture_step(&x->f);
    for (unsigned i = 0; i < x->n; i++)
        if (raft_fixture_alive(&x->f, i))
            vl_mrraft_core_poll(&x->core[i]);
}

typedef bool(fx_pred_fn)(fx_t *x, void *arg);

/*  Steps until pred holds (true) or max_ms of fixture time passed. */
static bool fx_until(fx_t *x, fx_pred_fn *pred, void *arg, unsigned max_ms)
{
    raft_time end = raft_fixture_time(&x->f) + max_ms;
    while (!pred(x, arg)) {
        if (raft_fixture_time(&x->f) > end)
            return false;
        fx_step(x);
    }
    return true;
}

/*  The live server whose core reports LEADER, or -1. */
static int fx_leader(fx_t *x)
{
    for (unsigned i = 0; i < x->n; i++)
        if (raft_fixture_alive(&x->f, i) && vl_mrraft_core_role(&x->core[i]) == VL_MRRAFT_LEADER)
            return (int)i;
    return -1;
}

static bool p_leader(fx_t *x, void *arg)
{
    int *not = arg;
    int l = fx_leader(x);
    return l >= 0 && (!not || l != *not );
}

typedef struct {
    raft_index index;
    int except; /* a server not to wait for (cut off), or -1 */
} fx_applied_t;

/*  Every live server (but except) applied index. */
static bool p_applied(fx_t *x, void *arg)
{
    fx_applied_t *a = arg;
    for (unsigned i = 0; i < x->n; i++)
        if ((int)i != a->except && raft_fixture_alive(&x->f, i) && !x->core[i].diverged &&
            raft_last_applied(raft_fixture_get(&x->f, i)) < a->index)
            return false;
    return true;
}

/*  Steps until every live server but except applied the leader's last
    entry. */
static void fx_settle_but(fx_t *x, int leader, int except)
{
    fx_applied_t a = {raft_last_index(raft_fixture_get(&x->f, (unsigned)leader)), except};
    assert_true(fx_until(x, p_applied, &a, 10000));
}

static void fx_settle(fx_t *x, int leader)
{
    fx_settle_but(x, leader, -1);
}

static int fx_propose(fx_t *x, int i, uint64_t id, size_t len, done_t *d)
{
    uint8_t *cmd = s_cmd(id, len);
    int rc = vl_mrraft_core_propose(&x->core[i], cmd, len, s_done, d);
    free(cmd);
    return rc;
}

/*  Proposes ids [from, to) on server i, all accepted at once. */
static void fx_batch(fx_t *x, int i, uint64_t from, uint64_t to, done_t *d)
{
    for (uint64_t id = from; id < to; id++)
        assert_int_equal(fx_propose(x, i, id, 8 + (size_t)(id % 29), &d[id]), 0);
}

static void fx_assert_no_divergence(fx_t *x)
{
    for (unsigned i = 0; i < x->n; i++)
        if (x->core[i].diverged)
            fail_msg("server %u diverged: %s", i, x->core[i].errmsg);
}

/*  Steps until every live server applied the leader's last entry, then
    checks that none diverged and all applied the leader's n commands. */
static void fx_converged(fx_t *x, int leader, uint64_t n)
{
    fx_settle(x, leader);
    fx_assert_no_divergence(x);
    for (unsigned i = 0; i < x->n; i++)
        if (raft_fixture_alive(&x->f, i))
            s_assert_same(&x->sm[i], &x->sm[leader]);
    assert_int_equal(x->sm[leader].n, n);
}

static int fx_ready(fx_t *x)
{
    assert_true(fx_until(x, p_leader, NULL, 10000));
    return fx_leader(x);
}

/*  Three servers bootstrapped and started, a leader serving and ids
    [1, n) applied everywhere; returns the leader. */
static int fx_up(fx_t *x, uint64_t n, done_t *d)
{
    fx_init(x, 3, 0);
    fx_start(x);
    int l = fx_ready(x);
    fx_batch(x, l, 1, n, d);
    fx_settle(x, l);
    return l;
}

/*  Some follower holds everything the leader has. */
static bool p_follower_has_all(fx_t *x, void *arg)
{
    unsigned l = *(unsigned *)arg;
    raft_index last = raft_last_index(raft_fixture_get(&x->f, l));
    for (unsigned i = 0; i < x->n; i++)
        if (i != l && raft_last_index(raft_fixture_get(&x->f, i)) >= last)
            return true;
    return false;
}

/*  The leader dies with proposals in flight (a batch applied, the next
    one on a follower's disk but not yet known committed): the survivors
    elect the follower that holds it, whose barrier commits it; every
    replica's sequence is a prefix of the same one, nothing is applied
    twice, and every command whose proposer heard "applied" is in it. */
static void test_fixture_kill_leader(void **state)
{
    (void)state;
    fx_t x;
    done_t d[61] = {{0}};
    int l = fx_up(&x, 21, d);
    assert_int_equal(x.sm[l].role, VL_MRRAFT_LEADER);
    fx_batch(&x, l, 21, 41, d);
    unsigned lu = (unsigned)l;
    assert_true(fx_until(&x, p_follower_has_all, &lu, 1000));
    assert_int_equal(d[40].calls, 0);
    raft_fixture_kill(&x.f, lu);
    assert_true(fx_until(&x, p_leader, &l, 10000));
    int l2 = fx_leader(&x);
    int s = 3 - l - l2; /* the other survivor */
    fx_batch(&x, l2, 41, 61, d);
    fx_settle(&x, l2);
    fx_assert_no_divergence(&x);
    s_assert_same(&x.sm[l2], &x.sm[s]);
    s_assert_prefix(&x.sm[l], &x.sm[l2]);
    s_assert_distinct(&x.sm[l2]);
    assert_int_equal(x.sm[l2].n, 60);
    for (uint64_t id = 1; id < 61; id++) {
        assert_int_equal(x.sm[l2].ids[id - 1], id);
        if (id <= 20 || id > 40) {
            assert_int_equal(d[id].calls, 1);
            assert_int_equal(d[id].status, 0);
        }
    }
    assert_int_equal(x.sm[l].n, 20); /* it died before hearing the second batch committed */
    assert_int_equal(x.core[l2].applied_hash, x.core[s].applied_hash);
    fx_fini(&x);
}

static bool p_not_raft_leader(fx_t *x, void *arg)
{
    return raft_state(raft_fixture_get(&x->f, *(unsigned *)arg)) != RAFT_LEADER;
}

/*  The leader is cut off: it applies nothing proposed after the cut,
    steps down within one to two election timeouts (its proposals fail
    with ELEADERSHIP), the others go on, and once reconnected it drops
    its uncommitted tail and converges on their sequence. */
static void test_fixture_partition_leader(void **state)
{
    (void)state;
    fx_t x;
    done_t d[41] = {{0}};
    int l = fx_up(&x, 11, d);
    unsigned lu = (unsigned)l;
    struct raft *lr = raft_fixture_get(&x.f, lu);
    raft_index cut = raft_last_applied(lr);
    for (unsigned i = 0; i < 3; i++)
        if (i != lu) {
            raft_fixture_disconnect(&x.f, lu, i);
            raft_fixture_disconnect(&x.f, i, lu);
        }
    raft_time t0 = raft_fixture_time(&x.f);
    fx_batch(&x, l, 11, 21, d);
    assert_true(fx_until(&x, p_not_raft_leader, &lu, 5000));
    raft_time took = raft_fixture_time(&x.f) - t0;
    print_message("partitioned leader stepped down after %llu ms (election timeout %u)\n", took,
                  lr->election_timeout);
    /* libraft checks a leader's contact with a majority once per election
       timeout, so the cut is noticed at the end of the next window */
    assert_true(took <= 2 * lr->election_timeout + lr->heartbeat_timeout);
    assert_int_equal(raft_last_applied(lr), cut);
    for (uint64_t id = 11; id < 21; id++) {
        assert_int_equal(d[id].calls, 1);
        assert_int_equal(d[id].status, VL_MRRAFT_ELEADERSHIP);
    }
    assert_int_not_equal(vl_mrraft_core_role(&x.core[l]), VL_MRRAFT_LEADER);
    assert_true(fx_until(&x, p_leader, &l, 10000));
    int l2 = fx_leader(&x);
    fx_batch(&x, l2, 21, 31, d);
    fx_settle_but(&x, l2, l);
    for (unsigned i = 0; i < 3; i++)
        if (i != lu) {
            raft_fixture_reconnect(&x.f, lu, i);
            raft_fixture_reconnect(&x.f, i, lu);
        }
    fx_converged(&x, fx_ready(&x), 20);
    for (unsigned i = 0; i < 3; i++)
        for (uint64_t id = 11; id < 21; id++)
            assert_false(s_has(&x.sm[i], id));
    fx_fini(&x);
}

static bool p_time_passed(fx_t *x, void *arg)
{
    return raft_fixture_time(&x->f) >= *(raft_time *)arg;
}

/*  A follower cut off for many election timeouts and then reconnected
    does not depose the leader (pre-vote): the term stays, the leader
    leads on, and the follower catches up. */
static void test_fixture_partition_follower(void **state)
{
    (void)state;
    fx_t x;
    done_t d[31] = {{0}};
    int l = fx_up(&x, 11, d);
    unsigned lu = (unsigned)l, fu = (lu + 1) % 3;
    struct raft *lr = raft_fixture_get(&x.f, lu);
    raft_term term = lr->current_term;
    for (unsigned i = 0; i < 3; i++)
        if (i != fu) {
            raft_fixture_disconnect(&x.f, fu, i);
            raft_fixture_disconnect(&x.f, i, fu);
        }
    raft_time until = raft_fixture_time(&x.f) + 10 * lr->election_timeout;
    assert_true(fx_until(&x, p_time_passed, &until, 20 * lr->election_timeout));
    fx_batch(&x, l, 11, 21, d);
    fx_settle_but(&x, l, (int)fu);
    for (unsigned i = 0; i < 3; i++)
        if (i != fu) {
            raft_fixture_reconnect(&x.f, fu, i);
            raft_fixture_reconnect(&x.f, i, fu);
        }
    fx_batch(&x, l, 21, 31, d);
    fx_settle(&x, l);
    assert_int_equal(fx_leader(&x), l);
    assert_true(lr->current_term == term);
    assert_true(raft_fixture_get(&x.f, fu)->current_term == term);
    for (uint64_t id = 11; id < 31; id++)
        assert_int_equal(d[id].status, 0);
    fx_fini(&x);
}

/*  A disk write of the leader fails: the proposal is refused, the leader
    stops serving and hands over, a leader serves again and the cluster
    goes on; the failed command is applied nowhere. */
static void test_fixture_io_fault(void **state)
{
    (void)state;
    fx_t x;
    done_t d[21] = {{0}};
    int l = fx_up(&x, 6, d);
    raft_fixture_io_fault(&x.f, (unsigned)l, 0, 1);
    int rc = fx_propose(&x, l, 6, 16, &d[6]);
    fx_step(&x);
    /* libraft's in-memory disk fails the append at once; a real one
       reports it later: both end the same way */
    if (rc == 0)
        assert_int_equal(d[6].status, VL_MRRAFT_ELEADERSHIP);
    else
        assert_int_equal(rc, VL_MRRAFT_EFAIL);
    assert_int_not_equal(vl_mrraft_core_role(&x.core[l]), VL_MRRAFT_LEADER);
    int l2 = fx_ready(&x);
    assert_int_not_equal(l2, l); /* it handed leadership over */
    fx_batch(&x, l2, 7, 21, d);
    fx_settle(&x, l2);
    fx_assert_no_divergence(&x);
    for (unsigned i = 0; i < 3; i++) {
        s_assert_same(&x.sm[i], &x.sm[l2]);
        s_assert_distinct(&x.sm[i]);
        if (rc != 0)
            assert_false(s_has(&x.sm[i], 6));
    }
    for (uint64_t id = 7; id < 21; id++)
        assert_int_equal(d[id].status, 0);
    fx_fini(&x);
}

/*  A replica that missed entries the leader compacted away gets a
    snapshot: its state equals the others' after restore, and the chain
    goes on from the hash the snapshot carried. */
static void test_fixture_snapshot_install(void **state)
{
    (void)state;
    fx_t x;
    done_t d[61] = {{0}};
    fx_init(&x, 3, 8);
    fx_start(&x);
    int l = fx_ready(&x);
    unsigned lag = ((unsigned)l + 1) % 3;
    raft_fixture_kill(&x.f, lag);
    for (uint64_t id = 1; id < 51; id += 10) {
        fx_batch(&x, l, id, id + 10, d);
        fx_settle(&x, l);
    }
    struct raft *lr = raft_fixture_get(&x.f, (unsigned)l);
    assert_true(lr->log.snapshot.last_index > 0);
    raft_fixture_revive(&x.f, lag);
    l = fx_ready(&x);
    fx_settle(&x, l);
    assert_true(x.sm[lag].restores >= 1);
    s_assert_same(&x.sm[lag], &x.sm[l]);
    assert_int_equal(x.core[lag].applied_hash, x.core[l].applied_hash);
    fx_batch(&x, l, 51, 61, d);
    fx_converged(&x, l, 60);
    fx_fini(&x);
}

/*  A raft log as a restarted server finds it on disk: the configuration
    at index 1 and n chained commands (ids 1..n at indexes 2..n+1) in term
    1, of which the entries after index `after` (the fixture puts them
    right after a snapshot). hash_at[index] gets the chain's hash there. */
static void fx_persist_log(fx_t *x, unsigned i, unsigned n, unsigned after, uint64_t *hash_at)
{
    struct raft_configuration conf;
    assert_int_equal(raft_fixture_configuration(&x->f, x->n, &conf), 0);
    struct raft_buffer buf;
    assert_int_equal(raft_configuration_encode(&conf, &buf), 0);
    raft_configuration_close(&conf);
    struct raft_entry e = {.term = 1, .type = RAFT_CHANGE, .buf = buf};
    if (after < 1)
        raft_fixture_add_entry(&x->f, i, &e);
    else
        raft_free(buf.base);
    uint64_t prev = 0;
    hash_at[1] = 0;
    for (unsigned k = 1; k <= n; k++) {
        uint8_t *cmd = s_cmd(k, 8 + k % 13);
        size_t len = vl_mrraft_encoded_len(8 + k % 13);
        uint8_t *enc = raft_malloc(len);
        prev = vl_mrraft_encode_into(enc, prev, cmd, 8 + k % 13);
        hash_at[k + 1] = prev;
        free(cmd);
        e = (struct raft_entry){.term = 1, .type = RAFT_COMMAND, .buf = {enc, len}};
        if (k + 1 > after)
            raft_fixture_add_entry(&x->f, i, &e);
        else
            raft_free(enc);
    }
    raft_fixture_set_term(&x->f, i, 1);
}

/*  A snapshot of the first k commands as the engine writes it. */
static void fx_persist_snapshot(fx_t *x, unsigned i, unsigned k, uint64_t hash)
{
    tsm_t t = {0};
    for (unsigned c = 1; c <= k; c++) {
        uint8_t *cmd = s_cmd(c, 8 + c % 13);
        tsm_apply(&t, c + 1, cmd, 8 + c % 13);
        free(cmd);
    }
    uint8_t *data;
    size_t len;
    tsm_snapshot(&t, &data, &len);
    tsm_fini(&t);
    struct raft_snapshot *snap = raft_calloc(1, sizeof *snap);
    snap->index = k + 1;
    snap->term = 1;
    assert_int_equal(raft_fixture_configuration(&x->f, x->n, &snap->configuration), 0);
    snap->configuration_index = 1;
    snap->bufs = raft_malloc(sizeof *snap->bufs);
    snap->n_bufs = 1;
    uint8_t *p = raft_malloc(VL_MRRAFT_SNAP_HDR + len);
    vl_put_le32(p, 0x31534c56u);
    vl_put_le32(p + 4, 0);
    vl_put_le64(p + 8, k + 1);
    vl_put_le64(p + 16, hash);
    memcpy(p + VL_MRRAFT_SNAP_HDR, data, len);
    free(data);
    snap->bufs[0] = (struct raft_buffer){p, VL_MRRAFT_SNAP_HDR + len};
    raft_fixture_set_snapshot(&x->f, i, snap);
}

/*  Restarted servers replay their logs: one whose state machine persisted
    past the log's start skips what it has (idempotent), one that starts
    from a snapshot restores the chain's hash from it and checks the
    entries after it against that; all end identical and go on. */
static void test_fixture_replay(void **state)
{
    (void)state;
    fx_t x;
    uint64_t hash_at[42];
    done_t d[4] = {{0}};
    fx_init(&x, 3, 0);
    fx_persist_log(&x, 0, 40, 0, hash_at);
    fx_persist_log(&x, 1, 40, 0, hash_at);
    fx_persist_log(&x, 2, 40, 31, hash_at);
    /* server 0's state machine had applied commands 1..25 before the crash */
    for (unsigned c = 1; c <= 25; c++) {
        uint8_t *cmd = s_cmd(c, 8 + c % 13);
        tsm_apply(&x.sm[0], c + 1, cmd, 8 + c % 13);
        free(cmd);
    }
    /* server 2 snapshotted after command 30 */
    fx_persist_snapshot(&x, 2, 30, hash_at[31]);
    assert_int_equal(raft_fixture_start(&x.f), 0);
    int l = fx_ready(&x);
    fx_converged(&x, l, 40);
    assert_int_equal(x.sm[0].skips, 25);
    assert_int_equal(x.sm[2].restores, 1);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(x.core[i].applied_hash, hash_at[41]);
    for (uint64_t id = 1; id < 4; id++)
        assert_int_equal(fx_propose(&x, l, 100 + id, 9, &d[id]), 0);
    fx_converged(&x, l, 43);
    fx_fini(&x);
}

static bool p_diverged(fx_t *x, void *arg)
{
    return x->core[*(unsigned *)arg].diverged;
}

/*  A replica whose chain differs from the leader's (it applied something
    else before) refuses the next command, stops and says so; the others
    go on. A leader whose own chain is wrong makes every replica stop:
    loud, never different commits. */
static void test_fixture_broken_chain(void **state)
{
    (void)state;
    fx_t x;
    done_t d[12] = {{0}};
    int l = fx_up(&x, 6, d);
    unsigned f = ((unsigned)l + 1) % 3, o = ((unsigned)l + 2) % 3;
    x.core[f].applied_hash ^= 1;
    fx_batch(&x, l, 6, 8, d);
    assert_true(fx_until(&x, p_diverged, &f, 5000));
    fx_settle(&x, l);
    assert_non_null(strstr(x.core[f].errmsg, "chain broke"));
    assert_int_equal(x.sm[f].role, VL_MRRAFT_DIVERGED);
    assert_int_equal(vl_mrraft_core_role(&x.core[f]), VL_MRRAFT_DIVERGED);
    assert_int_equal(x.sm[f].n, 5); /* the state machine never saw command 6 */
    assert_int_equal(x.sm[o].n, 7);
    s_assert_same(&x.sm[o], &x.sm[l]);
    assert_int_equal(d[7].status, 0);
    assert_false(x.core[l].diverged);

    /* the leader's chain is wrong: everyone refuses, its proposer hears
       ESTOPPED and so does the next caller */
    x.core[l].tail_hash ^= 1;
    assert_int_equal(fx_propose(&x, l, 8, 8, &d[8]), 0);
    unsigned lu = (unsigned)l;
    assert_true(fx_until(&x, p_diverged, &lu, 5000));
    assert_true(fx_until(&x, p_diverged, &o, 5000));
    fx_step(&x);
    assert_int_equal(d[8].calls, 1);
    assert_int_equal(d[8].status, VL_MRRAFT_ESTOPPED);
    assert_int_equal(fx_propose(&x, l, 9, 8, &d[9]), VL_MRRAFT_ESTOPPED);
    for (unsigned i = 0; i < 3; i++)
        assert_false(s_has(&x.sm[i], 8));
    fx_fini(&x);
}

static bool p_done(fx_t *x, void *arg)
{
    return ((done_t *)arg)->calls > 0;
}

/*  Membership through the core: a new server is added (as a spare),
    made a voter (caught up first), takes over leadership by transfer,
    and the old leader is removed; every change reports its raft index,
    and commands keep applying identically on every member. */
static void test_fixture_membership(void **state)
{
    (void)state;
    fx_t x;
    done_t d[40] = {{0}}, add = {0}, assign = {0}, xfer = {0}, rm = {0};
    int l = fx_up(&x, 11, d);
    /* a fourth server, empty, not in the configuration */
    vl_mrraft_core_init(&x.core[3], 4, &s_tsm_ops, &x.sm[3]);
    assert_int_equal(raft_fixture_grow(&x.f, &x.core[3].fsm), 0);
    vl_mrraft_core_bind(&x.core[3], raft_fixture_get(&x.f, 3));
    x.n = 4;
    assert_int_equal(raft_start(raft_fixture_get(&x.f, 3)), 0);
    assert_int_equal(vl_mrraft_core_add(&x.core[(l + 1) % 3], 4, "4", s_done, &add),
                     VL_MRRAFT_ENOTLEADER);
    assert_int_equal(vl_mrraft_core_add(&x.core[l], 4, "4", s_done, &add), 0);
    assert_true(fx_until(&x, p_done, &add, 5000));
    assert_int_equal(add.status, 0);
    assert_true(add.index > 0);
    assert_int_equal(vl_mrraft_core_assign(&x.core[l], 4, 42, s_done, &assign), VL_MRRAFT_EFAIL);
    assert_int_equal(vl_mrraft_core_assign(&x.core[l], 4, VL_MRRAFT_VOTER, s_done, &assign), 0);
    assert_true(fx_until(&x, p_done, &assign, 10000));
    assert_int_equal(assign.status, 0);
    assert_true(assign.index > add.index);
    fx_batch(&x, l, 11, 21, d);
    fx_settle(&x, l);
    s_assert_same(&x.sm[3], &x.sm[l]);
    assert_int_equal(vl_mrraft_core_transfer(&x.core[l], 4, s_done, &xfer), 0);
    assert_true(fx_until(&x, p_done, &xfer, 5000));
    assert_int_equal(xfer.status, 0);
    assert_true(fx_until(&x, p_leader, &l, 5000));
    assert_int_equal(fx_leader(&x), 3);
    assert_int_equal(vl_mrraft_core_remove(&x.core[3], (uint64_t)l + 1, s_done, &rm), 0);
    assert_true(fx_until(&x, p_done, &rm, 5000));
    assert_int_equal(rm.status, 0);
    fx_batch(&x, 3, 21, 31, d);
    fx_settle_but(&x, 3, l);
    fx_assert_no_divergence(&x);
    for (unsigned i = 0; i < 4; i++)
        if ((int)i != l)
            s_assert_same(&x.sm[i], &x.sm[3]);
    assert_int_equal(x.sm[3].n, 30);
    struct raft *r4 = raft_fixture_get(&x.f, 3);
    assert_int_equal(r4->configuration.n, 3);
    fx_fini(&x);
}

/*  ---- real engines: a group of three in one process ----------------------- */

/*  Odd sizes, so that entries of every padding travel together. */
static const size_t s_sizes[] = {1, 7, 1001, 8, 9, 15, 16, 17, 0, 255, 4099, 33, 1000, 3, 65};
#define S_NSIZES (sizeof s_sizes / sizeof s_sizes[0])

/*  One replica: an actor running a zloop with an engine and a recording
    state machine. The test thread talks to it over the actor pipe only. */
typedef struct {
    uint64_t id;
    char dir[300];
    char address[64];
    vl_mrraft_member_t members[3];
    /* the actor thread's */
    vl_mrraft_t *raft;
    tsm_t sm;
    zsock_t *pipe;
    bool terminated;
    uint64_t next_id; /* of the next command proposed here */
    int left, ok, failed;
    int64_t t0;
    int64_t *lat;
    int nlat;
} node_t;

static int s_node_propose(node_t *n, vl_mrraft_done_fn *done)
{
    uint64_t id = n->id << 32 | ++n->next_id;
    size_t len = s_sizes[n->next_id % S_NSIZES];
    uint8_t *cmd = s_cmd(id, len);
    int rc = vl_mrraft_propose(n->raft, cmd, len, done, n);
    free(cmd);
    return rc;
}

static void s_node_burst_done(void *arg, int status, uint64_t index)
{
    node_t *n = arg;
    if (status == 0)
        n->ok++;
    else
        n->failed++;
    if (--n->left == 0)
        zsock_send(n->pipe, "ii", n->ok, n->failed);
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_node_seq_done(void *arg, int status, uint64_t index);

/*  The next command of a sequential run (proposed from the last one's
    done callback), or the run's reply. */
static void s_node_seq_next(node_t *n)
{
    if (n->left > 0) {
        n->t0 = zclock_usecs();
        if (s_node_propose(n, s_node_seq_done) == 0)
            return;
        n->failed += n->left;
    }
    int64_t p50 = 0;
    if (n->nlat) {
        qsort(n->lat, (size_t)n->nlat, sizeof *n->lat, s_cmp_i64);
        p50 = n->lat[n->nlat / 2];
    }
    zsock_send(n->pipe, "iii", n->ok, n->failed, (int)p50);
}

static void s_node_seq_done(void *arg, int status, uint64_t index)
{
    node_t *n = arg;
    n->left--;
    if (status != 0) {
        n->failed++;
        n->left = 0;
    } else {
        n->ok++;
        n->lat[n->nlat++] = zclock_usecs() - n->t0;
    }
    s_node_seq_next(n);
}

static int s_node_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    node_t *n = arg;
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return -1;
    char *cmd = zmsg_popstr(msg);
    char *count_s = zmsg_popstr(msg);
    int count = count_s ? atoi(count_s) : 0;
    int rc = 0;
    n->ok = n->failed = n->left = 0;
    if (streq(cmd, "$TERM")) {
        n->terminated = true;
        rc = -1;
    } else if (streq(cmd, "STATUS")) {
        zsock_send(pipe, "i888", vl_mrraft_role(n->raft), n->sm.n, n->sm.digest,
                   vl_mrraft_leader(n->raft, NULL));
    } else if (streq(cmd, "BURST")) {
        /* all at once: many entries in each AppendEntries */
        for (int k = 0; k < count; k++)
            if (s_node_propose(n, s_node_burst_done) == 0)
                n->left++;
            else
                n->failed++;
        if (n->left == 0)
            zsock_send(pipe, "ii", n->ok, n->failed);
    } else if (streq(cmd, "SEQ")) {
        n->left = count;
        n->lat = vl_realloc(n->lat, (size_t)(count + 1) * sizeof *n->lat);
        n->nlat = 0;
        s_node_seq_next(n);
    }
    free(cmd);
    free(count_s);
    zmsg_destroy(&msg);
    return rc;
}

static void s_node_actor(zsock_t *pipe, void *args)
{
    node_t *n = args;
    n->pipe = pipe;
    n->terminated = false;
    memset(&n->sm, 0, sizeof n->sm); /* in memory: rebuilt from the raft log */
    zloop_t *loop = zloop_new();
    vl_mrraft_opts_t opts = {.id = n->id,
                             .address = n->address,
                             .dir = n->dir,
                             .snapshot_threshold = 64,
                             .snapshot_trailing = 16};
    char err[512] = "";
    bool did = false;
    n->raft = vl_mrraft_new(loop, &opts, &s_tsm_ops, &n->sm, err, sizeof err);
    int rc = !n->raft || vl_mrraft_bootstrap(n->raft, n->members, 3, &did, err, sizeof err) != 0 ||
             vl_mrraft_start(n->raft, err, sizeof err) != 0;
    if (rc)
        fprintf(stderr, "node %llu: %s\n", (unsigned long long)n->id, err);
    zsock_signal(pipe, (byte)rc);
    if (!rc) {
        zloop_reader(loop, pipe, s_node_pipe, n);
        while (!n->terminated)
            zloop_start(loop);
    }
    vl_mrraft_destroy(&n->raft);
    zloop_destroy(&loop);
    tsm_fini(&n->sm);
    free(n->lat);
    n->lat = NULL;
}

typedef struct {
    int role;
    uint64_t n, digest, leader;
} node_status_t;

static void s_node_status(zactor_t *a, node_status_t *st)
{
    zstr_send(a, "STATUS");
    assert_int_equal(zsock_recv(a, "i888", &st->role, &st->n, &st->digest, &st->leader), 0);
}

/*  The index of the replica that reports LEADER (other than not), or -1
    after ms. */
static int s_wait_leader(zactor_t **a, int not, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (zclock_mono() < end) {
        for (int i = 0; i < 3; i++) {
            node_status_t st;
            if (!a[i] || i == not )
                continue;
            s_node_status(a[i], &st);
            if (st.role == VL_MRRAFT_LEADER)
                return i;
        }
        zclock_sleep(5);
    }
    return -1;
}

/*  Every running replica applied n commands, all the same. */
static bool s_wait_converged(zactor_t **a, uint64_t n, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (zclock_mono() < end) {
        node_status_t st[3];
        bool ok = true;
        int first = -1;
        for (int i = 0; i < 3; i++) {
            if (!a[i])
                continue;
            s_node_status(a[i], &st[i]);
            if (first < 0)
                first = i;
            ok = ok && st[i].n == n && st[i].digest == st[first].digest;
        }
        if (ok)
            return true;
        zclock_sleep(10);
    }
    return false;
}

static void s_node_start(zactor_t **a, node_t *nodes, int i)
{
    a[i] = zactor_new(s_node_actor, &nodes[i]);
    assert_non_null(a[i]);
    zsock_set_rcvtimeo(a[i], 20000);
}

/*  Three engines over TCP: a leader is elected, 500 commands of odd sizes
    (a burst and then one at a time) are applied identically everywhere;
    the leader's engine is destroyed, a new leader is elected and commits;
    the old one restarts from its directory and catches up (from its own
    snapshot and the leader's). Prints the p50 of propose -> applied on
    the leader. */
static void test_engine_three(void **state)
{
    (void)state;
    char base[256];
    fx_tmpdir(base, sizeof base, "mrraft3");
    node_t nodes[3];
    memset(nodes, 0, sizeof nodes);
    int ports[3];
    for (int i = 0; i < 3; i++)
        ports[i] = s_free_port();
    for (int i = 0; i < 3; i++) {
        nodes[i].id = (uint64_t)i + 1;
        snprintf(nodes[i].dir, sizeof nodes[i].dir, "%s/r%d", base, i + 1);
        snprintf(nodes[i].address, sizeof nodes[i].address, "127.0.0.1:%d", ports[i]);
        for (int j = 0; j < 3; j++) {
            nodes[i].members[j].id = (uint64_t)j + 1;
            snprintf(nodes[i].members[j].address, sizeof nodes[i].members[j].address,
                     "127.0.0.1:%d", ports[j]);
        }
    }
    zactor_t *a[3];
    for (int i = 0; i < 3; i++)
        s_node_start(a, nodes, i);
    int l = s_wait_leader(a, -1, 10000);
    assert_true(l >= 0);

    int ok = 0, failed = 0, p50 = 0;
    zstr_sendx(a[l], "BURST", "200", NULL);
    assert_int_equal(zsock_recv(a[l], "ii", &ok, &failed), 0);
    assert_int_equal(ok, 200);
    assert_int_equal(failed, 0);
    zstr_sendx(a[l], "SEQ", "300", NULL);
    assert_int_equal(zsock_recv(a[l], "iii", &ok, &failed, &p50), 0);
    assert_int_equal(ok, 300);
    assert_int_equal(failed, 0);
    print_message("three replicas on 127.0.0.1: p50 propose -> applied on the leader %d us\n", p50);
    assert_true(s_wait_converged(a, 500, 10000));

    int64_t t0 = zclock_mono();
    zactor_destroy(&a[l]);
    int l2 = s_wait_leader(a, l, 10000);
    int64_t took = zclock_mono() - t0;
    print_message("new leader elected %lld ms after the leader's engine stopped\n",
                  (long long)took);
    assert_true(l2 >= 0);
    assert_true(took < 3000);
    zstr_sendx(a[l2], "SEQ", "50", NULL);
    assert_int_equal(zsock_recv(a[l2], "iii", &ok, &failed, &p50), 0);
    assert_int_equal(ok, 50);
    assert_true(s_wait_converged(a, 550, 10000));

    s_node_start(a, nodes, l);
    assert_true(s_wait_converged(a, 550, 20000));
    for (int i = 0; i < 3; i++)
        zactor_destroy(&a[i]);
    fx_rmdir(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_corruption),
        cmocka_unit_test(test_zerofill),
        cmocka_unit_test(test_engine_one),
        cmocka_unit_test(test_engine_diverged),
        cmocka_unit_test(test_engine_bad_input),
        cmocka_unit_test(test_fixture_kill_leader),
        cmocka_unit_test(test_fixture_partition_leader),
        cmocka_unit_test(test_fixture_partition_follower),
        cmocka_unit_test(test_fixture_io_fault),
        cmocka_unit_test(test_fixture_snapshot_install),
        cmocka_unit_test(test_fixture_replay),
        cmocka_unit_test(test_fixture_broken_chain),
        cmocka_unit_test(test_fixture_membership),
        cmocka_unit_test(test_engine_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
