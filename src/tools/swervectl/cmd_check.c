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
