#!/usr/bin/env bash
# COMPARE AND WRITE atomicity end to end: several libiscsi sessions (one per
# process) increment a shared counter block with ATS (read, compare, write
# counter+1) while other sessions WRITE over the second block of the ATS
# range. Every increment that reports GOOD must be counted exactly once:
#   - final counter == number of successful ATS over all sessions;
#   - the won (old) values are exactly 0..counter-1, each once;
#   - no block is torn, and the shared block holds either the last ATS's tag
#     (equal to the counter) or one writer command's data (equal to its
#     neighbour block written by the same command);
# on a fileio (write-back) and a blockio (write-through) LUN. The daemon must
# survive and exit cleanly.
# Usage: bash tests/integration/test_ats_concurrency.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool cc
require_tandemd
[ -f /usr/include/iscsi/iscsi.h ] || skip_all "libiscsi-dev headers missing"

CLIENT=$T_TMP/ats_client
check "build ats_client" cc -O2 -Wall -Werror -o "$CLIENT" "$T_LIB_DIR/ats_client.c" -liscsi

IQN=iqn.2026-11.org.tandem:ats
PORT=$(free_port)
CONF=$T_TMP/tandem.conf
LUN1="    lun 1 {
        backend: blockio
        path: $T_TMP/lun1.img
        size: 16M
        create: yes
        cache: write-through
        serial: ats-lun1
        naa: 6001405000000000000000000000a002
    }"
CFG_BACKEND=fileio CFG_SIZE=16M CFG_CACHE=write-back CFG_EXTRA_LUNS=$LUN1 \
	write_config "$CONF" "$PORT" "$(unique_ctl)" "$IQN" "$T_TMP/lun0.img"
start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID

ATS_CLIENTS=${ATS_CLIENTS:-4}
ATS_ITERS=${ATS_ITERS:-300}
WRITERS=${WRITERS:-2}
WRITE_ITERS=${WRITE_ITERS:-1500}

run_lun() {
	local lun=$1 u="iscsi://127.0.0.1:$PORT/$IQN/$1" pids=() i rc=0
	check "LUN $lun: init" "$CLIENT" "$u" init 0 0
	for i in $(seq 1 "$ATS_CLIENTS"); do
		"$CLIENT" "$u" ats "$i" "$ATS_ITERS" >"$T_TMP/ats.$lun.$i" 2>&1 &
		pids+=($!)
	done
	for i in $(seq 1 "$WRITERS"); do
		"$CLIENT" "$u" write "$((100 + i))" "$WRITE_ITERS" >"$T_TMP/wr.$lun.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	if [ "$rc" -ne 0 ]; then
		fail "LUN $lun: every client finished without error"
		tail -n 5 "$T_TMP"/ats."$lun".* "$T_TMP"/wr."$lun".* | sed -e 's/^/    | /'
		return
	fi
	pass "LUN $lun: $ATS_CLIENTS ATS sessions and $WRITERS writer sessions finished"

	local wins total mis
	total=$(cat "$T_TMP"/ats."$lun".* | awk '/^ats /{s+=$4} END{print s+0}')
	mis=$(cat "$T_TMP"/ats."$lun".* | awk '/^ats /{s+=$6} END{print s+0}')
	wins=$(cat "$T_TMP"/ats."$lun".* | awk '/^won /{print $2}' | sort -n | uniq | wc -l)
	log "LUN $lun: $total successful ATS, $mis miscompares"
	check "LUN $lun: check reads consistent blocks" "$CLIENT" "$u" check 0 0
	local out counter tagk tagv wk wv
	out=$(cat "$T_TMP/last.out")
	counter=$(awk '/^counter/{print $2}' <<<"$out")
	read -r _ tagk tagv < <(grep '^tag' <<<"$out")
	read -r _ wk wv _ < <(grep '^writer' <<<"$out")
	if [ "$counter" = "$total" ] && [ "$total" -eq $((ATS_CLIENTS * ATS_ITERS)) ]; then
		pass "LUN $lun: counter $counter == successful ATS $total"
	else
		fail "LUN $lun: counter $counter, successful ATS $total (want $((ATS_CLIENTS * ATS_ITERS)))"
	fi
	local maxwon
	maxwon=$(cat "$T_TMP"/ats."$lun".* | awk '/^won /{print $2}' | sort -n | tail -n 1)
	if [ "$wins" -eq "$total" ] && [ "${maxwon:-0}" -eq $((total - 1)) ]; then
		pass "LUN $lun: each counter value won exactly once"
	else
		fail "LUN $lun: $wins distinct won values of $total, max ${maxwon:-none}"
	fi
	if { [ "$tagk" = A ] && [ "$tagv" = "$counter" ]; } || { [ "$tagk" = W ] && [ "$wk" = W ] && [ "$tagv" = "$wv" ]; }; then
		pass "LUN $lun: shared block is from the last ATS or the last whole WRITE ($tagk $tagv)"
	else
		fail "LUN $lun: shared block $tagk $tagv, counter $counter, writer block $wk $wv"
	fi
	[ "$mis" -gt 0 ] && pass "LUN $lun: contention happened ($mis miscompares)" || log "LUN $lun: no contention seen"
}

run_lun 0
run_lun 1

if daemon_alive "$PID"; then pass "tandemd alive"; else fail "tandemd alive"; fi
stop_tandemd "$PID"
finish
