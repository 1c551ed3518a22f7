# shellcheck shell=bash
# tests/cluster/pcmk_lib.sh: pacemaker on the testbed (tests/cluster/testbed.sh),
# sourced by tests/cluster/test_pacemaker.sh after tests/cluster/lib.sh.
#
# shared/TESTBED.md's recipe: per node its own /var/lib/pacemaker (cib,
# pengine, blackbox, cores) and /var/log/pacemaker owned by hacluster:haclient,
# bind-mounted inside the node's mount namespace (the testbed's holder), and
# `pacemakerd -f` in the node's network + mount namespace next to its corosync.
# The agent under test (resource-agents/tandem of this tree) is bind-mounted
# over /usr/lib/ocf/resource.d/tandem inside the nodes only.
#
# Per node (STATE/N/pcmk/): lib/, log/, pacemakerd.pid, pacemakerd.out.
# Node-local paths the clone's (shared) parameters use, under each node's own
# /run: /run/tandem-pcmk/{tandem.conf -> STATE/N/tandem.conf, tandemd.pid, tandemd.log}.
#
#   pcmk_prepare_node N      directories, the /run links (again after a crash)
#   pcmk_start_node N        pacemakerd (waits until crm_mon answers)
#   pcmk_stop_node N         pacemakerd by PID (TERM, then KILL)
#   pcmk N CMD...            CMD inside node N (crm_mon, cibadmin, crm_resource...)
#   pcmk_promoted            the node (A|B) pacemaker reports the clone promoted on, or ""
#   pcmk_wait_promoted SECS [NODE]   until exactly one promoted instance (on NODE)

PCMK_RUN=/run/tandem-pcmk
PCMK_RSC=tandem
PCMK_CLONE=tandem-clone
PCMK_IP=tandem-ip
declare -A PCMK_UNAME=([A]=a [B]=b)

pcmk_holder() { local h= _; read -r h _ <"$TB_STATE/$1/holder.pid" 2>/dev/null; echo "$h"; }   # "PID STARTTIME"
pcmk() {
	local n=$1 h; shift
	h=$(pcmk_holder "$n")
	[ -n "$h" ] && [ -d "/proc/$h" ] || return 3
	nsenter -t "$h" -m -n -- env PATH="$TB_STATE/bin:$PATH" "$@"
}

pcmk_prepare_node() { # N
	local n=$1 d="$TB_STATE/$1"
	mkdir -p "$d/pcmk/lib/cib" "$d/pcmk/lib/pengine" "$d/pcmk/lib/blackbox" "$d/pcmk/lib/cores" "$d/pcmk/log"
	chown -R hacluster:haclient "$d/pcmk/lib" "$d/pcmk/log"
	chmod 750 "$d/pcmk/lib/cib"
	mkdir -p "$d/run/tandem-pcmk"
	ln -sfn "$d/tandem.conf" "$d/run/tandem-pcmk/tandem.conf"
}

# pcmk_pid N: the PID of node N's pacemakerd if that process is still it.
# pacemakerd.pid holds "PID STARTTIME" (/proc/PID/stat field 22): with
# pid_max 32768 on the CI machine the PID of one that died (a crash) is soon
# another process's, and a bare "is it there" check skipped the restart. The
# start time, not the name, identifies it: for its first milliseconds the
# process is still setsid/nsenter/bash running run.sh before the exec of
# pacemakerd, and a check of /proc/PID/comm there took a starting pacemakerd
# for a dead one (CI saw "pacemaker setup failed" 9 s into the test).
pcmk_proc_start() { # PID -> its start time, or empty (gone, or a zombie)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields after "(comm)"
	set -- $s
	[ "$1" != Z ] || return 0
	echo "${20:-}"
}
pcmk_pid() {
	local p= st=
	read -r p st 2>/dev/null <"$TB_STATE/$1/pcmk/pacemakerd.pid" || [ -n "$p" ] || return 0
	[ -n "$p" ] && [ -n "$st" ] && [ "$(pcmk_proc_start "$p")" = "$st" ] && echo "$p"
	return 0
}
pcmk_alive() { [ -n "$(pcmk_pid "$1")" ]; }

pcmk_start_node() { # N
	local n=$1 d="$TB_STATE/$1" h i
	pcmk_alive "$n" && return 0
	pcmk_prepare_node "$n"
	h=$(pcmk_holder "$n")
	[ -n "$h" ] || { log "pacemaker: node $n has no namespace holder"; return 1; }
	mkdir -p /usr/lib/ocf/resource.d/tandem      # mount point only; the agent is bind-mounted
	cat >"$d/pcmk/run.sh" <<EOF
set -e
mountpoint -q /var/lib/pacemaker && umount -l /var/lib/pacemaker || true
mountpoint -q /var/log/pacemaker && umount -l /var/log/pacemaker || true
mountpoint -q /usr/lib/ocf/resource.d/tandem && umount -l /usr/lib/ocf/resource.d/tandem || true
mount --bind "$d/pcmk/lib" /var/lib/pacemaker
mount --bind "$d/pcmk/log" /var/log/pacemaker
mount --bind "$PCMK_RA_DIR" /usr/lib/ocf/resource.d/tandem
mkdir -p /run/crm /run/resource-agents
exec pacemakerd -f
EOF
	setsid nsenter -t "$h" -m -n -- bash "$d/pcmk/run.sh" </dev/null >>"$d/pcmk/pacemakerd.out" 2>&1 &
	echo "$! $(pcmk_proc_start $!)" >"$d/pcmk/pacemakerd.pid"
	track_pid "$!"
	for i in $(seq 1 300); do
		pcmk "$n" crm_mon -1 >/dev/null 2>&1 && return 0
		pcmk_alive "$n" || break
		sleep 0.2
	done
	log "pacemaker on node $n did not come up:"
	tail -n 20 "$d/pcmk/pacemakerd.out" "$d/pcmk/log/pacemaker.log" 2>/dev/null | sed -e 's/^/    | /'
	return 1
}

pcmk_stop_node() { # N
	local p i
	p=$(pcmk_pid "$1")
	[ -n "$p" ] || return 0             # never signal a PID that is not pacemakerd any more
	kill -TERM "$p" 2>/dev/null || true
	for i in $(seq 1 150); do [ -d "/proc/$p" ] || break; sleep 0.2; done
	kill -KILL "$p" 2>/dev/null || true
	untrack_pid "$p"
}

# the node pacemaker reports the clone promoted on (A|B), "" if none, "AB" if two
pcmk_promoted() {
	local n out=""
	for n in A B; do
		pcmk_alive "$n" || continue
		if [[ "$(pcmk "$n" crm_resource --locate -r "$PCMK_CLONE" 2>/dev/null)" == *"is running on: ${PCMK_UNAME[$n]} Promoted"* ]]; then
			out="$out$n"
		fi
	done
	echo "$out"
}
pcmk_promoted_from() { # N: pacemaker's view from node N
	local out
	out=$(pcmk "$1" crm_resource --locate -r "$PCMK_CLONE" 2>/dev/null) || true
	printf '%s\n' "$out" | sed -n 's/.*is running on: \([ab]\) Promoted.*/\1/p' | tr 'ab' 'AB' | tr -d '\n'
}
pcmk_wait_promoted() { # SECS [NODE]
	local end=$((SECONDS + $1)) want=${2:-} p n
	while [ $SECONDS -lt $end ]; do
		for n in A B; do
			pcmk_alive "$n" || continue
			p=$(pcmk_promoted_from "$n")
			if [ ${#p} = 1 ] && { [ -z "$want" ] || [ "$p" = "$want" ]; } && [ "$(role_of "$p")" = primary ]; then
				return 0
			fi
			break
		done
		sleep 0.3
	done
	return 1
}

pcmk_dump() { # for failures
	local n
	for n in A B; do
		pcmk_alive "$n" || continue
		echo "    --- crm_mon on $n"
		pcmk "$n" crm_mon -1 -A -r 2>&1 | sed -e 's/^/    | /' | head -n 40
		break
	done
}
