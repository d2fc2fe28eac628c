/*  pid.c - producer ids (InitProducerId), durable in the meta topic.

    A gateway hands out ids from a block of KP_PID_BLOCK it reserved by
    appending the text record "kov.pid START END\n" to the meta topic
    (created with the first reservation: one log stream, the highest
    replication factor of 3, 2, 1 the cluster takes). The log orders
    every reservation of every gateway: a reservation is ours only when no
    record before it in the log claims ids at or past its START (else
    another gateway raced us: try again past it). Only then is an id of
    the block given out, so no id is ever given twice, across restarts and
    gateways (ids of a block not handed out before a restart are never
    used). Every id below the highest END in the log may have been
    allocated (pid_known_end): a Produce with an id at or past it gets
    UNKNOWN_PRODUCER_ID once the topic was read again.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "part_i.h"
#include "util.h"

#define KP_PID_TRIES 16

typedef struct kp_pidreq {
    struct kp_pidreq *next;
    vl_kparts_pid_cb_t *cb;
    void *arg;
} kp_pidreq_t;

typedef struct {
    vl_kparts_t *kp;
    char topic[256];
    bool reserve; /* reserve a block (else only read) */
    int rc;
    char msg[512];
    int64_t known_end; /* the highest END read */
    int64_t start;     /* the block reserved */
} kp_pidjob_t;

/*  Reads the meta topic's records of GLSNs [from, to) (from 0: the trim
    point; to 0: through the high watermark), raising *max_end to the
    highest END; *conflict (may be NULL) is set when one claims ids at or
    past `start`. */
static int s_read(vl_client_t *client, const char *topic, uint64_t from, uint64_t to,
                  int64_t *max_end, int64_t start, bool *conflict, char *msg, size_t msg_size)
{
    vl_subscriber_t *sub = NULL;
    int rc = vl_subscribe(client, topic, from, to, &sub);
    if (rc == VL_ENOTOPIC)
        return rc;
    if (rc != 0)
        goto fail;
    vl_entry_t e;
    while ((rc = vl_subscriber_next(sub, &e, KP_READ_TIMEOUT_MS)) == 0) {
        char line[128];
        size_t n = e.size < sizeof line - 1 ? e.size : sizeof line - 1;
        memcpy(line, e.data, n);
        line[n] = '\0';
        long long s, end;
        if (sscanf(line, "kov.pid %lld %lld", &s, &end) != 2 || end <= s)
            continue; /* another kind of record */
        if (end > *max_end)
            *max_end = end;
        if (conflict && end > start)
            *conflict = true;
    }
    vl_subscriber_destroy(&sub);
    if (rc == VL_EEOF)
        return 0;
fail:
    snprintf(msg, msg_size, "producer ids: reading the meta topic %s: %s", topic,
             vl_client_errmsg(client));
    return rc;
}

/*  The meta topic, created when missing. */
static int s_ensure_topic(vl_client_t *client, const char *topic)
{
    vl_topic_info_t info;
    int rc = vl_topic_info(client, topic, &info);
    if (rc != VL_ENOTOPIC)
        return rc;
    for (uint32_t rf = 3; rf >= 1; rf--) {
        rc = vl_topic_create(client, topic, 1, rf, NULL);
        if (rc == 0 || rc == VL_EEXIST)
            return 0;
    }
    return rc;
}

/*  Appends "kov.pid START END" past every END in the log, until no record
    before ours claims our ids. */
static int s_reserve(kp_pidjob_t *j, vl_client_t *client)
{
    int rc = s_ensure_topic(client, j->topic);
    if (rc != 0) {
        snprintf(j->msg, sizeof j->msg, "producer ids: meta topic %s: %s", j->topic,
                 vl_client_errmsg(client));
        return rc;
    }
    vl_topic_info_t info;
    if ((rc = vl_topic_info(client, j->topic, &info)) != 0)
        goto fail;
    uint64_t read_to = info.hwm; /* everything through it is read */
    if (read_to > 0 && (rc = s_read(client, j->topic, 0, read_to + 1, &j->known_end, 0, NULL,
                                    j->msg, sizeof j->msg)) != 0)
        return rc;
    for (int tries = 0; tries < KP_PID_TRIES; tries++) {
        int64_t start = j->known_end;
        char rec[96];
        int len = snprintf(rec, sizeof rec, "kov.pid %" PRId64 " %" PRId64 "\n", start,
                           start + KP_PID_BLOCK);
        const void *data = rec;
        size_t size = (size_t)len;
        uint64_t glsn = 0;
        if ((rc = vl_append(client, j->topic, 0, &data, &size, 1, &glsn)) != 0)
            goto fail;
        /* our record is at glsn: the records between what we read and it */
        bool conflict = false;
        if (glsn > read_to + 1 && (rc = s_read(client, j->topic, read_to + 1, glsn, &j->known_end,
                                               start, &conflict, j->msg, sizeof j->msg)) != 0)
            return rc;
        read_to = glsn;
        if (start + KP_PID_BLOCK > j->known_end)
            j->known_end = start + KP_PID_BLOCK;
        if (!conflict) {
            j->start = start;
            return 0;
        }
    }
    snprintf(j->msg, sizeof j->msg,
             "producer ids: %d reservations in the meta topic %s raced other gateways'; "
             "try again",
             KP_PID_TRIES, j->topic);
    return VL_EBUSY;
fail:
    snprintf(j->msg, sizeof j->msg, "producer ids: meta topic %s: %s", j->topic,
             vl_client_errmsg(client));
    return rc;
}

static void s_pid_work(void *arg, vl_client_t *client)
{
    kp_pidjob_t *j = arg;
    if (j->reserve) {
        j->rc = s_reserve(j, client);
        return;
    }
    j->rc = s_read(client, j->topic, 0, 0, &j->known_end, 0, NULL, j->msg, sizeof j->msg);
    if (j->rc == VL_ENOTOPIC)
        j->rc = 0; /* no id was ever allocated */
}

static void s_serve(vl_kparts_t *self);

static void s_pid_done(void *arg)
{
    kp_pidjob_t *j = arg;
    vl_kparts_t *self = j->kp;
    if (self->destroying) {
        free(j);
        return;
    }
    if (j->rc == 0) {
        self->pid_loaded = true;
        if (j->known_end > self->pid_known_end)
            self->pid_known_end = j->known_end;
    }
    if (j->reserve) {
        self->pid_reserving = false;
        self->pid_reserve_rc = j->rc;
        snprintf(self->pid_reserve_msg, sizeof self->pid_reserve_msg, "%s", j->msg);
        if (j->rc == 0) {
            self->pid_next = j->start;
            self->pid_end = j->start + KP_PID_BLOCK;
        }
        s_serve(self);
    } else {
        self->pid_busy = false;
        self->pid_rc = j->rc;
        snprintf(self->pid_msg, sizeof self->pid_msg, "%s", j->msg);
        vl_kparts_produce_pump_all(self);
    }
    free(j);
}

static void s_job(vl_kparts_t *self, bool reserve)
{
    kp_pidjob_t *j = vl_calloc(1, sizeof *j);
    j->kp = self;
    j->reserve = reserve;
    snprintf(j->topic, sizeof j->topic, "%s", self->meta_topic);
    vl_kparts_run_own(self, s_pid_work, s_pid_done, j, true);
}

void vl_kparts_pid_load(vl_kparts_t *self)
{
    self->pid_busy = true;
    s_job(self, false);
}

/*  Answers the waiting InitProducerId calls from the block, reserving
    another one when it runs out (an error fails them all). */
static void s_serve(vl_kparts_t *self)
{
    while (self->pid_reqs) {
        if (self->pid_next >= self->pid_end && self->pid_reserve_rc == 0) {
            if (!self->pid_reserving) {
                self->pid_reserving = true;
                s_job(self, true);
            }
            return;
        }
        kp_pidreq_t *r = self->pid_reqs;
        self->pid_reqs = r->next;
        if (!self->pid_reqs)
            self->pid_reqs_tail = &self->pid_reqs;
        if (self->pid_next < self->pid_end)
            r->cb(r->arg, 0, self->pid_next++, 0);
        else
            r->cb(r->arg, vl_kparts_kerr(self->pid_reserve_rc), -1, -1);
        free(r);
    }
    self->pid_reserve_rc = 0; /* the next call tries again */
}

static void s_serve_later(void *arg)
{
    vl_kparts_t *self = arg;
    if (!self->destroying && !self->pid_reserving)
        s_serve(self);
}

void vl_kparts_init_pid(vl_kparts_t *self, vl_kparts_pid_cb_t *cb, void *arg)
{
    kp_pidreq_t *r = vl_calloc(1, sizeof *r);
    r->cb = cb;
    r->arg = arg;
    *self->pid_reqs_tail = r;
    self->pid_reqs_tail = &r->next;
    /* never inside the call: from the loop, or once a block is reserved */
    if (!self->pid_reserving)
        vl_kparts_post(self, s_serve_later, self);
}

void vl_kparts_pid_free(vl_kparts_t *self)
{
    while (self->pid_reqs) {
        kp_pidreq_t *r = self->pid_reqs;
        self->pid_reqs = r->next;
        free(r);
    }
    self->pid_reqs_tail = &self->pid_reqs;
}
