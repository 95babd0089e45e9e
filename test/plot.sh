#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/plot draws genzio_perf's CSV into a PNG (skipped, saying why,
# without gnuplot), and refuses what is not that CSV.
. "$GZT_SRCDIR/test/lib/tap.sh"
command -v gnuplot >/dev/null 2>&1 || tap_skip_all "gnuplot not installed (apt-get install gnuplot-nox)"
tap_plan 2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$GZT_BUILDDIR/bench/genzio_perf" -t write -s 4096 -n 64 -w 8 --yield \
	--csv >"$tmp/p.csv" 2>/dev/null
if sh "$GZT_SRCDIR/bench/plot" "$tmp/p.csv" "$tmp/p.png" >"$tmp/out" 2>&1 &&
   [ "$(head -c 4 "$tmp/p.png" | od -An -c | tr -d ' ')" = '211PNG' ]; then
	tap_ok "a PNG from genzio_perf --csv"
else
	tap_not_ok "a PNG from genzio_perf --csv"; sed 's/^/# /' "$tmp/out"
fi
echo "not,a,genzio,csv" >"$tmp/bad.csv"
sh "$GZT_SRCDIR/bench/plot" "$tmp/bad.csv" "$tmp/bad.png" >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] && [ ! -e "$tmp/bad.png" ] && tap_ok "other CSV: exit 2, no PNG" ||
	tap_not_ok "other CSV: exit 2, no PNG (exit $rc)"
