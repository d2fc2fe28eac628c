/*  api_versions.c - ApiVersions (key 18), versions 0-3.

    The list is built from the server's API table, so the gateway never
    advertises what it does not answer. A version above 3 gets a v0 body
    with UNSUPPORTED_VERSION and the full list (KIP-511): the client then
    retries with the highest version both know (librdkafka 2.0.2 sends v3
    first; older clients v0-2). v3 requests and responses are flexible,
    but the response header is v0 for every version (server.c).
*/
#include "server_i.h"

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    int16_t v = req->api_version;
    bool unsupported = v < 0 || v > vl_kapi_api_versions.max;
    bool flex = !unsupported && req->flex;
    if (!unsupported && v >= 3) {
        /* client_software_name, client_software_version: only logged */
        vl_kstr_t name = vl_kr_str(r, true);
        vl_kstr_t ver = vl_kr_str(r, true);
        vl_kr_tags(r);
        if (!vl_kr_ok(r)) {
            vl_kreq_bad(req, r->what);
            return;
        }
        vl_log(LOG_DEBUG, "request %" PRIu64 ": client %.*s %.*s", req->id,
               name.len > 0 ? (int)name.len : 0, name.len > 0 ? (const char *)name.ptr : "",
               ver.len > 0 ? (int)ver.len : 0, ver.len > 0 ? (const char *)ver.ptr : "");
    }
    vl_kw_t *w = &req->out;
    vl_kw_i16(w, unsupported ? VL_KERR_UNSUPPORTED_VERSION : 0);
    vl_kw_array(w, flex, (int32_t)vl_kapis_n);
    for (size_t i = 0; i < vl_kapis_n; i++) {
        vl_kw_i16(w, vl_kapis[i]->key);
        vl_kw_i16(w, vl_kapis[i]->min);
        vl_kw_i16(w, vl_kapis[i]->max);
        if (flex)
            vl_kw_tags(w);
    }
    if (!unsupported && v >= 1)
        vl_kw_i32(w, 0); /* throttle_time_ms */
    if (flex)
        vl_kw_tags(w); /* no supported/finalized features */
    vl_kreq_reply(req);
}

const vl_kapi_t vl_kapi_api_versions = {
    .key = 18, .name = "ApiVersions", .min = 0, .max = 3, .flex_min = 3, .handle = s_handle};
