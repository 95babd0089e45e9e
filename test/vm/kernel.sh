#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel.sh CACHE_DIR: make CACHE_DIR hold the current Debian bookworm
# amd64 kernel as QEMU boots it: CACHE_DIR/vmlinux (uncompressed ELF, booted
# through its PVH entry) and CACHE_DIR/modules/ (its /lib/modules/<ver>
# tree); CACHE_DIR/version names it. Prints the absolute CACHE_DIR.
# Reuses what is there when the version is current; when the package lists
# or the mirror cannot be reached, an older cached kernel is used (with a
# warning) rather than none. Never installs anything: the .deb is only
# unpacked with dpkg -x.
set -eu
[ $# = 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
mkdir -p "$1"
cache=$(cd "$1" && pwd)
warn() { printf 'kernel.sh: %s\n' "$*" >&2; }

# The metapackage names the ABI version (linux-image-6.1.0-NN-amd64), which
# bookworm-security rotates: old ones vanish from the mirror.
current() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' |
		head -n 1
}

have() {
	[ -s "$cache/vmlinux" ] && [ -s "$cache/modules/modules.dep" ]
}

# depmod_dep DIR: modules.dep for the tree DIR. depmod (kmod) is not on a
# fresh machine and the .deb ships no modules.dep (its postinst makes it),
# so read each module's "depends=" (.modinfo, written by modpost from the
# same symbols depmod uses). Each line lists the transitive dependencies as
# depmod does: loading them from the last to the first works.
depmod_dep() {
	(cd "$1" && find kernel -name '*.ko' | sort |
		xargs grep -a -o -H 'depends=[A-Za-z0-9_,-]*' 2>/dev/null) |
	awk -F: '
	function key(s) { gsub(/-/, "_", s); return s }
	# post-order: every module after what it needs
	function visit(m,   d, n, i) {
		n = split(deps[m], d, ",")
		for (i = 1; i <= n; i++)
			if ((key(d[i]) in path) && !(key(d[i]) in seen)) {
				seen[key(d[i])] = 1
				visit(key(d[i]))
				list = path[key(d[i])] " " list
			}
	}
	!(key($1) in file) {
		file[key($1)] = 1
		m = $1; sub(/.*\//, "", m); sub(/\.ko$/, "", m); m = key(m)
		path[m] = $1; sub(/^depends=/, "", $2); deps[m] = $2
		order[++count] = m
	}
	END {
		for (i = 1; i <= count; i++) {
			split("", seen); list = ""
			visit(order[i])
			sub(/ $/, "", list)
			print path[order[i]] ":" (list == "" ? "" : " " list)
		}
	}'
}

# fetch PKG: download and unpack PKG into a fresh directory, then swap it
# in by rename, so an interrupted run leaves the old kernel usable. (Called
# in a condition, where set -e is off: every step says || return 1.)
tmp=
fetch() {
	ver=${1#linux-image-}
	[ -z "$tmp" ] || rm -rf "$tmp"
	tmp=$(mktemp -d "$cache/.new.XXXXXX") || return 1
	why=$(cd "$tmp" && apt-get download -q=2 "$1" 2>&1) ||
		{ warn "apt-get download $1: $(printf '%s' "$why" | tail -n 1)"; return 1; }
	dpkg -x "$tmp/$1"_*.deb "$tmp/root" || return 1
	# vmlinuz is a bzImage whose payload is an xz stream: cut it out at
	# the xz magic (FD '7zXZ' 00) and decompress. xz exits nonzero on the
	# bytes after its stream, so the ELF magic is the check
	vmlinuz=$tmp/root/boot/vmlinuz-$ver
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || { warn "no xz stream in $vmlinuz"; return 1; }
	tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$tmp/vmlinux" 2>/dev/null
	[ "$(head -c 4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		{ warn "$vmlinuz: the xz stream is not an ELF kernel"; return 1; }
	mv "$tmp/root/lib/modules/$ver" "$tmp/modules" || return 1
	depmod_dep "$tmp/modules" >"$tmp/modules/modules.dep" || return 1
	echo "$ver" >"$tmp/version" || return 1
	rm -rf "$cache/.old" && mkdir "$cache/.old" || return 1
	for f in vmlinux modules version; do
		if [ -e "$cache/$f" ]; then mv "$cache/$f" "$cache/.old/" || return 1; fi
		mv "$tmp/$f" "$cache/$f" || return 1
	done
	rm -rf "$cache/.old"
}

# One writer at a time (CI jobs may share the cache); a .new.* left by a
# killed run long ago goes
exec 9>"$cache/.lock"
flock 9
find "$cache" -maxdepth 1 -name '.new.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || :
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

pkg=$(current)
cached=$(cat "$cache/version" 2>/dev/null || :)
if [ -n "$pkg" ] && have && [ "$cached" = "${pkg#linux-image-}" ]; then
	echo "$cache"
	exit 0
fi
if [ -z "$pkg" ] || ! fetch "$pkg"; then
	# stale or missing package lists: refresh once (root only), try again
	if [ "$(id -u)" = 0 ] && apt-get update -q=2 >/dev/null 2>&1 &&
		pkg=$(current) && [ -n "$pkg" ] && fetch "$pkg"; then
		:
	elif have; then
		warn "cannot download ${pkg:-linux-image-amd64}; using the cached $cached"
	else
		[ "$(id -u)" = 0 ] || pkg="${pkg:-linux-image-amd64} (not root: no apt-get update)"
		warn "no kernel in $cache${pkg:+: cannot download $pkg}"
		exit 1
	fi
fi
echo "$cache"
