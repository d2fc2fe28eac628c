#!/usr/bin/env bash
# (kov) Debian's Python Kafka clients against varlogkov: kafka-python 2.0.2
# (KafkaProducer with gzip, KafkaConsumer without a group: assign + seek,
# beginning/end offsets) and confluent-kafka 1.7.0 (an idempotent Producer
# with lz4, AdminClient create_topics / describe_configs / delete_topics,
# a Consumer on assigned partitions); DeleteRecords, which neither client
# has, as a raw request: the log start moves, the records before it are
# gone for kcat and for varlogctl, the rest is intact.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import kafka, confluent_kafka' 2>/dev/null ||
	{ echo "python3-kafka or python3-confluent-kafka missing"; exit 77; }

cluster 3
kov_up

# ---- kafka-python -----------------------------------------------------------
$PY - "$B" >"$T/kp.out" 2>"$T/kp.err" <<'EOF' || fail "kafka-python: $(tail -20 "$T/kp.err")"
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
b = sys.argv[1]
p = KafkaProducer(bootstrap_servers=b, compression_type="gzip", acks="all", linger_ms=5)
futs = [p.send("kp", key=b"k%d" % i if i % 2 else None, value=b"value %d" % i, partition=0)
        for i in range(2000)]
p.flush()
offs = [f.get(timeout=10).offset for f in futs]
assert offs == list(range(2000)), offs[:10]
p.close()
c = KafkaConsumer(bootstrap_servers=b, group_id=None, enable_auto_commit=False,
                  consumer_timeout_ms=5000)
tp = TopicPartition("kp", 0)
c.assign([tp])
assert c.beginning_offsets([tp])[tp] == 0
assert c.end_offsets([tp])[tp] == 2000
c.seek_to_beginning(tp)
got = []
for m in c:
    got.append(m)
    if len(got) == 2000:
        break
assert [m.offset for m in got] == list(range(2000)), [m.offset for m in got][:10]
for i, m in enumerate(got):
    assert m.value == b"value %d" % i, (i, m.value)
    assert m.key == (b"k%d" % i if i % 2 else None), (i, m.key)
c.seek(tp, 1990)
tail = [m.offset for _, ms in c.poll(timeout_ms=5000).items() for m in ms]
assert tail and tail[0] == 1990, tail
c.close()
print("kafka-python: 2000 records (gzip, keys on odd ones) at offsets 0..1999, read back "
      "in order with assign + seek; beginning 0, end 2000")
EOF
cat "$T/kp.out"

# ---- confluent-kafka --------------------------------------------------------
$PY - "$B" >"$T/ck.out" 2>"$T/ck.err" <<'EOF' || fail "confluent-kafka: $(tail -20 "$T/ck.err")"
import sys
from confluent_kafka import Producer, Consumer, TopicPartition, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
b = sys.argv[1]
a = AdminClient({"bootstrap.servers": b})
for t, f in a.create_topics([NewTopic("ck", 3, 1)]).items():
    f.result(10)
md = a.list_topics(timeout=10)
assert sorted(md.topics["ck"].partitions) == [0, 1, 2], md.topics["ck"].partitions
try:
    a.create_topics([NewTopic("ck", 1, 1)])["ck"].result(10)
    raise SystemExit("creating ck twice succeeded")
except KafkaException as e:
    assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e), e
res = ConfigResource("topic", "ck")
cfg = a.describe_configs([res])[res].result(10)
assert cfg["cleanup.policy"].value == "delete", cfg
assert cfg["retention.ms"].value == "-1", cfg

p = Producer({"bootstrap.servers": b, "enable.idempotence": True, "compression.type": "lz4",
              "linger.ms": 5})
acked = []
def dr(err, msg):
    assert err is None, err
    acked.append((msg.partition(), msg.offset()))
for i in range(3000):
    p.produce("ck", value=b"ck %d" % i, partition=i % 3, on_delivery=dr)
assert p.flush(30) == 0
for part in range(3):
    assert sorted(o for q, o in acked if q == part) == list(range(1000)), part

c = Consumer({"bootstrap.servers": b, "group.id": "unused", "enable.auto.commit": False,
              "enable.auto.offset.store": False})
c.assign([TopicPartition("ck", q, 0) for q in range(3)])
seen = {0: [], 1: [], 2: []}
while sum(len(v) for v in seen.values()) < 3000:
    m = c.poll(10)
    assert m is not None, "no record within 10 s: %s" % {k: len(v) for k, v in seen.items()}
    assert m.error() is None, m.error()
    seen[m.partition()].append((m.offset(), m.value()))
c.close()
for q in range(3):
    assert [o for o, _ in seen[q]] == list(range(1000)), q
    assert [v for _, v in seen[q]] == [b"ck %d" % i for i in range(q, 3000, 3)], q

for t, f in a.delete_topics(["ck"]).items():
    f.result(10)
assert "ck" not in a.list_topics(timeout=10).topics
print("confluent-kafka: created ck (3 partitions; twice: TOPIC_ALREADY_EXISTS), configs "
      "read, 3000 records by an idempotent lz4 producer at offsets 0..999 of each partition, "
      "read back in order, topic deleted")
EOF
cat "$T/ck.out"
ctl topic list >"$T/topics.txt" || fail "varlogctl topic list failed"
grep -q 'kp-0' "$T/topics.txt" || fail "varlogctl topic list does not show kp-0: $(cat "$T/topics.txt")"
grep -q 'ck-' "$T/topics.txt" && fail "varlog topics ck-* still there after delete_topics"

# ---- DeleteRecords (raw request, v0): keep offset 1500 onwards of kp-0 -----
$PY - "$KOV_PORT" <<'EOF' || fail "DeleteRecords request failed"
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = struct.pack(">hhih", 21, 0, 7, -1)                         # header v1, null client
body += struct.pack(">i", 1) + struct.pack(">h", 2) + b"kp"      # topics: kp
body += struct.pack(">i", 1) + struct.pack(">iq", 0, 1500)       # partition 0 before 1500
body += struct.pack(">i", 5000)
s.sendall(struct.pack(">i", len(body)) + body)
n = struct.unpack(">i", s.recv(4))[0]
r = b""
while len(r) < n:
    r += s.recv(n - len(r))
corr, throttle, nt = struct.unpack(">iii", r[:12])
assert corr == 7 and nt == 1, r
ln = struct.unpack(">h", r[12:14])[0]
np_, idx, low, err = struct.unpack(">iiqh", r[14 + ln:14 + ln + 18])
assert (idx, low, err) == (0, 1500, 0), (idx, low, err)
EOF
kcat -b "$B" -C -t kp -p 0 -o beginning -e -f '%o %s\n' >"$T/kp.txt" 2>/dev/null || fail "kcat after DeleteRecords"
seq 1500 1999 | awk '{print $1, "value " $1}' | cmp - "$T/kp.txt" ||
	fail "after DeleteRecords before 1500: $(head -3 "$T/kp.txt")"
log "DeleteRecords kp-0 before 1500: low watermark 1500, kcat -o beginning reads 1500..1999"

kill -TERM "${DPID[kov]}"
wait "${DPID[kov]}" || fail "varlogkov did not exit cleanly on SIGTERM"
