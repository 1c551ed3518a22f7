#!/usr/bin/env bash
# tests/cluster/testbed.sh: a two-node tandem cluster on one machine.
#
#   testbed.sh [-b BUILD_DIR] [-s STATE_DIR] COMMAND [ARGS...]
#
# Network namespaces (names "<prefix><id>-<role>", unique per testbed):
#   sw      bridges br0 (portal + corosync ring0) and br1 (replication + ring1)
#   A       node A: eth0 192.0.2.1/24 on br0, eth1 198.51.100.1/24 on br1
#           (shaped like 10GbE: netem delay 50us rate 10gbit, or tbf rate 10gbit
#           where the kernel has no netem)
#   B       node B: eth0 192.0.2.2/24, eth1 198.51.100.2/24
#   client  eth0 192.0.2.50/24 on br0: reaches both nodes and the floating IP 192.0.2.100
# Each node has a "holder" process that owns the node's private mount namespace
# (its own /etc/corosync, /run, /var/lib/corosync, /var/log/corosync, /dev/shm);
# corosync and tandemd run in the node's network + mount namespace.
#
# Commands (see tests/cluster/README.md):
#   up | down [--keep-logs] | status [--json] | exec A|B|client CMD... |
#   kill NODE [tandemd|corosync] | crash NODE | start NODE | stop NODE [tandemd] |
#   cut repl|cluster|all | heal |
#   env (prints the state as shell assignments) | logs NODE
#
# Environment: TB_BUILD (default <repo>/build), TB_STATE (default
# /tmp/tandem-testbed), TB_PREFIX (tdm), TB_LUN_SIZE (1G), TB_LOG_LEVEL (info),
# TB_CLUSTER (auto|yes|no: run tandem's cluster manager; auto = when the build has
# it), TB_EXTRA_GLOBAL / TB_EXTRA_CLUSTER / TB_EXTRA_REPL / TB_EXTRA_CONF (raw
# lines added to the global, cluster, replication section / the end of each config),
# QDEVICE=1 (a qdevice tie-breaker instead of two_node + fence command: namespace
# "qnet" 192.0.2.10 on br0 runs corosync-qnetd, each node corosync-qdevice,
# tandemd has fencing: qdevice; installs corosync-qnetd/-qdevice if missing).
# Every process is started and stopped by PID; nothing is killed by name.
set -euo pipefail

TB_SELF=$(readlink -f "${BASH_SOURCE[0]}")
TB_DIR=$(dirname "$TB_SELF")
TB_REPO=$(cd "$TB_DIR/../.." && pwd)

usage() {
	sed -n '2,30p' "$TB_SELF" | sed 's/^# \{0,1\}//'
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-b) TB_BUILD=$2; shift 2 ;;
	-s) TB_STATE=$2; shift 2 ;;
	-h|--help) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
CMD=$1; shift

TB_STATE=${TB_STATE:-/tmp/tandem-testbed}
case $TB_STATE in /*) ;; *) TB_STATE=$(pwd)/$TB_STATE ;; esac
TB_PREFIX=${TB_PREFIX:-tdm}
TB_LUN_SIZE=${TB_LUN_SIZE:-1G}
TB_LOG_LEVEL=${TB_LOG_LEVEL:-info}
TB_IQN=iqn.2026-11.org.tandem:testbed
TB_FLOAT=192.0.2.100
TB_SECRET="testbed-replication-secret"
NODES="A B"
declare -A ADDR=([A]=192.0.2.1 [B]=192.0.2.2 [client]=192.0.2.50 [qnet]=192.0.2.10)
declare -A RADDR=([A]=198.51.100.1 [B]=198.51.100.2)
declare -A NODEID=([A]=1 [B]=2)
declare -A NAME=([A]=a [B]=b)
declare -A OTHER=([A]=B [B]=A)

die() { echo "testbed: $*" >&2; exit 1; }
say() { echo "testbed: $*" >&2; }

# ------------------------------------------------------------------ state
state_load() {
	[ -f "$TB_STATE/env" ] || die "no testbed in $TB_STATE (run: testbed.sh up)"
	# shellcheck disable=SC1091
	. "$TB_STATE/env"
}
ns() { # role -> namespace name
	case $1 in
	A|a) echo "$NS_A" ;; B|b) echo "$NS_B" ;;
	client|C|c) echo "$NS_C" ;; sw) echo "$NS_SW" ;; qnet) echo "${NS_Q:?no qnet namespace (QDEVICE=1 up)}" ;;
	*) die "unknown node '$1' (A, B or client)" ;;
	esac
}
node_arg() { # normalise a node argument to A|B
	case $1 in A|a) echo A ;; B|b) echo B ;; *) die "unknown node '$1' (A or B)" ;; esac
}
# A pid file holds "PID STARTTIME" (/proc/PID/stat field 22): with pid_max
# 32768 a dead process's PID soon belongs to another, and only the start time
# tells them apart. A file with a PID alone (the OCF agent's) is taken by PID.
proc_start() { # PID -> its start time, or empty
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields after "(comm)"
	set -- $s
	echo "${20:-}"
}
pidfile_write() { echo "$2 $(proc_start "$2")" >"$1"; }   # FILE PID
pid_of() { # NODE what -> live pid or empty
	local f="$TB_STATE/$1/$2.pid" p= st= s
	[ -f "$f" ] || return 0
	read -r p st <"$f" || [ -n "$p" ] || return 0
	[ -n "$p" ] || return 0
	s=$(cat "/proc/$p/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	[ "$1" != Z ] || return 0
	[ -z "$st" ] || [ "$st" = "${20:-}" ] || return 0
	echo "$p"
}
alive() { [ -n "$(pid_of "$1" "$2")" ]; }
# ns_exec NODE CMD...: run in the node's network and mount namespace (holder).
ns_exec() {
	local node=$1; shift
	local h
	h=$(pid_of "$node" holder)
	[ -n "$h" ] || die "node $node is down (no namespace holder); testbed.sh start $node"
	nsenter -t "$h" -m -n -- env PATH="$TB_STATE/bin:$PATH" "$@"
}
netexec() { local n; n=$(ns "$1"); shift; ip netns exec "$n" "$@"; }

wait_for() { # seconds description cmd...
	local secs=$1 what=$2 i; shift 2
	for i in $(seq 1 $((secs * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	say "timed out after ${secs}s waiting for $what"
	return 1
}

# kill_pid PID [grace-seconds]: TERM (or KILL when grace is 0), wait, KILL.
kill_pid() {
	local p=$1 grace=${2:-5} i
	[ -n "$p" ] || return 0
	if [ "$grace" = 0 ]; then kill -KILL "$p" 2>/dev/null || true
	else kill -TERM "$p" 2>/dev/null || true; fi
	for i in $(seq 1 $(( (grace > 0 ? grace : 1) * 10 ))); do
		[ -d "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	for i in $(seq 1 50); do [ -d "/proc/$p" ] || return 0; sleep 0.1; done
}

# ------------------------------------------------------------------ configs
write_corosync_conf() { # NODE
	local n=$1 d="$TB_STATE/$1"
	cat >"$d/etc/corosync.conf" <<EOF
# generated by tests/cluster/testbed.sh for node $n
totem {
    version: 2
    cluster_name: $TB_ID
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 1000
}
nodelist {
    node {
        ring0_addr: ${ADDR[A]}
        ring1_addr: ${RADDR[A]}
        name: ${NAME[A]}
        nodeid: ${NODEID[A]}
    }
    node {
        ring0_addr: ${ADDR[B]}
        ring1_addr: ${RADDR[B]}
        name: ${NAME[B]}
        nodeid: ${NODEID[B]}
    }
}
$(quorum_conf)
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_stderr: no
    to_syslog: no
    timestamp: on
}
EOF
}

quorum_conf() {
	if [ "${TB_QDEVICE:-0}" = 1 ]; then
		# qdevice replaces two_node: expected votes 3 (2 nodes + the qnetd vote);
		# ffsplit gives the vote to one half of an even split (lowest node id).
		# timeout 2000 (default 10000): qnetd's dead peer detection of a crashed
		# node's qdevice takes 1.5 x 0.8 x timeout (2.4 s instead of 12 s), and
		# ffsplit decides a crash only once the dead client is gone.
		cat <<EOF2
quorum {
    provider: corosync_votequorum
    device {
        model: net
        votes: 1
        timeout: 2000
        sync_timeout: 5000
        net {
            host: ${ADDR[qnet]}
            algorithm: ffsplit
            tie_breaker: lowest
            tls: off
        }
    }
}
EOF2
	else
		cat <<EOF2
quorum {
    provider: corosync_votequorum
    two_node: 1
}
EOF2
	fi
}

# The tandemd config of a node.
# With the cluster manager (TB_CLUSTER_ON=1): docs/PORTALS.md layout (a): the
# target is exported only through the floating portal 192.0.2.100:3260 (same
# tag, port id and ALUA group "float" on both nodes); the built-in manager moves
# the address and the ALUA state; fencing by command: tb-fence powers the peer
# off like `testbed.sh crash` (an out-of-band power switch).
# Without it (an older build, or TB_CLUSTER=no): each node exports the target on
# its own address; node A's group is Active/Optimized, B's Standby (static).
write_tandem_conf() { # NODE
	local n=$1 o=${OTHER[$1]} d="$TB_STATE/$1"
	local me=${NAME[$n]} peer=${NAME[$o]}
	mkdir -p "$d/state"
	{
		echo "# generated by tests/cluster/testbed.sh for node $n ($me)"
		echo "global {"
		echo "    log_level: $TB_LOG_LEVEL"
		echo "    threads: 2"
		echo "    nop_interval: 5"
		echo "    nop_timeout: 10"
		echo "    state_dir: $d/state"
		[ -z "${TB_EXTRA_GLOBAL:-}" ] || printf '%s\n' "$TB_EXTRA_GLOBAL"
		echo "}"
		if [ "${TB_CLUSTER_ON:-1}" = 1 ]; then
			echo "alua_group float {"
			echo "    id: 1"
			echo "    state: standby"
			echo "}"
			echo "portal_group float {"
			echo "    tag: 1"
			echo "    rel_port_id: 1"
			echo "    listen: $TB_FLOAT:3260"
			echo "    alua_group: float"
			echo "}"
			echo "cluster {"
			echo "    manager: builtin"
			echo "    node: $me"
			echo "    peer: $peer"
			echo "    floating_ip: $TB_FLOAT/24"
			echo "    interface: eth0"
			echo "    alua_group: float"
			echo "    fencing: ${TB_FENCING:-command}"
			[ "${TB_FENCING:-command}" != command ] || echo "    fence_command: \"$TB_STATE/bin/tb-fence\""
			echo "    fence_timeout_ms: 20000"
			[ -z "${TB_EXTRA_CLUSTER:-}" ] || printf '%s\n' "$TB_EXTRA_CLUSTER"
			echo "}"
		else
			local myport peerport sme speer
			if [ "$n" = A ]; then myport=1 peerport=17 sme=active-optimized speer=standby
			else myport=17 peerport=1 sme=standby speer=active-optimized; fi
			echo "alua_group node-$me {"
			echo "    id: ${NODEID[$n]}"
			echo "    state: $sme"
			echo "}"
			echo "alua_group node-$peer {"
			echo "    id: ${NODEID[$o]}"
			echo "    state: $speer"
			echo "    peer_port: $peerport"
			echo "}"
			echo "portal_group node {"
			echo "    tag: $myport"
			echo "    listen: ${ADDR[$n]}:3260"
			echo "    alua_group: node-$me"
			echo "}"
		fi
		if [ "${TB_REPL_ON:-1}" = 1 ]; then
			echo "replication {"
			echo "    node: $me"
			echo "    listen: ${RADDR[$n]}:7789"
			echo "    peer: ${RADDR[$o]}:7789"
			echo "    peer_name: $peer"
			echo "    secret: \"$TB_SECRET\""
			[ -z "${TB_EXTRA_REPL:-}" ] || printf '%s\n' "$TB_EXTRA_REPL"
			echo "}"
		fi
		echo "target $TB_IQN {"
		echo "    alias: testbed"
		if [ "${TB_CLUSTER_ON:-1}" = 1 ]; then echo "    portal_group: float"; fi
		echo "    lun 0 {"
		echo "        backend: blockio"
		echo "        path: $d/lun0.img"
		echo "        size: $TB_LUN_SIZE"
		echo "        cache: ${TB_CACHE:-write-through}"
		if [ "${TB_REPL_ON:-1}" = 1 ]; then echo "        replicated: yes"; fi
		echo "        serial: testbed-lun0"
		echo "        naa: 6001405000000000000000000000b001"
		echo "    }"
		echo "}"
		[ -z "${TB_EXTRA_CONF:-}" ] || printf '%s\n' "$TB_EXTRA_CONF"
	} >"$d/tandem.conf"
}

# Generate NODE's config; leave out what this build does not know yet (the
# cluster section, the replication section) with a warning (TB_CLUSTER=yes /
# TB_REPL=yes make that an error).
gen_tandem_conf() { # NODE
	local n=$1 d="$TB_STATE/$1"
	[ "${TB_CLUSTER:-auto}" != no ] || TB_CLUSTER_ON=0
	[ "${TB_REPL:-auto}" != no ] || TB_REPL_ON=0
	for _ in 1 2 3; do
		write_tandem_conf "$n"
		"$TB_STATE/bin/tandemd" --check -c "$d/tandem.conf" >"$d/check.log" 2>&1 && return 0
		if grep -q "unknown section 'cluster'" "$d/check.log" && [ "${TB_CLUSTER:-auto}" = auto ] && [ "${TB_CLUSTER_ON:-1}" = 1 ]; then
			say "this tandemd has no cluster manager: static roles (A serves on ${ADDR[A]}, B stands by)"
			TB_CLUSTER_ON=0
		elif grep -q "unknown section 'replication'" "$d/check.log" && [ "${TB_REPL:-auto}" = auto ] && [ "${TB_REPL_ON:-1}" = 1 ]; then
			say "this tandemd has no replication: the nodes run unreplicated"
			TB_REPL_ON=0
		else
			break
		fi
	done
	cat "$d/check.log" >&2
	die "config of node $n rejected ($d/tandem.conf)"
}

# ------------------------------------------------------------------ node processes
start_holder() { # NODE
	local n=$1 d="$TB_STATE/$1"
	alive "$n" holder && return 0
	# A fresh mount namespace is a freshly booted machine: empty /run and /dev/shm.
	rm -rf "$d/run" && mkdir -p "$d/run"
	cat >"$d/holder.sh" <<EOF
set -e
s=\$(cat /proc/\$\$/stat); s=\${s##*) }; set -- \$s; echo "\$\$ \${20}" >"$d/holder.pid.tmp"
mount --bind "$d/etc" /etc/corosync
mount --bind "$d/lib" /var/lib/corosync
mount --bind "$d/log" /var/log/corosync
# keep the host's /run/netns visible under the node's own /run, so that the
# fence command (tb-fence, run by tandemd in here) can reach the peer's namespace
mkdir -p "$d/run/netns"
mount --rbind /run/netns "$d/run/netns"
mount --rbind "$d/run" /run
mount -t tmpfs -o size=256m tmpfs /dev/shm
mv "$d/holder.pid.tmp" "$d/holder.pid"
exec sleep infinity
EOF
	rm -f "$d/holder.pid" "$d/holder.pid.tmp"
	setsid ip netns exec "$(ns "$n")" unshare -m --propagation private bash "$d/holder.sh" \
		</dev/null >"$d/holder.log" 2>&1 &
	wait_for 10 "node $n namespace holder" test -s "$d/holder.pid" || { cat "$d/holder.log" >&2; return 1; }
}

start_corosync() { # NODE
	local n=$1 d="$TB_STATE/$1" p
	alive "$n" corosync && return 0
	start_holder "$n"
	p=$(pid_of "$n" holder)
	setsid nsenter -t "$p" -m -n -- corosync -f </dev/null >>"$d/corosync.out" 2>&1 &
	pidfile_write "$d/corosync.pid" $!
	# ready when its CMAP answers
	wait_for 15 "corosync on node $n" ns_exec "$n" corosync-cmapctl -g totem.cluster_name || {
		tail -n 20 "$d/corosync.out" "$d/log/corosync.log" >&2 2>/dev/null || true
		return 1
	}
}

# corosync-qdevice (QDEVICE=1): after corosync, in the node's network + mount
# namespace (its lock file and socket are under the node's own /run).
start_qdevice() { # NODE
	local n=$1 d="$TB_STATE/$1" p
	[ "${TB_QDEVICE:-0}" = 1 ] || return 0
	alive "$n" qdevice && return 0
	p=$(pid_of "$n" holder)
	mkdir -p "$d/run/corosync-qdevice"
	setsid nsenter -t "$p" -m -n -- corosync-qdevice -f -d </dev/null >>"$d/qdevice.log" 2>&1 &
	pidfile_write "$d/qdevice.pid" $!
	wait_for 10 "corosync-qdevice on node $n" ns_exec "$n" corosync-qdevice-tool -s || {
		tail -n 20 "$d/qdevice.log" >&2 2>/dev/null || true
		return 1
	}
}

# corosync-qnetd (QDEVICE=1) in the qnet namespace, TLS off (no NSS database),
# its lock file and socket in STATE.
start_qnetd() {
	local d="$TB_STATE/qnet"
	mkdir -p "$d"
	[ -z "$(pid_of qnet qnetd)" ] || return 0
	setsid ip netns exec "$NS_Q" corosync-qnetd -f -4 -s off -l "${ADDR[qnet]}" \
		-S "lock_file=$d/qnetd.lock,local_socket_file=$d/qnetd.sock" </dev/null >>"$d/qnetd.log" 2>&1 &
	pidfile_write "$d/qnetd.pid" $!
	wait_for 10 "corosync-qnetd" netexec qnet bash -c "exec 3<>/dev/tcp/${ADDR[qnet]}/5403" || {
		tail -n 20 "$d/qnetd.log" >&2 2>/dev/null || true
		return 1
	}
}

qdevice_install() {
	command -v corosync-qnetd >/dev/null && command -v corosync-qdevice >/dev/null && return 0
	say "installing corosync-qnetd and corosync-qdevice"
	DEBIAN_FRONTEND=noninteractive apt-get -qq install -y corosync-qnetd corosync-qdevice >/dev/null 2>&1 \
		|| { apt-get -qq update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y corosync-qnetd corosync-qdevice >/dev/null 2>&1; } \
		|| true
	command -v corosync-qnetd >/dev/null && command -v corosync-qdevice >/dev/null \
		|| die "QDEVICE=1: corosync-qnetd / corosync-qdevice not installed and apt-get could not install them"
}

tandemd_ready() { # NODE: the control socket answers
	ns_exec "$1" tandemctl status >/dev/null 2>&1
}

start_tandemd() { # NODE
	local n=$1 d="$TB_STATE/$1" p
	alive "$n" tandemd && return 0
	start_holder "$n"
	p=$(pid_of "$n" holder)
	echo "=== $(date '+%F %T') start" >>"$d/tandemd.log"
	setsid nsenter -t "$p" -m -n -- env ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}" \
		"$TB_STATE/bin/tandemd" -f -c "$d/tandem.conf" </dev/null >>"$d/tandemd.log" 2>&1 &
	pidfile_write "$d/tandemd.pid" $!
	for _ in $(seq 1 300); do
		tandemd_ready "$n" && return 0
		alive "$n" tandemd || break
		sleep 0.1
	done
	say "tandemd on node $n did not come up; log $d/tandemd.log:"
	tail -n 30 "$d/tandemd.log" >&2
	return 1
}

# create the replication metadata once per node (offline: tandemctl create-md -c CONF)
create_md() { # NODE
	local n=$1 d="$TB_STATE/$1"
	[ "${TB_REPL_ON:-1}" = 1 ] || return 0
	[ -f "$d/md.created" ] && return 0
	if ns_exec "$n" tandemctl create-md "$TB_IQN/0" --new-device -c "$d/tandem.conf" >>"$d/create-md.log" 2>&1; then
		touch "$d/md.created"
	else
		say "tandemctl create-md failed on node $n:"; cat "$d/create-md.log" >&2
		return 1
	fi
}

# ------------------------------------------------------------------ network
# The replication link is shaped like 10GbE: netem delay 50us rate 10gbit where
# the kernel has sch_netem, else tbf rate 10gbit (rate only).
shape_repl() { # NODE
	if [ "${TB_SHAPE:-}" = netem ]; then
		netexec "$1" tc qdisc replace dev eth1 root netem delay 50us rate 10gbit
	else
		netexec "$1" tc qdisc replace dev eth1 root tbf rate 10gbit burst 256kb latency 1ms
	fi
}
pick_shaper() {
	if netexec A tc qdisc replace dev eth1 root netem delay 50us rate 10gbit 2>/dev/null; then
		TB_SHAPE=netem
	else
		TB_SHAPE=tbf
	fi
	echo "TB_SHAPE=$TB_SHAPE" >>"$TB_STATE/env"
}
is_crashed() { [ -f "$TB_STATE/$1/crashed" ]; }

# Cuts happen in the switch namespace: an isolated bridge port forwards to no
# other isolated port. Frames vanish silently (no reset, no carrier loss).
# portal/cluster network br0: sA sB isolated (the client, on sC, still reaches both);
# replication network br1: rA rB isolated.
set_isolated() { # on|off PORT...
	local v=$1 p; shift
	for p in "$@"; do ip -n "$NS_SW" link set dev "$p" type bridge_slave isolated "$v"; done
}

build_network() {
	local n port
	ip netns add "$NS_SW"
	echo "$NS_SW" >>"$TB_STATE/netns.list"
	for n in A B client; do
		ip netns add "$(ns "$n")"
		ns "$n" >>"$TB_STATE/netns.list"
	done
	ip -n "$NS_SW" link set lo up
	for br in br0 br1; do
		ip -n "$NS_SW" link add "$br" type bridge stp_state 0 forward_delay 0
		ip -n "$NS_SW" link set "$br" up
	done
	# Veth pairs are created directly inside the namespaces: the host's own
	# interfaces are never touched and parallel testbeds cannot clash.
	for n in A B client; do
		port=s$n; [ "$n" = client ] && port=sC
		ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$(ns "$n")"
		ip -n "$NS_SW" link set "$port" master br0
		ip -n "$NS_SW" link set "$port" up
		ip -n "$(ns "$n")" addr add "${ADDR[$n]}/24" dev eth0
		ip -n "$(ns "$n")" link set eth0 up
		ip -n "$(ns "$n")" link set lo up
	done
	for n in A B; do
		ip -n "$NS_SW" link add "r$n" type veth peer name eth1 netns "$(ns "$n")"
		ip -n "$NS_SW" link set "r$n" master br1
		ip -n "$NS_SW" link set "r$n" up
		ip -n "$(ns "$n")" addr add "${RADDR[$n]}/24" dev eth1
		ip -n "$(ns "$n")" link set eth1 up
		# a portal may listen on the floating IP before it is here
		netexec "$n" sysctl -qw net.ipv4.ip_nonlocal_bind=1
	done
	if [ "${TB_QDEVICE:-0}" = 1 ]; then
		# the qnetd host: on br0 (the cluster network), never isolated by a cut,
		# so both halves of a partition still reach it
		ip netns add "$NS_Q"
		echo "$NS_Q" >>"$TB_STATE/netns.list"
		ip -n "$NS_SW" link add sQ type veth peer name eth0 netns "$NS_Q"
		ip -n "$NS_SW" link set sQ master br0
		ip -n "$NS_SW" link set sQ up
		ip -n "$NS_Q" addr add "${ADDR[qnet]}/24" dev eth0
		ip -n "$NS_Q" link set eth0 up
		ip -n "$NS_Q" link set lo up
	fi
	pick_shaper
	for n in A B; do shape_repl "$n"; done
}

# ------------------------------------------------------------------ up / down
cmd_up() {
	command -v corosync >/dev/null || die "corosync is not installed (apt-get install corosync)"
	[ "$(id -u)" -eq 0 ] || die "must run as root"
	case $TB_STATE in /run|/run/*|/var/run|/var/run/*)
		die "TB_STATE must not be under /run: each node mounts its own /run" ;;
	esac
	if [ -f "$TB_STATE/env" ]; then die "a testbed is already up in $TB_STATE (testbed.sh down first)"; fi
	TB_QDEVICE=0
	if [ "${QDEVICE:-0}" = 1 ]; then
		qdevice_install
		TB_QDEVICE=1
		TB_FENCING=${TB_FENCING:-qdevice}
	fi
	local build=${TB_BUILD:-$TB_REPO/build}
	build=$(cd "$build" 2>/dev/null && pwd) || die "no build dir ${TB_BUILD:-$TB_REPO/build}"
	[ -x "$build/daemon/tandemd" ] || die "no $build/daemon/tandemd (build first)"
	mkdir -p "$TB_STATE"
	local id
	id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	TB_ID=$TB_PREFIX$id
	NS_A=$TB_ID-A NS_B=$TB_ID-B NS_C=$TB_ID-client NS_SW=$TB_ID-sw NS_Q=
	[ "$TB_QDEVICE" = 0 ] || NS_Q=$TB_ID-qnet
	{
		echo "TB_QDEVICE=$TB_QDEVICE"
		echo "NS_Q=$NS_Q"
		echo "TB_QNET=${ADDR[qnet]}"
		echo "TB_ID=$TB_ID"
		echo "NS_A=$NS_A"; echo "NS_B=$NS_B"; echo "NS_C=$NS_C"; echo "NS_SW=$NS_SW"
		echo "TB_BUILD=$build"
		echo "TB_IQN=$TB_IQN"
		echo "TB_FLOAT=$TB_FLOAT"
		echo "URL_FLOAT=iscsi://$TB_FLOAT:3260/$TB_IQN/0"
		echo "URL_A=iscsi://${ADDR[A]}:3260/$TB_IQN/0"
		echo "URL_B=iscsi://${ADDR[B]}:3260/$TB_IQN/0"
	} >"$TB_STATE/env.tmp"
	: >"$TB_STATE/netns.list"
	mv "$TB_STATE/env.tmp" "$TB_STATE/env"
	trap 'rc=$?; if [ "$rc" -ne 0 ]; then say "up failed: cleaning up"; TB_KEEP_LOGS=1 cmd_down >&2 || true; fi' EXIT
	mkdir -p "$TB_STATE/bin"
	ln -sf "$build/daemon/tandemd" "$TB_STATE/bin/tandemd"
	ln -sf "$build/daemon/tandemctl" "$TB_STATE/bin/tandemctl"
	[ ! -x "$build/tests/tools/iocheck" ] || ln -sf "$build/tests/tools/iocheck" "$TB_STATE/bin/iocheck"
	write_fence_script
	build_network
	local n
	for n in $NODES; do
		mkdir -p "$TB_STATE/$n/etc" "$TB_STATE/$n/lib" "$TB_STATE/$n/log" "$TB_STATE/$n/run"
		write_corosync_conf "$n"
		gen_tandem_conf "$n"
		# a preallocated image: O_DIRECT writes must not allocate blocks
		fallocate -l "$TB_LUN_SIZE" "$TB_STATE/$n/lun0.img" 2>/dev/null \
			|| truncate -s "$TB_LUN_SIZE" "$TB_STATE/$n/lun0.img"
	done
	[ "$TB_QDEVICE" = 0 ] || start_qnetd
	for n in $NODES; do start_holder "$n"; start_corosync "$n"; done
	for n in $NODES; do start_qdevice "$n"; done
	wait_for 20 "corosync membership of both nodes" members_both A
	for n in $NODES; do create_md "$n"; done
	{
		echo "TB_CLUSTER_ON=${TB_CLUSTER_ON:-1}"
		echo "TB_REPL_ON=${TB_REPL_ON:-1}"
		if [ "${TB_CLUSTER_ON:-1}" = 1 ]; then echo "URL=iscsi://$TB_FLOAT:3260/$TB_IQN/0"
		else echo "URL=iscsi://${ADDR[A]}:3260/$TB_IQN/0,iscsi://${ADDR[B]}:3260/$TB_IQN/0"; fi
	} >>"$TB_STATE/env"
	for n in $NODES; do start_tandemd "$n"; done
	if [ "${TB_CLUSTER_ON:-1}" = 1 ]; then
		# the built-in manager promotes the lower node id once both are in sync
		wait_for 60 "a primary holding $TB_FLOAT" primary_serving || { cmd_status >&2 || true; return 1; }
	elif [ "${TB_REPL_ON:-1}" = 1 ]; then
		wait_for 60 "node A connected and UpToDate" repl_field_is A disk UpToDate
		ns_exec A tandemctl primary >/dev/null || ns_exec A tandemctl primary --force
	fi
	trap - EXIT
	say "up: $TB_ID (state $TB_STATE); portal $TB_FLOAT, nodes ${ADDR[A]} ${ADDR[B]}"
	echo "TB_STATE=$TB_STATE"
}

# repl_field_is NODE FIELD VALUE: lun 0's (or replication's) FIELD in status --json
repl_field_is() {
	[ "$(repl_field "$1" "$2")" = "$3" ]
}
repl_field() { # NODE FIELD
	ns_exec "$1" tandemctl --json status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d.get("replication") or {}
l = (r.get("luns") or [{}])[0]
v = l.get(sys.argv[1], r.get(sys.argv[1]))
print("true" if v is True else "false" if v is False else "" if v is None else v)' "$2" 2>/dev/null
}
# role NODE: primary | secondary | down (tandemd not answering)
role_of() {
	local r
	alive "$1" tandemd || { echo down; return; }
	r=$(repl_field "$1" role) || r=
	echo "${r:-unknown}"
}
# primary_serving: exactly one node is primary and holds the floating IP; the
# client reaches its portal.
primary_serving() {
	local n np=0 owner=
	for n in $NODES; do
		if [ "$(role_of "$n")" = primary ]; then np=$((np + 1)); owner=$n; fi
	done
	[ "$np" = 1 ] || return 1
	netexec "$owner" ip -4 -o addr show dev eth0 | grep -q " $TB_FLOAT/" || return 1
	netexec client timeout 2 bash -c "exec 3<>/dev/tcp/$TB_FLOAT/3260"
}

members_both() { # NODE: corosync on NODE sees two members (and the qdevice vote) and quorum
	local v=2
	[ "${TB_QDEVICE:-0}" = 0 ] || v=3
	ns_exec "$1" corosync-quorumtool -s 2>/dev/null | grep -Eq "^Total votes: +$v\$" || return 1
	ns_exec "$1" corosync-quorumtool -s 2>/dev/null | grep -Eq '^Quorate: +Yes'
}

cmd_down() {
	[ -f "$TB_STATE/env" ] || { say "nothing to take down in $TB_STATE"; return 0; }
	state_load
	local n p pids nsn
	# 1. tandemd (TERM, then KILL), corosync, holder: by recorded PID.
	for n in $NODES; do kill_pid "$(pid_of "$n" tandemd)" 10; done
	for n in $NODES; do kill_pid "$(pid_of "$n" qdevice)" 5; done
	for n in $NODES; do kill_pid "$(pid_of "$n" corosync)" 5; done
	for n in $NODES; do kill_pid "$(pid_of "$n" holder)" 0; done
	kill_pid "$(pid_of qnet qnetd)" 5
	# 2. anything else still living in our namespaces (a user's exec shell,
	#    an iocheck run): by PID, from the namespace's own process list.
	if [ -f "$TB_STATE/netns.list" ]; then
		while read -r nsn; do
			[ -n "$nsn" ] && [ -e "/run/netns/$nsn" ] || continue
			pids=$(ip netns pids "$nsn" 2>/dev/null || true)
			for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
		done <"$TB_STATE/netns.list"
		sleep 0.2
		while read -r nsn; do
			[ -n "$nsn" ] && [ -e "/run/netns/$nsn" ] || continue
			ip netns del "$nsn" 2>/dev/null || say "could not delete namespace $nsn"
		done <"$TB_STATE/netns.list"
	fi
	if [ "${TB_KEEP_LOGS:-0}" = 1 ] || [ "${1:-}" = --keep-logs ]; then
		rm -f "$TB_STATE"/*/lun0.img "$TB_STATE/env" "$TB_STATE/netns.list"
		rm -rf "$TB_STATE"/*/run "$TB_STATE"/*/lib
		say "down: $TB_ID (logs kept in $TB_STATE)"
	else
		rm -rf "$TB_STATE"
		say "down: $TB_ID"
	fi
}

# ------------------------------------------------------------------ fence
# An out-of-band power switch (like IPMI): tb-fence NODE_NAME powers that node
# off exactly like `testbed.sh crash`. Used as the cluster's fence command.
write_fence_script() {
	cat >"$TB_STATE/bin/tb-fence" <<EOF
#!/bin/sh
# tb-fence NODE: power the testbed node off (names: ${NAME[A]} / ${NAME[B]} / A / B).
# Exit 0 when the node is off.
node=\${1:-\${TANDEM_PEER:-}}
case \$node in ${NAME[A]}|A|1) node=A ;; ${NAME[B]}|B|2) node=B ;; *) echo "tb-fence: unknown node '\$node'" >&2; exit 2 ;; esac
echo "\$(date '+%F %T') fence \$node (by pid \$\$)" >>"$TB_STATE/fence.log"
TB_STATE="$TB_STATE" exec bash "$TB_SELF" crash "\$node" >>"$TB_STATE/fence.log" 2>&1
EOF
	chmod 755 "$TB_STATE/bin/tb-fence"
}

# ------------------------------------------------------------------ status
cmd_status() {
	state_load
	local json=0; [ "${1:-}" = --json ] && json=1
	local n
	if [ $json = 1 ]; then
		printf '{"id":"%s","state":"%s","nodes":{' "$TB_ID" "$TB_STATE"
		local first=1
		for n in $NODES; do
			[ $first = 1 ] || printf ','; first=0
			local st="null"
			if alive "$n" tandemd; then st=$(ns_exec "$n" tandemctl --json status 2>/dev/null || echo null); fi
			[ -n "$st" ] || st=null
			printf '"%s":{"holder":%s,"corosync":%s,"tandemd":%s,"crashed":%s,"floating_ip":%s,"tandemctl_status":%s}' \
				"$n" "$(alive "$n" holder && echo true || echo false)" \
				"$(alive "$n" corosync && echo true || echo false)" \
				"$(alive "$n" tandemd && echo true || echo false)" \
				"$(is_crashed "$n" && echo true || echo false)" \
				"$(netexec "$n" ip -4 -o addr show dev eth0 | grep -q " $TB_FLOAT/" && echo true || echo false)" \
				"$st"
		done
		printf '},"cuts":"%s"}\n' "$(cat "$TB_STATE/cuts" 2>/dev/null || true)"
		return 0
	fi
	echo "testbed $TB_ID  state $TB_STATE  build $TB_BUILD"
	echo "namespaces: $NS_A $NS_B $NS_C $NS_SW${NS_Q:+ $NS_Q}"
	if [ "${TB_QDEVICE:-0}" = 1 ]; then
		echo "qnetd ${TB_QNET:-}: pid $(pid_of qnet qnetd || true)$(alive qnet qnetd || echo ' [NOT RUNNING]')"
	fi
	echo "cuts: $(cat "$TB_STATE/cuts" 2>/dev/null || echo none)"
	for n in $NODES; do
		echo "--- node $n (${NAME[$n]}) ${ADDR[$n]} / ${RADDR[$n]}"
		printf '  holder %s  corosync %s%s  tandemd %s%s\n' \
			"$(pid_of "$n" holder || true)" "$(pid_of "$n" corosync || true)" \
			"$([ "${TB_QDEVICE:-0}" = 1 ] && echo "  qdevice $(pid_of "$n" qdevice || true)" || true)" "$(pid_of "$n" tandemd || true)" \
			"$(is_crashed "$n" && echo '  [CRASHED: links down]' || true)"
		printf '  addresses: %s\n' "$(netexec "$n" ip -4 -o addr show | awk '$2!="lo"{printf "%s:%s ", $2, $4}')"
		if alive "$n" corosync; then
			ns_exec "$n" corosync-quorumtool -s 2>&1 | grep -E 'Quorate|Total votes|Nodes:|Flags' | sed 's/^/  /' || true
		fi
		if alive "$n" tandemd; then
			ns_exec "$n" tandemctl --json status 2>/dev/null | python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except Exception: sys.exit(0)
r=d.get("replication")
if r:
    print("  replication: role=%s peer_role=%s" % (r.get("role"), r.get("peer_role")))
    for l in r.get("luns",[]):
        print("    %s %s/%s %s sync=%s%% oos=%sKiB" % (l.get("name"), l.get("disk"), l.get("peer_disk"), l.get("connection"), l.get("sync_percent"), l.get("out_of_sync_kib")))
c=d.get("cluster")
if c:
    dec=c.get("decision") or {}
    fo=c.get("failover") or {}
    print("  cluster: role=%s quorate=%s ip_owner=%s holds_ip=%s alua=%s fence=%s peer_lost=%s standby=%s" % (
        c.get("role"), c.get("quorate"), c.get("ip_owner"), c.get("holds_ip"), c.get("alua_state"),
        c.get("fence"), c.get("peer_lost"), c.get("standby")))
    print("    decision: %s (%s); failover: %s last=%s %sms" % (dec.get("action"), dec.get("reason"),
        fo.get("state"), fo.get("last_result"), fo.get("last_ms")))
a=d.get("alua_groups") or d.get("alua")
if a: print("  alua: " + json.dumps(a)[:300])
' 2>/dev/null || true
		fi
	done
}

# ------------------------------------------------------------------ faults
cmd_kill() { # SIGKILL of NODE's tandemd and corosync (or only one of them)
	state_load
	local n what=${2:-all}; n=$(node_arg "$1")
	case $what in
	all) kill_pid "$(pid_of "$n" tandemd)" 0; kill_pid "$(pid_of "$n" qdevice)" 0; kill_pid "$(pid_of "$n" corosync)" 0 ;;
	tandemd|corosync) kill_pid "$(pid_of "$n" "$what")" 0 ;;
	*) die "kill NODE [tandemd|corosync]" ;;
	esac
	say "killed $([ "$what" = all ] && echo "tandemd and corosync" || echo "$what") of node $n"
}

cmd_crash() { # power-off: links drop, every process SIGKILLed
	state_load
	local n nsn p; n=$(node_arg "$1")
	nsn=$(ns "$n")
	# First the links (like a powered-off NIC: the switch port loses carrier),
	# so that no FIN or RST from dying sockets leaves the node.
	echo crashed >"$TB_STATE/$n/crashed"
	ip -n "$nsn" link set eth0 down
	ip -n "$nsn" link set eth1 down
	for p in $(ip netns pids "$nsn" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	for p in "$(pid_of "$n" tandemd)" "$(pid_of "$n" qdevice)" "$(pid_of "$n" corosync)" "$(pid_of "$n" holder)"; do
		[ -z "$p" ] || kill_pid "$p" 0
	done
	say "crashed node $n (links down, every process SIGKILLed)"
}

cmd_stop() { # clean stop of NODE's tandemd (SIGTERM) and corosync, or of its tandemd only
	state_load
	local n what=${2:-all}; n=$(node_arg "$1")
	case $what in
	all|tandemd) ;;
	*) die "stop NODE [tandemd]" ;;
	esac
	kill_pid "$(pid_of "$n" tandemd)" 15
	if [ "$what" = tandemd ]; then
		say "stopped tandemd of node $n (corosync stays)"
		return
	fi
	kill_pid "$(pid_of "$n" qdevice)" 5
	kill_pid "$(pid_of "$n" corosync)" 10
	say "stopped node $n"
}

cmd_start() { # bring NODE back (after kill, crash or stop)
	state_load
	local n a nsn; n=$(node_arg "$1")
	nsn=$(ns "$n")
	if is_crashed "$n"; then
		# a rebooted machine: only its own addresses, links up
		ip -n "$nsn" -4 -o addr show dev eth0 | awk '{print $4}' | while read -r a; do
			[ "$a" = "${ADDR[$n]}/24" ] || ip -n "$nsn" addr del "$a" dev eth0 || true
		done
		ip -n "$nsn" link set eth0 up
		ip -n "$nsn" link set eth1 up
		shape_repl "$n"
		rm -f "$TB_STATE/$n/crashed"
	fi
	start_holder "$n"
	start_corosync "$n"
	start_qdevice "$n"
	start_tandemd "$n"
	say "started node $n"
}

cmd_cut() {
	state_load
	local what=${1:-} cuts
	cuts=$(cat "$TB_STATE/cuts" 2>/dev/null || true)
	case $what in
	repl) set_isolated on rA rB; cuts="$cuts repl" ;;
	cluster) set_isolated on sA sB; cuts="$cuts cluster" ;;
	all) set_isolated on rA rB sA sB; cuts="$cuts repl cluster" ;;
	*) die "cut repl|cluster|all" ;;
	esac
	echo "$cuts" | tr ' ' '\n' | sort -u | grep . | tr '\n' ' ' >"$TB_STATE/cuts"
	say "cut $what (now cut: $(cat "$TB_STATE/cuts"))"
}
cmd_heal() {
	state_load
	set_isolated off rA rB sA sB
	rm -f "$TB_STATE/cuts"
	say "healed all links"
}

cmd_exec() {
	state_load
	[ $# -ge 2 ] || die "exec A|B|client CMD..."
	local who=$1; shift
	case $who in
	client|C|c) ip netns exec "$NS_C" env PATH="$TB_STATE/bin:$PATH" "$@" ;;
	sw) ip netns exec "$NS_SW" "$@" ;;
	qnet) ip netns exec "$(ns qnet)" "$@" ;;
	*) ns_exec "$(node_arg "$who")" "$@" ;;
	esac
}

cmd_env() {
	state_load
	cat "$TB_STATE/env"
	echo "TB_STATE=$TB_STATE"
}

cmd_logs() {
	state_load
	local n; n=$(node_arg "$1")
	echo "=== $TB_STATE/$n/tandemd.log"; tail -n "${2:-50}" "$TB_STATE/$n/tandemd.log" 2>/dev/null || true
	echo "=== $TB_STATE/$n/log/corosync.log"; tail -n "${2:-20}" "$TB_STATE/$n/log/corosync.log" 2>/dev/null || true
}

case $CMD in
up) cmd_up ;;
down) cmd_down "$@" ;;
status) cmd_status "$@" ;;
exec) cmd_exec "$@" ;;
kill) [ $# -ge 1 ] || die "kill A|B [tandemd|corosync]"; cmd_kill "$@" ;;
crash) [ $# -eq 1 ] || die "crash A|B"; cmd_crash "$1" ;;
start) [ $# -eq 1 ] || die "start A|B"; cmd_start "$1" ;;
stop) [ $# -ge 1 ] && [ $# -le 2 ] || die "stop A|B [tandemd]"; cmd_stop "$@" ;;
cut) [ $# -eq 1 ] || die "cut repl|cluster|all"; cmd_cut "$1" ;;
heal) cmd_heal ;;
env) cmd_env ;;
logs) [ $# -ge 1 ] || die "logs A|B [LINES]"; cmd_logs "$@" ;;
*) usage ;;
esac
