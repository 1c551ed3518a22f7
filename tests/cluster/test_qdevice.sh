#!/usr/bin/env bash
# tests/cluster/test_qdevice.sh BUILD_DIR: the qdevice tie-breaker path on the
# two-node testbed started with QDEVICE=1 (tests/cluster/testbed.sh: corosync-qnetd
# on 192.0.2.10 in its own namespace on br0, corosync-qdevice per node, model net,
# algorithm ffsplit, tie_breaker lowest, no two_node; tandemd with fencing: qdevice).
#   qd-crash-primary      the primary powered off under load: the survivor is
#                         alone and quorate through the qnetd vote (qdevice
#                         proof), promotes and takes the floating IP
#   qd-partition-move     node B primary, every link between A and B cut (both
#                         still reach qnetd): ffsplit gives the vote to A (lowest
#                         id): B loses quorum and demotes at once, A promotes
#   qd-partition-keep     node A primary, same cut: A keeps the vote and the role,
#                         B (no quorum) stays secondary
#   qd-stale-alone        the secondary crashes, the primary writes alone, then
#                         crashes too; the secondary returns alone: quorate
#                         through the qnetd vote with its peer gone, but its data
#                         was not compared with the peer's since it started, so
#                         it must NOT be promoted (the writes the primary made
#                         alone would be lost); the primary returns, one of the
#                         two serves, every acknowledged write reads back
# Each: never two primaries (both nodes' status sampled), no acknowledged write
# lost (iocheck verify), the longest pause recorded; crash: 0 I/O errors; after
# a heal the nodes resync. Skips (exit 0) when corosync-qnetd / corosync-qdevice
# are not installed and cannot be installed.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"

if ! command -v corosync-qnetd >/dev/null || ! command -v corosync-qdevice >/dev/null; then
	log "installing corosync-qnetd and corosync-qdevice (apt-get)"
	{ DEBIAN_FRONTEND=noninteractive apt-get -qq install -y corosync-qnetd corosync-qdevice \
		|| { apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y corosync-qnetd corosync-qdevice; }; } \
		>"$T_TMP/apt.out" 2>&1 || true
	if ! command -v corosync-qnetd >/dev/null || ! command -v corosync-qdevice >/dev/null; then
		skip_all "corosync-qnetd / corosync-qdevice not installed and apt-get could not install them"
	fi
fi
export QDEVICE=1

# corosync-quorumtool's view of NODE: "quorate=Yes votes=N qdevice=<flags>"
qview() {
	local out
	out=$(timeout 5 bash "$TB" exec "$1" corosync-quorumtool -s 2>/dev/null || true)
	printf 'quorate=%s votes=%s flags=%s' \
		"$(awk -F: '/^Quorate/{gsub(/ /,"",$2); print $2}' <<<"$out")" \
		"$(awk -F: '/^Total votes/{gsub(/ /,"",$2); print $2}' <<<"$out")" \
		"$(awk -F: '/^Flags/{sub(/^ +/,"",$2); gsub(/ /,",",$2); print $2}' <<<"$out")"
}

# the qdevice vote is counted on both nodes (total votes 3)
qdevice_voting() {
	local n
	for n in A B; do [[ "$(qview "$n")" == *"votes=3 "* ]] || return 1; done
}

scn_crash() {
	local name=qd-crash-primary p s took=0
	p=$(primary); s=$(other "$p")
	log "$name: primary $p, secondary $s; $(qview A) / $(qview B)"
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 4
	local t0; t0=$(date +%s.%N)
	tb crash "$p"
	# the survivor: alone, quorate through the qnetd vote, then primary
	local end=$((SECONDS + 20)) tp=
	while [ $SECONDS -lt $end ]; do
		if [ "$(fast_role "$s")" = primary ]; then tp=$(date +%s.%N); break; fi
		sleep 0.2
	done
	[ -z "$tp" ] || log "$name: $s primary $(python3 -c "print('%.1f' % ($tp - $t0))") s after the crash"
	log "$name: survivor $s: $(qview "$s"); cluster: $(jget "$s" cluster.quorate cluster.qdevice cluster.two_node cluster.decision.action cluster.decision.reason)"
	io_finish "$name" || return 1
	mon_stop
	if wait_serving 20 && [ "$(primary)" = "$s" ]; then
		pass "$name: $s took over the primary role and the floating IP"
		took=1
	else
		fail "$name: $s did not take over: $(nodes_state)"
		grep -E 'cluster: (decision|promot|fenc|quor)|refused' "$TB_STATE/$s/tandemd.log" | tail -n 6 | sed -e "s/^/    $s| /"
	fi
	if grep -E 'cluster: promot' "$TB_STATE/$s/tandemd.log" | tail -n 3 | grep -q 'qdevice'; then
		pass "$name: $s promoted with qdevice proof ($(grep -E 'cluster: promot' "$TB_STATE/$s/tandemd.log" | tail -n 1 | sed 's/.*cluster: //'))"
	elif [ "$took" = 1 ]; then
		fail "$name: $s promoted, but its log does not name the qdevice proof: $(grep -E 'cluster: (promot|decision)' "$TB_STATE/$s/tandemd.log" | tail -n 2 | tr '\n' ' ')"
	fi
	[ -s "$TB_STATE/fence.log" ] && fail "$name: the fence command ran with fencing: qdevice" || true
	figures "$name" "primary powered off (crash), qdevice" 0 3000 10000
	[ "$took" = 0 ] || io_verify "$name"
	tb start "$p" >/dev/null
	if wait_in_sync 90; then pass "$name: $p back as secondary, in sync"; else fail "$name: $p did not resync"; fi
	wait_for_votes 20 || fail "$name: the qdevice vote is not counted again after the return: $(qview A) / $(qview B)"
	return 0
}

wait_for_votes() { # SECS
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do qdevice_voting && return 0; sleep 0.5; done
	return 1
}

# make NODE the primary (planned failover) if it is not
make_primary() {
	local n=$1
	[ "$(primary)" = "$n" ] && return 0
	timeout 60 bash "$TB" exec "$(primary)" tandemctl failover "${n,,}" >/dev/null 2>&1 || true
	local end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		[ "$(primary)" = "$n" ] && wait_serving 10 && return 0
		sleep 0.5
	done
	log "could not make $n primary: $(nodes_state)"
	return 1
}

# partition: all links between A and B cut; both still reach qnetd on br0.
# ffsplit, tie_breaker lowest: A holds the vote in an even split.
partition() { # NAME FIRST_PRIMARY
	local name=$1 p=$2 w=A l=B
	make_primary "$p" || return 1
	wait_in_sync 60 || return 1
	wait_for_votes 20 || { fail "$name: qdevice vote not counted before the cut: $(qview A) / $(qview B)"; return 1; }
	log "$name: primary $p; vote holder after the split should be $w (lowest node id)"
	mon_start "$name"
	io_start "$name" "$IO_SECONDS"
	sleep 4
	local t0; t0=$(date +%s.%N)
	tb cut all
	# winner primary and loser not primary
	local end=$((SECONDS + 20)) tw= tl= rw rl now
	while [ $SECONDS -lt $end ]; do
		rw=$(fast_role "$w"); rl=$(fast_role "$l"); now=$(date +%s.%N)
		# the loser counts as demoted on a real answer (or when it is gone),
		# not when its status did not come
		[ -n "$tl" ] || [[ "$rl" != secondary && "$rl" != down ]] || tl=$now
		if [ -z "$tw" ] && [ "$rw" = primary ] && [ -n "$tl" ]; then tw=$now; fi
		[ -n "$tw" ] && [ -n "$tl" ] && break
		sleep 0.2
	done
	# the partition is visible: the loser has lost quorum (its qdevice got no vote)
	end=$((SECONDS + 15))
	while [ $SECONDS -lt $end ] && [[ "$(qview "$l")" != quorate=No* ]]; do sleep 0.3; done
	local tq; tq=$(date +%s.%N)
	sleep 3
	log "$name: during the partition ($l without quorum $(python3 -c "print('%.1f' % ($tq - $t0))") s after the cut): A $(qview A); B $(qview B)"
	[[ "$(qview "$w")" == quorate=Yes* ]] && [[ "$(qview "$l")" == quorate=No* ]] \
		&& pass "$name: $w quorate (qdevice vote), $l not quorate" \
		|| fail "$name: quorum not as expected: A $(qview A); B $(qview B)"
	log "$name: $(nodes_state)"
	if [ "$l" = "$p" ]; then
		if [ -n "$tl" ]; then
			pass "$name: $l (no qdevice vote) demoted $(python3 -c "print('%.1f' % ($tl - $t0))") s after the cut"
		else
			fail "$name: $l (no qdevice vote) still primary 20 s after the cut"
		fi
	fi
	if [ -n "$tw" ]; then
		pass "$name: $w (qdevice vote) is primary $(python3 -c "print('%.1f' % ($tw - $t0))") s after the cut"
	else
		fail "$name: $w (qdevice vote) is not primary 20 s after the cut"
		grep -E 'cluster: (decision|promot|fenc|quor)|refused' "$TB_STATE/$w/tandemd.log" | tail -n 6 | sed -e "s/^/    $w| /"
	fi
	[ "$(role_of "$l")" != primary ] && pass "$name: $l is not primary during the partition ($(jget "$l" cluster.decision.reason))" \
		|| fail "$name: $l primary during the partition"
	io_finish "$name" || return 1
	mon_stop
	figures "$name" "partition (A<->B cut, qnetd reachable), primary $p" 0 3000 10000
	wait_serving 20 && [ "$(primary)" = "$w" ] && io_verify "$name" || fail "$name: $w not serving: $(nodes_state)"
	local th=$SECONDS
	tb heal
	if wait_in_sync 90; then pass "$name: healed: in sync again after $((SECONDS - th)) s"
	else fail "$name: not in sync after the heal: $(nodes_state)"; fi
	[ "$(primary)" = "$w" ] && pass "$name: $w stays primary after the heal" || fail "$name: roles changed after the heal: $(nodes_state)"
	return 0
}
scn_partition_move() { partition qd-partition-move B; }
scn_partition_keep() { partition qd-partition-keep A; }

scn_stale_alone() {
	local name=qd-stale-alone p s q
	p=$(primary); s=$(other "$p")
	log "$name: primary $p, secondary $s"
	mon_start "$name"
	# the LUN has no server for a while: the initiator waits it out
	IO_GIVE_UP=120 io_start "$name" 60
	sleep 4
	tb crash "$s"
	sleep 6   # $p proves $s gone (qdevice) and writes alone
	tb crash "$p"
	sleep 1
	tb start "$s" >/dev/null
	never_promoted "$name" "$s" 12 "it is alone, quorate, its peer gone, and its data missed $p's last writes" || true
	q=$(jget "$s" cluster.quorate)
	log "$name: $s alone: $(qview "$s"); decision: $(jget "$s" cluster.decision.action cluster.decision.reason)"
	[ "$q" = true ] || fail "$name: $s alone is not quorate (the qdevice vote should make it so): the scenario did not test what it means to"
	# either may serve then: $p, or $s once the replication link (which
	# connects before corosync's membership does) resynced it from $p
	tb start "$p" >/dev/null
	if wait_serving 60; then pass "$name: $(primary) serves after $p returned"
	else fail "$name: nobody serves after $p returned: $(nodes_state)"; fi
	io_finish "$name" || return 1
	mon_stop
	figures "$name" "secondary, then primary crashed; the stale one returned first (qdevice)" 0 - -
	io_verify "$name"
	if wait_in_sync 90; then pass "$name: $s resynced from $p"; else fail "$name: not in sync afterwards: $(nodes_state)"; fi
	return 0
}

setup_or_skip
if wait_for_votes 20; then pass "testbed up: qdevice vote counted on both nodes ($(qview A))"
else fail "testbed up: qdevice vote not counted: $(qview A) / $(qview B)"; fi
log "node A cluster: $(jget A cluster.quorate cluster.qdevice cluster.two_node cluster.fencing)"
run_scenario qd-crash-primary scn_crash
run_scenario qd-partition-move scn_partition_move
run_scenario qd-partition-keep scn_partition_keep
run_scenario qd-stale-alone scn_stale_alone
figures_publish
finish
