#!/usr/bin/env bash
# tandemd with no configuration at all (the embedded default), then daemon mode.
#   - `tandemd -f` with no -c and no /etc/tandem/tandem.conf listens on
#     127.0.0.1:3260; `iscsi-ls iscsi://127.0.0.1` lists
#     iqn.2026-11.org.tandem:default; iscsi-inq works on LUN 0; LUN 0 is 1 GiB;
#     /var/lib/tandem/lun0.img was created (sparse); `tandemctl status` works
#     on the default control socket.
#   - daemon mode: `tandemd -c CONF -p PIDFILE` (no -f) returns 0, the PID file
#     names a live process that serves, SIGTERM to that PID stops it.
# The default part runs in private network and mount namespaces (its own
# loopback, tmpfs over /var/lib and /etc/tandem), so a tandemd started by the
# README's first command, or an operator's configuration, neither blocks nor
# skips it, and it leaves nothing on the host.
# Usage: bash tests/integration/test_default.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool iscsi-ls iscsi-inq iscsi-readcapacity16
require_tandemd

DEF_IQN=iqn.2026-11.org.tandem:default
DEF_IMG=/var/lib/tandem/lun0.img

# The embedded default binds 127.0.0.1:3260, uses /var/lib/tandem and the
# default control socket, and is overridden by /etc/tandem/tandem.conf: on a
# machine where the README's first command already runs tandemd (or where the
# operator has a configuration) those are taken. So this part runs in private
# network and mount namespaces: its own loopback (port 3260 and libqb's
# abstract control socket are per network namespace), a tmpfs over /var/lib
# and over /etc/tandem. Nothing on the host is touched or skipped.
if [ "$(id -u)" -ne 0 ]; then
	fail "the embedded-default part needs root (namespaces, /var/lib/tandem)"
elif ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then
	fail "the embedded-default part needs unshare and nsenter (util-linux)"
else
	unshare -n -m --propagation private bash -c '
		ip link set lo up
		mount -t tmpfs tandem-default-var /var/lib
		[ ! -d /etc/tandem ] || mount -t tmpfs tandem-default-etc /etc/tandem
		echo ready
		exec sleep 3600' >"$T_TMP/ns.out" 2>&1 &
	NS_PID=$!
	track_pid "$NS_PID"
	for _ in $(seq 1 100); do grep -q ready "$T_TMP/ns.out" 2>/dev/null && break; sleep 0.1; done
	IN() { nsenter -t "$NS_PID" -n -m "$@"; }
	if ! grep -q ready "$T_TMP/ns.out"; then
		fail "private namespaces for the default part: $(cat "$T_TMP/ns.out")"
	else
		TANDEMD_LOG=$T_TMP/default.log
		# nsenter without a PID namespace execs in place: $! is tandemd
		(cd / && exec nsenter -t "$NS_PID" -n -m "$TANDEMD" -f) >"$TANDEMD_LOG" 2>&1 &
		PID=$!
		track_pid "$PID"
		T_DAEMON_LOG[$PID]=$TANDEMD_LOG
		if IN bash -c "$(declare -f port_open wait_port); wait_port 3260 30 $PID"; then
			pass "tandemd with no config listens on 127.0.0.1:3260"
			check "iscsi-ls iscsi://127.0.0.1 lists $DEF_IQN" \
				IN bash -c "timeout 30 iscsi-ls iscsi://127.0.0.1 | grep -F 'Target:$DEF_IQN '"
			check "iscsi-inq on LUN 0 of the default target" IN timeout 30 iscsi-inq "iscsi://127.0.0.1/$DEF_IQN/0"
			check "LUN 0 is 1 GiB" IN bash -c \
				"timeout 30 iscsi-readcapacity16 iscsi://127.0.0.1/$DEF_IQN/0 | grep -x 'Total size:1073741824'"
			check "$DEF_IMG exists and is 1 GiB" IN bash -c "[ \"\$(stat -c %s $DEF_IMG)\" = 1073741824 ]"
			check "$DEF_IMG was created sparse" IN bash -c "[ \"\$(du -k $DEF_IMG | cut -f1)\" -lt 65536 ]"
			check "tandemctl status on the default control socket" IN timeout 30 "$TANDEMCTL" status
			check "qemu-io write+read on the default LUN" IN timeout 60 qemu-io -f raw \
				-c 'write -P 0x42 1M 1M' -c 'read -P 0x42 1M 1M' "iscsi://127.0.0.1/$DEF_IQN/0"
			stop_tandemd "$PID"
		else
			fail "tandemd with no config did not listen on 3260"
			sed -e 's/^/    | /' "$TANDEMD_LOG" | tail -n 30
		fi
	fi
	kill "$NS_PID" 2>/dev/null || true
	wait "$NS_PID" 2>/dev/null || true
	untrack_pid "$NS_PID"
fi

# --- daemon mode with a PID file
IQN=iqn.2026-11.org.tandem:daemonized
PORT=$(free_port)
CONF=$T_TMP/tandem.conf
PIDFILE=$T_TMP/tandemd.pid
CFG_BACKEND=null CFG_SIZE=64M write_config "$CONF" "$PORT" "$(unique_ctl)" "$IQN" ""
rc=0
timeout 30 "$TANDEMD" -c "$CONF" -p "$PIDFILE" >"$T_TMP/daemon.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] && pass "tandemd without -f returns 0" || { fail "tandemd without -f returned $rc"; cat "$T_TMP/daemon.out"; }
for _ in $(seq 1 100); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
DPID=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ "$DPID" =~ ^[0-9]+$ ]]; then
	track_pid "$DPID"
	pass "PID file written ($DPID)"
	check "daemonized process is alive" daemon_alive "$DPID"
	check "daemonized process is a tandemd" bash -c "[ \"\$(readlink /proc/$DPID/exe)\" = \"$(readlink -f "$TANDEMD")\" ]"
	check "daemonized process is not our child (detached)" bash -c "[ \"\$(awk '{print \$4}' /proc/$DPID/stat)\" != $$ ]"
	check "daemonized tandemd serves" bash -c "$(declare -f port_open wait_port); wait_port $PORT 30 && timeout 30 iscsi-inq iscsi://127.0.0.1:$PORT/$IQN/0"
	kill -TERM "$DPID"
	for _ in $(seq 1 150); do daemon_alive "$DPID" || break; sleep 0.1; done
	if daemon_alive "$DPID"; then fail "daemonized tandemd did not stop on SIGTERM"; else pass "daemonized tandemd stopped on SIGTERM"; untrack_pid "$DPID"; fi
else
	fail "no PID file at $PIDFILE"
fi
finish
