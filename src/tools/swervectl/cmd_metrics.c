/*
 * cmd_metrics.c: `swervectl metrics`, the host's table for Prometheus:
 * printed once (for node_exporter's textfile collector, or a look by
 * hand), or served on /metrics with --listen (metrics_serve.c).
 * Single-threaded.
 */
#include <stdio.h>

#include "tools/swervectl/cli.h"
#include "tools/swervectl/metrics.h"

int cmd_metrics(const struct cli_args *a)
{
	struct metrics m;
	int rc = CLI_EXIT_FAIL;

	if (a->npos > 0)
		return fail_usage("metrics takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (a->json)
		return fail_usage("metrics has no --json: it writes "
				  "Prometheus' text format");
	if (a->listen != NULL)
		return metrics_serve(a->listen, a->allow_remote,
				     resolve_config_path(a));
	if (a->allow_remote)
		return fail_usage("--allow-remote goes with --listen");
	if (metrics_read(&m, resolve_config_path(a)) == 0) {
		metrics_write(&m, stdout);
		rc = CLI_EXIT_OK;
	}
	metrics_free(&m);
	return rc;
}
