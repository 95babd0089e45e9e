#!/bin/sh
# SPDX-License-Identifier: MIT
# The vfio provider in QEMU guests (TAP): its VFIO type1 plumbing
# against QEMU's edu device behind an emulated IOMMU (intel-iommu): the
# errors of a device bound to no driver or to another, of a group that
# is not viable, of bad addresses; then DMA through a mapping both ways,
# its interrupt on an eventfd, and DMA refused after the unmap. Then a
# guest component of genzio-bridged (ivshmem's BAR2 through VFIO) and a
# host process on the same bridge write each other's windows.
#   sh test/vm/vfio.sh BUILDDIR
# Kernel cache: GZ_VM_CACHE; the QEMU is killed after GZ_VM_TIMEOUT
# seconds (default 300). Skips, with the reason, where QEMU or a kernel
# cannot be had.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/bridge.sh"
. "$here/host-lib.sh"
b=$(cd "${1:?usage: vfio.sh BUILDDIR}" && pwd)
secs=${GZ_VM_TIMEOUT:-300}

gz_vm_ready
real() { [ -x "$b/$1/.libs/$2" ] && echo "$b/$1/.libs/$2" || echo "$b/$1/$2"; }

# edu at 00:05.0, alone in its group; a PCIe-to-PCI bridge at 00:06.0
# with another edu and a virtio-rng function behind it, in one group
"$here/run.sh" --timeout "$secs" --cache "$cache" --out "$tmp" \
	--qemu "-device intel-iommu,intremap=on -device edu,addr=0x5" \
	--qemu "-device pcie-pci-bridge,id=br0,addr=0x6" \
	--qemu "-device edu,bus=br0,addr=0x1 -device virtio-rng-pci,bus=br0,addr=0x2" \
	"$here/vfio-edu.guest" "$(real test/vm vfio-edu)=/gz/vfio-edu" \
	2>"$tmp/run.err"
rc=$?
names="vfio_guest_devices vfio_unbound_device_names_the_fix \
vfio_device_of_another_driver_names_it vfio_bad_address_is_einval \
vfio_absent_device_is_enodev vfio_bind_edu \
vfio_group_not_viable_names_its_members vfio_open_edu vfio_bar0_mmio \
vfio_dma_map_below_the_dma_mask vfio_dma_to_the_device_and_back \
vfio_dma_completion_interrupts_an_eventfd vfio_dma_bad_arguments \
vfio_dma_after_unmap_is_refused vfio_unmap_twice_is_einval \
vfio_dma_limit_bounds_the_iovas"

# bridge NAME MIB FUNCS [ARGS...]: a genzio-bridged of its own (ARGS its
# options) on a file of MIB MiB (BRIDGE_FILE, BRIDGE_PID), and in FNS
# the QEMU arguments of FUNCS ivshmem functions on it, at 00:08.0 on
bridge() {
	BRIDGE_FILE=${GENZIO_SHM_DIR:-/dev/shm}/gzvm$1$$
	BRIDGE_FAB=gzt_vm$1$$ # its fabric's files go with it (bridge_stop)
	_mib=$2 _n=$3
	shift 3
	rm -f "$BRIDGE_FILE"
	"$b/tools/genzio-bridged" -q -S "$_mib" -f "$BRIDGE_FAB" "$@" "$BRIDGE_FILE" \
		2>"$tmp/bridged.err" &
	BRIDGE_PID=$!
	# a bridge that did not start fails the run, saying why (its guests
	# find no magic and fail at once)
	if ! gzt_bridge_ready "$BRIDGE_FILE" "$BRIDGE_PID" 2>"$tmp/ready.err"; then
		sed 's/^/# bridge '"$1"': /' "$tmp/ready.err" "$tmp/bridged.err"
		rc=1
	fi
	FNS=
	for _i in $(seq 0 $((_n - 1))); do
		FNS="$FNS -object memory-backend-file,id=br$_i,mem-path=$BRIDGE_FILE,size=${_mib}M,share=on"
		FNS="$FNS -device ivshmem-plain,memdev=br$_i,addr=0x$((_i + 8))"
	done
}
bridge_stop() {
	kill -TERM "$BRIDGE_PID" 2>/dev/null; wait "$BRIDGE_PID"
	rm -f "$BRIDGE_FILE" \
		"${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)/$BRIDGE_FAB".*
}

# a guest component of genzio-bridged through ivshmem and VFIO, paired
# with a host process on the same bridge file
bridge bridge 64 1
"$(real test bridge-client)" peer "$BRIDGE_FILE" 1 >"$tmp/host.out" 2>&1 &
hpid=$!
for i in $(seq 1 100); do grep -q '^ok paired' "$tmp/host.out" && break; sleep 0.1; done
"$here/run.sh" --timeout "$secs" --cache "$cache" --out "$tmp/bridge" \
	--qemu "-device intel-iommu,intremap=on" --qemu "$FNS" \
	"$here/bridge.guest" "$(real test bridge-client)=/gz/bridge-client" \
	2>>"$tmp/run.err" || rc=1
wait $hpid; hrc=$?
bridge_stop
guest="bridge_guest_ivshmem bridge_guest_bridge_found \
bridge_guest_second_claims_cid_2 bridge_guest_paired \
bridge_guest_corrupted_entries_complete_in_error_and_it_goes_on \
bridge_guest_writes_and_raises_the_first \
bridge_guest_its_flag_raised_and_every_byte_landed"

# the provider through VFIO: eight ivshmem functions of one bridge file
# (VFIO gives a group to one process: one function per context)
bridge api 512 8 -n 14
set -- "$(real test/api api)=/gz/api" "$(real tools genzio-info)=/gz/genzio-info" \
	"$(real bench genzio_perf)=/gz/genzio_perf" \
	"$(real examples 01_write_read)=/gz/01_write_read" \
	"$(real examples 03_send_recv)=/gz/03_send_recv"
lib=$(ls "$b"/lib/.libs/libgenzio.so.1 2>/dev/null) &&
	set -- "$@" "$lib=/usr/lib/x86_64-linux-gnu/libgenzio.so.1"
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --timeout "$((secs * 3))" --cache "$cache" --out "$tmp/api" \
	--qemu "-device intel-iommu,intremap=on" --qemu "$FNS" \
	"$here/vfio-api.guest" "$@" 2>>"$tmp/run.err" || rc=1
bridge_stop
api="vfio_api_functions_bound vfio_genzio_info vfio_example_write_read \
vfio_example_send_recv vfio_genzio_perf_runs"

# two guests (two machines) on one bridge file, two functions each: the
# API across them, every byte checked
bridge two 128 2 -n 4
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --two --timeout "$((secs * 2))" \
	--cache "$cache" --out "$tmp/two" \
	--qemu "-device intel-iommu,intremap=on" --qemu "$FNS" \
	"$here/vfio-two.guest" "$@" \
	"$(real examples 05_rc_pingpong)=/gz/05_rc_pingpong" \
	"$(real examples 07_job_allgather)=/gz/07_job_allgather" \
	2>>"$tmp/run.err" || rc=1
bridge_stop
two1="vfio_two_functions_bound_1 vfio_two_peer_1 vfio_two_send_recv_server \
vfio_two_pingpong_server vfio_two_job_ranks_0_1"
two2="vfio_two_functions_bound_2 vfio_two_peer_2 vfio_two_send_recv_client \
vfio_two_pingpong_client vfio_two_job_ranks_2_3"

# the engine killed under a guest's stream of work
bridge fatal 64 2
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --timeout "$secs" --cache "$cache" --out "$tmp/fatal" \
	--qemu "-device intel-iommu,intremap=on" --qemu "$FNS" \
	"$here/vfio-fatal.guest" "$(real test/vm vfio-fatal)=/gz/vfio-fatal" "$@" \
	2>>"$tmp/run.err" &
rpid=$!
# killed once the guest streams (bounded by the guest's own timeout)
while kill -0 $rpid 2>/dev/null &&
      ! { tr -d '\r' <"$tmp/fatal/guest1.log"; } 2>/dev/null |
	grep -q 'GZVM: ok vfio_fatal_streaming'; do
	sleep 0.2
done
kill -KILL "$BRIDGE_PID" 2>/dev/null
wait $rpid || rc=1
bridge_stop
fatal="vfio_fatal_functions_bound vfio_fatal_streaming \
vfio_fatal_stream_every_byte_landed \
vfio_fatal_engine_killed_flushes_outstanding_work \
vfio_fatal_engine_killed_raises_device_fatal \
vfio_fatal_after_it_work_completes_flushed \
vfio_fatal_after_it_setup_fails_enodev vfio_fatal_after_it_everything_closes"

# the suite's own lines: only tests that ran (a filtered one is no test)
{ tr -d '\r' <"$tmp/api/guest1.log"; } 2>/dev/null | sed -n 's/^TAP: //p' |
	awk '/^(not )?ok / && !/# SKIP test was skipped/ { print } /^  /' |
	sed -E 's/^(not ok|ok)( [0-9]+)? -/\1 - vfio:/' >"$tmp/suite.tap"
nsuite=$(grep -cE '^(not )?ok ' "$tmp/suite.tap")

# shellcheck disable=SC2086
tap_plan $(($(echo $names $guest $api $two1 $two2 $fatal | wc -w) + 1 + \
	(nsuite > 0 ? nsuite : 1)))
# shellcheck disable=SC2086
gz_vm_tap "$tmp/guest1.log" "vfio, edu:" $names
# shellcheck disable=SC2086
gz_vm_tap "$tmp/bridge/guest1.log" "vfio, bridge:" $guest
# shellcheck disable=SC2086
gz_vm_tap "$tmp/api/guest1.log" "vfio, provider:" $api
# shellcheck disable=SC2086
gz_vm_tap "$tmp/two/guest1.log" "vfio, two guests:" $two1
# shellcheck disable=SC2086
gz_vm_tap "$tmp/two/guest2.log" "vfio, two guests:" $two2
# shellcheck disable=SC2086
gz_vm_tap "$tmp/fatal/guest1.log" "vfio, engine killed:" $fatal
# what the guest's genzio-info and genzio_perf said, for the log
{ tr -d '\r' <"$tmp/api/guest1.log"; } 2>/dev/null | sed -nE 's/^# (info|perf): /# guest \1: /p'
# and what the guest under the killed engine saw, in order
{ tr -d '\r' <"$tmp/fatal/guest1.log"; } 2>/dev/null |
	sed -n -e 's/^GZVM: \(\(not \)\{0,1\}ok .*\)/# guest fault: \1/p' -e t -e 's/^# /# guest fault: /p'
[ "$nsuite" -gt 0 ] || { tap_not_ok "vfio: the conformance suite in the guest reported nothing"; rc=1; }
while IFS= read -r l; do
	case $l in
	"ok - "*) tap_ok "${l#ok - }" ;;
	"not ok - "*) tap_not_ok "${l#not ok - }"; rc=1 ;;
	*) echo "# $l" ;;
	esac
done <"$tmp/suite.tap"
if [ $hrc = 0 ] && grep -q '^ok writes_and_raises_the_second$' "$tmp/host.out"; then
	tap_ok "vfio, bridge: the host component saw its window written, and wrote back"
else
	tap_not_ok "vfio, bridge: the host component saw its window written, and wrote back (exit $hrc)"
	sed 's/^/# /' "$tmp/host.out"
	rc=1
fi
if [ "$rc" = 0 ]; then
	rm -rf "$tmp"
else
	sed 's/^/# /' "$tmp/run.err"
	echo "# the console is in $tmp"
fi
