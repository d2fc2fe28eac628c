#!/bin/sh
# tests/fuzz/run.sh [TARGET] [SECONDS] [BUILD_DIR] - builds libFuzzer
# targets with clang, ASan and UBSan and runs each for SECONDS (default 60):
#   wire    varlog's protocol (fuzz_wire.c: every body decoder of
#           lib/wire_body.c, the frame parser of lib/wire.c)
#   vlog    the entry log's record reader (fuzz_vlog.c: sn/vlog.c opening
#           and replaying a segment made of the input)
#   opt     the daemons' option parser reading a --config file (fuzz_opt.c)
#   kbatch  Kafka record batches and Kov's stored form (fuzz_kbatch.c:
#           kov/batch.c, kov/compress.c)
#   kcodec  varlogkov's Kafka codec (fuzz_kcodec.c: kov/codec.c)
#   all     each in turn (the default TARGET)
# Each starts from its seed corpus in the repository, tests/fuzz/corpus/NAME
# (inputs found since are kept in BUILD_DIR/tests/fuzz/corpus-NAME, with
# any crash-* reproducer). A finding exits non-zero: copy the reproducer
# into tests/fuzz/corpus/NAME, where every later run replays it first.
# BUILD_DIR defaults to ./build. CI runs `run.sh all 20`.
set -eu
target=${1:-all}
secs=${2:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${3:-$top/build}
out=$build/tests/fuzz
command -v clang >/dev/null || { echo "run.sh: clang not found (apt-get install clang)" >&2; exit 1; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE"
lib="$top/lib"

# build NAME SOURCES... -- LIBS...: compiles fuzz_NAME
build() {
	name=$1
	shift
	srcs=
	while [ "$1" != -- ]; do srcs="$srcs $1"; shift; done
	shift
	# shellcheck disable=SC2086
	clang $flags -I"$top" -I"$lib" -I"$top/sn" -I"$top/kov" $(pkg-config --cflags libczmq) \
		"$top/tests/fuzz/fuzz_$name.c" $srcs "$@" -o "$out/fuzz_$name"
}

# run NAME: the seeds, then the corpus found so far, for secs seconds; the
# files a target makes go to a TMPDIR of its own, removed after
run() {
	mkdir -p "$out/corpus-$1" "$out/tmp-$1"
	rc=0
	(cd "$out" && TMPDIR=$out/tmp-$1 ./"fuzz_$1" -max_total_time="$secs" -max_len=65536 \
		-rss_limit_mb=2048 -print_final_stats=1 "corpus-$1" "$top/tests/fuzz/corpus/$1") || rc=$?
	rm -rf "$out/tmp-$1"
	return $rc
}

wire() {
	build wire "$lib/wire.c" "$lib/wire_body.c" "$lib/err.c" "$lib/util.c" -- \
		$(pkg-config --libs libczmq libzmq)
	run wire
}
vlog() {
	build vlog "$top/sn/vlog.c" "$lib/crc32c.c" "$lib/util.c" "$lib/log.c" "$lib/err.c" \
		"$lib/wire.c" -- $(pkg-config --libs libczmq libzmq)
	run vlog
}
opt() {
	build opt "$lib/opt.c" "$lib/util.c" "$lib/log.c" "$lib/err.c" -- $(pkg-config --libs libczmq libzmq)
	run opt
}
kbatch() {
	# shellcheck disable=SC2046
	build kbatch "$top/kov/batch.c" "$top/kov/compress.c" "$lib/crc32c.c" "$lib/util.c" -- \
		$(pkg-config --libs zlib liblz4 libzstd) -lsnappy
	run kbatch
}
kcodec() {
	build kcodec "$top/kov/codec.c" "$lib/util.c" -- $(pkg-config --libs libczmq libzmq)
	run kcodec
}

mkdir -p "$out"
case $target in
wire | vlog | opt | kbatch | kcodec) "$target" ;;
all) wire && vlog && opt && kbatch && kcodec ;;
*) echo "run.sh: unknown target '$target' (wire, vlog, opt, kbatch, kcodec or all)" >&2; exit 2 ;;
esac
