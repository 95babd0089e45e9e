#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every example as a user would; exit 77 from one means skip. The
# ping-pongs run as two programs on this host, server and client, as
# rc_pingpong's users run them.
. "$GZT_SRCDIR/test/lib/tap.sh"
set -- 01_write_read 02_atomic_counter 03_send_recv 04_loadstore 07_job_allgather
pingpongs="05_rc_pingpong 06_rc_pingpong_compat"
modes="-s_4096_-n_1000 -e -c"
tap_plan $(($# + 6))
for ex; do
	tap_run "examples/$ex" "$GZT_BUILDDIR/examples/$ex"
done

# pair NAME ARGS...: the server in the background, then the client; ok
# when both exit 0. A port of our own, from our pid.
port=$((20000 + $$ % 20000))
pair() {
	_n=$1; shift
	port=$((port + 1))
	timeout 120 "$@" -p $port >"$GZT_BUILDDIR/pp.srv" 2>&1 &
	_srv=$!
	_out=$(timeout 120 "$@" -p $port localhost 2>&1); _rc=$?
	wait $_srv; _src=$?
	if [ $_rc = 0 ] && [ $_src = 0 ]; then
		tap_ok "$_n"
		printf '%s\n' "$_out" | tail -n 1 | sed 's/^/# /'
	else
		tap_not_ok "$_n (client exit $_rc, server exit $_src)"
		printf '%s\n' "$_out" | sed 's/^/# client: /'
		sed 's/^/# server: /' "$GZT_BUILDDIR/pp.srv"
	fi
	rm -f "$GZT_BUILDDIR/pp.srv"
}
for ex in $pingpongs; do
	for m in $modes; do
		# shellcheck disable=SC2046
		pair "examples/$ex $(echo $m | tr _ ' ') (server and client)" \
			"$GZT_BUILDDIR/examples/$ex" $(echo $m | tr _ ' ')
	done
done
