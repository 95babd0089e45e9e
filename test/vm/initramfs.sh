#!/bin/sh
# SPDX-License-Identifier: MIT
# initramfs.sh OUT.cpio CACHE_DIR GUEST_SCRIPT [FILE | HOSTPATH=GUESTPATH]...
#
# Builds an uncompressed newc initramfs for the kernel in CACHE_DIR (see
# kernel.sh): busybox with every applet linked, the modules the RDMA and
# VFIO tests need (with their dependencies, from modules.dep), rdma-core's
# rxe provider with the rdma, ibv_devices and ibv_devinfo tools, and an
# /init that mounts proc, sys, dev, /dev/shm and /tmp, loads the modules,
# runs GUEST_SCRIPT (as /guest.sh; guest-lib.sh sits beside it as
# /guest-lib.sh), prints "GZVM: done" and powers off.
#
# Each FILE (a file or a directory) lands at its own absolute path in the
# guest, or at GUESTPATH when written HOSTPATH=GUESTPATH. Every ELF among
# them brings the shared libraries ldd names (LD_LIBRARY_PATH counts), at
# the paths ldd names, and the loader; what a program dlopens must be
# given as a FILE. A script finds busybox sh at /bin/sh and nothing else
# (give /bin/bash for a bash script). A file put into a bin or sbin
# directory replaces the busybox applet of the same name. Files under /tmp
# stay visible: /init mounts a tmpfs on /tmp only when the initramfs put
# nothing there.
# Needs no root: the archive is written with every file owned by root.
set -eu
[ $# -ge 3 ] || {
	echo "usage: $0 OUT.cpio CACHE_DIR GUEST_SCRIPT [FILE | HOSTPATH=GUESTPATH]..." >&2
	exit 2
}
out=$1 cache=$2 script=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'initramfs.sh: %s\n' "$*" >&2; exit 1; }

ver=$(cat "$cache/version" 2>/dev/null) && [ -s "$cache/modules/modules.dep" ] ||
	die "$cache holds no kernel: run kernel.sh $cache first"
bb=$(command -v busybox) || die "busybox is missing (apt-get install busybox-static)"
[ -r "$script" ] || die "$script: no such guest script"

# Modules loaded at boot, in this order, each after what it needs. virtio_pci
# is what finds the virtio-net device; rxe asks the crypto API for "crc32",
# which without a module loader in the guest has to be loaded up front;
# numdummies=0 leaves dummy0 for gz_rxe_dummy to create.
MODULES="crc32_generic ib_core ib_uverbs rdma_rxe dummy:numdummies=0 \
virtio_pci virtio_net vfio vfio_iommu_type1 vfio-pci"

# Host files every guest gets: the rxe provider as libibverbs finds it
# (the .driver file names it, the directory holds it; libibverbs dlopens
# it, so ldd cannot name it), and the tools that make and list rxe devices.
BASE_FILES="/etc/libibverbs.d/rxe.driver $(ls /usr/lib/*/libibverbs/librxe-rdmav*.so \
2>/dev/null || echo /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav34.so) \
$(for t in rdma ibv_devices ibv_devinfo; do command -v $t || echo "/usr/bin/$t"; done)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# the archive's "." is the guest's /: mktemp made it 0700, which would
# keep every user but root out of the whole guest
chmod 755 "$root"
trap 'exit 1' INT TERM HUP

# The same merged-/usr layout as the host, so that every path ldd prints
# (/lib/x86_64-linux-gnu/..., /lib64/ld-linux-x86-64.so.2) means the same
# file in the guest.
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/etc" \
	"$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run"
for d in bin sbin lib lib64; do
	if [ -L "/$d" ]; then
		ln -s "$(readlink "/$d")" "$root/$d"
		mkdir -p "$root/$(readlink "/$d")"
	else
		mkdir -p "$root/$d"
	fi
done

# put SRC DST: copy SRC (a file or a tree) to DST inside the guest
put() {
	mkdir -p "$root$(dirname "$2")"
	case $(dirname "$2") in
	*/bin | */sbin)
		# a host tool wins over the busybox applet of its name, whatever
		# the order of PATH
		for d in bin sbin usr/bin usr/sbin; do
			[ ! -L "$root/$d/$(basename "$2")" ] || rm -f "$root/$d/$(basename "$2")"
		done ;;
	esac
	rm -rf "$root$2"
	cp -RL "$1" "$root$2"
	find "$root$2" -type f | while read -r f; do
		[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
		libs "$f"
	done
}

# libs ELF: copy what ldd says ELF needs (nothing for a static one)
libs() {
	ldd "$1" 2>/dev/null | grep 'not found' | sed "s|^|initramfs.sh: $1: |" >&2
	ldd "$1" 2>/dev/null |
		sed -n 's/.*=> \(\/[^ ]*\) (0x.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p' |
	while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# busybox first, so that FILES can replace its applets
put "$bb" /usr/bin/busybox
"$bb" --list-full | while read -r applet; do
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] ||
		ln -s /usr/bin/busybox "$root/$applet"
done

for f in $BASE_FILES; do
	# a guest without RDMA tests can do without them
	if [ -e "$f" ]; then put "$f" "$f"; else echo "initramfs.sh: no $f" >&2; fi
done
for f in "$@"; do
	case $f in
	*=/*) put "${f%%=*}" "${f#*=}" ;;
	*=*) die "$f: the guest path must be absolute" ;;
	/*) put "$f" "$f" ;;
	*) put "$f" "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" ;;
	esac
done
cp "$script" "$root/guest.sh"
cp "$here/guest-lib.sh" "$root/guest-lib.sh"

# The modules in load order: for each one asked for, its dependencies as
# modules.dep lists them (last first), then itself; each once.
mods=$root/lib/modules/$ver
mkdir -p "$mods"
for m in $MODULES; do
	printf '%s %s\n' "${m%%:*}" "$(printf '%s' "${m#"${m%%:*}"}" | sed 's/^://; s/,/ /g')"
done | awk -v dep="$cache/modules/modules.dep" '
	function key(s) { sub(/.*\//, "", s); sub(/\.ko$/, "", s); gsub(/-/, "_", s); return s }
	BEGIN {
		while ((getline line < dep) > 0) {
			split(line, f, ":")
			line_of[key(f[1])] = line
		}
	}
	{
		name = $1; gsub(/-/, "_", name)
		if (!(name in line_of)) { print "no module " $1 > "/dev/stderr"; exit 1 }
		opts = $0; sub(/^[^ ]* ?/, "", opts)
		split(line_of[name], f, ":"); n = split(f[2], d, " ")
		for (i = n; i >= 1; i--)
			if (!(d[i] in done)) { done[d[i]] = 1; print d[i] }
		if (!(f[1] in done)) { done[f[1]] = 1; print f[1] (opts == "" ? "" : " " opts) }
	}' >"$root/etc/gzvm-modules" || die "a module is missing from $cache/modules"
while read -r path _; do
	mkdir -p "$(dirname "$mods/$path")"
	cp "$cache/modules/$path" "$mods/$path"
done <"$root/etc/gzvm-modules"
# their lines of modules.dep, so that modprobe works for them in the guest
awk 'NR == FNR { want[$1 ":"] = 1; next } $1 in want' \
	"$root/etc/gzvm-modules" "$cache/modules/modules.dep" >"$mods/modules.dep"

cat >"$root/init" <<EOF
#!/bin/sh
# SPDX-License-Identifier: MIT
# Made by test/vm/initramfs.sh. The results are the GZVM lines on the
# console; a guest that never prints "GZVM: done" has failed.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# the initramfs has no /dev/console node (making one needs root), so the
# kernel gave /init none: take it from devtmpfs
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/shm /dev/pts /root
mount -t tmpfs shm /dev/shm
mount -t devpts pts /dev/pts
[ -n "\$(ls -A /tmp)" ] || mount -t tmpfs tmp /tmp
while read -r path opts; do
	insmod /lib/modules/$ver/\$path \$opts ||
		echo "GZVM: not ok insmod_\$(basename \$path .ko)"
done </etc/gzvm-modules
ip link set lo up
cd /
# stdin is not the console: a read from it would wait for ever
sh /guest.sh </dev/null
rc=\$?
[ \$rc = 0 ] || echo "GZVM: not ok guest.sh (exit \$rc)"
echo "GZVM: done"
poweroff -f
EOF
chmod 755 "$root/init" "$root/guest.sh"

# sorted, so that the same inputs give the same archive
(cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc -R 0:0) >"$out.tmp" 2>/dev/null ||
	die "cpio failed"
mv "$out.tmp" "$out"
