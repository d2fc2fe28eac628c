/*  wire_body.c - the encoders and bounds-checked decoders of the varlog
    protocol's message bodies (lib/wire.h lays each one out), and the
    lookups on a decoded META. Every decoder reads all fields through the
    sticky cursor of wire.c and checks once; a count is checked against
    the bytes left before anything is allocated.
*/
#include <string.h>
#include "wire.h"
#include "util.h"

/* ---- bodies ----------------------------------------------------------- */

void vl_report_encode(const vl_report_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->sn_id);
    vl_wbuf_u32(b, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        vl_wbuf_u32(b, m->items[i].ls_id);
        vl_wbuf_u64(b, m->items[i].llsn_end);
        vl_wbuf_u64(b, m->items[i].bytes_end);
        vl_wbuf_u64(b, m->items[i].applied_llsn_end);
        vl_wbuf_u8(b, m->items[i].state);
    }
}

int vl_report_decode(vl_rbuf_t *r, vl_report_t *m)
{
    memset(m, 0, sizeof *m);
    m->sn_id = vl_rbuf_u32(r);
    m->n = vl_rbuf_count(r, 1u << 20, 29);
    if (r->err)
        return VL_EPROTO;
    m->items = vl_calloc(m->n ? m->n : 1, sizeof *m->items);
    for (uint32_t i = 0; i < m->n; i++) {
        m->items[i].ls_id = vl_rbuf_u32(r);
        m->items[i].llsn_end = vl_rbuf_u64(r);
        m->items[i].bytes_end = vl_rbuf_u64(r);
        m->items[i].applied_llsn_end = vl_rbuf_u64(r);
        m->items[i].state = vl_rbuf_u8(r);
    }
    if (r->err) {
        vl_report_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_report_free(vl_report_t *m)
{
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

void vl_commit_encode(const vl_commit_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u64(b, m->term);
    vl_wbuf_u64(b, m->version);
    vl_wbuf_u32(b, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const vl_commit_item_t *c = &m->items[i];
        vl_wbuf_u32(b, c->topic_id);
        vl_wbuf_u32(b, c->ls_id);
        vl_wbuf_u64(b, c->llsn_begin);
        vl_wbuf_u64(b, c->glsn_begin);
        vl_wbuf_u64(b, c->count);
        vl_wbuf_u64(b, c->offset_begin);
        vl_wbuf_u64(b, c->bytes);
        vl_wbuf_u64(b, c->hwm);
        vl_wbuf_u64(b, c->end_offset);
    }
}

int vl_commit_decode(vl_rbuf_t *r, vl_commit_t *m)
{
    memset(m, 0, sizeof *m);
    m->term = vl_rbuf_u64(r);
    m->version = vl_rbuf_u64(r);
    m->n = vl_rbuf_count(r, 1u << 20, 64);
    if (r->err)
        return VL_EPROTO;
    m->items = vl_calloc(m->n ? m->n : 1, sizeof *m->items);
    for (uint32_t i = 0; i < m->n; i++) {
        vl_commit_item_t *c = &m->items[i];
        c->topic_id = vl_rbuf_u32(r);
        c->ls_id = vl_rbuf_u32(r);
        c->llsn_begin = vl_rbuf_u64(r);
        c->glsn_begin = vl_rbuf_u64(r);
        c->count = vl_rbuf_u64(r);
        c->offset_begin = vl_rbuf_u64(r);
        c->bytes = vl_rbuf_u64(r);
        c->hwm = vl_rbuf_u64(r);
        c->end_offset = vl_rbuf_u64(r);
    }
    if (r->err) {
        vl_commit_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_commit_free(vl_commit_t *m)
{
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

void vl_meta_encode(const vl_meta_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->cluster_id);
    vl_wbuf_u64(b, m->version);
    vl_wbuf_u64(b, m->term);
    vl_wbuf_u32(b, m->sn_id);
    vl_wbuf_u32(b, m->nsn);
    for (uint32_t i = 0; i < m->nsn; i++) {
        vl_wbuf_u32(b, m->sns[i].id);
        vl_wbuf_str(b, m->sns[i].addr);
        vl_wbuf_u8(b, m->sns[i].alive);
    }
    vl_wbuf_u32(b, m->ntopics);
    for (uint32_t i = 0; i < m->ntopics; i++) {
        const vl_meta_topic_t *t = &m->topics[i];
        vl_wbuf_u32(b, t->id);
        vl_wbuf_str(b, t->name);
        vl_wbuf_u32(b, t->rf);
        vl_wbuf_u64(b, t->hwm);
        vl_wbuf_u64(b, t->end_offset);
        vl_wbuf_u64(b, t->trim_glsn);
        vl_wbuf_u64(b, t->trim_offset);
        vl_wbuf_u32(b, t->nls);
        for (uint32_t j = 0; j < t->nls; j++) {
            const vl_meta_ls_t *ls = &t->ls[j];
            vl_wbuf_u32(b, ls->id);
            vl_wbuf_u8(b, ls->state);
            vl_wbuf_u32(b, ls->nrep);
            for (uint32_t k = 0; k < ls->nrep; k++)
                vl_wbuf_u32(b, ls->replicas[k]);
            vl_wbuf_u64(b, ls->committed_llsn_end);
            vl_wbuf_u64(b, ls->committed_bytes);
            vl_wbuf_u32(b, ls->epoch);
            vl_wbuf_u32(b, ls->seal_sn);
        }
    }
    if (m->nmembers == 0)
        return; /* (see wire.h) */
    vl_wbuf_u32(b, m->nmembers);
    for (uint32_t i = 0; i < m->nmembers; i++) {
        vl_wbuf_u64(b, m->members[i].id);
        vl_wbuf_str(b, m->members[i].endpoint);
    }
}

/*  The MR members section of META, when bytes remain. */
static void s_meta_members_decode(vl_rbuf_t *r, vl_meta_t *m)
{
    if (r->err || r->left == 0)
        return;
    uint32_t n = vl_rbuf_count(r, VL_WIRE_MAX_MEMBERS, 10);
    if (r->err)
        return;
    m->members = vl_calloc(n ? n : 1, sizeof *m->members);
    m->nmembers = n;
    for (uint32_t i = 0; i < n && !r->err; i++) {
        m->members[i].id = vl_rbuf_u64(r);
        vl_rbuf_str(r, m->members[i].endpoint, VL_WIRE_MAX_ADDR);
    }
}

int vl_meta_decode(vl_rbuf_t *r, vl_meta_t *m)
{
    memset(m, 0, sizeof *m);
    m->cluster_id = vl_rbuf_u32(r);
    m->version = vl_rbuf_u64(r);
    m->term = vl_rbuf_u64(r);
    m->sn_id = vl_rbuf_u32(r);
    m->nsn = vl_rbuf_count(r, 1u << 16, 7);
    if (r->err)
        return VL_EPROTO;
    m->sns = vl_calloc(m->nsn ? m->nsn : 1, sizeof *m->sns);
    for (uint32_t i = 0; i < m->nsn && !r->err; i++) {
        m->sns[i].id = vl_rbuf_u32(r);
        vl_rbuf_str(r, m->sns[i].addr, VL_WIRE_MAX_ADDR);
        m->sns[i].alive = vl_rbuf_u8(r);
    }
    m->ntopics = vl_rbuf_count(r, 1u << 16, 46);
    if (!r->err)
        m->topics = vl_calloc(m->ntopics ? m->ntopics : 1, sizeof *m->topics);
    for (uint32_t i = 0; i < m->ntopics && !r->err; i++) {
        vl_meta_topic_t *t = &m->topics[i];
        t->id = vl_rbuf_u32(r);
        vl_rbuf_str(r, t->name, VL_WIRE_MAX_NAME);
        t->rf = vl_rbuf_u32(r);
        t->hwm = vl_rbuf_u64(r);
        t->end_offset = vl_rbuf_u64(r);
        t->trim_glsn = vl_rbuf_u64(r);
        t->trim_offset = vl_rbuf_u64(r);
        uint32_t nls = vl_rbuf_count(r, 1u << 16, 29);
        if (r->err)
            break;
        t->ls = vl_calloc(nls ? nls : 1, sizeof *t->ls);
        t->nls = nls;
        for (uint32_t j = 0; j < nls && !r->err; j++) {
            vl_meta_ls_t *ls = &t->ls[j];
            ls->id = vl_rbuf_u32(r);
            ls->state = vl_rbuf_u8(r);
            ls->nrep = vl_rbuf_count(r, VL_WIRE_MAX_REPLICAS, 4);
            for (uint32_t k = 0; k < ls->nrep; k++)
                ls->replicas[k] = vl_rbuf_u32(r);
            ls->committed_llsn_end = vl_rbuf_u64(r);
            ls->committed_bytes = vl_rbuf_u64(r);
            ls->epoch = vl_rbuf_u32(r);
            ls->seal_sn = vl_rbuf_u32(r);
        }
    }
    s_meta_members_decode(r, m);
    if (r->err) {
        vl_meta_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_meta_free(vl_meta_t *m)
{
    if (m->topics)
        for (uint32_t i = 0; i < m->ntopics; i++)
            free(m->topics[i].ls);
    free(m->topics);
    free(m->sns);
    free(m->members);
    memset(m, 0, sizeof *m);
}

const vl_meta_topic_t *vl_meta_topic_by_name(const vl_meta_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->ntopics; i++)
        if (strcmp(m->topics[i].name, name) == 0)
            return &m->topics[i];
    return NULL;
}

const vl_meta_topic_t *vl_meta_topic_by_id(const vl_meta_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->ntopics; i++)
        if (m->topics[i].id == id)
            return &m->topics[i];
    return NULL;
}

const vl_meta_sn_t *vl_meta_sn_by_id(const vl_meta_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->nsn; i++)
        if (m->sns[i].id == id)
            return &m->sns[i];
    return NULL;
}

void vl_admin_encode(const vl_admin_t *m, vl_wbuf_t *b)
{
    vl_wbuf_str(b, m->name);
    vl_wbuf_str(b, m->addr);
    vl_wbuf_u32(b, m->id);
    vl_wbuf_u32(b, m->nls);
    vl_wbuf_u32(b, m->rf);
    vl_wbuf_u64(b, m->glsn);
    vl_wbuf_u64(b, m->offset);
    vl_wbuf_u32(b, m->sn_from);
    vl_wbuf_u32(b, m->sn_to);
}

int vl_admin_decode(vl_rbuf_t *r, vl_admin_t *m)
{
    memset(m, 0, sizeof *m);
    vl_rbuf_str(r, m->name, VL_WIRE_MAX_NAME);
    vl_rbuf_str(r, m->addr, VL_WIRE_MAX_ADDR);
    m->id = vl_rbuf_u32(r);
    m->nls = vl_rbuf_u32(r);
    m->rf = vl_rbuf_u32(r);
    m->glsn = vl_rbuf_u64(r);
    m->offset = vl_rbuf_u64(r);
    m->sn_from = vl_rbuf_u32(r);
    m->sn_to = vl_rbuf_u32(r);
    return r->err ? VL_EPROTO : 0;
}

void vl_append_encode(const vl_append_t *m, bool replicate, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->topic_id);
    vl_wbuf_u32(b, m->ls_id);
    if (!replicate) {
        vl_wbuf_u64(b, m->client_id);
        vl_wbuf_u64(b, m->batch_seq);
        vl_wbuf_u32(b, m->epoch);
    }
    vl_wbuf_u32(b, m->n);
    if (replicate) {
        vl_wbuf_u64(b, m->llsn_begin);
        vl_wbuf_u64(b, m->bytes_before);
        vl_wbuf_u32(b, m->epoch);
        vl_wbuf_u32(b, m->nbids);
        if (m->nbids > 0)
            vl_wbuf_mem(b, m->bids, VL_WIRE_BID_SIZE * (size_t)m->nbids);
    }
    if (m->n > 0)
        vl_wbuf_mem(b, m->sizes, 4 * (size_t)m->n);
}

int vl_append_decode(vl_rbuf_t *r, bool replicate, vl_append_t *m)
{
    memset(m, 0, sizeof *m);
    m->topic_id = vl_rbuf_u32(r);
    m->ls_id = vl_rbuf_u32(r);
    if (!replicate) {
        m->client_id = vl_rbuf_u64(r);
        m->batch_seq = vl_rbuf_u64(r);
        m->epoch = vl_rbuf_u32(r);
    }
    m->n = vl_rbuf_u32(r);
    if (!r->err && m->n > VL_WIRE_MAX_ENTRIES)
        r->err = VL_EPROTO;
    if (replicate) {
        m->llsn_begin = vl_rbuf_u64(r);
        m->bytes_before = vl_rbuf_u64(r);
        m->epoch = vl_rbuf_u32(r);
        m->nbids = vl_rbuf_u32(r);
        if (!r->err && m->nbids > m->n + 1)
            r->err = VL_EPROTO;
        if (!r->err)
            m->bids = vl_rbuf_take(r, VL_WIRE_BID_SIZE * (size_t)m->nbids);
    }
    if (!r->err)
        m->sizes = vl_rbuf_take(r, 4 * (size_t)m->n);
    return r->err ? VL_EPROTO : 0;
}

void vl_wire_bid_put(uint8_t *p, const vl_batch_id_t *id)
{
    vl_put_le64(p, id->llsn_begin);
    vl_put_le64(p + 8, id->client_id);
    vl_put_le64(p + 16, id->batch_seq);
    vl_put_le32(p + 24, id->n);
}

void vl_wire_bid(const uint8_t *bids, uint32_t i, vl_batch_id_t *id)
{
    const uint8_t *p = bids + VL_WIRE_BID_SIZE * (size_t)i;
    id->llsn_begin = vl_get_le64(p);
    id->client_id = vl_get_le64(p + 8);
    id->batch_seq = vl_get_le64(p + 16);
    id->n = vl_get_le32(p + 24);
}

void vl_batch_status_encode(const vl_batch_status_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->topic_id);
    vl_wbuf_u32(b, m->ls_id);
    vl_wbuf_u64(b, m->client_id);
    vl_wbuf_u64(b, m->batch_seq);
    vl_wbuf_u64(b, m->llsn_hint);
}

int vl_batch_status_decode(vl_rbuf_t *r, vl_batch_status_t *m)
{
    memset(m, 0, sizeof *m);
    m->topic_id = vl_rbuf_u32(r);
    m->ls_id = vl_rbuf_u32(r);
    m->client_id = vl_rbuf_u64(r);
    m->batch_seq = vl_rbuf_u64(r);
    m->llsn_hint = vl_rbuf_u64(r);
    return r->err ? VL_EPROTO : 0;
}

void vl_batch_status_reply_encode(const vl_batch_status_reply_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u8(b, m->final);
    vl_wbuf_u8(b, m->found);
    vl_wbuf_u32(b, m->n);
    vl_append_reply_encode(&m->ar, b);
}

int vl_batch_status_reply_decode(vl_rbuf_t *r, vl_batch_status_reply_t *m)
{
    memset(m, 0, sizeof *m);
    m->final = vl_rbuf_u8(r);
    m->found = vl_rbuf_u8(r);
    m->n = vl_rbuf_u32(r);
    if (r->err)
        return VL_EPROTO;
    return vl_append_reply_decode(r, &m->ar);
}

void vl_append_reply_encode(const vl_append_reply_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u64(b, m->llsn_begin);
    vl_wbuf_u32(b, m->nruns);
    for (uint32_t i = 0; i < m->nruns; i++) {
        vl_wbuf_u64(b, m->runs[i].glsn_begin);
        vl_wbuf_u32(b, m->runs[i].count);
    }
}

int vl_append_reply_decode(vl_rbuf_t *r, vl_append_reply_t *m)
{
    memset(m, 0, sizeof *m);
    m->llsn_begin = vl_rbuf_u64(r);
    m->nruns = vl_rbuf_count(r, VL_WIRE_MAX_ENTRIES, 12);
    if (r->err)
        return VL_EPROTO;
    m->runs = vl_calloc(m->nruns ? m->nruns : 1, sizeof *m->runs);
    for (uint32_t i = 0; i < m->nruns; i++) {
        m->runs[i].glsn_begin = vl_rbuf_u64(r);
        m->runs[i].count = vl_rbuf_u32(r);
    }
    if (r->err) {
        vl_append_reply_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_append_reply_free(vl_append_reply_t *m)
{
    free(m->runs);
    m->runs = NULL;
    m->nruns = 0;
}

void vl_subscribe_encode(const vl_subscribe_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->topic_id);
    vl_wbuf_u32(b, m->ls_id);
    vl_wbuf_u64(b, m->glsn_begin);
    vl_wbuf_u64(b, m->glsn_end);
    vl_wbuf_u32(b, m->credit);
}

int vl_subscribe_decode(vl_rbuf_t *r, vl_subscribe_t *m)
{
    memset(m, 0, sizeof *m);
    m->topic_id = vl_rbuf_u32(r);
    m->ls_id = vl_rbuf_u32(r);
    m->glsn_begin = vl_rbuf_u64(r);
    m->glsn_end = vl_rbuf_u64(r);
    m->credit = vl_rbuf_u32(r);
    return r->err ? VL_EPROTO : 0;
}

void vl_sub_data_encode(const vl_sub_data_t *m, vl_wbuf_t *b)
{
    /* one reservation for the message: this runs per entry read */
    uint8_t *p = vl_wbuf_grow(b, 5 + (size_t)m->n * 28);
    *p = m->last;
    vl_put_le32(p + 1, m->n);
    p += 5;
    for (uint32_t i = 0; i < m->n; i++, p += 28) {
        vl_put_le64(p, m->entries[i].glsn);
        vl_put_le64(p + 8, m->entries[i].llsn);
        vl_put_le64(p + 16, m->entries[i].offset);
        vl_put_le32(p + 24, m->entries[i].size);
    }
}

int vl_sub_data_decode(vl_rbuf_t *r, vl_sub_data_t *m)
{
    memset(m, 0, sizeof *m);
    m->last = vl_rbuf_u8(r);
    m->n = vl_rbuf_count(r, VL_WIRE_MAX_ENTRIES, 28);
    if (r->err)
        return VL_EPROTO;
    /* vl_rbuf_count checked that n entries of 28 bytes are there */
    m->entries = vl_malloc((m->n ? m->n : 1) * sizeof *m->entries);
    const uint8_t *p = r->p;
    for (uint32_t i = 0; i < m->n; i++, p += 28) {
        m->entries[i].glsn = vl_get_le64(p);
        m->entries[i].llsn = vl_get_le64(p + 8);
        m->entries[i].offset = vl_get_le64(p + 16);
        m->entries[i].size = vl_get_le32(p + 24);
    }
    r->p = p;
    r->left -= (size_t)m->n * 28;
    return 0;
}

void vl_sub_data_free(vl_sub_data_t *m)
{
    free(m->entries);
    m->entries = NULL;
    m->n = 0;
}

void vl_sn_status_encode(const vl_sn_status_t *m, vl_wbuf_t *b)
{
    vl_wbuf_str(b, m->addr);
    vl_wbuf_u64(b, m->disk_total);
    vl_wbuf_u64(b, m->disk_free);
    vl_wbuf_u8(b, m->fault);
    vl_wbuf_str(b, m->fault_why);
    vl_wbuf_u32(b, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const vl_sn_replica_t *x = &m->replicas[i];
        vl_wbuf_u32(b, x->topic_id);
        vl_wbuf_u32(b, x->ls_id);
        vl_wbuf_u64(b, x->llsn_end);
        vl_wbuf_u64(b, x->bytes_end);
        vl_wbuf_u64(b, x->committed_llsn_end);
        vl_wbuf_u64(b, x->committed_glsn_end);
        vl_wbuf_u64(b, x->trim_glsn);
        vl_wbuf_u8(b, x->state);
    }
}

int vl_sn_status_decode(vl_rbuf_t *r, vl_sn_status_t *m)
{
    memset(m, 0, sizeof *m);
    vl_rbuf_str(r, m->addr, VL_WIRE_MAX_ADDR);
    m->disk_total = vl_rbuf_u64(r);
    m->disk_free = vl_rbuf_u64(r);
    m->fault = vl_rbuf_u8(r);
    vl_rbuf_str(r, m->fault_why, VL_WIRE_MAX_FAULT);
    m->n = vl_rbuf_count(r, 1u << 16, 49);
    if (r->err)
        return VL_EPROTO;
    m->replicas = vl_calloc(m->n ? m->n : 1, sizeof *m->replicas);
    for (uint32_t i = 0; i < m->n; i++) {
        vl_sn_replica_t *x = &m->replicas[i];
        x->topic_id = vl_rbuf_u32(r);
        x->ls_id = vl_rbuf_u32(r);
        x->llsn_end = vl_rbuf_u64(r);
        x->bytes_end = vl_rbuf_u64(r);
        x->committed_llsn_end = vl_rbuf_u64(r);
        x->committed_glsn_end = vl_rbuf_u64(r);
        x->trim_glsn = vl_rbuf_u64(r);
        x->state = vl_rbuf_u8(r);
    }
    if (r->err) {
        vl_sn_status_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_sn_status_free(vl_sn_status_t *m)
{
    free(m->replicas);
    m->replicas = NULL;
    m->n = 0;
}

void vl_seal_reply_encode(const vl_seal_reply_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->ls_id);
    vl_wbuf_u64(b, m->llsn_end);
    vl_wbuf_u64(b, m->glsn_end);
}

int vl_seal_reply_decode(vl_rbuf_t *r, vl_seal_reply_t *m)
{
    memset(m, 0, sizeof *m);
    m->ls_id = vl_rbuf_u32(r);
    m->llsn_end = vl_rbuf_u64(r);
    m->glsn_end = vl_rbuf_u64(r);
    return r->err ? VL_EPROTO : 0;
}

void vl_notleader_encode(const vl_notleader_t *m, vl_wbuf_t *b)
{
    vl_wbuf_str(b, m->leader);
}

int vl_notleader_decode(vl_rbuf_t *r, vl_notleader_t *m)
{
    memset(m, 0, sizeof *m);
    vl_rbuf_str(r, m->leader, VL_WIRE_MAX_ADDR);
    if (r->err) {
        m->leader[0] = '\0';
        return VL_EPROTO;
    }
    return 0;
}

void vl_sync_encode(const vl_sync_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->topic_id);
    vl_wbuf_u32(b, m->ls_id);
    vl_wbuf_u64(b, m->llsn_end);
    vl_wbuf_u32(b, m->dest_sn);
    vl_wbuf_str(b, m->dest_addr);
    vl_wbuf_u32(b, m->epoch);
}

int vl_sync_decode(vl_rbuf_t *r, vl_sync_t *m)
{
    memset(m, 0, sizeof *m);
    m->topic_id = vl_rbuf_u32(r);
    m->ls_id = vl_rbuf_u32(r);
    m->llsn_end = vl_rbuf_u64(r);
    m->dest_sn = vl_rbuf_u32(r);
    vl_rbuf_str(r, m->dest_addr, VL_WIRE_MAX_ADDR);
    m->epoch = vl_rbuf_u32(r);
    return r->err ? VL_EPROTO : 0;
}

void vl_sync_reply_encode(const vl_sync_reply_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u32(b, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        const vl_sync_item_t *x = &m->items[i];
        vl_wbuf_u32(b, x->ls_id);
        vl_wbuf_u32(b, x->src_sn);
        vl_wbuf_u32(b, x->dest_sn);
        vl_wbuf_u64(b, x->dest_llsn_end);
        vl_wbuf_u64(b, x->llsn_end);
    }
}

int vl_sync_reply_decode(vl_rbuf_t *r, vl_sync_reply_t *m)
{
    memset(m, 0, sizeof *m);
    m->n = vl_rbuf_count(r, 1u << 16, 28);
    if (r->err)
        return VL_EPROTO;
    m->items = vl_calloc(m->n ? m->n : 1, sizeof *m->items);
    for (uint32_t i = 0; i < m->n; i++) {
        vl_sync_item_t *x = &m->items[i];
        x->ls_id = vl_rbuf_u32(r);
        x->src_sn = vl_rbuf_u32(r);
        x->dest_sn = vl_rbuf_u32(r);
        x->dest_llsn_end = vl_rbuf_u64(r);
        x->llsn_end = vl_rbuf_u64(r);
    }
    if (r->err) {
        vl_sync_reply_free(m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_sync_reply_free(vl_sync_reply_t *m)
{
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

bool vl_topic_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > VL_WIRE_MAX_NAME || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* ---- MR membership ------------------------------------------------------ */

void vl_mr_status_encode(const vl_mr_status_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u64(b, m->leader_id);
    vl_wbuf_u64(b, m->term);
    vl_wbuf_u64(b, m->commit_index);
    vl_wbuf_u64(b, m->applied_index);
    vl_wbuf_u64(b, m->last_index);
    uint32_t n = m->n < VL_WIRE_MAX_MEMBERS ? m->n : VL_WIRE_MAX_MEMBERS;
    vl_wbuf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        vl_mr_add_encode(&m->members[i], b);
        vl_wbuf_u8(b, m->members[i].role);
        vl_wbuf_u64(b, m->members[i].match_index);
    }
}

int vl_mr_status_decode(vl_rbuf_t *r, vl_mr_status_t *m)
{
    memset(m, 0, sizeof *m);
    m->leader_id = vl_rbuf_u64(r);
    m->term = vl_rbuf_u64(r);
    m->commit_index = vl_rbuf_u64(r);
    m->applied_index = vl_rbuf_u64(r);
    m->last_index = vl_rbuf_u64(r);
    /* a member is at least id, two empty strings, role and match index */
    m->n = vl_rbuf_count(r, VL_WIRE_MAX_MEMBERS, 8 + 2 + 2 + 1 + 8);
    for (uint32_t i = 0; i < m->n && !r->err; i++) {
        vl_mr_add_decode(r, &m->members[i]);
        m->members[i].role = vl_rbuf_u8(r);
        m->members[i].match_index = vl_rbuf_u64(r);
    }
    if (!r->err)
        for (uint32_t i = 0; i < m->n; i++)
            if (m->members[i].role >= VL_MR_ROLE_MAX)
                r->err = VL_EPROTO;
    if (r->err) {
        memset(m, 0, sizeof *m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_mr_add_encode(const vl_mr_member_t *m, vl_wbuf_t *b)
{
    vl_wbuf_u64(b, m->id);
    vl_wbuf_str(b, m->raft_addr);
    vl_wbuf_str(b, m->endpoint);
}

int vl_mr_add_decode(vl_rbuf_t *r, vl_mr_member_t *m)
{
    memset(m, 0, sizeof *m);
    m->id = vl_rbuf_u64(r);
    vl_rbuf_str(r, m->raft_addr, VL_WIRE_MAX_ADDR);
    vl_rbuf_str(r, m->endpoint, VL_WIRE_MAX_ADDR);
    if (r->err) {
        memset(m, 0, sizeof *m);
        return VL_EPROTO;
    }
    return 0;
}

void vl_mr_id_encode(uint64_t id, vl_wbuf_t *b)
{
    vl_wbuf_u64(b, id);
}

int vl_mr_id_decode(vl_rbuf_t *r, uint64_t *id)
{
    *id = vl_rbuf_u64(r);
    if (r->err) {
        *id = 0;
        return VL_EPROTO;
    }
    return 0;
}

const char *vl_mr_role_name(int role)
{
    switch (role) {
    case VL_MR_VOTER:
        return "voter";
    case VL_MR_STANDBY:
        return "standby";
    case VL_MR_SPARE:
        return "spare";
    default:
        return "unknown";
    }
}
