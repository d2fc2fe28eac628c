/*  mrload.c - load test of the metadata repository with simulated storage
    nodes (issue 5: the MR's work per commit tick against log streams).

    Usage: vl_mrload --mr ENDPOINTS [--pid MRPID] [--log-streams L] [--sns N]
                     [--rf R] [--interval-us US] [--entries K] [--size BYTES]
                     [--duration S] [--warmup S] [--name PREFIX] [--keep]

    Starts nothing: it talks to a running varlogmr as N storage nodes would.
    ENDPOINTS is one varlogmr or every replica of a raft group (A,B,C): the
    first call finds the leader, and the simulated nodes talk to it (the
    run fails when leadership moves during it; --pid names the leader's
    process then).
    It registers N simulated nodes with ADD_SN sent to the MR itself (what
    varlogadm forwards after it has pinged the node: the ping is the only
    step skipped, nothing in the MR differs), creates topics holding L log
    streams in all (at most 1000 per topic; the MR takes at most 1024 in one
    CREATE_TOPIC) with replication factor R, and says HELLO from one DEALER
    per node, so the MR knows each node's routing id as it knows a real
    one's. Then, every interval (500 us, a timerfd), every log stream's end
    grows by K entries of BYTES bytes and every node sends one REPORT of all
    its replicas, as a real node does (its reports carry every replica, and
    they come at most once per writer batch or millisecond). The applied
    ends in the reports follow the COMMITs received, as a real node's do,
    so the MR never resends.

    Every COMMIT is checked: it continues where the replica's last commit
    ended (a duplicate is counted, a gap is an error), never passes the end
    the replicas reported, bytes and offsets match the fixed entry size, and
    the primaries' ranges tile each topic's GLSNs 1..hwm without a gap or an
    overlap (ranges of different nodes arrive out of order: a heap holds
    those ahead). After the measured window the load stops and the tool
    waits until every log stream is committed to its end.

    Measured over --duration seconds after --warmup: commit rounds (growth
    of the version the COMMITs carry), the MR's CPU from /proc/PID/stat and
    its threads' from /proc/PID/task (per round and per 500 us tick),
    report-to-commit latency per log stream (from the REPORT that first
    carried an end to the COMMIT that reached it, at the primary), and the
    tool's own CPU (it shares the machine). One line of JSON on stdout.
    Exit 0, 1 when a check failed or the MR could not be driven (stderr
    says what), 2 for bad arguments.

    At the end the topics are deleted and the nodes removed (--keep leaves
    them), so one MR can serve several runs; the bench script starts a
    fresh MR per run anyway, so that no history or idle topics count.

    main runs the phases in order: s_parse, s_setup, s_run (s_loop), s_print,
    s_cleanup. The CPU figures are read in mrload_cpu.c.
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "rpc.h"
#include "util.h"
#include "wire.h"
#include "mrload_cpu.h"

#define S_LS_PER_TOPIC 1000
#define S_RING 64                       /* reports awaiting their commit, per log stream */
#define S_HIST_FINE 100000              /* 1 us buckets below 100 ms */
#define S_HIST_N (S_HIST_FINE + 100000) /* then 1 ms buckets up to 100 s */
#define S_CALL_MS 60000                 /* admin calls: a 1000-LS topic is one synced write */

typedef struct {
    uint64_t end;
    int64_t t_ns;
} s_pending_t;

typedef struct {
    uint32_t id, topic; /* topic: index into s_topics */
    uint64_t llsn_end;  /* what every replica reports */
    uint32_t nrep;
    uint32_t sn[VL_WIRE_MAX_REPLICAS];       /* indexes into s_sns */
    uint64_t reported[VL_WIRE_MAX_REPLICAS]; /* end in that replica's last REPORT sent */
    uint64_t applied[VL_WIRE_MAX_REPLICAS];  /* last LLSN committed to that replica */
    s_pending_t ring[S_RING];                /* reports not yet committed (primary) */
    uint32_t rhead, rn;
} s_ls_t;

typedef struct {
    uint32_t id;
    char addr[96];
    zsock_t *sock;
    uint32_t nls;
    s_ls_t **ls;  /* the log streams it hosts */
    uint8_t *pos; /* its place in each one's replicas */
} s_sn_t;

typedef struct {
    uint64_t glsn_begin, count;
} s_range_t;

typedef struct {
    uint32_t id;
    char name[VL_WIRE_MAX_NAME + 1];
    uint64_t next_glsn; /* every GLSN before it seen, from primaries */
    s_range_t *heap;    /* ranges ahead of next_glsn, min-heap by glsn_begin */
    size_t nheap, capheap;
} s_topic_t;

/*  ---- options and state ----------------------------------------------------- */

static const char *s_mr;
static long s_pid;
static uint32_t s_nls = 100, s_nsns = 3, s_rf = 1, s_interval_us = 500, s_entries = 8, s_size = 128;
static double s_duration = 10, s_warmup = 2;
static char s_name[64];
static bool s_keep;

static uint32_t s_cluster_id;
static s_sn_t *s_sns;
static s_topic_t *s_topics;
static uint32_t s_ntopics;
static s_ls_t *s_ls;
static uint32_t s_ls_base, s_ls_span;
static s_ls_t **s_ls_by_id; /* id - s_ls_base -> log stream */

static bool s_measuring;
static uint64_t s_version_max;
static uint64_t s_errors, s_dups, s_commit_msgs, s_commit_items, s_entries_committed;
static uint64_t s_reports, s_report_items, s_reports_dropped, s_ring_merged, s_ticks,
    s_ticks_missed;
static char s_first_error[512];
static uint32_t *s_hist;
static uint64_t s_nsamples;

static void s_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_error(const char *fmt, ...)
{
    if (s_errors++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s_first_error, sizeof s_first_error, fmt, ap);
        va_end(ap);
        fprintf(stderr, "vl_mrload: check failed: %s\n", s_first_error);
    }
}

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  ---- latency histogram -------------------------------------------------------- */

static void s_hist_add(int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    size_t b = us < S_HIST_FINE ? us : S_HIST_FINE + us / 1000 - S_HIST_FINE / 1000;
    if (b >= S_HIST_N)
        b = S_HIST_N - 1;
    s_hist[b]++;
    s_nsamples++;
}

static double s_hist_pct(double q)
{
    if (s_nsamples == 0)
        return NAN;
    uint64_t want = (uint64_t)ceil(q * (double)s_nsamples), seen = 0;
    if (want == 0)
        want = 1;
    for (size_t b = 0; b < S_HIST_N; b++) {
        seen += s_hist[b];
        if (seen >= want)
            return b < S_HIST_FINE ? (double)b
                                   : (double)(b - S_HIST_FINE + S_HIST_FINE / 1000) * 1000;
    }
    return NAN;
}

/*  ---- GLSN tiling per topic ------------------------------------------------------ */

static void s_heap_push(s_topic_t *t, s_range_t r)
{
    if (t->nheap == t->capheap) {
        t->capheap = t->capheap ? t->capheap * 2 : 64;
        t->heap = vl_realloc(t->heap, t->capheap * sizeof *t->heap);
    }
    size_t i = t->nheap++;
    while (i > 0 && t->heap[(i - 1) / 2].glsn_begin > r.glsn_begin) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = r;
}

static s_range_t s_heap_pop(s_topic_t *t)
{
    s_range_t top = t->heap[0], last = t->heap[--t->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nheap)
            break;
        if (c + 1 < t->nheap && t->heap[c + 1].glsn_begin < t->heap[c].glsn_begin)
            c++;
        if (t->heap[c].glsn_begin >= last.glsn_begin)
            break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nheap)
        t->heap[i] = last;
    return top;
}

/*  A primary's range of topic t: GLSNs must tile 1..hwm exactly once. */
static void s_topic_range(s_topic_t *t, uint64_t glsn_begin, uint64_t count)
{
    if (glsn_begin < t->next_glsn) {
        s_error("topic %s: GLSNs %" PRIu64 "..%" PRIu64 " given twice (next expected %" PRIu64 ")",
                t->name, glsn_begin, glsn_begin + count - 1, t->next_glsn);
        return;
    }
    if (glsn_begin > t->next_glsn) {
        s_heap_push(t, (s_range_t){glsn_begin, count});
        return;
    }
    t->next_glsn += count;
    while (t->nheap && t->heap[0].glsn_begin <= t->next_glsn) {
        s_range_t r = s_heap_pop(t);
        if (r.glsn_begin < t->next_glsn)
            s_error("topic %s: GLSNs from %" PRIu64 " given twice", t->name, r.glsn_begin);
        else
            t->next_glsn += r.count;
    }
}

/*  ---- COMMIT ---------------------------------------------------------------------- */

static void s_on_commit_item(s_sn_t *sn, uint64_t version, const vl_commit_item_t *c, int64_t now)
{
    if (c->ls_id < s_ls_base || c->ls_id - s_ls_base >= s_ls_span ||
        !s_ls_by_id[c->ls_id - s_ls_base]) {
        s_error("version %" PRIu64 ": COMMIT to sn %u for ls %u, which is none of ours", version,
                sn->id, c->ls_id);
        return;
    }
    s_ls_t *ls = s_ls_by_id[c->ls_id - s_ls_base];
    uint32_t k = 0;
    while (k < ls->nrep && &s_sns[ls->sn[k]] != sn)
        k++;
    if (k == ls->nrep) {
        s_error("version %" PRIu64 ": COMMIT for ls %u sent to sn %u, which holds no replica",
                version, c->ls_id, sn->id);
        return;
    }
    s_topic_t *t = &s_topics[ls->topic];
    uint64_t end = c->llsn_begin + c->count - 1;
    if (c->count == 0 || c->topic_id != t->id) {
        s_error("version %" PRIu64 " ls %u: empty range or wrong topic %u", version, ls->id,
                c->topic_id);
        return;
    }
    if (c->llsn_begin <= ls->applied[k]) {
        s_dups++; /* a resend of what the replica has: a real SN ignores it */
        return;
    }
    if (c->llsn_begin != ls->applied[k] + 1) {
        s_error("version %" PRIu64 " ls %u sn %u: commit begins at llsn %" PRIu64
                ", the replica's last commit ended at %" PRIu64,
                version, ls->id, sn->id, c->llsn_begin, ls->applied[k]);
        return;
    }
    for (uint32_t j = 0; j < ls->nrep; j++)
        if (end > ls->reported[j])
            s_error("version %" PRIu64 " ls %u: committed through llsn %" PRIu64
                    ", past the end %" PRIu64 " its replica on sn %u reported",
                    version, ls->id, end, ls->reported[j], s_sns[ls->sn[j]].id);
    if (c->bytes != c->count * s_size || c->offset_begin != (c->glsn_begin - 1) * s_size ||
        c->hwm < c->glsn_begin + c->count - 1 || c->end_offset != c->hwm * s_size)
        s_error("version %" PRIu64 " ls %u: glsn %" PRIu64 " count %" PRIu64 " offset %" PRIu64
                " bytes %" PRIu64 " hwm %" PRIu64 " end offset %" PRIu64
                " do not add up for %u byte entries",
                version, ls->id, c->glsn_begin, c->count, c->offset_begin, c->bytes, c->hwm,
                c->end_offset, s_size);
    ls->applied[k] = end;
    if (k != 0)
        return;
    /* once per log stream (at the primary): tiling, latency, counts */
    s_topic_range(t, c->glsn_begin, c->count);
    while (ls->rn && ls->ring[ls->rhead].end <= end) {
        if (s_measuring)
            s_hist_add(now - ls->ring[ls->rhead].t_ns);
        ls->rhead = (ls->rhead + 1) % S_RING;
        ls->rn--;
    }
    if (s_measuring) {
        s_commit_items++;
        s_entries_committed += c->count;
    }
}

static void s_on_sn_msg(s_sn_t *sn, zmsg_t *msg)
{
    vl_hdr_t hdr;
    vl_rbuf_t body;
    if (vl_wire_parse(msg, &hdr, &body) != 0) {
        s_error("sn %u: a malformed message from the MR", sn->id);
        return;
    }
    if (hdr.status != 0) {
        char text[512];
        vl_wire_errtext(&body, text, sizeof text);
        s_error("sn %u: the MR answered %s with %s: %s", sn->id, vl_wire_type_name(hdr.type),
                vl_err_name((int)hdr.status), text);
        return;
    }
    if (hdr.type == VL_MSG_META || hdr.type == (VL_MSG_HELLO | VL_MSG_REPLY))
        return; /* placement does not change during a run */
    if (hdr.type != VL_MSG_COMMIT) {
        s_error("sn %u: unexpected %s from the MR", sn->id, vl_wire_type_name(hdr.type));
        return;
    }
    vl_commit_t c;
    if (vl_commit_decode(&body, &c) != 0) {
        s_error("sn %u: malformed COMMIT body", sn->id);
        return;
    }
    int64_t now = s_now_ns();
    if (c.version > s_version_max)
        s_version_max = c.version;
    if (s_measuring)
        s_commit_msgs++;
    for (uint32_t i = 0; i < c.n; i++)
        s_on_commit_item(sn, c.version, &c.items[i], now);
    vl_commit_free(&c);
}

static void s_drain_sn(s_sn_t *sn)
{
    for (int i = 0; i < 1024 && (zsock_events(sn->sock) & ZMQ_POLLIN); i++) {
        zmsg_t *msg = zmsg_recv(sn->sock);
        if (!msg)
            break;
        s_on_sn_msg(sn, msg);
        zmsg_destroy(&msg);
    }
}

/*  ---- REPORT ------------------------------------------------------------------------- */

static void s_report(s_sn_t *sn)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_u32(&b, sn->id);
    vl_wbuf_u32(&b, sn->nls);
    for (uint32_t i = 0; i < sn->nls; i++) {
        const s_ls_t *ls = sn->ls[i];
        vl_wbuf_u32(&b, ls->id);
        vl_wbuf_u64(&b, ls->llsn_end);
        vl_wbuf_u64(&b, ls->llsn_end * s_size);
        vl_wbuf_u64(&b, ls->applied[sn->pos[i]]);
        vl_wbuf_u8(&b, VL_LS_RUNNING);
    }
    vl_hdr_t h = {.type = VL_MSG_REPORT, .cluster_id = s_cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    /* a real SN's DEALER queues too; a full queue means the MR is far
       behind: drop (the next report carries the newer ends anyway) */
    if (zmsg_send(&msg, sn->sock) != 0) {
        zmsg_destroy(&msg);
        s_reports_dropped++;
        return;
    }
    for (uint32_t i = 0; i < sn->nls; i++)
        sn->ls[i]->reported[sn->pos[i]] = sn->ls[i]->llsn_end;
    if (s_measuring) {
        s_reports++;
        s_report_items += sn->nls;
    }
}

/*  One tick: every log stream grows, every node reports; the time after the
    sends is when the new ends are reported. */
static void s_tick(bool advance)
{
    if (advance)
        for (uint32_t i = 0; i < s_nls; i++)
            s_ls[i].llsn_end += s_entries;
    for (uint32_t i = 0; i < s_nsns; i++)
        s_report(&s_sns[i]);
    if (!advance)
        return;
    int64_t now = s_now_ns();
    for (uint32_t i = 0; i < s_nls; i++) {
        s_ls_t *ls = &s_ls[i];
        if (ls->rn == S_RING) {
            /* commits lag 64 reports: the newest sample takes the
               newer end and keeps its older time (latency over-, never
               under-stated) */
            ls->ring[(ls->rhead + S_RING - 1) % S_RING].end = ls->llsn_end;
            s_ring_merged++;
            continue;
        }
        ls->ring[(ls->rhead + ls->rn) % S_RING] = (s_pending_t){ls->llsn_end, now};
        ls->rn++;
    }
}

/*  ---- setup ---------------------------------------------------------------------------------- */

static int s_admin(vl_rpc_t *rpc, uint16_t type, const vl_admin_t *a, uint32_t *id_p)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    zmsg_t *reply = NULL;
    vl_hdr_t hdr;
    vl_rbuf_t body;
    char err[512];
    int rc = vl_rpc_call(rpc, type, &b, S_CALL_MS, &reply, &hdr, &body, err, sizeof err);
    vl_wbuf_free(&b);
    if (rc != 0) {
        fprintf(stderr, "vl_mrload: %s '%s%s' failed: %s\n", vl_wire_type_name(type), a->name,
                a->addr, err);
    } else if (id_p) {
        *id_p = vl_rbuf_u32(&body);
    }
    zmsg_destroy(&reply);
    return rc;
}

/*  HELLO from sn's own DEALER: the MR learns its routing id; the reply is
    the META (decoded into meta). */
static int s_hello(s_sn_t *sn, vl_meta_t *meta)
{
    vl_admin_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.addr, sizeof a.addr, "%s", sn->addr);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    vl_hdr_t h = {.type = VL_MSG_HELLO, .request_id = 1, .cluster_id = s_cluster_id};
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    if (zmsg_send(&msg, sn->sock) != 0) {
        zmsg_destroy(&msg);
        fprintf(stderr, "vl_mrload: cannot send HELLO for %s\n", sn->addr);
        return -1;
    }
    zpoller_t *poller = zpoller_new(sn->sock, NULL);
    int64_t deadline = zclock_mono() + S_CALL_MS;
    int rc = -1;
    while (rc < 0 && zclock_mono() < deadline) {
        if (!zpoller_wait(poller, (int)(deadline - zclock_mono())))
            break;
        zmsg_t *reply = zmsg_recv(sn->sock);
        vl_hdr_t rh;
        vl_rbuf_t body;
        if (reply && vl_wire_parse(reply, &rh, &body) == 0 &&
            rh.type == (VL_MSG_HELLO | VL_MSG_REPLY)) {
            if (rh.status != 0) {
                char text[512];
                vl_wire_errtext(&body, text, sizeof text);
                fprintf(stderr, "vl_mrload: HELLO of %s refused: %s\n", sn->addr, text);
                rc = 1;
            } else if (vl_meta_decode(&body, meta) != 0 || meta->sn_id != sn->id) {
                fprintf(stderr, "vl_mrload: HELLO reply of %s: bad META or sn id\n", sn->addr);
                rc = 1;
            } else {
                rc = 0;
            }
        }
        zmsg_destroy(&reply);
    }
    zpoller_destroy(&poller);
    if (rc < 0)
        fprintf(stderr, "vl_mrload: no HELLO reply for %s within %d s\n", sn->addr,
                S_CALL_MS / 1000);
    return rc == 0 ? 0 : -1;
}

/*  Builds the log stream tables from the META: which node hosts what. */
static int s_place(const vl_meta_t *meta)
{
    uint32_t lo = UINT32_MAX, hi = 0, n = 0;
    for (uint32_t t = 0; t < s_ntopics; t++) {
        const vl_meta_topic_t *mt = vl_meta_topic_by_name(meta, s_topics[t].name);
        if (!mt) {
            fprintf(stderr, "vl_mrload: topic %s missing from the META\n", s_topics[t].name);
            return -1;
        }
        s_topics[t].id = mt->id;
        s_topics[t].next_glsn = mt->hwm + 1;
        for (uint32_t k = 0; k < mt->nls; k++) {
            lo = mt->ls[k].id < lo ? mt->ls[k].id : lo;
            hi = mt->ls[k].id > hi ? mt->ls[k].id : hi;
            n++;
        }
    }
    if (n != s_nls) {
        fprintf(stderr, "vl_mrload: the META shows %u log streams in our topics, %u asked\n", n,
                s_nls);
        return -1;
    }
    s_ls_base = lo;
    s_ls_span = hi - lo + 1;
    s_ls_by_id = vl_calloc(s_ls_span, sizeof *s_ls_by_id);
    for (uint32_t i = 0; i < s_nsns; i++) {
        s_sns[i].ls = vl_calloc(s_nls, sizeof *s_sns[i].ls);
        s_sns[i].pos = vl_calloc(s_nls, 1);
    }
    n = 0;
    for (uint32_t t = 0; t < s_ntopics; t++) {
        const vl_meta_topic_t *mt = vl_meta_topic_by_id(meta, s_topics[t].id);
        for (uint32_t k = 0; k < mt->nls; k++) {
            const vl_meta_ls_t *ml = &mt->ls[k];
            s_ls_t *ls = &s_ls[n++];
            ls->id = ml->id;
            ls->topic = t;
            ls->llsn_end = ml->committed_llsn_end;
            ls->nrep = ml->nrep;
            s_ls_by_id[ml->id - lo] = ls;
            for (uint32_t r = 0; r < ml->nrep; r++) {
                uint32_t j = 0;
                while (j < s_nsns && s_sns[j].id != ml->replicas[r])
                    j++;
                if (j == s_nsns) {
                    fprintf(stderr,
                            "vl_mrload: ls %u has a replica on sn %u, not one of ours: run "
                            "against an MR with no other storage nodes\n",
                            ml->id, ml->replicas[r]);
                    return -1;
                }
                ls->sn[r] = j;
                ls->applied[r] = ml->committed_llsn_end;
                ls->reported[r] = ml->committed_llsn_end;
                s_sns[j].ls[s_sns[j].nls] = ls;
                s_sns[j].pos[s_sns[j].nls++] = (uint8_t)r;
            }
        }
    }
    return 0;
}

/*  ---- main -------------------------------------------------------------------------------------
 */

static void s_usage(FILE *f)
{
    fprintf(f, "usage: vl_mrload --mr ENDPOINTS [--pid MRPID] [--log-streams L] [--sns N] [--rf R]\n"
               "                 [--interval-us US] [--entries K] [--size BYTES] [--duration S]\n"
               "                 [--warmup S] [--name PREFIX] [--keep]\n"
               "Drives a running varlogmr, or the leader of a raft group (ENDPOINTS: A,B,C),\n"
               "with N simulated storage nodes reporting L log streams every US microseconds\n"
               "(each grows by K entries); prints one JSON line:\n"
               "commit rounds/s, the MR's CPU per round and per 500 us tick (with --pid),\n"
               "report-to-commit latency. Defaults: L 100, N 3, R 1, US 500, K 8, BYTES 128,\n"
               "10 s after 2 s warm-up.\n");
}

static bool s_uint(const char *arg, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static void s_json_num(const char *key, double v, const char *sep)
{
    if (isnan(v) || isinf(v))
        printf("\"%s\": null%s", key, sep);
    else
        printf("\"%s\": %.6g%s", key, v, sep);
}

/*  Parses the options into the globals; returns -1 to go on, or the exit
    code (0 after --help, 2 for bad arguments). */
static int s_parse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mr", required_argument, NULL, 'm'},
        {"pid", required_argument, NULL, 'p'},
        {"log-streams", required_argument, NULL, 'l'},
        {"sns", required_argument, NULL, 'n'},
        {"rf", required_argument, NULL, 'r'},
        {"interval-us", required_argument, NULL, 'i'},
        {"entries", required_argument, NULL, 'e'},
        {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"name", required_argument, NULL, 'N'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    snprintf(s_name, sizeof s_name, "mrload%ld", (long)getpid());
    int c, which = 0;
    uint32_t pid = 0;
    while ((c = getopt_long(argc, argv, "", opts, &which)) != -1) {
        bool ok = true;
        switch (c) {
        case 'm':
            s_mr = optarg;
            break;
        case 'p':
            ok = s_uint(optarg, 1, INT32_MAX, &pid);
            break;
        case 'l':
            ok = s_uint(optarg, 1, 100000, &s_nls);
            break;
        case 'n':
            ok = s_uint(optarg, 1, 1000, &s_nsns);
            break;
        case 'r':
            ok = s_uint(optarg, 1, VL_WIRE_MAX_REPLICAS, &s_rf);
            break;
        case 'i':
            ok = s_uint(optarg, 50, 10000000, &s_interval_us);
            break;
        case 'e':
            ok = s_uint(optarg, 1, 1000000, &s_entries);
            break;
        case 's':
            ok = s_uint(optarg, 1, 1u << 20, &s_size);
            break;
        case 'd':
        case 'w': {
            char *end;
            double v = strtod(optarg, &end);
            ok = *end == '\0' && v >= 0 && v <= 3600 && (c == 'w' || v > 0);
            *(c == 'd' ? &s_duration : &s_warmup) = v;
            break;
        }
        case 'N':
            ok = vl_topic_name_valid(optarg) && strlen(optarg) < 40;
            snprintf(s_name, sizeof s_name, "%s", optarg);
            break;
        case 'k':
            s_keep = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "vl_mrload: bad value '%s' for --%s; see --help\n", optarg,
                    opts[which].name);
            return 2;
        }
    }
    if (!s_mr || optind < argc) {
        fprintf(stderr, "vl_mrload: give the MR with --mr ENDPOINTS (and nothing else); see "
                        "--help\n");
        return 2;
    }
    if (s_rf > s_nsns) {
        fprintf(stderr, "vl_mrload: --rf %u needs at least %u storage nodes (--sns)\n", s_rf, s_rf);
        return 2;
    }
    s_pid = pid;
    return -1;
}

/*  Registers the simulated nodes (*nadded_p of them so far) and creates the
    topics (*ncreated_p so far), says HELLO from every node and builds the
    log stream tables from the META. 0, or -1 (stderr says why). */
static int s_setup(vl_rpc_t *rpc, uint32_t *nadded_p, uint32_t *ncreated_p)
{
    char err[512];
    /* the MR's cluster id, for the headers; the call finds the leader */
    {
        zmsg_t *reply = NULL;
        vl_hdr_t hdr;
        vl_rbuf_t body;
        if (vl_rpc_call(rpc, VL_MSG_GET_META, NULL, 10000, &reply, &hdr, &body, err, sizeof err) !=
            0) {
            fprintf(stderr, "vl_mrload: no META from %s: %s; is varlogmr running there?\n", s_mr,
                    err);
            return -1;
        }
        s_cluster_id = hdr.cluster_id;
        zmsg_destroy(&reply);
    }
    /* the simulated nodes' DEALERs go to the leader the call found: the
       MR takes REPORTs from the node's own socket only */
    char leader[256];
    snprintf(leader, sizeof leader, "%s", vl_rpc_current(rpc));
    for (uint32_t i = 0; i < s_nsns; i++, (*nadded_p)++) {
        s_sn_t *sn = &s_sns[i];
        /* never dialed: nothing but the MR reads it, and the MR only keys
           the node by it */
        snprintf(sn->addr, sizeof sn->addr, "tcp://mrload-%ld-%u.invalid:1", (long)getpid(), i + 1);
        vl_admin_t a;
        memset(&a, 0, sizeof a);
        snprintf(a.addr, sizeof a.addr, "%s", sn->addr);
        if (s_admin(rpc, VL_MSG_ADD_SN, &a, &sn->id) != 0)
            return -1;
        sn->sock = zsock_new(ZMQ_DEALER);
        zsock_set_linger(sn->sock, 0);
        zsock_set_rcvhwm(sn->sock, 0);
        zsock_set_sndtimeo(sn->sock, 0); /* a full queue drops a report (s_report) */
        if (zsock_connect(sn->sock, "%s", leader) != 0) {
            fprintf(stderr, "vl_mrload: cannot connect to %s\n", leader);
            return -1;
        }
    }
    for (uint32_t t = 0; t < s_ntopics; t++, (*ncreated_p)++) {
        uint32_t nls = s_nls / s_ntopics + (t < s_nls % s_ntopics ? 1 : 0);
        vl_admin_t a;
        memset(&a, 0, sizeof a);
        snprintf(s_topics[t].name, sizeof s_topics[t].name, "%s-%u", s_name, t + 1);
        snprintf(a.name, sizeof a.name, "%s", s_topics[t].name);
        a.nls = nls;
        a.rf = s_rf;
        if (s_admin(rpc, VL_MSG_CREATE_TOPIC, &a, &s_topics[t].id) != 0)
            return -1;
    }
    vl_meta_t meta;
    memset(&meta, 0, sizeof meta);
    for (uint32_t i = 0; i < s_nsns; i++) {
        vl_meta_free(&meta);
        if (s_hello(&s_sns[i], &meta) != 0)
            return -1;
    }
    int placed = s_place(&meta);
    vl_meta_free(&meta);
    return placed != 0 ? -1 : 0;
}

/*  The measured window: what it starts and ends with. */
typedef struct {
    int64_t t;     /* s_now_ns */
    long long cpu; /* the MR's (clock ticks), -1 unknown */
    mrload_thread_t th[MRLOAD_MAX_THREADS];
    size_t nth;  /* threads in th (none without --pid) */
    uint64_t v;  /* s_version_max */
    double self; /* the tool's CPU (s) */
} s_mark_t;

typedef struct {
    s_mark_t start, stop;
    uint64_t missed0; /* s_ticks_missed at the start */
    bool drained;     /* every log stream committed to its end after the load */
} s_window_t;

static void s_mark(s_mark_t *m, int64_t now)
{
    m->t = now;
    m->cpu = mrload_mr_cpu(s_pid);
    m->nth = s_pid ? mrload_threads(s_pid, m->th) : 0;
    m->v = s_version_max;
    m->self = mrload_self_cpu_s();
}

/*  Ticks on every timer expiry (tfd; items polls it and the nodes'
    sockets), opens the measured window after the warm-up and closes it
    after the duration, then drains: until every log stream is committed to
    its reported end (w->drained) or 60 s passed. -1 when polling failed. */
static int s_loop(int tfd, zmq_pollitem_t *items, s_window_t *w)
{
    s_tick(false); /* first word from every replica: the MR marks them in sync */
    int64_t t_start = s_now_ns();
    int64_t t_measure = t_start + (int64_t)(s_warmup * 1e9);
    int64_t t_stop = t_measure + (int64_t)(s_duration * 1e9);
    bool loading = true;
    int64_t drain_deadline = 0, last_report = 0;
    while (true) {
        if (zmq_poll(items, (int)s_nsns + 1, 100) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "vl_mrload: poll: %s\n", zmq_strerror(errno));
            return -1;
        }
        for (uint32_t i = 0; i < s_nsns; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_drain_sn(&s_sns[i]);
        int64_t now = s_now_ns();
        if (items[s_nsns].revents & ZMQ_POLLIN) {
            uint64_t exp = 0;
            if (read(tfd, &exp, sizeof exp) == sizeof exp && exp > 1)
                s_ticks_missed += exp - 1;
            if (loading) {
                s_ticks++;
                s_tick(true);
            }
        }
        if (!s_measuring && loading && now >= t_measure) {
            s_measuring = true;
            s_mark(&w->start, now);
            w->missed0 = s_ticks_missed;
            s_ticks = 0;
        } else if (s_measuring && now >= t_stop) {
            s_measuring = false;
            loading = false;
            s_mark(&w->stop, now);
            /* the backlog may be long when the MR was saturated */
            drain_deadline = now + 60 * (int64_t)1000000000;
            s_tick(false); /* the last applied ends, as a real SN would report */
        }
        if (!loading) {
            bool all = true;
            for (uint32_t i = 0; i < s_nls && all; i++)
                for (uint32_t k = 0; k < s_ls[i].nrep; k++)
                    all &= s_ls[i].applied[k] == s_ls[i].llsn_end;
            if (all) {
                w->drained = true;
                break;
            }
            if (now >= drain_deadline)
                break;
            /* a report dropped on a full queue may have held the last
               ends: say them again every 10 ms (the applied ends too, as
               a real SN reports them when they move) */
            if (now - last_report >= 10000000) {
                s_tick(false);
                last_report = now;
            }
        }
    }
    return 0;
}

/*  Runs the load (s_loop) and checks what it left: every log stream
    drained, no topic with a GLSN gap. -1 when polling failed. */
static int s_run(s_window_t *w)
{
    /* the load: a timerfd paces the reports below a millisecond */
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {
        .it_interval = {.tv_sec = s_interval_us / 1000000,
                        .tv_nsec = (long)(s_interval_us % 1000000) * 1000},
        .it_value = {.tv_sec = s_interval_us / 1000000,
                     .tv_nsec = (long)(s_interval_us % 1000000) * 1000},
    };
    timerfd_settime(tfd, 0, &its, NULL);
    zmq_pollitem_t *items = vl_calloc(s_nsns + 1, sizeof *items);
    for (uint32_t i = 0; i < s_nsns; i++)
        items[i] = (zmq_pollitem_t){.socket = zsock_resolve(s_sns[i].sock), .events = ZMQ_POLLIN};
    items[s_nsns] = (zmq_pollitem_t){.fd = tfd, .events = ZMQ_POLLIN};
    int rc = s_loop(tfd, items, w);
    close(tfd);
    free(items);
    if (rc != 0)
        return rc;
    if (!w->drained)
        s_error("not every log stream was committed to its reported end within 60 s after the "
                "load stopped");
    for (uint32_t t = 0; t < s_ntopics; t++)
        if (s_topics[t].nheap)
            s_error("topic %s: GLSN gap: next expected %" PRIu64 ", %zu ranges held beyond it "
                    "(first at %" PRIu64 ")",
                    s_topics[t].name, s_topics[t].next_glsn, s_topics[t].nheap,
                    s_topics[t].heap[0].glsn_begin);
    return 0;
}

/*  The one line of JSON on stdout: the measured window's figures. */
static void s_print(const s_window_t *w)
{
    double win = (double)(w->stop.t - w->start.t) / 1e9;
    long hz = sysconf(_SC_CLK_TCK);
    double rounds = (double)(w->stop.v - w->start.v);
    double mr_cpu_s = w->start.cpu >= 0 && w->stop.cpu >= 0
                          ? (double)(w->stop.cpu - w->start.cpu) / (double)hz
                          : NAN;
    double ticks500 = win / 0.0005;
    printf("{\"log_streams\": %u, \"topics\": %u, \"sns\": %u, \"rf\": %u, \"interval_us\": %u, "
           "\"entries_per_report\": %u, \"size\": %u, ",
           s_nls, s_ntopics, s_nsns, s_rf, s_interval_us, s_entries, s_size);
    s_json_num("window_s", win, ", ");
    s_json_num("rounds_per_s", rounds / win, ", ");
    s_json_num("mr_cpu_pct", mr_cpu_s / win * 100, ", ");
    s_json_num("mr_cpu_us_per_round", mr_cpu_s * 1e6 / rounds, ", ");
    s_json_num("mr_cpu_us_per_tick", mr_cpu_s * 1e6 / ticks500, ", ");
    if (w->stop.nth)
        mrload_json_threads(w->start.th, w->start.nth, w->stop.th, w->stop.nth, win, hz);
    printf("\"latency_us\": {");
    s_json_num("p50", s_hist_pct(0.5), ", ");
    s_json_num("p99", s_hist_pct(0.99), ", ");
    s_json_num("p999", s_hist_pct(0.999), ", ");
    s_json_num("max", s_hist_pct(1.0), ", ");
    printf("\"samples\": %" PRIu64 "}, ", s_nsamples);
    s_json_num("reports_per_s", (double)s_reports / win, ", ");
    s_json_num("report_items_per_s", (double)s_report_items / win, ", ");
    s_json_num("commit_msgs_per_s", (double)s_commit_msgs / win, ", ");
    s_json_num("commit_items_per_s", (double)s_commit_items / win, ", ");
    s_json_num("entries_committed_per_s", (double)s_entries_committed / win, ", ");
    s_json_num("tool_cpu_pct", (w->stop.self - w->start.self) / win * 100, ", ");
    printf("\"tool_ticks\": %" PRIu64 ", \"tool_ticks_missed\": %" PRIu64
           ", \"reports_dropped\": %" PRIu64 ", \"latency_merged\": %" PRIu64
           ", \"duplicates\": %" PRIu64 ", \"drained\": %s, \"errors\": %" PRIu64
           ", \"first_error\": \"%s\"}\n",
           s_ticks, s_ticks_missed - w->missed0, s_reports_dropped, s_ring_merged, s_dups,
           w->drained ? "true" : "false", s_errors, s_first_error);
    fflush(stdout);
}

/*  Deletes the topics and removes the nodes the run made (unless --keep),
    and frees everything. */
static void s_cleanup(vl_rpc_t *rpc, uint32_t nadded, uint32_t ncreated)
{
    if (!s_keep) {
        for (uint32_t t = 0; t < ncreated; t++) {
            vl_admin_t a;
            memset(&a, 0, sizeof a);
            snprintf(a.name, sizeof a.name, "%s", s_topics[t].name);
            s_admin(rpc, VL_MSG_DELETE_TOPIC, &a, NULL);
        }
        for (uint32_t i = 0; i < nadded; i++) {
            vl_admin_t a;
            memset(&a, 0, sizeof a);
            a.id = s_sns[i].id;
            s_admin(rpc, VL_MSG_REMOVE_SN, &a, NULL);
        }
    }
    for (uint32_t i = 0; i < s_nsns; i++) {
        zsock_destroy(&s_sns[i].sock);
        free(s_sns[i].ls);
        free(s_sns[i].pos);
    }
    for (uint32_t t = 0; t < s_ntopics; t++)
        free(s_topics[t].heap);
    free(s_sns);
    free(s_topics);
    free(s_ls);
    free(s_ls_by_id);
    free(s_hist);
}

int main(int argc, char **argv)
{
    int rc = s_parse(argc, argv);
    if (rc >= 0)
        return rc;
    zsys_init();
    zsys_set_linger(0);
    char err[512];
    vl_rpc_t *rpc = vl_rpc_new(s_mr, err, sizeof err);
    if (!rpc) {
        fprintf(stderr, "vl_mrload: %s\n", err);
        return 1;
    }
    s_hist = vl_calloc(S_HIST_N, sizeof *s_hist);
    s_sns = vl_calloc(s_nsns, sizeof *s_sns);
    s_ls = vl_calloc(s_nls, sizeof *s_ls);
    s_ntopics = (s_nls + S_LS_PER_TOPIC - 1) / S_LS_PER_TOPIC;
    s_topics = vl_calloc(s_ntopics, sizeof *s_topics);
    rc = 1;
    uint32_t nadded = 0, ncreated = 0;
    s_window_t w = {.start.cpu = -1, .stop.cpu = -1};
    if (s_setup(rpc, &nadded, &ncreated) == 0 && s_run(&w) == 0) {
        s_print(&w);
        rc = s_errors ? 1 : 0;
    }
    s_cleanup(rpc, nadded, ncreated);
    vl_rpc_destroy(&rpc);
    return rc;
}
