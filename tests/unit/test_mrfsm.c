/*  test_mrfsm.c - the MR as a replicated state machine (mr/fsm.c,
    mr/lead.c), in-process, on a scripted consensus engine.

    This file defines the engine's functions (mr/raft.h) itself: a fake
    that commits nothing on its own. Proposals queue; the test says when
    the oldest is committed (applied, then its done callback) or fails,
    when a command of another replica is applied, and which role the
    engine reports (with or without the role callback), through an inproc
    PAIR whose reader runs on the MR's loop, where the engine's callbacks
    run in the real one. So the orders that a real group produces only by
    chance (a round applied after leadership was lost, another leader's
    command on a replica whose memory ran ahead) are played exactly. The
    MR's other side is real: DEALERs over TCP, RocksDB in a temp dir.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "persist.h"
#include "raft.h"
#include "server.h"
#include "state.h"
#include "util.h"
#include "wire.h"
#include "../lib/fixture.h"
#include "../lib/mrfx.h"

#define S_CLUSTER 7

/*  ---- the scripted engine (runs on the MR's thread) -------------------------- */

/*  A proposal, or a membership change (data NULL): change is 'a'dd,
    'r'ole (assign), 'd'elete or 't'ransfer of id. */
typedef struct {
    uint8_t *data;
    size_t len;
    vl_mrraft_done_fn *done;
    void *arg;
    char change;
    uint64_t id;
    int role;
    char address[64];
} s_prop_t;

struct vl_mrraft {
    zloop_t *loop;
    zsock_t *ctl;
    vl_mrraft_fsm_t fsm;
    void *arg;
    uint64_t id, term, leader, last_index;
    int role;
    s_prop_t props[64];
    size_t nprops;
    vl_mrraft_member_t conf[16]; /* the configuration: bootstrap's, then the changes' */
    size_t nconf;
};

/*  The group the MR under test is replica 1 of: replica 2 is never
    started, it is only named (as the leader) by the scripted engine. */
#define S_PEER2_ENDPOINT "tcp://mr-2.example:9094"
#define S_PEERS "1@127.0.0.1:1@tcp://127.0.0.1:1,2@127.0.0.1:2@" S_PEER2_ENDPOINT

static int s_fake_seq; /* the PAIR's endpoint: inproc://fakeraft-SEQ */

static s_prop_t s_fake_pop(vl_mrraft_t *f)
{
    s_prop_t p = f->props[0];
    memmove(f->props, f->props + 1, --f->nprops * sizeof *f->props);
    return p;
}

/*  Commits a membership change into the configuration. */
static void s_fake_change(vl_mrraft_t *f, const s_prop_t *p)
{
    size_t i = 0;
    while (i < f->nconf && f->conf[i].id != p->id)
        i++;
    if (p->change == 'a') {
        assert_int_equal(i, f->nconf);
        memset(&f->conf[i], 0, sizeof f->conf[i]);
        f->conf[i].id = p->id;
        f->conf[i].role = VL_MRRAFT_SPARE;
        snprintf(f->conf[i].address, sizeof f->conf[i].address, "%s", p->address);
        f->nconf++;
    } else if (p->change == 'r') {
        assert_true(i < f->nconf);
        f->conf[i].role = p->role;
    } else if (p->change == 'd') {
        assert_true(i < f->nconf);
        f->conf[i] = f->conf[--f->nconf];
    } else if (p->change == 't') {
        f->leader = p->id;
        f->role = VL_MRRAFT_FOLLOWER;
    }
}

/*  Control commands, "s888b" (command, a, b, c, bytes), answered "8b":
        ROLE role term leader    set the role and call the role callback
        SILENT role term leader  set it without calling back
        COMMIT n                 apply the n oldest proposals, then done(0)
        FAIL status              done(status) of the oldest proposal
        APPLY index              apply bytes at index (another replica's)
        SNAPSHOT                 the state machine's snapshot
        RESTORE index            restore bytes as a snapshot taken at index
        PEEK                     the oldest proposal's bytes
        PENDING                  how many proposals wait */
static int s_fake_ctl(zloop_t *loop, zsock_t *reader, void *arg)
{
    vl_mrraft_t *f = arg;
    char *cmd = NULL;
    uint64_t a = 0, b = 0, c = 0, value = 0;
    zchunk_t *bytes = NULL;
    if (zsock_recv(reader, "s888c", &cmd, &a, &b, &c, &bytes) != 0)
        return 0;
    zchunk_t *out = NULL;
    if (streq(cmd, "ROLE") || streq(cmd, "SILENT")) {
        f->role = (int)a;
        f->term = b;
        f->leader = c;
        if (streq(cmd, "ROLE"))
            f->fsm.role(f->arg, f->role, f->term, f->leader);
    } else if (streq(cmd, "COMMIT")) {
        for (; value < a && f->nprops > 0; value++) {
            s_prop_t p = s_fake_pop(f);
            uint64_t index = ++f->last_index;
            if (p.change)
                s_fake_change(f, &p);
            else
                assert_int_equal(f->fsm.apply(f->arg, index, p.data, p.len), 0);
            p.done(p.arg, 0, index);
            free(p.data);
        }
    } else if (streq(cmd, "FAIL") && f->nprops > 0) {
        s_prop_t p = s_fake_pop(f);
        p.done(p.arg, (int)a, 0);
        free(p.data);
        value = 1;
    } else if (streq(cmd, "APPLY")) {
        if (a > f->last_index)
            f->last_index = a;
        value = (uint64_t)f->fsm.apply(f->arg, a, zchunk_data(bytes), zchunk_size(bytes));
    } else if (streq(cmd, "SNAPSHOT")) {
        uint8_t *snap;
        size_t len;
        assert_int_equal(f->fsm.snapshot(f->arg, &snap, &len), 0);
        out = zchunk_new(snap, len);
        free(snap);
    } else if (streq(cmd, "RESTORE")) {
        if (a > f->last_index)
            f->last_index = a;
        value = (uint64_t)f->fsm.restore(f->arg, a, zchunk_data(bytes), zchunk_size(bytes));
    } else if (streq(cmd, "PEEK") && f->nprops > 0 && f->props[0].data) {
        out = zchunk_new(f->props[0].data, f->props[0].len);
    } else if (streq(cmd, "PENDING")) {
        value = f->nprops;
    }
    if (!out)
        out = zchunk_new(NULL, 0);
    zsock_send(reader, "8c", value, out);
    zchunk_destroy(&out);
    zchunk_destroy(&bytes);
    free(cmd);
    return 0;
}

vl_mrraft_t *vl_mrraft_new(zloop_t *loop, const vl_mrraft_opts_t *opts, const vl_mrraft_fsm_t *fsm,
                           void *arg, char *errbuf, size_t errbuf_size)
{
    (void)errbuf;
    (void)errbuf_size;
    vl_mrraft_t *f = calloc(1, sizeof *f);
    f->loop = loop;
    f->fsm = *fsm;
    f->arg = arg;
    f->id = opts->id;
    f->ctl = zsock_new_pair(NULL);
    assert_int_equal(zsock_bind(f->ctl, "inproc://fakeraft-%d", s_fake_seq), 0);
    zloop_reader(loop, f->ctl, s_fake_ctl, f);
    return f;
}

void vl_mrraft_destroy(vl_mrraft_t **self_p)
{
    vl_mrraft_t *f = *self_p;
    if (!f)
        return;
    while (f->nprops > 0) {
        s_prop_t p = s_fake_pop(f);
        p.done(p.arg, VL_MRRAFT_ESTOPPED, 0);
        free(p.data);
    }
    zloop_reader_end(f->loop, f->ctl);
    zsock_destroy(&f->ctl);
    free(f);
    *self_p = NULL;
}

int vl_mrraft_bootstrap(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n,
                        bool *done_p, char *errbuf, size_t errbuf_size)
{
    (void)errbuf;
    (void)errbuf_size;
    assert_int_equal(n, 2); /* S_PEERS */
    assert_int_equal(members[0].id, self->id);
    memcpy(self->conf, members, n * sizeof *members);
    self->nconf = n;
    *done_p = true;
    return 0;
}

int vl_mrraft_recover(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n, char *errbuf,
                      size_t errbuf_size)
{
    (void)self;
    (void)members;
    (void)n;
    snprintf(errbuf, errbuf_size, "the scripted engine does not recover");
    return VL_MRRAFT_EFAIL;
}

int vl_mrraft_start(vl_mrraft_t *self, char *errbuf, size_t errbuf_size)
{
    (void)self;
    (void)errbuf;
    (void)errbuf_size;
    return 0;
}

int vl_mrraft_propose(vl_mrraft_t *self, const uint8_t *data, size_t len, vl_mrraft_done_fn *done,
                      void *arg)
{
    if (self->role != VL_MRRAFT_LEADER)
        return VL_MRRAFT_ENOTLEADER;
    assert_true(self->nprops < 64);
    s_prop_t *p = &self->props[self->nprops++];
    p->data = malloc(len);
    memcpy(p->data, data, len);
    p->len = len;
    p->done = done;
    p->arg = arg;
    return 0;
}

static int s_fake_queue(vl_mrraft_t *self, char change, uint64_t id, int role, const char *address,
                        vl_mrraft_done_fn *done, void *arg)
{
    if (self->role != VL_MRRAFT_LEADER)
        return VL_MRRAFT_ENOTLEADER;
    assert_true(self->nprops < 64);
    s_prop_t *p = &self->props[self->nprops++];
    memset(p, 0, sizeof *p);
    p->change = change;
    p->id = id;
    p->role = role;
    snprintf(p->address, sizeof p->address, "%s", address ? address : "");
    p->done = done;
    p->arg = arg;
    return 0;
}

int vl_mrraft_add(vl_mrraft_t *self, uint64_t id, const char *address, vl_mrraft_done_fn *done,
                  void *arg)
{
    return s_fake_queue(self, 'a', id, 0, address, done, arg);
}

int vl_mrraft_assign(vl_mrraft_t *self, uint64_t id, int role, vl_mrraft_done_fn *done, void *arg)
{
    return s_fake_queue(self, 'r', id, role, NULL, done, arg);
}

int vl_mrraft_remove(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    return s_fake_queue(self, 'd', id, 0, NULL, done, arg);
}

int vl_mrraft_transfer(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    return s_fake_queue(self, 't', id ? id : 2, 0, NULL, done, arg);
}

size_t vl_mrraft_members(vl_mrraft_t *self, vl_mrraft_member_t *out, size_t max)
{
    size_t n = self->nconf < max ? self->nconf : max;
    memcpy(out, self->conf, n * sizeof *out);
    return self->nconf;
}

uint64_t vl_mrraft_last_index(vl_mrraft_t *self)
{
    return self->last_index;
}

uint64_t vl_mrraft_commit_index(vl_mrraft_t *self)
{
    return self->last_index;
}

uint64_t vl_mrraft_applied_index(vl_mrraft_t *self)
{
    return self->last_index;
}

int vl_mrraft_role(vl_mrraft_t *self)
{
    return self->role;
}

uint64_t vl_mrraft_term(vl_mrraft_t *self)
{
    return self->term;
}

uint64_t vl_mrraft_leader(vl_mrraft_t *self, const char **address_p)
{
    if (address_p)
        *address_p = self->leader ? "127.0.0.1:2" : NULL;
    return self->leader;
}

const char *vl_mrraft_errmsg(vl_mrraft_t *self)
{
    (void)self;
    return "the scripted engine failed it";
}

/*  ---- driving it from the test -------------------------------------------------- */

typedef struct {
    char dir[64];
    zactor_t *mr;
    zsock_t *ctl; /* to the scripted engine */
    zsock_t *adm; /* an admin's DEALER */
    zsock_t *sn;  /* storage node 1's DEALER (HELLO said) */
    uint64_t rid; /* last request id */
} s_t;

/*  Sends a control command; returns its value (and bytes, when out). */
static uint64_t s_ctl(s_t *t, const char *cmd, uint64_t a, uint64_t b, uint64_t c,
                      const uint8_t *data, size_t len, zchunk_t **out)
{
    zchunk_t *in = zchunk_new(data, len);
    assert_int_equal(zsock_send(t->ctl, "s888c", cmd, a, b, c, in), 0);
    zchunk_destroy(&in);
    uint64_t value;
    zchunk_t *bytes = NULL;
    assert_int_equal(zsock_recv(t->ctl, "8c", &value, &bytes), 0);
    if (out)
        *out = bytes;
    else
        zchunk_destroy(&bytes);
    return value;
}

static void s_role(s_t *t, int role, uint64_t term, uint64_t leader)
{
    s_ctl(t, "ROLE", (uint64_t)role, term, leader, NULL, 0, NULL);
}

static uint64_t s_pending(s_t *t)
{
    return s_ctl(t, "PENDING", 0, 0, 0, NULL, 0, NULL);
}

/*  Waits until n proposals are pending (the MR proposes from its loop). */
static void s_wait_pending(s_t *t, uint64_t n)
{
    for (int i = 0; i < 500 && s_pending(t) != n; i++)
        zclock_sleep(2);
    assert_int_equal(s_pending(t), n);
}

static void s_commit(s_t *t, uint64_t n)
{
    assert_int_equal(s_ctl(t, "COMMIT", n, 0, 0, NULL, 0, NULL), n);
}

/*  The MR's memory: commit version, applied index, committed bytes, SNs. */
typedef struct {
    uint64_t version, applied, bytes, nsn;
} s_mem_t;

static s_mem_t s_mem(s_t *t)
{
    s_mem_t m;
    assert_int_equal(zstr_send(t->mr, "STATE"), 0);
    assert_int_equal(zsock_recv(t->mr, "8888", &m.version, &m.applied, &m.bytes, &m.nsn), 0);
    return m;
}

static void s_send_admin(s_t *t, zsock_t *s, uint16_t type, const vl_admin_t *a)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    vl_hdr_t h = {.type = type, .request_id = ++t->rid, .cluster_id = S_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(s, NULL, &msg);
}

/*  The reply of type on s within ms (NULL: none); its status in *status. */
static zmsg_t *s_reply(zsock_t *s, uint16_t type, int ms, uint32_t *status, vl_rbuf_t *body)
{
    vl_hdr_t h;
    vl_rbuf_t b;
    zmsg_t *msg = fx_recv_type(s, type | VL_MSG_REPLY, ms, &h, body ? body : &b, NULL);
    if (msg && status)
        *status = h.status;
    return msg;
}

/*  An admin request that changes the metadata: proposed, committed by
    the test, then answered. */
static void s_admin_ok(s_t *t, uint16_t type, const vl_admin_t *a)
{
    s_send_admin(t, t->adm, type, a);
    s_wait_pending(t, 1);
    s_commit(t, 1);
    uint32_t status = 99;
    zmsg_t *msg = s_reply(t->adm, type, 5000, &status, NULL);
    assert_non_null(msg);
    assert_int_equal(status, 0);
    zmsg_destroy(&msg);
}

static void s_send_report(zsock_t *s, uint64_t llsn_end)
{
    vl_report_item_t it = {.ls_id = 1, .llsn_end = llsn_end, .bytes_end = llsn_end * 10};
    vl_report_t r = {.sn_id = 1, .n = 1, .items = &it};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_report_encode(&r, &b);
    vl_hdr_t h = {.type = VL_MSG_REPORT, .cluster_id = S_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(s, NULL, &msg);
}

/*  The next COMMIT on the SN's DEALER within ms: one item of ls 1, its
    LLSNs and count checked, and the leader's term; false when none came. */
static bool s_commit_recv(s_t *t, int ms, uint64_t term, uint64_t llsn_begin, uint64_t count)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = fx_recv_type(t->sn, VL_MSG_COMMIT, ms, &h, &body, NULL);
    if (!msg)
        return false;
    vl_commit_t c;
    assert_int_equal(vl_commit_decode(&body, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.term, term);
    assert_int_equal(c.items[0].llsn_begin, llsn_begin);
    assert_int_equal(c.items[0].count, count);
    vl_commit_free(&c);
    zmsg_destroy(&msg);
    return true;
}

/*  Starts an MR on the scripted engine, makes it leader in term 1,
    registers SN tcp://127.0.0.1:1, creates topic "t" (one log stream,
    rf 1) and says HELLO as that SN. */
static void s_start(s_t *t)
{
    memset(t, 0, sizeof *t);
    fx_tmpdir(t->dir, sizeof t->dir, "mrfsm");
    s_fake_seq++;
    vl_mr_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = t->dir,
                          .commit_tick_us = 500,
                          .cluster_id = S_CLUSTER,
                          .peers = S_PEERS};
    t->mr = vl_mr_start(&cfg);
    assert_non_null(t->mr);
    t->ctl = zsock_new_pair(NULL);
    assert_int_equal(zsock_connect(t->ctl, "inproc://fakeraft-%d", s_fake_seq), 0);
    int port = vl_mr_port(t->mr);
    t->adm = fx_dealer("tcp://127.0.0.1:%d", port);
    t->sn = fx_dealer("tcp://127.0.0.1:%d", port);
    s_role(t, VL_MRRAFT_LEADER, 1, 1);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "tcp://127.0.0.1:1");
    s_admin_ok(t, VL_MSG_ADD_SN, &a);
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "t");
    a.nls = 1;
    a.rf = 1;
    s_admin_ok(t, VL_MSG_CREATE_TOPIC, &a);
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "tcp://127.0.0.1:1");
    s_send_admin(t, t->sn, VL_MSG_HELLO, &a);
    zmsg_t *msg = s_reply(t->sn, VL_MSG_HELLO, 5000, NULL, NULL);
    assert_non_null(msg);
    zmsg_destroy(&msg);
    assert_int_equal(s_mem(t).applied, 2);
}

static void s_stop(s_t *t)
{
    zsock_destroy(&t->adm);
    zsock_destroy(&t->sn);
    zactor_destroy(&t->mr);
    zsock_destroy(&t->ctl);
    fx_rmdir(t->dir);
}

/*  The META of a GET_META reply (caller frees), after asserting it came
    within ms with status 0. */
static void s_get_meta(s_t *t, int ms, vl_meta_t *meta)
{
    s_send_admin(t, t->adm, VL_MSG_GET_META, &(vl_admin_t){0});
    vl_rbuf_t body;
    uint32_t status = 99;
    zmsg_t *msg = s_reply(t->adm, VL_MSG_GET_META, ms, &status, &body);
    assert_non_null(msg);
    assert_int_equal(status, 0);
    assert_int_equal(vl_meta_decode(&body, meta), 0);
    zmsg_destroy(&msg);
}

/*  Expects the reply of type on the admin's DEALER to fail with status
    and a text holding what. */
static void s_expect_error(s_t *t, uint16_t type, uint32_t status, const char *what)
{
    uint32_t got = 0;
    vl_rbuf_t body;
    zmsg_t *msg = s_reply(t->adm, type, 5000, &got, &body);
    assert_non_null(msg);
    assert_int_equal(got, status);
    char text[1024];
    vl_rbuf_str(&body, text, sizeof text - 1);
    if (!strstr(text, what))
        fail_msg("'%s' does not say '%s'", text, what);
    zmsg_destroy(&msg);
}

/*  ---- tests ------------------------------------------------------------------------ */

/*  The leader's own rounds: applied in memory when computed (the next
    round builds on them) and not again when their command is applied;
    rounds computed while a proposal is in flight go out together in the
    next; COMMITs only once applied; a META request waits for them. */
static void test_own_rounds(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    s_send_report(t.sn, 5);
    s_wait_pending(&t, 1);
    s_mem_t m = s_mem(&t);
    assert_int_equal(m.version, 1); /* in memory, not applied */
    assert_int_equal(m.applied, 2);
    assert_int_equal(m.bytes, 50);
    assert_false(s_commit_recv(&t, 100, 1, 0, 0));
    /* a round computed meanwhile joins the next proposal */
    s_send_report(t.sn, 8);
    for (int i = 0; i < 500 && s_mem(&t).version != 2; i++)
        zclock_sleep(2);
    assert_int_equal(s_mem(&t).version, 2);
    assert_int_equal(s_pending(&t), 1);
    /* a META request now would show ends not yet applied: it waits */
    s_send_admin(&t, t.adm, VL_MSG_GET_META, &(vl_admin_t){0});
    assert_null(s_reply(t.adm, VL_MSG_GET_META, 100, NULL, NULL));

    s_commit(&t, 1);
    assert_true(s_commit_recv(&t, 5000, 1, 1, 5));
    m = s_mem(&t);
    assert_int_equal(m.applied, 3);
    assert_int_equal(m.bytes, 80); /* not 130: its own command left memory alone */
    s_wait_pending(&t, 1);
    s_commit(&t, 1);
    assert_true(s_commit_recv(&t, 5000, 1, 6, 3));
    m = s_mem(&t);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.applied, 4);
    assert_int_equal(m.bytes, 80);
    /* quiet: the META request is answered, with the applied ends */
    vl_rbuf_t body;
    zmsg_t *msg = s_reply(t.adm, VL_MSG_GET_META, 5000, NULL, &body);
    assert_non_null(msg);
    vl_meta_t meta;
    assert_int_equal(vl_meta_decode(&body, &meta), 0);
    assert_int_equal(meta.topics[0].hwm, 8);
    assert_int_equal(meta.version, 2);
    assert_int_equal(meta.term, 1); /* the leader's */
    vl_meta_free(&meta);
    zmsg_destroy(&msg);
    s_stop(&t);
}

/*  A leader that loses leadership drops the rounds not yet applied and
    reloads its memory from the store; when the next leader commits its
    old proposal after all, it applies it to memory like any other
    replica's command; a follower answers requests with the leader's
    name; another replica's metadata change reaches memory. */
static void test_leadership_lost(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    s_send_report(t.sn, 5);
    s_wait_pending(&t, 1);
    assert_int_equal(s_mem(&t).version, 1);
    zchunk_t *old = NULL;
    s_ctl(&t, "PEEK", 0, 0, 0, NULL, 0, &old);
    assert_true(zchunk_size(old) > 17);

    s_role(&t, VL_MRRAFT_FOLLOWER, 2, 2);
    s_mem_t m = s_mem(&t);
    assert_int_equal(m.version, 0); /* reloaded: the round was not applied */
    assert_int_equal(m.bytes, 0);
    assert_int_equal(s_ctl(&t, "FAIL", VL_MRRAFT_ELEADERSHIP, 0, 0, NULL, 0, NULL), 1);
    assert_false(s_commit_recv(&t, 100, 1, 0, 0));

    /* a follower refuses requests, naming the leader's client endpoint */
    s_send_admin(&t, t.adm, VL_MSG_GET_META, &(vl_admin_t){0});
    s_expect_error(&t, VL_MSG_GET_META, VL_ENOTLEADER, S_PEER2_ENDPOINT);
    s_send_admin(&t, t.adm, VL_MSG_PING, &(vl_admin_t){0});
    s_expect_error(&t, VL_MSG_PING, VL_ENOTLEADER, S_PEER2_ENDPOINT);

    /* leader 2 committed the old proposal at index 3: into memory now */
    assert_int_equal(s_ctl(&t, "APPLY", 3, 0, 0, zchunk_data(old), zchunk_size(old), NULL), 0);
    m = s_mem(&t);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.applied, 3);
    assert_int_equal(m.bytes, 50);
    /* replayed: changes nothing */
    assert_int_equal(s_ctl(&t, "APPLY", 3, 0, 0, zchunk_data(old), zchunk_size(old), NULL), 0);
    assert_int_equal(s_mem(&t).bytes, 50);
    zchunk_destroy(&old);

    /* leader 2's metadata change (a second SN) reaches memory */
    vl_mrstate_t *st = vl_mrstate_new();
    uint32_t id;
    char err[256];
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:1", &id), 0);
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:2", &id), 0);
    assert_int_equal(vl_mrstate_topic_create(st, "t", 1, 1, &id, err, sizeof err), 0);
    vl_persist_batch_t *b = vl_persist_meta_batch(st, 0, NULL, 0);
    size_t len;
    const uint8_t *data = vl_persist_batch_data(b, &len);
    vl_wbuf_t cmd;
    vl_wbuf_init(&cmd);
    vl_wbuf_u8(&cmd, 2); /* META */
    vl_wbuf_u64(&cmd, 2);
    vl_wbuf_u64(&cmd, 2);
    vl_wbuf_mem(&cmd, data, len);
    assert_int_equal(s_ctl(&t, "APPLY", 4, 0, 0, cmd.data, cmd.len, NULL), 0);
    vl_wbuf_free(&cmd);
    vl_persist_batch_destroy(&b);
    vl_mrstate_destroy(&st);
    m = s_mem(&t);
    assert_int_equal(m.nsn, 2);
    assert_int_equal(m.applied, 4);
    assert_int_equal(m.bytes, 50); /* the round stays: it is in the store's history */

    /* leader again: serves the applied state */
    s_role(&t, VL_MRRAFT_LEADER, 3, 1);
    vl_meta_t meta;
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.nsn, 2);
    assert_int_equal(meta.topics[0].hwm, 5);
    vl_meta_free(&meta);
    s_stop(&t);
}

/*  The live role decides, not only the last callback: a command of this
    replica's applied while the engine no longer says it leads goes into
    memory after a reload (once, not twice), and its COMMITs are not sent
    by a replica that does not lead. */
static void test_live_role(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    s_send_report(t.sn, 5);
    s_wait_pending(&t, 1);
    s_ctl(&t, "SILENT", VL_MRRAFT_FOLLOWER, 2, 2, NULL, 0, NULL);
    s_commit(&t, 1);
    s_mem_t m = s_mem(&t);
    assert_int_equal(m.version, 1);
    assert_int_equal(m.applied, 3);
    assert_int_equal(m.bytes, 50);
    assert_false(s_commit_recv(&t, 200, 1, 0, 0));
    s_stop(&t);
}

/*  An admin operation in flight when leadership is lost gets a retryable
    error, and its change leaves memory; one whose proposal fails while
    the engine still says this replica leads too, and the replica leads
    again once a fence is applied. */
static void test_admin_leadership_lost(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "u");
    a.nls = 1;
    a.rf = 1;
    s_send_admin(&t, t.adm, VL_MSG_CREATE_TOPIC, &a);
    s_wait_pending(&t, 1);
    s_role(&t, VL_MRRAFT_FOLLOWER, 2, 2);
    s_expect_error(&t, VL_MSG_CREATE_TOPIC, VL_EUNAVAIL, "retry");
    assert_int_equal(s_ctl(&t, "FAIL", VL_MRRAFT_ELEADERSHIP, 0, 0, NULL, 0, NULL), 1);
    s_role(&t, VL_MRRAFT_LEADER, 3, 1);
    vl_meta_t meta;
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.ntopics, 1);
    assert_int_equal(meta.term, 3); /* the new term's */
    vl_meta_free(&meta);

    /* the proposal fails, the engine still says leader: a fence, then
       leading again */
    s_send_admin(&t, t.adm, VL_MSG_CREATE_TOPIC, &a);
    s_wait_pending(&t, 1);
    assert_int_equal(s_ctl(&t, "FAIL", VL_MRRAFT_EFAIL, 0, 0, NULL, 0, NULL), 1);
    s_expect_error(&t, VL_MSG_CREATE_TOPIC, VL_EUNAVAIL, "retry");
    s_wait_pending(&t, 1); /* the fence */
    /* not leading until the fence is applied (the leader is this
       replica: no hint to follow) */
    s_send_admin(&t, t.adm, VL_MSG_GET_META, &(vl_admin_t){0});
    s_expect_error(&t, VL_MSG_GET_META, VL_ENOTLEADER, "");
    s_commit(&t, 1);
    s_admin_ok(&t, VL_MSG_CREATE_TOPIC, &a);
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.ntopics, 2);
    vl_meta_free(&meta);
    /* rounds resume once the SN reports in full again */
    s_send_report(t.sn, 4);
    s_wait_pending(&t, 1);
    s_commit(&t, 1);
    assert_true(s_commit_recv(&t, 5000, 3, 1, 4));
    s_stop(&t);
}

/*  ---- the MR's membership (members.c) ------------------------------------------ */

/*  Sends an MR membership request: MR_ADD of m, else of m->id. */
static void s_send_mr(s_t *t, uint16_t type, const vl_mr_member_t *m)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    if (type == VL_MSG_MR_ADD)
        vl_mr_add_encode(m, &b);
    else if (type != VL_MSG_MR_STATUS)
        vl_mr_id_encode(m->id, &b);
    vl_hdr_t h = {.type = type, .request_id = ++t->rid, .cluster_id = S_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(t->adm, NULL, &msg);
}

/*  The MR_STATUS body of the reply to type, asserted to come with status 0. */
static void s_mr_reply(s_t *t, uint16_t type, vl_mr_status_t *st)
{
    uint32_t status = 99;
    vl_rbuf_t body;
    zmsg_t *msg = s_reply(t->adm, type, 5000, &status, &body);
    assert_non_null(msg);
    assert_int_equal(status, 0);
    assert_int_equal(vl_mr_status_decode(&body, st), 0);
    zmsg_destroy(&msg);
}

static void s_mr_status(s_t *t, vl_mr_status_t *st)
{
    s_send_mr(t, VL_MSG_MR_STATUS, &(vl_mr_member_t){0});
    s_mr_reply(t, VL_MSG_MR_STATUS, st);
}

static const vl_mr_member_t *s_mr_find(const vl_mr_status_t *st, uint64_t id)
{
    for (uint32_t i = 0; i < st->n; i++)
        if (st->members[i].id == id)
            return &st->members[i];
    return NULL;
}

/*  A member list command of another replica: ids[i] at endpoints[i]. */
static void s_apply_members(s_t *t, uint64_t index, size_t n, const uint64_t *ids,
                            const char *const *endpoints)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u8(&b, 4); /* VL_MR_CMD_MEMBERS */
    vl_wbuf_u64(&b, 2);
    vl_wbuf_u64(&b, 1);
    vl_wbuf_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        vl_wbuf_u64(&b, ids[i]);
        vl_wbuf_str(&b, endpoints[i]);
    }
    assert_int_equal(s_ctl(t, "APPLY", index, 0, 0, b.data, b.len, NULL), 0);
    vl_wbuf_free(&b);
}

/*  A follower refuses every membership request with the leader's
    endpoint, and does nothing. */
static void test_members_follower(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    s_role(&t, VL_MRRAFT_FOLLOWER, 2, 2);
    vl_mr_member_t m = {.id = 3, .raft_addr = "127.0.0.1:3", .endpoint = "tcp://127.0.0.1:3"};
    const uint16_t types[] = {VL_MSG_MR_STATUS, VL_MSG_MR_ADD, VL_MSG_MR_REMOVE,
                              VL_MSG_MR_TRANSFER};
    for (size_t i = 0; i < 4; i++) {
        s_send_mr(&t, types[i], &m);
        s_expect_error(&t, types[i], VL_ENOTLEADER, S_PEER2_ENDPOINT);
    }
    assert_int_equal(s_pending(&t), 0);
    s_stop(&t);
}

/*  Bad input gets a clear error and changes nothing: id 0, an id, raft
    address or endpoint a member has, a malformed endpoint, an unknown
    id, a malformed body. */
static void test_members_bad_input(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    static const struct {
        uint16_t type;
        vl_mr_member_t m;
        uint32_t status;
        const char *what;
    } cases[] = {
        {VL_MSG_MR_ADD, {0, "127.0.0.1:3", "tcp://127.0.0.1:3", 0, 0}, VL_EINVAL, "raft id 0"},
        {VL_MSG_MR_ADD, {2, "127.0.0.1:3", "tcp://127.0.0.1:3", 0, 0}, VL_EEXIST, "raft id"},
        {VL_MSG_MR_ADD, {3, "127.0.0.1:2", "tcp://127.0.0.1:3", 0, 0}, VL_EEXIST, "raft address"},
        {VL_MSG_MR_ADD, {3, "127.0.0.1:3", S_PEER2_ENDPOINT, 0, 0}, VL_EEXIST, "client endpoint"},
        {VL_MSG_MR_ADD, {3, "127.0.0.1:3", "127.0.0.1:3", 0, 0}, VL_EINVAL, "tcp://HOST:PORT"},
        {VL_MSG_MR_ADD, {3, "127.0.0.1", "tcp://127.0.0.1:3", 0, 0}, VL_EINVAL, "HOST:PORT"},
        {VL_MSG_MR_ADD, {3, "127.0.0.1:0", "tcp://127.0.0.1:3", 0, 0}, VL_EINVAL, "fixed port"},
        {VL_MSG_MR_REMOVE, {0, "", "", 0, 0}, VL_EINVAL, "raft id 0"},
        {VL_MSG_MR_REMOVE, {9, "", "", 0, 0}, VL_EINVAL, "no member"},
        {VL_MSG_MR_TRANSFER, {9, "", "", 0, 0}, VL_EINVAL, "no member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_send_mr(&t, cases[i].type, &cases[i].m);
        s_expect_error(&t, cases[i].type, cases[i].status, cases[i].what);
    }
    /* a body too short */
    vl_hdr_t h = {.type = VL_MSG_MR_REMOVE, .request_id = ++t.rid, .cluster_id = S_CLUSTER};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 1);
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(t.adm, NULL, &msg);
    s_expect_error(&t, VL_MSG_MR_REMOVE, VL_EPROTO, "malformed");
    /* nothing proposed, the group as it was */
    assert_int_equal(s_pending(&t), 0);
    vl_mr_status_t st;
    s_mr_status(&t, &st);
    assert_int_equal(st.n, 2);
    assert_true(st.leader_id == 1 && st.term == 1);
    assert_string_equal(s_mr_find(&st, 1)->endpoint, "tcp://127.0.0.1:1");
    assert_string_equal(s_mr_find(&st, 2)->endpoint, S_PEER2_ENDPOINT);
    assert_int_equal(s_mr_find(&st, 2)->role, VL_MR_VOTER);
    s_stop(&t);
}

/*  MR_ADD: the endpoint, then spare, standby, voter, answered once it
    votes; a second change meanwhile is refused as busy; META names the
    new voter. The list survives a snapshot and its restore. MR_REMOVE of
    a member; of the leader itself: a handover, then VL_ENOTLEADER naming
    the new leader; of the last voter: refused. */
static void test_members_change(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    vl_mr_member_t m = {.id = 3, .raft_addr = "127.0.0.1:3", .endpoint = "tcp://127.0.0.1:3"};
    s_send_mr(&t, VL_MSG_MR_ADD, &m);
    vl_mr_status_t st;
    /* the endpoint, the spare, the standby, the voter: one at a time */
    for (size_t step = 0; step < 4; step++) {
        s_wait_pending(&t, 1);
        if (step == 1) {
            s_send_mr(&t, VL_MSG_MR_REMOVE, &(vl_mr_member_t){.id = 2});
            s_expect_error(&t, VL_MSG_MR_REMOVE, VL_EBUSY, "mr add 3");
        }
        s_commit(&t, 1);
        if (step == 1 || step == 2) { /* not a voter yet */
            s_wait_pending(&t, 1);
            s_mr_status(&t, &st);
            assert_int_equal(st.n, 3);
            assert_int_equal(s_mr_find(&st, 3)->role, step == 1 ? VL_MR_SPARE : VL_MR_STANDBY);
        }
    }
    s_mr_reply(&t, VL_MSG_MR_ADD, &st);
    assert_int_equal(st.n, 3);
    assert_int_equal(s_mr_find(&st, 3)->role, VL_MR_VOTER);
    assert_string_equal(s_mr_find(&st, 3)->endpoint, "tcp://127.0.0.1:3");
    assert_string_equal(s_mr_find(&st, 3)->raft_addr, "127.0.0.1:3");
    vl_meta_t meta;
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.nmembers, 3);
    assert_true(meta.members[2].id == 3);
    assert_string_equal(meta.members[2].endpoint, "tcp://127.0.0.1:3");
    vl_meta_free(&meta);

    /* a snapshot holds the list: another leader's list replaces it, the
       snapshot's restore brings it back */
    zchunk_t *snap = NULL;
    s_ctl(&t, "SNAPSHOT", 0, 0, 0, NULL, 0, &snap);
    assert_true(zchunk_size(snap) > 8);
    s_role(&t, VL_MRRAFT_FOLLOWER, 2, 2);
    const uint64_t ids[] = {1, 2, 3};
    const char *eps[] = {"tcp://127.0.0.1:1", "tcp://other:2", "tcp://other:3"};
    s_apply_members(&t, 100, 3, ids, eps);
    s_role(&t, VL_MRRAFT_LEADER, 3, 1);
    s_mr_status(&t, &st);
    assert_string_equal(s_mr_find(&st, 2)->endpoint, "tcp://other:2");
    assert_int_equal(s_ctl(&t, "RESTORE", 200, 0, 0, zchunk_data(snap), zchunk_size(snap), NULL),
                     0);
    zchunk_destroy(&snap);
    s_role(&t, VL_MRRAFT_LEADER, 4, 1);
    s_mr_status(&t, &st);
    assert_string_equal(s_mr_find(&st, 2)->endpoint, S_PEER2_ENDPOINT);
    assert_string_equal(s_mr_find(&st, 3)->endpoint, "tcp://127.0.0.1:3");
    assert_int_equal(s_mem(&t).applied, 200); /* the store's part was restored too */
    /* a list replayed after a restart (its index at or below the store's
       applied one) is applied all the same: memory holds it, not the store */
    s_role(&t, VL_MRRAFT_FOLLOWER, 5, 2);
    const char *eps2[] = {"tcp://127.0.0.1:1", S_PEER2_ENDPOINT, "tcp://replayed:3"};
    s_apply_members(&t, 150, 3, ids, eps2);
    s_role(&t, VL_MRRAFT_LEADER, 6, 1);
    s_mr_status(&t, &st);
    assert_string_equal(s_mr_find(&st, 3)->endpoint, "tcp://replayed:3");
    assert_int_equal(s_mem(&t).applied, 200);

    /* remove 3 */
    s_send_mr(&t, VL_MSG_MR_REMOVE, &(vl_mr_member_t){.id = 3});
    s_wait_pending(&t, 1);
    s_commit(&t, 1);
    s_mr_reply(&t, VL_MSG_MR_REMOVE, &st);
    assert_int_equal(st.n, 2);
    assert_null(s_mr_find(&st, 3));
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.nmembers, 2);
    vl_meta_free(&meta);

    /* remove the leader: it hands over, and refuses naming the new one */
    s_send_mr(&t, VL_MSG_MR_REMOVE, &(vl_mr_member_t){.id = 1});
    s_wait_pending(&t, 1);
    s_commit(&t, 1);
    s_expect_error(&t, VL_MSG_MR_REMOVE, VL_ENOTLEADER, S_PEER2_ENDPOINT);
    s_send_mr(&t, VL_MSG_MR_STATUS, &(vl_mr_member_t){0}); /* a follower now */
    s_expect_error(&t, VL_MSG_MR_STATUS, VL_ENOTLEADER, S_PEER2_ENDPOINT);
    s_role(&t, VL_MRRAFT_LEADER, 7, 1);
    s_mr_status(&t, &st);
    assert_int_equal(st.n, 2); /* still a member */

    /* remove 2, then the last voter: refused */
    s_send_mr(&t, VL_MSG_MR_REMOVE, &(vl_mr_member_t){.id = 2});
    s_wait_pending(&t, 1);
    s_commit(&t, 1);
    s_mr_reply(&t, VL_MSG_MR_REMOVE, &st);
    assert_int_equal(st.n, 1);
    s_send_mr(&t, VL_MSG_MR_REMOVE, &(vl_mr_member_t){.id = 1});
    s_expect_error(&t, VL_MSG_MR_REMOVE, VL_EINVAL, "last voter");
    s_send_mr(&t, VL_MSG_MR_TRANSFER, &(vl_mr_member_t){.id = 0});
    s_expect_error(&t, VL_MSG_MR_TRANSFER, VL_EINVAL, "no other voter");
    assert_int_equal(s_pending(&t), 0);
    s_stop(&t);
}

/*  A replica restored from a snapshot of a history longer than a
    snapshot carries (a topic of 1,024 log streams), then leader: a trim
    within the history it holds is checked and served as anywhere, one
    before it is refused saying from which GLSN on it holds the history
    (not that the store is damaged). */
static void test_snapshot_trim(void **state)
{
    (void)state;
    s_t t;
    s_start(&t);
    s_role(&t, VL_MRRAFT_FOLLOWER, 2, 2);
    /* the group's store: the same SN, a topic of 1,024 log streams with
       406 rounds (checkpoints after 64, 128, ..., 384) */
    char dir[] = "/tmp/test_mrfsm.XXXXXX", err[512];
    vl_persist_t *p = s_persist_tmp(dir);
    vl_mrstate_t *st = s_state_with_sns(1);
    const uint32_t nls = 1024;
    uint32_t topic = s_create(st, "t", nls, 1);
    uint64_t index = 10;
    uint8_t *snap;
    size_t snap_len;
    s_history_snapshot(p, st, nls, 406, &index, &snap, &snap_len);
    assert_int_equal(s_ctl(&t, "RESTORE", index, 0, 0, snap, snap_len, NULL), 0);
    free(snap);
    assert_int_equal(s_mem(&t).applied, index);
    s_role(&t, VL_MRRAFT_LEADER, 3, 1);
#define S_GLSN(g) ((uint64_t)((g)-1) * 2 * nls + 1)
    /* before the history it holds (from group 257 on) */
    vl_admin_t a = {.id = topic, .glsn = S_GLSN(100), .offset = (S_GLSN(100) - 1) * 10};
    s_send_admin(&t, t.adm, VL_MSG_TRIM, &a);
    char want[64];
    snprintf(want, sizeof want, "holds it from GLSN %llu on", (unsigned long long)S_GLSN(257));
    s_expect_error(&t, VL_MSG_TRIM, VL_ERANGE, want);
    /* within it: a wrong offset is refused, the right one trims */
    vl_persist_range_t r;
    bool found;
    assert_int_equal(vl_persist_range_at(p, topic, S_GLSN(300), &r, &found, err, sizeof err), 0);
    assert_true(found);
    a.glsn = S_GLSN(300);
    a.offset = r.item.offset_begin + 1;
    s_send_admin(&t, t.adm, VL_MSG_TRIM, &a);
    s_expect_error(&t, VL_MSG_TRIM, VL_EINVAL, "is not where that entry starts");
    a.offset = r.item.offset_begin;
    s_admin_ok(&t, VL_MSG_TRIM, &a);
    vl_meta_t meta;
    s_get_meta(&t, 5000, &meta);
    assert_int_equal(meta.topics[0].trim_glsn, S_GLSN(300));
    assert_int_equal(meta.topics[0].trim_offset, r.item.offset_begin);
    vl_meta_free(&meta);
#undef S_GLSN
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st);
    fx_rmdir(dir);
    s_stop(&t);
}

int main(void)
{
    zsys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_rounds),       cmocka_unit_test(test_leadership_lost),
        cmocka_unit_test(test_live_role),        cmocka_unit_test(test_admin_leadership_lost),
        cmocka_unit_test(test_members_follower), cmocka_unit_test(test_members_bad_input),
        cmocka_unit_test(test_members_change),
        cmocka_unit_test(test_snapshot_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
