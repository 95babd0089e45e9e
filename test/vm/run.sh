#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh [--two] [--timeout S] [--port P] [--qemu ARGS] --cache DIR --out DIR
#        GUEST_SCRIPT [FILE | HOSTPATH=GUESTPATH]...
#
# Boots one QEMU guest (two with --two) that runs GUEST_SCRIPT (see
# guest-lib.sh) with FILEs copied in (see initramfs.sh), and waits for it.
#   --cache DIR   kernel cache (kernel.sh fills it; default
#                 ${GZ_VM_CACHE:-$HOME/.cache/genzio-vm})
#   --out DIR     gets initramfs.cpio and guestN.log, the serial console of
#                 guest N (and QEMU's own messages); created if need be
#   --timeout S   each QEMU is killed after S seconds (default 300)
#   --two         two guests, 10.0.0.1 and 10.0.0.2 on eth0, joined by
#                 QEMU's UDP socket netdev on 127.0.0.1 ports P and P+1
#   --port P      that first port (default: from this shell's pid)
#   --qemu ARGS   more QEMU arguments for every guest, split at spaces
#                 (e.g. '-device intel-iommu,intremap=on -device edu'); may
#                 be repeated
# Each guest finds its index and their number on its kernel command line
# (gz.idx=N gz.guests=N). When a guest fails (QEMU fails, times out, or
# it powers off without "GZVM: done"), the other one is stopped at once:
# it would only wait for its peer until its own timeout.
# Exit status: 0 when every guest printed "GZVM: done" and no "not ok";
# 1 when one did not, or QEMU failed or timed out; 2 when the guest could
# not be set up (usage, no QEMU, no kernel). One line per guest on stderr.
set -u
here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

guests=1 secs=300 port='' out='' extra=''
cache=${GZ_VM_CACHE:-$HOME/.cache/genzio-vm}
while [ $# -gt 0 ]; do
	case $1 in
	--two) guests=2 ;;
	--timeout) secs=${2:?}; shift ;;
	--port) port=${2:?}; shift ;;
	--qemu) extra="$extra ${2:?}"; shift ;;
	--cache) cache=${2:?}; shift ;;
	--out) out=${2:?}; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ -n "$out" ] && [ $# -ge 1 ] ||
	die "usage: run.sh [--two] [--timeout S] [--port P] [--qemu ARGS]" \
		"--cache DIR --out DIR GUEST_SCRIPT [FILE]..."
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing"
mkdir -p "$out" || die "cannot make $out"
out=$(cd "$out" && pwd)
sh "$here/kernel.sh" "$cache" >/dev/null || die "no kernel in $cache"
sh "$here/initramfs.sh" "$out/initramfs.cpio" "$cache" "$@" || die "no initramfs"
# distinct runs on one host get distinct ports; 127.0.0.1 keeps them local
: "${port:=$((20000 + $$ % 20000 * 2))}"

# boot IDX: become guest IDX's QEMU under timeout. TCG only: KVM aborts or
# hangs on these machines even where /dev/kvm exists. no_timer_check: on a
# busy host the boot's check that the timer ticks can fail under TCG, and
# with intel-iommu,intremap=on the kernel panics then (3 of 15 two-guest
# boots with four busy loops beside them; none with the option).
boot() {
	i=$1
	set -- -machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m 1G \
		-nodefaults -display none -vga none -serial stdio -no-reboot \
		-kernel "$cache/vmlinux" -initrd "$out/initramfs.cpio" \
		-append "console=ttyS0 intel_iommu=on quiet mitigations=off \
panic=-1 no_timer_check gz.idx=$i gz.guests=$guests"
	if [ "$guests" = 2 ]; then
		# the UDP socket netdev: the TCP one makes multi-packet RC
		# messages 25x slower; each guest sends to the other's port
		to=$((port + 2 - i)) from=$((port + i - 1))
		set -- "$@" -netdev "socket,id=n0,udp=127.0.0.1:$to,localaddr=127.0.0.1:$from" \
			-device "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0$i"
	fi
	# shellcheck disable=SC2086
	exec timeout -k 10 "$secs" qemu-system-x86_64 "$@" $extra
}

# Each guest runs under timeout in a subshell that reports "IDX STATUS" on
# the fifo when QEMU ends; the fifo is held open read-write here so that no
# writer blocks and no read sees an early end of file.
fifo=$out/.done
rm -f "$fifo" && mkfifo "$fifo" || die "cannot make $fifo"
exec 3<>"$fifo"
stop() {
	for i in 1 2; do
		[ ! -s "$out/.guest$i.pid" ] || kill "$(cat "$out/.guest$i.pid")" 2>/dev/null
	done
}
trap 'stop; rm -f "$fifo" "$out"/.guest?.pid' EXIT
trap 'exit 1' INT TERM HUP
for i in $(seq "$guests"); do
	rm -f "$out/.guest$i.pid"
	(
		boot "$i" </dev/null >"$out/guest$i.log" 2>&1 &
		echo $! >"$out/.guest$i.pid"
		wait $!
		echo "$i $?" >"$fifo"
	) &
done

# verdict IDX STATUS: 0 if guest IDX passed; says why not on stderr
verdict() {
	log=$out/guest$1.log
	nok=$(grep -c 'GZVM: not ok' "$log")
	case $2 in
	0) ;;
	124 | 137) echo "guest$1: timed out after $secs s ($log)" >&2; return 1 ;;
	*) echo "guest$1: QEMU exit $2 ($log)" >&2; return 1 ;;
	esac
	grep -q 'GZVM: done' "$log" ||
		{ echo "guest$1: ended before GZVM: done ($log)" >&2; return 1; }
	echo "guest$1: $(grep -c 'GZVM: ok' "$log") ok, $nok not ok," \
		"$(grep -c 'GZVM: skip' "$log") skip" >&2
	[ "$nok" = 0 ]
}

rc=0
for _ in $(seq "$guests"); do
	read -r i status <&3
	rm -f "$out/.guest$i.pid"
	if ! verdict "$i" "$status"; then
		rc=1
		# a guest that failed may be the peer the other waits for
		if [ "$guests" = 2 ] && [ -s "$out/.guest$((3 - i)).pid" ] &&
			! grep -q 'GZVM: done' "$out/guest$i.log"; then
			echo "guest$((3 - i)): stopped, its peer failed" >&2
			kill "$(cat "$out/.guest$((3 - i)).pid")" 2>/dev/null
		fi
	fi
done
exit $rc
