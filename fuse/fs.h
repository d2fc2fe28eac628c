/*  fs.h - varlogfs: topics of a varlog cluster as append-only files.

    vl_fs_ops() gives the libfuse high-level operations; the private data
    passed to fuse_main is a vl_fs_t made by vl_fs_new. See fs.c for the
    semantics (the layout of the mount, file offsets across trims) and the
    design.
*/
#ifndef VL_FS_H
#define VL_FS_H
#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <stdbool.h>

typedef struct vl_fs vl_fs_t;

typedef struct {
    const char *mr;      /* MR endpoints */
    bool record_write;   /* -o record=write: each write(2) is one entry */
    int timeout_ms;      /* -o timeout=SECONDS: bound on every cluster operation */
    bool page_cache;     /* -o pagecache: plain reads through the kernel's page
                            cache (read.c: what it changes after a trim) */
} vl_fs_opts_t;

/*  Makes the file system's state (not yet connected). Caller owns the
    result. */
vl_fs_t *vl_fs_new(const vl_fs_opts_t *opts);

/*  Connects to the cluster: call after the process has daemonized (ZeroMQ's
    threads do not survive fork). Returns 0 or a VL_E* code with errbuf set. */
int vl_fs_connect(vl_fs_t *fs, char *errbuf, size_t errbuf_size);

/*  Stops appenders (flushing what is queued) and disconnects. NULL-safe. */
void vl_fs_destroy(vl_fs_t **self_p);

/*  The FUSE operations of varlogfs. */
const struct fuse_operations *vl_fs_ops(void);

/*  ops wrapped so that every operation is counted and timed and its errors
    counted in the metrics registry (stats.c). The table returned is
    static: call it once. */
const struct fuse_operations *vl_fs_stats_wrap(const struct fuse_operations *ops);

#endif
