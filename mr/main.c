/*  main.c - varlogmr: the metadata repository daemon.

    Parses the options (one table drives getopt_long and --help), sets up
    logging, starts the server actor and waits for SIGINT/SIGTERM, which it
    turns into the actor's $TERM so that the store is closed cleanly.
    Everything else lives in server.c, state.c and persist.c.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "server.h"
#include "varlog_err.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
    OPT_LISTEN = 'l',
    OPT_DATA = 'd',
    OPT_TICK = 't',
    OPT_CLUSTER = 'c',
    OPT_LOGLEVEL = 'L',
    OPT_HELP = 'h',
    OPT_VERSION = 'V'
};

static const struct {
    const char *name;
    int key;
    const char *metavar; /* NULL: a flag without argument */
    const char *help;
} s_options[] = {
    {"listen", OPT_LISTEN, "ENDPOINT",
     "ZeroMQ endpoint to listen on (default " VL_MR_LISTEN_DEFAULT ")"},
    {"data", OPT_DATA, "DIR", "data directory, created if missing (required)"},
    {"commit-tick", OPT_TICK, "USEC", "commit round period in microseconds (default 500)"},
    {"cluster-id", OPT_CLUSTER, "N", "numeric cluster id (default 1)"},
    {"log-level", OPT_LOGLEVEL, "LEVEL", "error, warning, notice, info or debug (default info)"},
    {"help", OPT_HELP, NULL, "show this help and exit"},
    {"version", OPT_VERSION, NULL, "show the version and exit"},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: varlogmr --data DIR [OPTION]...\n"
                 "Run the metadata repository of a varlog cluster: it keeps the cluster's\n"
                 "metadata and commits the global order of log entries.\n\n"
                 "Options:\n");
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s_options[i].name, s_options[i].metavar ? " " : "",
                 s_options[i].metavar ? s_options[i].metavar : "");
        fprintf(out, "  %-24s %s\n", left, s_options[i].help);
    }
}

static void s_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_die_usage(const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "varlogmr: %s; see 'varlogmr --help'\n", text);
    exit(2);
}

/*  Parses a decimal number in [min, max] or exits 2 naming the option. */
static unsigned long s_number(const char *opt, const char *arg, unsigned long min,
                              unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
        s_die_usage("--%s '%s' is not a number from %lu to %lu", opt, arg, min, max);
    }
    return v;
}

int main(int argc, char *argv[])
{
    vl_mr_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = VL_MR_LISTEN_DEFAULT;
    cfg.commit_tick_us = VL_MR_COMMIT_TICK_DEFAULT;
    cfg.cluster_id = 1;
    int level = LOG_INFO;

    struct option longopts[S_NOPTIONS + 1];
    memset(longopts, 0, sizeof longopts);
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        longopts[i].name = s_options[i].name;
        longopts[i].has_arg = s_options[i].metavar ? required_argument : no_argument;
        longopts[i].val = s_options[i].key;
    }
    opterr = 0; /* our own one-line messages */
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            cfg.listen = optarg;
            break;
        case OPT_DATA:
            cfg.data_dir = optarg;
            break;
        case OPT_TICK:
            cfg.commit_tick_us = (uint32_t)s_number("commit-tick", optarg, 1, 10000000);
            break;
        case OPT_CLUSTER:
            cfg.cluster_id = (uint32_t)s_number("cluster-id", optarg, 1, UINT32_MAX);
            break;
        case OPT_LOGLEVEL:
            level = vl_log_level_parse(optarg);
            if (level < 0)
                s_die_usage("--log-level '%s' is not one of error, warning, notice, info, debug",
                            optarg);
            break;
        case OPT_HELP:
            s_usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("varlogmr (varlog) %s\n", PACKAGE_VERSION);
            return 0;
        case ':':
            s_die_usage("option '%s' needs an argument", argv[optind - 1]);
            break;
        default:
            s_die_usage("unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (optind < argc)
        s_die_usage("unexpected argument '%s'", argv[optind]);
    if (!cfg.data_dir || !cfg.data_dir[0])
        s_die_usage("%s", "--data DIR is required (where the metadata is stored)");
    if (!cfg.listen[0])
        s_die_usage("%s", "--listen needs a ZeroMQ endpoint such as tcp://127.0.0.1:9092");

    vl_log_init("varlogmr", level);
    zactor_t *mr = vl_mr_start(&cfg);
    if (!mr) {
        vl_log(LOG_ERR, "mr: cannot start: %s", cfg.errbuf);
        return 1;
    }
    /* CZMQ's handler sets zsys_interrupted on SIGINT/SIGTERM; the poll
       timeout bounds how long a signal taken by another thread waits */
    zpoller_t *poller = zpoller_new(mr, NULL);
    int rc = 0;
    while (!zsys_interrupted) {
        if (zpoller_wait(poller, 200) == mr) {
            /* the actor only speaks when asked; a message now means it died */
            vl_log(LOG_ERR, "mr: the server thread stopped unexpectedly; exiting");
            rc = 1;
            break;
        }
    }
    zpoller_destroy(&poller);
    if (rc == 0) {
        vl_log(LOG_INFO, "mr: stopping on signal");
        zactor_destroy(&mr);
        vl_log(LOG_INFO, "mr: stopped");
    }
    return rc;
}
