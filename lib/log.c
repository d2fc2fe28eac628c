/*  log.c - timestamped, levelled log lines on stderr for the daemons. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "log.h"

int vl_log_level = LOG_INFO;
static char s_component[64] = "varlog";

static const char *s_level_names[] = {"EMERG", "ALERT",  "CRIT", "ERROR",
                                      "WARN",  "NOTICE", "INFO", "DEBUG"};

void vl_log_init(const char *component, int level)
{
    snprintf(s_component, sizeof s_component, "%s", component);
    vl_log_level = level;
}

int vl_log_level_parse(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"error", LOG_ERR},   {"warning", LOG_WARNING}, {"warn", LOG_WARNING},
                  {"notice", LOG_NOTICE}, {"info", LOG_INFO},     {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(levels[i].name, name) == 0)
            return levels[i].level;
    return -1;
}

void vl_log_emit(int level, const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), s_component,
                     s_level_names[level & 7]);
    va_list ap;
    va_start(ap, fmt);
    if (n < (int)sizeof line)
        n += vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1)
        n = sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}
