#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one test ("$@") in a host fabric of its own, gzt<this shell's
# pid>, and removes that fabric's files once the test ends, whatever it
# left: a component killed on purpose (kill -9) keeps its files, and so
# does a Criterion test that skips (its fini does not run). Without
# this, every make check left a few fabrics in /dev/shm.
GENZIO_FABRIC=gzt$$
export GENZIO_FABRIC
"$@"
rc=$?
for dir in "${GENZIO_SHM_DIR:-/dev/shm}"/genzio-* \
	$(awk '$3 == "hugetlbfs" { print $2 "/genzio-*" }' /proc/mounts); do
	rm -f "$dir/$GENZIO_FABRIC".* "$dir/$GENZIO_FABRIC"-* \
		"$dir/.$GENZIO_FABRIC".* 2>/dev/null
done
exit $rc
