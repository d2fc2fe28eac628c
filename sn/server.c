/*  server.c - the varlogsn actor: its sockets, ROUTER dispatch, timers and
    life cycle, and the public vl_sn_* API.

    One thread runs a zloop over the actor pipe, the ROUTER (clients, admin,
    other SNs), the DEALER to the MR, one DEALER per backup SN and the
    writer's socket. Every disk write is a writer job (writer.h); handlers
    only read the store. Each protocol concern has a file of its own (sn_i.h
    lists them, and says what the two views of a replica, q and d, are).

    Append path (primary = replicas[0]): APPEND -> LLSNs from q -> WRITE job
    -> durable -> REPORT and REPLICATE to every backup -> the MR commits ->
    COMMIT -> the append's GLSN runs are known -> reply. The reply does not
    wait for the commit range to reach the store: the entries are durable
    everywhere and the MR has persisted the commit. So a reader may ask
    for an acknowledged entry before its range is stored: a LOOKUP that
    finds nothing while commits are queued waits for them, and
    subscriptions wait for commits anyway.
*/

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/statvfs.h>
#include "curve.h"
#include "log.h"
#include "sn_i.h"
#include "util.h"
#include "vlog.h"

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

static void s_on_request(self_t *self, zmsg_t **msg_p, bool may_park);

/*  ---- helpers ------------------------------------------------------------ */

void vl_sn_rid_hex(zframe_t *rid, char *out, size_t size)
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
int vl_sn_send_to(self_t *self, zframe_t *rid, zmsg_t **msg_p)
{
    int rc = vl_wire_send_to(self->router, rid, msg_p);
    if (rc != 0) {
        char hex[64];
        vl_sn_rid_hex(rid, hex, sizeof hex);
        vl_log(LOG_DEBUG, "sn=%u: reply to peer %s not sent: %s", self->sn_id, hex,
               zmq_strerror(zmq_errno()));
    }
    return rc;
}

void vl_sn_reply_error(self_t *self, zframe_t *rid, const vl_hdr_t *req, int status,
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
    vl_sn_send_to(self, rid, &msg);
}

void vl_sn_reply_body(self_t *self, zframe_t *rid, const vl_hdr_t *req, const vl_wbuf_t *b,
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
    vl_sn_send_to(self, rid, &msg);
}

const char *vl_sn_state_name(uint8_t state)
{
    static const char *names[] = {"RUNNING", "SEALING", "SEALED", "UNSEALING", "DELETED"};
    return state < 5 ? names[state] : "UNKNOWN";
}

/*  ---- writer ------------------------------------------------------------- */

void vl_sn_submit(self_t *self, vl_writer_job_t *job)
{
    if (job->kind == VL_WRITER_WRITE)
        self->queued_bytes += job->bytes;
    if (self->fault_n && job->kind == self->fault_kind && --self->fault_n == 0)
        job->fault = true;
    if (vl_writer_submit(self->writer, job) != 0) {
        vl_log(LOG_ERR, "sn=%u: %s", self->sn_id, job->errmsg);
        vl_sn_replica_job_done(self, job);
        vl_writer_job_destroy(&job);
    }
}

static int s_on_writer(zloop_t *loop, zsock_t *reader, void *arg)
{
    self_t *self = arg;
    vl_writer_job_t *head;
    while ((head = vl_writer_done(self->writer))) {
        while (head) {
            vl_writer_job_t *next = head->next;
            vl_sn_replica_job_done(self, head);
            vl_writer_job_destroy(&head);
            head = next;
        }
    }
    /* One REPORT per writer batch rather than per job. */
    if (self->report_dirty)
        vl_sn_meta_report(self, false);
    return 0;
}

/*  ---- ROUTER ------------------------------------------------------------- */

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
    vl_sn_meta_ask(self);
    return true;
}

/*  Serves parked requests again: all of them after a META (now) or the
    expired ones. */
void vl_sn_unpark(self_t *self, bool all)
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
        vl_sn_reply_error(self, rid, &hdr, rc,
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
        vl_sn_reply_error(self, rid, &hdr, VL_ECLUSTER,
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
        vl_sn_append_on_append(self, rid, &hdr, &body, msg_p);
        break;
    case VL_MSG_REPLICATE:
        vl_sn_backup_on_replicate(self, rid, &hdr, &body, msg_p);
        break;
    case VL_MSG_SUBSCRIBE:
        vl_sn_sub_on_subscribe(self, rid, &hdr, &body);
        break;
    case VL_MSG_SUB_CREDIT:
        vl_sn_sub_on_credit(self, rid, &hdr, &body, false);
        break;
    case VL_MSG_SUB_CANCEL:
        vl_sn_sub_on_credit(self, rid, &hdr, &body, true);
        break;
    case VL_MSG_LOOKUP:
        vl_sn_sub_on_lookup(self, rid, &hdr, &body);
        break;
    case VL_MSG_SN_STATUS:
        vl_sn_sub_on_status(self, rid, &hdr);
        break;
    case VL_MSG_SN_SYNC:
        vl_sn_repl_on_sync(self, rid, &hdr, &body);
        break;
    case VL_MSG_BATCH_STATUS:
        vl_sn_append_on_batch_status(self, rid, &hdr, &body);
        break;
    case VL_MSG_PING:
        vl_sn_reply_body(self, rid, &hdr, NULL, NULL);
        break;
    default:
        vl_sn_reply_error(self, rid, &hdr, VL_EPROTO,
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

/*  ---- timers ------------------------------------------------------------- */

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
        vl_sn_sub_remove(self, sub);
    }
    zlistx_destroy(&idle);
}

static int s_on_second(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    if (!self->sn_id)
        vl_sn_meta_hello(self);
    else
        vl_sn_meta_report(self, true); /* heartbeat */
    s_subs_expire(self);
    vl_sn_stats_second(self); /* first: it reads the free space the check uses */
    vl_sn_fault_check(self);
    return 0;
}

static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    self_t *self = arg;
    int64_t now = vl_now_us();
    if (!self->sn_id && now < self->fast_hello_until_us)
        vl_sn_meta_hello(self);
    vl_sn_unpark(self, false);
    vl_sn_meta_tick(self);
    for (s_replica_t *rep = zhashx_first(self->replicas); rep; rep = zhashx_next(self->replicas)) {
        uint32_t nb = rep->primary ? rep->nbackups : 0;
        for (uint32_t i = 0; i < nb + rep->nsyncs; i++) {
            s_backup_t *b = i < nb ? &rep->backups[i] : &rep->syncs[i - nb];
            if (b->retry_at_us && now >= b->retry_at_us) {
                vl_sn_repl_probe(self, rep, b);
            } else if (!b->retry_at_us && b->inflight > 0 &&
                       now - b->progress_us > S_REPL_TIMEOUT_US) {
                vl_log(LOG_INFO, "sn=%u ls=%u: no answer from backup sn=%u (%s) for %d s; probing",
                       self->sn_id, rep->ls_id, b->sn_id, b->peer ? b->peer->addr : "?",
                       S_REPL_TIMEOUT_US / 1000000);
                vl_sn_repl_probe(self, rep, b);
            }
        }
        s_append_t *a;
        while ((a = zlistx_first(rep->appends)) && now - a->since_us > S_APPEND_TIMEOUT_US) {
            zlistx_delete(rep->appends, NULL);
            vl_sn_reply_error(self, a->rid, &a->req, VL_ETIMEDOUT,
                              "APPEND ls=%u llsn=%" PRIu64 ": not committed after %lld s; check "
                              "that every replica of the log stream is up",
                              rep->ls_id, a->llsn_begin, S_APPEND_TIMEOUT_US / 1000000);
            vl_sn_append_free(&a);
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

/*  ---- life cycle --------------------------------------------------------- */

static void s_replica_free_item(void **item)
{
    s_replica_t *rep = *item;
    if (rep) {
        s_append_t *a;
        while ((a = zlistx_first(rep->appends))) {
            zlistx_delete(rep->appends, NULL);
            vl_sn_append_free(&a);
        }
        zlistx_destroy(&rep->appends);
        vl_bidmap_destroy(&rep->bids);
        zlistx_destroy(&rep->subs);
        s_lookup_t *l;
        while ((l = zlistx_first(rep->lookups))) {
            zlistx_delete(rep->lookups, NULL);
            vl_sn_sub_lookup_free(&l);
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

static void s_peer_free(void **item)
{
    s_peer_t *peer = *item;
    if (peer) {
        zsock_destroy(&peer->dealer);
        free(peer);
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
    vl_mrconn_destroy(&self->mrconn);
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

/*  Sets the entry log's segment size: --segment-size, or a fraction of the
    data disk (vl_vlog_segment_bytes_for), so that a trim can give most of
    a small disk back. */
static void s_segment_size(self_t *self, s_args_t *args)
{
    uint64_t bytes = args->cfg.segment_bytes, disk = 0;
    struct statvfs sv;
    if (statvfs(args->data_dir, &sv) == 0)
        disk = (uint64_t)sv.f_blocks * sv.f_frsize;
    if (!bytes)
        bytes = vl_vlog_segment_bytes_for(disk);
    vl_store_set_segment_bytes(self->store, bytes);
    vl_log(LOG_INFO, "sn: entry log segments of %" PRIu64 " MiB (%s; data disk %" PRIu64 " MiB)",
           bytes >> 20,
           args->cfg.segment_bytes ? "--segment-size"
                                   : "a sixteenth of the data disk, 4 MiB to 512 MiB",
           disk >> 20);
}

/*  Opens the store and recovers every replica it holds, then starts the
    writer. Returns 0 or a VL_E* code (args->err says what failed). */
static int s_self_open_store(self_t *self, s_args_t *args)
{
    if (zsys_dir_create("%s", args->data_dir) != 0)
        return s_fail(args, VL_EIO,
                      "cannot create data directory %s: %s; check the path and its "
                      "permissions",
                      args->data_dir, strerror(errno));
    if (vl_store_open(args->data_dir, args->cfg.memtable_bytes, &self->store) != 0)
        return s_fail(args, VL_ESTORE, "%s", vl_store_errmsg());
    s_segment_size(self, args);
    /* Recovery: every replica the store holds, as durable as it is. */
    vl_store_state_t *states;
    size_t n;
    if (vl_store_states(self->store, &states, &n) != 0)
        return s_fail(args, VL_ESTORE, "reading the replicas in %s: %s", args->data_dir,
                      vl_store_errmsg());
    for (size_t i = 0; i < n; i++) {
        s_replica_t *rep = vl_sn_replica_new(self, states[i].topic_id, states[i].ls_id);
        rep->q = rep->d = states[i];
        rep->trim_hwm = states[i].hwm;
        vl_log(LOG_INFO,
               "sn: recovered ls=%u topic=%u llsn_end=%" PRIu64 " bytes_end=%" PRIu64
               " applied=%" PRIu64 " hwm=%" PRIu64 " trim=%" PRIu64,
               states[i].ls_id, states[i].topic_id, states[i].llsn_end, states[i].bytes_end,
               states[i].applied_llsn_end, states[i].hwm, states[i].trim_glsn);
    }
    free(states);
    if (vl_writer_new(self->store, &self->writer) != 0)
        return s_fail(args, VL_EIO, "cannot start the writer thread");
    return 0;
}

/*  Binds the ROUTER to args->listen; sets the port and the advertised
    address. Returns 0 or a VL_E* code. */
static int s_self_bind(self_t *self, s_args_t *args)
{
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return s_fail(args, VL_EIO, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
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
    vl_curve_server(self->router);
    int port = zsock_bind(self->router, "%s", args->listen);
    if (port < 0)
        return s_fail(args, VL_EINVAL, "cannot listen on %s: %s; use a free tcp://HOST:PORT",
                      args->listen, zmq_strerror(zmq_errno()));
    args->port = port;
    if (!args->advertise[0]) {
        char *last = zsock_last_endpoint(self->router);
        snprintf(args->advertise, sizeof args->advertise, "%s",
                 strchr(args->listen, '*') && last ? last : args->listen);
        free(last);
    }
    return 0;
}

/*  Connects the DEALER to the first of the MR endpoints (meta.c moves it
    to the leader), and its monitor. Returns 0 or a VL_E* code. */
static int s_self_connect_mr(self_t *self, s_args_t *args)
{
    char err[512];
    if (vl_mrconn_new(args->mr_endpoints, &self->mrconn, err, sizeof err) != 0)
        return s_fail(args, VL_EINVAL, "--mr: %s", err);
    self->mr = zsock_new(ZMQ_DEALER);
    if (!self->mr)
        return s_fail(args, VL_EIO, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
    zsock_set_linger(self->mr, 0);
    zsock_set_sndtimeo(self->mr, 0);
    zsock_set_sndhwm(self->mr, 1000);
    zsock_set_maxmsgsize(self->mr, VL_WIRE_MAX_BODY + 4096 * 2);
    vl_curve_client(self->mr);
    const char *ep = vl_mrconn_current(self->mrconn);
    if (zsock_connect(self->mr, "%s", ep) != 0)
        return s_fail(args, VL_EINVAL, "--mr: cannot connect to '%s': %s; use tcp://HOST:PORT", ep,
                      zmq_strerror(zmq_errno()));
    self->mr_heard_us = self->mr_word_us = vl_now_us();
    /* Without it a new MR process hears this node's idle replicas only
       from the next heartbeat, and a dead MR replica is left only after
       its silence: a second later, not never. */
    self->mr_monitor = zactor_new(zmonitor, self->mr);
    if (self->mr_monitor) {
        zstr_sendx(self->mr_monitor, "LISTEN", "CONNECTED", "DISCONNECTED", "CONNECT_RETRIED",
                   NULL);
        zstr_send(self->mr_monitor, "START");
        zsock_wait(self->mr_monitor);
    } else
        vl_log(LOG_WARNING,
               "sn: cannot monitor the connection to the MR: %s; an MR that "
               "restarts hears idle replicas from the next heartbeat, a dead one is "
               "left after a second of silence",
               zmq_strerror(zmq_errno()));
    return 0;
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
    vl_sn_stats_init(self);

    if (s_self_open_store(self, args) || s_self_bind(self, args) || s_self_connect_mr(self, args))
        goto err;

    self->loop = zloop_new();
    zloop_set_nonstop(self->loop, true);
    zloop_reader(self->loop, pipe, s_on_pipe, self);
    zloop_reader(self->loop, self->router, s_on_router, self);
    zloop_reader(self->loop, self->mr, vl_sn_meta_on_mr, self);
    if (self->mr_monitor)
        zloop_reader(self->loop, zactor_sock(self->mr_monitor), vl_sn_meta_on_monitor, self);
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
    vl_sn_meta_hello(self);
    zloop_start(self->loop);
    vl_log(LOG_NOTICE, "sn=%u: stopping", self->sn_id);
    s_self_destroy(&self);
}

/*  ---- public ------------------------------------------------------------- */

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
