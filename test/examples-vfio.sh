#!/bin/sh
# SPDX-License-Identifier: MIT
# The examples (test/examples.sh: each as a user runs it, the ping-pongs
# as server and client) on the vfio provider's host-only mode: a
# genzio-bridged of its own serves a bridge file, every program a
# component of it (GENZIO_BRIDGE, GENZIO_DEVICE=bridge0), as
# genzio_vfio(7) tells a user to run them.
file=/dev/shm/genzio-examples-bridge-$$
# its fabric's files, in the user's directory, go with it
fab=gzt_ex$$
fabfiles=${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)/$fab
bridged=
trap '[ -n "$bridged" ] && kill "$bridged" 2>/dev/null; wait; rm -f "$file" "$fabfiles".*' EXIT
trap 'exit 1' INT TERM HUP
"$GZT_BUILDDIR/tools/genzio-bridged" -q -n 8 -S 130 -f "$fab" "$file" &
bridged=$!
. "$GZT_SRCDIR/test/lib/bridge.sh"
gzt_bridge_ready "$file" "$bridged" || exit 99
GENZIO_BRIDGE=$file GENZIO_DEVICE=bridge0
export GENZIO_BRIDGE GENZIO_DEVICE
sh "$GZT_SRCDIR/test/examples.sh"
