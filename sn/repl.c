/*  repl.c - replication from the primary to its backups, and the sync
    streams SN_SYNC starts from a sealed replica to another one.

    Replication: per (log stream, backup) a window of REPLICATE messages in
    flight. Batches are forwarded as soon as they are durable while the
    backup's stream is contiguous; otherwise (after VL_EGAP, a timeout or a
    restart) entries are read back from the store in bounded batches. The
    request id of a REPLICATE is ls_id << 32 | sequence: a reply finds its
    log stream without a table, and replies older than the last resync
    (sequence < epoch) are ignored. A VL_EGAP reply carries an append reply
    body (llsn_begin = the backup's end), not an error string: the primary
    needs the number.

    A sync stream is the same stream with a limit (the sealed end); when
    the destination lacks entries the source has trimmed, it starts over
    from a base (see "bases" below).
*/

#include <inttypes.h>
#include <string.h>
#include "curve.h"
#include "log.h"
#include "sn_i.h"
#include "util.h"

static s_peer_t *s_peer_get(self_t *self, const char *addr);

/*  Bytes of entries 1..llsn, from the durable end backwards. */
static int s_bytes_at(self_t *self, s_replica_t *rep, uint64_t llsn, uint64_t *bytes_p)
{
    uint64_t sum = 0;
    int rc = vl_store_sum_sizes(self->store, rep->ls_id, llsn + 1, rep->d.llsn_end, &sum);
    if (rc)
        return rc;
    *bytes_p = rep->d.bytes_end - sum;
    return 0;
}

/*  Sends REPLICATE of n entries: sizes (u32 little endian each) and data,
    their bytes back to back (borrowed: sent by reference, ZeroMQ shares
    the frame's buffer instead of copying it, so one payload goes to every
    backup without a copy). */
static void s_repl_send(self_t *self, s_replica_t *rep, s_backup_t *b, uint64_t llsn_begin,
                        uint64_t bytes_before, const uint8_t *sizes, zframe_t *data, uint32_t n,
                        const uint8_t *bids, uint32_t nbids)
{
    vl_append_t a = {.topic_id = rep->topic_id,
                     .ls_id = rep->ls_id,
                     .n = n,
                     .llsn_begin = llsn_begin,
                     .bytes_before = bytes_before,
                     .epoch = rep->ls_epoch,
                     .nbids = nbids,
                     .bids = bids,
                     .sizes = sizes};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_append_encode(&a, true, &body);
    vl_hdr_t h = {.type = VL_MSG_REPLICATE,
                  .request_id = ((uint64_t)rep->ls_id << 32) | b->seq++,
                  .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &body);
    vl_wbuf_free(&body);
    if (b->inflight == 0)
        b->progress_us = vl_now_us();
    b->inflight++;
    /* Once the first frame of a message is queued ZeroMQ takes the rest,
       so the payload cannot be left out after the header went. */
    int rc = n > 0 && data ? zmsg_sendm(&msg, b->peer->dealer) : zmsg_send(&msg, b->peer->dealer);
    if (rc == 0 && n > 0 && data)
        rc = zframe_send(&data, b->peer->dealer, ZFRAME_REUSE);
    if (rc != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn=%u ls=%u: REPLICATE to sn=%u not queued: %s; retried later",
               self->sn_id, rep->ls_id, b->sn_id, zmq_strerror(zmq_errno()));
    }
}

/*  Sends an empty REPLICATE after what was sent: the backup answers its
    end (or VL_EGAP with it), which restarts the stream from there. */
void vl_sn_repl_probe(self_t *self, s_replica_t *rep, s_backup_t *b)
{
    if (!b->peer)
        return;
    b->epoch = b->seq;
    b->inflight = 0;
    b->retry_at_us = 0;
    s_repl_send(self, rep, b, b->sent + 1, b->sent_bytes, NULL, NULL, 0, NULL, 0);
}

/*  ---- bases: syncing a replica of a trimmed log stream ----------------------------

    A replica that lacks entries the sync source has trimmed (a new, empty
    one, or one that lagged) can never get them: the source cannot read
    them, and nobody else can. Those entries are below the trim point, so
    nobody may read them either: the destination starts over just below
    the first entry the source kept (K), as if it had held and trimmed
    everything before. The source sends the REPLICATE that begins at K
    with a base mark among its batch names: a name with client id 0 (which
    no client batch has, replicas skip it) and n 0, whose llsn_begin is K
    and batch_seq the source's trim point. A replica that gets a REPLICATE
    past its end with that mark, while the log stream is sealed, takes the
    base (s_take_base): a BASE writer job (synced) deletes what it held and
    sets llsn_end = applied_llsn_end = K - 1 and bytes_end = the
    REPLICATE's bytes_before, then the entries follow as usual. So the MR
    resends commits from K on, not the trimmed history; the range that
    holds K may begin below it (its head trimmed) and is stored whole,
    as the source holds it. Without the mark a REPLICATE past the end is
    still a gap (VL_EGAP): a lost batch must never look like a trim. */

/*  Appends the base mark for a REPLICATE beginning at llsn to bids. */
static void s_base_mark_put(const s_replica_t *rep, uint64_t llsn, vl_wbuf_t *bids)
{
    uint8_t rec[VL_WIRE_BID_SIZE];
    vl_batch_id_t id = {.llsn_begin = llsn,
                        .client_id = 0,
                        .batch_seq = rep->q.trim_glsn > 1 ? rep->q.trim_glsn : 1,
                        .n = 0};
    vl_wire_bid_put(rec, &id);
    vl_wbuf_mem(bids, rec, sizeof rec);
}

/*  ---- streams ------------------------------------------------------------ */

/*  The last LLSN stream b may carry: the durable end, but never past the
    sealed end of a sealed log stream (what lies beyond will be discarded)
    nor past a sync stream's limit. */
static uint64_t s_repl_end(const s_replica_t *rep, const s_backup_t *b)
{
    uint64_t end = rep->d.llsn_end;
    if (rep->ls_state != VL_LS_RUNNING && rep->sealed_end < end)
        end = rep->sealed_end;
    if (b->limit && b->limit < end)
        end = b->limit;
    return end;
}

/*  Catches a backup (or a sync destination) up from the store, up to the
    window. */
static void s_repl_pump(self_t *self, s_replica_t *rep, s_backup_t *b)
{
    uint64_t end = s_repl_end(rep, b);
    while (b->peer && !b->retry_at_us && b->inflight < S_REPL_WINDOW && b->sent < end) {
        vl_wbuf_t sizes, data;
        vl_wbuf_init(&sizes);
        vl_wbuf_init(&data);
        uint32_t n = 0;
        uint64_t bytes = 0;
        uint64_t want = end - b->sent;
        int rc = vl_store_read_entries(self->store, rep->ls_id, b->sent + 1,
                                       want < S_REPL_BATCH_ENTRIES ? (uint32_t)want
                                                                   : S_REPL_BATCH_ENTRIES,
                                       S_REPL_BATCH_BYTES, &sizes, &data, &n, &bytes);
        if (rc || n == 0) {
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: cannot read llsn=%" PRIu64 " to replicate to sn=%u: %s; "
                   "the backup needs a recovery (varlogctl ls recover)",
                   self->sn_id, rep->ls_id, b->sent + 1, b->sn_id,
                   rc ? vl_store_errmsg() : "entry not in the store");
            vl_wbuf_free(&sizes);
            vl_wbuf_free(&data);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        /* the names of the batches the entries came in go along: a backup
           must be able to say what became of a client's batch */
        vl_wbuf_t bids;
        vl_wbuf_init(&bids);
        uint32_t nbids = 0;
        if (vl_store_read_bids(self->store, rep->ls_id, b->sent + 1, b->sent + n, &bids, &nbids)) {
            /* never without them: a replica holding entries without their
               names would call their batch absent, and its client would
               append it again */
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: cannot read the batch names of llsn=%" PRIu64 "..: %s; the "
                   "stream to sn=%u waits and retries (check this node's disk)",
                   self->sn_id, rep->ls_id, b->sent + 1, vl_store_errmsg(), b->sn_id);
            vl_wbuf_free(&bids);
            vl_wbuf_free(&sizes);
            vl_wbuf_free(&data);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        if (b->base && b->base == b->sent + 1) {
            s_base_mark_put(rep, b->base, &bids);
            nbids++; /* at most n names hold one of n entries: n + 1 <= the limit */
            b->base = 0;
        }
        zframe_t *frame = zframe_new(data.data, data.len);
        s_repl_send(self, rep, b, b->sent + 1, b->sent_bytes, sizes.data, frame, n, bids.data,
                    nbids);
        zframe_destroy(&frame);
        vl_wbuf_free(&bids);
        vl_wbuf_free(&sizes);
        vl_wbuf_free(&data);
        b->sent += n;
        b->sent_bytes += bytes;
    }
}

/*  A batch of the primary became durable: forward it while the backup's
    stream is contiguous, else catch up from the store. */
void vl_sn_repl_durable(self_t *self, s_replica_t *rep, vl_writer_job_t *job)
{
    for (uint32_t i = 0; i < rep->nbackups; i++) {
        s_backup_t *b = &rep->backups[i];
        if (!b->peer || b->retry_at_us)
            continue;
        if (rep->ls_state == VL_LS_RUNNING && b->sent + 1 == job->llsn_begin &&
            b->inflight < S_REPL_WINDOW) {
            s_repl_send(self, rep, b, job->llsn_begin, job->bytes_before, job->sizes, job->data,
                        job->n, job->bids, job->nbids);
            b->sent += job->n;
            b->sent_bytes = job->bytes_before + job->bytes;
        } else
            s_repl_pump(self, rep, b);
    }
}

void vl_sn_repl_setup(self_t *self, s_replica_t *rep)
{
    s_backup_t old[VL_WIRE_MAX_REPLICAS];
    uint32_t nold = rep->nbackups;
    memcpy(old, rep->backups, sizeof old);
    rep->nbackups = 0;
    if (!rep->primary)
        return;
    for (uint32_t i = 1; i < rep->nrep; i++) {
        uint32_t id = rep->replicas[i];
        s_backup_t *b = &rep->backups[rep->nbackups++];
        bool kept = false;
        for (uint32_t j = 0; j < nold; j++)
            if (old[j].sn_id == id) {
                *b = old[j];
                kept = true;
            }
        const vl_meta_sn_t *sn = vl_meta_sn_by_id(&self->meta, id);
        s_peer_t *peer = sn && sn->addr[0] ? s_peer_get(self, sn->addr) : NULL;
        if (!peer)
            vl_log(LOG_WARNING, "sn=%u ls=%u: backup sn=%u has no usable address in the META",
                   self->sn_id, rep->ls_id, id);
        if (kept && b->peer == peer)
            continue;
        memset(b, 0, sizeof *b);
        b->sn_id = id;
        b->peer = peer;
        b->sent = rep->d.llsn_end;
        b->sent_bytes = rep->d.bytes_end;
        vl_sn_repl_probe(self, rep, b);
    }
}

/*  The stream of rep to peer: one of its backups (while primary) or a sync
    it feeds. A peer has at most one stream per log stream. */
static s_backup_t *s_stream_by_peer(s_replica_t *rep, s_peer_t *peer)
{
    for (uint32_t i = 0; rep->primary && i < rep->nbackups; i++)
        if (rep->backups[i].peer == peer)
            return &rep->backups[i];
    for (uint32_t i = 0; i < rep->nsyncs; i++)
        if (rep->syncs[i].peer == peer)
            return &rep->syncs[i];
    return NULL;
}

/*  Ends sync stream b of rep (it reached its limit, or is obsolete). */
static void s_sync_end(s_replica_t *rep, s_backup_t *b)
{
    size_t i = (size_t)(b - rep->syncs);
    if (i >= rep->nsyncs)
        return;
    rep->syncs[i] = rep->syncs[--rep->nsyncs];
}

/*  Stream b's destination is at llsn end, and this replica cannot read
    the entries after it. When they are trimmed here (the log stream is
    sealed, this replica has a trim point and holds every entry from some
    K on), restarts the stream at K with the base mark. Returns false when
    that is not the case (the caller reports the loss). */
static bool s_repl_base(self_t *self, s_replica_t *rep, s_backup_t *b, uint64_t end)
{
    if (rep->ls_state == VL_LS_RUNNING || s_trim_point(rep) <= 1)
        return false; /* a base is taken only while sealed; nothing trimmed here */
    uint64_t first = 0, bytes = 0;
    bool found = false;
    if (vl_store_first_entry(self->store, rep->ls_id, end + 1, &first, &found) != 0)
        return false;
    if (!found || first > rep->d.llsn_end)
        first = rep->d.llsn_end + 1; /* everything up to the end is trimmed */
    if (first <= end + 1 || first - 1 > s_repl_end(rep, b) ||
        s_bytes_at(self, rep, first - 1, &bytes))
        return false;
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: sn=%u is at llsn=%" PRIu64 " and llsn %" PRIu64 "..%" PRIu64
           " are trimmed here (trim point glsn=%" PRIu64 "); sending it a base at llsn=%" PRIu64
           ", then the entries from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, b->sn_id, end, end + 1, first - 1, s_trim_point(rep), first - 1,
           first);
    b->epoch = b->seq;
    b->inflight = 0;
    b->acked = end;
    b->sent = first - 1;
    b->sent_bytes = bytes;
    b->base = first;
    if (b->sent >= s_repl_end(rep, b)) {
        /* nothing kept to send: the base alone, in an empty REPLICATE */
        vl_wbuf_t bids;
        vl_wbuf_init(&bids);
        s_base_mark_put(rep, first, &bids);
        s_repl_send(self, rep, b, first, bytes, NULL, NULL, 0, bids.data, 1);
        vl_wbuf_free(&bids);
        b->base = 0;
    } else
        s_repl_pump(self, rep, b);
    return true;
}

/*  A reply of a backup to a REPLICATE. */
static void s_on_repl_reply(self_t *self, s_peer_t *peer, zmsg_t *msg)
{
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &hdr, &body);
    if (rc || hdr.type != (VL_MSG_REPLICATE | VL_MSG_REPLY)) {
        vl_log(LOG_WARNING, "sn=%u: unexpected message from sn at %s (%s, %s); ignored",
               self->sn_id, peer->addr, vl_wire_type_name(hdr.type), rc ? vl_err_name(rc) : "ok");
        return;
    }
    uint32_t ls_id = (uint32_t)(hdr.request_id >> 32);
    uint32_t seq = (uint32_t)hdr.request_id;
    s_replica_t *rep = s_replica(self, ls_id);
    s_backup_t *b = rep ? s_stream_by_peer(rep, peer) : NULL;
    if (!b || seq < b->epoch)
        return; /* not ours any more, or older than the last resync */
    if (b->inflight)
        b->inflight--;
    b->progress_us = vl_now_us();
    vl_append_reply_t r;
    if (hdr.status == 0 || hdr.status == VL_EGAP) {
        if (vl_append_reply_decode(&body, &r) != 0) {
            vl_log(LOG_WARNING, "sn=%u ls=%u: malformed REPLICATE reply from sn=%u; resyncing",
                   self->sn_id, ls_id, b->sn_id);
            b->retry_at_us = vl_now_us() + S_REPL_RETRY_US;
            return;
        }
        uint64_t end = r.llsn_begin;
        vl_append_reply_free(&r);
        if (hdr.status == 0) {
            if (end > b->acked)
                b->acked = end;
            if (b->limit && b->acked >= b->limit) {
                vl_log(LOG_NOTICE, "sn=%u ls=%u: sync of sn=%u done: it holds llsn 1..%" PRIu64,
                       self->sn_id, ls_id, b->sn_id, b->acked);
                s_sync_end(rep, b);
                return;
            }
            /* it holds more than was sent (it was synced, or this node
               restarted): go on from its end rather than resend */
            uint64_t bytes;
            if (end > b->sent && end <= s_repl_end(rep, b) &&
                s_bytes_at(self, rep, end, &bytes) == 0) {
                b->sent = end;
                b->sent_bytes = bytes;
            }
            s_repl_pump(self, rep, b);
            return;
        }
        /* VL_EGAP: restart the stream right after the backup's end. */
        uint64_t bytes;
        if (end > rep->d.llsn_end) {
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: backup sn=%u says it has llsn=%" PRIu64
                   ", more than this primary (%" PRIu64 "); the replicas diverged, recover it",
                   self->sn_id, ls_id, b->sn_id, end, rep->d.llsn_end);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        if (s_bytes_at(self, rep, end, &bytes) != 0) {
            if (s_repl_base(self, rep, b, end))
                return;
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: backup sn=%u is at llsn=%" PRIu64
                   " but the entries after it are gone here (%s); recover the backup",
                   self->sn_id, ls_id, b->sn_id, end, vl_store_errmsg());
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        vl_log(LOG_INFO, "sn=%u ls=%u: backup sn=%u is at llsn=%" PRIu64 "; resending from there",
               self->sn_id, ls_id, b->sn_id, end);
        b->epoch = b->seq;
        b->inflight = 0;
        b->acked = end;
        b->sent = end;
        b->sent_bytes = bytes;
        s_repl_pump(self, rep, b);
        return;
    }
    char text[512];
    vl_wire_errtext(&body, text, sizeof text);
    /* VL_ESTALE: the two nodes disagree on the log stream's epoch for the
       moment a META takes to reach both */
    bool stale = hdr.status == VL_ESTALE;
    int64_t now = vl_now_us();
    /* a backup whose disk is full refuses every retry: said every 10 s, not
       every second, until the admin seals the log stream */
    if (now - b->refused_log_us >= 10 * 1000000) {
        b->refused_log_us = now;
        vl_log(stale ? LOG_INFO : LOG_WARNING,
               "sn=%u ls=%u: backup sn=%u refused REPLICATE: %s (%s); retrying", self->sn_id,
               ls_id, b->sn_id, text, vl_err_name((int)hdr.status));
    }
    b->epoch = b->seq;
    b->inflight = 0;
    b->retry_at_us = vl_now_us() + (stale ? S_REPL_STALE_RETRY_US : S_REPL_RETRY_US);
}

/*  ---- peers -------------------------------------------------------------- */

static int s_on_peer(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    s_peer_t *peer = NULL;
    for (s_peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        if (p->dealer == reader)
            peer = p;
    for (int i = 0; i < S_MAX_BURST && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        if (peer)
            s_on_repl_reply(self, peer, msg);
        zmsg_destroy(&msg);
    }
    return 0;
}

static zsock_t *s_peer_dealer(self_t *self, const char *addr)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL;
    zsock_set_linger(dealer, 0);
    zsock_set_sndtimeo(dealer, 0);
    zsock_set_sndhwm(dealer, 10000);
    zsock_set_maxmsgsize(dealer, 1 << 16);
    vl_curve_client(dealer);
    if (zsock_connect(dealer, "%s", addr) != 0) {
        vl_log(LOG_WARNING, "sn=%u: cannot connect to storage node %s: %s", self->sn_id, addr,
               zmq_strerror(zmq_errno()));
        zsock_destroy(&dealer);
        return NULL;
    }
    return dealer;
}

/*  Replaces the peer's DEALER by a new one: REPLICATE batches still queued
    in the old one (ZeroMQ keeps them across reconnects) are dropped, so
    that batches of before a seal do not arrive after it. Every stream to
    the peer starts again with a probe. */
void vl_sn_repl_peer_reset(self_t *self, s_peer_t *peer)
{
    zsock_t *dealer = s_peer_dealer(self, peer->addr);
    if (!dealer)
        return; /* keep the old one; the epoch check still stops stale batches */
    zloop_reader_end(self->loop, peer->dealer);
    zsock_destroy(&peer->dealer);
    peer->dealer = dealer;
    zloop_reader(self->loop, dealer, s_on_peer, self);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        uint32_t nb = rep->primary ? rep->nbackups : 0;
        for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
            s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
            if (b->peer == peer)
                vl_sn_repl_probe(self, rep, b);
        }
    }
}

static s_peer_t *s_peer_get(self_t *self, const char *addr)
{
    s_peer_t *peer = zhashx_lookup(self->peers, addr);
    if (peer)
        return peer;
    zsock_t *dealer = s_peer_dealer(self, addr);
    if (!dealer)
        return NULL;
    peer = vl_calloc(1, sizeof *peer);
    snprintf(peer->addr, sizeof peer->addr, "%s", addr);
    peer->dealer = dealer;
    zhashx_insert(self->peers, addr, peer);
    zloop_reader(self->loop, dealer, s_on_peer, self);
    return peer;
}

/*  ---- SN_SYNC ------------------------------------------------------------ */

/*  SN_SYNC (from the admin): this replica, in line with the sealed end,
    streams to the destination replica the entries it lacks, up to the
    sealed end, as REPLICATE batches (the catch-up path of the backups,
    with a limit). The MR then resends the destination the commits it
    lacks. The reply only says the sync started; SN_STATUS of the
    destination shows its progress. */
void vl_sn_repl_on_sync(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_sync_t y;
    if (vl_sync_decode(body, &y) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "SN_SYNC: malformed body; expected topic, ls, llsn end, destination");
        return;
    }
    s_replica_t *rep = s_hosted(self, y.ls_id);
    if (!rep || rep->topic_id != y.topic_id) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOLS,
                          "sync ls=%u: sn=%u does not host ls=%u of topic=%u; pick a replica of it "
                          "as the source",
                          y.ls_id, self->sn_id, y.ls_id, y.topic_id);
        return;
    }
    if (rep->ls_state == VL_LS_RUNNING) {
        vl_sn_reply_error(
            self, rid, hdr, VL_EBUSY,
            "sync ls=%u: the log stream is RUNNING; seal it first ('varlogctl ls seal')", y.ls_id);
        return;
    }
    if (y.epoch != rep->ls_epoch) {
        vl_sn_reply_error(
            self, rid, hdr, VL_ESTALE,
            "sync ls=%u of epoch %u: sn=%u knows epoch %u of the log stream (sealed or "
            "unsealed since); retry once the metadata reached every node",
            y.ls_id, y.epoch, self->sn_id, rep->ls_epoch);
        return;
    }
    if (y.llsn_end != rep->sealed_end) {
        vl_sn_reply_error(self, rid, hdr, VL_EINVAL,
                          "sync ls=%u up to llsn=%" PRIu64 ": sn=%u knows the sealed end %" PRIu64
                          "; retry once the metadata reached every node",
                          y.ls_id, y.llsn_end, self->sn_id, rep->sealed_end);
        return;
    }
    if (rep->d.llsn_end < y.llsn_end) {
        vl_sn_reply_error(self, rid, hdr, VL_ERANGE,
                          "sync ls=%u: the source sn=%u holds llsn 1..%" PRIu64
                          ", not up to the sealed end %" PRIu64 "; sync from a replica in line",
                          y.ls_id, self->sn_id, rep->d.llsn_end, y.llsn_end);
        return;
    }
    bool placed = false;
    for (uint32_t k = 0; k < rep->nrep; k++)
        placed |= rep->replicas[k] == y.dest_sn;
    if (y.dest_sn == self->sn_id || !placed) {
        vl_sn_reply_error(self, rid, hdr, VL_ENOSN,
                          "sync ls=%u: sn=%u is %s; the destination must be another replica of it",
                          y.ls_id, y.dest_sn,
                          y.dest_sn == self->sn_id ? "the source" : "no replica");
        return;
    }
    /* the metadata's address wins over the one in the request */
    const vl_meta_sn_t *sn = self->have_meta ? vl_meta_sn_by_id(&self->meta, y.dest_sn) : NULL;
    const char *addr = sn && sn->addr[0] ? sn->addr : y.dest_addr;
    s_peer_t *peer = addr[0] ? s_peer_get(self, addr) : NULL;
    if (!peer) {
        vl_sn_reply_error(self, rid, hdr, VL_EUNAVAIL,
                          "sync ls=%u: cannot connect to sn=%u at '%s'; check 'varlogctl sn list'",
                          y.ls_id, y.dest_sn, addr);
        return;
    }
    s_backup_t *b = s_stream_by_peer(rep, peer);
    if (!b) {
        if (rep->nsyncs >= VL_WIRE_MAX_REPLICAS) {
            vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                              "sync ls=%u: sn=%u already feeds %d syncs of it; retry later",
                              y.ls_id, self->sn_id, VL_WIRE_MAX_REPLICAS);
            return;
        }
        b = &rep->syncs[rep->nsyncs++];
        memset(b, 0, sizeof *b);
        b->sn_id = y.dest_sn;
        b->peer = peer;
        b->limit = y.llsn_end;
    }
    /* start at the sealed end: the destination answers with its own end
       (VL_EGAP when behind) and the stream resumes from there */
    b->sent = y.llsn_end;
    b->sent_bytes = rep->sealed_bytes;
    vl_log(LOG_NOTICE, "sn=%u ls=%u: syncing sn=%u (%s) up to llsn=%" PRIu64 "%s", self->sn_id,
           y.ls_id, y.dest_sn, addr, y.llsn_end,
           b->limit ? "" : " (it is a backup of this primary)");
    vl_sn_repl_probe(self, rep, b);
    vl_sn_reply_body(self, rid, hdr, NULL, NULL);
}
