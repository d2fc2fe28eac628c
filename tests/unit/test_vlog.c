/*  test_vlog.c - unit tests of the storage node's entry log (sn/vlog.c)
    and its checksum (sn/crc32c.c), through the store that drives it.

    The entries of every store write go to the log first and RocksDB keeps
    only where they are, with its WAL off; so these tests crash a store (a
    child process that dies without closing it), tear or cut the log's
    tail, remove or damage a segment, and check what a reopen recovers or
    refuses; and they run the log in small segments to see trims and
    cleaning free them. The fixture is tests/lib/storefx.c.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../lib/crc32c.h"
#include "../../sn/store.h"
#include "../../sn/store_i.h"
#include "../../sn/vlog.h"
#include "../lib/storefx.h"

/*  Checks that ls 1 holds entries 1..llsn_end as stfx_write wrote them. */
static void s_check_entries(vl_store_t *store, uint32_t ls, uint64_t from, uint64_t llsn_end)
{
    zmsg_t *frames = zmsg_new();
    uint32_t n;
    uint64_t bytes;
    assert_int_equal(stfx_read_entries(store, ls, from, 100000, 1 << 30, frames, &n, &bytes), 0);
    assert_int_equal(n, llsn_end - from + 1);
    char buf[32];
    uint64_t llsn = from;
    for (zframe_t *fr = zmsg_first(frames); fr; fr = zmsg_next(frames), llsn++) {
        uint64_t size = stfx_entry(ls, llsn, buf);
        assert_int_equal(zframe_size(fr), size);
        assert_memory_equal(zframe_data(fr), buf, size);
    }
    zmsg_destroy(&frames);
}

/*  A crash: a child process writes and dies without closing the store, so
    RocksDB (whose WAL is off) never flushed what it was given. Everything
    written must come back from the entry log; a write torn at the end of
    the log (garbage after the last record) is cut off, and writing goes on
    after it. */
static void test_crash_replay(void **state)
{
    stfx_t *f = *state;
    vl_store_destroy(&f->store);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vl_store_t *store = NULL;
        if (vl_store_open(f->dir, 0, &store) != 0)
            _exit(2);
        vl_store_state_t a = {.topic_id = 1, .ls_id = 1};
        stfx_write(store, &a, 20);
        stfx_write(store, &a, 30);
        stfx_commit(store, &a, 1, 0, 40);
        _exit(0); /* no vl_store_destroy: no flush */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a torn write after the last record */
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    FILE *fp = fopen(path, "ab");
    assert_non_null(fp);
    const uint8_t torn[] = {'V', 'L', 'R', '1', 1, 2, 3, 4, 200, 0, 0, 0, 0, 0, 0, 0, 9, 9};
    assert_int_equal(fwrite(torn, 1, sizeof torn, fp), sizeof torn);
    fclose(fp);
    struct stat st0;
    assert_int_equal(stat(path, &st0), 0);

    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    vl_store_state_t one;
    assert_int_equal(vl_store_state(f->store, 1, &one), 0);
    assert_int_equal(one.llsn_end, 50);
    assert_int_equal(one.applied_llsn_end, 40);
    s_check_entries(f->store, 1, 1, 50);
    vl_store_range_t r;
    assert_int_equal(vl_store_find_range(f->store, 1, 40, &r), 0);
    assert_int_equal(r.count, 40);
    struct stat st1;
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st1.st_size, st0.st_size - (off_t)sizeof torn);

    /* writing goes on where the log was cut, and survives a reopen */
    stfx_write(f->store, &one, 5);
    stfx_reopen(f);
    s_check_entries(f->store, 1, 1, 55);
}

/*  A crash after RocksDB flushed a write that the entry log then lost (a
    commit, written without sync): the store holds it, the log's torn
    record is cut off, and the node goes on. */
/*  Writes 12 entries of ls a->ls_id and their commit, closes the store
    (flushed: 'w' names the commit's record) and tears that record. */
static void s_tear_commit(stfx_t *f, vl_store_state_t *a)
{
    stfx_write(f->store, a, 12);
    stfx_commit(f->store, a, 1, 0, 12);
    vl_store_destroy(&f->store);
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 5), 0);
}

static void test_store_ahead_of_log(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 2};
    s_tear_commit(f, &a);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    vl_store_state_t one;
    assert_int_equal(vl_store_state(f->store, 2, &one), 0);
    assert_int_equal(one.applied_llsn_end, 12);
    s_check_entries(f->store, 2, 1, 12);
    stfx_write(f->store, &one, 3);
    stfx_reopen(f);
    s_check_entries(f->store, 2, 1, 15);
}

/*  A child process opens the store, writes n entries to ls st (synced:
    acknowledged) and dies without closing it: a crash. */
static void s_crash_write(const char *dir, vl_store_state_t *st, uint64_t n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vl_store_t *store = NULL;
        if (vl_store_open(dir, 0, &store) != 0)
            _exit(2);
        stfx_write(store, st, n);
        _exit(0); /* no vl_store_destroy: no flush */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    st->llsn_end += n;
}

/*  The store ahead of a log that lost its tail (test_store_ahead_of_log),
    then a crash before RocksDB flushed again: the entries acknowledged
    after the restart are written where the lost record was, and must not
    be taken for it (skipped by the replay) at the next open. */
static void test_ahead_of_log_then_crash(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 2};
    s_tear_commit(f, &a);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    vl_store_destroy(&f->store);
    s_crash_write(f->dir, &a, 3);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    vl_store_state_t one;
    assert_int_equal(vl_store_state(f->store, 2, &one), 0);
    assert_int_equal(one.llsn_end, 15);
    s_check_entries(f->store, 2, 1, 15);
}

/*  The log lost many unsynced records (more than a page) whose effect
    RocksDB had flushed: 'w' names an offset past the end of the segment.
    The store opens (no read past the end of the file), and goes on. */
static void test_store_far_ahead_of_log(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 3};
    stfx_write(f->store, &a, 12);
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    for (int i = 0; i < 200; i++) { /* state-only writes, without sync */
        vl_store_batch_t *b = vl_store_batch_new();
        a.hwm = (uint64_t)i;
        vl_store_batch_put_state(b, &a);
        assert_int_equal(vl_store_write(f->store, b, false), 0);
        vl_store_batch_destroy(&b);
    }
    vl_store_destroy(&f->store);                     /* flushed: 'w' names the last one */
    assert_int_equal(truncate(path, st.st_size), 0); /* a crash lost them all */
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    s_check_entries(f->store, 3, 1, 12);
    stfx_write(f->store, &a, 3);
    stfx_reopen(f);
    s_check_entries(f->store, 3, 1, 15);
}

/*  Trims ls st->ls_id below glsn, with its new state, in one synced write. */
static void s_trim(vl_store_t *store, vl_store_state_t *st, uint64_t glsn)
{
    vl_store_batch_t *b = vl_store_batch_new();
    assert_int_equal(vl_store_batch_trim(store, b, st->ls_id, glsn), 0);
    st->trim_glsn = glsn;
    vl_store_batch_put_state(b, st);
    assert_int_equal(vl_store_write(store, b, true), 0);
    vl_store_batch_destroy(&b);
}

/*  The entry log in small segments: a trim frees the segments that only
    held trimmed entries (and a reopen still reads the rest); a segment
    missing in the middle makes the open fail with a clear error. */
static void test_log_segments(void **state)
{
    stfx_t *f = *state;
    vl_store_set_segment_bytes(f->store, 256);
    vl_store_state_t a = {.topic_id = 1, .ls_id = 4};
    for (int i = 0; i < 20; i++)
        stfx_write(f->store, &a, 10);
    size_t before = vl_store_segments(f->store);
    assert_true(before >= 10);
    stfx_commit(f->store, &a, 1, 0, 200);

    s_trim(f->store, &a, 151);
    size_t after = vl_store_segments(f->store);
    assert_true(after < before);
    s_check_entries(f->store, 4, 151, 200);

    stfx_reopen(f);
    s_check_entries(f->store, 4, 151, 200);
    assert_int_equal(vl_store_segments(f->store), after);

    /* remove a segment in the middle: the store refuses to open */
    vl_store_set_segment_bytes(f->store, 256);
    for (int i = 0; i < 4; i++)
        stfx_write(f->store, &a, 10);
    vl_store_destroy(&f->store);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/vlog | sed -n 2p", f->dir);
    FILE *p = popen(cmd, "r");
    char name[64] = "";
    assert_non_null(fgets(name, sizeof name, p));
    pclose(p);
    name[strcspn(name, "\n")] = 0;
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/%s", f->dir, name);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), VL_ESTORE);
    assert_non_null(strstr(vl_store_errmsg(), "missing"));
    assert_int_equal(mkdir(f->dir, 0755) == 0 || errno == EEXIST, 1);
    /* leave a store for the teardown */
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
}

/*  The size on disk of segment id of the store in dir. */
static off_t s_seg_file_size(const char *dir, uint32_t id)
{
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/%010u.vlog", dir, id);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/*  Zeros written ahead (vl_vlog_prewrite, by the idle writer): the next
    records overwrite them and the file does not grow; a crash's replay
    takes the all-zero tail for space written ahead and keeps it, and
    writing goes on over it; a torn write in it is still cut off; a
    segment that is closed is cut to its records' end. */
static void test_log_prewrite(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 7};
    stfx_write(f->store, &a, 10);
    vl_vlog_t *log = f->store->vlog;
    uint64_t end = log->segs[log->nsegs - 1].size;
    assert_int_equal(s_seg_file_size(f->dir, 1), end);
    vl_store_idle(f->store);
    off_t zfile = (off_t)(end + VL_VLOG_PREWRITE);
    assert_int_equal(s_seg_file_size(f->dir, 1), zfile);
    /* enough ahead: nothing more */
    vl_store_idle(f->store);
    assert_int_equal(s_seg_file_size(f->dir, 1), end + VL_VLOG_PREWRITE);
    stfx_write(f->store, &a, 10);
    assert_true(log->segs[log->nsegs - 1].size > end);
    assert_int_equal(s_seg_file_size(f->dir, 1), end + VL_VLOG_PREWRITE);
    end = log->segs[log->nsegs - 1].size;

    /* a crash: a child writes more (over the zeros) and dies unflushed */
    vl_store_destroy(&f->store);
    assert_int_equal(a.llsn_end, 20);
    s_crash_write(f->dir, &a, 15);
    off_t before = s_seg_file_size(f->dir, 1);
    assert_int_equal(before, zfile); /* the child wrote over the zeros */
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    log = f->store->vlog;
    s_check_entries(f->store, 7, 1, 35);
    assert_int_equal(s_seg_file_size(f->dir, 1), before); /* the zeros kept */
    end = log->segs[log->nsegs - 1].size;
    assert_true(end < (uint64_t)before);
    assert_int_equal(vl_store_state(f->store, 7, &a), 0);
    stfx_write(f->store, &a, 5);
    stfx_reopen(f);
    s_check_entries(f->store, 7, 1, 40);
    assert_int_equal(s_seg_file_size(f->dir, 1), before);

    /* a torn write in the zeros: cut off, with them */
    log = f->store->vlog;
    end = log->segs[log->nsegs - 1].size;
    vl_store_destroy(&f->store);
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)end + 100, SEEK_SET), 0);
    assert_int_equal(fwrite("VLR1torn", 1, 8, fp), 8);
    fclose(fp);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    assert_int_equal(s_seg_file_size(f->dir, 1), end);
    s_check_entries(f->store, 7, 1, 40);

    /* a new segment: the last one is cut to its records */
    log = f->store->vlog;
    vl_vlog_set_prewrite(log, 4096);
    vl_store_set_segment_bytes(f->store, end + 2048);
    vl_store_idle(f->store);
    assert_int_equal(s_seg_file_size(f->dir, 1), end + 2048); /* not past the segment size */
    assert_int_equal(vl_store_state(f->store, 7, &a), 0);
    while (vl_store_segments(f->store) < 3)
        stfx_write(f->store, &a, 20);
    assert_int_equal(s_seg_file_size(f->dir, 1), log->segs[0].size);
    assert_int_equal(s_seg_file_size(f->dir, 2), log->segs[1].size);
    s_check_entries(f->store, 7, 1, a.llsn_end);
}

/*  The entry log's checksum: the standard check value, and long inputs
    (three streams at once) against a bitwise reference. */
static uint32_t s_crc_ref(const uint8_t *p, size_t n)
{
    uint32_t crc = ~0u;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(vl_crc32c(0, "123456789", 9), 0xe3069283u);
    size_t n = 3 * 8192 * 4 + 77;
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 2654435761u >> 13);
    size_t lens[] = {0, 1, 8, 24575, 24576, 24577, 3 * 8192 * 4 + 77};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        assert_int_equal(vl_crc32c(0, b, lens[i]), s_crc_ref(b, lens[i]));
    assert_int_equal(vl_crc32c(vl_crc32c(0, b, 1000), b + 1000, n - 1000), s_crc_ref(b, n));
    free(b);
}

/*  Two log streams share the entry log; one is trimmed, the other never
    is: the few bytes of the untrimmed one are moved out of the old
    segments so that the trim frees the disk all the same. */
static void test_log_cleaning(void **state)
{
    stfx_t *f = *state;
    vl_store_set_segment_bytes(f->store, 512);
    vl_store_state_t a = {.topic_id = 1, .ls_id = 5}, c = {.topic_id = 2, .ls_id = 6};
    for (int i = 0; i < 30; i++) {
        stfx_write(f->store, &a, 20);
        if (i % 10 == 0)
            stfx_write(f->store, &c, 1);
    }
    size_t before = vl_store_segments(f->store);
    assert_true(before >= 20);
    stfx_commit(f->store, &a, 1, 0, 600);
    s_trim(f->store, &a, 591);
    vl_store_batch_t *b;
    /* up to 4 segments holding ls 6's entries moved per write; more go
       with the next writes that delete something */
    for (int i = 0; i < 4; i++) {
        b = vl_store_batch_new();
        assert_int_equal(vl_store_batch_trim(f->store, b, 5, 591), 0);
        assert_int_equal(vl_store_write(f->store, b, true), 0);
        vl_store_batch_destroy(&b);
    }
    size_t after = vl_store_segments(f->store);
    assert_true(after <= 4);
    s_check_entries(f->store, 6, 1, 3);
    s_check_entries(f->store, 5, 591, 600);
    stfx_reopen(f);
    s_check_entries(f->store, 6, 1, 3);
    s_check_entries(f->store, 5, 591, 600);
}

/*  A cleaning bigger than one step (4 segments moved per write): twelve
    quiet log streams each keep a different old segment after the trim;
    the writes that follow, which delete nothing (appends, commits), go on
    with it until every old segment is gone, and nothing is lost. */
static void test_log_cleaning_steps(void **state)
{
    stfx_t *f = *state;
    vl_store_set_segment_bytes(f->store, 512);
    vl_store_state_t a = {.topic_id = 1, .ls_id = 5}, q[12];
    for (int k = 0; k < 12; k++) {
        q[k] = (vl_store_state_t){.topic_id = 2, .ls_id = 10 + (uint32_t)k};
        for (int i = 0; i < 3; i++)
            stfx_write(f->store, &a, 20);
        stfx_write(f->store, &q[k], 1);
    }
    size_t before = vl_store_segments(f->store);
    assert_true(before >= 24);
    stfx_commit(f->store, &a, 1, 0, 720);
    s_trim(f->store, &a, 711);
    size_t after_trim = vl_store_segments(f->store);
    assert_true(after_trim > 8); /* one step moved 4 of the 12 */
    vl_store_state_t z = {.topic_id = 3, .ls_id = 30};
    size_t n = after_trim;
    for (int i = 0; i < 4 && n > 3; i++) {
        vl_store_batch_t *b = vl_store_batch_new();
        vl_store_batch_put_state(b, &z); /* deletes nothing */
        assert_int_equal(vl_store_write(f->store, b, true), 0);
        vl_store_batch_destroy(&b);
        size_t m = vl_store_segments(f->store);
        assert_true(m < n); /* every write freed some */
        n = m;
    }
    assert_true(n <= 3);
    for (int k = 0; k < 12; k++)
        s_check_entries(f->store, 10 + (uint32_t)k, 1, 1);
    s_check_entries(f->store, 5, 711, 720);
    stfx_reopen(f);
    for (int k = 0; k < 12; k++)
        s_check_entries(f->store, 10 + (uint32_t)k, 1, 1);
    s_check_entries(f->store, 5, 711, 720);
}

/*  A big log stream trimmed, a smaller one never, written in turns: the
    small one holds more than a quarter of a segment, but little against
    the segments its move frees, so it is moved and they go. */
static void test_log_cleaning_small_neighbour(void **state)
{
    stfx_t *f = *state;
    vl_store_set_segment_bytes(f->store, 512);
    vl_store_state_t a = {.topic_id = 1, .ls_id = 5}, c = {.topic_id = 2, .ls_id = 6};
    for (int i = 0; i < 30; i++) {
        stfx_write(f->store, &a, 20);
        stfx_write(f->store, &c, 3);
    }
    size_t before = vl_store_segments(f->store);
    assert_true(before >= 20);
    stfx_commit(f->store, &a, 1, 0, 600);
    s_trim(f->store, &a, 591);
    assert_true(vl_store_segments(f->store) <= 3);
    s_check_entries(f->store, 6, 1, 90);
    s_check_entries(f->store, 5, 591, 600);
    stfx_reopen(f);
    s_check_entries(f->store, 6, 1, 90);
    s_check_entries(f->store, 5, 591, 600);
}

/*  The reserve that lets a trim free space on a full disk: there after
    the open (8 MiB), gone once released, made again by the next cleaning
    that removes segments. (The full disk itself: trim_reclaim.sh.) */
static void test_log_reserve(void **state)
{
    stfx_t *f = *state;
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/reserve", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= 8 << 20);
    assert_true(vl_store_gc_release(f->store));
    assert_int_not_equal(stat(path, &st), 0);
    assert_false(vl_store_gc_release(f->store));
    vl_store_set_segment_bytes(f->store, 256);
    vl_store_state_t a = {.topic_id = 1, .ls_id = 4};
    for (int i = 0; i < 10; i++)
        stfx_write(f->store, &a, 10);
    stfx_commit(f->store, &a, 1, 0, 100);
    size_t before = vl_store_segments(f->store);
    s_trim(f->store, &a, 91);
    assert_true(vl_store_segments(f->store) < before);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= 8 << 20);
    s_check_entries(f->store, 4, 91, 100);
}

/*  The segment size for a data disk: a sixteenth of it, 4 MiB to 512 MiB
    (512 MiB when the size is unknown). */
static void test_segment_bytes_for(void **state)
{
    (void)state;
    assert_int_equal(vl_vlog_segment_bytes_for(0), 512ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(1ull << 20), 4ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(64ull << 20), 4ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(160ull << 20), 10ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(1ull << 30), 64ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(8ull << 30), 512ull << 20);
    assert_int_equal(vl_vlog_segment_bytes_for(4ull << 40), 512ull << 20);
}

/*  Entries written without sync (--sync none) that a crash took from the
    log while RocksDB had flushed their values: the store refuses to open
    rather than serve other bytes in their place. */
static void test_lost_unsynced_entries(void **state)
{
    stfx_t *f = *state;
    const char *e[] = {"lost", "too"};
    stfx_put_strs(f->store, 13, 1, e, 2); /* written without sync */
    vl_store_destroy(&f->store);          /* flushed: 'w' names that record */
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 5), 0);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), VL_ESTORE);
    assert_non_null(strstr(vl_store_errmsg(), "--sync none"));
    /* leave a store for the teardown */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/*", f->dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
}

/*  A segment's mapping grows under the readers as the segment does (the
    mapping is smaller than the segment at first). */
static void test_log_mapping_grows(void **state)
{
    stfx_t *f = *state;
    vl_store_state_t a = {.topic_id = 1, .ls_id = 14};
    vl_store_set_map_step(f->store, 4096);
    vl_store_set_segment_bytes(f->store, 1);
    stfx_write(f->store, &a, 1); /* a new segment, mapped 4 KiB at first */
    vl_store_set_segment_bytes(f->store, 1 << 20);
    for (int i = 0; i < 40; i++) {
        stfx_write(f->store, &a, 50); /* ~500 bytes a record */
        s_check_entries(f->store, 14, 1, a.llsn_end);
    }
    assert_int_equal(vl_store_segments(f->store), 2);
    stfx_reopen(f);
    s_check_entries(f->store, 14, 1, 2001);
}

/*  A flipped bit in the entry log (a damaged disk) is reported when the
    entries are read, not served. */
static void test_log_checksum(void **state)
{
    stfx_t *f = *state;
    const char *e[] = {"corrupt-me-please", "and-me"}, *other[] = {"fine"};
    stfx_put_strs(f->store, 15, 1, e, 2);
    stfx_put_strs(f->store, 16, 1, other, 1); /* the last record stays whole */
    vl_store_destroy(&f->store);
    char path[400];
    snprintf(path, sizeof path, "%s/vlog/0000000001.vlog", f->dir);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, fp);
    char *at = memmem(buf, len, "corrupt-me", 10);
    assert_non_null(at);
    assert_int_equal(fseek(fp, at - buf + 3, SEEK_SET), 0);
    assert_int_equal(fputc('R', fp), 'R');
    fclose(fp);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
    char out[64];
    assert_int_equal(stfx_read_strs(f->store, 16, 1, 100, 1 << 20, out), 1);
    zmsg_t *frames = zmsg_new();
    uint32_t n;
    uint64_t bytes;
    assert_int_equal(stfx_read_entries(f->store, 15, 1, 100, 1 << 20, frames, &n, &bytes),
                     VL_ESTORE);
    zmsg_destroy(&frames);
    assert_non_null(strstr(vl_store_errmsg(), "checksum"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_replay, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_store_ahead_of_log, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_ahead_of_log_then_crash, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_store_far_ahead_of_log, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_segments, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_cleaning, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_cleaning_steps, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_cleaning_small_neighbour, stfx_setup,
                                        stfx_teardown),
        cmocka_unit_test(test_segment_bytes_for),
        cmocka_unit_test_setup_teardown(test_log_reserve, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_lost_unsynced_entries, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_mapping_grows, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_checksum, stfx_setup, stfx_teardown),
        cmocka_unit_test_setup_teardown(test_log_prewrite, stfx_setup, stfx_teardown),
        cmocka_unit_test(test_crc32c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
