/*  raft.c - the metadata repository's consensus engine (raft.h): libraft's
    libuv log and TCP transport on a uv loop of the engine's own, driven
    from the MR's zloop on the same thread.

    Driving libuv from a zloop (as dqlite embeds raft): the zloop polls
    uv_backend_fd (libuv's epoll descriptor, readable when a socket, a
    disk completion or a wakeup is ready) and a timerfd armed, after every
    run and every request, for the next of libuv's own timers (raft's
    tick, connect retries: uv_backend_timeout), which make the descriptor
    readable only when they are polled; both run uv_run(UV_RUN_NOWAIT).
    (A fixed 1 ms timer cost an idle MR 3 % of a core.) After every run the core (raft_core.c) looks at
    libraft: role changes, the new leader's barrier, divergence.

    TCP_NODELAY: raft_uv_tcp_init's transport never sets it, so every
    AppendEntries waited for the peer's delayed ACK (tens of ms per
    round). The engine hands libraft its own transport that forwards to
    the TCP one and sets the option on every stream it hands up, accepted
    and dialled.

    A diverged replica (the core refused a command) closes its raft
    instance at once: it neither votes nor leads any more, and keeps
    reporting VL_MRRAFT_DIVERGED until it is destroyed.

    Closing is asynchronous in libraft: destroy runs the uv loop until
    raft_close's callback ran, then releases the log and transport and
    closes the loop.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <raft/uv.h>
#include <uv.h>
#include "log.h"
#include "raft_i.h"
#include "util.h"

#define S_ELECTION_MS 500
#define S_HEARTBEAT_MS 50
#define S_SNAPSHOT_THRESHOLD 16384
#define S_SNAPSHOT_TRAILING 4096
/*  The raft log's segment size: 64 MiB, as etcd's WAL segments. Each
    new segment costs the loop a stall: libraft closes the full one's
    writer on the loop thread, and its io_destroy waits for an RCU grace
    period, 35 ms on the test machine (perf trace). At 1000 log streams
    under vl_mrload an 8 MiB segment lasts about 3 s, so that stall came
    every 3 s: report-to-commit p99 28-29 ms and 1,855-1,863 rounds/s,
    against 5.5-9.7 ms and 1,894-1,951 with 64 MiB (alternated; 32 MiB:
    p99 25-29 ms). A commit round of 3 log streams takes ~130 bytes of
    log, so at light load a segment lasts hours either way. The cost:
    every replica prepares 3 open segments ahead, written with zeros
    (zerofill.c), 192 MiB of disk (24 MiB with 8 MiB segments), written
    in libuv's thread pool after the start (the first commit is not
    later: 0.14 s from the start in both). */
#define S_SEGMENT_SIZE (64u << 20)
#define S_CONNECT_RETRY_MS 200 /* a peer that restarts is dialled again this soon */

/*  libraft's TCP transport (inner) behind the one libraft gets (outer). */
typedef struct {
    struct raft_uv_transport outer; /* raft_uv owns outer.data */
    struct raft_uv_transport inner; /* raft_uv_tcp_init's; inner.data is us */
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    const char *who;
    const char *address; /* libraft's copy */
} s_transport_t;

/*  A dial in progress: the inner transport's request around libraft's. */
typedef struct {
    struct raft_uv_connect req;
    struct raft_uv_connect *outer;
    raft_uv_connect_cb cb;
    s_transport_t *tr;
} s_connect_t;

struct vl_mrraft {
    zloop_t *zloop;
    zmq_pollitem_t item;  /* uv_backend_fd */
    zmq_pollitem_t titem; /* tfd */
    int tfd;              /* timerfd: the next libuv timer is due */
    int64_t armed_due;    /* libuv time tfd is armed for; -1 none, -2 unknown */
    uv_loop_t uv;
    s_transport_t tr;
    struct raft_io io;
    void (*uv_close)(struct raft_io *io, raft_io_close_cb cb); /* raft_uv's io->close */
    raft_io_close_cb io_close_cb;                              /* libraft's */
    bool io_close_fired;
    struct raft raft;
    vl_mrraft_core_t core;
    bool uv_inited, tcp_inited, io_inited, raft_inited, polled;
    bool started;
    bool closing; /* raft_close called */
    bool closed;  /* its callback ran */
};

/*  ---- the transport: TCP_NODELAY on every connection ---------------------- */

static void s_nodelay(s_transport_t *tr, struct uv_stream_s *stream)
{
    if (!stream || stream->type != UV_TCP)
        return;
    int rc = uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    if (rc != 0)
        vl_log(LOG_WARNING,
               "%s: cannot set TCP_NODELAY on a raft connection: %s; its commits may wait for "
               "delayed ACKs",
               tr->who, uv_strerror(rc));
}

static void s_tr_errmsg(s_transport_t *tr)
{
    memcpy(tr->outer.errmsg, tr->inner.errmsg, sizeof tr->outer.errmsg);
}

static int s_tr_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    s_transport_t *tr = t->impl;
    tr->address = address;
    int rv = tr->inner.init(&tr->inner, id, address);
    if (rv != 0)
        s_tr_errmsg(tr);
    return rv;
}

static void s_tr_accepted(struct raft_uv_transport *inner, raft_id id, const char *address,
                          struct uv_stream_s *stream)
{
    s_transport_t *tr = inner->data;
    s_nodelay(tr, stream);
    tr->accept_cb(&tr->outer, id, address, stream);
}

/*  libraft's TCP transport says nothing about why it could not listen:
    find out by binding the address here (IPv4 HOST:PORT). */
static void s_tr_listen_errmsg(s_transport_t *tr)
{
    s_tr_errmsg(tr);
    if (tr->outer.errmsg[0] || !tr->address)
        return;
    char host[256];
    snprintf(host, sizeof host, "%s", tr->address);
    char *colon = strrchr(host, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const char *why = "the address is not IPv4 HOST:PORT";
    if (colon) {
        *colon = '\0';
        sa.sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sa.sin_addr) == 1) {
            int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            if (fd < 0) {
                why = strerror(errno);
            } else {
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                why =
                    bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ? strerror(errno) : "unknown";
                close(fd);
            }
        }
    }
    snprintf(tr->outer.errmsg, sizeof tr->outer.errmsg, "listen on %s: %s", tr->address, why);
}

static int s_tr_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    s_transport_t *tr = t->impl;
    tr->accept_cb = cb;
    int rv = tr->inner.listen(&tr->inner, s_tr_accepted);
    if (rv != 0)
        s_tr_listen_errmsg(tr);
    return rv;
}

static void s_tr_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    s_connect_t *c = req->data;
    if (status == 0)
        s_nodelay(c->tr, stream);
    struct raft_uv_connect *outer = c->outer;
    raft_uv_connect_cb cb = c->cb;
    free(c);
    cb(outer, stream, status);
}

static int s_tr_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                        const char *address, raft_uv_connect_cb cb)
{
    s_transport_t *tr = t->impl;
    s_connect_t *c = vl_calloc(1, sizeof *c);
    c->req.data = c;
    c->outer = req;
    c->cb = cb;
    c->tr = tr;
    int rv = tr->inner.connect(&tr->inner, &c->req, id, address, s_tr_connected);
    if (rv != 0) {
        free(c);
        s_tr_errmsg(tr);
    }
    return rv;
}

static void s_tr_closed(struct raft_uv_transport *inner)
{
    s_transport_t *tr = inner->data;
    if (tr->close_cb)
        tr->close_cb(&tr->outer);
}

static void s_tr_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    s_transport_t *tr = t->impl;
    tr->close_cb = cb;
    tr->inner.close(&tr->inner, s_tr_closed);
}

static void s_tr_wire(s_transport_t *tr, const char *who)
{
    tr->who = who;
    tr->inner.data = tr;
    tr->outer.impl = tr;
    tr->outer.init = s_tr_init;
    tr->outer.listen = s_tr_listen;
    tr->outer.connect = s_tr_connect;
    tr->outer.close = s_tr_close;
}

/*  ---- the log: its close callback once --------------------------------------- */

/*  libraft 0.15's libuv backend can fire its close callback a second time
    when the open segment's writer finishes closing after it (canonical/raft
    issue 341, fixed in cowsql/raft 45); libraft's callback then frees its
    memory twice. The engine hands libraft an io->close that passes the
    first call on and swallows the second. The backend still touches its
    own memory then, so destroy drains the uv loop before raft_uv_close. */
static vl_mrraft_t *s_of_io(struct raft_io *io)
{
    return (vl_mrraft_t *)((char *)io - offsetof(vl_mrraft_t, io));
}

static void s_io_closed(struct raft_io *io)
{
    vl_mrraft_t *self = s_of_io(io);
    if (self->io_close_fired)
        return;
    self->io_close_fired = true;
    self->io_close_cb(io);
}

static void s_io_close(struct raft_io *io, raft_io_close_cb cb)
{
    vl_mrraft_t *self = s_of_io(io);
    self->io_close_cb = cb;
    self->uv_close(io, s_io_closed);
}

/*  ---- driving libuv from the zloop ---------------------------------------- */

static void s_closed(struct raft *raft)
{
    vl_mrraft_t *self = raft->data;
    self->closed = true;
}

/*  Arms the timerfd for libuv's next timer: at once when libuv has
    pending work, never when it has no timer. A deadline that has not
    changed since the timerfd was armed for it costs no system call (this
    runs after every proposal and every pass of libuv's loop: at 2,000
    rounds/s, thousands of timerfd_settime a second). */
static void s_arm(vl_mrraft_t *self)
{
    if (self->tfd < 0 || self->closing)
        return;
    int ms = uv_backend_timeout(&self->uv);
    int64_t due = ms < 0 ? -1 : (int64_t)uv_now(&self->uv) + ms;
    if (due == self->armed_due)
        return;
    self->armed_due = due;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (ms == 0)
        its.it_value.tv_nsec = 1000; /* 0 would disarm */
    else if (ms > 0) {
        its.it_value.tv_sec = ms / 1000;
        its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
    }
    timerfd_settime(self->tfd, 0, &its, NULL);
}

static void s_run(vl_mrraft_t *self)
{
    uv_run(&self->uv, UV_RUN_NOWAIT);
    if (self->closing)
        return;
    vl_mrraft_core_poll(&self->core);
    if (self->core.diverged) {
        /* a diverged replica must neither vote nor lead */
        vl_log(LOG_CRIT, "%s: left the raft group: this replica diverged (see above)",
               self->core.who);
        self->closing = true;
        raft_close(&self->raft, s_closed);
        return;
    }
    s_arm(self);
}

static int s_on_uv(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_run(arg);
    return 0;
}

static int s_on_timer(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    vl_mrraft_t *self = arg;
    uint64_t n;
    if (read(self->tfd, &n, sizeof n) < 0 && errno != EAGAIN)
        vl_log(LOG_WARNING, "%s: timerfd: %s", self->core.who, strerror(errno));
    self->armed_due = -2; /* it fired: arm it again whatever the deadline */
    s_run(self);
    return 0;
}

/*  A peer that died mid-write must not kill this process (libraft writes
    to sockets without MSG_NOSIGNAL). */
static void s_ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

/*  ---- lifecycle ------------------------------------------------------------ */

/*  The most precise text libraft left about the last failure: its own,
    the log's or the transport's (it does not always pass them up). */
static const char *s_detail(vl_mrraft_t *self)
{
    const char *texts[] = {raft_errmsg(&self->raft), self->io.errmsg, self->tr.outer.errmsg,
                           self->tr.inner.errmsg};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i] && *texts[i])
            return texts[i];
    return "no detail";
}

/*  Sets up the uv loop, the log, the transport and the raft instance. */
static int s_setup(vl_mrraft_t *self, const vl_mrraft_opts_t *opts, char *errbuf,
                   size_t errbuf_size)
{
    const char *who = self->core.who;
    int rc = uv_loop_init(&self->uv);
    if (rc != 0) {
        snprintf(errbuf, errbuf_size, "%s: cannot create the raft event loop: %s", who,
                 uv_strerror(rc));
        return -1;
    }
    self->uv_inited = true;
    int rv = raft_uv_tcp_init(&self->tr.inner, &self->uv);
    if (rv != 0) {
        snprintf(errbuf, errbuf_size, "%s: cannot set up the raft transport: %s", who,
                 raft_strerror(rv));
        return -1;
    }
    self->tcp_inited = true;
    s_tr_wire(&self->tr, who);
    rv = raft_uv_init(&self->io, &self->uv, opts->dir, &self->tr.outer);
    if (rv != 0) {
        snprintf(errbuf, errbuf_size, "%s: cannot open the raft log in '%s': %s (%s)", who,
                 opts->dir, raft_strerror(rv), self->io.errmsg);
        return -1;
    }
    self->io_inited = true;
    self->uv_close = self->io.close;
    self->io.close = s_io_close;
    raft_uv_set_connect_retry_delay(&self->io, S_CONNECT_RETRY_MS);
    raft_uv_set_segment_size(&self->io, S_SEGMENT_SIZE);
    rv = raft_init(&self->raft, &self->io, &self->core.fsm, opts->id, opts->address);
    if (rv != 0) {
        snprintf(errbuf, errbuf_size,
                 "%s: cannot set up raft at %s with its log in '%s': %s; check the address and "
                 "that no other varlogmr uses the directory",
                 who, opts->address, opts->dir, s_detail(self));
        return -1;
    }
    self->raft_inited = true;
    self->raft.data = self;
    vl_mrraft_core_bind(&self->core, &self->raft);
    raft_set_election_timeout(&self->raft, opts->election_ms ? opts->election_ms : S_ELECTION_MS);
    raft_set_heartbeat_timeout(&self->raft,
                               opts->heartbeat_ms ? opts->heartbeat_ms : S_HEARTBEAT_MS);
    raft_set_snapshot_threshold(&self->raft, opts->snapshot_threshold ? opts->snapshot_threshold
                                                                      : S_SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&self->raft, opts->snapshot_trailing ? opts->snapshot_trailing
                                                                    : S_SNAPSHOT_TRAILING);
    return 0;
}

vl_mrraft_t *vl_mrraft_new(zloop_t *loop, const vl_mrraft_opts_t *opts, const vl_mrraft_fsm_t *fsm,
                           void *arg, char *errbuf, size_t errbuf_size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, s_ignore_sigpipe);
    if (opts->id == 0 || !opts->address || !*opts->address || !opts->dir || !*opts->dir) {
        snprintf(errbuf, errbuf_size,
                 "the consensus engine needs a raft id >= 1, an address HOST:PORT and a "
                 "directory");
        return NULL;
    }
    if (zsys_dir_create("%s", opts->dir) != 0) {
        snprintf(errbuf, errbuf_size,
                 "mr[%" PRIu64 "]: cannot create the raft directory '%s': %s; check the path and "
                 "its permissions",
                 opts->id, opts->dir, strerror(errno));
        return NULL;
    }
    vl_mrraft_t *self = vl_calloc(1, sizeof *self);
    self->zloop = loop;
    self->tfd = -1;
    self->armed_due = -2;
    vl_mrraft_core_init(&self->core, opts->id, fsm, arg);
    if (s_setup(self, opts, errbuf, errbuf_size) != 0) {
        vl_mrraft_destroy(&self);
        return NULL;
    }
    /* signals interrupt the poll (libuv's own handlers among them): the
       loop must not take that for a request to stop */
    zloop_set_nonstop(loop, true);
    self->item =
        (zmq_pollitem_t){.socket = NULL, .fd = uv_backend_fd(&self->uv), .events = ZMQ_POLLIN};
    zloop_poller(loop, &self->item, s_on_uv, self);
    self->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->tfd < 0) {
        snprintf(errbuf, errbuf_size, "%s: timerfd_create: %s; check the open-files limit",
                 self->core.who, strerror(errno));
        zloop_poller_end(loop, &self->item);
        vl_mrraft_destroy(&self);
        return NULL;
    }
    self->titem = (zmq_pollitem_t){.socket = NULL, .fd = self->tfd, .events = ZMQ_POLLIN};
    zloop_poller(loop, &self->titem, s_on_timer, self);
    self->polled = true;
    s_arm(self);
    return self;
}

void vl_mrraft_destroy(vl_mrraft_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_mrraft_t *self = *self_p;
    if (self->polled) {
        zloop_poller_end(self->zloop, &self->item);
        zloop_poller_end(self->zloop, &self->titem);
    }
    if (self->tfd >= 0)
        close(self->tfd);
    self->tfd = -1;
    vl_mrraft_core_stop(&self->core);
    if (self->raft_inited) {
        if (!self->closing) {
            self->closing = true;
            raft_close(&self->raft, s_closed);
        }
        while (!self->closed)
            if (uv_run(&self->uv, UV_RUN_ONCE) == 0 && !self->closed) {
                vl_log(LOG_ERR, "%s: raft did not report its close", self->core.who);
                break;
            }
    }
    if (self->uv_inited)
        uv_run(&self->uv, UV_RUN_DEFAULT); /* handles still closing (see s_io_closed) */
    if (self->io_inited)
        raft_uv_close(&self->io);
    if (self->tcp_inited)
        raft_uv_tcp_close(&self->tr.inner);
    if (self->uv_inited) {
        if (uv_loop_close(&self->uv) != 0)
            vl_log(LOG_WARNING, "%s: the raft event loop still had handles at close",
                   self->core.who);
    }
    vl_mrraft_core_fini(&self->core);
    if (self->core.role != VL_MRRAFT_UNAVAILABLE)
        vl_log(LOG_INFO, "%s: stopped", self->core.who);
    free(self);
    *self_p = NULL;
}

int vl_mrraft_bootstrap(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n,
                        bool *done_p, char *errbuf, size_t errbuf_size)
{
    *done_p = false;
    if (self->started || self->closing) {
        snprintf(errbuf, errbuf_size, "%s: bootstrap comes before start", self->core.who);
        return VL_MRRAFT_EFAIL;
    }
    if (n == 0) {
        snprintf(errbuf, errbuf_size, "%s: bootstrap needs at least one member", self->core.who);
        return VL_MRRAFT_EFAIL;
    }
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++) {
        rv = raft_configuration_add(&conf, members[i].id, members[i].address, RAFT_VOTER);
        if (rv != 0)
            snprintf(errbuf, errbuf_size,
                     "%s: bootstrap member %zu (id %" PRIu64 ", %s): %s; every member needs its "
                     "own id >= 1 and address",
                     self->core.who, i, members[i].id, members[i].address, raft_strerror(rv));
    }
    if (rv == 0) {
        rv = raft_bootstrap(&self->raft, &conf);
        if (rv == RAFT_CANTBOOTSTRAP) {
            vl_log(LOG_INFO, "%s: raft state exists already: not bootstrapping", self->core.who);
            rv = 0;
        } else if (rv != 0) {
            snprintf(errbuf, errbuf_size,
                     "%s: cannot write the first raft configuration: %s (%s); check the raft "
                     "directory",
                     self->core.who, raft_strerror(rv), s_detail(self));
        } else {
            *done_p = true;
            vl_log(LOG_NOTICE, "%s: bootstrapped a group of %zu", self->core.who, n);
        }
    }
    raft_configuration_close(&conf);
    return rv == 0 ? 0 : VL_MRRAFT_EFAIL;
}

int vl_mrraft_recover(vl_mrraft_t *self, const vl_mrraft_member_t *members, size_t n, char *errbuf,
                      size_t errbuf_size)
{
    if (self->started || self->closing || n == 0) {
        snprintf(errbuf, errbuf_size, "%s: recover comes before start, with at least one voter",
                 self->core.who);
        return VL_MRRAFT_EFAIL;
    }
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++)
        rv = raft_configuration_add(&conf, members[i].id, members[i].address, RAFT_VOTER);
    if (rv != 0)
        snprintf(errbuf, errbuf_size, "%s: recover: %s; every voter needs its own id and address",
                 self->core.who, raft_strerror(rv));
    else if ((rv = raft_recover(&self->raft, &conf)) != 0)
        snprintf(errbuf, errbuf_size,
                 "%s: cannot write the new configuration into the raft log: %s (%s); check the "
                 "raft directory (a replica that never had state cannot be recovered: start it "
                 "with --join instead)",
                 self->core.who, raft_strerror(rv), s_detail(self));
    else
        vl_log(LOG_NOTICE, "%s: the raft log now ends with a configuration of %zu voter%s",
               self->core.who, n, n == 1 ? "" : "s");
    raft_configuration_close(&conf);
    return rv == 0 ? 0 : VL_MRRAFT_EFAIL;
}

int vl_mrraft_start(vl_mrraft_t *self, char *errbuf, size_t errbuf_size)
{
    if (self->started || self->closing) {
        snprintf(errbuf, errbuf_size,
                 "%s: the consensus engine was started already (once per engine: destroy it "
                 "and create another to try again)",
                 self->core.who);
        return VL_MRRAFT_EFAIL;
    }
    self->started = true; /* libraft's start may not be tried twice */
    int rv = raft_start(&self->raft);
    if (rv != 0) {
        snprintf(errbuf, errbuf_size,
                 "%s: cannot start raft at %s: %s (%s); check that the address is free and the "
                 "raft directory readable",
                 self->core.who, self->raft.address, raft_strerror(rv), s_detail(self));
        return VL_MRRAFT_EFAIL;
    }
    vl_log(LOG_INFO, "%s: started at %s, raft log up to index %llu (snapshot %llu)", self->core.who,
           self->raft.address, raft_last_index(&self->raft), self->raft.log.snapshot.last_index);
    s_run(self);
    return 0;
}

/*  ---- requests --------------------------------------------------------------- */

int vl_mrraft_propose(vl_mrraft_t *self, const uint8_t *data, size_t len, vl_mrraft_done_fn *done,
                      void *arg)
{
    int rc = vl_mrraft_core_propose(&self->core, data, len, done, arg);
    s_arm(self); /* the request may have started libuv work */
    return rc;
}

int vl_mrraft_add(vl_mrraft_t *self, uint64_t id, const char *address, vl_mrraft_done_fn *done,
                  void *arg)
{
    int rc = vl_mrraft_core_add(&self->core, id, address, done, arg);
    s_arm(self); /* the request may have started libuv work */
    return rc;
}

int vl_mrraft_assign(vl_mrraft_t *self, uint64_t id, int role, vl_mrraft_done_fn *done, void *arg)
{
    int rc = vl_mrraft_core_assign(&self->core, id, role, done, arg);
    s_arm(self); /* the request may have started libuv work */
    return rc;
}

int vl_mrraft_remove(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    int rc = vl_mrraft_core_remove(&self->core, id, done, arg);
    s_arm(self); /* the request may have started libuv work */
    return rc;
}

int vl_mrraft_transfer(vl_mrraft_t *self, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    int rc = vl_mrraft_core_transfer(&self->core, id, done, arg);
    s_arm(self); /* the request may have started libuv work */
    return rc;
}

/*  ---- what this replica knows ------------------------------------------------ */

int vl_mrraft_role(vl_mrraft_t *self)
{
    return vl_mrraft_core_role(&self->core);
}

uint64_t vl_mrraft_id(vl_mrraft_t *self)
{
    return self->raft.id;
}

uint64_t vl_mrraft_term(vl_mrraft_t *self)
{
    return self->raft.current_term;
}

uint64_t vl_mrraft_leader(vl_mrraft_t *self, const char **address_p)
{
    raft_id id = 0;
    const char *address = NULL;
    if (!self->closing)
        raft_leader(&self->raft, &id, &address);
    if (address_p)
        *address_p = address;
    return id;
}

uint64_t vl_mrraft_last_index(vl_mrraft_t *self)
{
    return raft_last_index(&self->raft);
}

uint64_t vl_mrraft_commit_index(vl_mrraft_t *self)
{
    return self->raft.commit_index;
}

uint64_t vl_mrraft_applied_index(vl_mrraft_t *self)
{
    return raft_last_applied(&self->raft);
}

size_t vl_mrraft_members(vl_mrraft_t *self, vl_mrraft_member_t *out, size_t max)
{
    if (self->closing) /* raft_close frees the configuration */
        return 0;
    const struct raft_configuration *conf = &self->raft.configuration;
    bool leader = raft_state(&self->raft) == RAFT_LEADER;
    for (size_t i = 0; i < conf->n && i < max; i++) {
        const struct raft_server *s = &conf->servers[i];
        out[i] = (vl_mrraft_member_t){.id = s->id};
        snprintf(out[i].address, sizeof out[i].address, "%s", s->address);
        out[i].role = s->role == RAFT_VOTER     ? VL_MRRAFT_VOTER
                      : s->role == RAFT_STANDBY ? VL_MRRAFT_STANDBY
                                                : VL_MRRAFT_SPARE;
        if (leader)
            out[i].match_index = s->id == self->raft.id
                                     ? self->raft.last_stored
                                     : self->raft.leader_state.progress[i].match_index;
    }
    return conf->n;
}

const char *vl_mrraft_errmsg(vl_mrraft_t *self)
{
    return self->core.errmsg;
}
