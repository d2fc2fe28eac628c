/*  test_appender.c - the asynchronous appender (lib/appender.c) against a
    fake cluster: one ROUTER socket that answers GET_META as the metadata
    repository and APPEND as the primary of every log stream, so a test
    decides what each log stream is (running, sealed) and when a batch is
    answered, and sees which log stream every APPEND went to.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "varlog.h"
#include "wire.h"
#include "../lib/fixture.h"

#define FK_MAX_APPENDS 256

typedef struct {
    pthread_mutex_t mu;
    char endpoint[64];
    uint32_t nls;      /* log streams 1..nls, all on this node */
    bool sealed;       /* every log stream sealed (META says so, APPEND refused) */
    int hold_first_ms; /* answer the first APPEND this late */
    uint64_t next_glsn;
    uint32_t cut_head;     /* > 0: the first APPEND is cut by a seal after this many */
    bool ls_sealed[4];     /* sealed log streams (by the cut) */
    uint8_t payload[8192]; /* the payload of the last APPEND */
    size_t payload_len;
    uint32_t last_n;                    /* its entry count */
    uint32_t append_ls[FK_MAX_APPENDS]; /* ls_id of each APPEND received */
    uint32_t append_n[FK_MAX_APPENDS];  /* and its entry count */
    bool gap;                           /* commit a batch's entries with a hole after the first */
    size_t nappends;
    uint64_t append_client[FK_MAX_APPENDS]; /* each APPEND's name */
    uint64_t append_seq[FK_MAX_APPENDS];
    uint64_t append_glsn[FK_MAX_APPENDS]; /* and its first GLSN */
} fk_t;

static void s_fk_meta(fk_t *fk, const vl_hdr_t *req, zmsg_t **reply)
{
    vl_meta_sn_t sn = {.id = 1, .alive = 1};
    snprintf(sn.addr, sizeof sn.addr, "%s", fk->endpoint);
    vl_meta_ls_t ls[4];
    memset(ls, 0, sizeof ls);
    for (uint32_t i = 0; i < fk->nls; i++)
        ls[i] =
            (vl_meta_ls_t){.id = i + 1,
                           .state = fk->sealed || fk->ls_sealed[i] ? VL_LS_SEALED : VL_LS_RUNNING,
                           .nrep = 1,
                           .replicas = {1},
                           .epoch = 1};
    vl_meta_topic_t t = {.id = 1, .rf = 1, .nls = fk->nls, .ls = ls, .trim_glsn = 1};
    snprintf(t.name, sizeof t.name, "t");
    vl_meta_t m = {.cluster_id = 1, .version = 1, .nsn = 1, .sns = &sn, .ntopics = 1, .topics = &t};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_meta_encode(&m, &body);
    *reply = fx_reply(req, 0, &body);
}

static zmsg_t *s_fk_append(fk_t *fk, const vl_hdr_t *req, vl_rbuf_t *body, zmsg_t *msg)
{
    vl_append_t a;
    if (vl_append_decode(body, false, &a) != 0)
        return vl_wire_reply(req, VL_EPROTO, "bad APPEND");
    if (fk->nappends < FK_MAX_APPENDS) {
        fk->append_n[fk->nappends] = a.n;
        fk->append_client[fk->nappends] = a.client_id;
        fk->append_seq[fk->nappends] = a.batch_seq;
        fk->append_glsn[fk->nappends] = fk->next_glsn;
        fk->append_ls[fk->nappends++] = a.ls_id;
    }
    zframe_t *data = zmsg_size(msg) > 2 ? zmsg_last(msg) : NULL;
    fk->last_n = a.n;
    fk->payload_len = data ? zframe_size(data) : 0;
    if (data && fk->payload_len <= sizeof fk->payload)
        memcpy(fk->payload, zframe_data(data), fk->payload_len);
    if (fk->sealed || (a.ls_id <= 4 && fk->ls_sealed[a.ls_id - 1]))
        return vl_wire_reply(req, VL_ESEALED, "log stream %u is sealed", a.ls_id);
    if (fk->cut_head > 0 && fk->nappends == 1) {
        /* sealed with the batch's head committed: as sn/server.c answers */
        fk->ls_sealed[a.ls_id - 1] = true;
        vl_run_t run = {.glsn_begin = fk->next_glsn, .count = fk->cut_head};
        fk->next_glsn += fk->cut_head;
        vl_append_reply_t r = {.llsn_begin = 1, .nruns = 1, .runs = &run};
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_wbuf_str(&b, "sealed with the head committed");
        vl_append_reply_encode(&r, &b);
        return fx_reply(req, VL_ESEALED, &b);
    }
    vl_run_t runs[2] = {{.glsn_begin = fk->next_glsn, .count = a.n}};
    uint32_t nruns = 1;
    if (fk->gap && a.n > 1) { /* what no storage node of this version does */
        runs[0].count = 1;
        runs[1] = (vl_run_t){.glsn_begin = fk->next_glsn + 2, .count = a.n - 1};
        nruns = 2;
        fk->next_glsn++;
    }
    fk->next_glsn += a.n;
    vl_append_reply_t r = {.llsn_begin = 1, .nruns = nruns, .runs = runs};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_reply_encode(&r, &b);
    return fx_reply(req, 0, &b);
}

/*  BATCH_STATUS as a running log stream answers it: found with its runs
    (all committed), or neither found nor final. */
static zmsg_t *s_fk_status(fk_t *fk, const vl_hdr_t *req, vl_rbuf_t *body)
{
    vl_batch_status_t q;
    if (vl_batch_status_decode(body, &q) != 0)
        return vl_wire_reply(req, VL_EPROTO, "bad BATCH_STATUS");
    vl_run_t run = {0};
    vl_batch_status_reply_t r = {0};
    for (size_t i = 0; i < fk->nappends; i++)
        if (fk->append_client[i] == q.client_id && fk->append_seq[i] == q.batch_seq &&
            fk->append_ls[i] == q.ls_id) {
            run = (vl_run_t){.glsn_begin = fk->append_glsn[i], .count = fk->append_n[i]};
            r = (vl_batch_status_reply_t){
                .found = 1, .n = fk->append_n[i], .ar = {.llsn_begin = 1, .nruns = 1, .runs = &run}};
        }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_reply_encode(&r, &b);
    return fx_reply(req, 0, &b);
}

static void s_fk_actor(zsock_t *pipe, void *args)
{
    fk_t *fk = args;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    fx_bind(router, fk->endpoint, sizeof fk->endpoint);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    zmsg_t *held = NULL;
    int64_t held_until = 0;
    bool first = true;
    for (;;) {
        zsock_t *which = zpoller_wait(poller, 10);
        if (which == pipe)
            break;
        if (held && zclock_mono() >= held_until) {
            zmsg_send(&held, router);
        }
        if (which != router)
            continue;
        zmsg_t *msg = zmsg_recv(router);
        if (!msg)
            continue;
        zframe_t *id = zmsg_pop(msg);
        vl_hdr_t hdr;
        vl_rbuf_t body;
        zmsg_t *reply = NULL;
        pthread_mutex_lock(&fk->mu);
        if (vl_wire_parse(msg, &hdr, &body) == 0) {
            if (hdr.type == VL_MSG_GET_META)
                s_fk_meta(fk, &hdr, &reply);
            else if (hdr.type == VL_MSG_APPEND)
                reply = s_fk_append(fk, &hdr, &body, msg);
            else if (hdr.type == VL_MSG_BATCH_STATUS)
                reply = s_fk_status(fk, &hdr, &body);
        }
        bool hold = first && hdr.type == VL_MSG_APPEND && fk->hold_first_ms > 0;
        if (hdr.type == VL_MSG_APPEND)
            first = false;
        pthread_mutex_unlock(&fk->mu);
        zmsg_destroy(&msg);
        if (reply) {
            zmsg_prepend(reply, &id);
            if (hold) {
                held = reply;
                held_until = zclock_mono() + fk->hold_first_ms;
            } else
                zmsg_send(&reply, router);
        }
        zframe_destroy(&id);
    }
    zmsg_destroy(&held);
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

typedef struct {
    fk_t fk;
    zactor_t *actor;
    vl_client_t *client;
} fx_t;

static int s_setup(void **state, uint32_t nls, int hold_first_ms)
{
    fx_t *fx = calloc(1, sizeof *fx);
    pthread_mutex_init(&fx->fk.mu, NULL);
    fx->fk.nls = nls;
    fx->fk.next_glsn = 1;
    fx->fk.hold_first_ms = hold_first_ms;
    fx->actor = zactor_new(s_fk_actor, &fx->fk);
    char err[256];
    assert_int_equal(vl_client_open(fx->fk.endpoint, NULL, &fx->client, err, sizeof err), 0);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    vl_client_destroy(&fx->client);
    zactor_destroy(&fx->actor);
    pthread_mutex_destroy(&fx->fk.mu);
    free(fx);
    return 0;
}

typedef struct {
    pthread_mutex_t mu;
    int rc[64];
    size_t n;
} s_rcs_t;

static void s_record(void *arg, int rc, uint64_t glsn, uint64_t offset)
{
    (void)glsn;
    (void)offset;
    s_rcs_t *r = arg;
    pthread_mutex_lock(&r->mu);
    if (r->n < 64)
        r->rc[r->n] = rc;
    r->n++;
    pthread_mutex_unlock(&r->mu);
}

/*  Waits until r has n callbacks. */
static void s_wait_rcs(s_rcs_t *r, size_t n)
{
    for (int64_t until = zclock_mono() + 10000; zclock_mono() < until;) {
        pthread_mutex_lock(&r->mu);
        size_t got = r->n;
        pthread_mutex_unlock(&r->mu);
        if (got >= n)
            return;
        usleep(10 * 1000);
    }
    fail_msg("%zu callbacks expected", n);
}

/*  Sticky with stop_on_error: after a failed batch nothing is sent, so
    what is in the log stays a prefix of the input; entries handed over
    later fail unsent with VL_ECLOSED, even once a log stream runs again,
    until vl_appender_flush has returned the error. */
static void test_sticky_stops_after_failure(void **state)
{
    s_setup(state, 1, 0);
    fx_t *fx = *state;
    s_rcs_t rcs = {.mu = PTHREAD_MUTEX_INITIALIZER};
    vl_appender_opts_t o = {
        .sticky = true, .stop_on_error = true, .batch_entries = 1, .timeout_ms = 500};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    pthread_mutex_lock(&fx->fk.mu);
    fx->fk.sealed = true;
    pthread_mutex_unlock(&fx->fk.mu);
    assert_int_equal(vl_appender_append(app, "a", 1, &rcs), 0);
    s_wait_rcs(&rcs, 1); /* no running log stream within the timeout */
    assert_int_equal(rcs.rc[0], VL_ESEALED);
    pthread_mutex_lock(&fx->fk.mu);
    fx->fk.sealed = false;
    size_t sent = fx->fk.nappends;
    pthread_mutex_unlock(&fx->fk.mu);
    assert_int_equal(vl_appender_append(app, "b", 1, &rcs), 0);
    assert_int_equal(vl_appender_append(app, "c", 1, &rcs), 0);
    s_wait_rcs(&rcs, 3);
    assert_int_equal(rcs.rc[1], VL_ECLOSED);
    assert_int_equal(rcs.rc[2], VL_ECLOSED);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, sent); /* neither was sent */
    pthread_mutex_unlock(&fx->fk.mu);
    assert_int_equal(vl_appender_flush(app), VL_ESEALED);
    /* the caller has the error: sending goes on */
    assert_int_equal(vl_appender_append(app, "d", 1, &rcs), 0);
    assert_int_equal(vl_appender_flush(app), 0);
    assert_int_equal(rcs.rc[3], 0);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, sent + 1);
    pthread_mutex_unlock(&fx->fk.mu);
    vl_appender_destroy(&app);
    s_teardown(state);
}

/*  An appender pinned to log stream 1 sends there only, also after a batch
    went unanswered long enough for the appender to look at the metadata
    (which lists log stream 2, running). */
static void test_pinned_stays(void **state)
{
    s_setup(state, 2, 1500);
    fx_t *fx = *state;
    s_rcs_t rcs = {.mu = PTHREAD_MUTEX_INITIALIZER};
    vl_appender_opts_t o = {.ls_id = 1, .batch_entries = 1};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    assert_int_equal(vl_appender_append(app, "a", 1, &rcs), 0);
    usleep(1300 * 1000); /* past the 1 s after which the appender suspects a batch and refreshes */
    for (int i = 0; i < 6; i++)
        assert_int_equal(vl_appender_append(app, "b", 1, &rcs), 0);
    assert_int_equal(vl_appender_flush(app), 0);
    vl_appender_destroy(&app);
    assert_int_equal(rcs.n, 7);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 7);
    for (size_t i = 0; i < fx->fk.nappends; i++)
        assert_int_equal(fx->fk.append_ls[i], 1);
    pthread_mutex_unlock(&fx->fk.mu);
    s_teardown(state);
}

/*  Entries that waited in vl_appender_append_many for room get their own
    timeout to find a running log stream, counted from when they were
    queued, not from when the call began. */
static void test_eunavail_after_wait(void **state)
{
    s_setup(state, 1, 0);
    fx_t *fx = *state;
    s_rcs_t rcs = {.mu = PTHREAD_MUTEX_INITIALIZER};
    vl_appender_opts_t o = {.batch_entries = 1, .pipeline = 1, .timeout_ms = 1000};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    pthread_mutex_lock(&fx->fk.mu);
    fx->fk.sealed = true;
    pthread_mutex_unlock(&fx->fk.mu);
    /* room for 3 entries ((pipeline x 1 + 2) x 1): the 4th waits until the
       first 3 failed, some 1000 ms */
    const void *data[4] = {"1", "2", "3", "4"};
    size_t len[4] = {1, 1, 1, 1};
    void *args[4] = {&rcs, &rcs, &rcs, &rcs};
    int64_t t0 = zclock_mono();
    assert_int_equal(vl_appender_append_many(app, data, len, 4, args), 0);
    assert_true(zclock_mono() - t0 >= 900);
    usleep(300 * 1000);
    pthread_mutex_lock(&fx->fk.mu);
    fx->fk.sealed = false; /* unsealed well within the 4th entry's timeout */
    pthread_mutex_unlock(&fx->fk.mu);
    vl_appender_flush(app);
    vl_appender_destroy(&app);
    assert_int_equal(rcs.n, 4);
    for (int i = 0; i < 3; i++)
        assert_int_not_equal(rcs.rc[i], 0);
    assert_int_equal(rcs.rc[3], 0);
    s_teardown(state);
}

typedef struct {
    void *arg[16];
    int rc[16];
    size_t n[16], calls;
} s_counts_t;

static s_counts_t s_counts;

static void s_count(void *arg, int rc, size_t n)
{
    if (s_counts.calls < 16) {
        s_counts.arg[s_counts.calls] = arg;
        s_counts.rc[s_counts.calls] = rc;
        s_counts.n[s_counts.calls] = n;
    }
    s_counts.calls++;
}

/*  A batch whose head a seal committed: the rest goes to the other log
    stream with exactly its bytes (the payload sent by reference, from
    past the head), and count_cb gets one call per run of arguments. */
static void test_head_cut_moves_rest(void **state)
{
    s_setup(state, 2, 0);
    fx_t *fx = *state;
    fx->fk.cut_head = 2;
    memset(&s_counts, 0, sizeof s_counts);
    int a, b;
    vl_appender_opts_t o = {.batch_entries = 8, .count_cb = s_count};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    static char ent[8][300];
    const void *data[8];
    size_t len[8];
    void *args[8];
    for (int i = 0; i < 8; i++) {
        memset(ent[i], 'a' + i, sizeof ent[i]);
        data[i] = ent[i];
        len[i] = sizeof ent[i];
        args[i] = i < 3 ? (void *)&a : (void *)&b;
    }
    assert_int_equal(vl_appender_append_many(app, data, len, 8, args), 0);
    assert_int_equal(vl_appender_flush(app), 0);
    vl_appender_destroy(&app);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 2);
    assert_int_not_equal(fx->fk.append_ls[0], fx->fk.append_ls[1]);
    assert_int_equal(fx->fk.last_n, 6);
    assert_int_equal(fx->fk.payload_len, 6 * 300);
    for (int i = 0; i < 6; i++)
        assert_memory_equal(fx->fk.payload + 300 * i, ent[2 + i], 300);
    pthread_mutex_unlock(&fx->fk.mu);
    assert_int_equal(s_counts.calls, 2);
    assert_ptr_equal(s_counts.arg[0], &a);
    assert_int_equal(s_counts.rc[0], 0);
    assert_int_equal(s_counts.n[0], 3);
    assert_ptr_equal(s_counts.arg[1], &b);
    assert_int_equal(s_counts.rc[1], 0);
    assert_int_equal(s_counts.n[1], 5);
    s_teardown(state);
}

typedef struct {
    int calls, rc;
    uint64_t first;
    size_t committed;
} s_atomic_t;

static void s_atomic_cb(void *arg, int rc, uint64_t first_glsn, size_t committed, const char *msg)
{
    s_atomic_t *a = arg;
    assert_true(rc == 0 ? *msg == '\0'
                        : strstr(msg, "atomic") != NULL || strstr(msg, "contiguous") != NULL);
    a->calls++;
    a->rc = rc;
    a->first = first_glsn;
    a->committed = committed;
}

/*  An atomic batch goes alone in one APPEND, between the entries queued
    before and after it, and gets one callback with its first GLSN (the
    appender's per-entry callback runs for the others only). */
static void test_atomic_batch(void **state)
{
    s_setup(state, 2, 0);
    fx_t *fx = *state;
    s_rcs_t rcs = {.mu = PTHREAD_MUTEX_INITIALIZER};
    vl_appender_opts_t o = {.sticky = true, .linger_us = 100000};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    const void *data[5] = {"a", "b", "c", "d", "e"};
    size_t len[5] = {1, 1, 1, 1, 1};
    void *args[5] = {&rcs, &rcs, &rcs, &rcs, &rcs};
    s_atomic_t at = {0};
    assert_int_equal(vl_appender_append_many(app, data, len, 3, args), 0);
    assert_int_equal(vl_appender_append_batch(app, data, len, 5, s_atomic_cb, &at), 0);
    assert_int_equal(vl_appender_append_many(app, data, len, 2, args), 0);
    assert_int_equal(vl_appender_flush(app), 0);
    vl_appender_destroy(&app);
    assert_int_equal(at.calls, 1);
    assert_int_equal(at.rc, 0);
    assert_int_equal(at.first, 4);
    assert_int_equal(at.committed, 5);
    assert_int_equal(rcs.n, 5);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 3);
    assert_int_equal(fx->fk.append_n[0], 3);
    assert_int_equal(fx->fk.append_n[1], 5);
    assert_int_equal(fx->fk.append_n[2], 2);
    pthread_mutex_unlock(&fx->fk.mu);
    s_teardown(state);
}

/*  A named atomic batch carries the caller's name on the wire, and
    vl_batch_find finds it by that name (on whichever log stream holds
    it) with its first GLSN; another name is not found; a zero name is
    refused. */
static void test_named_batch_find(void **state)
{
    s_setup(state, 2, 0);
    fx_t *fx = *state;
    vl_appender_opts_t o = {.sticky = true};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, NULL, &app), 0);
    const void *data[3] = {"a", "b", "c"};
    size_t len[3] = {1, 1, 1};
    s_atomic_t at = {0}, at2 = {0};
    assert_int_equal(vl_appender_append_batch(app, data, len, 2, s_atomic_cb, &at), 0);
    assert_int_equal(
        vl_appender_append_batch_named(app, data, len, 3, 0xfeed, 42, s_atomic_cb, &at2), 0);
    assert_int_equal(vl_appender_append_batch_named(app, data, len, 3, 0, 42, s_atomic_cb, &at2),
                     VL_EINVAL);
    assert_int_equal(vl_appender_append_batch_named(app, data, len, 3, 7, 0, s_atomic_cb, &at2),
                     VL_EINVAL);
    assert_int_equal(vl_appender_flush(app), 0);
    vl_appender_destroy(&app);
    assert_int_equal(at2.calls, 1);
    assert_int_equal(at2.rc, 0);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 2);
    assert_int_not_equal(fx->fk.append_client[0], 0xfeed); /* the appender's own name */
    assert_int_equal(fx->fk.append_client[1], 0xfeed);
    assert_int_equal(fx->fk.append_seq[1], 42);
    pthread_mutex_unlock(&fx->fk.mu);
    uint64_t first = 0;
    size_t n = 0;
    assert_int_equal(vl_batch_find(fx->client, "t", 0xfeed, 42, &first, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(first, at2.first);
    assert_int_equal(vl_batch_find(fx->client, "t", 0xfeed, 43, &first, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_batch_find(fx->client, "t", 0xbeef, 42, &first, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_batch_find(fx->client, "nope", 0xfeed, 42, &first, &n), VL_ENOTOPIC);
    s_teardown(state);
}

/*  An atomic batch is never sent in parts: a seal that committed its head
    (older storage nodes) fails it with the head counted, and GLSNs that
    are not contiguous fail it with VL_EPROTO. */
static void test_atomic_never_split(void **state)
{
    s_setup(state, 2, 0);
    fx_t *fx = *state;
    fx->fk.cut_head = 2;
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", NULL, NULL, &app), 0);
    const void *data[5] = {"a", "b", "c", "d", "e"};
    size_t len[5] = {1, 1, 1, 1, 1};
    s_atomic_t at = {0};
    assert_int_equal(vl_appender_append_batch(app, data, len, 5, s_atomic_cb, &at), 0);
    assert_int_equal(vl_appender_flush(app), VL_ESEALED);
    assert_non_null(strstr(vl_client_errmsg(fx->client), "atomic"));
    assert_int_equal(at.calls, 1);
    assert_int_equal(at.rc, VL_ESEALED);
    assert_int_equal(at.first, 1);
    assert_int_equal(at.committed, 2);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 1); /* the tail was not sent again */
    fx->fk.gap = true;
    pthread_mutex_unlock(&fx->fk.mu);
    at = (s_atomic_t){0};
    assert_int_equal(vl_appender_append_batch(app, data, len, 5, s_atomic_cb, &at), 0);
    assert_int_equal(vl_appender_flush(app), VL_EPROTO);
    assert_non_null(strstr(vl_client_errmsg(fx->client), "not contiguous"));
    assert_int_equal(at.rc, VL_EPROTO);
    assert_int_equal(at.committed, 5);
    /* bad calls queue nothing */
    assert_int_equal(vl_appender_append_batch(app, data, len, 0, s_atomic_cb, &at), VL_EINVAL);
    assert_int_equal(vl_appender_append_batch(app, data, len, 5, NULL, &at), VL_EINVAL);
    const void **many = calloc(8193, sizeof *many);
    size_t *lens = calloc(8193, sizeof *lens);
    for (int i = 0; i < 8193; i++)
        many[i] = "x";
    assert_int_equal(vl_appender_append_batch(app, many, lens, 8193, s_atomic_cb, &at), VL_ETOOBIG);
    free(many);
    free(lens);
    vl_appender_destroy(&app);
    s_teardown(state);
}

/*  Waits up to 20 s until r has seen n callbacks; returns how many it saw. */
static size_t s_wait_records(s_rcs_t *r, size_t n)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&r->mu);
        size_t got = r->n;
        pthread_mutex_unlock(&r->mu);
        if (got >= n)
            return got;
        usleep(10 * 1000);
    }
    pthread_mutex_lock(&r->mu);
    size_t got = r->n;
    pthread_mutex_unlock(&r->mu);
    return got;
}

/*  vl_appender_push sends the open batch at once, whole, without waiting
    for the callbacks: with a linger of 60 s, the entries are answered only
    because of the push (the wait gives up after 20 s). A push with nothing
    new queued sends nothing. */
static void test_push_sends_open_batch(void **state)
{
    s_setup(state, 1, 0);
    fx_t *fx = *state;
    s_rcs_t rcs = {.mu = PTHREAD_MUTEX_INITIALIZER};
    vl_appender_opts_t o = {.batch_entries = 64, .linger_us = 60 * 1000 * 1000};
    vl_appender_t *app;
    assert_int_equal(vl_appender_new(fx->client, "t", &o, s_record, &app), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vl_appender_append(app, "abc", 3, &rcs), 0);
    vl_appender_push(app);
    assert_int_equal(s_wait_records(&rcs, 3), 3);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 1);
    assert_int_equal(fx->fk.last_n, 3);
    pthread_mutex_unlock(&fx->fk.mu);
    vl_appender_push(app); /* nothing new */
    assert_int_equal(vl_appender_append(app, "de", 2, &rcs), 0);
    vl_appender_push(app);
    assert_int_equal(s_wait_records(&rcs, 4), 4);
    pthread_mutex_lock(&fx->fk.mu);
    assert_int_equal(fx->fk.nappends, 2);
    assert_int_equal(fx->fk.last_n, 1);
    pthread_mutex_unlock(&fx->fk.mu);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(rcs.rc[i], 0);
    assert_int_equal(vl_appender_flush(app), 0);
    vl_appender_destroy(&app);
    s_teardown(state);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_stays),
        cmocka_unit_test(test_eunavail_after_wait),
        cmocka_unit_test(test_head_cut_moves_rest),
        cmocka_unit_test(test_atomic_batch),
        cmocka_unit_test(test_atomic_never_split),
        cmocka_unit_test(test_named_batch_find),
        cmocka_unit_test(test_push_sends_open_batch),
        cmocka_unit_test(test_sticky_stops_after_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
