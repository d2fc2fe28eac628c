/*  read.c - varlogfs: reading a topic's file (and its .follow twin).

    An open file keeps one subscriber (following new commits) and the
    unread rest of its current entry, so sequential reads stream without a
    lookup per read (the read-ahead). A read elsewhere looks the offset up
    and subscribes again from the entry holding it.

    Through the page cache (-o pagecache, f->cached). The kernel reads
    whole pages, from offsets it rounds down, for any open file of the
    inode, and keeps them for all: a file's own base cannot survive a trim
    (a read at offset 0 for the page under offset 100 would look like a
    rewind). So a cached file's base is the current trim point, the one
    stat shows: after a trim its offsets are those of the live log, like a
    regular file whose front was cut; a reader past the new end reads EOF.
    A cached read never ends short of bytes the kernel may already count
    in the size: the kernel zero-fills the rest of a short page, and a
    write through the mount grows the size by the bytes written before
    they are committed. So at the end a cached read takes the freshest end
    offset and waits for the lines written through this mount and not yet
    committed (s_fill_locked). And the kernel's size never grows while it
    may hold a page that a read ended short in (its zeros would read as
    file bytes): a getattr that answers with a larger end, and a write,
    first have the kernel drop the topic's pages when a cached read ended
    short since it last did or is in the daemon (fs_pcrace_t,
    vl_fs_pc_getattr). A file that grows while it is read at its end thus
    rereads its pages from the daemon; one that does not keeps them.
    (Left open: a line without its newline, in no entry until the close.)
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fs_i.h"
#include "log.h"
#include "subscriber_i.h"
#include "util.h"

#define FS_FOLLOW_POLL_MS 200

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

/*  The first phase of a read at file offset off (f->rmu held): fetches the
    topic's info into *t and finds the topic offset *pos_p to read from,
    positioning the subscriber there when it is not. *eof: nothing to read
    there. Returns 0 or a VL_E* code. */
static int s_locate_locked(vl_fs_t *fs, fs_file_t *f, off_t off, vl_topic_info_t *t,
                           uint64_t *pos_p, bool *eof)
{
    *eof = false;
    int rc = vl_fs_meta_topic(fs, f->topic, false, t);
    if (rc != 0)
        return rc;
    if (f->cached && f->base != t->trim_offset)
        __atomic_store_n(&f->base, t->trim_offset, __ATOMIC_RELAXED);
    uint64_t pos = f->base + (uint64_t)off;
    if (pos < t->trim_offset) {
        if (off != 0) {
            vl_log(LOG_WARNING,
                   "read %s at offset %lld: those bytes were trimmed; read from "
                   "offset 0 for the oldest live entry",
                   f->topic, (long long)off);
            return VL_ETRIMMED;
        }
        /* a reader that rewinds after a truncation reads the oldest live
           entry; the file's positions follow from there */
        pos = t->trim_offset;
        __atomic_store_n(&f->base, pos, __ATOMIC_RELAXED);
    }
    *pos_p = pos;
    if (!f->follow && pos >= t->end_offset) {
        /* before answering EOF, make sure the cached end is not stale */
        rc = vl_fs_meta_topic(fs, f->topic, true, t);
        if (rc != 0)
            return rc;
    }
    bool positioned = f->sub && f->sub_pos == pos;
    if (f->follow && !positioned && pos > t->end_offset) {
        /* a follower runs ahead of the cached end: never EOF for it */
        rc = vl_fs_meta_topic(fs, f->topic, true, t);
        if (rc != 0)
            return rc;
    }
    if (!f->follow && pos == t->end_offset) {
        *eof = true;
        return 0;
    }
    if (!positioned && pos > t->end_offset) {
        vl_log(LOG_WARNING, "read %s at offset %lld: beyond the end of the log", f->topic,
               (long long)off);
        *eof = true; /* nothing can be there */
        return 0;
    }
    if (!positioned)
        return s_seek_locked(fs, f, t, pos);
    return 0;
}

/*  The second phase (f->rmu held, the subscriber at pos): copies up to
    size bytes into buf, *got_p of them. Returns 0, a VL_E* code (which
    the caller reports only when nothing was copied) or -EINTR when the
    wait of a .follow read was interrupted before anything arrived. */
static int s_copy_locked(vl_fs_t *fs, fs_file_t *f, const vl_topic_info_t *t, uint64_t pos,
                         char *buf, size_t size, size_t *got_p)
{
    size_t got = 0;
    int rc = 0;
    while (got < size) {
        /* (also with bytes kept: an end older than the one they were
           read under must not spin here copying nothing) */
        if (!f->follow && pos >= t->end_offset)
            break;
        if (f->rest_at == f->rest_len) {
            /* block only while nothing has been read yet */
            int wait = got ? 0 : f->follow ? FS_FOLLOW_POLL_MS : fs->opts.timeout_ms;
            /* the entries that follow in one message come as one run:
               one copy for them all, not one per ~100-byte line. A run
               ends at the end offset known (entries past it are read
               once a fresher end says they are there): what is kept
               never crosses it */
            size_t max = size - got;
            if (!f->follow && max > t->end_offset - pos)
                max = (size_t)(t->end_offset - pos);
            vl_entry_t e;
            size_t count;
            rc = vl_subscriber_next_run(f->sub, &e, wait, max, &count);
            if (rc == VL_ETIMEDOUT && (got || f->follow)) {
                rc = 0;
                if (got)
                    break;
                if (fuse_interrupted())
                    return -EINTR;
                continue;
            }
            if (rc != 0)
                break;
            if (e.offset != pos) {
                vl_log(LOG_ERR, "read %s: entry %llu at offset %llu where %llu was expected",
                       f->topic, (unsigned long long)e.glsn, (unsigned long long)e.offset,
                       (unsigned long long)pos);
                rc = VL_EPROTO;
                break;
            }
            s_keep_entry(f, &e);
        }
        size_t n = f->rest_len - f->rest_at;
        if (n > size - got)
            n = size - got;
        if (!f->follow && n > t->end_offset - pos)
            n = (size_t)(t->end_offset - pos);
        memcpy(buf + got, f->rest + f->rest_at, n);
        f->rest_at += n;
        got += n;
        pos += n;
        f->sub_pos = pos;
    }
    *got_p = got;
    return rc;
}

/*  Whether a file of f's topic written through this mount has lines
    handed to the appender and not yet committed (so in the size the kernel
    counts after the write, not yet in the log's). */
static bool s_writes_pending(vl_fs_t *fs, const fs_file_t *f)
{
    bool pending = false;
    pthread_mutex_lock(&fs->mu);
    for (fs_file_t *o = fs->files; o && !pending; o = o->next) {
        if (o->topic_id != f->topic_id || (o->flags & O_ACCMODE) == O_RDONLY)
            continue;
        pthread_mutex_lock(&o->cmu);
        pending = o->completed < o->submitted;
        pthread_mutex_unlock(&o->cmu);
    }
    pthread_mutex_unlock(&fs->mu);
    return pending;
}

/*  Waits (up to the mount's timeout from deadline_us's start) until no
    write through the mount to f's topic is pending. Returns whether one
    was. */
static bool s_wait_writes(vl_fs_t *fs, const fs_file_t *f, int64_t deadline_us)
{
    bool waited = false;
    while (s_writes_pending(fs, f) && vl_now_us() < deadline_us) {
        waited = true;
        usleep(200);
    }
    return waited;
}

/*  A cached read that stopped at the end it knew, short of size (f->rmu
    held, *got_p bytes at buf already, the subscriber at pos + *got_p):
    reads on to the freshest end offset, once the writes pending through
    this mount are committed. Stops at a trim (the base moved: the kernel is
    told to drop the pages, meta.c). Returns 0 or a VL_E* code. */
static int s_fill_locked(vl_fs_t *fs, fs_file_t *f, vl_topic_info_t *t, uint64_t pos, char *buf,
                         size_t size, size_t *got_p)
{
    int64_t deadline = vl_now_us() + (int64_t)fs->opts.timeout_ms * 1000;
    int rc = 0;
    while (*got_p < size) {
        uint64_t at = pos + *got_p;
        rc = vl_fs_meta_topic(fs, f->topic, true, t);
        if (rc != 0 || t->trim_offset != f->base)
            break;
        if (at >= t->end_offset) {
            if (!s_wait_writes(fs, f, deadline))
                break;
            continue;
        }
        size_t more = 0;
        rc = s_copy_locked(fs, f, t, at, buf + *got_p, size - *got_p, &more);
        *got_p += more;
        if (rc != 0 || more == 0)
            break;
    }
    return rc;
}

/*  The page cache record of topic topic_id, made on first use; fs->mu
    held. */
static fs_pcrace_t *s_pcr_locked(vl_fs_t *fs, uint32_t topic_id)
{
    for (size_t i = 0; i < fs->npcr; i++)
        if (fs->pcr[i].topic_id == topic_id)
            return &fs->pcr[i];
    if (fs->npcr == fs->pcr_cap) {
        fs->pcr_cap = fs->pcr_cap ? 2 * fs->pcr_cap : 8;
        fs->pcr = vl_realloc(fs->pcr, fs->pcr_cap * sizeof *fs->pcr);
    }
    fs_pcrace_t *r = &fs->pcr[fs->npcr++];
    *r = (fs_pcrace_t){.topic_id = topic_id};
    return r;
}

/*  Whether the kernel may hold a page of topic topic_id that a cached read
    ended short in and that it was not told to drop since: a read ended
    short since, or one is in the daemon now; *shorts: the count to record
    once it was told. fs->mu held. */
static bool s_pc_stale_locked(vl_fs_t *fs, fs_pcrace_t *r, uint64_t *shorts)
{
    *shorts = r->shorts;
    if (r->shorts != r->dropped)
        return true;
    for (fs_file_t *o = fs->files; o; o = o->next)
        if (o->reading && o->topic_id == r->topic_id)
            return true;
    return false;
}

/*  Has the kernel drop the pages of topic name (the kernel waits for those
    of reads still out to the daemon first), then records shorts as told,
    end as answered and the drop as done. */
static void s_pc_drop(vl_fs_t *fs, const char *name, uint32_t topic_id, uint64_t shorts,
                      uint64_t end)
{
    vl_fs_inval_topic(name);
    pthread_mutex_lock(&fs->mu);
    fs_pcrace_t *r = s_pcr_locked(fs, topic_id);
    if (r->dropped < shorts)
        r->dropped = shorts;
    if (r->told_end < end)
        r->told_end = end;
    r->dropping--;
    pthread_mutex_unlock(&fs->mu);
}

uint64_t vl_fs_pc_getattr(vl_fs_t *fs, const char *name, uint32_t topic_id, uint64_t end)
{
    pthread_mutex_lock(&fs->mu);
    fs_pcrace_t *r = s_pcr_locked(fs, topic_id);
    uint64_t shorts = 0;
    bool drop = false;
    if (end > r->told_end) {
        if (r->dropping) {
            /* another getattr or a write is having the pages dropped: the
               size the kernel knows, rather than one more thread held in
               the kernel (a read it waits for may need a thread) */
            end = r->told_end;
        } else if (s_pc_stale_locked(fs, r, &shorts)) {
            drop = true;
            r->dropping++;
        } else {
            r->told_end = end;
        }
    }
    pthread_mutex_unlock(&fs->mu);
    if (drop)
        s_pc_drop(fs, name, topic_id, shorts, end);
    return end;
}

void vl_fs_pc_write(vl_fs_t *fs, const fs_file_t *f)
{
    pthread_mutex_lock(&fs->mu);
    fs_pcrace_t *r = s_pcr_locked(fs, f->topic_id);
    uint64_t shorts = 0;
    bool drop = s_pc_stale_locked(fs, r, &shorts);
    if (drop)
        r->dropping++;
    pthread_mutex_unlock(&fs->mu);
    if (drop)
        s_pc_drop(fs, f->topic, f->topic_id, shorts, 0);
}

/*  Marks a cached read of f in the daemon (in) or done, short of its
    request or not; f->rmu held. */
static void s_reading(vl_fs_t *fs, fs_file_t *f, bool in, bool short_read)
{
    pthread_mutex_lock(&fs->mu);
    f->reading = in;
    if (!in && short_read)
        s_pcr_locked(fs, f->topic_id)->shorts++;
    pthread_mutex_unlock(&fs->mu);
}

int vl_fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
    if (!f)
        return -EBADF;
    pthread_mutex_lock(&f->rmu); /* one read of f at a time is marked */
    if (f->cached)
        s_reading(fs, f, true, false);
    vl_topic_info_t t;
    size_t got = 0;
    uint64_t pos = 0;
    bool eof;
    int rc = s_locate_locked(fs, f, off, &t, &pos, &eof);
    if (rc == 0 && eof && f->cached &&
        s_wait_writes(fs, f, vl_now_us() + (int64_t)fs->opts.timeout_ms * 1000))
        rc = s_locate_locked(fs, f, off, &t, &pos, &eof);
    if (rc == 0 && !eof)
        rc = s_copy_locked(fs, f, &t, pos, buf, size, &got);
    if (rc == 0 && !eof && f->cached && got < size)
        rc = s_fill_locked(fs, f, &t, pos, buf, size, &got);
    if (f->cached)
        s_reading(fs, f, false, got < size);
    pthread_mutex_unlock(&f->rmu);
    if (rc == -EINTR)
        return -EINTR;
    if (rc != 0 && got == 0) {
        if (rc != VL_ETRIMMED)
            vl_log(LOG_WARNING, "read %s at offset %lld: %s", f->topic, (long long)off,
                   vl_client_errmsg(fs->client));
        return rc == VL_ETRIMMED ? -EIO : -s_errno(rc);
    }
    return (int)got;
}
