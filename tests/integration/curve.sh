#!/usr/bin/env bash
# (curve) CURVE on every socket: a cluster whose daemons have keys serves
# clients with an allowed key (varlogctl, the mount) and nobody else: a
# client without keys or with a key not in the allow-list gets a clear
# error and changes nothing, and the daemons log the refused key once; a
# certificate copied into the allow-list is taken without a restart, and
# SIGHUP (systemd's reload) reads the list again without stopping anyone.
. "$(dirname "$0")/lib.sh"

curve_keys
cluster 2
ctl topic create sec --log-streams 2 >/dev/null || fail "topic create with an allowed key"
seq -f "line-%g" 1 500 | ctl append sec >/dev/null || fail "append with an allowed key"
[ "$(ctl subscribe sec | wc -l)" -eq 500 ] || fail "subscribe with an allowed key"
mount_fs "$T/mnt"
echo "through the mount" >>"$T/mnt/sec" || fail "append through a mount with an allowed key"
hwm() { ctl --json topic describe sec | sed -n 's/.*"hwm": *\([0-9]*\).*/\1/p'; }
[ "$(hwm)" = 501 ] || fail "hwm $(hwm) after 501 appends"

# no keys: the handshake fails, the client says so, nothing changes
if env -u VARLOG_KEY -u VARLOG_SERVER_KEY "$BIN/varlogctl" --adm "$ADM" --mr "$MR" --timeout 1500 \
	topic create other >"$T/nokey.out" 2>&1; then
	fail "topic create without keys succeeded"
fi
grep -q 'VARLOG_KEY' "$T/nokey.out" || fail "the error without keys does not name VARLOG_KEY: $(cat "$T/nokey.out")"
if echo x | env -u VARLOG_KEY -u VARLOG_SERVER_KEY "$BIN/varlogctl" --mr "$MR" --timeout 1500 \
	append sec >"$T/nokey2.out" 2>&1; then
	fail "append without keys succeeded"
fi
log "without keys: $(head -1 "$T/nokey.out")"

# a key the cluster does not know
"$BIN/varlogctl" keygen --out "$T/keys" stranger >/dev/null
# (a time-out long enough for the handshake to reach the server's key
# check on a loaded machine: a client that gives up first is never refused)
for _ in 1 2 3; do
	if echo x | VARLOG_KEY=$T/keys/stranger.key_secret "$BIN/varlogctl" --mr "$MR" --timeout 3000 \
		append sec >"$T/stranger.out" 2>&1; then
		fail "append with a key not in the allow-list succeeded"
	fi
done
grep -q 'allow-list' "$T/stranger.out" || fail "the error with an unknown key does not say so: $(cat "$T/stranger.out")"
key=$(sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$T/keys/stranger.key")
[ -n "$key" ] || fail "no public key in $T/keys/stranger.key"
wait_for 20 "the MR to log the refused key" grep -qF -e "$key" "$T/mr.log"
[ "$(grep -cF -e "$key" "$T/mr.log")" -eq 1 ] || fail "the MR logged the refused key $(grep -cF -e "$key" "$T/mr.log") times (rate limit: once a minute)"
log "refused: $(grep -F -e "$key" "$T/mr.log" | head -1 | cut -c1-160)"
[ "$(hwm)" = 501 ] || fail "refused clients changed the log: hwm $(hwm)"

# allowed without a restart: the directory is read again when it changes
cp "$T/keys/stranger.key" "$T/keys/allow/"
wait_for 10 "the new key to be allowed" sh -c "echo y | VARLOG_KEY=$T/keys/stranger.key_secret \
	'$BIN/varlogctl' --mr '$MR' --timeout 1000 append sec"
# SIGHUP: read again, nobody stops
kill -HUP "${DPID[adm]}" "${DPID[mr]}" "${DPID[sn1]}"
ctl topic list >/dev/null || fail "the cluster stopped answering after SIGHUP"
for d in adm mr sn1; do kill -0 "${DPID[$d]}" || fail "$d died of SIGHUP"; done
wait_for 5 "the MR to read the list again" grep -q 'SIGHUP: the allow-list' "$T/mr.log"

# a daemon given only part of the keys refuses to start, with a reason
free_port
if "$BIN/varlogsn" --listen "tcp://127.0.0.1:$PORT" --data "$T/half" --mr "$MR" \
	--key "$T/keys/daemon.key_secret" >"$T/half.out" 2>&1; then
	fail "varlogsn started with --key alone"
fi
grep -q -- '--server-key' "$T/half.out" || fail "varlogsn with half the keys: $(cat "$T/half.out")"
log "ok: allowed keys served, missing and unknown keys refused and logged once, allow-list reloaded"
