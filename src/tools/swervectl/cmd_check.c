/*
 * cmd_check.c: `swervectl check`, the validation of a config file with
 * every problem at its file:line, and of what the library does with a
 * valid file before it routes anything (the names cache and its resolver,
 * the rows of the shared table, the certificate and key files a TLS
 * service reads at first use), so that a file check accepts never turns
 * swerve off in a process. Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "names/dnscache.h"
#include "policy/config.h"
#include "table/shm.h"
#include "tools/swervectl/cli.h"

/* Counts what `check` reported, so it can tell errors from notes. */
struct check_ctx {
	unsigned errors;
	unsigned notes;
};

/*
 * Errors are printed as config.c words them; notes get "note: " after
 * their place ("file:line: note: ...") so they read apart from errors.
 */
static void report_problem(void *ctx, const struct swerve_config_problem *p)
{
	struct check_ctx *c = ctx;

	if (p->is_error) {
		c->errors++;
		fprintf(stderr, "%s\n", p->text);
		return;
	}
	c->notes++;
	if (p->env != NULL)
		fprintf(stderr, "%s: note: %s\n", p->env, p->msg);
	else if (p->line > 0)
		fprintf(stderr, "%s:%d: note: %s\n", p->file, p->line, p->msg);
	else
		fprintf(stderr, "%s: note: %s\n", p->file, p->msg);
}

/*
 * What the library builds at init from a valid config, built here the same
 * way: the names cache (endpoints given as names, expanded, and the c-ares
 * resolver with dns_servers) on a private table. Its error is the one line
 * a host process would print before turning swerve off. Returns 0 or -1.
 */
static int check_runtime(const struct swerve_config *cfg)
{
	struct swerve_shm tab;
	struct swerve_dnscache *dc = NULL;
	char err[512] = "";
	int rc;

	memset(&tab, 0, sizeof(tab));
	if (swerve_shm_private(&tab) != 0) {
		print_error("out of memory");
		return -1;
	}
	rc = swerve_dnscache_new(cfg, &tab, &dc, err, sizeof(err));
	swerve_dnscache_free(dc);
	swerve_shm_detach(&tab);
	if (rc == 0)
		return 0;
	fprintf(stderr, "%s: %s; the library would turn swerve off\n",
		cfg->path, err[0] != '\0' ? err : strerror(-rc));
	return -1;
}

/*
 * The rows this config takes in the shared table: one per service, per
 * endpoint, and per name its status row plus one per address it may
 * resolve to. Past SWERVE_SHM_ROWS, endpoints get no shared health row.
 */
static void note_rows(const struct swerve_config *cfg, unsigned *notes)
{
	unsigned long long rows = 0;
	unsigned s, i;

	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *svc = &cfg->services[s];

		rows++;
		for (i = 0; i < svc->nendpoints; i++)
			rows += svc->endpoints[i].name[0] != '\0' ?
					1 + SWERVE_DNS_MAX_ADDRS : 1;
	}
	if (rows <= SWERVE_SHM_ROWS)
		return;
	(*notes)++;
	fprintf(stderr, "%s: note: the config takes up to %llu rows of the "
		"shared table, which has %u: endpoints past them have no "
		"outlier detection\n", cfg->path, rows, SWERVE_SHM_ROWS);
}

/* How much of a PEM file is searched for its first "-----BEGIN". */
#define PEM_PROBE_BYTES 65536

/*
 * Why the PEM file at <path> cannot be used, or NULL: it must be a regular
 * file this user can read, with a "-----BEGIN" line near its start (text
 * before it is allowed, as `openssl x509 -text` writes). <buf> (<len>
 * bytes) holds the reason when it is an errno's.
 */
static const char *pem_problem(const char *path, char *buf, size_t len)
{
	static char data[PEM_PROBE_BYTES + 1];
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd;

	/* O_NONBLOCK: a FIFO without a writer must not hang the check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		snprintf(buf, len, "%s", strerror(errno));
		return buf;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return "not a regular file";
	}
	while (n < PEM_PROBE_BYTES &&
	       (got = read(fd, data + n, PEM_PROBE_BYTES - n)) > 0)
		n += (size_t)got;
	close(fd);
	data[n] = '\0';
	if (memmem(data, n, "-----BEGIN", 10) == NULL)
		return "not a PEM file (no -----BEGIN line)";
	return NULL;
}

/*
 * The files of each TLS service, which the library reads only at first
 * use: each one that cannot be used is an error at its key's line. And a
 * loud warning, which does not fail the check, for every service that
 * skips certificate verification.
 */
static void check_tls(const struct swerve_config *cfg, unsigned *errors)
{
	char why[256];
	const char *problem;
	unsigned s, f;

	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_tls_cfg *tls = &cfg->services[s].tls;
		const struct {
			const char *key, *path;
			int line;
		} files[] = {
			{ "tls_ca_certificates", tls->ca, tls->ca_line },
			{ "tls_client_certificate", tls->cert, tls->cert_line },
			{ "tls_private_key", tls->key, tls->key_line },
		};

		if (tls->mode == SWERVE_TLS_DISABLE)
			continue;
		for (f = 0; f < SWERVE_ARRAY_LEN(files); f++) {
			if (files[f].path[0] == '\0')
				continue;
			problem = pem_problem(files[f].path, why, sizeof(why));
			if (problem == NULL)
				continue;
			(*errors)++;
			fprintf(stderr, "%s:%d: %s %s: %s\n", cfg->path,
				files[f].line, files[f].key, files[f].path,
				problem);
		}
		if (tls->skip_verify)
			fprintf(stderr, "%s:%d: WARNING: service %s does NOT "
				"verify its endpoints' certificates "
				"(tls_insecure_skip_verify = true): anyone "
				"who can answer for an endpoint gets its "
				"traffic\n", cfg->path, tls->skip_verify_line,
				cfg->services[s].name);
	}
}

int cmd_check(const struct cli_args *a)
{
	struct check_ctx ctx = { 0, 0 };
	struct swerve_config *cfg = NULL;
	const char *path;
	char err[512] = "";
	unsigned i, neps = 0;
	int rc;

	if (a->npos > 1)
		return fail_usage("check takes one config file");
	if (a->json || a->for_arg != NULL)
		return fail_usage("check takes no --json or --for");
	path = a->npos == 1 ? a->pos[0] : resolve_config_path(a);
	/* No environment: check the file itself, not this shell's overrides. */
	rc = swerve_config_load(path, false, &cfg, report_problem, &ctx, err,
				sizeof(err));
	if (rc != 0 || ctx.errors > 0) {
		/* An unreadable file may be reported through <err> only. */
		if (ctx.errors == 0) {
			if (err[0] != '\0')
				fprintf(stderr, "%s\n", err);
			else
				print_error("%s: %s", path,
					    strerror(rc != 0 ? -rc : EINVAL));
		}
		swerve_config_free(cfg);
		return CLI_EXIT_FAIL;
	}
	note_rows(cfg, &ctx.notes);
	check_tls(cfg, &ctx.errors);
	if (ctx.errors > 0 || check_runtime(cfg) != 0) {
		swerve_config_free(cfg);
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < cfg->nservices; i++)
		neps += cfg->services[i].nendpoints;
	printf("%s: ok (%u service%s, %u endpoint%s)\n", path,
	       cfg->nservices, cfg->nservices == 1 ? "" : "s",
	       neps, neps == 1 ? "" : "s");
	swerve_config_free(cfg);
	return CLI_EXIT_OK;
}
