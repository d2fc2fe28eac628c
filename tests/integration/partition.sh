#!/usr/bin/env bash
# (partition) links cut rather than daemons dead, on hosts of their own
# (tests/lib/netns.sh): 3 MR replicas, 4 SNs, the admin, a client host with
# three writers (libvarlog, varlogctl append, the mount). Scenarios, each a
# round of tests/lib/chaos.sh (writers recording every acknowledgement, the
# fault for a few seconds, the heal, the cluster serving again, then the
# log read three ways and checked): (a) an SN cut off from every MR replica
# but not from its clients; (b) the primary of the busiest log stream cut
# off from its backups; (c) the client host cut off mid-append (its
# appends resolve: what was acknowledged is in the log once; after the
# heal it goes on); (d) the admin cut off. Prints a table row a scenario.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/chaos.sh"
net_skip_unless_root
CX_HOLD=${PARTITION_HOLD:-5} # longer than the admin's detection (2 s)

cx_cluster
SN=sn$((1 + RANDOM % 4))
cx_round "a:$SN-cut-from-mr" "cx_block_mr $SN" "cx_unblock_mr $SN"
cx_primary
cx_round "b:$CX_PRIMARY-cut-from-backups" "cx_block_backups" "cx_unblock_backups"
cx_round "c:client-cut" "net_cut c1" "net_heal c1"
cx_round "d:admin-cut" "net_cut adm" "net_heal adm"
cx_finish
log "ok: $CX_ROUND partition scenarios, every invariant held"
