#!/bin/sh
# check-exports.sh LIBRARY MAP: fails unless LIBRARY exports exactly the
# names of MAP (the version script generated from SWERVE_LIBC_HOOKED in
# src/base/libc.h), and nothing of c-ares, inih or swerve's own internals.
set -eu
lib=$1
map=$2
names=$(sed -n 's/.*global:\(.*\)/\1/p' "$map" | tr -d ' ' | tr ';' '\n' |
	grep -v '^$')
[ -n "$names" ] || { echo "check-exports: no names in $map" >&2; exit 1; }
allowed="^($(echo "$names" | paste -sd'|'))\$"
defined=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
	grep -vE '^(_init|_fini)$' || true)
extra=$(echo "$defined" | grep -vE "$allowed" || true)
if [ -n "$extra" ]; then
	echo "check-exports: $lib exports more than the hooks:" $extra >&2
	exit 1
fi
for n in $names; do
	if ! echo "$defined" | grep -qx "$n"; then
		echo "check-exports: $lib does not define the hook $n" >&2
		exit 1
	fi
done
