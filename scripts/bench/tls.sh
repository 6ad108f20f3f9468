# scripts/bench/tls.sh: the TLS set-ups of the macro part, side by side.
# One nginx TLS backend; in front of it swerve's pump, HAProxy's, nginx's
# and stunnel's TLS origination (each verifying the backend's certificate),
# and the client doing TLS itself. Also the checks that each set-up really
# makes TLS and refuses a certificate it must not trust, and the loop of
# sequential curl processes (a new process, and so a new TLS client, per
# request).
#
# Sourced by scripts/bench.sh into its own shell, before macro.sh: it
# defines functions only, which macro.sh calls (they use its nginx_conf,
# wrk_cmd, wrk_run and url_of); nothing runs here.

TLS_NAME=east.mydb.test
# The TLS set-ups, in the order of odd rounds and of the tables.
TLS_SETUPS="swervetls haproxytls nginxtls stunnel clienttls"
# The curl loop adds direct: plain HTTP to the plain backend, the floor of
# a process that makes one request.
CURL_SETUPS="direct $TLS_SETUPS"
CURL_N=${BENCH_CURL_N:-30}
# Handshakes of the pumps of swerve's curl processes, and how many resumed.
CURL_TLS_OK=0
CURL_TLS_RES=0

# tls_backend_conf: the nginx that every TLS set-up reaches, on
# $PRIMARY:$TLS_PORT: the same `return 200` as the plain backends, with the
# test CA's certificate for east.mydb.test (P-256), TLS 1.2 and 1.3 (the
# default of nginx 1.23.4 and later; Debian 12's 1.22 leaves 1.3 out) and
# nginx's default ciphers and session tickets. Only the checks' paths are
# logged: per request, its connection, whether that connection resumed a
# session, and what it negotiated.
tls_backend_conf() {
	local d=$T/tlsbe

	mkdir -p "$d"
	nginx_conf "$d" warn <<EOF
	log_format tlscheck '\$uri \$connection \$ssl_session_reused '
		'\$ssl_protocol \$ssl_cipher \$ssl_curve';
	server {
		listen $PRIMARY:$TLS_PORT ssl reuseport backlog=4096;
		ssl_certificate $CERTS/east.pem;
		ssl_certificate_key $CERTS/east.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		default_type text/plain;
		location / { return 200 "primary\n"; }
		location /check/ {
			access_log $d/check.log tlscheck;
			return 200 "primary\n";
		}
	}
EOF
}

# tls_service NAME CA SNI: swerve's side, a [service NAME] of web.ini whose
# one endpoint is the TLS backend, trusting CA, sending SNI and checking
# the certificate by it.
tls_service() {
	cat <<EOF
[service $1]
hosts = $1.bench
ports = $BE_PORT
endpoint = $PRIMARY:$TLS_PORT locality=bench-a
protocol = http
tls = simple
tls_ca_certificates = $2
tls_sni = $3
EOF
}

# The proxies' configs: tls_conf_SETUP DIR PORT CA NAME writes the config
# of SETUP listening on $FRONT:PORT, trusting CA and checking NAME (sent
# as SNI too). The timed instances get the test CA and east.mydb.test; the
# refusal checks a wrong CA or a wrong name.

# HAProxy: one thread, its default server-side connection reuse (as the
# plain HAProxy set-up), its default TLS session reuse to the server.
tls_conf_haproxytls() {
	cat > "$1/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 8000
	pidfile $1/haproxy.pid
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind $FRONT:$2
	default_backend be
backend be
	server primary $PRIMARY:$TLS_PORT ssl verify required ca-file $3 sni str($4) verifyhost $4
EOF
}

# nginx: one process, idle connections to the backend kept (as the plain
# nginx set-up). proxy_ssl_protocols: nginx 1.22's default for upstreams
# leaves TLS 1.3 out; the others all offer it.
tls_conf_nginxtls() {
	nginx_conf "$1" crit <<EOF
	upstream tlsbe {
		server $PRIMARY:$TLS_PORT;
		keepalive 64;
	}
	server {
		listen $FRONT:$2 backlog=4096;
		location / {
			proxy_pass https://tlsbe;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_ssl_verify on;
			proxy_ssl_trusted_certificate $3;
			proxy_ssl_name $4;
			proxy_ssl_server_name on;
			proxy_ssl_session_reuse on;
			proxy_ssl_protocols TLSv1.2 TLSv1.3;
		}
	}
EOF
}

# stunnel in client mode: one TLS connection to the backend per accepted
# connection (a thread each), its default session reuse; errors only in
# its log.
tls_conf_stunnel() {
	cat > "$1/stunnel.conf" <<EOF
foreground = yes
syslog = no
debug = err
pid =
[tls]
client = yes
accept = $FRONT:$2
connect = $PRIMARY:$TLS_PORT
CAfile = $3
verifyChain = yes
checkHost = $4
sni = $4
EOF
}

# tls_proxy_start SETUP DIR PORT: starts SETUP from DIR's config on CPU 1;
# sets pid.
tls_proxy_start() {
	local name=${2##*/}

	case $1 in
	haproxytls) start "$name" haproxy -db -f "$2/haproxy.cfg" ;;
	nginxtls) start "$name" nginx -p "$2" -c "$2/nginx.conf" \
		-e "$2/error.log" ;;
	stunnel) start "$name" stunnel "$2/stunnel.conf" ;;
	esac
	wait_port "$FRONT" "$3"
}

# tls_start: the backend and the three proxies, for the timed runs.
tls_start() {
	local s d

	tls_backend_conf
	start tlsbe nginx -p "$T/tlsbe" -c "$T/tlsbe/nginx.conf" \
		-e "$T/tlsbe/error.log"
	tls_pids=$pid
	wait_port "$PRIMARY" "$TLS_PORT"
	for s in haproxytls nginxtls stunnel; do
		d=$T/$s
		mkdir -p "$d"
		"tls_conf_$s" "$d" "$(tls_port "$s")" "$CERTS/ca.pem" "$TLS_NAME"
		tls_proxy_start "$s" "$d" "$(tls_port "$s")"
		tls_pids="$tls_pids $pid"
	done
}

tls_stop() {
	local p

	for p in $tls_pids; do
		stop_pid "$p"
	done
}

tls_port() { # tls_port SETUP: the port the proxy SETUP listens on
	case $1 in
	haproxytls) echo "$HAPTLS_PORT" ;;
	nginxtls) echo "$NGXTLS_PORT" ;;
	stunnel) echo "$STUN_PORT" ;;
	esac
}

# tls_seen SETUP: what the backend logged of the check run of SETUP (one
# request per client connection, Connection: close): requests, the
# connections they came on (fewer when the set-up keeps its connections to
# the backend), how many of those resumed a session, and the protocol,
# cipher and group negotiated most often. Empty if nothing came.
tls_seen() {
	awk -v u="/check/$1" '$1 == u { n++; if (!($2 in c)) { c[$2] = 1
			m++; r += ($3 == "r") }; k[$4 " " $5 " " $6]++ }
		END { if (!n) exit
			for (x in k) if (k[x] > b) { b = k[x]; p = x }
			printf "%d requests on %d connections, %d of them" \
				" resumed a session, %s", n, m, r, p }' \
		"$T/tlsbe/check.log"
}

# pump_cpus PID: the CPUs that the swerve-pump thread of process PID may
# run on, once it exists (1 s at most); "none" if it never appears.
pump_cpus() {
	local i t

	for i in $(seq 40); do
		for t in /proc/"$1"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = swerve-pump ] ||
				continue
			awk '/^Cpus_allowed_list/ { print $2 }' "$t/status"
			return 0
		done
		sleep 0.025
	done
	echo none
}

# tls_checks: a 1 s Connection: close run of each TLS set-up on a path
# that the backend logs: each must have reached it over TLS. swerve's runs
# in the background, so that its pump thread's CPUs can be read while it
# runs: it must have inherited wrk's. Sets PUMP_CPUS and TLS_SEEN[SETUP].
tls_checks() {
	local cmd p s

	wrk_cmd swervetls close /check/swervetls
	"${cmd[@]}" > "$T/tlscheck.log" 2>&1 &
	p=$!
	PIDS+=("$p")
	PUMP_CPUS=$(pump_cpus "$p")
	wait "$p" || die "wrk swervetls check: $(cat "$T/tlscheck.log")"
	forget "$p"
	for s in $TLS_SETUPS; do
		[ "$s" = swervetls ] || wrk_run "$s" close "/check/$s"
	done
	declare -gA TLS_SEEN
	for s in $TLS_SETUPS; do
		TLS_SEEN[$s]=$(tls_seen "$s")
		[ -n "${TLS_SEEN[$s]}" ] ||
			die "$s: no request reached the TLS backend over TLS"
	done
}

# tls_refusal SETUP KIND: one request through SETUP configured to trust
# the wrong CA (KIND ca) or to expect the wrong name (KIND name): it must
# not succeed, and the backend must not see it. Sets code to the HTTP
# status that curl got (000: the connection closed without an answer).
tls_refusal() {
	local s=$1 ca=$CERTS/ca.pem name=$TLS_NAME d=$T/refuse-$1-$2
	local path=/check/refuse-$1-$2 url pre=() p=""

	[ "$2" = ca ] && ca=$CERTS/wrong-ca.pem
	[ "$2" = name ] && name=west.mydb.test
	if [ "$s" = swervetls ]; then
		# web.ini's services webtlsca and webtlsname.
		url=http://webtls$2.bench:$BE_PORT$path
		pre=(env LD_PRELOAD="$LIB" SWERVE_CONFIG="$T/web.ini" \
			SWERVE_SHM="$SHM")
	else
		url=http://$FRONT:$REFUSE_PORT$path
		mkdir -p "$d"
		"tls_conf_$s" "$d" "$REFUSE_PORT" "$ca" "$name"
		tls_proxy_start "$s" "$d" "$REFUSE_PORT"
		p=$pid
	fi
	code=$("${pre[@]}" curl -s --noproxy '*' -m 5 -o /dev/null \
		-w '%{http_code}' "$url" 2>/dev/null) || true
	[ -z "$p" ] || stop_pid "$p"
	if [ "$code" = 200 ] || grep -q "^$path " "$T/tlsbe/check.log" \
		2>/dev/null; then
		die "$s accepted a certificate it must refuse ($2): it does" \
		    "not verify"
	fi
}

# tls_refusals: each origination, once with the wrong CA and once with the
# wrong name, before the timed runs. wrk's own TLS is left out: it does
# not verify. Sets TLS_REFUSED[SETUP] to "CA-STATUS/NAME-STATUS".
tls_refusals() {
	local s first

	declare -gA TLS_REFUSED
	for s in swervetls haproxytls nginxtls stunnel; do
		tls_refusal "$s" ca
		first=$code
		tls_refusal "$s" name
		TLS_REFUSED[$s]=$first/$code
	done
}

# curl_cmd SETUP: sets cmd to the curl command line of one request through
# SETUP, and lib to the library to preload ("" for none). Every curl
# verifies the certificate when it makes TLS itself (clienttls).
curl_cmd() {
	cmd=(curl -sf --noproxy '*' -m 5 -o /dev/null)
	lib=""
	case $1 in
	swervetls) lib=$LIB ;;
	clienttls) cmd+=(--cacert "$CERTS/ca.pem" --resolve \
		"$TLS_NAME:$TLS_PORT:$PRIMARY") ;;
	esac
	if [ "$1" = clienttls ]; then
		cmd+=("https://$TLS_NAME:$TLS_PORT/")
	else
		cmd+=("$(url_of "$1")")
	fi
}

# pump_count SIGN: adds (+) or takes away (-) the handshakes and the resumed
# ones counted on the webtls endpoint's row to CURL_TLS_OK and CURL_TLS_RES:
# once before swerve's curl loop and once after, they add what it made.
pump_count() {
	local ok res

	ok=$(field webtls tls_handshakes_ok "$PRIMARY:$TLS_PORT")
	res=$(field webtls tls_resumed "$PRIMARY:$TLS_PORT")
	CURL_TLS_OK=$((CURL_TLS_OK $1 ${ok:-0}))
	CURL_TLS_RES=$((CURL_TLS_RES $1 ${res:-0}))
}

# curl_run SETUP: $CURL_N curl processes in a row through SETUP, on CPU 0
# (the pump of swerve's set-up runs in each curl, so on CPU 0 too);
# appends the milliseconds per request to $T/c/SETUP.
curl_run() {
	local cmd lib out

	curl_cmd "$1"
	[ "$1" != swervetls ] || pump_count -
	out=$(LC_ALL=C taskset -c 0 bash -c '
		n=$1 lib=$2 cfg=$3 shm=$4
		shift 4
		t0=$EPOCHREALTIME
		for ((i = 0; i < n; i++)); do
			if [ -n "$lib" ]; then
				LD_PRELOAD=$lib SWERVE_CONFIG=$cfg \
					SWERVE_SHM=$shm "$@" || exit 1
			else
				"$@" || exit 1
			fi
		done
		echo "$t0 $EPOCHREALTIME"' curl-loop "$CURL_N" "$lib" \
		"$T/web.ini" "$SHM" "${cmd[@]}" 2> "$T/c/stderr") ||
		die "curl through $1 failed: $(cat "$T/c/stderr")"
	[ "$1" != swervetls ] || pump_count +
	echo "$out" | awk -v n="$CURL_N" 'END { printf "%.3f\n",
		($2 - $1) * 1000 / n }' >> "$T/c/$1"
}

# curl_round ROUND: one curl loop per set-up, in the round's order.
curl_round() {
	local order=$CURL_SETUPS s

	mkdir -p "$T/c"
	[ $(($1 % 2)) = 0 ] &&
		order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
	for s in $order; do
		curl_run "$s"
	done
}
