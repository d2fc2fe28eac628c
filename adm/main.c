/*  main.c - varlogadm: options, logging, start the admin actor, wait.

    One option table (opt.h) drives the command line, the --config file
    and --help, so they cannot disagree (man/varlogadm.8 repeats the --help
    text). Everything else lives in the actor (server.c, health.c, sync.c),
    which tests can run in-process.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "curve.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "opt.h"
#include "server.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const vl_opt_prog_t s_prog = {
    .prog = "varlogadm",
    .usage = "Usage: varlogadm [OPTION]...\n"
             "The varlog admin daemon: proxies admin requests of varlogctl to the metadata\n"
             "repository, registers storage nodes and watches which are up.\n\n"
             "Options:\n",
    .epilog = "\nStops on SIGINT or SIGTERM. Logs go to stderr.\n",
    .version = "varlogadm " PACKAGE_VERSION,
    .style = VL_OPT_STYLE_INDENTED,
};

static const char *const s_auto_words[] = {"on", "off", NULL};

int main(int argc, char **argv)
{
    const char *env_mr = getenv("VARLOG_MR");
    vl_adm_opts_t opts = {
        .listen = VL_ADM_LISTEN_DEFAULT,
        .mr = env_mr && *env_mr ? env_mr : VL_ADM_MR_DEFAULT,
        .heartbeat_ms = VL_ADM_HEARTBEAT_MS_DEFAULT,
        .heartbeat_timeout_ms = VL_ADM_HEARTBEAT_TIMEOUT_MS_DEFAULT,
    };
    int level = LOG_INFO;
    int no_auto = 0; /* index in s_auto_words: 0 on, 1 off */
    const char *metrics = NULL;
    vl_curve_opts_t curve = {0};

    const vl_opt_def_t options[] = {
        VL_OPT_STRING_DEF("listen", "ENDPOINT",
                          "endpoint to serve varlogctl on (default " VL_ADM_LISTEN_DEFAULT ")",
                          &opts.listen),
        VL_OPT_STRING_DEF(
            "mr", "ENDPOINTS",
            "metadata repository, comma-separated\n(default $VARLOG_MR or " VL_ADM_MR_DEFAULT ")",
            &opts.mr),
        VL_OPT_INT_DEF("heartbeat-ms", "MS",
                       "ask every storage node for its status this often (default 500)",
                       &opts.heartbeat_ms, 1, 3600 * 1000),
        VL_OPT_INT_DEF("heartbeat-timeout-ms", "MS",
                       "mark a storage node down after this long without an answer\n(default "
                       "2000; one whose connection closed: after 500 ms)",
                       &opts.heartbeat_timeout_ms, 1, 3600 * 1000),
        VL_OPT_ENUM_DEF(
            "auto", "on|off",
            "on (default): seal the log streams of a storage node that is down,\nsync them when it "
            "is back and unseal them once in line; off:\nleave all of it to 'varlogctl ls ...'",
            &no_auto, s_auto_words, NULL),
        VL_OPT_FLAG_DEF(
            "no-auto-unseal",
            "seal and sync automatically, but leave the unseal to\n'varlogctl ls unseal'",
            &opts.no_auto_unseal),
        VL_OPT_STRING_DEF("metrics", "HOST:PORT|off",
                          "serve Prometheus metrics at http://HOST:PORT/metrics\n"
                          "(default: the --listen host, port + 1000)",
                          &metrics),
        VL_CURVE_OPT_DEFS(&curve),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL",
                             "error, warning, notice, info or debug (default info)", &level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("print this help and exit"),
        VL_OPT_VERSION_DEF("print the version and exit"),
    };
    vl_opt_t *opt = vl_opt_new(&s_prog, options, sizeof options / sizeof options[0]);
    int status = vl_opt_parse(opt, argc, argv);
    if (status < 0 && opts.heartbeat_timeout_ms <= opts.heartbeat_ms)
        status = vl_opt_usage_error(opt,
                                    "--heartbeat-timeout-ms (%d) must be larger than "
                                    "--heartbeat-ms (%d), or every storage node would flap",
                                    opts.heartbeat_timeout_ms, opts.heartbeat_ms);
    if (status >= 0) {
        vl_opt_destroy(&opt);
        return status;
    }
    opts.no_auto = no_auto == 1;

    vl_log_init("varlogadm", level);
    zsys_init();
    char err[512];
    if (vl_curve_daemon(&curve, opts.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogadm: %s\n", err);
        vl_opt_destroy(&opt);
        return 2;
    }
    zactor_t *actor = zactor_new(vl_adm_actor, &opts);
    if (!actor) {
        vl_log(LOG_ERR, "cannot start the admin thread; out of resources?");
        vl_opt_destroy(&opt);
        return 1;
    }
    int port = -1;
    zstr_send(actor, "PORT");
    zsock_recv(actor, "i", &port);
    int rc = 0;
    if (port < 0) {
        rc = 1; /* the actor logged why */
    } else if (vl_metrics_start(metrics, opts.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogadm: %s\n", err);
        rc = 1;
    } else {
        /* the CZMQ signal handler sets zsys_interrupted and makes the
           wait return */
        zpoller_t *poller = zpoller_new(actor, NULL);
        vl_notify_ready("serving on port %d", port);
        while (!zsys_interrupted)
            zpoller_wait(poller, 1000);
        zpoller_destroy(&poller);
        vl_log(LOG_NOTICE, "stopping on a signal");
        vl_notify_stopping(NULL);
        vl_metrics_stop(vl_metrics_default());
    }
    zactor_destroy(&actor);
    vl_curve_shutdown();
    vl_opt_destroy(&opt); /* after the actor: opts' strings may live in it */
    return rc;
}
