/*  offsets.c - the group coordinator's records in the varlog topic
    "__kov_offsets" (see offsets.h).

    Order is what makes a replay equal to the state that answered clients:
    one varlog batch in flight at a time, each batch's records in the order
    they were appended, so GLSN order is append order whatever log stream
    a batch lands on.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "offsets.h"
#include "util.h"

#define S_BATCH_ENTRIES 256
#define S_BATCH_BYTES (512u << 10)

typedef struct s_rec {
    struct s_rec *next;
    uint8_t *data;
    size_t len;
    vl_kgroup_stored_fn *done;
    void *arg;
} s_rec_t;

typedef struct {
    vl_koffsets_t *self;
    s_rec_t *recs;
    size_t n;
    const void **data;
    size_t *len;
    uint64_t *glsns;
    int rc;
    char err[256];
} s_batch_t;

typedef struct {
    vl_koffsets_t *self;
    uint64_t glsn;
    int rc;
    char err[256];
} s_trim_t;

struct vl_koffsets {
    vl_client_t *client;
    vl_kparts_t *parts;
    char *topic;
    s_rec_t *queue, *tail;
    s_batch_t *inflight;
    s_trim_t *trimming;
    uint64_t trim_next; /* a trim asked for while one runs */
};

static void s_recs_free(s_rec_t *r)
{
    while (r) {
        s_rec_t *next = r->next;
        free(r->data);
        free(r);
        r = next;
    }
}

static void s_batch_free(s_batch_t *b)
{
    if (!b)
        return;
    s_recs_free(b->recs);
    free(b->data);
    free(b->len);
    free(b->glsns);
    free(b);
}

/*  ---- appends ------------------------------------------------------------------- */

static void s_batch_work(void *arg, vl_client_t *client)
{
    s_batch_t *b = arg;
    b->rc = vl_append(client, b->self->topic, 0, b->data, b->len, b->n, b->glsns);
    if (b->rc)
        snprintf(b->err, sizeof b->err, "%s", vl_client_errmsg(client));
}

static void s_start(vl_koffsets_t *self);

static void s_batch_done(void *arg)
{
    s_batch_t *b = arg;
    vl_koffsets_t *self = b->self;
    if (b->rc)
        vl_log(LOG_ERR,
               "kov groups: appending %zu record(s) to %s failed: %s (%s); the requests get "
               "COORDINATOR_NOT_AVAILABLE and clients retry; check the cluster (varlogctl "
               "topic info %s)",
               b->n, self->topic, vl_err_str(b->rc), b->err, self->topic);
    size_t i = 0;
    for (s_rec_t *r = b->recs; r; r = r->next, i++) {
        int rc = b->glsns[i] ? 0 : (b->rc ? b->rc : VL_EIO);
        r->done(r->arg, rc, b->glsns[i]);
    }
    self->inflight = NULL;
    s_batch_free(b);
    s_start(self);
}

static void s_start(vl_koffsets_t *self)
{
    if (self->inflight || !self->queue)
        return;
    s_batch_t *b = vl_calloc(1, sizeof *b);
    b->self = self;
    size_t bytes = 0;
    s_rec_t **tail = &b->recs;
    while (self->queue && b->n < S_BATCH_ENTRIES &&
           (b->n == 0 || bytes + self->queue->len <= S_BATCH_BYTES)) {
        s_rec_t *r = self->queue;
        self->queue = r->next;
        r->next = NULL;
        *tail = r;
        tail = &r->next;
        bytes += r->len;
        b->n++;
    }
    if (!self->queue)
        self->tail = NULL;
    b->data = vl_calloc(b->n, sizeof *b->data);
    b->len = vl_calloc(b->n, sizeof *b->len);
    b->glsns = vl_calloc(b->n, sizeof *b->glsns);
    size_t i = 0;
    for (s_rec_t *r = b->recs; r; r = r->next, i++) {
        b->data[i] = r->data;
        b->len[i] = r->len;
    }
    self->inflight = b;
    vl_kparts_run(self->parts, s_batch_work, s_batch_done, b);
}

static void s_append(void *ctx, const uint8_t *data, size_t len, vl_kgroup_stored_fn *done,
                     void *arg)
{
    vl_koffsets_t *self = ctx;
    s_rec_t *r = vl_calloc(1, sizeof *r);
    r->data = vl_malloc(len ? len : 1);
    memcpy(r->data, data, len);
    r->len = len;
    r->done = done;
    r->arg = arg;
    if (self->tail)
        self->tail->next = r;
    else
        self->queue = r;
    self->tail = r;
    s_start(self);
}

/*  ---- trim ----------------------------------------------------------------------- */

static void s_trim_work(void *arg, vl_client_t *client)
{
    s_trim_t *t = arg;
    t->rc = vl_trim(client, t->self->topic, t->glsn - 1);
    if (t->rc)
        snprintf(t->err, sizeof t->err, "%s", vl_client_errmsg(client));
}

static void s_trim(void *ctx, uint64_t glsn);

static void s_trim_done(void *arg)
{
    s_trim_t *t = arg;
    vl_koffsets_t *self = t->self;
    if (t->rc)
        vl_log(LOG_WARNING,
               "kov groups: trimming %s below GLSN %" PRIu64 " failed: %s (%s); the next "
               "snapshot trims again (nothing is lost, replay only reads more)",
               self->topic, t->glsn, vl_err_str(t->rc), t->err);
    else
        vl_log(LOG_INFO, "kov groups: %s trimmed below GLSN %" PRIu64, self->topic, t->glsn);
    self->trimming = NULL;
    free(t);
    if (self->trim_next) {
        uint64_t next = self->trim_next;
        self->trim_next = 0;
        s_trim(self, next);
    }
}

static void s_trim(void *ctx, uint64_t glsn)
{
    vl_koffsets_t *self = ctx;
    if (glsn <= 1)
        return;
    if (self->trimming) {
        self->trim_next = glsn;
        return;
    }
    s_trim_t *t = vl_calloc(1, sizeof *t);
    t->self = self;
    t->glsn = glsn;
    self->trimming = t;
    vl_kparts_run(self->parts, s_trim_work, s_trim_done, t);
}

/*  ---- replay ---------------------------------------------------------------------- */

static int s_replay(void *ctx, vl_kgroup_record_fn *fn, void *fnarg, char *errbuf, size_t size)
{
    vl_koffsets_t *self = ctx;
    vl_topic_info_t info;
    int rc = vl_topic_info(self->client, self->topic, &info);
    if (rc) {
        snprintf(errbuf, size, "topic info of %s: %s", self->topic, vl_client_errmsg(self->client));
        return rc;
    }
    if (info.hwm == 0 || info.trim_glsn > info.hwm)
        return 0;
    vl_subscriber_t *sub = NULL;
    rc = vl_subscribe(self->client, self->topic, 0, info.hwm + 1, &sub);
    if (rc) {
        snprintf(errbuf, size, "subscribing to %s: %s", self->topic,
                 vl_client_errmsg(self->client));
        return rc;
    }
    vl_entry_t e;
    uint64_t n = 0;
    while ((rc = vl_subscriber_next(sub, &e, 30000)) == 0) {
        n++;
        rc = fn(fnarg, e.glsn, e.data, e.size);
        if (rc)
            break; /* fn's message is the coordinator's */
    }
    if (rc == VL_EEOF) {
        rc = 0;
        vl_log(LOG_INFO,
               "kov groups: replayed %" PRIu64 " record(s) of %s (GLSN %" PRIu64 "..%" PRIu64 ")",
               n, self->topic, info.trim_glsn, info.hwm);
    } else if (rc && n == 0) {
        snprintf(errbuf, size, "reading %s: %s", self->topic, vl_client_errmsg(self->client));
    } else if (rc) {
        snprintf(errbuf, size, "reading %s after %" PRIu64 " record(s): %s", self->topic, n,
                 vl_err_str(rc));
    }
    vl_subscriber_destroy(&sub);
    return rc;
}

/*  ---- life ----------------------------------------------------------------------- */

int vl_koffsets_new(vl_client_t *client, vl_kparts_t *parts, const char *topic, uint32_t rf,
                    vl_koffsets_t **self_p, char *errbuf, size_t errbuf_size)
{
    *self_p = NULL;
    topic = topic ? topic : VL_KOFFSETS_TOPIC;
    vl_topic_info_t info;
    int rc = vl_topic_info(client, topic, &info);
    if (rc == VL_ENOTOPIC) {
        rc = vl_topic_create(client, topic, 1, rf, NULL);
        if (rc == VL_EEXIST) /* another gateway made it meanwhile */
            rc = 0;
        if (!rc)
            vl_log(LOG_NOTICE, "kov groups: created %s for committed offsets and groups", topic);
    }
    if (rc) {
        snprintf(errbuf, errbuf_size, "cannot open %s (committed offsets and groups): %s", topic,
                 vl_client_errmsg(client));
        return rc;
    }
    vl_koffsets_t *self = vl_calloc(1, sizeof *self);
    self->client = client;
    self->parts = parts;
    self->topic = vl_strdup(topic);
    *self_p = self;
    return 0;
}

void vl_koffsets_destroy(vl_koffsets_t **self_p)
{
    vl_koffsets_t *self = *self_p;
    if (!self)
        return;
    s_batch_free(self->inflight);
    s_recs_free(self->queue);
    free(self->trimming);
    free(self->topic);
    free(self);
    *self_p = NULL;
}

vl_kgroup_store_t vl_koffsets_store(vl_koffsets_t *self)
{
    vl_kgroup_store_t s = {.ctx = self, .append = s_append, .trim = s_trim, .replay = s_replay};
    return s;
}
