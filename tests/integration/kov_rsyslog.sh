#!/usr/bin/env bash
# (kov) The seed's check: Debian's rsyslogd (rsyslog + rsyslog-kafka) run in
# the foreground by this test, with its own config, work dir, pid file and
# imtcp port, writes one TCP syslog stream both to Kov through omkafka
# (topic syslog, partition 0, idempotent producer, acks=all) and to a plain
# file through omfile, with the same template. N messages go in through
# logger --tcp; once the file holds N lines and the partition's high
# watermark is N, rsyslogd is stopped by its PID; then `kcat -C -e` of the
# topic must equal the file byte for byte, in the same order, with no
# message missing or twice. Skipped (77) without rsyslogd, its omkafka
# module, kcat or logger.
. "$(dirname "$0")/lib.sh"
N=${KOV_RSYSLOG_N:-20000}
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || { echo "rsyslogd missing (Debian's rsyslog)"; exit 77; }
OMKAFKA=
for f in /usr/lib/*/rsyslog/omkafka.so /usr/lib/rsyslog/omkafka.so; do
	[ -f "$f" ] && OMKAFKA=$f && break
done
[ -n "$OMKAFKA" ] || { echo "rsyslog's omkafka module missing (Debian's rsyslog-kafka)"; exit 77; }
command -v kcat >/dev/null && command -v logger >/dev/null ||
	{ echo "kcat or logger missing"; exit 77; }

cluster 3
kov_up

# ---- rsyslogd with its own everything ----------------------------------------
free_port
RS_PORT=$PORT
mkdir -p "$T/rs"
cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rs" maxMessageSize="64k")
module(load="imtcp")
module(load="omkafka")
# the same bytes for both: kcat prints each record's value with -f '%s'
template(name="line" type="string"
         string="%timereported:::date-rfc3339% %hostname% %app-name%: %msg%\n")
input(type="imtcp" port="$RS_PORT" address="127.0.0.1" ruleset="both")
ruleset(name="both") {
	action(type="omfile" file="$T/out.txt" template="line")
	action(type="omkafka" broker=["$B"] topic="syslog" template="line"
	       partitions.useFixed="0"
	       confParam=["enable.idempotence=true", "linger.ms=5"]
	       topicConfParam=["request.required.acks=-1"])
}
# rsyslogd's own messages (start, errors) go here, not into the stream
action(type="omfile" file="$T/rsyslog-internal.txt")
EOF
"$RSYSLOGD" -n -f "$T/rsyslog.conf" -i "$T/rs/rsyslogd.pid" >>"$T/rsyslogd.log" 2>&1 &
RS_PID=$!
PIDS+=($RS_PID)
wait_for 20 "rsyslogd listening on $RS_PORT ($(cat "$T/rsyslogd.log" 2>/dev/null | tail -3))" \
	port_open "$RS_PORT"
log "rsyslogd $("$RSYSLOGD" -v | head -1 | awk '{print $2}') (pid $RS_PID) on imtcp $RS_PORT -> omkafka $B topic syslog + omfile"

# ---- the stream --------------------------------------------------------------
# seq's lines plus bytes that need care (quotes, backslash, tabs become #011)
seq 1 "$N" | awk '{ printf "msg %d \"q\" \\ x=%d\ttab\n", $1, $1 * 7 }' >"$T/in.txt"
logger --tcp -n 127.0.0.1 -P "$RS_PORT" --octet-count -t kovtest -f "$T/in.txt" ||
	fail "logger --tcp to rsyslogd's imtcp port $RS_PORT failed"
part_count() {
	kcat -b "$B" -C -t syslog -p 0 -o beginning -e -q -f '%s' 2>/dev/null | wc -l
}
file_full() { [ -f "$T/out.txt" ] && [ "$(wc -l <"$T/out.txt")" -ge "$N" ]; }
kafka_full() { [ "$(part_count)" -ge "$N" ]; }
wait_for 50 "omfile to write $N lines (has $(wc -l <"$T/out.txt" 2>/dev/null || echo 0))" file_full
wait_for 50 "omkafka to deliver $N records to Kov" kafka_full
kill -TERM "$RS_PID"
wait "$RS_PID" || fail "rsyslogd exited with an error on SIGTERM: $(tail -5 "$T/rsyslogd.log")"
log "logger sent $N messages; the file and the topic hold them; rsyslogd stopped (pid $RS_PID)"

# ---- the check ---------------------------------------------------------------
kcat -b "$B" -C -t syslog -p 0 -o beginning -e -q -f '%s' >"$T/kafka.txt" 2>"$T/kcat.err" ||
	fail "kcat -C of topic syslog failed: $(tail -5 "$T/kcat.err")"
lines=$(wc -l <"$T/out.txt")
[ "$lines" -eq "$N" ] || fail "omfile wrote $lines lines for $N messages"
cmp "$T/out.txt" "$T/kafka.txt" || {
	diff "$T/out.txt" "$T/kafka.txt" | head -10 >&2
	fail "kcat -C of the topic differs from rsyslog's file"
}
# every message once, in the order sent
sed "s/^[^ ]* [^ ]* kovtest: //; s/#011/\t/g" "$T/kafka.txt" | cmp - "$T/in.txt" ||
	fail "the messages in the topic are not the $N sent, once each, in order: $(head -2 "$T/kafka.txt")"
log "kcat -C -e of syslog-0 == rsyslog's file: $N lines, $(wc -c <"$T/kafka.txt") bytes, byte for byte"
kcat -b "$B" -C -t syslog -p 0 -o -1 -e -q -f '%o\n' | grep -qx "$((N - 1))" ||
	fail "the last offset of syslog-0 is not $((N - 1))"
[ ! -s "$T/rsyslog-internal.txt" ] || log "rsyslogd said: $(head -3 "$T/rsyslog-internal.txt")"

kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
log "PASS"
