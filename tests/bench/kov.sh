# kov.sh - the Kafka rows of the benchmark suite (sourced by run.sh, which
# defines $T, $BIN, $MR, free_port, daemon, row, raw, say, bench, calc,
# jget, now, QUICK and LAT_MR1, the blocking append run of the same
# cluster). In the same run, on the cluster run.sh started (SNs with
# --sync=always) and a varlogkov started here:
#   - kcat -P of KOV_N 100-byte records (one line each) to partition 0 of a
#     Kov topic (1 log stream, rf 1) vs varlogctl append of the same lines
#     to a varlog topic of the same layout (target >= 0.5x), and the same
#     kcat run against librdkafka's in-memory mock cluster (tests/bench/kprod
#     mock: rd_kafka_mock_cluster_new, 3 brokers) for reference;
#   - produce-to-ack p50 of one message at a time (kprod lat: acks=all,
#     linger.ms 0) vs varlog's blocking append p50 (target <= it + 1 ms);
#   - a tail consumer: produce-to-seen p50 (kprod e2e, target <= 2 ms) and
#     the time from the producer's ack to the consumer's receipt;
#   - kprod lat against the mock cluster too (not e2e: the mock answers a
#     waiting Fetch only at its max wait, not when a record comes).
# Everything it starts is stopped by PID here (the EXIT trap of lib.sh
# covers failures).

if [ "$QUICK" = 1 ]; then KOV_N=200000 KOV_LAT_N=1000; else KOV_N=1000000 KOV_LAT_N=5000; fi
KPROD=$BIN/tests/bench/kprod
[ -x "$KPROD" ] || make -C "$BIN" -s tests/bench/kprod >/dev/null 2>&1 || true
if ! command -v kcat >/dev/null || [ ! -x "$KPROD" ]; then
	say "kcat or $KPROD missing (Debian's kcat; make -C build check builds kprod): Kov rows skipped"
	return 0
fi

# 100-byte records: a 10-digit number, a space, 89 letters (plus the newline)
KOV_DATA=$T/kov-data
KPAD=$(head -c 89 /dev/zero | tr '\0' k)
awk -v n="$KOV_N" -v pad="$KPAD" 'BEGIN { for (i = 0; i < n; i++) printf "%010d %s\n", i, pad }' \
	>"$KOV_DATA"

for t in kb-0 kvb kl-0 ke-0; do
	"$BIN/varlogctl" --adm "$ADM" topic create "$t" --log-streams 1 --replication-factor 1 \
		>/dev/null || say "varlogctl topic create $t failed"
done
free_port
KOV_B=127.0.0.1:$PORT
daemon kov varlogkov --listen "$KOV_B" --mr "$MR" --log-streams 1 --replication-factor 1
wait_for 10 "varlogkov listening on $KOV_B" port_open "${KOV_B#*:}"
"$KPROD" mock 3 >"$T/kmock.addr" 2>"$T/kmock.err" </dev/null &
KMOCK=$!
PIDS+=("$KMOCK")
wait_for 10 "librdkafka's mock cluster (kprod mock)" test -s "$T/kmock.addr"
KMOCK_B=$(head -1 "$T/kmock.addr")
say "Kov on $KOV_B, librdkafka's mock cluster on $KMOCK_B; $KOV_N records of 100 bytes"

# kcat_in BOOTSTRAP TOPIC: kcat -P of the data to partition 0; prints records/s
kcat_in() {
	sync
	local t0 t1
	t0=$(now)
	kcat -P -b "$1" -t "$2" -p 0 -X acks=all <"$KOV_DATA" 2>"$T/kcat-$2.err" || {
		say "kcat -P to $1 failed: $(tail -2 "$T/kcat-$2.err")"
		return 0
	}
	t1=$(now)
	local last
	last=$(kcat -C -b "$1" -t "$2" -p 0 -o -1 -e -q -f '%o\n' 2>/dev/null | tail -1)
	if [ "$last" != "$((KOV_N - 1))" ]; then
		say "kcat -P to $1: last offset '$last', not $((KOV_N - 1)): figure dropped"
		return 0
	fi
	calc "$KOV_N / ($t1 - $t0)"
}

sync
t0=$(now)
if "$BIN/varlogctl" --mr "$MR" append kvb <"$KOV_DATA" >/dev/null 2>"$T/kov-append.err"; then
	t1=$(now)
	KOV_APPEND=$(calc "$KOV_N / ($t1 - $t0)")
else
	say "varlogctl append failed: $(tail -1 "$T/kov-append.err")"
	KOV_APPEND=""
fi
KOV_KCAT=$(kcat_in "$KOV_B" kb)
KOV_MOCK=$(kcat_in "$KMOCK_B" kb)
row "kcat -P ${KOV_N} x 100 B through Kov, 1 partition (records/s)" "$KOV_KCAT" "records/s" \
	"varlogctl append, same lines" "$KOV_APPEND" ">=0.5 x"
row "kcat -P ${KOV_N} x 100 B to librdkafka's mock cluster (records/s; reference)" "$KOV_MOCK" \
	"records/s" "Kov, same run" "$KOV_KCAT" ""
raw kov_kcat "{\"records\": $KOV_N, \"kov_per_s\": ${KOV_KCAT:-null}, \"append_per_s\": ${KOV_APPEND:-null}, \"mock_per_s\": ${KOV_MOCK:-null}}"

# kprod_run NAME MODE BOOTSTRAP TOPIC: kprod's JSON in $KJ ("" on failure)
kprod_run() {
	say "kprod $2 $3 $4 $KOV_LAT_N"
	KJ=$("$KPROD" "$2" "$3" "$4" "$KOV_LAT_N" 2>"$T/kprod-$1.err") || {
		say "kprod $2 against $3 failed: $(tail -2 "$T/kprod-$1.err")"
		KJ=""
	}
	raw "$1" "$KJ"
}

BLOCK_P50=$(jget "$LAT_MR1" commit_latency p50_ms)
target=""
[ -n "$BLOCK_P50" ] && target="<=$(calc "$BLOCK_P50 + 1")"
kprod_run kov_lat lat "$KOV_B" kl
row "Kov produce-to-ack p50, acks=all, 1 at a time (ms)" "$(jget "$KJ" produce_to_ack p50_ms)" \
	"ms" "blocking append p50" "$BLOCK_P50" "$target"
row "Kov produce-to-ack p99 (ms)" "$(jget "$KJ" produce_to_ack p99_ms)" "ms" "" "" ""
kprod_run kov_e2e e2e "$KOV_B" ke
row "Kov tail consumer: produce-to-seen p50 (ms)" "$(jget "$KJ" produce_to_seen p50_ms)" "ms" "" "" \
	"<=2"
row "Kov tail consumer: produce-to-seen p99 (ms)" "$(jget "$KJ" produce_to_seen p99_ms)" "ms" "" "" ""
row "Kov tail consumer: ack-to-seen p50 (ms; < 0: seen before the ack)" \
	"$(jget "$KJ" ack_to_seen p50_ms)" "ms" "" "" ""
kprod_run mock_lat lat "$KMOCK_B" kl
row "mock cluster produce-to-ack p50 (ms; reference)" "$(jget "$KJ" produce_to_ack p50_ms)" "ms" \
	"" "" ""
# no tail-consumer run against the mock: its Fetch handler is not woken by
# produces, so a tail consumer sees each record at fetch.wait.max.ms

kill -TERM "$KMOCK" 2>/dev/null || true
wait "$KMOCK" 2>/dev/null || true
keep=()
for p in "${PIDS[@]}"; do [ "$p" = "$KMOCK" ] || keep+=("$p"); done
PIDS=("${keep[@]}")
stop_daemons kov
rm -f "$KOV_DATA"
