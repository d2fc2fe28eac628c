#!/usr/bin/env bash
# (kov) kcat against varlogkov on a 3-SN cluster: seq 1 100000 produced
# with zstd, gzip, snappy and lz4 by an idempotent producer, each read back
# with -o beginning -e: offsets 0..99999 dense, in order, exact bytes;
# kcat -L -J shows the topics and this broker; -o -10 gives the last ten;
# the zstd topic read with varlogctl subscribe and with cat from a varlogfs
# mount is the same sequence (on the mount the values are back to back:
# kcat -P strips the newlines); keys and headers round-trip (-K: and -H);
# a line appended with echo >> on the mount is a record kcat reads.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; exit 77; }

N=100000

cluster 3
kov_up

kc() { kcat -b "$B" -X api.version.request=true "$@"; }
seq 1 "$N" | awk '{print NR-1, $0}' >"$T/want.txt"

for z in zstd gzip snappy lz4; do
	seq 1 "$N" | kc -P -t "t_$z" -p 0 -z "$z" -X enable.idempotence=true 2>"$T/p_$z.err" ||
		fail "kcat -P -z $z failed: $(cat "$T/p_$z.err")"
	kc -C -t "t_$z" -p 0 -o beginning -e -f '%o %s\n' >"$T/c_$z.txt" 2>"$T/c_$z.err" ||
		fail "kcat -C of t_$z failed: $(cat "$T/c_$z.err")"
	cmp "$T/want.txt" "$T/c_$z.txt" || fail "t_$z read back differs (offsets 0..$((N - 1)), values 1..$N expected): $(diff "$T/want.txt" "$T/c_$z.txt" | head -5)"
	log "$z: $N records produced (idempotent) and read back, offsets dense from 0, exact bytes"
done
grep -qi "does not support compression" "$T"/p_*.err && fail "librdkafka did not compress: $(cat "$T"/p_*.err)"

# the varlog topic holds the values themselves, in the same order
ctl subscribe t_zstd-0 >"$T/sub.txt" || fail "varlogctl subscribe t_zstd-0 failed"
seq 1 "$N" | cmp - "$T/sub.txt" || fail "varlogctl subscribe of t_zstd-0 differs from seq 1 $N"
log "varlogctl subscribe t_zstd-0: the same $N values, same order"

# metadata
kc -L -J >"$T/meta.json" || fail "kcat -L -J failed"
/usr/bin/python3 - "$T/meta.json" "$KOV_PORT" <<'EOF' || fail "kcat -L -J: $(cat "$T/meta.json")"
import json, sys
m = json.load(open(sys.argv[1]))
brokers = m["brokers"]
assert len(brokers) == 1 and brokers[0]["id"] == 1, brokers
assert brokers[0]["name"] == "127.0.0.1:" + sys.argv[2], brokers
topics = {t["topic"]: t for t in m["topics"]}
for z in ("zstd", "gzip", "snappy", "lz4"):
    t = topics["t_" + z]
    assert [p["partition"] for p in t["partitions"]] == [0], t
    assert t["partitions"][0]["leader"] == 1, t
EOF
log "kcat -L -J: broker 1 at $B, the four topics with partition 0 led by it"

# the last ten
kc -C -t t_gzip -p 0 -o -10 -e -f '%o %s\n' >"$T/last.txt" || fail "kcat -o -10 failed"
tail -n 10 "$T/want.txt" | cmp - "$T/last.txt" || fail "-o -10: $(cat "$T/last.txt")"
log "-o -10: offsets $((N - 10))..$((N - 1))"

# keys, headers, null values
printf 'k1:v1\nk2:\n:v3\n' | kc -P -t kh -p 0 -K: -H h1=x -H h2=yz || fail "kcat -P -K: -H failed"
kc -C -t kh -p 0 -o beginning -e -f '%o key=%k value=%s headers=%h\n' >"$T/kh.txt" ||
	fail "kcat -C kh failed"
cat >"$T/kh.want" <<'EOF'
0 key=k1 value=v1 headers=h1=x,h2=yz
1 key=k2 value= headers=h1=x,h2=yz
2 key= value=v3 headers=h1=x,h2=yz
EOF
diff "$T/kh.want" "$T/kh.txt" || fail "keys/headers did not round-trip"
log "keys, empty values and headers round-trip"

# varlogfs: cat shows the values; echo >> is a record
if command -v fusermount3 >/dev/null && [ -c /dev/fuse ]; then
	mount_fs "$T/m"
	# kcat -P sends each line without its newline: the file is the values back to back
	seq 1 "$N" | tr -d '\n' | cmp - "$T/m/t_zstd-0" ||
		fail "cat of the mount's t_zstd-0 differs from the values 1..$N back to back"
	echo "from the fs" >>"$T/m/t_zstd-0"
	kc -C -t t_zstd -p 0 -o -1 -e -f '%o [%s]\n' >"$T/fs.txt" || fail "kcat -o -1 failed"
	printf '%s [from the fs\n]\n' "$N" | cmp - "$T/fs.txt" ||
		fail "echo >> not read by kcat as one record: $(cat "$T/fs.txt")"
	log "cat of the mount = the values 1..$N back to back; a line written with echo >> is record $N for kcat"
	umount_fs "$T/m"
else
	log "no FUSE here: mount checks skipped"
fi

kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
log "varlogkov stopped on SIGTERM, exit 0"
