/*  group.c - the consumer-group coordinator: groups, members, rebalances.

    Kafka's classic group protocol (KIP-62 rebalance and session timeouts,
    KIP-394 MEMBER_ID_REQUIRED), driven by the loop thread. A rebalance
    starts when a member joins, changes its protocols, leaves or expires;
    it completes when every member rejoined or the rebalance timeout (the
    largest of the members') passed, dropping the members that did not
    rejoin. The leader is kept across generations while it stays a member.
    The SyncGroup that hands out the leader's assignment is answered once
    the group's record (generation, members, assignments) is committed,
    so a gateway restarted after a kill -9 knows the generation its
    members commit offsets with. Members restored from the log must
    heartbeat within their session timeout or are expired, as vanished
    members must be (Redpanda #3300: groups stuck with ghosts).

    Callbacks are called once the state is consistent. A callback may end
    up calling back into the coordinator (the server answers, a connection
    that was full resumes and its next request is handled): so no loop
    holds a pointer to a member across a callback. Loops that answer
    several members flag them first, then answer one flagged member at a
    time, looking it up again each time.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "group_i.h"
#include "log.h"
#include "util.h"
#include "varlog_err.h"

static int64_t s_clock_ms(void)
{
    return vl_now_us() / 1000;
}

/*  ---- objects -------------------------------------------------------------------- */

const char *kg_state_name(int state)
{
    static const char *names[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
                                  "Dead"};
    return state >= 0 && state <= KG_DEAD ? names[state] : "Dead";
}

void kg_offset_free(kg_offset_t **o_p)
{
    kg_offset_t *o = *o_p;
    if (!o)
        return;
    free(o->topic);
    free(o->metadata);
    free(o);
    *o_p = NULL;
}

void kg_offsets_destructor(void **item)
{
    kg_offset_free((kg_offset_t **)item);
}

void kg_member_free(kg_member_t **m_p)
{
    kg_member_t *m = *m_p;
    if (!m)
        return;
    free(m->id);
    free(m->client_id);
    free(m->client_host);
    for (size_t i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    free(m->assignment);
    free(m);
    *m_p = NULL;
}

void kg_group_free(kg_group_t **g_p)
{
    kg_group_t *g = *g_p;
    if (!g)
        return;
    while (g->members) {
        kg_member_t *m = g->members;
        g->members = m->next;
        kg_member_free(&m);
    }
    while (g->pending) {
        kg_pending_t *p = g->pending;
        g->pending = p->next;
        free(p->id);
        free(p);
    }
    zhashx_destroy(&g->offsets);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g->meta);
    free(g);
    *g_p = NULL;
}

void kg_groups_destructor(void **item)
{
    kg_group_free((kg_group_t **)item);
}

kg_group_t *kg_group_get(zhashx_t *groups, const char *id, bool create)
{
    kg_group_t *g = zhashx_lookup(groups, id);
    if (g || !create)
        return g;
    g = vl_calloc(1, sizeof *g);
    g->id = vl_strdup(id);
    g->state = KG_EMPTY;
    g->protocol_type = vl_strdup("");
    g->protocol = vl_strdup("");
    g->leader = vl_strdup("");
    g->offsets = zhashx_new();
    zhashx_set_destructor(g->offsets, kg_offsets_destructor);
    zhashx_insert(groups, id, g);
    return g;
}

kg_member_t *kg_member_find(kg_group_t *g, const char *id)
{
    for (kg_member_t *m = g->members; m; m = m->next)
        if (!strcmp(m->id, id))
            return m;
    return NULL;
}

static void s_set(char **field, const char *value)
{
    free(*field);
    *field = vl_strdup(value ? value : "");
}

/*  ---- coordinator ---------------------------------------------------------------- */

vl_kgroup_t *vl_kgroup_new(const vl_kgroup_store_t *store, const vl_kgroup_opts_t *opts)
{
    vl_kgroup_t *self = vl_calloc(1, sizeof *self);
    self->store = *store;
    if (opts)
        self->opts = *opts;
    if (self->opts.min_session_timeout_ms <= 0)
        self->opts.min_session_timeout_ms = 1000;
    if (self->opts.max_session_timeout_ms <= 0)
        self->opts.max_session_timeout_ms = 1800000;
    if (self->opts.max_metadata_bytes <= 0)
        self->opts.max_metadata_bytes = 4096;
    if (!self->opts.snapshot_every)
        self->opts.snapshot_every = 1000;
    if (self->opts.snapshot_chunk_bytes < 1024)
        self->opts.snapshot_chunk_bytes = 512 * 1024;
    if (!self->opts.clock_ms)
        self->opts.clock_ms = s_clock_ms;
    self->groups = zhashx_new();
    zhashx_set_destructor(self->groups, kg_groups_destructor);
    self->now = self->opts.clock_ms();
    return self;
}

static void s_ops_free(kg_op_t *op)
{
    while (op) {
        kg_op_t *next = op->next;
        if (op->del && --op->del->waiting == 0) {
            free(op->del->errors);
            free(op->del);
        }
        kg_op_free(&op);
        op = next;
    }
}

void vl_kgroup_destroy(vl_kgroup_t **self_p)
{
    vl_kgroup_t *self = *self_p;
    if (!self)
        return;
    /* appends still in flight keep op pointers in the store: it must be
       stopped (its callbacks not run) before the coordinator goes */
    s_ops_free(self->inflight);
    s_ops_free(self->held);
    zhashx_destroy(&self->groups);
    zhashx_destroy(&self->shadow);
    free(self);
    *self_p = NULL;
}

int vl_kgroup_load(vl_kgroup_t *self, char *errbuf, size_t errbuf_size)
{
    self->now = self->opts.clock_ms();
    self->loading = true;
    self->errbuf[0] = 0;
    char err[256] = "";
    int rc = self->store.replay(self->store.ctx, kg_rec_replay, self, err, sizeof err);
    zhashx_destroy(&self->shadow); /* a snapshot cut short by a crash */
    self->shadow_next = self->shadow_count = 0;
    self->loading = false;
    if (rc && errbuf)
        snprintf(errbuf, errbuf_size, "replay of the group coordinator's records: %s",
                 self->errbuf[0] ? self->errbuf : err);
    return rc;
}

void vl_kgroup_set_active(vl_kgroup_t *self, bool active)
{
    self->inactive = !active;
}

bool vl_kgroup_idle(vl_kgroup_t *self)
{
    return !self->inflight && !self->held;
}

void vl_kgroup_stats(vl_kgroup_t *self, vl_kgroup_stats_t *stats)
{
    *stats = self->stats;
}

void vl_kgroup_forget(vl_kgroup_t *self, void *arg)
{
    for (kg_group_t *g = zhashx_first(self->groups); g; g = zhashx_next(self->groups))
        for (kg_member_t *m = g->members; m; m = m->next) {
            if (m->join_arg == arg)
                m->join_cb = NULL;
            if (m->sync_arg == arg)
                m->sync_cb = NULL;
        }
    kg_op_t *lists[] = {self->inflight, self->held};
    for (size_t i = 0; i < 2; i++)
        for (kg_op_t *op = lists[i]; op; op = op->next) {
            if (op->arg == arg)
                op->commit_cb = NULL;
            if (op->del && op->del->arg == arg)
                op->del->cb = NULL;
        }
}

/*  ---- rebalances ------------------------------------------------------------------ */

static void s_prepare_rebalance(vl_kgroup_t *self, kg_group_t *g);

static bool s_supports(const kg_member_t *m, const char *protocol)
{
    for (size_t i = 0; i < m->nprotos; i++)
        if (!strcmp(m->protos[i].name, protocol))
            return true;
    return false;
}

/*  Whether protocol is supported by every member but skip. */
static bool s_all_support(const kg_group_t *g, const kg_member_t *skip, const char *protocol)
{
    for (const kg_member_t *m = g->members; m; m = m->next)
        if (m != skip && !s_supports(m, protocol))
            return false;
    return true;
}

/*  The first of the leader's protocols that every member supports. */
static const char *s_select_protocol(const kg_group_t *g, const kg_member_t *leader)
{
    for (size_t i = 0; i < leader->nprotos; i++)
        if (s_all_support(g, NULL, leader->protos[i].name))
            return leader->protos[i].name;
    return NULL;
}

static const kg_proto_t *s_proto(const kg_member_t *m, const char *name)
{
    for (size_t i = 0; i < m->nprotos; i++)
        if (!strcmp(m->protos[i].name, name))
            return &m->protos[i];
    return NULL;
}

/*  The answer of a JoinGroup for member m of the current generation. */
static void s_join_answer(kg_group_t *g, kg_member_t *m, vl_kgroup_join_cb *cb, void *arg)
{
    vl_kgroup_member_meta_t *metas = NULL;
    vl_kgroup_joined_t res = {
        .error = 0,
        .generation_id = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol,
        .leader = g->leader,
        .member_id = m->id,
    };
    if (!strcmp(m->id, g->leader)) {
        metas = vl_calloc(g->nmembers + 1, sizeof *metas);
        for (kg_member_t *o = g->members; o; o = o->next) {
            const kg_proto_t *p = s_proto(o, g->protocol);
            metas[res.nmembers].member_id = o->id;
            metas[res.nmembers].metadata = p ? p->meta : NULL;
            metas[res.nmembers].metadata_len = p ? p->len : 0;
            res.nmembers++;
        }
        res.members = metas;
    }
    if (cb)
        cb(arg, &res);
    free(metas);
}

static void s_join_error(vl_kgroup_join_cb *cb, void *arg, int16_t error, const char *member_id,
                         const char *protocol_type)
{
    vl_kgroup_joined_t res = {.error = error,
                              .generation_id = -1,
                              .protocol_type = protocol_type ? protocol_type : "",
                              .protocol_name = "",
                              .leader = "",
                              .member_id = member_id ? member_id : ""};
    if (cb)
        cb(arg, &res);
}

static void s_sync_answer(kg_group_t *g, kg_member_t *m, int16_t error)
{
    vl_kgroup_sync_cb *cb = m->sync_cb;
    void *arg = m->sync_arg;
    m->awaiting_sync = false;
    m->sync_cb = NULL;
    if (cb)
        cb(arg, error, g->protocol_type, g->protocol, error ? NULL : m->assignment,
           error ? 0 : m->assignment_len);
}

/*  Answers every SyncGroup waiting in g with error (0: its assignment). */
static void s_sync_answer_all(kg_group_t *g, int16_t error)
{
    for (;;) {
        kg_member_t *m = g->members;
        while (m && !m->awaiting_sync)
            m = m->next;
        if (!m)
            return;
        s_sync_answer(g, m, error);
    }
}

/*  Completes the rebalance: a new generation for the members that
    rejoined (those that did not were dropped by the caller). */
static void s_complete_join(vl_kgroup_t *self, kg_group_t *g)
{
    g->generation++;
    g->syncing = false;
    if (!g->members) {
        g->state = KG_EMPTY;
        s_set(&g->protocol, "");
        s_set(&g->leader, "");
        kg_store_group(self, g); /* the group emptied: its members are gone from the log too */
        return;
    }
    kg_member_t *leader = kg_member_find(g, g->leader);
    if (!leader)
        leader = g->members;
    s_set(&g->leader, leader->id);
    const char *protocol = s_select_protocol(g, leader);
    s_set(&g->protocol, protocol ? protocol : leader->protos[0].name);
    g->state = KG_COMPLETING;
    for (kg_member_t *m = g->members; m; m = m->next) {
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        m->deadline = self->now + m->session_ms;
    }
    for (kg_member_t *m = g->members; m; m = m->next) {
        m->answer_join = m->awaiting_join;
        m->awaiting_join = false;
    }
    for (;;) {
        kg_member_t *m = g->members;
        while (m && !m->answer_join)
            m = m->next;
        if (!m)
            break;
        vl_kgroup_join_cb *cb = m->join_cb;
        m->answer_join = false;
        m->join_cb = NULL;
        s_join_answer(g, m, cb, m->join_arg);
    }
}

static void s_maybe_complete(vl_kgroup_t *self, kg_group_t *g)
{
    if (g->state != KG_PREPARING)
        return;
    for (kg_member_t *m = g->members; m; m = m->next)
        if (!m->awaiting_join)
            return;
    s_complete_join(self, g);
}

static void s_prepare_rebalance(vl_kgroup_t *self, kg_group_t *g)
{
    if (g->state != KG_PREPARING)
        vl_log(LOG_INFO, "group '%s': rebalancing (generation %" PRId32 ", %zu member(s))", g->id,
               g->generation, g->nmembers);
    bool completing = g->state == KG_COMPLETING;
    g->state = KG_PREPARING;
    g->syncing = false;
    int32_t timeout = 0;
    for (kg_member_t *m = g->members; m; m = m->next)
        if (m->rebalance_ms > timeout)
            timeout = m->rebalance_ms;
    g->rebalance_deadline = self->now + timeout;
    if (completing)
        s_sync_answer_all(g, VL_KERR_REBALANCE_IN_PROGRESS);
    s_maybe_complete(self, g);
}

/*  Removes m (left, expired, or did not rejoin in time); its waiting
    requests get UNKNOWN_MEMBER_ID. */
static void s_remove_member(vl_kgroup_t *self, kg_group_t *g, kg_member_t *m, bool rebalance)
{
    kg_member_t **pp = &g->members;
    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    g->nmembers--;
    if (m->awaiting_join || m->answer_join)
        s_join_error(m->join_cb, m->join_arg, VL_KERR_UNKNOWN_MEMBER_ID, m->id, g->protocol_type);
    if (m->awaiting_sync)
        s_sync_answer(g, m, VL_KERR_UNKNOWN_MEMBER_ID);
    kg_member_free(&m);
    if (!rebalance)
        return;
    if (g->state == KG_STABLE || g->state == KG_COMPLETING)
        s_prepare_rebalance(self, g);
    else
        s_maybe_complete(self, g);
}

/*  ---- JoinGroup -------------------------------------------------------------------- */

static void s_member_update(kg_member_t *m, const vl_kgroup_join_t *req)
{
    for (size_t i = 0; i < m->nprotos; i++) {
        free(m->protos[i].name);
        free(m->protos[i].meta);
    }
    free(m->protos);
    m->nprotos = req->nprotocols;
    m->protos = vl_calloc(req->nprotocols, sizeof *m->protos);
    for (size_t i = 0; i < req->nprotocols; i++) {
        m->protos[i].name = vl_strdup(req->protocols[i].name ? req->protocols[i].name : "");
        m->protos[i].len = req->protocols[i].metadata_len;
        m->protos[i].meta = vl_malloc(m->protos[i].len + 1);
        if (m->protos[i].len)
            memcpy(m->protos[i].meta, req->protocols[i].metadata, m->protos[i].len);
    }
    m->session_ms = req->session_timeout_ms;
    m->rebalance_ms =
        req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms : req->session_timeout_ms;
}

static bool s_same_protocols(const kg_member_t *m, const vl_kgroup_join_t *req)
{
    if (m->nprotos != req->nprotocols)
        return false;
    for (size_t i = 0; i < m->nprotos; i++) {
        const vl_kgroup_proto_t *p = &req->protocols[i];
        if (strcmp(m->protos[i].name, p->name ? p->name : "") ||
            m->protos[i].len != p->metadata_len ||
            (p->metadata_len && memcmp(m->protos[i].meta, p->metadata, p->metadata_len)))
            return false;
    }
    return true;
}

/*  The request-level checks: 0 or the error to answer. */
static int16_t s_join_check(vl_kgroup_t *self, const vl_kgroup_join_t *req, kg_group_t *g,
                            const char *member_id)
{
    if (req->session_timeout_ms < self->opts.min_session_timeout_ms ||
        req->session_timeout_ms > self->opts.max_session_timeout_ms)
        return VL_KERR_INVALID_SESSION_TIMEOUT;
    if (!req->protocol_type || !*req->protocol_type || req->nprotocols == 0)
        return VL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (!g)
        return 0;
    if (g->state == KG_DEAD)
        return VL_KERR_COORDINATOR_NOT_AVAILABLE;
    kg_member_t *self_m = *member_id ? kg_member_find(g, member_id) : NULL;
    if (g->nmembers > (self_m ? 1u : 0u)) {
        if (strcmp(g->protocol_type, req->protocol_type))
            return VL_KERR_INCONSISTENT_GROUP_PROTOCOL;
        bool any = false;
        for (size_t i = 0; i < req->nprotocols && !any; i++)
            any = req->protocols[i].name && s_all_support(g, self_m, req->protocols[i].name);
        if (!any)
            return VL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    return 0;
}

static kg_pending_t *s_pending_take(kg_group_t *g, const char *id)
{
    for (kg_pending_t **pp = &g->pending; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            kg_pending_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

static void s_member_add(vl_kgroup_t *self, kg_group_t *g, const char *id,
                         const vl_kgroup_join_t *req, vl_kgroup_join_cb *cb, void *arg)
{
    kg_member_t *m = vl_calloc(1, sizeof *m);
    m->id = vl_strdup(id);
    m->client_id = vl_strdup(req->client_id ? req->client_id : "");
    m->client_host = vl_strdup(req->client_host ? req->client_host : "");
    s_member_update(m, req);
    m->awaiting_join = true;
    m->join_cb = cb;
    m->join_arg = arg;
    m->deadline = self->now + m->session_ms;
    if (!g->members)
        s_set(&g->protocol_type, req->protocol_type);
    kg_member_t **tail = &g->members;
    while (*tail)
        tail = &(*tail)->next;
    *tail = m;
    g->nmembers++;
    if (g->state == KG_PREPARING)
        s_maybe_complete(self, g);
    else
        s_prepare_rebalance(self, g);
}

/*  A member of the group joins again. */
static void s_member_rejoin(vl_kgroup_t *self, kg_group_t *g, kg_member_t *m,
                            const vl_kgroup_join_t *req, vl_kgroup_join_cb *cb, void *arg)
{
    m->deadline = self->now + m->session_ms;
    if (m->awaiting_join) /* a retry: the earlier request gets an answer too */
        s_join_error(m->join_cb, m->join_arg, VL_KERR_REBALANCE_IN_PROGRESS, m->id,
                     g->protocol_type);
    bool same = s_same_protocols(m, req);
    bool leader = !strcmp(m->id, g->leader);
    if ((g->state == KG_COMPLETING && same) || (g->state == KG_STABLE && same && !leader)) {
        m->awaiting_join = false;
        s_join_answer(g, m, cb, arg); /* nothing changed: the current generation */
        return;
    }
    s_member_update(m, req);
    m->awaiting_join = true;
    m->join_cb = cb;
    m->join_arg = arg;
    if (g->state == KG_PREPARING)
        s_maybe_complete(self, g);
    else
        s_prepare_rebalance(self, g);
}

void vl_kgroup_join(vl_kgroup_t *self, const vl_kgroup_join_t *req, vl_kgroup_join_cb *cb,
                    void *arg)
{
    self->now = self->opts.clock_ms();
    const char *member_id = req->member_id ? req->member_id : "";
    if (self->inactive) {
        s_join_error(cb, arg, VL_KERR_NOT_COORDINATOR, member_id, req->protocol_type);
        return;
    }
    if (!req->group_id || !*req->group_id) {
        s_join_error(cb, arg, VL_KERR_INVALID_GROUP_ID, member_id, req->protocol_type);
        return;
    }
    kg_group_t *g = kg_group_get(self->groups, req->group_id, false);
    int16_t err = s_join_check(self, req, g, member_id);
    if (!err && !g && *member_id)
        err = VL_KERR_UNKNOWN_MEMBER_ID;
    if (err) {
        s_join_error(cb, arg, err, member_id, req->protocol_type);
        return;
    }
    if (!g)
        g = kg_group_get(self->groups, req->group_id, true);
    if (!*member_id) {
        zuuid_t *uuid = zuuid_new();
        char *id =
            zsys_sprintf("%s-%s", req->client_id ? req->client_id : "", zuuid_str_canonical(uuid));
        zuuid_destroy(&uuid);
        if (req->require_member_id) {
            /* KIP-394: the member rejoins with this id, so a request
               retried after a lost answer does not leave a ghost behind */
            kg_pending_t *p = vl_calloc(1, sizeof *p);
            p->id = vl_strdup(id);
            p->deadline = self->now + req->session_timeout_ms;
            p->next = g->pending;
            g->pending = p;
            s_join_error(cb, arg, VL_KERR_MEMBER_ID_REQUIRED, id, req->protocol_type);
        } else {
            s_member_add(self, g, id, req, cb, arg);
        }
        zstr_free(&id);
        return;
    }
    kg_pending_t *p = s_pending_take(g, member_id);
    if (p) {
        free(p->id);
        free(p);
        s_member_add(self, g, member_id, req, cb, arg);
        return;
    }
    kg_member_t *m = kg_member_find(g, member_id);
    if (!m) {
        s_join_error(cb, arg, VL_KERR_UNKNOWN_MEMBER_ID, member_id, req->protocol_type);
        return;
    }
    s_member_rejoin(self, g, m, req, cb, arg);
}

/*  ---- SyncGroup, Heartbeat, LeaveGroup ---------------------------------------------- */

/*  The checks SyncGroup and Heartbeat share: 0 and *m_p, or an error. */
static int16_t s_member_check(vl_kgroup_t *self, const char *group_id, int32_t generation,
                              const char *member_id, kg_group_t **g_p, kg_member_t **m_p)
{
    kg_group_t *g = group_id ? kg_group_get(self->groups, group_id, false) : NULL;
    if (!g)
        return VL_KERR_UNKNOWN_MEMBER_ID;
    if (g->state == KG_DEAD)
        return VL_KERR_COORDINATOR_NOT_AVAILABLE;
    kg_member_t *m = member_id ? kg_member_find(g, member_id) : NULL;
    if (!m)
        return VL_KERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return VL_KERR_ILLEGAL_GENERATION;
    m->deadline = self->now + m->session_ms;
    *g_p = g;
    *m_p = m;
    return 0;
}

static void s_sync_assign(kg_group_t *g, const vl_kgroup_sync_t *req)
{
    for (size_t i = 0; i < req->nassignments; i++) {
        const vl_kgroup_assignment_t *a = &req->assignments[i];
        kg_member_t *m = a->member_id ? kg_member_find(g, a->member_id) : NULL;
        if (!m)
            continue; /* Kafka ignores assignments of members it does not know */
        free(m->assignment);
        m->assignment = vl_malloc(a->assignment_len + 1);
        if (a->assignment_len)
            memcpy(m->assignment, a->assignment, a->assignment_len);
        m->assignment_len = a->assignment_len;
    }
}

void vl_kgroup_sync(vl_kgroup_t *self, const vl_kgroup_sync_t *req, vl_kgroup_sync_cb *cb,
                    void *arg)
{
    self->now = self->opts.clock_ms();
    kg_group_t *g = NULL;
    kg_member_t *m = NULL;
    if (self->inactive) {
        cb(arg, VL_KERR_NOT_COORDINATOR, "", "", NULL, 0);
        return;
    }
    int16_t err = s_member_check(self, req->group_id, req->generation_id, req->member_id, &g, &m);
    if (!err && ((req->protocol_type && strcmp(req->protocol_type, g->protocol_type)) ||
                 (req->protocol_name && strcmp(req->protocol_name, g->protocol))))
        err = VL_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (!err && g->state == KG_EMPTY)
        err = VL_KERR_UNKNOWN_MEMBER_ID;
    if (!err && g->state == KG_PREPARING)
        err = VL_KERR_REBALANCE_IN_PROGRESS;
    if (err) {
        cb(arg, err, g ? g->protocol_type : "", g ? g->protocol : "", NULL, 0);
        return;
    }
    if (g->state == KG_STABLE) {
        cb(arg, 0, g->protocol_type, g->protocol, m->assignment, m->assignment_len);
        return;
    }
    if (m->awaiting_sync) /* a retry: the earlier request gets an answer too */
        s_sync_answer(g, m, VL_KERR_REBALANCE_IN_PROGRESS);
    m->awaiting_sync = true;
    m->sync_cb = cb;
    m->sync_arg = arg;
    if (!strcmp(m->id, g->leader) && !g->syncing) {
        s_sync_assign(g, req);
        g->syncing = true;
        kg_store_group(self, g); /* answered when committed: kg_group_stored */
    }
}

void kg_group_stored(vl_kgroup_t *self, kg_op_t *op, int rc)
{
    kg_group_t *g = kg_group_get(self->groups, op->group_id, false);
    if (!g || g->state != KG_COMPLETING || g->generation != op->generation || !g->syncing)
        return; /* a rebalance started meanwhile, or the group emptied */
    g->syncing = false;
    if (rc) {
        /* Kafka does the same when its log append fails: rejoin */
        s_sync_answer_all(g, VL_KERR_COORDINATOR_NOT_AVAILABLE);
        if (g->state == KG_COMPLETING)
            s_prepare_rebalance(self, g);
        return;
    }
    g->state = KG_STABLE;
    vl_log(LOG_INFO, "group '%s': stable at generation %" PRId32 " with %zu member(s), leader %s",
           g->id, g->generation, g->nmembers, g->leader);
    s_sync_answer_all(g, 0);
}

int16_t vl_kgroup_heartbeat(vl_kgroup_t *self, const char *group_id, int32_t generation_id,
                            const char *member_id)
{
    self->now = self->opts.clock_ms();
    kg_group_t *g = NULL;
    kg_member_t *m = NULL;
    if (self->inactive)
        return VL_KERR_NOT_COORDINATOR;
    int16_t err = s_member_check(self, group_id, generation_id, member_id, &g, &m);
    if (err)
        return err;
    if (g->state == KG_PREPARING)
        return VL_KERR_REBALANCE_IN_PROGRESS;
    return 0;
}

int16_t vl_kgroup_leave(vl_kgroup_t *self, const char *group_id, const char *const *member_ids,
                        size_t n, int16_t *errors)
{
    self->now = self->opts.clock_ms();
    kg_group_t *g = group_id ? kg_group_get(self->groups, group_id, false) : NULL;
    for (size_t i = 0; i < n; i++)
        errors[i] = self->inactive ? VL_KERR_NOT_COORDINATOR : VL_KERR_UNKNOWN_MEMBER_ID;
    if (self->inactive)
        return VL_KERR_NOT_COORDINATOR;
    if (!g)
        return VL_KERR_UNKNOWN_MEMBER_ID;
    if (g->state == KG_DEAD)
        return VL_KERR_COORDINATOR_NOT_AVAILABLE;
    for (size_t i = 0; i < n; i++) {
        const char *id = member_ids[i] ? member_ids[i] : "";
        kg_pending_t *p = s_pending_take(g, id);
        if (p) {
            free(p->id);
            free(p);
            errors[i] = 0;
            continue;
        }
        kg_member_t *m = kg_member_find(g, id);
        if (m) {
            s_remove_member(self, g, m, true);
            errors[i] = 0;
        }
    }
    return 0;
}

/*  ---- timeouts ---------------------------------------------------------------------- */

/*  The first member of g that timed out: past its session timeout and not
    waiting in a JoinGroup or SyncGroup (those are alive, Kafka's rule); or,
    when the rebalance timeout passed, one that did not rejoin. */
static kg_member_t *s_timed_out(vl_kgroup_t *self, kg_group_t *g, bool rebalance_over)
{
    for (kg_member_t *m = g->members; m; m = m->next) {
        if (rebalance_over && !m->awaiting_join)
            return m;
        if (m->deadline <= self->now && !m->awaiting_join && !m->awaiting_sync)
            return m;
    }
    return NULL;
}

static void s_tick_group(vl_kgroup_t *self, kg_group_t *g)
{
    for (kg_pending_t **pp = &g->pending; *pp;) {
        kg_pending_t *p = *pp;
        if (p->deadline <= self->now) {
            *pp = p->next;
            free(p->id);
            free(p);
        } else {
            pp = &p->next;
        }
    }
    /* one at a time: each removal answers requests (see the top) */
    kg_member_t *m;
    while ((m = s_timed_out(self, g, false))) {
        vl_log(LOG_INFO, "group '%s': member %s expired (no heartbeat for %" PRId32 " ms)", g->id,
               m->id, m->session_ms);
        s_remove_member(self, g, m, true);
    }
    if (g->state == KG_PREPARING && g->rebalance_deadline <= self->now) {
        while ((m = s_timed_out(self, g, true))) {
            vl_log(LOG_INFO, "group '%s': member %s did not rejoin within the rebalance timeout",
                   g->id, m->id);
            s_remove_member(self, g, m, false);
        }
        s_complete_join(self, g);
    }
}

void vl_kgroup_tick(vl_kgroup_t *self, int64_t now_ms)
{
    self->now = now_ms;
    if (self->inactive)
        return;
    /* by id, not by the hash's cursor: a callback may add groups */
    zlistx_t *ids = zlistx_new();
    zlistx_set_duplicator(ids, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor(ids, (zlistx_destructor_fn *)zstr_free);
    for (kg_group_t *g = zhashx_first(self->groups); g; g = zhashx_next(self->groups))
        zlistx_add_end(ids, g->id);
    for (char *id = zlistx_first(ids); id; id = zlistx_next(ids)) {
        kg_group_t *g = zhashx_lookup(self->groups, id);
        if (!g)
            continue;
        s_tick_group(self, g);
        /* groups that never stored anything and have nothing: forget them */
        if (g->state == KG_EMPTY && !g->members && !g->pending && !g->meta &&
            !zhashx_size(g->offsets))
            zhashx_delete(self->groups, id);
    }
    zlistx_destroy(&ids);
}
