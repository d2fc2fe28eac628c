/*  appender_i.h - the appender's state, shared by appender.c (the callers'
    side and the thread's loop: batching, sending, completing) and
    appender_fate.c (what became of each batch sent).
*/
#ifndef VL_APPENDER_I_H
#define VL_APPENDER_I_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "batch.h"
#include "client_i.h"
#include "ordq.h"

#define APP_MAX_ATTEMPTS 8
#define APP_REFRESH_US 200000 /* metadata refresh while no log stream is usable */
#define APP_QUERY_US ((int64_t)VL_BATCH_QUERY_MS * 1000)
#define APP_UNANSWERED_US 1000000 /* unanswered this long: is its log stream still running? */

/*  A batch's payload. The callers write the entries into it, and ZeroMQ
    sends it from there (zmq_msg_init_data) while the batch keeps it for a
    retry: whichever lets go last frees it, maybe ZeroMQ's I/O thread. */
typedef struct {
    int refs; /* atomic */
    size_t cap;
    uint8_t data[];
} vl_appender_buf_t;

/*  cb_args of consecutive entries, run-length coded: a caller that passes
    one argument for many entries (varlogfs: its open file) costs one run. */
typedef struct {
    void *arg;
    size_t n;
} vl_appender_run_t;

typedef struct vl_appender_batch {
    struct vl_appender_batch *next; /* in the callers' ready list or the thread's FIFO */
    int64_t t_us;                   /* when its first entry was queued, for linger */
    uint64_t seq;                   /* in the ordq */
    uint64_t request_id;
    size_t ls; /* index in self->ls */
    size_t n, bytes;
    vl_appender_run_t *args; /* the entries' cb_args */
    size_t nargs, cap_args;
    uint64_t *glsns; /* n slots (only for a per-entry callback): glsns[0..done) are known */
    size_t done;     /* entries committed so far (a head cut by a seal) */
    uint8_t *sizes;  /* n sizes, u32 little endian (as the body holds them) */
    size_t cap_n;
    vl_appender_buf_t *buf; /* the entries back to back: buf->data[off, bytes) are */
    size_t off;             /* those not committed yet, the payload (kept for a retry) */
    int attempts;
    int rc;
    char errmsg[512];
    int64_t deadline_us;
    int64_t sent_us;
    uint64_t bseq;            /* its name on its log stream (with the client id): kept
                                 by every resend there, fresh on a move */
    uint32_t epoch;           /* its log stream's epoch when it was sent there */
    uint64_t hint;            /* BATCH_STATUS's llsn hint: the log stream's newest
                                 answered LLSN when it was first sent there */
    uint64_t name_client, name_seq; /* the caller's name for it (vl_appender_append_batch_named;
                                       0: the appender's own, client_id and bseq) */
    bool resolving;           /* unanswered: asking the replicas what became of it */
    int64_t next_resend_us;   /* resolving on a running log stream: when to resend */
    int64_t resolve_until_us; /* then it fails with VL_ETIMEDOUT */
    int64_t next_query_us;
    uint32_t queries;               /* BATCH_STATUS sent so far, to go round the replicas */
    vl_append_batch_cb_t *batch_cb; /* set: an atomic batch (vl_appender_append_batch),
                                       never cut, one callback */
} vl_appender_batch_t;

typedef struct {
    uint32_t id;
    size_t conn;
    int inflight;
    bool usable;
    uint8_t state;            /* as the metadata last said */
    uint32_t epoch;           /* as the metadata last said: APPENDs carry it */
    int64_t suspect_until_us; /* a batch went unanswered: not used until then */
    uint64_t acked_llsn;      /* the highest LLSN an answered batch here began at */
    uint32_t nrep;            /* replicas as the metadata last said */
    char rep[VL_WIRE_MAX_REPLICAS][VL_WIRE_MAX_ADDR + 1];
} vl_appender_ls_t;

typedef struct {
    char addr[VL_WIRE_MAX_ADDR + 1];
    zsock_t *sock;
} vl_appender_conn_t;

struct vl_appender {
    vl_client_t *client;
    char topic[VL_WIRE_MAX_NAME + 1];
    uint32_t topic_id, cluster_id;
    vl_append_cb_t *cb;
    vl_appender_opts_t o;
    size_t max_bytes, max_entries;
    int efd;
    zactor_t *actor;

    /* shared with the callers, under mutex */
    pthread_mutex_t mutex;
    pthread_cond_t cond;                      /* room in the queue; completions for flush */
    vl_appender_batch_t *open;                /* the batch the callers fill */
    vl_appender_batch_t *ready, **ready_tail; /* full ones, for the thread to send */
    uint64_t appended, completed;
    size_t outstanding_bytes;
    uint64_t flush_target; /* close the open batch without lingering */
    bool stopping;
    int first_rc;
    char first_msg[512];

    /* the thread's own */
    vl_appender_ls_t *ls;
    size_t nls, rr;
    vl_appender_conn_t *conns;
    size_t nconns;
    vl_appender_batch_t *pend, **pend_tail; /* FIFO of closed batches not sent yet */
    int64_t open_t_us;                      /* t_us of the open batch, INT64_MAX: none */
    vl_appender_batch_t **inflight;
    size_t ninflight;
    vl_appender_batch_t **retry; /* refused batches waiting for another log stream */
    size_t nretry;
    size_t cur; /* sticky: the log stream in use */
    int64_t last_refresh_us;
    vl_ordq_t *ordq;
    uint64_t next_id;
    uint64_t client_id; /* random: names this appender's batches */
    uint64_t next_bseq;
    bool halted; /* sticky: a batch failed, nothing after it is sent */
};

/*  Drops a reference to buf; also ZeroMQ's free function for a payload
    sent from it (hint is the buffer). */
void vl_appender_buf_release(void *data, void *hint);

/*  Sends b (in flight on its log stream, its name set) as an APPEND to its
    log stream's primary: again, under the same name and request id, when
    its answer was lost. Returns 0, or -1 when it could not be queued. */
int vl_appender_send_append(vl_appender_t *self, vl_appender_batch_t *b);

/*  (Re)opens the DEALER of conn, dropping whatever the old one still
    queues. */
void vl_appender_conn_open(vl_appender_t *self, size_t conn);

/*  The connection to addr, made when missing. */
size_t vl_appender_conn_get(vl_appender_t *self, const char *addr);

/*  Learns the topic's log streams again (at most every APP_REFRESH_US):
    running ones become usable, the others unusable. */
void vl_appender_refresh(vl_appender_t *self, int64_t now_us);

/*  b is done with rc (0: committed; else the error, its message from fmt):
    off the in-flight and retry lists, handed to the in-order queue. */
void vl_appender_fate_finish(vl_appender_t *self, vl_appender_batch_t *b, int rc, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));

/*  Handles a message that arrived on connection conn (an APPEND or
    BATCH_STATUS reply; anything else is dropped). Takes msg. */
void vl_appender_fate_reply(vl_appender_t *self, size_t conn, zmsg_t *msg);

/*  Batches unanswered too long are resolved (or fail once resolving took
    too long), resolved ones asked about again, refused ones that found no
    log stream in time fail. */
void vl_appender_fate_timeouts(vl_appender_t *self, int64_t now_us);

#endif
