# scripts/bench/scaling.sh: how the routing cost grows with endpoints per
# service and client threads, and the callgrind instruction counts. Stops
# the sink the micro part started.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

SCALE_ROUNDS=$(( (MICRO_ROUNDS + 1) / 2 ))
say "micro scaling: endpoints x threads, $SCALE_ROUNDS rounds"
for r in $(seq "$SCALE_ROUNDS"); do
	printf '  round %s/%s\n' "$r" "$SCALE_ROUNDS" >&2
	for n in 1 10 100 1000; do
		for t in 1 8 64; do
			m "dir_${n}_$t" plain connect "$SINK_BASE" "$n" \
				"$SINK_PORT" "$SCALE_IT" "$t"
			m "vip_${n}_$t" swerve connect "s$n.bench" 1 \
				"$SINK_PORT" "$SCALE_IT" "$t"
		done
	done
done

# The cost in instructions (user space only; the kernel's share of a
# connect is the same both ways), from callgrind: the difference between
# two iteration counts, so start-up and config loading cancel out.
CALLGRIND=""
if command -v valgrind >/dev/null; then
	say "callgrind instruction counts"
	CALLGRIND=1
	# ir KEY swerve|plain OPS_OF_N1 OPS_OF_N2 N1 N2 ARGS-WITH-@N@
	ir() {
		local key=$1 how=$2 n1=$3 n2=$4 tot=() n a c v
		shift 4
		for n in "$n1" "$n2"; do
			a=()
			for v in "$@"; do a+=("${v//@N@/$n}"); done
			c=$T/cg.$key.$n
			if [ "$how" = swerve ]; then
				LD_PRELOAD=$LIB \
				SWERVE_CONFIG=${IR_CONFIG:-$T/micro.ini} \
				SWERVE_SHM=$SHM unshare -m sh -c \
				'mount --bind "$0" /etc/hosts && exec "$@"' \
				"$T/hosts" valgrind --tool=callgrind \
				--callgrind-out-file="$c" "$BM" "${a[@]}" \
				>/dev/null 2>"$c.err" || die "callgrind $key"
			else
				unshare -m sh -c \
				'mount --bind "$0" /etc/hosts && exec "$@"' \
				"$T/hosts" valgrind --tool=callgrind \
				--callgrind-out-file="$c" "$BM" "${a[@]}" \
				>/dev/null 2>"$c.err" || die "callgrind $key"
			fi
			tot+=("$(awk '/^summary:/ { print $2 }' "$c")")
		done
		# bench_micro warms up with ITER/10+1 (gai) or ITER/20+1
		# (connect) extra operations.
		echo "${tot[0]} ${tot[1]}" > "$T/m/ir_$key"
	}
	ir gai_swerve swerve 2000 4000 gai s1.bench @N@
	ir gai_hosts plain 2000 4000 gai bench-hosts.test @N@
	ir gai_num plain 2000 4000 gai 127.0.0.1 @N@
	ir conn_plain plain 2000 4000 connect "$SINK_BASE" 1 "$SINK_PORT" @N@ 1
	ir conn_pass swerve 2000 4000 connect "$SINK_BASE" 1 "$SINK_PORT" @N@ 1
	ir conn_vip swerve 2000 4000 connect s1.bench 1 "$SINK_PORT" @N@ 1
	ir conn_vip1000 swerve 2000 4000 connect s1000.bench 1 "$SINK_PORT" @N@ 1
	# Live reload's check on every connect: the same with reload = false.
	sed 's/^\[swerve\]$/[swerve]\nreload = false/' "$T/micro.ini" \
		> "$T/micro-noreload.ini"
	IR_CONFIG=$T/micro-noreload.ini ir conn_vip_noreload swerve 2000 4000 \
		connect s1.bench 1 "$SINK_PORT" @N@ 1
	IR_CONFIG=$T/micro-noreload.ini ir conn_pass_noreload swerve 2000 \
		4000 connect "$SINK_BASE" 1 "$SINK_PORT" @N@ 1
	# Ir per operation: gai runs N + N/10 + 1 operations, connect
	# N + N/20 + 1.
	irop() {
		local f=$T/m/ir_$1 per=$2

		awk -v per="$per" '{ d = 4000 + int(4000 / per) - 2000 - \
			int(2000 / per); printf "%.0f", ($2 - $1) / d }' "$f"
	}
fi
stop_pid "$sink_pid"
