/*  ctl_admin.c - varlogctl's admin commands: sn, topic, ls, status.

    All of them talk to varlogadm (never to the MR directly): the admin is
    the one place that checks storage nodes before registering them and
    knows which are up. Listings use STATUS, which is the MR's metadata
    with the admin's alive flags, so every listing can say up or down.
*/
#include <inttypes.h>
#include <string.h>
#include "ctl.h"

/* ---- shared -------------------------------------------------------------- */

/*  Parses the words of a command group that takes no options: the
    subcommand and its arguments land in pos. Returns -1 when the caller
    should go on, else the exit status (help printed or usage error). */
static int s_parse_plain(vl_ctl_t *ctl, int argc, char **argv, char **pos, int maxpos, int *npos)
{
    int rc = vl_ctl_parse(ctl, argc, argv, NULL, NULL, pos, maxpos, npos);
    if (rc != 0)
        return rc;
    if (ctl->help)
        return vl_ctl_help(ctl->group);
    return -1;
}

/*  Sets the prefix of messages to "GROUP SUB". */
static void s_cmd_name(vl_ctl_t *ctl, const char *sub)
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
    int rc = s_parse_plain(ctl, argc, argv, pos, 3, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list, add or remove)");
    const char *sub = pos[0];
    s_cmd_name(ctl, sub);
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
    s_cmd_name(ctl, sub);
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

/* ---- ls --------------------------------------------------------------------------- */

int vl_ctl_cmd_ls(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[4];
    int npos;
    int rc = s_parse_plain(ctl, argc, argv, pos, 4, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list or add)");
    const char *sub = pos[0];
    s_cmd_name(ctl, sub);
    if (strcmp(sub, "seal") == 0 || strcmp(sub, "unseal") == 0 || strcmp(sub, "sync") == 0 ||
        strcmp(sub, "recover") == 0)
        return vl_ctl_fail(ctl, "not implemented yet (see the fault tolerance issue)");
    if (strcmp(sub, "list") == 0) {
        if (npos > 2)
            return vl_ctl_usage(ctl, "unexpected argument '%s'", pos[2]);
        const char *only = npos == 2 ? pos[1] : NULL;
        vl_meta_t m;
        if (vl_ctl_status_fetch(ctl, &m, NULL, 0) != 0)
            return 1;
        if (only && !vl_meta_topic_by_name(&m, only)) {
            vl_meta_free(&m);
            return vl_ctl_fail(ctl, "no such topic '%s' (see 'varlogctl topic list')", only);
        }
        vl_ctl_table_t *t = NULL;
        if (!ctl->json) {
            t = vl_ctl_table_new();
            vl_ctl_table_add(t, "TOPIC\tLS\tSTATE\tREPLICAS");
        }
        bool first = true;
        if (ctl->json)
            printf("[");
        for (uint32_t i = 0; i < m.ntopics; i++) {
            const vl_meta_topic_t *x = &m.topics[i];
            if (only && strcmp(x->name, only) != 0)
                continue;
            for (uint32_t j = 0; j < x->nls; j++) {
                const vl_meta_ls_t *ls = &x->ls[j];
                if (ctl->json) {
                    printf("%s{\"topic\": ", first ? "" : ", ");
                    vl_ctl_json_str(stdout, x->name, strlen(x->name));
                    printf(", \"id\": %u, \"state\": \"%s\", \"replicas\": ", ls->id,
                           vl_ctl_ls_state(ls->state));
                    s_json_replicas(ls);
                    printf("}");
                } else {
                    char reps[VL_WIRE_MAX_REPLICAS * 12 + 1] = "";
                    size_t off = 0;
                    for (uint32_t k = 0; k < ls->nrep; k++)
                        off += (size_t)snprintf(reps + off, sizeof reps - off, "%s%u", k ? "," : "",
                                                ls->replicas[k]);
                    vl_ctl_table_add(t, "%s\t%u\t%s\t%s", x->name, ls->id,
                                     vl_ctl_ls_state(ls->state), reps);
                }
                first = false;
            }
        }
        if (ctl->json)
            printf("]\n");
        else
            vl_ctl_table_print(&t, stdout);
        vl_meta_free(&m);
        return 0;
    }
    if (strcmp(sub, "add") == 0) {
        if (npos != 2)
            return vl_ctl_usage(ctl,
                                npos < 2 ? "missing TOPIC" : "unexpected argument after TOPIC");
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
    return vl_ctl_usage(ctl, "unknown subcommand (use list, add, seal, unseal, sync or recover)");
}

/* ---- status ------------------------------------------------------------------------- */

int vl_ctl_cmd_status(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[1];
    int npos;
    int rc = s_parse_plain(ctl, argc, argv, pos, 0, &npos);
    if (rc >= 0)
        return rc;
    vl_meta_t m;
    char mr[VL_WIRE_MAX_ADDR + 1];
    if (vl_ctl_status_fetch(ctl, &m, mr, sizeof mr) != 0)
        return 1;
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
            s_json_sn(&m.sns[i]);
        }
        printf("], \"topics\": [");
        for (uint32_t i = 0; i < m.ntopics; i++) {
            printf("%s", i ? ", " : "");
            s_json_topic(&m.topics[i]);
        }
        printf("]}\n");
    } else {
        vl_ctl_table_t *t = vl_ctl_table_new();
        vl_ctl_table_add(t, "metadata repository\t%s (cluster %u, metadata version %" PRIu64 ")",
                         mr[0] ? mr : "?", m.cluster_id, m.version);
        vl_ctl_table_add(t, "admin\t%s", ctl->adm);
        vl_ctl_table_add(t, "storage nodes\t%u, %u up", m.nsn, up);
        vl_ctl_table_add(t, "topics\t%u", m.ntopics);
        vl_ctl_table_print(&t, stdout);
        if (m.nsn > 0) {
            printf("\n");
            s_table_sns(&m);
        }
        if (m.ntopics > 0) {
            printf("\n");
            s_table_topics(&m);
        }
    }
    vl_meta_free(&m);
    return 0;
}
