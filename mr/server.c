/*  server.c - the varlogmr actor.

    One thread runs a zloop with four sources: the actor pipe, the ROUTER
    socket every SN, client and admin talks to, a timerfd that paces the
    commit rounds (zloop timers count milliseconds; a timerfd in the poll set
    gives the 500 us default) and a 1 s heartbeat timer.

    The commit timer runs only while there is something to commit: a tick
    whose state is not dirty (no report raised an end since the last round,
    vl_mrstate_dirty) or whose round commits nothing disarms it, and the
    next message that makes the state dirty arms it again, to fire at once
    unless the last tick is less than a tick old. So an idle MR wakes up
    once a second instead of 2,000 times, the first commit after a pause
    goes out without waiting for a tick, and under load there is still at
    most one round per tick interval.

    Durability order (SPEC section 4): every change is written to RocksDB
    with sync before anyone hears of it. A commit round is computed without
    touching the state, persisted, applied, and only then sent; a metadata
    change is made in memory, persisted, and reverted by reloading from the
    store if the write fails, before any reply or META push.

    Commit rounds are written by a writer thread (STYLE: handlers never
    block on disk), and pipelined: the loop computes round N, builds its
    write, applies it in memory and hands the write to the writer; the
    next tick may compute N+1 from that state while N is being synced. The
    writer writes whatever rounds are queued, the last one synced (which
    makes the ones before it durable too), and reports the last version
    written; only then does the loop send those rounds' COMMITs, in order.
    So the tick is not held up by the fsync, and a round is still never
    announced before it is durable. The metadata the MR shows (META, seal
    ends, trim checks) and the metadata writes wait until no round is in
    flight (s_drain; admin operations are rare and a sync is short), so
    they never show or persist a round that is not durable. If the writer
    fails, no later round is written or sent; once the writer has answered
    every round in flight and a synced write succeeds again, the state is
    reloaded from the store (what is durable) and rounds resume.

    Resends: each replica remembers up to where commits were sent to it
    (sent_llsn_end, state.h). A replica that says HELLO, or that the MR has
    not heard since it started, is re-synced from its first report:
    sent_llsn_end = its applied end. When it is behind the committed end
    and nothing is in flight, the missing ranges are read from the history
    and sent in bounded batches; when its applied end has not moved for a
    second while behind, whatever was in flight is presumed lost and sent
    again. The next batch goes out when the replica's report shows the last
    one applied; the lag check runs on the heartbeat (it need not look at
    every replica every tick).

    Nothing from the network is trusted: decoders are bounds checked
    (wire.c), every failure gets an error reply and a log line, and a report
    can only touch replicas the reporting SN hosts.
*/
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "log.h"
#include "persist.h"
#include "server.h"
#include "state.h"
#include "util.h"
#include "wire.h"

#define S_ALIVE_US (3 * 1000000) /* META alive flag: heard within 3 s */
#define S_LAG_US (1 * 1000000)   /* resend what is in flight after 1 s */
#define S_HEARTBEAT_MS 1000      /* lag check (and resends it starts) */
#define S_RESEND_BATCH 64        /* commit ranges per resend pass */
#define S_SNDHWM 100000          /* messages queued per peer before drops */
#define S_MAX_INFLIGHT 64        /* rounds written but not yet durable */
#define S_WRITER_BATCH 256       /* rounds the writer syncs at once, at most */
#define S_ROUTER_TICKS 4         /* ticks' time the ROUTER is drained for, at most */

typedef struct {
    uint32_t sn_id;
    zframe_t *rid; /* its ZeroMQ routing id, from HELLO or REPORT */
    int64_t last_seen_us;
    uint32_t *round; /* its items of the round being sent, by index (s_send_round) */
    uint32_t nround, capround;
} s_peer_t;

typedef struct {
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *router;
    int port;
    int tfd;
    uint32_t tick_us;
    bool tick_armed;
    int64_t last_round_us;  /* when the last round was computed */
    uint64_t ticks, rounds; /* counted for the STATS pipe command (tests) */
    bool terminated;
    uint32_t cluster_id;
    vl_mrstate_t *state;
    vl_persist_t *persist;
    s_peer_t *peers;
    size_t npeers, cappeers;
    uint32_t *peer_of; /* sn id -> index in peers + 1 (0: none), for ids < npeer_of */
    size_t npeer_of;
    vl_wbuf_t commit_buf; /* a COMMIT body, reused for every message */
    vl_wbuf_t round_buf;  /* the whole round's COMMIT body (s_send_round) */
    vl_persist_range_t resend[S_RESEND_BATCH];
    int64_t last_store_error_us;
    int64_t last_unregistered_log_us;
    zactor_t *writer;                     /* writes the commit rounds (s_writer_actor) */
    vl_commit_t inflight[S_MAX_INFLIGHT]; /* handed to the writer, in order */
    size_t inflight_head, ninflight;
    uint32_t writer_jobs;  /* rounds the writer has not answered yet */
    bool writer_failed;    /* a round's write failed: nothing is sent */
    bool writer_resetting; /* RESET sent, its answer not yet in */
} self_t;

/*  ---- peers (connected SNs) --------------------------------------------- */

static s_peer_t *s_peer(self_t *self, uint32_t sn_id)
{
    /* a round looks up the SN of every replica it advanced: by index */
    if (sn_id >= self->npeer_of || self->peer_of[sn_id] == 0)
        return NULL;
    return &self->peers[self->peer_of[sn_id] - 1];
}

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

static void s_peer_drop(self_t *self, uint32_t sn_id)
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

static void s_send(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    vl_wire_send_to(self->router, rid, msg_p); /* a lost one is recovered by retries */
}

static void s_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void s_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
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

static vl_hdr_t s_reply_hdr(self_t *self, const vl_hdr_t *req)
{
    vl_hdr_t h = *req;
    h.type = (uint16_t)((req->type & ~VL_MSG_REPLY) | VL_MSG_REPLY);
    h.status = 0;
    h.cluster_id = self->cluster_id;
    return h;
}

static void s_reply_id(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t id)
{
    vl_hdr_t h = s_reply_hdr(self, req);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, id);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send(self, rid, &msg);
}

static void s_meta_encode(self_t *self, uint32_t sn_id, vl_wbuf_t *b)
{
    vl_meta_t m;
    vl_mrstate_meta(self->state, self->cluster_id, sn_id, &m);
    int64_t now = vl_now_us();
    for (uint32_t i = 0; i < m.nsn; i++) {
        s_peer_t *p = s_peer(self, m.sns[i].id);
        m.sns[i].alive = p && now - p->last_seen_us < S_ALIVE_US;
    }
    vl_meta_encode(&m, b);
    vl_meta_free(&m);
}

static bool s_drain(self_t *self);

static void s_reply_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t sn_id)
{
    /* META shows committed ends: only durable ones (no round in flight) */
    if (!s_drain(self)) {
        s_reply_error(self, rid, req, VL_ESTORE,
                      "%s: the MR cannot write its store; check the MR's disk and log",
                      vl_wire_type_name(req->type));
        return;
    }
    vl_hdr_t h = s_reply_hdr(self, req);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    s_meta_encode(self, sn_id, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send(self, rid, &msg);
}

/*  Pushes the (just persisted) metadata to every connected SN. */
static void s_push_meta(self_t *self)
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

static void s_send_commit(self_t *self, zframe_t *rid, const vl_commit_t *c)
{
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .request_id = 0, .cluster_id = self->cluster_id};
    /* one buffer for all: vl_wire_msg copies the body into the message */
    self->commit_buf.len = 0;
    vl_commit_encode(c, &self->commit_buf);
    zmsg_t *msg = vl_wire_msg(&h, &self->commit_buf);
    s_send(self, rid, &msg);
}

/*  ---- persistence of metadata changes ---------------------------------------- */

static void s_durable_all(self_t *self);

/*  Replaces the in-memory state with what the store holds: used when a
    metadata write failed, so that memory never runs ahead of the disk. */
static void s_reload(self_t *self)
{
    char err[512];
    vl_mrstate_t *fresh = vl_mrstate_new();
    if (vl_persist_load(self->persist, fresh, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "mr: reloading the state after a failed write: %s", err);
        vl_mrstate_destroy(&fresh);
        return;
    }
    vl_mrstate_destroy(&self->state);
    self->state = fresh;
    s_durable_all(self);
}

/*  Persists the metadata after a change; on failure reverts the change,
    replies VL_ESTORE and returns false. */
static bool s_save_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t drop_topic,
                        const uint32_t *drop_ls, size_t ndrop_ls)
{
    char err[512];
    if (vl_persist_save_meta(self->persist, self->state, drop_topic, drop_ls, ndrop_ls, err,
                             sizeof err) == 0)
        return true;
    vl_log(LOG_ERR, "mr: %s", err);
    s_reload(self);
    s_reply_error(self, rid, req, VL_ESTORE, "%s: %s", vl_wire_type_name(req->type), err);
    return false;
}

/*  ---- handlers ------------------------------------------------------------------ */

static void s_feed(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls, vl_mrstate_replica_t *r);
static void s_tick_wake(self_t *self);
static bool s_drain(self_t *self);

static void s_on_hello(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_admin_t a;
    if (vl_admin_decode(body, &a) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
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
        s_reply_error(self, rid, hdr, VL_EPROTO,
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
                s_feed(self, peer, ls, r);
        }
    }
    vl_report_free(&rep);
}

static void s_on_create_topic(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    char err[512];
    uint32_t id;
    int rc = vl_mrstate_topic_create(self->state, a->name, a->nls, a->rf, &id, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self->state, id);
    vl_log(LOG_INFO, "mr: topic=%u name=%s created with %u log streams, rf %u", id, t->name, t->nls,
           t->rf);
    s_reply_id(self, rid, hdr, id);
    s_push_meta(self);
}

static void s_on_delete_topic(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        s_reply_error(
            self, rid, hdr, VL_ENOTOPIC,
            "delete topic '%.64s': no such topic; list topics with 'varlogctl topic list'",
            a->name);
        return;
    }
    uint32_t id = t->id, nls = t->nls;
    uint32_t *ls_ids = vl_calloc(nls ? nls : 1, sizeof *ls_ids);
    for (uint32_t i = 0; i < nls; i++)
        ls_ids[i] = t->ls[i]->id;
    vl_mrstate_topic_delete(self->state, id);
    bool ok = s_save_meta(self, rid, hdr, id, ls_ids, nls);
    free(ls_ids);
    if (!ok)
        return;
    vl_log(LOG_INFO, "mr: topic=%u name=%s deleted", id, a->name);
    s_reply_id(self, rid, hdr, id);
    s_push_meta(self);
}

static void s_on_add_sn(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    uint32_t id = 0;
    int rc = vl_mrstate_sn_add(self->state, a->addr, &id);
    if (rc == VL_EEXIST) {
        s_reply_error(self, rid, hdr, rc, "add storage node %s: already registered as sn %u",
                      a->addr, id);
        return;
    }
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc,
                      "add storage node: the address must not be empty (give its "
                      "tcp://HOST:PORT)");
        return;
    }
    if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    vl_log(LOG_INFO, "mr: sn=%u addr=%s added", id, a->addr);
    s_reply_id(self, rid, hdr, id);
    s_push_meta(self);
}

static void s_on_remove_sn(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    int rc = vl_mrstate_sn_remove(self->state, a->id);
    if (rc == VL_ENOSN) {
        s_reply_error(self, rid, hdr, rc,
                      "remove storage node %u: no such storage node; list them with "
                      "'varlogctl sn list'",
                      a->id);
        return;
    }
    if (rc == VL_EBUSY) {
        s_reply_error(self, rid, hdr, rc,
                      "remove storage node %u: it still hosts replicas of log streams; "
                      "delete the topics that use it first",
                      a->id);
        return;
    }
    if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    s_peer_drop(self, a->id);
    vl_log(LOG_INFO, "mr: sn=%u removed", a->id);
    s_reply_id(self, rid, hdr, a->id);
    s_push_meta(self);
}

static void s_on_add_ls(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        s_reply_error(self, rid, hdr, VL_ENOTOPIC,
                      "add log stream to '%.64s': no such topic; create it first", a->name);
        return;
    }
    char err[512];
    uint32_t ls_id;
    uint32_t topic_id = t->id;
    int rc = vl_mrstate_ls_add(self->state, topic_id, &ls_id, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    vl_log(LOG_INFO, "mr: topic=%u ls=%u added", topic_id, ls_id);
    s_reply_id(self, rid, hdr, ls_id);
    s_push_meta(self);
}

static void s_on_trim(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    char err[512];
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self->state, a->id);
    vl_persist_range_t range;
    bool found = false;
    /* the range is needed only for a glsn that is committed and not yet
       trimmed; trim_check reports the other cases itself */
    if (t && a->glsn > t->trim_glsn && a->glsn <= t->hwm) {
        if (vl_persist_range_at(self->persist, t->id, a->glsn, &range, &found, err, sizeof err) !=
            0) {
            s_reply_error(self, rid, hdr, VL_ESTORE, "trim: %s", err);
            return;
        }
    }
    bool noop;
    int rc = vl_mrstate_trim_check(self->state, a->id, a->glsn, a->offset,
                                   found ? &range.item : NULL, &noop, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    if (!noop) {
        vl_mrstate_trim_apply(self->state, a->id, a->glsn, a->offset);
        if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
            return;
        vl_log(LOG_INFO, "mr: topic=%u trimmed: first glsn kept %" PRIu64 " at offset %" PRIu64,
               a->id, a->glsn, a->offset);
    }
    s_reply_id(self, rid, hdr, a->id);
    if (!noop)
        s_push_meta(self);
}

/*  The log stream a->id of topic a->name, or NULL after an error reply. */
static vl_mrstate_ls_t *s_admin_ls(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                   const vl_admin_t *a, vl_mrstate_topic_t **topic_p)
{
    const char *what = vl_wire_type_name(hdr->type);
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        s_reply_error(self, rid, hdr, VL_ENOTOPIC,
                      "%s '%.64s' ls=%u: no such topic; list topics with 'varlogctl topic list'",
                      what, a->name, a->id);
        return NULL;
    }
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self->state, a->id);
    if (!ls || ls->topic_id != t->id) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "%s '%s' ls=%u: the topic has no such log stream; see 'varlogctl ls list "
                      "%s'",
                      what, t->name, a->id, t->name);
        return NULL;
    }
    *topic_p = t;
    return ls;
}

/*  The GLSN of the last committed entry of ls (0 when none). */
static uint64_t s_ls_glsn_end(self_t *self, const vl_mrstate_ls_t *ls)
{
    if (ls->committed_llsn_end == 0)
        return 0;
    vl_persist_range_t r;
    size_t n = 0;
    char err[512];
    if (vl_persist_ranges(self->persist, ls->topic_id, ls->id, ls->committed_llsn_end, &r, 1, &n,
                          err, sizeof err) != 0 ||
        n == 0 || r.item.llsn_begin > ls->committed_llsn_end)
        return 0;
    return r.item.glsn_begin + (ls->committed_llsn_end - r.item.llsn_begin);
}

static void s_on_seal(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t;
    vl_mrstate_ls_t *ls = s_admin_ls(self, rid, hdr, a, &t);
    if (!ls)
        return;
    char err[512];
    bool was_sealed = ls->state == VL_LS_SEALED;
    uint32_t was_seal_sn = ls->seal_sn;
    uint32_t topic_id = t->id, ls_id = ls->id;
    /* sn_from: the storage node whose failure made varlogadm seal it */
    int rc = vl_mrstate_ls_seal(self->state, ls_id, a->sn_from, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    bool changed = !was_sealed || ls->seal_sn != was_seal_sn;
    if (changed && !s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    ls = vl_mrstate_ls_by_id(self->state, ls_id);
    vl_seal_reply_t r = {
        .ls_id = ls_id, .llsn_end = ls->committed_llsn_end, .glsn_end = s_ls_glsn_end(self, ls)};
    if (!was_sealed)
        vl_log(LOG_NOTICE,
               "mr: topic=%u ls=%u sealed at llsn=%" PRIu64 " glsn=%" PRIu64 " bytes=%" PRIu64 "%s",
               topic_id, ls_id, r.llsn_end, r.glsn_end, ls->committed_bytes,
               ls->seal_sn ? " (by varlogadm: a storage node is down)" : "");
    vl_hdr_t h = s_reply_hdr(self, hdr);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_seal_reply_encode(&r, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send(self, rid, &msg);
    if (changed)
        s_push_meta(self);
}

static void s_on_unseal(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t;
    vl_mrstate_ls_t *ls = s_admin_ls(self, rid, hdr, a, &t);
    if (!ls)
        return;
    char err[512];
    bool was_running = ls->state == VL_LS_RUNNING;
    uint32_t topic_id = t->id, ls_id = ls->id;
    int rc = vl_mrstate_ls_unseal(self->state, ls_id, t->name, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    if (!was_running) {
        if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
            return;
        vl_log(LOG_NOTICE, "mr: topic=%u ls=%u unsealed", topic_id, ls_id);
    }
    s_reply_id(self, rid, hdr, ls_id);
    if (!was_running)
        s_push_meta(self);
}

static void s_on_update_ls(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t;
    vl_mrstate_ls_t *ls = s_admin_ls(self, rid, hdr, a, &t);
    if (!ls)
        return;
    char err[512];
    uint32_t topic_id = t->id, ls_id = ls->id;
    int rc =
        vl_mrstate_ls_update(self->state, ls_id, a->sn_from, a->sn_to, t->name, err, sizeof err);
    if (rc != 0) {
        s_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    if (!s_save_meta(self, rid, hdr, 0, NULL, 0))
        return;
    vl_log(LOG_NOTICE, "mr: topic=%u ls=%u replica sn=%u replaced by sn=%u", topic_id, ls_id,
           a->sn_from, a->sn_to);
    s_reply_id(self, rid, hdr, ls_id);
    s_push_meta(self);
}

static void s_on_admin(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    /* metadata changes persist the committed ends and read the history:
       no round may be in flight (s_drain) */
    if (!s_drain(self)) {
        s_reply_error(self, rid, hdr, VL_ESTORE,
                      "%s: the MR cannot write its store; check the MR's disk and log, then "
                      "retry",
                      vl_wire_type_name(hdr->type));
        return;
    }
    vl_admin_t a;
    if (vl_admin_decode(body, &a) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "%s: malformed body; expected name, addr, id, nls, rf, glsn, offset",
                      vl_wire_type_name(hdr->type));
        return;
    }
    switch (hdr->type) {
    case VL_MSG_CREATE_TOPIC:
        s_on_create_topic(self, rid, hdr, &a);
        break;
    case VL_MSG_DELETE_TOPIC:
        s_on_delete_topic(self, rid, hdr, &a);
        break;
    case VL_MSG_ADD_SN:
        s_on_add_sn(self, rid, hdr, &a);
        break;
    case VL_MSG_REMOVE_SN:
        s_on_remove_sn(self, rid, hdr, &a);
        break;
    case VL_MSG_ADD_LS:
        s_on_add_ls(self, rid, hdr, &a);
        break;
    case VL_MSG_TRIM:
        s_on_trim(self, rid, hdr, &a);
        break;
    case VL_MSG_SEAL:
        s_on_seal(self, rid, hdr, &a);
        break;
    case VL_MSG_UNSEAL:
        s_on_unseal(self, rid, hdr, &a);
        break;
    case VL_MSG_UPDATE_LS:
        s_on_update_ls(self, rid, hdr, &a);
        break;
    default:
        break;
    }
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
            s_reply_error(self, rid, &hdr, rc,
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
        s_reply_error(self, rid, &hdr, VL_ECLUSTER,
                      "this MR serves cluster %u, the message is for cluster %u; check the "
                      "--mr address",
                      self->cluster_id, hdr.cluster_id);
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
        s_on_admin(self, rid, &hdr, &body);
        break;
    case VL_MSG_PING: {
        vl_hdr_t h = s_reply_hdr(self, &hdr);
        zmsg_t *reply = vl_wire_msg(&h, NULL);
        s_send(self, rid, &reply);
        break;
    }
    default:
        s_reply_error(self, rid, &hdr, VL_EPROTO,
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
    s_tick_wake(self);
    return 0;
}

/*  ---- commit rounds ---------------------------------------------------------- */

/*  A COMMIT body as wire.h lays it out: version u64, n u32, then n items
    of a fixed size (two u32, seven u64). */
#define S_COMMIT_HDR 12
#define S_COMMIT_ITEM 64

/*  Sends each connected SN the items of the round for the log streams it
    hosts, and advances the log streams' durable ends and the replicas'
    sent ends where the commit follows what they were sent before (a
    replica further behind ignores it and is caught up by s_resend). One
    pass over the items notes each in the list of each of its replicas'
    SNs (items x rf work, not SNs x items lookups); the round is encoded
    once, and each SN's message is made of its items' encoded bytes, so
    an item is encoded once whatever the replication factor. */
static void s_send_round(self_t *self, const vl_commit_t *round)
{
    for (size_t p = 0; p < self->npeers; p++)
        self->peers[p].nround = 0;
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        if (vl_log_level >= LOG_DEBUG)
            vl_log(LOG_DEBUG,
                   "mr: version=%" PRIu64 " topic=%u ls=%u llsn=%" PRIu64 " glsn=%" PRIu64
                   " count=%" PRIu64 " offset=%" PRIu64 " bytes=%" PRIu64,
                   round->version, c->topic_id, c->ls_id, c->llsn_begin, c->glsn_begin, c->count,
                   c->offset_begin, c->bytes);
        vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self->state, c->ls_id);
        if (!ls)
            continue;
        uint64_t end = c->llsn_begin + c->count - 1;
        ls->durable_llsn_end = end;
        for (uint32_t k = 0; k < ls->nrep; k++) {
            vl_mrstate_replica_t *r = &ls->replicas[k];
            s_peer_t *peer = s_peer(self, r->sn_id);
            if (!peer || !peer->rid)
                continue;
            if (peer->nround == peer->capround) {
                peer->capround = peer->capround ? peer->capround * 2 : 64;
                peer->round = vl_realloc(peer->round, peer->capround * sizeof *peer->round);
            }
            peer->round[peer->nround++] = i;
            if (r->synced && r->sent_llsn_end + 1 == c->llsn_begin)
                r->sent_llsn_end = end;
        }
    }
    self->round_buf.len = 0;
    vl_commit_encode(round, &self->round_buf);
    assert(self->round_buf.len == S_COMMIT_HDR + (size_t)round->n * S_COMMIT_ITEM);
    const uint8_t *items = self->round_buf.data + S_COMMIT_HDR;
    vl_hdr_t h = {.type = VL_MSG_COMMIT, .request_id = 0, .cluster_id = self->cluster_id};
    for (size_t p = 0; p < self->npeers; p++) {
        s_peer_t *peer = &self->peers[p];
        if (peer->nround == 0)
            continue;
        vl_wbuf_t *b = &self->commit_buf;
        b->len = 0;
        vl_wbuf_u64(b, round->version);
        vl_wbuf_u32(b, peer->nround);
        /* runs of consecutive items in one copy (with rf 3 on 3 SNs, the
           whole round) */
        for (uint32_t j = 0; j < peer->nround;) {
            uint32_t first = peer->round[j], last = first;
            for (j++; j < peer->nround && peer->round[j] == last + 1; j++)
                last++;
            vl_wbuf_mem(b, items + (size_t)first * S_COMMIT_ITEM,
                        (size_t)(last - first + 1) * S_COMMIT_ITEM);
        }
        zmsg_t *msg = vl_wire_msg(&h, b);
        s_send(self, peer->rid, &msg);
    }
}

/*  ---- the writer thread --------------------------------------------------------

    Pipe protocol: the loop sends "W" + batch pointer (ownership passes) +
    version per round, and "RESET" after a failure; the writer answers "D"
    + last version + number of rounds + status + error text for each group
    of rounds it wrote, and "R" + 0 + 0 + status + error text for a RESET. */

static void s_writer_actor(zsock_t *pipe, void *args)
{
    vl_persist_t *persist = args;
    zsock_signal(pipe, 0);
    bool failed = false, term = false;
    char err[512] = "";
    vl_persist_batch_t *batch[S_WRITER_BATCH];
    while (!term) {
        char *cmd = NULL;
        void *ptr = NULL;
        uint64_t version = 0;
        if (zsock_recv(pipe, "sp8", &cmd, &ptr, &version) != 0)
            break;
        if (!cmd || streq(cmd, "$TERM")) {
            free(cmd);
            break;
        }
        if (streq(cmd, "RESET")) {
            int rc = vl_persist_sync(persist, err, sizeof err);
            failed = rc != 0;
            zsock_send(pipe, "s844s", "R", (uint64_t)0, (uint32_t)0, (uint32_t)rc, rc ? err : "");
            free(cmd);
            continue;
        }
        /* "W": take every round queued behind it too, and sync once */
        size_t n = 0;
        uint64_t last = version;
        batch[n++] = ptr;
        free(cmd);
        while (n < S_WRITER_BATCH && (zsock_events(pipe) & ZMQ_POLLIN)) {
            if (zsock_recv(pipe, "sp8", &cmd, &ptr, &version) != 0 || !cmd || !streq(cmd, "W")) {
                term = true; /* only $TERM comes while rounds are queued */
                free(cmd);
                break;
            }
            free(cmd);
            batch[n++] = ptr;
            last = version;
        }
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (failed) {
                /* no round after a failed one is written: it was
                   computed on top of it */
                vl_persist_batch_destroy(&batch[i]);
                continue;
            }
            rc = vl_persist_write(persist, &batch[i], i + 1 == n, err, sizeof err);
            if (rc != 0)
                failed = true;
        }
        zsock_send(pipe, "s844s", "D", last, (uint32_t)n, (uint32_t)(failed ? VL_ESTORE : 0),
                   failed ? err : "");
    }
    /* rounds still queued at $TERM were never announced: drop them */
    while (zsock_events(pipe) & ZMQ_POLLIN) {
        char *cmd = NULL;
        void *ptr = NULL;
        if (zsock_recv(pipe, "sp8", &cmd, &ptr, NULL) != 0)
            break;
        if (cmd && streq(cmd, "W") && ptr) {
            vl_persist_batch_t *b = ptr;
            vl_persist_batch_destroy(&b);
        }
        free(cmd);
    }
}

static void s_store_error(self_t *self, uint64_t version, const char *err)
{
    int64_t now = vl_now_us();
    if (now - self->last_store_error_us > 1000000) {
        vl_log(LOG_ERR, "mr: version=%" PRIu64 " not committed: %s", version, err);
        self->last_store_error_us = now;
    }
}

/*  Every log stream's durable end is its committed end (nothing in flight). */
static void s_durable_all(self_t *self)
{
    for (size_t i = 0; i < vl_mrstate_ls_count(self->state); i++) {
        vl_mrstate_ls_t *ls = vl_mrstate_ls_at(self->state, i);
        ls->durable_llsn_end = ls->committed_llsn_end;
    }
}

static void s_reload(self_t *self);

/*  Sends the oldest round in flight, now durable, and forgets it. */
static void s_inflight_send(self_t *self)
{
    vl_commit_t *round = &self->inflight[self->inflight_head];
    self->rounds++;
    s_send_round(self, round);
    vl_commit_free(round);
    self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
    self->ninflight--;
}

/*  After a failed write, once the writer has answered every round: ask it
    for a synced write; when that works the store holds exactly what is
    durable and the state is reloaded from it. */
static void s_writer_reset(self_t *self)
{
    if (!self->writer_failed || self->writer_jobs > 0 || self->writer_resetting)
        return;
    zstr_send(self->writer, "RESET");
    self->writer_resetting = true;
}

/*  Handles one answer of the writer. */
static void s_writer_answer(self_t *self)
{
    char *kind = NULL, *err = NULL;
    uint64_t last = 0;
    uint32_t n = 0, status = 0;
    if (zsock_recv(self->writer, "s844s", &kind, &last, &n, &status, &err) != 0)
        return;
    if (kind && streq(kind, "D")) {
        self->writer_jobs -= n <= self->writer_jobs ? n : self->writer_jobs;
        if (status == 0 && !self->writer_failed) {
            while (self->ninflight > 0 && self->inflight[self->inflight_head].version <= last)
                s_inflight_send(self);
        } else {
            s_store_error(self, last, err && err[0] ? err : "the store failed");
            self->writer_failed = true;
            /* nothing in flight is announced: the reload forgets it */
            while (self->ninflight > 0) {
                vl_commit_free(&self->inflight[self->inflight_head]);
                self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
                self->ninflight--;
            }
        }
        s_writer_reset(self);
    } else if (kind && streq(kind, "R")) {
        self->writer_resetting = false;
        if (status == 0) {
            vl_log(LOG_NOTICE, "mr: the store works again; reloading the state from it");
            s_reload(self);
            self->writer_failed = false;
        } else {
            /* tried again at the next heartbeat */
            s_store_error(self, vl_mrstate_version(self->state), err ? err : "sync failed");
        }
    }
    free(kind);
    free(err);
}

static int s_on_writer(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    /* s_drain may have taken the answer the poll saw: never block here */
    while (zsock_events(zactor_sock(self->writer)) & ZMQ_POLLIN)
        s_writer_answer(self);
    s_tick_wake(self);
    return 0;
}

/*  Waits until no round is in flight and the store is known good: before
    anything that shows or persists the metadata (META, admin operations),
    so that they never show or write a round that is not durable. Blocks
    the loop for at most a synced write or two. Returns false when the
    store is failing. */
static bool s_drain(self_t *self)
{
    while (self->writer_jobs > 0 || self->writer_failed) {
        s_writer_reset(self);
        bool resetting = self->writer_resetting;
        zpoller_t *poller = zpoller_new(zactor_sock(self->writer), NULL);
        void *which = zpoller_wait(poller, 10000);
        zpoller_destroy(&poller);
        if (!which)
            return false; /* the writer is stuck on the disk */
        s_writer_answer(self);
        if (resetting && !self->writer_resetting && self->writer_failed)
            return false; /* the sync failed: the store is still failing */
    }
    return true;
}

/*  Computes one round, applies it in memory and hands its write to the
    writer; its COMMITs go out when the writer reports it durable
    (s_writer_answer). Returns false when there was nothing to commit (the
    state is then clean), true when a round went to the writer or must be
    tried at the next tick (too many in flight, or the store is failing:
    the state stays dirty). */
static bool s_commit_round(self_t *self)
{
    if (self->ninflight >= S_MAX_INFLIGHT || self->writer_failed)
        return true;
    vl_commit_t round;
    if (vl_mrstate_commit_compute(self->state, &round) == 0) {
        vl_commit_free(&round);
        vl_mrstate_clear_dirty(self->state);
        return false;
    }
    /* built from the state before the round (its checkpoints add the
       round's items), then applied: the next round continues from it */
    vl_persist_batch_t *batch = vl_persist_commit_batch(self->persist, self->state, &round);
    vl_mrstate_commit_apply(self->state, &round);
    /* the round took every log stream up to its replicas' minimum end:
       nothing more until a report raises one */
    vl_mrstate_clear_dirty(self->state);
    uint64_t version = round.version;
    self->inflight[(self->inflight_head + self->ninflight) % S_MAX_INFLIGHT] = round;
    self->ninflight++;
    self->writer_jobs++;
    if (zsock_send(self->writer, "sp8", "W", (void *)batch, version) != 0) {
        /* cannot happen (inproc pipe); treat it as a failed write */
        vl_persist_batch_destroy(&batch);
        self->writer_jobs--;
        s_store_error(self, version, "cannot hand the round to the writer thread");
        self->writer_failed = true;
        while (self->ninflight > 0) {
            vl_commit_free(&self->inflight[self->inflight_head]);
            self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
            self->ninflight--;
        }
        s_writer_reset(self);
    }
    return true;
}

/*  Sends replica r of ls the next batch of ranges after its sent end. */
static void s_resend_batch(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls,
                           vl_mrstate_replica_t *r)
{
    char err[512];
    size_t n = 0;
    if (vl_persist_ranges(self->persist, ls->topic_id, ls->id, r->sent_llsn_end + 1, self->resend,
                          S_RESEND_BATCH, &n, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "mr: sn=%u ls=%u resend: %s", r->sn_id, ls->id, err);
        return;
    }
    vl_log(LOG_DEBUG, "mr: sn=%u ls=%u resending %zu ranges from llsn=%" PRIu64, r->sn_id, ls->id,
           n, r->sent_llsn_end + 1);
    for (size_t i = 0; i < n; i++) {
        /* a replica stores a commit only for entries it holds (a replica
           being synced gets its entries in pieces): send no range past its
           reported end, the next report brings the rest */
        if (self->resend[i].item.llsn_begin + self->resend[i].item.count - 1 > r->llsn_end)
            break;
        /* one message per range: each keeps the version that committed it */
        vl_commit_t c = {
            .version = self->resend[i].version, .n = 1, .items = &self->resend[i].item};
        s_send_commit(self, peer->rid, &c);
        uint64_t end = self->resend[i].item.llsn_begin + self->resend[i].item.count - 1;
        if (end > r->sent_llsn_end)
            r->sent_llsn_end = end;
    }
}

/*  Sends replica r of ls (on peer) the next batch of the history it lacks,
    unless a batch is in flight: one at a time, so a far-behind replica is
    fed at the pace it applies and never flooded. Called for each replica a
    REPORT names (its applied end may have moved) and from the heartbeat. */
static void s_feed(self_t *self, s_peer_t *peer, vl_mrstate_ls_t *ls, vl_mrstate_replica_t *r)
{
    /* the durable end: rounds in flight are not in the history yet, and
       go out by themselves when they are */
    if (!r->synced || r->applied_llsn_end >= ls->durable_llsn_end || !peer || !peer->rid)
        return;
    if (r->sent_llsn_end < r->applied_llsn_end)
        r->sent_llsn_end = r->applied_llsn_end;
    if (r->sent_llsn_end >= ls->durable_llsn_end || r->sent_llsn_end > r->applied_llsn_end ||
        r->sent_llsn_end >= r->llsn_end)
        return;
    s_resend_batch(self, peer, ls, r);
}

/*  The lag check, every heartbeat: a replica behind the committed end
    whose applied end has not moved since the last heartbeat (a second) is
    presumed to have lost what was in flight, which is sent again. */
static void s_resend(self_t *self)
{
    int64_t now = vl_now_us();
    size_t nls = vl_mrstate_ls_count(self->state);
    for (size_t i = 0; i < nls; i++) {
        vl_mrstate_ls_t *ls = vl_mrstate_ls_at(self->state, i);
        for (uint32_t k = 0; k < ls->nrep; k++) {
            vl_mrstate_replica_t *r = &ls->replicas[k];
            if (!r->synced)
                continue;
            if (r->applied_llsn_end >= ls->durable_llsn_end) {
                r->lag_since_us = 0;
                continue;
            }
            s_peer_t *peer = s_peer(self, r->sn_id);
            if (!peer || !peer->rid)
                continue;
            /* heartbeats come S_HEARTBEAT_MS apart, give or take the
               loop's latency: a lag seen at two of them in a row is a
               second old (a tenth of slack so that a heartbeat a little
               early does not wait for the next one) */
            if (r->lag_since_us == 0 || r->lag_applied != r->applied_llsn_end) {
                r->lag_applied = r->applied_llsn_end;
                r->lag_since_us = now;
            } else if (now - r->lag_since_us >= S_LAG_US - S_LAG_US / 10) {
                vl_log(LOG_INFO,
                       "mr: sn=%u ls=%u applied=%" PRIu64 " stuck behind committed=%" PRIu64
                       " for 1 s; resending",
                       r->sn_id, ls->id, r->applied_llsn_end, ls->durable_llsn_end);
                r->sent_llsn_end = r->applied_llsn_end;
                r->lag_since_us = now;
            }
            s_feed(self, peer, ls, r);
        }
    }
}

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
static void s_tick_wake(self_t *self)
{
    if (self->tick_armed || !vl_mrstate_dirty(self->state))
        return;
    s_tick_set(self, self->last_round_us + self->tick_us - vl_now_us(), self->tick_us);
}

static int s_on_tick(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    self_t *self = arg;
    uint64_t expirations;
    if (read(self->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        vl_log(LOG_WARNING, "mr: reading the commit timer: %s", strerror(errno));
    self->ticks++;
    /* nothing dirty: no O(log streams) work, and no more ticks until a
       report raises an end */
    bool again = false;
    if (vl_mrstate_dirty(self->state)) {
        self->last_round_us = vl_now_us();
        again = s_commit_round(self);
    }
    if (!again)
        s_tick_set(self, 0, 0);
    return 0;
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    s_writer_reset(self); /* a failed store is tried again */
    s_resend(self);
    return 0;
}

/*  ---- pipe --------------------------------------------------------------------- */

static int s_on_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return -1; /* interrupted */
    char *cmd = zmsg_popstr(msg);
    int rc = 0;
    if (cmd && streq(cmd, "$TERM")) {
        self->terminated = true;
        rc = -1;
    } else if (cmd && streq(cmd, "PORT")) {
        zsock_send(self->pipe, "i", self->port);
    } else if (cmd && streq(cmd, "STATS")) {
        zsock_send(self->pipe, "88", self->ticks, self->rounds);
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
    zloop_destroy(&self->loop);
    /* rounds still in flight were never announced: dropped (a durable one
       is found in the history after a restart and resent from there) */
    zactor_destroy(&self->writer);
    while (self->ninflight > 0) {
        vl_commit_free(&self->inflight[self->inflight_head]);
        self->inflight_head = (self->inflight_head + 1) % S_MAX_INFLIGHT;
        self->ninflight--;
    }
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
    vl_persist_destroy(&self->persist);
    vl_mrstate_destroy(&self->state);
    free(self);
    *self_p = NULL;
}

static self_t *s_self_new(zsock_t *pipe, vl_mr_config_t *cfg)
{
    self_t *self = vl_calloc(1, sizeof *self);
    self->pipe = pipe;
    self->tfd = -1;
    self->cluster_id = cfg->cluster_id;
    vl_wbuf_init(&self->commit_buf);
    vl_wbuf_init(&self->round_buf);
    self->state = vl_mrstate_new();
    char err[512];
    self->persist = vl_persist_open(cfg->data_dir, err, sizeof err);
    if (!self->persist) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "%s", err);
        cfg->rc = VL_ESTORE;
        goto fail;
    }
    if (vl_persist_load(self->persist, self->state, err, sizeof err) != 0) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "%s", err);
        cfg->rc = VL_ESTORE;
        goto fail;
    }
    s_durable_all(self);
    self->writer = zactor_new(s_writer_actor, self->persist);
    if (!self->writer) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "cannot start the MR's writer thread");
        cfg->rc = VL_EIO;
        goto fail;
    }
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "cannot create a ZeroMQ socket: %s",
                 zmq_strerror(zmq_errno()));
        cfg->rc = VL_EIO;
        goto fail;
    }
    zsock_set_linger(self->router, 0);
    zsock_set_sndhwm(self->router, S_SNDHWM);
    zsock_set_sndtimeo(self->router, 0);
    zsock_set_maxmsgsize(self->router, (int64_t)VL_WIRE_MAX_BODY + 4096);
    self->port = zsock_bind(self->router, "%s", cfg->listen);
    if (self->port < 0) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf,
                 "cannot listen on '%s': %s; pick a free address with --listen", cfg->listen,
                 zmq_strerror(zmq_errno()));
        cfg->rc = VL_EIO;
        goto fail;
    }
    if (self->port == 0)
        self->port = -1; /* not TCP (ipc://, inproc://) */
    self->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->tfd < 0) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "cannot create the commit timer: %s",
                 strerror(errno));
        cfg->rc = VL_EIO;
        goto fail;
    }
    uint32_t tick = cfg->commit_tick_us ? cfg->commit_tick_us : VL_MR_COMMIT_TICK_DEFAULT;
    self->tick_us = tick;
    /* armed at start: a new state is dirty (vl_mrstate_new) */
    struct itimerspec its = {
        .it_interval = {.tv_sec = tick / 1000000, .tv_nsec = (long)(tick % 1000000) * 1000},
        .it_value = {.tv_sec = tick / 1000000, .tv_nsec = (long)(tick % 1000000) * 1000},
    };
    if (timerfd_settime(self->tfd, 0, &its, NULL) != 0) {
        snprintf(cfg->errbuf, sizeof cfg->errbuf, "cannot arm the commit timer: %s",
                 strerror(errno));
        cfg->rc = VL_EIO;
        goto fail;
    }
    self->tick_armed = true;
    self->loop = zloop_new();
    /* only $TERM stops the loop; main turns SIGINT/SIGTERM into $TERM */
    zloop_set_nonstop(self->loop, true);
    zloop_reader(self->loop, self->pipe, s_on_pipe, self);
    zloop_reader(self->loop, self->router, s_on_router, self);
    zloop_reader(self->loop, zactor_sock(self->writer), s_on_writer, self);
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
           vl_mrstate_ls_count(self->state), tick);
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
    while (!self->terminated) {
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
