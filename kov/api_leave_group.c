/*  api_leave_group.c - LeaveGroup (key 13), versions 0-3.

    v0-2 name one member; v3 a list (KIP-345), each answered on its own.
    The group rebalances without the members that left.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    char *group = vl_kr_strdup(r, false);
    int32_t n = 1;
    if (v >= 3)
        n = vl_kr_array(r, false, 2 + 2);
    char **ids = vl_calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        ids[i] = vl_kr_strdup(r, false);
        if (v >= 3)
            (void)vl_kr_str(r, false); /* group_instance_id */
    }
    if (!vl_kr_ok(r)) {
        vl_kreq_bad(req, r->what);
    } else {
        size_t count = n > 0 ? (size_t)n : 0;
        int16_t *errs = vl_calloc(count + 1, sizeof *errs);
        int16_t err =
            vl_kgroup_leave(req->server->groups, group, (const char *const *)ids, count, errs);
        vl_kw_t *w = &req->out;
        if (v >= 1)
            vl_kw_i32(w, 0); /* throttle */
        vl_kw_i16(w, v < 3 && !err ? errs[0] : err);
        if (v >= 3) {
            vl_kw_array(w, false, (int32_t)count);
            for (size_t i = 0; i < count; i++) {
                vl_kw_str(w, false, ids[i]);
                vl_kw_str(w, false, NULL); /* group_instance_id */
                vl_kw_i16(w, errs[i]);
            }
        }
        free(errs);
        vl_kreq_reply(req);
    }
    for (int32_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    free(group);
}

const vl_kapi_t vl_kapi_leave_group = {
    .key = 13, .name = "LeaveGroup", .min = 0, .max = 3, .flex_min = 4, .handle = s_handle};
