/*  varlog_err.h - error codes of varlog.

    Every fallible function returns 0 or a positive VL_E* code. The codes are
    stable: they travel on the wire in the status field of replies. The table
    below is the single place that gives each code its errno (what varlogfs
    answers) and its message.
*/
#ifndef VARLOG_ERR_H
#define VARLOG_ERR_H

#define VL_ERRORS(X)                                                                 \
    X(VL_OK, 0, 0, "success")                                                        \
    X(VL_EINVAL, 1, EINVAL, "invalid argument")                                      \
    X(VL_ENOMEM, 2, ENOMEM, "out of memory")                                         \
    X(VL_EIO, 3, EIO, "I/O error")                                                   \
    X(VL_EPROTO, 4, EPROTO, "malformed message")                                     \
    X(VL_EVERSION, 5, EPROTO, "unsupported protocol version")                        \
    X(VL_ETIMEDOUT, 6, ETIMEDOUT, "timed out waiting for the cluster")               \
    X(VL_ENOTOPIC, 7, ENOENT, "no such topic")                                       \
    X(VL_EEXIST, 8, EEXIST, "already exists")                                        \
    X(VL_ENOLS, 9, ENOENT, "no such log stream")                                     \
    X(VL_ENOSN, 10, ENOENT, "no such storage node")                                  \
    X(VL_ETOOBIG, 11, EFBIG, "entry larger than the maximum entry size")             \
    X(VL_ETRIMMED, 12, EIO, "range already trimmed")                                 \
    X(VL_ESEALED, 13, EROFS, "log stream is sealed")                                 \
    X(VL_EUNAVAIL, 14, EIO, "not enough storage nodes available")                    \
    X(VL_ENAME, 15, EINVAL, "invalid topic name (use [A-Za-z0-9._-]{1,255}, not starting with '.')") \
    X(VL_ESTORE, 16, EIO, "storage error")                                           \
    X(VL_EGAP, 17, EIO, "replica is behind; resend from its end")                    \
    X(VL_ERANGE, 18, ERANGE, "position beyond the end of the log")                   \
    X(VL_EEOF, 19, 0, "end of the requested range")                                  \
    X(VL_ECLUSTER, 20, EPROTO, "message from another cluster")                       \
    X(VL_EBUSY, 21, EBUSY, "resource in use")                                        \
    X(VL_ENOSPC, 22, ENOSPC, "no space left on storage")                             \
    X(VL_ECLOSED, 23, EBADF, "object already closed")                                \
    X(VL_ESTALE, 24, EIO, "log stream sealed or unsealed since; resend")             \
    X(VL_ENOTLEADER, 25, EAGAIN, "not the metadata repository's leader")

#define VL_ERR_ENUM(name, code, errno_, msg) name = code,
enum { VL_ERRORS(VL_ERR_ENUM) VL_ERR_MAX };
#undef VL_ERR_ENUM

/*  Returns a static message for a VL_E* code ("unknown error" otherwise). */
const char *vl_err_str(int rc);

/*  Returns the errno that stands for a VL_E* code (EIO for unknown codes). */
int vl_err_errno(int rc);

/*  Returns the symbolic name of a code ("VL_ETRIMMED"). */
const char *vl_err_name(int rc);

#endif
