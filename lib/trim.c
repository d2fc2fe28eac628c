/*  trim.c - vl_trim: deletes a prefix of a topic. The MR records the new
    trim point with its byte offset, so trimming before the high watermark
    first reads the entry at the new trim point for its offset, through a
    subscriber that works under the client's lock (the whole call holds it,
    like every call of the client).
*/
#include <string.h>
#include "client_i.h"
#include "subscriber_i.h"

int vl_trim(vl_client_t *c, const char *topic, uint64_t glsn)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = vl_client_topic(c, topic, true, "trim", &t);
    if (rc != 0)
        goto out;
    if (glsn > t->hwm) {
        rc = vl_client_fail(c, VL_ERANGE,
                            "trim topic=%s: GLSN %llu is beyond the high watermark %llu", topic,
                            (unsigned long long)glsn, (unsigned long long)t->hwm);
        goto out;
    }
    if (glsn + 1 <= t->trim_glsn)
        goto out; /* already trimmed there */
    uint32_t topic_id = t->id;
    uint64_t offset = t->end_offset;
    if (glsn < t->hwm) {
        /* the new trim point's byte offset: read the entry g+1 itself */
        vl_subscriber_t *sub = NULL;
        rc = vl_subscriber_open(c, topic, glsn + 1, glsn + 2, true, &sub);
        if (rc == 0) {
            vl_entry_t e;
            rc = vl_subscriber_next(sub, &e, c->timeout_ms);
            if (rc == 0)
                offset = e.offset;
            vl_subscriber_destroy(&sub);
        }
        if (rc != 0) {
            rc = vl_client_fail(c, rc == VL_EEOF ? VL_EPROTO : rc,
                                "trim topic=%s: reading GLSN %llu for its offset: %s", topic,
                                (unsigned long long)glsn + 1, vl_client_errmsg(c));
            goto out;
        }
    }
    vl_admin_t a = {.id = topic_id, .glsn = glsn + 1, .offset = offset};
    snprintf(a.name, sizeof a.name, "%s", topic);
    char what[300];
    snprintf(what, sizeof what, "trim topic=%s glsn=%llu", topic, (unsigned long long)glsn);
    rc = vl_client_admin(c, VL_MSG_TRIM, &a, NULL, what);
out:
    vl_client_unlock(c);
    return rc;
}
