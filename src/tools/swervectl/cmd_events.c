/*
 * cmd_events.c: `swervectl events`, the table's ring of ejections,
 * un-ejections, overflows and panics, oldest first. Single-threaded.
 */
#include <stdlib.h>

#include "base/swerve.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/print.h"
#include "tools/swervectl/view.h"

int cmd_events(const struct cli_args *a)
{
	struct swerve_shm_event_info *evs = NULL;
	struct view v;
	uint64_t lost = 0, now;
	size_t n = 0;
	int rc = CLI_EXIT_FAIL;

	if (a->npos > 0)
		return fail_usage("events takes no arguments");
	if (a->for_arg != NULL)
		return fail_usage("--for is only for eject");
	/* Every endpoint's view, so that a key names an address behind a
	 * name as swervectl endpoints shows it. */
	if (view_open_all(&v, resolve_config_path(a)) != 0)
		goto out;
	now = swerve_now_ms();
	if (v.present) {
		evs = calloc(v.tab.nevents > 0 ? v.tab.nevents : 1,
			     sizeof(*evs));
		if (evs == NULL) {
			print_error("out of memory");
			goto out;
		}
		n = swerve_shm_events(&v.tab, evs, v.tab.nevents, &lost);
	}
	if (a->json)
		print_events_json(&v, evs, n, lost, now);
	else
		print_events_table(&v, evs, n, lost, now);
	rc = CLI_EXIT_OK;
out:
	free(evs);
	view_close(&v);
	return rc;
}
