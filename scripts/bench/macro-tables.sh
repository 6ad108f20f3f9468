# scripts/bench/macro-tables.sh: the macro part's tables from its raw
# results: throughput and latency per set-up, and the TLS comparison with
# its rows of the targets. The report uses them; BENCH_MACRO_ONLY=1 prints
# them alone (macro_summary).
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it defines functions only (over macro.sh's MACRO_SETUPS and tls.sh's
# TLS_SETUPS); nothing runs.

# verdict CMP VALUE LIMIT: "met" if VALUE is le (ge) LIMIT.
verdict() {
	if awk -v v="$2" -v l="$3" -v c="$1" 'BEGIN {
		exit !((c == "le" && v <= l) || (c == "ge" && v >= l)) }'; then
		echo met
	else
		echo "**missed**"
	fi
}

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

# pctmed SETUP MODE COLUMN: the median over the rounds of one latency
# percentile (1 = p50 ... 5 = p99.99).
pctmed() {
	awk -v c="$3" '{ print $c }' "$T/w/$1_$2.pct" > "$T/w/tmp"
	med "$T/w/tmp"
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


# ------------------------------------------------ TLS, side by side

# vs_hap KIND SETUP [MODE]: SETUP's figure over HAProxy's TLS origination's
# in the same round, as "median (min..max)"; the per-round ratios are left
# in $T/KIND/r.hap.SETUP.MODE. KIND w: wrk's req/s in MODE; KIND c: curl's
# ms per request.
vs_hap() {
	local f=$T/$1/$2 h=$T/$1/haproxytls

	[ "$1" = w ] && f=${f}_$3 && h=${h}_$3
	ratios "$f" "$h" "$T/$1/r.hap.$2.${3:-}"
	spread "$T/$1/r.hap.$2.${3:-}"
}

# added SETUP: per round, the p50 of SETUP's keep-alive requests minus the
# p50 of clienttls's in the same round (us), into $T/w/added.SETUP.
added() {
	paste -d' ' "$T/w/$1_keepalive.pct" "$T/w/clienttls_keepalive.pct" |
		awk '{ print $1 - $6 }' > "$T/w/added.$1"
}
added_spread() {
	[ "$1" != clienttls ] || { echo "0 (the baseline)"; return; }
	added "$1"
	stats "$T/w/added.$1" | awk '{ printf "%+.0f (%+.0f..%+.0f)", $1, $2, $3 }'
}

# tls_target_rows: the issue's three targets, in the Targets table's form.
tls_target_rows() {
	local ka cl cu as ah

	vs_hap w swervetls keepalive >/dev/null
	vs_hap w swervetls close >/dev/null
	vs_hap c swervetls >/dev/null
	ka=$(med "$T/w/r.hap.swervetls.keepalive")
	cl=$(med "$T/w/r.hap.swervetls.close")
	cu=$(med "$T/c/r.hap.swervetls.")
	added swervetls
	added haproxytls
	as=$(med "$T/w/added.swervetls")
	ah=$(med "$T/w/added.haproxytls")
	printf '| %s | %s | >= 1 | %s |\n' \
		"TLS origination, keep-alive: throughput through swerve / through HAProxy's" \
		"$(vs_hap w swervetls keepalive)" "$(verdict ge "$ka" 1)"
	printf '| %s | %s | >= 1 | %s |\n' \
		"TLS origination, Connection: close: throughput through swerve / through HAProxy's" \
		"$(vs_hap w swervetls close)" "$(verdict ge "$cl" 1)"
	printf '| %s (%.2f / %.2f ms per request) | %s | <= 1 | %s |\n' \
		"$CURL_N sequential curl processes, one request each: time through swerve / through HAProxy's TLS origination" \
		"$(med "$T/c/swervetls")" "$(med "$T/c/haproxytls")" \
		"$(vs_hap c swervetls)" "$(verdict le "$cu" 1)"
	printf '| %s | %s / %s | swerve <= HAProxy | %s |\n' \
		"TLS origination, keep-alive: p50 latency added per request over the client doing TLS itself (us), swerve / HAProxy" \
		"$(added_spread swervetls)" "$(added_spread haproxytls)" \
		"$(verdict le "$as" "$ah")"
}

# tls_who SETUP: who makes the TLS, where, and whether it verifies.
tls_who() {
	case $1 in
	swervetls) echo "swerve's pump, in wrk's process (CPU 0); verifies" ;;
	haproxytls) echo "HAProxy, 1 thread (CPU 1); verifies" ;;
	nginxtls) echo "nginx, 1 process (CPU 1); verifies" ;;
	stunnel) echo "stunnel, client mode (CPU 1); verifies" ;;
	clienttls) echo "wrk itself (CPU 0): does **not** verify; curl itself: verifies" ;;
	esac
}

tls_table() {
	local s

	echo "| set-up | TLS made by | req/s keep-alive | / HAProxy | req/s close | / HAProxy | p50 added, keep-alive (us) | p50 close (us) | curl ms per request | / HAProxy |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
	for s in $TLS_SETUPS; do
		printf '| %s | %s | %.0f | %s | %.0f | %s | %s | %s | %.2f | %s |\n' \
			"$s" "$(tls_who "$s")" \
			"$(med "$T/w/${s}_keepalive")" \
			"$(vs_hap w "$s" keepalive)" \
			"$(med "$T/w/${s}_close")" "$(vs_hap w "$s" close)" \
			"$(added_spread "$s")" "$(pctmed "$s" close 1)" \
			"$(med "$T/c/$s")" "$(vs_hap c "$s")"
	done
}

# tls_checked: what the checks before the timed runs found, per set-up.
tls_checked() {
	local s

	echo "| set-up | the backend saw, in a 1 s Connection: close run | status with the wrong CA / the wrong name |"
	echo "| --- | --- | --- |"
	for s in $TLS_SETUPS; do
		printf '| %s | %s | %s |\n' "$s" "${TLS_SEEN[$s]}" \
			"${TLS_REFUSED[$s]:-not checked: wrk does not verify}"
	done
}

# tls_section: the TLS comparison, for the report and for macro_summary.
tls_section() {
	cat <<EOF
## TLS origination, side by side

The application speaks plain HTTP and the endpoint wants TLS: who makes
the TLS connection, and what does it cost? One more nginx on CPU 1 serves
the same \`return 200\` over TLS on $PRIMARY:$TLS_PORT, with the test CA's
P-256 certificate for $TLS_NAME, TLS 1.2 and 1.3, nginx's default
ciphers and session tickets. wrk (\`-t1 -c16\`, CPU 0) loads it in the same
rounds as the HTTP set-ups, keep-alive and \`Connection: close\`:

- swervetls: wrk runs with LD_PRELOAD and speaks plain HTTP to
  \`webtls.bench:$BE_PORT\`, a service with \`tls = simple\` and
  \`protocol = http\` whose one endpoint is the TLS backend. connect() hands
  each connection to the pump, a thread in wrk's process, which connects,
  makes the handshake, verifies the certificate against the test CA by
  \`tls_sni = $TLS_NAME\`, and relays; the HTTP tracker reads the
  plaintext. One TLS connection per wrk connection, sessions resumed
  within the process. The pump inherits wrk's affinity (checked: the CPUs
  it may use were "$PUMP_CPUS"): swerve's TLS runs on the client's core,
  CPU 0, where a proxy's runs on CPU 1 beside the backend; swerve pays
  besides for the loopback hop between wrk and the pump, and for the
  tracker. Checked: a 1 s Connection: close run made $TLS_OK handshakes on
  the endpoint's row, $TLS_RES of them resumed.
- haproxytls: HAProxy, one thread on CPU 1, \`server primary
  $PRIMARY:$TLS_PORT ssl verify required ca-file ca.pem sni
  str($TLS_NAME) verifyhost $TLS_NAME\`, its default connection reuse to
  the server (\`http-reuse safe\`: a client's first request gets a
  connection of its own, so under Connection: close every request is a new
  TLS connection to the backend) and its default TLS session reuse.
- nginxtls: nginx, one process on CPU 1, \`proxy_pass https://\` to an
  upstream with \`keepalive 64\`, \`proxy_ssl_verify on\`,
  \`proxy_ssl_trusted_certificate ca.pem\`, \`proxy_ssl_name $TLS_NAME\`,
  \`proxy_ssl_server_name on\`, \`proxy_ssl_session_reuse on\`, and
  \`proxy_ssl_protocols TLSv1.2 TLSv1.3\` (nginx 1.22 leaves 1.3 out of its
  upstreams by default). Its connections to the backend outlive the
  clients', so under Connection: close too it reuses them.
- stunnel: stunnel in client mode on CPU 1, \`client = yes\`,
  \`verifyChain = yes\`, \`CAfile = ca.pem\`, \`checkHost = $TLS_NAME\`,
  \`sni = $TLS_NAME\`: a thread and a TLS connection to the backend for each
  accepted connection, resuming its last session.
- clienttls: wrk dials \`https://$PRIMARY:$TLS_PORT/\` and does TLS itself,
  on CPU 0, with the same libssl.so.3 as the pump, offering each of its
  connections' last session when it reconnects. wrk does not verify the
  certificate (\`SSL_VERIFY_NONE\`): the only set-up here that does not.

Checked before the timed runs: what the backend saw of each set-up
(requests, the TLS connections they came on, resumed sessions, what was
negotiated), and each origination told to trust another CA, then to expect
another name (west.mydb.test): neither request may succeed nor reach the
backend (curl's status; 000 is a connection closed without an answer).

$(tls_checked)

Figures: median of $MACRO_ROUNDS rounds, each ratio taken per round, with
the spread (min..max). "p50 added" is the set-up's p50 latency per
keep-alive request minus the p50 of the client doing TLS itself
(clienttls) in the same round: the cost of the extra hop over the same
TLS to the same backend. A plain-HTTP baseline would count the TLS itself
as added, though every set-up pays it; the target's verdict is the same
with either baseline, which cancels out of swerve's figure against
HAProxy's. wrk starts a request's clock once its connection is up:
clienttls's close figures leave its own handshake out; the proxies' and
swerve's include theirs to the backend, which happens after wrk's
connect returned.

$(tls_table)

The curl loop: in every round, $CURL_N curl processes run one after another
on CPU 0 through each set-up, one request each (\`curl -sf\`), timed from
the first start to the last exit. Through swerve, each curl runs with
LD_PRELOAD and asks \`http://webtls.bench:$BE_PORT/\`, so each process
starts its own pump and makes its own handshake: of their $CURL_TLS_OK
handshakes, $CURL_TLS_RES resumed a session. Through the proxies, curl
asks for \`http://\`; clienttls is curl doing \`https://\` itself,
verifying the certificate (\`--cacert ca.pem\`, by the name). The floor, a
process that makes one plain HTTP request straight to the plain backend,
took $(printf '%.2f' "$(med "$T/c/direct")") ms per request.
EOF
}

# macro_summary: what BENCH_MACRO_ONLY=1 prints instead of the report.
macro_summary() {
	cat <<EOF

# The macro part alone (BENCH_MACRO_ONLY=1)

$MACRO_ROUNDS rounds of ${WRK_S} s per wrk run. Load average (1, 5, 15 min):
$LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end.
Checks: swerve's row counted $VIA connects, swervehttp's $SEEN 2xx
responses.

| target | measured (median, spread) | limit | |
| --- | --- | --- | --- |
$(tls_target_rows)

$(tls_section)

Throughput relative to direct:

$(macro_throughput_table)

Latency percentiles (microseconds, median of the rounds):

$(macro_latency_table)
EOF
}
