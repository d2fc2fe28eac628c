/*  ctl_kov.c - varlogctl kov list: the Kov gateways of the cluster and
    who owns what, as the records of "__kov_meta" say (kov/gw.h).

    It reads the meta topic through libvarlog from its trim point to its
    high watermark and replays it with the gateways' own view code
    (kov/gw_view.c: from the snapshot there when the topic was compacted),
    so it shows exactly what every gateway agreed on at
    that log position: each gateway (id, address, alive or since when
    dead, the wall-clock time of its last heartbeat), the owner of each
    partition (every varlog topic named T-p, Kov's own "__kov_*" aside)
    and the groups' coordinator, with the view's epoch (the GLSN of the
    last change of the live set). "alive" is the log's word: a gateway
    killed a moment ago stays alive until a live one declares it expired
    (its session timeout after its last heartbeat).
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "ctl.h"
#include "gw.h"
#include "util.h"
#include "varlog.h"

static int s_replay(vl_ctl_t *ctl, vl_client_t *client, vl_kgw_view_t *v)
{
    vl_topic_info_t info;
    int rc = vl_topic_info(client, VL_KGW_META_TOPIC, &info);
    if (rc == VL_ENOTOPIC)
        return 0; /* no gateway ever ran */
    if (rc != 0)
        return vl_ctl_fail(ctl, "cannot read topic %s: %s", VL_KGW_META_TOPIC,
                           vl_client_errmsg(client));
    if (info.hwm == 0 || info.hwm < info.trim_glsn)
        return 0;
    vl_subscriber_t *sub = NULL;
    rc = vl_subscribe(client, VL_KGW_META_TOPIC, 0, info.hwm + 1, &sub);
    vl_entry_t e;
    while (rc == 0 && (rc = vl_subscriber_next(sub, &e, ctl->timeout_ms)) == 0)
        vl_kgw_view_apply(v, e.glsn, e.data, e.size, 0);
    vl_subscriber_destroy(&sub);
    vl_kgw_view_flush_held(v, 0); /* trimmed with no snapshot after the trim point */
    if (rc != VL_EEOF)
        return vl_ctl_fail(ctl, "reading topic %s: %s; is every storage node up?",
                           VL_KGW_META_TOPIC, vl_client_errmsg(client));
    return 0;
}

/*  Whether name is "T-p" (a Kov partition) and not Kov's own. */
static bool s_is_part(const char *name)
{
    if (strncmp(name, "__kov_", 6) == 0)
        return false;
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1])
        return false;
    for (const char *p = dash + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static void s_print_gws(vl_ctl_t *ctl, const vl_kgw_view_t *v, int64_t now_ms)
{
    if (ctl->json) {
        printf("{\"epoch\": %" PRIu64 ", \"gateways\": [", v->epoch);
        for (size_t i = 0; i < v->n; i++) {
            const vl_kgw_member_t *m = &v->m[i];
            printf("%s{\"id\": %d, \"address\": ", i ? ", " : "", m->id);
            vl_ctl_json_str(stdout, m->addr, strlen(m->addr));
            printf(", \"alive\": %s, \"registered_glsn\": %" PRIu64
                   ", \"last_heard_ms\": %" PRId64 ", \"last_heard_ago_ms\": %" PRId64
                   ", \"session_timeout_ms\": %d, \"expired_glsn\": %" PRIu64 "}",
                   m->alive ? "true" : "false", m->since_glsn, m->heard_ms, now_ms - m->heard_ms,
                   m->session_ms, m->end_glsn);
        }
        printf("]");
        return;
    }
    printf("gateways (epoch %" PRIu64 "):\n", v->epoch);
    vl_ctl_table_t *t = vl_ctl_table_new();
    vl_ctl_table_add(t, "ID\tADDRESS\tALIVE\tLAST_HEARD\tSESSION_MS\tSINCE_GLSN\tEXPIRED_GLSN");
    for (size_t i = 0; i < v->n; i++) {
        const vl_kgw_member_t *m = &v->m[i];
        vl_ctl_table_add(t, "%d\t%s\t%s\t%.1fs ago\t%d\t%" PRIu64 "\t%s%.0" PRIu64, m->id, m->addr,
                         m->alive ? "yes" : "no", (double)(now_ms - m->heard_ms) / 1000.0,
                         m->session_ms, m->since_glsn, m->end_glsn ? "" : "-", m->end_glsn);
    }
    vl_ctl_table_print(&t, stdout);
}

static int s_list(vl_ctl_t *ctl, vl_client_t *client)
{
    vl_kgw_view_t v = {0};
    if (s_replay(ctl, client, &v) != 0) {
        vl_kgw_view_free(&v);
        return 1;
    }
    size_t cap = 1024, n = 0;
    vl_topic_info_t *infos = vl_calloc(cap, sizeof *infos);
    int rc = vl_topic_list(client, infos, cap, &n);
    if (rc == 0 && n > cap) {
        cap = n + 64;
        infos = vl_realloc(infos, cap * sizeof *infos);
        rc = vl_topic_list(client, infos, cap, &n);
    }
    if (rc != 0) {
        free(infos);
        vl_kgw_view_free(&v);
        return vl_ctl_fail(ctl, "cannot list topics: %s", vl_client_errmsg(client));
    }
    n = n < cap ? n : cap;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t now_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    s_print_gws(ctl, &v, now_ms);
    const vl_kgw_member_t *g = vl_kgw_view_group_owner(&v);
    if (ctl->json) {
        printf(", \"partitions\": [");
        for (size_t i = 0, k = 0; i < n; i++) {
            if (!s_is_part(infos[i].name))
                continue;
            const vl_kgw_member_t *o = vl_kgw_view_part_owner(&v, infos[i].name);
            printf("%s{\"topic\": ", k++ ? ", " : "");
            vl_ctl_json_str(stdout, infos[i].name, strlen(infos[i].name));
            printf(", \"owner\": %d, \"epoch\": %" PRIu64 "}", o ? o->id : -1, v.epoch);
        }
        printf("], \"groups\": {\"coordinator\": %d, \"epoch\": %" PRIu64 "}}\n", g ? g->id : -1,
               v.epoch);
    } else {
        printf("\npartitions:\n");
        vl_ctl_table_t *t = vl_ctl_table_new();
        vl_ctl_table_add(t, "TOPIC\tOWNER\tEPOCH");
        for (size_t i = 0; i < n; i++) {
            if (!s_is_part(infos[i].name))
                continue;
            const vl_kgw_member_t *o = vl_kgw_view_part_owner(&v, infos[i].name);
            if (o)
                vl_ctl_table_add(t, "%s\t%d\t%" PRIu64, infos[i].name, o->id, v.epoch);
            else
                vl_ctl_table_add(t, "%s\t-\t%" PRIu64, infos[i].name, v.epoch);
        }
        vl_ctl_table_print(&t, stdout);
        if (g)
            printf("\ngroups: coordinator %d (epoch %" PRIu64 ")\n", g->id, v.epoch);
        else
            printf("\ngroups: no live gateway coordinates them\n");
    }
    free(infos);
    vl_kgw_view_free(&v);
    return 0;
}

int vl_ctl_cmd_kov(vl_ctl_t *ctl, int argc, char **argv)
{
    char *pos[2];
    int npos = 0;
    int rc = vl_ctl_parse_plain(ctl, argc, argv, pos, 2, &npos);
    if (rc >= 0)
        return rc;
    if (npos == 0)
        return vl_ctl_usage(ctl, "missing subcommand (list)");
    vl_ctl_cmd_name(ctl, pos[0]);
    if (npos != 1 || strcmp(pos[0], "list") != 0)
        return vl_ctl_usage(ctl, "unknown subcommand or extra argument (use: kov list)");
    char err[1024] = "";
    vl_client_opts_t opts = {.timeout_ms = ctl->timeout_ms};
    vl_client_t *client = NULL;
    if (vl_client_open(ctl->mr, &opts, &client, err, sizeof err) != 0)
        return vl_ctl_fail(ctl, "cannot open the cluster at %s: %s (set --mr or VARLOG_MR)",
                           ctl->mr, err);
    rc = s_list(ctl, client);
    vl_client_destroy(&client);
    return rc;
}
