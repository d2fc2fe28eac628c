#!/usr/bin/env bash
# (kov) ListOffsets by timestamp (offsets for times) with Debian's clients:
# kafka-python 2.0.2 KafkaConsumer.offsets_for_times, confluent-kafka 1.7.0
# Consumer.offsets_for_times and kcat -o s@TS. Partition tt-0 holds 1000
# keyed records stamped T0, T0+10, ... (kept exactly) then 100 plain ones
# (null key: stored as their bytes, stamped with the time of the request);
# every answer is the first offset whose record is at or after the
# timestamp, -1 (None) when none is; after a trim the search starts at the
# new log start; on records whose timestamps are out of order the answer is
# an offset where they cross the timestamp (what kov/api_list_offsets.c
# promises); an empty partition answers -1.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import kafka, confluent_kafka' 2>/dev/null ||
	{ echo "python3-kafka or python3-confluent-kafka missing"; exit 77; }

cluster 3
kov_up
T0=1600000000000

# ---- the records ------------------------------------------------------------
$PY - "$B" "$T0" >"$T/prod.out" 2>"$T/prod.err" <<'EOF' || fail "producing: $(tail -20 "$T/prod.err")"
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
b, t0 = sys.argv[1], int(sys.argv[2])
a = AdminClient({"bootstrap.servers": b})
for t, f in a.create_topics([NewTopic("empty", 1, 1)]).items():
    f.result(10)
p = Producer({"bootstrap.servers": b, "linger.ms": 5, "enable.idempotence": True})
acked = []
def dr(err, msg):
    assert err is None, err
    acked.append(msg.offset())
for i in range(1000):
    p.produce("tt", key=b"k", value=b"v %d" % i, partition=0, timestamp=t0 + 10 * i,
              on_delivery=dr)
assert p.flush(30) == 0
for i in range(1000, 1100):
    p.produce("tt", value=b"plain %d" % i, partition=0, on_delivery=dr)
# out of order: offsets 0..7 of oo-0
for i, ts in enumerate([50, 10, 70, 30, 90, 20, 60, 40]):
    p.produce("oo", key=b"k", value=b"o %d" % i, partition=0, timestamp=t0 + ts, on_delivery=dr)
assert p.flush(30) == 0
assert sorted(acked[:1100]) == list(range(1100)), acked[:10]
print("produced tt-0: 1000 keyed records at T0 + 10 i, 100 plain ones; oo-0: 8 out of order")
EOF
cat "$T/prod.out"

# ---- kafka-python -----------------------------------------------------------
# expected: (timestamp asked, offset, timestamp of the record found or None)
$PY - "$B" "$T0" >"$T/kp.out" 2>"$T/kp.err" <<'EOF' || fail "kafka-python: $(tail -20 "$T/kp.err")"
import sys, time
from kafka import KafkaConsumer, TopicPartition
b, t0 = sys.argv[1], int(sys.argv[2])
c = KafkaConsumer(bootstrap_servers=b, group_id=None, enable_auto_commit=False)
tp = TopicPartition("tt", 0)
def at(ts):
    r = c.offsets_for_times({tp: ts})[tp]
    return None if r is None else (r.offset, r.timestamp)
assert at(0) == (0, t0), at(0)
assert at(t0 - 5) == (0, t0), at(t0 - 5)
assert at(t0) == (0, t0), at(t0)
assert at(t0 + 1) == (1, t0 + 10), at(t0 + 1)
assert at(t0 + 5000) == (500, t0 + 5000), at(t0 + 5000)
assert at(t0 + 5001) == (501, t0 + 5010), at(t0 + 5001)
assert at(t0 + 9990) == (999, t0 + 9990), at(t0 + 9990)
before = int(time.time() * 1000)
o, ts = at(t0 + 9991)  # past every keyed record: the first plain one, stamped now
after = int(time.time() * 1000)
assert o == 1000 and before - 1000 <= ts <= after + 1000, (o, ts, before, after)
assert at(after + 3600 * 1000) is None, at(after + 3600 * 1000)
e = TopicPartition("empty", 0)
assert c.offsets_for_times({e: t0})[e] is None
c.close()
print("kafka-python offsets_for_times: T0-5 -> 0, T0+5000 -> 500, T0+5001 -> 501, "
      "T0+9991 -> 1000 (plain, stamped now), now+1h -> None, empty -> None")
EOF
cat "$T/kp.out"

# ---- confluent-kafka ------------------------------------------------------------
$PY - "$B" "$T0" >"$T/ck.out" 2>"$T/ck.err" <<'EOF' || fail "confluent-kafka: $(tail -20 "$T/ck.err")"
import sys, time
from confluent_kafka import Consumer, TopicPartition
b, t0 = sys.argv[1], int(sys.argv[2])
c = Consumer({"bootstrap.servers": b, "group.id": "unused", "enable.auto.commit": False})
def at(topic, ts):
    r = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)[0]
    assert r.error is None, r.error
    return r.offset
for ts, want in [(t0 - 5, 0), (t0 + 1, 1), (t0 + 2500, 250), (t0 + 2505, 251),
                 (t0 + 9990, 999), (t0 + 9991, 1000)]:
    assert at("tt", ts) == want, (ts, at("tt", ts), want)
assert at("tt", int(time.time() * 1000) + 3600 * 1000) == -1
assert at("empty", t0) == -1
# out of order (offsets 0..7 stamped T0 + 50 10 70 30 90 20 60 40): a crossing
tss = [50, 10, 70, 30, 90, 20, 60, 40]
for q in range(0, 100, 5):
    o = at("oo", t0 + q)
    if o == -1:
        assert tss[-1] < q, (q, o)
    else:
        assert tss[o] >= q and (o == 0 or tss[o - 1] < q), (q, o)
c.close()
print("confluent-kafka offsets_for_times: T0-5 -> 0, T0+2505 -> 251, T0+9991 -> 1000, "
      "now+1h -> -1, empty -> -1; out-of-order timestamps: a crossing each time")
EOF
cat "$T/ck.out"

# ---- kcat -o s@TS, then after a trim ---------------------------------------------
kcat -b "$B" -C -t tt -p 0 -o "s@$((T0 + 9950))" -e -f '%o %k %s\n' >"$T/kc.txt" 2>"$T/kc.err" ||
	fail "kcat -o s@: $(tail -5 "$T/kc.err")"
{
	for i in 995 996 997 998 999; do echo "$i k v $i"; done
	for i in $(seq 1000 1099); do echo "$i  plain $i"; done
} | cmp - "$T/kc.txt" || fail "kcat -o s@T0+9950 read: $(head -3 "$T/kc.txt")"
log "kcat -o s@T0+9950 -e: offsets 995..1099, exact records"

ctl trim tt-0 300 >/dev/null || fail "varlogctl trim tt-0 300 failed"
$PY - "$B" "$T0" <<'EOF' || fail "offsets_for_times after the trim"
import sys
from confluent_kafka import Consumer, TopicPartition
b, t0 = sys.argv[1], int(sys.argv[2])
c = Consumer({"bootstrap.servers": b, "group.id": "unused"})
def at(ts):
    return c.offsets_for_times([TopicPartition("tt", 0, ts)], timeout=10)[0].offset
assert at(t0) == 300, at(t0)
assert at(t0 + 2990) == 300, at(t0 + 2990)
assert at(t0 + 3001) == 301, at(t0 + 3001)
assert at(t0 + 7000) == 700, at(t0 + 7000)
c.close()
EOF
log "after varlogctl trim tt-0 300 (log start 300): T0 -> 300, T0+3001 -> 301, T0+7000 -> 700"

kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
log "PASS"
