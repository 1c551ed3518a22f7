#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# LUN size changes in service: a reload with a new `size` (or a `size: 0`
# LUN whose file grew) changes the capacity without taking the LUN away, and
# every session gets CAPACITY DATA HAS CHANGED. An operator grows a datastore
# LUN this way (ESXi: rescan, then "Increase Datastore"); before, the reload
# removed the LUN and added it back, which ESXi can take for a lost device.
#
#   - resize_client.py: two raw sessions through grow (configured size and a
#     file grown underneath), a refused size, and a shrink (see its header);
#   - real initiators: qemu-io keeps one session open across a grow (a write
#     after the change, past the old end, and the reads back succeed: QEMU's
#     driver retries on the unit attention), qemu-img info and
#     iscsi-readcapacity16 report the new size in new sessions;
#   - tandemctl status --json shows the capacity in service;
#   - a new vendor id waits for the LUN's next open, with a warning (never
#     a LUN taken away for it); a new NAA id replaces the LUN;
#   - tandemd exits cleanly, no sanitizer report.
#
#   bash tests/integration/test_resize.sh [BUILD_DIR]
source "$(dirname "$0")/lib.sh"
require_tandemd
require_tool python3 qemu-io qemu-img iscsi-readcapacity16

IQN=iqn.2026-11.org.tandem:resize
PORT=$(free_port)
CTL=$(unique_ctl)
CONF=$T_TMP/resize.conf
RC=(python3 "$T_LIB_DIR/resize_client.py" --ctl "$TANDEMCTL" --service "$CTL" --conf "$CONF" --dir "$T_TMP"
	--port "$PORT" --iqn "$IQN")

"${RC[@]}" --write-conf
truncate -s 32M "$T_TMP/lun2.img"
check "the configuration validates" "$TANDEMD" --check -c "$CONF"
start_tandemd "$CONF" "$PORT" || { finish; exit 1; }
PID=$TANDEMD_PID
C=("$TANDEMCTL" -s "$CTL")

check "two sessions through grow, file growth, a refused size and a shrink (resize_client.py)" "${RC[@]}"
sed -e 's/^/    | /' "$T_TMP/last.out" | grep -E "passed|FAIL" || true

lun0_size() { # the capacity in service, from status --json
	"${C[@]}" --json status | python3 -c '
import json, sys
st = json.load(sys.stdin)
print([l["size"] for t in st["targets"] for l in t["luns"] if l["lun"] == 0][0])'
}
check "status --json: LUN 0 serves 80 MiB after the shrink" test "$(lun0_size)" = $((80 << 20))
check "iscsi-readcapacity16 (a new session) reports 80 MiB" bash -c \
	"iscsi-readcapacity16 '$(url "$PORT" "$IQN" 0)' | grep -q 'Total size:$((80 << 20))'"

# one QEMU session across a grow: it writes, sleeps while the reload grows the
# LUN, then writes again (its next command meets the unit attention, which
# QEMU's driver retries) and reads both back. QEMU keeps the size it read at
# open (a guest rescans to use more), so its I/O stays below the old end.
U0=$(url "$PORT" "$IQN" 0)
qemu-io -f raw -c "write -P 0x3c 0 1M" -c "sleep 5000" -c "write -P 0x3d 70M 1M" \
	-c "read -P 0x3c 0 1M" -c "read -P 0x3d 70M 1M" "$U0" >"$T_TMP/qio.out" 2>&1 &
QIO=$!
track_pid "$QIO"
# (qemu-io's output is buffered until it exits: wait for its session instead)
nsess() { "${C[@]}" --json status | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["sessions"]))'; }
for _ in $(seq 1 50); do [ "$(nsess)" -ge 1 ] && break; sleep 0.1; done
sleep 0.5
sed -i "s|size: 80M|size: 112M|" "$CONF"
check "reload growing LUN 0 to 112 MiB while QEMU holds a session" "${C[@]}" reload
rc=0
wait "$QIO" || rc=$?
untrack_pid "$QIO"
sed -e 's/^/    | /' "$T_TMP/qio.out"
check "QEMU's session: every command succeeded across the grow (exit 0, nothing failed)" \
	bash -c "[ $rc = 0 ] && ! grep -qiE 'failed|error' <(grep -v CheckCondition '$T_TMP/qio.out') && \
		[ \$(grep -c '^read 1048576' '$T_TMP/qio.out') = 2 ]"
check "QEMU's session was told: CAPACITY DATA HAS CHANGED" grep -qi "CAPACITY_DATA_HAS_CHANGED\|0x2a09" "$T_TMP/qio.out"
check "qemu-img info (a new session) shows 112 MiB" bash -c "qemu-img info '$U0' | grep -q 'virtual size: 112 MiB'"
check "status --json: LUN 0 serves 112 MiB" test "$(lun0_size)" = $((112 << 20))
check "the log records each change" bash -c "grep -c 'LUN 0: capacity' '$TANDEMD_LOG' | grep -qx 3"

# inquiry strings are not changed under a LUN in service, and the LUN is not
# taken away for them (ESXi: a device loss): a reload with another vendor id
# on LUN 3 warns that it waits for the LUN's next open, INQUIRY keeps the
# running one; a new NAA id is another device: the LUN is replaced
sed -i "s|serial: resize-lun3|serial: resize-lun3\n        vendor: NEWVEND|" "$CONF"
out=$("${C[@]}" reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && grep -q "LUN 3: a new vendor applies when the LUN opens again" <<<"$out" \
	&& pass "reload with a new vendor id on LUN 3: warns that it waits for the next open" \
	|| fail "reload with a new vendor id on LUN 3: exit $rc: $out"
check "INQUIRY on LUN 3 still answers the running vendor id" bash -c \
	"iscsi-inq '$(url "$PORT" "$IQN" 3)' | grep -q 'Vendor:TANDEM'"
check_fail "LUN 3 was not taken out for it" grep -q "removing LUN 3" "$TANDEMD_LOG"
sed -i "s|naa: 6001405000000000000000000000a103|naa: 6001405000000000000000000000beef|" "$CONF"
out=$("${C[@]}" reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && ! grep -q "not all" <<<"$out" && pass "reload with a new NAA id (and the vendor id) on LUN 3: applied" \
	|| fail "reload with a new NAA id on LUN 3: exit $rc: $out"
check "LUN 3 was replaced" bash -c "grep -q 'removing LUN 3' '$TANDEMD_LOG' && grep -q 'adding LUN 3' '$TANDEMD_LOG'"
check "INQUIRY on LUN 3 (a new session) answers the new vendor id" bash -c \
	"iscsi-inq '$(url "$PORT" "$IQN" 3)' | grep -q 'Vendor:NEWVEND'"
check "VPD 83h of LUN 3 carries the new NAA id" test "$("${RC[@]}" --naa-of 3)" = 6001405000000000000000000000beef

stop_tandemd "$PID"
finish
