#!/usr/bin/env bash
# tests/repl/test_faults.sh BUILD_DIR: faults of a replicated pair under load.
# Each scenario starts from a fresh pair (create-md --new-device on two zeroed
# files, both connected, A Primary) so that one failure does not cascade:
#   kill-secondary  SIGKILL B during iocheck writes, restart it: A keeps serving
#                   (0 I/O errors), only dirty regions resync (resync_bytes_sent
#                   small vs the device), backing files then identical
#   kill-primary    SIGKILL A during writes, promote B: iocheck (URLs A,B) moves
#                   to B with 0 errors, every acknowledged write verified on B;
#                   A restarted rejoins as Secondary, resyncs only hot extents
#   link-cut        replication link down during writes: A keeps serving, records
#                   out-of-sync regions; link up: B resyncs, files identical
#   split-brain     link cut, B promoted with --force, writes on both, link up:
#                   split brain reported on both, no automatic sync; resolved by
#                   discard-my-data + connect on B: A's data wins everywhere
#   bad-crc         `tandemctl debug corrupt-next-crc` on A during writes: B
#                   rejects the message (log), the link resets and recovers, data equal
#   wrong-secret    B has another secret: never connects, a clear log line on a
#                   node, B's backing file untouched while A takes writes; A's
#                   tcp_congestion names no algorithm: one log line, the
#                   kernel's default on every link attempt
#   pr-failover     persistent reservations follow the data (tests/repl/pr_client.py,
#                   two initiator ports X and Y): registered and reserved on A,
#                   B (Secondary, standby port) reports the same keys and holder
#                   and refuses a PR OUT (NOT READY 04h/0Bh); after a hand-made
#                   switch B enforces X's reservation (Y's write: RESERVATION
#                   CONFLICT, X's: GOOD); Y preempts X on B and A sees it; A
#                   restarted (no APTPL: an empty record) gets B's record when
#                   the link comes up; a change made on B while A is down
#                   reaches A when it returns
#   disk-error      A's LUN on fileio under tests/tools/fault_shim.c: a write
#                   A's disk fails (the peer wrote it) gets an error and is
#                   marked out of sync on A; after a switch to B the next
#                   negotiation resyncs it from B, the Primary (files
#                   identical); a verify whose local reads fail
#                   counts every chunk as differing (before: 0); a resync
#                   whose source reads fail stops (StandAlone, B Inconsistent
#                   and not promotable) instead of reading for ever, and
#                   finishes after `tandemctl connect` once the disk reads;
#                   a resync target whose final flush fails stops too (it
#                   holds until the device is reopened), and resyncs after a
#                   restart; a target whose disk fails resync data makes
#                   the source stop the same way
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
require_tool qemu-io md5sum python3
ONLY_SCN=${ONLY_SCN:-}   # e.g. ONLY_SCN=split-brain

UA=$(lun_url A); UB=$(lun_url B)
SMALL=$((R_SIZE_BYTES / 8))   # "only dirty regions": resync must stay below this

same_data() { # what
	local a b
	a=$(md5_of A); b=$(md5_of B)
	if [ "$a" = "$b" ]; then pass "$1: backing files identical ($a)"; else fail "$1: backing files differ (A $a, B $b)"; fi
}
logsize() { stat -c %s "$(node_log "$1")" 2>/dev/null || echo 0; }
log_since() { tail -c +"$(( $2 + 1 ))" "$(node_log "$1")" 2>/dev/null; }
num() { local v; v=$(rget "$1" "$2" 2>/dev/null) || v=; [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0; }
primary_any() { ctl "$1" primary || ctl "$1" primary --force; }

scn_kill_secondary() {
	pair_fresh || return 1
	local before after sent
	before=$(num A resync_bytes_sent)
	bg_iocheck ks --url "$UA" --blocks 2048 --qd 32 --seconds 10 --log "$T_TMP/ks.log"
	sleep 3
	node_kill B
	log "B killed; $(rstate A)"
	sleep 3
	node_start B || return 1
	if wait_iocheck "$IOC_PID" ks; then pass "kill-secondary: A kept serving writes (0 I/O errors)"; else fail "kill-secondary: I/O errors on A while B was dead"; fi
	grep -q 'role=primary' <<<"$(rstate A)" && pass "kill-secondary: A still Primary" || fail "kill-secondary: A lost its role: $(rstate A)"
	if in_sync 90; then pass "kill-secondary: B resynced after restart"; else fail "kill-secondary: B did not resync"; return 1; fi
	after=$(num A resync_bytes_sent)
	sent=$(( after >= before ? after - before : after ))
	log "kill-secondary: resync sent $sent bytes (device $R_SIZE_BYTES, written region 8 MiB)"
	if [ "$sent" -gt 0 ] && [ "$sent" -le "$SMALL" ]; then
		pass "kill-secondary: only dirty regions resynced ($sent bytes <= $SMALL)"
	else
		fail "kill-secondary: resync sent $sent bytes (want 0 < x <= $SMALL)"
	fi
	same_data kill-secondary
	check "kill-secondary: every acknowledged write on A" iocheck verify --url "$UA" --log "$T_TMP/ks.log"
}

scn_kill_primary() {
	pair_fresh || return 1
	local before after sent
	# the initiator knows both portals; it moves to B only after its
	# replacement timeout (iocheck's default 15 s, no faster than a real
	# initiator), so the run lasts long enough to write on B afterwards
	bg_iocheck kp --url "$UA,$UB" --blocks 2048 --qd 32 --seconds 26 --log "$T_TMP/kp.log"
	sleep 3
	node_kill A
	log "A killed"
	if rwait B 15 connection!=Connected; then pass "kill-primary: B notices the dead primary"; else fail "kill-primary: B still Connected to a dead peer"; fi
	if primary_any B; then pass "kill-primary: B promoted ($(rstate B))"; else fail "kill-primary: B cannot be promoted: $(ctl B primary --force 2>&1 | tail -n 1)"; fi
	if wait_iocheck "$IOC_PID" kp; then pass "kill-primary: writes continued on B, 0 I/O errors"; else fail "kill-primary: I/O errors across the failover"; fi
	check "kill-primary: every write acknowledged by A or B is on B (iocheck verify)" iocheck verify --url "$UB" --log "$T_TMP/kp.log"
	grep -E '^verified=' "$T_TMP/last.out" || true
	before=$(num B resync_bytes_sent)
	node_start A || return 1
	if rwait A 20 role=secondary; then pass "kill-primary: restarted A comes back Secondary"; else fail "kill-primary: A came back as $(rget A role)"; fi
	if in_sync 90; then pass "kill-primary: A resynced from B"; else fail "kill-primary: A did not resync"; return 1; fi
	after=$(num B resync_bytes_sent)
	sent=$(( after >= before ? after - before : after ))
	log "kill-primary: resync to A sent $sent bytes"
	if [ "$sent" -gt 0 ] && [ "$sent" -le "$SMALL" ]; then
		pass "kill-primary: only hot extents + new writes resynced ($sent bytes <= $SMALL)"
	else
		fail "kill-primary: resync sent $sent bytes (want 0 < x <= $SMALL)"
	fi
	same_data kill-primary
}

scn_link_cut() {
	pair_fresh || return 1
	bg_iocheck lc --url "$UA" --blocks 2048 --qd 32 --seconds 12 --log "$T_TMP/lc.log"
	sleep 2
	link_cut
	log "replication link cut"
	if rwait A 15 connection!=Connected; then pass "link-cut: A notices the cut ($(rstate A))"; else fail "link-cut: A still Connected"; fi
	sleep 2
	local oos
	oos=$(num A out_of_sync_kib)
	if [ "$oos" -gt 0 ]; then pass "link-cut: A records out-of-sync regions ($oos KiB)"; else fail "link-cut: out_of_sync_kib=$oos while writing without the peer"; fi
	grep -q 'role=primary' <<<"$(rstate A)" && pass "link-cut: A still Primary" || fail "link-cut: A: $(rstate A)"
	link_heal
	log "replication link healed"
	if wait_iocheck "$IOC_PID" lc; then pass "link-cut: A kept serving (0 I/O errors)"; else fail "link-cut: I/O errors during the cut"; fi
	if in_sync 90; then pass "link-cut: B resynced after the heal"; else fail "link-cut: no resync after the heal"; return 1; fi
	same_data link-cut
	check "link-cut: every acknowledged write on A" iocheck verify --url "$UA" --log "$T_TMP/lc.log"
}

scn_split_brain() {
	pair_fresh || return 1
	link_cut
	rwait A 15 connection!=Connected && rwait B 15 connection!=Connected || { log "nodes did not notice the cut"; return 1; }
	if ctl B primary --force; then pass "split-brain: B promoted with --force while cut off"; else fail "split-brain: B refused primary --force"; return 1; fi
	check "split-brain: writes on A" iocheck write --url "$UA" --blocks 1024 --qd 16 --seconds 3 --log "$T_TMP/sbA.log"
	check "split-brain: writes on B" in_ns C timeout 60 qemu-io -f raw -c "write -P 0x5b 100M 1M" "$UB"
	link_heal
	log "link healed (both Primary)"
	rwait A 30 connection=StandAlone && rwait B 10 connection=StandAlone \
		&& pass "split-brain: the two Primaries refuse to connect (StandAlone on both)" \
		|| fail "split-brain: two Primaries: A=$(rget A connection) B=$(rget B connection), wanted StandAlone"
	if rwait A 5 split_brain=true && rwait B 5 split_brain=true; then
		pass "split-brain: flagged when the two Primaries meet"
	else
		fail "split-brain: two Primaries with diverged data met, split_brain not flagged (A: $(rget A last_decision), B: $(rget B last_decision))"
	fi
	check "split-brain: B's own write still on B (no automatic resync)" in_ns C timeout 60 qemu-io -f raw -c "read -P 0x5b 100M 1M" "$UB"
	# the usual case: the loser was demoted before the nodes meet again
	check "split-brain: B secondary" ctl B secondary
	ctl B connect "$LUN_NAME" >/dev/null 2>&1 || true
	ctl A connect "$LUN_NAME" >/dev/null 2>&1 || true
	if rwait A 30 split_brain=true && rwait B 10 split_brain=true; then
		pass "split-brain: detected on both nodes from the generation ids ($(rstate A); $(rstate B))"
	else
		fail "split-brain: not reported by both nodes after connect"
	fi
	sleep 1
	if rwait A 10 connection=StandAlone && rwait B 10 connection=StandAlone; then
		pass "split-brain: StandAlone on both, no automatic sync"
	else
		fail "split-brain: connection state A=$(rget A connection) B=$(rget B connection), wanted StandAlone"
	fi
	local md5b
	md5b=$(md5_of B)
	sleep 2
	[ "$(md5_of B)" = "$md5b" ] && [ "$(md5_of A)" != "$md5b" ] && pass "split-brain: no data moved while unresolved" \
		|| fail "split-brain: data moved without the operator"
	check "split-brain: B discard-my-data" ctl B discard-my-data "$LUN_NAME"
	check "split-brain: B connect" ctl B connect "$LUN_NAME"
	check "split-brain: A connect" ctl A connect "$LUN_NAME"
	if in_sync 90; then pass "split-brain: resolved, B resynced from A"; else fail "split-brain: not resolved"; return 1; fi
	if rwait A 5 split_brain=false role=primary && rwait B 5 split_brain=false role=secondary; then
		pass "split-brain: flag cleared, A primary, B secondary"
	else
		fail "split-brain: after resolution: $(rstate A); $(rstate B)"
	fi
	same_data split-brain
	check "split-brain: A's acknowledged writes survived" iocheck verify --url "$UA" --log "$T_TMP/sbA.log"
}

scn_bad_crc() {
	pair_fresh || return 1
	local la lb
	la=$(logsize A); lb=$(logsize B)
	check "bad-crc: debug corrupt-next-crc on A" ctl A debug corrupt-next-crc
	check "bad-crc: writes through A (0 I/O errors)" iocheck write --url "$UA" --blocks 1024 --qd 32 --seconds 4 --log "$T_TMP/crc.log"
	if in_sync 60; then pass "bad-crc: in sync again"; else fail "bad-crc: not in sync after the bad message"; return 1; fi
	local l
	# the receiver's own rejection (A's log also names the CRC: the test
	# hook says what it corrupts, so A's lines prove nothing about B)
	l=$(log_since B "$lb" | grep -m1 -E 'DATA payload CRC32C mismatch .*rejecting' || true)
	if [ -n "$l" ]; then pass "bad-crc: B rejected the bad CRC: $l"; else fail "bad-crc: no CRC32C mismatch rejection in B's log"; fi
	l=$( { log_since B "$lb"; log_since A "$la"; } | grep -i -m1 -E 'disconnect|reset|connection (lost|closed)|reconnect' || true)
	if [ -n "$l" ]; then pass "bad-crc: link reset: $l"; else fail "bad-crc: no connection reset logged"; fi
	same_data bad-crc
	check "bad-crc: every acknowledged write on A" iocheck verify --url "$UA" --log "$T_TMP/crc.log"
}

scn_wrong_secret() {
	node_kill A; node_kill B
	rm -rf "$(dir_of A)" "$(dir_of B)"
	# A also asks for a congestion control no kernel has: logged once, the
	# link attempts go on with the kernel's default
	node_config A cc=nosuch_cc
	node_config B secret=another-secret-of-16-chars-or-more
	truncate -s "$R_SIZE" "$(dir_of A)/lun.img" "$(dir_of B)/lun.img"
	dd if=/dev/urandom of="$(dir_of B)/lun.img" bs=1M count=4 conv=notrunc status=none
	node_create_md A --new-device >/dev/null 2>&1 && node_create_md B --new-device >/dev/null 2>&1 || { log "create-md failed"; return 1; }
	local md5b connected=0 l
	md5b=$(md5_of B)
	node_start A || return 1
	node_start B || return 1
	primary_any A || { log "A cannot be primary: $(ctl A primary --force 2>&1)"; return 1; }
	bg_iocheck ws --url "$UA" --blocks 1024 --qd 16 --seconds 4 --log "$T_TMP/ws.log"
	local end=$(( $(date +%s) + 7 ))
	while [ "$(date +%s)" -lt "$end" ]; do   # the peers retry every second: several handshakes
		[[ "$(rget A connection)$(rget B connection)" != *Connected* ]] || connected=1
		sleep 0.2
	done
	if wait_iocheck "$IOC_PID" ws; then pass "wrong-secret: A serves writes alone"; else fail "wrong-secret: I/O errors on A"; fi
	if [ "$connected" = 0 ]; then pass "wrong-secret: never connected (A $(rget A connection), B $(rget B connection))"; else fail "wrong-secret: a node reported Connected with mismatched secrets"; fi
	l=$(cat "$(node_log A)" "$(node_log B)" | grep -m1 -E 'authentication of .* failed' || true)
	if [ -n "$l" ]; then pass "wrong-secret: clear log line: $l"; else fail "wrong-secret: no log line naming the authentication failure"; fi
	if [ "$(md5_of B)" = "$md5b" ]; then pass "wrong-secret: B's data untouched"; else fail "wrong-secret: B's backing file changed"; fi
	local cc_def cc_a n_warn
	cc_def=$(in_ns A cat /proc/sys/net/ipv4/tcp_congestion_control)
	cc_a=$(link_cc A || echo none)
	n_warn=$(grep -c "tcp_congestion 'nosuch_cc' not available" "$(node_log A)" || true)
	if [ "$cc_a" = "$cc_def" ] && [ "$n_warn" = 1 ]; then
		pass "unknown tcp_congestion: logged once over several attempts, link sockets use the kernel default ($cc_a)"
	else
		fail "unknown tcp_congestion: status says '$cc_a' (kernel default $cc_def), $n_warn log lines (want 1)"
	fi
	node_stop B
	node_stop A
}

PRC=$(cd "$(dirname "$0")" && pwd)/pr_client.py
# pr NODE PORT-NAME STEP...: the steps' result lines, one per step, joined by spaces
pr() {
	local node=$1 who=$2 host isid; shift 2
	if [ "$node" = A ]; then host=192.0.2.1; else host=192.0.2.2; fi
	if [ "$who" = X ]; then isid=800000000001; else isid=800000000002; fi
	in_ns C timeout 30 python3 "$PRC" --host "$host" --iqn "$IQN" --initiator "iqn.2026-11.org.test:$who" \
		--isid "$isid" "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'
}
PR_SCN=pr-failover     # the scenario named in pr_expect's lines
pr_expect() { # what want NODE WHO STEP...
	local what=$1 want=$2 got; shift 2
	got=$(pr "$@")
	if [ "$got" = "$want" ]; then pass "$PR_SCN: $what ($got)"; else fail "$PR_SCN: $what: got '$got', want '$want'"; fi
}
pr_wait() { # what want NODE WHO STEP...: read-only steps, asked again for up to 5 s
	local what=$1 want=$2 got i; shift 2
	for i in $(seq 1 10); do
		got=$(pr "$@")
		[ "$got" != "$want" ] || break
		sleep 0.5
	done
	if [ "$got" = "$want" ]; then pass "pr-failover: $what ($got)"; else fail "pr-failover: $what: got '$got', want '$want'"; fi
}

scn_pr_failover() {
	pair_fresh || return 1
	pr_expect "X registers on A" GOOD A X register 0xa1
	pr_expect "Y registers on A" GOOD A Y register 0xb2
	pr_expect "X reserves Write Exclusive on A" GOOD A X reserve 0xa1 1
	pr_expect "B (Secondary) reports A's keys and holder" "keys=0xa1,0xb2 resv=0xa1/1" B Y keys resv
	pr_expect "B (Secondary) refuses a PR OUT: standby port" "2/04/0b keys=0xa1,0xb2" B Y register 0xc3 keys
	# mode parameters are the logical unit's too (write-back: WCE=1 by default)
	pr_expect "X saves WCE=0 on A" "GOOD wce=0/0" A X wce-save 0 mode
	pr_expect "B (Secondary) reports A's mode parameters" "wce=0/0" B Y mode
	pr_expect "B (Secondary) refuses a MODE SELECT: standby port" "2/04/0b wce=0/0" B X wce 1 mode
	pr_expect "X turns WCE back on, current only, on A" "GOOD wce=1/0" A X wce 1 mode
	check "pr-failover: A demoted" ctl A secondary
	check "pr-failover: B promoted" ctl B primary
	pr_expect "B serves A's mode parameters" "wce=1/0" B Y mode
	# a reload that changes LUN 0's cache policy on the Primary: in place, then
	# by removing it and adding it back (another path to the same file), where
	# its attach gets the record replication held, made under the old policy.
	# WCE follows the policy on B and reaches A (before: A kept B's old WCE,
	# and the LUN that came back write-back served the held WCE=0)
	local bconf
	bconf=$(dir_of B)/tandem.conf
	sed -i "s|^        cache: .*|        cache: write-through|" "$bconf"
	check "pr-failover: reload B with LUN 0 write-through" ctl B reload
	pr_expect "B's WCE follows its new policy" "wce=0/0" B Y mode
	pr_wait "A (Secondary) holds B's new WCE" "wce=0/0" A X mode
	ln -sf "$(dir_of B)/lun.img" "$(dir_of B)/lun-link.img"
	sed -i -e "s|^        cache: .*|        cache: write-back|" \
		-e "s|^        path: $(dir_of B)/lun.img\$|        path: $(dir_of B)/lun-link.img|" "$bconf"
	check "pr-failover: reload B with LUN 0 on another path, write-back" ctl B reload
	check "pr-failover: B removed LUN 0 and added it back" grep -q "reload: target .*: adding LUN 0" "$(node_log B)"
	pr_expect "B's LUN 0 came back with the new policy's WCE" "wce=1/1" B Y mode
	pr_wait "A (Secondary) holds it too" "wce=1/1" A X mode
	pr_expect "B kept X's reservation across the reload" "keys=0xa1,0xb2 resv=0xa1/1" B Y keys resv
	check "pr-failover: LUN 0 in sync after the reloads" in_sync 30
	pr_expect "B enforces X's reservation (Y conflicts, X writes)" "CONFLICT" B Y write 8
	pr_expect "X, the holder, writes on B" "GOOD resv=0xa1/1" B X write 8 resv
	pr_expect "Y preempts X on B" "GOOD keys=0xb2 resv=0xb2/1" B Y preempt 0xb2 0xa1 1 keys resv
	pr_expect "A (now Secondary) holds B's record" "keys=0xb2 resv=0xb2/1" A X keys resv
	node_stop A
	node_start A || return 1
	if rwait A 30 connection=Connected && rwait B 10 connection=Connected; then pass "pr-failover: A reconnected"; else fail "pr-failover: A did not reconnect: $(rstate A)"; return 1; fi
	pr_wait "A restarted gets B's record when the link comes up" "keys=0xb2 resv=0xb2/1" A X keys resv
	pr_wait "A restarted gets B's mode parameters too" "wce=1/1" A X mode
	node_kill A
	pr_expect "X registers on B while A is down" "GOOD keys=0xa4,0xb2" B X register 0xa4 keys
	node_start A || return 1
	if rwait A 30 connection=Connected && in_sync 60; then pass "pr-failover: A back and in sync"; else fail "pr-failover: A not back: $(rstate A)"; return 1; fi
	pr_wait "the change made while A was down reached A" "keys=0xa4,0xb2 resv=0xb2/1" A Y keys resv
	node_stop B
	node_stop A
}

scn_disk_error() {
	local ctlf=$T_TMP/diskfault.ctl out kib all
	build_fault_shim "$T_TMP/fault_shim.so" || { fail "disk-error: build the fault shim"; return 1; }
	echo none >"$ctlf"
	R_CONF[A]="backend=fileio"
	R_ENV[A]="LD_PRELOAD=$T_TMP/fault_shim.so FAULT_PATH=$(dir_of A)/lun.img FAULT_CTL=$ctlf ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0"
	pair_fresh || return 1
	# 1. a write A's disk fails while B writes it
	echo write >"$ctlf"
	# (-t none: no FUA, so that the failure is not a failed flush as well,
	# which holds until the device is reopened; step 5 has that case)
	out=$(in_ns C qemu-io -t none -f raw -c 'write -P 0x5a 1M 64k' "$UA" 2>&1) || true
	echo none >"$ctlf"
	if grep -qi 'error\|failed' <<<"$out"; then pass "disk-error: the write A's disk failed got an error"; else fail "disk-error: the failed write was answered: $out"; fi
	kib=$(num A out_of_sync_kib)
	if [ "$kib" -ge 64 ]; then pass "disk-error: A marked the failed write out of sync ($kib KiB)"; else fail "disk-error: A's failed write is not marked out of sync ($kib KiB): the copies differ unseen"; fi
	# 2. a planned switch first (B Primary, the marks on the Secondary A):
	# the next negotiation resyncs the chunk from B, the Primary
	ctl A secondary >/dev/null && ctl B primary >/dev/null || { fail "disk-error: switch to B"; return 1; }
	ctl A disconnect "$LUN_NAME" >/dev/null && ctl A connect "$LUN_NAME" >/dev/null || { fail "disk-error: disconnect/connect"; return 1; }
	if in_sync 60; then pass "disk-error: in sync after the renegotiation"; else fail "disk-error: not in sync after the renegotiation"; return 1; fi
	same_data "disk-error: after the renegotiation"
	ctl B secondary >/dev/null && ctl A primary >/dev/null || { fail "disk-error: switch back to A"; return 1; }
	# 3. a verify whose reads fail here: every chunk counts as differing
	all=$((R_SIZE_BYTES / 1024))
	echo read >"$ctlf"
	local l1
	l1=$(logsize A)
	if ctl A verify "$LUN_NAME" --resync >/dev/null && rwait A 60 verify.running=false 'verify.runs!=0|'; then
		kib=$(num A verify.mismatched_kib)
		if [ "$kib" = "$all" ]; then pass "disk-error: verify with failing local reads: all $kib KiB counted as differing"; else fail "disk-error: verify with failing local reads reported $kib of $all KiB"; fi
		sleep 1
		if log_since A "$l1" | grep -q "resync as source"; then fail "disk-error: verify --resync on A started a resync for chunks A cannot read (B went Inconsistent for nothing)"; else pass "disk-error: verify --resync on A: unreadable chunks start no resync"; fi
	else
		fail "disk-error: verify did not run or finish"
	fi
	# ... and B (Secondary) may not start one while A is Primary: only the
	# node running a verify orders the Primary's writes against its reads
	# (docs/REPLICATION.md); B stays UpToDate
	if ctl B verify "$LUN_NAME" --resync >"$T_TMP/verify.out" 2>&1; then
		fail "disk-error: verify --resync started on B, the Secondary facing the Primary A"
	elif grep -q "is Primary: run the verify there" "$T_TMP/verify.out"; then
		pass "disk-error: verify on B refused while A is Primary ($(head -n 1 "$T_TMP/verify.out"))"
	else
		fail "disk-error: verify on B refused for another reason: $(cat "$T_TMP/verify.out")"
	fi
	if rwait B 5 disk=UpToDate connection=Connected out_of_sync_kib=0; then pass "disk-error: B stays UpToDate and in sync"; else fail "disk-error: B after the refused verify: $(rstate B)"; fi
	echo none >"$ctlf"
	# 4. a resync whose source cannot read
	ctl A disconnect "$LUN_NAME" >/dev/null || { fail "disk-error: disconnect"; return 1; }
	in_ns C qemu-io -f raw -c 'write -P 0x6b 8M 4M' "$UA" >/dev/null 2>&1 || { fail "disk-error: write while disconnected"; return 1; }
	echo read >"$ctlf"
	ctl A connect "$LUN_NAME" >/dev/null || { fail "disk-error: connect"; return 1; }
	if rwait A 30 connection=StandAlone; then pass "disk-error: a resync whose source reads fail stops (StandAlone)"; else fail "disk-error: the resync reads a failing disk for ever: $(rstate A)"; fi
	grep -q 'resync stopped' "$(node_log A)" && pass "disk-error: A says why the resync stopped" || fail "disk-error: no 'resync stopped' log line on A"
	if rwait B 10 disk=Inconsistent; then pass "disk-error: B stays Inconsistent"; else fail "disk-error: B is not Inconsistent: $(rstate B)"; fi
	if ctl B primary >/dev/null 2>&1; then fail "disk-error: the half-synced B was promoted"; ctl B secondary >/dev/null 2>&1 || true; else pass "disk-error: the half-synced B refuses promotion"; fi
	echo none >"$ctlf"
	ctl A connect "$LUN_NAME" >/dev/null || { fail "disk-error: connect after the repair"; return 1; }
	if in_sync 60; then pass "disk-error: resync finished once A's disk reads again"; else fail "disk-error: no resync after the repair"; return 1; fi
	same_data "disk-error: after the resync"
	# 5. the resync target's disk fails the flush that ends the resync (A
	# Secondary): it stops there (before: a full resync every few seconds)
	ctl A secondary >/dev/null && ctl B primary >/dev/null || { fail "disk-error: switch to B again"; return 1; }
	ctl A disconnect "$LUN_NAME" >/dev/null || { fail "disk-error: disconnect A"; return 1; }
	in_ns C qemu-io -f raw -c 'write -P 0x7c 16M 4M' "$UB" >/dev/null 2>&1 || { fail "disk-error: write on B"; return 1; }
	echo flush >"$ctlf"
	local l0
	l0=$(logsize A)
	ctl A connect "$LUN_NAME" >/dev/null || { fail "disk-error: connect A"; return 1; }
	if rwait A 30 connection=StandAlone disk=Inconsistent; then pass "disk-error: a target whose final flush fails stops, Inconsistent"; else fail "disk-error: the target's failed flush: $(rstate A)"; fi
	sleep 3
	local n
	n=$(log_since A "$l0" | grep -c 'resync as target' || true)
	if grep -q 'disk failed the flush that ends it' "$(node_log A)" && rwait A 1 connection=StandAlone && [ "$n" = 1 ]; then pass "disk-error: A says why and stays stopped (one resync start)"; else fail "disk-error: A does not stay stopped: $n resync starts, $(rstate A)"; fi
	echo none >"$ctlf"
	node_stop A
	node_start A || return 1
	ctl A connect "$LUN_NAME" >/dev/null 2>&1 || true
	if in_sync 60; then pass "disk-error: A restarted (device reopened) resyncs"; else fail "disk-error: no resync after A's restart"; return 1; fi
	same_data "disk-error: after the restart"
	# 6. the resync target's disk fails resync data: the source (B) stops
	# (before: the link dropped and the resync began again, for ever)
	ctl A disconnect "$LUN_NAME" >/dev/null || { fail "disk-error: disconnect A (6)"; return 1; }
	in_ns C qemu-io -f raw -c 'write -P 0x3d 32M 4M' "$UB" >/dev/null 2>&1 || { fail "disk-error: write on B (6)"; return 1; }
	echo write >"$ctlf"
	ctl A connect "$LUN_NAME" >/dev/null || { fail "disk-error: connect A (6)"; return 1; }
	if rwait B 30 connection=StandAlone && rwait A 10 disk=Inconsistent; then pass "disk-error: the source stops when the target's disk fails resync data"; else fail "disk-error: target write failures: $(rstate B); $(rstate A)"; fi
	grep -q "the peer's disk failed resync data" "$(node_log B)" && pass "disk-error: B says why" || fail "disk-error: no log line on B"
	echo none >"$ctlf"
	node_stop A
	node_start A || return 1
	ctl B connect "$LUN_NAME" >/dev/null 2>&1 || true
	if in_sync 60; then pass "disk-error: resync after A's repair"; else fail "disk-error: no resync after A's repair (6)"; return 1; fi
	same_data "disk-error: after the repair"
	# 7. the SANITIZE state follows the data: an overwrite that fails on A's
	# disk leaves the LUN in sanitize failure mode on both nodes, so B,
	# promoted, does not serve the half-overwritten medium as data
	ctl B secondary >/dev/null && ctl A primary >/dev/null || { fail "disk-error: switch to A (7)"; return 1; }
	PR_SCN=disk-error
	echo write >"$ctlf"
	pr_expect "a SANITIZE that A's disk fails" "3/31/03" A X sanitize
	echo none >"$ctlf"
	ctl A secondary >/dev/null && ctl B primary >/dev/null || { fail "disk-error: switch to B (7)"; return 1; }
	pr_expect "B, promoted, is in sanitize failure mode (from A's record)" "3/31/03" B X read 0
	pr_expect "a new SANITIZE on B ends it" "GOOD GOOD GOOD" B X sanitize immed tur-wait read 0
	PR_SCN=pr-failover
	node_stop B
	node_stop A
	R_CONF[A]=; R_ENV[A]=
}

net_setup
for s in kill-secondary kill-primary link-cut split-brain bad-crc wrong-secret pr-failover disk-error; do
	[ -z "$ONLY_SCN" ] || [[ " $ONLY_SCN " == *" $s "* ]] || continue
	run_scenario "$s" "scn_${s//-/_}"
done
finish
