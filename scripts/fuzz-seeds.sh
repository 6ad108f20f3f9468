#!/bin/sh
# fuzz-seeds.sh: (re)writes the committed seeds of the fuzz targets from
# the real thing, into tests/fuzz/corpus/<target>/:
#   config  the config fixtures (tests/fixtures/*.ini) and conf/*.ini
#   table   tables made and used by swerve's own calls (make_seeds table)
#   sessions  TLS session stores made and used by swerve's own calls
#           (make_seeds sessions)
#   dns     answers of tests/helpers/dnsd for fuzz.test, one zone per seed
#           (make_seeds dns), and a REFUSED one (dnsd -r)
# Usage: scripts/fuzz-seeds.sh BUILD   (BUILD holds tests/dnsd and
# fuzz/make_seeds: `make fuzz-seeds` builds them and calls this). Inputs
# that a fuzzer found and that are kept as regression inputs (crash-*,
# timeout-*, regress-*) are left alone.
set -eu
cd "$(dirname "$0")/.."
build=$1
corpus=tests/fuzz/corpus
port=15399 # no test uses it (grep tests/ before changing it)
mkdir -p "$corpus/config" "$corpus/table" "$corpus/sessions" "$corpus/dns"
cp tests/fixtures/*.ini conf/*.ini "$corpus/config/"
# Table seeds of an older input format go; kept reproducers stay.
find "$corpus/table" -type f ! -name 'regress-*' ! -name 'crash-*' \
	! -name 'timeout-*' -delete
"$build/fuzz/make_seeds" table "$corpus/table"
find "$corpus/sessions" -type f ! -name 'regress-*' ! -name 'crash-*' \
	! -name 'timeout-*' -delete
"$build/fuzz/make_seeds" sessions "$corpus/sessions"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# seed NAME [DNSD-FLAG] < ZONE: the answers to A and AAAA queries (a
# pipeline runs it in a subshell: it stops its own dnsd).
seed() {
	cat > "$work/zone"
	: > "$work/ready"
	# shellcheck disable=SC2086 # no flag: no argument
	"$build/tests/dnsd" ${2:-} 127.0.0.1 $port "$work/zone" > "$work/ready" &
	dnsd=$!
	i=0
	until grep -q ready "$work/ready"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "fuzz-seeds: dnsd did not start" >&2; exit 1; }
		sleep 0.05
	done
	rc=0
	"$build/fuzz/make_seeds" dns $port "$corpus/dns/$1" || rc=$?
	kill "$dnsd"
	wait "$dnsd" 2>/dev/null || true
	return $rc
}
# records N FORMAT: N zone lines, FORMAT taking the line's number.
records() {
	i=1
	# shellcheck disable=SC2059 # the format is the argument
	while [ $i -le "$1" ]; do printf "$2\n" $i; i=$((i + 1)); done
}
printf 'fuzz.test 30 A 127.0.0.2\nfuzz.test 30 AAAA ::1\n' | seed both-families
printf 'fuzz.test 300 A 127.0.0.2\nfuzz.test 300 A 127.0.0.3\n' | seed a-only
printf 'fuzz.test 5 AAAA ::1\nfuzz.test 5 AAAA fe80::1\n' | seed aaaa-only
printf 'fuzz.test 30 A 127.0.0.2\nfuzz.test 30 A 127.0.0.2\nfuzz.test 30 AAAA ::1\nfuzz.test 30 AAAA ::1\n' |
	seed duplicates
printf 'fuzz.test 0 A 127.0.0.2\nfuzz.test 2147483647 A 127.0.0.3\nfuzz.test 86400 AAAA ::2\n' |
	seed ttl-zero-and-huge
{ records 20 'fuzz.test 60 A 10.0.0.%d'; records 20 'fuzz.test 60 AAAA 2001:db8::%d'; } |
	seed many
records 120 'fuzz.test 60 A 10.0.1.%d' | seed truncated
echo 'other.test 30 A 127.0.0.2' | seed nxdomain
echo 'fuzz.test 30 A 127.0.0.2' | seed refused -r
