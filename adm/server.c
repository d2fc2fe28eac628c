/*  server.c - varlogadm: admin proxy and storage node failure detector.

    One actor thread runs one zloop with:
    - the ROUTER that serves varlogctl (and anyone else) on --listen;
    - a DEALER per storage node of the metadata, each heartbeat sending
      SN_STATUS without waiting for the previous answer (pipelined): any
      reply counts as a sign of life, and an SN that has sent nothing for
      --heartbeat-timeout-ms is down;
    - a DEALER to the MR on which each heartbeat asks GET_META, answered
      asynchronously, so the list of storage nodes to watch follows the
      cluster without ever blocking the loop on a dead MR.

    The MR may be a group of replicas of which only the leader serves
    (lib/mrconn.h). Both MR sockets talk to the replica the vl_rpc's
    vl_mrconn_t names: the blocking calls follow the leader as rpc.c
    describes, and the poll follows a VL_ENOTLEADER refusal (to the leader
    it names, else the next replica) and moves to the next replica after
    VL_MRCONN_SILENT_MS without an answer, when there is another one.
    Whichever of the two moves, the other follows at its next use.

    Proxied admin requests use a blocking vl_rpc call to the MR from inside
    the loop. That stalls heartbeats for at most --mr timeout, which is fine
    for the admin plane (rare, human-driven requests) and keeps the proxy a
    few lines. The MR's status and error text are forwarded unchanged: it
    alone decides what is valid, so its message is the one the user needs.

    Heartbeat and poll DEALERs set ZMQ_IMMEDIATE and a zero send timeout:
    a message to a peer that is not connected is dropped at once instead of
    queuing, so a dead SN never makes the admin accumulate requests.

    The storage node table, the failure detector and the automatic seal,
    sync and unseal live in health.c, SYNC in sync.c, what they share in
    server_i.h.
*/
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include "curve.h"
#include "server.h"
#include "server_i.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wire.h"

#define S_MR_TIMEOUT_MS_DEFAULT 2000
#define S_PING_TIMEOUT_MS_DEFAULT 2000
#define S_SN_SNDHWM 16

/* ---- helpers ----------------------------------------------------------- */

zsock_t *vl_adm_server_dealer(const char *endpoints, bool immediate)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    zsock_set_immediate(sock, immediate);
    zsock_set_sndtimeo(sock, 0);
    zsock_set_sndhwm(sock, S_SN_SNDHWM);
    zsock_set_maxmsgsize(sock, (int64_t)VL_WIRE_MAX_BODY + 4096);
    vl_curve_client(sock);
    char *copy = vl_strdup(endpoints);
    char *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r(copy, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        if (zsock_connect(sock, "%s", ep) != 0)
            rc = -1;
    free(copy);
    if (rc != 0)
        zsock_destroy(&sock);
    return sock;
}

/*  Sends a request of type with an empty body; false when it was dropped
    (peer not connected, queue full). */
static bool s_send_request(zsock_t *sock, uint16_t type, uint64_t id)
{
    vl_hdr_t h = {.type = type, .request_id = id};
    zmsg_t *msg = vl_wire_msg(&h, NULL);
    if (zmsg_send(&msg, sock) != 0) {
        zmsg_destroy(&msg);
        return false;
    }
    return true;
}

/*  Sends msg to the client named by routing id rid (copied). */
void vl_adm_server_reply(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    vl_wire_send_to(self->router, rid, msg_p); /* client gone or not reading: dropped */
}

/*  Replies with a status and a formatted message, and logs it. */
void vl_adm_server_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int rc,
                               const char *text)
{
    zmsg_t *reply = vl_wire_reply(req, (uint32_t)rc, "%s", text);
    vl_adm_server_reply(self, rid, &reply);
}

/* ---- heartbeat -------------------------------------------------------------- */

static void s_mr_poll_reset(self_t *self)
{
    if (self->mr_poll) {
        zloop_reader_end(self->loop, self->mr_poll);
        zsock_destroy(&self->mr_poll);
    }
    self->poll_id = 0;
}

static int s_mr_poll_reader(zloop_t *loop, zsock_t *sock, void *arg);

static void s_mr_poll_connect(self_t *self)
{
    s_mr_poll_reset(self);
    vl_mrconn_t *conn = vl_rpc_conn(self->mr);
    snprintf(self->poll_ep, sizeof self->poll_ep, "%s", vl_mrconn_current(conn));
    self->poll_gen = vl_mrconn_generation(conn);
    self->mr_poll = vl_adm_server_dealer(self->poll_ep, false);
    if (self->mr_poll && zloop_reader(self->loop, self->mr_poll, s_mr_poll_reader, self) != 0)
        zsock_destroy(&self->mr_poll);
}

/*  Points the poll at the replica the MR connection names now, when that
    changed. The DEALER stays (a disconnect and a connect): the loop keeps
    its reader, and the poll it asked of the old replica is given up. */
static void s_mr_poll_follow(self_t *self)
{
    vl_mrconn_t *conn = vl_rpc_conn(self->mr);
    if (self->poll_gen == vl_mrconn_generation(conn))
        return;
    if (!self->mr_poll) {
        s_mr_poll_connect(self);
    } else {
        zsock_disconnect(self->mr_poll, "%s", self->poll_ep);
        snprintf(self->poll_ep, sizeof self->poll_ep, "%s", vl_mrconn_current(conn));
        self->poll_gen = vl_mrconn_generation(conn);
        if (zsock_connect(self->mr_poll, "%s", self->poll_ep) != 0)
            vl_log(LOG_WARNING, "cannot connect to the metadata repository at %s: %s",
                   self->poll_ep, zmq_strerror(zmq_errno()));
    }
    self->poll_id = 0;
    self->poll_heard = zclock_mono();
}

/*  The MR replicas META names that the admin's list lacks join it (a
    replica added since the admin started). */
static void s_mr_learn(self_t *self, const vl_meta_t *meta)
{
    vl_mrconn_t *conn = vl_rpc_conn(self->mr);
    if (vl_mrconn_learn(conn, meta->members, meta->nmembers) > 0)
        vl_log(LOG_NOTICE, "metadata repository replicas now known: %s", vl_mrconn_list(conn));
}

static int s_mr_poll_reader(zloop_t *loop, zsock_t *sock, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait(sock)) != NULL) {
        vl_hdr_t hdr;
        vl_rbuf_t body;
        vl_meta_t meta;
        if (vl_wire_parse(msg, &hdr, &body) != 0 || hdr.type != (VL_MSG_GET_META | VL_MSG_REPLY) ||
            hdr.request_id != self->poll_id) {
            zmsg_destroy(&msg); /* stale answer of a poll we gave up on */
            continue;
        }
        self->poll_id = 0;
        if (zclock_mono() - self->mr_last_ok >= VL_MRCONN_SILENT_MS)
            self->mr_steady = zclock_mono(); /* after a gap */
        self->mr_last_ok = self->poll_heard = zclock_mono();
        if (self->mr_silent) {
            vl_log(LOG_NOTICE, "metadata repository at %s answers again", self->poll_ep);
            self->mr_silent = false;
        }
        if (hdr.status == VL_ENOTLEADER) {
            vl_notleader_t nl;
            if (vl_notleader_decode(&body, &nl) != 0)
                nl.leader[0] = '\0';
            vl_mrconn_t *conn = vl_rpc_conn(self->mr);
            if (vl_mrconn_hint(conn, nl.leader) || vl_mrconn_next(conn))
                vl_log(LOG_NOTICE,
                       "metadata repository at %s is not the leader (%s%s); polling %s now",
                       self->poll_ep, nl.leader[0] ? "leader " : "leader unknown", nl.leader,
                       vl_mrconn_current(conn));
            s_mr_poll_follow(self);
        } else if (hdr.status != 0) {
            char text[512];
            vl_wire_errtext(&body, text, sizeof text);
            vl_log(LOG_WARNING, "metadata repository at %s: GET_META failed: %s", self->poll_ep,
                   text);
        } else if (vl_meta_decode(&body, &meta) != 0) {
            vl_log(LOG_WARNING,
                   "metadata repository at %s sent a malformed META; is it the same varlog "
                   "version?",
                   self->poll_ep);
        } else {
            vl_adm_health_sns_sync(self, &meta);
            vl_adm_health_auto(self, &meta);
            s_mr_learn(self, &meta);
            vl_meta_free(&meta);
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

/*  A replica that has not answered a poll (or could not be sent one) for
    VL_MRCONN_SILENT_MS: the poll moves to the next, when there is one. */
static void s_mr_poll_rotate(self_t *self, int64_t now)
{
    vl_mrconn_t *conn = vl_rpc_conn(self->mr);
    if (!vl_mrconn_can_rotate(conn) || now - self->poll_heard < VL_MRCONN_SILENT_MS ||
        (self->poll_id && now - self->poll_sent < VL_MRCONN_SILENT_MS))
        return;
    if (self->poll_gen == vl_mrconn_generation(conn))
        vl_mrconn_next(conn);
    vl_log(LOG_NOTICE, "metadata repository at %s has not answered for %lld ms; polling %s now",
           self->poll_ep, (long long)(now - self->poll_heard), vl_mrconn_current(conn));
}

/*  Asks the MR for META (the heartbeat's poll) unless a poll is in flight. */
static void s_mr_poll_send(self_t *self, int64_t now)
{
    if (self->poll_id || !self->mr_poll)
        return;
    uint64_t id = self->next_id++;
    if (s_send_request(self->mr_poll, VL_MSG_GET_META, id)) {
        self->poll_id = id;
        self->poll_sent = now;
    } else if (!self->mr_silent && now - self->mr_last_ok >= self->heartbeat_timeout_ms) {
        vl_log(LOG_WARNING,
               "metadata repository at %s is not reachable; is varlogmr running? (watching "
               "the last known storage nodes meanwhile)",
               self->poll_ep);
        self->mr_silent = true;
    }
}

static void s_heartbeat(self_t *self)
{
    int64_t now = zclock_mono();
    s_mr_poll_rotate(self, now);
    s_mr_poll_follow(self);
    /* refresh the list of storage nodes; a poll unanswered for a whole
       timeout is given up (and its socket recreated so nothing stale
       stays queued) */
    if (self->poll_id && now - self->poll_sent >= self->heartbeat_timeout_ms) {
        if (!self->mr_silent)
            vl_log(LOG_WARNING,
                   "metadata repository at %s does not answer; is varlogmr running? (watching "
                   "the last known storage nodes meanwhile)",
                   self->poll_ep);
        self->mr_silent = true;
        s_mr_poll_connect(self);
    }
    s_mr_poll_send(self, now);
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        if (sn->dealer)
            s_send_request(sn->dealer, VL_MSG_SN_STATUS, self->next_id++);
    }
}

/*  A node whose connection closed and that stays silent, or that has been
    silent for the heartbeat timeout, is down now (checked every
    VL_ADM_LOST_CHECK_MS, not at the heartbeat's pace): the META poll goes
    out at once, and its answer seals the node's log streams
    (vl_adm_health_auto). */
static int s_lost_timer(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    if (vl_adm_health_lost_check(self))
        s_mr_poll_send(self, zclock_mono());
    return 0;
}

static int s_heartbeat_timer(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    s_heartbeat(self);
    int64_t up = 0, down = 0;
    for (size_t i = 0; i < self->nsn; i++) {
        up += self->sns[i]->state == S_SN_UP;
        down += self->sns[i]->state == S_SN_DOWN;
    }
    vl_metric_set(self->m_sns_up, up);
    vl_metric_set(self->m_sns_down, down);
    return 0;
}

/* ---- requests -------------------------------------------------------------- */

/*  Calls the MR and forwards its answer to the client: the reply body
    unchanged on success, the MR's status and text otherwise. On success
    *reply_p (when not NULL) keeps the MR's reply for the caller (caller
    owns it) and body points into it. Returns the status. */
static int s_forward(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_wbuf_t *body,
                     const char *what, zmsg_t **reply_p, vl_rbuf_t *rbody)
{
    uint16_t type = req->type;
    zmsg_t *reply = NULL;
    vl_hdr_t rh;
    vl_rbuf_t rb;
    char err[1024] = "";
    int64_t start = zclock_mono();
    int rc =
        vl_rpc_call(self->mr, type, body, self->mr_timeout_ms, &reply, &rh, &rb, err, sizeof err);
    /* the rpc's own text when the request may not be repeated: it says
       whether it may still take effect */
    if (rc == VL_ETIMEDOUT && zclock_mono() - start >= self->mr_timeout_ms &&
        vl_mrconn_resendable(type))
        snprintf(err, sizeof err, "metadata repository at %s does not answer; is varlogmr running?",
                 self->mr_ep);
    if (rc != 0) {
        vl_log(LOG_WARNING, "%s: %s: %s", what, vl_err_name(rc), err[0] ? err : vl_err_str(rc));
        vl_adm_server_reply_error(self, rid, req, rc, err[0] ? err : vl_err_str(rc));
        return rc;
    }
    vl_hdr_t h = *req;
    h.type = (uint16_t)(type | VL_MSG_REPLY);
    h.cluster_id = rh.cluster_id;
    h.status = 0;
    vl_wbuf_t view = {.data = (uint8_t *)rb.p, .len = rb.left, .cap = rb.left};
    zmsg_t *out = vl_wire_msg(&h, &view);
    vl_adm_server_reply(self, rid, &out);
    if (reply_p) {
        *reply_p = reply;
        *rbody = rb;
    } else {
        zmsg_destroy(&reply);
    }
    return 0;
}

/*  The id u32 of an admin reply (0 when the body is too short). */
static uint32_t s_reply_id(vl_rbuf_t *body)
{
    vl_rbuf_t r = *body;
    uint32_t id = vl_rbuf_u32(&r);
    return r.err ? 0 : id;
}

/*  PINGs addr with a short-lived DEALER. 0 when it answered; VL_EINVAL
    when addr is not an endpoint; VL_EUNAVAIL when it did not answer. */
static int s_ping(self_t *self, const char *addr)
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
    s_send_request(sock, VL_MSG_PING, id);
    zsock_set_sndtimeo(sock, -1);
    zpoller_t *poller = zpoller_new(sock, NULL);
    int64_t deadline = zclock_mono() + self->ping_timeout_ms;
    int rc = VL_EUNAVAIL;
    int64_t left;
    while (rc != 0 && (left = deadline - zclock_mono()) > 0) {
        if (!zpoller_wait(poller, (int)left))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        vl_hdr_t hdr;
        vl_rbuf_t body;
        if (msg && vl_wire_parse(msg, &hdr, &body) == 0 && hdr.request_id == id &&
            hdr.type == (VL_MSG_PING | VL_MSG_REPLY))
            rc = 0;
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    return rc;
}

static void s_handle_add_sn(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_admin_t *a,
                            const vl_wbuf_t *body)
{
    char what[VL_WIRE_MAX_ADDR + 32];
    snprintf(what, sizeof what, "add sn %s", a->addr);
    if (!a->addr[0]) {
        vl_adm_server_reply_error(self, rid, req, VL_EINVAL,
                                  "add sn: no address given; give the storage node's endpoint, "
                                  "e.g. tcp://127.0.0.1:9101");
        return;
    }
    int rc = s_ping(self, a->addr);
    if (rc == VL_EINVAL) {
        char text[VL_WIRE_MAX_ADDR + 128];
        snprintf(text, sizeof text,
                 "'%s' is not a valid ZeroMQ endpoint; give tcp://HOST:PORT of the storage node",
                 a->addr);
        vl_log(LOG_WARNING, "%s: %s", what, text);
        vl_adm_server_reply_error(self, rid, req, rc, text);
        return;
    }
    if (rc != 0) {
        char text[VL_WIRE_MAX_ADDR + 128];
        snprintf(text, sizeof text,
                 "storage node at %s does not answer; start varlogsn there first", a->addr);
        vl_log(LOG_WARNING, "%s: %s", what, text);
        vl_adm_server_reply_error(self, rid, req, rc, text);
        return;
    }
    zmsg_t *reply = NULL;
    vl_rbuf_t rb;
    if (s_forward(self, rid, req, body, what, &reply, &rb) != 0)
        return;
    uint32_t id = s_reply_id(&rb);
    zmsg_destroy(&reply);
    vl_log(LOG_NOTICE, "%s: sn id %u", what, id);
    if (id && !vl_adm_health_sn_find(self, id)) {
        /* it just answered our PING: up, without waiting for a heartbeat */
        s_sn_t *sn = vl_adm_health_sn_add(self, id, a->addr);
        vl_adm_health_sn_set_state(sn, S_SN_UP);
    }
}

static void s_handle_admin(self_t *self, zframe_t *rid, const vl_hdr_t *req, vl_rbuf_t *body)
{
    vl_admin_t a;
    const char *tname = vl_wire_type_name(req->type);
    if (vl_admin_decode(body, &a) != 0) {
        vl_log(LOG_WARNING, "%s: malformed body; refused", tname);
        char text[128];
        snprintf(text, sizeof text,
                 "%s: malformed request body; use a varlog client of the same version", tname);
        vl_adm_server_reply_error(self, rid, req, VL_EPROTO, text);
        return;
    }
    /* re-encoded from the decoded fields: only what we understood goes on;
       a seal asked for is a seal by hand (sn_from names a down node only
       in the admin's own automatic seals) */
    if (req->type == VL_MSG_SEAL)
        a.sn_from = 0;
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    char what[VL_WIRE_MAX_NAME + 64];
    zmsg_t *reply = NULL;
    vl_rbuf_t rb;
    switch (req->type) {
    case VL_MSG_ADD_SN:
        s_handle_add_sn(self, rid, req, &a, &b);
        break;
    case VL_MSG_CREATE_TOPIC:
        snprintf(what, sizeof what, "create topic '%s' nls=%u rf=%u", a.name, a.nls, a.rf);
        if (s_forward(self, rid, req, &b, what, &reply, &rb) == 0)
            vl_log(LOG_NOTICE, "%s: topic id %u", what, s_reply_id(&rb));
        break;
    case VL_MSG_DELETE_TOPIC:
        snprintf(what, sizeof what, "delete topic '%s'", a.name);
        if (s_forward(self, rid, req, &b, what, NULL, NULL) == 0)
            vl_log(LOG_NOTICE, "%s: done", what);
        break;
    case VL_MSG_REMOVE_SN:
        snprintf(what, sizeof what, "remove sn %u", a.id);
        if (s_forward(self, rid, req, &b, what, NULL, NULL) == 0) {
            vl_log(LOG_NOTICE, "%s: done", what);
            for (size_t i = 0; i < self->nsn; i++)
                if (self->sns[i]->id == a.id) {
                    vl_adm_health_sn_destroy(self, &self->sns[i]);
                    self->sns[i] = self->sns[--self->nsn];
                    break;
                }
        }
        break;
    case VL_MSG_ADD_LS:
        snprintf(what, sizeof what, "add ls to topic '%s'", a.name);
        if (s_forward(self, rid, req, &b, what, &reply, &rb) == 0)
            vl_log(LOG_NOTICE, "%s: ls id %u", what, s_reply_id(&rb));
        break;
    case VL_MSG_SEAL:
    case VL_MSG_UNSEAL:
        snprintf(what, sizeof what, "%s topic '%s' ls %u",
                 req->type == VL_MSG_SEAL ? "seal" : "unseal", a.name, a.id);
        if (s_forward(self, rid, req, &b, what, NULL, NULL) == 0)
            vl_log(LOG_NOTICE, "%s: done", what);
        break;
    case VL_MSG_UPDATE_LS:
        snprintf(what, sizeof what, "update topic '%s' ls %u: replace sn %u with sn %u", a.name,
                 a.id, a.sn_from, a.sn_to);
        if (s_forward(self, rid, req, &b, what, NULL, NULL) == 0)
            vl_log(LOG_NOTICE, "%s: done", what);
        break;
    case VL_MSG_SYNC:
        vl_adm_sync_handle(self, rid, req, &a);
        break;
    default:
        assert(false);
    }
    zmsg_destroy(&reply);
    vl_wbuf_free(&b);
}

/*  MR_STATUS, MR_ADD, MR_REMOVE, MR_TRANSFER: re-encoded from what was
    understood and forwarded to the MR's leader. A change waits for its
    end there (a new replica's catch-up, a handover): up to
    S_MR_CHANGE_TIMEOUT_MS, during which the admin's loop waits too (the
    storage nodes are forgiven the time, vl_adm_health_forgive). */
#define S_MR_CHANGE_TIMEOUT_MS 30000
static void s_handle_mr(self_t *self, zframe_t *rid, const vl_hdr_t *req, vl_rbuf_t *body)
{
    vl_mr_member_t m;
    memset(&m, 0, sizeof m);
    int rc = 0;
    if (req->type == VL_MSG_MR_ADD)
        rc = vl_mr_add_decode(body, &m);
    else if (req->type != VL_MSG_MR_STATUS)
        rc = vl_mr_id_decode(body, &m.id);
    const char *tname = vl_wire_type_name(req->type);
    if (rc != 0) {
        char text[128];
        snprintf(text, sizeof text, "%s: malformed request body; use varlogctl of the same version",
                 tname);
        vl_log(LOG_WARNING, "%s", text);
        vl_adm_server_reply_error(self, rid, req, VL_EPROTO, text);
        return;
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    char what[2 * VL_WIRE_MAX_ADDR + 64];
    switch (req->type) {
    case VL_MSG_MR_ADD:
        vl_mr_add_encode(&m, &b);
        snprintf(what, sizeof what, "mr add %" PRIu64 " %s %s", m.id, m.raft_addr, m.endpoint);
        break;
    case VL_MSG_MR_REMOVE:
    case VL_MSG_MR_TRANSFER:
        vl_mr_id_encode(m.id, &b);
        snprintf(what, sizeof what, "mr %s %" PRIu64,
                 req->type == VL_MSG_MR_REMOVE ? "remove" : "transfer", m.id);
        break;
    default:
        snprintf(what, sizeof what, "mr status");
    }
    int saved = self->mr_timeout_ms;
    if (req->type != VL_MSG_MR_STATUS && self->mr_timeout_ms < S_MR_CHANGE_TIMEOUT_MS)
        self->mr_timeout_ms = S_MR_CHANGE_TIMEOUT_MS;
    zmsg_t *reply = NULL;
    vl_rbuf_t rb;
    vl_mr_status_t st;
    if (s_forward(self, rid, req, req->type == VL_MSG_MR_STATUS ? NULL : &b, what, &reply, &rb) ==
        0) {
        if (req->type != VL_MSG_MR_STATUS)
            vl_log(LOG_NOTICE, "%s: done", what);
        /* the voters' endpoints, as META would name them */
        vl_meta_member_t voters[VL_WIRE_MAX_MEMBERS];
        vl_meta_t known = {.members = voters};
        if (vl_mr_status_decode(&rb, &st) != 0)
            st.n = 0;
        for (uint32_t i = 0; i < st.n; i++)
            if (st.members[i].role == VL_MR_VOTER) {
                voters[known.nmembers].id = st.members[i].id;
                memcpy(voters[known.nmembers++].endpoint, st.members[i].endpoint,
                       sizeof voters[0].endpoint);
            }
        s_mr_learn(self, &known);
    }
    zmsg_destroy(&reply);
    self->mr_timeout_ms = saved;
    vl_wbuf_free(&b);
}

int vl_adm_server_fetch_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, vl_meta_t *meta,
                             uint32_t *cluster_id_p)
{
    zmsg_t *reply = NULL;
    vl_hdr_t rh;
    vl_rbuf_t rb;
    char err[1024] = "";
    int64_t start = zclock_mono();
    int rc = vl_rpc_call(self->mr, VL_MSG_GET_META, NULL, self->mr_timeout_ms, &reply, &rh, &rb,
                         err, sizeof err);
    if (rc == VL_ETIMEDOUT && zclock_mono() - start >= self->mr_timeout_ms)
        snprintf(err, sizeof err, "metadata repository at %s does not answer; is varlogmr running?",
                 self->mr_ep);
    if (rc == 0 && vl_meta_decode(&rb, meta) != 0) {
        rc = VL_EPROTO;
        snprintf(err, sizeof err,
                 "metadata repository at %s sent a malformed META; is it the same varlog "
                 "version?",
                 self->mr_ep);
    }
    if (rc == 0 && cluster_id_p)
        *cluster_id_p = rh.cluster_id;
    zmsg_destroy(&reply);
    if (rc != 0 && rid) {
        vl_log(LOG_WARNING, "%s: %s", vl_wire_type_name(req->type), err[0] ? err : vl_err_str(rc));
        vl_adm_server_reply_error(self, rid, req, rc, err[0] ? err : vl_err_str(rc));
    }
    return rc;
}

/*  STATUS: fresh metadata from the MR with our own alive flags. */
static void s_handle_status(self_t *self, zframe_t *rid, const vl_hdr_t *req)
{
    vl_meta_t meta;
    uint32_t cluster_id = 0;
    if (vl_adm_server_fetch_meta(self, rid, req, &meta, &cluster_id) != 0)
        return;
    vl_adm_health_sns_sync(self, &meta);
    for (uint32_t i = 0; i < meta.nsn; i++) {
        s_sn_t *sn = vl_adm_health_sn_find(self, meta.sns[i].id);
        meta.sns[i].alive = sn && sn->state == S_SN_UP;
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_meta_encode(&meta, &b);
    if (meta.nmembers == 0)
        vl_wbuf_u32(&b, 0); /* the members section, so that the trailer is not read as one */
    vl_wbuf_str(&b, self->mr_ep);
    /* then what each storage node that is up last said of its replicas:
       u32 count, {sn id u32, SN_STATUS body} */
    uint32_t nst = 0;
    for (size_t i = 0; i < self->nsn; i++)
        nst += self->sns[i]->state == S_SN_UP && self->sns[i]->have_status;
    vl_wbuf_u32(&b, nst);
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        if (sn->state != S_SN_UP || !sn->have_status)
            continue;
        vl_wbuf_u32(&b, sn->id);
        vl_sn_status_encode(&sn->status, &b);
    }
    vl_hdr_t h = *req;
    h.type = VL_MSG_STATUS | VL_MSG_REPLY;
    h.cluster_id = cluster_id;
    h.status = 0;
    zmsg_t *out = vl_wire_msg(&h, &b);
    vl_adm_server_reply(self, rid, &out);
    vl_wbuf_free(&b);
    vl_meta_free(&meta);
}

static void s_handle(self_t *self, zframe_t *rid, zmsg_t *msg)
{
    vl_hdr_t req;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &req, &body);
    if (req.type & VL_MSG_REPLY) {
        /* never answer a reply: two daemons could ping-pong errors forever */
        vl_log(LOG_DEBUG, "unexpected reply %s from a client; dropped",
               vl_wire_type_name(req.type));
        return;
    }
    if (rc != 0) {
        vl_log(LOG_WARNING, "malformed request (%s: %s); refused", vl_err_name(rc), vl_err_str(rc));
        if (req.type == 0 || req.type >= VL_MSG_TYPE_MAX)
            req.type = VL_MSG_PING; /* some type the client can match */
        vl_adm_server_reply_error(
            self, rid, &req, rc,
            rc == VL_EVERSION ? "unsupported protocol version; use varlogctl of the same version "
                                "as varlogadm"
                              : "malformed message; use a varlog client of the same version");
        return;
    }
    vl_log(LOG_DEBUG, "%s request %" PRIu64, vl_wire_type_name(req.type), req.request_id);
    switch (req.type) {
    case VL_MSG_PING: {
        zmsg_t *reply = vl_wire_reply(&req, 0, NULL);
        vl_adm_server_reply(self, rid, &reply);
        break;
    }
    case VL_MSG_STATUS:
        s_handle_status(self, rid, &req);
        break;
    case VL_MSG_GET_META:
        s_forward(self, rid, &req, NULL, "get meta", NULL, NULL);
        break;
    case VL_MSG_CREATE_TOPIC:
    case VL_MSG_DELETE_TOPIC:
    case VL_MSG_ADD_SN:
    case VL_MSG_REMOVE_SN:
    case VL_MSG_ADD_LS:
    case VL_MSG_SEAL:
    case VL_MSG_UNSEAL:
    case VL_MSG_UPDATE_LS:
    case VL_MSG_SYNC:
        s_handle_admin(self, rid, &req, &body);
        break;
    case VL_MSG_MR_STATUS:
    case VL_MSG_MR_ADD:
    case VL_MSG_MR_REMOVE:
    case VL_MSG_MR_TRANSFER:
        s_handle_mr(self, rid, &req, &body);
        break;
    default: {
        char text[256];
        snprintf(text, sizeof text,
                 "varlogadm does not serve %s; send data requests to the storage nodes and "
                 "the metadata repository (use libvarlog)",
                 vl_wire_type_name(req.type));
        vl_log(LOG_WARNING, "%s request refused: not an admin request",
               vl_wire_type_name(req.type));
        vl_adm_server_reply_error(self, rid, &req, VL_EPROTO, text);
    }
    }
}

static int s_router_reader(zloop_t *loop, zsock_t *sock, void *arg)
{
    self_t *self = arg;
    /* bounded per pass so the heartbeat timer keeps its pace under load */
    for (int i = 0; i < 256; i++) {
        zmsg_t *msg = zmsg_recv_nowait(sock);
        if (!msg)
            break;
        zframe_t *rid = zmsg_pop(msg);
        int64_t start = zclock_mono();
        if (rid && zmsg_size(msg) > 0)
            s_handle(self, rid, msg);
        int64_t blocked = zclock_mono() - start;
        if (blocked > 0) {
            vl_adm_health_forgive(self, blocked);
            /* the poll's answer could not be read meanwhile either */
            self->poll_heard += blocked;
        }
        zframe_destroy(&rid);
        zmsg_destroy(&msg);
    }
    return 0;
}

static int s_pipe_reader(zloop_t *loop, zsock_t *pipe, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return -1; /* interrupted */
    char *cmd = zmsg_popstr(msg);
    int rc = 0;
    if (cmd && streq(cmd, "$TERM")) {
        self->terminated = true;
        rc = -1;
    } else if (cmd && streq(cmd, "PORT")) {
        zsock_send(pipe, "i", self->port);
    } else {
        vl_log(LOG_ERR, "actor: unknown pipe command '%s'", cmd ? cmd : "");
    }
    free(cmd);
    zmsg_destroy(&msg);
    return rc;
}

/* ---- life cycle ------------------------------------------------------------- */

static self_t *s_self_new(zsock_t *pipe, const vl_adm_opts_t *opts)
{
    self_t *self = vl_calloc(1, sizeof *self);
    self->pipe = pipe;
    self->listen = vl_strdup(opts->listen ? opts->listen : VL_ADM_LISTEN_DEFAULT);
    self->mr_ep = vl_strdup(opts->mr ? opts->mr : VL_ADM_MR_DEFAULT);
    vl_metrics_t *m = vl_metrics_default();
    self->m_seals = vl_metrics_counter(m, "varlog_adm_seals_total",
                                       "log streams sealed because a storage node was down", NULL);
    self->m_unseals = vl_metrics_counter(m, "varlog_adm_unseals_total",
                                         "log streams unsealed once every replica was in line",
                                         NULL);
    self->m_sn_down = vl_metrics_counter(m, "varlog_adm_sn_down_total",
                                         "storage nodes marked down (no heartbeat)", NULL);
    self->m_sns_up = vl_metrics_gauge(m, "varlog_adm_storage_nodes", "storage nodes by state",
                                      "state=\"up\"");
    self->m_sns_down = vl_metrics_gauge(m, "varlog_adm_storage_nodes", "storage nodes by state",
                                        "state=\"down\"");
    self->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : VL_ADM_HEARTBEAT_MS_DEFAULT;
    self->heartbeat_timeout_ms = opts->heartbeat_timeout_ms > 0
                                     ? opts->heartbeat_timeout_ms
                                     : VL_ADM_HEARTBEAT_TIMEOUT_MS_DEFAULT;
    self->mr_timeout_ms = opts->mr_timeout_ms > 0 ? opts->mr_timeout_ms : S_MR_TIMEOUT_MS_DEFAULT;
    self->ping_timeout_ms =
        opts->ping_timeout_ms > 0 ? opts->ping_timeout_ms : S_PING_TIMEOUT_MS_DEFAULT;
    self->no_auto = opts->no_auto;
    self->no_auto_unseal = opts->no_auto_unseal;
    self->next_id = ((uint64_t)getpid() << 32) | 1;
    self->port = -1;
    self->mr_last_ok = self->poll_heard = zclock_mono(); /* no complaint before a first timeout */
    self->mr_steady = self->mr_last_ok;
    self->loop = zloop_new();
    zloop_set_nonstop(self->loop, true); /* stop on $TERM only */
    zloop_reader(self->loop, pipe, s_pipe_reader, self);

    self->router = zsock_new(ZMQ_ROUTER);
    if (self->router) {
        zsock_set_linger(self->router, 0);
        /* libzmq allocates a frame of the size its header declares before
           we see it: cap it, or random bytes on the port could ask for
           terabytes. No admin message comes near a full body. */
        zsock_set_maxmsgsize(self->router, (int64_t)VL_WIRE_MAX_BODY + 4096);
        vl_curve_server(self->router);
        self->port = zsock_bind(self->router, "%s", self->listen);
    }
    if (!self->router || self->port < 0) {
        vl_log(LOG_ERR,
               "cannot listen on %s: %s; is another varlogadm running there? choose another "
               "--listen",
               self->listen, zmq_strerror(zmq_errno()));
        self->port = -1;
        zsock_destroy(&self->router);
        return self;
    }
    char err[512];
    self->mr = vl_rpc_new(self->mr_ep, err, sizeof err);
    if (!self->mr) {
        vl_log(LOG_ERR, "--mr: %s", err);
        self->port = -1;
        zsock_destroy(&self->router);
        return self;
    }
    zloop_reader(self->loop, self->router, s_router_reader, self);
    s_mr_poll_connect(self);
    zloop_timer(self->loop, (size_t)self->heartbeat_ms, 0, s_heartbeat_timer, self);
    zloop_timer(self->loop, VL_ADM_LOST_CHECK_MS, 0, s_lost_timer, self);
    vl_log(LOG_NOTICE,
           "listening on %s; metadata repository %s; heartbeat every %d ms, down after %d ms; "
           "automatic seal/sync/unseal %s",
           self->listen, self->mr_ep, self->heartbeat_ms, self->heartbeat_timeout_ms,
           self->no_auto          ? "off"
           : self->no_auto_unseal ? "on, unseal by hand"
                                  : "on");
    return self;
}

static void s_self_destroy(self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nsn; i++)
        vl_adm_health_sn_destroy(self, &self->sns[i]);
    free(self->sns);
    s_mr_poll_reset(self);
    free(self->autos);
    free(self->stalls);
    vl_rpc_destroy(&self->mr);
    zloop_destroy(&self->loop);
    zsock_destroy(&self->router);
    free(self->listen);
    free(self->mr_ep);
    free(self);
    *self_p = NULL;
}

void vl_adm_actor(zsock_t *pipe, void *opts)
{
    self_t *self = s_self_new(pipe, opts);
    zsock_signal(pipe, 0);
    if (self->router)
        s_heartbeat(self); /* learn the storage nodes at once */
    /* zloop_start returns -1 on $TERM, 0 when a signal interrupted the
       poll in this thread: the process decides when we stop, not a signal */
    while (!self->terminated)
        if (zloop_start(self->loop) == 0)
            zclock_sleep(1);
    s_self_destroy(&self);
}
