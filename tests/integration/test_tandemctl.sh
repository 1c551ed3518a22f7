#!/usr/bin/env bash
# tandemctl and tandemd's command line:
#   - status (human and --json): exit 0, names the target; the JSON is valid
#     (python3 -m json.tool) and lists the target and a connected client's session;
#   - reload after adding a LUN to the config: iscsi-ls shows LUN 1, iscsi-inq
#     works on it, the held session stays up;
#   - reload with a broken config: non-zero exit, message names file:line, the
#     daemon keeps the old config (LUN 1 still served) and keeps serving;
#   - reload adding a LUN whose file is missing: logged, not served; the next
#     reload of the same file, once the file exists, adds it;
#   - reload changing a LUN's path to a missing file: the LUN keeps its
#     previous device in service (warning), until a reload that can open it;
#   - reload changing only a LUN's cache mode: applied in service (WCE follows),
#     the LUN is not removed and added again;
#   - reload taking access away (ACL, a login under way), moving the session's
#     portal group to another ALUA group, removing its portal group: the
#     session is asked to log out and dropped;
#   - log-level: valid level -> 0, invalid -> non-zero;
#   - wrong arguments -> exit 2; daemon not running -> exit 3 with a message;
#   - tandemd --check: good config -> 0, broken config -> 1 naming file:line;
#   - tandemd --release-ip removes a floating IP left configured in a network
#     namespace of the test (veth), only that address, and says why it cannot;
#   - tandemd with bad CLI arguments -> exit 2 with usage on stderr; -h / -V -> 0.
# Usage: bash tests/integration/test_tandemctl.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool python3 iscsi-ls iscsi-inq
require_tandemd
[ -x "$TANDEMCTL" ] || { echo "no tandemctl at $TANDEMCTL" >&2; exit 1; }

IQN=iqn.2026-11.org.tandem:ctl
HOLDER=iqn.2026-11.org.tandem.test:holder
PORT=$(free_port)
CTL=$(unique_ctl)
CONF=$T_TMP/tandem.conf
ctl() { timeout 30 "$TANDEMCTL" -s "$CTL" "$@"; }
# output_has PATTERN cmd...: command exits 0 and its stdout+stderr contain PATTERN (grep -E)
output_has() { local pat=$1; shift; local out; out=$("$@" 2>&1) || { echo "$out"; return 1; }; echo "$out"; grep -E -q -- "$pat" <<<"$out"; }
# rc_and_output RC PATTERN cmd...: exit status RC and output contains PATTERN
rc_and_output() {
	local want=$1 pat=$2; shift 2; local out rc=0
	out=$("$@" 2>&1) || rc=$?
	echo "exit $rc"; echo "$out"
	[ "$rc" -eq "$want" ] && grep -E -q -- "$pat" <<<"$out"
}

CFG_SIZE=64M write_config "$CONF" "$PORT" "$CTL" "$IQN" "$T_TMP/lun0.img"

# --- tandemd command line (no daemon needed)
check_rc "tandemd --check on a good config -> 0" 0 "$TANDEMD" --check -c "$CONF"
cp "$CONF" "$T_TMP/broken.conf"
# line 3 of the generated config is "    threads: 2": make it invalid
sed -i '3s/.*/    threads: lots/' "$T_TMP/broken.conf"
check "tandemd --check on a bad value -> 1 naming broken.conf:3" \
	rc_and_output 1 'broken\.conf:3' "$TANDEMD" --check -c "$T_TMP/broken.conf"
printf 'global {\n    log_level: info\n' >"$T_TMP/unclosed.conf"
check "tandemd --check on an unclosed brace -> 1 naming file:line" \
	rc_and_output 1 'unclosed\.conf:[0-9]+' "$TANDEMD" --check -c "$T_TMP/unclosed.conf"
check "tandemd --check on a missing file -> 1" rc_and_output 1 'nonexistent' "$TANDEMD" --check -c "$T_TMP/nonexistent.conf"
check "tandemd --bogus-option -> 2 with usage" rc_and_output 2 '[Uu]sage' "$TANDEMD" --bogus-option
check "tandemd -t (missing argument) -> 2" rc_and_output 2 '.' "$TANDEMD" -t
check "tandemd extra positional argument -> 2" rc_and_output 2 '.' "$TANDEMD" -f extra-arg
check "tandemd -l nonsense-level -> 2" rc_and_output 2 '.' "$TANDEMD" --check -c "$CONF" -l nonsense-level
check_rc "tandemd -h -> 0" 0 "$TANDEMD" -h
check_rc "tandemd -V -> 0" 0 "$TANDEMD" -V

# --- tandemd --release-ip (systemd's ExecStopPost): a tandemd that died without
# its shutdown (SIGKILL) leaves the cluster's floating IP configured; this
# removes it, in a network namespace of the test's own (a veth pair in it)
check "tandemd --release-ip without a cluster section -> 0, nothing to do" \
	rc_and_output 0 'no floating IP' "$TANDEMD" --release-ip -c "$CONF"
RIP_NS=tandem-rip-$$
if ip netns add "$RIP_NS" 2>/dev/null; then
	trap 'ip netns del "$RIP_NS" 2>/dev/null || true; _t_cleanup' EXIT
	ip -n "$RIP_NS" link add rip0 type veth peer name rip1
	ip -n "$RIP_NS" link set rip0 up
	ip -n "$RIP_NS" addr add 192.0.2.60/24 dev rip0          # the node's own address
	ip -n "$RIP_NS" addr add 192.0.2.50/24 dev rip0          # the floating IP, left behind
	{ cat "$CONF"; printf 'cluster {\n    manager: builtin\n    node: a\n    peer: b\n'
	  printf '    floating_ip: 192.0.2.50/24\n    interface: rip0\n    fencing: none\n}\n'; } >"$T_TMP/rip.conf"
	check "tandemd --check accepts the cluster config" "$TANDEMD" --check -c "$T_TMP/rip.conf"
	check "tandemd --release-ip removes a floating IP left configured -> 0" \
		rc_and_output 0 'removed floating IP 192\.0\.2\.50' ip netns exec "$RIP_NS" "$TANDEMD" --release-ip -c "$T_TMP/rip.conf"
	check "the floating IP is gone, the node's own address stays" \
		bash -c "ip -n '$RIP_NS' -4 addr show dev rip0 | grep -q 192.0.2.60 && ! ip -n '$RIP_NS' -4 addr show dev rip0 | grep -q 192.0.2.50"
	check "tandemd --release-ip again: not configured here -> 0" \
		rc_and_output 0 'not configured here' ip netns exec "$RIP_NS" "$TANDEMD" --release-ip -c "$T_TMP/rip.conf"
	ip -n "$RIP_NS" link set rip1 up
	ip -n "$RIP_NS" addr add 192.0.2.50/24 dev rip1          # on another interface than configured
	check "tandemd --release-ip: the address on another interface stays, and it says so -> 1" \
		rc_and_output 1 'still configured here' ip netns exec "$RIP_NS" "$TANDEMD" --release-ip -c "$T_TMP/rip.conf"
	ip -n "$RIP_NS" addr del 192.0.2.50/24 dev rip1
	ip -n "$RIP_NS" addr add 192.0.2.50/24 dev rip0
	sed 's/interface: rip0/interface: nosuchdev0/' "$T_TMP/rip.conf" >"$T_TMP/rip-bad.conf"
	check "tandemd --release-ip on an interface that does not exist -> 1 with the reason" \
		rc_and_output 1 'cannot remove the floating IP' ip netns exec "$RIP_NS" "$TANDEMD" --release-ip -c "$T_TMP/rip-bad.conf"
	check "tandemd --release-ip on a broken config -> 1 naming file:line" \
		rc_and_output 1 'broken\.conf:3' "$TANDEMD" --release-ip -c "$T_TMP/broken.conf"
	ip netns del "$RIP_NS"
	trap _t_cleanup EXIT
else
	fail "tandemd --release-ip: cannot create a network namespace for the test"
fi

# --- tandemctl without a daemon
check "tandemctl status, no daemon -> 3 with a message" rc_and_output 3 '.' ctl status
check "tandemctl no arguments -> 2" rc_and_output 2 '.' "$TANDEMCTL"
check "tandemctl unknown command -> 2" rc_and_output 2 '.' "$TANDEMCTL" -s "$CTL" frobnicate
check "tandemctl log-level without level -> 2" rc_and_output 2 '.' "$TANDEMCTL" -s "$CTL" log-level
check "tandemctl --bogus-option -> 2" rc_and_output 2 '.' "$TANDEMCTL" --bogus-option status
# an argument that came out empty (a script's unset "$LUN") is not "no
# argument", which means every LUN or the peer: refused before anything is sent
check "tandemctl discard-my-data '' -> 2" rc_and_output 2 'empty argument' "$TANDEMCTL" -s "$CTL" discard-my-data ""
check "tandemctl disconnect '' -> 2" rc_and_output 2 'empty argument' "$TANDEMCTL" -s "$CTL" disconnect ""
check "tandemctl failover '' -> 2" rc_and_output 2 'empty argument' "$TANDEMCTL" -s "$CTL" failover ""

# --- with a daemon
start_tandemd "$CONF" "$PORT" || { fail "tandemd starts"; finish; exit 1; }
# a tandemd that answers on the control socket owns the address: refused
# before any netlink call (so this runs in the test's own namespace safely)
check "tandemd --release-ip while a tandemd answers on its control socket -> 1, nothing removed" \
	rc_and_output 1 'answers on control socket' "$TANDEMD" --release-ip -c "$T_TMP/rip.conf"
PID=$TANDEMD_PID
python3 "$T_LIB_DIR/test_bad_input.py" --port "$PORT" --iqn "$IQN" --hold 600 --initiator "$HOLDER" \
	>"$T_TMP/holder.out" 2>&1 &
HOLD_PID=$!
track_pid "$HOLD_PID"
for _ in $(seq 1 100); do grep -q ready "$T_TMP/holder.out" 2>/dev/null && break; sleep 0.1; done
check "a raw client logs in and holds a session" grep -q ready "$T_TMP/holder.out"

check "tandemctl status (human) -> 0 and names the target" output_has "$IQN" ctl status
ctl status >"$T_TMP/status.txt" 2>&1 || true
sed -e 's/^/    | /' "$T_TMP/status.txt" | head -n 30
rc=0; ctl --json status >"$T_TMP/status.json" 2>"$T_TMP/status.err" || rc=$?
[ "$rc" -eq 0 ] && pass "tandemctl --json status -> 0" || fail "tandemctl --json status -> $rc ($(cat "$T_TMP/status.err"))"
check "status JSON is valid (python3 -m json.tool)" python3 -m json.tool "$T_TMP/status.json"
check "status JSON names the target" grep -q "$IQN" "$T_TMP/status.json"
check "status JSON shows the held session's initiator" grep -q "$HOLDER" "$T_TMP/status.json"
check "status JSON has targets and sessions members" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
def find(o, k):
    if isinstance(o, dict):
        if k in o: return True
        return any(find(v, k) for v in o.values())
    if isinstance(o, list): return any(find(v, k) for v in o)
    return False
sys.exit(0 if find(d, "targets") and find(d, "sessions") else 1)' "$T_TMP/status.json"

# a second daemon on the same control socket name must refuse to start, cleanly
PORT_DUP=$(free_port)
CFG_BACKEND=null CFG_SIZE=16M write_config "$T_TMP/dup.conf" "$PORT_DUP" "$CTL" "$IQN-dup" ""
rc=0; timeout 30 "$TANDEMD" -f -c "$T_TMP/dup.conf" >"$T_TMP/dup.out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$rc" -ne 124 ]; then
	pass "second tandemd with the same ctl_socket exits with an error (exit $rc)"
else
	fail "second tandemd with the same ctl_socket: exit $rc (wanted a clean error exit, not success/crash/hang)"
	sed -e 's/^/    | /' "$T_TMP/dup.out" | tail -n 8
fi
check "first daemon unaffected by the second one" alive_and_serving "$PID" "$PORT" "$IQN"

check "tandemctl log-level debug -> 0" ctl log-level debug
check_fail "tandemctl log-level nonsense -> non-zero" ctl log-level nonsense
check "tandemctl log-level info -> 0" ctl log-level info

# reload: add LUN 1
cp "$CONF" "$T_TMP/v1.conf"
conf_add_lun "$CONF" <<'EOF'
    lun 1 {
        backend: null
        size: 32M
        serial: ctl-lun1
        naa: 6001405000000000000000000000c002
    }
EOF
check "tandemd --check on the edited config -> 0" "$TANDEMD" --check -c "$CONF"
check "tandemctl reload (LUN 1 added) -> 0" ctl reload
check "iscsi-ls -s shows LUN 1 after reload" output_has '^Lun:1 ' timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"
check "iscsi-inq works on the new LUN 1" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 1)"
check "held session survived the reload" kill -0 "$HOLD_PID"

# reload with a broken config: the old one (with LUN 1) stays
cp "$CONF" "$T_TMP/good.conf"
LINE=$(( $(wc -l <"$CONF") - 4 ))   # the "size: 32M" line of LUN 1
sed -i "${LINE}s/.*/        size: not-a-size/" "$CONF"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
echo "    | exit $rc: $out"
[ "$rc" -ne 0 ] && pass "reload with a broken config fails (exit $rc)" || fail "reload with a broken config returned 0"
grep -q "tandem.conf:$LINE" <<<"$out" && pass "reload error names tandem.conf:$LINE" \
	|| fail "reload error does not name tandem.conf:$LINE: $out"
check "daemon alive after the failed reload" daemon_alive "$PID"
check "old config kept: LUN 1 still served" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 1)"
check "LUN 0 still served" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 0)"
check "tandemctl status still works" ctl status
check "held session survived the failed reload" kill -0 "$HOLD_PID"

# reload back to v1: LUN 1 removed
cp "$T_TMP/v1.conf" "$CONF"
check "tandemctl reload (LUN 1 removed) -> 0" ctl reload
check_fail "LUN 1 no longer listed" output_has '^Lun:1 ' timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"

# reload adding a LUN whose file is missing: logged, not served; once the file
# exists, the next reload of the same file adds it
conf_add_lun "$CONF" <<EOF
    lun 2 {
        backend: blockio
        path: $T_TMP/late.img
        size: 32M
        create: no
        serial: ctl-lun2
        naa: 6001405000000000000000000000c003
    }
EOF
out=$(ctl reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && pass "tandemctl reload (LUN 2, file missing) -> 0: the rest is applied" || fail "reload with LUN 2's file missing: exit $rc: $out"
grep -q "warning: not all of the configuration is in service: $IQN: LUN 2: .*late.img" <<<"$out" \
	&& pass "tandemctl warns that LUN 2 is not in service, naming its file" || fail "no warning about LUN 2 from tandemctl reload: $out"
check "the failed LUN 2 is logged with its reason" grep -q "iscsi: reload: .*late.img" "${T_DAEMON_LOG[$PID]}"
check_fail "LUN 2 not listed while its file is missing" output_has '^Lun:2 ' timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"
truncate -s 32M "$T_TMP/late.img"
check "tandemctl reload (same file, LUN 2's file now there) -> 0" ctl reload
check "LUN 2 listed after the second reload" output_has '^Lun:2 ' timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"
check "iscsi-inq works on LUN 2" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 2)"

# reload changing LUN 2 to a file that is missing (a typo): LUN 2 keeps its
# previous device in service with a warning, instead of disappearing (for ESXi
# a permanent device loss); the next reload that can open the new file puts it
# in service, and one going back to the old file is a no-op
qemu-io -f raw -c "write -P 0x6b 0 4k" "$(url "$PORT" "$IQN" 2)" >/dev/null 2>&1
nrm=$(grep -c "removing LUN 2" "${T_DAEMON_LOG[$PID]}" || true)
sed -i "s|path: $T_TMP/late.img|path: $T_TMP/typo.img|" "$CONF"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && pass "tandemctl reload (LUN 2's path changed to a missing file) -> 0" || fail "reload: exit $rc: $out"
grep -q "warning: not all of the configuration is in service: $IQN: LUN 2: .*typo.img.*keeps its previous device" <<<"$out" \
	&& pass "tandemctl warns that LUN 2 keeps its previous device" || fail "no warning about LUN 2 keeping its device: $out"
check "LUN 2 still listed" output_has '^Lun:2 ' timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"
check "LUN 2 still serves its previous file's data" \
	timeout 30 qemu-io -f raw -c "read -P 0x6b 0 4k" "$(url "$PORT" "$IQN" 2)"
check "LUN 2 was not removed" test "$(grep -c "removing LUN 2" "${T_DAEMON_LOG[$PID]}" || true)" = "$nrm"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
grep -q "keeps its previous device" <<<"$out" && pass "the next reload (file still missing) warns again" \
	|| fail "the second reload did not warn: exit $rc: $out"
truncate -s 32M "$T_TMP/typo.img"
out=$(ctl reload 2>&1) && rc=0 || rc=$?
[ "$rc" = 0 ] && ! grep -q warning <<<"$out" && pass "tandemctl reload (typo.img now exists) -> 0 without a warning" \
	|| fail "reload with typo.img there: exit $rc: $out"
check "LUN 2 now serves typo.img (zeroes)" timeout 30 qemu-io -f raw -c "read -P 0 0 4k" "$(url "$PORT" "$IQN" 2)"
sed -i "s|path: $T_TMP/typo.img|path: $T_TMP/late.img|" "$CONF"
check "tandemctl reload (back to late.img) -> 0" ctl reload
check "LUN 2 serves late.img again" timeout 30 qemu-io -f raw -c "read -P 0x6b 0 4k" "$(url "$PORT" "$IQN" 2)"

# reload that changes only LUN 0's cache mode: applied in service (WCE follows),
# not by taking the LUN away (LOGICAL UNIT NOT SUPPORTED: ESXi's permanent device loss)
lun0_cache() { ctl status --json | python3 -c 'import json,sys; l=json.load(sys.stdin)["targets"][0]["luns"][0]; print(l["cache"], l["wce"])'; }
check "LUN 0 starts write-back, WCE on" test "$(lun0_cache)" = "write-back True"
sed -i '0,/cache: write-back/s//cache: write-through/' "$CONF"
check "tandemctl reload (LUN 0 write-back -> write-through) -> 0" ctl reload
check "LUN 0 is write-through now, WCE off" test "$(lun0_cache)" = "write-through False"
check "the change is logged" grep -q "LUN 0: cache write-back -> write-through (WCE=0)" "${T_DAEMON_LOG[$PID]}"
check_fail "LUN 0 was not removed and added again" grep -q "removing LUN 0" "${T_DAEMON_LOG[$PID]}"
check "held session survived the cache change" kill -0 "$HOLD_PID"
check "iscsi-inq works on LUN 0" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 0)"

# reload with an ACL that no longer admits the held session's initiator: the
# session is asked to log out and, since this client ignores the request,
# dropped a few seconds later (before, it kept its access until it left)
sed -i "0,/    portal_group: pg1/s//    portal_group: pg1\n    allow: iqn.2026-11.org.tandem.test:someone-else/" "$CONF"
check "the ACL line is in the config" grep -q "allow: iqn.2026-11.org.tandem.test:someone-else" "$CONF"
check "tandemctl reload (ACL without the holder) -> 0" ctl reload
gone=0
for _ in $(seq 1 60); do kill -0 "$HOLD_PID" 2>/dev/null || { gone=1; break; }; sleep 0.25; done
[ "$gone" = 1 ] && pass "the session the ACL no longer admits was closed" || fail "the held session outlived the ACL change by 15 s"
check "the target said why" grep -q "initiator no longer in the target's ACL" "${T_DAEMON_LOG[$PID]}"
check "the holder saw the target close it" grep -q "target closed the session" "$T_TMP/holder.out"
# a login under way while a reload takes its access away: its identity was
# checked at its first PDU; the session it would create is refused
# (AUTHORIZATION FAILURE) instead of escaping the reload's revocation
sed -i '/allow: iqn.2026-11.org.tandem.test:someone-else/d' "$CONF"
check "tandemctl reload (ACL removed again) -> 0" ctl reload
rm -f "$T_TMP/late.go"
T_LIB_DIR=$T_LIB_DIR python3 - "$PORT" "$IQN" "$T_TMP/late" >"$T_TMP/late.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ['T_LIB_DIR'])
import test_bad_input as tbi
port, iqn, base = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tbi.INITIATOR = 'iqn.2026-11.org.tandem.test:late'
c = tbi.Conn(port)
keys = [('InitiatorName', tbi.INITIATOR), ('SessionType', 'Normal'), ('TargetName', iqn), ('AuthMethod', 'None')]
bhs, st, resp = c.login_step(0, 1, False, tbi.kv(keys))        # security stage, staying there
print('first PDU', st, flush=True)
open(base + '.ready', 'w').close()
for _ in range(200):
    if os.path.exists(base + '.go'):
        break
    time.sleep(0.1)
bhs, st, resp = c.login_step(0, 1, True, b'')
if st == (0, 0):
    bhs, st, resp = c.login_step(1, 3, True, tbi.kv([('HeaderDigest', 'None'), ('DataDigest', 'None'),
                                                     ('ErrorRecoveryLevel', '0'), ('MaxConnections', '1')]))
print('final', st, flush=True)
PY
LATE_PID=$!
track_pid "$LATE_PID"
for _ in $(seq 1 100); do [ -e "$T_TMP/late.ready" ] && break; sleep 0.1; done
sed -i "0,/    portal_group: pg1/s//    portal_group: pg1\n    allow: iqn.2026-11.org.tandem.test:someone-else/" "$CONF"
check "tandemctl reload (ACL without the late initiator) during its login -> 0" ctl reload
touch "$T_TMP/late.go"
wait "$LATE_PID" 2>/dev/null || true
untrack_pid "$LATE_PID"
check "the first login PDU was accepted before the reload" grep -q "first PDU (0, 0)" "$T_TMP/late.out"
check "the login finishing after the reload is refused: authorization failure (2, 2)" grep -q "final (2, 2)" "$T_TMP/late.out"
sed -i '/allow: iqn.2026-11.org.tandem.test:someone-else/d' "$CONF"
check "tandemctl reload (ACL removed, once more) -> 0" ctl reload

# The port's ALUA group and its portal group are learnt at login: a reload that
# moves the portal group to another ALUA group, or removes the portal group,
# has the sessions through it log in again (before, they kept reporting the
# old group, and a removed group's slot turned Active/Optimized).
hold_session() { # PORT OUT: a raw client holding a session; sets H_PID
	python3 "$T_LIB_DIR/test_bad_input.py" --port "$1" --iqn "$IQN" --hold 600 --initiator "$HOLDER" >"$2" 2>&1 &
	H_PID=$!
	track_pid "$H_PID"
	for _ in $(seq 1 100); do grep -q ready "$2" 2>/dev/null && break; sleep 0.1; done
}
session_gone() { # PID: within 15 s
	local i
	for i in $(seq 1 60); do kill -0 "$1" 2>/dev/null || { untrack_pid "$1"; return 0; }; sleep 0.25; done
	return 1
}
python3 - "$CONF" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("portal_group pg1 {\n", "alua_group one {\n    id: 1\n    state: active-optimized\n}\n"
              "alua_group two {\n    id: 2\n    state: active-nonoptimized\n}\nportal_group pg1 {\n    alua_group: one\n", 1)
open(p, "w").write(s)
PY
check "tandemctl reload (explicit ALUA group 1 for pg1) -> 0" ctl reload
hold_session "$PORT" "$T_TMP/holder2.out"
check "a raw client holds a session through pg1 (ALUA group 1)" grep -q ready "$T_TMP/holder2.out"
sed -i 's/    alua_group: one/    alua_group: two/' "$CONF"
check "tandemctl reload (pg1 moved to ALUA group 2) -> 0" ctl reload
session_gone "$H_PID" && pass "the session of the port moved to ALUA group 2 was closed" \
	|| fail "the session kept reporting ALUA group 1 for 15 s after its port moved to group 2"
check "the target said why" grep -q "the session's portal group moved to another ALUA group" "${T_DAEMON_LOG[$PID]}"
check "a new login through pg1 works" timeout 30 iscsi-inq "$(url "$PORT" "$IQN" 0)"
PORT2=$(free_port)
python3 - "$CONF" "$PORT2" <<'PY'
import sys
p, port = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("portal_group pg1 {\n", "portal_group pg2 {\n    tag: 2\n    listen: 127.0.0.1:%s\n    alua_group: one\n}\n"
              "portal_group pg1 {\n" % port, 1)
s = s.replace("    portal_group: pg1\n", "    portal_group: pg1\n    portal_group: pg2\n", 1)
open(p, "w").write(s)
PY
check "tandemctl reload (portal group pg2 added) -> 0" ctl reload
hold_session "$PORT2" "$T_TMP/holder3.out"
check "a raw client holds a session through pg2" grep -q ready "$T_TMP/holder3.out"
python3 - "$CONF" "$PORT2" <<'PY'
import sys
p, port = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("portal_group pg2 {\n    tag: 2\n    listen: 127.0.0.1:%s\n    alua_group: one\n}\n" % port, "", 1)
s = s.replace("    portal_group: pg2\n", "", 1)
open(p, "w").write(s)
PY
check_fail "pg2 is gone from the config" grep -q "pg2" "$CONF"
check "tandemctl reload (portal group pg2 removed) -> 0" ctl reload
session_gone "$H_PID" && pass "the session through the removed portal group was closed" \
	|| fail "the session through the removed portal group outlived the reload by 15 s"
check "the target said why" grep -q "the session's portal group was removed" "${T_DAEMON_LOG[$PID]}"

kill -TERM "$HOLD_PID" 2>/dev/null || true
wait "$HOLD_PID" 2>/dev/null || true
untrack_pid "$HOLD_PID"
check "daemon alive and serving at the end" alive_and_serving "$PID" "$PORT" "$IQN"
stop_tandemd "$PID"
check "tandemctl status after the daemon stopped -> 3" rc_and_output 3 '.' ctl status
finish
