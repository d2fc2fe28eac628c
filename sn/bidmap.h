/*  bidmap.h - the batch names a primary remembers, to answer a resent
    APPEND with the batch's original outcome instead of appending it again.

    An APPEND names its batch (client id, batch seq) and a client resends
    a batch under the same name when its answer was lost. The primary of a
    log stream keeps the names of its last VL_BIDMAP_KEEP batches here,
    oldest first, with where each begins, how many entries it has and,
    once it was answered, its GLSN runs. A FIFO of names plus an
    open-addressing hash table over them: a lookup costs one hash probe
    sequence, whatever the window. It is memory only: append.c rebuilds it
    from the store's batch names (vl_store_last_bids) when the log stream
    runs in a new epoch or the storage node restarted.
*/
#ifndef VL_BIDMAP_H
#define VL_BIDMAP_H
#include <stdint.h>
#include "wire.h"

#define VL_BIDMAP_KEEP (1u << 16) /* names kept per log stream (the dedupe window) */

typedef struct {
    vl_batch_id_t id;
    vl_run_t *runs; /* NULL until answered; then its GLSN runs (owned) */
    uint32_t nruns;
    uint32_t cut; /* 0, or a seal cut the batch: only its first `cut` entries are
                     held (the LLSNs past them may hold other batches now) */
} vl_bidmap_entry_t;

typedef struct vl_bidmap vl_bidmap_t;

/*  A map that keeps at most max names (the oldest goes first). */
vl_bidmap_t *vl_bidmap_new(uint32_t max);
void vl_bidmap_destroy(vl_bidmap_t **self_p);

/*  Forgets every name. */
void vl_bidmap_clear(vl_bidmap_t *self);

/*  How many names it holds. */
uint32_t vl_bidmap_size(const vl_bidmap_t *self);

/*  The entry of (client_id, batch_seq), or NULL. Valid until the next
    add or clear. */
vl_bidmap_entry_t *vl_bidmap_find(vl_bidmap_t *self, uint64_t client_id, uint64_t batch_seq);

/*  Remembers id (no runs yet), forgetting the oldest name when full; a
    name already there is replaced. Returns its entry (valid as above). */
vl_bidmap_entry_t *vl_bidmap_add(vl_bidmap_t *self, const vl_batch_id_t *id);

/*  Gives e the GLSN runs of its answer (takes runs, frees any before). */
void vl_bidmap_set_runs(vl_bidmap_entry_t *e, vl_run_t *runs, uint32_t nruns);

#endif
