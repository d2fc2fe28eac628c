/*  offsets.h - the group coordinator's records in varlog (varlogkov).

    Implements kov/group.h's vl_kgroup_store_t on the varlog topic
    "__kov_offsets" (created when missing): appends go out as varlog
    batches one at a time, through the data path's workers (vl_kparts_run),
    so records are committed in the order they were handed over and each
    one's callback runs on the loop thread once its batch is committed (or
    failed: a batch whose head a seal committed reports that head as
    committed and the rest as failed). Records waiting while a batch is in
    flight make the next batch (group commit). Trims run on a worker too.
    Replay reads the topic from its trim point to its high watermark with
    a subscriber, on the calling thread (the gateway does it at start,
    before it accepts clients).
*/
#ifndef VL_KOV_OFFSETS_H
#define VL_KOV_OFFSETS_H
#include "group.h"
#include "part.h"
#include "varlog.h"

#define VL_KOFFSETS_TOPIC "__kov_offsets"

typedef struct vl_koffsets vl_koffsets_t;

/*  A store on topic (NULL: VL_KOFFSETS_TOPIC) of the cluster client
    reaches (borrowed, as is parts; both must outlive the store), creating
    the topic with replication factor rf (0: the cluster's default) when it
    is missing. Returns 0, or a VL_E* code with errbuf saying what failed.
    Caller owns the result. */
int vl_koffsets_new(vl_client_t *client, vl_kparts_t *parts, const char *topic, uint32_t rf,
                    vl_koffsets_t **self_p, char *errbuf, size_t errbuf_size);

/*  Frees (NULL-safe). Call after vl_kparts_destroy: the callbacks of
    appends still in flight are not run. */
void vl_koffsets_destroy(vl_koffsets_t **self_p);

/*  The ops table over self (for vl_kgroup_new). */
vl_kgroup_store_t vl_koffsets_store(vl_koffsets_t *self);

#endif
