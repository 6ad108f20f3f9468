#!/bin/sh
# fuzz.sh: runs the libFuzzer targets that `make fuzz-programs` built in
# BUILD/fuzz (one per tests/fuzz/fuzz_*.c), one after the other, never in
# parallel, each from its committed corpus tests/fuzz/corpus/<target>.
#
#   scripts/fuzz.sh smoke BUILD
#       `make test`: each target replays its corpus and runs a few
#       thousand mutations of it with a fixed seed (a few seconds each).
#   scripts/fuzz.sh run BUILD SECONDS [RUNS]
#       `make fuzz`: each target fuzzes for SECONDS (or until RUNS
#       executions, when given), keeping what it learns in
#       BUILD/fuzz-corpus/<target> (never in the committed corpus), and
#       its log in BUILD/fuzz-logs/<target>.log.
# FUZZ_TARGETS="config dns" runs only those; FUZZ_FLAGS="-max_len=1024"
# adds libFuzzer flags to a long run.
#
# Any crash, contract broken (the targets abort) or hang (an input running
# longer than 10 s) is saved as BUILD/fuzz-artifacts/<target>-<kind>-<hash>
# and fails the run; replay one with `BUILD/fuzz/<target> FILE`. A fixed
# reproducer belongs in the corpus as regress-<what>, so every smoke
# replays it. The targets' own stderr (swerve's log lines) is closed
# (-close_fd_mask=2); libFuzzer's and the sanitizers' reports are kept.
set -eu
cd "$(dirname "$0")/.."
mode=${1:?usage: fuzz.sh smoke|run BUILD [SECONDS [RUNS]]}
build=${2:?usage: fuzz.sh smoke|run BUILD [SECONDS [RUNS]]}
seconds=${3:-}
runs=${4:-}
smoke_runs=10000

# The targets are the programs built from tests/fuzz/fuzz_*.c, or those
# named in FUZZ_TARGETS ("config dns").
targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
	for src in tests/fuzz/fuzz_*.c; do
		t=${src#tests/fuzz/fuzz_}
		targets="$targets ${t%.c}"
	done
fi
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"

# stat NAME LOG: a number from libFuzzer's -print_final_stats lines.
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=0
for t in $targets; do
	seeds=tests/fuzz/corpus/$t
	[ -d "$seeds" ] || { echo "fuzz: $t has no corpus $seeds" >&2; exit 1; }
	[ -x "$build/fuzz/$t" ] || { echo "fuzz: $build/fuzz/$t is not built" >&2; exit 1; }
	nseeds=$(find "$seeds" -type f | wc -l)
	log=$build/fuzz-logs/$t.log
	if [ "$mode" = smoke ]; then
		# Apart from a long run's corpus and log, which may be going.
		work=$build/fuzz-smoke/$t
		log=$build/fuzz-smoke/$t.log
		rm -rf "$work"
		set -- -runs=$((smoke_runs + nseeds)) -seed=1
	else
		work=$build/fuzz-corpus/$t
		set -- -max_total_time="${seconds:?SECONDS}"
		[ -n "$runs" ] && set -- "$@" -runs="$runs"
		# More libFuzzer flags for a long run, e.g. -max_len=1024.
		# shellcheck disable=SC2086
		set -- "$@" ${FUZZ_FLAGS:-}
	fi
	mkdir -p "$work"
	start=$(date +%s)
	rc=0
	"$build/fuzz/$t" "$@" -timeout=10 -close_fd_mask=2 \
		-print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/$t-" \
		"$work" "$seeds" > "$log" 2>&1 || rc=$?
	secs=$(($(date +%s) - start))
	executed=$(stat number_of_executed_units "$log")
	rate=$(stat average_exec_per_sec "$log")
	if [ "$rc" = 0 ]; then
		[ "$mode" = smoke ] && rate= || rate=" (${rate:-?} per second)"
		echo "fuzz: $t: ${executed:-?} executions in ${secs}s$rate," \
		     "0 crashes, 0 hangs"
		continue
	fi
	failed=1
	echo "fuzz: $t FAILED after ${executed:-?} executions (exit $rc):" >&2
	grep -E 'ERROR: libFuzzer|SUMMARY|contract broken|Test unit written' \
		"$log" >&2 || tail -n 20 "$log" >&2
done
exit $failed
