/*
 * Fault cases of where the shared table lives, with real clients under
 * the library, each in a mount namespace with a small /dev/shm of its
 * own: a full /dev/shm must cost no program its life (health then stays
 * in each process, with one line), a table made before /dev/shm filled up
 * stays shared, and the default table is per user, so that one user's
 * table never leaves another user's processes on their own.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../integration/support.h"
#include "table/shm.h"
#include "table_faults.h"

/* curl, the client the issue saw die of SIGBUS, when it can run here. */
static void curl_once(const char *config, const char *shm, struct run *r)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { "curl", "-sS", "--max-time", "20",
			       "http://" F_HOST "/", NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, true, env, 30, argv);
}

Test(table_faults, a_full_dev_shm_kills_nobody_and_health_stays_in_process,
     .fini = f_cleanup, .timeout = 120)
{
	const char *shm, *config, *out;
	struct run r;
	pid_t srv, c;
	int i, rc;

	f_private_dev_shm(64);
	f_fill_dev_shm();
	shm = t_shm();
	srv = t_server("127.10.205.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	config = f_config("127.10.205", 1, NULL);
	for (i = 0; i < 3; i++) {
		c = f_client(config, shm, 10, NULL, 0, "full");
		rc = f_reap(c, 30);
		cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("full"));
		out = f_output("full");
		cr_assert_eq(f_count(out, "swerve: "), 1, "%s", out);
		cr_assert_eq(f_count(out, "cannot reserve a page"), 1, "%s",
			     out);
		cr_assert_eq(f_count(out, "not shared"), 1, "%s", out);
	}
	if (t_have("curl") && !t_sanitized()) {
		curl_once(config, shm, &r);
		cr_assert_eq(r.status, 0, "curl: %d %s", r.status, r.err);
		cr_assert_not_null(strstr(r.out, "live"), "%s", r.out);
	}
	f_stop(srv);
}

Test(table_faults, a_table_made_before_dev_shm_filled_up_stays_shared,
     .fini = f_cleanup, .timeout = 120)
{
	const char *shm, *config;
	struct swerve_shm t;
	struct swerve_shm_row *live;
	pid_t srv, c;
	int i, rc;

	f_private_dev_shm(64);
	shm = t_shm();
	srv = t_server("127.10.206.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	config = f_config("127.10.206", 1000, NULL);
	c = f_client(config, shm, 5, NULL, 0, "first");
	rc = f_reap(c, 30);
	cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("first"));
	f_fill_dev_shm();
	for (i = 0; i < 3; i++) {
		c = f_client(config, shm, 5, NULL, 0, "later");
		rc = f_reap(c, 30);
		cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("later"));
		cr_assert_eq(f_count(f_output("later"), "swerve: "), 0, "%s",
			     f_output("later"));
	}
	f_attach(shm, &t);
	live = swerve_shm_row(&t, f_key("127.10.206", 3), false);
	cr_assert_not_null(live);
	cr_assert_eq(atomic_load(&live->connects_ok), 20,
		     "every client's successes in one shared row");
	swerve_shm_detach(&t);
	swerve_shm_unlink(shm);
	f_stop(srv);
}

/* Runs faultloop (or swervectl, <ctl>) as uid and gid 65534 under the
 * library, with <config> and no table name of its own. */
static int as_nobody(const char *config, const char *ctl, const char *tag)
{
	char bin[512], cv[600], out[512];
	const char *env[] = { cv, NULL };
	const char *loop[] = { "setpriv", "--reuid=65534", "--regid=65534",
			       "--clear-groups", bin, F_HOST, "80", "5", NULL };
	const char *reset[] = { "setpriv", "--reuid=65534", "--regid=65534",
				"--clear-groups", bin, "-c", config, "reset",
				NULL };
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/%s", t_build(),
		 ctl != NULL ? "swervectl" : "tests/faultloop");
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(out, sizeof(out), "%s/%s.out", t_dir(), tag);
	pid = t_spawn(ctl == NULL, env, out, ctl != NULL ? reset : loop);
	cr_assert_gt(pid, 0);
	return f_reap(pid, 30);
}

Test(table_faults, the_default_table_is_per_user, .fini = f_cleanup,
     .timeout = 120)
{
	const char *config, *out;
	char name[64], path[128];
	struct stat sb;
	pid_t srv, c;
	int rc;

	if (!t_have("setpriv"))
		cr_skip_test("setpriv (util-linux) is needed to switch users");
	f_private_dev_shm(4096);
	srv = t_server("127.10.207.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	/* No shm in the config, no SWERVE_SHM: the default name. */
	config = f_config("127.10.207", 1000, NULL);
	cr_assert_eq(chmod(t_dir(), 0755), 0);
	c = f_client(config, NULL, 5, NULL, 0, "root");
	rc = f_reap(c, 30);
	cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("root"));
	cr_assert_eq(f_count(f_output("root"), "swerve: "), 0, "%s",
		     f_output("root"));
	/* Another user, after root made its table: a table of its own, and
	 * not a word on its stderr. */
	cr_assert_eq(as_nobody(config, NULL, "nobody"), 0, "%s",
		     f_output("nobody"));
	out = f_output("nobody");
	cr_assert_eq(f_count(out, "swerve: "), 0, "%s", out);
	snprintf(name, sizeof(name), "/swerve.%u", (unsigned)geteuid());
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	cr_assert_eq(sb.st_uid, geteuid());
	cr_assert_eq(stat("/dev/shm/swerve.65534", &sb), 0);
	cr_assert_eq(sb.st_uid, 65534);
	cr_assert_eq(as_nobody(config, "swervectl", "reset"), 0, "%s",
		     f_output("reset"));
	swerve_shm_unlink(name);
	f_stop(srv);
}
