# scripts/bench/common.sh: what every part needs. The tools (installed
# when missing), the processes started here and the cleanup that stops them,
# the statistics helpers, and the description of the machine for the report.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ------------------------------------------------------------ tools

need_pkgs() {
	local missing=()

	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] ||
		missing+=(haproxy)
	command -v wrk >/dev/null || missing+=(wrk)
	command -v stunnel >/dev/null || missing+=(stunnel4)
	command -v curl >/dev/null || missing+=(curl)
	command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
	command -v taskset >/dev/null || missing+=(util-linux)
	echo "${missing[@]}"
}

install_tools() {
	local missing policy_made=""

	missing=$(need_pkgs)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing tools; install them with:
  apt-get install -y $missing"
	fi
	say "installing $missing"
	# The packages must not start system services (nginx would take port
	# 80): invoke-rc.d asks policy-rc.d, exit 101 means "do not start".
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy_made=1
	fi
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq $missing; } >&2; then
		[ -n "$policy_made" ] && rm -f /usr/sbin/policy-rc.d
		die "apt-get failed; run: apt-get install -y $missing"
	fi
	[ -n "$policy_made" ] && rm -f /usr/sbin/policy-rc.d
	missing=$(need_pkgs)
	[ -z "$missing" ] || die "still missing after install: $missing"
}

install_tools
export PATH=$PATH:/usr/sbin:/sbin
for f in "$LIB" "$CTL" "$BM" "$BL" "$CERTS/ca.pem"; do
	[ -x "$f" ] || [ -f "$f" ] || die "$f is missing: run make bench"
done
unshare -m true 2>/dev/null ||
	die "unshare -m does not work here (needed for a private hosts file)"

# ------------------------------------------------------ processes

T=$(mktemp -d /tmp/swerve-bench.XXXXXX)
PIDS=()

# forget PID: a child that was waited for; its number may be reused by
# someone else's process from now on, so it must never be signalled again.
forget() {
	local p keep=()

	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# stop_pid PID: TERM, then KILL after 0.5 s, for a child of this shell
# that was not waited for yet (a zombie keeps its number).
stop_pid() {
	local p=$1 i

	if kill "$p" 2>/dev/null; then
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
	forget "$p"
}

cleanup() {
	local p

	for p in "${PIDS[@]}"; do
		stop_pid "$p"
	done
	# The table goes with either config (BENCH_MACRO_ONLY has no micro).
	for p in "$T/micro.ini" "$T/web.ini"; do
		[ -f "$p" ] || continue
		SWERVE_SHM=$SHM "$CTL" -c "$p" reset >/dev/null 2>&1 || true
		break
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench: raw results kept in $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port ADDR PORT: until something listens there (5 s at most).
wait_port() {
	local i

	for i in $(seq 50); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing listens on $1:$2"
}

port_free() {
	! timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null ||
		die "$1:$2 is already in use"
}

# start NAME CMD...: starts CMD on CPU 1 in the background, sets $pid.
start() {
	local name=$1

	shift
	taskset -c 1 "$@" > "$T/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
}

# ---------------------------------------------------------- statistics

# stats FILE: "median min max" of the numbers in FILE, one per line.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.6g %.6g %.6g\n", m, v[1], v[NR] }'
}

# med FILE: the median of the numbers in FILE.
med() { stats "$1" | awk '{ print $1 }'; }

# spread FILE: "median (min..max)" of the ratios in FILE.
spread() {
	stats "$1" | awk '{ printf "%.3f (%.3f..%.3f)", $1, $2, $3 }'
}

# ratios A B OUT: per-round A/B into OUT.
ratios() {
	paste "$1" "$2" | awk '$2 > 0 { printf "%.6f\n", $1 / $2 }' > "$3"
}

# -------------------------------------------------------- the machine

load1() { cut -d' ' -f1 /proc/loadavg; }

# Others may be running test suites: give them a minute to finish.
for i in $(seq 12); do
	awk -v l="$(load1)" 'BEGIN { exit !(l < 0.7) }' && break
	[ "$i" = 1 ] && say "load $(load1): waiting up to 60 s for it to drop"
	sleep 5
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/MemTotal/ { printf "%.1f GiB",
	$2 / 1048576 }' /proc/meminfo), Linux $(uname -r),
$(ldd --version | head -1 | sed 's/^ldd //'), $(. /etc/os-release &&
	echo "$PRETTY_NAME")"
VERSIONS="nginx $(nginx -v 2>&1 | sed 's|.*/||'), HAProxy $(haproxy -v |
	awk 'NR == 1 { print $3 }'), wrk $(wrk -v 2>&1 | awk 'NR == 1 {
	print $2 }'), stunnel $(stunnel -version 2>&1 | awk '$1 == "stunnel" {
	print $2; exit }'), curl $(curl --version | awk 'NR == 1 { print $2 }'),
gnuplot $(gnuplot --version | awk '{ print $2 }')"
COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null ||
	echo unknown)}
DIRTY=$(git status --porcelain -- src 2>/dev/null | grep -q . &&
	echo " (with uncommitted changes in src/)" || true)
