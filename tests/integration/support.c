/*
 * support.c: spawning real servers and clients for the integration tests.
 * Everything goes to loopback addresses the tests choose themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "table/sessions.h"
#include "table/shm.h"

extern char **environ;

static char dir[256];
static char shm_names[16][64];
static int nshm;

const char *t_build(void)
{
	const char *b = getenv("SWERVE_BUILD");

	return b != NULL && b[0] != '\0' ? b : "build";
}

static pid_t owner;

static void cleanup_at_exit(void)
{
	if (getpid() == owner)
		t_cleanup();
}

/*
 * Has t_cleanup() run when this test process exits, so that a test that
 * fails an assertion (Criterion then exits the test's process) leaves
 * neither its directory nor its tables behind. Only in the process that
 * made them: a forked child that exits must not remove its parent's.
 */
static void cleanup_arm(void)
{
	if (owner != 0)
		return;
	owner = getpid();
	atexit(cleanup_at_exit);
}

const char *t_dir(void)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/swerve-it-XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		cleanup_arm();
	}
	return dir;
}

/* Removes the TLS session store of the table <table>. */
static void unlink_sessions(const char *table)
{
	char name[128];

	if (swerve_sessions_name(table, name, sizeof(name)) == 0)
		swerve_sessions_unlink(name);
}

const char *t_shm(void)
{
	static char name[64];

	cleanup_arm();
	snprintf(name, sizeof(name), "/swerve-it-%d-%d", (int)getpid(), nshm);
	if (nshm < 16)
		snprintf(shm_names[nshm++], sizeof(shm_names[0]), "%s", name);
	swerve_shm_unlink(name);
	unlink_sessions(name);
	return name;
}

char *t_write(const char *name, const char *text)
{
	static char paths[4][512];
	static int slot;
	char *p = paths[slot++ % 4];
	FILE *f;

	snprintf(p, 512, "%s/%s", t_dir(), name);
	f = fopen(p, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
	return p;
}

const char *t_read(const char *path)
{
	static char text[1 << 18];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	return text;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs helper <argv>[0] from the build's tests/ directory and waits until it
 * prints "ready"; -1 when it does not within 30 s (then it is killed): a
 * helper under TSan on a busy machine may take seconds, and one that
 * exits says so at once.
 */
static pid_t start_helper(char *const *argv)
{
	char bin[512], line[64];
	posix_spawn_file_actions_t fa;
	int pfd[2];
	pid_t pid;
	ssize_t n;
	struct pollfd p;

	snprintf(bin, sizeof(bin), "%s/tests/%s", t_build(), argv[0]);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	n = 0;
	if (poll(&p, 1, 30000) == 1)
		n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	if (n <= 0 || strncmp(line, "ready", 5) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

pid_t t_start(char *const *argv)
{
	return start_helper(argv);
}

pid_t t_server(const char *addr, int port, const char *body, const char *mode)
{
	char portbuf[16];
	char *argv[] = { (char *)"httpd", (char *)addr, portbuf, (char *)body,
			 (char *)mode, NULL };

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	return start_helper(argv);
}

pid_t t_httpscript(const char *addr, int port, const char *log,
		   const char *script)
{
	char portbuf[16];
	char *argv[] = { (char *)"httpscript", (char *)addr, portbuf,
			 (char *)log, (char *)script, NULL };

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	return start_helper(argv);
}

pid_t t_tlsserve(const char *listen, const char *cert, const char *key,
		 const char *log, const char *const *opts)
{
	char *argv[20];
	int i = 0, k;

	argv[i++] = (char *)"tlsserve";
	argv[i++] = (char *)"--listen";
	argv[i++] = (char *)listen;
	argv[i++] = (char *)"--cert";
	argv[i++] = (char *)cert;
	argv[i++] = (char *)"--key";
	argv[i++] = (char *)key;
	argv[i++] = (char *)"--log";
	argv[i++] = (char *)log;
	for (k = 0; opts != NULL && opts[k] != NULL && k < 8; k++)
		argv[i++] = (char *)opts[k];
	argv[i] = NULL;
	return start_helper(argv);
}

pid_t t_dnsd(int port, const char *zone, const char *flag)
{
	char portbuf[16];
	char *argv[7];
	int i = 0;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	argv[i++] = (char *)"dnsd";
	if (flag != NULL)
		argv[i++] = (char *)flag;
	argv[i++] = (char *)"127.0.0.1";
	argv[i++] = portbuf;
	argv[i++] = (char *)zone;
	argv[i] = NULL;
	return start_helper(argv);
}

void t_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

bool t_sanitized(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && extra[0] != '\0';
}

bool t_have(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[512], *copy, *tok, *save = NULL;
	bool found = false;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	for (tok = strtok_r(copy, ":", &save); tok != NULL && !found;
	     tok = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", tok, prog);
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Reads what is available from <fd> into <buf>; false at EOF. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n;

	if (*len + 1 >= cap) {
		char sink[4096];

		return read(fd, sink, sizeof(sink)) > 0;
	}
	n = read(fd, buf + *len, cap - 1 - *len);
	if (n <= 0)
		return false;
	*len += (size_t)n;
	buf[*len] = '\0';
	return true;
}

/*
 * The client's environment: the runner's own less LD_PRELOAD and SWERVE_*
 * (they stay out of the client), the library when <preload>, then <env>.
 * <preload_var> holds the LD_PRELOAD string. Free the array only.
 */
static char **client_env(bool preload, const char *const *env,
			 char *preload_var, size_t varlen)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");
	size_t n = 0, i;
	char **envp;

	while (environ[n] != NULL)
		n++;
	for (i = 0; env != NULL && env[i] != NULL; i++)
		;
	envp = calloc(n + i + 2, sizeof(char *));
	n = 0;
	for (i = 0; environ[i] != NULL; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0 ||
		    strncmp(environ[i], "SWERVE_", 7) == 0)
			continue;
		envp[n++] = environ[i];
	}
	if (preload) {
		snprintf(preload_var, varlen,
			 "LD_PRELOAD=%s%s%s/libswerve.so",
			 extra != NULL ? extra : "",
			 extra != NULL && extra[0] != '\0' ? " " : "",
			 t_build());
		envp[n++] = preload_var;
	}
	for (i = 0; env != NULL && env[i] != NULL; i++)
		envp[n++] = (char *)env[i];
	envp[n] = NULL;
	return envp;
}

/* Reads the child's stdout <ofd> and stderr <efd> into <r> until both
 * close or <deadline> passes (then the child is killed). */
static void collect(struct run *r, pid_t pid, int ofd, int efd,
		    double deadline)
{
	bool oopen = true, eopen = true;
	size_t olen = 0, elen = 0;

	while (oopen || eopen) {
		struct pollfd p[2] = { { .fd = oopen ? ofd : -1,
					 .events = POLLIN },
				       { .fd = eopen ? efd : -1,
					 .events = POLLIN } };
		int left = (int)((deadline - now_s()) * 1000);

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(p, 2, left) <= 0)
			continue;
		if (p[0].revents)
			oopen = drain(ofd, r->out, sizeof(r->out), &olen);
		if (p[1].revents)
			eopen = drain(efd, r->err, sizeof(r->err), &elen);
	}
}

pid_t t_spawn(bool preload, const char *const *env, const char *out_path,
	      const char *const *argv)
{
	char preload_var[2048];
	posix_spawn_file_actions_t fa;
	char **envp;
	pid_t pid;
	int rc;

	envp = client_env(preload, env, preload_var, sizeof(preload_var));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	return rc == 0 ? pid : -1;
}

int t_reap(pid_t pid, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(2000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void t_run(struct run *r, bool preload, const char *const *env,
	   double timeout_s, const char *const *argv)
{
	char preload_var[2048];
	char **envp;
	posix_spawn_file_actions_t fa;
	int op[2], ep[2], st;
	double start;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	envp = client_env(preload, env, preload_var, sizeof(preload_var));
	if (pipe2(op, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1)
		abort();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	start = now_s();
	if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			 envp) != 0) {
		r->status = 127;
		posix_spawn_file_actions_destroy(&fa);
		free(envp);
		close(op[0]); close(op[1]); close(ep[0]); close(ep[1]);
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(op[1]);
	close(ep[1]);
	collect(r, pid, op[0], ep[0], start + timeout_s);
	close(op[0]);
	close(ep[0]);
	waitpid(pid, &st, 0);
	r->seconds = now_s() - start;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void t_helper(struct run *r, const char *config, const char *shm,
	      const char *const *env, const char *name,
	      const char *const *args)
{
	char cv[600], sv[128], bin[512];
	const char *envp[8] = { cv, sv };
	const char *argv[16];
	int i = 0, k = 2;

	snprintf(bin, sizeof(bin), "%s/tests/%s", t_build(), name);
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	while (env != NULL && *env != NULL && k < 7)
		envp[k++] = *env++;
	envp[k] = NULL;
	argv[i++] = bin;
	while (*args != NULL && i < 15)
		argv[i++] = *args++;
	argv[i] = NULL;
	t_run(r, true, envp, 30, argv);
}

/* The JSON object of <endpoint> in swervectl's output, or NULL. */
static const char *find_object(const char *json, const char *endpoint,
			       char *obj, size_t cap)
{
	char needle[128];
	const char *p, *start, *end;

	snprintf(needle, sizeof(needle), "\"endpoint\": \"%s\"", endpoint);
	p = strstr(json, needle);
	if (p == NULL) {
		snprintf(needle, sizeof(needle), "\"endpoint\":\"%s\"",
			 endpoint);
		p = strstr(json, needle);
	}
	if (p == NULL)
		return NULL;
	for (start = p; start > json && *start != '{'; start--)
		;
	end = strchr(p, '}');
	if (end == NULL || (size_t)(end - start) >= cap)
		return NULL;
	memcpy(obj, start, (size_t)(end - start));
	obj[end - start] = '\0';
	return obj;
}

static const char *endpoints_json(const char *config, const char *shm,
				  struct run *r)
{
	char bin[512], shmvar[128];
	const char *env[] = { shmvar, NULL };
	const char *argv[] = { bin, "-c", config, "endpoints", "--json",
			       NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(shmvar, sizeof(shmvar), "SWERVE_SHM=%s", shm);
	t_run(r, false, env, 10, argv);
	return r->out;
}

long long t_endpoint_field(const char *config, const char *shm,
			   const char *endpoint, const char *key)
{
	static struct run r;
	char obj[2048], needle[64];
	const char *p;

	if (find_object(endpoints_json(config, shm, &r), endpoint, obj,
			sizeof(obj)) == NULL)
		return -1;
	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(obj, needle);
	if (p == NULL)
		return -1;
	p += strlen(needle);
	while (*p == ' ')
		p++;
	return strtoll(p, NULL, 10);
}

bool t_endpoint_ejected(const char *config, const char *shm,
			const char *endpoint)
{
	static struct run r;
	char obj[2048];

	if (find_object(endpoints_json(config, shm, &r), endpoint, obj,
			sizeof(obj)) == NULL)
		return false;
	return strstr(obj, "\"ejected\"") != NULL;
}

void t_cleanup(void)
{
	char cmd[300];
	int i;

	/* The name and the segment it names (segment.c), and the TLS
	 * session store beside it (sessions.c). */
	for (i = 0; i < nshm; i++) {
		swerve_shm_unlink(shm_names[i]);
		unlink_sessions(shm_names[i]);
	}
	nshm = 0;
	if (dir[0] != '\0' && strncmp(dir, "/tmp/swerve-it-", 15) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	dir[0] = '\0';
}
