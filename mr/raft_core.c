/*  raft_core.c - the consensus engine's logic without I/O: the command
    codec, the state machine adapter and the leader side (raft_i.h).

    The chain. Every command carries the hash of the command before it in
    the log and its own hash, computed over that previous hash and its
    bytes. A replica applies a command only when its "previous" is the
    hash of the last command the replica applied itself; anything else
    means this replica's log and the leader's disagree about what came
    before (libraft 0.15 can commit an entry of an older term by counting
    replicas, Raft's figure 8). The replica then stops applying for good,
    logs why at LOG_CRIT and reports VL_MRRAFT_DIVERGED: a stopped replica
    is loud and harmless, one serving different commits is not.
    The leader chains a new command to the last one it proposed
    (tail_hash), which is the last one applied once its barrier applied:
    it proposes nothing before.

    The hash is not a defence against an attacker, it detects divergence
    and damage: FNV-1a's multiply over 64-bit words, an xorshift, and
    murmur3's finalizer, a few cycles per word. Every step is a bijection
    of the running state for a given word, so two inputs that differ in
    one word (one byte of the command or of the previous hash) never get
    the same hash, and the length goes in last so a zero byte more or less
    is caught too.

    Across snapshots and restarts. The chain state is the hash of the last
    applied command. libraft replays the log from the last snapshot at
    start, so the snapshot carries it: the engine prefixes the state
    machine's bytes with a header (the raft index of the snapshot and the
    hash) and strips it on restore. Entries after the snapshot are then
    checked against the restored hash as they replay; before any snapshot
    the chain starts from 0 at index 1.

    libraft's fsm interface does not pass the raft index; during apply it
    is last_applied + 1 (libraft advances last_applied after the callback
    returns), during snapshot last_applied itself.
*/
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "raft_i.h"
#include "util.h"

#define S_CMD_MAGIC 0x31434c56u  /* "VLC1" */
#define S_SNAP_MAGIC 0x31534c56u /* "VLS1" */
#define S_FNV_OFFSET 0xcbf29ce484222325ULL
#define S_FNV_PRIME 0x100000001b3ULL

/*  A proposal, membership change or transfer libraft holds until its
    callback; done is cleared once the caller was told (a diverged replica
    tells at once, libraft's callback comes later). */
struct vl_mrraft_req {
    union {
        struct raft_apply apply;
        struct raft_change change;
        struct raft_transfer transfer;
    } u;
    vl_mrraft_core_t *core;
    vl_mrraft_done_fn *done;
    void *arg;
    vl_mrraft_req_t *prev, *next;
};

/*  ---- the command codec ------------------------------------------------- */

static inline uint64_t s_mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= S_FNV_PRIME;
    return h ^ (h >> 29);
}

static inline uint64_t s_fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

uint64_t vl_mrraft_hash(uint64_t prev, const uint8_t *data, size_t len)
{
    uint64_t h = (S_FNV_OFFSET ^ prev) * S_FNV_PRIME;
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = s_mix(h, vl_get_le64(data + i));
    if (i < len) {
        uint64_t w = 0;
        for (size_t k = 0; i + k < len; k++)
            w |= (uint64_t)data[i + k] << (8 * k);
        h = s_mix(h, w);
    }
    return s_fmix(h ^ (uint64_t)len);
}

size_t vl_mrraft_encoded_len(size_t len)
{
    return VL_MRRAFT_HDR + ((len + 7) & ~(size_t)7);
}

uint64_t vl_mrraft_encode_into(uint8_t *out, uint64_t prev, const uint8_t *data, size_t len)
{
    assert(len <= VL_MRRAFT_MAX_CMD);
    uint64_t hash = vl_mrraft_hash(prev, data, len);
    vl_put_le32(out, S_CMD_MAGIC);
    vl_put_le32(out + 4, (uint32_t)len);
    vl_put_le64(out + 8, prev);
    vl_put_le64(out + 16, hash);
    if (len)
        memcpy(out + VL_MRRAFT_HDR, data, len);
    memset(out + VL_MRRAFT_HDR + len, 0, vl_mrraft_encoded_len(len) - VL_MRRAFT_HDR - len);
    return hash;
}

uint8_t *vl_mrraft_encode(uint64_t prev, const uint8_t *data, size_t len, size_t *out_len,
                          uint64_t *hash_p)
{
    size_t n = vl_mrraft_encoded_len(len);
    uint8_t *buf = vl_malloc(n);
    uint64_t hash = vl_mrraft_encode_into(buf, prev, data, len);
    if (out_len)
        *out_len = n;
    if (hash_p)
        *hash_p = hash;
    return buf;
}

int vl_mrraft_decode(const uint8_t *buf, size_t buf_len, const uint8_t **data_p, size_t *len_p,
                     uint64_t *prev_p, uint64_t *hash_p)
{
    if (buf_len < VL_MRRAFT_HDR || vl_get_le32(buf) != S_CMD_MAGIC)
        return -1;
    size_t len = vl_get_le32(buf + 4);
    if (vl_mrraft_encoded_len(len) != buf_len)
        return -1;
    for (size_t i = VL_MRRAFT_HDR + len; i < buf_len; i++)
        if (buf[i])
            return -1;
    uint64_t prev = vl_get_le64(buf + 8), hash = vl_get_le64(buf + 16);
    if (vl_mrraft_hash(prev, buf + VL_MRRAFT_HDR, len) != hash)
        return -1;
    *data_p = buf + VL_MRRAFT_HDR;
    *len_p = len;
    *prev_p = prev;
    *hash_p = hash;
    return 0;
}

/*  ---- the state machine adapter ------------------------------------------ */

static void s_diverge(vl_mrraft_core_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_diverge(vl_mrraft_core_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->diverged = true;
    vl_log(LOG_CRIT, "%s: %s", c->who, c->errmsg);
}

#define S_RECOVER                                                                                  \
    "this replica stopped applying: stop this varlogmr, move its raft directory away and let "     \
    "it rejoin the group empty, so that it copies a healthy replica"

static int s_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    vl_mrraft_core_t *c = fsm->data;
    *result = NULL;
    if (c->diverged)
        return RAFT_CORRUPT;
    uint64_t index = raft_last_applied(c->raft) + 1;
    const uint8_t *data;
    size_t len;
    uint64_t prev, hash;
    if (vl_mrraft_decode(buf->base, buf->len, &data, &len, &prev, &hash) != 0) {
        s_diverge(c,
                  "raft index %" PRIu64 ": the command is damaged (%zu bytes: bad header, "
                  "padding or hash); " S_RECOVER,
                  index, buf->len);
        return RAFT_CORRUPT;
    }
    if (prev != c->applied_hash) {
        s_diverge(c,
                  "raft index %" PRIu64 ": the command chain broke: the command follows %016" PRIx64
                  " but the last command applied here (raft index %" PRIu64 ") is %016" PRIx64
                  ", so this replica's log diverged from the leader's; " S_RECOVER,
                  index, prev, c->applied_index, c->applied_hash);
        return RAFT_CORRUPT;
    }
    if (c->ops.apply(c->arg, index, data, len) != 0) {
        s_diverge(c, "raft index %" PRIu64 ": the state machine refused the command; " S_RECOVER,
                  index);
        return RAFT_CORRUPT;
    }
    c->applied_index = index;
    c->applied_hash = hash;
    return 0;
}

/*  fsm version 1: libraft frees every buffer with raft_free once the
    snapshot is written, the header and the array (raft_malloc) as well as
    the state machine's bytes (malloc: raft_free is free with libraft's
    default heap, which nothing here replaces). RAFT_BUSY makes libraft
    skip this snapshot and try again later; any other error would stop a
    follower. */
static int s_fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    vl_mrraft_core_t *c = fsm->data;
    if (c->diverged)
        return RAFT_BUSY;
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t index = raft_last_applied(c->raft);
    if (c->ops.snapshot(c->arg, &data, &len) != 0) {
        vl_log(LOG_WARNING,
               "%s: the state machine could not take a snapshot at raft index %" PRIu64
               "; the log grows until the next attempt succeeds",
               c->who, index);
        return RAFT_BUSY;
    }
    uint8_t *hdr = raft_malloc(VL_MRRAFT_SNAP_HDR);
    struct raft_buffer *b = raft_malloc(2 * sizeof *b);
    if (!hdr || !b) {
        raft_free(hdr);
        raft_free(b);
        free(data);
        return RAFT_BUSY;
    }
    vl_put_le32(hdr, S_SNAP_MAGIC);
    vl_put_le32(hdr + 4, 0);
    vl_put_le64(hdr + 8, index);
    vl_put_le64(hdr + 16, c->applied_hash);
    b[0] = (struct raft_buffer){hdr, VL_MRRAFT_SNAP_HDR};
    b[1] = (struct raft_buffer){data, len};
    *bufs = b;
    *n_bufs = len ? 2 : 1;
    if (!len)
        free(data);
    vl_log(LOG_DEBUG, "%s: snapshot at raft index %" PRIu64 " (%zu bytes)", c->who, index, len);
    return 0;
}

/*  On success the buffer is ours to free (libraft's contract); on error
    libraft frees it. */
static int s_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    vl_mrraft_core_t *c = fsm->data;
    const uint8_t *p = buf->base;
    if (buf->len < VL_MRRAFT_SNAP_HDR || vl_get_le32(p) != S_SNAP_MAGIC) {
        vl_log(LOG_CRIT,
               "%s: the raft snapshot (%zu bytes) has no engine header: it was not written by "
               "this varlogmr; move the raft directory away and add this replica back empty",
               c->who, buf->len);
        return RAFT_MALFORMED;
    }
    uint64_t index = vl_get_le64(p + 8), hash = vl_get_le64(p + 16);
    if (c->ops.restore(c->arg, index, p + VL_MRRAFT_SNAP_HDR, buf->len - VL_MRRAFT_SNAP_HDR) != 0) {
        vl_log(LOG_CRIT,
               "%s: the state machine refused the snapshot of raft index %" PRIu64
               "; move this replica's raft directory away and let it rejoin the group empty",
               c->who, index);
        return RAFT_CORRUPT;
    }
    c->applied_index = index;
    c->applied_hash = hash;
    vl_log(LOG_INFO, "%s: restored the snapshot of raft index %" PRIu64 " (%zu bytes)", c->who,
           index, buf->len - VL_MRRAFT_SNAP_HDR);
    raft_free(buf->base);
    return 0;
}

/*  ---- requests ------------------------------------------------------------ */

static vl_mrraft_req_t *s_req_new(vl_mrraft_core_t *c, vl_mrraft_done_fn *done, void *arg)
{
    vl_mrraft_req_t *req = vl_calloc(1, sizeof *req);
    req->core = c;
    req->done = done;
    req->arg = arg;
    req->u.apply.data = req; /* data comes first in all three */
    req->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = req;
    c->reqs = req;
    return req;
}

static void s_req_free(vl_mrraft_req_t *req)
{
    vl_mrraft_core_t *c = req->core;
    if (req->prev)
        req->prev->next = req->next;
    else
        c->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    free(req);
}

/*  Tells the caller (once) and frees the request. */
static void s_req_end(vl_mrraft_req_t *req, int status, uint64_t index)
{
    vl_mrraft_done_fn *done = req->done;
    void *arg = req->arg;
    s_req_free(req);
    if (done)
        done(arg, status, status == 0 ? index : 0);
}

/*  Every pending request's caller hears VL_MRRAFT_ESTOPPED now; libraft's
    callbacks, when they come, only free. */
static void s_fail_all(vl_mrraft_core_t *c)
{
    for (vl_mrraft_req_t *req = c->reqs; req; req = req->next) {
        vl_mrraft_done_fn *done = req->done;
        req->done = NULL;
        if (done)
            done(req->arg, VL_MRRAFT_ESTOPPED, 0);
    }
}

static uint64_t s_now(vl_mrraft_core_t *c)
{
    return c->raft->io->time(c->raft->io);
}

static void s_step_down_cb(struct raft_transfer *t)
{
    vl_mrraft_core_t *c = t->data;
    c->transfer_pending = false;
}

/*  A disk write failed while leading: libraft 0.15 stays leader and keeps
    the entry in memory (followers may still commit it), so hand
    leadership to another voter and stop acting as leader until a barrier
    commits again. */
static void s_step_down(vl_mrraft_core_t *c, int status)
{
    if (c->transfer_pending || c->stopping || raft_state(c->raft) != RAFT_LEADER)
        return;
    c->ready_term = 0;
    c->retry_at = s_now(c) + c->raft->election_timeout;
    memset(&c->step_down, 0, sizeof c->step_down);
    c->step_down.data = c;
    int rv = raft_transfer(c->raft, &c->step_down, 0, s_step_down_cb);
    vl_log(LOG_ERR,
           "%s: a write to the raft log failed on the leader (%s): %s; check the disk of the raft "
           "directory",
           c->who, raft_strerror(status),
           rv == 0 ? "handing leadership to another voter"
                   : "no voter to hand leadership to, trying again after an election timeout");
    if (rv == 0)
        c->transfer_pending = true;
}

/*  Maps a libraft callback status to the engine's codes. */
static int s_status(vl_mrraft_core_t *c, int status, const char *what)
{
    if (status == 0)
        return 0;
    if (c->stopping || status == RAFT_SHUTDOWN)
        return VL_MRRAFT_ESTOPPED;
    switch (status) {
    case RAFT_IOERR:
    case RAFT_NOSPACE:
        s_step_down(c, status);
        return VL_MRRAFT_ELEADERSHIP;
    case RAFT_LEADERSHIPLOST:
    case RAFT_NOTLEADER:
        return VL_MRRAFT_ELEADERSHIP;
    default:
        snprintf(c->errmsg, sizeof c->errmsg, "%s: %s", what, raft_strerror(status));
        return VL_MRRAFT_EFAIL;
    }
}

/*  Maps what a libraft call returned at once. */
static int s_rv(vl_mrraft_core_t *c, int rv, const char *what)
{
    snprintf(c->errmsg, sizeof c->errmsg, "%s: %s (%s)", what, raft_strerror(rv),
             raft_errmsg(c->raft));
    switch (rv) {
    case RAFT_NOTLEADER:
        return VL_MRRAFT_ENOTLEADER;
    case RAFT_SHUTDOWN:
        return VL_MRRAFT_ESTOPPED;
    case RAFT_IOERR:
    case RAFT_NOSPACE:
        s_step_down(c, rv);
        return VL_MRRAFT_EFAIL;
    default:
        return VL_MRRAFT_EFAIL;
    }
}

/*  ---- the leader side ----------------------------------------------------- */

static void s_apply_cb(struct raft_apply *a, int status, void *result)
{
    vl_mrraft_req_t *req = a->data;
    s_req_end(req, s_status(req->core, status, "propose"), a->index);
}

/*  A change's callback runs while its entry is applied, before libraft
    advances last_applied. */
static void s_change_cb(struct raft_change *ch, int status)
{
    vl_mrraft_req_t *req = ch->data;
    vl_mrraft_core_t *c = req->core;
    s_req_end(req, s_status(c, status, "membership change"), raft_last_applied(c->raft) + 1);
}

static void s_transfer_cb(struct raft_transfer *t)
{
    vl_mrraft_req_t *req = t->data;
    vl_mrraft_core_t *c = req->core;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(c->raft, &leader, &address);
    int status = 0;
    if (c->stopping) {
        status = VL_MRRAFT_ESTOPPED;
    } else if (leader != t->id) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "leadership transfer to %llu did not complete within the election timeout "
                 "(leader now %llu); try again once it caught up",
                 t->id, leader);
        status = VL_MRRAFT_EFAIL;
    }
    s_req_end(req, status, 0);
}

static void s_barrier_cb(struct raft_barrier *b, int status)
{
    vl_mrraft_core_t *c = b->data;
    c->barrier_pending = false;
    if (c->stopping || c->diverged)
        return;
    if (status == RAFT_IOERR || status == RAFT_NOSPACE) {
        s_step_down(c, status);
        return;
    }
    if (status != 0 || raft_state(c->raft) != RAFT_LEADER ||
        c->raft->current_term != c->barrier_term)
        return;
    /* everything before the barrier is applied and this leader proposed
       nothing yet: the chain goes on from the last applied command */
    c->ready_term = c->barrier_term;
    c->tail_hash = c->applied_hash;
}

static void s_barrier(vl_mrraft_core_t *c)
{
    memset(&c->barrier, 0, sizeof c->barrier);
    c->barrier.data = c;
    c->barrier_term = c->raft->current_term;
    int rv = raft_barrier(c->raft, &c->barrier, s_barrier_cb);
    if (rv == 0) {
        c->barrier_pending = true;
        return;
    }
    vl_log(LOG_WARNING, "%s: cannot append the new leader's barrier: %s; trying again", c->who,
           raft_strerror(rv));
    if (rv == RAFT_IOERR || rv == RAFT_NOSPACE)
        s_step_down(c, rv);
    else
        c->retry_at = s_now(c) + c->raft->heartbeat_timeout;
}

int vl_mrraft_core_role(vl_mrraft_core_t *c)
{
    if (c->diverged)
        return VL_MRRAFT_DIVERGED;
    switch (raft_state(c->raft)) {
    case RAFT_FOLLOWER:
        return VL_MRRAFT_FOLLOWER;
    case RAFT_CANDIDATE:
        return VL_MRRAFT_CANDIDATE;
    case RAFT_LEADER:
        /* not serving before its barrier applied, nor while handing over */
        return c->ready_term == c->raft->current_term && !c->transfer_pending ? VL_MRRAFT_LEADER
                                                                              : VL_MRRAFT_CANDIDATE;
    default:
        return VL_MRRAFT_UNAVAILABLE;
    }
}

static const char *s_role_name(int role)
{
    static const char *names[] = {"unavailable", "follower", "candidate", "leader", "diverged"};
    return role >= 0 && role <= VL_MRRAFT_DIVERGED ? names[role] : "?";
}

void vl_mrraft_core_poll(vl_mrraft_core_t *c)
{
    if (c->stopping)
        return;
    struct raft *r = c->raft;
    if (c->diverged)
        s_fail_all(c);
    else if (raft_state(r) == RAFT_LEADER && c->ready_term != r->current_term &&
             !c->barrier_pending && !c->transfer_pending && s_now(c) >= c->retry_at)
        s_barrier(c);
    int role = vl_mrraft_core_role(c);
    raft_id leader = 0;
    if (role == VL_MRRAFT_FOLLOWER || role == VL_MRRAFT_LEADER) {
        const char *address = NULL;
        raft_leader(r, &leader, &address);
    }
    if (role == c->role && r->current_term == c->term && leader == c->leader_id)
        return;
    c->role = role;
    c->term = r->current_term;
    c->leader_id = leader;
    vl_log(role == VL_MRRAFT_LEADER ? LOG_NOTICE : LOG_INFO,
           "%s: %s in term %" PRIu64 " (leader %" PRIu64 ", applied raft index %llu)", c->who,
           s_role_name(role), c->term, c->leader_id, raft_last_applied(r));
    if (c->ops.role)
        c->ops.role(c->arg, role, c->term, c->leader_id);
}

/*  ---- proposals and membership ------------------------------------------- */

/*  ESTOPPED or ENOTLEADER when this replica cannot take a request now. */
static int s_check_leader(vl_mrraft_core_t *c)
{
    if (c->stopping || c->diverged) {
        snprintf(c->errmsg, sizeof c->errmsg, "the consensus engine is %s",
                 c->diverged ? "stopped: this replica diverged" : "stopping");
        return VL_MRRAFT_ESTOPPED;
    }
    if (vl_mrraft_core_role(c) != VL_MRRAFT_LEADER) {
        snprintf(c->errmsg, sizeof c->errmsg, "this replica is not the leader");
        return VL_MRRAFT_ENOTLEADER;
    }
    return 0;
}

int vl_mrraft_core_propose(vl_mrraft_core_t *c, const uint8_t *data, size_t len,
                           vl_mrraft_done_fn *done, void *arg)
{
    int rc = s_check_leader(c);
    if (rc)
        return rc;
    if (len > VL_MRRAFT_MAX_CMD) {
        snprintf(c->errmsg, sizeof c->errmsg,
                 "command of %zu bytes: more than the %u a raft entry may hold", len,
                 VL_MRRAFT_MAX_CMD);
        return VL_MRRAFT_EFAIL;
    }
    struct raft_buffer buf = {raft_malloc(vl_mrraft_encoded_len(len)), vl_mrraft_encoded_len(len)};
    if (!buf.base) {
        snprintf(c->errmsg, sizeof c->errmsg, "command of %zu bytes: out of memory", len);
        return VL_MRRAFT_EFAIL;
    }
    uint64_t hash = vl_mrraft_encode_into(buf.base, c->tail_hash, data, len);
    vl_mrraft_req_t *req = s_req_new(c, done, arg);
    int rv = raft_apply(c->raft, &req->u.apply, &buf, 1, s_apply_cb);
    if (rv != 0) {
        raft_free(buf.base);
        s_req_free(req);
        return s_rv(c, rv, "propose");
    }
    c->tail_hash = hash;
    return 0;
}

/*  What a membership call returned: the request stays with libraft or
    goes. */
static int s_change_end(vl_mrraft_core_t *c, vl_mrraft_req_t *req, int rv, const char *what)
{
    if (rv == 0)
        return 0;
    s_req_free(req);
    return s_rv(c, rv, what);
}

int vl_mrraft_core_add(vl_mrraft_core_t *c, uint64_t id, const char *address,
                       vl_mrraft_done_fn *done, void *arg)
{
    int rc = s_check_leader(c);
    if (rc)
        return rc;
    vl_mrraft_req_t *req = s_req_new(c, done, arg);
    return s_change_end(c, req, raft_add(c->raft, &req->u.change, id, address, s_change_cb), "add");
}

/*  libraft's role codes from the engine's (vl_mrraft_member_role_t). */
static int s_raft_role(int role)
{
    switch (role) {
    case VL_MRRAFT_VOTER:
        return RAFT_VOTER;
    case VL_MRRAFT_STANDBY:
        return RAFT_STANDBY;
    case VL_MRRAFT_SPARE:
        return RAFT_SPARE;
    default:
        return -1;
    }
}

int vl_mrraft_core_assign(vl_mrraft_core_t *c, uint64_t id, int role, vl_mrraft_done_fn *done,
                          void *arg)
{
    int rc = s_check_leader(c);
    if (rc)
        return rc;
    if (s_raft_role(role) < 0) {
        snprintf(c->errmsg, sizeof c->errmsg, "assign: unknown member role %d", role);
        return VL_MRRAFT_EFAIL;
    }
    vl_mrraft_req_t *req = s_req_new(c, done, arg);
    return s_change_end(
        c, req, raft_assign(c->raft, &req->u.change, id, s_raft_role(role), s_change_cb), "assign");
}

int vl_mrraft_core_remove(vl_mrraft_core_t *c, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    int rc = s_check_leader(c);
    if (rc)
        return rc;
    vl_mrraft_req_t *req = s_req_new(c, done, arg);
    return s_change_end(c, req, raft_remove(c->raft, &req->u.change, id, s_change_cb), "remove");
}

int vl_mrraft_core_transfer(vl_mrraft_core_t *c, uint64_t id, vl_mrraft_done_fn *done, void *arg)
{
    int rc = s_check_leader(c);
    if (rc)
        return rc;
    vl_mrraft_req_t *req = s_req_new(c, done, arg);
    return s_change_end(c, req, raft_transfer(c->raft, &req->u.transfer, id, s_transfer_cb),
                        "transfer");
}

/*  ---- lifecycle ------------------------------------------------------------ */

void vl_mrraft_core_init(vl_mrraft_core_t *c, uint64_t id, const vl_mrraft_fsm_t *ops, void *arg)
{
    memset(c, 0, sizeof *c);
    c->ops = *ops;
    c->arg = arg;
    snprintf(c->who, sizeof c->who, "mr[%" PRIu64 "]", id);
    c->fsm.version = 1;
    c->fsm.data = c;
    c->fsm.apply = s_fsm_apply;
    c->fsm.snapshot = s_fsm_snapshot;
    c->fsm.restore = s_fsm_restore;
    c->role = VL_MRRAFT_UNAVAILABLE;
}

void vl_mrraft_core_bind(vl_mrraft_core_t *c, struct raft *raft)
{
    c->raft = raft;
    /* pre-vote: a replica raises its term only once a majority would vote
       for it. Without it, one cut off for a while came back with a term
       higher than the leader's and deposed it: reads and commits stopped
       for an election (about a second in chaos.sh) for nothing. */
    raft_set_pre_vote(raft, true);
}

void vl_mrraft_core_stop(vl_mrraft_core_t *c)
{
    c->stopping = true;
}

void vl_mrraft_core_fini(vl_mrraft_core_t *c)
{
    while (c->reqs)
        s_req_end(c->reqs, VL_MRRAFT_ESTOPPED, 0);
}
