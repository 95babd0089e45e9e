#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmarks keep working: every test at a tiny iteration count, with
# and without --json. No number is asserted: performance lives in bench/.
. "$GZT_SRCDIR/test/lib/tap.sh"
tap_plan 3
perf="$GZT_BUILDDIR/bench/genzio_perf"
tap_run "genzio_perf -t all -a, tiny" "$perf" -t all -a -n 64
tap_run "genzio_perf --json parses" sh -c "'$perf' -t write -s 4096 -n 64 --json |
	python3 -c 'import json,sys; r=json.load(sys.stdin); assert r and r[0][\"bytes\"]==4096' 2>/dev/null ||
	'$perf' -t write -s 4096 -n 64 --json | grep -q '\"bytes\": 4096'"
tap_run "genzio_perf --rt pins and reports" "$perf" -t fadd -s 8 -n 64 --lat --rt
