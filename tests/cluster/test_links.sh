#!/usr/bin/env bash
# tests/cluster/test_links.sh BUILD_DIR: link failures on the two-node testbed.
#   cut-repl     replication link cut during writes, healed later: the primary
#                keeps serving (0 errors), the secondary resyncs after the heal
#   cut-cluster  portal/cluster network between the nodes cut (the client still
#                reaches both; corosync keeps the membership over ring1): nothing
#                changes, 0 errors
#   partition    both links cut: the secondary must prove the primary dead (fence
#                command = the testbed's power switch) before it promotes; never
#                two primaries, no acknowledged write lost
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"

scn_cut_repl() {
	local p s name=cut-repl
	p=$(primary); s=$(other "$p")
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 5
	tb cut repl
	sleep 8
	log "$name: during the cut: $(nodes_state)"
	tb heal
	io_wait "$name" || return 1
	mon_stop
	[ "$(primary)" = "$p" ] && pass "$name: $p stayed primary" || fail "$name: role changed: $(nodes_state)"
	figures "$name" "replication link cut for 8 s" 0 3000 10000
	io_verify "$name"
	if wait_in_sync 90; then pass "$name: resynced after the heal"; else fail "$name: no resync after the heal"; fi
}

scn_cut_cluster() {
	local p name=cut-cluster
	p=$(primary)
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 5
	tb cut cluster
	sleep 8
	log "$name: during the cut: $(nodes_state)"
	tb heal
	io_wait "$name" || return 1
	mon_stop
	[ "$(primary)" = "$p" ] && pass "$name: $p stayed primary" || fail "$name: role changed: $(nodes_state)"
	figures "$name" "cluster (portal) network cut between the nodes for 8 s" 0 3000 10000
	io_verify "$name"
	wait_in_sync 60 && pass "$name: in sync" || fail "$name: not in sync afterwards"
}

scn_partition() {
	local p s name=partition n
	p=$(primary); s=$(other "$p")
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 5
	tb cut all
	sleep 10
	log "$name: during the partition: $(nodes_state)"
	for n in A B; do log "$name: node $n cluster: $(jget "$n" cluster.decision.action cluster.decision.reason cluster.fence cluster.peer_lost)"; done
	io_wait "$name" || return 1
	tb heal
	sleep 3
	mon_stop
	log "$name: after the heal: $(nodes_state)"
	figures "$name" "both links cut (partition)" - 3000 -
	if wait_serving 20; then
		pass "$name: one primary serving after the partition ($(primary))"
		io_verify "$name"
	else
		fail "$name: nobody serving 20 s after the heal"
		grep -E 'cluster: (decision|promot|fenc)|refused' "$TB_STATE/$s/tandemd.log" | tail -n 4 | sed -e "s/^/    $s| /"
	fi
	# bring a fenced node back
	for n in A B; do [ "$(role_of "$n")" != down ] || tb start "$n" >/dev/null || true; done
	if wait_in_sync 90; then pass "$name: in sync again"; else fail "$name: not in sync after the partition (split brain?): $(nodes_state)"; fi
	if [ ! -s "$T_TMP/$name.verify" ]; then
		# nobody served before the return: whoever serves now must have every acknowledged write
		wait_serving 30 && io_verify "$name"
	fi
	return 0
}

setup_or_skip
run_scenario cut-repl scn_cut_repl
run_scenario cut-cluster scn_cut_cluster
run_scenario partition scn_partition
figures_publish
finish
