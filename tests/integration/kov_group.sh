#!/usr/bin/env bash
# (kov) consumer groups through varlogkov with Debian's real clients: two
# `kcat -G` members (librdkafka) divide a 2-partition topic; one is killed
# with -9 and its partition moves to the other once its session expires;
# restarted, it continues from the committed offset; a kafka-python
# KafkaConsumer joins the same group; then varlogkov itself is killed -9
# and restarted: the committed offsets are still there (OffsetFetch) and
# the members go on from them (its records in __kov_offsets have been
# snapshotted and trimmed by then: the replay starts from a snapshot). Each batch of records is produced once the
# group is Stable and the batch before it is consumed and committed, so
# every record must be delivered exactly once in total: a record seen
# twice was delivered past a committed offset, a missing one was lost.
# Then hostile input to the group APIs (every truncation, huge counts,
# random frames) closes connections and changes nothing; last, varlogkov
# is killed -9 under a stream of commits and keeps every acknowledged one.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; exit 77; }
/usr/bin/python3 -c 'import kafka' 2>/dev/null || { echo "python3-kafka missing"; exit 77; }

cluster 1
free_port
KOV_PORT=$PORT
B=127.0.0.1:$KOV_PORT
# a snapshot every 5 records, so that the run trims __kov_offsets a few times
daemon kov varlogkov --listen "$B" --mr "$MR" --log-level info --group-snapshot-every 5
wait_for 10 "varlogkov listening on $KOV_PORT" port_open "$KOV_PORT"

# kafka-python helpers: topic creation, group state, committed offsets, a consumer
cat >"$T/k.py" <<'EOF'
import sys, time, logging
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.structs import TopicPartition
cmd, b = sys.argv[1], sys.argv[2]
if cmd == "consume":
    c = KafkaConsumer("gt", bootstrap_servers=b, group_id=sys.argv[3], client_id="kpy",
                      auto_offset_reset="earliest", enable_auto_commit=True,
                      auto_commit_interval_ms=200, session_timeout_ms=3000,
                      heartbeat_interval_ms=500)
    out = open(sys.argv[4], "a")
    while True:
        for tp, msgs in c.poll(timeout_ms=200).items():
            for m in msgs:
                out.write("%d %d %s\n" % (m.partition, m.offset, m.value.decode()))
            out.flush()
a = KafkaAdminClient(bootstrap_servers=b, client_id="kadm")
if cmd == "create":
    a.create_topics([NewTopic(name="gt", num_partitions=2, replication_factor=1)])
elif cmd == "stable":  # stable GROUP N: Stable with N members, each with an assignment
    g = a.describe_consumer_groups([sys.argv[3]])[0]
    ok = g.state == "Stable" and len(g.members) == int(sys.argv[4])
    print(g.state, len(g.members))
    sys.exit(0 if ok else 1)
elif cmd == "offsets":  # committed offsets of GROUP as "p offset", sorted
    offs = a.list_consumer_group_offsets(sys.argv[3])
    for tp in sorted(offs, key=lambda t: t.partition):
        print(tp.partition, offs[tp].offset)
EOF
kpy() { /usr/bin/python3 "$T/k.py" "$1" "$B" "${@:2}"; }

kpy create || fail "CreateTopics gt (2 partitions) through kafka-python failed"

# a kcat member; its records go to $T/NAME.txt as "partition offset value".
# -E: it must live through varlogkov's kill -9 (step 5): without -E kcat
# exits on librdkafka's "all brokers are down", which it reports when its
# reconnects are refused before the restarted gateway listens (under ASan
# on a loaded machine, 4 runs of 6, three at once: "g1 Stable with 3
# members after the restart" timed out, m1 and m2b gone)
member() {
	local name=$1
	kcat -E -b "$B" -G g1 gt -u -q -f '%p %o %s\n' -X auto.offset.reset=earliest \
		-X session.timeout.ms=3000 -X heartbeat.interval.ms=500 \
		-X auto.commit.interval.ms=200 -X client.id="$name" \
		>>"$T/$name.txt" 2>>"$T/$name.err" &
	MPID[$name]=$!
	PIDS+=($!)
}
declare -A MPID
total() { cat "$T"/m*.txt 2>/dev/null | wc -l; }
total_is() { [ "$(total)" -eq "$1" ]; }
committed_is() { [ "$(kpy offsets g1 | tr '\n' ' ')" = "0 $1 1 $1 " ]; }

# batch K: N records to each partition, values "pP-K-i"
N=200
SENT=0
batch() {
	local k=$1 p
	for p in 0 1; do
		seq 1 $N | sed "s/^/p$p-$k-/" | kcat -b "$B" -P -t gt -p $p || fail "kcat -P batch $k p$p"
	done
	SENT=$((SENT + 2 * N))
	wait_for 30 "batch $k consumed ($SENT records in total)" total_is $SENT
	wait_for 20 "batch $k committed (offset $((SENT / 2)) on both partitions)" committed_is $((SENT / 2))
}

# no record twice, none missing: "p offset value" lines, offsets dense per partition
check_once() {
	cat "$T"/m*.txt | sort -k1,1n -k2,2n >"$T/all.txt"
	local dups
	dups=$(cut -d' ' -f1,2 "$T/all.txt" | uniq -d | head -3)
	[ -z "$dups" ] || fail "records delivered twice (partition offset): $dups"
	awk -v n=$((SENT / 2)) '{ c[$1]++; if ($2 != c[$1] - 1) { print "partition " $1 " offset " $2 " out of place"; exit 1 } }
		END { if (c[0] != n || c[1] != n) { print "partition 0: " c[0] ", partition 1: " c[1] ", expected " n " each"; exit 1 } }' \
		"$T/all.txt" || fail "records lost or out of place"
}

# 1. two kcat members divide the partitions
member m1
member m2
wait_for 30 "g1 Stable with 2 members" kpy stable g1 2
batch 1
for m in m1 m2; do
	[ "$(cut -d' ' -f1 "$T/$m.txt" | sort -u | wc -l)" -eq 1 ] ||
		fail "$m consumed from partitions $(cut -d' ' -f1 "$T/$m.txt" | sort -u | tr '\n' ' '), expected one"
done
[ "$(head -1 "$T/m1.txt" | cut -d' ' -f1)" != "$(head -1 "$T/m2.txt" | cut -d' ' -f1)" ] ||
	fail "both members consumed the same partition"
check_once
log "two kcat -G members: one partition each, $SENT records once, offsets committed"

# 2. a member killed -9: its partition moves once its session expires
kill -KILL "${MPID[m2]}"
wait "${MPID[m2]}" 2>/dev/null || true
wait_for 30 "g1 Stable with 1 member after m2's session expired" kpy stable g1 1
batch 2
check_once
log "m2 killed -9: expired, m1 took both partitions, $SENT records once"

# 3. restarted, it continues from the committed offset (nothing re-read)
member m2b
wait_for 30 "g1 Stable with 2 members again" kpy stable g1 2
batch 3
check_once
log "m2 restarted: rejoined, continued from the committed offsets"

# 4. kafka-python joins the same group
/usr/bin/python3 "$T/k.py" consume "$B" g1 "$T/mpy.txt" 2>"$T/mpy.err" &
PYPID=$!
PIDS+=($PYPID)
wait_for 30 "g1 Stable with 3 members" kpy stable g1 3
batch 4
check_once
log "kafka-python KafkaConsumer joined: 3 members, $SENT records once"

# 5. kill -9 of varlogkov: the committed offsets survive, the members go on
grep -q "__kov_offsets trimmed below GLSN" "$T/kov.log" ||
	fail "no snapshot trimmed __kov_offsets yet: $(ctl topic describe __kov_offsets 2>&1 | head -5)"
kill9 kov
restart kov
wait_for 10 "varlogkov listening again" port_open "$KOV_PORT"
committed_is $((SENT / 2)) || fail "after kill -9: committed offsets $(kpy offsets g1 | tr '\n' ' '), expected $((SENT / 2)) on both partitions"
log "varlogkov killed -9 and restarted: OffsetFetch gives $((SENT / 2)) on both partitions"
wait_for 30 "g1 Stable with 3 members after the restart" kpy stable g1 3
batch 5
check_once
log "after the restart: $SENT records delivered once in total"
grep -q "record(s) of __kov_offsets replayed" "$T/kov.log" || fail "no replay in the log"
log "__kov_offsets: $(grep -c 'kov groups: snapshot of' "$T/kov.log") snapshots, $(grep -c 'trimmed below' "$T/kov.log") trims; at the restart $(grep -o '[0-9]* record(s) of __kov_offsets replayed' "$T/kov.log" | tail -1)"

# 6. bad input to the group APIs: every truncation of valid requests, huge
# counts, random frames; then a raw OffsetCommit v7 and OffsetFetch v5
# still work, and g1's offsets are untouched
/usr/bin/python3 - "$KOV_PORT" <<'EOF' || fail "bad input to the group APIs"
import random, socket, struct, sys
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=10)
def recv_exact(s, n):
    b = b""
    while len(b) < n:
        try:
            c = s.recv(n - len(b))
        except ConnectionResetError:
            return None
        if not c:
            return None
        b += c
    return b
def response(s):
    h = recv_exact(s, 4)
    return None if h is None else recv_exact(s, struct.unpack(">i", h)[0])
def frame(key, ver, corr, body, client=b"t"):
    b = struct.pack(">hhih", key, ver, corr, len(client)) + client + body
    return struct.pack(">i", len(b)) + b
def kstr(x): return struct.pack(">h", len(x)) + x
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def i64(v): return struct.pack(">q", v)
def alive():
    s = conn(); s.sendall(frame(18, 0, 99, b"")); r = response(s); s.close()
    assert r is not None and struct.unpack(">ih", r[:6]) == (99, 0), r

join = (kstr(b"bad") + i32(10000) + i32(10000) + kstr(b"") + i16(-1) + kstr(b"consumer") +
        i32(1) + kstr(b"range") + i32(3) + b"abc")
commit = (kstr(b"bad") + i32(-1) + kstr(b"") + i16(-1) + i32(1) + kstr(b"t") + i32(1) +
          i32(0) + i64(5) + i32(-1) + i16(-1))
sync = kstr(b"bad") + i32(1) + kstr(b"m") + i16(-1) + i32(1) + kstr(b"m") + i32(2) + b"xy"
leave = kstr(b"bad") + i32(2) + kstr(b"m") + i16(-1) + kstr(b"n") + i16(-1)
fetch = kstr(b"bad") + i32(1) + kstr(b"t") + i32(2) + i32(0) + i32(1)
for key, ver, body in ((11, 5, join), (8, 7, commit), (14, 3, sync), (13, 3, leave),
                       (9, 5, fetch)):
    for n in range(len(body)):
        s = conn(); s.sendall(frame(key, ver, n, body[:n]))
        r = response(s)  # a truncated body: the connection is closed
        assert r is None, (key, n, r)
        s.close()
    s = conn(); s.sendall(frame(key, ver, 7, body))
    r = response(s)
    assert r is not None and struct.unpack(">i", r[:4])[0] == 7, (key, r)
    s.close()
alive()
print("every truncation of JoinGroup v5, OffsetCommit v7, SyncGroup v3, LeaveGroup v3, "
      "OffsetFetch v5: closed; the whole requests answered")
# huge counts: protocols, topics, partitions, members, groups
for key, ver, body in ((11, 5, join[:-17] + i32(0x7fffffff)),
                       (8, 7, commit[:-36] + i32(0x7fffffff)),
                       (9, 5, kstr(b"bad") + i32(0x7fffffff)),
                       (13, 3, kstr(b"bad") + i32(0x7fffffff)),
                       (42, 1, i32(0x7fffffff)), (15, 4, i32(0x7fffffff))):
    s = conn(); s.sendall(frame(key, ver, 1, body))
    assert response(s) is None, key
    s.close()
alive()
print("huge array counts: closed, nothing allocated for them")
rnd = random.Random(11)
for i in range(500):
    key = rnd.choice([8, 9, 10, 11, 12, 13, 14, 15, 16, 42])
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 80)))
    s = conn(); s.sendall(frame(key, rnd.randint(0, 5), i, body)); s.close()
alive()
print("500 random frames to the group APIs: still serving")
# a simple commit (generation -1) and a fetch of every partition, raw
s = conn(); s.sendall(frame(8, 7, 1, commit)); r = response(s)
corr, thr, nt = struct.unpack(">iii", r[:12])
assert nt == 1 and r[12:15] == b"\x00\x01t", r
assert struct.unpack(">iih", r[15:25]) == (1, 0, 0), r
s.sendall(frame(9, 5, 2, kstr(b"bad") + i32(-1))); r = response(s)
corr, thr, nt = struct.unpack(">iii", r[:12])
assert corr == 2 and nt == 1 and r[12:15] == b"\x00\x01t", r
assert struct.unpack(">iiqihh", r[15:39]) == (1, 0, 5, -1, -1, 0), r
assert struct.unpack(">h", r[39:41])[0] == 0 and len(r) == 41, r
s.close()
print("OffsetCommit v7 (simple) then OffsetFetch v5 (all partitions): offset 5")
EOF
committed_is $((SENT / 2)) || fail "g1's offsets changed: $(kpy offsets g1 | tr '\n' ' ')"
log "bad input to the group APIs: truncations and huge counts closed, random frames survived, g1 untouched"

# 7. kill -9 under a stream of commits: a raw client commits offsets 1, 2,
# 3, ... (OffsetCommit v2, generation -1) one at a time and writes down
# each one acknowledged; varlogkov is killed in the middle; once restarted,
# OffsetFetch must give at least the last acknowledged one
cat >"$T/committer.py" <<'EOF'
import socket, struct, sys
port, out = int(sys.argv[1]), open(sys.argv[2], "a")
def kstr(x): return struct.pack(">h", len(x)) + x
def frame(key, ver, corr, body):
    b = struct.pack(">hhih", key, ver, corr, 1) + b"c" + body
    return struct.pack(">i", len(b)) + b
s = socket.create_connection(("127.0.0.1", port), timeout=10)
n = 0
while True:
    n += 1
    body = (kstr(b"dur") + struct.pack(">i", -1) + kstr(b"") + struct.pack(">qi", -1, 1) +
            kstr(b"t") + struct.pack(">iiq", 1, 0, n) + kstr(b""))
    try:
        s.sendall(frame(8, 2, n, body))
        h = s.recv(4, socket.MSG_WAITALL)
        r = s.recv(struct.unpack(">i", h)[0], socket.MSG_WAITALL)
    except (OSError, struct.error):
        sys.exit(0)  # the gateway went away: what was acknowledged is in the file
    assert struct.unpack(">i", r[:4])[0] == n and r[-2:] == b"\x00\x00", r
    out.write("%d\n" % n)
    out.flush()
EOF
/usr/bin/python3 "$T/committer.py" "$KOV_PORT" "$T/acked.txt" &
CPID=$!
PIDS+=($CPID)
wait_for 20 "50 commits acknowledged" lines_ge "$T/acked.txt" 50
kill9 kov
wait "$CPID" || fail "the committer failed: a commit was answered with an error"
ACKED=$(tail -1 "$T/acked.txt")
restart kov
wait_for 10 "varlogkov listening again" port_open "$KOV_PORT"
GOT=$(kpy offsets dur | awk '$1 == 0 { print $2 }')
[ -n "$GOT" ] && [ "$GOT" -ge "$ACKED" ] ||
	fail "kill -9 under commits: offset ${GOT:-none} after the restart, $ACKED was acknowledged"
committed_is $((SENT / 2)) || fail "g1's offsets changed: $(kpy offsets g1 | tr '\n' ' ')"
log "kill -9 under a stream of commits: $ACKED acknowledged, OffsetFetch after the restart gives $GOT"

kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
log "varlogkov stopped on SIGTERM, exit 0"
