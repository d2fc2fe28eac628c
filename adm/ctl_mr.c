/*  ctl_mr.c - varlogctl's mr commands: the metadata repository's own
    membership (list, add, remove, transfer), through varlogadm, which
    forwards them to the MR's leader.
*/
#include <inttypes.h>
#include <string.h>
#include "ctl.h"
#include "util.h"

/* ---- mr ---------------------------------------------------------------------------- */

/*  A change of the MR's membership waits for its end (a new replica's
    catch-up, a handover): this long unless --timeout says otherwise. */
#define S_MR_CHANGE_TIMEOUT_MS 35000

/*  A member's lag behind the leader's log (0 for the leader). */
static uint64_t s_mr_lag(const vl_mr_status_t *st, const vl_mr_member_t *m)
{
    if (m->id == st->leader_id || m->match_index >= st->last_index)
        return 0;
    return st->last_index - m->match_index;
}

static void s_mr_json(const vl_mr_status_t *st)
{
    printf("{\"leader\": %" PRIu64 ", \"term\": %" PRIu64 ", \"commit_index\": %" PRIu64
           ", \"applied_index\": %" PRIu64 ", \"last_index\": %" PRIu64 ", \"members\": [",
           st->leader_id, st->term, st->commit_index, st->applied_index, st->last_index);
    for (uint32_t i = 0; i < st->n; i++) {
        const vl_mr_member_t *m = &st->members[i];
        printf("%s{\"id\": %" PRIu64 ", \"role\": \"%s\", \"leader\": %s, \"raft_addr\": ",
               i ? ", " : "", m->id, vl_mr_role_name(m->role),
               m->id == st->leader_id ? "true" : "false");
        vl_ctl_json_str(stdout, m->raft_addr, strlen(m->raft_addr));
        printf(", \"endpoint\": ");
        vl_ctl_json_str(stdout, m->endpoint, strlen(m->endpoint));
        printf(", \"match_index\": %" PRIu64 ", \"lag\": %" PRIu64 "}", m->match_index,
               s_mr_lag(st, m));
    }
    printf("]}\n");
}

static void s_mr_table(const vl_mr_status_t *st)
{
    printf("leader %" PRIu64 ", term %" PRIu64 ", commit index %" PRIu64 ", applied %" PRIu64
           ", last %" PRIu64 "\n",
           st->leader_id, st->term, st->commit_index, st->applied_index, st->last_index);
    vl_ctl_table_t *t = vl_ctl_table_new();
    vl_ctl_table_add(t, "ID\tROLE\tRAFT_ADDRESS\tENDPOINT\tMATCH\tLAG");
    for (uint32_t i = 0; i < st->n; i++) {
        const vl_mr_member_t *m = &st->members[i];
        vl_ctl_table_add(t, "%" PRIu64 "\t%s%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64, m->id,
                         vl_mr_role_name(m->role), m->id == st->leader_id ? " (leader)" : "",
                         m->raft_addr, m->endpoint[0] ? m->endpoint : "-", m->match_index,
                         s_mr_lag(st, m));
    }
    vl_ctl_table_print(&t, stdout);
}

/*  Sends an MR request (body b, NULL: empty) and decodes its MR_STATUS
    reply into st. 0, or 1 after printing the error. */
static int s_mr_call(vl_ctl_t *ctl, uint16_t type, const vl_wbuf_t *b, vl_mr_status_t *st)
{
    int saved = ctl->timeout_ms;
    if (type != VL_MSG_MR_STATUS && ctl->timeout_ms == VL_CTL_TIMEOUT_MS_DEFAULT)
        ctl->timeout_ms = S_MR_CHANGE_TIMEOUT_MS;
    zmsg_t *reply = NULL;
    vl_rbuf_t body;
    int rc = vl_ctl_adm_call(ctl, type, b, &reply, &body);
    ctl->timeout_ms = saved;
    if (rc == 0 && vl_mr_status_decode(&body, st) != 0)
        rc = vl_ctl_fail(ctl, "malformed reply from varlogadm; use varlogctl of the same version");
    zmsg_destroy(&reply);
    return rc;
}

/*  Parses and checks the words of mr add|remove|transfer into the body. */
static int s_mr_args(vl_ctl_t *ctl, const char *sub, char **pos, int npos, vl_mr_member_t *m,
                     vl_wbuf_t *b)
{
    bool add = strcmp(sub, "add") == 0, transfer = strcmp(sub, "transfer") == 0;
    int want = add ? 4 : 2;
    if (npos > want || (npos < want && !(transfer && npos == 1)))
        return vl_ctl_usage(ctl,
                            npos > want ? "unexpected argument '%s'"
                            : add       ? "expected ID RAFTADDR ENDPOINT%s"
                                        : "missing ID (see 'varlogctl mr list')%s",
                            npos > want ? pos[want] : "");
    uint64_t id = 0;
    if (npos > 1 && vl_ctl_number(ctl, "ID", pos[1], 1, UINT64_MAX, &id) != 0)
        return 2;
    memset(m, 0, sizeof *m);
    m->id = id;
    if (!add) {
        vl_mr_id_encode(id, b);
        return 0;
    }
    if (strlen(pos[2]) > VL_WIRE_MAX_ADDR || strlen(pos[3]) > VL_WIRE_MAX_ADDR)
        return vl_ctl_fail(ctl, "address longer than %d bytes", VL_WIRE_MAX_ADDR);
    snprintf(m->raft_addr, sizeof m->raft_addr, "%s", pos[2]);
    snprintf(m->endpoint, sizeof m->endpoint, "%s", pos[3]);
    vl_mr_add_encode(m, b);
    return 0;
}

int vl_ctl_cmd_mr(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[5];
    int npos;
    int rc = vl_ctl_parse_plain(ctl, argc, argv, pos, 5, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list, add, remove or transfer)");
    const char *sub = pos[0];
    vl_ctl_cmd_name(ctl, sub);
    static const struct {
        const char *name;
        uint16_t type;
    } subs[] = {{"list", VL_MSG_MR_STATUS},
                {"add", VL_MSG_MR_ADD},
                {"remove", VL_MSG_MR_REMOVE},
                {"transfer", VL_MSG_MR_TRANSFER}};
    size_t k = 0;
    while (k < 4 && strcmp(subs[k].name, sub) != 0)
        k++;
    if (k == 4)
        return vl_ctl_usage(ctl, "unknown subcommand (use list, add, remove or transfer)");
    vl_wbuf_t b;
    vl_wbuf_init(&b);
    vl_mr_member_t m;
    memset(&m, 0, sizeof m);
    if (k == 0 && npos > 1)
        rc = vl_ctl_usage(ctl, "unexpected argument '%s'", pos[1]);
    else if (k > 0)
        rc = s_mr_args(ctl, sub, pos, npos, &m, &b);
    else
        rc = 0;
    vl_mr_status_t st;
    if (rc == 0)
        rc = s_mr_call(ctl, subs[k].type, k == 0 ? NULL : &b, &st);
    vl_wbuf_free(&b);
    if (rc != 0)
        return rc;
    if (ctl->json)
        s_mr_json(&st);
    else if (k == 0)
        s_mr_table(&st);
    else if (k == 1)
        printf("mr %" PRIu64 " added as a voter (%s, %s)\n", m.id, m.raft_addr, m.endpoint);
    else if (k == 2)
        printf("mr %" PRIu64 " removed\n", m.id);
    else
        printf("mr leader is now %" PRIu64 " (term %" PRIu64 ")\n", st.leader_id, st.term);
    return 0;
}
