/*  varlog.h - libvarlog, the client library of varlog.

    A varlog cluster keeps topics: totally ordered logs. Every entry of a
    topic gets a GLSN (1, 2, 3, ... without holes) and a byte offset (the sum
    of the sizes of the entries before it) when the metadata repository
    commits it. This library appends entries, reads them back in GLSN order
    (optionally following new commits), looks entries up by byte offset and
    trims prefixes.

    Errors: every fallible call returns 0 or a positive VL_E* code (see
    varlog_err.h); vl_client_errmsg() gives the last detailed message of the
    calling thread's last failed call on that client (including failures of
    vl_appender_flush and vl_subscriber_next on objects made from it).

    Threads: a vl_client_t may be shared by threads (its calls are
    serialised); a vl_appender_t may be shared by threads; a vl_subscriber_t
    belongs to one thread at a time.
*/
#ifndef VARLOG_H
#define VARLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "varlog_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vl_client vl_client_t;
typedef struct vl_appender vl_appender_t;
typedef struct vl_subscriber vl_subscriber_t;

/*  ---- cluster ------------------------------------------------------------ */

typedef struct {
    int timeout_ms; /* per request; 0 means the default of 5000 */
} vl_client_opts_t;

/*  Connects to the cluster whose metadata repository listens at mr_endpoints
    (comma-separated ZeroMQ endpoints, "tcp://127.0.0.1:9092") and fetches
    the metadata. opts may be NULL. On failure *client_p is NULL and errbuf
    (when not NULL) holds the reason. Caller owns the result. */
int vl_client_open(const char *mr_endpoints, const vl_client_opts_t *opts,
                   vl_client_t **client_p, char *errbuf, size_t errbuf_size);

/*  Closes the client (NULL-safe) and sets *client_p to NULL. Appenders and
    subscribers made from it must be destroyed first. */
void vl_client_destroy(vl_client_t **client_p);

/*  The detailed message of the last failed call ("append topic=app ls=2:
    log stream is sealed"). Valid until the next call on the client. */
const char *vl_client_errmsg(vl_client_t *client);

/*  ---- topics --------------------------------------------------------------- */

typedef struct {
    uint32_t topic_id;
    char name[256];
    uint32_t replication_factor;
    uint32_t nls;          /* number of log streams */
    uint32_t ls_ids[64];   /* the first 64 of them */
    uint64_t hwm;          /* last committed GLSN, 0 when empty */
    uint64_t end_offset;   /* bytes committed through hwm */
    uint64_t trim_glsn;    /* first GLSN still kept */
    uint64_t trim_offset;  /* its byte offset */
} vl_topic_info_t;

/*  Fetches fresh metadata of topic name from the MR. VL_ENOTOPIC if none. */
int vl_topic_info(vl_client_t *client, const char *name, vl_topic_info_t *info);

/*  Lists topics: fills up to max infos, sets *n to the number of topics. */
int vl_topic_list(vl_client_t *client, vl_topic_info_t *infos, size_t max, size_t *n);

/*  Creates a topic with nls log streams of replication factor rf
    (0 = defaults: 1 log stream per storage node up to 3, rf 1).
    *topic_id may be NULL. */
int vl_topic_create(vl_client_t *client, const char *name, uint32_t nls, uint32_t rf,
                    uint32_t *topic_id);

/*  Deletes a topic and all its entries. */
int vl_topic_delete(vl_client_t *client, const char *name);

/*  ---- append ------------------------------------------------------------------ */

/*  Appends n entries (data[i], len[i]) to topic as one batch and waits until
    they are committed. ls_id 0 picks a running log stream (round robin) and,
    when it turns out sealed, sends what it did not commit to another one. On
    success glsns (when not NULL, n slots) receives the GLSN of each entry.
    On error the entries with a non-zero glsns[i] are in the log (a seal
    may commit the head of a batch) and the others are not, except after
    VL_ETIMEDOUT. A batch that gets no reply within the timeout is not
    sent again blindly: the call asks the log stream's replicas what became
    of it (the replicas keep each batch's name with its entries) and, once
    the log stream is sealed, sends only what is not in the log elsewhere.
    VL_ETIMEDOUT means the log stream was not sealed within twice the
    timeout (at least 10 s) more: the batch may still be committed later. */
int vl_append(vl_client_t *client, const char *topic, uint32_t ls_id, const void *const *data,
              const size_t *len, size_t n, uint64_t *glsns);

/*  Called once per entry handed to vl_appender_append, in append order,
    from the appender's thread: rc is 0 and glsn set when committed, or the
    VL_E* code of the failure (glsn 0). offset is UINT64_MAX: append replies
    carry GLSNs only (vl_lookup_offset and subscribers know offsets). GLSNs
    of consecutive entries grow within a batch but not necessarily across
    batches sent to different log streams. Must not block for long and must
    not call vl_appender_flush or vl_appender_destroy. */
typedef void(vl_append_cb_t)(void *arg, int rc, uint64_t glsn, uint64_t offset);

/*  The same for n consecutive entries handed over with one cb_arg that had
    one outcome (rc; no GLSNs): a caller that only counts completions pays
    one call per batch, not one per entry. */
typedef void(vl_append_count_cb_t)(void *arg, int rc, size_t n);

typedef struct {
    uint32_t ls_id;        /* 0: round robin over the topic's log streams;
                              else only this one, and a batch it refuses
                              (sealed) fails */
    size_t batch_bytes;    /* flush a batch at this size (default 256 KiB) */
    size_t batch_entries;  /* ... or this many entries (default 1024) */
    int linger_us;         /* ... or after this long (default 200; <0: none) */
    int pipeline;          /* batches in flight per log stream (default 8) */
    int timeout_ms;        /* per batch, default 5000 */
    bool sticky;           /* with ls_id 0: every batch to one log stream
                              (picked at random among the running ones), so
                              entries are committed in append order; when it
                              is sealed, move to another one, in order */
    vl_append_count_cb_t *count_cb; /* if set, called instead of the
                              appender's cb: one call per run of entries */
    bool stop_on_error;    /* with sticky: after a failed batch, every later
                              entry fails unsent (VL_ECLOSED) until
                              vl_appender_flush has returned the error
                              (without it: until the batches sent before
                              are all settled) */
} vl_appender_opts_t;

/*  Starts an asynchronous appender for topic (a thread of its own with its
    own connections to the primaries). opts may be NULL, cb may be NULL.
    VL_ENOTOPIC, VL_ENOLS (opts->ls_id unknown) or VL_ESEALED (no running log
    stream). Caller owns the result. */
int vl_appender_new(vl_client_t *client, const char *topic, const vl_appender_opts_t *opts,
                    vl_append_cb_t *cb, vl_appender_t **app_p);

/*  Queues one entry (copied) with its callback argument. Blocks while too
    much is in flight (64 MiB, or (pipeline x log streams + 2) x batch_entries
    entries not yet called back). Thread-safe. VL_ETOOBIG (no callback) when len is larger
    than the maximum entry size. */
int vl_appender_append(vl_appender_t *app, const void *data, size_t len, void *cb_arg);

/*  Queues n entries (copied: data[i] of len[i] bytes) with their callback
    arguments (cb_args[i]; cb_args may be NULL for all NULL), as n calls of
    vl_appender_append would, in that order and with a callback each, but
    with one lock, one clock read and one wake-up of the appender's thread
    for the whole call. Blocks while too much is in flight, like
    vl_appender_append; a call larger than what may be in flight is queued
    in parts as room frees up. Thread-safe; the entries of one call are
    contiguous in the append order unless it had to wait part way (another
    thread's entries may then come between the parts). VL_ETOOBIG (nothing
    queued, no callback) when an entry is larger than the maximum entry
    size.
    VL_ECLOSED when the appender is being destroyed: entries of the call
    queued before that get their callbacks (with VL_ECLOSED), the message
    says how many. */
int vl_appender_append_many(vl_appender_t *app, const void *const *data, const size_t *len,
                            size_t n, void *const *cb_args);

/*  The outcome of an atomic batch (vl_appender_append_batch), called once
    from the appender's thread, in append order with the appender's other
    callbacks: rc 0 when its n entries are committed at GLSNs first_glsn ..
    first_glsn + n - 1; else the VL_E* code of the failure (message in
    msg, which vl_client_errmsg gives after vl_appender_flush too; "" on
    success) and committed, the number of
    its first entries that are in the log nonetheless (at first_glsn on; 0
    with storage nodes of this version, see below) and the others are not,
    except after VL_ETIMEDOUT (they may still be committed). Same rules as
    vl_append_cb_t: must not block for long nor flush or destroy. */
typedef void(vl_append_batch_cb_t)(void *arg, int rc, uint64_t first_glsn, size_t committed,
                                   const char *msg);

/*  Queues n entries (copied) as one atomic batch: they go in one APPEND to
    one log stream, all or none, after every entry queued before the call
    and before every entry queued after it, and are committed in one
    commit round at contiguous GLSNs, except when a backup far behind is
    caught up from its primary's store in chunks that may end inside the
    batch: its GLSNs may then not be contiguous, and it fails with
    VL_EPROTO (the entries are in the log). A batch a sealed log stream refused
    goes whole to another one (with sticky or ls_id 0); a head committed
    anyway (storage nodes older than this rule) is never sent again: the
    batch fails (cb with committed > 0). The appender's own callback
    (vl_append_cb_t or count_cb) is not called for these entries: cb(cb_arg,
    ...) is, once. Blocks while too much is in flight, like
    vl_appender_append. VL_ETOOBIG (nothing queued) when an entry is larger
    than the maximum entry size or the batch has more than 8192 entries or
    64 MiB; VL_EINVAL when n is 0 or cb NULL; VL_ECLOSED while the appender
    is being destroyed. Thread-safe. */
int vl_appender_append_batch(vl_appender_t *app, const void *const *data, const size_t *len,
                             size_t n, vl_append_batch_cb_t *cb, void *cb_arg);

/*  vl_appender_append_batch with the caller's name for the batch: every
    APPEND of it carries (name_client, name_seq), both non-zero, instead of
    the appender's own name, and the replicas keep that name with its
    entries, so that anyone can later ask whether it is in the log
    (vl_batch_find), e.g. a Kafka gateway that takes over a partition and
    gets a producer's retry of a batch another gateway may have written.
    The caller's rules: never two batches with one name, and the batches of
    one name_client to a topic in growing name_seq order (a search stops at
    an older batch of the same name_client). VL_EINVAL when either is 0. */
int vl_appender_append_batch_named(vl_appender_t *app, const void *const *data,
                                   const size_t *len, size_t n, uint64_t name_client,
                                   uint64_t name_seq, vl_append_batch_cb_t *cb, void *cb_arg);

/*  Looks for the batch named (name_client, name_seq) (see
    vl_appender_append_batch_named) among the newest batches of every log
    stream of topic, asking each one's primary. 0 with *n > 0 and
    *first_glsn when its n entries are committed at first_glsn .. first_glsn
    + n - 1; 0 with *n = 0 when no log stream holds it; VL_EBUSY when it is
    written but not wholly committed yet (ask again); another code when a
    primary could not be asked (the message says which). Bounded: each log stream's
    primary looks through its newest 65,536 batches at most and stops at
    an older batch of the same name_client, so a batch older than that is
    not found. A batch still on its way to the primary is not found either:
    ask only when its sender is known to be gone. Blocking. */
int vl_batch_find(vl_client_t *client, const char *topic, uint64_t name_client,
                  uint64_t name_seq, uint64_t *first_glsn, size_t *n);

/*  Waits until every entry queued before the call has had its callback.
    Returns 0, or the first error any entry got since the last flush (its
    message in vl_client_errmsg). A batch that a log stream refused because
    it is sealed (or no longer there) is sent again to another running log
    stream of the topic (unless opts->ls_id pinned one), only the entries
    that were not committed, so nothing is in the log twice. So is the
    part of a batch that got no reply which the replicas of its (by then
    sealed) log stream say is not in the log; a log stream with an
    unanswered batch gets new batches only when no other has room. A batch
    fails with VL_ETIMEDOUT only when its log stream was not sealed within
    twice the timeout (at least 10 s) after it: it may still be committed
    later. Entries that no running log stream takes within the timeout
    fail with VL_EUNAVAIL. */
int vl_appender_flush(vl_appender_t *app);

/*  Sends every entry queued before the call without waiting for linger_us
    (the open batch is closed now), and returns at once: for a caller that
    waits for its own callbacks (varlogfs's close waits for the lines of
    one descriptor) and must not pay the linger. */
void vl_appender_push(vl_appender_t *app);

/*  Flushes, stops and frees the appender (NULL-safe). No other thread may
    append while it runs (the appender is gone after it): entries appended
    meanwhile may be sent and still fail with VL_ECLOSED. */
void vl_appender_destroy(vl_appender_t **app_p);

/*  ---- subscribe ------------------------------------------------------------------ */

typedef struct {
    uint64_t glsn;
    uint64_t llsn;
    uint32_t ls_id;
    uint64_t offset;       /* byte offset of the entry in the topic */
    const void *data;      /* valid until the next call on the subscriber */
    size_t size;
} vl_entry_t;

/*  Opens a subscription to entries [glsn_begin, glsn_end) of topic in GLSN
    order. glsn_begin 0 means the trim point. glsn_end 0 means the high
    watermark at the time of the call; VL_GLSN_FOLLOW means never end (follow
    new commits). Reading from below the trim point fails with VL_ETRIMMED.
    Caller owns the result. */
#define VL_GLSN_FOLLOW UINT64_MAX
int vl_subscribe(vl_client_t *client, const char *topic, uint64_t glsn_begin, uint64_t glsn_end,
                 vl_subscriber_t **sub_p);

/*  Delivers the next entry. Waits at most timeout_ms (-1: forever) and
    returns VL_ETIMEDOUT when nothing came (also early, when a signal
    interrupted the wait and CZMQ's zsys_interrupted is set); VL_EEOF after
    the last entry of a bounded range; another code when a stream failed
    (VL_ETRIMMED, VL_ENOTOPIC, VL_EPROTO, ...), which every later call
    returns too. */
int vl_subscriber_next(vl_subscriber_t *sub, vl_entry_t *entry, int timeout_ms);

/*  Closes the subscription (NULL-safe). */
void vl_subscriber_destroy(vl_subscriber_t **sub_p);

/*  Finds the committed entry of topic that holds byte offset: its GLSN and
    its own offset (<= offset). VL_ERANGE when offset >= end offset,
    VL_ETRIMMED when the byte is trimmed. */
int vl_lookup_offset(vl_client_t *client, const char *topic, uint64_t offset, uint64_t *glsn,
                     uint64_t *entry_offset);

/*  ---- trim ---------------------------------------------------------------------- */

/*  Deletes entries 1..glsn of topic (the trim point becomes glsn+1).
    VL_ERANGE when glsn is beyond the high watermark; trimming at or below
    the current trim point does nothing. */
int vl_trim(vl_client_t *client, const char *topic, uint64_t glsn);

#ifdef __cplusplus
}
#endif
#endif
