/*
 * cmd_endpoints.c: `swervectl endpoints`, every endpoint with its priority,
 * ejection and counters, and its TLS handshakes when a service has tls.
 * Single-threaded.
 */
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

int cmd_endpoints(const struct cli_args *a)
{
	struct view v;
	int rc = CLI_EXIT_FAIL;

	if (a->npos > 0)
		return fail_usage("endpoints takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (view_open_all(&v, resolve_config_path(a)) == 0) {
		if (a->json)
			print_json(v.eps, v.neps);
		else
			print_table(v.eps, v.neps, view_has_tls(v.cfg));
		rc = CLI_EXIT_OK;
	}
	view_close(&v);
	return rc;
}
