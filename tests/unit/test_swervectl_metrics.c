/*
 * swervectl metrics, value by value: this test writes outcomes, TLS
 * handshakes, ejections and events into a real shared table through the
 * table's own API (as the library does) and with swervectl eject (as an
 * operator does), runs the built swervectl (SWERVE_BUILD) on it, and reads
 * exact series back: per endpoint, per service, host-wide, label values
 * escaped as the text format asks. promtool (Debian's prometheus package;
 * scripts/deps.sh --ci installs it) then checks the whole exposition: any
 * finding fails. Without promtool that one test is skipped with the reason,
 * except where CI is set, where it fails. Each test has its own table
 * (SWERVE_SHM) and config.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/swerve.h"
#include "table/shm.h"
#include "test_swervectl_support.h"

/*
 * web: http, the first endpoint's locality holds a quote and a backslash;
 * secure: tls; db: plain tcp; fo: fails over to us-west (priority 1) when
 * its us-east1 endpoint is ejected; pan: panics below 60% healthy.
 */
static const char config_text[] =
	"[swerve]\n"
	"locality = us-east1\n"
	"[service web]\n"
	"hosts = web.test\n"
	"endpoint = 127.0.0.2:18080 locality=us-east1/a\"b\\c\n"
	"endpoint = 127.0.0.3:18080 locality=us-east1\n"
	"protocol = http\n"
	"response_timeout = 1s\n"
	"consecutive_5xx_errors = 2\n"
	"max_ejection_percent = 100\n"
	"[service secure]\n"
	"hosts = secure.test\n"
	"endpoint = 127.0.0.5:18443\n"
	"protocol = http\n"
	"tls = simple\n"
	"tls_sni = secure.test\n"
	"[service db]\n"
	"hosts = db.test\n"
	"endpoint = 127.0.0.4:5432\n"
	"[service fo]\n"
	"hosts = fo.test\n"
	"endpoint = 127.0.0.6:80 locality=us-east1\n"
	"endpoint = 127.0.0.7:80 locality=us-west\n"
	"consecutive_5xx_errors = 5\n"
	"max_ejection_percent = 100\n"
	"[service pan]\n"
	"hosts = pan.test\n"
	"endpoint = 127.0.0.8:80\n"
	"endpoint = 127.0.0.9:80\n"
	"min_health_percent = 60\n"
	"max_ejection_percent = 100\n";

static void setup(void)
{
	ctl_bed_open(config_text);
}

static void teardown(void)
{
	ctl_bed_close();
}

/* swervectl -c CONFIG <a1> [<a2> [<a3>]], which must succeed; its
 * stdout. */
static const char *ctl(const char *a1, const char *a2, const char *a3)
{
	const char *args[] = { a1, a2, a3, NULL };

	return ctl_run(args);
}

/* <out> has the line "<series> <value>". */
static void expect_sample(const char *out, const char *series,
			  const char *value)
{
	char want[1024];

	snprintf(want, sizeof(want), "\n%s %s\n", series, value);
	cr_assert_not_null(strstr(out, want), "no \"%s %s\" in:\n%s", series,
			   value, out);
}

/* No series of family <name> for the labels <labels>. */
static void expect_no_series(const char *out, const char *name,
			     const char *labels)
{
	char want[1024];

	snprintf(want, sizeof(want), "\n%s{%s", name, labels);
	cr_assert_null(strstr(out, want), "\"%s\" in:\n%s", want, out);
}

#define WEB1 "service=\"web\",endpoint=\"127.0.0.2:18080\"," \
	     "locality=\"us-east1/a\\\"b\\\\c\""
#define WEB2 "service=\"web\",endpoint=\"127.0.0.3:18080\"," \
	     "locality=\"us-east1\""
#define SECURE "service=\"secure\",endpoint=\"127.0.0.5:18443\"," \
	       "locality=\"\""
#define DB "service=\"db\",endpoint=\"127.0.0.4:5432\""

/* web as ctl_fill_web() fills it, and secure's handshakes: four (three
 * resumed) and two failures. */
static void fill_table(void)
{
	struct swerve_shm_row *sec;
	struct swerve_shm t;
	char err[256];
	int i;

	ctl_fill_web();
	cr_assert_eq(swerve_shm_attach(ctl_shm, true, &t, err, sizeof(err)),
		     0, "%s", err);
	sec = swerve_shm_row(&t, swerve_shm_endpoint_key(
				     "secure", "127.0.0.5:18443"), true);
	for (i = 0; i < 4; i++)
		swerve_shm_tls_note(sec, true, i > 0, 0);
	swerve_shm_tls_note(sec, false, false, 62);
	swerve_shm_tls_note(sec, false, false, 0);
	swerve_shm_detach(&t);
}

Test(swervectl_metrics, endpoint_series_have_the_table_s_values,
     .init = setup, .fini = teardown)
{
	const char *out;

	fill_table();
	out = ctl("metrics", NULL, NULL);
	expect_sample(out, "swerve_endpoint_ejected{" WEB1 "}", "1");
	expect_sample(out, "swerve_endpoint_ejected{" WEB2 "}", "0");
	expect_sample(out, "swerve_endpoint_ejections_total{" WEB1 "}", "1");
	/* A reset before a response counts against the endpoint. */
	expect_sample(out, "swerve_endpoint_consecutive_failures{" WEB2 "}",
		      "1");
	expect_sample(out, "swerve_endpoint_connects_total{" WEB1
		      ",result=\"ok\"}", "1");
	expect_sample(out, "swerve_endpoint_connects_total{" WEB1
		      ",result=\"failed\"}", "0");
	expect_sample(out, "swerve_endpoint_responses_total{" WEB1
		      ",class=\"2xx\"}", "3");
	expect_sample(out, "swerve_endpoint_responses_total{" WEB1
		      ",class=\"3xx\"}", "0");
	expect_sample(out, "swerve_endpoint_responses_total{" WEB1
		      ",class=\"4xx\"}", "1");
	expect_sample(out, "swerve_endpoint_responses_total{" WEB1
		      ",class=\"5xx\"}", "1");
	expect_sample(out, "swerve_endpoint_response_timeouts_total{" WEB1
		      "}", "1");
	expect_sample(out, "swerve_endpoint_resets_total{" WEB2 "}", "1");
	expect_sample(out, "swerve_endpoint_tls_handshakes_total{" SECURE
		      ",result=\"ok\"}", "4");
	expect_sample(out, "swerve_endpoint_tls_handshakes_total{" SECURE
		      ",result=\"failed\"}", "2");
	expect_sample(out, "swerve_endpoint_tls_handshakes_resumed_total{"
		      SECURE "}", "3");
	/* Families a service's protocol or tls do not fill: no series. */
	expect_no_series(out, "swerve_endpoint_responses_total", DB);
	expect_no_series(out, "swerve_endpoint_tls_handshakes_total", DB);
	expect_no_series(out, "swerve_endpoint_tls_handshakes_total",
			 "service=\"web\"");
	expect_sample(out, "swerve_endpoint_ejected{" DB ",locality=\"\"}",
		      "0");
}

/* The time left of web's ejection: base_ejection_time (30s) at most, in
 * seconds with milliseconds. */
Test(swervectl_metrics, ejection_time_left_is_in_seconds,
     .init = setup, .fini = teardown)
{
	static const char series[] =
		"\nswerve_endpoint_ejection_remaining_seconds{" WEB1 "} ";
	const char *out, *p;
	double left;
	char *end;

	fill_table();
	out = ctl("metrics", NULL, NULL);
	p = strstr(out, series);
	cr_assert_not_null(p, "%s", out);
	left = strtod(p + strlen(series), &end);
	cr_assert(*end == '\n' && end[-4] == '.', "%s", p);
	cr_assert(left > 0 && left <= 30, "%f", left);
	expect_sample(out, "swerve_endpoint_ejection_remaining_seconds{" WEB2
		      "}", "0.000");
}

Test(swervectl_metrics, service_series_follow_ejections,
     .init = setup, .fini = teardown)
{
	const char *out;

	fill_table();
	ctl("eject", "fo", "127.0.0.6:80");
	ctl("eject", "pan", "127.0.0.8:80");
	out = ctl("metrics", NULL, NULL);
	expect_sample(out, "swerve_service_endpoints{service=\"web\"}", "2");
	expect_sample(out, "swerve_service_healthy_endpoints{service=\"web\"}",
		      "1");
	expect_sample(out, "swerve_service_panic{service=\"web\"}", "0");
	/* fo's only us-east1 endpoint is out: us-west carries it all. */
	expect_sample(out, "swerve_service_priority_in_use{service=\"fo\"}",
		      "1");
	expect_sample(out, "swerve_service_priority_load_ratio{service=\"fo\","
		      "priority=\"0\"}", "0");
	expect_sample(out, "swerve_service_priority_load_ratio{service=\"fo\","
		      "priority=\"1\"}", "1");
	expect_sample(out, "swerve_service_panic{service=\"fo\"}", "0");
	/* pan: 1 of 2 healthy is below its 60%. */
	expect_sample(out, "swerve_service_healthy_endpoints{service=\"pan\"}",
		      "1");
	expect_sample(out, "swerve_service_panic{service=\"pan\"}", "1");
	expect_sample(out, "swerve_service_priority_in_use{service=\"pan\"}",
		      "0");
}

/* <n> events into the ring, as the library writes them. */
static void add_events(unsigned n)
{
	struct swerve_shm_event_info ev;
	struct swerve_shm t;
	char err[256];
	unsigned i;

	cr_assert_eq(swerve_shm_attach(ctl_shm, true, &t, err, sizeof(err)),
		     0, "%s", err);
	memset(&ev, 0, sizeof(ev));
	ev.type = SWERVE_EVENT_UNEJECT;
	ev.key = swerve_shm_endpoint_key("db", "127.0.0.4:5432");
	for (i = 0; i < n; i++) {
		ev.at_ms = swerve_now_ms();
		cr_assert_eq(swerve_shm_event_add(&t, &ev), 0);
	}
	swerve_shm_detach(&t);
}

Test(swervectl_metrics, events_dropped_count_what_the_ring_overwrote,
     .init = setup, .fini = teardown)
{
	const char *out;

	add_events(3);
	out = ctl("metrics", NULL, NULL);
	expect_sample(out, "swerve_events_total", "3");
	expect_sample(out, "swerve_events_dropped_total", "0");
	add_events(SWERVE_SHM_EVENTS);
	out = ctl("metrics", NULL, NULL);
	expect_sample(out, "swerve_events_total", "1027");
	expect_sample(out, "swerve_events_dropped_total", "3");
	/* What events calls lost is the same count. */
	out = ctl("events", NULL, NULL);
	cr_assert_not_null(strstr(out, "(3 older events were overwritten)"),
			   "%s", out);
}

/* Every family with its HELP and TYPE, and promtool finds nothing. */
Test(swervectl_metrics, promtool_finds_nothing, .init = setup,
     .fini = teardown)
{
	char path[300], cmd[700];
	const char *out, *ci = getenv("CI");
	char *argv[] = { (char *)"sh", (char *)"-c", cmd, NULL };
	FILE *f;
	int st;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		cr_assert(ci == NULL || ci[0] == '\0', "promtool is missing in "
			  "CI: scripts/deps.sh --ci installs it (Debian "
			  "package prometheus)");
		cr_skip_test("promtool is not installed (Debian package "
			     "prometheus; scripts/deps.sh --ci installs it)");
	}
	fill_table();
	ctl("eject", "fo", "127.0.0.6:80");
	out = ctl("metrics", NULL, NULL);
	snprintf(path, sizeof(path), "%s/metrics.prom", ctl_dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert(fputs(out, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	out = ctl_spawn(argv, &st);
	unlink(path);
	cr_assert_eq(st, 0, "promtool: %s", out);
	cr_assert_eq(out[0], '\0', "promtool: %s", out);
}
