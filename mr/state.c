/*  state.c - cluster state and the commit rule of the metadata repository.

    Records live in arrays of pointers sorted by id (the order rounds,
    META and placement walk them in). Ids only grow, so an insert is nearly
    always an append. Lookups by id go through a hash index beside each
    array (s_index_t), not a bisection: a REPORT looks up every item it
    carries and a round every log stream it advanced, and at 1,000 log
    streams the bisection's cache miss per step was 38 % of the MR's CPU.
    So a report of n items costs O(n) and a commit round O(LS), never
    anything per entry: the MR's work follows the number of log streams,
    not the number of entries appended to them.

    The commit rule is varlog's: an entry is committed when every replica of
    its log stream has it durably, i.e. up to the minimum reported llsn_end.
    The byte count comes from the replica whose end is that minimum, since it
    is the only one whose bytes_end describes exactly that prefix. Topics are
    visited by id and log streams by id, so a round is a deterministic
    function of the state and the reports.

    Placement: the primary goes to the SN with the fewest primaries (so the
    write load of a topic's log streams spreads), then fewest replicas; the
    backups to the SNs with the fewest replicas; ties go to the lower id so
    that placement is reproducible in tests.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state.h"
#include "util.h"

/*  Records by id: open addressing with linear probing over a power-of-two
    table at most half full, so an absent id (a REPORT may name any) ends
    at an empty slot within a probe or two. Fibonacci hashing: dense ids
    spread evenly, and so do the ranges left by deleted topics (with slot =
    id & mask two such ranges could collide slot for slot). The table holds
    live records only, so it follows the live count, not the highest id
    ever given out. Removal rebuilds it: removals are admin operations. */
typedef struct {
    void **slots;
    uint32_t bits; /* 0: no table yet */
} s_index_t;

struct vl_mrstate {
    vl_mrstate_counters_t counters;
    vl_mrstate_sn_t **sns;
    size_t nsn, capsn;
    vl_mrstate_topic_t **topics;
    size_t ntopics, captopics;
    vl_mrstate_ls_t **lss;
    size_t nls, capls;
    s_index_t sn_index, topic_index, ls_index;
    bool dirty; /* a round may commit something (vl_mrstate_dirty) */
};

/*  ---- sorted pointer arrays ------------------------------------------- */

/*  Every record type starts with its uint32_t id. */
static size_t s_lower_bound(void *const *arr, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*(const uint32_t *)arr[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*  ---- the id index ------------------------------------------------------- */

static size_t s_slot(const s_index_t *idx, uint32_t id)
{
    return (uint32_t)(id * 2654435769u) >> (32 - idx->bits);
}

static void *s_index_get(const s_index_t *idx, uint32_t id)
{
    if (idx->bits == 0)
        return NULL;
    size_t mask = ((size_t)1 << idx->bits) - 1;
    for (size_t i = s_slot(idx, id);; i = (i + 1) & mask) {
        void *p = idx->slots[i];
        if (!p || *(const uint32_t *)p == id)
            return p;
    }
}

static void s_index_put_slot(s_index_t *idx, void *p)
{
    size_t mask = ((size_t)1 << idx->bits) - 1;
    size_t i = s_slot(idx, *(const uint32_t *)p);
    while (idx->slots[i])
        i = (i + 1) & mask;
    idx->slots[i] = p;
}

/*  Rebuilds idx over the n records of arr, sized for at least n + 1. */
static void s_index_rebuild(s_index_t *idx, void *const *arr, size_t n)
{
    uint32_t bits = 4;
    while (((size_t)1 << bits) < 2 * (n + 1))
        bits++;
    free(idx->slots);
    idx->bits = bits;
    idx->slots = vl_calloc((size_t)1 << bits, sizeof *idx->slots);
    for (size_t i = 0; i < n; i++)
        s_index_put_slot(idx, arr[i]);
}

/*  Adds p (whose id is not in idx) to the index of arr, which already
    holds p among its n records. */
static void s_index_add(s_index_t *idx, void *const *arr, size_t n, void *p)
{
    if (idx->bits == 0 || 2 * n > ((size_t)1 << idx->bits))
        s_index_rebuild(idx, arr, n);
    else
        s_index_put_slot(idx, p);
}

/*  Inserts p (whose id is not in arr) at its sorted place. */
static void s_insert(void ***arr_p, size_t *n_p, size_t *cap_p, void *p)
{
    if (*n_p == *cap_p) {
        *cap_p = *cap_p ? *cap_p * 2 : 16;
        *arr_p = vl_realloc(*arr_p, *cap_p * sizeof(void *));
    }
    size_t i = s_lower_bound(*arr_p, *n_p, *(const uint32_t *)p);
    memmove(*arr_p + i + 1, *arr_p + i, (*n_p - i) * sizeof(void *));
    (*arr_p)[i] = p;
    (*n_p)++;
}

static void s_remove_at(void **arr, size_t *n_p, size_t i)
{
    memmove(arr + i, arr + i + 1, (*n_p - i - 1) * sizeof(void *));
    (*n_p)--;
}

#define S_INSERT(self, arr, n, cap, index, p)                                                      \
    do {                                                                                           \
        s_insert((void ***)&(self)->arr, &(self)->n, &(self)->cap, (p));                           \
        s_index_add(&(self)->index, (void *const *)(self)->arr, (self)->n, (p));                   \
    } while (0)
#define S_REINDEX(self, arr, n, index)                                                             \
    s_index_rebuild(&(self)->index, (void *const *)(self)->arr, (self)->n)

/*  ---- lifecycle --------------------------------------------------------- */

vl_mrstate_t *vl_mrstate_new(void)
{
    vl_mrstate_t *self = vl_calloc(1, sizeof *self);
    self->counters.next_sn_id = 1;
    self->counters.next_topic_id = 1;
    self->counters.next_ls_id = 1;
    self->dirty = true; /* whatever gets loaded is looked at once */
    return self;
}

void vl_mrstate_destroy(vl_mrstate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_mrstate_t *self = *self_p;
    for (size_t i = 0; i < self->nsn; i++)
        free(self->sns[i]);
    for (size_t i = 0; i < self->ntopics; i++) {
        free(self->topics[i]->ls);
        free(self->topics[i]);
    }
    for (size_t i = 0; i < self->nls; i++)
        free(self->lss[i]);
    free(self->sns);
    free(self->topics);
    free(self->lss);
    free(self->sn_index.slots);
    free(self->topic_index.slots);
    free(self->ls_index.slots);
    free(self);
    *self_p = NULL;
}

void vl_mrstate_counters(const vl_mrstate_t *self, vl_mrstate_counters_t *out)
{
    *out = self->counters;
}

void vl_mrstate_set_counters(vl_mrstate_t *self, const vl_mrstate_counters_t *c)
{
    self->counters = *c;
    /* ids in use must never be handed out again, even if V lagged behind */
    for (size_t i = 0; i < self->nsn; i++)
        if (self->sns[i]->id >= self->counters.next_sn_id)
            self->counters.next_sn_id = self->sns[i]->id + 1;
    for (size_t i = 0; i < self->ntopics; i++)
        if (self->topics[i]->id >= self->counters.next_topic_id)
            self->counters.next_topic_id = self->topics[i]->id + 1;
    for (size_t i = 0; i < self->nls; i++)
        if (self->lss[i]->id >= self->counters.next_ls_id)
            self->counters.next_ls_id = self->lss[i]->id + 1;
}

uint64_t vl_mrstate_version(const vl_mrstate_t *self)
{
    return self->counters.version;
}

/*  ---- storage nodes ------------------------------------------------------ */

vl_mrstate_sn_t *vl_mrstate_sn_by_id(const vl_mrstate_t *self, uint32_t id)
{
    return s_index_get(&self->sn_index, id);
}

vl_mrstate_sn_t *vl_mrstate_sn_by_addr(const vl_mrstate_t *self, const char *addr)
{
    for (size_t i = 0; i < self->nsn; i++)
        if (strcmp(self->sns[i]->addr, addr) == 0)
            return self->sns[i];
    return NULL;
}

size_t vl_mrstate_sn_count(const vl_mrstate_t *self)
{
    return self->nsn;
}

vl_mrstate_sn_t *vl_mrstate_sn_at(const vl_mrstate_t *self, size_t i)
{
    return i < self->nsn ? self->sns[i] : NULL;
}

int vl_mrstate_load_sn(vl_mrstate_t *self, uint32_t id, const char *addr)
{
    if (id == 0 || !addr[0] || strlen(addr) > VL_WIRE_MAX_ADDR)
        return VL_EINVAL;
    if (vl_mrstate_sn_by_id(self, id) || vl_mrstate_sn_by_addr(self, addr))
        return VL_EEXIST;
    vl_mrstate_sn_t *sn = vl_calloc(1, sizeof *sn);
    sn->id = id;
    snprintf(sn->addr, sizeof sn->addr, "%s", addr);
    S_INSERT(self, sns, nsn, capsn, sn_index, sn);
    if (id >= self->counters.next_sn_id)
        self->counters.next_sn_id = id + 1;
    return 0;
}

int vl_mrstate_sn_add(vl_mrstate_t *self, const char *addr, uint32_t *id_p)
{
    if (!addr[0] || strlen(addr) > VL_WIRE_MAX_ADDR)
        return VL_EINVAL;
    vl_mrstate_sn_t *old = vl_mrstate_sn_by_addr(self, addr);
    if (old) {
        *id_p = old->id;
        return VL_EEXIST;
    }
    uint32_t id = self->counters.next_sn_id;
    int rc = vl_mrstate_load_sn(self, id, addr);
    if (rc == 0)
        *id_p = id;
    return rc;
}

static bool s_sn_hosts(const vl_mrstate_t *self, uint32_t sn_id)
{
    for (size_t i = 0; i < self->nls; i++)
        if (vl_mrstate_replica(self->lss[i], sn_id))
            return true;
    return false;
}

int vl_mrstate_sn_remove(vl_mrstate_t *self, uint32_t id)
{
    size_t i = s_lower_bound((void *const *)self->sns, self->nsn, id);
    if (i >= self->nsn || self->sns[i]->id != id)
        return VL_ENOSN;
    if (s_sn_hosts(self, id))
        return VL_EBUSY;
    free(self->sns[i]);
    s_remove_at((void **)self->sns, &self->nsn, i);
    S_REINDEX(self, sns, nsn, sn_index);
    return 0;
}

void vl_mrstate_sn_reset(vl_mrstate_t *self, uint32_t sn_id)
{
    for (size_t i = 0; i < self->nls; i++) {
        vl_mrstate_replica_t *r = vl_mrstate_replica(self->lss[i], sn_id);
        if (!r)
            continue;
        /* Keep nothing from before: with --sync=none the SN may have lost
           entries it reported, and committing on a stale end would announce
           entries no replica holds. */
        uint32_t keep = r->sn_id;
        memset(r, 0, sizeof *r);
        r->sn_id = keep;
    }
}

/*  ---- topics and log streams -------------------------------------------- */

vl_mrstate_topic_t *vl_mrstate_topic_by_id(const vl_mrstate_t *self, uint32_t id)
{
    return s_index_get(&self->topic_index, id);
}

vl_mrstate_topic_t *vl_mrstate_topic_by_name(const vl_mrstate_t *self, const char *name)
{
    for (size_t i = 0; i < self->ntopics; i++)
        if (strcmp(self->topics[i]->name, name) == 0)
            return self->topics[i];
    return NULL;
}

size_t vl_mrstate_topic_count(const vl_mrstate_t *self)
{
    return self->ntopics;
}

vl_mrstate_topic_t *vl_mrstate_topic_at(const vl_mrstate_t *self, size_t i)
{
    return i < self->ntopics ? self->topics[i] : NULL;
}

vl_mrstate_ls_t *vl_mrstate_ls_by_id(const vl_mrstate_t *self, uint32_t id)
{
    return s_index_get(&self->ls_index, id);
}

size_t vl_mrstate_ls_count(const vl_mrstate_t *self)
{
    return self->nls;
}

vl_mrstate_ls_t *vl_mrstate_ls_at(const vl_mrstate_t *self, size_t i)
{
    return i < self->nls ? self->lss[i] : NULL;
}

vl_mrstate_replica_t *vl_mrstate_replica(vl_mrstate_ls_t *ls, uint32_t sn_id)
{
    for (uint32_t i = 0; i < ls->nrep; i++)
        if (ls->replicas[i].sn_id == sn_id)
            return &ls->replicas[i];
    return NULL;
}

int vl_mrstate_load_topic(vl_mrstate_t *self, const vl_mrstate_topic_t *rec)
{
    if (rec->id == 0 || !vl_topic_name_valid(rec->name) || rec->rf == 0 ||
        rec->rf > VL_WIRE_MAX_REPLICAS || rec->trim_glsn == 0)
        return VL_EINVAL;
    if (vl_mrstate_topic_by_id(self, rec->id) || vl_mrstate_topic_by_name(self, rec->name))
        return VL_EEXIST;
    vl_mrstate_topic_t *t = vl_calloc(1, sizeof *t);
    *t = *rec;
    t->nls = 0;
    t->ls = NULL;
    S_INSERT(self, topics, ntopics, captopics, topic_index, t);
    if (t->id >= self->counters.next_topic_id)
        self->counters.next_topic_id = t->id + 1;
    return 0;
}

int vl_mrstate_load_ls(vl_mrstate_t *self, const vl_mrstate_ls_t *rec)
{
    if (rec->id == 0 || rec->nrep == 0 || rec->nrep > VL_WIRE_MAX_REPLICAS ||
        rec->state > VL_LS_DELETED)
        return VL_EINVAL;
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, rec->topic_id);
    if (!t)
        return VL_ENOTOPIC;
    if (vl_mrstate_ls_by_id(self, rec->id))
        return VL_EEXIST;
    vl_mrstate_ls_t *ls = vl_calloc(1, sizeof *ls);
    ls->id = rec->id;
    ls->topic_id = rec->topic_id;
    ls->state = rec->state;
    ls->nrep = rec->nrep;
    for (uint32_t i = 0; i < rec->nrep; i++)
        ls->replicas[i].sn_id = rec->replicas[i].sn_id; /* reports are not kept */
    ls->committed_llsn_end = rec->committed_llsn_end;
    ls->committed_bytes = rec->committed_bytes;
    ls->epoch = rec->epoch;
    ls->seal_sn = rec->seal_sn;
    S_INSERT(self, lss, nls, capls, ls_index, ls);
    /* a topic's list stays sorted by id too */
    t->ls = vl_realloc(t->ls, (t->nls + 1) * sizeof *t->ls);
    size_t i = s_lower_bound((void *const *)t->ls, t->nls, ls->id);
    memmove(t->ls + i + 1, t->ls + i, (t->nls - i) * sizeof *t->ls);
    t->ls[i] = ls;
    t->nls++;
    if (ls->id >= self->counters.next_ls_id)
        self->counters.next_ls_id = ls->id + 1;
    return 0;
}

/*  Chooses rf distinct SNs for a new log stream (see the file comment). */
static int s_place(const vl_mrstate_t *self, uint32_t rf, uint32_t *replicas)
{
    if (rf == 0 || rf > self->nsn)
        return VL_EUNAVAIL;
    size_t n = self->nsn;
    uint32_t *nrep = vl_calloc(n, sizeof *nrep);
    uint32_t *nprim = vl_calloc(n, sizeof *nprim);
    bool *chosen = vl_calloc(n, sizeof *chosen);
    for (size_t i = 0; i < self->nls; i++) {
        const vl_mrstate_ls_t *ls = self->lss[i];
        for (uint32_t k = 0; k < ls->nrep; k++) {
            size_t j = s_lower_bound((void *const *)self->sns, n, ls->replicas[k].sn_id);
            if (j < n && self->sns[j]->id == ls->replicas[k].sn_id) {
                nrep[j]++;
                if (k == 0)
                    nprim[j]++;
            }
        }
    }
    for (uint32_t k = 0; k < rf; k++) {
        size_t best = n;
        for (size_t j = 0; j < n; j++) {
            if (chosen[j])
                continue;
            if (best == n) {
                best = j;
                continue;
            }
            /* primary: fewest primaries, then fewest replicas; backups:
               fewest replicas (a primary-count tie-break there would pile
               backups onto the SNs about to become primaries) */
            bool better = k == 0 ? (nprim[j] < nprim[best] ||
                                    (nprim[j] == nprim[best] && nrep[j] < nrep[best]))
                                 : nrep[j] < nrep[best];
            if (better)
                best = j; /* j > best, so equal keys keep the lower id */
        }
        chosen[best] = true;
        replicas[k] = self->sns[best]->id;
    }
    free(nrep);
    free(nprim);
    free(chosen);
    return 0;
}

static int s_ls_add(vl_mrstate_t *self, vl_mrstate_topic_t *t, uint32_t *ls_id_p)
{
    uint32_t replicas[VL_WIRE_MAX_REPLICAS];
    int rc = s_place(self, t->rf, replicas);
    if (rc != 0)
        return rc;
    vl_mrstate_ls_t rec;
    memset(&rec, 0, sizeof rec);
    rec.id = self->counters.next_ls_id;
    rec.topic_id = t->id;
    rec.state = VL_LS_RUNNING;
    rec.nrep = t->rf;
    for (uint32_t i = 0; i < t->rf; i++)
        rec.replicas[i].sn_id = replicas[i];
    rc = vl_mrstate_load_ls(self, &rec);
    if (rc == 0 && ls_id_p)
        *ls_id_p = rec.id;
    return rc;
}

int vl_mrstate_topic_create(vl_mrstate_t *self, const char *name, uint32_t nls, uint32_t rf,
                            uint32_t *id_p, char *errbuf, size_t errbuf_size)
{
    if (!vl_topic_name_valid(name)) {
        snprintf(errbuf, errbuf_size, "create topic '%.64s': %s", name, vl_err_str(VL_ENAME));
        return VL_ENAME;
    }
    if (vl_mrstate_topic_by_name(self, name)) {
        snprintf(errbuf, errbuf_size,
                 "create topic '%s': a topic of that name already exists; pick another "
                 "name or delete it first",
                 name);
        return VL_EEXIST;
    }
    if (nls == 0) {
        nls = self->nsn < 3 ? (uint32_t)self->nsn : 3;
        if (nls == 0)
            nls = 1;
    }
    if (rf == 0)
        rf = 1;
    if (nls > VL_MRSTATE_MAX_NLS || rf > VL_WIRE_MAX_REPLICAS) {
        snprintf(errbuf, errbuf_size,
                 "create topic '%s': %u log streams with replication factor %u is too "
                 "much; use at most %d log streams and replication factor %d",
                 name, nls, rf, VL_MRSTATE_MAX_NLS, VL_WIRE_MAX_REPLICAS);
        return VL_EINVAL;
    }
    if (rf > self->nsn) {
        snprintf(errbuf, errbuf_size,
                 "create topic '%s': replication factor %u needs %u storage nodes but the "
                 "cluster has %zu; add storage nodes or lower the replication factor",
                 name, rf, rf, self->nsn);
        return VL_EUNAVAIL;
    }
    vl_mrstate_topic_t rec;
    memset(&rec, 0, sizeof rec);
    rec.id = self->counters.next_topic_id;
    snprintf(rec.name, sizeof rec.name, "%s", name);
    rec.rf = rf;
    rec.trim_glsn = 1;
    int rc = vl_mrstate_load_topic(self, &rec);
    if (rc != 0) {
        snprintf(errbuf, errbuf_size, "create topic '%s': %s", name, vl_err_str(rc));
        return rc;
    }
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, rec.id);
    for (uint32_t i = 0; i < nls; i++) {
        rc = s_ls_add(self, t, NULL);
        if (rc != 0) { /* cannot happen: rf <= nsn was checked */
            vl_mrstate_topic_delete(self, rec.id);
            snprintf(errbuf, errbuf_size, "create topic '%s': placing log streams: %s", name,
                     vl_err_str(rc));
            return rc;
        }
    }
    *id_p = rec.id;
    return 0;
}

int vl_mrstate_topic_delete(vl_mrstate_t *self, uint32_t id)
{
    size_t ti = s_lower_bound((void *const *)self->topics, self->ntopics, id);
    if (ti >= self->ntopics || self->topics[ti]->id != id)
        return VL_ENOTOPIC;
    vl_mrstate_topic_t *t = self->topics[ti];
    for (uint32_t k = 0; k < t->nls; k++) {
        size_t i = s_lower_bound((void *const *)self->lss, self->nls, t->ls[k]->id);
        free(self->lss[i]);
        s_remove_at((void **)self->lss, &self->nls, i);
    }
    free(t->ls);
    free(t);
    s_remove_at((void **)self->topics, &self->ntopics, ti);
    S_REINDEX(self, topics, ntopics, topic_index);
    S_REINDEX(self, lss, nls, ls_index);
    return 0;
}

int vl_mrstate_ls_add(vl_mrstate_t *self, uint32_t topic_id, uint32_t *ls_id_p, char *errbuf,
                      size_t errbuf_size)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, topic_id);
    if (!t) {
        snprintf(errbuf, errbuf_size, "add log stream: no topic with id %u", topic_id);
        return VL_ENOTOPIC;
    }
    if (t->nls >= VL_MRSTATE_MAX_NLS) {
        snprintf(errbuf, errbuf_size,
                 "add log stream to '%s': the topic has %u log streams already, the most "
                 "allowed",
                 t->name, t->nls);
        return VL_EINVAL;
    }
    int rc = s_ls_add(self, t, ls_id_p);
    if (rc == VL_EUNAVAIL)
        snprintf(errbuf, errbuf_size,
                 "add log stream to '%s': replication factor %u needs %u storage nodes but "
                 "the cluster has %zu; add storage nodes first",
                 t->name, t->rf, t->rf, self->nsn);
    else if (rc != 0)
        snprintf(errbuf, errbuf_size, "add log stream to '%s': %s", t->name, vl_err_str(rc));
    return rc;
}

/*  ---- seal, unseal, replace ------------------------------------------------ */

static const char *s_state_name(uint8_t state)
{
    static const char *names[] = {"RUNNING", "SEALING", "SEALED", "UNSEALING", "DELETED"};
    return state < 5 ? names[state] : "UNKNOWN";
}

int vl_mrstate_ls_seal(vl_mrstate_t *self, uint32_t ls_id, uint32_t seal_sn, char *errbuf,
                       size_t errbuf_size)
{
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self, ls_id);
    if (!ls) {
        snprintf(errbuf, errbuf_size, "seal: no log stream %u; list them with 'varlogctl ls list'",
                 ls_id);
        return VL_ENOLS;
    }
    if (ls->state == VL_LS_SEALED) {
        if (seal_sn == 0)
            ls->seal_sn = 0;
        return 0;
    }
    ls->state = VL_LS_SEALED;
    ls->seal_sn = seal_sn;
    ls->epoch++;
    for (uint32_t k = 0; k < ls->nrep; k++)
        ls->replicas[k].state = VL_LS_RUNNING;
    return 0;
}

int vl_mrstate_ls_unseal(vl_mrstate_t *self, uint32_t ls_id, const char *topic, char *errbuf,
                         size_t errbuf_size)
{
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self, ls_id);
    if (!ls) {
        snprintf(errbuf, errbuf_size,
                 "unseal: no log stream %u; list them with 'varlogctl ls list'", ls_id);
        return VL_ENOLS;
    }
    if (ls->state == VL_LS_RUNNING)
        return 0;
    uint64_t x = ls->committed_llsn_end;
    for (uint32_t k = 0; k < ls->nrep; k++) {
        const vl_mrstate_replica_t *r = &ls->replicas[k];
        const char *why = NULL;
        if (!r->synced)
            why = "has not reported since the MR or the storage node started";
        else if (r->state != VL_LS_SEALED)
            why = "has not reported the seal yet (still discarding its uncommitted suffix?)";
        else if (r->llsn_end != x)
            why = r->llsn_end < x ? "lacks entries up to the sealed end"
                                  : "holds entries beyond the sealed end";
        else if (r->applied_llsn_end != x)
            why = "has not stored every commit up to the sealed end";
        if (!why)
            continue;
        snprintf(errbuf, errbuf_size,
                 "unseal ls=%u: replica sn=%u %s (llsn_end=%" PRIu64 " applied=%" PRIu64
                 " state=%s, sealed end %" PRIu64 "); run 'varlogctl ls sync %s %u' (or 'ls "
                 "recover %s') and retry",
                 ls_id, r->sn_id, why, r->llsn_end, r->applied_llsn_end,
                 r->synced ? s_state_name(r->state) : "unknown", x, topic, ls_id, topic);
        return VL_EBUSY;
    }
    ls->state = VL_LS_RUNNING;
    ls->seal_sn = 0;
    ls->epoch++;
    self->dirty = true;
    return 0;
}

int vl_mrstate_ls_update(vl_mrstate_t *self, uint32_t ls_id, uint32_t sn_from, uint32_t sn_to,
                         const char *topic, char *errbuf, size_t errbuf_size)
{
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self, ls_id);
    if (!ls) {
        snprintf(errbuf, errbuf_size,
                 "update ls=%u: no such log stream; list them with 'varlogctl ls list'", ls_id);
        return VL_ENOLS;
    }
    if (ls->state != VL_LS_SEALED) {
        snprintf(errbuf, errbuf_size,
                 "update ls=%u: it is %s; replicas are replaced only while sealed: run "
                 "'varlogctl ls seal %s %u' first",
                 ls_id, s_state_name(ls->state), topic, ls_id);
        return VL_EBUSY;
    }
    vl_mrstate_replica_t *r = vl_mrstate_replica(ls, sn_from);
    if (!r) {
        snprintf(errbuf, errbuf_size,
                 "update ls=%u: storage node %u is not one of its replicas; see 'varlogctl "
                 "topic describe %s'",
                 ls_id, sn_from, topic);
        return VL_ENOSN;
    }
    if (!vl_mrstate_sn_by_id(self, sn_to)) {
        snprintf(errbuf, errbuf_size,
                 "update ls=%u: no storage node %u; register it with 'varlogctl sn add ADDR'",
                 ls_id, sn_to);
        return VL_ENOSN;
    }
    if (vl_mrstate_replica(ls, sn_to)) {
        snprintf(errbuf, errbuf_size,
                 "update ls=%u: storage node %u already holds a replica of it; pick another", ls_id,
                 sn_to);
        return VL_EEXIST;
    }
    memset(r, 0, sizeof *r);
    r->sn_id = sn_to;
    return 0;
}

/*  ---- reports and commits ------------------------------------------------ */

vl_mrstate_replica_t *vl_mrstate_report_item(vl_mrstate_t *self, uint32_t sn_id,
                                             const vl_report_item_t *it, vl_mrstate_ls_t **ls_p)
{
    vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self, it->ls_id);
    vl_mrstate_replica_t *r = ls ? vl_mrstate_replica(ls, sn_id) : NULL;
    *ls_p = ls;
    if (r) {
        /* Only a replica of a running log stream that now holds entries
           past the committed end can raise what a round commits, and only
           when its ends changed or it comes into sync; the heartbeat
           reports of an idle cluster change nothing. */
        if (ls->state == VL_LS_RUNNING && it->llsn_end > ls->committed_llsn_end &&
            (!r->synced || r->llsn_end != it->llsn_end || r->bytes_end != it->bytes_end))
            self->dirty = true;
        r->llsn_end = it->llsn_end;
        r->bytes_end = it->bytes_end;
        r->applied_llsn_end = it->applied_llsn_end;
        r->state = it->state;
        if (!r->synced) {
            /* first word since start or HELLO: resend from what it holds */
            r->synced = true;
            r->sent_llsn_end = it->applied_llsn_end;
            r->lag_since_us = 0;
        }
    }
    return r;
}

int vl_mrstate_report(vl_mrstate_t *self, const vl_report_t *rep)
{
    if (!vl_mrstate_sn_by_id(self, rep->sn_id))
        return VL_ENOSN;
    vl_mrstate_ls_t *ls;
    for (uint32_t i = 0; i < rep->n; i++)
        vl_mrstate_report_item(self, rep->sn_id, &rep->items[i], &ls);
    return 0;
}

bool vl_mrstate_dirty(const vl_mrstate_t *self)
{
    return self->dirty;
}

void vl_mrstate_clear_dirty(vl_mrstate_t *self)
{
    self->dirty = false;
}

uint32_t vl_mrstate_commit_compute(const vl_mrstate_t *self, vl_commit_t *out)
{
    memset(out, 0, sizeof *out);
    uint32_t cap = 0;
    for (size_t ti = 0; ti < self->ntopics; ti++) {
        const vl_mrstate_topic_t *t = self->topics[ti];
        uint64_t hwm = t->hwm, end_offset = t->end_offset;
        uint32_t first = out->n;
        for (uint32_t k = 0; k < t->nls; k++) {
            const vl_mrstate_ls_t *ls = t->ls[k];
            if (ls->state != VL_LS_RUNNING || ls->nrep == 0)
                continue;
            const vl_mrstate_replica_t *min = &ls->replicas[0];
            bool all_synced = true;
            for (uint32_t r = 0; r < ls->nrep; r++) {
                if (!ls->replicas[r].synced)
                    all_synced = false;
                if (ls->replicas[r].llsn_end < min->llsn_end)
                    min = &ls->replicas[r];
            }
            /* A replica that has not reported since start/HELLO counts as
               holding nothing new. */
            if (!all_synced || min->llsn_end <= ls->committed_llsn_end)
                continue;
            /* A replica whose bytes went backwards reports nonsense; wait
               for a consistent report rather than commit a wrong offset. */
            if (min->bytes_end < ls->committed_bytes)
                continue;
            uint64_t count = min->llsn_end - ls->committed_llsn_end;
            uint64_t bytes = min->bytes_end - ls->committed_bytes;
            if (hwm + count < hwm || end_offset + bytes < end_offset)
                continue;
            if (out->n == cap) {
                cap = cap ? cap * 2 : 16;
                out->items = vl_realloc(out->items, cap * sizeof *out->items);
            }
            vl_commit_item_t *c = &out->items[out->n++];
            c->topic_id = t->id;
            c->ls_id = ls->id;
            c->llsn_begin = ls->committed_llsn_end + 1;
            c->glsn_begin = hwm + 1;
            c->count = count;
            c->offset_begin = end_offset;
            c->bytes = bytes;
            hwm += count;
            end_offset += bytes;
        }
        /* every item carries the topic's ends after the whole round */
        for (uint32_t i = first; i < out->n; i++) {
            out->items[i].hwm = hwm;
            out->items[i].end_offset = end_offset;
        }
    }
    out->version = self->counters.version + (out->n ? 1 : 0);
    return out->n;
}

void vl_mrstate_commit_apply(vl_mrstate_t *self, const vl_commit_t *round)
{
    if (round->n == 0)
        return;
    self->counters.version = round->version;
    for (uint32_t i = 0; i < round->n; i++) {
        const vl_commit_item_t *c = &round->items[i];
        vl_mrstate_ls_t *ls = vl_mrstate_ls_by_id(self, c->ls_id);
        vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, c->topic_id);
        if (!ls || !t)
            continue;
        ls->committed_llsn_end = c->llsn_begin + c->count - 1;
        ls->committed_bytes += c->bytes;
        t->hwm = c->hwm;
        t->end_offset = c->end_offset;
    }
}

/*  ---- metadata and trim -------------------------------------------------- */

void vl_mrstate_meta(const vl_mrstate_t *self, uint32_t cluster_id, uint32_t sn_id, vl_meta_t *out)
{
    memset(out, 0, sizeof *out);
    out->cluster_id = cluster_id;
    out->version = self->counters.version;
    out->sn_id = sn_id;
    out->nsn = (uint32_t)self->nsn;
    out->sns = vl_calloc(self->nsn ? self->nsn : 1, sizeof *out->sns);
    for (size_t i = 0; i < self->nsn; i++) {
        out->sns[i].id = self->sns[i]->id;
        snprintf(out->sns[i].addr, sizeof out->sns[i].addr, "%s", self->sns[i]->addr);
    }
    out->ntopics = (uint32_t)self->ntopics;
    out->topics = vl_calloc(self->ntopics ? self->ntopics : 1, sizeof *out->topics);
    for (size_t i = 0; i < self->ntopics; i++) {
        const vl_mrstate_topic_t *t = self->topics[i];
        vl_meta_topic_t *m = &out->topics[i];
        m->id = t->id;
        snprintf(m->name, sizeof m->name, "%s", t->name);
        m->rf = t->rf;
        m->hwm = t->hwm;
        m->end_offset = t->end_offset;
        m->trim_glsn = t->trim_glsn;
        m->trim_offset = t->trim_offset;
        m->nls = t->nls;
        m->ls = vl_calloc(t->nls ? t->nls : 1, sizeof *m->ls);
        for (uint32_t k = 0; k < t->nls; k++) {
            m->ls[k].id = t->ls[k]->id;
            m->ls[k].state = t->ls[k]->state;
            m->ls[k].nrep = t->ls[k]->nrep;
            m->ls[k].committed_llsn_end = t->ls[k]->committed_llsn_end;
            m->ls[k].committed_bytes = t->ls[k]->committed_bytes;
            m->ls[k].epoch = t->ls[k]->epoch;
            m->ls[k].seal_sn = t->ls[k]->seal_sn;
            for (uint32_t r = 0; r < t->ls[k]->nrep; r++)
                m->ls[k].replicas[r] = t->ls[k]->replicas[r].sn_id;
        }
    }
}

int vl_mrstate_trim_check(const vl_mrstate_t *self, uint32_t topic_id, uint64_t glsn,
                          uint64_t offset, const vl_commit_item_t *range, bool *noop, char *errbuf,
                          size_t errbuf_size)
{
    *noop = false;
    const vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, topic_id);
    if (!t) {
        snprintf(errbuf, errbuf_size, "trim: no topic with id %u; refresh the metadata", topic_id);
        return VL_ENOTOPIC;
    }
    if (glsn > t->hwm + 1) {
        snprintf(errbuf, errbuf_size,
                 "trim '%s' to %" PRIu64 ": past the end of the topic (high watermark %" PRIu64
                 "); trim at most everything committed",
                 t->name, glsn, t->hwm);
        return VL_ERANGE;
    }
    if (glsn <= t->trim_glsn) {
        *noop = true; /* already trimmed that far: trims are idempotent */
        return 0;
    }
    uint64_t want_lo, want_hi;
    if (glsn == t->hwm + 1) {
        want_lo = want_hi = t->end_offset;
    } else {
        if (!range || glsn < range->glsn_begin || glsn - range->glsn_begin >= range->count) {
            snprintf(errbuf, errbuf_size,
                     "trim '%s' to %" PRIu64 ": the commit history has no range holding "
                     "that GLSN; the MR's store is damaged",
                     t->name, glsn);
            return VL_ESTORE;
        }
        if (glsn == range->glsn_begin) {
            want_lo = want_hi = range->offset_begin;
        } else {
            /* inside a range only the bounds are known (entries of 0 bytes
               may sit on either bound) */
            want_lo = range->offset_begin;
            want_hi = range->offset_begin + range->bytes;
        }
    }
    if (offset < want_lo || offset > want_hi) {
        snprintf(errbuf, errbuf_size,
                 "trim '%s' to %" PRIu64 ": offset %" PRIu64 " is not where that entry "
                 "starts (expected %" PRIu64 "..%" PRIu64 "); look the offset up again",
                 t->name, glsn, offset, want_lo, want_hi);
        return VL_EINVAL;
    }
    return 0;
}

void vl_mrstate_trim_apply(vl_mrstate_t *self, uint32_t topic_id, uint64_t glsn, uint64_t offset)
{
    vl_mrstate_topic_t *t = vl_mrstate_topic_by_id(self, topic_id);
    if (!t || glsn <= t->trim_glsn)
        return;
    t->trim_glsn = glsn;
    t->trim_offset = offset;
}
