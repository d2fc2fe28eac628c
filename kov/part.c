/*  part.c - the gateway's data path: the module, its thread pool, the
    hand-off of results to the loop thread, the partitions table and marks.

    The module shares the caller's vl_client_t among its threads: a
    client serialises its calls, but the calls this module makes through
    it are short metadata requests (topic info, create, trim, the meta
    topic's appends); appenders and subscribers take a route snapshot from
    it and then use sockets and threads of their own, so the data path
    never waits for the client's lock.

    produce.c appends, pid.c allocates producer ids, fetch.c reads (part_i.h
    says who owns what).
*/
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "client_i.h"
#include "part_i.h"
#include "util.h"

void vl_kparts_post(vl_kparts_t *self, vl_kparts_post_fn *fn, void *arg)
{
    kp_post_t *p = vl_malloc(sizeof *p);
    *p = (kp_post_t){.fn = fn, .arg = arg};
    pthread_mutex_lock(&self->post_mu);
    bool was_empty = self->posts == NULL;
    *self->posts_tail = p;
    self->posts_tail = &p->next;
    pthread_mutex_unlock(&self->post_mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t rc = write(self->efd, &one, sizeof one);
        (void)rc; /* EAGAIN: already readable */
    }
}

int16_t vl_kparts_kerr(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case VL_ENOTOPIC:
    case VL_ENAME:
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    case VL_ETOOBIG:
        return KERR_MESSAGE_TOO_LARGE;
    case VL_ETRIMMED:
    case VL_ERANGE:
        return KERR_OFFSET_OUT_OF_RANGE;
    case VL_ETIMEDOUT:
        /* retriable for librdkafka and kafka-python alike; the batch may
           still be committed later (an idempotent producer's retry is
           then recognised while this gateway keeps its state) */
        return KERR_REQUEST_TIMED_OUT;
    case VL_ESEALED:
    case VL_ENOLS:
    case VL_EUNAVAIL:
    case VL_ESTALE:
    case VL_ENOTLEADER:
    case VL_EIO:
    case VL_ECLOSED:
        /* nothing of the batch is in the log: retriable everywhere */
        return KERR_NOT_ENOUGH_REPLICAS;
    case VL_ENOSPC:
    case VL_ESTORE:
        return KERR_KAFKA_STORAGE_ERROR;
    default:
        return KERR_UNKNOWN_SERVER_ERROR;
    }
}

/*  ---- threads ------------------------------------------------------------ */

static void s_job_done(void *arg)
{
    kp_job_t *job = arg;
    /* at destroy only the module's own results run (to free them) */
    if (job->done && (job->own || !job->kp->destroying))
        job->done(job->arg);
    free(job);
}

static void *s_worker(void *arg)
{
    vl_kparts_t *self = arg;
    for (;;) {
        pthread_mutex_lock(&self->job_mu);
        while (!self->stopping && !self->jobs)
            pthread_cond_wait(&self->job_cv, &self->job_mu);
        if (self->stopping) {
            pthread_mutex_unlock(&self->job_mu);
            return NULL;
        }
        kp_job_t *job = self->jobs;
        self->jobs = job->next;
        if (!self->jobs)
            self->jobs_tail = &self->jobs;
        pthread_mutex_unlock(&self->job_mu);
        job->work(job->arg, self->client);
        vl_kparts_post(self, s_job_done, job);
    }
}

void vl_kparts_run_own(vl_kparts_t *self, vl_kparts_work_fn *work, vl_kparts_done_fn *done,
                       void *arg, bool own)
{
    kp_job_t *job = vl_malloc(sizeof *job);
    *job = (kp_job_t){.kp = self, .work = work, .done = done, .arg = arg, .own = own};
    pthread_mutex_lock(&self->job_mu);
    *self->jobs_tail = job;
    self->jobs_tail = &job->next;
    pthread_cond_signal(&self->job_cv);
    pthread_mutex_unlock(&self->job_mu);
}

void vl_kparts_run(vl_kparts_t *self, vl_kparts_work_fn *work, vl_kparts_done_fn *done, void *arg)
{
    vl_kparts_run_own(self, work, done, arg, false);
}

/*  ---- the module --------------------------------------------------------- */

static void s_part_free(void **item)
{
    vl_kpart_t *part = *item;
    if (!part)
        return;
    vl_kpart_fetch_free(part);
    vl_kpart_produce_free(part);
    free(part);
    *item = NULL;
}

int vl_kparts_new(vl_client_t *client, const vl_kparts_opts_t *opts, vl_kparts_t **self_p)
{
    *self_p = NULL;
    vl_kparts_t *self = vl_calloc(1, sizeof *self);
    self->client = client;
    if (opts)
        self->o = *opts;
    if (self->o.workers <= 0)
        self->o.workers = 4;
    if (self->o.window_bytes == 0)
        self->o.window_bytes = (size_t)32 << 20;
    snprintf(self->meta_topic, sizeof self->meta_topic, "%s",
             self->o.meta_topic ? self->o.meta_topic : "__kov_meta");
    self->o.meta_topic = self->meta_topic;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) {
        int rc = vl_client_fail(client, VL_EIO, "kov: eventfd: %s", strerror(errno));
        free(self);
        return rc;
    }
    pthread_mutex_init(&self->post_mu, NULL);
    pthread_mutex_init(&self->job_mu, NULL);
    pthread_cond_init(&self->job_cv, NULL);
    self->posts_tail = &self->posts;
    self->jobs_tail = &self->jobs;
    self->pid_reqs_tail = &self->pid_reqs;
    self->parts = zhashx_new();
    zhashx_set_destructor(self->parts, s_part_free);
    self->threads = vl_calloc((size_t)self->o.workers, sizeof *self->threads);
    for (int i = 0; i < self->o.workers; i++) {
        if (pthread_create(&self->threads[i], NULL, s_worker, self) != 0)
            break;
        self->nthreads++;
    }
    if (self->nthreads == 0) {
        int rc = vl_client_fail(client, VL_EIO, "kov: cannot start a worker thread: %s",
                                strerror(errno));
        vl_kparts_destroy(&self);
        return rc;
    }
    *self_p = self;
    return 0;
}

/*  Runs the queued hand-offs (loop thread, or destroy). */
static void s_drain(vl_kparts_t *self)
{
    pthread_mutex_lock(&self->post_mu);
    kp_post_t *p = self->posts;
    self->posts = NULL;
    self->posts_tail = &self->posts;
    pthread_mutex_unlock(&self->post_mu);
    while (p) {
        kp_post_t *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
}

void vl_kparts_destroy(vl_kparts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_kparts_t *self = *self_p;
    /* From here on no caller's callback runs; the module's own hand-offs
       only free what they carry. Followers and appenders stop first
       (destroying an appender waits for its callbacks, which post), then
       the workers; then what they posted is drained, then the partitions
       go. */
    self->destroying = true;
    if (self->parts)
        for (vl_kpart_t *part = zhashx_first(self->parts); part; part = zhashx_next(self->parts)) {
            vl_kpart_fetch_stop(part);
            vl_appender_destroy(&part->app);
        }
    pthread_mutex_lock(&self->job_mu);
    self->stopping = true;
    pthread_cond_broadcast(&self->job_cv);
    pthread_mutex_unlock(&self->job_mu);
    for (int i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    free(self->threads);
    /* jobs never started: the module's own free their arguments */
    while (self->jobs) {
        kp_job_t *job = self->jobs;
        self->jobs = job->next;
        s_job_done(job);
    }
    while (self->posts) /* what they post in turn too */
        s_drain(self);
    zhashx_destroy(&self->parts);
    while (self->posts)
        s_drain(self);
    vl_kparts_pid_free(self);
    pthread_cond_destroy(&self->job_cv);
    pthread_mutex_destroy(&self->job_mu);
    pthread_mutex_destroy(&self->post_mu);
    close(self->efd);
    free(self);
    *self_p = NULL;
}

int vl_kparts_fd(vl_kparts_t *self)
{
    return self->efd;
}

void vl_kparts_dispatch(vl_kparts_t *self)
{
    uint64_t v;
    ssize_t rc = read(self->efd, &v, sizeof v);
    (void)rc;
    s_drain(self);
    int64_t now = vl_now_us();
    if (now - self->housekeep_us >= 1000000) {
        self->housekeep_us = now;
        vl_kparts_fetch_housekeep(self, now);
    }
}

/*  ---- partitions --------------------------------------------------------- */

vl_kpart_t *vl_kpart_get(vl_kparts_t *self, const char *topic)
{
    vl_kpart_t *part = zhashx_lookup(self->parts, topic);
    if (part)
        return part;
    part = vl_calloc(1, sizeof *part);
    part->kp = self;
    snprintf(part->topic, sizeof part->topic, "%s", topic);
    part->waiting_tail = &part->waiting;
    part->fetched_us = vl_now_us();
    zhashx_insert(self->parts, part->topic, part);
    return part;
}

static void s_watch_fire(void *arg)
{
    vl_kwatch_t *w = arg;
    if (!w->cancelled && !w->kp->destroying)
        w->cb(w->arg);
    free(w);
}

/*  Posts the watches of part that wait for at most glsn (all: UINT64_MAX). */
static void s_watches_fire(vl_kpart_t *part, uint64_t glsn)
{
    vl_kwatch_t **wp = &part->watches;
    while (*wp) {
        vl_kwatch_t *w = *wp;
        if (w->glsn <= glsn) {
            *wp = w->next;
            w->fired = true;
            w->part = NULL;
            vl_kparts_post(part->kp, s_watch_fire, w);
        } else
            wp = &w->next;
    }
}

void vl_kpart_committed(vl_kpart_t *part, uint64_t glsn)
{
    if (glsn > part->hwm) {
        part->hwm = glsn;
        part->gone = false;
    }
    /* While a follower feeds the window, watches fire as it delivers (at
       most a few ms after an append's answer): the fetch a watch wakes is
       then answered from memory, not by a new catch-up reader. */
    uint64_t upto = part->hwm;
    if (part->follow)
        upto = part->win_first ? part->win_first + part->win_n - 1 : 0;
    s_watches_fire(part, upto);
}

void vl_kpart_gone(vl_kpart_t *part)
{
    part->gone = true;
    part->hwm = 0; /* a topic made again under the name starts over */
    /* its appender knows the old topic's log streams only: a new one for
       the next produce (which finds out whether the topic exists) */
    if (part->app && part->inflight_entries == 0)
        vl_appender_destroy(&part->app); /* nothing in flight: no wait */
    else if (part->app)
        part->app_stale = true;
    s_watches_fire(part, UINT64_MAX);
}

void vl_kpart_wake_all(vl_kpart_t *part)
{
    s_watches_fire(part, UINT64_MAX);
}

vl_kwatch_t *vl_kparts_watch(vl_kparts_t *self, const char *topic, int64_t offset,
                             vl_kparts_watch_cb_t *cb, void *arg)
{
    vl_kpart_t *part = vl_kpart_get(self, topic);
    vl_kwatch_t *w = vl_calloc(1, sizeof *w);
    *w = (vl_kwatch_t){.kp = self,
                       .part = part,
                       .glsn = offset < 0 ? 1 : (uint64_t)offset + 1,
                       .cb = cb,
                       .arg = arg};
    part->fetched_us = vl_now_us();
    if (part->follow)
        __atomic_store_n(&part->follow->used_us, part->fetched_us, __ATOMIC_RELAXED);
    if (part->hwm >= w->glsn) {
        w->fired = true;
        w->part = NULL;
        vl_kparts_post(self, s_watch_fire, w);
        return w;
    }
    w->next = part->watches;
    part->watches = w;
    /* another writer's commits wake it too; the follower also finds out
       whether the topic is (still) gone, and then fires it */
    part->gone = false;
    vl_kpart_follow(part);
    return w;
}

void vl_kparts_unwatch(vl_kparts_t *self, vl_kwatch_t **watch_p)
{
    (void)self;
    if (!watch_p || !*watch_p)
        return;
    vl_kwatch_t *w = *watch_p;
    *watch_p = NULL;
    if (w->fired) {
        w->cancelled = true; /* its post frees it */
        return;
    }
    for (vl_kwatch_t **wp = &w->part->watches; *wp; wp = &(*wp)->next)
        if (*wp == w) {
            *wp = w->next;
            break;
        }
    free(w);
}

/*  ---- marks -------------------------------------------------------------- */

typedef struct {
    vl_kparts_t *kp;
    char topic[256];
    vl_kparts_marks_cb_t *cb;
    void *arg;
    int rc;
    vl_topic_info_t info;
    char msg[512];
} kp_marks_t;

static void s_marks_work(void *arg, vl_client_t *client)
{
    kp_marks_t *m = arg;
    m->rc = vl_topic_info(client, m->topic, &m->info);
    if (m->rc != 0)
        snprintf(m->msg, sizeof m->msg, "%s", vl_client_errmsg(client));
}

static void s_marks_done(void *arg)
{
    kp_marks_t *m = arg;
    if (m->kp->destroying) {
        free(m);
        return;
    }
    vl_kpart_t *part = vl_kpart_get(m->kp, m->topic);
    if (m->rc == VL_ENOTOPIC)
        vl_kpart_gone(part);
    if (m->rc != 0) {
        m->cb(m->arg, vl_kparts_kerr(m->rc), NULL, m->msg);
        free(m);
        return;
    }
    vl_kpart_committed(part, m->info.hwm);
    part->trim_glsn = m->info.trim_glsn;
    /* read-your-writes: what this gateway saw committed counts too (an
       append answered after the MR's answer was made) */
    vl_kmarks_t marks = {.high_watermark = (int64_t)part->hwm,
                         .log_start = m->info.trim_glsn > 0 ? (int64_t)m->info.trim_glsn - 1 : 0};
    m->cb(m->arg, 0, &marks, "");
    free(m);
}

void vl_kparts_marks(vl_kparts_t *self, const char *topic, vl_kparts_marks_cb_t *cb, void *arg)
{
    kp_marks_t *m = vl_calloc(1, sizeof *m);
    m->kp = self;
    snprintf(m->topic, sizeof m->topic, "%s", topic);
    m->cb = cb;
    m->arg = arg;
    vl_kparts_run_own(self, s_marks_work, s_marks_done, m, true);
}

void vl_kparts_stats(vl_kparts_t *self, vl_kparts_stats_t *stats)
{
    *stats = self->stats;
    stats->catchup_opened = __atomic_load_n(&self->stats.catchup_opened, __ATOMIC_RELAXED);
}
