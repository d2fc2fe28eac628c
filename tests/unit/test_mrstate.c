/*  test_mrstate.c - the MR's commit rule, placement, trim checks, the
    formats of the persisted commit groups, and the store as the replicated
    state machine's (mr/state.c, mr/persist.c, mr/group.c, mr/history.c,
    mr/persist_fsm.c). The persist round trip and the history lookups are
    test_persist's; the helpers both use are tests/lib/mrfx.h's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <rocksdb/c.h>
#include "persist.h"
#include "state.h"
#include "util.h"
#include "../lib/mrfx.h"

/*  ---- helpers ---------------------------------------------------------- */

static void s_report_one(vl_mrstate_t *st, uint32_t sn_id, uint32_t ls_id, uint64_t llsn_end,
                         uint64_t bytes_end)
{
    vl_report_item_t it = {ls_id, llsn_end, bytes_end, 0, VL_LS_RUNNING};
    vl_report_t rep = {sn_id, 1, &it};
    assert_int_equal(vl_mrstate_report(st, &rep), 0);
}

/*  Computes, checks and applies one round. */
static uint32_t s_round(vl_mrstate_t *st, vl_commit_t *out)
{
    uint32_t n = vl_mrstate_commit_compute(st, out);
    vl_mrstate_commit_apply(st, out);
    return n;
}

/*  A replica's report with every field. */
static void s_report_full(vl_mrstate_t *st, uint32_t sn_id, uint32_t ls_id, uint64_t llsn_end,
                          uint64_t bytes_end, uint64_t applied, uint8_t state)
{
    vl_report_item_t it = {ls_id, llsn_end, bytes_end, applied, state};
    vl_report_t rep = {sn_id, 1, &it};
    assert_int_equal(vl_mrstate_report(st, &rep), 0);
}

/*  ---- tests -------------------------------------------------------------- */

static void test_commit_several_topics(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t a = s_create(st, "a", 2, 1);
    uint32_t b = s_create(st, "b", 1, 1);
    vl_mrstate_topic_t *ta = vl_mrstate_topic_by_id(st, a);
    vl_mrstate_topic_t *tb = vl_mrstate_topic_by_id(st, b);
    assert_int_equal(ta->nls, 2);
    uint32_t a1 = ta->ls[0]->id, a2 = ta->ls[1]->id, b1 = tb->ls[0]->id;

    vl_commit_t c;
    assert_int_equal(s_round(st, &c), 0); /* nothing reported */
    assert_int_equal(c.version, 0);
    vl_commit_free(&c);

    s_report_all(st, a2, 3, 30); /* ls ids are visited in order: a1 before a2 */
    s_report_all(st, a1, 2, 10);
    s_report_all(st, b1, 5, 500);
    assert_int_equal(s_round(st, &c), 3);
    assert_int_equal(c.version, 1);
    /* topic a: a1 gets glsn 1..2 at offset 0, a2 3..5 at 10 */
    assert_int_equal(c.items[0].topic_id, a);
    assert_int_equal(c.items[0].ls_id, a1);
    assert_int_equal(c.items[0].llsn_begin, 1);
    assert_int_equal(c.items[0].glsn_begin, 1);
    assert_int_equal(c.items[0].count, 2);
    assert_int_equal(c.items[0].offset_begin, 0);
    assert_int_equal(c.items[0].bytes, 10);
    assert_int_equal(c.items[1].ls_id, a2);
    assert_int_equal(c.items[1].glsn_begin, 3);
    assert_int_equal(c.items[1].count, 3);
    assert_int_equal(c.items[1].offset_begin, 10);
    assert_int_equal(c.items[1].bytes, 30);
    assert_int_equal(c.items[0].hwm, 5); /* topic ends after the round */
    assert_int_equal(c.items[1].hwm, 5);
    assert_int_equal(c.items[1].end_offset, 40);
    /* topic b has its own GLSN space */
    assert_int_equal(c.items[2].topic_id, b);
    assert_int_equal(c.items[2].glsn_begin, 1);
    assert_int_equal(c.items[2].hwm, 5);
    assert_int_equal(c.items[2].end_offset, 500);
    vl_commit_free(&c);
    assert_int_equal(ta->hwm, 5);
    assert_int_equal(ta->end_offset, 40);

    /* nothing new: no round, version stays */
    assert_int_equal(s_round(st, &c), 0);
    assert_int_equal(vl_mrstate_version(st), 1);
    vl_commit_free(&c);

    /* only a2 grows: a1 is skipped, glsn continues */
    s_report_all(st, a2, 4, 45);
    assert_int_equal(s_round(st, &c), 1);
    assert_int_equal(c.version, 2);
    assert_int_equal(c.items[0].ls_id, a2);
    assert_int_equal(c.items[0].llsn_begin, 4);
    assert_int_equal(c.items[0].glsn_begin, 6);
    assert_int_equal(c.items[0].count, 1);
    assert_int_equal(c.items[0].offset_begin, 40);
    assert_int_equal(c.items[0].bytes, 15);
    assert_int_equal(c.items[0].hwm, 6);
    assert_int_equal(c.items[0].end_offset, 55);
    vl_commit_free(&c);
    vl_mrstate_destroy(&st);
    assert_null(st);
}

static void test_min_rule_rf3(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t t = s_create(st, "rf3", 1, 3);
    vl_mrstate_ls_t *ls = vl_mrstate_topic_by_id(st, t)->ls[0];
    assert_int_equal(ls->nrep, 3);
    uint32_t p = ls->replicas[0].sn_id, b1 = ls->replicas[1].sn_id, b2 = ls->replicas[2].sn_id;
    assert_true(p != b1 && p != b2 && b1 != b2);

    vl_commit_t c;
    /* two replicas report, the third has not: nothing is on all of them */
    s_report_one(st, p, ls->id, 10, 100);
    s_report_one(st, b1, ls->id, 8, 80);
    assert_int_equal(s_round(st, &c), 0);
    vl_commit_free(&c);

    /* the slowest replica decides, and its bytes are used */
    s_report_one(st, b2, ls->id, 6, 60);
    assert_int_equal(s_round(st, &c), 1);
    assert_int_equal(c.items[0].count, 6);
    assert_int_equal(c.items[0].bytes, 60);
    vl_commit_free(&c);

    s_report_one(st, b2, ls->id, 12, 120);
    assert_int_equal(s_round(st, &c), 1);
    assert_int_equal(c.items[0].llsn_begin, 7);
    assert_int_equal(c.items[0].glsn_begin, 7);
    assert_int_equal(c.items[0].count, 2); /* b1 is at 8 now */
    assert_int_equal(c.items[0].offset_begin, 60);
    assert_int_equal(c.items[0].bytes, 20);
    vl_commit_free(&c);

    /* a report that goes backwards commits nothing and undoes nothing */
    s_report_one(st, b1, ls->id, 3, 30);
    assert_int_equal(s_round(st, &c), 0);
    vl_commit_free(&c);
    assert_int_equal(ls->committed_llsn_end, 8);
    assert_int_equal(ls->committed_bytes, 80);

    /* HELLO resets an SN's reports: it must report again before commits */
    s_report_one(st, b1, ls->id, 12, 120);
    vl_mrstate_sn_reset(st, p);
    assert_int_equal(s_round(st, &c), 0);
    vl_commit_free(&c);
    s_report_one(st, p, ls->id, 12, 120);
    assert_int_equal(s_round(st, &c), 1);
    assert_int_equal(c.items[0].count, 4);
    vl_commit_free(&c);

    /* reports from unknown SNs or for replicas an SN does not host */
    vl_report_item_t it = {ls->id, 99, 990, 0, VL_LS_RUNNING};
    vl_report_t rep = {42, 1, &it};
    assert_int_equal(vl_mrstate_report(st, &rep), VL_ENOSN);
    vl_mrstate_destroy(&st);
}

static void test_placement(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(4);
    uint32_t t = s_create(st, "spread", 4, 2);
    vl_mrstate_topic_t *tp = vl_mrstate_topic_by_id(st, t);
    int prim[5] = {0}, reps[5] = {0};
    for (uint32_t i = 0; i < tp->nls; i++) {
        vl_mrstate_ls_t *ls = tp->ls[i];
        assert_int_equal(ls->nrep, 2);
        assert_int_not_equal(ls->replicas[0].sn_id, ls->replicas[1].sn_id);
        prim[ls->replicas[0].sn_id]++;
        for (uint32_t k = 0; k < ls->nrep; k++)
            reps[ls->replicas[k].sn_id]++;
    }
    for (int s = 1; s <= 4; s++) {
        assert_int_equal(prim[s], 1); /* one primary per SN */
        assert_int_equal(reps[s], 2); /* 8 replicas over 4 SNs */
    }

    /* defaults: nls = min(SNs, 3), rf = 1 */
    uint32_t d = s_create(st, "defaults", 0, 0);
    assert_int_equal(vl_mrstate_topic_by_id(st, d)->nls, 3);
    assert_int_equal(vl_mrstate_topic_by_id(st, d)->rf, 1);

    /* errors */
    char err[512];
    uint32_t id;
    assert_int_equal(vl_mrstate_topic_create(st, "spread", 1, 1, &id, err, sizeof err), VL_EEXIST);
    assert_int_equal(vl_mrstate_topic_create(st, ".hidden", 1, 1, &id, err, sizeof err), VL_ENAME);
    assert_int_equal(vl_mrstate_topic_create(st, "a/b", 1, 1, &id, err, sizeof err), VL_ENAME);
    assert_int_equal(vl_mrstate_topic_create(st, "big", 1, 5, &id, err, sizeof err), VL_EUNAVAIL);
    assert_non_null(strstr(err, "has 4"));
    assert_null(vl_mrstate_topic_by_name(st, "big"));

    /* a new SN gets the next primaries and replicas */
    uint32_t sn5;
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:19200", &sn5), 0);
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:19200", &id), VL_EEXIST);
    assert_int_equal(id, sn5);
    uint32_t ls_id;
    assert_int_equal(vl_mrstate_ls_add(st, t, &ls_id, err, sizeof err), 0);
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(st, ls_id);
    assert_int_equal(ls->replicas[0].sn_id, sn5);
    assert_int_equal(tp->nls, 5);

    /* SN removal is refused while it hosts replicas */
    assert_int_equal(vl_mrstate_sn_remove(st, sn5), VL_EBUSY);
    assert_int_equal(vl_mrstate_sn_remove(st, 77), VL_ENOSN);
    assert_int_equal(vl_mrstate_topic_delete(st, t), 0);
    assert_int_equal(vl_mrstate_topic_delete(st, t), VL_ENOTOPIC);
    assert_null(vl_mrstate_ls_by_id(st, ls_id));
    assert_int_equal(vl_mrstate_sn_remove(st, sn5), 0);
    assert_int_equal(vl_mrstate_sn_count(st), 4);
    vl_mrstate_destroy(&st);
}

static void test_trim_check(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(1);
    uint32_t t = s_create(st, "trim", 1, 1);
    uint32_t ls = vl_mrstate_topic_by_id(st, t)->ls[0]->id;
    vl_commit_t c;
    s_report_all(st, ls, 4, 40); /* glsn 1..4, offsets 0..40 */
    assert_int_equal(s_round(st, &c), 1);
    vl_commit_item_t r1 = c.items[0];
    vl_commit_free(&c);
    s_report_all(st, ls, 6, 100); /* glsn 5..6, offsets 40..100 */
    assert_int_equal(s_round(st, &c), 1);
    vl_commit_item_t r2 = c.items[0];
    vl_commit_free(&c);

    char err[512];
    bool noop;
    /* past the end */
    assert_int_equal(vl_mrstate_trim_check(st, t, 8, 100, NULL, &noop, err, sizeof err), VL_ERANGE);
    assert_int_equal(vl_mrstate_trim_check(st, 99, 2, 0, NULL, &noop, err, sizeof err),
                     VL_ENOTOPIC);
    /* hwm + 1: must be the end offset */
    assert_int_equal(vl_mrstate_trim_check(st, t, 7, 99, NULL, &noop, err, sizeof err), VL_EINVAL);
    assert_int_equal(vl_mrstate_trim_check(st, t, 7, 100, NULL, &noop, err, sizeof err), 0);
    assert_false(noop);
    /* first of a range: its offset exactly */
    assert_int_equal(vl_mrstate_trim_check(st, t, 5, 41, &r2, &noop, err, sizeof err), VL_EINVAL);
    assert_int_equal(vl_mrstate_trim_check(st, t, 5, 40, &r2, &noop, err, sizeof err), 0);
    /* inside a range: within its bytes */
    assert_int_equal(vl_mrstate_trim_check(st, t, 3, 20, &r1, &noop, err, sizeof err), 0);
    assert_int_equal(vl_mrstate_trim_check(st, t, 3, 41, &r1, &noop, err, sizeof err), VL_EINVAL);
    /* no range for a committed glsn: the store is damaged */
    assert_int_equal(vl_mrstate_trim_check(st, t, 3, 20, &r2, &noop, err, sizeof err), VL_ESTORE);
    vl_mrstate_trim_apply(st, t, 5, 40);
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->trim_glsn, 5);
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->trim_offset, 40);
    /* at or below the trim point: success, nothing to do */
    assert_int_equal(vl_mrstate_trim_check(st, t, 5, 0, NULL, &noop, err, sizeof err), 0);
    assert_true(noop);
    assert_int_equal(vl_mrstate_trim_check(st, t, 2, 0, NULL, &noop, err, sizeof err), 0);
    assert_true(noop);

    vl_meta_t m;
    vl_mrstate_meta(st, 7, 1, &m);
    assert_int_equal(m.cluster_id, 7);
    assert_int_equal(m.sn_id, 1);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.ntopics, 1);
    assert_int_equal(m.topics[0].hwm, 6);
    assert_int_equal(m.topics[0].end_offset, 100);
    assert_int_equal(m.topics[0].trim_glsn, 5);
    assert_int_equal(m.topics[0].ls[0].replicas[0], 1);
    vl_meta_free(&m);
    vl_mrstate_destroy(&st);
}

/*  Seal fixes the committed end and stops commits; unseal waits for every
    replica to report the seal and the sealed end; a replica is replaced
    only while sealed and starts unsynced. */
static void test_seal_unseal_update(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(4);
    uint32_t t = s_create(st, "s", 1, 3);
    vl_mrstate_ls_t *ls = vl_mrstate_topic_by_id(st, t)->ls[0];
    uint32_t id = ls->id;
    uint32_t r0 = ls->replicas[0].sn_id, r1 = ls->replicas[1].sn_id, r2 = ls->replicas[2].sn_id;
    uint32_t spare = 10 - r0 - r1 - r2; /* ids 1..4 */
    char err[512];
    vl_commit_t c;
    s_report_all(st, id, 5, 50);
    assert_int_equal(s_round(st, &c), 1);
    vl_commit_free(&c);

    /* not sealed: no update */
    assert_int_equal(vl_mrstate_ls_update(st, id, r1, spare, "s", err, sizeof err), VL_EBUSY);
    assert_int_equal(ls->epoch, 0);
    assert_int_equal(vl_mrstate_ls_seal(st, id, r2, err, sizeof err), 0); /* varlogadm's */
    assert_int_equal(ls->state, VL_LS_SEALED);
    assert_int_equal(ls->seal_sn, r2);
    assert_int_equal(ls->epoch, 1); /* every seal and unseal bumps it */
    assert_int_equal(vl_mrstate_ls_seal(st, id, r1, err, sizeof err), 0); /* idempotent */
    assert_int_equal(ls->epoch, 1);
    assert_int_equal(ls->seal_sn, r2);
    /* sealed by hand as well: the operator's now, the admin leaves it alone */
    assert_int_equal(vl_mrstate_ls_seal(st, id, 0, err, sizeof err), 0);
    assert_int_equal(ls->seal_sn, 0);
    assert_int_equal(ls->epoch, 1);
    assert_int_equal(vl_mrstate_ls_seal(st, 999, 0, err, sizeof err), VL_ENOLS);

    /* written everywhere after the seal: never committed */
    s_report_all(st, id, 9, 90);
    assert_int_equal(s_round(st, &c), 0);
    vl_commit_free(&c);
    assert_int_equal(ls->committed_llsn_end, 5);

    /* replicas have not reported the seal: unseal refused, naming one */
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    assert_non_null(strstr(err, "varlogctl ls sync s"));
    s_report_full(st, r0, id, 5, 50, 5, VL_LS_SEALED);
    s_report_full(st, r1, id, 5, 50, 5, VL_LS_SEALED);
    s_report_full(st, r2, id, 4, 40, 4, VL_LS_SEALED); /* behind */
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    char want[64];
    snprintf(want, sizeof want, "replica sn=%u lacks", r2);
    assert_non_null(strstr(err, want));

    /* replace the lagging replica: the new one starts unsynced */
    assert_int_equal(vl_mrstate_ls_update(st, id, r2, r0, "s", err, sizeof err), VL_EEXIST);
    assert_int_equal(vl_mrstate_ls_update(st, id, spare, r0, "s", err, sizeof err), VL_ENOSN);
    assert_int_equal(vl_mrstate_ls_update(st, id, r2, 77, "s", err, sizeof err), VL_ENOSN);
    assert_int_equal(vl_mrstate_ls_update(st, id, r2, spare, "s", err, sizeof err), 0);
    assert_null(vl_mrstate_replica(ls, r2));
    vl_mrstate_replica_t *nr = vl_mrstate_replica(ls, spare);
    assert_non_null(nr);
    assert_false(nr->synced);
    assert_int_equal(ls->replicas[2].sn_id, spare);
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    s_report_full(st, spare, id, 5, 50, 3, VL_LS_SEALED); /* commits missing */
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    s_report_full(st, spare, id, 6, 60, 5, VL_LS_SEALED); /* beyond the end */
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    s_report_full(st, spare, id, 5, 50, 5, VL_LS_SEALED);
    assert_int_equal(ls->epoch, 1); /* refused unseals change nothing */
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), 0);
    assert_int_equal(ls->state, VL_LS_RUNNING);
    assert_int_equal(ls->epoch, 2);
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), 0);
    assert_int_equal(ls->epoch, 2);

    /* commits resume from the sealed end */
    s_report_all(st, id, 7, 70);
    assert_int_equal(s_round(st, &c), 1);
    assert_true(c.items[0].llsn_begin == 6);
    assert_true(c.items[0].count == 2);
    assert_true(c.items[0].bytes == 20);
    vl_commit_free(&c);

    /* a second seal forgets the first one's reports */
    assert_int_equal(vl_mrstate_ls_seal(st, id, 0, err, sizeof err), 0);
    assert_int_equal(ls->epoch, 3);
    vl_meta_t m;
    vl_mrstate_meta(st, 1, 0, &m);
    assert_int_equal(m.topics[0].ls[0].epoch, 3); /* META carries it */
    vl_meta_free(&m);
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "s", err, sizeof err), VL_EBUSY);
    vl_mrstate_destroy(&st);
}

/*  The dirty flag: set by what can let a round commit, and only by that,
    so that the server can skip idle ticks. */
static void test_dirty(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(2);
    assert_true(vl_mrstate_dirty(st)); /* a new state is looked at once */
    vl_mrstate_clear_dirty(st);
    uint32_t t = s_create(st, "d", 1, 2);
    vl_mrstate_ls_t *ls = vl_mrstate_topic_by_id(st, t)->ls[0];
    uint32_t id = ls->id, r0 = ls->replicas[0].sn_id, r1 = ls->replicas[1].sn_id;
    assert_false(vl_mrstate_dirty(st));

    /* a replica coming into sync with entries, then one that raises its end */
    s_report_one(st, r0, id, 4, 40);
    assert_true(vl_mrstate_dirty(st));
    vl_mrstate_clear_dirty(st);
    s_report_one(st, r1, id, 4, 40);
    assert_true(vl_mrstate_dirty(st));
    vl_commit_t c;
    assert_int_equal(s_round(st, &c), 1);
    vl_commit_free(&c);
    vl_mrstate_clear_dirty(st);

    /* heartbeats with the same ends, and a report at the committed end
       (nothing new) or below it, change nothing a round would see */
    s_report_one(st, r0, id, 4, 40);
    s_report_full(st, r1, id, 4, 40, 4, VL_LS_RUNNING);
    assert_false(vl_mrstate_dirty(st));
    /* one replica ahead: dirty, though the round finds nothing yet */
    s_report_one(st, r0, id, 6, 60);
    assert_true(vl_mrstate_dirty(st));
    assert_int_equal(s_round(st, &c), 0);
    vl_commit_free(&c);
    vl_mrstate_clear_dirty(st);
    s_report_one(st, r0, id, 6, 60);
    assert_false(vl_mrstate_dirty(st));
    s_report_one(st, r1, id, 6, 60);
    assert_true(vl_mrstate_dirty(st));
    vl_mrstate_clear_dirty(st);

    /* sealed: reports never make it dirty; the unseal does */
    char err[512];
    assert_int_equal(vl_mrstate_ls_seal(st, id, 0, err, sizeof err), 0);
    s_report_full(st, r0, id, 9, 90, 4, VL_LS_SEALED);
    assert_false(vl_mrstate_dirty(st));
    s_report_full(st, r0, id, 4, 40, 4, VL_LS_SEALED);
    s_report_full(st, r1, id, 4, 40, 4, VL_LS_SEALED);
    assert_int_equal(vl_mrstate_ls_unseal(st, id, "d", err, sizeof err), 0);
    assert_true(vl_mrstate_dirty(st));
    vl_mrstate_destroy(&st);
}

/*  ---- cost of a commit round (printed, never asserted) ------------------- */

static int64_t s_cpu_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  One topic of nls log streams with replication factor rf on 3 SNs; every
    round, each SN reports all its replicas 64 entries further and the
    round commits every log stream (the worst case: the MR's work grows with
    the log streams that advanced). Prints the CPU time of this thread per
    round for each step the MR's loop takes: ingesting the 3 reports,
    computing, persisting (building the batch and RocksDB's write; the
    fsync's wait is not CPU) and applying. Sending the round (server.c) is
    not included. For issue 5: whether one core keeps a 500 us tick. */
static void s_round_cost(uint32_t nls, uint32_t rf, int rounds)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX";
    char err[512];
    vl_persist_t *p = s_persist_tmp(dir);
    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t t = s_create(st, "load", nls, rf);
    assert_int_equal(vl_persist_save_meta(p, st, 0, NULL, 0, err, sizeof err), 0);
    vl_mrstate_topic_t *tp = vl_mrstate_topic_by_id(st, t);
    vl_report_t reps[3];
    for (uint32_t sn = 0; sn < 3; sn++) {
        reps[sn].sn_id = sn + 1;
        reps[sn].n = 0;
        reps[sn].items = calloc(nls, sizeof *reps[sn].items);
        assert_non_null(reps[sn].items);
        for (uint32_t k = 0; k < nls; k++)
            if (vl_mrstate_replica(tp->ls[k], sn + 1))
                reps[sn].items[reps[sn].n++].ls_id = tp->ls[k]->id;
    }
    int64_t ns_report = 0, ns_compute = 0, ns_persist = 0, ns_apply = 0;
    int64_t proc0 = s_cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int r = 1; r <= rounds; r++) {
        int64_t t0 = s_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        for (uint32_t sn = 0; sn < 3; sn++) {
            for (uint32_t i = 0; i < reps[sn].n; i++) {
                reps[sn].items[i].llsn_end = (uint64_t)r * 64;
                reps[sn].items[i].bytes_end = (uint64_t)r * 64 * 128;
                reps[sn].items[i].applied_llsn_end = (uint64_t)(r - 1) * 64;
                reps[sn].items[i].state = VL_LS_RUNNING;
            }
            assert_int_equal(vl_mrstate_report(st, &reps[sn]), 0);
        }
        int64_t t1 = s_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        vl_commit_t c;
        uint32_t n = vl_mrstate_commit_compute(st, &c);
        int64_t t2 = s_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        assert_int_equal(n, nls);
        assert_int_equal(vl_persist_commit(p, st, &c, err, sizeof err), 0);
        int64_t t3 = s_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        vl_mrstate_commit_apply(st, &c);
        int64_t t4 = s_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
        vl_commit_free(&c);
        ns_report += t1 - t0;
        ns_compute += t2 - t1;
        ns_persist += t3 - t2;
        ns_apply += t4 - t3;
    }
    int64_t ns_proc = s_cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - proc0;
    assert_int_equal(tp->hwm, (uint64_t)rounds * 64 * nls);
    double d = rounds * 1000.0;
    printf("[ cost     ] commit round, %4u LS rf %u: CPU %7.1f us = reports %6.1f + compute "
           "%6.1f + persist %6.1f + apply %5.1f; with RocksDB's threads %7.1f (us per round, %d "
           "rounds)\n",
           nls, rf, (ns_report + ns_compute + ns_persist + ns_apply) / d, ns_report / d,
           ns_compute / d, ns_persist / d, ns_apply / d, ns_proc / d, rounds);
    for (uint32_t sn = 0; sn < 3; sn++)
        free(reps[sn].items);
    vl_mrstate_destroy(&st);
    vl_persist_destroy(&p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_round_cost(void **unused)
{
    s_round_cost(3, 1, 200);
    s_round_cost(100, 1, 100);
    s_round_cost(1000, 1, 50);
    s_round_cost(1000, 3, 50);
}

/*  Lookups by id (a hash index beside the sorted arrays): every live
    record is found after inserts that grow the index and deletes that
    rebuild it, deleted and never-given ids are not, ids are never reused,
    and records loaded out of id order are found too. */
static void test_lookup_by_id(void **unused)
{
    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t t[40];
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "t%d", i);
        t[i] = s_create(st, name, 50, 1); /* 2,000 log streams */
    }
    assert_int_equal(vl_mrstate_ls_count(st), 2000);
    for (uint32_t id = 1; id <= 2000; id++) {
        vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(st, id);
        assert_non_null(ls);
        assert_int_equal(ls->id, id);
        assert_int_equal(ls->topic_id, t[(id - 1) / 50]);
    }
    /* every other topic goes: their ids stay unknown, the others stay */
    for (int i = 0; i < 40; i += 2)
        assert_int_equal(vl_mrstate_topic_delete(st, t[i]), 0);
    for (uint32_t id = 1; id <= 2000; id++) {
        bool gone = ((id - 1) / 50) % 2 == 0;
        vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(st, id);
        if (gone)
            assert_null(ls);
        else
            assert_true(ls && ls->id == id);
        assert_int_equal(vl_mrstate_topic_by_id(st, t[(id - 1) / 50]) == NULL, gone);
    }
    assert_null(vl_mrstate_ls_by_id(st, 0));
    assert_null(vl_mrstate_ls_by_id(st, 2001));
    assert_null(vl_mrstate_ls_by_id(st, UINT32_MAX));
    assert_null(vl_mrstate_topic_by_id(st, 0));
    assert_null(vl_mrstate_sn_by_id(st, 4));
    /* new ones continue the ids, far from the live ones */
    uint32_t nt = s_create(st, "again", 100, 1);
    assert_int_equal(nt, 41);
    for (uint32_t id = 2001; id <= 2100; id++)
        assert_true(vl_mrstate_ls_by_id(st, id) && vl_mrstate_ls_by_id(st, id)->topic_id == nt);
    assert_int_equal(vl_mrstate_ls_count(st), 1100);
    /* a report names any id: unknown ones touch nothing */
    vl_report_item_t it = {1, 5, 5, 0, VL_LS_RUNNING};
    vl_mrstate_ls_t *ls = (void *)1;
    assert_null(vl_mrstate_report_item(st, 1, &it, &ls));
    assert_null(ls);
    /* an SN removed and one added: the new id is found, the old is not */
    uint32_t sn;
    assert_int_equal(vl_mrstate_sn_add(st, "tcp://127.0.0.1:19200", &sn), 0);
    assert_int_equal(sn, 4);
    assert_int_equal(vl_mrstate_sn_remove(st, sn), 0);
    assert_null(vl_mrstate_sn_by_id(st, 4));
    assert_non_null(vl_mrstate_sn_by_id(st, 3));
    vl_mrstate_destroy(&st);

    /* loading in any order (a store's keys by id, or not) */
    st = s_state_with_sns(1);
    vl_mrstate_topic_t trec = {.id = 7, .name = "loaded", .rf = 1, .trim_glsn = 1};
    assert_int_equal(vl_mrstate_load_topic(st, &trec), 0);
    for (uint32_t k = 0; k < 300; k++) {
        vl_mrstate_ls_t rec = {.id = 1000 - 3 * k, .topic_id = 7, .nrep = 1};
        rec.replicas[0].sn_id = 1;
        assert_int_equal(vl_mrstate_load_ls(st, &rec), 0);
    }
    vl_mrstate_ls_t dup = {.id = 1000, .topic_id = 7, .nrep = 1};
    dup.replicas[0].sn_id = 1;
    assert_int_equal(vl_mrstate_load_ls(st, &dup), VL_EEXIST);
    for (uint32_t id = 1; id <= 1000; id++)
        assert_int_equal(vl_mrstate_ls_by_id(st, id) != NULL, id % 3 == 1 && id >= 103);
    vl_mrstate_topic_t *tt = vl_mrstate_topic_by_id(st, 7);
    assert_int_equal(tt->nls, 300);
    for (uint32_t k = 1; k < tt->nls; k++)
        assert_true(tt->ls[k - 1]->id < tt->ls[k]->id);
    vl_mrstate_destroy(&st);
}

/*  Puts a G record of format 1 (fixed 28-byte items: what stores written
    before varint groups hold) straight into the MR store of data dir dir. */
static void s_put_group_v1(const char *dir, uint32_t topic, uint64_t glsn_begin, uint64_t version,
                           uint64_t offset_begin, const uint64_t (*items)[4], uint32_t n)
{
    char *err = NULL, path[600];
    snprintf(path, sizeof path, "%s/mr.db", dir);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_t *db = rocksdb_open(o, path, &err);
    if (!db)
        fail_msg("open %s: %s", dir, err);
    uint8_t k[13], v[21 + 28 * 8];
    assert_true(n <= 8);
    k[0] = 'G';
    vl_put_be32(k + 1, topic);
    vl_put_be64(k + 5, glsn_begin);
    v[0] = 1;
    vl_put_le64(v + 1, version);
    vl_put_le64(v + 9, offset_begin);
    vl_put_le32(v + 17, n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *it = v + 21 + 28 * i;
        vl_put_le32(it, (uint32_t)items[i][0]);
        vl_put_le64(it + 4, items[i][1]);
        vl_put_le64(it + 12, items[i][2]);
        vl_put_le64(it + 20, items[i][3]);
    }
    rocksdb_writeoptions_t *w = rocksdb_writeoptions_create();
    rocksdb_put(db, w, (const char *)k, 13, (const char *)v, 21 + 28 * n, &err);
    assert_null(err);
    rocksdb_writeoptions_destroy(w);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

/*  A store in a new directory (dir, the template, receives its path) with
    a topic of two log streams whose rounds are two groups of format 1: ls
    1 gets 1..3 and 4, ls 2 gets 1..2. Returns the topic's id. */
static uint32_t s_format1_store(char *dir)
{
    char err[512];
    vl_persist_t *p = s_persist_tmp(dir);
    vl_mrstate_t *st = s_state_with_sns(1);
    uint32_t t = s_create(st, "fmt", 2, 1);
    assert_int_equal(vl_persist_save_meta(p, st, 0, NULL, 0, err, sizeof err), 0);
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st);

    /* two rounds of the old format: ls 1 gets 1..3 and 4, ls 2 gets 1..2 */
    const uint64_t g1[][4] = {{1, 1, 3, 30}, {2, 1, 2, 20}};
    const uint64_t g2[][4] = {{1, 4, 1, 10}};
    s_put_group_v1(dir, t, 1, 1, 0, g1, 2);
    s_put_group_v1(dir, t, 6, 2, 50, g2, 1);
    return t;
}

/*  Commit groups are written with varint items (format 2) and those of
    format 1 are still read: a history that has both replays and is
    searched across them; numbers past 32 and 56 bits come back exact; a
    group whose varints run past its value is refused, not read. */
static void test_persist_group_formats(void **unused)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX";
    char err[512];
    uint32_t t = s_format1_store(dir);
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    vl_mrstate_t *st = vl_mrstate_new();
    if (vl_persist_load(p, st, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st), 2);
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->hwm, 6);
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->end_offset, 60);
    assert_int_equal(vl_mrstate_ls_by_id(st, 1)->committed_llsn_end, 4);
    assert_int_equal(vl_mrstate_ls_by_id(st, 2)->committed_bytes, 20);

    /* a new round (format 2) with numbers that need many varint bytes */
    const uint64_t big = (1ull << 40) + 5, huge = (1ull << 57) + 3;
    s_report_all(st, 1, 4 + big, 40 + huge);
    s_report_all(st, 2, 3, 25);
    vl_commit_t c;
    assert_int_equal(vl_mrstate_commit_compute(st, &c), 2);
    assert_int_equal(vl_persist_commit(p, st, &c, err, sizeof err), 0);
    vl_mrstate_commit_apply(st, &c);
    vl_commit_free(&c);
    vl_persist_destroy(&p);

    p = vl_persist_open(dir, err, sizeof err);
    vl_mrstate_t *st2 = vl_mrstate_new();
    if (vl_persist_load(p, st2, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st2), 3);
    assert_int_equal(vl_mrstate_topic_by_id(st2, t)->hwm, 6 + big + 1);
    assert_int_equal(vl_mrstate_topic_by_id(st2, t)->end_offset, 60 + huge + 5);
    assert_int_equal(vl_mrstate_ls_by_id(st2, 1)->committed_llsn_end, 4 + big);
    assert_int_equal(vl_mrstate_ls_by_id(st2, 1)->committed_bytes, 40 + huge);
    assert_int_equal(vl_mrstate_ls_by_id(st2, 2)->committed_llsn_end, 3);
    vl_persist_range_t rs[8];
    size_t n;
    assert_int_equal(vl_persist_ranges(p, t, 1, 1, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rs[0].version, 1);
    assert_int_equal(rs[0].item.count, 3);
    assert_int_equal(rs[1].item.llsn_begin, 4);
    assert_int_equal(rs[1].item.glsn_begin, 6);
    assert_int_equal(rs[1].item.offset_begin, 50);
    assert_int_equal(rs[2].version, 3);
    assert_int_equal(rs[2].item.llsn_begin, 5);
    assert_int_equal(rs[2].item.count, big);
    assert_int_equal(rs[2].item.bytes, huge);
    assert_int_equal(rs[2].item.glsn_begin, 7);
    assert_int_equal(rs[2].item.offset_begin, 60);
    assert_int_equal(rs[2].item.hwm, 6 + big + 1);
    assert_int_equal(vl_persist_ranges(p, t, 2, 3, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rs[0].item.glsn_begin, 7 + big);
    assert_int_equal(rs[0].item.offset_begin, 60 + huge);
    bool found;
    vl_persist_range_t r;
    assert_int_equal(vl_persist_range_at(p, t, 3, &r, &found, err, sizeof err), 0);
    assert_true(found && r.item.ls_id == 1 && r.item.llsn_begin == 1);
    assert_int_equal(vl_persist_range_at(p, t, 5, &r, &found, err, sizeof err), 0);
    assert_true(found && r.item.ls_id == 2 && r.item.glsn_begin == 4);
    assert_int_equal(vl_persist_range_at(p, t, 7 + big, &r, &found, err, sizeof err), 0);
    assert_true(found && r.item.ls_id == 2 && r.version == 3);
    vl_persist_destroy(&p);

    /* a format 2 group whose last varint runs off its value */
    char *rerr = NULL, path[600];
    snprintf(path, sizeof path, "%s/mr.db", dir);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_t *db = rocksdb_open(o, path, &rerr);
    assert_non_null(db);
    uint8_t k[13], v[25];
    k[0] = 'G';
    vl_put_be32(k + 1, t);
    vl_put_be64(k + 5, 6 + big + 2);
    v[0] = 2;
    vl_put_le64(v + 1, 4);
    vl_put_le64(v + 9, 60 + huge + 5);
    vl_put_le32(v + 17, 1);
    v[21] = 1;    /* ls 1 */
    v[22] = 0x85; /* llsn_begin, cut short */
    rocksdb_writeoptions_t *w = rocksdb_writeoptions_create();
    rocksdb_put(db, w, (const char *)k, 13, (const char *)v, 23, &rerr);
    assert_null(rerr);
    rocksdb_writeoptions_destroy(w);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    p = vl_persist_open(dir, err, sizeof err);
    vl_mrstate_t *st3 = vl_mrstate_new();
    assert_int_equal(vl_persist_load(p, st3, err, sizeof err), VL_ESTORE);

    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st2);
    vl_mrstate_destroy(&st3);
    vl_persist_destroy(&p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/*  Every key and value of the MR store in data dir dir, as text (caller
    frees). The store must be closed. */
static char *s_dump(const char *dir)
{
    char *err = NULL, path[600];
    snprintf(path, sizeof path, "%s/mr.db", dir);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_t *db = rocksdb_open(o, path, &err);
    if (!db)
        fail_msg("open %s: %s", dir, err);
    rocksdb_readoptions_t *r = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, r);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
        while (len + 2 * (kl + vl) + 3 >= cap)
            out = realloc(out, cap *= 2);
        for (size_t i = 0; i < kl; i++)
            len += (size_t)sprintf(out + len, "%02x", k[i]);
        out[len++] = '=';
        for (size_t i = 0; i < vl; i++)
            len += (size_t)sprintf(out + len, "%02x", v[i]);
        out[len++] = '\n';
        out[len] = '\0';
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(r);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    return out;
}

static void s_rm(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/*  test_persist_apply, continued: the store of dir (applied up to index 5:
    the state st of topics t1 and t2) after a reopen; a metadata change
    applied on top; the applied index forgotten. */
static void s_check_applied(const char *dir, const vl_mrstate_t *st, uint32_t t1, uint32_t t2)
{
    char err[512];
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(vl_persist_applied(p), 5);
    vl_mrstate_t *st2 = vl_mrstate_new();
    if (vl_persist_load(p, st2, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st2), 3);
    assert_int_equal(vl_mrstate_topic_count(st2), 2);
    for (uint32_t t = t1; t <= t2; t++) {
        assert_int_equal(vl_mrstate_topic_by_id(st2, t)->hwm, vl_mrstate_topic_by_id(st, t)->hwm);
        assert_int_equal(vl_mrstate_topic_by_id(st2, t)->end_offset,
                         vl_mrstate_topic_by_id(st, t)->end_offset);
    }
    for (uint32_t ls = 1; ls <= 5; ls++)
        assert_int_equal(vl_mrstate_ls_by_id(st2, ls)->committed_bytes,
                         vl_mrstate_ls_by_id(st, ls)->committed_bytes);

    /* a metadata change applied: topic b deleted with its history */
    assert_int_equal(vl_mrstate_topic_delete(st2, t2), 0);
    uint32_t drop[] = {4, 5};
    vl_persist_batch_t *mb = vl_persist_meta_batch(st2, t2, drop, 2);
    size_t len, n;
    const uint8_t *md = vl_persist_batch_data(mb, &len);
    assert_int_equal(vl_persist_apply(p, 6, md, len, err, sizeof err), 0);
    vl_persist_batch_destroy(&mb);
    vl_mrstate_t *st3 = vl_mrstate_new();
    if (vl_persist_load(p, st3, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_topic_count(st3), 1);
    assert_null(vl_mrstate_topic_by_id(st3, t2));
    assert_int_equal(vl_mrstate_topic_by_id(st3, t1)->hwm, vl_mrstate_topic_by_id(st, t1)->hwm);
    vl_persist_range_t rs[4];
    assert_int_equal(vl_persist_ranges(p, t2, 4, 1, rs, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);

    /* a new raft log over this store: the applied index is forgotten */
    assert_int_equal(vl_persist_rebase(p, err, sizeof err), 0);
    assert_int_equal(vl_persist_applied(p), 0);
    vl_persist_destroy(&p);
    p = vl_persist_open(dir, err, sizeof err);
    assert_int_equal(vl_persist_applied(p), 0);
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st2);
    vl_mrstate_destroy(&st3);
}

/*  The replicated form of the store's writes: a batch of several rounds
    applied with its raft index gives the store those rounds (and a reload
    the same state), the rounds decoded from its bytes are the rounds
    computed, an index applied already changes nothing (raft replays), and
    a metadata batch applies like a synced save did. */
static void test_persist_apply(void **unused)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512];
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    assert_true(vl_persist_empty(p));
    assert_int_equal(vl_persist_applied(p), 0);
    vl_mrstate_t *st = s_state_with_sns(2);
    uint32_t t1 = s_create(st, "a", 3, 2), t2 = s_create(st, "b", 2, 1);
    vl_persist_batch_t *mb = vl_persist_meta_batch(st, 0, NULL, 0);
    size_t len;
    const uint8_t *data = vl_persist_batch_data(mb, &len);
    assert_int_equal(vl_persist_apply(p, 3, data, len, err, sizeof err), 0);
    vl_persist_batch_destroy(&mb);
    assert_int_equal(vl_persist_applied(p), 3);
    assert_false(vl_persist_empty(p));

    /* three rounds over both topics, computed on top of each other, in one
       batch */
    vl_commit_t want[3];
    vl_persist_batch_t *b = vl_persist_batch_new();
    for (int r = 0; r < 3; r++) {
        for (uint32_t ls = 1; ls <= 5; ls++)
            if ((ls + (uint32_t)r) % 2 == 0 || r == 1)
                s_report_all(st, ls, (uint64_t)(r + 1) * ls, (uint64_t)(r + 1) * ls * 7);
        assert_true(vl_mrstate_commit_compute(st, &want[r]) > 0);
        vl_persist_commit_batch_add(p, b, st, &want[r]);
        vl_mrstate_commit_apply(st, &want[r]);
    }
    data = vl_persist_batch_data(b, &len);
    vl_commit_t *got;
    size_t n;
    assert_int_equal(vl_persist_batch_rounds(data, len, &got, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(got[r].version, want[r].version);
        assert_int_equal(got[r].n, want[r].n);
        assert_memory_equal(got[r].items, want[r].items, want[r].n * sizeof *want[r].items);
        vl_commit_free(&got[r]);
        vl_commit_free(&want[r]);
    }
    free(got);
    assert_int_equal(vl_persist_apply(p, 5, data, len, err, sizeof err), 0);
    assert_int_equal(vl_persist_applied(p), 5);

    /* replayed indexes change nothing: a metadata batch that would drop
       topic a, at 5 and at 4 */
    vl_mrstate_t *gone = s_state_with_sns(2);
    mb = vl_persist_meta_batch(gone, t1, NULL, 0);
    const uint8_t *md = vl_persist_batch_data(mb, &len);
    assert_int_equal(vl_persist_apply(p, 5, md, len, err, sizeof err), 0);
    assert_int_equal(vl_persist_apply(p, 4, md, len, err, sizeof err), 0);
    vl_persist_batch_destroy(&mb);
    vl_mrstate_destroy(&gone);
    /* bytes that are not a batch: refused, nothing changes */
    assert_int_equal(vl_persist_apply(p, 9, (const uint8_t *)"abc", 3, err, sizeof err), VL_EINVAL);
    assert_non_null(strstr(err, "not a store write"));
    assert_int_equal(vl_persist_batch_rounds((const uint8_t *)"abc", 3, &got, &n, err, sizeof err),
                     VL_EINVAL);
    assert_int_equal(vl_persist_applied(p), 5);
    vl_persist_batch_destroy(&b);
    vl_persist_destroy(&p);
    s_check_applied(dir, st, t1, t2);
    vl_mrstate_destroy(&st);
    s_rm(dir);
}

/*  Dump d (s_dump) without the commit history a snapshot leaves out: of
    each topic, the G records at or before its newest checkpoint's hwm
    and the older K records. Caller frees. */
static char *s_dump_snapshot_view(const char *d)
{
    char *out = calloc(1, strlen(d) + 1);
    for (const char *line = d; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line) + 1;
        bool keep = true;
        /* G and K keys: 47 or 4b, topic (8 hex digits), glsn or hwm (16) */
        if ((strncmp(line, "47", 2) == 0 || strncmp(line, "4b", 2) == 0) && line[26] == '=') {
            char want[16];
            snprintf(want, sizeof want, "\n4b%.8s", line + 2);
            const char *ck = NULL; /* the topic's newest checkpoint line */
            for (const char *f = strstr(d, want); f; f = strstr(f + 1, want))
                ck = f + 1;
            if (ck)
                keep = line[1] == '7' ? strncmp(line + 10, ck + 10, 16) > 0 : line == ck;
        }
        if (keep)
            strncat(out, line, len);
        line += len;
    }
    return out;
}

/*  A snapshot restored into another store (empty, or holding something
    else) gives it exactly the same keys and values but the history before
    the newest checkpoint, with the snapshot's
    index as its applied index; a store at or past that index ignores it. */
static void test_persist_snapshot(void **unused)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX", dir2[] = "/tmp/test_mrstate.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(dir2));
    char err[512];
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    vl_mrstate_t *st = s_state_with_sns(3);
    s_create(st, "snap", 4, 3);
    vl_persist_batch_t *b = vl_persist_meta_batch(st, 0, NULL, 0);
    size_t len;
    const uint8_t *data = vl_persist_batch_data(b, &len);
    assert_int_equal(vl_persist_apply(p, 2, data, len, err, sizeof err), 0);
    vl_persist_batch_destroy(&b);
    for (int r = 1; r <= 70; r++) { /* past a checkpoint */
        s_report_all(st, 1 + (uint32_t)r % 4, (uint64_t)r, (uint64_t)r * 3);
        vl_commit_t c;
        assert_true(vl_mrstate_commit_compute(st, &c) > 0);
        b = vl_persist_commit_batch(p, st, &c);
        data = vl_persist_batch_data(b, &len);
        assert_int_equal(vl_persist_apply(p, 2 + (uint64_t)r, data, len, err, sizeof err), 0);
        vl_persist_batch_destroy(&b);
        vl_mrstate_commit_apply(st, &c);
        vl_commit_free(&c);
    }
    uint8_t *snap;
    size_t snap_len;
    assert_int_equal(vl_persist_snapshot(p, &snap, &snap_len, err, sizeof err), 0);
    vl_persist_destroy(&p);

    /* the other store holds keys the snapshot does not: they go */
    p = vl_persist_open(dir2, err, sizeof err);
    vl_mrstate_t *other = s_state_with_sns(1);
    s_create(other, "other", 1, 1);
    assert_int_equal(vl_persist_save_meta(p, other, 0, NULL, 0, err, sizeof err), 0);
    vl_mrstate_destroy(&other);
    bool done;
    assert_int_equal(vl_persist_restore(p, 72, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    assert_int_equal(vl_persist_applied(p), 72);
    vl_mrstate_t *st2 = vl_mrstate_new();
    if (vl_persist_load(p, st2, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st2), 70);
    assert_int_equal(vl_mrstate_topic_count(st2), 1);
    assert_int_equal(vl_mrstate_topic_at(st2, 0)->hwm, vl_mrstate_topic_at(st, 0)->hwm);
    /* at or past its index: ignored */
    assert_int_equal(vl_persist_restore(p, 72, snap, snap_len, &done, err, sizeof err), 0);
    assert_false(done);
    assert_int_equal(vl_persist_restore(p, 40, snap, snap_len, &done, err, sizeof err), 0);
    assert_false(done);
    assert_int_equal(vl_persist_restore(p, 73, snap, 5, &done, err, sizeof err), VL_EINVAL);
    assert_false(done);
    vl_persist_destroy(&p);

    char *d1 = s_dump(dir), *d2 = s_dump(dir2);
    /* A = 72, the first key */
    assert_int_equal(strncmp(d1, "41=0000000000000048\n", 20), 0);
    char *v1 = s_dump_snapshot_view(d1);
    assert_true(strlen(v1) < strlen(d1)); /* 64 groups left out */
    assert_string_equal(v1, d2);
    free(v1);
    free(d1);
    free(d2);

    /* and into a new store too */
    s_rm(dir2);
    assert_non_null(mkdtemp(strcpy(dir2, "/tmp/test_mrstate.XXXXXX")));
    p = vl_persist_open(dir2, err, sizeof err);
    assert_int_equal(vl_persist_restore(p, 72, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    vl_persist_destroy(&p);
    d1 = s_dump(dir);
    d2 = s_dump(dir2);
    v1 = s_dump_snapshot_view(d1);
    assert_string_equal(v1, d2);
    free(v1);
    free(d1);
    free(d2);

    free(snap);
    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st2);
    s_rm(dir);
    s_rm(dir2);
}

/*  test_persist_snapshot_window: the commands of one replicated history,
    to apply to several stores. */
typedef struct {
    uint8_t *data[260];
    size_t len[260];
    size_t n;
} s_cmds_t;

static void s_cmds_add(s_cmds_t *c, vl_persist_batch_t **b_p)
{
    size_t len;
    const uint8_t *data = vl_persist_batch_data(*b_p, &len);
    assert_true(c->n < 260);
    c->data[c->n] = malloc(len);
    memcpy(c->data[c->n], data, len);
    c->len[c->n++] = len;
    vl_persist_batch_destroy(b_p);
}

/*  Appends `rounds` rounds of topic (every log stream 1..nls gains 2
    entries of 10 bytes each round) to c, applied to p at their indexes
    (p NULL: built on builder, which counts the checkpoints, not applied). */
static void s_cmds_rounds(s_cmds_t *c, vl_persist_t *p, vl_persist_t *builder, vl_mrstate_t *st,
                          uint32_t nls, int rounds)
{
    char err[512];
    for (int r = 0; r < rounds; r++) {
        vl_persist_batch_t *b = s_round_on(builder, st, nls);
        s_cmds_add(c, &b);
        if (p)
            assert_int_equal(vl_persist_apply(p, c->n, c->data[c->n - 1], c->len[c->n - 1], err,
                                              sizeof err),
                             0);
    }
}

static vl_persist_t *s_open_applied(const char *dir, const s_cmds_t *c, size_t upto)
{
    char err[512];
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    for (size_t i = 0; i < upto; i++)
        assert_int_equal(vl_persist_apply(p, i + 1, c->data[i], c->len[i], err, sizeof err), 0);
    return p;
}

/*  Loads p and checks the state is want's (topic t, log streams 1..nls). */
static vl_mrstate_t *s_load_same(vl_persist_t *p, const vl_mrstate_t *want, uint32_t t,
                                 uint32_t nls)
{
    char err[512];
    vl_mrstate_t *st = vl_mrstate_new();
    if (vl_persist_load(p, st, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st), vl_mrstate_version(want));
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->hwm, vl_mrstate_topic_by_id(want, t)->hwm);
    assert_int_equal(vl_mrstate_topic_by_id(st, t)->end_offset,
                     vl_mrstate_topic_by_id(want, t)->end_offset);
    for (uint32_t ls = 1; ls <= nls; ls++) {
        assert_int_equal(vl_mrstate_ls_by_id(st, ls)->committed_llsn_end,
                         vl_mrstate_ls_by_id(want, ls)->committed_llsn_end);
        assert_int_equal(vl_mrstate_ls_by_id(st, ls)->committed_bytes,
                         vl_mrstate_ls_by_id(want, ls)->committed_bytes);
    }
    return st;
}

/*  Whether p holds the group of topic t that begins at glsn. */
static bool s_has_group(vl_persist_t *p, uint32_t t, uint64_t glsn)
{
    char err[512];
    vl_persist_range_t r;
    bool found;
    assert_int_equal(vl_persist_range_at(p, t, glsn, &r, &found, err, sizeof err), 0);
    return found;
}

/*  The keys of dump d (s_dump) that begin with prefix (in hex). */
static int s_count_prefix(const char *d, const char *prefix)
{
    int n = 0;
    for (const char *line = d; *line; line = strchr(line, '\n') + 1)
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    return n;
}

/*  A snapshot of a history (of a few log streams) holds the metadata and
    the history from the oldest checkpoint on (the history a pruned store
    holds), not the groups before it. Restored into a new store it loads
    the same state, reads of the history it holds work, older ones find
    nothing, and commits continue from the right version with the
    checkpoint cadence of the source; restored into a store with older
    history of its own, that history stays; a store with history past
    the snapshot's (a store rebased on a new raft log) loses that.
    test_persist_snapshot_cap: a longer one. */
static void test_persist_snapshot_window(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/test_mrstate.XXXXXX", dir2[] = "/tmp/test_mrstate.XXXXXX";
    char dir3[] = "/tmp/test_mrstate.XXXXXX", dir4[] = "/tmp/test_mrstate.XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(dir2));
    assert_non_null(mkdtemp(dir3));
    assert_non_null(mkdtemp(dir4));
    char err[512];
    vl_persist_t *p = s_open_applied(dir, NULL, 0);
    vl_mrstate_t *st = s_state_with_sns(1);
    const uint32_t nls = 3, per_round = 2 * nls;
    uint32_t t = s_create(st, "long", nls, 1);
    s_cmds_t *c = calloc(1, sizeof *c);
    vl_persist_batch_t *b = vl_persist_meta_batch(st, 0, NULL, 0);
    s_cmds_add(c, &b);
    assert_int_equal(vl_persist_apply(p, 1, c->data[0], c->len[0], err, sizeof err), 0);
    /* 200 groups (checkpoints after groups 64, 128 and 192), with a
       metadata write after group 196: its hwm is newer than the
       checkpoint's */
    s_cmds_rounds(c, p, p, st, nls, 196);
    b = vl_persist_meta_batch(st, 0, NULL, 0);
    s_cmds_add(c, &b);
    assert_int_equal(vl_persist_apply(p, c->n, c->data[c->n - 1], c->len[c->n - 1], err,
                                      sizeof err),
                     0);
    s_cmds_rounds(c, p, p, st, nls, 4);
    size_t at = c->n; /* the snapshot's index */
    uint8_t *snap;
    size_t snap_len;
    assert_int_equal(vl_persist_snapshot(p, &snap, &snap_len, err, sizeof err), 0);
    /* group g (from 1) begins at glsn (g - 1) * per_round + 1 */
#define S_GLSN(g) ((uint64_t)((g)-1) * per_round + 1)

    /* into a new store */
    vl_persist_t *p2 = s_open_applied(dir2, NULL, 0);
    bool done;
    assert_int_equal(vl_persist_restore(p2, at, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    vl_mrstate_t *st2 = s_load_same(p2, st, t, nls);
    assert_int_equal(vl_mrstate_version(st2), 200);
    for (int g = 65; g <= 200; g++)
        assert_true(s_has_group(p2, t, S_GLSN(g)));
    assert_false(s_has_group(p2, t, S_GLSN(64)));
    assert_false(s_has_group(p2, t, S_GLSN(1)));
    vl_persist_range_t rs[256];
    size_t n;
    /* by log stream: from the window on; before it, nothing (not the
       window's first range) */
    assert_int_equal(vl_persist_ranges(p2, t, 2, 2 * 64 + 1, rs, 256, &n, err, sizeof err), 0);
    assert_int_equal(n, 136);
    assert_int_equal(rs[0].item.llsn_begin, 2 * 64 + 1);
    assert_int_equal(rs[0].item.glsn_begin, S_GLSN(65) + 2);
    assert_int_equal(rs[135].item.llsn_begin, 2 * 199 + 1);
    assert_int_equal(vl_persist_ranges(p2, t, 2, 1, rs, 256, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_persist_ranges(p2, t, 2, 2 * 64, rs, 256, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    vl_persist_destroy(&p2);
    char *d2 = s_dump(dir2);
    /* the snapshot held 136 groups and 3 checkpoints of the 200 and 3 */
    assert_int_equal(s_count_prefix(d2, "47"), 136);
    assert_int_equal(s_count_prefix(d2, "4b"), 3);
    free(d2);
    /* and the store loads the same again */
    p2 = s_open_applied(dir2, NULL, 0);
    vl_mrstate_destroy(&st2);
    st2 = s_load_same(p2, st, t, nls);

    /* commits continue from the right version, GLSN and offset, and the
       next checkpoint comes 64 groups after the last (group 256) */
    vl_mrstate_t *st1 = s_load_same(p, st, t, nls);
    s_cmds_t *c2 = calloc(1, sizeof *c2);
    for (int r = 0; r < 56; r++) {
        size_t m = c2->n;
        s_cmds_rounds(c2, NULL, p2, st2, nls, 1);
        s_cmds_rounds(c2, NULL, p, st1, nls, 1);
        assert_int_equal(c2->len[m], c2->len[m + 1]);
        assert_memory_equal(c2->data[m], c2->data[m + 1], c2->len[m]);
        assert_int_equal(vl_persist_apply(p2, at + 1 + (size_t)r, c2->data[m], c2->len[m], err,
                                          sizeof err),
                         0);
    }
    assert_int_equal(vl_mrstate_version(st2), 256);
    assert_int_equal(vl_mrstate_topic_by_id(st2, t)->hwm, 256 * (uint64_t)per_round);
    vl_persist_destroy(&p2);
    d2 = s_dump(dir2);
    assert_int_equal(s_count_prefix(d2, "4b"), 4);
    free(d2);

    /* into a store with the first 100 groups of its own: those up to the
       snapshot's first checkpoint stay, the snapshot's follow them */
    vl_persist_t *p3 = s_open_applied(dir3, c, 101);
    assert_int_equal(vl_persist_restore(p3, at, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    vl_mrstate_t *st3 = s_load_same(p3, st, t, nls);
    for (int g = 1; g <= 200; g++)
        assert_true(s_has_group(p3, t, S_GLSN(g)));
    assert_int_equal(vl_persist_ranges(p3, t, 1, 1, rs, 256, &n, err, sizeof err), 0);
    assert_int_equal(n, 200);
    assert_int_equal(rs[199].item.llsn_begin, 399);
    vl_persist_destroy(&p3);
    char *d3 = s_dump(dir3);
    assert_int_equal(s_count_prefix(d3, "47"), 200);
    assert_int_equal(s_count_prefix(d3, "4b"), 3); /* after groups 64, 128 and 192 */
    free(d3);

    /* into a store with history past the snapshot's (20 more groups,
       then its applied index forgotten): that goes */
    s_cmds_rounds(c, NULL, p, st, nls, 20);
    vl_persist_t *p4 = s_open_applied(dir4, c, c->n);
    assert_true(s_has_group(p4, t, S_GLSN(220)));
    assert_int_equal(vl_persist_rebase(p4, err, sizeof err), 0);
    assert_int_equal(vl_persist_restore(p4, at, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    assert_false(s_has_group(p4, t, S_GLSN(201)));
    assert_false(s_has_group(p4, t, S_GLSN(220)));
    vl_mrstate_t *st4 = s_load_same(p4, st3, t, nls);
    assert_int_equal(vl_mrstate_version(st4), 200);
    vl_persist_destroy(&p4);
#undef S_GLSN

    for (size_t i = 0; i < c->n; i++)
        free(c->data[i]);
    for (size_t i = 0; i < c2->n; i++)
        free(c2->data[i]);
    free(c);
    free(c2);
    free(snap);
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st1);
    vl_mrstate_destroy(&st2);
    vl_mrstate_destroy(&st3);
    vl_mrstate_destroy(&st4);
    s_rm(dir);
    s_rm(dir2);
    s_rm(dir3);
    s_rm(dir4);
}

/*  test_persist_prune: a leader's store and a follower's apply the same
    commands: rounds of one topic (3 log streams of rf 3 on 3 SNs; log
    stream i gains gain[i] entries of 10 bytes a round) and trims,
    written as the MR writes them. */
typedef struct {
    vl_persist_t *p, *f; /* the leader's (which builds the rounds), a follower's */
    char dir[32], fdir[32];
    vl_mrstate_t *st;
    uint32_t t;
    uint64_t index;
    uint64_t gain[4];
    uint64_t hold;    /* ls 1's replica on sn 3 reports this applied end (0: all) */
    uint64_t pending; /* ls 3's replica on sn 3 holds this many entries more */
} s_pr_t;

static s_pr_t *s_pr_new(uint64_t gain)
{
    s_pr_t *x = calloc(1, sizeof *x);
    strcpy(x->dir, "/tmp/test_mrstate.XXXXXX");
    strcpy(x->fdir, "/tmp/test_mrstate.XXXXXX");
    x->p = s_persist_tmp(x->dir);
    x->f = s_persist_tmp(x->fdir);
    x->st = s_state_with_sns(3);
    x->t = s_create(x->st, "prune", 3, 3);
    x->gain[1] = x->gain[2] = x->gain[3] = gain;
    char err[512];
    vl_persist_batch_t *b = vl_persist_meta_batch(x->st, 0, NULL, 0);
    size_t len;
    const uint8_t *data = vl_persist_batch_data(b, &len);
    x->index++;
    assert_int_equal(vl_persist_apply(x->p, x->index, data, len, err, sizeof err), 0);
    assert_int_equal(vl_persist_apply(x->f, x->index, data, len, err, sizeof err), 0);
    vl_persist_batch_destroy(&b);
    return x;
}

static void s_pr_apply(s_pr_t *x, vl_persist_batch_t **b_p)
{
    char err[512];
    size_t len;
    const uint8_t *data = vl_persist_batch_data(*b_p, &len);
    x->index++;
    assert_int_equal(vl_persist_apply(x->p, x->index, data, len, err, sizeof err), 0);
    assert_int_equal(vl_persist_apply(x->f, x->index, data, len, err, sizeof err), 0);
    vl_persist_batch_destroy(b_p);
}

/*  n rounds; every replica reports it applied all committed before (ls
    1's on sn 3: x->hold when set). A follower reads every round of a
    batch, also of one that ends with a prune. */
static void s_pr_rounds(s_pr_t *x, int n)
{
    char err[512];
    for (int r = 0; r < n; r++) {
        uint32_t want = 0;
        for (uint32_t ls = 1; ls <= 3; ls++) {
            const vl_mrstate_ls_t *l = vl_mrstate_ls_by_id(x->st, ls);
            uint64_t end = l->committed_llsn_end + x->gain[ls];
            want += x->gain[ls] > 0;
            for (uint32_t sn = 1; sn <= 3; sn++)
                s_report_full(x->st, sn, ls, end + (ls == 3 && sn == 3 ? x->pending : 0), end * 10,
                              ls == 1 && sn == 3 && x->hold ? x->hold : l->committed_llsn_end,
                              VL_LS_RUNNING);
        }
        vl_commit_t c;
        assert_int_equal(vl_mrstate_commit_compute(x->st, &c), want);
        vl_persist_batch_t *b = vl_persist_commit_batch(x->p, x->st, &c);
        size_t len, nr;
        vl_commit_t *got;
        const uint8_t *data = vl_persist_batch_data(b, &len);
        assert_int_equal(vl_persist_batch_rounds(data, len, &got, &nr, err, sizeof err), 0);
        assert_int_equal(nr, 1);
        assert_int_equal(got[0].n, want);
        assert_memory_equal(got[0].items, c.items, want * sizeof *c.items);
        vl_commit_free(&got[0]);
        free(got);
        vl_mrstate_commit_apply(x->st, &c);
        vl_commit_free(&c);
        s_pr_apply(x, &b);
    }
}

/*  Trims the topic to glsn (the first GLSN of a round, or the end),
    checked as the MR checks it, by a metadata write. */
static void s_pr_trim(s_pr_t *x, uint64_t glsn)
{
    char err[512];
    vl_persist_range_t r;
    bool found = false, noop;
    uint64_t held_from;
    const vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(x->st, x->t);
    uint64_t offset = t->end_offset; /* of the GLSN after the end */
    if (glsn <= t->hwm) {
        assert_int_equal(
            vl_persist_trim_range(x->p, x->t, glsn, &r, &found, &held_from, err, sizeof err), 0);
        assert_true(found);
        assert_int_equal(r.item.glsn_begin, glsn);
        offset = r.item.offset_begin;
    }
    assert_int_equal(vl_mrstate_trim_check(x->st, x->t, glsn, offset, found ? &r.item : NULL, &noop,
                                           err, sizeof err),
                     0);
    vl_mrstate_trim_apply(x->st, x->t, glsn, offset);
    vl_persist_batch_t *b = vl_persist_meta_batch(x->st, 0, NULL, 0);
    s_pr_apply(x, &b);
}

/*  The G and K keys of the follower's store (closed to be read, then
    opened again). */
static void s_pr_keys(s_pr_t *x, int *g_p, int *k_p)
{
    char err[512];
    vl_persist_destroy(&x->f);
    char *d = s_dump(x->fdir);
    *g_p = s_count_prefix(d, "47");
    *k_p = s_count_prefix(d, "4b");
    free(d);
    x->f = vl_persist_open(x->fdir, err, sizeof err);
    assert_non_null(x->f);
}

/*  Both stores load the same state and hold the same keys; then gone. */
static void s_pr_done(s_pr_t *x)
{
    vl_mrstate_t *st1 = s_load_same(x->p, x->st, x->t, 3);
    vl_mrstate_t *st2 = s_load_same(x->f, x->st, x->t, 3);
    vl_persist_destroy(&x->p);
    vl_persist_destroy(&x->f);
    char *d1 = s_dump(x->dir), *d2 = s_dump(x->fdir);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    vl_mrstate_destroy(&st1);
    vl_mrstate_destroy(&st2);
    vl_mrstate_destroy(&x->st);
    s_rm(x->dir);
    s_rm(x->fdir);
    free(x);
}

/*  The leader prunes the history every replica has applied and no trim
    can need (before the trim point), in the replicated batch, so that a
    follower prunes the same; never while the topic is not trimmed, nor
    what a replica has not applied; the history stays bounded over many
    rounds, trims keep working, and the stores load the same state. Log
    streams gain 200 entries a round here: the entries a sync may need
    before the trim point (test_persist_prune_margin) are within one
    checkpoint. */
static void test_persist_prune(void **unused)
{
    (void)unused;
    s_pr_t *x = s_pr_new(200);
    int g, k;
#define S_GLSN(r) ((uint64_t)((r)-1) * 600 + 1) /* the first GLSN of round r */

    /* not trimmed: every group is kept (a trim may need any) */
    s_pr_rounds(x, 64 * 20);
    s_pr_keys(x, &g, &k);
    assert_int_equal(g, 64 * 20);
    assert_int_equal(k, 20);

    /* trimmed past round 1280: at the next checkpoint (round 1344) the
       groups up to the checkpoint before the newest one before the trim
       point go (a sync may need a few entries before the newest), and
       the checkpoints before it */
    s_pr_trim(x, S_GLSN(1281));
    s_pr_rounds(x, 63);
    s_pr_keys(x, &g, &k);
    assert_int_equal(g, 64 * 20 + 63);
    s_pr_rounds(x, 1);
    s_pr_keys(x, &g, &k);
    assert_int_equal(g, 128);
    assert_int_equal(k, 3); /* after rounds 1216, 1280 and 1344 */
    assert_false(s_has_group(x->p, x->t, S_GLSN(1216)));
    assert_true(s_has_group(x->p, x->t, S_GLSN(1217)));

    /* a long run, trimmed every 100 rounds to 10 rounds back: bounded
       (at most S_PRUNE_SPAN + 2 checkpoints of groups, and the newest
       ones not yet checkpointed) */
    int max_g = 0, max_k = 0;
    for (int i = 0; i < 30; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, S_GLSN(1344 + 100 * (i + 1) - 10));
        s_pr_keys(x, &g, &k);
        max_g = g > max_g ? g : max_g;
        max_k = k > max_k ? k : max_k;
    }
    assert_true(max_g <= 19 * 64);
    assert_true(max_k <= 19);
    uint64_t end = (uint64_t)(1344 + 3000);
    assert_true(s_has_group(x->p, x->t, S_GLSN(end - 10)));

    /* a replica that stops applying (ls 1 on sn 3, at round `held`):
       the history it lacks stays however long the others go on, and
       goes once it has caught up */
    uint64_t held = end;
    x->hold = 200 * held; /* ls 1's committed end after round `held` */
    for (int i = 0; i < 40; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, S_GLSN(end + 100 * (i + 1) - 10));
    }
    end += 4000;
    s_pr_keys(x, &g, &k);
    assert_true(g > 4000);
    vl_persist_range_t rs[4];
    size_t n;
    char err[512];
    assert_int_equal(vl_persist_ranges(x->p, x->t, 1, x->hold + 1, rs, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rs[0].item.llsn_begin, x->hold + 1);
    assert_int_equal(rs[0].item.glsn_begin, S_GLSN(held + 1));
    x->hold = 0;
    s_pr_rounds(x, 64);
    s_pr_keys(x, &g, &k);
    assert_true(g <= 19 * 64);
    assert_true(k <= 19);
#undef S_GLSN
    s_pr_done(x);
}

/*  A log stream that a sync may fill needs the commit ranges from up to
    VL_WIRE_MAX_ENTRIES entries before the first one past the trim point
    (the source's first kept batch may begin there): with 2 entries a
    round, 4,096 rounds. A quiet log stream (nothing committed since,
    nothing pending) holds nothing back; one with entries pending does. */
static void test_persist_prune_margin(void **unused)
{
    (void)unused;
    s_pr_t *x = s_pr_new(2);
    int g, k;
#define S_GLSN(r) ((uint64_t)((r)-1) * 6 + 1)
    s_pr_rounds(x, 64 * 100);
    for (int i = 1; i <= 40; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, S_GLSN(64 * 100 + 100 * i - 10));
    }
    uint64_t rounds = 64 * 100 + 4000, trim = S_GLSN(rounds - 10);
    /* ls 2's entries from 8192 before the first past the trim point's
       checkpoint are all here */
    uint64_t ct = (rounds - 10) / 64 * 64; /* the newest checkpoint before it */
    uint64_t from = 2 * ct + 1 - VL_WIRE_MAX_ENTRIES;
    vl_persist_range_t rs[4];
    size_t n;
    char err[512];
    assert_int_equal(vl_persist_ranges(x->p, x->t, 2, from, rs, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rs[0].item.llsn_begin, from - (from - 1) % 2);
    s_pr_keys(x, &g, &k);
    assert_true(g >= 4096 && g <= 4096 + 20 * 64);
    (void)trim;

    /* ls 3 goes quiet (trimmed to the end every 100 rounds): it holds
       nothing back, the others' margin bounds the history */
    x->gain[3] = 0;
    for (int i = 0; i < 80; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, vl_mrstate_topic_by_id(x->st, x->t)->hwm + 1);
    }
    s_pr_keys(x, &g, &k);
    assert_true(g <= 4096 + 20 * 64);
    /* one of its replicas holds entries the others lack (their batch
       may begin anywhere up to 8192 entries before): nothing goes */
    x->pending = 5;
    int before = g;
    for (int i = 0; i < 40; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, vl_mrstate_topic_by_id(x->st, x->t)->hwm + 1);
    }
    s_pr_keys(x, &g, &k);
    assert_int_equal(g, before + 4000);
    /* quiet again: the history goes back to its bound */
    x->pending = 0;
    for (int i = 0; i < 20; i++) {
        s_pr_rounds(x, 100);
        s_pr_trim(x, vl_mrstate_topic_by_id(x->st, x->t)->hwm + 1);
    }
    s_pr_keys(x, &g, &k);
    assert_true(g <= 4096 + 20 * 64);
#undef S_GLSN
    s_pr_done(x);
}

/*  A snapshot of a history longer than a snapshot carries (a topic of
    1,024 log streams: 3 checkpoints' worth of groups) holds the newest
    part only, from a checkpoint on. A replica restored from it loads the
    same state; a read by log stream stops where its history has a gap.
    As leader it serves a trim within the history it holds exactly as
    the source does, and refuses one before it saying from which GLSN
    on it holds the history. */
static void test_persist_snapshot_cap(void **unused)
{
    (void)unused;
    char dir[] = "/tmp/test_mrstate.XXXXXX", dir2[] = "/tmp/test_mrstate.XXXXXX";
    vl_persist_t *p = s_persist_tmp(dir), *p2 = s_persist_tmp(dir2);
    vl_mrstate_t *st = s_state_with_sns(1);
    const uint32_t nls = 1024, per_round = 2 * nls;
    uint32_t t = s_create(st, "restored", nls, 1);
    char err[512];
    uint64_t index = 0;
    uint8_t *snap;
    size_t snap_len;
    /* checkpoints after 64, 128, ..., 384 */
    s_history_snapshot(p, st, nls, 406, &index, &snap, &snap_len);
    bool done;
    assert_int_equal(vl_persist_restore(p2, index, snap, snap_len, &done, err, sizeof err), 0);
    assert_true(done);
    vl_mrstate_t *st2 = s_load_same(p2, st, t, nls);
#define S_GLSN(g) ((uint64_t)((g)-1) * per_round + 1)
    assert_false(s_has_group(p2, t, S_GLSN(256)));
    assert_true(s_has_group(p2, t, S_GLSN(257)));
    vl_persist_range_t rs[8];
    size_t n;
    assert_int_equal(vl_persist_ranges(p2, t, 7, 1, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_persist_ranges(p2, t, 7, 2 * 256 + 1, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 8);
    assert_int_equal(rs[0].item.glsn_begin, S_GLSN(257) + 2 * 6);
    /* in the window (groups 257..406), at a group's first GLSN and
       inside one: the same range as the source's, the same verdicts */
    uint64_t at[] = {S_GLSN(257), S_GLSN(300) + 3, S_GLSN(406)};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        vl_persist_range_t r1, r2;
        bool f1, f2, noop;
        uint64_t h1, h2;
        assert_int_equal(vl_persist_trim_range(p, t, at[i], &r1, &f1, &h1, err, sizeof err), 0);
        assert_int_equal(vl_persist_trim_range(p2, t, at[i], &r2, &f2, &h2, err, sizeof err), 0);
        assert_true(f1 && f2);
        assert_memory_equal(&r1, &r2, sizeof r1);
        assert_int_equal(vl_mrstate_trim_check(st2, t, at[i], r2.item.offset_begin, &r2.item, &noop,
                                               err, sizeof err),
                         0);
        assert_int_equal(vl_mrstate_trim_check(st2, t, at[i], r2.item.offset_begin + 21, &r2.item,
                                               &noop, err, sizeof err),
                         VL_EINVAL);
    }
    /* before it: not here, and where the history held here begins */
    vl_persist_range_t r;
    bool found;
    uint64_t held_from;
    assert_int_equal(
        vl_persist_trim_range(p2, t, S_GLSN(100), &r, &found, &held_from, err, sizeof err), 0);
    assert_false(found);
    assert_int_equal(held_from, S_GLSN(257));
    /* the source holds it */
    assert_int_equal(
        vl_persist_trim_range(p, t, S_GLSN(100), &r, &found, &held_from, err, sizeof err), 0);
    assert_true(found);
    assert_int_equal(held_from, 0);
    /* past the end: nothing, and no history after it either */
    assert_int_equal(
        vl_persist_trim_range(p2, t, S_GLSN(407), &r, &found, &held_from, err, sizeof err), 0);
    assert_false(found);
    assert_int_equal(held_from, 0);
#undef S_GLSN
    vl_persist_destroy(&p2);
    /* bounded: 3 checkpoints and the groups after the oldest of them
       (each checkpoint's span is about 0.5 MB: 2 MB hold 3) */
    char *d2 = s_dump(dir2);
    assert_int_equal(s_count_prefix(d2, "47"), 406 - 256);
    assert_int_equal(s_count_prefix(d2, "4b"), 3);
    free(d2);
    free(snap);
    vl_persist_destroy(&p);
    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st2);
    s_rm(dir);
    s_rm(dir2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_several_topics),
        cmocka_unit_test(test_min_rule_rf3),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_trim_check),
        cmocka_unit_test(test_seal_unseal_update),
        cmocka_unit_test(test_dirty),
        cmocka_unit_test(test_round_cost),
        cmocka_unit_test(test_lookup_by_id),
        cmocka_unit_test(test_persist_group_formats),
        cmocka_unit_test(test_persist_apply),
        cmocka_unit_test(test_persist_snapshot),
        cmocka_unit_test(test_persist_snapshot_window),
        cmocka_unit_test(test_persist_prune),
        cmocka_unit_test(test_persist_prune_margin),
        cmocka_unit_test(test_persist_snapshot_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
