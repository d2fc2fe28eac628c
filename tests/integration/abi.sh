#!/usr/bin/env bash
# ABI of libvarlog.so: it exports exactly the functions that varlog.h and
# varlog_err.h declare (lib/libvarlog.map; nothing of the internal core
# leaks, nothing declared is missing), and a program built against the
# installed headers (<varlog/varlog.h>) links with -lvarlog and runs. Skips
# (77) only when the shared library was not built.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
LIBS="$BIN/.libs"
SO="$LIBS/libvarlog.so"
if [ ! -e "$SO" ]; then
	log "skip: $SO was not built"
	exit 77
fi
# the build's compiler and link flags (they carry the sanitizers when the
# library was built with them)
CC_CMD=$(sed -n 's/^CC = //p' "$BIN/Makefile")
LD_FLAGS=$(sed -n 's/^LDFLAGS = //p' "$BIN/Makefile")
[ -n "$CC_CMD" ] || fail "no CC in $BIN/Makefile"

# the function names the public headers declare, as the compiler sees them
# (comments gone): a name followed by "(" (function pointer types are
# written typedef void(name_t)(...), so they do not match)
# shellcheck disable=SC2086
$CC_CMD -E -P -I"$SRC/lib" "$SRC/lib/varlog.h" >"$T/varlog.i" || fail "cannot preprocess varlog.h"
grep -o '\bvl_[A-Za-z0-9_]*[[:space:]]*(' "$T/varlog.i" | tr -d ' \t(' | sort -u >"$T/declared"
grep -q '^vl_err_str$' "$T/declared" || fail "varlog_err.h's functions not found through varlog.h"
[ "$(wc -l <"$T/declared")" -ge 20 ] || fail "found only $(wc -l <"$T/declared") declarations"

nm -D --defined-only "$SO" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$T/exported"
extra=$(comm -13 "$T/declared" "$T/exported")
missing=$(comm -23 "$T/declared" "$T/exported")
[ -z "$extra" ] || fail "libvarlog.so exports symbols varlog.h does not declare: $(echo $extra)"
[ -z "$missing" ] || fail "libvarlog.so does not export declared functions: $(echo $missing)"
log "libvarlog.so exports the $(wc -l <"$T/exported") declared functions, nothing else"

# a program against the installed layout: <varlog/varlog.h>, -lvarlog
mkdir -p "$T/include/varlog"
cp "$SRC/lib/varlog.h" "$SRC/lib/varlog_err.h" "$T/include/varlog/"
cat >"$T/prog.c" <<'PROG'
#include <stdio.h>
#include <varlog/varlog.h>

int main(int argc, char **argv)
{
    vl_client_t *client = NULL;
    char err[256] = "";
    /* no endpoint: fails at once, no cluster needed */
    int rc = vl_client_open("", NULL, &client, err, sizeof err);
    if (argc > 1) { /* linked, never run */
        const void *data[] = {argv[1]};
        size_t len[] = {1};
        vl_append(client, "t", 0, data, len, 1, NULL);
    }
    printf("%s: %s\n", vl_err_name(rc), err);
    return rc == VL_EINVAL && client == NULL ? 0 : 1;
}
PROG
# shellcheck disable=SC2086
$CC_CMD $LD_FLAGS -I"$T/include" -o "$T/prog" "$T/prog.c" -L"$LIBS" -lvarlog \
	>"$T/cc.out" 2>&1 || { cat "$T/cc.out" >&2; fail "a program using varlog.h does not link with -lvarlog"; }
out=$(LD_LIBRARY_PATH="$LIBS" "$T/prog") || fail "the program linked with -lvarlog failed: $out"
log "a program built against <varlog/varlog.h> links with -lvarlog and runs ($out)"
