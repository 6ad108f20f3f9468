/*
 * The test support's own promise: what a test makes (its directory under
 * /tmp, its tables in /dev/shm) is gone when the test's process exits,
 * whether the test ended with t_cleanup() or with a failed assertion, and a
 * forked child that exits never removes what its parent made.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"
#include "table/shm.h"

/*
 * In a child of the test: makes a directory with a file and a table, has
 * a child of its own exit, and exits as a failed assertion does, without
 * t_cleanup(). Writes "<dir> <shm> <kept>" to <fd>, where <kept> is 1 when
 * the directory outlived the grandchild's exit.
 */
static void make_and_exit(int fd)
{
	struct swerve_shm tab;
	const char *d = t_dir(), *name = t_shm();
	struct stat st;
	pid_t g;

	t_write("swerve.ini", "[swerve]\n");
	if (swerve_shm_attach(name, true, &tab, NULL, 0) != 0)
		_exit(3);
	swerve_shm_detach(&tab);
	g = fork();
	if (g == 0)
		exit(0);
	waitpid(g, NULL, 0);
	dprintf(fd, "%s %s %d\n", d, name, stat(d, &st) == 0);
	exit(1);
}

Test(support, an_exiting_test_leaves_no_directory_and_no_table_behind)
{
	char line[400], d[300], name[100];
	struct swerve_shm tab;
	struct stat st;
	int pfd[2], kept = 0, status;
	ssize_t n;
	pid_t c;

	cr_assert_eq(pipe(pfd), 0);
	c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		close(pfd[0]);
		make_and_exit(pfd[1]);
	}
	close(pfd[1]);
	n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	cr_assert_eq(waitpid(c, &status, 0), c);
	cr_assert(n > 0, "the child made nothing (status %d)", status);
	line[n] = '\0';
	cr_assert_eq(sscanf(line, "%299s %99s %d", d, name, &kept), 3, "%s",
		     line);
	cr_assert_eq(kept, 1, "a forked child's exit removed %s", d);
	cr_assert_neq(stat(d, &st), 0, "%s is still there", d);
	cr_assert_eq(swerve_shm_attach(name, false, &tab, NULL, 0), -ENOENT,
		     "table %s is still there", name);
}
