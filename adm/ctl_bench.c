/*  ctl_bench.c - varlogctl bench: the load generator.

    Three modes share one run loop:

    - append: appender threads (in --procs processes when asked) write
      --size byte entries for --warmup + --duration seconds, pipelined
      through a vl_appender each, or one vl_append per batch with
      --blocking. Append-to-commit latency is the time from handing an
      entry over (vl_appender_append, or the start of vl_append) to its
      callback (or vl_append's return): queueing in the client included,
      because that is what an application waits for.
    - e2e: append plus --subscribers following subscribers (default 1)
      that start at the high watermark. Every payload begins with a 24 byte
      header (monotonic submit time in ns, sequence, appender id, magic), so
      a subscriber computes append-to-visible latency from the entry alone.
      CLOCK_MONOTONIC is system-wide on Linux, so this also holds across
      --procs processes on one machine.
    - subscribe: --subscribers bounded readers of the topic from its trim
      point to its high watermark: the global-order catch-up read rate.

    Throughput is measured between two snapshots of the counters taken at
    the end of the warm-up and at the end of the run, so start-up and the
    final drain do not count; latencies are recorded for entries submitted
    inside that window only. The same snapshots read the CPU time of this
    process (getrusage) and of each daemon named by --pids or --run-dir
    (/proc/PID/stat utime+stime), so the CPU figures cover the same window.

    Latencies go into log-linear histograms (64 sub-buckets per power of
    two, < 1.6 % error), one per thread, merged at the end: recording costs
    no lock and no allocation. The appender's callback has no per-appender
    argument, so it finds its histogram through a thread-local pointer:
    each vl_appender calls back from its own thread.

    --procs forks the appender processes before this process touches
    ZeroMQ (a forked ZeroMQ context does not work); each child opens its
    own client, reports ready over a socketpair, receives the window from
    the parent and sends its counters and histogram back at the end.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ctl_bench_i.h"
#include "util.h"
#include "varlog.h"

#define S_HDR_SIZE 24
#define S_MAGIC 0x4e424c56u /* "VLBN" */
#define S_MAX_PROCS 64
#define S_MAX_THREADS 256
#define S_DRAIN_NS (10 * 1000000000LL) /* subscribers catch up within this */

/* ---- latency histogram --------------------------------------------------------- */

static size_t s_hist_index(uint64_t v)
{
    if (v < VL_CTL_BENCH_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    /* the top VL_CTL_BENCH_SUB_BITS+1 bits of v, leading one dropped */
    size_t sub = (size_t)(v >> (msb - VL_CTL_BENCH_SUB_BITS)) - VL_CTL_BENCH_SUB;
    return (size_t)(msb - VL_CTL_BENCH_SUB_BITS + 1) * VL_CTL_BENCH_SUB + sub;
}

static void s_hist_add(vl_ctl_bench_hist_t *h, uint64_t v, uint64_t times)
{
    h->count[s_hist_index(v)] += times;
    h->n += times;
}

static void s_hist_merge(vl_ctl_bench_hist_t *into, const vl_ctl_bench_hist_t *from)
{
    for (size_t i = 0; i < VL_CTL_BENCH_HIST_N; i++)
        into->count[i] += from->count[i];
    into->n += from->n;
}

/* ---- configuration and shared state ----------------------------------------------- */

/*  Counters of one thread (an appender, an appender's callback thread or a
    subscriber). entries and errors are read by the main thread while the
    owner writes them: atomics. The histogram is read after the owner has
    stopped. */
typedef struct s_stats {
    uint64_t entries;
    uint64_t errors;
    vl_ctl_bench_hist_t hist;
    struct s_stats *next;
} s_stats_t;

enum { S_KIND_APPEND, S_KIND_SUB };

static struct {
    const vl_ctl_bench_cfg_t *cfg;
    pthread_mutex_t lock;
    s_stats_t *stats[2];   /* registered per kind */
    int64_t t_warm, t_end; /* the measured window, CLOCK_MONOTONIC ns */
    int stop;              /* atomic: subscribers stop */
    uint32_t subs_done;    /* atomic: subscribers out of their loop */
    int first_rc;          /* first error, with its message */
    char first_err[512];
    pthread_barrier_t ready, go;
} s_run = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void s_sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static s_stats_t *s_stats_new(int kind)
{
    s_stats_t *st = vl_calloc(1, sizeof *st);
    pthread_mutex_lock(&s_run.lock);
    st->next = s_run.stats[kind];
    s_run.stats[kind] = st;
    pthread_mutex_unlock(&s_run.lock);
    return st;
}

static uint64_t s_total(int kind, bool errors)
{
    uint64_t n = 0;
    pthread_mutex_lock(&s_run.lock);
    for (s_stats_t *st = s_run.stats[kind]; st; st = st->next)
        n += __atomic_load_n(errors ? &st->errors : &st->entries, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s_run.lock);
    return n;
}

static void s_merged_hist(int kind, vl_ctl_bench_hist_t *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_lock(&s_run.lock);
    for (s_stats_t *st = s_run.stats[kind]; st; st = st->next)
        s_hist_merge(h, &st->hist);
    pthread_mutex_unlock(&s_run.lock);
}

static void s_stats_free(void)
{
    for (int k = 0; k < 2; k++)
        while (s_run.stats[k]) {
            s_stats_t *next = s_run.stats[k]->next;
            free(s_run.stats[k]);
            s_run.stats[k] = next;
        }
}

/*  Remembers the first error of the run (the one the user should see). */
static void s_note_text(int rc, const char *text)
{
    pthread_mutex_lock(&s_run.lock);
    if (!s_run.first_rc) {
        s_run.first_rc = rc;
        snprintf(s_run.first_err, sizeof s_run.first_err, "%s", text);
    }
    pthread_mutex_unlock(&s_run.lock);
}

static void s_note_error(int rc, vl_client_t *client, const char *what)
{
    const char *detail = client ? vl_client_errmsg(client) : NULL;
    char text[sizeof s_run.first_err];
    snprintf(text, sizeof text, "%s: %s", what, detail && *detail ? detail : vl_err_str(rc));
    s_note_text(rc, text);
}

/*  The fewest entries any subscriber has seen (UINT64_MAX without any). */
static uint64_t s_min_sub_entries(void)
{
    uint64_t n = UINT64_MAX;
    pthread_mutex_lock(&s_run.lock);
    for (s_stats_t *st = s_run.stats[S_KIND_SUB]; st; st = st->next) {
        uint64_t e = __atomic_load_n(&st->entries, __ATOMIC_RELAXED);
        if (e < n)
            n = e;
    }
    pthread_mutex_unlock(&s_run.lock);
    return n;
}

static bool s_stopped(void)
{
    return __atomic_load_n(&s_run.stop, __ATOMIC_RELAXED) != 0;
}

/* ---- payload ------------------------------------------------------------------------- */

/*  Writes the header of an entry: submit time, sequence, appender, magic.
    Entries shorter than the header carry no timestamp. */
static void s_stamp(uint8_t *p, size_t size, int64_t ts, uint64_t seq, uint32_t id)
{
    if (size < S_HDR_SIZE)
        return;
    vl_put_le64(p, (uint64_t)ts);
    vl_put_le64(p + 8, seq);
    vl_put_le32(p + 16, id);
    vl_put_le32(p + 20, S_MAGIC);
}

static void s_fill(uint8_t *p, size_t size)
{
    /* printable, no newline, so a bench topic reads well through varlogfs */
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)('a' + i % 26);
}

/* ---- appenders ------------------------------------------------------------------------ */

typedef struct {
    uint32_t id;
    pthread_t thread;
    bool started;
} s_worker_t;

static int s_open_client(vl_client_t **client_p)
{
    char err[512] = "";
    vl_client_opts_t opts = {.timeout_ms = s_run.cfg->timeout_ms};
    int rc = vl_client_open(s_run.cfg->mr, &opts, client_p, err, sizeof err);
    if (rc != 0) {
        pthread_mutex_lock(&s_run.lock);
        if (!s_run.first_rc) {
            s_run.first_rc = rc;
            if (strstr(err, "VARLOG_MR")) /* the library said it all */
                snprintf(s_run.first_err, sizeof s_run.first_err, "%s", err);
            else
                snprintf(s_run.first_err, sizeof s_run.first_err,
                         "cannot open the cluster at %s: %s (set --mr or VARLOG_MR)", s_run.cfg->mr,
                         err[0] ? err : vl_err_str(rc));
        }
        pthread_mutex_unlock(&s_run.lock);
    }
    return rc;
}

static __thread s_stats_t *s_cb_stats;

/*  The appender's callback: cb_arg is the entry's submit time. */
static void s_on_commit(void *arg, int rc, uint64_t glsn, uint64_t offset)
{
    (void)glsn;
    (void)offset;
    if (!s_cb_stats)
        s_cb_stats = s_stats_new(S_KIND_APPEND);
    if (rc != 0) {
        __atomic_fetch_add(&s_cb_stats->errors, 1, __ATOMIC_RELAXED);
        return; /* the appender's flush names the error */
    }
    __atomic_fetch_add(&s_cb_stats->entries, 1, __ATOMIC_RELAXED);
    int64_t ts = (int64_t)(uintptr_t)arg;
    if (ts >= s_run.t_warm && ts < s_run.t_end)
        s_hist_add(&s_cb_stats->hist, (uint64_t)(s_now_ns() - ts), 1);
}

static void s_run_pipelined(vl_client_t *client, vl_appender_t *app, uint32_t id)
{
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    uint8_t *buf = vl_malloc(cfg->size ? cfg->size : 1);
    s_fill(buf, cfg->size);
    uint64_t seq = 0;
    int rc = 0;
    while (rc == 0 && s_now_ns() < s_run.t_end && !s_stopped()) {
        for (int k = 0; k < 64 && rc == 0; k++) {
            int64_t ts = s_now_ns();
            s_stamp(buf, cfg->size, ts, seq++, id);
            rc = vl_appender_append(app, buf, cfg->size, (void *)(uintptr_t)ts);
        }
    }
    if (rc != 0)
        s_note_error(rc, client, "append");
    rc = vl_appender_flush(app);
    if (rc != 0)
        s_note_error(rc, client, "append");
    free(buf);
}

static void s_run_blocking(vl_client_t *client, uint32_t id)
{
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    s_stats_t *st = s_stats_new(S_KIND_APPEND);
    size_t sz = cfg->size ? cfg->size : 1;
    uint8_t *buf = vl_malloc(sz * cfg->batch);
    const void **data = vl_calloc(cfg->batch, sizeof *data);
    size_t *len = vl_calloc(cfg->batch, sizeof *len);
    for (uint32_t k = 0; k < cfg->batch; k++) {
        data[k] = buf + (size_t)k * sz;
        len[k] = cfg->size;
        s_fill(buf + (size_t)k * sz, cfg->size);
    }
    uint64_t seq = 0;
    while (s_now_ns() < s_run.t_end && !s_stopped()) {
        int64_t ts = s_now_ns();
        for (uint32_t k = 0; k < cfg->batch; k++)
            s_stamp(buf + (size_t)k * sz, cfg->size, ts, seq++, id);
        int rc = vl_append(client, cfg->topic, cfg->ls_id, data, len, cfg->batch, NULL);
        if (rc != 0) {
            __atomic_fetch_add(&st->errors, cfg->batch, __ATOMIC_RELAXED);
            s_note_error(rc, client, "append");
            break;
        }
        int64_t done = s_now_ns();
        __atomic_fetch_add(&st->entries, cfg->batch, __ATOMIC_RELAXED);
        if (ts >= s_run.t_warm && ts < s_run.t_end)
            s_hist_add(&st->hist, (uint64_t)(done - ts), cfg->batch);
    }
    free(len);
    free(data);
    free(buf);
}

static void *s_appender_main(void *arg)
{
    s_worker_t *w = arg;
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    vl_client_t *client = NULL;
    vl_appender_t *app = NULL;
    int rc = s_open_client(&client);
    if (rc == 0 && !cfg->blocking) {
        vl_appender_opts_t opts = {
            .ls_id = cfg->ls_id,
            .batch_entries = cfg->batch,
            .batch_bytes = (size_t)cfg->batch * (cfg->size ? cfg->size : 1),
            .pipeline = (int)cfg->pipeline,
            .timeout_ms = cfg->timeout_ms,
        };
        rc = vl_appender_new(client, cfg->topic, &opts, s_on_commit, &app);
        if (rc != 0)
            s_note_error(rc, client, "starting an appender");
    }
    pthread_barrier_wait(&s_run.ready);
    pthread_barrier_wait(&s_run.go);
    if (rc == 0 && s_run.first_rc == 0) {
        if (cfg->blocking)
            s_run_blocking(client, w->id);
        else
            s_run_pipelined(client, app, w->id);
    }
    vl_appender_destroy(&app);
    vl_client_destroy(&client);
    return NULL;
}

/* ---- subscribers ----------------------------------------------------------------------- */

static void *s_subscriber_main(void *arg)
{
    (void)arg;
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    s_stats_t *st = s_stats_new(S_KIND_SUB);
    vl_client_t *client = NULL;
    vl_subscriber_t *sub = NULL;
    int rc = s_open_client(&client);
    if (rc == 0) {
        uint64_t begin = 0, end = 0; /* subscribe: trim point to HWM */
        if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
            /* follow what the appenders write from now on */
            vl_topic_info_t info;
            rc = vl_topic_info(client, cfg->topic, &info);
            begin = info.hwm + 1;
            end = VL_GLSN_FOLLOW;
        }
        if (rc == 0)
            rc = vl_subscribe(client, cfg->topic, begin, end, &sub);
        if (rc != 0)
            s_note_error(rc, client, "subscribe");
    }
    pthread_barrier_wait(&s_run.ready);
    pthread_barrier_wait(&s_run.go);
    while (rc == 0 && s_run.first_rc == 0 && !s_stopped()) {
        vl_entry_t e;
        rc = vl_subscriber_next(sub, &e, 100);
        if (rc == VL_ETIMEDOUT) {
            rc = 0;
            continue;
        }
        if (rc == VL_EEOF)
            break;
        if (rc != 0) {
            s_note_error(rc, client, "subscribe");
            break;
        }
        int64_t now = s_now_ns();
        __atomic_fetch_add(&st->entries, 1, __ATOMIC_RELAXED);
        const uint8_t *p = e.data;
        if (e.size >= S_HDR_SIZE && vl_get_le32(p + 20) == S_MAGIC) {
            int64_t ts = (int64_t)vl_get_le64(p);
            if (ts >= s_run.t_warm && ts < s_run.t_end && now >= ts)
                s_hist_add(&st->hist, (uint64_t)(now - ts), 1);
        }
    }
    __atomic_fetch_add(&s_run.subs_done, 1, __ATOMIC_RELAXED);
    vl_subscriber_destroy(&sub);
    vl_client_destroy(&client);
    return NULL;
}

/*  True when the run cannot go on (a failure) or has nothing left to do
    (every bounded reader reached the end). */
static bool s_run_over(const vl_ctl_bench_cfg_t *cfg)
{
    if (__atomic_load_n(&s_run.first_rc, __ATOMIC_RELAXED) != 0)
        return true;
    return cfg->mode == VL_CTL_BENCH_SUBSCRIBE &&
           __atomic_load_n(&s_run.subs_done, __ATOMIC_RELAXED) >= cfg->subscribers;
}

/* ---- --procs: appender processes --------------------------------------------------------- */

typedef struct {
    uint64_t entries_window;
    uint64_t entries_total;
    uint64_t errors;
    double cpu_window;
    int rc;
    char err[512];
    vl_ctl_bench_hist_t hist;
} s_child_report_t;

static int s_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static void s_start_threads(s_worker_t *apps, uint32_t napps, pthread_t *subs, uint32_t nsubs,
                            uint32_t id_base)
{
    pthread_barrier_init(&s_run.ready, NULL, napps + nsubs + 1);
    pthread_barrier_init(&s_run.go, NULL, napps + nsubs + 1);
    for (uint32_t i = 0; i < napps; i++) {
        apps[i].id = id_base + i;
        pthread_create(&apps[i].thread, NULL, s_appender_main, &apps[i]);
    }
    for (uint32_t i = 0; i < nsubs; i++)
        pthread_create(&subs[i], NULL, s_subscriber_main, NULL);
}

static void s_join_appenders(s_worker_t *apps, uint32_t napps)
{
    for (uint32_t i = 0; i < napps; i++)
        pthread_join(apps[i].thread, NULL);
}

/*  Opens *client_p and fetches the topic, creating it when missing
    (appending modes only). Failures are noted in s_run. */
static void s_ensure_topic(vl_client_t **client_p, vl_topic_info_t *info)
{
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    if (s_open_client(client_p) != 0)
        return;
    int rc = vl_topic_info(*client_p, cfg->topic, info);
    if (rc == VL_ENOTOPIC && cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
        rc = vl_topic_create(*client_p, cfg->topic, cfg->nls, cfg->rf, NULL);
        if (rc == VL_EEXIST) /* another appender process was first */
            rc = 0;
        if (rc == 0)
            rc = vl_topic_info(*client_p, cfg->topic, info);
    }
    if (rc != 0)
        s_note_error(rc, *client_p, "checking the topic");
}

/*  A child: appenders only; reports ready, takes the window, runs, reports. */
static void s_child(int fd, uint32_t index)
{
    const vl_ctl_bench_cfg_t *cfg = s_run.cfg;
    /* CZMQ's global set-up is not thread-safe: do it before the threads
       race to open their clients */
    zsys_init();
    vl_client_t *client = NULL;
    vl_topic_info_t info;
    s_ensure_topic(&client, &info);
    vl_client_destroy(&client);
    s_worker_t apps[S_MAX_THREADS];
    uint32_t napps = s_run.first_rc ? 0 : cfg->appenders;
    s_start_threads(apps, napps, NULL, 0, index * cfg->appenders);
    pthread_barrier_wait(&s_run.ready);
    s_child_report_t *rep = vl_calloc(1, sizeof *rep);
    int64_t window[2];
    uint8_t ok = s_run.first_rc == 0;
    if (s_write_all(fd, &ok, 1) != 0 || s_read_all(fd, window, sizeof window) != 0) {
        window[0] = window[1] = 0; /* the parent is gone: end at once */
        ok = 0;
    }
    s_run.t_warm = window[0];
    s_run.t_end = window[1];
    pthread_barrier_wait(&s_run.go);
    double cpu0 = 0, cpu1 = 0;
    uint64_t n0 = 0, n1 = 0;
    if (ok) {
        s_sleep_until(s_run.t_warm);
        n0 = s_total(S_KIND_APPEND, false);
        cpu0 = vl_ctl_bench_self_cpu();
        s_sleep_until(s_run.t_end);
        n1 = s_total(S_KIND_APPEND, false);
        cpu1 = vl_ctl_bench_self_cpu();
    }
    s_join_appenders(apps, napps);
    rep->entries_window = n1 - n0;
    rep->entries_total = s_total(S_KIND_APPEND, false);
    rep->errors = s_total(S_KIND_APPEND, true);
    rep->cpu_window = cpu1 - cpu0;
    rep->rc = s_run.first_rc;
    snprintf(rep->err, sizeof rep->err, "%s", s_run.first_err);
    s_merged_hist(S_KIND_APPEND, &rep->hist);
    s_write_all(fd, rep, sizeof *rep);
    free(rep);
}

/* ---- the command --------------------------------------------------------------------------- */

static int s_parse_seconds(vl_ctl_t *ctl, const char *what, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 86400)
        return vl_ctl_usage(ctl, "%s: '%s' is not a number of seconds in 0..86400", what, s);
    *out = v;
    return 0;
}

/*  The options of bench, indexed by the O_* below. */
static const vl_ctl_opt_t s_opts[] = {{"appenders", 0, true},   {"procs", 0, true},
                                      {"subscribers", 0, true}, {"size", 0, true},
                                      {"batch", 0, true},       {"pipeline", 0, true},
                                      {"topic", 0, true},       {"ls", 0, true},
                                      {"log-streams", 0, true}, {"replication-factor", 0, true},
                                      {"duration", 0, true},    {"warmup", 0, true},
                                      {"blocking", 0, false},   {"pids", 0, true},
                                      {"run-dir", 0, true},     {NULL, 0, false}};
enum {
    O_APPENDERS,
    O_PROCS,
    O_SUBSCRIBERS,
    O_SIZE,
    O_BATCH,
    O_PIPELINE,
    O_TOPIC,
    O_LS,
    O_NLS,
    O_RF,
    O_DURATION,
    O_WARMUP,
    O_BLOCKING,
    O_PIDS,
    O_RUNDIR,
    O_N
};

/*  Sets *cfg to the defaults of mode; -1 means go on. */
static int s_cfg_init(vl_ctl_t *ctl, const char *mode, vl_ctl_bench_cfg_t *cfg)
{
    *cfg = (vl_ctl_bench_cfg_t){
        .mode_name = mode,
        .topic = "bench",
        .mr = ctl->mr,
        .timeout_ms = ctl->timeout_ms,
        .appenders = 1,
        .size = 128,
        .batch = 256,
        .pipeline = 8,
        .duration = 10,
        .warmup = 2,
    };
    if (strcmp(mode, "append") == 0)
        cfg->mode = VL_CTL_BENCH_APPEND;
    else if (strcmp(mode, "e2e") == 0)
        cfg->mode = VL_CTL_BENCH_E2E, cfg->subscribers = 1;
    else if (strcmp(mode, "subscribe") == 0)
        cfg->mode = VL_CTL_BENCH_SUBSCRIBE, cfg->subscribers = 1, cfg->appenders = 0,
        cfg->warmup = 0;
    else
        return vl_ctl_usage(ctl, "unknown mode '%s': use append, subscribe or e2e", mode);
    snprintf(ctl->cmd, sizeof ctl->cmd, "bench %s", cfg->mode_name);
    return -1;
}

/*  Applies the options' values (vals, indexed by O_*) to cfg and fills the
    daemons to watch; -1 means go on. */
static int s_cfg_options(vl_ctl_t *ctl, const char **vals, vl_ctl_bench_cfg_t *cfg,
                         vl_ctl_bench_daemon_t *daemons, int *ndaemons)
{
    int rc;
    uint64_t v;
    struct {
        int opt;
        uint64_t min, max;
        uint32_t *out;
    } u32s[] = {
        {O_APPENDERS, 1, S_MAX_THREADS, &cfg->appenders},
        {O_PROCS, 1, S_MAX_PROCS, &cfg->procs},
        {O_SUBSCRIBERS, 0, S_MAX_THREADS, &cfg->subscribers},
        {O_BATCH, 1, VL_WIRE_MAX_FRAMES, &cfg->batch},
        {O_PIPELINE, 1, 1024, &cfg->pipeline},
        {O_LS, 1, INT32_MAX, &cfg->ls_id},
        {O_NLS, 1, 100000, &cfg->nls},
        {O_RF, 1, 16, &cfg->rf},
    };
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        if (!vals[u32s[i].opt])
            continue;
        if (vl_ctl_number(ctl, "--", vals[u32s[i].opt], u32s[i].min, u32s[i].max, &v) != 0)
            return 2;
        *u32s[i].out = (uint32_t)v;
    }
    if (vals[O_SIZE]) {
        if (vl_ctl_number(ctl, "--size", vals[O_SIZE], 0, VL_MAX_ENTRY_SIZE_DEFAULT, &v) != 0)
            return 2;
        cfg->size = (size_t)v;
    }
    if (vals[O_DURATION] && s_parse_seconds(ctl, "--duration", vals[O_DURATION], &cfg->duration))
        return 2;
    if (vals[O_WARMUP] && s_parse_seconds(ctl, "--warmup", vals[O_WARMUP], &cfg->warmup))
        return 2;
    if (cfg->duration <= 0)
        return vl_ctl_usage(ctl, "--duration must be more than 0 seconds");
    if (vals[O_TOPIC])
        cfg->topic = vals[O_TOPIC];
    if (!vl_topic_name_valid(cfg->topic))
        return vl_ctl_fail(ctl,
                           "invalid topic name '%s': use 1 to 255 of A-Z a-z 0-9 . _ - and do "
                           "not start with '.'",
                           cfg->topic);
    cfg->blocking = vals[O_BLOCKING] != NULL;
    if (cfg->mode == VL_CTL_BENCH_SUBSCRIBE) {
        if (vals[O_APPENDERS] || vals[O_PROCS] || cfg->blocking)
            return vl_ctl_usage(ctl, "bench subscribe only reads; use e2e to append too");
        if (cfg->subscribers == 0)
            return vl_ctl_usage(ctl, "bench subscribe needs --subscribers 1 or more");
    }
    if ((uint64_t)cfg->appenders + cfg->subscribers > S_MAX_THREADS)
        return vl_ctl_usage(ctl, "at most %d threads in one process", S_MAX_THREADS);
    if (vals[O_PIDS] && (rc = vl_ctl_bench_parse_pids(ctl, vals[O_PIDS], daemons, ndaemons)) != 0)
        return rc;
    if (vals[O_RUNDIR] &&
        (rc = vl_ctl_bench_scan_run_dir(ctl, vals[O_RUNDIR], daemons, ndaemons)) != 0)
        return rc;
    return -1;
}

/*  The first phase: parses the command's words into cfg and the daemons to
    watch; -1 means go on, else the exit status. */
static int s_parse(vl_ctl_t *ctl, int argc, char **argv, vl_ctl_bench_cfg_t *cfg,
                   vl_ctl_bench_daemon_t *daemons, int *ndaemons)
{
    const char *vals[O_N];
    char *pos[1];
    int npos;
    int rc = vl_ctl_parse(ctl, argc, argv, s_opts, vals, pos, 1, &npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help("bench");
    if (npos < 1)
        return vl_ctl_usage(ctl, "missing MODE (append, subscribe or e2e)");
    rc = s_cfg_init(ctl, pos[0], cfg);
    if (rc >= 0)
        return rc;
    return s_cfg_options(ctl, vals, cfg, daemons, ndaemons);
}

/*  The workers of a run: the appender processes and this process's
    threads, and the client that checked the topic. */
typedef struct {
    int child_fd[S_MAX_PROCS];
    pid_t child_pid[S_MAX_PROCS];
    uint32_t nchild;
    s_worker_t *apps;
    uint32_t napps;
    pthread_t *subs;
    vl_client_t *client;
    bool started; /* false: a set-up failed, nothing was measured */
} s_load_t;

/*  The counters at one end of the measured window. */
typedef struct {
    int64_t t;
    uint64_t app, sub;
    double cpu;
} s_snap_t;

/*  Forks the appender processes (--procs), before this process touches
    ZeroMQ. A failure is noted in s_run; load->nchild says how many run. */
static void s_fork_children(const vl_ctl_bench_cfg_t *cfg, s_load_t *load)
{
    uint32_t nchild = cfg->mode == VL_CTL_BENCH_SUBSCRIBE ? 0 : cfg->procs;
    fflush(stdout);
    fflush(stderr);
    for (uint32_t i = 0; i < nchild; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            nchild = i;
            s_note_error(VL_EIO, NULL, "socketpair");
            break;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(sv[0]);
            for (uint32_t k = 0; k < i; k++)
                close(load->child_fd[k]);
            s_child(sv[1], i);
            _exit(0);
        }
        close(sv[1]);
        if (pid < 0) {
            close(sv[0]);
            nchild = i;
            s_note_error(VL_EIO, NULL, "fork");
            break;
        }
        load->child_fd[i] = sv[0];
        load->child_pid[i] = pid;
    }
    load->nchild = nchild;
}

/*  Checks the topic (into *info), starts this process's threads and sets
    the window, which the appender processes get too. After a set-up
    failure nothing runs (cfg->subscribers becomes 0) and the window is
    empty. */
static void s_start(vl_ctl_bench_cfg_t *cfg, s_load_t *load, vl_topic_info_t *info)
{
    /* the topic: created when missing (each child may race to create it,
       so wait for their readiness first) */
    bool child_fail = false;
    for (uint32_t i = 0; i < load->nchild; i++) {
        uint8_t ok = 0;
        if (s_read_all(load->child_fd[i], &ok, 1) != 0 || !ok)
            child_fail = true;
    }
    if (s_run.first_rc == 0)
        s_ensure_topic(&load->client, info);

    /* threads of this process: appenders unless children do it */
    load->napps = cfg->mode == VL_CTL_BENCH_SUBSCRIBE || load->nchild ? 0 : cfg->appenders;
    load->apps = vl_calloc(load->napps ? load->napps : 1, sizeof *load->apps);
    load->subs = vl_calloc(cfg->subscribers ? cfg->subscribers : 1, sizeof *load->subs);
    if (s_run.first_rc != 0) {
        /* nothing started: tell the children to end at once */
        load->napps = 0;
        cfg->subscribers = 0;
    }
    s_start_threads(load->apps, load->napps, load->subs, cfg->subscribers, 0);
    pthread_barrier_wait(&s_run.ready);
    int64_t t0 = s_now_ns();
    load->started = s_run.first_rc == 0 && !child_fail;
    if (!load->started) {
        s_run.t_warm = s_run.t_end = t0;
    } else {
        s_run.t_warm = t0 + (int64_t)(cfg->warmup * 1e9);
        s_run.t_end = s_run.t_warm + (int64_t)(cfg->duration * 1e9);
    }
    int64_t win[2] = {s_run.t_warm, s_run.t_end};
    for (uint32_t i = 0; i < load->nchild; i++)
        s_write_all(load->child_fd[i], win, sizeof win);
    pthread_barrier_wait(&s_run.go);
}

/*  Takes the snapshots at the end of the warm-up and at the end (or when
    every reader reached the end of a bounded subscribe, or a setup
    failed), with the daemons' CPU time. */
static void s_measure(const vl_ctl_bench_cfg_t *cfg, s_snap_t snap[2],
                      vl_ctl_bench_daemon_t *daemons, int ndaemons)
{
    for (int s = 0; s < 2; s++) {
        int64_t until = s == 0 ? s_run.t_warm : s_run.t_end;
        for (;;) {
            int64_t now = s_now_ns();
            if (now >= until || s_run_over(cfg))
                break;
            s_sleep_until(now + 10000000LL < until ? now + 10000000LL : until);
        }
        snap[s].t = s_now_ns();
        snap[s].app = s_total(S_KIND_APPEND, false);
        snap[s].sub = s_total(S_KIND_SUB, false);
        snap[s].cpu = vl_ctl_bench_self_cpu();
        for (int d = 0; d < ndaemons; d++)
            daemons[d].cpu[s] = vl_ctl_bench_proc_cpu(daemons[d].pid);
    }
}

/*  Ends the run and gathers its figures into res: the appenders stop at
    the end of the window and wait for what they sent; then the followers
    get the time to see all of it. */
static void s_finish(const vl_ctl_bench_cfg_t *cfg, s_load_t *load, const s_snap_t snap[2],
                     vl_ctl_bench_result_t *res)
{
    s_join_appenders(load->apps, load->napps);
    s_merged_hist(S_KIND_APPEND, &res->commit);
    res->app_window = snap[1].app - snap[0].app;
    res->app_total = s_total(S_KIND_APPEND, false);
    res->app_errors = s_total(S_KIND_APPEND, true);
    res->client_cpu = snap[1].cpu - snap[0].cpu;
    for (uint32_t i = 0; i < load->nchild; i++) {
        s_child_report_t *rep = vl_calloc(1, sizeof *rep);
        if (s_read_all(load->child_fd[i], rep, sizeof *rep) == 0) {
            res->app_window += rep->entries_window;
            res->app_total += rep->entries_total;
            res->app_errors += rep->errors;
            res->client_cpu += rep->cpu_window;
            s_hist_merge(&res->commit, &rep->hist);
            if (rep->rc)
                s_note_text(rep->rc, rep->err);
        } else {
            s_note_error(VL_EIO, NULL, "an appender process ended without a report");
        }
        free(rep);
        close(load->child_fd[i]);
        waitpid(load->child_pid[i], NULL, 0);
    }
    if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
        int64_t limit = s_now_ns() + S_DRAIN_NS;
        while (s_min_sub_entries() < res->app_total && s_now_ns() < limit && s_run.first_rc == 0)
            s_sleep_until(s_now_ns() + 10000000LL);
    }
    __atomic_store_n(&s_run.stop, 1, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < cfg->subscribers; i++)
        pthread_join(load->subs[i], NULL);
    s_merged_hist(S_KIND_SUB, &res->visible);
    res->sub_window = snap[1].sub - snap[0].sub;
    res->window = (double)(snap[1].t - snap[0].t) / 1e9;
    if (res->window <= 0)
        res->window = 1e-9;
    res->nchild = load->nchild;
}

int vl_ctl_cmd_bench(vl_ctl_t *ctl, int argc, char **argv)
{
    vl_ctl_bench_cfg_t cfg;
    vl_ctl_bench_result_t res = {0};
    int rc = s_parse(ctl, argc, argv, &cfg, res.daemons, &res.ndaemons);
    if (rc >= 0)
        return rc;
    s_run.cfg = &cfg;
    signal(SIGPIPE, SIG_IGN);

    s_load_t load = {0};
    s_snap_t snap[2];
    s_fork_children(&cfg, &load);
    s_start(&cfg, &load, &res.info);
    s_measure(&cfg, snap, res.daemons, res.ndaemons);
    s_finish(&cfg, &load, snap, &res);

    if (!load.started) {
        /* a set-up failure: no figures to show, only the reason */
    } else if (ctl->json) {
        vl_ctl_bench_report_json(&cfg, &res, s_run.first_rc ? s_run.first_err : NULL);
    } else {
        vl_ctl_bench_report_text(&cfg, &res);
    }
    free(load.apps);
    free(load.subs);
    s_stats_free();
    vl_client_destroy(&load.client);
    pthread_barrier_destroy(&s_run.ready);
    pthread_barrier_destroy(&s_run.go);
    if (s_run.first_rc)
        return vl_ctl_fail(ctl, "topic %s: %s", cfg.topic, s_run.first_err);
    if (!load.started)
        return vl_ctl_fail(ctl, "topic %s: an appender process failed to start", cfg.topic);
    if (res.app_errors)
        return vl_ctl_fail(ctl, "topic %s: %" PRIu64 " entries failed", cfg.topic, res.app_errors);
    return 0;
}
