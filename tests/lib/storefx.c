/*  storefx.c - what the storage node's store tests share (test_store,
    test_vlog): a store in a fresh temp directory per test (cmocka's setup
    and teardown), a reopen (what a restart recovers), and entries written
    and read back the way the writer thread and the readers do.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../lib/util.h"
#include "storefx.h"

int stfx_setup(void **state)
{
    stfx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vl-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (vl_store_open(f->dir, 0, &f->store) != 0)
        return -1;
    *state = f;
    return 0;
}

int stfx_teardown(void **state)
{
    stfx_t *f = *state;
    vl_store_destroy(&f->store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

void stfx_reopen(stfx_t *f)
{
    vl_store_destroy(&f->store);
    assert_null(f->store);
    assert_int_equal(vl_store_open(f->dir, 0, &f->store), 0);
}

/*  The store appends entries to one buffer (and their sizes); this cuts it
    back into one frame per entry for the checks, and checks the sizes add
    up. */
int stfx_read_entries(vl_store_t *store, uint32_t ls_id, uint64_t llsn_begin, uint32_t max_n,
                      size_t max_bytes, zmsg_t *frames, uint32_t *n_p, uint64_t *bytes_p)
{
    vl_wbuf_t sizes, data;
    vl_wbuf_init(&sizes);
    vl_wbuf_init(&data);
    int rc = vl_store_read_entries(store, ls_id, llsn_begin, max_n, max_bytes, &sizes, &data, n_p,
                                   bytes_p);
    assert_int_equal(sizes.len, 4 * (size_t)*n_p);
    assert_int_equal(data.len, *bytes_p);
    size_t off = 0;
    for (uint32_t i = 0; i < *n_p; i++) {
        uint32_t size = vl_wire_size(sizes.data, i);
        zmsg_addmem(frames, data.data + off, size);
        off += size;
    }
    assert_int_equal(off, data.len);
    vl_wbuf_free(&sizes);
    vl_wbuf_free(&data);
    return rc;
}

/*  Writes entries "<ls>-<llsn>" padded to size (llsn % 7) + 4 and the new
    state, as the writer does; returns the bytes written. */
uint64_t stfx_entry(uint32_t ls, uint64_t llsn, char *buf)
{
    size_t size = (size_t)(llsn % 7) + 4;
    memset(buf, 'x', size);
    int n = snprintf(buf, size, "%u-%llu", ls, (unsigned long long)llsn);
    (void)n;
    return size;
}

void stfx_write(vl_store_t *store, vl_store_state_t *st, uint64_t n)
{
    vl_store_batch_t *b = vl_store_batch_new();
    char buf[32];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t llsn = st->llsn_end + 1;
        uint64_t size = stfx_entry(st->ls_id, llsn, buf);
        vl_store_batch_put_entry(b, store, st->ls_id, llsn, buf, size);
        st->llsn_end = llsn;
        st->bytes_end += size;
    }
    vl_store_batch_put_state(b, st);
    assert_int_equal(vl_store_write(store, b, true), 0);
    vl_store_batch_destroy(&b);
    assert_null(b);
}

/*  Commits the next count entries of st at glsn/offset. */
void stfx_commit(vl_store_t *store, vl_store_state_t *st, uint64_t glsn, uint64_t offset,
                 uint64_t count)
{
    vl_store_range_t r = {.glsn_begin = glsn,
                          .llsn_begin = st->applied_llsn_end + 1,
                          .count = count,
                          .offset_begin = offset,
                          .version = glsn};
    char buf[32];
    for (uint64_t i = 0; i < count; i++)
        r.bytes += stfx_entry(st->ls_id, r.llsn_begin + i, buf);
    vl_store_batch_t *b = vl_store_batch_new();
    vl_store_batch_put_range(b, st->ls_id, &r);
    st->applied_llsn_end += count;
    st->hwm = glsn + count - 1;
    vl_store_batch_put_state(b, st);
    assert_int_equal(vl_store_write(store, b, false), 0);
    vl_store_batch_destroy(&b);
}

/*  Puts the entries given as strings llsn_begin.. as one stored batch. */
void stfx_put_strs(vl_store_t *store, uint32_t ls, uint64_t llsn_begin, const char **e, uint32_t n)
{
    uint8_t sizes[64];
    char data[256];
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        vl_put_le32(sizes + 4 * i, (uint32_t)strlen(e[i]));
        memcpy(data + bytes, e[i], strlen(e[i]));
        bytes += strlen(e[i]);
    }
    vl_store_batch_t *b = vl_store_batch_new();
    vl_store_batch_put_entries(b, store, ls, llsn_begin, n, sizes, data, bytes);
    assert_int_equal(vl_store_write(store, b, false), 0);
    vl_store_batch_destroy(&b);
}

/*  Reads entries llsn.. (at most max_n, max_bytes) and returns them joined
    with '|' in out. */
uint32_t stfx_read_strs(vl_store_t *store, uint32_t ls, uint64_t llsn, uint32_t max_n,
                        size_t max_bytes, char *out)
{
    vl_wbuf_t sizes, data;
    vl_wbuf_init(&sizes);
    vl_wbuf_init(&data);
    uint32_t n;
    uint64_t bytes;
    assert_int_equal(
        vl_store_read_entries(store, ls, llsn, max_n, max_bytes, &sizes, &data, &n, &bytes), 0);
    size_t at = 0, o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size = vl_wire_size(sizes.data, i);
        if (i)
            out[o++] = '|';
        memcpy(out + o, data.data + at, size);
        o += size;
        at += size;
    }
    out[o] = '\0';
    assert_int_equal(at, bytes);
    vl_wbuf_free(&sizes);
    vl_wbuf_free(&data);
    return n;
}
