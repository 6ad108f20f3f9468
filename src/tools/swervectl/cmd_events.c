/*
 * cmd_events.c: `swervectl events`, the table's ring of ejections,
 * un-ejections, overflows and panics, oldest first. Single-threaded.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "base/swerve.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

int cmd_events(const struct cli_args *a)
{
	struct swerve_shm_event_info *evs = NULL;
	struct swerve_config *cfg = NULL;
	struct swerve_shm tab;
	uint64_t lost = 0, now;
	size_t n = 0;
	bool present;
	int rc = CLI_EXIT_FAIL;

	if (a->npos > 0)
		return fail_usage("events takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	if (load_config(resolve_config_path(a), &cfg) != 0)
		return CLI_EXIT_FAIL;
	if (attach_table(cfg, false, &tab, &present) != 0)
		goto out;
	now = swerve_now_ms();
	if (present) {
		evs = calloc(tab.nevents > 0 ? tab.nevents : 1, sizeof(*evs));
		if (evs == NULL) {
			print_error("out of memory");
			swerve_shm_detach(&tab);
			goto out;
		}
		n = swerve_shm_events(&tab, evs, tab.nevents, &lost);
	}
	if (a->json)
		print_events_json(cfg, evs, n, lost, now);
	else
		print_events_table(cfg, evs, n, lost, now);
	rc = CLI_EXIT_OK;
	free(evs);
	swerve_shm_detach(&tab);
out:
	swerve_config_free(cfg);
	return rc;
}
