/*  sub.c - reads: SUBSCRIBE and SUB_CREDIT, LOOKUP, SN_STATUS.

    Subscriptions: credit-based. The SN sends at most `credit` data messages
    (<= 4096 entries / 1 MiB each) before the next SUB_CREDIT, so what is
    queued for a slow reader is bounded by its credit; credit is capped at
    S_SUB_MAX_CREDIT. The ROUTER is ROUTER_MANDATORY with a zero send
    timeout: a send to a peer that is gone or over its high-water mark fails
    at once instead of blocking the loop or dropping silently, and the
    subscription is cancelled. A subscription that sends nothing (no
    credit, or no commits on an idle log stream) would never find out that
    its client is gone: clients send SUB_CREDIT(0) as a keepalive every few
    seconds, and a subscription not heard of for S_SUB_IDLE_US is dropped
    without a word (s_subs_expire, server.c; a client that is alive finds
    its stream silent and resubscribes, as after an SN restart).
*/

#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>
#include "log.h"
#include "sn_i.h"
#include "util.h"

/*  ---- sending ------------------------------------------------------------ */

static void s_free_owned(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/*  Sends msg to rid with data (len bytes, malloc'd, now ZeroMQ's) as its
    last frame, by reference: a subscriber's megabyte is not copied again.
    ROUTER_MANDATORY and the high-water mark apply to a message's first
    frame: once that went, the rest follows. */
static int s_send_owned(self_t *self, zframe_t *rid, zmsg_t **msg_p, void *data, size_t len)
{
    zframe_t *to = zframe_dup(rid);
    int rc = zframe_send(&to, self->router, ZFRAME_MORE);
    if (rc != 0) {
        char hex[64];
        vl_sn_rid_hex(rid, hex, sizeof hex);
        vl_log(LOG_DEBUG, "sn=%u: reply to peer %s not sent: %s", self->sn_id, hex,
               zmq_strerror(zmq_errno()));
        zframe_destroy(&to);
        zmsg_destroy(msg_p);
        free(data);
        return -1;
    }
    zframe_t *f;
    while ((f = zmsg_pop(*msg_p)))
        if (zframe_send(&f, self->router, ZFRAME_MORE) != 0)
            zframe_destroy(&f);
    zmsg_destroy(msg_p);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, data, len, s_free_owned, NULL) != 0) {
        free(data);
        return -1;
    }
    if (zmq_msg_send(&m, zsock_resolve(self->router), 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

/*  ---- subscriptions ------------------------------------------------------ */

static void s_sub_key(zframe_t *rid, uint64_t request_id, char *key, size_t size)
{
    char hex[40];
    vl_sn_rid_hex(rid, hex, sizeof hex);
    snprintf(key, size, "%s:%" PRIx64, hex, request_id);
}

void vl_sn_sub_remove(self_t *self, s_sub_t *sub)
{
    zlistx_delete(sub->rep->subs, sub->handle);
    zhashx_delete(self->subs, sub->key); /* its destructor frees sub */
}

/*  Sends data while the subscriber has credit. Returns false when the
    subscription ended (and is freed). */
static bool s_sub_pump(self_t *self, s_sub_t *sub)
{
    s_replica_t *rep = sub->rep;
    vl_entry_pos_t *pos = self->sub_pos;
    while (sub->credit > 0) {
        if (sub->cur.glsn < s_trim_point(rep) && sub->cur.glsn > rep->d.hwm) {
            /* The stream has sent every entry of this LS up to the last
               commit it knows, and commits arrive before the trims that
               follow them: no entry of this LS lies between its position
               and the trim point, so it goes on from the trim point. */
            sub->cur.glsn = s_trim_point(rep);
            sub->cur.valid = false;
        }
        if (sub->cur.glsn < s_trim_point(rep)) {
            vl_sn_reply_error(self, sub->rid, &sub->req, VL_ETRIMMED,
                              "SUBSCRIBE ls=%u: glsn=%" PRIu64
                              " is trimmed (the log starts at %" PRIu64
                              "); subscribe from the trim point",
                              rep->ls_id, sub->cur.glsn, s_trim_point(rep));
            vl_sn_sub_remove(self, sub);
            return false;
        }
        uint64_t limit = rep->d.hwm + 1 < sub->glsn_end ? rep->d.hwm + 1 : sub->glsn_end;
        vl_wbuf_t *data = &self->sub_data;
        data->len = 0;
        uint32_t n = 0;
        bool more = false;
        int rc = 0;
        if (sub->cur.glsn < limit)
            rc = vl_store_read_committed(self->store, rep->ls_id, &sub->cur, limit,
                                         S_SUB_MAX_ENTRIES, S_SUB_MAX_BYTES, pos, data, &n, &more);
        if (rc) {
            vl_sn_reply_error(self, sub->rid, &sub->req, rc, "SUBSCRIBE ls=%u: %s", rep->ls_id,
                              vl_store_errmsg());
            vl_sn_sub_remove(self, sub);
            return false;
        }
        /* The stream ends itself only when everything of this LS below
           glsn_end is known to be sent. */
        bool last = sub->cur.glsn >= sub->glsn_end || (!more && limit == sub->glsn_end);
        if (n == 0 && !last)
            return true; /* wait for commits */
        vl_sub_data_t d = {.last = last, .n = n, .entries = pos};
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_sub_data_encode(&d, &b);
        vl_hdr_t h = sub->req;
        h.type = VL_MSG_SUBSCRIBE | VL_MSG_REPLY;
        h.status = 0;
        h.cluster_id = self->cfg->cluster_id;
        zmsg_t *msg = vl_wire_msg(&h, &b);
        vl_wbuf_free(&b);
        int src;
        if (n > 0 && data->len >= S_SUB_OWN_BYTES) {
            /* a big payload goes as it is, and the next one gets a new
               buffer */
            void *own = data->data;
            size_t len = data->len;
            vl_wbuf_init(data);
            vl_wbuf_reserve(data, S_SUB_MAX_BYTES);
            src = s_send_owned(self, sub->rid, &msg, own, len);
        } else {
            if (n > 0)
                zmsg_addmem(msg, data->data, data->len); /* one payload frame */
            src = vl_sn_send_to(self, sub->rid, &msg);
        }
        sub->credit--;
        if (src != 0 || last) {
            vl_sn_sub_remove(self, sub);
            return false;
        }
        if (!more)
            return true;
    }
    return true;
}

void vl_sn_sub_pump_all(self_t *self, s_replica_t *rep)
{
    s_sub_t *sub = zlistx_first(rep->subs);
    while (sub) {
        /* The pump may free sub: step first. */
        s_sub_t *next = zlistx_next(rep->subs);
        s_sub_pump(self, sub);
        sub = next;
    }
}

void vl_sn_sub_on_subscribe(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_subscribe_t s;
    if (vl_subscribe_decode(body, &s) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "SUBSCRIBE: malformed body; expected topic, ls, glsn range and credit");
        return;
    }
    s_replica_t *rep = vl_sn_replica_for_read(self, rid, hdr, &s, "SUBSCRIBE");
    if (!rep)
        return;
    char key[64];
    s_sub_key(rid, hdr->request_id, key, sizeof key);
    s_sub_t *old = zhashx_lookup(self->subs, key);
    if (old)
        vl_sn_sub_remove(self, old); /* the same request id again: a restart */
    if (s.credit == 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EINVAL,
                          "SUBSCRIBE ls=%u: credit 0 lets the node send nothing; subscribe with "
                          "credit >= 1",
                          s.ls_id);
        return;
    }
    if (zhashx_size(self->subs) >= S_MAX_SUBS) {
        vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                          "SUBSCRIBE ls=%u: sn=%u already serves %d subscriptions; retry later",
                          s.ls_id, self->sn_id, S_MAX_SUBS);
        return;
    }
    uint64_t begin = s.glsn_begin ? s.glsn_begin : s_trim_point(rep);
    if (begin < s_trim_point(rep)) {
        vl_sn_reply_error(self, rid, hdr, VL_ETRIMMED,
                          "SUBSCRIBE ls=%u from glsn=%" PRIu64 ": entries below %" PRIu64
                          " are trimmed; subscribe from the trim point",
                          s.ls_id, begin, s_trim_point(rep));
        return;
    }
    s_sub_t *sub = vl_calloc(1, sizeof *sub);
    snprintf(sub->key, sizeof sub->key, "%s", key);
    sub->rid = zframe_dup(rid);
    sub->req = *hdr;
    sub->rep = rep;
    sub->glsn_end = s.glsn_end;
    sub->credit = s.credit < S_SUB_MAX_CREDIT ? s.credit : S_SUB_MAX_CREDIT;
    sub->cur.glsn = begin;
    sub->last_heard_us = vl_now_us();
    sub->handle = zlistx_add_end(rep->subs, sub);
    zhashx_insert(self->subs, sub->key, sub);
    vl_log(LOG_DEBUG, "sn=%u ls=%u: subscription %s [%" PRIu64 ", %" PRIu64 ") credit %u",
           self->sn_id, s.ls_id, key, begin, s.glsn_end, sub->credit);
    s_sub_pump(self, sub);
}

void vl_sn_sub_on_credit(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                         bool cancel)
{
    char key[64];
    s_sub_key(rid, hdr->request_id, key, sizeof key);
    s_sub_t *sub = zhashx_lookup(self->subs, key);
    if (cancel) {
        if (sub)
            vl_sn_sub_remove(self, sub);
        return;
    }
    uint32_t credit = vl_rbuf_u32(body);
    if (body->err) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "SUB_CREDIT: malformed body; expected credit u32");
        return;
    }
    if (!sub)
        return; /* the stream already ended */
    sub->last_heard_us = vl_now_us();
    if (credit == 0)
        return; /* keepalive */
    uint64_t c = (uint64_t)sub->credit + credit;
    sub->credit = c < S_SUB_MAX_CREDIT ? (uint32_t)c : S_SUB_MAX_CREDIT;
    s_sub_pump(self, sub);
}

/*  ---- LOOKUP ------------------------------------------------------------- */

void vl_sn_sub_lookup_free(s_lookup_t **l_p)
{
    s_lookup_t *l = *l_p;
    if (!l)
        return;
    zframe_destroy(&l->rid);
    free(l);
    *l_p = NULL;
}

/*  Answers LOOKUP(offset) on rep. When the entry is not found (or not
    announced) while commits are still queued for the replica, and
    may_wait, the request waits for them instead (vl_sn_sub_lookups_done): the
    append that wrote the byte may have been acknowledged already, since
    appends are answered when the COMMIT arrives, before its range is in
    the store. */
static void s_lookup_answer(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                            uint64_t offset, bool may_wait)
{
    if (offset < rep->trim_offset) {
        vl_sn_reply_error(self, rid, hdr, VL_ETRIMMED,
                          "LOOKUP ls=%u offset=%" PRIu64 ": bytes below %" PRIu64 " are trimmed",
                          rep->ls_id, offset, rep->trim_offset);
        return;
    }
    vl_entry_pos_t pos;
    bool found = false;
    int rc = vl_store_lookup_offset(self->store, rep->ls_id, offset, &pos, &found);
    if (rc) {
        vl_sn_reply_error(self, rid, hdr, rc, "LOOKUP ls=%u offset=%" PRIu64 ": %s", rep->ls_id,
                          offset, vl_store_errmsg());
        return;
    }
    if (found && pos.glsn > rep->d.hwm)
        found = false; /* not announced yet */
    if (!found && may_wait && rep->q.applied_llsn_end > rep->d.applied_llsn_end) {
        if (zlistx_size(rep->lookups) >= S_LOOKUPS_MAX) {
            vl_sn_reply_error(self, rid, hdr, VL_EBUSY,
                              "LOOKUP ls=%u offset=%" PRIu64 ": %d lookups already wait for the "
                              "commits queued on sn=%u; retry",
                              rep->ls_id, offset, S_LOOKUPS_MAX, self->sn_id);
            return;
        }
        s_lookup_t *l = vl_calloc(1, sizeof *l);
        l->rid = zframe_dup(rid);
        l->req = *hdr;
        l->offset = offset;
        l->applied = rep->q.applied_llsn_end;
        zlistx_add_end(rep->lookups, l);
        return;
    }
    vl_sub_data_t d = {.last = found, .n = 1, .entries = &pos};
    if (!found)
        memset(&pos, 0, sizeof pos);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_sub_data_encode(&d, &b);
    vl_sn_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
}

/*  A COMMIT job of rep is done: answers the LOOKUPs that waited for the
    commits now in the store (all of them when failed: the MR resends). */
void vl_sn_sub_lookups_done(self_t *self, s_replica_t *rep, bool failed)
{
    s_lookup_t *l = zlistx_first(rep->lookups);
    while (l) {
        if (failed || l->applied <= rep->d.applied_llsn_end) {
            zlistx_delete(rep->lookups, zlistx_cursor(rep->lookups));
            s_lookup_answer(self, rep, l->rid, &l->req, l->offset, false);
            vl_sn_sub_lookup_free(&l);
            l = zlistx_first(rep->lookups); /* delete resets the cursor */
            continue;
        }
        l = zlistx_next(rep->lookups);
    }
}

void vl_sn_sub_on_lookup(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_subscribe_t s;
    if (vl_subscribe_decode(body, &s) != 0) {
        vl_sn_reply_error(self, rid, hdr, VL_EPROTO,
                          "LOOKUP: malformed body; expected topic, ls and the offset");
        return;
    }
    s_replica_t *rep = vl_sn_replica_for_read(self, rid, hdr, &s, "LOOKUP");
    if (!rep)
        return;
    s_lookup_answer(self, rep, rid, hdr, s.glsn_begin, true);
}

/*  ---- SN_STATUS ---------------------------------------------------------- */

void vl_sn_sub_on_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr)
{
    vl_sn_status_t st;
    memset(&st, 0, sizeof st);
    snprintf(st.addr, sizeof st.addr, "%s", self->args->advertise);
    struct statvfs vfs;
    if (statvfs(self->args->data_dir, &vfs) == 0) {
        st.disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        st.disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    int64_t silent_ms = (vl_now_us() - self->mr_word_us) / 1000;
    if (self->fault_us) {
        st.fault = VL_SN_FAULT_DISK;
        snprintf(st.fault_why, sizeof st.fault_why, "%s", self->fault_why);
    } else if (self->sn_id && silent_ms >= VL_SN_MR_CUT_MS) {
        /* an idle node PINGs the MR after 1 s without a word, and a silent
           replica is left for the next after 1 s more: this long without
           a word from any of them, its reports do not get through and its
           log streams commit nothing (the admin seals them, unless it
           does not hear the MR either) */
        st.fault = VL_SN_FAULT_MR;
        snprintf(st.fault_why, sizeof st.fault_why,
                 "cut off from the metadata repository: no word from any of its replicas for "
                 "%lld ms",
                 (long long)silent_ms);
    }
    st.replicas = vl_calloc(zhashx_size(self->replicas) + 1, sizeof *st.replicas);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        vl_sn_replica_t *x = &st.replicas[st.n++];
        x->topic_id = rep->topic_id;
        x->ls_id = rep->ls_id;
        x->llsn_end = rep->d.llsn_end;
        x->bytes_end = rep->d.bytes_end;
        x->committed_llsn_end = rep->d.applied_llsn_end;
        x->committed_glsn_end = rep->d.hwm;
        x->trim_glsn = s_trim_point(rep);
        x->state = vl_sn_replica_state(rep);
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_sn_status_encode(&st, &b);
    vl_sn_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
    free(st.replicas);
}
