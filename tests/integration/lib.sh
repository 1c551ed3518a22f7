# shellcheck shell=bash
# tests/integration/lib.sh: helpers shared by the integration tests.
#
# Source it from a test script that was started as
#     bash tests/integration/test_x.sh path/to/build
# It gives:
#   - TANDEMD / TANDEMCTL: the binaries of that build;
#   - T_TMP: a private scratch directory, removed on exit (KEEP_TMP=1 keeps it);
#   - start_tandemd / stop_tandemd: run a daemon in the foreground on a free
#     loopback port, wait until it accepts, stop it by PID (never by name);
#   - check / check_fail / pass / fail / finish: pass/fail accounting; finish
#     prints "N passed, M failed" and sets the exit status;
#   - soak_rounds: the round list of the soak tests (SOAK_SEED / SOAK_SEQ / SOAK_ONLY).
# Everything started through these helpers is killed by PID on exit.
set -euo pipefail
# Debian's tools first (tests/run.sh installs them with apt): a python3 shim
# ahead of /usr/bin (pyenv's is on PATH on the CI machines) costs ~0.45 s per
# start where /usr/bin/python3 takes 0.05 s, and the tests start python3
# thousands of times (every status field a cluster test reads is one).
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

T_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$T_LIB_DIR/../.." && pwd)
T_NAME=$(basename "$0" .sh)

BUILD_DIR=${1:-${BUILD_DIR:-$REPO_ROOT/build}}
BUILD_DIR=$(cd "$BUILD_DIR" 2>/dev/null && pwd) || { echo "$T_NAME: no build dir '${1:-}'" >&2; exit 2; }
TANDEMD=${TANDEMD:-$BUILD_DIR/daemon/tandemd}
TANDEMCTL=${TANDEMCTL:-$BUILD_DIR/daemon/tandemctl}

# libiscsi's default initiator names all start with this; ACLs in test configs use it.
LIBISCSI_IQN_PREFIX="iqn.2007-10.com.github:sahlberg:libiscsi"

# Sanitizer runtime settings: abort on the first error so that a bug is a failure
# even when it happens on a path whose result the test does not look at.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# leaks inside libraries the test clients use, not ours: tests/lsan.supp says which
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lsan.supp}

T_TMP=$(mktemp -d "/var/tmp/tandem-$T_NAME.XXXXXX")
T_PASS=0
T_FAIL=0
T_FAILED=()
T_PIDS=()          # every process started by the helpers (killed on exit)
T_PORTS_USED=" "   # ports handed out in this test
T_DAEMON_SEQ=0
declare -A T_DAEMON_LOG=()

# "[test_x 12s] ...": the seconds since the test started (bash's SECONDS),
# so that a CI log shows where a long test spends its time
log()  { printf '[%s %ss] %s\n' "$T_NAME" "$SECONDS" "$*"; }
pass() { T_PASS=$((T_PASS + 1)); printf '[%s %ss] PASS: %s\n' "$T_NAME" "$SECONDS" "$*"; }
fail() { T_FAIL=$((T_FAIL + 1)); T_FAILED+=("$*"); printf '[%s %ss] FAIL: %s\n' "$T_NAME" "$SECONDS" "$*"; }

# check "what" cmd args...: the command must exit 0. Its output goes to
# $T_TMP/last.out and is shown on failure.
check() {
	local what=$1; shift
	if "$@" >"$T_TMP/last.out" 2>&1; then
		pass "$what"
	else
		local rc=$?
		fail "$what (exit $rc: $*)"
		sed -e 's/^/    | /' "$T_TMP/last.out" | tail -n 20
	fi
}
# conf_add_lun CONF: the "lun N { ... }" block on stdin goes into the last
# target section of CONF (the file's last closing brace).
conf_add_lun() {
	python3 - "$1" "$(cat)" <<'PY'
import sys
p, lun = sys.argv[1], sys.argv[2]
s = open(p).read()
i = s.rstrip().rfind('}')
open(p, 'w').write(s[:i] + lun.rstrip('\n') + '\n}\n')
PY
}
# check_fail "what" cmd args...: the command must exit non-zero.
check_fail() {
	local what=$1; shift
	if "$@" >"$T_TMP/last.out" 2>&1; then
		fail "$what (unexpectedly succeeded: $*)"
		sed -e 's/^/    | /' "$T_TMP/last.out" | tail -n 20
	else
		pass "$what"
	fi
}
# check_rc "what" expected_rc cmd args...: exit status must be exactly expected_rc.
check_rc() {
	local what=$1 want=$2; shift 2
	local rc=0
	"$@" >"$T_TMP/last.out" 2>&1 || rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$what"
	else
		fail "$what (exit $rc, wanted $want: $*)"
		sed -e 's/^/    | /' "$T_TMP/last.out" | tail -n 20
	fi
}

finish() {
	echo "[$T_NAME] ---- summary ----"
	local f
	for f in "${T_FAILED[@]+"${T_FAILED[@]}"}"; do echo "[$T_NAME]   failed: $f"; done
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# skip_all "why": the whole test does not apply here (exit 0, says why).
skip_all() {
	echo "[$T_NAME] SKIP: $*"
	echo "0 passed, 0 failed"
	exit 0
}

# soak_rounds ALL_ROUND_NAMES...: the rounds of a soak test, into the array
# ROUNDS: each name once in the given order (CI); SOAK_SEQ="a b" exactly those;
# SOAK_SEED=N: SOAK_ROUNDS (20) drawn at random from that seed (among SOAK_ONLY
# if set). A bad knob (unknown round, a seed that is no number) exits 2 before
# anything starts, listing the rounds.
soak_rounds() {
	local all=" $* " k n pool
	for k in SOAK_SEED SOAK_ROUNDS; do
		[[ -z "${!k:-}" || "${!k}" =~ ^[0-9]+$ ]] || { echo "[$T_NAME] $k must be a number, not '${!k}'; rounds: $*" >&2; exit 2; }
	done
	for n in ${SOAK_SEQ:-} ${SOAK_ONLY:-}; do
		[[ "$all" == *" $n "* ]] || { echo "[$T_NAME] unknown round '$n' in SOAK_SEQ/SOAK_ONLY; rounds: $*" >&2; exit 2; }
	done
	if [ -n "${SOAK_SEQ:-}" ]; then
		read -r -a ROUNDS <<<"$SOAK_SEQ"
		log "SOAK_SEQ: ${ROUNDS[*]}"
	elif [ -n "${SOAK_SEED:-}" ]; then
		RANDOM=$SOAK_SEED
		read -r -a pool <<<"${SOAK_ONLY:-$*}"
		ROUNDS=()
		for _ in $(seq 1 "${SOAK_ROUNDS:-20}"); do ROUNDS+=("${pool[RANDOM % ${#pool[@]}]}"); done
		log "SOAK_SEED=$SOAK_SEED: ${ROUNDS[*]}"
	else
		ROUNDS=("$@")
	fi
}

require_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "[$T_NAME] missing tool: $t (run tests/run.sh, it installs them)" >&2; exit 1; }
	done
}

# build_fault_shim OUT.so: tests/tools/fault_shim.c, the LD_PRELOAD shim that
# fails a fileio LUN's reads/writes/flushes on demand (FAULT_PATH, FAULT_CTL)
build_fault_shim() {
	cc -shared -fPIC -O1 -o "$1" "$REPO_ROOT/tests/tools/fault_shim.c" -ldl
}

require_tandemd() {
	[ -x "$TANDEMD" ] || { echo "[$T_NAME] no tandemd at $TANDEMD (build first)" >&2; exit 1; }
}

_t_cleanup() {
	local pid
	for pid in "${T_PIDS[@]+"${T_PIDS[@]}"}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${T_PIDS[@]+"${T_PIDS[@]}"}"; do
		local i
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "[$T_NAME] kept $T_TMP"
	else
		rm -rf "$T_TMP"
	fi
}
trap _t_cleanup EXIT
# a TERM/INT (e.g. from timeout) still runs the EXIT cleanup
trap 'exit 143' TERM
trap 'exit 130' INT

# Track a process started by the test itself so that it is killed on exit.
track_pid() { T_PIDS+=("$1"); }
untrack_pid() {
	local p keep=()
	for p in "${T_PIDS[@]+"${T_PIDS[@]}"}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	T_PIDS=("${keep[@]+"${keep[@]}"}")
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# free_port: the first port >= 3261 (TANDEM_PORT_BASE) that nothing listens on
# and that this test has not handed out yet.
free_port() {
	local p=${TANDEM_PORT_BASE:-3261}
	while [ "$p" -lt 65000 ]; do
		if [[ "$T_PORTS_USED" != *" $p "* ]] && ! grep -qx "$p" "$T_TMP/ports.used" 2>/dev/null \
			&& ! port_open "$p" && ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			# $(free_port) runs in a subshell: remember the port in a file
			echo "$p" >>"$T_TMP/ports.used"
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	echo "no free port" >&2
	return 1
}

# unique_ctl: a ctl_socket name no other test (or other run) uses.
unique_ctl() {
	# $(unique_ctl) runs in a subshell: keep the counter in a file
	local n
	n=$(( $(cat "$T_TMP/ctl.seq" 2>/dev/null || echo 0) + 1 ))
	echo "$n" >"$T_TMP/ctl.seq"
	echo "tandem-$T_NAME-$$-$n"
}

# wait_port PORT [SECONDS] [PID]: wait until the port accepts; fails early when PID dies.
wait_port() {
	local port=$1 secs=${2:-30} pid=${3:-} i
	for i in $(seq 1 $((secs * 10))); do
		port_open "$port" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
		sleep 0.1
	done
	return 1
}

# write_config FILE PORT CTL IQN LUNPATH [extra target lines] : a standard
# one-target, one-LUN config. Environment knobs (with defaults):
#   CFG_BACKEND=blockio CFG_CACHE=write-back CFG_SIZE=256M CFG_CHAP_USER= CFG_CHAP_SECRET=
#   CFG_ALLOW= (no ACL) CFG_LOG=info CFG_THREADS=2 CFG_EXTRA_LUNS= (raw text inside target)
write_config() {
	local file=$1 port=$2 ctl=$3 iqn=$4 lunpath=$5
	{
		echo "global {"
		echo "    log_level: ${CFG_LOG:-info}"
		echo "    threads: ${CFG_THREADS:-2}"
		echo "    ctl_socket: $ctl"
		echo "}"
		echo "portal_group pg1 {"
		echo "    tag: 1"
		echo "    listen: 127.0.0.1:$port"
		echo "}"
		echo "target $iqn {"
		echo "    portal_group: pg1"
		[ -z "${CFG_ALLOW:-}" ] || echo "    allow: $CFG_ALLOW"
		if [ -n "${CFG_CHAP_USER:-}" ]; then
			echo "    chap {"
			echo "        user: $CFG_CHAP_USER"
			echo "        secret: \"$CFG_CHAP_SECRET\""
			echo "    }"
		fi
		echo "    lun 0 {"
		echo "        backend: ${CFG_BACKEND:-blockio}"
		if [ "${CFG_BACKEND:-blockio}" != null ]; then
			echo "        path: $lunpath"
			echo "        create: yes"
		fi
		echo "        size: ${CFG_SIZE:-256M}"
		echo "        cache: ${CFG_CACHE:-write-back}"
		echo "        serial: $T_NAME-lun0"
		echo "        naa: 6001405000000000000000000000a001"
		echo "    }"
		[ -z "${CFG_EXTRA_LUNS:-}" ] || printf '%s\n' "$CFG_EXTRA_LUNS"
		echo "}"
	} >"$file"
}

# start_tandemd CONFIG PORT [extra tandemd args...]: start tandemd in the
# foreground (as a background job), wait until PORT accepts connections.
# Sets TANDEMD_PID and TANDEMD_LOG. Returns non-zero (and shows the log) if it
# does not come up.
start_tandemd() {
	local conf=$1 port=$2; shift 2
	T_DAEMON_SEQ=$((T_DAEMON_SEQ + 1))
	TANDEMD_LOG="$T_TMP/tandemd.$T_DAEMON_SEQ.log"
	"$TANDEMD" -f -c "$conf" "$@" >"$TANDEMD_LOG" 2>&1 &
	TANDEMD_PID=$!
	track_pid "$TANDEMD_PID"
	T_DAEMON_LOG[$TANDEMD_PID]=$TANDEMD_LOG
	if ! wait_port "$port" 30 "$TANDEMD_PID"; then
		echo "[$T_NAME] tandemd (pid $TANDEMD_PID) did not start listening on 127.0.0.1:$port; log:" >&2
		sed -e 's/^/    | /' "$TANDEMD_LOG" | tail -n 40 >&2
		return 1
	fi
	log "tandemd pid $TANDEMD_PID on 127.0.0.1:$port (log $TANDEMD_LOG)"
}

# daemon_alive PID: process exists and is not a zombie.
daemon_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ]
}

# sanitizer_clean LOG: no ASan/UBSan/LSan report in the log.
sanitizer_clean() {
	! grep -E -q 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$1"
}

# stop_tandemd PID: SIGTERM, wait (15 s) for a clean exit; records pass/fail for
# "exits cleanly (status 0) on SIGTERM" and "no sanitizer reports".
stop_tandemd() {
	local pid=$1 rc=0 i
	local logf=${T_DAEMON_LOG[$pid]:-}
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "tandemd pid $pid was already gone before stop"
		wait "$pid" 2>/dev/null || true
		untrack_pid "$pid"
		[ -z "$logf" ] || sed -e 's/^/    | /' "$logf" | tail -n 40
		return 0
	fi
	kill -TERM "$pid"
	for i in $(seq 1 150); do
		daemon_alive "$pid" || break
		sleep 0.1
	done
	if daemon_alive "$pid"; then
		fail "tandemd pid $pid did not exit within 15 s of SIGTERM"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	untrack_pid "$pid"
	if [ "$rc" -eq 0 ]; then
		pass "tandemd pid $pid exited with status 0 on SIGTERM"
	else
		fail "tandemd pid $pid exited with status $rc on SIGTERM"
		[ -z "$logf" ] || sed -e 's/^/    | /' "$logf" | tail -n 40
	fi
	if [ -n "$logf" ]; then
		if sanitizer_clean "$logf"; then
			pass "no sanitizer report in tandemd log"
		else
			fail "sanitizer report in tandemd log $logf"
			grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$logf" | head -n 60 | sed -e 's/^/    | /'
		fi
	fi
}

# url PORT IQN [LUN]
url() { echo "iscsi://127.0.0.1:$1/$2/${3:-0}"; }

# alive_and_serving PID PORT IQN: daemon alive and iscsi-inq works on LUN 0.
alive_and_serving() {
	daemon_alive "$1" || { echo "tandemd pid $1 is gone"; return 1; }
	timeout 30 iscsi-inq "$(url "$2" "$3" 0)"
}
