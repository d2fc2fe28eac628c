/*  stats.c - varlogfs's metrics (lib/metrics.h): each operation of the
    file system counted, its errors counted and its latency measured.

    The operations table of fs.c is wrapped as a whole: a wrapper per
    operation counts and times the call and forwards it to the operation
    it wraps, so the file system's own code knows nothing of metrics.
    Operations a wrapper does not know are passed through as they are.
*/
#include "fs.h"
#include <stdio.h>
#include <string.h>
#include "metrics.h"
#include "util.h"

typedef enum {
    S_GETATTR, S_READDIR, S_OPEN, S_CREATE, S_READ, S_WRITE, S_FLUSH, S_FSYNC, S_RELEASE,
    S_TRUNCATE, S_UNLINK, S_UTIMENS, S_GETXATTR, S_LISTXATTR, S_STATFS, S_NOPS
} s_op_t;

static const char *const s_names[S_NOPS] = {
    "getattr", "readdir", "open",  "create", "read",     "write",     "flush",  "fsync",
    "release", "truncate", "unlink", "utimens", "getxattr", "listxattr", "statfs"};

static struct {
    struct fuse_operations base; /* what the wrappers forward to */
    vl_metric_t *calls[S_NOPS], *errors[S_NOPS], *latency[S_NOPS];
    vl_metric_t *read_bytes, *write_bytes;
} s;

/*  Counts a call of op that returned rc (negative: an errno) after
    since_us. */
static int s_done(s_op_t op, int64_t since_us, int rc)
{
    vl_metric_inc(s.calls[op]);
    if (rc < 0)
        vl_metric_inc(s.errors[op]);
    vl_metric_observe_us(s.latency[op], vl_now_us() - since_us);
    return rc;
}

#define S_WRAP(op, name, params, args)                                                             \
    static int s_##name params                                                                     \
    {                                                                                              \
        int64_t t = vl_now_us();                                                                   \
        return s_done(op, t, s.base.name args);                                                    \
    }

S_WRAP(S_GETATTR, getattr, (const char *p, struct stat *st, struct fuse_file_info *fi),
       (p, st, fi))
S_WRAP(S_READDIR, readdir,
       (const char *p, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
        enum fuse_readdir_flags flags),
       (p, buf, filler, off, fi, flags))
S_WRAP(S_OPEN, open, (const char *p, struct fuse_file_info *fi), (p, fi))
S_WRAP(S_CREATE, create, (const char *p, mode_t mode, struct fuse_file_info *fi), (p, mode, fi))
S_WRAP(S_FLUSH, flush, (const char *p, struct fuse_file_info *fi), (p, fi))
S_WRAP(S_FSYNC, fsync, (const char *p, int datasync, struct fuse_file_info *fi), (p, datasync, fi))
S_WRAP(S_RELEASE, release, (const char *p, struct fuse_file_info *fi), (p, fi))
S_WRAP(S_TRUNCATE, truncate, (const char *p, off_t size, struct fuse_file_info *fi), (p, size, fi))
S_WRAP(S_UNLINK, unlink, (const char *p), (p))
S_WRAP(S_UTIMENS, utimens, (const char *p, const struct timespec tv[2], struct fuse_file_info *fi),
       (p, tv, fi))
S_WRAP(S_GETXATTR, getxattr, (const char *p, const char *n, char *v, size_t size), (p, n, v, size))
S_WRAP(S_LISTXATTR, listxattr, (const char *p, char *list, size_t size), (p, list, size))
S_WRAP(S_STATFS, statfs, (const char *p, struct statvfs *sv), (p, sv))

static int s_read(const char *p, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    int64_t t = vl_now_us();
    int rc = s.base.read(p, buf, size, off, fi);
    if (rc > 0)
        vl_metric_add(s.read_bytes, (uint64_t)rc);
    return s_done(S_READ, t, rc);
}

static int s_write(const char *p, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    int64_t t = vl_now_us();
    int rc = s.base.write(p, buf, size, off, fi);
    if (rc > 0)
        vl_metric_add(s.write_bytes, (uint64_t)rc);
    return s_done(S_WRITE, t, rc);
}

const struct fuse_operations *vl_fs_stats_wrap(const struct fuse_operations *base)
{
    static struct fuse_operations wrapped;
    vl_metrics_t *m = vl_metrics_default();
    s.base = *base;
    for (int i = 0; i < S_NOPS; i++) {
        char l[48];
        snprintf(l, sizeof l, "op=\"%s\"", s_names[i]);
        s.calls[i] = vl_metrics_counter(m, "varlog_fs_operations_total",
                                        "file system operations, by operation", l);
        s.errors[i] = vl_metrics_counter(m, "varlog_fs_errors_total",
                                         "operations that returned an error, by operation", l);
        s.latency[i] = vl_metrics_histogram(
            m, "varlog_fs_operation_seconds",
            "duration of an operation in the daemon (release and flush wait for the commit of "
            "what the descriptor wrote)",
            l);
    }
    s.read_bytes = vl_metrics_counter(m, "varlog_fs_read_bytes_total", "bytes read", NULL);
    s.write_bytes = vl_metrics_counter(m, "varlog_fs_write_bytes_total",
                                       "bytes written (appended once committed)", NULL);
    wrapped = *base;
#define S_SET(name)                                                                                \
    if (base->name)                                                                                \
        wrapped.name = s_##name;
    S_SET(getattr) S_SET(readdir) S_SET(open) S_SET(create) S_SET(read) S_SET(write)
    S_SET(flush) S_SET(fsync) S_SET(release) S_SET(truncate) S_SET(unlink) S_SET(utimens)
    S_SET(getxattr) S_SET(listxattr) S_SET(statfs)
#undef S_SET
    return &wrapped;
}
