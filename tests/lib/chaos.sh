# chaos.sh - rounds of faults under writers that record every
# acknowledgement, and the checks after each round (sourced after
# tests/integration/lib.sh and tests/lib/netns.sh, as root; used by
# tests/integration/chaos.sh and partition.sh).
#
# The cluster (cx_cluster): hosts mr1..mr3 (an MR raft group), sn1..sn4
# (sn4's data on a 128 MiB tmpfs, to fill), adm, c1 (the writers and the
# varlogfs mount) and op (where the checks run varlogctl), each a network
# namespace of netns.sh; topic f, 3 log streams, rf 2.
#
# A round (cx_round NAME FAULT HEAL): three writers start on c1, each
# recording its acknowledgements under the prefix rR-: vl_chaoswr (libvarlog,
# vl_append; "TIME GLSN ENTRY"), `varlogctl append -v` (restarted with a new
# segment when it exits; "TIME GLSN", line i acknowledging input line i)
# and a shell loop appending one line a close() through the mount ("TIME
# ENTRY" when close returned 0). Once they are going, FAULT runs, then
# after a few seconds HEAL; the round waits until every log stream is in
# line (no SEALED) and the writers went on, stops them, and reads the
# log three ways: varlogctl subscribe, vl_chaoswr read and cat of the
# mount. tests/lib/chaos_check.py then checks that every acknowledged entry
# of the round is in the log exactly once (at its GLSN, with its bytes,
# where the writer was told one), that no entry is there twice, that each
# writer's entries are in its order, that the three reads are identical;
# the round checks the daemons are alive. One table row a round:
# acknowledged, present, duplicated, lost, unacknowledged-present, longest
# pause (largest gap between a writer's consecutive acknowledgements).
# A round that breaks an invariant keeps its evidence in $CX_EVIDENCE
# (outside $T) and sets CX_FAILED; the test fails at the end.

CX_CHECK=$(dirname "${BASH_SOURCE[0]}")/chaos_check.py
CX_HOSTS="mr1 mr2 mr3 sn1 sn2 sn3 sn4 adm c1 op"
CX_DAEMONS="mr1 mr2 mr3 sn1 sn2 sn3 sn4 adm"
CX_FAILED=0
CX_ROUND=0
CX_HOLD=${CX_HOLD:-3}
CX_EVIDENCE=${CHAOS_EVIDENCE:-/tmp/varlog-chaos-evidence.$$}
MR_NAME=([1]=mr1 [2]=mr2 [3]=mr3) # for lib.sh's mr_leader

ctl() { on op "$BIN/varlogctl" --adm "$ADM" --mr "$MR" "$@"; }

cx_cluster() {
	local i peers='' a
	net_switch
	for h in $CX_HOSTS; do net_host "$h"; done
	MR=
	for i in 1 2 3; do
		a=${HOST_ADDR[mr$i]}
		MR="$MR${MR:+,}tcp://$a:9092"
		peers="$peers${peers:+,}$i@$a:9192@tcp://$a:9092"
	done
	ADM=tcp://${HOST_ADDR[adm]}:9090
	for i in 1 2 3; do
		a=${HOST_ADDR[mr$i]}
		mkdir -p "$T/mr$i"
		net_daemon "mr$i" "mr$i" varlogmr --listen "tcp://$a:9092" --raft-addr "$a:9192" \
			--raft-id "$i" --peers "$peers" --data "$T/mr$i" --log-level info
	done
	mkdir -p "$T/sn1" "$T/sn2" "$T/sn3" "$T/sn4"
	if mount -t tmpfs -o size=128m tmpfs "$T/sn4"; then
		TMPFS+=("$T/sn4")
		CX_TMPFS=1
	else
		log "cannot mount a tmpfs: no disk-full faults"
		CX_TMPFS=0
	fi
	for i in 1 2 3 4; do
		net_daemon "sn$i" "sn$i" varlogsn --listen "tcp://${HOST_ADDR[sn$i]}:9101" --data "$T/sn$i" \
			--mr "$MR"
	done
	net_daemon adm adm varlogadm --listen "$ADM" --mr "$MR"
	wait_for 20 "an MR leader" mr_leader
	wait_for 10 "varlogadm" net_open op "${HOST_ADDR[adm]}" 9090
	for i in 1 2 3 4; do
		wait_for 10 "sn$i listening" net_open op "${HOST_ADDR[sn$i]}" 9101
		wait_for 10 "sn$i registered" ctl sn add "tcp://${HOST_ADDR[sn$i]}:9101"
	done
	ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create f"
	CX_MNT=$T/mnt
	mkdir -p "$CX_MNT"
	MOUNTS+=("$CX_MNT")
	cx_mount
	log "cluster up: 3 MR replicas, 4 SNs, the admin, the mount on c1; MR leader $(mr_leader)"
	printf '%-26s %8s %8s %5s %5s %8s %8s  %s\n' scenario acked present dup lost unackd pause_s \
		"pause lib/ctl/fs"
}

# cx_mount: varlogfs on c1 at $CX_MNT (again, after it died: its stale
# mount is taken away first).
cx_mount() {
	fusermount3 -uz "$CX_MNT" 2>/dev/null || true
	on c1 "$BIN/varlogfs" -f --mr="$MR" "$CX_MNT" >>"$T/fs.log" 2>&1 &
	DPID[fs]=$!
	DARGS[fs]=mount
	PIDS+=($!)
	wait_for 10 "varlogfs mounted" test -d "$CX_MNT/.follow"
}

# ---- the writers ---------------------------------------------------------------
CX_WPIDS=()
cx_writers_start() {
	local r=$1 d stamp
	d=$T/r$r
	mkdir -p "$d"
	rm -f "$d/stop"
	stamp='$|=1; use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC); while (<STDIN>) { printf "%.3f\t%s", clock_gettime(CLOCK_MONOTONIC), $_ }'
	on c1 "$BIN/tests/lib/vl_chaoswr" write "$MR" f "r$r-lib" "$d/stop" >"$d/lib.ack" 2>"$T/r$r-lib.log" &
	CX_WPIDS=($!)
	(
		set +e
		for ((s = 1; ; s++)); do
			[ -e "$d/stop" ] && break
			perl -e '$|=1; for (my $i = 1; ! -e "'"$d/stop"'"; $i++) { print "r'"$r"'-ctl-'"$s"'-$i\n"; select(undef, undef, undef, 0.01) }' |
				on c1 "$BIN/varlogctl" --mr "$MR" --timeout 8000 append f -v --batch 16 2>>"$T/r$r-ctl.log" |
				perl -e "$stamp" >"$d/ctl-$s.ack"
			echo "segment $s exit ${PIPESTATUS[1]}" >>"$d/ctl.rc"
		done
	) &
	CX_WPIDS+=($!)
	(
		set +e
		for ((i = 1; ; i++)); do
			[ -e "$d/stop" ] && break
			if { echo "r$r-fs-$i" >>"$CX_MNT/f"; } 2>>"$d/fs.err"; then
				printf '%s\tr%s-fs-%s\n' "$(cut -d' ' -f1 /proc/uptime)" "$r" "$i" >>"$d/fs.ack"
			else
				echo "r$r-fs-$i" >>"$d/fs.fail"
			fi
			sleep 0.01
		done
	) &
	CX_WPIDS+=($!)
	PIDS+=("${CX_WPIDS[@]}")
}
cx_acks() { cat "$T/r$CX_ROUND"/*.ack 2>/dev/null | wc -l; }
cx_acks_ge() { [ "$(cx_acks)" -ge "$1" ]; }
cx_writers_stop() {
	local p
	touch "$T/r$CX_ROUND/stop"
	for p in "${CX_WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# ---- health ------------------------------------------------------------------------
cx_in_line() { local o; o=$(ctl ls list f) && ! grep -q -E 'SEALED|SEALING' <<<"$o"; }
# cx_alive: true when every daemon and the mount run; else names the dead
# ones and starts them again (so that the rounds after go on).
cx_alive() {
	local n bad=''
	for n in $CX_DAEMONS fs; do kill -0 "${DPID[$n]}" 2>/dev/null || bad="$bad $n"; done
	[ -n "$bad" ] || return 0
	log "not running:$bad (look for core files where the test ran); starting them again"
	for n in $bad; do
		wait "${DPID[$n]}" 2>/dev/null || true
		if [ "$n" = fs ]; then cx_mount; else net_restart "$n"; fi
	done
	return 1
}

# cx_evidence WHY: keeps the round's files and the logs' tails in
# $CX_EVIDENCE/rR (outside $T, which the cleanup removes).
cx_evidence() {
	local e=$CX_EVIDENCE/r$CX_ROUND
	CX_FAILED=$((CX_FAILED + 1))
	mkdir -p "$e"
	cp -r "$T/r$CX_ROUND" "$e/files"
	for f in "$T"/*.log; do tail -n 300 "$f" >"$e/$(basename "$f")"; done
	log "round $CX_ROUND broke an invariant ($1): evidence in $e"
}

# cx_wait LIMIT WHAT CMD...: wait_for that keeps the evidence before it fails.
cx_wait() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			cx_alive || true
			cx_evidence "timed out after ${limit}s waiting for: $what"
			fail "timed out after ${limit}s waiting for: $what (seed ${CX_SEED:-none}; evidence in $CX_EVIDENCE)"
		fi
		sleep 0.1
	done
}

# ---- the checks -------------------------------------------------------------------
# cx_try SECONDS WHAT ERRFILE CMD...: runs CMD (stdout to the caller's) until
# it succeeds, for at most SECONDS; logs each failure (ERRFILE keeps them).
cx_try() {
	local limit=$1 what=$2 err=$3 deadline
	shift 3
	deadline=$((SECONDS + limit))
	: >"$err"
	until "$@" 2>>"$err" >"$err.out"; do
		log "$what failed: $(tail -n 1 "$err" | head -c 300)"
		[ $SECONDS -lt $deadline ] || { rm -f "$err.out"; return 1; }
		sleep 0.5
	done
	cat "$err.out"
	rm -f "$err.out"
}
cx_check() {
	local name=$1 r=$CX_ROUND d hwm bad=0
	d=$T/r$r
	# reads that fail (an MR election under way) are tried again for 30 s
	cx_try 30 "varlogctl subscribe" "$d/sub.err" ctl subscribe f --json >"$d/sub.json" || bad=1
	hwm=$(cx_try 30 "varlogctl topic describe" "$d/describe.err" ctl --json topic describe f |
		sed -n 's/.*"end_offset": *\([0-9]*\).*/\1/p') || true
	cx_try 30 "vl_chaoswr read" "$d/libread.err" on op "$BIN/tests/lib/vl_chaoswr" read "$MR" f >"$d/lib.out" || bad=1
	# the mount may learn of the last commits a moment later; what it shows
	# after 20 s is compared as it is (hwm: the topic's end offset, bytes)
	for _ in $(seq 100); do
		cat "$CX_MNT/f" >"$d/fs.all" 2>"$d/fs-read.err" && [ "$(stat -c %s "$d/fs.all")" -ge "${hwm:-0}" ] && break
		sleep 0.2
	done
	[ ! -s "$d/fs-read.err" ] || log "cat of the mount: $(head -c 300 "$d/fs-read.err")"
	if ! /usr/bin/python3 "$CX_CHECK" --round "r$r" --name "$name" --dir "$d" --evidence "$CX_EVIDENCE/r$r"; then
		bad=1
	fi
	cx_alive || bad=1
	[ $bad -eq 0 ] || cx_evidence "$name"
}

# cx_round NAME FAULT HEAL: one round (see the top of the file).
cx_round() {
	local name=$1 fault=$2 heal=$3 a
	CX_ROUND=$((CX_ROUND + 1))
	cx_writers_start "$CX_ROUND"
	cx_wait 30 "round $CX_ROUND: the first acknowledgements" cx_acks_ge 60
	echo "fault $(date +%s.%N) $name" >>"$T/r$CX_ROUND/events"
	eval "$fault"
	sleep "$CX_HOLD"
	eval "$heal"
	echo "heal $(date +%s.%N) $name" >>"$T/r$CX_ROUND/events"
	cx_wait 90 "round $CX_ROUND ($name): every log stream in line after the heal" cx_in_line
	a=$(cx_acks)
	cx_wait 30 "round $CX_ROUND ($name): appends after the heal" cx_acks_ge $((a + 60))
	cx_writers_stop
	cx_check "$name"
}

# ---- faults and heals ---------------------------------------------------------------
cx_kill9() { kill9 "$1"; }
cx_restart() { net_restart "$1"; }
cx_stop() { kill -STOP "${DPID[$1]}"; }
cx_cont() { kill -CONT "${DPID[$1]}"; }
cx_fill() { dd if=/dev/zero of="$T/sn4/filler" bs=1M 2>/dev/null || true; }
cx_unfill() { rm -f "$T/sn4/filler"; }
cx_block_mr() {
	for m in mr1 mr2 mr3; do net_block "$1" "$m"; done
	! net_open "$1" "${HOST_ADDR[mr1]}" 9092 || fail "$1 still reaches mr1 after the cut"
	net_open "$1" "${HOST_ADDR[adm]}" 9090 || fail "$1 no longer reaches the admin after its cut from the MR"
}
cx_unblock_mr() { for m in mr1 mr2 mr3; do net_unblock "$1" "$m"; done; }

# cx_primary: the SN that is the primary of the log stream with the most
# committed entries (the one writers are using), with its backups in
# CX_BACKUPS.
cx_primary() {
	local reps
	reps=$(cx_try 30 "varlogctl ls list" "$T/ls.err" ctl --json ls list f | grep -o '"committed_llsn_end": [0-9]*, "replicas": \[[0-9, ]*\]' |
		sed 's/[^0-9 ]//g' | sort -n -k1 | tail -1)
	set -- $reps
	CX_PRIMARY=sn$2
	shift 2
	CX_BACKUPS=
	for s in "$@"; do CX_BACKUPS="$CX_BACKUPS sn$s"; done
}
cx_block_backups() {
	local b
	for b in $CX_BACKUPS; do
		net_block "$CX_PRIMARY" "$b"
		! net_open "$CX_PRIMARY" "${HOST_ADDR[$b]}" 9101 || fail "$CX_PRIMARY still reaches $b after the cut"
	done
	net_open "$CX_PRIMARY" "${HOST_ADDR[mr1]}" 9092 || fail "$CX_PRIMARY no longer reaches mr1 after its cut from its backups"
}
cx_unblock_backups() { for b in $CX_BACKUPS; do net_unblock "$CX_PRIMARY" "$b"; done; }

# cx_finish: the sanitizer scan and the cleanup are lib.sh's; fails when a
# round broke an invariant.
cx_finish() {
	if [ "$CX_FAILED" -ne 0 ]; then
		fail "$CX_FAILED of $CX_ROUND rounds broke an invariant (seed ${CX_SEED:-none}); evidence in $CX_EVIDENCE"
	fi
	rm -rf "$CX_EVIDENCE"
}
