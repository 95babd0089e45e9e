#!/bin/sh
# SPDX-License-Identifier: MIT
# The verbs provider in QEMU guests (TAP). One guest, rxe0 on a dummy
# netdev: the build's genzio-info and examples over it, a hostile peer of
# RD's wire-up (rdfuzz), and the whole conformance suite, each test
# relayed as one TAP line. Two guests joined by a network (two machines):
# the examples across them, a job of two processes per guest,
# genzio_perf beside perftest; then faults between them. The guests get
# the build's real binaries (libtool's .libs) and libgenzio.
#   sh test/vm/verbs.sh BUILDDIR
# Kernel cache: GZ_VM_CACHE; each QEMU is killed after GZ_VM_TIMEOUT
# seconds (default 600). Skips, with the reason, where QEMU or a kernel
# cannot be had, or the build has no verbs provider.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/host-lib.sh"
b=$(cd "${1:?usage: verbs.sh BUILDDIR}" && pwd)
secs=${GZ_VM_TIMEOUT:-600}

grep -q 'GZ_HAVE_VERBS' "$b/Makefile" ||
	tap_skip_all "this build has no verbs provider (no libibverbs-dev)"
gz_vm_ready

# real binaries, not libtool's wrapper scripts
real() { [ -x "$b/$1/.libs/$2" ] && echo "$b/$1/.libs/$2" || echo "$b/$1/$2"; }
set -- "$(real test/api api)=/gz/api" "$(real tools genzio-info)=/gz/genzio-info"
for ex in 01_write_read 02_atomic_counter 03_send_recv 04_loadstore \
	05_rc_pingpong 06_rc_pingpong_compat 07_job_allgather; do
	set -- "$@" "$(real examples $ex)=/gz/$ex"
done
set -- "$@" "$(real bench genzio_perf)=/gz/genzio_perf" \
	"$here/../../bench/compare-perftest=/gz/compare-perftest"
for t in ib_write_lat ib_read_lat ib_send_lat ib_atomic_lat ib_write_bw; do
	set -- "$@" "$(command -v $t)"
done
lib=$(ls "$b"/lib/.libs/libgenzio.so.1 2>/dev/null) &&
	set -- "$@" "$lib=/usr/lib/x86_64-linux-gnu/libgenzio.so.1"
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --timeout "$secs" --cache "$cache" \
	--out "$tmp" "$here/verbs-one.guest" "$@" \
	"$(real test/vm rdfuzz)=/gz/rdfuzz" \
	"$(real test/compat compat)=/gz/compat" 2>"$tmp/run.err"
rc=$?
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --two --timeout "$secs" \
	--cache "$cache" --out "$tmp/two" "$here/verbs-two.guest" "$@" \
	2>>"$tmp/run.err" || rc=1
LD_LIBRARY_PATH=$b/lib/.libs "$here/run.sh" --two --timeout "$secs" \
	--cache "$cache" --out "$tmp/faults" "$here/verbs-faults.guest" "$@" \
	"$(real test/vm stream)=/gz/stream" 2>>"$tmp/run.err" || rc=1

gz_vm_tap "$tmp/guest1.log" verbs: rxe0_up genzio_info_rxe0 \
	01_write_read 02_atomic_counter 03_send_recv 04_loadstore \
	compat_suite_on_verbs rd_wireup_survives_hostile_datagrams
gz_vm_tap "$tmp/two/guest1.log" "verbs, two guests:" rxe0_eth0_1 \
	01_write_read_server 02_atomic_counter_server 03_send_recv_server \
	04_loadstore 05_rc_pingpong_server 06_rc_pingpong_compat_server \
	job_2x2_ranks_0_1 perftest_server
gz_vm_tap "$tmp/two/guest2.log" "verbs, two guests:" rxe0_eth0_2 \
	01_write_read_client 02_atomic_counter_client 03_send_recv_client \
	05_rc_pingpong_client 06_rc_pingpong_compat_client job_2x2_ranks_2_3 \
	perftest_table
gz_vm_tap "$tmp/faults/guest2.log" "verbs, faults:" \
	link_down_reconnects_and_verifies peer_killed_flushes_and_tells
# the table, for the log
tr -d '\r' <"$tmp/two/guest2.log" | sed -n '/genzio over verbs/,/never asserted/p'
# the suite's own lines: only tests that ran (a filtered one is no test)
tr -d '\r' <"$tmp/guest1.log" | sed -n 's/^TAP: //p' |
	awk '/^(not )?ok / && !/# SKIP test was skipped/ { print } /^  /' |
	sed -E 's/^(not ok|ok)( [0-9]+)? -/\1 - verbs:/' >"$tmp/suite.tap"
n=$(grep -cE '^(not )?ok ' "$tmp/suite.tap")
[ "$n" -gt 0 ] || echo "not ok - verbs: the conformance suite reported nothing"
while IFS= read -r l; do
	case $l in
	"ok - "*) tap_ok "${l#ok - }" ;;
	"not ok - "*) tap_not_ok "${l#not ok - }" ;;
	*) echo "# $l" ;;
	esac
done <"$tmp/suite.tap"
[ "$n" -gt 0 ] || tap_n=$((tap_n + 1))
echo "1..$tap_n"
if [ $rc = 0 ] && ! grep -q '^not ok' "$tmp/suite.tap"; then
	rm -rf "$tmp"
else
	sed 's/^/# /' "$tmp/run.err"
	echo "# consoles kept in $tmp"
fi
