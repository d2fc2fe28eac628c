/*  backup.c - REPLICATE on a backup (or on the destination of a sync
    stream): the entries a primary or sync source sends are written as
    they are, at the LLSNs and with the bytes the source gives, and the
    answer (the replica's durable end) goes out once they are durable.
    A REPLICATE that begins past this replica's end is answered VL_EGAP
    with the end, unless it carries a base mark (see "bases" in repl.c).
*/

#include <inttypes.h>
#include <string.h>
#include "log.h"
#include "sn_i.h"
#include "util.h"

void vl_sn_backup_reply_end(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t status,
                            uint64_t end)
{
    vl_append_reply_t r = {.llsn_begin = end};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_reply_encode(&r, &b);
    vl_hdr_t h = *req;
    h.type = VL_MSG_REPLICATE | VL_MSG_REPLY;
    h.status = status;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    vl_sn_send_to(self, rid, &msg);
}

/*  Finds the base mark of REPLICATE a: true, with *mark, when there is one. */
static bool s_base_mark(const vl_append_t *a, vl_batch_id_t *mark)
{
    for (uint32_t i = 0; i < a->nbids; i++) {
        vl_batch_id_t id;
        vl_wire_bid(a->bids, i, &id);
        if (id.client_id == 0 && id.n == 0 && id.llsn_begin == a->llsn_begin) {
            *mark = id;
            return true;
        }
    }
    return false;
}

/*  REPLICATE a begins past this replica's end with the base mark: the
    entries before it are trimmed at the source (see "bases" in repl.c). Takes
    the base when that can be so: the log stream is sealed, the base lies
    within the sealed end and agrees with its bytes, and nothing of this
    replica is on its way to the disk. Returns true when the entries of a
    (if any) are to be written after the base; false when it answered
    (an error, or an empty REPLICATE, answered once the base is durable). */
static bool s_take_base(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                        const vl_append_t *a, const vl_batch_id_t *mark)
{
    uint64_t base = a->llsn_begin - 1;
    if (rep->ls_state == VL_LS_RUNNING) {
        vl_sn_reply_error(self, rid, hdr, VL_EINVAL,
                          "REPLICATE ls=%u: a base at llsn=%" PRIu64 " is taken only while the log "
                          "stream is sealed; seal it ('varlogctl ls seal') and sync again",
                          a->ls_id, base);
        return false;
    }
    if (base > rep->sealed_end || a->bytes_before > rep->sealed_bytes ||
        (base == rep->sealed_end && a->bytes_before != rep->sealed_bytes) || mark->batch_seq <= 1) {
        vl_sn_reply_error(
            self, rid, hdr, VL_EPROTO,
            "REPLICATE ls=%u: base at llsn=%" PRIu64 " with %" PRIu64
            " bytes (trim point glsn=%" PRIu64 ") does not fit the sealed end llsn=%" PRIu64
            " with %" PRIu64 " bytes; sync from another replica",
            a->ls_id, base, a->bytes_before, mark->batch_seq, rep->sealed_end, rep->sealed_bytes);
        return false;
    }
    if (rep->writes || rep->commits || rep->truncating || rep->commit_broken) {
        vl_sn_reply_error(
            self, rid, hdr, VL_EBUSY,
            "REPLICATE ls=%u: sn=%u still writes earlier entries or commits of the log "
            "stream; the base at llsn=%" PRIu64 " is retried",
            a->ls_id, self->sn_id, base);
        return false;
    }
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: holds llsn 1..%" PRIu64 ", the source trimmed below glsn=%" PRIu64
           " and keeps llsn %" PRIu64 ".. only: taking a base at llsn=%" PRIu64 " (%" PRIu64
           " bytes) and dropping what it held",
           self->sn_id, rep->ls_id, rep->q.llsn_end, mark->batch_seq, a->llsn_begin, base,
           a->bytes_before);
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_BASE, rep->topic_id, rep->ls_id);
    job->llsn_end = base;
    job->bytes_end = a->bytes_before;
    job->trim_glsn = mark->batch_seq;
    rep->q.llsn_end = base;
    rep->q.bytes_end = a->bytes_before;
    rep->q.applied_llsn_end = base;
    if (mark->batch_seq > rep->q.trim_glsn) {
        /* the source knows a later trim than this node: the META with it
           is on its way; ask for it so that reads check it too */
        rep->q.trim_glsn = mark->batch_seq;
        vl_sn_meta_ask(self);
    }
    rep->writes++; /* a failed base is undone like a failed write */
    if (a->n == 0) {
        job->reply_to = zframe_dup(rid);
        job->req = *hdr;
    }
    vl_sn_submit(self, job);
    return a->n > 0;
}

/*  Queues the WRITE job of REPLICATE a: its entries past the first skip
    (skipped_bytes bytes), which this replica holds already. The payload
    frame is taken out of msg as it is when it is written whole. */
static void s_replicate_write(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                              const vl_append_t *a, zmsg_t *msg, zframe_t *payload, uint64_t skip,
                              uint64_t skipped_bytes)
{
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_WRITE, rep->topic_id, rep->ls_id);
    job->sync = self->cfg->sync;
    job->llsn_begin = rep->q.llsn_end + 1;
    job->n = (uint32_t)(a->n - skip);
    vl_metric_add(rep->m_replicated, job->n);
    job->bytes = vl_wire_sizes_sum(a->sizes + 4 * skip, job->n);
    job->bytes_before = rep->q.bytes_end;
    job->sizes = vl_malloc(4 * (size_t)job->n);
    memcpy(job->sizes, a->sizes + 4 * skip, 4 * (size_t)job->n);
    if (skipped_bytes == 0 && job->bytes == zframe_size(payload)) {
        zmsg_remove(msg, payload); /* the whole payload: no copy */
        job->data = payload;
    } else /* a part (overlap, or past a sealed end): rare */
        job->data = zframe_new(zframe_data(payload) + skipped_bytes, job->bytes);
    /* the names of the batches that have entries among those written */
    uint64_t last = job->llsn_begin + job->n - 1;
    for (uint32_t i = 0; i < a->nbids; i++) {
        vl_batch_id_t id;
        vl_wire_bid(a->bids, i, &id);
        if (id.client_id == 0 || id.n == 0 || id.llsn_begin > last ||
            id.llsn_begin + id.n <= job->llsn_begin)
            continue;
        if (!job->bids)
            job->bids = vl_malloc(VL_WIRE_BID_SIZE * (size_t)a->nbids);
        vl_wire_bid_put(job->bids + VL_WIRE_BID_SIZE * (size_t)job->nbids++, &id);
    }
    job->reply_to = zframe_dup(rid);
    job->req = *hdr;
    rep->q.llsn_end += job->n;
    rep->q.bytes_end += job->bytes;
    rep->writes++;
    vl_sn_submit(self, job);
}

void vl_sn_backup_on_replicate(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                               zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    vl_append_t a;
    if (vl_append_decode(body, true, &a) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "REPLICATE: malformed body; expected topic, ls, count, llsn, bytes");
        return;
    }
    char why[160];
    zframe_t *payload;
    if (vl_wire_payload(msg, a.n, vl_wire_sizes_sum(a.sizes, a.n), &payload, why, sizeof why)) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO, "REPLICATE ls=%u: %s", a.ls_id, why);
        return;
    }
    s_replica_t *rep = s_hosted(self, a.ls_id);
    if (!rep || rep->topic_id != a.topic_id) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "REPLICATE: sn=%u does not host ls=%u of topic=%u (yet); retry after "
                          "the metadata reaches it",
                          self->sn_id, a.ls_id, a.topic_id);
        return;
    }
    if (rep->primary && rep->ls_state == VL_LS_RUNNING) {
        /* a sealed primary may be behind: it is synced like a backup */
        vl_sn_reply_error(self, rid, hdr, VL_EINVAL,
                          "REPLICATE: sn=%u is the primary of ls=%u, not a backup", self->sn_id,
                          a.ls_id);
        return;
    }
    if (a.epoch != rep->ls_epoch) {
        /* LLSNs past a sealed end are reused after the unseal: a batch of
           another epoch (sent before a seal, and queued since) may hold
           other bytes than the primary holds now at the same LLSNs. */
        if (a.epoch > rep->ls_epoch)
            vl_sn_meta_ask(self);
        vl_sn_reply_error(self, rid, hdr, VL_ESTALE,
                          "REPLICATE ls=%u llsn=%" PRIu64 ": sent in epoch %u of the log stream, "
                          "sn=%u is in epoch %u (sealed or unsealed since); resend once both have "
                          "the same metadata",
                          a.ls_id, a.llsn_begin, a.epoch, self->sn_id, rep->ls_epoch);
        return;
    }
    if (a.llsn_begin == 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO, "REPLICATE ls=%u: llsn 0 does not exist",
                          a.ls_id);
        return;
    }
    if (rep->write_broken) {
        vl_sn_reply_error(self, rid, hdr, VL_ESTORE,
                          "REPLICATE ls=%u: a write to the disk of sn=%u failed and the writes "
                          "queued behind it are being undone; retry (and check its disk)",
                          a.ls_id, self->sn_id);
        return;
    }
    if (a.llsn_begin > rep->q.llsn_end + 1) {
        vl_batch_id_t mark;
        if (!s_base_mark(&a, &mark)) {
            vl_sn_backup_reply_end(self, rid, hdr, VL_EGAP, rep->q.llsn_end);
            return;
        }
        if (!s_take_base(self, rep, rid, hdr, &a, &mark))
            return; /* refused, or an empty REPLICATE answered when durable */
        /* the entries follow the base */
    }
    if (rep->ls_state != VL_LS_RUNNING && a.n > 0 && a.llsn_begin + a.n - 1 > rep->sealed_end) {
        /* Sealed: entries past the sealed end were never committed and
           never will be; keep only those up to it. */
        uint64_t keep = a.llsn_begin > rep->sealed_end ? 0 : rep->sealed_end - a.llsn_begin + 1;
        a.n = (uint32_t)keep;
    }
    /* Skip what this backup already has: the bytes are the primary's. */
    uint64_t skip = rep->q.llsn_end + 1 - a.llsn_begin;
    uint64_t skipped_bytes = vl_wire_sizes_sum(a.sizes, skip < a.n ? (uint32_t)skip : a.n);
    if (skip >= a.n) {
        vl_sn_backup_reply_end(self, rid, hdr, 0, rep->d.llsn_end);
        return;
    }
    if (a.bytes_before + skipped_bytes != rep->q.bytes_end) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "REPLICATE ls=%u at llsn=%" PRIu64 ": %" PRIu64
                          " bytes before it at the primary, %" PRIu64
                          " here; the replicas diverged, recover this one",
                          a.ls_id, rep->q.llsn_end + 1, a.bytes_before + skipped_bytes,
                          rep->q.bytes_end);
        return;
    }
    s_replicate_write(self, rep, rid, hdr, &a, msg, payload, skip, skipped_bytes);
}
