#!/usr/bin/env bash
# Malformed/hostile iSCSI input (tests/integration/test_bad_input.py) against
# tandemd with two targets: one open, one with CHAP. The python client asserts
# the target's reaction to each bad PDU or login (Reject 0x3f for an unknown
# opcode, drop for a SCSI command before login, status 0x0205 / 0x0203 / 0x0201
# for version mismatch / unknown target / wrong CHAP, ...) and after every case
# that the process is alive and iscsi-inq still works. The daemon must exit
# cleanly afterwards (and without sanitizer reports in a sanitizer build).
# Usage: bash tests/integration/test_bad_input.sh path/to/build
# (BAD_INPUT_ONLY=substring runs only the cases whose name contains it)
source "$(dirname "$0")/lib.sh"
require_tool python3 iscsi-inq
require_tandemd

IQN=iqn.2026-11.org.tandem:bad
IQN_CHAP=iqn.2026-11.org.tandem:bad-chap
PORT=$(free_port)
PORT2=$(free_port)
CTL=$(unique_ctl)
CONF=$T_TMP/tandem.conf
cat >"$CONF" <<CONF
global {
    log_level: info
    threads: 2
    ctl_socket: $CTL
}
portal_group pg1 {
    tag: 1
    listen: 127.0.0.1:$PORT
}
portal_group pg2 {
    tag: 2
    listen: 127.0.0.1:$PORT2
}
target $IQN {
    portal_group: pg1
    portal_group: pg2
    lun 0 {
        backend: null
        size: 64M
        serial: bad-lun0
        naa: 6001405000000000000000000000b001
    }
}
target $IQN_CHAP {
    portal_group: pg1
    chap {
        user: testuser
        secret: "testsecret1234"
        mutual_user: tgtuser
        mutual_secret: "mutualsecret99"
    }
    lun 0 {
        backend: fileio
        path: $T_TMP/chap.img
        size: 64M
        create: yes
        serial: bad-lun1
        naa: 6001405000000000000000000000b002
    }
}
CONF
start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID
rc=0
python3 "$T_LIB_DIR/test_bad_input.py" --port "$PORT" --port2 "$PORT2" --iqn "$IQN" --chap-iqn "$IQN_CHAP" \
	--chap-user testuser --chap-secret testsecret1234 \
	--chap-mutual-user tgtuser --chap-mutual-secret mutualsecret99 --pid "$PID" --connects "${CONNECTS:-1000}" \
	--tandemctl "$TANDEMCTL" --ctl "$CTL" --conf "$CONF" --only "${BAD_INPUT_ONLY:-}" \
	>"$T_TMP/bad.out" 2>&1 || rc=$?
sed -e 's/^/    /' "$T_TMP/bad.out"
if [ "$rc" -eq 0 ]; then
	pass "python bad-input client: $(tail -n 1 "$T_TMP/bad.out")"
else
	fail "python bad-input client (exit $rc): $(tail -n 1 "$T_TMP/bad.out")"
fi
check "daemon alive and serving at the end" alive_and_serving "$PID" "$PORT" "$IQN"
stop_tandemd "$PID"
finish
