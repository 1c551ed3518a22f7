#!/usr/bin/env bash
# tests/fuzz/run.sh: bounded libFuzzer run of every fuzz target.
#   1. builds BUILD_DIR (default build-fuzz) with clang and -DTANDEM_FUZZ=ON if needed;
#   2. runs each fuzz_* executable for FUZZ_SECONDS (default 30) on a scratch copy
#      of its corpus tests/fuzz/corpus/<target>/ (the seeds and every kept
#      crash-*/regress-* input are replayed first, so old crashes stay fixed);
#   3. fails on any crash, timeout, leak or sanitizer report (artifact kept in
#      the scratch dir, path printed); prints execs/s and coverage per target and
#      ends with "N passed, M failed".
# Environment: FUZZ_SECONDS (per target; 0 = only replay the corpus),
# FUZZ_ONLY=pattern (targets whose name matches), FUZZ_JOBS (make -j),
# FUZZ_MERGE=1 (merge new coverage back into tests/fuzz/corpus; for maintainers),
# KEEP_TMP=1 (keep the scratch dir). Usage: bash tests/fuzz/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${1:-$ROOT/build-fuzz}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SECS=${FUZZ_SECONDS:-30}
CORPUS=$ROOT/tests/fuzz/corpus
SCRATCH=$(mktemp -d /tmp/tandem-fuzz.XXXXXX)
cleanup() { [ "${KEEP_TMP:-0}" = 1 ] && echo "scratch kept: $SCRATCH" || rm -rf "$SCRATCH"; }
trap cleanup EXIT

command -v clang >/dev/null || { echo "clang not installed (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
if [ ! -f "$BUILD/CMakeCache.txt" ] || ! grep -q '^TANDEM_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
	CC=clang cmake -S "$ROOT" -B "$BUILD" -DTANDEM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$SCRATCH/cmake.log" 2>&1 \
		|| { cat "$SCRATCH/cmake.log"; exit 1; }
fi
if ! make -C "$BUILD/tests/fuzz" -j"${FUZZ_JOBS:-$(nproc)}" >"$SCRATCH/build.log" 2>&1; then
	grep -E 'error|Error' "$SCRATCH/build.log" | head -n 30
	echo "0 passed, 1 failed"
	exit 1
fi

NPASS=0
NFAIL=0
# every fuzz_*.c must have produced its binary (a missing one is not a pass)
if [ -z "${FUZZ_ONLY:-}" ]; then
	want=$(ls "$ROOT"/tests/fuzz/fuzz_*.c | wc -l)
	have=$(find "$BUILD/tests/fuzz" -maxdepth 1 -name 'fuzz_*' -type f -executable | wc -l)
	if [ "$want" -eq 0 ] || [ "$have" -ne "$want" ]; then
		echo "fuzz: $have fuzz binaries built for $want fuzz_*.c sources"
		echo "0 passed, 1 failed"
		exit 1
	fi
fi
for exe in "$BUILD"/tests/fuzz/fuzz_*; do
	[ -x "$exe" ] && [ -f "$exe" ] || continue
	name=$(basename "$exe")
	target=${name#fuzz_}
	[ -z "${FUZZ_ONLY:-}" ] || [[ "$name" == *$FUZZ_ONLY* ]] || continue
	work=$SCRATCH/$target
	mkdir -p "$work/corpus" "$work/artifacts"
	[ -d "$CORPUS/$target" ] && cp "$CORPUS/$target"/* "$work/corpus/" 2>/dev/null || true
	log=$work/fuzz.log
	rc=0
	# -timeout: one input taking longer is a hang; -rss_limit_mb: memory bound;
	# -max_total_time=0 would mean "forever", so replay only when SECS=0.
	if [ "$SECS" -gt 0 ]; then
		timeout --kill-after=30 $((SECS + 300)) "$exe" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2560 \
			-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || rc=$?
	else
		timeout --kill-after=30 300 "$exe" -runs=0 -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
			-artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || rc=$?
	fi
	execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
	rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
	cov=$(grep -Eo '(DONE|INITED) +cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 | sed -E 's/(DONE|INITED) +//' || true)
	ncorp=$(find "$work/corpus" -type f | wc -l)
	arts=$(find "$work/artifacts" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ "$arts" -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		NPASS=$((NPASS + 1))
		echo "PASS $name: ${SECS}s, $execs execs ($rate/s), ${cov:-cov ?}, corpus $ncorp"
		if [ "${FUZZ_MERGE:-0}" = 1 ]; then
			mkdir -p "$CORPUS/$target"
			"$exe" -merge=1 "$CORPUS/$target" "$work/corpus" >"$work/merge.log" 2>&1 || echo "  merge failed: $work/merge.log"
		fi
	else
		NFAIL=$((NFAIL + 1))
		KEEP_TMP=1
		echo "FAIL $name: exit $rc, ${cov:-cov ?}; log $log; artifacts:"
		find "$work/artifacts" -type f | sed 's/^/  /'
		grep -E -A 25 '^==[0-9]+==ERROR|runtime error:|fuzz harness:|ERROR: libFuzzer' "$log" | head -n 60 || tail -n 40 "$log"
	fi
done
echo "$NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
