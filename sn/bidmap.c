/*  bidmap.c - the batch names a primary remembers (see bidmap.h).

    The entries sit in a ring, oldest first; the hash table holds ring
    slot numbers + 1 (0: empty), linear probing, deletion by backward
    shift, at most half full. The ring grows by doubling up to max.
*/
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "bidmap.h"
#include "util.h"

struct vl_bidmap {
    vl_bidmap_entry_t *ring;
    uint32_t cap, max;
    uint32_t head, count; /* ring[(head + i) % cap], i < count, oldest first */
    uint32_t *slots;
    uint32_t mask; /* slots: mask + 1 of them, 2 * cap */
};

static uint32_t s_hash(uint64_t client_id, uint64_t batch_seq)
{
    uint64_t h = client_id ^ (batch_seq * 0x9E3779B97F4A7C15ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static void s_index(vl_bidmap_t *self, uint32_t pos)
{
    const vl_batch_id_t *id = &self->ring[pos].id;
    uint32_t i = s_hash(id->client_id, id->batch_seq) & self->mask;
    while (self->slots[i])
        i = (i + 1) & self->mask;
    self->slots[i] = pos + 1;
}

/*  (Re)makes the ring with cap slots (the entries moved to its front) and
    the table over it. */
static void s_resize(vl_bidmap_t *self, uint32_t cap)
{
    vl_bidmap_entry_t *ring = vl_calloc(cap, sizeof *ring);
    for (uint32_t i = 0; i < self->count; i++)
        ring[i] = self->ring[(self->head + i) % self->cap];
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    free(self->slots);
    self->mask = 2 * cap - 1;
    self->slots = vl_calloc((size_t)self->mask + 1, sizeof *self->slots);
    for (uint32_t i = 0; i < self->count; i++)
        s_index(self, i);
}

vl_bidmap_t *vl_bidmap_new(uint32_t max)
{
    vl_bidmap_t *self = vl_calloc(1, sizeof *self);
    uint32_t cap = 1;
    while (cap < max)
        cap *= 2;
    self->max = cap;
    s_resize(self, cap < 256 ? cap : 256);
    return self;
}

void vl_bidmap_clear(vl_bidmap_t *self)
{
    for (uint32_t i = 0; i < self->count; i++)
        free(self->ring[(self->head + i) % self->cap].runs);
    memset(self->ring, 0, self->cap * sizeof *self->ring);
    memset(self->slots, 0, ((size_t)self->mask + 1) * sizeof *self->slots);
    self->head = self->count = 0;
}

void vl_bidmap_destroy(vl_bidmap_t **self_p)
{
    vl_bidmap_t *self = *self_p;
    if (!self)
        return;
    vl_bidmap_clear(self);
    free(self->ring);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

uint32_t vl_bidmap_size(const vl_bidmap_t *self)
{
    return self->count;
}

/*  The table slot that holds (client_id, batch_seq), or -1. */
static int64_t s_slot(const vl_bidmap_t *self, uint64_t client_id, uint64_t batch_seq)
{
    uint32_t i = s_hash(client_id, batch_seq) & self->mask;
    for (; self->slots[i]; i = (i + 1) & self->mask) {
        const vl_batch_id_t *id = &self->ring[self->slots[i] - 1].id;
        if (id->client_id == client_id && id->batch_seq == batch_seq)
            return i;
    }
    return -1;
}

vl_bidmap_entry_t *vl_bidmap_find(vl_bidmap_t *self, uint64_t client_id, uint64_t batch_seq)
{
    int64_t i = s_slot(self, client_id, batch_seq);
    return i < 0 ? NULL : &self->ring[self->slots[i] - 1];
}

/*  Empties table slot i, moving back the entries of its probe run that
    would no longer be found (backward shift). */
static void s_unindex(vl_bidmap_t *self, uint32_t i)
{
    for (uint32_t j = (i + 1) & self->mask; self->slots[j]; j = (j + 1) & self->mask) {
        const vl_batch_id_t *id = &self->ring[self->slots[j] - 1].id;
        uint32_t home = s_hash(id->client_id, id->batch_seq) & self->mask;
        /* j's entry may move to i when its home is not in (i, j] */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            self->slots[i] = self->slots[j];
            i = j;
        }
    }
    self->slots[i] = 0;
}

vl_bidmap_entry_t *vl_bidmap_add(vl_bidmap_t *self, const vl_batch_id_t *id)
{
    int64_t old = s_slot(self, id->client_id, id->batch_seq);
    if (old >= 0) {
        vl_bidmap_entry_t *e = &self->ring[self->slots[old] - 1];
        vl_bidmap_set_runs(e, NULL, 0);
        e->id = *id;
        e->cut = 0;
        return e;
    }
    if (self->count == self->cap && self->cap < self->max)
        s_resize(self, self->cap * 2);
    if (self->count == self->cap) {
        /* full: the oldest name goes */
        vl_bidmap_entry_t *e = &self->ring[self->head];
        int64_t i = s_slot(self, e->id.client_id, e->id.batch_seq);
        if (i >= 0)
            s_unindex(self, (uint32_t)i);
        free(e->runs);
        memset(e, 0, sizeof *e);
        self->head = (self->head + 1) % self->cap;
        self->count--;
    }
    uint32_t pos = (self->head + self->count) % self->cap;
    self->ring[pos] = (vl_bidmap_entry_t){.id = *id};
    self->count++;
    s_index(self, pos);
    return &self->ring[pos];
}

void vl_bidmap_set_runs(vl_bidmap_entry_t *e, vl_run_t *runs, uint32_t nruns)
{
    free(e->runs);
    e->runs = runs;
    e->nruns = runs ? nruns : 0;
}
