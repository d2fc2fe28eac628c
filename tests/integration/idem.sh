#!/usr/bin/env bash
# Idempotent appends and exact failure reports (issue 13, items 1 and 2).
#
# 1. Lost answers: while `varlogctl append` (timeout 1 s) writes to a topic
#    whose one log stream lives on one storage node, that node is paused
#    (SIGSTOP) past the timeout, so the appender resends its unanswered
#    batches under their names, and later killed with -9 and restarted, so
#    APPENDs it had taken but not written are lost and only a resend brings
#    them. The admin's automatic handling is off: the log stream stays
#    RUNNING and no seal settles anything, only the resends. The append
#    succeeds, the storage node answered resends of batches it held
#    without appending them again, and the topic holds every input line
#    exactly once, in input order.
# 2. A failed append says exactly what is in the log: the log stream is
#    sealed by hand after the first 3000 lines are committed; the append
#    fails with "3000 lines committed (lines 1..3000, last GLSN G); lines
#    3001.. are not in the log", G the GLSN of line 3000, and nothing past
#    it is in the log. After the unseal, `--resume-from 3001` with the same
#    input completes the topic: every line once, in order.
. "$(dirname "$0")/lib.sh"

cluster 1 --log-level info
kill -TERM "${DPID[adm]}"
wait "${DPID[adm]}" 2>/dev/null || true
daemon adm varlogadm --listen "$ADM" --mr "$MR" --auto off
wait_for 10 "varlogadm listening again" ctl status
ctl topic create t --log-streams 1 --replication-factor 1 >/dev/null
ctl topic create u --log-streams 1 --replication-factor 1 >/dev/null

hwm() { ctl --json topic describe "$1" | sed -n 's/.*"hwm": *\([0-9]*\).*/\1/p'; }
hwm_ge() { [ "$(hwm "$1")" -ge "$2" ]; }

# ---- 1. lost answers -----------------------------------------------------
seq -f "line-%06g" 1 12000 >"$T/in.txt"
mkfifo "$T/fifo"
ctl --timeout 1000 append t --batch 50 <"$T/fifo" >"$T/t.out" 2>"$T/t.err" &
APP=$!
PIDS+=($APP)
exec 5>"$T/fifo"
sed -n 1,3000p "$T/in.txt" >&5
wait_for 30 "the first 3000 lines committed" hwm_ge t 3000

kill -STOP "${DPID[sn1]}"
sed -n 3001,6000p "$T/in.txt" >&5
sleep 2.5 # past the client's timeout: its batches are resent meanwhile
kill -CONT "${DPID[sn1]}"
wait_for 30 "6000 lines committed after the pause" hwm_ge t 6000

# the rest from a writer of its own: the restarted node must not inherit
# the pipe (the append would never see the input end)
sed -n '6001,$p' "$T/in.txt" >&5 &
PIDS+=($!)
exec 5>&-
wait_for 30 "lines past 6000 taken" hwm_ge t 6001
kill9 sn1
sleep 1.5 # past the timeout again: resends wait for the restarted node
restart sn1
if ! wait "$APP"; then
	fail "append across the pause and the restart failed: $(cat "$T/t.err")"
fi
RESENT=$(grep -c "resent; it is held" "$T/sn1.log" || true)
[ "$RESENT" -gt 0 ] || fail "no resent batch reached the storage node (the test exercised nothing)"
ctl subscribe t >"$T/t.got" || fail "reading topic t failed"
if ! cmp -s "$T/in.txt" "$T/t.got"; then
	diff "$T/in.txt" "$T/t.got" | head -20 >&2
	DUP=$(sort "$T/t.got" | uniq -d | head -5 | tr '\n' ' ')
	fail "topic t is not the input once, in order: $(wc -l <"$T/t.got") lines, duplicated: $DUP"
fi
log "12000 lines once each across a pause and a kill -9; $RESENT resends answered without appending"

# ---- 2. a failed append names the committed prefix -----------------------
rm -f "$T/fifo"
mkfifo "$T/fifo"
ctl --timeout 1000 append u --batch 50 <"$T/fifo" >"$T/u.out" 2>"$T/u.err" &
APP=$!
PIDS+=($APP)
exec 5>"$T/fifo"
sed -n 1,3000p "$T/in.txt" >&5
wait_for 30 "the first 3000 lines committed" hwm_ge u 3000
ULS=$(ctl --json topic describe u | sed -n 's/.*"log_streams": \[{"id": \([0-9]*\).*/\1/p')
ctl ls seal u "$ULS" >"$T/seal.out" 2>&1 || fail "seal of u ls $ULS failed: $(cat "$T/seal.out")"
# from a writer of its own: the append stops reading when it fails
(sed -n '3001,$p' "$T/in.txt" >&5 || true) 2>/dev/null &
PIDS+=($!)
exec 5>&-
if wait "$APP"; then fail "the append to a sealed log stream succeeded"; fi
G=$(ctl subscribe u --glsn | tail -n 1 | cut -f 1)
WANT="3000 lines committed (lines 1..3000, last GLSN $G); lines 3001.. are not in the log"
grep -qF "$WANT" "$T/u.err" || fail "the failed append did not say '$WANT': $(cat "$T/u.err")"
grep -qF -- "--resume-from 3001" "$T/u.err" || fail "no --resume-from in: $(cat "$T/u.err")"
[ "$(hwm u)" = "$G" ] || fail "something past line 3000 is in the log: hwm $(hwm u), line 3000 at $G"
log "failed append: $(cat "$T/u.err")"

wait_for 20 "unseal of u" ctl ls unseal u "$ULS"
ctl append u --resume-from 3001 <"$T/in.txt" >/dev/null 2>"$T/u2.err" ||
	fail "append --resume-from 3001 failed: $(cat "$T/u2.err")"
ctl subscribe u >"$T/u.got" || fail "reading topic u failed"
cmp -s "$T/in.txt" "$T/u.got" ||
	fail "topic u after the resume is not the input once, in order ($(wc -l <"$T/u.got") lines)"
if ctl append u --resume-from 0 </dev/null 2>"$T/bad.err"; then fail "--resume-from 0 accepted"; fi
grep -q "resume-from" "$T/bad.err" || fail "--resume-from 0 refused without naming it: $(cat "$T/bad.err")"
log "resumed from line 3001: 12000 lines once each, in order"
