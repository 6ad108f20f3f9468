/*
 * Routing plans across processes: a process keeps its plan of a service
 * until the service's health changes, wherever the change is made. Here a
 * long-running client (the stress helper, one thread, a pause between
 * requests) keeps connecting while another process (swervectl) ejects and
 * then un-ejects its endpoint: the client must follow each change at once,
 * through the service's epoch in the shared table.
 */
#include <criterion/criterion.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"


static const char *plans_config(void)
{
	return t_write("swerve.ini",
		       "[swerve]\n"
		       "locality = us-east1\n"
		       "vip_cidr = 127.78.0.0/16\n"
		       "[service mydb]\n"
		       "hosts = mydb.com\n"
		       "ports = 80\n"
		       "endpoint = 127.10.44.2:18080 locality=us-east1\n"
		       "endpoint = 127.10.44.3:18080 locality=us-west\n"
		       "consecutive_5xx_errors = 5\n"
		       "base_ejection_time = 10m\n");
}

/* Starts the stress helper under the library in the background. */
static pid_t start_client(const char *config, const char *shm)
{
	char bin[512], pre[600], cv[600], sv[128], host[] = "mydb.com";
	char port[] = "80", threads[] = "1", rounds[] = "400", pause[] = "5";
	char path[] = "PATH=/usr/bin:/bin", asan[256];
	char *argv[] = { bin, host, port, threads, rounds, pause, NULL };
	char *envp[] = { pre, cv, sv, path, asan, NULL };
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/tests/stress", t_build());
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s%s%s/libswerve.so",
		 extra != NULL ? extra : "",
		 extra != NULL && extra[0] != '\0' ? " " : "", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	/* make asan's settings (no leak report) reach the client too. */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s",
		 getenv("ASAN_OPTIONS") != NULL ? getenv("ASAN_OPTIONS") : "");
	cr_assert_eq(posix_spawn(&pid, bin, NULL, NULL, argv, envp), 0);
	return pid;
}

static long long ok_of(const char *config, const char *shm, const char *ep)
{
	long long v = t_endpoint_field(config, shm, ep, "connects_ok");

	return v > 0 ? v : 0;
}

/* Waits until <ep> has at least <n> successful connects (10 s at most). */
static void wait_for(const char *config, const char *shm, const char *ep,
		     long long n)
{
	int i;

	for (i = 0; i < 200 && ok_of(config, shm, ep) < n; i++)
		usleep(50 * 1000);
	cr_assert_geq(ok_of(config, shm, ep), n, "%s never reached %lld", ep,
		      n);
}

static void ctl(const char *config, const char *shm, const char *verb)
{
	char bin[512], cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, verb, "mydb", "127.10.44.2:18080", NULL };
	struct run r;

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(&r, false, env, 30, argv);
	cr_assert_eq(r.status, 0, "swervectl %s: %s", verb, r.err);
}

Test(plans, a_running_process_follows_another_process_s_ejection,
     .timeout = 60)
{
	const char *shm = t_shm(), *config = plans_config();
	const char *east = "127.10.44.2:18080", *west = "127.10.44.3:18080";
	long long e0, w0;
	pid_t e, w, client;
	int status;

	e = t_server("127.10.44.2", 18080, "east", "ok");
	w = t_server("127.10.44.3", 18080, "west", "ok");
	cr_assert(e > 0 && w > 0);
	client = start_client(config, shm);
	/* Its plan is built: everything goes to the local endpoint. */
	wait_for(config, shm, east, 20);
	cr_assert_eq(ok_of(config, shm, west), 0);
	ctl(config, shm, "eject");
	e0 = ok_of(config, shm, east);
	w0 = ok_of(config, shm, west);
	wait_for(config, shm, west, w0 + 20);
	/* At most the one connect that was under way when it was ejected. */
	cr_assert_leq(ok_of(config, shm, east) - e0, 1,
		      "connects to the ejected endpoint went on");
	ctl(config, shm, "uneject");
	wait_for(config, shm, east, e0 + 20);
	cr_assert_eq(waitpid(client, &status, 0), client);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the client failed: %d", status);
	t_stop(e);
	t_stop(w);
	t_cleanup();
}
