#!/usr/bin/env bash
# (quickstart) two clusters of ./quickstart side by side, each with its own
# VARLOG_DATA, VARLOG_PORT_BASE and VARLOG_MOUNT (all in the test's temp
# dir, on free ports): up and down unmount and stop only what their own
# VARLOG_DATA started. Cluster b's up with VARLOG_MOUNT at cluster a's
# mount is refused before it starts anything and names a's VARLOG_DATA;
# b's down with that VARLOG_MOUNT leaves a's mount alone; b's own mount and
# daemons come and go without touching a's; a's varlogfs killed with -9
# leaves a stale mount that b's up refuses and a's up clears and mounts
# again; a's down leaves nothing behind. a's varlogkov (BASE+3) serves kcat;
# b's up with VARLOG_KOV=0 starts none. quickstart runs the binaries under
# test as they are (VARLOG_BUILD=$VARLOG_BIN, VARLOG_NO_BUILD=1: its build
# step would check packages and run make).
. "$(dirname "$0")/lib.sh"
command -v fusermount3 >/dev/null || { echo "fusermount3 missing"; exit 77; }
[ -c /dev/fuse ] || { echo "/dev/fuse missing"; exit 77; }

QS=$(cd "$(dirname "$0")/../.." && pwd)/quickstart
declare -A QBASE

port_unused() { ! port_open "$1" && ! ss -Htan "sport = :$1" 2>/dev/null | grep -q .; }

# qs_base C: picks cluster C's port base: its admin (BASE), MR (BASE+2),
# varlogkov (BASE+3), the MR's raft transport (BASE+102), one storage node
# (BASE+11) and the metrics (+1000) ports of the MR and the storage node
# all free, not handed to the other cluster and locked against other tests
# (free_port's locks).
qs_base() {
	local o
	while :; do
		free_port
		for o in 2 3 11 102 1002 1011; do
			case "$HANDED_PORTS" in *" $((PORT + o)) "*) continue 2 ;; esac
			port_lock $((PORT + o)) || continue 2 # (lib.sh: another test's)
			port_unused $((PORT + o)) || continue 2
		done
		break
	done
	for o in 2 3 11 102 1002 1011; do HANDED_PORTS="$HANDED_PORTS$((PORT + o)) "; done
	QBASE[$1]=$PORT
}

# qs C CMD [VAR=VALUE...]: ./quickstart CMD for cluster C (data in $T/C,
# mount $T/C-mnt unless VAR=VALUE says otherwise).
qs() {
	local c=$1 cmd=$2
	shift 2
	env VARLOG_DATA="$T/$c" VARLOG_PORT_BASE="${QBASE[$c]}" VARLOG_MOUNT="$T/$c-mnt" \
		VARLOG_SNS=1 VARLOG_BUILD="$BIN" VARLOG_NO_BUILD=1 VARLOG_MR= VARLOG_ADM= "$@" \
		bash "$QS" "$cmd"
}

# on exit: each cluster's own down (it stops what quickstart started, by
# the PIDs in its run/), then lib.sh's cleanup; the daemons' logs are
# copied to $T for its sanitizer scan
qs_cleanup() {
	local rc=$? c f
	set +e
	for c in a b; do
		[ -d "$T/$c/run" ] || continue
		qs "$c" down >/dev/null 2>&1
		for f in "$T/$c"/log/*.log; do [ -f "$f" ] && cp "$f" "$T/$c-$(basename "$f")"; done
	done
	(exit $rc)
	cleanup
}
trap qs_cleanup EXIT
MOUNTS+=("$T/a-mnt" "$T/b-mnt")

mounted() { awk -v p="$1" '$2 == p { m = 1 } END { exit !m }' /proc/mounts; }
# serves DIR: the mount at DIR answers and holds the topic a (cluster a's)
holds_a() { [ "$(timeout 5 cat "$1/a" 2>/dev/null)" = "one" ]; }

qs_base a
qs_base b
qs a up >"$T/a-up.out" 2>&1 || fail "a: up failed: $(cat "$T/a-up.out")"
mounted "$T/a-mnt" || fail "a: up did not mount $T/a-mnt"
echo one >>"$T/a-mnt/a" || fail "a: append through the mount failed"
holds_a "$T/a-mnt" || fail "a: the mount does not read back what was appended"
log "a: up on port base ${QBASE[a]}, mounted at $T/a-mnt"
KOV_A=127.0.0.1:$((QBASE[a] + 3))
grep -qF "bootstrap server $KOV_A" "$T/a-up.out" || fail "a: up does not print the Kafka bootstrap address: $(cat "$T/a-up.out")"
if command -v kcat >/dev/null; then
	# varlog topic k-0 is partition 0 of Kafka topic k
	echo viafs >>"$T/a-mnt/k-0" || fail "a: append to k-0 through the mount failed"
	kcat -b "$KOV_A" -C -t k -p 0 -o beginning -e -f '%s' >"$T/a-kcat.out" 2>/dev/null ||
		fail "a: kcat through its varlogkov failed"
	[ "$(cat "$T/a-kcat.out")" = "viafs" ] || fail "a: kcat read '$(cat "$T/a-kcat.out")' from k, expected viafs"
	log "a: its varlogkov at $KOV_A serves kcat"
fi

# b at a's mount point: refused before anything starts; a's mount stays
if qs b up VARLOG_MOUNT="$T/a-mnt" >"$T/b-up.out" 2>&1; then
	fail "b: up at a's mount point succeeded: $(cat "$T/b-up.out")"
fi
grep -qF "VARLOG_DATA=$T/a" "$T/b-up.out" || fail "b: the refusal does not name a's VARLOG_DATA: $(cat "$T/b-up.out")"
grep -q "VARLOG_MOUNT" "$T/b-up.out" || fail "b: the refusal does not say what to do: $(cat "$T/b-up.out")"
[ ! -e "$T/b/run" ] || fail "b: a refused up started something: $(ls "$T/b/run")"
holds_a "$T/a-mnt" || fail "a: its mount was touched by b's refused up"
log "b: up at a's mount refused: $(cat "$T/b-up.out")"
qs b down VARLOG_MOUNT="$T/a-mnt" >"$T/b-down.out" 2>&1 || fail "b: down failed: $(cat "$T/b-down.out")"
holds_a "$T/a-mnt" || fail "a: its mount was taken away by b's down"
grep -q "leaving the mount at $T/a-mnt alone" "$T/b-down.out" ||
	fail "b: down does not say it left a's mount alone: $(cat "$T/b-down.out")"

# b with its own mount (and no varlogkov), up and down: a's mount and daemons stay
qs b up VARLOG_KOV=0 >"$T/b-up.out" 2>&1 || fail "b: up failed: $(cat "$T/b-up.out")"
[ ! -e "$T/b/run/kov.pid" ] || fail "b: VARLOG_KOV=0 started varlogkov"
mounted "$T/b-mnt" || fail "b: up did not mount $T/b-mnt"
[ ! -e "$T/b-mnt/a" ] || fail "b: its mount shows a's topic"
holds_a "$T/a-mnt" || fail "a: its mount stopped serving when b came up"
B_PIDS=$(cat "$T/b"/run/*.pid)
qs b down >"$T/b-down.out" 2>&1 || fail "b: down failed: $(cat "$T/b-down.out")"
! mounted "$T/b-mnt" || fail "b: down left $T/b-mnt mounted"
for p in $B_PIDS; do
	! kill -0 "$p" 2>/dev/null || fail "b: down left pid $p running"
done
holds_a "$T/a-mnt" || fail "a: its mount was taken away by b's down"
qs a status >"$T/a-status.out"
[ "$(grep -c ' running$' "$T/a-status.out")" -eq 5 ] || fail "a: b's down stopped some of a: $(cat "$T/a-status.out")"
log "b: up and down with its own mount; a untouched"

# a's varlogfs dies: the stale mount is a's to clear, not b's
kill -KILL "$(cat "$T/a/run/fs.pid")"
wait_for 10 "a's mount to go stale" sh -c "! stat '$T/a-mnt' 2>/dev/null"
if qs b up VARLOG_MOUNT="$T/a-mnt" >"$T/b-up.out" 2>&1; then
	fail "b: up at a's stale mount succeeded: $(cat "$T/b-up.out")"
fi
[ ! -e "$T/b/run" ] || [ -z "$(ls "$T/b/run")" ] || fail "b: a refused up started something: $(ls "$T/b/run")"
qs a up >"$T/a-up.out" 2>&1 || fail "a: up after its varlogfs died failed: $(cat "$T/a-up.out")"
holds_a "$T/a-mnt" || fail "a: up did not mount $T/a-mnt again"
log "a: stale mount refused to b, cleared and mounted again by a"

qs a down >"$T/a-down.out" 2>&1 || fail "a: down failed: $(cat "$T/a-down.out")"
! grep -qF "$T/" /proc/mounts || fail "mounts left behind: $(grep -F "$T/" /proc/mounts)"
for c in a b; do
	for f in "$T/$c"/run/*.pid; do [ ! -f "$f" ] || fail "$c: down left $f"; done
done
for p in /proc/[0-9]*; do
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$T/"; then
		fail "a process of the test's clusters still runs: $(tr '\0' ' ' <"$p/cmdline")"
	fi
done
log "ok: two clusters side by side; up and down touched only their own mount and daemons"
