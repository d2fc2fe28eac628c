#!/usr/bin/env bash
# (e) bad input: random bytes, a truncated header, huge declared lengths and
# a wrong protocol version sent to each daemon's socket leave it serving;
# invalid topic names, an unknown topic and an oversized entry give clear
# errors and change nothing.
. "$(dirname "$0")/lib.sh"

cluster 1
ctl topic create good --log-streams 1 >/dev/null
printf 'a\nb\nc\n' | ctl append good >/dev/null || fail "append failed"

for ep in "$MR" "$ADM" "${SN_EP[1]}"; do
	port=${ep##*:}
	# not even ZeroMQ: raw bytes on the TCP port
	head -c 4096 /dev/urandom >"/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
	printf '\xff\x00\x00\x00\x00\x00\x00\x00\x7f\x03GARBAGE' >"/dev/tcp/127.0.0.1/$port" 2>/dev/null || true
	"$BIN/tests/lib/vl_poke" "$ep" || fail "daemon at $ep stopped serving after malformed input"
done
for d in mr adm sn1; do kill -0 "${DPID[$d]}" 2>/dev/null || fail "$d died on malformed input"; done
log "every daemon survived malformed input"

ctl --json topic list >"$T/topics.before"
expect_error() { # DESCRIPTION PATTERN COMMAND...
	local what=$1 pat=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then fail "$what succeeded"; fi
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$what: error is not one line: $(cat "$T/err")"
	grep -qi -E "$pat" "$T/err" || fail "$what: unclear error: $(cat "$T/err")"
	log "$what -> $(cat "$T/err")"
}
expect_error "topic with a slash" "invalid topic name" ctl topic create 'bad/name'
expect_error "topic starting with a dot" "invalid topic name" ctl topic create '.hidden'
expect_error "topic with a space" "invalid topic name" ctl topic create 'two words'
expect_error "topic of 256 characters" "invalid topic name" ctl topic create "$(printf 'x%.0s' $(seq 256))"
expect_error "existing topic" "exists" ctl topic create good
expect_error "append to an unknown topic" "no such topic" sh -c "echo x | '$BIN/varlogctl' --mr '$MR' append nosuch"
expect_error "subscribe to an unknown topic" "no such topic" ctl subscribe nosuch
expect_error "trim of an unknown topic" "no such topic" ctl trim nosuch 1
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x' >"$T/big.txt"
echo >>"$T/big.txt"
expect_error "oversized entry" "larger than the maximum" sh -c "'$BIN/varlogctl' --mr '$MR' append good <'$T/big.txt'"
expect_error "replication factor above the number of SNs" "storage node" ctl topic create wide --replication-factor 3

ctl --json topic list >"$T/topics.after"
cmp "$T/topics.before" "$T/topics.after" || fail "bad input changed the topics: $(diff "$T/topics.before" "$T/topics.after")"
ctl subscribe good >"$T/good.out"
printf 'a\nb\nc\n' | cmp - "$T/good.out" || fail "bad input changed the log"
log "ok: daemons kept serving; bad requests refused with clear errors; nothing changed"
