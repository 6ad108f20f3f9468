#!/bin/sh
# tsan.sh: `make tsan`: runs the integration suite RUNNER (a plain
# Criterion program) against the ThreadSanitizer build in BUILD (library,
# swervectl, wrapper and helpers built with -fsanitize=thread), the TSan
# runtime in every client's LD_PRELOAD (after the library: see
# tests/integration/support.c), and fails unless the suite passes and no
# process (client, helper, tool) reported anything.
#   scripts/tsan.sh BUILD RUNNER [CRITERION-ARGS...]
# Each process writes its reports to BUILD/tsan/report.<pid>; they are
# printed at the end. Tests that cannot run under a preloaded sanitizer
# runtime skip themselves with a reason: curl does not start under TSan,
# swerve or not (it hangs, or crashes in its resolver thread), nor does
# getaddrinfo_a (glibc starts its thread behind TSan's back).
set -eu
cd "$(dirname "$0")/.."
build=$(cd "${1:?usage: tsan.sh BUILD RUNNER}" && pwd)
runner=${2:?usage: tsan.sh BUILD RUNNER}
shift 2
reports=$build/tsan
rm -rf "$reports"
mkdir -p "$reports"

# halt_on_error=0: a client goes on after a report, so one run shows every
# race; the report file is what fails the run. second_deadlock_stack=1:
# lock-order reports name both acquisitions.
rc=0
SWERVE_BUILD=$build SWERVE_SRC=$(pwd) \
SWERVE_PRELOAD_EXTRA=$(${CC:-cc} -print-file-name=libtsan.so) \
TSAN_OPTIONS="log_path=$reports/report second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
	"$runner" --jobs 1 --xml="$build/tsan-integration.xml" "$@" || rc=$?

found=$(find "$reports" -type f | wc -l)
if [ "$found" -gt 0 ]; then
	for f in "$reports"/*; do
		echo "== $f"
		cat "$f"
	done
	echo "tsan: $found process(es) reported; see above" >&2
	exit 1
fi
if [ "$rc" != 0 ]; then
	echo "tsan: the integration suite failed under ThreadSanitizer" >&2
	exit "$rc"
fi
echo "tsan: integration suite passed, no ThreadSanitizer report"
