/*  subscriber.c - reading a topic in GLSN order: one SUBSCRIBE stream per
    log stream, merged by GLSN.

    The subscriber has no thread of its own: vl_subscriber_next polls the
    streams' sockets itself until the merge can deliver the next GLSN. GLSNs
    are dense, so the merge (vl_merge_*) knows which GLSN comes next and
    delivers it as soon as it heads one stream's queue; nothing needs to be
    known about the other streams. The client alone decides the end of a
    bounded range (next == end) and then cancels the streams: a log stream
    with no entries past the range never ends its stream by itself.

    Flow control: each stream starts with SUB_CREDIT_INITIAL credit (data
    messages the SN may send) and is granted more as its messages are
    consumed, so the memory a slow reader holds is bounded by
    streams x credit x message size. Entries point into the received
    message's one payload frame (no copy); a message (a merge chunk) is
    released when its last entry was delivered and the caller came back
    for the next one.

    Liveness: while the merge waits for a GLSN for more than a second, the
    subscriber refreshes the metadata at most once a second (new log streams
    get a stream; the high watermark tells whether the wanted GLSN exists).
    A stream (re)subscribes on the first replica, in replica order from the
    one it used, whose node the MR heard from lately (META's alive flags).
    A stream that stays silent for SUB_FAILOVER_MS (or the client timeout,
    if shorter) while a committed GLSN is missing is resubscribed on the
    next replica, from where it stopped (this also covers a storage node
    that restarted and forgot the subscription), well before a reader that
    waits the client timeout gives up. Every stream tells its SN it is alive with a
    SUB_CREDIT(0) when nothing was sent on it for SUB_KEEPALIVE_MS (checked
    in vl_subscriber_next): an SN drops a subscription it has not heard of
    for 30 s, since one with no credit or on an idle log stream never finds
    out otherwise that its client is gone.
*/
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "curve.h"
#include "client_i.h"
#include "merge.h"
#include "subscriber_i.h"
#include "util.h"

/*  ---- subscriber ----------------------------------------------------------- */

#define SUB_CREDIT_INITIAL 16
#define SUB_CREDIT_BATCH 4  /* grant credit back this many at a time */
#define SUB_REFRESH_MS 1000 /* metadata refresh while stalled */
#define SUB_TICK_MS 250     /* housekeeping granularity while waiting */
#define SUB_MAX_LS 4096
#define SUB_KEEPALIVE_MS 5000 /* SUB_CREDIT(0) on a stream silent this long */
#define SUB_FAILOVER_MS 1000  /* a stream silent this long while stalled moves on */

typedef struct {
    vl_route_ls_t route;
    uint32_t rep; /* replica in use */
    zsock_t *sock;
    uint64_t request_id;
    uint32_t gen;    /* bumped on every (re)subscription */
    size_t src;      /* merge source */
    int credit_owed; /* consumed messages not yet granted back */
    int64_t last_rx; /* ms, last message or (re)subscription */
    int64_t last_tx; /* ms, last request sent on it */
    bool ended;
} s_stream_t;

/*  A received data message; the merge owns it until its entries are
    consumed. */
typedef struct {
    zmsg_t *msg;
    size_t stream;
    uint32_t gen;
} s_owner_t;

struct vl_subscriber {
    vl_client_t *client;
    char topic[VL_WIRE_MAX_NAME + 1];
    uint32_t topic_id, cluster_id;
    uint64_t begin, end;
    int timeout_ms;
    bool locked; /* the caller holds the client's lock (vl_trim) */
    vl_merge_t *merge;
    s_stream_t *streams;
    size_t nstreams;
    uint64_t next_id;
    uint64_t known_hwm;
    int64_t stall_since; /* ms; 0 while not waiting */
    int64_t last_refresh;
    int64_t last_keepalive; /* ms, last scan for streams due a keepalive */
    int rc;                 /* sticky: the stream failed or ended */
    char errmsg[VL_CLIENT_ERRMSG_SIZE];
};

static int s_fail(vl_subscriber_t *self, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  Makes rc sticky with its message and records it for vl_client_errmsg. */
static int s_fail(vl_subscriber_t *self, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->errmsg, sizeof self->errmsg, fmt, ap);
    va_end(ap);
    self->rc = rc;
    return vl_client_fail(self->client, rc, "%s", self->errmsg);
}

static void s_send(vl_subscriber_t *self, s_stream_t *st, uint16_t type, const vl_wbuf_t *body)
{
    if (!st->sock)
        return;
    vl_hdr_t hdr = {.type = type, .request_id = st->request_id, .cluster_id = self->cluster_id};
    zmsg_t *msg = vl_wire_msg(&hdr, body);
    st->last_tx = zclock_mono();
    if (zmsg_send(&msg, st->sock) != 0)
        zmsg_destroy(&msg); /* the stream will look silent and fail over */
}

/*  SUB_CREDIT(0) on every open stream that sent nothing for
    SUB_KEEPALIVE_MS, so its SN keeps the subscription; scans at most once
    a second. */
static void s_keepalive(vl_subscriber_t *self, int64_t now)
{
    if (now - self->last_keepalive < 1000)
        return;
    self->last_keepalive = now;
    for (size_t i = 0; i < self->nstreams; i++) {
        s_stream_t *st = &self->streams[i];
        if (!st->sock || st->ended || now - st->last_tx < SUB_KEEPALIVE_MS)
            continue;
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_wbuf_u32(&b, 0);
        s_send(self, st, VL_MSG_SUB_CREDIT, &b);
        vl_wbuf_free(&b);
    }
}

static void s_release(void *arg, void *owner)
{
    vl_subscriber_t *self = arg;
    s_owner_t *o = owner;
    zmsg_destroy(&o->msg);
    if (o->stream < self->nstreams) {
        s_stream_t *st = &self->streams[o->stream];
        if (st->gen == o->gen && !st->ended && ++st->credit_owed >= SUB_CREDIT_BATCH) {
            vl_wbuf_t b;
            vl_wbuf_init(&b);
            vl_wbuf_u32(&b, (uint32_t)st->credit_owed);
            s_send(self, st, VL_MSG_SUB_CREDIT, &b);
            vl_wbuf_free(&b);
            st->credit_owed = 0;
        }
    }
    free(o);
}

static void s_cancel(vl_subscriber_t *self, s_stream_t *st)
{
    if (st->sock && !st->ended)
        s_send(self, st, VL_MSG_SUB_CANCEL, NULL);
    zsock_destroy(&st->sock);
}

/*  (Re)subscribes st on replica st->rep from where its merge source
    stopped. */
static void s_subscribe(vl_subscriber_t *self, s_stream_t *st)
{
    s_cancel(self, st);
    st->gen++;
    st->credit_owed = 0;
    st->last_rx = zclock_mono();
    st->request_id = self->next_id++;
    /* from st->rep on, the first replica whose node the MR heard from
       lately (all of them when it knows of none) */
    for (uint32_t k = 0; k < st->route.nrep; k++) {
        uint32_t r = (st->rep + k) % st->route.nrep;
        if (st->route.alive[r]) {
            st->rep = r;
            break;
        }
    }
    const char *addr = st->route.nrep ? st->route.addr[st->rep % st->route.nrep] : "";
    if (!*addr)
        return; /* no address: stays silent, the next failover tries another */
    st->sock = zsock_new(ZMQ_DEALER);
    if (!st->sock)
        return;
    /* long enough for a SUB_CANCEL to leave when the stream is closed */
    zsock_set_linger(st->sock, 100);
    vl_curve_client(st->sock);
    if (zsock_connect(st->sock, "%s", addr) != 0) {
        zsock_destroy(&st->sock);
        return;
    }
    vl_subscribe_t q = {.topic_id = self->topic_id,
                        .ls_id = st->route.id,
                        .glsn_begin = vl_merge_resume(self->merge, st->src),
                        .glsn_end = self->end,
                        .credit = SUB_CREDIT_INITIAL};
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_subscribe_encode(&q, &b);
    s_send(self, st, VL_MSG_SUBSCRIBE, &b);
    vl_wbuf_free(&b);
}

static void s_stream_add(vl_subscriber_t *self, const vl_route_ls_t *route)
{
    self->streams = vl_realloc(self->streams, (self->nstreams + 1) * sizeof *self->streams);
    s_stream_t *st = &self->streams[self->nstreams++];
    memset(st, 0, sizeof *st);
    st->route = *route;
    st->src = vl_merge_add_source(self->merge);
    s_subscribe(self, st);
}

static s_stream_t *s_stream_find(vl_subscriber_t *self, uint32_t ls_id)
{
    for (size_t i = 0; i < self->nstreams; i++)
        if (self->streams[i].route.id == ls_id)
            return &self->streams[i];
    return NULL;
}

/*  A fresh snapshot of topic's routes, taking the client's lock unless the
    caller holds it. */
static int s_route(vl_client_t *client, const char *topic, bool locked, vl_route_t *route)
{
    if (locked)
        return vl_client_route_locked(client, topic, true, "subscribe", route);
    return vl_client_route(client, topic, true, "subscribe", route);
}

int vl_subscribe(vl_client_t *client, const char *topic, uint64_t glsn_begin, uint64_t glsn_end,
                 vl_subscriber_t **sub_p)
{
    return vl_subscriber_open(client, topic, glsn_begin, glsn_end, false, sub_p);
}

int vl_subscriber_open(vl_client_t *client, const char *topic, uint64_t glsn_begin,
                       uint64_t glsn_end, bool locked, vl_subscriber_t **sub_p)
{
    *sub_p = NULL;
    vl_route_t route;
    int rc = s_route(client, topic, locked, &route);
    if (rc != 0)
        return rc;
    if (glsn_begin == 0)
        glsn_begin = route.trim_glsn ? route.trim_glsn : 1;
    if (glsn_begin < route.trim_glsn) {
        rc = vl_client_fail(client, VL_ETRIMMED,
                            "subscribe topic=%s: GLSN %llu is trimmed; the log starts at GLSN "
                            "%llu",
                            topic, (unsigned long long)glsn_begin,
                            (unsigned long long)route.trim_glsn);
        goto out;
    }
    if (glsn_end == 0)
        glsn_end = route.hwm + 1;
    else if (glsn_end < glsn_begin) {
        rc = vl_client_fail(client, VL_EINVAL,
                            "subscribe topic=%s: empty range [%llu, %llu): the end is before "
                            "the beginning",
                            topic, (unsigned long long)glsn_begin, (unsigned long long)glsn_end);
        goto out;
    }
    vl_subscriber_t *self = vl_calloc(1, sizeof *self);
    self->client = client;
    snprintf(self->topic, sizeof self->topic, "%s", topic);
    self->topic_id = route.topic_id;
    self->cluster_id = route.cluster_id;
    self->begin = glsn_begin;
    self->end = glsn_end < glsn_begin ? glsn_begin : glsn_end;
    self->timeout_ms = client->timeout_ms;
    self->locked = locked;
    self->merge = vl_merge_new(self->begin, self->end, s_release, self);
    self->next_id = ((uint64_t)getpid() << 32) | 1;
    self->known_hwm = route.hwm;
    self->last_refresh = zclock_mono();
    if (self->begin < self->end)
        for (uint32_t i = 0; i < route.nls && i < SUB_MAX_LS; i++)
            if (route.ls[i].state != VL_LS_DELETED)
                s_stream_add(self, &route.ls[i]);
    *sub_p = self;
out:
    vl_route_free(&route);
    return rc;
}

void vl_subscriber_destroy(vl_subscriber_t **sub_p)
{
    if (!sub_p || !*sub_p)
        return;
    vl_subscriber_t *self = *sub_p;
    for (size_t i = 0; i < self->nstreams; i++)
        s_cancel(self, &self->streams[i]);
    /* the merge releases its messages through s_release: no more credit
       goes out because every socket is closed */
    vl_merge_destroy(&self->merge);
    free(self->streams);
    free(self);
    *sub_p = NULL;
}

/*  Handles one message of stream i. Returns 0 or a sticky error. */
static int s_stream_recv(vl_subscriber_t *self, size_t i, zmsg_t *msg)
{
    s_stream_t *st = &self->streams[i];
    const char *addr = st->route.addr[st->rep % (st->route.nrep ? st->route.nrep : 1)];
    vl_hdr_t hdr;
    vl_rbuf_t body;
    if (vl_wire_parse(msg, &hdr, &body) != 0) {
        zmsg_destroy(&msg);
        return s_fail(self, VL_EPROTO,
                      "subscribe topic=%s ls=%u: malformed message from %s; is it a varlogsn "
                      "of the same version?",
                      self->topic, st->route.id, addr);
    }
    if (hdr.type != (VL_MSG_SUBSCRIBE | VL_MSG_REPLY) || hdr.request_id != st->request_id) {
        zmsg_destroy(&msg); /* an earlier subscription of this stream */
        return 0;
    }
    st->last_rx = zclock_mono();
    if (hdr.status != 0) {
        char text[512];
        vl_wire_errtext(&body, text, sizeof text);
        zmsg_destroy(&msg);
        st->ended = true;
        return s_fail(self, (int)hdr.status, "subscribe topic=%s ls=%u (%s): %s", self->topic,
                      st->route.id, addr, text);
    }
    vl_sub_data_t d;
    zframe_t *payload = NULL;
    char why[160] = "";
    bool ok = vl_sub_data_decode(&body, &d) == 0;
    if (ok) {
        uint64_t sum = 0;
        for (uint32_t k = 0; k < d.n; k++)
            sum += d.entries[k].size;
        ok = vl_wire_payload(msg, d.n, sum, &payload, why, sizeof why) == 0;
    }
    if (!ok) {
        if (d.entries)
            vl_sub_data_free(&d);
        zmsg_destroy(&msg);
        return s_fail(self, VL_EPROTO,
                      "subscribe topic=%s ls=%u: malformed data message from %s (%s)", self->topic,
                      st->route.id, addr, why[0] ? why : "entry count and frames disagree");
    }
    vl_merge_item_t *items = vl_calloc(d.n ? d.n : 1, sizeof *items);
    const uint8_t *p = payload ? zframe_data(payload) : NULL;
    for (uint32_t k = 0; k < d.n; k++) {
        items[k] = (vl_merge_item_t){.glsn = d.entries[k].glsn,
                                     .llsn = d.entries[k].llsn,
                                     .offset = d.entries[k].offset,
                                     .data = p,
                                     .size = d.entries[k].size};
        p += d.entries[k].size;
    }
    bool last = d.last;
    size_t n = d.n;
    vl_sub_data_free(&d);
    s_owner_t *o = vl_malloc(sizeof *o);
    *o = (s_owner_t){.msg = msg, .stream = i, .gen = st->gen};
    int rc = vl_merge_push(self->merge, st->src, items, n, o);
    free(items);
    st = &self->streams[i]; /* s_release may not move it, but be plain */
    if (rc != 0)
        return s_fail(self, rc, "subscribe topic=%s ls=%u (%s): %s", self->topic, st->route.id,
                      addr, vl_merge_errmsg(self->merge));
    if (last) {
        st->ended = true;
        vl_merge_end_source(self->merge, st->src);
    }
    return 0;
}

/*  While stalled: refresh the metadata now and then (new log streams, the
    high watermark, a deleted topic) and move silent streams to another
    replica when the GLSN we wait for is known to be committed. */
static int s_housekeeping(vl_subscriber_t *self, int64_t now)
{
    if (now - self->stall_since >= SUB_REFRESH_MS && now - self->last_refresh >= SUB_REFRESH_MS) {
        self->last_refresh = now;
        vl_route_t route;
        int rc = s_route(self->client, self->topic, self->locked, &route);
        if (rc == VL_ENOTOPIC || (rc == 0 && route.topic_id != self->topic_id)) {
            if (rc == 0)
                vl_route_free(&route);
            return s_fail(self, VL_ENOTOPIC, "subscribe topic=%s: the topic was deleted",
                          self->topic);
        }
        if (rc == 0) {
            /* entries below the trim point are gone for good */
            if (vl_merge_next(self->merge) < route.trim_glsn) {
                uint64_t next = vl_merge_next(self->merge);
                uint64_t trim = route.trim_glsn;
                vl_route_free(&route);
                return s_fail(self, VL_ETRIMMED,
                              "subscribe topic=%s: GLSN %llu is trimmed; the log starts at "
                              "GLSN %llu",
                              self->topic, (unsigned long long)next, (unsigned long long)trim);
            }
            self->known_hwm = route.hwm;
            for (uint32_t i = 0; i < route.nls; i++) {
                s_stream_t *st = s_stream_find(self, route.ls[i].id);
                if (st) {
                    /* replicas may have moved (recover) */
                    uint32_t rep = st->rep;
                    st->route = route.ls[i];
                    st->rep = rep;
                } else if (route.ls[i].state != VL_LS_DELETED && self->nstreams < SUB_MAX_LS) {
                    s_stream_add(self, &route.ls[i]);
                }
            }
            vl_route_free(&route);
        }
        /* a failed refresh is not the stream's failure: try again later */
    }
    /* well within the caller's timeout, so that a dead replica costs a
       reader a second, not its whole patience */
    int64_t failover_ms = self->timeout_ms < SUB_FAILOVER_MS ? self->timeout_ms : SUB_FAILOVER_MS;
    uint64_t next = vl_merge_next(self->merge);
    if (next <= self->known_hwm && now - self->stall_since >= failover_ms)
        for (size_t i = 0; i < self->nstreams; i++) {
            s_stream_t *st = &self->streams[i];
            if (st->ended || vl_merge_queued(self->merge, st->src) > 0 ||
                now - st->last_rx < failover_ms)
                continue;
            st->rep++;
            s_subscribe(self, st);
        }
    return 0;
}

/*  The next entry, if the merge has it: 0 with *ready true and entry
    filled, or 0 with *ready false (wait for more); VL_EEOF after the last
    entry of the range (every stream cancelled) or the merge's error, made
    sticky. */
static int s_pop(vl_subscriber_t *self, vl_entry_t *entry, bool *ready, size_t max_bytes,
                 size_t *count)
{
    vl_merge_item_t it;
    size_t src;
    int rc = vl_merge_pop_run(self->merge, &it, &src, ready, max_bytes, count);
    if (rc == VL_EEOF) {
        for (size_t i = 0; i < self->nstreams; i++)
            s_cancel(self, &self->streams[i]);
        return s_fail(self, VL_EEOF, "subscribe topic=%s: end of the range [%llu, %llu)",
                      self->topic, (unsigned long long)self->begin, (unsigned long long)self->end);
    }
    if (rc != 0)
        return s_fail(self, rc, "subscribe topic=%s: %s", self->topic,
                      vl_merge_errmsg(self->merge));
    if (*ready) {
        s_stream_t *st = NULL;
        for (size_t i = 0; i < self->nstreams && !st; i++)
            if (self->streams[i].src == src)
                st = &self->streams[i];
        *entry = (vl_entry_t){.glsn = it.glsn,
                              .llsn = it.llsn,
                              .ls_id = st ? st->route.id : 0,
                              .offset = it.offset,
                              .data = it.data,
                              .size = it.size};
        self->stall_since = 0;
    }
    return 0;
}

/*  Waits at most wait ms for messages on the streams' sockets and handles
    what came. *items and *which (items[k] polls streams[which[k]]) are the
    caller's poll set, grown here to *cap. Returns 0, a sticky error, or
    VL_ETIMEDOUT when a signal interrupted the wait and zsys_interrupted is
    set. */
static int s_poll(vl_subscriber_t *self, zmq_pollitem_t **items_p, size_t **which_p, size_t *cap,
                  long wait)
{
    int rc = 0;
    if (*cap < self->nstreams) {
        *cap = self->nstreams;
        *items_p = vl_realloc(*items_p, *cap * sizeof **items_p);
        *which_p = vl_realloc(*which_p, *cap * sizeof **which_p);
    }
    zmq_pollitem_t *items = *items_p;
    size_t *which = *which_p;
    int npoll = 0;
    for (size_t i = 0; i < self->nstreams; i++)
        if (self->streams[i].sock) {
            items[npoll] = (zmq_pollitem_t){.socket = zsock_resolve(self->streams[i].sock),
                                            .events = ZMQ_POLLIN};
            which[npoll++] = i;
        }
    if (zmq_poll(items, npoll, wait) < 0) {
        if (errno == EINTR && zsys_interrupted)
            return vl_client_fail(self->client, VL_ETIMEDOUT, "subscribe topic=%s: interrupted",
                                  self->topic);
        return 0;
    }
    for (int k = 0; k < npoll && rc == 0; k++) {
        if (!(items[k].revents & ZMQ_POLLIN))
            continue;
        size_t i = which[k];
        /* drain what is there; credit bounds how much that can be */
        for (int m = 0; m < 64 && rc == 0 && self->streams[i].sock &&
                        (zsock_events(self->streams[i].sock) & ZMQ_POLLIN);
             m++) {
            zmsg_t *msg = zmsg_recv(self->streams[i].sock);
            if (msg)
                rc = s_stream_recv(self, i, msg);
        }
    }
    return rc;
}

int vl_subscriber_next(vl_subscriber_t *self, vl_entry_t *entry, int timeout_ms)
{
    size_t count;
    return vl_subscriber_next_run(self, entry, timeout_ms, 0, &count);
}

int vl_subscriber_next_run(vl_subscriber_t *self, vl_entry_t *entry, int timeout_ms,
                           size_t max_bytes, size_t *count)
{
    *count = 0;
    if (self->rc != 0)
        return vl_client_fail(self->client, self->rc, "%s", self->errmsg);
    int64_t deadline = 0; /* set when the first wait starts: none per entry */
    bool timed = false;
    zmq_pollitem_t *items = NULL;
    size_t *which = NULL; /* items[k] polls streams[which[k]] */
    size_t cap = 0;
    bool polled = false;
    int rc = 0;
    /* the coarse clock: a precise one per entry cost a quarter of a fast
       reader's time */
    s_keepalive(self, vl_now_coarse_ms());
    for (;;) {
        bool ready;
        if ((rc = s_pop(self, entry, &ready, max_bytes, count)) != 0 || ready)
            break;
        int64_t now = zclock_mono();
        if (!timed) {
            deadline = timeout_ms < 0 ? -1 : now + timeout_ms;
            timed = true;
        }
        if (!self->stall_since)
            self->stall_since = now;
        s_keepalive(self, now);
        if ((rc = s_housekeeping(self, now)) != 0)
            break;
        long wait = SUB_TICK_MS;
        if (deadline >= 0) {
            if (now >= deadline && polled) {
                rc = vl_client_fail(self->client, VL_ETIMEDOUT,
                                    "subscribe topic=%s: GLSN %llu did not arrive within %d ms",
                                    self->topic, (unsigned long long)vl_merge_next(self->merge),
                                    timeout_ms);
                break;
            }
            if (deadline - now < wait)
                wait = deadline > now ? (long)(deadline - now) : 0;
        }
        polled = true;
        if ((rc = s_poll(self, &items, &which, &cap, wait)) != 0)
            break;
    }
    free(which);
    free(items);
    return rc;
}
