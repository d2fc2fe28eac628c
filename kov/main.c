/*  main.c - varlogkov: options, logging, start the gateway actor, wait.

    One option table (opt.h) drives the command line, the --config file
    and --help (man/varlogkov.8 repeats the --help text). Everything else
    lives in the actor (server.c and the api_*.c files), which tests can
    run in-process.
*/
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "opt.h"
#include "server.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const vl_opt_prog_t s_prog = {
    .prog = "varlogkov",
    .usage = "Usage: varlogkov [OPTION]...\n"
             "Kov, Kafka on varlog: a Kafka-protocol gateway. Kafka clients (kcat, librdkafka,\n"
             "kafka-python, ...) produce to and consume from the varlog cluster: partition p\n"
             "of Kafka topic T is the varlog topic T-p, offset = GLSN - 1.\n\n"
             "Options:\n",
    .epilog = "\nStops on SIGINT or SIGTERM. Logs go to stderr. See varlogkov(8) and doc/KOV.md.\n",
    .version = "varlogkov " PACKAGE_VERSION,
    .style = VL_OPT_STYLE_INDENTED,
};

static const char *const s_onoff_words[] = {"on", "off", NULL};

int main(int argc, char **argv)
{
    const char *env_mr = getenv("VARLOG_MR");
    vl_kserver_opts_t opts = {
        .listen = VL_KOV_LISTEN_DEFAULT,
        .mr = env_mr && *env_mr ? env_mr : VL_KOV_MR_DEFAULT,
        .node_id = 1,
        .partitions = 1,
        .replication = 0,
        .log_streams = 1,
        .group_snapshot_every = 1000,
        .session_ms = 3000,
        .meta_snapshot_every = 10000,
    };
    uint64_t max_request = VL_KOV_MAX_REQUEST_DEFAULT;
    int level = LOG_INFO;
    int auto_off = 0; /* index in s_onoff_words */
    const char *metrics = NULL, *key = NULL, *server_key = NULL;

    const vl_opt_def_t options[] = {
        VL_OPT_STRING_DEF("listen", "HOST:PORT",
                          "where Kafka clients connect (default " VL_KOV_LISTEN_DEFAULT ")",
                          &opts.listen),
        VL_OPT_STRING_DEF("advertise", "HOST:PORT",
                          "the address Metadata gives clients for this broker\n(default: the "
                          "--listen address)",
                          &opts.advertise),
        VL_OPT_STRING_DEF(
            "mr", "ENDPOINTS",
            "metadata repository, comma-separated\n(default $VARLOG_MR or " VL_KOV_MR_DEFAULT ")",
            &opts.mr),
        VL_OPT_INT_DEF("node-id", "ID",
                       "this gateway's broker id in Metadata (default 1); several\n"
                       "gateways on one cluster need distinct ids",
                       &opts.node_id, 0, INT32_MAX),
        VL_OPT_INT_DEF("id", "ID", "the same as --node-id", &opts.node_id, 0, INT32_MAX),
        VL_OPT_INT_DEF("session-timeout", "MS",
                       "a gateway not heard from this long is declared expired\nand its "
                       "partitions and groups move (default 3000)",
                       &opts.session_ms, 500, 600000),
        VL_OPT_UINT_DEF("meta-snapshot-every", "N",
                        "records of __kov_meta (heartbeats, ...) between\nsnapshots; the groups' "
                        "coordinator then trims the\nrecords before each (default 10000)",
                        &opts.meta_snapshot_every, 10, 100000000),
        VL_OPT_ENUM_DEF("auto-create", "on|off",
                        "on (default): Metadata for an unknown topic creates it, as\nKafka's "
                        "auto.create.topics.enable does; off: unknown topics\nare errors",
                        &auto_off, s_onoff_words, NULL),
        VL_OPT_INT_DEF("partitions", "N",
                       "partitions of an auto-created topic, and of CreateTopics\nwith "
                       "num_partitions -1 (default 1)",
                       &opts.partitions, 1, 10000),
        VL_OPT_INT_DEF("replication-factor", "N",
                       "replication factor of those topics' log streams\n(default 0: the "
                       "cluster's default)",
                       &opts.replication, 0, 16),
        VL_OPT_UINT_DEF("log-streams", "N",
                        "log streams of each partition's varlog topic (default 1)",
                        &opts.log_streams, 1, 64),
        VL_OPT_SIZE_DEF("max-request", "BYTES",
                        "largest request accepted, like Kafka's\nsocket.request.max.bytes "
                        "(default 100M)",
                        &max_request, 1024, (int64_t)1 << 30),
        VL_OPT_UINT_DEF("group-snapshot-every", "N",
                        "records of __kov_offsets (committed offsets, groups)\nbetween "
                        "snapshots; each snapshot trims the records\nbefore the previous one "
                        "(default 1000)",
                        &opts.group_snapshot_every, 1, 100000000),
        VL_OPT_STRING_DEF("key", "FILE",
                          "this gateway's secret certificate, for a cluster with CURVE\n"
                          "(default $VARLOG_KEY)",
                          &key),
        VL_OPT_STRING_DEF("server-key", "FILE",
                          "the cluster's public server certificate (default\n"
                          "$VARLOG_SERVER_KEY)",
                          &server_key),
        VL_OPT_STRING_DEF("metrics", "HOST:PORT|off",
                          "serve Prometheus metrics at http://HOST:PORT/metrics\n"
                          "(default: the --listen host, port + 1000)",
                          &metrics),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL",
                             "error, warning, notice, info or debug (default info)", &level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("print this help and exit"),
        VL_OPT_VERSION_DEF("print the version and exit"),
    };
    vl_opt_t *opt = vl_opt_new(&s_prog, options, sizeof options / sizeof options[0]);
    int status = vl_opt_parse(opt, argc, argv);
    if (status >= 0) {
        vl_opt_destroy(&opt);
        return status;
    }
    opts.no_auto_create = auto_off == 1;
    opts.max_request = (uint32_t)max_request;

    vl_log_init("varlogkov", level);
    /* the library reads the keys when the gateway opens its client */
    if (key)
        setenv("VARLOG_KEY", key, 1);
    if (server_key)
        setenv("VARLOG_SERVER_KEY", server_key, 1);
    /* SIGINT and SIGTERM are taken by sigwait below, in this thread only:
       blocked before any thread exists, so every thread inherits the mask.
       CZMQ's own handler would set zsys_interrupted, which makes the
       library's calls in the data path's threads give up early and retry
       until their timeouts (a stop took 10-45 s). */
    zsys_handler_set(NULL);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    zsys_init();
    zactor_t *actor = zactor_new(vl_kserver_actor, &opts);
    if (!actor) {
        vl_log(LOG_ERR, "cannot start the gateway thread; out of resources?");
        vl_opt_destroy(&opt);
        return 1;
    }
    int port = -1;
    zstr_send(actor, "PORT");
    zsock_recv(actor, "i", &port);
    int rc = 0;
    char err[512];
    if (port < 0) {
        rc = 1; /* the actor logged why */
    } else if (vl_metrics_start(metrics, opts.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogkov: %s\n", err);
        rc = 1;
    } else {
        vl_notify_ready("Kafka protocol on %s (port %d)", opts.listen, port);
        int sig = 0;
        sigwait(&stop_signals, &sig);
        vl_log(LOG_NOTICE, "stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
        vl_notify_stopping(NULL);
        vl_metrics_stop(vl_metrics_default());
    }
    zactor_destroy(&actor);
    vl_opt_destroy(&opt); /* after the actor: opts' strings may live in it */
    return rc;
}
