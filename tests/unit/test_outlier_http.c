/*
 * Unit tests for outlier.c with the outcomes of an HTTP service (protocol
 * = http): Envoy's mapping of its router's results onto the streaks
 * (docs/semantics.md 5.1), the cause each ejection records, and the
 * property the shared table's lock-free path relies on: a success leaves
 * a pristine state exactly as it was. Time is a parameter; nothing sleeps.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "policy/outlier.h"

/* Envoy's interval and ejection times, every endpoint ejectable, and the
 * thresholds and mode of each test. */
static struct swerve_outlier_cfg cfg_with(uint32_t c5xx, uint32_t gateway,
					  bool split, uint32_t local_origin)
{
	return (struct swerve_outlier_cfg){
		.enabled = true, .consecutive_5xx = c5xx,
		.consecutive_gateway = gateway,
		.consecutive_local_origin = local_origin,
		.split_external_local_origin = split, .interval_ms = 10000,
		.base_ejection_ms = 30000, .max_ejection_ms = 300000,
		.max_ejection_percent = 100, .min_ejectable_hosts = 1,
	};
}

static enum swerve_outlier_event put(struct swerve_outlier_state *st,
				     const struct swerve_outlier_cfg *cfg,
				     enum swerve_outcome outcome, int status)
{
	return swerve_outlier_note(st, cfg, outcome, status, true, 1000);
}

static enum swerve_outlier_event status(struct swerve_outlier_state *st,
					const struct swerve_outlier_cfg *cfg,
					int code)
{
	return put(st, cfg, SWERVE_OUTCOME_HTTP_STATUS, code);
}

/* <outcome> ejects, by the streak of <why>, with cause <cause>. */
static void ejects(struct swerve_outlier_state *st,
		   const struct swerve_outlier_cfg *cfg,
		   enum swerve_outcome outcome, int code,
		   enum swerve_outlier_reason why,
		   enum swerve_outlier_cause cause)
{
	cr_assert_eq(put(st, cfg, outcome, code), SWERVE_OUTLIER_EJECT,
		     "outcome %d %d", (int)outcome, code);
	cr_assert_eq(st->reason, why);
	cr_assert_eq(st->cause, cause);
}

/* Envoy's router ignores LocalOriginConnectSuccess without split mode:
 * only responses make or break the 5xx streak. */
Test(outlier_http, connect_ok_of_http_touches_no_streak_without_split)
{
	struct swerve_outlier_cfg cfg = cfg_with(2, 0, false, 5);
	struct swerve_outlier_state st = { 0 };

	cr_assert_eq(put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(status(&st, &cfg, 503), SWERVE_OUTLIER_NONE);
	cr_assert_eq(put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.c5xx, 1, "one connection per request keeps it");
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_STATUS, 503,
	       SWERVE_REASON_5XX, SWERVE_CAUSE_5XX);
	cr_assert_eq(st.streak, 2);

	/* A tcp connect success in between is tcp_proxy's 200: it resets. */
	memset(&st, 0, sizeof(st));
	status(&st, &cfg, 503);
	put(&st, &cfg, SWERVE_OUTCOME_CONNECT_OK, 0);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(status(&st, &cfg, 503), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 0);
}

/* LocalOriginConnectFailed: a 503 without split mode, gateway too. */
Test(outlier_http, reset_before_headers_counts_as_503)
{
	struct swerve_outlier_cfg cfg = cfg_with(2, 0, false, 5);
	struct swerve_outlier_state st = { 0 };

	put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0);
	cr_assert_eq(put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.c5xx, 1);
	cr_assert_eq(st.gateway, 1, "503 is a gateway error");
	cr_assert_eq(st.local_origin, 0, "local origin is split mode only");
	put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0);
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0,
	       SWERVE_REASON_5XX, SWERVE_CAUSE_LOCAL_ORIGIN);
}

/* LocalOriginTimeout: a 504, so a gateway error and a 5xx. */
Test(outlier_http, response_timeout_counts_as_504)
{
	struct swerve_outlier_cfg only_5xx = cfg_with(1, 0, false, 5);
	struct swerve_outlier_cfg only_gw = cfg_with(0, 1, false, 5);
	struct swerve_outlier_state st = { 0 };

	ejects(&st, &only_5xx, SWERVE_OUTCOME_HTTP_TIMEOUT, 0,
	       SWERVE_REASON_5XX, SWERVE_CAUSE_TIMEOUT);
	cr_assert_eq(st.gateway, 1, "counted for the gateway streak too");

	memset(&st, 0, sizeof(st));
	ejects(&st, &only_gw, SWERVE_OUTCOME_HTTP_TIMEOUT, 0,
	       SWERVE_REASON_GATEWAY, SWERVE_CAUSE_TIMEOUT);

	/* A 500 breaks the gateway streak; a timeout after it starts one. */
	memset(&st, 0, sizeof(st));
	only_gw.consecutive_gateway = 2;
	put(&st, &only_gw, SWERVE_OUTCOME_HTTP_TIMEOUT, 0);
	status(&st, &only_gw, 500);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.c5xx, 2);
	cr_assert_eq(put(&st, &only_gw, SWERVE_OUTCOME_HTTP_TIMEOUT, 0),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(put(&st, &only_gw, SWERVE_OUTCOME_HTTP_TIMEOUT, 0),
		     SWERVE_OUTLIER_EJECT);
}

/* Split mode: resets and timeouts are local-origin failures, statuses
 * feed the HTTP streaks, and neither counts for the other. */
Test(outlier_http, split_mode_counts_local_origin_and_statuses_apart)
{
	struct swerve_outlier_cfg cfg = cfg_with(2, 0, true, 2);
	struct swerve_outlier_state st = { 0 };

	put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0);
	put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0);
	cr_assert_eq(st.local_origin, 1);
	cr_assert_eq(st.c5xx, 0, "a reset is no 503 in split mode");
	cr_assert_eq(st.gateway, 0);
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_TIMEOUT, 0,
	       SWERVE_REASON_LOCAL_ORIGIN, SWERVE_CAUSE_TIMEOUT);
	cr_assert_eq(st.c5xx, 0);

	memset(&st, 0, sizeof(st));
	put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0);
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0,
	       SWERVE_REASON_LOCAL_ORIGIN, SWERVE_CAUSE_LOCAL_ORIGIN);

	/* Connect failures of split mode are local-origin failures too. */
	memset(&st, 0, sizeof(st));
	put(&st, &cfg, SWERVE_OUTCOME_CONNECT_FAILED, 0);
	ejects(&st, &cfg, SWERVE_OUTCOME_CONNECT_TIMEOUT, 0,
	       SWERVE_REASON_LOCAL_ORIGIN, SWERVE_CAUSE_LOCAL_ORIGIN);

	/* Statuses: the 5xx streak, never the local-origin one. */
	memset(&st, 0, sizeof(st));
	status(&st, &cfg, 503);
	cr_assert_eq(st.local_origin, 0);
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_STATUS, 503,
	       SWERVE_REASON_5XX, SWERVE_CAUSE_5XX);
}

/*
 * Envoy's router reports LocalOriginConnectSuccess for every request when
 * it gets its connection, so a response of any status follows one: in
 * split mode no local-origin streak survives a response. swerve reports
 * one connect success per connection, so the response stands for it.
 */
Test(outlier_http, split_mode_any_response_ends_the_local_origin_streak)
{
	struct swerve_outlier_cfg cfg = cfg_with(5, 0, true, 2);
	struct swerve_outlier_state st = { 0 };

	put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0);
	cr_assert_eq(st.local_origin, 1);
	status(&st, &cfg, 503);
	cr_assert_eq(st.local_origin, 0, "the 503's request had a connection");
	cr_assert_eq(st.c5xx, 1);
	cr_assert_eq(put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.ejected, 0);

	/* The connect success of split mode ends it, and only it. */
	status(&st, &cfg, 500);
	put(&st, &cfg, SWERVE_OUTCOME_HTTP_RESET, 0);
	put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0);
	cr_assert_eq(st.local_origin, 0);
	cr_assert_eq(st.c5xx, 2, "a connect success is no response");
}

Test(outlier_http, client_errors_never_eject_and_a_success_resets)
{
	struct swerve_outlier_cfg cfg = cfg_with(1, 1, false, 5);
	struct swerve_outlier_state st = { 0 };
	static const int codes[] = { 400, 404, 408, 429, 499 };
	size_t i;
	int k;

	for (k = 0; k < 100; k++)
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			cr_assert_eq(status(&st, &cfg, codes[i]),
				     SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.gateway, 0);
	cr_assert_eq(st.ejections, 0);

	cfg = cfg_with(3, 0, false, 5);
	status(&st, &cfg, 503);
	status(&st, &cfg, 503);
	cr_assert_eq(status(&st, &cfg, 200), SWERVE_OUTLIER_NONE);
	cr_assert_eq(st.c5xx, 0, "a 200 ends the streak");
	status(&st, &cfg, 503);
	cr_assert_eq(status(&st, &cfg, 503), SWERVE_OUTLIER_NONE);
	cr_assert_eq(status(&st, &cfg, 503), SWERVE_OUTLIER_EJECT);
}

Test(outlier_http, one_status_tripping_both_streaks_is_a_gateway_cause)
{
	struct swerve_outlier_cfg cfg = cfg_with(1, 1, false, 5);
	struct swerve_outlier_state st = { 0 };

	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_STATUS, 502,
	       SWERVE_REASON_GATEWAY, SWERVE_CAUSE_GATEWAY);

	memset(&st, 0, sizeof(st));
	ejects(&st, &cfg, SWERVE_OUTCOME_HTTP_STATUS, 500,
	       SWERVE_REASON_5XX, SWERVE_CAUSE_5XX);

	/* A connect failure through the gateway streak stays one. */
	memset(&st, 0, sizeof(st));
	cfg.consecutive_5xx = 0;
	ejects(&st, &cfg, SWERVE_OUTCOME_CONNECT_FAILED, 0,
	       SWERVE_REASON_GATEWAY, SWERVE_CAUSE_CONNECT_FAILURE);
}

Test(outlier_http, overflow_records_the_cause_and_operators_clear_it)
{
	struct swerve_outlier_cfg cfg = cfg_with(1, 0, false, 5);
	struct swerve_outlier_state st = { 0 };

	cr_assert_eq(swerve_outlier_note(&st, &cfg,
					 SWERVE_OUTCOME_HTTP_TIMEOUT, 0,
					 false, 1000),
		     SWERVE_OUTLIER_OVERFLOW);
	cr_assert_eq(st.cause, SWERVE_CAUSE_TIMEOUT);
	cr_assert_eq(st.ejected, 0);
	swerve_outlier_operator_eject(&st, 60000, 2000);
	cr_assert_eq(st.reason, SWERVE_REASON_OPERATOR);
	cr_assert_eq(st.cause, SWERVE_CAUSE_NONE);
}

Test(outlier_http, repair_clears_a_cause_that_cannot_occur)
{
	struct swerve_outlier_state st = { 0 };

	st.cause = 77;
	st.unused = 5;
	swerve_outlier_repair(&st, 1000000, 0);
	cr_assert_eq(st.cause, SWERVE_CAUSE_NONE);
	cr_assert_eq(st.unused, 0);
	st.cause = SWERVE_CAUSE_LOCAL_ORIGIN;
	swerve_outlier_repair(&st, 1000000, 0);
	cr_assert_eq(st.cause, SWERVE_CAUSE_LOCAL_ORIGIN);
}

Test(outlier_http, cause_names_are_stable)
{
	cr_assert_str_eq(swerve_outlier_cause_name(SWERVE_CAUSE_5XX), "5xx");
	cr_assert_str_eq(swerve_outlier_cause_name(SWERVE_CAUSE_GATEWAY),
			 "gateway");
	cr_assert_str_eq(swerve_outlier_cause_name(SWERVE_CAUSE_TIMEOUT),
			 "timeout");
	cr_assert_str_eq(
		swerve_outlier_cause_name(SWERVE_CAUSE_CONNECT_FAILURE),
		"connect-failure");
	cr_assert_str_eq(swerve_outlier_cause_name(SWERVE_CAUSE_LOCAL_ORIGIN),
			 "local-origin");
	cr_assert_str_eq(swerve_outlier_cause_name(SWERVE_CAUSE_NONE), "none");
	cr_assert_str_eq(swerve_outlier_cause_name(
				 (enum swerve_outlier_cause)99), "none");
}

/*
 * The shared table counts a success on a quiet row (no streak, backoff or
 * ejection) without its lock, so it must change nothing there: every
 * success outcome, in both modes, with any thresholds and any time.
 */
Test(outlier_http, a_success_leaves_a_pristine_state_as_it_was)
{
	static const int codes[] = { 100, 101, 200, 204, 301, 304, 404, 499,
				     600, 999 };
	struct swerve_outlier_state st, before;
	struct swerve_outlier_cfg cfg;
	size_t i;
	int split, t;

	for (split = 0; split < 2; split++) {
		for (t = 0; t < 3; t++) {
			cfg = cfg_with((uint32_t)t, (uint32_t)t, split != 0,
				       (uint32_t)t);
			memset(&before, 0, sizeof(before));
			/* History that a quiet row may keep. */
			before.ejections = 3;
			before.ejected_at_ms = 500;
			before.ejection_ms = 30000;
			before.unejected_at_ms = 30500;
			before.decay_from_ms = 30500;
			before.reason = SWERVE_REASON_5XX;
			before.cause = SWERVE_CAUSE_TIMEOUT;
			st = before;
			put(&st, &cfg, SWERVE_OUTCOME_CONNECT_OK, 0);
			if (!split) {
				/* tcp_proxy's 200: resets, and from 0 that
				 * is nothing */
				cr_assert_eq(memcmp(&st, &before, sizeof(st)),
					     0);
			}
			put(&st, &cfg, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0);
			for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
				swerve_outlier_note(&st, &cfg,
						    SWERVE_OUTCOME_HTTP_STATUS,
						    codes[i], true,
						    1000000 + i);
			cr_assert_eq(memcmp(&st, &before, sizeof(st)), 0,
				     "split %d threshold %d", split, t);
		}
	}
}
