#!/usr/bin/env bash
# (multihost) the cluster across hosts: eleven network namespaces, each
# with its own address on one switch (tests/lib/netns.sh): three MR
# replicas, three storage nodes, the admin, a Kov gateway and two client
# hosts, one with a varlogfs mount and a Kafka producer (kcat, idempotent),
# and a host whose key the cluster does not allow. CURVE on every
# socket (curve_keys): the rogue host is refused and changes nothing. Every daemon is given only its host's address and the others';
# nothing may fall back to 127.0.0.1. Under a load from both clients
# (varlogctl appenders on c2, a writer through the mount on c1): a storage
# node's link is cut and healed (its log streams sealed, synced, unsealed),
# the MR leader is killed and restarted, the client host c2 is cut off
# mid-append and healed. Then: every acknowledged entry is in the log
# exactly once, at its GLSN, in its writer's order; the log is dense; the
# mount and varlogctl count the same; no daemon mentions 127.0.0.1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/netns.sh"
net_skip_unless_root

net_switch
for h in mr1 mr2 mr3 sn1 sn2 sn3 adm kov c1 c2 x; do net_host "$h"; done
curve_keys
A=() # A[i]: address of mr i
MR= PEERS=
for i in 1 2 3; do
	A[$i]=${HOST_ADDR[mr$i]}
	MR="$MR${MR:+,}tcp://${A[$i]}:9092"
	PEERS="$PEERS${PEERS:+,}$i@${A[$i]}:9192@tcp://${A[$i]}:9092"
done
ADM=tcp://${HOST_ADDR[adm]}:9090
MR_NAME=([1]=mr1 [2]=mr2 [3]=mr3) # for lib.sh's mr_leader
for i in 1 2 3; do
	mkdir -p "$T/mr$i"
	net_daemon "mr$i" "mr$i" varlogmr --listen "tcp://${A[$i]}:9092" --raft-addr "${A[$i]}:9192" \
		--raft-id "$i" --peers "$PEERS" --data "$T/mr$i" "${DAEMON_CURVE[@]}"
done
for i in 1 2 3; do
	mkdir -p "$T/sn$i"
	net_daemon "sn$i" "sn$i" varlogsn --listen "tcp://${HOST_ADDR[sn$i]}:9101" --data "$T/sn$i" --mr "$MR" \
		"${DAEMON_CURVE[@]}"
done
net_daemon adm adm varlogadm --listen "$ADM" --mr "$MR" "${DAEMON_CURVE[@]}"
ctl() { on c2 "$BIN/varlogctl" --adm "$ADM" --mr "$MR" "$@"; }
wait_for 20 "an MR leader" mr_leader
wait_for 10 "varlogadm" net_open c2 "${HOST_ADDR[adm]}" 9090
for i in 1 2 3; do
	wait_for 10 "sn$i listening" net_open c2 "${HOST_ADDR[sn$i]}" 9101
	wait_for 10 "sn$i registered" ctl sn add "tcp://${HOST_ADDR[sn$i]}:9101"
done
# the gateway once the storage nodes are in (it makes its own topics at start)
KOV=${HOST_ADDR[kov]}:9093
net_daemon kov kov varlogkov --listen "$KOV" --mr "$MR" --key "$T/keys/daemon.key_secret" \
	--server-key "$T/keys/server.key"
ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create f"
ctl topic create g --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create g"
log "cluster up on $(echo "${HOST_ADDR[@]}" | wc -w) hosts; MR leader $(mr_leader)"

# the mount on c1
mkdir -p "$T/mnt"
on c1 "$BIN/varlogfs" -f --mr="$MR" "$T/mnt" >>"$T/fs.log" 2>&1 &
PIDS+=($!)
MOUNTS+=("$T/mnt")
wait_for 10 "varlogfs mounted" test -d "$T/mnt/.follow"
# its writer: a line a close, acknowledged when the close succeeds
(
	set +e
	for ((i = 1; ; i++)); do
		[ -e "$T/stop" ] && break
		if echo "fs-$i" >>"$T/mnt/g"; then echo "fs-$i" >>"$T/fsack.txt"; else echo "fs-$i" >>"$T/fsfail.txt"; fi
		sleep 0.01
	done
) &
FSW=$!
PIDS+=($FSW)
# the Kafka producer on c1: a line every 10 ms until $T/stop, idempotent
wait_for 20 "varlogkov" net_open c1 "${HOST_ADDR[kov]}" 9093
(
	set +e
	perl -e '$|=1; for (my $i = 1; ! -e "'"$T/stop"'"; $i++) { print "k-$i\n"; select(undef, undef, undef, 0.01) }' |
		tee "$T/kin.txt" | on c1 kcat -P -b "$KOV" -t k -p 0 -X enable.idempotence=true \
		-X linger.ms=5 2>"$T/kcat.err"
	echo "${PIPESTATUS[2]}" >"$T/kcat.rc"
) &
KW=$!
PIDS+=($KW)
APPEND_ON=(on c2)
start_appenders f 2
wait_for 20 "the first acknowledgements" acks_ge 100

sealed() { ctl ls list f | grep -q SEALED; }
in_line() { ls_in_line f; }
net_cut sn3
wait_for 20 "the admin to seal sn3's log streams" sealed
a=$(acks)
wait_for 20 "appends to go on without sn3" acks_ge $((a + 100))
net_heal sn3
wait_for 60 "sn3's log streams synced and unsealed" in_line
log "sn3 cut: sealed, appends went on, unsealed after the heal"

leader=$(mr_leader)
kill9 "$leader"
wait_for 20 "a new MR leader" mr_leader
net_restart "$leader"
a=$(acks)
wait_for 20 "appends after the MR failover" acks_ge $((a + 100))
log "MR leader $leader killed: $(mr_leader) leads"

net_cut c2
sleep 2
net_heal c2
a=$(acks)
wait_for 30 "appends after c2's link came back" acks_ge $((a + 100))

# the rogue host: a key of its own, not in the allow-list
"$BIN/varlogctl" keygen --out "$T/keys" rogue >/dev/null
# (a time-out long enough for the handshake to reach a replica's key check
# under ASan on a loaded machine: a client that gives up first is never
# refused, and its error names the allow-list all the same; curve.sh too)
for _ in 1 2 3; do
	if echo rogue | VARLOG_KEY=$T/keys/rogue.key_secret on x "$BIN/varlogctl" --mr "$MR" --timeout 3000 \
		append f >"$T/rogue.out" 2>&1; then
		fail "a host with a key the cluster does not allow appended"
	fi
done
grep -q 'allow-list' "$T/rogue.out" || fail "the rogue host's error does not say why: $(cat "$T/rogue.out")"
rkey=$(sed -n 's/^ *public-key = "\(.*\)"/\1/p' "$T/keys/rogue.key")
wait_for 20 "a daemon to log the rogue key" sh -c "grep -qF -e '$rkey' '$T'/mr*.log"

touch "$T/stop"
for w in 1 2; do wait "${APP[$w]}" 2>/dev/null || true; done
wait "$FSW" 2>/dev/null || true
wait "$KW" 2>/dev/null || true
for w in 1 2; do
	[ "$(cat "$T/rc$w")" = 0 ] || fail "appender $w failed: $(tail -3 "$T/append$w.err")"
done

check_appenders f 2
if [ "$DUP" -ne 0 ]; then
	cut -f2 "$T/after.out" | sort | uniq -d | head -5 | while read -r e; do
		log "twice: $e at GLSNs $(awk -F'\t' -v e="$e" '$2 == e { printf "%s ", $1 }' "$T/after.out")"
	done
	fail "$DUP entries are in the log twice"
fi
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged entries are not in the log at their GLSN"
# the mount's writer (topic g): every line close() acknowledged is in the
# log once, in the order written; the mount and varlogctl see as many
cp "$T/mnt/g" "$T/fslog.txt"
fsacked=$(wc -l <"$T/fsack.txt")
sort "$T/fsack.txt" | comm -23 - <(sort "$T/fslog.txt") >"$T/fslost.txt"
[ ! -s "$T/fslost.txt" ] || fail "$(wc -l <"$T/fslost.txt") lines acknowledged by close() are not in the log: $(head -3 "$T/fslost.txt")"
[ "$(sort "$T/fslog.txt" | uniq -d | wc -l)" -eq 0 ] || fail "lines written through the mount are in the log twice"
sort -t- -k2 -n -c "$T/fslog.txt" || fail "the mount's lines are not in the order they were written"
ghwm=$(ctl --json topic describe g | sed -n 's/.*"hwm": *\([0-9]*\).*/\1/p')
[ "$ghwm" = "$(wc -l <"$T/fslog.txt")" ] || fail "varlogctl counts $ghwm entries in g, the mount $(wc -l <"$T/fslog.txt") lines"
fusermount3 -u "$T/mnt"

# Kafka: every line the producer was given, once, in order, at dense offsets
[ "$(cat "$T/kcat.rc")" = 0 ] || fail "kcat -P failed: $(tail -3 "$T/kcat.err")"
on c2 kcat -C -b "$KOV" -t k -p 0 -o beginning -e -q -f '%o %s\n' >"$T/kout.txt" 2>"$T/kcat2.err" ||
	fail "kcat -C failed: $(tail -3 "$T/kcat2.err")"
awk '{ print $2 }' "$T/kout.txt" | cmp -s - "$T/kin.txt" ||
	fail "Kafka read back $(wc -l <"$T/kout.txt") records, not the $(wc -l <"$T/kin.txt") lines produced in order"
awk '$1 != NR - 1 { exit 1 }' "$T/kout.txt" || fail "Kafka offsets are not dense from 0"

for f in "$T"/*.log; do
	! grep -q '127\.0\.0\.1' "$f" || fail "$(basename "$f" .log) mentions 127.0.0.1: $(grep -m1 '127\.0\.0\.1' "$f")"
done
grep -q 'rogue' <(cut -f2 "$T/after.out") && fail "the rogue host's entry is in the log"
log "ok: CURVE on; the rogue host refused; $(wc -l <"$T/kout.txt") records through Kafka in order; $ACKED acknowledged by varlogctl on c2 and $fsacked by close() on c1 ($(cat "$T/fsfail.txt" 2>/dev/null | wc -l) closes failed), all present once, in order ($HWM entries); nothing on 127.0.0.1"
