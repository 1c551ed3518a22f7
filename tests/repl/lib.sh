# shellcheck shell=bash
# tests/repl/lib.sh: a two-node replicated tandem pair in network namespaces.
#
# Source it from a test started as `bash tests/repl/test_x.sh BUILD_DIR`. It
# sources tests/integration/lib.sh (pass/fail accounting, T_TMP, PID tracking)
# and adds:
#
#   namespaces (names unique per run: tdm-<pid>-a / -b / -c)
#     A  nodeA: p0 192.0.2.1/24 (portal), r0 198.51.100.1/24 (replication)
#     B  nodeB: p0 192.0.2.2/24 (portal), r0 198.51.100.2/24 (replication)
#     C  client: bridge br0 192.0.2.50/24 with one veth port per node; the
#        initiators (iocheck, qemu-io, qemu-img) run here.
#     Replication link: one veth pair A:r0 <-> B:r0 (cut with `link_cut`).
#   net_setup / net_teardown, in_ns A|B|C CMD...
#   node_config A|B [key=value...]   writes $T_TMP/{a,b}/tandem.conf
#   conf_set A|B KEY VALUE           changes a key in it (then reload/restart)
#   node_create_md A|B [args]        tandemctl create-md (offline)
#   node_start / node_stop / node_kill A|B, node_pid A|B, node_log A|B
#   ctl A|B ARGS...                  tandemctl in that node's namespace
#   rget A|B FIELD                   a field of lun 0 in status --json "replication"
#   rstate A|B                       one line with the interesting fields
#   rwait A|B SECONDS FIELD=VALUE... wait until all hold (FIELD!=VALUE negates);
#                                    per-LUN fields of LUN 0, or of R_LUN=TARGET/LUN
#   pair_fresh [--full]              fresh pair: both started, connected, A Primary
#   lun_url A|B, md5_of A|B, iocheck ARGS...
#
# Cleanup (trap EXIT): every process started here is killed by PID, any process
# still inside one of OUR namespaces (ip netns pids) is killed by PID, then the
# namespaces are deleted. Nothing outside these namespaces is touched.

# shellcheck source=../integration/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/lib.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null || skip_all "needs iproute2"
require_tandemd

IOCHECK=${IOCHECK:-$BUILD_DIR/tests/tools/iocheck}
[ -x "$IOCHECK" ] || { echo "[$T_NAME] no iocheck at $IOCHECK (libiscsi-dev missing at build time?)" >&2; exit 1; }

R_ID=${R_ID:-$$}
NS_A=tdm-$R_ID-a
NS_B=tdm-$R_ID-b
NS_C=tdm-$R_ID-c
IQN=iqn.2026-11.org.tandem:ha
LUN_NAME="$IQN/0"
R_SIZE=${R_SIZE:-256M}
R_SIZE_BYTES=$(( ${R_SIZE%M} * 1048576 ))
R_RATE=${R_RATE:-100M}
R_SECRET=${R_SECRET:-at-least-16-chars-secret}
R_CACHE=${R_CACHE:-write-back}
R_LOG=${R_LOG:-info}
R_NETS=()
declare -A R_PID=()
declare -A R_LOGF=()
declare -A R_ENV=()   # NODE -> "VAR=value ..." for that node's tandemd (test fault hooks)

ns_of() { case $1 in A) echo "$NS_A" ;; B) echo "$NS_B" ;; C) echo "$NS_C" ;; *) echo "bad node $1" >&2; return 1 ;; esac; }
dir_of() { echo "$T_TMP/$(tr 'AB' 'ab' <<<"$1")"; }
in_ns() { local ns; ns=$(ns_of "$1"); shift; ip netns exec "$ns" "$@"; }

net_setup() {
	local n
	for n in "$NS_A" "$NS_B" "$NS_C"; do
		ip netns add "$n"
		R_NETS+=("$n")
		ip -n "$n" link set lo up
	done
	# portal network: A:p0 / B:p0 <-> client bridge
	ip -n "$NS_C" link add br0 type bridge
	ip -n "$NS_A" link add p0 type veth peer name ca netns "$NS_C"
	ip -n "$NS_B" link add p0 type veth peer name cb netns "$NS_C"
	ip -n "$NS_C" link set ca master br0
	ip -n "$NS_C" link set cb master br0
	ip -n "$NS_C" addr add 192.0.2.50/24 dev br0
	ip -n "$NS_A" addr add 192.0.2.1/24 dev p0
	ip -n "$NS_B" addr add 192.0.2.2/24 dev p0
	for n in ca cb br0; do ip -n "$NS_C" link set "$n" up; done
	ip -n "$NS_A" link set p0 up
	ip -n "$NS_B" link set p0 up
	# replication link
	ip -n "$NS_A" link add r0 type veth peer name r0 netns "$NS_B"
	ip -n "$NS_A" addr add 198.51.100.1/24 dev r0
	ip -n "$NS_B" addr add 198.51.100.2/24 dev r0
	ip -n "$NS_A" link set r0 up
	ip -n "$NS_B" link set r0 up
	# wait for the links (operstate UP; the bridge needs a moment to forward)
	local i
	for i in $(seq 1 50); do
		if [ "$(ip netns exec "$NS_C" cat /sys/class/net/br0/operstate)" = up ] \
			&& [ "$(ip netns exec "$NS_A" cat /sys/class/net/r0/operstate)" = up ]; then
			if ! command -v arping >/dev/null \
				|| { in_ns C arping -q -c1 -w1 -i br0 192.0.2.1 && in_ns C arping -q -c1 -w1 -i br0 192.0.2.2; } >/dev/null 2>&1; then
				return 0
			fi
		fi
		sleep 0.1
	done
	echo "[$T_NAME] namespaces up but not reachable" >&2
	return 1
}

# repl_link_shape_10gbe: shape the replication link (r0, both ends) like 10GbE:
# netem delay 50us rate 10gbit, or tbf rate 10gbit where the kernel has no
# sch_netem. Sets R_LINK_SHAPE to the qdisc used (for the benchmarks' tables).
repl_link_shape_10gbe() {
	local n
	R_LINK_SHAPE="netem delay 50us rate 10gbit"
	for n in A B; do
		if ! in_ns "$n" tc qdisc add dev r0 root netem delay 50us rate 10gbit 2>/dev/null; then
			R_LINK_SHAPE="tbf rate 10gbit burst 1mb latency 10ms (no sch_netem in this kernel: no added delay)"
			in_ns "$n" tc qdisc add dev r0 root tbf rate 10gbit burst 1mb latency 10ms
		fi
	done
}

net_teardown() {
	local n p
	for n in "${R_NETS[@]+"${R_NETS[@]}"}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	done
	sleep 0.2
	for n in "${R_NETS[@]+"${R_NETS[@]}"}"; do ip netns del "$n" 2>/dev/null || true; done
	R_NETS=()
}

_r_cleanup() {
	local rc=$?
	[ -z "${R_DEBUG_ON_EXIT:-}" ] || { rstate A; rstate B; } 2>/dev/null || true
	if [ "${T_FAIL:-0}" -gt 0 ]; then       # the logs go with T_TMP: keep their ends in the output
		for n in A B; do
			[ -r "$(node_log "$n")" ] || continue
			echo "[$T_NAME] last lines of node $n's log:"
			tail -n 40 "$(node_log "$n")" | sed -e 's/^/    | /'
		done
	fi
	_t_cleanup
	net_teardown
	exit "$rc"
}
trap _r_cleanup EXIT

link_cut()  { ip -n "$NS_A" link set r0 down; }
link_heal() { ip -n "$NS_A" link set r0 up; ip -n "$NS_B" link set r0 up; }

# node_config NODE [secret=S] [rate=R] [plain_lun=yes] [cc=NAME] [ping_timeout=MS] [backend=B]
#   cc=NAME sets the replication link's tcp_congestion
#   backend=fileio serves LUN 0 through the page cache (tests/tools/fault_shim.c
#   can fail its I/O); the default is blockio
#   plain_lun=yes adds LUN 1: same kind of file ($d/plain.img), NOT replicated (benchmarks)
node_config() {
	local node=$1; shift
	local secret=$R_SECRET rate=$R_RATE plain=no cc= pto= backend=blockio kv
	for kv in "$@"; do
		case $kv in
			secret=*) secret=${kv#secret=} ;;
			cc=*) cc="    tcp_congestion: ${kv#cc=}" ;;
			ping_timeout=*) pto="    ping_timeout_ms: ${kv#ping_timeout=}" ;;
			rate=*) rate=${kv#rate=} ;;
			plain_lun=*) plain=${kv#plain_lun=} ;;
			backend=*) backend=${kv#backend=} ;;
		esac
	done
	local d me peer myname peername
	d=$(dir_of "$node")
	mkdir -p "$d/state"
	if [ "$node" = A ]; then me=1; peer=2; myname=alpha; peername=beta; else me=2; peer=1; myname=beta; peername=alpha; fi
	cat >"$d/tandem.conf" <<EOF
global {
    log_level: $R_LOG
    threads: 2
    ctl_socket: tdm-$R_ID-$node
    state_dir: $d/state
}
portal_group pg1 {
    tag: $me
    listen: 192.0.2.$me:3260
}
replication {
    node: $myname
    listen: 198.51.100.$me:7790
    peer: 198.51.100.$peer:7790
    peer_name: $peername
    secret: "$secret"
    resync_rate: $rate
$cc
$pto
}
target $IQN {
    portal_group: pg1
    lun 0 {
        backend: $backend
        path: $d/lun.img
        size: $R_SIZE
        create: yes
        cache: $R_CACHE
        replicated: yes
        serial: ha-lun0
        naa: 6001405000000000000000000000b001
    }
$(if [ "$plain" = yes ]; then printf '    lun 1 {\n        backend: blockio\n        path: %s\n        size: %s\n        create: yes\n        cache: %s\n        serial: ha-lun1\n        naa: 6001405000000000000000000000b002\n    }\n' "$d/plain.img" "$R_SIZE" "$R_CACHE"; fi)
}
EOF
}

# conf_set NODE KEY VALUE: a top-level key of a section in the node's config
# (four-space indent: replication, global); reload or restart applies it
conf_set() { sed -i -e "s|^    $2: .*|    $2: $3|" "$(dir_of "$1")/tandem.conf"; }

ctl() { local node=$1; shift; in_ns "$node" timeout 60 "$TANDEMCTL" -s "tdm-$R_ID-$node" "$@"; }

node_create_md() {
	local node=$1; shift
	in_ns "$node" timeout 60 "$TANDEMCTL" create-md "$LUN_NAME" "$@" -c "$(dir_of "$node")/tandem.conf"
}

node_pid() { echo "${R_PID[$1]:-}"; }
node_log() { echo "${R_LOGF[$1]:-/dev/null}"; }

# node_start NODE: tandemd -f in the node's namespace; waits until tandemctl answers.
node_start() {
	local node=$1 d i
	d=$(dir_of "$node")
	R_LOGF[$node]=$d/tandemd.log
	echo "---- start $(date +%T.%N)" >>"$d/tandemd.log"
	# shellcheck disable=SC2086 # R_ENV holds VAR=value words
	ip netns exec "$(ns_of "$node")" env ${R_ENV[$node]:-} "$TANDEMD" -f -c "$d/tandem.conf" >>"$d/tandemd.log" 2>&1 &
	R_PID[$node]=$!
	track_pid "$!"
	T_DAEMON_LOG[$!]=$d/tandemd.log
	for i in $(seq 1 150); do
		if ! kill -0 "${R_PID[$node]}" 2>/dev/null; then
			echo "[$T_NAME] tandemd on node $node exited at start:" >&2
			tail -n 20 "$d/tandemd.log" | sed -e 's/^/    | /' >&2
			return 1
		fi
		ctl "$node" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "[$T_NAME] tandemd on node $node does not answer tandemctl" >&2
	return 1
}

# node_kill NODE: SIGKILL (a crash).
node_kill() {
	local pid=${R_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	untrack_pid "$pid"
	R_PID[$1]=
}

# node_stop NODE: SIGTERM through lib.sh's stop_tandemd (records exit status and sanitizer checks).
node_stop() {
	local pid=${R_PID[$1]:-}
	[ -n "$pid" ] || return 0
	stop_tandemd "$pid"
	R_PID[$1]=
}

# status --json -> lun 0 fields of "replication"
R_PY='
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(3)
import os
r = d.get("replication") or {}
luns = r.get("luns") or []
want = os.environ.get("R_LUN")   # "TARGET/LUN"; default: the first LUN
l = next((x for x in luns if x.get("name") == want), {}) if want else (luns[0] if luns else {})
def fmt(v):
    if isinstance(v, bool): return "true" if v else "false"
    return "" if v is None else str(v)
def get(k):
    v = l if k.split(".")[0] in l else r
    for part in k.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v
keys = sys.argv[1:]
if keys:
    for k in keys: print(fmt(get(k)))
else:
    print(" ".join("%s=%s" % (k, fmt(l.get(k))) for k in ("role","disk","peer_disk","connection","sync_percent","out_of_sync_kib","resync_bytes_sent","split_brain")))
'
rjson() { ctl "$1" status --json 2>/dev/null; }
rget()   { rjson "$1" | python3 -c "$R_PY" "$2"; }
rstate() { echo "node $1: $(rjson "$1" | python3 -c "$R_PY" 2>/dev/null || echo 'no status')"; }
# link_cc NODE: the congestion control its replication link got ("replication"."tcp_congestion")
link_cc() { rjson "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["replication"]["tcp_congestion"])'; }

# rwait NODE SECONDS COND... ; COND is FIELD=VALUE or FIELD!=VALUE (VALUE may be a|b alternatives)
rwait() {
	local node=$1 secs=$2; shift 2
	local end=$(( $(date +%s) + secs )) c f v got ok js
	while :; do
		ok=1
		js=$(rjson "$node") || js=
		for c in "$@"; do
			if [[ $c == *'!='* ]]; then f=${c%%!=*}; v=${c#*!=}; else f=${c%%=*}; v=${c#*=}; fi
			got=$(python3 -c "$R_PY" "$f" <<<"$js" 2>/dev/null) || got=
			if [[ $c == *'!='* ]]; then
				[[ "|$v|" != *"|$got|"* ]] || { ok=0; break; }
			else
				[[ "|$v|" == *"|$got|"* ]] || { ok=0; break; }
			fi
		done
		[ "$ok" = 0 ] || return 0
		[ "$(date +%s)" -lt "$end" ] || { log "timeout (${secs}s) waiting on node $node for: $*; now $(rstate "$node")"; return 1; }
		sleep 0.2
	done
}

# Both connected and UpToDate, nothing out of sync.
in_sync() {
	local secs=${1:-60}
	rwait A "$secs" connection=Connected disk=UpToDate peer_disk=UpToDate out_of_sync_kib=0 \
		&& rwait B 10 connection=Connected disk=UpToDate peer_disk=UpToDate out_of_sync_kib=0
}

lun_url() { if [ "$1" = A ]; then echo "iscsi://192.0.2.1:3260/$IQN/0"; else echo "iscsi://192.0.2.2:3260/$IQN/0"; fi; }
md5_of() { md5sum <"$(dir_of "$1")/lun.img" | cut -d' ' -f1; }
iocheck() { in_ns C "$IOCHECK" "$@"; }

# pair_fresh [--full]: stop whatever runs, wipe both nodes, configure, create-md
# (--new-device unless --full), start both, wait until connected, promote A.
# R_CONF[NODE] holds extra node_config arguments for that node.
declare -A R_CONF=()
pair_fresh() {
	local full=${1:-}
	node_kill A; node_kill B
	rm -rf "$(dir_of A)" "$(dir_of B)"
	# shellcheck disable=SC2086 # R_CONF holds key=value words
	node_config A ${R_CONF[A]:-}; node_config B ${R_CONF[B]:-}
	local n
	for n in A B; do
		# create the (sparse, zeroed) backing files so create-md can size them
		truncate -s "$R_SIZE" "$(dir_of "$n")/lun.img"
		if [ "$full" = --full ]; then
			node_create_md "$n" >"$T_TMP/md.$n.out" 2>&1 || { cat "$T_TMP/md.$n.out"; return 1; }
		else
			node_create_md "$n" --new-device >"$T_TMP/md.$n.out" 2>&1 || { cat "$T_TMP/md.$n.out"; return 1; }
		fi
	done
	node_start A || return 1
	node_start B || return 1
	if [ "$full" = --full ]; then
		rwait A 30 connection=Connected || return 1
		ctl A primary --force || return 1
	else
		in_sync 30 || return 1
		ctl A primary || ctl A primary --force || return 1
	fi
	rwait A 20 role=primary
}

# run_scenario NAME FUNC: runs FUNC; a scenario that returns non-zero is one FAIL line.
run_scenario() {
	local name=$1 fn=$2 t0
	t0=$(date +%s)
	log "==== scenario: $name"
	if ! "$fn"; then
		fail "$name: scenario aborted (see above); $(rstate A); $(rstate B)"
		tail -n 15 "$(node_log A)" 2>/dev/null | sed -e 's/^/    A| /'
		tail -n 15 "$(node_log B)" 2>/dev/null | sed -e 's/^/    B| /'
	fi
	if [ -n "${IOC_PID:-}" ] && kill -0 "$IOC_PID" 2>/dev/null; then
		kill -TERM "$IOC_PID" 2>/dev/null || true
		wait "$IOC_PID" 2>/dev/null || true
	fi
	[ -z "${IOC_PID:-}" ] || untrack_pid "$IOC_PID"
	IOC_PID=
	log "==== $name took $(( $(date +%s) - t0 ))s"
}

# bg_iocheck NAME ARGS...: iocheck write in the background; sets IOC_PID; output in $T_TMP/NAME.out
bg_iocheck() {
	local name=$1; shift
	iocheck write "$@" >"$T_TMP/$name.out" 2>&1 &
	IOC_PID=$!
	track_pid "$IOC_PID"
}
# wait_iocheck PID NAME: waits; prints the summary; returns iocheck's exit status.
wait_iocheck() {
	local rc=0
	wait "$1" || rc=$?
	untrack_pid "$1"
	grep -E '^acked=' "$T_TMP/$2.out" || true
	[ "$rc" -eq 0 ] || sed -e 's/^/    | /' "$T_TMP/$2.out" | tail -n 15
	return "$rc"
}
