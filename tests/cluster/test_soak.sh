#!/usr/bin/env bash
# tests/cluster/test_soak.sh BUILD_DIR: failures in a row on ONE cluster, never
# reset, with the built-in manager deciding every role.
# test_failover.sh and test_links.sh start each scenario from a healthy pair;
# here each round starts from whatever the previous one left (which node is
# primary, what the metadata remembers of earlier crashes), writes go on through
# the floating portal the whole time (iocheck, QD 32, ONE log for the whole run),
# and nobody types `tandemctl primary`: corosync membership, fencing and the
# replication states decide. Every round ends with the same proof:
#   - one primary serving the floating portal, both nodes Connected/UpToDate,
#     nothing out of sync
#   - never two primaries, the floating IP never on both nodes (sampled)
#   - the initiator saw no I/O error (pauses are expected and reported)
#   - every write ever acknowledged (all rounds) reads back (iocheck verify)
#   - the two backing files are identical
# Rounds (P primary, S secondary when the round starts):
#   crash-primary      P powered off under load: S fences it, takes over; P
#                      returns as secondary and resyncs
#   crash-secondary    S powered off: P fences it and serves on; S returns
#   kill-primary       SIGKILL of P's tandemd (its corosync stays): S fences
#                      P's node and takes over
#   cut-repl           replication link cut 6 s: P outdates S (over corosync)
#                      and serves on; heal, resync
#   failover           planned `tandemctl failover` under load
#   crash-both         both powered off under load; S restarted first: the
#                      manager picks a primary, the activity log makes the
#                      two equal again
#   crash-during-resync  P crashes, S takes over; P returns and while it is
#                      the SyncTarget S crashes: P (Inconsistent) must not be
#                      promoted; S returns and serves; the resync completes
#   cut-then-crash-primary  repl link cut, P writes alone (S Outdated), P
#                      crashes, link healed: S (Outdated) must not be
#                      promoted; P returns and serves
#   crash-s-then-p     S crashes, P writes alone, P crashes; S started first
#                      must not be promoted; P returns and serves
#   partition          both links cut 10 s: one node fences the other; the
#                      survivor serves; the fenced one returns and resyncs
# Without SOAK_SEED every round runs once in the order of ALL_ROUNDS (CI). With
# SOAK_SEED=N, SOAK_ROUNDS (default 20) rounds are drawn from that seed
# (printed); SOAK_ONLY="a b" restricts the draw; SOAK_SEQ="a b" replays rounds.
# resync_rate is 8M (TB_EXTRA_REPL) and the write region 32 MiB, so a resync
# after a few seconds of writes lasts long enough to be interrupted.
# QDEVICE=1 runs the same rounds on the qdevice testbed (no two_node, no fence
# command): a node that returns alone is quorate there, so only the data
# checks (known_current) keep a stale one from serving.
set -euo pipefail
export TB_EXTRA_REPL=${TB_EXTRA_REPL:-"    resync_rate: 8M"}
export IO_BLOCKS=${IO_BLOCKS:-8192}
# the initiator waits out every window without a primary (the rounds that
# refuse a promotion keep it waiting for a node's return)
export IO_GIVE_UP=${IO_GIVE_UP:-120}
ALL_ROUNDS=(crash-primary crash-secondary kill-primary cut-repl failover crash-both crash-during-resync cut-then-crash-primary crash-s-then-p partition)

source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"

P= S= R= ACKED=0
name_of() { [ "$1" = A ] && echo a || echo b; }   # corosync/tandem node names

# the node's replication connection state (empty when tandemd does not answer)
conn_of() { jget "$1" lun.connection; }
# wait_for SECS DESCRIPTION CMD...: polls CMD every 0.5 s
wait_for() {
	local end=$((SECONDS + $1)) what=$2; shift 2
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.5
	done
	log "$R: no $what after $1 s: $(nodes_state)"
	return 1
}
is_primary() { [ "$(role_of "$1")" = primary ]; }
is_sync_target() { [ "$(conn_of "$1")" = SyncTarget ]; }
disk_is() { [ "$(jget "$1" lun.disk)" = "$2" ]; }
# took_over NODE: NODE is the one serving primary within 30 s
took_over() {
	if wait_serving 30 && [ "$(primary)" = "$1" ]; then
		pass "$R: $1 took over the primary role and the floating IP"
	else
		fail "$R: $1 did not take over: $(nodes_state)"
		grep -E 'cluster: (decision|promot|fenc)|refused' "$TB_STATE/$1/tandemd.log" | tail -n 4 | sed -e "s/^/    $1| /"
		return 1
	fi
}
node_back() { tb start "$1" >/dev/null || { fail "$R: could not start $1 again"; return 1; }; }
# serves_again NODE: after its return NODE is the one serving primary
# With QDEVICE=1 either node may serve then: the replication link connects
# before corosync's membership does, and once the other node is resynced it
# is quorate through the qdevice alone (every acknowledged write is verified
# either way).
serves_again() {
	if [ "${QDEVICE:-0}" = 1 ] && wait_serving 60; then
		pass "$R: $(primary) serves after $1's return"
	elif wait_serving 60 && [ "$(primary)" = "$1" ]; then
		pass "$R: $1 serves again after its return"
	else
		fail "$R: $1 does not serve after its return: $(nodes_state)"
		return 1
	fi
}

# the proof every round ends with
settled() {
	local before=$ACKED a b
	if wait_serving 60 && wait_in_sync 120; then
		P=$(primary); S=$(other "$P")
		pass "$R: $P primary serving $TB_FLOAT, $S secondary, both UpToDate, nothing out of sync"
	else
		fail "$R: not settled: $(nodes_state)"
		return 1
	fi
	ACKED=$(wc -l <"$T_TMP/soak.log" 2>/dev/null || echo 0)
	if [ "$ACKED" -gt "$before" ]; then
		pass "$R: the initiator's log grew by $((ACKED - before)) acknowledged writes"
	else
		fail "$R: no acknowledged write in this round (log: $ACKED entries)"
	fi
	io_verify soak || return 1
	if cmp -s "$TB_STATE/A/lun0.img" "$TB_STATE/B/lun0.img"; then
		pass "$R: backing files identical"
	else
		a=$(md5sum <"$TB_STATE/A/lun0.img" | cut -c1-12); b=$(md5sum <"$TB_STATE/B/lun0.img" | cut -c1-12)
		fail "$R: backing files differ (A $a, B $b)"
		return 1
	fi
}
# load SECS: writes through the floating portal for SECS seconds
load() { io_start soak "$1"; }
# wait_load: the round's events are over: 5 s more writes on the serving
# node, then the load ends (its length is only an upper bound)
wait_load() {
	io_finish soak 5 || { fail "$R: iocheck printed no summary"; return 1; }
	if [ "$IO_ERRORS" = 0 ]; then
		pass "$R: the initiator saw no I/O error (longest pause ${IO_PAUSE_MS} ms)"
	else
		fail "$R: $IO_ERRORS I/O errors seen by the initiator"
	fi
}

# cut_repl_outdated: the replication link cut (corosync keeps its ring): the
# primary has S outdate itself over CPG before it writes on alone
cut_repl_outdated() {
	tb cut repl
	if wait_for 20 "Outdated on $S" disk_is "$S" Outdated; then
		pass "$R: $S marked Outdated while the link is cut"
	else
		fail "$R: $S not Outdated during the cut"
		return 1
	fi
}

round_crash_primary() {
	load 25
	sleep 4
	tb crash "$P"
	took_over "$S" || return 1
	sleep 2
	node_back "$P" || return 1
	wait_load
}

round_crash_secondary() {
	load 16
	sleep 4
	tb crash "$S"
	sleep 5
	if [ "$(primary)" = "$P" ]; then pass "$R: $P serves on alone"; else fail "$R: $P is no longer primary: $(nodes_state)"; fi
	node_back "$S" || return 1
	wait_load
}

# fences_done NODE: how many fences NODE's tandemd has carried out so far
fences_done() { grep -c 'fence command succeeded' "$TB_STATE/$1/tandemd.log" 2>/dev/null || true; }
# fenced_by NODE BEFORE SECS: NODE carried out a fence after BEFORE were counted
fenced_by() {
	local i
	for i in $(seq 1 $(( $3 * 5 ))); do
		[ "$(fences_done "$1")" -gt "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

round_kill_primary() {
	local f0
	load 25
	sleep 4
	f0=$(fences_done "$S")
	tb kill "$P" tandemd
	if [ "${QDEVICE:-0}" = 1 ]; then
		# P's node stays in the membership and nothing proves it released
		# the address: S waits for P's tandemd to return (docs/CLUSTER.md)
		never_promoted "$R" "$S" 6 "$P's node is up (qdevice cannot fence it)" || return 1
		node_back "$P" || return 1
		serves_again "$P" || return 1
	else
		took_over "$S" || return 1
		# S powers P's node off once its writes need it (the first write
		# after the promotion): bringing P back before that lets the
		# fence kill the node while it starts (a CI run, session 12)
		fenced_by "$S" "$f0" 20 || { fail "$R: $S did not fence $P: $(nodes_state)"; return 1; }
		node_back "$P" || return 1
	fi
	wait_load
}

round_cut_repl() {
	load 16
	sleep 4
	cut_repl_outdated || return 1
	sleep 3
	tb heal
	wait_load
	if [ "$(primary)" = "$P" ]; then pass "$R: $P stayed primary"; else fail "$R: roles changed: $(nodes_state)"; fi
}

round_failover() {
	local rc=0
	load 16
	sleep 4
	timeout 60 bash "$TB" exec "$P" tandemctl failover >"$T_TMP/failover.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && wait_serving 20 && [ "$(primary)" = "$S" ]; then
		pass "$R: planned failover $P -> $S"
	else
		fail "$R: planned failover $P -> $S failed (exit $rc: $(tr '\n' ' ' <"$T_TMP/failover.out")): $(nodes_state)"
	fi
	wait_load
}

round_crash_both() {
	load 40
	sleep 4
	tb crash "$P"
	tb crash "$S"
	sleep 2
	node_back "$S" || return 1
	node_back "$P" || return 1
	if wait_serving 60; then
		pass "$R: $(primary) primary after both crashed (was $P)"
	else
		fail "$R: nobody serves after both returned"
		return 1
	fi
	wait_load
}

round_crash_during_resync() {
	load 60
	sleep 4
	tb crash "$P"
	took_over "$S" || return 1
	sleep 4   # writes land on S only: P misses them
	node_back "$P" || return 1
	if wait_for 30 "SyncTarget on $P" is_sync_target "$P"; then
		pass "$R: $P returned as SyncTarget ($(jget "$P" lun.out_of_sync_kib) KiB to go)"
	else
		fail "$R: $P never seen as SyncTarget (resync too short to interrupt?)"
		return 1
	fi
	tb crash "$S"
	log "$R: $S crashed while $P is the SyncTarget"
	never_promoted "$R" "$P" 8 "it is Inconsistent (half resynced)" || return 1
	node_back "$S" || return 1
	serves_again "$S" || return 1
	wait_load
}

round_cut_then_crash_primary() {
	load 60
	sleep 4
	cut_repl_outdated || return 1
	sleep 3   # P writes alone
	tb crash "$P"
	tb heal
	log "$R: $P crashed while writing alone, links healed"
	never_promoted "$R" "$S" 8 "it is Outdated" || return 1
	node_back "$P" || return 1
	serves_again "$P" || return 1
	wait_load
}

round_crash_s_then_p() {
	load 60
	sleep 4
	tb crash "$S"
	sleep 5   # P fences S and writes alone
	tb crash "$P"
	sleep 1
	node_back "$S" || return 1
	log "$R: $S started first, $P still down"
	never_promoted "$R" "$S" 8 "it missed $P's last writes" || return 1
	node_back "$P" || return 1
	serves_again "$P" || return 1
	wait_load
}

round_partition() {
	local n
	load 30
	sleep 4
	tb cut all
	sleep 10
	log "$R: during the partition: $(nodes_state)"
	tb heal
	sleep 2
	for n in A B; do [ "$(role_of "$n")" != down ] || node_back "$n" || return 1; done
	if wait_serving 60; then pass "$R: $(primary) serves after the partition (was $P)"; else fail "$R: nobody serves after the partition"; return 1; fi
	wait_load
}

soak_rounds "${ALL_ROUNDS[@]}"   # before the testbed: a bad knob exits 2 at once
setup_or_skip
P=$(primary); S=$(other "$P")
ROUND=0
for name in "${ROUNDS[@]}"; do
	ROUND=$((ROUND + 1))
	R="round $ROUND ($name, $P primary)"
	t0=$SECONDS
	log "==== $R"
	mon_start "round$ROUND"
	rc=0
	"round_${name//-/_}" || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$R: aborted; $(nodes_state)"
		tb logs A 15 2>/dev/null | sed -e 's/^/    A| /' || true
		tb logs B 15 2>/dev/null | sed -e 's/^/    B| /' || true
		break
	fi
	mon_stop
	settled || break
	log "==== $R took $((SECONDS - t0)) s"
done
[ -z "$MON_PID" ] || mon_stop
finish
