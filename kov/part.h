/*  part.h - the data path of Kafka partitions on varlog (varlogkov).

    Partition p of Kafka topic T is the varlog topic "T-p"; Kafka offset =
    GLSN - 1; log start offset = trim point - 1; high watermark = the
    topic's HWM (as a Kafka offset: the next offset to be written = HWM
    GLSN). This module owns the gateway's libvarlog objects: a sticky
    appender per partition it writes, a following subscriber per partition
    read at its tail (feeding an in-memory window, so tail fetches never
    reach a storage node), catch-up readers for older offsets, the
    producer-id allocator and each idempotent producer's recent batches.

    Threads: the gateway's loop thread (a zloop) calls every function here.
    Whatever blocks (appends, reads, metadata calls) runs on threads of this
    module; its results come back as callbacks that run on the loop thread,
    inside vl_kparts_dispatch, which the loop calls whenever vl_kparts_fd is
    readable. A callback never runs inside the call that registered it.
    Callback arguments are borrowed (copy what you keep). The module shares
    the client given to vl_kparts_new among its threads (vl_kparts_run's
    work gets it too).

    Kafka error codes the callbacks give (besides those of kov/batch.h):
    UNKNOWN_TOPIC_OR_PARTITION (3) no such topic; MESSAGE_TOO_LARGE (10)
    a batch over 8192 records or 64 MiB; NOT_ENOUGH_REPLICAS (19) no
    running log stream took it, nothing written (clients retry);
    REQUEST_TIMED_OUT (7) it may still be committed; KAFKA_STORAGE_ERROR
    (56) storage errors, or a batch older storage nodes split;
    OFFSET_OUT_OF_RANGE (1); the idempotence codes 45, 47, 59;
    UNKNOWN_SERVER_ERROR (-1) for the rest. doc/DESIGN.md ("Kov: the
    gateway's data path") and doc/KOV.md say more.
*/
#ifndef VL_KOV_PART_H
#define VL_KOV_PART_H
#include <stddef.h>
#include <stdint.h>
#include "varlog.h"

typedef struct vl_kparts vl_kparts_t;
typedef struct vl_kwatch vl_kwatch_t;

typedef struct {
    int workers;           /* threads for blocking calls (default 4) */
    size_t window_bytes;   /* tail window per followed partition (default 32 MiB) */
    const char *meta_topic; /* Kov's own state (default "__kov_meta") */
} vl_kparts_opts_t;

/*  Starts the module on an open client (borrowed; it must outlive the
    module). opts may be NULL. Caller owns the result. */
int vl_kparts_new(vl_client_t *client, const vl_kparts_opts_t *opts, vl_kparts_t **self_p);

/*  Stops every thread and frees (NULL-safe). Callbacks of calls still
    pending are not run: the caller frees their arguments afterwards. */
void vl_kparts_destroy(vl_kparts_t **self_p);

/*  A file descriptor that becomes readable when callbacks are ready. */
int vl_kparts_fd(vl_kparts_t *self);

/*  Runs the ready callbacks (loop thread). */
void vl_kparts_dispatch(vl_kparts_t *self);

/*  ---- blocking calls off the loop --------------------------------------- */

/*  Runs work(arg, client) on a worker thread with a client of the module
    (it may block on the cluster: vl_topic_info, vl_topic_create, vl_trim,
    ...), then done(arg) on the loop thread. */
typedef void(vl_kparts_work_fn)(void *arg, vl_client_t *client);
typedef void(vl_kparts_done_fn)(void *arg);
void vl_kparts_run(vl_kparts_t *self, vl_kparts_work_fn *work, vl_kparts_done_fn *done, void *arg);

/*  ---- produce ------------------------------------------------------------ */

typedef struct {
    int64_t producer_id;   /* -1: not idempotent (the other fields unused) */
    int16_t producer_epoch;
    int32_t base_sequence;
} vl_kproducer_t;

/*  kerr 0 and the Kafka offset of the first entry, or a Kafka error code
    and a message saying what failed and what to do. */
typedef void(vl_kparts_produce_cb_t)(void *arg, int16_t kerr, int64_t base_offset,
                                     const char *msg);

/*  Appends the n stored entries (data[i], len[i], copied) to varlog topic
    `topic` as one batch: committed in order with contiguous offsets, then
    cb. With an idempotent producer (prod not NULL, producer_id >= 0) a
    batch whose (producer id, epoch, base sequence, n) this partition has
    already committed is answered with its original base offset and not
    appended again; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, an
    older epoch INVALID_PRODUCER_EPOCH, an id never allocated
    UNKNOWN_PRODUCER_ID. Batches of one partition are committed in the
    order of the calls. */
void vl_kparts_produce(vl_kparts_t *self, const char *topic, const vl_kproducer_t *prod,
                       const void *const *data, const size_t *len, size_t n,
                       vl_kparts_produce_cb_t *cb, void *arg);

/*  With several gateways: this gateway owns topic in the gateways' view of
    epoch view_epoch (kov/gw.c), said before each produce to it. When the
    epoch is not the one of the last produce here, the partition may have
    had another owner in between (this gateway was declared expired and
    came back, say), which wrote batches of the same idempotent producers:
    what this gateway knew of their sequences is forgotten, and their next
    batches are looked up in the log first, as after a takeover. */
void vl_kparts_owner_epoch(vl_kparts_t *self, const char *topic, uint64_t view_epoch);

/*  InitProducerId: a new producer id (durable in the meta topic before it
    is handed out, so no id is ever given twice) and epoch 0. */
typedef void(vl_kparts_pid_cb_t)(void *arg, int16_t kerr, int64_t producer_id, int16_t epoch);
void vl_kparts_init_pid(vl_kparts_t *self, vl_kparts_pid_cb_t *cb, void *arg);

/*  ---- fetch -------------------------------------------------------------- */

typedef struct {
    int64_t high_watermark; /* next Kafka offset to be written */
    int64_t log_start;      /* first Kafka offset still kept */
} vl_kmarks_t;

/*  kerr 0 with zero or more RecordBatch v2 bytes (records, len; borrowed,
    valid during the call) holding the entries from the fetch offset on,
    or OFFSET_OUT_OF_RANGE (offset below log_start or above the
    high watermark) / UNKNOWN_TOPIC_OR_PARTITION / another code with msg.
    marks are the partition's at the time of the read; every offset below
    marks->high_watermark is readable at once (read-your-writes: a produce
    answered before the fetch is below it). */
typedef void(vl_kparts_fetch_cb_t)(void *arg, int16_t kerr, const vl_kmarks_t *marks,
                                   const uint8_t *records, size_t len, const char *msg);

/*  Reads what is committed of topic from Kafka offset `offset` on, at most
    max_bytes of batches (but at least one entry when one is there, as
    Kafka does), and calls cb. Never waits for new entries: long polls use
    vl_kparts_watch. */
void vl_kparts_fetch(vl_kparts_t *self, const char *topic, int64_t offset, size_t max_bytes,
                     vl_kparts_fetch_cb_t *cb, void *arg);

/*  The marks of topic (ListOffsets): cb with kerr 0 and marks, or an error. */
typedef void(vl_kparts_marks_cb_t)(void *arg, int16_t kerr, const vl_kmarks_t *marks,
                                   const char *msg);
void vl_kparts_marks(vl_kparts_t *self, const char *topic, vl_kparts_marks_cb_t *cb, void *arg);

/*  Calls cb(arg) once, on the loop thread, as soon as an entry at Kafka
    offset >= offset of topic is committed (at once if one already is), or
    the topic is gone. Returns a handle for vl_kparts_unwatch, which must be
    called before arg goes away unless cb has run. */
typedef void(vl_kparts_watch_cb_t)(void *arg);
vl_kwatch_t *vl_kparts_watch(vl_kparts_t *self, const char *topic, int64_t offset,
                             vl_kparts_watch_cb_t *cb, void *arg);
void vl_kparts_unwatch(vl_kparts_t *self, vl_kwatch_t **watch_p);

/*  ---- counters ----------------------------------------------------------- */

typedef struct {
    uint64_t produce_batches;  /* appended (retries answered without appending: dups) */
    uint64_t produce_records;
    uint64_t produce_dups;     /* idempotent retries answered with their original offset */
    uint64_t fetch_window;     /* fetches answered from a tail window (memory) */
    uint64_t fetch_catchup;    /* ... by a catch-up reader (a worker, storage nodes) */
    uint64_t catchup_opened;   /* subscriptions the catch-up readers opened (the others
                                  continued one where it stopped) */
    uint64_t followers;        /* following subscribers started */
} vl_kparts_stats_t;

/*  The module's counters since vl_kparts_new (loop thread). */
void vl_kparts_stats(vl_kparts_t *self, vl_kparts_stats_t *stats);

#endif
