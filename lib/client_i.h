/*  client_i.h - private structures shared by client.c, appender.c and
    subscriber.c.

    The client owns the control plane: one vl_rpc_t to the MR, the cached
    metadata and a cache of DEALERs to storage nodes for its blocking calls,
    all behind one recursive mutex (vl_trim calls vl_subscribe while it holds
    it). Appenders and subscribers take a snapshot of a topic's routes
    (vl_route_t) from the client and then use sockets of their own, since
    ZeroMQ sockets are never shared between threads.

    Two pieces of pure logic are modules of their own so that they can be
    unit tested with in-memory inputs (tests/unit/test_merge.c): the merge
    of per-log-stream queues by GLSN (merge.h, vl_merge_*) and the queue
    that completes appender batches in append order (ordq.h, vl_ordq_*).
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

#endif
