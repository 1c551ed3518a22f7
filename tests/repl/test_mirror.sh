#!/usr/bin/env bash
# tests/repl/test_mirror.sh BUILD_DIR: a fresh replicated pair does a full
# initial sync, mirrors every write through the primary, and serves the same
# data from the other node after a hand-made role switch.
#   - create-md (no --new-device) on both: both start Secondary/Inconsistent;
#     plain `primary` is refused on an Inconsistent node, `primary --force` starts
#     a full sync from A (A's backing file holds 16 MiB of random data first)
#   - qemu-io patterns + iocheck writes through A; in sync; backing files identical
#   - A (replicated, alua_explicit auto) says TPGS 01b and refuses STPG
#   - B cannot become primary while A is; A secondary, then B primary at once:
#     A runs with the test fault role-stall (its link sends nothing for 300 ms
#     after a role change), so B's promotion only succeeds because A's
#     demotion returns once B has learnt it (the peer barrier)
#   - patterns read back through B (qemu-io read -P), iocheck verify through B
#   - a write on B reaches A; online verify finds nothing out of sync
#   - reload: a new resync_rate applies at once, a new node name waits for the
#     next start (logged), a new secret keeps the running link and is used by
#     the next one (a link cut with different secrets fails authentication,
#     matching secrets connect again)
#   - a replicated LUN added by reload: the Primary refuses it while its metadata
#     is Inconsistent (logged, not served, LUN 0 unaffected); with create-md
#     --new-device on both it joins on both nodes, mirrors a write, files equal;
#     reloads with a bad path, a missing file or a size its metadata does not
#     describe keep LUN 2's previous device in service
#   - both daemons exit 0 on SIGTERM, no sanitizer report
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
require_tool qemu-io md5sum python3

net_setup
# A's test fault role-stall holds its link 300 ms after a role change, 200 ms
# short of the default ping_timeout_ms (500). One CI run found the link down
# right after A's demotion (B refused the promotion as "not connected"; no
# daemon logs were kept then, the failure output now carries their ends); a
# keepalive timeout on top of that stall fits it. 2 s keeps this test about the
# barrier, not about the keepalive.
node_config A ping_timeout=2000
node_config B ping_timeout=2000
# A starts with data B lacks, so only a real full sync makes the files equal.
truncate -s "$R_SIZE" "$(dir_of A)/lun.img" "$(dir_of B)/lun.img"
dd if=/dev/urandom of="$(dir_of A)/lun.img" bs=1M count=16 conv=notrunc status=none

check "create-md on A (fresh pair)" node_create_md A
check "create-md on B (fresh pair)" node_create_md B
if node_create_md B >"$T_TMP/md2.out" 2>&1; then
	fail "create-md overwrote existing metadata without --force"
elif grep -qi usage "$T_TMP/md2.out"; then
	fail "create-md: not implemented ($(head -n 1 "$T_TMP/md2.out"))"
else
	pass "create-md refuses to overwrite existing metadata without --force ($(head -n 1 "$T_TMP/md2.out"))"
fi
R_ENV[A]="TANDEM_TEST_FAULTS=role-stall"
node_start A || { fail "tandemd A starts"; finish; exit 1; }
node_start B || { fail "tandemd B starts"; finish; exit 1; }
check "A runs with the role-stall test fault" grep -q "TEST FAULT HOOKS ACTIVE (TANDEM_TEST_FAULTS=role-stall)" "$(node_log A)"
both_inconsistent() {
	rwait A 30 connection=Connected role=secondary disk=Inconsistent && rwait B 10 connection=Connected role=secondary disk=Inconsistent
}
check "both connect, Secondary and Inconsistent" both_inconsistent
log "$(rstate A)"; log "$(rstate B)"
# the link's congestion control: tcp_congestion defaults to cubic (the host
# default here may be another, e.g. bbr); status --json reports what it got
CC_WANT=cubic
grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control || CC_WANT=$(in_ns A cat /proc/sys/net/ipv4/tcp_congestion_control)
CC_A=$(link_cc A || echo none); CC_B=$(link_cc B || echo none)
if [ "$CC_A" = "$CC_WANT" ] && [ "$CC_B" = "$CC_WANT" ]; then
	pass "replication link uses congestion control $CC_WANT on both ends (host default $(cat /proc/sys/net/ipv4/tcp_congestion_control))"
else
	fail "replication link congestion control: A $CC_A, B $CC_B, expected $CC_WANT"
fi
check_fail "plain 'primary' refused on an Inconsistent node" ctl A primary
check "'primary --force' on A starts the initial sync" ctl A primary --force
if rwait A 120 role=primary disk=UpToDate connection=Connected peer_disk=UpToDate out_of_sync_kib=0; then
	pass "initial full sync completed ($(rstate A))"
else
	fail "initial full sync did not complete in 120 s"
fi
check "B is UpToDate and Secondary after the sync" rwait B 10 disk=UpToDate role=secondary
RS=$(rget A resync_bytes_sent || echo 0)
log "initial sync: A resync_bytes_sent=$RS (device $R_SIZE_BYTES)"
[ "${RS:-0}" -ge $((16 * 1048576)) ] && pass "initial sync sent at least A's 16 MiB of data ($RS bytes)" \
	|| fail "initial sync sent only ${RS:-?} bytes (< 16 MiB of non-zero data)"
[ "$(md5_of A)" = "$(md5_of B)" ] && pass "backing files identical after the initial sync" \
	|| fail "backing files differ after the initial sync"

# ---- writes through A
UA=$(lun_url A); UB=$(lun_url B)
QIO_W=(-c "write -P 0xa1 64M 1M" -c "write -P 0xa2 100M 4k" -c "write -P 0xa3 150M 64k" -c "write -P 0xa4 255M 512k" -c "write -P 0xa5 20M 12k")
QIO_R=(-c "read -P 0xa1 64M 1M" -c "read -P 0xa2 100M 4k" -c "read -P 0xa3 150M 64k" -c "read -P 0xa4 255M 512k" -c "read -P 0xa5 20M 12k")
check "qemu-io patterns written through A" in_ns C timeout 60 qemu-io -f raw "${QIO_W[@]}" "$UA"
check "iocheck writes through A (5 s, QD32, 8 MiB region at 32 MiB)" \
	iocheck write --url "$UA" --blocks 2048 --offset-blocks 8192 --qd 32 --seconds 5 --log "$T_TMP/mirror.log"
grep -E '^acked=' "$T_TMP/last.out" || true
check "patterns read back through A" in_ns C timeout 60 qemu-io -f raw "${QIO_R[@]}" "$UA"
if in_sync 60; then pass "in sync after the writes"; else fail "not in sync after the writes"; fi
[ "$(md5_of A)" = "$(md5_of B)" ] && pass "backing files identical after mirrored writes ($(md5_of A))" \
	|| fail "backing files differ after mirrored writes (A $(md5_of A), B $(md5_of B))"

# ---- ALUA on a replicated node: implicit only (alua_explicit auto; docs/ALUA.md)
check "A reports implicit ALUA only and refuses SET TARGET PORT GROUPS (alua_implicit.py)" \
	in_ns C timeout 60 python3 "$T_LIB_DIR/alua_implicit.py" --host 192.0.2.1 --port 3260 --iqn "$IQN"
sed -e 's/^/    | /' "$T_TMP/last.out"

# ---- role switch by hand
check_fail "B refuses to become primary while A is primary" ctl B primary
check "A demoted to secondary" ctl A secondary
check "B promoted to primary right after (no --force needed: connected, UpToDate, A's ROLE arrived before A's demotion returned)" ctl B primary
roles_switched() { [ "$(rget A role)" = secondary ] && [ "$(rget B role)" = primary ]; }
check "roles: A secondary, B primary" roles_switched
check "patterns read back through B" in_ns C timeout 60 qemu-io -f raw "${QIO_R[@]}" "$UB"
check "iocheck verify through B: every write acknowledged by A is on B" iocheck verify --url "$UB" --log "$T_TMP/mirror.log"
grep -E '^verified=' "$T_TMP/last.out" || true
check "a write through B" in_ns C timeout 60 qemu-io -f raw -c "write -P 0xb7 200M 256k" "$UB"
if in_sync 60; then pass "in sync after the write on B"; else fail "not in sync after the write on B"; fi
[ "$(md5_of A)" = "$(md5_of B)" ] && pass "backing files identical after the write on B" \
	|| fail "backing files differ after the write on B"
b_write_on_a() { cmp <(dd if="$(dir_of A)/lun.img" bs=64K skip=3200 count=4 status=none) <(head -c 262144 /dev/zero | tr '\0' '\267'); }
check "B's write is in A's backing file" b_write_on_a

# ---- online verify
if ctl B verify "$LUN_NAME" >"$T_TMP/verify.out" 2>&1; then
	pass "tandemctl verify accepted"
	if rwait B 120 verify.running=false 'verify.runs!=0|';  then
		if rwait B 1 verify.mismatched_kib=0 out_of_sync_kib=0; then pass "online verify: nothing out of sync ($(rget B verify.runs) run)"; else fail "online verify found $(rget B verify.mismatched_kib) KiB out of sync"; fi
	else
		fail "online verify did not finish in 120 s"
	fi
else
	fail "tandemctl verify $LUN_NAME failed: $(cat "$T_TMP/verify.out")"
fi

# ---- reload of the replication section (docs/REPLICATION.md, "Reload")
repl_top() { rjson "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["replication"][sys.argv[1]])' "$2"; }
# log_has NODES PATTERN SECONDS: one of the nodes' logs (e.g. "A B") gets a line matching PATTERN
log_has() {
	local end=$(( $(date +%s) + $3 )) n
	while :; do
		for n in $1; do grep -qE "$2" "$(node_log "$n")" && return 0; done
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
conf_set A resync_rate 37M
check "reload with a new resync_rate -> 0" ctl A reload
check "status reports the new resync_rate at once ($((37 << 20)) B/s)" test "$(repl_top A resync_rate)" = $((37 << 20))
check "the log names the change" log_has A "repl: reload: resync_rate [0-9]+ -> $((37 << 20)) B/s" 5
conf_set A node alpha2
check "reload with another node name -> 0" ctl A reload
check "the log says a new node name waits for the next start" log_has A "repl: reload: changed node: takes effect at the next start" 5
check "the running node name stays alpha" test "$(repl_top A node)" = alpha
conf_set A node alpha
# secret rotation: a reload keeps the running link; the next connection uses the new secret
conf_set B secret '"rotated-secret-of-26-chars"'
check "reload B with a new secret" ctl B reload
check "the link stays up on the old secret" rwait A 5 connection=Connected
link_cut
both_down() { rwait A 30 connection!=Connected && rwait B 30 connection!=Connected; }
check "link cut: A and B see the link down" both_down
link_heal
check "secrets differ now: the accepting node reports the authentication failure" \
	log_has "A B" "repl: authentication of (alpha|beta) .* failed: wrong shared secret" 30
# three readable samples over 3 s, none Connected (an unreadable status
# must not count as "not connected")
not_connecting() {
	local i c
	for i in 1 2 3; do
		c=$(rget A connection)
		[ -n "$c" ] && [ "$c" != Connected ] || return 1
		sleep 1
	done
}
check "... and they do not connect" not_connecting
conf_set A secret '"rotated-secret-of-26-chars"'
check "reload A with the same new secret" ctl A reload
check "A and B connect on the rotated secret, in sync" in_sync 60

# ---- a replicated LUN added by reload to the running pair (B Primary, A Secondary)
add_lun2() {
	conf_add_lun "$(dir_of "$1")/tandem.conf" <<EOF
    lun 2 {
        backend: blockio
        path: $(dir_of "$1")/lun2.img
        size: 64M
        create: yes
        replicated: yes
        serial: ha-lun2
        naa: 6001405000000000000000000000b003
    }
EOF
}
md2() { local n=$1; shift; in_ns "$n" timeout 60 "$TANDEMCTL" create-md "$IQN/2" "$@" -c "$(dir_of "$n")/tandem.conf"; }
lists_lun2() { local out; out=$(in_ns C timeout 30 iscsi-ls -s "iscsi://192.0.2.$1:3260" 2>&1) || return 1; grep -q '^Lun:2 ' <<<"$out"; }
lun2_in_sync() {
	R_LUN="$IQN/2" rwait B 30 connection=Connected disk=UpToDate peer_disk=UpToDate out_of_sync_kib=0 &&
		R_LUN="$IQN/2" rwait A 10 connection=Connected disk=UpToDate peer_disk=UpToDate
}
add_lun2 A; add_lun2 B
check "create-md for LUN 2 on B while tandemd runs (Inconsistent)" md2 B
check "reload B (Primary) with LUN 2 -> 0" ctl B reload
check "the Primary refuses a LUN 2 that is not UpToDate, and says how" log_has B "ha-lun2|$IQN/2: this node is Primary .* joins a Primary only UpToDate" 10
check_fail "B does not serve LUN 2" lists_lun2 2
check "LUN 0 keeps its state on B" rwait B 5 connection=Connected disk=UpToDate peer_disk=UpToDate
check "create-md --new-device --force for LUN 2 on A" md2 A --new-device --force
check "create-md --new-device --force for LUN 2 on B" md2 B --new-device --force
check "reload A (Secondary) with LUN 2 -> 0" ctl A reload
check "reload B (Primary) again -> 0: LUN 2 joins now" ctl B reload
check "B serves LUN 2" lists_lun2 2
check "LUN 2 Connected and UpToDate on both" lun2_in_sync
check_fail "the link did not drop while LUN 2 joined (no negotiation timeout)" \
	grep -q "did not answer a volume negotiation" "$(node_log A)" "$(node_log B)"
check "a pattern written to LUN 2 through B" in_ns C timeout 60 qemu-io -f raw -c "write -P 0x5c 1M 512k" \
	"iscsi://192.0.2.2:3260/$IQN/2"
check "LUN 2 in sync after the write" lun2_in_sync
check "LUN 2's backing files are identical on A and B" cmp "$(dir_of A)/lun2.img" "$(dir_of B)/lun2.img"
check "the write is on A's LUN 2" cmp <(dd if="$(dir_of A)/lun2.img" bs=512k skip=2 count=1 status=none) \
	<(head -c 524288 /dev/zero | tr '\0' '\134')
check "LUN 0 still in sync" in_sync 30

# a path typo in a reload of a replicated LUN: the LUN keeps its previous device
# (and its volume) in service with a warning, instead of being removed and
# failing to come back (for ESXi a permanent device loss)
cp "$(dir_of B)/tandem.conf" "$T_TMP/B.conf.good"
sed -i "s|path: $(dir_of B)/lun2.img|path: $(dir_of B)/no-such-dir/lun2.img|" "$(dir_of B)/tandem.conf"
out=$(ctl B reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && grep -q "keeps its previous device" <<<"$out" && pass "reload B with a bad LUN 2 path: warns, LUN 2 keeps its device" \
	|| fail "reload B with a bad LUN 2 path: exit $rc: $out"
check "B still serves LUN 2" lists_lun2 2
check "LUN 2 still in sync" lun2_in_sync
# a typo into an existing directory, with create: yes: the new empty file must
# not become LUN 2 under its UpToDate metadata (before, it did: zeroes served)
cp "$T_TMP/B.conf.good" "$(dir_of B)/tandem.conf"
sed -i "s|path: $(dir_of B)/lun2.img|path: $(dir_of B)/lun2-typo.img|" "$(dir_of B)/tandem.conf"
out=$(ctl B reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && grep -q "keeps its previous device" <<<"$out" && pass "reload B with LUN 2 on a missing file: warns, LUN 2 keeps its device" \
	|| fail "reload B with LUN 2 on a missing file: exit $rc: $out"
check_fail "no empty file was created for the typo" test -e "$(dir_of B)/lun2-typo.img"
check "LUN 2 still in sync after the typo" lun2_in_sync
check "LUN 2 on B still reads the pattern" in_ns C timeout 60 qemu-io -f raw -c "read -P 0x5c 1M 512k" \
	"iscsi://192.0.2.2:3260/$IQN/2"
cp "$T_TMP/B.conf.good" "$(dir_of B)/tandem.conf"
check "reload B with the good path again -> 0" ctl B reload
check "B serves LUN 2 after the good reload" lists_lun2 2
# a new size: an unreplicated LUN takes it in service (test_resize.sh), a
# replicated one cannot (its metadata and the peer's copy describe the old
# size): refused with the reason, and the LUN never leaves service (before
# session 25 it was taken out, failed to come back and was restored)
sed -i "/path: .*lun2.img/,/naa:/ s|size: 64M|size: 96M|" "$(dir_of B)/tandem.conf"
nrm=$(grep -c "removing LUN 2" "$(node_log B)" || true)
out=$(ctl B reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && grep -q "not all of the configuration is in service.*LUN 2: keeps 67108864 bytes.*a replicated LUN does not change size online" <<<"$out" \
	&& pass "reload B with LUN 2 resized: warns with the reason, LUN 2 keeps its size" \
	|| fail "reload B with LUN 2 resized: exit $rc: $out"
check "LUN 2 was never taken out of service" test "$(grep -c "removing LUN 2" "$(node_log B)" || true)" = "$nrm"
check "B's status shows LUN 2 at 64 MiB" python3 -c '
import json, sys
st = json.load(sys.stdin)
sz = [l["size"] for t in st["targets"] for l in t["luns"] if l["lun"] == 2]
sys.exit(0 if sz == [64 << 20] else 1)' < <(rjson B)
check "B still serves LUN 2 after the resize attempt" lists_lun2 2
check "LUN 2 still in sync after the resize attempt" lun2_in_sync
check "LUN 2 on B reads the pattern after the resize attempt" in_ns C timeout 60 qemu-io -f raw -c "read -P 0x5c 1M 512k" \
	"iscsi://192.0.2.2:3260/$IQN/2"
cp "$T_TMP/B.conf.good" "$(dir_of B)/tandem.conf"
check "reload B with LUN 2's size back -> 0" ctl B reload

# the same at start: LUN 2's file lost while B is down (create: yes): tandemd
# refuses to start rather than serve a new empty file under UpToDate metadata,
# and removes what it created
node_stop B
mv "$(dir_of B)/lun2.img" "$T_TMP/lun2.img.away"
if node_start B 2>"$T_TMP/startB.err"; then
	fail "B started with LUN 2's backing file missing"
	node_stop B
else
	pass "B refuses to start with LUN 2's backing file missing"
fi
check "it says why" grep -q "did not exist (created empty just now, removed again)" "$(dir_of B)/tandemd.log"
check_fail "no empty lun2.img left behind" test -e "$(dir_of B)/lun2.img"
mv "$T_TMP/lun2.img.away" "$(dir_of B)/lun2.img"
check "B starts with the file back" node_start B
check "LUN 2 in sync again" lun2_in_sync

node_stop B
node_stop A
finish
