#!/bin/sh
# Checks that what swerve builds and tests with is installed; on Debian as
# root, installs what is missing with apt-get, else prints the exact command
# and fails. Called by make (once per build directory) and by .ci/run.
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh --ci     also the clients the integration tests drive,
#                            promtool, and the fuzzing toolchain
#   scripts/deps.sh --fuzz   build + test dependencies and clang's libFuzzer
#                            (make fuzz, and the fuzz smoke of make test)
set -eu

pkgs=""
need() { # need PACKAGE CHECK-COMMAND...
	pkg=$1; shift
	"$@" >/dev/null 2>&1 || pkgs="$pkgs $pkg"
}
need gcc          command -v cc
need make         command -v make
need pkg-config   command -v pkg-config
need libc-ares-dev pkg-config --exists libcares
need libinih-dev  pkg-config --exists inih
need libcriterion-dev pkg-config --exists criterion
# swervectl import reads Istio YAML with libyaml (swervectl only).
need libyaml-dev  pkg-config --exists yaml-0.1
# TLS origination: OpenSSL's headers (the library loads libssl.so.3 itself,
# at run time, privately), and the openssl command for test certificates.
need libssl-dev   pkg-config --exists libssl
need openssl      command -v openssl
need curl         command -v curl
# test_http_cost counts a client's system calls with it.
need strace       command -v strace
need python3      command -v python3
# The man pages' test renders them with `man --warnings` (man-db, over
# groff's troff), and the completion's test runs it under bash-completion.
need man-db       command -v man
need groff-base   command -v troff
need bash-completion test -r /usr/share/bash-completion/bash_completion
case "${1:-}" in
--ci|--fuzz)
	# libFuzzer and the sanitizer runtimes of clang live in
	# libclang-rt-14-dev, which clang-14 only recommends (and apt-get
	# below installs no recommendations).
	need clang-14           command -v clang-14
	# shellcheck disable=SC2016 # expanded by that sh
	need libclang-rt-14-dev sh -c 'ls "$(clang-14 -print-runtime-dir)"/libclang_rt.fuzzer-*.a'
	;;
esac
if [ "${1:-}" = "--ci" ]; then
	need iptables command -v iptables
	need procps   command -v ps
	# The client matrix (tests/clients): each client and the real
	# servers behind it. Go is left out: its resolver and connects are
	# raw syscalls, out of reach of any LD_PRELOAD library.
	need wget           command -v wget
	need netcat-openbsd command -v nc.openbsd
	need socat          command -v socat
	need perl           perl -MIO::Socket::IP -e 1
	need ruby           command -v ruby
	need nodejs         command -v node
	need default-jdk-headless command -v javac
	need postgresql     sh -c 'ls /usr/lib/postgresql/*/bin/postgres'
	need redis-server   command -v redis-server
	need redis-tools    command -v redis-cli
	need openssh-server test -x /usr/sbin/sshd
	need openssh-client command -v ssh
	need git            command -v git
	# promtool, which checks swervectl metrics' exposition (Debian ships
	# it in the prometheus package; its server is never started here).
	need prometheus     command -v promtool
fi

[ -z "$pkgs" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "swerve: installing missing packages:$pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	# Servers installed for the tests (postgresql, redis, sshd) must not
	# start as system services: the tests run their own on loopback.
	guard=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		guard=1
	fi
	rc=0
	apt-get update -qq >&2 || rc=$?
	# shellcheck disable=SC2086
	[ "$rc" = 0 ] && { apt-get install -y -qq --no-install-recommends $pkgs >&2 || rc=$?; }
	[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
	exit "$rc"
fi
echo "swerve: missing packages:$pkgs" >&2
echo "swerve: install them with: sudo apt-get install$pkgs" >&2
exit 1
