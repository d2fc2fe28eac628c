/*  admin.c - the metadata repository's admin operations: topics, storage
    nodes, log streams (add, seal, unseal, update) and trim.

    An admin request waits until the state is quiet (lead.c: no proposal
    in flight, memory equal to the store): a metadata change writes the
    committed ends from memory, and seal and trim read the history, so
    neither may see a round that is not applied yet. Then the change is
    made in memory and its write proposed (s_commit); the reply, the log
    line and the META push wait until it is applied. If it fails, memory
    is reloaded from the store and the request answered with a retryable
    error (lead.c). A request that changes nothing is answered at once.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include "log.h"
#include "persist.h"
#include "server_i.h"
#include "state.h"
#include "util.h"
#include "wire.h"

/*  ---- replication of metadata changes ------------------------------------------ */

/*  Proposes the metadata of memory (just changed), deleting the history
    of topic drop_topic (0: none) and of log streams drop_ls[0..ndrop_ls);
    once applied, sends reply (taken), forgets storage node drop_sn as a
    peer (0: none), logs the line fmt at level and pushes META. */
static void s_commit(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t drop_topic,
                     const uint32_t *drop_ls, size_t ndrop_ls, zmsg_t **reply_p, uint32_t drop_sn,
                     int level, const char *fmt, ...) __attribute__((format(printf, 10, 11)));
static void s_commit(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t drop_topic,
                     const uint32_t *drop_ls, size_t ndrop_ls, zmsg_t **reply_p, uint32_t drop_sn,
                     int level, const char *fmt, ...)
{
    s_admin_op_t *op = vl_calloc(1, sizeof *op);
    op->rid = zframe_dup(rid);
    op->hdr = *req;
    op->reply = *reply_p;
    *reply_p = NULL;
    op->drop_sn = drop_sn;
    op->log_level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->note, sizeof op->note, fmt, ap);
    va_end(ap);
    vl_persist_batch_t *batch = vl_persist_meta_batch(self->state, drop_topic, drop_ls, ndrop_ls);
    vl_mr_lead_propose_meta(self, &batch, &op);
}

/*  ---- handlers ------------------------------------------------------------------ */

static void s_on_create_topic(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    char err[512];
    uint32_t id;
    int rc = vl_mrstate_topic_create(self->state, a->name, a->nls, a->rf, &id, err, sizeof err);
    if (rc != 0) {
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self->state, id);
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, id);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_INFO,
             "mr: topic=%u name=%s created with %u log streams, rf %u", id, t->name, t->nls, t->rf);
}

static void s_on_delete_topic(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        vl_mr_server_reply_error(
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
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, id);
    s_commit(self, rid, hdr, id, ls_ids, nls, &reply, 0, LOG_INFO,
             "mr: topic=%u name=%.64s deleted", id, a->name);
    free(ls_ids);
}

static void s_on_add_sn(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    uint32_t id = 0;
    int rc = vl_mrstate_sn_add(self->state, a->addr, &id);
    if (rc == VL_EEXIST) {
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "add storage node %s: already registered as sn %u", a->addr, id);
        return;
    }
    if (rc != 0) {
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "add storage node: the address must not be empty (give its "
                                 "tcp://HOST:PORT)");
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, id);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_INFO, "mr: sn=%u addr=%s added", id,
             a->addr);
}

static void s_on_remove_sn(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    int rc = vl_mrstate_sn_remove(self->state, a->id);
    if (rc == VL_ENOSN) {
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "remove storage node %u: no such storage node; list them with "
                                 "'varlogctl sn list'",
                                 a->id);
        return;
    }
    if (rc == VL_EBUSY) {
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "remove storage node %u: it still hosts replicas of log streams; "
                                 "delete the topics that use it first",
                                 a->id);
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, a->id);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, a->id, LOG_INFO, "mr: sn=%u removed", a->id);
}

static void s_on_add_ls(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        vl_mr_server_reply_error(self, rid, hdr, VL_ENOTOPIC,
                                 "add log stream to '%.64s': no such topic; create it first",
                                 a->name);
        return;
    }
    char err[512];
    uint32_t ls_id;
    uint32_t topic_id = t->id;
    int rc = vl_mrstate_ls_add(self->state, topic_id, &ls_id, err, sizeof err);
    if (rc != 0) {
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, ls_id);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_INFO, "mr: topic=%u ls=%u added", topic_id,
             ls_id);
}

static void s_on_trim(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    char err[512];
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self->state, a->id);
    vl_persist_range_t range;
    bool found = false;
    uint64_t held_from = 0;
    /* the range is needed only for a glsn that is committed and not yet
       trimmed; trim_check reports the other cases itself */
    if (t && a->glsn > t->trim_glsn && a->glsn <= t->hwm) {
        if (vl_persist_trim_range(self->persist, t->id, a->glsn, &range, &found, &held_from, err,
                                  sizeof err) != 0) {
            vl_mr_server_reply_error(self, rid, hdr, VL_ESTORE, "trim: %s", err);
            return;
        }
        if (!found && held_from > 0) {
            vl_mr_server_reply_error(
                self, rid, hdr, VL_ERANGE,
                "trim '%s' to %" PRIu64 ": this MR replica lacks the commit history there (it "
                "was restored from a raft snapshot, which carries the newest history only) and "
                "holds it from GLSN %" PRIu64 " on; trim to %" PRIu64 " or later, or retry "
                "when another MR replica leads",
                t->name, a->glsn, held_from, held_from);
            return;
        }
    }
    bool noop;
    int rc = vl_mrstate_trim_check(self->state, a->id, a->glsn, a->offset,
                                   found ? &range.item : NULL, &noop, err, sizeof err);
    if (rc != 0) {
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, a->id);
    if (noop) {
        s_send(self, rid, &reply);
        return;
    }
    vl_mrstate_trim_apply(self->state, a->id, a->glsn, a->offset);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_INFO,
             "mr: topic=%u trimmed: first glsn kept %" PRIu64 " at offset %" PRIu64, a->id, a->glsn,
             a->offset);
}

/*  The log stream a->id of topic a->name, or NULL after an error reply. */
static vl_mrstate_ls_t *s_admin_ls(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                   const vl_admin_t *a, vl_mrstate_topic_t **topic_p)
{
    const char *what = vl_wire_type_name(hdr->type);
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_name(self->state, a->name);
    if (!t) {
        vl_mr_server_reply_error(
            self, rid, hdr, VL_ENOTOPIC,
            "%s '%.64s' ls=%u: no such topic; list topics with 'varlogctl topic list'", what,
            a->name, a->id);
        return NULL;
    }
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self->state, a->id);
    if (!ls || ls->topic_id != t->id) {
        vl_mr_server_reply_error(
            self, rid, hdr, VL_ENOLS,
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
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    bool changed = !was_sealed || ls->seal_sn != was_seal_sn;
    /* the sealed end is the committed end, which the store's history
       holds: the state is quiet */
    vl_seal_reply_t r = {
        .ls_id = ls_id, .llsn_end = ls->committed_llsn_end, .glsn_end = s_ls_glsn_end(self, ls)};
    vl_hdr_t h = vl_mr_server_reply_hdr(self, hdr);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_seal_reply_encode(&r, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    if (!changed) {
        s_send(self, rid, &msg);
        return;
    }
    if (was_sealed) /* a seal by hand takes over an automatic one */
        s_commit(self, rid, hdr, 0, NULL, 0, &msg, 0, LOG_INFO,
                 "mr: topic=%u ls=%u sealed by hand now", topic_id, ls_id);
    else
        s_commit(self, rid, hdr, 0, NULL, 0, &msg, 0, LOG_NOTICE,
                 "mr: topic=%u ls=%u sealed at llsn=%" PRIu64 " glsn=%" PRIu64 " bytes=%" PRIu64
                 "%s",
                 topic_id, ls_id, r.llsn_end, r.glsn_end, ls->committed_bytes,
                 ls->seal_sn ? " (by varlogadm: a storage node is down)" : "");
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
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, ls_id);
    if (was_running)
        s_send(self, rid, &reply);
    else
        s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_NOTICE, "mr: topic=%u ls=%u unsealed",
                 topic_id, ls_id);
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
        vl_mr_server_reply_error(self, rid, hdr, rc, "%s", err);
        return;
    }
    zmsg_t *reply = vl_mr_server_id_msg(self, hdr, ls_id);
    s_commit(self, rid, hdr, 0, NULL, 0, &reply, 0, LOG_NOTICE,
             "mr: topic=%u ls=%u replica sn=%u replaced by sn=%u", topic_id, ls_id, a->sn_from,
             a->sn_to);
}

void vl_mr_admin_handle(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_admin_t a;
    if (vl_admin_decode(body, &a) != 0) {
        vl_mr_server_reply_error(
            self, rid, hdr, VL_EPROTO,
            "%s: malformed body; expected name, addr, id, nls, rf, glsn, offset",
            vl_wire_type_name(hdr->type));
        return;
    }
    vl_mr_lead_wait(self, rid, hdr, 0, &a);
}

void vl_mr_admin_run(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_admin_t *a)
{
    switch (hdr->type) {
    case VL_MSG_CREATE_TOPIC:
        s_on_create_topic(self, rid, hdr, a);
        break;
    case VL_MSG_DELETE_TOPIC:
        s_on_delete_topic(self, rid, hdr, a);
        break;
    case VL_MSG_ADD_SN:
        s_on_add_sn(self, rid, hdr, a);
        break;
    case VL_MSG_REMOVE_SN:
        s_on_remove_sn(self, rid, hdr, a);
        break;
    case VL_MSG_ADD_LS:
        s_on_add_ls(self, rid, hdr, a);
        break;
    case VL_MSG_TRIM:
        s_on_trim(self, rid, hdr, a);
        break;
    case VL_MSG_SEAL:
        s_on_seal(self, rid, hdr, a);
        break;
    case VL_MSG_UNSEAL:
        s_on_unseal(self, rid, hdr, a);
        break;
    case VL_MSG_UPDATE_LS:
        s_on_update_ls(self, rid, hdr, a);
        break;
    default:
        break;
    }
}
