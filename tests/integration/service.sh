#!/usr/bin/env bash
# (service) what systemd relies on: every daemon tells the service manager
# READY=1 (with a STATUS line) once it serves and STOPPING=1 when it stops
# (Type=notify units); the shipped units pass systemd-analyze verify; each
# example configuration file is accepted by its daemon.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

python3 "$SRC/tests/lib/notify_listen.py" "$T/notify.sock" "$T/notify.txt" &
PIDS+=($!)
wait_for 10 "the notification socket" test -S "$T/notify.sock"
export NOTIFY_SOCKET="$T/notify.sock"
cluster 1
mount_fs "$T/mnt"
free_port
KOV=127.0.0.1:$PORT
daemon kov varlogkov --listen "$KOV" --mr "$MR"
unset NOTIFY_SOCKET

# said_by PID WORD: true once PID sent a notification line starting WORD
said_by() { grep -q "^$1	$2" "$T/notify.txt"; }
for d in mr sn1 adm kov; do
	wait_for 10 "READY=1 from $d (pid ${DPID[$d]})" said_by "${DPID[$d]}" READY=1
	said_by "${DPID[$d]}" STATUS= || fail "$d sent READY=1 without a STATUS line: $(cat "$T/notify.txt")"
done
wait_for 10 "READY=1 from varlogfs" said_by "${FSPID[$T/mnt]}" READY=1
# READY means serving: the cluster answers and the mount takes an append
ctl topic create svc --log-streams 1 >/dev/null || fail "topic create after READY"
echo hello >>"$T/mnt/svc" || fail "append through the mount after READY"
log "ready: $(cut -f2 "$T/notify.txt" | grep STATUS= | sort | tr '\n' ' ')"

# (the listener writes what a daemon sent a moment after it was sent: the
# daemon may have exited before it did, so each is waited for)
kill -TERM "${DPID[adm]}" "${DPID[kov]}"
wait "${DPID[adm]}" "${DPID[kov]}" 2>/dev/null || true
wait_for 10 "STOPPING=1 from varlogadm (it stopped)" said_by "${DPID[adm]}" STOPPING=1
wait_for 10 "STOPPING=1 from varlogkov (it stopped)" said_by "${DPID[kov]}" STOPPING=1
umount_fs "$T/mnt"
wait_for 10 "STOPPING=1 from varlogfs (it was unmounted)" said_by "${FSPID[$T/mnt]}" STOPPING=1

# the units, made by the build for the installed paths, pointed at this
# build's binaries; verify prints nothing for a unit it fully understands
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units"
	for u in "$BIN"/dist/systemd/*.service; do
		name=$(basename "$u")
		case $name in
		*@.service) name=${name%@.service}@1.service ;;
		esac
		bindir=$(sed -n 's|^ExecStart=\(/[^ ]*\)/varlog[a-z]* .*|\1|p' "$u")
		[ -n "$bindir" ] || fail "$u has no ExecStart of a varlog binary"
		sed "s|$bindir/|$BIN/|g" "$u" >"$T/units/$name"
	done
	(cd "$T/units" && systemd-analyze verify --man=no ./*.service) >"$T/verify.txt" 2>&1 ||
		fail "systemd-analyze verify failed: $(cat "$T/verify.txt")"
	[ ! -s "$T/verify.txt" ] || fail "systemd-analyze verify complains: $(cat "$T/verify.txt")"
	log "units: $(ls "$T/units" | tr '\n' ' ')verified"
else
	log "systemd-analyze is not installed: the units were not verified"
fi

# the example files: every line names an option the daemon knows, with a
# valid value (a bad line exits 2 at once); addresses, data directories and
# keys overridden on the command line so the daemon can start here
curve_keys # the example files name keys in /etc/varlog
free_port
EXRAFT=127.0.0.1:$PORT # (a free port too: PORT + 1 may be another test's)
free_port
daemon exmr varlogmr --config "$SRC/dist/config/varlogmr-1.conf" --listen "tcp://127.0.0.1:$PORT" \
	--data "$T/exmr" --raft-addr "$EXRAFT" --peers "1@$EXRAFT@tcp://127.0.0.1:$PORT" "${DAEMON_CURVE[@]}"
wait_for 10 "varlogmr from the example config listening" port_open "$PORT"
free_port
daemon exsn varlogsn --config "$SRC/dist/config/varlogsn-1.conf" --listen "tcp://127.0.0.1:$PORT" \
	--advertise "tcp://127.0.0.1:$PORT" --data "$T/exsn" --mr "$MR" "${DAEMON_CURVE[@]}"
wait_for 10 "varlogsn from the example config listening" port_open "$PORT"
free_port
daemon exadm varlogadm --config "$SRC/dist/config/varlogadm.conf" --listen "tcp://127.0.0.1:$PORT" --mr "$MR" \
	"${DAEMON_CURVE[@]}"
wait_for 10 "varlogadm from the example config listening" port_open "$PORT"
free_port
daemon exkov varlogkov --config "$SRC/dist/config/varlogkov.conf" --listen "127.0.0.1:$PORT" \
	--advertise "127.0.0.1:$PORT" --mr "$MR" --key "$T/keys/daemon.key_secret" --server-key "$T/keys/server.key"
wait_for 10 "varlogkov from the example config listening" port_open "$PORT"
for d in exmr exsn exadm exkov; do
	kill -0 "${DPID[$d]}" 2>/dev/null || fail "$d exited: $(tail -3 "$T/$d.log")"
done
log "ok: READY/STOPPING from mr, sn, adm, varlogkov and varlogfs; units verified; example configs accepted"
