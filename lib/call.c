/*  call.c - the client's blocking calls to storage nodes (vl_append,
    vl_lookup_offset), on one cached DEALER per node address, under the
    client's lock.

    Blocking calls to storage nodes match replies by request id and drop
    everything else: a reply to an earlier call that timed out arrives on
    the same socket and must not be taken for the current one. A timed-out
    socket is closed, so that ZeroMQ does not deliver a queued request to a
    node that comes back long after the caller gave up.
*/
#include "curve.h"
#include "call.h"
#include "util.h"

static zsock_t *s_sn_sock(vl_client_t *c, const char *addr)
{
    zsock_t *sock = zhashx_lookup(c->sns, addr);
    if (sock)
        return sock;
    sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 0);
    vl_curve_client(sock);
    if (zsock_connect(sock, "%s", addr) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    zhashx_insert(c->sns, addr, sock);
    return sock;
}

int vl_call_send(vl_client_t *c, vl_call_t *call, uint16_t type, const vl_wbuf_t *body,
                 zmsg_t *payload)
{
    call->sock = s_sn_sock(c, call->addr);
    if (!call->sock) {
        zmsg_destroy(&payload);
        return VL_EINVAL;
    }
    call->type = type;
    call->request_id = c->next_id++;
    vl_hdr_t hdr = {.type = type,
                    .request_id = call->request_id,
                    .cluster_id = c->meta_valid ? c->meta.cluster_id : 0};
    zmsg_t *msg = vl_wire_msg(&hdr, body);
    if (payload) {
        zframe_t *f;
        while ((f = zmsg_pop(payload)))
            zmsg_append(msg, &f);
        zmsg_destroy(&payload);
    }
    if (zmsg_send(&msg, call->sock) != 0) {
        zmsg_destroy(&msg);
        return VL_EIO;
    }
    return 0;
}

/*  Waits until every call is done, or (stop_on_found) one LOOKUP reply says
    found, or timeout_ms. Returns 0 or VL_ETIMEDOUT; on VL_ETIMEDOUT with
    drop, the sockets of unanswered calls go with whatever they queued. */
static int s_wait(vl_client_t *c, vl_call_t *calls, size_t n, bool stop_on_found,
                  int64_t timeout_ms, bool drop)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    zmq_pollitem_t *items = vl_calloc(n, sizeof *items);
    int rc = 0;
    for (;;) {
        size_t pending = 0, npoll = 0;
        for (size_t i = 0; i < n; i++) {
            if (calls[i].done || !calls[i].sock)
                continue;
            pending++;
            bool dup = false;
            for (size_t k = 0; k < npoll; k++)
                if (items[k].socket == zsock_resolve(calls[i].sock))
                    dup = true;
            if (!dup)
                items[npoll++] =
                    (zmq_pollitem_t){.socket = zsock_resolve(calls[i].sock), .events = ZMQ_POLLIN};
        }
        if (pending == 0)
            break;
        int64_t left = deadline - zclock_mono();
        if (left <= 0) {
            rc = VL_ETIMEDOUT;
            break;
        }
        if (zmq_poll(items, (int)npoll, (long)left) < 0)
            continue; /* EINTR: the deadline still bounds the wait */
        for (size_t k = 0; k < npoll; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            zmsg_t *msg = zmsg_recv(items[k].socket);
            if (!msg)
                continue;
            vl_hdr_t hdr;
            vl_rbuf_t body;
            bool taken = false;
            if (vl_wire_parse(msg, &hdr, &body) == 0)
                for (size_t i = 0; i < n && !taken; i++) {
                    vl_call_t *call = &calls[i];
                    if (call->done || !call->sock || zsock_resolve(call->sock) != items[k].socket ||
                        hdr.request_id != call->request_id ||
                        hdr.type != (call->type | VL_MSG_REPLY))
                        continue;
                    call->done = taken = true;
                    call->reply = msg;
                    call->hdr = hdr;
                    call->body = body;
                    if (stop_on_found && hdr.status == 0) {
                        vl_rbuf_t r = body;
                        if (vl_rbuf_u8(&r) == 1 && !r.err)
                            goto out;
                    }
                }
            if (!taken)
                zmsg_destroy(&msg); /* stale reply of an earlier call */
        }
    }
out:
    free(items);
    if (rc == VL_ETIMEDOUT && drop)
        /* drop the sockets of unanswered calls with whatever they queued */
        for (size_t i = 0; i < n; i++)
            if (!calls[i].done && calls[i].sock) {
                for (size_t k = 0; k < n; k++)
                    if (k != i && calls[k].sock == calls[i].sock)
                        calls[k].sock = NULL;
                zhashx_delete(c->sns, calls[i].addr);
                calls[i].sock = NULL;
            }
    return rc;
}

int vl_call_wait(vl_client_t *c, vl_call_t *calls, size_t n, bool stop_on_found)
{
    return s_wait(c, calls, n, stop_on_found, c->timeout_ms, true);
}

int vl_call_wait_ms(vl_client_t *c, vl_call_t *calls, size_t n, int64_t ms, bool drop)
{
    return s_wait(c, calls, n, false, ms, drop);
}

void vl_call_free(vl_call_t *calls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmsg_destroy(&calls[i].reply);
}
