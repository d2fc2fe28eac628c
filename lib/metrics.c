/*  metrics.c - the registry, the text format and the HTTP server
    (metrics.h).

    The registry is a list of families, each a list of series, both only
    ever appended to under the registry's mutex; a scrape holds the mutex
    while it formats (new series wait that long, updates never do: they are
    atomic operations on series that exist). libmicrohttpd serves from a
    thread of its own, one scrape at a time.
*/
#include "metrics.h"
#include <arpa/inet.h>
#include <assert.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "util.h"
#include "varlog_err.h"

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_type_t;

struct vl_metric_family {
    struct vl_metric_family *next;
    char *name;
    char *help;
    s_type_t type;
    vl_metric_t *series, **tail;
};

struct vl_metrics {
    pthread_mutex_t mutex;
    struct vl_metric_family *families, **tail;
    struct MHD_Daemon *http;
};

/*  Bucket bounds of every latency histogram, in microseconds. */
static const int64_t s_bounds_us[] = {50,     100,    250,    500,     1000,    2500,
                                      5000,   10000,  25000,  50000,   100000,  250000,
                                      500000, 1000000, 2500000, 5000000, 10000000};
#define S_NBOUNDS (sizeof s_bounds_us / sizeof s_bounds_us[0])

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static vl_metrics_t *s_default;

static void s_make_default(void)
{
    s_default = vl_calloc(1, sizeof *s_default);
    pthread_mutex_init(&s_default->mutex, NULL);
    s_default->tail = &s_default->families;
}

vl_metrics_t *vl_metrics_default(void)
{
    pthread_once(&s_once, s_make_default);
    return s_default;
}

static struct vl_metric_family *s_family(vl_metrics_t *self, const char *name, const char *help,
                                         s_type_t type)
{
    for (struct vl_metric_family *f = self->families; f; f = f->next)
        if (strcmp(f->name, name) == 0) {
            assert(f->type == type && "a metric name used with two types");
            return f;
        }
    struct vl_metric_family *f = vl_calloc(1, sizeof *f);
    f->name = vl_strdup(name);
    f->help = vl_strdup(help ? help : "");
    f->type = type;
    f->tail = &f->series;
    *self->tail = f;
    self->tail = &f->next;
    return f;
}

static vl_metric_t *s_series(vl_metrics_t *self, const char *name, const char *help,
                             const char *labels, s_type_t type, vl_metric_fn *fn, void *arg)
{
    if (!labels)
        labels = "";
    pthread_mutex_lock(&self->mutex);
    struct vl_metric_family *f = s_family(self, name, help, type);
    vl_metric_t *m = NULL;
    if (!fn)
        for (m = f->series; m; m = m->next)
            if (!m->fn && strcmp(m->labels, labels) == 0)
                break;
    if (!m) {
        m = vl_calloc(1, sizeof *m);
        m->family = f;
        m->labels = vl_strdup(labels);
        m->fn = fn;
        m->arg = arg;
        if (type == S_HISTOGRAM)
            m->buckets = vl_calloc(S_NBOUNDS + 1, sizeof *m->buckets);
        *f->tail = m;
        f->tail = &m->next;
    }
    pthread_mutex_unlock(&self->mutex);
    return m;
}

vl_metric_t *vl_metrics_counter(vl_metrics_t *self, const char *name, const char *help,
                                const char *labels)
{
    return s_series(self, name, help, labels, S_COUNTER, NULL, NULL);
}

vl_metric_t *vl_metrics_gauge(vl_metrics_t *self, const char *name, const char *help,
                              const char *labels)
{
    return s_series(self, name, help, labels, S_GAUGE, NULL, NULL);
}

vl_metric_t *vl_metrics_histogram(vl_metrics_t *self, const char *name, const char *help,
                                  const char *labels)
{
    return s_series(self, name, help, labels, S_HISTOGRAM, NULL, NULL);
}

void vl_metrics_gauge_fn(vl_metrics_t *self, const char *name, const char *help,
                         const char *labels, vl_metric_fn *fn, void *arg)
{
    s_series(self, name, help, labels, S_GAUGE, fn, arg);
}

void vl_metrics_forget(vl_metrics_t *self, void *arg)
{
    /* Freed at once: a scrape reads series only under the mutex, and the
       pointer of a function's gauge is never handed out. */
    pthread_mutex_lock(&self->mutex);
    for (struct vl_metric_family *f = self->families; f; f = f->next) {
        vl_metric_t **pp = &f->series;
        f->tail = &f->series;
        while (*pp) {
            if ((*pp)->fn && (*pp)->arg == arg) {
                vl_metric_t *gone = *pp;
                *pp = gone->next;
                free(gone->labels);
                free(gone);
                continue;
            }
            f->tail = &(*pp)->next;
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&self->mutex);
}

void vl_metric_observe_us(vl_metric_t *m, int64_t us)
{
    if (!m || !m->buckets)
        return;
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < S_NBOUNDS && us > s_bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (uint64_t)us, memory_order_relaxed);
}

/*  ---- the text format ---------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} s_out_t;

static void s_printf(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(s_out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)(n > 0 ? n : 64);
        o->buf = vl_realloc(o->buf, o->cap);
    }
}

/*  name{labels} or name{labels,extra} or name{extra} or name */
static void s_name(s_out_t *o, const char *name, const char *suffix, const char *labels,
                   const char *extra)
{
    bool l = labels && *labels, e = extra && *extra;
    s_printf(o, "%s%s%s%s%s%s%s", name, suffix, l || e ? "{" : "", l ? labels : "",
             l && e ? "," : "", e ? extra : "", l || e ? "}" : "");
}

static void s_render_histogram(s_out_t *o, const struct vl_metric_family *f,
                               const vl_metric_t *m)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= S_NBOUNDS; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        char le[32];
        if (i < S_NBOUNDS)
            snprintf(le, sizeof le, "le=\"%g\"", (double)s_bounds_us[i] / 1e6);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        s_name(o, f->name, "_bucket", m->labels, le);
        s_printf(o, " %llu\n", (unsigned long long)cum);
    }
    s_name(o, f->name, "_sum", m->labels, NULL);
    s_printf(o, " %.6f\n", (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
    s_name(o, f->name, "_count", m->labels, NULL);
    s_printf(o, " %llu\n", (unsigned long long)cum);
}

char *vl_metrics_render(vl_metrics_t *self, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    s_out_t o = {.buf = vl_malloc(4096), .cap = 4096};
    o.buf[0] = '\0';
    pthread_mutex_lock(&self->mutex);
    for (const struct vl_metric_family *f = self->families; f; f = f->next) {
        if (!f->series)
            continue;
        s_printf(&o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
        for (const vl_metric_t *m = f->series; m; m = m->next) {
            if (f->type == S_HISTOGRAM) {
                s_render_histogram(&o, f, m);
                continue;
            }
            s_name(&o, f->name, "", m->labels, NULL);
            if (m->fn)
                s_printf(&o, " %.17g\n", m->fn(m->arg));
            else if (f->type == S_GAUGE)
                s_printf(&o, " %lld\n",
                         (long long)(int64_t)atomic_load_explicit(&m->value, memory_order_relaxed));
            else
                s_printf(&o, " %llu\n", (unsigned long long)atomic_load_explicit(
                                            &m->value, memory_order_relaxed));
        }
    }
    pthread_mutex_unlock(&self->mutex);
    *len = o.len;
    return o.buf;
}

/*  ---- HTTP ----------------------------------------------------------------- */

static enum MHD_Result s_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **req_cls)
{
    vl_metrics_t *self = cls;
    struct MHD_Response *resp;
    unsigned status;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET /metrics is served\n";
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    } else if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: the metrics are at /metrics\n";
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        size_t len;
        char *text = vl_metrics_render(self, &len);
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        status = MHD_HTTP_OK;
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/*  "tcp://HOST:PORT", "HOST:PORT", "[V6]:PORT" into host and port. */
static int s_split(const char *addr, char *host, size_t host_size, char *port, size_t port_size)
{
    if (strncmp(addr, "tcp://", 6) == 0)
        addr += 6;
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || !colon[1] || strlen(colon + 1) >= port_size)
        return VL_EINVAL;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= host_size)
        return VL_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

int vl_metrics_default_addr(const char *endpoint, char *out, size_t out_size)
{
    char host[256], port[16];
    if (s_split(endpoint, host, sizeof host, port, sizeof port) != 0)
        return VL_EINVAL;
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p <= 0 || p + 1000 > 65535)
        return VL_EINVAL;
    int n = snprintf(out, out_size, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, p + 1000);
    return n > 0 && (size_t)n < out_size ? 0 : VL_EINVAL;
}

int vl_metrics_serve(vl_metrics_t *self, const char *addr, char *errbuf, size_t errbuf_size)
{
    char host[256], port[16];
    if (s_split(addr, host, sizeof host, port, sizeof port) != 0) {
        snprintf(errbuf, errbuf_size, "metrics address '%s' is not HOST:PORT", addr);
        return VL_EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(*host && strcmp(host, "*") != 0 ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        snprintf(errbuf, errbuf_size, "metrics address '%s': %s", addr, gai_strerror(gai));
        return VL_EINVAL;
    }
    vl_metrics_stop(self);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->http = MHD_start_daemon(flags, 0, NULL, NULL, s_answer, self, MHD_OPTION_SOCK_ADDR,
                                  ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!self->http) {
        snprintf(errbuf, errbuf_size,
                 "cannot serve metrics on %s (is the port taken? choose another with "
                 "--metrics HOST:PORT, or --metrics off)",
                 addr);
        return VL_EIO;
    }
    return 0;
}

void vl_metrics_stop(vl_metrics_t *self)
{
    if (self->http) {
        MHD_stop_daemon(self->http);
        self->http = NULL;
    }
}

int vl_metrics_start(const char *opt, const char *listen, char *errbuf, size_t errbuf_size)
{
    if (opt && strcmp(opt, "off") == 0)
        return 0;
    if (opt && *opt) {
        int rc = vl_metrics_serve(vl_metrics_default(), opt, errbuf, errbuf_size);
        if (rc == 0)
            vl_log(LOG_INFO, "metrics on http://%s/metrics", opt);
        return rc;
    }
    char addr[300];
    if (vl_metrics_default_addr(listen, addr, sizeof addr) != 0) {
        vl_log(LOG_NOTICE, "no metrics: the listen endpoint %s has no port to add 1000 to; "
                           "give --metrics HOST:PORT", listen);
        return 0;
    }
    char err[512];
    if (vl_metrics_serve(vl_metrics_default(), addr, err, sizeof err) != 0)
        vl_log(LOG_WARNING, "%s; serving without metrics", err);
    else
        vl_log(LOG_INFO, "metrics on http://%s/metrics", addr);
    return 0;
}
