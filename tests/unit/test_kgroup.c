/*  test_kgroup.c - unit tests of Kov's consumer-group coordinator
    (kov/group*.c) against the in-memory twin of its store (tests/lib/
    kgmem.c) and a fake clock: membership and rebalances, timeouts,
    committed offsets, replay of the records, snapshots and trim, and
    hostile records on replay.
*/
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "group.h"
#include "group_i.h"
#include "kgmem.h"
#include "util.h"
#include "varlog_err.h"

static int64_t s_now = 1000000;

static int64_t s_clock(void)
{
    return s_now;
}

typedef struct {
    kgmem_t *mem;
    vl_kgroup_t *kg;
    vl_kgroup_opts_t opts;
} fx_t;

static fx_t *s_fx_new(uint32_t snapshot_every, size_t chunk_bytes)
{
    fx_t *fx = vl_calloc(1, sizeof *fx);
    fx->mem = kgmem_new();
    fx->opts.clock_ms = s_clock;
    fx->opts.snapshot_every = snapshot_every;
    fx->opts.snapshot_chunk_bytes = chunk_bytes;
    vl_kgroup_store_t st = kgmem_store(fx->mem);
    fx->kg = vl_kgroup_new(&st, &fx->opts);
    return fx;
}

static void s_fx_destroy(fx_t **fx_p)
{
    fx_t *fx = *fx_p;
    vl_kgroup_destroy(&fx->kg);
    kgmem_destroy(&fx->mem);
    free(fx);
    *fx_p = NULL;
}

/*  A coordinator loaded from mem (asserting the load's result is rc). */
static vl_kgroup_t *s_load(kgmem_t *mem, int rc, char *errbuf, size_t size)
{
    vl_kgroup_opts_t opts = {.clock_ms = s_clock};
    vl_kgroup_store_t st = kgmem_store(mem);
    vl_kgroup_t *kg = vl_kgroup_new(&st, &opts);
    char err[512] = "";
    assert_int_equal(vl_kgroup_load(kg, err, sizeof err), rc);
    if (errbuf)
        snprintf(errbuf, size, "%s", err);
    return kg;
}

static char *s_dump_of(kgmem_t *mem)
{
    vl_kgroup_t *kg = s_load(mem, 0, NULL, 0);
    char *d = vl_kgroup_dump(kg);
    vl_kgroup_destroy(&kg);
    return d;
}

/*  ---- answers ------------------------------------------------------------------ */

typedef struct {
    int calls;
    int16_t error;
    int32_t generation;
    char member_id[128], leader[128], protocol[64];
    size_t nmembers;
    char members[8][128];
} join_res_t;

static void s_join_cb(void *arg, const vl_kgroup_joined_t *r)
{
    join_res_t *res = arg;
    res->calls++;
    res->error = r->error;
    res->generation = r->generation_id;
    snprintf(res->member_id, sizeof res->member_id, "%s", r->member_id);
    snprintf(res->leader, sizeof res->leader, "%s", r->leader);
    snprintf(res->protocol, sizeof res->protocol, "%s", r->protocol_name);
    res->nmembers = r->nmembers;
    for (size_t i = 0; i < r->nmembers && i < 8; i++)
        snprintf(res->members[i], sizeof res->members[i], "%s", r->members[i].member_id);
}

typedef struct {
    int calls;
    int16_t error;
    char assignment[64];
} sync_res_t;

static void s_sync_cb(void *arg, int16_t error, const char *ptype, const char *pname,
                      const uint8_t *asg, size_t len)
{
    sync_res_t *res = arg;
    res->calls++;
    res->error = error;
    snprintf(res->assignment, sizeof res->assignment, "%.*s", (int)len, (const char *)asg);
}

typedef struct {
    int calls;
    size_t n;
    int16_t errors[256];
} commit_res_t;

static void s_commit_cb(void *arg, const int16_t *errors, size_t n)
{
    commit_res_t *res = arg;
    res->calls++;
    res->n = n;
    for (size_t i = 0; i < n && i < 256; i++)
        res->errors[i] = errors[i];
}

typedef struct {
    int calls;
    int16_t error;
    size_t n;
    struct {
        char topic[64];
        int32_t partition;
        int64_t offset;
        char metadata[64];
        bool null_metadata;
    } parts[64];
} fetch_res_t;

static void s_fetch_cb(void *arg, int16_t error, const vl_kgroup_fetched_t *parts, size_t n)
{
    fetch_res_t *res = arg;
    res->calls++;
    res->error = error;
    res->n = n;
    for (size_t i = 0; i < n && i < 64; i++) {
        snprintf(res->parts[i].topic, sizeof res->parts[i].topic, "%s", parts[i].topic);
        res->parts[i].partition = parts[i].partition;
        res->parts[i].offset = parts[i].offset;
        res->parts[i].null_metadata = !parts[i].metadata;
        snprintf(res->parts[i].metadata, sizeof res->parts[i].metadata, "%s",
                 parts[i].metadata ? parts[i].metadata : "");
    }
}

/*  ---- helpers ------------------------------------------------------------------- */

static const vl_kgroup_proto_t s_range[] = {{"range", (const uint8_t *)"sub", 3}};

static void s_join(fx_t *fx, const char *group, const char *member_id, const char *client,
                   const vl_kgroup_proto_t *protos, size_t n, bool require, join_res_t *res)
{
    memset(res, 0, sizeof *res);
    vl_kgroup_join_t req = {.group_id = group,
                            .session_timeout_ms = 10000,
                            .rebalance_timeout_ms = 20000,
                            .member_id = member_id,
                            .client_id = client,
                            .client_host = "/127.0.0.1",
                            .protocol_type = "consumer",
                            .nprotocols = n,
                            .protocols = protos,
                            .require_member_id = require};
    vl_kgroup_join(fx->kg, &req, s_join_cb, res);
}

static void s_sync(fx_t *fx, const char *group, int32_t gen, const char *member,
                   const vl_kgroup_assignment_t *asg, size_t n, sync_res_t *res)
{
    memset(res, 0, sizeof *res);
    vl_kgroup_sync_t req = {.group_id = group,
                            .generation_id = gen,
                            .member_id = member,
                            .nassignments = n,
                            .assignments = asg};
    vl_kgroup_sync(fx->kg, &req, s_sync_cb, res);
}

static void s_commit(fx_t *fx, const char *group, int32_t gen, const char *member,
                     const vl_kgroup_offset_t *offs, size_t n, commit_res_t *res)
{
    memset(res, 0, sizeof *res);
    vl_kgroup_commit_t req = {group, gen, member, n, offs};
    vl_kgroup_commit(fx->kg, &req, s_commit_cb, res);
}

static int64_t s_fetch_one(fx_t *fx, const char *group, const char *topic, int32_t partition)
{
    fetch_res_t res = {0};
    vl_kgroup_fetch_topic_t t = {topic, 1, &partition};
    vl_kgroup_fetch(fx->kg, group, &t, 1, s_fetch_cb, &res);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.error, 0);
    assert_int_equal(res.n, 1);
    return res.parts[0].offset;
}

/*  Two members a and b of group "g", Stable in generation 2, a the leader,
    with assignments "pa" and "pb". */
static void s_two_stable(fx_t *fx, char *a, char *b)
{
    join_res_t ja, jb;
    sync_res_t sa, sb;
    s_join(fx, "g", "", "ca", s_range, 1, false, &ja);
    assert_int_equal(ja.calls, 1); /* alone: generation 1 at once */
    assert_int_equal(ja.error, 0);
    assert_int_equal(ja.generation, 1);
    assert_string_equal(ja.leader, ja.member_id);
    assert_int_equal(strncmp(ja.member_id, "ca-", 3), 0);
    assert_int_equal(ja.nmembers, 1);
    strcpy(a, ja.member_id);

    s_join(fx, "g", "", "cb", s_range, 1, false, &jb);
    assert_int_equal(jb.calls, 0); /* waits for a to rejoin */
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 1, a), VL_KERR_REBALANCE_IN_PROGRESS);
    s_sync(fx, "g", 1, a, NULL, 0, &sa);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sa.error, VL_KERR_REBALANCE_IN_PROGRESS);

    s_join(fx, "g", a, "ca", s_range, 1, false, &ja);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(ja.generation, 2);
    assert_int_equal(jb.generation, 2);
    assert_string_equal(ja.leader, a);
    assert_string_equal(jb.leader, a);
    assert_string_equal(ja.protocol, "range");
    assert_int_equal(ja.nmembers, 2);
    assert_int_equal(jb.nmembers, 0); /* only the leader gets the members */
    strcpy(b, jb.member_id);
    assert_int_equal(strncmp(b, "cb-", 3), 0);
    assert_string_not_equal(a, b);

    s_sync(fx, "g", 2, b, NULL, 0, &sb);
    assert_int_equal(sb.calls, 0);
    vl_kgroup_assignment_t asg[] = {{a, (const uint8_t *)"pa", 2}, {b, (const uint8_t *)"pb", 2}};
    s_sync(fx, "g", 2, a, asg, 2, &sa);
    assert_int_equal(sa.calls, 0); /* answered once the group's record is committed */
    assert_int_equal(kgmem_pending(fx->mem), 1);
    kgmem_complete(fx->mem, 100);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sa.error, 0);
    assert_int_equal(sb.error, 0);
    assert_string_equal(sa.assignment, "pa");
    assert_string_equal(sb.assignment, "pb");
}

/*  ---- membership ---------------------------------------------------------------- */

typedef struct {
    int calls;
    char state[32];
    size_t nmembers;
    int32_t generation;
    int16_t error;
} desc_res_t;

static void s_desc_cb(void *arg, const vl_kgroup_desc_t *d)
{
    desc_res_t *res = arg;
    res->calls++;
    res->error = d->error;
    snprintf(res->state, sizeof res->state, "%s", d->state);
    res->nmembers = d->nmembers;
    res->generation = d->generation_id;
}

static void s_describe(fx_t *fx, const char *group, desc_res_t *res)
{
    memset(res, 0, sizeof *res);
    vl_kgroup_describe(fx->kg, &group, 1, s_desc_cb, res);
    assert_int_equal(res->calls, 1);
}

static void test_join_sync_two(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), 0);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, b), 0);
    sync_res_t sb;
    s_sync(fx, "g", 2, b, NULL, 0, &sb); /* Stable: at once */
    assert_int_equal(sb.calls, 1);
    assert_string_equal(sb.assignment, "pb");
    desc_res_t d;
    s_describe(fx, "g", &d);
    assert_string_equal(d.state, "Stable");
    assert_int_equal(d.nmembers, 2);
    assert_int_equal(d.generation, 2);
    /* a follower rejoining with the same protocols gets the same generation */
    join_res_t jb;
    s_join(fx, "g", b, "cb", s_range, 1, false, &jb);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(jb.generation, 2);
    s_describe(fx, "g", &d);
    assert_string_equal(d.state, "Stable");
    s_fx_destroy(&fx);
}

static void test_rebalance_third(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    join_res_t ja, jb, jc;
    s_join(fx, "g", "", "cc", s_range, 1, false, &jc);
    assert_int_equal(jc.calls, 0);
    desc_res_t d;
    s_describe(fx, "g", &d);
    assert_string_equal(d.state, "PreparingRebalance");
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), VL_KERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, b), VL_KERR_REBALANCE_IN_PROGRESS);
    s_join(fx, "g", b, "cb", s_range, 1, false, &jb);
    assert_int_equal(jb.calls, 0);
    s_join(fx, "g", a, "ca", s_range, 1, false, &ja);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(jc.calls, 1);
    assert_int_equal(ja.generation, 3);
    assert_string_equal(jc.leader, a); /* the leader stays */
    assert_int_equal(ja.nmembers, 3);
    assert_int_equal(jc.nmembers, 0);
    s_fx_destroy(&fx);
}

static void test_expiry(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    s_now += 6000;
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), 0);
    vl_kgroup_tick(fx->kg, s_now);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, b), 0); /* 6 s of 10: alive */
    s_now += 6000;
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), 0);
    s_now += 6000; /* b silent for 12 s: expired; a heard from 6 s ago */
    vl_kgroup_tick(fx->kg, s_now);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, b), VL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), VL_KERR_REBALANCE_IN_PROGRESS);
    join_res_t ja;
    s_join(fx, "g", a, "ca", s_range, 1, false, &ja);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(ja.generation, 3);
    assert_int_equal(ja.nmembers, 1);

    /* a member that does not rejoin within the rebalance timeout is dropped */
    join_res_t jc;
    s_join(fx, "g", "", "cc", s_range, 1, false, &jc);
    assert_int_equal(jc.calls, 0);
    s_now += 5000;
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 3, a), VL_KERR_REBALANCE_IN_PROGRESS);
    s_now += 16000; /* 21 s > the 20 s rebalance timeout */
    vl_kgroup_tick(fx->kg, s_now);
    assert_int_equal(jc.calls, 1);
    assert_int_equal(jc.error, 0);
    assert_int_equal(jc.generation, 4);
    assert_string_equal(jc.leader, jc.member_id);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 4, a), VL_KERR_UNKNOWN_MEMBER_ID);
    s_fx_destroy(&fx);
}

static void test_leave(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    int16_t errs[2];
    const char *ids[] = {b, "nobody"};
    assert_int_equal(vl_kgroup_leave(fx->kg, "g", ids, 2, errs), 0);
    assert_int_equal(errs[0], 0);
    assert_int_equal(errs[1], VL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(vl_kgroup_leave(fx->kg, "nogroup", ids, 1, errs), VL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, a), VL_KERR_REBALANCE_IN_PROGRESS);
    const char *last[] = {a};
    assert_int_equal(vl_kgroup_leave(fx->kg, "g", last, 1, errs), 0);
    desc_res_t d;
    s_describe(fx, "g", &d);
    assert_string_equal(d.state, "Empty");
    assert_int_equal(d.nmembers, 0);
    assert_int_equal(d.generation, 3);
    assert_int_equal(kgmem_pending(fx->mem), 1); /* the emptied group's record */
    kgmem_complete(fx->mem, 10);
    /* its replay has no members either */
    vl_kgroup_t *kg2 = s_load(fx->mem, 0, NULL, 0);
    assert_int_equal(vl_kgroup_heartbeat(kg2, "g", 2, a), VL_KERR_UNKNOWN_MEMBER_ID);
    vl_kgroup_destroy(&kg2);
    s_fx_destroy(&fx);
}

static void test_illegal_generation(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 1, a), VL_KERR_ILLEGAL_GENERATION);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 3, b), VL_KERR_ILLEGAL_GENERATION);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 2, "ghost"), VL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "nogroup", 2, a), VL_KERR_UNKNOWN_MEMBER_ID);
    sync_res_t s;
    s_sync(fx, "g", 1, a, NULL, 0, &s);
    assert_int_equal(s.error, VL_KERR_ILLEGAL_GENERATION);
    vl_kgroup_offset_t off = {"t", 0, 10, -1, NULL};
    commit_res_t c;
    s_commit(fx, "g", 1, a, &off, 1, &c);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.errors[0], VL_KERR_ILLEGAL_GENERATION);
    s_commit(fx, "g", 2, "ghost", &off, 1, &c);
    assert_int_equal(c.errors[0], VL_KERR_UNKNOWN_MEMBER_ID);
    s_commit(fx, "g", -1, "", &off, 1, &c); /* a simple commit to a group with members */
    assert_int_equal(c.errors[0], VL_KERR_UNKNOWN_MEMBER_ID);
    s_commit(fx, "new", 3, "x", &off, 1, &c);
    assert_int_equal(c.errors[0], VL_KERR_ILLEGAL_GENERATION);
    assert_int_equal(kgmem_pending(fx->mem), 0); /* nothing refused was stored */
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), -1);
    s_fx_destroy(&fx);
}

static void test_member_id_required(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    join_res_t j;
    s_join(fx, "g", "", "rdkafka", s_range, 1, true, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.error, VL_KERR_MEMBER_ID_REQUIRED);
    assert_int_equal(strncmp(j.member_id, "rdkafka-", 8), 0);
    assert_int_equal(strlen(j.member_id), 8 + 36); /* a canonical uuid */
    char id[128];
    strcpy(id, j.member_id);
    s_join(fx, "g", id, "rdkafka", s_range, 1, true, &j);
    assert_int_equal(j.error, 0);
    assert_int_equal(j.generation, 1);
    assert_string_equal(j.member_id, id);
    assert_string_equal(j.leader, id);
    s_join(fx, "g", "rdkafka-made-up", "rdkafka", s_range, 1, true, &j);
    assert_int_equal(j.error, VL_KERR_UNKNOWN_MEMBER_ID);
    /* an id handed out and never used expires with the session timeout */
    s_join(fx, "g", "", "late", s_range, 1, true, &j);
    assert_int_equal(j.error, VL_KERR_MEMBER_ID_REQUIRED);
    strcpy(id, j.member_id);
    s_now += 11000;
    vl_kgroup_tick(fx->kg, s_now);
    s_join(fx, "g", id, "late", s_range, 1, true, &j);
    assert_int_equal(j.error, VL_KERR_UNKNOWN_MEMBER_ID);
    s_fx_destroy(&fx);
}

static void test_protocols(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    vl_kgroup_proto_t both[] = {{"roundrobin", (const uint8_t *)"x", 1},
                                {"range", (const uint8_t *)"y", 1}};
    vl_kgroup_proto_t sticky[] = {{"sticky", NULL, 0}};
    join_res_t ja, jb, jc;
    s_join(fx, "g", "", "a", both, 2, false, &ja);
    assert_string_equal(ja.protocol, "roundrobin");
    s_join(fx, "g", "", "b", s_range, 1, false, &jb);
    s_join(fx, "g", "", "c", sticky, 1, false, &jc);
    assert_int_equal(jc.error, VL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    char a[128];
    strcpy(a, ja.member_id);
    s_join(fx, "g", a, "a", both, 2, false, &ja);
    assert_int_equal(ja.error, 0);
    assert_string_equal(ja.protocol, "range"); /* the only one b speaks */
    assert_string_equal(jb.protocol, "range");

    vl_kgroup_join_t req = {.group_id = "g",
                            .session_timeout_ms = 10000,
                            .member_id = "",
                            .protocol_type = "connect",
                            .nprotocols = 1,
                            .protocols = s_range};
    vl_kgroup_join(fx->kg, &req, s_join_cb, &jc);
    assert_int_equal(jc.error, VL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    req.protocol_type = "consumer";
    req.session_timeout_ms = 10;
    vl_kgroup_join(fx->kg, &req, s_join_cb, &jc);
    assert_int_equal(jc.error, VL_KERR_INVALID_SESSION_TIMEOUT);
    req.session_timeout_ms = 10000;
    req.nprotocols = 0;
    vl_kgroup_join(fx->kg, &req, s_join_cb, &jc);
    assert_int_equal(jc.error, VL_KERR_INCONSISTENT_GROUP_PROTOCOL);
    req.group_id = "";
    req.nprotocols = 1;
    vl_kgroup_join(fx->kg, &req, s_join_cb, &jc);
    assert_int_equal(jc.error, VL_KERR_INVALID_GROUP_ID);
    s_fx_destroy(&fx);
}

static void test_forget(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    join_res_t jb, ja;
    s_join(fx, "g", b, "cb", (vl_kgroup_proto_t[]){{"range", (const uint8_t *)"new", 3}}, 1, false,
           &jb);
    assert_int_equal(jb.calls, 0);
    vl_kgroup_forget(fx->kg, &jb); /* b's connection closed */
    s_join(fx, "g", a, "ca", s_range, 1, false, &ja);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(ja.nmembers, 2); /* b rejoined before it went */
    assert_int_equal(jb.calls, 0);
    s_fx_destroy(&fx);
}

/*  A callback that calls back into the coordinator (the server may handle
    a connection's next request inside a reply): a leaves b from inside
    its own JoinGroup answer, while the coordinator is answering b too. */
typedef struct {
    join_res_t res;
    fx_t *fx;
    const char *leave;
} reenter_t;

static void s_reenter_cb(void *arg, const vl_kgroup_joined_t *r)
{
    reenter_t *re = arg;
    s_join_cb(&re->res, r);
    if (re->leave) {
        int16_t err;
        const char *id = re->leave;
        re->leave = NULL;
        assert_int_equal(vl_kgroup_leave(re->fx->kg, "g", &id, 1, &err), 0);
        assert_int_equal(err, 0);
    }
}

static void test_reentrant(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    join_res_t jb, jc;
    s_join(fx, "g", "", "cc", s_range, 1, false, &jc);
    s_join(fx, "g", b, "cb", s_range, 1, false, &jb);
    reenter_t re = {.fx = fx, .leave = b};
    vl_kgroup_join_t req = {.group_id = "g",
                            .session_timeout_ms = 10000,
                            .rebalance_timeout_ms = 20000,
                            .member_id = a,
                            .client_id = "ca",
                            .protocol_type = "consumer",
                            .nprotocols = 1,
                            .protocols = s_range};
    vl_kgroup_join(fx->kg, &req, s_reenter_cb, &re);
    assert_int_equal(re.res.calls, 1);
    assert_int_equal(re.res.generation, 3);
    assert_int_equal(jb.calls, 1); /* answered once: it left before its answer */
    assert_int_equal(jb.error, VL_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(jc.calls, 1);
    assert_int_equal(jc.generation, 3);
    assert_int_equal(vl_kgroup_heartbeat(fx->kg, "g", 3, a), VL_KERR_REBALANCE_IN_PROGRESS);
    s_fx_destroy(&fx);
}

static void test_sync_store_fails(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    join_res_t ja;
    sync_res_t sa;
    s_join(fx, "g", "", "ca", s_range, 1, false, &ja);
    vl_kgroup_assignment_t asg[] = {{ja.member_id, (const uint8_t *)"pa", 2}};
    s_sync(fx, "g", 1, ja.member_id, asg, 1, &sa);
    kgmem_fail_next(fx->mem, 1, VL_EUNAVAIL);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sa.error, VL_KERR_COORDINATOR_NOT_AVAILABLE);
    desc_res_t d;
    s_describe(fx, "g", &d);
    assert_string_equal(d.state, "PreparingRebalance");
    s_fx_destroy(&fx);
}

/*  ---- offsets -------------------------------------------------------------------- */

static void test_offsets(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    vl_kgroup_offset_t offs[] = {{"t", 0, 5, 3, NULL}, {"t", 1, 7, -1, "m"}};
    commit_res_t c;
    s_commit(fx, "g", 2, a, offs, 2, &c);
    assert_int_equal(c.calls, 0); /* not before its record is committed */
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), -1);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.errors[0], 0);
    assert_int_equal(c.errors[1], 0);
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), 5);
    assert_int_equal(s_fetch_one(fx, "g", "t", 1), 7);
    assert_int_equal(s_fetch_one(fx, "g", "t", 2), -1);
    assert_int_equal(s_fetch_one(fx, "g", "u", 0), -1);

    fetch_res_t f = {0};
    vl_kgroup_fetch(fx->kg, "g", NULL, 0, s_fetch_cb, &f); /* all of them */
    assert_int_equal(f.n, 2);
    assert_string_equal(f.parts[0].topic, "t");
    assert_int_equal(f.parts[0].partition, 0);
    assert_true(f.parts[0].null_metadata);
    assert_int_equal(f.parts[1].partition, 1);
    assert_string_equal(f.parts[1].metadata, "m");

    /* a later commit overrides; a metadata too large is refused alone */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    vl_kgroup_offset_t more[] = {{"t", 0, 9, -1, ""}, {"t", 1, 99, -1, big}};
    s_commit(fx, "g", 2, b, more, 2, &c);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(c.errors[0], 0);
    assert_int_equal(c.errors[1], VL_KERR_OFFSET_METADATA_TOO_LARGE);
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), 9);
    assert_int_equal(s_fetch_one(fx, "g", "t", 1), 7);

    /* a failed append: an error, and nothing changes */
    vl_kgroup_offset_t lost = {"t", 0, 100, -1, NULL};
    s_commit(fx, "g", 2, a, &lost, 1, &c);
    kgmem_fail_next(fx->mem, 1, VL_ETIMEDOUT);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(c.errors[0], VL_KERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), 9);

    /* a simple commit creates an empty group */
    s_commit(fx, "solo", -1, "", &lost, 1, &c);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(c.errors[0], 0);
    assert_int_equal(s_fetch_one(fx, "solo", "t", 0), 100);

    /* while the leader's assignment is awaited: REBALANCE_IN_PROGRESS */
    join_res_t jc, ja, jb;
    s_join(fx, "g", "", "cc", s_range, 1, false, &jc);
    s_join(fx, "g", a, "ca", s_range, 1, false, &ja);
    s_join(fx, "g", b, "cb", s_range, 1, false, &jb);
    assert_int_equal(ja.generation, 3);
    s_commit(fx, "g", 3, a, &lost, 1, &c);
    assert_int_equal(c.errors[0], VL_KERR_REBALANCE_IN_PROGRESS);
    s_fx_destroy(&fx);
}

/*  ---- durability ----------------------------------------------------------------- */

/*  Groups of every kind: stable with offsets, simple-commit only, emptied,
    deleted. */
static void s_build_state(fx_t *fx, char *a, char *b)
{
    s_two_stable(fx, a, b);
    vl_kgroup_offset_t offs[] = {{"t", 0, 5, 3, NULL}, {"t", 1, 7, -1, "m"}, {"u", 4, 1, 2, ""}};
    commit_res_t c;
    s_commit(fx, "g", 2, a, offs, 3, &c);
    s_commit(fx, "solo", -1, "", offs, 1, &c);
    s_commit(fx, "doomed", -1, "", offs, 2, &c);
    kgmem_complete(fx->mem, 100);
    join_res_t j;
    s_join(fx, "emptied", "", "e", s_range, 1, false, &j);
    const char *ids[] = {j.member_id};
    int16_t errs[1];
    vl_kgroup_leave(fx->kg, "emptied", ids, 1, errs);
    const char *del[] = {"doomed"};
    vl_kgroup_delete(fx->kg, del, 1, NULL, NULL);
    kgmem_complete(fx->mem, 100);
}

static void test_replay(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_build_state(fx, a, b);
    char *live = vl_kgroup_dump(fx->kg);
    assert_non_null(strstr(live, "group g\n"));
    assert_non_null(strstr(live, "group solo\n"));
    assert_null(strstr(live, "doomed"));
    char *replayed = s_dump_of(fx->mem);
    assert_string_equal(live, replayed);

    /* the restored group knows its members and generation */
    vl_kgroup_t *kg2 = s_load(fx->mem, 0, NULL, 0);
    assert_int_equal(vl_kgroup_heartbeat(kg2, "g", 2, a), 0);
    assert_int_equal(vl_kgroup_heartbeat(kg2, "g", 2, b), 0);
    sync_res_t s = {0};
    vl_kgroup_sync_t req = {.group_id = "g", .generation_id = 2, .member_id = b};
    vl_kgroup_sync(kg2, &req, s_sync_cb, &s);
    assert_string_equal(s.assignment, "pb");
    /* members that never come back are expired */
    s_now += 11000;
    vl_kgroup_tick(kg2, s_now);
    assert_int_equal(vl_kgroup_heartbeat(kg2, "g", 2, a), VL_KERR_UNKNOWN_MEMBER_ID);
    vl_kgroup_stats_t st;
    vl_kgroup_stats(kg2, &st);
    assert_int_equal(st.replayed, kgmem_count(fx->mem));
    vl_kgroup_destroy(&kg2);
    free(live);
    free(replayed);
    s_fx_destroy(&fx);
}

static size_t s_type_count(kgmem_t *mem, int type)
{
    size_t n = 0;
    for (size_t i = 0; i < kgmem_count(mem); i++) {
        size_t len;
        const uint8_t *r = kgmem_record(mem, i, &len, NULL);
        n += len > 5 && r[5] == type;
    }
    return n;
}

static void test_snapshot_trim(void **state)
{
    fx_t *fx = s_fx_new(4, 0);
    char a[128], b[128];
    s_build_state(fx, a, b);
    commit_res_t c;
    for (int i = 0; i < 40; i++) {
        vl_kgroup_offset_t o = {"t", i % 3, 1000 + i, -1, NULL};
        s_commit(fx, "g", 2, a, &o, 1, &c);
        if (i % 5 == 0)
            continue; /* some commits pile up in flight */
        kgmem_complete(fx->mem, 100);
        assert_int_equal(c.errors[0], 0);
    }
    kgmem_complete(fx->mem, 100);
    vl_kgroup_stats_t st;
    vl_kgroup_stats(fx->kg, &st);
    assert_true(st.snapshots >= 5);
    assert_true(kgmem_trim_point(fx->mem) > 1);
    assert_true(kgmem_count(fx->mem) < 20);
    assert_int_equal(s_fetch_one(fx, "g", "t", 0), 1039);
    char *live = vl_kgroup_dump(fx->kg);
    char *replayed = s_dump_of(fx->mem);
    assert_string_equal(live, replayed);
    free(live);
    free(replayed);
    s_fx_destroy(&fx);
}

/*  A snapshot of several chunks, and one cut short by a crash. */
static void test_snapshot_chunks(void **state)
{
    fx_t *fx = s_fx_new(3, 1024);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    commit_res_t c;
    vl_kgroup_offset_t offs[200];
    char topics[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(topics[i], sizeof topics[i], "topic%03d", i);
        offs[i] = (vl_kgroup_offset_t){topics[i], i % 4, i, -1, "meta"};
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 200; i++)
            offs[i].offset = round * 1000 + i;
        s_commit(fx, "g", 2, a, offs, 200, &c);
        kgmem_complete(fx->mem, 100);
        assert_int_equal(c.errors[199], 0);
    }
    vl_kgroup_stats_t st;
    vl_kgroup_stats(fx->kg, &st);
    assert_true(st.snapshots >= 1);
    assert_true(s_type_count(fx->mem, KG_REC_SNAPSHOT) > 2); /* chunks */
    char *live = vl_kgroup_dump(fx->kg);
    char *replayed = s_dump_of(fx->mem);
    assert_string_equal(live, replayed);

    /* cut the log inside the last snapshot: its chunks so far are dropped
       and the records before it give the same state */
    size_t first = SIZE_MAX;
    uint64_t glsn;
    for (size_t i = 0; i < kgmem_count(fx->mem); i++) {
        size_t len;
        kgmem_record(fx->mem, i, &len, &glsn);
        if (glsn == st.snapshot_glsn)
            first = i;
    }
    assert_true(first != SIZE_MAX);
    kgmem_t *cut = kgmem_prefix(fx->mem, first + 1);
    char *cut_dump = s_dump_of(cut);
    kgmem_t *before = kgmem_prefix(fx->mem, first);
    char *before_dump = s_dump_of(before);
    assert_string_equal(cut_dump, before_dump);
    assert_string_not_equal(cut_dump, live); /* rounds were committed after that snapshot */
    kgmem_destroy(&cut);
    kgmem_destroy(&before);
    free(cut_dump);
    free(before_dump);
    free(live);
    free(replayed);
    s_fx_destroy(&fx);
}

/*  ---- hostile records ------------------------------------------------------------ */

typedef struct {
    uint8_t p[512];
    size_t n;
} rec_t;

static void r_u8(rec_t *r, uint8_t v)
{
    r->p[r->n++] = v;
}
static void r_u16(rec_t *r, uint16_t v)
{
    vl_put_le16(r->p + r->n, v);
    r->n += 2;
}
static void r_u32(rec_t *r, uint32_t v)
{
    vl_put_le32(r->p + r->n, v);
    r->n += 4;
}
static void r_u64(rec_t *r, uint64_t v)
{
    vl_put_le64(r->p + r->n, v);
    r->n += 8;
}
static void r_str(rec_t *r, const char *s, size_t n)
{
    r_u16(r, (uint16_t)n);
    memcpy(r->p + r->n, s, n);
    r->n += n;
}
static void r_hdr(rec_t *r, uint8_t version, uint8_t type)
{
    r->n = 0;
    memcpy(r->p, "KOVG", 4);
    r->n = 4;
    r_u8(r, version);
    r_u8(r, type);
    r_u32(r, 0);
}
static void r_end(rec_t *r)
{
    vl_put_le32(r->p + 6, (uint32_t)(r->n - 10));
}

/*  A valid OFFSETS record of group "h": topic t partition p offset o. */
static void r_offsets(rec_t *r, int32_t p, int64_t o)
{
    r_hdr(r, 1, KG_REC_OFFSETS);
    r_str(r, "h", 1);
    r_u32(r, 1);
    r_str(r, "t", 1);
    r_u32(r, (uint32_t)p);
    r_u64(r, (uint64_t)o);
    r_u32(r, (uint32_t)-1);
    r_u64(r, 0);
    r_u16(r, 0xffff);
    r_end(r);
}

/*  A valid GROUP record of group "h" with one member "m" (leader). */
static void r_group(rec_t *r, const char *leader)
{
    r_hdr(r, 1, KG_REC_GROUP);
    r_str(r, "h", 1);
    r_u32(r, 4);
    r_str(r, "consumer", 8);
    r_str(r, "range", 5);
    r_str(r, leader, strlen(leader));
    r_u32(r, 1);
    r_str(r, "m", 1);
    r_str(r, "c", 1);
    r_str(r, "/h", 2);
    r_u32(r, 10000);
    r_u32(r, 10000);
    r_u32(r, 1);
    r_u8(r, 's');
    r_u32(r, 1);
    r_u8(r, 'a');
    r_end(r);
}

/*  Appends bad after a good log, then a good record after it: the load
    fails naming bad's GLSN and the state is the good log's. */
static void s_refused(const rec_t *bad, const char *expect)
{
    kgmem_t *mem = kgmem_new();
    rec_t good;
    r_offsets(&good, 0, 42);
    kgmem_put(mem, good.p, good.n);
    r_group(&good, "m");
    kgmem_put(mem, good.p, good.n);
    char *before = s_dump_of(mem);
    kgmem_put(mem, bad->p, bad->n);
    r_offsets(&good, 0, 43);
    kgmem_put(mem, good.p, good.n);
    char err[512];
    vl_kgroup_t *kg = s_load(
        mem, bad->n > 4 && bad->p[4] != 1 && !memcmp(bad->p, "KOVG", 4) ? VL_EVERSION : VL_EPROTO,
        err, sizeof err);
    assert_non_null(strstr(err, "GLSN 3"));
    if (expect && !strstr(err, expect))
        fail_msg("error \"%s\" does not say \"%s\"", err, expect);
    char *after = vl_kgroup_dump(kg);
    assert_string_equal(before, after);
    free(before);
    free(after);
    vl_kgroup_destroy(&kg);
    kgmem_destroy(&mem);
}

static void test_hostile(void **state)
{
    rec_t good, r;
    /* every truncation of valid records */
    r_offsets(&good, 1, 7);
    for (size_t n = 0; n < good.n; n++) {
        r = good;
        r.n = n;
        if (n >= 10)
            vl_put_le32(r.p + 6, (uint32_t)(n - 10)); /* consistent length, short body */
        s_refused(&r, NULL);
    }
    r_group(&good, "m");
    for (size_t n = 10; n < good.n; n++) {
        r = good;
        r.n = n;
        vl_put_le32(r.p + 6, (uint32_t)(n - 10));
        s_refused(&r, NULL);
    }
    r_offsets(&r, 1, 7);
    r.p[0] = 'X';
    s_refused(&r, "not a record");
    r_offsets(&r, 1, 7);
    r.p[4] = 2;
    s_refused(&r, "version 2");
    r_offsets(&r, 1, 7);
    r.p[5] = 9;
    s_refused(&r, "type 9");
    r_offsets(&r, 1, 7);
    vl_put_le32(r.p + 6, vl_get_le32(r.p + 6) + 1); /* says one byte more than there is */
    s_refused(&r, "body length");
    r_offsets(&r, 1, 7);
    r_end(&r);
    r.p[r.n++] = 0; /* one byte too many */
    r_end(&r);
    s_refused(&r, "left over");
    r_offsets(&r, 1, 7);
    vl_put_le32(r.p + 13, 0xffffffffu); /* offsets count */
    s_refused(&r, "count");
    r_offsets(&r, -1, 7);
    s_refused(&r, "partition");
    r_offsets(&r, 1, 7);
    r.p[12] = 0; /* NUL inside the group id */
    s_refused(&r, "group id");
    r_group(&r, "x");
    s_refused(&r, "leader");
    /* snapshots: one inside another; a chunk index past the count */
    rec_t inner;
    r_hdr(&inner, 1, KG_REC_SNAPSHOT);
    r_u64(&inner, 1);
    r_u32(&inner, 0);
    r_u32(&inner, 1);
    r_u32(&inner, 0);
    r_end(&inner);
    r_hdr(&r, 1, KG_REC_SNAPSHOT);
    r_u64(&r, 2);
    r_u32(&r, 0);
    r_u32(&r, 1);
    r_u32(&r, 1);
    r_u32(&r, (uint32_t)inner.n);
    memcpy(r.p + r.n, inner.p, inner.n);
    r.n += inner.n;
    r_end(&r);
    s_refused(&r, "inside a snapshot");
    inner.p[KG_REC_HDR + 8] = 5; /* index 5 of 1 */
    s_refused(&inner, "chunk index");
}

/*  ---- administration ---------------------------------------------------------------- */

typedef struct {
    int calls;
    size_t n;
    int16_t errors[8];
} del_res_t;

static void s_del_cb(void *arg, const int16_t *errors, size_t n)
{
    del_res_t *res = arg;
    res->calls++;
    res->n = n;
    memcpy(res->errors, errors, n * sizeof *errors);
}

typedef struct {
    size_t n;
    char lines[8][128];
} list_res_t;

static void s_list_cb(void *arg, const vl_kgroup_listed_t *groups, size_t n)
{
    list_res_t *res = arg;
    res->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(res->lines[i], sizeof res->lines[i], "%s %s %s", groups[i].group_id,
                 groups[i].protocol_type, groups[i].state);
}

static void test_admin(void **state)
{
    fx_t *fx = s_fx_new(0, 0);
    char a[128], b[128];
    s_two_stable(fx, a, b);
    vl_kgroup_offset_t off = {"t", 0, 3, -1, NULL};
    commit_res_t c;
    s_commit(fx, "e", -1, "", &off, 1, &c);
    kgmem_complete(fx->mem, 10);
    list_res_t l = {0};
    vl_kgroup_list(fx->kg, s_list_cb, &l);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.lines[0], "e  Empty");
    assert_string_equal(l.lines[1], "g consumer Stable");
    desc_res_t d;
    s_describe(fx, "nope", &d);
    assert_string_equal(d.state, "Dead");
    assert_int_equal(d.error, 0);

    const char *ids[] = {"g", "e", "nope", ""};
    del_res_t r = {0};
    vl_kgroup_delete(fx->kg, ids, 4, s_del_cb, &r);
    assert_int_equal(r.calls, 0); /* e's tombstone is not committed yet */
    join_res_t j;
    s_join(fx, "e", "", "x", s_range, 1, false, &j);
    assert_int_equal(j.error, VL_KERR_COORDINATOR_NOT_AVAILABLE); /* being deleted */
    kgmem_complete(fx->mem, 10);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.errors[0], VL_KERR_NON_EMPTY_GROUP);
    assert_int_equal(r.errors[1], 0);
    assert_int_equal(r.errors[2], VL_KERR_GROUP_ID_NOT_FOUND);
    assert_int_equal(r.errors[3], VL_KERR_INVALID_GROUP_ID);
    assert_int_equal(s_fetch_one(fx, "e", "t", 0), -1);
    vl_kgroup_list(fx->kg, s_list_cb, &l);
    assert_int_equal(l.n, 1);

    /* a failed tombstone leaves the group as it was */
    s_commit(fx, "e2", -1, "", &off, 1, &c);
    kgmem_complete(fx->mem, 10);
    const char *e2[] = {"e2"};
    vl_kgroup_delete(fx->kg, e2, 1, s_del_cb, &r);
    kgmem_fail_next(fx->mem, 1, VL_EUNAVAIL);
    kgmem_complete(fx->mem, 10);
    assert_int_equal(r.errors[0], VL_KERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(s_fetch_one(fx, "e2", "t", 0), 3);
    char *live = vl_kgroup_dump(fx->kg);
    char *replayed = s_dump_of(fx->mem);
    assert_string_equal(live, replayed);
    assert_null(strstr(live, "group e\n"));
    free(live);
    free(replayed);
    s_fx_destroy(&fx);
}

static void test_kerr_names(void **state)
{
    assert_string_equal(vl_kerr_name(VL_KERR_REBALANCE_IN_PROGRESS), "REBALANCE_IN_PROGRESS");
    assert_string_equal(vl_kerr_name(79), "MEMBER_ID_REQUIRED");
    assert_string_equal(vl_kerr_name(-1), "UNKNOWN_SERVER_ERROR");
    assert_string_equal(vl_kerr_name(0), "NONE");
    assert_string_equal(vl_kerr_name(30000), "UNKNOWN_CODE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_sync_two),
        cmocka_unit_test(test_rebalance_third),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_illegal_generation),
        cmocka_unit_test(test_member_id_required),
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_reentrant),
        cmocka_unit_test(test_sync_store_fails),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_snapshot_trim),
        cmocka_unit_test(test_snapshot_chunks),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_admin),
        cmocka_unit_test(test_kerr_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
