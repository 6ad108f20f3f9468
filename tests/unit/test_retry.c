/*
 * Unit tests of the retry decisions (policy/retry.c): which methods are
 * sent again, which statuses and resets call for a retry under each
 * retry_on condition, and Envoy's jittered exponential back-off.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "policy/retry.h"

static enum swerve_retry_method method(const char *req)
{
	return swerve_retry_method(req, strlen(req));
}

Test(retry, idempotent_methods_are_rfc_9110s)
{
	static const char *const yes[] = {
		"GET / HTTP/1.1\r\n", "HEAD /", "OPTIONS *", "TRACE /",
		"PUT /a", "DELETE /b", "\r\n\r\nGET /", "\nGET /",
	};
	static const char *const no[] = {
		"POST / HTTP/1.1\r\n", "PATCH /", "CONNECT a:443", "get /",
		"GETS /", "PROPFIND /", " GET /", "OPTIONSX /",
	};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_assert_eq(method(yes[i]), SWERVE_RETRY_METHOD_IDEMPOTENT,
			     "%s", yes[i]);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_assert_eq(method(no[i]), SWERVE_RETRY_METHOD_NOT, "%s",
			     no[i]);
}

Test(retry, a_method_cut_short_waits_for_more)
{
	cr_assert_eq(method(""), SWERVE_RETRY_METHOD_MORE);
	cr_assert_eq(method("\r\n"), SWERVE_RETRY_METHOD_MORE);
	cr_assert_eq(method("GE"), SWERVE_RETRY_METHOD_MORE);
	cr_assert_eq(method("OPTIONS"), SWERVE_RETRY_METHOD_MORE);
	cr_assert_eq(method("PROPFIND"), SWERVE_RETRY_METHOD_NOT,
		     "longer than any idempotent method");
}

Test(retry, statuses_follow_each_condition)
{
	struct swerve_retry_cfg rc = { .attempts = 2 };

	rc.on = SWERVE_RETRY_ON_STATUS_CODES;
	rc.codes[0] = 503;
	rc.codes[1] = 429;
	rc.ncodes = 2;
	cr_assert(swerve_retry_on_status(&rc, 503));
	cr_assert(swerve_retry_on_status(&rc, 429));
	cr_assert_not(swerve_retry_on_status(&rc, 502));
	cr_assert_not(swerve_retry_on_status(&rc, 200));
	rc.on = SWERVE_RETRY_ON_5XX;
	cr_assert(swerve_retry_on_status(&rc, 500));
	cr_assert(swerve_retry_on_status(&rc, 599));
	cr_assert_not(swerve_retry_on_status(&rc, 429),
		      "the codes need retriable-status-codes");
	cr_assert_not(swerve_retry_on_status(&rc, 499));
	rc.on = SWERVE_RETRY_ON_GATEWAY_ERROR;
	cr_assert(swerve_retry_on_status(&rc, 502));
	cr_assert(swerve_retry_on_status(&rc, 503));
	cr_assert(swerve_retry_on_status(&rc, 504));
	cr_assert_not(swerve_retry_on_status(&rc, 500));
	rc.on = SWERVE_RETRY_ON_RETRIABLE_4XX;
	cr_assert(swerve_retry_on_status(&rc, 409));
	cr_assert_not(swerve_retry_on_status(&rc, 404));
	rc.on = SWERVE_RETRY_ON_CONNECT_FAILURE | SWERVE_RETRY_ON_RESET;
	cr_assert_not(swerve_retry_on_status(&rc, 503));
}

Test(retry, a_reset_is_retried_for_reset_5xx_and_gateway_error)
{
	struct swerve_retry_cfg rc = { .attempts = 2 };

	rc.on = SWERVE_RETRY_ON_RESET;
	cr_assert(swerve_retry_on_reset(&rc));
	rc.on = SWERVE_RETRY_ON_5XX;
	cr_assert(swerve_retry_on_reset(&rc));
	rc.on = SWERVE_RETRY_ON_GATEWAY_ERROR;
	cr_assert(swerve_retry_on_reset(&rc));
	rc.on = SWERVE_RETRY_ON_CONNECT_FAILURE |
		SWERVE_RETRY_ON_STATUS_CODES | SWERVE_RETRY_ON_RETRIABLE_4XX;
	cr_assert_not(swerve_retry_on_reset(&rc));
}

Test(retry, the_back_off_doubles_from_25ms_up_to_250ms_fully_jittered)
{
	static const uint64_t ceiling[] = { 25, 50, 100, 200, 250, 250, 250 };
	unsigned n;

	for (n = 1; n <= 7; n++) {
		cr_assert_eq(swerve_retry_backoff_ms(n, 0), 0);
		cr_assert_eq(swerve_retry_backoff_ms(n, ceiling[n - 1] - 1),
			     ceiling[n - 1] - 1, "retry %u", n);
		cr_assert_eq(swerve_retry_backoff_ms(n, ceiling[n - 1]), 0,
			     "retry %u", n);
		cr_assert_lt(swerve_retry_backoff_ms(n, UINT64_MAX),
			     ceiling[n - 1]);
	}
	cr_assert_lt(swerve_retry_backoff_ms(1000, 12345), 250);
}
