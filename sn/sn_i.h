/*  sn_i.h - private to varlogsn: the actor's state, shared by its files.

    The actor runs on one thread; around its wiring (server.c) each
    protocol concern has a file of its own, all working on the one self_t:

        server.c   sockets, ROUTER dispatch, requests parked for unknown log
                   streams, timers, life cycle, the public vl_sn_* API
        replica.c  the replica table, seal, commit, writer completions
        meta.c     the MR: HELLO, REPORT, META
        append.c   APPEND (primary), BATCH_STATUS
        repl.c     replication on the primary, sync streams (SN_SYNC), bases
        backup.c   REPLICATE on a backup or a sync destination
        sub.c      SUBSCRIBE, SUB_CREDIT, LOOKUP, SN_STATUS

    A function called from another file is vl_sn_<file>_<verb> (server.c's
    own: vl_sn_<verb>) and declared here; everything else stays static.

    Two views of each replica. q ("queued") is the state once every job
    submitted so far is written: LLSNs are assigned from it and commits are
    checked against it. d ("durable") is the state the writer last reported:
    REPORTs, subscribers and SN_STATUS use it, so the MR never hears of an
    entry that is not on disk and readers never look for a commit range that
    is not in the store yet.
*/

#ifndef VL_SN_I_H
#define VL_SN_I_H
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "bidmap.h"
#include "metrics.h"
#include "mrconn.h"
#include "server.h"
#include "store.h"
#include "wire.h"
#include "writer.h"

#define S_SUB_MAX_ENTRIES 4096
#define S_SUB_MAX_BYTES (1u << 20)
#define S_SUB_OWN_BYTES (64u << 10) /* payloads this big are sent without a copy */
#define S_SUB_MAX_CREDIT 1024
#define S_MAX_SUBS 65536
#define S_SUB_IDLE_US (30ll * 1000000) /* a subscription not heard of for this long is dropped */
#define S_REPL_WINDOW 16
#define S_REPL_TIMEOUT_US (3 * 1000000)
#define S_REPL_RETRY_US (1 * 1000000)
#define S_REPL_STALE_RETRY_US (100 * 1000) /* after VL_ESTALE: META is on its way */
#define S_REPL_BATCH_ENTRIES 256
#define S_REPL_BATCH_BYTES (1u << 20)
#define S_QUEUED_BYTES_MAX (512ull << 20)
#define S_APPEND_TIMEOUT_US (120ll * 1000000)
#define S_ROUTER_SNDHWM 100000
#define S_MAX_BURST 256         /* messages read per reader callback */
#define S_PARK_US (1500 * 1000) /* how long a request for an unknown LS waits */
#define S_PARK_MAX 1024
#define S_PARK_BYTES_MAX (64ull << 20)
#define S_META_ASK_US (50 * 1000)
#define S_LOOKUPS_MAX 1024 /* LOOKUPs waiting for queued commits, per replica */
#define S_BID_SCAN_MAX                                                                             \
    (1u << 16) /* batch names a BATCH_STATUS looks through at most                                 \
                  (it runs on the event loop; past this: not final) */
/*  The MR sends nothing to an idle node: one silent for S_MR_PROBE_US is
    PINGed; one silent for S_MR_SILENT_US while an answer has been due for
    S_MR_ANSWER_US is left for the next replica (meta.c). */
#define S_MR_PROBE_US (1000 * 1000)
#define S_MR_SILENT_US (VL_MRCONN_SILENT_MS * 1000ll)
#define S_MR_ANSWER_US (500 * 1000)

/*  ---- types -------------------------------------------------------------- */

typedef struct s_replica s_replica_t;

typedef struct {
    zframe_t *rid;
    vl_hdr_t req;
    uint64_t llsn_begin;
    uint32_t n, covered;
    uint32_t nruns, cap_runs;
    vl_run_t *runs;
    int64_t since_us;
    uint32_t cut; /* 0, or (sealed) its first `cut` entries are all that commit */
    uint64_t seq; /* unique: its WRITE job's tag */
    uint64_t client_id, batch_seq; /* its name (client id 0: none) */
} s_append_t;

typedef struct {
    char key[64];
    zframe_t *rid;
    vl_hdr_t req;
    s_replica_t *rep; /* borrowed; the sub is removed before its replica */
    void *handle;     /* in rep->subs */
    uint64_t glsn_end;
    uint32_t credit;
    vl_store_cursor_t cur;
    int64_t last_heard_us; /* SUBSCRIBE or the last SUB_CREDIT (0: keepalive) */
} s_sub_t;

/*  A LOOKUP that found nothing while commits were still queued for the
    replica: an append acknowledged a moment ago may be in them. It is
    answered once the commits queued when it came are in the store. */
typedef struct {
    zframe_t *rid;
    vl_hdr_t req;
    uint64_t offset;
    uint64_t applied; /* q.applied_llsn_end when it came */
} s_lookup_t;

typedef struct {
    char addr[VL_WIRE_MAX_ADDR + 1];
    zsock_t *dealer;
    bool reset; /* to be recreated at the end of this META (a seal) */
} s_peer_t;

typedef struct {
    uint32_t sn_id;
    s_peer_t *peer;      /* borrowed from self->peers; NULL: no address */
    uint64_t sent;       /* last LLSN sent */
    uint64_t sent_bytes; /* bytes of entries 1..sent */
    uint64_t acked;      /* backup's durable end, as last heard */
    uint32_t inflight;
    uint32_t seq, epoch;
    int64_t progress_us;
    int64_t retry_at_us; /* 0, or when to probe again after an error */
    int64_t refused_log_us; /* the last "refused REPLICATE" log line */
    uint64_t limit;      /* 0: a backup, follows the durable end; else a
                            sync stream that stops at this LLSN */
    uint64_t base;       /* 0, or the next REPLICATE, which begins at this
                            LLSN, carries the base mark (see s_repl_base, repl.c) */
} s_backup_t;

struct s_replica {
    uint32_t topic_id, ls_id;
    bool seen;      /* in the META being applied */
    bool confirmed; /* placed here by a META (not only recovered) */
    uint8_t ls_state;
    uint32_t ls_epoch; /* the log stream's seal/unseal count, from META */
    bool primary;
    uint32_t nrep;
    uint32_t replicas[VL_WIRE_MAX_REPLICAS];
    vl_store_state_t q, d;
    uint64_t trim_offset;
    uint64_t trim_hwm; /* d.hwm when the last trim job was queued */
    zlistx_t *appends; /* s_append_t*, in LLSN order */
    /* the primary's names of its last batches, for resent APPENDs
       (append.c); rebuilt from the store unless bids_ready and made in
       epoch bids_epoch */
    vl_bidmap_t *bids;
    bool bids_ready;
    uint32_t bids_epoch;
    zlistx_t *subs;    /* s_sub_t* */
    zlistx_t *lookups; /* s_lookup_t*, waiting for queued commits */
    uint32_t nbackups;
    s_backup_t backups[VL_WIRE_MAX_REPLICAS];
    uint64_t sealed_end, sealed_bytes; /* while not RUNNING: the sealed end */
    int truncating;                    /* TRUNCATE jobs not yet done */
    /* A failed WRITE (COMMIT) fails every later one in the writer (they
       no longer follow its durable end). q is set back from d only once
       none is in flight, and meanwhile no new one is taken: appends and
       REPLICATE are refused, COMMITs ignored (the MR resends them). */
    uint32_t writes, commits; /* WRITE / COMMIT jobs in the writer */
    bool write_broken, commit_broken;
    uint32_t nsyncs; /* sync streams this replica feeds */
    s_backup_t syncs[VL_WIRE_MAX_REPLICAS];
    /* What the last REPORT that went out said of this replica: a partial
       REPORT carries only the replicas that changed since (reported false:
       never said, or the MR forgot it, so it goes in the next one). */
    bool reported;
    vl_report_item_t last_report;
    /* its series (stats.c) */
    vl_metric_t *m_entries, *m_bytes, *m_latency, *m_replicated, *m_lag;
};

typedef struct {
    vl_sn_config_t cfg;
    char listen[VL_WIRE_MAX_ADDR + 1];
    char advertise[VL_WIRE_MAX_ADDR + 1];
    char data_dir[4096];
    char mr_endpoints[1024];
    int port;
    int rc;
    char err[512];
} s_args_t;

typedef struct {
    zsock_t *pipe;
    s_args_t *args;
    vl_sn_config_t *cfg;
    zloop_t *loop;
    zsock_t *router;
    zsock_t *mr;           /* DEALER to the current endpoint of mrconn */
    vl_mrconn_t *mrconn;   /* which MR replica: the leader, once found */
    int64_t mr_heard_us;   /* last message from the MR (or connection to it) */
    int64_t mr_waiting_us; /* since when an answer is due (HELLO, GET_META, PING); 0: none */
    int64_t mr_word_us;    /* last message from any MR replica (a move does not count):
                              SN_STATUS reports a node cut off from the MR */
    int64_t mr_probed_us;  /* last PING for want of a word */
    int64_t mr_switched_us;
    uint64_t mr_switch_seq; /* hello_seq at the last move: requests up to it went elsewhere */
    bool mr_hinted;         /* the last switch followed a hint */
    bool mr_move;           /* a refusal asks to move, not done yet (at most one switch per
                               VL_MRCONN_PAUSE_MS) */
    int mr_dropped;         /* the move pending is for a connection 1: dropped, 2: refused */
    char mr_hint[VL_WIRE_MAX_ADDR + 1]; /* where to (empty: the next endpoint) */
    vl_store_t *store;
    vl_writer_t *writer;
    uint32_t sn_id;
    uint64_t meta_version;
    bool have_meta;
    vl_meta_t meta;
    uint64_t mr_term;       /* the highest MR leader term heard (fencing, meta.c) */
    uint64_t fence_ignored; /* messages of older terms ignored since the last log line */
    int64_t fence_log_us;   /* that log line's time */
    zhashx_t *replicas;     /* "ls id" -> s_replica_t* */
    zhashx_t *subs;         /* s_sub_t.key -> s_sub_t* */
    zhashx_t *peers;        /* addr -> s_peer_t* */
    uint64_t queued_bytes;
    bool report_dirty;
    bool report_full; /* the next REPORT carries every replica */
    int report_timer;
    zactor_t *mr_monitor; /* CONNECTED, DISCONNECTED, CONNECT_RETRIED of the DEALER to MR */
    uint64_t hello_seq;   /* request ids of what goes to the MR */
    int64_t last_unregistered_log_us;
    zlistx_t *parked; /* s_parked_t*: requests for unknown log streams */
    uint64_t parked_bytes;
    int64_t meta_asked_us; /* last HELLO/GET_META sent for them */
    int64_t fast_hello_until_us;
    uint64_t append_seq;
    int64_t sub_idle_us;     /* S_SUB_IDLE_US; tests shorten it (SUB_IDLE_MS) */
    int fault_kind;          /* tests (FAULT): the fault_n-th next job of this */
    uint32_t fault_n;        /* kind fails as a disk error would */
    vl_entry_pos_t *sub_pos; /* S_SUB_MAX_ENTRIES: the entries of that message */
    vl_wbuf_t sub_data;      /* the payload of the SUBSCRIBE data message being
                                built, kept between messages to reuse its room */
    /* a write to the disk failed (disk full, I/O error): reported in
       SN_STATUS, so the admin seals this node's log streams, until the
       disk has room again (replica.c vl_sn_fault*) */
    int64_t fault_us; /* 0: none */
    uint64_t disk_free; /* bytes free in the data directory's file system, set each
                           second by vl_sn_stats_second (UINT64_MAX: unknown) */
    bool fault_nospace;
    char fault_why[VL_WIRE_MAX_FAULT + 1];
    /* the node's series (stats.c) */
    vl_metric_t *m_subs, *m_seals, *m_disk_free, *m_disk_size, *m_segments, *m_replicas;
} self_t;

/*  ---- replica lookups (hot: inline in every file) ------------------------ */

static inline s_replica_t *s_replica(self_t *self, uint32_t ls_id)
{
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    return zhashx_lookup(self->replicas, key);
}

/*  A replica that serves requests: a META placed it here. Replicas only
    recovered from the store wait for the first META. */
static inline s_replica_t *s_hosted(self_t *self, uint32_t ls_id)
{
    s_replica_t *rep = s_replica(self, ls_id);
    return rep && rep->confirmed ? rep : NULL;
}

static inline uint64_t s_trim_point(const s_replica_t *rep)
{
    return rep->q.trim_glsn > 1 ? rep->q.trim_glsn : 1;
}

/*  ---- disk faults (replica.c) --------------------------------------------- */

/*  A job failed with rc and errmsg: the node reports a disk fault from now
    on (an I/O or space error; a gap is the protocol's, not the disk's). */
void vl_sn_fault(self_t *self, int rc, const char *errmsg);

/*  Once a second: a disk that has room again (a fault of space), or a
    fault 30 s old (another error: try again), clears the fault. */
void vl_sn_fault_check(self_t *self);

/*  ---- stats.c ------------------------------------------------------------ */

/*  Makes the node's series; a replica's; sets the gauges (each second). */
void vl_sn_stats_init(self_t *self);
void vl_sn_stats_replica(self_t *self, s_replica_t *rep);
void vl_sn_stats_second(self_t *self);

/*  ---- server.c ----------------------------------------------------------- */

/*  Sends msg (taken) to the peer rid over the ROUTER. Returns 0 or -1 when
    the peer is gone or over its high-water mark. */
int vl_sn_send_to(self_t *self, zframe_t *rid, zmsg_t **msg_p);

/*  Writes rid as hex into out (for logs). */
void vl_sn_rid_hex(zframe_t *rid, char *out, size_t size);

/*  Answers req with an error: status and the message (logged too). */
void vl_sn_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*  Answers req with status 0, body b (NULL: empty) and the frames of payload
    (borrowed, emptied; NULL: none). */
void vl_sn_reply_body(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_wbuf_t *b,
                      zmsg_t *payload);

/*  The name of a log stream state (static). */
const char *vl_sn_state_name(uint8_t state);

/*  Hands job (taken) to the writer thread; its completion comes to
    vl_sn_replica_job_done. */
void vl_sn_submit(self_t *self, vl_writer_job_t *job);

/*  Serves parked requests again: all of them after a META (all) or the
    expired ones. */
void vl_sn_unpark(self_t *self, bool all);

/*  ---- replica.c ---------------------------------------------------------- */

/*  Adds an empty replica of ls_id to the table (owned by it). */
s_replica_t *vl_sn_replica_new(self_t *self, uint32_t topic_id, uint32_t ls_id);

/*  Removes rep from the table and frees it: waiting appends, subscriptions
    and lookups get status (with why); delete_data deletes its data too. */
void vl_sn_replica_drop(self_t *self, s_replica_t *rep, int status, const char *why,
                        bool delete_data);

/*  The replica a read request (what: its name, for messages) names, or
    NULL when it answered VL_ENOLS. */
s_replica_t *vl_sn_replica_for_read(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                    const vl_subscribe_t *s, const char *what);

/*  Applies a seal at LLSN x (xbytes bytes) from the META. Idempotent. */
void vl_sn_replica_seal(self_t *self, s_replica_t *rep, uint64_t x, uint64_t xbytes);

/*  RUNNING, SEALING or SEALED: the replica's own state for SN_STATUS. */
uint8_t vl_sn_replica_state(const s_replica_t *rep);

/*  A COMMIT from the MR: queues the commit of every replica it names. */
void vl_sn_replica_on_commit(self_t *self, vl_rbuf_t *body);

/*  A writer job is done (or failed): updates the durable view and answers
    what waited for it. The caller frees job. */
void vl_sn_replica_job_done(self_t *self, vl_writer_job_t *job);

/*  ---- meta.c ------------------------------------------------------------- */

/*  Sends a REPORT to the MR now; full: every replica (else only what
    changed since the last one). */
void vl_sn_meta_report(self_t *self, bool full);

/*  Sends a REPORT a millisecond from now, coalescing changes. */
void vl_sn_meta_report_soon(self_t *self);

/*  Sends HELLO to the MR (its reply registers the node and brings META). */
void vl_sn_meta_hello(self_t *self);

/*  Fencing: true when a COMMIT or META (what) of the MR leader of term
    must be ignored, because a leader of a newer term was heard since (it
    is logged, at most once a second); else notes term as the newest. */
bool vl_sn_meta_fenced(self_t *self, const char *what, uint64_t term, uint64_t version);

/*  Asks the MR for the metadata, at most every S_META_ASK_US. */
void vl_sn_meta_ask(self_t *self);

/*  The 100 ms tick's look at the MR: a pending move to another replica,
    PING after S_MR_PROBE_US of silence, the next replica after
    S_MR_SILENT_US (only when there is another one). */
void vl_sn_meta_tick(self_t *self);

/*  zloop readers: the DEALER to the MR, and its monitor. */
int vl_sn_meta_on_mr(zloop_t *loop, zsock_t *reader, void *arg);
int vl_sn_meta_on_monitor(zloop_t *loop, zsock_t *reader, void *arg);

/*  ---- append.c ----------------------------------------------------------- */

/*  Frees a waiting append (NULL-safe, sets *a_p NULL). */
void vl_sn_append_free(s_append_t **a_p);

/*  APPEND: msg_p's payload frame may be taken. */
void vl_sn_append_on_append(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                            zmsg_t **msg_p);

/*  A commit range reached rep: answers the appends it completes. */
void vl_sn_append_commit(self_t *self, s_replica_t *rep, const vl_commit_item_t *c);

/*  BATCH_STATUS: what became of a client's batch. */
void vl_sn_append_on_batch_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                  vl_rbuf_t *body);

/*  ---- repl.c ------------------------------------------------------------- */

/*  Restarts stream b of rep with an empty REPLICATE (the peer answers its
    end). */
void vl_sn_repl_probe(self_t *self, s_replica_t *rep, s_backup_t *b);

/*  A WRITE job of the primary rep is durable: replicate it. */
void vl_sn_repl_durable(self_t *self, s_replica_t *rep, vl_writer_job_t *job);

/*  Sets up rep's backup streams after a META (none when not primary). */
void vl_sn_repl_setup(self_t *self, s_replica_t *rep);

/*  Replaces peer's DEALER (dropping what is queued in it) and restarts
    every stream to it. */
void vl_sn_repl_peer_reset(self_t *self, s_peer_t *peer);

/*  SN_SYNC: starts a sync stream of a sealed replica to another one. */
void vl_sn_repl_on_sync(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);

/*  ---- backup.c ----------------------------------------------------------- */

/*  Answers REPLICATE req with status and the replica's end. */
void vl_sn_backup_reply_end(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t status,
                            uint64_t end);

/*  REPLICATE: msg_p's payload frame may be taken. */
void vl_sn_backup_on_replicate(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                               zmsg_t **msg_p);

/*  ---- sub.c -------------------------------------------------------------- */

/*  Ends subscription sub and frees it. */
void vl_sn_sub_remove(self_t *self, s_sub_t *sub);

/*  Sends what rep's subscribers have credit for (after a commit or trim). */
void vl_sn_sub_pump_all(self_t *self, s_replica_t *rep);

/*  Frees a waiting LOOKUP (NULL-safe, sets *l_p NULL). */
void vl_sn_sub_lookup_free(s_lookup_t **l_p);

/*  A COMMIT job of rep is done (failed: it failed): answers the LOOKUPs
    that waited for it. */
void vl_sn_sub_lookups_done(self_t *self, s_replica_t *rep, bool failed);

/*  SUBSCRIBE, SUB_CREDIT (cancel: SUB_CANCEL), LOOKUP, SN_STATUS. */
void vl_sn_sub_on_subscribe(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);
void vl_sn_sub_on_credit(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                         bool cancel);
void vl_sn_sub_on_lookup(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body);
void vl_sn_sub_on_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr);

#endif
