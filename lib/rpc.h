/*  rpc.h - blocking request/reply over a DEALER (private).

    For control-plane calls (metadata, admin, status): send one request,
    wait for the reply with the same request_id, drop stale replies of
    earlier timed-out calls. The data path (append, subscribe) pipelines
    instead and does not use this.

    The endpoints are a list (mrconn.h): the DEALER is connected to one of
    them at a time, and a call finds the metadata repository's leader by
    following VL_ENOTLEADER hints and moving on from silent endpoints, as
    rpc.c describes. With one endpoint (a storage node, a single MR) a call
    is one request and the wait for its reply.
*/
#ifndef VL_RPC_H
#define VL_RPC_H
#include "mrconn.h"
#include "wire.h"

typedef struct vl_rpc vl_rpc_t;

/*  Parses endpoints (comma-separated, mrconn.h) and connects a DEALER to
    the first. NULL with errbuf set (naming the endpoint) when one is
    invalid. Caller owns the result. */
vl_rpc_t *vl_rpc_new(const char *endpoints, char *errbuf, size_t errbuf_size);
void vl_rpc_destroy(vl_rpc_t **self_p);

/*  Sends a request of type with body (may be NULL) and waits timeout_ms in
    all for the reply, following the leader as rpc.c describes. On 0,
    *reply_p is the reply message (caller owns it), hdr the reply header
    and body its body (borrowed from *reply_p). When the reply has a
    status, returns it and copies the reply's text to errbuf. Without an
    answer returns VL_ETIMEDOUT (nothing answered, or the one replica a
    request that may not be repeated went to stayed silent: errbuf says
    whether it may still take effect) or VL_ENOTLEADER (replicas refused
    and none led); errbuf names every endpoint tried. The socket is then
    made again at the next call, so that a dead peer does not keep queued
    requests. */
int vl_rpc_call(vl_rpc_t *self, uint16_t type, const vl_wbuf_t *body, int timeout_ms,
                zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody, char *errbuf,
                size_t errbuf_size);

/*  The endpoints this rpc talks to, as parsed ("A,B"). */
const char *vl_rpc_endpoints(vl_rpc_t *self);

/*  The endpoint the next call goes to first: the leader, once found. */
const char *vl_rpc_current(vl_rpc_t *self);

/*  The endpoint state (borrowed): another socket to the same replicas
    may follow it, and move it (the next call then reconnects). */
vl_mrconn_t *vl_rpc_conn(vl_rpc_t *self);

#endif
