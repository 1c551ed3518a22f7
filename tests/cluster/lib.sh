# shellcheck shell=bash
# tests/cluster/lib.sh: helpers of the cluster scenario tests (tests/cluster/test_*.sh).
#
# Source it from a test started as `bash tests/cluster/test_x.sh BUILD_DIR`. It
# sources tests/integration/lib.sh (pass/fail accounting, T_TMP, trap cleanup)
# and drives one testbed (tests/cluster/testbed.sh) in $T_TMP/tb:
#
#   tb CMD...              testbed.sh with this test's state dir
#   tb_fresh               down (if up) + up; loads its env (URL, NS_*)
#   role_of A|B            primary | secondary | down | unknown
#   primary / secondary    the node that is primary (A|B, empty if none) / the other one
#   wait_serving SECS      exactly one primary, holding the floating IP, portal reachable
#   wait_in_sync SECS      both connected, UpToDate/UpToDate, nothing out of sync
#   never_promoted LABEL NODE SECS WHY   NODE stays non-primary for SECS (sampled); pass/fail
#   healthy                wait_serving && wait_in_sync (short); tb_fresh if not
#   mon_start / mon_stop   background sampler of both nodes' role and IP ownership;
#                          mon_stop fails the scenario on two primaries / two IP owners
#   io_start NAME SECS     iocheck write (client namespace, the floating portal) in background
#   io_wait NAME           waits; sets IO_ACKED IO_ERRORS IO_PAUSE_MS (and prints the line)
#   io_finish NAME [TAIL]  TAIL s more writes, then iocheck stopped and collected
#   io_verify NAME [URL]   iocheck verify of every acknowledged write; pass/fail
#   figures NAME GOAL_ERR GOAL_PAUSE_MS HARD_PAUSE_MS  records the scenario's row
#                          (pass/fail on errors and on the hard pause limit)
#
# Results: one line per scenario is appended to $CLUSTER_RESULTS (default
# BUILD_DIR/cluster-failover.txt); tests/cluster/README.md shows how the
# "Failover" table of docs/BENCHMARKS.md is made from it.
# Knobs: IO_SECONDS (load per scenario), IO_BLOCKS (region, 4 KiB blocks),
# IO_QD, IO_GIVE_UP (s without an ack before outstanding writes count as errors, 30), CLUSTER_LONG=1 (longer loads and more failovers), KEEP_TMP=1.

# shellcheck source=../integration/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../integration" && pwd)/lib.sh" "$@"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespaces)"
command -v corosync >/dev/null || skip_all "corosync is not installed"
command -v ip >/dev/null || skip_all "needs iproute2"
require_tandemd
require_tool python3 nsenter unshare

IOCHECK=${IOCHECK:-$BUILD_DIR/tests/tools/iocheck}
[ -x "$IOCHECK" ] || { echo "[$T_NAME] no iocheck at $IOCHECK (libiscsi-dev missing at build time?)" >&2; exit 1; }

TB="$T_LIB_DIR/../cluster/testbed.sh"
export TB_STATE="$T_TMP/tb"
export TB_BUILD="$BUILD_DIR"
export TB_LOG_LEVEL=${TB_LOG_LEVEL:-info}
CLUSTER_RESULTS=${CLUSTER_RESULTS:-$BUILD_DIR/cluster-failover.txt}
if [ "${CLUSTER_LONG:-0}" = 1 ]; then
	IO_SECONDS=${IO_SECONDS:-60}
else
	IO_SECONDS=${IO_SECONDS:-20}
fi
IO_BLOCKS=${IO_BLOCKS:-16384}
IO_QD=${IO_QD:-32}
declare -A IO_PID=()

tb() { bash "$TB" "$@"; }

_c_cleanup() {
	local rc=$?
	if [ -f "$TB_STATE/env" ]; then
		if [ "$T_FAIL" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${KEEP_TMP:-0}" = 1 ]; then
			# keep what explains the failure (or what KEEP_TMP=1 asks for): logs into the build dir
			local keep="$BUILD_DIR/cluster-logs/$T_NAME"
			rm -rf "$keep"; mkdir -p "$keep"
			for n in A B; do
				cp "$TB_STATE/$n/tandemd.log" "$keep/$n-tandemd.log" 2>/dev/null || true
				# under pacemaker (test_pacemaker) the agent's tandemd logs here
				cp "$TB_STATE/$n/run/tandem-pcmk/tandemd.log" "$keep/$n-tandemd-pcmk.log" 2>/dev/null || true
				cp -r "$TB_STATE/$n/pcmk/log" "$keep/$n-pacemaker-log" 2>/dev/null || true
				cp "$TB_STATE/$n/log/corosync.log" "$keep/$n-corosync.log" 2>/dev/null || true
				cp "$TB_STATE/$n/tandem.conf" "$keep/$n-tandem.conf" 2>/dev/null || true
			done
			cp "$TB_STATE/fence.log" "$keep/" 2>/dev/null || true
			cp "$T_TMP"/*.out "$T_TMP"/mon.* "$keep/" 2>/dev/null || true
			echo "[$T_NAME] logs kept in $keep"
		fi
		tb down >/dev/null 2>&1 || tb down || true
	fi
	_t_cleanup
	exit "$rc"
}
trap _c_cleanup EXIT

tb_load() {
	# shellcheck disable=SC1090
	. <(tb env)
}

tb_fresh() {
	[ ! -f "$TB_STATE/env" ] || tb down >/dev/null 2>&1 || true
	local t0=$SECONDS
	if ! tb up >"$T_TMP/up.out" 2>&1; then
		sed -e 's/^/    | /' "$T_TMP/up.out" | tail -n 30
		return 1
	fi
	tb_load
	log "testbed $TB_ID up in $((SECONDS - t0)) s"
	if [ "${TB_CLUSTER_ON:-0}" != 1 ] || [ "${TB_REPL_ON:-0}" != 1 ]; then
		log "this build has no cluster manager or no replication (cluster=${TB_CLUSTER_ON:-0} repl=${TB_REPL_ON:-0})"
		return 3
	fi
}

# status --json of NODE (empty when tandemd does not answer)
sjson() { timeout 10 bash "$TB" exec "$1" tandemctl --json status 2>/dev/null || true; }
# A python filter over a status JSON: field paths like replication.role,
# lun.disk (lun 0 of replication), cluster.holds_ip.
J_PY='
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    print(""); sys.exit(0)
def get(path):
    r = d.get("replication") or {}
    c = d.get("cluster") or {}
    if path.startswith("lun."):
        l = (r.get("luns") or [{}])[0]
        v = l.get(path[4:])
    elif path.startswith("cluster."):
        v = c
        for k in path[8:].split("."):
            v = v.get(k) if isinstance(v, dict) else None
    else:
        v = r.get(path)
    if v is True: return "true"
    if v is False: return "false"
    return "" if v is None else str(v)
print(" ".join(get(p) for p in sys.argv[1:]))
'
jget() { # NODE FIELD...
	sjson "$1" | python3 -c "$J_PY" "${@:2}"
}
role_of() {
	local r
	r=$(jget "$1" role)
	echo "${r:-down}"
}
primary() {
	local n
	for n in A B; do [ "$(role_of "$n")" = primary ] && { echo "$n"; return 0; }; done
	echo ""
}
other() { [ "$1" = A ] && echo B || echo A; }
holds_ip() { [ ! -f "$TB_STATE/$1/crashed" ] && ip -n "$(ns_of "$1")" -4 -o addr show dev eth0 2>/dev/null | grep -q " $TB_FLOAT/"; }
ns_of() { case $1 in A) echo "$NS_A" ;; B) echo "$NS_B" ;; client|C) echo "$NS_C" ;; esac; }

# one line: role/disk/peer_disk/connection/oos of both nodes + cluster decision
nodes_state() {
	local n
	for n in A B; do
		printf 'node %s: %s; ' "$n" "$(jget "$n" role lun.disk lun.peer_disk lun.connection lun.out_of_sync_kib cluster.decision.action cluster.decision.reason cluster.holds_ip | sed 's/  */ /g')"
	done
	echo
}

wait_serving() { # SECS
	local end=$((SECONDS + ${1:-30})) p
	while [ $SECONDS -lt $end ]; do
		p=$(primary)
		if [ -n "$p" ] && [ "$(role_of "$(other "$p")")" != primary ] && holds_ip "$p" \
			&& ip netns exec "$NS_C" timeout 2 bash -c "exec 3<>/dev/tcp/$TB_FLOAT/3260" 2>/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	log "no single serving primary after ${1:-30} s: $(nodes_state)"
	return 1
}

# never_promoted LABEL NODE SECS WHY: NODE must stay non-primary for SECS
# (sampled every 0.5 s); pass/fail lines start with LABEL
never_promoted() {
	local label=$1 n=$2 end=$((SECONDS + $3)) why=$4 samples=0
	while [ $SECONDS -lt $end ]; do
		if [ "$(role_of "$n")" = primary ]; then
			fail "$label: $n WAS PROMOTED although $why: $(nodes_state)"
			return 1
		fi
		samples=$((samples + 1))
		sleep 0.5
	done
	pass "$label: $n not promoted for $3 s ($samples samples) since $why: $(jget "$n" cluster.decision.reason)"
}

in_sync_now() {
	local n v
	for n in A B; do
		v=$(jget "$n" lun.connection lun.disk lun.peer_disk lun.out_of_sync_kib)
		[[ "$v" =~ ^(Connected|SyncSource|SyncTarget)\ UpToDate\ UpToDate\ 0$ ]] || return 1
		[[ "$v" == Connected* ]] || return 1
	done
}
wait_in_sync() { # SECS
	local end=$((SECONDS + ${1:-60}))
	while [ $SECONDS -lt $end ]; do
		in_sync_now && return 0
		sleep 0.5
	done
	log "not in sync after ${1:-60} s: $(nodes_state)"
	return 1
}

# healthy: both nodes up, one primary serving, in sync; else a fresh testbed.
healthy() {
	if [ -f "$TB_STATE/env" ] && wait_serving 10 && wait_in_sync 30; then return 0; fi
	log "testbed not healthy: starting a fresh one"
	tb_fresh && wait_serving 30 && wait_in_sync 60
}

# ---------------------------------------------------------------- role monitor
MON_PID=
# fast_role NODE: the first "role" of the node's status (replication's), straight
# through nsenter (the sampler must be cheap: it runs every 0.3 s)
fast_role() {
	local h r
	read -r h _ <"$TB_STATE/$1/holder.pid" 2>/dev/null || [ -n "${h:-}" ] || { echo down; return; }
	[ -d "/proc/$h" ] || { echo down; return; }
	r=$(timeout 3 nsenter -t "$h" -m -n "$BUILD_DIR/daemon/tandemctl" --json status 2>/dev/null \
		| grep -o -m1 '"role": *"[a-z]*"' | head -n 1 | sed 's/.*"\([a-z]*\)"$/\1/')
	# the node is up but did not answer (hung, stopped, slow): not "down",
	# which would read as "certainly not primary"
	echo "${r:-unknown}"
}
mon_start() { # NAME
	MON_NAME=$1
	: >"$T_TMP/mon.$1"
	(
		# A is read before and after B: the two nodes cannot be read at the
		# same instant, and a handover between the reads of A and of B would
		# look like two owners. A counts as primary / IP owner only when both
		# of its reads say so (no failover completes and reverses within the
		# few ms around one read of B).
		while :; do
			ra=$(fast_role A); rb=$(fast_role B); ra2=$(fast_role A)
			[ "$ra2" = "$ra" ] || ra="$ra->$ra2"
			ia=0; ib=0; ia2=0
			holds_ip A && ia=1
			holds_ip B && ib=1
			holds_ip A && ia2=1
			[ "$ia2" = "$ia" ] || ia="$ia->$ia2"
			echo "$(date +%s.%N | cut -c1-14) A=$ra B=$rb ipA=$ia ipB=$ib"
			sleep 0.3
		done
	) >>"$T_TMP/mon.$1" 2>/dev/null &
	MON_PID=$!
	track_pid "$MON_PID"
}
mon_stop() { # -> pass/fail "never two primaries"
	[ -n "$MON_PID" ] || return 0
	kill -TERM "$MON_PID" 2>/dev/null || true
	wait "$MON_PID" 2>/dev/null || true
	untrack_pid "$MON_PID"
	MON_PID=
	local f="$T_TMP/mon.$MON_NAME" both ipboth samples
	samples=$(wc -l <"$f")
	if [ "$samples" -lt 3 ]; then
		fail "$MON_NAME: the monitor took only $samples samples: nothing to conclude"
	fi
	local unknown
	unknown=$(grep -c '=unknown' "$f" || true)
	[ "$unknown" -eq 0 ] || log "$MON_NAME: $unknown of $samples samples had a node that did not answer (unknown)"
	both=$(grep -c 'A=primary B=primary' "$f" || true)
	ipboth=$(grep -c 'ipA=1 ipB=1' "$f" || true)
	if [ "$both" -eq 0 ]; then
		pass "$MON_NAME: never two primaries ($samples samples of both nodes' status)"
	else
		fail "$MON_NAME: TWO PRIMARIES in $both of $samples samples: $(grep -m1 'A=primary B=primary' "$f")"
	fi
	if [ "$ipboth" -eq 0 ]; then
		pass "$MON_NAME: floating IP never on both nodes"
	else
		fail "$MON_NAME: floating IP on BOTH nodes in $ipboth of $samples samples (a duplicate address on the portal network: the other node's kernel still answers ARP for it): $(grep -m1 'ipA=1 ipB=1' "$f")"
	fi
	# role changes, for the log
	awk '{k=$2" "$3" "$4" "$5; if (k != last) {print "    mon " $0; last = k}}' "$f" | head -n 20
}

# ---------------------------------------------------------------- I/O
io_start() { # NAME SECONDS [extra iocheck args]
	local name=$1 secs=$2; shift 2
	ip netns exec "$NS_C" "$IOCHECK" write --url "$URL" --blocks "$IO_BLOCKS" --qd "$IO_QD" \
		--seconds "$secs" --give-up "${IO_GIVE_UP:-30}" --log "$T_TMP/$name.log" "$@" >"$T_TMP/$name.out" 2>&1 &
	IO_PID[$name]=$!
	track_pid "$!"
}
io_wait() { # NAME -> IO_ACKED IO_ERRORS IO_PAUSE_MS
	local name=$1 rc=0 line
	wait "${IO_PID[$name]}" || rc=$?
	untrack_pid "${IO_PID[$name]}"
	line=$(grep -E '^acked=' "$T_TMP/$name.out" | tail -n 1 || true)
	IO_ACKED=$(sed -n 's/.*acked=\([0-9]*\).*/\1/p' <<<"$line")
	IO_ERRORS=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$line")
	IO_PAUSE_MS=$(sed -n 's/.*longest_pause_ms=\([0-9]*\).*/\1/p' <<<"$line")
	IO_ACKED=${IO_ACKED:-0}; IO_ERRORS=${IO_ERRORS:-?}; IO_PAUSE_MS=${IO_PAUSE_MS:-?}
	# iocheck's longest pause is between acknowledgements: a run that gave up
	# waited at least --give-up seconds without one
	if grep -q 'giving up' "$T_TMP/$name.out" && [[ "$IO_PAUSE_MS" =~ ^[0-9]+$ ]] \
		&& [ "$IO_PAUSE_MS" -lt $(( ${IO_GIVE_UP:-30} * 1000 )) ]; then
		log "$name: iocheck gave up after ${IO_GIVE_UP:-30} s without an ack (its longest_pause_ms=$IO_PAUSE_MS does not count that): pause taken as $(( ${IO_GIVE_UP:-30} * 1000 )) ms"
		IO_PAUSE_MS=$(( ${IO_GIVE_UP:-30} * 1000 ))
	fi
	log "$name: iocheck exit $rc: ${line:-no summary line}"
	grep -vE '^acked=' "$T_TMP/$name.out" | grep -iE 'lost|reconnect|moving|error|giving' | head -n 8 | sed -e 's/^/    | /' || true
	[ -n "$line" ]
}
# io_finish NAME [TAIL]: the scenario's events are over: TAIL more seconds
# of writes (default 4), then iocheck is asked to stop (SIGTERM: no new
# writes, the outstanding ones still complete and count) and io_wait collects
# its figures. A load that already ended is only collected. A load given a
# generous length thus ends with the scenario, not at its fixed end.
io_finish() {
	local name=$1
	if kill -0 "${IO_PID[$name]}" 2>/dev/null; then
		sleep "${2:-4}"
		kill -TERM "${IO_PID[$name]}" 2>/dev/null || true
	fi
	io_wait "$name"
}
io_verify() { # NAME [URL]
	local name=$1 url=${2:-$URL} rc=0
	ip netns exec "$NS_C" timeout 300 "$IOCHECK" verify --url "$url" --log "$T_TMP/$name.log" >"$T_TMP/$name.verify" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name: every acknowledged write is there ($(tail -n 1 "$T_TMP/$name.verify"))"
	else
		fail "$name: ACKNOWLEDGED WRITES LOST or unreadable (verify exit $rc via $url)"
		sed -e 's/^/    | /' "$T_TMP/$name.verify" | tail -n 15
	fi
	return "$rc"
}

# figures NAME EVENT GOAL_ERRORS(0|-) GOAL_PAUSE_MS(-|N) HARD_PAUSE_MS(-|N)
# Records the row; errors must be 0 when GOAL_ERRORS is 0; the pause fails the
# scenario only above HARD_PAUSE_MS (a wide margin over the goal).
figures() {
	local name=$1 event=$2 gerr=$3 gpause=$4 hard=$5 verdict=ok
	# a run that acknowledged nothing measured nothing (no pause, no errors)
	if [[ "$IO_ACKED" =~ ^[0-9]+$ ]] && [ "$IO_ACKED" -gt 0 ]; then
		pass "$name: the initiator's writes were acknowledged ($IO_ACKED)"
	else
		fail "$name: no write acknowledged (acked=$IO_ACKED): the scenario measured nothing"
		verdict=FAIL
	fi
	if [ "$gerr" = 0 ]; then
		if [ "$IO_ERRORS" = 0 ]; then pass "$name: 0 I/O errors seen by the initiator"
		else fail "$name: $IO_ERRORS I/O errors seen by the initiator (goal 0)"; verdict=FAIL; fi
	fi
	if [ "$gpause" != - ] && [[ "$IO_PAUSE_MS" =~ ^[0-9]+$ ]]; then
		if [ "$IO_PAUSE_MS" -le "$gpause" ]; then
			log "$name: longest I/O pause ${IO_PAUSE_MS} ms (goal <= $gpause ms): met"
		elif [ "$hard" != - ] && [ "$IO_PAUSE_MS" -gt "$hard" ]; then
			fail "$name: longest I/O pause ${IO_PAUSE_MS} ms exceeds the goal ($gpause ms) by a wide margin (limit $hard ms)"
			verdict=FAIL
		else
			log "$name: longest I/O pause ${IO_PAUSE_MS} ms is ABOVE the goal of $gpause ms (not failed: timing is reported, the hard limit is $hard ms)"
			verdict="above goal"
		fi
	fi
	printf '%s|%s|%s|%s|%s|%s|%s\n' "$name" "$event" "$IO_ACKED" "$IO_ERRORS" "$IO_PAUSE_MS" \
		"$([ "$gpause" = - ] && echo - || echo "<= $gpause")" "$verdict" >>"$CLUSTER_RESULTS.tmp.$$"
	echo "[$T_NAME] FIGURES $name: acked=$IO_ACKED errors=$IO_ERRORS longest_pause_ms=$IO_PAUSE_MS ($event)"
}
# publish this run's rows into $CLUSTER_RESULTS (replacing older rows of the same scenarios)
figures_publish() {
	local f="$CLUSTER_RESULTS.tmp.$$"
	[ -f "$f" ] || return 0
	touch "$CLUSTER_RESULTS"
	local names
	names=$(cut -d'|' -f1 "$f" | sort -u)
	grep -v -F -f <(sed 's/$/|/' <<<"$names") "$CLUSTER_RESULTS" >"$f.old" 2>/dev/null || true
	cat "$f.old" "$f" >"$CLUSTER_RESULTS"
	rm -f "$f" "$f.old"
}

# run_scenario NAME FUNC: a scenario that returns non-zero is one FAIL line; the
# next scenario starts from a healthy testbed (fresh one if needed).
run_scenario() {
	local name=$1 fn=$2 t0=$SECONDS rc=0
	[ -z "${ONLY_SCN:-}" ] || [[ "$name" == *$ONLY_SCN* ]] || return 0
	log "==== scenario: $name"
	if ! healthy; then
		fail "$name: could not get a healthy testbed: $(nodes_state)"
		return 0
	fi
	"$fn" || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name: scenario aborted (see above); $(nodes_state)"
		tb logs A 15 2>/dev/null | sed -e 's/^/    A| /' || true
		tb logs B 15 2>/dev/null | sed -e 's/^/    B| /' || true
	fi
	[ -z "$MON_PID" ] || mon_stop
	local k
	for k in "${!IO_PID[@]}"; do
		if kill -0 "${IO_PID[$k]}" 2>/dev/null; then kill -TERM "${IO_PID[$k]}" 2>/dev/null || true; wait "${IO_PID[$k]}" 2>/dev/null || true; fi
		untrack_pid "${IO_PID[$k]}"
		unset "IO_PID[$k]"
	done
	# whatever the scenario did to the links or nodes: heal and bring everyone back
	tb heal >/dev/null 2>&1 || true
	for k in A B; do
		[ "$(role_of "$k")" != down ] || tb start "$k" >/dev/null 2>&1 || true
	done
	log "==== $name took $((SECONDS - t0)) s"
}

# setup_or_skip: the first testbed of a test; skips the whole test when the build
# lacks the cluster manager or replication.
setup_or_skip() {
	local rc=0
	tb_fresh || rc=$?
	if [ "$rc" -eq 3 ]; then skip_all "this build has no cluster manager and replication yet"; fi
	[ "$rc" -eq 0 ] || { fail "testbed up failed"; finish; exit 1; }
	if wait_serving 60; then pass "testbed up: one primary serving $TB_FLOAT"; else fail "testbed up: no primary serving"; finish; exit 1; fi
	if wait_in_sync 60; then pass "testbed up: both nodes in sync"; else fail "testbed up: nodes not in sync"; fi
}
