/*
 * support: what the integration tests share: real loopback servers (the
 * httpd helper), real clients spawned with the library preloaded (never the
 * Criterion runner itself), config files in a private directory, and
 * swervectl's view of the shared table. Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_SUPPORT_H
#define SWERVE_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Output of one spawned program. */
struct run {
	int status;      /* exit code, or 128 + signal */
	double seconds;  /* wall clock */
	char out[1 << 19]; /* gai_dump prints ~200 KiB */
	char err[16384];
};

/* The build directory (absolute) from SWERVE_BUILD, else "build". */
const char *t_build(void);

/* A fresh private directory for this test, removed by t_cleanup(), which
 * also runs when the test's process exits (a failed assertion too). */
const char *t_dir(void);

/* A shm name unique to this process and call: "/swerve-it-<pid>-<n>". */
const char *t_shm(void);

/* Writes <text> to <dir>/<name>; returns the path (static storage per
 * call slot: copy it if you need two). */
char *t_write(const char *name, const char *text);

/* The text of the file <path> (empty when absent, cut at 256 KiB), in
 * static storage until the next call. */
const char *t_read(const char *path);

/* Starts helper argv[0] of the build (build/tests/<argv[0]>) with argv
 * and waits for the "ready" line it prints; its pid, or -1. */
pid_t t_start(char *const *argv);

/* Starts build/tests/httpd ADDR PORT BODY MODE and waits for "ready". */
pid_t t_server(const char *addr, int port, const char *body, const char *mode);

/* Starts build/tests/httpscript ADDR PORT LOG SCRIPT (a scripted HTTP/1.1
 * server, see tests/helpers/httpscript.c) and waits for "ready". */
pid_t t_httpscript(const char *addr, int port, const char *log,
		   const char *script);

/*
 * Starts build/tests/tlsserve --listen <listen> ("ADDR:PORT") --cert
 * <cert> --key <key> --log <log> and the NULL-ended options <opts> (may be
 * NULL, at most 8), and waits for "ready".
 */
pid_t t_tlsserve(const char *listen, const char *cert, const char *key,
		 const char *log, const char *const *opts);

/*
 * Starts build/tests/dnsd on 127.0.0.1:<port> serving <zone>, with <flag>
 * ("-n" silent, "-r" refusing, or NULL), and waits for "ready"; -1 if not.
 */
pid_t t_dnsd(int port, const char *zone, const char *flag);

/* SIGTERM and reap; accepts 0. */
void t_stop(pid_t pid);

/*
 * Runs argv[0] (searched in PATH) with extra environment <env> (NULL-ended
 * "K=V" list, may be NULL), killing it after <timeout_s>. With <preload>
 * the library goes into LD_PRELOAD (after the sanitizer runtime, if any).
 */
void t_run(struct run *r, bool preload, const char *const *env,
	   double timeout_s, const char *const *argv);

/*
 * Runs helper <name> of the build (build/tests/<name>) with <args>
 * (NULL-ended, at most 12) under the library, with SWERVE_CONFIG=<config>,
 * SWERVE_SHM=<shm> and the extra environment <env> (may be NULL, at most
 * 4 entries), killing it after 30 s.
 */
void t_helper(struct run *r, const char *config, const char *shm,
	      const char *const *env, const char *name,
	      const char *const *args);

/*
 * Starts argv[0] (searched in PATH) as t_run() would, without waiting:
 * stdin from /dev/null, stdout and stderr appended to <out_path>.
 * Returns its pid, or -1.
 */
pid_t t_spawn(bool preload, const char *const *env, const char *out_path,
	      const char *const *argv);

/*
 * Waits for <pid> at most <timeout_s>, then kills it. Returns its exit
 * code, 128 + signal, or -1 when it had to be killed.
 */
int t_reap(pid_t pid, double timeout_s);

/* True when something is preloaded before the library: a sanitizer
 * runtime (make asan, make tsan), under which some real clients (curl) do
 * not start, or make slowstart's delay. Clients then start slowly, and
 * tests give them longer windows. */
bool t_sanitized(void);

/* True when <prog> is on PATH. */
bool t_have(const char *prog);

/* Value of "key": in the JSON object of swervectl endpoints --json whose
 * "endpoint" is <endpoint>; -1 when absent. Numbers only. */
long long t_endpoint_field(const char *config, const char *shm,
			   const char *endpoint, const char *key);

/* True when that endpoint's "status" is "ejected". */
bool t_endpoint_ejected(const char *config, const char *shm,
			const char *endpoint);

/* Removes the private directory and the shm names made by this process. */
void t_cleanup(void);

#endif
