/*  ctl_bench_cpu.c - varlogctl bench: the CPU time of this process and of
    the daemons named by --pids or --run-dir, read at the two snapshots
    that bound the measured window.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "ctl_bench_i.h"
#include "util.h"

double vl_ctl_bench_proc_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after
       the last ')'; utime and stime are fields 14 and 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime, stime;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double vl_ctl_bench_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int s_add_daemon(vl_ctl_t *ctl, vl_ctl_bench_daemon_t *d, int *n, const char *name,
                        size_t name_len, const char *pid_text)
{
    if (*n >= VL_CTL_BENCH_MAX_DAEMONS)
        return vl_ctl_usage(ctl, "at most %d daemons can be watched", VL_CTL_BENCH_MAX_DAEMONS);
    uint64_t pid;
    if (vl_ctl_number(ctl, "PID", pid_text, 1, INT32_MAX, &pid) != 0)
        return 2;
    snprintf(d[*n].name, sizeof d[*n].name, "%.*s", (int)name_len, name);
    d[*n].pid = (int)pid;
    (*n)++;
    return 0;
}

int vl_ctl_bench_parse_pids(vl_ctl_t *ctl, const char *spec, vl_ctl_bench_daemon_t *d, int *n)
{
    char *copy = vl_strdup(spec), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            rc = vl_ctl_usage(ctl, "--pids: '%s' is not NAME=PID", tok);
        else
            rc = s_add_daemon(ctl, d, n, tok, (size_t)(eq - tok), eq + 1);
    }
    free(copy);
    return rc;
}

int vl_ctl_bench_scan_run_dir(vl_ctl_t *ctl, const char *dir, vl_ctl_bench_daemon_t *d, int *n)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return vl_ctl_fail(ctl, "--run-dir: cannot open %s: %s (give $VARLOG_DATA/run)", dir,
                           strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".pid") != 0)
            continue;
        char path[4096], text[32] = "";
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(text, sizeof text, f))
            text[strcspn(text, " \r\n")] = '\0';
        fclose(f);
        if (text[0])
            rc = s_add_daemon(ctl, d, n, de->d_name, len - 4, text);
    }
    closedir(dp);
    return rc;
}
