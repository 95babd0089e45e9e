#!/bin/sh
# SPDX-License-Identifier: MIT
# Every man page renders without groff warnings; every exported function
# has a page (or a .so alias) of its own name.
. "$GZT_SRCDIR/test/lib/tap.sh"
command -v groff >/dev/null 2>&1 || tap_skip_all "groff not installed"
cd "$GZT_SRCDIR/man" || exit 1
pages=$(ls man1/*.1 man3/*.3 man7/*.7)
funcs=$(grep -E '^[[:space:]]+genzio_[a-z0-9_]+;' ../lib/libgenzio.map | tr -d ' \t;')
n=0; for p in $pages $funcs; do n=$((n + 1)); done
tap_plan $n
for p in $pages; do
	out=$(groff -man -ww -z -K utf8 "$p" 2>&1 </dev/null)
	# a font macro glues its arguments together: ".BR x (7)); more
	# words" renders "x(7));morewords", and groff does not warn
	glued=$(grep -nE '^\.(BR|RB|IR|RI) [^ "]+ \([0-9]\)[^ ]* +[^ ]' "$p")
	[ -z "$glued" ] || out="$out${out:+
}words glued to a cross-reference: $glued"
	if [ -z "$out" ]; then tap_ok "$p renders cleanly"
	else tap_not_ok "$p renders cleanly"; printf '%s\n' "$out" | sed 's/^/# /'; fi
done
for f in $funcs; do
	[ -f "man3/$f.3" ] && tap_ok "man3/$f.3 exists" || tap_not_ok "man3/$f.3 exists"
done
