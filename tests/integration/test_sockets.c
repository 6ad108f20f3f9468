/*
 * Socket behaviour under the library with real programs: the application's
 * own socket keeps its flags, options and bound address through a failover,
 * TCP_USER_TIMEOUT is handed back once connected whichever way the client
 * learns that, a siglongjmp out of a blocking connect leaves nothing stuck,
 * many threads resolve and connect at once (some closing by raw syscall),
 * and programs swerve cannot steer (Go) or does not serve (getaddrinfo_a)
 * get glibc's answers.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static const char *config_for(const char *east, const char *west,
			      const char *timeout)
{
	static char text[1024];

	snprintf(text, sizeof(text),
		 "[swerve]\nlocality = us-east1\nvip_cidr = 127.78.0.0/16\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "endpoint = %s:18080 locality=us-east1\n"
		 "endpoint = %s:18080 locality=us-west\n"
		 "consecutive_5xx_errors = 1\ninterval = 15s\n"
		 "base_ejection_time = 1m\nconnect_timeout = %s\n",
		 east, west, timeout);
	return t_write("sockets.ini", text);
}

static void run_probe(struct run *r, const char *config, const char *shm,
		      const char *const *args)
{
	t_helper(r, config, shm, NULL, "probe", args);
}

struct hygiene_case {
	char mode[8];
	char family[2];
	char net[16];
};

ParameterizedTestParameters(sockets, options_survive_a_failover)
{
	static struct hygiene_case cases[] = {
		{ "block", "4", "127.10.21" },   { "block", "6", "127.10.22" },
		{ "soerror", "4", "127.10.23" }, { "soerror", "6", "127.10.24" },
		{ "again", "4", "127.10.25" },   { "again", "6", "127.10.26" },
		{ "early", "4", "127.10.27" },   { "early", "6", "127.10.28" },
		{ "write", "4", "127.10.29" },   { "write", "6", "127.10.30" },
	};

	return cr_make_param_array(struct hygiene_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * The primary refuses: the same fd is re-armed and connected to the
 * failover. TCP_NODELAY, SO_KEEPALIVE, FD_CLOEXEC, O_NONBLOCK and the bound
 * source address must all still be there, and TCP_USER_TIMEOUT back at 0,
 * on IPv4 sockets and on IPv6 sockets dialling v4-mapped addresses (Java).
 */
ParameterizedTest(struct hygiene_case *c, sockets, options_survive_a_failover,
		  .timeout = 30)
{
	const char *shm = t_shm(), *config;
	const char *args[] = { "-o", "-1", "-m", c->mode, "-f", c->family,
			       "mydb.com", "80", NULL };
	char east[32], west[32];
	struct run r;
	pid_t w;

	snprintf(east, sizeof(east), "%s.2", c->net);
	snprintf(west, sizeof(west), "%s.3", c->net);
	w = t_server(west, 18080, "healthy: us-west", "ok");
	cr_assert(w > 0);
	config = config_for(east, west, "10s");
	run_probe(&r, config, shm, args);
	cr_assert_eq(r.status, 0, "mode %s family %s: %s", c->mode, c->family,
		     r.err);
	cr_assert_str_eq(r.out, "healthy: us-west\n");
	cr_assert(strstr(r.err, "probe: options kept") != NULL, "%s", r.err);
	t_stop(w);
	t_cleanup();
}

/* make tsan: the TSan runtime is preloaded (scripts/tsan.sh). */
static bool under_tsan(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && strstr(extra, "tsan") != NULL;
}

Test(sockets, a_siglongjmp_out_of_connect_leaves_nothing_stuck, .timeout = 30)
{
	const char *shm = t_shm(), *config;
	/* wget --connect-timeout: SIGALRM after 500 ms jumps out of a
	 * blocking connect to a blackholed primary; the probe closes the
	 * socket and dials the second service address. */
	const char *args[] = { "-m", "alarm", "-t", "500", "mydb.com", "80",
			       NULL };
	struct run r;
	pid_t e, w;

	if (under_tsan())
		cr_skip_test("ThreadSanitizer defers a signal to the next call "
			     "it intercepts: the SIGALRM meant to jump out of "
			     "connect() lands after it, in swerve's own code");
	e = t_server("127.10.31.2", 18080, "healthy: us-east1", "backlog");
	w = t_server("127.10.31.3", 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	config = config_for("127.10.31.2", "127.10.31.3", "10s");
	run_probe(&r, config, shm, args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "healthy: us-west\n");
	cr_assert(r.seconds < 2.0, "took %.2f s", r.seconds);
	/* The abandoned attempt was seen at close() and charged. */
	cr_assert(t_endpoint_ejected(config, shm, "127.10.31.2:18080"));
	run_probe(&r, config, shm, args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(r.seconds < 0.5, "took %.2f s", r.seconds);
	t_stop(e);
	t_stop(w);
	t_cleanup();
}

Test(sockets, many_threads_resolve_and_connect_at_once, .timeout = 60)
{
	const char *shm = t_shm(), *config;
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "mydb.com", "80", "64", "20", NULL };
	struct run r;
	pid_t e, w;

	e = t_server("127.10.32.2", 18080, "healthy: us-east1", "ok");
	w = t_server("127.10.32.3", 18080, "healthy: us-west", "ok");
	cr_assert(e > 0 && w > 0);
	config = config_for("127.10.32.2", "127.10.32.3", "10s");
	snprintf(bin, sizeof(bin), "%s/tests/stress", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, true, env, 50, argv);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "ok 1280 failed 0\n");
	/* The primary dies while 64 threads keep going: nothing fails. */
	t_stop(e);
	t_run(&r, true, env, 50, argv);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "ok 1280 failed 0\n");
	cr_assert(t_endpoint_ejected(config, shm, "127.10.32.2:18080"));
	t_stop(w);
	t_cleanup();
}

static const char *localhost_config(void)
{
	return t_write("localhost.ini",
		       "[swerve]\nvip_cidr = 127.78.0.0/16\n"
		       "[service local]\nhosts = localhost\n"
		       "endpoint = 127.10.33.2:18080\n");
}

static void run_helper(struct run *r, const char *helper, const char *arg)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, arg, NULL };

	snprintf(bin, sizeof(bin), "%s/tests/%s", t_build(), helper);
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", localhost_config());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t_shm());
	t_run(r, true, env, 20, argv);
}

Test(sockets, a_go_program_gets_glibcs_answer, .timeout = 30)
{
	struct run r;

	/* A plain program is served a service address for the name... */
	run_helper(&r, "gai_dump", "localhost");
	cr_assert(strstr(r.out, "127.78.") != NULL);
	/* ...a Go program is not: it would connect to it by raw syscall. */
	run_helper(&r, "fakego", "localhost");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "127.0.0.1\n");
	cr_assert(strstr(r.err, "Go program") != NULL, "%s", r.err);
	t_cleanup();
}

Test(sockets, getaddrinfo_a_is_left_to_glibc, .timeout = 30)
{
	struct run r;

	if (under_tsan())
		cr_skip_test("getaddrinfo_a crashes under ThreadSanitizer, "
			     "swerve or not: glibc starts its thread behind "
			     "TSan's back");
	run_helper(&r, "gai_async", "localhost");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "127.0.0.1\n");
	cr_assert_str_eq(r.err, "");
	t_cleanup();
}
