/*
 * What the unit tests that run the built swervectl share: see
 * test_swervectl_support.c. Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_SWERVECTL_SUPPORT_H
#define SWERVE_TEST_SWERVECTL_SUPPORT_H

/* The test's config file and table name (ctl_bed_open()). */
extern char ctl_dir[];
extern char ctl_config[];
extern const char *ctl_shm;

/* A fresh directory holding <text> as swerve.ini, and a fresh table
 * name: a test's .init. */
void ctl_bed_open(const char *text);

/* Removes both: a test's .fini. */
void ctl_bed_close(void);

/*
 * Runs <argv> (argv[0] a path, or a name found in /usr/bin or /bin) with
 * SWERVE_SHM set to the test's table; returns its stdout (static, until
 * the next call) and puts its exit status (128 + signal) in <*status>.
 */
const char *ctl_spawn(char *const *argv, int *status);

/* swervectl -c CONFIG <args> (NULL-ended, at most 4) of the build
 * (SWERVE_BUILD), which must exit 0; returns its stdout. */
const char *ctl_run(const char *const *args);

/*
 * What the library writes of the http service web (the config's first,
 * consecutive_5xx_errors = 2): at 127.0.0.2:18080 a connect, three 200s,
 * a 404, a 503 and a timeout, which ejects it with cause timeout; at
 * 127.0.0.3:18080 a reset.
 */
void ctl_fill_web(void);

#endif
