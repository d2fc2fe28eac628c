/*  wire.h - the varlog wire protocol (private to the project).

    Every message is a ZeroMQ multipart message:

        frame 0   header, 24 bytes, little endian:
                  magic u32 "VLOG" | version u16 | type u16 | request_id u64
                  | cluster_id u32 | status u32
        frame 1   body: the fields of the message type, little endian, in the
                  order the structs below list them (strings are u16 length
                  + bytes, arrays are u32 count + items)
        frame 2   payload (APPEND, REPLICATE, SUBSCRIBE data): the bytes of
                  the batch's entries back to back, one frame per message
                  whatever the entry count; the body carries each entry's
                  size (u32). Absent when the batch has no entries. One
                  frame, not one per entry: a frame costs an allocation, a
                  copy and a send, which dominated the data path.

    A reply has type (request type | VL_MSG_REPLY) and the request's
    request_id. A reply with status != 0 carries a one-string body, the error
    message. Requests and replies are pipelined over DEALER/ROUTER sockets.

    Every decoder checks every length against what is left of the frame and
    every count against the limits below before it allocates, so no input can
    make a daemon read out of bounds or allocate without bound.
*/
#ifndef VL_WIRE_H
#define VL_WIRE_H
#include <endian.h>
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "util.h"
#include "varlog_err.h"

#define VL_WIRE_MAGIC 0x474f4c56u /* "VLOG" read as little endian u32 */
#define VL_WIRE_VERSION                                                                            \
    7 /* 2: one payload frame per batch (was one per entry);                                       \
         3: batch identities on APPEND and REPLICATE;                                              \
         4: the MR leader's raft term on COMMIT and META;                                          \
         5: a storage node's disk fault in SN_STATUS;                                              \
         6: the log stream's epoch on APPEND;                                                      \
         7: idempotent APPEND (a resent name is answered, not appended) */
#define VL_WIRE_HDR_SIZE 24
#define VL_WIRE_MAX_BODY (16u << 20)
#define VL_WIRE_MAX_ENTRIES 8192               /* entries (and GLSN runs) in one message */
#define VL_WIRE_MAX_FRAMES VL_WIRE_MAX_ENTRIES /* the name of version 1 */
/*  Bytes of the entries of one APPEND a client sends (its payload frame).
    ZeroMQ's maximum message size applies to each frame, so a storage node
    must take frames of this size; a client splits larger batches. */
#define VL_WIRE_MAX_PAYLOAD (64u << 20)
#define VL_WIRE_MAX_REPLICAS 7
#define VL_WIRE_MAX_NAME 255
#define VL_WIRE_MAX_ADDR 255
#define VL_WIRE_MAX_MEMBERS 16 /* MR replicas (raft members) in one message */
#define VL_MAX_ENTRY_SIZE_DEFAULT (1u << 20)
#define VL_GLSN_MAX UINT64_MAX /* glsn_end of a subscription that follows */

typedef enum {
    VL_MSG_HELLO = 1,    /* SN -> MR: I am addr; reply: sn id + META body */
    VL_MSG_REPORT,       /* SN -> MR: replica ends, no reply */
    VL_MSG_COMMIT,       /* MR -> SN: commit results, no reply */
    VL_MSG_META,         /* MR -> SN push (no reply); body of GET_META reply */
    VL_MSG_GET_META,     /* client/adm -> MR: empty body; reply META body */
    VL_MSG_CREATE_TOPIC, /* admin: name, nls, rf; reply id = topic id */
    VL_MSG_DELETE_TOPIC, /* admin: name */
    VL_MSG_ADD_SN,       /* admin: addr; reply id = sn id */
    VL_MSG_REMOVE_SN,    /* admin: id */
    VL_MSG_ADD_LS,       /* admin: name; reply id = ls id */
    VL_MSG_TRIM,         /* client -> MR: id = topic, glsn = new trim point, offset */
    VL_MSG_APPEND,       /* client -> primary SN; reply append reply */
    VL_MSG_SUBSCRIBE,    /* client -> SN; replies are sub data, many */
    VL_MSG_SUB_CREDIT,   /* client -> SN, same request_id as the SUBSCRIBE */
    VL_MSG_SUB_CANCEL,   /* client -> SN, same request_id; no reply */
    VL_MSG_LOOKUP,       /* client -> SN: entry at a byte offset */
    VL_MSG_REPLICATE,    /* primary SN -> backup SN */
    VL_MSG_SN_STATUS,    /* adm/ctl -> SN: replicas and disk */
    VL_MSG_PING,         /* anyone -> anyone: empty both ways */
    VL_MSG_STATUS,       /* ctl -> adm: reply META body with alive flags */
    VL_MSG_SEAL,         /* admin: name = topic, id = ls, sn_from = the down node
                            when varlogadm seals by itself (0: by hand);
                            reply seal reply */
    VL_MSG_UNSEAL,       /* admin: name = topic, id = ls; reply id = ls */
    VL_MSG_UPDATE_LS,    /* admin: name, id = ls, sn_from -> sn_to; reply id = ls */
    VL_MSG_SYNC,         /* ctl -> adm: name, id = ls (0: every sealed one),
                            sn_from, sn_to (0: choose); reply sync reply */
    VL_MSG_SN_SYNC,      /* adm -> source SN: vl_sync_t; empty reply */
    VL_MSG_BATCH_STATUS, /* client -> SN: what became of a batch; vl_batch_status_t */
    VL_MSG_MR_STATUS,    /* ctl -> adm -> MR leader: empty; reply vl_mr_status_t */
    VL_MSG_MR_ADD,       /* ctl -> adm -> MR leader: vl_mr_member_t (id, raft_addr,
                            endpoint); reply vl_mr_status_t once it is a voter */
    VL_MSG_MR_REMOVE,    /* ctl -> adm -> MR leader: vl_mr_id_t; reply vl_mr_status_t */
    VL_MSG_MR_TRANSFER,  /* ctl -> adm -> MR leader: vl_mr_id_t (0: the most
                            up-to-date voter); reply vl_mr_status_t */
    VL_MSG_TYPE_MAX
} vl_msg_type_t;
#define VL_MSG_REPLY 0x8000

typedef struct {
    uint16_t type;
    uint64_t request_id;
    uint32_t cluster_id;
    uint32_t status;
} vl_hdr_t;

/*  ---- body writer / reader ------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} vl_wbuf_t;

void vl_wbuf_init(vl_wbuf_t *b);
void vl_wbuf_free(vl_wbuf_t *b);
/*  Makes room for n more bytes without adding any. */
void vl_wbuf_reserve(vl_wbuf_t *b, size_t n);
void vl_wbuf_str(vl_wbuf_t *b, const char *s);                /* u16 length + bytes */
void vl_wbuf_mem(vl_wbuf_t *b, const void *data, size_t len); /* raw bytes */

/*  The fixed-size fields are written and read inline, the buffer grown
    and a short read failed out of line: a commit round of 1,000 log
    streams encodes and decodes thousands of fields, and as calls they
    were 7 % of the MR's CPU under vl_mrload (perf). */
uint8_t *vl_wbuf_grow_slow(vl_wbuf_t *b, size_t n);

/* n more bytes at the end, to be written at the pointer returned (valid until
   the next write) */
static inline uint8_t *vl_wbuf_grow(vl_wbuf_t *b, size_t n)
{
    if (n > b->cap - b->len)
        return vl_wbuf_grow_slow(b, n);
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

static inline void vl_wbuf_u8(vl_wbuf_t *b, uint8_t v)
{
    *vl_wbuf_grow(b, 1) = v;
}

static inline void vl_wbuf_u16(vl_wbuf_t *b, uint16_t v)
{
    vl_put_le16(vl_wbuf_grow(b, 2), v);
}

static inline void vl_wbuf_u32(vl_wbuf_t *b, uint32_t v)
{
    vl_put_le32(vl_wbuf_grow(b, 4), v);
}

static inline void vl_wbuf_u64(vl_wbuf_t *b, uint64_t v)
{
    vl_put_le64(vl_wbuf_grow(b, 8), v);
}

/*  A reader over borrowed bytes. The first failure (short read, overlong
    string) sets err and makes every later read return 0 / "". */
typedef struct {
    const uint8_t *p;
    size_t left;
    int err;
} vl_rbuf_t;

void vl_rbuf_init(vl_rbuf_t *r, const void *data, size_t len);
/*  Copies a string of at most max bytes into out (size max + 1). */
void vl_rbuf_str(vl_rbuf_t *r, char *out, size_t max);
/*  Reads an array count and fails unless count <= max and count items of
    item_size bytes can still follow. */
uint32_t vl_rbuf_count(vl_rbuf_t *r, uint32_t max, size_t item_size);
/* n raw bytes: a pointer into the buffer (NULL, and the cursor failed, when
   fewer are left) */
static inline const uint8_t *vl_rbuf_take(vl_rbuf_t *r, size_t n)
{
    if (r->err || r->left < n) {
        r->err = VL_EPROTO;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static inline uint8_t vl_rbuf_u8(vl_rbuf_t *r)
{
    const uint8_t *p = vl_rbuf_take(r, 1);
    return p ? *p : 0;
}

static inline uint16_t vl_rbuf_u16(vl_rbuf_t *r)
{
    const uint8_t *p = vl_rbuf_take(r, 2);
    return p ? vl_get_le16(p) : 0;
}

static inline uint32_t vl_rbuf_u32(vl_rbuf_t *r)
{
    const uint8_t *p = vl_rbuf_take(r, 4);
    return p ? vl_get_le32(p) : 0;
}

static inline uint64_t vl_rbuf_u64(vl_rbuf_t *r)
{
    const uint8_t *p = vl_rbuf_take(r, 8);
    return p ? vl_get_le64(p) : 0;
}

/*  ---- framing ------------------------------------------------------------ */

/*  Builds a message of header + body. Caller owns the result; payload frames
    may be appended with zmsg_append. body may be NULL (empty body). */
zmsg_t *vl_wire_msg(const vl_hdr_t *hdr, const vl_wbuf_t *body);

/*  Builds the reply to req with status and an empty body, or, when status is
    not 0, a body holding the formatted message. Caller owns the result. */
zmsg_t *vl_wire_reply(const vl_hdr_t *req, uint32_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  Checks and decodes frames 0 and 1 of msg (which stays the caller's):
    magic, version, type, sizes, frame count (at most one payload frame).
    On success fills hdr and points body at frame 1 (borrowed from msg).
    Returns VL_EPROTO or VL_EVERSION with hdr filled as far as it could be
    (so an error reply can be sent). */
int vl_wire_parse(zmsg_t *msg, vl_hdr_t *hdr, vl_rbuf_t *body);

/*  Checks the payload of a batch of n entries whose sizes, read from the
    body of msg, sum to sum (add them in 64 bits: vl_wire_sizes_sum; n <=
    VL_WIRE_MAX_ENTRIES sizes of 32 bits cannot overflow it): exactly one
    payload frame (none when n == 0) of exactly sum bytes. Then no entry
    reaches past the frame. On success *data_p is that frame (borrowed
    from msg; NULL when n == 0). Returns 0 or VL_EPROTO with what is wrong
    in why. */
int vl_wire_payload(zmsg_t *msg, uint32_t n, uint64_t sum, zframe_t **data_p, char *why,
                    size_t why_size);

/*  Size i of an array of sizes read from (or written to) a body. */
static inline uint32_t vl_wire_size(const uint8_t *sizes, uint32_t i)
{
    uint32_t v;
    memcpy(&v, sizes + 4 * (size_t)i, sizeof v);
    return le32toh(v);
}
/*  The sum of n sizes of such an array, in 64 bits. */
uint64_t vl_wire_sizes_sum(const uint8_t *sizes, uint32_t n);

/*  Sends msg (taken, destroyed in every case) over a ROUTER to the peer
    whose routing id is rid (borrowed, copied). A ROUTER never blocks: a
    vanished or full peer loses the message, and the protocol recovers it
    (retries, resends). Returns 0, or -1 when the message was dropped. */
int vl_wire_send_to(zsock_t *router, zframe_t *rid, zmsg_t **msg_p);

/*  The error text of a reply whose status is not 0 (copied into out). */
void vl_wire_errtext(vl_rbuf_t *body, char *out, size_t size);

/*  Name of a message type, for logs. */
const char *vl_wire_type_name(uint16_t type);

/*  ---- message bodies ----------------------------------------------------- */

/*  Every decode returns 0 or VL_EPROTO and never allocates more than the body
    proves can be there. Arrays inside decoded structs are the caller's:
    free them with the matching _free. */

/* REPORT: sn_id u32, items[] {ls_id u32, llsn_end u64, bytes_end u64,
   applied_llsn_end u64, state u8}. llsn_end is the last LLSN durable on the
   replica, bytes_end the sum of the sizes of entries 1..llsn_end,
   applied_llsn_end the last LLSN whose commit the replica has stored, state
   the log stream state the replica has applied (VL_LS_SEALED: it knows the
   seal and holds nothing beyond the sealed end). */
typedef struct {
    uint32_t ls_id;
    uint64_t llsn_end, bytes_end, applied_llsn_end;
    uint8_t state;
} vl_report_item_t;
typedef struct {
    uint32_t sn_id;
    uint32_t n;
    vl_report_item_t *items;
} vl_report_t;
void vl_report_encode(const vl_report_t *m, vl_wbuf_t *b);
int vl_report_decode(vl_rbuf_t *r, vl_report_t *m);
void vl_report_free(vl_report_t *m);

/* COMMIT: term u64, version u64, items[] {topic_id u32, ls_id u32,
   llsn_begin u64, glsn_begin u64, count u64, offset_begin u64, bytes u64,
   hwm u64, end_offset u64}: entries llsn_begin.. llsn_begin+count-1 of the
   log stream got GLSNs glsn_begin.. and occupy bytes [offset_begin,
   offset_begin+bytes) of the topic; hwm/end_offset are the topic's after
   this commit. term is the raft term of the MR leader that sent it (a
   storage node applies nothing from a term older than one it has seen),
   version the commit round that committed the items (a resend keeps it). */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t llsn_begin, glsn_begin, count, offset_begin, bytes, hwm, end_offset;
} vl_commit_item_t;
typedef struct {
    uint64_t term, version;
    uint32_t n;
    vl_commit_item_t *items;
} vl_commit_t;
void vl_commit_encode(const vl_commit_t *m, vl_wbuf_t *b);
int vl_commit_decode(vl_rbuf_t *r, vl_commit_t *m);
void vl_commit_free(vl_commit_t *m);

/* META: cluster_id u32, version u64, term u64, sn_id u32 (the receiver's id
   in a HELLO reply, else 0), sns[] {id u32, addr str, alive u8}, topics[] {id
   u32, name str, rf u32, hwm u64, end_offset u64, trim_glsn u64, trim_offset
   u64, ls[] {id u32, state u8, replicas[] sn_id u32, committed_llsn_end u64,
   committed_bytes u64, epoch u32}}. trim_glsn is the first GLSN still kept
   (1 before any trim), trim_offset its byte offset. committed_llsn_end is
   the log stream's last committed LLSN and committed_bytes the bytes of its
   entries 1..committed_llsn_end: for a sealed log stream, its sealed end.
   epoch counts the log stream's seals and unseals (the MR bumps it at
   each): LLSNs past a sealed end are reused after the unseal, so
   replication messages carry it and a replica refuses those of another
   epoch. term is the raft term of the MR leader that sent it: (term,
   version) orders METAs, and storage nodes and clients ignore one older
   than the newest they applied (doc/DESIGN.md "Fencing"). Then
   members[] {raft id u64, endpoint str}: the client endpoints
   of the MR's voting replicas (replicated by the MR, so every replica
   gives the same list): a user that was given one endpoint learns the
   others (lib/mrconn.h vl_mrconn_learn). The section is written only when
   the list is not empty and read only when bytes remain; an MR always
   names at least itself. */
typedef enum {
    VL_LS_RUNNING = 0,
    VL_LS_SEALING,
    VL_LS_SEALED,
    VL_LS_UNSEALING,
    VL_LS_DELETED
} vl_ls_state_t;
typedef struct {
    uint32_t id;
    char addr[VL_WIRE_MAX_ADDR + 1];
    uint8_t alive;
} vl_meta_sn_t;
typedef struct {
    uint32_t id;
    uint8_t state;
    uint32_t nrep;
    uint32_t replicas[VL_WIRE_MAX_REPLICAS];
    uint64_t committed_llsn_end, committed_bytes;
    uint32_t epoch;
    uint32_t seal_sn; /* SEALED by varlogadm because this storage node was
                         down (0: sealed by hand, or running) */
} vl_meta_ls_t;
typedef struct {
    uint32_t id;
    char name[VL_WIRE_MAX_NAME + 1];
    uint32_t rf;
    uint64_t hwm, end_offset, trim_glsn, trim_offset;
    uint32_t nls;
    vl_meta_ls_t *ls;
} vl_meta_topic_t;
typedef struct {
    uint64_t id;
    char endpoint[VL_WIRE_MAX_ADDR + 1];
} vl_meta_member_t;
typedef struct {
    uint32_t cluster_id;
    uint64_t version, term;
    uint32_t sn_id;
    uint32_t nsn;
    vl_meta_sn_t *sns;
    uint32_t ntopics;
    vl_meta_topic_t *topics;
    uint32_t nmembers; /* <= VL_WIRE_MAX_MEMBERS */
    vl_meta_member_t *members;
} vl_meta_t;
void vl_meta_encode(const vl_meta_t *m, vl_wbuf_t *b);
int vl_meta_decode(vl_rbuf_t *r, vl_meta_t *m);
void vl_meta_free(vl_meta_t *m);
/*  True when META m is older than one of (term, version): sent by the
    leader of an older term, or of the same term and an older version. */
static inline bool vl_meta_older(const vl_meta_t *m, uint64_t term, uint64_t version)
{
    return m->term < term || (m->term == term && m->version < version);
}
/*  Lookups in a decoded META (NULL when absent). */
const vl_meta_topic_t *vl_meta_topic_by_name(const vl_meta_t *m, const char *name);
const vl_meta_topic_t *vl_meta_topic_by_id(const vl_meta_t *m, uint32_t id);
const vl_meta_sn_t *vl_meta_sn_by_id(const vl_meta_t *m, uint32_t id);

/* Admin requests (CREATE_TOPIC, DELETE_TOPIC, ADD_SN, REMOVE_SN, ADD_LS,
   TRIM, SEAL, UNSEAL, UPDATE_LS, SYNC) share one body: name str, addr str,
   id u32, nls u32, rf u32, glsn u64, offset u64, sn_from u32, sn_to u32;
   each uses the fields its comment in vl_msg_type_t names. HELLO uses addr.
   Their replies: id u32 (the SEAL reply begins with it), SYNC: sync reply. */
typedef struct {
    char name[VL_WIRE_MAX_NAME + 1];
    char addr[VL_WIRE_MAX_ADDR + 1];
    uint32_t id, nls, rf;
    uint64_t glsn, offset;
    uint32_t sn_from, sn_to;
} vl_admin_t;
void vl_admin_encode(const vl_admin_t *m, vl_wbuf_t *b);
int vl_admin_decode(vl_rbuf_t *r, vl_admin_t *m);

/* APPEND: topic_id u32, ls_id u32, client_id u64, batch_seq u64, epoch
   u32, n u32, sizes n x u32 (the size of each entry); one payload frame
   follows, the n entries back to back (none when n == 0). epoch is the
   log stream's META epoch the client saw when it sent the batch: the
   primary refuses a batch of another epoch (VL_ESEALED, nothing written),
   so an APPEND that was on its way during a seal (queued in a socket while
   a link was cut) can never be written after the unseal, when its client
   has been told it is not in the log and sent it elsewhere. (client_id, batch_seq) names
   the batch (client_id 0: unnamed): the replicas keep the name with the
   entries, so that a client whose APPEND got no answer can ask what became
   of it (BATCH_STATUS). A client never sends two batches with one name, and
   sends its batches to one log stream in growing batch_seq order.
   REPLICATE: topic_id u32, ls_id u32, n u32, llsn_begin u64, bytes_before
   u64 (sum of the sizes of entries 1..llsn_begin-1), used by the backup to
   check the stream, epoch u32 (the sender's META epoch of the log stream;
   the receiver refuses another with VL_ESTALE), nbids u32, nbids batch
   names (vl_batch_id_t: llsn_begin u64, client_id u64, batch_seq u64, n
   u32, 28 bytes each; those of the named batches the entries belong to),
   then sizes n x u32 and the payload frame as APPEND. A name with
   client_id 0 and n 0 whose llsn_begin is the REPLICATE's is a base mark
   of a sync: the entries before llsn_begin are trimmed at the sender
   (batch_seq is its trim point), so a sealed destination that lacks them
   starts there (DESIGN.md "Seal, sync, unseal").
   sizes and bids are raw little-endian arrays (read them with
   vl_wire_size and vl_wire_bid): the decoder points them into the body
   (borrowed, no copy), the encoder copies them (NULL when the count is 0).
   Decoding checks only that n <= VL_WIRE_MAX_ENTRIES, nbids <= n + 1 and
   the arrays are there; vl_wire_payload checks the sizes against the
   payload. */
typedef struct {
    uint32_t topic_id, ls_id, n;
    uint64_t client_id, batch_seq;     /* APPEND only */
    uint64_t llsn_begin, bytes_before; /* REPLICATE only */
    uint32_t epoch;
    uint32_t nbids;                    /* REPLICATE only */
    const uint8_t *bids;               /* REPLICATE only */
    const uint8_t *sizes;
} vl_append_t;
void vl_append_encode(const vl_append_t *m, bool replicate, vl_wbuf_t *b);
int vl_append_decode(vl_rbuf_t *r, bool replicate, vl_append_t *m);

/* APPEND reply: llsn_begin u64, runs[] {glsn_begin u64, count u32}: the
   entries of the batch, in order, got these GLSN runs. REPLICATE reply:
   llsn_begin = the backup's durable end (LLSN), no runs; status VL_EGAP asks
   the primary to resend from llsn_begin+1. */
typedef struct {
    uint64_t glsn_begin;
    uint32_t count;
} vl_run_t;
typedef struct {
    uint64_t llsn_begin;
    uint32_t nruns;
    vl_run_t *runs;
} vl_append_reply_t;
void vl_append_reply_encode(const vl_append_reply_t *m, vl_wbuf_t *b);
int vl_append_reply_decode(vl_rbuf_t *r, vl_append_reply_t *m);
void vl_append_reply_free(vl_append_reply_t *m);

/*  A named batch as the replicas keep it: entries llsn_begin..+n-1 came in
    batch batch_seq of client client_id. */
typedef struct {
    uint64_t llsn_begin, client_id, batch_seq;
    uint32_t n;
} vl_batch_id_t;
#define VL_WIRE_BID_SIZE 28
void vl_wire_bid_put(uint8_t *p, const vl_batch_id_t *id);
void vl_wire_bid(const uint8_t *bids, uint32_t i, vl_batch_id_t *id);

/* BATCH_STATUS: topic_id u32, ls_id u32, client_id u64, batch_seq u64,
   llsn_hint u64 (the batch, if written, begins past this LLSN: the client
   knows an earlier batch of its own there; 0 when it knows none).
   Reply: final u8, found u8, n u32, then an append reply body (llsn_begin,
   GLSN runs of the committed entries of the batch, in order).
   - found: the replica holds n entries of the batch at llsn_begin.. and
     the runs cover those committed so far (all of them when final);
   - final: the replica holds exactly the sealed end of a sealed log
     stream and its commits, so the answer can never change: entries of
     the batch that it does not hold were discarded and will never be
     committed (with found 0: nothing of the batch is in the log);
   - neither: not here yet (the log stream runs: it may still come).
   A sealed replica behind the sealed end answers VL_EBUSY (ask another). */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t client_id, batch_seq, llsn_hint;
} vl_batch_status_t;
void vl_batch_status_encode(const vl_batch_status_t *m, vl_wbuf_t *b);
int vl_batch_status_decode(vl_rbuf_t *r, vl_batch_status_t *m);
typedef struct {
    uint8_t final, found;
    uint32_t n;
    vl_append_reply_t ar;
} vl_batch_status_reply_t;
void vl_batch_status_reply_encode(const vl_batch_status_reply_t *m, vl_wbuf_t *b);
int vl_batch_status_reply_decode(vl_rbuf_t *r, vl_batch_status_reply_t *m);

/* SUBSCRIBE: topic_id u32, ls_id u32, glsn_begin u64, glsn_end u64 (first
   GLSN not wanted; VL_GLSN_MAX follows new commits), credit u32 (data
   messages the SN may send before the next SUB_CREDIT). Entries of this log
   stream only, in GLSN order (credit must be >= 1). SUB_CREDIT: credit u32
   (0: a keepalive; the SN drops a subscription silent for 30 s). LOOKUP: topic_id,
   ls_id, offset in glsn_begin. */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t glsn_begin, glsn_end;
    uint32_t credit;
} vl_subscribe_t;
void vl_subscribe_encode(const vl_subscribe_t *m, vl_wbuf_t *b);
int vl_subscribe_decode(vl_rbuf_t *r, vl_subscribe_t *m);

/* SUBSCRIBE data (reply type): last u8 (1: the stream ends after this
   message), entries[] {glsn u64, llsn u64, offset u64, size u32}; one
   payload frame holds the entries' bytes back to back (none when there are
   no entries; check it with vl_wire_payload and the sum of the sizes). An
   error ends the stream: status != 0 with the message body. LOOKUP reply:
   last = found, one entry {glsn, llsn, offset, size = 0}, no payload. */
typedef struct {
    uint64_t glsn, llsn, offset;
    uint32_t size;
} vl_entry_pos_t;
typedef struct {
    uint8_t last;
    uint32_t n;
    vl_entry_pos_t *entries;
} vl_sub_data_t;
void vl_sub_data_encode(const vl_sub_data_t *m, vl_wbuf_t *b);
int vl_sub_data_decode(vl_rbuf_t *r, vl_sub_data_t *m);
void vl_sub_data_free(vl_sub_data_t *m);

/* SN_STATUS reply: addr str, disk_total u64, disk_free u64, fault u8 (1:
   a write to its disk failed and it has not recovered: disk full or an I/O
   error; the admin seals its log streams), fault_why str, replicas[]
   {topic_id u32, ls_id u32, llsn_end u64, bytes_end u64, committed_llsn_end
   u64, committed_glsn_end u64, trim_glsn u64, state u8}. state is the
   replica's own: RUNNING, SEALED (in line with the sealed end) or SEALING
   (sealed, but behind the sealed end or still discarding beyond it). */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t llsn_end, bytes_end, committed_llsn_end, committed_glsn_end, trim_glsn;
    uint8_t state;
} vl_sn_replica_t;
#define VL_WIRE_MAX_FAULT 200
/*  SN_STATUS fault: none (0), the node's disk failed or is full, or the
    node has heard nothing from any MR replica for VL_SN_MR_CUT_MS (its
    reports do not get through: its log streams commit nothing). */
#define VL_SN_FAULT_DISK 1
#define VL_SN_FAULT_MR 2
#define VL_SN_MR_CUT_MS 1500
typedef struct {
    char addr[VL_WIRE_MAX_ADDR + 1];
    uint64_t disk_total, disk_free;
    uint8_t fault;
    char fault_why[VL_WIRE_MAX_FAULT + 1];
    uint32_t n;
    vl_sn_replica_t *replicas;
} vl_sn_status_t;
void vl_sn_status_encode(const vl_sn_status_t *m, vl_wbuf_t *b);
int vl_sn_status_decode(vl_rbuf_t *r, vl_sn_status_t *m);
void vl_sn_status_free(vl_sn_status_t *m);

/* SEAL reply: ls_id u32, llsn_end u64, glsn_end u64: the log stream is
   sealed after LLSN llsn_end, whose GLSN is glsn_end (both 0 when nothing
   was committed). */
typedef struct {
    uint32_t ls_id;
    uint64_t llsn_end, glsn_end;
} vl_seal_reply_t;
void vl_seal_reply_encode(const vl_seal_reply_t *m, vl_wbuf_t *b);
int vl_seal_reply_decode(vl_rbuf_t *r, vl_seal_reply_t *m);

/* VL_ENOTLEADER reply: the error reply (status VL_ENOTLEADER) an MR
   replica that is not the leader gives to every request. Its body is one
   string, like every error reply's, but what it holds is the leader's
   client endpoint (the one clients give in --mr), or nothing when the
   replica knows no leader (an election is under way). The replica did
   nothing with the request, so the requester may send it again to that
   endpoint. vl_wire_reply(req, VL_ENOTLEADER, "%s", leader) builds it. */
typedef struct {
    char leader[VL_WIRE_MAX_ADDR + 1]; /* "" when unknown */
} vl_notleader_t;
void vl_notleader_encode(const vl_notleader_t *m, vl_wbuf_t *b);
int vl_notleader_decode(vl_rbuf_t *r, vl_notleader_t *m);

/* SN_SYNC: topic_id u32, ls_id u32, llsn_end u64, dest_sn u32, dest_addr
   str, epoch u32: the receiving (source) replica streams the entries the
   destination replica lacks, up to llsn_end (the sealed end of the seal
   whose META epoch is epoch), as REPLICATE batches.
   SYNC reply (adm -> ctl): items[] {ls_id u32, src_sn u32, dest_sn u32,
   dest_llsn_end u64 (as last heard), llsn_end u64}: the syncs started. */
typedef struct {
    uint32_t topic_id, ls_id;
    uint64_t llsn_end;
    uint32_t dest_sn;
    char dest_addr[VL_WIRE_MAX_ADDR + 1];
    uint32_t epoch;
} vl_sync_t;
void vl_sync_encode(const vl_sync_t *m, vl_wbuf_t *b);
int vl_sync_decode(vl_rbuf_t *r, vl_sync_t *m);

typedef struct {
    uint32_t ls_id, src_sn, dest_sn;
    uint64_t dest_llsn_end, llsn_end;
} vl_sync_item_t;
typedef struct {
    uint32_t n;
    vl_sync_item_t *items;
} vl_sync_reply_t;
void vl_sync_reply_encode(const vl_sync_reply_t *m, vl_wbuf_t *b);
int vl_sync_reply_decode(vl_rbuf_t *r, vl_sync_reply_t *m);
void vl_sync_reply_free(vl_sync_reply_t *m);

/* MR membership (MR_STATUS, MR_ADD, MR_REMOVE, MR_TRANSFER), served by the
   MR's leader (a follower answers VL_ENOTLEADER) and proxied by varlogadm.
   MR_ADD: id u64, raft_addr str (HOST:PORT of its raft transport),
   endpoint str (its client endpoint). MR_REMOVE, MR_TRANSFER: id u64.
   Every reply of the four is an MR_STATUS reply: leader_id u64, term u64,
   commit_index u64, applied_index u64, last_index u64 (the leader's raft
   log), members[] {id u64, raft_addr str, endpoint str, role u8
   (vl_mr_role_t), match_index u64 (the last index known replicated
   there)}, at most VL_WIRE_MAX_MEMBERS. */
typedef enum { VL_MR_VOTER = 0, VL_MR_STANDBY, VL_MR_SPARE, VL_MR_ROLE_MAX } vl_mr_role_t;
typedef struct {
    uint64_t id;
    char raft_addr[VL_WIRE_MAX_ADDR + 1];
    char endpoint[VL_WIRE_MAX_ADDR + 1];
    uint8_t role;
    uint64_t match_index;
} vl_mr_member_t;
typedef struct {
    uint64_t leader_id, term, commit_index, applied_index, last_index;
    uint32_t n;
    vl_mr_member_t members[VL_WIRE_MAX_MEMBERS];
} vl_mr_status_t;
void vl_mr_status_encode(const vl_mr_status_t *m, vl_wbuf_t *b);
int vl_mr_status_decode(vl_rbuf_t *r, vl_mr_status_t *m);
/*  MR_ADD: m->id, m->raft_addr and m->endpoint (role and match_index are
    not sent; decoded as 0). */
void vl_mr_add_encode(const vl_mr_member_t *m, vl_wbuf_t *b);
int vl_mr_add_decode(vl_rbuf_t *r, vl_mr_member_t *m);
/*  MR_REMOVE, MR_TRANSFER. */
void vl_mr_id_encode(uint64_t id, vl_wbuf_t *b);
int vl_mr_id_decode(vl_rbuf_t *r, uint64_t *id);
/*  "voter", "standby", "spare" ("unknown" otherwise). */
const char *vl_mr_role_name(int role);

/*  ---- names ---------------------------------------------------------- */

/*  True when name is a valid topic name: [A-Za-z0-9._-]{1,255}, not
    starting with '.'. */
bool vl_topic_name_valid(const char *name);

#endif
