#!/bin/sh
# check-door.sh MAP OBJECT...: fails when an object file calls a hooked
# libc name directly instead of through the libc door (swerve_libc_<name>,
# src/base/libc.h). Inside the preloaded library such a call binds to
# swerve's own hook. Every reference shows as a relocation against the
# name, also a call from a hook file to a hook it defines itself (the
# names have default visibility, so the call goes through the PLT).
# base/libc.o is the door: it names them only as dlsym strings.
set -eu
map=$1
shift
names=$(sed -n 's/.*global:\(.*\)/\1/p' "$map" | tr -d ' ' | tr ';' '\n' |
	grep -v '^$')
pattern="[[:space:]]($(echo "$names" | paste -sd'|'))([-+@][^[:space:]]*)?\$"
bad=0
for obj in "$@"; do
	case $obj in */base/libc.o) continue ;; esac
	hits=$(objdump -r "$obj" | grep -E '^[0-9a-f]+ ' | grep -E "$pattern" |
		awk '{print $3}' | sed 's/[-+@].*//' | sort -u || true)
	if [ -n "$hits" ]; then
		echo "check-door: $obj calls hooked names directly:" $hits >&2
		bad=1
	fi
done
[ $bad -eq 0 ] || exit 1
