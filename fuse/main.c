/*  main.c - varlogfs: mount a varlog cluster as a file system.

    Parses options (ours and libfuse's), mounts, daemonizes unless -f, then
    connects to the cluster (after the fork: ZeroMQ's threads do not survive
    it) and runs the multi-threaded FUSE loop until unmounted or signalled.
*/
#include <czmq.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs.h"
#include <fuse_lowlevel.h>
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "varlog.h"

typedef struct {
    char *mr;
    char *record;
    int timeout_s;
    int pagecache;
    char *log_level;
    char *metrics;
    char *key, *server_key;
    int help;
    int version;
} options_t;

#define OPT(t, p) {t, offsetof(options_t, p), 1}
static const struct fuse_opt s_opts[] = {
    /* "--mr %s" matches both "--mr X" and "--mr=X" (value "=X") */
    OPT("--mr %s", mr),           OPT("mr=%s", mr),
    OPT("record=%s", record),     OPT("timeout=%d", timeout_s),
    OPT("pagecache", pagecache),
    OPT("--log-level=%s", log_level), OPT("log_level=%s", log_level),
    OPT("metrics=%s", metrics),
    OPT("key=%s", key),           OPT("server_key=%s", server_key),
    OPT("-h", help),              OPT("--help", help),
    OPT("-V", version),           OPT("--version", version),
    FUSE_OPT_END};

static void s_usage(const char *prog)
{
    printf("usage: %s [options] MOUNTPOINT\n"
           "\n"
           "Mounts the topics of a varlog cluster as append-only files.\n"
           "\n"
           "varlogfs options:\n"
           "    --mr=ENDPOINTS         metadata repository (default $VARLOG_MR or\n"
           "                           tcp://127.0.0.1:9092); also -o mr=ENDPOINTS\n"
           "    -o record=line|write   one entry per line (default) or per write(2)\n"
           "    -o timeout=SECONDS     bound on every cluster operation (default 10)\n"
           "    -o pagecache           plain reads (not .follow) through the kernel's\n"
           "                           page cache: a second cat never reaches the\n"
           "                           daemon; a file open across a trim then reads\n"
           "                           the current log, not its own (varlogfs(8))\n"
           "    --log-level=LEVEL      error, warning, notice, info (default), debug\n"
           "    -o key=FILE            this client's secret certificate (CURVE;\n"
           "                           default $VARLOG_KEY)\n"
           "    -o server_key=FILE     the cluster's public server certificate\n"
           "                           (CURVE; default $VARLOG_SERVER_KEY)\n"
           "    -o metrics=HOST:PORT   serve Prometheus metrics at\n"
           "                           http://HOST:PORT/metrics (default: none)\n"
           "    -h, --help             this help, then libfuse's options\n"
           "    -V, --version          print the version\n"
           "\n"
           "FUSE options:\n"
           "    -f                     stay in the foreground (logs on stderr)\n"
           "    -d                     debug: foreground and trace every request\n"
           "    -s                     single-threaded\n"
           "    -o OPT[,OPT...]        mount options\n",
           prog);
}

int main(int argc, char **argv)
{
    /* FUSE handles SIGINT/SIGTERM (unmount and exit): CZMQ must not */
    zsys_handler_set(NULL);
    /* libfuse allocates each read's reply buffer (up to 1 MiB) and frees it
       after the reply: from the heap, not a fresh mmap whose every page
       faults in as the read fills it */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    options_t o = {.timeout_s = 10};
    if (fuse_opt_parse(&args, &o, s_opts, NULL) == -1)
        return 2;
    if (o.help) {
        s_usage(argv[0]);
        fuse_lib_help(&args);
        return 0;
    }
    if (o.version) {
        printf("varlogfs %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
        return 0;
    }
    int level = o.log_level ? vl_log_level_parse(o.log_level) : LOG_INFO;
    if (level < 0) {
        fprintf(stderr, "varlogfs: unknown log level '%s'; use error, warning, notice, info or "
                        "debug\n", o.log_level);
        return 2;
    }
    vl_log_init("varlogfs", level);
    bool record_write = false;
    if (o.record) {
        if (strcmp(o.record, "write") == 0)
            record_write = true;
        else if (strcmp(o.record, "line") != 0) {
            fprintf(stderr, "varlogfs: -o record=%s: use record=line or record=write\n",
                    o.record);
            return 2;
        }
    }
    if (o.timeout_s <= 0) {
        fprintf(stderr, "varlogfs: -o timeout=%d: must be a positive number of seconds\n",
                o.timeout_s);
        return 2;
    }
    const char *mr = o.mr ? o.mr + (o.mr[0] == '=') : getenv("VARLOG_MR");
    if (!mr || !*mr)
        mr = "tcp://127.0.0.1:9092";

    struct fuse_cmdline_opts c;
    if (fuse_parse_cmdline(&args, &c) != 0)
        return 2;
    if (!c.mountpoint) {
        fprintf(stderr, "varlogfs: no mount point given; usage: varlogfs [options] MOUNTPOINT "
                        "(see --help)\n");
        return 2;
    }
    /* the library reads them at connect */
    if (o.key)
        setenv("VARLOG_KEY", o.key, 1);
    if (o.server_key)
        setenv("VARLOG_SERVER_KEY", o.server_key, 1);
    vl_fs_opts_t fo = {.mr = mr,
                       .record_write = record_write,
                       .timeout_ms = o.timeout_s * 1000,
                       .page_cache = o.pagecache != 0};
    vl_fs_t *fs = vl_fs_new(&fo);
    int rc = 1;
    const struct fuse_operations *ops = o.metrics ? vl_fs_stats_wrap(vl_fs_ops()) : vl_fs_ops();
    struct fuse *fuse = fuse_new(&args, ops, sizeof *ops, fs);
    if (!fuse)
        goto out_fs;
    if (fuse_mount(fuse, c.mountpoint) != 0) {
        fprintf(stderr, "varlogfs: cannot mount at %s (does it exist? is something mounted "
                        "there? try fusermount3 -u %s)\n", c.mountpoint, c.mountpoint);
        goto out_fuse;
    }
    if (fuse_daemonize(c.foreground) != 0)
        goto out_unmount;
    char err[512];
    if (vl_fs_connect(fs, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "cannot reach the cluster: %s", err);
        fprintf(stderr, "varlogfs: cannot reach the cluster: %s\n", err);
        goto out_unmount;
    }
    if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
        goto out_unmount;
    /* after fuse_daemonize: the server's thread would not survive its fork */
    if (o.metrics && vl_metrics_start(o.metrics, "", err, sizeof err) != 0) {
        vl_log(LOG_ERR, "%s", err);
        fprintf(stderr, "varlogfs: %s\n", err);
        goto out_signals;
    }
    vl_log(LOG_INFO, "mounted %s on %s (record=%s, timeout=%ds%s)", mr, c.mountpoint,
           record_write ? "write" : "line", o.timeout_s, o.pagecache ? ", pagecache" : "");
    vl_notify_ready("%s mounted on %s", mr, c.mountpoint);
    if (c.singlethread) {
        rc = fuse_loop(fuse) ? 1 : 0;
    } else {
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, 16);
        rc = fuse_loop_mt(fuse, cfg) ? 1 : 0;
        fuse_loop_cfg_destroy(cfg);
    }
    vl_metrics_stop(vl_metrics_default());
out_signals:
    fuse_remove_signal_handlers(fuse_get_session(fuse));
    vl_notify_stopping("unmounting %s", c.mountpoint);
    vl_log(LOG_INFO, "unmounting %s", c.mountpoint);
out_unmount:
    fuse_unmount(fuse);
out_fuse:
    fuse_destroy(fuse);
out_fs:
    vl_fs_destroy(&fs);
    free(c.mountpoint);
    free(o.mr); /* fuse_opt_parse's copies */
    free(o.record);
    free(o.metrics);
    free(o.key);
    free(o.server_key);
    fuse_opt_free_args(&args);
    return rc;
}
