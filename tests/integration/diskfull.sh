#!/usr/bin/env bash
# (diskfull) a storage node whose disk fills up: its writes fail, it
# reports a disk fault, the admin seals its log streams within seconds and
# writers go on through the topic's other log streams; varlogctl status
# says why. When space returns the fault clears, the admin syncs the
# node's replicas and unseals them. Nothing acknowledged is lost or
# doubled. sn3's data directory is a 128 MiB tmpfs, filled with a file.
# While full, sn3 is killed and started again on its full disk: it comes
# up (RocksDB once aborted it there) and reports the fault again.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { log "skipped: mounting a small file system needs root"; exit 77; }

mkdir -p "$T/sn3"
mount -t tmpfs -o size=128m tmpfs "$T/sn3" || { log "skipped: cannot mount a tmpfs"; exit 77; }
TMPFS+=("$T/sn3")
cluster 3
ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create"
start_appenders f 2
wait_for 20 "the first acknowledgements" acks_ge 200

# fill sn3's disk
dd if=/dev/zero of="$T/sn3/filler" bs=1M 2>/dev/null || true
log "sn3's disk full: $(df -h "$T/sn3" | tail -1 | awk '{print $4 " free"}')"
sealed_n() { ctl ls list f | grep -c 'SEALED' || true; }
wait_for 20 "the admin to seal sn3's log streams" sh -c "ctl_out=\$('$BIN/varlogctl' --adm '$ADM' --mr '$MR' ls list f) && echo \"\$ctl_out\" | grep -q SEALED"
ctl status >"$T/status.txt"
grep -q 'sn 3: disk full' "$T/status.txt" || fail "varlogctl status does not say sn 3's disk is full: $(cat "$T/status.txt")"
log "status: $(grep 'sn 3:' "$T/status.txt")"
a=$(acks)
wait_for 20 "appends to go on through the other log streams" acks_ge $((a + 200))

# sn3 killed and started again on the full disk: RocksDB's open writes (a
# new MANIFEST, the flush of the replayed entry log) once aborted the node
# (Debian's RocksDB asserts `sync_without_flush_called_` on the info log
# line after one that met ENOSPC) or failed its start; now it comes up,
# serves, and reports the full disk again
kill9 sn3
dd if=/dev/zero of="$T/sn3/filler2" bs=4k 2>/dev/null || true
log "sn3 killed; starting it on its full disk: $(df -B1 --output=avail "$T/sn3" | tail -1 | tr -d ' ') bytes free"
n0=$(wc -l <"$T/sn3.log")
restart sn3
since() { tail -n +$((n0 + 1)) "$T/sn3.log"; }
up_again() { kill -0 "${DPID[sn3]}" && since | grep -q 'listening on' && since | grep -q 'disk full'; }
wait_for 20 "sn3 to start on its full disk" up_again
wait_for 20 "varlogctl status to say sn 3's disk is full again" sh -c "'$BIN/varlogctl' --adm '$ADM' --mr '$MR' status | grep -q 'sn 3: disk full'"
ctl subscribe f >/dev/null || fail "the log cannot be read with sn3 restarted on a full disk"
kill -0 "${DPID[sn3]}" || fail "sn3 died on its full disk: $(grep -E 'Assertion|rocksdb' "$T/sn3.log" | tail -3)"
! grep -q 'Assertion' "$T/sn3.log" || fail "RocksDB asserted in sn3: $(grep Assertion "$T/sn3.log")"
log "sn3 up on its full disk: $(since | grep -E 'released|disk full' | head -2 | cut -c 26-)"
[ "$(wc -c <"$T/sn3/LOG")" -eq 0 ] || fail "RocksDB writes its info log ($T/sn3/LOG), which aborts on a full disk"
a=$(acks)
wait_for 20 "appends to go on while sn3 restarted full" acks_ge $((a + 100))

# space again: the fault clears, the replicas are synced and unsealed
rm -f "$T/sn3/filler" "$T/sn3/filler2"
in_line() { ls_in_line f; }
wait_for 60 "sn3's log streams synced and unsealed" in_line
grep -q 'the disk has room again' "$T/sn3.log" || fail "sn3 did not log that its disk fault cleared"
a=$(acks)
wait_for 20 "appends after the recovery" acks_ge $((a + 200))

touch "$T/stop"
for w in 1 2; do wait "${APP[$w]}" 2>/dev/null || true; done
for w in 1 2; do
	[ "$(cat "$T/rc$w")" = 0 ] || fail "appender $w failed: $(tail -3 "$T/append$w.err")"
done
check_appenders f 2
[ "$DUP" -eq 0 ] || fail "$DUP entries are in the log twice"
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged entries are not in the log at their GLSN"
refused=$(cat "$T"/sn1.log "$T"/sn2.log | grep -c 'refused REPLICATE' || true)

log "ok: sealed out while full, back after; $ACKED acknowledged, all present once ($HWM entries); 'refused REPLICATE' logged $refused times"
