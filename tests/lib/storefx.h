/*  storefx.h - what the storage node's store tests share (test_store,
    test_vlog): a store in a fresh temp directory per test, and entries
    written and read back the way the writer thread and the readers do.
    The helpers assert with cmocka.
*/
#ifndef VL_TESTS_STOREFX_H
#define VL_TESTS_STOREFX_H

#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "../../sn/store.h"

/*  A test's store and its directory. */
typedef struct {
    char dir[256];
    vl_store_t *store;
} stfx_t;

/*  cmocka setup: opens a store in a new /tmp/vl-test-store-XXXXXX; *state
    is its stfx_t. */
int stfx_setup(void **state);

/*  cmocka teardown: closes the store and removes its directory. */
int stfx_teardown(void **state);

/*  Closes the store and opens it again (a restart). */
void stfx_reopen(stfx_t *f);

/*  vl_store_read_entries, with the entries appended to frames one frame
    each; checks the sizes add up. Returns its code. */
int stfx_read_entries(vl_store_t *store, uint32_t ls_id, uint64_t llsn_begin, uint32_t max_n,
                      size_t max_bytes, zmsg_t *frames, uint32_t *n_p, uint64_t *bytes_p);

/*  Writes entry llsn of ls ("<ls>-<llsn>" padded with 'x' to (llsn % 7) + 4
    bytes) into buf; returns its size. */
uint64_t stfx_entry(uint32_t ls, uint64_t llsn, char *buf);

/*  Writes the next n entries of st (stfx_entry) and its new state in one
    synced write, as the writer does. */
void stfx_write(vl_store_t *store, vl_store_state_t *st, uint64_t n);

/*  Commits the next count entries of st at glsn/offset. */
void stfx_commit(vl_store_t *store, vl_store_state_t *st, uint64_t glsn, uint64_t offset,
                 uint64_t count);

/*  Puts the entries given as strings llsn_begin.. as one stored batch. */
void stfx_put_strs(vl_store_t *store, uint32_t ls, uint64_t llsn_begin, const char **e, uint32_t n);

/*  Reads entries llsn.. (at most max_n, max_bytes) and returns them joined
    with '|' in out; returns how many. */
uint32_t stfx_read_strs(vl_store_t *store, uint32_t ls, uint64_t llsn, uint32_t max_n,
                        size_t max_bytes, char *out);

#endif
