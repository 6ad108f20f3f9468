# scripts/bench/httpab.sh: what observing HTTP costs in throughput, A/B.
# Two wrk processes at once, both on CPU 0 against the same nginx backend:
# one through the tcp service (web, A), one through the http service
# (webh, B). Sharing the core and the moment, they share whatever else the
# machine does then: on this 2-core VM two runs of the same set-up a few
# seconds apart differ by up to 40 %, while the two of one group differ
# only by what each client's requests cost it. Each group gives B / A;
# the target is the median of HTTPAB_GROUPS groups per mode.
#
# Sourced by scripts/bench.sh into its own shell, after macro.sh (whose
# primary backend, web.ini and wrk_run it uses): it runs at once.

HTTPAB_GROUPS=${HTTPAB_GROUPS:-$([ -n "$QUICK" ] && echo 3 || echo 10)}
HTTPAB_S=3
say "observing HTTP, A/B: $HTTPAB_GROUPS groups of two ${HTTPAB_S} s wrk runs at once per mode"
mkdir -p "$T/ab"
for mode in keepalive close; do
	for i in $(seq "$HTTPAB_GROUPS"); do
		WRK_S=$HTTPAB_S WRK_OUT=$T/ab wrk_run swerve "$mode" &
		WRK_S=$HTTPAB_S WRK_OUT=$T/ab wrk_run swervehttp "$mode"
		wait $! || die "A/B: the tcp service's wrk failed"
	done
	paste -d' ' "$T/ab/swerve_$mode" "$T/ab/swervehttp_$mode" |
		awk '$1 > 0 { printf "%.6f\n", $2 / $1 }' > "$T/ab/r.$mode"
	[ "$(wc -l < "$T/ab/r.$mode")" -eq "$HTTPAB_GROUPS" ] ||
		die "A/B: $mode: $(wc -l < "$T/ab/r.$mode") groups measured"
done
