/*  snfx.h - the storage node actor in-process (vl_sn_new on
    tcp://127.0.0.1:*) and its peers played by the test over real sockets
    (test_snserver): a fake metadata repository that answers HELLO and
    sends META and COMMIT, a client DEALER that sends APPEND and SUBSCRIBE,
    and a primary's REPLICATE. One topic (SNFX_TOPIC) with one log stream
    (SNFX_LS) or a few; node 1 is the SN under test, node 2 a peer that
    does not run. The helpers assert with cmocka (tests/lib/fixture.h).
*/
#ifndef VL_TESTS_SNFX_H
#define VL_TESTS_SNFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "server.h"
#include "wire.h"

#define SNFX_CLUSTER 7
#define SNFX_TOPIC 1
#define SNFX_LS 1

/*  The SN under test and its peers. */
typedef struct {
    char dir[64];
    zsock_t *mr; /* the fake MR */
    vl_sn_t *sn;
    char sn_ep[VL_WIRE_MAX_ADDR + 1];
    zframe_t *sn_rid; /* the SN's routing id at the fake MR */
    uint64_t meta_version;
    uint64_t term;   /* the MR leader term of the METAs and COMMITs sent */
    zsock_t *client; /* a DEALER to the SN */
    uint64_t next_id;
    char mr_ep[64];
    bool sync;
    uint32_t epoch; /* the log stream's epoch in the last META: APPENDs carry it */
} snfx_t;

/*  What the next META says about the one log stream. */
typedef struct {
    uint8_t state;
    uint32_t nrep;
    uint32_t replicas[VL_WIRE_MAX_REPLICAS];
    uint64_t committed_llsn_end, committed_bytes;
    uint64_t hwm, end_offset, trim_glsn, trim_offset;
    uint32_t epoch;
} snfx_ls_view_t;

/*  A running log stream of one replica, on node 1. */
extern const snfx_ls_view_t snfx_rf1;

/*  Starts the SN (fsyncing when sync) and the fake MR, answers HELLO with
    one log stream, or nls, described by v. Caller finishes the result. */
snfx_t *snfx_start(const snfx_ls_view_t *v, bool sync);
snfx_t *snfx_start_n(const snfx_ls_view_t *v, uint32_t nls, bool sync);

/*  Stops the SN but keeps its data directory (a test opens the store). */
void snfx_stop_sn(snfx_t *f);

/*  Stops the SN and starts it again on its data directory (a restart),
    answering its HELLO with v; f->client is a new DEALER to it. */
void snfx_restart_sn(snfx_t *f, const snfx_ls_view_t *v);

/*  Stops everything, removes the data directory, frees *f_p and sets it
    to NULL. */
void snfx_finish(snfx_t **f_p);

/*  Sends META (as the reply to the HELLO hello when not NULL) with one log
    stream, or nls (ids SNFX_LS, SNFX_LS + 1, ..), each described by v. */
void snfx_send_meta(snfx_t *f, const vl_hdr_t *hello, const snfx_ls_view_t *v);
void snfx_send_meta_n(snfx_t *f, const vl_hdr_t *hello, const snfx_ls_view_t *v, uint32_t nls);

/*  Receives the next REPORT within ms into *r (caller frees); false if
    none came. */
bool snfx_next_report(snfx_t *f, int ms, vl_report_t *r);

/*  Waits (5 s, or fails) for a REPORT whose item for SNFX_LS has reached
    llsn_end and applied; fills *out when not NULL. */
void snfx_wait_report(snfx_t *f, uint64_t llsn_end, uint64_t applied, vl_report_item_t *out);

/*  Waits (5 s, or fails) for a REPORT that shows SNFX_LS in ls_state. */
void snfx_wait_report_state(snfx_t *f, uint8_t ls_state);

/*  Sends COMMIT (version) of one range of SNFX_LS from the fake MR. */
void snfx_send_commit(snfx_t *f, uint64_t version, uint64_t llsn_begin, uint64_t glsn_begin,
                      uint64_t count, uint64_t offset_begin, uint64_t bytes);

/*  Sends APPEND of n entries (entry i is size bytes of 'a' + i) from the
    client, named (client_id, batch_seq) or unnamed; or of one entry
    holding text. Returns its request id. */
uint64_t snfx_send_append_named(snfx_t *f, uint32_t n, size_t size, uint64_t client_id,
                                uint64_t batch_seq);
uint64_t snfx_send_append(snfx_t *f, uint32_t n, size_t size);
uint64_t snfx_send_append_text(snfx_t *f, const char *text);

/*  Sends REPLICATE (llsn_begin.., n entries of size bytes filled with
    fill, epoch, and the nids batch names ids) on sock as a primary would;
    returns its request id. */
uint64_t snfx_send_replicate_bids(snfx_t *f, zsock_t *sock, uint64_t llsn_begin, uint32_t n,
                                  size_t size, char fill, uint32_t epoch, const vl_batch_id_t *ids,
                                  uint32_t nids);
uint64_t snfx_send_replicate(snfx_t *f, zsock_t *sock, uint64_t llsn_begin, uint32_t n, size_t size,
                             char fill, uint32_t epoch);

/*  Sends a request with a subscribe-shaped body (SUBSCRIBE, LOOKUP) from
    the client; returns its request id. */
uint64_t snfx_send_sub(snfx_t *f, uint16_t type, uint64_t glsn_begin, uint64_t glsn_end,
                       uint32_t credit);

/*  Makes the n-th next writer job of kind ("WRITE", "COMMIT", ..) fail. */
void snfx_fault(snfx_t *f, const char *kind, int n);

/*  Waits (5 s, or fails) until SN_STATUS shows SNFX_LS trimmed to
    trim_glsn at least (the META that trims is applied, its trim queued). */
void snfx_wait_trim_seen(snfx_t *f, uint64_t trim_glsn);

#endif
