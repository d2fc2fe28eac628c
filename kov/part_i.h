/*  part_i.h - the gateway data path's private state, shared by part.c
    (the module, its threads and the hand-off to the loop thread, marks),
    produce.c (appends and idempotent producers' sequences), pid.c (producer
    ids kept in the meta topic) and fetch.c (the tail window, catch-up
    readers and watches).

    Threads: everything in vl_kparts_t and vl_kpart_t is the loop thread's
    unless a comment names a lock. Other threads (workers, appender
    threads, followers) never touch it: they hand a function and its
    argument to the loop with vl_kparts_post, which queues it under
    post_mu and makes the eventfd readable; vl_kparts_dispatch runs the
    queue. An eventfd and one mutex-guarded list rather than inproc pipes:
    an appender's callback runs on the appender's thread, which has no
    socket of ours to send on, and a list push costs no allocation of a
    message (coalesced wake-ups: the eventfd is written only when the
    list was empty).
*/
#ifndef VL_KOV_PART_I_H
#define VL_KOV_PART_I_H
#include <czmq.h>
#include <pthread.h>
#include <stdbool.h>
#include "part.h"

#define KP_RECENT 5       /* batches kept per (producer, partition), as Kafka */
#define KP_PID_BLOCK 1000 /* producer ids reserved by one meta record */
#define KP_MAX_INFLIGHT_BYTES ((size_t)48 << 20) /* per partition, below the appender's 64 MiB */
#define KP_MAX_INFLIGHT_ENTRIES 65536
#define KP_MAX_BATCH_ENTRIES 8192      /* an atomic varlog batch (VL_WIRE_MAX_ENTRIES) */
#define KP_MAX_BATCH_BYTES (64u << 20) /* ... and its payload (VL_WIRE_MAX_PAYLOAD) */
#define KP_FOLLOW_IDLE_MS 30000        /* a follower nobody fetched from this long stops */
#define KP_READ_TIMEOUT_MS 10000       /* a bounded read waits this long for an entry */
#define KP_CATCHUP_IDLE_MS 30000       /* a catch-up reader unused this long is closed */

/*  Kafka error codes of this module (kov/batch.h has the batch ones). */
#define KERR_UNKNOWN_SERVER_ERROR (-1)
#define KERR_OFFSET_OUT_OF_RANGE 1
#define KERR_CORRUPT_MESSAGE 2
#define KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KERR_MESSAGE_TOO_LARGE 10
#define KERR_REQUEST_TIMED_OUT 7
#define KERR_NOT_ENOUGH_REPLICAS 19
#define KERR_OUT_OF_ORDER_SEQUENCE_NUMBER 45
#define KERR_INVALID_PRODUCER_EPOCH 47
#define KERR_KAFKA_STORAGE_ERROR 56
#define KERR_UNKNOWN_PRODUCER_ID 59

typedef void(vl_kparts_post_fn)(void *arg);

/*  A queued hand-off to the loop thread. */
typedef struct kp_post {
    struct kp_post *next;
    vl_kparts_post_fn *fn;
    void *arg;
} kp_post_t;

/*  Work for a thread of the pool. */
typedef struct kp_job {
    struct kp_job *next;
    struct vl_kparts *kp;
    bool own; /* the module's: its done runs at destroy too, to free */
    vl_kparts_work_fn *work;
    vl_kparts_done_fn *done;
    void *arg;
} kp_job_t;

/*  One batch an idempotent producer sent to a partition. */
typedef struct {
    int16_t epoch;
    int32_t base_seq;
    uint32_t count;
    int64_t base_offset;         /* -1 while in flight */
    struct kp_produce *inflight; /* the append, while in flight */
} kp_seqbatch_t;

/*  An idempotent producer's state on one partition (Kafka's
    ProducerStateEntry): the last KP_RECENT batches, newest last. */
typedef struct {
    int64_t pid;
    int16_t epoch;
    bool lenient; /* the next batch may begin anywhere */
    bool probe;   /* this gateway does not know what the producer wrote before (new
                     here, a takeover, a failed batch): look its batches up in the log
                     (vl_batch_find) until one is not there */
    int32_t next_seq;
    kp_seqbatch_t recent[KP_RECENT];
    int nrecent;
} kp_pstate_t;

/*  One produce call. Retries of it that came while it was in flight wait
    on it (dups) and get its answer. */
typedef struct kp_produce {
    struct kp_produce *next; /* in the partition's wait list */
    struct vl_kparts *kp;
    struct vl_kpart *part;
    vl_kparts_produce_cb_t *cb;
    void *arg;
    size_t n, bytes;
    uint8_t *buf; /* the entries back to back (copied) */
    size_t *len;
    vl_kproducer_t prod;
    int rc;       /* the appender's outcome */
    int16_t kerr; /* the answer */
    int64_t base_offset;
    uint64_t first_glsn;
    size_t committed;
    char msg[512];
    struct kp_produce *dups;
    bool pid_waited; /* the meta topic was read (again) for its producer id */
    bool looked_up;  /* its batch name was looked up and is not in the log */
} kp_produce_t;

/*  An entry of the tail window. */
typedef struct {
    uint64_t glsn;
    size_t len;
    uint8_t *data;
} kp_wentry_t;

/*  A reader of older entries (catch-up), kept between fetches: the next
    fetch that continues where it stopped reuses it. Owned by the loop
    while idle, by a worker while busy. */
typedef struct {
    vl_subscriber_t *sub;
    uint64_t next_glsn; /* what it delivers next */
    bool busy;
    int64_t used_us;
} kp_catchup_t;

/*  A following subscriber's thread; shared with the loop under mu. At
    most one hand-off of it is queued at a time (posted), so the loop frees
    it safely once it saw `ended`. */
typedef struct kp_follow {
    struct vl_kpart *part; /* the loop's: the thread reads only topic */
    struct vl_kparts *kp;
    char topic[256];
    pthread_t thread;
    int64_t used_us; /* atomic: last fetch or watch (the thread stops when idle) */
    pthread_mutex_t mu;
    bool stop;   /* under mu: the loop asks it to end */
    bool posted; /* under mu: a hand-off to the loop is queued */
    bool ended;  /* under mu: the thread is done (join it) */
    int rc;      /* under mu: the stream failed (VL_ENOTOPIC, ...) */
    char msg[512];
    uint64_t start_glsn; /* under mu: where it began (0 until known) */
    kp_wentry_t *ents;   /* under mu: delivered, not yet taken by the loop */
    size_t nents, cap;
} kp_follow_t;

/*  A watch of vl_kparts_watch. */
struct vl_kwatch {
    struct vl_kwatch *next;
    struct vl_kparts *kp;
    struct vl_kpart *part;
    uint64_t glsn; /* fire when an entry at or past it is committed */
    vl_kparts_watch_cb_t *cb;
    void *arg;
    bool fired;     /* posted already (the loop runs it, then frees) */
    bool cancelled; /* unwatched after it was posted: the post only frees */
};

/*  One partition (a varlog topic) this gateway wrote or read. */
typedef struct vl_kpart {
    struct vl_kparts *kp;
    char topic[256];
    /* produce */
    vl_appender_t *app;
    bool app_opening; /* a worker creates app */
    bool app_stale;   /* replace app once nothing is in flight */
    bool looking;     /* a worker looks the head of waiting up (produce.c) */
    int app_rc;       /* its last failure, with app_msg */
    char app_msg[512];
    kp_produce_t *waiting, **waiting_tail; /* not handed to the appender yet, in order */
    size_t inflight_bytes, inflight_entries;
    kp_pstate_t **pstates; /* idempotent producers seen here */
    size_t npstates;
    uint64_t owner_epoch; /* the gateways' view epoch of the last produce (0: none yet) */
    /* what this gateway knows is committed */
    uint64_t hwm;       /* highest committed GLSN known (0: none) */
    uint64_t trim_glsn; /* first GLSN kept, as last seen (0: unknown) */
    bool gone;          /* the topic was deleted */
    /* fetch */
    kp_wentry_t *win; /* the tail window: a ring of consecutive GLSNs */
    size_t win_cap, win_head, win_n, win_bytes;
    uint64_t win_first; /* the GLSN at win_head (0: no window) */
    kp_follow_t *follow;
    int64_t fetched_us; /* last fetch or watch (a follower stops when idle) */
    kp_catchup_t catchup;
    struct vl_kwatch *watches;
} vl_kpart_t;

struct vl_kparts {
    vl_client_t *client;
    vl_kparts_opts_t o;
    char meta_topic[256];
    int efd;
    pthread_mutex_t post_mu;
    kp_post_t *posts, **posts_tail;
    pthread_mutex_t job_mu;
    pthread_cond_t job_cv;
    kp_job_t *jobs, **jobs_tail;
    bool stopping;   /* under job_mu */
    bool destroying; /* draining at destroy: no caller's callback runs */
    pthread_t *threads;
    int nthreads;
    zhashx_t *parts; /* topic -> vl_kpart_t */
    int64_t housekeep_us;
    vl_kparts_stats_t stats; /* catchup_opened: atomic (workers) */
    /* producer ids (pid.c) */
    int64_t pid_next, pid_end; /* this gateway's block: ids next..end-1 */
    int64_t pid_known_end;     /* every id below it may have been allocated */
    bool pid_loaded, pid_busy; /* the meta topic was read; a worker reads it now */
    int pid_rc;                /* the last read's failure, with pid_msg */
    char pid_msg[512];
    bool pid_reserving; /* a worker reserves a block */
    int pid_reserve_rc; /* its failure, for the calls waiting */
    char pid_reserve_msg[512];
    struct kp_pidreq *pid_reqs, **pid_reqs_tail; /* InitProducerId calls waiting */
};

/*  Queues fn(arg) for the loop thread (any thread). */
void vl_kparts_post(vl_kparts_t *self, vl_kparts_post_fn *fn, void *arg);

/*  vl_kparts_run for the module's own work (own: done runs at destroy
    too, with destroying set, so that it frees its argument). */
void vl_kparts_run_own(vl_kparts_t *self, vl_kparts_work_fn *work, vl_kparts_done_fn *done,
                       void *arg, bool own);

/*  The partition of topic, made when missing (loop thread). */
vl_kpart_t *vl_kpart_get(vl_kparts_t *self, const char *topic);

/*  A committed entry at glsn is known: raises the HWM, fires the watches
    it satisfies (while a follower runs: those the window satisfies). */
void vl_kpart_committed(vl_kpart_t *part, uint64_t glsn);

/*  The topic is gone: every watch fires. */
void vl_kpart_gone(vl_kpart_t *part);

/*  Every watch of part fires (its follower failed: nothing else would
    wake them; the fetches they wait for find out what is wrong). */
void vl_kpart_wake_all(vl_kpart_t *part);

/*  Kafka error code for a libvarlog error of an append or a read. */
int16_t vl_kparts_kerr(int rc);

/*  produce.c: what a partition frees of the produce side. */
void vl_kpart_produce_free(vl_kpart_t *part);

/*  produce.c: after pid.c read the meta topic, the partitions waiting
    for it go on. */
void vl_kparts_produce_pump_all(vl_kparts_t *self);

/*  pid.c: reads the producer ids allocated so far from the meta topic on
    a worker (pid_busy meanwhile), then pid_loaded, pid_known_end and
    vl_kparts_produce_pump_all. */
void vl_kparts_pid_load(vl_kparts_t *self);

/*  pid.c: frees what pid requests hold (at destroy). */
void vl_kparts_pid_free(vl_kparts_t *self);

/*  fetch.c: what a partition frees of the fetch side (stops its follower). */
void vl_kpart_fetch_free(vl_kpart_t *part);

/*  fetch.c: starts the following subscriber of part (when not running). */
void vl_kpart_follow(vl_kpart_t *part);

/*  fetch.c: stops the follower and the catch-up reader (destroy). */
void vl_kpart_fetch_stop(vl_kpart_t *part);

/*  fetch.c: periodic work (idle followers and catch-up readers stop). */
void vl_kparts_fetch_housekeep(vl_kparts_t *self, int64_t now_us);

#endif
