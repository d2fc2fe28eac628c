/*  topics.c - Kafka topics and partitions as varlog topics (SPEC §12).

    Partition p of Kafka topic T is the varlog topic "T-p" (Kafka's own
    directory naming). A Kafka topic exists when "T-0" does, and has the
    partitions 0..N-1 that exist contiguously from 0: a partition past a
    gap (left by a creation that failed half-way, or made by hand) is not
    shown, so clients never see a partition list with holes. Any varlog
    topic whose name does not end in "-<number>" is not a Kafka topic.

    Kafka names are [a-zA-Z0-9._-]{1,249}; varlog names may not start with
    '.', so Kafka names that do are refused here with a message saying so.
*/
#include <stdlib.h>
#include <string.h>
#include "server_i.h"
#include "util.h"
#include "varlog.h"

#define S_MAX_NAME 249

int16_t vl_ktopic_check_n(const void *name, int32_t len, const char **why)
{
    const char *s = name;
    if (!s || len <= 0) {
        *why = "topic name is empty";
        return VL_KERR_INVALID_TOPIC;
    }
    if (len > S_MAX_NAME) {
        *why = "topic name longer than 249 characters";
        return VL_KERR_INVALID_TOPIC;
    }
    for (int32_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            *why = "topic name may only contain ASCII letters, digits, '.', '_' and '-'";
            return VL_KERR_INVALID_TOPIC;
        }
    }
    if (s[0] == '.') {
        *why = "topic names starting with '.' cannot be mapped to varlog topics";
        return VL_KERR_INVALID_TOPIC;
    }
    *why = NULL;
    return 0;
}

int16_t vl_ktopic_check(const char *name, const char **why)
{
    return vl_ktopic_check_n(name, name ? (int32_t)strnlen(name, S_MAX_NAME + 1) : -1, why);
}

void vl_ktopic_part_name(char *buf, size_t size, const char *topic, int32_t p)
{
    snprintf(buf, size, "%s-%d", topic, (int)p);
}

bool vl_ktopic_internal(const char *name)
{
    return strncmp(name, "__kov_", 6) == 0;
}

typedef struct {
    const char *name; /* into the info array */
    size_t base_len;
    long p;
} s_part_t;

static int s_part_cmp(const void *a, const void *b)
{
    const s_part_t *x = a, *y = b;
    size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
    int c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->base_len != y->base_len)
        return x->base_len < y->base_len ? -1 : 1;
    return x->p < y->p ? -1 : x->p > y->p;
}

/*  "T-p" with p a canonical decimal: true, base length and p. */
static bool s_split(const char *name, size_t *base_len, long *p)
{
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1] || (dash[1] == '0' && dash[2]))
        return false;
    long v = 0;
    for (const char *c = dash + 1; *c; c++) {
        if (*c < '0' || *c > '9' || v > VL_KOV_MAX_PARTITIONS)
            return false;
        v = v * 10 + (*c - '0');
    }
    const char *why;
    if (vl_ktopic_check_n(name, (int32_t)(dash - name), &why) != 0)
        return false;
    *base_len = (size_t)(dash - name);
    *p = v;
    return true;
}

static int s_list_infos(vl_client_t *client, vl_topic_info_t **infos_p, size_t *n_p)
{
    size_t max = 256, n = 0;
    vl_topic_info_t *infos = NULL;
    for (;;) {
        infos = vl_realloc(infos, max * sizeof *infos);
        int rc = vl_topic_list(client, infos, max, &n);
        if (rc != 0) {
            free(infos);
            return rc;
        }
        if (n <= max)
            break;
        max = n + 64; /* topics were created meanwhile: ask again with room */
    }
    *infos_p = infos;
    *n_p = n;
    return 0;
}

int vl_ktopics_list(vl_client_t *client, vl_ktopic_t **topics, size_t *n_out)
{
    vl_topic_info_t *infos;
    size_t n;
    int rc = s_list_infos(client, &infos, &n);
    if (rc != 0)
        return rc;
    s_part_t *parts = vl_calloc(n ? n : 1, sizeof *parts);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (s_split(infos[i].name, &parts[np].base_len, &parts[np].p))
            parts[np++].name = infos[i].name;
    qsort(parts, np, sizeof *parts, s_part_cmp);
    vl_ktopic_t *out = vl_calloc(np ? np : 1, sizeof *out);
    size_t nt = 0;
    for (size_t i = 0; i < np;) {
        size_t j = i;
        int32_t npart = 0;
        while (j < np && parts[j].base_len == parts[i].base_len &&
               memcmp(parts[j].name, parts[i].name, parts[i].base_len) == 0) {
            if (parts[j].p == npart)
                npart++;
            j++;
        }
        if (npart > 0) {
            out[nt].name = vl_malloc(parts[i].base_len + 1);
            memcpy(out[nt].name, parts[i].name, parts[i].base_len);
            out[nt].name[parts[i].base_len] = '\0';
            out[nt].npart = npart;
            nt++;
        }
        i = j;
    }
    free(parts);
    free(infos);
    *topics = out;
    *n_out = nt;
    return 0;
}

void vl_ktopics_free(vl_ktopic_t *topics, size_t n)
{
    for (size_t i = 0; i < n && topics; i++)
        free(topics[i].name);
    free(topics);
}

int32_t vl_ktopics_count(vl_client_t *client, const char *name, int *rc)
{
    vl_ktopic_t *topics;
    size_t n;
    *rc = vl_ktopics_list(client, &topics, &n);
    if (*rc != 0)
        return -1;
    int32_t npart = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(topics[i].name, name) == 0)
            npart = topics[i].npart;
    vl_ktopics_free(topics, n);
    return npart;
}

int16_t vl_ktopics_create(vl_client_t *client, const char *name, int32_t npart, int32_t rf,
                          uint32_t nls, char *msg, size_t msg_size)
{
    char part[300];
    int32_t p;
    int rc = 0;
    for (p = 0; p < npart; p++) {
        vl_ktopic_part_name(part, sizeof part, name, p);
        rc = vl_topic_create(client, part, nls, rf > 0 ? (uint32_t)rf : 0, NULL);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        return 0;
    snprintf(msg, msg_size, "creating varlog topic %s: %s", part, vl_client_errmsg(client));
    int16_t kerr = vl_kerr_from_vl(rc);
    if (rc == VL_EEXIST && p == 0)
        kerr = VL_KERR_TOPIC_ALREADY_EXISTS;
    else if (rc == VL_EUNAVAIL || rc == VL_EINVAL)
        kerr = VL_KERR_INVALID_REPLICATION_FACTOR;
    /* leave no half-made topic behind (a gap would hide the rest anyway) */
    while (p-- > 0) {
        vl_ktopic_part_name(part, sizeof part, name, p);
        (void)vl_topic_delete(client, part);
    }
    return kerr;
}

int16_t vl_kerr_from_vl(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case VL_ENOTOPIC:
    case VL_ENOLS:
        return VL_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    case VL_ENAME:
        return VL_KERR_INVALID_TOPIC;
    case VL_EEXIST:
        return VL_KERR_TOPIC_ALREADY_EXISTS;
    case VL_ERANGE:
    case VL_ETRIMMED:
        return VL_KERR_OFFSET_OUT_OF_RANGE;
    case VL_ETIMEDOUT:
        return VL_KERR_REQUEST_TIMED_OUT;
    case VL_ETOOBIG:
        return 10; /* MESSAGE_TOO_LARGE */
    case VL_EUNAVAIL:
    case VL_ESEALED:
    case VL_ESTALE:
    case VL_ENOTLEADER:
    case VL_EIO:
    case VL_ESTORE:
    case VL_ENOSPC:
        return VL_KERR_KAFKA_STORAGE_ERROR; /* retriable: clients try again */
    default:
        return VL_KERR_UNKNOWN_SERVER_ERROR;
    }
}
