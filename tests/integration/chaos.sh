#!/usr/bin/env bash
# (chaos) random faults under concurrent writers, on hosts of their own
# (tests/lib/netns.sh): 3 MR replicas, 4 SNs (sn4 on a small tmpfs), the
# admin, a client host with three writers that record every
# acknowledgement (libvarlog's vl_append, varlogctl append, one line a
# close() through the mount). Each round (tests/lib/chaos.sh) picks a
# fault at random: kill -9, SIGSTOP (then SIGCONT) or a cut link of an SN,
# an MR replica or the admin, a full disk on sn4, a cut-off client host,
# an SN cut off from the MR, an SN cut off while the MR leader is killed;
# heals it, waits until the cluster serves again, and checks: every
# acknowledged entry in the log exactly once at its GLSN with its bytes,
# no entry twice (retries included), each writer's order kept, varlogctl
# subscribe, libvarlog and the mount read the same, every daemon alive;
# lib.sh scans the logs for sanitizer reports. Prints a table row a round.
# CHAOS_ROUNDS rounds (default 4: the short form of make check; more for a
# long run), CHAOS_SEED replays a run (the seed is printed), CHAOS_HOLD
# the seconds a fault lasts (default 3), CHAOS_FAULTS limits the faults to
# those named (e.g. "cut-mr kill9-mr"); an MR fault hits the leader one
# time in CHAOS_LEADER_ODDS (default 2), else a replica at random. A round
# that broke an invariant leaves its evidence in CHAOS_EVIDENCE (default
# /tmp/varlog-chaos-evidence.PID) and fails the test at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/chaos.sh"
net_skip_unless_root

CX_SEED=${CHAOS_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$CX_SEED
ROUNDS=${CHAOS_ROUNDS:-4}
CX_HOLD=${CHAOS_HOLD:-3}
log "seed $CX_SEED (CHAOS_SEED=$CX_SEED replays it), $ROUNDS rounds"

cx_cluster
FAULTS=(kill9-sn stop-sn cut-sn sn-cut-from-mr kill9-mr stop-mr cut-mr kill9-adm stop-adm cut-adm cut-client
	cut-sn+kill9-leader)
[ "$CX_TMPFS" = 1 ] && FAULTS+=(full-sn4)
# CHAOS_FAULTS: only these (space-separated names of the list above)
[ -z "${CHAOS_FAULTS:-}" ] || read -r -a FAULTS <<<"$CHAOS_FAULTS"
for ((r = 1; r <= ROUNDS; r++)); do
	f=${FAULTS[RANDOM % ${#FAULTS[@]}]}
	sn=sn$((1 + RANDOM % 4))
	mr=mr$((1 + RANDOM % 3))
	case $f in
	kill9-sn) cx_round "$r:kill9-$sn" "cx_kill9 $sn" "cx_restart $sn" ;;
	stop-sn) cx_round "$r:stop-$sn" "cx_stop $sn" "cx_cont $sn" ;;
	cut-sn) cx_round "$r:cut-$sn" "net_cut $sn" "net_heal $sn" ;;
	sn-cut-from-mr) cx_round "$r:$sn-cut-from-mr" "cx_block_mr $sn" "cx_unblock_mr $sn" ;;
	kill9-mr | stop-mr | cut-mr)
		# the leader, every other time
		if [ $((RANDOM % ${CHAOS_LEADER_ODDS:-2})) = 0 ] && l=$(mr_leader); then mr=$l; fi
		case $f in
		kill9-mr) cx_round "$r:kill9-$mr" "cx_kill9 $mr" "cx_restart $mr" ;;
		stop-mr) cx_round "$r:stop-$mr" "cx_stop $mr" "cx_cont $mr" ;;
		cut-mr) cx_round "$r:cut-$mr" "net_cut $mr" "net_heal $mr" ;;
		esac
		;;
	kill9-adm) cx_round "$r:kill9-adm" "cx_kill9 adm" "cx_restart adm" ;;
	stop-adm) cx_round "$r:stop-adm" "cx_stop adm" "cx_cont adm" ;;
	cut-adm) cx_round "$r:cut-adm" "net_cut adm" "net_heal adm" ;;
	cut-client) cx_round "$r:cut-client" "net_cut c1" "net_heal c1" ;;
	cut-sn+kill9-leader)
		# both at once (what multihost.sh does one after the other)
		l=$(mr_leader) || l=$mr
		cx_round "$r:cut-$sn+kill9-$l" "net_cut $sn; cx_kill9 $l" "net_heal $sn; cx_restart $l"
		;;
	full-sn4) cx_round "$r:full-sn4" "cx_fill" "cx_unfill" ;;
	esac
done
cx_finish
log "ok: seed $CX_SEED, $ROUNDS rounds, every invariant held"
