/*  ctl_bench_i.h - varlogctl bench: what the load generator and its report
    share (private).

    ctl_bench.c parses the options, runs the load and measures it;
    ctl_bench_cpu.c reads the CPU time of this process and of the daemons
    it watches; ctl_bench_report.c prints what a run measured, as text or
    JSON.
*/
#ifndef VL_CTL_BENCH_I_H
#define VL_CTL_BENCH_I_H
#include <stdbool.h>
#include <stdint.h>
#include "ctl.h"
#include "varlog.h"

#define VL_CTL_BENCH_MAX_DAEMONS 64

/*  A latency histogram in nanoseconds: log-linear, VL_CTL_BENCH_SUB
    sub-buckets per power of two. */
#define VL_CTL_BENCH_SUB_BITS 6
#define VL_CTL_BENCH_SUB (1 << VL_CTL_BENCH_SUB_BITS)
#define VL_CTL_BENCH_HIST_N (VL_CTL_BENCH_SUB * 59)

typedef struct {
    uint64_t count[VL_CTL_BENCH_HIST_N];
    uint64_t n;
} vl_ctl_bench_hist_t;

typedef enum { VL_CTL_BENCH_APPEND, VL_CTL_BENCH_E2E, VL_CTL_BENCH_SUBSCRIBE } vl_ctl_bench_mode_t;

/*  The run as the options ask for it. */
typedef struct {
    vl_ctl_bench_mode_t mode;
    const char *mode_name;
    const char *topic;
    const char *mr;
    int timeout_ms;
    uint32_t appenders, procs, subscribers;
    size_t size;
    uint32_t batch, pipeline;
    uint32_t ls_id, nls, rf;
    double duration, warmup;
    bool blocking;
} vl_ctl_bench_cfg_t;

/*  A daemon whose CPU time the run reports (--pids, --run-dir). */
typedef struct {
    char name[64];
    int pid;
    double cpu[2]; /* seconds at the two snapshots; <0: unreadable */
} vl_ctl_bench_daemon_t;

/*  ---- ctl_bench_cpu.c ----------------------------------------------------- */

/*  utime+stime of pid in seconds, or -1. */
double vl_ctl_bench_proc_cpu(int pid);

/*  The CPU time of this process (user and system) in seconds. */
double vl_ctl_bench_self_cpu(void);

/*  --pids name=pid,name=pid,...: adds each to d (*n of them). Returns 0,
    or 2 after printing a usage error. */
int vl_ctl_bench_parse_pids(vl_ctl_t *ctl, const char *spec, vl_ctl_bench_daemon_t *d, int *n);

/*  --run-dir DIR: adds every DIR/NAME.pid (quickstart's $VARLOG_DATA/run)
    to d (*n of them). Returns 0, 1 after printing why DIR cannot be read
    or 2 after printing a usage error. */
int vl_ctl_bench_scan_run_dir(vl_ctl_t *ctl, const char *dir, vl_ctl_bench_daemon_t *d, int *n);

/*  ---- ctl_bench_report.c ---------------------------------------------------- */

/*  What a run measured: the report's input. */
typedef struct {
    vl_topic_info_t info;                       /* the topic, as the run found it */
    uint32_t nchild;                            /* appender processes (--procs) */
    double window;                              /* seconds between the two snapshots */
    uint64_t app_window, app_total, app_errors; /* entries appended in the
                                                   window, in all, failed */
    uint64_t sub_window;                        /* entries the subscribers read in the window */
    double client_cpu;                          /* CPU seconds of varlogctl and its appender
                                                   processes in the window */
    vl_ctl_bench_hist_t commit, visible;        /* append-to-commit and
                                                   append-to-visible latencies */
    vl_ctl_bench_daemon_t daemons[VL_CTL_BENCH_MAX_DAEMONS];
    int ndaemons;
} vl_ctl_bench_result_t;

/*  Prints the report of a run as one JSON object on stdout; error: the
    first error of the run, or NULL. */
void vl_ctl_bench_report_json(const vl_ctl_bench_cfg_t *cfg, const vl_ctl_bench_result_t *res,
                              const char *error);

/*  Prints the report of a run as text on stdout. */
void vl_ctl_bench_report_text(const vl_ctl_bench_cfg_t *cfg, const vl_ctl_bench_result_t *res);

#endif
