/*  sync.c - varlogadm's SYNC: brings the replicas of a sealed log stream
    in line with its sealed end.

    From the replicas' last SN_STATUS (health.c) it picks a source that
    holds the sealed end and the destinations that lack entries, and sends
    SN_SYNC to the source for each, on a short-lived DEALER and blocking,
    like the proxied admin requests. The SYNC request and the automatic
    handling (health.c) both start syncs here.
*/
#include <inttypes.h>
#include "curve.h"
#include "server_i.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wire.h"

/* ---- sync ------------------------------------------------------------------- */

/*  A blocking request to a storage node at addr with a short-lived DEALER:
    0 with its reply's status in *status (and its text in err) when it
    answered; VL_EINVAL when addr is not an endpoint; VL_EUNAVAIL when it
    did not answer within the ping timeout. */
static int s_sn_call(self_t *self, const char *addr, uint16_t type, const vl_wbuf_t *body,
                     uint32_t *status, char *err, size_t err_size)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return VL_EUNAVAIL;
    zsock_set_linger(sock, 0);
    vl_curve_client(sock);
    if (zsock_connect(sock, "%s", addr) != 0) {
        zsock_destroy(&sock);
        return VL_EINVAL;
    }
    uint64_t id = self->next_id++;
    vl_hdr_t h = {.type = type, .request_id = id};
    zmsg_t *req = vl_wire_msg(&h, body);
    zsock_set_sndtimeo(sock, -1);
    if (zmsg_send(&req, sock) != 0)
        zmsg_destroy(&req);
    zpoller_t *poller = zpoller_new(sock, NULL);
    int64_t deadline = zclock_mono() + self->ping_timeout_ms;
    int rc = VL_EUNAVAIL;
    int64_t left;
    err[0] = '\0';
    while (rc != 0 && (left = deadline - zclock_mono()) > 0) {
        if (!zpoller_wait(poller, (int)left))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        vl_hdr_t hdr;
        vl_rbuf_t rb;
        if (msg && vl_wire_parse(msg, &hdr, &rb) == 0 && hdr.request_id == id &&
            hdr.type == (type | VL_MSG_REPLY)) {
            rc = 0;
            *status = hdr.status;
            if (hdr.status)
                vl_wire_errtext(&rb, err, err_size);
        }
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    return rc;
}

/*  Starts the syncs that bring the replicas of sealed log stream ls (of
    topic t) in line with its sealed end: from replica `from` (0: the first
    one, primary first, that holds the sealed end) to replica `to` (0: every
    replica that is up and lacks entries, or is not known to hold any).
    Appends what it started to items (room for VL_WIRE_MAX_REPLICAS more).
    Returns 0, or a VL_E* code with err saying what to do. */
int vl_adm_sync_ls(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
                   const vl_meta_ls_t *ls, uint32_t from, uint32_t to, vl_sync_item_t *items,
                   uint32_t *n, char *err, size_t err_size)
{
    uint64_t x = ls->committed_llsn_end;
    bool from_ok = !from, to_ok = !to;
    for (uint32_t k = 0; k < ls->nrep; k++) {
        from_ok |= ls->replicas[k] == from;
        to_ok |= ls->replicas[k] == to;
    }
    if (!from_ok || !to_ok || (from && from == to)) {
        snprintf(err, err_size,
                 "sync '%s' ls=%u: storage node %u is not %s replica of it; see 'varlogctl "
                 "topic describe %s'",
                 t->name, ls->id, !from_ok ? from : to, from && from == to ? "another" : "a",
                 t->name);
        return VL_ENOSN;
    }
    uint32_t src = 0;
    for (uint32_t k = 0; k < ls->nrep && !src; k++) {
        uint32_t id = ls->replicas[k];
        const vl_sn_replica_t *r = vl_adm_health_replica_status(self, id, ls->id);
        if ((!from || id == from) && id != to && r && r->llsn_end >= x)
            src = id;
    }
    if (!src) {
        if (from)
            snprintf(err, err_size,
                     "sync '%s' ls=%u: storage node %u is down or does not hold the sealed end "
                     "llsn=%" PRIu64 "; pick another source with --from",
                     t->name, ls->id, from, x);
        else
            snprintf(err, err_size,
                     "sync '%s' ls=%u: no replica that is up holds the sealed end llsn=%" PRIu64
                     "; start the storage nodes of its replicas (see 'varlogctl topic describe "
                     "%s')",
                     t->name, ls->id, x, t->name);
        return VL_EUNAVAIL;
    }
    const vl_meta_sn_t *src_sn = vl_meta_sn_by_id(m, src);
    for (uint32_t k = 0; k < ls->nrep; k++) {
        uint32_t id = ls->replicas[k];
        if (id == src || (to && id != to))
            continue;
        s_sn_t *sn = vl_adm_health_sn_find(self, id);
        const vl_sn_replica_t *r = vl_adm_health_replica_status(self, id, ls->id);
        if (!to && (!sn || sn->state != S_SN_UP || (r && r->llsn_end >= x)))
            continue; /* down: later; or holds the entries already */
        const vl_meta_sn_t *dst_sn = vl_meta_sn_by_id(m, id);
        vl_sync_t y = {
            .topic_id = t->id, .ls_id = ls->id, .llsn_end = x, .dest_sn = id, .epoch = ls->epoch};
        snprintf(y.dest_addr, sizeof y.dest_addr, "%s", dst_sn ? dst_sn->addr : "");
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_sync_encode(&y, &b);
        uint32_t status = 0;
        char text[512];
        int rc = s_sn_call(self, src_sn ? src_sn->addr : "", VL_MSG_SN_SYNC, &b, &status, text,
                           sizeof text);
        vl_wbuf_free(&b);
        if (rc != 0) {
            snprintf(err, err_size,
                     "sync '%s' ls=%u: the source storage node %u (%s) does not answer; is it "
                     "running?",
                     t->name, ls->id, src, src_sn ? src_sn->addr : "?");
            return VL_EUNAVAIL;
        }
        if (status != 0) {
            snprintf(err, err_size, "sync '%s' ls=%u from sn %u to sn %u: %s", t->name, ls->id, src,
                     id, text);
            return (int)status;
        }
        vl_log(LOG_NOTICE,
               "sync '%s' ls=%u: sn %u -> sn %u (it holds %s%" PRIu64 "), up to llsn %" PRIu64,
               t->name, ls->id, src, id, r ? "llsn " : "unknown, ", r ? r->llsn_end : 0, x);
        items[(*n)++] = (vl_sync_item_t){.ls_id = ls->id,
                                         .src_sn = src,
                                         .dest_sn = id,
                                         .dest_llsn_end = r ? r->llsn_end : 0,
                                         .llsn_end = x};
    }
    return 0;
}

/*  SYNC: the log stream a->id (0: every sealed one) of topic a->name. */
void vl_adm_sync_handle(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_admin_t *a)
{
    vl_meta_t m;
    if (vl_adm_server_fetch_meta(self, rid, req, &m, NULL) != 0)
        return;
    char err[1024] = "";
    int rc = 0;
    const vl_meta_topic_t *t = vl_meta_topic_by_name(&m, a->name);
    vl_sync_item_t *items = NULL;
    uint32_t n = 0;
    if (!t) {
        rc = VL_ENOTOPIC;
        snprintf(err, sizeof err,
                 "sync '%.64s': no such topic; list topics with 'varlogctl topic list'", a->name);
        goto out;
    }
    items = vl_calloc((size_t)t->nls * VL_WIRE_MAX_REPLICAS + 1, sizeof *items);
    bool found = false;
    for (uint32_t i = 0; i < t->nls && rc == 0; i++) {
        const vl_meta_ls_t *ls = &t->ls[i];
        if (a->id && ls->id != a->id)
            continue;
        found = true;
        if (ls->state == VL_LS_RUNNING || ls->state == VL_LS_DELETED) {
            if (a->id) {
                rc = VL_EBUSY;
                snprintf(err, sizeof err,
                         "sync '%s' ls=%u: it is %s; seal it first ('varlogctl ls seal %s %u')",
                         t->name, ls->id, ls->state == VL_LS_RUNNING ? "RUNNING" : "DELETED",
                         t->name, ls->id);
            }
            continue;
        }
        rc = vl_adm_sync_ls(self, &m, t, ls, a->sn_from, a->sn_to, items, &n, err, sizeof err);
    }
    if (rc == 0 && a->id && !found) {
        rc = VL_ENOLS;
        snprintf(err, sizeof err,
                 "sync '%s' ls=%u: the topic has no such log stream; see "
                 "'varlogctl ls list %s'",
                 t->name, a->id, t->name);
    }
out:
    if (rc != 0) {
        vl_log(LOG_WARNING, "%s", err);
        vl_adm_server_reply_error(self, rid, req, rc, err);
    } else {
        vl_sync_reply_t r = {.n = n, .items = items};
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_sync_reply_encode(&r, &b);
        vl_hdr_t h = *req;
        h.type = VL_MSG_SYNC | VL_MSG_REPLY;
        h.cluster_id = m.cluster_id;
        h.status = 0;
        zmsg_t *out = vl_wire_msg(&h, &b);
        vl_adm_server_reply(self, rid, &out);
        vl_wbuf_free(&b);
    }
    free(items);
    vl_meta_free(&m);
}
