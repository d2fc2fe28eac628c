/*  notify.c - sd_notify for the daemons (notify.h).

    Linked into the daemons only (not into libvarlog: an application that
    uses the library has its own relation with its service manager).
*/
#include "notify.h"
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include "log.h"

static void s_notify(const char *state, const char *fmt, va_list ap)
{
    char status[256] = "";
    if (fmt)
        vsnprintf(status, sizeof status, fmt, ap);
    /* A failure to notify is not a reason to stop serving: systemd then
       times the unit out itself, with its own message. */
    int rc = *status ? sd_notifyf(0, "%s\nSTATUS=%s", state, status) : sd_notify(0, state);
    if (rc < 0)
        vl_log(LOG_WARNING, "cannot tell the service manager %s (sd_notify: error %d)", state,
               -rc);
}

void vl_notify_ready(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_notify("READY=1", fmt, ap);
    va_end(ap);
}

void vl_notify_stopping(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_notify("STOPPING=1", fmt, ap);
    va_end(ap);
}
