/*  server.c - the varlogsn actor: append, replicate, commit, read.

    One thread runs a zloop over the actor pipe, the ROUTER (clients, admin,
    other SNs), the DEALER to the MR, one DEALER per backup SN and the
    writer's socket. Every disk write is a writer job (writer.h); handlers
    only read the store.

    Two views of each replica. q ("queued") is the state once every job
    submitted so far is written: LLSNs are assigned from it and commits are
    checked against it. d ("durable") is the state the writer last reported:
    REPORTs, subscribers and SN_STATUS use it, so the MR never hears of an
    entry that is not on disk and readers never look for a commit range that
    is not in the store yet.

    Append path (primary = replicas[0]): APPEND -> LLSNs from q -> WRITE job
    -> durable -> REPORT and REPLICATE to every backup -> the MR commits ->
    COMMIT -> the append's GLSN runs are known -> reply. The reply does not
    wait for the commit range to reach the store: the entries are durable
    everywhere and the MR has persisted the commit. So a reader may ask
    for an acknowledged entry before its range is stored: a LOOKUP that
    finds nothing while commits are queued waits for them, and
    subscriptions wait for commits anyway.

    Replication: per (log stream, backup) a window of REPLICATE messages in
    flight. Batches are forwarded as soon as they are durable while the
    backup's stream is contiguous; otherwise (after VL_EGAP, a timeout or a
    restart) entries are read back from the store in bounded batches. The
    request id of a REPLICATE is ls_id << 32 | sequence: a reply finds its
    log stream without a table, and replies older than the last resync
    (sequence < epoch) are ignored. A VL_EGAP reply carries an append reply
    body (llsn_begin = the backup's end), not an error string: the primary
    needs the number.

    Subscriptions: credit-based. The SN sends at most `credit` data messages
    (<= 4096 entries / 1 MiB each) before the next SUB_CREDIT, so what is
    queued for a slow reader is bounded by its credit; credit is capped at
    S_SUB_MAX_CREDIT. The ROUTER is ROUTER_MANDATORY with a zero send
    timeout: a send to a peer that is gone or over its high-water mark fails
    at once instead of blocking the loop or dropping silently, and the
    subscription is cancelled. A subscription that sends nothing (no
    credit, or no commits on an idle log stream) would never find out that
    its client is gone: clients send SUB_CREDIT(0) as a keepalive every few
    seconds, and a subscription not heard of for S_SUB_IDLE_US is dropped
    without a word (a client that is alive finds its stream silent and
    resubscribes, as after an SN restart).
*/
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/statvfs.h>
#include "log.h"
#include "server.h"
#include "store.h"
#include "util.h"
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

/*  ---- types ---------------------------------------------------------------- */

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
    uint64_t limit;      /* 0: a backup, follows the durable end; else a
                            sync stream that stops at this LLSN */
    uint64_t base;       /* 0, or the next REPLICATE, which begins at this
                            LLSN, carries the base mark (see s_repl_base) */
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
    zsock_t *mr;
    vl_store_t *store;
    vl_writer_t *writer;
    uint32_t sn_id;
    uint64_t meta_version;
    bool have_meta;
    vl_meta_t meta;
    zhashx_t *replicas; /* "ls id" -> s_replica_t* */
    zhashx_t *subs;     /* s_sub_t.key -> s_sub_t* */
    zhashx_t *peers;    /* addr -> s_peer_t* */
    uint64_t queued_bytes;
    bool report_dirty;
    bool report_full; /* the next REPORT carries every replica */
    int report_timer;
    zactor_t *mr_monitor; /* CONNECTED events of the DEALER to the MR */
    uint64_t hello_seq;
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
} self_t;

/*  A request for a log stream this node does not know yet: the client may
    have fresher metadata than the node (a topic created a moment ago). It
    waits for the next META, at most S_PARK_US, then is served or refused. */
typedef struct {
    zmsg_t *msg; /* routing id + request, as received */
    int64_t deadline_us;
} s_parked_t;

struct vl_sn {
    zactor_t *actor;
    s_args_t args;
};

static void s_sub_remove(self_t *self, s_sub_t *sub);
static void s_on_request(self_t *self, zmsg_t **msg_p, bool may_park);
static void s_send_hello(self_t *self);
static void s_repl_pump(self_t *self, s_replica_t *rep, s_backup_t *b);
static void s_report_soon(self_t *self);
static void s_ask_meta(self_t *self);
static uint64_t s_trim_point(const s_replica_t *rep);

/*  ---- helpers ------------------------------------------------------------- */

static void s_rid_hex(zframe_t *rid, char *out, size_t size)
{
    size_t n = zframe_size(rid);
    const uint8_t *p = zframe_data(rid);
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%02x", p[i]);
    out[o] = '\0';
}

/*  Sends msg (taken) to the peer rid over the ROUTER. Returns 0 or -1 when
    the peer is gone or over its high-water mark. */
static int s_send_to(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    int rc = vl_wire_send_to(self->router, rid, msg_p);
    if (rc != 0) {
        char hex[64];
        s_rid_hex(rid, hex, sizeof hex);
        vl_log(LOG_DEBUG, "sn=%u: reply to peer %s not sent: %s", self->sn_id, hex,
               zmq_strerror(zmq_errno()));
    }
    return rc;
}

static void s_free_owned(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/*  Sends msg to rid with data (len bytes, malloc'd, now ZeroMQ's) as its
    last frame, by reference: a subscriber's megabyte is not copied again.
    ROUTER_MANDATORY and the high-water mark apply to a message's first
    frame: once that went, the rest follows. */
static int s_send_owned(self_t *self, zframe_t *rid, zmsg_t **msg_p, void *data, size_t len)
{
    zframe_t *to = zframe_dup(rid);
    int rc = zframe_send(&to, self->router, ZFRAME_MORE);
    if (rc != 0) {
        char hex[64];
        s_rid_hex(rid, hex, sizeof hex);
        vl_log(LOG_DEBUG, "sn=%u: reply to peer %s not sent: %s", self->sn_id, hex,
               zmq_strerror(zmq_errno()));
        zframe_destroy(&to);
        zmsg_destroy(msg_p);
        free(data);
        return -1;
    }
    zframe_t *f;
    while ((f = zmsg_pop(*msg_p)))
        if (zframe_send(&f, self->router, ZFRAME_MORE) != 0)
            zframe_destroy(&f);
    zmsg_destroy(msg_p);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, data, len, s_free_owned, NULL) != 0) {
        free(data);
        return -1;
    }
    if (zmq_msg_send(&m, zsock_resolve(self->router), 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return 0;
}

static void s_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void s_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
                          const char *fmt, ...)
{
    char text[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    vl_log(status == VL_EPROTO || status == VL_EVERSION || status == VL_ESTORE ? LOG_WARNING
                                                                               : LOG_INFO,
           "sn=%u: %s -> %s", self->sn_id, text, vl_err_name(status));
    vl_hdr_t h = *req;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_reply(&h, (uint32_t)status, "%s", text);
    s_send_to(self, rid, &msg);
}

static void s_reply_body(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_wbuf_t *b,
                         zmsg_t *payload)
{
    vl_hdr_t h = *req;
    h.type = (uint16_t)((req->type & ~VL_MSG_REPLY) | VL_MSG_REPLY);
    h.status = 0;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_msg(&h, b);
    if (payload) {
        zframe_t *f;
        while ((f = zmsg_pop(payload)))
            zmsg_append(msg, &f);
    }
    s_send_to(self, rid, &msg);
}

static const char *s_state_name(uint8_t state)
{
    static const char *names[] = {"RUNNING", "SEALING", "SEALED", "UNSEALING", "DELETED"};
    return state < 5 ? names[state] : "UNKNOWN";
}

static s_replica_t *s_replica(self_t *self, uint32_t ls_id)
{
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    return zhashx_lookup(self->replicas, key);
}

/*  A replica that serves requests: a META placed it here. Replicas only
    recovered from the store wait for the first META. */
static s_replica_t *s_hosted(self_t *self, uint32_t ls_id)
{
    s_replica_t *rep = s_replica(self, ls_id);
    return rep && rep->confirmed ? rep : NULL;
}

static const char *s_sn_addr(self_t *self, uint32_t sn_id)
{
    const vl_meta_sn_t *sn = self->have_meta ? vl_meta_sn_by_id(&self->meta, sn_id) : NULL;
    return sn ? sn->addr : "unknown address";
}

static void s_submit(self_t *self, vl_writer_job_t *job);

/*  ---- replicas ------------------------------------------------------------ */

static s_replica_t *s_replica_new(self_t *self, uint32_t topic_id, uint32_t ls_id)
{
    s_replica_t *rep = vl_calloc(1, sizeof *rep);
    rep->topic_id = topic_id;
    rep->ls_id = ls_id;
    rep->q.topic_id = rep->d.topic_id = topic_id;
    rep->q.ls_id = rep->d.ls_id = ls_id;
    rep->appends = zlistx_new();
    rep->subs = zlistx_new();
    rep->lookups = zlistx_new();
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    zhashx_insert(self->replicas, key, rep);
    return rep;
}

static void s_lookup_free(s_lookup_t **l_p)
{
    s_lookup_t *l = *l_p;
    if (!l)
        return;
    zframe_destroy(&l->rid);
    free(l);
    *l_p = NULL;
}

static void s_append_free(s_append_t **a_p)
{
    s_append_t *a = *a_p;
    if (!a)
        return;
    zframe_destroy(&a->rid);
    free(a->runs);
    free(a);
    *a_p = NULL;
}

/*  Removes the replica from memory: waiting appends and subscriptions get
    status (with why), and when delete_data its data goes in the background. */
static void s_replica_drop(self_t *self, s_replica_t *rep, int status, const char *why,
                           bool delete_data)
{
    s_append_t *a;
    while ((a = zlistx_first(rep->appends))) {
        zlistx_delete(rep->appends, NULL);
        s_reply_error(self, a->rid, &a->req, status, "APPEND ls=%u llsn=%" PRIu64 ": %s",
                      rep->ls_id, a->llsn_begin, why);
        s_append_free(&a);
    }
    s_sub_t *sub;
    while ((sub = zlistx_first(rep->subs))) {
        s_reply_error(self, sub->rid, &sub->req, status, "SUBSCRIBE ls=%u: %s", rep->ls_id, why);
        s_sub_remove(self, sub);
    }
    s_lookup_t *l;
    while ((l = zlistx_first(rep->lookups))) {
        zlistx_delete(rep->lookups, NULL);
        s_reply_error(self, l->rid, &l->req, status, "LOOKUP ls=%u: %s", rep->ls_id, why);
        s_lookup_free(&l);
    }
    if (delete_data) {
        vl_log(LOG_NOTICE, "sn=%u ls=%u topic=%u: %s; deleting its data", self->sn_id, rep->ls_id,
               rep->topic_id, why);
        s_submit(self, vl_writer_job_new(VL_WRITER_DELETE, rep->topic_id, rep->ls_id));
    }
    char key[16];
    snprintf(key, sizeof key, "%u", rep->ls_id);
    zhashx_delete(self->replicas, key); /* its destructor frees rep */
}

/*  ---- writer ------------------------------------------------------------------ */

static void s_on_job_done(self_t *self, vl_writer_job_t *job);

static void s_submit(self_t *self, vl_writer_job_t *job)
{
    if (job->kind == VL_WRITER_WRITE)
        self->queued_bytes += job->bytes;
    if (self->fault_n && job->kind == self->fault_kind && --self->fault_n == 0)
        job->fault = true;
    if (vl_writer_submit(self->writer, job) != 0) {
        vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        s_on_job_done(self, job);
        vl_writer_job_destroy(&job);
    }
}

/*  ---- reports and hello ------------------------------------------------------ */

/*  Sends a REPORT. A partial one (full false) carries only the replicas
    whose ends or state changed since the last REPORT that went out, and
    none at all when nothing changed: with many log streams, most of them
    idle, the reports would otherwise cost the MR more than its rounds. The
    MR updates only the items present and never reads anything into an
    absent one. A full one carries every replica: the 1 s heartbeat, and
    the first REPORT after a HELLO (the MR forgot what the node reported)
    or after the connection to the MR was made again (it may be a new MR
    process that heard nothing yet), so whatever the MR lost is restored
    within a second at worst. */
static void s_send_report(self_t *self, bool full)
{
    self->report_dirty = false;
    if (!self->sn_id)
        return;
    full = full || self->report_full;
    vl_report_t r = {.sn_id = self->sn_id};
    r.items = vl_calloc(zhashx_size(self->replicas) + 1, sizeof *r.items);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        /* Nothing about a replica still discarding its suffix after a seal
           (or not yet placed by a META): its durable end is about to go
           down, and the MR must not take the old one for in line. */
        if (rep->truncating || !rep->confirmed)
            continue;
        vl_report_item_t it = {.ls_id = rep->ls_id,
                               .llsn_end = rep->d.llsn_end,
                               .bytes_end = rep->d.bytes_end,
                               .applied_llsn_end = rep->d.applied_llsn_end,
                               .state = rep->ls_state};
        const vl_report_item_t *last = &rep->last_report;
        if (!full && rep->reported && last->llsn_end == it.llsn_end &&
            last->bytes_end == it.bytes_end && last->applied_llsn_end == it.applied_llsn_end &&
            last->state == it.state)
            continue;
        r.items[r.n++] = it;
        rep->last_report = it;
        rep->reported = true;
    }
    if (!full && r.n == 0) {
        free(r.items);
        return;
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_report_encode(&r, &b);
    vl_hdr_t h = {.type = VL_MSG_REPORT, .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        /* what it said is lost: say everything next time */
        self->report_full = true;
        vl_log(LOG_DEBUG, "sn=%u: REPORT not sent (MR unreachable): %s", self->sn_id,
               zmq_strerror(zmq_errno()));
    } else if (full)
        self->report_full = false;
    vl_wbuf_free(&b);
    free(r.items);
}

static int s_on_report_timer(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    self->report_timer = -1;
    if (self->report_dirty)
        s_send_report(self, false);
    return 0;
}

/*  Coalesces changes into one REPORT a millisecond later. */
static void s_report_soon(self_t *self)
{
    self->report_dirty = true;
    if (self->report_timer < 0)
        self->report_timer = zloop_timer(self->loop, 1, 1, s_on_report_timer, self);
}

static void s_send_hello(self_t *self)
{
    /* the MR forgets what this node reported when it hears HELLO */
    self->report_full = true;
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", self->args->advertise);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    vl_hdr_t h = {
        .type = VL_MSG_HELLO, .request_id = ++self->hello_seq, .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn: HELLO not sent (MR unreachable): %s", zmq_strerror(zmq_errno()));
    }
    vl_wbuf_free(&b);
}

/*  ---- replication (primary side) ----------------------------------------------- */

static s_peer_t *s_peer_get(self_t *self, const char *addr);

/*  Bytes of entries 1..llsn, from the durable end backwards. */
static int s_bytes_at(self_t *self, s_replica_t *rep, uint64_t llsn, uint64_t *bytes_p)
{
    uint64_t sum = 0;
    int rc = vl_store_sum_sizes(self->store, rep->ls_id, llsn + 1, rep->d.llsn_end, &sum);
    if (rc)
        return rc;
    *bytes_p = rep->d.bytes_end - sum;
    return 0;
}

/*  Sends REPLICATE of n entries: sizes (u32 little endian each) and data,
    their bytes back to back (borrowed: sent by reference, ZeroMQ shares
    the frame's buffer instead of copying it, so one payload goes to every
    backup without a copy). */
static void s_repl_send(self_t *self, s_replica_t *rep, s_backup_t *b, uint64_t llsn_begin,
                        uint64_t bytes_before, const uint8_t *sizes, zframe_t *data, uint32_t n,
                        const uint8_t *bids, uint32_t nbids)
{
    vl_append_t a = {.topic_id = rep->topic_id,
                     .ls_id = rep->ls_id,
                     .n = n,
                     .llsn_begin = llsn_begin,
                     .bytes_before = bytes_before,
                     .epoch = rep->ls_epoch,
                     .nbids = nbids,
                     .bids = bids,
                     .sizes = sizes};
    vl_wbuf_t body;
    vl_wbuf_init(&body);
    vl_append_encode(&a, true, &body);
    vl_hdr_t h = {.type = VL_MSG_REPLICATE,
                  .request_id = ((uint64_t)rep->ls_id << 32) | b->seq++,
                  .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &body);
    vl_wbuf_free(&body);
    if (b->inflight == 0)
        b->progress_us = vl_now_us();
    b->inflight++;
    /* Once the first frame of a message is queued ZeroMQ takes the rest,
       so the payload cannot be left out after the header went. */
    int rc = n > 0 && data ? zmsg_sendm(&msg, b->peer->dealer) : zmsg_send(&msg, b->peer->dealer);
    if (rc == 0 && n > 0 && data)
        rc = zframe_send(&data, b->peer->dealer, ZFRAME_REUSE);
    if (rc != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn=%u ls=%u: REPLICATE to sn=%u not queued: %s; retried later",
               self->sn_id, rep->ls_id, b->sn_id, zmq_strerror(zmq_errno()));
    }
}

/*  Sends an empty REPLICATE after what was sent: the backup answers its
    end (or VL_EGAP with it), which restarts the stream from there. */
static void s_repl_probe(self_t *self, s_replica_t *rep, s_backup_t *b)
{
    if (!b->peer)
        return;
    b->epoch = b->seq;
    b->inflight = 0;
    b->retry_at_us = 0;
    s_repl_send(self, rep, b, b->sent + 1, b->sent_bytes, NULL, NULL, 0, NULL, 0);
}

/*  ---- bases: syncing a replica of a trimmed log stream ----------------------------

    A replica that lacks entries the sync source has trimmed (a new, empty
    one, or one that lagged) can never get them: the source cannot read
    them, and nobody else can. Those entries are below the trim point, so
    nobody may read them either: the destination starts over just below
    the first entry the source kept (K), as if it had held and trimmed
    everything before. The source sends the REPLICATE that begins at K
    with a base mark among its batch names: a name with client id 0 (which
    no client batch has, replicas skip it) and n 0, whose llsn_begin is K
    and batch_seq the source's trim point. A replica that gets a REPLICATE
    past its end with that mark, while the log stream is sealed, takes the
    base (s_take_base): a BASE writer job (synced) deletes what it held and
    sets llsn_end = applied_llsn_end = K - 1 and bytes_end = the
    REPLICATE's bytes_before, then the entries follow as usual. So the MR
    resends commits from K on, not the trimmed history; the range that
    holds K may begin below it (its head trimmed) and is stored whole,
    as the source holds it. Without the mark a REPLICATE past the end is
    still a gap (VL_EGAP): a lost batch must never look like a trim. */

/*  Appends the base mark for a REPLICATE beginning at llsn to bids. */
static void s_base_mark_put(const s_replica_t *rep, uint64_t llsn, vl_wbuf_t *bids)
{
    uint8_t rec[VL_WIRE_BID_SIZE];
    vl_batch_id_t id = {.llsn_begin = llsn,
                        .client_id = 0,
                        .batch_seq = rep->q.trim_glsn > 1 ? rep->q.trim_glsn : 1,
                        .n = 0};
    vl_wire_bid_put(rec, &id);
    vl_wbuf_mem(bids, rec, sizeof rec);
}

/*  Finds the base mark of REPLICATE a: true, with *mark, when there is one. */
static bool s_base_mark(const vl_append_t *a, vl_batch_id_t *mark)
{
    for (uint32_t i = 0; i < a->nbids; i++) {
        vl_batch_id_t id;
        vl_wire_bid(a->bids, i, &id);
        if (id.client_id == 0 && id.n == 0 && id.llsn_begin == a->llsn_begin) {
            *mark = id;
            return true;
        }
    }
    return false;
}

/*  The last LLSN stream b may carry: the durable end, but never past the
    sealed end of a sealed log stream (what lies beyond will be discarded)
    nor past a sync stream's limit. */
static uint64_t s_repl_end(const s_replica_t *rep, const s_backup_t *b)
{
    uint64_t end = rep->d.llsn_end;
    if (rep->ls_state != VL_LS_RUNNING && rep->sealed_end < end)
        end = rep->sealed_end;
    if (b->limit && b->limit < end)
        end = b->limit;
    return end;
}

/*  Catches a backup (or a sync destination) up from the store, up to the
    window. */
static void s_repl_pump(self_t *self, s_replica_t *rep, s_backup_t *b)
{
    uint64_t end = s_repl_end(rep, b);
    while (b->peer && !b->retry_at_us && b->inflight < S_REPL_WINDOW && b->sent < end) {
        vl_wbuf_t sizes, data;
        vl_wbuf_init(&sizes);
        vl_wbuf_init(&data);
        uint32_t n = 0;
        uint64_t bytes = 0;
        uint64_t want = end - b->sent;
        int rc = vl_store_read_entries(self->store, rep->ls_id, b->sent + 1,
                                       want < S_REPL_BATCH_ENTRIES ? (uint32_t)want
                                                                   : S_REPL_BATCH_ENTRIES,
                                       S_REPL_BATCH_BYTES, &sizes, &data, &n, &bytes);
        if (rc || n == 0) {
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: cannot read llsn=%" PRIu64 " to replicate to sn=%u: %s; "
                   "the backup needs a recovery (varlogctl ls recover)",
                   self->sn_id, rep->ls_id, b->sent + 1, b->sn_id,
                   rc ? vl_store_errmsg() : "entry not in the store");
            vl_wbuf_free(&sizes);
            vl_wbuf_free(&data);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        /* the names of the batches the entries came in go along: a backup
           must be able to say what became of a client's batch */
        vl_wbuf_t bids;
        vl_wbuf_init(&bids);
        uint32_t nbids = 0;
        if (vl_store_read_bids(self->store, rep->ls_id, b->sent + 1, b->sent + n, &bids, &nbids)) {
            /* never without them: a replica holding entries without their
               names would call their batch absent, and its client would
               append it again */
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: cannot read the batch names of llsn=%" PRIu64 "..: %s; the "
                   "stream to sn=%u waits and retries (check this node's disk)",
                   self->sn_id, rep->ls_id, b->sent + 1, vl_store_errmsg(), b->sn_id);
            vl_wbuf_free(&bids);
            vl_wbuf_free(&sizes);
            vl_wbuf_free(&data);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        if (b->base && b->base == b->sent + 1) {
            s_base_mark_put(rep, b->base, &bids);
            nbids++; /* at most n names hold one of n entries: n + 1 <= the limit */
            b->base = 0;
        }
        zframe_t *frame = zframe_new(data.data, data.len);
        s_repl_send(self, rep, b, b->sent + 1, b->sent_bytes, sizes.data, frame, n, bids.data,
                    nbids);
        zframe_destroy(&frame);
        vl_wbuf_free(&bids);
        vl_wbuf_free(&sizes);
        vl_wbuf_free(&data);
        b->sent += n;
        b->sent_bytes += bytes;
    }
}

/*  A batch of the primary became durable: forward it while the backup's
    stream is contiguous, else catch up from the store. */
static void s_repl_durable(self_t *self, s_replica_t *rep, vl_writer_job_t *job)
{
    for (uint32_t i = 0; i < rep->nbackups; i++) {
        s_backup_t *b = &rep->backups[i];
        if (!b->peer || b->retry_at_us)
            continue;
        if (rep->ls_state == VL_LS_RUNNING && b->sent + 1 == job->llsn_begin &&
            b->inflight < S_REPL_WINDOW) {
            s_repl_send(self, rep, b, job->llsn_begin, job->bytes_before, job->sizes, job->data,
                        job->n, job->bids, job->nbids);
            b->sent += job->n;
            b->sent_bytes = job->bytes_before + job->bytes;
        } else
            s_repl_pump(self, rep, b);
    }
}

static void s_repl_setup(self_t *self, s_replica_t *rep)
{
    s_backup_t old[VL_WIRE_MAX_REPLICAS];
    uint32_t nold = rep->nbackups;
    memcpy(old, rep->backups, sizeof old);
    rep->nbackups = 0;
    if (!rep->primary)
        return;
    for (uint32_t i = 1; i < rep->nrep; i++) {
        uint32_t id = rep->replicas[i];
        s_backup_t *b = &rep->backups[rep->nbackups++];
        bool kept = false;
        for (uint32_t j = 0; j < nold; j++)
            if (old[j].sn_id == id) {
                *b = old[j];
                kept = true;
            }
        const vl_meta_sn_t *sn = vl_meta_sn_by_id(&self->meta, id);
        s_peer_t *peer = sn && sn->addr[0] ? s_peer_get(self, sn->addr) : NULL;
        if (!peer)
            vl_log(LOG_WARNING, "sn=%u ls=%u: backup sn=%u has no usable address in the META",
                   self->sn_id, rep->ls_id, id);
        if (kept && b->peer == peer)
            continue;
        memset(b, 0, sizeof *b);
        b->sn_id = id;
        b->peer = peer;
        b->sent = rep->d.llsn_end;
        b->sent_bytes = rep->d.bytes_end;
        s_repl_probe(self, rep, b);
    }
}

/*  The stream of rep to peer: one of its backups (while primary) or a sync
    it feeds. A peer has at most one stream per log stream. */
static s_backup_t *s_stream_by_peer(s_replica_t *rep, s_peer_t *peer)
{
    for (uint32_t i = 0; rep->primary && i < rep->nbackups; i++)
        if (rep->backups[i].peer == peer)
            return &rep->backups[i];
    for (uint32_t i = 0; i < rep->nsyncs; i++)
        if (rep->syncs[i].peer == peer)
            return &rep->syncs[i];
    return NULL;
}

/*  Ends sync stream b of rep (it reached its limit, or is obsolete). */
static void s_sync_end(s_replica_t *rep, s_backup_t *b)
{
    size_t i = (size_t)(b - rep->syncs);
    if (i >= rep->nsyncs)
        return;
    rep->syncs[i] = rep->syncs[--rep->nsyncs];
}

/*  Stream b's destination is at llsn end, and this replica cannot read
    the entries after it. When they are trimmed here (the log stream is
    sealed, this replica has a trim point and holds every entry from some
    K on), restarts the stream at K with the base mark. Returns false when
    that is not the case (the caller reports the loss). */
static bool s_repl_base(self_t *self, s_replica_t *rep, s_backup_t *b, uint64_t end)
{
    if (rep->ls_state == VL_LS_RUNNING || s_trim_point(rep) <= 1)
        return false; /* a base is taken only while sealed; nothing trimmed here */
    uint64_t first = 0, bytes = 0;
    bool found = false;
    if (vl_store_first_entry(self->store, rep->ls_id, end + 1, &first, &found) != 0)
        return false;
    if (!found || first > rep->d.llsn_end)
        first = rep->d.llsn_end + 1; /* everything up to the end is trimmed */
    if (first <= end + 1 || first - 1 > s_repl_end(rep, b) ||
        s_bytes_at(self, rep, first - 1, &bytes))
        return false;
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: sn=%u is at llsn=%" PRIu64 " and llsn %" PRIu64 "..%" PRIu64
           " are trimmed here (trim point glsn=%" PRIu64 "); sending it a base at llsn=%" PRIu64
           ", then the entries from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, b->sn_id, end, end + 1, first - 1, s_trim_point(rep), first - 1,
           first);
    b->epoch = b->seq;
    b->inflight = 0;
    b->acked = end;
    b->sent = first - 1;
    b->sent_bytes = bytes;
    b->base = first;
    if (b->sent >= s_repl_end(rep, b)) {
        /* nothing kept to send: the base alone, in an empty REPLICATE */
        vl_wbuf_t bids;
        vl_wbuf_init(&bids);
        s_base_mark_put(rep, first, &bids);
        s_repl_send(self, rep, b, first, bytes, NULL, NULL, 0, bids.data, 1);
        vl_wbuf_free(&bids);
        b->base = 0;
    } else
        s_repl_pump(self, rep, b);
    return true;
}

/*  A reply of a backup to a REPLICATE. */
static void s_on_repl_reply(self_t *self, s_peer_t *peer, zmsg_t *msg)
{
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &hdr, &body);
    if (rc || hdr.type != (VL_MSG_REPLICATE | VL_MSG_REPLY)) {
        vl_log(LOG_WARNING, "sn=%u: unexpected message from sn at %s (%s, %s); ignored",
               self->sn_id, peer->addr, vl_wire_type_name(hdr.type), rc ? vl_err_name(rc) : "ok");
        return;
    }
    uint32_t ls_id = (uint32_t)(hdr.request_id >> 32);
    uint32_t seq = (uint32_t)hdr.request_id;
    s_replica_t *rep = s_replica(self, ls_id);
    s_backup_t *b = rep ? s_stream_by_peer(rep, peer) : NULL;
    if (!b || seq < b->epoch)
        return; /* not ours any more, or older than the last resync */
    if (b->inflight)
        b->inflight--;
    b->progress_us = vl_now_us();
    vl_append_reply_t r;
    if (hdr.status == 0 || hdr.status == VL_EGAP) {
        if (vl_append_reply_decode(&body, &r) != 0) {
            vl_log(LOG_WARNING, "sn=%u ls=%u: malformed REPLICATE reply from sn=%u; resyncing",
                   self->sn_id, ls_id, b->sn_id);
            b->retry_at_us = vl_now_us() + S_REPL_RETRY_US;
            return;
        }
        uint64_t end = r.llsn_begin;
        vl_append_reply_free(&r);
        if (hdr.status == 0) {
            if (end > b->acked)
                b->acked = end;
            if (b->limit && b->acked >= b->limit) {
                vl_log(LOG_NOTICE, "sn=%u ls=%u: sync of sn=%u done: it holds llsn 1..%" PRIu64,
                       self->sn_id, ls_id, b->sn_id, b->acked);
                s_sync_end(rep, b);
                return;
            }
            /* it holds more than was sent (it was synced, or this node
               restarted): go on from its end rather than resend */
            uint64_t bytes;
            if (end > b->sent && end <= s_repl_end(rep, b) &&
                s_bytes_at(self, rep, end, &bytes) == 0) {
                b->sent = end;
                b->sent_bytes = bytes;
            }
            s_repl_pump(self, rep, b);
            return;
        }
        /* VL_EGAP: restart the stream right after the backup's end. */
        uint64_t bytes;
        if (end > rep->d.llsn_end) {
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: backup sn=%u says it has llsn=%" PRIu64
                   ", more than this primary (%" PRIu64 "); the replicas diverged, recover it",
                   self->sn_id, ls_id, b->sn_id, end, rep->d.llsn_end);
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        if (s_bytes_at(self, rep, end, &bytes) != 0) {
            if (s_repl_base(self, rep, b, end))
                return;
            vl_log(LOG_ERR,
                   "sn=%u ls=%u: backup sn=%u is at llsn=%" PRIu64
                   " but the entries after it are gone here (%s); recover the backup",
                   self->sn_id, ls_id, b->sn_id, end, vl_store_errmsg());
            b->retry_at_us = vl_now_us() + 10 * S_REPL_RETRY_US;
            return;
        }
        vl_log(LOG_INFO, "sn=%u ls=%u: backup sn=%u is at llsn=%" PRIu64 "; resending from there",
               self->sn_id, ls_id, b->sn_id, end);
        b->epoch = b->seq;
        b->inflight = 0;
        b->acked = end;
        b->sent = end;
        b->sent_bytes = bytes;
        s_repl_pump(self, rep, b);
        return;
    }
    char text[512];
    vl_wire_errtext(&body, text, sizeof text);
    /* VL_ESTALE: the two nodes disagree on the log stream's epoch for the
       moment a META takes to reach both */
    bool stale = hdr.status == VL_ESTALE;
    vl_log(stale ? LOG_INFO : LOG_WARNING,
           "sn=%u ls=%u: backup sn=%u refused REPLICATE: %s (%s); retrying", self->sn_id, ls_id,
           b->sn_id, text, vl_err_name((int)hdr.status));
    b->epoch = b->seq;
    b->inflight = 0;
    b->retry_at_us = vl_now_us() + (stale ? S_REPL_STALE_RETRY_US : S_REPL_RETRY_US);
}

static int s_on_peer(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    s_peer_t *peer = NULL;
    for (s_peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        if (p->dealer == reader)
            peer = p;
    for (int i = 0; i < S_MAX_BURST && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        if (peer)
            s_on_repl_reply(self, peer, msg);
        zmsg_destroy(&msg);
    }
    return 0;
}

static void s_peer_free(void **item)
{
    s_peer_t *peer = *item;
    if (peer) {
        zsock_destroy(&peer->dealer);
        free(peer);
    }
    *item = NULL;
}

static zsock_t *s_peer_dealer(self_t *self, const char *addr)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    if (!dealer)
        return NULL;
    zsock_set_linger(dealer, 0);
    zsock_set_sndtimeo(dealer, 0);
    zsock_set_sndhwm(dealer, 10000);
    zsock_set_maxmsgsize(dealer, 1 << 16);
    if (zsock_connect(dealer, "%s", addr) != 0) {
        vl_log(LOG_WARNING, "sn=%u: cannot connect to storage node %s: %s", self->sn_id, addr,
               zmq_strerror(zmq_errno()));
        zsock_destroy(&dealer);
        return NULL;
    }
    return dealer;
}

/*  Replaces the peer's DEALER by a new one: REPLICATE batches still queued
    in the old one (ZeroMQ keeps them across reconnects) are dropped, so
    that batches of before a seal do not arrive after it. Every stream to
    the peer starts again with a probe. */
static void s_peer_reset(self_t *self, s_peer_t *peer)
{
    zsock_t *dealer = s_peer_dealer(self, peer->addr);
    if (!dealer)
        return; /* keep the old one; the epoch check still stops stale batches */
    zloop_reader_end(self->loop, peer->dealer);
    zsock_destroy(&peer->dealer);
    peer->dealer = dealer;
    zloop_reader(self->loop, dealer, s_on_peer, self);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        uint32_t nb = rep->primary ? rep->nbackups : 0;
        for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
            s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
            if (b->peer == peer)
                s_repl_probe(self, rep, b);
        }
    }
}

static s_peer_t *s_peer_get(self_t *self, const char *addr)
{
    s_peer_t *peer = zhashx_lookup(self->peers, addr);
    if (peer)
        return peer;
    zsock_t *dealer = s_peer_dealer(self, addr);
    if (!dealer)
        return NULL;
    peer = vl_calloc(1, sizeof *peer);
    snprintf(peer->addr, sizeof peer->addr, "%s", addr);
    peer->dealer = dealer;
    zhashx_insert(self->peers, addr, peer);
    zloop_reader(self->loop, dealer, s_on_peer, self);
    return peer;
}

/*  ---- replicate (backup side) ----------------------------------------------- */

static void s_reply_end(self_t *self, zframe_t *rid, const vl_hdr_t *req, uint32_t status,
                        uint64_t end)
{
    vl_append_reply_t r = {.llsn_begin = end};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_reply_encode(&r, &b);
    vl_hdr_t h = *req;
    h.type = VL_MSG_REPLICATE | VL_MSG_REPLY;
    h.status = status;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send_to(self, rid, &msg);
}

/*  REPLICATE a begins past this replica's end with the base mark: the
    entries before it are trimmed at the source (see "bases" above). Takes
    the base when that can be so: the log stream is sealed, the base lies
    within the sealed end and agrees with its bytes, and nothing of this
    replica is on its way to the disk. Returns true when the entries of a
    (if any) are to be written after the base; false when it answered
    (an error, or an empty REPLICATE, answered once the base is durable). */
static bool s_take_base(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                        const vl_append_t *a, const vl_batch_id_t *mark)
{
    uint64_t base = a->llsn_begin - 1;
    if (rep->ls_state == VL_LS_RUNNING) {
        s_reply_error(self, rid, hdr, VL_EINVAL,
                      "REPLICATE ls=%u: a base at llsn=%" PRIu64 " is taken only while the log "
                      "stream is sealed; seal it ('varlogctl ls seal') and sync again",
                      a->ls_id, base);
        return false;
    }
    if (base > rep->sealed_end || a->bytes_before > rep->sealed_bytes ||
        (base == rep->sealed_end && a->bytes_before != rep->sealed_bytes) || mark->batch_seq <= 1) {
        s_reply_error(
            self, rid, hdr, VL_EPROTO,
            "REPLICATE ls=%u: base at llsn=%" PRIu64 " with %" PRIu64
            " bytes (trim point glsn=%" PRIu64 ") does not fit the sealed end llsn=%" PRIu64
            " with %" PRIu64 " bytes; sync from another replica",
            a->ls_id, base, a->bytes_before, mark->batch_seq, rep->sealed_end, rep->sealed_bytes);
        return false;
    }
    if (rep->writes || rep->commits || rep->truncating || rep->commit_broken) {
        s_reply_error(self, rid, hdr, VL_EBUSY,
                      "REPLICATE ls=%u: sn=%u still writes earlier entries or commits of the log "
                      "stream; the base at llsn=%" PRIu64 " is retried",
                      a->ls_id, self->sn_id, base);
        return false;
    }
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: holds llsn 1..%" PRIu64 ", the source trimmed below glsn=%" PRIu64
           " and keeps llsn %" PRIu64 ".. only: taking a base at llsn=%" PRIu64 " (%" PRIu64
           " bytes) and dropping what it held",
           self->sn_id, rep->ls_id, rep->q.llsn_end, mark->batch_seq, a->llsn_begin, base,
           a->bytes_before);
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_BASE, rep->topic_id, rep->ls_id);
    job->llsn_end = base;
    job->bytes_end = a->bytes_before;
    job->trim_glsn = mark->batch_seq;
    rep->q.llsn_end = base;
    rep->q.bytes_end = a->bytes_before;
    rep->q.applied_llsn_end = base;
    if (mark->batch_seq > rep->q.trim_glsn) {
        /* the source knows a later trim than this node: the META with it
           is on its way; ask for it so that reads check it too */
        rep->q.trim_glsn = mark->batch_seq;
        s_ask_meta(self);
    }
    rep->writes++; /* a failed base is undone like a failed write */
    if (a->n == 0) {
        job->reply_to = zframe_dup(rid);
        job->req = *hdr;
    }
    s_submit(self, job);
    return a->n > 0;
}

static void s_on_replicate(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                           zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    vl_append_t a;
    if (vl_append_decode(body, true, &a) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "REPLICATE: malformed body; expected topic, ls, count, llsn, bytes");
        return;
    }
    char why[160];
    zframe_t *payload;
    if (vl_wire_payload(msg, a.n, vl_wire_sizes_sum(a.sizes, a.n), &payload, why, sizeof why)) {
        s_reply_error(self, rid, hdr, VL_EPROTO, "REPLICATE ls=%u: %s", a.ls_id, why);
        return;
    }
    s_replica_t *rep = s_hosted(self, a.ls_id);
    if (!rep || rep->topic_id != a.topic_id) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "REPLICATE: sn=%u does not host ls=%u of topic=%u (yet); retry after "
                      "the metadata reaches it",
                      self->sn_id, a.ls_id, a.topic_id);
        return;
    }
    if (rep->primary && rep->ls_state == VL_LS_RUNNING) {
        /* a sealed primary may be behind: it is synced like a backup */
        s_reply_error(self, rid, hdr, VL_EINVAL,
                      "REPLICATE: sn=%u is the primary of ls=%u, not a backup", self->sn_id,
                      a.ls_id);
        return;
    }
    if (a.epoch != rep->ls_epoch) {
        /* LLSNs past a sealed end are reused after the unseal: a batch of
           another epoch (sent before a seal, and queued since) may hold
           other bytes than the primary holds now at the same LLSNs. */
        if (a.epoch > rep->ls_epoch)
            s_ask_meta(self);
        s_reply_error(self, rid, hdr, VL_ESTALE,
                      "REPLICATE ls=%u llsn=%" PRIu64 ": sent in epoch %u of the log stream, "
                      "sn=%u is in epoch %u (sealed or unsealed since); resend once both have "
                      "the same metadata",
                      a.ls_id, a.llsn_begin, a.epoch, self->sn_id, rep->ls_epoch);
        return;
    }
    if (a.llsn_begin == 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO, "REPLICATE ls=%u: llsn 0 does not exist", a.ls_id);
        return;
    }
    if (rep->write_broken) {
        s_reply_error(self, rid, hdr, VL_ESTORE,
                      "REPLICATE ls=%u: a write to the disk of sn=%u failed and the writes "
                      "queued behind it are being undone; retry (and check its disk)",
                      a.ls_id, self->sn_id);
        return;
    }
    if (a.llsn_begin > rep->q.llsn_end + 1) {
        vl_batch_id_t mark;
        if (!s_base_mark(&a, &mark)) {
            s_reply_end(self, rid, hdr, VL_EGAP, rep->q.llsn_end);
            return;
        }
        if (!s_take_base(self, rep, rid, hdr, &a, &mark))
            return; /* refused, or an empty REPLICATE answered when durable */
        /* the entries follow the base */
    }
    if (rep->ls_state != VL_LS_RUNNING && a.n > 0 && a.llsn_begin + a.n - 1 > rep->sealed_end) {
        /* Sealed: entries past the sealed end were never committed and
           never will be; keep only those up to it. */
        uint64_t keep = a.llsn_begin > rep->sealed_end ? 0 : rep->sealed_end - a.llsn_begin + 1;
        a.n = (uint32_t)keep;
    }
    /* Skip what this backup already has: the bytes are the primary's. */
    uint64_t skip = rep->q.llsn_end + 1 - a.llsn_begin;
    uint64_t skipped_bytes = vl_wire_sizes_sum(a.sizes, skip < a.n ? (uint32_t)skip : a.n);
    if (skip >= a.n) {
        s_reply_end(self, rid, hdr, 0, rep->d.llsn_end);
        return;
    }
    if (a.bytes_before + skipped_bytes != rep->q.bytes_end) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "REPLICATE ls=%u at llsn=%" PRIu64 ": %" PRIu64
                      " bytes before it at the primary, %" PRIu64
                      " here; the replicas diverged, recover this one",
                      a.ls_id, rep->q.llsn_end + 1, a.bytes_before + skipped_bytes,
                      rep->q.bytes_end);
        return;
    }
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_WRITE, rep->topic_id, rep->ls_id);
    job->sync = self->cfg->sync;
    job->llsn_begin = rep->q.llsn_end + 1;
    job->n = (uint32_t)(a.n - skip);
    job->bytes = vl_wire_sizes_sum(a.sizes + 4 * skip, job->n);
    job->bytes_before = rep->q.bytes_end;
    job->sizes = vl_malloc(4 * (size_t)job->n);
    memcpy(job->sizes, a.sizes + 4 * skip, 4 * (size_t)job->n);
    if (skipped_bytes == 0 && job->bytes == zframe_size(payload)) {
        zmsg_remove(msg, payload); /* the whole payload: no copy */
        job->data = payload;
    } else /* a part (overlap, or past a sealed end): rare */
        job->data = zframe_new(zframe_data(payload) + skipped_bytes, job->bytes);
    /* the names of the batches that have entries among those written */
    uint64_t last = job->llsn_begin + job->n - 1;
    for (uint32_t i = 0; i < a.nbids; i++) {
        vl_batch_id_t id;
        vl_wire_bid(a.bids, i, &id);
        if (id.client_id == 0 || id.n == 0 || id.llsn_begin > last ||
            id.llsn_begin + id.n <= job->llsn_begin)
            continue;
        if (!job->bids)
            job->bids = vl_malloc(VL_WIRE_BID_SIZE * (size_t)a.nbids);
        vl_wire_bid_put(job->bids + VL_WIRE_BID_SIZE * (size_t)job->nbids++, &id);
    }
    job->reply_to = zframe_dup(rid);
    job->req = *hdr;
    rep->q.llsn_end += job->n;
    rep->q.bytes_end += job->bytes;
    rep->writes++;
    s_submit(self, job);
}

/*  ---- append ---------------------------------------------------------------------- */

static void s_append_reply(self_t *self, s_replica_t *rep, s_append_t *a)
{
    vl_append_reply_t r = {.llsn_begin = a->llsn_begin, .nruns = a->nruns, .runs = a->runs};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_append_reply_encode(&r, &b);
    s_reply_body(self, a->rid, &a->req, &b, NULL);
    vl_wbuf_free(&b);
}

/*  The answer to an append cut by a seal: VL_ESEALED, the message, then
    the GLSN runs of its committed head (an append reply body after the
    error string), so the client retries only the rest. */
static void s_append_reply_sealed(self_t *self, s_replica_t *rep, s_append_t *a)
{
    char text[400];
    snprintf(text, sizeof text,
             "APPEND ls=%u: the log stream was sealed at llsn=%" PRIu64 "; the first %u of the "
             "batch's %u entries are committed (their GLSNs follow), the other %u are not in the "
             "log: append them to another log stream",
             rep->ls_id, rep->sealed_end, a->covered, a->n, a->n - a->covered);
    vl_log(LOG_INFO, "sn=%u: %s", self->sn_id, text);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_str(&b, text);
    vl_append_reply_t r = {.llsn_begin = a->llsn_begin, .nruns = a->nruns, .runs = a->runs};
    vl_append_reply_encode(&r, &b);
    vl_hdr_t h = a->req;
    h.type = VL_MSG_APPEND | VL_MSG_REPLY;
    h.status = VL_ESEALED;
    h.cluster_id = self->cfg->cluster_id;
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send_to(self, a->rid, &msg);
}

static void s_on_append(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                        zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    vl_append_t a;
    if (vl_append_decode(body, false, &a) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "APPEND: malformed body; expected topic id, ls id and entry count");
        return;
    }
    char why[160];
    zframe_t *payload;
    /* one pass over the sizes: their sum, and the first one too big */
    uint64_t bytes = 0;
    uint32_t big = a.n;
    for (uint32_t i = 0; i < a.n; i++) {
        uint32_t size = vl_wire_size(a.sizes, i);
        bytes += size;
        if (size > self->cfg->max_entry_size && big == a.n)
            big = i;
    }
    if (vl_wire_payload(msg, a.n, bytes, &payload, why, sizeof why)) {
        s_reply_error(self, rid, hdr, VL_EPROTO, "APPEND ls=%u: %s; nothing was written", a.ls_id,
                      why);
        return;
    }
    s_replica_t *rep = s_hosted(self, a.ls_id);
    if (!rep) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "APPEND: storage node %s (sn=%u) does not host ls=%u; refresh the "
                      "metadata",
                      self->args->advertise, self->sn_id, a.ls_id);
        return;
    }
    if (rep->topic_id != a.topic_id) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "APPEND: ls=%u belongs to topic=%u, not topic=%u; refresh the metadata",
                      a.ls_id, rep->topic_id, a.topic_id);
        return;
    }
    if (!rep->primary) {
        uint32_t primary = rep->nrep ? rep->replicas[0] : 0;
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "APPEND: sn=%u is a backup of ls=%u; append to its primary sn=%u (%s)",
                      self->sn_id, a.ls_id, primary, s_sn_addr(self, primary));
        return;
    }
    if (rep->ls_state != VL_LS_RUNNING) {
        s_reply_error(self, rid, hdr, VL_ESEALED,
                      "APPEND: ls=%u is %s; append to another log stream of the topic", a.ls_id,
                      s_state_name(rep->ls_state));
        return;
    }
    if (rep->write_broken) {
        s_reply_error(self, rid, hdr, VL_ESTORE,
                      "APPEND ls=%u: a write to the disk of sn=%u failed and the appends queued "
                      "behind it are being failed; nothing was written, retry (and check the "
                      "storage node's log and disk)",
                      a.ls_id, self->sn_id);
        return;
    }
    if (big < a.n) {
        s_reply_error(self, rid, hdr, VL_ETOOBIG,
                      "APPEND ls=%u: entry %u of the batch has %zu bytes, more than the "
                      "maximum entry size %" PRIu64 "; nothing was written",
                      a.ls_id, big, (size_t)vl_wire_size(a.sizes, big), self->cfg->max_entry_size);
        return;
    }
    if (self->queued_bytes + bytes > S_QUEUED_BYTES_MAX) {
        s_reply_error(self, rid, hdr, VL_EBUSY,
                      "APPEND ls=%u: %" PRIu64 " bytes are waiting for the disk of sn=%u; "
                      "nothing was written, retry later",
                      a.ls_id, self->queued_bytes, self->sn_id);
        return;
    }
    s_append_t *p = vl_calloc(1, sizeof *p);
    p->rid = zframe_dup(rid);
    p->req = *hdr;
    p->llsn_begin = rep->q.llsn_end + 1;
    p->n = a.n;
    p->since_us = vl_now_us();
    p->seq = ++self->append_seq;
    if (a.n == 0) {
        s_append_reply(self, rep, p);
        s_append_free(&p);
        return;
    }
    zlistx_add_end(rep->appends, p);

    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_WRITE, rep->topic_id, rep->ls_id);
    job->sync = self->cfg->sync;
    job->llsn_begin = p->llsn_begin;
    job->n = a.n;
    job->bytes = bytes;
    job->bytes_before = rep->q.bytes_end;
    job->sizes = vl_malloc(4 * (size_t)a.n);
    memcpy(job->sizes, a.sizes, 4 * (size_t)a.n);
    zmsg_remove(msg, payload); /* the writer and the backups take it as is */
    job->data = payload;
    job->tag = p->seq;
    if (a.client_id != 0) {
        /* kept with the entries (and sent to the backups), so that the
           client can ask what became of the batch if this answer is lost */
        vl_batch_id_t id = {.llsn_begin = p->llsn_begin,
                            .client_id = a.client_id,
                            .batch_seq = a.batch_seq,
                            .n = a.n};
        job->bids = vl_malloc(VL_WIRE_BID_SIZE);
        vl_wire_bid_put(job->bids, &id);
        job->nbids = 1;
    }
    rep->q.llsn_end += a.n;
    rep->q.bytes_end += bytes;
    rep->writes++;
    s_submit(self, job);
}

/*  A commit range reached the replica: adds GLSN runs to the waiting
    appends it covers and answers those that are complete. */
static void s_appends_commit(self_t *self, s_replica_t *rep, const vl_commit_item_t *c)
{
    uint64_t lb = c->llsn_begin, le = c->llsn_begin + c->count; /* [lb, le) */
    for (s_append_t *a = zlistx_first(rep->appends); a; a = zlistx_next(rep->appends)) {
        if (a->llsn_begin >= le)
            break;
        /* Commits reach an append in LLSN order, so what it has is a
           prefix: a range seen again (resent after a failed COMMIT job)
           adds only what lies past it. */
        uint64_t ab = a->llsn_begin + a->covered, ae = a->llsn_begin + a->n;
        uint64_t ob = ab > lb ? ab : lb, oe = ae < le ? ae : le;
        if (ob >= oe)
            continue;
        uint64_t glsn = c->glsn_begin + (ob - lb);
        uint32_t cnt = (uint32_t)(oe - ob);
        if (a->nruns && a->runs[a->nruns - 1].glsn_begin + a->runs[a->nruns - 1].count == glsn)
            a->runs[a->nruns - 1].count += cnt;
        else {
            if (a->nruns == a->cap_runs) {
                a->cap_runs = a->cap_runs ? a->cap_runs * 2 : 4;
                a->runs = vl_realloc(a->runs, a->cap_runs * sizeof *a->runs);
            }
            a->runs[a->nruns].glsn_begin = glsn;
            a->runs[a->nruns].count = cnt;
            a->nruns++;
        }
        a->covered += cnt;
    }
    s_append_t *a;
    while ((a = zlistx_first(rep->appends)) &&
           (a->covered >= a->n || (a->cut && a->covered >= a->cut))) {
        zlistx_delete(rep->appends, NULL);
        if (a->covered >= a->n)
            s_append_reply(self, rep, a);
        else
            s_append_reply_sealed(self, rep, a);
        s_append_free(&a);
    }
}

/*  ---- seal ------------------------------------------------------------------------- */

/*  The log stream is sealed at LLSN x (its committed end, bytes xbytes):
    appends past x fail now (they can never commit), an append straddling x
    is answered once its committed head is known, the uncommitted suffix is
    discarded through the writer (so it can never be committed later), and
    replication streams stop at x. Idempotent: a META repeats the seal. */
static void s_seal(self_t *self, s_replica_t *rep, uint64_t x, uint64_t xbytes)
{
    bool first = rep->sealed_end != x || rep->q.llsn_end > x;
    rep->sealed_end = x;
    rep->sealed_bytes = xbytes;
    s_append_t *a = zlistx_first(rep->appends);
    while (a) {
        if (a->llsn_begin > x) {
            zlistx_delete(rep->appends, zlistx_cursor(rep->appends));
            s_reply_error(self, a->rid, &a->req, VL_ESEALED,
                          "APPEND ls=%u: the log stream was sealed at llsn=%" PRIu64
                          " before the batch (llsn %" PRIu64 "..) was committed; nothing of it "
                          "is in the log: append it to another log stream",
                          rep->ls_id, x, a->llsn_begin);
            s_append_free(&a);
            a = zlistx_first(rep->appends); /* delete resets the cursor */
            continue;
        }
        if (a->llsn_begin + a->n - 1 > x)
            a->cut = (uint32_t)(x - a->llsn_begin + 1);
        a = zlistx_next(rep->appends);
    }
    /* a straddling append whose head was committed already */
    vl_commit_item_t none = {.llsn_begin = x + 1};
    s_appends_commit(self, rep, &none);
    if (rep->q.llsn_end > x) {
        vl_log(LOG_NOTICE,
               "sn=%u ls=%u: sealed at llsn=%" PRIu64 "; discarding uncommitted llsn %" PRIu64
               "..%" PRIu64,
               self->sn_id, rep->ls_id, x, x + 1, rep->q.llsn_end);
        vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_TRUNCATE, rep->topic_id, rep->ls_id);
        job->llsn_end = x;
        job->bytes_end = xbytes;
        rep->q.llsn_end = x;
        rep->q.bytes_end = xbytes;
        rep->truncating++;
        s_submit(self, job);
    } else if (first) {
        vl_log(LOG_NOTICE,
               "sn=%u ls=%u: sealed at llsn=%" PRIu64 "; this replica holds %" PRIu64 "%s",
               self->sn_id, rep->ls_id, x, rep->q.llsn_end,
               rep->q.llsn_end < x ? " (behind: it needs a sync)" : "");
    }
    /* streams that ran past x restart from x (the backups discard too) */
    for (uint32_t i = 0; i < rep->nbackups; i++) {
        s_backup_t *b = &rep->backups[i];
        if (b->sent > x) {
            b->sent = x;
            b->sent_bytes = xbytes;
            b->epoch = b->seq;
            b->inflight = 0;
        }
    }
}

/*  The replica's own state for SN_STATUS and reports: in line with the
    sealed end (SEALED) or not yet (SEALING). */
static uint8_t s_replica_state(const s_replica_t *rep)
{
    if (rep->ls_state == VL_LS_RUNNING)
        return VL_LS_RUNNING;
    if (!rep->truncating && rep->d.llsn_end == rep->sealed_end &&
        rep->d.applied_llsn_end == rep->sealed_end)
        return VL_LS_SEALED;
    return VL_LS_SEALING;
}

/*  ---- commit ----------------------------------------------------------------------- */

static void s_apply_commit(self_t *self, s_replica_t *rep, uint64_t version,
                           const vl_commit_item_t *c)
{
    if (c->count == 0 || c->llsn_begin + c->count - 1 <= rep->q.applied_llsn_end)
        return; /* empty or already applied */
    if (rep->commit_broken) {
        vl_log(LOG_DEBUG,
               "sn=%u ls=%u: commit from llsn=%" PRIu64 " ignored while failed commit jobs "
               "drain; the MR resends it",
               self->sn_id, rep->ls_id, c->llsn_begin);
        return;
    }
    /* A range begins at applied + 1, or below it when this replica
       started from a base inside the range (the range's head is trimmed
       everywhere): it is stored whole, as the other replicas hold it. */
    if (c->llsn_begin > rep->q.applied_llsn_end + 1) {
        vl_log(LOG_DEBUG,
               "sn=%u ls=%u: commit from llsn=%" PRIu64 " past applied end %" PRIu64
               " ignored; the MR resends the gap",
               self->sn_id, rep->ls_id, c->llsn_begin, rep->q.applied_llsn_end);
        return;
    }
    if (c->llsn_begin + c->count - 1 > rep->d.llsn_end) {
        vl_log(LOG_WARNING,
               "sn=%u ls=%u: commit of llsn=%" PRIu64 "..%" PRIu64 " past the durable end %" PRIu64
               " ignored",
               self->sn_id, rep->ls_id, c->llsn_begin, c->llsn_begin + c->count - 1,
               rep->d.llsn_end);
        return;
    }
    rep->q.applied_llsn_end = c->llsn_begin + c->count - 1;
    if (c->hwm > rep->q.hwm)
        rep->q.hwm = c->hwm;
    vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_COMMIT, rep->topic_id, rep->ls_id);
    job->range.glsn_begin = c->glsn_begin;
    job->range.llsn_begin = c->llsn_begin;
    job->range.count = c->count;
    job->range.offset_begin = c->offset_begin;
    job->range.bytes = c->bytes;
    job->range.version = version;
    job->hwm = c->hwm;
    rep->commits++;
    s_submit(self, job);
    s_appends_commit(self, rep, c);
}

static void s_on_commit(self_t *self, vl_rbuf_t *body)
{
    vl_commit_t c;
    if (vl_commit_decode(body, &c) != 0) {
        vl_log(LOG_WARNING, "sn=%u: malformed COMMIT from the MR ignored", self->sn_id);
        return;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        s_replica_t *rep = s_replica(self, c.items[i].ls_id);
        if (rep && rep->topic_id == c.items[i].topic_id)
            s_apply_commit(self, rep, c.version, &c.items[i]);
    }
    vl_commit_free(&c);
}

/*  ---- subscriptions ---------------------------------------------------------------- */

static void s_sub_key(zframe_t *rid, uint64_t request_id, char *key, size_t size)
{
    char hex[40];
    s_rid_hex(rid, hex, sizeof hex);
    snprintf(key, size, "%s:%" PRIx64, hex, request_id);
}

static void s_sub_remove(self_t *self, s_sub_t *sub)
{
    zlistx_delete(sub->rep->subs, sub->handle);
    zhashx_delete(self->subs, sub->key); /* its destructor frees sub */
}

static uint64_t s_trim_point(const s_replica_t *rep)
{
    return rep->q.trim_glsn > 1 ? rep->q.trim_glsn : 1;
}

/*  Sends data while the subscriber has credit. Returns false when the
    subscription ended (and is freed). */
static bool s_sub_pump(self_t *self, s_sub_t *sub)
{
    s_replica_t *rep = sub->rep;
    vl_entry_pos_t *pos = self->sub_pos;
    while (sub->credit > 0) {
        if (sub->cur.glsn < s_trim_point(rep) && sub->cur.glsn > rep->d.hwm) {
            /* The stream has sent every entry of this LS up to the last
               commit it knows, and commits arrive before the trims that
               follow them: no entry of this LS lies between its position
               and the trim point, so it goes on from the trim point. */
            sub->cur.glsn = s_trim_point(rep);
            sub->cur.valid = false;
        }
        if (sub->cur.glsn < s_trim_point(rep)) {
            s_reply_error(self, sub->rid, &sub->req, VL_ETRIMMED,
                          "SUBSCRIBE ls=%u: glsn=%" PRIu64 " is trimmed (the log starts at %" PRIu64
                          "); subscribe from the trim point",
                          rep->ls_id, sub->cur.glsn, s_trim_point(rep));
            s_sub_remove(self, sub);
            return false;
        }
        uint64_t limit = rep->d.hwm + 1 < sub->glsn_end ? rep->d.hwm + 1 : sub->glsn_end;
        vl_wbuf_t *data = &self->sub_data;
        data->len = 0;
        uint32_t n = 0;
        bool more = false;
        int rc = 0;
        if (sub->cur.glsn < limit)
            rc = vl_store_read_committed(self->store, rep->ls_id, &sub->cur, limit,
                                         S_SUB_MAX_ENTRIES, S_SUB_MAX_BYTES, pos, data, &n, &more);
        if (rc) {
            s_reply_error(self, sub->rid, &sub->req, rc, "SUBSCRIBE ls=%u: %s", rep->ls_id,
                          vl_store_errmsg());
            s_sub_remove(self, sub);
            return false;
        }
        /* The stream ends itself only when everything of this LS below
           glsn_end is known to be sent. */
        bool last = sub->cur.glsn >= sub->glsn_end || (!more && limit == sub->glsn_end);
        if (n == 0 && !last)
            return true; /* wait for commits */
        vl_sub_data_t d = {.last = last, .n = n, .entries = pos};
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_sub_data_encode(&d, &b);
        vl_hdr_t h = sub->req;
        h.type = VL_MSG_SUBSCRIBE | VL_MSG_REPLY;
        h.status = 0;
        h.cluster_id = self->cfg->cluster_id;
        zmsg_t *msg = vl_wire_msg(&h, &b);
        vl_wbuf_free(&b);
        int src;
        if (n > 0 && data->len >= S_SUB_OWN_BYTES) {
            /* a big payload goes as it is, and the next one gets a new
               buffer */
            void *own = data->data;
            size_t len = data->len;
            vl_wbuf_init(data);
            vl_wbuf_reserve(data, S_SUB_MAX_BYTES);
            src = s_send_owned(self, sub->rid, &msg, own, len);
        } else {
            if (n > 0)
                zmsg_addmem(msg, data->data, data->len); /* one payload frame */
            src = s_send_to(self, sub->rid, &msg);
        }
        sub->credit--;
        if (src != 0 || last) {
            s_sub_remove(self, sub);
            return false;
        }
        if (!more)
            return true;
    }
    return true;
}

static void s_subs_pump(self_t *self, s_replica_t *rep)
{
    s_sub_t *sub = zlistx_first(rep->subs);
    while (sub) {
        /* The pump may free sub: step first. */
        s_sub_t *next = zlistx_next(rep->subs);
        s_sub_pump(self, sub);
        sub = next;
    }
}

static s_replica_t *s_read_replica(self_t *self, zframe_t *rid, const vl_hdr_t *hdr,
                                   const vl_subscribe_t *s, const char *what)
{
    s_replica_t *rep = s_hosted(self, s->ls_id);
    if (!rep) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "%s: storage node %s (sn=%u) does not host ls=%u; refresh the metadata", what,
                      self->args->advertise, self->sn_id, s->ls_id);
        return NULL;
    }
    if (rep->topic_id != s->topic_id) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "%s: ls=%u belongs to topic=%u, not topic=%u; refresh the metadata", what,
                      s->ls_id, rep->topic_id, s->topic_id);
        return NULL;
    }
    return rep;
}

static void s_on_subscribe(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_subscribe_t s;
    if (vl_subscribe_decode(body, &s) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "SUBSCRIBE: malformed body; expected topic, ls, glsn range and credit");
        return;
    }
    s_replica_t *rep = s_read_replica(self, rid, hdr, &s, "SUBSCRIBE");
    if (!rep)
        return;
    char key[64];
    s_sub_key(rid, hdr->request_id, key, sizeof key);
    s_sub_t *old = zhashx_lookup(self->subs, key);
    if (old)
        s_sub_remove(self, old); /* the same request id again: a restart */
    if (s.credit == 0) {
        s_reply_error(self, rid, hdr, VL_EINVAL,
                      "SUBSCRIBE ls=%u: credit 0 lets the node send nothing; subscribe with "
                      "credit >= 1",
                      s.ls_id);
        return;
    }
    if (zhashx_size(self->subs) >= S_MAX_SUBS) {
        s_reply_error(self, rid, hdr, VL_EBUSY,
                      "SUBSCRIBE ls=%u: sn=%u already serves %d subscriptions; retry later",
                      s.ls_id, self->sn_id, S_MAX_SUBS);
        return;
    }
    uint64_t begin = s.glsn_begin ? s.glsn_begin : s_trim_point(rep);
    if (begin < s_trim_point(rep)) {
        s_reply_error(self, rid, hdr, VL_ETRIMMED,
                      "SUBSCRIBE ls=%u from glsn=%" PRIu64 ": entries below %" PRIu64
                      " are trimmed; subscribe from the trim point",
                      s.ls_id, begin, s_trim_point(rep));
        return;
    }
    s_sub_t *sub = vl_calloc(1, sizeof *sub);
    snprintf(sub->key, sizeof sub->key, "%s", key);
    sub->rid = zframe_dup(rid);
    sub->req = *hdr;
    sub->rep = rep;
    sub->glsn_end = s.glsn_end;
    sub->credit = s.credit < S_SUB_MAX_CREDIT ? s.credit : S_SUB_MAX_CREDIT;
    sub->cur.glsn = begin;
    sub->last_heard_us = vl_now_us();
    sub->handle = zlistx_add_end(rep->subs, sub);
    zhashx_insert(self->subs, sub->key, sub);
    vl_log(LOG_DEBUG, "sn=%u ls=%u: subscription %s [%" PRIu64 ", %" PRIu64 ") credit %u",
           self->sn_id, s.ls_id, key, begin, s.glsn_end, sub->credit);
    s_sub_pump(self, sub);
}

static void s_on_sub_credit(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                            bool cancel)
{
    char key[64];
    s_sub_key(rid, hdr->request_id, key, sizeof key);
    s_sub_t *sub = zhashx_lookup(self->subs, key);
    if (cancel) {
        if (sub)
            s_sub_remove(self, sub);
        return;
    }
    uint32_t credit = vl_rbuf_u32(body);
    if (body->err) {
        s_reply_error(self, rid, hdr, VL_EPROTO, "SUB_CREDIT: malformed body; expected credit u32");
        return;
    }
    if (!sub)
        return; /* the stream already ended */
    sub->last_heard_us = vl_now_us();
    if (credit == 0)
        return; /* keepalive */
    uint64_t c = (uint64_t)sub->credit + credit;
    sub->credit = c < S_SUB_MAX_CREDIT ? (uint32_t)c : S_SUB_MAX_CREDIT;
    s_sub_pump(self, sub);
}

/*  Answers LOOKUP(offset) on rep. When the entry is not found (or not
    announced) while commits are still queued for the replica, and
    may_wait, the request waits for them instead (s_lookups_done): the
    append that wrote the byte may have been acknowledged already, since
    appends are answered when the COMMIT arrives, before its range is in
    the store. */
static void s_lookup_answer(self_t *self, s_replica_t *rep, zframe_t *rid, const vl_hdr_t *hdr,
                            uint64_t offset, bool may_wait)
{
    if (offset < rep->trim_offset) {
        s_reply_error(self, rid, hdr, VL_ETRIMMED,
                      "LOOKUP ls=%u offset=%" PRIu64 ": bytes below %" PRIu64 " are trimmed",
                      rep->ls_id, offset, rep->trim_offset);
        return;
    }
    vl_entry_pos_t pos;
    bool found = false;
    int rc = vl_store_lookup_offset(self->store, rep->ls_id, offset, &pos, &found);
    if (rc) {
        s_reply_error(self, rid, hdr, rc, "LOOKUP ls=%u offset=%" PRIu64 ": %s", rep->ls_id, offset,
                      vl_store_errmsg());
        return;
    }
    if (found && pos.glsn > rep->d.hwm)
        found = false; /* not announced yet */
    if (!found && may_wait && rep->q.applied_llsn_end > rep->d.applied_llsn_end) {
        if (zlistx_size(rep->lookups) >= S_LOOKUPS_MAX) {
            s_reply_error(self, rid, hdr, VL_EBUSY,
                          "LOOKUP ls=%u offset=%" PRIu64 ": %d lookups already wait for the "
                          "commits queued on sn=%u; retry",
                          rep->ls_id, offset, S_LOOKUPS_MAX, self->sn_id);
            return;
        }
        s_lookup_t *l = vl_calloc(1, sizeof *l);
        l->rid = zframe_dup(rid);
        l->req = *hdr;
        l->offset = offset;
        l->applied = rep->q.applied_llsn_end;
        zlistx_add_end(rep->lookups, l);
        return;
    }
    vl_sub_data_t d = {.last = found, .n = 1, .entries = &pos};
    if (!found)
        memset(&pos, 0, sizeof pos);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_sub_data_encode(&d, &b);
    s_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
}

/*  A COMMIT job of rep is done: answers the LOOKUPs that waited for the
    commits now in the store (all of them when failed: the MR resends). */
static void s_lookups_done(self_t *self, s_replica_t *rep, bool failed)
{
    s_lookup_t *l = zlistx_first(rep->lookups);
    while (l) {
        if (failed || l->applied <= rep->d.applied_llsn_end) {
            zlistx_delete(rep->lookups, zlistx_cursor(rep->lookups));
            s_lookup_answer(self, rep, l->rid, &l->req, l->offset, false);
            s_lookup_free(&l);
            l = zlistx_first(rep->lookups); /* delete resets the cursor */
            continue;
        }
        l = zlistx_next(rep->lookups);
    }
}

static void s_on_lookup(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_subscribe_t s;
    if (vl_subscribe_decode(body, &s) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "LOOKUP: malformed body; expected topic, ls and the offset");
        return;
    }
    s_replica_t *rep = s_read_replica(self, rid, hdr, &s, "LOOKUP");
    if (!rep)
        return;
    s_lookup_answer(self, rep, rid, hdr, s.glsn_begin, true);
}

/*  SN_SYNC (from the admin): this replica, in line with the sealed end,
    streams to the destination replica the entries it lacks, up to the
    sealed end, as REPLICATE batches (the catch-up path of the backups,
    with a limit). The MR then resends the destination the commits it
    lacks. The reply only says the sync started; SN_STATUS of the
    destination shows its progress. */
static void s_on_sn_sync(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_sync_t y;
    if (vl_sync_decode(body, &y) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "SN_SYNC: malformed body; expected topic, ls, llsn end, destination");
        return;
    }
    s_replica_t *rep = s_hosted(self, y.ls_id);
    if (!rep || rep->topic_id != y.topic_id) {
        s_reply_error(self, rid, hdr, VL_ENOLS,
                      "sync ls=%u: sn=%u does not host ls=%u of topic=%u; pick a replica of it "
                      "as the source",
                      y.ls_id, self->sn_id, y.ls_id, y.topic_id);
        return;
    }
    if (rep->ls_state == VL_LS_RUNNING) {
        s_reply_error(self, rid, hdr, VL_EBUSY,
                      "sync ls=%u: the log stream is RUNNING; seal it first ('varlogctl ls seal')",
                      y.ls_id);
        return;
    }
    if (y.epoch != rep->ls_epoch) {
        s_reply_error(self, rid, hdr, VL_ESTALE,
                      "sync ls=%u of epoch %u: sn=%u knows epoch %u of the log stream (sealed or "
                      "unsealed since); retry once the metadata reached every node",
                      y.ls_id, y.epoch, self->sn_id, rep->ls_epoch);
        return;
    }
    if (y.llsn_end != rep->sealed_end) {
        s_reply_error(self, rid, hdr, VL_EINVAL,
                      "sync ls=%u up to llsn=%" PRIu64 ": sn=%u knows the sealed end %" PRIu64
                      "; retry once the metadata reached every node",
                      y.ls_id, y.llsn_end, self->sn_id, rep->sealed_end);
        return;
    }
    if (rep->d.llsn_end < y.llsn_end) {
        s_reply_error(self, rid, hdr, VL_ERANGE,
                      "sync ls=%u: the source sn=%u holds llsn 1..%" PRIu64
                      ", not up to the sealed end %" PRIu64 "; sync from a replica in line",
                      y.ls_id, self->sn_id, rep->d.llsn_end, y.llsn_end);
        return;
    }
    bool placed = false;
    for (uint32_t k = 0; k < rep->nrep; k++)
        placed |= rep->replicas[k] == y.dest_sn;
    if (y.dest_sn == self->sn_id || !placed) {
        s_reply_error(self, rid, hdr, VL_ENOSN,
                      "sync ls=%u: sn=%u is %s; the destination must be another replica of it",
                      y.ls_id, y.dest_sn, y.dest_sn == self->sn_id ? "the source" : "no replica");
        return;
    }
    /* the metadata's address wins over the one in the request */
    const vl_meta_sn_t *sn = self->have_meta ? vl_meta_sn_by_id(&self->meta, y.dest_sn) : NULL;
    const char *addr = sn && sn->addr[0] ? sn->addr : y.dest_addr;
    s_peer_t *peer = addr[0] ? s_peer_get(self, addr) : NULL;
    if (!peer) {
        s_reply_error(self, rid, hdr, VL_EUNAVAIL,
                      "sync ls=%u: cannot connect to sn=%u at '%s'; check 'varlogctl sn list'",
                      y.ls_id, y.dest_sn, addr);
        return;
    }
    s_backup_t *b = s_stream_by_peer(rep, peer);
    if (!b) {
        if (rep->nsyncs >= VL_WIRE_MAX_REPLICAS) {
            s_reply_error(self, rid, hdr, VL_EBUSY,
                          "sync ls=%u: sn=%u already feeds %d syncs of it; retry later", y.ls_id,
                          self->sn_id, VL_WIRE_MAX_REPLICAS);
            return;
        }
        b = &rep->syncs[rep->nsyncs++];
        memset(b, 0, sizeof *b);
        b->sn_id = y.dest_sn;
        b->peer = peer;
        b->limit = y.llsn_end;
    }
    /* start at the sealed end: the destination answers with its own end
       (VL_EGAP when behind) and the stream resumes from there */
    b->sent = y.llsn_end;
    b->sent_bytes = rep->sealed_bytes;
    vl_log(LOG_NOTICE, "sn=%u ls=%u: syncing sn=%u (%s) up to llsn=%" PRIu64 "%s", self->sn_id,
           y.ls_id, y.dest_sn, addr, y.llsn_end,
           b->limit ? "" : " (it is a backup of this primary)");
    s_repl_probe(self, rep, b);
    s_reply_body(self, rid, hdr, NULL, NULL);
}

static void s_on_sn_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr)
{
    vl_sn_status_t st;
    memset(&st, 0, sizeof st);
    snprintf(st.addr, sizeof st.addr, "%s", self->args->advertise);
    struct statvfs vfs;
    if (statvfs(self->args->data_dir, &vfs) == 0) {
        st.disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
        st.disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    }
    st.replicas = vl_calloc(zhashx_size(self->replicas) + 1, sizeof *st.replicas);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        vl_sn_replica_t *x = &st.replicas[st.n++];
        x->topic_id = rep->topic_id;
        x->ls_id = rep->ls_id;
        x->llsn_end = rep->d.llsn_end;
        x->bytes_end = rep->d.bytes_end;
        x->committed_llsn_end = rep->d.applied_llsn_end;
        x->committed_glsn_end = rep->d.hwm;
        x->trim_glsn = s_trim_point(rep);
        x->state = s_replica_state(rep);
    }
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_sn_status_encode(&st, &b);
    s_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
    free(st.replicas);
}

/*  ---- ROUTER ------------------------------------------------------------------------ */

/*  Asks the MR for the metadata now: HELLO while unregistered (its reply
    carries the META), GET_META after. At most every S_META_ASK_US. */
static void s_ask_meta(self_t *self)
{
    int64_t now = vl_now_us();
    if (now - self->meta_asked_us < S_META_ASK_US)
        return;
    self->meta_asked_us = now;
    if (!self->sn_id) {
        s_send_hello(self);
        return;
    }
    vl_hdr_t h = {.type = VL_MSG_GET_META,
                  .request_id = ++self->hello_seq,
                  .cluster_id = self->cfg->cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, NULL);
    if (zmsg_send(&msg, self->mr) != 0) {
        zmsg_destroy(&msg);
        vl_log(LOG_DEBUG, "sn=%u: GET_META not sent (MR unreachable)", self->sn_id);
    }
}

/*  Parks a request naming a log stream this node does not host (yet).
    Returns true when parked (msg taken, rid given back into it). */
static bool s_park(self_t *self, zframe_t **rid_p, const vl_hdr_t *hdr, vl_rbuf_t *body,
                   zmsg_t **msg_p)
{
    switch (hdr->type) {
    case VL_MSG_APPEND:
    case VL_MSG_REPLICATE:
    case VL_MSG_SUBSCRIBE:
    case VL_MSG_LOOKUP:
        break;
    default:
        return false;
    }
    vl_rbuf_t r = *body;
    vl_rbuf_u32(&r); /* topic id */
    uint32_t ls_id = vl_rbuf_u32(&r);
    if (r.err || s_hosted(self, ls_id))
        return false;
    size_t size = zmsg_content_size(*msg_p);
    if (zlistx_size(self->parked) >= S_PARK_MAX || self->parked_bytes + size > S_PARK_BYTES_MAX)
        return false;
    s_parked_t *p = vl_calloc(1, sizeof *p);
    zmsg_prepend(*msg_p, rid_p);
    p->msg = *msg_p;
    *msg_p = NULL;
    p->deadline_us = vl_now_us() + S_PARK_US;
    self->parked_bytes += size;
    zlistx_add_end(self->parked, p);
    s_ask_meta(self);
    return true;
}

/*  Serves parked requests again: all of them after a META (now) or the
    expired ones. */
static void s_unpark(self_t *self, bool all)
{
    if (!self->parked || zlistx_size(self->parked) == 0)
        return;
    int64_t now = vl_now_us();
    zlistx_t *ready = zlistx_new();
    s_parked_t *p = zlistx_first(self->parked);
    while (p) {
        if (all || now >= p->deadline_us) {
            zlistx_add_end(ready, p);
            zlistx_delete(self->parked, zlistx_cursor(self->parked));
            p = zlistx_first(self->parked); /* delete resets the cursor */
            continue;
        }
        p = zlistx_next(self->parked);
    }
    for (p = zlistx_first(ready); p; p = zlistx_next(ready)) {
        size_t size = zmsg_content_size(p->msg);
        self->parked_bytes = self->parked_bytes >= size ? self->parked_bytes - size : 0;
        s_on_request(self, &p->msg, false);
        zmsg_destroy(&p->msg);
        free(p);
    }
    zlistx_destroy(&ready);
}

/*  BATCH_STATUS: what became of a client's batch whose APPEND went
    unanswered (DESIGN.md "Client failover"). Read from the store: the
    batch names and commit ranges there are what is durable. */
static void s_on_batch_status(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    vl_batch_status_t q;
    if (vl_batch_status_decode(body, &q) != 0) {
        s_reply_error(self, rid, hdr, VL_EPROTO,
                      "BATCH_STATUS: malformed body; expected topic id, ls id, client id, batch "
                      "seq and llsn hint");
        return;
    }
    vl_subscribe_t where = {.topic_id = q.topic_id, .ls_id = q.ls_id};
    s_replica_t *rep = s_read_replica(self, rid, hdr, &where, "BATCH_STATUS");
    if (!rep)
        return;
    bool final = false;
    if (rep->ls_state != VL_LS_RUNNING) {
        if (s_replica_state(rep) != VL_LS_SEALED) {
            s_reply_error(self, rid, hdr, VL_EBUSY,
                          "BATCH_STATUS ls=%u: this replica (sn=%u) holds llsn=%" PRIu64
                          " with commits to %" PRIu64 ", not yet the sealed end %" PRIu64
                          "; ask another replica, or again once it is synced",
                          q.ls_id, self->sn_id, rep->d.llsn_end, rep->d.applied_llsn_end,
                          rep->sealed_end);
            return;
        }
        /* holds exactly the sealed end and its commits: nothing more can
           ever be written to or committed in this log stream's past */
        final = true;
    }
    vl_batch_id_t id = {0};
    bool found = false, complete = true;
    vl_batch_status_reply_t r = {0};
    int rc = vl_store_find_bid(self->store, rep->ls_id, q.client_id, q.batch_seq, q.llsn_hint,
                               rep->d.llsn_end, S_BID_SCAN_MAX, &id, &found, &complete);
    uint64_t covered = 0;
    if (rc == 0 && found) {
        /* a batch cut by a seal keeps only its entries up to the end */
        uint64_t held = rep->d.llsn_end - id.llsn_begin + 1;
        r.n = held < id.n ? (uint32_t)held : id.n;
        r.ar.llsn_begin = id.llsn_begin;
        rc = vl_store_llsn_runs(self->store, rep->ls_id, id.llsn_begin, r.n, &r.ar.runs,
                                &r.ar.nruns, &covered);
    }
    if (rc) {
        s_reply_error(self, rid, hdr, VL_ESTORE,
                      "BATCH_STATUS ls=%u: cannot read the store of sn=%u: %s; ask another "
                      "replica (and check this node's disk)",
                      q.ls_id, self->sn_id, vl_store_errmsg());
        return;
    }
    if (!found && complete && rep->d.llsn_end > q.llsn_hint) {
        /* Names are held only from the first entry held on: below it they
           were trimmed (or never came, for a replica synced from a base),
           so a batch past the hint but below it may have been committed
           and trimmed: cannot say. */
        uint64_t first = 0;
        bool have = false;
        if (vl_store_first_entry(self->store, rep->ls_id, 1, &first, &have) != 0 || !have ||
            first > q.llsn_hint + 1)
            complete = false;
    }
    if (!found && !complete)
        final = false; /* too far back to look through, or trimmed: cannot say */
    if (final && covered != r.n) {
        /* a sealed replica in line has every commit up to its end */
        vl_log(LOG_ERR,
               "sn=%u ls=%u: batch at llsn=%" PRIu64 " holds %u entries, %" PRIu64
               " of them committed, in a sealed replica",
               self->sn_id, rep->ls_id, id.llsn_begin, r.n, covered);
        final = false;
    }
    r.final = final;
    r.found = found;
    vl_log(LOG_INFO,
           "sn=%u ls=%u: batch %" PRIx64 "/%" PRIu64 " %s%s (%u entries at llsn=%" PRIu64
           ", %" PRIu64 " committed)",
           self->sn_id, rep->ls_id, q.client_id, q.batch_seq, found ? "found" : "not here",
           final ? ", final" : "", r.n, r.ar.llsn_begin, covered);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_batch_status_reply_encode(&r, &b);
    s_reply_body(self, rid, hdr, &b, NULL);
    vl_wbuf_free(&b);
    free(r.ar.runs);
}

static void s_on_request(self_t *self, zmsg_t **msg_p, bool may_park)
{
    zmsg_t *msg = *msg_p;
    zframe_t *rid = zmsg_pop(msg);
    if (!rid || zmsg_size(msg) == 0) {
        vl_log(LOG_WARNING, "sn=%u: dropped an empty message", self->sn_id);
        zframe_destroy(&rid);
        return;
    }
    vl_hdr_t hdr;
    vl_rbuf_t body;
    int rc = vl_wire_parse(msg, &hdr, &body);
    if (rc) {
        s_reply_error(self, rid, &hdr, rc,
                      "malformed message (%zu frames, first %zu bytes): bad header, body or "
                      "frame count; check the sender speaks varlog wire version %d",
                      zmsg_size(msg), zframe_size(zmsg_first(msg)), VL_WIRE_VERSION);
        goto done;
    }
    if (hdr.type & VL_MSG_REPLY) {
        vl_log(LOG_WARNING, "sn=%u: unexpected reply %s on the listening socket dropped",
               self->sn_id, vl_wire_type_name(hdr.type));
        goto done;
    }
    if (hdr.cluster_id != 0 && hdr.cluster_id != self->cfg->cluster_id) {
        s_reply_error(self, rid, &hdr, VL_ECLUSTER,
                      "%s for cluster %u reached a storage node of cluster %u; check --mr "
                      "and --cluster-id",
                      vl_wire_type_name(hdr.type), hdr.cluster_id, self->cfg->cluster_id);
        goto done;
    }
    if (!self->sn_id)
        /* Traffic while unregistered: the admin is probably adding this
           node right now; say HELLO often for a while. */
        self->fast_hello_until_us = vl_now_us() + 5 * 1000000;
    if (may_park && s_park(self, &rid, &hdr, &body, msg_p))
        return;
    switch (hdr.type) {
    case VL_MSG_APPEND:
        s_on_append(self, rid, &hdr, &body, msg_p);
        break;
    case VL_MSG_REPLICATE:
        s_on_replicate(self, rid, &hdr, &body, msg_p);
        break;
    case VL_MSG_SUBSCRIBE:
        s_on_subscribe(self, rid, &hdr, &body);
        break;
    case VL_MSG_SUB_CREDIT:
        s_on_sub_credit(self, rid, &hdr, &body, false);
        break;
    case VL_MSG_SUB_CANCEL:
        s_on_sub_credit(self, rid, &hdr, &body, true);
        break;
    case VL_MSG_LOOKUP:
        s_on_lookup(self, rid, &hdr, &body);
        break;
    case VL_MSG_SN_STATUS:
        s_on_sn_status(self, rid, &hdr);
        break;
    case VL_MSG_SN_SYNC:
        s_on_sn_sync(self, rid, &hdr, &body);
        break;
    case VL_MSG_BATCH_STATUS:
        s_on_batch_status(self, rid, &hdr, &body);
        break;
    case VL_MSG_PING:
        s_reply_body(self, rid, &hdr, NULL, NULL);
        break;
    default:
        s_reply_error(self, rid, &hdr, VL_EPROTO,
                      "%s is not served by a storage node; send it to the metadata repository",
                      vl_wire_type_name(hdr.type));
        break;
    }
done:
    zframe_destroy(&rid);
}

static int s_on_router(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    for (int i = 0; i < S_MAX_BURST && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        s_on_request(self, &msg, true);
        zmsg_destroy(&msg);
    }
    return 0;
}

/*  ---- META ------------------------------------------------------------------------------ */

static void s_apply_meta(self_t *self, vl_meta_t *meta)
{
    if (self->have_meta && meta->version < self->meta_version) {
        vl_log(LOG_DEBUG, "sn=%u: META version %" PRIu64 " older than %" PRIu64 " ignored",
               self->sn_id, meta->version, self->meta_version);
        vl_meta_free(meta);
        return;
    }
    vl_meta_free(&self->meta);
    self->meta = *meta; /* take it */
    memset(meta, 0, sizeof *meta);
    self->meta_version = self->meta.version;
    self->have_meta = true;

    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas))
        rep->seen = false;
    for (uint32_t t = 0; t < self->meta.ntopics; t++) {
        const vl_meta_topic_t *topic = &self->meta.topics[t];
        for (uint32_t l = 0; l < topic->nls; l++) {
            const vl_meta_ls_t *ls = &topic->ls[l];
            if (ls->state == VL_LS_DELETED)
                continue;
            bool mine = false;
            for (uint32_t k = 0; k < ls->nrep; k++)
                if (ls->replicas[k] == self->sn_id)
                    mine = true;
            if (!mine)
                continue;
            s_replica_t *rep = s_replica(self, ls->id);
            if (rep && rep->topic_id != topic->id) {
                /* The id now names a log stream of another topic: what is
                   stored under it is stale. */
                s_replica_drop(self, rep, VL_ENOLS, "log stream was recreated", true);
                rep = NULL;
            }
            if (!rep) {
                rep = s_replica_new(self, topic->id, ls->id);
                vl_log(LOG_INFO, "sn=%u ls=%u topic=%s: now hosted here", self->sn_id, ls->id,
                       topic->name);
            }
            rep->seen = true;
            rep->confirmed = true;
            if (rep->ls_state != ls->state)
                vl_log(LOG_INFO, "sn=%u ls=%u: %s -> %s", self->sn_id, ls->id,
                       s_state_name(rep->ls_state), s_state_name(ls->state));
            bool new_epoch = rep->ls_epoch != ls->epoch;
            if (new_epoch)
                /* a seal or an unseal: the MR forgot the state this
                   replica reported, even when it reads the same again */
                rep->reported = false;
            rep->ls_epoch = ls->epoch;
            rep->ls_state = ls->state;
            if (ls->state == VL_LS_RUNNING)
                rep->nsyncs = 0; /* unsealed: every replica is in line */
            else
                s_seal(self, rep, ls->committed_llsn_end, ls->committed_bytes);
            rep->nrep = ls->nrep;
            memcpy(rep->replicas, ls->replicas, sizeof rep->replicas);
            rep->primary = ls->nrep > 0 && ls->replicas[0] == self->sn_id;
            rep->trim_offset = topic->trim_offset;
            if (topic->trim_glsn > s_trim_point(rep)) {
                rep->q.trim_glsn = topic->trim_glsn;
                vl_writer_job_t *job = vl_writer_job_new(VL_WRITER_TRIM, rep->topic_id, rep->ls_id);
                job->trim_glsn = topic->trim_glsn;
                /* d, not q: a commit still queued may land in the same
                   writer batch as this trim, which reads only the store
                   and so misses it; its completion (d.hwm past trim_hwm)
                   trims again. */
                rep->trim_hwm = rep->d.hwm;
                s_submit(self, job);
                s_subs_pump(self, rep);
            }
            s_repl_setup(self, rep);
            if (new_epoch) {
                /* Streams start again in the new epoch; on a seal the
                   batches queued to the peers are dropped too. */
                uint32_t nb = rep->primary ? rep->nbackups : 0;
                for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
                    s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
                    if (b->peer && ls->state != VL_LS_RUNNING)
                        b->peer->reset = true;
                    else
                        s_repl_probe(self, rep, b);
                }
            }
        }
    }
    for (s_peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers))
        if (peer->reset) {
            peer->reset = false;
            s_peer_reset(self, peer);
        }
    /* Replicas the cluster no longer places here. */
    zlistx_t *gone = zlistx_new();
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas))
        if (!rep->seen)
            zlistx_add_end(gone, rep);
    for (s_replica_t *rep = zlistx_first(gone); rep; rep = zlistx_next(gone))
        s_replica_drop(self, rep, VL_ENOLS, "log stream no longer in the metadata", true);
    zlistx_destroy(&gone);
    s_report_soon(self);
    s_unpark(self, true);
}

static int s_on_mr(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    for (int i = 0; i < S_MAX_BURST && (zsock_events(reader) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(reader);
        if (!msg)
            break;
        vl_hdr_t hdr;
        vl_rbuf_t body;
        int rc = vl_wire_parse(msg, &hdr, &body);
        if (rc) {
            vl_log(LOG_WARNING, "sn=%u: malformed message from the MR ignored (%s)", self->sn_id,
                   vl_err_name(rc));
        } else if (hdr.cluster_id != self->cfg->cluster_id) {
            vl_log(LOG_WARNING,
                   "sn=%u: %s from an MR of cluster %u ignored; this SN is in cluster %u "
                   "(check --mr and --cluster-id)",
                   self->sn_id, vl_wire_type_name(hdr.type), hdr.cluster_id, self->cfg->cluster_id);
        } else if (hdr.type == (VL_MSG_HELLO | VL_MSG_REPLY)) {
            vl_meta_t meta;
            if (hdr.status) {
                char text[512];
                vl_wire_errtext(&body, text, sizeof text);
                vl_log(LOG_WARNING, "sn: the MR refused HELLO: %s (%s); retrying", text,
                       vl_err_name((int)hdr.status));
            } else if (vl_meta_decode(&body, &meta) != 0) {
                vl_log(LOG_WARNING, "sn: malformed HELLO reply from the MR ignored");
            } else if (meta.sn_id == 0) {
                int64_t now = vl_now_us();
                if (now - self->last_unregistered_log_us > 30 * 1000000ll) {
                    self->last_unregistered_log_us = now;
                    vl_log(LOG_NOTICE,
                           "sn: %s is not registered with the MR yet; register it with "
                           "'varlogctl sn add %s'",
                           self->args->advertise, self->args->advertise);
                }
                vl_meta_free(&meta);
            } else if (!self->sn_id || self->sn_id != meta.sn_id) {
                self->sn_id = meta.sn_id;
                vl_log(LOG_NOTICE, "sn=%u: registered with the MR as %s", self->sn_id,
                       self->args->advertise);
                self->have_meta = false;
                s_apply_meta(self, &meta);
            } else
                vl_meta_free(&meta);
        } else if (hdr.type == VL_MSG_META ||
                   (hdr.type == (VL_MSG_GET_META | VL_MSG_REPLY) && hdr.status == 0)) {
            vl_meta_t meta;
            if (vl_meta_decode(&body, &meta) != 0)
                vl_log(LOG_WARNING, "sn=%u: malformed META from the MR ignored", self->sn_id);
            else if (!self->sn_id)
                vl_meta_free(&meta); /* not registered: HELLO brings the META */
            else
                s_apply_meta(self, &meta);
        } else if (hdr.type == VL_MSG_COMMIT) {
            if (self->sn_id)
                s_on_commit(self, &body);
        } else if (hdr.type == (VL_MSG_REPORT | VL_MSG_REPLY) && hdr.status) {
            /* The MR takes REPORTs only from the connection that said
               HELLO (a reconnect changes it): say HELLO again. */
            int64_t now = vl_now_us();
            if (now - self->meta_asked_us >= S_META_ASK_US) {
                char text[512];
                vl_wire_errtext(&body, text, sizeof text);
                vl_log(LOG_INFO, "sn=%u: the MR refused a REPORT: %s; saying HELLO", self->sn_id,
                       text);
                self->meta_asked_us = now;
                s_send_hello(self);
            }
        } else {
            vl_log(LOG_DEBUG, "sn=%u: %s from the MR ignored", self->sn_id,
                   vl_wire_type_name(hdr.type));
        }
        zmsg_destroy(&msg);
    }
    return 0;
}

/*  Events of the DEALER to the MR: a new connection may reach a new MR
    process, which knows nothing of this node's replicas until it hears
    them (an MR that did not restart asks for HELLO itself, VL_ENOSN). */
static int s_on_mr_monitor(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return 0;
    char *event = zmsg_popstr(msg);
    if (event && streq(event, "CONNECTED")) {
        char *value = zmsg_popstr(msg), *endpoint = zmsg_popstr(msg);
        vl_log(LOG_INFO, "sn=%u: connected to the MR at %s; the next REPORT is complete",
               self->sn_id, endpoint ? endpoint : "?");
        self->report_full = true;
        s_report_soon(self);
        free(value);
        free(endpoint);
    }
    free(event);
    zmsg_destroy(&msg);
    return 0;
}

/*  ---- writer done -------------------------------------------------------------------- */

/*  After a failed WRITE, once no WRITE is in flight: LLSNs are assigned
    again from what is durable (never past a seal: a pending TRUNCATE
    lowers d too), and appends are taken again. */
static void s_writes_settle(self_t *self, s_replica_t *rep)
{
    if (!rep->write_broken || rep->writes)
        return;
    rep->q.llsn_end = rep->d.llsn_end;
    rep->q.bytes_end = rep->d.bytes_end;
    if (rep->ls_state != VL_LS_RUNNING && rep->q.llsn_end > rep->sealed_end) {
        rep->q.llsn_end = rep->sealed_end;
        rep->q.bytes_end = rep->sealed_bytes;
    }
    rep->write_broken = false;
    vl_log(LOG_NOTICE, "sn=%u ls=%u: failed writes undone; taking appends again from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, rep->q.llsn_end + 1);
}

/*  After a failed COMMIT job, once none is in flight: commits are taken
    again from what is stored (the MR resends the rest). */
static void s_commits_settle(self_t *self, s_replica_t *rep)
{
    if (!rep->commit_broken || rep->commits)
        return;
    rep->q.applied_llsn_end = rep->d.applied_llsn_end;
    rep->q.hwm = rep->d.hwm;
    rep->commit_broken = false;
    vl_log(LOG_NOTICE,
           "sn=%u ls=%u: failed commits undone; taking commits again from llsn=%" PRIu64,
           self->sn_id, rep->ls_id, rep->q.applied_llsn_end + 1);
}

static void s_on_job_done(self_t *self, vl_writer_job_t *job)
{
    if (job->kind == VL_WRITER_WRITE && self->queued_bytes >= job->bytes)
        self->queued_bytes -= job->bytes;
    s_replica_t *rep = s_replica(self, job->ls_id);
    if (!rep || job->kind == VL_WRITER_DELETE) {
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        return;
    }
    if (job->state.ls_id == rep->ls_id && job->rc != VL_EIO)
        rep->d = job->state;
    switch (job->kind) {
    case VL_WRITER_WRITE:
        if (rep->writes)
            rep->writes--;
        if (job->rc) {
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
            rep->write_broken = true;
            s_writes_settle(self, rep);
            if (job->reply_to) {
                if (job->rc == VL_EGAP)
                    s_reply_end(self, job->reply_to, &job->req, VL_EGAP, rep->d.llsn_end);
                else
                    s_reply_error(self, job->reply_to, &job->req, job->rc, "REPLICATE: %s",
                                  job->errmsg);
                return;
            }
            /* by its tag: LLSNs are reassigned after a failure, so a
               later append may begin where this one did */
            for (s_append_t *a = zlistx_first(rep->appends); a; a = zlistx_next(rep->appends))
                if (a->seq == job->tag) {
                    zlistx_delete(rep->appends, zlistx_cursor(rep->appends));
                    s_reply_error(self, a->rid, &a->req, job->rc == VL_EGAP ? VL_EIO : job->rc,
                                  "APPEND ls=%u: %s; nothing was written", rep->ls_id, job->errmsg);
                    s_append_free(&a);
                    break;
                }
            return;
        }
        s_writes_settle(self, rep);
        s_report_soon(self);
        if (job->reply_to)
            s_reply_end(self, job->reply_to, &job->req, 0, rep->d.llsn_end);
        else if (rep->primary)
            s_repl_durable(self, rep, job);
        break;
    case VL_WRITER_COMMIT:
        if (rep->commits)
            rep->commits--;
        if (job->rc) {
            vl_log(LOG_WARNING, "sn=%u: %s; waiting for the MR to resend", self->sn_id,
                   job->errmsg);
            rep->commit_broken = true;
            s_commits_settle(self, rep);
            s_lookups_done(self, rep, true);
            return;
        }
        s_commits_settle(self, rep);
        s_report_soon(self);
        s_lookups_done(self, rep, false);
        /* Entries committed since the last trim may lie below the trim
           point: trim again. */
        if (s_trim_point(rep) > 1 && rep->trim_hwm + 1 < s_trim_point(rep) &&
            rep->d.hwm > rep->trim_hwm) {
            vl_writer_job_t *t = vl_writer_job_new(VL_WRITER_TRIM, rep->topic_id, rep->ls_id);
            t->trim_glsn = s_trim_point(rep);
            rep->trim_hwm = rep->d.hwm;
            s_submit(self, t);
        }
        s_subs_pump(self, rep);
        break;
    case VL_WRITER_TRIM:
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        else
            vl_log(LOG_INFO, "sn=%u ls=%u: trimmed below glsn=%" PRIu64, self->sn_id, rep->ls_id,
                   job->trim_glsn);
        break;
    case VL_WRITER_BASE:
        if (rep->writes)
            rep->writes--;
        if (job->rc) {
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
            rep->write_broken = true;
            s_writes_settle(self, rep);
            if (!rep->commits) {
                rep->q.applied_llsn_end = rep->d.applied_llsn_end;
                rep->q.hwm = rep->d.hwm;
            }
            if (job->reply_to)
                s_reply_error(self, job->reply_to, &job->req, job->rc, "REPLICATE: %s",
                              job->errmsg);
            return;
        }
        vl_log(LOG_NOTICE, "sn=%u ls=%u: took the base at llsn=%" PRIu64 "; syncing from there",
               self->sn_id, rep->ls_id, job->llsn_end);
        s_writes_settle(self, rep);
        s_report_soon(self);
        if (job->reply_to)
            s_reply_end(self, job->reply_to, &job->req, 0, rep->d.llsn_end);
        break;
    case VL_WRITER_TRUNCATE:
        if (rep->truncating > 0)
            rep->truncating--;
        if (job->rc)
            vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        else
            vl_log(LOG_INFO, "sn=%u ls=%u: discarded past llsn=%" PRIu64 "; in line up to %" PRIu64,
                   self->sn_id, rep->ls_id, job->llsn_end, rep->d.llsn_end);
        s_report_soon(self);
        break;
    default:
        break;
    }
}

static int s_on_writer(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    vl_writer_job_t *head;
    while ((head = vl_writer_done(self->writer))) {
        while (head) {
            vl_writer_job_t *next = head->next;
            s_on_job_done(self, head);
            vl_writer_job_destroy(&head);
            head = next;
        }
    }
    /* One REPORT per writer batch rather than per job. */
    if (self->report_dirty)
        s_send_report(self, false);
    return 0;
}

/*  ---- timers ------------------------------------------------------------------------------ */

/*  Drops the subscriptions whose clients have been silent too long: the
    client is gone (a live one sends SUB_CREDIT(0) every few seconds). */
static void s_subs_expire(self_t *self)
{
    int64_t now = vl_now_us();
    zlistx_t *idle = NULL;
    for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
        if (now - sub->last_heard_us > self->sub_idle_us) {
            if (!idle)
                idle = zlistx_new();
            zlistx_add_end(idle, sub);
        }
    if (!idle)
        return;
    for (s_sub_t *sub = zlistx_first(idle); sub; sub = zlistx_next(idle)) {
        vl_log(LOG_INFO, "sn=%u ls=%u: subscription %s silent for %lld ms; dropped (client gone)",
               self->sn_id, sub->rep->ls_id, sub->key,
               (long long)((now - sub->last_heard_us) / 1000));
        s_sub_remove(self, sub);
    }
    zlistx_destroy(&idle);
}

static int s_on_second(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    if (!self->sn_id)
        s_send_hello(self);
    else
        s_send_report(self, true); /* heartbeat */
    s_subs_expire(self);
    return 0;
}

static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    int64_t now = vl_now_us();
    if (!self->sn_id && now < self->fast_hello_until_us)
        s_send_hello(self);
    s_unpark(self, false);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        uint32_t nb = rep->primary ? rep->nbackups : 0;
        for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
            s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
            if (b->retry_at_us && now >= b->retry_at_us) {
                s_repl_probe(self, rep, b);
            } else if (!b->retry_at_us && b->inflight > 0 &&
                       now - b->progress_us > S_REPL_TIMEOUT_US) {
                vl_log(LOG_INFO, "sn=%u ls=%u: no answer from backup sn=%u (%s) for %d s; probing",
                       self->sn_id, rep->ls_id, b->sn_id, b->peer ? b->peer->addr : "?",
                       S_REPL_TIMEOUT_US / 1000000);
                s_repl_probe(self, rep, b);
            }
        }
        s_append_t *a;
        while ((a = zlistx_first(rep->appends)) && now - a->since_us > S_APPEND_TIMEOUT_US) {
            zlistx_delete(rep->appends, NULL);
            s_reply_error(self, a->rid, &a->req, VL_ETIMEDOUT,
                          "APPEND ls=%u llsn=%" PRIu64 ": not committed after %lld s; check "
                          "that every replica of the log stream is up",
                          rep->ls_id, a->llsn_begin, S_APPEND_TIMEOUT_US / 1000000);
            s_append_free(&a);
        }
    }
    return 0;
}

static int s_on_pipe(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    zmsg_t *msg = zmsg_recv(reader);
    if (!msg)
        return -1;
    char *cmd = zmsg_popstr(msg);
    int rc = 0;
    if (!cmd || streq(cmd, "$TERM"))
        rc = -1;
    else if (streq(cmd, "PORT"))
        zstr_sendf(reader, "%d", self->args->port);
    else if (streq(cmd, "ENDPOINT"))
        zstr_send(reader, self->args->advertise);
    else if (streq(cmd, "SUB_IDLE_MS")) {
        char *ms = zmsg_popstr(msg);
        if (ms && atoll(ms) > 0)
            self->sub_idle_us = atoll(ms) * 1000;
        zsock_signal(reader, 0);
        free(ms);
    } else if (streq(cmd, "FAULT")) {
        char *kind = zmsg_popstr(msg), *n = zmsg_popstr(msg);
        self->fault_kind = kind && streq(kind, "WRITE")    ? VL_WRITER_WRITE
                           : kind && streq(kind, "COMMIT") ? VL_WRITER_COMMIT
                                                           : 0;
        self->fault_n = self->fault_kind && n ? (uint32_t)atoi(n) : 0;
        vl_log(LOG_NOTICE, "sn: the %u-th next %s job will fail (test fault)", self->fault_n,
               kind ? kind : "?");
        zsock_signal(reader, 0);
        free(kind);
        free(n);
    } else
        vl_log(LOG_WARNING, "sn: unknown actor command '%s'", cmd);
    free(cmd);
    zmsg_destroy(&msg);
    return rc;
}

/*  ---- life cycle ------------------------------------------------------------------------------
 */

static void s_replica_free_item(void **item)
{
    s_replica_t *rep = *item;
    if (rep) {
        s_append_t *a;
        while ((a = zlistx_first(rep->appends))) {
            zlistx_delete(rep->appends, NULL);
            s_append_free(&a);
        }
        zlistx_destroy(&rep->appends);
        zlistx_destroy(&rep->subs);
        s_lookup_t *l;
        while ((l = zlistx_first(rep->lookups))) {
            zlistx_delete(rep->lookups, NULL);
            s_lookup_free(&l);
        }
        zlistx_destroy(&rep->lookups);
        free(rep);
    }
    *item = NULL;
}

static void s_sub_free_item(void **item)
{
    s_sub_t *sub = *item;
    if (sub) {
        zframe_destroy(&sub->rid);
        free(sub);
    }
    *item = NULL;
}

static void s_self_destroy(self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    /* The writer first: it finishes every job it was given. */
    vl_writer_destroy(&self->writer);
    zloop_destroy(&self->loop);
    if (self->parked) {
        s_parked_t *p;
        while ((p = zlistx_first(self->parked))) {
            zlistx_delete(self->parked, NULL);
            zmsg_destroy(&p->msg);
            free(p);
        }
        zlistx_destroy(&self->parked);
    }
    zhashx_destroy(&self->subs);
    zhashx_destroy(&self->replicas);
    zhashx_destroy(&self->peers);
    zsock_destroy(&self->router);
    zactor_destroy(&self->mr_monitor); /* before the socket it watches */
    zsock_destroy(&self->mr);
    vl_store_destroy(&self->store);
    vl_meta_free(&self->meta);
    vl_wbuf_free(&self->sub_data);
    free(self->sub_pos);
    free(self);
    *self_p = NULL;
}

static int s_fail(s_args_t *args, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_fail(s_args_t *args, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args->err, sizeof args->err, fmt, ap);
    va_end(ap);
    args->rc = rc;
    return rc;
}

static self_t *s_self_new(zsock_t *pipe, s_args_t *args)
{
    self_t *self = vl_calloc(1, sizeof *self);
    self->pipe = pipe;
    self->args = args;
    self->cfg = &args->cfg;
    self->report_timer = -1;
    self->sub_idle_us = S_SUB_IDLE_US;
    self->replicas = zhashx_new();
    zhashx_set_destructor(self->replicas, s_replica_free_item);
    self->subs = zhashx_new();
    self->sub_pos = vl_malloc(S_SUB_MAX_ENTRIES * sizeof *self->sub_pos);
    zhashx_set_destructor(self->subs, s_sub_free_item);
    self->peers = zhashx_new();
    zhashx_set_destructor(self->peers, s_peer_free);
    self->parked = zlistx_new();

    if (zsys_dir_create("%s", args->data_dir) != 0) {
        s_fail(args, VL_EIO,
               "cannot create data directory %s: %s; check the path and its "
               "permissions",
               args->data_dir, strerror(errno));
        goto err;
    }
    if (vl_store_open(args->data_dir, args->cfg.memtable_bytes, &self->store) != 0) {
        s_fail(args, VL_ESTORE, "%s", vl_store_errmsg());
        goto err;
    }
    /* Recovery: every replica the store holds, as durable as it is. */
    vl_store_state_t *states;
    size_t n;
    if (vl_store_states(self->store, &states, &n) != 0) {
        s_fail(args, VL_ESTORE, "reading the replicas in %s: %s", args->data_dir,
               vl_store_errmsg());
        goto err;
    }
    for (size_t i = 0; i < n; i++) {
        s_replica_t *rep = s_replica_new(self, states[i].topic_id, states[i].ls_id);
        rep->q = rep->d = states[i];
        rep->trim_hwm = states[i].hwm;
        vl_log(LOG_INFO,
               "sn: recovered ls=%u topic=%u llsn_end=%" PRIu64 " bytes_end=%" PRIu64
               " applied=%" PRIu64 " hwm=%" PRIu64 " trim=%" PRIu64,
               states[i].ls_id, states[i].topic_id, states[i].llsn_end, states[i].bytes_end,
               states[i].applied_llsn_end, states[i].hwm, states[i].trim_glsn);
    }
    free(states);
    if (vl_writer_new(self->store, &self->writer) != 0) {
        s_fail(args, VL_EIO, "cannot start the writer thread");
        goto err;
    }

    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        s_fail(args, VL_EIO, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        goto err;
    }
    zsock_set_linger(self->router, 0);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndtimeo(self->router, 0);
    zsock_set_sndhwm(self->router, S_ROUTER_SNDHWM);
    /* ZeroMQ checks the size of each frame: the body, and the one payload
       frame of an APPEND (a client's batch, or one big entry) */
    uint64_t maxmsg =
        self->cfg->max_entry_size > VL_WIRE_MAX_BODY ? self->cfg->max_entry_size : VL_WIRE_MAX_BODY;
    if (maxmsg < VL_WIRE_MAX_PAYLOAD)
        maxmsg = VL_WIRE_MAX_PAYLOAD;
    zsock_set_maxmsgsize(self->router,
                         (int)(maxmsg + 4096 < INT32_MAX ? maxmsg + 4096 : INT32_MAX));
    int port = zsock_bind(self->router, "%s", args->listen);
    if (port < 0) {
        s_fail(args, VL_EINVAL, "cannot listen on %s: %s; use a free tcp://HOST:PORT", args->listen,
               zmq_strerror(zmq_errno()));
        goto err;
    }
    args->port = port;
    if (!args->advertise[0]) {
        char *last = zsock_last_endpoint(self->router);
        snprintf(args->advertise, sizeof args->advertise, "%s",
                 strchr(args->listen, '*') && last ? last : args->listen);
        free(last);
    }

    self->mr = zsock_new(ZMQ_DEALER);
    if (!self->mr) {
        s_fail(args, VL_EIO, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
        goto err;
    }
    zsock_set_linger(self->mr, 0);
    zsock_set_sndtimeo(self->mr, 0);
    zsock_set_sndhwm(self->mr, 1000);
    zsock_set_maxmsgsize(self->mr, VL_WIRE_MAX_BODY + 4096 * 2);
    char eps[sizeof args->mr_endpoints];
    snprintf(eps, sizeof eps, "%s", args->mr_endpoints);
    int nmr = 0;
    for (char *save = NULL, *ep = strtok_r(eps, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        while (*ep == ' ')
            ep++;
        if (!*ep)
            continue;
        if (zsock_connect(self->mr, "%s", ep) != 0) {
            s_fail(args, VL_EINVAL, "invalid MR endpoint '%s'; use tcp://HOST:PORT", ep);
            goto err;
        }
        nmr++;
    }
    if (nmr == 0) {
        s_fail(args, VL_EINVAL, "no MR endpoint given; use --mr tcp://HOST:PORT");
        goto err;
    }
    /* Without it a new MR process hears this node's idle replicas only
       from the next heartbeat: a second later, not never. */
    self->mr_monitor = zactor_new(zmonitor, self->mr);
    if (self->mr_monitor) {
        zstr_sendx(self->mr_monitor, "LISTEN", "CONNECTED", NULL);
        zstr_send(self->mr_monitor, "START");
        zsock_wait(self->mr_monitor);
    } else
        vl_log(LOG_WARNING,
               "sn: cannot monitor the connection to the MR: %s; an MR that "
               "restarts hears idle replicas from the next heartbeat",
               zmq_strerror(zmq_errno()));

    self->loop = zloop_new();
    zloop_set_nonstop(self->loop, true);
    zloop_reader(self->loop, pipe, s_on_pipe, self);
    zloop_reader(self->loop, self->router, s_on_router, self);
    zloop_reader(self->loop, self->mr, s_on_mr, self);
    if (self->mr_monitor)
        zloop_reader(self->loop, zactor_sock(self->mr_monitor), s_on_mr_monitor, self);
    zloop_reader(self->loop, vl_writer_sock(self->writer), s_on_writer, self);
    zloop_timer(self->loop, 1000, 0, s_on_second, self);
    zloop_timer(self->loop, 100, 0, s_on_tick, self);
    return self;
err:
    s_self_destroy(&self);
    return NULL;
}

static void s_actor(zsock_t *pipe, void *arg)
{
    s_args_t *args = arg;
    self_t *self = s_self_new(pipe, args);
    zsock_signal(pipe, 0);
    if (!self)
        return;
    vl_log(LOG_NOTICE, "sn: listening on %s as %s, data in %s, MR %s, sync=%s", args->listen,
           args->advertise, args->data_dir, args->mr_endpoints, args->cfg.sync ? "always" : "none");
    s_send_hello(self);
    zloop_start(self->loop);
    vl_log(LOG_NOTICE, "sn=%u: stopping", self->sn_id);
    s_self_destroy(&self);
}

/*  ---- public ------------------------------------------------------------------------------- */

int vl_sn_new(const vl_sn_config_t *config, vl_sn_t **sn_p, char *errbuf, size_t errbuf_size)
{
    *sn_p = NULL;
    vl_sn_t *self = vl_calloc(1, sizeof *self);
    s_args_t *args = &self->args;
    args->cfg = *config;
    snprintf(args->listen, sizeof args->listen, "%s", config->listen);
    snprintf(args->advertise, sizeof args->advertise, "%s",
             config->advertise ? config->advertise : "");
    snprintf(args->data_dir, sizeof args->data_dir, "%s", config->data_dir);
    snprintf(args->mr_endpoints, sizeof args->mr_endpoints, "%s", config->mr);
    args->cfg.listen = args->listen;
    args->cfg.advertise = args->advertise;
    args->cfg.data_dir = args->data_dir;
    args->cfg.mr = args->mr_endpoints;
    self->actor = zactor_new(s_actor, args);
    if (!self->actor || args->rc) {
        int rc = args->rc ? args->rc : VL_EIO;
        snprintf(errbuf, errbuf_size, "%s", args->rc ? args->err : "cannot start the actor");
        zactor_destroy(&self->actor);
        free(self);
        return rc;
    }
    *sn_p = self;
    return 0;
}

void vl_sn_destroy(vl_sn_t **self_p)
{
    vl_sn_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}

int vl_sn_port(vl_sn_t *self)
{
    return self->args.port;
}

const char *vl_sn_endpoint(vl_sn_t *self)
{
    return self->args.advertise;
}

zactor_t *vl_sn_actor(vl_sn_t *self)
{
    return self->actor;
}
