/*  server.h - the varlogmr actor: ROUTER socket, commit tick, persistence.

    Run it with vl_mr_start (or zactor_new(vl_mr_actor, &config) and check
    config.rc). Pipe commands:
        $TERM          stop (CZMQ convention)
        PORT           reply (zsock_send "i") the bound TCP port, so tests can
                       listen on tcp://127.0.0.1:*
*/
#ifndef VL_MR_SERVER_H
#define VL_MR_SERVER_H
#include <czmq.h>
#include <stdint.h>

#define VL_MR_LISTEN_DEFAULT "tcp://127.0.0.1:9092"
#define VL_MR_COMMIT_TICK_DEFAULT 500 /* microseconds */

typedef struct {
    const char *listen;      /* ZeroMQ endpoint to bind */
    const char *data_dir;    /* RocksDB lives in data_dir/mr.db */
    uint32_t commit_tick_us; /* commit round period */
    uint32_t cluster_id;
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

/*  Asks a running actor for its bound port (-1 when not TCP). */
int vl_mr_port(zactor_t *mr);

#endif
