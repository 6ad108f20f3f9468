/*
 * Locality-aware load balancing end to end: eight real HTTP servers on
 * loopback answering their own name, four in this host's region and four
 * in another, and a thousand real client processes (the probe helper)
 * dialling mydb.com through the library. The split between regions is
 * Envoy's priority load, computed from what the shared table says.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define REQUESTS 1000
#define NSERVERS 8

/* Runs the probe (non-blocking connect, SO_ERROR) once; the body or "". */
static const char *probe_once(const char *config, const char *shm)
{
	static struct run r;
	char cv[600], sv[128], bin[512];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "-m", "soerror", "mydb.com", "80", NULL };

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, true, env, 30, argv);
	cr_assert_eq(r.status, 0, "probe failed (%d): %s", r.status, r.err);
	return r.out;
}

/* Runs swervectl with <args> under <config> and <shm>, into <r>. */
static void ctl(struct run *r, const char *config, const char *shm,
		const char *a1, const char *a2, const char *a3)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, a1, a2, a3, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, false, env, 30, argv);
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Starts the servers at <prefix>.2 .. .9 named east-1..4, west-1..4,
 * except those whose bit is set in <down>. */
static void start_servers(const char *prefix, unsigned down, pid_t *pids)
{
	char addr[32], body[32];
	int i;

	for (i = 0; i < NSERVERS; i++) {
		pids[i] = 0;
		if (down & (1u << i))
			continue;
		snprintf(addr, sizeof(addr), "%s.%d", prefix, i + 2);
		snprintf(body, sizeof(body), "%s-%d", i < 4 ? "east" : "west",
			 i % 4 + 1);
		pids[i] = t_server(addr, 18080, body, "ok");
		cr_assert(pids[i] > 0, "server %s did not start", addr);
	}
}

static void stop_servers(pid_t *pids)
{
	int i;

	for (i = 0; i < NSERVERS; i++)
		t_stop(pids[i]);
}

/*
 * Writes a config of mydb.com over the eight servers at <prefix>.2 .. .9,
 * four in us-east/a (this host's locality) and four in us-west/b, with
 * failover us-east -> us-west, round robin, and the outlier keys <outlier>.
 */
static const char *failover_config(const char *prefix, const char *outlier)
{
	char text[2048];
	size_t off;
	int i;

	off = (size_t)snprintf(text, sizeof(text),
			       "[swerve]\n"
			       "locality = us-east/a\n"
			       "vip_cidr = 127.79.0.0/16\n"
			       "[service mydb]\n"
			       "hosts = mydb.com\n"
			       "ports = 80\n");
	for (i = 0; i < NSERVERS; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"endpoint = %s.%d:18080 locality=%s\n",
					prefix, i + 2,
					i < 4 ? "us-east/a" : "us-west/b");
	snprintf(text + off, sizeof(text) - off,
		 "failover = us-east -> us-west\n"
		 "lb = round_robin\n%s", outlier);
	return t_write("swerve.ini", text);
}

/* After the 70/30 run: the table and the tools agree with what the
 * clients saw. */
static void check_tools_agree(const char *config, const char *shm)
{
	char ep[48];
	struct run r;
	unsigned i;

	for (i = 0; i < 2; i++) {
		snprintf(ep, sizeof(ep), "127.10.40.%u:18080", i + 2);
		cr_assert_eq(t_endpoint_field(config, shm, ep, "ejections"), 1);
		cr_assert_eq(t_endpoint_field(config, shm, ep, "priority"), 0);
	}
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.40.6:18080",
				      "priority"), 1);
	ctl(&r, config, shm, "explain", "mydb.com", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "priority 0: 2/4 healthy, health 70%, "
			 "load 70%") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "priority 1: 4/4 healthy, health 100%, "
			 "load 30%") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "failover:           us-east -> us-west") !=
		  NULL, "%s", r.out);
	ctl(&r, config, shm, "events", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(count_of(r.out, "\"type\": \"eject\""), 2, "%s", r.out);
	cr_assert_eq(count_of(r.out, "\"reason\": \"consecutive_5xx\""), 2,
		     "%s", r.out);
	cr_assert(strstr(r.out, "\"endpoint\": \"127.10.40.2:18080\"") != NULL,
		  "%s", r.out);
	cr_assert_eq(count_of(r.out, "\"streak\": 1"), 2, "%s", r.out);
}

Test(locality, two_of_four_local_endpoints_down_split_seventy_thirty,
     .timeout = 600)
{
	const char *shm = t_shm(), *config, *out;
	unsigned east = 0, west = 0, dead = 0, i;
	pid_t pids[NSERVERS];

	/* east-1 and east-2 are stopped: refused, then ejected. */
	start_servers("127.10.40", 0x3, pids);
	config = failover_config("127.10.40", "consecutive_5xx_errors = 1\n"
				 "max_ejection_percent = 100\n"
				 "interval = 10s\n"
				 "base_ejection_time = 10m\n");

	/* Until both dead endpoints are ejected; no request is lost, since
	 * a refusal fails over inside connect(). */
	for (i = 0; i < 200 && dead < 2; i++) {
		probe_once(config, shm);
		dead = t_endpoint_ejected(config, shm, "127.10.40.2:18080") +
		       t_endpoint_ejected(config, shm, "127.10.40.3:18080");
	}
	cr_assert_eq(dead, 2, "the stopped endpoints were not ejected");

	for (i = 0; i < REQUESTS; i++) {
		out = probe_once(config, shm);
		if (strncmp(out, "east-", 5) == 0)
			east++;
		else if (strncmp(out, "west-", 5) == 0)
			west++;
		cr_assert(strncmp(out, "east-1", 6) != 0 &&
			  strncmp(out, "east-2", 6) != 0,
			  "a stopped server answered: %s", out);
	}
	cr_assert_eq(east + west, REQUESTS);
	/* Envoy: health(P0) = 140 * 2 / 4 = 70, P1 takes the other 30.
	 * 1000 draws: one standard deviation is 14.5, so 70 +- 5 % is more
	 * than 3 of them. */
	cr_assert(east >= 650 && east <= 750,
		  "expected about 70%% local, got %u east / %u west", east,
		  west);

	check_tools_agree(config, shm);
	stop_servers(pids);
	t_cleanup();
}

Test(locality, distribute_splits_eighty_twenty_and_skips_unlisted,
     .timeout = 600)
{
	const char *shm = t_shm(), *config, *out;
	char text[2048];
	unsigned east = 0, west = 0, i;
	pid_t pids[NSERVERS], eu;
	struct run r;

	start_servers("127.10.41", 0, pids);
	eu = t_server("127.10.41.10", 18080, "eu-1", "ok");
	cr_assert(eu > 0);
	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality = us-east/a\n"
		 "vip_cidr = 127.79.0.0/16\n"
		 "[service mydb]\n"
		 "hosts = mydb.com\n"
		 "ports = 80\n"
		 "endpoint = 127.10.41.2:18080 locality=us-east/a\n"
		 "endpoint = 127.10.41.3:18080 locality=us-east/a\n"
		 "endpoint = 127.10.41.4:18080 locality=us-east/b\n"
		 "endpoint = 127.10.41.5:18080 locality=us-east/b\n"
		 "endpoint = 127.10.41.6:18080 locality=us-west/c\n"
		 "endpoint = 127.10.41.7:18080 locality=us-west/c\n"
		 "endpoint = 127.10.41.8:18080 locality=us-west/c\n"
		 "endpoint = 127.10.41.9:18080 locality=us-west/c\n"
		 "endpoint = 127.10.41.10:18080 locality=eu/d\n"
		 "distribute = us-east/* -> us-east:80, us-west:20\n"
		 "lb = round_robin\n");
	config = t_write("swerve.ini", text);
	for (i = 0; i < REQUESTS; i++) {
		out = probe_once(config, shm);
		if (strncmp(out, "east-", 5) == 0)
			east++;
		else if (strncmp(out, "west-", 5) == 0)
			west++;
		else
			cr_assert_fail("unexpected answer '%s'", out);
	}
	cr_assert(east >= 750 && east <= 850,
		  "expected about 80%% us-east, got %u / %u", east, west);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.41.10:18080",
				      "connects_ok"), 0,
		     "eu is listed by no target: never used");
	ctl(&r, config, shm, "explain", "mydb.com", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "applies to this host") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "not routed") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "locality us-west/c") != NULL, "%s", r.out);
	stop_servers(pids);
	t_stop(eu);
	t_cleanup();
}

/*
 * Endpoints this process just saw failing are avoided at pick time only:
 * they are not ejected (the threshold is far away), so the table says the
 * local tier is healthy, its load stays 100%, and the process's
 * connections go to the two local endpoints left, never to the other
 * region. (Marking them unhealthy, as swerve once did, gave the local tier
 * a health of 140 * 2 / 4 = 70% and sent 30% of them away.)
 */
Test(locality, avoided_endpoints_do_not_move_the_load, .timeout = 300)
{
	const char *shm = t_shm(), *config;
	char bin[512], cv[600], sv[128], ep[48];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "mydb.com", "80", "1", "200", NULL };
	long long east = 0, west = 0, v;
	pid_t pids[NSERVERS];
	struct run r;
	int i;

	/* east-1 and east-2 are stopped: refused at every attempt. */
	start_servers("127.10.42", 0x3, pids);
	config = failover_config("127.10.42", "consecutive_5xx_errors = 100000\n"
				 "interval = 10s\n");
	/* One process, 200 requests one after another. */
	snprintf(bin, sizeof(bin), "%s/tests/stress", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, true, env, 120, argv);
	cr_assert_eq(r.status, 0, "stress failed (%d): %s %s", r.status,
		     r.out, r.err);
	for (i = 2; i <= 9; i++) {
		snprintf(ep, sizeof(ep), "127.10.42.%d:18080", i);
		cr_assert_not(t_endpoint_ejected(config, shm, ep), "%s", ep);
		v = t_endpoint_field(config, shm, ep, "connects_ok");
		if (i <= 5)
			east += v > 0 ? v : 0;
		else
			west += v > 0 ? v : 0;
	}
	cr_assert_eq(east, 200, "got %lld east / %lld west", east, west);
	cr_assert_eq(west, 0, "the load moved: %lld east / %lld west", east,
		     west);
	stop_servers(pids);
	t_cleanup();
}
