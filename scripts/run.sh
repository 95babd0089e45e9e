#!/bin/sh
# SPDX-License-Identifier: MIT
# The main job: install what is missing, build, run the examples on shm.
set -u
. "$(dirname "$0")/common.sh"
install_deps
build "$top/build"
huge_setup
for ex in 01_write_read 02_atomic_counter 03_send_recv 04_loadstore; do
	say "examples/$ex"
	GENZIO_FABRIC=run$$ "$top/build/examples/$ex" || die "$ex failed"
done
