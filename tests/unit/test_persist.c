/*  test_persist.c - the MR's persistence (mr/persist.c, mr/group.c,
    mr/history.c) with its state (mr/state.c): rounds written and the store
    reopened replay to the same state, the next round continues the same
    GLSNs and offsets and ids are never reused, and the history lookups
    (by LLSN, by GLSN) find every range, across the checkpoints of the
    commit groups and after unsynced writes. The helpers it shares with
    test_mrstate are in tests/lib/mrfx.h.
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
#include "state.h"
#include "util.h"
#include "../lib/mrfx.h"

/*  The history test_persist_round_trip leaves: the commit ranges of l2 of
    topic t1 from an LLSN, none of the deleted topic gone's log stream
    gone_ls, and a range found by GLSN. */
static void s_check_round_trip_history(vl_persist_t *p, uint32_t t1, uint32_t l2, uint32_t gone,
                                       uint32_t gone_ls)
{
    char err[512];
    /* history: ranges of l2 from llsn 3 start with the one holding it */
    vl_persist_range_t rs[8];
    size_t n;
    assert_int_equal(vl_persist_ranges(p, t1, l2, 3, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 1); /* l2 committed 1..2 (v1), 3..5 (v2) */
    assert_int_equal(rs[0].item.llsn_begin, 3);
    assert_int_equal(rs[0].item.count, 3);
    assert_int_equal(rs[0].version, 2);
    assert_int_equal(vl_persist_ranges(p, t1, l2, 1, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rs[0].item.glsn_begin, 4);
    assert_int_equal(rs[0].version, 1);
    assert_int_equal(vl_persist_ranges(p, t1, l2, 4, rs, 1, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rs[0].item.llsn_begin, 3);
    assert_int_equal(vl_persist_ranges(p, t1, l2, 6, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(vl_persist_ranges(p, gone, gone_ls, 1, rs, 8, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);

    /* range lookup by glsn, for trim checks */
    bool found;
    vl_persist_range_t r;
    assert_int_equal(vl_persist_range_at(p, t1, 5, &r, &found, err, sizeof err), 0);
    assert_true(found);
    assert_true(r.item.glsn_begin <= 5 && 5 < r.item.glsn_begin + r.item.count);
    assert_int_equal(vl_persist_range_at(p, t1, 13, &r, &found, err, sizeof err), 0);
    assert_false(found);
}

static void test_persist_round_trip(void **unused)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX";
    char err[512];
    vl_persist_t *p = s_persist_tmp(dir);

    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t t1 = s_create(st, "one", 2, 2);
    uint32_t t2 = s_create(st, "two", 1, 3);
    uint32_t gone = s_create(st, "gone", 1, 1);
    assert_int_equal(vl_persist_save_meta(p, st, 0, NULL, 0, err, sizeof err), 0);
    vl_mrstate_topic_t *tp1 = vl_mrstate_topic_by_id(st, t1);
    uint32_t l1 = tp1->ls[0]->id, l2 = tp1->ls[1]->id;
    uint32_t l3 = vl_mrstate_topic_by_id(st, t2)->ls[0]->id;
    tp1->ls[1]->epoch = 0xfedcba98; /* persisted with every L record */
    tp1->ls[1]->seal_sn = 3;        /* so is who sealed it */

    /* three rounds, each persisted before it is applied */
    uint64_t ends[][3] = {{3, 2, 1}, {3, 5, 4}, {7, 5, 9}};
    for (int r = 0; r < 3; r++) {
        s_report_all(st, l1, ends[r][0], ends[r][0] * 10);
        s_report_all(st, l2, ends[r][1], ends[r][1] * 10);
        s_report_all(st, l3, ends[r][2], ends[r][2] * 7);
        vl_commit_t c;
        assert_true(vl_mrstate_commit_compute(st, &c) > 0);
        assert_int_equal(vl_persist_commit(p, st, &c, err, sizeof err), 0);
        vl_mrstate_commit_apply(st, &c);
        vl_commit_free(&c);
    }
    /* a deleted topic leaves nothing behind */
    uint32_t gone_ls = vl_mrstate_topic_by_id(st, gone)->ls[0]->id;
    assert_int_equal(vl_mrstate_topic_delete(st, gone), 0);
    vl_mrstate_trim_apply(st, t1, 4, 30);
    assert_int_equal(vl_persist_save_meta(p, st, gone, &gone_ls, 1, err, sizeof err), 0);
    vl_persist_destroy(&p);

    p = vl_persist_open(dir, err, sizeof err);
    assert_non_null(p);
    vl_mrstate_t *st2 = vl_mrstate_new();
    assert_int_equal(vl_persist_load(p, st2, err, sizeof err), 0);
    assert_int_equal(vl_mrstate_version(st2), vl_mrstate_version(st));
    assert_int_equal(vl_mrstate_version(st2), 3);
    assert_int_equal(vl_mrstate_sn_count(st2), 3);
    assert_int_equal(vl_mrstate_topic_count(st2), 2);
    assert_null(vl_mrstate_topic_by_name(st2, "gone"));
    vl_mrstate_topic_t *a = vl_mrstate_topic_by_id(st, t1), *b = vl_mrstate_topic_by_id(st2, t1);
    assert_string_equal(b->name, "one");
    assert_int_equal(b->hwm, a->hwm);
    assert_int_equal(b->hwm, 12);
    assert_int_equal(b->end_offset, a->end_offset);
    assert_int_equal(b->trim_glsn, 4);
    assert_int_equal(b->trim_offset, 30);
    assert_int_equal(b->nls, 2);
    for (uint32_t i = 0; i < b->nls; i++) {
        assert_int_equal(b->ls[i]->id, a->ls[i]->id);
        assert_int_equal(b->ls[i]->committed_llsn_end, a->ls[i]->committed_llsn_end);
        assert_int_equal(b->ls[i]->committed_bytes, a->ls[i]->committed_bytes);
        assert_int_equal(b->ls[i]->epoch, a->ls[i]->epoch);
        assert_int_equal(b->ls[i]->seal_sn, a->ls[i]->seal_sn);
        assert_int_equal(b->ls[i]->nrep, 2);
        assert_memory_equal(&b->ls[i]->replicas[1].sn_id, &a->ls[i]->replicas[1].sn_id, 4);
    }

    /* the next round continues the same GLSNs and offsets */
    s_report_all(st2, l2, 8, 80);
    vl_commit_t c;
    assert_int_equal(vl_mrstate_commit_compute(st2, &c), 1);
    assert_int_equal(c.version, 4);
    assert_int_equal(c.items[0].llsn_begin, 6);
    assert_int_equal(c.items[0].glsn_begin, 13);
    assert_int_equal(c.items[0].offset_begin, 120);
    assert_int_equal(c.items[0].bytes, 30);
    vl_commit_free(&c);

    /* new ids never reuse old ones */
    char e[512];
    uint32_t nt;
    assert_int_equal(vl_mrstate_topic_create(st2, "three", 1, 1, &nt, e, sizeof e), 0);
    assert_true(nt > gone);
    assert_true(vl_mrstate_topic_by_id(st2, nt)->ls[0]->id > gone_ls);

    s_check_round_trip_history(p, t1, l2, gone, gone_ls);

    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st2);
    vl_persist_destroy(&p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/*  The history test_persist_groups_and_checkpoints leaves in topic t: the
    ranges of its slow, fast and mid log streams found by LLSN and by GLSN,
    and none past hwm. */
static void s_check_checkpoint_history(vl_persist_t *p, uint32_t t, uint32_t fast, uint32_t mid,
                                       uint32_t slow, uint64_t hwm)
{
    char err[512];
    /* the slow log stream: ranges 1..5 (round 150) and 6..10 (round 300),
       found from any llsn in them, in order */
    vl_persist_range_t rs[64];
    size_t n;
    assert_int_equal(vl_persist_ranges(p, t, slow, 1, rs, 64, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rs[0].item.llsn_begin, 1);
    assert_int_equal(rs[0].item.count, 5);
    assert_int_equal(rs[0].version, 150);
    assert_int_equal(rs[1].item.llsn_begin, 6);
    assert_int_equal(rs[1].version, 300);
    assert_int_equal(vl_persist_ranges(p, t, slow, 7, rs, 64, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rs[0].item.llsn_begin, 6);
    assert_int_equal(vl_persist_ranges(p, t, slow, 11, rs, 64, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    /* every range found by GLSN is the one found by LLSN */
    bool found;
    vl_persist_range_t r;
    assert_int_equal(
        vl_persist_range_at(p, t, rs[0].item.glsn_begin + 2, &r, &found, err, sizeof err), 0);
    assert_true(found);
    assert_int_equal(vl_persist_ranges(p, t, slow, 6, rs, 1, &n, err, sizeof err), 0);
    assert_int_equal(r.item.ls_id, slow);
    assert_int_equal(r.item.glsn_begin, rs[0].item.glsn_begin);
    assert_int_equal(r.item.offset_begin, rs[0].item.offset_begin);
    /* the fast one, from the middle of its history: dense and in order */
    assert_int_equal(vl_persist_ranges(p, t, fast, 301, rs, 64, &n, err, sizeof err), 0);
    assert_int_equal(n, 64);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rs[i].item.llsn_begin, 301 + 2 * i);
        assert_int_equal(rs[i].item.count, 2);
        assert_int_equal(rs[i].version, 151 + i);
        assert_int_equal(
            vl_persist_range_at(p, t, rs[i].item.glsn_begin + 1, &r, &found, err, sizeof err), 0);
        assert_true(found);
        assert_int_equal(r.item.ls_id, fast);
        assert_int_equal(r.item.llsn_begin, rs[i].item.llsn_begin);
        assert_int_equal(r.item.offset_begin, rs[i].item.offset_begin);
    }
    assert_int_equal(vl_persist_ranges(p, t, mid, 1, rs, 64, &n, err, sizeof err), 0);
    assert_int_equal(n, 64);
    assert_int_equal(rs[63].item.llsn_begin, 64);
    assert_int_equal(vl_persist_range_at(p, t, hwm + 1, &r, &found, err, sizeof err), 0);
    assert_false(found);
}

/*  Rounds are stored as one group per topic plus a checkpoint every 64
    groups; a reopened store replays them to the same committed ends, and
    the history lookups find a log stream's ranges whether it advances in
    every round or rarely (across checkpoints). A round built but never
    written (the MR died before its synced write) is not there after a
    reopen; an unsynced write followed by a synced one is. */
static void test_persist_groups_and_checkpoints(void **unused)
{
    char dir[] = "/tmp/test_mrstate.XXXXXX";
    char err[512];
    vl_persist_t *p = s_persist_tmp(dir);
    vl_mrstate_t *st = s_state_with_sns(3);
    uint32_t t = s_create(st, "hist", 3, 1);
    assert_int_equal(vl_persist_save_meta(p, st, 0, NULL, 0, err, sizeof err), 0);
    vl_mrstate_topic_t *tp = vl_mrstate_topic_by_id(st, t);
    uint32_t fast = tp->ls[0]->id, mid = tp->ls[1]->id, slow = tp->ls[2]->id;
    const int rounds = 400;
    for (int r = 1; r <= rounds; r++) {
        s_report_all(st, fast, (uint64_t)r * 2, (uint64_t)r * 20);
        if (r % 3 == 0)
            s_report_all(st, mid, (uint64_t)r / 3, (uint64_t)r);
        if (r % 150 == 0)
            s_report_all(st, slow, (uint64_t)r / 150 * 5, (uint64_t)r / 150 * 50);
        vl_commit_t c;
        assert_true(vl_mrstate_commit_compute(st, &c) > 0);
        vl_persist_batch_t *b = vl_persist_commit_batch(p, st, &c);
        /* every other round unsynced: made durable by the next synced one */
        assert_int_equal(vl_persist_write(p, &b, r % 2 == 0, err, sizeof err), 0);
        assert_null(b);
        vl_mrstate_commit_apply(st, &c);
        vl_commit_free(&c);
    }
    /* one more round, built and dropped: the MR died before writing it */
    s_report_all(st, fast, rounds * 2 + 7, rounds * 20 + 70);
    vl_commit_t lost;
    assert_int_equal(vl_mrstate_commit_compute(st, &lost), 1);
    vl_persist_batch_t *b = vl_persist_commit_batch(p, st, &lost);
    vl_persist_batch_destroy(&b);
    vl_commit_free(&lost);
    vl_persist_destroy(&p);

    p = vl_persist_open(dir, err, sizeof err);
    assert_non_null(p);
    vl_mrstate_t *st2 = vl_mrstate_new();
    if (vl_persist_load(p, st2, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st2), rounds);
    vl_mrstate_topic_t *a = vl_mrstate_topic_by_id(st, t), *b2 = vl_mrstate_topic_by_id(st2, t);
    assert_int_equal(b2->hwm, a->hwm);
    assert_int_equal(b2->end_offset, a->end_offset);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(b2->ls[i]->committed_llsn_end, a->ls[i]->committed_llsn_end);
        assert_int_equal(b2->ls[i]->committed_bytes, a->ls[i]->committed_bytes);
    }
    assert_int_equal(b2->ls[0]->committed_llsn_end, rounds * 2);
    assert_int_equal(b2->ls[2]->committed_llsn_end, 10);

    s_check_checkpoint_history(p, t, fast, mid, slow, a->hwm);

    /* the reopened store goes on: more rounds, another reopen */
    for (int i = 1; i <= 70; i++) {
        s_report_all(st2, fast, rounds * 2 + i, rounds * 20 + i * 10);
        vl_commit_t c;
        assert_int_equal(vl_mrstate_commit_compute(st2, &c), 1);
        assert_int_equal(vl_persist_commit(p, st2, &c, err, sizeof err), 0);
        vl_mrstate_commit_apply(st2, &c);
        vl_commit_free(&c);
    }
    vl_persist_destroy(&p);
    p = vl_persist_open(dir, err, sizeof err);
    vl_mrstate_t *st3 = vl_mrstate_new();
    if (vl_persist_load(p, st3, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(vl_mrstate_version(st3), rounds + 70);
    assert_int_equal(vl_mrstate_topic_by_id(st3, t)->hwm, vl_mrstate_topic_by_id(st2, t)->hwm);
    assert_int_equal(vl_mrstate_ls_by_id(st3, fast)->committed_bytes,
                     vl_mrstate_ls_by_id(st2, fast)->committed_bytes);

    vl_mrstate_destroy(&st);
    vl_mrstate_destroy(&st2);
    vl_mrstate_destroy(&st3);
    vl_persist_destroy(&p);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_persist_round_trip),
        cmocka_unit_test(test_persist_groups_and_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
