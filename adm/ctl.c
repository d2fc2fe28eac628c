/*  ctl.c - varlogctl: the command line of varlog.

    main() reads the global options, picks the command and hands it the
    remaining words; each command parses them with vl_ctl_parse, which
    accepts global options anywhere (so "varlogctl topic list --json"
    works as well as "varlogctl --json topic list").

    The help texts below are the reference for man/varlogctl.1: change
    both together.

    CZMQ's SIGINT/SIGTERM handler is switched off first thing: it would make
    Ctrl-C merely set a flag that a command blocked in read(2) never looks
    at. Commands that need a clean stop (subscribe) install their own.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "curve.h"
#include "ctl.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* ---- help ----------------------------------------------------------------- */

static const char s_help_main[] =
    "Usage: varlogctl [OPTION]... COMMAND [ARG]...\n"
    "Administer a varlog cluster, and append to, read and trim its topics.\n"
    "\n"
    "Admin commands (sent to varlogadm):\n"
    "  sn list                     storage nodes and whether each is up\n"
    "  sn add ADDR                 register the storage node listening at ADDR\n"
    "  sn remove ID                unregister storage node ID\n"
    "  topic list                  every topic with its size, HWM and trim point\n"
    "  topic create NAME [--log-streams N] [--replication-factor R]\n"
    "                              create a topic\n"
    "  topic describe NAME         a topic's log streams, replicas, HWM, trim point\n"
    "  topic delete NAME           delete a topic and all its entries\n"
    "  ls list [TOPIC]             log streams of every topic, or of TOPIC\n"
    "  ls add TOPIC                add a log stream to TOPIC\n"
    "  ls seal|unseal TOPIC LSID   stop / resume appends to a log stream\n"
    "  ls update TOPIC LSID --replace OLD_SN --with NEW_SN\n"
    "                              replace a replica of a sealed log stream\n"
    "  ls sync TOPIC LSID [--from SN] [--to SN]\n"
    "                              bring the replicas of a sealed log stream in line\n"
    "  ls recover TOPIC            sync every lagging replica of the topic's sealed\n"
    "                              log streams\n"
    "  status                      cluster health at a glance\n"
    "  mr list                     the metadata repository's replicas, leader, lag\n"
    "  mr add ID RAFTADDR ENDPOINT add a replica (started empty with --join)\n"
    "  mr remove ID                remove a replica\n"
    "  mr transfer [ID]            move the MR's leadership (to ID)\n"
    "  kov list                    Kov gateways, who owns each partition, the groups'\n"
    "                              coordinator (from __kov_meta)\n"
    "\n"
    "Data commands (through the client library, straight to the cluster):\n"
    "  append TOPIC [--ls LSID] [--batch N] [-v]\n"
    "                              append one entry per line of standard input\n"
    "  subscribe TOPIC [--begin GLSN] [--end GLSN] [--follow] [--glsn]\n"
    "                              print entries in GLSN order\n"
    "  trim TOPIC GLSN             delete the entries with GLSN 1..GLSN\n"
    "  bench append|subscribe|e2e [--appenders N] [--size BYTES] [...]\n"
    "                              load generator: entries/s, MB/s, latencies\n"
    "\n"
    "Keys:\n"
    "  keygen [--out DIR] NAME...  make CURVE key pairs DIR/NAME.key (public) and\n"
    "                              DIR/NAME.key_secret\n"
    "\n"
    "Options (before or after COMMAND):\n"
    "  --adm ENDPOINT   admin daemon (default $VARLOG_ADM or tcp://127.0.0.1:9090)\n"
    "  --mr ENDPOINTS   metadata repository for data commands, comma-separated\n"
    "                   (default $VARLOG_MR or tcp://127.0.0.1:9092)\n"
    "  --json           print JSON instead of text\n"
    "  --timeout MS     give up on a request after MS milliseconds (default 5000)\n"
    "  --key FILE       this client's secret certificate (CURVE; default $VARLOG_KEY)\n"
    "  --server-key FILE\n"
    "                   the cluster's public server certificate (CURVE; default\n"
    "                   $VARLOG_SERVER_KEY)\n"
    "  --help           print this help; 'varlogctl COMMAND --help' for a command\n"
    "  --version        print the version and exit\n"
    "\n"
    "Exit status: 0 on success, 1 when the command failed (one line on stderr),\n"
    "2 for a usage error.\n";

static const char s_help_sn[] =
    "Usage: varlogctl sn list\n"
    "       varlogctl sn add ADDR\n"
    "       varlogctl sn remove ID\n"
    "Storage nodes, through varlogadm.\n"
    "\n"
    "  list         print each storage node: id, address, and up or down as the\n"
    "               admin's heartbeats see it\n"
    "  add ADDR     register the storage node that listens at ADDR\n"
    "               (tcp://HOST:PORT, its --advertise address); the admin checks\n"
    "               that it answers first; prints its id\n"
    "  remove ID    unregister storage node ID\n";

static const char s_help_mr[] =
    "Usage: varlogctl mr list\n"
    "       varlogctl mr add ID RAFTADDR ENDPOINT\n"
    "       varlogctl mr remove ID\n"
    "       varlogctl mr transfer [ID]\n"
    "The metadata repository's raft group, through varlogadm and the MR's leader.\n"
    "\n"
    "  list         each replica: raft id, role (voter, standby, spare), raft\n"
    "               address, client endpoint, match index and lag (entries of\n"
    "               the leader's log it lacks); the leader, term, commit,\n"
    "               applied and last index\n"
    "  add ID RAFTADDR ENDPOINT\n"
    "               add the replica started empty with 'varlogmr --join\n"
    "               --raft-id ID --raft-addr RAFTADDR --listen ENDPOINT': it is\n"
    "               added as a spare, caught up as a standby, then made a\n"
    "               voter; returns once it votes\n"
    "  remove ID    remove replica ID (the leader hands leadership over first);\n"
    "               stop its varlogmr afterwards\n"
    "  transfer [ID]\n"
    "               make ID the leader (default: the most up-to-date voter)\n"
    "\n"
    "One change at a time: another one meanwhile fails with VL_EBUSY (retry).\n"
    "A change waits up to 35 s unless --timeout is given. With --json, every\n"
    "subcommand prints the group as an object: leader, term, commit_index,\n"
    "applied_index, last_index and members [{id, role, leader, raft_addr,\n"
    "endpoint, match_index, lag}].\n";

static const char s_help_kov[] =
    "Usage: varlogctl kov list\n"
    "The Kov gateways (varlogkov) of the cluster and who owns what, as the\n"
    "records of __kov_meta say, read through the client library and replayed\n"
    "as every gateway replays them (doc/KOV.md, \"Several gateways\").\n"
    "\n"
    "  list   each gateway: id, advertised address, alive (in the log: a gateway\n"
    "         that just died stays alive until a live one expires it, one\n"
    "         session timeout after its last heartbeat), the time since its\n"
    "         last heartbeat, its session timeout, the GLSNs of its\n"
    "         registration and expiry; the owner of each partition (every\n"
    "         topic named T-p) and the groups' coordinator, with the epoch\n"
    "         (the GLSN of the last change of the live set)\n"
    "\n"
    "With --json: {epoch, gateways [{id, address, alive, registered_glsn,\n"
    "last_heard_ms, last_heard_ago_ms, session_timeout_ms, expired_glsn}],\n"
    "partitions [{topic, owner, epoch}], groups {coordinator, epoch}}; owner\n"
    "and coordinator -1: no live gateway.\n";

static const char s_help_topic[] =
    "Usage: varlogctl topic list\n"
    "       varlogctl topic create NAME [--log-streams N] [--replication-factor R]\n"
    "       varlogctl topic describe NAME\n"
    "       varlogctl topic delete NAME\n"
    "Topics, through varlogadm. A topic name is 1 to 255 of A-Z a-z 0-9 . _ -\n"
    "and does not start with '.'.\n"
    "\n"
    "  list         print each topic: id, name, log streams, replication factor,\n"
    "               high watermark (last GLSN), trim point (first GLSN kept) and\n"
    "               end offset (bytes appended)\n"
    "  create NAME  create a topic; prints its id\n"
    "      --log-streams N          log streams (default: chosen by the\n"
    "                               metadata repository)\n"
    "      --replication-factor R   replicas of each log stream (default:\n"
    "                               chosen by the metadata repository)\n"
    "  describe NAME\n"
    "               print a topic with its log streams and their replicas\n"
    "               (primary first) and whether each replica's node is up\n"
    "  delete NAME  delete a topic and all its entries\n";

static const char s_help_ls[] =
    "Usage: varlogctl ls list [TOPIC]\n"
    "       varlogctl ls add TOPIC\n"
    "       varlogctl ls seal|unseal TOPIC LSID\n"
    "       varlogctl ls update TOPIC LSID --replace OLD_SN --with NEW_SN\n"
    "       varlogctl ls sync TOPIC LSID [--from SN] [--to SN] [--wait S]\n"
    "       varlogctl ls recover TOPIC [--wait S]\n"
    "Log streams, through varlogadm.\n"
    "\n"
    "  list [TOPIC] print each log stream of every topic (or of TOPIC): topic,\n"
    "               id, state (SEALED*: sealed by varlogadm, which brings it\n"
    "               back by itself), committed end (the sealed end when sealed) and,\n"
    "               per replica (primary first): storage node, up or down, the\n"
    "               last LLSN it holds, the last LLSN whose commit it stored and\n"
    "               its own state (SEALED: in line with the sealed end;\n"
    "               SEALING: behind it, needs a sync)\n"
    "  add TOPIC    add a log stream to TOPIC; prints its id\n"
    "  seal TOPIC LSID\n"
    "               seal the log stream at its committed end: appends to it fail\n"
    "               at once (clients move to the topic's other log streams) and\n"
    "               what its replicas hold beyond that end is discarded\n"
    "  unseal TOPIC LSID\n"
    "               resume appends; refused until every replica is in line\n"
    "  update TOPIC LSID --replace OLD_SN --with NEW_SN\n"
    "               replace the replica on storage node OLD_SN by an empty one on\n"
    "               NEW_SN (the log stream must be sealed; sync it afterwards)\n"
    "  sync TOPIC LSID\n"
    "               copy to every replica of the sealed log stream that lacks\n"
    "               entries what it lacks, from a replica that holds the sealed\n"
    "               end, and wait until they are in line\n"
    "      --from SN    the source replica (default: the first in line)\n"
    "      --to SN      only this destination (default: every lagging replica)\n"
    "      --wait S     give up waiting after S seconds (default 60; 0: do not\n"
    "                   wait)\n"
    "  recover TOPIC\n"
    "               sync every lagging replica of every sealed log stream of TOPIC\n"
    "\n"
    "varlogadm seals the log streams of a storage node that stops answering and,\n"
    "when it is back, syncs and unseals them by itself (unless started with\n"
    "--auto off or --no-auto-unseal).\n";

static const char s_help_status[] =
    "Usage: varlogctl status\n"
    "Cluster health at a glance, through varlogadm: the metadata repository\n"
    "and the metadata version, each storage node (id, address, up or down as\n"
    "the admin sees it, free space and size of its data disk) and each topic\n"
    "(id, name, log streams, replication factor, high watermark, trim point,\n"
    "end offset).\n";

static const char s_help_append[] =
    "Usage: varlogctl append TOPIC [--ls LSID] [--batch N] [--resume-from LINE] [-v]\n"
    "Append each line of standard input to TOPIC as one entry (without its\n"
    "newline), in pipelined asynchronous batches, and wait until every entry\n"
    "is committed.\n"
    "\n"
    "  --ls LSID      append to log stream LSID only (default: one of the topic's\n"
    "                 running log streams, picked at random for the whole run, so\n"
    "                 that the entries are committed in input order; when it is\n"
    "                 sealed, the rest of the input goes, in order, to another)\n"
    "  --batch N      entries per batch, 1..8192 (default 1024)\n"
    "  --resume-from LINE\n"
    "                 skip the first LINE-1 input lines (they are in the log: a\n"
    "                 failed run said so) and append the rest\n"
    "  -v, --verbose  print the GLSN of each entry, one per line, in input order\n"
    "\n"
    "Entries are committed in input order, and a batch whose answer was lost is\n"
    "resent under the same name (the storage node answers with what became of it,\n"
    "never appending it twice). On the first entry that fails, nothing after it\n"
    "is sent; the command waits for the batches already sent and exits 1 with one\n"
    "line on stderr: the failed input line, the error, and what is in the log:\n"
    "  N lines committed (lines 1..N, last GLSN G); lines N+1.. are not in the log\n"
    "  (continue with `varlogctl append TOPIC --resume-from N+1`)\n"
    "(counted from LINE with --resume-from). Should a line after the failed one be\n"
    "in the log, or maybe be (no answer in time), the line says so instead and\n"
    "gives no --resume-from. With -v, the GLSNs of the lines before the failed\n"
    "one are printed. With --json, prints {\"topic\", \"appended\"} at the end,\n"
    "and \"glsns\" with -v.\n";

static const char s_help_subscribe[] =
    "Usage: varlogctl subscribe TOPIC [--begin GLSN] [--end GLSN] [--follow] [--glsn]\n"
    "Print the entries of TOPIC in GLSN order, each followed by a newline.\n"
    "\n"
    "  --begin GLSN   first GLSN to print (default: the trim point)\n"
    "  --end GLSN     first GLSN not to print (default: the high watermark at\n"
    "                 the start, plus one)\n"
    "  -f, --follow   do not stop: print new entries as they are committed\n"
    "  --glsn         print GLSN<TAB>data instead of the data alone\n"
    "\n"
    "Without --follow, fails when no entry arrives for --timeout milliseconds.\n"
    "Reading below the trim point fails. With --json, prints one object per\n"
    "line: {\"glsn\", \"ls\", \"llsn\", \"offset\", \"data\"}.\n";

static const char s_help_trim[] =
    "Usage: varlogctl trim TOPIC GLSN\n"
    "Delete the entries of TOPIC with GLSN 1..GLSN: the trim point becomes\n"
    "GLSN+1. Trimming at or below the current trim point does nothing; GLSN\n"
    "beyond the high watermark fails.\n";

static const char s_help_keygen[] =
    "Usage: varlogctl keygen [--out DIR] NAME...\n"
    "Make a CurveZMQ key pair for each NAME: DIR/NAME.key, the public\n"
    "certificate, and DIR/NAME.key_secret, the secret one (mode 0600; DIR\n"
    "defaults to the current directory). Existing files are never\n"
    "overwritten. A cluster needs one pair for its daemons' listening\n"
    "sockets (give the daemons --server-key NAME.key_secret and the clients\n"
    "NAME.key) and one per client identity (each daemon, each user or\n"
    "program: --key NAME.key_secret), whose public certificates go into the\n"
    "daemons' --allow directory.\n";

static const char s_help_bench[] =
    "Usage: varlogctl bench append|e2e [OPTION]...\n"
    "       varlogctl bench subscribe [--topic NAME] [--subscribers N] [--duration SEC]\n"
    "Generate load and measure it: entries/s, MB/s (10^6 bytes of payload),\n"
    "latency percentiles (p50, p99, p99.9, max) and CPU time.\n"
    "\n"
    "  append      appenders write entries for --warmup + --duration seconds;\n"
    "              reports append-to-commit latency (from handing an entry to the\n"
    "              library until it is committed, client queueing included)\n"
    "  e2e         append while --subscribers (default 1) follow the topic;\n"
    "              also reports append-to-visible latency (until a subscriber\n"
    "              receives the entry; entries of 24 bytes or more carry their\n"
    "              submit time)\n"
    "  subscribe   --subscribers (default 1) each read the topic in GLSN order\n"
    "              from its trim point to its high watermark (at most --duration)\n"
    "\n"
    "  --topic NAME           topic (default bench), created when missing\n"
    "  --log-streams N        ... with N log streams (default: the MR's choice)\n"
    "  --replication-factor R ... and replication factor R (default: the MR's)\n"
    "  --ls LSID              append to log stream LSID only (default: all,\n"
    "                         round robin per batch)\n"
    "  --appenders N          appender threads, each with its own client\n"
    "                         (default 1; per process with --procs)\n"
    "  --procs N              run the appenders in N processes\n"
    "  --subscribers N        subscriber threads\n"
    "  --size BYTES           entry size (default 128)\n"
    "  --batch N              entries per batch, 1..8192 (default 256)\n"
    "  --pipeline N           batches in flight per log stream (default 8)\n"
    "  --blocking             one vl_append per batch, waiting for its commit\n"
    "                         (latency), instead of a pipelined vl_appender\n"
    "  --duration SEC         measured time (default 10)\n"
    "  --warmup SEC           time before it, not measured (default 2;\n"
    "                         subscribe: 0)\n"
    "  --pids NAME=PID,...    report the CPU time of these daemons\n"
    "  --run-dir DIR          ... and of every DIR/NAME.pid ($VARLOG_DATA/run)\n"
    "\n"
    "CPU time (user + system) covers the measured window: this process and\n"
    "its appender processes, and each daemon from /proc/PID/stat. With --json,\n"
    "prints one object: the configuration, \"append\" and \"subscribe\"\n"
    "{entries, entries_per_s, mb_per_s}, \"commit_latency\" and\n"
    "\"visible_latency\" {n, p50_ms, p99_ms, p999_ms, max_ms}, and \"cpu\"\n"
    "{NAME: {s, core_pct}}. Exits 1 when any entry failed.\n";

/*  keygen [--out DIR] NAME... */
static int s_cmd_keygen(vl_ctl_t *ctl, int argc, char **argv)
{
    static const vl_ctl_opt_t opts[] = {{"out", 'o', true}, {NULL, 0, false}};
    const char *vals[1];
    char *names[64];
    int n;
    if (vl_ctl_parse(ctl, argc, argv, opts, vals, names, 64, &n) != 0)
        return 2;
    if (n == 0)
        return vl_ctl_usage(ctl, "keygen: name the key pairs to make (varlogctl keygen NAME...)");
    const char *dir = vals[0] ? vals[0] : ".";
    for (int i = 0; i < n; i++) {
        if (!names[i][0] || strchr(names[i], '/'))
            return vl_ctl_usage(ctl, "keygen: '%s' is not a file name", names[i]);
        char err[512];
        if (vl_curve_keygen(dir, names[i], err, sizeof err) != 0)
            return vl_ctl_fail(ctl, "%s", err);
        if (!ctl->json)
            printf("%s/%s.key\t%s/%s.key_secret\n", dir, names[i], dir, names[i]);
    }
    return 0;
}

int vl_ctl_help(const char *group)
{
    static const struct {
        const char *group;
        const char *text;
    } helps[] = {
        {"sn", s_help_sn},         {"topic", s_help_topic},         {"ls", s_help_ls},
        {"status", s_help_status}, {"append", s_help_append},       {"trim", s_help_trim},
        {"bench", s_help_bench},   {"subscribe", s_help_subscribe}, {"mr", s_help_mr},
        {"keygen", s_help_keygen}, {"kov", s_help_kov},
    };
    const char *text = s_help_main;
    for (size_t i = 0; group && i < sizeof helps / sizeof helps[0]; i++)
        if (strcmp(helps[i].group, group) == 0)
            text = helps[i].text;
    fputs(text, stdout);
    if (text != s_help_main)
        fputs("\nGlobal options (--adm, --mr, --json, --timeout) are in 'varlogctl --help'.\n",
              stdout);
    return 0;
}

/* ---- errors ------------------------------------------------------------------ */

int vl_ctl_fail(vl_ctl_t *ctl, const char *fmt, ...)
{
    /* stdout first, so what was printed before the error is not lost */
    fflush(stdout);
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* the promise is one line: flatten any newline a daemon put in */
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "varlogctl: %s%s%s\n", ctl->cmd, ctl->cmd[0] ? ": " : "", text);
    return 1;
}

int vl_ctl_usage(vl_ctl_t *ctl, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "varlogctl: %s%s%s; see 'varlogctl %s%s--help'\n", ctl->cmd,
            ctl->cmd[0] ? ": " : "", text, ctl->group ? ctl->group : "", ctl->group ? " " : "");
    return 2;
}

/* ---- options ------------------------------------------------------------------ */

/*  Matches word against option name: "--name", "--name=value" or "-l".
    Returns the value start ("" when none is attached) or NULL. */
static const char *s_match(const char *word, const char *name, char letter)
{
    if (letter && word[0] == '-' && word[1] == letter && word[2] == '\0')
        return "";
    if (word[0] != '-' || word[1] != '-')
        return NULL;
    size_t n = strlen(name);
    if (strncmp(word + 2, name, n) != 0)
        return NULL;
    if (word[2 + n] == '\0')
        return "";
    if (word[2 + n] == '=')
        return word + 3 + n;
    return NULL;
}

/*  Global options, valid before the command and after it. Returns 1 when
    word was one (consuming *i further for a separate value), 0 when not,
    2 after a usage error. */
static int s_global(vl_ctl_t *ctl, int argc, char **argv, int *i)
{
    static const vl_ctl_opt_t globals[] = {
        {"adm", 0, true},     {"mr", 0, true},  {"timeout", 0, true},   {"json", 0, false},
        {"help", 'h', false}, {"key", 0, true}, {"server-key", 0, true}};
    const char *word = argv[*i];
    for (size_t k = 0; k < sizeof globals / sizeof globals[0]; k++) {
        const char *v = s_match(word, globals[k].name, globals[k].letter);
        if (!v)
            continue;
        if (globals[k].has_arg && !*v && strchr(word, '=') == NULL) {
            if (*i + 1 >= argc)
                return vl_ctl_usage(ctl, "--%s needs a value", globals[k].name);
            v = argv[++*i];
        } else if (!globals[k].has_arg && *v) {
            return vl_ctl_usage(ctl, "--%s takes no value", globals[k].name);
        }
        switch (k) {
        case 0:
            ctl->adm = v;
            break;
        case 1:
            ctl->mr = v;
            break;
        case 2: {
            uint64_t ms;
            if (vl_ctl_number(ctl, "--timeout", v, 1, 3600 * 1000, &ms) != 0)
                return 2;
            ctl->timeout_ms = (int)ms;
            break;
        }
        case 3:
            ctl->json = true;
            break;
        case 4:
            ctl->help = true;
            break;
        case 5: /* through the environment: bench's processes inherit it */
            setenv("VARLOG_KEY", v, 1);
            break;
        case 6:
            setenv("VARLOG_SERVER_KEY", v, 1);
            break;
        }
        return 1;
    }
    return 0;
}

int vl_ctl_parse(vl_ctl_t *ctl, int argc, char **argv, const vl_ctl_opt_t *opts, const char **vals,
                 char **pos, int maxpos, int *npos)
{
    *npos = 0;
    for (int k = 0; opts && opts[k].name; k++)
        vals[k] = NULL;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (options_done || word[0] != '-' || word[1] == '\0') {
            if (*npos >= maxpos)
                return vl_ctl_usage(ctl, "unexpected argument '%s'", word);
            pos[(*npos)++] = argv[i];
            continue;
        }
        int g = s_global(ctl, argc, argv, &i);
        if (g == 2)
            return 2;
        if (g == 1)
            continue;
        bool found = false;
        for (int k = 0; opts && opts[k].name && !found; k++) {
            const char *v = s_match(word, opts[k].name, opts[k].letter);
            if (!v)
                continue;
            found = true;
            if (opts[k].has_arg && !*v && strchr(word, '=') == NULL) {
                if (i + 1 >= argc)
                    return vl_ctl_usage(ctl, "--%s needs a value", opts[k].name);
                v = argv[++i];
            } else if (!opts[k].has_arg && *v) {
                return vl_ctl_usage(ctl, "--%s takes no value", opts[k].name);
            }
            vals[k] = v;
        }
        if (!found)
            return vl_ctl_usage(ctl, "unknown option '%s'", word);
    }
    return 0;
}

int vl_ctl_number(vl_ctl_t *ctl, const char *what, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return vl_ctl_usage(ctl, "%s: '%s' is not a number in %llu..%llu", what, s,
                            (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return 0;
}

/* ---- admin calls ---------------------------------------------------------------- */

/*  One request, one reply: a plain DEALER rather than vl_rpc, because
    vl_rpc_call replaces the text of a VL_ETIMEDOUT reply with its own "no
    reply" message, and the admin answers VL_ETIMEDOUT (with the MR's
    address in the text) exactly when the MR is down, which is what the
    user must be told. */
int vl_ctl_adm_call(vl_ctl_t *ctl, uint16_t type, const vl_wbuf_t *body, zmsg_t **reply_p,
                    vl_rbuf_t *rbody)
{
    *reply_p = NULL;
    char kerr[512];
    if (vl_curve_setup_env(kerr, sizeof kerr) != 0)
        return vl_ctl_fail(ctl, "%s", kerr);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return vl_ctl_fail(ctl, "cannot create a ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
    zsock_set_linger(sock, 0);
    vl_curve_client(sock);
    if (zsock_connect(sock, "%s", ctl->adm) != 0) {
        zsock_destroy(&sock);
        return vl_ctl_fail(ctl,
                           "--adm: '%s' is not a valid ZeroMQ endpoint (expected "
                           "tcp://HOST:PORT)",
                           ctl->adm);
    }
    vl_hdr_t req = {.type = type, .request_id = ((uint64_t)getpid() << 32) | 1};
    zmsg_t *msg = vl_wire_msg(&req, body);
    zmsg_send(&msg, sock);
    zpoller_t *poller = zpoller_new(sock, NULL);
    int64_t deadline = zclock_mono() + ctl->timeout_ms;
    int64_t left;
    int rc = -1;
    char err[1024] = "";
    while (rc < 0 && (left = deadline - zclock_mono()) > 0) {
        if (!zpoller_wait(poller, (int)left))
            break;
        zmsg_t *reply = zmsg_recv(sock);
        vl_hdr_t hdr;
        if (!reply || vl_wire_parse(reply, &hdr, rbody) != 0 || hdr.request_id != req.request_id ||
            hdr.type != (type | VL_MSG_REPLY)) {
            zmsg_destroy(&reply);
            continue;
        }
        rc = (int)hdr.status;
        if (rc != 0) {
            vl_wire_errtext(rbody, err, sizeof err);
            zmsg_destroy(&reply);
        } else {
            *reply_p = reply;
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    if (rc < 0)
        return vl_ctl_fail(ctl,
                           "admin at %s does not answer within %d ms; is varlogadm running? "
                           "(set --adm or VARLOG_ADM)%s",
                           ctl->adm, ctl->timeout_ms, vl_curve_hint());
    if (rc != 0)
        return vl_ctl_fail(ctl, "%s", err[0] ? err : vl_err_str(rc));
    return 0;
}

int vl_ctl_status_fetch(vl_ctl_t *ctl, vl_meta_t *meta, char *mr, size_t mr_size)
{
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    memset(meta, 0, sizeof *meta);
    if (vl_ctl_adm_call(ctl, VL_MSG_STATUS, NULL, &reply, &body) != 0)
        return 1;
    int rc = vl_meta_decode(&body, meta);
    if (mr) {
        /* the admin's MR endpoint follows the META (server.h) */
        char ep[VL_WIRE_MAX_ADDR + 1] = "";
        if (rc == 0 && body.left > 0)
            vl_rbuf_str(&body, ep, VL_WIRE_MAX_ADDR);
        snprintf(mr, mr_size, "%s", body.err ? "" : ep);
    }
    zmsg_destroy(&reply);
    if (rc != 0)
        return vl_ctl_fail(ctl,
                           "malformed STATUS reply from the admin at %s; are varlogctl and "
                           "varlogadm the same version?",
                           ctl->adm);
    return 0;
}

/* ---- output ------------------------------------------------------------------------ */

void vl_ctl_json_str(FILE *out, const char *s, size_t len)
{
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            if (c < 0x20 || c >= 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                putc(c, out);
        }
    }
    putc('"', out);
}

struct vl_ctl_table {
    char **rows;
    size_t n, cap;
};

vl_ctl_table_t *vl_ctl_table_new(void)
{
    return vl_calloc(1, sizeof(vl_ctl_table_t));
}

void vl_ctl_table_add(vl_ctl_table_t *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *row = NULL;
    if (vasprintf(&row, fmt, ap) < 0)
        row = vl_strdup("");
    va_end(ap);
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rows = vl_realloc(t->rows, t->cap * sizeof *t->rows);
    }
    t->rows[t->n++] = row;
}

void vl_ctl_table_print(vl_ctl_table_t **t_p, FILE *out)
{
    vl_ctl_table_t *t = *t_p;
    size_t width[32] = {0};
    for (size_t r = 0; r < t->n; r++) {
        size_t col = 0, len = 0;
        for (const char *p = t->rows[r];; p++) {
            if (*p == '\t' || *p == '\0') {
                if (col < 32 && len > width[col])
                    width[col] = len;
                if (!*p)
                    break;
                col++;
                len = 0;
            } else {
                len++;
            }
        }
    }
    for (size_t r = 0; r < t->n; r++) {
        size_t col = 0, len = 0;
        for (const char *p = t->rows[r]; *p; p++) {
            if (*p == '\t') {
                for (size_t k = len; col < 32 && k < width[col] + 2; k++)
                    putc(' ', out);
                col++;
                len = 0;
            } else {
                putc(*p, out);
                len++;
            }
        }
        putc('\n', out);
        free(t->rows[r]);
    }
    free(t->rows);
    free(t);
    *t_p = NULL;
}

const char *vl_ctl_ls_state(uint8_t state)
{
    static const char *names[] = {"RUNNING", "SEALING", "SEALED", "UNSEALING", "DELETED"};
    return state < sizeof names / sizeof names[0] ? names[state] : "UNKNOWN";
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    setenv("ZSYS_SIGHANDLER", "false", 1); /* before anything starts CZMQ */
    zsys_handler_set(NULL);
    const char *env_adm = getenv("VARLOG_ADM");
    const char *env_mr = getenv("VARLOG_MR");
    vl_ctl_t ctl = {
        .adm = env_adm && *env_adm ? env_adm : VL_CTL_ADM_DEFAULT,
        .mr = env_mr && *env_mr ? env_mr : VL_CTL_MR_DEFAULT,
        .timeout_ms = VL_CTL_TIMEOUT_MS_DEFAULT,
    };
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("varlogctl %s\n", PACKAGE_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        int g = s_global(&ctl, argc, argv, &i);
        if (g == 2)
            return 2;
        if (g == 0)
            return vl_ctl_usage(&ctl, "unknown option '%s'", argv[i]);
    }
    if (i >= argc) {
        if (ctl.help)
            return vl_ctl_help(NULL);
        return vl_ctl_usage(&ctl, "no command given");
    }
    static const struct {
        const char *name;
        int (*fn)(vl_ctl_t *, int, char **);
    } cmds[] = {
        {"sn", vl_ctl_cmd_sn},         {"topic", vl_ctl_cmd_topic},
        {"ls", vl_ctl_cmd_ls},         {"status", vl_ctl_cmd_status},
        {"append", vl_ctl_cmd_append}, {"subscribe", vl_ctl_cmd_subscribe},
        {"trim", vl_ctl_cmd_trim},     {"bench", vl_ctl_cmd_bench},
        {"mr", vl_ctl_cmd_mr},         {"keygen", s_cmd_keygen},
        {"kov", vl_ctl_cmd_kov},
    };
    const char *name = argv[i];
    if (strcmp(name, "help") == 0)
        return vl_ctl_help(i + 1 < argc ? argv[i + 1] : NULL);
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (strcmp(cmds[k].name, name) == 0) {
            ctl.group = cmds[k].name;
            snprintf(ctl.cmd, sizeof ctl.cmd, "%s", name);
            if (ctl.help)
                return vl_ctl_help(name);
            int rc = cmds[k].fn(&ctl, argc - i - 1, argv + i + 1);
            if (!ctl.output_gone && (fflush(stdout) != 0 || ferror(stdout))) {
                if (rc == 0)
                    rc = vl_ctl_fail(&ctl, "cannot write the output: %s", strerror(errno));
            }
            return rc;
        }
    return vl_ctl_usage(&ctl, "unknown command '%s'", name);
}
