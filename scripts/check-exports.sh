#!/bin/sh
# Fails unless LIBRARY exports exactly the hooked libc names (and nothing of
# c-ares, inih or swerve's own internals).
set -eu
lib=$1
allowed='^(getaddrinfo|gethostbyname|gethostbyname_r|gethostbyname2|gethostbyname2_r|connect|close|getsockopt|read|write|recv|send|recvfrom|sendto|recvmsg|sendmsg)$'
extra=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
	grep -vE "$allowed" | grep -vE '^(_init|_fini)$' || true)
if [ -n "$extra" ]; then
	echo "check-exports: $lib exports more than the hooks:" $extra >&2
	exit 1
fi
