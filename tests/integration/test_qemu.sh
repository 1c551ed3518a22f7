#!/usr/bin/env bash
# Data integrity through QEMU's iSCSI driver (libiscsi) against tandemd:
#   - qemu-io write/read-verify of patterns, plain and with HeaderDigest=CRC32C;
#   - 24 random non-overlapping extents (some not 512-aligned: read-modify-write)
#     written in one session, verified from a new session, untouched areas read 0;
#   - CHAP: right credentials work, wrong password / no credentials cannot open;
#   - two concurrent sessions writing different regions, then each verifies the other's;
#   - qemu-img bench (4K random writes QD32, 20000 I/Os) and a read bench exit 0;
#     batching under load: no reactor pause at QD1, pauses at QD32 (status
#     batch_pauses), and a QD32 sequential pattern reads back;
#   - qemu-img convert of a 64 MiB random file into LUN 1 (64 MiB) and back out:
#     identical sha256.
# The daemon must be alive and serving at the end and exit cleanly.
# Usage: bash tests/integration/test_qemu.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool qemu-io qemu-img iscsi-inq sha256sum
require_tandemd

IQN=iqn.2026-11.org.tandem:qemu
PORT=$(free_port)
CONF=$T_TMP/tandem.conf
MB=$((1024 * 1024))
LUN1="    lun 1 {
        backend: fileio
        path: $T_TMP/lun1.img
        size: 64M
        create: yes
        cache: write-back
        serial: qemu-lun1
        naa: 6001405000000000000000000000a002
    }"
CTL=$(unique_ctl)
CFG_SIZE=256M CFG_CACHE=write-back CFG_EXTRA_LUNS=$LUN1 \
	write_config "$CONF" "$PORT" "$CTL" "$IQN" "$T_TMP/lun0.img"
start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID
U=$(url "$PORT" "$IQN" 0)
U1=$(url "$PORT" "$IQN" 1)
# --image-opts form of LUN 0 with extra iscsi driver options appended by callers
opts() { echo "driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:$1,file.target=$2,file.lun=0${3:+,$3}"; }
qio() { timeout 120 qemu-io -f raw "$@"; }
qio_opts() { timeout 120 qemu-io --image-opts "$@"; }

# 1. basic pattern
check "qemu-io write+read 4M pattern 0x5a" qio -c 'write -P 0x5a 0 4M' -c 'read -P 0x5a 0 4M' "$U"
check "pattern still there in a new session" qio -c 'read -P 0x5a 0 4M' "$U"
check_fail "qemu-io detects a wrong pattern (sanity of the checker)" qio -c 'read -P 0x11 0 4k' "$U"

# 2. random extents: slot i of 4 MiB (slots 4..63), random offset/length inside
SEED=${SEED:-$$}; RANDOM=$SEED; log "random seed $SEED (SEED=... to repeat)"
w_cmds=(); r_cmds=(); z_cmds=()
mapfile -t slots < <(seq 4 63 | shuf -n 24 --random-source=<(yes "$SEED"))
declare -A used=()
for s in "${slots[@]}"; do
	used[$s]=1
	off=$(( s * 4 * MB + (RANDOM % 2048) * 512 ))
	len=$(( (RANDOM % 2048 + 1) * 512 ))
	if [ $((RANDOM % 4)) -eq 0 ]; then off=$((off + RANDOM % 511 + 1)); len=$((len - 511)); fi
	pat=$(( (s * 7 + 1) % 255 + 1 ))
	w_cmds+=(-c "write -P $pat $off $len")
	r_cmds+=(-c "read -P $pat $off $len")
done
for s in $(seq 4 63); do
	[ -n "${used[$s]:-}" ] || z_cmds+=(-c "read -P 0 $(( s * 4 * MB )) 4M")
done
check "write 24 random extents (some unaligned)" qio "${w_cmds[@]}" "$U"
check "verify 24 random extents from a new session" qio "${r_cmds[@]}" "$U"
check "untouched slots read as zeros" qio "${z_cmds[@]}" "$U"

# 3. header digest CRC32C (the QEMU driver negotiates HeaderDigest only)
check "HeaderDigest=CRC32C write+read" qio_opts -c 'write -P 0xa5 8M 4M' -c 'read -P 0xa5 8M 4M' \
	"$(opts "$PORT" "$IQN" file.header-digest=crc32c)"
check "HeaderDigest=None read back of the digest session's data" qio_opts -c 'read -P 0xa5 8M 4M' \
	"$(opts "$PORT" "$IQN" file.header-digest=none)"
check "HeaderDigest=CRC32C,None preference works" qio_opts -c 'read -P 0xa5 8M 64k' \
	"$(opts "$PORT" "$IQN" file.header-digest=crc32c-none)"

# 4. two concurrent sessions, then cross-verify
a_cmds=(); b_cmds=(); va=(); vb=()
for i in $(seq 0 15); do
	a_cmds+=(-c "write -P 0x3c $(( 64 * MB + i * MB )) 1M")
	b_cmds+=(-c "write -P 0xc3 $(( 80 * MB + i * MB )) 1M")
done
va=(-c "read -P 0x3c $(( 64 * MB )) 16M")
vb=(-c "read -P 0xc3 $(( 80 * MB )) 16M")
qio "${a_cmds[@]}" "$U" >"$T_TMP/a.out" 2>&1 & pa=$!
qio "${b_cmds[@]}" "$U" >"$T_TMP/b.out" 2>&1 & pb=$!
ra=0; rb=0; wait "$pa" || ra=$?; wait "$pb" || rb=$?
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && pass "two concurrent writer sessions" \
	|| { fail "two concurrent writer sessions (exit $ra/$rb)"; tail -5 "$T_TMP/a.out" "$T_TMP/b.out"; }
qio "${vb[@]}" "$U" >"$T_TMP/a.out" 2>&1 & pa=$!
qio "${va[@]}" "$U" >"$T_TMP/b.out" 2>&1 & pb=$!
ra=0; rb=0; wait "$pa" || ra=$?; wait "$pb" || rb=$?
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && pass "each session verifies the other's region" \
	|| { fail "cross-verify (exit $ra/$rb)"; tail -5 "$T_TMP/a.out" "$T_TMP/b.out"; }

# 5. qemu-img bench (no timing assertion, must complete), and batching under
# load (docs/ARCHITECTURE.md, "Coalescing"; default coalesce_depth 16): a
# queue depth of 1 never makes the reactor pause, QD32 does, and what was
# written in batches reads back.
pauses() { "$TANDEMCTL" -s "$CTL" --json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["batch_pauses"])'; }
p0=$(pauses || echo none)
check "qemu-img bench 4K write QD1 x2000" timeout 300 qemu-img bench -f raw -c 2000 -d 1 -s 4096 -w "$U"
p1=$(pauses || echo none)
[ "$p0" != none ] && [ "$p0" = "$p1" ] && pass "QD1: no batch pause (status batch_pauses $p0 -> $p1)" \
	|| fail "QD1: batch_pauses $p0 -> $p1 (a lone command must be answered at once)"
check "qemu-img bench 4K random write QD32 x20000" timeout 300 qemu-img bench -f raw -c 20000 -d 32 -s 4096 -w "$U"
check "qemu-img bench 4K read QD32 x20000" timeout 300 qemu-img bench -f raw -c 20000 -d 32 -s 4096 "$U"
check "qemu-img bench 4K sequential write QD32 x8192, pattern 0xa5" \
	timeout 300 qemu-img bench -f raw -c 8192 -d 32 -s 4096 -w --pattern=0xa5 -o $((192 * MB)) "$U"
p2=$(pauses || echo none)
[ "$p2" != none ] && [ "$p1" != none ] && [ "$p2" -gt "$p1" ] && pass "QD32: the reactor batched (batch_pauses $p1 -> $p2)" \
	|| fail "QD32: no batch pause (batch_pauses $p1 -> $p2)"
check "the QD32 batches read back: 32 MiB of 0xa5" qio -c "read -P 0xa5 $((192 * MB)) 32M" "$U"

# 6. qemu-img convert in and out of a 64 MiB LUN
head -c $((64 * MB)) /dev/urandom >"$T_TMP/in.img"
check "qemu-img convert 64 MiB file -> LUN 1" timeout 300 qemu-img convert -n -f raw -O raw "$T_TMP/in.img" "$U1"
check "qemu-img convert LUN 1 -> file" timeout 300 qemu-img convert -f raw -O raw "$U1" "$T_TMP/out.img"
if [ -f "$T_TMP/out.img" ] && [ "$(sha256sum <"$T_TMP/in.img")" = "$(sha256sum <"$T_TMP/out.img")" ]; then
	pass "convert round trip: identical sha256"
else
	fail "convert round trip: checksums differ ($(stat -c %s "$T_TMP/out.img" 2>/dev/null || echo no) bytes out)"
fi
check "qemu-img compare file vs LUN 1" timeout 300 qemu-img compare -f raw -F raw "$T_TMP/in.img" "$U1"
rm -f "$T_TMP/in.img" "$T_TMP/out.img"

# 7. CHAP: a second daemon with CHAP on the target
PORT2=$(free_port)
IQN2=iqn.2026-11.org.tandem:qemu-chap
CFG_CHAP_USER=testuser CFG_CHAP_SECRET=testsecret1234 CFG_SIZE=64M \
	write_config "$T_TMP/chap.conf" "$PORT2" "$(unique_ctl)" "$IQN2" "$T_TMP/chap.img"
if start_tandemd "$T_TMP/chap.conf" "$PORT2"; then
	PID2=$TANDEMD_PID
	check "CHAP: right credentials write+read" qio_opts -c 'write -P 0x77 0 1M' -c 'read -P 0x77 0 1M' \
		"$(opts "$PORT2" "$IQN2" file.user=testuser,file.password=testsecret1234)"
	check "CHAP: credentials in the URL" qio -c 'read -P 0x77 0 1M' "iscsi://testuser%testsecret1234@127.0.0.1:$PORT2/$IQN2/0"
	check_fail "CHAP: wrong password cannot open" qio_opts -c 'read 0 4k' \
		"$(opts "$PORT2" "$IQN2" file.user=testuser,file.password=wrongsecret99)"
	check_fail "CHAP: wrong user cannot open" qio_opts -c 'read 0 4k' \
		"$(opts "$PORT2" "$IQN2" file.user=nobody,file.password=testsecret1234)"
	check_fail "CHAP: no credentials cannot open" qio -c 'read 0 4k' "$(url "$PORT2" "$IQN2" 0)"
	check "CHAP daemon alive after failed logins" daemon_alive "$PID2"
	stop_tandemd "$PID2"
else
	fail "CHAP tandemd starts"
fi

check "daemon alive and serving at the end" alive_and_serving "$PID" "$PORT" "$IQN"
stop_tandemd "$PID"
finish
