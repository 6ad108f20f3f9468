# scripts/bench/micro.sh: the micro benchmarks, in-process: getaddrinfo,
# connect through a service address and straight to its endpoint, and
# pass-through connects in A B B A rounds.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ================================================================ micro

say "micro benchmarks: $MICRO_ROUNDS rounds"
port_free "$SINK_BASE" "$SINK_PORT"

{
	printf '[swerve]\nvip_cidr = %s\nshm = %s\nlog = warn\n\n' \
		"$VIP_CIDR" "$SHM"
	for n in 1 10 100 1000; do
		printf '[service s%s]\nhosts = s%s.bench\nports = %s\n' \
			"$n" "$n" "$SINK_PORT"
		printf 'consecutive_5xx_errors = 5\nlb = round_robin\n'
		awk -v n="$n" -v p="$SINK_PORT" 'BEGIN {
			for (i = 0; i < n; i++) {
				a = 1 + i
				printf "endpoint = 127.90.%d.%d:%d\n",
					int(a / 256), a % 256, p
			} }'
		echo
	done
} > "$T/micro.ini"
"$CTL" -c "$T/micro.ini" check >/dev/null || die "bad micro config"

# The hosts file glibc reads in the baseline: this machine's, plus the
# name, bind-mounted over /etc/hosts in a private mount namespace only.
{ cat /etc/hosts; echo "127.0.0.10 bench-hosts.test"; } > "$T/hosts"

start sink "$BM" sink "$SINK_BASE" 1000 "$SINK_PORT"
sink_pid=$pid
for i in $(seq 50); do
	grep -q ready "$T/sink.log" && break
	sleep 0.1
done
grep -q ready "$T/sink.log" || die "sink did not start: $(cat "$T/sink.log")"

mkdir -p "$T/m"
# m KEY swerve|plain ARGS...: one measurement, appended to $T/m/KEY.
m() {
	local key=$1 how=$2 out

	shift 2
	if [ "$how" = swerve ]; then
		out=$(LD_PRELOAD=$LIB SWERVE_CONFIG=$T/micro.ini SWERVE_SHM=$SHM \
		      unshare -m sh -c 'mount --bind "$0" /etc/hosts &&
			exec taskset -c 0 "$@"' "$T/hosts" "$BM" "$@") ||
			die "$key: $out"
	else
		out=$(unshare -m sh -c 'mount --bind "$0" /etc/hosts &&
			exec taskset -c 0 "$@"' "$T/hosts" "$BM" "$@") ||
			die "$key: $out"
	fi
	echo "$out" | awk '/^ns_per_op/ { print $2 }' >> "$T/m/$key"
	# connect2 measures two cases: the second goes to KEY_b.
	echo "$out" | awk '/^ns_per_op [0-9.]+ [0-9.]+ ops/ { print $3 }' \
		>> "$T/m/${key}_b"
}

for r in $(seq "$MICRO_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$MICRO_ROUNDS" >&2
	m gai_swerve swerve gai s1.bench "$GAI_IT"
	m gai_hosts plain gai bench-hosts.test "$GAI_IT"
	m gai_hosts_lib swerve gai bench-hosts.test "$GAI_IT"
	m gai_num plain gai 127.0.0.1 "$GAI_IT"
	m conn_vip swerve connect s1.bench 1 "$SINK_PORT" "$CONN_IT" 1
	# through the service address and straight to its endpoint, blocks
	# in turn in one process (conn_pair_b: the endpoint, pass-through)
	m conn_pair swerve connect2 s1.bench "$SINK_BASE" "$SINK_PORT" \
		"$CONN_IT"
	# live reload's one stat() of the config file a second
	m reload_stat plain stat "$T/micro.ini" 200000
done
# Pass-through is a few instructions on a call that costs tens of
# microseconds: many short rounds, in A B B A order so that a steady drift
# of the machine cancels out.
PASS_ROUNDS=$((MICRO_ROUNDS * 4 + 1))
say "micro pass-through: $PASS_ROUNDS rounds"
for r in $(seq "$PASS_ROUNDS"); do
	m conn_plain plain connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_pass swerve connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_pass2 swerve connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
	m conn_plain2 plain connect "$SINK_BASE" 1 "$SINK_PORT" "$CONN_IT" 1
done
# Per round: (pass + pass2) / (plain + plain2), and plain2 / plain as the
# noise floor.
paste "$T/m/conn_pass" "$T/m/conn_pass2" | awk '{ print $1 + $2 }' \
	> "$T/m/conn_pass_sum"
paste "$T/m/conn_plain" "$T/m/conn_plain2" | awk '{ print $1 + $2 }' \
	> "$T/m/conn_plain_sum"
for f in "$T"/m/*_b; do
	[ -s "$f" ] || rm -f "$f"
done
# conn_vip's own rounds have no same-round no-library baseline: pair them
# with the pass-through rounds' plain runs of the same index.
head -n "$MICRO_ROUNDS" "$T/m/conn_plain" > "$T/m/conn_plain_r"
