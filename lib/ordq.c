/*  ordq.c - the in-order completion queue of the appender (vl_ordq_*):
    batches complete out of order (several log streams, several in flight
    each), but callbacks must run in append order. A ring of slots, one per
    pushed item, grown by doubling; the head is handed back only once it
    is done. Unit tested in tests/unit/test_merge.c.
*/
#include <stdbool.h>
#include <stdlib.h>
#include "ordq.h"
#include "util.h"

typedef struct {
    void *item;
    bool done;
} s_slot_t;

struct vl_ordq {
    uint64_t base; /* seq of slots[head] */
    size_t head, n, cap;
    s_slot_t *slots;
};

vl_ordq_t *vl_ordq_new(void)
{
    return vl_calloc(1, sizeof(vl_ordq_t));
}

void vl_ordq_destroy(vl_ordq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

uint64_t vl_ordq_push(vl_ordq_t *self, void *item)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_slot_t *slots = vl_malloc(cap * sizeof *slots);
        for (size_t i = 0; i < self->n; i++)
            slots[i] = self->slots[(self->head + i) % self->cap];
        free(self->slots);
        self->slots = slots;
        self->cap = cap;
        self->head = 0;
    }
    self->slots[(self->head + self->n) % self->cap] = (s_slot_t){.item = item};
    self->n++;
    return self->base + self->n - 1;
}

void vl_ordq_done(vl_ordq_t *self, uint64_t seq)
{
    if (seq < self->base || seq - self->base >= self->n)
        return;
    self->slots[(self->head + (seq - self->base)) % self->cap].done = true;
}

void *vl_ordq_pop(vl_ordq_t *self)
{
    if (self->n == 0 || !self->slots[self->head].done)
        return NULL;
    void *item = self->slots[self->head].item;
    self->head = (self->head + 1) % self->cap;
    self->n--;
    self->base++;
    return item;
}

size_t vl_ordq_size(const vl_ordq_t *self)
{
    return self->n;
}
