/*  append.c - vl_append: the blocking append of one batch, on the client's
    sockets and under its lock.

    The batch goes to one log stream (the one asked for, or the next
    running one, round robin) as one APPEND named by the client's id and a
    fresh batch sequence number. A log stream that refuses it because it is
    sealed (or gone) wrote nothing past what it says is committed: the rest
    goes to another running log stream (unless ls_id pinned one). A batch
    that gets no reply is resolved as the appender does (batch.h): the
    replicas of its log stream are asked what became of it, and once the
    log stream is sealed the part that is not in the log moves on too.
    While the log stream runs, the batch is also resent to its primary
    under the same name (every timeout): a primary that holds the name
    answers with the batch's outcome instead of appending it again.
*/
#include <string.h>
#include "batch.h"
#include "call.h"
#include "util.h"

/*  Sends entries data[from..n) as batch bseq to log stream ls_id of topic
    topic_id on call (its addr set): the entries back to back in one
    payload frame, their sizes in the body. Returns vl_call_send's code. */
static int s_append_send(vl_client_t *c, vl_call_t *call, uint32_t topic_id, uint32_t ls_id,
                         uint32_t epoch, uint64_t bseq, const void *const *data, const size_t *len,
                         size_t from, size_t n)
{
    size_t total_len = 0;
    for (size_t i = from; i < n; i++)
        total_len += len[i];
    uint8_t *sizes = vl_malloc(4 * (n - from) + 1);
    zframe_t *frame = zframe_new(NULL, total_len);
    uint8_t *p = zframe_data(frame);
    for (size_t i = from; i < n; i++) {
        vl_put_le32(sizes + 4 * (i - from), (uint32_t)len[i]);
        if (len[i])
            memcpy(p, data[i], len[i]);
        p += len[i];
    }
    vl_append_t a = {.topic_id = topic_id,
                     .ls_id = ls_id,
                     .client_id = c->client_id,
                     .batch_seq = bseq,
                     .epoch = epoch,
                     .n = (uint32_t)(n - from),
                     .sizes = sizes};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_encode(&a, false, &b);
    free(sizes);
    zmsg_t *payload = zmsg_new();
    if (n > from)
        zmsg_append(payload, &frame);
    zframe_destroy(&frame);
    int rc = vl_call_send(c, call, VL_MSG_APPEND, &b, payload);
    vl_wbuf_free(&b);
    return rc;
}

/*  Asks the replica at addr what became of batch bseq (want entries) sent
    to log stream ls_id of topic topic_id: 0 when it is committed
    (glsns[0..want) filled), VL_ESEALED when only the first *head entries
    are in the log (their GLSNs filled), VL_ETIMEDOUT when it does not know
    yet (or did not answer). Caller holds the lock. */
/*  The BATCH_STATUS hint for log stream ls_id: the highest LLSN at which
    an answered batch of this client began there (0: none known). */
static uint64_t s_hint_get(const vl_client_t *c, uint32_t ls_id)
{
    for (size_t i = 0; i < sizeof c->hint_ls / sizeof c->hint_ls[0]; i++)
        if (c->hint_ls[i] == ls_id)
            return c->hint_llsn[i];
    return 0;
}

static void s_hint_put(vl_client_t *c, uint32_t ls_id, uint64_t llsn)
{
    size_t n = sizeof c->hint_ls / sizeof c->hint_ls[0], i = 0;
    while (i < n && c->hint_ls[i] != ls_id)
        i++;
    if (i == n) {
        i = c->hint_next++ % n;
        c->hint_ls[i] = ls_id;
        c->hint_llsn[i] = 0;
    }
    if (llsn > c->hint_llsn[i])
        c->hint_llsn[i] = llsn;
}

static int s_append_ask(vl_client_t *c, uint32_t topic_id, uint32_t ls_id, uint64_t bseq,
                        char addrs[][VL_WIRE_MAX_ADDR + 1], uint32_t naddr, size_t want,
                        uint64_t *glsns, size_t *head)
{
    int rc = VL_ETIMEDOUT;
    vl_batch_status_t q = {.topic_id = topic_id,
                           .ls_id = ls_id,
                           .client_id = c->client_id,
                           .batch_seq = bseq,
                           .llsn_hint = c->append_hint};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_encode(&q, &b);
    vl_call_t calls[VL_WIRE_MAX_REPLICAS];
    memset(calls, 0, sizeof calls);
    uint32_t n = 0;
    for (uint32_t i = 0; i < naddr && n < VL_WIRE_MAX_REPLICAS; i++) {
        calls[n].addr = addrs[i];
        if (vl_call_send(c, &calls[n], VL_MSG_BATCH_STATUS, &b, NULL) == 0)
            n++;
    }
    vl_wbuf_free(&b);
    /* a dead replica must not hold us long; a final answer (its first
       byte, as LOOKUP's found) ends the wait */
    c->timeout_ms = 500;
    if (n > 0)
        vl_call_wait(c, calls, n, true);
    for (uint32_t i = 0; i < n && rc == VL_ETIMEDOUT; i++) {
        vl_batch_status_reply_t r;
        if (!calls[i].done || calls[i].hdr.status != 0 ||
            vl_batch_status_reply_decode(&calls[i].body, &r) != 0)
            continue;
        uint64_t covered;
        vl_batch_fate_t fate = vl_batch_fate(&r, want, &covered);
        if (fate != VL_BATCH_UNKNOWN) {
            *head = vl_batch_glsns(&r.ar, glsns, want);
            rc = fate == VL_BATCH_COMMITTED ? 0 : VL_ESEALED;
        }
        vl_append_reply_free(&r.ar);
    }
    vl_call_free(calls, n);
    return rc;
}

/*  The APPEND of batch bseq (want entries) to ls_id got no reply: asks
    the replicas what became of it, as the appender does (appender.c): 0
    when it is committed (glsns[0..want) filled); VL_ESEALED when the log
    stream is sealed and only the first *head entries (their GLSNs filled)
    are in the log, the rest never will be; VL_ETIMEDOUT when the log
    stream was not sealed in time and the batch may still be committed.
    Caller holds the lock. */
/*  Resends entries data[from..n) as batch bseq (the same name) to the
    primary at addr of log stream ls_id, in its current epoch, which
    answers a name it holds with the batch's outcome: 0 when the batch is
    committed (glsns[0..want) filled), VL_ETIMEDOUT otherwise (no answer,
    or a refusal, which says nothing of the first send). In a later epoch
    than the first send's the batch is either in the log up to the sealed
    end (its name reloaded from the store: answered) or was discarded (and
    its first send, of the old epoch, is refused): never twice. Caller
    holds the lock. */
static int s_append_resend(vl_client_t *c, uint32_t topic_id, uint32_t ls_id, uint32_t epoch,
                           uint64_t bseq, const char *addr, const void *const *data,
                           const size_t *len, size_t from, size_t n, uint64_t *glsns)
{
    vl_call_t call = {.addr = addr};
    int rc = s_append_send(c, &call, topic_id, ls_id, epoch, bseq, data, len, from, n);
    if (rc == 0)
        rc = vl_call_wait(c, &call, 1, false);
    vl_append_reply_t r;
    if (rc == 0 && call.hdr.status == 0 && vl_append_reply_decode(&call.body, &r) == 0) {
        if (vl_batch_count(&r) == n - from) {
            vl_batch_glsns(&r, glsns, n - from);
            s_hint_put(c, ls_id, r.llsn_begin);
        } else
            rc = VL_ETIMEDOUT;
        vl_append_reply_free(&r);
    } else
        rc = VL_ETIMEDOUT;
    vl_call_free(&call, 1);
    return rc;
}

static int s_append_resolve(vl_client_t *c, const char *topic, uint32_t ls_id, uint64_t bseq,
                            const void *const *data, const size_t *len, size_t from, size_t n,
                            uint64_t *glsns, size_t *head)
{
    size_t want = n - from;
    int64_t next_resend = zclock_mono();
    int64_t start = zclock_mono();
    int64_t window = vl_batch_resolve_ms(c->timeout_ms);
    int saved_timeout = c->timeout_ms;
    int rc = VL_ETIMEDOUT;
    while (zclock_mono() - start < window) {
        const vl_meta_topic_t *t;
        /* whom to ask: the primary while the log stream runs, else every
           replica at once (a dead one costs no turn) */
        char addrs[VL_WIRE_MAX_REPLICAS][VL_WIRE_MAX_ADDR + 1];
        uint32_t naddr = 0;
        bool running = false;
        uint32_t epoch = 0;
        c->timeout_ms = saved_timeout;
        if (vl_client_topic(c, topic, true, "append", &t) == 0)
            for (uint32_t i = 0; i < t->nls; i++) {
                const vl_meta_ls_t *ls = &t->ls[i];
                if (ls->id != ls_id || ls->nrep == 0)
                    continue;
                running = ls->state == VL_LS_RUNNING;
                epoch = ls->epoch; /* a resend in a later epoch is safe: see
                                      s_append_resend */
                uint32_t count = running ? 1 : ls->nrep;
                for (uint32_t j = 0; j < count && j < VL_WIRE_MAX_REPLICAS; j++) {
                    uint32_t k = (vl_batch_replica(ls->state, ls->nrep, 0) + j) % ls->nrep;
                    const vl_meta_sn_t *sn = vl_meta_sn_by_id(&c->meta, ls->replicas[k]);
                    if (sn)
                        snprintf(addrs[naddr++], sizeof addrs[0], "%s", sn->addr);
                }
            }
        const char *addr = naddr ? addrs[0] : "";
        if (*addr && running && zclock_mono() >= next_resend) {
            /* idempotent: the primary answers a name it holds */
            next_resend = zclock_mono() + saved_timeout;
            c->timeout_ms = saved_timeout < 1000 ? saved_timeout : 1000;
            rc = s_append_resend(c, t->id, ls_id, epoch, bseq, addr, data, len, from, n, glsns);
            if (rc == 0) {
                *head = want;
                break;
            }
        }
        if (naddr) {
            rc = s_append_ask(c, t->id, ls_id, bseq, addrs, naddr, want, glsns, head);
            if (rc != VL_ETIMEDOUT)
                break;
        }
        zclock_sleep(VL_BATCH_QUERY_MS);
    }
    c->timeout_ms = saved_timeout;
    c->meta_stale = true;
    if (rc == VL_ESEALED)
        return vl_client_fail(c, rc,
                              "append topic=%s ls=%u: no reply from its primary; the log stream "
                              "was sealed with %zu of the batch's %zu entries committed, the "
                              "others are not in the log",
                              topic, ls_id, *head, want);
    if (rc == VL_ETIMEDOUT)
        return vl_client_fail(c, rc,
                              "append topic=%s ls=%u: no reply from its primary within %d ms, "
                              "and the log stream was not sealed within %lld ms more to settle "
                              "the batch; the storage node may be down or slow (the batch may "
                              "still be committed later: check before appending it again)",
                              topic, ls_id, saved_timeout, (long long)window);
    return 0;
}

/*  Waits for the reply to call, an APPEND to log stream ls_id of topic,
    for the client's timeout. Once it has been unanswered for
    S_UNANSWERED_MS, the metadata is fetched every S_CHECK_MS: a log stream
    sealed meanwhile has lost its primary (a live one answers at once, the
    seal included), so the wait ends there and the batch is resolved
    (VL_ETIMEDOUT, the socket dropped as a timeout drops it; the replicas
    are asked at once) instead of after the whole timeout. Returns 0 or
    VL_ETIMEDOUT. Caller holds the lock; the metadata may be replaced. */
#define S_UNANSWERED_MS 1000
#define S_CHECK_MS 200
static int s_append_wait(vl_client_t *c, vl_call_t *call, const char *topic, uint32_t ls_id)
{
    int64_t start = zclock_mono();
    int64_t deadline = start + c->timeout_ms;
    int64_t check = start + S_UNANSWERED_MS;
    for (;;) {
        int64_t now = zclock_mono();
        if (check >= deadline)
            return vl_call_wait_ms(c, call, 1, deadline - now, true);
        int rc = vl_call_wait_ms(c, call, 1, check - now, false);
        if (rc != VL_ETIMEDOUT)
            return rc;
        const vl_meta_topic_t *t;
        int saved_timeout = c->timeout_ms;
        c->timeout_ms = (int)(deadline - zclock_mono() > 0 ? deadline - zclock_mono() : 1);
        bool sealed = false;
        if (vl_client_topic(c, topic, true, "append", &t) == 0)
            for (uint32_t i = 0; i < t->nls; i++)
                if (t->ls[i].id == ls_id)
                    sealed = t->ls[i].state != VL_LS_RUNNING;
        c->timeout_ms = saved_timeout;
        if (sealed)
            return vl_call_wait_ms(c, call, 1, 0, true);
        check = zclock_mono() + S_CHECK_MS;
    }
}

/*  One APPEND of entries data[from..n) to log stream ls_id of topic t at
    addr. On 0 or VL_ESEALED, *head gets how many of them are committed
    and glsns[from..from+*head) their GLSNs (VL_ESEALED: a seal cut the
    batch after that head; the rest is not in the log). Caller holds the
    lock. */
static int s_append_once(vl_client_t *c, const char *topic, const vl_meta_topic_t *t,
                         uint32_t ls_id, const char *addr, const void *const *data,
                         const size_t *len, size_t from, size_t n, uint64_t *glsns, size_t *head)
{
    *head = 0;
    uint64_t bseq = ++c->next_bseq;
    c->append_hint = s_hint_get(c, ls_id); /* answered before this send */
    vl_call_t call = {.addr = addr};
    uint32_t epoch = 0;
    for (uint32_t i = 0; i < t->nls; i++)
        if (t->ls[i].id == ls_id)
            epoch = t->ls[i].epoch;
    int rc = s_append_send(c, &call, t->id, ls_id, epoch, bseq, data, len, from, n);
    if (rc == 0)
        rc = s_append_wait(c, &call, topic, ls_id); /* t may be replaced from here on */
    vl_append_reply_t r = {0};
    bool have_runs = false;
    if (rc == VL_EINVAL)
        rc = vl_client_fail(c, VL_EINVAL,
                            "append topic=%s ls=%u: cannot connect to storage node '%s': "
                            "not a valid ZeroMQ endpoint; fix its address with varlogctl sn",
                            topic, ls_id, call.addr);
    else if (rc == VL_EIO)
        rc = vl_client_fail(c, rc, "append topic=%s ls=%u: cannot send to %s", topic, ls_id,
                            call.addr);
    else if (rc == VL_ETIMEDOUT) {
        /* the batch may be written: ask what became of it (t may be
           replaced by a metadata fetch from here on) */
        vl_call_free(&call, 1);
        return s_append_resolve(c, topic, ls_id, bseq, data, len, from, n,
                                glsns ? glsns + from : NULL, head);
    } else if (call.hdr.status != 0) {
        char text[512];
        vl_rbuf_t rest = call.body;
        vl_wire_errtext(&call.body, text, sizeof text);
        rc = vl_client_fail(c, (int)call.hdr.status, "append topic=%s ls=%u: %s", topic, ls_id,
                            text);
        c->meta_stale = true;
        if (rc == VL_ESEALED && vl_batch_sealed_head(rest, &r) == 0)
            have_runs = true;
    } else {
        if (vl_append_reply_decode(&call.body, &r) == 0)
            have_runs = true;
        else
            rc = VL_EPROTO;
    }
    if (have_runs) {
        uint64_t total = vl_batch_count(&r);
        if ((rc == 0 && total != n - from) || (rc == VL_ESEALED && total >= n - from))
            rc = vl_client_fail(c, VL_EPROTO,
                                "append topic=%s ls=%u: malformed APPEND reply from %s (%llu "
                                "GLSNs for %zu entries)",
                                topic, ls_id, call.addr, (unsigned long long)total, n - from);
        else
            *head = vl_batch_glsns(&r, glsns ? glsns + from : NULL, n - from);
        if (rc == 0)
            s_hint_put(c, ls_id, r.llsn_begin);
        vl_append_reply_free(&r);
    } else if (rc == VL_EPROTO) {
        rc = vl_client_fail(c, VL_EPROTO, "append topic=%s ls=%u: malformed APPEND reply from %s",
                            topic, ls_id, call.addr);
    }
    vl_call_free(&call, 1);
    return rc;
}

/*  The limits of one batch: a valid topic name, at most
    VL_WIRE_MAX_ENTRIES entries of at most the maximum entry size, at most
    VL_WIRE_MAX_PAYLOAD bytes. */
static int s_append_check(vl_client_t *c, const char *topic, const size_t *len, size_t n)
{
    if (!topic || !vl_topic_name_valid(topic))
        return vl_client_fail(c, VL_ENAME, "append topic=%s: %s", topic ? topic : "(null)",
                              vl_err_str(VL_ENAME));
    if (n > VL_WIRE_MAX_ENTRIES)
        return vl_client_fail(c, VL_EINVAL,
                              "append topic=%s: %zu entries in one batch; at most %u fit in "
                              "one message (split the batch)",
                              topic, n, (unsigned)VL_WIRE_MAX_ENTRIES);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (len[i] > VL_MAX_ENTRY_SIZE_DEFAULT)
            return vl_client_fail(c, VL_ETOOBIG,
                                  "append topic=%s: entry %zu is %zu bytes; the maximum entry "
                                  "size is %u bytes (split it)",
                                  topic, i, len[i], (unsigned)VL_MAX_ENTRY_SIZE_DEFAULT);
        total += len[i];
    }
    if (total > VL_WIRE_MAX_PAYLOAD)
        return vl_client_fail(c, VL_EINVAL,
                              "append topic=%s: %zu bytes in one batch; at most %u bytes fit in "
                              "one message (split the batch)",
                              topic, total, (unsigned)VL_WIRE_MAX_PAYLOAD);
    return 0;
}

/*  The log stream of topic *t_p to send to: ls_id when not 0 (fetching
    fresh metadata once when the cache does not know it), else the next
    running one, round robin, other than refused. Caller holds the lock. */
static int s_append_pick(vl_client_t *c, const char *topic, uint32_t ls_id, uint32_t refused,
                         const vl_meta_topic_t **t_p, const vl_meta_ls_t **ls_p)
{
    const vl_meta_topic_t *t = *t_p;
    const vl_meta_ls_t *ls = NULL;
    int rc;
    *ls_p = NULL;
    if (ls_id) {
        for (int pass = 0; pass < 2 && !ls; pass++) {
            for (uint32_t i = 0; i < t->nls && !ls; i++)
                if (t->ls[i].id == ls_id)
                    ls = &t->ls[i];
            if (!ls && pass == 0 && (rc = vl_client_topic(c, topic, true, "append", t_p)) != 0)
                return rc;
            t = *t_p;
        }
        if (!ls)
            return vl_client_fail(c, VL_ENOLS,
                                  "append topic=%s ls=%u: the topic has no such log stream "
                                  "(see `varlogctl ls list %s`)",
                                  topic, ls_id, topic);
    } else {
        uint32_t nrun = 0;
        for (uint32_t i = 0; i < t->nls; i++)
            nrun += t->ls[i].state == VL_LS_RUNNING && t->ls[i].id != refused;
        if (nrun == 0) {
            rc = vl_client_fail(c, t->nls ? VL_ESEALED : VL_ENOLS,
                                "append topic=%s: no running log stream (%u sealed or "
                                "deleted); unseal one or add one with `varlogctl ls add %s`",
                                topic, t->nls, topic);
            c->meta_stale = true;
            return rc;
        }
        uint32_t k = c->rr++ % nrun;
        for (uint32_t i = 0; i < t->nls && !ls; i++)
            if (t->ls[i].state == VL_LS_RUNNING && t->ls[i].id != refused && k-- == 0)
                ls = &t->ls[i];
    }
    *ls_p = ls;
    return 0;
}

int vl_append(vl_client_t *c, const char *topic, uint32_t ls_id, const void *const *data,
              const size_t *len, size_t n, uint64_t *glsns)
{
    if (n == 0)
        return 0;
    int rc = s_append_check(c, topic, len, n);
    if (rc != 0)
        return rc;
    if (glsns)
        memset(glsns, 0, n * sizeof *glsns);
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    rc = vl_client_topic(c, topic, false, "append", &t);
    if (rc != 0)
        goto out;
    /* A log stream that refuses the batch because it is sealed (or gone)
       wrote nothing past what it says is committed: the rest goes to
       another running log stream (unless ls_id pinned one). So does the
       part of an unanswered batch that the replicas of the sealed log
       stream say is not in the log (s_append_resolve). */
    size_t done = 0;
    uint32_t refused = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        const vl_meta_ls_t *ls;
        if ((rc = s_append_pick(c, topic, ls_id, refused, &t, &ls)) != 0)
            goto out;
        uint32_t this_ls = ls->id;
        const vl_meta_sn_t *sn = ls->nrep ? vl_meta_sn_by_id(&c->meta, ls->replicas[0]) : NULL;
        if (!sn) {
            c->meta_stale = true;
            rc = vl_client_fail(c, VL_EUNAVAIL,
                                "append topic=%s ls=%u: the metadata names no address for the "
                                "primary storage node; check `varlogctl sn list`",
                                topic, this_ls);
            goto out;
        }
        char addr[VL_WIRE_MAX_ADDR + 1];
        snprintf(addr, sizeof addr, "%s", sn->addr);
        size_t head = 0;
        rc = s_append_once(c, topic, t, this_ls, addr, data, len, done, n, glsns, &head);
        done += head;
        if (rc == 0 || ls_id || !vl_batch_movable(rc))
            break;
        /* fresh metadata: the refused log stream shows its new state */
        refused = this_ls;
        int rc2 = vl_client_topic(c, topic, true, "append", &t);
        if (rc2 != 0) {
            rc = rc2;
            break;
        }
    }
out:
    vl_client_unlock(c);
    return rc;
}

/*  Asks the primary of log stream ls of topic t for batch (name_client,
    name_seq): 0 with *n (0: not there), VL_EBUSY (written, not all
    committed), or the call's failure. Caller holds the lock. */
static int s_find_ask(vl_client_t *c, const char *topic, const vl_meta_topic_t *t,
                      const vl_meta_ls_t *ls, uint64_t name_client, uint64_t name_seq,
                      uint64_t *first_glsn, size_t *n)
{
    const vl_meta_sn_t *sn = ls->nrep ? vl_meta_sn_by_id(&c->meta, ls->replicas[0]) : NULL;
    if (!sn)
        return vl_client_fail(c, VL_EUNAVAIL,
                              "find batch topic=%s ls=%u: the metadata names no primary; check "
                              "`varlogctl sn list`",
                              topic, ls->id);
    vl_batch_status_t q = {
        .topic_id = t->id, .ls_id = ls->id, .client_id = name_client, .batch_seq = name_seq};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_encode(&q, &b);
    vl_call_t call = {.addr = sn->addr};
    int rc = vl_call_send(c, &call, VL_MSG_BATCH_STATUS, &b, NULL);
    vl_wbuf_free(&b);
    if (rc == 0)
        rc = vl_call_wait(c, &call, 1, false);
    vl_batch_status_reply_t r;
    if (rc == 0 && call.hdr.status != 0)
        rc = vl_client_fail(c, (int)call.hdr.status, "find batch topic=%s ls=%u at %s: %s", topic,
                            ls->id, call.addr, vl_err_str((int)call.hdr.status));
    else if (rc == 0 && vl_batch_status_reply_decode(&call.body, &r) != 0)
        rc = vl_client_fail(c, VL_EPROTO, "find batch topic=%s ls=%u: malformed reply from %s",
                            topic, ls->id, call.addr);
    else if (rc == 0) {
        if (r.found && r.n > 0) {
            uint64_t got = vl_batch_count(&r.ar);
            if (got < r.n || r.ar.nruns == 0) {
                rc = VL_EBUSY;
            } else if (r.ar.nruns > 1) {
                rc = vl_client_fail(c, VL_EPROTO,
                                    "find batch topic=%s ls=%u: the batch was committed in %u "
                                    "pieces, not at contiguous GLSNs",
                                    topic, ls->id, r.ar.nruns);
            } else {
                *first_glsn = r.ar.runs[0].glsn_begin;
                *n = r.n;
            }
        }
        vl_append_reply_free(&r.ar);
    } else {
        rc = vl_client_fail(c, rc, "find batch topic=%s ls=%u: no answer from %s (%s)", topic,
                            ls->id, call.addr, vl_err_str(rc));
    }
    vl_call_free(&call, 1);
    return rc;
}

int vl_batch_find(vl_client_t *c, const char *topic, uint64_t name_client, uint64_t name_seq,
                  uint64_t *first_glsn, size_t *n)
{
    *first_glsn = 0;
    *n = 0;
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = vl_client_topic(c, topic, true, "find batch", &t);
    for (uint32_t i = 0; rc == 0 && i < t->nls && *n == 0; i++)
        rc = s_find_ask(c, topic, t, &t->ls[i], name_client, name_seq, first_glsn, n);
    vl_client_unlock(c);
    return rc;
}
