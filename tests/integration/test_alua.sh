#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ALUA end to end, because ESXi and dm-multipath act on exactly these bytes: a
# tandemd with two portal groups in two ALUA groups (as one node of an HA pair,
# with the peer's port listed), `tandemctl alua` moving group node-a through
# transitioning -> standby -> active-optimized while sessions do I/O
# (alua_client.py checks sense codes and unit attentions per session),
# tandemctl alua errors and exit codes, status/--json, reload keeping the
# runtime state, and libiscsi's multipath suite with one URL per portal group.
#
#   bash tests/integration/test_alua.sh [BUILD_DIR]
# ALUA_PORT_A / ALUA_PORT_B / ALUA_CTL pin the ports and control socket
# (default: free ports, a unique socket).
source "$(dirname "$0")/lib.sh"
require_tandemd
require_tool python3 iscsi-test-cu

IQN=iqn.2026-11.org.tandem:alua
PA=${ALUA_PORT_A:-$(free_port)}
PB=${ALUA_PORT_B:-$(free_port)}
CTL=${ALUA_CTL:-$(unique_ctl)}
CONF=$T_TMP/alua.conf

cat >"$CONF" <<EOF
global {
    ctl_socket: $CTL
    threads: 2
}
alua_group node-a {
    id: 1
    state: active-optimized
}
alua_group node-b {
    id: 2
    state: active-nonoptimized
    peer_port: 17
}
portal_group pg-a {
    tag: 1
    listen: 127.0.0.1:$PA
    alua_group: node-a
}
portal_group pg-b {
    tag: 2
    listen: 127.0.0.1:$PB
    alua_group: node-b
}
target $IQN {
    lun 0 {
        backend: fileio
        path: $T_TMP/lun0.img
        size: 64M
        create: yes
        serial: alua-test-lun0
        naa: 6001405000000000000000000000a1a1
    }
}
EOF

check "config with alua groups validates" "$TANDEMD" --check -c "$CONF"
# a broken ALUA reference is reported with file:line
sed 's/alua_group: node-b/alua_group: node-c/' "$CONF" >"$T_TMP/bad.conf"
if out=$("$TANDEMD" --check -c "$T_TMP/bad.conf" 2>&1); then
	fail "unknown alua_group accepted"
else
	[[ "$out" == *"bad.conf:22: portal_group 'pg-b' refers to unknown alua_group 'node-c'"* ]] &&
		pass "unknown alua_group: $out" || fail "unknown alua_group message: $out"
fi

start_tandemd "$CONF" "$PA" || { finish; exit 1; }
PID=$TANDEMD_PID
wait_port "$PB" 10 "$PID"
C=("$TANDEMCTL" -s "$CTL")

check "status shows ALUA groups" bash -c "${C[*]} status | grep -q 'alua group node-a (id 1): active-optimized  target ports 1'"
check "status --json has alua_groups" bash -c "${C[*]} --json status | python3 -c '
import json, sys
g = json.load(sys.stdin)[\"alua_groups\"]
assert g == [{\"name\": \"node-a\", \"id\": 1, \"state\": \"active-optimized\", \"ports\": [1], \"portal_groups\": [\"pg-a\"]},
             {\"name\": \"node-b\", \"id\": 2, \"state\": \"active-nonoptimized\", \"ports\": [2, 17], \"portal_groups\": [\"pg-b\"]}], g'"

check "sessions see every state change (alua_client.py)" \
	python3 "$T_LIB_DIR/alua_client.py" --ctl "$TANDEMCTL" --service "$CTL" --iqn "$IQN" --port-a "$PA" --port-b "$PB"
sed -e 's/^/    | /' "$T_TMP/last.out" | grep -E "passed|FAIL" || true

# tandemctl alua: errors and exit codes (2 usage, 1 daemon-side, 3 not running)
check_rc "alua by id" 0 "${C[@]}" alua 2 standby
check_rc "alua unknown group -> 1" 1 "${C[@]}" alua node-z standby
check_rc "alua unknown state -> 2" 2 "${C[@]}" alua node-a sleeping
check_rc "alua missing state -> 2" 2 "${C[@]}" alua node-a
check_rc "alua too many args -> 2" 2 "${C[@]}" alua node-a standby now
check_rc "alua daemon not running -> 3" 3 "$TANDEMCTL" -s "tandem-alua-none-$$" alua node-a standby
check "state is in status" bash -c "${C[*]} --json status | grep -q '\"name\":\"node-b\",\"id\":2,\"state\":\"standby\"'"
# reload keeps the runtime state of groups that stay
check "reload" "${C[@]}" reload
check "reload kept node-b standby" bash -c "${C[*]} --json status | grep -q '\"name\":\"node-b\",\"id\":2,\"state\":\"standby\"'"
check_rc "back to active-nonoptimized" 0 "${C[@]}" alua node-b active-nonoptimized

# libiscsi's multipath tests, one URL per portal group (both paths active)
U1="iscsi://127.0.0.1:$PA/$IQN/0"
CU_MPIO_MIN=4 CU_RSO_MIN=6   # measured: every MultipathIO test; RSO 6 of 12 (the rest skip correctly: no atomic writes, ...)
U2="iscsi://127.0.0.1:$PB/$IQN/0"
# libiscsi exits 0 when every test skipped: count the real passes too
# (cu_summary.py: a pass without [SKIPPED])
cu_passed() { # LOG MIN
	local sum n
	sum=$(python3 "$T_LIB_DIR/cu_summary.py" "$1" | head -n 1)
	n=$(sed -n 's/^passed=\([0-9]*\).*/\1/p' <<<"$sum")
	echo "$sum"
	[ "${n:-0}" -ge "$2" ]
}
check "iscsi-test-cu SCSI.MultipathIO over both portal groups" \
	timeout 300 iscsi-test-cu --dataloss -t SCSI.MultipathIO "$U1" "$U2"
cp "$T_TMP/last.out" "$T_TMP/cu-mpio.out"
check "... with real passes, not skips (>= $CU_MPIO_MIN)" cu_passed "$T_TMP/cu-mpio.out" "$CU_MPIO_MIN"
sed -e 's/^/    | /' "$T_TMP/last.out"
check "iscsi-test-cu ReportSupportedOpcodes/ReadDefectData/WriteAtomic16" \
	timeout 300 iscsi-test-cu --dataloss \
	-t SCSI.ReportSupportedOpcodes,SCSI.ReadDefectData10,SCSI.ReadDefectData12,SCSI.WriteAtomic16 "$U1"
cp "$T_TMP/last.out" "$T_TMP/cu-rso.out"
check "... with real passes, not skips (>= $CU_RSO_MIN)" cu_passed "$T_TMP/cu-rso.out" "$CU_RSO_MIN"
sed -e 's/^/    | /' "$T_TMP/last.out"
# A standby path refuses TEST UNIT READY (SPC-4 5.15.2.4.4, as LIO): libiscsi's
# connect sends one and gives up on it, while ESXi / dm-multipath take 04h/0Bh
# as "path in standby". alua_client.py covers what a standby path answers.
check_rc "node-a standby" 0 "${C[@]}" alua node-a standby
if out=$(iscsi-inq "$U1" 2>&1); then
	fail "libiscsi connected through a standby path: $out"
else
	[[ "$out" == *"NOT READY"*"0x040b"* ]] && pass "libiscsi connect on the standby path sees NOT READY 04/0B" ||
		fail "libiscsi connect on the standby path: $out"
fi
check "iscsi-inq through the active path" iscsi-inq "$U2"
check_rc "node-a active-optimized" 0 "${C[@]}" alua node-a active-optimized

stop_tandemd "$PID"
finish
