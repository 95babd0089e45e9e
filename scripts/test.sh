#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite: install what is missing, build three times (plain,
# ASan+UBSan, TSan), run make check in the first two and the threaded tests
# in the third, then the packaging checks. Ends with one line
# "N passed, N failed, N skipped" over every test that ran.
set -u
. "$(dirname "$0")/common.sh"
install_deps
optional gnuplot-nox gnuplot "test/plot.sh skips"
huge_setup
pass=0 fail=0 skip=0

# count DIR: add the totals of DIR/test-suite.log
count() {
	log=$1/test-suite.log
	[ -f "$log" ] || { fail=$((fail + 1)); return; }
	get() { awk -v k="# $1:" '$1" "$2 == k {v = $3} END {print v + 0}' "$log"; }
	# A program's ERROR lines count once: always for a crash or a plan
	# it did not keep, but not for the nonzero exit its own FAILs cause.
	# (Only this build's test logs: not a distcheck tree left inside.)
	errs=$(find "$1" -maxdepth 3 -path "$1/genzio-*" -prune -o -name '*.trs' -print |
		while read -r trs; do
			[ -f "${trs%.trs}.log" ] || continue
			awk '/^FAIL:/ { f++ } /^ERROR:/ { e++ }
			     /^ERROR:.*(signal|too few|too many|test plan)/ { r = 1 }
			     END { print (r || (e && !f)) ? 1 : 0 }' "${trs%.trs}.log"
		done | awk '{ s += $1 } END { print s + 0 }')
	pass=$((pass + $(get PASS) + $(get XFAIL)))
	fail=$((fail + $(get FAIL) + errs + $(get XPASS)))
	skip=$((skip + $(get SKIP)))
	grep -h '^SKIP:' "$1/check.log" 2>/dev/null | sed 's/^/    /'
}

# check NAME CMD...: one scripted check, counted like a test
check() {
	name=$1; shift
	if out=$("$@" 2>&1); then
		pass=$((pass + 1)); say "PASS: $name"
	else
		fail=$((fail + 1)); say "FAIL: $name"; printf '%s\n' "$out" | tail -n 30
	fi
}

# suite DIR [TESTS] -- [configure args...]: build, then make check (all
# tests, or the ones named)
suite() {
	dir=$1 tests=$2; shift 2
	build "$dir" --enable-werror "$@"
	say "make check in $dir${tests:+ ($tests)}"
	make -s -C "$dir" -j"$jobs" check ${tests:+TESTS="$tests"} \
		>"$dir/check.log" 2>&1
	grep -E '^(FAIL|ERROR|XPASS)' "$dir/check.log"
	count "$dir"
}

suite "$top/build" ""
suite "$top/build-san" "" --enable-sanitizers
# TSan cannot share an address space with Criterion's arena: it runs the
# threaded tests, which are plain TAP (TSan exits 66 on any report)
suite "$top/build-tsan" test/threads/threads --enable-tsan

# tap NAME CMD...: a TAP-producing check run once (not per build), its
# tests counted one by one; a missing plan or a crash counts as a failure
tap() {
	name=$1; shift
	out=$("$@" 2>&1); rc=$?
	p=$(printf '%s\n' "$out" | grep -E '^ok ' | grep -vc '# SKIP')
	s=$(printf '%s\n' "$out" | grep -E '^ok .*# SKIP' -c)
	f=$(printf '%s\n' "$out" | grep -Ec '^not ok ')
	all=$(printf '%s\n' "$out" | sed -n 's/^1\.\.\([0-9]*\).*/\1/p' | tail -n 1)
	if [ "$all" = 0 ]; then	# skipped whole: "1..0 # SKIP why"
		s=$((s + 1))
	elif [ -z "$all" ] || [ $((p + s + f)) != "$all" ] || [ $rc != 0 ]; then
		f=$((f + 1))
	fi
	pass=$((pass + p)) skip=$((skip + s)) fail=$((fail + f))
	say "$name: $p passed, $f failed, $s skipped"
	printf '%s\n' "$out" | grep -E '^not ok |^1\.\.0|# SKIP' | grep -v 'SKIP test was' |
		sed 's/^/    /'
	# what a guest printed for the log (its genzio-info, genzio_perf's
	# table, a fault run), then, on a failure, the last other comments
	printf '%s\n' "$out" | grep -E '^# guest ' | sed 's/^# guest /    guest /'
	[ "$f" = 0 ] ||
		printf '%s\n' "$out" | grep -E '^#' | grep -v '^# guest ' | tail -n 40
}

# QEMU guests (test/vm): the harness itself, the verbs provider on
# Soft-RoCE in a guest, the vfio provider's VFIO plumbing against QEMU's
# edu device. TCG only; every QEMU runs under a timeout.
tap "VM harness (test/vm/selftest.sh)" sh "$top/test/vm/selftest.sh"
tap "verbs provider in a guest (test/vm/verbs.sh)" \
	sh "$top/test/vm/verbs.sh" "$top/build"
tap "vfio provider in guests (test/vm/vfio.sh)" \
	sh "$top/test/vm/vfio.sh" "$top/build"

# An installed copy works with nothing but pkg-config (DESTDIR plus the
# sysroot pkg-config applies to it, so nothing lands outside a temp dir).
install_check() {
	d=$(mktemp -d)
	make -s -C "$top/build" install DESTDIR="$d" >/dev/null &&
	pc=$(dirname "$(find "$d" -name genzio.pc)") &&
	flags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$d \
		pkg-config --cflags --libs genzio) &&
	cc -o "$d/app" "$top/examples/01_write_read.c" $flags &&
	LD_LIBRARY_PATH=$(dirname "$pc") GENZIO_FABRIC=inst$$ "$d/app" &&
	# and verbs code through the installed compat header and its parts
	cc -Wall -Werror -o "$d/pp" "$top/examples/06_rc_pingpong_compat.c" $flags
	rc=$?
	rm -rf "$d"
	return $rc
}
check "install into a prefix, build an app (and a verbs one through the compat header) with pkg-config, run it" install_check

# installed_check NAME SCRIPT: the installed NAME, run as a user would, by
# test/SCRIPT's checks (plain TAP).
installed_check() {
	d=$(mktemp -d)
	make -s -C "$top/build" install DESTDIR="$d" >/dev/null &&
	bin=$(find "$d" -type f -name "$1") &&
	lib=$(dirname "$(find "$d" -name 'libgenzio.so.1' | head -n 1)") &&
	out=$(LD_LIBRARY_PATH=$lib GZT_SRCDIR=$top GZT_BUILDDIR=$top/build \
		sh "$top/test/$2" "$bin")
	rc=$?
	printf '%s\n' "$out"
	rm -rf "$d"
	[ $rc = 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok'
}
check "installed genzio-info: devices, caps, -v, -l, no device" \
	installed_check genzio-info info.sh
check "installed genzio-fabric: show, routes, faults, errors; genzio-info -g" \
	installed_check genzio-fabric fabric.sh
check "make distcheck" make -s -C "$top/build" -j"$jobs" distcheck \
	DISTCHECK_CONFIGURE_FLAGS=--enable-werror

clean_fabrics gzt
clean_fabrics inst
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
