#!/usr/bin/env bash
# (a) 4 concurrent appender processes x 5,000 entries into one topic with 3
# log streams on 3 SNs (replication factor $RF, default 1): every subscriber
# sees GLSNs 1..20000 with no gap and no duplicate, each appended entry
# exactly once, and two subscribers (one following from before the appends,
# one reading the range afterwards) byte-identical.
. "$(dirname "$0")/lib.sh"
RF=${RF:-1}
WRITERS=4
PER=5000
TOTAL=$((WRITERS * PER))

cluster 3
ctl topic create orders --log-streams 3 --replication-factor "$RF" >/dev/null
ctl topic describe orders >"$T/describe.txt"
log "topic created: $(tr '\n' ' ' <"$T/describe.txt")"

# a subscriber that follows from before the first append
"$BIN/varlogctl" --mr "$MR" subscribe orders --follow --glsn >"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
PIDS+=($FOLLOW)

for w in $(seq $WRITERS); do
	seq -f "writer$w-entry%g" 1 $PER >"$T/in$w.txt"
	"$BIN/varlogctl" --mr "$MR" append orders --batch 256 -v <"$T/in$w.txt" >"$T/glsn$w.txt" 2>"$T/append$w.err" &
	APP[$w]=$!
done
for w in $(seq $WRITERS); do
	wait "${APP[$w]}" || fail "appender $w failed: $(cat "$T/append$w.err")"
	[ "$(wc -l <"$T/glsn$w.txt")" -eq $PER ] || fail "appender $w printed $(wc -l <"$T/glsn$w.txt") GLSNs, expected $PER"
done
log "$TOTAL entries acknowledged"

ctl subscribe orders --glsn >"$T/sub1.out" || fail "subscribe 1 failed"
ctl subscribe orders --glsn --begin 1 --end $((TOTAL + 1)) >"$T/sub2.out" || fail "subscribe 2 failed"
check_dense "$T/sub1.out" 1 $TOTAL || fail "subscriber 1 does not see GLSNs 1..$TOTAL densely"
cmp "$T/sub1.out" "$T/sub2.out" || fail "two subscribers differ"

# every appended entry exactly once
cut -f2- "$T/sub1.out" | sort >"$T/seen.sorted"
cat "$T"/in*.txt | sort >"$T/sent.sorted"
cmp "$T/seen.sorted" "$T/sent.sorted" || fail "the log does not hold each appended entry exactly once"
# the GLSNs the appenders were told are the ones the entries have in the log
for w in $(seq $WRITERS); do
	paste "$T/glsn$w.txt" "$T/in$w.txt" >>"$T/acked.txt"
done
sort -n "$T/acked.txt" | cmp - "$T/sub1.out" || fail "acknowledged GLSNs differ from the log"

wait_for 30 "the following subscriber to see $TOTAL entries" lines_ge "$T/follow.out" $TOTAL
head -n $TOTAL "$T/follow.out" | cmp - "$T/sub1.out" || fail "following subscriber differs"
log "ok: $TOTAL entries, GLSNs dense, each exactly once, subscribers identical (rf=$RF)"
