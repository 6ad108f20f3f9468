#!/bin/sh
# tls-certs.sh DIR: the TLS test fixtures of the tests, the demo and the
# bench, made with the openssl command (P-256 keys, valid 10 years), into
# DIR (created if missing):
#   ca.pem ca.key                 the test CA
#   east.pem east.key             server cert, SAN DNS:east.mydb.test
#   west.pem west.key             server cert, SAN DNS:west.mydb.test
#   ip.pem ip.key                 server cert, SAN IP:127.0.0.1
#   client.pem client.key         client cert (CN swerve-client), for
#                                 mutual TLS
#   wrong-ca.pem wrong-ca.key     a second CA, unrelated to the first
#   wrong-east.pem wrong-east.key east.mydb.test again, signed by wrong-ca
# All but the CAs are signed by ca. Idempotent and quiet: when DIR holds
# every file already, nothing is done; otherwise everything is made anew
# (a half-made set never mixes two CAs). Concurrent runs on one DIR take
# turns (flock on DIR/.lock). Prints nothing unless something fails.
set -eu
dir=${1:?usage: tls-certs.sh DIR}
files="ca.pem ca.key east.pem east.key west.pem west.key ip.pem ip.key
client.pem client.key wrong-ca.pem wrong-ca.key wrong-east.pem
wrong-east.key"

have_all() {
	for f in $files; do
		[ -s "$dir/$f" ] || return 1
	done
}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
have_all && exit 0

tmp=$(mktemp -d "$dir/.new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ca NAME CN: a self-signed CA.
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$tmp/$1.key" -out "$tmp/$1.pem" -days 3650 \
		-subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# leaf NAME CA CN EXTENSIONS...: a key and a certificate signed by CA.
leaf() {
	name=$1 issuer=$2 cn=$3
	shift 3
	printf '%s\n' basicConstraints=critical,CA:FALSE \
		keyUsage=critical,digitalSignature "$@" > "$tmp/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$name.key" -subj "/CN=$cn" 2>/dev/null |
		openssl x509 -req -CA "$tmp/$issuer.pem" \
			-CAkey "$tmp/$issuer.key" -set_serial "0x$(
				od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
			-days 3650 -extfile "$tmp/$name.ext" \
			-out "$tmp/$name.pem" 2>/dev/null
	rm -f "$tmp/$name.ext"
}

ca ca "swerve test CA"
ca wrong-ca "swerve unrelated CA"
leaf east ca east.mydb.test subjectAltName=DNS:east.mydb.test \
	extendedKeyUsage=serverAuth
leaf west ca west.mydb.test subjectAltName=DNS:west.mydb.test \
	extendedKeyUsage=serverAuth
leaf ip ca 127.0.0.1 subjectAltName=IP:127.0.0.1 extendedKeyUsage=serverAuth
leaf client ca swerve-client extendedKeyUsage=clientAuth
leaf wrong-east wrong-ca east.mydb.test subjectAltName=DNS:east.mydb.test \
	extendedKeyUsage=serverAuth
chmod 600 "$tmp"/*.key
for f in $files; do
	mv -f "$tmp/$f" "$dir/$f"
done
