/*  fsm.c - the metadata repository as a replicated state machine: its
    commands, and the consensus engine's callbacks (raft.h).

    A command is a store write (persist_fsm.c): the leader builds the
    WriteBatch of a metadata change, or of the commit rounds computed while
    its last proposal was in flight, and proposes its bytes behind a
    header: the type, the proposer's raft id and the term it was proposed
    in. Every replica applies a committed command to its store (unsynced,
    with the raft index; an index applied already is skipped: raft replays
    the entries after its last snapshot at every start).

    The leader's memory runs ahead of its store: it applies a round to
    memory when it computes it, so that the next tick builds on it, and an
    admin operation changes memory before its command is proposed. So a
    command proposed by this replica in the term it leads in, while it
    still leads, is already in memory: applying it only writes the store.
    Any other command (on followers; on a leader that lost leadership and
    applies what the next leader committed, its own proposals included)
    is written to the store only, and memory follows the store: a
    metadata change reloads it after the write; rounds mark it stale
    (state_stale), and it is reloaded from the store before anything uses
    it (taking leadership always reloads; the STATE pipe command reloads
    a stale memory). So a follower's cost per round is the store write,
    not a decode of the round into memory as well. A leader that meets
    such a command has lost leadership: it steps down first
    (vl_mr_lead_end reloads memory from the store, which then holds
    exactly what is applied), then applies it like a follower.
*/
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mrconn.h"
#include "persist.h"
#include "raft.h"
#include "server_i.h"
#include "state.h"
#include "util.h"

void vl_mr_fsm_encode(self_t *self, uint8_t type, const vl_persist_batch_t *batch)
{
    size_t len;
    const uint8_t *data = vl_persist_batch_data(batch, &len);
    vl_wbuf_t *b = &self->cmd_buf;
    b->len = 0;
    vl_wbuf_reserve(b, VL_MR_CMD_HDR + len);
    vl_wbuf_u8(b, type);
    vl_wbuf_u64(b, self->raft_id);
    vl_wbuf_u64(b, self->lead_term);
    vl_wbuf_mem(b, data, len);
}

static const char *s_type_name(uint8_t type)
{
    switch (type) {
    case VL_MR_CMD_ROUNDS:
        return "rounds";
    case VL_MR_CMD_META:
        return "metadata";
    case VL_MR_CMD_FENCE:
        return "fence";
    case VL_MR_CMD_MEMBERS:
        return "members";
    default:
        return "unknown";
    }
}

/*  True when the command (proposed by proposer in term) is already in
    memory: this replica's, of the term it leads in, and it still leads. */
static bool s_in_memory(self_t *self, uint64_t proposer, uint64_t term)
{
    return self->leading && proposer == self->raft_id && term == self->lead_term &&
           vl_mrraft_role(self->raft) == VL_MRRAFT_LEADER &&
           vl_mrraft_term(self->raft) == self->lead_term;
}

/*  A member list: applied whatever the store's applied index (the store
    does not hold it: memory does, rebuilt from the snapshot and the
    entries after it at every start). */
static int s_apply_members(self_t *self, uint64_t index, const uint8_t *data, size_t len)
{
    vl_rbuf_t r;
    vl_rbuf_init(&r, data, VL_MR_CMD_HDR);
    vl_rbuf_u8(&r);
    uint64_t proposer = vl_rbuf_u64(&r), term = vl_rbuf_u64(&r);
    if (self->leading && !s_in_memory(self, proposer, term))
        vl_mr_lead_end(self, "a command this replica did not propose as leader was applied");
    return vl_mr_members_apply(self, index, data, len);
}

static int s_apply(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
    self_t *self = arg;
    if (len >= VL_MR_CMD_HDR && data[0] == VL_MR_CMD_MEMBERS)
        return s_apply_members(self, index, data, len);
    if (index <= vl_persist_applied(self->persist))
        return 0; /* replayed after a restart: applied already */
    if (len < VL_MR_CMD_HDR) {
        vl_log(LOG_CRIT,
               "mr: raft index %" PRIu64 " holds %zu bytes, not a command; this replica stops "
               "applying",
               index, len);
        return -1;
    }
    vl_rbuf_t r;
    vl_rbuf_init(&r, data, VL_MR_CMD_HDR);
    uint8_t type = vl_rbuf_u8(&r);
    uint64_t proposer = vl_rbuf_u64(&r), term = vl_rbuf_u64(&r);
    if (type != VL_MR_CMD_ROUNDS && type != VL_MR_CMD_META && type != VL_MR_CMD_FENCE) {
        vl_log(LOG_CRIT,
               "mr: raft index %" PRIu64 " holds a command of unknown type %u (from raft id "
               "%" PRIu64 "); this replica stops applying: upgrade it",
               index, type, proposer);
        return -1;
    }
    bool in_memory = s_in_memory(self, proposer, term);
    /* (while fencing, memory is the applied state already) */
    if (!in_memory && self->leading)
        vl_mr_lead_end(self, "a command this replica did not propose as leader was applied");
    /* this leader's rounds: committed, so their COMMITs go out before
       the store write (the raft log holds them; a start replays it) */
    if (in_memory && type == VL_MR_CMD_ROUNDS)
        vl_mr_lead_rounds_committed(self);
    const uint8_t *batch = data + VL_MR_CMD_HDR;
    size_t blen = len - VL_MR_CMD_HDR;
    char err[512];
    if (vl_persist_apply(self->persist, index, batch, blen, err, sizeof err) != 0) {
        vl_log(LOG_CRIT,
               "mr: applying raft index %" PRIu64 " (%s of raft id %" PRIu64 " in term %" PRIu64
               "): %s; this replica stops applying",
               index, s_type_name(type), proposer, term, err);
        /* memory may hold rounds the store does not: nothing may serve it */
        if (self->leading)
            vl_mr_lead_end(self, "a command could not be applied");
        else
            vl_mr_server_reload(self);
        return -1;
    }
    /* rounds not in memory go to the store only: memory is reloaded from
       it before it is used (leadership, STATE), so a follower does not
       decode every round twice (into memory and into the store) */
    if (!in_memory && type == VL_MR_CMD_ROUNDS)
        self->state_stale = true;
    if (!in_memory && type == VL_MR_CMD_META)
        vl_mr_server_reload(self);
    if (vl_log_level >= LOG_DEBUG)
        vl_log(LOG_DEBUG,
               "mr: applied raft index %" PRIu64 ": %s of raft id %" PRIu64 " in term %" PRIu64
               "%s",
               index, s_type_name(type), proposer, term, in_memory ? " (in memory already)" : "");
    return 0;
}

static int s_snapshot(void *arg, uint8_t **data_p, size_t *len_p)
{
    self_t *self = arg;
    char err[512];
    int64_t t0 = vl_now_us();
    if (vl_persist_snapshot(self->persist, data_p, len_p, err, sizeof err) != 0) {
        vl_log(LOG_ERR, "mr: raft snapshot skipped: %s", err);
        return -1;
    }
    vl_mr_members_snapshot(self, data_p, len_p);
    vl_log(LOG_INFO, "mr: raft snapshot at applied index %" PRIu64 ": %zu bytes in %" PRId64 " ms",
           vl_persist_applied(self->persist), *len_p, (vl_now_us() - t0) / 1000);
    return 0;
}

static int s_restore(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
    self_t *self = arg;
    char err[512];
    bool done;
    if (vl_mr_members_restore(self, &data, &len) != 0) {
        vl_log(LOG_CRIT, "mr: the raft snapshot at index %" PRIu64 " holds a malformed member list",
               index);
        return -1;
    }
    if (vl_persist_restore(self->persist, index, data, len, &done, err, sizeof err) != 0) {
        vl_log(LOG_CRIT, "mr: restoring the raft snapshot at index %" PRIu64 ": %s", index, err);
        return -1;
    }
    if (!done)
        return 0; /* the store is past it already */
    if (self->leading || self->fencing)
        vl_mr_lead_end(self, "a snapshot replaced the state");
    vl_mr_server_reload(self);
    vl_log(LOG_NOTICE,
           "mr: state restored from the raft snapshot at index %" PRIu64
           " (%zu bytes): version=%" PRIu64 " topics=%zu log streams=%zu",
           index, len, vl_mrstate_version(self->state), vl_mrstate_topic_count(self->state),
           vl_mrstate_ls_count(self->state));
    return 0;
}

static void s_role(void *arg, int role, uint64_t term, uint64_t leader_id)
{
    self_t *self = arg;
    /* (the engine logs the change) */
    self->role = role;
    self->leader_id = leader_id;
    if (role == VL_MRRAFT_LEADER)
        vl_mr_lead_begin(self, term);
    else if (self->leading || self->fencing)
        vl_mr_lead_end(self, "this replica is no longer the leader");
    /* at start, requests wait in the ROUTER until someone leads (or this
       replica cannot take part any more and says so) */
    if (role == VL_MRRAFT_LEADER || role == VL_MRRAFT_DIVERGED ||
        (role == VL_MRRAFT_FOLLOWER && leader_id != 0))
        vl_mr_server_serve(self);
}

const vl_mrraft_fsm_t vl_mr_fsm = {
    .apply = s_apply,
    .snapshot = s_snapshot,
    .restore = s_restore,
    .role = s_role,
};

/*  ---- starting the replica ------------------------------------------------------ */

/*  The default raft address: the listen host and port + 100; port 0 (an
    ephemeral port) when the listen port is one or the endpoint is not TCP. */
static int s_default_addr(const char *listen, char *out, size_t size, char *errbuf,
                          size_t errbuf_size)
{
    const char *host = strncmp(listen, "tcp://", 6) == 0 ? listen + 6 : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    if (!colon) {
        snprintf(out, size, "127.0.0.1:0");
        return 0;
    }
    int hlen = (int)(colon - host);
    if (hlen == 0 || (hlen == 1 && host[0] == '*')) {
        host = "0.0.0.0";
        hlen = 7;
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port == 0)
        port = 0;
    else if ((port += VL_MR_RAFT_PORT_OFFSET) > 65535) {
        snprintf(errbuf, errbuf_size,
                 "the default raft address (the --listen port + %d) is past port 65535; give "
                 "--raft-addr HOST:PORT",
                 VL_MR_RAFT_PORT_OFFSET);
        return VL_EINVAL;
    }
    if (snprintf(out, size, "%.*s:%lu", hlen, host, port) >= (int)size) {
        snprintf(errbuf, errbuf_size,
                 "the --listen host is too long for a raft address; give "
                 "--raft-addr HOST:PORT");
        return VL_EINVAL;
    }
    return 0;
}

/*  Parses a list of members (ID@RAFTADDR@ENDPOINT[,...]) given by option
    opt (--peers, --recover) into out[0..*n_p) and self->members; *addr is
    this replica's raft address (from its entry when it is empty). */
static int s_parse_peers(self_t *self, const char *opt, const char *peers, vl_mrraft_member_t *out,
                         size_t *n_p, char *addr, size_t addr_size, char *errbuf,
                         size_t errbuf_size)
{
    char *copy = vl_strdup(peers), *save = NULL;
    int rc = 0;
    size_t n = 0;
    bool me = false;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        char *at1 = strchr(item, '@'), *at2 = at1 ? strchr(at1 + 1, '@') : NULL, *end;
        unsigned long long id = strtoull(item, &end, 10);
        if (!at2 || end != at1 || id == 0 || at2 == at1 + 1 || !memchr(at1 + 1, ':', at2 - at1) ||
            at2[1] == '\0' || (size_t)(at2 - at1 - 1) >= sizeof out->address ||
            strlen(at2 + 1) >= sizeof self->members[0].endpoint) {
            snprintf(errbuf, errbuf_size,
                     "%s: '%.100s' is not ID@RAFTADDR@ENDPOINT (such as "
                     "1@10.0.0.1:9192@tcp://10.0.0.1:9092)",
                     opt, item);
            rc = VL_EINVAL;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (out[i].id == id) {
                snprintf(errbuf, errbuf_size, "%s names raft id %llu twice", opt, id);
                rc = VL_EINVAL;
            }
        if (rc == 0 && n == S_MAX_MEMBERS) {
            snprintf(errbuf, errbuf_size, "%s names more than %d replicas", opt, S_MAX_MEMBERS);
            rc = VL_EINVAL;
        }
        if (rc != 0)
            break;
        memset(&out[n], 0, sizeof out[n]);
        out[n].id = id;
        out[n].role = VL_MRRAFT_VOTER;
        memcpy(out[n].address, at1 + 1, (size_t)(at2 - at1 - 1));
        self->members[n].id = id;
        snprintf(self->members[n].endpoint, sizeof self->members[n].endpoint, "%s", at2 + 1);
        if (id == self->raft_id) {
            me = true;
            if (!addr[0])
                snprintf(addr, addr_size, "%s", out[n].address);
            else if (strcmp(addr, out[n].address) != 0) {
                snprintf(errbuf, errbuf_size,
                         "--raft-addr %s differs from this replica's address in %s (%s)", addr, opt,
                         out[n].address);
                rc = VL_EINVAL;
            }
        }
        n++;
    }
    free(copy);
    if (rc == 0 && !me) {
        snprintf(errbuf, errbuf_size, "%s does not name this replica (--raft-id %" PRIu64 ")", opt,
                 self->raft_id);
        rc = VL_EINVAL;
    }
    *n_p = n;
    self->nmembers = rc == 0 ? n : 0;
    return rc;
}

/*  True when dir is missing or empty: no raft state yet. */
static bool s_dir_fresh(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool fresh = true;
    for (struct dirent *e = readdir(d); e && fresh; e = readdir(d))
        fresh = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return fresh;
}

/*  The members of a new group, checked against the store: a new raft log
    over a store that holds metadata is fine for a group of one (the store
    is its base, as a store from before replication is), not for several
    (they would start from different states) nor for a replica that joins
    (it receives everything from the leader). */
static int s_check_fresh(self_t *self, const vl_mr_config_t *cfg, size_t nmembers, char *errbuf,
                         size_t errbuf_size)
{
    if (vl_persist_empty(self->persist))
        return 0;
    if (cfg->join) {
        snprintf(errbuf, errbuf_size,
                 "--join: the data directory %s holds metadata but no raft log; a replica that "
                 "joins receives everything from the leader: give it an empty data directory",
                 cfg->data_dir);
        return VL_EEXIST;
    }
    if (nmembers > 1) {
        snprintf(errbuf, errbuf_size,
                 "the data directory %s holds metadata but no raft log: a new group of %zu "
                 "replicas must start empty; start this replica alone (without --peers), then "
                 "add the others with 'varlogctl mr add'",
                 cfg->data_dir, nmembers);
        return VL_EEXIST;
    }
    return 0;
}

int vl_mr_fsm_start(self_t *self, const vl_mr_config_t *cfg, char *errbuf, size_t errbuf_size)
{
    self->raft_id = cfg->raft_id ? cfg->raft_id : 1;
    char addr[256] = "";
    if (cfg->raft_addr)
        snprintf(addr, sizeof addr, "%s", cfg->raft_addr);
    vl_mrraft_member_t members[S_MAX_MEMBERS];
    size_t n = 1;
    int rc = 0;
    if (cfg->peers && cfg->peers[0]) {
        rc = s_parse_peers(self, "--peers", cfg->peers, members, &n, addr, sizeof addr, errbuf,
                           errbuf_size);
    } else {
        if (!addr[0])
            rc = s_default_addr(cfg->listen, addr, sizeof addr, errbuf, errbuf_size);
        memset(members, 0, sizeof members[0]);
        /* its own endpoint, when --listen names one clients can use,
           until the raft log says otherwise */
        if (vl_mrconn_valid(cfg->listen) && !strchr(cfg->listen, '*')) {
            self->members[0].id = self->raft_id;
            snprintf(self->members[0].endpoint, sizeof self->members[0].endpoint, "%s",
                     cfg->listen);
            self->nmembers = 1;
        }
        members[0].id = self->raft_id;
        members[0].role = VL_MRRAFT_VOTER;
        snprintf(members[0].address, sizeof members[0].address, "%s", addr);
    }
    if (rc != 0)
        return rc;
    const char *port = strrchr(addr, ':');
    if (!port || (n > 1 && strcmp(port, ":0") == 0)) {
        snprintf(
            errbuf, errbuf_size, "raft address '%s': give HOST:PORT%s", addr,
            port ? " with a fixed port (port 0, an ephemeral one, works for a group of one only)"
                 : "");
        return VL_EINVAL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/raft", cfg->data_dir);
    bool fresh = s_dir_fresh(dir);
    if (fresh && (rc = s_check_fresh(self, cfg, n, errbuf, errbuf_size)) != 0)
        return rc;
    vl_mrraft_opts_t o = {
        .id = self->raft_id,
        .address = addr,
        .dir = dir,
        .election_ms = cfg->election_ms ? cfg->election_ms : VL_MR_ELECTION_MS_DEFAULT,
        .heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : VL_MR_HEARTBEAT_MS_DEFAULT,
        .snapshot_threshold = cfg->snapshot_threshold,
        .snapshot_trailing = cfg->snapshot_trailing,
    };
    self->raft = vl_mrraft_new(self->loop, &o, &vl_mr_fsm, self, errbuf, errbuf_size);
    if (!self->raft)
        return VL_EIO;
    bool bootstrapped = false;
    if (!cfg->join &&
        vl_mrraft_bootstrap(self->raft, members, n, &bootstrapped, errbuf, errbuf_size) != 0)
        return VL_EIO;
    if (bootstrapped && vl_persist_applied(self->persist) > 0) {
        /* the store outlived its raft log: it is the new log's base */
        vl_log(LOG_NOTICE,
               "mr: %s has no raft log but the store applied raft index %" PRIu64
               " of an earlier one: the store is the new log's base",
               dir, vl_persist_applied(self->persist));
        if ((rc = vl_persist_rebase(self->persist, errbuf, errbuf_size)) != 0)
            return rc;
    }
    vl_log(LOG_INFO, "mr: raft id %" PRIu64 " at %s, log in %s: %s", self->raft_id, addr, dir,
           bootstrapped         ? "bootstrapped a new group"
           : cfg->join && fresh ? "waiting to be added to a group"
                                : "resuming");
    if (vl_mrraft_start(self->raft, errbuf, errbuf_size) != 0)
        return VL_EIO;
    return 0;
}

int vl_mr_recover(vl_mr_config_t *cfg)
{
    self_t self;
    memset(&self, 0, sizeof self);
    self.raft_id = cfg->raft_id ? cfg->raft_id : 1;
    char *errbuf = cfg->errbuf;
    size_t errbuf_size = sizeof cfg->errbuf;
    char addr[256] = "";
    if (cfg->raft_addr)
        snprintf(addr, sizeof addr, "%s", cfg->raft_addr);
    vl_mrraft_member_t members[S_MAX_MEMBERS];
    size_t n = 0;
    int rc = s_parse_peers(&self, "--recover", cfg->recover, members, &n, addr, sizeof addr, errbuf,
                           errbuf_size);
    if (rc != 0)
        return rc;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/raft", cfg->data_dir);
    if (s_dir_fresh(dir)) {
        snprintf(errbuf, errbuf_size,
                 "--recover: %.300s holds no raft log: nothing to recover; give the data "
                 "directory of a surviving replica (a replica without state joins with --join)",
                 dir);
        return VL_EINVAL;
    }
    vl_mrraft_opts_t o = {.id = self.raft_id, .address = addr, .dir = dir};
    zloop_t *loop = zloop_new();
    vl_mrraft_t *raft = vl_mrraft_new(loop, &o, &vl_mr_fsm, &self, errbuf, errbuf_size);
    rc = raft ? vl_mrraft_recover(raft, members, n, errbuf, errbuf_size) : VL_EIO;
    vl_mrraft_destroy(&raft);
    zloop_destroy(&loop);
    return rc == 0 ? 0 : VL_EIO;
}
