/*  wirefx.h - what the wire codec's tests share (test_wire, test_wire_frame,
    test_wire_body): the allocation counts the linker wraps keep, byte
    helpers, a valid sample of every message body (WFX_*: its encoding by
    wfx_sample_encode, its values below) and an adapter per decoder
    (wfx_try_*) that checks what the decoder promises.

    A binary that links wirefx.c links with -Wl,--wrap=vl_calloc
    -Wl,--wrap=free (Makefile.am). The helpers assert with cmocka.
*/
#ifndef VL_TESTS_WIREFX_H
#define VL_TESTS_WIREFX_H

#include <stddef.h>
#include <stdint.h>
#include "wire.h"

/*  vl_calloc results not yet freed, and vl_calloc calls since an adapter
    started (the linker wraps count them). */
extern size_t wfx_nlive;
extern size_t wfx_calloc_calls;

/*  A heap copy of exactly len bytes of data (NULL when len is 0), so that
    a read past the end is caught by ASan. Caller frees. */
uint8_t *wfx_exact(const void *data, size_t len);

/*  A heap string of n times c. Caller frees. */
char *wfx_repeat(char c, size_t n);

/*  Appends a string field written by hand to b: u16 length n and the raw
    bytes (which may hold a NUL or pass any maximum). */
void wfx_raw_str(vl_wbuf_t *b, const void *bytes, uint16_t n);

/*  The sample messages wfx_sample_encode encodes (META and the admin body
    are built when encoded: wfx_meta, wfx_admin). */
extern vl_report_item_t wfx_report_items[];
extern const vl_report_t wfx_report;
extern vl_commit_item_t wfx_commit_items[];
extern const vl_commit_t wfx_commit;
extern vl_run_t wfx_runs[];
extern const vl_append_reply_t wfx_append_reply;
extern const vl_batch_status_t wfx_batch_status;
extern vl_entry_pos_t wfx_entries[];
extern const vl_sub_data_t wfx_sub_data;
extern vl_sn_replica_t wfx_replicas[];
extern const vl_sn_status_t wfx_sn_status;
extern const vl_subscribe_t wfx_subscribe;
extern vl_meta_t wfx_meta;
extern vl_admin_t wfx_admin;
extern const vl_seal_reply_t wfx_seal_reply;
extern const vl_sync_t wfx_sync;
extern vl_sync_item_t wfx_sync_items[];
extern const vl_sync_reply_t wfx_sync_reply;
extern const vl_notleader_t wfx_notleader;
extern vl_mr_status_t wfx_mr_status;
extern uint8_t wfx_append_sizes[4 * VL_WIRE_MAX_ENTRIES];
extern const vl_append_t wfx_append;

/*  Fills the sizes and batch names of wfx_append. */
void wfx_fill_sizes(void);

/*  An adapter decodes len bytes at data with one decoder and checks its
    promises (wirefx.c says which); returns the decoder's code. */
typedef int (*wfx_try_fn)(const uint8_t *data, size_t len);

int wfx_try_report(const uint8_t *data, size_t len);
int wfx_try_commit(const uint8_t *data, size_t len);
int wfx_try_meta(const uint8_t *data, size_t len);
int wfx_try_admin(const uint8_t *data, size_t len);
int wfx_try_append(const uint8_t *data, size_t len);
int wfx_try_replicate(const uint8_t *data, size_t len);
int wfx_try_append_reply(const uint8_t *data, size_t len);
int wfx_try_batch_status(const uint8_t *data, size_t len);
int wfx_try_batch_status_reply(const uint8_t *data, size_t len);
int wfx_try_subscribe(const uint8_t *data, size_t len);
int wfx_try_sub_data(const uint8_t *data, size_t len);
int wfx_try_sn_status(const uint8_t *data, size_t len);
int wfx_try_seal_reply(const uint8_t *data, size_t len);
int wfx_try_sync(const uint8_t *data, size_t len);
int wfx_try_sync_reply(const uint8_t *data, size_t len);
int wfx_try_notleader(const uint8_t *data, size_t len);
int wfx_try_mr_status(const uint8_t *data, size_t len);
int wfx_try_mr_add(const uint8_t *data, size_t len);
/*  vl_wire_errtext on the body: the text is always terminated. Returns 0. */
int wfx_try_errtext(const uint8_t *data, size_t len);

/*  Every body codec: its adapter and a valid sample encoding. */
enum {
    WFX_REPORT,
    WFX_COMMIT,
    WFX_META,
    WFX_ADMIN,
    WFX_APPEND,
    WFX_REPLICATE,
    WFX_APPEND_REPLY,
    WFX_SUBSCRIBE,
    WFX_SUB_DATA,
    WFX_SN_STATUS,
    WFX_SEAL_REPLY,
    WFX_SYNC,
    WFX_SYNC_REPLY,
    WFX_BATCH_STATUS,
    WFX_BATCH_STATUS_REPLY,
    WFX_NOTLEADER,
    WFX_MR_STATUS,
    WFX_MR_ADD,
    WFX_NCODECS
};
typedef struct {
    const char *name;
    wfx_try_fn try;
} wfx_codec_t;
extern const wfx_codec_t wfx_codecs[WFX_NCODECS];

/*  Initializes b and encodes the sample of codec (WFX_*) into it. Caller
    frees b. */
void wfx_sample_encode(int codec, vl_wbuf_t *b);

/*  Runs an adapter on an exact-size heap copy of len bytes at data, or of
    b's bytes. */
int wfx_try_exact(wfx_try_fn try, const void *data, size_t len);
int wfx_try_wbuf(wfx_try_fn try, const vl_wbuf_t *b);

#endif
