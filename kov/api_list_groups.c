/*  api_list_groups.c - ListGroups (key 16), versions 0-2.

    Every group this gateway coordinates (all of them: it is the only
    coordinator), sorted by id.
*/
#include "server_i.h"

static void s_done(void *arg, const vl_kgroup_listed_t *groups, size_t n)
{
    vl_kreq_t *req = arg;
    vl_kw_t *w = &req->out;
    if (req->api_version >= 1)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, 0);
    vl_kw_array(w, false, (int32_t)n);
    for (size_t i = 0; i < n; i++) {
        vl_kw_str(w, false, groups[i].group_id);
        vl_kw_str(w, false, groups[i].protocol_type);
    }
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    (void)r; /* v0-2 have an empty body */
    vl_kgroup_list(req->server->groups, s_done, req);
}

const vl_kapi_t vl_kapi_list_groups = {
    .key = 16, .name = "ListGroups", .min = 0, .max = 2, .flex_min = 3, .handle = s_handle};
