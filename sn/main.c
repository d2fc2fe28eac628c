/*  main.c - varlogsn, the varlog storage node daemon.

    Parses the options (one table drives both getopt_long and --help), sets
    up logging, starts the server actor (server.h) and waits for SIGINT or
    SIGTERM, which CZMQ turns into zsys_interrupted. Everything else lives in
    the modules.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "server.h"
#include "wire.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

enum {
    OPT_LISTEN = 256,
    OPT_ADVERTISE,
    OPT_DATA,
    OPT_MR,
    OPT_SYNC,
    OPT_MAX_ENTRY_SIZE,
    OPT_CLUSTER_ID,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_VERSION
};

typedef struct {
    const char *name;
    int id;
    const char *arg; /* metavariable, NULL for a flag */
    const char *help;
} s_option_t;

static const s_option_t s_options[] = {
    {"listen", OPT_LISTEN, "ENDPOINT",
     "ZeroMQ endpoint to listen on\n(default tcp://127.0.0.1:9101)"},
    {"advertise", OPT_ADVERTISE, "ENDPOINT",
     "address registered with the cluster\n(default: the listen endpoint)"},
    {"data", OPT_DATA, "DIR", "data directory, created if missing (required)"},
    {"mr", OPT_MR, "ENDPOINTS",
     "metadata repository, comma-separated\n(default $VARLOG_MR or tcp://127.0.0.1:9092)"},
    {"sync", OPT_SYNC, "always|none", "fsync entries before reporting them\n(default always)"},
    {"max-entry-size", OPT_MAX_ENTRY_SIZE, "BYTES",
     "largest entry accepted, K/M/G suffixes\nallowed (default 1M)"},
    {"cluster-id", OPT_CLUSTER_ID, "N", "cluster id (default 1)"},
    {"log-level", OPT_LOG_LEVEL, "LEVEL", "error, warning, notice, info or debug\n(default info)"},
    {"help", OPT_HELP, NULL, "show this help and exit"},
    {"version", OPT_VERSION, NULL, "show the version and exit"},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: varlogsn --data DIR [OPTION]...\n"
                 "Runs a varlog storage node: stores log stream replicas in RocksDB and\n"
                 "serves append, replication and reads.\n\n"
                 "Options:\n");
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s_options[i].name, s_options[i].arg ? " " : "",
                 s_options[i].arg ? s_options[i].arg : "");
        /* Help texts break at '\n' into indented continuation lines. */
        const char *h = s_options[i].help;
        for (int first = 1; *h; first = 0) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(out, "  %-24s %.*s\n", first ? left : "", len, h);
            h += len + (nl ? 1 : 0);
        }
    }
}

static void s_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void s_bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "varlogsn: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see varlogsn --help\n");
    va_end(ap);
    exit(2);
}

/*  Parses a size with an optional K, M or G suffix (powers of 1024). */
static int s_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1ull << 10;
    else if (*end == 'M' || *end == 'm')
        mult = 1ull << 20;
    else if (*end == 'G' || *end == 'g')
        mult = 1ull << 30;
    if (mult > 1)
        end++;
    if (*end || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

int main(int argc, char **argv)
{
    vl_sn_config_t cfg = {
        .listen = "tcp://127.0.0.1:9101",
        .advertise = NULL,
        .data_dir = NULL,
        .mr = getenv("VARLOG_MR") && *getenv("VARLOG_MR") ? getenv("VARLOG_MR")
                                                          : "tcp://127.0.0.1:9092",
        .sync = true,
        .max_entry_size = VL_MAX_ENTRY_SIZE_DEFAULT,
        .cluster_id = 1,
    };
    int level = LOG_INFO;

    struct option longopts[S_NOPTIONS + 1];
    for (size_t i = 0; i < S_NOPTIONS; i++)
        longopts[i] =
            (struct option){s_options[i].name, s_options[i].arg ? required_argument : no_argument,
                            NULL, s_options[i].id};
    memset(&longopts[S_NOPTIONS], 0, sizeof longopts[0]);

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            cfg.listen = optarg;
            break;
        case OPT_ADVERTISE:
            cfg.advertise = optarg;
            break;
        case OPT_DATA:
            cfg.data_dir = optarg;
            break;
        case OPT_MR:
            cfg.mr = optarg;
            break;
        case OPT_SYNC:
            if (strcmp(optarg, "always") == 0)
                cfg.sync = true;
            else if (strcmp(optarg, "none") == 0)
                cfg.sync = false;
            else
                s_bad("--sync takes always or none, not '%s'", optarg);
            break;
        case OPT_MAX_ENTRY_SIZE:
            if (s_parse_size(optarg, &cfg.max_entry_size) != 0 || cfg.max_entry_size > (1ull << 30))
                s_bad("--max-entry-size takes a size of at most 1G, not '%s'", optarg);
            break;
        case OPT_CLUSTER_ID: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || *optarg == '-' || v > UINT32_MAX)
                s_bad("--cluster-id takes a number from 0 to 4294967295, not '%s'", optarg);
            cfg.cluster_id = (uint32_t)v;
            break;
        }
        case OPT_LOG_LEVEL:
            level = vl_log_level_parse(optarg);
            if (level < 0)
                s_bad("unknown log level '%s' (use error, warning, notice, info or debug)", optarg);
            break;
        case OPT_HELP:
            s_usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("varlogsn (varlog) %s\n", PACKAGE_VERSION);
            return 0;
        case ':':
            s_bad("option %s needs a value", argv[optind - 1]);
        default:
            if (optopt)
                s_bad("unknown option -%c", optopt);
            s_bad("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        s_bad("unexpected argument '%s'", argv[optind]);
    if (!cfg.data_dir || !*cfg.data_dir)
        s_bad("--data DIR is required");
    if (strlen(cfg.listen) > VL_WIRE_MAX_ADDR ||
        (cfg.advertise && strlen(cfg.advertise) > VL_WIRE_MAX_ADDR))
        s_bad("endpoints are limited to %d characters", VL_WIRE_MAX_ADDR);

    vl_log_init("varlogsn", level);
    zsys_init();
    zsys_set_linger(0);
    vl_sn_t *sn = NULL;
    char err[512];
    if (vl_sn_new(&cfg, &sn, err, sizeof err) != 0) {
        fprintf(stderr, "varlogsn: %s\n", err);
        return 1;
    }
    /* Wait for SIGINT/SIGTERM; the actor's pipe becomes readable only if
       the actor thread ends by itself. */
    zpoller_t *poller = zpoller_new(vl_sn_actor(sn), NULL);
    int rc = 0;
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, 500);
        if (which) {
            vl_log(LOG_ERR, "sn: the server stopped unexpectedly");
            rc = 1;
            break;
        }
    }
    zpoller_destroy(&poller);
    vl_sn_destroy(&sn);
    vl_log(LOG_NOTICE, "sn: stopped");
    return rc;
}
