#!/bin/sh
# make demo: Istio's "failover for external services", on loopback, with an
# unmodified curl. Two HTTP servers play the endpoints of mydb.com: the
# primary in this host's region (us-east1) and the failover in us-west. The
# config names them (east.mydb.test, west.mydb.test): a DNS responder on
# loopback (build/tests/dnsd, conf/demo.zone) resolves them, so nothing
# leaves the host. Act 2 is the example's HTTPS half (conf/demo-tls.ini):
# curl still speaks plain HTTP to mydb.com, and swerve originates TLS to
# two TLS servers (build/tests/tlsserve) with certificates of a test CA
# (scripts/tls-certs.sh, made by make into build/tests/tls-certs).
set -eu
cd "$(dirname "$0")/.."
B=${SWERVE_BUILD:-build}
CONF=conf/demo.ini
ZONE=conf/demo.zone
EAST=""; WEST=""; DNS=""
CERTS=$(cd "$B" && pwd)/tests/tls-certs
CONF2=$B/demo-tls.ini

cleanup() {
	[ -n "$EAST" ] && kill "$EAST" 2>/dev/null || true
	[ -n "$WEST" ] && kill "$WEST" 2>/dev/null || true
	[ -n "$DNS" ] && kill "$DNS" 2>/dev/null || true
	rm -f "$B"/demo-127.0.0.*.out "$B"/demo-dns.out "$B"/demo-tls-*.out
	"$B/swervectl" -c "$CONF" reset >/dev/null 2>&1 || true
	[ -f "$CONF2" ] && "$B/swervectl" -c "$CONF2" reset >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

# ready OUT WHAT: waits (2 s at most) for the "ready" line that a helper
# started in the background writes to OUT; else shows OUT and stops.
ready() {
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: $2 did not start:" >&2
	cat "$1" >&2
	exit 1
}

# server ADDR BODY [MODE]: starts it in this shell (the helper exits with
# its parent), waits until it listens, leaves its pid in $pid.
server() {
	rm -f "$B/demo-$1.out"
	"$B/tests/httpd" "$1" 18080 "$2" ${3:+"$3"} > "$B/demo-$1.out" 2>&1 &
	pid=$!
	ready "$B/demo-$1.out" "the server on $1:18080"
}

# dns: starts the responder for conf/demo.zone on 127.0.0.1:15335 (the
# config's dns_servers) like server(), leaves its pid in $pid.
dns() {
	rm -f "$B/demo-dns.out"
	if [ ! -x "$B/tests/dnsd" ]; then
		echo "demo: $B/tests/dnsd is missing: make $B/tests/dnsd" >&2
		exit 1
	fi
	"$B/tests/dnsd" 127.0.0.1 15335 "$ZONE" > "$B/demo-dns.out" 2>&1 &
	pid=$!
	ready "$B/demo-dns.out" "the DNS responder on 127.0.0.1:15335"
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# tls_server ADDR CERT BODY: a TLS server (build/tests/tlsserve) on
# ADDR:18443 with the demo CA's certificate CERT (east, west, wrong-east),
# started like server(), its pid in $pid.
tls_server() {
	rm -f "$B/demo-tls-$1.out"
	"$B/tests/tlsserve" --listen "$1:18443" --cert "$CERTS/$2.pem" \
		--key "$CERTS/$2.key" --name "$3" > "$B/demo-tls-$1.out" 2>&1 &
	pid=$!
	ready "$B/demo-tls-$1.out" "the TLS server on $1:18443"
}

requests() { # requests N (with the config in $CONF)
	i=1; ok=0; failed=0
	while [ "$i" -le "$1" ]; do
		if out=$("$B/swerve" -c "$CONF" -- curl -sS --max-time 15 http://mydb.com/ 2>&1); then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
		fi
		printf '  curl http://mydb.com/  ->  %s\n' "$out"
		i=$((i + 1))
	done
	printf '  %d ok, %d failed\n' "$ok" "$failed"
	[ "$failed" -eq 0 ]
}

"$B/swervectl" -c "$CONF" reset >/dev/null 2>&1 || true
say "config: $CONF (mydb.com -> east.mydb.test:18080 us-east1, west.mydb.test:18080 us-west)"
grep -vE '^\s*(;|$)' "$CONF" | sed 's/^/  /'

dns; DNS=$pid
say "DNS: east.mydb.test -> 127.0.0.2, west.mydb.test -> 127.0.0.3, served by a responder on 127.0.0.1:15335"
grep -vE '^\s*(#|$)' "$ZONE" | sed 's/^/  /'

server 127.0.0.2 "healthy: us-east1"; EAST=$pid
server 127.0.0.3 "healthy: us-west"; WEST=$pid
say "both endpoints up: this host is in us-east1, so traffic stays there"
requests 5

say "the us-east1 endpoint dies (its server is stopped)"
kill "$EAST"; wait "$EAST" 2>/dev/null || true; EAST=""
requests 5

say "swervectl endpoints: the dead endpoint is ejected for base_ejection_time (1m)"
"$B/swervectl" -c "$CONF" endpoints

say "the us-east1 endpoint comes back; traffic stays on us-west until the ejection ends"
server 127.0.0.2 "healthy: us-east1"; EAST=$pid
requests 1
left=$("$B/swervectl" -c "$CONF" endpoints --json | tr ',{}' '\n\n\n' |
	sed -n 's/.*"ejected_remaining_ms": *\([0-9]*\).*/\1/p' | sort -n | tail -1)
left=${left:-0}
secs=$(( (left + 999) / 1000 + 1 ))
printf '  waiting %d s for the ejection to end ...\n' "$secs"
sleep "$secs"
"$B/swervectl" -c "$CONF" endpoints

say "ejection over: traffic is back on us-east1"
requests 5

say "the us-east1 endpoint stays up but answers 503 (protocol = http: swerve reads the responses)"
kill "$EAST"; wait "$EAST" 2>/dev/null || true; EAST=""
server 127.0.0.2 "503 from us-east1" 503; EAST=$pid
requests 4 | tee "$B/demo-503.out"
grep -c '503 from us-east1' "$B/demo-503.out" | grep -qx 1 &&
	[ "$(grep -c 'healthy: us-west' "$B/demo-503.out")" = 3 ] || {
	echo "demo: expected one 503, then us-west three times" >&2
	exit 1
}
echo "  the first request met the 503 and ejected us-east1 (consecutive_5xx_errors = 1):"
echo "  the application saw that one 503, as with Istio's outlier detection and no retry"
"$B/swervectl" -c "$CONF" events | tail -n 2
say "done: no connection failed; the one 503 was the endpoint's own answer"

# ================================================ act 2: the HTTPS half
kill "$EAST" "$WEST" 2>/dev/null || true
wait "$EAST" "$WEST" 2>/dev/null || true
EAST=""; WEST=""
sed "s|@CERTS@|$CERTS|" conf/demo-tls.ini > "$CONF2"
CONF=$CONF2
"$B/swervectl" -c "$CONF" reset >/dev/null 2>&1 || true
say "act 2, failover for HTTPS: curl speaks http://mydb.com/, swerve originates TLS to port 18443 (for 443)"
grep -vE '^\s*(;|$)' "$CONF2" | sed 's/^/  /'
"$B/swervectl" -c "$CONF" check
echo "  certificates: a test CA and one certificate per endpoint name, in $CERTS"
tls_server 127.0.0.2 east "healthy: us-east1, over TLS"; EAST=$pid
tls_server 127.0.0.3 west "healthy: us-west, over TLS"; WEST=$pid
say "both endpoints up: the request goes to us-east1 over TLS, verified for east.mydb.test"
requests 3

say "the us-east1 endpoint dies: the relay fails over before the first byte"
kill "$EAST"; wait "$EAST" 2>/dev/null || true; EAST=""
requests 3

say "us-east1 comes back with a certificate from another CA, and is let back in at once"
tls_server 127.0.0.2 wrong-east "impostor: us-east1"; EAST=$pid
"$B/swervectl" -c "$CONF" uneject mydb 127.0.0.2:18443 >/dev/null
requests 3 | tee "$B/demo-tls-impostor.out"
if grep -q impostor "$B/demo-tls-impostor.out"; then
	echo "demo: a request reached the endpoint whose certificate failed" >&2
	exit 1
fi
echo "  its certificate did not verify: it is ejected, and no request reached it"

say "swervectl endpoints: handshakes per endpoint and the last verify error"
"$B/swervectl" -c "$CONF" endpoints
say "done: the application spoke plain HTTP, the endpoints got verified TLS, no request failed"
