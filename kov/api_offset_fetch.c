/*  api_offset_fetch.c - OffsetFetch (key 9), versions 0-5.

    The committed offsets of a group's partitions, -1 for a partition with
    none; v2+: a null topic array asks for every partition the group
    committed. Answered at once from the coordinator's state, which holds
    exactly what was committed in varlog (replayed at start).
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

static void s_done(void *arg, int16_t error, const vl_kgroup_fetched_t *parts, size_t n)
{
    vl_kreq_t *req = arg;
    int16_t v = req->api_version;
    vl_kw_t *w = &req->out;
    if (v >= 3)
        vl_kw_i32(w, 0); /* throttle */
    /* parts come grouped by topic (in the order asked, or sorted) */
    int32_t ntopics = 0;
    for (size_t i = 0; i < n; i++)
        ntopics += i == 0 || strcmp(parts[i].topic, parts[i - 1].topic) != 0;
    vl_kw_array(w, false, ntopics);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !strcmp(parts[j].topic, parts[i].topic))
            j++;
        vl_kw_str(w, false, parts[i].topic);
        vl_kw_array(w, false, (int32_t)(j - i));
        for (; i < j; i++) {
            vl_kw_i32(w, parts[i].partition);
            vl_kw_i64(w, parts[i].offset);
            if (v >= 5)
                vl_kw_i32(w, parts[i].leader_epoch);
            vl_kw_str(w, false, parts[i].metadata);
            vl_kw_i16(w, error ? error : parts[i].error);
        }
    }
    if (v >= 2)
        vl_kw_i16(w, error);
    vl_kreq_reply(req);
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    char *group = vl_kr_strdup(r, false);
    int32_t ntopics = vl_kr_array(r, false, 2 + 4);
    if (ntopics < 0 && req->api_version < 2)
        vl_kr_fail(r, "null topic array before OffsetFetch v2");
    size_t nt = ntopics > 0 ? (size_t)ntopics : 0;
    vl_kgroup_fetch_topic_t *topics = vl_calloc(nt + 1, sizeof *topics);
    for (size_t t = 0; t < nt && vl_kr_ok(r); t++) {
        topics[t].topic = vl_kr_strdup(r, false);
        int32_t np = vl_kr_array(r, false, 4);
        topics[t].npartitions = np > 0 ? (size_t)np : 0;
        int32_t *parts = vl_calloc(topics[t].npartitions + 1, sizeof *parts);
        for (size_t p = 0; p < topics[t].npartitions; p++)
            parts[p] = vl_kr_i32(r);
        topics[t].partitions = parts;
    }
    if (vl_kr_ok(r))
        vl_kgroup_fetch(req->server->groups, group, ntopics < 0 ? NULL : topics, nt, s_done, req);
    else
        vl_kreq_bad(req, r->what);
    for (size_t t = 0; t < nt; t++) {
        free((char *)topics[t].topic);
        free((int32_t *)topics[t].partitions);
    }
    free(topics);
    free(group);
}

const vl_kapi_t vl_kapi_offset_fetch = {
    .key = 9, .name = "OffsetFetch", .min = 0, .max = 5, .flex_min = 6, .handle = s_handle};
