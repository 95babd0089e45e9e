# SPDX-License-Identifier: MIT
# gzt_bridge_ready FILE PID: wait until genzio-bridged PID has formatted
# FILE (its magic, "ZGBR", comes once its slots can be claimed), so that
# a component started next finds a bridge, not an empty file. 20 s at
# most (GZT_WAIT_MS's bound: a loaded machine's ASan build is slow);
# 0, or 1 saying why. Remove FILE before the engine starts: a killed
# engine's magic stays in it.
gzt_bridge_ready() {
	for _gzt_i in $(seq 1 200); do
		# the NULs of a file not yet formatted are no text to a shell
		[ "$(head -c 4 "$1" 2>/dev/null | tr -d '\000')" = ZGBR ] &&
			return 0
		if ! kill -0 "$2" 2>/dev/null; then
			echo "genzio-bridged exited before it formatted $1" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "genzio-bridged did not format $1 in 20 s" >&2
	return 1
}
