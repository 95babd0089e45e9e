#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job: install what is missing, build, and run the latency and
# bandwidth benchmark on the shm provider, then the side-by-side table
# with UCX and libfabric (installed here when the package registry has
# them; their columns say n/a otherwise).
set -u
. "$(dirname "$0")/common.sh"
install_deps
optional "ucx-utils libfabric-bin" ucx_perftest \
	"comparison columns will say n/a"
optional gnuplot-nox gnuplot "no plot"
build "$top/build"
huge_setup
export GENZIO_FABRIC=run$$
say "examples"
for ex in 01_write_read 02_atomic_counter 03_send_recv 04_loadstore; do
	"$top/build/examples/$ex" >/dev/null || die "example $ex failed"
done
say "bench/genzio_perf -t write -a (write latency and bandwidth, 8 B to 8 MiB)"
"$top/build/bench/genzio_perf" -t write -a \
	--csv-out "$top/build/bench/genzio_perf.csv" || die "genzio_perf failed"
say "bench/genzio_perf: atomics, sends and the fenced flag at 8 B"
"$top/build/bench/genzio_perf" -t fadd -s 8 --lat &&
	"$top/build/bench/genzio_perf" -t cas -s 8 --lat | tail -n +3 &&
	"$top/build/bench/genzio_perf" -t fence -s 8 --lat | tail -n +3 &&
	"$top/build/bench/genzio_perf" -t send -s 8 --lat | tail -n +3 ||
	die "genzio_perf failed"
say "bench/compare: genzio beside UCX and libfabric, same cores, same run"
sh "$top/bench/compare" "$top/build/bench/genzio_perf"
say "bench/plot: latency and bandwidth against size, genzio beside UCX and libfabric"
sh "$top/bench/plot" "$top/build/bench/genzio_perf.csv" \
	"$top/build/bench/genzio_perf.png" --others ||
	say "bench/plot failed: no plot"
# the registry of this run's fabric outlives its processes by design
clean_fabrics run
