#!/usr/bin/env bash
# libiscsi's conformance suite (iscsi-test-cu, family ALL = every SCSI and iSCSI
# test once) against tandemd with one 256 MiB write-back LUN.
# Asserts: 0 failed tests, no test left incomplete (crash/hang), the daemon is
# alive and serving afterwards, and real passes (CUnit passes minus [SKIPPED])
# >= CU_MIN_PASS (default 162 = tgt 1.0.85's count with the same command, see
# docs/BENCHMARKS.md). The full log is saved to BUILD/iscsi-test-cu.log.
# Usage: bash tests/integration/test_iscsi_test_cu.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool iscsi-test-cu iscsi-inq python3
require_tandemd

CU_MIN_PASS=${CU_MIN_PASS:-162}
IQN=iqn.2026-11.org.tandem:cu
PORT=$(free_port)
CTL=$(unique_ctl)
CONF=$T_TMP/tandem.conf
# The ACL admits libiscsi's own initiator names (iscsi-test-cu uses two).
CFG_ALLOW="$LIBISCSI_IQN_PREFIX:*" CFG_SIZE=256M CFG_CACHE=write-back \
	write_config "$CONF" "$PORT" "$CTL" "$IQN" "$T_TMP/lun0.img"

start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID

LOG=$BUILD_DIR/iscsi-test-cu.log
U=$(url "$PORT" "$IQN" 0)
log "running iscsi-test-cu -t ALL --dataloss $U $U (log: $LOG)"
rc=0
# Second URL = same LUN through a second session: enables the MultipathIO tests.
timeout 1200 iscsi-test-cu --dataloss -t ALL "$U" "$U" >"$LOG" 2>&1 || rc=$?
log "iscsi-test-cu exit status $rc"
[ "$rc" -ne 124 ] || fail "iscsi-test-cu timed out after 1200 s"

python3 "$T_LIB_DIR/cu_summary.py" "$LOG" --skips >"$T_TMP/cu.sum"
sed -e 's/^/    /' "$T_TMP/cu.sum"
cp "$T_TMP/cu.sum" "$BUILD_DIR/iscsi-test-cu.summary"
read -r npass nfail nskip ninc ntotal < <(sed -n '1s/passed=\([0-9]*\) failed=\([0-9]*\) skipped=\([0-9]*\) incomplete=\([0-9]*\) total=\([0-9]*\)/\1 \2 \3 \4 \5/p' "$T_TMP/cu.sum")
log "real passes $npass, failed $nfail, skipped $nskip, incomplete $ninc, total $ntotal"

if grep -q '^Run Summary:' "$LOG"; then pass "iscsi-test-cu ran to its summary"; else fail "iscsi-test-cu did not reach its Run Summary (crash or hang?)"; fi
[ "$ntotal" -ge 200 ] && pass "suite ran $ntotal tests" || fail "suite ran only $ntotal tests"
[ "$nfail" -eq 0 ] && pass "0 failed tests" || fail "$nfail failed tests (see $LOG)"
[ "$ninc" -eq 0 ] && pass "no incomplete test" || fail "$ninc tests never finished"
[ "$npass" -ge "$CU_MIN_PASS" ] && pass "real passes $npass >= $CU_MIN_PASS" \
	|| fail "real passes $npass < $CU_MIN_PASS"
check "daemon alive and serving after the suite" alive_and_serving "$PID" "$PORT" "$IQN"
stop_tandemd "$PID"
cp "$TANDEMD_LOG" "$BUILD_DIR/iscsi-test-cu.tandemd.log" 2>/dev/null || true
finish
