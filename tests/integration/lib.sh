# lib.sh - helpers of the integration tests (sourced).
#
# Every test gets a private temp dir, free ports and an EXIT trap that stops
# every process it started (by PID), unmounts every mount it made, scans the
# daemon logs for sanitizer reports and removes the temp dir. Tests wait for
# conditions (wait_for) instead of sleeping.
set -euo pipefail

BIN=${VARLOG_BIN:?VARLOG_BIN must point at the build directory (make check sets it)}
T=$(mktemp -d /tmp/varlog-test.XXXXXX)
PIDS=()
PORT_LOCKS=${VARLOG_PORT_LOCKS:-/tmp/varlog-test-ports} # (free_port)
LOCKED_PORTS=()                                        # ports whose lock we hold
MOUNTS=()
NETNS=() # network namespaces (tests/lib/netns.sh), deleted last
TMPFS=() # small file systems a test mounted (a full disk), unmounted last
declare -A DPID     # daemon name -> pid
declare -A DARGS    # daemon name -> "prog args..."
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }
fail() {
	printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

cleanup() {
	local rc=$?
	set +e
	# writers that run until $T/stop exists (start_appenders) end on their
	# own even when the test failed before it stopped them
	[ -d "$T" ] && touch "$T/stop"
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do ours "$p" && kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do ours "$p" || break; sleep 0.1; done
		ours "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for n in "${NETNS[@]}"; do ip netns delete "$n" 2>/dev/null; done
	for m in "${TMPFS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	if grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T"/*.log >/dev/null 2>&1; then
		printf '[%s] FAIL: sanitizer report in daemon logs:\n' "$TEST_NAME" >&2
		grep -h -A30 -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T"/*.log | head -80 >&2
		rc=1
	fi
	if [ $rc -ne 0 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			printf '\n--- %s (last 40 lines) ---\n' "$(basename "$f")" >&2
			tail -n 40 "$f" >&2
		done
	fi
	# VARLOG_KEEP=DIR keeps a failed test's directory (logs, data) as DIR/NAME.PID
	if [ $rc -ne 0 ] && [ -n "${VARLOG_KEEP:-}" ] && mkdir -p "$VARLOG_KEEP" &&
		cp -a "$T" "$VARLOG_KEEP/$TEST_NAME.$$" 2>/dev/null; then
		printf '[%s] kept %s\n' "$TEST_NAME" "$VARLOG_KEEP/$TEST_NAME.$$" >&2
	fi
	rm -rf "$T"
	# the port locks' files, still locked by this shell (port_lock)
	for p in "${LOCKED_PORTS[@]}"; do rm -f "$PORT_LOCKS/$p"; done
	rmdir "$PORT_LOCKS" 2>/dev/null
	exit $rc
}
trap cleanup EXIT
# ours PID: true while PID is a process this test started (a child of its
# shell, a zombie included). PIDS keeps the PIDs of processes long gone
# (killed with -9, stopped and waited for); the kernel hands their numbers
# out again once its PIDs wrapped around (pid_max 32768: every 2.5 minutes
# at the suite's pace), so a bare kill of one may hit another test's daemon.
ours() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) } # after the command name, which may hold spaces
	set -- $s   # state, parent PID, ...
	[ "${2:-}" = "$$" ]
}
trap 'exit 130' INT TERM

# free_port: sets PORT to a TCP port on 127.0.0.1 that nobody uses, below the
# kernel's ephemeral range (32768..) so that no outgoing connection takes it
# between our pick and the daemon's bind, outside the quickstart range
# (9090..9200 and its metrics, 10090..10200), and never one this test
# already handed out. PORT + 1000 (where a daemon serves its metrics by
# default) is free and reserved too. Reserved across tests as well: the
# test holds a lock on PORT_LOCKS/PORT (flock, on a descriptor of its shell
# that its processes inherit) until it and they are gone, so a test running
# beside it (make check -j2) cannot pick the port between this pick and the
# daemon's bind, nor while a killed daemon waits to be restarted on it.
HANDED_PORTS=" "
port_taken() {
	case "$HANDED_PORTS" in *" $1 "*) return 0 ;; esac
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	ss -Htan "sport = :$1" 2>/dev/null | grep -q .
}
# port_lock PORT: true once this test holds PORT's lock; false when another
# test (or this one) does. Without a lock directory, true (as before locks).
# The cleanup removes the files of the locks it holds (and the directory
# once empty), so a lock counts only while its file is still the one at the
# path: a test that opened it before another removed it gets the lock on a
# file no longer there, and picks another port.
port_lock() {
	local fd f=$PORT_LOCKS/$1
	mkdir -p "$PORT_LOCKS" 2>/dev/null || return 0
	exec {fd}>>"$f" || return 1 # (the directory removed meanwhile: another port)
	if flock -n "$fd" &&
		[ "$(stat -c %i "$f" 2>/dev/null)" = "$(stat -L -c %i "/proc/$$/fd/$fd")" ]; then
		LOCKED_PORTS+=("$1")
		return 0
	fi
	exec {fd}>&-
	return 1
}
free_port() {
	local p
	while :; do
		p=$((10300 + RANDOM % 21000))
		port_taken "$p" && continue
		port_taken $((p + 1000)) && continue
		port_lock "$p" || continue
		port_lock $((p + 1000)) || continue
		# (bound by someone between the look and the lock)
		port_taken "$p" 2>/dev/null && continue
		HANDED_PORTS="$HANDED_PORTS$p $((p + 1000)) "
		PORT=$p
		return 0
	done
}

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND every 50 ms.
# With VARLOG_WAIT_LOG=FILE each wait appends "TEST<TAB>SECONDS TAKEN<TAB>
# LIMIT<TAB>DESCRIPTION" to FILE (to see how close a loaded run comes to
# the limits).
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit)) t0=$EPOCHREALTIME
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			wait_log "$t0" "$limit" "TIMEOUT $what"
			fail "timed out after ${limit}s waiting for: $what"
		fi
		sleep 0.05
	done
	wait_log "$t0" "$limit" "$what"
}
wait_log() {
	[ -n "${VARLOG_WAIT_LOG:-}" ] || return 0
	printf '%s\t%.2f\t%s\t%s\n' "$TEST_NAME" "$(awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
		"$2" "$3" >>"$VARLOG_WAIT_LOG"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# daemon NAME PROG ARGS...: starts a daemon with its log in $T/NAME.log.
daemon() {
	local name=$1
	shift
	DARGS[$name]="$*"
	"$BIN/$@" >>"$T/$name.log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
}

# restart NAME: starts a stopped daemon again with the same arguments.
restart() {
	local name=$1
	# shellcheck disable=SC2086
	"$BIN/"${DARGS[$name]} >>"$T/$name.log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
}

# kill9 NAME: kill -9 a daemon by its PID and reap it.
kill9() {
	local pid=${DPID[$1]}
	! ours "$pid" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

ctl() { "$BIN/varlogctl" --adm "$ADM" --mr "$MR" "$@"; }

# curve_keys: CURVE keys of a test cluster in $T/keys (varlogctl keygen):
# server (the daemons' listening sockets), daemon (what the daemons
# connect with), user (varlogctl and the mount); the public certificates
# of daemon and user in $T/keys/allow. Sets DAEMON_CURVE, the options that
# cluster and mr_group then give every daemon, and exports VARLOG_KEY and
# VARLOG_SERVER_KEY for the clients.
DAEMON_CURVE=()
curve_keys() {
	mkdir -p "$T/keys/allow"
	"$BIN/varlogctl" keygen --out "$T/keys" server daemon user >/dev/null || fail "varlogctl keygen failed"
	cp "$T/keys/daemon.key" "$T/keys/user.key" "$T/keys/allow/"
	DAEMON_CURVE=(--key "$T/keys/daemon.key_secret" --server-key "$T/keys/server.key_secret"
		--allow "$T/keys/allow")
	export VARLOG_KEY=$T/keys/user.key_secret VARLOG_SERVER_KEY=$T/keys/server.key
}

# cluster NSNS [SN ARGS...]: starts 1 MR (VARLOG_TEST_MRS replicas with
# mr_group, below), NSNS SNs and the admin on free ports; registers the
# SNs. Sets MR, MR_RAFT, ADM, SN_EP[i], SN_PORT[i].
SN_EP=()
SN_PORT=()
cluster() {
	local n=$1
	shift
	local mrp admp i
	if [ "${VARLOG_TEST_MRS:-1}" -gt 1 ]; then
		mr_group "$VARLOG_TEST_MRS"
	else
		free_port
		mrp=$PORT
		MR="tcp://127.0.0.1:$mrp"
		free_port # the MR's raft transport (its default, the port + 100, may be another test's)
		MR_RAFT="127.0.0.1:$PORT"
		mkdir -p "$T/mr"
		daemon mr varlogmr --listen "$MR" --raft-addr "$MR_RAFT" --data "$T/mr" --log-level info \
			"${DAEMON_CURVE[@]}"
		wait_for 10 "varlogmr listening on $mrp" port_open "$mrp"
	fi
	for i in $(seq "$n"); do
		free_port
		SN_PORT[$i]=$PORT
		SN_EP[$i]="tcp://127.0.0.1:${SN_PORT[$i]}"
		mkdir -p "$T/sn$i"
		daemon "sn$i" varlogsn --listen "${SN_EP[$i]}" --data "$T/sn$i" --mr "$MR" "${DAEMON_CURVE[@]}" "$@"
	done
	free_port
	admp=$PORT
	ADM="tcp://127.0.0.1:$admp"
	daemon adm varlogadm --listen "$ADM" --mr "$MR" "${DAEMON_CURVE[@]}"
	wait_for 10 "varlogadm listening on $admp" port_open "$admp"
	for i in $(seq "$n"); do
		wait_for 10 "sn$i listening" port_open "${SN_PORT[$i]}"
		ctl sn add "${SN_EP[$i]}" >/dev/null || fail "sn add ${SN_EP[$i]}"
	done
	export VARLOG_MR=$MR VARLOG_ADM=$ADM
}

# check_dense FILE FIRST LAST: FILE holds "GLSN<TAB>data" lines; the GLSNs
# must be exactly FIRST..LAST in order.
check_dense() {
	local f=$1 first=$2 last=$3
	awk -F'\t' -v first="$first" -v last="$last" '
		{ if ($1 != first + NR - 1) { printf "GLSN %s at line %d, expected %d\n", $1, NR, first + NR - 1; bad = 1; exit 1 } }
		END { if (!bad && NR != last - first + 1) { printf "%d entries, expected %d\n", NR, last - first + 1; exit 1 } }' "$f"
}

# kov_up [ARGS...]: a varlogkov gateway (daemon "kov") on a free port of
# this cluster, with ARGS added; sets KOV_PORT and B (its bootstrap address,
# 127.0.0.1:KOV_PORT) and waits until it listens.
kov_up() {
	free_port
	KOV_PORT=$PORT
	B=127.0.0.1:$KOV_PORT
	daemon kov varlogkov --listen "$B" --mr "$MR" "$@"
	wait_for 10 "varlogkov listening on $KOV_PORT" port_open "$KOV_PORT"
}

# mount_fs DIR [OPTIONS...]: mounts varlogfs of the test cluster at DIR (in
# the foreground process, log in $T/fs-NAME.log); waits until it serves.
declare -A FSPID
mount_fs() {
	local dir=$1 name
	shift
	name=fs-$(basename "$dir")
	mkdir -p "$dir"
	"$BIN/varlogfs" -f --mr="$MR" "$@" "$dir" >>"$T/$name.log" 2>&1 &
	FSPID[$dir]=$!
	PIDS+=($!)
	MOUNTS+=("$dir")
	wait_for 10 "varlogfs mounted at $dir" test -d "$dir/.follow"
}

# umount_fs DIR: unmounts and waits for the daemon to exit.
umount_fs() {
	fusermount3 -u "$1" || fail "fusermount3 -u $1 failed"
	wait "${FSPID[$1]}" 2>/dev/null || true
}

# lines_ge FILE N: true when FILE has at least N lines (for wait_for, which
# must re-evaluate the count on every poll).
lines_ge() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

# ls_in_line TOPIC: true when `varlogctl ls list TOPIC` answers and shows no
# log stream SEALED or SEALING (`! ctl ls list | grep -q SEALED` is also
# true when varlogctl fails: a wait for it then ended at the first time-out)
ls_in_line() {
	local out
	out=$(ctl ls list "$1") && ! grep -q -E 'SEALED|SEALING' <<<"$out"
}

# ---- a metadata repository of several replicas ------------------------------
# mr_group N: starts an MR raft group of N replicas on free client and raft
# ports: replica i is MR_NAME[i] (mr, then mr2 .. mrN, so that a test that
# names "mr" finds replica 1), data in $T/NAME, log in $T/NAME.log, started
# with the same --peers at every start. Sets MR (every client endpoint,
# comma-separated, as users are given it), MR_EP[i], MR_PORT[i] and MR_RAFT
# (replica 1's raft address). Waits until each listens and one leads.
# cluster starts one replica alone, as before, or VARLOG_TEST_MRS of them.
MR_NAME=()
MR_EP=()
MR_PORT=()
mr_group() {
	local n=$1 i peers='' raft=()
	MR=
	for i in $(seq "$n"); do
		MR_NAME[$i]=mr$i
		[ "$i" -gt 1 ] || MR_NAME[$i]=mr
		free_port
		MR_PORT[$i]=$PORT
		MR_EP[$i]="tcp://127.0.0.1:$PORT"
		free_port
		raft[$i]="127.0.0.1:$PORT"
		MR="$MR${MR:+,}${MR_EP[$i]}"
		peers="$peers${peers:+,}$i@${raft[$i]}@${MR_EP[$i]}"
	done
	MR_RAFT=${raft[1]}
	for i in $(seq "$n"); do
		mkdir -p "$T/${MR_NAME[$i]}"
		daemon "${MR_NAME[$i]}" varlogmr --listen "${MR_EP[$i]}" --data "$T/${MR_NAME[$i]}" \
			--raft-id "$i" --raft-addr "${raft[$i]}" --peers "$peers" --log-level info "${DAEMON_CURVE[@]}"
	done
	for i in $(seq "$n"); do
		wait_for 10 "${MR_NAME[$i]} listening on ${MR_PORT[$i]}" port_open "${MR_PORT[$i]}"
	done
	wait_for 20 "an MR replica to take leadership" mr_leader
}

# mr_role NAME: "leader" when replica NAME's log says it leads since its
# last start ("leading in term T", not followed by "no longer leading"),
# else "follower".
mr_role() {
	local last
	last=$(grep -E 'varlogmr: listening on |mr: leading in term |mr: no longer leading' \
		"$T/$1.log" 2>/dev/null | tail -n 1) || true
	case "$last" in *"mr: leading in term "*) echo leader ;; *) echo follower ;; esac
}

# mr_names: the daemon names of the MR replicas ("mr", or mr mr2 .. mrN
# after mr_group), for a test that stops or restarts every daemon.
mr_names() {
	if [ "${#MR_NAME[@]}" -gt 0 ]; then echo "${MR_NAME[@]}"; else echo mr; fi
}

# mr_leader: prints the name of the live replica that leads; fails when
# none does (an election is under way).
mr_leader() {
	local i
	for i in "${!MR_NAME[@]}"; do
		kill -0 "${DPID[${MR_NAME[$i]}]}" 2>/dev/null || continue
		[ "$(mr_role "${MR_NAME[$i]}")" = leader ] && echo "${MR_NAME[$i]}" && return 0
	done
	return 1
}

# ---- appenders that record every acknowledgement ------------------------------
# start_appenders TOPIC N: N `varlogctl append` processes write wW-1, wW-2,
# ... to TOPIC, a line every 10 ms, until $T/stop exists; $T/ackW.txt gets
# "TIME<TAB>GLSN" for each acknowledgement (its line i acknowledges input
# line i), $T/appendW.err the errors, $T/rcW the exit status; APP[W] is the
# subshell's PID. acks prints how many acknowledgements came so far.
# APPEND_ON: a command prefix the appenders run under (netns.sh's
# `on HOST`), empty by default.
APP=()
APPEND_ON=()
start_appenders() {
	local topic=$1 n=$2 w
	local stamp='$|=1; use Time::HiRes qw(time); while (<STDIN>) { printf "%.3f\t%s", time, $_ }'
	for w in $(seq "$n"); do
		(
			set +e
			perl -e '$|=1; for (my $i = 1; ! -e "'"$T/stop"'"; $i++) { print "w'"$w"'-$i\n"; select(undef, undef, undef, 0.01) }' |
				"${APPEND_ON[@]}" "$BIN/varlogctl" --mr "$MR" --timeout 8000 append "$topic" -v --batch 32 2>"$T/append$w.err" |
				perl -e "$stamp" >"$T/ack$w.txt"
			echo "${PIPESTATUS[1]}" >"$T/rc$w"
		) &
		APP[$w]=$!
		PIDS+=($!)
	done
}
acks() { cat "$T"/ack*.txt | wc -l; }
acks_ge() { [ "$(acks)" -ge "$1" ]; }

# check_appenders TOPIC N: once the N appenders of start_appenders ended,
# reads TOPIC back into $T/after.out ("GLSN<TAB>data", checked dense) and
# checks that each appender's entries were committed in input order. Sets
# HWM (entries in the log), ACKED, PRESENT (acknowledged entries found at
# the GLSN they were acknowledged with, with their bytes), DUP (entries in
# the log twice) and LOST; the caller decides what fails.
check_appenders() {
	local topic=$1 n=$2 w
	ctl subscribe "$topic" --glsn >"$T/after.out" || fail "subscribe $topic failed"
	HWM=$(wc -l <"$T/after.out")
	check_dense "$T/after.out" 1 "$HWM" || fail "the log is not dense"
	: >"$T/told.txt"
	for w in $(seq "$n"); do
		awk -F'\t' -v w="$w" '{ printf "%s\tw%d-%d\n", $2, w, NR }' "$T/ack$w.txt" >>"$T/told.txt"
		awk -F'\t' 'NR > 1 && $2 + 0 <= prev { print "appender order broken at line " NR; exit 1 } { prev = $2 + 0 }' \
			"$T/ack$w.txt" || fail "appender $w: entries not committed in input order"
	done
	ACKED=$(wc -l <"$T/told.txt")
	PRESENT=$(awk -F'\t' 'NR == FNR { have[$1] = $2; next } ($1 in have) && have[$1] == $2 { n++ } END { print n + 0 }' \
		"$T/after.out" "$T/told.txt")
	DUP=$(cut -f2 "$T/after.out" | sort | uniq -d | wc -l)
	LOST=$((ACKED - PRESENT))
}
