/*  writer.c - the group-commit writer thread of the storage node.

    Server and writer talk over a pair of inproc PAIR sockets and pass
    pointers: a job goes one way, a list of done jobs the other way, a NULL
    job means "stop". Ownership travels with the pointer, so the two threads
    never touch the same job at the same time.

    Why a plain thread and not a zactor: at shutdown the server must get
    back every job it handed over (to free it), and zactor_destroy would
    discard the messages still in the pipe.

    A batch takes every job already queued, up to S_BATCH_BYTES of entries,
    so that under load one fsync covers many appends (group commit) and
    when idle a single job is written at once; a writer about to wait for
    work first lets the entry log write zeros ahead (vl_store_idle), so
    that the next appends' syncs overwrite (not with --sync none: nothing
    is synced there). A trim or a truncate starts
    a batch of its own after the jobs queued before it (it reads the
    store). A WRITE is stored as one value, its entries back to back.
*/
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include "log.h"
#include "util.h"
#include "writer.h"

#define S_BATCH_BYTES (64u << 20)
#define S_BATCH_JOBS 4096

struct vl_writer {
    vl_store_t *store;
    zsock_t *server_sock; /* used by the server thread */
    zsock_t *thread_sock; /* used by the writer thread */
    pthread_t thread;
    bool started;
};

vl_writer_job_t *vl_writer_job_new(int kind, uint32_t topic_id, uint32_t ls_id)
{
    vl_writer_job_t *job = vl_calloc(1, sizeof *job);
    job->kind = kind;
    job->topic_id = topic_id;
    job->ls_id = ls_id;
    job->queued_us = vl_now_us();
    return job;
}

void vl_writer_job_destroy(vl_writer_job_t **job_p)
{
    vl_writer_job_t *job = *job_p;
    if (!job)
        return;
    free(job->sizes);
    free(job->bids);
    zframe_destroy(&job->data);
    zframe_destroy(&job->reply_to);
    free(job);
    *job_p = NULL;
}

static int s_send_ptr(zsock_t *sock, void *ptr)
{
    return zmq_send(zsock_resolve(sock), &ptr, sizeof ptr, 0) == sizeof ptr ? 0 : -1;
}

/*  Receives one pointer; flags ZMQ_DONTWAIT or 0. Returns -1 when nothing
    (or something malformed) came. */
static int s_recv_ptr(zsock_t *sock, int flags, void **ptr_p)
{
    void *ptr = NULL;
    int n = zmq_recv(zsock_resolve(sock), &ptr, sizeof ptr, flags);
    if (n != (int)sizeof ptr)
        return -1;
    *ptr_p = ptr;
    return 0;
}

/*  ---- the writer thread ------------------------------------------------ */

typedef struct {
    uint32_t ls_id;
    bool existed, deleted;
    vl_store_state_t before;
} s_touched_t;

typedef struct {
    vl_store_t *store;
    zhashx_t *states; /* "ls id" -> vl_store_state_t* */
    vl_store_batch_t *batch;
    s_touched_t *touched;
    size_t ntouched, cap_touched;
    bool synced; /* a batch was written with sync: zeros ahead pay (--sync none: never) */
} s_thread_t;

static void s_state_free(void **item)
{
    free(*item);
    *item = NULL;
}

static vl_store_state_t *s_state_get(s_thread_t *t, uint32_t ls_id)
{
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    return zhashx_lookup(t->states, key);
}

static void s_state_put(s_thread_t *t, const vl_store_state_t *st)
{
    char key[16];
    snprintf(key, sizeof key, "%u", st->ls_id);
    vl_store_state_t *copy = vl_malloc(sizeof *copy);
    *copy = *st;
    zhashx_update(t->states, key, copy);
}

static void s_state_remove(s_thread_t *t, uint32_t ls_id)
{
    char key[16];
    snprintf(key, sizeof key, "%u", ls_id);
    zhashx_delete(t->states, key);
}

/*  Remembers the state of ls before this batch touched it, once. */
static s_touched_t *s_touch(s_thread_t *t, uint32_t ls_id, uint32_t topic_id)
{
    for (size_t i = 0; i < t->ntouched; i++)
        if (t->touched[i].ls_id == ls_id)
            return &t->touched[i];
    if (t->ntouched == t->cap_touched) {
        t->cap_touched = t->cap_touched ? t->cap_touched * 2 : 16;
        t->touched = vl_realloc(t->touched, t->cap_touched * sizeof *t->touched);
    }
    s_touched_t *x = &t->touched[t->ntouched++];
    memset(x, 0, sizeof *x);
    x->ls_id = ls_id;
    vl_store_state_t *st = s_state_get(t, ls_id);
    if (st) {
        x->existed = true;
        x->before = *st;
    } else {
        vl_store_state_t fresh = {.topic_id = topic_id, .ls_id = ls_id};
        s_state_put(t, &fresh);
    }
    return x;
}

static void s_job_fail(vl_writer_job_t *job, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_job_fail(vl_writer_job_t *job, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(job->errmsg, sizeof job->errmsg, fmt, ap);
    va_end(ap);
    job->rc = rc;
}

/*  s_apply of a WRITE: its entries and batch names. */
static bool s_apply_write(s_thread_t *t, vl_writer_job_t *job, vl_store_state_t *st)
{
    if (job->llsn_begin != st->llsn_end + 1) {
        s_job_fail(job, VL_EGAP,
                   "ls=%u: write of llsn=%llu.. does not follow the durable end %llu "
                   "(an earlier write failed); retry the append",
                   job->ls_id, (unsigned long long)job->llsn_begin,
                   (unsigned long long)st->llsn_end);
        return false;
    }
    /* the whole job is one value: one key, whatever its entry count */
    uint64_t llsn = job->llsn_begin + job->n;
    uint64_t bytes = job->data ? zframe_size(job->data) : 0;
    /* the job keeps its frame until it is handed back: no copy */
    vl_store_batch_put_entries_ref(t->batch, t->store, job->ls_id, job->llsn_begin, job->n,
                                   job->sizes, job->data ? zframe_data(job->data) : NULL, bytes);
    for (uint32_t i = 0; i < job->nbids; i++) {
        vl_batch_id_t id;
        vl_wire_bid(job->bids, i, &id);
        if (id.client_id != 0)
            vl_store_batch_put_bid(t->batch, job->ls_id, &id);
    }
    st->topic_id = job->topic_id;
    st->llsn_end = llsn - 1;
    st->bytes_end += bytes;
    return job->sync;
}

/*  s_apply of a COMMIT: a commit range. */
static bool s_apply_commit(s_thread_t *t, vl_writer_job_t *job, vl_store_state_t *st)
{
    const vl_store_range_t *r = &job->range;
    /* A range begins at applied + 1, except the one that holds the
       base of a replica started from a base (VL_WRITER_BASE): the
       base may lie inside a range, whose head was trimmed. */
    uint64_t end = r->llsn_begin + r->count - 1;
    if (r->count == 0 || r->llsn_begin > st->applied_llsn_end + 1 || end <= st->applied_llsn_end ||
        end > st->llsn_end) {
        s_job_fail(job, VL_EGAP,
                   "ls=%u: commit of llsn=%llu+%llu does not fit applied end %llu / "
                   "durable end %llu",
                   job->ls_id, (unsigned long long)r->llsn_begin, (unsigned long long)r->count,
                   (unsigned long long)st->applied_llsn_end, (unsigned long long)st->llsn_end);
        return false;
    }
    vl_store_batch_put_range(t->batch, job->ls_id, r);
    st->applied_llsn_end = end;
    if (job->hwm > st->hwm)
        st->hwm = job->hwm;
    return false;
}

/*  s_apply of a TRIM: the deletion of what lies below the trim point. */
static bool s_apply_trim(s_thread_t *t, vl_writer_job_t *job, vl_store_state_t *st)
{
    if (job->trim_glsn >= st->trim_glsn) {
        int rc = vl_store_batch_trim(t->store, t->batch, job->ls_id, job->trim_glsn);
        if (rc) {
            s_job_fail(job, rc, "ls=%u: trim to glsn=%llu: %s", job->ls_id,
                       (unsigned long long)job->trim_glsn, vl_store_errmsg());
            return false;
        }
        st->trim_glsn = job->trim_glsn;
    }
    return false;
}

/*  s_apply of a TRUNCATE: the discard of entries past the sealed end. */
static bool s_apply_truncate(s_thread_t *t, vl_writer_job_t *job, vl_store_state_t *st)
{
    if (st->applied_llsn_end > job->llsn_end) {
        s_job_fail(job, VL_EINVAL,
                   "ls=%u: cannot discard entries past the sealed end %llu: this replica "
                   "stored commits up to %llu; the MR and the replica disagree, replace it",
                   job->ls_id, (unsigned long long)job->llsn_end,
                   (unsigned long long)st->applied_llsn_end);
        return false;
    }
    if (st->llsn_end <= job->llsn_end)
        return false; /* behind the sealed end: nothing to discard */
    int rc = vl_store_batch_truncate(t->store, t->batch, job->ls_id, job->llsn_end);
    if (rc) {
        s_job_fail(job, rc, "ls=%u: discard past llsn=%llu: %s", job->ls_id,
                   (unsigned long long)job->llsn_end, vl_store_errmsg());
        return false;
    }
    st->llsn_end = job->llsn_end;
    st->bytes_end = job->bytes_end;
    /* durable before anyone hears the replica is in line */
    return true;
}

/*  s_apply of a BASE: a replica that starts over at a base. */
static bool s_apply_base(s_thread_t *t, vl_writer_job_t *job, vl_store_state_t *st)
{
    /* Entries 1..llsn_end are trimmed everywhere, and the replica
       lacks some of them: it starts over just below the first entry
       its sync source kept, as if it had held and trimmed them. What
       it held below is deleted (all of it lies below the base). */
    if (job->llsn_end <= st->llsn_end) {
        s_job_fail(job, VL_EINVAL,
                   "ls=%u: base at llsn=%llu is not past the replica's end %llu; nothing "
                   "changed, sync again",
                   job->ls_id, (unsigned long long)job->llsn_end, (unsigned long long)st->llsn_end);
        return false;
    }
    vl_store_batch_delete_data(t->batch, job->ls_id);
    st->topic_id = job->topic_id;
    st->llsn_end = job->llsn_end;
    st->bytes_end = job->bytes_end;
    st->applied_llsn_end = job->llsn_end;
    if (job->trim_glsn > st->trim_glsn)
        st->trim_glsn = job->trim_glsn;
    /* durable before the replica says it holds the base */
    return true;
}

/*  Adds one job to the batch, or fails it alone. Returns true when the job
    needs an fsync. */
static bool s_apply(s_thread_t *t, vl_writer_job_t *job)
{
    s_touched_t *x = s_touch(t, job->ls_id, job->topic_id);
    vl_store_state_t *st = s_state_get(t, job->ls_id);
    if (x->deleted && job->kind != VL_WRITER_DELETE)
        x->deleted = false; /* recreated after a delete in this batch */
    if (job->fault) {
        s_job_fail(job, VL_ESTORE, "ls=%u: injected fault (a test asked for it)", job->ls_id);
        return false;
    }
    switch (job->kind) {
    case VL_WRITER_WRITE:
        return s_apply_write(t, job, st);
    case VL_WRITER_COMMIT:
        return s_apply_commit(t, job, st);
    case VL_WRITER_TRIM:
        return s_apply_trim(t, job, st);
    case VL_WRITER_TRUNCATE:
        return s_apply_truncate(t, job, st);
    case VL_WRITER_BASE:
        return s_apply_base(t, job, st);
    case VL_WRITER_DELETE:
        vl_store_batch_delete_ls(t->batch, job->ls_id);
        memset(st, 0, sizeof *st);
        st->ls_id = job->ls_id;
        x->deleted = true;
        return false;
    default:
        s_job_fail(job, VL_EINVAL, "unknown writer job kind %d", job->kind);
        return false;
    }
}

static void s_write_batch(s_thread_t *t, vl_writer_job_t *head)
{
    vl_store_batch_clear(t->batch);
    t->ntouched = 0;
    bool sync = false;
    for (vl_writer_job_t *job = head; job; job = job->next)
        if (s_apply(t, job))
            sync = true;
    for (size_t i = 0; i < t->ntouched; i++) {
        s_touched_t *x = &t->touched[i];
        if (!x->deleted)
            vl_store_batch_put_state(t->batch, s_state_get(t, x->ls_id));
    }
    int rc = 0;
    if (vl_store_batch_count(t->batch) > 0)
        rc = vl_store_write(t->store, t->batch, sync);
    t->synced = t->synced || sync;
    if (rc) {
        /* Nothing of the batch is on disk: back to the states before it. */
        vl_log(LOG_ERR, "writer: batch write failed: %s", vl_store_errmsg());
        for (size_t i = 0; i < t->ntouched; i++) {
            s_touched_t *x = &t->touched[i];
            if (x->existed)
                s_state_put(t, &x->before);
            else
                s_state_remove(t, x->ls_id);
        }
        for (vl_writer_job_t *job = head; job; job = job->next)
            if (!job->rc)
                s_job_fail(job, VL_ESTORE, "ls=%u: %s; check the disk of the storage node",
                           job->ls_id, vl_store_errmsg());
    } else {
        for (size_t i = 0; i < t->ntouched; i++)
            if (t->touched[i].deleted)
                s_state_remove(t, t->touched[i].ls_id);
    }
    for (vl_writer_job_t *job = head; job; job = job->next) {
        vl_store_state_t *st = s_state_get(t, job->ls_id);
        if (st)
            job->state = *st;
        else {
            memset(&job->state, 0, sizeof job->state);
            job->state.ls_id = job->ls_id;
        }
    }
}

static void *s_thread(void *arg)
{
    vl_writer_t *w = arg;
    s_thread_t t = {.store = w->store};
    t.states = zhashx_new();
    zhashx_set_destructor(t.states, s_state_free);
    t.batch = vl_store_batch_new();
    vl_store_state_t *states;
    size_t n;
    if (vl_store_states(w->store, &states, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            s_state_put(&t, &states[i]);
        free(states);
    }
    bool stop = false;
    while (!stop) {
        vl_writer_job_t *job;
        /* nothing queued: the idle writer's chores (zeros written ahead in
           the entry log) before it waits */
        if (s_recv_ptr(w->thread_sock, ZMQ_DONTWAIT, (void **)&job) != 0) {
            if (t.synced)
                vl_store_idle(w->store);
            if (s_recv_ptr(w->thread_sock, 0, (void **)&job) != 0) {
                if (zmq_errno() == EINTR)
                    continue;
                break;
            }
        }
        if (!job)
            break;
        vl_writer_job_t *head = job, *tail = job;
        job->next = NULL;
        size_t jobs = 1;
        uint64_t bytes = job->bytes;
        /* Group commit: take whatever else is already queued. */
        while (jobs < S_BATCH_JOBS && bytes < S_BATCH_BYTES &&
               s_recv_ptr(w->thread_sock, ZMQ_DONTWAIT, (void **)&job) == 0) {
            if (!job) {
                stop = true;
                break;
            }
            job->next = NULL;
            tail->next = job;
            tail = job;
            jobs++;
            bytes += job->bytes;
        }
        /* A trim or a truncate reads the store to find what to delete (or
           cut), so it cannot see writes earlier in its own batch: it ends
           the batch before it and starts the next one. */
        vl_writer_job_t *seg = head;
        while (seg) {
            vl_writer_job_t *last = seg;
            while (last->next && last->next->kind != VL_WRITER_TRIM &&
                   last->next->kind != VL_WRITER_TRUNCATE)
                last = last->next;
            vl_writer_job_t *rest = last->next;
            last->next = NULL;
            s_write_batch(&t, seg);
            last->next = rest;
            seg = rest;
        }
        s_send_ptr(w->thread_sock, head);
    }
    vl_store_batch_destroy(&t.batch);
    zhashx_destroy(&t.states);
    free(t.touched);
    return NULL;
}

/*  ---- the server's side ------------------------------------------------- */

int vl_writer_new(vl_store_t *store, vl_writer_t **writer_p)
{
    *writer_p = NULL;
    vl_writer_t *self = vl_calloc(1, sizeof *self);
    self->store = store;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://vl-writer-%p", (void *)self);
    self->server_sock = zsock_new(ZMQ_PAIR);
    self->thread_sock = zsock_new(ZMQ_PAIR);
    if (!self->server_sock || !self->thread_sock || zsock_bind(self->server_sock, "%s", endpoint) ||
        zsock_connect(self->thread_sock, "%s", endpoint)) {
        vl_log(LOG_ERR, "writer: cannot create its inproc sockets: %s", zmq_strerror(zmq_errno()));
        zsock_destroy(&self->server_sock);
        zsock_destroy(&self->thread_sock);
        free(self);
        return VL_EIO;
    }
    /* Unbounded queues: the server bounds what it submits itself. */
    zsock_set_sndhwm(self->server_sock, 0);
    zsock_set_rcvhwm(self->server_sock, 0);
    zsock_set_sndhwm(self->thread_sock, 0);
    zsock_set_rcvhwm(self->thread_sock, 0);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        zsock_destroy(&self->server_sock);
        zsock_destroy(&self->thread_sock);
        free(self);
        return VL_EIO;
    }
    self->started = true;
    *writer_p = self;
    return 0;
}

void vl_writer_destroy(vl_writer_t **self_p)
{
    vl_writer_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        s_send_ptr(self->server_sock, NULL);
        pthread_join(self->thread, NULL);
    }
    /* Jobs the thread finished but the server never read. */
    vl_writer_job_t *head;
    while (s_recv_ptr(self->server_sock, ZMQ_DONTWAIT, (void **)&head) == 0) {
        while (head) {
            vl_writer_job_t *next = head->next;
            vl_writer_job_destroy(&head);
            head = next;
        }
    }
    zsock_destroy(&self->thread_sock);
    zsock_destroy(&self->server_sock);
    free(self);
    *self_p = NULL;
}

int vl_writer_submit(vl_writer_t *self, vl_writer_job_t *job)
{
    job->next = NULL;
    if (s_send_ptr(self->server_sock, job) != 0) {
        s_job_fail(job, VL_EIO,
                   "ls=%u: the writer queue refused the job (%s); restart the "
                   "storage node",
                   job->ls_id, zmq_strerror(zmq_errno()));
        return VL_EIO;
    }
    return 0;
}

zsock_t *vl_writer_sock(vl_writer_t *self)
{
    return self->server_sock;
}

vl_writer_job_t *vl_writer_done(vl_writer_t *self)
{
    vl_writer_job_t *head = NULL;
    if (s_recv_ptr(self->server_sock, ZMQ_DONTWAIT, (void **)&head) != 0)
        return NULL;
    return head;
}
