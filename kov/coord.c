/*  coord.c - the consumer-group coordinator inside varlogkov.

    At start the gateway opens "__kov_offsets" (kov/offsets.c), replays it
    into a vl_kgroup_t (kov/group.h) and only then accepts clients, so no
    client ever sees offsets older than what was committed before a crash.
    A record it cannot read stops the start with the reason: serving
    groups from a state that lost records would hand consumers old
    offsets. A timer ticks the coordinator (session and rebalance
    timeouts) and checks, with several gateways (kov/gw.h), whether this
    one coordinates the groups: one that stops being the coordinator
    answers NOT_COORDINATOR; one that becomes it replays __kov_offsets
    again first. The API handlers (api_find_coordinator.c, api_join_group.c,
    ...) reach it as req->server->groups.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"

#define S_TICK_MS 200

/*  This gateway became the groups' coordinator: a fresh replay of
    __kov_offsets replaces the state it had (what the previous coordinator
    committed since is in the log). Only when no record of ours is in
    flight (else the next tick tries again). Blocking: the loop waits for
    the replay, once per takeover. */
static void s_take_over(vl_kserver_t *self)
{
    if (!vl_kgroup_idle(self->groups))
        return;
    vl_kgroup_store_t store = vl_koffsets_store(self->offsets);
    vl_kgroup_opts_t gopts = {.snapshot_every = self->opts.group_snapshot_every};
    vl_kgroup_t *fresh = vl_kgroup_new(&store, &gopts);
    char err[512];
    if (vl_kgroup_load(fresh, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "consumer groups: taking over as coordinator: %s; trying again", err);
        vl_kgroup_destroy(&fresh);
        return;
    }
    vl_kgroup_destroy(&self->groups);
    self->groups = fresh;
    self->groups_active = true;
    vl_log(LOG_NOTICE, "consumer groups: this gateway is now their coordinator (%s replayed)",
           VL_KOFFSETS_TOPIC);
}

static int s_tick(zloop_t *loop, int timer_id, void *arg)
{
    vl_kserver_t *self = arg;
    bool own = !self->gw || vl_kgw_owns_groups(self->gw, NULL, NULL);
    if (own && !self->groups_active)
        s_take_over(self);
    else if (!own && self->groups_active) {
        self->groups_active = false;
        vl_kgroup_set_active(self->groups, false);
        vl_log(LOG_NOTICE, "consumer groups: another gateway coordinates them now");
    }
    vl_kgroup_tick(self->groups, vl_now_us() / 1000);
    return 0;
}

int vl_kcoord_start(vl_kserver_t *self)
{
    char err[512];
    int rc = vl_koffsets_new(self->client, self->parts, NULL,
                             self->opts.replication > 0 ? (uint32_t)self->opts.replication : 0,
                             &self->offsets, err, sizeof err);
    if (rc) {
        vl_log(LOG_ERR, "consumer groups: %s; is the cluster up (varlogctl topic list)?", err);
        return -1;
    }
    vl_kgroup_store_t store = vl_koffsets_store(self->offsets);
    vl_kgroup_opts_t gopts = {.snapshot_every = self->opts.group_snapshot_every};
    self->groups = vl_kgroup_new(&store, &gopts);
    rc = vl_kgroup_load(self->groups, err, sizeof err);
    if (rc) {
        vl_log(LOG_ERR,
               "consumer groups: %s; varlogkov does not serve groups from a partial state: "
               "if that record is garbage written by something else, trim %s past it "
               "(varlogctl trim) and start again",
               err, VL_KOFFSETS_TOPIC);
        return -1;
    }
    self->groups_active = !self->gw || vl_kgw_owns_groups(self->gw, NULL, NULL);
    vl_kgroup_set_active(self->groups, self->groups_active);
    vl_kgroup_stats_t st;
    vl_kgroup_stats(self->groups, &st);
    vl_log(LOG_NOTICE, "consumer groups: %" PRIu64 " record(s) of %s replayed", st.replayed,
           VL_KOFFSETS_TOPIC);
    zloop_timer(self->loop, S_TICK_MS, 0, s_tick, self);
    return 0;
}

void vl_kcoord_stop(vl_kserver_t *self)
{
    vl_kgroup_destroy(&self->groups);
    vl_koffsets_destroy(&self->offsets);
}

char *vl_kcoord_strdup(vl_kstr_t s)
{
    if (s.len < 0)
        return NULL;
    char *d = vl_malloc((size_t)s.len + 1);
    if (s.len)
        memcpy(d, s.ptr, (size_t)s.len);
    d[s.len] = 0;
    return d;
}
