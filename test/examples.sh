#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every example as a user would; exit 77 from one means skip.
. "$GZT_SRCDIR/test/lib/tap.sh"
set -- 01_write_read 02_atomic_counter 03_send_recv 04_loadstore 07_job_allgather
tap_plan $#
for ex; do
	tap_run "examples/$ex" "$GZT_BUILDDIR/examples/$ex"
done
