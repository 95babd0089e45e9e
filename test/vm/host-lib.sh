# SPDX-License-Identifier: MIT
# Host side of the VM tests, sourced after test/lib/tap.sh: the packages
# they need, installing them, and the guests' GZVM lines as TAP.

# Debian packages the VM tests need on the host. ibverbs-providers, not
# rdma-core: the rxe provider and /etc/libibverbs.d are in it, while the
# binary package rdma-core holds only daemons and udev rules (and pulls
# udev in). Busybox's own cpio writes the initramfs, so no cpio package.
GZ_VM_PKGS="qemu-system-x86 busybox-static ibverbs-utils ibverbs-providers \
perftest iproute2 xz-utils"

# gz_vm_ready: what every VM test does first. QEMU and the rest installed
# (gz_vm_install) and a guest kernel in $cache (GZ_VM_CACHE, default
# ~/.cache/genzio-vm), or the whole TAP run skipped with the reason; then
# $tmp, a directory of its own. Needs $here (test/vm).
gz_vm_ready() {
	cache=${GZ_VM_CACHE:-$HOME/.cache/genzio-vm}
	_why=$(gz_vm_install) || tap_skip_all "$_why"
	_why=$("$here/kernel.sh" "$cache" 2>&1 >/dev/null) ||
		tap_skip_all "no guest kernel: $(printf '%s' "$_why" | tail -n 1)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/gzvm.XXXXXX")
}

# gz_vm_install: install whichever of GZ_VM_PKGS is missing (as root);
# 1 with the reason on stdout when something is missing and cannot be had
gz_vm_install() {
	_missing=
	for _p in $GZ_VM_PKGS; do
		dpkg-query -W -f='${Status}' "$_p" 2>/dev/null |
			grep -q 'install ok installed' || _missing="$_missing $_p"
	done
	[ -n "$_missing" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing:$_missing (not root; apt-get install$_missing)"
		return 1
	fi
	# the package lists may be stale or absent on a fresh machine: update
	# only when the install without it fails
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$_missing >/dev/null 2>&1 ||
	{ apt-get update -qq >/dev/null 2>&1 &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$_missing >/dev/null 2>&1; } ||
	{ echo "apt-get install$_missing failed"; return 1; }
}

# gz_vm_tap LOG PREFIX NAME...: one TAP line per NAME from the GZVM lines of
# the guest console LOG; a NAME the guest never reported is not ok (it
# stopped before). The "# " lines after a not ok (its output) follow it.
gz_vm_tap() {
	_log=$1 _pre=$2; shift 2
	for _name in "$@"; do
		_line=$(tr -d '\r' <"$_log" | grep -E "GZVM: (ok|not ok|skip) $_name( |$)" | tail -n 1)
		case $_line in
		*"GZVM: ok $_name") tap_ok "$_pre $_name" ;;
		*"GZVM: skip $_name"*) tap_skip "$_pre $_name" "${_line#*"GZVM: skip $_name "}" ;;
		*"GZVM: not ok $_name"*)
			tap_not_ok "$_pre $_name"
			tr -d '\r' <"$_log" | awk -v n="$_name" '
				$0 ~ "GZVM: not ok " n "$" { on = 1; next }
				on && /GZVM: / { exit }
				on { sub(/^(# )?/, "# "); print }' ;;
		*)
			tap_not_ok "$_pre $_name (never reported; the console ends:)"
			tr -d '\r' <"$_log" | tail -n 5 | sed 's/^/# /' ;;
		esac
	done
}
