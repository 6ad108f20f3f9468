/*
 * Fault cases of the shared table's locks, with real clients under the
 * library: a process stopped (SIGSTOP) while it holds row locks, taken
 * with the library's own code, must delay nobody's connect by more than
 * the 100 ms; and kill -9 storms over processes connecting in a
 * loop must leave a table that checks consistent, with counters that add
 * up to what the clients did.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../integration/support.h"
#include "table/shm.h"
#include "table/shm_int.h"
#include "table_faults.h"

/* The issue's own bound for a connect while a lock holder is stopped. */
#define BOUND_MS 100.0

/*
 * A child that attaches <shm>, makes the live endpoint's row non-quiet
 * (so that successes need its lock too), takes the locks of both
 * endpoints' rows with the library's code, and stops itself. Returns once
 * it is stopped.
 */
static pid_t stopped_holder(const char *shm, const char *prefix)
{
	struct swerve_outlier_cfg c = { .enabled = true, .interval_ms = 1000,
					.consecutive_5xx = 1000 };
	int status;
	pid_t pid;

	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct swerve_shm t;
		struct swerve_shm_row *rows[2];
		struct swerve_shm_hold h[2];
		int i;

		if (swerve_shm_attach(shm, true, &t, NULL, 0) != 0)
			_exit(2);
		for (i = 0; i < 2; i++) {
			rows[i] = swerve_shm_row(&t, f_key(prefix, 2 + i),
						 true);
			swerve_shm_report(&t, NULL, &rows[i], 1, 0, &c,
					  SWERVE_OUTCOME_CONNECT_FAILED, 0,
					  swerve_now_ms());
			if (swerve_shm_lock(&rows[i]->lock, &h[i]) != 0)
				_exit(3);
		}
		raise(SIGSTOP);
		for (i = 0; i < 2; i++)
			swerve_shm_unlock(&rows[i]->lock, &h[i]);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(status), "holder status %#x", status);
	return pid;
}

Test(table_faults, a_stopped_lock_holder_delays_no_connect_by_100ms,
     .fini = f_cleanup, .timeout = 120)
{
	const char *prefix = "127.10.200", *shm = t_shm(), *config;
	struct swerve_shm t;
	char err[256];
	pid_t srv, holder, c;
	int rc;

	srv = t_server("127.10.200.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	config = f_config(prefix, 1000, NULL);
	holder = stopped_holder(shm, prefix);
	f_track(holder);
	/* Every round tries the dead endpoint and the live one: two
	 * reports on rows whose locks the stopped process holds. */
	c = f_client(config, shm, 60, NULL, 0, "during");
	rc = f_reap(c, 60);
	cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("during"));
	cr_assert_lt(f_max_ms("during"), BOUND_MS, "%s", f_output("during"));
	/* Past the lease the locks are taken over: connects as usual. */
	usleep(300 * 1000);
	c = f_client(config, shm, 20, NULL, 0, "after");
	rc = f_reap(c, 60);
	cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("after"));
	cr_assert_lt(f_max_ms("after"), BOUND_MS, "%s", f_output("after"));
	kill(holder, SIGCONT);
	rc = f_reap(holder, 10);
	cr_assert_eq(rc, 0, "holder status %d", rc);
	f_attach(shm, &t);
	cr_assert_eq(swerve_shm_check(&t, swerve_now_ms(), err, sizeof(err)),
		     0, "%s", err);
	swerve_shm_detach(&t);
	swerve_shm_unlink(shm);
	f_stop(srv);
}

#define STORM_PROCS 8
#define STORM_KILLS 500

/* What the clients counted, in the file they share. */
struct counters {
	_Atomic uint64_t started, ok, failed, pad[5];
};

static struct counters *map_counters(const char *path)
{
	struct counters *c;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_neq(fd, -1);
	cr_assert_eq(ftruncate(fd, STORM_PROCS * sizeof(*c)), 0);
	c = mmap(NULL, STORM_PROCS * sizeof(*c), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(c, MAP_FAILED);
	return c;
}

static void storm(const char *config, const char *shm, const char *counters)
{
	pid_t pids[STORM_PROCS];
	char tag[32];
	int i, k, rc;

	for (i = 0; i < STORM_PROCS; i++) {
		snprintf(tag, sizeof(tag), "storm%d", i);
		pids[i] = f_client(config, shm, 0, counters, i, tag);
	}
	srand(10);
	for (k = 0; k < STORM_KILLS; k++) {
		i = rand() % STORM_PROCS;
		usleep((useconds_t)(rand() % 15000));
		kill(pids[i], SIGKILL);
		cr_assert_eq(f_reap(pids[i], 10), 128 + SIGKILL);
		snprintf(tag, sizeof(tag), "storm%d", i);
		pids[i] = f_client(config, shm, 0, counters, i, tag);
	}
	for (i = 0; i < STORM_PROCS; i++) {
		snprintf(tag, sizeof(tag), "storm%d", i);
		rc = f_stop(pids[i]);
		cr_assert_eq(rc, 0, "status %d: %s", rc, f_output(tag));
	}
}

Test(table_faults, kill_9_storms_leave_a_consistent_table_that_adds_up,
     .fini = f_cleanup, .timeout = 170)
{
	const char *prefix = "127.10.201", *shm = t_shm(), *config;
	struct swerve_shm_row *dead, *live;
	uint64_t started = 0, ok = 0, ok_rows, failed_rows;
	struct swerve_outlier_state st;
	char counters[512], err[256];
	struct counters *cnt;
	struct swerve_shm t;
	pid_t srv;
	int i;

	srv = t_server("127.10.201.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	/* Ejections come and go all through the storm. */
	config = f_config(prefix, 3, "interval = 100ms\n"
				     "base_ejection_time = 100ms\n");
	snprintf(counters, sizeof(counters), "%s/counters", t_dir());
	cnt = map_counters(counters);
	storm(config, shm, counters);
	/* Every lock a killed holder left is past its lease now. */
	usleep(300 * 1000);
	f_attach(shm, &t);
	cr_assert_eq(swerve_shm_check(&t, swerve_now_ms(), err, sizeof(err)),
		     0, "%s", err);
	dead = swerve_shm_row(&t, f_key(prefix, 2), false);
	live = swerve_shm_row(&t, f_key(prefix, 3), false);
	cr_assert(dead != NULL && live != NULL);
	for (i = 0; i < STORM_PROCS; i++) {
		started += atomic_load(&cnt[i].started);
		ok += atomic_load(&cnt[i].ok);
	}
	ok_rows = atomic_load(&dead->connects_ok) +
		  atomic_load(&live->connects_ok);
	failed_rows = atomic_load(&dead->connects_failed) +
		      atomic_load(&live->connects_failed);
	/* A connect that returned 0 was counted once, before it returned;
	 * no connect was counted twice, killed or not. */
	cr_assert_geq(ok_rows, ok, "table %llu ok, clients %llu",
		      (unsigned long long)ok_rows, (unsigned long long)ok);
	cr_assert_leq(ok_rows, started);
	cr_assert_leq(failed_rows, started, "the dead endpoint is tried at "
		      "most once per connect");
	cr_assert_gt(atomic_load(&dead->connects_failed), 0);
	/* Each ejection took 3 failures in a row, all of them counted. */
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, dead, NULL, 0, &st), 0);
	cr_assert_gt(st.ejections, 0);
	cr_assert_leq((uint64_t)st.ejections * 3,
		      atomic_load(&dead->connects_failed));
	swerve_shm_detach(&t);
	swerve_shm_unlink(shm);
	f_stop(srv);
}
