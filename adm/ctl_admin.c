/*  ctl_admin.c - varlogctl's admin commands: sn, topic, ls, status (mr:
    ctl_mr.c).

    All of them talk to varlogadm (never to the MR directly): the admin is
    the one place that checks storage nodes before registering them and
    knows which are up. Listings use STATUS, which is the MR's metadata
    with the admin's alive flags, so every listing can say up or down.
*/
#include <inttypes.h>
#include <string.h>
#include "ctl.h"
#include "util.h"

/* ---- shared -------------------------------------------------------------- */

int vl_ctl_parse_plain(vl_ctl_t *ctl, int argc, char **argv, char **pos, int maxpos, int *npos)
{
    int rc = vl_ctl_parse(ctl, argc, argv, NULL, NULL, pos, maxpos, npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help(ctl->group);
    return -1;
}

void vl_ctl_cmd_name(vl_ctl_t *ctl, const char *sub)
{
    snprintf(ctl->cmd, sizeof ctl->cmd, "%s %s", ctl->group, sub);
}

/*  The id u32 of an admin reply. */
static uint32_t s_reply_id(vl_rbuf_t *body)
{
    vl_rbuf_t r = *body;
    uint32_t id = vl_rbuf_u32(&r);
    return r.err ? 0 : id;
}

/*  Sends an admin request with body a; on success *id gets the reply's id. */
static int s_admin(vl_ctl_t *ctl, uint16_t type, const vl_admin_t *a, uint32_t *id)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    int rc = vl_ctl_adm_call(ctl, type, &b, &reply, &body);
    vl_wbuf_free(&b);
    if (rc == 0 && id)
        *id = s_reply_id(&body);
    zmsg_destroy(&reply);
    return rc;
}

static int s_check_name(vl_ctl_t *ctl, const char *name)
{
    if (vl_topic_name_valid(name))
        return 0;
    return vl_ctl_fail(ctl,
                       "invalid topic name '%s': use 1 to 255 of A-Z a-z 0-9 . _ - and do not "
                       "start with '.'",
                       name);
}

static void s_json_replicas(const vl_meta_ls_t *ls)
{
    printf("[");
    for (uint32_t k = 0; k < ls->nrep; k++)
        printf("%s%u", k ? ", " : "", ls->replicas[k]);
    printf("]");
}

/*  One topic as a JSON object. */
static void s_json_topic(const vl_meta_topic_t *t)
{
    printf("{\"id\": %u, \"name\": ", t->id);
    vl_ctl_json_str(stdout, t->name, strlen(t->name));
    printf(", \"replication_factor\": %u, \"hwm\": %" PRIu64 ", \"end_offset\": %" PRIu64
           ", \"trim_glsn\": %" PRIu64 ", \"trim_offset\": %" PRIu64 ", \"log_streams\": [",
           t->rf, t->hwm, t->end_offset, t->trim_glsn, t->trim_offset);
    for (uint32_t j = 0; j < t->nls; j++) {
        printf("%s{\"id\": %u, \"state\": \"%s\", \"replicas\": ", j ? ", " : "", t->ls[j].id,
               vl_ctl_ls_state(t->ls[j].state));
        s_json_replicas(&t->ls[j]);
        printf("}");
    }
    printf("]}");
}

static void s_json_sn(const vl_meta_sn_t *sn)
{
    printf("{\"id\": %u, \"addr\": ", sn->id);
    vl_ctl_json_str(stdout, sn->addr, strlen(sn->addr));
    printf(", \"alive\": %s}", sn->alive ? "true" : "false");
}

static void s_table_sns(const vl_meta_t *m)
{
    vl_ctl_table_t *t = vl_ctl_table_new();
    vl_ctl_table_add(t, "ID\tADDRESS\tSTATE");
    for (uint32_t i = 0; i < m->nsn; i++)
        vl_ctl_table_add(t, "%u\t%s\t%s", m->sns[i].id, m->sns[i].addr,
                         m->sns[i].alive ? "up" : "down");
    vl_ctl_table_print(&t, stdout);
}

static void s_table_topics(const vl_meta_t *m)
{
    vl_ctl_table_t *t = vl_ctl_table_new();
    vl_ctl_table_add(t, "ID\tNAME\tLS\tRF\tHWM\tTRIM\tEND_OFFSET");
    for (uint32_t i = 0; i < m->ntopics; i++) {
        const vl_meta_topic_t *x = &m->topics[i];
        vl_ctl_table_add(t, "%u\t%s\t%u\t%u\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64, x->id, x->name,
                         x->nls, x->rf, x->hwm, x->trim_glsn, x->end_offset);
    }
    vl_ctl_table_print(&t, stdout);
}

/* ---- sn ---------------------------------------------------------------------- */

int vl_ctl_cmd_sn(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[3];
    int npos;
    int rc = vl_ctl_parse_plain(ctl, argc, argv, pos, 3, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list, add or remove)");
    const char *sub = pos[0];
    vl_ctl_cmd_name(ctl, sub);
    if (strcmp(sub, "list") == 0) {
        if (npos > 1)
            return vl_ctl_usage(ctl, "unexpected argument '%s'", pos[1]);
        vl_meta_t m;
        if (vl_ctl_status_fetch(ctl, &m, NULL, 0) != 0)
            return 1;
        if (ctl->json) {
            printf("[");
            for (uint32_t i = 0; i < m.nsn; i++) {
                printf("%s", i ? ", " : "");
                s_json_sn(&m.sns[i]);
            }
            printf("]\n");
        } else {
            s_table_sns(&m);
        }
        vl_meta_free(&m);
        return 0;
    }
    if (strcmp(sub, "add") == 0) {
        if (npos != 2)
            return vl_ctl_usage(ctl, npos < 2 ? "missing ADDR (the storage node's endpoint, "
                                                "e.g. tcp://127.0.0.1:9101)"
                                              : "unexpected argument after ADDR");
        vl_admin_t a = {0};
        if (strlen(pos[1]) > VL_WIRE_MAX_ADDR)
            return vl_ctl_fail(ctl, "address longer than %d bytes", VL_WIRE_MAX_ADDR);
        snprintf(a.addr, sizeof a.addr, "%s", pos[1]);
        uint32_t id = 0;
        if (s_admin(ctl, VL_MSG_ADD_SN, &a, &id) != 0)
            return 1;
        if (ctl->json) {
            printf("{\"id\": %u, \"addr\": ", id);
            vl_ctl_json_str(stdout, a.addr, strlen(a.addr));
            printf("}\n");
        } else {
            printf("sn %u %s added\n", id, a.addr);
        }
        return 0;
    }
    if (strcmp(sub, "remove") == 0) {
        if (npos != 2)
            return vl_ctl_usage(ctl, npos < 2 ? "missing ID (see 'varlogctl sn list')"
                                              : "unexpected argument after ID");
        uint64_t id;
        if (vl_ctl_number(ctl, "ID", pos[1], 1, UINT32_MAX, &id) != 0)
            return 2;
        vl_admin_t a = {.id = (uint32_t)id};
        if (s_admin(ctl, VL_MSG_REMOVE_SN, &a, NULL) != 0)
            return 1;
        if (ctl->json)
            printf("{\"id\": %u, \"removed\": true}\n", a.id);
        else
            printf("sn %u removed\n", a.id);
        return 0;
    }
    return vl_ctl_usage(ctl, "unknown subcommand (use list, add or remove)");
}

/* ---- topic --------------------------------------------------------------------- */

static int s_topic_describe(vl_ctl_t *ctl, const char *name)
{
    vl_meta_t m;
    if (vl_ctl_status_fetch(ctl, &m, NULL, 0) != 0)
        return 1;
    const vl_meta_topic_t *t = vl_meta_topic_by_name(&m, name);
    if (!t) {
        vl_meta_free(&m);
        return vl_ctl_fail(ctl, "no such topic '%s' (see 'varlogctl topic list')", name);
    }
    if (ctl->json) {
        s_json_topic(t);
        printf("\n");
        vl_meta_free(&m);
        return 0;
    }
    vl_ctl_table_t *tab = vl_ctl_table_new();
    vl_ctl_table_add(tab, "topic\t%s", t->name);
    vl_ctl_table_add(tab, "id\t%u", t->id);
    vl_ctl_table_add(tab, "replication factor\t%u", t->rf);
    vl_ctl_table_add(tab, "log streams\t%u", t->nls);
    vl_ctl_table_add(tab, "high watermark\t%" PRIu64, t->hwm);
    vl_ctl_table_add(tab, "end offset\t%" PRIu64, t->end_offset);
    vl_ctl_table_add(tab, "trim point\t%" PRIu64 " (offset %" PRIu64 ")", t->trim_glsn,
                     t->trim_offset);
    vl_ctl_table_print(&tab, stdout);
    if (t->nls > 0) {
        printf("\n");
        tab = vl_ctl_table_new();
        vl_ctl_table_add(tab, "LS\tSTATE\tREPLICA\tSN\tADDRESS\tNODE");
        for (uint32_t j = 0; j < t->nls; j++) {
            const vl_meta_ls_t *ls = &t->ls[j];
            if (ls->nrep == 0)
                vl_ctl_table_add(tab, "%u\t%s\t-", ls->id, vl_ctl_ls_state(ls->state));
            for (uint32_t k = 0; k < ls->nrep; k++) {
                const vl_meta_sn_t *sn = vl_meta_sn_by_id(&m, ls->replicas[k]);
                char first[32] = "\t";
                if (k == 0)
                    snprintf(first, sizeof first, "%u\t%s", ls->id, vl_ctl_ls_state(ls->state));
                vl_ctl_table_add(tab, "%s\t%s\t%u\t%s\t%s", first, k ? "backup" : "primary",
                                 ls->replicas[k], sn ? sn->addr : "(unknown)",
                                 sn && sn->alive ? "up" : "down");
            }
        }
        vl_ctl_table_print(&tab, stdout);
    }
    vl_meta_free(&m);
    return 0;
}

int vl_ctl_cmd_topic(vl_ctl_t *ctl, int argc, char **argv)
{
    static const vl_ctl_opt_t opts[] = {
        {"log-streams", 0, true}, {"replication-factor", 0, true}, {NULL, 0, false}};
    const char *vals[2];
    char *pos[3];
    int npos;
    int rc = vl_ctl_parse(ctl, argc, argv, opts, vals, pos, 3, &npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help("topic");
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list, create, describe or delete)");
    const char *sub = pos[0];
    vl_ctl_cmd_name(ctl, sub);
    bool create = strcmp(sub, "create") == 0;
    if (!create && (vals[0] || vals[1]))
        return vl_ctl_usage(ctl, "--%s only applies to 'topic create'",
                            vals[0] ? "log-streams" : "replication-factor");
    if (strcmp(sub, "list") == 0) {
        if (npos > 1)
            return vl_ctl_usage(ctl, "unexpected argument '%s'", pos[1]);
        vl_meta_t m;
        if (vl_ctl_status_fetch(ctl, &m, NULL, 0) != 0)
            return 1;
        if (ctl->json) {
            printf("[");
            for (uint32_t i = 0; i < m.ntopics; i++) {
                printf("%s", i ? ", " : "");
                s_json_topic(&m.topics[i]);
            }
            printf("]\n");
        } else {
            s_table_topics(&m);
        }
        vl_meta_free(&m);
        return 0;
    }
    if (strcmp(sub, "create") != 0 && strcmp(sub, "describe") != 0 && strcmp(sub, "delete") != 0)
        return vl_ctl_usage(ctl, "unknown subcommand (use list, create, describe or delete)");
    if (npos != 2)
        return vl_ctl_usage(ctl, npos < 2 ? "missing NAME" : "unexpected argument after NAME");
    const char *name = pos[1];
    if (s_check_name(ctl, name) != 0)
        return 1;
    if (strcmp(sub, "describe") == 0)
        return s_topic_describe(ctl, name);
    vl_admin_t a = {0};
    snprintf(a.name, sizeof a.name, "%s", name);
    if (create) {
        uint64_t v;
        if (vals[0]) {
            if (vl_ctl_number(ctl, "--log-streams", vals[0], 1, 65535, &v) != 0)
                return 2;
            a.nls = (uint32_t)v;
        }
        if (vals[1]) {
            if (vl_ctl_number(ctl, "--replication-factor", vals[1], 1, VL_WIRE_MAX_REPLICAS, &v) !=
                0)
                return 2;
            a.rf = (uint32_t)v;
        }
        uint32_t id = 0;
        if (s_admin(ctl, VL_MSG_CREATE_TOPIC, &a, &id) != 0)
            return 1;
        if (ctl->json) {
            printf("{\"id\": %u, \"name\": ", id);
            vl_ctl_json_str(stdout, name, strlen(name));
            printf("}\n");
        } else {
            printf("topic %s created with id %u\n", name, id);
        }
        return 0;
    }
    if (s_admin(ctl, VL_MSG_DELETE_TOPIC, &a, NULL) != 0)
        return 1;
    if (ctl->json) {
        printf("{\"name\": ");
        vl_ctl_json_str(stdout, name, strlen(name));
        printf(", \"deleted\": true}\n");
    } else {
        printf("topic %s deleted\n", name);
    }
    return 0;
}

/* ---- cluster status with the replicas' ends ---------------------------------------- */

/*  A STATUS reply in full: the META, the admin's MR endpoint and what each
    storage node that is up last said of its replicas (adm/server.h). */
typedef struct {
    uint32_t sn_id;
    vl_sn_status_t st;
} s_snst_t;

typedef struct {
    vl_meta_t m;
    char mr[VL_WIRE_MAX_ADDR + 1];
    uint32_t n;
    s_snst_t *sns;
} s_status_t;

static void s_status_free(s_status_t *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        vl_sn_status_free(&s->sns[i].st);
    free(s->sns);
    vl_meta_free(&s->m);
    memset(s, 0, sizeof *s);
}

static int s_status_fetch(vl_ctl_t *ctl, s_status_t *s)
{
    memset(s, 0, sizeof *s);
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    if (vl_ctl_adm_call(ctl, VL_MSG_STATUS, NULL, &reply, &body) != 0)
        return 1;
    int rc = vl_meta_decode(&body, &s->m);
    if (rc == 0 && body.left > 0)
        vl_rbuf_str(&body, s->mr, VL_WIRE_MAX_ADDR);
    if (rc == 0 && !body.err && body.left >= 4) {
        /* each item is at least an id and an empty SN_STATUS (26 bytes) */
        uint32_t n = vl_rbuf_count(&body, 1u << 16, 26);
        s->sns = vl_calloc(n ? n : 1, sizeof *s->sns);
        for (uint32_t i = 0; i < n && !body.err; i++) {
            s->sns[s->n].sn_id = vl_rbuf_u32(&body);
            if (body.err || vl_sn_status_decode(&body, &s->sns[s->n].st) != 0)
                break;
            s->n++;
        }
    }
    zmsg_destroy(&reply);
    if (rc != 0) {
        s_status_free(s);
        return vl_ctl_fail(ctl,
                           "malformed STATUS reply from the admin at %s; are varlogctl and "
                           "varlogadm the same version?",
                           ctl->adm);
    }
    return 0;
}

/*  What storage node sn_id last said of its replica of ls_id (NULL: down
    or unknown). */
static const vl_sn_replica_t *s_status_replica(const s_status_t *s, uint32_t sn_id, uint32_t ls_id)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->sns[i].sn_id != sn_id)
            continue;
        for (uint32_t k = 0; k < s->sns[i].st.n; k++)
            if (s->sns[i].st.replicas[k].ls_id == ls_id)
                return &s->sns[i].st.replicas[k];
    }
    return NULL;
}

/*  True when the replica on sn_id holds exactly the sealed end of ls. */
static bool s_in_line(const s_status_t *s, const vl_meta_ls_t *ls, uint32_t sn_id)
{
    const vl_sn_replica_t *r = s_status_replica(s, sn_id, ls->id);
    return r && r->state == VL_LS_SEALED && r->llsn_end == ls->committed_llsn_end &&
           r->committed_llsn_end == ls->committed_llsn_end;
}

/*  Prints the log streams of topic only (NULL: every topic), all of them
    or (sealed_only) those that are not RUNNING, one row per replica with
    its ends; JSON: one array. Returns the number printed. */
static uint32_t s_print_ls(vl_ctl_t *ctl, const s_status_t *s, const char *only, bool sealed_only)
{
    vl_ctl_table_t *t = NULL;
    if (!ctl->json) {
        t = vl_ctl_table_new();
        vl_ctl_table_add(t,
                         "TOPIC\tLS\tSTATE\tCOMMITTED\tSN\tROLE\tNODE\tLLSN_END\tAPPLIED\tREPLICA");
    } else {
        printf("[");
    }
    uint32_t count = 0;
    for (uint32_t i = 0; i < s->m.ntopics; i++) {
        const vl_meta_topic_t *x = &s->m.topics[i];
        if (only && strcmp(x->name, only) != 0)
            continue;
        for (uint32_t j = 0; j < x->nls; j++) {
            const vl_meta_ls_t *ls = &x->ls[j];
            if (sealed_only && ls->state == VL_LS_RUNNING)
                continue;
            if (ctl->json) {
                printf("%s{\"topic\": ", count ? ", " : "");
                vl_ctl_json_str(stdout, x->name, strlen(x->name));
                printf(", \"id\": %u, \"state\": \"%s\", \"committed_llsn_end\": %" PRIu64, ls->id,
                       vl_ctl_ls_state(ls->state), ls->committed_llsn_end);
                if (ls->state == VL_LS_SEALED)
                    printf(", \"sealed_by\": \"%s\", \"seal_sn\": %u",
                           ls->seal_sn ? "varlogadm" : "hand", ls->seal_sn);
                printf(", \"replicas\": ");
                s_json_replicas(ls);
                printf(", \"replica_ends\": [");
                for (uint32_t k = 0; k < ls->nrep; k++) {
                    const vl_meta_sn_t *sn = vl_meta_sn_by_id(&s->m, ls->replicas[k]);
                    const vl_sn_replica_t *r = s_status_replica(s, ls->replicas[k], ls->id);
                    printf("%s{\"sn\": %u, \"up\": %s", k ? ", " : "", ls->replicas[k],
                           sn && sn->alive ? "true" : "false");
                    if (r)
                        printf(", \"llsn_end\": %" PRIu64 ", \"applied_llsn_end\": %" PRIu64
                               ", \"state\": \"%s\"",
                               r->llsn_end, r->committed_llsn_end, vl_ctl_ls_state(r->state));
                    printf("}");
                }
                printf("]}");
            } else {
                for (uint32_t k = 0; k < ls->nrep; k++) {
                    const vl_meta_sn_t *sn = vl_meta_sn_by_id(&s->m, ls->replicas[k]);
                    const vl_sn_replica_t *r = s_status_replica(s, ls->replicas[k], ls->id);
                    char head[VL_WIRE_MAX_NAME + 64] = "\t\t\t";
                    /* SEALED* : sealed by varlogadm, which brings it back */
                    if (k == 0)
                        snprintf(head, sizeof head, "%s\t%u\t%s%s\t%" PRIu64, x->name, ls->id,
                                 vl_ctl_ls_state(ls->state),
                                 ls->state == VL_LS_SEALED && ls->seal_sn ? "*" : "",
                                 ls->committed_llsn_end);
                    char ends[96] = "-\t-\t-";
                    if (r)
                        snprintf(ends, sizeof ends, "%" PRIu64 "\t%" PRIu64 "\t%s", r->llsn_end,
                                 r->committed_llsn_end, vl_ctl_ls_state(r->state));
                    vl_ctl_table_add(t, "%s\t%u\t%s\t%s\t%s", head, ls->replicas[k],
                                     k ? "backup" : "primary", sn && sn->alive ? "up" : "down",
                                     ends);
                }
            }
            count++;
        }
    }
    if (ctl->json)
        printf("]");
    else
        vl_ctl_table_print(&t, stdout);
    return count;
}

/* ---- ls --------------------------------------------------------------------------- */

/*  Parses TOPIC LSID of seal, unseal, update, sync. */
static int s_topic_ls(vl_ctl_t *ctl, char **pos, int npos, int want, vl_admin_t *a)
{
    if (npos < 2)
        return vl_ctl_usage(ctl, "missing TOPIC");
    if (want >= 3 && npos < 3)
        return vl_ctl_usage(ctl, "missing LSID (see 'varlogctl ls list %s')", pos[1]);
    if (npos > want)
        return vl_ctl_usage(ctl, "unexpected argument '%s'", pos[want]);
    if (s_check_name(ctl, pos[1]) != 0)
        return 1;
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", pos[1]);
    uint64_t v;
    if (npos >= 3) {
        if (vl_ctl_number(ctl, "LSID", pos[2], 1, UINT32_MAX, &v) != 0)
            return 2;
        a->id = (uint32_t)v;
    }
    return 0;
}

/*  Starts SYNC a (one log stream, or all sealed ones when a->id is 0) and
    waits up to wait_s seconds until every destination is in line. */
static int s_ls_sync(vl_ctl_t *ctl, const vl_admin_t *a, uint64_t wait_s)
{
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(a, &b);
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    int rc = vl_ctl_adm_call(ctl, VL_MSG_SYNC, &b, &reply, &body);
    vl_wbuf_free(&b);
    if (rc != 0)
        return 1;
    vl_sync_reply_t r;
    rc = vl_sync_reply_decode(&body, &r);
    zmsg_destroy(&reply);
    if (rc != 0)
        return vl_ctl_fail(ctl,
                           "malformed SYNC reply from the admin at %s; are varlogctl and "
                           "varlogadm the same version?",
                           ctl->adm);
    if (!ctl->json) {
        if (r.n == 0)
            printf("nothing to sync: every replica that is up holds the sealed end\n");
        for (uint32_t i = 0; i < r.n; i++)
            printf("ls %u: syncing sn %u from sn %u (llsn %" PRIu64 "..%" PRIu64 ")\n",
                   r.items[i].ls_id, r.items[i].dest_sn, r.items[i].src_sn,
                   r.items[i].dest_llsn_end + 1, r.items[i].llsn_end);
        fflush(stdout);
    }
    /* wait until each destination holds the entries and the commits */
    int64_t deadline = zclock_mono() + (int64_t)wait_s * 1000;
    uint32_t done = 0;
    bool *ok = vl_calloc(r.n ? r.n : 1, sizeof *ok);
    const char *why = "";
    char last[256] = "";
    while (done < r.n && wait_s > 0) {
        s_status_t st;
        if (s_status_fetch(ctl, &st) != 0) {
            free(ok);
            vl_sync_reply_free(&r);
            return 1;
        }
        for (uint32_t i = 0; i < r.n; i++) {
            if (ok[i])
                continue;
            const vl_meta_topic_t *t = vl_meta_topic_by_name(&st.m, a->name);
            const vl_meta_ls_t *ls = NULL;
            for (uint32_t j = 0; t && j < t->nls; j++)
                if (t->ls[j].id == r.items[i].ls_id)
                    ls = &t->ls[j];
            if (ls && s_in_line(&st, ls, r.items[i].dest_sn)) {
                ok[i] = true;
                done++;
                if (!ctl->json)
                    printf("ls %u: sn %u in line at llsn %" PRIu64 "\n", r.items[i].ls_id,
                           r.items[i].dest_sn, ls->committed_llsn_end);
                continue;
            }
            const vl_sn_replica_t *x = s_status_replica(&st, r.items[i].dest_sn, r.items[i].ls_id);
            why = "it is down or has not reported";
            if (x)
                snprintf(last, sizeof last,
                         "it holds llsn %" PRIu64 " with commits to %" PRIu64 " of %" PRIu64,
                         x->llsn_end, x->committed_llsn_end, r.items[i].llsn_end);
            else
                snprintf(last, sizeof last, "%s", why);
        }
        s_status_free(&st);
        if (done == r.n)
            break;
        if (zclock_mono() >= deadline) {
            uint32_t i = 0;
            while (ok[i])
                i++;
            rc = vl_ctl_fail(ctl,
                             "ls %u: sn %u not in line after %" PRIu64 " s (%s); see "
                             "'varlogctl ls list %s' and the storage nodes' logs",
                             r.items[i].ls_id, r.items[i].dest_sn, wait_s, last, a->name);
            break;
        }
        zclock_sleep(100);
    }
    if (ctl->json && rc == 0) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, a->name, strlen(a->name));
        printf(", \"synced\": [");
        for (uint32_t i = 0; i < r.n; i++)
            printf("%s{\"ls\": %u, \"from\": %u, \"to\": %u, \"llsn_end\": %" PRIu64 "}",
                   i ? ", " : "", r.items[i].ls_id, r.items[i].src_sn, r.items[i].dest_sn,
                   r.items[i].llsn_end);
        printf("]}\n");
    }
    free(ok);
    vl_sync_reply_free(&r);
    return rc;
}

/*  ls seal|unseal TOPIC LSID. */
static int s_ls_seal(vl_ctl_t *ctl, const char *sub, char **pos, int npos)
{
    vl_admin_t a;
    int rc;
    if ((rc = s_topic_ls(ctl, pos, npos, 3, &a)) != 0)
        return rc;
    bool seal = sub[0] == 's';
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_admin_encode(&a, &b);
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    rc = vl_ctl_adm_call(ctl, seal ? VL_MSG_SEAL : VL_MSG_UNSEAL, &b, &reply, &body);
    vl_wbuf_free(&b);
    if (rc != 0)
        return 1;
    vl_seal_reply_t sr = {.ls_id = a.id};
    if (seal && vl_seal_reply_decode(&body, &sr) != 0)
        sr = (vl_seal_reply_t){.ls_id = a.id};
    zmsg_destroy(&reply);
    if (ctl->json) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, a.name, strlen(a.name));
        if (seal)
            printf(", \"ls\": %u, \"state\": \"SEALED\", \"llsn_end\": %" PRIu64
                   ", \"glsn_end\": %" PRIu64 "}\n",
                   a.id, sr.llsn_end, sr.glsn_end);
        else
            printf(", \"ls\": %u, \"state\": \"RUNNING\"}\n", a.id);
    } else if (seal) {
        printf("topic %s ls %u sealed at llsn %" PRIu64 " (glsn %" PRIu64 ")\n", a.name, a.id,
               sr.llsn_end, sr.glsn_end);
    } else {
        printf("topic %s ls %u unsealed\n", a.name, a.id);
    }
    return 0;
}

/*  ls update TOPIC LSID --replace OLD_SN --with NEW_SN (vals[2], vals[3]). */
static int s_ls_update(vl_ctl_t *ctl, char **pos, int npos, const char **vals)
{
    vl_admin_t a;
    int rc;
    if ((rc = s_topic_ls(ctl, pos, npos, 3, &a)) != 0)
        return rc;
    if (!vals[2] || !vals[3])
        return vl_ctl_usage(ctl, "give the replica to replace and its replacement: "
                                 "--replace OLD_SN --with NEW_SN");
    uint64_t v;
    if (vl_ctl_number(ctl, "--replace", vals[2], 1, UINT32_MAX, &v) != 0)
        return 2;
    a.sn_from = (uint32_t)v;
    if (vl_ctl_number(ctl, "--with", vals[3], 1, UINT32_MAX, &v) != 0)
        return 2;
    a.sn_to = (uint32_t)v;
    if (s_admin(ctl, VL_MSG_UPDATE_LS, &a, NULL) != 0)
        return 1;
    if (ctl->json) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, a.name, strlen(a.name));
        printf(", \"ls\": %u, \"replaced\": %u, \"with\": %u}\n", a.id, a.sn_from, a.sn_to);
    } else {
        printf("topic %s ls %u: the replica on sn %u is replaced by an empty one on sn %u; "
               "fill it with 'varlogctl ls sync %s %u'\n",
               a.name, a.id, a.sn_from, a.sn_to, a.name, a.id);
    }
    return 0;
}

/*  ls sync TOPIC LSID and ls recover TOPIC, with --from, --to and --wait
    (vals[0], vals[1], vals[4]). */
static int s_ls_sync_cmd(vl_ctl_t *ctl, bool is_sync, char **pos, int npos, const char **vals)
{
    vl_admin_t a;
    int rc;
    if ((rc = s_topic_ls(ctl, pos, npos, is_sync ? 3 : 2, &a)) != 0)
        return rc;
    uint64_t v, wait_s = 60;
    if (vals[0]) {
        if (vl_ctl_number(ctl, "--from", vals[0], 1, UINT32_MAX, &v) != 0)
            return 2;
        a.sn_from = (uint32_t)v;
    }
    if (vals[1]) {
        if (vl_ctl_number(ctl, "--to", vals[1], 1, UINT32_MAX, &v) != 0)
            return 2;
        a.sn_to = (uint32_t)v;
    }
    if (vals[4] && vl_ctl_number(ctl, "--wait", vals[4], 0, 86400, &wait_s) != 0)
        return 2;
    return s_ls_sync(ctl, &a, wait_s);
}

/*  ls list [TOPIC]. */
static int s_ls_list(vl_ctl_t *ctl, char **pos, int npos)
{
    if (npos > 2)
        return vl_ctl_usage(ctl, "unexpected argument '%s'", pos[2]);
    const char *only = npos == 2 ? pos[1] : NULL;
    s_status_t st;
    if (s_status_fetch(ctl, &st) != 0)
        return 1;
    if (only && !vl_meta_topic_by_name(&st.m, only)) {
        s_status_free(&st);
        return vl_ctl_fail(ctl, "no such topic '%s' (see 'varlogctl topic list')", only);
    }
    s_print_ls(ctl, &st, only, false);
    if (ctl->json)
        printf("\n");
    s_status_free(&st);
    return 0;
}

/*  ls add TOPIC. */
static int s_ls_add(vl_ctl_t *ctl, char **pos, int npos)
{
    if (npos != 2)
        return vl_ctl_usage(ctl, npos < 2 ? "missing TOPIC" : "unexpected argument after TOPIC");
    if (s_check_name(ctl, pos[1]) != 0)
        return 1;
    vl_admin_t a = {0};
    snprintf(a.name, sizeof a.name, "%s", pos[1]);
    uint32_t id = 0;
    if (s_admin(ctl, VL_MSG_ADD_LS, &a, &id) != 0)
        return 1;
    if (ctl->json) {
        printf("{\"topic\": ");
        vl_ctl_json_str(stdout, a.name, strlen(a.name));
        printf(", \"id\": %u}\n", id);
    } else {
        printf("log stream %u added to topic %s\n", id, a.name);
    }
    return 0;
}

int vl_ctl_cmd_ls(vl_ctl_t *ctl, int argc, char **argv)
{
    static const vl_ctl_opt_t opts[] = {{"from", 0, true}, {"to", 0, true},   {"replace", 0, true},
                                        {"with", 0, true}, {"wait", 0, true}, {NULL, 0, false}};
    const char *vals[5];
    char *pos[4];
    int npos;
    int rc = vl_ctl_parse(ctl, argc, argv, opts, vals, pos, 4, &npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help("ls");
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list, add, seal, unseal, update, sync or "
                                 "recover)");
    const char *sub = pos[0];
    vl_ctl_cmd_name(ctl, sub);
    bool is_sync = strcmp(sub, "sync") == 0, is_recover = strcmp(sub, "recover") == 0;
    bool is_update = strcmp(sub, "update") == 0;
    if (!is_sync && (vals[0] || vals[1]))
        return vl_ctl_usage(ctl, "--from and --to only apply to 'ls sync'");
    if (!is_update && (vals[2] || vals[3]))
        return vl_ctl_usage(ctl, "--replace and --with only apply to 'ls update'");
    if (!is_sync && !is_recover && vals[4])
        return vl_ctl_usage(ctl, "--wait only applies to 'ls sync' and 'ls recover'");
    if (strcmp(sub, "seal") == 0 || strcmp(sub, "unseal") == 0)
        return s_ls_seal(ctl, sub, pos, npos);
    if (is_update)
        return s_ls_update(ctl, pos, npos, vals);
    if (is_sync || is_recover)
        return s_ls_sync_cmd(ctl, is_sync, pos, npos, vals);
    if (strcmp(sub, "list") == 0)
        return s_ls_list(ctl, pos, npos);
    if (strcmp(sub, "add") == 0)
        return s_ls_add(ctl, pos, npos);
    return vl_ctl_usage(ctl, "unknown subcommand (use list, add, seal, unseal, sync or recover)");
}

/* ---- status ------------------------------------------------------------------------- */

/*  bytes as "12.3 MiB" (KiB .. TiB). */
static void s_fmt_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

/*  What storage node sn_id said of itself (NULL: down or unknown). */
static const vl_sn_status_t *s_status_sn(const s_status_t *s, uint32_t sn_id)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->sns[i].sn_id == sn_id)
            return &s->sns[i].st;
    return NULL;
}

/*  The storage nodes with the free space and size of their data disks
    (what each said in SN_STATUS; '-' when it did not answer). */
static void s_table_sns_disk(const s_status_t *s)
{
    vl_ctl_table_t *t = vl_ctl_table_new();
    vl_ctl_table_add(t, "ID\tADDRESS\tSTATE\tDISK_FREE\tDISK_SIZE");
    for (uint32_t i = 0; i < s->m.nsn; i++) {
        const vl_meta_sn_t *sn = &s->m.sns[i];
        const vl_sn_status_t *st = s_status_sn(s, sn->id);
        char fr[32] = "-", sz[32] = "-";
        if (st && st->disk_total) {
            s_fmt_bytes(fr, sizeof fr, st->disk_free);
            s_fmt_bytes(sz, sizeof sz, st->disk_total);
        }
        vl_ctl_table_add(t, "%u\t%s\t%s\t%s\t%s", sn->id, sn->addr, sn->alive ? "up" : "down", fr,
                         sz);
    }
    vl_ctl_table_print(&t, stdout);
}

/*  One storage node in status --json: s_json_sn's fields and its disk. */
static void s_json_sn_disk(const s_status_t *s, const vl_meta_sn_t *sn)
{
    printf("{\"id\": %u, \"addr\": ", sn->id);
    vl_ctl_json_str(stdout, sn->addr, strlen(sn->addr));
    printf(", \"alive\": %s", sn->alive ? "true" : "false");
    const vl_sn_status_t *st = s_status_sn(s, sn->id);
    if (st && st->disk_total)
        printf(", \"disk_free\": %" PRIu64 ", \"disk_total\": %" PRIu64, st->disk_free,
               st->disk_total);
    printf("}");
}

int vl_ctl_cmd_status(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[1];
    int npos;
    int rc = vl_ctl_parse_plain(ctl, argc, argv, pos, 0, &npos);
    if (rc >= 0)
        return rc;
    s_status_t st;
    if (s_status_fetch(ctl, &st) != 0)
        return 1;
    vl_meta_t m = st.m;
    const char *mr = st.mr;
    uint32_t nsealed = 0, nls = 0;
    for (uint32_t i = 0; i < m.ntopics; i++)
        for (uint32_t j = 0; j < m.topics[i].nls; j++) {
            nls++;
            nsealed += m.topics[i].ls[j].state != VL_LS_RUNNING;
        }
    uint32_t up = 0;
    for (uint32_t i = 0; i < m.nsn; i++)
        up += m.sns[i].alive != 0;
    if (ctl->json) {
        printf("{\"admin\": ");
        vl_ctl_json_str(stdout, ctl->adm, strlen(ctl->adm));
        printf(", \"mr\": ");
        vl_ctl_json_str(stdout, mr, strlen(mr));
        printf(", \"cluster_id\": %u, \"version\": %" PRIu64 ", \"sns\": [", m.cluster_id,
               m.version);
        for (uint32_t i = 0; i < m.nsn; i++) {
            printf("%s", i ? ", " : "");
            s_json_sn_disk(&st, &m.sns[i]);
        }
        printf("], \"topics\": [");
        for (uint32_t i = 0; i < m.ntopics; i++) {
            printf("%s", i ? ", " : "");
            s_json_topic(&m.topics[i]);
        }
        printf("], \"disk_faults\": [");
        for (uint32_t i = 0, k = 0; i < st.n; i++) {
            if (!st.sns[i].st.fault)
                continue;
            printf("%s{\"sn\": %u, \"why\": ", k++ ? ", " : "", st.sns[i].sn_id);
            vl_ctl_json_str(stdout, st.sns[i].st.fault_why, strlen(st.sns[i].st.fault_why));
            printf("}");
        }
        printf("], \"log_streams\": ");
        s_print_ls(ctl, &st, NULL, false);
        printf("}\n");
    } else {
        vl_ctl_table_t *t = vl_ctl_table_new();
        vl_ctl_table_add(t, "metadata repository\t%s (cluster %u, metadata version %" PRIu64 ")",
                         mr[0] ? mr : "?", m.cluster_id, m.version);
        vl_ctl_table_add(t, "admin\t%s", ctl->adm);
        vl_ctl_table_add(t, "storage nodes\t%u, %u up", m.nsn, up);
        vl_ctl_table_add(t, "topics\t%u", m.ntopics);
        vl_ctl_table_add(t, "log streams\t%u, %u sealed", nls, nsealed);
        vl_ctl_table_print(&t, stdout);
        if (m.nsn > 0) {
            printf("\n");
            s_table_sns_disk(&st);
        }
        /* a node whose disk failed: its log streams are sealed until it
           clears (varlogadm) */
        for (uint32_t i = 0; i < st.n; i++)
            if (st.sns[i].st.fault)
                printf("sn %u: %s (its log streams are sealed until it clears)\n",
                       st.sns[i].sn_id, st.sns[i].st.fault_why);
        if (m.ntopics > 0) {
            printf("\n");
            s_table_topics(&m);
        }
        if (nsealed > 0) {
            printf("\nlog streams not running:\n");
            s_print_ls(ctl, &st, NULL, true);
        }
    }
    s_status_free(&st);
    return 0;
}
