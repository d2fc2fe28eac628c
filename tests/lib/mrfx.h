/*  mrfx.h - what the MR's state and persistence tests share (test_mrstate,
    test_persist): a state with storage nodes, topic creation, the reports
    of every replica, and a persistence store in a new temp directory.

    static inline, so that every test keeps calling them by the names it
    had (s_*) and compiles only what it uses. They assert with cmocka:
    include cmocka.h (and state.h, persist.h) first.
*/
#ifndef VL_TESTS_MRFX_H
#define VL_TESTS_MRFX_H

#include <stdio.h>
#include <stdlib.h>
#include "persist.h"
#include "state.h"

/*  A new state with nsn storage nodes (ids 1..nsn). Caller destroys. */
static inline vl_mrstate_t *s_state_with_sns(int nsn)
{
    vl_mrstate_t *st = vl_mrstate_new();
    for (int i = 0; i < nsn; i++) {
        char addr[64];
        uint32_t id;
        snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", 19100 + i);
        assert_int_equal(vl_mrstate_sn_add(st, addr, &id), 0);
        assert_int_equal(id, (uint32_t)i + 1);
    }
    return st;
}

/*  Creates topic name (nls log streams, replication factor rf) and returns
    its id; fails the test when it cannot. */
static inline uint32_t s_create(vl_mrstate_t *st, const char *name, uint32_t nls, uint32_t rf)
{
    char err[512];
    uint32_t id = 0;
    int rc = vl_mrstate_topic_create(st, name, nls, rf, &id, err, sizeof err);
    if (rc != 0)
        fail_msg("create %s: %s", name, err);
    return id;
}

/*  Every replica of ls reports the same ends. */
static inline void s_report_all(vl_mrstate_t *st, uint32_t ls_id, uint64_t llsn_end,
                                uint64_t bytes_end)
{
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(st, ls_id);
    assert_non_null(ls);
    for (uint32_t k = 0; k < ls->nrep; k++) {
        vl_report_item_t it = {ls_id, llsn_end, bytes_end, 0, VL_LS_RUNNING};
        vl_report_t rep = {ls->replicas[k].sn_id, 1, &it};
        assert_int_equal(vl_mrstate_report(st, &rep), 0);
    }
}

/*  Opens a persistence store in a new directory made from the template dir
    ("/tmp/test_mrstate.XXXXXX", which receives its path); fails the test
    when it cannot. */
static inline vl_persist_t *s_persist_tmp(char *dir)
{
    assert_non_null(mkdtemp(dir));
    char err[512];
    vl_persist_t *p = vl_persist_open(dir, err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    return p;
}

/*  One round of st in which every log stream 1..nls gains 2 entries of
    10 bytes, applied to st; its write, built on p (which counts the
    checkpoints), is returned (caller destroys). */
static inline vl_persist_batch_t *s_round_on(vl_persist_t *p, vl_mrstate_t *st, uint32_t nls)
{
    for (uint32_t ls = 1; ls <= nls; ls++) {
        const vl_mrstate_ls_t *l = vl_mrstate_ls_by_id(st, ls);
        s_report_all(st, ls, l->committed_llsn_end + 2, l->committed_bytes + 20);
    }
    vl_commit_t cm;
    assert_int_equal(vl_mrstate_commit_compute(st, &cm), nls);
    vl_persist_batch_t *b = vl_persist_commit_batch(p, st, &cm);
    vl_mrstate_commit_apply(st, &cm);
    vl_commit_free(&cm);
    return b;
}

/*  Applies b's bytes to p at raft index *index_p + 1 (which it becomes)
    and destroys b. */
static inline void s_apply_next(vl_persist_t *p, vl_persist_batch_t **b_p, uint64_t *index_p)
{
    char err[512];
    size_t len;
    const uint8_t *data = vl_persist_batch_data(*b_p, &len);
    if (vl_persist_apply(p, ++*index_p, data, len, err, sizeof err) != 0)
        fail_msg("%s", err);
    vl_persist_batch_destroy(b_p);
}

/*  The metadata of st (its log streams 1..nls), then n rounds
    (s_round_on), applied to p from raft index *index_p + 1 on; then p's
    snapshot in *snap_p (caller frees) and its length in *len_p. */
static inline void s_history_snapshot(vl_persist_t *p, vl_mrstate_t *st, uint32_t nls, int n,
                                      uint64_t *index_p, uint8_t **snap_p, size_t *len_p)
{
    char err[512];
    vl_persist_batch_t *b = vl_persist_meta_batch(st, 0, NULL, 0);
    s_apply_next(p, &b, index_p);
    for (int r = 0; r < n; r++) {
        b = s_round_on(p, st, nls);
        s_apply_next(p, &b, index_p);
    }
    if (vl_persist_snapshot(p, snap_p, len_p, err, sizeof err) != 0)
        fail_msg("%s", err);
}

#endif
