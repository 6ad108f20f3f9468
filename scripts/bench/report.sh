# scripts/bench/report.sh: writes $OUT/benchmarks.md and
# $OUT/bench-latency.png from the raw results of the other parts.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ============================================================== report

say "writing $OUT/benchmarks.md and $OUT/bench-latency.png"
mkdir -p "$OUT"

# fmt_ratio KEY BASE: "median (min..max)" of per-round KEY/BASE.
fmt_ratio() {
	ratios "$T/m/$1" "$T/m/$2" "$T/m/r.$1.$2"
	spread "$T/m/r.$1.$2"
}
ns() { printf '%.0f' "$(med "$T/m/$1")"; }
rmed() {
	ratios "$T/m/$1" "$T/m/$2" "$T/m/r.$1.$2"
	med "$T/m/r.$1.$2"
}

PASS=$(rmed conn_pass_sum conn_plain_sum)
ROUTE=$(rmed conn_pair conn_pair_b)
GAI=$(awk -v a="$(rmed gai_hosts gai_swerve)" 'BEGIN { print a }')
FLAT=$(rmed vip_1000_1 vip_1_1)
# The routing cost at 1000 endpoints over the one at 1, each against a
# direct connect to the same addresses in the same round, so that what the
# kernel pays for 1000 listeners instead of one cancels out.
ratios "$T/m/vip_1000_1" "$T/m/dir_1000_1" "$T/m/r.route1000"
ratios "$T/m/vip_1_1" "$T/m/dir_1_1" "$T/m/r.route1"
ratios "$T/m/r.route1000" "$T/m/r.route1" "$T/m/r.scaling"
SCALING=$(med "$T/m/r.scaling")
fmt_scaling() { spread "$T/m/r.scaling"; }

CLOSE=$(wmed swerve close)
# What observing HTTP costs: the protocol = http service over the same
# service as tcp, per round, per mode.
# The macro rounds' ratio (informative), and the A/B groups' (the
# target: httpab.sh).
hratio() {
	ratios "$T/w/swervehttp_$1" "$T/w/swerve_$1" "$T/w/r.http.$1"
	spread "$T/w/r.http.$1"
}
abratio() { spread "$T/ab/r.$1"; }
hratio keepalive >/dev/null
hratio close >/dev/null
HTTP_KA=$(med "$T/ab/r.keepalive")
HTTP_CL=$(med "$T/ab/r.close")
HTTP_MIN=$(awk -v a="$HTTP_KA" -v b="$HTTP_CL" 'BEGIN { print (a < b) ? a : b }')

# percentile medians per setup and mode for the plot
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
  nginx backends) and proxies (HAProxy, nginx upstream, stunnel) on CPU 1,
  with \`taskset\`. swerve's work is done in the client, so it lands on
  CPU 0; a proxy's lands on CPU 1. swerve's TLS relay is a
  thread in wrk's process (the pump), which inherits wrk's affinity
  (checked: the CPUs it may use were "$PUMP_CPUS"), so swerve's TLS runs
  on CPU 0 with the client's, where the proxies' runs on CPU 1.
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
| connect+close through a service address / straight to the endpoint (same process, blocks in turn) | $(fmt_ratio conn_pair conn_pair_b) | <= 1.05 | $(verdict le "$ROUTE" 1.05) |
| scaling: through a service address with 1000 endpoints round robin / with 1 endpoint, each over a direct connect to the same addresses | $(fmt_scaling) | <= 1.05 | $(verdict le "$SCALING" 1.05) |
| through a service address, 1000 endpoints / 1 endpoint, raw (includes the kernel's cost of 1000 listeners) | $(fmt_ratio vip_1000_1 vip_1_1) | <= 2 | $(verdict le "$FLAT" 2) |
$(if [ -n "$CALLGRIND" ]; then
	x=$(( $(irop conn_vip1000 20) - $(irop conn_vip 20) ))
	printf '| scaling, from callgrind: %s user-space instructions added per steered connect+close by 1000 endpoints over 1 (%s / %s: the binary search); at 1 ns each, that is this share of a steered connect+close | %s | <= 0.05 | %s |\n' \
		"$x" "$(irop conn_vip1000 20)" "$(irop conn_vip 20)" \
		"$(awk -v x="$x" -v n="$(ns conn_vip)" 'BEGIN { printf "%.4f", x / n }')" \
		"$(verdict le "$(awk -v x="$x" -v n="$(ns conn_vip)" 'BEGIN { print x / n }')" 0.05)"
fi)
| glibc getaddrinfo from a hosts file / hooked getaddrinfo (speed-up) | $(fmt_ratio gai_hosts gai_swerve) | >= 10 | $(verdict ge "$GAI" 10) |
| Connection: close throughput, swerve / direct | $(wratio swerve close) | >= 0.95 | $(verdict ge "$CLOSE" 0.95) |
| observing HTTP: throughput through a \`protocol = http\` service / the same service as \`tcp\`, keep-alive; Connection: close ($HTTPAB_GROUPS groups per mode of the two at once, ${HTTPAB_S} s; the macro rounds, whose runs lie seconds apart, gave $(hratio keepalive); $(hratio close)) | $(abratio keepalive); $(abratio close) | >= 0.97 both | $(verdict ge "$HTTP_MIN" 0.97) |
$(tls_target_rows)
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
| connect+close through a service address, 1 endpoint, \`reload = false\` | $(irop conn_vip_noreload 20) |
| connect+close, pass-through, \`reload = false\` | $(irop conn_pass_noreload 20) |
EOF
fi
if [ -n "$HTTPCOST" ]; then
cat <<EOF

What observing HTTP adds: user-space instructions per wrk request
(\`wrk -t1 -c16\` under callgrind through the same nginx backend as the
tcp service and as the \`protocol = http\` one; the difference between a
3 s and a 1 s run, so start-up cancels out). The tracker's share is its
two entry points, inclusive:

$(httpcost_table)
EOF
fi
cat <<EOF

What observing HTTP costs in throughput (the target's figure): two
\`wrk -t1 -c16\` processes at once on CPU 0 against the same nginx
backend, one through the tcp service (A), one through the
\`protocol = http\` one (B), ${HTTPAB_S} s, $HTTPAB_GROUPS groups per mode; each group
gives B / A. Running at once, the two share the core and whatever else
the machine does at that moment, which the macro rounds' sequential runs
do not. Median req/s of A and B: keep-alive $(med "$T/ab/swerve_keepalive")
and $(med "$T/ab/swervehttp_keepalive"), Connection: close
$(med "$T/ab/swerve_close") and $(med "$T/ab/swervehttp_close"). Ratios:
keep-alive $(abratio keepalive), close $(abratio close).

### Live reload's check

With \`reload = true\` (the default) every \`connect()\` and
\`getaddrinfo()\` asks whether a second has passed since the config file
was last looked at: a read of the coarse clock (no TSC read) and a
load. The thread that finds it due makes one \`stat()\` of the file.

- One \`stat()\` of the config file: $(ns reload_stat) ns (median of $MICRO_ROUNDS rounds); once a second, that is $(awk -v n="$(ns reload_stat)" 'BEGIN { printf "%.7f", n / 1e9 }') of one core.
$(if [ -n "$CALLGRIND" ]; then
	printf -- '- The per-call check, from callgrind: %s user-space instructions per connect+close through a service address (%s with reload, %s without), %s per pass-through connect+close (%s / %s).\n' \
		"$(( $(irop conn_vip 20) - $(irop conn_vip_noreload 20) ))" \
		"$(irop conn_vip 20)" "$(irop conn_vip_noreload 20)" \
		"$(( $(irop conn_pass 20) - $(irop conn_pass_noreload 20) ))" \
		"$(irop conn_pass 20)" "$(irop conn_pass_noreload 20)"
fi)
EOF
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
- swervehttp: the same as swerve, through \`webh.bench\`, a service with
  \`protocol = http\`: every response is read by swerve's HTTP tracker and
  reported to the shared table. Checked: a 1 s keep-alive wrk run before
  the timed runs left $SEEN responses counted as 2xx on the primary's row.
- swerve: wrk runs with LD_PRELOAD and dials \`web.bench:$BE_PORT\`: wrk is
  dynamically linked, resolves the name once with getaddrinfo (a service
  address) and calls connect() for every connection, which swerve steers to
  the primary. Checked: before the timed runs, the primary's row in the
  shared table counted $VIA successful connects from a 1 s wrk run.
- swervetls, haproxytls, nginxtls, stunnel, clienttls: TLS origination,
  described below (TLS origination, side by side).
- HAProxy: one thread on CPU 1, \`server primary ... check inter 1s rise 1
  fall 1 observe layer4 error-limit 1 on-error mark-down\`, \`server backup
  ... backup\`, \`retries 3\`, \`option redispatch 1\`, its default
  server-side connection reuse.
- nginx: one process on CPU 1, \`upstream { server primary max_fails=1
  fail_timeout=1s; server backup backup; keepalive 64; }\`,
  \`proxy_next_upstream error timeout\`.

Throughput relative to direct (req/s of the set-up / req/s of direct in the
same round):

$(macro_throughput_table)

Latency percentiles (microseconds, median of the rounds; for the TLS
set-ups, see below what wrk's clock includes):

$(macro_latency_table)

![latency percentiles](bench-latency.png)

$(tls_section)

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
BENCH_MACRO_ONLY=1 make bench   # the macro part alone (HTTP and TLS), to stdout
BENCH_CURL_N=10 make bench      # 10 curl processes per loop instead of 30
\`\`\`
EOF
} > "$OUT/benchmarks.md"
cat "$OUT/benchmarks.md"
