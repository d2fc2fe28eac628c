/*  main.c - varlogadm: options, logging, start the admin actor, wait.

    One option table drives getopt_long and --help, so the two cannot
    disagree (man/varlogadm.8 repeats the --help text). Everything else
    lives in server.c, which tests can run in-process.
*/
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "server.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
    O_LISTEN = 256,
    O_MR,
    O_HEARTBEAT,
    O_HEARTBEAT_TIMEOUT,
    O_AUTO,
    O_NO_AUTO_UNSEAL,
    O_LOG_LEVEL,
    O_HELP,
    O_VERSION
};

typedef struct {
    const char *name;
    const char *arg; /* NULL: a flag */
    int key;
    const char *help;
} s_option_t;

static const s_option_t s_options[] = {
    {"listen", "ENDPOINT", O_LISTEN,
     "endpoint to serve varlogctl on (default " VL_ADM_LISTEN_DEFAULT ")"},
    {"mr", "ENDPOINTS", O_MR,
     "metadata repository, comma-separated\n(default $VARLOG_MR or " VL_ADM_MR_DEFAULT ")"},
    {"heartbeat-ms", "MS", O_HEARTBEAT,
     "ask every storage node for its status this often (default 1000)"},
    {"heartbeat-timeout-ms", "MS", O_HEARTBEAT_TIMEOUT,
     "mark a storage node down after this long without an answer\n(default 3000)"},
    {"auto", "on|off", O_AUTO,
     "on (default): seal the log streams of a storage node that is down,\nsync them when it "
     "is back and unseal them once in line; off:\nleave all of it to 'varlogctl ls ...'"},
    {"no-auto-unseal", NULL, O_NO_AUTO_UNSEAL,
     "seal and sync automatically, but leave the unseal to\n'varlogctl ls unseal'"},
    {"log-level", "LEVEL", O_LOG_LEVEL, "error, warning, notice, info or debug (default info)"},
    {"help", NULL, O_HELP, "print this help and exit"},
    {"version", NULL, O_VERSION, "print the version and exit"},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

static void s_help(FILE *out)
{
    fprintf(out, "Usage: varlogadm [OPTION]...\n"
                 "The varlog admin daemon: proxies admin requests of varlogctl to the metadata\n"
                 "repository, registers storage nodes and watches which are up.\n\n"
                 "Options:\n");
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        fprintf(out, "  --%s%s%s\n        ", s_options[i].name, s_options[i].arg ? " " : "",
                s_options[i].arg ? s_options[i].arg : "");
        for (const char *p = s_options[i].help; *p; p++)
            if (*p == '\n')
                fputs("\n        ", out);
            else
                fputc(*p, out);
        fputc('\n', out);
    }
    fprintf(out, "\nStops on SIGINT or SIGTERM. Logs go to stderr.\n");
}

static int s_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "varlogadm: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "; see 'varlogadm --help'\n");
    va_end(ap);
    return 2;
}

/*  Parses a positive number of milliseconds; -1 when s is not one. */
static int s_parse_ms(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 3600 * 1000)
        return -1;
    return (int)v;
}

int main(int argc, char **argv)
{
    struct option longopts[S_NOPTIONS + 1];
    for (size_t i = 0; i < S_NOPTIONS; i++)
        longopts[i] =
            (struct option){s_options[i].name, s_options[i].arg ? required_argument : no_argument,
                            NULL, s_options[i].key};
    memset(&longopts[S_NOPTIONS], 0, sizeof longopts[0]);

    const char *env_mr = getenv("VARLOG_MR");
    vl_adm_opts_t opts = {
        .listen = VL_ADM_LISTEN_DEFAULT,
        .mr = env_mr && *env_mr ? env_mr : VL_ADM_MR_DEFAULT,
        .heartbeat_ms = VL_ADM_HEARTBEAT_MS_DEFAULT,
        .heartbeat_timeout_ms = VL_ADM_HEARTBEAT_TIMEOUT_MS_DEFAULT,
    };
    int level = LOG_INFO;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            opts.listen = optarg;
            break;
        case O_MR:
            opts.mr = optarg;
            break;
        case O_HEARTBEAT:
            if ((opts.heartbeat_ms = s_parse_ms(optarg)) < 0)
                return s_usage_error("--heartbeat-ms: '%s' is not a number of milliseconds "
                                     "(1..3600000)",
                                     optarg);
            break;
        case O_HEARTBEAT_TIMEOUT:
            if ((opts.heartbeat_timeout_ms = s_parse_ms(optarg)) < 0)
                return s_usage_error("--heartbeat-timeout-ms: '%s' is not a number of "
                                     "milliseconds (1..3600000)",
                                     optarg);
            break;
        case O_AUTO:
            if (strcmp(optarg, "on") == 0)
                opts.no_auto = false;
            else if (strcmp(optarg, "off") == 0)
                opts.no_auto = true;
            else
                return s_usage_error("--auto: '%s' is neither on nor off", optarg);
            break;
        case O_NO_AUTO_UNSEAL:
            opts.no_auto_unseal = true;
            break;
        case O_LOG_LEVEL:
            if ((level = vl_log_level_parse(optarg)) < 0)
                return s_usage_error("--log-level: unknown level '%s' (use error, warning, "
                                     "notice, info or debug)",
                                     optarg);
            break;
        case O_HELP:
            s_help(stdout);
            return 0;
        case O_VERSION:
            printf("varlogadm %s\n", PACKAGE_VERSION);
            return 0;
        case ':':
            return s_usage_error("%s needs a value", argv[optind - 1]);
        default:
            return s_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_usage_error("unexpected argument '%s'", argv[optind]);
    if (opts.heartbeat_timeout_ms <= opts.heartbeat_ms)
        return s_usage_error("--heartbeat-timeout-ms (%d) must be larger than --heartbeat-ms "
                             "(%d), or every storage node would flap",
                             opts.heartbeat_timeout_ms, opts.heartbeat_ms);

    vl_log_init("varlogadm", level);
    zsys_init();
    zactor_t *actor = zactor_new(vl_adm_actor, &opts);
    if (!actor) {
        vl_log(LOG_ERR, "cannot start the admin thread; out of resources?");
        return 1;
    }
    int port = -1;
    zstr_send(actor, "PORT");
    zsock_recv(actor, "i", &port);
    int rc = 0;
    if (port < 0) {
        rc = 1; /* the actor logged why */
    } else {
        /* the CZMQ signal handler sets zsys_interrupted and makes the
           wait return */
        zpoller_t *poller = zpoller_new(actor, NULL);
        while (!zsys_interrupted)
            zpoller_wait(poller, 1000);
        zpoller_destroy(&poller);
        vl_log(LOG_NOTICE, "stopping on a signal");
    }
    zactor_destroy(&actor);
    return rc;
}
