#!/usr/bin/env bash
# tandemd with no configuration at all (the embedded default), then daemon mode.
#   - `tandemd -f` with no -c and no /etc/tandem/tandem.conf listens on
#     127.0.0.1:3260; `iscsi-ls iscsi://127.0.0.1` lists
#     iqn.2026-11.org.tandem:default; iscsi-inq works on LUN 0; LUN 0 is 1 GiB;
#     /var/lib/tandem/lun0.img was created (sparse); `tandemctl status` works
#     on the default control socket.
#   - daemon mode: `tandemd -c CONF -p PIDFILE` (no -f) returns 0, the PID file
#     names a live process that serves, SIGTERM to that PID stops it.
# Skips the default part (with a message) if something already listens on 3260
# or /etc/tandem/tandem.conf exists. Removes /var/lib/tandem/lun0.img afterwards
# only if this test created it.
# Usage: bash tests/integration/test_default.sh path/to/build
source "$(dirname "$0")/lib.sh"
require_tool iscsi-ls iscsi-inq iscsi-readcapacity16
require_tandemd

DEF_IQN=iqn.2026-11.org.tandem:default
DEF_IMG=/var/lib/tandem/lun0.img
CREATED_IMG=0
CREATED_DIR=0
cleanup_default() {
	[ "$CREATED_IMG" = 1 ] && rm -f "$DEF_IMG"
	[ "$CREATED_DIR" = 1 ] && rmdir /var/lib/tandem 2>/dev/null
	_t_cleanup
}
trap cleanup_default EXIT

if port_open 3260 || ss -Htln 'sport = :3260' | grep -q .; then
	log "SKIP default-config part: something already listens on port 3260 (a tandemd from conf/setup.sh?)"
elif [ -e /etc/tandem/tandem.conf ]; then
	log "SKIP default-config part: /etc/tandem/tandem.conf exists, tandemd would use it instead of the embedded default"
elif [ "$(id -u)" -ne 0 ]; then
	log "SKIP default-config part: needs root for /var/lib/tandem"
else
	[ -d /var/lib/tandem ] || CREATED_DIR=1
	[ -e "$DEF_IMG" ] || CREATED_IMG=1
	T_PORTS_USED+="3260 "
	TANDEMD_LOG=$T_TMP/default.log
	(cd / && exec "$TANDEMD" -f) >"$TANDEMD_LOG" 2>&1 &
	PID=$!
	track_pid "$PID"
	T_DAEMON_LOG[$PID]=$TANDEMD_LOG
	if wait_port 3260 30 "$PID"; then
		pass "tandemd with no config listens on 127.0.0.1:3260"
		check "iscsi-ls iscsi://127.0.0.1 lists $DEF_IQN" \
			bash -c "timeout 30 iscsi-ls iscsi://127.0.0.1 | grep -F 'Target:$DEF_IQN '"
		check "iscsi-inq on LUN 0 of the default target" timeout 30 iscsi-inq "iscsi://127.0.0.1/$DEF_IQN/0"
		check "LUN 0 is 1 GiB" bash -c \
			"timeout 30 iscsi-readcapacity16 iscsi://127.0.0.1/$DEF_IQN/0 | grep -x 'Total size:1073741824'"
		check "$DEF_IMG exists and is 1 GiB" bash -c "[ \"\$(stat -c %s $DEF_IMG)\" = 1073741824 ]"
		if [ "$CREATED_IMG" = 1 ]; then
			check "$DEF_IMG was created sparse" bash -c "[ \"\$(du -k $DEF_IMG | cut -f1)\" -lt 65536 ]"
		fi
		check "tandemctl status on the default control socket" timeout 30 "$TANDEMCTL" status
		check "qemu-io write+read on the default LUN" timeout 60 qemu-io -f raw \
			-c 'write -P 0x42 1M 1M' -c 'read -P 0x42 1M 1M' "iscsi://127.0.0.1/$DEF_IQN/0"
		stop_tandemd "$PID"
	else
		fail "tandemd with no config did not listen on 3260"
		sed -e 's/^/    | /' "$TANDEMD_LOG" | tail -n 30
	fi
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
