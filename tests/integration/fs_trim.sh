#!/usr/bin/env bash
# varlogfs trims: truncate -s 0 empties the file for ls -l and cat, appends
# after it are visible, a tail -f across it prints every line exactly once, a
# reader that opened before the trim gets EIO past trimmed bytes, and
# truncate -s N keeps the newest whole lines that fit in N bytes.
. "$(dirname "$0")/lib.sh"
command -v fusermount3 >/dev/null || { echo "fusermount3 missing"; exit 77; }

cluster 2
M=$T/m
mount_fs "$M"
seq -f "old %g" 1 1000 >>"$M/log" || fail "append failed"
tail -n +1 -f "$M/log" >"$T/tail.out" 2>"$T/tail.err" &
TAIL=$!
PIDS+=($TAIL)
wait_for 10 "tail to print the old lines" lines_ge "$T/tail.out" 1000

# a reader that opened the file before the trim
exec 7<"$M/log"
head -c 100 <&7 >/dev/null

truncate -s 0 "$M/log" || fail "truncate -s 0 failed"
[ "$(stat -c %s "$M/log")" -eq 0 ] || fail "size after truncate -s 0 is $(stat -c %s "$M/log")"
ls -l "$M/log" | awk '{ exit $5 != 0 }' || fail "ls -l does not show 0"
[ -z "$(cat "$M/log")" ] || fail "cat after truncate -s 0 is not empty"

# the early reader continues past trimmed bytes: EIO, not other data
if dd bs=4096 count=1 <&7 >"$T/early.out" 2>"$T/early.err"; then
	fail "reading trimmed bytes through an old descriptor succeeded: $(head -c 100 "$T/early.out")"
fi
grep -qi "input/output error" "$T/early.err" || fail "expected EIO, got: $(cat "$T/early.err")"
exec 7<&-

for i in $(seq 1 500); do echo "new $i"; done >>"$M/log"
seq -f "new %g" 1 500 | cmp - "$M/log" || fail "appends after the trim are not what cat shows"
wait_for 10 "tail to print the new lines" lines_ge "$T/tail.out" 1500
sleep 1.5 # tail polls once per second: give it the chance to print a repeat
{ seq -f "old %g" 1 1000; seq -f "new %g" 1 500; } | cmp - "$T/tail.out" ||
	fail "tail -f across truncate -s 0 repeated or lost lines: $(diff <({ seq -f 'old %g' 1 1000; seq -f 'new %g' 1 500; }) "$T/tail.out" | head)"
log "tail -f across truncate -s 0: every line once ($(tr '\n' ' ' <"$T/tail.err"))"

# truncate -s N keeps the newest whole lines that fit
truncate -s 30 "$M/log" || fail "truncate -s 30 failed"
# "new 497\n".."new 500\n" are 8 bytes each: 3 whole lines fit in 30 bytes
printf 'new 498\nnew 499\nnew 500\n' | cmp - "$M/log" || fail "truncate -s 30 kept: $(cat "$M/log")"
if truncate -s 1000 "$M/log" 2>"$T/grow.err"; then fail "growing truncate succeeded"; fi
grep -qi "invalid argument" "$T/grow.err" || fail "growing truncate: $(cat "$T/grow.err")"
rm "$M/log" || fail "rm failed"
[ ! -e "$M/log" ] || fail "topic still there after rm"
log "ok"
