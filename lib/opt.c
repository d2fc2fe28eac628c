/*  opt.c - the option table of a daemon: command line, config file, --help.

    Parsing runs in three passes so that the precedence is simple to see:
    (1) walk argv, resolve every name and remember its value text, stopping
    at --help or --version; (2) apply the --config file line by line; (3)
    apply the remembered command-line values, which thereby override the
    file. Values are checked when applied, so a bad value in the file names
    its file and line and one on the command line names its option.

    No getopt_long: it permutes argv, keeps global state and cannot read a
    file; the loop below is shorter than the glue around it was.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "opt.h"
#include "util.h"

#define S_MAX_LINE 4096

typedef struct {
    const vl_opt_def_t *def;
    const char *value; /* borrowed from argv; NULL for flags */
} s_pending_t;

struct vl_opt_t {
    const vl_opt_prog_t *prog;
    const vl_opt_def_t *defs;
    size_t ndefs;
    FILE *out, *err;
    const char *config; /* borrowed from argv */
    char **owned;       /* string values read from the file */
    size_t nowned;
    char error[512];
};

vl_opt_t *vl_opt_new(const vl_opt_prog_t *prog, const vl_opt_def_t *defs, size_t ndefs)
{
    vl_opt_t *self = vl_calloc(1, sizeof *self);
    self->prog = prog;
    self->defs = defs;
    self->ndefs = ndefs;
    self->out = stdout;
    self->err = stderr;
    return self;
}

void vl_opt_destroy(vl_opt_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vl_opt_t *self = *self_p;
    for (size_t i = 0; i < self->nowned; i++)
        free(self->owned[i]);
    free(self->owned);
    free(self);
    *self_p = NULL;
}

void vl_opt_set_streams(vl_opt_t *self, FILE *out, FILE *err)
{
    self->out = out;
    self->err = err;
}

const char *vl_opt_error(vl_opt_t *self)
{
    return self->error;
}

const char *vl_opt_config_path(vl_opt_t *self)
{
    return self->config;
}

static void s_seterr(vl_opt_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_seterr(vl_opt_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
}

static int s_report(vl_opt_t *self)
{
    fprintf(self->err, "%s: %s; see %s --help\n", self->prog->prog, self->error, self->prog->prog);
    return 2;
}

int vl_opt_usage_error(vl_opt_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
    return s_report(self);
}

static void s_help(vl_opt_t *self)
{
    FILE *out = self->out;
    fputs(self->prog->usage, out);
    for (size_t i = 0; i < self->ndefs; i++) {
        const vl_opt_def_t *d = &self->defs[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", d->name, d->metavar ? " " : "",
                 d->metavar ? d->metavar : "");
        const char *h = d->help;
        if (self->prog->style == VL_OPT_STYLE_INDENTED) {
            fprintf(out, "  %s\n        ", left);
            for (; *h; h++)
                if (*h == '\n')
                    fputs("\n        ", out);
                else
                    fputc(*h, out);
            fputc('\n', out);
            continue;
        }
        for (int first = 1; first || *h; first = 0) {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(out, "  %-24s %.*s\n", first ? left : "", len, h);
            h += len + (nl ? 1 : 0);
        }
    }
    if (self->prog->epilog)
        fputs(self->prog->epilog, out);
}

/*  Parses a decimal, or with suffixes a size in bytes (powers of 1024),
    in [min, max]. */
static int s_number(const char *s, bool suffixes, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    bool neg = s[0] == '-';
    if (neg && min >= 0)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    int64_t mult = 1;
    if (suffixes && (*end == 'K' || *end == 'k'))
        mult = 1ll << 10;
    else if (suffixes && (*end == 'M' || *end == 'm'))
        mult = 1ll << 20;
    else if (suffixes && (*end == 'G' || *end == 'g'))
        mult = 1ll << 30;
    if (mult > 1)
        end++;
    if (*end || v > INT64_MAX / mult || v < INT64_MIN / mult)
        return -1;
    v *= mult;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static const char *s_size_text(int64_t v, char *buf, size_t len)
{
    static const char units[] = "KMG";
    int u = -1;
    while (u < 2 && v != 0 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%lld%c", (long long)v, units[u]);
    return buf;
}

/*  Stores value (text; NULL for a flag given without one) in d->dest.
    where is "--name" on the command line or "FILE:LINE: name" in a file.
    A STRING keeps the pointer: argv, or a copy the parser owns (file). */
static int s_apply(vl_opt_t *self, const vl_opt_def_t *d, const char *value, const char *where)
{
    int64_t n;
    switch (d->type) {
    case VL_OPT_FLAG:
        if (!value || !strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on") ||
            !strcmp(value, "1"))
            *(bool *)d->dest = true;
        else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off") ||
                 !strcmp(value, "0"))
            *(bool *)d->dest = false;
        else {
            s_seterr(self, "%s: '%s' is not yes or no", where, value);
            return -1;
        }
        return 0;
    case VL_OPT_STRING:
        *(const char **)d->dest = value;
        return 0;
    case VL_OPT_INT:
    case VL_OPT_UINT:
        if (s_number(value, false, d->min, d->max, &n) != 0) {
            s_seterr(self, "%s: '%s' is not a number from %lld to %lld", where, value,
                     (long long)d->min, (long long)d->max);
            return -1;
        }
        if (d->type == VL_OPT_INT)
            *(int *)d->dest = (int)n;
        else
            *(uint32_t *)d->dest = (uint32_t)n;
        return 0;
    case VL_OPT_SIZE:
        if (s_number(value, true, d->min, d->max, &n) != 0) {
            char lo[32], hi[32];
            s_seterr(self, "%s: '%s' is not a size from %s to %s (K, M, G suffixes allowed)", where,
                     value, s_size_text(d->min, lo, sizeof lo), s_size_text(d->max, hi, sizeof hi));
            return -1;
        }
        *(uint64_t *)d->dest = (uint64_t)n;
        return 0;
    case VL_OPT_ENUM: {
        char list[256] = "";
        for (int i = 0; d->choices[i]; i++) {
            if (strcmp(d->choices[i], value) == 0) {
                *(int *)d->dest = d->values ? d->values[i] : i;
                return 0;
            }
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", d->choices[i]);
        }
        s_seterr(self, "%s: '%s' is not one of %s", where, value, list);
        return -1;
    }
    case VL_OPT_LOG_LEVEL: {
        int level = vl_log_level_parse(value);
        if (level < 0) {
            s_seterr(self, "%s: unknown level '%s' (use error, warning, notice, info or debug)",
                     where, value);
            return -1;
        }
        *(int *)d->dest = level;
        return 0;
    }
    default: /* CONFIG, HELP, VERSION: handled by the callers */
        return 0;
    }
}

static bool s_takes_value(const vl_opt_def_t *d)
{
    return d->type != VL_OPT_FLAG && d->type != VL_OPT_HELP && d->type != VL_OPT_VERSION;
}

/*  Finds a long option by its exact name or, on the command line, by an
    unambiguous prefix (getopt_long accepted those, so scripts may use them). */
static const vl_opt_def_t *s_find(vl_opt_t *self, const char *name, size_t len, bool prefix)
{
    const vl_opt_def_t *hit = NULL;
    int hits = 0;
    for (size_t i = 0; i < self->ndefs; i++) {
        const vl_opt_def_t *d = &self->defs[i];
        if (strncmp(d->name, name, len) != 0)
            continue;
        if (d->name[len] == '\0')
            return d;
        if (prefix) {
            hit = d;
            hits++;
        }
    }
    return hits == 1 ? hit : NULL;
}

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int s_read_config(vl_opt_t *self, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        s_seterr(self, "%s: cannot read the config file: %s", path, strerror(errno));
        return -1;
    }
    char *line = vl_malloc(S_MAX_LINE + 2);
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, S_MAX_LINE + 2, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len > S_MAX_LINE && line[len - 1] != '\n') {
            s_seterr(self, "%s:%d: line longer than %d characters", path, lineno, S_MAX_LINE);
            rc = -1;
            break;
        }
        /* '#' starts a comment at the start of a line or after blanks */
        for (char *p = line; *p; p++)
            if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
                *p = '\0';
                break;
            }
        char *s = s_trim(line);
        if (!*s)
            continue;
        char *name = s;
        size_t nlen = strcspn(s, " \t=");
        char *rest = s + nlen;
        bool has_eq = false;
        while (*rest == ' ' || *rest == '\t' || (*rest == '=' && !has_eq)) {
            if (*rest == '=')
                has_eq = true;
            rest++;
        }
        name[nlen] = '\0';
        char *value = s_trim(rest);
        const vl_opt_def_t *d = nlen ? s_find(self, name, nlen, false) : NULL;
        if (!d) {
            s_seterr(self, "%s:%d: unknown option '%s'", path, lineno, nlen ? name : s);
            rc = -1;
        } else if (d->type == VL_OPT_CONFIG || d->type == VL_OPT_HELP ||
                   d->type == VL_OPT_VERSION) {
            s_seterr(self, "%s:%d: '%s' is a command-line option, not a config-file one", path,
                     lineno, name);
            rc = -1;
        } else if (s_takes_value(d) && !*value) {
            s_seterr(self, "%s:%d: %s needs a value (%s)", path, lineno, name,
                     d->metavar ? d->metavar : "VALUE");
            rc = -1;
        } else {
            char where[S_MAX_LINE + 64];
            snprintf(where, sizeof where, "%s:%d: %s", path, lineno, name);
            const char *v = NULL;
            if (*value || has_eq) {
                char *copy = vl_strdup(value);
                self->owned = vl_realloc(self->owned, (self->nowned + 1) * sizeof *self->owned);
                self->owned[self->nowned++] = copy;
                v = copy;
            }
            if (s_apply(self, d, v, where) != 0)
                rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        s_seterr(self, "%s: cannot read the config file: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int vl_opt_parse(vl_opt_t *self, int argc, char **argv)
{
    s_pending_t *pending = vl_calloc((size_t)(argc > 0 ? argc : 1), sizeof *pending);
    size_t npending = 0;
    int status = -1;
    self->error[0] = '\0';

    /* (1) names and value texts, in order; --help/--version end it early */
    for (int i = 1; i < argc && status < 0; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (i + 1 < argc) {
                s_seterr(self, "unexpected argument '%s'", argv[i + 1]);
                status = 2;
            }
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            s_seterr(self, "unexpected argument '%s'", arg);
            status = 2;
            break;
        }
        if (arg[1] != '-') {
            s_seterr(self, "unknown option '%s'", arg);
            status = 2;
            break;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const vl_opt_def_t *d = s_find(self, name, len, true);
        if (!d) {
            s_seterr(self, "unknown option '%.*s'", (int)(len + 2), arg);
            status = 2;
            break;
        }
        const char *value = NULL;
        if (s_takes_value(d)) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                s_seterr(self, "--%s needs a value (%s)", d->name,
                         d->metavar ? d->metavar : "VALUE");
                status = 2;
                break;
            }
        } else if (eq) {
            s_seterr(self, "--%s takes no value", d->name);
            status = 2;
            break;
        }
        switch (d->type) {
        case VL_OPT_HELP:
            s_help(self);
            status = 0;
            break;
        case VL_OPT_VERSION:
            fprintf(self->out, "%s\n", self->prog->version);
            status = 0;
            break;
        case VL_OPT_CONFIG:
            self->config = value;
            break;
        default:
            pending[npending++] = (s_pending_t){d, value};
            break;
        }
    }
    /* (2) the file, (3) the command line over it */
    if (status < 0 && self->config && s_read_config(self, self->config) != 0)
        status = 2;
    for (size_t i = 0; i < npending && status < 0; i++) {
        char where[128];
        snprintf(where, sizeof where, "--%s", pending[i].def->name);
        if (s_apply(self, pending[i].def, pending[i].value, where) != 0)
            status = 2;
    }
    free(pending);
    if (status == 2)
        s_report(self);
    return status;
}
