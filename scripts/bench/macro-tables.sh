# scripts/bench/macro-tables.sh: the macro part's tables from its raw
# results: throughput and latency per set-up, and the TLS row of the
# targets. The report uses them; BENCH_MACRO_ONLY=1 prints them alone
# (macro_summary).
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it defines functions only (over macro.sh's MACRO_SETUPS); nothing runs.

# wratio SETUP MODE: SETUP's throughput over direct's, per round, as
# "median (min..max)"; wmed SETUP MODE: the median alone.
wratio() {
	ratios "$T/w/$1_$2" "$T/w/direct_$2" "$T/w/r.$1.$2"
	spread "$T/w/r.$1.$2"
}
wmed() {
	ratios "$T/w/$1_$2" "$T/w/direct_$2" "$T/w/r.$1.$2"
	med "$T/w/r.$1.$2"
}

# tratio MODE: throughput through swerve's TLS origination over wrk doing
# TLS itself to the same nginx, per round.
tratio() {
	ratios "$T/w/swervetls_$1" "$T/w/clienttls_$1" "$T/w/r.tls.$1"
	spread "$T/w/r.tls.$1"
}

# pctmed SETUP MODE COLUMN: the median over the rounds of one latency
# percentile (1 = p50 ... 5 = p99.99).
pctmed() {
	awk -v c="$3" '{ print $c }' "$T/w/$1_$2.pct" > "$T/w/tmp"
	med "$T/w/tmp"
}

tls_target_row() {
	printf '| %s | %s; %s | none yet (issue 13) | |\n' \
		"TLS origination: throughput through swerve's relay / the client doing TLS itself, keep-alive; Connection: close" \
		"$(tratio keepalive)" "$(tratio close)"
}

macro_throughput_table() {
	local setup

	printf '| set-up | keep-alive | Connection: close |'
	echo ' median req/s keep-alive | median req/s close |'
	echo "| --- | --- | --- | --- | --- |"
	for setup in $MACRO_SETUPS; do
		printf '| %s | %s | %s | %.0f | %.0f |\n' "$setup" \
			"$(wratio "$setup" keepalive)" \
			"$(wratio "$setup" close)" \
			"$(med "$T/w/${setup}_keepalive")" \
			"$(med "$T/w/${setup}_close")"
	done
}

macro_latency_table() {
	local mode setup x

	echo "| set-up | mode | p50 | p90 | p99 | p99.9 | p99.99 |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for mode in keepalive close; do
		for setup in $MACRO_SETUPS; do
			printf '| %s | %s |' "$setup" "$mode"
			for x in 1 2 3 4 5; do
				printf ' %s |' "$(pctmed "$setup" "$mode" "$x")"
			done
			echo
		done
	done
}

# macro_summary: what BENCH_MACRO_ONLY=1 prints instead of the report.
macro_summary() {
	cat <<EOF

# The macro part alone (BENCH_MACRO_ONLY=1)

$MACRO_ROUNDS rounds of ${WRK_S} s per wrk run. Load average (1, 5, 15 min):
$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end.
Checks: swerve's row counted $VIA connects, swervehttp's $SEEN 2xx
responses; the pump made $TLS_OK handshakes ($TLS_RES resumed) in a 1 s
Connection: close run, on CPUs $PUMP_CPUS (wrk's); nginx saw, through
swerve: $TLS_SEEN_SWERVE; from wrk's own TLS: $TLS_SEEN_CLIENT.

| target | measured (median, spread) | limit | |
| --- | --- | --- | --- |
$(tls_target_row)

Throughput relative to direct:

$(macro_throughput_table)

Latency percentiles (microseconds, median of the rounds; clienttls's
close figures leave wrk's own handshake out, swervetls's include the
pump's):

$(macro_latency_table)
EOF
}
