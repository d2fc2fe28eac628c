#!/usr/bin/env bash
# varlogfs -o pagecache: plain reads come from the kernel's page cache (a
# second cat reads no byte through the daemon) and the cache never shows an
# old truth: appends through the mount and through varlogctl show in the next
# cat and never as NUL bytes (also while cat, stat and a reader holding the
# file open race a writer through the mount, or appends elsewhere), a trim
# shows the trimmed view (also when appends bring the size back to what it
# was), a topic deleted elsewhere is ENOENT and one made anew under its name
# shows its own bytes.
. "$(dirname "$0")/lib.sh"
command -v fusermount3 >/dev/null || { echo "fusermount3 missing"; exit 77; }
[ -c /dev/fuse ] || { echo "/dev/fuse missing"; exit 77; }
command -v curl >/dev/null || { echo "curl missing"; exit 77; }
PY=/usr/bin/python3

cluster 1
M=$T/m
free_port
FSM=$PORT
mount_fs "$M" -o pagecache,metrics=127.0.0.1:$FSM

# read_bytes: bytes the daemon has answered reads with so far
read_bytes() {
	curl -sf "http://127.0.0.1:$FSM/metrics" |
		awk '$1 == "varlog_fs_read_bytes_total" { print $2; f = 1 } END { if (!f) print 0 }'
}
# nonul FILE WHAT: fails when FILE holds a NUL byte
nonul() {
	[ "$(tr -d '\n -~' <"$1" | wc -c)" -eq 0 ] ||
		fail "$2: bytes other than text lines: $(od -c "$1" | grep -m3 '\\0')"
}

# ---- cat twice: the second from the page cache -------------------------------
seq -f "line %g" 1 5000 >"$T/want"
cat "$T/want" >>"$M/t" || fail "append through the mount failed"
cat "$M/t" >"$T/c1" || fail "first cat failed"
cmp "$T/want" "$T/c1" || fail "first cat differs from what was written"
before=$(read_bytes)
cat "$M/t" >"$T/c2" || fail "second cat failed"
cmp "$T/want" "$T/c2" || fail "second cat differs from what was written"
after=$(read_bytes)
[ "$after" = "$before" ] || fail "the second cat read $((after - before)) bytes through the daemon, not the page cache"
log "second cat: 0 bytes through the daemon ($before for the first)"

# ---- appends between cats: through the mount, through varlogctl --------------
for i in 1 2 3; do echo "mount $i" >>"$M/t" || fail "echo >> t failed"; done
seq -f "mount %g" 1 3 >>"$T/want"
cat "$M/t" >"$T/c3" || fail "cat after echo >> failed"
nonul "$T/c3" "cat after echo >>"
cmp "$T/want" "$T/c3" || fail "cat after echo >> does not show the new lines: $(tail -c 100 "$T/c3" | od -c | tail -3)"
# (varlogctl appends each line as an entry without its newline)
seq -f "ctl %g" 1 7 | ctl append t --batch 1 >/dev/null || fail "varlogctl append failed"
seq -f "ctl %g" 1 7 | tr -d '\n' >>"$T/want"
cat "$M/t" >"$T/c4" || fail "cat after varlogctl append failed"
nonul "$T/c4" "cat after varlogctl append"
cmp "$T/want" "$T/c4" || fail "cat after varlogctl append does not show the new lines: $(cmp "$T/want" "$T/c4" 2>&1; ls -l "$T/want" "$T/c4"; tail -c 80 "$T/c4" | od -c | tail -4)"
[ "$(stat -c %s "$M/t")" -eq "$(stat -c %s "$T/want")" ] || fail "stat size $(stat -c %s "$M/t") after the appends"
log "appends through the mount and varlogctl show in the next cat"

# ---- a reader holding the file open across appends ----------------------------
# reads to the end, then (after the appends) reads on and preads old offsets
cat >"$T/holder.py" <<'EOF'
import os, sys, time
path, go, done = sys.argv[1:4]
fd = os.open(path, os.O_RDONLY)
first = b""
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    first += b
open(done + ".1", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
rest = b""
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    rest += b
old = os.pread(fd, 4096, max(0, len(first) - 100))
with open(done, "wb") as f:
    f.write(first + rest)
with open(done + ".old", "wb") as f:
    f.write(old)
EOF
$PY "$T/holder.py" "$M/t" "$T/go" "$T/held" &
HOLDER=$!
PIDS+=($HOLDER)
wait_for 10 "the holder to read to the end" test -f "$T/held.1"
held_len=$(stat -c %s "$T/want")
for i in 1 2; do echo "held $i" >>"$M/t" || fail "echo >> t failed"; done
printf 'ctl held\n' | ctl append t --batch 1 >/dev/null || fail "varlogctl append failed"
printf 'held 1\nheld 2\nctl held' >>"$T/want"
touch "$T/go"
wait "$HOLDER" || fail "the holder failed"
nonul "$T/held" "a reader holding the file across appends"
cmp "$T/want" "$T/held" || fail "a reader holding the file open across appends read other bytes"
tail -c +$((held_len - 99)) "$T/want" | head -c 4096 | cmp - "$T/held.old" ||
	fail "pread at an old offset after appends read other bytes"
tail -c 20 "$M/t" | cmp - <(tail -c 20 "$T/want") || fail "tail -c after appends"
log "a reader open across appends reads on and preads old offsets right"

# ---- race: cat, stat and a held reader against a writer through the mount ------
cat >"$T/racer.py" <<'EOF'
import os, sys
path, stop, out = sys.argv[1:4]
bad = []
fd = os.open(path, os.O_RDONLY)
held = b""
n = 0
while not os.path.exists(stop):
    n += 1
    os.stat(path)
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        bad.append("cat %d: NUL at %d of %d" % (n, data.index(b"\0"), len(data)))
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        held += b
    if b"\0" in held:
        bad.append("held reader: NUL at %d" % held.index(b"\0"))
        break
with open(out, "w") as f:
    f.write("%d\n" % n)
    f.write("".join(x + "\n" for x in bad[:5]))
with open(out + ".cat", "wb") as f:
    f.write(data)
with open(out + ".held", "wb") as f:
    f.write(held)
sys.exit(1 if bad else 0)
EOF
# racers NAME: starts the two racers, their files $T/NAME1 and $T/NAME2,
# until $T/NAME.stop exists
racers() {
	for r in 1 2; do
		$PY "$T/racer.py" "$M/t" "$T/$1.stop" "$T/$1$r" &
		eval "RACER$r=\$!"
		PIDS+=($!)
	done
}
# racers_done NAME WHAT: stops them; fails if one saw a NUL or read other
# bytes than the log's ($T/want)
racers_done() {
	touch "$T/$1.stop"
	wait "$RACER1" || fail "racer 1 saw NULs $2: $(cat "$T/${1}1")"
	wait "$RACER2" || fail "racer 2 saw NULs $2: $(cat "$T/${1}2")"
	cmp "$T/want" "$M/t" || fail "cat after the race $2 differs"
	for r in 1 2; do
		cmp -n "$(stat -c %s "$T/$1$r.cat")" "$T/want" "$T/$1$r.cat" || fail "racer $r's last cat ($2) is not a prefix of the log"
		cmp -n "$(stat -c %s "$T/$1$r.held")" "$T/want" "$T/$1$r.held" || fail "racer $r's held reader ($2) is not a prefix of the log"
	done
}
racers race
for i in $(seq 1 300); do
	echo "race $i" >>"$M/t" || fail "echo >> t during the race failed"
	[ $((i % 50)) -eq 0 ] && { printf 'ctl race %d\n' "$i" | ctl append t --batch 1 >/dev/null || fail "varlogctl append during the race failed"; }
done
seq 1 300 | awk '{ print "race " $1; if ($1 % 50 == 0) printf "ctl race %d", $1 }' >>"$T/want"
racers_done race "while writes came through the mount"
log "race: $(head -1 "$T/race1") + $(head -1 "$T/race2") cats against 306 appends, no NUL"

# ---- race: the same readers against appends elsewhere (varlogctl), the size
# growing through getattr while they read the last page
racers erace
for i in $(seq 1 800); do
	printf 'else %d\n' "$i"
	sleep 0.01
done | ctl append t --batch 1 >/dev/null || fail "varlogctl append during the race failed"
seq -f "else %g" 1 800 | tr -d '\n' >>"$T/want"
racers_done erace "while varlogctl appended"
log "race: $(head -1 "$T/erace1") + $(head -1 "$T/erace2") cats against 800 appends elsewhere, no NUL"

# ---- tail -f while 4 shell loops append through the mount (the case where
# the kernel, having grown the size by a write, kept a short page's NULs)
echo >>"$M/t" || fail "echo >> t failed" # ends the last entry's line
from=$(($(wc -l <"$M/t") + 1))
tail -n +$from -f "$M/t" >"$T/tail.out" 2>"$T/tail.err" &
TAIL=$!
PIDS+=($TAIL)
L=()
for w in 1 2 3 4; do
	(for i in $(seq 1 500); do echo "loop $w $i" >>"$M/t" || exit 1; done) &
	L+=($!)
done
for p in "${L[@]}"; do wait "$p" || fail "a shell loop's echo >> failed"; done
wait_for 20 "tail -f to print 2000 lines" lines_ge "$T/tail.out" 2000
nonul "$T/tail.out" "tail -f while 4 loops append"
tail -c "$(stat -c %s "$T/tail.out")" "$M/t" | cmp - "$T/tail.out" || fail "tail -f printed other bytes than cat shows"
for w in 1 2 3 4; do
	[ "$(grep -c "^loop $w " "$T/tail.out")" -eq 500 ] || fail "tail -f: writer $w's lines not all there once"
done
kill "$TAIL"
wait "$TAIL" 2>/dev/null || true
log "tail -f while 4 shell loops append: 2000 lines, no NUL"

# ---- trims ---------------------------------------------------------------------
truncate -s 0 "$M/t" || fail "truncate -s 0 failed"
[ -z "$(cat "$M/t")" ] || fail "cat after truncate -s 0 is not empty"
seq -f "trim %03g" 1 600 >>"$M/t" || fail "append after truncate -s 0 failed"
seq -f "trim %03g" 1 600 | cmp - "$M/t" || fail "cat after truncate -s 0 and appends"
cat "$M/t" >/dev/null # cached
# 9 bytes a line: 455 whole lines fit in 4096 bytes
truncate -s 4096 "$M/t" || fail "truncate -s 4096 failed"
seq -f "trim %03g" 146 600 | cmp - "$M/t" || fail "cat after truncate -s 4096 does not show the trimmed view"
# trimmed elsewhere, then as many bytes appended as were trimmed: the same
# size, other bytes
cat "$M/t" >/dev/null
size=$(stat -c %s "$M/t")
ctl trim t "$(getfattr --only-values -n user.varlog.first_glsn "$M/t")" || fail "varlogctl trim failed"
printf 'trimmed!!\n' | ctl append t --batch 1 >/dev/null || fail "append after the trim failed"
[ "$(stat -c %s "$M/t")" -eq "$size" ] || fail "size after a trim and an append of the same length: $(stat -c %s "$M/t"), expected $size"
{ seq -f "trim %03g" 147 600; printf 'trimmed!!'; } | cmp - "$M/t" ||
	fail "cat after a trim elsewhere (same size) shows other bytes: $(head -c 30 "$M/t")"
log "trims: the next cat shows the trimmed view"

# ---- deleted elsewhere; made anew under its name with as many bytes -----------
cat "$M/t" >/dev/null
ctl topic delete t >/dev/null || fail "topic delete t"
if cat "$M/t" >"$T/gone.out" 2>"$T/gone.err"; then
	fail "cat of a topic deleted elsewhere succeeded: $(head -c 100 "$T/gone.out")"
fi
grep -qi "no such file" "$T/gone.err" || fail "cat of a deleted topic: $(cat "$T/gone.err")"
echo other >>"$M/t" || fail "echo >> t after its deletion failed"
[ "$(cat "$M/t")" = other ] || fail "t made anew shows: $(head -c 100 "$M/t" | od -c | head -3)"
rm "$M/t" || fail "rm t failed"
[ ! -e "$M/t" ] || fail "t still there after rm"
log "ok"
