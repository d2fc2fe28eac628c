/*  zerofill.h - posix_fallocate that writes the new space (zerofill.c):
    libraft's raft log segments as written blocks. */
#ifndef VL_ZEROFILL_H
#define VL_ZEROFILL_H

#include <sys/types.h>

/*  posix_fallocate's contract (0 or an errno value): [offset, offset +
    len) of fd is allocated and the file is at least offset + len bytes
    long; the part beyond the file's old end is written with zeros and
    synced, the part within it allocated with fallocate (its bytes stay
    as they were). varlogmr's posix_fallocate is this function. */
int vl_zerofill(int fd, off_t offset, off_t len);

#endif
