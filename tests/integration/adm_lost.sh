#!/usr/bin/env bash
# (adm_lost) a storage node whose process ends is found by its closed
# connection, not by the heartbeat timeout: with a timeout of a minute,
# kill -9 of a node still gets its log streams sealed (within seconds),
# appends go on to the topic's other log streams, and the node is up again
# once restarted. A paused node (SIGSTOP) keeps its connection: within the
# same seconds it is not marked down.
. "$(dirname "$0")/lib.sh"

cluster 3
kill -TERM "${DPID[adm]}"
wait "${DPID[adm]}" 2>/dev/null || true
daemon adm varlogadm --listen "$ADM" --mr "$MR" --heartbeat-timeout-ms 60000
wait_for 10 "varlogadm listening again" ctl status
ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create"
seq 1 300 | ctl append f >/dev/null || fail "first appends"

# paused: its connection stays, so nothing happens within 3 s
kill -STOP "${DPID[sn3]}"
sleep 3
kill -CONT "${DPID[sn3]}"
! grep -q "sn 3 .*down" "$T/adm.log" || fail "a paused node was marked down before the heartbeat timeout: $(grep 'sn 3' "$T/adm.log" | tail -1)"
ls_in_line f || fail "log streams were sealed while no node was down"

kill9 sn3
sealed() { ctl ls list f | grep -q SEALED; }
wait_for 15 "the admin to seal sn 3's log streams (its connection closed)" sealed
grep -q "sn 3 .*down (its connection closed and it did not answer within" "$T/adm.log" ||
	fail "the admin does not say why sn 3 is down: $(grep 'sn 3' "$T/adm.log" | tail -2)"
seq 301 600 | ctl append f >/dev/null || fail "appends after the kill"
n=$(ctl subscribe f | wc -l)
[ "$n" = 600 ] || fail "$n entries in the log, expected 600"

from=$(wc -l <"$T/adm.log")
restart sn3
# (after the restart: the admin logged "sn 3 ...: up" when it first saw it)
up_again() { awk -v from="$from" 'NR > from && /sn 3 .*: up/ { f = 1; exit } END { exit !f }' "$T/adm.log"; }
wait_for 30 "sn 3 up again" up_again
in_line() { ls_in_line f; }
wait_for 60 "sn 3's log streams synced and unsealed" in_line
log "ok: sn 3 killed -> down by its closed connection and sealed (timeout 60 s); paused 3 s -> not down; restarted -> unsealed"
