# SPDX-License-Identifier: MIT
# Shared by scripts/run.sh and scripts/test.sh: dependencies, build, huge pages.
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build and the tests need.
GZ_PKGS="build-essential autoconf automake libtool pkg-config groff-base \
libnuma-dev libhwloc-dev libcriterion-dev libibverbs-dev"

# optional PKG CMD WHAT: install PKG as root when CMD is missing; else say
# what goes without it (bench/plot skips without gnuplot, UCX's column)
optional() {
	command -v "$2" >/dev/null 2>&1 && return 0
	# shellcheck disable=SC2086
	[ "$(id -u)" = 0 ] &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $1 \
			>/dev/null 2>&1 && return 0
	say "$1 not installable: $3"
}

install_deps() {
	missing=
	for p in $GZ_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		die "missing packages:$missing (as root: apt-get install$missing)"
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null || die "apt-get install failed"
}

# build DIR [configure args...]: out-of-tree build, nothing written to $top
# except what autoreconf generates.
build() {
	dir=$1; shift
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1) ||
		die "autoreconf failed"
	# autoconf refuses a build directory beside an in-tree build
	[ ! -f "$top/config.status" ] ||
		die "$top is configured in place (an in-tree build): run 'make distclean' there, or build in a directory of its own as README.md shows"
	mkdir -p "$dir"
	# other options (or a tree from before .gz-args): start afresh, since
	# objects do not depend on the flags they were compiled with
	args="options: $*"
	if [ -f "$dir/Makefile" ] && [ "$(cat "$dir/.gz-args" 2>/dev/null)" != "$args" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
	fi
	if [ ! -f "$dir/Makefile" ] || [ "$top/configure" -nt "$dir/Makefile" ]; then
		(cd "$dir" && "$top/configure" -q "$@") || die "configure failed in $dir"
		printf '%s\n' "$args" >"$dir/.gz-args"
	fi
	make -s -C "$dir" -j"$jobs" >"$dir/make.log" 2>&1 ||
		{ tail -n 40 "$dir/make.log"; die "build failed in $dir"; }
}

# Huge pages for the run: reserve and mount when root. Left in place
# afterwards, never lowered: another copy of the tests (or a user's job)
# may be using them, and undoing them under it would break it.
HUGE_PAGES=${GENZIO_TEST_HUGEPAGES:-256}
huge_setup() {
	nr=/proc/sys/vm/nr_hugepages
	if [ "$(id -u)" != 0 ]; then
		say "not root: huge pages not reserved, data space uses 4 KiB pages"
		return 0
	fi
	if ! grep -qs ' hugetlbfs ' /proc/mounts; then
		mkdir -p /dev/hugepages &&
			mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	fi
	if [ "$(cat $nr)" -lt "$HUGE_PAGES" ]; then
		echo "$HUGE_PAGES" > $nr 2>/dev/null
	fi
	say "huge pages: $(cat $nr) reserved, hugetlbfs at $(awk '$3 == "hugetlbfs" {print $2; exit}' /proc/mounts) (left in place)"
}

# clean_fabrics PREFIX: remove what fabrics "PREFIX<pid>..." left in our
# genzio directories (tmpfs and hugetlbfs) once process <pid> is gone, or
# is this script; another run's files, whose process lives, stay.
clean_fabrics() {
	for d in "${GENZIO_SHM_DIR:-/dev/shm}" \
		$(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts); do
		d="$d/genzio-$(id -u)"
		[ -d "$d" ] || continue
		for f in "$d/$1"* "$d/.$1"*; do
			[ -e "$f" ] || continue
			pid=$(basename "$f" | sed -n "s/^\.\{0,1\}$1\([0-9][0-9]*\).*/\1/p")
			[ -n "$pid" ] || continue
			if [ "$pid" = $$ ] || ! kill -0 "$pid" 2>/dev/null; then
				rm -f "$f"
			fi
		done
	done
}
