/*  batch.c - what became of a batch of appended entries: the rules that
    vl_append and the appender share (see batch.h).
*/
#include "batch.h"

vl_batch_fate_t vl_batch_fate(const vl_batch_status_reply_t *r, uint64_t want, uint64_t *covered_p)
{
    uint64_t covered = vl_batch_count(&r->ar);
    *covered_p = covered;
    if (r->found && r->n == want && covered == want)
        return VL_BATCH_COMMITTED; /* the answer that got lost */
    if (r->final && covered < want && (!r->found || covered == r->n))
        return VL_BATCH_CUT;
    return VL_BATCH_UNKNOWN; /* not (all) there yet and the log stream runs */
}

int vl_batch_sealed_head(vl_rbuf_t body, vl_append_reply_t *head)
{
    /* a seal that cut the batch names its committed head after the
       message (an append reply body): those entries are in the log */
    char skip[1024];
    vl_rbuf_str(&body, skip, sizeof skip - 1);
    if (!body.err && body.left > 0 && vl_append_reply_decode(&body, head) == 0)
        return 0;
    return -1;
}
