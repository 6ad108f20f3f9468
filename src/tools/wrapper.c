/*
 * wrapper.c: the `swerve` command. `swerve [-c CONFIG] [--] COMMAND [ARGS]`
 * puts libswerve.so in front of LD_PRELOAD (keeping what was there), sets
 * SWERVE_CONFIG, and execs COMMAND, like env(1) would. Before that it looks
 * at the program: a static binary, a Go binary (raw syscalls) or a setuid
 * one will not be steered, and saying so here saves an afternoon.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/exe.h"
#include "policy/config.h"
#include "swerve_version.h" /* generated in the build directory */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: swerve [-c CONFIG] [--] COMMAND [ARGS...]\n"
		"Runs COMMAND with libswerve.so preloaded, so that the names in\n"
		"CONFIG (default: $SWERVE_CONFIG, else "
		SWERVE_DEFAULT_CONFIG ")\n"
		"fail over between their endpoints.\n"
		"  -c CONFIG   the config file to use (sets SWERVE_CONFIG)\n"
		"  -h, --help  this text\n"
		"  --version   the version and the commit it was built from\n"
		"Environment: SWERVE_LIBRARY overrides where libswerve.so is "
		"found.\n");
}

/* Where the library is: $SWERVE_LIBRARY, next to this binary (the build
 * tree), or ../lib/swerve/ from it (make install). */
static int find_library(char *out, size_t len)
{
	static const char *const rel[] = { "/libswerve.so",
					   "/../lib/swerve/libswerve.so",
					   "/../lib/libswerve.so" };
	const char *env = getenv("SWERVE_LIBRARY");
	char self[PATH_MAX], cand[PATH_MAX + 64], *slash;
	ssize_t n;
	size_t i;

	if (env != NULL && env[0] != '\0') {
		if (realpath(env, out) == NULL || strlen(out) >= len)
			return -1;
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
			return 0;
	}
	return -1;
}

/* The file execvp would run for <cmd>, or NULL. */
static const char *find_command(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(cmd, '/') != NULL)
		return cmd;
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		snprintf(buf, len, "%.*s/%s", (int)(end - p), p, cmd);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/*
 * Warns about programs the library cannot steer: statically linked (the
 * loader never reads LD_PRELOAD), Go (resolves and connects with raw system
 * calls), setuid/setgid (the loader ignores preload paths with a '/' in
 * secure-execution mode).
 */
static void check_program(const char *file)
{
	struct swerve_exe_info info;
	struct stat st;

	if (stat(file, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
		fprintf(stderr,
			"swerve: %s is setuid/setgid: the loader ignores "
			"LD_PRELOAD for it unless the library is in a trusted "
			"directory and setuid itself\n", file);
	if (swerve_exe_inspect(file, &info) != 0)
		return;
	if (info.is_static)
		fprintf(stderr, "swerve: %s is statically linked: LD_PRELOAD "
			"has no effect on it, swerve cannot steer it\n", file);
	else if (info.is_go)
		fprintf(stderr, "swerve: %s is a Go program: it connects with "
			"raw system calls, swerve stays out of its way\n",
			file);
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX], conf[PATH_MAX], cmdbuf[PATH_MAX];
	const char *config = NULL, *old, *cmdfile;
	char *preload;
	size_t len;
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("swerve %s (commit %s)\n", SWERVE_VERSION,
			       SWERVE_COMMIT);
			return fflush(stdout) == 0 ? 0 : 1;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
			i++;
		} else {
			fprintf(stderr, "swerve: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (find_library(lib, sizeof(lib)) != 0) {
		fprintf(stderr, "swerve: cannot find libswerve.so (set "
			"SWERVE_LIBRARY)\n");
		return 1;
	}
	if (config != NULL) {
		/* Absolute, so that a command that changes directory still
		 * finds it. */
		if (realpath(config, conf) == NULL) {
			fprintf(stderr, "swerve: %s: %s\n", config,
				strerror(errno));
			return 1;
		}
		setenv("SWERVE_CONFIG", conf, 1);
	}
	old = getenv("LD_PRELOAD");
	len = strlen(lib) + (old ? strlen(old) : 0) + 2;
	preload = malloc(len);
	if (preload == NULL)
		return 1;
	if (old != NULL && old[0] != '\0' && strstr(old, lib) == NULL)
		snprintf(preload, len, "%s:%s", lib, old);
	else if (old != NULL && old[0] != '\0')
		snprintf(preload, len, "%s", old);
	else
		snprintf(preload, len, "%s", lib);
	setenv("LD_PRELOAD", preload, 1);
	free(preload);

	cmdfile = find_command(argv[i], cmdbuf, sizeof(cmdbuf));
	if (cmdfile != NULL)
		check_program(cmdfile);
	execvp(argv[i], &argv[i]);
	fprintf(stderr, "swerve: %s: %s\n", argv[i], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
