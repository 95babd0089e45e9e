#!/bin/sh
# SPDX-License-Identifier: MIT
# The VM harness checks itself (TAP): one guest brings rxe0 up on dummy0,
# ibv_devices lists it and ibv_devinfo says PORT_ACTIVE; then two guests
# joined by QEMU's UDP socket netdev run ibv_rc_pingpong (100 iterations)
# over RoCE v2 between 10.0.0.1 and 10.0.0.2. Needs nothing of genzio
# built. Installs GZ_VM_PKGS (host-lib.sh) as root; skips with the reason
# when they are missing and cannot be installed, or when no kernel can be
# had. Kernel cache: GZ_VM_CACHE (default $HOME/.cache/genzio-vm). Each
# QEMU is killed after GZ_VM_TIMEOUT seconds (default 120). The consoles
# are kept in a directory named at the end when a check failed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/host-lib.sh"
start=$(date +%s)
secs=${GZ_VM_TIMEOUT:-120}

gz_vm_ready
tap_plan 11

cat >"$tmp/one.sh" <<'EOF'
. /guest-lib.sh
if gz_rxe_dummy; then gz_ok rxe0_on_dummy0; else gz_not_ok rxe0_on_dummy0; fi
gz_expect ibv_devices_lists_rxe0 '^[[:space:]]+rxe0[[:space:]]' ibv_devices
gz_expect ibv_devinfo_rxe0_port_active 'state:[[:space:]]+PORT_ACTIVE' \
	ibv_devinfo -d rxe0
EOF

# Guest 1 serves, guest 2 connects once the server listens. Event mode
# (-e): four polling vCPU threads on two host cores starve rxe's kernel
# work (15 ms per iteration against 4 ms).
cat >"$tmp/two.sh" <<'EOF'
. /guest-lib.sh
if gz_rxe_eth; then gz_ok rxe0_on_eth0; else gz_not_ok rxe0_on_eth0; fi
if gz_wait_peer; then gz_ok reaches_its_peer; else gz_not_ok reaches_its_peer; fi
if ! gid=$(gz_gid_index); then
	gz_not_ok rc_pingpong "no RoCE v2 GID for $GZ_IP"
elif [ "$(gz_idx)" = 1 ]; then
	timeout 60 ibv_rc_pingpong -d rxe0 -g "$gid" -n 100 -e >/tmp/pp.out 2>&1 &
	gz_wait_listen 18515 && gz_signal server_listens
	if wait $!; then gz_ok rc_pingpong; else gz_not_ok rc_pingpong "exit $?"; fi
	sed 's/^/# /' /tmp/pp.out
elif gz_wait_for server_listens; then
	gz_expect rc_pingpong '^100 iters in' \
		ibv_rc_pingpong -d rxe0 -g "$gid" -n 100 -e 10.0.0.1
else
	gz_not_ok rc_pingpong "the server never listened"
fi
EOF

# vm NAME RUN_OPTS [FILE]...: boot the guest(s) of $tmp/NAME.sh; consoles
# in $tmp/NAME/, run.sh's verdict in $tmp/NAME.err
vm() {
	name=$1 opts=$2; shift 2
	# shellcheck disable=SC2086
	sh "$here/run.sh" $opts --timeout "$secs" --cache "$cache" \
		--out "$tmp/$name" "$tmp/$name.sh" "$@" >"$tmp/$name.err" 2>&1
}

# ran RC NAME WHAT: the run as a whole: every QEMU ended in time after
# GZVM: done, and nothing (a module load, say) was not ok
ran() {
	if [ "$1" = 0 ]; then
		tap_ok "$3"
	else
		tap_not_ok "$3 (run.sh exit $1)"
		sed 's/^/# /' "$tmp/$2.err"
	fi
}

vm one ""
rc1=$?
gz_vm_tap "$tmp/one/guest1.log" "one guest:" rxe0_on_dummy0 \
	ibv_devices_lists_rxe0 ibv_devinfo_rxe0_port_active
ran $rc1 one "one guest: ran to GZVM: done within $secs s, no check failed"

vm two --two "$(command -v ibv_rc_pingpong)"
rc2=$?
for i in 1 2; do
	gz_vm_tap "$tmp/two/guest$i.log" "two guests: guest$i:" rxe0_on_eth0 \
		reaches_its_peer rc_pingpong
done
ran $rc2 two "two guests: both ran to GZVM: done within $secs s, no check failed"

echo "# $(($(date +%s) - start)) s"
if [ $rc1 = 0 ] && [ $rc2 = 0 ]; then
	rm -rf "$tmp"
else
	echo "# consoles kept in $tmp"
fi
