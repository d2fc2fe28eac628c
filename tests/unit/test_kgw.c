/*  test_kgw.c - the gateways' view replayed from __kov_meta (kov/gw_view.c).

    Registration, heartbeats, expiry and leave records in log order: the
    live set and the epoch after each; the first expire record of an
    incarnation wins and later ones change nothing; a dead incarnation's
    heartbeat does not bring it back, a new incarnation of the same id
    replaces it; other records of the meta topic (kov.pid) and garbage are
    skipped. Ownership: the same live set gives the same owners whatever
    order the gateways registered in, partitions spread over the gateways,
    a gateway's death moves only its own partitions, groups belong to the
    oldest live gateway. HOST:PORT splitting.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "gw.h"

static bool s_apply(vl_kgw_view_t *v, uint64_t glsn, const char *rec)
{
    return vl_kgw_view_apply(v, glsn, rec, strlen(rec), 0);
}

static size_t s_live(const vl_kgw_view_t *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += v->m[i].alive;
    return n;
}

static void test_membership(void **state)
{
    (void)state;
    vl_kgw_view_t v = {0};
    assert_true(s_apply(&v, 1, "kov.gw.hb 1 11 127.0.0.1:9093 3000 1000\n"));
    assert_int_equal(v.epoch, 1);
    assert_false(s_apply(&v, 2, "kov.pid 0 1000\n")); /* pid.c's records are skipped */
    assert_true(s_apply(&v, 3, "kov.gw.hb 2 22 127.0.0.1:9094 2000 1001\n"));
    assert_int_equal(s_live(&v), 2);
    assert_int_equal(v.epoch, 3);
    /* a heartbeat changes nothing but when it was heard */
    assert_false(s_apply(&v, 4, "kov.gw.hb 1 11 127.0.0.1:9093 3000 2000\n"));
    const vl_kgw_member_t *m = vl_kgw_view_find(&v, 1);
    assert_non_null(m);
    assert_int_equal(m->heard_glsn, 4);
    assert_int_equal(m->heard_ms, 2000);
    assert_int_equal(m->since_glsn, 1);
    assert_int_equal(v.epoch, 3);
    /* the first expiry wins, a second one of the same incarnation is ignored */
    assert_true(s_apply(&v, 5, "kov.gw.expire 2 22 1\n"));
    assert_false(s_apply(&v, 6, "kov.gw.expire 2 22 1\n"));
    assert_int_equal(v.epoch, 5);
    assert_null(vl_kgw_view_find(&v, 2));
    assert_int_equal(s_live(&v), 1);
    /* a dead incarnation's heartbeat does not bring it back */
    assert_false(s_apply(&v, 7, "kov.gw.hb 2 22 127.0.0.1:9094 2000 3000\n"));
    assert_null(vl_kgw_view_find(&v, 2));
    /* an expiry of an incarnation that is not the live one is ignored */
    assert_false(s_apply(&v, 8, "kov.gw.expire 1 99 2\n"));
    assert_non_null(vl_kgw_view_find(&v, 1));
    /* a new incarnation registers again */
    assert_true(s_apply(&v, 9, "kov.gw.hb 2 23 127.0.0.1:9095 2000 4000\n"));
    m = vl_kgw_view_find(&v, 2);
    assert_non_null(m);
    assert_int_equal(m->inc, 23);
    assert_string_equal(m->addr, "127.0.0.1:9095");
    assert_int_equal(m->since_glsn, 9);
    /* a restart of 1 (new incarnation) replaces the live one at once */
    assert_true(s_apply(&v, 10, "kov.gw.hb 1 12 127.0.0.1:9093 3000 5000\n"));
    assert_int_equal(vl_kgw_view_find(&v, 1)->inc, 12);
    assert_int_equal(s_live(&v), 2);
    /* leave */
    assert_true(s_apply(&v, 11, "kov.gw.leave 1 12\n"));
    assert_null(vl_kgw_view_find(&v, 1));
    assert_int_equal(v.epoch, 11);
    assert_int_equal(v.applied, 11);
    vl_kgw_view_free(&v);
}

static void test_garbage(void **state)
{
    (void)state;
    vl_kgw_view_t v = {0};
    const char *bad[] = {
        "kov.gw.hb\n",
        "kov.gw.hb 1\n",
        "kov.gw.hb -1 5 a:1 3000 0\n",
        "kov.gw.hb 1 5 a:1 0 0\n",
        "kov.gw.hb 1 5 a:1 -5 0\n",
        "kov.gw.expire 1\n",
        "kov.gw.whatever 1 2\n",
        "kov.gw.",
        "",
        "\0kv\1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(s_apply(&v, i + 1, bad[i]));
    assert_int_equal(v.n, 0);
    assert_int_equal(v.epoch, 0);
    /* a record as long as the buffer or longer is skipped, not cut */
    char big[1000];
    memset(big, 'x', sizeof big);
    memcpy(big, "kov.gw.hb 1 5 ", 14);
    assert_false(vl_kgw_view_apply(&v, 20, big, sizeof big, 0));
    assert_int_equal(v.n, 0);
    vl_kgw_view_free(&v);
}

static void s_register(vl_kgw_view_t *v, const int *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char rec[128];
        snprintf(rec, sizeof rec, "kov.gw.hb %d %d h:%d 3000 0\n", ids[i], ids[i] + 100,
                 9000 + ids[i]);
        s_apply(v, v->applied + 1, rec);
    }
}

static void test_ownership(void **state)
{
    (void)state;
    vl_kgw_view_t a = {0}, b = {0};
    const int order_a[] = {1, 2, 3}, order_b[] = {3, 1, 2};
    s_register(&a, order_a, 3);
    s_register(&b, order_b, 3);
    int count[4] = {0};
    int owner_before[200];
    for (int p = 0; p < 200; p++) {
        char topic[32];
        snprintf(topic, sizeof topic, "t-%d", p);
        const vl_kgw_member_t *oa = vl_kgw_view_part_owner(&a, topic);
        const vl_kgw_member_t *ob = vl_kgw_view_part_owner(&b, topic);
        assert_non_null(oa);
        assert_non_null(ob);
        assert_int_equal(oa->id, ob->id); /* the live set decides, not the order */
        count[oa->id]++;
        owner_before[p] = oa->id;
    }
    for (int id = 1; id <= 3; id++)
        assert_true(count[id] > 30); /* spread (about 67 each) */
    /* groups: the oldest live gateway */
    assert_int_equal(vl_kgw_view_group_owner(&a)->id, 1);
    assert_int_equal(vl_kgw_view_group_owner(&b)->id, 3);
    /* 2 dies: only its partitions move */
    s_apply(&a, a.applied + 1, "kov.gw.expire 2 102 1\n");
    for (int p = 0; p < 200; p++) {
        char topic[32];
        snprintf(topic, sizeof topic, "t-%d", p);
        int now = vl_kgw_view_part_owner(&a, topic)->id;
        assert_int_not_equal(now, 2);
        if (owner_before[p] != 2)
            assert_int_equal(now, owner_before[p]);
    }
    /* 1 dies too: 3 owns everything, groups included */
    s_apply(&a, a.applied + 1, "kov.gw.leave 1 101\n");
    assert_int_equal(vl_kgw_view_part_owner(&a, "t-0")->id, 3);
    assert_int_equal(vl_kgw_view_group_owner(&a)->id, 3);
    s_apply(&a, a.applied + 1, "kov.gw.leave 3 103\n");
    assert_null(vl_kgw_view_part_owner(&a, "t-0"));
    assert_null(vl_kgw_view_group_owner(&a));
    vl_kgw_view_free(&a);
    vl_kgw_view_free(&b);
}

/*  Compaction: a replay that starts at a trim point past 1 starts from the
    first snapshot it can use and ends with the same view as a replay of
    the whole log, at every later GLSN; a snapshot it cannot use (its
    state is older than the trim point) is skipped; a replay with no
    usable snapshot applies what is there once flushed. */
static void test_snapshot(void **state)
{
    (void)state;
    char *log[64];
    size_t n = 0;
    log[n++] = strdup("kov.gw.hb 1 11 h:1 3000 0\n");
    log[n++] = strdup("kov.pid 0 1000\n");
    log[n++] = strdup("kov.gw.hb 2 22 h:2 3000 0\n");
    log[n++] = strdup("kov.gw.hb 3 33 h:3 3000 0\n");
    log[n++] = strdup("kov.gw.expire 3 33 1\n");
    /* the writer's view at P = 5 */
    vl_kgw_view_t w = {0};
    for (size_t i = 0; i < n; i++)
        s_apply(&w, i + 1, log[i]);
    size_t len;
    char *snap = vl_kgw_view_snapshot(&w, &len);
    assert_int_equal(strlen(snap), len);
    assert_non_null(strstr(snap, "kov.pid 0 1000\nkov.gw.snap 5 5 3\n"));
    /* records between P and the snapshot's own GLSN, then more */
    log[n++] = strdup("kov.gw.hb 4 44 h:4 3000 0\n"); /* 6 */
    log[n++] = strdup("kov.gw.expire 2 22 1\n");      /* 7 */
    log[n++] = snap;                                   /* 8: the snapshot of GLSN 5 */
    log[n++] = strdup("kov.pid 1000 2000\n");          /* 9 */
    log[n++] = strdup("kov.gw.hb 2 23 h:2b 3000 0\n"); /* 10 */
    log[n++] = strdup("kov.gw.hb 3 33 h:3 3000 0\n");  /* 11: dead, stays dead */
    vl_kgw_view_free(&w);
    vl_kgw_view_t all = {0}, from6 = {0}, from7 = {0};
    for (size_t i = 0; i < n; i++) {
        s_apply(&all, i + 1, log[i]);
        if (i + 1 >= 6)
            s_apply(&from6, i + 1, log[i]);
        if (i + 1 >= 7)
            s_apply(&from7, i + 1, log[i]);
        if (i + 1 < 8)
            continue;
        /* from the snapshot on, the same view */
        assert_false(from6.need_base);
        assert_int_equal(from6.epoch, all.epoch);
        assert_int_equal(from6.pid_end, all.pid_end);
        for (int32_t id = 1; id <= 4; id++) {
            const vl_kgw_member_t *a = vl_kgw_view_find(&all, id), *b = vl_kgw_view_find(&from6, id);
            assert_int_equal(a != NULL, b != NULL);
            if (a) {
                assert_int_equal(a->inc, b->inc);
                assert_int_equal(a->since_glsn, b->since_glsn);
                assert_string_equal(a->addr, b->addr);
            }
        }
        assert_int_equal(vl_kgw_view_group_owner(&all)->id, vl_kgw_view_group_owner(&from6)->id);
        for (int p = 0; p < 20; p++) {
            char topic[16];
            snprintf(topic, sizeof topic, "t-%d", p);
            assert_int_equal(vl_kgw_view_part_owner(&all, topic)->id,
                             vl_kgw_view_part_owner(&from6, topic)->id);
        }
    }
    assert_int_equal(all.pid_end, 2000);
    assert_null(vl_kgw_view_find(&all, 3));
    assert_int_equal(vl_kgw_view_find(&all, 2)->inc, 23);
    assert_non_null(vl_kgw_view_find(&all, 4));
    /* from 7 the snapshot of 5 cannot be used: held until flushed */
    assert_true(from7.need_base);
    assert_null(vl_kgw_view_find(&from7, 1));
    assert_true(vl_kgw_view_flush_held(&from7, 0));
    assert_false(vl_kgw_view_flush_held(&from7, 0));
    assert_non_null(vl_kgw_view_find(&from7, 2)); /* what is there */
    assert_int_equal(from7.pid_end, 2000);
    /* the longest member lines fit and read back */
    vl_kgw_view_t big = {0}, base = {0};
    s_apply(&big, 1, "kov.pid 0 1\n"); /* a replay from the start */
    for (int id = 0; id < 3; id++) {
        char rec[400], addr[264];
        memset(addr, 'a' + id, 255);
        snprintf(addr + 255, sizeof addr - 255, ":65535");
        snprintf(rec, sizeof rec, "kov.gw.hb %d 18446744073709551615 %s 600000 %lld\n",
                 2147483600 + id, addr, 9223372036854775807LL);
        assert_true(s_apply(&big, 100000 + (uint64_t)id, rec));
    }
    char *bsnap = vl_kgw_view_snapshot(&big, &len);
    assert_int_equal(strlen(bsnap), len);
    s_apply(&base, 100003, "kov.gw.hb 7 1 h:7 3000 0\n");
    s_apply(&base, 100004, bsnap);
    assert_false(base.need_base);
    assert_int_equal(base.n, 4); /* the snapshot's 3, then the held record */
    assert_int_equal(vl_kgw_view_find(&base, 2147483602)->inc, UINT64_MAX);
    assert_string_equal(vl_kgw_view_find(&base, 2147483601)->addr,
                        vl_kgw_view_find(&big, 2147483601)->addr);
    free(bsnap);
    vl_kgw_view_free(&big);
    vl_kgw_view_free(&base);
    /* a bad snapshot (members that do not parse) is not a base */
    vl_kgw_view_t bad = {0};
    s_apply(&bad, 9, "kov.gw.hb 1 11 h:1 3000 0\n");
    assert_true(bad.need_base);
    s_apply(&bad, 10, "kov.pid 0 5\nkov.gw.snap 8 1 2\n1 11 h:1 3000 1 1 1 0 0\nnonsense\n");
    assert_true(bad.need_base);
    s_apply(&bad, 11, "kov.pid 0 5\nkov.gw.snap 8 1 99999\n");
    assert_true(bad.need_base);
    vl_kgw_view_free(&bad);
    vl_kgw_view_free(&all);
    vl_kgw_view_free(&from6);
    vl_kgw_view_free(&from7);
    for (size_t i = 0; i < n; i++)
        free(log[i]);
}

static void test_split_addr(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(vl_kgw_split_addr("127.0.0.1:9093", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9093);
    assert_int_equal(vl_kgw_split_addr("[::1]:19093", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 19093);
    assert_int_equal(vl_kgw_split_addr("kov.example:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "kov.example");
    const char *bad[] = {"nohost", ":9093", "h:", "h:0", "h:65536", "h:12x", "[]:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vl_kgw_split_addr(bad[i], host, sizeof host, &port), -1);
    char tiny[4];
    assert_int_equal(vl_kgw_split_addr("longhost:1", tiny, sizeof tiny, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_split_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
