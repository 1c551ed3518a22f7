#!/usr/bin/env bash
# tests/bench/al_bench.sh [BUILD_DIR]: replicated random writes over more than the
# activity log holds.
# The activity log keeps 1024 extents of 4 MiB (4 GiB); the extents of writes the
# peer acknowledged from its volatile cache stay pinned in it until a FLUSH of the
# peer covers them (docs/REPLICATION.md, "Volatile caches"), and a write that finds
# the log full of pinned extents waits while the Primary flushes the peer. This
# measures what that costs where it happens most: 4K random writes, QD32, over a
# 16 GiB replicated LUN (R_SIZE), `cache: write-back`, a fresh pair per run.
# Prints one line per run: IOPS and the LUN's `activity_log` status (extents,
# pinned, waits). OLD=/path/to/tandemd alternates runs with another binary
# (before/after comparisons); BENCH_REPS runs each (3), BENCH_SECS seconds (8).
# Two tandemd in network namespaces (tests/repl/lib.sh), replication link shaped
# like 10GbE (netem delay 50us rate 10gbit, or tbf rate 10gbit where the kernel has
# no sch_netem); each node's sparse backing file and metadata on tmpfs (/dev/shm),
# as tests/bench/repl_bench.sh does. Not part of tests/run.sh; about 1 minute per run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-$ROOT/build}
export R_SIZE=${R_SIZE:-16384M}
# shellcheck source=../repl/lib.sh
source "$ROOT/tests/repl/lib.sh" "$BUILD"
BENCH_REPS=${BENCH_REPS:-3}
BENCH_SECS=${BENCH_SECS:-8}
NEW=$TANDEMD
OLD=${OLD:-}
SHM=$(mktemp -d /dev/shm/tandem-albench.XXXXXX)
_ab_cleanup() { local rc=$?; rm -rf "$SHM"; set +e; (exit "$rc"); _r_cleanup; }
trap _ab_cleanup EXIT

net_setup
repl_link_shape_10gbe
log "replication link: $R_LINK_SHAPE; LUN $R_SIZE sparse on tmpfs, cache: $R_CACHE"
BLOCKS=$(( R_SIZE_BYTES / 4096 ))

# run_one LABEL BINARY: a fresh pair on BINARY, A Primary, one timed run
run_one() {
	local n d out acked secs al
	TANDEMD=$2
	node_kill A 2>/dev/null || true
	node_kill B 2>/dev/null || true
	rm -rf "$(dir_of A)" "$(dir_of B)" "$SHM/a" "$SHM/b"
	for n in A B; do
		node_config "$n"
		d=$SHM/$(tr AB ab <<<"$n")
		mkdir -p "$d/state"
		sed -i -e "s|$(dir_of "$n")/|$d/|g" "$(dir_of "$n")/tandem.conf"
		truncate -s "$R_SIZE" "$d/lun.img"
		node_create_md "$n" --new-device >/dev/null || { echo "create-md failed on $n" >&2; return 1; }
	done
	node_start A
	node_start B
	in_sync 60 || { echo "pair does not connect" >&2; return 1; }
	ctl A primary >/dev/null
	rwait A 10 role=primary
	out=$(iocheck write --url "$(lun_url A)" --blocks "$BLOCKS" --qd 32 --seconds "$BENCH_SECS" \
		--log "$T_TMP/io.log" 2>/dev/null | tail -n 1)
	rm -f "$T_TMP/io.log"
	acked=$(grep -Eo 'acked=[0-9]+' <<<"$out" | cut -d= -f2)
	secs=$(grep -Eo 'seconds=[0-9.]+' <<<"$out" | cut -d= -f2)
	al=$(rjson A | python3 -c 'import json,sys
l = json.load(sys.stdin)["replication"]["luns"][0].get("activity_log")
print("extents=%(extents)d pinned=%(pinned)d waits=%(waits)d" % l if l else "no activity_log in status")')
	printf '%-4s %6.0f IOPS (%s writes in %s s)  %s\n' "$1" \
		"$(awk -v a="${acked:-0}" -v s="${secs:-1}" 'BEGIN{print a/s}')" "${acked:-0}" "${secs:-?}" "$al"
}

for _ in $(seq 1 "$BENCH_REPS"); do
	[ -z "$OLD" ] || run_one old "$OLD"
	run_one new "$NEW"
done
