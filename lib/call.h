/*  call.h - the client's blocking calls to storage nodes: send one or
    more requests, wait for their replies (or the client's timeout). Every
    function here is called with the client's lock held.
*/
#ifndef VL_CALL_H
#define VL_CALL_H
#include "client_i.h"

/*  One outstanding request of a blocking call. */
typedef struct {
    const char *addr;
    zsock_t *sock;
    uint64_t request_id;
    uint16_t type;
    bool done;
    zmsg_t *reply; /* set when done */
    vl_hdr_t hdr;
    vl_rbuf_t body;
} vl_call_t;

/*  Sends a request of type with body (and payload's frames after it; takes
    payload) to call->addr, on the client's DEALER for that address (made
    when missing), with a fresh request id. Returns 0, VL_EINVAL (cannot
    connect: not a valid endpoint) or VL_EIO (cannot send). */
int vl_call_send(vl_client_t *c, vl_call_t *call, uint16_t type, const vl_wbuf_t *body,
                 zmsg_t *payload);

/*  Waits until every call is done, or (stop_on_found) one LOOKUP reply says
    found, or timeout. Returns 0 or VL_ETIMEDOUT. */
int vl_call_wait(vl_client_t *c, vl_call_t *calls, size_t n, bool stop_on_found);

/*  Waits at most ms until every call is done. Returns 0 or VL_ETIMEDOUT;
    unanswered calls keep their sockets (a later wait may still get their
    replies) unless drop, which closes them as vl_call_wait's timeout does. */
int vl_call_wait_ms(vl_client_t *c, vl_call_t *calls, size_t n, int64_t ms, bool drop);

/*  Frees the replies of calls[0..n). */
void vl_call_free(vl_call_t *calls, size_t n);

#endif
