/*  test_opt.c - the option table parser (lib/opt.c): command line, config
    file, their precedence, --help/--version and every error path.

    Each test parses into a fresh struct of destinations with the streams
    pointed at memory, so the messages a daemon would print are checked
    word for word.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "log.h"
#include "opt.h"

typedef struct {
    const char *listen, *data;
    int ms, level, sync;
    uint32_t id;
    uint64_t size;
    bool flag;
    vl_opt_t *opt;
    char *out, *err;
    size_t outlen, errlen;
    FILE *outf, *errf;
    char dir[64];
    vl_opt_def_t defs[12];
    char *args[256];
    int nargs;
} fx_t;

static const char *const s_sync_words[] = {"always", "none", NULL};
static const int s_sync_values[] = {1, 0};

static const vl_opt_prog_t s_prog = {
    .prog = "varlogtest",
    .usage = "Usage: varlogtest [OPTION]...\nOptions:\n",
    .epilog = "The end.\n",
    .version = "varlogtest 1.2.3",
    .style = VL_OPT_STYLE_COLUMNS,
};

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->listen = "tcp://default:1";
    f->ms = 1000;
    f->level = LOG_INFO;
    f->sync = 1;
    f->id = 1;
    f->size = 1024;
    const vl_opt_def_t defs[] = {
        VL_OPT_STRING_DEF("listen", "ENDPOINT", "where to listen\n(default tcp://default:1)",
                          &f->listen),
        VL_OPT_STRING_DEF("data", "DIR", "data directory", &f->data),
        VL_OPT_INT_DEF("heartbeat-ms", "MS", "heartbeat", &f->ms, 1, 3600000),
        VL_OPT_INT_DEF("heartbeat-timeout-ms", "MS", "timeout", &f->ms, 1, 3600000),
        VL_OPT_UINT_DEF("cluster-id", "N", "cluster id", &f->id, 0, UINT32_MAX),
        VL_OPT_SIZE_DEF("max-entry-size", "BYTES", "largest entry", &f->size, 0, 1ll << 30),
        VL_OPT_ENUM_DEF("sync", "always|none", "fsync", &f->sync, s_sync_words, s_sync_values),
        VL_OPT_FLAG_DEF("no-auto-unseal", "manual unseal", &f->flag),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL", "level", &f->level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("show this help and exit"),
        VL_OPT_VERSION_DEF("show the version and exit"),
    };
    memcpy(f->defs, defs, sizeof defs);
    f->opt = vl_opt_new(&s_prog, f->defs, sizeof defs / sizeof defs[0]);
    f->outf = open_memstream(&f->out, &f->outlen);
    f->errf = open_memstream(&f->err, &f->errlen);
    vl_opt_set_streams(f->opt, f->outf, f->errf);
    strcpy(f->dir, "/tmp/test_opt.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    vl_opt_destroy(&f->opt);
    assert_null(f->opt);
    vl_opt_destroy(&f->opt); /* NULL-safe */
    fclose(f->outf);
    fclose(f->errf);
    free(f->out);
    free(f->err);
    char path[128];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    unlink(path);
    rmdir(f->dir);
    for (int i = 0; i < f->nargs; i++)
        free(f->args[i]);
    free(f);
    return 0;
}

/*  Starts a fresh error stream, so the next check sees one parse's output. */
static void s_reset_err(fx_t *f)
{
    fclose(f->errf);
    free(f->err);
    f->err = NULL;
    f->errf = open_memstream(&f->err, &f->errlen);
    vl_opt_set_streams(f->opt, f->outf, f->errf);
}

/*  Parses a NULL-terminated argument list after the program name. The
    copies live until teardown: string options borrow them, as from argv. */
static int s_parse(fx_t *f, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = f->args[f->nargs++] = strdup("varlogtest");
    va_list ap;
    va_start(ap, f);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = f->args[f->nargs++] = strdup(a);
    va_end(ap);
    int rc = vl_opt_parse(f->opt, argc, argv);
    fflush(f->outf);
    fflush(f->errf);
    return rc;
}

/*  Writes text to DIR/c.conf and returns its path (in a static buffer). */
static const char *s_conf(fx_t *f, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/c.conf", f->dir);
    FILE *c = fopen(path, "w");
    assert_non_null(c);
    fputs(text, c);
    fclose(c);
    return path;
}

/*  The parse failed with exit 2 and printed exactly "varlogtest: MSG; see ...". */
static void s_expect_error(fx_t *f, int rc, const char *msg)
{
    assert_int_equal(rc, 2);
    assert_string_equal(vl_opt_error(f->opt), msg);
    char line[1024];
    snprintf(line, sizeof line, "varlogtest: %s; see varlogtest --help\n", msg);
    assert_string_equal(f->err, line);
}

static void test_defaults_kept(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_parse(f, NULL), -1);
    assert_string_equal(f->listen, "tcp://default:1");
    assert_null(f->data);
    assert_int_equal(f->ms, 1000);
    assert_int_equal(f->size, 1024);
    assert_false(f->flag);
    assert_null(vl_opt_config_path(f->opt));
}

static void test_command_line(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_parse(f, "--listen", "tcp://a:2", "--data=/d", "--heartbeat-ms", "250",
                             "--cluster-id=4294967295", "--max-entry-size", "2M", "--sync", "none",
                             "--no-auto-unseal", "--log-level=debug", NULL),
                     -1);
    assert_string_equal(f->listen, "tcp://a:2");
    assert_string_equal(f->data, "/d");
    assert_int_equal(f->ms, 250);
    assert_int_equal(f->id, UINT32_MAX);
    assert_int_equal(f->size, 2 << 20);
    assert_int_equal(f->sync, 0);
    assert_true(f->flag);
    assert_int_equal(f->level, LOG_DEBUG);
    assert_string_equal(f->err, "");
}

static void test_prefix_and_empty_value(void **state)
{
    fx_t *f = *state;
    /* getopt_long took unambiguous prefixes; "--listen=" is an empty value */
    assert_int_equal(s_parse(f, "--dat", "/x", "--listen=", "--max", "1k", NULL), -1);
    assert_string_equal(f->data, "/x");
    assert_string_equal(f->listen, "");
    assert_int_equal(f->size, 1024);
}

static void test_config_file(void **state)
{
    fx_t *f = *state;
    const char *path = s_conf(f, "# a comment\n"
                                 "\n"
                                 "   \t\n"
                                 "listen = tcp://file:3   # trailing comment\n"
                                 "data /var/lib/x\n"
                                 "heartbeat-ms=42\n"
                                 "sync = none\n"
                                 "no-auto-unseal\n"
                                 "max-entry-size = 1G\r\n"
                                 "log-level warning\n"
                                 "cluster-id = 7"); /* no final newline */
    assert_int_equal(s_parse(f, "--config", path, NULL), -1);
    assert_string_equal(vl_opt_config_path(f->opt), path);
    assert_string_equal(f->listen, "tcp://file:3");
    assert_string_equal(f->data, "/var/lib/x");
    assert_int_equal(f->ms, 42);
    assert_int_equal(f->sync, 0);
    assert_true(f->flag);
    assert_int_equal(f->size, 1 << 30);
    assert_int_equal(f->level, LOG_WARNING);
    assert_int_equal(f->id, 7);
}

static void test_command_line_overrides_file(void **state)
{
    fx_t *f = *state;
    const char *path = s_conf(f, "listen = tcp://file:3\ndata = /file\nno-auto-unseal = yes\n"
                                 "heartbeat-ms = 10\n");
    /* options before and after --config both win over the file */
    assert_int_equal(
        s_parse(f, "--listen", "tcp://cli:4", "--config", path, "--heartbeat-ms=20", NULL), -1);
    assert_string_equal(f->listen, "tcp://cli:4");
    assert_string_equal(f->data, "/file");
    assert_true(f->flag);
    assert_int_equal(f->ms, 20);
}

static void test_file_flag_off_and_last_wins(void **state)
{
    fx_t *f = *state;
    f->flag = true;
    const char *path = s_conf(f, "no-auto-unseal = no\nheartbeat-ms 5\nheartbeat-ms 6\n");
    assert_int_equal(s_parse(f, "--config=", NULL), 2); /* an empty path cannot be read */
    s_reset_err(f);
    assert_int_equal(s_parse(f, "--config", path, NULL), -1);
    assert_false(f->flag);
    assert_int_equal(f->ms, 6);
}

static void test_help_and_version(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_parse(f, "--help", "--bogus", NULL), 0);
    assert_string_equal(f->out,
                        "Usage: varlogtest [OPTION]...\n"
                        "Options:\n"
                        "  --listen ENDPOINT        where to listen\n"
                        "                           (default tcp://default:1)\n"
                        "  --data DIR               data directory\n"
                        "  --heartbeat-ms MS        heartbeat\n"
                        "  --heartbeat-timeout-ms MS timeout\n"
                        "  --cluster-id N           cluster id\n"
                        "  --max-entry-size BYTES   largest entry\n"
                        "  --sync always|none       fsync\n"
                        "  --no-auto-unseal         manual unseal\n"
                        "  --log-level LEVEL        level\n"
                        "  --config FILE            read options from FILE, one 'name = value' a "
                        "line;\n"
                        "                           command-line options override it\n"
                        "  --help                   show this help and exit\n"
                        "  --version                show the version and exit\n"
                        "The end.\n");
    assert_int_equal(s_parse(f, "--version", NULL), 0);
    assert_non_null(strstr(f->out, "The end.\nvarlogtest 1.2.3\n"));
    assert_string_equal(f->err, "");
}

static void test_help_indented(void **state)
{
    fx_t *f = *state;
    static const vl_opt_prog_t prog = {
        .prog = "p", .usage = "U\n", .version = "p 1", .style = VL_OPT_STYLE_INDENTED};
    vl_opt_def_t defs[3] = {f->defs[0], f->defs[1], VL_OPT_HELP_DEF("help")};
    vl_opt_t *o = vl_opt_new(&prog, defs, 3);
    vl_opt_set_streams(o, f->outf, f->errf);
    char p[] = "p", help[] = "--help";
    char *argv[] = {p, help, NULL};
    assert_int_equal(vl_opt_parse(o, 2, argv), 0);
    fflush(f->outf);
    assert_string_equal(f->out, "U\n"
                                "  --listen ENDPOINT\n"
                                "        where to listen\n"
                                "        (default tcp://default:1)\n"
                                "  --data DIR\n"
                                "        data directory\n"
                                "  --help\n"
                                "        help\n");
    vl_opt_destroy(&o);
}

static void test_command_line_errors(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *args[3];
        const char *msg;
    } cases[] = {
        {{"--lisen", "x"}, "unknown option '--lisen'"},
        {{"--lisen=x"}, "unknown option '--lisen'"},
        {{"--heartbeat"}, "unknown option '--heartbeat'"}, /* ambiguous prefix */
        {{"-l"}, "unknown option '-l'"},
        {{"extra"}, "unexpected argument 'extra'"},
        {{"-"}, "unexpected argument '-'"},
        {{"--", "x"}, "unexpected argument 'x'"},
        {{"--data"}, "--data needs a value (DIR)"},
        {{"--no-auto-unseal=yes"}, "--no-auto-unseal takes no value"},
        {{"--version=1"}, "--version takes no value"},
        {{"--heartbeat-ms", "0"}, "--heartbeat-ms: '0' is not a number from 1 to 3600000"},
        {{"--heartbeat-ms", "3600001"},
         "--heartbeat-ms: '3600001' is not a number from 1 to 3600000"},
        {{"--heartbeat-ms", "12x"}, "--heartbeat-ms: '12x' is not a number from 1 to 3600000"},
        {{"--heartbeat-ms", ""}, "--heartbeat-ms: '' is not a number from 1 to 3600000"},
        {{"--cluster-id", "-1"}, "--cluster-id: '-1' is not a number from 0 to 4294967295"},
        {{"--cluster-id", "4294967296"},
         "--cluster-id: '4294967296' is not a number from 0 to 4294967295"},
        {{"--cluster-id", "99999999999999999999999"},
         "--cluster-id: '99999999999999999999999' is not a number from 0 to 4294967295"},
        {{"--max-entry-size", "2G"},
         "--max-entry-size: '2G' is not a size from 0 to 1G (K, M, G suffixes allowed)"},
        {{"--max-entry-size", "1T"},
         "--max-entry-size: '1T' is not a size from 0 to 1G (K, M, G suffixes allowed)"},
        {{"--max-entry-size", "9223372036854775807G"},
         "--max-entry-size: '9223372036854775807G' is not a size from 0 to 1G (K, M, G "
         "suffixes allowed)"},
        {{"--sync", "sometimes"}, "--sync: 'sometimes' is not one of always, none"},
        {{"--log-level", "loud"},
         "--log-level: unknown level 'loud' (use error, warning, notice, info or debug)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_reset_err(f);
        int rc = s_parse(f, cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL);
        s_expect_error(f, rc, cases[i].msg);
    }
    /* a bad value leaves the default where it was */
    assert_int_equal(f->ms, 1000);
}

static void test_config_errors(void **state)
{
    fx_t *f = *state;
    char buf[8192];
    static const struct {
        const char *text;
        const char *msg; /* after "PATH:" */
    } cases[] = {
        {"listen = a\n\n# x\nlisen = b\n", "4: unknown option 'lisen'"},
        {"--listen = a\n", "1: unknown option '--listen'"},
        {"list = a\n", "1: unknown option 'list'"}, /* no prefixes in files */
        {"= a\n", "1: unknown option ''"},
        {"heartbeat-ms = soon\n", "1: heartbeat-ms: 'soon' is not a number from 1 to 3600000"},
        {"sync = maybe\n", "1: sync: 'maybe' is not one of always, none"},
        {"no-auto-unseal = perhaps\n", "1: no-auto-unseal: 'perhaps' is not yes or no"},
        {"no-auto-unseal =\n", "1: no-auto-unseal: '' is not yes or no"},
        {"log-level = loud\n",
         "1: log-level: unknown level 'loud' (use error, warning, notice, info or debug)"},
        {"data\n", "1: data needs a value (DIR)"},
        {"data = \n", "1: data needs a value (DIR)"},
        {"config = other.conf\n", "1: 'config' is a command-line option, not a config-file one"},
        {"help\n", "1: 'help' is a command-line option, not a config-file one"},
        {"version\n", "1: 'version' is a command-line option, not a config-file one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_reset_err(f);
        const char *path = s_conf(f, cases[i].text);
        int rc = s_parse(f, "--config", path, NULL);
        snprintf(buf, sizeof buf, "%s:%s", path, cases[i].msg);
        s_expect_error(f, rc, buf);
    }
    /* a line beyond the limit is refused, not split */
    memset(buf, 'x', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    s_reset_err(f);
    const char *path = s_conf(f, buf);
    char msg[256];
    snprintf(msg, sizeof msg, "%s:1: line longer than 4096 characters", path);
    s_expect_error(f, s_parse(f, "--config", path, NULL), msg);
    /* the file is read before the command line: its error comes first */
    s_reset_err(f);
    path = s_conf(f, "lisen = x\n");
    snprintf(msg, sizeof msg, "%s:1: unknown option 'lisen'", path);
    s_expect_error(f, s_parse(f, "--heartbeat-ms=0", "--config", path, NULL), msg);
}

static void test_unreadable_config(void **state)
{
    fx_t *f = *state;
    char path[128], msg[256];
    snprintf(path, sizeof path, "%s/missing.conf", f->dir);
    snprintf(msg, sizeof msg, "%s: cannot read the config file: No such file or directory", path);
    s_expect_error(f, s_parse(f, "--config", path, NULL), msg);
    /* a directory opens but cannot be read */
    s_reset_err(f);
    snprintf(msg, sizeof msg, "%s: cannot read the config file: Is a directory", f->dir);
    s_expect_error(f, s_parse(f, "--config", f->dir, NULL), msg);
}

static void test_usage_error(void **state)
{
    fx_t *f = *state;
    assert_int_equal(vl_opt_usage_error(f->opt, "--data DIR is required (%d)", 7), 2);
    fflush(f->errf);
    assert_string_equal(f->err, "varlogtest: --data DIR is required (7); see varlogtest --help\n");
    assert_string_equal(vl_opt_error(f->opt), "--data DIR is required (7)");
}

/*  every test gets a fresh parser, destinations and streams */
#define S_TEST(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        S_TEST(test_defaults_kept),
        S_TEST(test_command_line),
        S_TEST(test_prefix_and_empty_value),
        S_TEST(test_config_file),
        S_TEST(test_command_line_overrides_file),
        S_TEST(test_file_flag_off_and_last_wins),
        S_TEST(test_help_and_version),
        S_TEST(test_help_indented),
        S_TEST(test_command_line_errors),
        S_TEST(test_config_errors),
        S_TEST(test_unreadable_config),
        S_TEST(test_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
