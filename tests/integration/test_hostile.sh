#!/usr/bin/env bash
# Hostile clients (tests/integration/test_hostile.py) against tandemd with the
# default resource limits (docs/HARDENING.md), shorter login/NOP timeouts so
# the stalled connections die within the test: stalled and half-open logins,
# slowloris, sessions stalled mid-PDU, NOP floods that never read, 1 MiB
# un-negotiated data segments, connect churn. A well-behaved session keeps
# reading 4 KiB blocks throughout (latency idle vs attack is reported as
# RESULT lines), VmRSS stays bounded, and afterwards iscsi-inq and new logins
# work; the daemon exits cleanly (no sanitizer report).
# Usage: bash tests/integration/test_hostile.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool python3 iscsi-inq
require_tandemd

TANDEM_PORT_BASE=${TANDEM_PORT_BASE:-3320}
IQN=iqn.2026-11.org.tandem:hostile
PORT=$(free_port)
CONF=$T_TMP/tandem.conf
cat >"$CONF" <<CONF
global {
    log_level: notice
    threads: 2
    ctl_socket: tandem-hard-$$
    login_timeout: 5
    nop_interval: 2
    nop_timeout: 3
}
portal_group pg1 {
    tag: 1
    listen: 127.0.0.1:$PORT
}
target $IQN {
    portal_group: pg1
    lun 0 {
        backend: blockio
        path: $T_TMP/lun0.img
        create: yes
        size: 64M
        cache: write-back
        serial: hostile-lun0
        naa: 6001405000000000000000000000c001
    }
}
CONF
start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID
rc=0
python3 "$T_LIB_DIR/test_hostile.py" --port "$PORT" --iqn "$IQN" --pid "$PID" \
	--conns "${HOSTILE_CONNS:-300}" --secs "${HOSTILE_SECS:-12}" --nblocks 131072 \
	>"$T_TMP/hostile.out" 2>&1 || rc=$?
sed -e 's/^/    /' "$T_TMP/hostile.out"
if [ "$rc" -eq 0 ]; then
	pass "hostile clients: $(grep -E '^[0-9]+ passed' "$T_TMP/hostile.out" | tail -n 1)"
else
	fail "hostile clients (exit $rc): $(grep -E '^FAIL' "$T_TMP/hostile.out" | tr '\n' ' ' | cut -c1-300)"
fi
grep -E 'refusing connection|pausing reads|login did not complete|NOP-In' "$TANDEMD_LOG" | sort | uniq -c | sort -rn | head -n 8 \
	| sed -e 's/^/    log: /' || true
stop_tandemd "$PID"
finish
