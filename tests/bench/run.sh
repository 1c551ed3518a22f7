#!/usr/bin/env bash
# tests/bench/run.sh [BUILD_DIR]: side-by-side benchmark of tandemd, tgt (tgtd)
# and istgt, each serving the same kind of 1 GiB file over 127.0.0.1, one
# target at a time (the same preallocated file, served in turn):
#   tandemd  blockio write-back     (comparable to tgt/istgt: they use the page cache)
#   tandemd  blockio write-through
#   tandemd  null backend           (protocol + SCSI overhead only)
#   tgtd     rdwr backing store (page cache)
#   istgt    file LUN (page cache)
# Workloads: iscsi-perf 4K random read QD32 and 128K sequential read QD32
# (PERF_SECS, default 15 s each), qemu-img bench 4K and 128K writes QD32.
# Target CPU time per I/O = (utime+stime of the target process, /proc/PID/stat)
# / I/Os done. Writes the table into docs/BENCHMARKS.md between the bench
# markers and prints it. Not part of tests/run.sh. Takes about 4 minutes.
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
W128K_COUNT=${W128K_COUNT:-10000}
HZ=$(getconf CLK_TCK)
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

IMG=$T_TMP/lun.img
log "preparing a 1 GiB preallocated file $IMG"
dd if=/dev/zero of="$IMG" bs=1M count=1024 conv=fsync status=none

ROWS=()
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
		out=$(timeout $((PERF_SECS + 30)) iscsi-perf -m 32 -b "$blocks" $flag -t "$PERF_SECS" "$u" 2>&1 | tr '\r' '\n') || true
		t1=$(cpu_ticks "$pid")
		avg=$(grep -Eo '^iops average [0-9]+' <<<"$out" | tail -n 1 | awk '{print $3}')
		if [ -z "$avg" ]; then
			ROWS+=("| $label | $wl (iscsi-perf) | failed | | |"); log "$label $wl: iscsi-perf failed: $(tail -n 3 <<<"$out")"; continue
		fi
		ios=$((avg * PERF_SECS))
		mibs=$(awk -v i="$avg" -v b="$blocks" 'BEGIN{printf "%.0f", i*b*512/1048576}')
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$ios" 'BEGIN{printf "%.1f", d*1e6/hz/n}')
		ROWS+=("| $label | $wl (iscsi-perf) | $avg | $mibs | $cpu |")
		log "$label $wl: $avg IOPS, $mibs MiB/s, $cpu CPU us/IO"
	done
	# qemu-img bench: 4K and 128K writes
	for spec in "4K seq write QD32:4096:$W4K_COUNT" "128K seq write QD32:131072:$W128K_COUNT"; do
		local wl=${spec%%:*} rest=${spec#*:}
		local size=${rest%%:*} count=${rest#*:}
		t0=$(cpu_ticks "$pid")
		out=$(timeout 300 qemu-img bench -f raw -t none -w -d 32 -s "$size" -c "$count" "$u" 2>&1) || true
		t1=$(cpu_ticks "$pid")
		secs=$(grep -Eo 'Run completed in [0-9.]+' <<<"$out" | awk '{print $4}')
		if [ -z "$secs" ]; then
			ROWS+=("| $label | $wl (qemu-img bench) | failed | | |"); log "$label $wl: qemu-img bench failed: $(tail -n 3 <<<"$out")"; continue
		fi
		iops=$(awk -v c="$count" -v s="$secs" 'BEGIN{printf "%.0f", c/s}')
		mibs=$(awk -v c="$count" -v s="$secs" -v z="$size" 'BEGIN{printf "%.0f", c*z/s/1048576}')
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$count" 'BEGIN{printf "%.1f", d*1e6/hz/n}')
		ROWS+=("| $label | $wl (qemu-img bench) | $iops | $mibs | $cpu |")
		log "$label $wl: $iops IOPS, $mibs MiB/s, $cpu CPU us/IO"
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
	CFG_BACKEND=$2 CFG_CACHE=$3 CFG_SIZE=1G CFG_LOG=notice \
		write_config "$T_TMP/tandem.conf" "$port" "$(unique_ctl)" "$iqn" "$IMG"
	if ! start_tandemd "$T_TMP/tandem.conf" "$port"; then
		ROWS+=("| $label | (did not start) | | | |"); return 0
	fi
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
	measure "istgt 0.4 (file, page cache)" "$pid" "$(url "$port" iqn.2026-11.org.tandem:bench-istgt 0)"
	stop_pid "$pid"
}
bench_istgt

# ---- table
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
TABLE=$(
	echo "Run: \`bash tests/bench/run.sh\` on $DATE; $(nproc) cores ($CPU_MODEL), $(free -g | awk '/Mem:/{print $2}') GiB RAM,"
	echo "$(uname -r), all over 127.0.0.1, initiator on the same machine; tandemd at $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo 'uncommitted tree')."
	echo "iscsi-perf runs ${PERF_SECS} s (\`iscsi-perf -m 32 -b 8 -r -t $PERF_SECS URL\`, \`iscsi-perf -m 32 -b 256 -t $PERF_SECS URL\`);"
	echo "qemu-img bench: \`qemu-img bench -f raw -t none -w -d 32 -s 4096 -c $W4K_COUNT URL\` and \`-s 131072 -c $W128K_COUNT\`."
	echo "CPU µs/IO = target process utime+stime (/proc/PID/stat) during the run / I/Os done."
	echo
	echo "| target | workload | IOPS | MiB/s | target CPU µs/IO |"
	echo "|---|---|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
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
