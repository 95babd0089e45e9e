#!/bin/sh
# SPDX-License-Identifier: MIT
# genzio-fabric as a user runs it, on a 4-switch ring with a live process
# on each switch: show, routes, link and switch faults and their repair,
# remove and add, the errors; genzio-info -v -g reads a control space;
# a bad description is refused naming its line. Runs the binaries given
# (scripts/test.sh: the installed ones), else the build tree's.
. "$GZT_SRCDIR/test/lib/tap.sh"
fab=${1:-$GZT_BUILDDIR/tools/genzio-fabric}
info=$(dirname "$fab")/genzio-info
fixture=$GZT_BUILDDIR/test/fabric-fixture
tap_plan 27
tmp=$(mktemp -d)
dir=${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)
export GENZIO_FABRIC=fab$$ GENZIO_FABRIC_FILE=$tmp/ring.fab
trap 'umount "$tmp/small" 2>/dev/null; rm -f "$tmp/hold"; wait; rm -rf "$tmp" "$dir/$GENZIO_FABRIC".* \
	"$dir/$GENZIO_FABRIC"-*' EXIT
cat >"$GENZIO_FABRIC_FILE" <<'FAB'
# four switches in a ring, a component on each, one spare
switch sw0
switch sw1
switch sw2
switch sw3
link sw0 sw1
link sw1 sw2
link sw2 sw3
link sw3 sw0
component c0 sw0
component c1 sw1
component c2 sw2
component c3 sw3
component spare sw0
FAB

# t NAME EXIT PATTERN CMD...: CMD's exit status, and a line matching
t() {
	name=$1 want=$2 pat=$3; shift 3
	timeout "${TAP_TIMEOUT:-120}" "$@" >"$tmp/out" 2>&1; rc=$?
	if [ "$rc" = "$want" ] &&
		{ [ -z "$pat" ] || grep -Eq -- "$pat" "$tmp/out"; }; then
		tap_ok "$name"
	else
		tap_not_ok "$name (exit $rc, want $want; no line like '$pat')"
		sed 's/^/# /' "$tmp/out"
	fi
}

t "no one joined yet: exit 1" 1 'cannot open the fabric' "$fab" show
# hold $N $FILE: $N more components, until $FILE goes
hold() {
	: >"$2"
	"$fixture" "$1" "$2" >"$2.ready" &
	for i in $(seq 1 600); do
		grep -q ready "$2.ready" 2>/dev/null && return
		sleep 0.1
	done
}
hold 4 "$tmp/hold"
t "show: the switches" 0 '^switch +sw3 +up$' "$fab" show
t "show: a live component, its GCID, switch, pid" 0 \
	'^component +c2 +up +gcid 0x1003 on sw2, pid [0-9]+$' "$fab" show
t "show: the ring's links" 0 '^link 3 +sw3 - sw0 up$' "$fab" show
t "routes: two hops, and a disjoint alternate" 0 \
	'^  alternate: sw0 > sw[13] > sw2$' "$fab" routes c0
t "link down: exit 0" 0 '' "$fab" link down sw0 sw1
t "show: that link is down" 0 '^link 0 +sw0 - sw1 down$' "$fab" show
t "routes: c1 on its alternate" 0 '^c0 -> c1 \(0x1002\): alternate$' \
	"$fab" routes c0
t "link down twice: exit 1, said" 1 'in that state already' \
	"$fab" link down sw1 sw0
t "a partition: c2 unreachable" 0 '^c0 -> c2 \(0x1003\): down$' \
	sh -c "'$fab' link down sw0 sw3 && '$fab' routes 0x1001"
t "links back: the primary again" 0 '^c0 -> c2 \(0x1003\): primary$' \
	sh -c "'$fab' link up sw0 sw3 && '$fab' link up sw1 sw0 &&
	'$fab' routes c0"
t "remove: shown removed" 0 '^component +c3 +removed ' \
	sh -c "'$fab' remove c3 && '$fab' show"
t "add: up again" 0 '^component +c3 +up ' sh -c "'$fab' add c3 && '$fab' show"
t "switch down: its component's link too" 0 '^link +c2 - sw2 down$' \
	sh -c "'$fab' switch down sw2 && '$fab' show"
t "switch up" 0 '^switch +sw2 +up$' sh -c "'$fab' switch up sw2 && '$fab' show"
t "a component's own link" 0 '^link +c1 - sw1 down$' \
	sh -c "'$fab' link down c1 sw1 && '$fab' show && '$fab' link up sw1 c1"
t "not a command: exit 2" 2 'not a command' "$fab" link sideways sw0 sw1
t "no such component: exit 1" 1 'c9: no such component' "$fab" routes c9
t "no such link: exit 1" 1 'no such link' "$fab" link down sw0 sw2
printf 'switch a\nlnk a b\n' >"$tmp/bad.fab"
t "a running fabric reads no description: a bad one fails nothing" 0 \
	'device shm0' env GENZIO_FABRIC_FILE="$tmp/bad.fab" "$info" -d shm
hold 1 "$tmp/hold2"
t "a full fabric: the next joiner is refused, said" 3 \
	'every component its description lets this process take is in use' \
	env GENZIO_DEBUG=1 "$info" -d shm
rm -f "$tmp/hold2"
wait $!
t "genzio-info -v -g: another's control space" 0 \
	'control space +GCID 0x1003 \(c2\), class bridge' \
	env GENZIO_FABRIC_FILE= "$info" -d shm -v -g 0x1003
rm -f "$tmp/hold"
wait
t "a bad description: its line and reason" 3 'bad.fab:2: unknown keyword' \
	env GENZIO_FABRIC=fabbad$$ GENZIO_FABRIC_FILE="$tmp/bad.fab" \
	GENZIO_DEBUG=1 "$info" -d shm
t "a missing one" 3 'GENZIO_FABRIC_FILE: /nonexistent.fab' \
	env GENZIO_FABRIC=fabbad$$ GENZIO_FABRIC_FILE=/nonexistent.fab \
	GENZIO_DEBUG=1 "$info" -d shm
rm -f "$dir/fabbad$$".*
printf 'subnet 2\nswitch s\ncomponent x s\n' >"$tmp/sub2.fab"
t "a join refused after it built the fabric takes the build back" 1 \
	'nobody ever joined' sh -c "
	export GENZIO_FABRIC=fabsub$$
	GENZIO_FABRIC_FILE= '$info' -d shm >/dev/null 2>&1
	GENZIO_FABRIC_FILE='$tmp/sub2.fab' '$info' -d shm >/dev/null 2>&1
	GENZIO_DEBUG=1 '$fab' show"
rm -f "$dir/fabsub$$".*
# a full tmpfs: the manager file's mapped part is allocated at open, so
# no store or post meets a hole (SIGBUS); sizes that fail at the manager
# file and, with it in, at a later file
small() {
	name="a full tmpfs ($1): an error, no signal"
	if [ "$(id -u)" != 0 ]; then
		tap_skip "$name" "needs root to mount a small tmpfs"
		return
	fi
	mkdir -p "$tmp/small"
	if ! mount -t tmpfs -o "size=$1" gzsmall "$tmp/small" 2>/dev/null; then
		tap_skip "$name" "mount -t tmpfs refused here"
		return
	fi
	t "$name" 3 "$2" env GENZIO_SHM_DIR="$tmp/small" GENZIO_DEBUG=1 \
		GENZIO_FABRIC_FILE= "$info" -d shm
	umount "$tmp/small"
}
small 200k '\.fm: No space left'
small 1m 'genzio_device_open: .*(No space left|Cannot allocate)'
