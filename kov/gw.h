/*  gw.h - several varlogkov gateways on one cluster: who is alive and who
    owns what, agreed through varlog itself.

    Every gateway appends text records to the meta topic ("__kov_meta",
    shared with the producer-id blocks of kov/pid.c) and every gateway
    replays them all in log order, so at each GLSN of the topic every
    gateway computes the same view:

        kov.gw.hb ID INC HOST:PORT SESSION_MS TIME_MS   heartbeat (and registration)
        kov.gw.expire ID INC BY                          ID's incarnation INC is dead
        kov.gw.leave ID INC                              ID stops (SIGTERM)

    INC is a random 64-bit incarnation chosen at each start. A heartbeat of
    an id with a new incarnation registers it (its previous incarnation,
    if alive, dies there); a heartbeat of a dead incarnation is ignored
    (that gateway re-registers with a new one when it sees its own death).
    An expire or leave record kills the named incarnation when it is the
    id's live one, else it is ignored: the first in log order wins.

    Each change of the live set sets the view's epoch to the GLSN of the
    record that made it. Ownership is decided from the live set alone:
    partition (varlog topic) "T-p" belongs to the live gateway with the
    highest rendezvous hash of (name, id); every consumer group belongs to
    the oldest live gateway (earliest registration), so groups move only
    when it dies.

    The view (vl_kgw_view_t) is a pure state machine: varlogctl's `kov
    list` replays the same records with it. vl_kgw_t runs it in a gateway:
    a thread tails the meta topic, heartbeats every session/4, appends an
    expire record for a gateway it has not heard from for that gateway's
    session timeout, and keeps this gateway's lease: while another gateway
    is alive it acts as an owner only while the last of its heartbeats
    that it read back from the log was sent less than 3/4 of its session
    timeout ago (the others expire it a session timeout after they read
    that heartbeat, so a gateway cut off from the cluster, or whose view is
    stale, stops writing before its partitions move; this assumes clocks
    that run at about the same rate, not synchronized ones). A gateway
    alone in its view needs no lease: nobody can expire it.
*/
#ifndef VL_KOV_GW_H
#define VL_KOV_GW_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "varlog.h"

#define VL_KGW_META_TOPIC "__kov_meta"
#define VL_KGW_SESSION_DEFAULT_MS 3000
#define VL_KGW_SNAPSHOT_EVERY 10000

/*  One gateway as the records say. */
typedef struct {
    int32_t id;
    uint64_t inc;
    char addr[264]; /* HOST:PORT it advertises */
    int32_t session_ms;
    bool alive;
    uint64_t since_glsn; /* its registration */
    uint64_t heard_glsn; /* its last heartbeat */
    int64_t heard_ms;    /* the wall-clock time (ms) its last heartbeat carries */
    uint64_t end_glsn;   /* the record that declared it dead (0: alive) */
    int64_t local_us;    /* the replayer's monotonic time at its last heartbeat (not in
                            the log: only for expiry decisions) */
} vl_kgw_member_t;

typedef struct {
    vl_kgw_member_t *m;
    size_t n, cap;
    uint64_t epoch;   /* GLSN of the last change of the live set (0: none yet) */
    uint64_t applied; /* the last GLSN applied */
    int64_t pid_end;  /* the highest END of the producer-id blocks (kov.pid) seen */
    uint64_t snap_p;  /* the state GLSN of the last snapshot seen (0: none) */
    /* a replay that began past GLSN 1 (the topic was trimmed) holds the
       records until the first snapshot it can start from */
    bool need_base;
    uint64_t start_glsn;
    struct vl_kgw_held *held;
    size_t nheld, held_cap;
} vl_kgw_view_t;

/*  Applies the meta record at glsn (records of other kinds are skipped):
    returns true when the live set changed. now_us is the caller's
    monotonic clock (kept as local_us).

    Compaction: a snapshot record ("kov.pid 0 END", then "kov.gw.snap P
    EPOCH N" and N member lines: the view at GLSN P) lets the topic be
    trimmed through P. A replay that began at GLSN 1 ignores snapshots (its
    view has all of it); one that began at a trim point past 1 holds the
    records it reads until a snapshot whose P + 1 is at or past its first
    GLSN, starts from the snapshot's view and applies the held records
    past P again: both end with the same view at every later GLSN. */
bool vl_kgw_view_apply(vl_kgw_view_t *v, uint64_t glsn, const void *data, size_t len,
                       int64_t now_us);

/*  A replay from a trim point that met no usable snapshot (something else
    trimmed the topic): applies the held records as they are (best effort;
    returns whether it held any). */
bool vl_kgw_view_flush_held(vl_kgw_view_t *v, int64_t now_us);

/*  The snapshot record of v (caller frees), for vl_kgw_view_apply. */
char *vl_kgw_view_snapshot(const vl_kgw_view_t *v, size_t *len);

void vl_kgw_view_free(vl_kgw_view_t *v);

/*  The live member of id (NULL: none). */
const vl_kgw_member_t *vl_kgw_view_find(const vl_kgw_view_t *v, int32_t id);

/*  The owner of partition `topic` ("T-p") and of the groups: the live
    member, or NULL when none is alive. */
const vl_kgw_member_t *vl_kgw_view_part_owner(const vl_kgw_view_t *v, const char *topic);
const vl_kgw_member_t *vl_kgw_view_group_owner(const vl_kgw_view_t *v);

/*  ---- a gateway's membership --------------------------------------------- */

typedef struct vl_kgw vl_kgw_t;

typedef struct {
    int32_t id;         /* this gateway's broker id */
    const char *addr;   /* HOST:PORT it advertises */
    int32_t session_ms; /* 0: VL_KGW_SESSION_DEFAULT_MS */
    uint32_t rf;        /* replication factor of the meta topic when created (0: 3, 2, 1) */
    uint32_t snapshot_every; /* meta records between snapshots (0: VL_KGW_SNAPSHOT_EVERY) */
} vl_kgw_opts_t;

/*  Creates the meta topic when missing, starts the thread, replays the
    meta topic and registers this gateway; returns once its registration
    is applied (everything before it is), or after 30 s with an error.
    client is borrowed (shared, thread-safe). 0, or a VL_E* code with err. */
int vl_kgw_start(vl_client_t *client, const vl_kgw_opts_t *opts, vl_kgw_t **self_p, char *err,
                 size_t err_size);

/*  Appends this gateway's leave record (best effort), stops the thread,
    frees (NULL-safe). */
void vl_kgw_stop(vl_kgw_t **self_p);

/*  Whether this gateway may write partition topic now (it owns it in the
    current view and holds its lease); *owner_p (may be NULL) gets the
    owner's id (-1: none alive) and *epoch_p the view's epoch. */
bool vl_kgw_owns_part(vl_kgw_t *self, const char *topic, int32_t *owner_p, uint64_t *epoch_p);

/*  The same for the consumer groups. */
bool vl_kgw_owns_groups(vl_kgw_t *self, int32_t *owner_p, uint64_t *epoch_p);

/*  The advertised host and port of live gateway id: 0, or -1 when it is
    not alive (or its address does not parse). */
int vl_kgw_member_addr(vl_kgw_t *self, int32_t id, char *host, size_t host_size, int *port);

/*  Splits "HOST:PORT" (the last colon; "[v6]:PORT" too): 0 or -1. */
int vl_kgw_split_addr(const char *addr, char *host, size_t host_size, int *port);

/*  A copy of the view (caller frees with vl_kgw_view_free). */
void vl_kgw_snapshot(vl_kgw_t *self, vl_kgw_view_t *out);

#endif
