/*  meta.c - varlogfs: the metadata cache and what it answers: getattr,
    readdir, the extended attributes and statfs.

    Sizes come from a metadata cache refreshed at most every 10 ms, not from
    a round trip per stat, and at once after a close committed something
    (sizes_stale), so that a stat after a close shows it. What does not
    depend on sizes (a write-only open: does the topic exist, its id) takes
    the cache as long as it is 10 ms old at most, close or not.

    With -o pagecache the kernel keeps what plain reads returned. A file's
    modification time names the view its bytes come from (its nanoseconds
    are a hash of the topic id and the trim point the offsets start at), so
    the kernel, which checks the attributes on each read (auto_inval_data)
    and drops its pages when size or mtime changed, never serves pages of
    another view; a refresh that finds a topic trimmed, deleted or made anew
    also queues it, and the next getattr drops its pages explicitly
    (vl_fs_inval_flush), for pages filled by a read that ran across the
    change. Nor does a getattr grow the size over a page that a read ended
    short in (read.c: vl_fs_pc_getattr).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs_i.h"
#include "log.h"
#include "rpc.h"
#include "util.h"
#include "wire.h"

#define FS_META_MAX_AGE_US 10000

/* ---- metadata cache -------------------------------------------------- */

/*  -o pagecache: queues topic name for vl_fs_inval_flush; fs->mu held. */
static void s_inval_queue_locked(vl_fs_t *fs, const char *name)
{
    for (size_t i = 0; i < fs->ninval; i++)
        if (strcmp(fs->inval[i], name) == 0)
            return;
    if (fs->ninval == fs->inval_cap) {
        fs->inval_cap = fs->inval_cap ? 2 * fs->inval_cap : 8;
        fs->inval = vl_realloc(fs->inval, fs->inval_cap * sizeof *fs->inval);
    }
    snprintf(fs->inval[fs->ninval++], sizeof fs->inval[0], "%s", name);
}

/*  Queues the topics of the old cache whose bytes moved in the new one:
    trimmed (the offsets start elsewhere), deleted or made anew; fs->mu
    held. */
static void s_inval_diff_locked(vl_fs_t *fs, const vl_topic_info_t *infos, size_t n)
{
    for (size_t i = 0; i < fs->meta.n; i++) {
        const vl_topic_info_t *o = &fs->meta.topics[i];
        size_t j = 0;
        while (j < n && strcmp(infos[j].name, o->name) != 0)
            j++;
        if (j == n || infos[j].topic_id != o->topic_id || infos[j].trim_offset != o->trim_offset)
            s_inval_queue_locked(fs, o->name);
    }
}

int vl_fs_meta_refresh_locked(vl_fs_t *fs, bool force)
{
    int64_t now = vl_now_us();
    if (!force && fs->meta.topics && !fs->meta.sizes_stale &&
        now - fs->meta.fetched_us < FS_META_MAX_AGE_US)
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
    if (fs->opts.page_cache)
        s_inval_diff_locked(fs, infos, n);
    free(fs->meta.topics);
    fs->meta.topics = infos;
    fs->meta.n = n;
    fs->meta.fetched_us = now;
    fs->meta.sizes_stale = false;
    fs->meta.rc = 0;
    return 0;
}

/*  Copies topic name's info out of the cache; fs->mu held. */
static int s_find_locked(vl_fs_t *fs, const char *name, vl_topic_info_t *out)
{
    for (size_t i = 0; i < fs->meta.n; i++)
        if (strcmp(fs->meta.topics[i].name, name) == 0) {
            *out = fs->meta.topics[i];
            return 0;
        }
    return VL_ENOTOPIC;
}

int vl_fs_meta_topic(vl_fs_t *fs, const char *name, bool force, vl_topic_info_t *out)
{
    pthread_mutex_lock(&fs->mu);
    int rc = vl_fs_meta_refresh_locked(fs, force);
    if (rc == 0 || fs->meta.topics)
        rc = s_find_locked(fs, name, out);
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

int vl_fs_meta_topic_name(vl_fs_t *fs, const char *name, vl_topic_info_t *out)
{
    pthread_mutex_lock(&fs->mu);
    int rc = 0;
    if (!fs->meta.topics || vl_now_us() - fs->meta.fetched_us >= FS_META_MAX_AGE_US)
        rc = vl_fs_meta_refresh_locked(fs, true);
    if (rc == 0 || fs->meta.topics)
        rc = s_find_locked(fs, name, out);
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

void vl_fs_inval_topic(const char *name)
{
    char path[258];
    snprintf(path, sizeof path, "/%s", name);
    /* -ENOENT: the kernel holds no inode of it, nothing is cached */
    fuse_invalidate_path(fuse_get_context()->fuse, path);
}

void vl_fs_inval_flush(vl_fs_t *fs)
{
    pthread_mutex_lock(&fs->mu);
    char(*names)[256] = fs->inval;
    size_t n = fs->ninval;
    fs->inval = NULL;
    fs->ninval = fs->inval_cap = 0;
    pthread_mutex_unlock(&fs->mu);
    for (size_t i = 0; i < n; i++)
        vl_fs_inval_topic(names[i]);
    free(names);
}

/* ---- attributes ------------------------------------------------------------ */

/*  The nanoseconds of the mtime of topic topic_id read from topic offset
    base (see the top of this file): splitmix64 of them. */
static long s_view_nsec(uint32_t topic_id, uint64_t base)
{
    uint64_t z = base ^ ((uint64_t)topic_id << 32) ^ 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (long)(z % 1000000000ULL);
}

static void s_fill_topic_stat(vl_fs_t *fs, const vl_topic_info_t *t, uint64_t base,
                              struct stat *st)
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
    if (fs->opts.page_cache)
        st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = s_view_nsec(t->topic_id, from);
}

int vl_fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    memset(st, 0, sizeof *st);
    switch (vl_fs_path(path, topic, &follow)) {
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
    int rc = vl_fs_meta_topic(fs, topic, false, &t);
    if (fs->opts.page_cache)
        vl_fs_inval_flush(fs);
    if (rc != 0)
        return -s_errno(rc);
    uint64_t base = t.trim_offset;
    if (fi && fi->fh) {
        fs_file_t *f = (fs_file_t *)(uintptr_t)fi->fh;
        /* a file read through the page cache shows the live view */
        if (!f->cached)
            base = __atomic_load_n(&f->base, __ATOMIC_RELAXED);
    }
    if (fs->opts.page_cache)
        t.end_offset = vl_fs_pc_getattr(fs, topic, t.topic_id, t.end_offset);
    s_fill_topic_stat(fs, &t, base, st);
    return 0;
}

int vl_fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                  struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    path_kind_t kind = vl_fs_path(path, topic, &follow);
    if (kind != P_ROOT && kind != P_FOLLOW_DIR)
        return -ENOTDIR;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    if (kind == P_ROOT)
        filler(buf, ".follow", NULL, 0, 0);
    pthread_mutex_lock(&fs->mu);
    int rc = vl_fs_meta_refresh_locked(fs, true);
    if (rc == 0)
        for (size_t i = 0; i < fs->meta.n; i++) {
            struct stat st;
            memset(&st, 0, sizeof st);
            /* (plain readdir: the kernel keeps no attributes from it) */
            s_fill_topic_stat(fs, &fs->meta.topics[i], fs->meta.topics[i].trim_offset, &st);
            filler(buf, fs->meta.topics[i].name, &st, 0, 0);
        }
    pthread_mutex_unlock(&fs->mu);
    return rc ? -s_errno(rc) : 0;
}

/* ---- extended attributes, statfs ----------------------------------------- */

static const char *s_xattrs[] = {"user.varlog.topic_id",    "user.varlog.first_glsn",
                                 "user.varlog.last_glsn",   "user.varlog.trim_point",
                                 "user.varlog.log_streams", "user.varlog.replication_factor"};
#define NXATTRS (sizeof s_xattrs / sizeof s_xattrs[0])

int vl_fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
    vl_fs_t *fs = s_fs();
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC)
        return -ENODATA;
    vl_topic_info_t t;
    int rc = vl_fs_meta_topic(fs, topic, true, &t);
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

int vl_fs_listxattr(const char *path, char *list, size_t size)
{
    char topic[256];
    bool follow;
    if (vl_fs_path(path, topic, &follow) != P_TOPIC)
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
int vl_fs_statfs(const char *path, struct statvfs *sv)
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
