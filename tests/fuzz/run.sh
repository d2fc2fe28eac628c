#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [BUILD_DIR] - builds the libFuzzer target
# tests/fuzz/fuzz_kbatch.c (Kafka record batches and Kov's stored form,
# kov/batch.c and kov/compress.c) with clang, ASan and UBSan, seeds its
# corpus with the valid batches tests/unit/test_kbatch makes (when that is
# built in BUILD_DIR) and runs it for SECONDS (default 60). The binary,
# the corpus and any crash-* reproducer land in BUILD_DIR/tests/fuzz
# (BUILD_DIR defaults to ./build). A finding exits non-zero; rerun one with
# BUILD_DIR/tests/fuzz/fuzz_kbatch CRASH-FILE.
set -eu
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$top/build}
out=$build/tests/fuzz
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 1; }
mkdir -p "$out/corpus"
# shellcheck disable=SC2046
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -I"$top" -I"$top/lib" $(pkg-config --cflags zlib liblz4 libzstd) \
	"$top/tests/fuzz/fuzz_kbatch.c" "$top/kov/batch.c" "$top/kov/compress.c" \
	"$top/lib/crc32c.c" "$top/lib/util.c" \
	$(pkg-config --libs zlib liblz4 libzstd) -lsnappy -o "$out/fuzz_kbatch"
if [ -x "$build/tests/unit/test_kbatch" ]; then
	VL_KBATCH_CORPUS=$out/corpus "$build/tests/unit/test_kbatch" >/dev/null 2>&1 ||
		echo "run.sh: test_kbatch failed; fuzzing with the corpus as it is" >&2
fi
cd "$out"
exec ./fuzz_kbatch -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
	-print_final_stats=1 corpus
