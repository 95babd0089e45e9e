# SPDX-License-Identifier: MIT
# Sourced by a guest script (". /guest-lib.sh") inside a guest booted by
# test/vm/run.sh; the shell is busybox sh. The results are console lines
# the host reads (test/vm/host-lib.sh):
#   GZVM: ok NAME             GZVM: not ok NAME        GZVM: skip NAME REASON
# NAME is one word; lines starting with "# " are comments. /init prints
# "GZVM: done" after the script returns: a guest that stops before it
# (panic, hang, killed) has failed, whatever it printed.
# Names starting with _ are this file's scratch variables (no "local" in
# POSIX sh).

gz_ok() { echo "GZVM: ok $1"; }
gz_skip() { _n=$1; shift; echo "GZVM: skip $_n $*"; }
# gz_not_ok NAME [WHY...]
gz_not_ok() {
	echo "GZVM: not ok $1"
	[ $# -lt 2 ] || { shift; echo "# $*"; }
}

# gz_expect NAME ERE CMD...: ok when CMD exits 0 within GZ_TIMEOUT seconds
# (default 60) and prints a line matching ERE; else not ok, with the output
gz_expect() {
	_n=$1 _re=$2; shift 2
	_out=$(timeout "${GZ_TIMEOUT:-60}" "$@" 2>&1)
	_rc=$?
	if [ $_rc = 0 ] && printf '%s\n' "$_out" | grep -Eq -- "$_re"; then
		gz_ok "$_n"
	else
		gz_not_ok "$_n" "exit $_rc, want a line like '$_re' from: $*"
		printf '%s\n' "$_out" | sed 's/^/# /'
	fi
}

# gz_check NAME CMD...: gz_expect with any output
gz_check() { _n=$1; shift; gz_expect "$_n" '' "$@"; }

# Where this guest is: run.sh puts gz.idx=N (1, 2) and gz.guests=N on the
# kernel command line. Guest N has 10.0.0.N when it has a network.
gz_arg() {
	for _w in $(cat /proc/cmdline); do
		case $_w in "$1"=*) echo "${_w#*=}"; return 0 ;; esac
	done
	echo "$2"
}
gz_idx() { gz_arg gz.idx 1; }
gz_guests() { gz_arg gz.guests 1; }
gz_peer() { echo "10.0.0.$((3 - $(gz_idx)))"; }

# gz_until SECS CMD...: run CMD every 0.2 s until it succeeds; 1 after SECS.
# (sleep, not an event: these are polls of state another guest or the
# kernel changes, with nothing to wait on)
gz_until() {
	_end=$(($(date +%s) + $1)); shift
	until "$@"; do
		[ "$(date +%s)" -lt $_end ] || return 1
		sleep 0.2
	done
}

# The rxe device, its netdev and address, as the gz_rxe_* below set them
GZ_RXE=rxe0
GZ_IP=

gz_port_active() {
	grep -q ACTIVE "/sys/class/infiniband/$GZ_RXE/ports/1/state" 2>/dev/null
}

# gz_rxe NETDEV IP: address NETDEV, bring it up, put rxe0 on it and wait
# until its port is active
gz_rxe() {
	GZ_IP=$2
	ip addr add "$2/24" dev "$1" &&
	ip link set "$1" up &&
	rdma link add "$GZ_RXE" type rxe netdev "$1" &&
	gz_until 10 gz_port_active
}

# gz_eth: eth0 up as 10.0.0.IDX/24, the link between two guests (no rxe)
gz_eth() { ip addr add "10.0.0.$(gz_idx)/24" dev eth0 && ip link set eth0 up; }

# gz_ivshmem_vfio: bind every ivshmem function (1af4:1110) to vfio-pci;
# GZ_IVSHMEM_N says how many are bound, GZ_IVSHMEM_FIRST the first's
# address
gz_ivshmem_vfio() {
	_n=0 GZ_IVSHMEM_FIRST=
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_d/vendor")" = 0x1af4 ] &&
			[ "$(cat "$_d/device")" = 0x1110 ] || continue
		echo vfio-pci >"$_d/driver_override"
		basename "$_d" >/sys/bus/pci/drivers_probe
		[ "$(basename "$(readlink "$_d/driver")")" = vfio-pci ] &&
			_n=$((_n + 1))
		GZ_IVSHMEM_FIRST=${GZ_IVSHMEM_FIRST:-$(basename "$_d")}
	done
	GZ_IVSHMEM_N=$_n
}

# gz_rxe_dummy: rxe0 on a new dummy0 (10.0.0.1/24): one guest, no NIC
gz_rxe_dummy() {
	[ -d /sys/module/dummy ] || modprobe dummy numdummies=0 || return 1
	ip link add dummy0 type dummy && gz_rxe dummy0 10.0.0.1
}

# gz_rxe_eth: rxe0 on eth0, the link between the guests (10.0.0.IDX/24)
gz_rxe_eth() { gz_rxe eth0 "10.0.0.$(gz_idx)"; }

# gz_gid_index [IP]: the index of rxe0's RoCE v2 GID for IP (default
# GZ_IP), ::ffff:IP. The kernel fills the GID table from the netdev's
# addresses after the fact, so this waits for it (10 s at most).
gz_gid_index() {
	_want=$(echo "${1:-$GZ_IP}" |
		awk -F. '{ printf "0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x", $1, $2, $3, $4 }')
	gz_until 10 gz_find_gid "$_want"
}
gz_find_gid() {
	_p=/sys/class/infiniband/$GZ_RXE/ports/1
	for _g in "$_p"/gids/*; do
		_i=${_g##*/}
		if [ "$(cat "$_g" 2>/dev/null)" = "$1" ] &&
			[ "$(cat "$_p/gid_attrs/types/$_i" 2>/dev/null)" = "RoCE v2" ]; then
			echo "$_i"
			return 0
		fi
	done
	return 1
}

# Two guests. gz_wait_peer [SECS]: wait (default 60 s) until the other
# guest answers a ping, i.e. its network is up.
gz_wait_peer() { gz_until "${1:-60}" ping -c 1 -W 1 "$(gz_peer)" >/dev/null 2>&1; }

# gz_signal NAME: tell the other guest NAME happened; gz_wait_for NAME
# [SECS]: wait (default 60 s) until the other guest has signalled NAME;
# gz_barrier NAME [SECS]: both. A signal is a file served over HTTP
# (busybox httpd on GZ_CTL_PORT), so polling it disturbs nothing: a probe of
# a test's own port would take the one connection its server accepts.
GZ_CTL_PORT=7777
gz_signal() {
	mkdir -p /run/gzvm-www
	[ -e /run/gzvm-www/.httpd ] ||
		{ httpd -p "$GZ_CTL_PORT" -h /run/gzvm-www && : >/run/gzvm-www/.httpd; } ||
		return 1
	: >"/run/gzvm-www/$1"
}
# (nc, not wget: Debian's static busybox wget dies of SIGSEGV, even on the host)
gz_fetch() {
	printf 'GET /%s HTTP/1.0\r\n\r\n' "$1" |
		nc -w 2 "$(gz_peer)" "$GZ_CTL_PORT" 2>/dev/null | grep -q '^HTTP/1\.. 200'
}
gz_wait_for() { gz_until "${2:-60}" gz_fetch "$1"; }
gz_barrier() { gz_signal "$1" && gz_wait_for "$1" "${2:-60}"; }

# gz_wait_listen PORT [SECS]: wait (default 30 s) until a TCP socket of
# this guest listens on PORT: a server started in the background is ready
gz_wait_listen() {
	_hex=$(printf '%04X' "$1")
	gz_until "${2:-30}" grep -qs ":$_hex [0-9A-F]*:[0-9A-F]* 0A " /proc/net/tcp /proc/net/tcp6
}
