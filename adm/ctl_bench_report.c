/*  ctl_bench_report.c - varlogctl bench: the report of a run, as text or
    as one JSON object.

    Latencies are shown as quantiles of the run's merged histogram, in
    milliseconds; each value is the middle of its bucket.
*/
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ctl_bench_i.h"

/*  The middle of bucket i. */
static double s_hist_value(size_t i)
{
    if (i < VL_CTL_BENCH_SUB)
        return (double)i;
    int msb = (int)(i / VL_CTL_BENCH_SUB) + VL_CTL_BENCH_SUB_BITS - 1;
    uint64_t width = 1ULL << (msb - VL_CTL_BENCH_SUB_BITS);
    uint64_t low = (uint64_t)(VL_CTL_BENCH_SUB + i % VL_CTL_BENCH_SUB)
                   << (msb - VL_CTL_BENCH_SUB_BITS);
    return (double)low + (double)width / 2;
}

/*  The q quantile (0..1) in milliseconds; NAN when empty. */
static double s_hist_ms(const vl_ctl_bench_hist_t *h, double q)
{
    if (h->n == 0)
        return NAN;
    /* the smallest rank r with r >= q n (ceil without libm) */
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if ((double)rank < q * (double)h->n)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < VL_CTL_BENCH_HIST_N; i++) {
        seen += h->count[i];
        if (seen >= rank)
            return s_hist_value(i) / 1e6;
    }
    return NAN;
}

static void s_json_num(const char *key, double v, bool comma)
{
    if (isnan(v))
        printf("\"%s\": null%s", key, comma ? ", " : "");
    else
        printf("\"%s\": %.6g%s", key, v, comma ? ", " : "");
}

static void s_json_lat(const char *key, const vl_ctl_bench_hist_t *h)
{
    printf("\"%s\": {\"n\": %" PRIu64 ", ", key, h->n);
    s_json_num("p50_ms", s_hist_ms(h, 0.50), true);
    s_json_num("p99_ms", s_hist_ms(h, 0.99), true);
    s_json_num("p999_ms", s_hist_ms(h, 0.999), true);
    s_json_num("max_ms", s_hist_ms(h, 1.0), false);
    printf("}");
}

static void s_text_lat(const char *what, const vl_ctl_bench_hist_t *h)
{
    if (h->n == 0) {
        printf("%-18s no samples\n", what);
        return;
    }
    printf("%-18s p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms  (%" PRIu64 " samples)\n",
           what, s_hist_ms(h, 0.5), s_hist_ms(h, 0.99), s_hist_ms(h, 0.999), s_hist_ms(h, 1.0),
           h->n);
}

void vl_ctl_bench_report_json(const vl_ctl_bench_cfg_t *cfg, const vl_ctl_bench_result_t *res,
                              const char *error)
{
    printf("{\"mode\": \"%s\", \"topic\": ", cfg->mode_name);
    vl_ctl_json_str(stdout, cfg->topic, strlen(cfg->topic));
    printf(", \"log_streams\": %u, \"replication_factor\": %u, \"appenders\": %u, "
           "\"procs\": %u, \"subscribers\": %u, \"size\": %zu, \"batch\": %u, "
           "\"pipeline\": %u, \"blocking\": %s, \"ls\": %u, \"warmup_s\": %g, "
           "\"window_s\": %.6g, ",
           res->info.nls, res->info.replication_factor,
           cfg->mode == VL_CTL_BENCH_SUBSCRIBE ? 0 : cfg->appenders, res->nchild, cfg->subscribers,
           cfg->size, cfg->batch, cfg->pipeline, cfg->blocking ? "true" : "false", cfg->ls_id,
           cfg->warmup, res->window);
    if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
        printf("\"append\": {\"entries\": %" PRIu64 ", \"total\": %" PRIu64 ", \"errors\": %" PRIu64
               ", ",
               res->app_window, res->app_total, res->app_errors);
        s_json_num("entries_per_s", (double)res->app_window / res->window, true);
        s_json_num("mb_per_s", (double)res->app_window * (double)cfg->size / res->window / 1e6,
                   false);
        printf("}, ");
        s_json_lat("commit_latency", &res->commit);
        printf(", ");
    }
    if (cfg->subscribers) {
        printf("\"subscribe\": {\"entries\": %" PRIu64 ", ", res->sub_window);
        s_json_num("entries_per_s", (double)res->sub_window / res->window, true);
        s_json_num("mb_per_s", (double)res->sub_window * (double)cfg->size / res->window / 1e6,
                   false);
        printf("}, ");
        if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
            s_json_lat("visible_latency", &res->visible);
            printf(", ");
        }
    }
    printf("\"cpu\": {\"client\": {");
    s_json_num("s", res->client_cpu, true);
    s_json_num("core_pct", res->client_cpu / res->window * 100, false);
    printf("}");
    for (int d = 0; d < res->ndaemons; d++) {
        double c = res->daemons[d].cpu[0] < 0 || res->daemons[d].cpu[1] < 0
                       ? NAN
                       : res->daemons[d].cpu[1] - res->daemons[d].cpu[0];
        printf(", ");
        vl_ctl_json_str(stdout, res->daemons[d].name, strlen(res->daemons[d].name));
        printf(": {\"pid\": %d, ", res->daemons[d].pid);
        s_json_num("s", c, true);
        s_json_num("core_pct", c / res->window * 100, false);
        printf("}");
    }
    printf("}");
    if (error) {
        printf(", \"error\": ");
        vl_ctl_json_str(stdout, error, strlen(error));
    }
    printf("}\n");
}

void vl_ctl_bench_report_text(const vl_ctl_bench_cfg_t *cfg, const vl_ctl_bench_result_t *res)
{
    printf("bench %s: topic %s (%u log streams, rf %u), ", cfg->mode_name, cfg->topic,
           res->info.nls, res->info.replication_factor);
    if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE)
        printf("%u appender%s%s%s, %zu B entries, batch %u, %s %u, ",
               cfg->appenders * (res->nchild ? res->nchild : 1),
               cfg->appenders * (res->nchild ? res->nchild : 1) > 1 ? "s" : "",
               res->nchild ? " in " : "", res->nchild ? "processes" : "", cfg->size, cfg->batch,
               cfg->blocking ? "blocking, pipeline" : "pipeline",
               cfg->blocking ? 1 : cfg->pipeline);
    printf("%u subscriber%s, %.2f s measured after %.1f s warm-up\n", cfg->subscribers,
           cfg->subscribers == 1 ? "" : "s", res->window, cfg->warmup);
    if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE) {
        printf("%-18s %.0f entries/s  %.2f MB/s  (%" PRIu64 " entries in the window, %" PRIu64
               " in all, %" PRIu64 " errors)\n",
               "append", (double)res->app_window / res->window,
               (double)res->app_window * (double)cfg->size / res->window / 1e6, res->app_window,
               res->app_total, res->app_errors);
        s_text_lat("append-to-commit", &res->commit);
    }
    if (cfg->subscribers) {
        printf("%-18s %.0f entries/s  %.2f MB/s  (%" PRIu64 " entries, all subscribers)\n",
               "subscribe", (double)res->sub_window / res->window,
               (double)res->sub_window * (double)cfg->size / res->window / 1e6, res->sub_window);
        if (cfg->mode != VL_CTL_BENCH_SUBSCRIBE)
            s_text_lat("append-to-visible", &res->visible);
    }
    printf("%-18s client %.2f s (%.0f%% of a core)", "cpu", res->client_cpu,
           res->client_cpu / res->window * 100);
    for (int d = 0; d < res->ndaemons; d++) {
        if (res->daemons[d].cpu[0] < 0 || res->daemons[d].cpu[1] < 0)
            printf(", %s (pid %d) not running", res->daemons[d].name, res->daemons[d].pid);
        else
            printf(", %s %.2f s (%.0f%%)", res->daemons[d].name,
                   res->daemons[d].cpu[1] - res->daemons[d].cpu[0],
                   (res->daemons[d].cpu[1] - res->daemons[d].cpu[0]) / res->window * 100);
    }
    printf("\n");
}
