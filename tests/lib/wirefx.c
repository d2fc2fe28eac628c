/*  wirefx.c - what the wire codec's tests share (test_wire, test_wire_frame,
    test_wire_body): allocation tracking, byte helpers, a valid sample of
    every message body and an adapter per decoder that checks its promises.

    Two properties need help from the linker (see the LDFLAGS of these
    targets in Makefile.am): vl_calloc and free are wrapped (-Wl,--wrap=...)
    so a test can see the size of every array a decoder allocates ("no
    input can make a daemon allocate without bound") and that a failed
    decode leaves no allocation behind ("nothing to free"), in the normal
    build as well as under LeakSanitizer.
*/
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
#include "wirefx.h"

/* ---- allocation tracking (linker wraps) ------------------------------ */

void *__real_vl_calloc(size_t n, size_t size);
void *__wrap_vl_calloc(size_t n, size_t size);
void __real_free(void *p);
void __wrap_free(void *p);

#define S_LIVE_MAX 4096
static void *s_live[S_LIVE_MAX]; /* vl_calloc results not yet freed */
size_t wfx_nlive;
size_t wfx_calloc_calls;
static size_t s_calloc_max; /* largest single vl_calloc since s_alloc_reset */

void *__wrap_vl_calloc(size_t n, size_t size)
{
    void *p = __real_vl_calloc(n, size);
    wfx_calloc_calls++;
    if (n * size > s_calloc_max)
        s_calloc_max = n * size;
    if (wfx_nlive == S_LIVE_MAX) {
        fprintf(stderr, "test_wire: more than %d live vl_calloc blocks\n", S_LIVE_MAX);
        abort();
    }
    s_live[wfx_nlive++] = p;
    return p;
}

void __wrap_free(void *p)
{
    /* Blocks are mostly freed in the order or reverse order of allocation;
       search from the end, the table stays small. */
    for (size_t i = wfx_nlive; i-- > 0;)
        if (s_live[i] == p) {
            s_live[i] = s_live[--wfx_nlive];
            break;
        }
    __real_free(p);
}

static void s_alloc_reset(void)
{
    wfx_calloc_calls = 0;
    s_calloc_max = 0;
}

/* ---- helpers -------------------------------------------------------- */

/*  Copies len bytes into a heap block of exactly len bytes (NULL when len
    is 0, as vl_wire_parse leaves an unparsed body), so reading one byte
    too many is caught by ASan. Caller frees. */
uint8_t *wfx_exact(const void *data, size_t len)
{
    if (len == 0)
        return NULL;
    uint8_t *p = malloc(len);
    assert_non_null(p);
    memcpy(p, data, len);
    return p;
}

char *wfx_repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/*  A string field written by hand: u16 length + raw bytes (may hold NUL,
    may be longer than any maximum, which vl_wbuf_str cannot produce). */
void wfx_raw_str(vl_wbuf_t *b, const void *bytes, uint16_t n)
{
    vl_wbuf_u16(b, n);
    for (uint16_t i = 0; i < n; i++)
        vl_wbuf_u8(b, ((const uint8_t *)bytes)[i]);
}

/* ---- sample messages ------------------------------------------------ */

vl_report_item_t wfx_report_items[] = {
    {1, 10, 1000, 9, VL_LS_RUNNING},
    {2, 0, 0, 0, VL_LS_SEALED},
    {UINT32_MAX, UINT64_MAX, UINT64_MAX - 1, 0x0102030405060708ull, 0xff},
};
const vl_report_t wfx_report = {42, 3, wfx_report_items};

vl_commit_item_t wfx_commit_items[] = {
    {1, 2, 3, 4, 5, 6, 7, 8, 9},
    {UINT32_MAX, 0, 1, UINT64_MAX, 0, 0x1111111111111111ull, 0x2222222222222222ull,
     0x3333333333333333ull, 0x4444444444444444ull},
};
const vl_commit_t wfx_commit = {.term = 0x1122334455667788ull,
                                .version = 0xabcdef0123456789ull,
                                .n = 2,
                                .items = wfx_commit_items};

vl_run_t wfx_runs[] = {{1, 3}, {100, 1}, {UINT64_MAX - 5, UINT32_MAX}};
const vl_append_reply_t wfx_append_reply = {77, 3, wfx_runs};
const vl_batch_status_t wfx_batch_status = {9, 10, UINT64_MAX - 1, 123456789, 4000};
static const vl_batch_status_reply_t s_batch_status_reply = {1, 1, 40, {77, 3, wfx_runs}};

vl_entry_pos_t wfx_entries[] = {
    {1, 1, 0, 0}, {5, 2, 100, 7}, {UINT64_MAX, UINT64_MAX, 7, UINT32_MAX}};
const vl_sub_data_t wfx_sub_data = {1, 3, wfx_entries};

vl_sn_replica_t wfx_replicas[] = {
    {1, 1, 10, 1000, 9, 20, 1, VL_LS_SEALING},
    {3, UINT32_MAX, UINT64_MAX, 5, 4, 3, 2, VL_LS_RUNNING},
};
const vl_sn_status_t wfx_sn_status = {.addr = "tcp://127.0.0.1:10001",
                                      .disk_total = UINT64_MAX,
                                      .disk_free = 12345,
                                      .fault = 1,
                                      .fault_why = "disk full",
                                      .n = 2,
                                      .replicas = wfx_replicas};

const vl_subscribe_t wfx_subscribe = {3, 9, 17, VL_GLSN_MAX, 64};

/*  META: three SNs (one with a 255-byte address), three topics: one with
    three log streams in different states, one with none, one whose name is
    255 bytes long with a full (7-replica) and an empty replica set. */
vl_meta_t wfx_meta;
static vl_meta_sn_t s_meta_sns[3];
static vl_meta_topic_t s_meta_topics[3];
static vl_meta_ls_t s_meta_ls0[3], s_meta_ls2[2];

static void s_meta_build(void)
{
    memset(&wfx_meta, 0, sizeof wfx_meta);
    memset(s_meta_sns, 0, sizeof s_meta_sns);
    memset(s_meta_topics, 0, sizeof s_meta_topics);
    wfx_meta.cluster_id = 0xc0ffee;
    wfx_meta.version = 0x0102030405060708ull;
    wfx_meta.term = 0x8877665544332211ull;
    wfx_meta.sn_id = 5;
    wfx_meta.nsn = 3;
    wfx_meta.sns = s_meta_sns;
    s_meta_sns[0] = (vl_meta_sn_t){.id = 1, .addr = "tcp://127.0.0.1:10001", .alive = 1};
    s_meta_sns[1] = (vl_meta_sn_t){.id = 2, .addr = "", .alive = 0};
    s_meta_sns[2].id = 5;
    memset(s_meta_sns[2].addr, 'a', VL_WIRE_MAX_ADDR);
    s_meta_sns[2].alive = 1;

    wfx_meta.ntopics = 3;
    wfx_meta.topics = s_meta_topics;
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

vl_admin_t wfx_admin;

static void s_admin_build(void)
{
    memset(&wfx_admin, 0, sizeof wfx_admin);
    memset(wfx_admin.name, 'x', VL_WIRE_MAX_NAME);
    strcpy(wfx_admin.addr, "tcp://127.0.0.1:10002");
    wfx_admin.id = 11;
    wfx_admin.nls = 4;
    wfx_admin.rf = 3;
    wfx_admin.glsn = UINT64_MAX;
    wfx_admin.offset = 0x8000000000000000ull;
    wfx_admin.sn_from = 2;
    wfx_admin.sn_to = UINT32_MAX;
}

const vl_seal_reply_t wfx_seal_reply = {7, 1234, UINT64_MAX};

const vl_sync_t wfx_sync = {
    3, UINT32_MAX, 0x0102030405060708ull, 4, "tcp://127.0.0.1:10003", 0xa1b2c3d4};

vl_sync_item_t wfx_sync_items[] = {{1, 2, 3, 4, 5}, {UINT32_MAX, 0, UINT32_MAX, UINT64_MAX, 0}};
const vl_sync_reply_t wfx_sync_reply = {2, wfx_sync_items};

const vl_notleader_t wfx_notleader = {"tcp://mr-2.example:9094"};

/*  Three members (the last one's strings at their maximum: filled by
    s_mr_status_build), one of each role. */
vl_mr_status_t wfx_mr_status = {
    .leader_id = 2,
    .term = 7,
    .commit_index = 1000,
    .applied_index = 999,
    .last_index = UINT64_MAX,
    .n = 3,
    .members = {{1, "127.0.0.1:9192", "tcp://127.0.0.1:9092", VL_MR_VOTER, 1000},
                {2, "127.0.0.1:9194", "tcp://127.0.0.1:9094", VL_MR_STANDBY, 0},
                {UINT64_MAX, "", "", VL_MR_SPARE, UINT64_MAX}},
};

static void s_mr_status_build(void)
{
    memset(wfx_mr_status.members[2].raft_addr, 'a', VL_WIRE_MAX_ADDR);
    memset(wfx_mr_status.members[2].endpoint, 'e', VL_WIRE_MAX_ADDR);
}

uint8_t wfx_append_sizes[4 * VL_WIRE_MAX_ENTRIES];  /* wfx_fill_sizes fills it */
static uint8_t s_append_bids[2 * VL_WIRE_BID_SIZE]; /* wfx_fill_sizes fills it */
const vl_append_t wfx_append = {.topic_id = 4,
                                .ls_id = 8,
                                .n = VL_WIRE_MAX_ENTRIES,
                                .client_id = 0xfeedfacecafe0001ull,
                                .batch_seq = 77,
                                .llsn_begin = 100,
                                .bytes_before = 200000,
                                .epoch = 0x05060708,
                                .nbids = 2,
                                .bids = s_append_bids,
                                .sizes = wfx_append_sizes};

void wfx_fill_sizes(void)
{
    for (uint32_t i = 0; i < VL_WIRE_MAX_ENTRIES; i++)
        vl_put_le32(wfx_append_sizes + 4 * i, i * 2654435761u);
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

int wfx_try_report(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_commit(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_meta(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_admin(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_admin_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_admin_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
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
    assert_int_equal(wfx_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    else {
        assert_true(m.n <= VL_WIRE_MAX_ENTRIES);
        /* the sizes are borrowed from the body, inside it */
        if (m.n > 0)
            assert_true(m.sizes >= data && m.sizes + 4 * (size_t)m.n <= data + len);
        assert_true(m.nbids <= m.n + 1);
        if (m.nbids > 0)
            assert_true(m.bids >= data &&
                        m.bids + VL_WIRE_BID_SIZE * (size_t)m.nbids <= data + len);
    }
    return rc;
}

int wfx_try_append(const uint8_t *data, size_t len)
{
    return s_try_append_x(data, len, false);
}

int wfx_try_replicate(const uint8_t *data, size_t len)
{
    return s_try_append_x(data, len, true);
}

int wfx_try_append_reply(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_batch_status(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_batch_status_t m;
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_batch_status_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

int wfx_try_batch_status_reply(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_subscribe(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_subscribe_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_subscribe_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

int wfx_try_sub_data(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_sn_status(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_seal_reply(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_seal_reply_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_seal_reply_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    return rc;
}

int wfx_try_sync(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_sync_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_sync_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    if (rc)
        assert_int_equal(rc, VL_EPROTO);
    else
        s_check_str(m.dest_addr, VL_WIRE_MAX_ADDR);
    return rc;
}

int wfx_try_sync_reply(const uint8_t *data, size_t len)
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
    assert_int_equal(wfx_nlive, 0);
    return rc;
}

int wfx_try_notleader(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_notleader_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_notleader_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    s_check_str(m.leader, VL_WIRE_MAX_ADDR);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_string_equal(m.leader, ""); /* never half a hint to follow */
    }
    return rc;
}

/*  No allocation; on failure nothing half decoded. */
int wfx_try_mr_status(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_mr_status_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_mr_status_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    assert_true(m.n <= VL_WIRE_MAX_MEMBERS);
    for (uint32_t i = 0; i < m.n; i++) {
        s_check_str(m.members[i].raft_addr, VL_WIRE_MAX_ADDR);
        s_check_str(m.members[i].endpoint, VL_WIRE_MAX_ADDR);
        assert_true(m.members[i].role < VL_MR_ROLE_MAX);
    }
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_int_equal(m.n, 0);
    }
    return rc;
}

int wfx_try_mr_add(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_mr_member_t m;
    memset(&m, 0xa5, sizeof m);
    vl_rbuf_init(&r, data, len);
    s_alloc_reset();
    int rc = vl_mr_add_decode(&r, &m);
    assert_int_equal(wfx_calloc_calls, 0);
    s_check_str(m.raft_addr, VL_WIRE_MAX_ADDR);
    s_check_str(m.endpoint, VL_WIRE_MAX_ADDR);
    if (rc) {
        assert_int_equal(rc, VL_EPROTO);
        assert_true(m.id == 0 && !m.raft_addr[0] && !m.endpoint[0]);
    }
    return rc;
}

int wfx_try_errtext(const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    char out[64];
    vl_rbuf_init(&r, data, len);
    vl_wire_errtext(&r, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    return 0;
}

/*  Every body codec: its adapter and a valid sample encoding. */
const wfx_codec_t wfx_codecs[WFX_NCODECS] = {
    [WFX_REPORT] = {"report", wfx_try_report},
    [WFX_COMMIT] = {"commit", wfx_try_commit},
    [WFX_META] = {"meta", wfx_try_meta},
    [WFX_ADMIN] = {"admin", wfx_try_admin},
    [WFX_APPEND] = {"append", wfx_try_append},
    [WFX_REPLICATE] = {"replicate", wfx_try_replicate},
    [WFX_APPEND_REPLY] = {"append_reply", wfx_try_append_reply},
    [WFX_SUBSCRIBE] = {"subscribe", wfx_try_subscribe},
    [WFX_SUB_DATA] = {"sub_data", wfx_try_sub_data},
    [WFX_SN_STATUS] = {"sn_status", wfx_try_sn_status},
    [WFX_SEAL_REPLY] = {"seal_reply", wfx_try_seal_reply},
    [WFX_SYNC] = {"sync", wfx_try_sync},
    [WFX_SYNC_REPLY] = {"sync_reply", wfx_try_sync_reply},
    [WFX_BATCH_STATUS] = {"batch_status", wfx_try_batch_status},
    [WFX_BATCH_STATUS_REPLY] = {"batch_status_reply", wfx_try_batch_status_reply},
    [WFX_NOTLEADER] = {"notleader", wfx_try_notleader},
    [WFX_MR_STATUS] = {"mr_status", wfx_try_mr_status},
    [WFX_MR_ADD] = {"mr_add", wfx_try_mr_add},
};

void wfx_sample_encode(int codec, vl_wbuf_t *b)
{
    vl_wbuf_init(b);
    switch (codec) {
    case WFX_REPORT:
        vl_report_encode(&wfx_report, b);
        break;
    case WFX_COMMIT:
        vl_commit_encode(&wfx_commit, b);
        break;
    case WFX_META:
        s_meta_build();
        vl_meta_encode(&wfx_meta, b);
        break;
    case WFX_ADMIN:
        s_admin_build();
        vl_admin_encode(&wfx_admin, b);
        break;
    case WFX_APPEND:
        vl_append_encode(&wfx_append, false, b);
        break;
    case WFX_REPLICATE:
        vl_append_encode(&wfx_append, true, b);
        break;
    case WFX_APPEND_REPLY:
        vl_append_reply_encode(&wfx_append_reply, b);
        break;
    case WFX_SUBSCRIBE:
        vl_subscribe_encode(&wfx_subscribe, b);
        break;
    case WFX_SUB_DATA:
        vl_sub_data_encode(&wfx_sub_data, b);
        break;
    case WFX_SN_STATUS:
        vl_sn_status_encode(&wfx_sn_status, b);
        break;
    case WFX_SEAL_REPLY:
        vl_seal_reply_encode(&wfx_seal_reply, b);
        break;
    case WFX_SYNC:
        vl_sync_encode(&wfx_sync, b);
        break;
    case WFX_SYNC_REPLY:
        vl_sync_reply_encode(&wfx_sync_reply, b);
        break;
    case WFX_BATCH_STATUS:
        vl_batch_status_encode(&wfx_batch_status, b);
        break;
    case WFX_BATCH_STATUS_REPLY:
        vl_batch_status_reply_encode(&s_batch_status_reply, b);
        break;
    case WFX_NOTLEADER:
        vl_notleader_encode(&wfx_notleader, b);
        break;
    case WFX_MR_STATUS:
        s_mr_status_build();
        vl_mr_status_encode(&wfx_mr_status, b);
        break;
    case WFX_MR_ADD:
        s_mr_status_build();
        vl_mr_add_encode(&wfx_mr_status.members[2], b);
        break;
    default:
        fail();
    }
}

/*  Runs an adapter on an exact-size copy of len bytes. */
int wfx_try_exact(wfx_try_fn try, const void *data, size_t len)
{
    uint8_t *p = wfx_exact(data, len);
    int rc = try(p, len);
    free(p);
    return rc;
}

int wfx_try_wbuf(wfx_try_fn try, const vl_wbuf_t *b)
{
    return wfx_try_exact(try, b->data, b->len);
}
