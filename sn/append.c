/*  append.c - APPEND on the primary, and BATCH_STATUS.

    An APPEND takes its LLSNs from the queued view (q) and becomes a WRITE
    job; it waits in its replica's list of appends, in LLSN order, until
    the commits cover it (vl_sn_append_commit), a seal cuts it or it times
    out (S_APPEND_TIMEOUT_US, server.c's tick). Its batch name, when the
    client gave one, is stored with the entries, so that BATCH_STATUS can
    later say what became of a batch whose answer was lost.

    Idempotent appends: a client resends a batch under the same name when
    its answer was lost. The primary remembers the names of the log
    stream's last VL_BIDMAP_KEEP batches (rep->bids, rebuilt from the
    store's names when the log stream runs in a new epoch or the node
    restarted), and an APPEND whose name is there is not appended again:
    answered with the batch's GLSNs when it is committed, joined to the
    waiting append while it is not (the answer goes to the resend), or,
    when the batch was written in an earlier life of the node and is not
    yet all committed, waited for like a new append.
*/

#include <inttypes.h>
#include <string.h>
#include "log.h"
#include "sn_i.h"
#include "util.h"

static const char *s_sn_addr(self_t *self, uint32_t sn_id)
{
    const vl_meta_sn_t *sn = self->have_meta ? vl_meta_sn_by_id(&self->meta, sn_id) : NULL;
    return sn ? sn->addr : "unknown address";
}

void vl_sn_append_free(s_append_t **a_p)
{
    s_append_t *a = *a_p;
    if (!a)
        return;
    zframe_destroy(&a->rid);
    free(a->runs);
    free(a);
    *a_p = NULL;
}

static void s_append_reply(self_t *self, s_replica_t *rep, s_append_t *a)
{
    vl_append_reply_t r = {.llsn_begin = a->llsn_begin, .nruns = a->nruns, .runs = a->runs};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_reply_encode(&r, &b);
    vl_sn_reply_body(self, a->rid, &a->req, &b, NULL);
    vl_wbuf_free(&b);
}

/*  The answer to an append cut by a seal: VL_ESEALED, the message, then
    the GLSN runs of its committed head (an append reply body after the
    error string), so the client retries only the rest. */
static void s_append_reply_sealed(self_t *self, s_replica_t *rep, s_append_t *a)
{
    char text[400];
    snprintf(text, sizeof text,
             "APPEND ls=%u: the log stream was sealed at llsn=%" PRIu64 "; the first %u of the "
             "batch's %u entries are committed (their GLSNs follow), the other %u are not in the "
             "log: append them to another log stream",
             rep->ls_id, rep->sealed_end, a->covered, a->n, a->n - a->covered);
    vl_log(LOG_INFO, "sn=%u: %s", self->sn_id, text);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_str(&b, text);
    vl_append_reply_t r = {.llsn_begin = a->llsn_begin, .nruns = a->nruns, .runs = a->runs};
    vl_append_reply_encode(&r, &b);
    vl_hdr_t h = a->req;
    h.type = VL_MSG_APPEND | VL_MSG_REPLY;
    h.status = VL_ESEALED;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    vl_sn_send_to(self, a->rid, &msg);
}

/*  Queues the WRITE job of append p (already in rep->appends): the
    entries of batch a, bytes in all, whose payload frame is taken out of
    msg as it is. */
static void s_append_write(self_t *self, s_replica_t *rep, const s_append_t *p,
                           const vl_append_t *a, uint64_t bytes, zmsg_t *msg, zframe_t *payload)
{
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_WRITE, rep->topic_id, rep->ls_id);
    job->sync = self->cfg->sync;
    job->llsn_begin = p->llsn_begin;
    job->n = a->n;
    job->bytes = bytes;
    job->bytes_before = rep->q.bytes_end;
    job->sizes = vl_malloc(4 * (size_t)a->n);
    memcpy(job->sizes, a->sizes, 4 * (size_t)a->n);
    zmsg_remove(msg, payload); /* the writer and the backups take it as is */
    job->data = payload;
    job->tag = p->seq;
    if (a->client_id != 0 && rep->bids) {
        vl_batch_id_t id = {.llsn_begin = p->llsn_begin,
                            .client_id = a->client_id,
                            .batch_seq = a->batch_seq,
                            .n = a->n};
        vl_bidmap_add(rep->bids, &id);
    }
    if (a->client_id != 0) {
        /* kept with the entries (and sent to the backups), so that the
           client can ask what became of the batch if this answer is lost */
        vl_batch_id_t id = {.llsn_begin = p->llsn_begin,
                            .client_id = a->client_id,
                            .batch_seq = a->batch_seq,
                            .n = a->n};
        job->bids = vl_malloc(VL_WIRE_BID_SIZE);
        vl_wire_bid_put(job->bids, &id);
        job->nbids = 1;
    }
    rep->q.llsn_end += a->n;
    rep->q.bytes_end += bytes;
    rep->writes++;
    vl_sn_submit(self, job);
}

/*  Makes rep->bids hold the names of the log stream's last batches, from
    the store, unless it already does for this epoch. Returns 0 or -1 (the
    store failed). */
static int s_bids_ready(self_t *self, s_replica_t *rep)
{
    if (rep->bids && rep->bids_ready && rep->bids_epoch == rep->ls_epoch)
        return 0;
    if (!rep->bids)
        rep->bids = vl_bidmap_new(VL_BIDMAP_KEEP);
    vl_bidmap_clear(rep->bids);
    vl_batch_id_t *ids;
    uint32_t n;
    /* only what this epoch's log holds: past the end, names of a
       discarded suffix may wait for their TRUNCATE */
    if (vl_store_last_bids(self->store, rep->ls_id, rep->q.llsn_end, VL_BIDMAP_KEEP, &ids, &n) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        vl_bidmap_entry_t *e = vl_bidmap_add(rep->bids, &ids[i]);
        /* a batch a seal cut: its tail was discarded, and the LLSNs past
           the end will hold other batches in this epoch */
        if (ids[i].llsn_begin + ids[i].n - 1 > rep->q.llsn_end)
            e->cut = (uint32_t)(rep->q.llsn_end - ids[i].llsn_begin + 1);
    }
    free(ids);
    rep->bids_ready = true;
    rep->bids_epoch = rep->ls_epoch;
    vl_log(LOG_INFO, "sn=%u ls=%u: %u batch names loaded for resent appends (epoch %u)",
           self->sn_id, rep->ls_id, n, rep->ls_epoch);
    return 0;
}

static int s_append_cmp(const void *x, const void *y)
{
    const s_append_t *a = x, *b = y;
    return a->llsn_begin < b->llsn_begin ? -1 : a->llsn_begin > b->llsn_begin;
}

/*  Inserts p into rep->appends at its place in LLSN order. */
static void s_append_insert(s_replica_t *rep, s_append_t *p)
{
    zlistx_set_comparator(rep->appends, s_append_cmp);
    zlistx_insert(rep->appends, p, false);
}

/*  The batch of entry e, written here before (an earlier life of the
    node, or an answer that timed out) and not in rep->appends: answered
    when the store says it is all committed, else waited for like a new
    append. */
static void s_dedupe_stored(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                            vl_bidmap_entry_t *e)
{
    uint64_t last = e->id.llsn_begin + e->id.n - 1;
    if (last > rep->d.applied_llsn_end && rep->q.applied_llsn_end > rep->d.applied_llsn_end) {
        /* its commits may be queued for the store, past what a commit
           range reaching an append would add: ask for a resend */
        vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                          "APPEND ls=%u: batch %" PRIx64 "/%" PRIu64 " is held at llsn=%" PRIu64
                          " and its commits are being stored; nothing was written again, "
                          "resend it under the same name",
                          rep->ls_id, e->id.client_id, e->id.batch_seq, e->id.llsn_begin);
        return;
    }
    s_append_t *p = vl_calloc(1, sizeof *p);
    uint64_t covered = 0;
    if (vl_store_llsn_runs(self->store, rep->ls_id, e->id.llsn_begin, e->id.n, &p->runs, &p->nruns,
                           &covered) != 0) {
        vl_sn_append_free(&p);
        vl_sn_reply_error(self, rid, hdr, VL_ESTORE,
                          "APPEND ls=%u: cannot read the store of sn=%u: %s; nothing was "
                          "written, resend it under the same name (and check this node's disk)",
                          rep->ls_id, self->sn_id, vl_store_errmsg());
        return;
    }
    p->rid = zframe_dup(rid);
    p->req = *hdr;
    p->llsn_begin = e->id.llsn_begin;
    p->n = e->id.n;
    p->covered = (uint32_t)covered;
    p->cap_runs = p->nruns;
    p->since_us = vl_now_us();
    p->seq = ++self->append_seq;
    p->client_id = e->id.client_id;
    p->batch_seq = e->id.batch_seq;
    if (covered >= p->n) {
        s_append_reply(self, rep, p);
        vl_bidmap_set_runs(e, p->runs, p->nruns);
        p->runs = NULL;
        vl_sn_append_free(&p);
        return;
    }
    s_append_insert(rep, p);
}

/*  An APPEND named a (client id, batch seq) the primary holds: the batch
    is not appended again. Returns true when the APPEND was handled so. */
static bool s_append_dedupe(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                            const vl_append_t *a)
{
    if (a->client_id == 0 || a->n == 0)
        return false;
    if (s_bids_ready(self, rep) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_ESTORE,
                          "APPEND ls=%u: cannot read the batch names in the store of sn=%u: %s; "
                          "nothing was written, retry (and check this node's disk)",
                          a->ls_id, self->sn_id, vl_store_errmsg());
        return true;
    }
    vl_bidmap_entry_t *e = vl_bidmap_find(rep->bids, a->client_id, a->batch_seq);
    if (!e)
        return false;
    vl_log(LOG_INFO,
           "sn=%u ls=%u: batch %" PRIx64 "/%" PRIu64 " resent; it is held at llsn=%" PRIu64
           " (%u entries%s), not appended again",
           self->sn_id, rep->ls_id, a->client_id, a->batch_seq, e->id.llsn_begin, e->id.n,
           e->runs ? ", committed" : "");
    if (e->id.n < a->n && !e->cut)
        /* the name was cut down to the entries a seal kept
           (vl_store_batch_truncate): the batch a seal cut */
        e->cut = e->id.n;
    else if (e->id.n != a->n) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "APPEND ls=%u: batch %" PRIx64 "/%" PRIu64 " was appended with %u "
                          "entries and is sent again with %u; a batch name names one batch; "
                          "nothing was written",
                          a->ls_id, a->client_id, a->batch_seq, e->id.n, a->n);
        return true;
    }
    if (e->cut) {
        /* only its head is in the log: what a seal's answer says */
        vl_sn_reply_error(self, rid, hdr, VL_ESEALED,
                          "APPEND ls=%u: batch %" PRIx64 "/%" PRIu64 " was cut by a seal: only "
                          "its first %u of %u entries are in the log; nothing was written "
                          "again: ask BATCH_STATUS",
                          a->ls_id, a->client_id, a->batch_seq, e->cut, a->n);
        return true;
    }
    if (e->runs) { /* committed and answered: the answer again */
        vl_append_reply_t r = {.llsn_begin = e->id.llsn_begin, .nruns = e->nruns, .runs = e->runs};
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_append_reply_encode(&r, &b);
        vl_sn_reply_body(self, rid, hdr, &b, NULL);
        vl_wbuf_free(&b);
        return true;
    }
    for (s_append_t *p = zlistx_first(rep->appends); p; p = zlistx_next(rep->appends))
        if (p->llsn_begin == e->id.llsn_begin) {
            /* still waiting for its commit: the answer goes to the resend
               (the first sender gave up on it) */
            zframe_destroy(&p->rid);
            p->rid = zframe_dup(rid);
            p->req = *hdr;
            return true;
        }
    s_dedupe_stored(self, rep, rid, hdr, e);
    return true;
}

void vl_sn_append_on_append(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                            zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    vl_append_t a;
    if (vl_append_decode(body, false, &a) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "APPEND: malformed body; expected topic id, ls id and entry count");
        return;
    }
    char why[160];
    zframe_t *payload;
    /* one pass over the sizes: their sum, and the first one too big */
    uint64_t bytes = 0;
    uint32_t big = a.n;
    for (uint32_t i = 0; i < a.n; i++) {
        uint32_t size = vl_wire_size(a.sizes, i);
        bytes += size;
        if (size > self->cfg->max_entry_size && big == a.n)
            big = i;
    }
    if (vl_wire_payload(msg, a.n, bytes, &payload, why, sizeof why)) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO, "APPEND ls=%u: %s; nothing was written",
                          a.ls_id, why);
        return;
    }
    s_replica_t *rep = s_hosted(self, a.ls_id);
    if (!rep) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "APPEND: storage node %s (sn=%u) does not host ls=%u; refresh the "
                          "metadata",
                          self->args->advertise, self->sn_id, a.ls_id);
        return;
    }
    if (rep->topic_id != a.topic_id) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "APPEND: ls=%u belongs to topic=%u, not topic=%u; refresh the metadata",
                          a.ls_id, rep->topic_id, a.topic_id);
        return;
    }
    if (!rep->primary) {
        uint32_t primary = rep->nrep ? rep->replicas[0] : 0;
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "APPEND: sn=%u is a backup of ls=%u; append to its primary sn=%u (%s)",
                          self->sn_id, a.ls_id, primary, s_sn_addr(self, primary));
        return;
    }
    if (rep->ls_state != VL_LS_RUNNING) {
        vl_sn_reply_error(self, rid, hdr, VL_ESEALED,
                          "APPEND: ls=%u is %s; append to another log stream of the topic", a.ls_id,
                          vl_sn_state_name(rep->ls_state));
        return;
    }
    if (a.epoch != rep->ls_epoch) {
        /* sent before a seal and unseal (queued in a socket while a link
           was down, say): its client may have been told that it is not in
           the log (BATCH_STATUS), and sent it elsewhere */
        if (a.epoch > rep->ls_epoch)
            vl_sn_meta_ask(self);
        vl_sn_reply_error(self, rid, hdr, VL_ESEALED,
                          "APPEND ls=%u: the batch was sent for epoch %u of the log stream and "
                          "sn=%u is in epoch %u (sealed or unsealed since); nothing of it was "
                          "written: refresh the metadata and append it again",
                          a.ls_id, a.epoch, self->sn_id, rep->ls_epoch);
        return;
    }
    if (rep->write_broken) {
        vl_sn_reply_error(
            self, rid, hdr, VL_ESTORE,
            "APPEND ls=%u: a write to the disk of sn=%u failed and the appends queued "
            "behind it are being failed; nothing was written, retry (and check the "
            "storage node's log and disk)",
            a.ls_id, self->sn_id);
        return;
    }
    if (s_append_dedupe(self, rep, rid, hdr, &a))
        return;
    if (big < a.n) {
        vl_sn_reply_error(self, rid, hdr, VL_ETOOBIG,
                          "APPEND ls=%u: entry %u of the batch has %zu bytes, more than the "
                          "maximum entry size %" PRIu64 "; nothing was written",
                          a.ls_id, big, (size_t)vl_wire_size(a.sizes, big),
                          self->cfg->max_entry_size);
        return;
    }
    if (self->queued_bytes + bytes > S_QUEUED_BYTES_MAX) {
        vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                          "APPEND ls=%u: %" PRIu64 " bytes are waiting for the disk of sn=%u; "
                          "nothing was written, retry later",
                          a.ls_id, self->queued_bytes, self->sn_id);
        return;
    }
    s_append_t *p = vl_calloc(1, sizeof *p);
    p->rid = zframe_dup(rid);
    p->req = *hdr;
    p->llsn_begin = rep->q.llsn_end + 1;
    p->n = a.n;
    p->since_us = vl_now_us();
    p->seq = ++self->append_seq;
    p->client_id = a.client_id;
    p->batch_seq = a.batch_seq;
    vl_metric_add(rep->m_bytes, bytes);
    if (a.n == 0) {
        s_append_reply(self, rep, p);
        vl_sn_append_free(&p);
        return;
    }
    zlistx_add_end(rep->appends, p);
    s_append_write(self, rep, p, &a, bytes, msg, payload);
}

/*  A commit range reached the replica: adds GLSN runs to the waiting
    appends it covers and answers those that are complete. */
void vl_sn_append_commit(self_t *self, s_replica_t *rep, const vl_commit_item_t *c)
{
    uint64_t lb = c->llsn_begin, le = c->llsn_begin + c->count; /* [lb, le) */
    for (s_append_t *a = zlistx_first(rep->appends); a; a = zlistx_next(rep->appends)) {
        if (a->llsn_begin >= le)
            break;
        /* Commits reach an append in LLSN order, so what it has is a
           prefix: a range seen again (resent after a failed COMMIT job)
           adds only what lies past it. */
        uint64_t ab = a->llsn_begin + a->covered, ae = a->llsn_begin + a->n;
        uint64_t ob = ab > lb ? ab : lb, oe = ae < le ? ae : le;
        if (ob >= oe)
            continue;
        uint64_t glsn = c->glsn_begin + (ob - lb);
        uint32_t cnt = (uint32_t)(oe - ob);
        if (a->nruns && a->runs[a->nruns - 1].glsn_begin + a->runs[a->nruns - 1].count == glsn)
            a->runs[a->nruns - 1].count += cnt;
        else {
            if (a->nruns == a->cap_runs) {
                a->cap_runs = a->cap_runs ? a->cap_runs * 2 : 4;
                a->runs = vl_realloc(a->runs, a->cap_runs * sizeof *a->runs);
            }
            a->runs[a->nruns].glsn_begin = glsn;
            a->runs[a->nruns].count = cnt;
            a->nruns++;
        }
        a->covered += cnt;
    }
    s_append_t *a;
    while ((a = zlistx_first(rep->appends)) &&
           (a->covered >= a->n || (a->cut && a->covered >= a->cut))) {
        zlistx_delete(rep->appends, NULL);
        if (a->covered >= a->n) {
            s_append_reply(self, rep, a);
            /* a resend of it is answered with these GLSNs */
            vl_bidmap_entry_t *e = a->client_id && rep->bids && rep->bids_ready
                                       ? vl_bidmap_find(rep->bids, a->client_id, a->batch_seq)
                                       : NULL;
            if (e && e->id.llsn_begin == a->llsn_begin) {
                vl_bidmap_set_runs(e, a->runs, a->nruns);
                a->runs = NULL;
            }
            vl_metric_add(rep->m_entries, a->n);
            vl_metric_observe_us(rep->m_latency, vl_now_us() - a->since_us);
        } else
            s_append_reply_sealed(self, rep, a);
        vl_sn_append_free(&a);
    }
}

/*  BATCH_STATUS: what became of a client's batch whose APPEND went
    unanswered (DESIGN.md "Client failover"). Read from the store: the
    batch names and commit ranges there are what is durable. */
void vl_sn_append_on_batch_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_batch_status_t q;
    if (vl_batch_status_decode(body, &q) != 0) {
        vl_sn_reply_error(
            self, rid, hdr, VL_EPROTO,
            "BATCH_STATUS: malformed body; expected topic id, ls id, client id, batch "
            "seq and llsn hint");
        return;
    }
    vl_subscribe_t where = {.topic_id = q.topic_id, .ls_id = q.ls_id};
    s_replica_t *rep = vl_sn_replica_for_read(self, rid, hdr, &where, "BATCH_STATUS");
    if (!rep)
        return;
    bool final = false;
    if (rep->ls_state != VL_LS_RUNNING) {
        if (vl_sn_replica_state(rep) != VL_LS_SEALED) {
            vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                              "BATCH_STATUS ls=%u: this replica (sn=%u) holds llsn=%" PRIu64
                              " with commits to %" PRIu64 ", not yet the sealed end %" PRIu64
                              "; ask another replica, or again once it is synced",
                              q.ls_id, self->sn_id, rep->d.llsn_end, rep->d.applied_llsn_end,
                              rep->sealed_end);
            return;
        }
        /* holds exactly the sealed end and its commits: nothing more can
           ever be written to or committed in this log stream's past */
        final = true;
    }
    vl_batch_id_t id = {0};
    bool found = false, complete = true;
    vl_batch_status_reply_t r = {0};
    int rc = vl_store_find_bid(self->store, rep->ls_id, q.client_id, q.batch_seq, q.llsn_hint,
                               rep->d.llsn_end, S_BID_SCAN_MAX, &id, &found, &complete);
    uint64_t covered = 0;
    if (rc == 0 && found) {
        /* a batch cut by a seal keeps only its entries up to the end */
        uint64_t held = rep->d.llsn_end - id.llsn_begin + 1;
        r.n = held < id.n ? (uint32_t)held : id.n;
        r.ar.llsn_begin = id.llsn_begin;
        rc = vl_store_llsn_runs(self->store, rep->ls_id, id.llsn_begin, r.n, &r.ar.runs,
                                &r.ar.nruns, &covered);
    }
    if (rc) {
        vl_sn_reply_error(self, rid, hdr, VL_ESTORE,
                          "BATCH_STATUS ls=%u: cannot read the store of sn=%u: %s; ask another "
                          "replica (and check this node's disk)",
                          q.ls_id, self->sn_id, vl_store_errmsg());
        return;
    }
    if (!found && complete && rep->d.llsn_end > q.llsn_hint) {
        /* Names are held only from the first entry held on: below it they
           were trimmed (or never came, for a replica synced from a base),
           so a batch past the hint but below it may have been committed
           and trimmed: cannot say. */
        uint64_t first = 0;
        bool have = false;
        if (vl_store_first_entry(self->store, rep->ls_id, 1, &first, &have) != 0 || !have ||
            first > q.llsn_hint + 1)
            complete = false;
    }
    if (!found && !complete)
        final = false; /* too far back to look through, or trimmed: cannot say */
    if (final && covered != r.n) {
        /* a sealed replica in line has every commit up to its end */
        vl_log(LOG_ERR,
               "sn=%u ls=%u: batch at llsn=%" PRIu64 " holds %u entries, %" PRIu64
               " of them committed, in a sealed replica",
               self->sn_id, rep->ls_id, id.llsn_begin, r.n, covered);
        final = false;
    }
    r.final = final;
    r.found = found;
    vl_log(LOG_INFO,
           "sn=%u ls=%u: batch %" PRIx64 "/%" PRIu64 " %s%s (%u entries at llsn=%" PRIu64
           ", %" PRIu64 " committed)",
           self->sn_id, rep->ls_id, q.client_id, q.batch_seq, found ? "found" : "not here",
           final ? ", final" : "", r.n, r.ar.llsn_begin, covered);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_reply_encode(&r, &b);
    vl_sn_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
    free(r.ar.runs);
}
