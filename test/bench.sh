#!/bin/sh
# SPDX-License-Identifier: MIT
# The benchmarks keep working: every test at a tiny iteration and warm-up
# count, with and without --json. No number is asserted: performance lives
# in bench/. Bounded by iterations: on cores shared with another heavy job
# a busy-poll round trip can cost a scheduler slice, so few of them.
. "$GZT_SRCDIR/test/lib/tap.sh"
tap_plan 3
perf="$GZT_BUILDDIR/bench/genzio_perf"
tap_run "genzio_perf -t all -a, tiny" "$perf" -t all -a -n 16 -w 8
tap_run "genzio_perf --json parses" sh -c "'$perf' -t write -s 4096 -n 64 -w 8 --json |
	python3 -c 'import json,sys; r=json.load(sys.stdin); assert r and r[0][\"bytes\"]==4096' 2>/dev/null ||
	'$perf' -t write -s 4096 -n 64 -w 8 --json | grep -q '\"bytes\": 4096'"
tap_run "genzio_perf --rt pins and reports" "$perf" -t fadd -s 8 -n 64 -w 8 --lat --rt
