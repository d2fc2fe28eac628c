/*  client_i.h - the client's private structure and what the library's
    other modules use of it (topic.c, append.c, lookup.c, trim.c, call.c,
    appender.c, subscriber.c).

    The client owns the control plane: one vl_rpc_t to the MR, the cached
    metadata and a cache of DEALERs to storage nodes for its blocking calls,
    all behind one mutex. Appenders and subscribers take a snapshot of a
    topic's routes (vl_route_t) from the client and then use sockets of
    their own, since ZeroMQ sockets are never shared between threads.

    Two pieces of pure logic are modules of their own so that they can be
    unit tested with in-memory inputs (tests/unit/test_merge.c): the merge
    of per-log-stream queues by GLSN (merge.h, vl_merge_*) and the queue
    that completes appender batches in append order (ordq.h, vl_ordq_*).
    What became of an appended batch is decided by rules that vl_append and
    the appender share (batch.h, vl_batch_*).
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
    pthread_mutex_t mutex; /* serialises every call; never taken twice */
    vl_rpc_t *mr;
    int timeout_ms;
    vl_meta_t meta;
    bool meta_valid;
    bool meta_stale;               /* refresh before the next cached lookup */
    zhashx_t *sns;                 /* SN address -> zsock_t * DEALER (blocking calls) */
    uint64_t next_id;              /* request ids on the SN DEALERs */
    uint32_t rr;                   /* round robin position of vl_append */
    uint64_t client_id, next_bseq; /* names of vl_append's batches */
    /* per log stream (a few, replaced in turn): the highest LLSN an
       answered vl_append batch began at, BATCH_STATUS's hint */
    uint32_t hint_ls[8];
    uint64_t hint_llsn[8];
    uint32_t hint_next;
    uint64_t append_hint; /* the hint of the batch vl_append is sending */
};

/*  Records the detailed message of a failure for vl_client_errmsg (per
    calling thread) and returns rc. */
int vl_client_fail(vl_client_t *client, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void vl_client_lock(vl_client_t *client);
void vl_client_unlock(vl_client_t *client);

/*  Fetches the metadata from the MR into the cache. Returns 0 or the MR
    call's error (message recorded). Caller holds the lock. */
int vl_client_refresh(vl_client_t *client);

/*  The topic name in the cache, fetching fresh metadata when asked, when
    the cache is stale or when the topic is not in it. what prefixes error
    messages ("append"). *topic_p points into the cache: valid until the
    next fetch. Returns 0, VL_ENAME, VL_ENOTOPIC or the MR call's error.
    Caller holds the lock. */
int vl_client_topic(vl_client_t *client, const char *name, bool fresh, const char *what,
                    const vl_meta_topic_t **topic_p);

/*  Sends an admin request to the MR; what prefixes the error message
    ("create topic=app"). *id (may be NULL) receives the reply's id. Marks
    the cached metadata stale. Caller holds the lock. */
int vl_client_admin(vl_client_t *client, uint16_t type, const vl_admin_t *a, uint32_t *id,
                    const char *what);

/*  One log stream of a route snapshot: replica addresses in replica order
    (addr[0] is the primary; "" when the metadata has no address for the
    storage node). */
typedef struct {
    uint32_t id;
    uint8_t state;
    uint32_t epoch; /* the META epoch: APPENDs carry it */
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

/*  The same for a caller that holds the lock. */
int vl_client_route_locked(vl_client_t *client, const char *topic, bool fresh, const char *what,
                           vl_route_t *route);
void vl_route_free(vl_route_t *route);

#endif
