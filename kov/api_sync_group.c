/*  api_sync_group.c - SyncGroup (key 14), versions 0-3.

    The leader's request carries every member's assignment; each member's
    response carries its own, once the group's record (generation,
    members, assignments) is committed in varlog.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

static void s_done(void *arg, int16_t error, const char *ptype, const char *pname,
                   const uint8_t *assignment, size_t len)
{
    vl_kreq_t *req = arg;
    vl_kw_t *w = &req->out;
    if (req->api_version >= 1)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, error);
    vl_kw_bytes(w, false, assignment, (int32_t)len);
    if (error)
        vl_log(LOG_INFO, "SyncGroup (request %" PRIu64 "): %s", req->id, vl_kerr_name(error));
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    vl_kgroup_sync_t s = {0};
    char *group = vl_kr_strdup(r, false);
    s.generation_id = vl_kr_i32(r);
    char *member = vl_kr_strdup(r, false);
    if (v >= 3)
        (void)vl_kr_str(r, false); /* group_instance_id */
    int32_t n = vl_kr_array(r, false, 2 + 4);
    vl_kgroup_assignment_t *asg = vl_calloc(n > 0 ? (size_t)n : 1, sizeof *asg);
    char **ids = vl_calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        ids[i] = vl_kr_strdup(r, false);
        vl_kstr_t a = vl_kr_bytes(r, false);
        asg[i].member_id = ids[i];
        asg[i].assignment = a.ptr;
        asg[i].assignment_len = a.len > 0 ? (size_t)a.len : 0;
    }
    if (vl_kr_ok(r)) {
        s.group_id = group;
        s.member_id = member;
        s.nassignments = n > 0 ? (size_t)n : 0;
        s.assignments = asg;
        vl_kgroup_sync(req->server->groups, &s, s_done, req);
    } else {
        vl_kreq_bad(req, r->what);
    }
    for (int32_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    free(asg);
    free(group);
    free(member);
}

const vl_kapi_t vl_kapi_sync_group = {
    .key = 14, .name = "SyncGroup", .min = 0, .max = 3, .flex_min = 4, .handle = s_handle};
