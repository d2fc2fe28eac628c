/*  stats.c - varlogkov's metrics (lib/metrics.h): requests and their
    latency by Kafka API, malformed requests, connections closed for bad
    input, open connections.

    The series of every API in the table are made when the gateway starts,
    so the loop thread only bumps counters; latency runs from a request's
    arrival to its response being ready (a Produce waits for the commit, a
    Fetch for its long poll).
*/
#include "server_i.h"
#include <stdio.h>
#include "metrics.h"
#include "util.h"

#define S_MAX_KEY 128

static struct {
    vl_metric_t *requests[S_MAX_KEY], *latency[S_MAX_KEY], *malformed[S_MAX_KEY];
    vl_metric_t *conns, *closed_bad;
} s;

void vl_kstats_init(void)
{
    vl_metrics_t *m = vl_metrics_default();
    for (size_t i = 0; i < vl_kapis_n; i++) {
        const vl_kapi_t *api = vl_kapis[i];
        if (api->key < 0 || api->key >= S_MAX_KEY)
            continue;
        char l[64];
        snprintf(l, sizeof l, "api=\"%s\"", api->name);
        s.requests[api->key] = vl_metrics_counter(m, "varlog_kov_requests_total",
                                                  "Kafka requests, by API", l);
        s.latency[api->key] = vl_metrics_histogram(
            m, "varlog_kov_request_seconds",
            "from a request's arrival to its response (a Produce waits for the commit, a Fetch "
            "for its long poll)",
            l);
        s.malformed[api->key] = vl_metrics_counter(
            m, "varlog_kov_malformed_requests_total",
            "requests that could not be read (the connection is closed), by API", l);
    }
    s.conns = vl_metrics_gauge(m, "varlog_kov_connections", "open Kafka connections", NULL);
    s.closed_bad = vl_metrics_counter(
        m, "varlog_kov_bad_input_total",
        "connections closed for bad input (sizes, headers, unknown APIs or versions)", NULL);
}

void vl_kstats_request(int16_t key)
{
    if (key >= 0 && key < S_MAX_KEY)
        vl_metric_inc(s.requests[key]);
}

void vl_kstats_reply(int16_t key, int64_t since_us)
{
    if (key >= 0 && key < S_MAX_KEY)
        vl_metric_observe_us(s.latency[key], vl_now_us() - since_us);
}

void vl_kstats_malformed(int16_t key)
{
    if (key >= 0 && key < S_MAX_KEY)
        vl_metric_inc(s.malformed[key]);
}

void vl_kstats_conn(int delta)
{
    vl_metric_add(s.conns, (uint64_t)(int64_t)delta);
}

void vl_kstats_bad_input(void)
{
    vl_metric_inc(s.closed_bad);
}
