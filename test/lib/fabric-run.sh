#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one test ("$@") in a host fabric of its own, gzt<this shell's
# pid>, and removes that fabric's files around it, whatever the test
# left: a component killed on purpose (kill -9) keeps its files, so does
# a Criterion test that skips or crashes (its fini does not run; its
# fabric is gzt<pid>_<worker>, test/lib/gzt.c), and an earlier run of
# this pid stopped by a signal may have left them. Without this, every
# make check left a few fabrics in /dev/shm.
GENZIO_FABRIC=gzt$$
export GENZIO_FABRIC

clean() {
	for dir in "${GENZIO_SHM_DIR:-/dev/shm}"/genzio-* $(awk \
		'$3 == "hugetlbfs" { print $2 "/genzio-*" }' /proc/mounts \
		2>/dev/null); do
		# another user's genzio-<uid> may be a symlink to anywhere
		[ -d "$dir" ] && [ ! -L "$dir" ] || continue
		rm -f "$dir/$GENZIO_FABRIC".* "$dir/$GENZIO_FABRIC"-* \
			"$dir/$GENZIO_FABRIC"_* "$dir/.$GENZIO_FABRIC".* \
			"$dir/.$GENZIO_FABRIC"_* 2>/dev/null
	done
}

for sig in INT TERM HUP; do
	# shellcheck disable=SC2064 # $sig now, on purpose
	trap "clean; trap - $sig; kill -$sig \$\$" $sig
done
clean
"$@"
rc=$?
clean
exit $rc
