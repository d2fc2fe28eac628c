/*  write.c - varlogfs: open files and the appenders their writes go to.

    Writes. Only through O_APPEND (EPERM otherwise; O_TRUNC is refused with
    EPERM at open). Lines (or whole writes with -o record=write) become
    entries and go to one asynchronous, batching appender per topic; write
    returns at once. flush (every close) and fsync wait until everything
    written through the descriptor is committed and return the first error.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs_i.h"
#include "log.h"
#include "util.h"
#include "wire.h"

/*  APPEND batches of the mount's appenders. A FUSE write brings up to
    1 MiB, some 10,000 lines: batches four times the appender's default
    cost a fourth of the APPENDs, writer jobs and commits per byte, and a
    sticky appender (one log stream, so a pipeline of 8 batches) keeps
    enough in flight to cover the time to commit at a few hundred MB/s. */
#define FS_BATCH_ENTRIES 4096
#define FS_BATCH_BYTES (1u << 20)

/* ---- open / create / release --------------------------------------------- */

static fs_appender_t *s_appender_get(vl_fs_t *fs, const fs_file_t *f, int *rc_p);
static void s_append_done(void *arg, int rc, size_t n);

static int s_open_file(vl_fs_t *fs, const char *topic, bool follow, struct fuse_file_info *fi)
{
    /* A reader fixes its base (the trim point) from the MR. A write-only
       open reads nothing: the metadata cache (at most 10 ms old, what stat
       shows, even if a close committed since) tells that the topic exists
       and its base, which only fstat of that descriptor shows; a topic not
       in it is looked up in the MR. So `echo >> t` costs no round trip to
       the MR here but one in 10 ms. */
    bool wronly = !follow && (fi->flags & O_ACCMODE) == O_WRONLY;
    vl_topic_info_t t;
    int rc = wronly ? vl_fs_meta_topic_name(fs, topic, &t) : vl_fs_meta_topic(fs, topic, true, &t);
    if (rc == VL_ENOTOPIC && wronly)
        rc = vl_fs_meta_topic(fs, topic, true, &t);
    if (rc != 0)
        return -s_errno(rc);
    fs_file_t *f = vl_calloc(1, sizeof *f);
    strcpy(f->topic, topic);
    f->topic_id = t.topic_id;
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
    /* -o pagecache: a plain read-only file goes through the kernel's page
       cache, and no open drops what it holds (keep_cache): committed bytes
       never change, and what moves them (a trim, a delete) or grows the
       file changes its size or mtime (meta.c). The rest is direct I/O. */
    f->cached = fs->opts.page_cache && !follow && (fi->flags & O_ACCMODE) == O_RDONLY;
    fi->direct_io = !f->cached;
    fi->keep_cache = fs->opts.page_cache;
    fi->nonseekable = follow;
    return 0;
}

int vl_fs_open(const char *path, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC)
        return -EISDIR;
    /* FUSE_CAP_ATOMIC_O_TRUNC makes the kernel pass O_TRUNC here instead of
       a truncate to 0: refusing it means `echo x > t` never trims. */
    if (fi->flags & O_TRUNC)
        return -EPERM;
    if (follow && (fi->flags & O_ACCMODE) != O_RDONLY)
        return -EPERM;
    int rc = s_open_file(fs, topic, follow, fi);
    /* The kernel opens a name it cached (fs.c: entry_timeout) without a
       LOOKUP. Gone meanwhile (deleted elsewhere): ESTALE makes the kernel
       look it up again (LOOKUP_REVAL), which finds no topic, so open(2)
       fails with ENOENT, or O_CREAT creates it anew. */
    return rc == -ENOENT ? -ESTALE : rc;
}

int vl_fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC || follow)
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
        f->fa = s_appender_get(fs, f, &rc);
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
    /* what f wrote goes out now, not after the appender's linger: the
       caller waits for it (other files' entries in the open batch go too) */
    if (f->fa)
        vl_appender_push(f->fa->app);
    pthread_mutex_unlock(&f->wmu);
    return rc;
}

int vl_fs_flush(const char *path, struct fuse_file_info *fi)
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
    fs->meta.sizes_stale = true;
    pthread_mutex_unlock(&fs->mu);
    if (rc) {
        vl_log(LOG_ERR, "close of %s: written data not committed: %s", f->topic, vl_err_str(rc));
        return -s_errno(rc);
    }
    return 0;
}

int vl_fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return 0;
    pthread_mutex_lock(&f->wmu);
    if (f->fa)
        vl_appender_push(f->fa->app);
    pthread_mutex_unlock(&f->wmu);
    int rc = s_wait_committed(f);
    if (rc) {
        vl_log(LOG_ERR, "fsync of %s: written data not committed: %s", f->topic, vl_err_str(rc));
        return -s_errno(rc);
    }
    return 0;
}

int vl_fs_release(const char *path, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return 0;
    /* the appender calls back with f as argument: wait for all callbacks */
    s_flush_line(fs, f);
    s_wait_committed(f);
    vl_fs_appender_put(fs, f->fa);
    pthread_mutex_lock(&fs->mu);
    if (f->prev)
        f->prev->next = f->next;
    else
        fs->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    pthread_mutex_unlock(&fs->mu);
    vl_fs_file_free(f);
    fi->fh = 0;
    return 0;
}

void vl_fs_file_free(fs_file_t *f)
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

/*  Returns the appender of f's topic with a reference taken (creating it).
    One made for an older topic of the same name (deleted elsewhere) is
    unlinked first, and destroyed here if no file holds it. */
static fs_appender_t *s_appender_get(vl_fs_t *fs, const fs_file_t *f, int *rc_p)
{
    const char *topic = f->topic;
    int rc;
    fs_appender_t *old = NULL;
    pthread_mutex_lock(&fs->mu);
    fs_appender_t *a, **pp;
    for (pp = &fs->appenders; (a = *pp) != NULL; pp = &a->next)
        if (strcmp(a->topic, topic) == 0)
            break;
    if (a && a->topic_id != f->topic_id) {
        *pp = a->next;
        a->unlinked = true;
        a->refs++; /* dropped below, outside the lock */
        old = a;
        a = NULL;
    }
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
            vl_fs_appender_put(fs, old);
            *rc_p = rc;
            return NULL;
        }
        a = vl_calloc(1, sizeof *a);
        snprintf(a->topic, sizeof a->topic, "%s", topic);
        a->topic_id = f->topic_id;
        a->app = app;
        a->next = fs->appenders;
        fs->appenders = a;
    }
    a->refs++;
    pthread_mutex_unlock(&fs->mu);
    vl_fs_appender_put(fs, old);
    return a;
}

void vl_fs_appender_put(vl_fs_t *fs, fs_appender_t *a)
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

int vl_fs_write(const char *path, const char *buf, size_t size, off_t off,
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
    if (fs->opts.page_cache)
        vl_fs_pc_write(fs, f);
    if (rc) {
        vl_log(LOG_WARNING, "write to %s: %s", f->topic, vl_err_str(rc));
        /* lines already handed over will be committed: report them */
        return done ? (int)done : -s_errno(rc);
    }
    return (int)size;
}
