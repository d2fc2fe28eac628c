/*  fetch.c - Fetch on varlog: a tail window per followed partition,
    catch-up readers for older offsets, watches for long polls.

    Tail: a following subscriber (a thread of its own, kp_follow_t) reads
    the partition from the HWM it saw at start on and hands the entries to
    the loop, which keeps them in a ring of consecutive GLSNs
    (window_bytes; the oldest go first) and wakes the watches they
    satisfy. A fetch inside the window is answered from memory on the loop
    thread (a RecordBatch built from the ring, no storage node involved).
    It starts on the first watch of the partition or the first fetch that
    reaches its tail, and stops after KP_FOLLOW_IDLE_MS without either.

    Older offsets: a catch-up reader on a worker (one MR request for the
    marks, then a subscriber from the offset on). The subscriber stays
    with the partition afterwards: consumers read sequentially, so the
    next fetch, which continues where it stopped, reuses it without a new
    subscription (KP_CATCHUP_IDLE_MS unused: closed).

    Watches (part.c) fire on every GLSN learnt: the follower's entries,
    this gateway's own produces, marks and catch-up reads. One hand-off
    per burst of entries (the follower queues while one is pending), so a
    busy partition costs no syscall per entry.
*/
#include <string.h>
#include <time.h>
#include "batch.h"
#include "part_i.h"
#include "util.h"

typedef struct {
    vl_kparts_t *kp;
    char topic[256];
    uint64_t glsn; /* the first wanted */
    size_t max_bytes;
    vl_kparts_fetch_cb_t *cb;
    void *arg;
    int rc;
    int16_t kerr;
    char msg[512];
    vl_kmarks_t marks;
    uint8_t *out;
    size_t out_len, out_cap;
    /* catch-up */
    vl_subscriber_t *sub;
    uint64_t next_glsn; /* what sub delivers next */
    uint64_t hwm;       /* the topic's, when read */
} kp_fetch_t;

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_fetch_free(kp_fetch_t *f)
{
    vl_subscriber_destroy(&f->sub);
    free(f->out);
    free(f);
}

/*  Calls f's callback (loop) and frees f. */
static void s_fetch_answer(void *arg)
{
    kp_fetch_t *f = arg;
    if (!f->kp->destroying)
        f->cb(f->arg, f->kerr, f->kerr ? NULL : &f->marks, f->out, f->out_len, f->msg);
    s_fetch_free(f);
}

/*  ---- the follower ------------------------------------------------------- */

static void s_follow_take(void *arg);

/*  Queues a hand-off of fl to the loop unless one is; mu held. */
static void s_follow_post_locked(kp_follow_t *fl)
{
    if (fl->posted)
        return;
    fl->posted = true;
    vl_kparts_post(fl->kp, s_follow_take, fl);
}

static void *s_follow_main(void *arg)
{
    kp_follow_t *fl = arg;
    vl_client_t *client = fl->kp->client;
    vl_subscriber_t *sub = NULL;
    int rc = 0;
    pthread_mutex_lock(&fl->mu);
    uint64_t start = fl->start_glsn;
    pthread_mutex_unlock(&fl->mu);
    if (start == 0) { /* from the HWM on */
        vl_topic_info_t info = {0};
        rc = vl_topic_info(client, fl->topic, &info);
        start = rc == 0 ? info.hwm + 1 : 0;
    }
    if (rc == 0)
        rc = vl_subscribe(client, fl->topic, start, VL_GLSN_FOLLOW, &sub);
    pthread_mutex_lock(&fl->mu);
    fl->start_glsn = start;
    s_follow_post_locked(fl); /* the loop learns the window's start */
    pthread_mutex_unlock(&fl->mu);
    while (rc == 0) {
        vl_entry_t e;
        rc = vl_subscriber_next(sub, &e, 250);
        pthread_mutex_lock(&fl->mu);
        bool stop = fl->stop;
        if (rc == 0) {
            if (fl->nents == fl->cap) {
                fl->cap = fl->cap ? fl->cap * 2 : 64;
                fl->ents = vl_realloc(fl->ents, fl->cap * sizeof *fl->ents);
            }
            kp_wentry_t *w = &fl->ents[fl->nents++];
            w->glsn = e.glsn;
            w->len = e.size;
            w->data = vl_malloc(e.size ? e.size : 1);
            memcpy(w->data, e.data, e.size);
            s_follow_post_locked(fl);
        }
        pthread_mutex_unlock(&fl->mu);
        if (stop)
            break;
        if (rc == VL_ETIMEDOUT) {
            int64_t used = __atomic_load_n(&fl->used_us, __ATOMIC_RELAXED);
            if (vl_now_us() - used < (int64_t)KP_FOLLOW_IDLE_MS * 1000)
                rc = 0;
        }
    }
    pthread_mutex_lock(&fl->mu);
    if (rc != 0 && rc != VL_ETIMEDOUT) {
        fl->rc = rc;
        snprintf(fl->msg, sizeof fl->msg, "%s", vl_client_errmsg(client));
    }
    fl->ended = true;
    s_follow_post_locked(fl);
    pthread_mutex_unlock(&fl->mu);
    vl_subscriber_destroy(&sub);
    return NULL;
}

static void s_win_clear(vl_kpart_t *part)
{
    for (size_t i = 0; i < part->win_n; i++)
        free(part->win[(part->win_head + i) % part->win_cap].data);
    part->win_n = part->win_head = part->win_bytes = 0;
    part->win_first = 0;
}

/*  Appends e (taken) to the ring, dropping the oldest past window_bytes. */
static void s_win_push(vl_kpart_t *part, kp_wentry_t *e)
{
    if (part->win_first == 0 || e->glsn != part->win_first + part->win_n) {
        s_win_clear(part); /* not the next one: start over */
        part->win_first = e->glsn;
    }
    if (part->win_n == part->win_cap) {
        size_t cap = part->win_cap ? part->win_cap * 2 : 256;
        kp_wentry_t *ring = vl_malloc(cap * sizeof *ring);
        for (size_t i = 0; i < part->win_n; i++)
            ring[i] = part->win[(part->win_head + i) % part->win_cap];
        free(part->win);
        part->win = ring;
        part->win_cap = cap;
        part->win_head = 0;
    }
    part->win[(part->win_head + part->win_n) % part->win_cap] = *e;
    part->win_n++;
    part->win_bytes += e->len;
    while (part->win_n > 1 && part->win_bytes > part->kp->o.window_bytes) {
        kp_wentry_t *old = &part->win[part->win_head];
        part->win_bytes -= old->len;
        free(old->data);
        part->win_head = (part->win_head + 1) % part->win_cap;
        part->win_n--;
        part->win_first++;
    }
}

static void s_follow_free(kp_follow_t *fl)
{
    for (size_t i = 0; i < fl->nents; i++)
        free(fl->ents[i].data);
    free(fl->ents);
    pthread_mutex_destroy(&fl->mu);
    free(fl);
}

static void s_follow_take(void *arg)
{
    kp_follow_t *fl = arg;
    pthread_mutex_lock(&fl->mu);
    kp_wentry_t *ents = fl->ents;
    size_t n = fl->nents;
    fl->ents = NULL;
    fl->nents = fl->cap = 0;
    fl->posted = false;
    bool ended = fl->ended;
    int rc = fl->rc;
    uint64_t start = fl->start_glsn;
    pthread_mutex_unlock(&fl->mu);
    vl_kpart_t *part = fl->part;
    if (fl->kp->destroying || !part) {
        for (size_t i = 0; i < n; i++)
            free(ents[i].data);
        free(ents);
        return; /* vl_kpart_fetch_free frees fl */
    }
    if (part->win_first == 0 && start > 0)
        part->win_first = start; /* an empty window at the tail */
    for (size_t i = 0; i < n; i++)
        s_win_push(part, &ents[i]);
    free(ents);
    if (n > 0)
        vl_kpart_committed(part, part->win_first + part->win_n - 1);
    if (!ended)
        return;
    pthread_join(fl->thread, NULL);
    part->follow = NULL;
    s_follow_free(fl);
    s_win_clear(part);                       /* no longer fed: it would go stale */
    if (rc == VL_ENOTOPIC || rc == VL_ENOLS) /* deleted (its log streams first) */
        vl_kpart_gone(part);
    else if (rc != 0)
        vl_kpart_wake_all(part); /* the fetches they wait for find out what failed */
    else
        vl_kpart_committed(part, part->hwm); /* watches the window held back */
}

void vl_kpart_follow(vl_kpart_t *part)
{
    if (part->follow)
        return;
    kp_follow_t *fl = vl_calloc(1, sizeof *fl);
    fl->part = part;
    fl->kp = part->kp;
    snprintf(fl->topic, sizeof fl->topic, "%s", part->topic);
    fl->used_us = vl_now_us();
    /* from the tail this gateway knows, else the HWM the thread reads */
    fl->start_glsn = part->hwm > 0 ? part->hwm + 1 : 0;
    pthread_mutex_init(&fl->mu, NULL);
    s_win_clear(part);
    if (pthread_create(&fl->thread, NULL, s_follow_main, fl) != 0) {
        s_follow_free(fl); /* fetches go to catch-up readers instead */
        return;
    }
    part->follow = fl;
    part->kp->stats.followers++;
}

void vl_kpart_fetch_stop(vl_kpart_t *part)
{
    kp_follow_t *fl = part->follow;
    if (fl && fl->part) { /* not stopped yet: vl_kparts_destroy stops, then frees */
        pthread_mutex_lock(&fl->mu);
        fl->stop = true;
        pthread_mutex_unlock(&fl->mu);
        pthread_join(fl->thread, NULL);
        fl->part = NULL; /* a hand-off still queued only frees its entries */
    }
    vl_subscriber_destroy(&part->catchup.sub);
}

void vl_kpart_fetch_free(vl_kpart_t *part)
{
    vl_kpart_fetch_stop(part);
    if (part->follow)
        s_follow_free(part->follow);
    part->follow = NULL;
    s_win_clear(part);
    free(part->win);
    part->win = NULL;
    /* watches not fired: their callers unwatch before they go (part.h) */
    while (part->watches) {
        vl_kwatch_t *w = part->watches;
        part->watches = w->next;
        free(w);
    }
}

void vl_kparts_fetch_housekeep(vl_kparts_t *self, int64_t now_us)
{
    for (vl_kpart_t *part = zhashx_first(self->parts); part; part = zhashx_next(self->parts))
        if (part->catchup.sub && !part->catchup.busy &&
            now_us - part->catchup.used_us > (int64_t)KP_CATCHUP_IDLE_MS * 1000)
            vl_subscriber_destroy(&part->catchup.sub);
}

/*  ---- fetch ---------------------------------------------------------------- */

/*  Answers f from the window when it holds f->glsn (or f->glsn is the
    next GLSN and nothing is known past it). Returns false otherwise. */
static bool s_from_window(vl_kpart_t *part, kp_fetch_t *f)
{
    if (!part->follow || part->win_first == 0)
        return false;
    uint64_t end = part->win_first + part->win_n; /* the next GLSN */
    if (f->glsn < part->win_first || f->glsn > end || (f->glsn == end && part->hwm >= end))
        return false;
    f->marks.high_watermark = (int64_t)part->hwm;
    f->marks.log_start = part->trim_glsn > 1 ? (int64_t)part->trim_glsn - 1 : 0;
    size_t n = 0, bytes = 0;
    while (f->glsn + n < end && (n == 0 || bytes < f->max_bytes)) {
        const kp_wentry_t *e =
            &part->win[(part->win_head + (f->glsn + n - part->win_first)) % part->win_cap];
        if (n > 0 && bytes + e->len > f->max_bytes)
            break;
        bytes += e->len;
        n++;
    }
    if (n > 0) {
        const void **data = vl_malloc(n * sizeof *data);
        size_t *len = vl_malloc(n * sizeof *len);
        for (size_t i = 0; i < n; i++) {
            const kp_wentry_t *e =
                &part->win[(part->win_head + (f->glsn + i - part->win_first)) % part->win_cap];
            data[i] = e->data;
            len[i] = e->len;
        }
        vl_kbatch_build((int64_t)f->glsn - 1, data, len, n, s_wall_ms(), &f->out, &f->out_len,
                        &f->out_cap);
        free(data);
        free(len);
    }
    part->kp->stats.fetch_window++;
    vl_kparts_post(part->kp, s_fetch_answer, f);
    return true;
}

/*  Reads f's entries on a worker: the marks, then the entries from a
    subscriber (f->sub when it continues there, else a new one). */
static void s_catchup_work(void *arg, vl_client_t *client)
{
    kp_fetch_t *f = arg;
    vl_topic_info_t info;
    f->rc = vl_topic_info(client, f->topic, &info);
    if (f->rc != 0)
        goto fail;
    f->hwm = info.hwm;
    f->marks.high_watermark = (int64_t)info.hwm;
    f->marks.log_start = info.trim_glsn > 1 ? (int64_t)info.trim_glsn - 1 : 0;
    if (f->glsn < info.trim_glsn || f->glsn > info.hwm + 1) {
        f->rc = VL_ERANGE;
        snprintf(f->msg, sizeof f->msg,
                 "fetch topic=%s offset=%llu: out of range; the partition holds offsets %lld "
                 "to %lld",
                 f->topic, (unsigned long long)f->glsn - 1, (long long)f->marks.log_start,
                 (long long)info.hwm - 1);
        return;
    }
    if (f->glsn == info.hwm + 1)
        return; /* at the end: nothing yet */
    if (!f->sub || f->next_glsn != f->glsn) {
        vl_subscriber_destroy(&f->sub);
        f->rc = vl_subscribe(client, f->topic, f->glsn, VL_GLSN_FOLLOW, &f->sub);
        if (f->rc != 0)
            goto fail;
        __atomic_add_fetch(&f->kp->stats.catchup_opened, 1, __ATOMIC_RELAXED);
        f->next_glsn = f->glsn;
    }
    /* the entries are copied (a subscriber's are valid until its next
       call), then built into one batch */
    uint8_t *buf = NULL;
    size_t *len = NULL, n = 0, bytes = 0, cap = 0, lcap = 0;
    while (f->next_glsn <= info.hwm && (n == 0 || bytes < f->max_bytes)) {
        vl_entry_t e;
        f->rc = vl_subscriber_next(f->sub, &e, KP_READ_TIMEOUT_MS);
        if (f->rc != 0)
            break;
        f->next_glsn = e.glsn + 1;
        if (bytes + e.size > cap) {
            cap = (bytes + e.size) * 2;
            buf = vl_realloc(buf, cap ? cap : 1);
        }
        if (n == lcap) {
            lcap = lcap ? lcap * 2 : 256;
            len = vl_realloc(len, lcap * sizeof *len);
        }
        memcpy(buf + bytes, e.data, e.size);
        len[n++] = e.size;
        bytes += e.size;
        if (n > 0 && bytes >= f->max_bytes)
            break;
    }
    if (f->rc != 0) /* it fails every later call too */
        vl_subscriber_destroy(&f->sub);
    if (n > 0) {
        const void **data = vl_malloc(n * sizeof *data);
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            data[i] = buf + at;
            at += len[i];
        }
        vl_kbatch_build((int64_t)f->glsn - 1, data, len, n, s_wall_ms(), &f->out, &f->out_len,
                        &f->out_cap);
        free(data);
        f->rc = 0; /* what was read is answered; the error comes next time */
    }
    free(buf);
    free(len);
    if (f->rc == 0 || n > 0)
        return;
fail:
    snprintf(f->msg, sizeof f->msg, "fetch topic=%s offset=%llu: %s", f->topic,
             (unsigned long long)f->glsn - 1, vl_client_errmsg(client));
    vl_subscriber_destroy(&f->sub);
}

static void s_catchup_done(void *arg)
{
    kp_fetch_t *f = arg;
    vl_kpart_t *part = f->kp->destroying ? NULL : zhashx_lookup(f->kp->parts, f->topic);
    if (part) {
        part->catchup.busy = false;
        if (f->rc == 0) {
            vl_kpart_committed(part, f->hwm);
            part->trim_glsn = (uint64_t)f->marks.log_start + 1;
            /* the reader stays for the next fetch, which begins where it stopped */
            if (f->sub) { /* the newer position replaces an older reader */
                vl_subscriber_destroy(&part->catchup.sub);
                part->catchup.sub = f->sub;
                part->catchup.next_glsn = f->next_glsn;
                part->catchup.used_us = vl_now_us();
                f->sub = NULL;
            }
            /* a consumer at the tail: follow it from here */
            if (f->next_glsn > f->hwm || f->glsn == f->hwm + 1)
                vl_kpart_follow(part);
        } else if (f->rc == VL_ENOTOPIC)
            vl_kpart_gone(part);
    }
    f->kerr = vl_kparts_kerr(f->rc);
    s_fetch_answer(f);
}

void vl_kparts_fetch(vl_kparts_t *self, const char *topic, int64_t offset, size_t max_bytes,
                     vl_kparts_fetch_cb_t *cb, void *arg)
{
    vl_kpart_t *part = vl_kpart_get(self, topic);
    kp_fetch_t *f = vl_calloc(1, sizeof *f);
    f->kp = self;
    snprintf(f->topic, sizeof f->topic, "%s", topic);
    f->glsn = offset < 0 ? 0 : (uint64_t)offset + 1;
    f->max_bytes = max_bytes;
    f->cb = cb;
    f->arg = arg;
    part->fetched_us = vl_now_us();
    if (part->follow)
        __atomic_store_n(&part->follow->used_us, part->fetched_us, __ATOMIC_RELAXED);
    if (offset < 0) {
        f->kerr = KERR_OFFSET_OUT_OF_RANGE;
        snprintf(f->msg, sizeof f->msg, "fetch topic=%s: offset %lld is negative", topic,
                 (long long)offset);
        vl_kparts_post(self, s_fetch_answer, f);
        return;
    }
    if (s_from_window(part, f))
        return;
    /* the partition's reader when it stopped right here and is idle */
    if (part->catchup.sub && !part->catchup.busy && part->catchup.next_glsn == f->glsn) {
        f->sub = part->catchup.sub;
        f->next_glsn = part->catchup.next_glsn;
        part->catchup.sub = NULL;
    }
    part->catchup.busy = true;
    self->stats.fetch_catchup++;
    vl_kparts_run_own(self, s_catchup_work, s_catchup_done, f, true);
}
