/*
 * cmd_endpoints.c: `swervectl endpoints`, every endpoint with its priority,
 * ejection and counters. Single-threaded.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

int cmd_endpoints(const struct cli_args *a)
{
	struct swerve_config *cfg = NULL;
	struct swerve_dnscache *dc = NULL;
	struct swerve_shm tab, priv;
	char err[256] = "";
	struct ep_view *views = NULL;
	size_t n = 0;
	bool present;
	int rc = CLI_EXIT_FAIL;

	memset(&priv, 0, sizeof(priv));
	if (a->npos > 0)
		return fail_usage("endpoints takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;
	/* Names are looked up by this command, as the library would; their
	 * rows come from the table (a private one when there is none yet). */
	if (!present && swerve_shm_private(&priv) != 0) {
		print_error("out of memory");
		goto out;
	}
	if (swerve_dnscache_new(cfg, present ? &tab : &priv, NULL, &dc, err,
				sizeof(err)) != 0) {
		print_error("%s", err);
		goto detach;
	}
	if (collect_views(cfg, present ? &tab : NULL, dc, &views, &n) == 0) {
		if (a->json)
			print_json(views, n);
		else
			print_table(views, n);
		rc = CLI_EXIT_OK;
	}
	free(views);
	swerve_dnscache_free(dc);
detach:
	swerve_shm_detach(&tab);
	swerve_shm_detach(&priv);
out:
	swerve_config_free(cfg);
	return rc;
}
