# SPDX-License-Identifier: MIT
# TAP helpers for scripted checks: source, call tap_plan N, then ok/not_ok/skip.
tap_n=0
tap_plan() { echo "1..$1"; }
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
tap_ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
tap_not_ok() { tap_n=$((tap_n + 1)); echo "not ok $tap_n - $*"; }
tap_skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
# tap_run NAME CMD...: ok if CMD exits 0, skip if 77, else not ok with
# output; nothing may hang: TAP_TIMEOUT seconds (default 600) at most
tap_run() {
	name=$1; shift
	out=$(timeout "${TAP_TIMEOUT:-600}" "$@" 2>&1); rc=$?
	case $rc in
	0) tap_ok "$name" ;;
	77) tap_skip "$name" "$(printf '%s' "$out" | tail -n 1)" ;;
	124) tap_not_ok "$name (timed out after ${TAP_TIMEOUT:-600} s)" ;;
	*) tap_not_ok "$name (exit $rc)"; printf '%s\n' "$out" | sed 's/^/# /' ;;
	esac
}
