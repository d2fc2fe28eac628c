/*  main.c - varlogmr: the metadata repository daemon.

    Parses the options (one table in opt.h's form drives the command line,
    the --config file and --help), sets up logging, starts the server actor and waits for
    SIGINT/SIGTERM, which it turns into the actor's HANDOVER (a leader hands leadership to
    another voter first, for at most 1.5 s) and then $TERM, so that the store is closed
    cleanly. Everything else lives in server.c (with admin.c, round.c, lead.c, fsm.c and
    members.c), state.c, persist.c (with group.c, history.c and persist_fsm.c) and raft.c
    (the consensus engine).
*/
#include <czmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "curve.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "opt.h"
#include "server.h"
#include "varlog_err.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const vl_opt_prog_t s_prog = {
    .prog = "varlogmr",
    .usage = "Usage: varlogmr --data DIR [OPTION]...\n"
             "Run the metadata repository of a varlog cluster: it keeps the cluster's\n"
             "metadata and commits the global order of log entries.\n\n"
             "Options:\n",
    .version = "varlogmr (varlog) " PACKAGE_VERSION,
    .style = VL_OPT_STYLE_COLUMNS,
};

/*  --recover: the exit status. */
static int s_recover(vl_mr_config_t *cfg)
{
    int rc = vl_mr_recover(cfg);
    if (rc != 0)
        vl_log(LOG_ERR, "mr: --recover: %s", cfg->errbuf);
    else
        vl_log(LOG_NOTICE, "mr: recovered: the voters are now %s; start every one of them as usual",
               cfg->recover);
    return rc == 0 ? 0 : 1;
}

/*  Stops the actor: a leader hands over first (bounded: 1.5 s), so that
    the others need not wait an election timeout. */
static void s_stop(zactor_t **mr_p)
{
    int handed = 0;
    zpoller_t *poller = zpoller_new(*mr_p, NULL);
    zpoller_set_nonstop(poller, true); /* zsys_interrupted is set: wait all the same */
    if (zstr_send(*mr_p, "HANDOVER") != 0 || zpoller_wait(poller, 3000) != *mr_p ||
        zsock_recv(*mr_p, "i", &handed) != 0)
        vl_log(LOG_WARNING, "mr: the server thread did not answer HANDOVER; stopping");
    zpoller_destroy(&poller);
    zactor_destroy(mr_p);
}

int main(int argc, char *argv[])
{
    vl_mr_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = VL_MR_LISTEN_DEFAULT;
    cfg.commit_tick_us = VL_MR_COMMIT_TICK_DEFAULT;
    cfg.cluster_id = 1;
    cfg.raft_id = 1;
    cfg.election_ms = VL_MR_ELECTION_MS_DEFAULT;
    cfg.heartbeat_ms = VL_MR_HEARTBEAT_MS_DEFAULT;
    int level = LOG_INFO;
    const char *metrics = NULL;
    vl_curve_opts_t curve = {0};

    const vl_opt_def_t options[] = {
        VL_OPT_STRING_DEF("listen", "ENDPOINT",
                          "ZeroMQ endpoint to listen on (default " VL_MR_LISTEN_DEFAULT ")",
                          &cfg.listen),
        VL_OPT_STRING_DEF("data", "DIR", "data directory, created if missing (required)",
                          &cfg.data_dir),
        VL_OPT_UINT_DEF("commit-tick", "USEC", "commit round period in microseconds (default 500)",
                        &cfg.commit_tick_us, 1, 10000000),
        VL_OPT_UINT_DEF("cluster-id", "N", "numeric cluster id (default 1)", &cfg.cluster_id, 1,
                        UINT32_MAX),
        VL_OPT_UINT_DEF("raft-id", "N", "this replica's id in the MR's raft group (default 1)",
                        &cfg.raft_id, 1, UINT32_MAX),
        VL_OPT_STRING_DEF("raft-addr", "HOST:PORT",
                          "address of the raft transport, which the other replicas dial\n"
                          "(default: the --listen host, port + 100)",
                          &cfg.raft_addr),
        VL_OPT_STRING_DEF("peers", "LIST",
                          "the group's first members, ID@RAFTADDR@ENDPOINT[,...], this\n"
                          "replica among them, when it starts without a raft log\n"
                          "(default: this replica alone)",
                          &cfg.peers),
        VL_OPT_FLAG_DEF("join", "start without a group: wait to be added by the leader", &cfg.join),
        VL_OPT_STRING_DEF("recover", "LIST",
                          "offline recovery of a group that lost its majority: make the\n"
                          "voters ID@RAFTADDR@ENDPOINT[,...] (this replica among them)\n"
                          "the raft log's configuration, then exit (see varlogmr(8))",
                          &cfg.recover),
        VL_OPT_UINT_DEF("election-ms", "MS", "raft election timeout in milliseconds (default 500)",
                        &cfg.election_ms, 10, 600000),
        VL_OPT_UINT_DEF("heartbeat-ms", "MS", "raft heartbeat period in milliseconds (default 50)",
                        &cfg.heartbeat_ms, 1, 60000),
        VL_OPT_STRING_DEF("metrics", "HOST:PORT|off",
                          "serve Prometheus metrics at http://HOST:PORT/metrics\n"
                          "(default: the --listen host, port + 1000)",
                          &metrics),
        VL_CURVE_OPT_DEFS(&curve),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL",
                             "error, warning, notice, info or debug (default info)", &level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("show this help and exit"),
        VL_OPT_VERSION_DEF("show the version and exit"),
    };
    vl_opt_t *opt = vl_opt_new(&s_prog, options, sizeof options / sizeof options[0]);
    int status = vl_opt_parse(opt, argc, argv);
    if (status < 0 && (!cfg.data_dir || !cfg.data_dir[0]))
        status = vl_opt_usage_error(opt, "--data DIR is required (where the metadata is stored; or "
                                         "data = DIR in the --config file)");
    if (status < 0 && !cfg.listen[0])
        status = vl_opt_usage_error(
            opt, "--listen needs a ZeroMQ endpoint such as tcp://127.0.0.1:9092");
    if (status < 0 && cfg.heartbeat_ms >= cfg.election_ms)
        status = vl_opt_usage_error(opt, "--heartbeat-ms must be less than --election-ms (a "
                                         "tenth of it is usual)");
    if (status >= 0) {
        vl_opt_destroy(&opt);
        return status;
    }

    vl_log_init("varlogmr", level);
    if (cfg.recover) {
        int rc = s_recover(&cfg);
        vl_opt_destroy(&opt);
        return rc;
    }
    char err[512];
    if (vl_curve_daemon(&curve, cfg.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogmr: %s\n", err);
        vl_opt_destroy(&opt);
        return 2;
    }
    zactor_t *mr = vl_mr_start(&cfg);
    if (!mr) {
        vl_log(LOG_ERR, "mr: cannot start: %s", cfg.errbuf);
        vl_opt_destroy(&opt);
        return 1;
    }
    /* CZMQ's handler sets zsys_interrupted on SIGINT/SIGTERM; the poll
       timeout bounds how long a signal taken by another thread waits */
    if (vl_metrics_start(metrics, cfg.listen, err, sizeof err) != 0) {
        fprintf(stderr, "varlogmr: %s\n", err);
        s_stop(&mr);
        vl_opt_destroy(&opt);
        return 1;
    }
    zpoller_t *poller = zpoller_new(mr, NULL);
    int rc = 0;
    vl_notify_ready("serving %s", cfg.listen);
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
        vl_notify_stopping("handing over and stopping");
        s_stop(&mr);
        vl_metrics_stop(vl_metrics_default());
        vl_log(LOG_INFO, "mr: stopped");
    }
    vl_curve_shutdown();
    vl_opt_destroy(&opt); /* after the actor: cfg's strings may live in it */
    return rc;
}
