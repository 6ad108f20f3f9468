/*
 * Threads inside one client racing through the library's lock-free paths
 * while their inputs change: the names cache publishing a new answer (its
 * seqlock) while other threads read the addresses, and the routing plans
 * rebuilt for that new answer while other threads route with them. The
 * client is the stress helper (threads that resolve, connect, fetch and
 * close, some with the raw close system call); the answer comes from a
 * real dnsd whose zone a forked helper keeps rewriting.
 *
 * `make test` checks that nothing fails; `make tsan` runs the same test
 * with the library built with ThreadSanitizer, where a data race in those
 * paths is a report that fails the run.
 *
 * Port 15480 and addresses 127.10.100.x belong to this file.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define DNS_PORT 15480

/*
 * Forks a process that swaps the zone file <zone> between <a> and <b>
 * every few milliseconds (dnsd re-reads a zone whose inode changed), until
 * it is killed.
 */
static pid_t flip_zone(const char *zone, const char *a, const char *b)
{
	struct timespec step = { 0, 20 * 1000 * 1000 };
	char tmp[600];
	pid_t pid = fork();
	FILE *f;
	int i;

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(tmp, sizeof(tmp), "%s.tmp", zone);
	for (i = 0;; i++) {
		f = fopen(tmp, "w");
		if (f == NULL)
			_exit(1);
		fputs(i % 2 == 0 ? a : b, f);
		fclose(f);
		rename(tmp, zone);
		nanosleep(&step, NULL);
	}
}

Test(threads, threads_route_while_the_answer_changes, .timeout = 120)
{
	const char *shm = t_shm(), *config;
	const char *one = "web.threads.test 0 A 127.10.100.2\n";
	const char *two = "web.threads.test 0 A 127.10.100.2\n"
			  "web.threads.test 0 A 127.10.100.3\n";
	char bin[512], cv[600], sv[128], text[600], *zone;
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "mydb.com", "80", "16", "80", NULL };
	pid_t d, s2, s3, flipper;
	struct run r;

	zone = strdup(t_write("zone", two));
	d = t_dnsd(DNS_PORT, zone, NULL);
	s2 = t_server("127.10.100.2", 18080, "127.10.100.2", "ok");
	s3 = t_server("127.10.100.3", 18080, "127.10.100.3", "ok");
	cr_assert(d > 0 && s2 > 0 && s3 > 0);
	/* Every answer is due again after 20 ms: refreshes, publications
	 * and plan rebuilds all through the run. */
	snprintf(text, sizeof(text),
		 "[swerve]\ndns_servers = 127.0.0.1:%d\n"
		 "[service mydb]\nhosts = mydb.com\nresolution = dns\n"
		 "endpoint = web.threads.test:18080\n"
		 "dns_min_ttl = 20ms\ndns_max_ttl = 20ms\n"
		 "dns_timeout = 2s\n", DNS_PORT);
	config = t_write("swerve.ini", text);
	flipper = flip_zone(zone, one, two);
	snprintf(bin, sizeof(bin), "%s/tests/stress", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, true, env, 100, argv);
	kill(flipper, SIGKILL);
	waitpid(flipper, NULL, 0);
	cr_assert_eq(r.status, 0, "stress failed (%d): %s %s", r.status,
		     r.out, r.err);
	cr_assert_str_eq(r.out, "ok 1280 failed 0\n", "%s", r.err);
	t_stop(s2);
	t_stop(s3);
	t_stop(d);
	free(zone);
	t_cleanup();
}
