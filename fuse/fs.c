/*  fs.c - varlogfs: each topic is an append-only file.

    Layout of the mount:
        /TOPIC          a regular file: the committed bytes of the topic from
                        its trim point, in global (GLSN) order
        /.follow/TOPIC  the same bytes, but a read at the end blocks for new
                        commits instead of returning EOF

    Offsets. Each open file fixes `base`, the topic byte offset that its file
    offset 0 stands for: the trim point at open time. A read at file offset
    `off` reads topic offset base+off, so positions stay valid across later
    trims. When those bytes have been trimmed, a read at offset 0 moves base
    to the current trim point (a reader rewinding after a truncation), any
    other read fails with EIO. stat without an open file shows the live size
    (end offset - trim point); getattr with a file handle (lseek SEEK_END)
    shows that file's own size (end offset - its base).

    The operations are spread by concern: meta.c answers getattr, readdir,
    the extended attributes and statfs from a metadata cache; read.c reads;
    write.c opens, writes and closes files; this file holds the operations
    table, paths, truncate, unlink and the file system's set-up and
    tear-down.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs_i.h"
#include "log.h"
#include "util.h"

/* ---- paths ----------------------------------------------------------------- */

path_kind_t vl_fs_path(const char *path, char *topic, bool *follow)
{
    *follow = false;
    topic[0] = '\0';
    if (strcmp(path, "/") == 0)
        return P_ROOT;
    if (strcmp(path, "/.follow") == 0)
        return P_FOLLOW_DIR;
    const char *name = path + 1;
    if (strncmp(path, "/.follow/", 9) == 0) {
        name = path + 9;
        *follow = true;
    }
    if (strchr(name, '/') || strlen(name) > 255)
        return P_BAD;
    strcpy(topic, name);
    return P_TOPIC;
}

/* ---- truncate, unlink ------------------------------------------------------ */

static int s_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC || follow)
        return -EPERM;
    if (size < 0)
        return -EINVAL;
    vl_topic_info_t t;
    int rc = vl_fs_meta_topic(fs, topic, true, &t);
    if (rc != 0)
        return -s_errno(rc);
    uint64_t live = t.end_offset - t.trim_offset;
    if ((uint64_t)size > live) {
        vl_log(LOG_NOTICE,
               "truncate %s to %lld: larger than its %llu live bytes; a log only "
               "shrinks from the front",
               topic, (long long)size, (unsigned long long)live);
        return -EINVAL;
    }
    if ((uint64_t)size == live)
        return 0;
    uint64_t until; /* trim GLSNs 1..until */
    if (size == 0) {
        until = t.hwm;
    } else {
        /* keep the newest whole entries that fit in size bytes */
        uint64_t cut = t.end_offset - (uint64_t)size, glsn, eoff;
        rc = vl_lookup_offset(fs->client, topic, cut, &glsn, &eoff);
        if (rc != 0)
            goto err;
        until = eoff == cut ? glsn - 1 : glsn;
    }
    rc = vl_trim(fs->client, topic, until);
    if (rc != 0)
        goto err;
    vl_log(LOG_INFO, "trimmed %s through GLSN %llu (truncate to %lld)", topic,
           (unsigned long long)until, (long long)size);
    pthread_mutex_lock(&fs->mu);
    vl_fs_meta_refresh_locked(fs, true);
    pthread_mutex_unlock(&fs->mu);
    return 0;
err:
    vl_log(LOG_WARNING, "truncate %s: %s", topic, vl_client_errmsg(fs->client));
    return -s_errno(rc);
}

static int s_unlink(const char *path)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC || follow)
        return -EPERM;
    /* writers of the deleted topic keep their reference; the appender
       goes with the last of them */
    fs_appender_t *gone = NULL;
    pthread_mutex_lock(&fs->mu);
    for (fs_appender_t **pp = &fs->appenders; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->topic, topic) == 0) {
            gone = *pp;
            *pp = gone->next;
            gone->unlinked = true;
            gone->refs++;
            break;
        }
    pthread_mutex_unlock(&fs->mu);
    vl_fs_appender_put(fs, gone);
    int rc = vl_topic_delete(fs->client, topic);
    if (rc != 0) {
        vl_log(LOG_WARNING, "rm %s: %s", topic, vl_client_errmsg(fs->client));
        return -s_errno(rc);
    }
    pthread_mutex_lock(&fs->mu);
    vl_fs_meta_refresh_locked(fs, true);
    pthread_mutex_unlock(&fs->mu);
    vl_log(LOG_INFO, "deleted topic %s", topic);
    return 0;
}

/*  touch(1) sets times after creating: accepted and ignored (a topic's
    times are those of the mount). */
static int s_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC)
        return 0;
    vl_topic_info_t t;
    int rc = vl_fs_meta_topic(s_fs(), topic, false, &t);
    return rc ? -s_errno(rc) : 0;
}

/* ---- init ------------------------------------------------------------------ */

static void *s_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* Sizes change under the kernel: no attribute caching (every stat asks
       the daemon), and direct I/O so the page cache never serves stale
       bytes (unless -o pagecache, below). Names are cached for a second:
       a topic's name changes only when it is created or deleted, and
       `echo >> t` then opens a known name without a LOOKUP (a stat of it
       still asks for the size). A topic deleted elsewhere makes open fail
       with ESTALE, on which the kernel looks the name up again
       (vl_fs_open); no negative caching, so a topic created elsewhere
       shows at once. */
    vl_fs_t *fs = fuse_get_context()->private_data;
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 1.0;
    cfg->negative_timeout = 0;
    /* -o pagecache: each open chooses (write.c); the kernel checks size and
       mtime on every cached read (auto_inval_data) and drops its pages when
       they changed (meta.c) */
    cfg->direct_io = !fs->opts.page_cache;
    if (fs->opts.page_cache && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    /* and its read-ahead comes in order, one request at a time: several
       at once reach an open file's reader out of order, and each jump
       costs a lookup and a new subscription (read.c) */
    if (fs->opts.page_cache)
        conn->want &= ~FUSE_CAP_ASYNC_READ;
    cfg->hard_remove = 1;
    cfg->use_ino = 1;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    return fs;
}

static const struct fuse_operations s_ops = {
    .init = s_init,
    .getattr = vl_fs_getattr,
    .readdir = vl_fs_readdir,
    .open = vl_fs_open,
    .create = vl_fs_create,
    .read = vl_fs_read,
    .write = vl_fs_write,
    .flush = vl_fs_flush,
    .fsync = vl_fs_fsync,
    .release = vl_fs_release,
    .truncate = s_truncate,
    .unlink = s_unlink,
    .utimens = s_utimens,
    .getxattr = vl_fs_getxattr,
    .listxattr = vl_fs_listxattr,
    .statfs = vl_fs_statfs,
};

const struct fuse_operations *vl_fs_ops(void)
{
    return &s_ops;
}

vl_fs_t *vl_fs_new(const vl_fs_opts_t *opts)
{
    vl_fs_t *fs = vl_calloc(1, sizeof *fs);
    fs->opts = *opts;
    fs->mr = vl_strdup(opts->mr);
    fs->opts.mr = fs->mr;
    fs->mounted_at = time(NULL);
    pthread_mutex_init(&fs->mu, NULL);
    return fs;
}

int vl_fs_connect(vl_fs_t *fs, char *errbuf, size_t errbuf_size)
{
    vl_client_opts_t copts = {.timeout_ms = fs->opts.timeout_ms};
    return vl_client_open(fs->mr, &copts, &fs->client, errbuf, errbuf_size);
}

void vl_fs_destroy(vl_fs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_fs_t *fs = *self_p;
    /* Files still open at unmount get no release. Their appenders go first
       (destroying one completes its callbacks, which touch the files),
       then the files. */
    for (fs_file_t *f = fs->files; f; f = f->next) {
        vl_fs_appender_put(fs, f->fa);
        f->fa = NULL;
    }
    while (fs->appenders) {
        fs_appender_t *a = fs->appenders;
        fs->appenders = a->next;
        vl_appender_destroy(&a->app);
        free(a);
    }
    while (fs->files) {
        fs_file_t *f = fs->files;
        fs->files = f->next;
        vl_fs_file_free(f);
    }
    vl_client_destroy(&fs->client);
    free(fs->meta.topics);
    free(fs->inval);
    free(fs->pcr);
    free(fs->mr);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
    *self_p = NULL;
}
