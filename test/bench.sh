#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmarks keep working: every test at a tiny iteration and warm-up
# count, with and without --json. No number is asserted: performance lives
# in bench/. Bounded by iterations: on cores shared with another heavy job
# a busy-poll round trip can cost a scheduler slice, so few of them.
. "$GZT_SRCDIR/test/lib/tap.sh"
tap_plan 9
perf="$GZT_BUILDDIR/bench/genzio_perf"
# --yield: a wait gives the core away, so the two sides progress even
# where another job holds the cores (a busy wait would cost a slice each)
# every latency row; bandwidth rows of every test at one size, and of
# write at every size (a send row at every size costs the receiver a
# slice per batch on loaded cores: minutes under distcheck's parallel load)
tap_run "genzio_perf -t all -a --lat, tiny" "$perf" -t all -a --lat -n 4 -w 2 --yield
tap_run "genzio_perf --bw: every test at 4 KiB, write at every size" sh -c \
	"'$perf' -t all -s 4096 --bw -n 4 -w 2 --yield && '$perf' -t write -a --bw -n 4 --yield"
tap_run "genzio_perf --json parses" sh -c "'$perf' -t write -s 4096 -n 64 -w 8 --yield --json |
	python3 -c 'import json,sys; r=json.load(sys.stdin); assert r and r[0][\"bytes\"]==4096' 2>/dev/null ||
	'$perf' -t write -s 4096 -n 64 -w 8 --yield --json | grep -q '\"bytes\": 4096'"
tap_run "genzio_perf --csv: a header and rows of as many fields" sh -c "'$perf' -t write -s 4096 -n 64 -w 8 --yield --csv |
	awk -F, 'NR == 1 { n = NF } NF != n { exit 1 } END { exit NR < 3 }'"
tap_run "genzio_perf --rt pins and reports" "$perf" -t fadd -s 8 -n 64 -w 8 --lat --rt
tap_run "fabric_scale: 256 and 4096 components route, a row each" sh -c \
	"'$GZT_BUILDDIR/bench/fabric_scale' -n 256,4096 -r 1 -o 0 |
	awk '\$1 == 256 || \$1 == 4096 { n++ } END { exit n != 2 }'"
tap_run "compat_lat: native and compat rounds, tiny" sh -c \
	"'$GZT_BUILDDIR/bench/compat_lat' -n 200 -r 2 --yield | grep -q '^write lat 8 B '"

# client/server on one host, over TCP as perftest: the server waits for
# one client and exits with it
# below the kernel's ephemeral ports (32768 on), where a connection of
# another program could hold it
port=$((10000 + $$ % 10000))
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cs() {	# cs TEST ARGS...: one client/server run of TEST, both exit 0
	t=$1; shift
	timeout 330 "$perf" -S -p "$port" --yield >"$tmp/srv" 2>&1 & srv=$!
	timeout 300 "$perf" -p "$port" -t "$t" -s 4096 -w 8 --yield "$@" \
		127.0.0.1 >"$tmp/cli" 2>&1; rc=$?
	wait $srv; src=$?
	port=$((port + 1))
	[ "$rc" = 0 ] && [ "$src" = 0 ] && grep -q "^${t}_lat " "$tmp/cli"
}
# a send ping-pong on loaded cores costs a slice per message: latency
# rows only, few of them
if cs write -n 64 && cs send -n 16 --lat; then
	tap_ok "client/server over TCP: write and send rows, both sides exit 0"
else
	tap_not_ok "client/server over TCP: write and send rows, both sides exit 0"
	sed 's/^/# /' "$tmp/cli" "$tmp/srv"
fi
# a client killed in the middle of a row: the server sees the connection
# close in its wait and exits 1, never spins on (bounded: 60 s)
timeout 330 "$perf" -S -p "$port" --yield >"$tmp/srv" 2>&1 & srv=$!
"$perf" -p "$port" -t write -s 8 --lat -n 100000000 -w 8 --yield 127.0.0.1 \
	>"$tmp/cli" 2>&1 & cli=$!
# the client connects before anything else; then it is killed wherever it
# is (its baseline, the row): the server is in a read or a wait
i=0; while [ $i -lt 600 ] && ! grep -q 'client connected' "$tmp/srv"; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
kill -9 $cli 2>/dev/null; wait $cli 2>/dev/null
i=0; while [ $i -lt 600 ] && kill -0 $srv 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
wait $srv; src=$?
if [ "$src" = 1 ] && grep -Eq "went away|exchange" "$tmp/srv"; then
	tap_ok "a client killed mid-row: the server exits 1 saying so"
else
	tap_not_ok "a client killed mid-row: the server exits 1 saying so (exit $src)"
	sed 's/^/# /' "$tmp/srv"
fi
