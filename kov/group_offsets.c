/*  group_offsets.c - committed offsets and the groups' administration.

    OffsetCommit appends one record holding every offset of the request
    and answers when it is committed; the offsets are applied to the
    group then, from that record (group_rec.c), so what OffsetFetch shows
    is exactly what a replay rebuilds. Kafka's checks, in Kafka's order:
    a commit with generation -1 and no member id (consumers that assign
    partitions themselves, kcat -o, admin tools) is accepted only while
    the group has no members; others must come from a member of the
    current generation, and not while the group waits for its leader's
    assignment (REBALANCE_IN_PROGRESS).

    DeleteGroups marks each empty group Dead (so nothing joins it), appends
    a tombstone and answers when every tombstone of the request is
    committed.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "group_i.h"
#include "util.h"
#include "varlog_err.h"

/*  ---- OffsetCommit ------------------------------------------------------------------ */

static int16_t s_commit_check(vl_kgroup_t *self, const vl_kgroup_commit_t *req, kg_group_t **g_p)
{
    if (!req->group_id || !*req->group_id)
        return VL_KERR_INVALID_GROUP_ID;
    const char *member_id = req->member_id ? req->member_id : "";
    kg_group_t *g = kg_group_get(self->groups, req->group_id, false);
    if (!g) {
        if (req->generation_id >= 0)
            return VL_KERR_ILLEGAL_GENERATION;
        *g_p = kg_group_get(self->groups, req->group_id, true);
        return 0;
    }
    *g_p = g;
    if (g->state == KG_DEAD)
        return VL_KERR_COORDINATOR_NOT_AVAILABLE;
    if (req->generation_id < 0 && g->state == KG_EMPTY)
        return 0;
    if (g->state == KG_COMPLETING)
        return VL_KERR_REBALANCE_IN_PROGRESS;
    kg_member_t *m = kg_member_find(g, member_id);
    if (!m)
        return VL_KERR_UNKNOWN_MEMBER_ID;
    if (req->generation_id != g->generation)
        return VL_KERR_ILLEGAL_GENERATION;
    m->deadline = self->now + m->session_ms; /* a commit shows the member is alive */
    return 0;
}

void vl_kgroup_commit(vl_kgroup_t *self, const vl_kgroup_commit_t *req, vl_kgroup_commit_cb *cb,
                      void *arg)
{
    self->now = self->opts.clock_ms();
    int16_t *errors = vl_calloc(req->n + 1, sizeof *errors);
    kg_group_t *g = NULL;
    int16_t err = self->inactive ? VL_KERR_NOT_COORDINATOR : s_commit_check(self, req, &g);
    size_t good = 0;
    for (size_t i = 0; i < req->n; i++) {
        const vl_kgroup_offset_t *o = &req->offsets[i];
        if (err)
            errors[i] = err;
        else if (o->metadata && strlen(o->metadata) > (size_t)self->opts.max_metadata_bytes)
            errors[i] = VL_KERR_OFFSET_METADATA_TOO_LARGE;
        else if (!o->topic || !*o->topic || o->partition < 0)
            errors[i] = VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        else
            good++;
    }
    if (good == 0) {
        cb(arg, errors, req->n);
        free(errors);
        return;
    }
    kg_buf_t b = {0};
    kg_rec_offsets(&b, req->group_id, req->offsets, errors, req->n, zclock_time());
    kg_op_t *op = kg_op_new(self, KG_REC_OFFSETS, &b, req->group_id);
    op->commit_cb = cb;
    op->arg = arg;
    op->errors = errors;
    op->nerrors = req->n;
    kg_store_append(self, op);
}

void kg_offsets_stored(vl_kgroup_t *self, kg_op_t *op, int rc)
{
    (void)self;
    if (rc)
        for (size_t i = 0; i < op->nerrors; i++)
            if (!op->errors[i])
                op->errors[i] = VL_KERR_COORDINATOR_NOT_AVAILABLE; /* clients retry it */
    if (op->commit_cb)
        op->commit_cb(op->arg, op->errors, op->nerrors);
}

/*  ---- OffsetFetch ------------------------------------------------------------------- */

static int s_offset_cmp(const void *a, const void *b)
{
    const kg_offset_t *x = *(kg_offset_t *const *)a, *y = *(kg_offset_t *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/*  The group's offsets sorted by topic and partition (caller frees the array). */
static kg_offset_t **s_sorted_offsets(kg_group_t *g, size_t *n)
{
    *n = g ? zhashx_size(g->offsets) : 0;
    kg_offset_t **v = vl_calloc(*n + 1, sizeof *v);
    size_t i = 0;
    if (g)
        for (kg_offset_t *o = zhashx_first(g->offsets); o; o = zhashx_next(g->offsets))
            v[i++] = o;
    qsort(v, *n, sizeof *v, s_offset_cmp);
    return v;
}

static void s_fetched(vl_kgroup_fetched_t *f, const kg_offset_t *o, const char *topic,
                      int32_t partition)
{
    f->topic = topic;
    f->partition = partition;
    f->offset = o ? o->offset : -1;
    f->leader_epoch = o ? o->leader_epoch : -1;
    f->metadata = o ? o->metadata : "";
    f->error = 0;
}

void vl_kgroup_fetch(vl_kgroup_t *self, const char *group_id, const vl_kgroup_fetch_topic_t *topics,
                     size_t ntopics, vl_kgroup_fetch_cb *cb, void *arg)
{
    if (self->inactive) {
        cb(arg, VL_KERR_NOT_COORDINATOR, NULL, 0);
        return;
    }
    if (!group_id || !*group_id) {
        cb(arg, VL_KERR_INVALID_GROUP_ID, NULL, 0);
        return;
    }
    kg_group_t *g = kg_group_get(self->groups, group_id, false);
    if (!topics) {
        size_t n;
        kg_offset_t **v = s_sorted_offsets(g, &n);
        vl_kgroup_fetched_t *f = vl_calloc(n + 1, sizeof *f);
        for (size_t i = 0; i < n; i++)
            s_fetched(&f[i], v[i], v[i]->topic, v[i]->partition);
        cb(arg, 0, f, n);
        free(f);
        free(v);
        return;
    }
    size_t n = 0;
    for (size_t t = 0; t < ntopics; t++)
        n += topics[t].npartitions;
    vl_kgroup_fetched_t *f = vl_calloc(n + 1, sizeof *f);
    size_t i = 0;
    for (size_t t = 0; t < ntopics; t++)
        for (size_t p = 0; p < topics[t].npartitions; p++, i++) {
            const char *topic = topics[t].topic ? topics[t].topic : "";
            kg_offset_t *o = NULL;
            if (g) {
                char *key = zsys_sprintf("%" PRId32 ":%s", topics[t].partitions[p], topic);
                o = zhashx_lookup(g->offsets, key);
                zstr_free(&key);
            }
            s_fetched(&f[i], o, topic, topics[t].partitions[p]);
        }
    cb(arg, 0, f, n);
    free(f);
}

/*  ---- DescribeGroups, ListGroups --------------------------------------------------- */

static void s_describe_one(kg_group_t *g, const char *id, vl_kgroup_describe_cb *cb, void *arg)
{
    vl_kgroup_desc_t d = {
        .group_id = id, .state = "Dead", .protocol_type = "", .protocol_name = ""};
    if (!id || !*id) {
        d.group_id = "";
        d.error = VL_KERR_INVALID_GROUP_ID;
        cb(arg, &d);
        return;
    }
    if (!g) {
        cb(arg, &d);
        return;
    }
    d.state = kg_state_name(g->state);
    d.protocol_type = g->protocol_type;
    d.protocol_name = g->state == KG_STABLE ? g->protocol : "";
    d.generation_id = g->generation;
    vl_kgroup_member_desc_t *members = vl_calloc(g->nmembers + 1, sizeof *members);
    for (kg_member_t *m = g->members; m; m = m->next) {
        vl_kgroup_member_desc_t *md = &members[d.nmembers++];
        md->member_id = m->id;
        md->client_id = m->client_id;
        md->client_host = m->client_host;
        for (size_t i = 0; i < m->nprotos; i++)
            if (!strcmp(m->protos[i].name, g->protocol)) {
                md->metadata = m->protos[i].meta;
                md->metadata_len = m->protos[i].len;
            }
        if (g->state == KG_STABLE) {
            md->assignment = m->assignment;
            md->assignment_len = m->assignment_len;
        }
    }
    d.members = members;
    cb(arg, &d);
    free(members);
}

void vl_kgroup_describe(vl_kgroup_t *self, const char *const *group_ids, size_t n,
                        vl_kgroup_describe_cb *cb, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (self->inactive) {
            vl_kgroup_desc_t d = {.group_id = group_ids[i] ? group_ids[i] : "",
                                  .error = VL_KERR_NOT_COORDINATOR,
                                  .state = "",
                                  .protocol_type = "",
                                  .protocol_name = ""};
            cb(arg, &d);
            continue;
        }
        kg_group_t *g = group_ids[i] ? kg_group_get(self->groups, group_ids[i], false) : NULL;
        s_describe_one(g, group_ids[i], cb, arg);
    }
}

static int s_listed_cmp(const void *a, const void *b)
{
    return strcmp(((const vl_kgroup_listed_t *)a)->group_id,
                  ((const vl_kgroup_listed_t *)b)->group_id);
}

void vl_kgroup_list(vl_kgroup_t *self, vl_kgroup_list_cb *cb, void *arg)
{
    size_t n = 0;
    vl_kgroup_listed_t *v = vl_calloc(zhashx_size(self->groups) + 1, sizeof *v);
    for (kg_group_t *g = zhashx_first(self->groups); g; g = zhashx_next(self->groups)) {
        if (g->state == KG_DEAD || self->inactive)
            continue;
        v[n].group_id = g->id;
        v[n].protocol_type = g->protocol_type;
        v[n].state = kg_state_name(g->state);
        n++;
    }
    qsort(v, n, sizeof *v, s_listed_cmp);
    cb(arg, v, n);
    free(v);
}

/*  ---- DeleteGroups ------------------------------------------------------------------ */

static void s_delete_done(kg_delete_t *del)
{
    if (--del->waiting > 0)
        return;
    if (del->cb)
        del->cb(del->arg, del->errors, del->n);
    free(del->errors);
    free(del);
}

void vl_kgroup_delete(vl_kgroup_t *self, const char *const *group_ids, size_t n,
                      vl_kgroup_delete_cb *cb, void *arg)
{
    kg_delete_t *del = vl_calloc(1, sizeof *del);
    del->cb = cb;
    del->arg = arg;
    del->errors = vl_calloc(n + 1, sizeof *del->errors);
    del->n = n;
    del->waiting = 1; /* this call's own, released at the end */
    for (size_t i = 0; i < n; i++) {
        const char *id = group_ids[i];
        kg_group_t *g = id && *id ? kg_group_get(self->groups, id, false) : NULL;
        if (self->inactive)
            del->errors[i] = VL_KERR_NOT_COORDINATOR;
        else if (!id || !*id)
            del->errors[i] = VL_KERR_INVALID_GROUP_ID;
        else if (!g || g->state == KG_DEAD)
            del->errors[i] = VL_KERR_GROUP_ID_NOT_FOUND;
        else if (g->state != KG_EMPTY)
            del->errors[i] = VL_KERR_NON_EMPTY_GROUP;
        if (del->errors[i])
            continue;
        g->state = KG_DEAD;
        kg_buf_t b = {0};
        kg_rec_tombstone(&b, id);
        kg_op_t *op = kg_op_new(self, KG_REC_TOMBSTONE, &b, id);
        op->del = del;
        op->delete_index = i;
        del->waiting++;
        kg_store_append(self, op);
    }
    s_delete_done(del);
}

void kg_tombstone_stored(vl_kgroup_t *self, kg_op_t *op, int rc)
{
    if (rc) {
        /* the group stays, as it was */
        kg_group_t *g = kg_group_get(self->groups, op->group_id, false);
        if (g && g->state == KG_DEAD)
            g->state = KG_EMPTY;
        op->del->errors[op->delete_index] = VL_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    s_delete_done(op->del);
    op->del = NULL;
}

/*  ---- dump ---------------------------------------------------------------------------- */

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void s_hex(zchunk_t *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char h[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        zchunk_extend(out, h, 2);
    }
}

static void s_dump_group(zchunk_t *out, kg_group_t *g)
{
    char *line = zsys_sprintf("group %s\n", g->id);
    zchunk_extend(out, line, strlen(line));
    zstr_free(&line);
    if (g->meta) {
        zchunk_extend(out, "  meta ", 7);
        s_hex(out, g->meta, g->meta_len);
        zchunk_extend(out, "\n", 1);
    }
    size_t n;
    kg_offset_t **v = s_sorted_offsets(g, &n);
    for (size_t i = 0; i < n; i++) {
        line = zsys_sprintf("  offset %s %" PRId32 " %" PRId64 " epoch=%" PRId32 " ts=%" PRId64
                            " meta=%s\n",
                            v[i]->topic, v[i]->partition, v[i]->offset, v[i]->leader_epoch,
                            v[i]->commit_ms, v[i]->metadata ? v[i]->metadata : "(null)");
        zchunk_extend(out, line, strlen(line));
        zstr_free(&line);
    }
    free(v);
}

char *vl_kgroup_dump(vl_kgroup_t *self)
{
    size_t n = 0;
    char **ids = vl_calloc(zhashx_size(self->groups) + 1, sizeof *ids);
    for (kg_group_t *g = zhashx_first(self->groups); g; g = zhashx_next(self->groups))
        if (g->meta || zhashx_size(g->offsets))
            ids[n++] = g->id;
    qsort(ids, n, sizeof *ids, s_str_cmp);
    zchunk_t *out = zchunk_new(NULL, 0);
    for (size_t i = 0; i < n; i++)
        s_dump_group(out, zhashx_lookup(self->groups, ids[i]));
    free(ids);
    char *s = vl_malloc(zchunk_size(out) + 1);
    memcpy(s, zchunk_data(out), zchunk_size(out));
    s[zchunk_size(out)] = 0;
    zchunk_destroy(&out);
    return s;
}
