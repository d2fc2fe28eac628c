#!/usr/bin/env bash
# (kov) two varlogkov gateways on one cluster (doc/KOV.md "Several
# gateways"): both are brokers in Metadata (kcat -L) and `varlogctl kov
# list` shows them and who owns the partition; an idempotent
# confluent-kafka producer (enable.idempotence, acks=all) produces numbered
# records through both as bootstrap while a consumer reads them; the
# gateway that owns the partition (and coordinates the groups: the oldest)
# is killed -9 mid-run; the other one declares it expired, takes the
# partition and the groups over, and the producer, a consumer on the
# assigned partition and a consumer group's member go on through their
# normal retries. At the end every acknowledged record is in the partition
# exactly once and in order (acknowledged / present / duplicated / lost are
# printed), both consumers saw every acknowledged one, the group's commits
# reach the new coordinator, and `varlogctl kov list` shows the move.
# __kov_meta is compacted meanwhile (snapshots and trims): `kov list` and
# the killed gateway, started again, replay it from a snapshot; the
# restarted gateway gets its partition back.
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || { echo "kcat missing (apt-get install kcat)"; exit 77; }
/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null ||
	{ echo "python3-confluent-kafka missing"; exit 77; }

cluster 1
free_port
P1=$PORT
free_port
P2=$PORT
B1=127.0.0.1:$P1
B2=127.0.0.1:$P2
# a snapshot of __kov_meta every 20 records (one every few seconds), so
# the run compacts and trims it a few times
daemon kov1 varlogkov --listen "$B1" --mr "$MR" --node-id 1 --session-timeout 2000 \
	--meta-snapshot-every 20
wait_for 20 "varlogkov 1 listening on $P1" port_open "$P1"
daemon kov2 varlogkov --listen "$B2" --mr "$MR" --id 2 --session-timeout 2000 \
	--meta-snapshot-every 20
wait_for 20 "varlogkov 2 listening on $P2" port_open "$P2"

# both gateways are brokers, whichever one is asked
kcat -L -b "$B2" -t gw >"$T/meta0.txt" 2>&1 || true # auto-creates gw (1 partition)
two_brokers() { [ "$(kcat -L -b "$1" -t gw 2>/dev/null | grep -c "broker [12] at")" = 2 ]; }
wait_for 10 "both gateways in Metadata from gateway 1" two_brokers "$B1"
wait_for 10 "both gateways in Metadata from gateway 2" two_brokers "$B2"
leader() { kcat -L -b "$1" -t gw 2>/dev/null | sed -n 's/.*partition 0, leader \([0-9-]*\),.*/\1/p'; }
leader_is() { [ "$(leader "$1")" = "$2" ]; }
OWNER=$(leader "$B1")
[ "$OWNER" = "$(leader "$B2")" ] || fail "the gateways disagree on the leader of gw-0"
case $OWNER in 1) OTHER=2 SURV=$B2 ;; 2) OTHER=1 SURV=$B1 ;; *) fail "no leader for gw-0: '$OWNER'" ;; esac
ctl kov list >"$T/list0.txt"
cat "$T/list0.txt"
grep -q "^gw-0 *$OWNER " "$T/list0.txt" || fail "kov list does not show gateway $OWNER owning gw-0"
[ "$(ctl --json kov list | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(g["alive"] for g in d["gateways"]))')" = 2 ] ||
	fail "kov list --json does not show two live gateways"
log "gateway $OWNER owns gw-0; gateway $OTHER will take it over"

cat >"$T/p.py" <<'EOF'
import sys, signal
from confluent_kafka import Producer, Consumer, TopicPartition
cmd, b, out = sys.argv[1], sys.argv[2], sys.argv[3]
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
f = open(out, "w", buffering=1)
if cmd == "produce":
    p = Producer({"bootstrap.servers": b, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5, "message.timeout.ms": 60000, "retry.backoff.ms": 100,
                  "topic.metadata.refresh.interval.ms": 1000})
    def done(err, msg):
        if err is None:
            f.write("%s %d\n" % (msg.value().decode(), msg.offset()))
        else:
            sys.stderr.write("not acknowledged: %s: %s\n" % (msg.value().decode(), err))
    i = 0
    while not stop:
        try:
            p.produce("gw", partition=0, value=str(i).encode(), on_delivery=done)
            i += 1
        except BufferError:
            pass
        p.poll(0.002)
    left = p.flush(60)
    sys.stderr.write("produced %d, %d left unflushed\n" % (i, left))
elif cmd == "committed":
    c = Consumer({"bootstrap.servers": b, "group.id": "gg"})
    f.write("%d\n" % c.committed([TopicPartition("gw", 0)], timeout=10)[0].offset)
    c.close()
else:
    group = cmd == "group"
    c = Consumer({"bootstrap.servers": b, "group.id": "gg" if group else "unused",
                  "enable.auto.commit": group, "auto.commit.interval.ms": 200,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "topic.metadata.refresh.interval.ms": 1000})
    if group:
        c.subscribe(["gw"])
    else:
        c.assign([TopicPartition("gw", 0, 0)])
    while not stop:
        m = c.poll(0.2)
        if m is not None and not m.error():
            f.write("%s %d\n" % (m.value().decode(), m.offset()))
    c.close()
EOF
/usr/bin/python3 "$T/p.py" produce "$B1,$B2" "$T/acked.txt" 2>"$T/producer.log" &
PPID_=$!
PIDS+=($PPID_)
/usr/bin/python3 "$T/p.py" consume "$B1,$B2" "$T/consumed.txt" 2>"$T/consumer.log" &
CPID=$!
PIDS+=($CPID)
# a consumer group, coordinated by the oldest gateway (1) until it dies
/usr/bin/python3 "$T/p.py" group "$B1,$B2" "$T/group.txt" 2>"$T/group.log" &
GPID=$!
PIDS+=($GPID)
COORD0=$(ctl --json kov list | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["groups"]["coordinator"])')

wait_for 30 "2000 acknowledged records" lines_ge "$T/acked.txt" 2000
log "killing -9 gateway $OWNER (the owner) after $(wc -l <"$T/acked.txt") acknowledged records"
kill9 "kov$OWNER"
AT_KILL=$(wc -l <"$T/acked.txt")
wait_for 30 "gateway $OTHER leading gw-0" leader_is "$SURV" "$OTHER"
wait_for 40 "2000 more acknowledged records after the kill" lines_ge "$T/acked.txt" $((AT_KILL + 2000))
kill -TERM "$PPID_"
wait "$PPID_" || fail "the producer failed: $(tail -5 "$T/producer.log")"
cat "$T/producer.log"
ACKED=$(wc -l <"$T/acked.txt")
HWM=$(kcat -Q -b "$SURV" -t gw:0:-1 2>/dev/null | awk '{print $NF}')
wait_for 30 "the consumer reaching the end" lines_ge "$T/consumed.txt" "$ACKED"
kill -TERM "$CPID"
wait "$CPID" || true
# the group's consumer got there too and its commits reach the new coordinator
committed_end() {
	/usr/bin/python3 "$T/p.py" committed "$SURV" "$T/committed.txt" 2>/dev/null &&
		[ "$(cat "$T/committed.txt")" = "$HWM" ]
}
wait_for 40 "the group's committed offset reaching $HWM through gateway $OTHER" committed_end
kill -TERM "$GPID"
wait "$GPID" || true

kcat -C -b "$SURV" -t gw -p 0 -o beginning -e -f '%s %o\n' >"$T/all.txt"
/usr/bin/python3 - "$T/acked.txt" "$T/all.txt" "$T/consumed.txt" "$T/group.txt" <<'EOF' || fail "records lost, duplicated or out of order"
import sys
acked = [l.split() for l in open(sys.argv[1])]
allr = [l.split() for l in open(sys.argv[2])]
cons = [l.split()[0] for l in open(sys.argv[3])]
grp = set(l.split()[0] for l in open(sys.argv[4]))
present = {}
for v, o in allr:
    present.setdefault(v, []).append(int(o))
dup = sum(1 for v in present if len(present[v]) > 1)
lost = [v for v, o in acked if v not in present]
wrong = [v for v, o in acked if v in present and int(o) not in present[v]]
seq = [int(v) for v, o in allr]
order = all(a < b for a, b in zip(seq, seq[1:]))
consumed_missing = len(set(v for v, o in acked) - set(cons))
group_missing = len(set(v for v, o in acked) - grp)
print("acknowledged %d / present %d / duplicated %d / lost %d / acked at a wrong offset %d / "
      "in order %s / acknowledged records the consumer missed %d / the group's consumer missed %d"
      % (len(acked), len(allr), dup, len(lost), len(wrong), order, consumed_missing, group_missing))
sys.exit(0 if dup == 0 and not lost and not wrong and order and consumed_missing == 0
         and group_missing == 0 else 1)
EOF

log "retries the new owner found in the log and answered with their first offset: $(grep -c 'is in the log already' "$T/kov$OTHER.log" || true)"
ctl kov list >"$T/list1.txt"
cat "$T/list1.txt"
grep -q "^gw-0 *$OTHER " "$T/list1.txt" || fail "kov list does not show gw-0 moved to gateway $OTHER"
grep -qE "^$OWNER .* no " "$T/list1.txt" || fail "kov list does not show gateway $OWNER expired"
if [ "$COORD0" = "$OWNER" ]; then
	grep -q "^groups: coordinator $OTHER " "$T/list1.txt" ||
		fail "kov list does not show the groups moved to gateway $OTHER"
fi

# __kov_meta was compacted (trimmed behind snapshots); gateway $OWNER, started
# again, replays it from a snapshot, registers and gets its partition back
TRIM=$(ctl --json topic describe __kov_meta | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["trim_glsn"])')
[ "$TRIM" -gt 1 ] || fail "__kov_meta was never trimmed (trim point $TRIM)"
restart "kov$OWNER"
wait_for 20 "gateway $OWNER leading gw-0 again" leader_is "$SURV" "$OWNER"
wait_for 10 "both gateways in Metadata again" two_brokers "$SURV"
ctl kov list >"$T/list2.txt"
grep -q "^gw-0 *$OWNER " "$T/list2.txt" || fail "kov list does not show gw-0 back at gateway $OWNER"
log "ok: gw-0 moved from gateway $OWNER to $OTHER and back; $ACKED acknowledged (HWM $HWM); __kov_meta trimmed to $TRIM"
