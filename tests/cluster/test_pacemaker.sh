#!/usr/bin/env bash
# tests/cluster/test_pacemaker.sh BUILD_DIR: tandem run by pacemaker through
# the OCF agent resource-agents/tandem, on the two-node testbed
# (tests/cluster/testbed.sh) with pacemaker per node (tests/cluster/pcmk_lib.sh,
# shared/TESTBED.md's recipe), stonith-enabled=false.
#
# The testbed comes up with the built-in manager (initial sync), then both
# tandemd are stopped, their configs switched to `manager: pacemaker`, and
# pacemaker starts them again through the agent: a promotable clone
# (notify=true, migration-threshold=1) plus ocf:heartbeat:IPaddr2 for the
# floating portal 192.0.2.100, colocated with the promoted instance and
# started after the promotion (docs/PACEMAKER.md). The replication section's
# names become r-a / r-b, unlike pacemaker's (and the cluster section's) a / b:
# the agent must mark a peer under its pacemaker node name all the same.
#
# Scenarios (client I/O = iocheck through the floating portal, like open-iscsi):
#   start       the clone starts, one instance promoted, the IP with it
#   move        crm_resource --move to the other node under I/O: 0 I/O errors,
#               every acknowledged write read back
#   kill        SIGKILL of the promoted node's tandemd under I/O: pacemaker
#               promotes the other within seconds; no acknowledged write lost
#   crash       testbed.sh crash of the promoted node under I/O: same
#   lose-peer   SIGKILL of the unpromoted node's tandemd under I/O: the
#               promoted one freezes its writes, runs outdate_peer_command
#               (the CIB mark) and only then writes on alone (log order
#               checked); with that mark removed, the promoted instance's
#               monitor marks the peer again, under its pacemaker node name
#               (the replication names are r-a / r-b; the removal must
#               succeed, and the agent's own "marked outdated" line follow
#               it); 0 I/O errors; the node returns, resyncs, mark cleared.
#               First the agent's peer name rules against the real
#               crm_node -l (validate-all): a peer_node pacemaker does not
#               list is used with a warning, unknown names give the other
#               node of the pair with a WARNING to set peer_node
#   stopped-peer the unpromoted tandemd is stopped (SIGSTOP) too long to answer
#               the outdate request: the command marks it, writes go on; it
#               resumes and resyncs. Then the replication link is cut: this
#               NEW loss waits for the peer's own Outdated answer (or a new
#               mark); the first loss's command result does not count for it
#   outdated    the unpromoted node is stopped (standby), writes continue, the
#               replication link is cut, it starts again with stale data, then
#               the promoted node crashes: the stale node is NEVER promoted;
#               once the good node is back (the stale one resyncs from it),
#               service resumes with every acknowledged write
# PM_IP=agent runs it all with the agent moving the floating IP itself
# (manage_ip=true) instead of IPaddr2: the shorter pauses docs/PACEMAKER.md
# reports for that configuration.
# Skips (exit 0, saying why) when pacemaker cannot be installed. About 5 min.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh" "$@"
source "$(cd "$(dirname "$0")" && pwd)/pcmk_lib.sh"

if ! command -v pacemakerd >/dev/null 2>&1 || ! command -v crm_resource >/dev/null 2>&1 \
	|| [ ! -x /usr/lib/ocf/resource.d/heartbeat/IPaddr2 ]; then
	log "installing pacemaker pacemaker-cli-utils resource-agents"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pacemaker pacemaker-cli-utils resource-agents \
		>"$T_TMP/apt.log" 2>&1 || true
fi
command -v pacemakerd >/dev/null 2>&1 && command -v crm_resource >/dev/null 2>&1 \
	&& [ -x /usr/lib/ocf/resource.d/heartbeat/IPaddr2 ] || skip_all "pacemaker / resource-agents not installable here"
getent passwd hacluster >/dev/null || skip_all "no hacluster user (pacemaker package incomplete)"

PCMK_RA_DIR=$T_TMP/ra
mkdir -p "$PCMK_RA_DIR"
install -m 755 "$REPO_ROOT/resource-agents/tandem" "$PCMK_RA_DIR/tandem"
PM_IO=${PM_IO:-20}
# PM_IP=ipaddr2 (default): the floating IP is an ocf:heartbeat:IPaddr2 resource
# colocated with the promoted instance (docs/PACEMAKER.md's configuration);
# PM_IP=agent: the agent moves it itself inside demote and promote (manage_ip)
PM_IP=${PM_IP:-ipaddr2}
case $PM_IP in ipaddr2|agent) ;; *) echo "PM_IP must be ipaddr2 or agent" >&2; exit 2 ;; esac

# ---------------------------------------------------------------- setup
pm_setup() {
	local n i
	tb_fresh || return $?
	wait_serving 60 && wait_in_sync 60 || { fail "testbed: not serving / not in sync"; return 1; }
	# hand the pair over to pacemaker: stop the secondary first (the primary
	# stays alone, nothing written), then the primary; both start secondary
	# again under the agent, in manager pacemaker mode
	local p s; p=$(primary); s=$(other "$p")
	tb exec "$s" tandemctl standby >/dev/null 2>&1 || true
	for n in "$s" "$p"; do
		kill -TERM "$(awk '{print $1}' "$TB_STATE/$n/tandemd.pid")" 2>/dev/null || true
		for i in $(seq 1 100); do [ "$(role_of "$n")" = down ] && break; sleep 0.2; done
	done
	ip -n "$(ns_of "$p")" addr del "$TB_FLOAT/24" dev eth0 2>/dev/null || true
	for n in A B; do
		# the outdate-peer command: a lost peer is marked outdated in the CIB
		# while the primary's writes are frozen (docs/PACEMAKER.md)
		sed -i 's/manager: builtin/manager: pacemaker\n    outdate_peer_command: "crm_attribute -N $TANDEM_PEER -n tandem-outdated-tandem -l forever -v 1"/' \
			"$TB_STATE/$n/tandem.conf"
		# replication names of their own ("r-a", "r-b"), not pacemaker's node
		# names: the agent must still mark the peer under its pacemaker name
		# (the cluster section keeps node / peer = a / b, which is also the
		# command's TANDEM_PEER). Both configs change together, each
		# peer_name being the other's node, so the link still authenticates.
		sed -i '/^replication {/,/^}/{s/^\(    node: \)\(.*\)$/\1r-\2/;s/^\(    peer_name: \)\(.*\)$/\1r-\2/}' \
			"$TB_STATE/$n/tandem.conf"
		pcmk_prepare_node "$n"
		# testbed tools read STATE/N/tandemd.pid: the agent's pidfile is /run/tandem-pcmk/tandemd.pid
		ln -sfn "$TB_STATE/$n/run/tandem-pcmk/tandemd.pid" "$TB_STATE/$n/tandemd.pid"
	done
	for n in A B; do pcmk_start_node "$n" || return 1; done
	# both nodes online
	for i in $(seq 1 120); do
		[[ "$(pcmk A crm_mon -1 2>/dev/null)" == *"Online: [ a b ]"* ]] && break
		sleep 0.5
	done
	[[ "$(pcmk A crm_mon -1 2>/dev/null)" == *"Online: [ a b ]"* ]] || { fail "pacemaker: both nodes not online"; pcmk_dump; return 1; }
	pass "pacemaker: both nodes online"
	pcmk A crm_attribute -t crm_config -n stonith-enabled -v false
	pcmk A crm_attribute -t crm_config -n cluster-recheck-interval -v 30s
	pcmk A cibadmin -C -o resources -X "<clone id=\"$PCMK_CLONE\">
  <meta_attributes id=\"$PCMK_CLONE-meta\">
    <nvpair id=\"$PCMK_CLONE-promotable\" name=\"promotable\" value=\"true\"/>
    <nvpair id=\"$PCMK_CLONE-promoted-max\" name=\"promoted-max\" value=\"1\"/>
    <nvpair id=\"$PCMK_CLONE-promoted-node-max\" name=\"promoted-node-max\" value=\"1\"/>
    <nvpair id=\"$PCMK_CLONE-clone-max\" name=\"clone-max\" value=\"2\"/>
    <nvpair id=\"$PCMK_CLONE-clone-node-max\" name=\"clone-node-max\" value=\"1\"/>
    <nvpair id=\"$PCMK_CLONE-notify\" name=\"notify\" value=\"true\"/>
    <nvpair id=\"$PCMK_CLONE-stickiness\" name=\"resource-stickiness\" value=\"100\"/>
  </meta_attributes>
  <primitive id=\"$PCMK_RSC\" class=\"ocf\" provider=\"tandem\" type=\"tandem\">
    <instance_attributes id=\"$PCMK_RSC-ia\">
      <nvpair id=\"$PCMK_RSC-config\" name=\"config\" value=\"$PCMK_RUN/tandem.conf\"/>
      <nvpair id=\"$PCMK_RSC-tandemd\" name=\"tandemd\" value=\"$TB_STATE/bin/tandemd\"/>
      <nvpair id=\"$PCMK_RSC-tandemctl\" name=\"tandemctl\" value=\"$TB_STATE/bin/tandemctl\"/>
      <nvpair id=\"$PCMK_RSC-pidfile\" name=\"pidfile\" value=\"$PCMK_RUN/tandemd.pid\"/>
      <nvpair id=\"$PCMK_RSC-log\" name=\"daemon_log\" value=\"$PCMK_RUN/tandemd.log\"/>
      <nvpair id=\"$PCMK_RSC-wait\" name=\"wait_connect\" value=\"5\"/>
$( [ "$PM_IP" != agent ] || printf '      <nvpair id="%s-mip" name="manage_ip" value="true"/>\n      <nvpair id="%s-fip" name="floating_ip" value="%s/24"/>\n      <nvpair id="%s-fif" name="interface" value="eth0"/>\n' "$PCMK_RSC" "$PCMK_RSC" "$TB_FLOAT" "$PCMK_RSC")
    </instance_attributes>
    <meta_attributes id=\"$PCMK_RSC-meta\">
      <nvpair id=\"$PCMK_RSC-mt\" name=\"migration-threshold\" value=\"1\"/>
    </meta_attributes>
    <operations>
      <op id=\"$PCMK_RSC-start\" name=\"start\" interval=\"0s\" timeout=\"60s\"/>
      <op id=\"$PCMK_RSC-stop\" name=\"stop\" interval=\"0s\" timeout=\"60s\"/>
      <op id=\"$PCMK_RSC-promote\" name=\"promote\" interval=\"0s\" timeout=\"60s\"/>
      <op id=\"$PCMK_RSC-demote\" name=\"demote\" interval=\"0s\" timeout=\"60s\"/>
      <op id=\"$PCMK_RSC-mon-p\" name=\"monitor\" interval=\"2s\" role=\"Promoted\" timeout=\"20s\"/>
      <op id=\"$PCMK_RSC-mon-u\" name=\"monitor\" interval=\"3s\" role=\"Unpromoted\" timeout=\"20s\"/>
      <op id=\"$PCMK_RSC-notify\" name=\"notify\" interval=\"0s\" timeout=\"20s\"/>
    </operations>
  </primitive>
</clone>" || { fail "cibadmin: clone not created"; return 1; }
	if [ "$PM_IP" = ipaddr2 ]; then
		pcmk A cibadmin -C -o resources -X "<primitive id=\"$PCMK_IP\" class=\"ocf\" provider=\"heartbeat\" type=\"IPaddr2\">
  <instance_attributes id=\"$PCMK_IP-ia\">
    <nvpair id=\"$PCMK_IP-ip\" name=\"ip\" value=\"$TB_FLOAT\"/>
    <nvpair id=\"$PCMK_IP-mask\" name=\"cidr_netmask\" value=\"24\"/>
    <nvpair id=\"$PCMK_IP-nic\" name=\"nic\" value=\"eth0\"/>
  </instance_attributes>
  <operations>
    <op id=\"$PCMK_IP-mon\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/>
  </operations>
</primitive>" || { fail "cibadmin: IP not created"; return 1; }
		pcmk A cibadmin -C -o constraints -X "<rsc_colocation id=\"ip-with-promoted\" rsc=\"$PCMK_IP\" with-rsc=\"$PCMK_CLONE\" with-rsc-role=\"Promoted\" score=\"INFINITY\"/>"
		pcmk A cibadmin -C -o constraints -X "<rsc_order id=\"promote-then-ip\" first=\"$PCMK_CLONE\" first-action=\"promote\" then=\"$PCMK_IP\" then-action=\"start\"/>"
	fi
	if pcmk_wait_promoted 60 && wait_serving 30; then
		pass "start: the clone runs on both nodes, $(pcmk_promoted) promoted, the floating IP with it"
	else
		fail "start: no promoted instance serving"; pcmk_dump; return 1
	fi
	if wait_in_sync 60 && [ "$(jget A node peer) $(jget B node peer)" = "r-a r-b r-b r-a" ]; then
		pass "start: replication names r-a / r-b (pacemaker's: a / b), connected and in sync"
	else
		fail "start: replication names / link: A $(jget A node peer), B $(jget B node peer); $(nodes_state)"
	fi
}

# ---------------------------------------------------------------- scenarios
io_run() { # NAME SECS: start I/O, wait until it writes
	io_start "$1" "$2"
	sleep 3
}

scn_move() {
	local name=pcmk-move p s t0
	p=$(pcmk_promoted); s=$(other "$p")
	wait_in_sync 30 || true
	mon_start "$name"
	io_run "$name" "$PM_IO"
	t0=$SECONDS
	pcmk "$p" crm_resource --move -r "$PCMK_CLONE" --promoted -N "${PCMK_UNAME[$s]}" >"$T_TMP/move.out" 2>&1 \
		|| pcmk "$p" crm_resource --move -r "$PCMK_CLONE" --master -N "${PCMK_UNAME[$s]}" >>"$T_TMP/move.out" 2>&1 \
		|| { fail "$name: crm_resource --move failed: $(cat "$T_TMP/move.out")"; return 1; }
	if pcmk_wait_promoted 60 "$s" && wait_serving 30; then
		pass "$name: crm_resource --move: $s promoted and serving after $((SECONDS - t0)) s"
	else
		fail "$name: $s not promoted after --move"; pcmk_dump
	fi
	io_finish "$name" || return 1
	mon_stop
	pcmk "$s" crm_resource --clear -r "$PCMK_CLONE" >/dev/null 2>&1 || true
	figures "$name" "crm_resource --move (pacemaker)" 0 1000 10000
	io_verify "$name"
	wait_in_sync 60 || true
}

# guard_order NAME NODE LOG N0: NODE's tandemd, Primary without its peer,
# froze its writes, ran outdate_peer_command (the peer's CIB mark), and only
# then wrote on alone: the order of those lines in LOG after line N0
guard_order() {
	local name=$1 node=$2 log=$3 n0=$4
	# the mark is visible before the command's exit is reaped (polled every
	# 100 ms): wait for the answer before reading the order
	for i in $(seq 1 40); do
		tail -n +"$((n0 + 1))" "$log" | grep -q 'fence request .* answered' && break
		sleep 0.25
	done
	tail -n +"$((n0 + 1))" "$log" | grep -E 'writes are frozen|outdate-peer command|marking outdated|fence request .* answered' \
		>"$T_TMP/$name.order" || true
	sed -e "s/^/    $node| /" "$T_TMP/$name.order"
	python3 - "$T_TMP/$name.order" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
def first(pat):
    for i, l in enumerate(lines):
        if re.search(pat, l):
            return i
    return None
fr, ok, rel = first(r"writes are frozen"), first(r"outdate-peer command succeeded"), first(r"answered .*writes continue")
sys.exit(0 if None not in (fr, ok, rel) and fr < ok < rel else 1)
PY
}

scn_kill() {
	local name=pcmk-kill p s t0 log n0 mark
	p=$(pcmk_promoted); s=$(other "$p")
	log=$TB_STATE/$s/run/tandem-pcmk/tandemd.log
	wait_in_sync 30 || true
	n0=$(wc -l <"$log")
	mon_start "$name"
	io_run "$name" "$PM_IO"
	t0=$SECONDS
	tb kill "$p" tandemd >/dev/null 2>&1
	if pcmk_wait_promoted 30 "$s"; then
		pass "$name: SIGKILL of $p's tandemd: pacemaker promoted $s after $((SECONDS - t0)) s"
	else
		fail "$name: $s not promoted within 30 s"; pcmk_dump
	fi
	wait_serving 20 || true
	io_finish "$name" || return 1
	mon_stop
	figures "$name" "SIGKILL of the promoted tandemd (pacemaker)" - 3000 20000
	io_verify "$name"
	# the killed node misses the writes since: the promotion left its mark to
	# the new Primary's own guard (cluster.peer_loss_freezes_writes), which
	# set it before the first write went on alone
	mark=$(pcmk "$s" crm_attribute -N "${PCMK_UNAME[$p]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null || true)
	if [ "$mark" = 1 ] && guard_order "$name" "$s" "$log" "$n0"; then
		pass "$name: $s froze its writes, marked $p outdated (outdate_peer_command), then wrote on alone"
	else
		fail "$name: $p's mark is '$mark', or $s did not freeze - mark - continue in that order"
	fi
	# the killed instance: failure cleared, it starts again as unpromoted and resyncs
	pcmk "$s" crm_resource --cleanup -r "$PCMK_CLONE" >/dev/null 2>&1 || true
	if wait_in_sync 90; then pass "$name: $p back as unpromoted and in sync"; else fail "$name: $p did not return in sync"; pcmk_dump; fi
}

scn_crash() {
	local name=pcmk-crash p s t0
	p=$(pcmk_promoted); s=$(other "$p")
	wait_in_sync 30 || true
	mon_start "$name"
	io_run "$name" "$PM_IO"
	t0=$SECONDS
	tb crash "$p" >/dev/null 2>&1
	if pcmk_wait_promoted 40 "$s"; then
		pass "$name: crash of node $p: pacemaker promoted $s after $((SECONDS - t0)) s"
	else
		fail "$name: $s not promoted within 40 s"; pcmk_dump
	fi
	wait_serving 20 || true
	io_finish "$name" || return 1
	mon_stop
	figures "$name" "crash of the promoted node (pacemaker)" - 3000 20000
	io_verify "$name"
	pcmk_node_return "$p"
	if wait_in_sync 90; then pass "$name: $p rebooted, back as unpromoted and in sync"; else fail "$name: $p did not return in sync"; pcmk_dump; fi
}

# a crashed / stopped node back: links, corosync, tandemd (adopted by the probe), pacemaker
pcmk_node_return() { # N
	local n=$1
	pcmk_stop_node "$n"
	rm -f "$TB_STATE/$n/tandemd.pid"     # testbed.sh start writes a fresh one
	tb start "$n" >"$T_TMP/start.$n.out" 2>&1 || { log "testbed.sh start $n failed:"; tail -n 5 "$T_TMP/start.$n.out"; }
	pcmk_prepare_node "$n"
	# tandemd started by testbed.sh: pacemaker's probe finds it running (unpromoted)
	pcmk_start_node "$n" || return 1
	pcmk "$(other "$n")" crm_resource --cleanup -r "$PCMK_CLONE" >/dev/null 2>&1 || true
}

# peer_names P: the agent's peer name resolution against this real cluster's
# `crm_node -l` (validate-all in node P's namespaces, as pacemaker runs it):
# a peer_node pacemaker does not list is used as set (a warning), and names
# pacemaker does not know are replaced by the other node of the pair with a
# WARNING telling to set peer_node (before: debug, invisible)
peer_names() {
	local p=$1 name=pcmk-peer-names rc cfg=$T_TMP/peer-zz.conf
	local ra=(env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=$PCMK_RSC OCF_RESKEY_CRM_meta_on_node=${PCMK_UNAME[$p]}
		OCF_RESKEY_CRM_meta_timeout=20000 OCF_RESKEY_tandemd=$TB_STATE/bin/tandemd OCF_RESKEY_tandemctl=$TB_STATE/bin/tandemctl)
	rc=0
	pcmk "$p" "${ra[@]}" OCF_RESKEY_config="$TB_STATE/$p/tandem.conf" OCF_RESKEY_peer_node=zz \
		/usr/lib/ocf/resource.d/tandem/tandem validate-all >"$T_TMP/$name.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && grep -q "WARNING: .*peer_node 'zz' is not listed by pacemaker.*using it as set" "$T_TMP/$name.out"; then
		pass "$name: a peer_node pacemaker does not list (zz) is used as set, with a warning (validate-all 0)"
	else
		fail "$name: peer_node zz: validate-all rc $rc"; sed -e "s/^/    $p| /" "$T_TMP/$name.out" | tail -n 5
	fi
	sed -e '/^cluster {/,/^}/s/^\(    peer: \).*$/\1zz/' -e '/^replication {/,/^}/s/^\(    peer_name: \).*$/\1r-zz/' \
		"$TB_STATE/$p/tandem.conf" >"$cfg"
	rc=0
	pcmk "$p" "${ra[@]}" OCF_RESKEY_config="$cfg" /usr/lib/ocf/resource.d/tandem/tandem validate-all >"$T_TMP/$name.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && grep -q "WARNING: .*not pacemaker node names: the peer is ${PCMK_UNAME[$(other "$p")]}, the other node of the pair. Set the peer_node parameter" "$T_TMP/$name.out"; then
		pass "$name: peers named zz / r-zz: the other node of the pair, ${PCMK_UNAME[$(other "$p")]}, with a WARNING to set peer_node"
	else
		fail "$name: peers named zz / r-zz: validate-all rc $rc, no such warning"; sed -e "s/^/    $p| /" "$T_TMP/$name.out" | tail -n 5
	fi
}

scn_lose_peer() {
	local name=pcmk-lose-peer p s log n0 i mark= marked=0 plog l0 out
	p=$(pcmk_promoted); s=$(other "$p")
	peer_names "$p"
	log=$TB_STATE/$p/run/tandem-pcmk/tandemd.log
	wait_in_sync 30 || true
	n0=$(wc -l <"$log")
	mon_start "$name"
	io_run "$name" "$PM_IO"
	tb kill "$s" tandemd >/dev/null 2>&1
	for i in $(seq 1 40); do
		mark=$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null || true)
		[ "$mark" = 1 ] && break
		sleep 0.25
	done
	[ "$mark" = 1 ] && pass "$name: $s marked outdated in the CIB" || fail "$name: $s not marked outdated"
	if guard_order "$name" "$p" "$log" "$n0"
	then
		pass "$name: $p froze its writes, marked $s outdated (outdate_peer_command), then wrote on alone"
	else
		fail "$name: $p did not freeze - mark - continue in that order (see the lines above)"
	fi
	# the agent's own mark: the promoted instance's monitor marks the peer
	# while not connected, under its pacemaker node name although tandemd's
	# replication peer is r-$s (before, the agent wrote it under the
	# replication name: crm_attribute failed at every monitor, nothing was
	# marked). Once pacemaker has stopped $s's failed instance (its post-stop
	# notification marks it too, under pacemaker's own names) and settled,
	# the command's mark is removed: only that monitor can set it again.
	for i in $(seq 1 60); do
		[[ "$(pcmk "$p" crm_resource --locate -r "$PCMK_CLONE" 2>/dev/null)" != *"running on: ${PCMK_UNAME[$s]}"* ]] && break
		sleep 0.5
	done
	pcmk "$p" crm_resource --wait -T 30s >/dev/null 2>&1 || log "$name: pacemaker not settled after 30 s"
	# the removal must have worked, or the "marked again" below proves
	# nothing: its exit status, and the agent's own log line for a new mark
	# after it (the monitor may mark it again before any read here)
	plog=$TB_STATE/$p/pcmk/log/pacemaker.log
	l0=$(wc -l <"$plog" 2>/dev/null || echo 0)
	if ! out=$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -D 2>&1); then
		fail "$name: the mark of ${PCMK_UNAME[$s]} could not be removed: $out"
	else
		for i in $(seq 1 40); do
			mark=$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null || true)
			if [ "$mark" = 1 ] && tail -n +"$((l0 + 1))" "$plog" | grep -q "${PCMK_UNAME[$s]} misses writes from here: marked outdated"; then
				marked=1
				break
			fi
			sleep 0.25
		done
	fi
	if [ "$marked" = 1 ]; then
		pass "$name: the promoted instance marks $s outdated under its pacemaker name ${PCMK_UNAME[$s]} (replication peer $(jget "$p" peer))"
	else
		fail "$name: the promoted instance did not mark $s outdated under its pacemaker name ${PCMK_UNAME[$s]} within 10 s (replication peer $(jget "$p" peer))"
		grep -E "tandem.*(cannot mark|peer's pacemaker node name)" "$TB_STATE/$p/pcmk/log/pacemaker.log" 2>/dev/null | tail -n 3 | sed -e "s/^/    $p| /" || true
	fi
	io_wait "$name" || return 1
	mon_stop
	figures "$name" "SIGKILL of the unpromoted tandemd (pacemaker, outdate_peer_command)" 0 3000 20000
	io_verify "$name"
	pcmk "$p" crm_resource --cleanup -r "$PCMK_CLONE" >/dev/null 2>&1 || true
	if wait_in_sync 90; then pass "$name: $s back and in sync"; else fail "$name: $s did not return in sync"; pcmk_dump; fi
	for i in $(seq 1 20); do
		[ -z "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" ] && break
		sleep 0.5
	done
	[ -z "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" ] \
		&& pass "$name: $s's outdated mark cleared once in sync" || fail "$name: $s's outdated mark still set after the resync"
}

# the first 'fence request N answered' line after line N0 of LOG must come
# after the peer's own Outdated answer or a command run for this request
answered_for_this_loss() { # LOG N0 OUT
	tail -n +"$(($2 + 1))" "$1" | grep -E 'outdate-peer command succeeded|fence request .* answered' >"$3" || true
	python3 - "$3" <<'PY'
import sys
for l in open(sys.argv[1]).read().splitlines():
    if "command succeeded" in l:
        sys.exit(0)
    if "answered" in l:
        sys.exit(0 if "marked its disks Outdated" in l else 1)
sys.exit(1)
PY
}

scn_stopped_peer() {
	local name=pcmk-stopped-peer p s log n0 i mark= spid
	p=$(pcmk_promoted); s=$(other "$p")
	log=$TB_STATE/$p/run/tandem-pcmk/tandemd.log
	wait_in_sync 30 || true
	# the tandemd in $s's namespace (pacemaker may have restarted it since
	# the pidfile link was made): selected by namespace, signalled by PID
	spid=
	for i in $(ip netns pids "$(ns_of "$s")" 2>/dev/null); do
		[ "$(cat "/proc/$i/comm" 2>/dev/null)" = tandemd ] && spid=$i
	done
	[ -n "$spid" ] || { fail "$name: no tandemd running on $s"; return 1; }
	n0=$(wc -l <"$log")
	io_run "$name" "$PM_IO"
	# stopped, it stays in the CPG group but answers nothing: the ask
	# expires (5 s) and outdate_peer_command marks it (the agent's monitor
	# may mark it first; what counts here is that the command ran)
	kill -STOP "$spid"
	for i in $(seq 1 80); do
		tail -n +"$((n0 + 1))" "$log" | grep -q 'outdate-peer command succeeded' && break
		sleep 0.25
	done
	mark=$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null || true)
	kill -CONT "$spid"
	if tail -n +"$((n0 + 1))" "$log" | grep -q 'outdate-peer command succeeded' && [ "$mark" = 1 ]; then
		pass "$name: $s (stopped, not answering) marked outdated by the command"
	else
		fail "$name: no outdate-peer command for the stopped $s (mark '$mark')"
	fi
	io_wait "$name" || return 1
	io_verify "$name"
	if wait_in_sync 90; then pass "$name: $s resumed and resynced"; else fail "$name: $s not in sync after resuming"; pcmk_dump; fi
	for i in $(seq 1 20); do
		[ -z "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" ] && break
		sleep 0.5
	done
	# a new loss: the link is cut, the peer's tandemd runs and answers
	n0=$(wc -l <"$log")
	io_run "$name-cut" "$PM_IO"
	tb cut repl >/dev/null
	for i in $(seq 1 60); do
		tail -n +"$((n0 + 1))" "$log" | grep -q 'fence request .* answered' && break
		sleep 0.25
	done
	if answered_for_this_loss "$log" "$n0" "$T_TMP/$name.answer"; then
		pass "$name: a new link loss waited for this loss's answer ($(grep -Eo '\([^()]*\)$' "$T_TMP/$name.answer" | tail -n 1))"
	else
		sed -e "s/^/    $p| /" "$T_TMP/$name.answer"
		fail "$name: writes went on after a new link loss on the first loss's command result (peer neither Outdated nor marked)"
	fi
	tb heal >/dev/null
	io_wait "$name-cut" || return 1
	io_verify "$name-cut"
	if wait_in_sync 90; then pass "$name: in sync after the heal"; else fail "$name: not in sync after the heal"; pcmk_dump; fi
}

scn_outdated() {
	local name=pcmk-outdated p s t0 bad=0 i pr
	p=$(pcmk_promoted); s=$(other "$p")
	wait_in_sync 30 || true
	io_run "$name" 12
	# the unpromoted node leaves: the promoted one writes without it
	pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n standby -v on -l forever
	for i in $(seq 1 60); do [ "$(role_of "$s")" = down ] && break; sleep 0.5; done
	sleep 4
	if [ "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" = 1 ]; then
		pass "$name: $s stopped while $p writes: marked outdated in the CIB"
	else
		fail "$name: $s not marked outdated"; pcmk_dump
	fi
	io_wait "$name" || return 1
	# it comes back without the replication link: stale but "UpToDate" locally
	tb cut repl >/dev/null
	pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n standby -v off -l forever
	for i in $(seq 1 60); do
		[ "$(role_of "$s")" = secondary ] && [[ "$(pcmk "$p" crm_mon -1 2>/dev/null)" == *"Unpromoted: [ ${PCMK_UNAME[$s]} ]"* ]] && break
		sleep 0.5
	done
	sleep 4
	log "$name: $s back, link cut: $(nodes_state)"
	t0=$SECONDS
	tb crash "$p" >/dev/null 2>&1
	mon_start "$name"
	# 20 s: pacemaker sees the node gone after ~3 s; B must stay unpromoted
	for i in $(seq 1 40); do
		pr=$(pcmk_promoted_from "$s")
		if [[ "$pr" == *$s* ]] || [ "$(role_of "$s")" = primary ]; then bad=1; break; fi
		sleep 0.5
	done
	mon_stop
	if [ "$bad" = 0 ]; then
		pass "$name: $p crashed, the outdated $s was NOT promoted (20 s)"
	else
		fail "$name: the OUTDATED node $s was promoted (pacemaker: '$pr', role $(role_of "$s"))"; pcmk_dump
	fi
	# the good node returns: it resyncs the stale one and serves again
	tb heal >/dev/null
	pcmk_node_return "$p"
	# either node may be promoted now: the stale one only after it resynced from $p
	if pcmk_wait_promoted 90 && wait_serving 30; then
		pass "$name: $p back, $(pcmk_promoted) promoted and serving after $((SECONDS - t0)) s"
	else
		fail "$name: $p not promoted after its return"; pcmk_dump
	fi
	io_verify "$name"
	if wait_in_sync 90; then pass "$name: $s resynced from $p"; else fail "$name: not in sync"; fi
	for i in $(seq 1 20); do
		[ -z "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" ] && break
		sleep 0.5
	done
	[ -z "$(pcmk "$p" crm_attribute -N "${PCMK_UNAME[$s]}" -n tandem-outdated-tandem -l forever -G -q 2>/dev/null)" ] \
		&& pass "$name: $s's outdated mark cleared once in sync" || fail "$name: $s's outdated mark still set after the resync"
}

run_pm() { # NAME FUNC
	local name=$1 fn=$2 t0=$SECONDS rc=0
	[ -z "${ONLY_SCN:-}" ] || [[ "$name" == *$ONLY_SCN* ]] || return 0
	log "==== scenario: $name"
	if ! pcmk_wait_promoted 30 || ! wait_serving 20; then
		fail "$name: no promoted instance serving before the scenario"; pcmk_dump
		return 0
	fi
	"$fn" || rc=$?
	[ "$rc" -eq 0 ] || fail "$name: scenario aborted; $(nodes_state)"
	[ -z "$MON_PID" ] || mon_stop
	local k
	for k in "${!IO_PID[@]}"; do
		if kill -0 "${IO_PID[$k]}" 2>/dev/null; then kill -TERM "${IO_PID[$k]}" 2>/dev/null || true; wait "${IO_PID[$k]}" 2>/dev/null || true; fi
		untrack_pid "${IO_PID[$k]}"; unset "IO_PID[$k]"
	done
	log "==== $name took $((SECONDS - t0)) s"
}

rc=0
pm_setup || rc=$?
if [ "$rc" -eq 3 ]; then skip_all "this build has no cluster manager and replication yet"; fi
if [ "$rc" -ne 0 ]; then fail "pacemaker setup failed"; pcmk_dump; finish; exit 1; fi
run_pm move scn_move
run_pm kill scn_kill
run_pm crash scn_crash
run_pm lose-peer scn_lose_peer
run_pm stopped-peer scn_stopped_peer
run_pm outdated scn_outdated
figures_publish
finish
