# netns.sh - hosts of their own for the integration tests (sourced after
# tests/integration/lib.sh, as root).
#
# Each "host" is a network namespace with one interface, eth0, on a bridge
# that lives in a namespace of its own (the switch), and its own address
# 10.77.0.N/24; the switch's port of a host can be taken down and up to cut
# and heal that host's link. Nothing is made in the machine's own
# namespace, so addresses and ports cannot collide with anything else: a
# daemon listens on its host's address and a fixed port. Processes enter a
# host's network namespace only (nsenter --net, not `ip netns exec`, which
# would also give them a mount namespace of their own and hide a FUSE
# mount). lib.sh's cleanup deletes the namespaces after it stopped every
# process.

NET_ID=vl$$
NET_SW=$NET_ID-sw
declare -A HOST_ADDR # host name -> address
declare -A HOST_PORT # host name -> its interface on the switch
NET_N=0

# net_skip_unless_root: exit 77 (skip) where namespaces cannot be made.
net_skip_unless_root() {
	if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NET_ID-probe" 2>/dev/null; then
		log "skipped: network namespaces need root and iproute2"
		exit 77
	fi
	ip netns delete "$NET_ID-probe"
}

# net_switch: the bridge every host is plugged into.
net_switch() {
	ip netns add "$NET_SW" || fail "cannot make network namespace $NET_SW"
	NETNS+=("$NET_SW")
	ip -n "$NET_SW" link add br0 type bridge || fail "cannot make the bridge"
	ip -n "$NET_SW" link set br0 up
	ip -n "$NET_SW" link set lo up
}

# net_host NAME: a host on the switch; sets HOST_ADDR[NAME].
net_host() {
	local name=$1 ns=$NET_ID-$1
	NET_N=$((NET_N + 1))
	ip netns add "$ns" || fail "cannot make network namespace $ns"
	NETNS+=("$ns")
	# both ends made in the switch's namespace, one moved into the host's:
	# no interface ever exists in the machine's own namespace
	ip -n "$NET_SW" link add "p$NET_N" type veth peer name eth0 netns "$ns" ||
		fail "cannot make the link of host $name"
	ip -n "$NET_SW" link set "p$NET_N" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.77.0.$NET_N/24" dev eth0
	ip -n "$ns" link set eth0 up
	HOST_ADDR[$name]=10.77.0.$NET_N
	HOST_PORT[$name]=p$NET_N
}

# on HOST CMD...: runs CMD in HOST's network namespace (exec: same PID).
on() {
	local ns=$NET_ID-$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# net_daemon NAME HOST PROG ARGS...: lib.sh's daemon, on HOST.
net_daemon() {
	local name=$1 host=$2
	shift 2
	DARGS[$name]="$host $*"
	nsenter --net="/run/netns/$NET_ID-$host" -- "$BIN/$@" >>"$T/$name.log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
}

# net_restart NAME: starts a stopped net_daemon again with the same arguments.
net_restart() {
	local name=$1 host
	read -r host _ <<<"${DARGS[$name]}"
	# shellcheck disable=SC2086
	nsenter --net="/run/netns/$NET_ID-$host" -- "$BIN/"${DARGS[$name]#* } >>"$T/$name.log" 2>&1 &
	DPID[$name]=$!
	PIDS+=($!)
}

# net_open HOST ADDR PORT: true when something on HOST reaches ADDR:PORT.
net_open() { on "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }

# net_cut HOST / net_heal HOST: takes HOST's link down / up (at the switch:
# the host still sees its own interface up, as with a pulled cable
# elsewhere on the path).
net_cut() { ip -n "$NET_SW" link set "${HOST_PORT[$1]}" down; }
net_heal() { ip -n "$NET_SW" link set "${HOST_PORT[$1]}" up; }

# net_block A B / net_unblock A B: cuts / heals only the path between hosts
# A and B (a blackhole route to the other's address on each side: packets
# are dropped silently, as on a broken path), leaving both hosts' other
# links alone: an SN cut off from the MR but not from its clients.
net_block() {
	ip -n "$NET_ID-$1" route add blackhole "${HOST_ADDR[$2]}/32"
	ip -n "$NET_ID-$2" route add blackhole "${HOST_ADDR[$1]}/32"
}
net_unblock() {
	ip -n "$NET_ID-$1" route del blackhole "${HOST_ADDR[$2]}/32"
	ip -n "$NET_ID-$2" route del blackhole "${HOST_ADDR[$1]}/32"
}
