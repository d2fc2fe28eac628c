/*  api_delete_groups.c - DeleteGroups (key 42), versions 0-1.

    Deletes empty groups and their committed offsets: answered once each
    group's tombstone is committed in varlog. A group with members gets
    NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

typedef struct {
    vl_kreq_t *req;
    size_t n;
    char **ids;
} s_ctx_t;

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (size_t i = 0; i < c->n; i++)
        free(c->ids[i]);
    free(c->ids);
    free(c);
}

static void s_done(void *arg, const int16_t *errors, size_t n)
{
    s_ctx_t *c = arg;
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    vl_kw_i32(w, 0); /* throttle */
    vl_kw_array(w, false, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        vl_kw_str(w, false, c->ids[i]);
        vl_kw_i16(w, errors[i]);
        if (errors[i])
            vl_log(LOG_INFO, "DeleteGroups '%s': %s", c->ids[i], vl_kerr_name(errors[i]));
    }
    req->ctx = NULL;
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int32_t n = vl_kr_array(r, false, 2);
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->n = n > 0 ? (size_t)n : 0;
    c->ids = vl_calloc(c->n + 1, sizeof *c->ids);
    for (size_t i = 0; i < c->n && vl_kr_ok(r); i++)
        c->ids[i] = vl_kr_strdup(r, false);
    if (!vl_kr_ok(r)) {
        vl_kreq_bad(req, r->what);
        s_ctx_free(c);
        return;
    }
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    vl_kgroup_delete(req->server->groups, (const char *const *)c->ids, c->n, s_done, c);
}

const vl_kapi_t vl_kapi_delete_groups = {
    .key = 42, .name = "DeleteGroups", .min = 0, .max = 1, .flex_min = 2, .handle = s_handle};
