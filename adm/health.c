/*  health.c - varlogadm's watch over the storage nodes, and the automatic
    seal, sync and unseal it drives.

    The table follows the storage nodes of the metadata that the
    heartbeat's poll brings. Each node has a DEALER on which any reply is a
    sign of life (the heartbeat, server.c, marks a silent one down), and
    its last SN_STATUS reply, what its replicas hold, feeds STATUS, SYNC
    and the automatic handling.

    The automatic handling (server.h) runs with each fresh META and takes
    each log stream through its phases: seal it when a node of its
    replicas is down, take over the seal an admin made before a restart,
    wait until every node is up again, sync the replicas that lag, unseal.
*/
#include <inttypes.h>
#include <string.h>
#include "server_i.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wire.h"

/* ---- storage node table ----------------------------------------------------- */

s_sn_t *vl_adm_health_sn_find(self_t *self, uint32_t id)
{
    for (size_t i = 0; i < self->nsn; i++)
        if (self->sns[i]->id == id)
            return self->sns[i];
    return NULL;
}

void vl_adm_health_sn_destroy(self_t *self, s_sn_t **sn_p)
{
    s_sn_t *sn = *sn_p;
    if (!sn)
        return;
    if (sn->monitor) {
        zloop_reader_end(self->loop, zactor_sock(sn->monitor));
        zactor_destroy(&sn->monitor); /* before the socket it watches */
    }
    if (sn->dealer) {
        zloop_reader_end(self->loop, sn->dealer);
        zsock_destroy(&sn->dealer);
    }
    vl_sn_status_free(&sn->status);
    free(sn);
    *sn_p = NULL;
}

void vl_adm_health_sn_set_state(s_sn_t *sn, s_sn_state_t state)
{
    if (sn->state == state)
        return;
    if (state == S_SN_UP)
        vl_log(sn->state == S_SN_DOWN ? LOG_NOTICE : LOG_INFO, "sn %u %s: up", sn->id, sn->addr);
    else if (state == S_SN_DOWN) {
        if (sn->lost_at)
            vl_log(LOG_WARNING,
                   "sn %u %s: down (its connection closed and it did not answer within %d ms)",
                   sn->id, sn->addr, VL_ADM_LOST_GRACE_MS);
        else
            vl_log(LOG_WARNING, "sn %u %s: down (no heartbeat for %d ms)", sn->id, sn->addr,
                   sn->self->heartbeat_timeout_ms);
        vl_metric_inc(sn->self->m_sn_down);
    }
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
            sn->lost_at = 0;
            vl_adm_health_sn_set_state(sn, S_SN_UP);
            vl_sn_status_t st;
            if (hdr.type == (VL_MSG_SN_STATUS | VL_MSG_REPLY) && hdr.status == 0 &&
                vl_sn_status_decode(&body, &st) == 0) {
                /* what its replicas hold: for STATUS, sync and unseal */
                vl_sn_status_free(&sn->status);
                sn->status = st;
                sn->have_status = true;
                if (st.fault != sn->fault)
                    vl_log(st.fault ? LOG_WARNING : LOG_NOTICE, "sn %u %s: %s", sn->id, sn->addr,
                           st.fault                      ? st.fault_why
                           : sn->fault == VL_SN_FAULT_MR ? "it hears the metadata repository again"
                                                         : "its disk fault cleared");
                sn->fault_new |= st.fault && !sn->fault;
                sn->fault = st.fault;
            }
        } else {
            vl_log(LOG_WARNING, "sn %u %s: unexpected message (%s %s); ignored", sn->id, sn->addr,
                   rc ? vl_err_name(rc) : "request", vl_wire_type_name(hdr.type));
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

/*  ---- a closed connection ----------------------------------------------------

    A storage node whose process ends (kill -9, a crash, a stop) closes
    its connections at once, and its DEALER's monitor says so: a node that
    has not answered again within VL_ADM_LOST_GRACE_MS (a quick restart
    does) is down then, and the META poll that follows seals its log
    streams, instead of after the whole heartbeat timeout. A node that
    pauses (SIGSTOP) or whose link is cut keeps its connection open: the
    heartbeat timeout is what finds it. */

static int s_sn_monitor_reader(zloop_t *loop, zsock_t *sock, void *arg)
{
    s_sn_t *sn = arg;
    zmsg_t *msg = zmsg_recv_nowait(sock);
    char *event = msg ? zmsg_popstr(msg) : NULL;
    if (event && streq(event, "DISCONNECTED") && sn->state != S_SN_DOWN && !sn->lost_at) {
        sn->lost_at = zclock_mono();
        vl_log(LOG_INFO, "sn %u %s: its connection closed; down unless it answers within %d ms",
               sn->id, sn->addr, VL_ADM_LOST_GRACE_MS);
    }
    free(event);
    zmsg_destroy(&msg);
    return 0;
}

/*  Watches sn's DEALER for a closed connection; without a monitor (out of
    threads or sockets) only the heartbeat finds the node down. */
static void s_sn_monitor(self_t *self, s_sn_t *sn)
{
    sn->monitor = zactor_new(zmonitor, sn->dealer);
    if (!sn->monitor)
        return;
    zstr_sendx(sn->monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_send(sn->monitor, "START");
    zsock_wait(sn->monitor);
    if (zloop_reader(self->loop, zactor_sock(sn->monitor), s_sn_monitor_reader, sn) != 0)
        zactor_destroy(&sn->monitor);
}

bool vl_adm_health_lost_check(self_t *self)
{
    int64_t now = zclock_mono();
    bool down = false;
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        if (sn->fault_new) {
            /* a fault seals the node's log streams: the poll goes now */
            sn->fault_new = false;
            down = true;
        }
        if (sn->state == S_SN_DOWN)
            continue;
        if (now - sn->last_seen >= self->heartbeat_timeout_ms) {
            /* silent for the whole timeout (paused, cut off): checked
               here, not only at the heartbeat's pace, so that it is down
               at the timeout and not up to a heartbeat later */
            sn->lost_at = 0;
            vl_adm_health_sn_set_state(sn, S_SN_DOWN);
            down = true;
            continue;
        }
        if (!sn->lost_at)
            continue;
        if (now - sn->lost_at < VL_ADM_LOST_GRACE_MS) {
            /* sent only once it is connected again (immediate) */
            vl_hdr_t h = {.type = VL_MSG_SN_STATUS, .request_id = self->next_id++};
            zmsg_t *msg = vl_wire_msg(&h, NULL);
            if (zmsg_send(&msg, sn->dealer) != 0)
                zmsg_destroy(&msg);
            continue;
        }
        vl_adm_health_sn_set_state(sn, S_SN_DOWN);
        sn->lost_at = 0;
        down = true;
    }
    return down;
}

s_sn_t *vl_adm_health_sn_add(self_t *self, uint32_t id, const char *addr)
{
    s_sn_t *sn = vl_calloc(1, sizeof *sn);
    sn->self = self;
    sn->id = id;
    snprintf(sn->addr, sizeof sn->addr, "%s", addr);
    sn->state = S_SN_UNKNOWN;
    sn->last_seen = zclock_mono();
    sn->mark = true;
    sn->dealer = vl_adm_server_dealer(addr, true);
    if (!sn->dealer)
        vl_log(LOG_ERR,
               "sn %u %s: cannot connect: not a valid ZeroMQ endpoint or out of sockets; "
               "it will show as down (remove it with 'varlogctl sn remove %u')",
               id, addr, id);
    else if (zloop_reader(self->loop, sn->dealer, s_sn_reader, sn) != 0) {
        vl_log(LOG_ERR, "sn %u %s: cannot watch its socket; it will show as down", id, addr);
        zsock_destroy(&sn->dealer);
    } else
        s_sn_monitor(self, sn);
    self->sns = vl_realloc(self->sns, (self->nsn + 1) * sizeof *self->sns);
    self->sns[self->nsn++] = sn;
    vl_log(LOG_INFO, "sn %u %s: watching", id, addr);
    return sn;
}

/*  Makes the table follow the storage nodes of meta: new ones are watched,
    removed ones forgotten, a changed address reconnects. */
void vl_adm_health_sns_sync(self_t *self, const vl_meta_t *meta)
{
    for (size_t i = 0; i < self->nsn; i++)
        self->sns[i]->mark = false;
    for (uint32_t i = 0; i < meta->nsn; i++) {
        const vl_meta_sn_t *m = &meta->sns[i];
        s_sn_t *sn = vl_adm_health_sn_find(self, m->id);
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
            vl_adm_health_sn_destroy(self, &self->sns[i]);
        }
    }
    self->nsn = keep;
    for (uint32_t i = 0; i < meta->nsn; i++)
        if (!vl_adm_health_sn_find(self, meta->sns[i].id))
            vl_adm_health_sn_add(self, meta->sns[i].id, meta->sns[i].addr);
}

/*  The last word of storage node sn_id (up) about its replica of ls_id,
    or NULL when unknown. */
const vl_sn_replica_t *vl_adm_health_replica_status(self_t *self, uint32_t sn_id, uint32_t ls_id)
{
    s_sn_t *sn = vl_adm_health_sn_find(self, sn_id);
    if (!sn || sn->state != S_SN_UP || !sn->have_status)
        return NULL;
    for (uint32_t i = 0; i < sn->status.n; i++)
        if (sn->status.replicas[i].ls_id == ls_id)
            return &sn->status.replicas[i];
    return NULL;
}

/*  While a blocking call held the loop, no heartbeat could be sent or
    read: that time must not count as the storage nodes' silence, or every
    slow MR call would mark them all down. */
void vl_adm_health_forgive(self_t *self, int64_t blocked_ms)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < self->nsn; i++) {
        s_sn_t *sn = self->sns[i];
        sn->last_seen = sn->last_seen + blocked_ms < now ? sn->last_seen + blocked_ms : now;
    }
    if (self->poll_id)
        self->poll_sent += blocked_ms;
    /* nor is the MR's leader left for the time the loop did not listen
       (an MR membership change blocks it for seconds) */
    self->poll_heard = self->poll_heard + blocked_ms < now ? self->poll_heard + blocked_ms : now;
}

/* ---- automatic seal, sync, unseal ------------------------------------------------ */

bool vl_adm_health_faulty(self_t *self, const s_sn_t *sn)
{
    if (sn->fault != VL_SN_FAULT_MR)
        return sn->fault != 0;
    return !self->mr_silent && zclock_mono() - self->mr_steady >= self->heartbeat_timeout_ms;
}

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

/*  The backup of ls (RUNNING) whose end has lagged its primary's without
    moving for VL_ADM_STALL_MS, or 0: a primary cut off from a backup that
    the admin still hears (both answer SN_STATUS, neither is down) writes
    on while its log stream commits nothing. *why gets the reason. */
static uint32_t s_auto_stalled(self_t *self, const vl_meta_ls_t *ls, char *why, size_t why_size)
{
    const vl_sn_replica_t *p =
        ls->nrep > 1 ? vl_adm_health_replica_status(self, ls->replicas[0], ls->id) : NULL;
    uint32_t stalled = 0;
    int64_t now = zclock_mono();
    for (uint32_t k = 1; k < ls->nrep; k++) {
        const vl_sn_replica_t *b = vl_adm_health_replica_status(self, ls->replicas[k], ls->id);
        size_t i = 0;
        while (i < self->nstalls &&
               (self->stalls[i].ls_id != ls->id || self->stalls[i].sn_id != ls->replicas[k]))
            i++;
        if (!p || !b || b->llsn_end >= p->llsn_end || p->state != VL_LS_RUNNING ||
            b->state != VL_LS_RUNNING) {
            if (i < self->nstalls)
                self->stalls[i] = self->stalls[--self->nstalls];
            continue;
        }
        if (i == self->nstalls || self->stalls[i].end != b->llsn_end) {
            if (i == self->nstalls) {
                self->stalls = vl_realloc(self->stalls, (self->nstalls + 1) * sizeof *self->stalls);
                self->nstalls++;
            }
            self->stalls[i] = (s_stall_t){
                .ls_id = ls->id, .sn_id = ls->replicas[k], .end = b->llsn_end, .since = now};
            continue;
        }
        /* still there in an answer that came that long after: the backup
           answers, its end does not move (a paused one that stopped
           answering is the heartbeat's) */
        s_sn_t *bsn = vl_adm_health_sn_find(self, ls->replicas[k]);
        if (!stalled && bsn && bsn->last_seen - self->stalls[i].since >= VL_ADM_STALL_MS) {
            stalled = ls->replicas[k];
            snprintf(why, why_size,
                     "backup of ls %u stuck at llsn %" PRIu64 " for %lld ms while its primary "
                     "sn %u holds llsn %" PRIu64 " (cut off from it?)",
                     ls->id, b->llsn_end, (long long)(now - self->stalls[i].since), ls->replicas[0],
                     p->llsn_end);
            self->stalls[i] = self->stalls[--self->nstalls];
        }
    }
    return stalled;
}

/*  Seals ls (RUNNING), whose replica on storage node down is down (or
    stalled: why says so), and remembers that this admin sealed it. */
static void s_auto_seal(self_t *self, const vl_meta_topic_t *t, const vl_meta_ls_t *ls,
                        uint32_t down, const char *why, char *err, size_t err_size)
{
    vl_seal_reply_t sr;
    int rc = s_mr_ls_call(self, VL_MSG_SEAL, t->name, ls->id, down, &sr, err, err_size);
    if (rc != 0) {
        vl_log(LOG_ERR, "auto: sn %u is down but sealing topic '%s' ls %u failed: %s", down,
               t->name, ls->id, err[0] ? err : vl_err_str(rc));
        return;
    }
    vl_metric_inc(self->m_seals);
    s_sn_t *sn = vl_adm_health_sn_find(self, down);
    vl_log(LOG_WARNING,
           "auto: sn %u %s: sealed topic '%s' ls %u at llsn %" PRIu64 " (glsn %" PRIu64
           "); appends go to the topic's other log streams",
           down,
           why                                         ? why
           : sn && sn->state != S_SN_DOWN && sn->fault ? sn->status.fault_why
                                                       : "is down",
           t->name, ls->id, sr.llsn_end, sr.glsn_end);
    self->autos = vl_realloc(self->autos, (self->nautos + 1) * sizeof *self->autos);
    self->autos[self->nautos++] =
        (s_auto_t){.ls_id = ls->id, .down_sn = down, .sealed_at = zclock_mono()};
}

/*  This admin's record of sealed log stream ls, given au, the one it had
    (NULL: none): a seal an admin made is taken over, a seal by hand since
    drops the record. NULL when ls is not this admin's to bring back. */
static s_auto_t *s_auto_claim(self_t *self, const vl_meta_topic_t *t, const vl_meta_ls_t *ls,
                              s_auto_t *au)
{
    if (!au && ls->state == VL_LS_SEALED && ls->seal_sn != 0) {
        /* sealed by an admin (this one before a restart, or
           another): the MR says so, so it is ours to bring back */
        vl_log(LOG_NOTICE,
               "auto: topic '%s' ls %u was sealed by varlogadm when sn %u went down; "
               "taking it over",
               t->name, ls->id, ls->seal_sn);
        self->autos = vl_realloc(self->autos, (self->nautos + 1) * sizeof *self->autos);
        au = &self->autos[self->nautos++];
        *au = (s_auto_t){.ls_id = ls->id, .down_sn = ls->seal_sn, .sealed_at = zclock_mono()};
    }
    if (au && ls->state == VL_LS_SEALED && ls->seal_sn == 0) {
        s_auto_forget(self, ls->id); /* sealed by hand since */
        au = NULL;
    }
    return au;
}

/*  Whether every replica of ls last said it is sealed at the sealed end,
    with that end committed. */
static bool s_auto_in_line(self_t *self, const vl_meta_ls_t *ls)
{
    bool in_line = true;
    for (uint32_t k = 0; k < ls->nrep; k++) {
        const vl_sn_replica_t *r = vl_adm_health_replica_status(self, ls->replicas[k], ls->id);
        if (!r || r->state != VL_LS_SEALED || r->llsn_end != ls->committed_llsn_end ||
            r->committed_llsn_end != ls->committed_llsn_end)
            in_line = false;
    }
    return in_line;
}

/*  Starts the syncs of the replicas of ls that are not in line, at most
    every 2 s. */
static void s_auto_sync(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
                        const vl_meta_ls_t *ls, s_auto_t *au, int64_t now, char *err,
                        size_t err_size)
{
    if (au->last_sync && now - au->last_sync < 2000)
        return;
    au->last_sync = now;
    vl_sync_item_t items[VL_WIRE_MAX_REPLICAS];
    uint32_t n = 0;
    int rc = vl_adm_sync_ls(self, m, t, ls, 0, 0, items, &n, err, err_size);
    if (rc != 0)
        vl_log(LOG_WARNING, "auto: %s; retrying", err);
    else if (n)
        vl_log(LOG_NOTICE, "auto: topic '%s' ls %u: syncing %u replica%s", t->name, ls->id, n,
               n > 1 ? "s" : "");
}

/*  Unseals ls, whose replicas are all in line, and forgets it (with
    no_auto_unseal, says how to unseal it by hand instead). */
static void s_auto_unseal(self_t *self, const vl_meta_topic_t *t, const vl_meta_ls_t *ls,
                          s_auto_t *au, int64_t now, char *err, size_t err_size)
{
    if (self->no_auto_unseal) {
        if (!au->waiting_said)
            vl_log(LOG_NOTICE,
                   "auto: topic '%s' ls %u is in line; unseal it with 'varlogctl ls "
                   "unseal %s %u'",
                   t->name, ls->id, t->name, ls->id);
        au->waiting_said = true;
        return;
    }
    int rc = s_mr_ls_call(self, VL_MSG_UNSEAL, t->name, ls->id, 0, NULL, err, err_size);
    if (rc == VL_EBUSY) {
        /* the MR has not heard every replica's report yet */
        vl_log(LOG_DEBUG, "auto: unseal of topic '%s' ls %u not yet: %s", t->name, ls->id, err);
        return;
    }
    if (rc != 0) {
        vl_log(LOG_WARNING, "auto: unsealing topic '%s' ls %u failed: %s", t->name, ls->id,
               err[0] ? err : vl_err_str(rc));
        return;
    }
    vl_metric_inc(self->m_unseals);
    vl_log(LOG_NOTICE,
           "auto: topic '%s' ls %u unsealed: sn %u is back and every replica is in "
           "line at llsn %" PRIu64 " (sealed %.1f s)",
           t->name, ls->id, au->down_sn, ls->committed_llsn_end,
           (double)(now - au->sealed_at) / 1000.0);
    s_auto_forget(self, ls->id);
}

/*  The automatic handling of log stream ls of topic t, one phase a pass:
    seal, take over, wait for its storage nodes, sync, unseal. */
static void s_auto_ls(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
                      const vl_meta_ls_t *ls, char *err, size_t err_size)
{
    s_auto_t *au = s_auto_find(self, ls->id);
    uint32_t down = 0, not_up = 0;
    for (uint32_t k = 0; k < ls->nrep; k++) {
        s_sn_t *sn = vl_adm_health_sn_find(self, ls->replicas[k]);
        /* a node whose disk fails is sealed out like a dead one, and
           waited for until it clears */
        bool faulty = sn && vl_adm_health_faulty(self, sn);
        if (sn && (sn->state == S_SN_DOWN || faulty) && !down)
            down = sn->id;
        if (!sn || sn->state != S_SN_UP || faulty)
            not_up = not_up ? not_up : ls->replicas[k];
    }
    if (ls->state == VL_LS_RUNNING) {
        if (au)
            s_auto_forget(self, ls->id); /* unsealed meanwhile */
        char why[256] = "";
        if (!down)
            down = s_auto_stalled(self, ls, why, sizeof why);
        if (!down)
            return;
        s_auto_seal(self, t, ls, down, why[0] ? why : NULL, err, err_size);
        return;
    }
    for (size_t i = 0; i < self->nstalls;) /* sealed: a lag is no stall */
        if (self->stalls[i].ls_id == ls->id)
            self->stalls[i] = self->stalls[--self->nstalls];
        else
            i++;
    au = s_auto_claim(self, t, ls, au);
    if (!au || ls->state != VL_LS_SEALED)
        return; /* sealed by hand: the operator's business */
    if (not_up) {
        if (!au->waiting_said)
            vl_log(LOG_NOTICE, "auto: topic '%s' ls %u stays sealed until sn %u is up again",
                   t->name, ls->id, not_up);
        au->waiting_said = true;
        return;
    }
    bool in_line = s_auto_in_line(self, ls);
    int64_t now = zclock_mono();
    if (!in_line) {
        s_auto_sync(self, m, t, ls, au, now, err, err_size);
        return;
    }
    s_auto_unseal(self, t, ls, au, now, err, err_size);
}

/*  One pass of the automatic handling over the metadata m (server.h). */
void vl_adm_health_auto(self_t *self, const vl_meta_t *m)
{
    if (self->no_auto)
        return;
    int64_t start = zclock_mono();
    char err[1024];
    for (uint32_t i = 0; i < m->ntopics; i++) {
        const vl_meta_topic_t *t = &m->topics[i];
        for (uint32_t j = 0; j < t->nls; j++)
            s_auto_ls(self, m, t, &t->ls[j], err, sizeof err);
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
        vl_adm_health_forgive(self, blocked);
}
