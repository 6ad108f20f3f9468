#!/bin/sh
# check-layers.sh: each folder of src/ includes only the folders below it
# (README "Source layout"): base nothing; policy base; table base and
# policy; names base, policy and table; tls base, policy and table (the
# session store is a shared segment, which table owns); preload
# everything; tools all but preload and tls. So the modules cannot call each other in a circle across
# folders. Prints each offending include; exits 1 if any.
set -eu
cd "$(dirname "$0")/.."
allowed() {
	case $1 in
	base) echo "base" ;;
	policy) echo "base policy" ;;
	table) echo "base policy table" ;;
	names) echo "base policy table names" ;;
	tls) echo "base policy table tls" ;;
	preload) echo "base policy table names tls preload" ;;
	tools) echo "base policy table names tools" ;;
	*) echo "" ;;
	esac
}
bad=0
for f in $(find src -name '*.c' -o -name '*.h' -o -name '*.in' | sort); do
	layer=$(echo "$f" | cut -d/ -f2)
	ok=$(allowed "$layer")
	for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*"/\1/p' "$f"); do
		case " $ok " in
		*" $inc "*) ;;
		*) echo "check-layers: $f ($layer) includes $inc/" >&2; bad=1 ;;
		esac
	done
done
exit $bad
