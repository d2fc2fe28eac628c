/*  api_produce.c - Produce (key 0), versions 3-8 (0-2 advertised, refused).

    Versions 0-2 carry message formats 0/1, which Kov does not build: they
    are advertised (librdkafka 2.0.2 stops compressing when Produce starts
    above 0) and answered UNSUPPORTED_VERSION per partition, as Kafka 4
    does (KAFKA-18659).

    Each partition's record set is parsed and checked by vl_kbatch_parse
    (CRC-32C, sizes, decompression); each batch's records, in their stored
    form (vl_krec_encode), go to vl_kparts_produce as one varlog batch with
    the producer's id, epoch and base sequence, so a retried batch is
    answered with its first offsets and not appended twice. The response
    waits for every partition's commit (acks 1 and -1 are the same thing
    on varlog: a commit is replicated to every replica of the log stream);
    acks=0 gets no response, and its request leaves the connection's order
    at once. A request whose parts fail gets an error for those partitions
    only; nothing of a batch that failed to parse is appended.
*/
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "server_i.h"
#include "util.h"

#define S_PIECE_ENTRIES 8192      /* records in one varlog batch (VL_WIRE_MAX_ENTRIES) */
#define S_PIECE_BYTES (32u << 20) /* ... and their stored bytes, within its payload */

typedef struct s_ctx s_ctx_t;

typedef struct {
    int32_t index;
    int16_t err;
    int64_t base_offset;
    char *msg; /* error message (v8), owned */
} s_part_t;

typedef struct {
    char *name;
    int32_t n;
    s_part_t *parts;
} s_topic_t;

typedef struct s_call {
    s_ctx_t *c;
    s_part_t *part;
    bool first; /* the partition's first records: its base offset */
    struct s_call *next;
} s_call_t;

struct s_ctx {
    vl_kreq_t *req;
    int16_t version;
    int16_t acks;
    int32_t n;
    s_topic_t *topics;
    uint32_t pending; /* produce calls not answered yet */
    s_call_t *calls;
};

static void s_ctx_free(void *arg)
{
    s_ctx_t *c = arg;
    for (int32_t i = 0; i < c->n; i++) {
        for (int32_t j = 0; j < c->topics[i].n; j++)
            free(c->topics[i].parts[j].msg);
        free(c->topics[i].parts);
        free(c->topics[i].name);
    }
    free(c->topics);
    while (c->calls) {
        s_call_t *call = c->calls;
        c->calls = call->next;
        free(call);
    }
    free(c);
}

static void s_part_error(s_part_t *p, int16_t err, const char *msg)
{
    if (p->err)
        return;
    p->err = err;
    p->msg = vl_strdup(msg ? msg : "");
}

static void s_finish(s_ctx_t *c)
{
    vl_kreq_t *req = c->req;
    vl_kw_t *w = &req->out;
    int16_t v = c->version;
    vl_kw_array(w, false, c->n);
    for (int32_t i = 0; i < c->n; i++) {
        s_topic_t *t = &c->topics[i];
        vl_kw_str(w, false, t->name);
        vl_kw_array(w, false, t->n);
        for (int32_t j = 0; j < t->n; j++) {
            s_part_t *p = &t->parts[j];
            if (p->err && p->msg)
                vl_log(LOG_INFO, "produce %s-%d: error %d: %s", t->name, (int)p->index, p->err,
                       p->msg);
            vl_kw_i32(w, p->index);
            vl_kw_i16(w, p->err);
            vl_kw_i64(w, p->err ? -1 : p->base_offset);
            if (v >= 2)
                vl_kw_i64(w, -1); /* log_append_time: CreateTime topics */
            if (v >= 5)
                vl_kw_i64(w, -1); /* log_start_offset: not looked up */
            if (v >= 8) {
                vl_kw_array(w, false, 0); /* record errors */
                vl_kw_str(w, false, p->err ? p->msg : NULL);
            }
        }
    }
    if (v >= 1)
        vl_kw_i32(w, 0); /* throttle */
    s_ctx_free(c);
    vl_kreq_reply(req);
}

static void s_produced(void *arg, int16_t kerr, int64_t base_offset, const char *msg)
{
    s_call_t *call = arg;
    s_ctx_t *c = call->c;
    if (kerr)
        s_part_error(call->part, kerr, msg);
    else if (call->first)
        call->part->base_offset = base_offset;
    if (--c->pending == 0)
        s_finish(c);
}

/*  Sends the records of batch from index `from` on, as many as one atomic
    varlog batch holds (S_PIECE_ENTRIES, S_PIECE_BYTES), to the data path;
    returns the index of the first record not sent. librdkafka sends up to
    10000 records a batch (batch.num.messages), more than one varlog batch
    carries: such a Kafka batch goes as consecutive pieces, called back to
    back (so committed in order), an idempotent producer's pieces with the
    sequences they would have as batches of their own. */
static uint32_t s_produce_piece(s_ctx_t *c, const char *name, s_part_t *p, const vl_kbatch_t *batch,
                                size_t b, uint32_t from)
{
    vl_kserver_t *s = c->req->server;
    size_t total = 0;
    uint32_t to = from;
    while (to < batch->nrecords && to - from < S_PIECE_ENTRIES) {
        size_t sz = vl_krec_size(&batch->records[to]);
        if (to > from && total + sz > S_PIECE_BYTES)
            break;
        total += sz;
        to++;
    }
    uint32_t n = to - from;
    uint8_t *buf = vl_malloc(total ? total : 1);
    const void **data = vl_calloc(n, sizeof *data);
    size_t *len = vl_calloc(n, sizeof *len);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        len[i] = vl_krec_size(&batch->records[from + i]);
        vl_krec_encode(&batch->records[from + i], buf + off);
        data[i] = buf + off;
        off += len[i];
    }
    vl_kproducer_t prod = {.producer_id = batch->producer_id,
                           .producer_epoch = batch->producer_epoch,
                           .base_sequence = batch->base_sequence};
    if (prod.producer_id >= 0 && from > 0)
        prod.base_sequence =
            (int32_t)(((int64_t)batch->base_sequence + from) % ((int64_t)INT32_MAX + 1));
    s_call_t *call = vl_calloc(1, sizeof *call);
    call->c = c;
    call->part = p;
    call->first = b == 0 && from == 0;
    call->next = c->calls;
    c->calls = call;
    c->pending++;
    vl_kparts_produce(s->parts, name, &prod, data, len, n, s_produced, call);
    free(len);
    free(data);
    free(buf);
    return to;
}

/*  Parses a partition's record set and sends each batch to the data path. */
static void s_produce_part(s_ctx_t *c, const char *topic, s_part_t *p, vl_kstr_t records)
{
    vl_kserver_t *s = c->req->server;
    char name[300], err[256] = "";
    if (p->err)
        return;
    if (records.len <= 0) {
        s_part_error(p, VL_KERR_CORRUPT_MESSAGE, "empty record set");
        return;
    }
    vl_ktopic_part_name(name, sizeof name, topic, p->index);
    int32_t owner = -1;
    uint64_t view_epoch = 0;
    if (s->gw && !vl_kgw_owns_part(s->gw, name, &owner, &view_epoch)) {
        snprintf(err, sizeof err,
                 "gateway %d does not own %.150s (owner: %d); refresh the metadata and send to the "
                 "leader",
                 s->opts.node_id, name, owner);
        s_part_error(p, VL_KERR_NOT_LEADER_OR_FOLLOWER, err);
        return;
    }
    if (s->gw)
        vl_kparts_owner_epoch(s->parts, name, view_epoch);
    vl_kbatch_t *batches = NULL;
    size_t nb = 0;
    int kerr = vl_kbatch_parse(records.ptr, (size_t)records.len, s->opts.max_request, &batches, &nb,
                               err, sizeof err);
    if (kerr) {
        s_part_error(p, (int16_t)kerr, err);
        return;
    }
    for (size_t b = 0; b < nb; b++)
        for (uint32_t i = 0; i < batches[b].nrecords;)
            i = s_produce_piece(c, name, p, &batches[b], b, i);
    for (size_t b = 0; b < nb; b++)
        vl_kbatch_free(&batches[b]);
    free(batches);
}

/*  What s_read_topics does with each partition. */
enum { S_PARSE, S_SEND, S_OLD };

/*  Reads the topics and partitions; S_SEND produces each partition's
    records, S_OLD (v0-2) answers UNSUPPORTED_VERSION for each, S_PARSE
    only reads. */
static void s_read_topics(s_ctx_t *c, vl_kr_t *r, int mode)
{
    int32_t n = vl_kr_array(r, false, 2 + 4);
    if (n > 0)
        c->topics = vl_calloc((size_t)n, sizeof *c->topics);
    for (int32_t i = 0; i < n && vl_kr_ok(r); i++) {
        vl_kstr_t name = vl_kr_str(r, false);
        int32_t np = vl_kr_array(r, false, 4 + 4);
        if (!vl_kr_ok(r))
            break;
        s_topic_t *t = &c->topics[c->n++];
        t->name = vl_kstr_dup(name);
        const char *why;
        int16_t terr = vl_ktopic_check_n(name.ptr, name.len, &why);
        if (np > 0)
            t->parts = vl_calloc((size_t)np, sizeof *t->parts);
        for (int32_t j = 0; j < np && vl_kr_ok(r); j++) {
            s_part_t *p = &t->parts[t->n];
            p->index = vl_kr_i32(r);
            vl_kstr_t records = vl_kr_bytes(r, false);
            if (!vl_kr_ok(r))
                break;
            t->n++;
            if (mode == S_PARSE)
                continue;
            if (mode == S_OLD)
                s_part_error(p, VL_KERR_UNSUPPORTED_VERSION,
                             "Produce v0-2 (message format 0/1) is not supported; use v3+");
            else if (terr)
                s_part_error(p, terr, why);
            else if (p->index < 0)
                s_part_error(p, VL_KERR_UNKNOWN_TOPIC_OR_PARTITION, "negative partition");
            else
                s_produce_part(c, t->name, p, records);
        }
    }
}

static void s_handle(vl_kreq_t *req, vl_kr_t *r)
{
    bool send = req->api_version >= 3;
    if (send)
        (void)vl_kr_str(r, false); /* transactional id: its batches are refused by
                                      vl_kbatch_parse (no transactions in Kov) */
    int16_t acks = vl_kr_i16(r);
    (void)vl_kr_i32(r); /* timeout_ms: a commit is answered when it happens */
    bool acks_ok = acks == 0 || acks == 1 || acks == -1;
    /* parse everything before producing anything: a malformed request
       closes the connection and must not have appended a part of itself */
    size_t start = r->pos;
    s_ctx_t *c = vl_calloc(1, sizeof *c);
    c->req = req;
    s_read_topics(c, r, S_PARSE);
    s_ctx_free(c);
    if (!vl_kr_ok(r)) {
        vl_kreq_bad(req, r->what);
        return;
    }
    r->pos = start;
    c = vl_calloc(1, sizeof *c);
    c->req = req;
    c->version = req->api_version;
    c->acks = acks_ok ? acks : 1;
    c->pending = 1; /* held until every partition has been sent */
    s_read_topics(c, r, !send ? S_OLD : acks_ok ? S_SEND : S_PARSE);
    if (!acks_ok)
        for (int32_t i = 0; i < c->n; i++)
            for (int32_t j = 0; j < c->topics[i].n; j++)
                s_part_error(&c->topics[i].parts[j], VL_KERR_INVALID_REQUIRED_ACKS,
                             "acks must be 0, 1 or -1");
    req->ctx = c;
    req->ctx_free = s_ctx_free;
    if (c->acks == 0)
        vl_kreq_noreply(req);
    if (--c->pending == 0)
        s_finish(c);
}

const vl_kapi_t vl_kapi_produce = {
    .key = 0, .name = "Produce", .min = 0, .max = 8, .flex_min = 9, .handle = s_handle};
