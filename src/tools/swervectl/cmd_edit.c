/*
 * cmd_edit.c: `swervectl eject`, `uneject` and `reset`, the operator's
 * hand on the shared table: an endpoint (or an address behind a name) is
 * ejected, returned or forgotten, or the whole table is removed. A reset
 * also drops TLS sessions from the session store (table/sessions.h):
 * those of the service, or with the whole table every one of them, and
 * then the store itself.
 * Single-threaded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/swerve.h"
#include "table/sessions.h"
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

/*
 * Drops the TLS sessions of <service> (NULL: every one, and the store
 * goes too) from the session store beside the table. Every process
 * resumes none of them from now on, even one that keeps a mapping of the
 * removed store. 0, or -1 with the error printed.
 */
static int drop_sessions(const struct swerve_config *cfg, const char *service)
{
	char name[SWERVE_SEGMENT_NAME_MAX], err[256] = "";
	struct swerve_sessions st;
	unsigned n = 0;
	int rc;

	if (swerve_sessions_name(cfg->shm_name, name, sizeof(name)) != 0)
		return 0; /* no library could have made it */
	rc = swerve_sessions_attach(name, false, &st, err, sizeof(err));
	if (rc == 0) {
		n = swerve_sessions_drop(&st, service != NULL ?
					 swerve_sessions_group(service) : 0);
		swerve_sessions_detach(&st);
	} else if (rc != -ENOENT) {
		/* Damaged or foreign: removed below all the same. */
		print_error("session store %s: %s", name, err);
	}
	if (service != NULL) {
		if (n > 0)
			printf("%s: %u TLS session%s dropped\n", service, n,
			       n == 1 ? "" : "s");
		return rc == 0 || rc == -ENOENT ? 0 : -1;
	}
	rc = swerve_sessions_unlink(name);
	if (rc == 0)
		printf("removed session store %s (%u TLS session%s dropped)\n",
		       name, n, n == 1 ? "" : "s");
	else if (rc != -ENOENT)
		print_error("cannot remove session store %s: %s", name,
			    strerror(-rc));
	return rc == 0 || rc == -ENOENT ? 0 : -1;
}

/* reset with no argument: the whole table goes, and every TLS session. */
static int remove_table(const struct swerve_config *cfg)
{
	int rc = swerve_shm_unlink(cfg->shm_name);

	if (rc == -ENOENT) {
		printf("shared table %s does not exist: nothing to reset\n",
		       cfg->shm_name);
	} else if (rc != 0) {
		print_error("cannot remove shared table %s: %s",
			    cfg->shm_name, strerror(-rc));
	} else {
		/* Mappings outlive the name: say what that means. */
		printf("removed shared table %s; running programs keep their "
		       "mapping until they exit, new ones start a fresh "
		       "table\n", cfg->shm_name);
	}
	if (drop_sessions(cfg, NULL) != 0)
		return CLI_EXIT_FAIL;
	return rc == 0 || rc == -ENOENT ? CLI_EXIT_OK : CLI_EXIT_FAIL;
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
	/* Sessions are kept per service, not per address: a reset of one
	 * endpoint drops the service's, which costs one full handshake. */
	if (op == EDIT_RESET && rc == CLI_EXIT_OK &&
	    drop_sessions(cfg, sv->svc->name) != 0)
		rc = CLI_EXIT_FAIL;
out:
	view_service_free(sv);
	view_close(&v);
	return rc;
}
