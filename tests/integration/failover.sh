#!/usr/bin/env bash
# kill -9 of a storage node under load: topic with 3 log streams, rf 3, 4
# storage nodes, 4 appender processes fed by slow generators (~15 s). One
# storage node (one that leaves a log stream running) is killed in the
# middle. Then: every acknowledged entry is in the log exactly once, at the
# GLSN it was acknowledged with, in its appender's input order; no entry
# is in the log twice; subscribers started before, during and after see the
# same sequence; varlogadm sealed the node's log streams by itself, and once
# the node is restarted, syncs and unseals them by itself, even though the
# admin itself was killed and restarted in between; each log stream
# read from the restarted node alone is what the subscribers saw. Prints the
# counts (acknowledged, present, duplicated, lost) and the longest stall.
. "$(dirname "$0")/lib.sh"
WRITERS=4
PER=${FAILOVER_PER:-1000}

cluster 4
# the admin again, with a quick failure detector
kill -TERM "${DPID[adm]}"
wait "${DPID[adm]}" 2>/dev/null || true
daemon adm varlogadm --listen "$ADM" --mr "$MR" --heartbeat-ms 250 --heartbeat-timeout-ms 1000
wait_for 10 "varlogadm listening again" ctl status
ctl topic create f --log-streams 3 --replication-factor 3 >/dev/null
ctl topic describe f --json >"$T/describe.json"

# the victim: a node without a replica of some log stream (so one keeps
# running), preferably one that is no primary: the appenders of its log
# streams are refused at once (sealed) and move on. With
# FAILOVER_VICTIM=primary (failover_primary.sh), preferably a primary:
# subscribers must switch replicas, and the appenders of its log stream get
# no answer: they ask the surviving replicas what became of their batches
# and move what is not in the log to another log stream.
declare -A NREP NPRIM
for ls in $(grep -o '"id": [0-9]*, "state"' "$T/describe.json" | grep -o '[0-9]*'); do
	reps=$(grep -o "\"id\": $ls, \"state\": \"[A-Z]*\", \"replicas\": \[[0-9, ]*\]" "$T/describe.json" |
		sed 's/.*\[\(.*\)\]/\1/; s/,//g')
	first=1
	for sn in $reps; do
		NREP[$sn]=$((${NREP[$sn]:-0} + 1))
		[ $first = 1 ] && NPRIM[$sn]=$((${NPRIM[$sn]:-0} + 1))
		first=0
	done
done
VICTIM=
for sn in 1 2 3 4; do
	[ "${NREP[$sn]:-0}" -lt 3 ] || continue
	if [ "${FAILOVER_VICTIM:-}" = primary ]; then
		if [ -z "$VICTIM" ] || [ "${NPRIM[$sn]:-0}" -gt "${NPRIM[$VICTIM]:-0}" ]; then VICTIM=$sn; fi
	elif [ -z "$VICTIM" ] || [ "${NPRIM[$sn]:-0}" -lt "${NPRIM[$VICTIM]:-0}" ]; then
		VICTIM=$sn
	fi
done
[ -n "$VICTIM" ] || fail "every storage node hosts every log stream; cannot pick a victim"
log "placement: $(grep -o '"log_streams": .*' "$T/describe.json"); victim sn $VICTIM (${NREP[$VICTIM]:-0} replicas, ${NPRIM[$VICTIM]:-0} primaries)"

"$BIN/varlogctl" --mr "$MR" subscribe f --follow --glsn >"$T/sub-before.out" 2>"$T/sub-before.err" &
SUB_BEFORE=$!
PIDS+=($SUB_BEFORE)

STAMP='$|=1; use Time::HiRes qw(time); while (<STDIN>) { printf "%.3f\t%s", time, $_ }'
for w in $(seq $WRITERS); do
	(
		set +e
		perl -e '$|=1; for my $i (1..'"$PER"') { print "w'"$w"'-$i\n"; select(undef, undef, undef, 0.015) }' |
			"$BIN/varlogctl" --mr "$MR" --timeout 8000 append f -v --batch 64 2>"$T/append$w.err" |
			perl -e "$STAMP" >"$T/ack$w.txt"
		echo "${PIPESTATUS[1]}" >"$T/rc$w"
	) &
	APP[$w]=$!
done
# kill in the middle of the load: once every appender has had a third of
# its entries acknowledged
for w in $(seq $WRITERS); do
	wait_for 60 "appender $w to be a third through" lines_ge "$T/ack$w.txt" $((PER / 3))
done
kill9 "sn$VICTIM"
log "killed sn $VICTIM"
"$BIN/varlogctl" --mr "$MR" subscribe f --follow --glsn >"$T/sub-during.out" 2>"$T/sub-during.err" &
SUB_DURING=$!
PIDS+=($SUB_DURING)
sealed() { ctl ls list f | grep -q SEALED; }
wait_for 20 "varlogadm to seal the victim's log streams" sealed
log "sealed: $(ctl ls list f | grep -c SEALED) replica rows of sealed log streams"
for w in $(seq $WRITERS); do wait "${APP[$w]}" || true; done
for w in $(seq $WRITERS); do
	log "appender $w: exit $(cat "$T/rc$w"), $(wc -l <"$T/ack$w.txt") acknowledged $(head -c 300 "$T/append$w.err")"
done

# the admin dies too, while its seals are pending: the one started after
# it takes them over (the MR recorded them), shown as SEALED* meanwhile
ctl ls list f | grep -q 'SEALED\*' || fail "ls list does not mark the automatic seals (SEALED*)"
kill9 adm
restart adm
wait_for 10 "varlogadm to answer again after kill -9" ctl status
wait_for 10 "the new varlogadm to take over the seals" grep -q "taking it over" "$T/adm.log"

restart "sn$VICTIM"
in_line() { ls_in_line f; }
wait_for 60 "varlogadm to sync and unseal the victim's log streams" in_line
grep -h "auto:" "$T/adm.log" | sed 's/^/    /'

# the log, and what each appender was told
ctl subscribe f --json >"$T/after.json" || fail "subscribe after failed"
sed -E 's/^\{"glsn": ([0-9]+), "ls": ([0-9]+), .*"data": "(.*)"\}$/\1\t\3\t\2/' "$T/after.json" >"$T/after3.txt"
cut -f1,2 "$T/after3.txt" >"$T/after.out"
HWM=$(wc -l <"$T/after.out")
check_dense "$T/after.out" 1 "$HWM" || fail "the log is not dense"
: >"$T/acked.txt"
for w in $(seq $WRITERS); do
	# ack line i is input line i
	awk -F'\t' -v w=$w '{ printf "%s\tw%d-%d\n", $2, w, NR }' "$T/ack$w.txt" >>"$T/acked.txt"
	# input order kept: GLSNs grow along the input
	awk -F'\t' 'NR > 1 && $2 + 0 <= prev { print "appender order broken at line " NR; exit 1 } { prev = $2 + 0 }' \
		"$T/ack$w.txt" || fail "appender $w: entries not committed in input order"
done
ACKED=$(wc -l <"$T/acked.txt")
PRESENT=$(awk -F'\t' 'NR == FNR { have[$1] = $2; next } ($1 in have) && have[$1] == $2 { n++ } END { print n + 0 }' \
	"$T/after.out" "$T/acked.txt")
DUP=$(cut -f2 "$T/after.out" | sort | uniq -d | wc -l)
LOST=$((ACKED - PRESENT))

# subscribers: before and during must reach the same sequence
wait_for 30 "the subscriber started before to see $HWM entries" lines_ge "$T/sub-before.out" "$HWM"
wait_for 30 "the subscriber started during to see $HWM entries" lines_ge "$T/sub-during.out" "$HWM"
head -n "$HWM" "$T/sub-before.out" | cmp -s - "$T/after.out" || fail "the subscriber started before saw another sequence"
head -n "$HWM" "$T/sub-during.out" | cmp -s - "$T/after.out" || fail "the subscriber started during saw another sequence"

# the restarted node, read alone, holds what everyone saw
for ls in $(grep -o '"id": [0-9]*, "state"' "$T/describe.json" | grep -o '[0-9]*'); do
	reps=$(ctl topic describe f --json | grep -o "\"id\": $ls, \"state\": \"[A-Z]*\", \"replicas\": \[[0-9, ]*\]" |
		sed 's/.*\[\(.*\)\]/\1/; s/,//g')
	case " $reps " in *" $VICTIM "*) ;; *) continue ;; esac
	awk -F'\t' -v ls=$ls '$3 == ls { print $1 "\t" $2 }' "$T/after3.txt" >"$T/want$ls.txt"
	"$BIN/tests/lib/vl_lsread" "$MR" f "$ls" "$VICTIM" >"$T/victim$ls.txt" || fail "reading ls $ls from sn $VICTIM failed"
	cmp -s "$T/want$ls.txt" "$T/victim$ls.txt" ||
		fail "ls $ls read from the restarted sn $VICTIM alone differs ($(wc -l <"$T/victim$ls.txt") vs $(wc -l <"$T/want$ls.txt") entries)"
done

# the longest stall: the largest gap between two acknowledgements, within
# one appender and over all of them together, counting the appenders that
# finished (a failed one prints its last GLSNs only when it exits)
ACKRE='^[0-9]+\.[0-9]+'$'\t''[0-9]+$'
gap() { grep -E "$ACKRE" | cut -f1 | sort -n | awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.3f", m }'; }
STALL_ONE=0
: >"$T/acks-ok.txt"
for w in $(seq $WRITERS); do
	[ "$(cat "$T/rc$w")" = 0 ] || continue
	cat "$T/ack$w.txt" >>"$T/acks-ok.txt"
	s=$(gap <"$T/ack$w.txt")
	STALL_ONE=$(awk -v a="$STALL_ONE" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
done
STALL_ALL=$(gap <"$T/acks-ok.txt")
OK_APPENDERS=$(grep -lx 0 "$T"/rc* | wc -l)
log "acknowledged $ACKED, present $PRESENT, duplicated $DUP, lost $LOST; log holds $HWM entries ($((HWM - PRESENT)) not acknowledged)"
log "longest stall: ${STALL_ONE}s within an appender, ${STALL_ALL}s across the appenders ($OK_APPENDERS of $WRITERS appenders finished)"
# what the replicas were asked about unanswered batches (BATCH_STATUS)
NASK=$(cat "$T"/sn*.log | awk '/ batch [0-9a-f]+\/[0-9]+ / { n++ } END { print n + 0 }')
NFINAL=$(cat "$T"/sn*.log | awk '/ batch [0-9a-f]+\/[0-9]+ .*final/ { n++ } END { print n + 0 }')
log "batches resolved through the replicas: $NASK answers, $NFINAL of them final"
cat "$T"/sn*.log | awk '/ batch [0-9a-f]+\/[0-9]+ .*final/ && n++ < 5 { print "    " $0 }'
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged entries lost"
[ "$DUP" -eq 0 ] || fail "$DUP entries are in the log twice"
[ "$ACKED" -gt 0 ] || fail "nothing was acknowledged"
[ "$OK_APPENDERS" -eq $WRITERS ] || fail "$((WRITERS - OK_APPENDERS)) appenders failed"
[ "$ACKED" -eq $((WRITERS * PER)) ] || fail "$ACKED of $((WRITERS * PER)) entries acknowledged"
[ "$HWM" -eq "$ACKED" ] || fail "the log holds $HWM entries for $ACKED appended"
log "ok"
