#!/bin/sh
# tests/fuzz/run.sh [TARGET] [SECONDS] [BUILD_DIR] - builds a libFuzzer
# target with clang, ASan and UBSan and runs it for SECONDS (default 60):
#   kbatch  Kafka record batches and Kov's stored form (fuzz_kbatch.c:
#           kov/batch.c, kov/compress.c); its corpus is seeded with the valid
#           batches tests/unit/test_kbatch makes (when built in BUILD_DIR)
#   wire    varlog's own protocol (fuzz_wire.c: every body decoder of
#           lib/wire_body.c and the frame parser of lib/wire.c); seeded
#           with a sample of every body
#   all     each in turn, SECONDS each (the default TARGET)
# The binaries, corpora and any crash-* reproducer land in
# BUILD_DIR/tests/fuzz (BUILD_DIR defaults to ./build). A finding exits
# non-zero; rerun one with BUILD_DIR/tests/fuzz/fuzz_TARGET CRASH-FILE.
set -eu
target=${1:-all}
secs=${2:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${3:-$top/build}
out=$build/tests/fuzz
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 1; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE"

run() { # NAME: runs fuzz_NAME on its corpus
	cd "$out"
	./"fuzz_$1" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
		"corpus-$1"
}

kbatch() {
	mkdir -p "$out/corpus-kbatch"
	# shellcheck disable=SC2046,SC2086
	clang $flags -I"$top" -I"$top/lib" $(pkg-config --cflags zlib liblz4 libzstd) \
		"$top/tests/fuzz/fuzz_kbatch.c" "$top/kov/batch.c" "$top/kov/compress.c" \
		"$top/lib/crc32c.c" "$top/lib/util.c" \
		$(pkg-config --libs zlib liblz4 libzstd) -lsnappy -o "$out/fuzz_kbatch"
	if [ -x "$build/tests/unit/test_kbatch" ]; then
		VL_KBATCH_CORPUS=$out/corpus-kbatch "$build/tests/unit/test_kbatch" >/dev/null 2>&1 ||
			echo "run.sh: test_kbatch failed; fuzzing with the corpus as it is" >&2
	fi
	run kbatch
}

wire() {
	mkdir -p "$out/corpus-wire"
	# shellcheck disable=SC2046,SC2086
	clang $flags -I"$top/lib" $(pkg-config --cflags libczmq) \
		"$top/tests/fuzz/fuzz_wire.c" "$top/lib/wire.c" "$top/lib/wire_body.c" "$top/lib/err.c" \
		"$top/lib/util.c" $(pkg-config --libs libczmq libzmq) -o "$out/fuzz_wire"
	if [ -x "$build/tests/unit/test_wire_body" ]; then
		VL_WIRE_CORPUS=$out/corpus-wire "$build/tests/unit/test_wire_body" >/dev/null 2>&1 ||
			echo "run.sh: test_wire_body failed; fuzzing with the corpus as it is" >&2
	fi
	run wire
}

mkdir -p "$out"
case $target in
kbatch | wire) "$target" ;;
all) (kbatch) && (wire) ;;
*) echo "run.sh: unknown target '$target' (kbatch, wire or all)" >&2; exit 2 ;;
esac
