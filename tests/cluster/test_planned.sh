#!/usr/bin/env bash
# tests/cluster/test_planned.sh BUILD_DIR: planned failover back and forth
# (PLANNED_N times, default 10; CLUSTER_LONG=1: 50) under load, alternately
# typed on the primary (`tandemctl failover`) and on the secondary
# (`tandemctl failover NODE`, forwarded through CPG). Every failover must
# succeed; 0 I/O errors; never two primaries; no acknowledged write lost; the
# longest pause is reported (goal 1 s; above 5 s fails).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
if [ "${CLUSTER_LONG:-0}" = 1 ]; then PLANNED_N=${PLANNED_N:-50}; else PLANNED_N=${PLANNED_N:-10}; fi

scn_planned() {
	local name=planned i p s rc why ok=0 bad=0 t0 ms times=()
	mon_start "$name"
	io_start "$name" 900
	sleep 3
	for i in $(seq 1 "$PLANNED_N"); do
		p=$(primary); s=$(other "$p")
		if [ -z "$p" ]; then fail "$name: no primary before failover $i: $(nodes_state)"; bad=$((bad + 1)); break; fi
		wait_in_sync 30 || true
		t0=$(date +%s%N)
		rc=0
		if [ $((i % 2)) = 1 ]; then
			timeout 60 bash "$TB" exec "$p" tandemctl failover >"$T_TMP/fo.$i" 2>&1 || rc=$?
		else
			timeout 60 bash "$TB" exec "$s" tandemctl failover "$( [ "$s" = A ] && echo a || echo b)" >"$T_TMP/fo.$i" 2>&1 || rc=$?
		fi
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		times+=("$ms")
		why=
		if [ "$rc" -ne 0 ]; then why="tandemctl exit $rc"
		elif ! wait_serving 10; then why="no single serving primary 10 s after the command"
		elif [ "$(primary)" != "$s" ]; then why="primary is '$(primary)', not $s"
		fi
		if [ -z "$why" ]; then
			ok=$((ok + 1))
			log "$name: failover $i $p -> $s: ${ms} ms ($(tr '\n' ' ' <"$T_TMP/fo.$i" | cut -c1-120))"
		else
			bad=$((bad + 1))
			fail "$name: failover $i $p -> $s failed ($why, ${ms} ms): $(tr '\n' ' ' <"$T_TMP/fo.$i" | cut -c1-300); $(nodes_state)"
			# what both managers said about it (the summary of a CI run shows FAIL lines only)
			for n in A B; do
				grep -E 'cluster: |repl: ' "$TB_STATE/$n/tandemd.log" 2>/dev/null \
					| tail -n 8 | cut -c1-300 | sed -e "s/^/[$T_NAME] FAIL detail $n: /"
			done
			wait_serving 10 || break
		fi
		sleep 1
	done
	sleep 2
	kill -TERM "${IO_PID[$name]}" 2>/dev/null || true
	io_wait "$name" || return 1
	mon_stop
	[ "$bad" -eq 0 ] && pass "$name: $ok of $PLANNED_N planned failovers succeeded (command times ms: ${times[*]})"
	figures "$name" "$PLANNED_N planned failovers (tandemctl failover)" 0 1000 5000
	io_verify "$name"
}

setup_or_skip
run_scenario planned scn_planned
figures_publish
finish
