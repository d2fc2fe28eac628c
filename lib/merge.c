/*  merge.c - the merge of per-log-stream queues by GLSN (vl_merge_*): the
    heart of a subscriber, kept free of sockets so that it can be unit
    tested with in-memory inputs (tests/unit/test_merge.c).

    GLSNs of a topic are dense, so the merge knows which GLSN comes next and
    delivers it as soon as it heads one source's queue; nothing needs to be
    known about the other sources. Items are queued in chunks, one per
    pushed owner (a received message), so that an owner is released once
    its last item was delivered and the caller came back for the next one.
*/
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "merge.h"
#include "util.h"

typedef struct s_chunk {
    struct s_chunk *next;
    void *owner;
    size_t n, pos;
    vl_merge_item_t *items;
} s_chunk_t;

typedef struct {
    s_chunk_t *head, *tail;
    size_t queued;
    uint64_t last; /* last GLSN pushed, 0 before any */
    bool ended;
} s_source_t;

struct vl_merge {
    uint64_t next, end;
    vl_merge_release_fn *release;
    void *arg;
    s_source_t *src;
    size_t nsrc;
    size_t last_src; /* the source of the last entry delivered */
    s_chunk_t *held; /* delivered last; released at the next pop */
    char errmsg[256];
};

vl_merge_t *vl_merge_new(uint64_t begin, uint64_t end, vl_merge_release_fn *release, void *arg)
{
    vl_merge_t *self = vl_calloc(1, sizeof *self);
    self->next = begin;
    self->end = end;
    self->release = release;
    self->arg = arg;
    return self;
}

static void s_chunk_release(vl_merge_t *self, s_chunk_t *chunk)
{
    if (!chunk)
        return;
    if (self->release && chunk->owner)
        self->release(self->arg, chunk->owner);
    free(chunk->items);
    free(chunk);
}

void vl_merge_destroy(vl_merge_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_merge_t *self = *self_p;
    s_chunk_release(self, self->held);
    for (size_t i = 0; i < self->nsrc; i++) {
        s_chunk_t *c = self->src[i].head;
        while (c) {
            s_chunk_t *next = c->next;
            s_chunk_release(self, c);
            c = next;
        }
    }
    free(self->src);
    free(self);
    *self_p = NULL;
}

size_t vl_merge_add_source(vl_merge_t *self)
{
    self->src = vl_realloc(self->src, (self->nsrc + 1) * sizeof *self->src);
    memset(&self->src[self->nsrc], 0, sizeof *self->src);
    return self->nsrc++;
}

int vl_merge_push(vl_merge_t *self, size_t src, const vl_merge_item_t *items, size_t n, void *owner)
{
    assert(src < self->nsrc);
    s_source_t *s = &self->src[src];
    s_chunk_t *chunk = vl_calloc(1, sizeof *chunk);
    chunk->owner = owner;
    uint64_t last = s->last;
    for (size_t i = 0; i < n; i++) {
        uint64_t g = items[i].glsn;
        const char *why = NULL;
        if (g <= last)
            why = "does not grow within its log stream";
        else if (g < self->next)
            why = "was already delivered";
        else if (g >= self->end)
            why = "is past the end of the requested range";
        if (why) {
            snprintf(self->errmsg, sizeof self->errmsg,
                     "protocol error: GLSN %llu %s (previous %llu, next expected %llu)",
                     (unsigned long long)g, why, (unsigned long long)last,
                     (unsigned long long)self->next);
            s_chunk_release(self, chunk);
            return VL_EPROTO;
        }
        last = g;
    }
    if (n == 0) {
        s_chunk_release(self, chunk);
        return 0;
    }
    chunk->items = vl_malloc(n * sizeof *items);
    memcpy(chunk->items, items, n * sizeof *items);
    chunk->n = n;
    s->last = last;
    s->queued += n;
    if (s->tail)
        s->tail->next = chunk;
    else
        s->head = chunk;
    s->tail = chunk;
    return 0;
}

void vl_merge_end_source(vl_merge_t *self, size_t src)
{
    assert(src < self->nsrc);
    self->src[src].ended = true;
}

int vl_merge_pop(vl_merge_t *self, vl_merge_item_t *item, size_t *src, bool *ready)
{
    size_t count;
    return vl_merge_pop_run(self, item, src, ready, 0, &count);
}

int vl_merge_pop_run(vl_merge_t *self, vl_merge_item_t *item, size_t *src, bool *ready,
                     size_t max_bytes, size_t *count)
{
    *ready = false;
    *count = 0;
    s_chunk_release(self, self->held);
    self->held = NULL;
    if (self->next >= self->end)
        return VL_EEOF;
    /* the source of the last entry most often has the next one too (a
       commit item is a run of GLSNs of one log stream): it is looked at
       first, and the others (with their checks) only when it has not */
    size_t found = SIZE_MAX;
    if (self->last_src < self->nsrc) {
        const s_source_t *s = &self->src[self->last_src];
        if (s->head && s->head->items[s->head->pos].glsn == self->next)
            found = self->last_src;
    }
    bool all_ended = self->nsrc > 0;
    for (size_t i = 0; i < self->nsrc && found == SIZE_MAX; i++) {
        s_source_t *s = &self->src[i];
        if (!s->ended)
            all_ended = false;
        if (!s->head)
            continue;
        uint64_t g = s->head->items[s->head->pos].glsn;
        if (g < self->next) {
            snprintf(self->errmsg, sizeof self->errmsg,
                     "protocol error: GLSN %llu came from two log streams", (unsigned long long)g);
            return VL_EPROTO;
        }
        if (g == self->next)
            found = i;
    }
    if (found == SIZE_MAX) {
        if (all_ended) {
            snprintf(self->errmsg, sizeof self->errmsg,
                     "GLSN %llu is in no log stream: every stream ended without it",
                     (unsigned long long)self->next);
            return VL_EPROTO;
        }
        return 0;
    }
    s_source_t *s = &self->src[found];
    s_chunk_t *chunk = s->head;
    *item = chunk->items[chunk->pos++];
    *src = found;
    self->last_src = found;
    *ready = true;
    *count = 1;
    s->queued--;
    self->next++;
    /* the run: GLSNs are unique within the topic, so the next one in this
       chunk is the next to deliver whatever the other sources hold */
    while (max_bytes > 0 && chunk->pos < chunk->n) {
        const vl_merge_item_t *nx = &chunk->items[chunk->pos];
        if (nx->glsn != self->next || nx->offset != item->offset + item->size ||
            (uintptr_t)nx->data != (uintptr_t)item->data + item->size ||
            nx->size > max_bytes || item->size > max_bytes - nx->size)
            break;
        item->size += nx->size;
        chunk->pos++;
        (*count)++;
        s->queued--;
        self->next++;
    }
    if (chunk->pos == chunk->n) {
        s->head = chunk->next;
        if (!s->head)
            s->tail = NULL;
        self->held = chunk; /* item->data points into it */
    }
    return 0;
}

uint64_t vl_merge_next(const vl_merge_t *self)
{
    return self->next;
}

uint64_t vl_merge_resume(const vl_merge_t *self, size_t src)
{
    uint64_t after = self->src[src].last + 1;
    return after > self->next ? after : self->next;
}

size_t vl_merge_queued(const vl_merge_t *self, size_t src)
{
    return self->src[src].queued;
}

const char *vl_merge_errmsg(const vl_merge_t *self)
{
    return self->errmsg;
}
