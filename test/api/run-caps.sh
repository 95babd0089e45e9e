#!/bin/sh
# SPDX-License-Identifier: MIT
# The conformance suite skips by capability: with every optional
# capability of the device hidden (GZT_CAPS_HIDE), each test that
# declares one (GZT_REQUIRE) skips naming it, and every other test still
# passes. The real run (run-shm.sh) hides nothing and skips nothing.
. "$GZT_SRCDIR/test/lib/tap.sh"
tap_plan 3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
want=$(cat "$GZT_SRCDIR"/test/api/*.c |
	grep -cE '^[[:space:]]+(GZT_REQUIRE(2|_ANY)?\(|gzt_require_caps\()')
GZT_CAPS_HIDE=ATOMIC,MSG,WRITE_IMM,SYNC,RD,RMAP,FINE_STATUS,ONE_SIDED_TARGET,RECV_STAGED,REG_ANY,REG_CONVERT,QP_SURVIVES_FAULT,PEER_WATCH,RECV_ANY,RESET_FLUSHES,CQ_BACKPRESSURE,DEATH_AT_ONCE \
	CRITERION_OUTPUTS='tap:-' timeout 600 "$GZT_BUILDDIR/test/api/api" \
	>"$tmp/tap" 2>"$tmp/err"
rc=$?
bad=$(grep -c '^not ok' "$tmp/tap")
[ "$rc" = 0 ] && [ "$bad" = 0 ] && tap_ok "with capabilities hidden, nothing fails" ||
	{ tap_not_ok "with capabilities hidden, nothing fails (exit $rc)"
	  grep '^not ok' "$tmp/tap" | sed 's/^/# /'; tail -n 5 "$tmp/err" | sed 's/^/# /'; }
got=$(grep -c '# SKIP' "$tmp/tap")
[ "$got" = "$want" ] && tap_ok "each of the $want tests that need one skips" ||
	tap_not_ok "each of the $want tests that need one skips ($got did)"
other=$(grep '# SKIP' "$tmp/tap" | grep -vc 'lacks GENZIO_CAP_')
[ "$other" = 0 ] && tap_ok "every skip names the capability" ||
	tap_not_ok "every skip names the capability ($other do not)"
