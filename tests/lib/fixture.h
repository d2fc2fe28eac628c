/*  fixture.h - what the in-process actor tests share (test_snserver,
    test_mrserver, test_appender): a private temp dir, DEALERs to an
    actor's endpoint, a fake peer's ROUTER on a free port, wire messages
    built and sent in one call, and waiting for a message of one type or
    for the reply to one request.

    The tests start the actor under test themselves (vl_sn_new, vl_mr_start,
    vl_client_open) on tcp://127.0.0.1:* and play its peers over real
    sockets, so that they can order messages the way a real cluster only
    does by chance. The helpers that assert do so with cmocka and may only
    be called from the test's own thread; fx_msg, fx_reply and fx_bind
    assert nothing, so a fake peer's thread may use them too.
*/
#ifndef VL_TESTS_FIXTURE_H
#define VL_TESTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "wire.h"

/*  Creates a private directory /tmp/vl-test-NAME.XXXXXX and writes its path
    into dir (size bytes). */
void fx_tmpdir(char *dir, size_t size, const char *name);

/*  Removes dir and everything in it. */
void fx_rmdir(const char *dir);

/*  A DEALER (linger 0) connected to the endpoint fmt formats. Caller owns
    the result. */
zsock_t *fx_dealer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  Binds s to tcp://127.0.0.1:* (a free port) and writes the endpoint a
    peer connects to into endpoint (size bytes). Returns the port, or -1
    when the bind failed (endpoint is then left as it was). */
int fx_bind(zsock_t *s, char *endpoint, size_t size);

/*  The message of header h and body b, which it frees (b may be NULL: an
    empty body). Caller owns the result. */
zmsg_t *fx_msg(const vl_hdr_t *h, vl_wbuf_t *b);

/*  The reply to req (its request id, type | VL_MSG_REPLY) with status and
    body b, which it frees (b may be NULL). Caller owns the result. */
zmsg_t *fx_reply(const vl_hdr_t *req, uint32_t status, vl_wbuf_t *b);

/*  Sends *msg_p on s and takes it; on a ROUTER rid names the peer (it is
    copied), on a DEALER rid is NULL. */
void fx_send(zsock_t *s, zframe_t *rid, zmsg_t **msg_p);

/*  Receives the next message of type `type` on s within ms and parses it
    into *hdr and *body (which points into the message); NULL if none came.
    Other messages are dropped. On a ROUTER the routing id is popped into
    *rid_p (when not NULL; caller destroys). Caller owns the result. */
zmsg_t *fx_recv_type(zsock_t *s, uint16_t type, int ms, vl_hdr_t *hdr, vl_rbuf_t *body,
                     zframe_t **rid_p);

/*  Waits (up to 5 s, or fails the test) for the reply of type to request
    id on the DEALER s, dropping other messages; returns its status and,
    when msg_p is not NULL, the message in *msg_p (caller destroys) and its
    body in *body_p. */
int fx_wait_reply(zsock_t *s, uint16_t type, uint64_t id, zmsg_t **msg_p, vl_rbuf_t *body_p);

#endif
