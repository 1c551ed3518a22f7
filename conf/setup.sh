#!/usr/bin/env bash
# conf/setup.sh: from a fresh Debian 12 (as root) to a running tandemd.
# Installs the build dependencies, builds, installs tandemd/tandemctl to
# /usr/local/sbin and starts tandemd (daemonized) on its embedded default
# configuration unless one already answers. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }

PKGS=(build-essential cmake pkg-config libaio-dev libqb-dev check libssl-dev libisal-dev
	libsystemd-dev libiscsi-bin
	libcpg-dev libvotequorum-dev libquorum-dev libcmap-dev libmnl-dev)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup.sh: building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
make -C build -j"$(nproc)" >/dev/null
make -C build install >/dev/null
echo "setup.sh: installed /usr/local/sbin/tandemd and /usr/local/sbin/tandemctl"

IQN=iqn.2026-11.org.tandem:default
if /usr/local/sbin/tandemctl status >/dev/null 2>&1; then
	echo "setup.sh: tandemd is already running (tandemctl status answers); not starting another"
else
	if [ -e /etc/tandem/tandem.conf ]; then
		echo "setup.sh: starting tandemd with /etc/tandem/tandem.conf"
	else
		echo "setup.sh: starting tandemd with the embedded default (1 GiB LUN /var/lib/tandem/lun0.img)"
	fi
	/usr/local/sbin/tandemd
	for _ in $(seq 1 50); do
		/usr/local/sbin/tandemctl status >/dev/null 2>&1 && break
		sleep 0.2
	done
	/usr/local/sbin/tandemctl status >/dev/null 2>&1 || { echo "setup.sh: tandemd did not come up; see the system log (journalctl -t tandemd)" >&2; exit 1; }
fi
/usr/local/sbin/tandemctl status || true
cat <<MSG

tandemd is running. Target: $IQN on 127.0.0.1:3260
Try it:
    iscsi-ls iscsi://127.0.0.1
    iscsi-inq iscsi://127.0.0.1/$IQN/0
    tandemctl status
Stop it: kill -TERM PID, with the PID that 'tandemctl status' shows
MSG
