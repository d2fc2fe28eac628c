/*  metrics.h - Prometheus metrics of a daemon: counters, gauges and
    latency histograms, served over HTTP in the text format 0.0.4.

    Every daemon serves GET /metrics on --metrics ADDR (default: its own
    port + 1000 on the same host; "off" turns it off). A metric is a family
    (name, help, type) and one series per set of label values
    (`ls="3"`): a series is made once (that takes a mutex: at set-up or on
    rare events such as a new log stream) and its pointer kept; updates are
    relaxed atomic operations on it, so the data path never takes a lock and
    a scrape never slows it down. The series of a process live in one
    registry (vl_metrics_default), like the Prometheus client libraries'
    default registry; daemons run in-process by the tests share it.

    Names follow Prometheus conventions: varlog_<daemon>_<what>_<unit>,
    counters end in _total, durations are in seconds and sizes in bytes.
*/
#ifndef VL_METRICS_H
#define VL_METRICS_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vl_metrics vl_metrics_t;
typedef struct vl_metric vl_metric_t;

/*  The process's registry (made at the first call; never freed). */
vl_metrics_t *vl_metrics_default(void);

/*  Serves GET /metrics of the registry on addr ("HOST:PORT", "[V6]:PORT",
    or "tcp://HOST:PORT") from a thread of libmicrohttpd. One server per
    registry; again replaces the address. 0, or VL_EINVAL (bad address) /
    VL_EIO (cannot bind) with the reason in errbuf. */
int vl_metrics_serve(vl_metrics_t *self, const char *addr, char *errbuf, size_t errbuf_size);

/*  Stops serving (the series stay). */
void vl_metrics_stop(vl_metrics_t *self);

/*  The address a daemon listening on endpoint (a ZeroMQ "tcp://HOST:PORT"
    or "HOST:PORT") serves its metrics on by default: the same host, port +
    1000. 0, or VL_EINVAL when endpoint has no port. */
int vl_metrics_default_addr(const char *endpoint, char *out, size_t out_size);

/*  What a daemon does with its --metrics option (opt) at start: "off":
    nothing; NULL or "": serve the registry on vl_metrics_default_addr of
    its listen endpoint, and when that fails only log a warning (the
    daemon serves its clients anyway); an address: serve there, and a
    failure is the caller's to report (VL_EINVAL/VL_EIO, errbuf). */
int vl_metrics_start(const char *opt, const char *listen, char *errbuf, size_t errbuf_size);

/*  The series of family name with labels (`k="v",k2="v2"`, or NULL/"" for
    none), made on first use; the same pointer for the same name and
    labels. help is the family's help text (the first call's is kept).
    A name used with two types is a programming error (assert). */
vl_metric_t *vl_metrics_counter(vl_metrics_t *self, const char *name, const char *help,
                                const char *labels);
vl_metric_t *vl_metrics_gauge(vl_metrics_t *self, const char *name, const char *help,
                              const char *labels);
/*  A latency histogram in seconds, with buckets from 50 us to 10 s. */
vl_metric_t *vl_metrics_histogram(vl_metrics_t *self, const char *name, const char *help,
                                  const char *labels);

/*  A gauge read at each scrape: fn(arg) runs on the HTTP thread and must be
    safe there (read atomics, statvfs, ...). arg must outlive the registry
    or be removed with vl_metrics_forget(self, arg) first. */
typedef double(vl_metric_fn)(void *arg);
void vl_metrics_gauge_fn(vl_metrics_t *self, const char *name, const char *help,
                         const char *labels, vl_metric_fn *fn, void *arg);

/*  Removes the scrape-time gauges registered with arg (a daemon's state
    that is going away). */
void vl_metrics_forget(vl_metrics_t *self, void *arg);

/*  Writes the registry in the text format 0.0.4 into a malloc'd string
    (caller owns; *len set). */
char *vl_metrics_render(vl_metrics_t *self, size_t *len);

/*  ---- updates (lock-free; m may be NULL: then nothing happens) ---------- */

struct vl_metric {
    _Atomic uint64_t value; /* counter, or gauge as int64 bits */
    _Atomic uint64_t *buckets; /* histogram: one count per bound, then +Inf */
    _Atomic uint64_t sum_us;
    /* the rest is metrics.c's */
    struct vl_metric *next;
    const struct vl_metric_family *family;
    char *labels;
    vl_metric_fn *fn;
    void *arg;
};

static inline void vl_metric_add(vl_metric_t *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

static inline void vl_metric_inc(vl_metric_t *m)
{
    vl_metric_add(m, 1);
}

static inline void vl_metric_set(vl_metric_t *m, int64_t v)
{
    if (m)
        atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
}

/*  Adds a duration in microseconds to a histogram. */
void vl_metric_observe_us(vl_metric_t *m, int64_t us);

#endif
