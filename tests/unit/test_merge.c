/*  test_merge.c - unit tests of the subscriber's merge by GLSN (vl_merge_*
    in lib/merge.c) and the appender's in-order completion queue
    (vl_ordq_* in lib/ordq.c), with in-memory inputs only.

    The merge is where a reader's guarantee lives: every GLSN of the range
    exactly once, in order, or a protocol error; never a silent gap or a
    repeat. So besides the happy paths the tests feed it what a broken or
    malicious storage node could send: regressions, duplicates across
    streams, entries past the end, streams that end without the data.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "merge.h"
#include "ordq.h"
#include "wire.h"

/* ---- helpers ------------------------------------------------------------- */

/*  An owner that counts its releases. */
typedef struct {
    int released;
} s_owner_t;

static void s_release(void *arg, void *owner)
{
    int *total = arg;
    (*total)++;
    ((s_owner_t *)owner)->released++;
}

/*  Pushes GLSNs glsns[0..n) to src with data "g<glsn>" owned by owner. */
static int s_push(vl_merge_t *m, size_t src, const uint64_t *glsns, size_t n, s_owner_t *owner)
{
    static char text[64][16];
    static size_t next_text;
    vl_merge_item_t items[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        char *t = text[next_text++ % 64];
        snprintf(t, 16, "g%llu", (unsigned long long)glsns[i]);
        items[i] = (vl_merge_item_t){
            .glsn = glsns[i], .llsn = i + 1, .offset = glsns[i] * 10, .data = t, .size = strlen(t)};
    }
    return vl_merge_push(m, src, items, n, owner);
}

/*  Pops one item and checks it is ready with the given GLSN (and data). */
static void s_expect(vl_merge_t *m, uint64_t glsn, size_t src)
{
    vl_merge_item_t it;
    size_t from = 99;
    bool ready = false;
    assert_int_equal(vl_merge_pop(m, &it, &from, &ready), 0);
    assert_true(ready);
    assert_int_equal(it.glsn, glsn);
    assert_int_equal(from, src);
    assert_int_equal(it.offset, glsn * 10);
    char want[16];
    snprintf(want, sizeof want, "g%llu", (unsigned long long)glsn);
    assert_int_equal(it.size, strlen(want));
    assert_memory_equal(it.data, want, it.size);
}

static void s_expect_wait(vl_merge_t *m)
{
    vl_merge_item_t it;
    size_t from;
    bool ready = true;
    assert_int_equal(vl_merge_pop(m, &it, &from, &ready), 0);
    assert_false(ready);
}

static int s_pop_rc(vl_merge_t *m)
{
    vl_merge_item_t it;
    size_t from;
    bool ready;
    return vl_merge_pop(m, &it, &from, &ready);
}

/* ---- merge --------------------------------------------------------------- */

static void test_interleaved(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(1, 9, s_release, &total);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    s_owner_t oa = {0}, ob1 = {0}, ob2 = {0};
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 3, 4, 7}, 4, &oa), 0);
    assert_int_equal(s_push(m, b, (uint64_t[]){2, 5}, 2, &ob1), 0);
    assert_int_equal(s_push(m, b, (uint64_t[]){6, 8}, 2, &ob2), 0);
    s_expect(m, 1, a);
    s_expect(m, 2, b);
    s_expect(m, 3, a);
    s_expect(m, 4, a);
    s_expect(m, 5, b);
    /* b's first message is done, but its last item stays valid until the
       next pop */
    assert_int_equal(ob1.released, 0);
    s_expect(m, 6, b);
    assert_int_equal(ob1.released, 1);
    s_expect(m, 7, a);
    s_expect(m, 8, b);
    assert_int_equal(oa.released, 1);
    assert_int_equal(ob2.released, 0);
    assert_int_equal(s_pop_rc(m), VL_EEOF);
    assert_int_equal(ob2.released, 1);
    assert_int_equal(s_pop_rc(m), VL_EEOF); /* stays at the end */
    vl_merge_destroy(&m);
    assert_null(m);
    assert_int_equal(total, 3);
}

static void test_one_stream_empty(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(1, 4, s_release, &total);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    (void)b; /* a log stream with nothing in the range: never pushes */
    s_owner_t o = {0};
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 2, 3}, 3, &o), 0);
    s_expect(m, 1, a);
    s_expect(m, 2, a);
    s_expect(m, 3, a);
    /* the client alone decides the end: b never said anything */
    assert_int_equal(s_pop_rc(m), VL_EEOF);
    vl_merge_destroy(&m);
    assert_int_equal(total, 1);
}

static void test_bounded_end(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(5, 7, s_release, &total);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    s_owner_t o1 = {0}, o2 = {0}, o3 = {0};
    s_expect_wait(m);
    assert_int_equal(s_push(m, b, (uint64_t[]){6}, 1, &o1), 0);
    s_expect_wait(m); /* 6 is there, 5 is not yet */
    assert_int_equal(s_push(m, a, (uint64_t[]){5}, 1, &o2), 0);
    s_expect(m, 5, a);
    s_expect(m, 6, b);
    /* past the end of the range: the SN broke the SUBSCRIBE contract */
    assert_int_equal(s_push(m, a, (uint64_t[]){7}, 1, &o3), VL_EPROTO);
    assert_int_equal(o3.released, 1); /* taken even on failure */
    assert_non_null(strstr(vl_merge_errmsg(m), "past the end"));
    assert_int_equal(s_pop_rc(m), VL_EEOF);
    vl_merge_destroy(&m);
    assert_int_equal(total, 3);
}

static void test_empty_range(void **state)
{
    vl_merge_t *m = vl_merge_new(10, 10, NULL, NULL);
    assert_int_equal(s_pop_rc(m), VL_EEOF);
    vl_merge_destroy(&m);
}

static void test_out_of_order_arrival(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(1, VL_GLSN_MAX, s_release, &total);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m), c = vl_merge_add_source(m);
    s_owner_t o[4] = {{0}};
    /* the stream holding the later GLSNs answers first */
    assert_int_equal(s_push(m, c, (uint64_t[]){4, 6}, 2, &o[0]), 0);
    s_expect_wait(m);
    assert_int_equal(s_push(m, b, (uint64_t[]){2, 3}, 2, &o[1]), 0);
    s_expect_wait(m);
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 5}, 2, &o[2]), 0);
    s_expect(m, 1, a);
    s_expect(m, 2, b);
    s_expect(m, 3, b);
    s_expect(m, 4, c);
    s_expect(m, 5, a);
    s_expect(m, 6, c);
    /* a following merge never ends; it waits */
    s_expect_wait(m);
    assert_int_equal(vl_merge_next(m), 7);
    assert_int_equal(s_push(m, b, (uint64_t[]){7}, 1, &o[3]), 0);
    s_expect(m, 7, b);
    s_expect_wait(m);
    vl_merge_destroy(&m);
    assert_int_equal(total, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(o[i].released, 1);
}

static void test_regression_in_stream(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(1, 100, s_release, &total);
    size_t a = vl_merge_add_source(m);
    s_owner_t o1 = {0}, o2 = {0}, o3 = {0}, o4 = {0};
    assert_int_equal(s_push(m, a, (uint64_t[]){2, 3}, 2, &o1), 0);
    /* repeated within one message */
    assert_int_equal(s_push(m, a, (uint64_t[]){4, 4}, 2, &o2), VL_EPROTO);
    assert_non_null(strstr(vl_merge_errmsg(m), "does not grow"));
    /* going back across messages */
    assert_int_equal(s_push(m, a, (uint64_t[]){3}, 1, &o3), VL_EPROTO);
    assert_int_equal(o2.released, 1);
    assert_int_equal(o3.released, 1);
    /* a failed push queued nothing: 4 is still welcome */
    assert_int_equal(s_push(m, a, (uint64_t[]){4}, 1, &o4), 0);
    assert_int_equal(vl_merge_queued(m, a), 3);
    vl_merge_destroy(&m);
    assert_int_equal(total, 4);
}

static void test_duplicate_across_streams(void **state)
{
    vl_merge_t *m = vl_merge_new(1, 100, NULL, NULL);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 2}, 2, NULL), 0);
    assert_int_equal(s_push(m, b, (uint64_t[]){2, 3}, 2, NULL), 0);
    s_expect(m, 1, a);
    vl_merge_item_t it;
    size_t from;
    bool ready;
    assert_int_equal(vl_merge_pop(m, &it, &from, &ready), 0);
    assert_int_equal(it.glsn, 2);
    /* the other 2 is now below the next GLSN: two streams claimed it */
    assert_int_equal(s_pop_rc(m), VL_EPROTO);
    assert_non_null(strstr(vl_merge_errmsg(m), "two log streams"));
    vl_merge_destroy(&m);
}

static void test_already_delivered(void **state)
{
    vl_merge_t *m = vl_merge_new(1, 100, NULL, NULL);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 2}, 2, NULL), 0);
    s_expect(m, 1, a);
    s_expect(m, 2, a);
    assert_int_equal(s_push(m, b, (uint64_t[]){2}, 1, NULL), VL_EPROTO);
    assert_non_null(strstr(vl_merge_errmsg(m), "already delivered"));
    vl_merge_destroy(&m);
}

static void test_all_ended_without_glsn(void **state)
{
    vl_merge_t *m = vl_merge_new(1, 10, NULL, NULL);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    assert_int_equal(s_push(m, a, (uint64_t[]){1, 3}, 2, NULL), 0);
    vl_merge_end_source(m, a);
    s_expect(m, 1, a);
    s_expect_wait(m); /* b may still bring 2 */
    vl_merge_end_source(m, b);
    assert_int_equal(s_pop_rc(m), VL_EPROTO);
    assert_non_null(strstr(vl_merge_errmsg(m), "GLSN 2"));
    vl_merge_destroy(&m);
}

static void test_empty_message_and_resume(void **state)
{
    int total = 0;
    vl_merge_t *m = vl_merge_new(10, 100, s_release, &total);
    size_t a = vl_merge_add_source(m), b = vl_merge_add_source(m);
    s_owner_t o0 = {0}, o1 = {0};
    /* a message without entries is released at once (credit goes back) */
    assert_int_equal(s_push(m, a, NULL, 0, &o0), 0);
    assert_int_equal(o0.released, 1);
    assert_int_equal(vl_merge_resume(m, a), 10);
    assert_int_equal(s_push(m, a, (uint64_t[]){10, 12}, 2, &o1), 0);
    s_expect(m, 10, a);
    /* a resubscription of a continues after what it pushed, b's after what
       was delivered */
    assert_int_equal(vl_merge_resume(m, a), 13);
    assert_int_equal(vl_merge_resume(m, b), 11);
    assert_int_equal(vl_merge_queued(m, a), 1);
    assert_int_equal(vl_merge_queued(m, b), 0);
    vl_merge_destroy(&m);
    assert_int_equal(total, 2);
}

static void test_many_streams_random(void **state)
{
    /* 1..N dealt to 5 streams at random, pushed in random-sized messages in
       random stream order: the merge delivers 1..N in order */
    enum { N = 5000, S = 5 };
    static uint64_t per[S][N];
    size_t n[S] = {0}, pos[S] = {0};
    srand(42);
    for (uint64_t g = 1; g <= N; g++) {
        size_t s = (size_t)rand() % S;
        per[s][n[s]++] = g;
    }
    vl_merge_t *m = vl_merge_new(1, N + 1, NULL, NULL);
    for (size_t s = 0; s < S; s++)
        vl_merge_add_source(m);
    uint64_t want = 1;
    int rounds = 0;
    while (want <= N) {
        assert_true(++rounds < 1000000);
        size_t s = (size_t)rand() % S;
        size_t k = (size_t)rand() % 8;
        if (k > n[s] - pos[s])
            k = n[s] - pos[s];
        if (k > 0) {
            assert_int_equal(s_push(m, s, &per[s][pos[s]], k, NULL), 0);
            pos[s] += k;
        }
        for (;;) {
            vl_merge_item_t it;
            size_t from;
            bool ready;
            assert_int_equal(vl_merge_pop(m, &it, &from, &ready), 0);
            if (!ready)
                break;
            assert_int_equal(it.glsn, want);
            want++;
            if (want > N)
                break;
        }
    }
    assert_int_equal(s_pop_rc(m), VL_EEOF);
    vl_merge_destroy(&m);
}

/*  Pushes entries glsns[0..n) to src as one message would carry them:
    their bytes back to back in buf (entry g is "<g>;" and its offset
    offsets[g]), offsets following each other. */
static void s_push_packed(vl_merge_t *m, size_t src, const uint64_t *glsns, size_t n, char *buf,
                          uint64_t *offsets, s_owner_t *owner)
{
    vl_merge_item_t items[16];
    assert_true(n <= 16);
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        int len = sprintf(p, "%llu;", (unsigned long long)glsns[i]);
        items[i] = (vl_merge_item_t){.glsn = glsns[i],
                                     .llsn = i + 1,
                                     .offset = offsets[glsns[i]],
                                     .data = p,
                                     .size = (size_t)len};
        p += len;
    }
    assert_int_equal(vl_merge_push(m, src, items, n, owner), 0);
}

/*  Pops a run and checks its first GLSN, entry count and bytes. */
static void s_expect_run(vl_merge_t *m, size_t max, uint64_t glsn, size_t count, const char *bytes)
{
    vl_merge_item_t it;
    size_t from, n = 99;
    bool ready = false;
    assert_int_equal(vl_merge_pop_run(m, &it, &from, &ready, max, &n), 0);
    assert_true(ready);
    assert_int_equal(it.glsn, glsn);
    assert_int_equal(n, count);
    assert_int_equal(it.size, strlen(bytes));
    assert_memory_equal(it.data, bytes, it.size);
}

static void test_pop_run(void **state)
{
    /* offsets of a topic whose entry g is "<g>;" (2 bytes for 1-9, 3 for
       10-99) */
    uint64_t offsets[32] = {0};
    for (uint64_t g = 2; g < 32; g++)
        offsets[g] = offsets[g - 1] + (g - 1 < 10 ? 2 : 3);
    int total = 0;
    s_owner_t o[4] = {{0}};
    char b0[64], b1[64], b2[64], b3[64];
    vl_merge_t *m = vl_merge_new(1, 32, s_release, &total);
    vl_merge_add_source(m);
    vl_merge_add_source(m);
    /* source 0: 1-4 and 7-8 in one message; source 1: 5-6, then 9-11 in
       another message */
    s_push_packed(m, 0, (uint64_t[]){1, 2, 3, 4, 7, 8}, 6, b0, offsets, &o[0]);
    s_push_packed(m, 1, (uint64_t[]){5, 6}, 2, b1, offsets, &o[1]);
    s_push_packed(m, 1, (uint64_t[]){9, 10, 11}, 3, b2, offsets, &o[2]);
    /* one entry without a budget; then a run stops at the budget ... */
    s_expect_run(m, 0, 1, 1, "1;");
    s_expect_run(m, 5, 2, 2, "2;3;");
    /* ... at a GLSN held by another source, and at the end of a message */
    s_expect_run(m, 100, 4, 1, "4;");
    s_expect_run(m, 100, 5, 2, "5;6;");
    s_expect_run(m, 100, 7, 2, "7;8;");
    assert_int_equal(o[0].released, 0); /* held until the next pop */
    s_expect_run(m, 100, 9, 3, "9;10;11;");
    assert_int_equal(o[0].released, 1);
    assert_int_equal(o[1].released, 1);
    /* entries of one message that are not back to back in memory are not
       one run, even at consecutive GLSNs and offsets */
    vl_merge_item_t gap[2] = {
        {.glsn = 12, .offset = offsets[12], .data = b3, .size = 3},
        {.glsn = 13, .offset = offsets[13], .data = b3 + 4, .size = 3},
    };
    memcpy(b3, "12;x13;", 7);
    assert_int_equal(vl_merge_push(m, 0, gap, 2, &o[3]), 0);
    s_expect_run(m, 100, 12, 1, "12;");
    s_expect_run(m, 100, 13, 1, "13;");
    s_expect_wait(m);
    vl_merge_destroy(&m);
    assert_int_equal(total, 4);
}

/* ---- in-order completion --------------------------------------------------- */

static void test_ordq_in_order(void **state)
{
    vl_ordq_t *q = vl_ordq_new();
    int items[3];
    assert_int_equal(vl_ordq_push(q, &items[0]), 0);
    assert_int_equal(vl_ordq_push(q, &items[1]), 1);
    assert_int_equal(vl_ordq_push(q, &items[2]), 2);
    assert_null(vl_ordq_pop(q));
    vl_ordq_done(q, 2); /* the last batch completes first */
    assert_null(vl_ordq_pop(q));
    vl_ordq_done(q, 0);
    assert_ptr_equal(vl_ordq_pop(q), &items[0]);
    assert_null(vl_ordq_pop(q)); /* 1 still in flight holds 2 back */
    vl_ordq_done(q, 1);
    assert_ptr_equal(vl_ordq_pop(q), &items[1]);
    assert_ptr_equal(vl_ordq_pop(q), &items[2]);
    assert_null(vl_ordq_pop(q));
    assert_int_equal(vl_ordq_size(q), 0);
    /* unknown and already popped seqs are ignored */
    vl_ordq_done(q, 0);
    vl_ordq_done(q, 99);
    assert_int_equal(vl_ordq_push(q, &items[0]), 3);
    assert_null(vl_ordq_pop(q));
    vl_ordq_destroy(&q);
    assert_null(q);
    vl_ordq_destroy(&q); /* NULL-safe */
}

static void test_ordq_wrap_and_grow(void **state)
{
    /* keep a window of batches in flight while the ring wraps and grows;
       complete each window in reverse order */
    vl_ordq_t *q = vl_ordq_new();
    static int items[1000];
    uint64_t popped = 0, pushed = 0;
    for (int round = 0; round < 50; round++) {
        size_t w = 1 + (size_t)round % 23;
        uint64_t first = pushed;
        for (size_t i = 0; i < w && pushed < 1000; i++) {
            assert_int_equal(vl_ordq_push(q, &items[pushed]), pushed);
            pushed++;
        }
        for (uint64_t s = pushed; s-- > first;) {
            vl_ordq_done(q, s);
            if (s != first)
                assert_null(vl_ordq_pop(q));
        }
        void *it;
        while ((it = vl_ordq_pop(q))) {
            assert_ptr_equal(it, &items[popped]);
            popped++;
        }
        assert_int_equal(popped, pushed);
    }
    vl_ordq_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_one_stream_empty),
        cmocka_unit_test(test_bounded_end),
        cmocka_unit_test(test_empty_range),
        cmocka_unit_test(test_out_of_order_arrival),
        cmocka_unit_test(test_regression_in_stream),
        cmocka_unit_test(test_duplicate_across_streams),
        cmocka_unit_test(test_already_delivered),
        cmocka_unit_test(test_all_ended_without_glsn),
        cmocka_unit_test(test_empty_message_and_resume),
        cmocka_unit_test(test_many_streams_random),
        cmocka_unit_test(test_pop_run),
        cmocka_unit_test(test_ordq_in_order),
        cmocka_unit_test(test_ordq_wrap_and_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
