/*  merge.h - merge by GLSN of a subscriber's per-log-stream queues.

    Each source is the queue of one log stream's entries in GLSN order. GLSNs
    of a topic are dense, so the merge delivers GLSN g as soon as the head of
    some source is g and otherwise asks the caller to wait for more input.
    Items point into an owner (a received message); the merge releases the
    owner through the callback once every item of it was delivered and the
    caller made its next pop (so the last delivered item stays valid until
    then), or at destroy.
*/
#ifndef VL_MERGE_H
#define VL_MERGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "varlog_err.h"

typedef struct vl_merge vl_merge_t;

typedef struct {
    uint64_t glsn, llsn, offset;
    const void *data;
    size_t size;
} vl_merge_item_t;

typedef void(vl_merge_release_fn)(void *arg, void *owner);

/*  A merge delivering [begin, end) (end VL_GLSN_MAX: never ends). release
    may be NULL. Caller owns the result. */
vl_merge_t *vl_merge_new(uint64_t begin, uint64_t end, vl_merge_release_fn *release, void *arg);

/*  Releases every owner still held and frees the merge (NULL-safe). */
void vl_merge_destroy(vl_merge_t **self_p);

/*  Adds a source; returns its index (0, 1, ...). */
size_t vl_merge_add_source(vl_merge_t *self);

/*  Queues n items (copied; their data stays in owner) at the tail of source
    src. Takes owner (released when done, at once when n is 0, and also on
    failure). Returns VL_EPROTO, queueing nothing, when a GLSN does not grow
    within the source, was already delivered, or is at or past the end;
    vl_merge_errmsg says which. */
int vl_merge_push(vl_merge_t *self, size_t src, const vl_merge_item_t *items, size_t n,
                  void *owner);

/*  Marks source src as finished: it will push nothing more. */
void vl_merge_end_source(vl_merge_t *self, size_t src);

/*  Takes the next entry in GLSN order. Returns 0 with *ready true and item
    / *src filled, or 0 with *ready false when the caller must wait for more
    input; VL_EEOF when the range is complete; VL_EPROTO when two sources
    hold the same GLSN or every source finished without it. */
int vl_merge_pop(vl_merge_t *self, vl_merge_item_t *item, size_t *src, bool *ready);

/*  vl_merge_pop, and then, while the entries after the one taken follow it
    in GLSN, in topic offset and in memory (the same received message), and
    their sizes add up to at most max_bytes, takes them too: *item is then
    the run, its size theirs together, and *count how many entries it holds
    (1 when it is one entry only). A reader that only wants the bytes (a
    file read) copies a run at once instead of entry by entry. */
int vl_merge_pop_run(vl_merge_t *self, vl_merge_item_t *item, size_t *src, bool *ready,
                     size_t max_bytes, size_t *count);
/*  The next GLSN to deliver. */
uint64_t vl_merge_next(const vl_merge_t *self);

/*  The first GLSN a (re)subscription of source src must ask for: past what
    it pushed and what was delivered. */
uint64_t vl_merge_resume(const vl_merge_t *self, size_t src);

/*  Number of items queued in source src. */
size_t vl_merge_queued(const vl_merge_t *self, size_t src);

/*  Why the last push or pop failed. */
const char *vl_merge_errmsg(const vl_merge_t *self);

#endif
