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
	f=$GENZIO_FABRIC
	for base in /dev/shm ${GENZIO_SHM_DIR:+"$GENZIO_SHM_DIR"} $(awk \
		'$3 == "hugetlbfs" { print $2 }' /proc/mounts 2>/dev/null); do
		# GNU find follows no symlink below its start: another
		# user's genzio-<uid> may be one to anywhere, now or by the
		# time find gets there; the start is ours (cd -P follows a
		# GENZIO_SHM_DIR that is a link), and "./" keeps -path
		# whatever the base's name has in it
		(CDPATH='' cd -P -- "$base" >/dev/null 2>&1 &&
			find . -mindepth 2 -maxdepth 2 -path './genzio-*/*' \
			! -type d \( -name "$f.*" -o -name "$f-*" -o \
			-name "${f}_*" -o -name ".$f.*" -o -name ".${f}_*" \) \
			-delete 2>/dev/null)
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
