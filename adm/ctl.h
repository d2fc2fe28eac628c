/*  ctl.h - the pieces varlogctl's command files share (private).

    ctl.c holds main, option parsing, help texts and the output helpers;
    ctl_admin.c the admin commands (sn, topic, ls, status, mr) that go through
    varlogadm; ctl_data.c the data commands (append, subscribe, trim) that
    go through libvarlog; ctl_bench*.c the load generator (bench), with
    its own private header ctl_bench_i.h. Every command returns the
    process exit status: 0 success, 1 failure (one line on stderr), 2 usage
    error.
*/
#ifndef VL_CTL_H
#define VL_CTL_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "wire.h"

#define VL_CTL_ADM_DEFAULT "tcp://127.0.0.1:9090"
#define VL_CTL_MR_DEFAULT "tcp://127.0.0.1:9092"
#define VL_CTL_TIMEOUT_MS_DEFAULT 5000

typedef struct {
    const char *adm; /* admin endpoint */
    const char *mr;  /* metadata repository endpoints */
    bool json;
    int timeout_ms;
    bool help;         /* --help seen after the command */
    bool output_gone;  /* stdout's reader went away (EPIPE): not an error */
    const char *group; /* "topic", for help hints */
    char cmd[64];      /* "topic create", prefix of error messages */
} vl_ctl_t;

/*  ---- options ---------------------------------------------------------- */

/*  An option of a command: --name (and -letter when letter is not 0),
    taking a value when has_arg. */
typedef struct {
    const char *name;
    char letter;
    bool has_arg;
} vl_ctl_opt_t;

/*  Parses argv (the words after the command) in any order: global options
    (--adm, --mr, --json, --timeout, --help) are applied to ctl; the
    command's options (opts, terminated by a {NULL}) set vals[i] to their
    value ("" for a flag; NULL when absent); other words go to pos (at most
    maxpos, counted in *npos). "--" ends the options. Returns 0, or 2 after
    printing a usage error. */
int vl_ctl_parse(vl_ctl_t *ctl, int argc, char **argv, const vl_ctl_opt_t *opts, const char **vals,
                 char **pos, int maxpos, int *npos);

/*  Parses the words of a command group that takes no options: the
    subcommand and its arguments land in pos. Returns -1 when the caller
    should go on, else the exit status (help printed or usage error)
    (ctl_admin.c). */
int vl_ctl_parse_plain(vl_ctl_t *ctl, int argc, char **argv, char **pos, int maxpos, int *npos);

/*  Sets the prefix of messages to "GROUP SUB" (ctl_admin.c). */
void vl_ctl_cmd_name(vl_ctl_t *ctl, const char *sub);

/*  Parses a decimal number in [min, max] for option or argument what;
    returns 0, or 2 after printing a usage error. */
int vl_ctl_number(vl_ctl_t *ctl, const char *what, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out);

/*  Prints "varlogctl: CMD: message" on stderr; returns 1. */
int vl_ctl_fail(vl_ctl_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Prints "varlogctl: CMD: message; see 'varlogctl GROUP --help'" on
    stderr; returns 2. */
int vl_ctl_usage(vl_ctl_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Prints the help of a command group ("sn", "topic", ...) on stdout;
    returns 0. */
int vl_ctl_help(const char *group);

/*  ---- talking to varlogadm ----------------------------------------------- */

/*  Sends a request to the admin and waits --timeout for its reply. On 0,
    *reply_p is the reply (caller owns it) and body its body. Otherwise
    prints the error (the admin's, which forwards the MR's) and returns 1. */
int vl_ctl_adm_call(vl_ctl_t *ctl, uint16_t type, const vl_wbuf_t *body, zmsg_t **reply_p,
                    vl_rbuf_t *rbody);

/*  STATUS through the admin: fills meta (caller frees it with
    vl_meta_free) and mr (the admin's MR endpoints, size mr_size). Returns
    0, or 1 after printing the error. */
int vl_ctl_status_fetch(vl_ctl_t *ctl, vl_meta_t *meta, char *mr, size_t mr_size);

/*  ---- output ------------------------------------------------------------------ */

/*  Writes s (len bytes) as a JSON string, quotes included; bytes that are
    not printable ASCII are escaped as \u00XX, so any entry prints as
    valid JSON (non-ASCII bytes are shown one by one, not decoded). */
void vl_ctl_json_str(FILE *out, const char *s, size_t len);

/*  A text table whose columns are aligned when printed. Rows (the header
    is a row too) are added as one string with cells separated by '\t'. */
typedef struct vl_ctl_table vl_ctl_table_t;
vl_ctl_table_t *vl_ctl_table_new(void);
void vl_ctl_table_add(vl_ctl_table_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*  Prints the table to out and destroys it. */
void vl_ctl_table_print(vl_ctl_table_t **t_p, FILE *out);

/*  Name of a log stream state ("RUNNING"). */
const char *vl_ctl_ls_state(uint8_t state);

/*  ---- commands --------------------------------------------------------------- */

int vl_ctl_cmd_sn(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_topic(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_ls(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_status(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_mr(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_kov(vl_ctl_t *ctl, int argc, char **argv); /* ctl_kov.c */
int vl_ctl_cmd_append(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_subscribe(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_trim(vl_ctl_t *ctl, int argc, char **argv);
int vl_ctl_cmd_bench(vl_ctl_t *ctl, int argc, char **argv);

#endif
