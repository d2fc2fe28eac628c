/*  test_wire.c - unit tests of the wire codec (lib/wire.c) and the error
    table (lib/err.c).

    The codec is the first code that touches bytes from the network, so most
    of this file is about input a peer controls: every decoder is fed every
    strict prefix of a valid encoding, counts that claim more items than the
    body holds, overlong strings, strings with an embedded NUL, and ~20000
    deterministic random messages. Each input sits in a heap buffer of
    exactly its length so that the sanitizer build (--enable-sanitize)
    reports any read past its end.

    Two properties need help from the linker (see this target's LDFLAGS in
    Makefile.am): vl_calloc and free are wrapped (-Wl,--wrap=...) so a test
    can see the size of every array a decoder allocates ("no input can make
    a daemon allocate without bound") and that a failed decode leaves no
    allocation behind ("nothing to free"), in the normal build as well as
    under LeakSanitizer.
*/
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util.h"
#include "varlog_err.h"
#include "wire.h"

/* ---- allocation tracking (linker wraps) ------------------------------ */

void *__real_vl_calloc(size_t n, size_t size);
void *__wrap_vl_calloc(size_t n, size_t size);
void __real_free(void *p);
void __wrap_free(void *p);

#define S_LIVE_MAX 4096
static void *s_live[S_LIVE_MAX]; /* vl_calloc results not yet freed */
static size_t s_nlive;
static size_t s_calloc_calls;
static size_t s_calloc_max; /* largest single vl_calloc since s_alloc_reset */

void *__wrap_vl_calloc(size_t n, size_t size)
{
    void *p = __real_vl_calloc(n, size);
    s_calloc_calls++;
    if (n * size > s_calloc_max)
        s_calloc_max = n * size;
    if (s_nlive == S_LIVE_MAX) {
        fprintf(stderr, "test_wire: more than %d live vl_calloc blocks\n", S_LIVE_MAX);
        abort();
    }
    s_live[s_nlive++] = p;
    return p;
}

void __wrap_free(void *p)
{
    /* Blocks are mostly freed in the order or reverse order of allocation;
       search from the end, the table stays small. */
    for (size_t i = s_nlive; i-- > 0;)
        if (s_live[i] == p) {
            s_live[i] = s_live[--s_nlive];
            break;
        }
    __real_free(p);
}

static void s_alloc_reset(void)
{
    s_calloc_calls = 0;
    s_calloc_max = 0;
}

/* ---- helpers -------------------------------------------------------- */

/*  Deterministic PRNG (xorshift64*) so a failure replays exactly. */
static uint64_t s_rng_state;

static void s_rng_seed(uint64_t seed)
{
    s_rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t s_rng(void)
{
    uint64_t x = s_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s_rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint32_t s_rng_below(uint32_t n)
{
    return (uint32_t)(s_rng() % n);
}

/*  Copies len bytes into a heap block of exactly len bytes (NULL when len
    is 0, as vl_wire_parse leaves an unparsed body), so reading one byte
    too many is caught by ASan. Caller frees. */
static uint8_t *s_exact(const void *data, size_t len)
{
    if (len == 0)
        return NULL;
    uint8_t *p = malloc(len);
    assert_non_null(p);
    memcpy(p, data, len);
    return p;
}

static char *s_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/*  A string field written by hand: u16 length + raw bytes (may hold NUL,
    may be longer than any maximum, which vl_wbuf_str cannot produce). */
static void s_raw_str(vl_wbuf_t *b, const void *bytes, uint16_t n)
{
    vl_wbuf_u16(b, n);
    for (uint16_t i = 0; i < n; i++)
        vl_wbuf_u8(b, ((const uint8_t *)bytes)[i]);
}

/* ---- sample messages ------------------------------------------------ */

static vl_report_item_t s_report_items[] = {
    {1, 10, 1000, 9, VL_LS_RUNNING},
    {2, 0, 0, 0, VL_LS_SEALED},
    {UINT32_MAX, UINT64_MAX, UINT64_MAX - 1, 0x0102030405060708ull, 0xff},
};
static const vl_report_t s_report = {42, 3, s_report_items};

static vl_commit_item_t s_commit_items[] = {
    {1, 2, 3, 4, 5, 6, 7, 8, 9},
    {UINT32_MAX, 0, 1, UINT64_MAX, 0, 0x1111111111111111ull, 0x2222222222222222ull,
     0x3333333333333333ull, 0x4444444444444444ull},
};
static const vl_commit_t s_commit = {0xabcdef0123456789ull, 2, s_commit_items};

static vl_run_t s_runs[] = {{1, 3}, {100, 1}, {UINT64_MAX - 5, UINT32_MAX}};
static const vl_append_reply_t s_append_reply = {77, 3, s_runs};
static const vl_batch_status_t s_batch_status = {9, 10, UINT64_MAX - 1, 123456789, 4000};
static const vl_batch_status_reply_t s_batch_status_reply = {1, 1, 40, {77, 3, s_runs}};

static vl_entry_pos_t s_entries[] = {
    {1, 1, 0, 0}, {5, 2, 100, 7}, {UINT64_MAX, UINT64_MAX, 7, UINT32_MAX}};
static const vl_sub_data_t s_sub_data = {1, 3, s_entries};

static vl_sn_replica_t s_replicas[] = {
    {1, 1, 10, 1000, 9, 20, 1, VL_LS_SEALING},
    {3, UINT32_MAX, UINT64_MAX, 5, 4, 3, 2, VL_LS_RUNNING},
};
static const vl_sn_status_t s_sn_status = {"tcp://127.0.0.1:10001", UINT64_MAX, 12345, 2,
                                           s_replicas};

static const vl_subscribe_t s_subscribe = {3, 9, 17, VL_GLSN_MAX, 64};

/*  META: three SNs (one with a 255-byte address), three topics: one with
    three log streams in different states, one with none, one whose name is
    255 bytes long with a full (7-replica) and an empty replica set. */
static vl_meta_t s_meta;
static vl_meta_sn_t s_meta_sns[3];
static vl_meta_topic_t s_meta_topics[3];
static vl_meta_ls_t s_meta_ls0[3], s_meta_ls2[2];

static void s_meta_build(void)
{
    memset(&s_meta, 0, sizeof s_meta);
    memset(s_meta_sns, 0, sizeof s_meta_sns);
    memset(s_meta_topics, 0, sizeof s_meta_topics);
    s_meta.cluster_id = 0xc0ffee;
    s_meta.version = 0x0102030405060708ull;
    s_meta.sn_id = 5;
    s_meta.nsn = 3;
    s_meta.sns = s_meta_sns;
    s_meta_sns[0] = (vl_meta_sn_t){.id = 1, .addr = "tcp://127.0.0.1:10001", .alive = 1};
    s_meta_sns[1] = (vl_meta_sn_t){.id = 2, .addr = "", .alive = 0};
    s_meta_sns[2].id = 5;
    memset(s_meta_sns[2].addr, 'a', VL_WIRE_MAX_ADDR);
    s_meta_sns[2].alive = 1;

    s_meta.ntopics = 3;
    s_meta.topics = s_meta_topics;
    vl_meta_topic_t *t = &s_meta_topics[0];
    t->id = 1;
    strcpy(t->name, "orders");
    t->rf = 3;
    t->hwm = 1000;
    t->end_offset = 123456;
    t->trim_glsn = 1;
    t->trim_offset = 0;
    t->nls = 3;
    t->ls = s_meta_ls0;
    s_meta_ls0[0] = (vl_meta_ls_t){1, VL_LS_RUNNING, 3, {1, 2, 5}, 10, 1000, 2, 0};
    s_meta_ls0[1] =
        (vl_meta_ls_t){2, VL_LS_SEALED, 3, {2, 5, 1}, UINT64_MAX, UINT64_MAX - 1, UINT32_MAX, 5};
    s_meta_ls0[2] = (vl_meta_ls_t){3, VL_LS_DELETED, 2, {5, 1}, 0, 0, 0, 0};

    t = &s_meta_topics[1];
    t->id = 2;
    strcpy(t->name, "a");
    t->rf = 1;
    t->trim_glsn = 1;

    t = &s_meta_topics[2];
    t->id = UINT32_MAX;
    memset(t->name, 'n', VL_WIRE_MAX_NAME);
    t->rf = 7;
    t->hwm = UINT64_MAX;
    t->end_offset = UINT64_MAX - 1;
    t->trim_glsn = 77;
    t->trim_offset = 7700;
    t->nls = 2;
    t->ls = s_meta_ls2;
    s_meta_ls2[0] =
        (vl_meta_ls_t){9, VL_LS_SEALING, VL_WIRE_MAX_REPLICAS, {1, 2, 3, 4, 5, 6, 7}, 3, 33, 1, 0};
    s_meta_ls2[1] = (vl_meta_ls_t){10, VL_LS_UNSEALING, 0, {0}, 0, 0, 0x01020304, UINT32_MAX};
}

static vl_admin_t s_admin;

static void s_admin_build(void)
{
    memset(&s_admin, 0, sizeof s_admin);
    memset(s_admin.name, 'x', VL_WIRE_MAX_NAME);
    strcpy(s_admin.addr, "tcp://127.0.0.1:10002");
    s_admin.id = 11;
    s_admin.nls = 4;
    s_admin.rf = 3;
    s_admin.glsn = UINT64_MAX;
    s_admin.offset = 0x8000000000000000ull;
    s_admin.sn_from = 2;
    s_admin.sn_to = UINT32_MAX;
}

static const vl_seal_reply_t s_seal_reply = {7, 1234, UINT64_MAX};

static const vl_sync_t s_sync = {
    3, UINT32_MAX, 0x0102030405060708ull, 4, "tcp://127.0.0.1:10003", 0xa1b2c3d4};

static const vl_notleader_t s_notleader = {"tcp://mr-2.example:9094"};

static vl_sync_item_t s_sync_items[] = {{1, 2, 3, 4, 5},
                                        {UINT32_MAX, 0, UINT32_MAX, UINT64_MAX, 0}};
static const vl_sync_reply_t s_sync_reply = {2, s_sync_items};

static uint8_t s_append_sizes[4 * VL_WIRE_MAX_ENTRIES]; /* s_fill_sizes fills it */
static uint8_t s_append_bids[2 * VL_WIRE_BID_SIZE]; /* s_fill_sizes fills it */
static const vl_append_t s_append = {.topic_id = 4,
                                     .ls_id = 8,
                                     .n = VL_WIRE_MAX_ENTRIES,
                                     .client_id = 0xfeedfacecafe0001ull,
                                     .batch_seq = 77,
                                     .llsn_begin = 100,
                                     .bytes_before = 200000,
                                     .epoch = 0x05060708,
                                     .nbids = 2,
                                     .bids = s_append_bids,
                                     .sizes = s_append_sizes};

static void s_fill_sizes(void)
{
    for (uint32_t i = 0; i < VL_WIRE_MAX_ENTRIES; i++)
        vl_put_le32(s_append_sizes + 4 * i, i * 2654435761u);
    vl_batch_id_t ids[2] = {{90, 0xfeedfacecafe0001ull, 76, 20},
                            {110, UINT64_MAX, UINT64_MAX, UINT32_MAX}};
    for (uint32_t i = 0; i < 2; i++)
        vl_wire_bid_put(s_append_bids + VL_WIRE_BID_SIZE * i, &ids[i]);
}

/* ---- decoder adapters ----------------------------------------------- */

/*  Each adapter decodes len bytes at data into a struct pre-filled with
    garbage (a decoder must reset it), and checks the decoder's promises:
    it returns 0 or VL_EPROTO; on failure the struct holds no array and no
    allocation is left live; on success every string is terminated, every
    count within its limit and no single allocation is larger than the
    input can justify. Successful results are freed. Returns the code. */
typedef int (*s_try_fn)(const uint8_t *data, size_t len);

static void s_check_alloc_bound(size_t len)
{
    /* the largest in-memory item (a META topic, ~320 bytes) is encoded in
       at least 46 bytes; an empty array still costs one item */
    assert_true(s_calloc_max <= 64 * len + 512);
}

static void s_check_str(const char *s, size_t max)
{
    assert_true(strnlen(s, max + 1) <= max);
}

static int s_try_report(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_report_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_report_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.items);
        assert_int_equal(m.n, 0);
    } else {
        assert_true(m.n == 0 || m.items);
        vl_report_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_commit(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_commit_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_commit_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.items);
        assert_int_equal(m.n, 0);
    } else {
        assert_true(m.n == 0 || m.items);
        vl_commit_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_meta(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_meta_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_meta_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.sns);
        assert_null(m.topics);
        assert_int_equal(m.nsn, 0);
        assert_int_equal(m.ntopics, 0);
    } else {
        for (uint32_t i = 0; i < m.nsn; i++)
            s_check_str(m.sns[i].addr, VL_WIRE_MAX_ADDR);
        for (uint32_t i = 0; i < m.ntopics; i++) {
            s_check_str(m.topics[i].name, VL_WIRE_MAX_NAME);
            assert_true(m.topics[i].nls == 0 || m.topics[i].ls);
            for (uint32_t j = 0; j < m.topics[i].nls; j++)
                assert_true(m.topics[i].ls[j].nrep <= VL_WIRE_MAX_REPLICAS);
        }
        vl_meta_free(&m);
        assert_null(m.sns);
        assert_null(m.topics);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_admin(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_admin_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_admin_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
    } else {
        s_check_str(m.name, VL_WIRE_MAX_NAME);
        s_check_str(m.addr, VL_WIRE_MAX_ADDR);
    }
    return rc;
}

static int s_try_append_x(const uint8_t *data, size_t len, bool replicate)
{
    vl_rbuf_t r;
    vl_append_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_append_decode(&r, replicate, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    else {
        assert_true(m.n <= VL_WIRE_MAX_ENTRIES);
        /* the sizes are borrowed from the body, inside it */
        if (m.n > 0)
            assert_true(m.sizes >= data && m.sizes + 4 * (size_t)m.n <= data + len);
        assert_true(m.nbids <= m.n + 1);
        if (m.nbids > 0)
            assert_true(m.bids >= data && m.bids + VL_WIRE_BID_SIZE * (size_t)m.nbids <= data + len);
    }
    return rc;
}

static int s_try_append(const uint8_t *data, size_t len)
{
    return s_try_append_x(data, len, false);
}

static int s_try_replicate(const uint8_t *data, size_t len)
{
    return s_try_append_x(data, len, true);
}

static int s_try_append_reply(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_append_reply_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_append_reply_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.runs);
        assert_int_equal(m.nruns, 0);
    } else {
        assert_true(m.nruns <= VL_WIRE_MAX_ENTRIES);
        vl_append_reply_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_batch_status(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_batch_status_t m;
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_batch_status_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

static int s_try_batch_status_reply(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_batch_status_reply_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_batch_status_reply_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.ar.runs);
    } else
        vl_append_reply_free(&m.ar);
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_subscribe(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_subscribe_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_subscribe_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

static int s_try_sub_data(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_sub_data_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_sub_data_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.entries);
        assert_int_equal(m.n, 0);
    } else {
        assert_true(m.n <= VL_WIRE_MAX_ENTRIES);
        vl_sub_data_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_sn_status(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_sn_status_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_sn_status_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.replicas);
        assert_int_equal(m.n, 0);
    } else {
        s_check_str(m.addr, VL_WIRE_MAX_ADDR);
        vl_sn_status_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_seal_reply(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_seal_reply_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_seal_reply_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

static int s_try_sync(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_sync_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_sync_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    else
        s_check_str(m.dest_addr, VL_WIRE_MAX_ADDR);
    return rc;
}

static int s_try_sync_reply(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_sync_reply_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_sync_reply_decode(&r, &m);
    s_check_alloc_bound(len);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_null(m.items);
        assert_int_equal(m.n, 0);
    } else {
        assert_true(m.n == 0 || m.items);
        vl_sync_reply_free(&m);
    }
    assert_int_equal(s_nlive, 0);
    return rc;
}

static int s_try_notleader(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_notleader_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_notleader_decode(&r, &m);
    assert_int_equal(s_calloc_calls, 0);
    s_check_str(m.leader, VL_WIRE_MAX_ADDR);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_string_equal(m.leader, ""); /* never half a hint to follow */
    }
    return rc;
}

static int s_try_errtext(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    char out[64];
    vl_rbuf_init(&r, data, len);
    vl_wire_errtext(&r, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    return 0;
}

/*  Every body codec: its adapter and a valid sample encoding. */
enum {
    S_REPORT,
    S_COMMIT,
    S_META,
    S_ADMIN,
    S_APPEND,
    S_REPLICATE,
    S_APPEND_REPLY,
    S_SUBSCRIBE,
    S_SUB_DATA,
    S_SN_STATUS,
    S_SEAL_REPLY,
    S_SYNC,
    S_SYNC_REPLY,
    S_BATCH_STATUS,
    S_BATCH_STATUS_REPLY,
    S_NOTLEADER,
    S_NCODECS
};
static const struct {
    const char *name;
    s_try_fn try;
} s_codecs[S_NCODECS] = {
    [S_REPORT] = {"report", s_try_report},
    [S_COMMIT] = {"commit", s_try_commit},
    [S_META] = {"meta", s_try_meta},
    [S_ADMIN] = {"admin", s_try_admin},
    [S_APPEND] = {"append", s_try_append},
    [S_REPLICATE] = {"replicate", s_try_replicate},
    [S_APPEND_REPLY] = {"append_reply", s_try_append_reply},
    [S_SUBSCRIBE] = {"subscribe", s_try_subscribe},
    [S_SUB_DATA] = {"sub_data", s_try_sub_data},
    [S_SN_STATUS] = {"sn_status", s_try_sn_status},
    [S_SEAL_REPLY] = {"seal_reply", s_try_seal_reply},
    [S_SYNC] = {"sync", s_try_sync},
    [S_SYNC_REPLY] = {"sync_reply", s_try_sync_reply},
    [S_BATCH_STATUS] = {"batch_status", s_try_batch_status},
    [S_BATCH_STATUS_REPLY] = {"batch_status_reply", s_try_batch_status_reply},
    [S_NOTLEADER] = {"notleader", s_try_notleader},
};

static void s_sample_encode(int codec, vl_wbuf_t *b)
{
    vl_wbuf_init(b);
    switch (codec) {
    case S_REPORT:
        vl_report_encode(&s_report, b);
        break;
    case S_COMMIT:
        vl_commit_encode(&s_commit, b);
        break;
    case S_META:
        s_meta_build();
        vl_meta_encode(&s_meta, b);
        break;
    case S_ADMIN:
        s_admin_build();
        vl_admin_encode(&s_admin, b);
        break;
    case S_APPEND:
        vl_append_encode(&s_append, false, b);
        break;
    case S_REPLICATE:
        vl_append_encode(&s_append, true, b);
        break;
    case S_APPEND_REPLY:
        vl_append_reply_encode(&s_append_reply, b);
        break;
    case S_SUBSCRIBE:
        vl_subscribe_encode(&s_subscribe, b);
        break;
    case S_SUB_DATA:
        vl_sub_data_encode(&s_sub_data, b);
        break;
    case S_SN_STATUS:
        vl_sn_status_encode(&s_sn_status, b);
        break;
    case S_SEAL_REPLY:
        vl_seal_reply_encode(&s_seal_reply, b);
        break;
    case S_SYNC:
        vl_sync_encode(&s_sync, b);
        break;
    case S_SYNC_REPLY:
        vl_sync_reply_encode(&s_sync_reply, b);
        break;
    case S_BATCH_STATUS:
        vl_batch_status_encode(&s_batch_status, b);
        break;
    case S_BATCH_STATUS_REPLY:
        vl_batch_status_reply_encode(&s_batch_status_reply, b);
        break;
    case S_NOTLEADER:
        vl_notleader_encode(&s_notleader, b);
        break;
    default:
        fail();
    }
}

/*  Runs an adapter on an exact-size copy of len bytes. */
static int s_try_exact(s_try_fn try, const void *data, size_t len)
{
    uint8_t *p = s_exact(data, len);
    int rc = try(p, len);
    free(p);
    return rc;
}

static int s_try_wbuf(s_try_fn try, const vl_wbuf_t *b)
{
    return s_try_exact(try, b->data, b->len);
}

/* ---- error table ---------------------------------------------------- */

static void test_err_table(void **state)
{
#define S_ERR_ROW(name, code, errno_, msg) {name, code, errno_, msg, #name},
    static const struct {
        int value, code, errno_;
        const char *msg, *name;
    } rows[] = {VL_ERRORS(S_ERR_ROW)};
#undef S_ERR_ROW
    size_t nrows = sizeof rows / sizeof rows[0];
    /* codes are dense from 0, so every code below VL_ERR_MAX has a row */
    assert_int_equal(nrows, VL_ERR_MAX);
    for (size_t i = 0; i < nrows; i++) {
        assert_int_equal(rows[i].code, (int)i);
        assert_int_equal(rows[i].value, rows[i].code);
        assert_string_equal(vl_err_str(rows[i].code), rows[i].msg);
        assert_string_equal(vl_err_name(rows[i].code), rows[i].name);
        assert_int_equal(vl_err_errno(rows[i].code), rows[i].errno_);
        assert_true(strlen(rows[i].msg) > 0);
        assert_int_equal(strncmp(rows[i].name, "VL_", 3), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(rows[i].name, rows[j].name);
    }
    /* spot checks that pin the mapping varlogfs answers with */
    assert_int_equal(vl_err_errno(VL_OK), 0);
    assert_int_equal(vl_err_errno(VL_ESEALED), EROFS);
    assert_int_equal(vl_err_errno(VL_ENOTOPIC), ENOENT);
    assert_int_equal(vl_err_errno(VL_ETOOBIG), EFBIG);
    assert_int_equal(vl_err_errno(VL_ENOSPC), ENOSPC);
    assert_string_equal(vl_err_name(VL_ETRIMMED), "VL_ETRIMMED");
    assert_string_equal(vl_err_str(VL_OK), "success");

    static const int bad[] = {-1,   -2,     -100,   INT_MIN, VL_ERR_MAX, VL_ERR_MAX + 1,
                              1000, 0x8000, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(vl_err_str(bad[i]), "unknown error");
        assert_string_equal(vl_err_name(bad[i]), "VL_E?");
        assert_int_equal(vl_err_errno(bad[i]), EIO);
    }
}

/* ---- primitives ------------------------------------------------------- */

static void test_wbuf_rbuf(void **state)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u8(&b, 0x01);
    vl_wbuf_u16(&b, 0x0302);
    vl_wbuf_u32(&b, 0x07060504);
    vl_wbuf_u64(&b, 0x0f0e0d0c0b0a0908ull);
    vl_wbuf_str(&b, "hi");
    vl_wbuf_str(&b, "");
    static const uint8_t want[] = {1,  2,  3,  4,  5, 6, 7,   8,   9, 10, 11,
                                   12, 13, 14, 15, 2, 0, 'h', 'i', 0, 0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);

    vl_rbuf_t r;
    char s[8];
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_u8(&r), 0x01);
    assert_int_equal(vl_rbuf_u16(&r), 0x0302);
    assert_int_equal(vl_rbuf_u32(&r), 0x07060504);
    assert_true(vl_rbuf_u64(&r) == 0x0f0e0d0c0b0a0908ull);
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "hi");
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "");
    assert_int_equal(r.err, 0);
    assert_int_equal(r.left, 0);
    /* reading past the end fails, and the failure sticks */
    assert_int_equal(vl_rbuf_u8(&r), 0);
    assert_int_equal(r.err, VL_EPROTO);

    /* a failed wide read does not consume, but later reads still fail */
    vl_rbuf_init(&r, b.data, 3);
    assert_int_equal(vl_rbuf_u32(&r), 0);
    assert_int_equal(r.err, VL_EPROTO);
    assert_int_equal(vl_rbuf_u8(&r), 0);
    assert_int_equal(vl_rbuf_u16(&r), 0);
    assert_true(vl_rbuf_u64(&r) == 0);
    memset(s, 'z', sizeof s);
    vl_rbuf_str(&r, s, 7);
    assert_string_equal(s, "");
    assert_int_equal(vl_rbuf_count(&r, 10, 0), 0);

    /* string longer than max: error, empty output */
    vl_rbuf_init(&r, b.data + 15, 4);
    vl_rbuf_str(&r, s, 1);
    assert_string_equal(s, "");
    assert_int_equal(r.err, VL_EPROTO);
    vl_wbuf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* counts: max and bytes-left checks; item_size 0 checks max only */
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 3);
    vl_wbuf_u64(&b, 0);
    vl_wbuf_u32(&b, 0);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 3, 4), 3);
    assert_int_equal(r.err, 0);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 2, 4), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, 3, 5), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_rbuf_init(&r, b.data, 4);
    assert_int_equal(vl_rbuf_count(&r, 3, 0), 3);
    assert_int_equal(r.err, 0);
    vl_wbuf_free(&b);
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, UINT32_MAX);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_count(&r, UINT32_MAX, 1 << 20), 0);
    assert_int_equal(r.err, VL_EPROTO);
    vl_wbuf_free(&b);

    /* growth well past the first block keeps every byte */
    vl_wbuf_init(&b);
    for (uint32_t i = 0; i < 10000; i++)
        vl_wbuf_u32(&b, i * 2654435761u);
    assert_int_equal(b.len, 40000);
    assert_true(b.cap >= b.len);
    vl_rbuf_init(&r, b.data, b.len);
    for (uint32_t i = 0; i < 10000; i++)
        assert_int_equal(vl_rbuf_u32(&r), i * 2654435761u);
    assert_int_equal(r.err, 0);
    vl_wbuf_free(&b);
    vl_wbuf_free(&b); /* idempotent */

    /* an empty rbuf with no data pointer (what a failed parse leaves) */
    vl_rbuf_init(&r, NULL, 0);
    vl_rbuf_str(&r, s, 7);
    assert_int_equal(r.err, VL_EPROTO);
}

/* ---- framing ---------------------------------------------------------- */

static zmsg_t *s_raw_msg(uint32_t magic, uint16_t version, uint16_t type, uint64_t rid,
                         uint32_t cluster, uint32_t status)
{
    uint8_t h[VL_WIRE_HDR_SIZE];
    vl_put_le32(h, magic);
    vl_put_le16(h + 4, version);
    vl_put_le16(h + 6, type);
    vl_put_le64(h + 8, rid);
    vl_put_le32(h + 16, cluster);
    vl_put_le32(h + 20, status);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, h, sizeof h);
    return msg;
}

static void test_wire_msg_parse(void **state)
{
    vl_wbuf_t b;
    s_sample_encode(S_SUBSCRIBE, &b);
    for (uint16_t type = 1; type < VL_MSG_TYPE_MAX; type++) {
        for (int reply = 0; reply < 2; reply++) {
            vl_hdr_t h = {(uint16_t)(type | (reply ? VL_MSG_REPLY : 0)),
                          0x1122334455667788ull + type, 0xdeadbeef, reply ? VL_ESEALED : 0};
            zmsg_t *msg = vl_wire_msg(&h, &b);
            assert_int_equal(zmsg_size(msg), 2);
            zframe_t *f = zmsg_first(msg);
            assert_int_equal(zframe_size(f), VL_WIRE_HDR_SIZE);
            /* the documented layout, byte for byte */
            const uint8_t *p = zframe_data(f);
            assert_memory_equal(p, "VLOG", 4);
            assert_int_equal(vl_get_le16(p + 4), VL_WIRE_VERSION);
            assert_int_equal(vl_get_le16(p + 6), h.type);
            assert_true(vl_get_le64(p + 8) == h.request_id);
            assert_int_equal(vl_get_le32(p + 16), h.cluster_id);
            assert_int_equal(vl_get_le32(p + 20), h.status);
            f = zmsg_next(msg);
            assert_int_equal(zframe_size(f), b.len);
            assert_memory_equal(zframe_data(f), b.data, b.len);

            /* the payload frame rides after the body */
            zmsg_addstr(msg, "entry-1entry-2");
            vl_hdr_t got;
            vl_rbuf_t body;
            assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
            assert_int_equal(got.type, h.type);
            assert_true(got.request_id == h.request_id);
            assert_int_equal(got.cluster_id, h.cluster_id);
            assert_int_equal(got.status, h.status);
            assert_int_equal(body.left, b.len);
            assert_int_equal(body.err, 0);
            vl_subscribe_t sub;
            assert_int_equal(vl_subscribe_decode(&body, &sub), 0);
            assert_int_equal(sub.ls_id, s_subscribe.ls_id);
            assert_int_equal(zmsg_size(msg), 3);
            zmsg_destroy(&msg);
        }
    }
    vl_wbuf_free(&b);

    /* NULL body and empty body both give an empty frame 1 */
    vl_hdr_t h = {VL_MSG_GET_META, 1, 2, 0};
    vl_wbuf_init(&b);
    zmsg_t *msgs[2] = {vl_wire_msg(&h, NULL), vl_wire_msg(&h, &b)};
    for (int i = 0; i < 2; i++) {
        vl_hdr_t got;
        vl_rbuf_t body;
        assert_int_equal(zmsg_size(msgs[i]), 2);
        assert_int_equal(vl_wire_parse(msgs[i], &got, &body), 0);
        assert_int_equal(body.left, 0);
        assert_int_equal(got.type, VL_MSG_GET_META);
        zmsg_destroy(&msgs[i]);
    }
}

static void test_wire_reply(void **state)
{
    vl_hdr_t req = {VL_MSG_APPEND, 0xfeedfacecafebeefull, 99, 0};
    vl_hdr_t got;
    vl_rbuf_t body;
    char text[1100];

    /* success: reply type, same ids, empty body */
    zmsg_t *msg = vl_wire_reply(&req, 0, "ignored %d", 1);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.type, VL_MSG_APPEND | VL_MSG_REPLY);
    assert_true(got.request_id == req.request_id);
    assert_int_equal(got.cluster_id, 99);
    assert_int_equal(got.status, 0);
    assert_int_equal(body.left, 0);
    zmsg_destroy(&msg);

    /* error: formatted message in the body */
    msg = vl_wire_reply(&req, VL_ESEALED, "append ls=%d: %s; retry after unseal", 7,
                        vl_err_str(VL_ESEALED));
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.status, VL_ESEALED);
    assert_int_equal(got.type, VL_MSG_APPEND | VL_MSG_REPLY);
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "append ls=7: log stream is sealed; retry after unseal");
    /* errtext reads a copy: the body can be read again */
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "append ls=7: log stream is sealed; retry after unseal");
    /* a small output buffer truncates */
    char small[7];
    vl_wire_errtext(&body, small, sizeof small);
    assert_string_equal(small, "append");
    zmsg_destroy(&msg);

    /* error without text: empty body, errtext says so */
    msg = vl_wire_reply(&req, VL_EIO, NULL);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.status, VL_EIO);
    vl_wire_errtext(&body, text, sizeof text);
    assert_string_equal(text, "(no message)");
    zmsg_destroy(&msg);

    /* the reply to a reply keeps one reply bit */
    vl_hdr_t rep = {VL_MSG_SUBSCRIBE | VL_MSG_REPLY, 5, 6, 0};
    msg = vl_wire_reply(&rep, VL_EEOF, "%s", "done");
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    assert_int_equal(got.type, VL_MSG_SUBSCRIBE | VL_MSG_REPLY);
    zmsg_destroy(&msg);

    /* a very long message is cut, not refused, and still readable */
    char *longtext = s_repeat('m', 5000);
    msg = vl_wire_reply(&req, VL_EINVAL, "%s", longtext);
    assert_int_equal(vl_wire_parse(msg, &got, &body), 0);
    vl_wire_errtext(&body, text, sizeof text);
    assert_true(strlen(text) > 100);
    assert_true(strlen(text) < 1024);
    assert_int_equal(strspn(text, "m"), strlen(text));
    zmsg_destroy(&msg);
    free(longtext);

    /* errtext on bodies that are not a string */
    static const uint8_t trunc[] = {10, 0, 'a', 'b'};
    static const uint8_t nul[] = {3, 0, 'a', 0, 'b'};
    static const uint8_t huge[] = {0xff, 0xff, 'a'};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {{trunc, sizeof trunc}, {nul, sizeof nul}, {huge, sizeof huge}, {NULL, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *p = s_exact(bad[i].p, bad[i].n);
        vl_rbuf_init(&body, p, bad[i].n);
        vl_wire_errtext(&body, text, sizeof text);
        assert_string_equal(text, "(no message)");
        free(p);
    }
}

static void test_wire_type_name(void **state)
{
    for (uint16_t t = 1; t < VL_MSG_TYPE_MAX; t++) {
        const char *n = vl_wire_type_name(t);
        assert_non_null(n);
        assert_string_not_equal(n, "UNKNOWN");
        assert_string_equal(vl_wire_type_name(t | VL_MSG_REPLY), n);
        for (uint16_t u = 1; u < t; u++)
            assert_string_not_equal(vl_wire_type_name(u), n);
    }
    assert_string_equal(vl_wire_type_name(VL_MSG_APPEND), "APPEND");
    assert_string_equal(vl_wire_type_name(VL_MSG_STATUS), "STATUS");
    assert_string_equal(vl_wire_type_name(0), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(VL_MSG_REPLY), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(VL_MSG_TYPE_MAX), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(0x7fff), "UNKNOWN");
    assert_string_equal(vl_wire_type_name(0xffff), "UNKNOWN");
}

static void s_expect_parse(zmsg_t *msg, int want)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    memset(&body, 0xa5, sizeof body);
    int rc = vl_wire_parse(msg, &h, &body);
    assert_int_equal(rc, want);
    if (rc) {
        /* nothing to read in an unparsed body, and reading is safe */
        assert_int_equal(body.left, 0);
        assert_int_equal(s_try_meta(body.p, body.left), VL_EPROTO);
    }
}

static void test_wire_parse_malformed(void **state)
{
    zmsg_t *msg;
    vl_hdr_t h;
    vl_rbuf_t body;
    uint8_t hdr[VL_WIRE_HDR_SIZE + 1] = {0};

    /* empty message */
    msg = zmsg_new();
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);

    /* header frame of the wrong size, with a body frame after it */
    static const size_t sizes[] = {0, 1, VL_WIRE_HDR_SIZE - 1, VL_WIRE_HDR_SIZE + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vl_put_le32(hdr, VL_WIRE_MAGIC);
        vl_put_le16(hdr + 4, VL_WIRE_VERSION);
        vl_put_le16(hdr + 6, VL_MSG_PING);
        msg = zmsg_new();
        zmsg_addmem(msg, hdr, sizes[i]);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        zmsg_destroy(&msg);
    }

    /* wrong magic (byte-swapped, zero, one bit off) */
    static const uint32_t magics[] = {0x564c4f47u, 0, VL_WIRE_MAGIC ^ 1};
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
        msg = s_raw_msg(magics[i], VL_WIRE_VERSION, VL_MSG_PING, 1, 2, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        zmsg_destroy(&msg);
    }

    /* wrong version: VL_EVERSION, with the header filled for the reply */
    static const uint16_t versions[] = {0, VL_WIRE_VERSION + 1, 0xffff};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        msg = s_raw_msg(VL_WIRE_MAGIC, versions[i], VL_MSG_APPEND, 0x123456789ull, 77, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EVERSION);
        assert_int_equal(vl_wire_parse(msg, &h, &body), VL_EVERSION);
        assert_int_equal(h.type, VL_MSG_APPEND);
        assert_true(h.request_id == 0x123456789ull);
        assert_int_equal(h.cluster_id, 77);
        zmsg_t *rep =
            vl_wire_reply(&h, VL_EVERSION, "protocol version %u not supported", versions[i]);
        assert_int_equal(vl_wire_parse(rep, &h, &body), 0);
        assert_int_equal(h.status, VL_EVERSION);
        assert_true(h.request_id == 0x123456789ull);
        zmsg_destroy(&rep);
        zmsg_destroy(&msg);
    }

    /* types: 0 and >= VL_MSG_TYPE_MAX, with or without the reply bit */
    static const uint16_t types[] = {
        0,      VL_MSG_REPLY, VL_MSG_TYPE_MAX, VL_MSG_TYPE_MAX | VL_MSG_REPLY, VL_MSG_TYPE_MAX + 1,
        0x7fff, 0xffff};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, types[i], 9, 0, 0);
        zmsg_addmem(msg, NULL, 0);
        s_expect_parse(msg, VL_EPROTO);
        assert_int_equal(vl_wire_parse(msg, &h, &body), VL_EPROTO);
        assert_true(h.request_id == 9); /* still answerable */
        zmsg_destroy(&msg);
    }
    /* the edges that are valid */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_TYPE_MAX - 1, 9, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    s_expect_parse(msg, 0);
    zmsg_destroy(&msg);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, 1 | VL_MSG_REPLY, 9, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    s_expect_parse(msg, 0);
    zmsg_destroy(&msg);

    /* missing body frame */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_PING, 1, 0, 0);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);

    /* body of exactly VL_WIRE_MAX_BODY is fine, one byte more is not */
    uint8_t *big = calloc(1, VL_WIRE_MAX_BODY + 1);
    assert_non_null(big);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_REPORT, 1, 0, 0);
    zmsg_addmem(msg, big, VL_WIRE_MAX_BODY);
    assert_int_equal(vl_wire_parse(msg, &h, &body), 0);
    assert_int_equal(body.left, VL_WIRE_MAX_BODY);
    zmsg_destroy(&msg);
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_REPORT, 1, 0, 0);
    zmsg_addmem(msg, big, VL_WIRE_MAX_BODY + 1);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);
    free(big);

    /* one payload frame is fine, a second one is not (version 1 sent one
       per entry) */
    msg = s_raw_msg(VL_WIRE_MAGIC, VL_WIRE_VERSION, VL_MSG_APPEND, 1, 0, 0);
    zmsg_addmem(msg, NULL, 0);
    zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, 0);
    zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, VL_EPROTO);
    for (int i = 0; i < 100; i++)
        zmsg_addmem(msg, "e", 1);
    s_expect_parse(msg, VL_EPROTO);
    zmsg_destroy(&msg);
}

/* ---- round trips ------------------------------------------------------ */

static void test_roundtrip_report(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_report_t m;
    s_sample_encode(S_REPORT, &b);
    assert_int_equal(b.len, 8 + 29 * s_report.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_report_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.sn_id, s_report.sn_id);
    assert_int_equal(m.n, s_report.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_int_equal(m.items[i].ls_id, s_report_items[i].ls_id);
        assert_true(m.items[i].llsn_end == s_report_items[i].llsn_end);
        assert_true(m.items[i].bytes_end == s_report_items[i].bytes_end);
        assert_true(m.items[i].applied_llsn_end == s_report_items[i].applied_llsn_end);
        assert_int_equal(m.items[i].state, s_report_items[i].state);
    }
    vl_report_free(&m);
    assert_null(m.items);
    assert_int_equal(m.n, 0);
    vl_report_free(&m); /* twice is harmless */
    vl_wbuf_free(&b);

    /* no items */
    vl_report_t empty = {9, 0, NULL};
    vl_wbuf_init(&b);
    vl_report_encode(&empty, &b);
    assert_int_equal(b.len, 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_report_decode(&r, &m), 0);
    assert_int_equal(m.sn_id, 9);
    assert_int_equal(m.n, 0);
    vl_report_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_commit(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_commit_t m;
    s_sample_encode(S_COMMIT, &b);
    assert_int_equal(b.len, 12 + 64 * s_commit.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_commit_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_true(m.version == s_commit.version);
    assert_int_equal(m.n, s_commit.n);
    /* the items are plain integers with no padding holes between u32
       pairs and u64s, so compare field by field anyway for clarity */
    for (uint32_t i = 0; i < m.n; i++) {
        const vl_commit_item_t *a = &m.items[i], *e = &s_commit_items[i];
        assert_int_equal(a->topic_id, e->topic_id);
        assert_int_equal(a->ls_id, e->ls_id);
        assert_true(a->llsn_begin == e->llsn_begin);
        assert_true(a->glsn_begin == e->glsn_begin);
        assert_true(a->count == e->count);
        assert_true(a->offset_begin == e->offset_begin);
        assert_true(a->bytes == e->bytes);
        assert_true(a->hwm == e->hwm);
        assert_true(a->end_offset == e->end_offset);
    }
    vl_commit_free(&m);
    assert_null(m.items);
    vl_wbuf_free(&b);

    vl_commit_t empty = {1, 0, NULL};
    vl_wbuf_init(&b);
    vl_commit_encode(&empty, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_commit_decode(&r, &m), 0);
    assert_int_equal(m.n, 0);
    assert_true(m.version == 1);
    vl_commit_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_meta(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_meta_t m;
    s_sample_encode(S_META, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_meta_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.cluster_id, s_meta.cluster_id);
    assert_true(m.version == s_meta.version);
    assert_int_equal(m.sn_id, s_meta.sn_id);
    assert_int_equal(m.nsn, s_meta.nsn);
    for (uint32_t i = 0; i < m.nsn; i++) {
        assert_int_equal(m.sns[i].id, s_meta.sns[i].id);
        assert_string_equal(m.sns[i].addr, s_meta.sns[i].addr);
        assert_int_equal(m.sns[i].alive, s_meta.sns[i].alive);
    }
    assert_int_equal(strlen(m.sns[2].addr), VL_WIRE_MAX_ADDR);
    assert_int_equal(m.ntopics, s_meta.ntopics);
    for (uint32_t i = 0; i < m.ntopics; i++) {
        const vl_meta_topic_t *a = &m.topics[i], *e = &s_meta.topics[i];
        assert_int_equal(a->id, e->id);
        assert_string_equal(a->name, e->name);
        assert_int_equal(a->rf, e->rf);
        assert_true(a->hwm == e->hwm);
        assert_true(a->end_offset == e->end_offset);
        assert_true(a->trim_glsn == e->trim_glsn);
        assert_true(a->trim_offset == e->trim_offset);
        assert_int_equal(a->nls, e->nls);
        for (uint32_t j = 0; j < a->nls; j++) {
            assert_int_equal(a->ls[j].id, e->ls[j].id);
            assert_int_equal(a->ls[j].state, e->ls[j].state);
            assert_int_equal(a->ls[j].nrep, e->ls[j].nrep);
            for (uint32_t k = 0; k < a->ls[j].nrep; k++)
                assert_int_equal(a->ls[j].replicas[k], e->ls[j].replicas[k]);
            assert_true(a->ls[j].committed_llsn_end == e->ls[j].committed_llsn_end);
            assert_true(a->ls[j].committed_bytes == e->ls[j].committed_bytes);
            assert_int_equal(a->ls[j].epoch, e->ls[j].epoch);
            assert_int_equal(a->ls[j].seal_sn, e->ls[j].seal_sn);
        }
    }
    assert_int_equal(strlen(m.topics[2].name), VL_WIRE_MAX_NAME);
    assert_int_equal(m.topics[2].ls[0].nrep, VL_WIRE_MAX_REPLICAS);

    /* lookups */
    assert_ptr_equal(vl_meta_topic_by_name(&m, "orders"), &m.topics[0]);
    assert_ptr_equal(vl_meta_topic_by_name(&m, "a"), &m.topics[1]);
    assert_null(vl_meta_topic_by_name(&m, "order"));
    assert_null(vl_meta_topic_by_name(&m, ""));
    assert_ptr_equal(vl_meta_topic_by_id(&m, UINT32_MAX), &m.topics[2]);
    assert_null(vl_meta_topic_by_id(&m, 3));
    assert_ptr_equal(vl_meta_sn_by_id(&m, 5), &m.sns[2]);
    assert_null(vl_meta_sn_by_id(&m, 3));
    vl_meta_free(&m);
    assert_int_equal(m.nsn, 0);
    assert_int_equal(m.ntopics, 0);
    assert_null(vl_meta_topic_by_name(&m, "orders"));
    vl_meta_free(&m);
    vl_wbuf_free(&b);

    /* an empty cluster */
    vl_meta_t empty = {7, 1, 0, 0, NULL, 0, NULL};
    vl_wbuf_init(&b);
    vl_meta_encode(&empty, &b);
    assert_int_equal(b.len, 24);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_meta_decode(&r, &m), 0);
    assert_int_equal(m.cluster_id, 7);
    assert_int_equal(m.nsn, 0);
    assert_int_equal(m.ntopics, 0);
    vl_meta_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_admin(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_admin_t m;
    s_sample_encode(S_ADMIN, &b);
    assert_int_equal(b.len, 2 + VL_WIRE_MAX_NAME + 2 + strlen(s_admin.addr) + 12 + 16 + 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_admin_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.name, s_admin.name);
    assert_string_equal(m.addr, s_admin.addr);
    assert_int_equal(m.id, s_admin.id);
    assert_int_equal(m.nls, s_admin.nls);
    assert_int_equal(m.rf, s_admin.rf);
    assert_true(m.glsn == s_admin.glsn);
    assert_true(m.offset == s_admin.offset);
    assert_int_equal(m.sn_from, s_admin.sn_from);
    assert_int_equal(m.sn_to, s_admin.sn_to);
    vl_wbuf_free(&b);

    /* the fields a request does not use stay empty */
    vl_admin_t trim = {.id = 3, .glsn = 10, .offset = 99};
    vl_wbuf_init(&b);
    vl_admin_encode(&trim, &b);
    assert_int_equal(b.len, 4 + 12 + 16 + 8);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_admin_decode(&r, &m), 0);
    assert_string_equal(m.name, "");
    assert_string_equal(m.addr, "");
    assert_int_equal(m.id, 3);
    assert_true(m.glsn == 10);
    assert_true(m.offset == 99);
    assert_int_equal(m.sn_from, 0);
    assert_int_equal(m.sn_to, 0);
    vl_wbuf_free(&b);
}

static void test_roundtrip_append(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_append_t m;
    s_fill_sizes();

    s_sample_encode(S_APPEND, &b);
    assert_int_equal(b.len, 28 + 4 * VL_WIRE_MAX_ENTRIES);
    /* the sizes follow n, as they are, little endian */
    assert_memory_equal(b.data + 28, s_append_sizes, sizeof s_append_sizes);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_decode(&r, false, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.topic_id, s_append.topic_id);
    assert_int_equal(m.ls_id, s_append.ls_id);
    assert_int_equal(m.n, VL_WIRE_MAX_ENTRIES);
    assert_true(m.client_id == s_append.client_id);
    assert_true(m.batch_seq == s_append.batch_seq);
    assert_true(m.llsn_begin == 0); /* not on the wire for APPEND */
    assert_true(m.bytes_before == 0);
    assert_int_equal(m.epoch, 0);
    assert_int_equal(m.nbids, 0);
    assert_ptr_equal(m.sizes, b.data + 28); /* borrowed, not copied */
    for (uint32_t i = 0; i < m.n; i++)
        assert_int_equal(vl_wire_size(m.sizes, i), i * 2654435761u);
    vl_wbuf_free(&b);

    s_sample_encode(S_REPLICATE, &b);
    assert_int_equal(b.len, 36 + 2 * VL_WIRE_BID_SIZE + 4 * VL_WIRE_MAX_ENTRIES);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_decode(&r, true, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.topic_id, s_append.topic_id);
    assert_int_equal(m.ls_id, s_append.ls_id);
    assert_int_equal(m.n, s_append.n);
    assert_true(m.client_id == 0); /* not on the wire for REPLICATE */
    assert_true(m.llsn_begin == s_append.llsn_begin);
    assert_true(m.bytes_before == s_append.bytes_before);
    assert_int_equal(m.epoch, s_append.epoch);
    assert_int_equal(m.nbids, 2);
    assert_ptr_equal(m.bids, b.data + 36);
    vl_batch_id_t id;
    vl_wire_bid(m.bids, 0, &id);
    assert_true(id.llsn_begin == 90 && id.client_id == 0xfeedfacecafe0001ull &&
                id.batch_seq == 76 && id.n == 20);
    vl_wire_bid(m.bids, 1, &id);
    assert_true(id.llsn_begin == 110 && id.client_id == UINT64_MAX &&
                id.batch_seq == UINT64_MAX && id.n == UINT32_MAX);
    assert_ptr_equal(m.sizes, b.data + 36 + 2 * VL_WIRE_BID_SIZE);
    assert_memory_equal(m.sizes, s_append_sizes, sizeof s_append_sizes);
    vl_wbuf_free(&b);

    /* no entries: no sizes, NULL is fine to encode */
    vl_append_t none = {.topic_id = 1, .ls_id = 2, .llsn_begin = 3, .bytes_before = 4, .epoch = 5};
    for (int rep = 0; rep < 2; rep++) {
        vl_wbuf_init(&b);
        vl_append_encode(&none, rep, &b);
        assert_int_equal(b.len, rep ? 36 : 28);
        vl_rbuf_init(&r, b.data, b.len);
        assert_int_equal(vl_append_decode(&r, rep, &m), 0);
        assert_int_equal(m.n, 0);
        vl_wbuf_free(&b);
    }

    /* more batch names than entries + 1: refused */
    {
        vl_append_t few = s_append;
        few.n = 1;
        vl_wbuf_init(&b);
        vl_append_encode(&few, true, &b);
        assert_int_equal(s_try_wbuf(s_try_replicate, &b), 0);
        vl_put_le32(b.data + 8, 0); /* n = 0 with 2 names */
        assert_int_equal(s_try_wbuf(s_try_replicate, &b), VL_EPROTO);
        vl_wbuf_free(&b);
    }

    /* n > VL_WIRE_MAX_ENTRIES is refused in both forms, even with the
       sizes there (the n field is patched: the encoder would read n sizes) */
    for (int rep = 0; rep < 2; rep++) {
        static const uint32_t ns[] = {VL_WIRE_MAX_ENTRIES + 1, UINT32_MAX};
        for (size_t i = 0; i < 2; i++) {
            vl_wbuf_init(&b);
            vl_append_encode(&s_append, rep, &b);
            vl_wbuf_u32(&b, 0);
            vl_put_le32(b.data + (rep ? 8 : 24), ns[i]);
            assert_int_equal(s_try_wbuf(rep ? s_try_replicate : s_try_append, &b), VL_EPROTO);
            vl_wbuf_free(&b);
        }
    }
    /* fewer sizes than n: refused */
    for (int rep = 0; rep < 2; rep++) {
        vl_wbuf_init(&b);
        vl_append_encode(&s_append, rep, &b);
        b.len -= 1;
        assert_int_equal(s_try_wbuf(rep ? s_try_replicate : s_try_append, &b), VL_EPROTO);
        vl_wbuf_free(&b);
    }
}

static void test_roundtrip_batch_status(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    s_sample_encode(S_BATCH_STATUS, &b);
    assert_int_equal(b.len, 32);
    vl_batch_status_t m;
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_batch_status_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_memory_equal(&m, &s_batch_status, sizeof m);
    vl_wbuf_free(&b);

    s_sample_encode(S_BATCH_STATUS_REPLY, &b);
    vl_batch_status_reply_t rm;
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_batch_status_reply_decode(&r, &rm), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(rm.final, 1);
    assert_int_equal(rm.found, 1);
    assert_int_equal(rm.n, 40);
    assert_true(rm.ar.llsn_begin == 77);
    assert_int_equal(rm.ar.nruns, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(rm.ar.runs[i].glsn_begin == s_runs[i].glsn_begin);
        assert_int_equal(rm.ar.runs[i].count, s_runs[i].count);
    }
    vl_append_reply_free(&rm.ar);
    vl_wbuf_free(&b);
}

/*  Builds an APPEND message of n entries with the given sizes and frames
    payload frames of the given lengths. */
static zmsg_t *s_batch_msg(uint32_t n, const uint32_t *sizes, int frames, const size_t *lens)
{
    uint8_t raw[4 * 8];
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++)
        vl_put_le32(raw + 4 * i, sizes[i]);
    vl_append_t a = {.topic_id = 1, .ls_id = 2, .n = n, .sizes = raw};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    vl_hdr_t h = {VL_MSG_APPEND, 1, 2, 0};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    for (int f = 0; f < frames; f++) {
        uint8_t *mem = calloc(1, lens[f] + 1);
        for (size_t k = 0; k < lens[f]; k++)
            mem[k] = (uint8_t)('a' + k % 26);
        zmsg_addmem(msg, mem, lens[f]);
        free(mem);
    }
    return msg;
}

/*  Parses msg as a receiver does; returns vl_wire_payload's result. */
static int s_check_batch(zmsg_t *msg, zframe_t **data_p)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &h, &body);
    if (rc)
        return rc;
    vl_append_t a;
    assert_int_equal(vl_append_decode(&body, false, &a), 0);
    char why[160] = "";
    rc = vl_wire_payload(msg, a.n, vl_wire_sizes_sum(a.sizes, a.n), data_p, why, sizeof why);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_true(strlen(why) > 0); /* says what is wrong */
        assert_null(*data_p);
    }
    return rc;
}

static void test_batch_payload(void **state)
{
    zmsg_t *msg;
    zframe_t *data;

    /* round trip: entries back to back in one frame, sliced by the sizes */
    {
        static const uint32_t sizes[] = {3, 0, 5, 1};
        static const size_t lens[] = {9};
        msg = s_batch_msg(4, sizes, 1, lens);
        assert_int_equal(zmsg_size(msg), 3);
        assert_int_equal(s_check_batch(msg, &data), 0);
        assert_non_null(data);
        assert_ptr_equal(data, zmsg_last(msg));
        assert_int_equal(zframe_size(data), 9);
        assert_memory_equal(zframe_data(data), "abcdefghi", 9);
        zmsg_destroy(&msg);
    }
    /* no entries and no payload frame: fine, no data */
    msg = s_batch_msg(0, NULL, 0, NULL);
    assert_int_equal(s_check_batch(msg, &data), 0);
    assert_null(data);
    zmsg_destroy(&msg);
    /* n entries of size 0: one empty payload frame */
    {
        static const uint32_t sizes[] = {0, 0};
        static const size_t lens[] = {0};
        msg = s_batch_msg(2, sizes, 1, lens);
        assert_int_equal(s_check_batch(msg, &data), 0);
        assert_int_equal(zframe_size(data), 0);
        zmsg_destroy(&msg);
    }

    /* malformed: sizes add up to more, or less, than the frame */
    {
        static const uint32_t sizes[] = {3, 4};
        static const size_t more[] = {6}, less[] = {8};
        msg = s_batch_msg(2, sizes, 1, more);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, sizes, 1, less);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
    }
    /* malformed: sizes whose sum wraps in 32 bits to the frame's size */
    {
        static const uint32_t wrap0[] = {UINT32_MAX, 1}, wrap2[] = {UINT32_MAX, 3},
                              wrap_many[] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                                             UINT32_MAX, UINT32_MAX, UINT32_MAX, 8};
        static const size_t zero[] = {0}, two[] = {2}, one[] = {1};
        msg = s_batch_msg(2, wrap0, 1, zero);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, wrap2, 1, two);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(8, wrap_many, 1, one);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        assert_true(vl_wire_sizes_sum((const uint8_t *)"\xff\xff\xff\xff\x01\0\0\0", 2) ==
                    (uint64_t)UINT32_MAX + 1);
    }
    /* malformed: entries but no payload frame; a payload frame for no
       entries; two payload frames (the sizes match their sum, as version 1
       would have sent them) */
    {
        static const uint32_t sizes[] = {4, 4};
        static const size_t lens[] = {4, 4}, eight[] = {8};
        msg = s_batch_msg(2, sizes, 0, NULL);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(0, NULL, 1, eight);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO);
        zmsg_destroy(&msg);
        msg = s_batch_msg(2, sizes, 2, lens);
        assert_int_equal(s_check_batch(msg, &data), VL_EPROTO); /* refused by the parse */
        zframe_t *f = NULL;
        char why[160] = "";
        assert_int_equal(vl_wire_payload(msg, 2, 8, &f, why, sizeof why), VL_EPROTO);
        assert_null(f);
        assert_non_null(strstr(why, "2 payload frames"));
        zmsg_destroy(&msg);
    }
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_append_reply(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_append_reply_t m;
    s_sample_encode(S_APPEND_REPLY, &b);
    assert_int_equal(b.len, 12 + 12 * s_append_reply.nruns);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_reply_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_true(m.llsn_begin == s_append_reply.llsn_begin);
    assert_int_equal(m.nruns, s_append_reply.nruns);
    for (uint32_t i = 0; i < m.nruns; i++) {
        assert_true(m.runs[i].glsn_begin == s_runs[i].glsn_begin);
        assert_int_equal(m.runs[i].count, s_runs[i].count);
    }
    vl_append_reply_free(&m);
    assert_null(m.runs);
    vl_wbuf_free(&b);

    /* the REPLICATE reply form: durable end, no runs */
    vl_append_reply_t rep = {12345, 0, NULL};
    vl_wbuf_init(&b);
    vl_append_reply_encode(&rep, &b);
    assert_int_equal(b.len, 12);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_append_reply_decode(&r, &m), 0);
    assert_true(m.llsn_begin == 12345);
    assert_int_equal(m.nruns, 0);
    vl_append_reply_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_subscribe(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_subscribe_t m;
    s_sample_encode(S_SUBSCRIBE, &b);
    /* layout pinned byte for byte: u32 u32 u64 u64 u32, little endian */
    static const uint8_t want[] = {3,    0,    0,    0,    9,  0, 0,    0,    17,   0,
                                   0,    0,    0,    0,    0,  0, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 64, 0, 0,    0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_subscribe_decode(&r, &m), 0);
    assert_int_equal(m.topic_id, 3);
    assert_int_equal(m.ls_id, 9);
    assert_true(m.glsn_begin == 17);
    assert_true(m.glsn_end == VL_GLSN_MAX);
    assert_int_equal(m.credit, 64);
    vl_wbuf_free(&b);
}

static void test_roundtrip_sub_data(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_sub_data_t m;
    s_sample_encode(S_SUB_DATA, &b);
    assert_int_equal(b.len, 5 + 28 * s_sub_data.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sub_data_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.last, 1);
    assert_int_equal(m.n, s_sub_data.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_true(m.entries[i].glsn == s_entries[i].glsn);
        assert_true(m.entries[i].llsn == s_entries[i].llsn);
        assert_true(m.entries[i].offset == s_entries[i].offset);
        assert_int_equal(m.entries[i].size, s_entries[i].size);
    }
    vl_sub_data_free(&m);
    assert_null(m.entries);
    vl_wbuf_free(&b);

    /* LOOKUP reply form: not found, no entries */
    vl_sub_data_t none = {0, 0, NULL};
    vl_wbuf_init(&b);
    vl_sub_data_encode(&none, &b);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sub_data_decode(&r, &m), 0);
    assert_int_equal(m.last, 0);
    assert_int_equal(m.n, 0);
    vl_sub_data_free(&m);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_sn_status(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_sn_status_t m;
    s_sample_encode(S_SN_STATUS, &b);
    assert_int_equal(b.len, 2 + strlen(s_sn_status.addr) + 20 + 49 * s_sn_status.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sn_status_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.addr, s_sn_status.addr);
    assert_true(m.disk_total == s_sn_status.disk_total);
    assert_true(m.disk_free == s_sn_status.disk_free);
    assert_int_equal(m.n, s_sn_status.n);
    for (uint32_t i = 0; i < m.n; i++) {
        const vl_sn_replica_t *a = &m.replicas[i], *e = &s_replicas[i];
        assert_int_equal(a->topic_id, e->topic_id);
        assert_int_equal(a->ls_id, e->ls_id);
        assert_true(a->llsn_end == e->llsn_end);
        assert_true(a->bytes_end == e->bytes_end);
        assert_true(a->committed_llsn_end == e->committed_llsn_end);
        assert_true(a->committed_glsn_end == e->committed_glsn_end);
        assert_true(a->trim_glsn == e->trim_glsn);
        assert_int_equal(a->state, e->state);
    }
    vl_sn_status_free(&m);
    assert_null(m.replicas);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

static void test_roundtrip_seal_sync(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_seal_reply_t s;
    s_sample_encode(S_SEAL_REPLY, &b);
    assert_int_equal(b.len, 20);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_seal_reply_decode(&r, &s), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(s.ls_id, s_seal_reply.ls_id);
    assert_true(s.llsn_end == s_seal_reply.llsn_end);
    assert_true(s.glsn_end == s_seal_reply.glsn_end);
    /* it begins with the id u32 of every admin reply */
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_rbuf_u32(&r), s_seal_reply.ls_id);
    vl_wbuf_free(&b);

    vl_sync_t y;
    s_sample_encode(S_SYNC, &b);
    assert_int_equal(b.len, 20 + 2 + strlen(s_sync.dest_addr) + 4);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_decode(&r, &y), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(y.topic_id, s_sync.topic_id);
    assert_int_equal(y.ls_id, s_sync.ls_id);
    assert_true(y.llsn_end == s_sync.llsn_end);
    assert_int_equal(y.dest_sn, s_sync.dest_sn);
    assert_string_equal(y.dest_addr, s_sync.dest_addr);
    assert_int_equal(y.epoch, s_sync.epoch);
    vl_wbuf_free(&b);

    vl_sync_reply_t m;
    s_sample_encode(S_SYNC_REPLY, &b);
    assert_int_equal(b.len, 4 + 28 * s_sync_reply.n);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_reply_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_int_equal(m.n, s_sync_reply.n);
    for (uint32_t i = 0; i < m.n; i++) {
        assert_int_equal(m.items[i].ls_id, s_sync_items[i].ls_id);
        assert_int_equal(m.items[i].src_sn, s_sync_items[i].src_sn);
        assert_int_equal(m.items[i].dest_sn, s_sync_items[i].dest_sn);
        assert_true(m.items[i].dest_llsn_end == s_sync_items[i].dest_llsn_end);
        assert_true(m.items[i].llsn_end == s_sync_items[i].llsn_end);
    }
    vl_sync_reply_free(&m);
    assert_null(m.items);
    vl_wbuf_free(&b);

    /* nothing to sync */
    vl_sync_reply_t none = {0, NULL};
    vl_wbuf_init(&b);
    vl_sync_reply_encode(&none, &b);
    assert_int_equal(b.len, 4);
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_sync_reply_decode(&r, &m), 0);
    assert_int_equal(m.n, 0);
    vl_sync_reply_free(&m);
    vl_wbuf_free(&b);

    /* a count beyond the body allocates nothing */
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 1000);
    for (int k = 0; k < 28; k++)
        vl_wbuf_u8(&b, 0);
    assert_int_equal(s_try_wbuf(s_try_sync_reply, &b), VL_EPROTO);
    assert_int_equal(s_calloc_calls, 0);
    vl_wbuf_free(&b);
    assert_int_equal(s_nlive, 0);
}

/*  VL_ENOTLEADER: the leader's endpoint, or nothing; what a follower
    builds with vl_wire_reply decodes to the same hint. */
static void test_notleader(void **state)
{
    vl_wbuf_t b;
    vl_rbuf_t r;
    vl_notleader_t m;
    s_sample_encode(S_NOTLEADER, &b);
    assert_int_equal(b.len, 2 + strlen(s_notleader.leader));
    vl_rbuf_init(&r, b.data, b.len);
    assert_int_equal(vl_notleader_decode(&r, &m), 0);
    assert_int_equal(r.left, 0);
    assert_string_equal(m.leader, s_notleader.leader);
    vl_wbuf_free(&b);

    /* no leader known: an empty string */
    vl_notleader_t none = {""};
    vl_wbuf_init(&b);
    vl_notleader_encode(&none, &b);
    assert_int_equal(b.len, 2);
    vl_rbuf_init(&r, b.data, b.len);
    memset(&m, 0xa5, sizeof m);
    assert_int_equal(vl_notleader_decode(&r, &m), 0);
    assert_string_equal(m.leader, "");
    vl_wbuf_free(&b);

    /* the reply a follower sends, as a requester parses it */
    const char *leaders[] = {"tcp://127.0.0.1:9094", ""};
    for (size_t i = 0; i < 2; i++) {
        vl_hdr_t req = {.type = VL_MSG_GET_META, .request_id = 42};
        zmsg_t *msg = vl_wire_reply(&req, VL_ENOTLEADER, "%s", leaders[i]);
        vl_hdr_t h;
        vl_rbuf_t body;
        assert_int_equal(vl_wire_parse(msg, &h, &body), 0);
        assert_int_equal(h.status, VL_ENOTLEADER);
        assert_int_equal(h.type, VL_MSG_GET_META | VL_MSG_REPLY);
        assert_int_equal(vl_notleader_decode(&body, &m), 0);
        assert_string_equal(m.leader, leaders[i]);
        zmsg_destroy(&msg);
    }

    /* malformed: no body, half a length, a length past the end (an
       overlong endpoint and an embedded NUL: test_bad_strings) */
    assert_int_equal(s_try_exact(s_try_notleader, NULL, 0), VL_EPROTO);
    static const uint8_t half[] = {5};
    assert_int_equal(s_try_exact(s_try_notleader, half, sizeof half), VL_EPROTO);
    static const uint8_t past[] = {9, 0, 't', 'c', 'p'};
    assert_int_equal(s_try_exact(s_try_notleader, past, sizeof past), VL_EPROTO);

    /* the code itself: stable, retryable */
    assert_int_equal(VL_ENOTLEADER, 25);
    assert_int_equal(vl_err_errno(VL_ENOTLEADER), EAGAIN);
    assert_string_equal(vl_err_name(VL_ENOTLEADER), "VL_ENOTLEADER");
}

/* ---- malformed bodies ------------------------------------------------- */

/*  Every strict prefix of every valid encoding must fail with VL_EPROTO,
    without reading past it and without leaving an allocation; the whole
    encoding must pass. */
static void test_truncated_every_length(void **state)
{
    for (int c = 0; c < S_NCODECS; c++) {
        vl_wbuf_t b;
        s_sample_encode(c, &b);
        assert_true(b.len > 0);
        for (size_t len = 0; len < b.len; len++) {
            int rc = s_try_exact(s_codecs[c].try, b.data, len);
            if (rc != VL_EPROTO)
                fail_msg("%s: prefix of %zu/%zu bytes gave %d", s_codecs[c].name, len, b.len, rc);
        }
        if (s_try_wbuf(s_codecs[c].try, &b) != 0)
            fail_msg("%s: full encoding refused", s_codecs[c].name);
        vl_wbuf_free(&b);
    }
}

/*  Array counts that claim more items than the body holds (or more than a
    limit) must fail before any array is allocated. */
static void test_counts_beyond_body(void **state)
{
    static const uint32_t counts[] = {
        UINT32_MAX, 0x80000000u, 1u << 20, 1u << 16, 65537, VL_WIRE_MAX_ENTRIES + 1, 1000, 2};
    vl_wbuf_t b;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        uint32_t n = counts[i];
        /* each body holds exactly one item, so any count > 1 is a lie */
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u32(&b, n);
        for (int k = 0; k < 29; k++)
            vl_wbuf_u8(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_report, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        vl_wbuf_init(&b);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, n);
        for (int k = 0; k < 64; k++)
            vl_wbuf_u8(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_commit, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        vl_wbuf_init(&b);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, n);
        for (int k = 0; k < 12; k++)
            vl_wbuf_u8(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_append_reply, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        vl_wbuf_init(&b);
        vl_wbuf_u8(&b, 0);
        vl_wbuf_u32(&b, n);
        for (int k = 0; k < 28; k++)
            vl_wbuf_u8(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_sub_data, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        vl_wbuf_init(&b);
        vl_wbuf_str(&b, "tcp://x:1");
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, n);
        for (int k = 0; k < 49; k++)
            vl_wbuf_u8(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_sn_status, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        /* META: the SN list */
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, n);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_str(&b, "");
        vl_wbuf_u8(&b, 1);
        vl_wbuf_u32(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_meta, &b), VL_EPROTO);
        assert_int_equal(s_calloc_calls, 0);
        vl_wbuf_free(&b);

        /* META: the topic list, after SNs were allocated */
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_str(&b, "tcp://x:1");
        vl_wbuf_u8(&b, 1);
        vl_wbuf_u32(&b, n);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_str(&b, "t");
        vl_wbuf_u32(&b, 1);
        for (int k = 0; k < 4; k++)
            vl_wbuf_u64(&b, 0);
        vl_wbuf_u32(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_meta, &b), VL_EPROTO);
        assert_true(s_calloc_calls <= 1); /* the SN array only */
        vl_wbuf_free(&b);

        /* META: a topic's log streams, in the second topic, after the
           first topic's log streams were allocated */
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 2);
        for (int t = 0; t < 2; t++) {
            vl_wbuf_u32(&b, (uint32_t)t);
            vl_wbuf_str(&b, t ? "second" : "first");
            vl_wbuf_u32(&b, 1);
            for (int k = 0; k < 4; k++)
                vl_wbuf_u64(&b, 0);
            vl_wbuf_u32(&b, t ? n : 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u8(&b, VL_LS_RUNNING);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u64(&b, 0);
            vl_wbuf_u64(&b, 0);
        }
        assert_int_equal(s_try_wbuf(s_try_meta, &b), VL_EPROTO);
        assert_true(s_calloc_calls <= 3); /* SNs, topics, first topic's streams */
        vl_wbuf_free(&b);
    }

    /* the same bodies with an honest count pass, so the above failed for
       the count and not for something else */
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, 1);
    vl_wbuf_u32(&b, 1);
    for (int k = 0; k < 29; k++)
        vl_wbuf_u8(&b, 0);
    assert_int_equal(s_try_wbuf(s_try_report, &b), 0);
    vl_wbuf_free(&b);
    vl_wbuf_init(&b);
    vl_wbuf_u8(&b, 0);
    vl_wbuf_u32(&b, 1);
    for (int k = 0; k < 28; k++)
        vl_wbuf_u8(&b, 0);
    assert_int_equal(s_try_wbuf(s_try_sub_data, &b), 0);
    vl_wbuf_free(&b);
}

/*  Counts over a documented limit fail even when the bytes are there. */
static void test_counts_over_limit(void **state)
{
    vl_wbuf_t b;

    /* runs and sub data entries: at most VL_WIRE_MAX_ENTRIES */
    for (uint32_t n = VL_WIRE_MAX_ENTRIES; n <= VL_WIRE_MAX_ENTRIES + 1; n++) {
        int want = n > VL_WIRE_MAX_ENTRIES ? VL_EPROTO : 0;
        vl_wbuf_init(&b);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, n);
        for (uint32_t i = 0; i < n; i++) {
            vl_wbuf_u64(&b, i);
            vl_wbuf_u32(&b, 1);
        }
        assert_int_equal(s_try_wbuf(s_try_append_reply, &b), want);
        vl_wbuf_free(&b);

        vl_wbuf_init(&b);
        vl_wbuf_u8(&b, 1);
        vl_wbuf_u32(&b, n);
        for (uint32_t i = 0; i < n; i++) {
            vl_wbuf_u64(&b, i);
            vl_wbuf_u64(&b, i);
            vl_wbuf_u64(&b, i);
            vl_wbuf_u32(&b, i);
        }
        assert_int_equal(s_try_wbuf(s_try_sub_data, &b), want);
        vl_wbuf_free(&b);
    }

    /* replicas of a log stream: at most VL_WIRE_MAX_REPLICAS (the array
       is fixed-size, so one more would overflow it) */
    static const uint32_t nreps[] = {VL_WIRE_MAX_REPLICAS, VL_WIRE_MAX_REPLICAS + 1, 64,
                                     UINT32_MAX};
    for (size_t i = 0; i < sizeof nreps / sizeof nreps[0]; i++) {
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_str(&b, "t");
        vl_wbuf_u32(&b, 3);
        for (int k = 0; k < 4; k++)
            vl_wbuf_u64(&b, 0);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u32(&b, 1);
        vl_wbuf_u8(&b, VL_LS_RUNNING);
        vl_wbuf_u32(&b, nreps[i]);
        /* enough bytes for 64 replicas, so only the limit can refuse */
        for (uint32_t k = 0; k < (nreps[i] < 64 ? nreps[i] : 64); k++)
            vl_wbuf_u32(&b, k + 1);
        vl_wbuf_u64(&b, 0); /* committed_llsn_end, committed_bytes, epoch, seal_sn */
        vl_wbuf_u64(&b, 0);
        vl_wbuf_u32(&b, 0);
        vl_wbuf_u32(&b, 0);
        int want = nreps[i] <= VL_WIRE_MAX_REPLICAS ? 0 : VL_EPROTO;
        assert_int_equal(s_try_wbuf(s_try_meta, &b), want);
        vl_wbuf_free(&b);
    }
}

/*  Strings: longer than the maximum, longer than the body, embedded NUL. */
static void test_bad_strings(void **state)
{
    vl_wbuf_t b;
    char *s255 = s_repeat('s', 255), *s256 = s_repeat('s', 256);
    static const char nul_name[] = {'a', 'b', 0, 'c'};
    static const char nul_end[] = {'a', 0};
    static const char nul_start[] = {0, 'a'};

    /* admin: name then addr */
    for (int field = 0; field < 2; field++) {
        struct {
            const void *p;
            uint16_t n;
            int want;
        } cases[] = {
            {s255, 255, 0},
            {s256, 256, VL_EPROTO},
            {nul_name, sizeof nul_name, VL_EPROTO},
            {nul_end, sizeof nul_end, VL_EPROTO},
            {nul_start, sizeof nul_start, VL_EPROTO},
            {"", 0, 0},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            vl_wbuf_init(&b);
            if (field == 0) {
                s_raw_str(&b, cases[i].p, cases[i].n);
                vl_wbuf_str(&b, "tcp://x:1");
            } else {
                vl_wbuf_str(&b, "name");
                s_raw_str(&b, cases[i].p, cases[i].n);
            }
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u64(&b, 1);
            vl_wbuf_u64(&b, 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            if (s_try_wbuf(s_try_admin, &b) != cases[i].want)
                fail_msg("admin field %d case %zu", field, i);
            vl_wbuf_free(&b);
        }
        /* a length that runs past the end of the body */
        vl_wbuf_init(&b);
        if (field == 1)
            vl_wbuf_str(&b, "name");
        vl_wbuf_u16(&b, 200);
        for (int k = 0; k < 50; k++)
            vl_wbuf_u8(&b, 'x');
        assert_int_equal(s_try_wbuf(s_try_admin, &b), VL_EPROTO);
        vl_wbuf_free(&b);
        vl_wbuf_init(&b);
        vl_wbuf_u16(&b, UINT16_MAX);
        assert_int_equal(s_try_wbuf(s_try_admin, &b), VL_EPROTO);
        vl_wbuf_free(&b);
    }

    /* META: SN address, topic name */
    for (int field = 0; field < 2; field++) {
        const struct {
            const void *p;
            uint16_t n;
            int want;
        } cases[] = {
            {s255, 255, 0}, {s256, 256, VL_EPROTO}, {nul_name, sizeof nul_name, VL_EPROTO}};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            vl_wbuf_init(&b);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u64(&b, 1);
            vl_wbuf_u32(&b, 0);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            if (field == 0)
                s_raw_str(&b, cases[i].p, cases[i].n);
            else
                vl_wbuf_str(&b, "tcp://x:1");
            vl_wbuf_u8(&b, 1);
            vl_wbuf_u32(&b, 1);
            vl_wbuf_u32(&b, 1);
            if (field == 1)
                s_raw_str(&b, cases[i].p, cases[i].n);
            else
                vl_wbuf_str(&b, "t");
            vl_wbuf_u32(&b, 1);
            for (int k = 0; k < 4; k++)
                vl_wbuf_u64(&b, 0);
            vl_wbuf_u32(&b, 0);
            if (s_try_wbuf(s_try_meta, &b) != cases[i].want)
                fail_msg("meta field %d case %zu", field, i);
            vl_wbuf_free(&b);
        }
    }

    /* SN status address; the leader a VL_ENOTLEADER reply names */
    const struct {
        const void *p;
        uint16_t n;
        int want;
    } cases[] = {{s255, 255, 0}, {s256, 256, VL_EPROTO}, {nul_end, sizeof nul_end, VL_EPROTO},
                 {nul_name, sizeof nul_name, VL_EPROTO}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vl_wbuf_init(&b);
        s_raw_str(&b, cases[i].p, cases[i].n);
        assert_int_equal(s_try_wbuf(s_try_notleader, &b), cases[i].want);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u64(&b, 1);
        vl_wbuf_u32(&b, 0);
        assert_int_equal(s_try_wbuf(s_try_sn_status, &b), cases[i].want);
        vl_wbuf_free(&b);
    }
    free(s255);
    free(s256);
}

/*  A decoder that starts on a reader that already failed fails too. */
static void test_sticky_reader(void **state)
{
    for (int c = 0; c < S_NCODECS; c++) {
        vl_wbuf_t b;
        s_sample_encode(c, &b);
        uint8_t *p = s_exact(b.data, b.len);
        vl_rbuf_t r;
        vl_rbuf_init(&r, p, b.len);
        r.err = VL_EPROTO;
        vl_report_t rep;
        vl_commit_t com;
        vl_meta_t meta;
        vl_admin_t adm;
        vl_append_t app;
        vl_append_reply_t ar;
        vl_subscribe_t sub;
        vl_sub_data_t sd;
        vl_sn_status_t st;
        vl_seal_reply_t sr;
        vl_sync_t sy;
        vl_sync_reply_t syr;
        vl_batch_status_t bs;
        vl_batch_status_reply_t bsr;
        vl_notleader_t nl;
        int rc = -1;
        switch (c) {
        case S_REPORT:
            rc = vl_report_decode(&r, &rep);
            break;
        case S_COMMIT:
            rc = vl_commit_decode(&r, &com);
            break;
        case S_META:
            rc = vl_meta_decode(&r, &meta);
            break;
        case S_ADMIN:
            rc = vl_admin_decode(&r, &adm);
            break;
        case S_APPEND:
            rc = vl_append_decode(&r, false, &app);
            break;
        case S_REPLICATE:
            rc = vl_append_decode(&r, true, &app);
            break;
        case S_APPEND_REPLY:
            rc = vl_append_reply_decode(&r, &ar);
            break;
        case S_SUBSCRIBE:
            rc = vl_subscribe_decode(&r, &sub);
            break;
        case S_SUB_DATA:
            rc = vl_sub_data_decode(&r, &sd);
            break;
        case S_SN_STATUS:
            rc = vl_sn_status_decode(&r, &st);
            break;
        case S_SEAL_REPLY:
            rc = vl_seal_reply_decode(&r, &sr);
            break;
        case S_SYNC:
            rc = vl_sync_decode(&r, &sy);
            break;
        case S_SYNC_REPLY:
            rc = vl_sync_reply_decode(&r, &syr);
            break;
        case S_BATCH_STATUS:
            rc = vl_batch_status_decode(&r, &bs);
            break;
        case S_BATCH_STATUS_REPLY:
            rc = vl_batch_status_reply_decode(&r, &bsr);
            break;
        case S_NOTLEADER:
            rc = vl_notleader_decode(&r, &nl);
            break;
        }
        assert_int_equal(rc, VL_EPROTO);
        assert_int_equal(s_nlive, 0);
        free(p);
        vl_wbuf_free(&b);
    }
}

/* ---- topic names -------------------------------------------------------- */

static void test_topic_name_valid(void **state)
{
    static const char *good[] = {"orders",    "a",
                                 "A",         "0",
                                 "_",         "-",
                                 "a.b",       "a..b",
                                 "x-y_z.0",   "-leading-dash",
                                 "trailing.", "ABCxyz0123456789"};
    static const char *bad[] = {"",    ".",           ".hidden", "..",   "a/b",  "/a",
                                "a b", " a",          "a ",      "a\tb", "a\nb", "a:b",
                                "a*",  "caf\xc3\xa9", "\x80",    "\xff", "a\\b", "a@b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!vl_topic_name_valid(good[i]))
            fail_msg("'%s' should be a valid topic name", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vl_topic_name_valid(bad[i]))
            fail_msg("'%s' should not be a valid topic name", bad[i]);

    char *n255 = s_repeat('t', 255), *n256 = s_repeat('t', 256);
    assert_true(vl_topic_name_valid(n255));
    assert_false(vl_topic_name_valid(n256));
    n255[0] = '.';
    assert_false(vl_topic_name_valid(n255));
    n255[0] = 't';
    n255[254] = '/';
    assert_false(vl_topic_name_valid(n255));
    free(n255);
    free(n256);

    /* every byte value: exactly the documented set is accepted */
    for (int c = 1; c < 256; c++) {
        char name[3] = {'x', (char)c, '\0'};
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
        assert_int_equal(vl_topic_name_valid(name), want);
    }
}

/* ---- random input ------------------------------------------------------- */

#define S_FUZZ_ITERATIONS 20000
#define S_FUZZ_SEED 0x76617266757a7a31ull /* "varfuzz1" */

/*  Random bytes, or a valid sample encoding with a few bytes changed and a
    random length, which gets much deeper into the decoders than noise. */
static size_t s_fuzz_body(uint8_t *out, size_t cap, vl_wbuf_t *samples)
{
    size_t len;
    if (s_rng_below(3) == 0) {
        len = s_rng_below(200);
        for (size_t i = 0; i < len; i++)
            out[i] = (uint8_t)s_rng();
        return len;
    }
    const vl_wbuf_t *s = &samples[s_rng_below(S_NCODECS)];
    len = s->len;
    memcpy(out, s->data, len);
    int nmut = (int)s_rng_below(5);
    for (int i = 0; i < nmut; i++) {
        size_t at = s_rng_below((uint32_t)len);
        switch (s_rng_below(4)) {
        case 0:
            out[at] = (uint8_t)s_rng();
            break;
        case 1:
            out[at] ^= (uint8_t)(1u << s_rng_below(8));
            break;
        case 2: /* a count or length byte made big */
            out[at] = 0xff;
            break;
        default: /* small values hit the limits more often than random */
            out[at] = (uint8_t)s_rng_below(9);
            break;
        }
    }
    switch (s_rng_below(4)) {
    case 0:
        len = s_rng_below((uint32_t)len + 1);
        break;
    case 1: {
        size_t extra = s_rng_below(32);
        if (len + extra > cap)
            extra = cap - len;
        for (size_t i = 0; i < extra; i++)
            out[len + i] = (uint8_t)s_rng();
        len += extra;
        break;
    }
    default:
        break;
    }
    return len;
}

static void test_random_input(void **state)
{
    vl_wbuf_t samples[S_NCODECS];
    size_t cap = 256;
    for (int c = 0; c < S_NCODECS; c++) {
        s_sample_encode(c, &samples[c]);
        if (samples[c].len + 32 > cap)
            cap = samples[c].len + 32;
    }
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    s_rng_seed(S_FUZZ_SEED);
    size_t parsed = 0, decoded = 0;

    for (int it = 0; it < S_FUZZ_ITERATIONS; it++) {
        size_t len = s_fuzz_body(buf, cap, samples);

        /* every decoder on the body alone */
        for (int c = 0; c < S_NCODECS; c++)
            if (s_try_exact(s_codecs[c].try, buf, len) == 0)
                decoded++;
        s_try_exact(s_try_errtext, buf, len);

        /* the body inside a message whose frames are mostly right */
        zmsg_t *msg = zmsg_new();
        uint32_t shape = s_rng_below(8);
        if (shape != 0) {
            uint8_t h[VL_WIRE_HDR_SIZE + 4];
            for (size_t i = 0; i < sizeof h; i++)
                h[i] = (uint8_t)s_rng();
            size_t hlen = VL_WIRE_HDR_SIZE;
            if (shape == 1)
                hlen = s_rng_below(sizeof h + 1);
            if (shape >= 3)
                vl_put_le32(h, VL_WIRE_MAGIC);
            if (shape >= 4)
                vl_put_le16(h + 4, VL_WIRE_VERSION);
            if (shape >= 5)
                vl_put_le16(h + 6, (uint16_t)(s_rng_below(VL_MSG_TYPE_MAX + 2) |
                                              (s_rng_below(2) ? VL_MSG_REPLY : 0)));
            zmsg_addmem(msg, h, hlen);
            if (shape != 2)
                zmsg_addmem(msg, buf, len);
            uint32_t npay = s_rng_below(4);
            for (uint32_t i = 0; i < npay; i++)
                zmsg_addmem(msg, buf, s_rng_below((uint32_t)len + 1));
        }
        vl_hdr_t hdr;
        vl_rbuf_t body;
        int rc = vl_wire_parse(msg, &hdr, &body);
        assert_true(rc == 0 || rc == VL_EPROTO || rc == VL_EVERSION);
        if (rc == 0) {
            parsed++;
            uint16_t base = hdr.type & ~VL_MSG_REPLY;
            assert_true(base > 0 && base < VL_MSG_TYPE_MAX);
            assert_true(body.left <= VL_WIRE_MAX_BODY);
            /* decoders read straight from the frame, as daemons do */
            for (int c = 0; c < S_NCODECS; c++)
                s_codecs[c].try(body.p, body.left);
            char text[128];
            vl_rbuf_t copy = body;
            vl_wire_errtext(&copy, text, sizeof text);
            assert_true(strlen(text) < sizeof text);
            assert_string_not_equal(vl_wire_type_name(hdr.type), "UNKNOWN");
        } else {
            assert_int_equal(body.left, 0);
        }
        zmsg_destroy(&msg);
    }
    /* the generator must reach the success paths too, or it tests little */
    assert_true(parsed > S_FUZZ_ITERATIONS / 10);
    assert_true(decoded > S_FUZZ_ITERATIONS / 10);
    print_message("random input: seed %#llx, %d iterations, %zu parsed, %zu decoded\n",
                  (unsigned long long)S_FUZZ_SEED, S_FUZZ_ITERATIONS, parsed, decoded);
    for (int c = 0; c < S_NCODECS; c++)
        vl_wbuf_free(&samples[c]);
    free(buf);
    assert_int_equal(s_nlive, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_table),
        cmocka_unit_test(test_wbuf_rbuf),
        cmocka_unit_test(test_wire_msg_parse),
        cmocka_unit_test(test_wire_reply),
        cmocka_unit_test(test_wire_type_name),
        cmocka_unit_test(test_wire_parse_malformed),
        cmocka_unit_test(test_roundtrip_report),
        cmocka_unit_test(test_roundtrip_commit),
        cmocka_unit_test(test_roundtrip_meta),
        cmocka_unit_test(test_roundtrip_admin),
        cmocka_unit_test(test_roundtrip_append),
        cmocka_unit_test(test_roundtrip_batch_status),
        cmocka_unit_test(test_batch_payload),
        cmocka_unit_test(test_roundtrip_append_reply),
        cmocka_unit_test(test_roundtrip_subscribe),
        cmocka_unit_test(test_roundtrip_sub_data),
        cmocka_unit_test(test_roundtrip_sn_status),
        cmocka_unit_test(test_roundtrip_seal_sync),
        cmocka_unit_test(test_notleader),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_counts_beyond_body),
        cmocka_unit_test(test_counts_over_limit),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_sticky_reader),
        cmocka_unit_test(test_topic_name_valid),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
