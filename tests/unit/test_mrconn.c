/*  test_mrconn.c - finding the metadata repository's leader from the
    client side: the endpoint list (lib/mrconn.c) and the calls that follow
    the leader (lib/rpc.c, through the public client API).

    Each fake MR replica is an actor with a ROUTER on a free port that
    answers as it is told: as the leader (META, topic ids, PING), as a
    follower (VL_ENOTLEADER with or without a hint), or not at all. It
    counts what reaches it, so a test can say which replica saw which
    request and how often: a request that must not be repeated is never
    seen twice.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "mrconn.h"
#include "varlog.h"
#include "wire.h"
#include "../lib/fixture.h"

/* ---- the endpoint list -------------------------------------------------- */

static void test_parse(void **state)
{
    (void)state;
    vl_mrconn_t *c = NULL;
    char err[256];
    assert_int_equal(
        vl_mrconn_new(" tcp://a:1 ,tcp://b:2,, tcp://a:1,ipc:///tmp/x ", &c, err, sizeof err), 0);
    assert_int_equal(vl_mrconn_size(c), 3); /* the duplicate is dropped */
    assert_string_equal(vl_mrconn_list(c), "tcp://a:1,tcp://b:2,ipc:///tmp/x");
    assert_string_equal(vl_mrconn_current(c), "tcp://a:1");
    vl_mrconn_destroy(&c);
    assert_null(c);
    vl_mrconn_destroy(&c);

    static const char *bad[] = {"tcp://a:1,tcp://b", "tcp://a:1,b:2",   "tcp://:9",
                                "tcp://a:0",         "tcp://a:65536",   "tcp://a:9x",
                                "udp://a:1",         "tcp://a:1,tcp:/", "tcp://a:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(vl_mrconn_new(bad[i], &c, err, sizeof err), VL_EINVAL);
        assert_null(c);
        /* the message names the endpoint that is wrong */
        const char *wrong = strrchr(bad[i], ',') ? strrchr(bad[i], ',') + 1 : bad[i];
        if (!strstr(err, wrong))
            fail_msg("'%s': the error '%s' does not name '%s'", bad[i], err, wrong);
    }
    static const char *empty[] = {"", " , ,", NULL};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        assert_int_equal(vl_mrconn_new(empty[i], &c, err, sizeof err), VL_EINVAL);
        assert_non_null(strstr(err, "no metadata repository endpoint"));
    }
}

static void test_hint_next(void **state)
{
    (void)state;
    vl_mrconn_t *c = NULL;
    char err[256];
    assert_int_equal(vl_mrconn_new("tcp://a:1,tcp://b:2,tcp://c:3", &c, err, sizeof err), 0);
    uint64_t gen = vl_mrconn_generation(c);
    assert_true(vl_mrconn_can_rotate(c));
    /* a hint naming a listed replica */
    assert_true(vl_mrconn_hint(c, "tcp://c:3"));
    assert_string_equal(vl_mrconn_current(c), "tcp://c:3");
    assert_true(vl_mrconn_generation(c) > gen);
    gen = vl_mrconn_generation(c);
    /* no hint, the current one, or not an endpoint: no switch */
    assert_false(vl_mrconn_hint(c, ""));
    assert_false(vl_mrconn_hint(c, NULL));
    assert_false(vl_mrconn_hint(c, "tcp://c:3"));
    assert_false(vl_mrconn_hint(c, "garbage"));
    assert_int_equal(vl_mrconn_generation(c), gen);
    /* rotation goes on after it, round the list */
    assert_true(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://a:1");
    assert_true(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://b:2");
    /* a replica the list does not name (added since), then silence:
       on from the one that gave the hint */
    assert_true(vl_mrconn_hint(c, "tcp://d:4"));
    assert_string_equal(vl_mrconn_current(c), "tcp://d:4");
    assert_int_equal(vl_mrconn_size(c), 3);
    assert_true(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://c:3");
    vl_mrconn_destroy(&c);

    /* one endpoint: never rotates, but may follow a hint and come back */
    assert_int_equal(vl_mrconn_new("tcp://a:1", &c, err, sizeof err), 0);
    assert_false(vl_mrconn_can_rotate(c));
    assert_false(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://a:1");
    assert_true(vl_mrconn_hint(c, "tcp://e:5"));
    assert_true(vl_mrconn_can_rotate(c));
    assert_true(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://a:1");
    assert_false(vl_mrconn_can_rotate(c));
    vl_mrconn_destroy(&c);
}

/*  Endpoints META names join the end of the list: the user's stay first,
    known and invalid ones are skipped, the list stays bounded; the
    rotation reaches the learned ones. */
static void test_learn(void **state)
{
    (void)state;
    vl_mrconn_t *c = NULL;
    char err[256];
    assert_int_equal(vl_mrconn_new("tcp://a:1", &c, err, sizeof err), 0);
    vl_meta_member_t m[] = {{1, "tcp://a:1"}, {2, "tcp://b:2"}, {3, "not an endpoint"},
                            {4, ""},          {5, "tcp://c:3"}, {6, "tcp://b:2"}};
    assert_int_equal(vl_mrconn_learn(c, m, 6), 2);
    assert_string_equal(vl_mrconn_list(c), "tcp://a:1,tcp://b:2,tcp://c:3");
    assert_string_equal(vl_mrconn_current(c), "tcp://a:1");
    assert_true(vl_mrconn_can_rotate(c));
    assert_true(vl_mrconn_next(c));
    assert_string_equal(vl_mrconn_current(c), "tcp://b:2");
    assert_int_equal(vl_mrconn_learn(c, m, 6), 0); /* nothing new */
    assert_int_equal(vl_mrconn_learn(c, NULL, 0), 0);
    /* bounded by VL_MRCONN_MAX */
    vl_meta_member_t many[VL_MRCONN_MAX + 4];
    for (size_t i = 0; i < VL_MRCONN_MAX + 4; i++) {
        many[i].id = i + 10;
        snprintf(many[i].endpoint, sizeof many[i].endpoint, "tcp://m%zu:9", i);
    }
    assert_int_equal(vl_mrconn_learn(c, many, VL_MRCONN_MAX + 4), VL_MRCONN_MAX - 3);
    assert_int_equal(vl_mrconn_size(c), VL_MRCONN_MAX);
    assert_int_equal(strncmp(vl_mrconn_list(c), "tcp://a:1,tcp://b:2,tcp://c:3,tcp://m0:9", 40), 0);
    vl_mrconn_destroy(&c);
    assert_true(vl_mrconn_valid("tcp://h:1") && vl_mrconn_valid("ipc:///x"));
    assert_false(vl_mrconn_valid("h:1") || vl_mrconn_valid("tcp://h:0") || vl_mrconn_valid(""));
}

static void test_resendable(void **state)
{
    (void)state;
    static const uint16_t yes[] = {VL_MSG_GET_META, VL_MSG_STATUS, VL_MSG_PING,  VL_MSG_SN_STATUS,
                                   VL_MSG_TRIM,     VL_MSG_SEAL,   VL_MSG_UNSEAL};
    static const uint16_t no[] = {VL_MSG_CREATE_TOPIC, VL_MSG_DELETE_TOPIC, VL_MSG_ADD_SN,
                                  VL_MSG_REMOVE_SN,    VL_MSG_ADD_LS,       VL_MSG_UPDATE_LS,
                                  VL_MSG_SYNC,         VL_MSG_APPEND,       0,
                                  VL_MSG_TYPE_MAX};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(vl_mrconn_resendable(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(vl_mrconn_resendable(no[i]));
}

/* ---- fake MR replicas ----------------------------------------------------- */

enum { S_LEADER, S_FOLLOWER, S_DEAD };

/*  The actor: commands on its pipe are LEADER [TYPE] (answer everything,
    except requests of TYPE: silence), FOLLOWER HINT (refuse with HINT,
    "" for none), DEAD (receive, never answer), COUNT TYPE (how many
    requests of TYPE arrived; 0: all), METATERM T (the METAs it sends
    from now on carry leader term T and, when T > 0, one topic named
    "termT"; at first T is 0 and there is no topic). */
static void s_fake_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(router, 0);
    char ep[64] = "";
    fx_bind(router, ep, sizeof ep);
    zsock_signal(pipe, 0);
    zstr_send(pipe, ep);
    int mode = S_LEADER, silent_type = -1;
    char hint[VL_WIRE_MAX_ADDR + 1] = "";
    int counts[VL_MSG_TYPE_MAX] = {0}, total = 0;
    uint64_t meta_term = 0;
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    for (;;) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            zmsg_t *m = zmsg_recv(pipe);
            char *cmd = m ? zmsg_popstr(m) : NULL, *a = m ? zmsg_popstr(m) : NULL;
            bool term = !cmd || streq(cmd, "$TERM");
            if (!term && streq(cmd, "COUNT")) {
                int t = a ? atoi(a) : 0;
                zstr_sendf(pipe, "%d", t > 0 && t < VL_MSG_TYPE_MAX ? counts[t] : total);
            } else if (!term && streq(cmd, "METATERM")) {
                meta_term = a ? strtoull(a, NULL, 10) : 0;
                zsock_signal(pipe, 0);
            } else if (!term) {
                mode = streq(cmd, "LEADER")     ? S_LEADER
                       : streq(cmd, "FOLLOWER") ? S_FOLLOWER
                                                : S_DEAD;
                silent_type = mode == S_LEADER && a ? atoi(a) : -1;
                snprintf(hint, sizeof hint, "%s", mode == S_FOLLOWER && a ? a : "");
                zsock_signal(pipe, 0);
            }
            free(cmd);
            free(a);
            zmsg_destroy(&m);
            if (term)
                break;
            continue;
        }
        if (which != router)
            break;
        zmsg_t *msg = zmsg_recv(router);
        zframe_t *rid = msg ? zmsg_pop(msg) : NULL;
        vl_hdr_t h;
        vl_rbuf_t body;
        if (rid && vl_wire_parse(msg, &h, &body) == 0 && !(h.type & VL_MSG_REPLY)) {
            counts[h.type]++;
            total++;
            zmsg_t *reply = NULL;
            vl_wbuf_t b;
            vl_wbuf_init(&b);
            if (mode == S_FOLLOWER) {
                reply = vl_wire_reply(&h, VL_ENOTLEADER, "%s", hint);
            } else if (mode == S_LEADER && h.type != silent_type) {
                if (h.type == VL_MSG_GET_META) {
                    vl_meta_topic_t topic = {.id = 1, .rf = 1};
                    snprintf(topic.name, sizeof topic.name, "term%llu",
                             (unsigned long long)meta_term);
                    vl_meta_t meta = {.cluster_id = 1,
                                      .version = 1,
                                      .term = meta_term,
                                      .ntopics = meta_term > 0,
                                      .topics = &topic};
                    vl_meta_encode(&meta, &b);
                } else if (h.type != VL_MSG_PING) {
                    vl_wbuf_u32(&b, 7); /* the id of what was made */
                }
                reply = fx_reply(&h, 0, &b);
            }
            vl_wbuf_free(&b);
            if (reply)
                vl_wire_send_to(router, rid, &reply);
        }
        zframe_destroy(&rid);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

typedef struct {
    zactor_t *actor;
    char ep[64];
} s_fake_t;

static void s_fake_start(s_fake_t *f)
{
    f->actor = zactor_new(s_fake_actor, NULL);
    assert_non_null(f->actor);
    char *ep = zstr_recv(f->actor);
    assert_non_null(ep);
    assert_true(strncmp(ep, "tcp://", 6) == 0);
    snprintf(f->ep, sizeof f->ep, "%s", ep);
    free(ep);
}

static void s_fake_set(s_fake_t *f, const char *mode, const char *arg)
{
    assert_int_equal(zstr_sendx(f->actor, mode, arg ? arg : "", NULL), 0);
    assert_int_equal(zsock_wait(f->actor), 0);
}

/*  Requests of type (0: all) the replica received. */
static int s_fake_count(s_fake_t *f, int type)
{
    char t[16];
    snprintf(t, sizeof t, "%d", type);
    zstr_sendx(f->actor, "COUNT", t, NULL);
    char *n = zstr_recv(f->actor);
    assert_non_null(n);
    int v = atoi(n);
    free(n);
    return v;
}

static void s_fake_stop(s_fake_t *f)
{
    zactor_destroy(&f->actor);
}

/*  The two fake replicas a test runs, a and b (state: s_fake_t[2]). */
static int s_pair_setup(void **state)
{
    s_fake_t *pair = calloc(2, sizeof *pair);
    assert_non_null(pair);
    s_fake_start(&pair[0]);
    s_fake_start(&pair[1]);
    *state = pair;
    return 0;
}

static int s_pair_teardown(void **state)
{
    s_fake_t *pair = *state;
    s_fake_stop(&pair[0]);
    s_fake_stop(&pair[1]);
    free(pair);
    return 0;
}

/*  Opens a client on "A,B" with timeout_ms; returns its code and the
    time it took (ms) in *ms_p. */
static int s_open(s_fake_t *a, s_fake_t *b, int timeout_ms, vl_client_t **c_p, char *err,
                  size_t err_size, int64_t *ms_p)
{
    char eps[160];
    snprintf(eps, sizeof eps, "%s,%s", a->ep, b->ep);
    vl_client_opts_t opts = {.timeout_ms = timeout_ms};
    int64_t t0 = zclock_mono();
    int rc = vl_client_open(eps, &opts, c_p, err, err_size);
    *ms_p = zclock_mono() - t0;
    return rc;
}

/* ---- the client follows the leader ---------------------------------------- */

/*  A follower names the leader: one request to it, then the leader only. */
static void test_follow_hint(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    s_fake_set(a, "FOLLOWER", b->ep);
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 3000, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    vl_topic_info_t infos[4];
    size_t n = 99;
    assert_int_equal(vl_topic_list(c, infos, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(s_fake_count(a, 0), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_GET_META), 2);
    assert_true(ms < 1000);
    vl_client_destroy(&c);
}

/*  vl_topic_list on c lists one topic, named name. */
static void s_one_topic(vl_client_t *c, const char *name)
{
    vl_topic_info_t infos[4];
    size_t n = 99;
    assert_int_equal(vl_topic_list(c, infos, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(infos[0].name, name);
}

/*  A META older than the cached one (the answer of a leader of an older
    term, deposed without knowing it yet) is ignored: the client keeps the
    newer metadata; one of a newer term replaces it. */
static void test_older_meta_ignored(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    s_fake_set(a, "METATERM", "5");
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 3000, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    s_one_topic(c, "term5");
    s_fake_set(a, "METATERM", "4");
    s_one_topic(c, "term5");
    s_fake_set(a, "METATERM", "6");
    s_one_topic(c, "term6");
    vl_client_destroy(&c);
}

/*  A replica that takes the request and never answers: after 1 s the
    request goes to the next one. */
static void test_silent_rotates(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    s_fake_set(a, "DEAD", NULL);
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 5000, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    if (ms < VL_MRCONN_SILENT_MS - 100 || ms > VL_MRCONN_SILENT_MS + 1500)
        fail_msg("open took %lld ms, not about %d", (long long)ms, VL_MRCONN_SILENT_MS);
    assert_int_equal(s_fake_count(a, VL_MSG_GET_META), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_GET_META), 1);
    /* the leader found, the next call goes straight to it */
    int64_t t0 = zclock_mono();
    vl_topic_info_t infos[1];
    size_t n;
    assert_int_equal(vl_topic_list(c, infos, 1, &n), 0);
    assert_true(zclock_mono() - t0 < 1000);
    assert_int_equal(s_fake_count(a, 0), 1);
    vl_client_destroy(&c);
}

/*  A follower that knows no leader: the next replica is asked. */
static void test_empty_hint_rotates(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    s_fake_set(a, "FOLLOWER", "");
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 3000, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    assert_true(ms < 1000);
    assert_int_equal(s_fake_count(a, 0), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_GET_META), 1);
    vl_client_destroy(&c);
}

/*  No leader anywhere: a clear error naming both, within the timeout;
    replicas naming each other end the call at once. */
static void test_no_leader(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    s_fake_set(a, "FOLLOWER", "");
    s_fake_set(b, "FOLLOWER", "");
    vl_client_t *c = NULL;
    char err[1024] = "";
    int64_t ms;
    assert_int_equal(s_open(a, b, 1000, &c, err, sizeof err, &ms), VL_ENOTLEADER);
    assert_null(c);
    if (ms < 900 || ms > 1500)
        fail_msg("gave up after %lld ms, not the 1000 ms timeout", (long long)ms);
    if (!strstr(err, a->ep) || !strstr(err, b->ep) || !strstr(err, "no leader"))
        fail_msg("the error does not name both replicas: %s", err);
    print_message("no leader: %s\n", err);
    /* it waited between rounds instead of spinning */
    int asked = s_fake_count(a, 0) + s_fake_count(b, 0);
    if (asked > 2 * (1000 / VL_MRCONN_PAUSE_MS + 2))
        fail_msg("%d requests in 1 s: no pause between rounds", asked);

    s_fake_set(a, "FOLLOWER", b->ep);
    s_fake_set(b, "FOLLOWER", a->ep);
    int before = s_fake_count(a, 0) + s_fake_count(b, 0);
    assert_int_equal(s_open(a, b, 3000, &c, err, sizeof err, &ms), VL_ENOTLEADER);
    assert_true(ms < 1000);
    if (!strstr(err, a->ep) || !strstr(err, b->ep))
        fail_msg("the error does not name both replicas: %s", err);
    print_message("hint loop: %s\n", err);
    /* 2 x 2 endpoints + 2 redirects, and the request that began it */
    assert_int_equal(s_fake_count(a, 0) + s_fake_count(b, 0) - before, 2 * 2 + 2 + 1);

    /* nobody answers: VL_ETIMEDOUT naming both */
    s_fake_set(a, "DEAD", NULL);
    s_fake_set(b, "DEAD", NULL);
    assert_int_equal(s_open(a, b, 2000, &c, err, sizeof err, &ms), VL_ETIMEDOUT);
    if (!strstr(err, a->ep) || !strstr(err, b->ep))
        fail_msg("the error does not name both replicas: %s", err);
    print_message("all silent: %s\n", err);
}

/*  A request that must not be repeated goes to a replica that has just
    answered (a PING finds it, past a dead one), and only once. */
static void test_create_finds_leader_first(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 5000, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    s_fake_set(a, "DEAD", NULL); /* the leader dies; b takes over */
    uint32_t id = 0;
    if (vl_topic_create(c, "t", 1, 1, &id) != 0)
        fail_msg("create: %s", vl_client_errmsg(c));
    assert_int_equal(id, 7);
    assert_int_equal(s_fake_count(a, VL_MSG_CREATE_TOPIC), 0);
    assert_int_equal(s_fake_count(a, VL_MSG_PING), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_CREATE_TOPIC), 1);

    /* a is back as the leader, b refuses naming it: b's refusal of the
       PING leads there */
    s_fake_set(a, "LEADER", NULL);
    s_fake_set(b, "FOLLOWER", a->ep);
    if (vl_topic_create(c, "u", 1, 1, &id) != 0)
        fail_msg("create: %s", vl_client_errmsg(c));
    assert_int_equal(s_fake_count(a, VL_MSG_CREATE_TOPIC), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_CREATE_TOPIC), 1);
    assert_int_equal(s_fake_count(b, VL_MSG_PING), 2);
    vl_client_destroy(&c);

    /* given b alone, which refuses the request itself: it did nothing,
       so the request goes on to the leader it names (after a PING there,
       as that replica is not b) */
    vl_client_opts_t opts = {.timeout_ms = 3000};
    s_fake_set(b, "LEADER", NULL);
    assert_int_equal(vl_client_open(b->ep, &opts, &c, err, sizeof err), 0);
    s_fake_set(b, "FOLLOWER", a->ep);
    int pings = s_fake_count(a, VL_MSG_PING);
    if (vl_topic_create(c, "v", 1, 1, &id) != 0)
        fail_msg("create: %s", vl_client_errmsg(c));
    assert_int_equal(s_fake_count(b, VL_MSG_CREATE_TOPIC), 2);
    assert_int_equal(s_fake_count(a, VL_MSG_PING), pings + 1);
    assert_int_equal(s_fake_count(a, VL_MSG_CREATE_TOPIC), 2);
    vl_client_destroy(&c);
}

/*  The replica a request that must not be repeated went to falls silent:
    it may have applied it, so nobody else gets it; the caller hears that
    it may still take effect. */
static void test_create_not_repeated(void **state)
{
    s_fake_t *a = *state, *b = a + 1;
    char t[16];
    snprintf(t, sizeof t, "%d", VL_MSG_CREATE_TOPIC);
    s_fake_set(a, "LEADER", t); /* answers all but CREATE_TOPIC */
    vl_client_t *c = NULL;
    char err[1024];
    int64_t ms;
    if (s_open(a, b, 2500, &c, err, sizeof err, &ms) != 0)
        fail_msg("open: %s", err);
    int64_t t0 = zclock_mono();
    assert_int_equal(vl_topic_create(c, "t", 1, 1, NULL), VL_ETIMEDOUT);
    assert_true(zclock_mono() - t0 >= 2400);
    assert_int_equal(s_fake_count(a, VL_MSG_CREATE_TOPIC), 1);
    assert_int_equal(s_fake_count(b, 0), 0);
    const char *msg = vl_client_errmsg(c);
    if (!strstr(msg, "may still take effect") || !strstr(msg, a->ep))
        fail_msg("unclear error: %s", msg);
    print_message("silent after the request: %s\n", msg);
    /* a read that meets the same silence would have moved on: the next
       call starts at the other replica */
    vl_topic_info_t infos[1];
    size_t n;
    assert_int_equal(vl_topic_list(c, infos, 1, &n), 0);
    assert_int_equal(s_fake_count(b, VL_MSG_GET_META), 1);
    vl_client_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_hint_next),
        cmocka_unit_test(test_resendable),
        cmocka_unit_test(test_learn),
        cmocka_unit_test_setup_teardown(test_follow_hint, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_older_meta_ignored, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_silent_rotates, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_empty_hint_rotates, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_no_leader, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_create_finds_leader_first, s_pair_setup,
                                        s_pair_teardown),
        cmocka_unit_test_setup_teardown(test_create_not_repeated, s_pair_setup, s_pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
