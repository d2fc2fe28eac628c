/*  main.c - varlogsn, the varlog storage node daemon.

    Parses the options (one opt.h table drives the command line, the
    --config file and --help), sets up logging, starts the server actor (server.h) and waits for
   SIGINT or SIGTERM, which CZMQ turns into zsys_interrupted. Everything else lives in the modules.
*/
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "curve.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "opt.h"
#include "server.h"
#include "wire.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

static const vl_opt_prog_t s_prog = {
    .prog = "varlogsn",
    .usage = "Usage: varlogsn --data DIR [OPTION]...\n"
             "Runs a varlog storage node: stores log stream replicas in RocksDB and\n"
             "serves append, replication and reads.\n\n"
             "Options:\n",
    .version = "varlogsn (varlog) " PACKAGE_VERSION,
    .style = VL_OPT_STYLE_COLUMNS,
};

static const char *const s_sync_words[] = {"always", "none", NULL};
static const int s_sync_values[] = {1, 0};

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
        .memtable_bytes = 64ull << 20,
        .cluster_id = 1,
    };
    int level = LOG_INFO;
    int sync = 1;
    const char *metrics = NULL;
    vl_curve_opts_t curve = {0};

    const vl_opt_def_t options[] = {
        VL_OPT_STRING_DEF("listen", "ENDPOINT",
                          "ZeroMQ endpoint to listen on\n(default tcp://127.0.0.1:9101)",
                          &cfg.listen),
        VL_OPT_STRING_DEF("advertise", "ENDPOINT",
                          "address registered with the cluster\n(default: the listen endpoint)",
                          &cfg.advertise),
        VL_OPT_STRING_DEF("data", "DIR", "data directory, created if missing (required)",
                          &cfg.data_dir),
        VL_OPT_STRING_DEF(
            "mr", "ENDPOINTS",
            "metadata repository, comma-separated\n(default $VARLOG_MR or tcp://127.0.0.1:9092)",
            &cfg.mr),
        VL_OPT_ENUM_DEF("sync", "always|none",
                        "fsync entries before reporting them\n(default always)", &sync,
                        s_sync_words, s_sync_values),
        VL_OPT_SIZE_DEF("max-entry-size", "BYTES",
                        "largest entry accepted, K/M/G suffixes\nallowed (default 1M)",
                        &cfg.max_entry_size, 0, 1ll << 30),
        VL_OPT_SIZE_DEF("memtable", "BYTES",
                        "size of a RocksDB memtable (up to 4 fill\nbefore writes wait for "
                        "a flush; default 64M)",
                        &cfg.memtable_bytes, 1ll << 20, 16ll << 30),
        VL_OPT_SIZE_DEF("segment-size", "BYTES",
                        "size of an entry log segment, K/M/G\nsuffixes allowed (default: a "
                        "sixteenth of\nthe data disk, 4M to 512M)",
                        &cfg.segment_bytes, 1ll << 20, 4ll << 30),
        VL_OPT_UINT_DEF("cluster-id", "N", "cluster id (default 1)", &cfg.cluster_id, 0,
                        UINT32_MAX),
        VL_OPT_STRING_DEF("metrics", "HOST:PORT|off",
                          "serve Prometheus metrics at http://HOST:PORT/metrics\n"
                          "(default: the listen host, port + 1000)",
                          &metrics),
        VL_CURVE_OPT_DEFS(&curve),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL",
                             "error, warning, notice, info or debug\n(default info)", &level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("show this help and exit"),
        VL_OPT_VERSION_DEF("show the version and exit"),
    };
    vl_opt_t *opt = vl_opt_new(&s_prog, options, sizeof options / sizeof options[0]);
    int status = vl_opt_parse(opt, argc, argv);
    if (status < 0 && (!cfg.data_dir || !*cfg.data_dir))
        status =
            vl_opt_usage_error(opt, "--data DIR is required (or data = DIR in the --config file)");
    if (status < 0 && (strlen(cfg.listen) > VL_WIRE_MAX_ADDR ||
                       (cfg.advertise && strlen(cfg.advertise) > VL_WIRE_MAX_ADDR)))
        status =
            vl_opt_usage_error(opt, "endpoints are limited to %d characters", VL_WIRE_MAX_ADDR);
    if (status >= 0) {
        vl_opt_destroy(&opt);
        return status;
    }
    cfg.sync = sync != 0;

    vl_log_init("varlogsn", level);
    zsys_init();
    zsys_set_linger(0);
    vl_sn_t *sn = NULL;
    char err[512];
    if (vl_curve_daemon(&curve, cfg.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogsn: %s\n", err);
        vl_opt_destroy(&opt);
        return 2;
    }
    if (vl_sn_new(&cfg, &sn, err, sizeof err) != 0) {
        fprintf(stderr, "varlogsn: %s\n", err);
        vl_opt_destroy(&opt);
        return 1;
    }
    /* Wait for SIGINT/SIGTERM; the actor's pipe becomes readable only if
       the actor thread ends by itself. */
    if (vl_metrics_start(metrics, cfg.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogsn: %s\n", err);
        vl_sn_destroy(&sn);
        vl_opt_destroy(&opt);
        return 1;
    }
    zpoller_t *poller = zpoller_new(vl_sn_actor(sn), NULL);
    int rc = 0;
    vl_notify_ready("serving %s, data in %s", cfg.advertise ? cfg.advertise : cfg.listen,
                    cfg.data_dir);
    while (!zsys_interrupted) {
        void *which = zpoller_wait(poller, 500);
        if (which) {
            vl_log(LOG_ERR, "sn: the server stopped unexpectedly");
            rc = 1;
            break;
        }
    }
    zpoller_destroy(&poller);
    vl_notify_stopping(NULL);
    vl_metrics_stop(vl_metrics_default());
    vl_sn_destroy(&sn);
    vl_log(LOG_NOTICE, "sn: stopped");
    vl_curve_shutdown();
    vl_opt_destroy(&opt); /* after the server: cfg's strings may live in it */
    return rc;
}
