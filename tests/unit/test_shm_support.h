/*
 * What the unit tests of the shared table share: see test_shm_support.c.
 * Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_SHM_SUPPORT_H
#define SWERVE_TEST_SHM_SUPPORT_H

#include <stdint.h>

#include "table/shm.h"

#define NOW 1000000u /* any fixed time: the clock is a parameter */

/* A fresh segment name, "/swerve-test-<pid>-<n>" (up to 8 per test). */
const char *new_name(void);

/* Removes every segment new_name() gave out: the tests' .fini. */
void unlink_names(void);

/* Envoy's defaults (5 failures in a row eject for 30 s, interval 10 s)
 * with a cap that lets every endpoint go. */
struct swerve_outlier_cfg test_cfg(void);

/* One refused connect to <row>, events into <tab> (may be NULL). */
enum swerve_outlier_event fail_in(struct swerve_shm *tab,
				  struct swerve_shm_row *row,
				  const struct swerve_outlier_cfg *c,
				  uint64_t now);

/* fail_in() without events. */
enum swerve_outlier_event fail_once(struct swerve_shm_row *row,
				    const struct swerve_outlier_cfg *c,
				    uint64_t now);

#endif
