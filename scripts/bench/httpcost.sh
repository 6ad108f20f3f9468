# scripts/bench/httpcost.sh: what observing HTTP costs in instructions:
# wrk under callgrind through the same nginx backend as the tcp service
# (web) and as the http service (webh), keep-alive and Connection: close,
# user space only. Throughput on this loaded 2-core machine moves by more
# than the few per cent observing costs; the instruction counts do not.
#
# Sourced by scripts/bench.sh into its own shell, after macro.sh (whose
# primary backend, web.ini and wrk_cmd it uses): it runs at once. Sets
# HTTPCOST when it measured; BENCH_COST_ONLY=1 prints its table alone.

HTTPCOST=""
if command -v valgrind >/dev/null && command -v callgrind_annotate \
	>/dev/null; then
	say "callgrind instruction counts of wrk, tcp and http services"
	HTTPCOST=1
	mkdir -p "$T/cg"
	# wrk_ir SETUP MODE SECONDS: wrk under callgrind for SECONDS; appends
	# "requests instructions tracker-instructions" to $T/cg/SETUP_MODE.
	wrk_ir() {
		local setup=$1 mode=$2 c=$T/cg/$1_$2.$3 i out line req ir tr

		WRK_S=$3 wrk_cmd "$setup" "$mode"
		# valgrind goes between taskset and wrk (LD_PRELOAD, set by
		# env before them, reaches wrk through valgrind).
		for i in "${!cmd[@]}"; do
			[ "${cmd[$i]}" = wrk ] && break
		done
		cmd=("${cmd[@]:0:$i}" valgrind --tool=callgrind \
			--callgrind-out-file="$c" "${cmd[@]:$i}")
		out=$("${cmd[@]}" 2>&1) || die "callgrind wrk $setup $mode: $out"
		line=$(echo "$out" | grep '^RESULT') ||
			die "callgrind wrk $setup $mode: $out"
		req=$(echo "$line" | awk '{ print $2 }')
		ir=$(awk '/^summary:/ { print $2 }' "$c")
		# The tracker alone: what its two entry points cost, inclusive.
		tr=$(callgrind_annotate --inclusive=yes --auto=no "$c" \
			2>/dev/null |
			awk '/:swerve_httptrack_(read|write) \[/ {
				gsub(",", "", $1); s += $1 } END { print s + 0 }')
		echo "$req $ir $tr" >> "$T/cg/${setup}_$mode"
	}
	for mode in keepalive close; do
		for setup in swerve swervehttp; do
			wrk_ir "$setup" "$mode" 1
			wrk_ir "$setup" "$mode" 3
		done
	done
	# irreq SETUP MODE [COLUMN]: instructions per request, the difference
	# between the 3 s and the 1 s run, so that start-up cancels out
	# (COLUMN 2: all of wrk's, 3: the tracker's).
	irreq() {
		awk -v c="${3:-2}" 'NR == 1 { r = $1; v = $c }
			NR == 2 { printf "%.0f", ($c - v) / ($1 - r) }' \
			"$T/cg/$1_$2"
	}
	httpcost_table() {
		local mode

		echo "| mode | wrk, tcp service | wrk, http service | added | of which the tracker |"
		echo "| --- | --- | --- | --- | --- |"
		for mode in keepalive close; do
			printf '| %s | %s | %s | %s | %s |\n' "$mode" \
				"$(irreq swerve "$mode")" \
				"$(irreq swervehttp "$mode")" \
				"$(( $(irreq swervehttp "$mode") - \
				     $(irreq swerve "$mode") ))" \
				"$(irreq swervehttp "$mode" 3)"
		done
	}
fi
