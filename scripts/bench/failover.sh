# scripts/bench/failover.sh: requests lost while the primary is killed
# and restarted, for each set-up. Stops the backends.
#
# Sourced by scripts/bench.sh into its own shell, after the parts before it:
# it uses what they set (settings, helpers, $T, PIDS) and runs at once.

# ============================================================= failover

FO_MS=7000         # the loop: one request every 5 ms for 7 s
FO_KILL=1.5        # primary killed 1.5 s in
FO_DOWN=2.5        # and restarted 2.5 s later
say "failover: $FO_ROUNDS rounds per set-up, primary down ${FO_DOWN}s"
mkdir -p "$T/f"
now_ms() { date +%s%3N; }

fo_run() { # fo_run SETUP ROUND
	local setup=$1 r=$2 host port pre=() lp tk tr

	case $setup in
	direct) host=$PRIMARY; port=$BE_PORT ;;
	swerve) host=web.bench; port=$BE_PORT
		pre=(env LD_PRELOAD="$LIB" SWERVE_CONFIG="$T/web.ini" \
		     SWERVE_SHM="$SHM") ;;
	haproxy|haproxy_plain) host=$FRONT; port=$HAP_PORT
		start_proxy "$setup" ;;
	nginx) host=$FRONT; port=$NGX_PORT; start_proxy nginx ;;
	esac
	SWERVE_SHM=$SHM "$CTL" -c "$T/web.ini" reset >/dev/null 2>&1 || true
	sleep 0.3
	"${pre[@]}" taskset -c 0 "$BL" "$host" "$port" 5000 "$FO_MS" \
		> "$T/f/$setup.$r" 2> "$T/f/$setup.$r.err" &
	lp=$!
	PIDS+=("$lp")
	sleep "$FO_KILL"
	tk=$(now_ms)
	kill -9 "$primary_pid"
	wait "$primary_pid" 2>/dev/null || true
	forget "$primary_pid"
	sleep "$FO_DOWN"
	start_backend primary
	tr=$(now_ms)
	wait "$lp" || die "bench_loop $setup: $(cat "$T/f/$setup.$r.err")"
	forget "$lp"
	case $setup in haproxy*|nginx) stop_pid "$proxy_pid" ;; esac
	# lost, ms from kill to the last failure, ms from restore to the
	# first answer from the primary, requests in all
	awk -v tk="$tk" -v tr="$tr" '
		{ n++ }
		$2 == "fail" { lost++; last = $1 }
		$2 == "ok" && $3 == "primary" && $1 > tr && !back { back = $1 }
		END { printf "%d %d %s %d\n", lost, lost ? last - tk : 0,
			back ? back - tr : "never", n }' "$T/f/$setup.$r" \
		>> "$T/f/$setup"
}

for r in $(seq "$FO_ROUNDS"); do
	for setup in direct swerve haproxy haproxy_plain nginx; do
		printf '  round %s/%s: %s\n' "$r" "$FO_ROUNDS" "$setup" >&2
		fo_run "$setup" "$r"
	done
done
stop_pid "$primary_pid"
stop_pid "$backup_pid"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
