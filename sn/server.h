/*  server.h - the varlogsn actor (vl_sn_*).

    The storage node runs as a CZMQ actor around a zloop: tests can start
    one in-process as easily as main.c does. The actor binds a ROUTER for
    clients, the admin and other storage nodes, connects a DEALER to the
    metadata repository, and hands every disk write to a writer thread
    (writer.h), so no handler ever waits for the disk.

    Pipe commands: "$TERM" stops the actor; "PORT" answers the bound TCP
    port as a decimal string; "ENDPOINT" answers the advertised address;
    "FAULT" KIND N (tests) makes the N-th next writer job of KIND (WRITE or
    COMMIT) fail as a disk error would, and signals when set;
    "SUB_IDLE_MS" N (tests) drops subscriptions silent for N ms instead of
    30 s (checked every second), and signals.
*/
#ifndef VL_SN_SERVER_H
#define VL_SN_SERVER_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *listen;      /* ROUTER endpoint; "tcp://127.0.0.1:*" picks a port */
    const char *advertise;   /* our address in the cluster; NULL: the listen
                                endpoint (with the real port when it had '*') */
    const char *data_dir;    /* RocksDB directory (created if missing) */
    const char *mr;          /* MR endpoints, comma-separated */
    bool sync;               /* fsync entries before reporting them */
    uint64_t max_entry_size; /* larger entries are refused (VL_ETOOBIG) */
    uint64_t memtable_bytes; /* RocksDB memtable size (0: the store's default) */
    uint64_t segment_bytes;  /* entry log segment size (0: from the data disk's
                                size, vl_vlog_segment_bytes_for) */
    uint32_t cluster_id;
} vl_sn_config_t;

typedef struct vl_sn vl_sn_t;

/*  Starts a storage node (config is copied). Returns 0, or a VL_E* code
    with errbuf saying what failed (bad endpoint, data directory cannot be
    opened, ...). Caller owns *sn_p. */
int vl_sn_new(const vl_sn_config_t *config, vl_sn_t **sn_p, char *errbuf, size_t errbuf_size);

/*  Stops the storage node and frees it (NULL-safe). */
void vl_sn_destroy(vl_sn_t **self_p);

/*  The bound TCP port (0 when the endpoint is not TCP). */
int vl_sn_port(vl_sn_t *self);

/*  The address the node advertises to the MR (borrowed). */
const char *vl_sn_endpoint(vl_sn_t *self);

/*  The actor, for zpoller/zloop: it sends nothing unasked; it becomes
    readable only when the actor thread exits on its own (fatal error). */
zactor_t *vl_sn_actor(vl_sn_t *self);

#endif
