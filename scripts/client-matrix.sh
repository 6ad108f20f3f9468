#!/bin/sh
# Runs the client matrix (tests/clients) and regenerates docs/client-matrix.md
# from the table it leaves in $BUILD/client-matrix.txt.
#   scripts/client-matrix.sh            clients that are installed
#   scripts/client-matrix.sh --install  first install them (deps.sh --ci)
# Loopback only; every server it starts is stopped before it returns. The
# exit status is the matrix's: non-zero when a client missed expectations,
# and the document is rewritten either way, failures included.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

if [ "${1:-}" = "--install" ]; then
	scripts/deps.sh --ci
fi

status=0
make --no-print-directory BUILD="$BUILD" clients || status=$?

table="$BUILD/client-matrix.txt"
if [ ! -s "$table" ]; then
	echo "client-matrix: no $table: the matrix did not run" >&2
	exit 1
fi

# The first line of a command's answer that names a version, or "absent".
version() {
	out=$("$@" 2>&1 | grep -i -m 1 'version\|[0-9]\.[0-9]') || true
	if [ -z "$out" ] || ! command -v "$1" >/dev/null 2>&1; then
		out="absent"
	fi
	printf '%.60s' "$out"
}

doc=docs/client-matrix.md
mkdir -p docs
{
	cat <<'EOF'
# Client matrix

Real clients dial `mydb.com` under the library (`LD_PRELOAD`) while the
primary endpoint (us-east1, the client's own region) fails, and a failover
(us-west) stays healthy. Servers are real: `tests/helpers/httpd` for the HTTP
clients, two PostgreSQL clusters for psql, two redis-servers for redis-cli,
two sshds for ssh, two dumb-HTTP git servers (`python3 -m http.server` over a
bare repository) for git; in the TLS column, two `tests/helpers/tlsserve`
(two redis-servers with a TLS port only, for redis-cli). Everything runs on
loopback (127.N.100-116.x, N 20-59, chosen per run so that concurrent runs
on one host stay apart).
Regenerate with `scripts/client-matrix.sh`; `make test` runs the same
matrix (`make clients` alone), and the source is `tests/clients/test_clients.c`.

Configuration: `consecutive_5xx_errors = 1`, `interval = 1s`,
`connect_timeout = 1s`, `base_ejection_time = 1s` (60s in the blackhole,
503 and TLS scenarios, so that their ejection outlasts them), `protocol = tcp`
but in the 503 scenario and for the HTTP clients in the TLS one
(`protocol = http`). Each request is a new process.

Scenarios, 4 requests each unless noted:

* **refused**: the primary's server is stopped (its port refuses).
* **blackholed**: the primary's address and port are a `listen(0)` socket
  whose one queue slot is taken, so SYNs go unanswered (a fresh health
  table: the blackhole is unknown at the first request).
* **recovers**: after *refused*, the primary is restarted; requests every
  0.2 s until one reaches it, then 2 more.
* **503 (http)**: the service is `protocol = http` (a fresh health table),
  and the primary answers every request with `503 Service Unavailable` and
  `Connection: close` (`tests/helpers/httpscript`, which logs each connection
  it accepts: the harness counts there which requests reached it). HTTP
  clients only; psql, redis-cli and ssh speak other protocols (`n/a`).
* **TLS (dead primary)**: TLS origination, the reference scenario's HTTPS
  half. The client still speaks plaintext to `mydb.com`; the service has
  `tls = simple`, and its endpoints are the names `east.mydb.test` and
  `west.mydb.test` (a `tests/helpers/dnsd` answers them; `resolution = dns`)
  on port 18443, TLS servers with certificates for those names from the
  build's test CA (`scripts/tls-certs.sh`, `tls_ca_certificates`), in a
  fresh health table. swerve's relay thread picks the endpoint, makes the
  handshake, verifies the certificate and relays. One request while the
  primary lives (`E`), then the primary is killed (`SIGKILL`: its port
  refuses) and 4 more follow: the relay fails over before the first byte,
  so each is answered by the failover (`EWWWW`, time from the kill). HTTP
  clients (`protocol = http`) and redis-cli (`protocol = tcp`, redis over
  TLS); PostgreSQL asks for TLS inside its protocol (STARTTLS, not covered)
  and SSH has none (`n/a`).

A cell reads `ok/failed time sequence`: the time is from the scenario's start
to the end of its first successful request (for *recovers*: from the restart
to the first answer from the primary; for *TLS*: from the kill); the sequence says who answered each
request: `E` primary, `W` failover, `-` failed. The 503 cell is the sequence
alone, with `5` for a request the primary answered with its 503: the
application gets that answer as the server sent it (swerve only observes the
traffic, it never retries a request), and the status it reads ejects the
primary.

Expectations, by what the client does when its first address fails late
(docs/design.md, section 7):

| class | clients | refused | blackholed |
|---|---|---|---|
| next | try the next getaddrinfo address | no failure | no failure; first success within one `connect_timeout` (+1 s for curl and git: curl's gap before another address) |
| blocking | blocking `connect()`: the library retries inside the call | no failure | no failure, within one `connect_timeout` |
| single | non-blocking, one address only | no failure | at most the first request fails, none after it |

Every class: the failover answers while the primary is out, no request fails
while it recovers, and the primary answers again within 6 s of its restart.
In the 503 scenario every HTTP client reads the status
(`tests/clients/matrix.c` says how, per client), so the first request meets
the 503 and every later one is answered by the failover: `5WWW`. A later
request that reaches the primary fails the client. (swerve sees a status only
when the application reads it: a client that closed without reading would
keep going to the primary; none of these does.) In the TLS column no client
loses a request: `EWWWW` for every one it applies to. nc (`-N`) and socat
shut their write side down after the request; the relay passes that
half-close on to the endpoint and still brings the answer back.

## Results

EOF
	cat "$table"
	echo
	echo "## Versions"
	echo
	echo "| program | version |"
	echo "|---|---|"
	echo "| curl | $(version curl --version) |"
	echo "| wget | $(version wget --version) |"
	echo "| python3 | $(version python3 --version) |"
	echo "| perl | $(version perl -e 'print "perl $^V"') |"
	echo "| nc | $(version nc.openbsd -h) |"
	echo "| socat | $(version socat -V |
		sed 's/^.*\(socat version [^ ]*\).*$/\1/') |"
	echo "| ruby | $(version ruby --version) |"
	echo "| node | $(version node --version) |"
	echo "| java | $(version java -version) |"
	echo "| psql | $(version psql --version) |"
	echo "| redis-cli | $(version redis-cli --version) |"
	echo "| ssh | $(version ssh -V) |"
	echo "| git | $(version git --version) |"
	echo
	rev=$(git describe --always --dirty 2>/dev/null || echo '?')
	case $rev in
	*-dirty) rev="$rev (a working tree with uncommitted changes)" ;;
	esac
	echo "Generated by scripts/client-matrix.sh on $(date -u +%Y-%m-%d)" \
	     "at $rev."
} >"$doc.tmp"
mv "$doc.tmp" "$doc"
echo "client-matrix: wrote $doc" >&2
exit "$status"
