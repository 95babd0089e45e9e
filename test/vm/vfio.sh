#!/bin/sh
# SPDX-License-Identifier: MIT
# The vfio provider in a QEMU guest (TAP): its VFIO type1 plumbing
# against QEMU's edu device behind an emulated IOMMU (intel-iommu): the
# errors of a device bound to no driver or to another, of a group that
# is not viable, of bad addresses; then DMA through a mapping both ways,
# its interrupt on an eventfd, and DMA refused after the unmap.
#   sh test/vm/vfio.sh BUILDDIR
# Kernel cache: GZ_VM_CACHE; the QEMU is killed after GZ_VM_TIMEOUT
# seconds (default 300). Skips, with the reason, where QEMU or a kernel
# cannot be had.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
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
# shellcheck disable=SC2086
tap_plan $(echo $names | wc -w)
# shellcheck disable=SC2086
gz_vm_tap "$tmp/guest1.log" "vfio, edu:" $names
if [ "$rc" = 0 ]; then
	rm -rf "$tmp"
else
	sed 's/^/# /' "$tmp/run.err"
	echo "# the console is in $tmp"
fi
