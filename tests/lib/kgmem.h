/*  kgmem.h - an in-memory twin of the group coordinator's store (tests).

    Records live in an array with GLSNs 1, 2, ...; appends wait until the
    test completes them (kgmem_complete), so a test decides when a record
    is committed, and may make the next completions fail instead. Trim
    drops a prefix; replay hands out what is kept, in order.
*/
#ifndef VL_TESTS_KGMEM_H
#define VL_TESTS_KGMEM_H
#include <stddef.h>
#include <stdint.h>
#include "group.h"

typedef struct kgmem kgmem_t;

kgmem_t *kgmem_new(void);
void kgmem_destroy(kgmem_t **self_p);

/*  The ops table over self. */
vl_kgroup_store_t kgmem_store(kgmem_t *self);

/*  Completes up to max pending appends, in order (committing them, or
    failing them while kgmem_fail_next has failures left); returns how many. */
size_t kgmem_complete(kgmem_t *self, size_t max);

/*  The next n completions fail with rc and commit nothing. */
void kgmem_fail_next(kgmem_t *self, size_t n, int rc);

/*  Appends waiting for kgmem_complete. */
size_t kgmem_pending(kgmem_t *self);

/*  Records kept, and the GLSN of the first of them (the trim point). */
size_t kgmem_count(kgmem_t *self);
uint64_t kgmem_trim_point(kgmem_t *self);

/*  Record i (0 = the first kept): its bytes, length and GLSN. */
const uint8_t *kgmem_record(kgmem_t *self, size_t i, size_t *len, uint64_t *glsn);

/*  Writes a record straight into the log (what a foreign writer could). */
void kgmem_put(kgmem_t *self, const void *data, size_t len);

/*  A copy of the first n kept records (a log cut short by a crash). */
kgmem_t *kgmem_prefix(kgmem_t *self, size_t n);

#endif
