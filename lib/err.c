/*  err.c - messages, names and errno values of the VL_E* codes. */
#include <errno.h>
#include "varlog_err.h"

#define VL_ERR_MSG(name, code, errno_, msg) [code] = msg,
static const char *s_msgs[] = {VL_ERRORS(VL_ERR_MSG)};
#define VL_ERR_NAME(name, code, errno_, msg) [code] = #name,
static const char *s_names[] = {VL_ERRORS(VL_ERR_NAME)};
#define VL_ERR_ERRNO(name, code, errno_, msg) [code] = errno_,
static const int s_errnos[] = {VL_ERRORS(VL_ERR_ERRNO)};

const char *vl_err_str(int rc)
{
    if (rc < 0 || rc >= VL_ERR_MAX || !s_msgs[rc])
        return "unknown error";
    return s_msgs[rc];
}

const char *vl_err_name(int rc)
{
    if (rc < 0 || rc >= VL_ERR_MAX || !s_names[rc])
        return "VL_E?";
    return s_names[rc];
}

int vl_err_errno(int rc)
{
    if (rc < 0 || rc >= VL_ERR_MAX)
        return EIO;
    return s_errnos[rc];
}
