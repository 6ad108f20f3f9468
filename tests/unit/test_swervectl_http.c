/*
 * What swervectl shows of an http service and of a service with tls:
 * this test writes outcomes and TLS handshakes into a real shared table
 * through the table's own API, as the library does, and runs the built
 * swervectl (SWERVE_BUILD) on it: endpoints (table and JSON: protocol,
 * response counters, why an endpoint is ejected, TLS handshakes and the
 * last verify error), events (the cause) and explain. Each test runs in
 * its own process with its own table (SWERVE_SHM) and config.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/swerve.h"
#include "table/shm.h"
#include "test_swervectl_support.h"

static const char config_text[] =
	"[service web]\n"
	"hosts = web.test\n"
	"endpoint = 127.0.0.2:18080\n"
	"endpoint = 127.0.0.3:18080\n"
	"protocol = http\n"
	"response_timeout = 1s\n"
	"consecutive_5xx_errors = 2\n"
	"max_ejection_percent = 100\n"
	"[service db]\n"
	"hosts = db.test\n"
	"endpoint = 127.0.0.4:5432\n";

/* web originates TLS to its endpoints; db does not. */
static const char tls_config_text[] =
	"[service web]\n"
	"hosts = web.test\n"
	"endpoint = 127.0.0.2:18443\n"
	"endpoint = 127.0.0.3:18443\n"
	"protocol = http\n"
	"tls = simple\n"
	"tls_sni = web.test\n"
	"[service db]\n"
	"hosts = db.test\n"
	"endpoint = 127.0.0.4:5432\n";

static void setup(void)
{
	ctl_bed_open(config_text);
}

static void setup_tls(void)
{
	ctl_bed_open(tls_config_text);
}

static void teardown(void)
{
	ctl_bed_close();
}

/* swervectl -c CONFIG <a1> [<a2>] on the test's table, which must
 * succeed; its stdout. */
static const char *ctl(const char *a1, const char *a2)
{
	const char *args[] = { a1, a2, NULL };

	return ctl_run(args);
}

/* The line of <text> that holds <needle> (copied into <line>). */
static const char *line_of(const char *text, const char *needle, char *line,
			   size_t len)
{
	const char *p = strstr(text, needle), *end;

	cr_assert_not_null(p, "no %s in:\n%s", needle, text);
	while (p > text && p[-1] != '\n')
		p--;
	end = strchr(p, '\n');
	if (end == NULL)
		end = p + strlen(p);
	snprintf(line, len, "%.*s", (int)(end - p), p);
	return line;
}

static void expect_in(const char *line, const char *text)
{
	cr_assert_not_null(strstr(line, text), "no '%s' in:\n%s", text, line);
}

/* The cell of column <head> in the table <out>'s row of <endpoint> is a
 * dash (the header is the first line). */
static void expect_dash(const char *out, const char *head,
			const char *endpoint)
{
	const char *at = strstr(out, head);
	char line[4096];
	size_t col;

	cr_assert_not_null(at, "no %s in:\n%s", head, out);
	col = (size_t)(at - out);
	line_of(out, endpoint, line, sizeof(line));
	cr_assert(strlen(line) > col && line[col] == '-' &&
		  line[col + 1] == ' ', "%s", line);
}

Test(swervectl_http, endpoints_json_has_counters_and_the_cause,
     .init = setup, .fini = teardown)
{
	const char *out;
	char line[4096];

	ctl_fill_web();
	out = ctl("endpoints", "--json");
	line_of(out, "\"endpoint\": \"127.0.0.2:18080\"", line, sizeof(line));
	expect_in(line, "\"status\": \"ejected\"");
	expect_in(line, "\"connects_ok\": 1,");
	expect_in(line, "\"protocol\": \"http\"");
	expect_in(line, "\"responses_2xx\": 3,");
	expect_in(line, "\"responses_3xx\": 0,");
	expect_in(line, "\"responses_4xx\": 1,");
	expect_in(line, "\"responses_5xx\": 1,");
	expect_in(line, "\"timeouts\": 1,");
	expect_in(line, "\"resets\": 0,");
	expect_in(line, "\"reason\": \"consecutive_5xx\"");
	expect_in(line, "\"cause\": \"timeout\"");
	line_of(out, "\"endpoint\": \"127.0.0.3:18080\"", line, sizeof(line));
	expect_in(line, "\"status\": \"healthy\"");
	expect_in(line, "\"resets\": 1,");
	expect_in(line, "\"reason\": null, \"cause\": null");
	line_of(out, "\"endpoint\": \"127.0.0.4:5432\"", line, sizeof(line));
	expect_in(line, "\"protocol\": \"tcp\"");
}

Test(swervectl_http, endpoints_table_shows_responses_and_why,
     .init = setup, .fini = teardown)
{
	const char *out;
	char line[4096];

	ctl_fill_web();
	out = ctl("endpoints", NULL);
	expect_in(line_of(out, "SERVICE", line, sizeof(line)), "RESPONSES");
	line_of(out, "127.0.0.2:18080", line, sizeof(line));
	expect_in(line, "FAILED (timeout)");
	expect_in(line, "2xx:3 4xx:1 5xx:1 timeouts:1");
	expect_in(line_of(out, "127.0.0.3:18080", line, sizeof(line)),
		  "resets:1");
	/* A tcp service has no responses: a dash in their column. */
	expect_dash(out, "RESPONSES", "127.0.0.4:5432");
}

Test(swervectl_http, events_and_explain_name_the_cause,
     .init = setup, .fini = teardown)
{
	const char *out;
	char line[4096];

	ctl_fill_web();
	out = ctl("events", NULL);
	expect_in(line_of(out, "TIME", line, sizeof(line)), "CAUSE");
	line_of(out, "web 127.0.0.2:18080", line, sizeof(line));
	expect_in(line, "consecutive_5xx");
	expect_in(line, " timeout ");
	out = ctl("events", "--json");
	expect_in(out, "\"reason\": \"consecutive_5xx\"");
	expect_in(out, "\"cause\": \"timeout\"");
	out = ctl("explain", "web.test");
	expect_in(out, "protocol:           http (response statuses count "
		       "too), response timeout 1s");
	expect_in(line_of(out, "127.0.0.2:18080", line, sizeof(line)),
		  "(timeout)");
	out = ctl("explain", "db.test");
	expect_in(out, "protocol:           tcp");
}

/*
 * Handshakes as a pump notes them: web's first endpoint completes four
 * (three resumed) and fails two, the first on a hostname mismatch (62);
 * its second fails one on a code of no name (99); db, without tls, gets
 * notes too, which nothing shows.
 */
static void fill_tls(void)
{
	struct swerve_shm_row *a, *b, *db;
	struct swerve_shm t;
	char err[256];
	int i;

	cr_assert_eq(swerve_shm_attach(ctl_shm, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	a = swerve_shm_row(&t, swerve_shm_endpoint_key(
				   "web", "127.0.0.2:18443"), true);
	b = swerve_shm_row(&t, swerve_shm_endpoint_key(
				   "web", "127.0.0.3:18443"), true);
	db = swerve_shm_row(&t, swerve_shm_endpoint_key(
				    "db", "127.0.0.4:5432"), true);
	for (i = 0; i < 4; i++)
		swerve_shm_tls_note(a, true, i > 0, 0);
	swerve_shm_tls_note(a, false, false, 62);
	swerve_shm_tls_note(a, false, false, 0);
	swerve_shm_tls_note(b, false, false, 99);
	swerve_shm_tls_note(db, true, false, 0);
	swerve_shm_detach(&t);
}

Test(swervectl_http, endpoints_table_shows_tls_handshakes,
     .init = setup_tls, .fini = teardown)
{
	const char *out;
	char line[4096];

	fill_tls();
	out = ctl("endpoints", NULL);
	line_of(out, "SERVICE", line, sizeof(line));
	expect_in(line, "   TLS OK/FAILED   TLS RESUMED   TLS VERIFY ERROR   ");
	line_of(out, "127.0.0.2:18443", line, sizeof(line));
	expect_in(line, " 4/2 ");
	expect_in(line, " 75% ");
	expect_in(line, " hostname mismatch ");
	line_of(out, "127.0.0.3:18443", line, sizeof(line));
	expect_in(line, " 0/1 ");
	expect_in(line, " error 99 ");
	/* db has no tls: dashes, whatever its row holds. */
	expect_dash(out, "TLS OK/FAILED", "127.0.0.4:5432");
	expect_dash(out, "TLS VERIFY ERROR", "127.0.0.4:5432");
}

Test(swervectl_http, endpoints_json_has_tls_fields_for_tls_services,
     .init = setup_tls, .fini = teardown)
{
	const char *out;
	char line[4096];

	fill_tls();
	out = ctl("endpoints", "--json");
	line_of(out, "\"endpoint\": \"127.0.0.2:18443\"", line, sizeof(line));
	expect_in(line, "\"tls_handshakes_ok\": 4, "
		  "\"tls_handshakes_failed\": 2, \"tls_resumed\": 3, "
		  "\"tls_last_verify_error\": 62, "
		  "\"tls_last_verify_error_text\": \"hostname mismatch\"}");
	line_of(out, "\"endpoint\": \"127.0.0.3:18443\"", line, sizeof(line));
	expect_in(line, "\"tls_handshakes_ok\": 0, "
		  "\"tls_handshakes_failed\": 1, \"tls_resumed\": 0, "
		  "\"tls_last_verify_error\": 99, "
		  "\"tls_last_verify_error_text\": \"error 99\"}");
	line_of(out, "\"endpoint\": \"127.0.0.4:5432\"", line, sizeof(line));
	cr_assert_null(strstr(line, "tls_"), "%s", line);
}

/* No service with tls: neither columns nor fields, whatever rows hold. */
Test(swervectl_http, endpoints_without_tls_services_show_no_tls,
     .init = setup, .fini = teardown)
{
	struct swerve_shm t;
	char err[256];
	const char *out;

	cr_assert_eq(swerve_shm_attach(ctl_shm, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	swerve_shm_tls_note(swerve_shm_row(&t, swerve_shm_endpoint_key(
			    "web", "127.0.0.2:18080"), true), false, false, 62);
	swerve_shm_detach(&t);
	out = ctl("endpoints", NULL);
	cr_assert_null(strstr(out, "TLS"), "%s", out);
	cr_assert_null(strstr(out, "hostname"), "%s", out);
	out = ctl("endpoints", "--json");
	cr_assert_null(strstr(out, "tls_"), "%s", out);
}
