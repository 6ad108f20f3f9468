/*
 * The names cache's claims with real threads, a real signal and a real DNS
 * responder (tests/helpers/dnsd) that never answers, in this process (the
 * cache is core code the test links; nothing is preloaded).
 *
 * A thread whose lookup is paused (here: held in a signal handler, as a
 * debugger or a long handler would hold it) for longer than twice the
 * resolver's timeout plus a second has its claims taken over by the next
 * thread that needs them, which gets a fresh resolver. When the paused
 * thread resumes it must not release the new owner's claims: a third
 * thread would then take the resolver that the new owner is still driving
 * (two threads in one c-ares channel).
 *
 * Port 15713 belongs to this file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/swerve.h"
#include "names/dnscache.h"
#include "policy/config.h"
#include "support.h"
#include "table/shm.h"

static volatile sig_atomic_t resume;

/* Holds the interrupted thread here until the test lets it go. */
static void hold(int sig)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	(void)sig;
	while (!resume)
		nanosleep(&ts, NULL);
}

struct refresher {
	struct swerve_dnscache *c;
	unsigned s;
	uint64_t started, ended;
};

static void *refresh_thread(void *arg)
{
	struct refresher *f = arg;

	f->started = swerve_now_ms();
	swerve_dnscache_refresh(f->c, f->s, f->started, SWERVE_DNSCACHE_WAIT);
	f->ended = swerve_now_ms();
	return NULL;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	while (swerve_now_ms() < t)
		nanosleep(&ts, NULL);
}

/*
 * slow.test (dns_timeout 1500ms, so the resolver may take over after 4 s)
 * gets no answer from the silent dnsd; localhost (service fast, dns_timeout
 * 300ms) comes from the hosts file without a query.
 */
Test(dns_takeover, a_resumed_owner_keeps_its_hands_off_the_new_claims,
     .timeout = 60)
{
	struct sigaction sa;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	struct swerve_dnscache *c = NULL;
	struct refresher a = { 0 }, b = { 0 };
	struct sockaddr_storage addr;
	pthread_t ta, tb;
	const char *config;
	char err[512] = "";
	uint64_t t0;
	pid_t d;

	d = t_dnsd(15713, t_write("zone", "slow.test 60 A 127.0.0.9\n"), "-n");
	cr_assert(d > 0);
	config = t_write("swerve.ini",
			 "[swerve]\n"
			 "dns_servers = 127.0.0.1:15713\n"
			 "[service slow]\n"
			 "hosts       = slow.example\n"
			 "resolution  = dns\n"
			 "endpoint    = slow.test:80\n"
			 "dns_timeout = 1500ms\n"
			 "[service fast]\n"
			 "hosts       = fast.example\n"
			 "resolution  = dns\n"
			 "endpoint    = localhost:80\n"
			 "dns_timeout = 300ms\n");
	cr_assert_eq(swerve_config_load(config, false, &cfg, NULL, NULL, err,
					sizeof(err)), 0, "%s", err);
	memset(&tab, 0, sizeof(tab));
	cr_assert_eq(swerve_shm_private(&tab), 0);
	cr_assert_eq(swerve_dnscache_new(cfg, &tab, &c, err, sizeof(err)), 0,
		     "%s", err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hold;
	cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);

	/* A: the first owner, paused inside its lookup. */
	a.c = b.c = c;
	a.s = b.s = 0;
	t0 = swerve_now_ms();
	cr_assert_eq(pthread_create(&ta, NULL, refresh_thread, &a), 0);
	sleep_until(t0 + 300);
	cr_assert_eq(pthread_kill(ta, SIGUSR2), 0);
	/* B: takes over once A's claims look abandoned (4 s), and is in
	 * its own 1.5 s lookup when A resumes. */
	sleep_until(t0 + 4300);
	cr_assert_eq(pthread_create(&tb, NULL, refresh_thread, &b), 0);
	sleep_until(t0 + 4600);
	resume = 1;
	cr_assert_eq(pthread_join(ta, NULL), 0);
	/* C (this thread): a name that never resolved, while B still holds
	 * the resolver. It waits for it within its own 300 ms and gives up;
	 * had A released B's claim, C would have taken the channel B drives
	 * and answered localhost from the hosts file. */
	cr_assert_lt(swerve_now_ms(), b.started + 1000,
		     "B's lookup is over already: the machine is too slow");
	swerve_dnscache_refresh(c, 1, swerve_now_ms(), SWERVE_DNSCACHE_WAIT);
	cr_assert_not(swerve_dnscache_address(c, 1, 0, &addr, NULL),
		      "C resolved while B held the resolver");
	cr_assert_eq(pthread_join(tb, NULL), 0);
	cr_assert_geq(b.started, t0 + 4000);
	/* Once B is done, the resolver is free again for C. */
	swerve_dnscache_refresh(c, 1, swerve_now_ms(), SWERVE_DNSCACHE_WAIT);
	cr_assert(swerve_dnscache_address(c, 1, 0, &addr, NULL),
		  "localhost did not resolve from the hosts file");
	swerve_dnscache_free(c);
	swerve_shm_detach(&tab);
	swerve_config_free(cfg);
	t_stop(d);
	t_cleanup();
}
