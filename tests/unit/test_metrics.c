/*  test_metrics.c - the metrics registry (lib/metrics.c): series made once
    per name and labels, the text format of each type, histogram buckets,
    the default address, concurrent updates, the HTTP server.

    The registry is the process's (vl_metrics_default), so each test uses
    names of its own.
*/
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "metrics.h"
#include "varlog_err.h"

static char *s_render(void)
{
    size_t len;
    char *text = vl_metrics_render(vl_metrics_default(), &len);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counter_gauge(void **state)
{
    vl_metrics_t *m = vl_metrics_default();
    vl_metric_t *a = vl_metrics_counter(m, "t1_things_total", "things", "ls=\"1\"");
    vl_metric_t *b = vl_metrics_counter(m, "t1_things_total", "ignored", "ls=\"2\"");
    assert_ptr_equal(a, vl_metrics_counter(m, "t1_things_total", NULL, "ls=\"1\""));
    assert_ptr_not_equal(a, b);
    vl_metric_add(a, 5);
    vl_metric_inc(a);
    vl_metric_inc(b);
    vl_metric_inc(NULL); /* a daemon without metrics passes NULL */
    vl_metric_t *g = vl_metrics_gauge(m, "t1_level", "a level", NULL);
    vl_metric_set(g, -3);
    char *text = s_render();
    assert_non_null(strstr(text, "# HELP t1_things_total things\n# TYPE t1_things_total counter\n"
                                 "t1_things_total{ls=\"1\"} 6\nt1_things_total{ls=\"2\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE t1_level gauge\nt1_level -3\n"));
    free(text);
}

static void test_histogram(void **state)
{
    vl_metric_t *h = vl_metrics_histogram(vl_metrics_default(), "t2_seconds", "latency", "x=\"y\"");
    vl_metric_observe_us(h, 40);      /* <= 50 us */
    vl_metric_observe_us(h, 50);      /* the bound itself belongs to the bucket */
    vl_metric_observe_us(h, 700);     /* <= 1 ms */
    vl_metric_observe_us(h, 99000000); /* past 10 s: +Inf only */
    char *text = s_render();
    assert_non_null(strstr(text, "# TYPE t2_seconds histogram\n"));
    assert_non_null(strstr(text, "t2_seconds_bucket{x=\"y\",le=\"5e-05\"} 2\n"));
    assert_non_null(strstr(text, "t2_seconds_bucket{x=\"y\",le=\"0.0005\"} 2\n"));
    assert_non_null(strstr(text, "t2_seconds_bucket{x=\"y\",le=\"0.001\"} 3\n"));
    assert_non_null(strstr(text, "t2_seconds_bucket{x=\"y\",le=\"10\"} 3\n"));
    assert_non_null(strstr(text, "t2_seconds_bucket{x=\"y\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(text, "t2_seconds_sum{x=\"y\"} 99.000790\n"));
    assert_non_null(strstr(text, "t2_seconds_count{x=\"y\"} 4\n"));
    free(text);
}

static double s_fn(void *arg)
{
    return *(double *)arg;
}

static void test_gauge_fn_forget(void **state)
{
    static double v = 2.5;
    vl_metrics_gauge_fn(vl_metrics_default(), "t3_read", "read at scrape", NULL, s_fn, &v);
    char *text = s_render();
    assert_non_null(strstr(text, "t3_read 2.5\n"));
    free(text);
    vl_metrics_forget(vl_metrics_default(), &v);
    text = s_render();
    assert_null(strstr(text, "t3_read")); /* a family with no series is not written */
    free(text);
}

static void test_default_addr(void **state)
{
    char out[64];
    assert_int_equal(vl_metrics_default_addr("tcp://127.0.0.1:9101", out, sizeof out), 0);
    assert_string_equal(out, "127.0.0.1:10101");
    assert_int_equal(vl_metrics_default_addr("0.0.0.0:9090", out, sizeof out), 0);
    assert_string_equal(out, "0.0.0.0:10090");
    assert_int_equal(vl_metrics_default_addr("tcp://[::1]:9092", out, sizeof out), 0);
    assert_string_equal(out, "[::1]:10092");
    assert_int_equal(vl_metrics_default_addr("tcp://127.0.0.1:*", out, sizeof out), VL_EINVAL);
    assert_int_equal(vl_metrics_default_addr("tcp://127.0.0.1:65000", out, sizeof out), VL_EINVAL);
    assert_int_equal(vl_metrics_default_addr("nothing", out, sizeof out), VL_EINVAL);
    assert_int_equal(vl_metrics_default_addr("", out, sizeof out), VL_EINVAL);
}

static void *s_bump(void *arg)
{
    for (int i = 0; i < 100000; i++) {
        vl_metric_inc(arg);
        vl_metric_observe_us(vl_metrics_histogram(vl_metrics_default(), "t4_seconds", "h", NULL),
                             i % 2000);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    vl_metric_t *c = vl_metrics_counter(vl_metrics_default(), "t4_total", "c", NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, s_bump, c);
    for (int i = 0; i < 20; i++)
        free(s_render()); /* scrapes meanwhile */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *text = s_render();
    assert_non_null(strstr(text, "t4_total 400000\n"));
    assert_non_null(strstr(text, "t4_seconds_count 400000\n"));
    free(text);
}

static void test_serve_errors(void **state)
{
    char err[256];
    assert_int_equal(vl_metrics_serve(vl_metrics_default(), "noport", err, sizeof err), VL_EINVAL);
    assert_non_null(strstr(err, "noport"));
    assert_int_equal(vl_metrics_start("off", "tcp://127.0.0.1:9090", err, sizeof err), 0);
    assert_int_equal(vl_metrics_serve(vl_metrics_default(), "127.0.0.1:0", err, sizeof err), 0);
    vl_metrics_stop(vl_metrics_default());
    vl_metrics_stop(vl_metrics_default()); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_gauge_fn_forget), cmocka_unit_test(test_default_addr),
        cmocka_unit_test(test_concurrent), cmocka_unit_test(test_serve_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
