/*  server.h - varlogadm, the admin daemon, as a CZMQ actor.

    The admin is the one door for cluster administration: it proxies admin
    requests (CREATE_TOPIC, DELETE_TOPIC, ADD_SN, REMOVE_SN, ADD_LS,
    GET_META) to the metadata repository, refuses to register a storage node
    that does not answer a PING, and watches every storage node of the
    metadata with SN_STATUS heartbeats so that STATUS can say which are up.

    STATUS reply body: a META body (vl_meta_encode) whose sns[].alive flags
    are the admin's own view, its MR members section always present (a
    count of 0 when the MR named none), followed by one string, the metadata
    repository endpoints the admin talks to, then u32 count and that many
    {sn id u32, SN_STATUS reply body}: what each storage node that is up
    last said of its replicas (their ends and own states). The trailer is
    an extension that vl_meta_decode ignores (it reads the META fields and
    leaves the rest), so any META reader can read a STATUS reply.

    SEAL, UNSEAL and UPDATE_LS are proxied to the MR like the other admin
    requests, and so are MR_STATUS, MR_ADD, MR_REMOVE and MR_TRANSFER (the
    MR's own membership, served by its leader; a change may take up to 30 s,
    a new replica's catch-up, during which the admin waits). The MR
    replicas that META names and --mr did not are added to the admin's
    list (lib/mrconn.h vl_mrconn_learn). SYNC is the admin's own: it picks, from the replicas' last
    SN_STATUS, a source that holds the sealed end and the destinations
    that lack entries, and sends SN_SYNC to the source for each.

    Automatic handling (unless no_auto): each heartbeat, with the META the
    poll brings, the admin seals every RUNNING log stream with a replica on
    a storage node that is down (and remembers it sealed it); for each log
    stream it sealed whose replicas are all up again, it syncs the lagging
    replicas (at most every 2 s) and, once every replica is in line, asks
    the MR to unseal it (unless no_auto_unseal). A log stream sealed by
    hand is never unsealed automatically; what the admin sealed before it
    restarted is left to 'varlogctl ls recover' and 'ls unseal'.

    Usage, in a process or in a test:

        vl_adm_opts_t opts = {.listen = "tcp://127.0.0.1:*", .mr = mr_ep};
        zactor_t *adm = zactor_new(vl_adm_actor, &opts);
        zstr_send(adm, "PORT");
        int port;
        zsock_recv(adm, "i", &port);    // -1: could not bind (logged)
        ...
        zactor_destroy(&adm);           // sends $TERM
*/
#ifndef VL_ADM_SERVER_H
#define VL_ADM_SERVER_H
#include <czmq.h>
#include <stdbool.h>

#define VL_ADM_LISTEN_DEFAULT "tcp://127.0.0.1:9090"
#define VL_ADM_MR_DEFAULT "tcp://127.0.0.1:9092"
#define VL_ADM_HEARTBEAT_MS_DEFAULT 500
#define VL_ADM_HEARTBEAT_TIMEOUT_MS_DEFAULT 2000

typedef struct {
    const char *listen;       /* ROUTER endpoint to bind */
    const char *mr;           /* metadata repository endpoints, comma-separated */
    int heartbeat_ms;         /* SN_STATUS to every SN this often; 0: default */
    int heartbeat_timeout_ms; /* an SN silent this long is down; 0: default */
    int mr_timeout_ms;        /* per proxied MR call; 0: 2000 */
    int ping_timeout_ms;      /* PING before ADD_SN; 0: 2000 */
    bool no_auto;             /* no automatic seal, sync and unseal */
    bool no_auto_unseal;      /* automatic seal and sync, manual unseal */
} vl_adm_opts_t;

/*  The actor body: zactor_new(vl_adm_actor, opts). opts (a vl_adm_opts_t
    *) is copied before zactor_new returns, so it may live on the stack.
    Pipe commands: "$TERM" stops the actor; "PORT" replies "i" with the
    port bound for --listen (0 for non-TCP endpoints, -1 when the bind
    failed, in which case the reason is logged and the actor only waits for
    $TERM). */
void vl_adm_actor(zsock_t *pipe, void *opts);

#endif
