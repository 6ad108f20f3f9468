/*
 * Unit tests of the retry keys (Istio's HTTPRetry: retries, retry_on,
 * retriable_status_codes): their defaults, where they apply (services the
 * TLS relay carries: protocol = http with tls), [defaults] reaching only
 * those, and every error with its file:line.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "policy/config.h"
#include "test_config_support.h"

/* A service the relay carries: header, name, endpoint, http and tls. */
#define RELAYED(n) \
	"[service " n "]\nhosts = " n ".example\n" \
	"endpoint = 127.0.0.2:443\nprotocol = http\ntls = simple\n" \
	"tls_insecure_skip_verify = true\n"

Test(config_retry, defaults_are_istios_two_retries_on_503)
{
	struct swerve_config *cfg = NULL;
	const struct swerve_retry_cfg *rc;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(RELAYED("a"), path, sizeof(path), &cfg, &r),
		     0);
	rc = &cfg->services[0].retry;
	cr_assert_eq(rc->attempts, 2);
	cr_assert_eq(rc->on, SWERVE_RETRY_ON_CONNECT_FAILURE |
				     SWERVE_RETRY_ON_RESET |
				     SWERVE_RETRY_ON_STATUS_CODES);
	cr_assert_eq(rc->ncodes, 1);
	cr_assert_eq(rc->codes[0], 503);
	swerve_config_free(cfg);
}

Test(config_retry, reads_every_key)
{
	struct swerve_config *cfg = NULL;
	const struct swerve_retry_cfg *rc;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(RELAYED("a")
			       "retries = 10\n"
			       "retry_on = 5xx , gateway-error,reset,"
			       "connect-failure, retriable-4xx,"
			       "retriable-status-codes\n"
			       "retriable_status_codes = 500, 502,429,409,"
			       "599,100\n",
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert_eq(r.n, 0);
	rc = &cfg->services[0].retry;
	cr_assert_eq(rc->attempts, 10);
	cr_assert_eq(rc->on, 0x3f);
	cr_assert_eq(rc->ncodes, 6);
	cr_assert_eq(rc->codes[0], 500);
	cr_assert_eq(rc->codes[1], 502);
	cr_assert_eq(rc->codes[2], 429);
	cr_assert_eq(rc->codes[3], 409);
	cr_assert_eq(rc->codes[4], 599);
	cr_assert_eq(rc->codes[5], 100);
	swerve_config_free(cfg);
}

Test(config_retry, defaults_reach_only_the_services_the_relay_carries)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[defaults]\nretries = 5\nretry_on = 5xx\n"
			       RELAYED("a")
			       "[service b]\nhosts = b.example\n"
			       "endpoint = 127.0.0.3:80\nprotocol = http\n"
			       "[service c]\nhosts = c.example\n"
			       "endpoint = 127.0.0.4:443\ntls = simple\n"
			       "tls_insecure_skip_verify = true\n",
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(find_service(cfg, "a")->retry.attempts, 5);
	cr_assert_eq(find_service(cfg, "a")->retry.on, SWERVE_RETRY_ON_5XX);
	cr_assert_eq(find_service(cfg, "b")->retry.attempts, 0,
		     "http without tls: observed, never resent");
	cr_assert_eq(find_service(cfg, "c")->retry.attempts, 0,
		     "tcp with tls: no requests");
	swerve_config_free(cfg);
}

Test(config_retry, retries_is_0_to_10_and_0_turns_them_off)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(RELAYED("a") "retries = 0\n", path,
			       sizeof(path), &cfg, &r), 0);
	cr_assert_eq(cfg->services[0].retry.attempts, 0);
	swerve_config_free(cfg);
	load_bad(RELAYED("a") "retries = 11\n", path, &r, 1);
	expect_error(&r, path, 7, "retries must be a whole number from 0 "
		     "to 10, not '11'");
}

Test(config_retry, a_key_on_a_service_the_relay_does_not_carry_is_an_error)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad("[service b]\nhosts = b.example\n"
		     "endpoint = 127.0.0.3:80\nprotocol = http\n"
		     "retries = 1\n"                                /* 5 */
		     "[service c]\nhosts = c.example\n"
		     "endpoint = 127.0.0.4:443\ntls = simple\n"
		     "tls_insecure_skip_verify = true\n"            /* 10 */
		     "retry_on = reset\n"
		     "retriable_status_codes = 503\n", path, &r, 3);
	expect_error(&r, path, 5, "retries does nothing in [service b]: "
		     "without tls = simple or mutual swerve only observes "
		     "the application's own connection to the endpoint, and "
		     "cannot send a request again");
	expect_error(&r, path, 11, "retry_on does nothing in [service c]: "
		     "its protocol is tcp, whose bytes hold no request to "
		     "send again (set protocol = http)");
	expect_error(&r, path, 12, "retriable_status_codes does nothing in "
		     "[service c]");
}

Test(config_retry, retry_on_refuses_what_does_not_apply_and_says_why)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad(RELAYED("a")
		     "[defaults]\n"                                 /* 7 */
		     "retry_on = refused-stream\n"
		     "[service b]\nhosts = b.example\n"
		     "endpoint = 127.0.0.2:443\nprotocol = http\n"  /* 11 */
		     "tls = simple\ntls_insecure_skip_verify = true\n"
		     "retry_on = unavailable, 5xx, 5xx\n"           /* 15 */
		     "[service c]\nhosts = c.example\n"
		     "endpoint = 127.0.0.2:443\nprotocol = http\n"  /* 18 */
		     "tls = simple\ntls_insecure_skip_verify = true\n"
		     "retry_on = reset-before-request,,bogus, 503\n", /* 22 */
		     path, &r, 7);
	expect_error(&r, path, 8, "retry_on: refused-stream does not apply "
		     "here: it is an HTTP/2 stream refusal, and the relay "
		     "speaks HTTP/1.1 to the endpoints");
	expect_error(&r, path, 15, "retry_on: unavailable does not apply "
		     "here: it is a gRPC status, and gRPC needs HTTP/2");
	expect_error(&r, path, 15, "retry_on lists 5xx twice");
	expect_error(&r, path, 22, "retry_on: reset-before-request does not "
		     "apply here: swerve resends only a request it has sent "
		     "in full, so it would never apply: use reset");
	expect_error(&r, path, 22, "empty condition in retry_on");
	expect_error(&r, path, 22, "retry_on: 503 is a status: list it in "
		     "retriable_status_codes (Istio's retryOn takes statuses "
		     "too, swerve gives them a key of their own)");
	expect_error(&r, path, 22, "retry_on: 'bogus' is not a retry "
		     "condition: use connect-failure, reset, 5xx, "
		     "gateway-error, retriable-4xx or retriable-status-codes");
}

Test(config_retry, retriable_status_codes_are_up_to_6_statuses)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad(RELAYED("a")
		     "retriable_status_codes = 503, 5030, 099, abc, 600, "
		     "503\n"                                        /* 7 */
		     RELAYED("b")
		     "retriable_status_codes = 500,501,502,503,504,505,506\n",
		     path, &r, 6);
	expect_error(&r, path, 7, "retriable_status_codes: '5030' is not an "
		     "HTTP status (three digits, 100 to 599)");
	expect_error(&r, path, 7, "'099' is not an HTTP status");
	expect_error(&r, path, 7, "'abc' is not an HTTP status");
	expect_error(&r, path, 7, "'600' is not an HTTP status");
	expect_error(&r, path, 7, "retriable_status_codes lists 503 twice");
	expect_error(&r, path, 14, "retriable_status_codes lists more than 6 "
		     "statuses");
}

Test(config_retry, status_codes_need_retriable_status_codes_in_retry_on)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	load_bad(RELAYED("a")
		     "retry_on = 5xx\n"
		     "retriable_status_codes = 409\n", path, &r, 1);
	expect_error(&r, path, 8, "retriable_status_codes needs "
		     "retriable-status-codes in retry_on in [service a]");
	/* The default list is no mistake of the file's. */
	cr_assert_eq(load_text(RELAYED("a") "retry_on = 5xx\n", path,
			       sizeof(path), &cfg, &r), 0);
	swerve_config_free(cfg);
}
