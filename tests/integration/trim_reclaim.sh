#!/usr/bin/env bash
# (trim_reclaim) a trim gives disk space back on a small disk: three
# storage nodes, each with a 160 MiB tmpfs data directory, hold one topic
# (replication factor 3) that fills about three quarters of every disk,
# and a file fills sn1's disk to the last byte; `varlogctl trim` of all but the
# topic's last entries must leave at least half of every disk free within
# 10 s (the entry log's segments are a sixteenth of the disk, so all but
# the one being written can go). Then the nodes take
# and serve more entries, the entries kept read back exactly, varlogctl
# status shows each node's free space and df on the mount the cluster's.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { log "skipped: mounting a small file system needs root"; exit 77; }

DISK_MB=160
for i in 1 2 3; do
	mkdir -p "$T/sn$i"
	mount -t tmpfs -o size=${DISK_MB}m tmpfs "$T/sn$i" || { log "skipped: cannot mount a tmpfs"; exit 77; }
	TMPFS+=("$T/sn$i")
done
cluster 3
grep -q 'entry log segments of 10 MiB' "$T/sn1.log" ||
	fail "sn1 did not size its segments from its 160 MiB disk: $(grep 'segments of' "$T/sn1.log")"
ctl topic create big --log-streams 2 --replication-factor 3 >/dev/null || fail "topic create"

# used_pct DIR / free_bytes DIR: of the file system holding DIR
used_pct() { df --output=pcent "$1" | tail -1 | tr -dc 0-9; }
free_bytes() { df -B1 --output=avail "$1" | tail -1 | tr -dc 0-9; }
max_used() {
	local m=0 i u
	for i in 1 2 3; do
		u=$(used_pct "$T/sn$i")
		[ "$u" -gt "$m" ] && m=$u
	done
	echo "$m"
}
# lines N FROM: N lines of 32 KiB, line k = "e-k-" then padding from k
lines() {
	awk -v n="$1" -v from="$2" 'BEGIN {
		pad = "0123456789abcdefghijklmnopqrstuvwxyz"
		while (length(pad) < 32768) pad = pad pad
		for (k = from; k < from + n; k++) { h = "e-" k "-"; print h substr(pad, 1 + k % 36, 32768 - length(h)) } }'
}

# fill: 8 MiB a round until the fullest disk is 72 % used
next=1
while [ "$(max_used)" -lt 72 ]; do
	lines 256 $next | ctl append big --batch 16 >/dev/null || fail "append of lines $next.. failed"
	next=$((next + 256))
	[ $next -lt 20000 ] || fail "the disks never filled: $(df -h "$T/sn1" | tail -1)"
done
hwm=$((next - 1))
before=""
for i in 1 2 3; do before="$before sn$i $(used_pct "$T/sn$i")%"; done
log "filled: $hwm entries of 32 KiB, used:$before; segments: $(ls "$T"/sn1/vlog/*.vlog | wc -l) on sn1"

# status shows the nodes' disks
ctl status >"$T/status.txt" || fail "varlogctl status failed"
grep -q 'DISK_FREE' "$T/status.txt" || fail "varlogctl status shows no disk column: $(cat "$T/status.txt")"
[ "$(grep -c 'MiB *1[56][0-9]\.[0-9] MiB' "$T/status.txt")" -eq 3 ] ||
	fail "varlogctl status does not show three 160 MiB disks: $(cat "$T/status.txt")"
ctl --json status | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
assert len(s["sns"]) == 3 and all(150 << 20 <= n["disk_total"] <= 170 << 20 and n["disk_free"] < n["disk_total"] for n in s["sns"]), s["sns"]' ||
	fail "varlogctl --json status lacks the disks' sizes"

# sn1's disk full to the last byte (a file of someone else's). (Debian's
# RocksDB once aborted the node there, on its info log, before the trim:
# see doc/DESIGN.md; the trim uses the store's 8 MiB reserve.)
dd if=/dev/zero of="$T/sn1/filler" bs=1M 2>/dev/null || true
dd if=/dev/zero of="$T/sn1/filler2" bs=4k 2>/dev/null || true
log "sn1's disk full: $(free_bytes "$T/sn1") bytes free"

# trim all but the last 8 entries; at least half of every disk free in 10 s
keep=8
trim_at=$((hwm - keep))
t0=$(date +%s.%N)
ctl trim big $trim_at || fail "trim failed"
half_free() {
	local i
	for i in 1 2 3; do [ "$(free_bytes "$T/sn$i")" -ge $((DISK_MB << 19)) ] || return 1; done
}
wait_for 10 "half of every node's disk free after the trim" half_free
t1=$(date +%s.%N)
after=""
for i in 1 2 3; do after="$after sn$i $(used_pct "$T/sn$i")%"; done
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
log "trimmed below $((trim_at + 1)): used:$after after ${secs}s; segments: $(ls "$T"/sn1/vlog/*.vlog | wc -l) on sn1"


# the nodes are healthy: more entries, and every entry kept reads back
# (sn1's log streams run again if they were sealed while its disk was
# full)
rm -f "$T/sn1/filler" "$T/sn1/filler2"
running() { ls_in_line big; }
wait_for 60 "the log streams running again" running
lines 64 $next | ctl append big --batch 16 -v >"$T/more.glsn" || fail "append after the trim failed"
[ "$(head -1 "$T/more.glsn")" = $((hwm + 1)) ] ||
	fail "the first entry after the trim got GLSN $(head -1 "$T/more.glsn"), expected $((hwm + 1))"
ctl subscribe big --glsn >"$T/read.out" || fail "reading the topic after the trim failed"
{ lines $keep $((trim_at + 1)); lines 64 $next; } | awk '{ print NR "\t" $0 }' >"$T/want.txt"
awk -F'\t' -v base=$trim_at '{ print $1 - base "\t" $2 }' "$T/read.out" | cmp -s - "$T/want.txt" ||
	fail "the topic after the trim is not entries $((trim_at + 1))..$((hwm + 64)) as written ($(wc -l <"$T/read.out") entries; first $(head -c 40 "$T/read.out"))"
ctl subscribe big --begin 1 --end 2 >/dev/null 2>&1 && fail "entry 1 still reads after the trim"

# df on the mount: the cluster's free space (the three disks)
mount_fs "$T/fs"
total=$(df -B1 --output=size "$T/fs" | tail -1 | tr -dc 0-9)
avail=$(df -B1 --output=avail "$T/fs" | tail -1 | tr -dc 0-9)
[ "$total" -ge $((3 * 150 << 20)) ] && [ "$total" -le $((3 * 170 << 20)) ] ||
	fail "df on the mount says $total bytes, not three 160 MiB disks"
[ "$avail" -ge $((3 * DISK_MB << 19)) ] || fail "df on the mount says $avail bytes free, not half of three disks"
umount_fs "$T/fs"

log "ok: used before:$before; after trim:$after within ${secs}s; mount: $((avail >> 20)) of $((total >> 20)) MiB free"
