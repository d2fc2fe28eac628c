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

    Proxied admin requests use a blocking vl_rpc call to the MR from inside
    the loop. That stalls heartbeats for at most --mr timeout, which is fine
    for the admin plane (rare, human-driven requests) and keeps the proxy a
    few lines. The MR's status and error text are forwarded unchanged: it
    alone decides what is valid, so its message is the one the user needs.

    Heartbeat and poll DEALERs set ZMQ_IMMEDIATE and a zero send timeout:
    a message to a peer that is not connected is dropped at once instead of
    queuing, so a dead SN never makes the admin accumulate requests.
*/
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include "server.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wire.h"

#define S_MR_TIMEOUT_MS_DEFAULT 2000
#define S_PING_TIMEOUT_MS_DEFAULT 2000
#define S_SN_SNDHWM 16

typedef enum { S_SN_UNKNOWN, S_SN_UP, S_SN_DOWN } s_sn_state_t;

typedef struct self self_t;

/*  A log stream the admin sealed because a storage node went down. */
typedef struct {
    uint32_t ls_id;
    uint32_t down_sn;  /* the node that was down */
    int64_t sealed_at; /* zclock_mono ms */
    int64_t last_sync; /* last sync started, ms; 0: none */
    bool waiting_said; /* "waiting for sn N" was logged */
} s_auto_t;

/*  One storage node the admin watches. */
typedef struct {
    self_t *self;
    uint32_t id;
    char addr[VL_WIRE_MAX_ADDR + 1];
    zsock_t *dealer; /* NULL when the endpoint could not be connected */
    s_sn_state_t state;
    int64_t last_seen;     /* zclock_mono ms of the last reply, or when added */
    bool mark;             /* still in the metadata (sweep after a sync) */
    vl_sn_status_t status; /* its last SN_STATUS reply: its replicas' ends */
    bool have_status;
} s_sn_t;

struct self {
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *router;
    int port;
    bool terminated;
    char *listen;
    char *mr_ep;
    int heartbeat_ms, heartbeat_timeout_ms, mr_timeout_ms, ping_timeout_ms;
    vl_rpc_t *mr;       /* blocking calls of proxied requests */
    zsock_t *mr_poll;   /* asynchronous GET_META of the heartbeat */
    uint64_t next_id;   /* request ids of our own requests */
    uint64_t poll_id;   /* id of the GET_META in flight, 0 if none */
    int64_t poll_sent;  /* when it was sent */
    int64_t mr_last_ok; /* last answer from the MR to a poll */
    bool mr_silent;     /* "MR does not answer" was logged */
    s_sn_t **sns;
    size_t nsn;
    bool no_auto, no_auto_unseal;
    s_auto_t *autos; /* log streams this admin sealed itself */
    size_t nautos;
};

/* ---- helpers ----------------------------------------------------------- */

static zsock_t *s_dealer(const char *endpoints)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    zsock_set_immediate(sock, 1);
    zsock_set_sndtimeo(sock, 0);
    zsock_set_sndhwm(sock, S_SN_SNDHWM);
    zsock_set_maxmsgsize(sock, (int64_t)VL_WIRE_MAX_BODY + 4096);
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
static void s_reply(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    vl_wire_send_to(self->router, rid, msg_p); /* client gone or not reading: dropped */
}

/*  Replies with a status and a formatted message, and logs it. */
static void s_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int rc,
                          const char *text)
{
    zmsg_t *reply = vl_wire_reply(req, (uint32_t)rc, "%s", text);
    s_reply(self, rid, &reply);
}

/* ---- storage node table ----------------------------------------------------- */

static s_sn_t *s_sn_find(self_t *self, uint32_t id)
{
    for (size_t i = 0; i < self->nsn; i++)
        if (self->sns[i]->id == id)
            return self->sns[i];
    return NULL;
}

static void s_sn_destroy(self_t *self, s_sn_t **sn_p)
{
    s_sn_t *sn = *sn_p;
    if (!sn)
        return;
    if (sn->dealer) {
        zloop_reader_end(self->loop, sn->dealer);
        zsock_destroy(&sn->dealer);
    }
    vl_sn_status_free(&sn->status);
    free(sn);
    *sn_p = NULL;
}

static void s_sn_set_state(s_sn_t *sn, s_sn_state_t state)
{
    if (sn->state == state)
        return;
    if (state == S_SN_UP)
        vl_log(sn->state == S_SN_DOWN ? LOG_NOTICE : LOG_INFO, "sn %u %s: up", sn->id, sn->addr);
    else if (state == S_SN_DOWN)
        vl_log(LOG_WARNING, "sn %u %s: down (no heartbeat for %d ms)", sn->id, sn->addr,
               sn->self->heartbeat_timeout_ms);
    sn->state = state;
}

/*  Any message from the SN is a sign of life; the content does not matter
    to the failure detector, so it is only checked to be ours. */
static int s_sn_reader(zloop_t *loop, zsock_t *sock, void *arg)
{
    s_sn_t *sn = arg;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait(sock)) != NULL) {
        vl_hdr_t hdr;
        vl_rbuf_t body;
        int rc = vl_wire_parse(msg, &hdr, &body);
        if (rc == 0 && (hdr.type & VL_MSG_REPLY)) {
            sn->last_seen = zclock_mono();
            s_sn_set_state(sn, S_SN_UP);
            vl_sn_status_t st;
            if (hdr.type == (VL_MSG_SN_STATUS | VL_MSG_REPLY) && hdr.status == 0 &&
                vl_sn_status_decode(&body, &st) == 0) {
                /* what its replicas hold: for STATUS, sync and unseal */
                vl_sn_status_free(&sn->status);
                sn->status = st;
                sn->have_status = true;
            }
        } else {
            vl_log(LOG_WARNING, "sn %u %s: unexpected message (%s %s); ignored", sn->id, sn->addr,
                   rc ? vl_err_name(rc) : "request", vl_wire_type_name(hdr.type));
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

static s_sn_t *s_sn_add(self_t *self, uint32_t id, const char *addr)
{
    s_sn_t *sn = vl_calloc(1, sizeof *sn);
    sn->self = self;
    sn->id = id;
    snprintf(sn->addr, sizeof sn->addr, "%s", addr);
    sn->state = S_SN_UNKNOWN;
    sn->last_seen = zclock_mono();
    sn->mark = true;
    sn->dealer = s_dealer(addr);
    if (!sn->dealer)
        vl_log(LOG_ERR,
               "sn %u %s: cannot connect: not a valid ZeroMQ endpoint or out of sockets; "
               "it will show as down (remove it with 'varlogctl sn remove %u')",
               id, addr, id);
    else if (zloop_reader(self->loop, sn->dealer, s_sn_reader, sn) != 0) {
        vl_log(LOG_ERR, "sn %u %s: cannot watch its socket; it will show as down", id, addr);
        zsock_destroy(&sn->dealer);
    }
    self->sns = vl_realloc(self->sns, (self->nsn + 1) * sizeof *self->sns);
    self->sns[self->nsn++] = sn;
    vl_log(LOG_INFO, "sn %u %s: watching", id, addr);
    return sn;
}

/*  Makes the table follow the storage nodes of meta: new ones are watched,
    removed ones forgotten, a changed address reconnects. */
static void s_sns_sync(self_t *self, const vl_meta_t *meta)
{
    for (size_t i = 0; i < self->nsn; i++)
        self->sns[i]->mark = false;
    for (uint32_t i = 0; i < meta->nsn; i++) {
        const vl_meta_sn_t *m = &meta->sns[i];
        s_sn_t *sn = s_sn_find(self, m->id);
        if (sn && strcmp(sn->addr, m->addr) != 0) {
            vl_log(LOG_NOTICE, "sn %u: address changed from %s to %s", sn->id, sn->addr, m->addr);
            sn->mark = false; /* swept below, then added again */
            sn = NULL;
        }
        if (sn)
            sn->mark = true;
    }
    size_t keep = 0;
    for (size_t i = 0; i < self->nsn; i++) {
        if (self->sns[i]->mark) {
            self->sns[keep++] = self->sns[i];
        } else {
            vl_log(LOG_NOTICE, "sn %u %s: no longer in the cluster; not watched any more",
                   self->sns[i]->id, self->sns[i]->addr);
            s_sn_destroy(self, &self->sns[i]);
        }
    }
    self->nsn = keep;
    for (uint32_t i = 0; i < meta->nsn; i++)
        if (!s_sn_find(self, meta->sns[i].id))
            s_sn_add(self, meta->sns[i].id, meta->sns[i].addr);
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
static void s_auto(self_t *self, const vl_meta_t *m);
static const vl_sn_replica_t *s_replica_status(self_t *self, uint32_t sn_id, uint32_t ls_id);

static void s_mr_poll_connect(self_t *self)
{
    s_mr_poll_reset(self);
    self->mr_poll = s_dealer(self->mr_ep);
    if (self->mr_poll && zloop_reader(self->loop, self->mr_poll, s_mr_poll_reader, self) != 0)
        zsock_destroy(&self->mr_poll);
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
        self->mr_last_ok = zclock_mono();
        if (self->mr_silent) {
            vl_log(LOG_NOTICE, "metadata repository at %s answers again", self->mr_ep);
            self->mr_silent = false;
        }
        if (hdr.status != 0) {
            char text[512];
            vl_wire_errtext(&body, text, sizeof text);
            vl_log(LOG_WARNING, "metadata repository at %s: GET_META failed: %s", self->mr_ep,
                   text);
        } else if (vl_meta_decode(&body, &meta) != 0) {
            vl_log(LOG_WARNING,
                   "metadata repository at %s sent a malformed META; is it the same varlog "
                   "version?",
                   self->mr_ep);
        } else {
            s_sns_sync(self, &meta);
            s_auto(self, &meta);
            vl_meta_free(&meta);
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

static void s_forgive(self_t *self, int64_t blocked_ms);
static int s_sync_ls(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
                     const vl_meta_ls_t *ls, uint32_t from, uint32_t to, vl_sync_item_t *items,
                     uint32_t *n, char *err, size_t err_size);

/* ---- automatic seal, sync, unseal ------------------------------------------------ */

static s_auto_t *s_auto_find(self_t *self, uint32_t ls_id)
{
    for (size_t i = 0; i < self->nautos; i++)
        if (self->autos[i].ls_id == ls_id)
            return &self->autos[i];
    return NULL;
}

static void s_auto_forget(self_t *self, uint32_t ls_id)
{
    for (size_t i = 0; i < self->nautos; i++)
        if (self->autos[i].ls_id == ls_id) {
            self->autos[i] = self->autos[--self->nautos];
            return;
        }
}

/*  SEAL or UNSEAL of topic/ls at the MR; a SEAL names down_sn, the node
    whose failure is the reason (the MR keeps it, so that an admin started
    later knows the seal is its own). 0, or the MR's code with err. */
static int s_mr_ls_call(self_t *self, uint16_t type, const char *topic, uint32_t ls_id,
                        uint32_t down_sn, vl_seal_reply_t *sr, char *err, size_t err_size)
{
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", topic);
    a.id = ls_id;
    a.sn_from = down_sn;
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    zmsg_t *reply = NULL;
    vl_hdr_t rh;
    vl_rbuf_t rb;
    int rc = vl_rpc_call(self->mr, type, &b, self->mr_timeout_ms, &reply, &rh, &rb, err, err_size);
    vl_wbuf_free(&b);
    if (rc == VL_ETIMEDOUT)
        snprintf(err, err_size, "metadata repository at %s does not answer", self->mr_ep);
    if (rc == 0 && sr && vl_seal_reply_decode(&rb, sr) != 0)
        memset(sr, 0, sizeof *sr);
    zmsg_destroy(&reply);
    return rc;
}

/*  One pass of the automatic handling over the metadata m (server.h). */
static void s_auto(self_t *self, const vl_meta_t *m)
{
    if (self->no_auto)
        return;
    int64_t start = zclock_mono();
    char err[1024];
    for (uint32_t i = 0; i < m->ntopics; i++) {
        const vl_meta_topic_t *t = &m->topics[i];
        for (uint32_t j = 0; j < t->nls; j++) {
            const vl_meta_ls_t *ls = &t->ls[j];
            s_auto_t *au = s_auto_find(self, ls->id);
            uint32_t down = 0, not_up = 0;
            for (uint32_t k = 0; k < ls->nrep; k++) {
                s_sn_t *sn = s_sn_find(self, ls->replicas[k]);
                if (sn && sn->state == S_SN_DOWN && !down)
                    down = sn->id;
                if (!sn || sn->state != S_SN_UP)
                    not_up = not_up ? not_up : ls->replicas[k];
            }
            if (ls->state == VL_LS_RUNNING) {
                if (au)
                    s_auto_forget(self, ls->id); /* unsealed meanwhile */
                if (!down)
                    continue;
                vl_seal_reply_t sr;
                int rc =
                    s_mr_ls_call(self, VL_MSG_SEAL, t->name, ls->id, down, &sr, err, sizeof err);
                if (rc != 0) {
                    vl_log(LOG_ERR, "auto: sn %u is down but sealing topic '%s' ls %u failed: %s",
                           down, t->name, ls->id, err[0] ? err : vl_err_str(rc));
                    continue;
                }
                vl_log(LOG_WARNING,
                       "auto: sn %u is down: sealed topic '%s' ls %u at llsn %" PRIu64
                       " (glsn %" PRIu64 "); appends go to the topic's other log streams",
                       down, t->name, ls->id, sr.llsn_end, sr.glsn_end);
                self->autos = vl_realloc(self->autos, (self->nautos + 1) * sizeof *self->autos);
                self->autos[self->nautos++] =
                    (s_auto_t){.ls_id = ls->id, .down_sn = down, .sealed_at = zclock_mono()};
                continue;
            }
            if (!au && ls->state == VL_LS_SEALED && ls->seal_sn != 0) {
                /* sealed by an admin (this one before a restart, or
                   another): the MR says so, so it is ours to bring back */
                vl_log(LOG_NOTICE,
                       "auto: topic '%s' ls %u was sealed by varlogadm when sn %u went down; "
                       "taking it over",
                       t->name, ls->id, ls->seal_sn);
                self->autos = vl_realloc(self->autos, (self->nautos + 1) * sizeof *self->autos);
                au = &self->autos[self->nautos++];
                *au =
                    (s_auto_t){.ls_id = ls->id, .down_sn = ls->seal_sn, .sealed_at = zclock_mono()};
            }
            if (au && ls->state == VL_LS_SEALED && ls->seal_sn == 0) {
                s_auto_forget(self, ls->id); /* sealed by hand since */
                au = NULL;
            }
            if (!au || ls->state != VL_LS_SEALED)
                continue; /* sealed by hand: the operator's business */
            if (not_up) {
                if (!au->waiting_said)
                    vl_log(LOG_NOTICE,
                           "auto: topic '%s' ls %u stays sealed until sn %u is up again", t->name,
                           ls->id, not_up);
                au->waiting_said = true;
                continue;
            }
            bool in_line = true;
            for (uint32_t k = 0; k < ls->nrep; k++) {
                const vl_sn_replica_t *r = s_replica_status(self, ls->replicas[k], ls->id);
                if (!r || r->state != VL_LS_SEALED || r->llsn_end != ls->committed_llsn_end ||
                    r->committed_llsn_end != ls->committed_llsn_end)
                    in_line = false;
            }
            int64_t now = zclock_mono();
            if (!in_line) {
                if (au->last_sync && now - au->last_sync < 2000)
                    continue;
                au->last_sync = now;
                vl_sync_item_t items[VL_WIRE_MAX_REPLICAS];
                uint32_t n = 0;
                int rc = s_sync_ls(self, m, t, ls, 0, 0, items, &n, err, sizeof err);
                if (rc != 0)
                    vl_log(LOG_WARNING, "auto: %s; retrying", err);
                else if (n)
                    vl_log(LOG_NOTICE, "auto: topic '%s' ls %u: syncing %u replica%s", t->name,
                           ls->id, n, n > 1 ? "s" : "");
                continue;
            }
            if (self->no_auto_unseal) {
                if (!au->waiting_said)
                    vl_log(LOG_NOTICE,
                           "auto: topic '%s' ls %u is in line; unseal it with 'varlogctl ls "
                           "unseal %s %u'",
                           t->name, ls->id, t->name, ls->id);
                au->waiting_said = true;
                continue;
            }
            int rc = s_mr_ls_call(self, VL_MSG_UNSEAL, t->name, ls->id, 0, NULL, err, sizeof err);
            if (rc == VL_EBUSY) {
                /* the MR has not heard every replica's report yet */
                vl_log(LOG_DEBUG, "auto: unseal of topic '%s' ls %u not yet: %s", t->name, ls->id,
                       err);
                continue;
            }
            if (rc != 0) {
                vl_log(LOG_WARNING, "auto: unsealing topic '%s' ls %u failed: %s", t->name, ls->id,
                       err[0] ? err : vl_err_str(rc));
                continue;
            }
            vl_log(LOG_NOTICE,
                   "auto: topic '%s' ls %u unsealed: sn %u is back and every replica is in "
                   "line at llsn %" PRIu64 " (sealed %.1f s)",
                   t->name, ls->id, au->down_sn, ls->committed_llsn_end,
                   (double)(now - au->sealed_at) / 1000.0);
            s_auto_forget(self, ls->id);
        }
    }
    /* log streams that are gone */
    for (size_t i = 0; i < self->nautos;) {
        bool found = false;
        for (uint32_t k = 0; k < m->ntopics && !found; k++)
            for (uint32_t j = 0; j < m->topics[k].nls && !found; j++)
                found = m->topics[k].ls[j].id == self->autos[i].ls_id;
        if (found)
            i++;
        else
            self->autos[i] = self->autos[--self->nautos];
    }
    int64_t blocked = zclock_mono() - start;
    if (blocked > 0)
        s_forgive(self, blocked);
}

static void s_heartbeat(self_t *self)
{
    int64_t now = zclock_mono();
    /* refresh the list of storage nodes; a poll unanswered for a whole
       timeout is given up (and its socket recreated so nothing stale
       stays queued) */
    if (self->poll_id && now - self->poll_sent >= self->heartbeat_timeout_ms) {
        if (!self->mr_silent)
            vl_log(LOG_WARNING,
                   "metadata repository at %s does not answer; is varlogmr running? (watching "
                   "the last known storage nodes meanwhile)",
                   self->mr_ep);
        self->mr_silent = true;
        s_mr_poll_connect(self);
    }
    if (!self->poll_id && self->mr_poll) {
        uint64_t id = self->next_id++;
        if (s_send_request(self->mr_poll, VL_MSG_GET_META, id)) {
            self->poll_id = id;
            self->poll_sent = now;
        } else if (!self->mr_silent && now - self->mr_last_ok >= self->heartbeat_timeout_ms) {
            vl_log(LOG_WARNING,
                   "metadata repository at %s is not reachable; is varlogmr running? (watching "
                   "the last known storage nodes meanwhile)",
                   self->mr_ep);
            self->mr_silent = true;
        }
    }
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        if (sn->dealer)
            s_send_request(sn->dealer, VL_MSG_SN_STATUS, self->next_id++);
        if (sn->state != S_SN_DOWN && now - sn->last_seen >= self->heartbeat_timeout_ms)
            s_sn_set_state(sn, S_SN_DOWN);
    }
}

static int s_heartbeat_timer(zloop_t *loop, int timer_id, void *arg)
{
    s_heartbeat(arg);
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
    if (rc == VL_ETIMEDOUT && zclock_mono() - start >= self->mr_timeout_ms)
        snprintf(err, sizeof err, "metadata repository at %s does not answer; is varlogmr running?",
                 self->mr_ep);
    if (rc != 0) {
        vl_log(LOG_WARNING, "%s: %s: %s", what, vl_err_name(rc), err[0] ? err : vl_err_str(rc));
        s_reply_error(self, rid, req, rc, err[0] ? err : vl_err_str(rc));
        return rc;
    }
    vl_hdr_t h = *req;
    h.type = (uint16_t)(type | VL_MSG_REPLY);
    h.cluster_id = rh.cluster_id;
    h.status = 0;
    vl_wbuf_t view = {.data = (uint8_t *)rb.p, .len = rb.left, .cap = rb.left};
    zmsg_t *out = vl_wire_msg(&h, &view);
    s_reply(self, rid, &out);
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

/*  The last word of storage node sn_id (up) about its replica of ls_id,
    or NULL when unknown. */
static const vl_sn_replica_t *s_replica_status(self_t *self, uint32_t sn_id, uint32_t ls_id)
{
    s_sn_t *sn = s_sn_find(self, sn_id);
    if (!sn || sn->state != S_SN_UP || !sn->have_status)
        return NULL;
    for (uint32_t i = 0; i < sn->status.n; i++)
        if (sn->status.replicas[i].ls_id == ls_id)
            return &sn->status.replicas[i];
    return NULL;
}

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

/*  PINGs addr with a short-lived DEALER. 0 when it answered; VL_EINVAL
    when addr is not an endpoint; VL_EUNAVAIL when it did not answer. */
static int s_ping(self_t *self, const char *addr)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return VL_EUNAVAIL;
    zsock_set_linger(sock, 0);
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
        s_reply_error(self, rid, req, VL_EINVAL,
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
        s_reply_error(self, rid, req, rc, text);
        return;
    }
    if (rc != 0) {
        char text[VL_WIRE_MAX_ADDR + 128];
        snprintf(text, sizeof text,
                 "storage node at %s does not answer; start varlogsn there first", a->addr);
        vl_log(LOG_WARNING, "%s: %s", what, text);
        s_reply_error(self, rid, req, rc, text);
        return;
    }
    zmsg_t *reply = NULL;
    vl_rbuf_t rb;
    if (s_forward(self, rid, req, body, what, &reply, &rb) != 0)
        return;
    uint32_t id = s_reply_id(&rb);
    zmsg_destroy(&reply);
    vl_log(LOG_NOTICE, "%s: sn id %u", what, id);
    if (id && !s_sn_find(self, id)) {
        /* it just answered our PING: up, without waiting for a heartbeat */
        s_sn_t *sn = s_sn_add(self, id, a->addr);
        s_sn_set_state(sn, S_SN_UP);
    }
}

/* ---- sync ------------------------------------------------------------------- */

/*  Starts the syncs that bring the replicas of sealed log stream ls (of
    topic t) in line with its sealed end: from replica `from` (0: the first
    one, primary first, that holds the sealed end) to replica `to` (0: every
    replica that is up and lacks entries, or is not known to hold any).
    Appends what it started to items (room for VL_WIRE_MAX_REPLICAS more).
    Returns 0, or a VL_E* code with err saying what to do. */
static int s_sync_ls(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
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
        const vl_sn_replica_t *r = s_replica_status(self, id, ls->id);
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
        s_sn_t *sn = s_sn_find(self, id);
        const vl_sn_replica_t *r = s_replica_status(self, id, ls->id);
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

/*  Fresh metadata from the MR (blocking). 0, or the error replied. */
static int s_fetch_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, vl_meta_t *meta)
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
    zmsg_destroy(&reply);
    if (rc != 0 && rid) {
        vl_log(LOG_WARNING, "%s: %s", vl_wire_type_name(req->type), err[0] ? err : vl_err_str(rc));
        s_reply_error(self, rid, req, rc, err[0] ? err : vl_err_str(rc));
    }
    return rc;
}

/*  SYNC: the log stream a->id (0: every sealed one) of topic a->name. */
static void s_handle_sync(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_admin_t *a)
{
    vl_meta_t m;
    if (s_fetch_meta(self, rid, req, &m) != 0)
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
        rc = s_sync_ls(self, &m, t, ls, a->sn_from, a->sn_to, items, &n, err, sizeof err);
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
        s_reply_error(self, rid, req, rc, err);
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
        s_reply(self, rid, &out);
        vl_wbuf_free(&b);
    }
    free(items);
    vl_meta_free(&m);
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
        s_reply_error(self, rid, req, VL_EPROTO, text);
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
                    s_sn_destroy(self, &self->sns[i]);
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
        s_handle_sync(self, rid, req, &a);
        break;
    default:
        assert(false);
    }
    zmsg_destroy(&reply);
    vl_wbuf_free(&b);
}

/*  STATUS: fresh metadata from the MR with our own alive flags. */
static void s_handle_status(self_t *self, zframe_t *rid, const vl_hdr_t *req)
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
    vl_meta_t meta;
    if (rc == 0 && vl_meta_decode(&rb, &meta) != 0) {
        rc = VL_EPROTO;
        snprintf(err, sizeof err,
                 "metadata repository at %s sent a malformed META; is it the same varlog "
                 "version?",
                 self->mr_ep);
    }
    zmsg_destroy(&reply);
    if (rc != 0) {
        vl_log(LOG_WARNING, "status: %s", err[0] ? err : vl_err_str(rc));
        s_reply_error(self, rid, req, rc, err[0] ? err : vl_err_str(rc));
        return;
    }
    s_sns_sync(self, &meta);
    for (uint32_t i = 0; i < meta.nsn; i++) {
        s_sn_t *sn = s_sn_find(self, meta.sns[i].id);
        meta.sns[i].alive = sn && sn->state == S_SN_UP;
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_meta_encode(&meta, &b);
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
    h.cluster_id = rh.cluster_id;
    h.status = 0;
    zmsg_t *out = vl_wire_msg(&h, &b);
    s_reply(self, rid, &out);
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
        s_reply_error(self, rid, &req, rc,
                      rc == VL_EVERSION
                          ? "unsupported protocol version; use varlogctl of the same version "
                            "as varlogadm"
                          : "malformed message; use a varlog client of the same version");
        return;
    }
    vl_log(LOG_DEBUG, "%s request %" PRIu64, vl_wire_type_name(req.type), req.request_id);
    switch (req.type) {
    case VL_MSG_PING: {
        zmsg_t *reply = vl_wire_reply(&req, 0, NULL);
        s_reply(self, rid, &reply);
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
    default: {
        char text[256];
        snprintf(text, sizeof text,
                 "varlogadm does not serve %s; send data requests to the storage nodes and "
                 "the metadata repository (use libvarlog)",
                 vl_wire_type_name(req.type));
        vl_log(LOG_WARNING, "%s request refused: not an admin request",
               vl_wire_type_name(req.type));
        s_reply_error(self, rid, &req, VL_EPROTO, text);
    }
    }
}

/*  While a blocking call held the loop, no heartbeat could be sent or
    read: that time must not count as the storage nodes' silence, or every
    slow MR call would mark them all down. */
static void s_forgive(self_t *self, int64_t blocked_ms)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        sn->last_seen = sn->last_seen + blocked_ms < now ? sn->last_seen + blocked_ms : now;
    }
    if (self->poll_id)
        self->poll_sent += blocked_ms;
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
        if (blocked > 0)
            s_forgive(self, blocked);
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
    self->mr_last_ok = zclock_mono(); /* no complaint before a first timeout */
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
        s_sn_destroy(self, &self->sns[i]);
    free(self->sns);
    s_mr_poll_reset(self);
    free(self->autos);
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
