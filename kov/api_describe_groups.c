/*  api_describe_groups.c - DescribeGroups (key 15), versions 0-4.

    State, protocol and members of each group asked for; an unknown group
    is described as "Dead" with no members (what Kafka answers). Kov has
    no ACLs: authorized_operations (v3+) is -2147483648 ("not asked"), or
    every operation when asked.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

typedef struct {
    vl_kreq_t *req;
    bool include_ops;
} s_ctx_t;

static void s_one(void *arg, const vl_kgroup_desc_t *d)
{
    s_ctx_t *c = arg;
    int16_t v = c->req->api_version;
    vl_kw_t *w = &c->req->out;
    vl_kw_i16(w, d->error);
    vl_kw_str(w, false, d->group_id);
    vl_kw_str(w, false, d->state);
    vl_kw_str(w, false, d->protocol_type);
    vl_kw_str(w, false, d->protocol_name);
    vl_kw_array(w, false, (int32_t)d->nmembers);
    for (size_t i = 0; i < d->nmembers; i++) {
        const vl_kgroup_member_desc_t *m = &d->members[i];
        vl_kw_str(w, false, m->member_id);
        if (v >= 4)
            vl_kw_str(w, false, NULL); /* group_instance_id */
        vl_kw_str(w, false, m->client_id);
        vl_kw_str(w, false, m->client_host);
        vl_kw_bytes(w, false, m->metadata, (int32_t)m->metadata_len);
        vl_kw_bytes(w, false, m->assignment, (int32_t)m->assignment_len);
    }
    if (v >= 3)
        vl_kw_i32(w, c->include_ops ? 0x0ffe : INT32_MIN); /* bits 1-11: every operation */
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    int32_t n = vl_kr_array(r, false, 2);
    size_t count = n > 0 ? (size_t)n : 0;
    char **ids = vl_calloc(count + 1, sizeof *ids);
    for (size_t i = 0; i < count && vl_kr_ok(r); i++)
        ids[i] = vl_kr_strdup(r, false);
    s_ctx_t c = {req, false};
    if (v >= 3)
        c.include_ops = vl_kr_bool(r);
    if (vl_kr_ok(r)) {
        vl_kw_t *w = &req->out;
        if (v >= 1)
            vl_kw_i32(w, 0); /* throttle */
        vl_kw_array(w, false, (int32_t)count);
        vl_kgroup_describe(req->server->groups, (const char *const *)ids, count, s_one, &c);
        vl_kreq_reply(req);
    } else {
        vl_kreq_bad(req, r->what);
    }
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
}

const vl_kapi_t vl_kapi_describe_groups = {
    .key = 15, .name = "DescribeGroups", .min = 0, .max = 4, .flex_min = 5, .handle = s_handle};
