#!/usr/bin/env bash
# kill -9 of a storage node while 4 shell loops append through a varlogfs
# mount (one dd per line, so each line has its own close): every line whose
# close succeeded is in the file exactly once and in its writer's order, no
# line is there twice, and after the node is restarted the admin unseals its
# log streams again. Prints the counts (acknowledged, present, duplicated,
# lost) and the longest time one close took.
. "$(dirname "$0")/lib.sh"
command -v fusermount3 >/dev/null || { echo "fusermount3 missing"; exit 77; }
WRITERS=4
PER=${FS_FAILOVER_PER:-800}

cluster 4
kill -TERM "${DPID[adm]}"
wait "${DPID[adm]}" 2>/dev/null || true
daemon adm varlogadm --listen "$ADM" --mr "$MR" --heartbeat-ms 250 --heartbeat-timeout-ms 1000
wait_for 10 "varlogadm listening again" ctl status
ctl topic create f --log-streams 3 --replication-factor "${FS_FAILOVER_RF:-3}" >/dev/null

# the victim: a storage node that is no log stream's primary, so every
# write through the mount is either refused at once (sealed: the appender
# moves to another log stream) or committed. With FS_FAILOVER_VICTIM=primary
# (fs_failover_primary.sh) a primary that leaves a log stream running: the
# writes to its log stream get no answer, and the mount's appender asks the
# surviving replicas what became of them before it moves them.
ctl --json topic describe f >"$T/describe.json"
PRIMARIES=$(grep -o '"replicas": \[[0-9]*' "$T/describe.json" | grep -o '[0-9]*$' | sort -u | tr '\n' ' ')
VICTIM=
for sn in 1 2 3 4; do
	if [ "${FS_FAILOVER_VICTIM:-}" = primary ]; then
		hosts=$(grep -o '"replicas": \[[0-9, ]*\]' "$T/describe.json" | grep -c -E "[[ ]$sn[],]" || true)
		case " $PRIMARIES" in *" $sn "*) [ "$hosts" -lt 3 ] && VICTIM=$sn ;; esac
	else
		case " $PRIMARIES" in *" $sn "*) ;; *) VICTIM=$sn ;; esac
	fi
done
[ -n "$VICTIM" ] || fail "no storage node fits as the victim (${FS_FAILOVER_VICTIM:-backup}); placement: $PRIMARIES"
log "primaries: $PRIMARIES; victim sn $VICTIM"

M=$T/m
mount_fs "$M" -o timeout=10
for w in $(seq $WRITERS); do
	(
		set +e
		for i in $(seq $PER); do
			t0=$(date +%s%N)
			if printf 'w%s-%s\n' "$w" "$i" | dd of="$M/f" oflag=append conv=notrunc status=none 2>>"$T/dd$w.err"; then
				echo "w$w-$i" >>"$T/ok$w.txt"
			fi
			echo $(($(date +%s%N) - t0)) >>"$T/lat$w.txt"
		done
	) &
	W[$w]=$!
done
# kill in the middle: once every writer has had a quarter of its lines acknowledged
for w in $(seq $WRITERS); do
	wait_for 60 "writer $w to be a quarter through" lines_ge "$T/ok$w.txt" $((PER / 4))
done
if [ "${FS_FAILOVER_VICTIM:-}" = primary ]; then
	# the primary of the log stream the mount writes to (its appender sticks
	# to one), unless that node hosts every log stream
	LSREPS=$(ctl --json ls list f | grep -o '"committed_llsn_end": [0-9]*, "replicas": \[[0-9, ]*\]' |
		sed 's/[^0-9 ]//g')
	busy=$(awk '$1 > max { max = $1; p = $2 } END { print p }' <<<"$LSREPS")
	hosts=$(awk -v s="$busy" '{ for (i = 2; i <= NF; i++) if ($i == s) n++ } END { print n + 0 }' <<<"$LSREPS")
	if [ -n "$busy" ] && [ "$hosts" -lt "$(wc -l <<<"$LSREPS")" ]; then
		VICTIM=$busy
		log "the mount writes to the log stream whose primary is sn $VICTIM: it is the victim"
	else
		log "the primary of the log stream written to (sn $busy) hosts every log stream; victim sn $VICTIM instead"
	fi
fi
kill9 "sn$VICTIM"
log "killed sn $VICTIM"
sealed() { ctl ls list f | grep -q SEALED; }
wait_for 20 "varlogadm to seal the victim's log streams" sealed
for w in $(seq $WRITERS); do wait "${W[$w]}" || true; done
restart "sn$VICTIM"
unsealed() { ls_in_line f; }
wait_for 60 "varlogadm to sync and unseal after the restart" unsealed

cat "$M/f" >"$T/file.out"
ACKED=$(cat "$T"/ok*.txt | wc -l)
DUP=$(sort "$T/file.out" | uniq -d | wc -l)
LOST=$(sort "$T"/ok*.txt | comm -23 - <(sort -u "$T/file.out") | wc -l)
PRESENT=$(sort "$T"/ok*.txt | comm -12 - <(sort -u "$T/file.out") | wc -l)
STALL=$(cat "$T"/lat*.txt | sort -n | tail -1)
log "acknowledged $ACKED, present $PRESENT, duplicated $DUP, lost $LOST; failed closes $(cat "$T"/dd*.err 2>/dev/null | wc -l); longest close $((STALL / 1000000)) ms"
log "batches resolved through the replicas: $(cat "$T"/sn*.log | awk '/ batch [0-9a-f]+\/[0-9]+ / { n++ } END { print n + 0 }') answers, $(cat "$T"/sn*.log | awk '/ batch [0-9a-f]+\/[0-9]+ .*final/ { n++ } END { print n + 0 }') of them final"
[ "$DUP" -eq 0 ] || fail "$DUP lines are in the file twice: $(sort "$T/file.out" | uniq -d | head -3)"
[ "$LOST" -eq 0 ] || fail "$LOST acknowledged lines are missing"
[ "$ACKED" -gt 0 ] || fail "no write succeeded"
for w in $(seq $WRITERS); do
	grep "^w$w-" "$T/file.out" | grep -F -x -f "$T/ok$w.txt" | cmp - "$T/ok$w.txt" ||
		fail "writer $w's acknowledged lines are not in its order"
done
log "ok"
