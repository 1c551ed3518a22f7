#!/usr/bin/env bash
# libiscsi's conformance suite (iscsi-test-cu, family ALL = every SCSI and iSCSI
# test once) against tandemd with one 256 MiB write-back LUN.
# Asserts: 0 failed tests, no test left incomplete (crash/hang), the daemon is
# alive and serving afterwards, and real passes (CUnit passes minus [SKIPPED])
# >= CU_MIN_PASS (default 200; tgt 1.0.85 gets 162 with the same command, see
# docs/BENCHMARKS.md). The full log is saved to BUILD/iscsi-test-cu.log.
#
# SANITIZE tests need --allow-sanitize (-S); the LUN is a scratch file. They run
# in a second pass, one test at a time, all but SCSI.Sanitize.Reset: that test
# asserts an OVERWRITE of the whole LUN is still running ~4 s after it started
# (a scratch file is overwritten in well under a second, so it measures the
# disk, not conformance), and then polls with sleep(60) between commands, which
# outlives the 10 s NOP-In timeout and reconnects forever. Unit tests
# (test_scsi_sanitize) cover what it checks: NOT READY / SANITIZE IN PROGRESS
# while running, INQUIRY allowed, the operation surviving ABORT and LUN RESET.
# Both passes are summed: BUILD/iscsi-test-cu.log and BUILD/iscsi-test-cu-sanitize.log.
#
# A third pass runs the suite's write-protect tests (SCSI.ReadOnly.ReadOnlySBC:
# every write, WRITE SAME, UNMAP, COMPARE AND WRITE... answers DATA PROTECT /
# WRITE PROTECTED and MODE SENSE reports WP; SCSI.Sanitize.Readonly) against
# LUN 1, configured `readonly: yes` (they skip on a writable LUN), and checks
# that LUN 1's file is unchanged afterwards (BUILD/iscsi-test-cu-readonly.log).
# Usage: bash tests/integration/test_iscsi_test_cu.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool iscsi-test-cu iscsi-inq python3
require_tandemd

CU_MIN_PASS=${CU_MIN_PASS:-200}
SANITIZE_TESTS="BlockErase BlockEraseReserved CryptoErase CryptoEraseReserved ExitFailureMode
	InvalidServiceAction Overwrite OverwriteReserved Readonly Reservations"
IQN=iqn.2026-11.org.tandem:cu
PORT=$(free_port)
CTL=$(unique_ctl)
CONF=$T_TMP/tandem.conf
# The ACL admits libiscsi's own initiator names (iscsi-test-cu uses two).
RO_IMG=$T_TMP/lun1-readonly.img
head -c 16M /dev/urandom >"$RO_IMG"
RO_SUM=$(sha256sum <"$RO_IMG")
CFG_EXTRA_LUNS="    lun 1 {
        backend: blockio
        path: $RO_IMG
        size: 16M
        readonly: yes
        serial: $T_NAME-lun1
        naa: 6001405000000000000000000000a002
    }" CFG_ALLOW="$LIBISCSI_IQN_PREFIX:*" CFG_SIZE=256M CFG_CACHE=write-back \
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

SLOG=$BUILD_DIR/iscsi-test-cu-sanitize.log
: >"$SLOG"
for t in $SANITIZE_TESTS; do
	log "running iscsi-test-cu -S -t SCSI.Sanitize.$t"
	src=0
	timeout 300 iscsi-test-cu --dataloss --allow-sanitize -t "SCSI.Sanitize.$t" "$U" "$U" >>"$SLOG" 2>&1 || src=$?
	[ "$src" -ne 124 ] || fail "iscsi-test-cu SCSI.Sanitize.$t timed out after 300 s"
done

# One summary over both passes: the first pass's Sanitize entries (skipped
# without -S) are replaced by the second pass's results.
python3 - "$LOG" "$SLOG" "$T_LIB_DIR" >"$T_TMP/cu.sum" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[3])
import re
from cu_summary import parse
def load(path):
    # a result printed on its own line with teardown output after it
    # ("passed    [FAILED] PRIN ...") is a result, then that output
    text = open(path, errors='replace').read()
    return re.sub(r'^(passed|FAILED)[ \t]{2,}(\S)', r'\1\n    \2', text, flags=re.M)
main = parse(load(sys.argv[1]))
san = parse(load(sys.argv[2]))
res = [r for r in main if r[0] != 'Sanitize'] + san
n = {'passed': 0, 'FAILED': 0, 'skipped': 0, 'incomplete': 0}
for r in res:
    n[r[2]] += 1
print('passed=%d failed=%d skipped=%d incomplete=%d total=%d' % (
    n['passed'], n['FAILED'], n['skipped'], n['incomplete'], len(res)))
print('sanitize pass: %d tests, %d real passes' % (len(san), sum(1 for r in san if r[2] == 'passed')))
for s, t, st, m in res:
    if st in ('FAILED', 'incomplete'):
        print('%s %s.%s: %s' % (st.upper(), s, t, ' | '.join(m[:4])[:400]))
for s, t, st, m in res:
    if st == 'skipped':
        print('SKIPPED %s.%s: %s' % (s, t, next((x for x in m if '[SKIPPED]' in x), '')))
PYEOF
sed -e 's/^/    /' "$T_TMP/cu.sum"
cp "$T_TMP/cu.sum" "$BUILD_DIR/iscsi-test-cu.summary"
read -r npass nfail nskip ninc ntotal < <(sed -n '1s/passed=\([0-9]*\) failed=\([0-9]*\) skipped=\([0-9]*\) incomplete=\([0-9]*\) total=\([0-9]*\)/\1 \2 \3 \4 \5/p' "$T_TMP/cu.sum")
log "real passes $npass, failed $nfail, skipped $nskip, incomplete $ninc, total $ntotal"

if grep -q '^Run Summary:' "$LOG" && [ "$(grep -c '^Run Summary:' "$SLOG")" -eq "$(echo $SANITIZE_TESTS | wc -w)" ]; then pass "iscsi-test-cu ran to its summary"; else fail "iscsi-test-cu did not reach its Run Summary (crash or hang?)"; fi
[ "$ntotal" -ge 200 ] && pass "suite ran $ntotal tests" || fail "suite ran only $ntotal tests"
[ "$nfail" -eq 0 ] && pass "0 failed tests" || fail "$nfail failed tests (see $LOG, $SLOG)"
[ "$ninc" -eq 0 ] && pass "no incomplete test" || fail "$ninc tests never finished"
[ "$npass" -ge "$CU_MIN_PASS" ] && pass "real passes $npass >= $CU_MIN_PASS" \
	|| fail "real passes $npass < $CU_MIN_PASS"

# ---- third pass: the write-protect tests on the read-only LUN 1
RLOG=$BUILD_DIR/iscsi-test-cu-readonly.log
U1=$(url "$PORT" "$IQN" 1)
: >"$RLOG"
for t in SCSI.ReadOnly.ReadOnlySBC SCSI.Sanitize.Readonly; do
	log "running iscsi-test-cu -S -t $t on the read-only LUN 1"
	rrc=0
	timeout 300 iscsi-test-cu --dataloss --allow-sanitize -t "$t" "$U1" >>"$RLOG" 2>&1 || rrc=$?
	[ "$rrc" -ne 124 ] || fail "iscsi-test-cu $t timed out after 300 s"
done
# per test: its status and how many assertions it made (a test that returns
# early asserts nothing and would pass as well)
python3 - "$RLOG" "$T_LIB_DIR" >"$T_TMP/ro.sum" <<'PYEOF'
import re, sys
sys.path.insert(0, sys.argv[2])
from cu_summary import parse
text = open(sys.argv[1], errors='replace').read()
res = parse(text)
asserts = [tuple(int(x) for x in m.groups()) for m in
           re.finditer(r'^\s+asserts\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)', text, re.M)]
for (s, t, st, m), a in zip(res, asserts):
    print('%s.%s %s asserts_passed=%d asserts_failed=%d' % (s, t, st, a[2], a[3]))
PYEOF
sed -e 's/^/    /' "$T_TMP/ro.sum"
for t in ReadOnly.ReadOnlySBC Sanitize.Readonly; do
	line=$(grep -F "$t " "$T_TMP/ro.sum" || true)
	if [ -n "$line" ] && ! grep -q 'FAILED\|incomplete\|asserts_failed=[1-9]' <<<"$line" &&
	   ! grep -q 'asserts_passed=0 ' <<<"$line"; then
		pass "read-only LUN: SCSI.$t ran, every assertion passed"
	else
		fail "read-only LUN: SCSI.$t: ${line:-no result} (see $RLOG)"
	fi
done
[ "$(sha256sum <"$RO_IMG")" = "$RO_SUM" ] && pass "read-only LUN's file unchanged" \
	|| fail "read-only LUN's file was modified"

check "daemon alive and serving after the suite" alive_and_serving "$PID" "$PORT" "$IQN"
stop_tandemd "$PID"
cp "$TANDEMD_LOG" "$BUILD_DIR/iscsi-test-cu.tandemd.log" 2>/dev/null || true
finish
