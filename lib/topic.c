/*  topic.c - topics: their info (from fresh metadata), listing, creating
    and deleting them (admin calls to the MR).
*/
#include <string.h>
#include "client_i.h"

static void s_info_fill(const vl_meta_topic_t *t, vl_topic_info_t *info)
{
    memset(info, 0, sizeof *info);
    info->topic_id = t->id;
    snprintf(info->name, sizeof info->name, "%s", t->name);
    info->replication_factor = t->rf;
    info->nls = t->nls;
    for (uint32_t i = 0; i < t->nls && i < sizeof info->ls_ids / sizeof info->ls_ids[0]; i++)
        info->ls_ids[i] = t->ls[i].id;
    info->hwm = t->hwm;
    info->end_offset = t->end_offset;
    info->trim_glsn = t->trim_glsn;
    info->trim_offset = t->trim_offset;
}

int vl_topic_info(vl_client_t *c, const char *name, vl_topic_info_t *info)
{
    vl_client_lock(c);
    const vl_meta_topic_t *t;
    int rc = vl_client_topic(c, name, true, "topic info", &t);
    if (rc == 0)
        s_info_fill(t, info);
    vl_client_unlock(c);
    return rc;
}

int vl_topic_list(vl_client_t *c, vl_topic_info_t *infos, size_t max, size_t *n)
{
    vl_client_lock(c);
    int rc = vl_client_refresh(c);
    if (rc == 0) {
        for (size_t i = 0; i < c->meta.ntopics && i < max; i++)
            s_info_fill(&c->meta.topics[i], &infos[i]);
        *n = c->meta.ntopics;
    } else {
        *n = 0;
        vl_client_fail(c, rc, "list topics: %s", vl_client_errmsg(c));
    }
    vl_client_unlock(c);
    return rc;
}

int vl_topic_create(vl_client_t *c, const char *name, uint32_t nls, uint32_t rf, uint32_t *topic_id)
{
    if (!name || !vl_topic_name_valid(name))
        return vl_client_fail(c, VL_ENAME, "create topic=%s: %s", name ? name : "(null)",
                              vl_err_str(VL_ENAME));
    vl_client_lock(c);
    int rc = 0;
    if (nls == 0) {
        /* the documented default: one log stream per storage node, up to 3 */
        if (!c->meta_valid || c->meta_stale)
            rc = vl_client_refresh(c);
        nls = rc == 0 && c->meta.nsn > 0 ? (c->meta.nsn < 3 ? c->meta.nsn : 3) : 1;
        rc = 0;
    }
    if (rf == 0)
        rf = 1;
    vl_admin_t a = {.nls = nls, .rf = rf};
    snprintf(a.name, sizeof a.name, "%s", name);
    char what[300];
    snprintf(what, sizeof what, "create topic=%s", name);
    uint32_t id = 0;
    rc = vl_client_admin(c, VL_MSG_CREATE_TOPIC, &a, &id, what);
    if (rc == 0 && topic_id)
        *topic_id = id;
    vl_client_unlock(c);
    return rc;
}

int vl_topic_delete(vl_client_t *c, const char *name)
{
    if (!name || !vl_topic_name_valid(name))
        return vl_client_fail(c, VL_ENAME, "delete topic=%s: %s", name ? name : "(null)",
                              vl_err_str(VL_ENAME));
    vl_client_lock(c);
    vl_admin_t a = {0};
    snprintf(a.name, sizeof a.name, "%s", name);
    char what[300];
    snprintf(what, sizeof what, "delete topic=%s", name);
    int rc = vl_client_admin(c, VL_MSG_DELETE_TOPIC, &a, NULL, what);
    vl_client_unlock(c);
    return rc;
}
