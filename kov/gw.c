/*  gw.c - this gateway's membership among several varlogkov (kov/gw.h).

    One thread owns a following subscriber on the meta topic and applies
    every record to the view (under mu: the loop thread reads ownership
    from it), and between reads (at most S_POLL_MS apart) it appends:
    this gateway's heartbeat every session/4, its registration again with
    a new incarnation when the view says its incarnation died, and an
    expire record for each live gateway it has not heard from for that
    gateway's session timeout (once per incarnation; another gateway's
    record may come first, which is fine: the first in log order wins).
    Appends are blocking vl_append calls on this thread: while the
    cluster does not take them the tail waits too, and the lease runs out,
    which is what should happen.
*/
#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "gw.h"
#include "log.h"
#include "util.h"

#define S_POLL_MS 50
#define S_START_WAIT_MS 30000

struct vl_kgw {
    vl_client_t *client;
    int32_t id;
    char addr[264];
    int32_t session_ms;
    uint32_t rf;
    uint32_t snapshot_every;
    uint64_t snap_sent_p; /* the thread's: the state GLSN of the snapshot it appended last */
    uint64_t trimmed_p;   /* the thread's: trimmed through it */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    bool stop;
    bool registered; /* this incarnation's registration is applied */
    int fail_rc;     /* the thread gave up (start): why, with fail_msg */
    char fail_msg[256];
    vl_kgw_view_t view;
    uint64_t inc;       /* this incarnation */
    int64_t lease_us;   /* may act as an owner until then (monotonic) */
    int64_t sent_us[16]; /* when our heartbeats not applied yet were sent, oldest first */
    size_t nsent;
    /* the thread's */
    int64_t next_hb_us;
    uint64_t *expired_sent; /* incarnations whose expire record we appended */
    size_t nexpired, expired_cap;
};

static int64_t s_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int s_ensure_topic(vl_kgw_t *self)
{
    vl_topic_info_t info;
    int rc = vl_topic_info(self->client, VL_KGW_META_TOPIC, &info);
    if (rc != VL_ENOTOPIC)
        return rc;
    for (uint32_t rf = self->rf ? self->rf : 3; rf >= 1; rf--) {
        rc = vl_topic_create(self->client, VL_KGW_META_TOPIC, 1, rf, NULL);
        if (rc == 0 || rc == VL_EEXIST)
            return 0;
        if (self->rf)
            break;
    }
    return rc;
}

static int s_append(vl_kgw_t *self, const char *rec)
{
    const void *data = rec;
    size_t size = strlen(rec);
    int rc = vl_append(self->client, VL_KGW_META_TOPIC, 0, &data, &size, 1, NULL);
    if (rc != 0)
        vl_log(LOG_WARNING, "gateways: cannot append to %s: %s; retrying", VL_KGW_META_TOPIC,
               vl_client_errmsg(self->client));
    return rc;
}

static void s_heartbeat(vl_kgw_t *self, int64_t now_us)
{
    pthread_mutex_lock(&self->mu);
    const vl_kgw_member_t *me = vl_kgw_view_find(&self->view, self->id);
    if (self->registered && (!me || me->inc != self->inc)) {
        /* declared dead (or replaced): register again as a new incarnation */
        vl_log(LOG_WARNING,
               "gateways: this gateway (id %d) was declared expired at GLSN %" PRIu64
               " of %s; registering again",
               self->id, self->view.epoch, VL_KGW_META_TOPIC);
        self->inc = vl_random_u64();
        self->registered = false;
        self->lease_us = 0;
        self->nsent = 0;
    }
    uint64_t inc = self->inc;
    pthread_mutex_unlock(&self->mu);
    char rec[400];
    snprintf(rec, sizeof rec, "kov.gw.hb %d %" PRIu64 " %s %d %" PRId64 "\n", self->id, inc,
             self->addr, self->session_ms, s_wall_ms());
    if (s_append(self, rec) == 0) {
        pthread_mutex_lock(&self->mu);
        if (self->inc == inc && self->nsent < sizeof self->sent_us / sizeof self->sent_us[0])
            self->sent_us[self->nsent++] = now_us;
        pthread_mutex_unlock(&self->mu);
    }
    self->next_hb_us = now_us + (int64_t)self->session_ms * 250;
}

static bool s_expire_sent(vl_kgw_t *self, uint64_t inc)
{
    for (size_t i = 0; i < self->nexpired; i++)
        if (self->expired_sent[i] == inc)
            return true;
    return false;
}

/*  Expire records for the live gateways silent for their session timeout. */
static void s_expire(vl_kgw_t *self, int64_t now_us)
{
    int32_t ids[64];
    uint64_t incs[64];
    size_t n = 0;
    pthread_mutex_lock(&self->mu);
    bool me_ok = self->registered;
    for (size_t i = 0; i < self->view.n && n < 64 && me_ok; i++) {
        const vl_kgw_member_t *m = &self->view.m[i];
        if (m->alive && m->id != self->id && !s_expire_sent(self, m->inc) &&
            now_us - m->local_us > (int64_t)m->session_ms * 1000) {
            ids[n] = m->id;
            incs[n++] = m->inc;
        }
    }
    pthread_mutex_unlock(&self->mu);
    for (size_t i = 0; i < n; i++) {
        char rec[128];
        snprintf(rec, sizeof rec, "kov.gw.expire %d %" PRIu64 " %d\n", ids[i], incs[i], self->id);
        if (s_append(self, rec) != 0)
            return;
        vl_log(LOG_NOTICE, "gateways: gateway %d not heard from for its session timeout: "
                           "declared expired", ids[i]);
        if (self->nexpired == self->expired_cap) {
            self->expired_cap = self->expired_cap ? self->expired_cap * 2 : 8;
            self->expired_sent =
                vl_realloc(self->expired_sent, self->expired_cap * sizeof *self->expired_sent);
        }
        self->expired_sent[self->nexpired++] = incs[i];
    }
}

static void s_apply(vl_kgw_t *self, const vl_entry_t *e)
{
    int64_t now = vl_now_us();
    pthread_mutex_lock(&self->mu);
    bool changed = vl_kgw_view_apply(&self->view, e->glsn, e->data, e->size, now);
    const vl_kgw_member_t *me = vl_kgw_view_find(&self->view, self->id);
    if (me && me->inc == self->inc && me->heard_glsn == e->glsn && self->nsent > 0) {
        /* our heartbeat is in the view (which is thus fresh up to it): the
           others expire us a session timeout after they apply it, which is
           after we sent it */
        self->lease_us = self->sent_us[0] + (int64_t)self->session_ms * 750;
        memmove(self->sent_us, self->sent_us + 1, --self->nsent * sizeof self->sent_us[0]);
    }
    if (!self->registered && me && me->inc == self->inc) {
        self->registered = true;
        pthread_cond_broadcast(&self->cv);
    }
    if (changed) {
        char live[256] = "";
        size_t off = 0;
        for (size_t i = 0; i < self->view.n && off < sizeof live - 16; i++)
            if (self->view.m[i].alive)
                off += (size_t)snprintf(live + off, sizeof live - off, " %d", self->view.m[i].id);
        vl_log(LOG_NOTICE, "gateways: epoch %" PRIu64 ", live:%s", self->view.epoch, live);
    }
    pthread_mutex_unlock(&self->mu);
}

/*  The replay reached the HWM it began with and met no snapshot to start
    from (the topic was trimmed by something else): go on without one. */
static void s_flush_held(vl_kgw_t *self)
{
    pthread_mutex_lock(&self->mu);
    if (vl_kgw_view_flush_held(&self->view, vl_now_us()))
        vl_log(LOG_WARNING, "gateways: %s was trimmed with no snapshot after the trim point; "
                            "the view starts from what is left",
               VL_KGW_META_TOPIC);
    pthread_mutex_unlock(&self->mu);
}

static void s_fail(vl_kgw_t *self, int rc, const char *what)
{
    pthread_mutex_lock(&self->mu);
    if (!self->registered && !self->fail_rc) {
        self->fail_rc = rc;
        snprintf(self->fail_msg, sizeof self->fail_msg, "%s: %s", what,
                 vl_client_errmsg(self->client));
        pthread_cond_broadcast(&self->cv);
    }
    pthread_mutex_unlock(&self->mu);
}

static bool s_stopping(vl_kgw_t *self)
{
    pthread_mutex_lock(&self->mu);
    bool stop = self->stop;
    pthread_mutex_unlock(&self->mu);
    return stop;
}

/*  Compaction, by the groups' coordinator only: every snapshot_every
    records a snapshot of the view (kov/gw.h), and once one is in the view
    (read back), a trim through the GLSN its state is at. */
static void s_compact(vl_kgw_t *self)
{
    pthread_mutex_lock(&self->mu);
    const vl_kgw_member_t *g = vl_kgw_view_group_owner(&self->view);
    bool mine = g && g->id == self->id && g->inc == self->inc && self->registered &&
                !self->view.need_base;
    uint64_t applied = self->view.applied, snap_p = self->view.snap_p;
    char *snap = NULL;
    size_t len = 0;
    if (mine && applied >= snap_p + self->snapshot_every && self->snap_sent_p <= snap_p)
        snap = vl_kgw_view_snapshot(&self->view, &len);
    pthread_mutex_unlock(&self->mu);
    if (!mine)
        return;
    if (snap) {
        const void *data = snap;
        if (vl_append(self->client, VL_KGW_META_TOPIC, 0, &data, &len, 1, NULL) == 0)
            self->snap_sent_p = applied;
        else
            vl_log(LOG_WARNING, "gateways: cannot append a snapshot to %s: %s; retrying",
                   VL_KGW_META_TOPIC, vl_client_errmsg(self->client));
        free(snap);
        return;
    }
    if (snap_p > self->trimmed_p) {
        int rc = vl_trim(self->client, VL_KGW_META_TOPIC, snap_p);
        if (rc == 0)
            self->trimmed_p = snap_p;
        else
            vl_log(LOG_WARNING, "gateways: cannot trim %s through GLSN %" PRIu64 ": %s",
                   VL_KGW_META_TOPIC, snap_p, vl_client_errmsg(self->client));
    }
}

/*  The topic was trimmed past what this replay reads next: a fresh view
    from the trim point (it starts from the snapshot there). */
static void s_restart_view(vl_kgw_t *self)
{
    pthread_mutex_lock(&self->mu);
    vl_kgw_view_free(&self->view);
    /* not an owner until the fresh view has this incarnation again (and
       not taken for dead meanwhile) */
    self->registered = false;
    pthread_mutex_unlock(&self->mu);
    vl_log(LOG_NOTICE, "gateways: %s was trimmed past this gateway's replay; replaying it "
                       "again from its snapshot",
           VL_KGW_META_TOPIC);
}

static void *s_thread(void *arg)
{
    vl_kgw_t *self = arg;
    vl_subscriber_t *sub = NULL;
    uint64_t next = 0; /* the GLSN to subscribe from (0: the trim point) */
    uint64_t hwm0 = 0; /* the topic's HWM when the replay began */
    while (!s_stopping(self)) {
        if (!sub) {
            int rc = vl_subscribe(self->client, VL_KGW_META_TOPIC, next, VL_GLSN_FOLLOW, &sub);
            /* after the subscription: a snapshot its trim point needs is below it */
            vl_topic_info_t info;
            if (rc == 0 && next == 0 && vl_topic_info(self->client, VL_KGW_META_TOPIC, &info) == 0)
                hwm0 = info.hwm;
            if (rc == VL_ETRIMMED) {
                s_restart_view(self);
                next = 0;
                continue;
            }
            if (rc != 0) {
                s_fail(self, rc, "cannot read " VL_KGW_META_TOPIC);
                zclock_sleep(200);
                continue;
            }
        }
        vl_entry_t e;
        int rc = vl_subscriber_next(sub, &e, S_POLL_MS);
        if (rc == 0) {
            s_apply(self, &e);
            next = e.glsn + 1;
            if (e.glsn >= hwm0)
                s_flush_held(self);
        } else if (rc == VL_ETRIMMED) {
            vl_subscriber_destroy(&sub);
            s_restart_view(self);
            next = 0;
            continue;
        } else if (rc != VL_ETIMEDOUT) {
            vl_log(LOG_WARNING, "gateways: reading %s failed (%s); subscribing again at %" PRIu64,
                   VL_KGW_META_TOPIC, vl_err_str(rc), next);
            vl_subscriber_destroy(&sub);
            continue;
        }
        int64_t now = vl_now_us();
        if (now >= self->next_hb_us)
            s_heartbeat(self, now);
        s_expire(self, now);
        s_compact(self);
    }
    vl_subscriber_destroy(&sub);
    return NULL;
}

int vl_kgw_start(vl_client_t *client, const vl_kgw_opts_t *opts, vl_kgw_t **self_p, char *err,
                 size_t err_size)
{
    vl_kgw_t *self = vl_calloc(1, sizeof *self);
    self->client = client;
    self->id = opts->id;
    snprintf(self->addr, sizeof self->addr, "%s", opts->addr);
    self->session_ms = opts->session_ms > 0 ? opts->session_ms : VL_KGW_SESSION_DEFAULT_MS;
    self->rf = opts->rf;
    self->snapshot_every = opts->snapshot_every ? opts->snapshot_every : VL_KGW_SNAPSHOT_EVERY;
    self->inc = vl_random_u64();
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    *self_p = self;
    int rc = s_ensure_topic(self);
    if (rc != 0) {
        snprintf(err, err_size, "cannot create the meta topic %s: %s", VL_KGW_META_TOPIC,
                 vl_client_errmsg(client));
        return rc;
    }
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        snprintf(err, err_size, "cannot start the gateways' thread");
        return VL_ENOMEM;
    }
    self->started = true;
    int64_t until = vl_now_us() + (int64_t)S_START_WAIT_MS * 1000;
    pthread_mutex_lock(&self->mu);
    while (!self->registered && vl_now_us() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&self->cv, &self->mu, &ts);
    }
    rc = self->registered ? 0 : self->fail_rc ? self->fail_rc : VL_ETIMEDOUT;
    if (rc)
        snprintf(err, err_size, "registering in %s: %s", VL_KGW_META_TOPIC,
                 self->fail_rc ? self->fail_msg : "not done within 30 s");
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void vl_kgw_stop(vl_kgw_t **self_p)
{
    vl_kgw_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        pthread_mutex_lock(&self->mu);
        self->stop = true;
        bool registered = self->registered;
        pthread_mutex_unlock(&self->mu);
        pthread_join(self->thread, NULL);
        if (registered) {
            char rec[128];
            snprintf(rec, sizeof rec, "kov.gw.leave %d %" PRIu64 "\n", self->id, self->inc);
            s_append(self, rec);
        }
    }
    vl_kgw_view_free(&self->view);
    free(self->expired_sent);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/*  Whether owner m is this incarnation with a valid lease (under mu). The
    lease matters only while another gateway is alive: none can expire us
    otherwise, and a gateway that joins takes its share through its own
    registration, in log order (so a lone gateway under a slow cluster does
    not refuse writes for heartbeats that are merely late). */
static bool s_is_me(vl_kgw_t *self, const vl_kgw_member_t *m)
{
    if (!m || m->id != self->id || m->inc != self->inc || !self->registered)
        return false;
    for (size_t i = 0; i < self->view.n; i++)
        if (self->view.m[i].alive && self->view.m[i].id != self->id)
            return vl_now_us() < self->lease_us;
    return true;
}

bool vl_kgw_owns_part(vl_kgw_t *self, const char *topic, int32_t *owner_p, uint64_t *epoch_p)
{
    pthread_mutex_lock(&self->mu);
    const vl_kgw_member_t *m = vl_kgw_view_part_owner(&self->view, topic);
    bool mine = s_is_me(self, m);
    if (owner_p)
        *owner_p = m ? m->id : -1;
    if (epoch_p)
        *epoch_p = self->view.epoch;
    pthread_mutex_unlock(&self->mu);
    return mine;
}

bool vl_kgw_owns_groups(vl_kgw_t *self, int32_t *owner_p, uint64_t *epoch_p)
{
    pthread_mutex_lock(&self->mu);
    const vl_kgw_member_t *m = vl_kgw_view_group_owner(&self->view);
    bool mine = s_is_me(self, m);
    if (owner_p)
        *owner_p = m ? m->id : -1;
    if (epoch_p)
        *epoch_p = self->view.epoch;
    pthread_mutex_unlock(&self->mu);
    return mine;
}

void vl_kgw_snapshot(vl_kgw_t *self, vl_kgw_view_t *out)
{
    pthread_mutex_lock(&self->mu);
    *out = self->view;
    out->m = NULL;
    out->held = NULL;
    out->nheld = out->held_cap = 0;
    out->cap = out->n;
    if (out->n) {
        out->m = vl_malloc(out->n * sizeof *out->m);
        memcpy(out->m, self->view.m, out->n * sizeof *out->m);
    }
    pthread_mutex_unlock(&self->mu);
}

int vl_kgw_member_addr(vl_kgw_t *self, int32_t id, char *host, size_t host_size, int *port)
{
    pthread_mutex_lock(&self->mu);
    const vl_kgw_member_t *m = vl_kgw_view_find(&self->view, id);
    int rc = m ? vl_kgw_split_addr(m->addr, host, host_size, port) : -1;
    pthread_mutex_unlock(&self->mu);
    return rc;
}
