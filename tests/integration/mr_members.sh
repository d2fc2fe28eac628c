#!/usr/bin/env bash
# The metadata repository's membership through the admin, under load: an MR
# group of 3 replicas, 3 storage nodes, the admin, a topic of 3 log streams
# (rf 2) and 2 appender processes writing numbered lines. In turn:
# 'varlogctl mr transfer' (leadership moves); a 4th replica started empty
# with --join and 'mr add'ed (a voter); 'mr remove' of it; 'mr remove' of
# the leader (it hands leadership over first), its data directory wiped,
# started again with --join and 'mr add'ed back. After each step commits
# go on and 'mr list --json' shows the group as it should be; bad requests
# change nothing. Last, SIGTERM of the leader hands leadership over before
# it exits, and it rejoins when started again. Then: every appender finished; every acknowledged entry
# is in the log exactly once, at the GLSN it was acknowledged with; the log
# is dense. Last, the group loses its majority (two replicas killed) and is
# recovered offline from the third (varlogmr --recover): appends commit
# again, after the entries acknowledged before.
. "$(dirname "$0")/lib.sh"
WRITERS=2

VARLOG_TEST_MRS=3 cluster 3
ctl topic create f --log-streams 3 --replication-factor 2 >/dev/null

start_appenders f $WRITERS
steady() {
	local want=$(($(acks) + $1))
	wait_for 20 "$1 more acknowledgements ($2)" acks_ge "$want"
}

# mr list --json, summarized: "leader=ID ID:ROLE:ENDPOINT ..." (sorted by id)
SUMMARY='use JSON::PP; my $s = decode_json(join "", <STDIN>);
	print "leader=$s->{leader}";
	print " $_->{id}:$_->{role}:$_->{endpoint}" for sort { $a->{id} <=> $b->{id} } @{$s->{members}};
	print "\n";'
group() { ctl mr list --json | perl -e "$SUMMARY"; }
leader_id() { group | sed -E 's/^leader=([0-9]+).*/\1/'; }
leader_not() { [ "$(leader_id)" != "$1" ]; }
# expect_members "ID:ROLE:ENDPOINT ...": the group's members, leader aside
members() { group | sed -E 's/^leader=[0-9]+ //'; }
expect_members() {
	local got
	got=$(members)
	[ "$got" = "$1" ] || fail "mr list: members '$got', expected '$1'"
}
# raft_addr NAME ID: replica NAME's raft address, from its log
raft_addr() { grep -o -E "raft id $2 at [0-9.]+:[0-9]+" "$T/$1.log" | head -n 1 | awk '{ print $5 }'; }
V1="1:voter:${MR_EP[1]}"
V2="2:voter:${MR_EP[2]}"
V3="3:voter:${MR_EP[3]}"

steady 200 "before the first change"
expect_members "$V1 $V2 $V3"
L=$(leader_id)
[ "$L" -ge 1 ] || fail "mr list names no leader"
ctl mr list >"$T/list.txt" || fail "mr list"
grep -q "(leader)" "$T/list.txt" || fail "mr list does not mark the leader: $(cat "$T/list.txt")"
log "group of 3, leader $L"

# bad requests: a clear error, nothing changed
bad() {
	local want=$1
	shift
	if ctl mr "$@" >"$T/bad.out" 2>"$T/bad.err"; then fail "mr $* succeeded"; fi
	grep -q -- "$want" "$T/bad.err" || fail "mr $*: '$(cat "$T/bad.err")' does not say '$want'"
}
bad "not a number in 1\.\." add 0 127.0.0.1:1 tcp://127.0.0.1:1
bad "has that raft id already" add 2 127.0.0.1:1 tcp://127.0.0.1:1
bad "has that client endpoint already" add 9 127.0.0.1:1 "${MR_EP[2]}"
bad "no member has that raft id" remove 9
bad "no member has that raft id" transfer 9
expect_members "$V1 $V2 $V3"

# 1. transfer
ctl mr transfer >"$T/transfer.out" || fail "mr transfer: $(cat "$T/transfer.out")"
wait_for 10 "a leader other than $L" leader_not "$L"
L2=$(leader_id)
log "mr transfer: leader $L -> $L2 ($(cat "$T/transfer.out"))"
steady 200 "after mr transfer"

# 2. a 4th replica, started empty with --join, added
free_port
EP4="tcp://127.0.0.1:$PORT"
P4=$PORT
free_port
RAFT4="127.0.0.1:$PORT"
MR_NAME[4]=mr4
mkdir -p "$T/mr4"
daemon mr4 varlogmr --listen "$EP4" --data "$T/mr4" --raft-id 4 --raft-addr "$RAFT4" --join \
	--log-level info
wait_for 10 "mr4 listening" port_open "$P4"
ctl mr add 4 "$RAFT4" "$EP4" >"$T/add4.out" || fail "mr add 4: $(cat "$T/add4.out")"
expect_members "$V1 $V2 $V3 4:voter:$EP4"
# the admin was given 3 replicas: META named the 4th
wait_for 5 "the admin to learn mr4's endpoint from META" grep -q "replicas now known: .*$EP4" "$T/adm.log"
log "mr add 4: $(cat "$T/add4.out")"
steady 200 "after mr add 4"

# 3. removed again
ctl mr remove 4 >/dev/null || fail "mr remove 4"
expect_members "$V1 $V2 $V3"
kill -TERM "${DPID[mr4]}"
wait "${DPID[mr4]}" 2>/dev/null || true
unset 'MR_NAME[4]'
steady 200 "after mr remove 4"

# 4. the leader removed (it hands over first), wiped, and added back
L=$(leader_id)
NAME=${MR_NAME[$L]}
ctl mr remove "$L" >"$T/remove.out" || fail "mr remove $L (the leader): $(cat "$T/remove.out")"
L3=$(leader_id)
[ "$L3" != "$L" ] || fail "mr remove $L: it still leads"
case " $(members) " in *" $L:"*) fail "mr remove $L: still a member: $(members)" ;; esac
log "mr remove $L (the leader): now $L3 leads; $(members)"
steady 100 "after mr remove $L"
kill -TERM "${DPID[$NAME]}"
wait "${DPID[$NAME]}" 2>/dev/null || true
rm -rf "${T:?}/$NAME"
mkdir -p "$T/$NAME"
RAFT_L=$(raft_addr "$NAME" "$L")
[ -n "$RAFT_L" ] || fail "cannot find replica $L's raft address in its log"
daemon "$NAME" varlogmr --listen "${MR_EP[$L]}" --data "$T/$NAME" --raft-id "$L" \
	--raft-addr "$RAFT_L" --join --log-level info
wait_for 10 "$NAME listening again" port_open "${MR_PORT[$L]}"
ctl mr add "$L" "$RAFT_L" "${MR_EP[$L]}" >/dev/null || fail "mr add $L back"
expect_members "$V1 $V2 $V3"
steady 200 "after mr add $L back"
log "replica $L wiped and added back: $(group)"

# 5. SIGTERM of the leader: it hands leadership over before it exits
L=$(leader_id)
NAME=${MR_NAME[$L]}
kill -TERM "${DPID[$NAME]}"
wait "${DPID[$NAME]}" || fail "$NAME exited with $? on SIGTERM"
grep -q "leadership handed to raft id" "$T/$NAME.log" ||
	fail "$NAME did not hand leadership over on SIGTERM: $(grep -E 'handing|handed|stopping' "$T/$NAME.log" | tail -n 3)"
wait_for 5 "a leader other than $L" leader_not "$L"
steady 100 "after SIGTERM of the leader $L"
restart "$NAME"
wait_for 10 "$NAME listening again" port_open "${MR_PORT[$L]}"
log "SIGTERM of leader $L: $(grep -o 'leadership handed to raft id [0-9]*' "$T/$NAME.log" | tail -n 1); $(group)"

touch "$T/stop"
for w in $(seq $WRITERS); do wait "${APP[$w]}" || true; done
# every replica, the wiped one too, holds the leader's whole log
LAGS='use JSON::PP; my $s = decode_json(join "", <STDIN>);
	exit(grep({ $_->{lag} != 0 || $_->{match_index} != $s->{last_index} } @{$s->{members}}) ? 1 : 0);'
caught_up() { ctl mr list --json | perl -e "$LAGS"; }
wait_for 10 "every MR replica to hold the leader's whole log" caught_up
ctl mr list >"$T/list.txt" && log "mr list at the end:" && cat "$T/list.txt"
for w in $(seq $WRITERS); do
	[ "$(cat "$T/rc$w")" = 0 ] || fail "appender $w: exit $(cat "$T/rc$w"): $(head -c 300 "$T/append$w.err")"
done
check_appenders f $WRITERS
log "acknowledged $ACKED, present $PRESENT, duplicated $DUP, lost $LOST; log holds $HWM entries"
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged entries lost"
[ "$DUP" -eq 0 ] || fail "$DUP entries are in the log twice"
[ "$HWM" -eq "$ACKED" ] || fail "the log holds $HWM entries for $ACKED acknowledged"

# 6. the majority lost: two replicas killed, the third stopped, recovered
# offline as a group of one (varlogmr --recover), started: it leads, and
# appends commit again
RAFT3=$(raft_addr mr3 3)
kill9 mr
kill9 mr2
kill -TERM "${DPID[mr3]}"
wait "${DPID[mr3]}" 2>/dev/null || true
"$BIN/varlogmr" --data "$T/mr3" --raft-id 3 --raft-addr "$RAFT3" --recover "3@$RAFT3@${MR_EP[3]}" \
	>>"$T/mr3.log" 2>&1 || fail "varlogmr --recover failed: $(tail -n 2 "$T/mr3.log")"
MR_NAME=([3]=mr3)
restart mr3
wait_for 20 "mr3 to lead the recovered group" mr_leader
echo recovered | ctl --timeout 20000 append f >/dev/null || fail "append after the recovery failed"
# (the admin's calls try the two dead replicas first, now and then)
members_are() { [ "$(members 2>/dev/null)" = "$1" ]; }
wait_for 20 "mr list to show the recovered group of one" members_are "$V3"
ctl subscribe f --glsn | tail -n 1 | grep -q -x "$((HWM + 1))	recovered" ||
	fail "the entry appended after the recovery is not at GLSN $((HWM + 1))"
log "recovered a group of one from replica 3: $V3"
log "ok"
