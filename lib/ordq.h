/*  ordq.h - in-order completion of the appender's batches.

    Batches complete out of order (several log streams, several in flight
    each), but callbacks must run in append order: the queue hands a batch
    back only when it and every batch pushed before it are done.
*/
#ifndef VL_ORDQ_H
#define VL_ORDQ_H
#include <stddef.h>
#include <stdint.h>

typedef struct vl_ordq vl_ordq_t;

/*  Caller owns the result. */
vl_ordq_t *vl_ordq_new(void);

/*  Frees the queue (NULL-safe); the items are the caller's. */
void vl_ordq_destroy(vl_ordq_t **self_p);

/*  Appends item; returns its sequence number (0, 1, 2, ...). */
uint64_t vl_ordq_push(vl_ordq_t *self, void *item);

/*  Marks item seq done. Unknown or already popped seqs are ignored. */
void vl_ordq_done(vl_ordq_t *self, uint64_t seq);

/*  Removes and returns the oldest item if it is done, else NULL. */
void *vl_ordq_pop(vl_ordq_t *self);

/*  Number of items pushed and not popped. */
size_t vl_ordq_size(const vl_ordq_t *self);

#endif
