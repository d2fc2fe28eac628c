/*  opt.h - the option table of a daemon: command line, config file, --help.

    One table per daemon (Redis's static_configs[]) names every option once;
    the parser reads `--name VALUE`, `--name=VALUE` and flags from argv,
    `name = value` lines from the file given with --config, checks each
    value against its type and range and writes it through the entry's
    destination pointer. Command-line options override the file, which
    overrides whatever the caller stored as defaults. --help is printed from
    the same table, so the two cannot disagree.

    Errors are one line, "PROG: FILE:LINE: MSG; see PROG --help" or
    "PROG: MSG; see PROG --help", and the caller exits 2 (private header).
*/
#ifndef VL_OPT_H
#define VL_OPT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    VL_OPT_FLAG,      /* bool *: true when given; in a file `name` or `name = yes|no` */
    VL_OPT_STRING,    /* const char **: borrowed from argv, or owned by the parser */
    VL_OPT_INT,       /* int *, a decimal in [min, max] */
    VL_OPT_UINT,      /* uint32_t *, a decimal in [min, max] */
    VL_OPT_SIZE,      /* uint64_t *, bytes with an optional K, M or G suffix, in [min, max] */
    VL_OPT_ENUM,      /* int *: values[i] (or i) for the word choices[i] */
    VL_OPT_LOG_LEVEL, /* int *: a syslog level, as vl_log_level_parse reads it */
    VL_OPT_CONFIG,    /* --config FILE (command line only) */
    VL_OPT_HELP,      /* --help: print the help to stdout, exit 0 */
    VL_OPT_VERSION    /* --version: print the version line, exit 0 */
} vl_opt_type_t;

typedef struct {
    const char *name; /* long name without "--"; also the config-file name */
    vl_opt_type_t type;
    const char *metavar;        /* shown in --help after the name; NULL for flags */
    const char *help;           /* '\n' starts an indented continuation line */
    void *dest;                 /* typed as vl_opt_type_t says; NULL for CONFIG/HELP/VERSION */
    int64_t min, max;           /* INT, UINT, SIZE */
    const char *const *choices; /* ENUM: NULL-terminated words */
    const int *values;          /* ENUM: value of each word; NULL: its index */
} vl_opt_def_t;

/*  Table entries, one macro per type (designated initializers, so the
    fields a type does not use stay zero). */
#define VL_OPT_STRING_DEF(n, meta, h, d)                                                           \
    {                                                                                              \
        .name = (n), .type = VL_OPT_STRING, .metavar = (meta), .help = (h), .dest = (d)            \
    }
#define VL_OPT_INT_DEF(n, meta, h, d, lo, hi)                                                      \
    {                                                                                              \
        .name = (n), .type = VL_OPT_INT, .metavar = (meta), .help = (h), .dest = (d), .min = (lo), \
        .max = (hi)                                                                                \
    }
#define VL_OPT_UINT_DEF(n, meta, h, d, lo, hi)                                                     \
    {                                                                                              \
        .name = (n), .type = VL_OPT_UINT, .metavar = (meta), .help = (h), .dest = (d),             \
        .min = (lo), .max = (hi)                                                                   \
    }
#define VL_OPT_SIZE_DEF(n, meta, h, d, lo, hi)                                                     \
    {                                                                                              \
        .name = (n), .type = VL_OPT_SIZE, .metavar = (meta), .help = (h), .dest = (d),             \
        .min = (lo), .max = (hi)                                                                   \
    }
#define VL_OPT_ENUM_DEF(n, meta, h, d, words, vals)                                                \
    {                                                                                              \
        .name = (n), .type = VL_OPT_ENUM, .metavar = (meta), .help = (h), .dest = (d),             \
        .choices = (words), .values = (vals)                                                       \
    }
#define VL_OPT_FLAG_DEF(n, h, d)                                                                   \
    {                                                                                              \
        .name = (n), .type = VL_OPT_FLAG, .help = (h), .dest = (d)                                 \
    }
#define VL_OPT_LOG_LEVEL_DEF(n, meta, h, d)                                                        \
    {                                                                                              \
        .name = (n), .type = VL_OPT_LOG_LEVEL, .metavar = (meta), .help = (h), .dest = (d)         \
    }
/*  --config FILE, with the same help text in every daemon */
#define VL_OPT_CONFIG_DEF()                                                                        \
    {                                                                                              \
        .name = "config", .type = VL_OPT_CONFIG, .metavar = "FILE",                                \
        .help = "read options from FILE, one 'name = value' a line;\n"                             \
                "command-line options override it"                                                 \
    }
#define VL_OPT_HELP_DEF(h)                                                                         \
    {                                                                                              \
        .name = "help", .type = VL_OPT_HELP, .help = (h)                                           \
    }
#define VL_OPT_VERSION_DEF(h)                                                                      \
    {                                                                                              \
        .name = "version", .type = VL_OPT_VERSION, .help = (h)                                     \
    }

/*  How --help lays out the table: the name in a 24-column left column with
    the help beside it, or on a line of its own with the help indented below. */
typedef enum { VL_OPT_STYLE_COLUMNS, VL_OPT_STYLE_INDENTED } vl_opt_style_t;

typedef struct {
    const char *prog;    /* "varlogsn": prefix of every error line */
    const char *usage;   /* --help text before the options, ending in "Options:\n" */
    const char *epilog;  /* --help text after the options, or NULL */
    const char *version; /* the --version line, without newline */
    vl_opt_style_t style;
} vl_opt_prog_t;

typedef struct vl_opt_t vl_opt_t;

/*  Both prog and defs are borrowed and must outlive the parser. */
vl_opt_t *vl_opt_new(const vl_opt_prog_t *prog, const vl_opt_def_t *defs, size_t ndefs);

/*  Frees the parser and every string value read from a config file, so
    destroy it only once the values are no longer used. NULL-safe. */
void vl_opt_destroy(vl_opt_t **self_p);

/*  Where --help/--version and error lines go (stdout and stderr unless
    set; tests point them at files). */
void vl_opt_set_streams(vl_opt_t *self, FILE *out, FILE *err);

/*  Parses argv (and the --config file it names) into the destinations.
    Returns -1 when the daemon should run; otherwise the exit status: 0
    after --help or --version, 2 after a usage error, already printed and
    kept in vl_opt_error(). */
int vl_opt_parse(vl_opt_t *self, int argc, char **argv);

/*  The last error without the "PROG: " prefix and "; see" suffix. */
const char *vl_opt_error(vl_opt_t *self);

/*  Prints "PROG: MSG; see PROG --help" for a check the table cannot make
    (a required option, two options that must agree) and returns 2. */
int vl_opt_usage_error(vl_opt_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  The path given with --config, or NULL. */
const char *vl_opt_config_path(vl_opt_t *self);

#endif
