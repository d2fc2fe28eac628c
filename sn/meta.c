/*  meta.c - the node's side of the metadata repository (MR): HELLO,
    REPORT, GET_META and the META it answers, which MR replica to talk to,
    and the events of the DEALER to the MR. COMMITs arriving on it go to
    replica.c.

    A META is applied whole: it places replicas here (or takes them away),
    seals and unseals them, sets trim points, and sets up the replication
    streams of the replicas this node is the primary of.

    The MR may be a group of replicas of which only the leader serves
    (lib/mrconn.h). The DEALER is connected to one of them at a time:
    - a VL_ENOTLEADER answer (to HELLO, REPORT, GET_META or PING) moves it
      to the leader the refusal names, or to the next replica of --mr when
      it names none, at most once per VL_MRCONN_PAUSE_MS;
    - silence moves it to the next replica: the MR sends nothing to an idle
      node (REPORTs get no answer), so after S_MR_PROBE_US without a word
      the node PINGs it (again every S_MR_PROBE_US; also with one
      endpoint, so that SN_STATUS can tell a node cut off from the MR by
      its silence), and once nothing came for S_MR_SILENT_US while an
      answer was due (a PING or HELLO unanswered for S_MR_ANSWER_US at
      least), the replica counts as gone;
    - a dropped or refused connection moves it to the next replica at
      once (the DEALER's monitor, s_mr_dropped): a killed replica leaves
      no silence to wait for, its kernel closes its connections. During
      the election that follows, the other replicas still name the dead
      leader: for VL_MRCONN_GONE_MS such a hint counts as none and the
      rotation passes the dead one by (vl_mrconn_gone). A stopped or cut
      off replica keeps its connections: silence finds it;
    - after every move the node says HELLO and sends a complete REPORT,
      the path of a new connection to the MR: the new leader may know
      nothing of this node's replicas, and it commits nothing for them
      until every replica has reported.
    The move is a disconnect and a connect on the same DEALER (what was
    queued for the old replica is dropped), so the zloop keeps its reader.
    With one endpoint nothing moves on silence or a drop: the node waits
    for it, as it does for a single MR that restarts.

    Fencing (doc/DESIGN.md "Fencing"): COMMIT, META and the HELLO reply
    carry the raft term of the leader that sent them. The node remembers
    the highest term it heard and ignores what comes of an older one (a
    deposed leader's), and a META of the same term and an older version
    than the one applied; every other META is applied, a HELLO reply's
    too, so a new leader's first answer brings what the node missed.
*/

#include <inttypes.h>
#include <string.h>
#include "log.h"
#include "sn_i.h"
#include "util.h"

/*  ---- reports and hello -------------------------------------------------- */

/*  Sends a REPORT. A partial one (full false) carries only the replicas
    whose ends or state changed since the last REPORT that went out, and
    none at all when nothing changed: with many log streams, most of them
    idle, the reports would otherwise cost the MR more than its rounds. The
    MR updates only the items present and never reads anything into an
    absent one. A full one carries every replica: the 1 s heartbeat, and
    the first REPORT after a HELLO (the MR forgot what the node reported)
    or after the connection to the MR was made again (it may be a new MR
    process that heard nothing yet), so whatever the MR lost is restored
    within a second at worst. */
void vl_sn_meta_report(self_t *self, bool full)
{
    self->report_dirty = false;
    if (!self->sn_id)
        return;
    full = full || self->report_full;
    vl_report_t r = {.sn_id = self->sn_id};
    r.items = vl_calloc(zhashx_size(self->replicas) + 1, sizeof *r.items);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        /* Nothing about a replica still discarding its suffix after a seal
           (or not yet placed by a META): its durable end is about to go
           down, and the MR must not take the old one for in line. */
        if (rep->truncating || !rep->confirmed)
            continue;
        vl_report_item_t it = {.ls_id = rep->ls_id,
                               .llsn_end = rep->d.llsn_end,
                               .bytes_end = rep->d.bytes_end,
                               .applied_llsn_end = rep->d.applied_llsn_end,
                               .state = rep->ls_state};
        const vl_report_item_t *last = &rep->last_report;
        if (!full && rep->reported && last->llsn_end == it.llsn_end &&
            last->bytes_end == it.bytes_end && last->applied_llsn_end == it.applied_llsn_end &&
            last->state == it.state)
            continue;
        r.items[r.n++] = it;
        rep->last_report = it;
        rep->reported = true;
    }
    if (!full && r.n == 0) {
        free(r.items);
        return;
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_report_encode(&r, &b);
    vl_hdr_t h = {.type = VL_MSG_REPORT,
                  .request_id = ++self->hello_seq,
                  .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        /* what it said is lost: say everything next time */
        self->report_full = true;
        vl_log(LOG_DEBUG, "sn=%u: REPORT not sent (MR unreachable): %s", self->sn_id,
               zmq_strerror(zmq_errno()));
    } else if (full)
        self->report_full = false;
    vl_wbuf_free(&b);
    free(r.items);
}

static int s_on_report_timer(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    self->report_timer = -1;
    if (self->report_dirty)
        vl_sn_meta_report(self, false);
    return 0;
}

/*  Coalesces changes into one REPORT a millisecond later. */
void vl_sn_meta_report_soon(self_t *self)
{
    self->report_dirty = true;
    if (self->report_timer < 0)
        self->report_timer = zloop_timer(self->loop, 1, 1, s_on_report_timer, self);
}

/*  ---- which MR replica ---------------------------------------------------- */

/*  An answer from the MR is due from now on: its silence counts. */
static void s_mr_expect(self_t *self)
{
    if (!self->mr_waiting_us)
        self->mr_waiting_us = vl_now_us();
}

/*  The DEALER goes from `from` to the current endpoint of mrconn, which
    hears HELLO and then a complete REPORT. */
static void s_mr_switch(self_t *self, const char *from, const char *why)
{
    const char *to = vl_mrconn_current(self->mrconn);
    vl_log(LOG_NOTICE, "sn=%u: the MR at %s %s; talking to %s now", self->sn_id, from, why, to);
    zsock_disconnect(self->mr, "%s", from);
    if (zsock_connect(self->mr, "%s", to) != 0)
        vl_log(LOG_WARNING,
               "sn=%u: cannot connect to the MR at %s (%s); the next one is tried in %lld ms",
               self->sn_id, to, zmq_strerror(zmq_errno()), S_MR_SILENT_US / 1000);
    int64_t now = vl_now_us();
    self->mr_switch_seq = self->hello_seq;
    self->mr_switched_us = now;
    self->mr_heard_us = now;
    self->mr_waiting_us = 0;
    vl_sn_meta_hello(self);
    vl_sn_meta_report_soon(self);
}

/*  Follows the last refusal: to the leader it named, else to the next
    replica (a list of one stays where it is: its refusals go on until
    it knows a leader). */
static void s_mr_move(self_t *self)
{
    char from[VL_WIRE_MAX_ADDR + 1], why[VL_WIRE_MAX_ADDR + 64];
    snprintf(from, sizeof from, "%s", vl_mrconn_current(self->mrconn));
    int dropped = self->mr_dropped;
    self->mr_move = false;
    self->mr_dropped = 0;
    self->mr_hinted = vl_mrconn_hint(self->mrconn, self->mr_hint);
    if (self->mr_hinted)
        snprintf(why, sizeof why, "is not the leader and names %s", self->mr_hint);
    else if (!vl_mrconn_next(self->mrconn))
        return;
    else if (dropped)
        snprintf(why, sizeof why, "%s",
                 dropped == 2 ? "refused the connection (not running?)"
                              : "closed the connection (its process ended?)");
    else if (self->mr_hint[0] && vl_mrconn_is_gone(self->mrconn, self->mr_hint))
        snprintf(why, sizeof why, "is not the leader and names %s, whose connection dropped",
                 self->mr_hint);
    else
        snprintf(why, sizeof why, "is not the leader and knows none");
    s_mr_switch(self, from, why);
}

/*  A VL_ENOTLEADER answer: moves now, or at the tick when the last move
    is too recent (replicas naming each other during an election must not
    make the node spin), unless it follows a first hint. */
static void s_mr_refused(self_t *self, vl_rbuf_t *body)
{
    vl_notleader_t nl;
    if (vl_notleader_decode(body, &nl) != 0)
        nl.leader[0] = '\0';
    snprintf(self->mr_hint, sizeof self->mr_hint, "%s", nl.leader);
    self->mr_move = true;
    self->mr_dropped = 0;
    bool first_hint =
        nl.leader[0] && !self->mr_hinted && !vl_mrconn_is_gone(self->mrconn, nl.leader);
    if (first_hint || vl_now_us() - self->mr_switched_us >= VL_MRCONN_PAUSE_MS * 1000ll)
        s_mr_move(self);
}

/*  The connection to endpoint dropped, or could not be made (refused:
    nothing listens there). When it is the replica the node talks to
    (not one it left) and there is another, the node moves on now rather
    than after S_MR_SILENT_US of silence: a replica killed leaves no
    silence to wait for, its kernel closes the connection at once, and
    refuses the next ones while the rotation comes back to it. At most
    once per VL_MRCONN_PAUSE_MS, like a refusal, so that replicas dropping
    connection after connection cannot make the node spin; and a refused
    connection moves it only to a replica not gone itself: when the whole
    group is down (or not up yet) the node stays, and silence moves it on
    at its pace. With one endpoint ZeroMQ reconnects by itself, as it
    did. */
static void s_mr_dropped(self_t *self, const char *endpoint, bool refused)
{
    if (!endpoint || !streq(endpoint, vl_mrconn_current(self->mrconn)))
        return;
    vl_mrconn_gone(self->mrconn, endpoint);
    if (!vl_mrconn_can_rotate(self->mrconn) || (refused && vl_mrconn_others_gone(self->mrconn)))
        return;
    self->mr_hint[0] = '\0';
    self->mr_hinted = false; /* the next replica's first hint is followed at once */
    self->mr_move = true;
    self->mr_dropped = refused ? 2 : 1;
    if (vl_now_us() - self->mr_switched_us >= VL_MRCONN_PAUSE_MS * 1000ll)
        s_mr_move(self);
}

void vl_sn_meta_tick(self_t *self)
{
    int64_t now = vl_now_us();
    if (self->mr_move) {
        if (now - self->mr_switched_us >= VL_MRCONN_PAUSE_MS * 1000ll)
            s_mr_move(self);
        return;
    }
    /* with one endpoint nothing moves, but the probe goes on: SN_STATUS
       says how long the MR has been silent (a node cut off from it) */
    if (vl_mrconn_can_rotate(self->mrconn) && self->mr_waiting_us &&
        now - self->mr_heard_us >= S_MR_SILENT_US && now - self->mr_waiting_us >= S_MR_ANSWER_US) {
        char from[VL_WIRE_MAX_ADDR + 1], why[64];
        snprintf(from, sizeof from, "%s", vl_mrconn_current(self->mrconn));
        snprintf(why, sizeof why, "has been silent for %lld ms",
                 (long long)(now - self->mr_heard_us) / 1000);
        vl_mrconn_next(self->mrconn);
        self->mr_hinted = false;
        s_mr_switch(self, from, why);
    } else if (now - self->mr_heard_us >= S_MR_PROBE_US &&
               now - self->mr_probed_us >= S_MR_PROBE_US) {
        /* again every S_MR_PROBE_US while unanswered: a PING queued for a
           connection that went (one endpoint, restarted) gets no answer */
        self->mr_probed_us = now;
        s_mr_expect(self);
        vl_hdr_t h = {.type = VL_MSG_PING,
                      .request_id = ++self->hello_seq,
                      .cluster_id = self->cfg->cluster_id};
        zmsg_t *msg = vl_wire_msg(&h, NULL);
        if (zmsg_send(&msg, self->mr) != 0)
            zmsg_destroy(&msg);
    }
}

/*  ---- hello and metadata ------------------------------------------------- */

void vl_sn_meta_hello(self_t *self)
{
    /* the MR forgets what this node reported when it hears HELLO */
    self->report_full = true;
    s_mr_expect(self);
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", self->args->advertise);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    vl_hdr_t h = {
        .type = VL_MSG_HELLO, .request_id = ++self->hello_seq, .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn: HELLO not sent (MR unreachable): %s", zmq_strerror(zmq_errno()));
    }
    vl_wbuf_free(&b);
}

/*  Asks the MR for the metadata now: HELLO while unregistered (its reply
    carries the META), GET_META after. At most every S_META_ASK_US. */
void vl_sn_meta_ask(self_t *self)
{
    int64_t now = vl_now_us();
    if (now - self->meta_asked_us < S_META_ASK_US)
        return;
    self->meta_asked_us = now;
    if (!self->sn_id) {
        vl_sn_meta_hello(self);
        return;
    }
    s_mr_expect(self);
    vl_hdr_t h = {.type = VL_MSG_GET_META,
                  .request_id = ++self->hello_seq,
                  .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, NULL);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn=%u: GET_META not sent (MR unreachable)", self->sn_id);
    }
}

/*  ---- fencing ----------------------------------------------------------- */

/*  Notes a message of the MR that was ignored (what, of term and version)
    and why; one log line a second at most, with the number ignored since
    the last one. */
static void s_fence_log(self_t *self, const char *what, uint64_t term, uint64_t version,
                        const char *why)
{
    self->fence_ignored++;
    int64_t now = vl_now_us();
    if (now - self->fence_log_us < 1000000)
        return;
    vl_log(LOG_INFO,
           "sn=%u: %s of MR term %" PRIu64 " version %" PRIu64 " ignored: %s (%" PRIu64
           " ignored since the last such line)",
           self->sn_id, what, term, version, why, self->fence_ignored);
    self->fence_log_us = now;
    self->fence_ignored = 0;
}

/*  The terms of the MR's leaders never go down, and at most one replica
    leads in a term: a message of an older term than one heard is from a
    deposed leader (queued, or sent before it noticed the new term), and
    the new leader has everything it may say that is still true. */
bool vl_sn_meta_fenced(self_t *self, const char *what, uint64_t term, uint64_t version)
{
    if (term < self->mr_term) {
        char why[192];
        snprintf(why, sizeof why,
                 "the MR leader of term %" PRIu64
                 " was heard since (a deposed leader's; if every one is ignored, the MR group "
                 "was re-created: restart this node)",
                 self->mr_term);
        s_fence_log(self, what, term, version, why);
        return true;
    }
    if (term > self->mr_term) {
        vl_log(LOG_INFO, "sn=%u: the MR leader's term is %" PRIu64 " (was %" PRIu64 ")",
               self->sn_id, term, self->mr_term);
        self->mr_term = term;
    }
    return false;
}

/*  ---- META --------------------------------------------------------------- */

/*  Applies what META says of log stream ls of topic, when this node holds
    a replica of it: places it here, sets its state (seal, unseal), trim
    point and replica set, and restarts its streams in a new epoch. */
static void s_apply_ls(self_t *self, const vl_meta_topic_t *topic, const vl_meta_ls_t *ls)
{
    if (ls->state == VL_LS_DELETED)
        return;
    bool mine = false;
    for (uint32_t k = 0; k < ls->nrep; k++)
        if (ls->replicas[k] == self->sn_id)
            mine = true;
    if (!mine)
        return;
    s_replica_t *rep = s_replica(self, ls->id);
    if (rep && rep->topic_id != topic->id) {
        /* The id now names a log stream of another topic: what is
           stored under it is stale. */
        vl_sn_replica_drop(self, rep, VL_ENOLS, "log stream was recreated", true);
        rep = NULL;
    }
    if (!rep) {
        rep = vl_sn_replica_new(self, topic->id, ls->id);
        vl_log(LOG_INFO, "sn=%u ls=%u topic=%s: now hosted here", self->sn_id, ls->id, topic->name);
    }
    rep->seen = true;
    rep->confirmed = true;
    if (rep->ls_state == VL_LS_RUNNING && ls->state != VL_LS_RUNNING)
        vl_metric_inc(self->m_seals);
    if (rep->ls_state != ls->state)
        vl_log(LOG_INFO, "sn=%u ls=%u: %s -> %s", self->sn_id, ls->id,
               vl_sn_state_name(rep->ls_state), vl_sn_state_name(ls->state));
    bool new_epoch = rep->ls_epoch != ls->epoch;
    if (new_epoch)
        /* a seal or an unseal: the MR forgot the state this
           replica reported, even when it reads the same again */
        rep->reported = false;
    rep->ls_epoch = ls->epoch;
    rep->ls_state = ls->state;
    if (ls->state == VL_LS_RUNNING)
        rep->nsyncs = 0; /* unsealed: every replica is in line */
    else
        vl_sn_replica_seal(self, rep, ls->committed_llsn_end, ls->committed_bytes);
    rep->nrep = ls->nrep;
    memcpy(rep->replicas, ls->replicas, sizeof rep->replicas);
    rep->primary = ls->nrep > 0 && ls->replicas[0] == self->sn_id;
    rep->trim_offset = topic->trim_offset;
    if (topic->trim_glsn > s_trim_point(rep)) {
        rep->q.trim_glsn = topic->trim_glsn;
        vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_TRIM, rep->topic_id, rep->ls_id);
        job->trim_glsn = topic->trim_glsn;
        /* d, not q: a commit still queued may land in the same
           writer batch as this trim, which reads only the store
           and so misses it; its completion (d.hwm past trim_hwm)
           trims again. */
        rep->trim_hwm = rep->d.hwm;
        vl_sn_submit(self, job);
        vl_sn_sub_pump_all(self, rep);
    }
    vl_sn_repl_setup(self, rep);
    if (new_epoch) {
        /* Streams start again in the new epoch; on a seal the
           batches queued to the peers are dropped too. */
        uint32_t nb = rep->primary ? rep->nbackups : 0;
        for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
            s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
            if (b->peer && ls->state != VL_LS_RUNNING)
                b->peer->reset = true;
            else
                vl_sn_repl_probe(self, rep, b);
        }
    }
}

static void s_apply_meta(self_t *self, vl_meta_t *meta)
{
    if (vl_sn_meta_fenced(self, "META", meta->term, meta->version)) {
        vl_meta_free(meta);
        return;
    }
    if (self->have_meta && vl_meta_older(meta, self->meta.term, self->meta_version)) {
        char why[128];
        snprintf(why, sizeof why, "META version %" PRIu64 " of term %" PRIu64 " is applied already",
                 self->meta_version, self->meta.term);
        s_fence_log(self, "META", meta->term, meta->version, why);
        vl_meta_free(meta);
        return;
    }
    /* MR replicas --mr did not name: rotate to them too */
    vl_mrconn_learn(self->mrconn, meta->members, meta->nmembers);
    vl_meta_free(&self->meta);
    self->meta = *meta; /* take it */
    memset(meta, 0, sizeof *meta);
    self->meta_version = self->meta.version;
    self->have_meta = true;

    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas))
        rep->seen = false;
    for (uint32_t t = 0; t < self->meta.ntopics; t++) {
        const vl_meta_topic_t *topic = &self->meta.topics[t];
        for (uint32_t l = 0; l < topic->nls; l++)
            s_apply_ls(self, topic, &topic->ls[l]);
    }
    for (s_peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers))
        if (peer->reset) {
            peer->reset = false;
            vl_sn_repl_peer_reset(self, peer);
        }
    /* Replicas the cluster no longer places here. */
    zlistx_t *gone = zlistx_new();
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas))
        if (!rep->seen)
            zlistx_add_end(gone, rep);
    for (s_replica_t *rep = zlistx_first(gone); rep; rep = zlistx_next(gone))
        vl_sn_replica_drop(self, rep, VL_ENOLS, "log stream no longer in the metadata", true);
    zlistx_destroy(&gone);
    vl_sn_meta_report_soon(self);
    vl_sn_unpark(self, true);
}

/*  The MR's answer to HELLO: this node's id (0: not registered) and META.
    The META is applied unless it is older than the one applied: after a
    move to a new leader, it brings what the node missed meanwhile (a new
    leader pushes no META until a metadata change). A deposed leader's
    answer is ignored whole. */
static void s_on_hello_reply(self_t *self, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_meta_t meta;
    if (hdr->status) {
        char text[512];
        vl_wire_errtext(body, text, sizeof text);
        vl_log(LOG_WARNING, "sn: the MR refused HELLO: %s (%s); retrying", text,
               vl_err_name((int)hdr->status));
    } else if (vl_meta_decode(body, &meta) != 0) {
        vl_log(LOG_WARNING, "sn: malformed HELLO reply from the MR ignored");
    } else if (vl_sn_meta_fenced(self, "HELLO reply", meta.term, meta.version)) {
        vl_meta_free(&meta);
    } else if (meta.sn_id == 0) {
        int64_t now = vl_now_us();
        if (now - self->last_unregistered_log_us > 30 * 1000000ll) {
            self->last_unregistered_log_us = now;
            vl_log(LOG_NOTICE,
                   "sn: %s is not registered with the MR yet; register it with "
                   "'varlogctl sn add %s'",
                   self->args->advertise, self->args->advertise);
        }
        vl_meta_free(&meta);
    } else if (!self->sn_id || self->sn_id != meta.sn_id) {
        self->sn_id = meta.sn_id;
        vl_log(LOG_NOTICE, "sn=%u: registered with the MR as %s", self->sn_id,
               self->args->advertise);
        self->have_meta = false;
        s_apply_meta(self, &meta);
    } else
        s_apply_meta(self, &meta);
}

int vl_sn_meta_on_mr(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    for (int i = 0; i < S_MAX_BURST && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        self->mr_heard_us = self->mr_word_us = vl_now_us();
        self->mr_waiting_us = 0;
        vl_hdr_t hdr;
        vl_rbuf_t body;
        int rc = vl_wire_parse(msg, &hdr, &body);
        if (rc) {
            vl_log(LOG_WARNING, "sn=%u: malformed message from the MR ignored (%s)", self->sn_id,
                   vl_err_name(rc));
        } else if (hdr.cluster_id != self->cfg->cluster_id) {
            vl_log(LOG_WARNING,
                   "sn=%u: %s from an MR of cluster %u ignored; this SN is in cluster %u "
                   "(check --mr and --cluster-id)",
                   self->sn_id, vl_wire_type_name(hdr.type), hdr.cluster_id, self->cfg->cluster_id);
        } else if ((hdr.type & VL_MSG_REPLY) && hdr.status == VL_ENOTLEADER) {
            /* a refusal of a request sent before the last move came from
               the replica left behind: old news */
            if (hdr.request_id > self->mr_switch_seq)
                s_mr_refused(self, &body);
        } else if (hdr.type == (VL_MSG_PING | VL_MSG_REPLY)) {
            /* the answer to a probe: the MR is there */
        } else if (hdr.type == (VL_MSG_HELLO | VL_MSG_REPLY)) {
            s_on_hello_reply(self, &hdr, &body);
        } else if (hdr.type == VL_MSG_META ||
                   (hdr.type == (VL_MSG_GET_META | VL_MSG_REPLY) && hdr.status == 0)) {
            vl_meta_t meta;
            if (vl_meta_decode(&body, &meta) != 0)
                vl_log(LOG_WARNING, "sn=%u: malformed META from the MR ignored", self->sn_id);
            else if (!self->sn_id)
                vl_meta_free(&meta); /* not registered: HELLO brings the META */
            else
                s_apply_meta(self, &meta);
        } else if (hdr.type == VL_MSG_COMMIT) {
            if (self->sn_id)
                vl_sn_replica_on_commit(self, &body);
        } else if (hdr.type == (VL_MSG_REPORT | VL_MSG_REPLY) && hdr.status) {
            /* The MR takes REPORTs only from the connection that said
               HELLO (a reconnect changes it): say HELLO again. */
            int64_t now = vl_now_us();
            if (now - self->meta_asked_us >= S_META_ASK_US) {
                char text[512];
                vl_wire_errtext(&body, text, sizeof text);
                vl_log(LOG_INFO, "sn=%u: the MR refused a REPORT: %s; saying HELLO", self->sn_id,
                       text);
                self->meta_asked_us = now;
                vl_sn_meta_hello(self);
            }
        } else {
            vl_log(LOG_DEBUG, "sn=%u: %s from the MR ignored", self->sn_id,
                   vl_wire_type_name(hdr.type));
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

/*  Events of the DEALER to the MR: a new connection may reach a new MR
    process, which knows nothing of this node's replicas until it hears
    them (an MR that did not restart asks for HELLO itself, VL_ENOSN); a
    dropped or refused one may be a dead replica, left at once
    (s_mr_dropped). */
int vl_sn_meta_on_monitor(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return 0;
    char *event = zmsg_popstr(msg), *value = zmsg_popstr(msg), *endpoint = zmsg_popstr(msg);
    if (event && streq(event, "CONNECTED")) {
        vl_log(LOG_INFO, "sn=%u: connected to the MR at %s; the next REPORT is complete",
               self->sn_id, endpoint ? endpoint : "?");
        self->report_full = true;
        vl_sn_meta_report_soon(self);
    } else if (event && (streq(event, "DISCONNECTED") || streq(event, "CONNECT_RETRIED")))
        s_mr_dropped(self, endpoint, streq(event, "CONNECT_RETRIED"));
    free(event);
    free(value);
    free(endpoint);
    zmsg_destroy(&msg);
    return 0;
}
