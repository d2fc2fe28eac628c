/*  rpc.h - blocking request/reply over a DEALER socket (private).

    For control-plane calls (metadata, admin, status): send one request,
    wait for the reply with the same request_id, drop stale replies of
    earlier timed-out calls. The data path (append, subscribe) pipelines
    instead and does not use this.
*/
#ifndef VL_RPC_H
#define VL_RPC_H
#include "wire.h"

typedef struct vl_rpc vl_rpc_t;

/*  Creates a DEALER connected to endpoints (comma-separated; with several,
    ZeroMQ spreads requests round robin). NULL with errbuf set when an
    endpoint is invalid. Caller owns the result. */
vl_rpc_t *vl_rpc_new(const char *endpoints, char *errbuf, size_t errbuf_size);
void vl_rpc_destroy(vl_rpc_t **self_p);

/*  Sends a request of type with body (may be NULL) and waits timeout_ms for
    the reply. On 0, *reply_p is the reply message (caller owns it), hdr
    the reply header and body its body (borrowed from *reply_p). When the
    reply has a status, returns it and copies the reply's text to errbuf.
    Returns VL_ETIMEDOUT when no reply came (the socket is then recreated so
    that a dead peer does not keep queued requests). */
int vl_rpc_call(vl_rpc_t *self, uint16_t type, const vl_wbuf_t *body, int timeout_ms,
                zmsg_t **reply_p, vl_hdr_t *hdr, vl_rbuf_t *rbody, char *errbuf,
                size_t errbuf_size);

/*  The endpoints this rpc talks to. */
const char *vl_rpc_endpoints(vl_rpc_t *self);

#endif
