/*  gw_view.c - the gateways' view replayed from the meta topic (kov/gw.h):
    parsing and applying "kov.gw.*" records, and ownership. No I/O: the
    gateway (gw.c) and varlogctl's `kov list` both replay with it.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw.h"
#include "util.h"

static vl_kgw_member_t *s_find_any(vl_kgw_view_t *v, int32_t id)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->m[i].id == id)
            return &v->m[i];
    return NULL;
}

static vl_kgw_member_t *s_add(vl_kgw_view_t *v, int32_t id)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->m = vl_realloc(v->m, v->cap * sizeof *v->m);
    }
    vl_kgw_member_t *m = &v->m[v->n++];
    memset(m, 0, sizeof *m);
    m->id = id;
    return m;
}

/*  "kov.gw.hb ID INC ADDR SESSION TIME" */
static bool s_apply_hb(vl_kgw_view_t *v, uint64_t glsn, const char *line, int64_t now_us)
{
    int id, session;
    unsigned long long inc;
    long long t;
    char addr[264];
    if (sscanf(line, "kov.gw.hb %d %llu %263s %d %lld", &id, &inc, addr, &session, &t) != 5 ||
        id < 0 || session <= 0)
        return false;
    vl_kgw_member_t *m = s_find_any(v, id);
    if (m && m->inc == inc) {
        if (!m->alive)
            return false; /* a dead incarnation stays dead */
        m->heard_glsn = glsn;
        m->heard_ms = t;
        m->local_us = now_us;
        return false;
    }
    if (!m)
        m = s_add(v, id);
    m->inc = inc;
    snprintf(m->addr, sizeof m->addr, "%s", addr);
    m->session_ms = session;
    m->alive = true;
    m->since_glsn = m->heard_glsn = glsn;
    m->heard_ms = t;
    m->end_glsn = 0;
    m->local_us = now_us;
    v->epoch = glsn;
    return true;
}

/*  "kov.gw.expire ID INC BY" or "kov.gw.leave ID INC" */
static bool s_apply_end(vl_kgw_view_t *v, uint64_t glsn, const char *line)
{
    int id;
    unsigned long long inc;
    if (sscanf(line, "kov.gw.expire %d %llu", &id, &inc) != 2 &&
        sscanf(line, "kov.gw.leave %d %llu", &id, &inc) != 2)
        return false;
    vl_kgw_member_t *m = s_find_any(v, id);
    if (!m || m->inc != inc || !m->alive)
        return false; /* an earlier record decided it */
    m->alive = false;
    m->end_glsn = glsn;
    v->epoch = glsn;
    return true;
}

struct vl_kgw_held {
    uint64_t glsn;
    char *data;
    size_t len;
};

#define S_SNAP_MAX_MEMBERS 4096

/*  Parses a snapshot's member lines after its header into m[] (n of
    them); false when one does not parse. */
static bool s_parse_members(const char *p, vl_kgw_member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int id, session, alive, used = 0;
        unsigned long long inc, since, heard, end;
        long long heard_ms;
        char addr[264];
        if (sscanf(p, "%d %llu %263s %d %d %llu %llu %lld %llu%n", &id, &inc, addr, &session,
                   &alive, &since, &heard, &heard_ms, &end, &used) != 9 ||
            id < 0 || session <= 0)
            return false;
        m[i] = (vl_kgw_member_t){.id = id,
                                 .inc = inc,
                                 .session_ms = session,
                                 .alive = alive != 0,
                                 .since_glsn = since,
                                 .heard_glsn = heard,
                                 .heard_ms = heard_ms,
                                 .end_glsn = end};
        snprintf(m[i].addr, sizeof m[i].addr, "%s", addr);
        p += used;
        while (*p == '\n' || *p == ' ')
            p++;
    }
    return true;
}

static bool s_apply_one(vl_kgw_view_t *v, uint64_t glsn, const char *data, size_t len,
                        int64_t now_us);

/*  A snapshot record: the base of a replay that needs one, else only
    noted. Returns whether the live set changed. */
static bool s_apply_snap(vl_kgw_view_t *v, const char *text, int64_t now_us)
{
    const char *hdr = strstr(text, "\nkov.gw.snap ");
    unsigned long long p, epoch;
    size_t n;
    int used = 0;
    if (!hdr || sscanf(hdr + 1, "kov.gw.snap %llu %llu %zu%n", &p, &epoch, &n, &used) != 3 ||
        n > S_SNAP_MAX_MEMBERS)
        return false;
    v->snap_p = p;
    if (!v->need_base || p + 1 < v->start_glsn)
        return false;
    vl_kgw_member_t *m = vl_calloc(n + 1, sizeof *m);
    if (!s_parse_members(hdr + 1 + used, m, n)) {
        free(m);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        m[i].local_us = now_us;
    free(v->m);
    v->m = m;
    v->n = v->cap = n;
    v->epoch = epoch;
    v->need_base = false;
    for (size_t i = 0; i < v->nheld; i++) {
        if (v->held[i].glsn > p)
            s_apply_one(v, v->held[i].glsn, v->held[i].data, v->held[i].len, now_us);
        free(v->held[i].data);
    }
    free(v->held);
    v->held = NULL;
    v->nheld = v->held_cap = 0;
    return true;
}

static bool s_apply_one(vl_kgw_view_t *v, uint64_t glsn, const char *data, size_t len,
                        int64_t now_us)
{
    char line[400];
    if (len > 8 && memcmp(data, "kov.pid ", 8) == 0) {
        char *text = vl_malloc(len + 1);
        memcpy(text, data, len);
        text[len] = '\0';
        long long start, end;
        if (sscanf(text, "kov.pid %lld %lld", &start, &end) == 2 && end > v->pid_end)
            v->pid_end = end;
        bool changed = s_apply_snap(v, text, now_us);
        free(text);
        return changed;
    }
    if (v->need_base) {
        if (v->nheld == v->held_cap) {
            v->held_cap = v->held_cap ? v->held_cap * 2 : 16;
            v->held = vl_realloc(v->held, v->held_cap * sizeof *v->held);
        }
        struct vl_kgw_held *h = &v->held[v->nheld++];
        h->glsn = glsn;
        h->len = len;
        h->data = vl_malloc(len + 1);
        memcpy(h->data, data, len);
        return false;
    }
    if (len < 7 || len >= sizeof line || memcmp(data, "kov.gw.", 7) != 0)
        return false;
    memcpy(line, data, len);
    line[len] = '\0';
    if (strncmp(line, "kov.gw.hb ", 10) == 0)
        return s_apply_hb(v, glsn, line, now_us);
    return s_apply_end(v, glsn, line);
}

bool vl_kgw_view_apply(vl_kgw_view_t *v, uint64_t glsn, const void *data, size_t len,
                       int64_t now_us)
{
    if (v->applied == 0 && glsn > 1) { /* a replay from a trim point */
        v->need_base = true;
        v->start_glsn = glsn;
    }
    v->applied = glsn;
    return s_apply_one(v, glsn, data, len, now_us);
}

bool vl_kgw_view_flush_held(vl_kgw_view_t *v, int64_t now_us)
{
    if (!v->need_base)
        return false;
    v->need_base = false;
    for (size_t i = 0; i < v->nheld; i++) {
        s_apply_one(v, v->held[i].glsn, v->held[i].data, v->held[i].len, now_us);
        free(v->held[i].data);
    }
    free(v->held);
    v->held = NULL;
    v->nheld = v->held_cap = 0;
    return true;
}

char *vl_kgw_view_snapshot(const vl_kgw_view_t *v, size_t *len)
{
    /* a member line: 9 numbers of at most 20 characters, an address of at
       most 263, spaces and a newline */
    size_t cap = 128 + v->n * 512, off = 0;
    char *s = vl_malloc(cap);
    off += (size_t)snprintf(s + off, cap - off,
                            "kov.pid 0 %lld\nkov.gw.snap %" PRIu64 " %" PRIu64 " %zu\n",
                            (long long)v->pid_end, v->applied, v->epoch, v->n);
    for (size_t i = 0; i < v->n; i++) {
        const vl_kgw_member_t *m = &v->m[i];
        off += (size_t)snprintf(s + off, cap - off,
                                "%d %" PRIu64 " %s %d %d %" PRIu64 " %" PRIu64 " %" PRId64
                                " %" PRIu64 "\n",
                                m->id, m->inc, m->addr, m->session_ms, m->alive ? 1 : 0,
                                m->since_glsn, m->heard_glsn, m->heard_ms, m->end_glsn);
    }
    *len = off;
    return s;
}

void vl_kgw_view_free(vl_kgw_view_t *v)
{
    for (size_t i = 0; i < v->nheld; i++)
        free(v->held[i].data);
    free(v->held);
    free(v->m);
    memset(v, 0, sizeof *v);
}

const vl_kgw_member_t *vl_kgw_view_find(const vl_kgw_view_t *v, int32_t id)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->m[i].id == id && v->m[i].alive)
            return &v->m[i];
    return NULL;
}

/*  splitmix64's finalizer over FNV-1a of the name and the id. */
static uint64_t s_score(const char *name, int32_t id)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h ^= (uint64_t)(uint32_t)id * 0x9e3779b97f4a7c15ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

const vl_kgw_member_t *vl_kgw_view_part_owner(const vl_kgw_view_t *v, const char *topic)
{
    const vl_kgw_member_t *best = NULL;
    uint64_t best_score = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (!v->m[i].alive)
            continue;
        uint64_t s = s_score(topic, v->m[i].id);
        if (!best || s > best_score || (s == best_score && v->m[i].id < best->id)) {
            best = &v->m[i];
            best_score = s;
        }
    }
    return best;
}

const vl_kgw_member_t *vl_kgw_view_group_owner(const vl_kgw_view_t *v)
{
    const vl_kgw_member_t *best = NULL;
    for (size_t i = 0; i < v->n; i++)
        if (v->m[i].alive && (!best || v->m[i].since_glsn < best->since_glsn))
            best = &v->m[i];
    return best;
}

int vl_kgw_split_addr(const char *addr, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535 || hl == 0 || hl >= host_size)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}
