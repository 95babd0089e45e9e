#!/bin/sh
# SPDX-License-Identifier: MIT
# genzio-info as a user runs it: lists the device with its GCID and caps,
# -v adds the limits, -l lists the fabric's live and stale components,
# and with no device it exits 1 and says why. Runs the binary given
# (scripts/test.sh: the installed one), else the build tree's.
. "$GZT_SRCDIR/test/lib/tap.sh"
info=${1:-$GZT_BUILDDIR/tools/genzio-info}
fixture=$GZT_BUILDDIR/test/info-fixture
tap_plan 10
tmp=$(mktemp -d)
export GENZIO_FABRIC=info$$
trap 'rm -rf "$tmp" "${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)/$GENZIO_FABRIC".* \
	"${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)/$GENZIO_FABRIC"-*' EXIT

# t NAME EXIT PATTERN CMD...: CMD's exit status, and a line matching
t() {
	name=$1 want=$2 pat=$3; shift 3
	timeout "${TAP_TIMEOUT:-120}" "$@" >"$tmp/out" 2>&1; rc=$?
	if [ "$rc" = "$want" ] && grep -Eq -- "$pat" "$tmp/out"; then
		tap_ok "$name"
	else
		tap_not_ok "$name (exit $rc, want $want; no line like '$pat')"
		sed 's/^/# /' "$tmp/out"
	fi
}
t "lists shm0 and its GCID" 0 '^device shm0 \(provider shm\)' "$info"
t "names the caps" 0 '^[[:space:]]+caps +RMA ATOMIC MSG' "$info"
t "-v prints every limit" 0 '^[[:space:]]+max_qp_wr +65536' "$info" -v
t "-l: a dead component is stale" 0 '^[[:space:]]+0x1003 +[0-9]+ +stale' \
	"$fixture" "$info" -l
t "-l: a live one is live" 0 '^[[:space:]]+0x1002 +[0-9]+ +live$' \
	"$fixture" "$info" -l
t "no device: exit 1 naming the directory" 1 \
	'no device: shm: /nonexistent/gzt' \
	env GENZIO_SHM_DIR=/nonexistent/gzt "$info"
t "an unknown device: exit 1" 1 '^genzio-info: nosuch0: no such device' \
	"$info" -d nosuch0
t "GENZIO_DEVICE chooses, as for an open" 1 \
	'GENZIO_DEVICE=nosuch0: no such device' env GENZIO_DEVICE=nosuch0 "$info"
t "an unexpected argument: exit 2 naming it" 2 \
	'^genzio-info: extra: unexpected argument' "$info" extra
t "--help: the usage, exit 0" 0 '^usage: genzio-info' "$info" --help
