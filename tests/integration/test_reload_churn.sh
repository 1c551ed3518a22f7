#!/usr/bin/env bash
# Reload churn: 132 configuration reloads in a row (66 under ASan) while an initiator writes.
#
# Why: the other tests reload a handful of times and look at what one reload
# changed. A daemon that configuration management reloads for months must not
# accumulate anything per reload (descriptors, memory, portals, sessions) nor
# disturb the I/O running through it. This test found that tandemd kept every
# configuration it had ever applied (50-70 KiB each: VmRSS +6.5 MiB over 110
# reloads; main.c now frees the one a reload replaces), and that libqb
# dropped log lines logged by two threads at once (a SIGHUP reload's
# "configuration reloaded" went missing; util/log.c now serialises them).
#
# One tandemd (two targets: A with an ACL, blockio + fileio LUNs, write-back
# and write-through; B with CHAP; two portal groups) goes through CHURN_CYCLES
# (12) cycles of 11 configuration variants (test_reload_churn.py): a LUN
# added/removed, a third target C added/removed, ACLs changed, CHAP removed
# and its secret changed, cache modes changed (also of the LUN being written),
# a portal group and a second listen address added, a portal group removed,
# an alias, the log level; each cycle ends on the base config. The reloads
# alternate `tandemctl reload` and SIGHUP. Meanwhile:
#   - iocheck (tests/tools, --rate 2000) writes stamped blocks to target A
#     LUN 0, which every variant has, in two phases of six cycles;
#   - a discovery (iscsi-ls) races each reload, and a login to target C races
#     the reloads while C exists (one of them removes C under it);
#   - a raw session (the helper's "hold", test_bad_input's Conn) holds target
#     C when a reload removes it: it is asked to log out (Async Message) and
#     does so in most cycles; in every fourth it ignores the request and the
#     target drops it (5 s, REVOKE_DROP_MS);
#   - after each reload the variant's own logins are tried: the added LUN and
#     target answer iscsi-inq, ACL and CHAP changes admit and refuse what
#     they should, the added addresses answer and the removed ones are closed.
# Asserted:
#   - the daemon is alive throughout and every reload is applied: tandemctl
#     reload answers "configuration reloaded" (no warning), each SIGHUP logs
#     it (within 60 s; a round over 3 s prints the daemon's log meanwhile),
#     and `tandemctl --json status` shows exactly the variant's targets,
#     LUNs, cache modes, CHAP flags, aliases, portals and log level, no LUN errors,
#     and iocheck's session with the TSIH it started with (never dropped or
#     reinstated); SendTargets lists exactly the targets the variant admits;
#   - iocheck: no error, no reconnect, every acknowledged write verifies
#     after each phase;
#   - a broken config (a bad size on a known line) is refused by tandemctl
#     reload naming tandem.conf:LINE and by SIGHUP ("reload refused" logged),
#     and changes nothing (targets, LUNs, portals as before);
#   - descriptors: at the end of every cycle (base config again; waited for
#     up to 10 s, as a probe's connection may still be closing) /proc/PID/fd
#     holds exactly as many as after cycle 1, no slack;
#   - memory (normal build only): VmRSS at the end of the last cycle (round
#     132) is less than CHURN_RSS_KIB (2048) KiB above the end of cycle 2
#     (round 22). Measured on the 2-core CI box: +0.4..0.7 MiB, of which
#     ~0.25 MiB come with iocheck's second-phase session (cycle 7) and about
#     as much from the LUN structs a target keeps for each LUN removed (5 per
#     cycle, ~24 KiB of heap per cycle: docs/HARDENING.md, not fixed; RSS
#     shows it in 128 KiB steps). A leak of 16 KiB per reload adds 1.7 MiB
#     over those 110 reloads; the configurations kept before the fix added
#     6.5 MiB. The limit is for the default 12 cycles (more cycles: raise
#     CHURN_RSS_KIB). Not under ASan (nor TSan), whose quarantine keeps freed memory on
#     purpose; there LeakSanitizer checks at exit ("no sanitizer report").
# About 30 s (normal build) and 20 s (ASan, 6 cycles) on the 2-core box.
# Usage: bash tests/integration/test_reload_churn.sh path/to/build
# Knobs: CHURN_CYCLES=N (>= 3, default 12; 6 under ASan), CHURN_RSS_KIB=N, IOCHECK=path
source "$(dirname "$0")/lib.sh"
require_tool python3 iscsi-ls iscsi-inq
require_tandemd
[ -x "$TANDEMCTL" ] || { echo "no tandemctl at $TANDEMCTL" >&2; exit 1; }
IOCHECK=${IOCHECK:-$BUILD_DIR/tests/tools/iocheck}
[ -x "$IOCHECK" ] || { echo "[$T_NAME] no iocheck at $IOCHECK (libiscsi-dev missing at build time?)" >&2; exit 1; }

TANDEM_PORT_BASE=${TANDEM_PORT_BASE:-3340}
SANITIZED=0
grep -q '^TANDEM_SANITIZE:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null && SANITIZED=1
# ThreadSanitizer (tests/README.md, tsan.supp): its shadow memory grows with
# the heap, so VmRSS says nothing there either
TSAN=0
grep -q '^TANDEM_TSAN:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null && TSAN=1
# under ASan 6 cycles (66 reloads): the sanitizer looks at every reload's
# code paths, and the long run is the normal build's, for its VmRSS bound
CYCLES=${CHURN_CYCLES:-$([ "$SANITIZED" = 1 ] && echo 6 || echo 12)}
RSS_LIMIT_KIB=${CHURN_RSS_KIB:-2048}
[[ "$CYCLES" =~ ^[0-9]+$ && "$CYCLES" -ge 3 ]] || { echo "[$T_NAME] CHURN_CYCLES must be a number >= 3" >&2; exit 2; }

# ports and names for the helper too: pg1 (iocheck's), pg2, pg3, pg2's second address
CH_TMP=$T_TMP CH_CTL=$(unique_ctl) CH_IQN=iqn.2026-11.org.tandem:churn
CH_P1=$(free_port) CH_P2=$(free_port) CH_P3=$(free_port) CH_P4=$(free_port)
export CH_TMP CH_CTL CH_IQN CH_P1 CH_P2 CH_P3 CH_P4
IQN_A=$CH_IQN-a IQN_B=$CH_IQN-b IQN_C=$CH_IQN-c
PROBE=iqn.2007-10.com.github:sahlberg:libiscsi:churn-probe
SECRET1=churnsecret0001 SECRET2=churnsecret0002
CONF=$T_TMP/tandem.conf
HELPER=$T_LIB_DIR/test_reload_churn.py
mkdir -p "$T_TMP/state"

# the variants of one cycle; "" is the base config and ends the cycle
VARIANTS=("lunA2" "lunA2 tgtC" "tgtC aclB aliasA" "nochapB cacheA0" "chapB2 cacheX debug" "pg3 rmB1"
	"pg3 pg2b lunA2" "rmpg2 aclA notice" "tgtC lunA2 rmB1 cacheA0 nochapB pg3 pg2b" "aclA cacheX aliasA" "")

ctl() { timeout 30 "$TANDEMCTL" -s "$CH_CTL" "$@"; }
# the helper runs once, as a coprocess: "conf"/"check" lines in, one answer
# line out ("ok [LINE]" or "bad: ..."), in HLP_ANS
coproc HLP { exec python3 -u "$HELPER" serve; }
track_pid "$HLP_PID"
HLP_IN=${HLP[1]} HLP_OUT=${HLP[0]}
hlp() {
	printf '%q ' "$@" >&"$HLP_IN"
	echo >&"$HLP_IN"
	read -r HLP_ANS <&"$HLP_OUT" || HLP_ANS="bad: the helper is gone"
}
gen() { hlp conf "$CONF" "$@"; [[ "$HLP_ANS" == ok* ]] || { echo "[$T_NAME] config generation: $HLP_ANS" >&2; exit 1; }; }
inq() { timeout 20 iscsi-inq -i "$PROBE" "$@" >/dev/null 2>&1; }
ls_quiet() { timeout 20 iscsi-ls -i "$PROBE" "$@" >/dev/null 2>&1; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
reloaded_count() { grep -c 'configuration reloaded from' "$TANDEMD_LOG" || true; }

gen
check "tandemd --check on the base config" "$TANDEMD" --check -c "$CONF"
start_tandemd "$CONF" "$CH_P1" || { fail "tandemd starts"; finish; exit 1; }
PID=$TANDEMD_PID
wait_port "$CH_P2" 10 "$PID" || true

# --- the I/O client: iocheck on target A LUN 0 (64 MiB), in two phases
IO_URL=$(url "$CH_P1" "$IQN_A" 0)
IO_LOG=$T_TMP/io.log
IO_PID=
TSIH=
io_start() { # PHASE
	"$IOCHECK" write --url "$IO_URL" --blocks 4096 --qd 4 --rate 2000 --seconds 3600 --log "$IO_LOG" \
		>"$T_TMP/io$1.out" 2>&1 &
	IO_PID=$!
	track_pid "$IO_PID"
	TSIH=
	for _ in $(seq 1 100); do
		TSIH=$(ctl --json status 2>/dev/null | python3 -c '
import json, sys
s = [x["tsih"] for x in json.load(sys.stdin)["sessions"] if x["initiator"].endswith(":iocheck")]
print(s[0] if len(s) == 1 else "")' 2>/dev/null || true)
		[ -n "$TSIH" ] && break
		sleep 0.1
	done
	if [ -n "$TSIH" ]; then pass "phase $1: iocheck logged in (TSIH $TSIH)"
	else fail "phase $1: iocheck session not in tandemctl status"; sed -e 's/^/    | /' "$T_TMP/io$1.out" | tail -n 5; fi
}
io_stop() { # PHASE
	local rc=0
	kill -TERM "$IO_PID" 2>/dev/null || true
	wait "$IO_PID" || rc=$?
	untrack_pid "$IO_PID"
	local sum
	sum=$(grep -E '^acked=' "$T_TMP/io$1.out" || true)
	log "phase $1 iocheck: ${sum:-no summary}"
	if [ "$rc" -eq 0 ] && [[ "$sum" =~ acked=([0-9]+)\ errors=0 ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] \
		&& [[ "$sum" == *" reconnects=0 "* ]]; then
		pass "phase $1: iocheck wrote ${BASH_REMATCH[1]} blocks through the reloads: no error, no reconnect"
	else
		fail "phase $1: iocheck exit $rc: ${sum:-no summary}"
		sed -e 's/^/    | /' "$T_TMP/io$1.out" | tail -n 15
	fi
	check "phase $1: every acknowledged write verifies" "$IOCHECK" verify --url "$IO_URL" --log "$IO_LOG"
	grep -E '^verified=' "$T_TMP/last.out" | sed -e 's/^/    | /' || true
}

# --- one reload into a variant, checked; problems collected in R_ERR
R_ERR=()
RACE_PIDS=()
race_end() {
	local p
	for p in "${RACE_PIDS[@]+"${RACE_PIDS[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	RACE_PIDS=()
}
N_CTL=0 N_HUP=0 N_PROBE=0 N_HELD=0 N_OBEY=0
PREV_VAR=
rerr() { R_ERR+=("round $ROUND [${VAR:-base}]: $*"); }
reload_to() { # ROUND FLAGS...
	ROUND=$1; shift
	VAR="$*"
	# shellcheck disable=SC2086
	gen $VAR
	# a discovery session racing the reload (its answer may be either
	# config's), and a login to target C while it exists (this reload may
	# remove it under the login)
	timeout 20 iscsi-ls -i "$PROBE" "iscsi://127.0.0.1:$CH_P1" >/dev/null 2>&1 &
	local disc=$! n0 out rc=0
	if [[ " $PREV_VAR " == *" tgtC "* ]]; then
		# not waited for here: when this reload removes C under its session,
		# libiscsi logs out as asked and then retries the login until its
		# timeout; the cycle's end stops what is left (race_end)
		timeout 20 iscsi-inq -i "$PROBE" "$(url "$CH_P1" "$IQN_C" 1)" >/dev/null 2>&1 &
		RACE_PIDS+=("$!")
	fi
	n0=$(reloaded_count)
	if [ $((ROUND % 2)) = 1 ]; then
		N_CTL=$((N_CTL + 1))
		out=$(ctl reload 2>&1) || rc=$?
		[ "$rc" = 0 ] && [ "$out" = "configuration reloaded" ] || rerr "tandemctl reload: exit $rc: $out"
	else
		N_HUP=$((N_HUP + 1))
		kill -HUP "$PID"
	fi
	# a reload may wait for a flush (a cache mode changed, a LUN closed):
	# seconds when the host's disk is busy
	for _ in $(seq 1 1200); do
		[ "$(reloaded_count)" -gt "$n0" ] && break
		daemon_alive "$PID" || break
		sleep 0.05
	done
	[ "$(reloaded_count)" = $((n0 + 1)) ] || rerr "no 'configuration reloaded' logged within 60 s"
	wait "$disc" 2>/dev/null || true
	PREV_VAR=$VAR
	daemon_alive "$PID" || { rerr "tandemd died"; return 1; }
	ctl --json status >"$T_TMP/status.json" 2>"$T_TMP/status.err" || rerr "tandemctl status: $(cat "$T_TMP/status.err")"
	# SendTargets as churn-probe: exactly the targets the variant admits it to
	local listed
	listed=$(timeout 20 iscsi-ls -i "$PROBE" "iscsi://127.0.0.1:$CH_P1" 2>&1 | sed -n 's/^Target:\([^ ]*\) .*/\1/p' | sort -u | tr '\n' ' ')
	N_PROBE=$((N_PROBE + 1))
	# shellcheck disable=SC2086
	hlp check "$T_TMP/status.json" ${TSIH:+--tsih "$TSIH"} --listed "$listed" $VAR
	[ "$HLP_ANS" = ok ] || rerr "status: $HLP_ANS"
	probes $VAR
}
has() { [[ " $VAR " == *" $1 "* ]]; }
probe_ok()   { N_PROBE=$((N_PROBE + 1)); local w=$1; shift; "$@" || rerr "$w: failed"; }
probe_fail() { N_PROBE=$((N_PROBE + 1)); local w=$1; shift; ! "$@" || rerr "$w: unexpectedly worked"; }
# the logins that the variant's changes decide
probes() {
	local B0="$IQN_B/0"
	if has lunA2; then
		if has aclA; then probe_fail "iscsi-inq A/2 (ACL denies the probe)" inq "$(url "$CH_P1" "$IQN_A" 2)"
		else probe_ok "iscsi-inq on the added LUN A/2" inq "$(url "$CH_P1" "$IQN_A" 2)"; fi
	fi
	if has aclA; then probe_fail "iscsi-inq A/0 with the ACL denying the probe" inq "$(url "$CH_P1" "$IQN_A" 0)"; fi
	if has tgtC; then probe_ok "iscsi-inq on the added target C/1" inq "$(url "$CH_P1" "$IQN_C" 1)"; fi
	local pB=$CH_P2
	has rmpg2 && pB=$CH_P1
	if has aclB; then
		probe_fail "iscsi-inq B/0 with the ACL admitting someone else" inq "iscsi://churn%$SECRET1@127.0.0.1:$pB/$B0"
	elif has nochapB; then
		probe_ok "iscsi-inq B/0 without CHAP" inq "iscsi://127.0.0.1:$pB/$B0"
	elif has chapB2; then
		probe_ok "iscsi-inq B/0 with the new secret" inq "iscsi://churn%$SECRET2@127.0.0.1:$pB/$B0"
		probe_fail "iscsi-inq B/0 with the old secret" inq "iscsi://churn%$SECRET1@127.0.0.1:$pB/$B0"
	elif [ $# = 0 ]; then
		probe_ok "iscsi-inq B/0 with CHAP" inq "iscsi://churn%$SECRET1@127.0.0.1:$pB/$B0"
		probe_fail "iscsi-inq B/0 without CHAP credentials" inq "iscsi://127.0.0.1:$pB/$B0"
	fi
	if has pg3; then probe_ok "iscsi-inq A/0 through the added pg3" inq "$(url "$CH_P3" "$IQN_A" 0)"; fi
	if has pg2b; then probe_ok "discovery through pg2's added address" ls_quiet "iscsi://127.0.0.1:$CH_P4"
	else probe_fail "pg2's second address closed" port_open "$CH_P4"; fi
	if has rmpg2; then probe_fail "portal group pg2 closed" port_open "$CH_P2"; fi
}

# A raw session on target C from the variant that adds C until the one that
# removes it: the target goes while a session holds it, and the session is
# asked to log out. In most cycles the client logs out as asked; in every
# fourth it ignores the request and the target drops it 5 s later
# (REVOKE_DROP_MS; waited for at the cycle's end, so only every fourth).
HOLD_PID='' HOLD_OBEY=
hold_start() { # obey|ignore
	HOLD_OBEY=$1
	# emptied here, not by the background job's redirection: that runs in
	# the child, which may come after the first grep below, which would
	# then read the previous cycle's "ready"
	: >"$T_TMP/hold.out"
	python3 "$HELPER" hold "$CH_P1" "$IQN_C" iqn.2026-11.org.tandem.test:churn-holder \
		"$([ "$1" = obey ] && echo obey)" >>"$T_TMP/hold.out" 2>&1 &
	HOLD_PID=$!
	track_pid "$HOLD_PID"
	# a deadline, not a count of sleeps: 20 s however long each turn takes
	local end=$((SECONDS + 20))
	while [ "$SECONDS" -lt "$end" ]; do
		grep -q -e ready -e 'login failed' "$T_TMP/hold.out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q ready "$T_TMP/hold.out" || rerr "raw session on target C ($((SECONDS - end + 20)) s): $(tr '\n' ' ' <"$T_TMP/hold.out")"
}
hold_end() { # the target removed C a while ago: the session must be gone (within 10 s)
	for _ in $(seq 1 100); do kill -0 "$HOLD_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$HOLD_PID" 2>/dev/null; then
		rerr "the session held on removed target C is still up"
		kill -TERM "$HOLD_PID" 2>/dev/null || true
	fi
	wait "$HOLD_PID" 2>/dev/null || true
	untrack_pid "$HOLD_PID"
	local want='asked to log out.*target closed the session$'
	if [ "$HOLD_OBEY" = obey ]; then want='asked to log out.*logged out as asked'; fi
	if grep -q 'ready' "$T_TMP/hold.out" && [[ "$(tr '\n' ' ' <"$T_TMP/hold.out" | sed 's/ $//')" =~ $want ]]; then
		N_HELD=$((N_HELD + 1))
		if [ "$HOLD_OBEY" = obey ]; then N_OBEY=$((N_OBEY + 1)); fi
	else
		rerr "held session on C ($HOLD_OBEY): $(tr '\n' ' ' <"$T_TMP/hold.out")"
	fi
}

# settle_fds PID WANT: the descriptor count once it is WANT (up to 10 s: a
# probe's connection or a removed LUN's device may still be closing);
# WANT empty: once it stayed the same for 1 s
settle_fds() {
	local pid=$1 want=$2 n prev=-1 same=0
	for _ in $(seq 1 40); do
		n=$(fd_count "$pid")
		if [ -n "$want" ]; then
			[ "$n" = "$want" ] && break
		else
			if [ "$n" = "$prev" ]; then same=$((same + 1)); else same=0; fi
			[ "$same" -ge 4 ] && break
			prev=$n
		fi
		sleep 0.25
	done
	echo "$n"
}

# broken config: refused by both paths, nothing changes
broken_config() {
	local line out rc=0 n0
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([d["targets"],d["portals"]]))' \
		"$T_TMP/status.json" | sed 's/"\(reads\|writes\|read_bytes\|write_bytes\)": [0-9]*//g' >"$T_TMP/before.json"
	gen broken
	line=${HLP_ANS#ok }
	n0=$(reloaded_count)
	out=$(ctl reload 2>&1) || rc=$?
	log "broken config (line $line): tandemctl reload exit $rc: $out"
	[ "$rc" != 0 ] && pass "tandemctl reload refuses the broken config (exit $rc)" || fail "tandemctl reload accepted a broken config"
	grep -q "tandem.conf:$line" <<<"$out" && pass "the refusal names tandem.conf:$line" || fail "the refusal does not name tandem.conf:$line: $out"
	local nref
	nref=$(grep -c 'reload refused' "$TANDEMD_LOG" || true)
	kill -HUP "$PID"
	for _ in $(seq 1 100); do [ "$(grep -c 'reload refused' "$TANDEMD_LOG" || true)" -gt "$nref" ] && break; sleep 0.05; done
	check "SIGHUP with the broken config: 'reload refused' logged" test "$(grep -c 'reload refused' "$TANDEMD_LOG" || true)" -gt "$nref"
	check "no reload was applied" test "$(reloaded_count)" = "$n0"
	check "daemon alive after the refused reloads" daemon_alive "$PID"
	ctl --json status >"$T_TMP/status.json" 2>/dev/null || true
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([d["targets"],d["portals"]]))' \
		"$T_TMP/status.json" | sed 's/"\(reads\|writes\|read_bytes\|write_bytes\)": [0-9]*//g' >"$T_TMP/after.json"
	check "targets, LUNs and portals unchanged by the refused reloads" cmp "$T_TMP/before.json" "$T_TMP/after.json"
	hlp check "$T_TMP/status.json" --tsih "$TSIH"
	check "status still that of the running variant (iocheck's session, TSIH $TSIH, included)" test "$HLP_ANS" = ok
}

# --- the churn
# Each reactor sets up its blockio state (an aio context and an eventfd) at its
# first blockio I/O and keeps it until it exits; connections go to the
# reactors in turn. Two short writers, one after the other, so that both
# reactors have theirs before the descriptor baseline (blocks past iocheck's).
for w in 1 2; do
	check "warm-up writer $w" "$IOCHECK" write --url "$IO_URL" --offset-blocks 8192 --blocks 64 --qd 2 \
		--max-writes 16 --seconds 30 --log "$T_TMP/warm.log"
done
T0=$(date +%s)
io_start 1
FD_BASE='' RSS_EARLY='' RSS_LAST=
FD_SEEN=()
ROUND=0
HALF=$((CYCLES / 2))
for cyc in $(seq 1 "$CYCLES"); do
	for v in "${VARIANTS[@]}"; do
		ROUND=$((ROUND + 1))
		rt0=$(date +%s%N)
		rl0=$(wc -l <"$TANDEMD_LOG")
		# shellcheck disable=SC2086
		reload_to "$ROUND" $v || break 2
		rdt=$(( ($(date +%s%N) - rt0) / 1000000 ))
		if [ "$rdt" -ge 3000 ]; then    # not a failure by itself: what took the time
			log "round $ROUND [${v:-base}] took $rdt ms; tandemd's log meanwhile:"
			tail -n +"$((rl0 + 1))" "$TANDEMD_LOG" | head -n 25 | sed -e 's/^/    | /'
		fi
		[ "$v" != "lunA2 tgtC" ] || hold_start "$([ $((cyc % 4)) = 0 ] && echo ignore || echo obey)"
	done
	hold_end
	race_end
	if [ "$cyc" = 1 ]; then
		FD_BASE=$(settle_fds "$PID" "")
		ls -l "/proc/$PID/fd" 2>/dev/null | awk 'NR > 1 {print $NF}' | sed 's/[0-9]\+/N/g' | sort >"$T_TMP/fd.base"
		log "after cycle 1 (round $ROUND): $FD_BASE descriptors, VmRSS $(rss_kib "$PID") KiB"
	else
		n=$(settle_fds "$PID" "$FD_BASE")
		FD_SEEN+=("$n")
		[ "$cyc" = 2 ] && RSS_EARLY=$(rss_kib "$PID")
		RSS_LAST=$(rss_kib "$PID")
		log "after cycle $cyc (round $ROUND): $n descriptors, VmRSS $RSS_LAST KiB, $(( $(date +%s) - T0 )) s"
		if [ "$n" != "$FD_BASE" ]; then
			ls -l "/proc/$PID/fd" 2>/dev/null | awk 'NR > 1 {print $NF}' | sed 's/[0-9]\+/N/g' | sort >"$T_TMP/fd.now"
			{ diff "$T_TMP/fd.base" "$T_TMP/fd.now" || true; } | sed -e 's/^/    | /' | head -n 20
		fi
	fi
	if [ "$cyc" = "$HALF" ]; then
		broken_config
		io_stop 1
		io_start 2
	fi
done
io_stop 2
log "$ROUND reloads ($N_CTL tandemctl, $N_HUP SIGHUP), $N_PROBE logins/discoveries checked, $(( $(date +%s) - T0 )) s"

check "daemon alive after the churn" daemon_alive "$PID"
if [ "${#R_ERR[@]}" = 0 ] && [ "$ROUND" = $((CYCLES * ${#VARIANTS[@]})) ]; then
	pass "$ROUND reloads ($N_CTL tandemctl reload, $N_HUP SIGHUP) each applied exactly as configured"
	pass "$N_PROBE logins and discoveries between the reloads answered as each variant says"
	pass "$N_HELD sessions held on target C were asked to log out when reloads removed it: $N_OBEY did, the target dropped the other $((N_HELD - N_OBEY))"
else
	fail "reload churn: ${#R_ERR[@]} problem(s) in $ROUND rounds"
	printf '    | %s\n' "${R_ERR[@]:0:20}"
fi
bad=0
for n in "${FD_SEEN[@]}"; do [ "$n" = "$FD_BASE" ] || bad=1; done
[ "$bad" = 0 ] && pass "descriptors at each cycle's end equal the count after cycle 1 ($FD_BASE): ${FD_SEEN[*]}" \
	|| fail "descriptors at the cycles' ends ${FD_SEEN[*]}, after cycle 1: $FD_BASE"
if [ "$SANITIZED" = 1 ] || [ "$TSAN" = 1 ]; then
	log "VmRSS cycle 2 -> $CYCLES: $RSS_EARLY -> $RSS_LAST KiB (not asserted under ASan or TSan: quarantine, shadow memory)"
else
	growth=$((RSS_LAST - RSS_EARLY))
	[ "$growth" -lt "$RSS_LIMIT_KIB" ] \
		&& pass "VmRSS cycle 2 -> $CYCLES: $RSS_EARLY -> $RSS_LAST KiB (+$growth, limit $RSS_LIMIT_KIB)" \
		|| fail "VmRSS grew $growth KiB over $(( (CYCLES - 2) * ${#VARIANTS[@]} )) reloads ($RSS_EARLY -> $RSS_LAST KiB, limit $RSS_LIMIT_KIB)"
fi
check "daemon alive and serving at the end" alive_and_serving "$PID" "$CH_P1" "$IQN_A"
log "tandemd CPU: $(awk '{print "user " $14/100 " s, system " $15/100 " s"}' "/proc/$PID/stat")"
stop_tandemd "$PID"
finish
