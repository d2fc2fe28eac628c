#!/usr/bin/env bash
# (config) a storage node started from a config file (a daemon's listen
# address, data directory and MR address may come from the command line or
# from a config file) joins the cluster and serves; a command-line option
# overrides the file; a bad line stops it with a one-line error naming the
# file and line, exit 2.
. "$(dirname "$0")/lib.sh"

cluster 0
free_port
SN_PORT[1]=$PORT
SN_EP[1]="tcp://127.0.0.1:$PORT"
free_port
unused=$PORT
mkdir -p "$T/sn1"
cat >"$T/sn.conf" <<CONF
# storage node 1 of the config test
listen = tcp://127.0.0.1:$unused
data   $T/sn1
mr = $MR    # the metadata repository

sync = always
log-level = debug
CONF
# the file says one port, the command line another: the command line wins
daemon sn1 varlogsn --config "$T/sn.conf" --listen "${SN_EP[1]}"
wait_for 10 "sn1 listening on ${SN_PORT[1]}" port_open "${SN_PORT[1]}"
port_open "$unused" && fail "varlogsn listened on the config file's port, not the command line's"
ctl sn add "${SN_EP[1]}" >/dev/null || fail "sn add ${SN_EP[1]}"
ctl topic create conf --log-streams 1 >/dev/null
printf 'x\ny\n' | ctl append conf >/dev/null || fail "append to the SN started from a config file failed"
ctl subscribe conf >"$T/out"
printf 'x\ny\n' | cmp - "$T/out" || fail "read back $(cat "$T/out")"
grep -q DEBUG "$T/sn1.log" || fail "log-level = debug from the config file was not applied"
log "varlogsn from $T/sn.conf served appends and reads"

printf 'data = %s\nlisen = tcp://127.0.0.1:1\n' "$T/sn2" >"$T/bad.conf"
set +e
"$BIN/varlogsn" --config "$T/bad.conf" >"$T/bad.out" 2>"$T/bad.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "bad config file: exit $rc, expected 2"
[ "$(wc -l <"$T/bad.err")" -eq 1 ] || fail "bad config file: error is not one line: $(cat "$T/bad.err")"
grep -qF "varlogsn: $T/bad.conf:2: unknown option 'lisen'; see varlogsn --help" "$T/bad.err" ||
	fail "bad config file: unclear error: $(cat "$T/bad.err")"
log "ok: $(cat "$T/bad.err")"
