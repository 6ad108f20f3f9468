# scripts/bench/httpab.sh: what observing HTTP costs in throughput, A/B.
# The same wrk load through the tcp service (web, A) and the http service
# (webh, B) in short runs, A B B A, for HTTPAB_PAIRS groups per mode: on
# this shared 2-core machine throughput drifts by more than the few per
# cent observing costs within the seconds between two set-ups of the macro
# rounds, and the A B B A order cancels a steady drift within a group.
# Each group gives (B1 + B2) / (A1 + A2); the target is their median.
#
# Sourced by scripts/bench.sh into its own shell, after macro.sh (whose
# primary backend, web.ini and wrk_run it uses): it runs at once.

HTTPAB_PAIRS=${HTTPAB_PAIRS:-$([ -n "$QUICK" ] && echo 3 || echo 12)}
HTTPAB_S=1
say "observing HTTP, A/B: $HTTPAB_PAIRS groups of 4 runs of ${HTTPAB_S} s per mode"
mkdir -p "$T/ab"
for mode in keepalive close; do
	for i in $(seq "$HTTPAB_PAIRS"); do
		for setup in swerve swervehttp swervehttp swerve; do
			WRK_S=$HTTPAB_S WRK_OUT=$T/ab wrk_run "$setup" "$mode"
		done
	done
	# A run appends a line to its set-up's file: line 2g - 1 and 2g of
	# each file are group g's (A1, A2 and B1, B2).
	paste -d' ' "$T/ab/swerve_$mode" "$T/ab/swervehttp_$mode" |
		awk 'NR % 2 == 1 { a = $1; b = $2; next }
			a + $1 > 0 { printf "%.6f\n", (b + $2) / (a + $1) }' \
		> "$T/ab/r.$mode"
done
