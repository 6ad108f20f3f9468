/*
 * How long DNS may hold a host program, and what it says while DNS is
 * down: a real DNS responder (tests/helpers/dnsd) that the client itself
 * silences mid-run (connloop -s), real HTTP servers, and one client
 * process (tests/helpers/connloop) under the library that keeps
 * connecting and times every connect() call.
 *
 * - A non-blocking connect (an event loop) never waits on DNS while the
 *   name has an answer to go on with.
 * - A blocking connect waits at most its own service's dns_timeout, all
 *   due names of the service together, whatever the other services'
 *   timeouts.
 * - A DNS outage is told once per name when it begins and once when it
 *   ends, not once per retry.
 *
 * Ports 15700..15709 and addresses 127.10.170-174.x belong to this file.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

/* A config with <services> (whole sections) resolving by the dnsd on
 * 127.0.0.1:<port>. */
static const char *config_with(int port, const char *services)
{
	static char text[4096];

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality    = us-east1\n"
		 "vip_cidr    = 127.91.0.0/16\n"
		 "log         = warn\n"
		 "dns_servers = 127.0.0.1:%d\n"
		 "\n%s",
		 port, services);
	return t_write("swerve.ini", text);
}

/*
 * Runs connloop under the library against mydb.com:80 with <opts> (NULL
 * ended); the dnsd <dnsd> gets SIGUSR1 (silence, or speech again) after
 * the rounds listed in <toggles> (0 ended).
 */
static void connloop(struct run *r, const char *config, const char *shm,
		     const char *const *opts, pid_t dnsd, const int *toggles)
{
	char bin[512], cv[600], sv[128], acts[4][48];
	const char *env[] = { cv, sv, NULL };
	const char *argv[24];
	int n = 0, i;

	snprintf(bin, sizeof(bin), "%s/tests/connloop", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	argv[n++] = bin;
	for (i = 0; opts[i] != NULL; i++)
		argv[n++] = opts[i];
	for (i = 0; toggles[i] != 0 && i < 4; i++) {
		snprintf(acts[i], sizeof(acts[i]), "%d:%d:%d", (int)dnsd,
			 SIGUSR1, toggles[i]);
		argv[n++] = "-s";
		argv[n++] = acts[i];
	}
	argv[n++] = "mydb.com";
	argv[n++] = "80";
	argv[n] = NULL;
	t_run(r, true, env, 60, argv);
}

/* The "worst_ms" connloop printed; -1 when absent. */
static double worst_ms(const struct run *r)
{
	const char *p = strstr(r->out, "worst_ms ");
	double w = -1;

	if (p != NULL)
		sscanf(p, "worst_ms %lf", &w);
	return w;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/*
 * east.mydb.test answers with a TTL of 1 s; the client resolves once, then
 * connects non-blocking every 100 ms for about 4 s and silences dnsd after
 * its third round. Every later connect finds the name due, with a last
 * answer: not one of them may wait for the refresh (dns_timeout 2s).
 */
Test(dns_wait, a_nonblocking_connect_never_waits_with_a_last_answer,
     .timeout = 60)
{
	const char *zone = t_write("zone", "east.mydb.test 1 A 127.10.170.2\n");
	const char *shm = t_shm(), *config;
	const char *opts[] = { "-n", "40", "-p", "100", NULL };
	const int toggles[] = { 3, 0 };
	pid_t d, srv;
	struct run r;

	d = t_dnsd(15700, zone, NULL);
	cr_assert(d > 0);
	srv = t_server("127.10.170.2", 18080, "east", "ok");
	cr_assert(srv > 0);
	config = config_with(15700,
			     "[service mydb]\n"
			     "hosts       = mydb.com\n"
			     "ports       = 80\n"
			     "resolution  = dns\n"
			     "endpoint    = east.mydb.test:18080\n"
			     "dns_min_ttl = 1s\n"
			     "dns_timeout = 2s\n");
	connloop(&r, config, shm, opts, d, toggles);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	/* "At once": far below the 2 s a refresh in connect() would take. */
	cr_assert_lt(worst_ms(&r), 1000, "%s", r.out);
	t_stop(srv);
	t_stop(d);
	t_cleanup();
}

/*
 * Service mydb has two names and dns_timeout 400ms; service other has a
 * name and dns_timeout 5s, so the process's resolver allows 5 s. The client
 * connects blocking every 100 ms and silences dnsd after round 3: once the
 * names are due, a connect refreshes both together, within mydb's own
 * 400 ms, not other's 5 s per name.
 */
Test(dns_wait, a_blocking_connect_waits_at_most_its_own_dns_timeout,
     .timeout = 90)
{
	const char *zone = t_write("zone",
				   "east.mydb.test 1 A 127.10.171.2\n"
				   "west.mydb.test 1 A 127.10.171.3\n"
				   "other.test 1 A 127.10.171.4\n");
	const char *shm = t_shm(), *config;
	const char *opts[] = { "-b", "-n", "30", "-p", "100", NULL };
	const int toggles[] = { 3, 0 };
	pid_t d, s2, s3;
	struct run r;

	d = t_dnsd(15701, zone, NULL);
	cr_assert(d > 0);
	s2 = t_server("127.10.171.2", 18080, "east", "ok");
	s3 = t_server("127.10.171.3", 18080, "west", "ok");
	cr_assert(s2 > 0 && s3 > 0);
	config = config_with(15701,
			     "[service mydb]\n"
			     "hosts       = mydb.com\n"
			     "ports       = 80\n"
			     "resolution  = dns\n"
			     "endpoint    = east.mydb.test:18080\n"
			     "endpoint    = west.mydb.test:18080\n"
			     "dns_min_ttl = 1s\n"
			     "dns_timeout = 400ms\n"
			     "\n"
			     "[service other]\n"
			     "hosts       = other.test\n"
			     "resolution  = dns\n"
			     "endpoint    = other.test:18080\n"
			     "dns_timeout = 5s\n");
	connloop(&r, config, shm, opts, d, toggles);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	/* 400 ms, plus slack for a loaded machine; one lookup of the
	 * other service's bound would be 5 s. */
	cr_assert_lt(worst_ms(&r), 2000, "%s", r.out);
	t_stop(s2);
	t_stop(s3);
	t_stop(d);
	t_cleanup();
}

/*
 * Two names, TTL 1 s, retried every dns_min_ttl (1 s): the client resolves
 * before every round (as curl does) for about 6 s; dnsd goes silent after
 * round 5 and speaks again after round 35, about 3 s later. Each name is
 * told exactly twice on stderr: once when its refresh fails and the last
 * answer is used, once when it resolves again.
 */
Test(dns_wait, an_outage_is_told_once_per_name_and_state, .timeout = 90)
{
	const char *zone = t_write("zone",
				   "east.mydb.test 1 A 127.10.172.2\n"
				   "west.mydb.test 1 A 127.10.172.3\n");
	const char *shm = t_shm(), *config;
	const char *opts[] = { "-r", "-b", "-n", "60", "-p", "100", NULL };
	const int toggles[] = { 5, 35, 0 };
	pid_t d, s2, s3;
	struct run r;

	d = t_dnsd(15702, zone, NULL);
	cr_assert(d > 0);
	s2 = t_server("127.10.172.2", 18080, "east", "ok");
	s3 = t_server("127.10.172.3", 18080, "west", "ok");
	cr_assert(s2 > 0 && s3 > 0);
	config = config_with(15702,
			     "[service mydb]\n"
			     "hosts       = mydb.com\n"
			     "ports       = 80\n"
			     "resolution  = dns\n"
			     "endpoint    = east.mydb.test:18080\n"
			     "endpoint    = west.mydb.test:18080\n"
			     "dns_min_ttl = 1s\n"
			     "dns_timeout = 300ms\n");
	connloop(&r, config, shm, opts, d, toggles);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	cr_assert_eq(count(r.err, "east.mydb.test: no answer"), 1, "%s",
		     r.err);
	cr_assert_eq(count(r.err, "west.mydb.test: no answer"), 1, "%s",
		     r.err);
	cr_assert_eq(count(r.err, "using the last answer"), 2, "%s", r.err);
	cr_assert_eq(count(r.err, "east.mydb.test resolves again"), 1, "%s",
		     r.err);
	cr_assert_eq(count(r.err, "west.mydb.test resolves again"), 1, "%s",
		     r.err);
	cr_assert_eq(count(r.err, "\n"), 4, "%s", r.err);
	t_stop(s2);
	t_stop(s3);
	t_stop(d);
	t_cleanup();
}
