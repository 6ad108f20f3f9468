#!/bin/bash
# scripts/bench.sh (run by `make bench`): swerve side by side with direct
# connections, HAProxy, nginx and stunnel, on loopback only. Writes
# docs/benchmarks.md and docs/bench-latency.png.
#
# Every figure is a ratio against a baseline measured in the same run: the
# cases of one round run back to back, the ratio is taken per round, and the
# median of the rounds is reported with the spread (min..max).
#
# Pinning (2-core machine): every client (bench_micro, wrk, bench_loop,
# curl) runs on CPU 0 (taskset -c 0); every server (sink, nginx backends)
# and every proxy (HAProxy, nginx upstream, stunnel) on CPU 1 (taskset -c
# 1). swerve's cost
# lands on the client's core, a proxy's on the server's core: each set-up
# pays for its own work where it would in production.
#
# TLS origination, side by side (scripts/bench/tls.sh): swerve (wrk in
# plain HTTP, the pump thread inside wrk's process doing the TLS), HAProxy,
# nginx and stunnel in client mode (each on CPU 1), and wrk doing TLS
# itself. The pump thread inherits wrk's affinity, so swerve's TLS runs on
# CPU 0 with the client's, where a proxy's runs on CPU 1. Then the same
# through sequential curl processes, one request each.
#
# Knobs (environment): BENCH_ROUNDS (micro and macro rounds, default 7/5),
# BENCH_QUICK=1 (fewer iterations, for trying the script out),
# BENCH_OUT (directory for the .md and .png, default docs), BENCH_KEEP=1
# (keep the raw results and server logs in /tmp), BENCH_MACRO_ONLY=1 (only
# the macro part, HTTP and TLS through each set-up: its tables go to
# stdout, and no file is written), BENCH_COST_ONLY=1 (only the callgrind
# count of what observing HTTP costs wrk, to stdout), BENCH_CURL_N (requests, so curl
# processes, per loop through each set-up: default 30).
#
# Network rule: every address below is in 127.0.0.0/8. Every loop is
# bounded in count and time; everything started here is stopped on exit,
# on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${SWERVE_BUILD:-build-bench}
B=$(cd "$B" && pwd)
LIB=$B/libswerve.so
CERTS=$B/tests/tls-certs
CTL=$B/swervectl
BM=$B/bench/bench_micro
BL=$B/bench/bench_loop
OUT=${BENCH_OUT:-docs}
QUICK=${BENCH_QUICK:-}
START_S=$(date +%s)

if [ -n "$QUICK" ]; then
	MICRO_ROUNDS=${BENCH_ROUNDS:-3}; MACRO_ROUNDS=${BENCH_ROUNDS:-2}
	GAI_IT=5000; CONN_IT=3000; SCALE_IT=2000; WRK_S=2; FO_ROUNDS=1
else
	MICRO_ROUNDS=${BENCH_ROUNDS:-7}; MACRO_ROUNDS=${BENCH_ROUNDS:-5}
	GAI_IT=20000; CONN_IT=10000; SCALE_IT=6000; WRK_S=3; FO_ROUNDS=3
fi

# Addresses and ports: none of them is used by the test suites.
SINK_BASE=127.90.0.1       # micro endpoints: 127.90.0.1 .. +999
SINK_PORT=29001
PRIMARY=127.0.88.2         # nginx backends of the macro benchmarks
BACKUP=127.0.88.3
BE_PORT=28080
TLS_PORT=28443             # the nginx TLS backend, on $PRIMARY
FRONT=127.0.88.1           # HAProxy, nginx-as-proxy and stunnel listen here
HAP_PORT=28081
NGX_PORT=28082
HAPTLS_PORT=28083          # the proxies' TLS origination to $TLS_PORT
NGXTLS_PORT=28084
STUN_PORT=28085
REFUSE_PORT=28086          # a proxy that must refuse the certificate
VIP_CIDR=127.78.0.0/16
SHM=/swerve-bench-$$

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# The parts, in the order they run. They are sourced, not executed: they
# share this shell's settings, helpers, temporary directory and the list of
# processes that the cleanup trap (set by common.sh) stops on any exit.
PARTS="common micro scaling tls macro httpab httpcost failover macro-tables report"
[ -n "${BENCH_MACRO_ONLY:-}" ] && PARTS="common tls macro macro-tables"
if [ -n "${BENCH_COST_ONLY:-}" ]; then
	PARTS="common tls macro httpcost"
	MACRO_ROUNDS=0
fi
for part in $PARTS; do
	. "$ROOT/scripts/bench/$part.sh"
done
[ -z "${BENCH_MACRO_ONLY:-}" ] || macro_summary
if [ -n "${BENCH_COST_ONLY:-}" ]; then
	[ -n "$HTTPCOST" ] || die "callgrind (valgrind) is missing"
	httpcost_table
fi
