/*  group_rec.c - the coordinator's records: encoding, validation, replay,
    snapshots and the appends in flight.

    Every record is a header (magic "KOVG", version, type, body length,
    10 bytes) and a body of little-endian integers, strings (u16 length,
    0xffff = null, no NUL byte inside) and byte strings (u32 length); the
    layout of each type is in doc/KOV.md, "Consumer groups". A record is
    decoded and checked in full (every length against what is left, every
    count against the bytes that could hold it, so a hostile count
    allocates nothing) before any of it is applied: a refused record
    changes nothing.

    Order: the store commits records in the order of the appends and
    reports them in that order, so applying each record when it is
    committed gives the state a replay gives. A snapshot must see every
    record before it: when one is due, new records are held until the
    appends in flight are committed, then the snapshot's chunks are
    appended, then the held records. Replay applies a snapshot's chunks to
    a shadow state that replaces the state at its last chunk; a snapshot
    cut short by a crash (chunks not followed by the rest) is dropped.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "group_i.h"
#include "log.h"
#include "util.h"
#include "varlog_err.h"

/*  ---- encoding ------------------------------------------------------------------ */

void kg_buf_free(kg_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static uint8_t *s_room(kg_buf_t *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = vl_realloc(b->p, cap);
        b->cap = cap;
    }
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

static void s_put_u8(kg_buf_t *b, uint8_t v)
{
    *s_room(b, 1) = v;
}

static void s_put_u16(kg_buf_t *b, uint16_t v)
{
    vl_put_le16(s_room(b, 2), v);
}

static void s_put_u32(kg_buf_t *b, uint32_t v)
{
    vl_put_le32(s_room(b, 4), v);
}

static void s_put_u64(kg_buf_t *b, uint64_t v)
{
    vl_put_le64(s_room(b, 8), v);
}

/*  Strings longer than 0xfffe bytes are cut (Kafka's own strings are
    int16-sized, so no request carries one). */
static void s_put_str(kg_buf_t *b, const char *s)
{
    if (!s) {
        s_put_u16(b, 0xffff);
        return;
    }
    size_t n = strlen(s);
    if (n > 0xfffe)
        n = 0xfffe;
    s_put_u16(b, (uint16_t)n);
    memcpy(s_room(b, n), s, n);
}

static void s_put_bytes(kg_buf_t *b, const uint8_t *p, size_t n)
{
    s_put_u32(b, (uint32_t)n);
    if (n)
        memcpy(s_room(b, n), p, n);
}

static size_t s_begin(kg_buf_t *b, int type)
{
    size_t at = b->len;
    memcpy(s_room(b, 4), KG_REC_MAGIC, 4);
    s_put_u8(b, KG_REC_VERSION);
    s_put_u8(b, (uint8_t)type);
    s_put_u32(b, 0);
    return at;
}

static void s_end(kg_buf_t *b, size_t at)
{
    vl_put_le32(b->p + at + 6, (uint32_t)(b->len - at - KG_REC_HDR));
}

static void s_put_offset(kg_buf_t *b, const char *topic, int32_t partition, int64_t offset,
                         int32_t epoch, int64_t ts, const char *metadata)
{
    s_put_str(b, topic);
    s_put_u32(b, (uint32_t)partition);
    s_put_u64(b, (uint64_t)offset);
    s_put_u32(b, (uint32_t)epoch);
    s_put_u64(b, (uint64_t)ts);
    s_put_str(b, metadata);
}

void kg_rec_offsets(kg_buf_t *b, const char *group_id, const vl_kgroup_offset_t *offsets,
                    const int16_t *skip, size_t n, int64_t now)
{
    size_t at = s_begin(b, KG_REC_OFFSETS);
    s_put_str(b, group_id);
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += !skip[i];
    s_put_u32(b, count);
    for (size_t i = 0; i < n; i++)
        if (!skip[i])
            s_put_offset(b, offsets[i].topic, offsets[i].partition, offsets[i].offset,
                         offsets[i].leader_epoch, now, offsets[i].metadata);
    s_end(b, at);
}

static const kg_proto_t *s_chosen(const kg_member_t *m, const char *protocol)
{
    for (size_t i = 0; i < m->nprotos; i++)
        if (!strcmp(m->protos[i].name, protocol))
            return &m->protos[i];
    return NULL;
}

void kg_rec_group(kg_buf_t *b, const kg_group_t *g)
{
    size_t at = s_begin(b, KG_REC_GROUP);
    s_put_str(b, g->id);
    s_put_u32(b, (uint32_t)g->generation);
    s_put_str(b, g->protocol_type);
    s_put_str(b, g->protocol);
    s_put_str(b, g->leader);
    s_put_u32(b, (uint32_t)g->nmembers);
    for (const kg_member_t *m = g->members; m; m = m->next) {
        const kg_proto_t *p = s_chosen(m, g->protocol);
        s_put_str(b, m->id);
        s_put_str(b, m->client_id);
        s_put_str(b, m->client_host);
        s_put_u32(b, (uint32_t)m->session_ms);
        s_put_u32(b, (uint32_t)m->rebalance_ms);
        s_put_bytes(b, p ? p->meta : NULL, p ? p->len : 0);
        s_put_bytes(b, m->assignment, m->assignment_len);
    }
    s_end(b, at);
}

void kg_rec_tombstone(kg_buf_t *b, const char *group_id)
{
    size_t at = s_begin(b, KG_REC_TOMBSTONE);
    s_put_str(b, group_id);
    s_end(b, at);
}

/*  ---- decoding ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p; /* NULL with len -1: null */
    int64_t len;
} kg_str_t;

typedef struct {
    const uint8_t *p;
    size_t left;
    const char *bad; /* the first field that did not decode */
} kg_cur_t;

typedef struct {
    kg_str_t topic, metadata;
    int32_t partition, epoch;
    int64_t offset, ts;
} kg_poff_t;

typedef struct {
    kg_str_t id, client_id, host, sub, asg;
    int32_t session, rebalance;
} kg_pmember_t;

typedef struct {
    int type;
    kg_str_t group;
    const uint8_t *body;
    size_t body_len;
    uint32_t n;         /* offsets, members or (snapshot) records */
    kg_poff_t *offs;    /* OFFSETS */
    int32_t generation; /* GROUP */
    kg_str_t ptype, proto, leader;
    kg_pmember_t *members;
    uint64_t snap_id; /* SNAPSHOT */
    uint32_t index, count;
    const uint8_t *recs; /* its records, each u32 length + record */
    size_t recs_len;
} kg_prec_t;

static const uint8_t *s_take(kg_cur_t *c, size_t n, const char *what)
{
    if (c->bad)
        return NULL;
    if (c->left < n) {
        c->bad = what;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint16_t s_u16(kg_cur_t *c, const char *what)
{
    const uint8_t *p = s_take(c, 2, what);
    return p ? vl_get_le16(p) : 0;
}

static uint32_t s_u32(kg_cur_t *c, const char *what)
{
    const uint8_t *p = s_take(c, 4, what);
    return p ? vl_get_le32(p) : 0;
}

static uint64_t s_u64(kg_cur_t *c, const char *what)
{
    const uint8_t *p = s_take(c, 8, what);
    return p ? vl_get_le64(p) : 0;
}

static kg_str_t s_str(kg_cur_t *c, const char *what, bool nullable)
{
    kg_str_t s = {NULL, -1};
    uint16_t n = s_u16(c, what);
    if (c->bad)
        return s;
    if (n == 0xffff) {
        if (!nullable)
            c->bad = what;
        return s;
    }
    s.p = s_take(c, n, what);
    s.len = s.p ? n : -1;
    if (s.p && memchr(s.p, 0, n))
        c->bad = what;
    return s;
}

static kg_str_t s_bytes(kg_cur_t *c, const char *what)
{
    kg_str_t s = {NULL, -1};
    uint32_t n = s_u32(c, what);
    s.p = s_take(c, n, what);
    s.len = s.p ? (int64_t)n : -1;
    return s;
}

/*  A count of elements of at least min bytes each: no more than the bytes
    left could hold (so a hostile count allocates nothing). */
static uint32_t s_count(kg_cur_t *c, size_t min, const char *what)
{
    uint32_t n = s_u32(c, what);
    if (!c->bad && n > c->left / min)
        c->bad = what;
    return c->bad ? 0 : n;
}

static bool s_str_eq(kg_str_t a, kg_str_t b)
{
    return a.len == b.len && (a.len <= 0 || !memcmp(a.p, b.p, (size_t)a.len));
}

static char *s_dup(kg_str_t s)
{
    if (s.len < 0)
        return NULL;
    char *d = vl_malloc((size_t)s.len + 1);
    memcpy(d, s.p, (size_t)s.len);
    d[s.len] = 0;
    return d;
}

static void s_prec_free(kg_prec_t *r)
{
    free(r->offs);
    free(r->members);
    r->offs = NULL;
    r->members = NULL;
}

static void s_decode_offsets(kg_cur_t *c, kg_prec_t *r)
{
    r->n = s_count(c, 28, "offsets count");
    r->offs = vl_calloc(r->n ? r->n : 1, sizeof *r->offs);
    for (uint32_t i = 0; i < r->n && !c->bad; i++) {
        kg_poff_t *o = &r->offs[i];
        o->topic = s_str(c, "offset topic", false);
        o->partition = (int32_t)s_u32(c, "offset partition");
        o->offset = (int64_t)s_u64(c, "offset");
        o->epoch = (int32_t)s_u32(c, "offset leader epoch");
        o->ts = (int64_t)s_u64(c, "offset commit time");
        o->metadata = s_str(c, "offset metadata", true);
        if (!c->bad && (o->topic.len == 0 || o->partition < 0))
            c->bad = "offset topic/partition (empty topic or negative partition)";
    }
}

static void s_decode_group(kg_cur_t *c, kg_prec_t *r)
{
    r->generation = (int32_t)s_u32(c, "group generation");
    r->ptype = s_str(c, "group protocol type", false);
    r->proto = s_str(c, "group protocol", false);
    r->leader = s_str(c, "group leader", false);
    r->n = s_count(c, 22, "group member count");
    r->members = vl_calloc(r->n ? r->n : 1, sizeof *r->members);
    bool leader_found = false;
    for (uint32_t i = 0; i < r->n && !c->bad; i++) {
        kg_pmember_t *m = &r->members[i];
        m->id = s_str(c, "member id", false);
        m->client_id = s_str(c, "member client id", false);
        m->host = s_str(c, "member client host", false);
        m->session = (int32_t)s_u32(c, "member session timeout");
        m->rebalance = (int32_t)s_u32(c, "member rebalance timeout");
        m->sub = s_bytes(c, "member subscription");
        m->asg = s_bytes(c, "member assignment");
        if (c->bad)
            break;
        if (m->id.len == 0 || m->session <= 0 || m->rebalance <= 0)
            c->bad = "member (empty id or timeout not positive)";
        for (uint32_t j = 0; j < i && !c->bad; j++)
            if (s_str_eq(r->members[j].id, m->id))
                c->bad = "member id (twice in one group)";
        leader_found |= s_str_eq(m->id, r->leader);
    }
    if (!c->bad && r->generation < 0)
        c->bad = "group generation (negative)";
    if (!c->bad && r->n > 0 && (!leader_found || r->proto.len <= 0))
        c->bad = "group leader (not a member) or protocol (empty)";
    if (!c->bad && r->n == 0 && r->leader.len > 0)
        c->bad = "group leader (a group without members has none)";
}

static void s_decode_snapshot(kg_cur_t *c, kg_prec_t *r)
{
    r->snap_id = s_u64(c, "snapshot id");
    r->index = s_u32(c, "snapshot chunk index");
    r->count = s_u32(c, "snapshot chunk count");
    r->n = s_count(c, 4 + KG_REC_HDR, "snapshot record count");
    if (!c->bad && (r->count == 0 || r->index >= r->count))
        c->bad = "snapshot chunk index/count";
    r->recs = c->p;
    r->recs_len = c->left;
}

/*  Decodes and checks record data[0..len) into *r (pointers into data;
    s_prec_free after). Returns 0, or VL_EPROTO / VL_EVERSION with errbuf. */
static int s_decode(const uint8_t *data, size_t len, kg_prec_t *r, char *errbuf, size_t size)
{
    memset(r, 0, sizeof *r);
    if (len < KG_REC_HDR || memcmp(data, KG_REC_MAGIC, 4)) {
        snprintf(errbuf, size, "not a record of Kov's group coordinator (%zu bytes, no \"%s\")",
                 len, KG_REC_MAGIC);
        return VL_EPROTO;
    }
    if (data[4] != KG_REC_VERSION) {
        snprintf(errbuf, size,
                 "record version %u; this varlogkov reads version %u only: run a varlogkov "
                 "as new as the one that wrote it",
                 data[4], KG_REC_VERSION);
        return VL_EVERSION;
    }
    r->type = data[5];
    uint32_t body = vl_get_le32(data + 6);
    if (body != len - KG_REC_HDR) {
        snprintf(errbuf, size, "record body length %" PRIu32 " but %zu bytes follow the header",
                 body, len - KG_REC_HDR);
        return VL_EPROTO;
    }
    kg_cur_t c = {data + KG_REC_HDR, body, NULL};
    r->body = c.p;
    r->body_len = body;
    if (r->type != KG_REC_SNAPSHOT) {
        r->group = s_str(&c, "group id", false);
        if (!c.bad && r->group.len == 0)
            c.bad = "group id (empty)";
    }
    switch (r->type) {
    case KG_REC_OFFSETS:
        s_decode_offsets(&c, r);
        break;
    case KG_REC_GROUP:
        s_decode_group(&c, r);
        break;
    case KG_REC_TOMBSTONE:
        break;
    case KG_REC_SNAPSHOT:
        s_decode_snapshot(&c, r);
        break;
    default:
        snprintf(errbuf, size, "record type %d unknown to record version %u", r->type,
                 KG_REC_VERSION);
        return VL_EPROTO;
    }
    if (!c.bad && c.left && r->type != KG_REC_SNAPSHOT)
        c.bad = "end of record (bytes left over)";
    if (c.bad) {
        snprintf(errbuf, size, "record of type %d (%zu bytes) is malformed at %s", r->type, len,
                 c.bad);
        s_prec_free(r);
        return VL_EPROTO;
    }
    return 0;
}

/*  Walks a snapshot's records: checks each (check) or applies each. */
static int s_snapshot_each(vl_kgroup_t *self, zhashx_t *groups, const kg_prec_t *snap, bool apply,
                           char *errbuf, size_t size);

/*  ---- applying ------------------------------------------------------------------ */

static void s_apply_offsets(vl_kgroup_t *self, zhashx_t *groups, const kg_prec_t *r)
{
    char *gid = s_dup(r->group);
    kg_group_t *g = kg_group_get(groups, gid, true);
    free(gid);
    for (uint32_t i = 0; i < r->n; i++) {
        const kg_poff_t *po = &r->offs[i];
        char *key = zsys_sprintf("%" PRId32 ":%.*s", po->partition, (int)po->topic.len,
                                 (const char *)po->topic.p);
        kg_offset_t *o = zhashx_lookup(g->offsets, key);
        if (!o) {
            o = vl_calloc(1, sizeof *o);
            o->topic = s_dup(po->topic);
            o->partition = po->partition;
            zhashx_insert(g->offsets, key, o);
        }
        zstr_free(&key);
        o->offset = po->offset;
        o->leader_epoch = po->epoch;
        o->commit_ms = po->ts;
        free(o->metadata);
        o->metadata = s_dup(po->metadata);
    }
    (void)self;
}

static void s_apply_group(vl_kgroup_t *self, zhashx_t *groups, const kg_prec_t *r, bool live)
{
    char *gid = s_dup(r->group);
    kg_group_t *g = kg_group_get(groups, gid, true);
    free(gid);
    free(g->meta);
    g->meta = vl_malloc(r->body_len ? r->body_len : 1);
    memcpy(g->meta, r->body, r->body_len);
    g->meta_len = r->body_len;
    if (live)
        return; /* membership in memory is already what the record says */
    while (g->members) {
        kg_member_t *m = g->members;
        g->members = m->next;
        kg_member_free(&m);
    }
    g->generation = r->generation;
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    g->protocol_type = s_dup(r->ptype);
    g->protocol = s_dup(r->proto);
    g->leader = s_dup(r->leader);
    g->nmembers = r->n;
    kg_member_t **tail = &g->members;
    for (uint32_t i = 0; i < r->n; i++) {
        const kg_pmember_t *pm = &r->members[i];
        kg_member_t *m = vl_calloc(1, sizeof *m);
        m->id = s_dup(pm->id);
        m->client_id = s_dup(pm->client_id);
        m->client_host = s_dup(pm->host);
        m->session_ms = pm->session;
        m->rebalance_ms = pm->rebalance;
        m->nprotos = 1;
        m->protos = vl_calloc(1, sizeof *m->protos);
        m->protos[0].name = s_dup(r->proto);
        m->protos[0].len = (size_t)pm->sub.len;
        m->protos[0].meta = vl_malloc(m->protos[0].len + 1);
        memcpy(m->protos[0].meta, pm->sub.p, m->protos[0].len);
        m->assignment_len = (size_t)pm->asg.len;
        m->assignment = vl_malloc(m->assignment_len + 1);
        memcpy(m->assignment, pm->asg.p, m->assignment_len);
        m->deadline = self->now + m->session_ms;
        *tail = m;
        tail = &m->next;
    }
    g->state = r->n ? KG_STABLE : KG_EMPTY;
}

static void s_apply(vl_kgroup_t *self, zhashx_t *groups, const kg_prec_t *r, bool live)
{
    switch (r->type) {
    case KG_REC_OFFSETS:
        s_apply_offsets(self, groups, r);
        break;
    case KG_REC_GROUP:
        s_apply_group(self, groups, r, live);
        break;
    case KG_REC_TOMBSTONE: {
        char *gid = s_dup(r->group);
        zhashx_delete(groups, gid);
        free(gid);
        break;
    }
    default:
        break;
    }
}

int kg_rec_apply(vl_kgroup_t *self, zhashx_t *groups, const uint8_t *data, size_t len, bool live,
                 char *errbuf, size_t errbuf_size)
{
    kg_prec_t r;
    int rc = s_decode(data, len, &r, errbuf, errbuf_size);
    if (rc)
        return rc;
    if (r.type == KG_REC_SNAPSHOT) {
        snprintf(errbuf, errbuf_size, "a snapshot inside a snapshot");
        rc = VL_EPROTO;
    } else {
        s_apply(self, groups, &r, live);
    }
    s_prec_free(&r);
    return rc;
}

static int s_snapshot_each(vl_kgroup_t *self, zhashx_t *groups, const kg_prec_t *snap, bool apply,
                           char *errbuf, size_t size)
{
    kg_cur_t c = {snap->recs, snap->recs_len, NULL};
    char sub[160];
    for (uint32_t i = 0; i < snap->n; i++) {
        uint32_t n = s_u32(&c, "snapshot record length");
        const uint8_t *p = s_take(&c, n, "snapshot record");
        if (c.bad) {
            snprintf(errbuf, size, "snapshot record %" PRIu32 " of %" PRIu32 ": truncated at %s", i,
                     snap->n, c.bad);
            return VL_EPROTO;
        }
        kg_prec_t r;
        int rc = s_decode(p, n, &r, sub, sizeof sub);
        if (!rc && r.type != KG_REC_OFFSETS && r.type != KG_REC_GROUP) {
            snprintf(sub, sizeof sub, "type %d inside a snapshot", r.type);
            rc = VL_EPROTO;
        }
        if (rc) {
            s_prec_free(&r);
            snprintf(errbuf, size, "snapshot record %" PRIu32 ": %s", i, sub);
            return rc;
        }
        if (apply)
            s_apply(self, groups, &r, false);
        s_prec_free(&r);
    }
    if (c.left) {
        snprintf(errbuf, size, "snapshot: %zu bytes after its %" PRIu32 " records", c.left,
                 snap->n);
        return VL_EPROTO;
    }
    return 0;
}

/*  ---- replay -------------------------------------------------------------------- */

static void s_shadow_drop(vl_kgroup_t *self)
{
    zhashx_destroy(&self->shadow);
    self->shadow_next = self->shadow_count = 0;
}

static int s_replay_snapshot(vl_kgroup_t *self, uint64_t glsn, const kg_prec_t *r, char *err,
                             size_t size)
{
    int rc = s_snapshot_each(self, NULL, r, false, err, size);
    if (rc)
        return rc;
    if (r->index == 0) {
        s_shadow_drop(self);
        self->shadow = zhashx_new();
        zhashx_set_destructor(self->shadow, kg_groups_destructor);
        self->shadow_id = r->snap_id;
        self->shadow_count = r->count;
        self->shadow_glsn = glsn;
    } else if (!self->shadow || r->snap_id != self->shadow_id || r->index != self->shadow_next ||
               r->count != self->shadow_count) {
        s_shadow_drop(self); /* the rest of a snapshot whose start is gone */
        return 0;
    }
    s_snapshot_each(self, self->shadow, r, true, err, size);
    self->shadow_next = r->index + 1;
    if (self->shadow_next == self->shadow_count) {
        zhashx_destroy(&self->groups);
        self->groups = self->shadow;
        self->shadow = NULL;
        self->shadow_next = self->shadow_count = 0;
        self->prev_snapshot_glsn = self->shadow_glsn;
    }
    return 0;
}

int kg_rec_replay(void *arg, uint64_t glsn, const uint8_t *data, size_t len)
{
    vl_kgroup_t *self = arg;
    char err[256];
    kg_prec_t r;
    int rc = s_decode(data, len, &r, err, sizeof err);
    if (!rc && r.type == KG_REC_SNAPSHOT)
        rc = s_replay_snapshot(self, glsn, &r, err, sizeof err);
    else if (!rc) {
        if (self->shadow)
            s_shadow_drop(self); /* a snapshot cut short: its records are partial */
        s_apply(self, self->groups, &r, false);
    }
    s_prec_free(&r);
    if (rc)
        snprintf(self->errbuf, sizeof self->errbuf, "record at GLSN %" PRIu64 ": %s", glsn, err);
    else
        self->stats.replayed++;
    return rc;
}

/*  ---- appends in flight and snapshots ------------------------------------------ */

kg_op_t *kg_op_new(vl_kgroup_t *self, int type, kg_buf_t *b, const char *group_id)
{
    kg_op_t *op = vl_calloc(1, sizeof *op);
    op->self = self;
    op->type = type;
    op->data = b->p;
    op->len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    op->group_id = group_id ? vl_strdup(group_id) : NULL;
    return op;
}

void kg_op_free(kg_op_t **op_p)
{
    kg_op_t *op = *op_p;
    if (!op)
        return;
    free(op->data);
    free(op->group_id);
    free(op->errors);
    free(op);
    *op_p = NULL;
}

static void s_stored(void *arg, int rc, uint64_t glsn);

static void s_send(vl_kgroup_t *self, kg_op_t *op)
{
    op->next = NULL;
    if (self->inflight_tail)
        self->inflight_tail->next = op;
    else
        self->inflight = op;
    self->inflight_tail = op;
    self->ninflight++;
    self->stats.records++;
    if (op->type != KG_REC_SNAPSHOT && ++self->since_snapshot >= self->opts.snapshot_every)
        self->snapshot_due = true;
    self->store.append(self->store.ctx, op->data, op->len, s_stored, op);
}

void kg_store_append(vl_kgroup_t *self, kg_op_t *op)
{
    if (self->held || (self->snapshot_due && self->ninflight > 0)) {
        op->held = true;
        op->next = NULL;
        if (self->held_tail)
            self->held_tail->next = op;
        else
            self->held = op;
        self->held_tail = op;
        return;
    }
    s_send(self, op);
}

void kg_store_group(vl_kgroup_t *self, kg_group_t *g)
{
    kg_buf_t b = {0};
    kg_rec_group(&b, g);
    kg_op_t *op = kg_op_new(self, KG_REC_GROUP, &b, g->id);
    op->generation = g->generation;
    kg_store_append(self, op);
}

/*  Adds record rec (an OFFSETS or GROUP record) to the snapshot's chunks,
    starting a new chunk when the current one would grow past the limit. */
static kg_buf_t *s_chunk_new(kg_buf_t **chunks, size_t *n)
{
    *chunks = vl_realloc(*chunks, (*n + 1) * sizeof **chunks);
    kg_buf_t *c = &(*chunks)[(*n)++];
    memset(c, 0, sizeof *c);
    s_begin(c, KG_REC_SNAPSHOT);
    /* id, index, count (filled in at the end) and the record count */
    memset(s_room(c, 20), 0, 20);
    return c;
}

static void s_chunk_add(vl_kgroup_t *self, kg_buf_t **chunks, size_t *n, const kg_buf_t *rec)
{
    kg_buf_t *c = *n ? &(*chunks)[*n - 1] : NULL;
    if (!c || (c->len > KG_REC_HDR + 20 && c->len + 4 + rec->len > self->opts.snapshot_chunk_bytes))
        c = s_chunk_new(chunks, n);
    vl_put_le32(c->p + KG_REC_HDR + 16, vl_get_le32(c->p + KG_REC_HDR + 16) + 1);
    s_put_bytes(c, rec->p, rec->len);
}

static void s_snapshot_group(vl_kgroup_t *self, kg_group_t *g, kg_buf_t **chunks, size_t *n)
{
    kg_buf_t rec = {0};
    if (g->meta) {
        size_t at = s_begin(&rec, KG_REC_GROUP);
        memcpy(s_room(&rec, g->meta_len), g->meta, g->meta_len);
        s_end(&rec, at);
        s_chunk_add(self, chunks, n, &rec);
    }
    /* offsets in records of at most a quarter of a chunk each */
    kg_offset_t *o = zhashx_first(g->offsets);
    while (o) {
        rec.len = 0;
        size_t at = s_begin(&rec, KG_REC_OFFSETS);
        s_put_str(&rec, g->id);
        size_t count_at = rec.len;
        s_put_u32(&rec, 0);
        uint32_t count = 0;
        for (; o && (count == 0 || rec.len < self->opts.snapshot_chunk_bytes / 4);
             o = zhashx_next(g->offsets), count++)
            s_put_offset(&rec, o->topic, o->partition, o->offset, o->leader_epoch, o->commit_ms,
                         o->metadata);
        vl_put_le32(rec.p + count_at, count);
        s_end(&rec, at);
        s_chunk_add(self, chunks, n, &rec);
    }
    kg_buf_free(&rec);
}

/*  Appends the whole durable state as a snapshot (nothing in flight). */
static void s_snapshot(vl_kgroup_t *self)
{
    kg_buf_t *chunks = NULL;
    size_t n = 0;
    for (kg_group_t *g = zhashx_first(self->groups); g; g = zhashx_next(self->groups))
        s_snapshot_group(self, g, &chunks, &n);
    if (n == 0)
        s_chunk_new(&chunks, &n); /* an empty state is a snapshot too */
    uint64_t id = vl_random_u64();
    self->snapshot_chunks = (uint32_t)n;
    self->since_snapshot = 0;
    self->snapshot_due = false;
    for (size_t i = 0; i < n; i++) {
        vl_put_le64(chunks[i].p + KG_REC_HDR, id);
        vl_put_le32(chunks[i].p + KG_REC_HDR + 8, (uint32_t)i);
        vl_put_le32(chunks[i].p + KG_REC_HDR + 12, (uint32_t)n);
        s_end(&chunks[i], 0);
        kg_op_t *op = kg_op_new(self, KG_REC_SNAPSHOT, &chunks[i], NULL);
        op->generation = (int32_t)i; /* the chunk's index */
        s_send(self, op);
    }
    free(chunks);
}

static void s_pump(vl_kgroup_t *self)
{
    if (self->snapshot_due && self->ninflight == 0 && !self->loading)
        s_snapshot(self);
    while (self->held && !(self->snapshot_due && self->ninflight > 0)) {
        kg_op_t *op = self->held;
        self->held = op->next;
        if (!self->held)
            self->held_tail = NULL;
        op->held = false;
        s_send(self, op);
    }
}

static void s_snapshot_stored(vl_kgroup_t *self, kg_op_t *op, int rc, uint64_t glsn)
{
    uint32_t index = (uint32_t)op->generation;
    if (rc) {
        self->snapshot_chunks = 0; /* incomplete: replay drops it; the next one is due later */
        return;
    }
    if (!self->snapshot_chunks)
        return; /* an earlier chunk failed */
    if (index == 0)
        self->snap_first_glsn = glsn;
    if (index + 1 < self->snapshot_chunks)
        return;
    vl_log(LOG_INFO,
           "kov groups: snapshot of %zu group(s) in %" PRIu32 " record(s) at GLSN %" PRIu64,
           zhashx_size(self->groups), self->snapshot_chunks, self->snap_first_glsn);
    /* complete: what precedes the previous snapshot is no longer needed */
    if (self->prev_snapshot_glsn > 1 && self->store.trim)
        self->store.trim(self->store.ctx, self->prev_snapshot_glsn);
    self->prev_snapshot_glsn = self->snap_first_glsn;
    self->stats.snapshots++;
    self->stats.snapshot_glsn = self->snap_first_glsn;
    self->snapshot_chunks = 0;
}

static void s_stored(void *arg, int rc, uint64_t glsn)
{
    kg_op_t *op = arg;
    vl_kgroup_t *self = op->self;
    /* unlink (it is the head unless a store reports out of order) */
    kg_op_t **pp = &self->inflight, *prev = NULL;
    while (*pp && *pp != op) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = op->next;
        if (self->inflight_tail == op)
            self->inflight_tail = prev;
        self->ninflight--;
    }
    char err[200];
    if (!rc && op->type != KG_REC_SNAPSHOT &&
        kg_rec_apply(self, self->groups, op->data, op->len, true, err, sizeof err))
        vl_log(LOG_ERR, "kov groups: own record refused: %s (a bug: report it)", err);
    switch (op->type) {
    case KG_REC_OFFSETS:
        kg_offsets_stored(self, op, rc);
        break;
    case KG_REC_GROUP:
        kg_group_stored(self, op, rc);
        break;
    case KG_REC_TOMBSTONE:
        kg_tombstone_stored(self, op, rc);
        break;
    case KG_REC_SNAPSHOT:
        s_snapshot_stored(self, op, rc, glsn);
        break;
    }
    kg_op_free(&op);
    s_pump(self);
}
