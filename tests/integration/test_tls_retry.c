/*
 * Retries of the TLS relay (retries, retry_on, retriable_status_codes on a
 * protocol = http service with tls = simple): an idempotent request that
 * meets a retriable status or a reset before its response goes to the
 * other endpoint, and the application sees only the answer of the last
 * attempt. The servers log each connection's requests and their methods
 * (tests/helpers/tlsserve.c), so a test can tell where each request went.
 *
 * Addresses 127.14.N.2 (east, us-east1, the one picked first) and
 * 127.14.N.3 (west, us-west) on port 18443, named by a dnsd on
 * 127.0.0.1:15600 + N; service addresses in 127.98.0.0/16.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"
#include "tls_world.h"

/* east's options when it answers 503 to everything. */
static const char *const east_503[] = { "--name", "east", "--status", "503",
					NULL };

/* The world of test <net>: tls = simple, protocol = http, and <extra>. */
static void rw_config(struct tw *t, int net, const char *extra)
{
	char prefix[32], lines[300];

	snprintf(prefix, sizeof(prefix), "127.14.%d", net);
	snprintf(lines, sizeof(lines), "protocol = http\n%s", extra);
	tw_config_at(t, prefix, 15600 + net, "tls = simple", lines);
}

/* httpc <args> in <t>: it must succeed and print <want>. */
static void expect_httpc(struct tw *t, const char *const *args,
			 const char *want)
{
	static struct run r;

	httpc(&r, t, args);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_str_eq(r.out, want, "%s", r.out);
}

/* west served no request (stopping it completes its log). */
static void west_served_nothing(struct tw *t)
{
	t_stop(t->w);
	t->w = 0;
	cr_assert_eq(count(t_read(t->wlog), "methods="), 0, "%s",
		     t_read(t->wlog));
}

/* One GET of its own, as get() makes it. */
static const char *const one_get[] = { "mydb.com", "80", "GET:/", NULL };

Test(tls_retry, a_503_primary_costs_the_application_no_503, .timeout = 60)
{
	struct tw t;
	int i;

	rw_config(&t, 1, "");
	tw_start(&t, east_503);
	for (i = 0; i < 3; i++)
		expect_httpc(&t, one_get, "200\n");
	/* The first request met east's 503, which counted and ejected it,
	 * and was answered by west; the others went to west directly. */
	cr_assert_eq(log_count(t.elog, "methods=GET", 1), 1, "%s",
		     t_read(t.elog));
	cr_assert_eq(log_count(t.wlog, "requests=1 ", 3), 3, "%s",
		     t_read(t.wlog));
	cr_assert_eq(field(&t, t.east_ep, "responses_5xx"), 1);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	tw_stop(&t);
}

Test(tls_retry, a_post_is_never_replayed, .timeout = 60)
{
	const char *post[] = { "mydb.com", "80", "POST:/c", NULL };
	struct tw t;

	/* Three 503s to eject east: both requests below meet it. */
	rw_config(&t, 2, "consecutive_5xx_errors = 3\n");
	tw_start(&t, east_503);
	expect_httpc(&t, post, "503\n");
	/* A GET in the same situation is retried on west. */
	expect_httpc(&t, one_get, "200\n");
	cr_assert_eq(log_count(t.wlog, "methods=GET", 1), 1, "%s",
		     t_read(t.wlog));
	cr_assert_eq(log_count(t.elog, "methods=", 2), 2, "%s",
		     t_read(t.elog));
	cr_assert_eq(count(t_read(t.elog), "methods=POST"), 1, "%s",
		     t_read(t.elog));
	cr_assert_eq(count(t_read(t.wlog), "POST"), 0, "%s", t_read(t.wlog));
	cr_assert_eq(field(&t, t.east_ep, "responses_5xx"), 2);
	tw_stop(&t);
}

Test(tls_retry, a_reset_before_the_response_is_retried_elsewhere,
     .timeout = 60)
{
	const char *eopts[] = { "--name", "east", "--reset-after-request",
				NULL };
	struct tw t;

	rw_config(&t, 3, "");
	tw_start(&t, eopts);
	expect_httpc(&t, one_get, "200\n");
	/* east read the request and reset the connection unanswered. */
	cr_assert_eq(log_count(t.elog, "requests=0 plain=0 methods=GET", 1),
		     1, "%s", t_read(t.elog));
	cr_assert_eq(log_count(t.wlog, "requests=1 ", 1), 1, "%s",
		     t_read(t.wlog));
	cr_assert_eq(field(&t, t.east_ep, "resets"), 1);
	tw_stop(&t);
}

Test(tls_retry, retries_0_turns_retries_off, .timeout = 60)
{
	struct tw t;

	rw_config(&t, 4, "retries = 0\n");
	tw_start(&t, east_503);
	expect_httpc(&t, one_get, "503\n");
	cr_assert_eq(log_count(t.elog, "methods=GET", 1), 1, "%s",
		     t_read(t.elog));
	west_served_nothing(&t);
	tw_stop(&t);
}

Test(tls_retry, a_keep_alive_connection_stays_with_the_endpoint_retried_on,
     .timeout = 60)
{
	const char *args[] = { "mydb.com", "80", "GET:/a", "GET:/b",
			       "HEAD:/c", "GET:/d", NULL };
	struct tw t;

	rw_config(&t, 5, "");
	tw_start(&t, east_503);
	/* One connection: the first request meets east's 503 and is
	 * answered by west, where the others follow it. */
	expect_httpc(&t, args, "200\n200\n200\n200\n");
	cr_assert_eq(log_count(t.elog, "requests=1 ", 1), 1, "%s",
		     t_read(t.elog));
	cr_assert_eq(log_count(t.wlog, "requests=4 ", 1), 1, "%s",
		     t_read(t.wlog));
	cr_assert(strstr(t_read(t.wlog), "methods=GET,GET,HEAD,GET") != NULL,
		  "%s", t_read(t.wlog));
	tw_stop(&t);
}

Test(tls_retry, when_every_endpoint_answers_503_the_last_one_passes,
     .timeout = 60)
{
	const char *wopts[] = { "--name", "west", "--status", "503", NULL };
	struct tw t;

	rw_config(&t, 6, "");
	t.e = tls_server(&t, t.east, "east", t.elog, east_503);
	t.w = tls_server(&t, t.west, "west", t.wlog, wopts);
	cr_assert(t.e > 0 && t.w > 0);
	/* One retry is left after west's 503, but no endpoint that was not
	 * tried: west's answer goes to the application as it is. */
	expect_httpc(&t, one_get, "503\n");
	cr_assert_eq(log_count(t.elog, "methods=GET", 1), 1, "%s",
		     t_read(t.elog));
	cr_assert_eq(log_count(t.wlog, "requests=1 ", 1), 1, "%s",
		     t_read(t.wlog));
	tw_stop(&t);
}

Test(tls_retry, pipelined_requests_are_not_retried, .timeout = 60)
{
	const char *args[] = { "-p", "mydb.com", "80", "GET:/a", "GET:/b",
			       NULL };
	struct tw t;

	rw_config(&t, 7, "");
	tw_start(&t, east_503);
	/* Resending one request of a pipeline would reorder the answers:
	 * both 503s reach the application. */
	expect_httpc(&t, args, "503\n503\n");
	cr_assert_eq(log_count(t.elog, "requests=2 ", 1), 1, "%s",
		     t_read(t.elog));
	west_served_nothing(&t);
	tw_stop(&t);
}
