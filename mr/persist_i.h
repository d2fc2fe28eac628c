/*  persist_i.h - private structures shared by the MR store's files.

    persist.c  the store: open and close, the S/T/L/V records, loading
               (with the replay of the rounds after the last metadata
               write), metadata writes and the commit rounds' batches
    group.c    the format of the commit history's records: G values (one
               round's items of a topic) and K values (checkpoints)
    history.c  reads of the commit history: a log stream's ranges from
               an LLSN on, the range that holds a GLSN
    persist_fsm.c  the store as the replicated state machine's: applying
               a replicated batch with its raft index, snapshots and their
               restore, the rounds a replicated batch holds

    The key builders and the walk over a group's items are inline here: a
    commit round builds a key per topic and encodes every item, and loads
    and history reads walk every item of the groups they read.
*/
#ifndef VL_MR_PERSIST_I_H
#define VL_MR_PERSIST_I_H
#include <rocksdb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "persist.h"
#include "util.h"

#define S_FMT 1
#define S_FMT_GROUP 2       /* a G value with varint items (S_FMT: fixed items) */
#define S_CKPT_EVERY 64     /* groups of a topic between two checkpoints */
#define S_GROUP_HDR 21      /* fmt u8, version u64, offset_begin u64, n u32 */
#define S_GROUP_ITEM 28     /* format 1: ls u32, llsn_begin u64, count u64, bytes u64 */
#define S_GROUP_ITEM_MAX 35 /* format 2: ls delta (5), llsn_begin, count, bytes (10 each) */
#define S_CKPT_HDR 21       /* fmt u8, version u64, end_offset u64, n u32 */
#define S_CKPT_ITEM 20      /* ls u32, llsn_end u64, bytes u64 */
#define S_PRUNE_SPAN 16     /* checkpoints a prune removes at least (history.c) */

/*  The commit history a snapshot carries, about (persist_fsm.c). */
#define S_SNAP_BYTES (2 << 20)

/*  Groups written per topic since its last checkpoint (loop thread only). */
typedef struct {
    uint32_t topic_id, groups;
} s_ckpt_count_t;

struct vl_persist {
    char *dir;
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_writeoptions_t *wsync, *wnosync;
    rocksdb_readoptions_t *ropts;
    s_ckpt_count_t *ckpt;
    size_t nckpt;
    uint8_t *gbuf; /* a G value being built (loop thread only) */
    size_t gcap;
    uint64_t applied; /* the raft index of the last command applied (key A) */
};

/*  The history a round's batch prunes (vl_persist_prune_add): of topic_id,
    the groups up to checkpoint hwm and the checkpoints before it. */
typedef struct {
    uint32_t topic_id;
    uint64_t hwm;
} s_prune_t;

/*  The range deletes that end a batch: added to its write only when its
    bytes are first taken (vl_persist_batch_data, vl_persist_write),
    after every round of it, because a follower reads a batch's rounds
    with rocksdb_writebatch_iterate, which stops at a range delete. A
    pointer, so that the batch's const readers can seal it. */
typedef struct {
    s_prune_t *v;
    size_t n, cap;
} s_tail_t;

/*  A write built but not yet written (a commit round's, a metadata
    change's): its serialized form is what the MR replicates. */
struct vl_persist_batch {
    rocksdb_writebatch_t *b;
    s_tail_t *tail;
};

/*  ---- keys ---------------------------------------------------------------- */

static inline size_t s_key32(char *k, char prefix, uint32_t id)
{
    k[0] = prefix;
    vl_put_be32((uint8_t *)k + 1, id);
    return 5;
}

static inline size_t s_key32_64(char *k, char prefix, uint32_t id, uint64_t n)
{
    k[0] = prefix;
    vl_put_be32((uint8_t *)k + 1, id);
    vl_put_be64((uint8_t *)k + 5, n);
    return 13;
}

/*  ---- groups and checkpoints (group.c) --------------------------------------- */

/*  One G record, parsed in place: items stay in the value's bytes (its two
    formats: group.c). */
typedef struct {
    uint32_t topic_id, n;
    uint8_t fmt;
    uint64_t glsn_begin, offset_begin, version;
    uint64_t hwm, end_offset; /* the topic's ends after the group */
    const uint8_t *items, *items_end;
} s_group_t;

typedef struct {
    uint32_t ls_id;
    uint64_t llsn_begin, count, bytes;
} s_gitem_t;

/*  A walk over a group's items. */
typedef struct {
    const uint8_t *p, *end;
    uint8_t fmt;
    uint32_t ls_id; /* the item before's (format 2 deltas) */
} s_gcur_t;

static inline size_t s_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/*  Reads a varint from [*p, end); false when it runs past end or past 64
    bits. */
static inline bool s_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static inline void s_group_begin(const s_group_t *g, s_gcur_t *cur)
{
    cur->p = g->items;
    cur->end = g->items_end;
    cur->fmt = g->fmt;
    cur->ls_id = 0;
}

/*  The next item; false when the bytes run out or do not make one. */
static inline bool s_group_next(s_gcur_t *cur, s_gitem_t *it)
{
    if (cur->fmt == S_FMT) {
        if (cur->end - cur->p < S_GROUP_ITEM)
            return false;
        it->ls_id = vl_get_le32(cur->p);
        it->llsn_begin = vl_get_le64(cur->p + 4);
        it->count = vl_get_le64(cur->p + 12);
        it->bytes = vl_get_le64(cur->p + 20);
        cur->p += S_GROUP_ITEM;
        return true;
    }
    uint64_t delta;
    if (!s_varint_get(&cur->p, cur->end, &delta) || delta > UINT32_MAX ||
        !s_varint_get(&cur->p, cur->end, &it->llsn_begin) ||
        !s_varint_get(&cur->p, cur->end, &it->count) ||
        !s_varint_get(&cur->p, cur->end, &it->bytes))
        return false;
    cur->ls_id += (uint32_t)delta;
    it->ls_id = cur->ls_id;
    return true;
}

/*  One K record, parsed in place. */
typedef struct {
    uint64_t hwm, version, end_offset;
    uint32_t n;
    const uint8_t *ends; /* n * S_CKPT_ITEM bytes, by log stream id */
} s_ckpt_t;

/*  Parses G record key/val into g: exactly n items that fill the value,
    every count at least 1, no sum overflowing, so that walks over it
    (s_group_begin, s_group_next) need not check again. VL_ESTORE when it
    is not such a record. */
int vl_persist_group_parse(const char *key, size_t klen, const char *val, size_t vlen,
                           s_group_t *g);

/*  Item it of g as a range beginning at glsn and offset. */
void vl_persist_group_item(const s_group_t *g, const s_gitem_t *it, uint64_t glsn, uint64_t offset,
                           vl_persist_range_t *out);

/*  Parses K record key/val into c. VL_ESTORE when it is not one. */
int vl_persist_group_ckpt_parse(const char *key, size_t klen, const char *val, size_t vlen,
                                s_ckpt_t *c);

/*  The committed end of ls_id in checkpoint c (0: not there). */
uint64_t vl_persist_group_ckpt_end(const s_ckpt_t *c, uint32_t ls_id);

/*  ---- pruning (history.c) ---------------------------------------------------- */

/*  Called by the leader as a round's batch writes a checkpoint of
    topic_id: adds to batch the prune of the history of topic_id that
    nothing needs any more (history.c says what that is), when there is
    at least S_PRUNE_SPAN checkpoints' worth of it. Reads the store
    (applied commands) and state (the leader's: trim point, replicas'
    applied ends); a prune it cannot decide on (a read error) is left to
    the next checkpoint. */
void vl_persist_prune_add(vl_persist_t *self, vl_persist_batch_t *batch, const vl_mrstate_t *state,
                          uint32_t topic_id);

/*  ---- persist.c --------------------------------------------------------------- */

/*  Writes b (takes ownership), synced or not; what names it in the error.
    VL_ESTORE with errbuf set on failure. */
int vl_persist_put(vl_persist_t *self, rocksdb_writebatch_t *b, bool sync, const char *what,
                   char *errbuf, size_t errbuf_size);

/*  rc, or VL_ESTORE with errbuf set when rc is 0 and iterator it failed
    to read. */
int vl_persist_iter_error(vl_persist_t *self, rocksdb_iterator_t *it, int rc, char *errbuf,
                          size_t errbuf_size);

/*  VL_ESTORE with errbuf saying which record (what) of topic_id's commit
    history is corrupt. */
int vl_persist_corrupt(vl_persist_t *self, const char *what, uint32_t topic_id, char *errbuf,
                       size_t errbuf_size);

/*  ---- persist_fsm.c ----------------------------------------------------------- */

/*  Reads the applied index (key A) at open into self->applied. VL_ESTORE
    with errbuf set when it cannot be read or is not 8 bytes. */
int vl_persist_fsm_open(vl_persist_t *self, char *errbuf, size_t errbuf_size);

#endif
