/*  server.c - the varlogmr actor.

    One thread runs a zloop with these sources: the actor pipe, the ROUTER
    socket every SN, client and admin talks to, a timerfd that paces the
    commit rounds (zloop timers count milliseconds; a timerfd in the poll set
    gives the 500 us default), a 1 s heartbeat timer, and the consensus
    engine's poller and timer (raft.h: libraft on libuv, driven from this
    loop on this thread).

    The MR is a replicated state machine (fsm.c) on the engine; one replica
    is a group of one, the same code path. Only the leader serves: its
    tick, HELLO, REPORT, META replies and admin operations run while the
    engine says it leads (vl_mr_lead_live); any other replica answers
    every request, PING included, with an error naming the leader, and
    does nothing else with it (it may be sent again). At start the
    ROUTER is read only once a leader is known, so that requests sent to a
    starting MR wait for its election instead of failing.

    The commit timer runs only while there is something to commit: a tick
    whose state is not dirty (no report raised an end since the last round,
    vl_mrstate_dirty) or whose round commits nothing disarms it, and the
    next message that makes the state dirty either runs the round at once,
    in the pass that read it, when the last round is a tick old, or arms
    the timer for when it will be. So an idle MR wakes up once a second
    instead of 2,000 times, the first commit after a pause goes out without
    waiting for a tick or a timer, and under load there is still at most
    one round per tick interval.

    Durability order: every change is a raft command, and nobody hears of
    it before it is committed (held by a majority of the MR's replicas).
    A commit round is applied in memory when computed and sent once its
    proposal is committed, as it is applied, just before this replica's
    store write, which only materializes it (round.c, lead.c, fsm.c);
    a metadata change is made in memory, proposed, and answered and pushed
    as META once applied, or reverted by reloading from the store when the
    proposal fails (admin.c, lead.c).

    Nothing from the network is trusted: decoders are bounds checked
    (wire.c), every failure gets an error reply and a log line, and a report
    can only touch replicas the reporting SN hosts.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "curve.h"
#include "log.h"
#include "persist.h"
#include "raft.h"
#include "server.h"
#include "server_i.h"
#include "state.h"
#include "util.h"
#include "wire.h"

#define S_ALIVE_US (3 * 1000000) /* META alive flag: heard within 3 s */
#define S_HEARTBEAT_MS 1000      /* lag check (and resends it starts) */
#define S_SNDHWM 100000          /* messages queued per peer before drops */
#define S_ROUTER_TICKS 4         /* ticks' time the ROUTER is drained for, at most */

/*  ---- peers (connected SNs) --------------------------------------------- */

/*  Rebuilds peer_of after the peers table changed (rare: HELLOs of new SNs). */
static void s_peer_reindex(self_t *self)
{
    uint32_t max = 0;
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].sn_id > max)
            max = self->peers[i].sn_id;
    free(self->peer_of);
    self->npeer_of = (size_t)max + 1;
    self->peer_of = vl_calloc(self->npeer_of, sizeof *self->peer_of);
    for (size_t i = 0; i < self->npeers; i++)
        self->peer_of[self->peers[i].sn_id] = (uint32_t)i + 1;
}

static s_peer_t *s_peer_by_rid(self_t *self, zframe_t *rid)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].rid && zframe_eq(self->peers[i].rid, rid))
            return &self->peers[i];
    return NULL;
}

/*  Notes that sn_id speaks from rid. Only registered SNs get here, so the
    table is bounded by the admin's sn add. */
static void s_peer_set(self_t *self, uint32_t sn_id, zframe_t *rid)
{
    s_peer_t *p = s_peer(self, sn_id);
    if (!p) {
        if (self->npeers == self->cappeers) {
            self->cappeers = self->cappeers ? self->cappeers * 2 : 8;
            self->peers = vl_realloc(self->peers, self->cappeers * sizeof *self->peers);
        }
        p = &self->peers[self->npeers++];
        memset(p, 0, sizeof *p);
        p->sn_id = sn_id;
        s_peer_reindex(self);
    }
    if (!p->rid || !zframe_eq(p->rid, rid)) {
        zframe_destroy(&p->rid);
        p->rid = zframe_dup(rid);
    }
    p->last_seen_us = vl_now_us();
}

void vl_mr_server_peer_drop(self_t *self, uint32_t sn_id)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (self->peers[i].sn_id == sn_id) {
            zframe_destroy(&self->peers[i].rid);
            free(self->peers[i].round);
            self->peers[i] = self->peers[--self->npeers];
            s_peer_reindex(self);
            return;
        }
}

/*  ---- sending ------------------------------------------------------------- */

void vl_mr_server_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                              const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    vl_log(status == VL_EPROTO || status == VL_EVERSION || status == VL_ESTORE ? LOG_WARNING
                                                                               : LOG_INFO,
           "mr: %s request=%" PRIu64 " failed (%s): %s", vl_wire_type_name(req->type),
           req->request_id, vl_err_name(status), text);
    zmsg_t *msg = vl_wire_reply(req, (uint32_t)status, "%s", text);
    s_send(self, rid, &msg);
}

vl_hdr_t vl_mr_server_reply_hdr(self_t *self, const vl_hdr_t *req)
{
    vl_hdr_t h = *req;
    h.type = (uint16_t)((req->type & ~VL_MSG_REPLY) | VL_MSG_REPLY);
    h.status = 0;
    h.cluster_id = self->cluster_id;
    return h;
}

zmsg_t *vl_mr_server_id_msg(self_t *self, const vl_hdr_t *req, uint32_t id)
{
    vl_hdr_t h = vl_mr_server_reply_hdr(self, req);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, id);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    return msg;
}

void vl_mr_server_reply_not_leader(self_t *self, zframe_t *rid, const vl_hdr_t *req)
{
    /* VL_ENOTLEADER's body is the leader's client endpoint alone (empty
       when unknown): requesters follow it (lib/mrconn.c). Never the raft
       address: nobody can send a request there. */
    uint64_t leader = vl_mrraft_leader(self->raft, NULL);
    const char *ep = "";
    for (size_t i = 0; leader != 0 && leader != self->raft_id && i < self->nmembers; i++)
        if (self->members[i].id == leader)
            ep = self->members[i].endpoint;
    zmsg_t *msg = vl_wire_reply(req, VL_ENOTLEADER, "%s", ep);
    /* every request a follower gets: not worth a line each */
    vl_log(LOG_DEBUG, "mr: %s request=%" PRIu64 " refused: not the leader (leader %s)",
           vl_wire_type_name(req->type), req->request_id, *ep ? ep : "unknown");
    s_send(self, rid, &msg);
}

static void s_meta_encode(self_t *self, uint32_t sn_id, vl_wbuf_t *b)
{
    vl_meta_t m;
    vl_mrstate_meta(self->state, self->cluster_id, sn_id, &m);
    m.term = self->lead_term; /* receivers ignore a META of an older term */
    vl_mr_members_meta(self, &m);
    int64_t now = vl_now_us();
    for (uint32_t i = 0; i < m.nsn; i++) {
        s_peer_t *p = s_peer(self, m.sns[i].id);
        m.sns[i].alive = p && now - p->last_seen_us < S_ALIVE_US;
    }
    vl_meta_encode(&m, b);
    vl_meta_free(&m);
}

void vl_mr_server_reply_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t sn_id)
{
    vl_hdr_t h = vl_mr_server_reply_hdr(self, req);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    s_meta_encode(self, sn_id, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send(self, rid, &msg);
}

/*  META shows committed ends: only applied ones. So the reply waits for a
    quiet state (lead.c), and is sent at once when it is. */
static void s_reply_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t sn_id)
{
    vl_mr_lead_wait(self, rid, req, sn_id, NULL);
}

/*  Pushes the (just applied) metadata to every connected SN. */
void vl_mr_server_push_meta(self_t *self)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    s_meta_encode(self, 0, &b);
    vl_hdr_t h = {.type = VL_MSG_META, .request_id = 0, .cluster_id = self->cluster_id};
    for (size_t i = 0; i < self->npeers; i++) {
        if (!self->peers[i].rid)
            continue;
        zmsg_t *msg = vl_wire_msg(&h, &b);
        s_send(self, self->peers[i].rid, &msg);
    }
    vl_wbuf_free(&b);
}

/*  ---- reloading the state from the store ------------------------------------ */

/*  Every log stream's durable end is its committed end (nothing in flight). */
static void s_durable_all(self_t *self)
{
    for (size_t i = 0; i < vl_mrstate_ls_count(self->state); i++) {
        vl_mrstate_ls_t *ls = vl_mrstate_ls_at(self->state, i);
        ls->durable_llsn_end = ls->committed_llsn_end;
    }
}

void vl_mr_server_reload(self_t *self)
{
    char err[512];
    vl_mrstate_t *fresh = vl_mrstate_new();
    if (vl_persist_load(self->persist, fresh, err, sizeof err) != 0) {
        /* memory may be ahead of what is applied: it must not serve */
        vl_log(LOG_CRIT, "mr: reloading the state from the store: %s; stopping", err);
        vl_mrstate_destroy(&fresh);
        self->failed = true;
        return;
    }
    vl_mrstate_destroy(&self->state);
    self->state = fresh;
    s_durable_all(self);
    self->state_stale = false;
}

/*  ---- handlers ------------------------------------------------------------------ */

static void s_on_hello(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_admin_t a;
    if (vl_admin_decode(body, &a) != 0) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EPROTO,
                                 "HELLO: malformed body; expected the SN's address");
        return;
    }
    vl_mrstate_sn_t *sn = vl_mrstate_sn_by_addr(self->state, a.addr);
    if (!sn) {
        /* an unregistered SN repeats HELLO every second: say it now and then */
        int64_t now = vl_now_us();
        int level = now - self->last_unregistered_log_us > 30 * 1000000 ? LOG_INFO : LOG_DEBUG;
        if (level == LOG_INFO)
            self->last_unregistered_log_us = now;
        vl_log(level,
               "mr: HELLO from unregistered storage node addr=%s; register it with "
               "'varlogctl sn add %s'",
               a.addr, a.addr);
        s_reply_meta(self, rid, hdr, 0);
        return;
    }
    vl_log(LOG_INFO, "mr: sn=%u addr=%s said HELLO", sn->id, sn->addr);
    s_peer_set(self, sn->id, rid);
    /* it may have restarted: trust nothing it reported before */
    vl_mrstate_sn_reset(self->state, sn->id);
    s_reply_meta(self, rid, hdr, sn->id);
}

static void s_on_report(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_report_t rep;
    if (vl_report_decode(body, &rep) != 0) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EPROTO,
                                 "REPORT: malformed body; expected sn id and replica ends");
        return;
    }
    /* A REPORT counts only from the connection of the SN's last HELLO: one
       queued by a process that is gone would otherwise re-mark replicas
       that its successor (which said HELLO since) does not hold. A live SN
       that merely reconnected (new routing id) is told to say HELLO. */
    s_peer_t *peer = s_peer(self, rep.sn_id);
    if (peer && peer->rid && !zframe_eq(peer->rid, rid)) {
        vl_log(LOG_DEBUG,
               "mr: REPORT of sn=%u from a connection other than its last HELLO's ignored "
               "(stale, or the SN reconnected: asked to say HELLO again)",
               rep.sn_id);
        zmsg_t *msg = vl_wire_reply(hdr, VL_ENOSN,
                                    "REPORT of sn=%u ignored: this connection did not say HELLO; "
                                    "say HELLO again",
                                    rep.sn_id);
        s_send(self, rid, &msg);
    } else if (!vl_mrstate_sn_by_id(self->state, rep.sn_id)) {
        vl_log(LOG_DEBUG, "mr: REPORT from unknown sn=%u ignored", rep.sn_id);
    } else {
        s_peer_set(self, rep.sn_id, rid);
        peer = s_peer(self, rep.sn_id);
        for (uint32_t i = 0; i < rep.n; i++) {
            vl_mrstate_ls_t *ls;
            vl_mrstate_replica_t *r =
                vl_mrstate_report_item(self->state, rep.sn_id, &rep.items[i], &ls);
            /* a replica behind gets its next batch of history as soon as
               it shows the last one applied (or first reports after a
               HELLO) */
            if (r)
                vl_mr_round_feed(self, peer, ls, r);
        }
    }
    vl_report_free(&rep);
}

static void s_handle(self_t *self, zmsg_t *msg)
{
    zframe_t *rid = zmsg_pop(msg);
    if (!rid || zmsg_size(msg) == 0) {
        vl_log(LOG_WARNING, "mr: dropped a message without routing id or header");
        zframe_destroy(&rid);
        zmsg_destroy(&msg);
        return;
    }
    s_peer_t *peer = s_peer_by_rid(self, rid);
    if (peer)
        peer->last_seen_us = vl_now_us();
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &hdr, &body);
    if (rc != 0) {
        if (hdr.type & VL_MSG_REPLY)
            vl_log(LOG_WARNING, "mr: dropped a malformed reply (%s)", vl_err_name(rc));
        else
            vl_mr_server_reply_error(
                self, rid, &hdr, rc,
                "message rejected: %s; check that client and server are the same "
                "varlog version",
                vl_err_str(rc));
        goto done;
    }
    if (hdr.type & VL_MSG_REPLY) {
        vl_log(LOG_DEBUG, "mr: ignored a %s reply: the MR sends no requests",
               vl_wire_type_name(hdr.type));
        goto done;
    }
    if (hdr.cluster_id != 0 && hdr.cluster_id != self->cluster_id) {
        vl_mr_server_reply_error(
            self, rid, &hdr, VL_ECLUSTER,
            "this MR serves cluster %u, the message is for cluster %u; check the "
            "--mr address",
            self->cluster_id, hdr.cluster_id);
        goto done;
    }
    /* the live role: the engine may know of a new leader before it calls
       back */
    if (!vl_mr_lead_live(self)) {
        vl_mr_server_reply_not_leader(self, rid, &hdr);
        goto done;
    }
    switch (hdr.type) {
    case VL_MSG_HELLO:
        s_on_hello(self, rid, &hdr, &body);
        break;
    case VL_MSG_REPORT:
        s_on_report(self, rid, &hdr, &body);
        break;
    case VL_MSG_GET_META:
    case VL_MSG_STATUS:
        s_reply_meta(self, rid, &hdr, 0);
        break;
    case VL_MSG_CREATE_TOPIC:
    case VL_MSG_DELETE_TOPIC:
    case VL_MSG_ADD_SN:
    case VL_MSG_REMOVE_SN:
    case VL_MSG_ADD_LS:
    case VL_MSG_TRIM:
    case VL_MSG_SEAL:
    case VL_MSG_UNSEAL:
    case VL_MSG_UPDATE_LS:
        vl_mr_admin_handle(self, rid, &hdr, &body);
        break;
    case VL_MSG_MR_STATUS:
    case VL_MSG_MR_ADD:
    case VL_MSG_MR_REMOVE:
    case VL_MSG_MR_TRANSFER:
        vl_mr_members_handle(self, rid, &hdr, &body);
        break;
    case VL_MSG_PING: {
        vl_hdr_t h = vl_mr_server_reply_hdr(self, &hdr);
        zmsg_t *reply = vl_wire_msg(&h, NULL);
        s_send(self, rid, &reply);
        break;
    }
    default:
        vl_mr_server_reply_error(
            self, rid, &hdr, VL_EPROTO,
            "the metadata repository does not handle %s; send it to a storage node",
            vl_wire_type_name(hdr.type));
        break;
    }
done:
    zframe_destroy(&rid);
    zmsg_destroy(&msg);
}

/*  Drains the messages that are in, for at most S_ROUTER_TICKS commit
    ticks (and 256 messages) per wake-up: fewer passes through the poll
    under load, and the commit timer still gets its turn. A count of
    messages alone did not bound it: 256 REPORTs of 1,000 items took some
    40 ms, during which no round was computed. A budget of half a tick
    starved the reports instead: at 3,000 log streams a round (compute,
    then its COMMITs) takes longer than that, the reports got less than
    half of the loop and queued: report-to-commit p99 0.26-0.7 s at 3,000
    log streams under vl_mrload, 34-60 ms with 4 ticks. So the tick is at
    most a few ticks late while reports are queued, and is served at once
    when they are not. */
static void s_tick_due(self_t *self);

static int s_on_router(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    int64_t until = vl_now_us() + (int64_t)self->tick_us * S_ROUTER_TICKS;
    for (int i = 0; i < 256; i++) {
        if (i > 0 && (!(zsock_events(reader) & ZMQ_POLLIN) || vl_now_us() >= until))
            break;
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        s_handle(self, msg);
    }
    s_tick_due(self);
    return self->failed ? -1 : 0;
}

void vl_mr_server_serve(self_t *self)
{
    if (self->serving)
        return;
    self->serving = true;
    zloop_reader(self->loop, self->router, s_on_router, self);
}

/*  ---- timers ------------------------------------------------------------------ */

static void s_tick_set(self_t *self, int64_t first_us, uint32_t interval_us)
{
    struct itimerspec its = {
        .it_interval = {.tv_sec = interval_us / 1000000,
                        .tv_nsec = (long)(interval_us % 1000000) * 1000},
        .it_value = {.tv_sec = (time_t)(first_us / 1000000),
                     .tv_nsec = (long)(first_us % 1000000) * 1000},
    };
    /* a zero it_value disarms: a due tick is 1 ns away */
    if (first_us <= 0 && interval_us)
        its.it_value = (struct timespec){.tv_sec = 0, .tv_nsec = 1};
    if (timerfd_settime(self->tfd, 0, &its, NULL) != 0) {
        /* cannot happen with a valid fd and times; keep ticking so that
           commits never stop */
        vl_log(LOG_WARNING, "mr: setting the commit timer: %s", strerror(errno));
        return;
    }
    self->tick_armed = interval_us != 0;
}

/*  Arms the commit timer when the state became dirty while it was idle:
    the round goes out at once, or a tick after the last round if that is
    less than a tick ago. (Not a tick after the last tick: the tick that
    disarmed the timer, right after a round whose synced write took longer
    than a tick, would hold the next round back for no reason.) */
void vl_mr_server_tick_wake(self_t *self)
{
    if (self->tick_armed || !self->leading || !vl_mrstate_dirty(self->state))
        return;
    s_tick_set(self, self->last_round_us + self->tick_us - vl_now_us(), self->tick_us);
}

/*  A tick: a commit round when the state is dirty. Returns true while
    ticks must go on (vl_mr_round_commit). */
static bool s_tick_run(self_t *self)
{
    self->ticks++;
    /* nothing dirty: no O(log streams) work, and no more ticks until a
       report raises an end */
    if (!vl_mrstate_dirty(self->state))
        return false;
    self->last_round_us = vl_now_us();
    return vl_mr_round_commit(self);
}

/*  After the ROUTER's messages: a round that is due at once (the timer is
    idle, the last round is a tick old) runs here, in the same pass, not
    through the timer. Through the timer a lone report cost arming it for
    1 ns, a pass through the poll for its expiry and, a tick later, a
    wake-up only to find nothing dirty and disarm it: three timer
    operations and a wake-up per round, on the path of every append of a
    lightly loaded cluster. The timer still paces rounds that come less
    than a tick apart, and retries a round that must wait. */
static void s_tick_due(self_t *self)
{
    if (self->tick_armed || !self->leading || !vl_mrstate_dirty(self->state))
        return;
    if (self->last_round_us + (int64_t)self->tick_us > vl_now_us()) {
        vl_mr_server_tick_wake(self);
        return;
    }
    if (s_tick_run(self) && vl_mrstate_dirty(self->state))
        s_tick_set(self, self->tick_us, self->tick_us);
}

static int s_on_tick(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    self_t *self = arg;
    uint64_t expirations;
    if (read(self->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        vl_log(LOG_WARNING, "mr: reading the commit timer: %s", strerror(errno));
    if (!s_tick_run(self))
        s_tick_set(self, 0, 0);
    return self->failed ? -1 : 0;
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    if (vl_mr_lead_live(self))
        vl_mr_round_resend(self);
    vl_mr_lead_heartbeat(self);
    vl_mr_stats_heartbeat(self);
    return self->failed ? -1 : 0;
}

/*  ---- pipe --------------------------------------------------------------------- */

/*  HANDOVER: a leader hands leadership to the most up-to-date voter before
    it stops (SIGTERM, SIGINT), so that the group does not wait an election
    timeout for a new leader. The pipe gets "i" (1: handed over, 0: not: no
    other voter, not the leader, or no answer within S_HANDOVER_MS). */
#define S_HANDOVER_MS 1500

static void s_handover_end(self_t *self, int done, const char *why)
{
    if (!self->handover_pending)
        return;
    self->handover_pending = false;
    if (self->handover_timer >= 0)
        zloop_timer_end(self->loop, self->handover_timer);
    self->handover_timer = -1;
    if (done)
        vl_log(LOG_NOTICE, "mr: leadership handed to raft id %" PRIu64 " before stopping",
               vl_mrraft_leader(self->raft, NULL));
    else
        vl_log(LOG_WARNING, "mr: stopping as leader: handing leadership over failed: %s", why);
    zsock_send(self->pipe, "i", done);
}

static void s_handover_done(void *arg, int status, uint64_t index)
{
    self_t *self = arg;
    s_handover_end(self, status == 0, status == 0 ? "" : vl_mrraft_errmsg(self->raft));
}

static int s_handover_timeout(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    self->handover_timer = -1; /* a timer of one run ends by itself */
    s_handover_end(self, 0, "no new leader within 1.5 s; the others elect one");
    return 0;
}

static void s_handover(self_t *self)
{
    vl_mrraft_member_t conf[S_MAX_MEMBERS];
    size_t n = vl_mr_lead_live(self) ? vl_mrraft_members(self->raft, conf, S_MAX_MEMBERS) : 0;
    size_t voters = 0;
    for (size_t i = 0; i < n && i < S_MAX_MEMBERS; i++)
        voters += conf[i].role == VL_MRRAFT_VOTER;
    if (self->handover_pending)
        return; /* answered when it ends */
    if (voters < 2 || vl_mrraft_transfer(self->raft, 0, s_handover_done, self) != 0) {
        zsock_send(self->pipe, "i", 0);
        return;
    }
    vl_log(LOG_NOTICE, "mr: stopping: handing leadership to another voter first");
    self->handover_pending = true;
    self->handover_timer = zloop_timer(self->loop, S_HANDOVER_MS, 1, s_handover_timeout, self);
}

static int s_on_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return -1; /* interrupted */
    char *cmd = zmsg_popstr(msg);
    int rc = self->failed ? -1 : 0;
    if (cmd && streq(cmd, "$TERM")) {
        self->terminated = true;
        rc = -1;
    } else if (cmd && streq(cmd, "HANDOVER")) {
        s_handover(self);
    } else if (cmd && streq(cmd, "PORT")) {
        zsock_send(self->pipe, "i", self->port);
    } else if (cmd && streq(cmd, "STATS")) {
        zsock_send(self->pipe, "88", self->ticks, self->rounds);
    } else if (cmd && streq(cmd, "STATE")) {
        if (self->state_stale)
            vl_mr_server_reload(self);
        uint64_t bytes = 0;
        for (size_t i = 0; i < vl_mrstate_ls_count(self->state); i++)
            bytes += vl_mrstate_ls_at(self->state, i)->committed_bytes;
        zsock_send(self->pipe, "8888", vl_mrstate_version(self->state),
                   vl_persist_applied(self->persist), bytes,
                   (uint64_t)vl_mrstate_sn_count(self->state));
    } else {
        vl_log(LOG_WARNING, "mr: unknown pipe command '%s'", cmd ? cmd : "");
    }
    free(cmd);
    zmsg_destroy(&msg);
    return rc;
}

/*  ---- lifecycle ------------------------------------------------------------------ */

static void s_self_destroy(self_t **self_p)
{
    if (!*self_p)
        return;
    self_t *self = *self_p;
    /* the engine first (its poller is on the loop): the done callbacks of
       proposals in flight find the actor stopping and do nothing; rounds
       not applied were never announced (an applied one is found in the
       history after a restart and resent from there) */
    self->terminated = true;
    vl_mrraft_destroy(&self->raft);
    zloop_destroy(&self->loop);
    vl_mr_lead_free(self);
    vl_mr_members_free(self);
    zsock_destroy(&self->router);
    if (self->tfd >= 0)
        close(self->tfd);
    for (size_t i = 0; i < self->npeers; i++) {
        zframe_destroy(&self->peers[i].rid);
        free(self->peers[i].round);
    }
    free(self->peers);
    free(self->peer_of);
    vl_wbuf_free(&self->commit_buf);
    vl_wbuf_free(&self->round_buf);
    vl_wbuf_free(&self->cmd_buf);
    vl_persist_destroy(&self->persist);
    vl_mrstate_destroy(&self->state);
    free(self);
    *self_p = NULL;
}

/*  The ROUTER, bound to cfg->listen. 0, or a VL_E* code with errbuf set. */
static int s_open_router(self_t *self, const vl_mr_config_t *cfg, char *errbuf, size_t errbuf_size)
{
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        snprintf(errbuf, errbuf_size, "cannot create a ZeroMQ socket: %s",
                 zmq_strerror(zmq_errno()));
        return VL_EIO;
    }
    zsock_set_linger(self->router, 0);
    zsock_set_sndhwm(self->router, S_SNDHWM);
    zsock_set_sndtimeo(self->router, 0);
    zsock_set_maxmsgsize(self->router, (int64_t)VL_WIRE_MAX_BODY + 4096);
    vl_curve_server(self->router);
    self->port = zsock_bind(self->router, "%s", cfg->listen);
    if (self->port < 0) {
        snprintf(errbuf, errbuf_size,
                 "cannot listen on '%s': %s; pick a free address with --listen", cfg->listen,
                 zmq_strerror(zmq_errno()));
        return VL_EIO;
    }
    if (self->port == 0)
        self->port = -1; /* not TCP (ipc://, inproc://) */
    return 0;
}

static self_t *s_self_new(zsock_t *pipe, vl_mr_config_t *cfg)
{
    self_t *self = vl_calloc(1, sizeof *self);
    self->pipe = pipe;
    self->tfd = -1;
    self->handover_timer = -1;
    self->cluster_id = cfg->cluster_id;
    vl_mr_stats_init(self);
    self->tick_us = cfg->commit_tick_us ? cfg->commit_tick_us : VL_MR_COMMIT_TICK_DEFAULT;
    vl_wbuf_init(&self->commit_buf);
    vl_wbuf_init(&self->round_buf);
    vl_wbuf_init(&self->cmd_buf);
    self->state = vl_mrstate_new();
    self->persist = vl_persist_open(cfg->data_dir, cfg->errbuf, sizeof cfg->errbuf);
    if (!self->persist ||
        vl_persist_load(self->persist, self->state, cfg->errbuf, sizeof cfg->errbuf) != 0) {
        cfg->rc = VL_ESTORE;
        goto fail;
    }
    s_durable_all(self);
    cfg->rc = s_open_router(self, cfg, cfg->errbuf, sizeof cfg->errbuf);
    if (cfg->rc != 0)
        goto fail;
    /* armed when this replica takes leadership */
    self->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->tfd < 0) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "cannot create the commit timer: %s",
                 strerror(errno));
        cfg->rc = VL_EIO;
        goto fail;
    }
    self->loop = zloop_new();
    /* only $TERM stops the loop; main turns SIGINT/SIGTERM into $TERM */
    zloop_set_nonstop(self->loop, true);
    zloop_reader(self->loop, self->pipe, s_on_pipe, self);
    zmq_pollitem_t item = {.socket = NULL, .fd = self->tfd, .events = ZMQ_POLLIN};
    zloop_poller(self->loop, &item, s_on_tick, self);
    zloop_timer(self->loop, S_HEARTBEAT_MS, 0, s_on_heartbeat, self);
    const char *ep = zsock_endpoint(self->router);
    vl_log(LOG_INFO, "varlogmr: listening on %s", ep ? ep : cfg->listen);
    vl_log(LOG_INFO,
           "mr: cluster=%u data=%s version=%" PRIu64 " sns=%zu topics=%zu log streams=%zu "
           "commit tick %u us",
           self->cluster_id, cfg->data_dir, vl_mrstate_version(self->state),
           vl_mrstate_sn_count(self->state), vl_mrstate_topic_count(self->state),
           vl_mrstate_ls_count(self->state), self->tick_us);
    /* the ROUTER is read once a leader is known (fsm.c): requests sent
       meanwhile wait in it */
    cfg->rc = vl_mr_fsm_start(self, cfg, cfg->errbuf, sizeof cfg->errbuf);
    if (cfg->rc != 0)
        goto fail;
    return self;
fail:
    s_self_destroy(&self);
    return NULL;
}

void vl_mr_actor(zsock_t *pipe, void *args)
{
    vl_mr_config_t *cfg = args;
    /* signals are main's business: keep them from interrupting the poll */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cfg->rc = 0;
    cfg->errbuf[0] = '\0';
    self_t *self = s_self_new(pipe, cfg);
    zsock_signal(pipe, 0); /* cfg->rc tells the caller how it went */
    if (!self)
        return;
    /* zloop_start also returns when a poll fails (EINTR): go on unless
       $TERM came or the ZeroMQ context is going away */
    while (!self->terminated && !self->failed) {
        zloop_start(self->loop);
        if (!self->terminated && zmq_errno() == ETERM)
            break;
    }
    s_self_destroy(&self);
}

zactor_t *vl_mr_start(vl_mr_config_t *config)
{
    zactor_t *actor = zactor_new(vl_mr_actor, config);
    if (actor && config->rc != 0)
        zactor_destroy(&actor);
    if (!actor && config->rc == 0) {
        config->rc = VL_EIO;
        snprintf(config->errbuf, sizeof config->errbuf, "cannot start the MR thread");
    }
    return actor;
}

int vl_mr_port(zactor_t *mr)
{
    int port = -1;
    if (zstr_send(mr, "PORT") == 0)
        zsock_recv(mr, "i", &port);
    return port;
}
