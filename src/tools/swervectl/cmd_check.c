/*
 * cmd_check.c: `swervectl check`, the validation of a config file with
 * every problem at its file:line. Single-threaded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy/config.h"
#include "tools/swervectl/cli.h"

/* Counts what `check` reported, so it can tell errors from notes. */
struct check_ctx {
	unsigned errors;
	unsigned notes;
};

/*
 * Notes are printed as "file:line: note: ..." so they read apart from
 * errors, unless config.c already labelled them.
 */
static void report_problem(void *ctx, bool is_error, const char *msg)
{
	struct check_ctx *c = ctx;
	const char *p, *q;

	if (is_error) {
		c->errors++;
		fprintf(stderr, "%s\n", msg);
		return;
	}
	c->notes++;
	if (strstr(msg, "note:") != NULL || strstr(msg, "warning:") != NULL) {
		fprintf(stderr, "%s\n", msg);
		return;
	}
	/* Find the ":<line>: " after the file name (which may hold ':'). */
	for (p = strchr(msg, ':'); p != NULL; p = strchr(p + 1, ':')) {
		q = p + 1;
		if (*q < '0' || *q > '9')
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q[0] == ':' && q[1] == ' ') {
			fprintf(stderr, "%.*snote: %s\n", (int)(q + 2 - msg),
				msg, q + 2);
			return;
		}
	}
	fprintf(stderr, "note: %s\n", msg);
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
	for (i = 0; i < cfg->nservices; i++)
		neps += cfg->services[i].nendpoints;
	printf("%s: ok (%u service%s, %u endpoint%s)\n", path,
	       cfg->nservices, cfg->nservices == 1 ? "" : "s",
	       neps, neps == 1 ? "" : "s");
	swerve_config_free(cfg);
	return CLI_EXIT_OK;
}
