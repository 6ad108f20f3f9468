/*
 * cmd_edit.c: `swervectl eject`, `uneject` and `reset`, the operator's
 * hand on the shared table: an endpoint (or an address behind a name) is
 * ejected, returned or forgotten, or the whole table is removed.
 * Single-threaded.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/swerve.h"
#include "names/dnscache.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

static const struct swerve_service *find_service(
	const struct swerve_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	return NULL;
}

static const struct swerve_endpoint *find_endpoint(
	const struct swerve_service *svc, const char *text)
{
	unsigned i;

	for (i = 0; i < svc->nendpoints; i++)
		if (strcmp(svc->endpoints[i].text, text) == 0)
			return &svc->endpoints[i];
	return NULL;
}

/*
 * An address behind one of <svc>'s names, written as swervectl endpoints
 * shows it ("127.0.0.2:18080"): the names are looked up now, as the library
 * would, and the match comes back as an endpoint whose key is that
 * address's row. NULL when no name resolves to it.
 */
static const struct swerve_endpoint *find_address(
	const struct swerve_config *cfg, const struct swerve_service *svc,
	const char *etext)
{
	static struct swerve_endpoint found;
	struct swerve_dnscache *dc = NULL;
	struct swerve_shm priv;
	const struct swerve_service *rs;
	unsigned s = (unsigned)(svc - cfg->services), i;
	const struct swerve_endpoint *ret = NULL;
	char text[96];

	memset(&priv, 0, sizeof(priv));
	if (swerve_shm_private(&priv) != 0)
		return NULL;
	if (swerve_dnscache_new(cfg, &priv, NULL, &dc, NULL, 0) != 0 ||
	    !swerve_dnscache_has_names(dc, s))
		goto out;
	swerve_dnscache_refresh(dc, s, swerve_now_ms());
	rs = swerve_dnscache_service(dc, s);
	for (i = 0; i < rs->nendpoints && ret == NULL; i++) {
		struct sockaddr_storage addr;

		if (rs->endpoints[i].name[0] == '\0' ||
		    !swerve_dnscache_address(dc, s, i, &addr, NULL))
			continue;
		format_address(&addr, text, sizeof(text));
		if (strcmp(text, etext) != 0)
			continue;
		found = rs->endpoints[i];
		/* The row key wants the address without the port. */
		if (addr.ss_family == AF_INET)
			((struct sockaddr_in *)&addr)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&addr)->sin6_port = 0;
		found.key = swerve_dnscache_key(svc, &rs->endpoints[i], &addr);
		snprintf(found.text, sizeof(found.text), "%s", etext);
		ret = &found;
	}
out:
	swerve_dnscache_free(dc);
	swerve_shm_detach(&priv);
	return ret;
}

/* Finds SERVICE and ENDPOINT, naming the alternatives when one is wrong. */
static int lookup_target(const struct swerve_config *cfg, const char *sname,
			 const char *etext,
			 const struct swerve_service **svc_out,
			 const struct swerve_endpoint **ep_out)
{
	const struct swerve_service *svc;
	unsigned i;

	svc = find_service(cfg, sname);
	if (svc == NULL) {
		print_error("no service named '%s' in %s", sname, cfg->path);
		if (cfg->nservices > 0) {
			fputs("swervectl: services:", stderr);
			for (i = 0; i < cfg->nservices; i++)
				fprintf(stderr, " %s", cfg->services[i].name);
			fputc('\n', stderr);
		}
		return -1;
	}
	*svc_out = svc;
	if (etext == NULL)
		return 0;
	*ep_out = find_endpoint(svc, etext);
	if (*ep_out == NULL)
		*ep_out = find_address(cfg, svc, etext);
	if (*ep_out == NULL) {
		print_error("service '%s' has no endpoint '%s'", sname, etext);
		if (svc->nendpoints > 0) {
			fputs("swervectl: endpoints:", stderr);
			for (i = 0; i < svc->nendpoints; i++)
				fprintf(stderr, " %s",
					svc->endpoints[i].text);
			fputc('\n', stderr);
		}
		return -1;
	}
	return 0;
}

static int edit_row(struct swerve_shm *tab, const struct swerve_service *svc,
		    const struct swerve_endpoint *ep, enum edit_op op,
		    uint64_t duration_ms)
{
	struct swerve_shm_row *row;
	uint64_t now = swerve_now_ms();
	char dur[32];
	int rc = -EINVAL;

	/* Rows that were never used are already fresh: nothing to reset. */
	row = swerve_shm_row(tab, ep->key, op != EDIT_RESET);
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
		rc = swerve_shm_eject(tab, row, duration_ms, now);
		break;
	case EDIT_UNEJECT:
		rc = swerve_shm_uneject(tab, row, now);
		break;
	case EDIT_RESET:
		rc = swerve_shm_reset_row(row);
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

int cmd_edit(const struct cli_args *a, enum edit_op op)
{
	const struct swerve_service *svc = NULL;
	const struct swerve_endpoint *ep = NULL;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	uint64_t duration_ms = 0;
	bool present;
	unsigned i;
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
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;

	if (op == EDIT_RESET && a->npos == 0) {
		int urc = swerve_shm_unlink(cfg->shm_name);

		if (urc == -ENOENT) {
			printf("shared table %s does not exist: nothing to "
			       "reset\n", cfg->shm_name);
			rc = CLI_EXIT_OK;
		} else if (urc != 0) {
			print_error("cannot remove shared table %s: %s",
				    cfg->shm_name, strerror(-urc));
		} else {
			/* Mappings outlive the name: say what that means. */
			printf("removed shared table %s; running programs keep "
			       "their mapping until they exit, new ones start "
			       "a fresh table\n", cfg->shm_name);
			rc = CLI_EXIT_OK;
		}
		goto out;
	}
	if (lookup_target(cfg, a->pos[0], a->npos > 1 ? a->pos[1] : NULL,
			  &svc, &ep) != 0)
		goto out;
	if (op == EDIT_EJECT && a->for_arg == NULL)
		duration_ms = svc->outlier.base_ejection_ms;
	if (op == EDIT_EJECT && duration_ms == 0) {
		print_error("service %s has no base_ejection_time; use --for",
			    svc->name);
		goto out;
	}
	/* Created if absent: an operator may eject before any program ran. */
	if (attach_table(cfg, true, &tab, &present) != 0)
		goto out;
	rc = CLI_EXIT_OK;
	if (ep != NULL) {
		if (edit_row(&tab, svc, ep, op, duration_ms) != 0)
			rc = CLI_EXIT_FAIL;
	} else {
		for (i = 0; i < svc->nendpoints; i++)
			if (edit_row(&tab, svc, &svc->endpoints[i], op,
				     0) != 0)
				rc = CLI_EXIT_FAIL;
		if (svc->nendpoints == 0)
			printf("%s: no endpoints\n", svc->name);
	}
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}
