#!/usr/bin/env bash
# tests/bench/repl_bench.sh [BUILD_DIR]: cost of synchronous replication.
# Two tandemd in network namespaces (tests/repl/lib.sh), replication link shaped
# like 10GbE (netem delay 50us rate 10gbit; where the kernel has no sch_netem,
# tbf rate 10gbit without the delay, and the table says so). The initiator runs
# in the client namespace. Each node serves, on the same kind of preallocated
# 1 GiB file:  LUN 0 replicated   LUN 1 not replicated (same daemon, same target)
# Measured:
#   - 4K random write IOPS QD32 (iocheck, BENCH_SECS s) and 4K / 128K sequential
#     writes QD32 (qemu-img bench -w) on LUN 1, LUN 0 connected, LUN 0 with the
#     peer disconnected;
#   - resync throughput after BENCH_RESYNC_MB MiB written while disconnected,
#     against the configured resync_rate;
#   - resync time after a short outage (replication link cut) vs bytes written.
# Writes the table between the repl-bench markers of docs/BENCHMARKS.md
# (BENCH_OUT=FILE to write elsewhere, BENCH_OUT=- to only print).
# Not part of tests/run.sh; takes about 4 minutes (BENCH_REPS=5 alternating runs).
#
# Where the LUN files live (BENCH_DIR, default /dev/shm): each node's backing
# files (LUN 0, LUN 1) and its state_dir (replication metadata) go to
# BENCH_DIR/tandem-rbench-ID/{a,b} on tmpfs, like tests/bench/run.sh does (O_DIRECT
# works on tmpfs on this kernel). Reason: on this VM both nodes' files would
# otherwise sit on the SAME virtual disk, so a replicated write costs that one disk
# twice (4K random writes then measure the shared disk, not replication); two
# real servers each have their own disk. With tmpfs each node's "disk" costs only
# its own CPU (a memcpy, where a virtual disk DMAs). BENCH_DIR=vm keeps the old
# setup (files under the test's T_TMP on the VM disk); any other directory is
# used as given. When BENCH_DIR is missing, not writable or has less than
# 4 x R_SIZE + 256 MiB free, T_TMP is used and the run says so.
# BENCH_FRONT=10gbit (the default) shapes the initiator's (frontend) links like
# 10GbE as well (tbf rate 10gbit on both ends of each node's portal veth): real
# initiators reach the target over 10GbE, while an unshaped veth lets the
# unreplicated baseline go two to three times faster than 10GbE carries although
# the replicated path is capped by the 10gbit replication link, so the 128K ratio
# would measure veth, not replication. BENCH_FRONT=none leaves them unshaped.
# TANDEMD=/path/to/tandemd runs another binary (before/after comparisons).
# BENCH_RESYNC=no skips the resync measurements (comparison runs; the table says so).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
export R_SIZE=${R_SIZE:-1024M}
export R_RATE=${R_RATE:-100M}
# shellcheck source=../repl/lib.sh
source "$ROOT/tests/repl/lib.sh" "$BUILD"
require_tool qemu-img python3 tc
BENCH_SECS=${BENCH_SECS:-6}
W4K_COUNT=${W4K_COUNT:-60000}
W128K_COUNT=${W128K_COUNT:-8192}
BENCH_RESYNC_MB=${BENCH_RESYNC_MB:-512}
BENCH_REPS=${BENCH_REPS:-5}
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
RATE_BPS=$(( ${R_RATE%M} * 1048576 ))
BENCH_RESYNC=${BENCH_RESYNC:-yes}
BENCH_FRONT=${BENCH_FRONT:-10gbit}

# the nodes' files: see the header (BENCH_DIR)
BENCH_DIR=${BENCH_DIR:-/dev/shm}
[ "$BENCH_DIR" != vm ] || BENCH_DIR=$T_TMP
NEED_KIB=$(( 4 * R_SIZE_BYTES / 1024 + 256 * 1024 ))
if [ ! -d "$BENCH_DIR" ] || [ ! -w "$BENCH_DIR" ] || [ "$(df -Pk "$BENCH_DIR" | awk 'NR==2{print $4}')" -lt "$NEED_KIB" ]; then
	log "$BENCH_DIR not usable (missing, read-only or < $(( NEED_KIB / 1024 )) MiB free): using $T_TMP"
	BENCH_DIR=$T_TMP
fi
if [ "$BENCH_DIR" = "$T_TMP" ]; then
	NODE_DIR_ROOT=
else
	NODE_DIR_ROOT=$(mktemp -d "$BENCH_DIR/tandem-rbench-$R_ID.XXXXXX")
	# the files go with the run (lib.sh's trap then stops the daemons and the namespaces)
	_rb_cleanup() { local rc=$?; rm -rf "$NODE_DIR_ROOT"; set +e; (exit "$rc"); _r_cleanup; }
	trap _rb_cleanup EXIT
fi
BENCH_FS=$(df -PT "${NODE_DIR_ROOT:-$T_TMP}" | awk 'NR==2{print $2}')
# node_files NODE: directory holding that node's lun.img, plain.img and state/
node_files() {
	if [ -n "$NODE_DIR_ROOT" ]; then echo "$NODE_DIR_ROOT/$(tr 'AB' 'ab' <<<"$1")"; else dir_of "$1"; fi
}
if [ -n "$NODE_DIR_ROOT" ]; then
	FILES_NOTE="BENCH_DIR=$BENCH_DIR: each node its own files"
else
	FILES_NOTE="under the test's temporary directory: both nodes on the same file system"
fi
log "node files on $BENCH_FS (${NODE_DIR_ROOT:-$T_TMP})"

net_setup
repl_link_shape_10gbe
SHAPE=$R_LINK_SHAPE
log "replication link: $SHAPE"
FRONT_SHAPE="none (veth, unshaped)"
if [ "$BENCH_FRONT" = 10gbit ]; then
	# both directions of each portal veth: writes flow client -> node (ca / cb egress)
	FRONT_SHAPE="tbf rate 10gbit burst 1mb latency 10ms on both ends of each node's portal veth"
	in_ns A tc qdisc add dev p0 root tbf rate 10gbit burst 1mb latency 10ms
	in_ns B tc qdisc add dev p0 root tbf rate 10gbit burst 1mb latency 10ms
	in_ns C tc qdisc add dev ca root tbf rate 10gbit burst 1mb latency 10ms
	in_ns C tc qdisc add dev cb root tbf rate 10gbit burst 1mb latency 10ms
elif [ "$BENCH_FRONT" != none ]; then
	echo "BENCH_FRONT is none or 10gbit" >&2; exit 1
fi
log "frontend links: $FRONT_SHAPE"

for n in A B; do
	node_config "$n" plain_lun=yes
	d=$(node_files "$n")
	if [ "$d" != "$(dir_of "$n")" ]; then
		mkdir -p "$d/state"
		sed -i -e "s|$(dir_of "$n")/|$d/|g" "$(dir_of "$n")/tandem.conf"
	fi
	# written out once, so that no run pays for allocating extents
	dd if=/dev/zero of="$d/lun.img" bs=1M count=$(( R_SIZE_BYTES / 1048576 )) conv=fsync status=none
	dd if=/dev/zero of="$d/plain.img" bs=1M count=$(( R_SIZE_BYTES / 1048576 )) conv=fsync status=none
	node_create_md "$n" --new-device >/dev/null || { echo "create-md failed on $n" >&2; exit 1; }
done
node_start A; node_start B
in_sync 60 || { echo "pair does not connect" >&2; exit 1; }
ctl A primary >/dev/null || ctl A primary --force >/dev/null
rwait A 10 role=primary

U0=$(lun_url A)
U1=${U0%/0}/1
ROWS=()
CPU_ROWS=()
RAW=()   # name=value for the ratio checks

# iops_4k_random NAME URL
iops_4k_random() {
	local out acked secs
	out=$(iocheck write --url "$2" --blocks 262144 --qd 32 --seconds "$BENCH_SECS" --log "$T_TMP/bench-$1.log" 2>/dev/null | tail -n 1)
	rm -f "$T_TMP/bench-$1.log"
	acked=$(grep -Eo 'acked=[0-9]+' <<<"$out" | cut -d= -f2)
	secs=$(grep -Eo 'seconds=[0-9.]+' <<<"$out" | cut -d= -f2)
	awk -v a="${acked:-0}" -v s="${secs:-1}" 'BEGIN{printf "%.0f", a/s}'
}
# qbench SIZE COUNT URL -> seconds
qbench() {
	in_ns C qemu-img bench -f raw -w -t none -d 32 -s "$1" -c "$2" "$3" 2>&1 | grep -Eo 'Run completed in [0-9.]+' | awk '{print $4}'
}

# cpu_ticks NODE: utime+stime of that node's tandemd (all threads), in clock ticks
cpu_ticks() { awk '{print $14+$15}' "/proc/$(node_pid "$1")/stat" 2>/dev/null || echo 0; }
# us_per COUNT A0 A1: CPU microseconds per write from two cpu_ticks samples
us_per() { awk -v c="$1" -v a="$2" -v b="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN{ printf "%.1f", (b-a)/hz*1e6/c }'; }
# rq_wait_ns NODE: nanoseconds that node's tandemd threads spent runnable but waiting
# for a CPU (field 2 of /proc/PID/task/TID/schedstat, summed over the threads)
rq_wait_ns() { cat /proc/"$(node_pid "$1")"/task/*/schedstat 2>/dev/null | awk '{s += $2} END{printf "%.0f", s}'; }
# ms_per_s NS0 NS1 SECONDS: run-queue wait in ms per second of the run
ms_per_s() { awk -v a="$1" -v b="$2" -v s="${3:-0}" 'BEGIN{ if (s > 0) printf "%.0f", (b-a)/1e6/s; else print 0 }'; }
# one_run KEY URL: appends "iops q4 mibs cpuA4 cpuB4 cpuA128 cpuB128 waitA128 waitB128" of one
# repetition to $T_TMP/runs.KEY (cpu*: CPU microseconds per write of each node's tandemd,
# utime+stime from /proc, over the sequential 4K and 128K runs; wait*: ms per second of the
# 128K run that the node's threads were ready to run but had no CPU, i.e. how much the
# machine's CPUs, shared by both nodes and the initiator, held them back)
RUN_COLS=9
one_run() {
	local iops s4 s128 q4 m128 a0 b0 a1 b1 a2 b2 wa0 wb0 wa1 wb1
	iops=$(iops_4k_random "$1" "$2")
	a0=$(cpu_ticks A); b0=$(cpu_ticks B)
	s4=$(qbench 4K "$W4K_COUNT" "$2")
	a1=$(cpu_ticks A); b1=$(cpu_ticks B)
	wa0=$(rq_wait_ns A); wb0=$(rq_wait_ns B)
	s128=$(qbench 128K "$W128K_COUNT" "$2")
	a2=$(cpu_ticks A); b2=$(cpu_ticks B)
	wa1=$(rq_wait_ns A); wb1=$(rq_wait_ns B)
	q4=$(awk -v c="$W4K_COUNT" -v s="${s4:-0}" 'BEGIN{ if (s > 0) printf "%.0f", c/s; else print 0 }')
	m128=$(awk -v c="$W128K_COUNT" -v s="${s128:-0}" 'BEGIN{ if (s > 0) printf "%.0f", c*128/1024/s; else print 0 }')
	local c4a c4b c128a c128b
	c4a=$(us_per "$W4K_COUNT" "$a0" "$a1"); c4b=$(us_per "$W4K_COUNT" "$b0" "$b1")
	c128a=$(us_per "$W128K_COUNT" "$a1" "$a2"); c128b=$(us_per "$W128K_COUNT" "$b1" "$b2")
	local w128a w128b
	w128a=$(ms_per_s "$wa0" "$wa1" "$s128"); w128b=$(ms_per_s "$wb0" "$wb1" "$s128")
	log "$1 run: 4K random $iops IOPS, 4K seq $q4 IOPS, 128K seq $m128 MiB/s; CPU us/write A/B: 4K $c4a/$c4b, 128K $c128a/$c128b; 128K run-queue wait A/B $w128a/$w128b ms/s"
	echo "$iops $q4 $m128 $c4a $c4b $c128a $c128b $w128a $w128b" >>"$T_TMP/runs.$1"
}
median() { sort -n | awk '{v[NR]=$1} END{ if (NR == 0) print 0; else print v[int((NR+1)/2)] }'; }
# row LABEL KEY: median of the repetitions
row() {
	local f=$T_TMP/runs.$2 iops q4 m128 n
	iops=$(awk '{print $1}' "$f" | median); q4=$(awk '{print $2}' "$f" | median); m128=$(awk '{print $3}' "$f" | median)
	n=$(wc -l <"$f")
	ROWS+=("| $1 | $iops | $q4 | $m128 | $n |")
	CPU_ROWS+=("| $1 | $(awk '{print $4}' "$f" | median) | $(awk '{print $5}' "$f" | median) | $(awk '{print $6}' "$f" | median) | $(awk '{print $7}' "$f" | median) | $(awk '{print $8}' "$f" | median) / $(awk '{print $9}' "$f" | median) |")
	RAW+=("$2.iops=$iops" "$2.mibs=$m128")
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq 1 "$BENCH_REPS"); do   # alternate, so that background load hits both alike
	one_run plain "$U1"
	one_run repl "$U0"
done
ctl A disconnect "$LUN_NAME" >/dev/null
rwait A 10 connection=StandAlone || true
one_run disc "$U0"
row "LUN 1, not replicated" plain
row "LUN 0, replicated (connected, protocol C)" repl
row "LUN 0, peer disconnected (bitmap only)" disc

val() { local kv; for kv in "${RAW[@]}"; do [ "${kv%%=*}" != "$1" ] || { echo "${kv#*=}"; return; }; done; echo 0; }
ratio() { awk -v a="$(val "$1")" -v b="$(val "$2")" 'BEGIN{ if (b > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a/b; else print "n/a" }'; }
# ratios: median over the repetitions of (replicated run / the unreplicated run just before it);
# runs.* lines have RUN_COLS columns (one_run)
pair_ratio() { paste -d' ' "$T_TMP/runs.repl" "$T_TMP/runs.plain" | awk -v c="$1" -v n="$RUN_COLS" '{ if ($(c+n) > 0) printf "%.3f\n", $c/$(c+n) }' | median; }
R_IOPS=$(printf '%.2f' "$(pair_ratio 1)")
R_MIBS=$(printf '%.2f' "$(pair_ratio 3)")
R_IOPS_MED=$(ratio repl.iops plain.iops)
R_MIBS_MED=$(ratio repl.mibs plain.mibs)
meets() { awk -v r="$1" -v t="$2" 'BEGIN{ if (r == "n/a") print "n/a"; else if (r >= t) print "yes"; else print "**no**" }'; }

RS_ROW="| skipped (BENCH_RESYNC=no) | | | |"
OUTAGE_ROWS=("| skipped (BENCH_RESYNC=no) | | | |")
if [ "$BENCH_RESYNC" = yes ]; then
# ---- resync throughput: BENCH_RESYNC_MB written while disconnected, then connect
in_ns C qemu-img bench -f raw -w -t none -d 32 -s 1M -c "$BENCH_RESYNC_MB" -o 0 "$U0" >/dev/null 2>&1 || true
sleep 1   # status counters are published a little after the acks
OOS=$(rget A out_of_sync_kib || echo 0)
B0=$(rget A resync_bytes_sent || echo 0)
tc0=$(date +%s.%N)
ctl A connect "$LUN_NAME" >/dev/null || true
ctl B connect "$LUN_NAME" >/dev/null 2>&1 || true
rwait A 30 connection=SyncSource >/dev/null || true
t0=$(date +%s.%N)
RS_ROW="| $OOS KiB out of sync, connect by hand | failed: no sync in 300 s | | |"
if in_sync 300; then
	t1=$(date +%s.%N)
	B1=$(rget A resync_bytes_sent || echo 0)
	RS_ROW=$(awk -v b0="${B0:-0}" -v b1="${B1:-0}" -v tc0="$tc0" -v t0="$t0" -v t1="$t1" -v rate="$RATE_BPS" -v oos="$OOS" 'BEGIN{
		b = (b1 >= b0) ? b1 - b0 : b1; t = t1 - t0;
		printf "| %s KiB out of sync, connect by hand | %.1f s (+%.1f s to SyncSource) | %.0f MiB, %.0f MiB/s | %.0f%% of resync_rate %.0f MiB/s |",
			oos, t, t0 - tc0, b/1048576, b/1048576/t, 100*b/t/rate, rate/1048576 }')
fi
log "$RS_ROW"

# ---- resync after a short outage (link cut) vs bytes written
OUTAGE_ROWS=()
outage() { # label write-command...
	local label=$1; shift
	link_cut
	rwait A 20 connection!=Connected >/dev/null || true
	"$@" >/dev/null 2>&1 || true
	local oos b0 b1 t0 t1
	sleep 1
	oos=$(rget A out_of_sync_kib || echo 0)
	b0=$(rget A resync_bytes_sent || echo 0)
	t0=$(date +%s.%N)
	link_heal
	if in_sync 300; then
		t1=$(date +%s.%N); b1=$(rget A resync_bytes_sent || echo 0)
		OUTAGE_ROWS+=("$(awk -v l="$label" -v oos="$oos" -v b0="${b0:-0}" -v b1="${b1:-0}" -v t0="$t0" -v t1="$t1" 'BEGIN{
			b = (b1 >= b0) ? b1 - b0 : b1;
			printf "| %s | %s | %.1f | %.1f |", l, oos, b/1048576, t1 - t0 }')")
	else
		OUTAGE_ROWS+=("| $label | $oos | failed: no sync in 300 s | |")
	fi
	log "${OUTAGE_ROWS[-1]}"
}
outage "nothing written" true
outage "16 MiB sequential (128K writes)" in_ns C qemu-img bench -f raw -w -t none -d 32 -s 128K -c 128 -o 100M "$U0"
outage "128 MiB sequential (128K writes)" in_ns C qemu-img bench -f raw -w -t none -d 32 -s 128K -c 1024 -o 200M "$U0"
outage "8 MiB as 2000 random 4K writes over 1 GiB" iocheck write --url "$U0" --blocks 262144 --qd 32 --max-writes 2000 --seconds 60 --log "$T_TMP/outage.log"
fi

node_stop B; node_stop A

TABLE=$(cat <<EOF
Run: $DATE, \`bash tests/bench/repl_bench.sh\` ($(nproc) CPUs, $(uname -r); build $(basename "$BUILD")$([ "$TANDEMD" -ef "$BUILD/daemon/tandemd" ] || echo ", tandemd $TANDEMD")).
Replication link: veth, \`tc qdisc add dev r0 root $SHAPE\` on both ends; initiator in a third
namespace over a bridge, frontend links: $FRONT_SHAPE (BENCH_FRONT=$BENCH_FRONT);
1 GiB preallocated files on $BENCH_FS ($FILES_NOTE), \`cache: $R_CACHE\`, resync_rate $R_RATE.
Load average when the run started: $LOAD (other work on the machine shows in the numbers).
4K random: \`iocheck write --qd 32 --seconds $BENCH_SECS\` over the whole LUN;
4K/128K sequential: \`qemu-img bench -w -t none -d 32 -s 4K -c $W4K_COUNT\` / \`-s 128K -c $W128K_COUNT\`.

| LUN | 4K random write IOPS QD32 | 4K seq write IOPS QD32 | 128K seq write MiB/s QD32 | runs (median) |
|---|---:|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")

CPU per write (microseconds of utime+stime of each tandemd, all threads, over the sequential
qemu-img runs; median): the figure that carries over to two real servers, where the
nodes do not share CPUs with each other and the initiator. Run-queue wait: milliseconds per
second of the 128K run in which a node's threads were ready to run but no CPU was free
(/proc/PID/task/*/schedstat, summed over the threads; 1000 = one thread held back all the time).

| LUN | 4K node A (primary) | 4K node B (peer) | 128K node A | 128K node B | 128K run-queue wait A / B, ms/s |
|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${CPU_ROWS[@]}")

Replicated / not replicated, median of the per-repetition ratios (each replicated run
against the unreplicated run just before it): 4K random write IOPS **$R_IOPS** (target >= 0.7:
$(meets "$R_IOPS" 0.7)), 128K throughput **$R_MIBS** (target >= 0.8: $(meets "$R_MIBS" 0.8)); ratio of
the medians: $R_IOPS_MED and $R_MIBS_MED. Every run: $(printf '%s' "$(paste -d' ' "$T_TMP/runs.plain" "$T_TMP/runs.repl" | awk -v n="$RUN_COLS" '{printf "%s/%s IOPS, %s/%s MiB/s; ", $(n+1), $1, $(n+3), $3}')")(replicated/unreplicated).

| resync | time | sent | vs configured rate |
|---|---:|---:|---:|
$RS_ROW

Resync after a short outage (\`ip link set r0 down\`, writes on the primary, link up; time
from link up until both report Connected/UpToDate with nothing out of sync, polled every 0.2 s):

| written during the outage | out_of_sync KiB at heal | resynced MiB | resync time s |
|---|---:|---:|---:|
$(printf '%s\n' "${OUTAGE_ROWS[@]}")
EOF
)
echo "$TABLE"
if [ "$OUT" != - ]; then
	python3 - "$OUT" "$TABLE" <<'PYEOF'
import sys, re
path, table = sys.argv[1], sys.argv[2]
s = open(path).read()
b, e = "<!-- repl-bench:begin -->", "<!-- repl-bench:end -->"
if b in s and e in s:
    s = s[:s.index(b) + len(b)] + "\n" + table + "\n" + s[s.index(e):]
else:
    s = s.rstrip("\n") + "\n\n## Replication\n\n" + b + "\n" + table + "\n" + e + "\n"
open(path, "w").write(s)
PYEOF
	log "table written to $OUT"
fi
finish
