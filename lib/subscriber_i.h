/*  subscriber_i.h - what the library's own modules use of the subscriber
    beyond varlog.h.

    vl_trim reads one entry (the new trim point's, for its byte offset)
    while it holds the client's lock. The mutex is not recursive, so that
    subscriber must fetch its routes without taking the lock again.
*/
#ifndef VL_SUBSCRIBER_I_H
#define VL_SUBSCRIBER_I_H
#include <stdbool.h>
#include "varlog.h"

/*  vl_subscribe; locked: the caller holds the client's lock for as long as
    the subscriber lives, and the subscriber's metadata fetches (here and in
    vl_subscriber_next) use vl_client_route_locked. */
int vl_subscriber_open(vl_client_t *client, const char *topic, uint64_t glsn_begin,
                       uint64_t glsn_end, bool locked, vl_subscriber_t **sub_p);

/*  vl_subscriber_next, and with it the entries right after it, while they
    are at consecutive GLSNs, back to back in the topic's bytes and in the
    same message from the storage node, up to max_bytes in all (0: one
    entry): entry->data and size are then the run's bytes, glsn, llsn and
    offset its first entry's, and *count says how many entries it holds.
    For a reader of bytes (varlogfs), which copies a run at once. */
int vl_subscriber_next_run(vl_subscriber_t *sub, vl_entry_t *entry, int timeout_ms,
                           size_t max_bytes, size_t *count);

#endif
