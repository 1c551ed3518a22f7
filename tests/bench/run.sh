#!/usr/bin/env bash
# tests/bench/run.sh [BUILD_DIR]: side-by-side benchmark of tandemd, tgt (tgtd)
# and istgt, each serving the same kind of 1 GiB file over 127.0.0.1, one
# target at a time (the same preallocated file, served in turn). The target
# process (all its threads) is pinned to CPU $TARGET_CPU (default 1) and the
# client (iscsi-perf / qemu-img) to CPU $CLIENT_CPU (default 0) with taskset,
# tandemd runs one I/O reactor (threads: 1), so no target can take the client's
# core and the IOPS compare the targets, not the scheduler:
#   tandemd  blockio write-back     (comparable to tgt/istgt: they use the page cache)
#   tandemd  blockio write-through
#   tandemd  null backend           (protocol + SCSI overhead only)
#   tgtd     rdwr backing store (page cache)
#   istgt    file LUN (page cache)
# Workloads: iscsi-perf 4K random read QD32 and 128K sequential read QD32
# (PERF_SECS, default 15 s each), qemu-img bench 4K and 128K writes QD32.
# Target CPU time per I/O = (utime+stime of the target process, /proc/PID/stat)
# / I/Os done. Writes the table into docs/BENCHMARKS.md between the bench
# markers and prints it. Not part of tests/run.sh. Takes about 6 minutes.
# Knobs: PERF_SECS, W4K_COUNT, W128K_COUNT, W_REPS (qemu-img runs per row, default 5), TARGET_CPU, CLIENT_CPU,
# BENCH_OUT (file to write the table into).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
if [ ! -x "$BUILD/daemon/tandemd" ]; then
	echo "bench: building $BUILD"
	mkdir -p "$BUILD"
	{ cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && make -C "$BUILD" -j"$(nproc)" >/dev/null; } \
		|| echo "bench: build failed: the tandemd rows will say so"
fi
source "$ROOT/tests/integration/lib.sh" "$BUILD"
T_NAME=bench
require_tool iscsi-perf qemu-img tgtd tgtadm istgt iscsi-inq
PERF_SECS=${PERF_SECS:-15}
W4K_COUNT=${W4K_COUNT:-100000}
W_REPS=${W_REPS:-5}
W128K_COUNT=${W128K_COUNT:-10000}
HZ=$(getconf CLK_TCK)
TARGET_CPU=${TARGET_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
	log "fewer than 2 CPUs or no taskset: target and client are not pinned"
	PIN_CLIENT=()
	pin_target() { :; }
else
	PIN_CLIENT=(taskset -c "$CLIENT_CPU")
	# pin_target PID: every thread of the target (and the ones it creates later) on TARGET_CPU
	pin_target() { taskset -a -p -c "$TARGET_CPU" "$1" >/dev/null; }
fi
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

# The LUN file lives in RAM (tmpfs, /dev/shm) by default: tgt and istgt serve
# it from the page cache, tandemd's blockio reads it with O_DIRECT, and on a VM
# disk O_DIRECT would measure the (shared, variable) virtual disk instead of the
# targets. BENCH_DIR=/some/dir puts it on a real file system instead.
BENCH_DIR=${BENCH_DIR:-/dev/shm}
if [ ! -d "$BENCH_DIR" ] || [ ! -w "$BENCH_DIR" ] || [ "$(df -Pk "$BENCH_DIR" | awk 'NR==2{print $4}')" -lt $((2 * 1024 * 1024)) ]; then
	log "$BENCH_DIR not usable (missing, read-only or < 2 GiB free): using $T_TMP"
	BENCH_DIR=$T_TMP
fi
IMG=$(mktemp --suffix=.img "$BENCH_DIR/tandem-bench.XXXXXX")
_bench_cleanup() { rm -f "$IMG"; _t_cleanup; }
trap _bench_cleanup EXIT
BENCH_FS=$(df -PT "$BENCH_DIR" | awk 'NR==2{print $2}')
log "preparing a 1 GiB preallocated file $IMG ($BENCH_FS)"
dd if=/dev/zero of="$IMG" bs=1M count=1024 conv=fsync status=none

ROWS=()
declare -A IOPS=()
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_ticks() { sed -e 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# measure TARGET_LABEL PID URL
measure() {
	local label=$1 pid=$2 u=$3 t0 t1 out avg ios secs iops mibs cpu
	# iscsi-perf: 4K random read, 128K sequential read
	for spec in "4K random read QD32:8:-r" "128K seq read QD32:256:"; do
		local wl=${spec%%:*} rest=${spec#*:}
		local blocks=${rest%%:*} flag=${rest#*:}
		t0=$(cpu_ticks "$pid")
		# shellcheck disable=SC2086
		out=$(timeout $((PERF_SECS + 30)) "${PIN_CLIENT[@]}" iscsi-perf -m 32 -b "$blocks" $flag -t "$PERF_SECS" "$u" 2>&1 | tr '\r' '\n') || true
		t1=$(cpu_ticks "$pid")
		avg=$(grep -Eo '^iops average [0-9]+' <<<"$out" | tail -n 1 | awk '{print $3}')
		if [ -z "$avg" ]; then
			ROWS+=("| $label | $wl (iscsi-perf) | failed | | |"); log "$label $wl: iscsi-perf failed: $(tail -n 3 <<<"$out")"; continue
		fi
		ios=$((avg * PERF_SECS))
		mibs=$(awk -v i="$avg" -v b="$blocks" 'BEGIN{printf "%.0f", i*b*512/1048576}')
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$ios" 'BEGIN{printf "%.1f", d*1e6/hz/n}')
		ROWS+=("| $label | $wl (iscsi-perf) | $avg | $mibs | $cpu |")
		IOPS["$label|$wl"]=$avg
		log "$label $wl: $avg IOPS, $mibs MiB/s, $cpu CPU us/IO"
	done
	# qemu-img bench: 4K and 128K writes, W_REPS runs each (short runs move with
	# the machine): the median run, and the range of the CPU figure
	for spec in "4K seq write QD32:4096:$W4K_COUNT" "128K seq write QD32:131072:$W128K_COUNT"; do
		local wl=${spec%%:*} rest=${spec#*:}
		local size=${rest%%:*} count=${rest#*:} runs=() rep
		for rep in $(seq 1 "$W_REPS"); do
			t0=$(cpu_ticks "$pid")
			out=$(timeout 300 "${PIN_CLIENT[@]}" qemu-img bench -f raw -t none -w -d 32 -s "$size" -c "$count" "$u" 2>&1) || true
			t1=$(cpu_ticks "$pid")
			secs=$(grep -Eo 'Run completed in [0-9.]+' <<<"$out" | awk '{print $4}')
			if [ -z "$secs" ]; then
				log "$label $wl: qemu-img bench failed: $(tail -n 3 <<<"$out")"; continue
			fi
			runs+=("$secs $(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$count" 'BEGIN{printf "%.1f", d*1e6/hz/n}')")
		done
		if [ ${#runs[@]} -eq 0 ]; then
			ROWS+=("| $label | $wl (qemu-img bench) | failed | | |"); continue
		fi
		# median by time; CPU: median and range over the runs
		secs=$(printf '%s\n' "${runs[@]}" | sort -n -k1 | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
		cpu=$(printf '%s\n' "${runs[@]}" | sort -n -k2 | awk '{v[NR]=$2} END{m=v[int((NR+1)/2)]; if (NR > 1) printf "%s (%s-%s)", m, v[1], v[NR]; else print m}')
		iops=$(awk -v c="$count" -v s="$secs" 'BEGIN{printf "%.0f", c/s}')
		mibs=$(awk -v c="$count" -v s="$secs" -v z="$size" 'BEGIN{printf "%.0f", c*z/s/1048576}')
		ROWS+=("| $label | $wl (qemu-img bench) | $iops | $mibs | $cpu |")
		IOPS["$label|$wl"]=$iops
		log "$label $wl: $iops IOPS, $mibs MiB/s, $cpu CPU us/IO (${#runs[@]} runs: ${runs[*]})"
	done
}

stop_pid() { # stop a non-tandemd target by PID
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	untrack_pid "$pid"
}

# ---- tandemd in three configurations
bench_tandemd() { # label backend cache
	local label=$1 port iqn=iqn.2026-11.org.tandem:bench
	port=$(free_port)
	CFG_BACKEND=$2 CFG_CACHE=$3 CFG_SIZE=1G CFG_LOG=notice CFG_THREADS=1 \
		write_config "$T_TMP/tandem.conf" "$port" "$(unique_ctl)" "$iqn" "$IMG"
	if ! start_tandemd "$T_TMP/tandem.conf" "$port"; then
		ROWS+=("| $label | (did not start) | | | |"); return 0
	fi
	pin_target "$TANDEMD_PID"
	timeout 30 iscsi-inq "$(url "$port" "$iqn" 0)" >/dev/null || log "warning: iscsi-inq failed on $label"
	measure "$label" "$TANDEMD_PID" "$(url "$port" "$iqn" 0)"
	stop_tandemd "$TANDEMD_PID" >/dev/null
}
bench_tandemd "tandemd blockio write-back" blockio write-back
bench_tandemd "tandemd blockio write-through" blockio write-through
bench_tandemd "tandemd null backend" null write-back

# ---- tgtd
bench_tgt() {
	local port cport=$((40 + $$ % 50)) iqn=iqn.2026-11.org.tandem:bench-tgt pid
	port=$(free_port)
	tgtd -f -C "$cport" --iscsi "portal=127.0.0.1:$port" >"$T_TMP/tgtd.log" 2>&1 &
	pid=$!; track_pid "$pid"
	if ! wait_port "$port" 20 "$pid"; then ROWS+=("| tgtd | (did not start) | | | |"); return 0; fi
	pin_target "$pid"
	tgtadm -C "$cport" --lld iscsi --op new --mode target --tid 1 -T "$iqn"
	tgtadm -C "$cport" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$IMG"
	tgtadm -C "$cport" --lld iscsi --op bind --mode target --tid 1 -I ALL
	measure "tgtd 1.0.85 (rdwr, page cache)" "$pid" "$(url "$port" "$iqn" 1)"
	# tgtd ignores SIGTERM while it has targets: take them down first
	tgtadm -C "$cport" --lld iscsi --op delete --mode target --tid 1 --force || true
	tgtadm -C "$cport" --op delete --mode system || true
	stop_pid "$pid"
}
bench_tgt

# ---- istgt
bench_istgt() {
	local port uport pid dir=$T_TMP/istgt
	port=$(free_port); uport=$(free_port)
	mkdir -p "$dir"; : >"$dir/auth.conf"
	cat >"$dir/istgt.conf" <<EOF
[Global]
  NodeBase "iqn.2026-11.org.tandem"
  PidFile $dir/istgt.pid
  AuthFile $dir/auth.conf
  MediaDirectory $dir
  LogFacility "local7"
  Timeout 30
  NopInInterval 20
  DiscoveryAuthMethod None
  MaxSessions 16
  MaxConnections 4
  MaxR2T 32
  MaxOutstandingR2T 16
  DefaultTime2Wait 2
  DefaultTime2Retain 60
  FirstBurstLength 262144
  MaxBurstLength 1048576
  MaxRecvDataSegmentLength 262144
  InitialR2T Yes
  ImmediateData Yes
  DataPDUInOrder Yes
  DataSequenceInOrder Yes
  ErrorRecoveryLevel 0
[UnitControl]
  AuthMethod None
  Portal UC1 127.0.0.1:$uport
  Netmask 127.0.0.1
[PortalGroup1]
  Portal DA1 127.0.0.1:$port
[InitiatorGroup1]
  InitiatorName "ALL"
  Netmask 127.0.0.0/8
[LogicalUnit1]
  TargetName bench-istgt
  Mapping PortalGroup1 InitiatorGroup1
  AuthMethod None
  UseDigest Auto
  UnitType Disk
  QueueDepth 32
  LUN0 Storage $IMG Auto
EOF
	istgt -c "$dir/istgt.conf" -D >"$dir/istgt.log" 2>&1 </dev/null &
	pid=$!; track_pid "$pid"
	if ! wait_port "$port" 20 "$pid"; then ROWS+=("| istgt | (did not start) | | | |"); return 0; fi
	pin_target "$pid"
	measure "istgt 0.4 (file, page cache)" "$pid" "$(url "$port" iqn.2026-11.org.tandem:bench-istgt 0)"
	stop_pid "$pid"
}
bench_istgt

# ---- table
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo 'unknown')
if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then REV="$REV + uncommitted changes"; fi
if [ ${#PIN_CLIENT[@]} -gt 0 ]; then
	PINNING="target pinned to CPU $TARGET_CPU (\`taskset -a -p -c $TARGET_CPU PID\`), client to CPU $CLIENT_CPU (\`taskset -c $CLIENT_CPU\`), tandemd \`threads: 1\`"
else
	PINNING="not pinned (fewer than 2 CPUs)"
fi
# tandemd blockio write-back against the better of tgt and istgt, per workload
ratio_rows() {
	local wl td best b t
	for wl in "4K random read QD32" "128K seq read QD32" "4K seq write QD32" "128K seq write QD32"; do
		td=${IOPS["tandemd blockio write-back|$wl"]:-}
		best=0
		for t in "tgtd 1.0.85 (rdwr, page cache)" "istgt 0.4 (file, page cache)"; do
			b=${IOPS["$t|$wl"]:-0}
			[ "$b" -gt "$best" ] && best=$b
		done
		if [ -n "$td" ] && [ "$best" -gt 0 ]; then
			echo "| $wl | $td | $best | $(awk -v a="$td" -v b="$best" 'BEGIN{printf "%.2fx", a/b}') |"
		fi
	done
}
TABLE=$(
	echo "Run: \`bash tests/bench/run.sh\` on $DATE; $(nproc) vCPUs ($CPU_MODEL), $(free -g | awk '/Mem:/{print $2}') GiB RAM,"
	echo "$(uname -r), all over 127.0.0.1, initiator on the same machine; $PINNING."
	echo "LUN: one preallocated 1 GiB file on $BENCH_FS ($BENCH_DIR), served by each target in turn."
	echo "tandemd at $REV. Load average before/after the run: $LOAD_BEFORE / $LOAD_AFTER."
	echo "iscsi-perf runs ${PERF_SECS} s (\`iscsi-perf -m 32 -b 8 -r -t $PERF_SECS URL\`, \`iscsi-perf -m 32 -b 256 -t $PERF_SECS URL\`);"
	echo "qemu-img bench: \`qemu-img bench -f raw -t none -w -d 32 -s 4096 -c $W4K_COUNT URL\` and \`-s 131072 -c $W128K_COUNT\`, $W_REPS runs each: the median run (IOPS), the median CPU and its range."
	echo "CPU µs/IO = target process utime+stime (/proc/PID/stat) during the run / I/Os done."
	echo
	echo "| target | workload | IOPS | MiB/s | target CPU µs/IO |"
	echo "|---|---|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "| workload | tandemd blockio write-back IOPS | better of tgt/istgt IOPS | ratio |"
	echo "|---|---:|---:|---:|"
	ratio_rows
)
echo
echo "$TABLE"
if [ -f "$OUT" ] && grep -q '<!-- bench:begin -->' "$OUT"; then
	BENCH_TABLE=$TABLE python3 - "$OUT" <<'PY'
import os, sys
p = sys.argv[1]
s = open(p).read()
a = s.index('<!-- bench:begin -->') + len('<!-- bench:begin -->')
b = s.index('<!-- bench:end -->')
open(p, 'w').write(s[:a] + '\n' + os.environ['BENCH_TABLE'] + '\n' + s[b:])
PY
	log "table written to $OUT"
else
	log "no bench markers in $OUT; table not written"
fi
