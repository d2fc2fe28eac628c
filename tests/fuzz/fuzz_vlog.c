/*  fuzz_vlog.c - libFuzzer target of the entry log's record reader
    (sn/vlog.c): the input becomes the first segment of a log on disk,
    which vl_vlog_open then scans and replays as after a crash. Whatever the
    bytes, the open must fail cleanly (VL_ESTORE, a message) or succeed,
    never read past the file nor hand apply a record its checksum does not
    cover. The index's hooks are a twin that holds no position (replay
    from the start) and accepts every record.
*/
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "vlog.h"

static char s_dir[128];

static int s_apply(void *arg, const uint8_t *rep, uint32_t replen)
{
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; i < replen; i++)
        sum ^= rep[i]; /* ASan checks every byte handed over */
    (void)arg;
    return 0;
}
static int s_flush(void *arg, bool wait, const char *what)
{
    return 0;
}
static int s_position(void *arg, uint8_t *pos, size_t *len_p, bool *found_p)
{
    *found_p = false;
    return 0;
}
static int s_set_position(void *arg, const uint8_t *pos)
{
    return 0;
}
static int s_lost(void *arg, uint32_t seg, uint64_t off, bool *lost_p)
{
    *lost_p = false;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_dir[0]) {
        vl_log_init("fuzz_vlog", LOG_CRIT); /* every torn record is logged, as it should be */
        const char *tmp = getenv("TMPDIR"); /* run.sh's, removed after the run */
        snprintf(s_dir, sizeof s_dir, "%.40s/fuzz_vlog.%d", tmp ? tmp : "/tmp", (int)getpid());
        mkdir(s_dir, 0700);
    }
    char logdir[160], seg[192];
    snprintf(logdir, sizeof logdir, "%s/vlog", s_dir);
    mkdir(logdir, 0700);
    /* the first segment, whatever id a new log gives it, and nothing else */
    for (int id = 0; id < 2; id++) {
        snprintf(seg, sizeof seg, "%s/%010u.vlog", logdir, id);
        unlink(seg);
    }
    snprintf(seg, sizeof seg, "%s/%010u.vlog", logdir, (unsigned)(size ? data[0] % 2 : 0));
    int fd = open(seg, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0)
        return 0;
    if (size > 1 && write(fd, data + 1, size - 1) < 0) {
        close(fd);
        return 0;
    }
    close(fd);
    vl_vlog_hooks_t hooks = {.apply = s_apply, .flush = s_flush, .position = s_position,
                             .set_position = s_set_position, .lost = s_lost};
    vl_vlog_t *log = vl_vlog_new(s_dir, &hooks);
    vl_vlog_set_map_step(log, 1u << 16);
    vl_vlog_open(log);
    vl_vlog_destroy(&log);
    return 0;
}
