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

/* dnsd and the servers behind east.mydb.test (and west.mydb.test). */
struct scene {
	int port;
	pid_t dnsd;
	pid_t srv[2];
	const char *config;
	const char *shm;
};

/*
 * Starts dnsd on 127.0.0.1:<port> with <names> names (east, west) at
 * <net>.2 and <net>.3, TTL 1 s, plus other.test, and a server behind each
 * name; writes a config whose service mydb has those names, dns_min_ttl 1s
 * and <tuning> (whole lines), followed by the sections <more>.
 */
static void set_up(struct scene *sc, int port, const char *net, int names,
		   const char *tuning, const char *more)
{
	static char zone[256], text[2048];
	char addr[32];
	int i;

	memset(sc, 0, sizeof(*sc));
	sc->port = port;
	sc->shm = t_shm();
	snprintf(zone, sizeof(zone),
		 "east.mydb.test 1 A %s.2\nwest.mydb.test 1 A %s.3\n"
		 "other.test 1 A %s.4\n", net, net, net);
	sc->dnsd = t_dnsd(port, t_write("zone", zone), NULL);
	cr_assert(sc->dnsd > 0);
	for (i = 0; i < names; i++) {
		snprintf(addr, sizeof(addr), "%s.%d", net, i + 2);
		sc->srv[i] = t_server(addr, 18080, addr, "ok");
		cr_assert(sc->srv[i] > 0);
	}
	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "vip_cidr    = 127.91.0.0/16\n"
		 "dns_servers = 127.0.0.1:%d\n"
		 "[service mydb]\n"
		 "hosts       = mydb.com\n"
		 "ports       = 80\n"
		 "resolution  = dns\n"
		 "endpoint    = east.mydb.test:18080\n"
		 "%s"
		 "dns_min_ttl = 1s\n"
		 "%s%s",
		 port, names > 1 ? "endpoint    = west.mydb.test:18080\n" : "",
		 tuning, more);
	sc->config = t_write("swerve.ini", text);
}

static void tear_down(struct scene *sc)
{
	t_stop(sc->srv[0]);
	t_stop(sc->srv[1]);
	t_stop(sc->dnsd);
	t_cleanup();
}

/*
 * Runs connloop under the library against mydb.com:80 with <opts> (NULL
 * ended); dnsd gets SIGUSR1 (silence, or speech again) after the rounds
 * listed in <toggles> (0 ended).
 */
static void connloop(struct run *r, const struct scene *sc,
		     const char *const *opts, const int *toggles)
{
	char bin[512], cv[600], sv[128], acts[4][48];
	const char *env[] = { cv, sv, NULL };
	const char *argv[24];
	int n = 0, i;

	snprintf(bin, sizeof(bin), "%s/tests/connloop", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", sc->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", sc->shm);
	argv[n++] = bin;
	for (i = 0; opts[i] != NULL; i++)
		argv[n++] = opts[i];
	for (i = 0; toggles[i] != 0 && i < 4; i++) {
		snprintf(acts[i], sizeof(acts[i]), "%d:%d:%d", (int)sc->dnsd,
			 SIGUSR1, toggles[i]);
		argv[n++] = "-s";
		argv[n++] = acts[i];
	}
	argv[n++] = "mydb.com";
	argv[n++] = "80";
	argv[n] = NULL;
	t_run(r, true, env, 60, argv);
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
	/* "At once": far below the 2 s a refresh in connect() would take. */
	const char *opts[] = { "-n", "40", "-p", "100", "-w", "1000", NULL };
	const int toggles[] = { 3, 0 };
	struct scene sc;
	struct run r;

	set_up(&sc, 15700, "127.10.170", 1, "dns_timeout = 2s\n", "");
	connloop(&r, &sc, opts, toggles);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	tear_down(&sc);
}

/*
 * Service mydb has two names and dns_timeout 400ms; service other has a
 * name and dns_timeout 5s, so the process's resolver allows 5 s. The client
 * connects blocking every 100 ms and silences dnsd after round 3: once the
 * names are due, a connect refreshes both together, within mydb's own
 * 400 ms (2 s with slack for a loaded machine), not other's 5 s per name.
 */
Test(dns_wait, a_blocking_connect_waits_at_most_its_own_dns_timeout,
     .timeout = 90)
{
	const char *opts[] = { "-b", "-n", "30", "-p", "100", "-w", "2000",
			       NULL };
	const int toggles[] = { 3, 0 };
	struct scene sc;
	struct run r;

	set_up(&sc, 15701, "127.10.171", 2, "dns_timeout = 400ms\n",
	       "[service other]\n"
	       "hosts       = other.test\n"
	       "resolution  = dns\n"
	       "endpoint    = other.test:18080\n"
	       "dns_timeout = 5s\n");
	connloop(&r, &sc, opts, toggles);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	tear_down(&sc);
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
	const char *opts[] = { "-r", "-b", "-n", "60", "-p", "100", NULL };
	const int toggles[] = { 5, 35, 0 };
	struct scene sc;
	struct run r;

	set_up(&sc, 15702, "127.10.172", 2, "dns_timeout = 300ms\n", "");
	connloop(&r, &sc, opts, toggles);
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
	tear_down(&sc);
}
