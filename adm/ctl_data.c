/*  ctl_data.c - varlogctl's data commands: append, subscribe, trim.

    They go straight to the cluster through libvarlog, like any
    application: metadata from the MR, entries to and from the storage
    nodes. The admin is not involved, so a data command works while
    varlogadm is down.

    append feeds an asynchronous vl_appender (pipelined batches) so that
    piping many lines costs about one round trip per batch, not per line.
    Its callbacks come from the appender's thread; GLSNs for -v are kept
    in a small ring indexed by input line until every earlier line is
    done, then printed, so the output is in input order whatever order
    the batches complete in.

    subscribe writes through a large stdio buffer and flushes whenever the
    subscriber has nothing ready, so a pipeline sees entries promptly while
    a bulk read costs a write per megabyte, not per entry.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl.h"
#include "util.h"
#include "varlog.h"

#define S_BATCH_DEFAULT 1024
#define S_BATCH_MAX VL_WIRE_MAX_FRAMES
#define S_FLUSH_US 50000 /* -v output reaches its reader within this */

/* ---- shared --------------------------------------------------------------- */

/*  The message of a failed library call on topic: the client's detail
    (which names the topic) when it has one, with the code's own text
    added when the detail does not say it. */
static void s_errtext(vl_client_t *client, int rc, const char *topic, char *out, size_t size)
{
    const char *detail = client ? vl_client_errmsg(client) : NULL;
    const char *base = vl_err_str(rc);
    if (!detail || !*detail)
        snprintf(out, size, "topic %s: %s", topic, base);
    else if (strstr(detail, base))
        snprintf(out, size, "%s", detail);
    else
        snprintf(out, size, "%s (%s)", detail, base);
}

static int s_open(vl_ctl_t *ctl, vl_client_t **client_p)
{
    char err[1024] = "";
    vl_client_opts_t opts = {.timeout_ms = ctl->timeout_ms};
    int rc = vl_client_open(ctl->mr, &opts, client_p, err, sizeof err);
    if (rc == 0)
        return 0;
    if (!err[0])
        snprintf(err, sizeof err, "%s", vl_err_str(rc));
    if (strstr(err, ctl->mr) && strstr(err, "VARLOG_MR"))
        return vl_ctl_fail(ctl, "%s", err); /* the library said it all */
    return vl_ctl_fail(ctl, "cannot open the cluster at %s: %s (set --mr or VARLOG_MR)", ctl->mr,
                       err);
}

/*  Parses TOPIC and the command's options; -1 means go on. */
static int s_parse(vl_ctl_t *ctl, int argc, char **argv, const vl_ctl_opt_t *opts,
                   const char **vals, char **pos, int maxpos, int *npos, int want)
{
    int rc = vl_ctl_parse(ctl, argc, argv, opts, vals, pos, maxpos, npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help(ctl->group);
    if (*npos < want)
        return vl_ctl_usage(ctl, *npos == 0 ? "missing TOPIC" : "missing GLSN");
    if (!vl_topic_name_valid(pos[0]))
        return vl_ctl_fail(ctl,
                           "invalid topic name '%s': use 1 to 255 of A-Z a-z 0-9 . _ - and do "
                           "not start with '.'",
                           pos[0]);
    return -1;
}

/* ---- append ----------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    bool verbose, json;
    /* ring of completed entries waiting for their predecessors: slot
       seq % cap holds the GLSN of input entry seq, or 0 while pending */
    uint64_t *ring;
    uint8_t *done;
    size_t cap;
    uint64_t next_print; /* first entry not yet printed (or skipped) */
    uint64_t committed;
    bool failed; /* some entry failed: stop printing and reading */
    uint64_t fail_seq;
    int fail_rc;
    int64_t last_flush;
    /* what is in the log, from the callbacks (which come in input order):
       the committed prefix, and what came after the first failure */
    uint64_t prefix;                               /* entries 0..prefix-1 committed */
    uint64_t prefix_glsn;                          /* GLSN of entry prefix-1 */
    uint64_t late, late_first, late_last;          /* committed after a failed one */
    uint64_t unknown, unknown_first, unknown_last; /* VL_ETIMEDOUT: may be committed */
} s_append_t;

static void s_ring_grow(s_append_t *st, size_t need)
{
    size_t cap = st->cap ? st->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint64_t *ring = vl_calloc(cap, sizeof *ring);
    uint8_t *done = vl_calloc(cap, 1);
    for (uint64_t s = st->next_print; st->cap && s < st->next_print + st->cap; s++) {
        ring[s % cap] = st->ring[s % st->cap];
        done[s % cap] = st->done[s % st->cap];
    }
    free(st->ring);
    free(st->done);
    st->ring = ring;
    st->done = done;
    st->cap = cap;
}

/*  The one append of this process; the callback argument is the input
    entry's sequence number, so nothing is allocated per entry. */
static s_append_t *s_append;

static void s_append_cb(void *arg, int rc, uint64_t glsn, uint64_t offset)
{
    s_append_t *st = s_append;
    uint64_t seq = (uint64_t)(uintptr_t)arg;
    pthread_mutex_lock(&st->lock);
    if (rc != 0) {
        if (!st->failed || seq < st->fail_seq) {
            st->fail_seq = seq;
            st->fail_rc = rc;
        }
        st->failed = true;
        if (rc == VL_ETIMEDOUT) {
            if (st->unknown++ == 0)
                st->unknown_first = seq;
            st->unknown_last = seq;
        }
    } else {
        st->committed++;
        if (!st->failed && seq == st->prefix) {
            st->prefix++;
            st->prefix_glsn = glsn;
        } else if (st->failed) {
            if (st->late++ == 0)
                st->late_first = seq;
            st->late_last = seq;
        }
    }
    if (seq >= st->next_print) {
        if (seq - st->next_print >= st->cap)
            s_ring_grow(st, (size_t)(seq - st->next_print + 1));
        st->ring[seq % st->cap] = rc == 0 ? glsn : 0;
        st->done[seq % st->cap] = 1;
    }
    /* print the finished prefix; a failure ends the -v output there, so
       the printed GLSNs are always those of input lines 1..k */
    bool printed = false;
    while (st->cap && st->done[st->next_print % st->cap]) {
        size_t slot = st->next_print % st->cap;
        if (st->verbose && !(st->failed && st->next_print >= st->fail_seq)) {
            if (st->json)
                printf("%s%" PRIu64, st->next_print ? ", " : "", st->ring[slot]);
            else
                printf("%" PRIu64 "\n", st->ring[slot]);
            printed = true;
        }
        st->done[slot] = 0;
        st->next_print++;
    }
    if (printed && vl_now_us() - st->last_flush >= S_FLUSH_US) {
        fflush(stdout);
        st->last_flush = vl_now_us();
    }
    pthread_mutex_unlock(&st->lock);
}

/*  Sets aopts from append's options --ls and --batch (vals[0], vals[1]),
 *skip from --resume-from (vals[3]: lines to skip); -1 means go on. */
static int s_append_options(vl_ctl_t *ctl, const char **vals, vl_appender_opts_t *aopts,
                            uint64_t *skip)
{
    uint64_t v;
    *skip = 0;
    if (vals[3]) {
        if (vl_ctl_number(ctl, "--resume-from", vals[3], 1, INT64_MAX, &v) != 0)
            return 2;
        *skip = v - 1;
    }
    if (vals[0]) {
        if (vl_ctl_number(ctl, "--ls", vals[0], 1, INT32_MAX, &v) != 0)
            return 2;
        aopts->ls_id = (uint32_t)v;
    }
    if (vals[1]) {
        if (vl_ctl_number(ctl, "--batch", vals[1], 1, S_BATCH_MAX, &v) != 0)
            return 2;
        aopts->batch_entries = (size_t)v;
    }
    return -1;
}

/*  Opens the client and the appender to topic. Returns 0, or 1 after
    printing the error (nothing left open). */
static int s_append_start(vl_ctl_t *ctl, const char *topic, vl_appender_opts_t *aopts,
                          vl_client_t **client_p, vl_appender_t **app_p)
{
    if (s_open(ctl, client_p) != 0)
        return 1;
    char err[1024];
    int rc = 0;
    /* one log stream for the whole run: batches to one primary are
       committed in the order they were sent, so the topic gets the lines in
       input order (like cat >> file); spread over several log streams they
       would interleave by commit round. Concurrent runs pick different
       streams (at random), which keeps the cluster's write rate spread.
       When that log stream is sealed, the appender moves the rest of the
       input, in order, to another one. */
    if (!aopts->ls_id)
        aopts->sticky = true;
    /* nothing after a failed batch is sent: the lines in the log are
       always a prefix of the input (see s_append_report) */
    aopts->stop_on_error = true;
    if (rc == 0)
        rc = vl_appender_new(*client_p, topic, aopts, s_append_cb, app_p);
    if (rc != 0) {
        s_errtext(*client_p, rc, topic, err, sizeof err);
        vl_client_destroy(client_p);
        return vl_ctl_fail(ctl, "%s", err);
    }
    return 0;
}

/*  Hands each line of standard input (without its newline) to app as one
    entry until the input ends or an entry failed. Returns 0 or the error
    of vl_appender_append; *seq_p: the lines handed over; *read_error:
    reading standard input failed. */
static int s_append_lines(vl_appender_t *app, s_append_t *st, uint64_t skip, uint64_t *seq_p,
                          bool *read_error)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t seq = 0;
    int queue_rc = 0;
    while (skip > 0 && (len = getline(&line, &cap, stdin)) >= 0)
        skip--; /* --resume-from: in the log already */
    while (skip == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            len--;
        pthread_mutex_lock(&st->lock);
        bool failed = st->failed;
        pthread_mutex_unlock(&st->lock);
        if (failed)
            break;
        queue_rc = vl_appender_append(app, line, (size_t)len, (void *)(uintptr_t)seq);
        if (queue_rc != 0)
            break;
        seq++;
    }
    *read_error = ferror(stdin);
    free(line);
    *seq_p = seq;
    return queue_rc;
}

/*  The error of a failed append, with what is in the log: the committed
    prefix of the input (lines first..), and the truth about any line
    after it (committed anyway, or maybe committed). Lines are numbered in
    the input (skip lines were skipped). */
static int s_append_report(vl_ctl_t *ctl, const s_append_t *st, uint64_t skip, const char *topic,
                           uint64_t fail_seq, const char *err)
{
    uint64_t first = skip + 1, n = st->prefix;
    char head[256];
    if (n > 0)
        snprintf(head, sizeof head,
                 "%" PRIu64 " lines committed (lines %" PRIu64 "..%" PRIu64 ", last GLSN %" PRIu64
                 ")",
                 n, first, first + n - 1, st->prefix_glsn);
    else
        snprintf(head, sizeof head, "0 lines committed");
    if (st->late > 0)
        return vl_ctl_fail(ctl,
                           "line %" PRIu64 ": %s; %s; but %" PRIu64 " later lines are in the log "
                           "too (between lines %" PRIu64 " and %" PRIu64 "): the log is not a "
                           "prefix of the input; read the topic before appending again",
                           fail_seq + first, err, head, st->late, st->late_first + first,
                           st->late_last + first);
    if (st->unknown > 0)
        return vl_ctl_fail(ctl,
                           "line %" PRIu64 ": %s; %s; lines %" PRIu64 "..%" PRIu64 " got no "
                           "answer and may still be committed, the lines after them are not in "
                           "the log; read the topic before appending again",
                           fail_seq + first, err, head, st->unknown_first + first,
                           st->unknown_last + first);
    return vl_ctl_fail(ctl,
                       "line %" PRIu64 ": %s; %s; lines %" PRIu64 ".. are not in the log "
                       "(continue with `varlogctl append %s --resume-from %" PRIu64 "`)",
                       fail_seq + first, err, head, first + n, topic, first + n);
}

int vl_ctl_cmd_append(vl_ctl_t *ctl, int argc, char **argv)
{
    static const vl_ctl_opt_t opts[] = {{"ls", 0, true},
                                        {"batch", 0, true},
                                        {"verbose", 'v', false},
                                        {"resume-from", 0, true},
                                        {NULL, 0, false}};
    const char *vals[4];
    char *pos[1];
    int npos;
    int rc = s_parse(ctl, argc, argv, opts, vals, pos, 1, &npos, 1);
    if (rc >= 0)
        return rc;
    const char *topic = pos[0];
    vl_appender_opts_t aopts = {.batch_entries = S_BATCH_DEFAULT, .timeout_ms = ctl->timeout_ms};
    uint64_t skip;
    rc = s_append_options(ctl, vals, &aopts, &skip);
    if (rc >= 0)
        return rc;
    s_append_t st = {.verbose = vals[2] != NULL, .json = ctl->json};
    pthread_mutex_init(&st.lock, NULL);
    s_append = &st;
    vl_client_t *client = NULL;
    vl_appender_t *app = NULL;
    if (s_append_start(ctl, topic, &aopts, &client, &app) != 0) {
        pthread_mutex_destroy(&st.lock);
        return 1;
    }
    if (ctl->json) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, topic, strlen(topic));
        if (st.verbose)
            printf(", \"glsns\": [");
    }
    uint64_t seq;
    bool read_error;
    int queue_rc = s_append_lines(app, &st, skip, &seq, &read_error);
    char err[1024];
    int flush_rc = vl_appender_flush(app);
    if (queue_rc != 0 || flush_rc != 0 || st.failed)
        s_errtext(client,
                  st.failed  ? st.fail_rc
                  : queue_rc ? queue_rc
                             : flush_rc,
                  topic, err, sizeof err);
    vl_appender_destroy(&app);
    vl_client_destroy(&client);
    pthread_mutex_destroy(&st.lock);
    free(st.ring);
    free(st.done);
    if (ctl->json) {
        if (st.verbose)
            printf("]");
        printf(", \"appended\": %" PRIu64 "}\n", st.committed);
    }
    /* every entry has had its callback (flush): say what is in the log */
    if (st.failed || queue_rc != 0 || flush_rc != 0)
        return s_append_report(ctl, &st, skip, topic, st.failed ? st.fail_seq : seq, err);
    if (read_error)
        return vl_ctl_fail(
            ctl, "cannot read standard input: %s (%" PRIu64 " entries read and committed)",
            strerror(errno), seq);
    return 0;
}

/* ---- subscribe ---------------------------------------------------------------- */

static volatile sig_atomic_t s_stop_signal;

static void s_on_signal(int sig)
{
    s_stop_signal = sig;
}

static void s_json_entry(const vl_entry_t *e)
{
    printf("{\"glsn\": %" PRIu64 ", \"ls\": %u, \"llsn\": %" PRIu64 ", \"offset\": %" PRIu64
           ", \"data\": ",
           e->glsn, e->ls_id, e->llsn, e->offset);
    vl_ctl_json_str(stdout, e->data, e->size);
    printf("}\n");
}

/*  Sets [*begin, *end) from --begin, --end and --follow (vals[0], vals[1],
    vals[2]); -1 means go on. */
static int s_subscribe_range(vl_ctl_t *ctl, const char **vals, uint64_t *begin, uint64_t *end)
{
    bool follow = vals[2] != NULL;
    if (vals[0] && vl_ctl_number(ctl, "--begin", vals[0], 1, VL_GLSN_FOLLOW - 1, begin) != 0)
        return 2;
    if (vals[1] && vl_ctl_number(ctl, "--end", vals[1], 1, VL_GLSN_FOLLOW - 1, end) != 0)
        return 2;
    if (vals[1] && follow)
        return vl_ctl_usage(ctl, "--end and --follow exclude each other");
    if (vals[0] && vals[1] && *end <= *begin)
        return vl_ctl_usage(ctl,
                            "--end (%" PRIu64 ") must be larger than --begin (%" PRIu64
                            "): the range is half-open [begin, end)",
                            *end, *begin);
    if (follow)
        *end = VL_GLSN_FOLLOW;
    return -1;
}

/*  Prints the entries of sub on stdout until the end of the range, a
    signal, an error or, without follow, --timeout without an entry.
    Returns the subscriber's last code; *n_p: entries printed;
    *next_glsn_p: the GLSN after the last one printed (unchanged when
    none); *write_errno_p: the error of a failed write, or 0. */
static int s_subscribe_print(vl_ctl_t *ctl, vl_subscriber_t *sub, bool follow, bool with_glsn,
                             uint64_t *n_p, uint64_t *next_glsn_p, int *write_errno_p)
{
    int64_t last_entry = zclock_mono();
    uint64_t n = 0, next_glsn = *next_glsn_p;
    int write_errno = 0;
    int rc = 0;
    while (!s_stop_signal) {
        vl_entry_t e;
        rc = vl_subscriber_next(sub, &e, 0);
        if (rc == VL_ETIMEDOUT) {
            /* about to wait: let the reader have what we have */
            if (fflush(stdout) != 0) {
                write_errno = errno;
                break;
            }
            rc = vl_subscriber_next(sub, &e, 100);
        }
        if (rc == VL_ETIMEDOUT) {
            if (!follow && zclock_mono() - last_entry >= ctl->timeout_ms)
                break;
            continue;
        }
        if (rc != 0)
            break;
        last_entry = zclock_mono();
        n++;
        next_glsn = e.glsn + 1;
        if (ctl->json) {
            s_json_entry(&e);
        } else {
            if (with_glsn)
                printf("%" PRIu64 "\t", e.glsn);
            fwrite(e.data, 1, e.size, stdout);
            putchar('\n');
        }
        if (ferror(stdout)) {
            write_errno = errno;
            break;
        }
    }
    *n_p = n;
    *next_glsn_p = next_glsn;
    *write_errno_p = write_errno;
    return rc;
}

int vl_ctl_cmd_subscribe(vl_ctl_t *ctl, int argc, char **argv)
{
    static const vl_ctl_opt_t opts[] = {{"begin", 0, true},
                                        {"end", 0, true},
                                        {"follow", 'f', false},
                                        {"glsn", 0, false},
                                        {NULL, 0, false}};
    const char *vals[4];
    char *pos[1];
    int npos;
    int rc = s_parse(ctl, argc, argv, opts, vals, pos, 1, &npos, 1);
    if (rc >= 0)
        return rc;
    const char *topic = pos[0];
    uint64_t begin = 0, end = 0;
    bool follow = vals[2] != NULL, with_glsn = vals[3] != NULL;
    rc = s_subscribe_range(ctl, vals, &begin, &end);
    if (rc >= 0)
        return rc;

    vl_client_t *client = NULL;
    if (s_open(ctl, &client) != 0)
        return 1;
    vl_subscriber_t *sub = NULL;
    char err[1024];
    rc = vl_subscribe(client, topic, begin, end, &sub);
    if (rc != 0) {
        s_errtext(client, rc, topic, err, sizeof err);
        vl_client_destroy(&client);
        return vl_ctl_fail(ctl, "%s", err);
    }

    /* stop cleanly on SIGINT/SIGTERM: what was read reaches stdout. A
       reader that goes away (| head) ends the command with status 0 rather
       than SIGPIPE: it has what it wanted, and "set -o pipefail" scripts
       would otherwise see a failure. */
    struct sigaction sa = {.sa_handler = s_on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);

    uint64_t n, next_glsn = begin;
    int write_errno;
    rc = s_subscribe_print(ctl, sub, follow, with_glsn, &n, &next_glsn, &write_errno);
    if (rc != 0 && rc != VL_EEOF && rc != VL_ETIMEDOUT)
        s_errtext(client, rc, topic, err, sizeof err);
    vl_subscriber_destroy(&sub);
    vl_client_destroy(&client);
    if (!write_errno && fflush(stdout) != 0)
        write_errno = errno;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (s_stop_signal)
        raise(s_stop_signal); /* die of it, as the shell expects */
    if (write_errno == EPIPE) {
        ctl->output_gone = true;
        return 0;
    }
    if (write_errno)
        return vl_ctl_fail(ctl, "cannot write the output: %s", strerror(write_errno));
    if (rc == VL_ETIMEDOUT)
        return vl_ctl_fail(ctl,
                           "topic %s: no entry arrived for %d ms after %" PRIu64
                           " entries: GLSN %" PRIu64
                           " is not committed yet or its storage nodes do not answer (see "
                           "'varlogctl status'; --follow waits for new entries)",
                           topic, ctl->timeout_ms, n, next_glsn ? next_glsn : 1);
    if (rc != 0 && rc != VL_EEOF)
        return vl_ctl_fail(ctl, "%s", err);
    return 0;
}

/* ---- trim ----------------------------------------------------------------------- */

int vl_ctl_cmd_trim(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[2];
    int npos;
    int rc = s_parse(ctl, argc, argv, NULL, NULL, pos, 2, &npos, 2);
    if (rc >= 0)
        return rc;
    const char *topic = pos[0];
    uint64_t glsn;
    if (vl_ctl_number(ctl, "GLSN", pos[1], 1, VL_GLSN_FOLLOW - 1, &glsn) != 0)
        return 2;
    vl_client_t *client = NULL;
    if (s_open(ctl, &client) != 0)
        return 1;
    char err[1024];
    rc = vl_trim(client, topic, glsn);
    if (rc != 0) {
        s_errtext(client, rc, topic, err, sizeof err);
        vl_client_destroy(&client);
        return vl_ctl_fail(ctl, "%s", err);
    }
    /* the trim point may be higher than asked (an earlier trim went
       further): show the real one */
    vl_topic_info_t info;
    bool have_info = vl_topic_info(client, topic, &info) == 0;
    vl_client_destroy(&client);
    if (ctl->json) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, topic, strlen(topic));
        if (have_info)
            printf(", \"trim_glsn\": %" PRIu64 ", \"trim_offset\": %" PRIu64 "}\n", info.trim_glsn,
                   info.trim_offset);
        else
            printf(", \"trim_glsn\": %" PRIu64 "}\n", glsn + 1);
    } else if (have_info) {
        printf("topic %s trimmed: the first GLSN kept is %" PRIu64 " (offset %" PRIu64 ")\n", topic,
               info.trim_glsn, info.trim_offset);
    } else {
        printf("topic %s trimmed through GLSN %" PRIu64 "\n", topic, glsn);
    }
    return 0;
}
