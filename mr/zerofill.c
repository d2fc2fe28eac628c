/*  zerofill.c - the raft log's open segments as blocks already written,
    not as unwritten extents: posix_fallocate for libraft.

    libraft (0.15) prepares each open segment of the raft log ahead of
    time with posix_fallocate, then writes it with O_DIRECT and RWF_DSYNC.
    On ext4 and XFS fallocate makes unwritten extents: the first write to
    each block converts its extent, a metadata change that the synced
    write must commit to the file system's journal before it returns, and
    the journal is shared by every file on the disk (the SNs' entry logs
    too). A write over blocks already written only writes the data. On
    this project's test machine (virtio disk, ext4), 4 KiB synced writes
    at queue depth 1 (fio, libaio, O_DIRECT, O_DSYNC): 170 us into
    fallocated space, 113 us over written zeros. Each commit round waits
    for one of these writes, so it is on every append's path.

    So varlogmr defines posix_fallocate, which the dynamic linker binds
    libraft's calls to before glibc's (an executable's definitions come
    first, as a program's own malloc does): the part of the range beyond
    the end of the file is written with zeros, synced and dropped from the
    page cache (libraft reads and writes the segment with O_DIRECT); the
    part within the file, whose bytes must not change, is allocated with
    fallocate as before. The result is what POSIX asks of posix_fallocate
    (the space is allocated, the file is at least offset + len long, new
    bytes read as zeros, existing bytes unchanged). The cost: each segment
    is written twice (the zeros in libraft's thread pool, ahead of use).
    Nothing else in varlogmr calls posix_fallocate (RocksDB calls
    fallocate).

    Errors are returned as posix_fallocate returns them (an errno value);
    EOPNOTSUPP from fallocate makes libraft fall back to its own
    emulation, as with glibc's.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"
#include "zerofill.h"

#define S_ALIGN 4096 /* O_DIRECT's alignment, enough for any block size here */

/*  Writes zeros over [from, end) of fd, which is at or beyond the end of
    the file, and syncs them. 0 or an errno value. */
static int s_zero(int fd, off_t from, off_t end)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return errno;
    if ((flags & O_DIRECT) && (from % S_ALIGN || end % S_ALIGN))
        return EINVAL; /* the caller then allocates it with fallocate */
    int rc = vl_pwrite_zeros(fd, (uint64_t)from, (uint64_t)end);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = errno;
    if (rc == 0)
        (void)posix_fadvise(fd, from, end - from, POSIX_FADV_DONTNEED);
    return rc;
}

int vl_zerofill(int fd, off_t offset, off_t len)
{
    if (offset < 0 || len <= 0)
        return EINVAL;
    if (len > INT64_MAX - offset)
        return EFBIG;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    off_t end = offset + len;
    off_t from = offset > st.st_size ? offset : st.st_size;
    if (!S_ISREG(st.st_mode) || from >= end || s_zero(fd, from, end) != 0)
        from = end; /* all of it with fallocate, as glibc's posix_fallocate would */
    if (from > offset && fallocate(fd, 0, offset, from - offset) != 0)
        return errno;
    return 0;
}

int posix_fallocate(int fd, off_t offset, off_t len)
{
    return vl_zerofill(fd, offset, len);
}
