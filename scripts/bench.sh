#!/bin/bash
# scripts/bench.sh (run by `make bench`): swerve side by side with direct
# connections, HAProxy and nginx, on loopback only. Writes
# docs/benchmarks.md and docs/bench-latency.png.
#
# Every figure is a ratio against a baseline measured in the same run: the
# cases of one round run back to back, the ratio is taken per round, and the
# median of the rounds is reported with the spread (min..max).
#
# Pinning (2-core machine): every client (bench_micro, wrk, bench_loop) runs
# on CPU 0 (taskset -c 0); every server (sink, nginx backends) and every
# proxy (HAProxy, nginx upstream) on CPU 1 (taskset -c 1). swerve's cost
# lands on the client's core, a proxy's on the server's core: each set-up
# pays for its own work where it would in production.
#
# Knobs (environment): BENCH_ROUNDS (micro and macro rounds, default 5/3),
# BENCH_QUICK=1 (fewer iterations, for trying the script out),
# BENCH_OUT (directory for the .md and .png, default docs), BENCH_KEEP=1
# (keep the raw results and server logs in /tmp).
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
FRONT=127.0.88.1           # HAProxy and nginx-as-proxy listen here
HAP_PORT=28081
NGX_PORT=28082
VIP_CIDR=127.78.0.0/16
SHM=/swerve-bench-$$

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------ tools

need_pkgs() {
	local missing=()

	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] ||
		missing+=(haproxy)
	command -v wrk >/dev/null || missing+=(wrk)
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
for f in "$LIB" "$CTL" "$BM" "$BL"; do
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
	SWERVE_SHM=$SHM "$CTL" -c "$T/micro.ini" reset >/dev/null 2>&1 || true
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
	print $2 }'), gnuplot $(gnuplot --version | awk '{ print $2 }')"
COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null ||
	echo unknown)}
DIRTY=$(git status --porcelain -- src 2>/dev/null | grep -q . &&
	echo " (with uncommitted changes in src/)" || true)

# ================================================================ micro

say "micro benchmarks: $MICRO_ROUNDS rounds"
port_free "$SINK_BASE" "$SINK_PORT"

{
	printf '[swerve]\nvip_cidr = %s\nshm = %s\nlog = warn\n\n' \
		"$VIP_CIDR" "$SHM"
	for n in 1 10 100 1000; do
		printf '[service s%s]\nhosts = s%s.bench\nports = %s\n' \
			"$n" "$n" "$SINK_PORT"
		printf 'consecutive_5xx_errors = 5\nlb = round_robin\n'
		awk -v n="$n" -v p="$SINK_PORT" 'BEGIN {
			for (i = 0; i < n; i++) {
				a = 1 + i
				printf "endpoint = 127.90.%d.%d:%d\n",
					int(a / 256), a % 256, p
			} }'
		echo
	done
} > "$T/micro.ini"
"$CTL" -c "$T/micro.ini" check >/dev/null || die "bad micro config"

# The hosts file glibc reads in the baseline: this machine's, plus the
# name, bind-mounted over /etc/hosts in a private mount namespace only.
{ cat /etc/hosts; echo "127.0.0.10 bench-hosts.test"; } > "$T/hosts"

start sink "$BM" sink "$SINK_BASE" 1000 "$SINK_PORT"
sink_pid=$pid
for i in $(seq 50); do
	grep -q ready "$T/sink.log" && break
	sleep 0.1
done
grep -q ready "$T/sink.log" || die "sink did not start: $(cat "$T/sink.log")"

mkdir -p "$T/m"
# m KEY swerve|plain ARGS...: one measurement, appended to $T/m/KEY.
m() {
	local key=$1 how=$2 out

	shift 2
	if [ "$how" = swerve ]; then
		out=$(LD_PRELOAD=$LIB SWERVE_CONFIG=$T/micro.ini SWERVE_SHM=$SHM \
		      unshare -m sh -c 'mount --bind "$0" /etc/hosts &&
			exec taskset -c 0 "$@"' "$T/hosts" "$BM" "$@") ||
			die "$key: $out"
	else
		out=$(unshare -m sh -c 'mount --bind "$0" /etc/hosts &&
			exec taskset -c 0 "$@"' "$T/hosts" "$BM" "$@") ||
			die "$key: $out"
	fi
	echo "$out" | awk '/^ns_per_op/ { print $2 }' >> "$T/m/$key"
	# connect2 measures two cases: the second goes to KEY_b.
	echo "$out" | awk '/^ns_per_op [0-9.]+ [0-9.]+ ops/ { print $3 }' \
		>> "$T/m/${key}_b"
}

for r in $(seq "$MICRO_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$MICRO_ROUNDS" >&2
	m gai_swerve swerve gai s1.bench "$GAI_IT"
	m gai_hosts plain gai bench-hosts.test "$GAI_IT"
	m gai_hosts_lib swerve gai bench-hosts.test "$GAI_IT"
	m gai_num plain gai 127.0.0.1 "$GAI_IT"
	m conn_vip swerve connect s1.bench 1 "$SINK_PORT" "$CONN_IT" 1
	# through the service address and straight to its endpoint, blocks
	# in turn in one process (conn_pair_b: the endpoint, pass-through)
	m conn_pair swerve connect2 s1.bench "$SINK_BASE" "$SINK_PORT" \
		"$CONN_IT"
done
# Pass-through is a few instructions on a call that costs tens of
# microseconds: many short rounds, in A B B A order so that a steady drift
# of the machine cancels out.
PASS_ROUNDS=$((MICRO_ROUNDS * 4 + 1))
say "micro pass-through: $PASS_ROUNDS rounds"
for r in $(seq "$PASS_ROUNDS"); do
	m conn_plain plain connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_pass swerve connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_pass2 swerve connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_plain2 plain connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
done
# Per round: (pass + pass2) / (plain + plain2), and plain2 / plain as the
# noise floor.
paste "$T/m/conn_pass" "$T/m/conn_pass2" | awk '{ print $1 + $2 }' \
	> "$T/m/conn_pass_sum"
paste "$T/m/conn_plain" "$T/m/conn_plain2" | awk '{ print $1 + $2 }' \
	> "$T/m/conn_plain_sum"
for f in "$T"/m/*_b; do
	[ -s "$f" ] || rm -f "$f"
done
# conn_vip's own rounds have no same-round no-library baseline: pair them
# with the pass-through rounds' plain runs of the same index.
head -n "$MICRO_ROUNDS" "$T/m/conn_plain" > "$T/m/conn_plain_r"

SCALE_ROUNDS=$(( (MICRO_ROUNDS + 1) / 2 ))
say "micro scaling: endpoints x threads, $SCALE_ROUNDS rounds"
for r in $(seq "$SCALE_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$SCALE_ROUNDS" >&2
	for n in 1 10 100 1000; do
		for t in 1 8 64; do
			m "dir_${n}_$t" plain connect "$SINK_BASE" "$n" \
				"$SINK_PORT" "$SCALE_IT" "$t"
			m "vip_${n}_$t" swerve connect "s$n.bench" 1 \
				"$SINK_PORT" "$SCALE_IT" "$t"
		done
	done
done

# The cost in instructions (user space only; the kernel's share of a
# connect is the same both ways), from callgrind: the difference between
# two iteration counts, so start-up and config loading cancel out.
CALLGRIND=""
if command -v valgrind >/dev/null; then
	say "callgrind instruction counts"
	CALLGRIND=1
	# ir KEY swerve|plain OPS_OF_N1 OPS_OF_N2 N1 N2 ARGS-WITH-@N@
	ir() {
		local key=$1 how=$2 n1=$3 n2=$4 tot=() n a c v
		shift 4
		for n in "$n1" "$n2"; do
			a=()
			for v in "$@"; do a+=("${v//@N@/$n}"); done
			c=$T/cg.$key.$n
			if [ "$how" = swerve ]; then
				LD_PRELOAD=$LIB SWERVE_CONFIG=$T/micro.ini \
				SWERVE_SHM=$SHM unshare -m sh -c \
				'mount --bind "$0" /etc/hosts && exec "$@"' \
				"$T/hosts" valgrind --tool=callgrind \
				--callgrind-out-file="$c" "$BM" "${a[@]}" \
				>/dev/null 2>"$c.err" || die "callgrind $key"
			else
				unshare -m sh -c \
				'mount --bind "$0" /etc/hosts && exec "$@"' \
				"$T/hosts" valgrind --tool=callgrind \
				--callgrind-out-file="$c" "$BM" "${a[@]}" \
				>/dev/null 2>"$c.err" || die "callgrind $key"
			fi
			tot+=("$(awk '/^summary:/ { print $2 }' "$c")")
		done
		# bench_micro warms up with ITER/10+1 (gai) or ITER/20+1
		# (connect) extra operations.
		echo "${tot[0]} ${tot[1]}" > "$T/m/ir_$key"
	}
	ir gai_swerve swerve 2000 4000 gai s1.bench @N@
	ir gai_hosts plain 2000 4000 gai bench-hosts.test @N@
	ir gai_num plain 2000 4000 gai 127.0.0.1 @N@
	ir conn_plain plain 2000 4000 connect "$SINK_BASE" 1 "$SINK_PORT" @N@ 1
	ir conn_pass swerve 2000 4000 connect "$SINK_BASE" 1 "$SINK_PORT" @N@ 1
	ir conn_vip swerve 2000 4000 connect s1.bench 1 "$SINK_PORT" @N@ 1
	ir conn_vip1000 swerve 2000 4000 connect s1000.bench 1 "$SINK_PORT" @N@ 1
	# Ir per operation: gai runs N + N/10 + 1 operations, connect
	# N + N/20 + 1.
	irop() {
		local f=$T/m/ir_$1 per=$2

		awk -v per="$per" '{ d = 4000 + int(4000 / per) - 2000 - \
			int(2000 / per); printf "%.0f", ($2 - $1) / d }' "$f"
	}
fi
stop_pid "$sink_pid"

# ================================================================ macro

say "macro benchmarks: nginx backends, wrk, $MACRO_ROUNDS rounds"
for a in "$PRIMARY:$BE_PORT" "$BACKUP:$BE_PORT" "$FRONT:$HAP_PORT" \
	 "$FRONT:$NGX_PORT"; do
	port_free "${a%:*}" "${a#*:}"
done

# nginx_conf NAME BODY: a single-process nginx serving BODY on its own
# address. master_process off: one process, so SIGKILL kills the server
# and nothing lingers (a master's orphaned worker would go on serving).
nginx_backend_conf() {
	local name=$1 addr=$2 body=$3 d=$T/$1

	mkdir -p "$d"
	cat > "$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	keepalive_requests 1000000;
	server {
		listen $addr:$BE_PORT reuseport backlog=4096;
		default_type text/plain;
		location / { return 200 "$body\n"; }
	}
}
EOF
}

nginx_backend_conf primary "$PRIMARY" primary
nginx_backend_conf backup "$BACKUP" backup

# The same failover knobs for the three: a failed connect marks the
# primary down at once, and it is tried again after 1 s.
mkdir -p "$T/hap" "$T/ngxproxy"
cat > "$T/hap/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 8000
	pidfile $T/hap/haproxy.pid
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	retries 3
	option redispatch 1
frontend fe
	bind $FRONT:$HAP_PORT
	default_backend be
backend be
	server primary $PRIMARY:$BE_PORT check inter 1s rise 1 fall 1 observe layer4 error-limit 1 on-error mark-down
	server backup $BACKUP:$BE_PORT check inter 1s rise 1 fall 1 backup
EOF
# The issue's set-up word for word (no redispatch): for the failover only.
sed '/option redispatch/d; s|/hap/haproxy.pid|/hap/plain.pid|' \
	"$T/hap/haproxy.cfg" > "$T/hap/plain.cfg"
d=$T/ngxproxy
cat > "$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/error.log crit;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	keepalive_requests 1000000;
	upstream be {
		server $PRIMARY:$BE_PORT max_fails=1 fail_timeout=1s;
		server $BACKUP:$BE_PORT backup;
		keepalive 64;
	}
	server {
		listen $FRONT:$NGX_PORT backlog=4096;
		location / {
			proxy_pass http://be;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_next_upstream error timeout;
			proxy_connect_timeout 2s;
		}
	}
}
EOF
cat > "$T/web.ini" <<EOF
[swerve]
locality = bench-a
vip_cidr = $VIP_CIDR
shm = $SHM
log = warn

[service web]
hosts = web.bench
ports = $BE_PORT
endpoint = $PRIMARY:$BE_PORT locality=bench-a
endpoint = $BACKUP:$BE_PORT locality=bench-b
consecutive_5xx_errors = 1
interval = 1s
base_ejection_time = 1s
connect_timeout = 2s
EOF
"$CTL" -c "$T/web.ini" check >/dev/null || die "bad web config"

start_backend() { # start_backend primary|backup
	local addr=$PRIMARY

	[ "$1" = backup ] && addr=$BACKUP
	start "$1" nginx -p "$T/$1" -c "$T/$1/nginx.conf" -e "$T/$1/error.log"
	eval "${1}_pid=$pid"
	wait_port "$addr" "$BE_PORT"
}

start_proxy() { # start_proxy haproxy|haproxy_plain|nginx: sets proxy_pid
	if [ "$1" = haproxy ] || [ "$1" = haproxy_plain ]; then
		local cfg=haproxy.cfg

		[ "$1" = haproxy_plain ] && cfg=plain.cfg
		start "$1" haproxy -db -f "$T/hap/$cfg"
		proxy_pid=$pid
		wait_port "$FRONT" "$HAP_PORT"
	else
		start ngxproxy nginx -p "$T/ngxproxy" -c "$T/ngxproxy/nginx.conf" \
			-e "$T/ngxproxy/error.log"
		proxy_pid=$pid
		wait_port "$FRONT" "$NGX_PORT"
	fi
}

url_of() {
	case $1 in
	direct) echo "http://$PRIMARY:$BE_PORT/" ;;
	swerve) echo "http://web.bench:$BE_PORT/" ;;
	haproxy) echo "http://$FRONT:$HAP_PORT/" ;;
	nginx) echo "http://$FRONT:$NGX_PORT/" ;;
	esac
}

cat > "$T/report.lua" <<'EOF'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d", summary.requests,
		summary.duration, e.connect + e.read + e.write + e.status +
		e.timeout))
	for _, p in ipairs({ 50, 90, 99, 99.9, 99.99 }) do
		io.write(string.format(" %d", latency:percentile(p)))
	end
	io.write("\n")
end
EOF

# wrk_run SETUP MODE: one wrk run on CPU 0; appends throughput (req/s) to
# $T/w/SETUP_MODE and percentiles (us) to $T/w/SETUP_MODE.pct.
wrk_run() {
	local setup=$1 mode=$2 hdr=() pre=() out line

	[ "$mode" = close ] && hdr=(-H "Connection: close")
	[ "$setup" = swerve ] && pre=(env LD_PRELOAD="$LIB" \
		SWERVE_CONFIG="$T/web.ini" SWERVE_SHM="$SHM")
	out=$("${pre[@]}" taskset -c 0 wrk -t1 -c16 -d"${WRK_S}s" \
		"${hdr[@]}" -s "$T/report.lua" "$(url_of "$setup")" 2>&1) ||
		die "wrk $setup $mode: $out"
	line=$(echo "$out" | grep '^RESULT') || die "wrk $setup $mode: $out"
	set -- $line
	[ "$4" -eq 0 ] || echo "  wrk $setup $mode: $4 errors" >&2
	awk -v r="$2" -v d="$3" 'BEGIN { printf "%.1f\n", r / (d / 1e6) }' \
		>> "$T/w/${setup}_$mode"
	echo "$5 $6 $7 $8 $9" >> "$T/w/${setup}_$mode.pct"
}

mkdir -p "$T/w"
start_backend primary
start_backend backup
start_proxy haproxy; hap_pid=$proxy_pid
start_proxy nginx; ngx_pid=$proxy_pid

# wrk must really dial through swerve: it is dynamically linked and its
# connect() lands on the primary's row in the shared table.
ldd "$(command -v wrk)" | grep -q libc.so ||
	die "wrk is statically linked: LD_PRELOAD cannot reach it"
SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" reset >/dev/null 2>&1 || true
WRK_S_SAVE=$WRK_S; WRK_S=1
wrk_run swerve close
WRK_S=$WRK_S_SAVE
rm -f "$T"/w/*
VIA=$(SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" endpoints --json |
	awk -v p="$PRIMARY:$BE_PORT" 'index($0, p) {
		sub(/.*"connects_ok": /, ""); sub(/,.*/, ""); print }')
[ "${VIA:-0}" -gt 1000 ] ||
	die "wrk's connects did not go through swerve (connects_ok=$VIA)"

for r in $(seq "$MACRO_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$MACRO_ROUNDS" >&2
	# odd rounds in one order, even rounds in the other: drift cancels
	order="direct swerve haproxy nginx"
	[ $((r % 2)) = 0 ] && order="nginx haproxy swerve direct"
	for mode in keepalive close; do
		for setup in $order; do
			wrk_run "$setup" "$mode"
		done
	done
done
stop_pid "$hap_pid"
stop_pid "$ngx_pid"

# ============================================================= failover

FO_MS=7000         # the loop: one request every 5 ms for 7 s
FO_KILL=1.5        # primary killed 1.5 s in
FO_DOWN=2.5        # and restarted 2.5 s later
say "failover: $FO_ROUNDS rounds per set-up, primary down ${FO_DOWN}s"
mkdir -p "$T/f"
now_ms() { date +%s%3N; }

fo_run() { # fo_run SETUP ROUND
	local setup=$1 r=$2 host port pre=() lp tk tr

	case $setup in
	direct) host=$PRIMARY; port=$BE_PORT ;;
	swerve) host=web.bench; port=$BE_PORT
		pre=(env LD_PRELOAD="$LIB" SWERVE_CONFIG="$T/web.ini" \
		     SWERVE_SHM="$SHM") ;;
	haproxy|haproxy_plain) host=$FRONT; port=$HAP_PORT
		start_proxy "$setup" ;;
	nginx) host=$FRONT; port=$NGX_PORT; start_proxy nginx ;;
	esac
	SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" reset >/dev/null 2>&1 || true
	sleep 0.3
	"${pre[@]}" taskset -c 0 "$BL" "$host" "$port" 5000 "$FO_MS" \
		> "$T/f/$setup.$r" 2> "$T/f/$setup.$r.err" &
	lp=$!
	PIDS+=("$lp")
	sleep "$FO_KILL"
	tk=$(now_ms)
	kill -9 "$primary_pid"
	wait "$primary_pid" 2>/dev/null || true
	forget "$primary_pid"
	sleep "$FO_DOWN"
	start_backend primary
	tr=$(now_ms)
	wait "$lp" || die "bench_loop $setup: $(cat "$T/f/$setup.$r.err")"
	forget "$lp"
	case $setup in haproxy*|nginx) stop_pid "$proxy_pid" ;; esac
	# lost, ms from kill to the last failure, ms from restore to the
	# first answer from the primary, requests in all
	awk -v tk="$tk" -v tr="$tr" '
		{ n++ }
		$2 == "fail" { lost++; last = $1 }
		$2 == "ok" && $3 == "primary" && $1 > tr && !back { back = $1 }
		END { printf "%d %d %s %d\n", lost, lost ? last - tk : 0,
			back ? back - tr : "never", n }' "$T/f/$setup.$r" \
		>> "$T/f/$setup"
}

for r in $(seq "$FO_ROUNDS"); do
	for setup in direct swerve haproxy haproxy_plain nginx; do
		printf '  round %s/%s: %s\n' "$r" "$FO_ROUNDS" "$setup" >&2
		fo_run "$setup" "$r"
	done
done
stop_pid "$primary_pid"
stop_pid "$backup_pid"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ============================================================== report

say "writing $OUT/benchmarks.md and $OUT/bench-latency.png"
mkdir -p "$OUT"

# fmt_ratio KEY BASE: "median (min..max)" of per-round KEY/BASE.
fmt_ratio() {
	local s

	ratios "$T/m/$1" "$T/m/$2" "$T/m/r.$1.$2"
	s=$(stats "$T/m/r.$1.$2")
	set -- $s
	printf '%.3f (%.3f..%.3f)' "$1" "$2" "$3"
}
med() { stats "$1" | awk '{ print $1 }'; }
ns() { printf '%.0f' "$(med "$T/m/$1")"; }
# verdict CMP VALUE LIMIT
verdict() {
	if awk -v v="$2" -v l="$3" -v c="$1" 'BEGIN {
		exit !((c == "le" && v <= l) || (c == "ge" && v >= l)) }'; then
		echo met
	else
		echo "**missed**"
	fi
}
rmed() {
	ratios "$T/m/$1" "$T/m/$2" "$T/m/r.$1.$2"
	med "$T/m/r.$1.$2"
}

PASS=$(rmed conn_pass_sum conn_plain_sum)
ROUTE=$(rmed conn_pair conn_pair_b)
GAI=$(awk -v a="$(rmed gai_hosts gai_swerve)" 'BEGIN { print a }')
FLAT=$(rmed vip_1000_1 vip_1_1)

# throughput ratio of SETUP to direct, per round, close/keepalive
wratio() {
	ratios "$T/w/$1_$2" "$T/w/direct_$2" "$T/w/r.$1.$2"
	stats "$T/w/r.$1.$2" | awk '{ printf "%.3f (%.3f..%.3f)", $1, $2, $3 }'
}
wmed() {
	ratios "$T/w/$1_$2" "$T/w/direct_$2" "$T/w/r.$1.$2"
	med "$T/w/r.$1.$2"
}
CLOSE=$(wmed swerve close)

# percentile medians per setup and mode for the plot
pctmed() { # pctmed SETUP MODE COLUMN
	awk -v c="$3" '{ print $c }' "$T/w/$1_$2.pct" > "$T/w/tmp"
	med "$T/w/tmp"
}
for mode in keepalive close; do
	x=0
	for p in 50 90 99 99.9 99.99; do
		x=$((x + 1))
		printf '%s %s' "$x" "$p"
		for setup in direct swerve haproxy nginx; do
			printf ' %s' "$(pctmed "$setup" "$mode" "$x")"
		done
		echo
	done > "$T/w/plot_$mode.dat"
done

gnuplot <<EOF
set terminal pngcairo size 1100,480 font "sans,10"
set output "$OUT/bench-latency.png"
set multiplot layout 1,2 title "wrk latency percentiles, 1 thread, 16 connections, loopback (median of $MACRO_ROUNDS runs)"
set logscale y
set ylabel "latency (microseconds)"
set xlabel "percentile"
set key top left
set grid
set xrange [0.7:5.3]
set title "keep-alive"
plot for [i=3:6] "$T/w/plot_keepalive.dat" using 1:i:xtic(2) with linespoints lw 2 title word("direct swerve HAProxy nginx", i - 2)
set title "Connection: close"
plot for [i=3:6] "$T/w/plot_close.dat" using 1:i:xtic(2) with linespoints lw 2 title word("direct swerve HAProxy nginx", i - 2)
unset multiplot
EOF

fo_row() { # fo_row SETUP: table row of medians (spread)
	local f=$T/f/$1 c

	printf '| %s |' "$2"
	for c in 1 2; do
		awk -v c="$c" '{ print $c }' "$f" > "$T/f/tmp"
		stats "$T/f/tmp" | awk '{ printf " %g (%g..%g) |", $1, $2, $3 }'
	done
	awk '{ printf "%s%s", (NR > 1 ? ", " : " "), $3 }
		END { printf " |" }' "$f"
	awk '{ printf "%s%s", (NR > 1 ? ", " : " "), $4 }
		END { printf " |" }' "$f"
	cat "$T"/f/"$1".[0-9]* | awk '$2 == "fail" { n[$3]++ }
		END { for (k in n) { printf "%s %s %d", (c++ ? "," : ""), k,
			n[k] }; printf "%s |\n", (c ? "" : " none") }'
}
fo_lost() { awk '{ print $1 }' "$T/f/$1" > "$T/f/tmp"; med "$T/f/tmp"; }

ELAPSED=$(( $(date +%s) - START_S ))
{
cat <<EOF
# Benchmarks

Written by \`make bench\` (scripts/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),
commit $COMMIT$DIRTY, in $ELAPSED s. Do not edit by hand: run \`make bench\`
again.

- Machine: $MACHINE
- Tools: $VERSIONS
- Load average (1, 5, 15 min): $LOAD_START at the start, $LOAD_END at the end
  (the benchmark itself keeps both cores busy, so the end figure includes
  it). Other work on the machine shows up as a wider spread.
- Pinning: clients (bench_micro, wrk, bench_loop) on CPU 0, servers (sink,
  nginx backends) and proxies (HAProxy, nginx upstream) on CPU 1, with
  \`taskset\`. swerve's work is done in the client, so it lands on CPU 0; a
  proxy's lands on CPU 1.
- Every figure is a ratio against a baseline measured in the same run: the
  cases of a round run back to back, the ratio is taken per round, and the
  table gives the median of the rounds with the spread (min..max).
  Micro: $MICRO_ROUNDS rounds ($SCALE_ROUNDS for scaling); macro:
  $MACRO_ROUNDS rounds of ${WRK_S} s per wrk run; failover: $FO_ROUNDS rounds.
  All traffic is on loopback (127.0.0.0/8).

## Targets

| target | measured (median, spread) | limit | |
| --- | --- | --- | --- |
| pass-through connect+close, library loaded / not loaded | $(fmt_ratio conn_pass_sum conn_plain_sum) | <= 1.02 | $(verdict le "$PASS" 1.02) |
$(if [ -n "$CALLGRIND" ]; then
	x=$(( $(irop conn_pass 20) - $(irop conn_plain 20) ))
	printf '| pass-through, from callgrind: %s user-space instructions added per connect+close; at 1 ns each, that is this share of a connect+close | %s | <= 0.02 | %s |\n' \
		"$x" "$(awk -v x="$x" -v n="$(ns conn_plain_sum)" 'BEGIN {
			printf "%.4f", x / (n / 2) }')" \
		"$(verdict le "$(awk -v x="$x" -v n="$(ns conn_plain_sum)" \
			'BEGIN { print x / (n / 2) }')" 0.02)"
fi)
| connect+close through a service address / straight to the endpoint (same process, blocks in turn) | $(fmt_ratio conn_pair conn_pair_b) | <= 1.10 | $(verdict le "$ROUTE" 1.10) |
| through a service address, 1000 endpoints / 1 endpoint | $(fmt_ratio vip_1000_1 vip_1_1) | <= 2 | $(verdict le "$FLAT" 2) |
| glibc getaddrinfo from a hosts file / hooked getaddrinfo (speed-up) | $(fmt_ratio gai_hosts gai_swerve) | >= 10 | $(verdict ge "$GAI" 10) |
| Connection: close throughput, swerve / direct | $(wratio swerve close) | >= 0.95 | $(verdict ge "$CLOSE" 0.95) |
| requests lost in failover: swerve / HAProxy / nginx (median) | $(fo_lost swerve) / $(fo_lost haproxy) / $(fo_lost nginx) | swerve 0, proxies > 0 | $(awk -v s="$(fo_lost swerve)" -v h="$(fo_lost haproxy)" -v n="$(fo_lost nginx)" 'BEGIN { print (s == 0 && h > 0 && n > 0) ? "met" : ((s == 0) ? "swerve lost none; **the proxies lost none either**" : "**missed** (see Failover)") }') |

## Micro: in-process, one call at a time

\`bench_micro\` (tests/bench/bench_micro.c) times a loop of calls after a
warm-up. Connects are blocking, to a sink process that accepts and closes;
each socket is closed with SO_LINGER 0 (a RST), so no TIME_WAIT builds up and
the last round costs what the first did. getaddrinfo is called with
AF_UNSPEC, SOCK_STREAM and service "80", then freed.

| case | baseline | median ns/op (case / baseline) | ratio (spread) |
| --- | --- | --- | --- |
| hooked getaddrinfo, configured name | glibc, name in a hosts file | $(ns gai_swerve) / $(ns gai_hosts) | $(fmt_ratio gai_swerve gai_hosts) |
| hooked getaddrinfo, configured name | glibc, numeric 127.0.0.1 | $(ns gai_swerve) / $(ns gai_num) | $(fmt_ratio gai_swerve gai_num) |
| getaddrinfo of a hosts-file name with the library loaded | same without | $(ns gai_hosts_lib) / $(ns gai_hosts) | $(fmt_ratio gai_hosts_lib gai_hosts) |
| connect+close to an unconfigured address, library loaded ($PASS_ROUNDS rounds, A B B A) | same, not loaded | $(ns conn_pass_sum) / $(ns conn_plain_sum) (two runs each) | $(fmt_ratio conn_pass_sum conn_plain_sum) |
| noise floor: the no-library run at the end of a pass-through round | the one at its start | $(ns conn_plain2) / $(ns conn_plain) | $(fmt_ratio conn_plain2 conn_plain) |
| connect+close through a service address (1 endpoint), in one process with its baseline | straight to the endpoint, same process (library loaded: pass-through) | $(ns conn_pair) / $(ns conn_pair_b) | $(fmt_ratio conn_pair conn_pair_b) |
| connect+close through a service address (1 endpoint), own process | straight to the endpoint, library not loaded, separate process | $(ns conn_vip) / $(ns conn_plain_r) | $(fmt_ratio conn_vip conn_plain_r) |

Single-threaded figures are the fastest of 5 (or 10) equal blocks of a run;
the noise floor row shows how far two identical runs differ here.
The hosts-file baseline reads a copy of this machine's /etc/hosts with one
line added, bind-mounted over /etc/hosts in a private mount namespace
(\`unshare -m\`); the machine's file is never edited.
EOF
if [ -n "$CALLGRIND" ]; then
cat <<EOF

User-space instructions per operation (callgrind, difference between 2000
and 4000 iterations, so start-up cancels out; the kernel's share, most of a
connect, is not counted):

| case | instructions/op |
| --- | --- |
| hooked getaddrinfo, configured name | $(irop gai_swerve 10) |
| glibc getaddrinfo, hosts file | $(irop gai_hosts 10) |
| glibc getaddrinfo, numeric | $(irop gai_num 10) |
| connect+close, library not loaded | $(irop conn_plain 20) |
| connect+close, pass-through (library loaded) | $(irop conn_pass 20) |
| connect+close through a service address, 1 endpoint | $(irop conn_vip 20) |
| connect+close through a service address, 1000 endpoints | $(irop conn_vip1000 20) |
EOF
fi
cat <<EOF

### How the routing cost grows: endpoints per service x client threads

A service with N endpoints, each a real listener on its own address
(127.90.0.1 onwards, one sink process with N listening sockets), picked
round robin, with outlier detection on (consecutive_5xx_errors = 5). The
baseline connects straight to the same N addresses in the same rotation,
without the library. Threads share the client's one core (CPU 0). Cells:
ns per connect+close through the service address, and in brackets the ratio
to the baseline (median of $SCALE_ROUNDS rounds).

| endpoints | 1 thread | 8 threads | 64 threads |
| --- | --- | --- | --- |
EOF
for n in 1 10 100 1000; do
	printf '| %s |' "$n"
	for t in 1 8 64; do
		printf ' %s (%.2f) |' "$(ns "vip_${n}_$t")" \
			"$(rmed "vip_${n}_$t" "dir_${n}_$t")"
	done
	echo
done
cat <<EOF

## Macro: HTTP through each set-up

nginx (one process, \`return 200\`) on $PRIMARY:$BE_PORT, loaded by
\`wrk -t1 -c16 -d${WRK_S}s\` on CPU 0; keep-alive, and \`Connection: close\`
(wrk opens a new connection for every request). Set-ups:

- direct: wrk dials $PRIMARY:$BE_PORT.
- swerve: wrk runs with LD_PRELOAD and dials \`web.bench:$BE_PORT\`: wrk is
  dynamically linked, resolves the name once with getaddrinfo (a service
  address) and calls connect() for every connection, which swerve steers to
  the primary. Checked: before the timed runs, the primary's row in the
  shared table counted $VIA successful connects from a 1 s wrk run.
- HAProxy: one thread on CPU 1, \`server primary ... check inter 1s rise 1
  fall 1 observe layer4 error-limit 1 on-error mark-down\`, \`server backup
  ... backup\`, \`retries 3\`, \`option redispatch 1\`, its default
  server-side connection reuse.
- nginx: one process on CPU 1, \`upstream { server primary max_fails=1
  fail_timeout=1s; server backup backup; keepalive 64; }\`,
  \`proxy_next_upstream error timeout\`.

Throughput relative to direct (req/s of the set-up / req/s of direct in the
same round):

| set-up | keep-alive | Connection: close | median req/s keep-alive | median req/s close |
| --- | --- | --- | --- | --- |
EOF
for setup in direct swerve haproxy nginx; do
	printf '| %s | %s | %s | %.0f | %.0f |\n' "$setup" \
		"$(wratio "$setup" keepalive)" "$(wratio "$setup" close)" \
		"$(med "$T/w/${setup}_keepalive")" "$(med "$T/w/${setup}_close")"
done
cat <<EOF

Latency percentiles (microseconds, median of the rounds):

| set-up | mode | p50 | p90 | p99 | p99.9 | p99.99 |
| --- | --- | --- | --- | --- | --- | --- |
EOF
for mode in keepalive close; do
	for setup in direct swerve haproxy nginx; do
		printf '| %s | %s |' "$setup" "$mode"
		for x in 1 2 3 4 5; do
			printf ' %s |' "$(pctmed "$setup" "$mode" "$x")"
		done
		echo
	done
done
cat <<EOF

![latency percentiles](bench-latency.png)

## Failover

\`bench_loop\` (tests/bench/bench_loop.c) on CPU 0 sends one GET on a new
connection every 5 ms for $((FO_MS / 1000)) s (a fixed schedule, 2 s timeouts).
${FO_KILL} s in, the primary nginx is killed (SIGKILL); ${FO_DOWN} s later
it is started again. The backup answers "backup", the primary "primary".
All three use the same knobs: a failed connect marks the primary down at once
and it is tried again after 1 s (swerve: consecutive_5xx_errors = 1,
base_ejection_time = 1s, interval = 1s, the backup in another locality;
HAProxy and nginx as above). direct has no failover: it is the baseline
that fails. "HAProxy without \`option redispatch\`" is the set-up exactly as
the issue words it (backup, observe layer4, error-limit 1, on-error
mark-down): its retries stay on the server that failed.

| set-up | requests lost | ms from the kill until every request succeeds | ms from the restart until the primary answers again (each round) | requests sent (each round) | failures by kind (all rounds) |
| --- | --- | --- | --- | --- | --- |
EOF
fo_row direct "direct (no failover)"
fo_row swerve swerve
fo_row haproxy HAProxy
fo_row haproxy_plain "HAProxy without \`option redispatch\`"
fo_row nginx nginx
cat <<EOF

"Until every request succeeds" is the time from the kill to the last failed
request (0 when none failed). Failures by kind: connect-refused is a connect
to the dead primary; no-response is a request that was already on a
connection to the primary when it was killed (a request every 5 ms that
takes a fraction of a millisecond is caught in flight now and then). No
connect-time steering can save a request in flight; a proxy can, by
retrying the GET on the backup (nginx's proxy_next_upstream does).
swerve's return to the primary follows its ejection backoff: an endpoint
still down when its ejection ends is ejected again for longer (Envoy's
base_ejection_time x ejections).

## How to run

\`\`\`
make bench                      # about $(( (ELAPSED + 59) / 60 )) minutes; needs root on Debian for apt-get
BENCH_QUICK=1 make bench        # fewer iterations: to try the script out
BENCH_ROUNDS=9 make bench       # more rounds
\`\`\`
EOF
} > "$OUT/benchmarks.md"
cat "$OUT/benchmarks.md"
