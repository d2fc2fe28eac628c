/*  server_i.h - private structures shared by varlogadm's files.

    server.c   the actor: its loop, the MR poll and the heartbeat, the
               proxied admin requests, STATUS, the life cycle
    health.c   the storage node table and failure detector, and the
               automatic seal, sync and unseal
    sync.c     SYNC: brings the replicas of a sealed log stream in line

    All three run on the actor's one thread and share self_t.
*/
#ifndef VL_ADM_SERVER_I_H
#define VL_ADM_SERVER_I_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "metrics.h"
#include "rpc.h"
#include "wire.h"

typedef enum { S_SN_UNKNOWN, S_SN_UP, S_SN_DOWN } s_sn_state_t;

typedef struct self self_t;

/*  A log stream the admin sealed because a storage node went down. */
typedef struct {
    uint32_t ls_id;
    uint32_t down_sn;  /* the node that was down */
    int64_t sealed_at; /* zclock_mono ms */
    int64_t last_sync; /* last sync started, ms; 0: none */
    bool waiting_said; /* "waiting for sn N" was logged */
} s_auto_t;

/*  A backup of a RUNNING log stream whose end lags its primary's and has
    not moved since `since` (the primary cannot reach it: its log stream
    commits nothing). */
typedef struct {
    uint32_t ls_id, sn_id;
    uint64_t end;  /* the backup's end, unchanged since */
    int64_t since; /* zclock_mono ms */
} s_stall_t;
#define VL_ADM_STALL_MS 1500 /* a backup stalled this long gets its log stream sealed */

/*  One storage node the admin watches. */
typedef struct {
    self_t *self;
    uint32_t id;
    char addr[VL_WIRE_MAX_ADDR + 1];
    zsock_t *dealer; /* NULL when the endpoint could not be connected */
    zactor_t *monitor; /* the dealer's zmonitor: its connection closed */
    int64_t lost_at;   /* zclock_mono ms when it closed, 0: not since the last reply */
    s_sn_state_t state;
    int64_t last_seen;     /* zclock_mono ms of the last reply, or when added */
    bool mark;             /* still in the metadata (sweep after a sync) */
    vl_sn_status_t status; /* its last SN_STATUS reply: its replicas' ends */
    bool have_status;
    uint8_t fault;  /* its last SN_STATUS's fault: VL_SN_FAULT_DISK, _MR or 0 */
    bool fault_new; /* it just reported one: the lost check polls the MR at once */
} s_sn_t;

struct self {
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *router;
    int port;
    bool terminated;
    char *listen;
    char *mr_ep;
    int heartbeat_ms, heartbeat_timeout_ms, mr_timeout_ms, ping_timeout_ms;
    vl_rpc_t *mr;       /* blocking calls of proxied requests */
    zsock_t *mr_poll;   /* asynchronous GET_META of the heartbeat */
    uint64_t next_id;   /* request ids of our own requests */
    uint64_t poll_id;   /* id of the GET_META in flight, 0 if none */
    int64_t poll_sent;  /* when it was sent */
    int64_t mr_last_ok; /* last answer from the MR to a poll */
    int64_t mr_steady;  /* since when polls are answered without a gap of
                           VL_MRCONN_SILENT_MS (a node cut off from the MR
                           counts as down only when the admin hears it) */
    bool mr_silent;     /* "MR does not answer" was logged */
    /* The MR replica mr_poll is connected to: the one the vl_mrconn_t of
       mr (which both sockets follow) named at generation poll_gen; the
       last answer to a poll, or the move there. */
    char poll_ep[VL_WIRE_MAX_ADDR + 1];
    uint64_t poll_gen;
    int64_t poll_heard;
    s_sn_t **sns;
    size_t nsn;
    bool no_auto, no_auto_unseal;
    s_auto_t *autos; /* log streams this admin sealed itself */
    size_t nautos;
    s_stall_t *stalls; /* backups seen lagging their primary */
    size_t nstalls;
    /* metrics (lib/metrics.h) */
    vl_metric_t *m_seals, *m_unseals, *m_sn_down, *m_sns_up, *m_sns_down;
};

/*  ---- server.c ------------------------------------------------------------ */

/*  A DEALER connected to endpoints (comma-separated) that drops what it
    cannot send at once; NULL when one cannot be connected. immediate:
    ZMQ_IMMEDIATE (a send fails until a connection completed: the storage
    nodes' heartbeats); false for a DEALER moved between endpoints by a
    disconnect and a connect (the MR poll: with ZMQ_IMMEDIATE its
    requests went into the old endpoint's pipe being torn down, and every
    later one too, so a varlogadm started while another MR replica led
    never heard the MR). */
zsock_t *vl_adm_server_dealer(const char *endpoints, bool immediate);

/*  Sends msg to the client named by routing id rid (copied). */
void vl_adm_server_reply(self_t *self, zframe_t *rid, zmsg_t **msg_p);

/*  Fresh metadata from the MR (blocking). 0 with *meta filled (and
    *cluster_id_p, when not NULL, the MR's cluster id), or the error,
    which is logged and, when rid is not NULL, replied to req. */
int vl_adm_server_fetch_meta(self_t *self, zframe_t *rid, const vl_hdr_t *req, vl_meta_t *meta,
                             uint32_t *cluster_id_p);

/*  Replies with a status and a message. */
void vl_adm_server_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int rc,
                               const char *text);

/*  ---- health.c ------------------------------------------------------------ */

/*  The storage node id of the table, or NULL. */
s_sn_t *vl_adm_health_sn_find(self_t *self, uint32_t id);

/*  Stops watching *sn_p and frees it; NULL-safe. */
void vl_adm_health_sn_destroy(self_t *self, s_sn_t **sn_p);

/*  Marks sn up or down, logging the change. */
void vl_adm_health_sn_set_state(s_sn_t *sn, s_sn_state_t state);

/*  Starts watching storage node id at addr; the table owns the result. */
s_sn_t *vl_adm_health_sn_add(self_t *self, uint32_t id, const char *addr);

/*  Makes the table follow the storage nodes of meta. */
void vl_adm_health_sns_sync(self_t *self, const vl_meta_t *meta);

/*  The last word of storage node sn_id (up) about its replica of ls_id,
    or NULL when unknown. */
const vl_sn_replica_t *vl_adm_health_replica_status(self_t *self, uint32_t sn_id, uint32_t ls_id);

/*  Forgives the storage nodes (and the MR poll) the blocked_ms the loop
    spent blocked in a call. */
void vl_adm_health_forgive(self_t *self, int64_t blocked_ms);

/*  Storage nodes whose connection closed (their process ended) and that
    did not answer again within VL_ADM_LOST_GRACE_MS are down now, without
    waiting for the heartbeat timeout, and so are those silent for the
    heartbeat timeout; true when one was marked down (the
    caller polls the MR at once so that its log streams are sealed). Run
    every VL_ADM_LOST_CHECK_MS. */
#define VL_ADM_LOST_GRACE_MS 500
#define VL_ADM_LOST_CHECK_MS 100
bool vl_adm_health_lost_check(self_t *self);

/*  Whether sn's fault makes it count as down: a disk fault always; a node
    cut off from the MR (VL_SN_FAULT_MR) only when the admin has heard the
    MR steadily for the heartbeat timeout (when no node hears it, as in an
    MR election, sealing would not help). */
bool vl_adm_health_faulty(self_t *self, const s_sn_t *sn);

/*  One pass of the automatic handling over the metadata m (server.h). */
void vl_adm_health_auto(self_t *self, const vl_meta_t *m);

/*  ---- sync.c -------------------------------------------------------------- */

/*  Starts the syncs of sealed log stream ls of topic t from replica from
    to replica to (0: chosen); appends them to items. 0, or a VL_E* code
    with err. */
int vl_adm_sync_ls(self_t *self, const vl_meta_t *m, const vl_meta_topic_t *t,
                   const vl_meta_ls_t *ls, uint32_t from, uint32_t to, vl_sync_item_t *items,
                   uint32_t *n, char *err, size_t err_size);

/*  Handles SYNC of the log stream a->id (0: every sealed one) of topic
    a->name. */
void vl_adm_sync_handle(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_admin_t *a);

#endif
