/*
 * Where swerve's stderr line may go, with real programs whose fd 2 is what
 * inetd, a dead reader or a program's own files make of it. A broken
 * config makes swerve say one line in every program that loads it, which
 * is the line these tests follow:
 *   - fd 2 a socket (inetd, systemd Accept=yes): nothing enters the
 *     client's stream, but the log_file gets the line;
 *   - fd 2 the journal's socket (JOURNAL_STREAM names it): written;
 *   - fd 2 a pipe whose reader is gone: no SIGPIPE kills the program;
 *   - fd 2 closed and reused by the program for a file of its own: the
 *     file is left alone.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

/* A config that fails to load, so every program says one line. */
static const char *broken_config(void)
{
	return t_write("broken.ini", "[swerve]\nlog = loud\n");
}

/*
 * Runs <argv> under the library with <config> and fd 2 = <errfd> (stdout
 * to /dev/null), <extra> one more "K=V" or NULL; returns the wait status.
 */
static int run_with_stderr(int errfd, const char *config, const char *extra,
			   const char *const *argv)
{
	char preload[1024], cv[600];
	const char *pre = getenv("SWERVE_PRELOAD_EXTRA");
	char *envp[256];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, n = 0, i;

	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s%s%s/libswerve.so",
		 pre != NULL ? pre : "", pre != NULL && pre[0] ? " " : "",
		 t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	/* The runner's environment (ASAN_OPTIONS...), less what the test
	 * sets itself. */
	for (i = 0; environ[i] != NULL && n < 250; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "SWERVE_", 7) != 0 &&
		    strncmp(environ[i], "JOURNAL_STREAM=", 15) != 0)
			envp[n++] = environ[i];
	envp[n++] = preload;
	envp[n++] = cv;
	if (extra != NULL)
		envp[n++] = (char *)extra;
	envp[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL,
				  (char *const *)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* What arrived on <fd> within a moment (non-blocking reads). */
static const char *drain(int fd)
{
	static char buf[4096];
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static const char *const getent[] = { "getent", "ahosts", "mydb.com", NULL };

Test(log, never_writes_into_a_socket_on_fd_2, .timeout = 30)
{
	const char *config = broken_config();
	char logvar[600], *logpath;
	int sv[2], st;

	logpath = strdup(t_write("swerve.log", ""));
	snprintf(logvar, sizeof(logvar), "SWERVE_LOG_FILE=%s", logpath);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	st = run_with_stderr(sv[1], config, logvar, getent);
	close(sv[1]);
	cr_assert(WIFEXITED(st), "status %d", st);
	cr_assert_str_eq(drain(sv[0]), "");
	close(sv[0]);
	/* The line is not lost for those who asked for a record. */
	cr_assert(strstr(t_read(logpath), "getent[") != NULL &&
		  strstr(t_read(logpath), "swerve: ") != NULL &&
		  strstr(t_read(logpath), "log must be error") != NULL,
		  "log file: %s", t_read(logpath));
	free(logpath);
	t_cleanup();
}

/* systemd's journal stream is a socket too, but named by JOURNAL_STREAM:
 * stderr there is meant for lines like this one. */
Test(log, writes_to_the_journal_stream_it_is_told_of, .timeout = 30)
{
	const char *config = broken_config();
	char js[96];
	struct stat s;
	int sv[2], st;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(fstat(sv[1], &s), 0);
	snprintf(js, sizeof(js), "JOURNAL_STREAM=%llu:%llu",
		 (unsigned long long)s.st_dev, (unsigned long long)s.st_ino);
	st = run_with_stderr(sv[1], config, js, getent);
	close(sv[1]);
	cr_assert(WIFEXITED(st), "status %d", st);
	cr_assert(strstr(drain(sv[0]), "swerve: ") != NULL);
	close(sv[0]);
	t_cleanup();
}

/* getent leaves SIGPIPE at its default: a write into a pipe nobody reads
 * any more would kill it. */
Test(log, a_closed_pipe_on_fd_2_kills_nobody, .timeout = 30)
{
	const char *config = broken_config();
	int p[2], st;

	cr_assert_eq(pipe(p), 0);
	close(p[0]);
	st = run_with_stderr(p[1], config, NULL, getent);
	close(p[1]);
	cr_assert(WIFEXITED(st), "getent died of signal %d",
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	/* getent's own answer: 2, the name is unknown without swerve. */
	cr_assert_eq(WEXITSTATUS(st), 2);
	t_cleanup();
}

/*
 * A daemon that closes its stderr and opens a data file gets fd 2 for it:
 * swerve's line would land in the middle of the program's data.
 */
Test(log, leaves_a_file_that_took_fd_2_alone, .timeout = 30)
{
	const char *config = broken_config();
	char *data = strdup(t_write("data", ""));
	const char *argv[] = {
		"python3", "-c",
		"import os, socket, sys\n"
		"os.close(2)\n"
		"fd = os.open(sys.argv[1], os.O_RDWR | os.O_TRUNC)\n"
		"assert fd == 2\n"
		"os.write(fd, b'data\\n')\n"
		"try:\n"
		"    socket.getaddrinfo('mydb.com', 80)\n"
		"except OSError:\n"
		"    pass\n",
		data, NULL
	};
	int null = open("/dev/null", O_WRONLY), st;

	st = run_with_stderr(null, config, NULL, argv);
	close(null);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert_str_eq(t_read(data), "data\n");
	free(data);
	t_cleanup();
}
