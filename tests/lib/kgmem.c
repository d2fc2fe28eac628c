/*  kgmem.c - the in-memory twin of the group coordinator's store. */
#include <stdlib.h>
#include <string.h>
#include "kgmem.h"
#include "util.h"
#include "varlog_err.h"

typedef struct {
    uint8_t *data;
    size_t len;
    uint64_t glsn;
} s_rec_t;

typedef struct {
    uint8_t *data;
    size_t len;
    vl_kgroup_stored_fn *done;
    void *arg;
} s_pend_t;

struct kgmem {
    s_rec_t *recs;
    size_t nrecs, first; /* recs[first..nrecs) are kept */
    uint64_t next_glsn;
    s_pend_t *pend;
    size_t npend;
    size_t fail_n;
    int fail_rc;
};

kgmem_t *kgmem_new(void)
{
    kgmem_t *self = vl_calloc(1, sizeof *self);
    self->next_glsn = 1;
    return self;
}

void kgmem_destroy(kgmem_t **self_p)
{
    kgmem_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nrecs; i++)
        free(self->recs[i].data);
    for (size_t i = 0; i < self->npend; i++)
        free(self->pend[i].data);
    free(self->recs);
    free(self->pend);
    free(self);
    *self_p = NULL;
}

static void s_add(kgmem_t *self, const void *data, size_t len)
{
    self->recs = vl_realloc(self->recs, (self->nrecs + 1) * sizeof *self->recs);
    s_rec_t *r = &self->recs[self->nrecs++];
    r->data = vl_malloc(len + 1);
    memcpy(r->data, data, len);
    r->len = len;
    r->glsn = self->next_glsn++;
}

static void s_append(void *ctx, const uint8_t *data, size_t len, vl_kgroup_stored_fn *done,
                     void *arg)
{
    kgmem_t *self = ctx;
    self->pend = vl_realloc(self->pend, (self->npend + 1) * sizeof *self->pend);
    s_pend_t *p = &self->pend[self->npend++];
    p->data = vl_malloc(len + 1);
    memcpy(p->data, data, len);
    p->len = len;
    p->done = done;
    p->arg = arg;
}

static void s_trim(void *ctx, uint64_t glsn)
{
    kgmem_t *self = ctx;
    while (self->first < self->nrecs && self->recs[self->first].glsn < glsn) {
        free(self->recs[self->first].data);
        self->recs[self->first].data = NULL;
        self->first++;
    }
}

static int s_replay(void *ctx, vl_kgroup_record_fn *fn, void *fnarg, char *errbuf, size_t size)
{
    kgmem_t *self = ctx;
    (void)errbuf;
    (void)size;
    for (size_t i = self->first; i < self->nrecs; i++) {
        int rc = fn(fnarg, self->recs[i].glsn, self->recs[i].data, self->recs[i].len);
        if (rc)
            return rc;
    }
    return 0;
}

vl_kgroup_store_t kgmem_store(kgmem_t *self)
{
    vl_kgroup_store_t s = {.ctx = self, .append = s_append, .trim = s_trim, .replay = s_replay};
    return s;
}

size_t kgmem_complete(kgmem_t *self, size_t max)
{
    size_t done = 0;
    /* callbacks may append more: take one at a time from the front */
    while (done < max && self->npend > 0) {
        s_pend_t p = self->pend[0];
        memmove(self->pend, self->pend + 1, (self->npend - 1) * sizeof *self->pend);
        self->npend--;
        if (self->fail_n > 0) {
            self->fail_n--;
            p.done(p.arg, self->fail_rc, 0);
        } else {
            s_add(self, p.data, p.len);
            p.done(p.arg, 0, self->next_glsn - 1);
        }
        free(p.data);
        done++;
    }
    return done;
}

void kgmem_fail_next(kgmem_t *self, size_t n, int rc)
{
    self->fail_n = n;
    self->fail_rc = rc;
}

size_t kgmem_pending(kgmem_t *self)
{
    return self->npend;
}

size_t kgmem_count(kgmem_t *self)
{
    return self->nrecs - self->first;
}

uint64_t kgmem_trim_point(kgmem_t *self)
{
    return self->first < self->nrecs ? self->recs[self->first].glsn : self->next_glsn;
}

const uint8_t *kgmem_record(kgmem_t *self, size_t i, size_t *len, uint64_t *glsn)
{
    s_rec_t *r = &self->recs[self->first + i];
    *len = r->len;
    if (glsn)
        *glsn = r->glsn;
    return r->data;
}

void kgmem_put(kgmem_t *self, const void *data, size_t len)
{
    s_add(self, data, len);
}

kgmem_t *kgmem_prefix(kgmem_t *self, size_t n)
{
    kgmem_t *copy = kgmem_new();
    for (size_t i = 0; i < n && self->first + i < self->nrecs; i++) {
        s_rec_t *r = &self->recs[self->first + i];
        copy->next_glsn = r->glsn;
        s_add(copy, r->data, r->len);
    }
    return copy;
}
