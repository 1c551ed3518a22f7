#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The pacemaker OCF agent resource-agents/tandem outside a cluster, against a
# real tandemd with replication configured:
#   - ocf-tester (package resource-agents) passes on it (peer absent: promote
#     works through --force because the disk is UpToDate);
#   - the states it reports: 7 stopped, 0 unpromoted, 8 promoted, with the
#     replication role and the ALUA group following promote / demote;
#   - promotion scores from the disk state, seen through stub crm_master /
#     crm_attribute / crm_node (HA_SBIN_DIR): low when the peer is unknown,
#     high when connected to an UpToDate peer, none (-D) for an Inconsistent
#     resync target and for a node marked outdated (which is never promoted);
#     a Primary that lost its peer marks the peer outdated;
#   - a replicated LUN that is configured but not open (no metadata) leaves
#     the score alone (status --json "open": false);
#   - stop signals only tandemd: a PID file naming a live sleep started after
#     the file was written is neither "running" nor signalled; a hung tandemd
#     started from another binary path is still stopped; a hung tandemd whose PID file is gone is
#     still stopped; term_timeout=08 / start_timeout=09 are base 10;
#   - one deadline per action: a Primary's monitor returns within its 20 s
#     while every read and write of the (stub) CIB blocks (FIFOs); a score
#     removal cut short is a warning; with manage_ip a stop fails while the
#     floating IP stays configured, and removes it after a SIGKILL;
#   - bad parameters: OCF_ERR_CONFIGURED (6) / OCF_ERR_ARGS (2) /
#     OCF_ERR_INSTALLED (5) with a clear ocf-exit-reason; unknown action 3;
#     peer_node (the peer's pacemaker node name) does not fail validate-all
#     outside a cluster (it is checked against pacemaker's nodes only under
#     pacemaker: tests/cluster/test_pacemaker.sh);
#   - the build's install target puts the agent under /usr/lib/ocf/resource.d/tandem.
# Everything runs in a private network namespace (tandemctl's IPC is per
# network namespace): two tandemd instances ("alpha", "beta") on 127.0.0.1.
#
#   bash tests/integration/test_ocf.sh [BUILD_DIR]
source "$(dirname "$0")/lib.sh"
require_tandemd
AGENT_SRC=$REPO_ROOT/resource-agents/tandem
[ -f "$AGENT_SRC" ] || { echo "[$T_NAME] no $AGENT_SRC" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespace, ocf-tester's permission check)"

# ocf-tester and the cluster CLI: install when missing (idempotent)
if ! command -v ocf-tester >/dev/null 2>&1 || [ ! -r /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs ]; then
	log "installing resource-agents pacemaker-cli-utils"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends resource-agents pacemaker-cli-utils \
		>"$T_TMP/apt.log" 2>&1 || true
fi
command -v ocf-tester >/dev/null 2>&1 || skip_all "ocf-tester (package resource-agents) is not installable here"
command -v xmllint >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null 2>&1 || true

NS=tdmocf-$$
ip netns add "$NS"
ip -n "$NS" link set lo up
# tandemds this test SIGSTOPs: resumed and killed by PID on exit, while the PID
# is still a tandemd of this build (never by name)
HUNG_PIDS=()
# sleeps this test starts as a PID file's stranger: killed by PID on exit,
# while the PID is still a sleep
SLEEP_PIDS=()
SLEEP_EXE=$(readlink -f "$(command -v sleep)")
# proc_state PID: the process's state letter (/proc/PID/stat), empty when it
# is gone; is_gone STATE: gone, or a zombie nobody reaped yet
proc_state() { { [ -n "$1" ] && sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; } || true; }
is_gone() { [ -z "$1" ] || [ "$1" = Z ]; }
_ocf_cleanup() {
	local p
	for p in "${HUNG_PIDS[@]+"${HUNG_PIDS[@]}"}"; do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$TANDEMD")" ] || continue
		kill -CONT "$p" 2>/dev/null || true
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${SLEEP_PIDS[@]+"${SLEEP_PIDS[@]}"}"; do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$SLEEP_EXE" ] && kill -KILL "$p" 2>/dev/null || true
	done
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
}
trap '_ocf_cleanup; _t_cleanup' EXIT

# the agent must be readable and executable by "nobody" (ocf-tester checks it)
chmod 755 "$T_TMP"
AGENT=$T_TMP/ra/tandem
install -D -m 755 "$AGENT_SRC" "$AGENT"
chmod 755 "$T_TMP/ra"

IQN=iqn.2026-11.org.tandem:ocf
SECRET=ocf-test-replication-secret
declare -A PORT RPORT CTLS
PORT[alpha]=$(free_port); PORT[beta]=$(free_port)
RPORT[alpha]=$(free_port); RPORT[beta]=$(free_port)
CTLS[alpha]=$(unique_ctl); CTLS[beta]=$(unique_ctl)

# node_conf NAME PEER [extra replication lines] [manager]
node_conf() {
	local me=$1 peer=$2 extra=${3:-} mgr=${4:-pacemaker} d=$T_TMP/$1
	mkdir -p "$d/state"
	cat >"$d/tandem.conf" <<EOF
global {
    log_level: info
    threads: 2
    ctl_socket: ${CTLS[$me]}
    state_dir: $d/state
}
alua_group float {
    id: 1
    state: standby
}
portal_group float {
    tag: 1
    listen: 127.0.0.1:${PORT[$me]}
    alua_group: float
}
cluster {
    manager: $mgr
    node: $me
    peer: $peer
    alua_group: float
    fencing: none
}
replication {
    node: $me
    listen: 127.0.0.1:${RPORT[$me]}
    peer: 127.0.0.1:${RPORT[$peer]}
    peer_name: $peer
    secret: "$SECRET"
$extra
}
target $IQN {
    portal_group: float
    lun 0 {
        backend: fileio
        path: $d/lun0.img
        size: 64M
        create: yes
        replicated: yes
        serial: ocf-lun0
        naa: 6001405000000000000000000000c0f0
    }
}
EOF
}
node_conf alpha beta
node_conf beta alpha "    resync_rate: 1M"
if ! "$TANDEMD" --check -c "$T_TMP/alpha/tandem.conf" >"$T_TMP/check.out" 2>&1; then
	if grep -qE "unknown section '(cluster|replication)'" "$T_TMP/check.out"; then
		skip_all "this tandemd has no replication / cluster manager yet: $(tail -n 1 "$T_TMP/check.out")"
	fi
	cat "$T_TMP/check.out"; fail "test config rejected"; finish; exit 1
fi
in_ns() { ip netns exec "$NS" "$@"; }
# alpha: UpToDate (--new-device); beta: Inconsistent (a resync target once connected)
check "create-md alpha (UpToDate)" in_ns "$TANDEMCTL" create-md "$IQN/0" --new-device -c "$T_TMP/alpha/tandem.conf"
check "create-md beta (Inconsistent)" in_ns "$TANDEMCTL" create-md "$IQN/0" -c "$T_TMP/beta/tandem.conf"

# ---- stub cluster tools: scores and node attributes land in files
SB=$T_TMP/sbin
mkdir -p "$SB" "$T_TMP/attrs"
cat >"$SB/crm_master" <<EOF
#!/bin/bash
# stub: crm_master [-l reboot] (-v N | -D) [-q]; score of the resource in \$OCF_RESKEY_CRM_meta_on_node
f=$T_TMP/attrs/score.\${OCF_RESKEY_CRM_meta_on_node:-x}
while [ \$# -gt 0 ]; do
	case \$1 in -v) echo "\$2" >"\$f"; shift 2 ;; -D) echo deleted >"\$f"; shift ;; -G) cat "\$f" 2>/dev/null; shift ;; *) shift ;; esac
done
exit 0
EOF
cat >"$SB/crm_attribute" <<EOF
#!/bin/bash
# stub: crm_attribute [-p] -N NODE -n NAME [-l L] (-v V | -D | -G [-q] [-d DEF])
node=\${OCF_RESKEY_CRM_meta_on_node:-x} name= val= op= def=
while [ \$# -gt 0 ]; do
	case \$1 in
	-p|--promotion) exec "$SB/crm_master" "\${@:2}" ;;
	-N) node=\$2; shift 2 ;; -n) name=\$2; shift 2 ;; -l) shift 2 ;; -d) def=\$2; shift 2 ;;
	-v) op=set; val=\$2; shift 2 ;; -D) op=del; shift ;; -G) op=get; shift ;; *) shift ;;
	esac
done
f=$T_TMP/attrs/\$node.\$name
case \$op in
set) echo "\$val" >"\$f" ;;
del) rm -f "\$f" ;;
get) [ ! -e $T_TMP/attrs/CIB_DOWN ] || { echo "Could not connect to the CIB: Connection timed out" >&2; exit 102; }
     if [ -f "\$f" ]; then cat "\$f"; elif [ -n "\$def" ]; then echo "\$def"; else exit 6; fi ;;
esac
EOF
printf '#!/bin/sh\necho "${OCF_RESKEY_CRM_meta_on_node:-x}"\n' >"$SB/crm_node"
chmod 755 "$SB"/*

# ra NODE ACTION [VAR=VALUE...]: run the agent for NODE's instance; prints
# stdout+stderr to $T_TMP/ra.out, returns the agent's exit status.
ra() {
	local node=$1 action=$2; shift 2
	in_ns env -i PATH="$SB:/usr/sbin:/usr/bin:/sbin:/bin" HA_SBIN_DIR="$SB" OCF_ROOT=/usr/lib/ocf \
		OCF_RESOURCE_INSTANCE=tandem OCF_RESKEY_CRM_meta_on_node="$node" \
		OCF_RESKEY_CRM_meta_timeout=30000 OCF_RESKEY_CRM_meta_interval=10000 \
		OCF_RESKEY_config="$T_TMP/$node/tandem.conf" OCF_RESKEY_tandemd="$TANDEMD" \
		OCF_RESKEY_tandemctl="$TANDEMCTL" OCF_RESKEY_pidfile="$T_TMP/$node/tandemd.pid" \
		OCF_RESKEY_daemon_log="$T_TMP/$node/tandemd.log" OCF_RESKEY_wait_connect=3 \
		"$@" "$AGENT" "$action" >"$T_TMP/ra.out" 2>&1
}
# ra_rc "what" WANT NODE ACTION [VAR=VALUE...]
ra_rc() {
	local what=$1 want=$2 rc=0; shift 2
	ra "$@" || rc=$?
	if [ "$rc" -eq "$want" ]; then
		pass "$what (rc $rc)"
	else
		fail "$what: rc $rc, wanted $want"
		sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10
	fi
}
# ra_reason "what" WANT_RC PATTERN NODE ACTION [VAR=VALUE...]: rc and exit reason
ra_reason() {
	local what=$1 want=$2 pat=$3 rc=0; shift 3
	ra "$@" || rc=$?
	if [ "$rc" -eq "$want" ] && grep -q "ocf-exit-reason:.*$pat" "$T_TMP/ra.out"; then
		pass "$what (rc $rc: $(grep -m1 -o 'ocf-exit-reason:.*' "$T_TMP/ra.out" | cut -c17-))"
	else
		fail "$what: rc $rc (wanted $want), reason /$pat/ not found"
		sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10
	fi
}
score() { cat "$T_TMP/attrs/score.$1" 2>/dev/null || echo none; }
jfield() { # NODE python-expression on the status dict d
	in_ns "$TANDEMCTL" -s "${CTLS[$1]}" --json status 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)" 2>/dev/null
}
wait_field() { # NODE EXPR VALUE SECS (VALUE: a|b matches either)
	local i
	for i in $(seq 1 $(($4 * 5))); do
		[[ "|$3|" == *"|$(jfield "$1" "$2")|"* ]] && return 0
		sleep 0.2
	done
	return 1
}
ROLE='d["replication"]["role"]'
ALUA='d["alua_groups"][0]["state"]'
CONN='d["replication"]["luns"][0]["connection"]'

# ---------------------------------------------------------------- meta-data
if "$AGENT" meta-data >"$T_TMP/md.xml" 2>&1 && (cd /usr/share/resource-agents && xmllint --noout --valid - <"$T_TMP/md.xml") 2>"$T_TMP/xml.err"; then
	pass "meta-data is valid against ra-api-1.dtd"
else
	fail "meta-data invalid: $(head -n 3 "$T_TMP/xml.err")"
fi
miss=""
for p in config tandemd tandemctl ctl_socket lun pidfile daemon_log manage_ip floating_ip interface \
	arp_count alua_group promotion_scores promote_disconnected outdate_peer peer_node wait_connect start_timeout term_timeout; do
	python3 - "$T_TMP/md.xml" "$p" <<'EOF' || miss="$miss $p"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
p = [x for x in r.iter("parameter") if x.get("name") == sys.argv[2]]
assert p and p[0].find("longdesc").text.strip() and p[0].find("shortdesc").text.strip() and p[0].find("content") is not None
EOF
done
[ -z "$miss" ] && pass "meta-data documents every parameter (long and short description, content)" || fail "meta-data lacks:$miss"
if grep -q '<version>1.1</version>' "$T_TMP/md.xml" && grep -q 'role="Promoted"' "$T_TMP/md.xml" && grep -q 'role="Unpromoted"' "$T_TMP/md.xml"; then
	pass "meta-data: OCF 1.1, monitors for the Promoted and Unpromoted roles"
else
	fail "meta-data: not OCF 1.1 style (version / roles)"
fi

# ---------------------------------------------------------------- ocf-tester
# (real cluster tools absent from the environment: crm_master fails, the agent must not)
OT=(ocf-tester -n tandem -o config="$T_TMP/alpha/tandem.conf" -o tandemd="$TANDEMD" -o tandemctl="$TANDEMCTL"
	-o pidfile="$T_TMP/alpha/tandemd.pid" -o daemon_log="$T_TMP/alpha/tandemd.log" -o wait_connect=1 "$AGENT")
if in_ns "${OT[@]}" >"$T_TMP/ocf-tester.out" 2>&1; then
	pass "ocf-tester: $(tail -n 1 "$T_TMP/ocf-tester.out")"
else
	fail "ocf-tester failed"
	sed -e 's/^/    | /' "$T_TMP/ocf-tester.out" | tail -n 30
	in_ns "${OT[@]/#-n/-v -n}" 2>&1 | tail -n 40 | sed -e 's/^/    v| /' || true
fi
in_ns "$TANDEMCTL" -s "${CTLS[alpha]}" status >/dev/null 2>&1 && fail "tandemd still running after ocf-tester" || pass "ocf-tester left no tandemd running"

# ---------------------------------------------------------------- states, roles, ALUA
ra_rc "monitor of a stopped instance: OCF_NOT_RUNNING" 7 alpha monitor
ra_rc "probe of a stopped instance: OCF_NOT_RUNNING" 7 alpha monitor OCF_RESKEY_CRM_meta_interval=0
ra_rc "start" 0 alpha start
ra_rc "monitor after start: unpromoted (0)" 0 alpha monitor
# a typo saved in the running node's configuration (say, preparing a reload):
# the recurring monitor still reports the running instance; before, it
# returned OCF_ERR_CONFIGURED, which stops the resource on every node
cp "$T_TMP/alpha/tandem.conf" "$T_TMP/alpha/tandem.conf.good"
sed -i '0,/^global {/s//global {\n    bogus_typo_key: 1/' "$T_TMP/alpha/tandem.conf"
grep -q bogus_typo_key "$T_TMP/alpha/tandem.conf" || fail "the typo did not land in the config"
ra_rc "monitor with a typo in the config file: still unpromoted (0)" 0 alpha monitor
ra_reason "validate-all names the typo: OCF_ERR_ARGS" 2 "tandemd rejects" alpha validate-all
cp "$T_TMP/alpha/tandem.conf.good" "$T_TMP/alpha/tandem.conf"
[ "$(jfield alpha "$ROLE") $(jfield alpha "$ALUA")" = "secondary standby" ] && pass "started as secondary, ALUA standby" \
	|| fail "after start: $(jfield alpha "$ROLE") $(jfield alpha "$ALUA")"
[ "$(score alpha)" = 1000 ] && pass "score alone (peer unknown, UpToDate): 1000" || fail "score alone: $(score alpha), wanted 1000"
# a replicated LUN in the file that does not open (no metadata yet): it holds none
# of this node's data, so it must not turn the node's score into "Diskless"
cp "$T_TMP/alpha/tandem.conf" "$T_TMP/alpha/tandem.conf.orig"
conf_add_lun "$T_TMP/alpha/tandem.conf" <<EOF
    lun 1 {
        backend: fileio
        path: $T_TMP/alpha/lun1.img
        size: 64M
        create: yes
        replicated: yes
        serial: ocf-lun1
        naa: 6001405000000000000000000000c0f1
    }
EOF
ra_rc "reload with a replicated LUN 1 that has no metadata" 0 alpha reload
[ "$(jfield alpha "[l['open'] for l in d['replication']['luns']]")" = "[True, False]" ] \
	&& pass "status: LUN 0 open, LUN 1 not open" || fail "open flags: $(jfield alpha "[l.get('open') for l in d['replication']['luns']]")"
ra_rc "monitor with LUN 1 not open: unpromoted (0)" 0 alpha monitor
[ "$(score alpha)" = 1000 ] && pass "score unchanged by the LUN that is not open: 1000" \
	|| fail "score with LUN 1 not open: $(score alpha), wanted 1000"
cp "$T_TMP/alpha/tandem.conf.orig" "$T_TMP/alpha/tandem.conf"
ra_rc "reload without LUN 1" 0 alpha reload
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem"
ra_rc "promote without the peer (UpToDate: --force)" 0 alpha promote
# no outdate_peer_command here: tandemd writes on alone at once, so the
# promotion itself marks the peer (before any monitor)
[ "$(jfield alpha 'd["cluster"]["peer_loss_freezes_writes"]')" = False ] \
	&& [ "$(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null)" = 1 ] \
	&& pass "no guard in tandemd (peer_loss_freezes_writes false): the promotion marks beta outdated itself" \
	|| fail "promote without the guard: status $(jfield alpha 'd["cluster"].get("peer_loss_freezes_writes")'), mark $(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null || echo absent)"
ra_rc "monitor: promoted (8)" 8 alpha monitor
# a hung tandemd (SIGSTOP): the monitor reports it (OCF_FAILED_PROMOTED) within
# the action's timeout (20 s here, like the clone's), instead of being killed
# by pacemaker for the timeout (tandemctl alone waits 30 s for an answer)
hung=$(cat "$T_TMP/alpha/tandemd.pid")
HUNG_PIDS+=("$hung")
kill -STOP "$hung"
ra_reason "monitor of a hung promoted tandemd, within a 20 s action timeout" 9 "does not answer" alpha monitor timeout 20
kill -CONT "$hung"
[ "$(jfield alpha "$ROLE") $(jfield alpha "$ALUA")" = "primary active-optimized" ] && pass "promoted: replication primary, ALUA active-optimized" \
	|| fail "after promote: $(jfield alpha "$ROLE") $(jfield alpha "$ALUA")"
[ "$(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null)" = 1 ] && pass "a Primary without its peer marks the peer (beta) outdated" \
	|| fail "peer not marked outdated: $(ls "$T_TMP/attrs")"
[ "$(score alpha)" = 10000 ] && pass "score as Primary: 10000" || fail "score as Primary: $(score alpha)"
ra_rc "promote of a promoted instance" 0 alpha promote
ra_rc "demote" 0 alpha demote
ra_rc "monitor after demote: unpromoted (0)" 0 alpha monitor
[ "$(jfield alpha "$ROLE") $(jfield alpha "$ALUA")" = "secondary standby" ] && pass "demoted: secondary, ALUA standby" \
	|| fail "after demote: $(jfield alpha "$ROLE") $(jfield alpha "$ALUA")"
ra_rc "demote of a demoted instance" 0 alpha demote
ra_rc "reload" 0 alpha reload
ra_rc "notify (post-promote)" 0 alpha notify OCF_RESKEY_CRM_meta_notify_type=post OCF_RESKEY_CRM_meta_notify_operation=promote
# a notification other than post-stop returns before the OCF shell library is
# read (each round holds up pacemaker's transition): with none to read, still 0
ra_rc "notify (pre-promote) without the OCF shell library: 0 at once" 0 alpha notify OCF_ROOT=/nonexistent \
	OCF_RESKEY_CRM_meta_notify_type=pre OCF_RESKEY_CRM_meta_notify_operation=promote

# ---------------------------------------------------------------- the peer: scores from disk states
# beta alone: Inconsistent (never held data), the peer unknown
ra_rc "stop alpha" 0 alpha stop
ra_rc "start beta (Inconsistent, peer absent)" 0 beta start OCF_RESKEY_wait_connect=0
ra_rc "monitor beta: unpromoted" 0 beta monitor
[ "$(jfield beta 'd["replication"]["luns"][0]["disk"]')" = Inconsistent ] && pass "beta is Inconsistent" \
	|| fail "beta is $(jfield beta 'd["replication"]["luns"][0]["disk"]')"
[ "$(score beta)" = deleted ] && pass "Inconsistent: no promotion score (-D)" || fail "Inconsistent score: $(score beta)"
ra_reason "promote of Inconsistent data is refused (even with promote_disconnected)" 1 "refusing to promote.*Inconsistent" beta promote
[ "$(jfield beta "$ROLE")" = secondary ] && pass "beta stayed secondary" || fail "beta became $(jfield beta "$ROLE")"
ra_rc "start alpha again" 0 alpha start
# SyncTarget or already Connected (a short resync can pass between two samples:
# waiting for SyncTarget alone then waited out its whole bound)
if wait_field beta "$CONN" 'SyncTarget|Connected' 20; then
	log "beta connected: $(jfield beta "$CONN"), disk $(jfield beta 'd["replication"]["luns"][0]["disk"]')"
else
	fail "beta did not connect to alpha: $(jfield beta "$CONN")"
fi
if [ "$(jfield beta "$CONN")" = SyncTarget ]; then
	ra_rc "monitor beta (resync target)" 0 beta monitor
	# the score is what the monitor saw: only judge it if beta was still a
	# SyncTarget after the monitor (the resync may end in between)
	if [ "$(jfield beta "$CONN")" = SyncTarget ]; then
		[ "$(score beta)" = deleted ] && pass "resync target: no promotion score (-D)" || fail "resync target score: $(score beta)"
	else
		log "resync finished during the monitor ($(jfield beta "$CONN")): score $(score beta) not judged"
	fi
fi
# let the resync run to the end, fast
in_ns "$TANDEMCTL" -s "${CTLS[beta]}" disconnect >/dev/null 2>&1 || true
sed -i 's/resync_rate: 1M/resync_rate: 500M/' "$T_TMP/beta/tandem.conf"
in_ns "$TANDEMCTL" -s "${CTLS[beta]}" reload >/dev/null 2>&1 || true
in_ns "$TANDEMCTL" -s "${CTLS[beta]}" connect >/dev/null 2>&1 || true
if wait_field beta 'd["replication"]["luns"][0]["connection"] + " " + d["replication"]["luns"][0]["disk"] + " " + d["replication"]["luns"][0]["peer_disk"]' \
	"Connected UpToDate UpToDate" 90; then
	pass "beta resynced: Connected, UpToDate"
else
	fail "beta not in sync: $(jfield beta "$CONN") $(jfield beta 'd["replication"]["luns"][0]["disk"]')"
fi
ra_rc "monitor alpha (connected)" 0 alpha monitor
ra_rc "monitor beta (connected)" 0 beta monitor
[ "$(score alpha)" = 10000 ] && pass "connected to an UpToDate peer: score 10000" || fail "connected score: $(score alpha)"
[ ! -e "$T_TMP/attrs/beta.tandem-outdated-tandem" ] && pass "beta's outdated mark cleared once it is in sync" \
	|| fail "beta still marked outdated"
ra_rc "promote alpha (connected: no --force needed)" 0 alpha promote
ra_rc "promote beta while alpha is Primary: refused" 1 beta promote OCF_RESKEY_CRM_meta_timeout=8000
ra_rc "demote alpha" 0 alpha demote
ra_rc "promote beta (planned swap)" 0 beta promote
[ "$(jfield beta "$ROLE") $(jfield alpha "$ROLE")" = "primary secondary" ] && pass "swap: beta primary, alpha secondary" \
	|| fail "swap: beta $(jfield beta "$ROLE") alpha $(jfield alpha "$ROLE")"
ra_rc "demote beta" 0 beta demote
# a node marked outdated (by a primary that wrote without it) is never promoted
ra_rc "stop beta" 0 beta stop
ra_rc "promote alpha alone" 0 alpha promote
# start finding tandemd already Primary (started outside pacemaker): it comes
# up Secondary, as pacemaker records it (before: left Primary, reported started)
ra_rc "start of a tandemd that is already Primary" 0 alpha start
[ "$(jfield alpha "$ROLE")" = secondary ] && pass "start demoted the running Primary" || fail "after start alpha is $(jfield alpha "$ROLE")"
ra_rc "demote alpha" 0 alpha demote
echo 1 >"$T_TMP/attrs/alpha.tandem-outdated-tandem"
ra_rc "monitor of a node marked outdated" 0 alpha monitor
[ "$(score alpha)" = deleted ] && pass "marked outdated: no promotion score (-D)" || fail "marked outdated score: $(score alpha)"
ra_reason "promote of a node marked outdated is refused" 1 "marked outdated" alpha promote
[ "$(jfield alpha "$ROLE")" = secondary ] && pass "outdated alpha stayed secondary" || fail "alpha became $(jfield alpha "$ROLE")"
rm -f "$T_TMP/attrs/alpha.tandem-outdated-tandem"
# the CIB does not answer the query of the mark (busy, timing out): not knowing
# is not "not marked" (before, a node whose mark could not be read was promoted)
touch "$T_TMP/attrs/CIB_DOWN"
ra_rc "monitor while the CIB does not answer" 0 alpha monitor
[ "$(score alpha)" = deleted ] && pass "mark unreadable: no promotion score (-D)" || fail "mark unreadable, score: $(score alpha)"
ra_reason "promote while the mark cannot be read is refused" 1 "marked outdated" alpha promote
[ "$(jfield alpha "$ROLE")" = secondary ] && pass "alpha stayed secondary" || fail "alpha became $(jfield alpha "$ROLE")"
rm -f "$T_TMP/attrs/CIB_DOWN"
# the post-stop notification: a Secondary does nothing (it would hold up its
# own promotion when the stopped instance was the Primary); a Primary marks
# the stopped peer
echo sentinel >"$T_TMP/attrs/score.alpha"
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem"
ra_rc "post-stop notify for the peer on a Secondary" 0 alpha notify \
	OCF_RESKEY_CRM_meta_notify_type=post OCF_RESKEY_CRM_meta_notify_operation=stop OCF_RESKEY_CRM_meta_notify_stop_uname=beta
[ "$(score alpha)" = sentinel ] && [ ! -e "$T_TMP/attrs/beta.tandem-outdated-tandem" ] \
	&& pass "post-stop notify on a Secondary: no CIB call (score and marks untouched)" \
	|| fail "post-stop notify on a Secondary: score $(score alpha), marks: $(ls "$T_TMP/attrs")"
ra_rc "promote alpha alone (for the post-stop notify on a Primary)" 0 alpha promote
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem"
ra_rc "post-stop notify for the peer on a Primary" 0 alpha notify \
	OCF_RESKEY_CRM_meta_notify_type=post OCF_RESKEY_CRM_meta_notify_operation=stop OCF_RESKEY_CRM_meta_notify_stop_uname=beta
[ "$(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null)" = 1 ] && pass "post-stop notify on a Primary marks the stopped peer outdated" \
	|| fail "post-stop notify on a Primary: beta not marked ($(ls "$T_TMP/attrs"))"
ra_rc "demote alpha (after the notifications)" 0 alpha demote

# ---------------------------------------------------------------- manage_ip
# an interface for the floating IP: a dummy, else (a kernel without the dummy
# module) one end of a veth pair, both ends in the namespace
in_ns ip link add ocfdummy0 type dummy 2>/dev/null && in_ns ip link set ocfdummy0 up \
	|| { in_ns ip link add ocfdummy0 type veth peer name ocfdummy0p 2>/dev/null \
		&& in_ns ip link set ocfdummy0p up && in_ns ip link set ocfdummy0 up; } || true
if in_ns ip link show ocfdummy0 >/dev/null 2>&1; then
	ra_rc "promote with manage_ip" 0 alpha promote OCF_RESKEY_manage_ip=true OCF_RESKEY_floating_ip=192.0.2.100/24 OCF_RESKEY_interface=ocfdummy0 OCF_RESKEY_arp_count=1
	in_ns ip -4 -o addr show dev ocfdummy0 | grep -q ' 192.0.2.100/24' && pass "manage_ip: the floating IP is up after promote" || fail "manage_ip: no IP after promote"
	ra_rc "demote with manage_ip" 0 alpha demote OCF_RESKEY_manage_ip=true OCF_RESKEY_floating_ip=192.0.2.100/24 OCF_RESKEY_interface=ocfdummy0
	in_ns ip -4 -o addr show dev ocfdummy0 | grep -q ' 192.0.2.100/24' && fail "manage_ip: IP still there after demote" || pass "manage_ip: the floating IP is gone after demote"
else
	log "no dummy or veth interface support: manage_ip not exercised"
fi

# ---------------------------------------------------------------- stop of a hung Primary, within the stop timeout
# tandemd SIGSTOPped while Primary answers no IPC and keeps SIGTERM pending:
# stop must still end inside the operation's timeout (20 s), with the process
# gone, even though term_timeout (60 s) is longer. An overrun is a failed stop,
# and pacemaker fences the node for it (before: a 10 s status query, 15 s of
# SIGTERM wait, then SIGKILL: 25 s).
# With manage_ip (a dummy interface): the cleanup after the SIGKILL still
# removes the floating IP, within the same timeout.
MIP=()
if in_ns ip link show ocfdummy0 >/dev/null 2>&1; then
	MIP=(OCF_RESKEY_manage_ip=true OCF_RESKEY_floating_ip=192.0.2.100/24 OCF_RESKEY_interface=ocfdummy0 OCF_RESKEY_arp_count=1)
fi
ra_rc "promote alpha (for the stop of a hung Primary)" 0 alpha promote "${MIP[@]}"
hung=$(cat "$T_TMP/alpha/tandemd.pid")
HUNG_PIDS+=("$hung")
kill -STOP "$hung"
t0=$(date +%s%N)
rc=0
ra alpha stop OCF_RESKEY_CRM_meta_timeout=20000 OCF_RESKEY_term_timeout=60 "${MIP[@]}" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ]; then
	pass "stop of a SIGSTOPped Primary succeeds (rc 0)"
else
	fail "stop of a SIGSTOPped Primary: rc $rc, wanted 0"
	sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10
fi
[ "$ms" -lt 20000 ] && pass "stop of a SIGSTOPped Primary returned after ${ms} ms, within its 20 s timeout (term_timeout 60 s)" \
	|| fail "stop of a SIGSTOPped Primary took ${ms} ms: past its 20 s timeout"
st=$(proc_state "$hung")
is_gone "$st" && pass "the hung tandemd (pid $hung) is gone after stop" \
	|| fail "the hung tandemd (pid $hung, state $st) is still there after stop"
ra_rc "monitor after the stop of a hung Primary" 7 alpha monitor
if [ ${#MIP[@]} -gt 0 ]; then
	in_ns ip -4 -o addr show dev ocfdummy0 | grep -q ' 192.0.2.100/' && fail "manage_ip: the floating IP is still up after the stop of a hung Primary" \
		|| pass "manage_ip: the floating IP is gone after the stop of a hung Primary (SIGKILL, then the cleanup)"
fi
# an answering Primary under the same 20 s timeout: still demoted (drained)
# before the signals, within its share of the deadline
ra_rc "start alpha (after the SIGKILL)" 0 alpha start OCF_RESKEY_wait_connect=0
ra_rc "promote alpha" 0 alpha promote
ra_rc "stop alpha (Primary, 20 s timeout)" 0 alpha stop OCF_RESKEY_CRM_meta_timeout=20000
grep -q "demoted (Secondary)" "$T_TMP/ra.out" && pass "stop demoted the Primary before SIGTERM" \
	|| { fail "stop did not demote the Primary first"; sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10; }
ra_rc "stop of a stopped instance" 0 alpha stop
ra_rc "monitor after stop" 7 alpha monitor

# ---------------------------------------------------------------- what stop signals, and when
# a hung tandemd whose PID file is gone: the status query is cut short (not
# known), which is not "stopped": stop finds the tandemd of this
# configuration and kills it (before: monitor 7, stop 0 without a signal, the
# hung tandemd left running beside a peer pacemaker then promotes)
ra_rc "start alpha (for a hung tandemd without its PID file)" 0 alpha start OCF_RESKEY_wait_connect=0
hung=$(cat "$T_TMP/alpha/tandemd.pid")
HUNG_PIDS+=("$hung")
kill -STOP "$hung"
rm -f "$T_TMP/alpha/tandemd.pid"
ra_reason "monitor of a hung tandemd without its PID file: failed, not stopped" 1 "does not answer" alpha monitor OCF_RESKEY_CRM_meta_timeout=20000
t0=$(date +%s%N)
rc=0
ra alpha stop OCF_RESKEY_CRM_meta_timeout=20000 || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
st=$(proc_state "$hung")
if [ "$rc" -eq 0 ] && is_gone "$st" && [ "$ms" -lt 20000 ]; then
	pass "stop of a hung tandemd without its PID file: rc 0 after ${ms} ms, the tandemd (pid $hung) is gone"
else
	fail "stop of a hung tandemd without its PID file: rc $rc after ${ms} ms, tandemd (pid $hung) state '${st}'"
	sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10
	# still there: ended here (by PID, while it is this tandemd) so that
	# the cases below do not inherit it
	if [ "$(readlink "/proc/$hung/exe" 2>/dev/null)" = "$(readlink -f "$TANDEMD")" ]; then
		kill -CONT "$hung" 2>/dev/null || true; kill -KILL "$hung" 2>/dev/null || true
	fi
	sleep 0.5
fi
# a hung tandemd that the agent did not start (by hand, another tool), no PID
# file, its configuration named in another getopt form: stop still finds it
# by that configuration and kills it. Before, only "-c FILE", "--config FILE"
# and "--config=FILE" matched: a bundled "-fc FILE", "-fcFILE", a unique
# abbreviation or a path relative to its working directory left it running
# after a stop that answered 0.
hand_started_stop() { # WHAT DIR ARG...
	local what=$1 dir=$2 pid="" st i; shift 2
	rm -f "$T_TMP/alpha/tandemd.pid"
	in_ns sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$TANDEMD" "$@" >"$T_TMP/alpha/hand.log" 2>&1 &
	for i in $(seq 1 50); do
		pid=$(jfield alpha "d['daemon']['pid']" || true)
		[ -n "$pid" ] && break
		sleep 0.2
	done
	if [ -z "$pid" ] || [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$TANDEMD")" ]; then
		fail "$what: the tandemd started by hand does not answer"
		sed -e 's/^/    | /' "$T_TMP/alpha/hand.log" | tail -n 5
		return
	fi
	HUNG_PIDS+=("$pid")
	kill -STOP "$pid"
	ra_rc "stop of a hung tandemd started by hand with $what" 0 alpha stop OCF_RESKEY_CRM_meta_timeout=20000
	st=$(proc_state "$pid")
	is_gone "$st" && pass "that tandemd (pid $pid, $what) is gone after stop" \
		|| { fail "that tandemd (pid $pid, $what, state $st) still runs after a stop"; kill -CONT "$pid"; kill -KILL "$pid"; }
	wait 2>/dev/null || true
}
hand_started_stop "-fc CONFIG" / -fc "$T_TMP/alpha/tandem.conf"
hand_started_stop "-fcCONFIG" / "-fc$T_TMP/alpha/tandem.conf"
hand_started_stop "--conf CONFIG after -l info" / -l info -f --conf "$T_TMP/alpha/tandem.conf"
hand_started_stop "a relative -c" "$T_TMP/alpha" -f -c tandem.conf
# a PID file naming a live process started after the file was written (a
# crash, then PID reuse; the file is dated 10 s before the process): never
# signalled, and not "running" (before: monitor 1, and stop SIGTERMed it)
ip netns exec "$NS" sleep 600 &
stranger=$!
SLEEP_PIDS+=("$stranger")
for i in $(seq 1 20); do [ "$(readlink "/proc/$stranger/exe" 2>/dev/null)" = "$SLEEP_EXE" ] && break; sleep 0.1; done
stale_pidfile() { echo "$stranger" >"$T_TMP/alpha/tandemd.pid"; touch -d "@$(( $(date +%s) - 10 ))" "$T_TMP/alpha/tandemd.pid"; }
stale_pidfile
ra_rc "monitor with a PID file naming a live sleep: not running" 7 alpha monitor
ra_rc "stop with a PID file naming a live sleep" 0 alpha stop
kill -0 "$stranger" 2>/dev/null && [ "$(readlink "/proc/$stranger/exe")" = "$SLEEP_EXE" ] \
	&& pass "the sleep (pid $stranger) named by the PID file survives stop" || fail "stop killed the sleep (pid $stranger) the PID file named"
stale_pidfile
ra_rc "stop without tandemctl, the PID file naming a live sleep" 0 alpha stop OCF_RESKEY_tandemctl=/nonexistent/tandemctl
kill -0 "$stranger" 2>/dev/null && pass "the sleep (pid $stranger) survives a stop without tandemctl" \
	|| fail "a stop without tandemctl killed the sleep (pid $stranger) the PID file named"
kill -KILL "$stranger" 2>/dev/null || true
wait "$stranger" 2>/dev/null || true
# a hung tandemd started from another path than tandemd= names now (a
# versioned install path switched by an upgrade, a wrapper, a changed
# parameter): the PID file's PID is still ours (it started before the file
# was written), so stop kills it. Before, only a PID running the configured
# binary counted: the hung daemon was "not ours", its status query was cut
# short and stop answered 0 with it still running.
# The same with the PID file dated a minute before the daemon (the clock
# stepped forward after it was written): the daemon was started with that
# PID file (-p), so it is still ours.
cp "$TANDEMD" "$T_TMP/tandemd-other"
hung_other_stop() { # WHAT [backdate]
	local other st
	ra_rc "start alpha from another binary path ($1)" 0 alpha start OCF_RESKEY_tandemd="$T_TMP/tandemd-other" OCF_RESKEY_wait_connect=0
	other=$(cat "$T_TMP/alpha/tandemd.pid")
	if [ "$(readlink "/proc/$other/exe" 2>/dev/null)" != "$T_TMP/tandemd-other" ]; then
		fail "start from $T_TMP/tandemd-other: no tandemd of that path (pid ${other:-?})"
		return
	fi
	HUNG_PIDS+=("$other")
	[ -z "${2:-}" ] || touch -d "@$(( $(date +%s) - 60 ))" "$T_TMP/alpha/tandemd.pid"
	kill -STOP "$other"
	ra_rc "stop of a hung tandemd started from another binary path ($1)" 0 alpha stop OCF_RESKEY_CRM_meta_timeout=20000
	st=$(proc_state "$other")
	is_gone "$st" && pass "that tandemd (pid $other) is gone after stop ($1)" \
		|| { fail "that tandemd (pid $other, state $st) still runs after a stop ($1)"; kill -CONT "$other"; kill -KILL "$other"; }
}
hung_other_stop "PID file written after its start"
hung_other_stop "PID file dated before its start, -p names it" backdate
# integers with a leading zero are base 10 (bash arithmetic reads 08 as bad
# octal: before, stop exited 1, which pacemaker answers by fencing)
ra_rc "validate-all with term_timeout=08" 0 alpha validate-all OCF_RESKEY_term_timeout=08
ra_rc "start with start_timeout=09" 0 alpha start OCF_RESKEY_start_timeout=09 OCF_RESKEY_wait_connect=0
ra alpha stop || true
ra_rc "start alpha (for the stop with term_timeout=08)" 0 alpha start OCF_RESKEY_wait_connect=0
running=$(cat "$T_TMP/alpha/tandemd.pid" 2>/dev/null || true)
ra_rc "stop with term_timeout=08" 0 alpha stop OCF_RESKEY_term_timeout=08
st=
st=$(proc_state "$running")
[ -n "$running" ] && is_gone "$st" && pass "tandemd (pid $running) stopped with term_timeout=08" \
	|| fail "tandemd (pid ${running:-?}, state $st) still there after the stop with term_timeout=08"
ra alpha stop || true

# ---------------------------------------------------------------- a CIB that does not answer: the action's deadline
# The stub crm_attribute / crm_master read and write files in $T_TMP/attrs:
# made FIFOs nobody opens, every read and write of the mark and the score
# blocks, as calls to a CIB that does not answer would. A Primary without its
# peer reads the peer's mark, writes it, and sets its score: up to 10 s each
# before (the previous agent measured 20.1 s here: past a 20 s monitor
# timeout); within one deadline now.
ra_rc "start alpha (for the monitor against a CIB that does not answer)" 0 alpha start OCF_RESKEY_wait_connect=0
ra_rc "promote alpha alone" 0 alpha promote
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem" "$T_TMP/attrs/score.alpha"
mkfifo "$T_TMP/attrs/beta.tandem-outdated-tandem" "$T_TMP/attrs/score.alpha"
t0=$(date +%s%N)
rc=0
ra alpha monitor OCF_RESKEY_CRM_meta_timeout=20000 || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 8 ] && [ "$ms" -lt 20000 ]; then
	pass "monitor of a Primary while the CIB does not answer: promoted (8) after ${ms} ms, within its 20 s timeout"
else
	fail "monitor of a Primary while the CIB does not answer: rc $rc after ${ms} ms (wanted 8 within 20 s)"
	sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10
fi
# a promotion score that cannot be removed leaves this node promotable: under
# pacemaker that is a warning (before: debug, "not in a cluster")
ra_rc "demote alpha (CIB not answering)" 0 alpha demote OCF_RESKEY_CRM_meta_timeout=20000
ra_rc "stop alpha (CIB not answering)" 0 alpha stop OCF_RESKEY_CRM_meta_timeout=20000
ra alpha stop OCF_RESKEY_CRM_meta_timeout=6000 || true
grep -q "WARNING: .*removing the promotion score was cut short" "$T_TMP/ra.out" \
	&& pass "a promotion score removal cut short under pacemaker: a warning" \
	|| { fail "no warning for a promotion score removal cut short"; sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 10; }
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem" "$T_TMP/attrs/score.alpha"

# ---------------------------------------------------------------- tandemd's own guard
# With outdate_peer_command (docs/PACEMAKER.md, recommended) tandemd freezes
# the writes of a Primary without its peer until the command has marked the
# peer (tests/cluster/test_pacemaker.sh: lose-peer, kill). The status says so
# (cluster.peer_loss_freezes_writes), and a promotion leaves the mark to it:
# the agent's name lookup and two CIB calls, about a second of a failover's
# pause, are not spent in promote. The next monitor marks the peer as well.
# (No corosync here: tandemd runs no command without quorum, so no write.)
G=$T_TMP/guard.conf
sed "s|^    fencing: none\$|&\n    outdate_peer_command: \"$SB/crm_attribute -N \$TANDEM_PEER -n tandem-outdated-tandem -l forever -v 1\"|" \
	"$T_TMP/alpha/tandem.conf" >"$G"
if grep -q outdate_peer_command "$G" && "$TANDEMD" --check -c "$G" >"$T_TMP/check.out" 2>&1; then
	ra_rc "start alpha with outdate_peer_command" 0 alpha start OCF_RESKEY_config="$G" OCF_RESKEY_wait_connect=0
	[ "$(jfield alpha 'd["cluster"]["peer_loss_freezes_writes"]')" = True ] && pass "status: peer_loss_freezes_writes true" \
		|| fail "status with outdate_peer_command: peer_loss_freezes_writes $(jfield alpha 'd["cluster"].get("peer_loss_freezes_writes")')"
	rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem"
	ra_rc "promote alpha alone (tandemd guards its writes)" 0 alpha promote OCF_RESKEY_config="$G"
	grep -q "tandemd has it marked outdated before any write goes on alone" "$T_TMP/ra.out" \
		&& [ ! -e "$T_TMP/attrs/beta.tandem-outdated-tandem" ] && [ "$(score alpha)" = 10000 ] \
		&& pass "the promotion leaves the peer's mark to tandemd (said in its warning), score 10000" \
		|| { fail "promote with the guard: mark $(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null || echo absent), score $(score alpha)"; sed -e 's/^/    | /' "$T_TMP/ra.out" | tail -n 5; }
	ra_rc "monitor of the guarded Primary: promoted (8)" 8 alpha monitor OCF_RESKEY_config="$G"
	[ "$(cat "$T_TMP/attrs/beta.tandem-outdated-tandem" 2>/dev/null)" = 1 ] && pass "the guarded Primary's monitor marks beta outdated" \
		|| fail "after the guarded Primary's monitor: beta not marked ($(ls "$T_TMP/attrs"))"
	ra_rc "demote alpha (guard)" 0 alpha demote OCF_RESKEY_config="$G"
	ra_rc "stop alpha (guard)" 0 alpha stop OCF_RESKEY_config="$G"
else
	fail "the outdate_peer_command configuration was not made or is rejected: $(tail -n 1 "$T_TMP/check.out")"
fi
rm -f "$T_TMP/attrs/beta.tandem-outdated-tandem" "$T_TMP/attrs/score.alpha"

# ---------------------------------------------------------------- a floating IP that stays
# manage_ip: a stop that answers success while this node still holds the
# floating IP lets the peer take it too (a duplicate IP). Here the address is
# configured with another prefix (/25) than floating_ip's (/24): `ip addr del
# 192.0.2.100/24` fails and the address stays (before: stop 0 all the same).
if [ ${#MIP[@]} -gt 0 ]; then
	ra_rc "start alpha (for a floating IP that stays)" 0 alpha start OCF_RESKEY_wait_connect=0
	in_ns ip addr add 192.0.2.100/25 dev ocfdummy0
	ra_reason "stop while the floating IP stays configured: OCF_ERR_GENERIC" 1 "still configured" alpha stop "${MIP[@]}"
	ra_rc "monitor after that stop: tandemd stopped all the same" 7 alpha monitor
	in_ns ip addr del 192.0.2.100/25 dev ocfdummy0
	ra_rc "stop once the address is gone" 0 alpha stop "${MIP[@]}"
fi

# ---------------------------------------------------------------- a tandemd that does not start
# the exit reason gives its exit status (or signal) and its own output, not
# the log's older lines (before: the last three lines of daemon_log, which
# after a crash began with the killed instance's)
printf '#!/bin/sh\ncase " $* " in *" --check "*) exec "%s" "$@" ;; esac\necho "tandemd: simulated start failure" >&2\nexit 3\n' \
	"$TANDEMD" >"$T_TMP/failing-tandemd"
printf '#!/bin/sh\ncase " $* " in *" --check "*) exec "%s" "$@" ;; esac\nkill -KILL $$\n' "$TANDEMD" >"$T_TMP/killed-tandemd"
chmod +x "$T_TMP/failing-tandemd" "$T_TMP/killed-tandemd"
echo "an older line of the log" >>"$T_TMP/alpha/tandemd.log"
ra_reason "start of a tandemd that exits at once: its status and its output" 1 \
	"exited at start (exit status 3): tandemd: simulated start failure *$" alpha start OCF_RESKEY_tandemd="$T_TMP/failing-tandemd"
ra_reason "start of a tandemd killed at once: the signal, no older line" 1 \
	"exited at start (killed by signal 9): no output" alpha start OCF_RESKEY_tandemd="$T_TMP/killed-tandemd"
ra_rc "monitor after the failed starts: not running" 7 alpha monitor

# ---------------------------------------------------------------- bad parameters
ra_reason "missing tandemd: OCF_ERR_INSTALLED" 5 "tandemd binary /nonexistent/tandemd is missing" alpha validate-all OCF_RESKEY_tandemd=/nonexistent/tandemd
ra_reason "missing tandemctl: OCF_ERR_INSTALLED" 5 "tandemctl binary" alpha start OCF_RESKEY_tandemctl=/nonexistent/tandemctl
ra_rc "probe with tandemd missing: not running" 7 alpha monitor OCF_RESKEY_CRM_meta_interval=0 OCF_RESKEY_tandemd=/nonexistent/tandemd
ra_rc "stop with tandemctl missing still succeeds" 0 alpha stop OCF_RESKEY_tandemctl=/nonexistent/tandemctl
# ... and stops a running tandemd by its PID file (before: "nothing to stop",
# success, with the daemon, maybe Primary, still running)
ra_rc "start alpha (for the stop without tandemctl)" 0 alpha start
running=$(cat "$T_TMP/alpha/tandemd.pid" 2>/dev/null)
ra_rc "stop with tandemctl missing, tandemd running" 0 alpha stop OCF_RESKEY_tandemctl=/nonexistent/tandemctl
st=$(proc_state "$running")
[ -n "$running" ] && is_gone "$st" && pass "tandemd (pid $running) stopped without tandemctl" \
	|| fail "tandemd (pid ${running:-?}, state $st) still running after a stop that succeeded"
ra_rc "monitor after the stop without tandemctl" 7 alpha monitor
ra_reason "missing config: OCF_ERR_INSTALLED" 5 "missing on this node" alpha validate-all OCF_RESKEY_config=$T_TMP/nope.conf
ra_reason "relative config path: OCF_ERR_CONFIGURED" 6 "absolute path" alpha validate-all OCF_RESKEY_config=tandem.conf
ra_reason "config is a directory: OCF_ERR_ARGS" 2 "is a directory" alpha validate-all OCF_RESKEY_config=$T_TMP
printf 'global {\n    bogus_key: 1\n}\n' >"$T_TMP/broken.conf"
# a configuration file is this node's: what is wrong in it is OCF_ERR_ARGS (banned
# here), not OCF_ERR_CONFIGURED (pacemaker stops the resource on every node)
ra_reason "config tandemd rejects: OCF_ERR_ARGS with tandemd's message" 2 "tandemd rejects.*broken.conf" alpha validate-all OCF_RESKEY_config=$T_TMP/broken.conf
# tandemd --check that never returns (its configuration on a hung file system):
# validation is cut short within the action's timeout, a generic error, and the
# check's process is gone (before: unbounded, pacemaker's timer killed the agent)
printf '#!/bin/sh\necho $$ >"%s"\nexec sleep 120\n' "$T_TMP/slow-check.pid" >"$T_TMP/slow-tandemd"
chmod +x "$T_TMP/slow-tandemd"
t0=$(date +%s%3N)
ra_reason "validate-all whose tandemd --check hangs: OCF_ERR_GENERIC" 1 "did not finish" alpha validate-all \
	OCF_RESKEY_tandemd="$T_TMP/slow-tandemd" OCF_RESKEY_CRM_meta_timeout=6000
ms=$(( $(date +%s%3N) - t0 ))
[ "$ms" -lt 6000 ] && pass "... within the 6 s action timeout (${ms} ms)" || fail "... took ${ms} ms, past the 6 s action timeout"
slow=$(cat "$T_TMP/slow-check.pid" 2>/dev/null || true)
if [ -n "$slow" ]; then
	st=$(proc_state "$slow")
	if is_gone "$st"; then
		pass "the hung check (pid $slow) is gone"
	else
		fail "the hung check (pid $slow, state $st) still runs"
		SLEEP_PIDS+=("$slow")    # killed on exit while it is still a sleep
	fi
else
	fail "the fake tandemd --check did not run"
fi
sed '/^replication {/,/^}/d; s/        replicated: yes//' "$T_TMP/alpha/tandem.conf" >"$T_TMP/norepl.conf"
ra_reason "config without replication: OCF_ERR_ARGS" 2 "no replication section" alpha validate-all OCF_RESKEY_config=$T_TMP/norepl.conf
sed 's/manager: pacemaker/manager: builtin\n    floating_ip: 192.0.2.100\/24\n    interface: lo/' "$T_TMP/alpha/tandem.conf" >"$T_TMP/builtin.conf"
ra_reason "cluster manager builtin: OCF_ERR_ARGS" 2 "manager: pacemaker" alpha validate-all OCF_RESKEY_config=$T_TMP/builtin.conf
ra_reason "manage_ip=maybe: OCF_ERR_CONFIGURED" 6 "not a boolean" alpha validate-all OCF_RESKEY_manage_ip=maybe
ra_reason "wait_connect=soon: OCF_ERR_CONFIGURED" 6 "not a non-negative integer" alpha start OCF_RESKEY_wait_connect=soon
ra_reason "promotion_scores with one value: OCF_ERR_CONFIGURED" 6 "promotion_scores" alpha validate-all "OCF_RESKEY_promotion_scores=5"
ra_reason "lun without /N: OCF_ERR_CONFIGURED" 6 "want TARGET/LUN" alpha validate-all OCF_RESKEY_lun=iqn.x
ra_reason "ctl_socket with a space: OCF_ERR_CONFIGURED" 6 "ctl_socket" alpha validate-all "OCF_RESKEY_ctl_socket=a b"
ra_reason "promoted-max 2: OCF_ERR_CONFIGURED" 6 "promoted-max" alpha validate-all OCF_RESKEY_CRM_meta_promoted_max=2
ra_reason "manage_ip without floating_ip: OCF_ERR_CONFIGURED" 6 "needs floating_ip" alpha validate-all OCF_RESKEY_manage_ip=true
ra_reason "manage_ip on an interface this node lacks: OCF_ERR_ARGS" 2 "does not exist on this node" alpha validate-all \
	OCF_RESKEY_manage_ip=true OCF_RESKEY_floating_ip=192.0.2.100/24 OCF_RESKEY_interface=nosuch0
ra_rc "unknown action: OCF_ERR_UNIMPLEMENTED" 3 alpha frobnicate
ra_rc "validate-all with good parameters" 0 alpha validate-all
# the peer's pacemaker node name is checked against pacemaker's node list only
# under pacemaker (tests/cluster/test_pacemaker.sh): outside a cluster neither
# a peer_node nor its absence fails validation
ra_rc "validate-all with peer_node set, outside a cluster" 0 alpha validate-all OCF_RESKEY_peer_node=beta.example.org
ra_reason "peer_node with a blank: OCF_ERR_CONFIGURED" 6 "peer_node" alpha validate-all "OCF_RESKEY_peer_node=be ta"
ra_reason "monitor of a LUN that does not exist" 6 "want TARGET/LUN" alpha monitor OCF_RESKEY_lun=nosuchlun

# ---------------------------------------------------------------- install target
if grep -q 'resource.d/tandem' "$BUILD_DIR/cmake_install.cmake" 2>/dev/null; then
	if DESTDIR=$T_TMP/dest cmake --install "$BUILD_DIR" >"$T_TMP/install.out" 2>&1 \
		&& [ -x "$T_TMP/dest/usr/lib/ocf/resource.d/tandem/tandem" ]; then
		pass "install target: /usr/lib/ocf/resource.d/tandem/tandem (mode $(stat -c %a "$T_TMP/dest/usr/lib/ocf/resource.d/tandem/tandem"))"
	else
		fail "install target did not install the agent"; tail -n 5 "$T_TMP/install.out"
	fi
else
	log "the build dir predates the install rule (reconfigure): install target not checked"
fi

finish
