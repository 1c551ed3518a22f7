#!/usr/bin/env bash
# tests/repl/test_soak.sh BUILD_DIR: faults in a row on ONE pair, never reset.
# test_faults.sh starts each scenario from a fresh pair; real clusters do not:
# a node killed during a resync, a switch right after a crash, both nodes
# losing power together. Here every round starts from whatever the previous
# one left, with writes in flight (iocheck, QD 32, one log for the whole run),
# and ends with the same proof:
#   - the pair is back to Connected/UpToDate on both, nothing out of sync
#     (a Primary P and a Secondary S; which node is which changes)
#   - every write ever acknowledged (all rounds) is on P (iocheck verify)
#   - the backing files of both nodes are identical
# Rounds (P Primary, S Secondary when a round starts):
#   kill-secondary   SIGKILL S under load, restart it: P serves on, S resyncs
#   kill-primary     SIGKILL P under load, S promoted (--force: the peer is
#                    gone), the initiator moves over after its own replacement
#                    timeout (15 s, like open-iscsi/ESXi), old P restarts as
#                    Secondary and resyncs
#   kill-both        both SIGKILLed under load (power loss), both restarted:
#                    the old P is promoted, the activity log's hot extents
#                    make the two equal again
#   link-cut         replication link down 3 s under load, healed
#   switch           planned: P secondary, S primary under load; the
#                    initiator follows ALUA Standby to the other portal
#   kill-synctarget  link cut under load, healed, S killed while it is the
#                    SyncTarget, restarted: the resync resumes and completes
#   kill-syncsource  link cut under load, healed, P killed while it is the
#                    SyncSource: S (Inconsistent) must refuse promotion; P
#                    restarts, is promoted again and finishes the resync
#   cut-during-resync  link cut under load, healed, cut again during the
#                    resync while more writes land, healed: the resync resumes
#                    and covers the new regions too
#   kill-s-then-p    S killed under load, P writes alone, P killed; S started
#                    first refuses plain promotion (peer unknown); P started:
#                    the generation ids make P the sync source
#   switch-during-resync  the operator demotes P while S is the SyncTarget:
#                    S refuses promotion (even forced), P takes the role back;
#                    the initiator (both portals) sees no error
#   verify           under load: resync_rate raised by reload on both, online
#                    verify of the whole LUN finds no difference (writes in
#                    flight must not count), rate reloaded back
# Without SOAK_SEED the rounds run once each in the order of ALL_ROUNDS (CI). With
# SOAK_SEED=N, SOAK_ROUNDS (default 20) rounds are drawn at random from that
# seed (printed, so a failure can be replayed); SOAK_ONLY="a b" restricts the
# draw; SOAK_SEQ="a b c" runs exactly those rounds (replaying a failure).
# resync_rate is 8M here (R_RATE) so that a resync of the 32 MiB write region
# lasts long enough to be interrupted.
set -euo pipefail
export R_RATE=${R_RATE:-8M}
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
require_tool md5sum python3

# kill-both right after kill-primary: the node that crashed as Primary is then
# the Secondary when the other crashes as Primary (two crash flags must not
# read as a split brain, REPLICATION.md audit row 10)
# verify (which reloads resync_rate up and back down) before the rounds that
# kill a node mid-resync: the lowered rate must hold at once (audit row 11)
ALL_ROUNDS=(kill-secondary kill-primary kill-both link-cut switch verify kill-synctarget kill-syncsource cut-during-resync switch-during-resync kill-s-then-p)
BLOCKS=8192   # 32 MiB region: 512 bitmap regions of 64 KiB
P=A S=B
WLOG=$T_TMP/soak.log   # one iocheck log for the whole run (sequences continue)
ACKED=0                # its entries after the last round

url_of() { lun_url "$1"; }
# load SECONDS NODE...: iocheck writes through those nodes' portals, in the
# background (IOC_PID)
load() {
	local secs=$1 n urls=; shift
	for n in "$@"; do urls+=${urls:+,}$(url_of "$n"); done
	bg_iocheck "round$ROUND" --url "$urls" --blocks "$BLOCKS" --qd 32 --seconds "$secs" --log "$WLOG"
}
wait_load() {
	if wait_iocheck "$IOC_PID" "round$ROUND"; then
		pass "$R: the initiator saw no I/O error"
	else
		fail "$R: I/O errors at the initiator"
	fi
	IOC_PID=
}
# the proof every round ends with
settled() {
	local a b
	if rwait "$P" 120 role=primary connection=Connected disk=UpToDate peer_disk=UpToDate out_of_sync_kib=0 \
		&& rwait "$S" 20 role=secondary connection=Connected disk=UpToDate peer_disk=UpToDate out_of_sync_kib=0; then
		pass "$R: $P Primary, $S Secondary, connected, both UpToDate, nothing out of sync"
	else
		fail "$R: not settled: $(rstate A); $(rstate B)"
		return 1
	fi
	local before=$ACKED
	ACKED=$(wc -l <"$WLOG" 2>/dev/null || echo 0)
	if [ "$ACKED" -gt "$before" ]; then
		pass "$R: the initiator's log grew by $((ACKED - before)) acknowledged writes"
	else
		fail "$R: no acknowledged write in this round (log: $ACKED entries)"
	fi
	check "$R: every write acknowledged so far (all rounds) is on $P" iocheck verify --url "$(url_of "$P")" --log "$WLOG"
	grep -E '^verified=' "$T_TMP/last.out" | sed -e "s/^/[$T_NAME]   /" || true
	a=$(md5_of A); b=$(md5_of B)
	if [ "$a" = "$b" ]; then pass "$R: backing files identical"; else fail "$R: backing files differ (A $a, B $b)"; fi
}
# promote NODE [--force]
promote() { local n=$1; shift; ctl "$n" primary "$@" >"$T_TMP/promote.out" 2>&1; }

round_kill_secondary() {
	load 8 "$P"
	sleep 2
	node_kill "$S"
	sleep 2
	node_start "$S" || return 1
	wait_load
}

round_kill_primary() {
	local old=$P
	# the initiator knows both portals and keeps its default 15 s replacement timeout
	load 24 "$P" "$S"
	sleep 2
	node_kill "$P"
	rwait "$S" 15 connection!=Connected || return 1
	if promote "$S" --force; then pass "$R: $S promoted after $P died"; else fail "$R: $S not promoted: $(cat "$T_TMP/promote.out")"; return 1; fi
	P=$S S=$old
	wait_load
	node_start "$S" || return 1
	if rwait "$S" 30 role=secondary; then pass "$R: restarted $S comes back Secondary"; else fail "$R: restarted $S is $(rget "$S" role)"; fi
}

round_link_cut() {
	load 9 "$P"
	sleep 2
	link_cut
	rwait "$P" 15 connection!=Connected || return 1
	sleep 3
	link_heal
	wait_load
}

round_switch() {
	local old=$P
	load 10 "$P" "$S"
	sleep 3
	if ctl "$P" secondary >"$T_TMP/sw.out" 2>&1; then pass "$R: $P demoted under load"; else fail "$R: demote $P: $(cat "$T_TMP/sw.out")"; return 1; fi
	if promote "$S"; then pass "$R: $S promoted right after"; else fail "$R: promote $S: $(cat "$T_TMP/promote.out")"; return 1; fi
	P=$S S=$old
	wait_load
}

# Link cut while writing, heal, and wait until the resync is running.
resync_running() {
	load 6 "$P"
	sleep 1
	link_cut
	rwait "$P" 15 connection!=Connected || return 1
	wait_load   # the writes of the outage done: out of sync, nothing more in flight
	log "$R: out of sync before the heal: $(rget "$P" out_of_sync_kib) KiB"
	link_heal
	if rwait "$S" 30 connection=SyncTarget; then
		pass "$R: $S is SyncTarget ($(rstate "$S"))"
	else
		fail "$R: $S never became SyncTarget: $(rstate "$S")"
		return 1
	fi
}

# mid_resync NODE: the node's LUN still has regions to resync (32 MiB at 8M
# takes about 4 s: the kill came before the end unless the rate did not hold)
mid_resync() {
	local oos
	oos=$(rget "$1" out_of_sync_kib)
	if [ "${oos:-0}" -gt 0 ]; then
		pass "$R: killed mid-resync ($oos KiB still out of sync on $1)"
	else
		fail "$R: the resync was over before the kill: resync_rate not held? ($(rstate "$1"))"
		return 1
	fi
}

round_kill_synctarget() {
	resync_running || return 1
	node_kill "$S"
	mid_resync "$P" || return 1
	load 6 "$P"
	sleep 1
	node_start "$S" || return 1
	wait_load
}

round_kill_syncsource() {
	resync_running || return 1
	node_kill "$P"
	rwait "$S" 15 connection!=Connected || return 1
	mid_resync "$S" || return 1
	if ctl "$S" primary --force >"$T_TMP/ss.out" 2>&1; then
		fail "$R: $S promoted while Inconsistent (half synced): $(rstate "$S")"
		return 1
	fi
	pass "$R: $S refuses promotion, even forced: $(tail -n 1 "$T_TMP/ss.out")"
	node_start "$P" || return 1
	rwait "$P" 30 "connection=SyncSource|Connected" || return 1
	if promote "$P"; then pass "$R: $P promoted again ($(rstate "$P"))"; else fail "$R: $P not promoted: $(cat "$T_TMP/promote.out")"; return 1; fi
	load 5 "$P"
	wait_load
}

round_switch_during_resync() {
	resync_running || return 1
	load 8 "$P" "$S"
	sleep 1
	if ctl "$P" secondary >"$T_TMP/sw.out" 2>&1; then pass "$R: $P demoted during the resync"; else fail "$R: demote $P: $(cat "$T_TMP/sw.out")"; return 1; fi
	if ctl "$S" primary >"$T_TMP/sp.out" 2>&1 || ctl "$S" primary --force >"$T_TMP/sp.out" 2>&1; then
		fail "$R: $S promoted while it is the SyncTarget: $(rstate "$S")"
		return 1
	fi
	pass "$R: $S (SyncTarget) refuses promotion, even forced: $(tail -n 1 "$T_TMP/sp.out")"
	if promote "$P"; then pass "$R: $P takes the role back"; else fail "$R: $P: $(cat "$T_TMP/promote.out")"; return 1; fi
	wait_load   # the initiator rode out the moment without a Primary
}

round_cut_during_resync() {
	resync_running || return 1
	link_cut
	rwait "$P" 15 connection!=Connected || return 1
	load 4 "$P"   # more regions go out of sync while the resync is stopped
	wait_load
	link_heal
}

round_kill_s_then_p() {
	local oos
	load 6 "$P"
	sleep 2
	node_kill "$S"
	wait_load   # P alone: S's copy is now behind
	oos=$(rget "$P" out_of_sync_kib)
	log "$R: $P wrote alone, $oos KiB out of sync"
	node_kill "$P"
	node_start "$S" || return 1
	sleep 1
	if ctl "$S" primary >"$T_TMP/sp.out" 2>&1; then
		fail "$R: $S (behind, peer unknown) promoted without --force: $(rstate "$S")"
		return 1
	fi
	pass "$R: $S, started alone and behind, refuses plain promotion: $(tail -n 1 "$T_TMP/sp.out")"
	node_start "$P" || return 1
	# the generation ids say who is behind, whatever the start order
	local dec
	if rwait "$P" 30 "connection=SyncSource|Connected" && dec=$(rget "$P" last_decision) && [[ $dec == source* ]]; then
		pass "$R: $P (ahead) is the sync source after both restarts ($dec)"
	else
		fail "$R: wrong resync direction: $(rstate "$P"); $(rstate "$S")"
		return 1
	fi
	if promote "$P"; then pass "$R: $P promoted again"; else fail "$R: $P not promoted: $(cat "$T_TMP/promote.out")"; return 1; fi
	load 4 "$P"
	wait_load
}

# set_rate NODE RATE: resync_rate in the node's config, applied by reload
set_rate() { conf_set "$1" resync_rate "$2" && ctl "$1" reload >"$T_TMP/reload.out" 2>&1; }

round_verify() {
	local runs
	load 12 "$P"
	sleep 1
	# a faster rate for the verify, by reload under load (applies at once)
	if set_rate "$P" 200M && set_rate "$S" 200M && rwait "$P" 5 resync_rate=$((200 << 20)); then
		pass "$R: reload under load: resync_rate 200M on both"
	else
		fail "$R: reload: $(cat "$T_TMP/reload.out"); $(rget "$P" resync_rate)"
		return 1
	fi
	runs=$(rget "$P" verify.runs)
	ctl "$P" verify "$LUN_NAME" >"$T_TMP/verify.out" 2>&1 || { fail "$R: verify: $(cat "$T_TMP/verify.out")"; return 1; }
	if rwait "$P" 60 verify.running=false "verify.runs!=$runs"; then
		if [ "$(rget "$P" verify.mismatched_kib)" = 0 ]; then
			pass "$R: online verify under load: no difference (writes in flight are not reported)"
		else
			fail "$R: online verify under load reported $(rget "$P" verify.mismatched_kib) KiB differing"
		fi
	else
		fail "$R: online verify did not finish in 60 s"
	fi
	wait_load
	set_rate "$P" "$R_RATE" && set_rate "$S" "$R_RATE" || { fail "$R: reload back: $(cat "$T_TMP/reload.out")"; return 1; }
}

round_kill_both() {
	# the initiator knows both portals; both nodes come back within its
	# timeouts, so it must see no error at all
	load 20 "$P" "$S"
	sleep 3
	node_kill "$P"
	node_kill "$S"
	log "$R: both killed; restarting"
	node_start "$P" || return 1
	node_start "$S" || return 1
	rwait "$P" 30 "connection=Connected|SyncSource" || return 1
	if promote "$P"; then pass "$R: $P promoted after the double crash ($(rstate "$P"))"; else fail "$R: $P not promoted: $(cat "$T_TMP/promote.out")"; return 1; fi
	wait_load
}

soak_rounds "${ALL_ROUNDS[@]}"

net_setup
check "a fresh pair (create-md --new-device, A Primary)" pair_fresh
ROUND=0
for name in "${ROUNDS[@]}"; do
	ROUND=$((ROUND + 1))
	R="round $ROUND ($name, $P Primary)"
	t0=$(date +%s)
	log "==== $R"
	if ! "round_${name//-/_}"; then
		fail "$R: aborted; $(rstate A); $(rstate B)"
		break
	fi
	settled || break
	log "==== $R took $(( $(date +%s) - t0 ))s"
done
node_stop A
node_stop B
finish
