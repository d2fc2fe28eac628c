#!/usr/bin/env bash
# varlogfs's caches never show an old truth: a topic's name is cached for a
# second (no LOOKUP per echo >>), yet a topic deleted or created through
# varlogctl shows through the mount at once (echo >> a deleted name creates
# it anew, cat of it fails with ENOENT); a stat after a close shows what the
# close committed.
. "$(dirname "$0")/lib.sh"
command -v fusermount3 >/dev/null || { echo "fusermount3 missing"; exit 77; }
[ -c /dev/fuse ] || { echo "/dev/fuse missing"; exit 77; }

cluster 1
M=$T/m
mount_fs "$M"

# a stat after each close shows the bytes the close committed
size=0
for i in $(seq 20); do
	echo "line $i" >>"$M/a" || fail "echo >> a failed"
	size=$((size + ${#i} + 6))
	got=$(stat -c %s "$M/a")
	[ "$got" -eq "$size" ] || fail "stat after close $i shows $got bytes, expected $size"
done
seq -f "line %g" 1 20 | cmp - "$M/a" || fail "cat a is not the 20 lines"

# deleted elsewhere while the mount has the name cached: cat fails with
# ENOENT, echo >> creates the topic anew (only the new line in it)
ctl topic delete a >/dev/null || fail "topic delete a"
if cat "$M/a" >"$T/cat.out" 2>"$T/cat.err"; then
	fail "cat of a topic deleted elsewhere succeeded: $(head -c 100 "$T/cat.out")"
fi
grep -qi "no such file" "$T/cat.err" || fail "cat of a deleted topic: $(cat "$T/cat.err")"
echo again >>"$M/a" || fail "echo >> a after its deletion elsewhere failed"
[ "$(cat "$M/a")" = again ] || fail "a after delete and echo >>: $(head -c 200 "$M/a")"
ctl topic list | grep -q '^a\b' || ctl topic describe a >/dev/null || fail "a was not created anew"

# deleted elsewhere, name cached, echo >> at once (the open goes to the
# deleted topic's name without a LOOKUP first)
cat "$M/a" >/dev/null
ctl topic delete a >/dev/null || fail "topic delete a (2)"
# ls refreshes the mount's metadata (a write-only open trusts what is at
# most 10 ms old, as stat does) but leaves the kernel's cached name
ls "$M" >/dev/null
echo third >>"$M/a" || fail "echo >> a right after its deletion elsewhere failed"
[ "$(cat "$M/a")" = third ] || fail "a after delete and echo >>: $(head -c 200 "$M/a")"

# created elsewhere: visible and writable through the mount at once
ctl topic create b --log-streams 1 --replication-factor 1 >/dev/null || fail "topic create b"
echo b1 >>"$M/b" || fail "echo >> b right after its creation elsewhere failed"
[ "$(cat "$M/b")" = b1 ] || fail "b: $(head -c 200 "$M/b")"
log "entry cache: deletes and creates elsewhere show at once; stat after close is exact"
log "ok"
