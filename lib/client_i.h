/*  client_i.h - private structures shared by client.c, appender.c and
    subscriber.c.

    The client owns the control plane: one vl_rpc_t to the MR, the cached
    metadata and a cache of DEALERs to storage nodes for its blocking calls,
    all behind one recursive mutex (vl_trim calls vl_subscribe while it holds
    it). Appenders and subscribers take a snapshot of a topic's routes
    (vl_route_t) from the client and then use sockets of their own, since
    ZeroMQ sockets are never shared between threads.

    Two pieces of pure logic are factored out so that they can be unit
    tested with in-memory inputs (tests/unit/test_merge.c): the merge of
    per-log-stream queues by GLSN (vl_merge_*, in subscriber.c) and the
    queue that completes appender batches in append order (vl_ordq_*, in
    appender.c).
*/
#ifndef VL_CLIENT_I_H
#define VL_CLIENT_I_H
#include <pthread.h>
#include <stdbool.h>
#include "varlog.h"
#include "wire.h"
#include "rpc.h"

#define VL_CLIENT_TIMEOUT_DEFAULT 5000
#define VL_CLIENT_ERRMSG_SIZE 1024

struct vl_client {
    pthread_mutex_t mutex; /* recursive; serialises every call */
    vl_rpc_t *mr;
    int timeout_ms;
    vl_meta_t meta;
    bool meta_valid;
    bool meta_stale;  /* refresh before the next cached lookup */
    zhashx_t *sns;    /* SN address -> zsock_t * DEALER (blocking calls) */
    uint64_t next_id; /* request ids on the SN DEALERs */
    uint32_t rr;      /* round robin position of vl_append */
    uint64_t client_id, next_bseq; /* names of vl_append's batches */
};

/*  Records the detailed message of a failure for vl_client_errmsg (per
    calling thread) and returns rc. */
int vl_client_fail(vl_client_t *client, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void vl_client_lock(vl_client_t *client);
void vl_client_unlock(vl_client_t *client);

/*  One log stream of a route snapshot: replica addresses in replica order
    (addr[0] is the primary; "" when the metadata has no address for the
    storage node). */
typedef struct {
    uint32_t id;
    uint8_t state;
    uint32_t nrep;
    char addr[VL_WIRE_MAX_REPLICAS][VL_WIRE_MAX_ADDR + 1];
    bool alive[VL_WIRE_MAX_REPLICAS]; /* the MR heard from the node lately */
} vl_route_ls_t;

/*  A snapshot of what a data-path object needs to know about a topic. */
typedef struct {
    uint32_t cluster_id;
    uint32_t topic_id;
    uint64_t hwm, end_offset, trim_glsn, trim_offset;
    uint32_t nls;
    vl_route_ls_t *ls;
} vl_route_t;

/*  Fills route with a snapshot of topic (fresh: fetch the metadata from the
    MR first; else use the cache, fetching only when the topic is unknown or
    the cache is stale). what prefixes error messages ("subscribe"). Returns
    0, VL_ENAME, VL_ENOTOPIC or the MR call's error. Free with
    vl_route_free. Locks the client. */
int vl_client_route(vl_client_t *client, const char *topic, bool fresh, const char *what,
                    vl_route_t *route);
void vl_route_free(vl_route_t *route);

/*  What a BATCH_STATUS reply r says of a batch of want entries whose
    APPEND went unanswered (one rule for vl_append and the appender):
    VL_BATCH_COMMITTED, every entry is committed (r's runs hold their
    GLSNs); VL_BATCH_CUT, final: only the first *covered_p entries (r's
    runs) are in the log and the others never will be; VL_BATCH_UNKNOWN,
    ask again. *covered_p: how many entries r's runs hold. */
typedef enum { VL_BATCH_UNKNOWN, VL_BATCH_COMMITTED, VL_BATCH_CUT } vl_batch_fate_t;
vl_batch_fate_t vl_batch_fate(const vl_batch_status_reply_t *r, uint64_t want,
                              uint64_t *covered_p);

/*  ---- merge by GLSN (subscriber.c) ----------------------------------------

    Each source is the queue of one log stream's entries in GLSN order. GLSNs
    of a topic are dense, so the merge delivers GLSN g as soon as the head of
    some source is g and otherwise asks the caller to wait for more input.
    Items point into an owner (a received message); the merge releases the
    owner through the callback once every item of it was delivered and the
    caller made its next pop (so the last delivered item stays valid until
    then), or at destroy. */

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

/*  The next GLSN to deliver. */
uint64_t vl_merge_next(const vl_merge_t *self);

/*  The first GLSN a (re)subscription of source src must ask for: past what
    it pushed and what was delivered. */
uint64_t vl_merge_resume(const vl_merge_t *self, size_t src);

/*  Number of items queued in source src. */
size_t vl_merge_queued(const vl_merge_t *self, size_t src);

/*  Why the last push or pop failed. */
const char *vl_merge_errmsg(const vl_merge_t *self);

/*  ---- in-order completion (appender.c) ---------------------------------

    Batches complete out of order (several log streams, several in flight
    each), but callbacks must run in append order: the queue hands a batch
    back only when it and every batch pushed before it are done. */

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
