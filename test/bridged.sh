#!/bin/sh
# SPDX-License-Identifier: MIT
# genzio-bridged as a process (TAP): its arguments and errors; components
# in other processes served through it (test/bridge-client: writes, reads
# and atomics between two slots; two processes writing each other's
# window); a component that sees it killed, and one that sees it stop.
. "$GZT_SRCDIR/test/lib/tap.sh"
. "$GZT_SRCDIR/test/lib/bridge.sh"
bridged=$GZT_BUILDDIR/tools/genzio-bridged
client=$GZT_BUILDDIR/test/bridge-client
tap_plan 16
tmp=$(mktemp -d)
file=${GENZIO_SHM_DIR:-/dev/shm}/gzbridge$$
pids=
# the engines' fabric, in the user's directory (a killed engine leaves
# its files)
fab=gzt_b$$
fabdir=${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)
trap 'for p in $pids; do kill -9 "$p" 2>/dev/null; done; wait; rm -rf "$tmp" "$file" "$file.b"; rm -f "$fabdir/$fab".*' EXIT

# t NAME EXIT PATTERN CMD...: CMD's exit status, and a line matching
t() {
	name=$1 want=$2 pat=$3; shift 3
	timeout 120 "$@" >"$tmp/out" 2>&1; rc=$?
	if [ "$rc" = "$want" ] && { [ -z "$pat" ] || grep -Eq -- "$pat" "$tmp/out"; }; then
		tap_ok "$name"
	else
		tap_not_ok "$name (exit $rc, want $want; no line like '$pat')"
		sed 's/^/# /' "$tmp/out"
	fi
}
# waited NAME PID OUT PATTERN: background PID exited 0 with a line of
# OUT matching
waited() {
	wait "$2"; rc=$?
	if [ $rc = 0 ] && grep -Eq -- "$4" "$3"; then
		tap_ok "$1"
	else
		tap_not_ok "$1 (exit $rc)"
		sed 's/^/# /' "$3"
	fi
}
# watcher: a component in the background that waits for the bridge to go
watcher() {
	"$client" gone "$file" >"$tmp/g" 2>&1 &
	g=$!
	pids="$pids $g"
	# 20 s (GZT_WAIT_MS's bound): a loaded machine's ASan build is slow
	for i in $(seq 1 200); do grep -q ready "$tmp/g" && break; sleep 0.1; done
}
start() {
	rm -f "$file" # a killed engine's magic would fool a component
	"$bridged" -q -S 16 -f "$fab" "$@" "$file" 2>"$tmp/bridged.err" &
	bpid=$!
	pids="$pids $bpid"
	# one that did not start fails what follows; why, for the log
	gzt_bridge_ready "$file" $bpid 2>"$tmp/ready.err" ||
		sed 's/^/# /' "$tmp/ready.err" "$tmp/bridged.err"
}

t "no file: usage, exit 2" 2 '^usage: genzio-bridged' "$bridged"
t "an odd size: exit 2, said" 2 'not a multiple of 2' "$bridged" -S 7 "$file"
t "more slots than fit: exit 1, said" 1 'cannot hold 4 slots' \
	"$bridged" -S 16 -n 4 "$file"
start # formatted (its magic written) means locked: the lock comes first
t "a second engine on the file: exit 1, said" 1 'another genzio-bridged serves it' \
	"$bridged" -q -S 16 "$file"
t "a second engine on its fabric: exit 1, said" 1 \
	'fabric gzt_b[0-9]+: another genzio-bridged manages it' \
	"$bridged" -q -S 16 -f "$fab" "$file.b"
t "a bad fabric name: exit 1, said" 1 'not a fabric name' \
	"$bridged" -q -S 16 -f no-such "$file.b"
t "two slots of one process: writes, reads, atomics, a bad key" 0 \
	'^ok bad_rkey_is_its_status_and_writes_nothing$' "$client" rma "$file"
"$client" peer "$file" 1 >"$tmp/p1" 2>&1 &
p1=$!
pids="$pids $p1"
for i in $(seq 1 100); do grep -q '^ok paired' "$tmp/p1" && break; sleep 0.1; done
t "two processes write each other's window" 0 \
	'^ok its_flag_raised_and_every_byte_landed$' "$client" peer "$file" 2
waited "and the first saw its window written" $p1 "$tmp/p1" \
	'^ok its_flag_raised_and_every_byte_landed$'
# killed: the component sees the heartbeat stop
watcher
t "genzio-fabric shows the bridge's component, held by the engine" 0 \
	"^component +c[0-9] +up +gcid 0x100[0-9] on sw0, pid $bpid\$" \
	env GENZIO_BRIDGE="$file" "$GZT_BUILDDIR/tools/genzio-fabric" -d bridge0 show
kill -9 $bpid
waited "a killed bridge is seen gone (its heartbeat stopped)" $g "$tmp/g" \
	'^ok sees_the_bridge_gone$'
# stopped: exit 0, and the component sees it at once
start
watcher
kill -TERM $bpid
wait $bpid; rc=$?
[ $rc = 0 ] && tap_ok "SIGTERM: exit 0" || tap_not_ok "SIGTERM: exit 0 (exit $rc)"
waited "a stopped bridge is seen gone" $g "$tmp/g" '^ok sees_the_bridge_gone$'
# its components left the fabric (its files stay: others may hold them)
"$GZT_BUILDDIR/tools/genzio-fabric" -d shm0 -f "$fab" show >"$tmp/show" 2>&1
if grep -q '^switch' "$tmp/show" && ! grep -q '^component' "$tmp/show"; then
	tap_ok "at a clean stop its components leave the fabric"
else
	tap_not_ok "at a clean stop its components leave the fabric"
	sed 's/^/# /' "$tmp/show"
fi
# a description declaring one component: the second claim is refused
printf 'switch s\ncomponent only s\n' >"$tmp/one.fab"
start -F "$tmp/one.fab"
t "a claim its fabric refuses: the component is told, the engine says why" \
	1 'claim: Cannot assign requested address' "$client" rma "$file"
grep -q "is not one its description declares free" "$tmp/bridged.err" &&
	tap_ok "and genzio-bridged said why" ||
	{ tap_not_ok "and genzio-bridged said why"; sed 's/^/# /' "$tmp/bridged.err"; }
kill -TERM $bpid
wait $bpid
