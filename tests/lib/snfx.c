/*  snfx.c - the storage node actor in-process, and its peers played by
    the test (test_snserver): the metadata repository (a ROUTER the SN
    connects its DEALER to: it answers HELLO, pushes META and sends COMMIT
    as it likes) and the clients and other storage nodes (DEALERs to the
    SN's ROUTER), so that a test can order messages the way a real cluster
    only does by chance.
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
#include "wire.h"
#include "fixture.h"
#include "snfx.h"

/*  Sends META (as a HELLO reply when hello is not NULL) with one topic of
    nls log streams (ids SNFX_LS, SNFX_LS + 1, ..) each described by v. Node 1 is
    the SN under test; node 2 a peer that does not run. */
void snfx_send_meta_n(snfx_t *f, const vl_hdr_t *hello, const snfx_ls_view_t *v, uint32_t nls)
{
    vl_meta_sn_t sns[2] = {{.id = 1, .alive = 1}, {.id = 2, .alive = 1}};
    snprintf(sns[0].addr, sizeof sns[0].addr, "%s", f->sn_ep);
    snprintf(sns[1].addr, sizeof sns[1].addr, "tcp://127.0.0.1:9");
    vl_meta_ls_t ls[4];
    assert_true(nls >= 1 && nls <= 4);
    f->epoch = v->epoch;
    for (uint32_t i = 0; i < nls; i++) {
        ls[i] = (vl_meta_ls_t){.id = SNFX_LS + i,
                               .state = v->state,
                               .nrep = v->nrep,
                               .committed_llsn_end = v->committed_llsn_end,
                               .committed_bytes = v->committed_bytes,
                               .epoch = v->epoch};
        memcpy(ls[i].replicas, v->replicas, sizeof ls[i].replicas);
    }
    vl_meta_topic_t t = {.id = SNFX_TOPIC,
                         .rf = v->nrep,
                         .hwm = v->hwm,
                         .end_offset = v->end_offset,
                         .trim_glsn = v->trim_glsn ? v->trim_glsn : 1,
                         .trim_offset = v->trim_offset,
                         .nls = nls,
                         .ls = ls};
    snprintf(t.name, sizeof t.name, "t");
    vl_meta_t m = {.cluster_id = SNFX_CLUSTER,
                   .version = ++f->meta_version,
                   .term = f->term,
                   .sn_id = hello ? 1 : 0,
                   .nsn = 2,
                   .sns = sns,
                   .ntopics = 1,
                   .topics = &t};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_meta_encode(&m, &b);
    vl_hdr_t h = {.type = VL_MSG_META, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = hello ? fx_reply(hello, 0, &b) : fx_msg(&h, &b);
    fx_send(f->mr, f->sn_rid, &msg);
}

void snfx_send_meta(snfx_t *f, const vl_hdr_t *hello, const snfx_ls_view_t *v)
{
    snfx_send_meta_n(f, hello, v, 1);
}

/*  Receives the next REPORT within ms into *r (caller frees); false if
    none came. */
bool snfx_next_report(snfx_t *f, int ms, vl_report_t *r)
{
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *msg = fx_recv_type(f->mr, VL_MSG_REPORT, ms, &h, &body, NULL);
    if (!msg)
        return false;
    assert_int_equal(vl_report_decode(&body, r), 0);
    zmsg_destroy(&msg);
    return true;
}

/*  Waits for a REPORT whose item for SNFX_LS satisfies llsn_end >= llsn_end
    and applied >= applied; fills *out. */
void snfx_wait_report(snfx_t *f, uint64_t llsn_end, uint64_t applied, vl_report_item_t *out)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        vl_report_t r;
        if (!snfx_next_report(f, 200, &r))
            continue;
        bool ok = false;
        for (uint32_t i = 0; i < r.n; i++)
            if (r.items[i].ls_id == SNFX_LS && r.items[i].llsn_end >= llsn_end &&
                r.items[i].applied_llsn_end >= applied) {
                if (out)
                    *out = r.items[i];
                ok = true;
            }
        vl_report_free(&r);
        if (ok)
            return;
    }
    fail_msg("no REPORT with llsn_end >= %llu, applied >= %llu", (unsigned long long)llsn_end,
             (unsigned long long)applied);
}

void snfx_send_commit(snfx_t *f, uint64_t version, uint64_t llsn_begin, uint64_t glsn_begin,
                      uint64_t count, uint64_t offset_begin, uint64_t bytes)
{
    vl_commit_item_t it = {.topic_id = SNFX_TOPIC,
                           .ls_id = SNFX_LS,
                           .llsn_begin = llsn_begin,
                           .glsn_begin = glsn_begin,
                           .count = count,
                           .offset_begin = offset_begin,
                           .bytes = bytes,
                           .hwm = glsn_begin + count - 1,
                           .end_offset = offset_begin + bytes};
    vl_commit_t c = {.term = f->term, .version = version, .n = 1, .items = &it};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_commit_encode(&c, &b);
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(f->mr, f->sn_rid, &msg);
}

/*  Sends APPEND of n entries (entry i is `size` bytes of 'a' + i) from
    the client, named (client_id, batch_seq) (0: unnamed); returns its
    request id. */
uint64_t snfx_send_append_named(snfx_t *f, uint32_t n, size_t size, uint64_t client_id,
                                uint64_t batch_seq)
{
    uint8_t *sizes = malloc(4 * (size_t)n + 1);
    for (uint32_t i = 0; i < n; i++)
        vl_put_le32(sizes + 4 * i, (uint32_t)size);
    vl_append_t a = {.topic_id = SNFX_TOPIC,
                     .ls_id = SNFX_LS,
                     .n = n,
                     .client_id = client_id,
                     .batch_seq = batch_seq,
                     .epoch = f->epoch,
                     .sizes = sizes};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    free(sizes);
    vl_hdr_t h = {.type = VL_MSG_APPEND, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    char *data = malloc(size * n + 1);
    for (uint32_t i = 0; i < n; i++)
        memset(data + i * size, 'a' + (int)(i % 26), size);
    if (n > 0)
        zmsg_addmem(msg, data, size * n);
    free(data);
    fx_send(f->client, NULL, &msg);
    return h.request_id;
}

uint64_t snfx_send_append(snfx_t *f, uint32_t n, size_t size)
{
    return snfx_send_append_named(f, n, size, 0, 0);
}

/*  Sends APPEND of one entry holding text; returns its request id. */
uint64_t snfx_send_append_text(snfx_t *f, const char *text)
{
    uint8_t size[4];
    vl_put_le32(size, (uint32_t)strlen(text));
    vl_append_t a = {
        .topic_id = SNFX_TOPIC, .ls_id = SNFX_LS, .n = 1, .epoch = f->epoch, .sizes = size};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    vl_hdr_t h = {.type = VL_MSG_APPEND, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    zmsg_addstr(msg, text);
    fx_send(f->client, NULL, &msg);
    return h.request_id;
}

/*  Makes the n-th next writer job of kind fail. */
void snfx_fault(snfx_t *f, const char *kind, int n)
{
    char num[16];
    snprintf(num, sizeof num, "%d", n);
    zactor_t *actor = vl_sn_actor(f->sn);
    assert_int_equal(zstr_sendx(actor, "FAULT", kind, num, NULL), 0);
    assert_int_equal(zsock_wait(actor), 0);
}

/*  Sends a request with a subscribe-shaped body (SUBSCRIBE, LOOKUP) from
    the client; returns its request id. */
uint64_t snfx_send_sub(snfx_t *f, uint16_t type, uint64_t glsn_begin, uint64_t glsn_end,
                       uint32_t credit)
{
    vl_subscribe_t s = {.topic_id = SNFX_TOPIC,
                        .ls_id = SNFX_LS,
                        .glsn_begin = glsn_begin,
                        .glsn_end = glsn_end,
                        .credit = credit};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_subscribe_encode(&s, &b);
    vl_hdr_t h = {.type = type, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    fx_send(f->client, NULL, &msg);
    return h.request_id;
}

/*  Starts the SN (fsyncing when sync) and the fake MR, answers HELLO
    with nls log streams described by v. */
/*  Starts the SN on f->dir, answers its HELLO with v (nls log streams)
    and connects f->client to it. */
static void s_sn_up(snfx_t *f, const snfx_ls_view_t *v, uint32_t nls)
{
    vl_sn_config_t cfg = {.listen = "tcp://127.0.0.1:*",
                          .data_dir = f->dir,
                          .mr = f->mr_ep,
                          .sync = f->sync,
                          .max_entry_size = 1 << 20,
                          .cluster_id = SNFX_CLUSTER};
    char err[512];
    int rc = vl_sn_new(&cfg, &f->sn, err, sizeof err);
    if (rc)
        fail_msg("vl_sn_new: %s", err);
    snprintf(f->sn_ep, sizeof f->sn_ep, "%s", vl_sn_endpoint(f->sn));
    vl_hdr_t h;
    vl_rbuf_t body;
    zmsg_t *hello = fx_recv_type(f->mr, VL_MSG_HELLO, 5000, &h, &body, &f->sn_rid);
    assert_non_null(hello);
    zmsg_destroy(&hello);
    snfx_send_meta_n(f, &h, v, nls);
    f->client = fx_dealer("%s", f->sn_ep);
}

snfx_t *snfx_start_n(const snfx_ls_view_t *v, uint32_t nls, bool sync)
{
    snfx_t *f = calloc(1, sizeof *f);
    fx_tmpdir(f->dir, sizeof f->dir, "snserver");
    f->mr = zsock_new(ZMQ_ROUTER);
    assert_non_null(f->mr);
    zsock_set_linger(f->mr, 0);
    assert_true(fx_bind(f->mr, f->mr_ep, sizeof f->mr_ep) > 0);
    f->sync = sync;
    s_sn_up(f, v, nls);
    snfx_wait_report(f, 0, 0, NULL);
    return f;
}

void snfx_restart_sn(snfx_t *f, const snfx_ls_view_t *v)
{
    vl_sn_destroy(&f->sn);
    zsock_destroy(&f->client);
    zframe_destroy(&f->sn_rid);
    s_sn_up(f, v, 1);
}

snfx_t *snfx_start(const snfx_ls_view_t *v, bool sync)
{
    return snfx_start_n(v, 1, sync);
}

/*  Stops the SN (its writer finishes every job first) but keeps the data
    directory (a test then opens the store there). */
void snfx_stop_sn(snfx_t *f)
{
    vl_sn_destroy(&f->sn);
}

void snfx_finish(snfx_t **f_p)
{
    snfx_t *f = *f_p;
    vl_sn_destroy(&f->sn);
    zsock_destroy(&f->client);
    zsock_destroy(&f->mr);
    zframe_destroy(&f->sn_rid);
    fx_rmdir(f->dir);
    free(f);
    *f_p = NULL;
}

const snfx_ls_view_t snfx_rf1 = {.state = VL_LS_RUNNING, .nrep = 1, .replicas = {1}};

/*  Waits until SN_STATUS shows SNFX_LS with a trim point >= trim_glsn (the
    META that trims has been applied; its trim job is queued, and the
    writer writes every queued job before it stops). */
void snfx_wait_trim_seen(snfx_t *f, uint64_t trim_glsn)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        vl_hdr_t h = {
            .type = VL_MSG_SN_STATUS, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
        zmsg_t *msg = fx_msg(&h, NULL);
        fx_send(f->client, NULL, &msg);
        vl_rbuf_t body;
        assert_int_equal(fx_wait_reply(f->client, VL_MSG_SN_STATUS, h.request_id, &msg, &body), 0);
        vl_sn_status_t st;
        assert_int_equal(vl_sn_status_decode(&body, &st), 0);
        bool seen = false;
        for (uint32_t i = 0; i < st.n; i++)
            seen |= st.replicas[i].ls_id == SNFX_LS && st.replicas[i].trim_glsn >= trim_glsn;
        vl_sn_status_free(&st);
        zmsg_destroy(&msg);
        if (seen)
            return;
        zclock_sleep(5);
    }
    fail_msg("the SN did not apply the trim to glsn=%llu", (unsigned long long)trim_glsn);
}

/*  Sends REPLICATE(llsn_begin.., n entries of size bytes filled with
    fill, epoch) on sock as a primary would; returns its request id. */
uint64_t snfx_send_replicate_bids(snfx_t *f, zsock_t *sock, uint64_t llsn_begin, uint32_t n,
                                  size_t size, char fill, uint32_t epoch, const vl_batch_id_t *ids,
                                  uint32_t nids)
{
    uint8_t bids[4 * VL_WIRE_BID_SIZE];
    assert_true(nids <= 4);
    for (uint32_t i = 0; i < nids; i++)
        vl_wire_bid_put(bids + VL_WIRE_BID_SIZE * i, &ids[i]);
    uint8_t *sizes = malloc(4 * (size_t)n + 1);
    for (uint32_t i = 0; i < n; i++)
        vl_put_le32(sizes + 4 * i, (uint32_t)size);
    vl_append_t a = {.topic_id = SNFX_TOPIC,
                     .ls_id = SNFX_LS,
                     .n = n,
                     .llsn_begin = llsn_begin,
                     .bytes_before = (llsn_begin - 1) * size,
                     .epoch = epoch,
                     .nbids = nids,
                     .bids = nids ? bids : NULL,
                     .sizes = sizes};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, true, &b);
    free(sizes);
    vl_hdr_t h = {.type = VL_MSG_REPLICATE, .request_id = ++f->next_id, .cluster_id = SNFX_CLUSTER};
    zmsg_t *msg = fx_msg(&h, &b);
    char *data = malloc(size * n + 1);
    memset(data, fill, size * n);
    if (n > 0)
        zmsg_addmem(msg, data, size * n);
    free(data);
    fx_send(sock, NULL, &msg);
    return h.request_id;
}

uint64_t snfx_send_replicate(snfx_t *f, zsock_t *sock, uint64_t llsn_begin, uint32_t n, size_t size,
                             char fill, uint32_t epoch)
{
    return snfx_send_replicate_bids(f, sock, llsn_begin, n, size, fill, epoch, NULL, 0);
}

/*  Waits for a REPORT that shows SNFX_LS in state. */
void snfx_wait_report_state(snfx_t *f, uint8_t ls_state)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        vl_report_t r;
        if (!snfx_next_report(f, 200, &r))
            continue;
        bool ok = false;
        for (uint32_t i = 0; i < r.n; i++)
            ok |= r.items[i].ls_id == SNFX_LS && r.items[i].state == ls_state;
        vl_report_free(&r);
        if (ok)
            return;
    }
    fail_msg("no REPORT with state %u", ls_state);
}
