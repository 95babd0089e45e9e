#!/bin/sh
# SPDX-License-Identifier: MIT
# The conformance suite on the vfio provider's host-only mode: a
# genzio-bridged of its own serves a bridge file, every context of the
# suite (its forked targets too) is a component of it (GENZIO_BRIDGE,
# GENZIO_DEVICE=bridge0). The same driver logic as in a QEMU guest, but
# the BAR is the file (test/vm/vfio.sh runs the suite through VFIO).
tmp=$(mktemp -d) || exit 99
bridged=
trap '[ -n "$bridged" ] && kill "$bridged" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
# 32 slots of 36 MiB: the suite's largest data space (32 MiB) and its
# most contexts at once, two tests at a time; a sparse file in /dev/shm
# (only what is written takes memory)
file=/dev/shm/genzio-api-bridge-$$
# its fabric's files, in the user's directory, go with it
fab=gzt_api$$
fabfiles=${GENZIO_SHM_DIR:-/dev/shm}/genzio-$(id -u)/$fab
"$GZT_BUILDDIR/tools/genzio-bridged" -q -n 32 -S 1154 -f "$fab" "$file" &
bridged=$!
trap '[ -n "$bridged" ] && kill "$bridged" 2>/dev/null; wait; rm -rf "$tmp" "$file" "$fabfiles".*' EXIT
. "$GZT_SRCDIR/test/lib/bridge.sh"
gzt_bridge_ready "$file" "$bridged" || exit 99
GENZIO_BRIDGE=$file GENZIO_DEVICE=bridge0
export GENZIO_BRIDGE GENZIO_DEVICE
"$GZT_BUILDDIR/test/api/api" "$@"
