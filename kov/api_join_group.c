/*  api_join_group.c - JoinGroup (key 11), versions 0-5.

    Decodes the request into a vl_kgroup_join_t and answers from the
    coordinator's callback, which comes once the rebalance completes (so
    the response may wait up to the rebalance timeout; the connection's
    later responses wait behind it, as with Kafka). v4+: a new member gets
    MEMBER_ID_REQUIRED and its id, and joins again with it (KIP-394).
    group_instance_id (v5, static membership) is not supported: such a
    member is treated as a dynamic one.
*/
#include <stdlib.h>
#include "server_i.h"
#include "util.h"

static void s_done(void *arg, const vl_kgroup_joined_t *res)
{
    vl_kreq_t *req = arg;
    int16_t v = req->api_version;
    vl_kw_t *w = &req->out;
    if (v >= 2)
        vl_kw_i32(w, 0); /* throttle */
    vl_kw_i16(w, res->error);
    vl_kw_i32(w, res->generation_id);
    vl_kw_str(w, false, res->protocol_name);
    vl_kw_str(w, false, res->leader);
    vl_kw_str(w, false, res->member_id);
    vl_kw_array(w, false, (int32_t)res->nmembers);
    for (size_t i = 0; i < res->nmembers; i++) {
        vl_kw_str(w, false, res->members[i].member_id);
        if (v >= 5)
            vl_kw_str(w, false, NULL); /* group_instance_id */
        vl_kw_bytes(w, false, res->members[i].metadata, (int32_t)res->members[i].metadata_len);
    }
    if (res->error && res->error != VL_KERR_MEMBER_ID_REQUIRED)
        vl_log(LOG_INFO, "JoinGroup (request %" PRIu64 ", member '%s'): %s", req->id,
               res->member_id, vl_kerr_name(res->error));
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    vl_kgroup_join_t j = {
        .client_id = req->client_id, .client_host = req->client_host, .require_member_id = v >= 4};
    char *group = vl_kr_strdup(r, false);
    j.session_timeout_ms = vl_kr_i32(r);
    j.rebalance_timeout_ms = v >= 1 ? vl_kr_i32(r) : j.session_timeout_ms;
    char *member = vl_kr_strdup(r, false);
    if (v >= 5)
        (void)vl_kr_str(r, false); /* group_instance_id */
    char *ptype = vl_kr_strdup(r, false);
    int32_t n = vl_kr_array(r, false, 2 + 4);
    vl_kgroup_proto_t *protos = vl_calloc(n > 0 ? (size_t)n : 1, sizeof *protos);
    char **names = vl_calloc(n > 0 ? (size_t)n : 1, sizeof *names);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        names[i] = vl_kr_strdup(r, false);
        vl_kstr_t meta = vl_kr_bytes(r, false);
        protos[i].name = names[i];
        protos[i].metadata = meta.ptr;
        protos[i].metadata_len = meta.len > 0 ? (size_t)meta.len : 0;
    }
    if (vl_kr_ok(r)) {
        j.group_id = group;
        j.member_id = member;
        j.protocol_type = ptype;
        j.nprotocols = n > 0 ? (size_t)n : 0;
        j.protocols = protos;
        vl_kgroup_join(req->server->groups, &j, s_done, req);
    } else {
        vl_kreq_bad(req, r->what);
    }
    for (int32_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(protos);
    free(group);
    free(member);
    free(ptype);
}

const vl_kapi_t vl_kapi_join_group = {
    .key = 11, .name = "JoinGroup", .min = 0, .max = 5, .flex_min = 6, .handle = s_handle};
