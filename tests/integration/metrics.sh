#!/usr/bin/env bash
# (metrics) every daemon serves Prometheus metrics on its port + 1000 (the
# file system on -o metrics=ADDR) in the text format 0.0.4, and the counters
# move as the load did: entries appended through varlogctl and the mount are
# counted once by their primaries and once per backup, committed once by the
# MR; the admin counts the storage nodes up and down and the seal of a dead
# node's log streams.
. "$(dirname "$0")/lib.sh"

cluster 3
free_port
FSM=$PORT
mount_fs "$T/mnt" -o metrics=127.0.0.1:$FSM
ctl topic create m --log-streams 3 --replication-factor 2 >/dev/null || fail "topic create"

# scrape NAME ADDR: the metrics of one daemon into $T/NAME.prom
scrape() {
	curl -sf -o "$T/$1.prom" -D "$T/$1.hdr" "http://$2/metrics" || fail "scraping $1 at $2 failed"
}
# value FILE SERIES: the value of one series (0 when absent)
value() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }
# sum FILE FAMILY: the sum of a family's series
sum() { awk -v f="$2" '$1 ~ "^" f "({|$)" { t += $2 } END { printf "%d\n", t }' "$1"; }
port_of() { echo "${1##*:}"; }
MRM=127.0.0.1:$(($(port_of "$MR") + 1000))
ADMM=127.0.0.1:$(($(port_of "$ADM") + 1000))

seq -f "ctl-%g" 1 3000 | ctl append m --batch 100 >/dev/null || fail "append through varlogctl"
for i in $(seq 1 50); do echo "fs-$i" >>"$T/mnt/m" || fail "append through the mount"; done
cat "$T/mnt/m" >/dev/null
total=3050
hwm=$(ctl --json topic describe m | sed -n 's/.*"hwm": *\([0-9]*\).*/\1/p')
[ "$hwm" = $total ] || fail "the topic's high watermark is $hwm, not $total"

# the format: every family has HELP and TYPE, every sample is NAME[{LABELS}] VALUE
check_format() {
	grep -q '^Content-Type: text/plain; version=0.0.4' "$T/$1.hdr" || fail "$1: Content-Type is not the text format 0.0.4: $(cat "$T/$1.hdr")"
	awk '/^# TYPE/ { typed[$3] = 1; next } /^# HELP/ { next }
	     !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$/ { print "bad line: " $0; exit 1 }
	     { n = $1; sub(/\{.*/, "", n); b = n; sub(/_(bucket|sum|count)$/, "", b); if (!typed[n] && !typed[b]) { print "no TYPE for " n; exit 1 } }' \
		"$T/$1.prom" || fail "$1: not the Prometheus text format"
}

# the SNs report once a second; the committed counters are exact as soon as
# every append has been answered
wait_for 10 "sn1's gauges" sh -c "curl -sf http://127.0.0.1:$((SN_PORT[1] + 1000))/metrics | grep -q '^varlog_sn_replicas [1-9]'"
for i in 1 2 3; do scrape "sn$i" "127.0.0.1:$((SN_PORT[i] + 1000))"; check_format "sn$i"; done
appended=0 replicated=0
for i in 1 2 3; do
	appended=$((appended + $(sum "$T/sn$i.prom" varlog_sn_append_entries_total)))
	replicated=$((replicated + $(sum "$T/sn$i.prom" varlog_sn_replicated_entries_total)))
done
[ "$appended" -eq $total ] || fail "the primaries counted $appended appended entries, the load made $total"
[ "$replicated" -ge $total ] || fail "the backups counted $replicated replicated entries, fewer than the $total appended (rf 2)"
grep -q '^varlog_sn_append_seconds_bucket{topic="[0-9]*",ls="[0-9]*",le="+Inf"} [1-9]' "$T/sn1.prom" "$T/sn2.prom" "$T/sn3.prom" ||
	fail "no append latency observed"
[ "$(value "$T/sn1.prom" varlog_sn_disk_size_bytes)" -gt 0 ] || fail "sn1 reports no disk size"

scrape mr "$MRM"
check_format mr
[ "$(value "$T/mr.prom" varlog_mr_committed_entries_total)" -eq $total ] ||
	fail "the MR counted $(value "$T/mr.prom" varlog_mr_committed_entries_total) committed entries, the load made $total"
[ "$(value "$T/mr.prom" varlog_mr_commit_rounds_total)" -gt 0 ] || fail "no commit rounds counted"
wait_for 5 "the raft gauges" sh -c "curl -sf http://$MRM/metrics | grep -q '^varlog_raft_leader 1'"

scrape fs "127.0.0.1:$FSM"
check_format fs
[ "$(value "$T/fs.prom" 'varlog_fs_operations_total{op="write"}')" -ge 50 ] || fail "varlogfs counted fewer writes than the 50 echo"
[ "$(value "$T/fs.prom" varlog_fs_write_bytes_total)" -eq "$(seq -f 'fs-%g' 1 50 | wc -c)" ] ||
	fail "varlogfs counted $(value "$T/fs.prom" varlog_fs_write_bytes_total) bytes written"
[ "$(value "$T/fs.prom" varlog_fs_read_bytes_total)" -gt 0 ] || fail "varlogfs counted no bytes read"

wait_for 10 "3 storage nodes up in the admin's metrics" sh -c "curl -sf http://$ADMM/metrics | grep -q '^varlog_adm_storage_nodes{state=\"up\"} 3'"
scrape adm "$ADMM"
check_format adm

# a node dies: the admin counts it down and seals its log streams
kill9 sn3
wait_for 20 "the admin to count sn3 down and seal" sh -c "curl -sf http://$ADMM/metrics >'$T/adm2.prom' &&
	grep -q '^varlog_adm_storage_nodes{state=\"down\"} 1' '$T/adm2.prom' &&
	grep -q '^varlog_adm_sn_down_total 1' '$T/adm2.prom' && ! grep -q '^varlog_adm_seals_total 0' '$T/adm2.prom'"

[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$MRM/other")" = 404 ] || fail "a path other than /metrics is not 404"
log "ok: $total entries counted by primaries ($appended), backups ($replicated) and the MR; adm: $(grep '^varlog_adm_seals_total' "$T/adm2.prom")"
