/*  api_heartbeat.c - Heartbeat (key 12), versions 0-3.

    Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to join
    again, UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION that it was dropped.
*/
#include <stdlib.h>
#include "server_i.h"

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    char *group = vl_kr_strdup(r, false);
    int32_t generation = vl_kr_i32(r);
    char *member = vl_kr_strdup(r, false);
    if (v >= 3)
        (void)vl_kr_str(r, false); /* group_instance_id */
    if (!vl_kr_ok(r)) {
        free(group);
        free(member);
        vl_kreq_bad(req, r->what);
        return;
    }
    int16_t err = vl_kgroup_heartbeat(req->server->groups, group, generation, member);
    vl_kw_t *w = &req->out;
    if (v >= 1)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, err);
    if (err && err != VL_KERR_REBALANCE_IN_PROGRESS)
        vl_log(LOG_INFO, "Heartbeat of '%s' in group '%s' generation %d: %s", member, group,
               generation, vl_kerr_name(err));
    free(group);
    free(member);
    vl_kreq_reply(req);
}

const vl_kapi_t vl_kapi_heartbeat = {
    .key = 12, .name = "Heartbeat", .min = 0, .max = 3, .flex_min = 4, .handle = s_handle};
