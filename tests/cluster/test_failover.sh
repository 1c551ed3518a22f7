#!/usr/bin/env bash
# tests/cluster/test_failover.sh BUILD_DIR: unplanned failover on the two-node
# testbed (tests/cluster/testbed.sh: real corosync, tandemd's built-in cluster
# manager, the iocheck initiator in the client namespace on the floating portal).
#   kill-primary    SIGKILL of the primary's tandemd during writes
#   crash-primary   the primary powered off (`testbed.sh crash`: links down,
#                   every process SIGKILLed; no reset leaves it)
#   stop-primary    clean stop of the primary (SIGTERM of tandemd, then of
#                   corosync: the operator's `systemctl stop`): it releases the
#                   floating IP and demotes, never promotes itself again on the
#                   way out; the secondary takes over without fencing
#   corosync-restart-secondary  the secondary's corosync is killed and started
#                   again: its tandemd reconnects, and the quorum answering before
#                   the peer's CPG membership must not make a healthy primary look
#                   vanished (nobody is fenced, the primary keeps serving)
#   kill-secondary  SIGKILL of the secondary's tandemd and corosync
#   return-resync   primary crashed under load, the survivor serves; the old
#                   primary comes back, resyncs while writes go on, then a
#                   planned failover hands the role back and every acknowledged
#                   write is read back through it
# Each: never two primaries (both nodes' status sampled), no acknowledged write
# lost (iocheck verify), I/O errors and the longest pause reported; errors must
# be 0; a pause above 10 s (goal 3 s) fails.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"

# unplanned failover of the primary by ACTION (kill-tandemd | crash)
unplanned() { # NAME ACTION EVENT
	local name=$1 action=$2 event=$3 p s
	p=$(primary); s=$(other "$p")
	log "$name: primary $p, secondary $s"
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 5
	case $action in
	kill-tandemd) tb kill "$p" tandemd ;;
	crash) tb crash "$p" ;;
	stop) tb stop "$p" ;;
	esac
	# writes go on for 4 s once the survivor serves (or 20 s passed)
	wait_serving 20 >/dev/null || true
	io_finish "$name" || return 1
	mon_stop
	local took=0
	if wait_serving 20 && [ "$(primary)" = "$s" ]; then
		pass "$name: $s took over the primary role and the floating IP"
		took=1
	else
		fail "$name: $s did not take over: $(nodes_state)"
		grep -E 'cluster: (decision|promot|fenc)|refused' "$TB_STATE/$s/tandemd.log" | tail -n 4 | sed -e "s/^/    $s| /"
	fi
	figures "$name" "$event" 0 3000 10000
	[ "$took" = 0 ] || io_verify "$name"
	# the old primary comes back as secondary and resyncs
	tb start "$p" >/dev/null
	if wait_in_sync 90; then pass "$name: $p back as secondary, in sync"; else fail "$name: $p did not resync"; fi
	if [ "$took" = 1 ]; then
		[ "$(primary)" = "$s" ] && pass "$name: no automatic failback" || fail "$name: roles changed on return: $(nodes_state)"
	else
		wait_serving 30 || true
		io_verify "$name"   # whoever serves now must have every acknowledged write
	fi
}

scn_kill_primary() { unplanned kill-primary kill-tandemd "SIGKILL of the primary's tandemd"; }
scn_crash_primary() { unplanned crash-primary crash "primary powered off (crash)"; }
scn_stop_primary() {
	local p n0
	p=$(primary)
	n0=$(wc -l <"$TB_STATE/$p/tandemd.log")
	unplanned stop-primary stop "clean stop of the primary (SIGTERM)" || return 1
	# on its way out it demoted and stayed down: no promotion after the stop began
	# the demotion itself must be in the log, else the check below proves nothing
	if tail -n +"$((n0 + 1))" "$TB_STATE/$p/tandemd.log" | grep -q 'shutting down as primary'; then
		pass "stop-primary: $p logged its demotion on the way out"
	else
		fail "stop-primary: no 'shutting down as primary' in $p's log"
	fi
	if tail -n +"$((n0 + 1))" "$TB_STATE/$p/tandemd.log" | grep -A1000 'shutting down as primary' | grep -q 'is primary ('; then
		fail "stop-primary: $p promoted itself again while shutting down"
		tail -n +"$((n0 + 1))" "$TB_STATE/$p/tandemd.log" | grep -E 'cluster: |repl: node' | tail -n 8 | sed -e "s/^/    $p| /"
	else
		pass "stop-primary: $p demoted on its way out and did not promote itself again"
	fi
}

# A clean stop of one node's tandemd while its corosync stays up (an upgrade,
# a restart for a cluster{} change): a leaving secondary marks its disks
# Outdated and says so as it leaves, a leaving primary demotes and leaves as a
# secondary, so the node serving on needs no fencing and its writes do not
# wait (docs/CLUSTER.md). First the secondary's tandemd (the primary serves
# on), then, back in sync, the primary's (the secondary takes over). Before: the
# primary fenced the secondary's node (fence command; with qdevice its writes
# stayed frozen until that tandemd came back), and the new primary fenced the
# old one.
scn_stop_tandemd() {
	local p s name=stop-tandemd f0 f1
	p=$(primary); s=$(other "$p")
	f0=$(cat "$TB_STATE/fence.log" 2>/dev/null | wc -l)
	mon_start "$name"
	io_start "$name" $((IO_SECONDS * 2))
	sleep 3
	tb stop "$s" tandemd >/dev/null
	sleep 4
	[ "$(primary)" = "$p" ] && pass "$name: $p stays primary while $s's tandemd is stopped" \
		|| fail "$name: $p is no longer primary: $(nodes_state)"
	[ "$(jget "$p" lun.peer_disk)" != UpToDate ] && pass "$name: $p counts $s behind ($(jget "$p" lun.peer_disk))" \
		|| fail "$name: $p still counts $s UpToDate"
	tb start "$s" >/dev/null
	if wait_in_sync 90; then pass "$name: $s back, resynced"; else fail "$name: $s did not resync"; fi
	tb stop "$p" tandemd >/dev/null
	if wait_serving 20 && [ "$(primary)" = "$s" ]; then pass "$name: $s took over after $p's tandemd stopped"
	else fail "$name: $s did not take over: $(nodes_state)"; fi
	io_finish "$name" || return 1
	mon_stop
	f1=$(cat "$TB_STATE/fence.log" 2>/dev/null | wc -l)
	if [ "$f1" = "$f0" ]; then
		pass "$name: nobody fenced (the secondary left Outdated, the primary left demoted)"
	else
		fail "$name: a node was fenced: $(tail -n +"$((f0 + 1))" "$TB_STATE/fence.log" | head -n 2 | tr '\n' ' ')"
		grep -E 'cluster: (leaving|fence|decision)' "$TB_STATE/$p/tandemd.log" "$TB_STATE/$s/tandemd.log" | tail -n 8 | sed -e 's/^/    | /'
	fi
	figures "$name" "clean stop of the secondary's, then the primary's tandemd (corosync up)" 0 3000 10000
	io_verify "$name"
	tb start "$p" >/dev/null
	if wait_in_sync 90; then pass "$name: $p back as secondary, in sync"; else fail "$name: $p did not resync"; fi
}

# The secondary goes away: SIGKILL of its processes (kill) or a powered-off
# node (crash: links down first, nothing answers). The primary keeps serving;
# with fencing it holds writes until the peer is fenced, then goes on alone.
scn_lose_secondary() {
	local how=$1 p s name=$1-secondary
	p=$(primary); s=$(other "$p")
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 5
	tb "$how" "$s"
	sleep 4
	[ "$(primary)" = "$p" ] && pass "$name: $p stays primary" || fail "$name: $p is no longer primary: $(nodes_state)"
	io_finish "$name" || return 1
	mon_stop
	if [ "$how" = crash ]; then
		# the primary's own account, as an operator reads it: the peer it
		# lost was fenced, and that is what released its frozen writes
		local st="" i
		for i in $(seq 30); do
			st=$(timeout 10 bash "$TB" exec "$p" tandemctl status 2>/dev/null || true)
			grep -q "peer lost and fenced" <<<"$st" && break
			sleep 0.5
		done
		if grep -q "peer lost and fenced" <<<"$st" && grep -q "last fence request: released: the peer was fenced" <<<"$st"; then
			pass "$name: $p's status says the peer was lost and fenced"
		else
			fail "$name: $p's status after the fence: $(grep -E 'cluster:|fence request' <<<"$st" | tr '\n' ' ')"
		fi
	fi
	figures "$name" "$( [ "$how" = kill ] && echo "SIGKILL of the secondary (tandemd + corosync)" || echo "crash of the secondary (powered off)")" 0 3000 10000
	io_verify "$name"
	tb start "$s" >/dev/null
	if wait_in_sync 90; then pass "$name: $s back, resynced"; else fail "$name: $s did not resync"; fi
}
scn_corosync_restart_secondary() {
	local p s name=corosync-restart-secondary f0 f1 i
	p=$(primary); s=$(other "$p")
	f0=$(cat "$TB_STATE/fence.log" 2>/dev/null | wc -l)
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 3
	tb kill "$s" corosync >/dev/null
	sleep 2
	tb start "$s" >/dev/null
	sleep 8
	f1=$(cat "$TB_STATE/fence.log" 2>/dev/null | wc -l)
	if [ "$f1" = "$f0" ]; then
		pass "$name: nobody fenced after $s's corosync came back"
	else
		fail "$name: a node was fenced: $(tail -n +"$((f0 + 1))" "$TB_STATE/fence.log" | head -n 2 | tr '\n' ' ')"
		grep -E 'cluster: (decision|fenc|peer|lost|joined|quorate)' "$TB_STATE/$s/tandemd.log" | tail -n 8 | sed -e "s/^/    $s| /"
	fi
	io_finish "$name" || return 1
	mon_stop
	[ "$(primary)" = "$p" ] && pass "$name: $p still primary" || fail "$name: roles changed: $(nodes_state)"
	figures "$name" "corosync of the secondary restarted" 0 3000 10000
	io_verify "$name"
	for i in A B; do tb start "$i" >/dev/null 2>&1 || true; done
	if wait_in_sync 90; then pass "$name: in sync"; else fail "$name: not in sync: $(nodes_state)"; fi
}
scn_kill_secondary() { scn_lose_secondary kill; }
scn_crash_secondary() { scn_lose_secondary crash; }

scn_return_resync() {
	local p s name=return-resync sent0 sent1 rc
	p=$(primary); s=$(other "$p")
	mon_start "$name"
	io_start "$name" $((IO_SECONDS * 3))
	sleep 4
	tb crash "$p"
	wait_serving 20 || { fail "$name: no takeover after crash of $p"; return 1; }
	sleep 4   # writes land on $s only: $p misses them
	sent0=$(jget "$s" lun.resync_bytes_sent); sent0=${sent0:-0}
	tb start "$p" >/dev/null
	if wait_in_sync 90; then pass "$name: $p returned and resynced under load"; else fail "$name: $p did not resync"; return 1; fi
	sent1=$(jget "$s" lun.resync_bytes_sent); sent1=${sent1:-0}
	log "$name: resync sent $((sent1 - sent0)) bytes"
	sleep 2
	# hand the role back (planned failover) while writes go on
	rc=0
	timeout 60 bash "$TB" exec "$s" tandemctl failover "$( [ "$p" = A ] && echo a || echo b)" >"$T_TMP/$name.fo" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then pass "$name: planned failover back to $p"; else fail "$name: failover back to $p failed (exit $rc: $(tr '\n' ' ' <"$T_TMP/$name.fo"))"; fi
	wait_serving 20 || true
	io_finish "$name" || return 1
	mon_stop
	figures "$name" "crash, return, resync, failover back" 0 3000 10000
	if [ "$(primary)" = "$p" ]; then
		io_verify "$name"   # read back through the returned node: the resync brought everything
	else
		fail "$name: $p is not primary after the failover back: $(nodes_state)"
	fi
}

setup_or_skip
run_scenario kill-primary scn_kill_primary
run_scenario crash-primary scn_crash_primary
run_scenario stop-primary scn_stop_primary
run_scenario stop-tandemd scn_stop_tandemd
run_scenario corosync-restart-secondary scn_corosync_restart_secondary
run_scenario kill-secondary scn_kill_secondary
run_scenario crash-secondary scn_crash_secondary
run_scenario return-resync scn_return_resync
figures_publish
finish
