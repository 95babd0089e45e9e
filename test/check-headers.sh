#!/bin/sh
# SPDX-License-Identifier: MIT
# Each public header compiles alone, as C11 and as C++, -Wall -Wextra -pedantic.
. "$GZT_SRCDIR/test/lib/tap.sh"
hdrs=$(cd "$GZT_SRCDIR/include" && ls genzio/*.h)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0; for h in $hdrs; do n=$((n + 2)); done
tap_plan $n
for h in $hdrs; do
	printf '#include <%s>\n#include <%s>\nint gzt_dummy;\n' "$h" "$h" > "$tmp/t.c"
	tap_run "$h alone as C11" ${CC:-cc} -std=c11 -Wall -Wextra -pedantic -Werror \
		-I"$GZT_SRCDIR/include" -c "$tmp/t.c" -o "$tmp/t.o"
	cp "$tmp/t.c" "$tmp/t.cc"
	if command -v ${CXX:-c++} >/dev/null 2>&1; then
		tap_run "$h alone as C++" ${CXX:-c++} -Wall -Wextra -pedantic -Werror \
			-I"$GZT_SRCDIR/include" -c "$tmp/t.cc" -o "$tmp/t.o"
	else
		tap_skip "$h alone as C++" "no C++ compiler"
	fi
done
