/*
 * The reference scenario (Istio's "failover for external services") with
 * real programs under the library: two real HTTP servers on loopback, a
 * primary in the client's region and a failover in another, and real
 * clients (curl, python3) dialling mydb.com. Each test uses its own
 * loopback addresses and its own shared table.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static const char *config_for(const char *east, const char *west,
			      const char *interval, const char *base,
			      const char *timeout)
{
	static char text[2048];

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality = us-east1\n"
		 "vip_cidr = 127.78.0.0/16\n"
		 "log = warn\n"
		 "\n"
		 "[service mydb]\n"
		 "hosts     = mydb.com\n"
		 "ports     = 80\n"
		 "endpoint  = %s:18080 locality=us-east1\n"
		 "endpoint  = %s:18080 locality=us-west\n"
		 "consecutive_5xx_errors = 1\n"
		 "interval               = %s\n"
		 "base_ejection_time     = %s\n"
		 "connect_timeout        = %s\n",
		 east, west, interval, base, timeout);
	return t_write("swerve.ini", text);
}

/* curl deadlocks at start-up under a preloaded ASan runtime, before swerve
 * does anything (a futex in its own initialisation): sanitizer runs use the
 * probe helper for the same paths instead. */
static bool sanitized(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && extra[0] != '\0';
}

static void curl(struct run *r, const char *config, const char *shm)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { "curl", "-sS", "--max-time", "20",
			       "http://mydb.com/", NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, true, env, 30, argv);
}

static void python(struct run *r, const char *config, const char *shm)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	/* urllib without a timeout: a blocking connect. */
	const char *argv[] = {
		"python3", "-c",
		"import urllib.request\n"
		"print(urllib.request.urlopen('http://mydb.com/')"
		".read().decode().strip())",
		NULL
	};

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, true, env, 30, argv);
}

/* The probe helper in one of its connect modes (see tests/helpers/probe.c). */
static void probe(struct run *r, const char *config, const char *shm,
		  const char *mode)
{
	char cv[600], sv[128], bin[512];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "-m", mode, "mydb.com", "80", NULL };

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, true, env, 30, argv);
}

static void probe_block(struct run *r, const char *c, const char *s)
{
	probe(r, c, s, "block");
}

static void probe_soerror(struct run *r, const char *c, const char *s)
{
	probe(r, c, s, "soerror");
}

static void probe_again(struct run *r, const char *c, const char *s)
{
	probe(r, c, s, "again");
}

static void probe_early(struct run *r, const char *c, const char *s)
{
	probe(r, c, s, "early");
}

typedef void (*client_fn)(struct run *, const char *, const char *);

static void expect_served(client_fn client, const char *config,
			  const char *shm, const char *body, int times)
{
	struct run r;
	int i;

	for (i = 0; i < times; i++) {
		client(&r, config, shm);
		cr_assert_eq(r.status, 0, "request %d failed (%d): %s", i + 1,
			     r.status, r.err);
		cr_assert(strstr(r.out, body) != NULL,
			  "request %d: expected '%s', got '%s' (stderr: %s)",
			  i + 1, body, r.out, r.err);
	}
}

static void primary_dies(client_fn client, const char *prefix)
{
	char east[32], west[32], east_ep[48];
	const char *config, *shm = t_shm();
	pid_t e, w;

	snprintf(east, sizeof(east), "%s.2", prefix);
	snprintf(west, sizeof(west), "%s.3", prefix);
	snprintf(east_ep, sizeof(east_ep), "%s:18080", east);
	e = t_server(east, 18080, "healthy: us-east1", "ok");
	w = t_server(west, 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0, "servers did not start");
	config = config_for(east, west, "15s", "1m", "10s");

	expect_served(client, config, shm, "healthy: us-east1", 5);
	cr_assert_not(t_endpoint_ejected(config, shm, east_ep));
	t_stop(e);
	/* Zero failed requests: the first one fails over inside connect(). */
	expect_served(client, config, shm, "healthy: us-west", 5);
	cr_assert(t_endpoint_ejected(config, shm, east_ep),
		  "the dead primary should be ejected");
	cr_assert_eq(t_endpoint_field(config, shm, east_ep, "ejections"), 1);
	t_stop(w);
	t_cleanup();
}

Test(failover, curl_loses_no_request_when_the_primary_dies, .timeout = 120)
{
	if (sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	primary_dies(curl, "127.10.1");
}

Test(failover, a_blocking_connect_fails_over_inside_the_call, .timeout = 60)
{
	primary_dies(probe_block, "127.10.11");
}

Test(failover, a_nonblocking_connect_read_with_so_error_fails_over,
     .timeout = 60)
{
	primary_dies(probe_soerror, "127.10.12");
}

Test(failover, a_nonblocking_connect_checked_by_connecting_again_fails_over,
     .timeout = 60)
{
	primary_dies(probe_again, "127.10.13");
}

Test(failover, a_nonblocking_connect_asked_for_so_error_first_fails_over,
     .timeout = 60)
{
	primary_dies(probe_early, "127.10.14");
}

Test(failover, python_loses_no_request_when_the_primary_dies, .timeout = 120)
{
	primary_dies(python, "127.10.2");
}

Test(failover, a_second_process_goes_straight_to_the_failover, .timeout = 60)
{
	const char *shm = t_shm(), *config;
	long long failed, west_ok;
	struct run r;
	pid_t e, w;

	e = t_server("127.10.3.2", 18080, "healthy: us-east1", "ok");
	w = t_server("127.10.3.3", 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	config = config_for("127.10.3.2", "127.10.3.3", "15s", "1m", "10s");
	t_stop(e);
	probe_soerror(&r, config, shm);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(t_endpoint_ejected(config, shm, "127.10.3.2:18080"));
	failed = t_endpoint_field(config, shm, "127.10.3.2:18080",
				  "connects_failed");
	west_ok = t_endpoint_field(config, shm, "127.10.3.3:18080",
				   "connects_ok");
	cr_assert_eq(failed, 1);

	/* Another program, another process: it never tries the primary. */
	python(&r, config, shm);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "healthy: us-west") != NULL, "%s", r.out);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.3.2:18080",
				      "connects_failed"), failed);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.3.3:18080",
				      "connects_ok"), west_ok + 1);
	t_stop(w);
	t_cleanup();
}

Test(failover, traffic_returns_to_the_primary_after_the_ejection_time,
     .timeout = 60)
{
	const char *shm = t_shm(), *config, *ep = "127.10.4.2:18080";
	pid_t e, w;
	int i;

	e = t_server("127.10.4.2", 18080, "healthy: us-east1", "ok");
	w = t_server("127.10.4.3", 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	/* Real processes share no clock we could inject: a short base
	 * ejection time keeps the wait short. It must outlast the four
	 * processes started while it runs, which a sanitizer makes seconds
	 * long on a busy machine. */
	config = config_for("127.10.4.2", "127.10.4.3", "1s",
			    t_sanitized() ? "8s" : "2s", "10s");
	t_stop(e);
	expect_served(probe_soerror, config, shm, "healthy: us-west", 2);
	cr_assert(t_endpoint_ejected(config, shm, ep));
	e = t_server("127.10.4.2", 18080, "healthy: us-east1", "ok");
	cr_assert(e > 0);
	/* Still ejected: traffic stays on the failover meanwhile. */
	expect_served(probe_soerror, config, shm, "healthy: us-west", 1);
	cr_assert(t_endpoint_ejected(config, shm, ep),
		  "the ejection ended before the test could see it");
	for (i = 0; i < 200 && t_endpoint_ejected(config, shm, ep); i++)
		usleep(100 * 1000);
	cr_assert_not(t_endpoint_ejected(config, shm, ep));
	expect_served(probe_soerror, config, shm, "healthy: us-east1", 3);
	t_stop(e);
	t_stop(w);
	t_cleanup();
}

static void blackholed_primary(client_fn client, const char *prefix)
{
	char east[32], west[32], east_ep[48];
	const char *shm = t_shm(), *config;
	struct run r;
	double base;
	pid_t e, w;

	snprintf(east, sizeof(east), "%s.2", prefix);
	snprintf(west, sizeof(west), "%s.3", prefix);
	snprintf(east_ep, sizeof(east_ep), "%s:18080", east);
	/* listen(0) with its one queue slot taken: SYNs vanish. */
	e = t_server(east, 18080, "healthy: us-east1", "backlog");
	w = t_server(west, 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	/* The client's own cost, start-up included, whatever the machine's
	 * load or a sanitizer runtime make of it: the same request with a
	 * healthy primary (the blackholed endpoint is never dialled). */
	client(&r, config_for(west, east, "15s", "1m", "1s"), shm);
	cr_assert_eq(r.status, 0, "baseline request failed: %s", r.err);
	base = r.seconds;
	config = config_for(east, west, "15s", "1m", "1s");

	client(&r, config, shm);
	cr_assert_eq(r.status, 0, "first request failed: %s", r.err);
	cr_assert(strstr(r.out, "healthy: us-west") != NULL, "%s", r.out);
	cr_assert(t_endpoint_ejected(config, shm, east_ep));
	/* At most one connect_timeout (1 s, ~1.03 s in the kernel). */
	cr_assert(r.seconds < base + 1.8, "first request took %.2f s, a "
		  "healthy one %.2f s", r.seconds, base);

	/* Once ejected, the blackhole costs nothing. */
	client(&r, config, shm);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "healthy: us-west") != NULL, "%s", r.out);
	cr_assert(r.seconds < base + 0.6, "second request took %.2f s, a "
		  "healthy one %.2f s", r.seconds, base);
	t_stop(e);
	t_stop(w);
	t_cleanup();
}

Test(failover, curl_pays_one_connect_timeout_for_a_blackholed_primary,
     .timeout = 60)
{
	if (sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	blackholed_primary(curl, "127.10.5");
}

Test(failover, a_nonblocking_client_pays_one_connect_timeout_for_a_blackhole,
     .timeout = 60)
{
	blackholed_primary(probe_soerror, "127.10.15");
}

Test(failover, python_pays_one_connect_timeout_for_a_blackholed_primary,
     .timeout = 60)
{
	blackholed_primary(python, "127.10.6");
}

Test(failover, a_broken_config_leaves_the_program_alone, .timeout = 30)
{
	char cv[600];
	const char *env[] = { cv, NULL };
	char bin[512];
	const char *argv[] = { bin, "127.10.7.2", "18080", NULL };
	const char *bad;
	struct run r;
	char want[700];
	pid_t s;

	s = t_server("127.10.7.2", 18080, "direct", "ok");
	cr_assert(s > 0);
	bad = t_write("bad.ini", "[swerve]\nlocality = us-east1\n"
				 "no_such_key = 1\n");
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", bad);
	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	t_run(&r, true, env, 20, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "direct\n");
	snprintf(want, sizeof(want), "swerve: %s:3: ", bad);
	cr_assert(strncmp(r.err, want, strlen(want)) == 0,
		  "stderr should start with '%s', is '%s'", want, r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1,
		     "exactly one line: '%s'", r.err);
	t_stop(s);
	t_cleanup();
}

Test(failover, a_missing_default_config_is_silent, .timeout = 30)
{
	char bin[512];
	const char *argv[] = { bin, "127.10.8.2", "18080", NULL };
	struct run r;
	pid_t s;

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	if (access("/etc/swerve/swerve.ini", F_OK) == 0)
		cr_skip_test("/etc/swerve/swerve.ini exists on this host");
	s = t_server("127.10.8.2", 18080, "direct", "ok");
	cr_assert(s > 0);
	t_run(&r, true, NULL, 20, argv);
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "direct\n");
	cr_assert_str_eq(r.err, "");
	t_stop(s);
	t_cleanup();
}

Test(failover, a_corrupt_shared_table_is_refused_and_the_program_still_works,
     .timeout = 30)
{
	const char *shm = t_shm(), *config;
	char path[128], junk[4096];
	struct run r;
	pid_t e, w;
	FILE *f;

	e = t_server("127.10.10.2", 18080, "healthy: us-east1", "ok");
	w = t_server("127.10.10.3", 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	config = config_for("127.10.10.2", "127.10.10.3", "15s", "1m", "10s");
	/* Someone else's segment under our name: garbage, wrong size. */
	snprintf(path, sizeof(path), "/dev/shm%s", shm);
	f = fopen(path, "w");
	cr_assert(f != NULL);
	memset(junk, 0x5a, sizeof(junk));
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	chmod(path, 0600);

	t_stop(e);
	/* Health is then kept inside the process: it still fails over. */
	probe_soerror(&r, config, shm);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "healthy: us-west") != NULL, "%s", r.out);
	cr_assert(strstr(r.err, "swerve: ") == r.err, "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1,
		     "exactly one line: '%s'", r.err);
	t_stop(w);
	t_cleanup();
}
