#!/bin/sh
# SPDX-License-Identifier: MIT
# The conformance suite on the shm provider (always present).
GENZIO_PROVIDER=shm
export GENZIO_PROVIDER
exec "$GZT_BUILDDIR/test/api/api" "$@"
