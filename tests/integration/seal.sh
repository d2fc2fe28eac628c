#!/usr/bin/env bash
# Manual seal / sync / replace / unseal with varlogctl on a quiet cluster:
# rf 3 on 4 storage nodes. An append caught by the seal fails with a clear
# 'sealed' error and its uncommitted entries are discarded on every
# replica; appends to the sealed log stream fail at once while the other
# log stream takes appends; the primary is replaced by the 4th storage
# node, unseal is refused until a sync fills it; afterwards each replica,
# read alone, holds exactly what a subscriber sees.
. "$(dirname "$0")/lib.sh"

cluster 4
# Every seal, sync and unseal here is by hand: the admin again, with its
# automatic handling off, or it would seal log stream 1 itself once the
# stopped backup below missed its heartbeats (3 s), before or instead of
# the test's seal, and later sync and unseal it by itself.
kill -TERM "${DPID[adm]}"
wait "${DPID[adm]}" 2>/dev/null || true
daemon adm varlogadm --listen "$ADM" --mr "$MR" --auto off
wait_for 10 "varlogadm listening again" ctl status
ctl topic create s --log-streams 2 --replication-factor 3 >/dev/null

# replicas_of LS: the storage node ids of log stream LS of topic s, primary first
replicas_of() {
	ctl topic describe s --json | grep -o "\"id\": $1, \"state\": \"[A-Z]*\", \"replicas\": \[[0-9, ]*\]" |
		sed 's/.*\[\(.*\)\]/\1/; s/,//g'
}
# replica_end LS SN: the last LLSN storage node SN says it holds of LS
replica_end() {
	ctl ls list s --json | grep -o "\"id\": $1, [^]]*\]" >/dev/null # LS present
	ctl ls list s --json | sed 's/}, {"topic"/}\n{"topic"/g' | grep "\"id\": $1, " |
		grep -o "{\"sn\": $2, \"up\": [a-z]*, \"llsn_end\": [0-9]*" | sed 's/.*: //'
}
end_is() { [ "$(replica_end "$1" "$2")" = "$3" ]; }

seq -f "one-%g" 1 1000 | ctl append s --ls 1 --batch 100 >/dev/null || fail "append to ls 1 failed"
seq -f "two-%g" 1 1000 | ctl append s --ls 2 --batch 100 >/dev/null || fail "append to ls 2 failed"
read -r -a R1 <<<"$(replicas_of 1)"
[ "${#R1[@]}" -eq 3 ] || fail "ls 1 has replicas '${R1[*]}', expected 3"
SPARE=
for i in 1 2 3 4; do
	case " ${R1[*]} " in *" $i "*) ;; *) SPARE=$i ;; esac
done
log "ls 1 on sn ${R1[*]} (primary ${R1[0]}), spare sn $SPARE"

# An append that cannot commit: one backup stopped, so the entries reach
# the primary and the other backup only. The seal fixes the end before
# them; the append fails with 'sealed' and the entries are discarded.
kill -STOP "${DPID[sn${R1[2]}]}"
seq -f "lost-%g" 1 50 | ctl --timeout 30000 append s --ls 1 --batch 10 >"$T/lost.out" 2>"$T/lost.err" &
LOST=$!
PIDS+=($LOST)
wait_for 20 "the primary to hold the uncommitted entries" end_is 1 "${R1[0]}" 1050
ctl ls seal s 1 >"$T/seal.out" || fail "seal failed"
grep -q "sealed at llsn 1000 " "$T/seal.out" || fail "seal did not report the end 1000: $(cat "$T/seal.out")"
if wait "$LOST"; then fail "the append caught by the seal succeeded"; fi
grep -q "sealed" "$T/lost.err" || fail "the append caught by the seal did not say 'sealed': $(cat "$T/lost.err")"
log "append caught by the seal: $(cat "$T/lost.err")"
kill -CONT "${DPID[sn${R1[2]}]}"
wait_for 20 "the primary to discard its uncommitted suffix" end_is 1 "${R1[0]}" 1000
wait_for 20 "the stopped backup to answer again" end_is 1 "${R1[2]}" 1000
ctl ls list s >"$T/list1.txt"
log "after the seal: $(tr -s ' ' <"$T/list1.txt" | tr '\n' '|')"
grep -q "SEALED" "$T/list1.txt" || fail "ls list does not show SEALED"

# appends to the sealed log stream fail fast and say so; ls 2 still works.
# (Fast: refused, not given up on at its time-out. With a time-out of 60 s
# the two are told apart by half of it, however loaded the machine is; the
# default 5 s against a bound of 3 s was a race with a slow start under ASan.)
START=$(date +%s%N)
if echo x | ctl --timeout 60000 append s --ls 1 2>"$T/sealed.err"; then fail "append to a sealed log stream succeeded"; fi
MS=$((($(date +%s%N) - START) / 1000000))
grep -q "sealed" "$T/sealed.err" || fail "no 'sealed' in the error: $(cat "$T/sealed.err")"
[ "$MS" -lt 30000 ] || fail "append to a sealed log stream took $MS ms to fail: it waited for its time-out (60 s) instead of being refused"
log "append to the sealed ls failed in $MS ms: $(cat "$T/sealed.err")"
seq -f "three-%g" 1 100 | ctl append s --ls 2 >/dev/null || fail "append to the running ls 2 failed"

# replace the primary by the spare node: it starts empty
ctl ls update s 1 --replace "${R1[0]}" --with "$SPARE" >/dev/null || fail "ls update failed"
read -r -a N1 <<<"$(replicas_of 1)"
[ "${N1[0]}" = "$SPARE" ] || fail "after the update ls 1 is on '${N1[*]}', expected $SPARE first"
if ctl ls unseal s 1 2>"$T/unseal.err"; then fail "unseal before the sync succeeded"; fi
grep -q "ls sync" "$T/unseal.err" || fail "the refused unseal does not say what to run: $(cat "$T/unseal.err")"
log "unseal before the sync refused: $(cat "$T/unseal.err")"
ctl ls sync s 1 >"$T/sync.out" || fail "ls sync failed: $(cat "$T/sync.out")"
log "sync: $(tr '\n' '|' <"$T/sync.out")"
grep -q "sn $SPARE in line at llsn 1000" "$T/sync.out" || fail "the sync did not bring sn $SPARE in line"
wait_for 20 "unseal to be accepted" ctl ls unseal s 1
seq -f "four-%g" 1 100 | ctl append s --ls 1 >/dev/null || fail "append after unseal failed"

# every replica of every log stream, read alone, holds what a subscriber sees
ctl subscribe s --json >"$T/all.json" || fail "subscribe failed"
sed -E 's/^\{"glsn": ([0-9]+), "ls": ([0-9]+), .*"data": "(.*)"\}$/\2\t\1\t\3/' "$T/all.json" >"$T/all.txt"
[ "$(wc -l <"$T/all.txt")" -eq 2200 ] || fail "the log holds $(wc -l <"$T/all.txt") entries, expected 2200"
[ "$(grep -c 'lost-' "$T/all.txt")" -eq 0 ] || fail "entries of the append caught by the seal are in the log"
cut -f2- "$T/all.txt" >"$T/glsns.txt"
check_dense "$T/glsns.txt" 1 2200 || fail "the log is not dense"
for ls in 1 2; do
	awk -F'\t' -v ls=$ls '$1 == ls { print $2 "\t" $3 }' "$T/all.txt" >"$T/want$ls.txt"
	for sn in $(replicas_of $ls); do
		"$BIN/tests/lib/vl_lsread" "$MR" s $ls "$sn" >"$T/ls$ls-sn$sn.txt" || fail "reading ls $ls from sn $sn failed"
		cmp -s "$T/want$ls.txt" "$T/ls$ls-sn$sn.txt" ||
			fail "ls $ls read from sn $sn alone differs from the subscriber ($(wc -l <"$T/ls$ls-sn$sn.txt") vs $(wc -l <"$T/want$ls.txt") entries)"
	done
done
log "ok: seal at 1000 discarded 50 uncommitted entries, primary replaced by sn $SPARE and synced, every replica identical"
