/*
 * Fault: the DNS server stops mid-run. dnsd is frozen with SIGSTOP (its
 * socket stays open and queries queue up unanswered, as with a hung
 * resolver) while one client process keeps connecting non-blocking, the
 * way an event loop does, after resolving once. Once the name is due, every
 * connect finds it due with a last answer: none may wait for DNS, and none
 * may fail; after SIGCONT nothing is left behind.
 *
 * Port 15720 and addresses 127.10.175.x belong to this file.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../integration/support.h"

Test(faults_dns, a_frozen_dns_server_never_holds_a_nonblocking_connect,
     .timeout = 60)
{
	const char *zone = t_write("zone", "east.mydb.test 1 A 127.10.175.2\n");
	char bin[512], cv[600], sv[128], stop[48], cont[48];
	const char *env[] = { cv, sv, NULL };
	/* "At once": -w, far below the 3 s dns_timeout a refresh takes. */
	const char *argv[] = { bin, "-n", "40", "-p", "100", "-w", "1000",
			       "-s", stop, "-s", cont, "mydb.com", "80", NULL };
	const char *config;
	pid_t d, srv;
	struct run r;

	d = t_dnsd(15720, zone, NULL);
	srv = t_server("127.10.175.2", 18080, "east", "ok");
	cr_assert(d > 0 && srv > 0);
	config = t_write("swerve.ini",
			 "[swerve]\n"
			 "vip_cidr    = 127.95.0.0/16\n"
			 "dns_servers = 127.0.0.1:15720\n"
			 "[service mydb]\n"
			 "hosts       = mydb.com\n"
			 "ports       = 80\n"
			 "resolution  = dns\n"
			 "endpoint    = east.mydb.test:18080\n"
			 "dns_min_ttl = 1s\n"
			 "dns_timeout = 3s\n");
	snprintf(bin, sizeof(bin), "%s/tests/connloop", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t_shm());
	/* Frozen after round 3, thawed after round 35 (about 3 s later). */
	snprintf(stop, sizeof(stop), "%d:%d:3", (int)d, SIGSTOP);
	snprintf(cont, sizeof(cont), "%d:%d:35", (int)d, SIGCONT);
	t_run(&r, true, env, 60, argv);
	kill(d, SIGCONT);
	cr_assert_eq(r.status, 0, "(%d) %s %s", r.status, r.out, r.err);
	t_stop(srv);
	t_stop(d);
	t_cleanup();
}
