/*
 * Unit tests of the keys of an HTTP service: protocol (Istio's port
 * protocol) and response_timeout (Istio's route timeout): their defaults,
 * values, errors with file:line, and inheritance from [defaults].
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "policy/config.h"
#include "test_config_support.h"

/* The header, name and endpoint of service <n> (a letter) at <addr>. */
#define SERVICE(n, addr) \
	"[service " n "]\nhosts = " n ".example\nendpoint = " addr "\n"

Test(config_http, defaults_are_tcp_without_response_timeout)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(SERVICE("a", "127.0.0.2:80"),
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(cfg->services[0].protocol, SWERVE_PROTOCOL_TCP);
	cr_assert_eq(cfg->services[0].response_timeout_ms, 0);
	cr_assert_eq(r.n, 0);
	swerve_config_free(cfg);
}

Test(config_http, reads_protocol_and_response_timeout)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(SERVICE("a", "127.0.0.2:80")
			       "protocol = http\n"
			       "response_timeout = 1s\n"
			       SERVICE("b", "127.0.0.3:80")
			       "protocol = tcp\n"
			       "response_timeout = 0s\n"
			       SERVICE("c", "127.0.0.4:80")
			       "protocol = http\n"
			       "response_timeout = 24h\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(find_service(cfg, "a")->protocol, SWERVE_PROTOCOL_HTTP);
	cr_assert_eq(find_service(cfg, "a")->response_timeout_ms, 1000);
	cr_assert_eq(find_service(cfg, "b")->protocol, SWERVE_PROTOCOL_TCP);
	cr_assert_eq(find_service(cfg, "b")->response_timeout_ms, 0,
		     "0s turns it off, as Istio's timeout: 0s");
	cr_assert_eq(find_service(cfg, "c")->response_timeout_ms,
		     SWERVE_MAX_DURATION_MS, "a day is the longest");
	cr_assert_eq(r.n, 0);
	swerve_config_free(cfg);
}

Test(config_http, reports_bad_values_with_file_and_line)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(SERVICE("a", "127.0.0.2:80")
			       "protocol = HTTP\n"
			       "protocol = grpc\n"
			       "response_timeout = 25h\n"
			       "response_timeout = 86400001ms\n"
			       "response_timeout = 5\n"
			       "response_timeout = -1s\n"
			       "response_timeout = 1.5s\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	cr_assert_null(cfg);
	cr_assert_eq(r.nerrors, 7);
	expect_error(&r, path, 4, "protocol must be tcp or http, not 'HTTP'");
	expect_error(&r, path, 5, "protocol must be tcp or http, not 'grpc'");
	expect_error(&r, path, 6, "response_timeout must be at most 24h "
				  "(a day), not '25h'");
	expect_error(&r, path, 7, "response_timeout must be at most 24h");
	expect_error(&r, path, 8, "response_timeout = 5 needs a unit");
	expect_error(&r, path, 9, "response_timeout: '-1s' is not a duration");
	expect_error(&r, path, 10, "response_timeout: '1.5s' is not a "
				   "duration");
}

Test(config_http, services_inherit_both_keys_from_defaults)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[defaults]\n"
			       "protocol = http\n"
			       "response_timeout = 1500ms\n"
			       SERVICE("a", "127.0.0.2:80")
			       SERVICE("b", "127.0.0.3:80")
			       "protocol = tcp\n"
			       SERVICE("c", "127.0.0.4:80")
			       "response_timeout = 0s\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(find_service(cfg, "a")->protocol, SWERVE_PROTOCOL_HTTP);
	cr_assert_eq(find_service(cfg, "a")->response_timeout_ms, 1500);
	cr_assert_eq(find_service(cfg, "b")->protocol, SWERVE_PROTOCOL_TCP,
		     "the service's own value beats [defaults]");
	cr_assert_eq(find_service(cfg, "b")->response_timeout_ms, 1500);
	cr_assert_eq(find_service(cfg, "c")->protocol, SWERVE_PROTOCOL_HTTP);
	cr_assert_eq(find_service(cfg, "c")->response_timeout_ms, 0);
	swerve_config_free(cfg);
}

/* A mistake in [defaults] is said once, at [defaults]. */
Test(config_http, a_bad_default_is_reported_once_where_it_is)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[defaults]\n"
			       "protocol = udp\n"
			       SERVICE("a", "127.0.0.2:80")
			       SERVICE("b", "127.0.0.3:80"),
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 2, "protocol must be tcp or http, not 'udp'");
}
