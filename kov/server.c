/*  server.c - varlogkov's actor: the Kafka listener, connections, requests.

    One actor thread runs one zloop with:
    - the pipe (PORT, $TERM);
    - the TCP listen socket and every client connection as pollers on raw,
      non-blocking file descriptors;
    - the data path's notification fd (part.h), whose readiness runs the
      callbacks of produces, fetches and blocking cluster calls.

    Framing is Kafka's: a 4-byte big-endian size, then the request. A size
    beyond --max-request (Kafka's socket.request.max.bytes) or below a
    request header closes the connection before anything is allocated for
    it; the input buffer grows only as bytes arrive, so a client that
    announces 100 MiB and sends 10 bytes costs 64 KiB.

    Order: each connection keeps a queue of its requests in arrival order.
    A handler fills its request's response whenever it is ready (a Produce
    after the commit, a Fetch after its long poll); the queue is written out
    from its head only, so responses leave in request order whatever order
    they complete in (kafka-python fails on a correlation-id mismatch). A
    connection stops reading once S_MAX_QUEUED requests wait (backpressure
    instead of memory) and resumes when the head drains.

    Connections are found by fd (self->conns[fd]); the pollers' argument is
    the server, not the connection, so an event that zloop delivers for a
    connection closed in the same iteration finds nothing. A closed
    connection's pending requests are orphaned (req->conn = NULL) and freed
    when their handlers finish; the struct itself is freed later (s_reap),
    outside any function that may still hold it.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "server.h"
#include "server_i.h"
#include "log.h"
#include "util.h"

#define S_MAX_QUEUED 256        /* requests waiting per connection before it stops reading */
#define S_READ_CHUNK (64 << 10) /* spare room kept in an input buffer */
#define S_MIN_REQUEST 10        /* a request header v1 with a null client id */

struct vl_kconn {
    vl_kserver_t *server;
    int fd;
    char peer[64];
    char host[64];     /* "/" and the peer's address (JoinGroup's client_host) */
    vl_kw_t in;        /* bytes read; in.buf[off..len) not yet processed */
    size_t off;
    vl_kreq_t *head, *tail; /* requests awaiting their response, in order */
    size_t nqueued;
    size_t woff;     /* bytes of head's response already written */
    short events;    /* what the poller waits for (0: no poller) */
    bool want_write; /* the socket was full: wait for POLLOUT */
    bool processing, closed;
    vl_kconn_t *next_dead;
};

const vl_kapi_t *const vl_kapis[] = {
    &vl_kapi_produce,          &vl_kapi_fetch,           &vl_kapi_list_offsets,
    &vl_kapi_metadata,         &vl_kapi_offset_commit,   &vl_kapi_offset_fetch,
    &vl_kapi_find_coordinator, &vl_kapi_join_group,      &vl_kapi_heartbeat,
    &vl_kapi_leave_group,      &vl_kapi_sync_group,      &vl_kapi_describe_groups,
    &vl_kapi_list_groups,      &vl_kapi_api_versions,    &vl_kapi_create_topics,
    &vl_kapi_delete_topics,    &vl_kapi_delete_records,  &vl_kapi_init_producer_id,
    &vl_kapi_describe_configs, &vl_kapi_delete_groups,
};
const size_t vl_kapis_n = sizeof vl_kapis / sizeof vl_kapis[0];

static void s_conn_close(vl_kconn_t *conn, const char *why);
static void s_reap(vl_kserver_t *self);
static void s_conn_process(vl_kconn_t *conn);
static int s_conn_event(zloop_t *loop, zmq_pollitem_t *item, void *arg);

/* ---- requests -------------------------------------------------------------- */

static void s_req_free(vl_kreq_t *req)
{
    vl_kserver_t *self = req->server;
    if (req->all_prev)
        req->all_prev->all_next = req->all_next;
    else
        self->reqs = req->all_next;
    if (req->all_next)
        req->all_next->all_prev = req->all_prev;
    vl_kw_free(&req->out);
    free(req);
}

/*  Takes req out of its connection's queue (wherever it is in it). */
static void s_queue_remove(vl_kconn_t *conn, vl_kreq_t *req)
{
    vl_kreq_t *prev = NULL;
    for (vl_kreq_t *q = conn->head; q; prev = q, q = q->qnext) {
        if (q != req)
            continue;
        if (prev)
            prev->qnext = q->qnext;
        else
            conn->head = q->qnext;
        if (conn->tail == q)
            conn->tail = prev;
        conn->nqueued--;
        return;
    }
}

static void s_conn_flush(vl_kconn_t *conn);

void vl_kreq_reply(vl_kreq_t *req)
{
    req->ctx = NULL;
    vl_kconn_t *conn = req->conn;
    if (!conn || req->noreply) {
        s_req_free(req);
        return;
    }
    vl_kw_frame_end(&req->out);
    vl_kstats_reply(req->api_key, req->since_us);
    req->done = true;
    if (conn->head == req)
        s_conn_flush(conn);
}

void vl_kreq_noreply(vl_kreq_t *req)
{
    if (req->conn) {
        vl_kconn_t *conn = req->conn;
        s_queue_remove(conn, req);
        req->conn = NULL;
        s_conn_flush(conn); /* it may have held finished responses back */
    }
    req->noreply = true;
}

void vl_kreq_bad(vl_kreq_t *req, const char *what)
{
    vl_kconn_t *conn = req->conn;
    vl_log(LOG_WARNING, "request %" PRIu64 " (api %d v%d): malformed: %s; closing the connection",
           req->id, req->api_key, req->api_version, what ? what : "?");
    vl_kstats_malformed(req->api_key);
    if (conn) {
        s_queue_remove(conn, req);
        req->conn = NULL;
        s_conn_close(conn, "malformed request");
    }
    s_req_free(req);
}

/* ---- connections ----------------------------------------------------------- */

/*  Makes the poller wait for exactly `events` (0: none). */
static void s_conn_poll(vl_kconn_t *conn, short events)
{
    if (conn->events == events)
        return;
    zmq_pollitem_t item = {.fd = conn->fd, .events = events};
    if (conn->events)
        zloop_poller_end(conn->server->loop, &item);
    if (events) {
        zloop_poller(conn->server->loop, &item, s_conn_event, conn->server);
        zloop_poller_set_tolerant(conn->server->loop, &item);
    }
    conn->events = events;
}

/*  Polls for input while the connection takes requests (a full queue
    must not leave POLLIN armed: zloop would call us again at once), for
    output while the socket is full. */
static void s_conn_update(vl_kconn_t *conn)
{
    short ev =
        (conn->nqueued < S_MAX_QUEUED ? ZMQ_POLLIN : 0) | (conn->want_write ? ZMQ_POLLOUT : 0);
    s_conn_poll(conn, ev);
}

/*  Writes finished responses from the head of the queue until one is not
    finished or the socket is full. */
static void s_conn_flush(vl_kconn_t *conn)
{
    bool was_full = conn->nqueued >= S_MAX_QUEUED;
    conn->want_write = false;
    while (!conn->closed && conn->head && conn->head->done) {
        vl_kreq_t *req = conn->head;
        ssize_t n = send(conn->fd, req->out.buf + conn->woff, req->out.len - conn->woff,
                         MSG_NOSIGNAL); /* a closed peer is an error, not SIGPIPE */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn->want_write = true;
            break;
        }
        if (n < 0) {
            s_conn_close(conn, strerror(errno));
            return;
        }
        conn->woff += (size_t)n;
        if (conn->woff < req->out.len)
            continue;
        conn->woff = 0;
        conn->head = req->qnext;
        if (!conn->head)
            conn->tail = NULL;
        conn->nqueued--;
        s_req_free(req);
    }
    if (conn->closed)
        return;
    s_conn_update(conn);
    if (was_full && conn->nqueued < S_MAX_QUEUED)
        s_conn_process(conn); /* frames read before it stopped reading */
}

static const vl_kapi_t *s_api(int16_t key)
{
    for (size_t i = 0; i < vl_kapis_n; i++)
        if (vl_kapis[i]->key == key)
            return vl_kapis[i];
    return NULL;
}

/*  Handles one request frame; false when the connection was closed. */
static bool s_conn_frame(vl_kconn_t *conn, const uint8_t *data, size_t len)
{
    vl_kserver_t *self = conn->server;
    vl_kr_t r;
    vl_kreq_hdr_t h;
    vl_kr_init(&r, data, len);
    if (!vl_kr_req_hdr(&r, &h)) {
        vl_kstats_bad_input();
        s_conn_close(conn, "truncated request header");
        return false;
    }
    const vl_kapi_t *api = s_api(h.api_key);
    if (!api) {
        vl_log(LOG_WARNING, "%s: unknown or unsupported API key %d (v%d); closing the connection",
               conn->peer, h.api_key, h.api_version);
        vl_kstats_bad_input();
        s_conn_close(conn, "unknown API key");
        return false;
    }
    /* ApiVersions answers versions it does not know itself (KIP-511) */
    if (api != &vl_kapi_api_versions && (h.api_version < api->min || h.api_version > api->max)) {
        vl_log(LOG_WARNING, "%s: %s v%d is not supported (v%d-%d); closing the connection",
               conn->peer, api->name, h.api_version, api->min, api->max);
        vl_kstats_bad_input();
        s_conn_close(conn, "unsupported version");
        return false;
    }
    bool flex = api->flex_min >= 0 && h.api_version >= api->flex_min;
    /* an ApiVersions version we do not know: its body (and header tags) are
       not read, the answer is the v0 error response whatever they hold */
    bool unknown_version = h.api_version > api->max;
    if (flex && !unknown_version)
        vl_kr_tags(&r);
    if (!vl_kr_ok(&r)) {
        vl_kstats_bad_input();
        s_conn_close(conn, "truncated request header");
        return false;
    }
    vl_kreq_t *req = vl_calloc(1, sizeof *req);
    req->server = self;
    req->conn = conn;
    req->api_key = h.api_key;
    req->api_version = h.api_version;
    req->correlation_id = h.correlation_id;
    req->flex = flex;
    if (h.client_id.len > 0)
        snprintf(req->client_id, sizeof req->client_id, "%.*s", (int)h.client_id.len,
                 (const char *)h.client_id.ptr);
    snprintf(req->client_host, sizeof req->client_host, "%s", conn->host);
    req->id = ++self->next_req_id;
    req->since_us = vl_now_us();
    vl_kstats_request(h.api_key);
    vl_kw_init(&req->out);
    /* ApiVersions responses always have header v0 (KIP-511) */
    vl_kw_resp_hdr(&req->out, h.correlation_id, flex && api != &vl_kapi_api_versions);
    req->all_next = self->reqs;
    if (self->reqs)
        self->reqs->all_prev = req;
    self->reqs = req;
    if (conn->tail)
        conn->tail->qnext = req;
    else
        conn->head = req;
    conn->tail = req;
    conn->nqueued++;
    vl_log(LOG_DEBUG, "%s: request %" PRIu64 " %s v%d correlation %d, %zu bytes", conn->peer,
           req->id, api->name, h.api_version, h.correlation_id, len);
    api->handle(req, &r);
    return !conn->closed;
}

/*  Handles every complete frame in the input buffer while the connection
    takes requests. */
static void s_conn_process(vl_kconn_t *conn)
{
    if (conn->processing)
        return; /* a handler answered at once: the outer call goes on */
    conn->processing = true;
    uint32_t max = conn->server->opts.max_request;
    while (!conn->closed && conn->nqueued < S_MAX_QUEUED && conn->in.len - conn->off >= 4) {
        uint32_t size = vl_get_be32(conn->in.buf + conn->off);
        if (size > max || size < S_MIN_REQUEST) {
            vl_log(LOG_WARNING,
                   "%s: request of %" PRIu32 " bytes (accepted: %d..%" PRIu32
                   ", --max-request); closing the connection",
                   conn->peer, size, S_MIN_REQUEST, max);
            vl_kstats_bad_input();
            s_conn_close(conn, "bad request size");
            break;
        }
        if (conn->in.len - conn->off - 4 < size)
            break;
        const uint8_t *frame = conn->in.buf + conn->off + 4;
        conn->off += 4 + (size_t)size;
        if (!s_conn_frame(conn, frame, size))
            break;
    }
    conn->processing = false;
    if (!conn->closed && conn->off == conn->in.len)
        conn->off = conn->in.len = 0;
}

/*  Reads what the socket has (while the connection takes requests). */
static void s_conn_read(vl_kconn_t *conn)
{
    while (!conn->closed && conn->nqueued < S_MAX_QUEUED) {
        if (conn->in.cap - conn->in.len < S_READ_CHUNK && conn->off > 0) {
            memmove(conn->in.buf, conn->in.buf + conn->off, conn->in.len - conn->off);
            conn->in.len -= conn->off;
            conn->off = 0;
        }
        (void)vl_kw_put(&conn->in, S_READ_CHUNK); /* room, then give back what is unused */
        conn->in.len -= S_READ_CHUNK;
        size_t room = conn->in.cap - conn->in.len;
        ssize_t n = read(conn->fd, conn->in.buf + conn->in.len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            s_conn_close(conn, n == 0 ? "closed by the client" : strerror(errno));
            return;
        }
        conn->in.len += (size_t)n;
        s_conn_process(conn);
        if ((size_t)n < room)
            break;
    }
    if (!conn->closed)
        s_conn_update(conn); /* the queue may have filled up */
}

static int s_conn_event(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    vl_kserver_t *self = arg;
    if (item->fd < 0 || (size_t)item->fd >= self->nconns_cap || !self->conns[item->fd])
        return 0; /* closed in this loop iteration */
    vl_kconn_t *conn = self->conns[item->fd];
    if (item->revents & ZMQ_POLLERR)
        s_conn_close(conn, "socket error");
    if (!conn->closed && (item->revents & ZMQ_POLLOUT))
        s_conn_flush(conn);
    if (!conn->closed && (item->revents & ZMQ_POLLIN))
        s_conn_read(conn);
    s_reap(self);
    return 0;
}

static void s_conn_close(vl_kconn_t *conn, const char *why)
{
    if (conn->closed)
        return;
    vl_kserver_t *self = conn->server;
    vl_log(LOG_INFO, "%s: connection closed: %s (%zu requests pending)", conn->peer, why,
           conn->nqueued);
    s_conn_poll(conn, 0);
    self->conns[conn->fd] = NULL;
    self->nconns--;
    vl_kstats_conn(-1);
    close(conn->fd);
    conn->closed = true;
    for (vl_kreq_t *req = conn->head, *next; req; req = next) {
        next = req->qnext;
        req->qnext = NULL;
        req->conn = NULL;
        if (req->done)
            s_req_free(req);
        /* else: orphaned, freed by vl_kreq_reply */
    }
    conn->head = conn->tail = NULL;
    conn->nqueued = 0;
    vl_kw_free(&conn->in);
    conn->next_dead = self->dead;
    self->dead = conn;
}

/*  Frees closed connections: called where no function holds one. */
static void s_reap(vl_kserver_t *self)
{
    while (self->dead) {
        vl_kconn_t *conn = self->dead;
        self->dead = conn->next_dead;
        free(conn);
    }
}

static int s_accept_event(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    vl_kserver_t *self = arg;
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof sa;
        int fd = accept4(item->fd, (struct sockaddr *)&sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                vl_log(LOG_WARNING, "accept: %s", strerror(errno));
            break;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= self->nconns_cap) {
            size_t cap = self->nconns_cap ? self->nconns_cap : 64;
            while (cap <= (size_t)fd)
                cap *= 2;
            self->conns = vl_realloc(self->conns, cap * sizeof *self->conns);
            memset(self->conns + self->nconns_cap, 0,
                   (cap - self->nconns_cap) * sizeof *self->conns);
            self->nconns_cap = cap;
        }
        vl_kconn_t *conn = vl_calloc(1, sizeof *conn);
        conn->server = self;
        conn->fd = fd;
        char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
        getnameinfo((struct sockaddr *)&sa, salen, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(conn->peer, sizeof conn->peer, "client %s:%s", host, port);
        snprintf(conn->host, sizeof conn->host, "/%s", host);
        vl_kw_init(&conn->in);
        self->conns[fd] = conn;
        self->nconns++;
        vl_kstats_conn(1);
        s_conn_poll(conn, ZMQ_POLLIN);
        vl_log(LOG_DEBUG, "%s: connected (%zu connections)", conn->peer, self->nconns);
    }
    return 0;
}

static int s_parts_event(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    vl_kserver_t *self = arg;
    vl_kparts_dispatch(self->parts);
    s_reap(self);
    return 0;
}

static int s_reap_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_reap(arg);
    return 0;
}

/* ---- pipe ------------------------------------------------------------------ */

static int s_pipe_reader(zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void)loop;
    vl_kserver_t *self = arg;
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return -1;
    char *cmd = zmsg_popstr(msg);
    int rc = 0;
    if (cmd && streq(cmd, "$TERM")) {
        self->terminated = true;
        rc = -1;
    } else if (cmd && streq(cmd, "PORT")) {
        zsock_send(pipe, "i", self->port);
    } else {
        vl_log(LOG_ERR, "actor: unknown pipe command '%s'", cmd ? cmd : "");
    }
    free(cmd);
    zmsg_destroy(&msg);
    return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

/*  Splits "HOST:PORT" (HOST may be "[v6]"); false when malformed. */
static bool s_split_hostport(const char *hp, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp)
        return false;
    size_t hlen = (size_t)(colon - hp);
    if (hp[0] == '[' && hlen >= 2 && hp[hlen - 1] == ']') {
        hp++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= host_size)
        return false;
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

/*  Binds and listens on opts.listen; the port or -1 (logged). */
static int s_listen(vl_kserver_t *self)
{
    char host[256];
    int port;
    if (!s_split_hostport(self->opts.listen, host, sizeof host, &port)) {
        vl_log(LOG_ERR, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:9093", self->opts.listen);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ports[8];
    snprintf(ports, sizeof ports, "%d", port);
    int gai = getaddrinfo(host, ports, &hints, &ai);
    if (gai != 0) {
        vl_log(LOG_ERR, "--listen %s: %s", self->opts.listen, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        vl_log(LOG_ERR,
               "cannot listen on %s: %s; is another varlogkov (or a Kafka broker) running "
               "there? choose another --listen",
               self->opts.listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &salen);
    char sport[8];
    getnameinfo((struct sockaddr *)&sa, salen, NULL, 0, sport, sizeof sport, NI_NUMERICSERV);
    self->listen_fd = fd;
    self->port = atoi(sport);
    if (self->opts.advertise) {
        char ahost[256];
        if (!s_split_hostport(self->opts.advertise, ahost, sizeof ahost, &self->adv_port) ||
            self->adv_port == 0) {
            vl_log(LOG_ERR, "--advertise %s: expected HOST:PORT with a port, e.g. kov.example:9093",
                   self->opts.advertise);
            return -1;
        }
        self->adv_host = vl_strdup(ahost);
    } else {
        self->adv_host = vl_strdup(host);
        self->adv_port = self->port;
    }
    return self->port;
}

/*  Registers among the gateways of the cluster (kov/gw.h). */
static int s_gw_start(vl_kserver_t *self)
{
    char addr[300], err[512];
    if (strchr(self->adv_host, ':'))
        snprintf(addr, sizeof addr, "[%s]:%d", self->adv_host, self->adv_port);
    else
        snprintf(addr, sizeof addr, "%s:%d", self->adv_host, self->adv_port);
    vl_kgw_opts_t go = {.id = self->opts.node_id,
                        .addr = addr,
                        .session_ms = self->opts.session_ms,
                        .snapshot_every = self->opts.meta_snapshot_every,
                        .rf = self->opts.replication > 0 ? (uint32_t)self->opts.replication : 0};
    int rc = vl_kgw_start(self->client, &go, &self->gw, err, sizeof err);
    if (rc != 0) {
        vl_log(LOG_ERR, "gateways: %s; is the cluster up (varlogctl topic list)?", err);
        return -1;
    }
    return 0;
}

static vl_kserver_t *s_self_new(zsock_t *pipe, const vl_kserver_opts_t *opts)
{
    vl_kserver_t *self = vl_calloc(1, sizeof *self);
    self->pipe = pipe;
    self->opts = *opts;
    self->opts.listen = vl_strdup(opts->listen ? opts->listen : VL_KOV_LISTEN_DEFAULT);
    self->opts.advertise = opts->advertise ? vl_strdup(opts->advertise) : NULL;
    self->opts.mr = vl_strdup(opts->mr ? opts->mr : VL_KOV_MR_DEFAULT);
    if (self->opts.node_id < 0)
        self->opts.node_id = 1;
    if (self->opts.partitions <= 0)
        self->opts.partitions = 1;
    if (self->opts.log_streams == 0)
        self->opts.log_streams = 1;
    if (self->opts.max_request == 0)
        self->opts.max_request = VL_KOV_MAX_REQUEST_DEFAULT;
    self->listen_fd = -1;
    self->port = -1;
    vl_kstats_init();
    self->loop = zloop_new();
    zloop_set_nonstop(self->loop, true); /* stop on $TERM only */
    zloop_reader(self->loop, pipe, s_pipe_reader, self);
    if (s_listen(self) < 0) {
        self->port = -1;
        return self;
    }
    char err[512];
    if (vl_client_open(self->opts.mr, NULL, &self->client, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "cannot reach the cluster at %s: %s; is varlogmr running? check --mr",
               self->opts.mr, err);
        self->port = -1;
        return self;
    }
    vl_kparts_opts_t po = {.workers = self->opts.workers};
    int rc = vl_kparts_new(self->client, &po, &self->parts);
    if (rc != 0) {
        vl_log(LOG_ERR, "cannot start the data path: %s", vl_err_str(rc));
        self->port = -1;
        return self;
    }
    zmq_pollitem_t pitem = {.fd = vl_kparts_fd(self->parts), .events = ZMQ_POLLIN};
    zloop_poller(self->loop, &pitem, s_parts_event, self);
    if (s_gw_start(self) != 0 || vl_kcoord_start(self) != 0) {
        self->port = -1;
        return self;
    }
    zmq_pollitem_t litem = {.fd = self->listen_fd, .events = ZMQ_POLLIN};
    zloop_poller(self->loop, &litem, s_accept_event, self);
    zloop_timer(self->loop, 1000, 0, s_reap_timer, self);
    vl_log(LOG_NOTICE,
           "listening on %s (port %d), advertised as %s:%d, node id %d; cluster %s; "
           "auto-create %s (%d partitions, %u log streams, replication factor %d)",
           self->opts.listen, self->port, self->adv_host, self->adv_port, self->opts.node_id,
           self->opts.mr, self->opts.no_auto_create ? "off" : "on", self->opts.partitions,
           self->opts.log_streams, self->opts.replication);
    return self;
}

static void s_self_destroy(vl_kserver_t **self_p)
{
    vl_kserver_t *self = *self_p;
    if (!self)
        return;
    for (size_t fd = 0; fd < self->nconns_cap; fd++)
        if (self->conns[fd])
            s_conn_close(self->conns[fd], "gateway stopping");
    /* leave first: the others take this gateway's partitions at once */
    vl_kgw_stop(&self->gw);
    /* no callback comes once the data path is stopped: free what the
       pending requests' handlers own */
    vl_kparts_destroy(&self->parts);
    vl_kcoord_stop(self);
    while (self->reqs) {
        vl_kreq_t *req = self->reqs;
        if (req->ctx && req->ctx_free)
            req->ctx_free(req->ctx);
        s_req_free(req);
    }
    s_reap(self);
    vl_client_destroy(&self->client);
    zloop_destroy(&self->loop);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    free(self->conns);
    free(self->adv_host);
    free((char *)self->opts.listen);
    free((char *)self->opts.advertise);
    free((char *)self->opts.mr);
    free(self);
    *self_p = NULL;
}

void vl_kserver_actor(zsock_t *pipe, void *opts)
{
    vl_kserver_t *self = s_self_new(pipe, opts);
    zsock_signal(pipe, 0);
    /* zloop_start returns -1 on $TERM, 0 when a signal interrupted the
       poll: the process decides when we stop, not a signal */
    while (!self->terminated)
        if (zloop_start(self->loop) == 0)
            zclock_sleep(1);
    s_self_destroy(&self);
}
