/*
 * Unit tests for outlier.c. Time is a parameter, so nothing sleeps: each
 * test walks one endpoint's state through Envoy's ejection/backoff rules
 * (docs/semantics.md 5 and 8).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "policy/outlier.h"

/* The defaults of semantics.md 6, with gateway off as under Istio. */
static struct swerve_outlier_cfg default_cfg(void)
{
	struct swerve_outlier_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.enabled = true;
	cfg.consecutive_5xx = 5;
	cfg.consecutive_gateway = 0;
	cfg.consecutive_local_origin = 5;
	cfg.split_external_local_origin = false;
	cfg.interval_ms = 10000;
	cfg.base_ejection_ms = 30000;
	cfg.max_ejection_ms = 300000;
	cfg.max_ejection_percent = 10;
	cfg.min_ejectable_hosts = 1;
	cfg.min_health_percent = 0;
	return cfg;
}

static enum swerve_outlier_event fail(struct swerve_outlier_state *st,
				      const struct swerve_outlier_cfg *cfg,
				      uint64_t now)
{
	return swerve_outlier_note(st, cfg, SWERVE_OUTCOME_CONNECT_FAILED, 0,
				   true, now);
}

static enum swerve_outlier_event http(struct swerve_outlier_state *st,
				      const struct swerve_outlier_cfg *cfg,
				      int status, uint64_t now)
{
	return swerve_outlier_note(st, cfg, SWERVE_OUTCOME_HTTP_STATUS, status,
				   true, now);
}

/* Fails until ejected; returns how many failures it took. */
static unsigned fail_until_ejected(struct swerve_outlier_state *st,
				   const struct swerve_outlier_cfg *cfg,
				   uint64_t now)
{
	unsigned k = 0;

	while (k < 1000) {
		k++;
		if (fail(st, cfg, now) == SWERVE_OUTLIER_EJECT)
			return k;
	}
	cr_assert_fail("never ejected");
	return k;
}

struct threshold_case {
	uint32_t threshold;
};

ParameterizedTestParameters(outlier, ejects_exactly_at_threshold)
{
	static struct threshold_case cases[] = { { 1 }, { 2 }, { 5 } };

	return cr_make_param_array(struct threshold_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct threshold_case *tc, outlier,
		  ejects_exactly_at_threshold)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint32_t i;

	cfg.consecutive_5xx = tc->threshold;
	for (i = 1; i < tc->threshold; i++) {
		cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_NONE);
		cr_assert_eq(st.c5xx, i);
		cr_assert_eq(st.ejected, 0);
	}
	cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.backoff, 1);
	cr_assert_eq(st.ejected_at_ms, 1000);
	cr_assert_eq(st.c5xx, 0, "the streak that fired is reset");
}

Test(outlier, streak_above_threshold_still_ejects)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	int i;

	/* Envoy's '==' would never fire once a streak has passed it. */
	for (i = 0; i < 4; i++)
		fail(&st, &cfg, 1000);
	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_CONNECT_FAILED, 0,
					 false, 1000),
		     SWERVE_OUTLIER_OVERFLOW);
	cr_assert_eq(st.c5xx, 5);
	cr_assert_eq(fail(&st, &cfg, 2000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.ejected_at_ms, 2000);
}

Test(outlier, success_resets_streak)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	int round, i;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 4; i++)
			cr_assert_eq(fail(&st, &cfg, 1000),
				     SWERVE_OUTLIER_NONE);
		cr_assert_eq(st.c5xx, 4);
		cr_assert_eq(swerve_outlier_note(&st, &cfg,
						 SWERVE_OUTCOME_CONNECT_OK, 0,
						 true, 1000),
			     SWERVE_OUTLIER_NONE);
		cr_assert_eq(st.c5xx, 0);
		cr_assert_eq(st.gateway, 0);
	}
	cr_assert_eq(st.ejected, 0);
}

Test(outlier, non_5xx_responses_reset_streak)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	static const int ok[] = { 200, 204, 301, 404, 499 };
	size_t k;

	for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		http(&st, &cfg, 503, 1000);
		http(&st, &cfg, 500, 1000);
		cr_assert_eq(st.c5xx, 2);
		cr_assert_eq(http(&st, &cfg, ok[k], 1000), SWERVE_OUTLIER_NONE);
		cr_assert_eq(st.c5xx, 0, "status %d", ok[k]);
	}
}

Test(outlier, connect_timeout_counts_as_gateway_failure)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_TIMEOUT, 0, true,
			    1000);
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_TIMEOUT, 0, true,
			    1000);
	cr_assert_eq(st.c5xx, 2);
	cr_assert_eq(st.gateway, 2);
	cr_assert_eq(st.local_origin, 0, "local origin is split mode only");
}

Test(outlier, reejection_doubles_duration)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 1000);
	cr_assert_eq(st.ejection_ms, 30000);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), 31000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 31000),
		     SWERVE_OUTLIER_UNEJECT);
	/* Fails again at once: no healthy interval, so no decay. */
	cr_assert_eq(fail_until_ejected(&st, &cfg, 31000), 5);
	cr_assert_eq(st.backoff, 2);
	cr_assert_eq(st.ejection_ms, 60000);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), 91000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 91000),
		     SWERVE_OUTLIER_UNEJECT);
	fail_until_ejected(&st, &cfg, 91000);
	cr_assert_eq(st.ejection_ms, 90000);
	cr_assert_eq(st.ejections, 3);
}

Test(outlier, max_caps_duration_and_backoff)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	static const uint64_t want[] = { 30000, 60000, 60000, 60000, 60000 };
	uint64_t now = 1000;
	size_t k;

	cfg.max_ejection_ms = 60000;
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		fail_until_ejected(&st, &cfg, now);
		cr_assert_eq(st.ejection_ms, want[k], "ejection %zu", k + 1);
		now = swerve_outlier_ejected_until(&st, &cfg);
		cr_assert_eq(swerve_outlier_refresh(&st, &cfg, now),
			     SWERVE_OUTLIER_UNEJECT);
	}
	/* Envoy stops at the first backoff with base * b >= max + base. */
	cr_assert_eq(st.backoff, 3);
}

Test(outlier, default_backoff_caps_at_eleven)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint64_t now = 1000;
	int k;

	for (k = 0; k < 20; k++) {
		fail_until_ejected(&st, &cfg, now);
		cr_assert_leq(st.ejection_ms, 300000);
		now = swerve_outlier_ejected_until(&st, &cfg);
		swerve_outlier_refresh(&st, &cfg, now);
	}
	cr_assert_eq(st.backoff, 11);
	cr_assert_eq(st.ejection_ms, 300000);
}

struct rounding_case {
	uint64_t base, interval, want;
};

ParameterizedTestParameters(outlier, rounds_duration_up_to_interval)
{
	static struct rounding_case cases[] = {
		{ 30000, 10000, 30000 },
		{ 25000, 10000, 30000 },
		{ 30001, 10000, 40000 },
		{ 60000, 15000, 60000 },
		{ 1000, 15000, 15000 },
		{ 0, 10000, 10000 }, /* at least one tick */
	};

	return cr_make_param_array(struct rounding_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rounding_case *tc, outlier,
		  rounds_duration_up_to_interval)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.consecutive_5xx = 1;
	cfg.base_ejection_ms = tc->base;
	cfg.interval_ms = tc->interval;
	cr_assert_eq(fail(&st, &cfg, 7000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.ejection_ms, tc->want, "base %lu interval %lu",
		     (unsigned long)tc->base, (unsigned long)tc->interval);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg),
		     7000 + tc->want);
}

Test(outlier, unejects_at_virtual_tick_and_clears_streaks)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 5000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 34999),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 1);
	/* Failures while ejected still count (gateway is off but kept). */
	fail(&st, &cfg, 20000);
	fail(&st, &cfg, 20000);
	cr_assert_eq(st.c5xx, 2);
	cr_assert_eq(st.gateway, 7);
	/* Looked at long after the end: stamped with the tick, not now. */
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 100000),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, 35000);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.local_origin, 0);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), 0);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 100001),
		     SWERVE_OUTLIER_NONE);
}

Test(outlier, unejects_at_exactly_the_end)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 5000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 34999),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 35000),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(st.unejected_at_ms, 35000);
}

Test(outlier, never_ejects_twice_while_ejected)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	int i;

	cfg.consecutive_5xx = 1;
	cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_EJECT);
	for (i = 0; i < 10; i++)
		cr_assert_eq(fail(&st, &cfg, 2000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.backoff, 1);
	cr_assert_eq(st.ejected_at_ms, 1000);
	cr_assert_eq(st.c5xx, 10);
}

Test(outlier, backoff_decays_one_per_healthy_interval)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint64_t u;

	fail_until_ejected(&st, &cfg, 0);
	swerve_outlier_refresh(&st, &cfg, 30000);
	fail_until_ejected(&st, &cfg, 30000);
	cr_assert_eq(st.backoff, 2);
	u = swerve_outlier_ejected_until(&st, &cfg);
	cr_assert_eq(u, 90000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, u),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(st.backoff, 2, "no decay on the un-ejection tick");
	swerve_outlier_refresh(&st, &cfg, u + 9999);
	cr_assert_eq(st.backoff, 2);
	swerve_outlier_refresh(&st, &cfg, u + 10000);
	cr_assert_eq(st.backoff, 1);
	swerve_outlier_refresh(&st, &cfg, u + 19999);
	cr_assert_eq(st.backoff, 1);
	swerve_outlier_refresh(&st, &cfg, u + 20000);
	cr_assert_eq(st.backoff, 0);
	/* Back to the base duration. */
	fail_until_ejected(&st, &cfg, u + 25000);
	cr_assert_eq(st.backoff, 1);
	cr_assert_eq(st.ejection_ms, 30000);
}

Test(outlier, decay_is_lazy_and_stays_on_the_tick_grid)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint64_t now = 0, u;
	int k;

	for (k = 0; k < 4; k++) {
		fail_until_ejected(&st, &cfg, now);
		now = swerve_outlier_ejected_until(&st, &cfg);
		swerve_outlier_refresh(&st, &cfg, now);
	}
	cr_assert_eq(st.backoff, 4);
	u = st.unejected_at_ms;
	/* One look after 2.5 intervals, then one after 3. */
	swerve_outlier_refresh(&st, &cfg, u + 25000);
	cr_assert_eq(st.backoff, 2);
	cr_assert_eq(st.decay_from_ms, u + 20000);
	swerve_outlier_refresh(&st, &cfg, u + 30000);
	cr_assert_eq(st.backoff, 1);
	/* A note decays before it ejects: healthy 1 more interval -> 0. */
	fail_until_ejected(&st, &cfg, u + 40000);
	cr_assert_eq(st.backoff, 1);
	cr_assert_eq(st.ejection_ms, 30000);
}

Test(outlier, partial_decay_gives_intermediate_duration)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint64_t u;

	fail_until_ejected(&st, &cfg, 0);
	swerve_outlier_refresh(&st, &cfg, 30000);
	fail_until_ejected(&st, &cfg, 30000);
	u = swerve_outlier_ejected_until(&st, &cfg);
	swerve_outlier_refresh(&st, &cfg, u);
	/* Healthy one interval: backoff 2 -> 1, so the next one is 2 * base. */
	fail_until_ejected(&st, &cfg, u + 15000);
	cr_assert_eq(st.backoff, 2);
	cr_assert_eq(st.ejection_ms, 60000);
}

Test(outlier, overflow_when_cap_says_no)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	int i;

	for (i = 0; i < 4; i++)
		fail(&st, &cfg, 1000);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(swerve_outlier_note(&st, &cfg,
						 SWERVE_OUTCOME_CONNECT_FAILED,
						 0, false, 1000),
			     SWERVE_OUTLIER_OVERFLOW);
		cr_assert_eq(st.ejected, 0);
		cr_assert_eq(st.ejections, 0);
		cr_assert_eq(st.backoff, 0);
	}
	cr_assert_eq(st.c5xx, 7, "the streak is kept for the next try");
	cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_EJECT);
}

Test(outlier, server_error_breaks_gateway_streak_but_counts_5xx)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.consecutive_gateway = 3;
	cfg.consecutive_5xx = 0;
	cr_assert_eq(http(&st, &cfg, 502, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 503, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 500, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.c5xx, 3);
	cr_assert_eq(http(&st, &cfg, 504, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 502, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 503, 1000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.gateway, 0, "the gateway streak fired");
	cr_assert_eq(st.c5xx, 6, "other streaks keep their value");
}

Test(outlier, consecutive_5xx_counts_every_server_error)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.consecutive_5xx = 3;
	cr_assert_eq(http(&st, &cfg, 500, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 501, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(http(&st, &cfg, 503, 1000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.gateway, 1, "gateway disabled, still counted");
}

Test(outlier, code_tripping_both_streaks_ejects_once)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.consecutive_gateway = 2;
	cfg.consecutive_5xx = 2;
	http(&st, &cfg, 503, 1000);
	cr_assert_eq(http(&st, &cfg, 503, 1000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.c5xx, 2, "found the host ejected: kept, as Envoy");
}

Test(outlier, split_mode_counts_connect_failures_as_local_origin)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.split_external_local_origin = true;
	cfg.consecutive_local_origin = 3;
	cfg.consecutive_5xx = 3;
	fail(&st, &cfg, 1000);
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_TIMEOUT, 0, true,
			    1000);
	cr_assert_eq(st.local_origin, 2);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.gateway, 0);
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_OK, 0, true,
			    1000);
	cr_assert_eq(st.local_origin, 0);

	/* HTTP 5xx feeds only the HTTP streaks; its request had a
	 * connection, so the local-origin streak ends (Envoy reports a
	 * connect success for every request before its response). */
	fail(&st, &cfg, 1000);
	cr_assert_eq(st.local_origin, 1);
	http(&st, &cfg, 503, 1000);
	cr_assert_eq(st.local_origin, 0);
	cr_assert_eq(st.c5xx, 1);
	fail(&st, &cfg, 1000);
	/* A non-5xx response proves the connection: both streaks end. */
	http(&st, &cfg, 200, 1000);
	cr_assert_eq(st.local_origin, 0);
	cr_assert_eq(st.c5xx, 0);

	fail(&st, &cfg, 1000);
	fail(&st, &cfg, 1000);
	cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.local_origin, 0);
}

Test(outlier, split_mode_connect_ok_does_not_reset_http_streak)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.split_external_local_origin = true;
	http(&st, &cfg, 500, 1000);
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_OK, 0, true,
			    1000);
	cr_assert_eq(st.c5xx, 1);
}

Test(outlier, local_origin_threshold_ignored_without_split)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	cfg.consecutive_5xx = 0;
	cfg.consecutive_local_origin = 1;
	cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 0);
}

Test(outlier, disabled_detection_never_ejects)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	int i;

	cfg.enabled = false;
	for (i = 0; i < 20; i++)
		cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 0);
}

Test(outlier, note_reports_uneject_done_by_its_refresh)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 0);
	cr_assert_eq(swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_OK,
					 0, true, 30000),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(st.ejected, 0);
}

Test(outlier, reference_scenario_one_refusal_ejects_for_a_minute)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	const uint64_t t = 123456;

	cfg.consecutive_5xx = 1;
	cfg.interval_ms = 15000;
	cfg.base_ejection_ms = 60000;
	cr_assert_eq(fail(&st, &cfg, t), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), t + 60000);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, t + 59999),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, t + 60000),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), 0);
}

Test(outlier, huge_durations_saturate_instead_of_wrapping)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };
	uint64_t now = UINT64_MAX - 1000;
	int k;

	cfg.consecutive_5xx = 1;
	cfg.base_ejection_ms = UINT64_MAX / 2;
	cfg.max_ejection_ms = UINT64_MAX;
	cfg.interval_ms = 7;
	for (k = 0; k < 3; k++) {
		cr_assert_eq(fail(&st, &cfg, 1000), SWERVE_OUTLIER_EJECT);
		cr_assert_geq(st.ejection_ms, cfg.base_ejection_ms);
		st.ejected = 0; /* as an operator reset would */
	}
	cr_assert_eq(fail(&st, &cfg, now), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), UINT64_MAX);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, UINT64_MAX - 1),
		     SWERVE_OUTLIER_NONE);
}

struct cap_case {
	uint32_t n, percent, min_hosts, want;
};

ParameterizedTestParameters(outlier, max_ejected_follows_quick_table)
{
	/* semantics.md 5.3: floor(M * N / 100), with swerve's floor on top. */
	static struct cap_case cases[] = {
		{ 2, 10, 0, 0 },   { 2, 10, 1, 1 },  { 2, 49, 0, 0 },
		{ 2, 50, 0, 1 },   { 3, 33, 0, 0 },  { 3, 34, 0, 1 },
		{ 3, 66, 0, 1 },   { 3, 67, 0, 2 },  { 6, 16, 0, 0 },
		{ 6, 17, 0, 1 },   { 6, 34, 0, 2 },  { 6, 50, 0, 3 },
		{ 9, 10, 0, 0 },   { 10, 10, 0, 1 }, { 3, 100, 0, 3 },
		{ 3, 250, 0, 3 },  { 3, 10, 5, 3 },  { 0, 50, 1, 0 },
		{ 1, 10, 1, 1 },   { 20, 10, 1, 2 },
	};

	return cr_make_param_array(struct cap_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct cap_case *tc, outlier,
		  max_ejected_follows_quick_table)
{
	struct swerve_outlier_cfg cfg = default_cfg();

	cfg.max_ejection_percent = tc->percent;
	cfg.min_ejectable_hosts = tc->min_hosts;
	cr_assert_eq(swerve_outlier_max_ejected(&cfg, tc->n), tc->want,
		     "N=%u M=%u min=%u", tc->n, tc->percent, tc->min_hosts);
}

Test(outlier, gateway_only_rule_ejects_on_connect_failures_with_reason)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st;

	/* Istio: consecutiveGatewayErrors 2, consecutive5xxErrors 0. Not
	 * split, a refused connect is Envoy's 503: a gateway error. */
	cfg.consecutive_5xx = 0;
	cfg.consecutive_gateway = 2;
	memset(&st, 0, sizeof(st));
	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_CONNECT_FAILED, 0,
					 true, 1000), SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_CONNECT_TIMEOUT, 0,
					 true, 1001), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.reason, SWERVE_REASON_GATEWAY);
	cr_assert_eq(st.streak, 2);
	cr_assert_eq(swerve_outlier_threshold(&cfg, SWERVE_REASON_GATEWAY), 2);
	cr_assert_str_eq(swerve_outlier_reason_name(SWERVE_REASON_GATEWAY),
			 "consecutive_gateway");

	/* Split: connect failures are local origin only, never gateway. */
	cfg.split_external_local_origin = true;
	cfg.consecutive_local_origin = 3;
	memset(&st, 0, sizeof(st));
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_FAILED, 0, true,
			    1000);
	swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_FAILED, 0, true,
			    1001);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_CONNECT_FAILED, 0,
					 true, 1002), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(st.reason, SWERVE_REASON_LOCAL_ORIGIN);
	cr_assert_eq(st.streak, 3);
}

Test(outlier, overflow_records_reason_and_streak)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st;
	int i;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < 4; i++)
		swerve_outlier_note(&st, &cfg, SWERVE_OUTCOME_CONNECT_FAILED,
				    0, false, 1000);
	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_CONNECT_FAILED, 0,
					 false, 1000), SWERVE_OUTLIER_OVERFLOW);
	cr_assert_eq(st.reason, SWERVE_REASON_5XX);
	cr_assert_eq(st.streak, 5);
	cr_assert_eq(st.ejected, 0);
}

/* Operator edits (swervectl) ---------------------------------------------- */

Test(outlier, operator_eject_counts_and_replaces_a_running_ejection)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 5000);
	cr_assert_eq(st.backoff, 1);
	cr_assert_eq(st.reason, SWERVE_REASON_5XX);
	swerve_outlier_operator_eject(&st, 45000, 6000);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 2);
	cr_assert_eq(st.ejected_at_ms, 6000);
	cr_assert_eq(st.ejection_ms, 45000, "the operator's length, as is");
	cr_assert_eq(st.reason, SWERVE_REASON_OPERATOR);
	cr_assert_eq(st.streak, 0);
	cr_assert_eq(st.backoff, 1, "backoff unchanged");
	cr_assert_eq(swerve_outlier_ejected_until(&st, NULL), 51000);
	/* it ends when its time is over, exactly */
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 50999),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_outlier_refresh(&st, &cfg, 51000),
		     SWERVE_OUTLIER_UNEJECT);
}

Test(outlier, operator_uneject_ends_an_ejection_and_clears_streaks)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 5000);
	fail(&st, &cfg, 6000);
	cr_assert_eq(st.c5xx, 1);
	cr_assert_eq(swerve_outlier_operator_uneject(&st, 7000),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, 7000, "now, not a tick");
	cr_assert_eq(st.decay_from_ms, 7000);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.local_origin, 0);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.backoff, 1, "decays from now on, not at once");
	cr_assert_eq(swerve_outlier_ejected_until(&st, &cfg), 0);
	/* in service already: nothing changes, nothing to report */
	cr_assert_eq(swerve_outlier_operator_uneject(&st, 8000),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.unejected_at_ms, 7000);
}

Test(outlier, operator_uneject_of_an_ejection_over_already_is_no_event)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 };

	fail_until_ejected(&st, &cfg, 5000);
	/* nobody refreshed it after its end (35000) */
	cr_assert_eq(swerve_outlier_operator_uneject(&st, 35000),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, 35000);
}

Test(outlier, reset_gives_a_fresh_state)
{
	struct swerve_outlier_cfg cfg = default_cfg();
	struct swerve_outlier_state st = { 0 }, fresh;

	fail_until_ejected(&st, &cfg, 5000);
	fail(&st, &cfg, 6000);
	swerve_outlier_reset(&st);
	memset(&fresh, 0, sizeof(fresh));
	cr_assert_arr_eq(&st, &fresh, sizeof(st));
}

Test(outlier, repair_clamps_what_a_dead_writer_left)
{
	struct swerve_outlier_state st = { 0 };

	st.ejected = 7;
	st.ejection_ms = 1000;
	st.ejected_at_ms = UINT64_MAX;
	st.unejected_at_ms = 9000;
	st.decay_from_ms = 9001;
	swerve_outlier_repair(&st, 5000, 2000);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejection_ms, 1000);
	cr_assert_eq(st.ejected_at_ms, 2000, "no stamps in the future");
	cr_assert_eq(st.unejected_at_ms, 2000);
	cr_assert_eq(st.decay_from_ms, 2000);
	/* an ejection longer than any real one is damage: back in service */
	st.ejection_ms = 5001;
	swerve_outlier_repair(&st, 5000, 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.ejection_ms, 0);
	/* without a time the stamps are left as they are */
	st.ejected_at_ms = 99999;
	swerve_outlier_repair(&st, 5000, 0);
	cr_assert_eq(st.ejected_at_ms, 99999);
}
