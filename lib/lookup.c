/*  lookup.c - vl_lookup_offset: the committed entry that holds a byte
    offset of a topic. One LOOKUP goes to the primary of every log stream
    at once; the one holding the byte answers found.
*/
#include "call.h"
#include "util.h"

int vl_lookup_offset(vl_client_t *c, const char *topic, uint64_t offset, uint64_t *glsn,
                     uint64_t *entry_offset)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = vl_client_topic(c, topic, true, "lookup", &t);
    if (rc != 0)
        goto out;
    if (offset < t->trim_offset) {
        rc = vl_client_fail(c, VL_ETRIMMED,
                            "lookup topic=%s offset=%llu: trimmed; the log starts at offset "
                            "%llu",
                            topic, (unsigned long long)offset, (unsigned long long)t->trim_offset);
        goto out;
    }
    if (offset >= t->end_offset) {
        rc = vl_client_fail(c, VL_ERANGE,
                            "lookup topic=%s offset=%llu: beyond the end of the log (end "
                            "offset %llu)",
                            topic, (unsigned long long)offset, (unsigned long long)t->end_offset);
        goto out;
    }
    /* ask one replica of every log stream at once; the one holding the
       byte answers found=1 */
    vl_call_t *calls = vl_calloc(t->nls ? t->nls : 1, sizeof *calls);
    size_t n = 0;
    vl_subscribe_t q = {.topic_id = t->id, .glsn_begin = offset};
    for (uint32_t i = 0; i < t->nls; i++) {
        const vl_meta_ls_t *ls = &t->ls[i];
        const vl_meta_sn_t *sn = ls->nrep ? vl_meta_sn_by_id(&c->meta, ls->replicas[0]) : NULL;
        if (ls->state == VL_LS_DELETED || !sn)
            continue;
        calls[n].addr = sn->addr;
        q.ls_id = ls->id;
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_subscribe_encode(&q, &b);
        if (vl_call_send(c, &calls[n], VL_MSG_LOOKUP, &b, NULL) == 0)
            n++;
        else
            calls[n] = (vl_call_t){0};
        vl_wbuf_free(&b);
    }
    int wrc = vl_call_wait(c, calls, n, true);
    rc = VL_EIO;
    int first_err = 0;
    char text[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (!calls[i].done)
            continue;
        if (calls[i].hdr.status != 0) {
            if (!first_err) {
                first_err = (int)calls[i].hdr.status;
                vl_wire_errtext(&calls[i].body, text, sizeof text);
            }
            continue;
        }
        vl_sub_data_t d;
        if (vl_sub_data_decode(&calls[i].body, &d) != 0)
            continue;
        if (d.last == 1 && d.n >= 1) {
            *glsn = d.entries[0].glsn;
            if (entry_offset)
                *entry_offset = d.entries[0].offset;
            rc = 0;
        }
        vl_sub_data_free(&d);
        if (rc == 0)
            break;
    }
    if (rc != 0 && first_err)
        rc = vl_client_fail(c, first_err, "lookup topic=%s offset=%llu: %s", topic,
                            (unsigned long long)offset, text);
    else if (rc != 0 && wrc == VL_ETIMEDOUT)
        rc = vl_client_fail(c, VL_ETIMEDOUT,
                            "lookup topic=%s offset=%llu: no storage node answered with the "
                            "entry within %d ms; are the storage nodes running?",
                            topic, (unsigned long long)offset, c->timeout_ms);
    else if (rc != 0)
        rc = vl_client_fail(c, VL_EIO,
                            "lookup topic=%s offset=%llu: no log stream holds that byte "
                            "(was it trimmed meanwhile?); retry",
                            topic, (unsigned long long)offset);
    vl_call_free(calls, n);
    free(calls);
out:
    vl_client_unlock(c);
    return rc;
}
