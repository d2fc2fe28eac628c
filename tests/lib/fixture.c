/*  fixture.c - what the in-process actor tests share (see fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"

void fx_tmpdir(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/vl-test-%s.XXXXXX", name);
    assert_non_null(mkdtemp(dir));
}

void fx_rmdir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

zsock_t *fx_dealer(const char *fmt, ...)
{
    char endpoint[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(endpoint, sizeof endpoint, fmt, ap);
    va_end(ap);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    assert_non_null(s);
    zsock_set_linger(s, 0);
    assert_int_equal(zsock_connect(s, "%s", endpoint), 0);
    return s;
}

int fx_bind(zsock_t *s, char *endpoint, size_t size)
{
    int port = zsock_bind(s, "tcp://127.0.0.1:*");
    if (port > 0)
        snprintf(endpoint, size, "tcp://127.0.0.1:%d", port);
    return port > 0 ? port : -1;
}

zmsg_t *fx_msg(const vl_hdr_t *h, vl_wbuf_t *b)
{
    zmsg_t *msg = vl_wire_msg(h, b);
    if (b)
        vl_wbuf_free(b);
    return msg;
}

zmsg_t *fx_reply(const vl_hdr_t *req, uint32_t status, vl_wbuf_t *b)
{
    vl_hdr_t h = *req;
    h.type = (uint16_t)(req->type | VL_MSG_REPLY);
    h.status = status;
    return fx_msg(&h, b);
}

void fx_send(zsock_t *s, zframe_t *rid, zmsg_t **msg_p)
{
    if (rid) {
        zframe_t *to = zframe_dup(rid);
        zmsg_prepend(*msg_p, &to);
    }
    assert_int_equal(zmsg_send(msg_p, s), 0);
}

zmsg_t *fx_recv_type(zsock_t *s, uint16_t type, int ms, vl_hdr_t *hdr, vl_rbuf_t *body,
                     zframe_t **rid_p)
{
    int64_t deadline = zclock_mono() + ms;
    zpoller_t *poller = zpoller_new(s, NULL);
    zmsg_t *found = NULL;
    bool router = zsock_type(s) == ZMQ_ROUTER;
    while (!found && zclock_mono() < deadline) {
        if (!zpoller_wait(poller, (int)(deadline - zclock_mono())))
            break;
        zmsg_t *msg = zmsg_recv(s);
        zframe_t *rid = router && msg ? zmsg_pop(msg) : NULL;
        if (msg && vl_wire_parse(msg, hdr, body) == 0 && hdr->type == type) {
            found = msg;
            if (rid_p)
                *rid_p = rid;
            else
                zframe_destroy(&rid);
        } else {
            zframe_destroy(&rid);
            zmsg_destroy(&msg);
        }
    }
    zpoller_destroy(&poller);
    return found;
}

int fx_wait_reply(zsock_t *s, uint16_t type, uint64_t id, zmsg_t **msg_p, vl_rbuf_t *body_p)
{
    int64_t deadline = zclock_mono() + 5000;
    while (zclock_mono() < deadline) {
        vl_hdr_t h;
        vl_rbuf_t body;
        zmsg_t *msg = fx_recv_type(s, type | VL_MSG_REPLY, 200, &h, &body, NULL);
        if (!msg)
            continue;
        if (h.request_id != id) {
            zmsg_destroy(&msg);
            continue;
        }
        int status = (int)h.status;
        if (msg_p) {
            *msg_p = msg;
            *body_p = body;
        } else
            zmsg_destroy(&msg);
        return status;
    }
    fail_msg("no %s reply to request %llu", vl_wire_type_name(type), (unsigned long long)id);
    return -1;
}
