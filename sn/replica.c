/*  replica.c - the replicas this node holds: the table, seal, commit, and
    what the writer reports back.

    After recovery, a replica's durable view (d) changes only in
    vl_sn_replica_job_done, when the writer reports a job: only then do
    REPORTs, backups, subscribers and waiting requests hear of it. A failed
    job puts the replica in a broken state until the jobs queued behind it
    have drained (see write_broken in sn_i.h).
*/

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "log.h"
#include "sn_i.h"
#include "util.h"

/*  ---- replicas ----------------------------------------------------------- */

s_replica_t *vl_sn_replica_new(self_t *self, uint32_t topic_id, uint32_t ls_id)
{
    s_replica_t *rep = vl_calloc(1, sizeof *rep);
    rep->topic_id = topic_id;
    rep->ls_id = ls_id;
    rep->q.topic_id = rep->d.topic_id = topic_id;
    rep->q.ls_id = rep->d.ls_id = ls_id;
    rep->appends = zlistx_new();
    rep->subs = zlistx_new();
    rep->lookups = zlistx_new();
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    zhashx_insert(self->replicas, key, rep);
    vl_sn_stats_replica(self, rep);
    return rep;
}

/*  Removes the replica from memory: waiting appends and subscriptions get
    status (with why), and when delete_data its data goes in the background. */
void vl_sn_replica_drop(self_t *self, s_replica_t *rep, int status, const char *why,
                        bool delete_data)
{
    s_append_t *a;
    while ((a = zlistx_first(rep->appends))) {
        zlistx_delete(rep->appends, NULL);
        vl_sn_reply_error(self, a->rid, &a->req, status, "APPEND ls=%u llsn=%" PRIu64 ": %s",
                          rep->ls_id, a->llsn_begin, why);
        vl_sn_append_free(&a);
    }
    s_sub_t *sub;
    while ((sub = zlistx_first(rep->subs))) {
        vl_sn_reply_error(self, sub->rid, &sub->req, status, "SUBSCRIBE ls=%u: %s", rep->ls_id,
                          why);
        vl_sn_sub_remove(self, sub);
    }
    s_lookup_t *l;
    while ((l = zlistx_first(rep->lookups))) {
        zlistx_delete(rep->lookups, NULL);
        vl_sn_reply_error(self, l->rid, &l->req, status, "LOOKUP ls=%u: %s", rep->ls_id, why);
        vl_sn_sub_lookup_free(&l);
    }
    if (delete_data) {
        vl_log(LOG_NOTICE, "sn=%u ls=%u topic=%u: %s; deleting its data", self->sn_id, rep->ls_id,
               rep->topic_id, why);
        vl_sn_submit(self, vl_writer_job_new(VL_WRITER_DELETE, rep->topic_id, rep->ls_id));
    }
    char key[16];
    snprintf(key, sizeof key, "%u", rep->ls_id);
    zhashx_delete(self->replicas, key); /* its destructor frees rep */
}

s_replica_t *vl_sn_replica_for_read(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                    const vl_subscribe_t *s, const char *what)
{
    s_replica_t *rep = s_hosted(self, s->ls_id);
    if (!rep) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "%s: storage node %s (sn=%u) does not host ls=%u; refresh the metadata",
                          what, self->args->advertise, self->sn_id, s->ls_id);
        return NULL;
    }
    if (rep->topic_id != s->topic_id) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "%s: ls=%u belongs to topic=%u, not topic=%u; refresh the metadata", what,
                          s->ls_id, rep->topic_id, s->topic_id);
        return NULL;
    }
    return rep;
}

/*  ---- seal --------------------------------------------------------------- */

/*  The log stream is sealed at LLSN x (its committed end, bytes xbytes):
    appends past x fail now (they can never commit), an append straddling x
    is answered once its committed head is known, the uncommitted suffix is
    discarded through the writer (so it can never be committed later), and
    replication streams stop at x. Idempotent: a META repeats the seal. */
void vl_sn_replica_seal(self_t *self, s_replica_t *rep, uint64_t x, uint64_t xbytes)
{
    bool first = rep->sealed_end != x || rep->q.llsn_end > x;
    rep->sealed_end = x;
    rep->sealed_bytes = xbytes;
    s_append_t *a = zlistx_first(rep->appends);
    while (a) {
        if (a->llsn_begin > x) {
            zlistx_delete(rep->appends, zlistx_cursor(rep->appends));
            vl_sn_reply_error(self, a->rid, &a->req, VL_ESEALED,
                              "APPEND ls=%u: the log stream was sealed at llsn=%" PRIu64
                              " before the batch (llsn %" PRIu64 "..) was committed; nothing of it "
                              "is in the log: append it to another log stream",
                              rep->ls_id, x, a->llsn_begin);
            vl_sn_append_free(&a);
            a = zlistx_first(rep->appends); /* delete resets the cursor */
            continue;
        }
        if (a->llsn_begin + a->n - 1 > x)
            a->cut = (uint32_t)(x - a->llsn_begin + 1);
        a = zlistx_next(rep->appends);
    }
    /* a straddling append whose head was committed already */
    vl_commit_item_t none = {.llsn_begin = x + 1};
    vl_sn_append_commit(self, rep, &none);
    if (rep->q.llsn_end > x) {
        vl_log(LOG_NOTICE,
               "sn=%u ls=%u: sealed at llsn=%" PRIu64 "; discarding uncommitted llsn %" PRIu64
               "..%" PRIu64,
               self->sn_id, rep->ls_id, x, x + 1, rep->q.llsn_end);
        vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_TRUNCATE, rep->topic_id, rep->ls_id);
        job->llsn_end = x;
        job->bytes_end = xbytes;
        rep->q.llsn_end = x;
        rep->q.bytes_end = xbytes;
        rep->truncating++;
        vl_sn_submit(self, job);
    } else if (first) {
        vl_log(LOG_NOTICE,
               "sn=%u ls=%u: sealed at llsn=%" PRIu64 "; this replica holds %" PRIu64 "%s",
               self->sn_id, rep->ls_id, x, rep->q.llsn_end,
               rep->q.llsn_end < x ? " (behind: it needs a sync)" : "");
    }
    /* streams that ran past x restart from x (the backups discard too) */
    for (uint32_t i = 0; i < rep->nbackups; i++) {
        s_backup_t *b = &rep->backups[i];
        if (b->sent > x) {
            b->sent = x;
            b->sent_bytes = xbytes;
            b->epoch = b->seq;
            b->inflight = 0;
        }
    }
}

/*  The replica's own state for SN_STATUS and reports: in line with the
    sealed end (SEALED) or not yet (SEALING). */
uint8_t vl_sn_replica_state(const s_replica_t *rep)
{
    if (rep->ls_state == VL_LS_RUNNING)
        return VL_LS_RUNNING;
    if (!rep->truncating && rep->d.llsn_end == rep->sealed_end &&
        rep->d.applied_llsn_end == rep->sealed_end)
        return VL_LS_SEALED;
    return VL_LS_SEALING;
}

/*  ---- commit ------------------------------------------------------------- */

static void s_apply_commit(self_t *self, s_replica_t *rep, uint64_t version,
                           const vl_commit_item_t *c)
{
    if (c->count == 0 || c->llsn_begin + c->count - 1 <= rep->q.applied_llsn_end)
        return; /* empty or already applied */
    if (rep->commit_broken) {
        vl_log(LOG_DEBUG,
               "sn=%u ls=%u: commit from llsn=%" PRIu64 " ignored while failed commit jobs "
               "drain; the MR resends it",
               self->sn_id, rep->ls_id, c->llsn_begin);
        return;
    }
    /* A range begins at applied + 1, or below it when this replica
       started from a base inside the range (the range's head is trimmed
       everywhere): it is stored whole, as the other replicas hold it. */
    if (c->llsn_begin > rep->q.applied_llsn_end + 1) {
        vl_log(LOG_DEBUG,
               "sn=%u ls=%u: commit from llsn=%" PRIu64 " past applied end %" PRIu64
               " ignored; the MR resends the gap",
               self->sn_id, rep->ls_id, c->llsn_begin, rep->q.applied_llsn_end);
        return;
    }
    if (c->llsn_begin + c->count - 1 > rep->d.llsn_end) {
        vl_log(LOG_WARNING,
               "sn=%u ls=%u: commit of llsn=%" PRIu64 "..%" PRIu64 " past the durable end %" PRIu64
               " ignored",
               self->sn_id, rep->ls_id, c->llsn_begin, c->llsn_begin + c->count - 1,
               rep->d.llsn_end);
        return;
    }
    rep->q.applied_llsn_end = c->llsn_begin + c->count - 1;
    if (c->hwm > rep->q.hwm)
        rep->q.hwm = c->hwm;
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_COMMIT, rep->topic_id, rep->ls_id);
    job->range.glsn_begin = c->glsn_begin;
    job->range.llsn_begin = c->llsn_begin;
    job->range.count = c->count;
    job->range.offset_begin = c->offset_begin;
    job->range.bytes = c->bytes;
    job->range.version = version;
    job->hwm = c->hwm;
    rep->commits++;
    /* the waiting appends first: their answer needs nothing the job
       stores, and waking the writer first put its thread ahead of the
       replies on a busy machine */
    vl_sn_append_commit(self, rep, c);
    vl_sn_submit(self, job);
}

void vl_sn_replica_on_commit(self_t *self, vl_rbuf_t *body)
{
    vl_commit_t c;
    if (vl_commit_decode(body, &c) != 0) {
        vl_log(LOG_WARNING, "sn=%u: malformed COMMIT from the MR ignored", self->sn_id);
        return;
    }
    if (vl_sn_meta_fenced(self, "COMMIT", c.term, c.version)) {
        vl_commit_free(&c);
        return;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        s_replica_t *rep = s_replica(self, c.items[i].ls_id);
        if (rep && rep->topic_id == c.items[i].topic_id)
            s_apply_commit(self, rep, c.version, &c.items[i]);
    }
    vl_commit_free(&c);
}

/*  ---- writer done -------------------------------------------------------- */

/*  After a failed WRITE, once no WRITE is in flight: LLSNs are assigned
    again from what is durable (never past a seal: a pending TRUNCATE
    lowers d too), and appends are taken again. */
static void s_writes_settle(self_t *self, s_replica_t *rep)
{
    if (!rep->write_broken || rep->writes)
        return;
    rep->q.llsn_end = rep->d.llsn_end;
    rep->q.bytes_end = rep->d.bytes_end;
    if (rep->ls_state != VL_LS_RUNNING && rep->q.llsn_end > rep->sealed_end) {
        rep->q.llsn_end = rep->sealed_end;
        rep->q.bytes_end = rep->sealed_bytes;
    }
    rep->write_broken = false;
    vl_log(LOG_NOTICE, "sn=%u ls=%u: failed writes undone; taking appends again from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, rep->q.llsn_end + 1);
}

/*  After a failed COMMIT job, once none is in flight: commits are taken
    again from what is stored (the MR resends the rest). */
static void s_commits_settle(self_t *self, s_replica_t *rep)
{
    if (!rep->commit_broken || rep->commits)
        return;
    rep->q.applied_llsn_end = rep->d.applied_llsn_end;
    rep->q.hwm = rep->d.hwm;
    rep->commit_broken = false;
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: failed commits undone; taking commits again from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, rep->q.applied_llsn_end + 1);
}

/*  A WRITE job is done: a backup's REPLICATE is answered, a primary's
    batch goes to its backups; a failure fails its append or REPLICATE. */
static void s_write_done(self_t *self, s_replica_t *rep, vl_writer_job_t *job)
{
    if (rep->writes)
        rep->writes--;
    if (job->rc) {
        vl_sn_fault(self, job->rc, job->errmsg);
        rep->write_broken = true;
        rep->bids_ready = false; /* names of writes undone: read the store again */
        s_writes_settle(self, rep);
        if (job->reply_to) {
            if (job->rc == VL_EGAP)
                vl_sn_backup_reply_end(self, job->reply_to, &job->req, VL_EGAP, rep->d.llsn_end);
            else
                vl_sn_reply_error(self, job->reply_to, &job->req, job->rc, "REPLICATE: %s",
                                  job->errmsg);
            return;
        }
        /* by its tag: LLSNs are reassigned after a failure, so a
           later append may begin where this one did */
        for (s_append_t *a = zlistx_first(rep->appends); a; a = zlistx_next(rep->appends))
            if (a->seq == job->tag) {
                zlistx_delete(rep->appends, zlistx_cursor(rep->appends));
                vl_sn_reply_error(self, a->rid, &a->req, job->rc == VL_EGAP ? VL_EIO : job->rc,
                                  "APPEND ls=%u: %s; nothing was written", rep->ls_id, job->errmsg);
                vl_sn_append_free(&a);
                break;
            }
        return;
    }
    s_writes_settle(self, rep);
    vl_sn_meta_report_soon(self);
    if (job->reply_to)
        vl_sn_backup_reply_end(self, job->reply_to, &job->req, 0, rep->d.llsn_end);
    else if (rep->primary)
        vl_sn_repl_durable(self, rep, job);
}

/*  A COMMIT job is done: waiting LOOKUPs and subscribers go on. */
static void s_commit_done(self_t *self, s_replica_t *rep, vl_writer_job_t *job)
{
    if (rep->commits)
        rep->commits--;
    if (job->rc) {
        if (!self->fault_us)
            vl_log(LOG_WARNING, "sn=%u: %s; waiting for the MR to resend", self->sn_id,
                   job->errmsg);
        vl_sn_fault(self, job->rc, job->errmsg);
        rep->commit_broken = true;
        s_commits_settle(self, rep);
        vl_sn_sub_lookups_done(self, rep, true);
        return;
    }
    s_commits_settle(self, rep);
    vl_sn_meta_report_soon(self);
    vl_sn_sub_lookups_done(self, rep, false);
    /* Entries committed since the last trim may lie below the trim
       point: trim again. */
    if (s_trim_point(rep) > 1 && rep->trim_hwm + 1 < s_trim_point(rep) &&
        rep->d.hwm > rep->trim_hwm) {
        vl_writer_job_t *t = vl_writer_job_new(VL_WRITER_TRIM, rep->topic_id, rep->ls_id);
        t->trim_glsn = s_trim_point(rep);
        rep->trim_hwm = rep->d.hwm;
        vl_sn_submit(self, t);
    }
    vl_sn_sub_pump_all(self, rep);
}

/*  A BASE job is done (see "bases" in repl.c). */
static void s_base_done(self_t *self, s_replica_t *rep, vl_writer_job_t *job)
{
    if (rep->writes)
        rep->writes--;
    if (job->rc) {
        vl_sn_fault(self, job->rc, job->errmsg);
        rep->write_broken = true;
        s_writes_settle(self, rep);
        if (!rep->commits) {
            rep->q.applied_llsn_end = rep->d.applied_llsn_end;
            rep->q.hwm = rep->d.hwm;
        }
        if (job->reply_to)
            vl_sn_reply_error(self, job->reply_to, &job->req, job->rc, "REPLICATE: %s",
                              job->errmsg);
        return;
    }
    vl_log(LOG_NOTICE, "sn=%u ls=%u: took the base at llsn=%" PRIu64 "; syncing from there",
           self->sn_id, rep->ls_id, job->llsn_end);
    s_writes_settle(self, rep);
    vl_sn_meta_report_soon(self);
    if (job->reply_to)
        vl_sn_backup_reply_end(self, job->reply_to, &job->req, 0, rep->d.llsn_end);
}

void vl_sn_replica_job_done(self_t *self, vl_writer_job_t *job)
{
    if (job->kind == VL_WRITER_WRITE && self->queued_bytes >= job->bytes)
        self->queued_bytes -= job->bytes;
    s_replica_t *rep = s_replica(self, job->ls_id);
    if (!rep || job->kind == VL_WRITER_DELETE) {
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        return;
    }
    if (job->state.ls_id == rep->ls_id && job->rc != VL_EIO)
        rep->d = job->state;
    switch (job->kind) {
    case VL_WRITER_WRITE:
        s_write_done(self, rep, job);
        break;
    case VL_WRITER_COMMIT:
        s_commit_done(self, rep, job);
        break;
    case VL_WRITER_TRIM:
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        else
            vl_log(LOG_INFO, "sn=%u ls=%u: trimmed below glsn=%" PRIu64, self->sn_id, rep->ls_id,
                   job->trim_glsn);
        break;
    case VL_WRITER_BASE:
        s_base_done(self, rep, job);
        break;
    case VL_WRITER_TRUNCATE:
        if (rep->truncating > 0)
            rep->truncating--;
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        else
            vl_log(LOG_INFO, "sn=%u ls=%u: discarded past llsn=%" PRIu64 "; in line up to %" PRIu64,
                   self->sn_id, rep->ls_id, job->llsn_end, rep->d.llsn_end);
        vl_sn_meta_report_soon(self);
        break;
    default:
        break;
    }
}

/*  ---- disk faults ------------------------------------------------------------ */

#define S_FAULT_ROOM_LOW (16ull << 20) /* a disk with less free is full */
#define S_FAULT_ROOM_MIN (64ull << 20) /* a disk with this much free has room again */
#define S_FAULT_RETRY_US (30ll * 1000000)

void vl_sn_fault(self_t *self, int rc, const char *errmsg)
{
    if (rc == VL_EGAP) {
        vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, errmsg);
        return;
    }
    bool first = self->fault_us == 0;
    self->fault_us = vl_now_us();
    vl_store_set_failed(self->store);
    self->fault_nospace = strstr(errmsg, strerror(ENOSPC)) != NULL;
    snprintf(self->fault_why, sizeof self->fault_why, "%s%s",
             self->fault_nospace ? "disk full: " : "disk error: ", errmsg);
    /* every failed write was logged; now the first of a fault only, the
       writes that follow it fail the same way until it clears */
    if (first)
        vl_log(LOG_ERR, "sn=%u: %s; reporting a disk fault (the admin seals this node's log "
                        "streams until it clears)", self->sn_id, self->fault_why);
}

void vl_sn_fault_check(self_t *self)
{
    uint64_t free_bytes = self->disk_free; /* vl_sn_stats_second's, a moment ago */
    if (!self->fault_us) {
        /* a disk about to be full is a fault before a write fails: the
           log streams move while this node can still finish what it has */
        if (free_bytes < S_FAULT_ROOM_LOW) {
            char why[VL_WIRE_MAX_FAULT + 1];
            snprintf(why, sizeof why, "%s: %llu bytes free in %.100s", strerror(ENOSPC),
                     (unsigned long long)free_bytes, self->args->data_dir);
            vl_sn_fault(self, VL_ESTORE, why);
        }
        return;
    }
    int64_t age = vl_now_us() - self->fault_us;
    if (self->fault_nospace ? free_bytes < S_FAULT_ROOM_MIN || age < 1000000
                            : age < S_FAULT_RETRY_US)
        return;
    vl_log(LOG_NOTICE, "sn=%u: %s; the disk fault clears (%s)", self->sn_id,
           self->fault_nospace ? "the disk has room again" : "30 s since the last disk error",
           self->fault_why);
    self->fault_us = 0;
    self->fault_why[0] = '\0';
}
