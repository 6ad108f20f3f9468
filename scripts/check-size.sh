#!/bin/sh
# check-size.sh: the house limits, checked on every `make test`: no source
# file over 900 lines, no C function over 80 lines (from the line of its
# opening brace to its closing one; tables and other initialisers are not
# functions and are not counted). Prints each offender; exits 1 if any.
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard -- 'src/*' 'tests/*' 'scripts/*' \
	Makefile | grep -E '\.(c|h|sh)$|Makefile$' || true)
bad=0
for f in $files; do
	[ -f "$f" ] || continue
	n=$(wc -l < "$f")
	if [ "$n" -gt 900 ]; then
		echo "check-size: $f has $n lines (limit 900)" >&2
		bad=1
	fi
	case $f in
	*.c|*.h)
		# A function body opens with "{" alone in column 0 and closes
		# with "}" alone in column 0 (the house brace style).
		awk -v f="$f" '
			/^\{$/ { start = NR; name = prev; next }
			/^\}$/ && start { len = NR - start + 1
				if (len > 80) { printf "check-size: %s:%d: %s is %d lines (limit 80)\n", f, start, name, len; bad = 1 }
				start = 0 }
			{ if ($0 ~ /^[A-Za-z_].*\(/) prev = $0 }
			END { exit bad }' "$f" >&2 || bad=1
		;;
	esac
done
exit $bad
