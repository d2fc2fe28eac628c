/*  api_find_coordinator.c - FindCoordinator (key 10), versions 0-2.

    The coordinator of every group is the oldest live gateway (kov/gw.h):
    its node id and the address it advertises in Metadata; none alive
    (this gateway lost its registration): COORDINATOR_NOT_AVAILABLE. Kov has no transactions, so a
    transaction coordinator (key type 1) gets COORDINATOR_NOT_AVAILABLE
    with a message saying so.
*/
#include <stdio.h>
#include "server_i.h"

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    vl_kstr_t key = vl_kr_str(r, false);
    int8_t key_type = v >= 1 ? vl_kr_i8(r) : 0;
    if (!vl_kr_ok(r) || key.len < 0) {
        vl_kreq_bad(req, vl_kr_ok(r) ? "null coordinator key" : r->what);
        return;
    }
    vl_kserver_t *self = req->server;
    int16_t err = key_type == 0 ? 0 : VL_KERR_COORDINATOR_NOT_AVAILABLE;
    const char *msg = err ? "Kov has no transactions: no transaction coordinator" : NULL;
    int32_t node = self->opts.node_id;
    char host[264];
    int port = self->adv_port;
    snprintf(host, sizeof host, "%s", self->adv_host);
    if (!err && self->gw && !vl_kgw_owns_groups(self->gw, &node, NULL) &&
        vl_kgw_member_addr(self->gw, node, host, sizeof host, &port) != 0) {
        err = VL_KERR_COORDINATOR_NOT_AVAILABLE;
        msg = "no live gateway coordinates the groups yet; retry";
    }
    vl_kw_t *w = &req->out;
    if (v >= 1)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, err);
    if (v >= 1)
        vl_kw_str(w, false, msg);
    vl_kw_i32(w, err ? -1 : node);
    vl_kw_str(w, false, err ? "" : host);
    vl_kw_i32(w, err ? -1 : port);
    vl_kreq_reply(req);
}

const vl_kapi_t vl_kapi_find_coordinator = {
    .key = 10, .name = "FindCoordinator", .min = 0, .max = 2, .flex_min = 3, .handle = s_handle};
