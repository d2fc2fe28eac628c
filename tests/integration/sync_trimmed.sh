#!/usr/bin/env bash
# An empty replacement replica of a trimmed log stream is synced (issue 4):
# rf 2, two log streams on 3 storage nodes plus a spare. Both log streams
# take appends at once (so that their GLSNs interleave), most of the log is
# trimmed, log stream 1 is sealed and its primary replaced by the spare.
# The source no longer holds LLSN 1, so the sync first gives the spare a
# base just below the first entry the source kept, then the kept entries;
# the MR resends the commits from there. Afterwards the log stream can be
# unsealed, the new replica read alone holds exactly what the other one
# holds, reads below the trim point fail as trimmed, and appends go on
# through the new primary.
. "$(dirname "$0")/lib.sh"

cluster 4
ctl topic create t --log-streams 2 --replication-factor 2 >/dev/null

# replicas_of LS: the storage node ids of log stream LS of topic t, primary first
replicas_of() {
	ctl topic describe t --json | grep -o "\"id\": $1, \"state\": \"[A-Z]*\", \"replicas\": \[[0-9, ]*\]" |
		sed 's/.*\[\(.*\)\]/\1/; s/,//g'
}

# replica_end LS SN: the last LLSN storage node SN says it holds of LS (as
# the admin last heard it)
replica_end() {
	ctl ls list t --json | sed 's/}, {"topic"/}\n{"topic"/g' | grep "\"id\": $1, " |
		grep -o "{\"sn\": $2, \"up\": [a-z]*, \"llsn_end\": [0-9]*" | sed 's/.*: //'
}
end_is() { [ "$(replica_end "$1" "$2")" = "$3" ]; }

# same_as_log LS: every replica of LS, read alone, holds what a subscriber sees
same_as_log() {
	local ls=$1 n sn
	ctl subscribe t --json >"$T/all.json" || fail "subscribe failed"
	sed -E 's/^\{"glsn": ([0-9]+), "ls": ([0-9]+), .*"data": "(.*)"\}$/\2\t\1\t\3/' "$T/all.json" >"$T/all.txt"
	awk -F'\t' -v ls="$ls" '$1 == ls { print $2 "\t" $3 }' "$T/all.txt" >"$T/want.txt"
	n=$(wc -l <"$T/want.txt")
	[ "$n" -gt 0 ] || fail "the subscriber saw nothing of ls $ls"
	for sn in $(replicas_of "$ls"); do
		"$BIN/tests/lib/vl_lsread" "$MR" t "$ls" "$sn" >"$T/ls$ls-sn$sn.txt" || fail "reading ls $ls from sn $sn failed"
		cmp -s "$T/want.txt" "$T/ls$ls-sn$sn.txt" ||
			fail "ls $ls read from sn $sn alone differs from the subscriber ($(wc -l <"$T/ls$ls-sn$sn.txt") vs $n entries)"
	done
	log "ls $ls: $n entries from $(head -c 40 "$T/want.txt" | head -1 | cut -f1) on, identical on sn $(replicas_of "$ls" | tr ' ' ,)"
}

seq -f "one-%g" 1 3000 | ctl append t --ls 1 --batch 50 >/dev/null &
A1=$!
seq -f "two-%g" 1 3000 | ctl append t --ls 2 --batch 50 >/dev/null &
A2=$!
PIDS+=($A1 $A2)
wait "$A1" || fail "append to ls 1 failed"
wait "$A2" || fail "append to ls 2 failed"
read -r -a R1 <<<"$(replicas_of 1)"
[ "${#R1[@]}" -eq 2 ] || fail "ls 1 has replicas '${R1[*]}', expected 2"
SPARE=
for i in 1 2 3 4; do
	case " ${R1[*]} ${SPARE:-} " in *" $i "*) ;; *) SPARE=$i ;; esac
done
log "ls 1 on sn ${R1[*]} (primary ${R1[0]}), spare sn $SPARE"

# trim most of the log, up to an entry of ls 1 followed by another (so the
# trim point most likely falls inside a commit range of ls 1, whose head
# is trimmed): past ls 1's 2000th entry, wherever the two appenders' pace
# put it (a fixed GLSN found none when ls 1 finished first under load);
# wait until the remaining replica has deleted it
ctl subscribe t --json >"$T/before.json" || fail "subscribe failed"
TRIM=$(awk -F'[:,]' '{ g = $2 + 0; l = $4 + 0 }
	l == 1 { n1++ }
	n1 > 2000 && prev == 1 && l == 1 { print g - 1; exit }
	{ prev = l }' "$T/before.json")
[ -n "$TRIM" ] || fail "no two entries of ls 1 in a row past its 2000th"
ctl trim t "$TRIM" >/dev/null || fail "trim failed"
wait_for 20 "sn ${R1[1]} to delete the trimmed entries of ls 1" grep -q "ls=1: trimmed below glsn=$((TRIM + 1))" "$T/sn${R1[1]}.log"

ctl ls seal t 1 >"$T/seal.out" || fail "seal failed"
log "$(cat "$T/seal.out")"
ctl ls update t 1 --replace "${R1[0]}" --with "$SPARE" >/dev/null || fail "ls update failed"
read -r -a N1 <<<"$(replicas_of 1)"
[ "${N1[0]}" = "$SPARE" ] || fail "after the update ls 1 is on '${N1[*]}', expected $SPARE first"
wait_for 20 "the admin to see sn ${R1[1]} hold the sealed end" end_is 1 "${R1[1]}" 3000
ctl ls sync t 1 >"$T/sync.out" 2>&1 || fail "ls sync failed: $(cat "$T/sync.out")"
log "sync: $(tr '\n' '|' <"$T/sync.out")"
grep -q "sn $SPARE in line at llsn 3000" "$T/sync.out" || fail "the sync did not bring sn $SPARE in line"
grep -q "base" "$T/sn$SPARE.log" || fail "sn $SPARE did not take a base (was the source trimmed?)"
log "$(grep -h "base" "$T/sn${R1[1]}.log" "$T/sn$SPARE.log" | sed 's/^[^ ]* [^ ]* //' | tr '\n' '|')"
wait_for 20 "unseal to be accepted" ctl ls unseal t 1
same_as_log 1

# below the trim point: trimmed, also when the new replica is asked
if ctl subscribe t --begin 5 --end 6 >/dev/null 2>"$T/trimmed.err"; then fail "a read below the trim point succeeded"; fi
grep -q "trimmed" "$T/trimmed.err" || fail "a read below the trim point did not say 'trimmed': $(cat "$T/trimmed.err")"

# appends go on through the new primary, and both replicas take them
seq -f "three-%g" 1 500 | ctl append t --ls 1 --batch 50 >/dev/null || fail "append after the unseal failed"
same_as_log 1
[ "$(grep -c 'three-' "$T/want.txt")" -eq 500 ] || fail "the appends after the unseal are not all in ls 1"
log "ok: the spare was synced from a base below the first kept entry; ls 1 unsealed and appended to"
