/*  fs.c - varlogfs: each topic is an append-only file (SPEC §7).

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

    Reads. An open file keeps one subscriber (following new commits) and the
    unread rest of its current entry, so sequential reads stream without a
    lookup per read (the read-ahead). A read elsewhere looks the offset up
    and subscribes again from the entry holding it.

    Writes. Only through O_APPEND (EPERM otherwise; O_TRUNC is refused with
    EPERM at open). Lines (or whole writes with -o record=write) become
    entries and go to one asynchronous, batching appender per topic; write
    returns at once. flush (every close) and fsync wait until everything
    written through the descriptor is committed and return the first error.

    Sizes come from a metadata cache refreshed at most every 10 ms, not from
    a round trip per stat.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fs.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "varlog.h"
#include "wire.h"

#define FS_META_MAX_AGE_US 10000
#define FS_FOLLOW_POLL_MS 200
/*  APPEND batches of the mount's appenders. A FUSE write brings up to
    1 MiB, some 10,000 lines: batches four times the appender's default
    cost a fourth of the APPENDs, writer jobs and commits per byte, and a
    sticky appender (one log stream, so a pipeline of 8 batches) keeps
    enough in flight to cover the time to commit at a few hundred MB/s. */
#define FS_BATCH_ENTRIES 4096
#define FS_BATCH_BYTES (1u << 20)

typedef struct {
    vl_topic_info_t *topics;
    size_t n;
    int64_t fetched_us;
    int rc; /* of the last refresh */
} fs_meta_t;

/*  One appender per topic, shared by the files that write to it. Files hold
    a reference; rm unlinks it from the list and the last reference destroys
    it, outside fs->mu (destroying waits for callbacks). */
typedef struct fs_appender {
    char topic[256];
    vl_appender_t *app;
    int refs;
    bool unlinked;
    struct fs_appender *next;
} fs_appender_t;

struct vl_fs {
    vl_fs_opts_t opts;
    char *mr;
    vl_client_t *client;
    pthread_mutex_t mu; /* meta, appenders */
    fs_meta_t meta;
    fs_appender_t *appenders;
    struct fs_file *files; /* open files, so that unmounting frees them */
    time_t mounted_at;
};

/*  An open file. Three locks so that no side waits for another:
    wmu serialises writers (line buffer, appender), cmu guards the
    completion counters the appender's callback updates, rmu the read side
    (a .follow read may block in it for long). base is read without rmu by
    getattr, atomically. */
typedef struct fs_file {
    struct fs_file *prev, *next; /* in vl_fs.files, under fs->mu */
    char topic[256];
    bool follow;
    int flags;
    /* write side */
    pthread_mutex_t wmu;
    fs_appender_t *fa;
    char *line;
    size_t line_len, line_cap;
    const void **wdata; /* the lines of one write, for vl_appender_append_many */
    size_t *wlen;
    void **wargs;
    size_t wn, wcap;
    pthread_mutex_t cmu;
    pthread_cond_t cv;
    uint64_t submitted, completed;
    int first_err;
    /* read side */
    pthread_mutex_t rmu;
    uint64_t base; /* atomic */
    vl_subscriber_t *sub;
    uint64_t sub_pos;    /* topic offset of the first unread byte of rest[] */
    const uint8_t *rest; /* the current entry, in sub's memory (valid until
                            its next call, so not copied) */
    size_t rest_len, rest_at;
} fs_file_t;

static vl_fs_t *s_fs(void)
{
    return fuse_get_context()->private_data;
}

static int s_errno(int rc)
{
    int e = vl_err_errno(rc);
    return e ? e : EIO;
}

/* ---- metadata cache -------------------------------------------------- */

static int s_meta_refresh_locked(vl_fs_t *fs, bool force)
{
    int64_t now = vl_now_us();
    if (!force && fs->meta.topics && now - fs->meta.fetched_us < FS_META_MAX_AGE_US)
        return fs->meta.rc;
    size_t cap = fs->meta.n + 64, n = 0;
    vl_topic_info_t *infos = vl_malloc(cap * sizeof *infos);
    int rc = vl_topic_list(fs->client, infos, cap, &n);
    while (rc == 0 && n > cap) {
        cap = n + 64;
        infos = vl_realloc(infos, cap * sizeof *infos);
        rc = vl_topic_list(fs->client, infos, cap, &n);
    }
    if (rc != 0) {
        free(infos);
        vl_log(LOG_WARNING, "cannot refresh metadata from %s: %s", fs->mr,
               vl_client_errmsg(fs->client));
        fs->meta.rc = rc;
        return rc;
    }
    free(fs->meta.topics);
    fs->meta.topics = infos;
    fs->meta.n = n;
    fs->meta.fetched_us = now;
    fs->meta.rc = 0;
    return 0;
}

/*  Copies the cached info of topic name. Returns 0, VL_ENOTOPIC or the
    error of the refresh. */
static int s_topic(vl_fs_t *fs, const char *name, bool force, vl_topic_info_t *out)
{
    pthread_mutex_lock(&fs->mu);
    int rc = s_meta_refresh_locked(fs, force);
    if (rc == 0 || fs->meta.topics) {
        rc = VL_ENOTOPIC;
        for (size_t i = 0; i < fs->meta.n; i++)
            if (strcmp(fs->meta.topics[i].name, name) == 0) {
                *out = fs->meta.topics[i];
                rc = 0;
                break;
            }
    }
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

/* ---- paths ----------------------------------------------------------------- */

typedef enum { P_ROOT, P_FOLLOW_DIR, P_TOPIC, P_BAD } path_kind_t;

/*  Splits a path into its kind and topic name. */
static path_kind_t s_path(const char *path, char *topic, bool *follow)
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

/* ---- attributes ------------------------------------------------------------ */

static void s_fill_topic_stat(vl_fs_t *fs, const vl_topic_info_t *t, uint64_t base, struct stat *st)
{
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    uint64_t from = base > t->end_offset ? t->end_offset : base;
    st->st_size = (off_t)(t->end_offset - from);
    st->st_blksize = 1 << 20;
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_ino = t->topic_id;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = fs->mounted_at;
}

static int s_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    memset(st, 0, sizeof *st);
    switch (s_path(path, topic, &follow)) {
    case P_ROOT:
    case P_FOLLOW_DIR:
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_uid = getuid();
        st->st_gid = getgid();
        st->st_mtime = st->st_ctime = st->st_atime = fs->mounted_at;
        return 0;
    case P_BAD:
        return -ENOENT;
    case P_TOPIC:
        break;
    }
    vl_topic_info_t t;
    int rc = s_topic(fs, topic, false, &t);
    if (rc != 0)
        return -s_errno(rc);
    uint64_t base = t.trim_offset;
    if (fi && fi->fh) {
        fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
        base = __atomic_load_n(&f->base, __ATOMIC_RELAXED);
    }
    s_fill_topic_stat(fs, &t, base, st);
    return 0;
}

static int s_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    path_kind_t kind = s_path(path, topic, &follow);
    if (kind != P_ROOT && kind != P_FOLLOW_DIR)
        return -ENOTDIR;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    if (kind == P_ROOT)
        filler(buf, ".follow", NULL, 0, 0);
    pthread_mutex_lock(&fs->mu);
    int rc = s_meta_refresh_locked(fs, true);
    if (rc == 0)
        for (size_t i = 0; i < fs->meta.n; i++) {
            struct stat st;
            memset(&st, 0, sizeof st);
            s_fill_topic_stat(fs, &fs->meta.topics[i], fs->meta.topics[i].trim_offset, &st);
            filler(buf, fs->meta.topics[i].name, &st, 0, 0);
        }
    pthread_mutex_unlock(&fs->mu);
    return rc ? -s_errno(rc) : 0;
}

/* ---- open / create / release --------------------------------------------- */

static fs_appender_t *s_appender_get(vl_fs_t *fs, const char *topic, int *rc_p);
static void s_file_free(fs_file_t *f);
static void s_appender_put(vl_fs_t *fs, fs_appender_t *a);
static void s_append_done(void *arg, int rc, size_t n);

static int s_open_file(vl_fs_t *fs, const char *topic, bool follow, struct fuse_file_info *fi)
{
    vl_topic_info_t t;
    int rc = s_topic(fs, topic, true, &t);
    if (rc != 0)
        return -s_errno(rc);
    fs_file_t *f = vl_calloc(1, sizeof *f);
    strcpy(f->topic, topic);
    f->follow = follow;
    f->flags = fi->flags;
    f->base = t.trim_offset;
    pthread_mutex_init(&f->wmu, NULL);
    pthread_mutex_init(&f->cmu, NULL);
    pthread_mutex_init(&f->rmu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_mutex_lock(&fs->mu);
    f->next = fs->files;
    if (f->next)
        f->next->prev = f;
    fs->files = f;
    pthread_mutex_unlock(&fs->mu);
    fi->fh = (uint64_t)(uintptr_t)f;
    fi->direct_io = 1;
    fi->nonseekable = follow;
    return 0;
}

static int s_open(const char *path, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (s_path(path, topic, &follow) != P_TOPIC)
        return -EISDIR;
    /* FUSE_CAP_ATOMIC_O_TRUNC makes the kernel pass O_TRUNC here instead of
       a truncate to 0: refusing it means `echo x > t` never trims. */
    if (fi->flags & O_TRUNC)
        return -EPERM;
    if (follow && (fi->flags & O_ACCMODE) != O_RDONLY)
        return -EPERM;
    return s_open_file(fs, topic, follow, fi);
}

static int s_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (s_path(path, topic, &follow) != P_TOPIC || follow)
        return -EPERM;
    if (fi->flags & O_TRUNC)
        return -EPERM;
    if (!vl_topic_name_valid(topic)) {
        vl_log(LOG_NOTICE,
               "create '%s': invalid topic name (use [A-Za-z0-9._-]{1,255}, not starting with '.')",
               topic);
        return -EINVAL;
    }
    int rc = vl_topic_create(fs->client, topic, 0, 0, NULL);
    if (rc != 0 && rc != VL_EEXIST) {
        vl_log(LOG_WARNING, "create topic %s: %s", topic, vl_client_errmsg(fs->client));
        return -s_errno(rc);
    }
    if (rc == 0)
        vl_log(LOG_INFO, "created topic %s", topic);
    return s_open_file(fs, topic, false, fi);
}

/*  Waits until every entry written through f has been committed or failed.
    Returns 0 or the first error (which is then reported once). */
static int s_wait_committed(fs_file_t *f)
{
    pthread_mutex_lock(&f->cmu);
    while (f->completed < f->submitted)
        pthread_cond_wait(&f->cv, &f->cmu);
    int rc = f->first_err;
    f->first_err = 0;
    pthread_mutex_unlock(&f->cmu);
    return rc;
}

/*  Hands f->wn entries (f->wdata, f->wlen, f->wargs) to the topic's
    appender in one call and empties the list; f->wmu held (the appender
    may block while too much is in flight; the callback only takes cmu).
    On error none of them was handed over (the sizes were checked first and
    the appender is not destroyed while f holds its reference). */
static int s_submit_many_locked(vl_fs_t *fs, fs_file_t *f)
{
    size_t n = f->wn;
    f->wn = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (f->wlen[i] > VL_MAX_ENTRY_SIZE_DEFAULT)
            return VL_ETOOBIG;
    if (!f->fa) {
        int rc = VL_EIO;
        f->fa = s_appender_get(fs, f->topic, &rc);
        if (!f->fa)
            return rc;
    }
    pthread_mutex_lock(&f->cmu);
    f->submitted += n;
    pthread_mutex_unlock(&f->cmu);
    int rc = vl_appender_append_many(f->fa->app, f->wdata, f->wlen, n, f->wargs);
    if (rc != 0) {
        pthread_mutex_lock(&f->cmu);
        f->submitted -= n;
        pthread_mutex_unlock(&f->cmu);
    }
    return rc;
}

/*  Adds one entry to the list s_submit_many_locked hands over; f->wmu held. */
static void s_wpush(fs_file_t *f, const void *data, size_t len)
{
    if (f->wn == f->wcap) {
        f->wcap = f->wcap ? f->wcap * 2 : 64;
        f->wdata = vl_realloc(f->wdata, f->wcap * sizeof *f->wdata);
        f->wlen = vl_realloc(f->wlen, f->wcap * sizeof *f->wlen);
        f->wargs = vl_realloc(f->wargs, f->wcap * sizeof *f->wargs);
    }
    f->wdata[f->wn] = data;
    f->wlen[f->wn] = len;
    f->wargs[f->wn] = f; /* s_append_done counts per file */
    f->wn++;
}

/*  Hands one entry to the topic's appender; f->wmu held. */
static int s_submit_locked(vl_fs_t *fs, fs_file_t *f, const void *data, size_t len)
{
    s_wpush(f, data, len);
    return s_submit_many_locked(fs, f);
}

static int s_flush_line(vl_fs_t *fs, fs_file_t *f)
{
    pthread_mutex_lock(&f->wmu);
    int rc = 0;
    if (f->line_len > 0) {
        /* a final line without '\n' becomes an entry when the file closes */
        size_t len = f->line_len;
        f->line_len = 0;
        rc = s_submit_locked(fs, f, f->line, len);
    }
    pthread_mutex_unlock(&f->wmu);
    return rc;
}

static int s_flush(const char *path, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
        return 0;
    int rc = s_flush_line(fs, f);
    int wrc = s_wait_committed(f);
    if (!rc)
        rc = wrc;
    /* what this descriptor wrote is committed: the next stat must show it */
    pthread_mutex_lock(&fs->mu);
    fs->meta.fetched_us = 0;
    pthread_mutex_unlock(&fs->mu);
    if (rc) {
        vl_log(LOG_ERR, "close of %s: written data not committed: %s", f->topic, vl_err_str(rc));
        return -s_errno(rc);
    }
    return 0;
}

static int s_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return 0;
    int rc = s_wait_committed(f);
    if (rc) {
        vl_log(LOG_ERR, "fsync of %s: written data not committed: %s", f->topic, vl_err_str(rc));
        return -s_errno(rc);
    }
    return 0;
}

static int s_release(const char *path, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return 0;
    /* the appender calls back with f as argument: wait for all callbacks */
    s_flush_line(fs, f);
    s_wait_committed(f);
    s_appender_put(fs, f->fa);
    pthread_mutex_lock(&fs->mu);
    if (f->prev)
        f->prev->next = f->next;
    else
        fs->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    pthread_mutex_unlock(&fs->mu);
    s_file_free(f);
    fi->fh = 0;
    return 0;
}

/*  Frees an open file's read side and itself (its writes are done). */
static void s_file_free(fs_file_t *f)
{
    vl_subscriber_destroy(&f->sub);
    free(f->line);
    free(f->wdata);
    free(f->wlen);
    free(f->wargs);
    pthread_mutex_destroy(&f->wmu);
    pthread_mutex_destroy(&f->cmu);
    pthread_mutex_destroy(&f->rmu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* ---- write ----------------------------------------------------------------- */

/*  The appender's count callback: n entries written through f are done. */
static void s_append_done(void *arg, int rc, size_t n)
{
    fs_file_t *f = arg;
    pthread_mutex_lock(&f->cmu);
    f->completed += n;
    if (rc != 0 && f->first_err == 0)
        f->first_err = rc;
    if (f->completed == f->submitted)
        pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->cmu);
}

/*  Returns the topic's appender with a reference taken (creating it). */
static fs_appender_t *s_appender_get(vl_fs_t *fs, const char *topic, int *rc_p)
{
    int rc;
    pthread_mutex_lock(&fs->mu);
    fs_appender_t *a;
    for (a = fs->appenders; a; a = a->next)
        if (strcmp(a->topic, topic) == 0)
            break;
    if (!a) {
        /* Sticky: every batch of this mount's appender goes to one log
           stream, and entries of one log stream are committed in the order
           they were appended, so the lines written through one descriptor
           keep their order (round robin would let pipelined batches
           overtake each other). The stream is picked at random, which
           spreads many mounts over a topic's streams; when it is sealed the
           appender moves to another one, in order. */
        vl_appender_opts_t opts = {.timeout_ms = fs->opts.timeout_ms,
                                   .sticky = true,
                                   .batch_entries = FS_BATCH_ENTRIES,
                                   .batch_bytes = FS_BATCH_BYTES,
                                   .count_cb = s_append_done};
        vl_appender_t *app = NULL;
        rc = vl_appender_new(fs->client, topic, &opts, NULL, &app);
        if (rc != 0) {
            vl_log(LOG_WARNING, "appender for %s: %s", topic, vl_client_errmsg(fs->client));
            pthread_mutex_unlock(&fs->mu);
            *rc_p = rc;
            return NULL;
        }
        a = vl_calloc(1, sizeof *a);
        snprintf(a->topic, sizeof a->topic, "%s", topic);
        a->app = app;
        a->next = fs->appenders;
        fs->appenders = a;
    }
    a->refs++;
    pthread_mutex_unlock(&fs->mu);
    return a;
}

/*  Drops a reference (NULL-safe); the last one of an unlinked appender
    destroys it, outside fs->mu because destroying waits for callbacks. */
static void s_appender_put(vl_fs_t *fs, fs_appender_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&fs->mu);
    bool last = --a->refs == 0 && a->unlinked;
    pthread_mutex_unlock(&fs->mu);
    if (last) {
        vl_appender_destroy(&a->app);
        free(a);
    }
}

static int s_write(const char *path, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f || f->follow)
        return -EBADF;
    /* the log only grows at its end: a write must come through O_APPEND
       (the open itself succeeds so that truncate(1) can ftruncate) */
    if (!(f->flags & O_APPEND))
        return -EPERM;
    pthread_mutex_lock(&f->wmu);
    int rc = 0;
    size_t done = 0; /* bytes whose entries were handed to the appender */
    if (fs->opts.record_write) {
        rc = s_submit_locked(fs, f, buf, size);
        done = rc ? 0 : size;
    } else {
        /* The complete lines of this write (the first one may finish the
           line carried over from earlier writes) go to the appender in one
           call: one lock and one wake-up for all of them. */
        size_t at = 0;
        while (at < size) {
            const char *nl = memchr(buf + at, '\n', size - at);
            if (!nl)
                break; /* a partial line: carried over below */
            size_t piece = (size_t)(nl - (buf + at)) + 1;
            if (f->line_len + piece > VL_MAX_ENTRY_SIZE_DEFAULT) {
                rc = VL_ETOOBIG;
                f->line_len = 0;
                break;
            }
            if (f->line_len == 0) {
                s_wpush(f, buf + at, piece); /* whole line, no copy */
            } else {
                /* only the first line can finish the carried one, so
                   f->line is not touched again before the hand-over */
                if (f->line_len + piece > f->line_cap) {
                    f->line_cap = (f->line_len + piece) * 2;
                    f->line = vl_realloc(f->line, f->line_cap);
                }
                memcpy(f->line + f->line_len, buf + at, piece);
                s_wpush(f, f->line, f->line_len + piece);
                f->line_len = 0;
            }
            at += piece;
        }
        /* the lines before an oversized one are handed over as before */
        int src = s_submit_many_locked(fs, f);
        if (src != 0)
            rc = src; /* none of them was handed over */
        else
            done = at;
        if (rc == 0 && at < size) {
            size_t piece = size - at;
            if (f->line_len + piece > VL_MAX_ENTRY_SIZE_DEFAULT) {
                rc = VL_ETOOBIG;
                f->line_len = 0;
            } else {
                if (f->line_len + piece > f->line_cap) {
                    f->line_cap = (f->line_len + piece) * 2;
                    f->line = vl_realloc(f->line, f->line_cap);
                }
                memcpy(f->line + f->line_len, buf + at, piece);
                f->line_len += piece;
                done = size;
            }
        }
    }
    pthread_mutex_unlock(&f->wmu);
    if (rc) {
        vl_log(LOG_WARNING, "write to %s: %s", f->topic, vl_err_str(rc));
        /* lines already handed over will be committed: report them */
        return done ? (int)done : -s_errno(rc);
    }
    return (int)size;
}

/* ---- read ------------------------------------------------------------------ */

/*  Makes e the file's current entry. Its bytes stay where the subscriber
    has them, valid until its next call, which only this file makes, under
    rmu: one copy per byte, into the reader's buffer. */
static void s_keep_entry(fs_file_t *f, const vl_entry_t *e)
{
    f->rest = e->data;
    f->rest_len = e->size;
    f->rest_at = 0;
}

/*  Positions f's subscriber at topic offset pos (f->rmu held): at the entry
    holding pos, or, when pos is the end offset, at the next entry to be
    committed. */
static int s_seek_locked(vl_fs_t *fs, fs_file_t *f, const vl_topic_info_t *t, uint64_t pos)
{
    vl_subscriber_destroy(&f->sub);
    f->rest_len = f->rest_at = 0;
    if (pos == t->end_offset) {
        f->sub_pos = pos;
        return vl_subscribe(fs->client, f->topic, t->hwm + 1, VL_GLSN_FOLLOW, &f->sub);
    }
    uint64_t glsn, entry_offset;
    int rc = vl_lookup_offset(fs->client, f->topic, pos, &glsn, &entry_offset);
    if (rc == 0)
        rc = vl_subscribe(fs->client, f->topic, glsn, VL_GLSN_FOLLOW, &f->sub);
    vl_entry_t e;
    if (rc == 0)
        rc = vl_subscriber_next(f->sub, &e, fs->opts.timeout_ms);
    if (rc != 0) {
        vl_subscriber_destroy(&f->sub);
        return rc;
    }
    if (pos < e.offset || pos - e.offset >= e.size) {
        vl_log(LOG_ERR, "read %s: entry %llu [%llu, +%zu) does not hold offset %llu", f->topic,
               (unsigned long long)e.glsn, (unsigned long long)e.offset, e.size,
               (unsigned long long)pos);
        vl_subscriber_destroy(&f->sub);
        return VL_EPROTO;
    }
    s_keep_entry(f, &e);
    f->rest_at = (size_t)(pos - e.offset); /* skip to pos inside its entry */
    f->sub_pos = pos;
    return 0;
}

static int s_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return -EBADF;
    pthread_mutex_lock(&f->rmu);
    vl_topic_info_t t;
    size_t got = 0;
    int rc = s_topic(fs, f->topic, false, &t);
    if (rc != 0)
        goto out;
    uint64_t pos = f->base + (uint64_t)off;
    if (pos < t.trim_offset) {
        if (off != 0) {
            vl_log(LOG_WARNING,
                   "read %s at offset %lld: those bytes were trimmed; read from "
                   "offset 0 for the oldest live entry",
                   f->topic, (long long)off);
            rc = VL_ETRIMMED;
            goto out;
        }
        /* a reader that rewinds after a truncation reads the oldest live
           entry; the file's positions follow from there */
        pos = t.trim_offset;
        __atomic_store_n(&f->base, pos, __ATOMIC_RELAXED);
    }
    if (!f->follow && pos >= t.end_offset) {
        /* before answering EOF, make sure the cached end is not stale */
        rc = s_topic(fs, f->topic, true, &t);
        if (rc != 0)
            goto out;
    }
    bool positioned = f->sub && f->sub_pos == pos;
    if (f->follow && !positioned && pos > t.end_offset) {
        /* a follower runs ahead of the cached end: never EOF for it */
        rc = s_topic(fs, f->topic, true, &t);
        if (rc != 0)
            goto out;
    }
    if (!f->follow && pos == t.end_offset)
        goto out; /* EOF */
    if (!positioned && pos > t.end_offset) {
        vl_log(LOG_WARNING, "read %s at offset %lld: beyond the end of the log", f->topic,
               (long long)off);
        goto out; /* EOF: nothing can be there */
    }
    if (!positioned) {
        rc = s_seek_locked(fs, f, &t, pos);
        if (rc != 0)
            goto out;
    }
    while (got < size) {
        if (f->rest_at == f->rest_len) {
            if (!f->follow && pos >= t.end_offset)
                break;
            /* block only while nothing has been read yet */
            int wait = got ? 0 : f->follow ? FS_FOLLOW_POLL_MS : fs->opts.timeout_ms;
            vl_entry_t e;
            rc = vl_subscriber_next(f->sub, &e, wait);
            if (rc == VL_ETIMEDOUT && (got || f->follow)) {
                rc = 0;
                if (got)
                    break;
                if (fuse_interrupted()) {
                    pthread_mutex_unlock(&f->rmu);
                    return -EINTR;
                }
                continue;
            }
            if (rc != 0)
                goto out;
            if (e.offset != pos) {
                vl_log(LOG_ERR, "read %s: entry %llu at offset %llu where %llu was expected",
                       f->topic, (unsigned long long)e.glsn, (unsigned long long)e.offset,
                       (unsigned long long)pos);
                rc = VL_EPROTO;
                goto out;
            }
            s_keep_entry(f, &e);
        }
        size_t n = f->rest_len - f->rest_at;
        if (n > size - got)
            n = size - got;
        if (!f->follow && n > t.end_offset - pos)
            n = (size_t)(t.end_offset - pos);
        memcpy(buf + got, f->rest + f->rest_at, n);
        f->rest_at += n;
        got += n;
        pos += n;
        f->sub_pos = pos;
    }
out:
    pthread_mutex_unlock(&f->rmu);
    if (rc != 0 && got == 0) {
        if (rc != VL_ETRIMMED)
            vl_log(LOG_WARNING, "read %s at offset %lld: %s", f->topic, (long long)off,
                   vl_client_errmsg(fs->client));
        return rc == VL_ETRIMMED ? -EIO : -s_errno(rc);
    }
    return (int)got;
}

/* ---- truncate, unlink ------------------------------------------------------ */

static int s_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (s_path(path, topic, &follow) != P_TOPIC || follow)
        return -EPERM;
    if (size < 0)
        return -EINVAL;
    vl_topic_info_t t;
    int rc = s_topic(fs, topic, true, &t);
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
    s_meta_refresh_locked(fs, true);
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
    if (s_path(path, topic, &follow) != P_TOPIC || follow)
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
    s_appender_put(fs, gone);
    int rc = vl_topic_delete(fs->client, topic);
    if (rc != 0) {
        vl_log(LOG_WARNING, "rm %s: %s", topic, vl_client_errmsg(fs->client));
        return -s_errno(rc);
    }
    pthread_mutex_lock(&fs->mu);
    s_meta_refresh_locked(fs, true);
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
    if (s_path(path, topic, &follow) != P_TOPIC)
        return 0;
    vl_topic_info_t t;
    int rc = s_topic(s_fs(), topic, false, &t);
    return rc ? -s_errno(rc) : 0;
}

/* ---- extended attributes, statfs ----------------------------------------- */

static const char *s_xattrs[] = {"user.varlog.topic_id",    "user.varlog.first_glsn",
                                 "user.varlog.last_glsn",   "user.varlog.trim_point",
                                 "user.varlog.log_streams", "user.varlog.replication_factor"};
#define NXATTRS (sizeof s_xattrs / sizeof s_xattrs[0])

static int s_getxattr(const char *path, const char *name, char *value, size_t size)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (s_path(path, topic, &follow) != P_TOPIC)
        return -ENODATA;
    vl_topic_info_t t;
    int rc = s_topic(fs, topic, true, &t);
    if (rc != 0)
        return -s_errno(rc);
    unsigned long long v;
    if (strcmp(name, s_xattrs[0]) == 0)
        v = t.topic_id;
    else if (strcmp(name, s_xattrs[1]) == 0)
        v = t.hwm >= t.trim_glsn ? t.trim_glsn : 0;
    else if (strcmp(name, s_xattrs[2]) == 0)
        v = t.hwm;
    else if (strcmp(name, s_xattrs[3]) == 0)
        v = t.trim_glsn;
    else if (strcmp(name, s_xattrs[4]) == 0)
        v = t.nls;
    else if (strcmp(name, s_xattrs[5]) == 0)
        v = t.replication_factor;
    else
        return -ENODATA;
    char text[32];
    int n = snprintf(text, sizeof text, "%llu", v);
    if (size == 0)
        return n;
    if ((size_t)n > size)
        return -ERANGE;
    memcpy(value, text, n);
    return n;
}

static int s_listxattr(const char *path, char *list, size_t size)
{
    char topic[256];
    bool follow;
    if (s_path(path, topic, &follow) != P_TOPIC)
        return 0;
    size_t need = 0;
    for (size_t i = 0; i < NXATTRS; i++)
        need += strlen(s_xattrs[i]) + 1;
    if (size == 0)
        return (int)need;
    if (size < need)
        return -ERANGE;
    for (size_t i = 0; i < NXATTRS; i++) {
        size_t n = strlen(s_xattrs[i]) + 1;
        memcpy(list, s_xattrs[i], n);
        list += n;
    }
    return (int)need;
}

/*  The cluster's capacity: the sum over storage nodes of their data
    directories' file systems (SN_STATUS), each counted once. */
static int s_statfs(const char *path, struct statvfs *sv)
{
    vl_fs_t *fs = s_fs();
    memset(sv, 0, sizeof *sv);
    sv->f_bsize = sv->f_frsize = 4096;
    sv->f_namemax = 255;
    char err[256];
    vl_rpc_t *mr = vl_rpc_new(fs->mr, err, sizeof err);
    if (!mr)
        return -EIO;
    zmsg_t *reply = NULL;
    vl_hdr_t h;
    vl_rbuf_t body;
    int rc = vl_rpc_call(mr, VL_MSG_GET_META, NULL, fs->opts.timeout_ms, &reply, &h, &body, err,
                         sizeof err);
    vl_meta_t meta;
    if (rc == 0)
        rc = vl_meta_decode(&body, &meta);
    zmsg_destroy(&reply);
    vl_rpc_destroy(&mr);
    if (rc != 0) {
        vl_log(LOG_WARNING, "statfs: %s", err);
        return -s_errno(rc);
    }
    uint64_t total = 0, avail = 0;
    for (uint32_t i = 0; i < meta.nsn; i++) {
        vl_rpc_t *sn = vl_rpc_new(meta.sns[i].addr, err, sizeof err);
        if (!sn)
            continue;
        if (vl_rpc_call(sn, VL_MSG_SN_STATUS, NULL, 1000, &reply, &h, &body, err, sizeof err) ==
            0) {
            vl_sn_status_t st;
            if (vl_sn_status_decode(&body, &st) == 0) {
                total += st.disk_total;
                avail += st.disk_free;
                vl_sn_status_free(&st);
            }
            zmsg_destroy(&reply);
        }
        vl_rpc_destroy(&sn);
    }
    sv->f_files = meta.ntopics;
    vl_meta_free(&meta);
    sv->f_blocks = total / sv->f_frsize;
    sv->f_bfree = sv->f_bavail = avail / sv->f_frsize;
    return 0;
}

/* ---- init ------------------------------------------------------------------ */

static void *s_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* sizes change under the kernel: no attribute or entry caching, and
       direct I/O so the page cache never serves stale bytes */
    cfg->attr_timeout = 0;
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->direct_io = 1;
    cfg->hard_remove = 1;
    cfg->use_ino = 1;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    return fuse_get_context()->private_data;
}

static const struct fuse_operations s_ops = {
    .init = s_init,
    .getattr = s_getattr,
    .readdir = s_readdir,
    .open = s_open,
    .create = s_create,
    .read = s_read,
    .write = s_write,
    .flush = s_flush,
    .fsync = s_fsync,
    .release = s_release,
    .truncate = s_truncate,
    .unlink = s_unlink,
    .utimens = s_utimens,
    .getxattr = s_getxattr,
    .listxattr = s_listxattr,
    .statfs = s_statfs,
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
        s_appender_put(fs, f->fa);
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
        s_file_free(f);
    }
    vl_client_destroy(&fs->client);
    free(fs->meta.topics);
    free(fs->mr);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
    *self_p = NULL;
}
