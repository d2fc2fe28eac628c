/*  mrload_cpu.c - the CPU figures of vl_mrload (mrload.c): the MR's and
    its threads' from /proc/PID/stat and /proc/PID/task (with each thread's
    wait on a run queue from schedstat), the tool's own from getrusage, and
    the threads' share of the measured window as JSON.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "mrload_cpu.h"

/*  utime + stime (clock ticks) of /proc/PID/stat or /proc/PID/task/TID/stat;
    comm into comm when given. -1 when unreadable. */
static long long s_stat_cpu(const char *path, char *comm, size_t comm_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close)
        return -1;
    if (comm)
        snprintf(comm, comm_size, "%.*s", (int)(close - open - 1), open + 1);
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
       majflt cmajflt utime(14) stime(15) */
    unsigned long long ut, st;
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

size_t mrload_threads(long pid, mrload_thread_t *out)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/task", pid);
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MRLOAD_MAX_THREADS) {
        if (e->d_name[0] == '.')
            continue;
        char path[sizeof dir + sizeof e->d_name + 16];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        out[n].tid = atoi(e->d_name);
        out[n].cpu = s_stat_cpu(path, out[n].comm, sizeof out[n].comm);
        /* schedstat: ns on the cpu, ns waiting on a run queue, timeslices:
           the wait says whether a thread was short of a core */
        out[n].wait_ns = -1;
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            unsigned long long run, wait;
            if (fscanf(f, "%llu %llu", &run, &wait) == 2)
                out[n].wait_ns = (long long)wait;
            fclose(f);
        }
        if (out[n].cpu >= 0)
            n++;
    }
    closedir(d);
    return n;
}

long long mrload_mr_cpu(long pid)
{
    if (!pid)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    return s_stat_cpu(path, NULL, 0);
}

double mrload_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

void mrload_json_threads(const mrload_thread_t *a, size_t na, const mrload_thread_t *b, size_t nb,
                         double window_s, long hz)
{
    /* busiest first; threads born during the window count from 0 */
    mrload_thread_t d[MRLOAD_MAX_THREADS];
    size_t n = 0;
    for (size_t j = 0; j < nb; j++) {
        long long c0 = 0, w0 = 0;
        for (size_t i = 0; i < na; i++)
            if (a[i].tid == b[j].tid) {
                c0 = a[i].cpu;
                w0 = a[i].wait_ns;
            }
        d[n] = b[j];
        d[n].wait_ns = b[j].wait_ns >= 0 && w0 >= 0 ? b[j].wait_ns - w0 : -1;
        d[n++].cpu = b[j].cpu - c0;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && d[j].cpu > d[j - 1].cpu; j--) {
            mrload_thread_t t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
        }
    printf("\"mr_threads\": [");
    for (size_t i = 0; i < n; i++)
        printf("%s{\"tid\": %d, \"comm\": \"%s\", \"cpu_pct\": %.1f, \"runq_wait_pct\": %.1f}",
               i ? ", " : "", d[i].tid, d[i].comm, (double)d[i].cpu / (double)hz / window_s * 100,
               d[i].wait_ns >= 0 ? (double)d[i].wait_ns / 1e9 / window_s * 100 : -1.0);
    printf("], ");
}
