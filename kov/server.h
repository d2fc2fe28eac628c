/*  server.h - varlogkov, the Kafka-protocol gateway, as a CZMQ actor.

    The actor listens on a TCP port for Kafka clients and answers the Kafka
    APIs of doc/KOV.md from a varlog cluster it reaches through libvarlog
    only (kov/part.h owns the data path). Usage, in a process or a test:

        vl_kserver_opts_t opts = {.listen = "127.0.0.1:0", .mr = mr_ep};
        zactor_t *kov = zactor_new(vl_kserver_actor, &opts);
        zstr_send(kov, "PORT");
        int port;
        zsock_recv(kov, "i", &port);   // -1: could not start (logged)
        ...
        zactor_destroy(&kov);          // sends $TERM
*/
#ifndef VL_KOV_SERVER_H
#define VL_KOV_SERVER_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define VL_KOV_LISTEN_DEFAULT "127.0.0.1:9093"
#define VL_KOV_MR_DEFAULT "tcp://127.0.0.1:9092"
#define VL_KOV_MAX_REQUEST_DEFAULT (100u << 20)

typedef struct {
    const char *listen;      /* HOST:PORT to listen on (PORT 0: any) */
    const char *advertise;   /* HOST:PORT put in Metadata; NULL: the bound address */
    const char *mr;          /* metadata repository endpoints, comma-separated */
    int32_t node_id;         /* this gateway's broker id (default 1) */
    bool no_auto_create;     /* Metadata does not create unknown topics */
    int32_t partitions;      /* partitions of an auto-created topic (default 1) */
    int32_t replication;     /* replication factor of their log streams (0: cluster default) */
    uint32_t log_streams;    /* log streams of each partition's varlog topic (default 1) */
    uint32_t max_request;    /* largest request accepted (default 100 MiB) */
    int workers;             /* data path threads (0: part.h's default) */
    uint32_t group_snapshot_every; /* __kov_offsets records between snapshots (0: 1000) */
    int32_t session_ms;      /* gateways' session timeout (0: VL_KGW_SESSION_DEFAULT_MS) */
    uint32_t meta_snapshot_every; /* __kov_meta records between snapshots (0: 10000) */
} vl_kserver_opts_t;

/*  The actor body: zactor_new(vl_kserver_actor, opts). opts (a
    vl_kserver_opts_t *) is copied before zactor_new returns. Pipe commands:
    "$TERM" stops the actor; "PORT" replies "i" with the bound port, or -1
    when the listen socket or the cluster connection failed (the reason is
    logged and the actor only waits for $TERM). */
void vl_kserver_actor(zsock_t *pipe, void *opts);

#endif
