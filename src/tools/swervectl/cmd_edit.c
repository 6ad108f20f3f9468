/*
 * cmd_edit.c: `swervectl eject`, `uneject` and `reset`, the operator's
 * hand on the shared table: an endpoint (or an address behind a name) is
 * ejected, returned or forgotten, or the whole table is removed.
 * Single-threaded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/swerve.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

/* Finds SERVICE, naming the alternatives when it is wrong. */
static int lookup_service(const struct swerve_config *cfg, const char *sname,
			  unsigned *s)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, sname) == 0) {
			*s = i;
			return 0;
		}
	}
	print_error("no service named '%s' in %s", sname, cfg->path);
	if (cfg->nservices > 0) {
		fputs("swervectl: services:", stderr);
		for (i = 0; i < cfg->nservices; i++)
			fprintf(stderr, " %s", cfg->services[i].name);
		fputc('\n', stderr);
	}
	return -1;
}

/*
 * Finds ENDPOINT of <sv> as swervectl endpoints writes it ("127.0.0.2:18080",
 * also for an address behind a name, whose names were looked up by this
 * command as the library would), naming the alternatives when it is wrong.
 */
static const struct ep_view *lookup_endpoint(const struct svc_view *sv,
					     const char *etext)
{
	size_t i;

	for (i = 0; i < sv->neps; i++)
		if (strcmp(sv->eps[i].text, etext) == 0)
			return &sv->eps[i];
	print_error("service '%s' has no endpoint '%s'", sv->svc->name, etext);
	if (sv->neps > 0) {
		fputs("swervectl: endpoints:", stderr);
		for (i = 0; i < sv->neps; i++)
			fprintf(stderr, " %s", sv->eps[i].text);
		fputc('\n', stderr);
	}
	return NULL;
}

static int edit_row(struct swerve_shm *tab, const struct ep_view *ep,
		    enum edit_op op, uint64_t duration_ms)
{
	const struct swerve_service *svc = ep->svc;
	struct swerve_shm_row *row, *svc_row;
	uint64_t now = swerve_now_ms();
	char dur[32];
	int rc = -EINVAL;

	/* Rows that were never used are already fresh: nothing to reset. */
	row = swerve_shm_row(tab, ep->key, op != EDIT_RESET);
	/* Its epoch tells the programs using the service to re-plan. */
	svc_row = swerve_shm_row(tab, swerve_shm_service_key(svc->name),
				 op != EDIT_RESET);
	if (row == NULL && op == EDIT_RESET) {
		printf("%s %s: reset\n", svc->name, ep->text);
		return 0;
	}
	if (row == NULL) {
		print_error("shared table %s is full: no row for %s %s",
			    tab->name, svc->name, ep->text);
		return -1;
	}
	switch (op) {
	case EDIT_EJECT:
		rc = swerve_shm_eject(tab, svc_row, row, duration_ms, now);
		break;
	case EDIT_UNEJECT:
		rc = swerve_shm_uneject(tab, svc_row, row, now);
		break;
	case EDIT_RESET:
		rc = swerve_shm_reset_row(svc_row, row);
		break;
	}
	if (rc != 0) {
		print_error("%s %s: %s", svc->name, ep->text, strerror(-rc));
		return -1;
	}
	switch (op) {
	case EDIT_EJECT:
		format_duration(duration_ms, dur, sizeof(dur));
		printf("%s %s: ejected for %s\n", svc->name, ep->text, dur);
		break;
	case EDIT_UNEJECT:
		printf("%s %s: back in service\n", svc->name, ep->text);
		break;
	case EDIT_RESET:
		printf("%s %s: reset\n", svc->name, ep->text);
		break;
	}
	return 0;
}

/* reset with no argument: the whole table goes. */
static int remove_table(const struct swerve_config *cfg)
{
	int rc = swerve_shm_unlink(cfg->shm_name);

	if (rc == -ENOENT) {
		printf("shared table %s does not exist: nothing to reset\n",
		       cfg->shm_name);
		return CLI_EXIT_OK;
	}
	if (rc != 0) {
		print_error("cannot remove shared table %s: %s",
			    cfg->shm_name, strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	/* Mappings outlive the name: say what that means. */
	printf("removed shared table %s; running programs keep their mapping "
	       "until they exit, new ones start a fresh table\n",
	       cfg->shm_name);
	return CLI_EXIT_OK;
}

/*
 * Applies <op> to <ep>, or with NULL to every endpoint of <sv> (each
 * address of a name), in the shared table, which is created if absent:
 * an operator may eject before any program ran.
 */
static int edit_rows(const struct swerve_config *cfg,
		     const struct svc_view *sv, const struct ep_view *ep,
		     enum edit_op op, uint64_t duration_ms)
{
	struct swerve_shm tab;
	int rc = CLI_EXIT_OK;
	bool present;
	size_t i;

	if (attach_table(cfg, true, &tab, &present) != 0)
		return CLI_EXIT_FAIL;
	if (ep != NULL) {
		if (edit_row(&tab, ep, op, duration_ms) != 0)
			rc = CLI_EXIT_FAIL;
	} else {
		for (i = 0; i < sv->neps; i++)
			if (edit_row(&tab, &sv->eps[i], op, 0) != 0)
				rc = CLI_EXIT_FAIL;
		if (sv->neps == 0)
			printf("%s: no endpoints\n", sv->svc->name);
	}
	swerve_shm_detach(&tab);
	return rc;
}

int cmd_edit(const struct cli_args *a, enum edit_op op)
{
	const struct ep_view *ep = NULL;
	struct swerve_config *cfg = NULL;
	struct svc_view *sv = NULL;
	uint64_t duration_ms = 0;
	struct view v;
	unsigned s;
	int rc = CLI_EXIT_FAIL;

	if (a->json)
		return fail_usage("%s takes no --json", a->cmd);
	if (op != EDIT_EJECT && a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (op == EDIT_RESET ? a->npos > 2 : a->npos != 2)
		return fail_usage("%s takes %s", a->cmd, op == EDIT_RESET ?
				  "[SERVICE [ENDPOINT]]" : "SERVICE ENDPOINT");
	if (a->for_arg != NULL &&
	    (swerve_config_parse_duration(a->for_arg, &duration_ms) != 0 ||
	     duration_ms == 0))
		return fail_usage("bad duration '%s' (like 250ms, 15s, 1m, 2h)",
				  a->for_arg);
	/* The bound of every duration in the config, for the same reason:
	 * beyond it a number is a typo, not a plan. */
	if (duration_ms > SWERVE_MAX_DURATION_MS)
		return fail_usage("--for must be at most %lluh (a day), not '%s'",
				  (unsigned long long)(SWERVE_MAX_DURATION_MS /
						       3600000),
				  a->for_arg);
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	if (op == EDIT_RESET && a->npos == 0) {
		rc = remove_table(cfg);
		swerve_config_free(cfg);
		return rc;
	}
	/* Found without the shared table, which a typo must not create. */
	if (view_open(&v, cfg, VIEW_PRIVATE) != 0 ||
	    lookup_service(cfg, a->pos[0], &s) != 0 ||
	    view_service(&v, s, &sv) != 0)
		goto out;
	if (a->npos > 1 && (ep = lookup_endpoint(sv, a->pos[1])) == NULL)
		goto out;
	if (op == EDIT_EJECT && a->for_arg == NULL)
		duration_ms = sv->svc->outlier.base_ejection_ms;
	if (op == EDIT_EJECT && duration_ms == 0)
		print_error("service %s has no base_ejection_time; use --for",
			    sv->svc->name);
	else
		rc = edit_rows(cfg, sv, ep, op, duration_ms);
out:
	view_service_free(sv);
	view_close(&v);
	return rc;
}
