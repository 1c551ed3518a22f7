#!/usr/bin/env bash
# tests/run.sh: the whole test suite, as CI runs it (.ci/run execs this).
#   1. installs what the build and the tests need (apt, only what is missing);
#   2. builds two trees: build/ (normal) and build-asan/ (-DTANDEM_SANITIZE=ON),
#      and compiles a third, build-release/ (-O3), for its warnings only;
#   3. runs ctest (unit tests) in both, then the bounded fuzz run (tests/fuzz/run.sh,
#      clang build in build-fuzz/, FUZZ_SECONDS per target);
#   4. runs every tests/integration/test_*.sh against both builds' tandemd
#      (tests listed in ASAN_ONLY run against the sanitizer build only, those
#      in PLAIN_ONLY against the normal build only);
#   5. prints a summary and a final line "N passed, M failed"; exits 1 on any failure.
# Environment: JOBS (make -j), SKIP_INSTALL=1, SKIP_BUILD=1 (reuse trees),
# CMAKE_EXTRA_ARGS (added to both cmake calls),
# ONLY=pattern (run only integration tests whose name matches),
# FUZZ_SECONDS (libFuzzer time per target, default 10; 0 = replay the corpora
# only; "skip" = no fuzzing step).
set -euo pipefail
# The Debian packages installed below are the ones tested: their directories
# come first (a pyenv python3 shim ahead of /usr/bin starts 10x slower).
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
cd "$(dirname "$0")/.."
ROOT=$(pwd)
START=$(date +%s)
JOBS=${JOBS:-$(nproc)}
# Integration tests that run against the sanitizer build only (to save time):
# the backend-fault and hostile-client tests (~80 s and ~20 s per build) drive
# error and teardown paths, where the sanitizer build is the one that finds
# something; the normal build runs them in the same code with no checks.
ASAN_ONLY=${ASAN_ONLY:-test_backend_faults test_hostile}
# ... and against the normal build only: the OCF agent's test (~2.5 min) tests
# a bash agent; tandemd under ASan gains nothing there that the other
# integration tests do not cover, and the whole run stays well under 45 min.
PLAIN_ONLY=${PLAIN_ONLY:-test_ocf}

RESULTS=()
NPASS=0
NFAIL=0
FAILED_LOGS=()
record() { # record pass|fail "name" [detail [log: its FAIL lines are repeated after the summary]]
	if [ "$1" = pass ]; then NPASS=$((NPASS + 1)); RESULTS+=("PASS  $2"); else NFAIL=$((NFAIL + 1)); RESULTS+=("FAIL  $2${3:+  ($3)}"); fi
	if [ "$1" = fail ] && [ -n "${4:-}" ]; then FAILED_LOGS+=("$4"); fi
}
stamp() { printf '=== [%4ss] %s\n' "$(( $(date +%s) - START ))" "$*"; }
run_script() { # run_script NAME SCRIPT BUILD_DIR TIMEOUT_S: run one test script against a build, record it
	local name=$1 t=$2 dir=$3 limit=$4 logf t0 rc=0 secs last
	stamp "$name against $dir"
	logf="$ROOT/$dir/$name.log"
	t0=$(date +%s)
	timeout --kill-after=30 "$limit" bash "$t" "$ROOT/$dir" </dev/null >"$logf" 2>&1 || rc=$?
	cat "$logf"
	secs=$(( $(date +%s) - t0 ))
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logf" | tail -n 1 || true)
	if [ "$rc" -eq 0 ]; then
		record pass "$name [$dir] ${last:-} (${secs}s)"
	else
		record fail "$name [$dir]" "exit $rc${last:+, $last}, ${secs}s, log $logf" "$logf"
	fi
}

# ---------------------------------------------------------------- 1. packages
PKGS=(build-essential cmake pkg-config libaio-dev libqb-dev check libssl-dev libisal-dev
	libsystemd-dev libiscsi-bin libiscsi-dev qemu-utils qemu-block-extra python3 tgt istgt procps iproute2
	libcpg-dev libvotequorum-dev libquorum-dev libcmap-dev libmnl-dev corosync
	clang libclang-rt-14-dev)
# the cluster scenario tests (tests/cluster/) run real corosync
PKGS+=(corosync corosync-qnetd corosync-qdevice)
# the OCF agent's tests: ocf-tester (integration/test_ocf.sh), pacemaker per node (cluster/test_pacemaker.sh)
PKGS+=(pacemaker pacemaker-cli-utils resource-agents libxml2-utils)
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
	missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		stamp "installing: ${missing[*]}"
		[ "$(id -u)" -eq 0 ] || { echo "need root to install ${missing[*]}" >&2; exit 1; }
		export DEBIAN_FRONTEND=noninteractive
		# tgt and istgt would start their own services (tgt on port 3260): keep
		# package scripts from starting anything while we install.
		POLICY_CREATED=0
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			POLICY_CREATED=1
		fi
		apt-get update -qq
		rc=0
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
		[ "$POLICY_CREATED" = 0 ] || rm -f /usr/sbin/policy-rc.d
		[ "$rc" -eq 0 ] || { echo "apt-get install failed ($rc)" >&2; exit 1; }
	fi
fi

# ---------------------------------------------------------------- 2. builds
build_tree() { # dir cmake-args...
	local dir=$1; shift
	stamp "configure + build $dir $*"
	# shellcheck disable=SC2086
	cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" ${CMAKE_EXTRA_ARGS:-} >"$ROOT/$dir/build.log" 2>&1 \
		&& make -C "$ROOT/$dir" -j"$JOBS" >>"$ROOT/$dir/build.log" 2>&1
}
BUILDS=()
mkdir -p "$ROOT/build" "$ROOT/build-asan"
for spec in "build:-DTANDEM_SANITIZE=OFF" "build-asan:-DTANDEM_SANITIZE=ON"; do
	dir=${spec%%:*}; args=${spec#*:}
	if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$ROOT/$dir/daemon/tandemd" ]; then
		BUILDS+=("$dir"); continue
	fi
	# shellcheck disable=SC2086
	if build_tree "$dir" $args; then
		record pass "build $dir"
		BUILDS+=("$dir")
	else
		record fail "build $dir" "see $dir/build.log"
		tail -n 40 "$ROOT/$dir/build.log"
	fi
done

# Release (-O3) sees warnings -O2 does not (maybe-uninitialized, format
# truncation): an operator building Release must not meet a -Werror stop, so
# that build is compiled too (its binaries are not tested again).
if [ "${SKIP_BUILD:-0}" != 1 ]; then
	mkdir -p "$ROOT/build-release"
	if build_tree build-release -DCMAKE_BUILD_TYPE=Release; then
		record pass "build build-release (-O3, compile only)"
	else
		record fail "build build-release" "see build-release/build.log"
		tail -n 40 "$ROOT/build-release/build.log"
	fi
fi

# ---------------------------------------------------------------- 3. unit tests
for dir in "${BUILDS[@]+"${BUILDS[@]}"}"; do
	stamp "ctest in $dir"
	if (cd "$ROOT/$dir" && ctest --output-on-failure --no-tests=error -j"$JOBS" --timeout 600) >"$ROOT/$dir/ctest.log" 2>&1; then
		record pass "ctest $dir ($(grep -Eo '[0-9]+ tests? passed|tests passed, [0-9]+ tests failed out of [0-9]+' "$ROOT/$dir/ctest.log" | tail -n 1))"
	else
		record fail "ctest $dir" "$(grep -E 'tests passed|\*\*\*Failed|Failed  ' "$ROOT/$dir/ctest.log" | tr '\n' ' ' | cut -c1-300)"
	fi
	tail -n 25 "$ROOT/$dir/ctest.log"
done

# ---------------------------------------------------------------- 3b. fuzzing
# Every libFuzzer target for FUZZ_SECONDS (default 10 s; 7 targets ~1.5 min plus
# the clang build); the corpora, with their kept crash inputs, are replayed first.
# Longer runs that grow the corpora: FUZZ_SECONDS=600 FUZZ_MERGE=1 (tests/fuzz/README.md).
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
if [ "$FUZZ_SECONDS" != skip ]; then
	stamp "fuzz targets, ${FUZZ_SECONDS}s each"
	mkdir -p "$ROOT/build-fuzz"
	logf="$ROOT/build-fuzz/fuzz.log"
	t0=$(date +%s)
	rc=0
	FUZZ_SECONDS=$FUZZ_SECONDS timeout --kill-after=30 1800 bash "$ROOT/tests/fuzz/run.sh" "$ROOT/build-fuzz" \
		</dev/null >"$logf" 2>&1 || rc=$?
	cat "$logf"
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logf" | tail -n 1 || true)
	if [ "$rc" -eq 0 ]; then
		record pass "fuzz ${last:-} ($(( $(date +%s) - t0 ))s)"
	else
		record fail "fuzz" "exit $rc${last:+, $last}, log $logf" "$logf"
	fi
fi

# ---------------------------------------------------------------- 4. integration tests
for t in "$ROOT"/tests/integration/test_*.sh "$ROOT"/tests/repl/test_*.sh; do [[ "$t" != */tests/repl/* ]] || ASAN_ONLY+=" $(basename "$t" .sh)" # repl (netns pair, ~3.5 min): sanitizer build only
	[ -e "$t" ] || continue    # a glob that matched nothing
	name=$(basename "$t" .sh)
	[ -z "${ONLY:-}" ] || [[ "$name" == *$ONLY* ]] || continue
	for dir in "${BUILDS[@]+"${BUILDS[@]}"}"; do
		if [ "$dir" = build ] && [[ " $ASAN_ONLY " == *" $name "* ]]; then continue; fi
		if [ "$dir" = build-asan ] && [[ " $PLAIN_ONLY " == *" $name "* ]]; then continue; fi
		run_script "$name" "$t" "$dir" 1500
	done
done

# ---------------------------------------------------------------- 4b. cluster scenario tests
# tests/cluster/test_*.sh on the two-node testbed (namespaces + real corosync),
# only where corosync is installed, against CLUSTER_BUILDS (default: build).
# About 10 minutes; CLUSTER_LONG=1 runs the long variants.
if command -v corosync >/dev/null 2>&1; then
	for t in "$ROOT"/tests/cluster/test_*.sh; do
		[ -e "$t" ] || continue
		name=cluster_$(basename "$t" .sh)
		[ -z "${ONLY:-}" ] || [[ "$name" == *$ONLY* ]] || continue
		for dir in ${CLUSTER_BUILDS:-build}; do
			[[ " ${BUILDS[*]+"${BUILDS[*]}"} " == *" $dir "* ]] || continue
			run_script "$name" "$t" "$dir" 900
		done
	done
else
	stamp "corosync not installed: tests/cluster skipped"
fi

# ---------------------------------------------------------------- 5. summary
echo
echo "==================== summary ($(( $(date +%s) - START ))s) ===================="
printf '%s\n' "${RESULTS[@]+"${RESULTS[@]}"}"
# why each failed test failed, without scrolling back through its whole log
for f in "${FAILED_LOGS[@]+"${FAILED_LOGS[@]}"}"; do
	echo "--- ${f#"$ROOT"/}: first FAIL lines"
	grep -E "FAIL" "$f" | head -n 16 | cut -c1-600 || true
done
echo "$NPASS passed, $NFAIL failed"
[ "$NFAIL" -eq 0 ]
