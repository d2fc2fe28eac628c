#!/usr/bin/env bash
# (fence) A primary paused (SIGSTOP) past the admin's failure detection and
# then resumed commits nothing of what it took in the old epoch. A writer
# (`varlogctl append --ls 1`, pinned, so that it cannot move) is connected
# to the primary of the topic's one log stream (rf 2) before the pause;
# during the pause it sends more lines, which wait in the paused node's
# socket buffers. The admin finds the node silent and seals the log
# stream; the writer learns from the backup that those lines are not in
# the log and fails saying so. Then the node resumes, reads the old
# epoch's APPENDs, and the admin syncs and unseals the log stream: none of
# the lines the writer was told are not in the log may be there, the lines
# before the pause are there once and in order, and appends after the
# unseal work.
. "$(dirname "$0")/lib.sh"

cluster 3 --log-level info
ctl topic create t --log-streams 1 --replication-factor 2 >/dev/null || fail "topic create t"

hwm() { ctl --json topic describe t | sed -n 's/.*"hwm": *\([0-9]*\).*/\1/p'; }
hwm_ge() { [ "$(hwm)" -ge "$1" ]; }
sealed() { ctl ls list t | grep -q SEALED; }
running() { ls_in_line t; }
replicas() {
	ctl topic describe t --json | grep -o '"id": 1, "state": "[A-Z]*", "replicas": \[[0-9, ]*\]' |
		sed 's/.*\[\(.*\)\]/\1/; s/,//g'
}

read -r -a R <<<"$(replicas)"
[ "${#R[@]}" -eq 2 ] || fail "ls 1 has replicas '${R[*]}', expected 2"
P=sn${R[0]}
log "ls 1 on sn ${R[*]}, primary $P"

mkfifo "$T/fifo"
ctl --timeout 20000 append t --ls 1 --batch 10 -v <"$T/fifo" >"$T/w.out" 2>"$T/w.err" &
W=$!
PIDS+=($W)
exec 5>"$T/fifo"
seq -f "before-%g" 1 100 >&5
wait_for 20 "the first 100 lines committed" hwm_ge 100

kill -STOP "${DPID[$P]}"
seq -f "stale-%g" 1 100 >&5
wait_for 20 "the admin to seal ls 1 (its primary paused)" sealed
exec 5>&-
# the writer fails: its pinned log stream is sealed, the lines sent during
# the pause are not in the log (the backup, which holds the sealed end,
# says so)
if wait "$W"; then fail "the writer succeeded although its log stream was sealed: $(cat "$T/w.err")"; fi
grep -q "are not in the log" "$T/w.err" || fail "the writer did not say what is not in the log: $(cat "$T/w.err")"
acked=$(wc -l <"$T/w.out")
log "writer: $acked lines acknowledged; $(tail -n 1 "$T/w.err")"
[ "$acked" -ge 100 ] || fail "only $acked of the 100 lines before the pause were acknowledged"

# the primary resumes with the old epoch's APPENDs in its buffers
kill -CONT "${DPID[$P]}"
wait_for 60 "the admin to sync and unseal ls 1" running
seq -f "after-%g" 1 100 | ctl append t --ls 1 --batch 10 >/dev/null || fail "append after the unseal failed"
wait_for 20 "the 100 lines after the unseal committed" hwm_ge $((acked + 100))

ctl subscribe t >"$T/log.txt" || fail "subscribe failed"
stale_in=$(grep -c '^stale-' "$T/log.txt" || true)
stale_acked=$((acked - 100))
[ "$stale_in" -eq "$stale_acked" ] ||
	fail "$stale_in lines sent during the pause are in the log, $stale_acked were acknowledged: the resumed primary committed what the cluster had moved on from ($(grep '^stale-' "$T/log.txt" | head -3 | tr '\n' ' '))"
expect() { seq -f "before-%g" 1 100; grep '^stale-' "$T/log.txt"; seq -f "after-%g" 1 100; }
diff <(expect) "$T/log.txt" >"$T/diff" || fail "the log is not the lines before the pause, then the acknowledged ones, then those after, once each: $(head -5 "$T/diff")"
[ "$(sort "$T/log.txt" | uniq -d | wc -l)" -eq 0 ] || fail "a line is in the log twice"
log "$P resumed after the seal: $(grep -c -i 'epoch\|sealed' "$T/$P.log") lines of its log name an epoch or a seal"
log "ok: the paused primary committed nothing of the old epoch after it resumed ($stale_in of the paused lines in the log, all acknowledged)"
