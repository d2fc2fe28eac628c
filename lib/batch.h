/*  batch.h - what became of a batch of appended entries: the rules that
    the blocking vl_append (append.c) and the appender (appender.c) share.

    Both name every APPEND (a client id and a batch sequence number, kept
    by every resend to the same log stream; the replicas keep the name
    with the entries, and a primary answers a resent name it holds with
    the batch's outcome instead of appending it again: sn/bidmap.h). A log stream that refuses a
    batch because it is sealed (or not there) wrote nothing past the
    committed head its refusal names, so the rest may go to another log
    stream. A batch that gets no reply is never sent again under a new
    name: it may be written and committed later. The sender resends it
    under its name to the running primary and asks the log stream's
    replicas (BATCH_STATUS) what became of it, for at most
    vl_batch_resolve_ms, and reads the answer with vl_batch_fate.

    The two drive this differently and stay apart there: vl_append blocks
    on the client's sockets and asks (every replica of a sealed log stream
    at once) with a short timeout of its own; the appender's thread keeps many batches in flight
    on its own sockets, asks from its timers, matches answers by the
    batch's name and gives the replica a hint (the LLSN of its last
    answered batch). Their error messages differ too. What is here is the
    part that is the same rule for both.
*/
#ifndef VL_BATCH_H
#define VL_BATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire.h"

#define VL_BATCH_RESOLVE_MS 10000 /* an unanswered batch waits at least this long for its fate */
#define VL_BATCH_QUERY_MS 250     /* between BATCH_STATUS questions about one batch */

/*  What a BATCH_STATUS reply r says of a batch of want entries whose
    APPEND went unanswered (one rule for vl_append and the appender):
    VL_BATCH_COMMITTED, every entry is committed (r's runs hold their
    GLSNs); VL_BATCH_CUT, final: only the first *covered_p entries (r's
    runs) are in the log and the others never will be; VL_BATCH_UNKNOWN,
    ask again. *covered_p: how many entries r's runs hold. */
typedef enum { VL_BATCH_UNKNOWN, VL_BATCH_COMMITTED, VL_BATCH_CUT } vl_batch_fate_t;
vl_batch_fate_t vl_batch_fate(const vl_batch_status_reply_t *r, uint64_t want, uint64_t *covered_p);

/*  How long (ms) a batch that got no reply within timeout_ms waits for its
    log stream to be sealed before it fails with VL_ETIMEDOUT (it may then
    still be committed later): twice the timeout, at least
    VL_BATCH_RESOLVE_MS. */
static inline int64_t vl_batch_resolve_ms(int timeout_ms)
{
    int64_t window = (int64_t)timeout_ms * 2;
    return window < VL_BATCH_RESOLVE_MS ? VL_BATCH_RESOLVE_MS : window;
}

/*  Which of a log stream's nrep replicas to ask about a batch, the turn-th
    time: the primary while the log stream runs (only the answer may be
    lost), else the replicas in turn, the backups first (a batch left
    unanswered is most often one whose primary died or paused). Both
    callers ask every replica of a sealed log stream at once, from this
    one on. */
static inline uint32_t vl_batch_replica(uint8_t state, uint32_t nrep, uint32_t turn)
{
    return state == VL_LS_RUNNING ? 0 : (turn + 1) % nrep;
}

/*  True when a log stream's refusal status means that nothing of the batch
    past the committed head it names was written (sealed, or no such log
    stream; or the primary's disk failed, which it undoes before it
    answers): the rest may go to another log stream. */
static inline bool vl_batch_movable(int status)
{
    return status == VL_ESEALED || status == VL_ENOLS || status == VL_ESTORE;
}

/*  How many entries r's GLSN runs hold. */
static inline uint64_t vl_batch_count(const vl_append_reply_t *r)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->nruns; i++)
        n += r->runs[i].count;
    return n;
}

/*  Writes the GLSNs of r's runs, at most want of them, to glsns (NULL: only
    counts them). Returns how many. Inline: the appender's thread records
    every reply's GLSNs with it. */
static inline size_t vl_batch_glsns(const vl_append_reply_t *r, uint64_t *glsns, size_t want)
{
    size_t done = 0;
    for (uint32_t i = 0; i < r->nruns; i++) {
        size_t k = want - done;
        if (r->runs[i].count < k)
            k = r->runs[i].count;
        if (glsns)
            for (size_t j = 0; j < k; j++)
                glsns[done + j] = r->runs[i].glsn_begin + j;
        done += k;
    }
    return done;
}

/*  A VL_ESEALED APPEND reply whose body (as received, the error message
    first) goes on with the committed head of a batch that the seal cut:
    decodes that head into *head (free with vl_append_reply_free). Returns
    0, or -1 when the body names no head. */
int vl_batch_sealed_head(vl_rbuf_t body, vl_append_reply_t *head);

#endif
