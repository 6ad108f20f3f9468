/*
 * What the unit tests of the shared table share (test_shm*.c): segment
 * names unique to the test's process, removed again in its .fini, the
 * outlier config they use, and a refused connect reported into a row.
 * Criterion runs each test in its own process, so the name list needs no
 * lock.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test_shm_support.h"

static char names[8][64];
static unsigned nnames;

const char *new_name(void)
{
	char *n = names[nnames % 8];

	snprintf(n, sizeof(names[0]), "/swerve-test-%d-%u", (int)getpid(),
		 nnames);
	nnames++;
	shm_unlink(n); /* a leftover of a crashed earlier run */
	return n;
}

void unlink_names(void)
{
	unsigned i;

	for (i = 0; i < nnames && i < 8; i++)
		shm_unlink(names[i]);
}

struct swerve_outlier_cfg test_cfg(void)
{
	struct swerve_outlier_cfg c = {
		.enabled = true,
		.consecutive_5xx = 5,
		.consecutive_gateway = 0,
		.consecutive_local_origin = 5,
		.interval_ms = 10000,
		.base_ejection_ms = 30000,
		.max_ejection_ms = 300000,
		.max_ejection_percent = 100,
		.min_ejectable_hosts = 1,
	};

	return c;
}

/* One refused connect to <row>, events into <tab> (may be NULL). */
enum swerve_outlier_event fail_in(struct swerve_shm *tab,
				  struct swerve_shm_row *row,
				  const struct swerve_outlier_cfg *c,
				  uint64_t now)
{
	return swerve_shm_report(tab, NULL, &row, 1, 0, c,
				 SWERVE_OUTCOME_CONNECT_FAILED, 0, now);
}

enum swerve_outlier_event fail_once(struct swerve_shm_row *row,
				    const struct swerve_outlier_cfg *c,
				    uint64_t now)
{
	return fail_in(NULL, row, c, now);
}
