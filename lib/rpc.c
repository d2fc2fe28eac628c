/*  rpc.c - blocking request/reply over DEALER with request ids.

    A timed-out call recreates the socket: ZeroMQ would otherwise keep the
    request queued and deliver it when the peer comes back, long after the
    caller gave up (a delayed CREATE_TOPIC would surprise everyone).
*/
#include <string.h>
#include "rpc.h"
#include "util.h"

struct vl_rpc {
    char *endpoints;
    zsock_t *sock;
    uint64_t next_id;
};

static zsock_t *s_connect(const char *endpoints)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    char *copy = vl_strdup(endpoints);
    char *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r(copy, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        if (zsock_connect(sock, "%s", ep) != 0)
            rc = -1;
    free(copy);
    if (rc != 0)
        zsock_destroy(&sock);
    return sock;
}

vl_rpc_t *vl_rpc_new(const char *endpoints, char *errbuf, size_t errbuf_size)
{
    zsock_t *sock = s_connect(endpoints);
    if (!sock) {
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "cannot connect to '%s': not a valid ZeroMQ endpoint "
                     "(expected tcp://HOST:PORT[,tcp://HOST:PORT...])",
                     endpoints);
        return NULL;
    }
    vl_rpc_t *self = vl_calloc(1, sizeof *self);
    self->endpoints = vl_strdup(endpoints);
    self->sock = sock;
    self->next_id = ((uint64_t)getpid() << 32) | 1;
    return self;
}

void vl_rpc_destroy(vl_rpc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_rpc_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->endpoints);
    free(self);
    *self_p = NULL;
}

const char *vl_rpc_endpoints(vl_rpc_t *self)
{
    return self->endpoints;
}

int vl_rpc_call(vl_rpc_t *self, uint16_t type, const vl_wbuf_t *body, int timeout_ms,
                zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody, char *errbuf,
                size_t errbuf_size)
{
    *reply_p = NULL;
    vl_hdr_t req = {.type = type, .request_id = self->next_id++};
    zmsg_t *msg = vl_wire_msg(&req, body);
    if (zmsg_send(&msg, self->sock) != 0) {
        zmsg_destroy(&msg);
        if (errbuf)
            snprintf(errbuf, errbuf_size, "%s: cannot send to %s", vl_wire_type_name(type),
                     self->endpoints);
        return VL_EIO;
    }
    int64_t deadline = zclock_mono() + timeout_ms;
    zpoller_t *poller = zpoller_new(self->sock, NULL);
    int rc = VL_ETIMEDOUT;
    for (;;) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        if (!zpoller_wait(poller, (int)left))
            break;
        zmsg_t *reply = zmsg_recv(self->sock);
        if (!reply)
            break;
        int prc = vl_wire_parse(reply, hdr, rbody);
        if (prc == VL_EVERSION && hdr->request_id == req.request_id) {
            /* the daemon's answer (its VL_EVERSION refusal of our request)
               in another version of the protocol: say so rather than wait */
            const uint8_t *h = zframe_data(zmsg_first(reply));
            if (errbuf)
                snprintf(errbuf, errbuf_size,
                         "%s: %s speaks varlog wire protocol version %u, this program version "
                         "%u; run the same varlog version on every node and client",
                         vl_wire_type_name(type), self->endpoints, vl_get_le16(h + 4),
                         VL_WIRE_VERSION);
            rc = VL_EVERSION;
            zmsg_destroy(&reply);
            break;
        }
        if (prc != 0 || hdr->request_id != req.request_id ||
            (hdr->type & ~VL_MSG_REPLY) != type) {
            zmsg_destroy(&reply); /* stale or garbage: keep waiting */
            continue;
        }
        if (hdr->status != 0) {
            if (errbuf)
                vl_wire_errtext(rbody, errbuf, errbuf_size);
            rc = (int)hdr->status;
            zmsg_destroy(&reply);
        } else {
            *reply_p = reply;
            rc = 0;
        }
        break;
    }
    zpoller_destroy(&poller);
    if (rc == VL_ETIMEDOUT) {
        if (errbuf)
            snprintf(errbuf, errbuf_size,
                     "%s: no reply from %s within %d ms; is the daemon running?",
                     vl_wire_type_name(type), self->endpoints, timeout_ms);
        zsock_destroy(&self->sock);
        self->sock = s_connect(self->endpoints);
    }
    return rc;
}
