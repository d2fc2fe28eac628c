/*  fuzz_opt.c - libFuzzer target of the daemons' option parser
    (lib/opt.c) reading a --config file: the input is the file, parsed
    against a table with one option of every type. A bad file must give
    one error line and a usage status, never a crash or a read past a
    line; every string read from it is freed with the parser.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "opt.h"

static const char *const s_words[] = {"always", "none", NULL};
static const int s_values[] = {1, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[128];
    if (!path[0]) {
        const char *tmp = getenv("TMPDIR"); /* run.sh's, removed after the run */
        snprintf(path, sizeof path, "%.40s/fuzz_opt.%d.conf", tmp ? tmp : "/tmp", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *listen = "tcp://127.0.0.1:1", *data_dir = NULL;
    int level = 0, sync = 1, ms = 0;
    uint32_t id = 0;
    uint64_t bytes = 0;
    bool flag = false;
    const vl_opt_def_t defs[] = {
        VL_OPT_STRING_DEF("listen", "ENDPOINT", "where", &listen),
        VL_OPT_STRING_DEF("data", "DIR", "data", &data_dir),
        VL_OPT_INT_DEF("ms", "MS", "ms", &ms, 1, 1000000),
        VL_OPT_UINT_DEF("id", "N", "id", &id, 0, UINT32_MAX),
        VL_OPT_SIZE_DEF("size", "BYTES", "size", &bytes, 0, 1ll << 40),
        VL_OPT_ENUM_DEF("sync", "always|none", "sync", &sync, s_words, s_values),
        VL_OPT_FLAG_DEF("flag", "a flag", &flag),
        VL_OPT_LOG_LEVEL_DEF("log-level", "LEVEL", "level", &level),
        VL_OPT_CONFIG_DEF(),
        VL_OPT_HELP_DEF("help"),
        VL_OPT_VERSION_DEF("version"),
    };
    static const vl_opt_prog_t prog = {.prog = "fuzz", .usage = "usage\n", .version = "0"};
    vl_opt_t *opt = vl_opt_new(&prog, defs, sizeof defs / sizeof defs[0]);
    FILE *sink = fopen("/dev/null", "w");
    vl_opt_set_streams(opt, sink, sink);
    char *argv[] = {"fuzz", "--config", path, NULL};
    vl_opt_parse(opt, 3, argv);
    vl_opt_destroy(&opt);
    fclose(sink);
    return 0;
}
