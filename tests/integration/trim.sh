#!/usr/bin/env bash
# (d) trim: reading below the trim point fails with a clear error, reading
# above it works, the trim point survives kill -9 and restart of every daemon.
. "$(dirname "$0")/lib.sh"

cluster 3
ctl topic create logs --log-streams 3 --replication-factor 1 >/dev/null
seq -f "line-%g" 1 1000 | ctl append logs --batch 64 >/dev/null || fail "append failed"
ctl subscribe logs --glsn >"$T/full.out"
check_dense "$T/full.out" 1 1000 || fail "log not dense before trim"

ctl trim logs 400 || fail "trim failed"
if ctl subscribe logs --begin 1 --end 10 >"$T/below.out" 2>"$T/below.err"; then
	fail "reading below the trim point succeeded: $(head -3 "$T/below.out")"
fi
grep -qi 'trim' "$T/below.err" || fail "error below the trim point does not say it is trimmed: $(cat "$T/below.err")"
log "below the trim point: $(cat "$T/below.err")"

ctl subscribe logs --glsn >"$T/after.out" || fail "subscribe from the trim point failed"
tail -n 600 "$T/full.out" | cmp - "$T/after.out" || fail "entries above the trim point differ"
ctl subscribe logs --glsn --begin 401 --end 411 >"$T/at.out" || fail "subscribe at the trim point failed"
[ "$(head -1 "$T/at.out")" = "$(printf '401\tline-401')" ] ||
	fail "reading at the trim point does not start at GLSN 401: $(head -1 "$T/at.out")"

# trimming again below the trim point changes nothing; beyond the HWM fails
ctl trim logs 100 || fail "trim below the trim point should be a no-op"
ctl trim logs 5000 2>"$T/range.err" && fail "trim beyond the high watermark succeeded"
log "beyond the HWM: $(cat "$T/range.err")"

for d in $(mr_names) sn1 sn2 sn3 adm; do kill9 "$d"; done
for d in $(mr_names) sn1 sn2 sn3 adm; do restart "$d"; done
wait_for 30 "the log to be readable after restart" ctl subscribe logs --end 402
ctl subscribe logs --begin 1 --end 10 >/dev/null 2>&1 && fail "trim point lost across restart"
ctl subscribe logs --glsn >"$T/restart.out"
cmp "$T/after.out" "$T/restart.out" || fail "entries above the trim point changed across restart"
ctl --json topic describe logs | grep -q '"trim_glsn": *401' || fail "topic describe does not show trim point 401: $(ctl --json topic describe logs)"

# appends after the trim continue the order
seq -f "more-%g" 1 10 | ctl append logs -v >"$T/more.txt" || fail "append after trim failed"
[ "$(head -1 "$T/more.txt")" = 1001 ] || fail "append after trim got GLSN $(head -1 "$T/more.txt"), expected 1001"
log "ok: trimmed below 401, error below, data above, survives restart"
