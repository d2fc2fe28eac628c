/*  api_init_producer_id.c - InitProducerId (key 22), versions 0-1.

    Idempotent producers (enable.idempotence=true) get a new producer id,
    allocated durably by the data path (part.h) so that no id is handed out
    twice, with epoch 0. Kov has no transactions: a transactional id is
    refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients
    report as fatal instead of retrying.
*/
#include "server_i.h"

static void s_done(void *arg, int16_t kerr, int64_t producer_id, int16_t epoch)
{
    vl_kreq_t *req = arg;
    vl_kw_t *w = &req->out;
    vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, kerr);
    vl_kw_i64(w, kerr ? -1 : producer_id);
    vl_kw_i16(w, kerr ? -1 : epoch);
    if (kerr)
        vl_log(LOG_WARNING, "InitProducerId: error %d", kerr);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    vl_kstr_t txn = vl_kr_str(r, false);
    (void)vl_kr_i32(r); /* transaction_timeout_ms */
    if (!vl_kr_ok(r)) {
        vl_kreq_bad(req, r->what);
        return;
    }
    if (txn.len >= 0) {
        vl_log(LOG_WARNING,
               "InitProducerId with transactional id '%.*s': Kov has no transactions; "
               "use enable.idempotence without transactional.id",
               (int)txn.len, (const char *)txn.ptr);
        s_done(req, VL_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1);
        return;
    }
    vl_kparts_init_pid(req->server->parts, s_done, req);
}

const vl_kapi_t vl_kapi_init_producer_id = {
    .key = 22, .name = "InitProducerId", .min = 0, .max = 1, .flex_min = 2, .handle = s_handle};
