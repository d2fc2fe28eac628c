/*  fs_i.h - varlogfs: the state its files share (private).

    fs.c holds the operations table, paths, truncate, unlink and the
    file system's set-up and tear-down; meta.c the metadata cache and the
    operations answered from it (getattr, readdir, extended attributes,
    statfs); read.c reads; write.c opens, writes, flushes and releases
    files, through one appender per topic. The FUSE operations they export
    are named vl_fs_<operation>.
*/
#ifndef VL_FS_I_H
#define VL_FS_I_H
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "fs.h"
#include "varlog.h"

typedef struct {
    vl_topic_info_t *topics;
    size_t n;
    int64_t fetched_us;
    bool sizes_stale; /* a close committed since: sizes need a refresh */
    int rc;           /* of the last refresh */
} fs_meta_t;

/*  One appender per topic, shared by the files that write to it. Files hold
    a reference; rm unlinks it from the list and the last reference destroys
    it, outside fs->mu (destroying waits for callbacks). A topic deleted
    elsewhere and made anew under its name has another id: its appender is
    unlinked the same way when a file of the new topic writes. */
typedef struct fs_appender {
    char topic[256];
    uint32_t topic_id; /* of the topic it was made for */
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
    /* -o pagecache: topics whose cached pages the kernel must drop (trimmed,
       deleted or made anew since the last refresh), under mu; vl_fs_getattr
       tells the kernel (meta.c) */
    char (*inval)[256];
    size_t ninval, inval_cap;
    /* -o pagecache: per topic, what the kernel may hold in its page cache
       (read.c), under mu */
    struct fs_pcrace *pcr;
    size_t npcr, pcr_cap;
};

/*  -o pagecache: a cached read that ends short of its request (at the end
    of the log) makes the kernel zero the rest of its last page. When the
    kernel's size of the file then grows past that end, by a getattr or by
    a write through the mount, the kernel sets the new size before it drops
    the page, and a reader can copy those zeros as file bytes in between;
    a read whose reply is still on its way fills its page after any drop
    the growth made. So the size never grows while the kernel may hold such
    a page: before a getattr answers with an end past the largest it
    answered with, and before a write returns, the daemon has the kernel
    drop the topic's pages if a cached read of the topic ended short since
    it last did, or is in the daemon now (the kernel waits for the pages of
    reads still out). */
typedef struct fs_pcrace {
    uint32_t topic_id;
    uint64_t shorts;   /* cached reads of the topic that ended short */
    uint64_t dropped;  /* shorts when the kernel last dropped its pages */
    uint64_t told_end; /* the largest end offset a getattr answered with */
    unsigned dropping; /* drops in progress: getattrs answer told_end */
} fs_pcrace_t;

/*  An open file. Three locks so that no side waits for another:
    wmu serialises writers (line buffer, appender), cmu guards the
    completion counters the appender's callback updates, rmu the read side
    (a .follow read may block in it for long). base is read without rmu by
    getattr, atomically. */
typedef struct fs_file {
    struct fs_file *prev, *next; /* in vl_fs.files, under fs->mu */
    char topic[256];
    uint32_t topic_id; /* the topic of that name at open time */
    bool follow;
    bool cached; /* read through the kernel's page cache (-o pagecache):
                    base follows the trim point (read.c) */
    bool reading; /* a cached read is in the daemon, under fs->mu */
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

static inline vl_fs_t *s_fs(void)
{
    return fuse_get_context()->private_data;
}

static inline int s_errno(int rc)
{
    int e = vl_err_errno(rc);
    return e ? e : EIO;
}

/*  ---- fs.c: paths ---------------------------------------------------------- */

typedef enum { P_ROOT, P_FOLLOW_DIR, P_TOPIC, P_BAD } path_kind_t;

/*  Splits a path into its kind and topic name. */
path_kind_t vl_fs_path(const char *path, char *topic, bool *follow);

/*  ---- meta.c: the metadata cache and attributes ----------------------------- */

/*  Refreshes fs->meta when older than its maximum age (or always, with
    force); fs->mu held. Returns 0 or the error of the refresh. */
int vl_fs_meta_refresh_locked(vl_fs_t *fs, bool force);

/*  Copies the cached info of topic name. Returns 0, VL_ENOTOPIC or the
    error of the refresh. */
int vl_fs_meta_topic(vl_fs_t *fs, const char *name, bool force, vl_topic_info_t *out);

/*  The same for what does not depend on sizes (that the topic exists, its
    id): a close since the last refresh does not make the cache stale. */
int vl_fs_meta_topic_name(vl_fs_t *fs, const char *name, vl_topic_info_t *out);

int vl_fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int vl_fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                  struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int vl_fs_getxattr(const char *path, const char *name, char *value, size_t size);
int vl_fs_listxattr(const char *path, char *list, size_t size);
int vl_fs_statfs(const char *path, struct statvfs *sv);

/*  -o pagecache: tells the kernel to drop the cached pages of topic name
    (it waits for the pages of reads still out to the daemon first). Call
    with no lock held, from an operation that holds no page of a topic
    file locked in the kernel (getattr, write), never from read. */
void vl_fs_inval_topic(const char *name);

/*  -o pagecache: tells the kernel to drop the cached pages of the topics
    queued in fs->inval. Call from an operation that holds no page of a
    topic file locked in the kernel (getattr), never from read. */
void vl_fs_inval_flush(vl_fs_t *fs);

/*  ---- read.c ------------------------------------------------------------------ */

int vl_fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);

/*  -o pagecache: the end offset a getattr of topic topic_id (name) answers
    with when the log's is end. Past what it answered with before, and with
    the kernel maybe holding a page a read ended short in (fs_pcrace_t),
    it first has the kernel drop the topic's pages, or, while another
    thread does, answers with what it answered before. Takes fs->mu; holds
    no lock while the kernel drops the pages. */
uint64_t vl_fs_pc_getattr(vl_fs_t *fs, const char *name, uint32_t topic_id, uint64_t end);

/*  -o pagecache: the same before a write to f returns (its lines handed
    to the appender), whatever the end. */
void vl_fs_pc_write(vl_fs_t *fs, const fs_file_t *f);

/*  ---- write.c: open files and the appenders ------------------------------------ */

int vl_fs_open(const char *path, struct fuse_file_info *fi);
int vl_fs_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int vl_fs_write(const char *path, const char *buf, size_t size, off_t off,
                struct fuse_file_info *fi);
int vl_fs_flush(const char *path, struct fuse_file_info *fi);
int vl_fs_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int vl_fs_release(const char *path, struct fuse_file_info *fi);

/*  Frees an open file's read side and itself (its writes are done). */
void vl_fs_file_free(fs_file_t *f);

/*  Drops a reference (NULL-safe); the last one of an unlinked appender
    destroys it, outside fs->mu because destroying waits for callbacks. */
void vl_fs_appender_put(vl_fs_t *fs, fs_appender_t *a);

#endif
