/*  members.c - the MR's own membership: which replicas form its raft
    group, where clients reach each one, and the admin's requests that
    change it (MR_STATUS, MR_ADD, MR_REMOVE, MR_TRANSFER).

    Two things make up a member. Its raft id, raft address and role live
    in the raft configuration, which libraft replicates itself. Its client
    endpoint (what --mr names, what a follower's VL_ENOTLEADER hint names)
    is the MR's own: self->members, a list of {raft id, endpoint} that is
    replicated as a command of its own (VL_MR_CMD_MEMBERS: the whole list,
    so applying it twice changes nothing) and carried in every snapshot
    (before the store's bytes, vl_mr_members_snapshot). --peers seeds it at
    start; what the raft log and the last snapshot say replaces the seed,
    since raft hands both back at every start. A MEMBERS command is applied
    whatever the store's applied index says: the store does not hold the
    list, memory does, rebuilt at every start from the snapshot and the
    entries after it.

    The admin's requests, on the leader (a follower refuses them with
    VL_ENOTLEADER, as every request), one change at a time (a second one
    gets VL_EBUSY, retryable, while the first runs):
    - MR_ADD id raftaddr endpoint: the endpoint is replicated first (so
      every replica can name the new one once it votes), then the new
      replica is added as a spare, made a standby (it receives the log),
      and made a voter (libraft catches it up before it counts it). The
      reply comes once it votes. The replica must run with --join at
      raftaddr: libraft gives up the catch-up only after its rounds time
      out (some 50 s); meanwhile the change holds the group's one change.
    - MR_REMOVE id: the member leaves the configuration. Removing the
      leader itself first hands leadership to the most up-to-date voter,
      then answers VL_ENOTLEADER naming the new leader: the request was
      not run, and the admin (lib/rpc.c) sends it there, where it is.
    - MR_TRANSFER id (0: the most up-to-date voter): leadership moves.
    - MR_STATUS: the configuration with each member's role, endpoint and
      match index, and the leader's term and log indexes.
    Every reply is an MR_STATUS body, as this replica sees the group once
    the change is done. Bad input changes nothing: id 0, an id, raft
    address or endpoint another member has, an unknown id, the last voter.
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mrconn.h"
#include "raft.h"
#include "server_i.h"
#include "util.h"
#include "wire.h"

/*  Snapshots that carry the member list begin with this (a RocksDB
    batch, what the store's part is, begins with its sequence number, 0). */
static const uint8_t s_snap_magic[8] = {'V', 'L', 'M', 'R', 'M', 'B', 'R', '1'};

/*  ---- the replicated list ---------------------------------------------------- */

/*  The configuration into conf (S_MAX_MEMBERS entries); how many it holds. */
static size_t s_conf(self_t *self, vl_mrraft_member_t *conf)
{
    size_t n = vl_mrraft_members(self->raft, conf, S_MAX_MEMBERS);
    return n < S_MAX_MEMBERS ? n : S_MAX_MEMBERS;
}

const char *vl_mr_members_endpoint(self_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->nmembers; i++)
        if (self->members[i].id == id)
            return self->members[i].endpoint;
    return NULL;
}

static void s_list_encode(const s_member_t *list, size_t n, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        vl_wbuf_u64(b, list[i].id);
        vl_wbuf_str(b, list[i].endpoint);
    }
}

/*  Decodes a list into out (S_MAX_MEMBERS); its length, or -1. */
static int s_list_decode(vl_rbuf_t *r, s_member_t *out)
{
    uint32_t n = vl_rbuf_count(r, S_MAX_MEMBERS, 10);
    for (uint32_t i = 0; i < n && !r->err; i++) {
        out[i].id = vl_rbuf_u64(r);
        vl_rbuf_str(r, out[i].endpoint, sizeof out[i].endpoint - 1);
    }
    return r->err ? -1 : (int)n;
}

int vl_mr_members_apply(self_t *self, uint64_t index, const uint8_t *data, size_t len)
{
    s_member_t list[S_MAX_MEMBERS];
    vl_rbuf_t r;
    vl_rbuf_init(&r, data + VL_MR_CMD_HDR, len - VL_MR_CMD_HDR);
    int n = s_list_decode(&r, list);
    if (n < 0 || r.left != 0) {
        vl_log(LOG_CRIT,
               "mr: raft index %" PRIu64 " holds a malformed member list (%zu bytes); this "
               "replica stops applying",
               index, len);
        return -1;
    }
    memcpy(self->members, list, (size_t)n * sizeof *list);
    self->nmembers = (size_t)n;
    vl_log(LOG_INFO,
           "mr: raft index %" PRIu64 ": the group's client endpoints are now known for %d "
           "member%s",
           index, n, n == 1 ? "" : "s");
    return 0;
}

int vl_mr_members_snapshot(self_t *self, uint8_t **data_p, size_t *len_p)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_wbuf_mem(&b, s_snap_magic, sizeof s_snap_magic);
    s_list_encode(self->members, self->nmembers, &b);
    uint8_t *out = vl_malloc(b.len + *len_p);
    memcpy(out, b.data, b.len);
    memcpy(out + b.len, *data_p, *len_p);
    *len_p += b.len;
    free(*data_p);
    *data_p = out;
    vl_wbuf_free(&b);
    return 0;
}

int vl_mr_members_restore(self_t *self, const uint8_t **data_p, size_t *len_p)
{
    if (*len_p < sizeof s_snap_magic || memcmp(*data_p, s_snap_magic, sizeof s_snap_magic) != 0)
        return 0; /* a snapshot of an MR before the list was replicated */
    s_member_t list[S_MAX_MEMBERS];
    vl_rbuf_t r;
    vl_rbuf_init(&r, *data_p + sizeof s_snap_magic, *len_p - sizeof s_snap_magic);
    int n = s_list_decode(&r, list);
    if (n < 0)
        return -1;
    memcpy(self->members, list, (size_t)n * sizeof *list);
    self->nmembers = (size_t)n;
    *len_p = r.left;
    *data_p = r.p;
    return 0;
}

void vl_mr_members_meta(self_t *self, vl_meta_t *m)
{
    vl_mrraft_member_t conf[S_MAX_MEMBERS];
    size_t n = s_conf(self, conf);
    m->members = vl_calloc(n ? n : 1, sizeof *m->members);
    m->nmembers = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ep = vl_mr_members_endpoint(self, conf[i].id);
        if (conf[i].role != VL_MRRAFT_VOTER || !ep)
            continue;
        m->members[m->nmembers].id = conf[i].id;
        snprintf(m->members[m->nmembers].endpoint, sizeof m->members[0].endpoint, "%s", ep);
        m->nmembers++;
    }
}

/*  ---- status ------------------------------------------------------------------- */

static void s_status(self_t *self, vl_mr_status_t *st)
{
    memset(st, 0, sizeof *st);
    st->leader_id = vl_mrraft_leader(self->raft, NULL);
    st->term = vl_mrraft_term(self->raft);
    st->commit_index = vl_mrraft_commit_index(self->raft);
    st->applied_index = vl_mrraft_applied_index(self->raft);
    st->last_index = vl_mrraft_last_index(self->raft);
    vl_mrraft_member_t conf[S_MAX_MEMBERS];
    size_t n = s_conf(self, conf);
    for (size_t i = 0; i < n && i < VL_WIRE_MAX_MEMBERS; i++) {
        vl_mr_member_t *m = &st->members[st->n++];
        m->id = conf[i].id;
        snprintf(m->raft_addr, sizeof m->raft_addr, "%s", conf[i].address);
        const char *ep = vl_mr_members_endpoint(self, conf[i].id);
        snprintf(m->endpoint, sizeof m->endpoint, "%s", ep ? ep : "");
        m->role = (uint8_t)conf[i].role;
        m->match_index = conf[i].match_index;
    }
}

static void s_reply_status(self_t *self, zframe_t *rid, const vl_hdr_t *req)
{
    vl_mr_status_t st;
    s_status(self, &st);
    vl_hdr_t h = vl_mr_server_reply_hdr(self, req);
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_mr_status_encode(&st, &b);
    zmsg_t *msg = vl_wire_msg(&h, &b);
    vl_wbuf_free(&b);
    s_send(self, rid, &msg);
}

/*  ---- the change in flight ----------------------------------------------------- */

typedef enum {
    S_ADD_ENDPOINT, /* the list with its endpoint is being replicated */
    S_ADD_SPARE,    /* raft_add */
    S_ADD_STANDBY,  /* raft_assign standby */
    S_ADD_VOTER,    /* raft_assign voter: caught up first */
    S_REMOVE,
    S_REMOVE_HANDOVER, /* the leader removes itself: transfer first */
    S_TRANSFER,
} s_step_t;

struct s_member_op {
    zframe_t *rid;
    vl_hdr_t hdr;
    s_step_t step;
    vl_mr_member_t m; /* the request's member (MR_ADD) or id */
    char what[VL_WIRE_MAX_ADDR * 2 + 64];
};

static const char *s_step_name(s_step_t step)
{
    switch (step) {
    case S_ADD_ENDPOINT:
        return "replicating its client endpoint";
    case S_ADD_SPARE:
        return "adding it as a spare";
    case S_ADD_STANDBY:
        return "making it a standby";
    case S_ADD_VOTER:
        return "catching it up and making it a voter";
    case S_REMOVE:
        return "removing it from the configuration";
    case S_REMOVE_HANDOVER:
        return "handing leadership to another voter first";
    default:
        return "transferring leadership";
    }
}

static void s_op_free(s_member_op_t **op_p)
{
    if (!*op_p)
        return;
    zframe_destroy(&(*op_p)->rid);
    free(*op_p);
    *op_p = NULL;
}

void vl_mr_members_free(self_t *self)
{
    s_op_free(&self->member_op);
}

/*  Ends the change in flight with an error: what failed, at which step,
    and what to do. */
static void s_op_fail(self_t *self, int status)
{
    s_member_op_t *op = self->member_op;
    self->member_op = NULL;
    const char *why;
    int rc = VL_EUNAVAIL;
    const char *todo = "retry";
    switch (status) {
    case VL_MRRAFT_ENOTLEADER:
    case VL_MRRAFT_ELEADERSHIP:
        why = "leadership of the metadata repository changed";
        todo = "check 'varlogctl mr list', then retry";
        break;
    case VL_MRRAFT_ESTOPPED:
        why = "the replica is stopping";
        break;
    default:
        why = vl_mrraft_errmsg(self->raft);
        rc = VL_EIO;
        todo = op->step == S_ADD_VOTER
                   ? "check that 'varlogmr --join' runs at that raft address, see 'varlogctl mr "
                     "list', remove it or retry"
                   : "see 'varlogctl mr list', then retry";
    }
    bool partial = op->step >= S_ADD_STANDBY && op->step <= S_ADD_VOTER;
    vl_mr_server_reply_error(
        self, op->rid, &op->hdr, rc, "%s: %s failed: %s%s; %s", op->what, s_step_name(op->step),
        why, partial ? " (it stays in the configuration as a non-voter)" : "", todo);
    s_op_free(&op);
}

static void s_op_done(void *arg, int status, uint64_t index);

/*  Runs the change's current step (when it cannot start, the change is
    answered). */
static void s_op_step(self_t *self)
{
    s_member_op_t *op = self->member_op;
    int rc;
    switch (op->step) {
    case S_ADD_ENDPOINT: {
        /* the list as it will be: the members of the configuration, then
           the new one */
        s_member_t list[S_MAX_MEMBERS];
        size_t n = 0;
        vl_mrraft_member_t conf[S_MAX_MEMBERS];
        size_t nconf = s_conf(self, conf);
        for (size_t i = 0; i < nconf && n < S_MAX_MEMBERS - 1; i++) {
            const char *ep = vl_mr_members_endpoint(self, conf[i].id);
            if (ep) {
                list[n].id = conf[i].id;
                snprintf(list[n++].endpoint, sizeof list[0].endpoint, "%s", ep);
            }
        }
        list[n].id = op->m.id;
        snprintf(list[n++].endpoint, sizeof list[0].endpoint, "%s", op->m.endpoint);
        vl_wbuf_t b;
        vl_wbuf_init(&b);
        vl_wbuf_u8(&b, VL_MR_CMD_MEMBERS);
        vl_wbuf_u64(&b, self->raft_id);
        vl_wbuf_u64(&b, self->lead_term);
        s_list_encode(list, n, &b);
        rc = vl_mrraft_propose(self->raft, b.data, b.len, s_op_done, self);
        vl_wbuf_free(&b);
        break;
    }
    case S_ADD_SPARE:
        rc = vl_mrraft_add(self->raft, op->m.id, op->m.raft_addr, s_op_done, self);
        break;
    case S_ADD_STANDBY:
        rc = vl_mrraft_assign(self->raft, op->m.id, VL_MRRAFT_STANDBY, s_op_done, self);
        break;
    case S_ADD_VOTER:
        rc = vl_mrraft_assign(self->raft, op->m.id, VL_MRRAFT_VOTER, s_op_done, self);
        break;
    case S_REMOVE:
        rc = vl_mrraft_remove(self->raft, op->m.id, s_op_done, self);
        break;
    case S_REMOVE_HANDOVER:
        rc = vl_mrraft_transfer(self->raft, 0, s_op_done, self);
        break;
    default:
        rc = vl_mrraft_transfer(self->raft, op->m.id, s_op_done, self);
    }
    if (rc != 0)
        s_op_fail(self, rc);
}

static void s_op_done(void *arg, int status, uint64_t index)
{
    self_t *self = arg;
    s_member_op_t *op = self->member_op;
    if (self->terminated || !op) {
        s_op_free(&self->member_op);
        return;
    }
    if (status != 0) {
        s_op_fail(self, status);
        return;
    }
    vl_log(LOG_INFO, "mr: %s: %s: done", op->what, s_step_name(op->step));
    switch (op->step) {
    case S_ADD_ENDPOINT:
    case S_ADD_SPARE:
    case S_ADD_STANDBY:
        op->step++;
        s_op_step(self);
        return;
    case S_REMOVE_HANDOVER:
        /* not run here: the new leader runs it (the admin sends it there) */
        vl_log(LOG_NOTICE, "mr: %s: leadership handed over; the new leader removes it", op->what);
        vl_mr_server_reply_not_leader(self, op->rid, &op->hdr);
        break;
    default:
        vl_log(LOG_NOTICE, "mr: %s: done", op->what);
        s_reply_status(self, op->rid, &op->hdr);
    }
    s_op_free(&self->member_op);
}

/*  ---- the requests ------------------------------------------------------------- */

/*  The configuration entry of id, or NULL. */
static const vl_mrraft_member_t *s_find(const vl_mrraft_member_t *conf, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (conf[i].id == id)
            return &conf[i];
    return NULL;
}

static size_t s_voters(const vl_mrraft_member_t *conf, size_t n)
{
    size_t v = 0;
    for (size_t i = 0; i < n; i++)
        v += conf[i].role == VL_MRRAFT_VOTER;
    return v;
}

/*  Checks an MR_ADD: 0, or the error replied. */
static int s_check_add(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, const vl_mr_member_t *m)
{
    vl_mrraft_member_t conf[S_MAX_MEMBERS];
    size_t n = s_conf(self, conf);
    const char *colon = strrchr(m->raft_addr, ':');
    int rc = VL_EINVAL;
    if (m->id == 0)
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "mr add: raft id 0 is not valid; give an id >= 1");
    else if (!colon || colon == m->raft_addr || !colon[1] || strtoul(colon + 1, NULL, 10) == 0)
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "mr add %" PRIu64 ": raft address '%s' is not HOST:PORT with a "
                                 "fixed port; give the new replica's --raft-addr",
                                 m->id, m->raft_addr);
    else if (!vl_mrconn_valid(m->endpoint))
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "mr add %" PRIu64 ": '%s' is not a client endpoint "
                                 "(tcp://HOST:PORT); give the new replica's --listen",
                                 m->id, m->endpoint);
    else if (n >= S_MAX_MEMBERS)
        vl_mr_server_reply_error(self, rid, hdr, rc,
                                 "mr add %" PRIu64 ": the group has %zu members, the most it may "
                                 "have; remove one first",
                                 m->id, n);
    else
        rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *ep = vl_mr_members_endpoint(self, conf[i].id);
        const char *same = conf[i].id == m->id                          ? "raft id"
                           : strcmp(conf[i].address, m->raft_addr) == 0 ? "raft address"
                           : ep && strcmp(ep, m->endpoint) == 0         ? "client endpoint"
                                                                        : NULL;
        if (same) {
            rc = VL_EEXIST;
            vl_mr_server_reply_error(
                self, rid, hdr, rc,
                "mr add %" PRIu64 ": member %" PRIu64 " (%s, %s, %s) has that %s already; "
                "remove it first ('varlogctl mr remove %" PRIu64 "') or give another",
                m->id, conf[i].id, vl_mr_role_name(conf[i].role), conf[i].address,
                ep ? ep : "no known endpoint", same, conf[i].id);
        }
    }
    return rc;
}

/*  Checks an MR_REMOVE or MR_TRANSFER of id: 0, or the error replied. */
static int s_check_id(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, uint64_t id)
{
    vl_mrraft_member_t conf[S_MAX_MEMBERS];
    size_t n = s_conf(self, conf);
    const vl_mrraft_member_t *m = s_find(conf, n, id);
    bool remove = hdr->type == VL_MSG_MR_REMOVE;
    const char *verb = remove ? "mr remove" : "mr transfer";
    if (id == 0 && remove) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EINVAL,
                                 "mr remove: raft id 0 is not valid; give a member's id (see "
                                 "'varlogctl mr list')");
        return VL_EINVAL;
    }
    if (id != 0 && !m) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EINVAL,
                                 "%s %" PRIu64 ": no member has that raft id; see 'varlogctl mr "
                                 "list'",
                                 verb, id);
        return VL_EINVAL;
    }
    size_t voters = s_voters(conf, n);
    if (remove && m->role == VL_MRRAFT_VOTER && voters == 1) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EINVAL,
                                 "mr remove %" PRIu64 ": it is the group's last voter; add "
                                 "another replica first ('varlogctl mr add')",
                                 id);
        return VL_EINVAL;
    }
    if (!remove && ((m && m->role != VL_MRRAFT_VOTER) || voters < 2)) {
        vl_mr_server_reply_error(
            self, rid, hdr, VL_EINVAL, "mr transfer %" PRIu64 ": %s; only a voter can lead", id,
            voters < 2 ? "the group has no other voter" : "that member does not vote");
        return VL_EINVAL;
    }
    return 0;
}

/*  Decodes the request into op->m; 0, or the error replied. */
static int s_decode(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body,
                    vl_mr_member_t *m)
{
    memset(m, 0, sizeof *m);
    int rc = hdr->type == VL_MSG_MR_ADD ? vl_mr_add_decode(body, m) : vl_mr_id_decode(body, &m->id);
    if (rc != 0)
        vl_mr_server_reply_error(self, rid, hdr, VL_EPROTO,
                                 "%s: malformed body; use varlogctl of the same version",
                                 vl_wire_type_name(hdr->type));
    return rc;
}

void vl_mr_members_handle(self_t *self, zframe_t *rid, const vl_hdr_t *hdr, vl_rbuf_t *body)
{
    if (hdr->type == VL_MSG_MR_STATUS) {
        s_reply_status(self, rid, hdr);
        return;
    }
    vl_mr_member_t m;
    if (s_decode(self, rid, hdr, body, &m) != 0)
        return;
    if (self->member_op) {
        vl_mr_server_reply_error(self, rid, hdr, VL_EBUSY,
                                 "another change of the MR's membership is in progress (%s: %s); "
                                 "retry once it is done",
                                 self->member_op->what, s_step_name(self->member_op->step));
        return;
    }
    int rc = hdr->type == VL_MSG_MR_ADD ? s_check_add(self, rid, hdr, &m)
                                        : s_check_id(self, rid, hdr, m.id);
    if (rc != 0)
        return;
    if (hdr->type == VL_MSG_MR_TRANSFER && m.id == self->raft_id) {
        s_reply_status(self, rid, hdr); /* leads already */
        return;
    }
    s_member_op_t *op = vl_calloc(1, sizeof *op);
    op->rid = zframe_dup(rid);
    op->hdr = *hdr;
    op->m = m;
    switch (hdr->type) {
    case VL_MSG_MR_ADD:
        op->step = S_ADD_ENDPOINT;
        snprintf(op->what, sizeof op->what, "mr add %" PRIu64 " at %s (%s)", m.id, m.raft_addr,
                 m.endpoint);
        break;
    case VL_MSG_MR_REMOVE:
        op->step = m.id == self->raft_id ? S_REMOVE_HANDOVER : S_REMOVE;
        snprintf(op->what, sizeof op->what, "mr remove %" PRIu64, m.id);
        break;
    default:
        op->step = S_TRANSFER;
        snprintf(op->what, sizeof op->what, "mr transfer to %" PRIu64, m.id);
    }
    vl_log(LOG_NOTICE, "mr: %s: %s", op->what, s_step_name(op->step));
    self->member_op = op;
    s_op_step(self);
}
