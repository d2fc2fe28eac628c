/*  notify.h - tell a service manager how a daemon is doing (systemd's
    sd_notify protocol, Type=notify units in dist/systemd/).

    Each daemon says READY once it serves (its sockets bound, its state
    loaded), STOPPING when it begins to shut down, and a one-line STATUS
    that `systemctl status` shows. Outside systemd (no $NOTIFY_SOCKET) every
    call does nothing, so tests and shells see no difference.
*/
#ifndef VL_NOTIFY_H
#define VL_NOTIFY_H

/*  READY=1 with a STATUS line (printf format; may be NULL). */
void vl_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*  STOPPING=1 with a STATUS line (may be NULL). */
void vl_notify_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
