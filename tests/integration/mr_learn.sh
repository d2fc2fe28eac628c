#!/usr/bin/env bash
# A user given one MR endpoint finds the other replicas: varlogfs mounted
# with --mr naming only the leader of a group of 3 writes a file (its first
# META names every voter), the leader is killed -9 and stays dead, and a
# new file (a new topic: CREATE_TOPIC and GET_META go to the MR) is written
# through the replicas the mount learned from META. The SNs are given one
# endpoint too (the leader's) and go on committing under the next leader.
. "$(dirname "$0")/lib.sh"
VARLOG_TEST_MRS=3 cluster 0
lead=$(mr_leader)
for i in "${!MR_NAME[@]}"; do [ "${MR_NAME[$i]}" = "$lead" ] && ep=${MR_EP[$i]}; done
log "MR replicas: $MR; the users are given $lead's only: $ep"
ALL_MR=$MR
MR=$ep
for i in 1 2; do
	free_port
	daemon "sn$i" varlogsn --listen "tcp://127.0.0.1:$PORT" --mr "$MR" --data "$T/sn$i"
	wait_for 10 "sn$i listening" port_open "$PORT"
	ctl sn add "tcp://127.0.0.1:$PORT" >/dev/null
done
mount_fs "$T/mnt"

echo one >>"$T/mnt/a" || fail "append to a new file through the leader failed"
[ "$(cat "$T/mnt/a")" = one ] || fail "a reads '$(cat "$T/mnt/a")', not 'one'"
kill -9 "${DPID[$lead]}"
log "killed $lead (not restarted)"
MR=$ALL_MR
wait_for 20 "another MR replica to take leadership" mr_leader

echo two >>"$T/mnt/b" || fail "a new file after the killed leader: the mount did not find the other replicas ($(tail -n 3 "$T/fs-mnt.log"))"
echo three >>"$T/mnt/a" || fail "append to a after the kill failed"
[ "$(cat "$T/mnt/b")" = two ] || fail "b reads '$(cat "$T/mnt/b")', not 'two'"
[ "$(cat "$T/mnt/a")" = "one
three" ] || fail "a reads '$(cat "$T/mnt/a")', not 'one three'"
umount_fs "$T/mnt"
log "PASS: the mount and the SNs found the other replicas from META"
