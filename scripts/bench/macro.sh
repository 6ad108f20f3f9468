# scripts/bench/macro.sh: HTTP throughput and latency with wrk through
# each set-up (direct, swerve, HAProxy, nginx; and the TLS set-ups of
# tls.sh: TLS origination by swerve, HAProxy, nginx and stunnel against wrk
# doing TLS itself, with curl's loop of short processes in every round),
# with the configs of the backends and proxies that the failover part uses
# too.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ================================================================ macro

say "macro benchmarks: nginx backends, wrk, $MACRO_ROUNDS rounds"
for a in "$PRIMARY:$BE_PORT" "$BACKUP:$BE_PORT" "$FRONT:$HAP_PORT" \
	 "$FRONT:$NGX_PORT" "$PRIMARY:$TLS_PORT" "$FRONT:$HAPTLS_PORT" \
	 "$FRONT:$NGXTLS_PORT" "$FRONT:$STUN_PORT" "$FRONT:$REFUSE_PORT"; do
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
$(tls_service webtls "$CERTS/ca.pem" "$TLS_NAME")
consecutive_5xx_errors = 1
interval = 1s
base_ejection_time = 1s
connect_timeout = 2s

# The refusal checks (tls.sh): the same endpoint, trusting another CA, and
# expecting another name. Neither may get a response.
$(tls_service webtlsca "$CERTS/wrong-ca.pem" "$TLS_NAME")

$(tls_service webtlsname "$CERTS/ca.pem" west.mydb.test)
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
	haproxytls|nginxtls|stunnel)
		echo "http://$FRONT:$(tls_port "$1")$path" ;;
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
# (req/s) to $T/w/SETUP_MODE and percentiles (us) to $T/w/SETUP_MODE.pct
# ($WRK_OUT instead of $T/w when set).
wrk_run() {
	local setup=$1 mode=$2 cmd out line

	wrk_cmd "$@"
	out=$("${cmd[@]}" 2>&1) || die "wrk $setup $mode: $out"
	line=$(echo "$out" | grep '^RESULT') || die "wrk $setup $mode: $out"
	set -- $line
	[ "$4" -eq 0 ] || echo "  wrk $setup $mode: $4 errors" >&2
	awk -v r="$2" -v d="$3" 'BEGIN { printf "%.1f\n", r / (d / 1e6) }' \
		>> "${WRK_OUT:-$T/w}/${setup}_$mode"
	echo "$5 $6 $7 $8 $9" >> "${WRK_OUT:-$T/w}/${setup}_$mode.pct"
}

mkdir -p "$T/w"
start_backend primary
start_backend backup
start_proxy haproxy; hap_pid=$proxy_pid
start_proxy nginx; ngx_pid=$proxy_pid
tls_start

# wrk must really dial through swerve: it is dynamically linked and its
# connect() lands on the primary's row in the shared table.
ldd "$(command -v wrk)" | grep -q libc.so ||
	die "wrk is statically linked: LD_PRELOAD cannot reach it"
SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" reset >/dev/null 2>&1 || true
WRK_S_SAVE=$WRK_S; WRK_S=1
wrk_run swerve close
wrk_run swervehttp keepalive
tls_refusals
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
MACRO_SETUPS="direct swerve swervehttp haproxy nginx $TLS_SETUPS"
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
	curl_round "$r"
done
stop_pid "$hap_pid"
stop_pid "$ngx_pid"
tls_stop
