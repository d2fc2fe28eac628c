#!/usr/bin/env bash
# kill -9 of the metadata repository's leader under load, five times in a
# row: an MR group of 3 replicas, 3 storage nodes, the admin, a topic of 3
# log streams (rf 2) and 3 appender processes writing numbered lines. Each
# round kills whichever replica leads, waits for commits to resume under
# the next leader, restarts the killed replica (same options, same data
# directory) and waits until it follows again. With MR_SCENARIO=all
# (mr_restart.sh) each of two rounds kills all three replicas at once
# instead and restarts them. With MR_SCENARIO=stop (mr_fence.sh) one round
# SIGSTOPs the leader instead, seals a log stream under the next leader
# while it is stopped, SIGCONTs it after three election timeouts at
# least, and checks that it stepped down and the seal holds everywhere.
# Then: every appender finished; every
# acknowledged entry is in the log exactly once, at the GLSN it was
# acknowledged with, with its bytes; the log is dense; a subscriber that
# followed the log from before the first kill and one started after the
# last read the same sequence. Prints the counts (acknowledged, present,
# duplicated, lost), the longest commit gap (the longest time without an
# acknowledgement, over all appenders) and each kill's failover time (from
# the kill to when acknowledgements resume), and fails when one took over
# MR_FAILOVER_LIMIT_S.
. "$(dirname "$0")/lib.sh"
WRITERS=3
SCENARIO=${MR_SCENARIO:-leader}
case "$SCENARIO" in
leader) ROUNDS=${MR_FAILOVER_ROUNDS:-5} ;;
all) ROUNDS=${MR_FAILOVER_ROUNDS:-2} ;;
stop) ROUNDS=${MR_FAILOVER_ROUNDS:-1} ;;
*) fail "MR_SCENARIO=$SCENARIO: use leader or all" ;;
esac
# a failover slower than this is a failure (the target is 2.5 s; this
# leaves room for a loaded machine, and catches a group that hangs)
LIMIT_S=${MR_FAILOVER_LIMIT_S:-10}

VARLOG_TEST_MRS=3 cluster 3
ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null
log "MR replicas: $MR; leader $(mr_leader)"

"$BIN/varlogctl" --mr "$MR" subscribe f --follow --glsn >"$T/sub-before.out" 2>"$T/sub-before.err" &
PIDS+=($!)

start_appenders f $WRITERS

# acked_after T: some appender was acknowledged after time T
acked_after() { awk -F'\t' -v t="$1" '$1 > t { f = 1; exit } END { exit !f }' "$T"/ack*.txt; }
now() { date +%s.%N; }
# rejoined NAME LINE: replica NAME's log, after its line LINE (its restart),
# says it follows a known leader, or leads
# (awk, not tail | grep -q: under pipefail that pipeline fails, grep having
# found the line, when tail has more than a pipe's 64 KiB left to write)
rejoined() {
	awk -v from="$2" 'NR > from && /follower in term [0-9]+ \(leader [1-9]|mr: leading in term / { f = 1; exit }
		END { exit !f }' "$T/$1.log"
}
# steady N: N more acknowledgements than now, within 20 s
steady() {
	local want=$(($(acks) + $1))
	wait_for 20 "$1 more acknowledgements" acks_ge "$want"
}

# ---- MR_SCENARIO=stop -----------------------------------------------------
# other_leader NAME: prints the replica other than NAME whose log says it
# leads (NAME's still does while it is stopped)
other_leader() {
	local i
	for i in "${!MR_NAME[@]}"; do
		[ "${MR_NAME[$i]}" != "$1" ] && [ "$(mr_role "${MR_NAME[$i]}")" = leader ] &&
			echo "${MR_NAME[$i]}" && return 0
	done
	return 1
}
is_follower() { [ "$(mr_role "$1")" = follower ]; }
# sealed_everywhere LS: the MR's metadata and each of LS's 2 replicas (as
# its storage node reports it) say SEALED
sealed_everywhere() {
	local j
	j=$(ctl ls list f --json | sed 's/}, {"topic"/}\n{"topic"/g' | grep "\"id\": $1, ") || return 1
	grep -q "^[[{]*{\"topic\": \"f\", \"id\": $1, \"state\": \"SEALED\"" <<<"$j" || return 1
	[ "$(grep -o '"applied_llsn_end": [0-9]*, "state": "SEALED"' <<<"$j" | wc -l)" -eq 2 ]
}
# fence_round R OLD: SIGSTOP of the leader OLD; the others elect a leader
# and commits go on; log stream 1 is sealed through the new leader; OLD is
# resumed after 1.5 s (three election timeouts) at least and must step
# down, and the seal must hold on every storage node.
fence_round() {
	local r=$1 old=$2 new sealed_at
	KILLS[$r]=$(now)
	kill -STOP "${DPID[$old]}"
	wait_for 10 "a replica other than $old to lead while it is stopped" other_leader "$old"
	new=$(other_leader "$old")
	wait_for 20 "commits to resume under $new while $old is stopped" acked_after "${KILLS[$r]}"
	ctl --timeout 10000 ls seal f 1 >"$T/seal.out" || fail "ls seal f 1 while $old is stopped failed"
	sealed_at=$(now)
	wait_for 10 "log stream 1 sealed on each replica while $old is stopped" sealed_everywhere 1
	wait_for 10 "commits after the seal while $old is stopped" acked_after "$sealed_at"
	awk -v t="${KILLS[$r]}" -v n="$(now)" 'BEGIN { d = t + 1.6 - n; if (d > 0) system("sleep " d) }'
	kill -CONT "${DPID[$old]}"
	log "round $r: $old stopped for $(awk -v t="${KILLS[$r]}" -v n="$(now)" 'BEGIN { printf "%.1f", n - t }') s; $new led meanwhile and sealed ls 1 ($(cat "$T/seal.out"))"
	wait_for 10 "$old to step down after SIGCONT" is_follower "$old"
	steady 200
	# whatever the resumed replica still sent is in by now
	sealed_everywhere 1 || fail "the seal of log stream 1 does not hold after $old resumed: $(ctl ls list f)"
	log "round $r: $old stepped down; the seal holds on every replica; the storage nodes logged $(cat "$T"/sn*.log | grep -c 'ignored: the MR leader of term' || true) lines of a deposed leader's messages ignored"
}

steady 300
KILLS=()
for r in $(seq "$ROUNDS"); do
	wait_for 20 "a leader before round $r" mr_leader
	OLD=$(mr_leader)
	if [ "$SCENARIO" = stop ]; then
		fence_round "$r" "$OLD"
		continue
	fi
	declare -A FROM=()
	if [ "$SCENARIO" = leader ]; then
		VICTIMS=("$OLD")
	else
		VICTIMS=("${MR_NAME[@]}")
	fi
	KILLS[$r]=$(now)
	for v in "${VICTIMS[@]}"; do kill9 "$v"; done
	if [ "$SCENARIO" = all ]; then
		# everything down a moment: the storage nodes must wait it out
		sleep 0.5
		for v in "${VICTIMS[@]}"; do
			FROM[$v]=$(wc -l <"$T/$v.log")
			restart "$v"
		done
	fi
	wait_for 30 "commits to resume after round $r (kill -9 of ${VICTIMS[*]})" acked_after "${KILLS[$r]}"
	wait_for 20 "a leader after round $r" mr_leader
	if [ "$SCENARIO" = leader ]; then
		FROM[$OLD]=$(wc -l <"$T/$OLD.log")
		restart "$OLD"
	fi
	for v in "${VICTIMS[@]}"; do
		wait_for 20 "$v to follow a leader again after its restart" rejoined "$v" "${FROM[$v]}"
	done
	NEW=$(mr_leader) || true
	log "round $r: kill -9 of ${VICTIMS[*]} (leader $OLD); now $NEW leads"
	steady 200
done
touch "$T/stop"
for w in $(seq $WRITERS); do wait "${APP[$w]}" || true; done
for w in $(seq $WRITERS); do
	[ "$(cat "$T/rc$w")" = 0 ] || log "appender $w: exit $(cat "$T/rc$w"): $(head -c 300 "$T/append$w.err")"
done

# the log after the kills, and what each appender was told
check_appenders f $WRITERS

wait_for 30 "the subscriber started before the kills to see $HWM entries" lines_ge "$T/sub-before.out" "$HWM"
head -n "$HWM" "$T/sub-before.out" | cmp -s - "$T/after.out" ||
	fail "the subscriber started before the kills saw another sequence"

# the longest commit gap over all appenders, and each kill's failover
# time: from the kill to the end of the longest gap between the
# acknowledgements that followed it (those of batches committed just
# before the kill may come first)
cat "$T"/ack*.txt | cut -f1 | sort -n >"$T/times.txt"
GAP=$(awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.3f", m }' "$T/times.txt")
SLOW=0
OVER=0
TIMES=
KILLS[ROUNDS + 1]=$(now)
for r in $(seq "$ROUNDS"); do
	f=$(awk -v t="${KILLS[$r]}" -v u="${KILLS[r + 1]}" '
		$1 > t && $1 < u { if ($1 - p > m) { m = $1 - p; at = $1 } }
		{ p = ($1 > t ? $1 : t) }
		END { printf "%.3f", at ? at - t : -1 }' "$T/times.txt")
	TIMES="$TIMES ${f}s"
	awk -v f="$f" 'BEGIN { exit !(f > 2.5) }' && SLOW=$((SLOW + 1))
	awk -v f="$f" -v l="$LIMIT_S" 'BEGIN { exit !(f > l) }' && OVER=$((OVER + 1))
done
OK_APPENDERS=$(grep -lx 0 "$T"/rc* | wc -l)
log "acknowledged $ACKED, present $PRESENT, duplicated $DUP, lost $LOST; log holds $HWM entries ($((HWM - PRESENT)) not acknowledged)"
log "longest commit gap: ${GAP}s; failover time of each round ($([ "$SCENARIO" = stop ] && echo SIGSTOP || echo kill -9) to the acknowledgements' resumption):$TIMES ($SLOW over 2.5 s)"
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged entries lost"
[ "$DUP" -eq 0 ] || fail "$DUP entries are in the log twice"
[ "$OK_APPENDERS" -eq $WRITERS ] || fail "$((WRITERS - OK_APPENDERS)) appenders failed"
[ "$HWM" -eq "$ACKED" ] || fail "the log holds $HWM entries for $ACKED acknowledged (every appender finished)"
[ "$OVER" -eq 0 ] || fail "$OVER failovers took longer than ${LIMIT_S}s"
log "ok"
