/*  chaoswr.c - a writer and a reader through libvarlog, for the chaos and
    partition tests (tests/integration/chaos.sh, partition.sh).

    Usage: vl_chaoswr write MR TOPIC PREFIX STOPFILE [BATCH]
           vl_chaoswr read MR TOPIC
    write: appends PREFIX-1, PREFIX-2, ... with vl_append (synchronous, ls
    0: round robin over the running log streams), BATCH entries a call
    (default 4), until STOPFILE exists. Prints "TIME<TAB>GLSN<TAB>ENTRY" on
    stdout for every acknowledged entry, in the order written (TIME in
    seconds, monotonic clock in ms / 1000), and one line on stderr for every
    failed call. After a failure other than VL_ETIMEDOUT the entries the
    call did not commit (glsns[i] 0: "not in the log", as vl_append(3)
    documents) are sent again, with the same bytes, until they are
    committed: a retry that put one in the log twice shows as a duplicate.
    After VL_ETIMEDOUT they may still be committed later: they are named on
    stderr ("unresolved ENTRY") and not sent again, unless the environment
    has CHAOS_RETRY_TIMEOUT=1 (for idempotent retries).
    read: prints "GLSN<TAB>ENTRY" for every entry of TOPIC up to its high
    watermark, a newline in ENTRY as \n and a backslash as \\ (a third way
    to read the log, next to varlogctl subscribe and the mount).
    The writer connects again and again (a line on stderr each time) until
    it can or STOPFILE exists. Exit 0, or 1 with a line on stderr.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "varlog.h"

#define CW_MAX_BATCH 64

static int s_read(vl_client_t *client, const char *topic)
{
    vl_subscriber_t *sub = NULL;
    int rc = vl_subscribe(client, topic, 0, 0, &sub);
    if (rc != 0) {
        fprintf(stderr, "vl_chaoswr: subscribe %s: %s\n", topic, vl_client_errmsg(client));
        return 1;
    }
    vl_entry_t e;
    while ((rc = vl_subscriber_next(sub, &e, 30000)) == 0) {
        printf("%llu\t", (unsigned long long)e.glsn);
        for (size_t i = 0; i < e.size; i++) {
            char c = ((const char *)e.data)[i];
            if (c == '\n')
                fputs("\\n", stdout);
            else if (c == '\\')
                fputs("\\\\", stdout);
            else
                putchar(c);
        }
        putchar('\n');
    }
    vl_subscriber_destroy(&sub);
    if (rc != VL_EEOF) {
        fprintf(stderr, "vl_chaoswr: reading %s: %s (%s)\n", topic, vl_err_name(rc),
                vl_client_errmsg(client));
        return 1;
    }
    return 0;
}

/*  Appends names[0..n) until each is committed, or once after
    VL_ETIMEDOUT (unless retry_timeout); prints the acknowledgements. */
static void s_append(vl_client_t *client, const char *topic, char names[][64], size_t n,
                     bool retry_timeout, const char *stopfile)
{
    const void *data[CW_MAX_BATCH];
    size_t len[CW_MAX_BATCH];
    uint64_t glsns[CW_MAX_BATCH];
    size_t idx[CW_MAX_BATCH];
    size_t left = n;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    while (left > 0) {
        for (size_t i = 0; i < left; i++) {
            data[i] = names[idx[i]];
            len[i] = strlen(names[idx[i]]);
            glsns[i] = 0;
        }
        int rc = vl_append(client, topic, 0, data, len, left, glsns);
        double now = (double)zclock_mono() / 1000.0;
        size_t keep = 0;
        for (size_t i = 0; i < left; i++) {
            if (glsns[i] != 0)
                printf("%.3f\t%llu\t%s\n", now, (unsigned long long)glsns[i], names[idx[i]]);
            else
                idx[keep++] = idx[i];
        }
        fflush(stdout);
        if (rc == 0 && keep == 0)
            return;
        fprintf(stderr, "vl_chaoswr: %.3f append %s..%s: %s: %s (%zu of %zu committed)\n", now,
                names[idx[0]], names[idx[keep ? keep - 1 : 0]], vl_err_name(rc),
                vl_client_errmsg(client), left - keep, left);
        left = keep;
        if (rc == VL_ETIMEDOUT && !retry_timeout) {
            for (size_t i = 0; i < left; i++)
                fprintf(stderr, "vl_chaoswr: unresolved %s\n", names[idx[i]]);
            return;
        }
        if (access(stopfile, F_OK) == 0 && rc == VL_ETIMEDOUT) {
            for (size_t i = 0; i < left; i++)
                fprintf(stderr, "vl_chaoswr: unresolved %s\n", names[idx[i]]);
            return;
        }
        zclock_sleep(100);
    }
}

static int s_write(vl_client_t *client, const char *topic, const char *prefix,
                   const char *stopfile, size_t batch)
{
    static char names[CW_MAX_BATCH][64];
    const char *rt = getenv("CHAOS_RETRY_TIMEOUT");
    bool retry_timeout = rt && strcmp(rt, "1") == 0;
    uint64_t next = 1;
    while (access(stopfile, F_OK) != 0) {
        for (size_t i = 0; i < batch; i++)
            snprintf(names[i], sizeof names[i], "%s-%llu", prefix, (unsigned long long)next++);
        s_append(client, topic, names, batch, retry_timeout, stopfile);
        zclock_sleep(10);
    }
    return 0;
}

int main(int argc, char **argv)
{
    bool write = argc >= 6 && strcmp(argv[1], "write") == 0;
    bool read = argc == 4 && strcmp(argv[1], "read") == 0;
    if (!write && !read) {
        fprintf(stderr, "usage: vl_chaoswr write MR TOPIC PREFIX STOPFILE [BATCH]\n"
                        "       vl_chaoswr read MR TOPIC\n");
        return 2;
    }
    size_t batch = argc > 6 ? strtoul(argv[6], NULL, 10) : 4;
    if (batch < 1 || batch > CW_MAX_BATCH) {
        fprintf(stderr, "vl_chaoswr: BATCH must be 1..%d\n", CW_MAX_BATCH);
        return 2;
    }
    char err[512] = "";
    vl_client_t *client = NULL;
    vl_client_opts_t opts = {.timeout_ms = 3000};
    /* the writer tries again (an MR election may be under way) until its
       stop file exists; the reader once */
    while (vl_client_open(argv[2], &opts, &client, err, sizeof err) != 0) {
        fprintf(stderr, "vl_chaoswr: cannot connect to %s: %s\n", argv[2], err);
        if (!write || access(argv[5], F_OK) == 0)
            return 1;
        zclock_sleep(500);
    }
    int rc = write ? s_write(client, argv[3], argv[4], argv[5], batch) : s_read(client, argv[3]);
    vl_client_destroy(&client);
    return rc;
}
