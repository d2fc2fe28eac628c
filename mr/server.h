/*  server.h - the varlogmr actor: ROUTER socket, commit tick, persistence,
    replication (a replica of the MR's raft group; one replica is a group
    of one).

    Run it with vl_mr_start (or zactor_new(vl_mr_actor, &config) and check
    config.rc). Pipe commands:
        $TERM          stop (CZMQ convention)
        HANDOVER       a leader hands leadership to the most up-to-date
                       voter; reply "i" once done (1) or not (0: not the
                       leader, no other voter, or no new leader within
                       1.5 s). varlogmr sends it on SIGTERM/SIGINT before
                       $TERM.
        PORT           reply (zsock_send "i") the bound TCP port, so tests can
                       listen on tcp://127.0.0.1:*
        STATS          reply "88": commit ticks and rounds sent so far (tests)
        STATE          reply "8888": the in-memory commit version, the raft
                       index applied to the store, the sum of the log
                       streams' committed bytes and the number of storage
                       nodes in memory (tests)
*/
#ifndef VL_MR_SERVER_H
#define VL_MR_SERVER_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define VL_MR_LISTEN_DEFAULT "tcp://127.0.0.1:9092"
#define VL_MR_COMMIT_TICK_DEFAULT 500 /* microseconds */

#define VL_MR_ELECTION_MS_DEFAULT 500
#define VL_MR_HEARTBEAT_MS_DEFAULT 50
#define VL_MR_RAFT_PORT_OFFSET 100 /* default raft port: the listen port + this */

typedef struct {
    const char *listen;      /* ZeroMQ endpoint to bind */
    const char *data_dir;    /* RocksDB lives in data_dir/mr.db, the raft log in data_dir/raft */
    uint32_t commit_tick_us; /* commit round period */
    uint32_t cluster_id;
    uint32_t raft_id;      /* this replica's raft id; 0: 1 */
    const char *raft_addr; /* HOST:PORT of the raft transport; NULL: the listen host and
                              port + 100 (an ephemeral listen port, or one not TCP, gives
                              port 0: an ephemeral raft port, for a group of one only) */
    const char *peers;     /* the initial members, ID@RAFTADDR@ENDPOINT[,...]; NULL: this
                              replica alone */
    bool join;             /* start without bootstrapping: wait to be added */
    const char *recover;   /* vl_mr_recover: the voters, ID@RAFTADDR@ENDPOINT[,...] */
    uint32_t election_ms;  /* 0: 500 */
    uint32_t heartbeat_ms; /* 0: 50 */
    uint32_t snapshot_threshold, snapshot_trailing; /* 0: the engine's defaults */
    /* filled by the actor before it signals the pipe: 0 or a VL_E* code,
       and what went wrong */
    int rc;
    char errbuf[512];
} vl_mr_config_t;

/*  The actor function. args is a vl_mr_config_t *, read during startup
    only (and rc/errbuf written before the actor signals). */
void vl_mr_actor(zsock_t *pipe, void *args);

/*  Starts the actor; NULL with config->rc and config->errbuf set when it
    could not open its store or bind. Caller owns the result (destroy with
    zactor_destroy). */
zactor_t *vl_mr_start(vl_mr_config_t *config);

/*  Offline recovery of a group that lost its majority: appends to the raft
    log in config->data_dir/raft a configuration whose voters are
    config->recover (this replica, config->raft_id, among them), which the
    replica takes on its next start. No actor runs. 0, or a VL_E* code with
    config->errbuf set. */
int vl_mr_recover(vl_mr_config_t *config);

/*  Asks a running actor for its bound port (-1 when not TCP). */
int vl_mr_port(zactor_t *mr);

#endif
