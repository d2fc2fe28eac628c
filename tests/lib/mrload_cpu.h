/*  mrload_cpu.h - the CPU figures of vl_mrload (mrload.c): the MR's and its
    threads' from /proc, the tool's own, and the threads' share of the
    measured window as JSON.
*/
#ifndef VL_TESTS_MRLOAD_CPU_H
#define VL_TESTS_MRLOAD_CPU_H

#include <stddef.h>

#define MRLOAD_MAX_THREADS 64
typedef struct {
    int tid;
    char comm[32];
    long long cpu;
    long long wait_ns; /* time runnable but not running (schedstat), -1 unknown */
} mrload_thread_t;

/*  The threads of process pid (at most MRLOAD_MAX_THREADS) with their CPU
    (clock ticks) and run queue wait into out; returns how many. */
size_t mrload_threads(long pid, mrload_thread_t *out);

/*  The CPU (utime + stime, clock ticks) of process pid; -1 when pid is 0
    or its stat unreadable. */
long long mrload_mr_cpu(long pid);

/*  This process's CPU (user + system), in seconds. */
double mrload_self_cpu_s(void);

/*  Prints "mr_threads": [...] (busiest first) with each thread's share of
    a core and of run queue wait between the snapshots a (na threads) and
    b (nb) taken window_s apart; hz is the clock tick rate. */
void mrload_json_threads(const mrload_thread_t *a, size_t na, const mrload_thread_t *b, size_t nb,
                         double window_s, long hz);

#endif
