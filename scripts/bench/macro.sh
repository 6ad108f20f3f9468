# scripts/bench/macro.sh: HTTP throughput and latency with wrk through
# each set-up (direct, swerve, HAProxy, nginx; and HTTPS: swerve's TLS
# origination against wrk doing TLS itself), with the configs of the
# backends and proxies that the failover part uses too.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ================================================================ macro

say "macro benchmarks: nginx backends, wrk, $MACRO_ROUNDS rounds"
for a in "$PRIMARY:$BE_PORT" "$BACKUP:$BE_PORT" "$FRONT:$HAP_PORT" \
	 "$FRONT:$NGX_PORT" "$PRIMARY:$TLS_PORT"; do
	port_free "${a%:*}" "${a#*:}"
done

# nginx_conf DIR LOG_LEVEL < BLOCKS: writes DIR/nginx.conf for a
# single-process nginx whose http block ends with BLOCKS (server and
# upstream blocks). master_process off: one process, so SIGKILL kills the
# server and nothing lingers (a master's orphaned worker would go on
# serving).
nginx_conf() {
	local d=$1 level=$2

	{
		cat <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $d/nginx.pid;
error_log $d/error.log $level;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	keepalive_requests 1000000;
EOF
		cat
		echo "}"
	} > "$d/nginx.conf"
}

# nginx_backend_conf NAME ADDR BODY: a backend serving BODY on ADDR.
nginx_backend_conf() {
	local name=$1 addr=$2 body=$3 d=$T/$1

	mkdir -p "$d"
	nginx_conf "$d" warn <<EOF
	server {
		listen $addr:$BE_PORT reuseport backlog=4096;
		default_type text/plain;
		location / { return 200 "$body\n"; }
	}
EOF
}

nginx_backend_conf primary "$PRIMARY" primary
nginx_backend_conf backup "$BACKUP" backup

# The TLS backend: the same answer on $PRIMARY:$TLS_PORT over TLS, with the
# test CA's certificate for east.mydb.test (P-256), TLS 1.2 and 1.3 (the
# default of nginx 1.23.4 and later; Debian 12's 1.22 leaves 1.3 out) and
# nginx's default ciphers and session tickets. Only the check runs' path is
# logged: which connections resumed a session, and what was negotiated.
d=$T/tlsbe
mkdir -p "$d"
nginx_conf "$d" warn <<EOF
	log_format tlscheck '\$uri \$ssl_session_reused '
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
nginx_conf "$d" crit <<EOF
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

# The same, observed as HTTP: what protocol = http costs.
[service webh]
hosts = webh.bench
ports = $BE_PORT
endpoint = $PRIMARY:$BE_PORT locality=bench-a
endpoint = $BACKUP:$BE_PORT locality=bench-b
protocol = http
consecutive_5xx_errors = 1
interval = 1s
base_ejection_time = 1s
connect_timeout = 2s

# The same answer over TLS, which swerve originates (the pump), verifying
# nginx's certificate against the test CA by the name east.mydb.test.
[service webtls]
hosts = webtls.bench
ports = $BE_PORT
endpoint = $PRIMARY:$TLS_PORT locality=bench-a
protocol = http
tls = simple
tls_ca_certificates = $CERTS/ca.pem
tls_sni = east.mydb.test
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

url_of() { # url_of SETUP [PATH]
	local path=${2:-/}

	case $1 in
	direct) echo "http://$PRIMARY:$BE_PORT$path" ;;
	swerve) echo "http://web.bench:$BE_PORT$path" ;;
	swervehttp) echo "http://webh.bench:$BE_PORT$path" ;;
	swervetls) echo "http://webtls.bench:$BE_PORT$path" ;;
	clienttls) echo "https://$PRIMARY:$TLS_PORT$path" ;;
	haproxy) echo "http://$FRONT:$HAP_PORT$path" ;;
	nginx) echo "http://$FRONT:$NGX_PORT$path" ;;
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

# wrk_cmd SETUP MODE [PATH]: sets cmd to the command line of one wrk run
# of SETUP on CPU 0 (the swerve set-ups with the library preloaded).
wrk_cmd() {
	local setup=$1 mode=$2 hdr=()

	cmd=()
	[ "$mode" = close ] && hdr=(-H "Connection: close")
	case $setup in swerve*) cmd=(env LD_PRELOAD="$LIB" \
		SWERVE_CONFIG="$T/web.ini" SWERVE_SHM="$SHM") ;; esac
	cmd+=(taskset -c 0 wrk -t1 -c16 -d"${WRK_S}s" "${hdr[@]}" \
		-s "$T/report.lua" "$(url_of "$setup" "${3:-/}")")
}

# wrk_run SETUP MODE [PATH]: one wrk run on CPU 0; appends throughput
# (req/s) to $T/w/SETUP_MODE and percentiles (us) to $T/w/SETUP_MODE.pct.
wrk_run() {
	local setup=$1 mode=$2 cmd out line

	wrk_cmd "$@"
	out=$("${cmd[@]}" 2>&1) || die "wrk $setup $mode: $out"
	line=$(echo "$out" | grep '^RESULT') || die "wrk $setup $mode: $out"
	set -- $line
	[ "$4" -eq 0 ] || echo "  wrk $setup $mode: $4 errors" >&2
	awk -v r="$2" -v d="$3" 'BEGIN { printf "%.1f\n", r / (d / 1e6) }' \
		>> "$T/w/${setup}_$mode"
	echo "$5 $6 $7 $8 $9" >> "$T/w/${setup}_$mode.pct"
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

# tls_seen SETUP: what nginx logged of the check run of SETUP: how many
# connections resumed a session, and the protocol, cipher and group
# negotiated most often. One request per connection (Connection: close).
tls_seen() {
	awk -v u="/check/$1" '$1 == u { n++; r += ($2 == "r")
			k[$3 " " $4 " " $5]++ }
		END { for (x in k) if (k[x] > m) { m = k[x]; b = x }
			printf "%d of %d connections resumed a session, %s",
				r, n, b }' "$T/tlsbe/check.log"
}

# tls_checks: a 1 s Connection: close run of each TLS set-up on a path
# that nginx logs. swerve's runs in the background, so that its pump
# thread's CPUs can be read while it runs: it must have inherited wrk's.
tls_checks() {
	local cmd p

	wrk_cmd swervetls close /check/swervetls
	"${cmd[@]}" > "$T/tlscheck.log" 2>&1 &
	p=$!
	PIDS+=("$p")
	PUMP_CPUS=$(pump_cpus "$p")
	wait "$p" || die "wrk swervetls check: $(cat "$T/tlscheck.log")"
	forget "$p"
	wrk_run clienttls close /check/clienttls
	TLS_SEEN_SWERVE=$(tls_seen swervetls)
	TLS_SEEN_CLIENT=$(tls_seen clienttls)
}

mkdir -p "$T/w"
start_backend primary
start_backend backup
start_proxy haproxy; hap_pid=$proxy_pid
start_proxy nginx; ngx_pid=$proxy_pid
start tlsbe nginx -p "$T/tlsbe" -c "$T/tlsbe/nginx.conf" -e "$T/tlsbe/error.log"
tlsbe_pid=$pid
wait_port "$PRIMARY" "$TLS_PORT"

# wrk must really dial through swerve: it is dynamically linked and its
# connect() lands on the primary's row in the shared table.
ldd "$(command -v wrk)" | grep -q libc.so ||
	die "wrk is statically linked: LD_PRELOAD cannot reach it"
SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" reset >/dev/null 2>&1 || true
WRK_S_SAVE=$WRK_S; WRK_S=1
wrk_run swerve close
wrk_run swervehttp keepalive
tls_checks
WRK_S=$WRK_S_SAVE
rm -f "$T"/w/*
# field SERVICE NAME [ENDPOINT]: NAME of the row of SERVICE's ENDPOINT
# (default: the primary backend).
field() {
	SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" endpoints --json |
		awk -v s="\"service\": \"$1\"" -v p="${3:-$PRIMARY:$BE_PORT}" \
		    -v f="\"$2\": " 'index($0, s) && index($0, p) {
			sub(".*" f, ""); sub(/[,}].*/, ""); print }'
}
VIA=$(field web connects_ok)
[ "${VIA:-0}" -gt 1000 ] ||
	die "wrk's connects did not go through swerve (connects_ok=$VIA)"
SEEN=$(field webh responses_2xx)
[ "${SEEN:-0}" -gt 1000 ] ||
	die "swerve did not observe wrk's responses (responses_2xx=$SEEN)"
TLS_OK=$(field webtls tls_handshakes_ok "$PRIMARY:$TLS_PORT")
TLS_RES=$(field webtls tls_resumed "$PRIMARY:$TLS_PORT")
[ "${TLS_OK:-0}" -gt 100 ] ||
	die "wrk's requests did not go through the pump" \
	    "(tls_handshakes_ok=$TLS_OK)"
[ "$PUMP_CPUS" = 0 ] ||
	die "the pump thread was not on wrk's CPU 0 (its CPUs: $PUMP_CPUS)"

# The set-ups, in the order of odd rounds and of the report's tables.
MACRO_SETUPS="direct swerve swervehttp swervetls clienttls haproxy nginx"
for r in $(seq "$MACRO_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$MACRO_ROUNDS" >&2
	# odd rounds in one order, even rounds in the other: drift cancels
	order=$MACRO_SETUPS
	[ $((r % 2)) = 0 ] &&
		order=$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')
	for mode in keepalive close; do
		for setup in $order; do
			wrk_run "$setup" "$mode"
		done
	done
done
stop_pid "$hap_pid"
stop_pid "$ngx_pid"
stop_pid "$tlsbe_pid"
