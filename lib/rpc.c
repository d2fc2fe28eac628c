/*  rpc.c - blocking request/reply over one DEALER with request ids, to the
    endpoint a vl_mrconn_t names (one endpoint of its list at a time).

    A call ends without an answer by recreating the socket: ZeroMQ would
    otherwise keep the request queued and deliver it when the peer comes
    back, long after the caller gave up (a delayed CREATE_TOPIC would
    surprise everyone).

    Finding the metadata repository's leader (mrconn.h). Within the
    caller's timeout a call
    - follows a VL_ENOTLEADER hint to the leader and sends the request
      again (at most 2 x endpoints + 2 such redirects: replicas that name
      each other during a change of leader must not bounce it for ever);
    - on a VL_ENOTLEADER without a hint moves to the next endpoint, and
      waits VL_MRCONN_PAUSE_MS each time every endpoint has refused so
      (an election is under way);
    - on VL_MRCONN_SILENT_MS of silence moves to the next endpoint and
      sends again, but only a request vl_mrconn_resendable allows;
    - the same for such a request at once when the connection drops or
      is refused (the replica's process died: its kernel closes the
      connection, and the DEALER's monitor says so): the endpoint is noted
      gone (vl_mrconn_gone) and VL_MRCONN_PAUSE_MS pass each time every
      endpoint dropped so, so that a group that is all down is not dialled
      in a spin.
    With a list of one endpoint none of this happens unless the endpoint
    refuses: the call waits for its answer the whole timeout.

    A refusal is always safe to follow: a follower does nothing but refuse.
    Silence is not: the silent replica may be a leader that applied the
    request and died before answering, or a live leader that is slow. What
    the MR does with a repeated request (mr/admin.c, mr/state.c):
    - CREATE_TOPIC of a name that exists: VL_EEXIST; ADD_SN of a
      registered address: VL_EEXIST; DELETE_TOPIC of a deleted topic:
      VL_ENOTOPIC; REMOVE_SN of a removed node: VL_ENOSN; UPDATE_LS done
      already: VL_ENOSN (sn_from is no replica any more). Each would tell a
      user whose request succeeded that it failed, and a repeated
      DELETE_TOPIC could delete a new topic of the same name;
    - ADD_LS: a second log stream, a change the user never asked for;
    - TRIM, SEAL and UNSEAL repeated change nothing and answer as the
      first did; reads change nothing.
    So a request that may not be repeated is never sent after silence.
    Before it is sent, when the list leaves a choice, a PING (resendable,
    refused by followers like every request) finds a replica that answers,
    following the same rules; the request then goes there once. What a user
    sees:
    - the PING finds no replica in time: VL_ETIMEDOUT (all silent) or
      VL_ENOTLEADER (some refused), "... not sent: ...": nothing happened;
    - the request is refused (leadership moved since the PING): the hint
      is followed as for any request: the user sees the answer;
    - the request meets silence: the call waits for that replica's answer
      until the timeout, then VL_ETIMEDOUT, "... it may still take effect:
      check before repeating it" (the replica may have applied it);
    - a resendable request meets silence everywhere: VL_ETIMEDOUT naming
      every endpoint tried; some refused and none led: VL_ENOTLEADER,
      naming each endpoint and what it said.
*/
#include <string.h>
#include "curve.h"
#include "mrconn.h"
#include "rpc.h"
#include "util.h"

/*  How a call ended without an answer (internal, below 0), or
    S_RELOCATE: a request that may not be repeated was refused, so the
    replica to send it to is to be found again. */
enum { S_SILENCE = -1, S_NOLEADER = -2, S_LOOP = -3, S_RELOCATE = -4 };

/*  One call: what the endpoints tried did (for the error message), and
    the redirects and refusals so far. */
enum { S_SILENT = 1, S_REFUSED, S_NOCONNECT, S_DROPPED };
#define S_TRACE_MAX (VL_MRCONN_MAX + 4)
typedef struct {
    size_t n;
    bool refused; /* one of them answered VL_ENOTLEADER */
    struct {
        char ep[VL_WIRE_MAX_ADDR + 1];
        int what;
        char leader[VL_WIRE_MAX_ADDR + 1];
    } at[S_TRACE_MAX];
    size_t last;       /* the entry noted last */
    int redirects;     /* hints followed */
    unsigned refusals; /* refusals without a hint */
    unsigned drops;    /* connections dropped or refused */
    int64_t deadline;
} s_trace_t;

struct vl_rpc {
    vl_mrconn_t *conn;
    zsock_t *sock; /* connected to the current endpoint of sock_gen */
    zsock_t *mon;  /* PAIR: sock's DISCONNECTED and CONNECT_RETRIED events, or NULL */
    uint64_t sock_gen;
    uint64_t next_id;
};

/*  Watches sock's connection: a dropped or refused one ends the wait of a
    resendable request at once (s_wait). sock connects to one endpoint,
    so every event is about the current one. Without a monitor (it could
    not be made) only silence finds a dead replica. */
static void s_monitor(vl_rpc_t *self, zsock_t *sock)
{
    static uint64_t seq;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://vl-rpc-monitor-%d-%llu", (int)getpid(),
             (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    if (zmq_socket_monitor(zsock_resolve(sock), ep,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED) != 0)
        return;
    self->mon = zsock_new(ZMQ_PAIR);
    if (self->mon && zsock_connect(self->mon, "%s", ep) != 0)
        zsock_destroy(&self->mon);
}

/*  Closes the DEALER, and its monitor first: the monitor is stopped while
    its reading end is still open, since libzmq sends an event on a PAIR
    with no peer by blocking. Closing the DEALER with its monitor running
    and the PAIR gone left a socket's events with nowhere to go, and from
    then on closed sockets were never reaped: a client whose MR replicas
    did not answer (SIGSTOP, a cut link) gained three file descriptors a
    call until zsock_new failed and CZMQ aborted the process (varlogfs,
    after 4 minutes in chaos.sh). */
static void s_close(vl_rpc_t *self)
{
    if (self->mon && self->sock)
        zmq_socket_monitor(zsock_resolve(self->sock), NULL, 0);
    zsock_destroy(&self->sock);
    zsock_destroy(&self->mon);
}

/*  Drops the events the monitor queued (nothing is waited for). */
static void s_monitor_drain(vl_rpc_t *self)
{
    while (self->mon && (zsock_events(self->mon) & ZMQ_POLLIN)) {
        zmsg_t *ev = zmsg_recv(self->mon);
        if (!ev)
            break;
        zmsg_destroy(&ev);
    }
}

/*  (Re)makes the DEALER to the current endpoint. 0, or -1 when it cannot
    be connected. */
static int s_connect(vl_rpc_t *self)
{
    s_close(self);
    self->sock_gen = vl_mrconn_generation(self->conn);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return -1;
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    vl_curve_client(sock);
    if (zsock_connect(sock, "%s", vl_mrconn_current(self->conn)) != 0) {
        zsock_destroy(&sock);
        return -1;
    }
    self->sock = sock;
    /* a list of one never leaves its endpoint (s_exchange watches only
       when it can rotate), and with a monitor made on it anyway the ASan
       build's test_appender met a GET_META unanswered for its whole
       timeout about one run in ten (none in 30 without): no monitor then */
    if (vl_mrconn_can_rotate(self->conn))
        s_monitor(self, sock);
    return 0;
}

vl_rpc_t *vl_rpc_new(const char *endpoints, char *errbuf, size_t errbuf_size)
{
    vl_rpc_t *self = vl_calloc(1, sizeof *self);
    if (vl_mrconn_new(endpoints, &self->conn, errbuf, errbuf_size) != 0) {
        free(self);
        return NULL;
    }
    if (s_connect(self) != 0) {
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "cannot connect to '%s': not a valid ZeroMQ endpoint "
                     "(expected tcp://HOST:PORT[,tcp://HOST:PORT...])",
                     vl_mrconn_current(self->conn));
        vl_rpc_destroy(&self);
        return NULL;
    }
    self->next_id = ((uint64_t)getpid() << 32) | 1;
    return self;
}

void vl_rpc_destroy(vl_rpc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_rpc_t *self = *self_p;
    s_close(self);
    vl_mrconn_destroy(&self->conn);
    free(self);
    *self_p = NULL;
}

const char *vl_rpc_endpoints(vl_rpc_t *self)
{
    return vl_mrconn_list(self->conn);
}

const char *vl_rpc_current(vl_rpc_t *self)
{
    return vl_mrconn_current(self->conn);
}

vl_mrconn_t *vl_rpc_conn(vl_rpc_t *self)
{
    return self->conn;
}

/* ---- one call's trace --------------------------------------------------- */

static void s_trace_note(s_trace_t *tr, const char *ep, int what, const char *leader)
{
    size_t i = 0;
    while (i < tr->n && !streq(tr->at[i].ep, ep))
        i++;
    if (i == tr->n) {
        if (tr->n == S_TRACE_MAX)
            return;
        tr->n++;
        snprintf(tr->at[i].ep, sizeof tr->at[i].ep, "%s", ep);
    }
    tr->at[i].what = what;
    tr->last = i;
    snprintf(tr->at[i].leader, sizeof tr->at[i].leader, "%s", leader ? leader : "");
    if (what == S_REFUSED)
        tr->refused = true;
}

/*  "A, B" (with what each did when detail) into out. */
static void s_trace_text(const s_trace_t *tr, bool detail, char *out, size_t size)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < tr->n && off + 1 < size; i++) {
        const char *what = tr->at[i].what == S_SILENT      ? "no reply"
                           : tr->at[i].what == S_NOCONNECT ? "cannot connect"
                           : tr->at[i].what == S_DROPPED   ? "connection dropped or refused"
                           : tr->at[i].leader[0]           ? "not the leader; leader "
                                                           : "not the leader; leader unknown";
        int w = detail ? snprintf(out + off, size - off, "%s%s (%s%s)", i ? ", " : "", tr->at[i].ep,
                                  what, tr->at[i].leader)
                       : snprintf(out + off, size - off, "%s%s", i ? ", " : "", tr->at[i].ep);
        off += w > 0 ? (size_t)w : 0;
    }
}

/* ---- one request --------------------------------------------------------- */

/*  Waits until `until` for the reply to request id of type. 0 with
    *reply_p (any status), S_SILENCE, S_DROPPED (watch: the connection
    dropped or was refused), or VL_EVERSION (the peer's refusal in another
    protocol version, whose number goes to *version_p). */
static int s_wait(vl_rpc_t *self, uint16_t type, uint64_t id, int64_t until, bool watch,
                  zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody, unsigned *version_p)
{
    zsock_t *mon = watch ? self->mon : NULL;
    zpoller_t *poller = zpoller_new(self->sock, mon, NULL);
    int rc = S_SILENCE;
    for (;;) {
        int64_t left = until - zclock_mono();
        void *which = left > 0 ? zpoller_wait(poller, (int)left) : NULL;
        if (!which)
            break;
        if (which == mon) {
            s_monitor_drain(self);
            rc = S_DROPPED;
            break;
        }
        zmsg_t *reply = zmsg_recv(self->sock);
        if (!reply)
            break;
        int prc = vl_wire_parse(reply, hdr, rbody);
        if (prc == VL_EVERSION && hdr->request_id == id) {
            /* the daemon's answer (its VL_EVERSION refusal of our request)
               in another version of the protocol: say so rather than wait */
            *version_p = vl_get_le16((const uint8_t *)zframe_data(zmsg_first(reply)) + 4);
            zmsg_destroy(&reply);
            rc = VL_EVERSION;
            break;
        }
        if (prc != 0 || hdr->request_id != id || (hdr->type & ~VL_MSG_REPLY) != type) {
            zmsg_destroy(&reply); /* stale or garbage: keep waiting */
            continue;
        }
        *reply_p = reply;
        rc = 0;
        break;
    }
    zpoller_destroy(&poller);
    return rc;
}

/*  A refusal: follows its hint, or moves on (pausing once every endpoint
    refused). 0 to send again, S_LOOP or S_NOLEADER to give up. */
static int s_refused(vl_rpc_t *self, vl_rbuf_t *rbody, s_trace_t *tr)
{
    vl_notleader_t nl;
    if (vl_notleader_decode(rbody, &nl) != 0)
        nl.leader[0] = '\0';
    s_trace_note(tr, vl_mrconn_current(self->conn), S_REFUSED, nl.leader);
    if (vl_mrconn_hint(self->conn, nl.leader))
        return ++tr->redirects > 2 * (int)vl_mrconn_size(self->conn) + 2 ? S_LOOP : 0;
    bool moved = vl_mrconn_next(self->conn);
    if (!moved || ++tr->refusals % vl_mrconn_size(self->conn) == 0) {
        int64_t left = tr->deadline - zclock_mono();
        if (left <= 0)
            return S_NOLEADER;
        zclock_sleep((int)(left < VL_MRCONN_PAUSE_MS ? left : VL_MRCONN_PAUSE_MS));
    }
    return zclock_mono() < tr->deadline ? 0 : S_NOLEADER;
}

/*  Sends the request to the current endpoint, and again wherever the
    rules above lead, until an answer or the deadline; resend: also after
    silence (else a refusal returns S_RELOCATE once the next endpoint is
    chosen). Returns 0 with *reply_p, a reply's status (text in errbuf),
    VL_EIO or VL_EVERSION (text in errbuf), or S_SILENCE, S_NOLEADER,
    S_LOOP, S_RELOCATE. */
static int s_exchange(vl_rpc_t *self, uint16_t type, const vl_wbuf_t *body, bool resend,
                      s_trace_t *tr, zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody,
                      char *errbuf, size_t errbuf_size)
{
    int64_t deadline = tr->deadline;
    unsigned unconnected = 0;
    for (;;) {
        const char *ep = vl_mrconn_current(self->conn);
        if (!self->sock || self->sock_gen != vl_mrconn_generation(self->conn)) {
            if (s_connect(self) != 0) {
                s_trace_note(tr, ep, S_NOCONNECT, NULL);
                if (++unconnected > vl_mrconn_size(self->conn) || !vl_mrconn_next(self->conn)) {
                    if (errbuf)
                        snprintf(errbuf, errbuf_size, "%s: cannot connect to %s",
                                 vl_wire_type_name(type), ep);
                    return VL_EIO;
                }
                continue;
            }
        }
        s_monitor_drain(self); /* events of earlier calls are old news */
        vl_hdr_t req = {.type = type, .request_id = self->next_id++};
        zmsg_t *msg = vl_wire_msg(&req, body);
        /* A DEALER with no pipe to its peer blocks a send: after a CURVE
           handshake the server refused, libzmq may drop the pipe and not
           make another (a client without keys hung for minutes in
           curve.sh under ASan). So the send waits until the deadline at
           most, and not getting out counts as silence. */
        int64_t send_ms = deadline - zclock_mono();
        zsock_set_sndtimeo(self->sock, send_ms > 1 ? (int)send_ms : 1);
        if (zmsg_send(&msg, self->sock) != 0) {
            int err = zmq_errno();
            zmsg_destroy(&msg);
            if (err == EAGAIN) {
                s_trace_note(tr, ep, S_SILENT, NULL);
                if (zclock_mono() >= deadline)
                    return S_SILENCE;
                vl_mrconn_next(self->conn);
                continue;
            }
            if (errbuf)
                snprintf(errbuf, errbuf_size, "%s: cannot send to %s", vl_wire_type_name(type), ep);
            return VL_EIO;
        }
        int64_t until = deadline;
        if (resend && vl_mrconn_can_rotate(self->conn) &&
            zclock_mono() + VL_MRCONN_SILENT_MS < deadline)
            until = zclock_mono() + VL_MRCONN_SILENT_MS;
        unsigned version = 0;
        int rc = s_wait(self, type, req.request_id, until, until < deadline, reply_p, hdr, rbody,
                        &version);
        if (rc == VL_EVERSION) {
            if (errbuf)
                snprintf(errbuf, errbuf_size,
                         "%s: %s speaks varlog wire protocol version %u, this program version "
                         "%u; run the same varlog version on every node and client",
                         vl_wire_type_name(type), ep, version, VL_WIRE_VERSION);
            return rc;
        }
        if (rc == S_SILENCE) {
            s_trace_note(tr, ep, S_SILENT, NULL);
            if (zclock_mono() >= deadline)
                return S_SILENCE;
            vl_mrconn_next(self->conn); /* the silent one may be dead */
            continue;
        }
        if (rc == S_DROPPED) {
            s_trace_note(tr, ep, S_DROPPED, NULL);
            vl_mrconn_gone(self->conn, ep);
            vl_mrconn_next(self->conn);
            if (++tr->drops % vl_mrconn_size(self->conn) == 0) {
                int64_t left = deadline - zclock_mono();
                zclock_sleep((int)(left < VL_MRCONN_PAUSE_MS ? left : VL_MRCONN_PAUSE_MS));
            }
            if (zclock_mono() >= deadline)
                return S_SILENCE;
            continue;
        }
        if (hdr->status == VL_ENOTLEADER) {
            rc = s_refused(self, rbody, tr);
            zmsg_destroy(reply_p);
            if (rc != 0)
                return rc;
            if (!resend)
                return S_RELOCATE;
            continue;
        }
        if (hdr->status != 0) {
            if (errbuf)
                vl_wire_errtext(rbody, errbuf, errbuf_size);
            zmsg_destroy(reply_p);
            return (int)hdr->status;
        }
        return 0;
    }
}

/*  The error text and code of a call that got no answer (rc below 0). */
static int s_no_answer(vl_rpc_t *self, uint16_t type, int rc, bool sent, bool resend,
                       const s_trace_t *tr, int timeout_ms, char *errbuf, size_t errbuf_size)
{
    /* nothing stale may reach the next call; and it starts elsewhere when
       this endpoint was the silent one */
    s_close(self);
    if (rc == S_SILENCE)
        vl_mrconn_next(self->conn);
    char tried[2048];
    const char *tname = vl_wire_type_name(type);
    const char *not_sent = sent ? "" : " not sent";
    if (rc == S_SILENCE && sent && !resend) {
        /* it went to one replica, which may have applied it */
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "%s: no reply from %s within %d ms; is the daemon running? It may still "
                     "take effect: check before repeating it",
                     tname, tr->at[tr->last].ep, timeout_ms);
        return VL_ETIMEDOUT;
    }
    if (rc == S_SILENCE && !tr->refused) {
        s_trace_text(tr, false, tried, sizeof tried);
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "%s%s: no reply from %s within %d ms; is the daemon running?%s", tname,
                     not_sent, tried, timeout_ms, vl_curve_hint());
        return VL_ETIMEDOUT;
    }
    s_trace_text(tr, true, tried, sizeof tried);
    if (errbuf) {
        if (rc == S_LOOP)
            snprintf(errbuf, errbuf_size,
                     "%s%s: the metadata repository's replicas name each other as leader (%s); "
                     "a change of leader is under way: try again",
                     tname, not_sent, tried);
        else
            snprintf(errbuf, errbuf_size,
                     "%s%s: no leader among the metadata repository's replicas within %d ms: %s; "
                     "is a majority of them running?",
                     tname, not_sent, timeout_ms, tried);
    }
    return VL_ENOTLEADER;
}

int vl_rpc_call(vl_rpc_t *self, uint16_t type, const vl_wbuf_t *body, int timeout_ms,
                zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody, char *errbuf, size_t errbuf_size)
{
    *reply_p = NULL;
    s_trace_t tr;
    memset(&tr, 0, sizeof tr);
    tr.deadline = zclock_mono() + timeout_ms;
    bool resend = vl_mrconn_resendable(type);
    int rc;
    do {
        if (!resend && vl_mrconn_can_rotate(self->conn)) {
            /* a request that must not be repeated goes, once, to a
               replica that has just answered */
            rc = s_exchange(self, VL_MSG_PING, NULL, true, &tr, reply_p, hdr, rbody, errbuf,
                            errbuf_size);
            zmsg_destroy(reply_p);
            if (rc < 0)
                return s_no_answer(self, type, rc, false, resend, &tr, timeout_ms, errbuf,
                                   errbuf_size);
            if (rc == VL_EIO || rc == VL_EVERSION)
                return rc;
            /* any other answer: that replica is alive and does not refuse */
            if (errbuf && errbuf_size)
                errbuf[0] = '\0';
        }
        rc = s_exchange(self, type, body, resend, &tr, reply_p, hdr, rbody, errbuf, errbuf_size);
    } while (rc == S_RELOCATE);
    if (rc < 0)
        return s_no_answer(self, type, rc, true, resend, &tr, timeout_ms, errbuf, errbuf_size);
    return rc;
}
