/*  writer.h - the storage node's writer thread (vl_writer_*).

    The server never writes to disk itself: it submits jobs (entries to
    store, a commit range, a trim, the deletion of a log stream) and goes on
    serving. The writer thread group-commits: it drains every job queued so
    far into one RocksDB WriteBatch, adds the new state of every replica the
    jobs touched, writes the batch (fsynced when any job asks for it) and
    hands the jobs back, as one linked list, through its socket.

    The writer keeps its own copy of every replica's state, loaded from the
    store at start, and checks each job against it (a write must begin at
    llsn_end + 1, a commit range at applied_llsn_end + 1): a job that does
    not fit fails alone with VL_EGAP and writes nothing, so the store never
    gets a hole even when an earlier batch failed. Each returned job carries
    the replica's state after its batch: what is durable.
*/
#ifndef VL_SN_WRITER_H
#define VL_SN_WRITER_H
#include <czmq.h>
#include "store.h"
#include "wire.h"

typedef struct vl_writer vl_writer_t;

typedef enum {
    VL_WRITER_WRITE = 1, /* entries llsn_begin.. (one buffer + sizes) */
    VL_WRITER_COMMIT,    /* commit range + topic HWM after it */
    VL_WRITER_TRIM,      /* delete below trim_glsn */
    VL_WRITER_DELETE,    /* delete the whole replica */
    VL_WRITER_TRUNCATE,  /* discard entries past llsn_end (a seal) */
    VL_WRITER_BASE       /* start the replica over at llsn_end (a sync of a
                            trimmed log stream, see server.c) */
} vl_writer_kind_t;

typedef struct vl_writer_job vl_writer_job_t;
struct vl_writer_job {
    int kind;
    uint32_t topic_id, ls_id;
    bool sync;              /* WRITE: fsync before reporting it done */
    uint64_t llsn_begin;    /* WRITE */
    uint32_t n;             /* WRITE: number of entries */
    uint64_t bytes;         /* WRITE: sum of their sizes */
    uint64_t bytes_before;  /* WRITE: bytes of entries 1..llsn_begin-1 (for
                               the caller; the writer keeps its own count) */
    uint8_t *sizes;         /* WRITE: n sizes, u32 little endian (as the
                               REPLICATE body carries them) */
    zframe_t *data;         /* WRITE: the n entries back to back (bytes
                               bytes): the payload frame, forwarded as is;
                               the submitter checked that the sizes add up
                               to it (vl_wire_payload), the store keeps
                               them as one value */
    uint8_t *bids;          /* WRITE: nbids batch names (vl_wire_bid
                               records) stored with the entries */
    uint32_t nbids;
    vl_store_range_t range; /* COMMIT */
    uint64_t hwm;           /* COMMIT */
    uint64_t trim_glsn;     /* TRIM (may be repeated: a trim deletes what
                               is stored at the time it runs); BASE: the
                               trim point the base comes from */
    uint64_t llsn_end;      /* TRUNCATE: keep entries 1..llsn_end; BASE:
                               the replica starts over after llsn_end
                               (trimmed and committed, none stored) */
    uint64_t bytes_end;     /* TRUNCATE: their bytes (the MR's count);
                               BASE: the bytes of entries 1..llsn_end */
    bool fault;             /* tests: fail the job as a disk error would */

    /* Filled by the writer. */
    int rc;
    char errmsg[256];
    vl_store_state_t state; /* the replica's state after the batch */

    /* The caller's, never touched by the writer: where to answer. */
    zframe_t *reply_to;
    vl_hdr_t req;
    uint64_t tag; /* WRITE of an append: the append's sequence number */
    int64_t queued_us;

    vl_writer_job_t *next; /* done list */
};

/*  A new job of kind (caller owns it until submitted). */
vl_writer_job_t *vl_writer_job_new(int kind, uint32_t topic_id, uint32_t ls_id);
/*  Frees a job and what it holds (sizes, data, bids, reply_to). NULL-safe. */
void vl_writer_job_destroy(vl_writer_job_t **job_p);

/*  Starts the writer thread on store (borrowed; must outlive the writer).
    Returns 0 or the store's error when the replica states cannot be read.
    Caller owns *writer_p. */
int vl_writer_new(vl_store_t *store, vl_writer_t **writer_p);
/*  Stops the thread once it has written every job submitted before, and
    frees the jobs that come back without being read. NULL-safe. */
void vl_writer_destroy(vl_writer_t **self_p);

/*  Queues a job; the writer owns it until it comes back from
    vl_writer_done. Returns 0, or VL_EIO when the queue refused it (the
    caller still owns the job then). */
int vl_writer_submit(vl_writer_t *self, vl_writer_job_t *job);

/*  The socket that becomes readable when jobs are done (for a zloop). */
zsock_t *vl_writer_sock(vl_writer_t *self);

/*  Receives one list of done jobs, in submission order, linked by next
    (caller owns them). NULL when nothing could be received. */
vl_writer_job_t *vl_writer_done(vl_writer_t *self);

#endif
