#!/bin/sh
# SPDX-License-Identifier: MIT
# libgenzio.so exports exactly the names in lib/libgenzio.map, all versioned.
. "$GZT_SRCDIR/test/lib/tap.sh"
so=$(ls "$GZT_BUILDDIR"/lib/.libs/libgenzio.so.1 2>/dev/null)
[ -n "$so" ] || tap_skip_all "no shared library built"
tap_plan 3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' |
	sed 's/@.*//' | sort -u > "$tmp/exported"
grep -E '^[[:space:]]+genzio_[a-z0-9_]+;' "$GZT_SRCDIR/lib/libgenzio.map" |
	tr -d ' \t;' | sort -u > "$tmp/mapped"
if cmp -s "$tmp/exported" "$tmp/mapped"; then
	tap_ok "exported symbols match the map"
else
	tap_not_ok "exported symbols match the map"
	diff "$tmp/exported" "$tmp/mapped" | sed 's/^/# /'
fi
bad=$(grep -v '^genzio_' "$tmp/exported")
[ -z "$bad" ] && tap_ok "only genzio_ names exported" || tap_not_ok "stray exports: $bad"
readelf -d "$so" | grep -q 'SONAME.*libgenzio.so.1' && tap_ok "SONAME is libgenzio.so.1" ||
	tap_not_ok "SONAME is libgenzio.so.1"
