/*  mrconn.c - which metadata repository replica to talk to.

    The list is checked once, when parsed, so that a typo in --mr is an
    error at start naming the endpoint, not a replica that silently never
    answers. Endpoints are checked by their shape (tcp://HOST:PORT,
    ipc://PATH, inproc://NAME) rather than by connecting a socket, which
    would open connections to every replica just to look at the strings.

    A hint may name an endpoint the list does not: a replica added to the
    group after the user was configured. It becomes current without
    joining the list; when it falls silent the rotation goes on from the
    list endpoint that gave it, so the configured replicas stay the way
    back into the group.

    Endpoints whose connection dropped are remembered with the time, a
    few of them (more than a minority of a group rarely dies at once):
    a hint naming one is refused and the rotation passes it by, so that
    the replicas still naming a dead leader during the election do not
    send the user back to it.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mrconn.h"
#include "util.h"
#include "varlog_err.h"
#include "wire.h"

struct vl_mrconn {
    char eps[VL_MRCONN_MAX][VL_WIRE_MAX_ADDR + 1];
    size_t n;
    size_t pos; /* the list endpoint last taken */
    char current[VL_WIRE_MAX_ADDR + 1];
    char list[VL_MRCONN_MAX * (VL_WIRE_MAX_ADDR + 1)];
    uint64_t generation;
    struct {
        char ep[VL_WIRE_MAX_ADDR + 1];
        int64_t at_ms; /* zclock_mono when it dropped; 0: unused */
    } gone[4];
    size_t gone_next; /* the slot the next one takes */
};

bool vl_mrconn_valid(const char *ep)
{
    size_t len = strlen(ep);
    if (len == 0 || len > VL_WIRE_MAX_ADDR || strpbrk(ep, " \t,"))
        return false;
    const char *sep = strstr(ep, "://");
    if (!sep || !sep[3])
        return false;
    const char *rest = sep + 3;
    size_t tlen = (size_t)(sep - ep);
    if (tlen == 3 && strncmp(ep, "ipc", 3) == 0)
        return true;
    if (tlen == 6 && strncmp(ep, "inproc", 6) == 0)
        return true;
    if (tlen != 3 || strncmp(ep, "tcp", 3) != 0)
        return false;
    const char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || !colon[1] || strlen(colon + 1) > 5)
        return false;
    unsigned port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (unsigned)(*p - '0');
    }
    return port >= 1 && port <= 65535;
}

/*  The index of ep in the list, or -1. */
static int s_find(const vl_mrconn_t *self, const char *ep)
{
    for (size_t i = 0; i < self->n; i++)
        if (streq(self->eps[i], ep))
            return (int)i;
    return -1;
}

static int s_fail(char *errbuf, size_t errbuf_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_fail(char *errbuf, size_t errbuf_size, const char *fmt, ...)
{
    if (errbuf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errbuf_size, fmt, ap);
        va_end(ap);
    }
    return VL_EINVAL;
}

/*  Rebuilds the list's text from its endpoints. */
static void s_list_text(vl_mrconn_t *self)
{
    size_t off = 0;
    self->list[0] = '\0';
    for (size_t i = 0; i < self->n; i++)
        off += (size_t)snprintf(self->list + off, sizeof self->list - off, "%s%s", i ? "," : "",
                                self->eps[i]);
}

int vl_mrconn_new(const char *endpoints, vl_mrconn_t **self_p, char *errbuf, size_t errbuf_size)
{
    *self_p = NULL;
    vl_mrconn_t *self = vl_calloc(1, sizeof *self);
    char *copy = vl_strdup(endpoints ? endpoints : "");
    char *save = NULL;
    int rc = 0;
    for (char *ep = strtok_r(copy, ",", &save); ep && rc == 0; ep = strtok_r(NULL, ",", &save)) {
        while (*ep == ' ' || *ep == '\t')
            ep++;
        size_t len = strlen(ep);
        while (len > 0 && (ep[len - 1] == ' ' || ep[len - 1] == '\t'))
            ep[--len] = '\0';
        if (len == 0)
            continue;
        if (!vl_mrconn_valid(ep))
            rc = s_fail(errbuf, errbuf_size,
                        "'%s' is not a valid ZeroMQ endpoint (expected "
                        "tcp://HOST:PORT[,tcp://HOST:PORT...])",
                        ep);
        else if (s_find(self, ep) >= 0)
            continue;
        else if (self->n == VL_MRCONN_MAX)
            rc = s_fail(errbuf, errbuf_size,
                        "more than %d metadata repository endpoints; give each replica once",
                        VL_MRCONN_MAX);
        else
            snprintf(self->eps[self->n++], sizeof self->eps[0], "%s", ep);
    }
    free(copy);
    if (rc == 0 && self->n == 0)
        rc = s_fail(errbuf, errbuf_size,
                    "no metadata repository endpoint given (expected "
                    "tcp://HOST:PORT[,tcp://HOST:PORT...])");
    if (rc != 0) {
        free(self);
        return rc;
    }
    s_list_text(self);
    snprintf(self->current, sizeof self->current, "%s", self->eps[0]);
    *self_p = self;
    return 0;
}

void vl_mrconn_destroy(vl_mrconn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *vl_mrconn_current(const vl_mrconn_t *self)
{
    return self->current;
}

const char *vl_mrconn_list(const vl_mrconn_t *self)
{
    return self->list;
}

size_t vl_mrconn_size(const vl_mrconn_t *self)
{
    return self->n;
}

uint64_t vl_mrconn_generation(const vl_mrconn_t *self)
{
    return self->generation;
}

bool vl_mrconn_can_rotate(const vl_mrconn_t *self)
{
    return self->n > 1 || !streq(self->current, self->eps[self->pos]);
}

bool vl_mrconn_hint(vl_mrconn_t *self, const char *leader)
{
    if (!leader || !vl_mrconn_valid(leader) || streq(leader, self->current) ||
        vl_mrconn_is_gone(self, leader))
        return false;
    int i = s_find(self, leader);
    if (i >= 0)
        self->pos = (size_t)i;
    snprintf(self->current, sizeof self->current, "%s", leader);
    self->generation++;
    return true;
}

bool vl_mrconn_next(vl_mrconn_t *self)
{
    size_t next = (self->pos + 1) % self->n;
    /* the first one after pos that is neither gone nor current, else the
       first one after pos */
    for (size_t k = 1; k < self->n; k++) {
        size_t i = (self->pos + k) % self->n;
        if (!vl_mrconn_is_gone(self, self->eps[i]) && !streq(self->current, self->eps[i])) {
            next = i;
            break;
        }
    }
    if (streq(self->current, self->eps[next]))
        return false;
    self->pos = next;
    snprintf(self->current, sizeof self->current, "%s", self->eps[next]);
    self->generation++;
    return true;
}

void vl_mrconn_gone(vl_mrconn_t *self, const char *ep)
{
    const size_t slots = sizeof self->gone / sizeof self->gone[0];
    size_t slot = 0;
    while (slot < slots && !streq(self->gone[slot].ep, ep))
        slot++;
    if (slot == slots) { /* not noted yet: the oldest slot */
        slot = self->gone_next;
        self->gone_next = (slot + 1) % slots;
    }
    snprintf(self->gone[slot].ep, sizeof self->gone[slot].ep, "%s", ep);
    self->gone[slot].at_ms = zclock_mono();
}

bool vl_mrconn_is_gone(const vl_mrconn_t *self, const char *ep)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < sizeof self->gone / sizeof self->gone[0]; i++)
        if (self->gone[i].at_ms && streq(self->gone[i].ep, ep) &&
            now - self->gone[i].at_ms < VL_MRCONN_GONE_MS)
            return true;
    return false;
}

bool vl_mrconn_others_gone(const vl_mrconn_t *self)
{
    for (size_t i = 0; i < self->n; i++)
        if (!streq(self->eps[i], self->current) && !vl_mrconn_is_gone(self, self->eps[i]))
            return false;
    return true;
}

size_t vl_mrconn_learn(vl_mrconn_t *self, const vl_meta_member_t *members, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < n && self->n < VL_MRCONN_MAX; i++) {
        const char *ep = members[i].endpoint;
        if (!vl_mrconn_valid(ep) || s_find(self, ep) >= 0)
            continue;
        snprintf(self->eps[self->n++], sizeof self->eps[0], "%s", ep);
        added++;
    }
    if (added)
        s_list_text(self);
    return added;
}

bool vl_mrconn_resendable(uint16_t type)
{
    switch (type) {
    case VL_MSG_GET_META: /* reads */
    case VL_MSG_STATUS:
    case VL_MSG_PING:
    case VL_MSG_SN_STATUS:
    case VL_MSG_TRIM:   /* a trim point at or below the current one: no change, success */
    case VL_MSG_SEAL:   /* sealing a sealed log stream: no change, the same answer */
    case VL_MSG_UNSEAL: /* unsealing a running one: no change, success */
    case VL_MSG_MR_STATUS:
        return true;
    default:
        return false;
    }
}
