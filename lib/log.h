/*  log.h - the one logging function of the daemons (private).

    vl_log checks the level before it formats. Lines go to stderr (the
    daemons' stderr is their log file) as
    "2026-11-26T10:00:00.123Z varlogsn[sn1] INFO ls=7 llsn=1042: ...".
    The library never logs; only daemons and tools call this.
*/
#ifndef VL_LOG_H
#define VL_LOG_H
#include <syslog.h>

/*  Sets the component name printed on every line and the minimum level
    (LOG_ERR .. LOG_DEBUG). */
void vl_log_init(const char *component, int level);

/*  Parses "error|warning|notice|info|debug"; returns -1 when unknown. */
int vl_log_level_parse(const char *name);

extern int vl_log_level;
void vl_log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define vl_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= vl_log_level)                                                               \
            vl_log_emit((level), __VA_ARGS__);                                                     \
    } while (0)

#endif
