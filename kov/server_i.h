/*  server_i.h - what varlogkov's server and its API handlers share (private).

    The server (server.c) owns the loop, the connections and the requests
    in flight; each Kafka API is one file (api_*.c) that exports a
    vl_kapi_t: its key, name, {min, max, first flexible} versions and a
    handler, like librdkafka's mock broker keeps its version table next to
    its handlers.

    A handler gets the request (vl_kreq_t) and a reader positioned at the
    body; the body's bytes are valid during the call only (copy names and
    anything else a callback needs). It writes the response body into req->out (the header is
   already there) and calls vl_kreq_reply, at once or later from a callback of the data path;
   responses still leave the connection in request order. A request that gets no response (Produce
   with acks=0) calls vl_kreq_noreply first, which takes it out of the connection's order at once so
   the requests behind it are not held up; it still calls vl_kreq_reply when its work is done, which
   then only frees it. A body that does not parse: vl_kreq_bad, which closes the connection (what
    Kafka brokers do with a request they cannot read).

    When the connection goes away first, req->conn becomes NULL and
    vl_kreq_reply just frees the request: handlers need not care, but may
    skip work when req->conn is NULL. When the server stops with requests
    pending, each one's ctx_free(ctx) is called after the data path is
    stopped (no callback will come): it frees what the handler owns.
*/
#ifndef VL_KOV_SERVER_I_H
#define VL_KOV_SERVER_I_H
#include <czmq.h>
#include <inttypes.h>
#include "codec.h"
#include "group.h"
#include "gw.h"
#include "log.h"
#include "offsets.h"
#include "part.h"
#include "server.h"

typedef struct vl_kconn vl_kconn_t;
typedef struct vl_kreq vl_kreq_t;
typedef struct vl_kserver vl_kserver_t;

/*  The most partitions a topic may have (CreateTopics, --partitions). */
#define VL_KOV_MAX_PARTITIONS 10000

struct vl_kreq {
    vl_kserver_t *server;
    vl_kconn_t *conn; /* NULL: connection gone, or no response due */
    int16_t api_key, api_version;
    int32_t correlation_id;
    bool flex;        /* the request (and response) uses the flexible forms */
    char client_id[256];  /* the request header's (truncated; "" when null) */
    char client_host[64]; /* "/" and the peer's address, as Kafka names it */
    vl_kw_t out;      /* the response frame, header already written */
    void *ctx;        /* the handler's, freed by ctx_free at shutdown only */
    void (*ctx_free)(void *ctx);
    bool done, noreply;
    uint64_t id;                    /* for logs */
    int64_t since_us;               /* arrival (metrics) */
    vl_kreq_t *qnext;               /* the connection's response queue */
    vl_kreq_t *all_prev, *all_next; /* every live request of the server */
};

typedef struct {
    int16_t key;
    const char *name;
    int16_t min, max; /* advertised versions */
    int16_t flex_min; /* first flexible version; -1: none in [min, max] */
    void (*handle)(vl_kreq_t *req, vl_kr_t *r);
} vl_kapi_t;

struct vl_kserver {
    zsock_t *pipe;
    zloop_t *loop;
    vl_kserver_opts_t opts; /* strings owned (copied) */
    char *adv_host;         /* advertised host and port (Metadata) */
    int adv_port;
    int port; /* bound port, -1 on failure */
    int listen_fd;
    vl_client_t *client;
    vl_kparts_t *parts;
    vl_kgw_t *gw;             /* the gateways' membership and ownership (gw.c) */
    bool groups_active;       /* this gateway coordinates the groups (coord.c) */
    vl_kgroup_t *groups;      /* the consumer-group coordinator (coord.c) */
    vl_koffsets_t *offsets;   /* its records in varlog */
    vl_kconn_t **conns;      /* by fd */
    size_t nconns_cap;
    size_t nconns;
    vl_kreq_t *reqs;  /* every live request */
    vl_kconn_t *dead; /* closed connections not yet freed */
    uint64_t next_req_id;
    bool terminated;
};

/*  ---- stats.c: the gateway's metrics ---------------------------------------- */

/*  Makes the series of every API of the table (at start). */
void vl_kstats_init(void);
/*  A request of API key arrived; its response is ready (since_us: its
    arrival); it could not be read. */
void vl_kstats_request(int16_t key);
void vl_kstats_reply(int16_t key, int64_t since_us);
void vl_kstats_malformed(int16_t key);
/*  Connections opened (+1) or closed (-1); one closed for bad input. */
void vl_kstats_conn(int delta);
void vl_kstats_bad_input(void);

/*  The API table (server.c): every API the gateway answers, in key order. */
extern const vl_kapi_t *const vl_kapis[];
extern const size_t vl_kapis_n;

/*  The handlers' vl_kapi_t, one per file. */
extern const vl_kapi_t vl_kapi_produce, vl_kapi_fetch, vl_kapi_list_offsets, vl_kapi_metadata,
    vl_kapi_api_versions, vl_kapi_create_topics, vl_kapi_delete_topics, vl_kapi_init_producer_id,
    vl_kapi_delete_records, vl_kapi_describe_configs, vl_kapi_find_coordinator,
    vl_kapi_join_group, vl_kapi_sync_group, vl_kapi_heartbeat, vl_kapi_leave_group,
    vl_kapi_offset_commit, vl_kapi_offset_fetch, vl_kapi_describe_groups, vl_kapi_list_groups,
    vl_kapi_delete_groups;

/*  Finishes req: sends req->out (in order) or frees it (see above). */
void vl_kreq_reply(vl_kreq_t *req);
/*  No response will be sent for req (see above). */
void vl_kreq_noreply(vl_kreq_t *req);
/*  The body did not parse: logs what, closes the connection, frees req. */
void vl_kreq_bad(vl_kreq_t *req, const char *what);

/*  ---- topics (topics.c): Kafka topic T, partition p <-> varlog "T-p" ---- */

/*  0 when name is a valid Kafka topic name Kov can map ([a-zA-Z0-9._-],
    1..249 chars, not "." or "..", not starting with '.'), else a Kafka
    error code (INVALID_TOPIC) with the reason in why. */
int16_t vl_ktopic_check(const char *name, const char **why);
int16_t vl_ktopic_check_n(const void *name, int32_t len, const char **why);

/*  Writes "T-p" into buf (at least 256 bytes). */
void vl_ktopic_part_name(char *buf, size_t size, const char *topic, int32_t p);

/*  Kov's own topics ("__kov_" prefix) are internal. */
bool vl_ktopic_internal(const char *name);

/*  The Kafka topics found in a varlog topic list: each Kafka name with its
    number of partitions (0..n-1 contiguous from "T-0"). */
typedef struct {
    char *name;
    int32_t npart;
} vl_ktopic_t;

/*  Lists the cluster's topics (blocking: worker threads only) and groups
    "T-p" into Kafka topics. Caller frees with vl_ktopics_free. Returns 0
    or a VL_E* code. */
int vl_ktopics_list(vl_client_t *client, vl_ktopic_t **topics, size_t *n);
void vl_ktopics_free(vl_ktopic_t *topics, size_t n);
/*  The number of partitions of Kafka topic name (0: none), or -1 with
 *rc set on a cluster error. Blocking. */
int32_t vl_ktopics_count(vl_client_t *client, const char *name, int *rc);
/*  Creates partitions 0..npart-1 of name (blocking): 0, or a Kafka error
    code with msg. Partitions that were created are deleted again when a
    later one fails. */
int16_t vl_ktopics_create(vl_client_t *client, const char *name, int32_t npart, int32_t rf,
                          uint32_t nls, char *msg, size_t msg_size);

/*  ---- consumer groups (coord.c) ---------------------------------------- */

/*  Opens "__kov_offsets", replays it into a new coordinator and starts
    its timer (blocking: at start, before clients are accepted). Returns 0,
    or -1 with the reason logged. */
int vl_kcoord_start(vl_kserver_t *self);
/*  Frees the coordinator and its store (after vl_kparts_destroy). */
void vl_kcoord_stop(vl_kserver_t *self);
/*  A copy of a nullable string field, NUL-terminated (NULL for null).
    Caller frees. */
char *vl_kcoord_strdup(vl_kstr_t s);

/*  A Kafka error code for a VL_E* code of a cluster call. */
int16_t vl_kerr_from_vl(int rc);

#endif
