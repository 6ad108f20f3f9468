/*
 * What the unit tests that run the built swervectl share
 * (test_swervectl_*.c): a private directory with the test's config, a
 * table name of its own (test_shm_support.c), a runner that captures a
 * program's stdout, and the http service web written into the table
 * through the table's own API, as the library writes it. Criterion runs
 * each test in its own process, so the statics need no lock.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/swerve.h"
#include "policy/config.h"
#include "table/shm.h"
#include "test_shm_support.h"
#include "test_swervectl_support.h"

#define OUT_MAX 65536

char ctl_dir[64];
char ctl_config[256];
const char *ctl_shm;

void ctl_bed_open(const char *text)
{
	FILE *f;

	snprintf(ctl_dir, sizeof(ctl_dir), "/tmp/swerve-ctl-XXXXXX");
	cr_assert_not_null(mkdtemp(ctl_dir));
	snprintf(ctl_config, sizeof(ctl_config), "%s/swerve.ini", ctl_dir);
	f = fopen(ctl_config, "w");
	cr_assert_not_null(f);
	cr_assert(fputs(text, f) >= 0);
	cr_assert_eq(fclose(f), 0);
	ctl_shm = new_name();
}

void ctl_bed_close(void)
{
	unlink(ctl_config);
	rmdir(ctl_dir);
	unlink_names();
}

const char *ctl_spawn(char *const *argv, int *status)
{
	static char out[OUT_MAX];
	char shmvar[128], path[300];
	char *envp[] = { shmvar, (char *)"PATH=/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	ssize_t n;
	pid_t pid;
	int fd, st;

	snprintf(shmvar, sizeof(shmvar), "SWERVE_SHM=%s", ctl_shm);
	snprintf(path, sizeof(path), "%s/out", ctl_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp), 0,
		     "%s", argv[0]);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	n = pread(fd, out, sizeof(out) - 1, 0);
	cr_assert_geq(n, 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
	return out;
}

const char *ctl_run(const char *const *args)
{
	const char *build = getenv("SWERVE_BUILD");
	char bin[512];
	char *argv[8] = { bin, (char *)"-c", ctl_config };
	const char *out;
	int i, st;

	cr_assert_not_null(build, "run through make: SWERVE_BUILD names the "
			   "build directory");
	snprintf(bin, sizeof(bin), "%s/swervectl", build);
	for (i = 0; i < 4 && args[i] != NULL; i++)
		argv[3 + i] = (char *)args[i];
	argv[3 + i] = NULL;
	out = ctl_spawn(argv, &st);
	cr_assert_eq(st, 0, "swervectl %s exited %d", args[0], st);
	return out;
}

void ctl_fill_web(void)
{
	struct swerve_shm_row *rows[2];
	const struct swerve_outlier_cfg *c;
	struct swerve_config *cfg = NULL;
	static const int codes[] = { 200, 200, 404, 200, 503 };
	uint64_t now = swerve_now_ms();
	struct swerve_shm t;
	char err[256];
	size_t i;

	cr_assert_eq(swerve_config_load(ctl_config, false, &cfg, NULL, NULL,
					err, sizeof(err)), 0, "%s", err);
	c = &cfg->services[0].outlier;
	cr_assert_eq(swerve_shm_attach(ctl_shm, true, &t, err, sizeof(err)),
		     0, "%s", err);
	rows[0] = swerve_shm_row(&t, swerve_shm_endpoint_key(
					 "web", "127.0.0.2:18080"), true);
	rows[1] = swerve_shm_row(&t, swerve_shm_endpoint_key(
					 "web", "127.0.0.3:18080"), true);
	swerve_shm_report(&t, NULL, rows, 2, 0, c,
			  SWERVE_OUTCOME_HTTP_CONNECT_OK, 0, now);
	for (i = 0; i < SWERVE_ARRAY_LEN(codes); i++)
		swerve_shm_report(&t, NULL, rows, 2, 0, c,
				  SWERVE_OUTCOME_HTTP_STATUS, codes[i], now);
	cr_assert_eq(swerve_shm_report(&t, NULL, rows, 2, 0, c,
				       SWERVE_OUTCOME_HTTP_TIMEOUT, 0, now),
		     SWERVE_OUTLIER_EJECT);
	swerve_shm_report(&t, NULL, rows, 2, 1, c, SWERVE_OUTCOME_HTTP_RESET,
			  0, now);
	swerve_shm_detach(&t);
	swerve_config_free(cfg);
}
