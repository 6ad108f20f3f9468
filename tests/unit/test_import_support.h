/*
 * test_import_support: what the tests of `swervectl import` share: a
 * private directory for YAML files, a run of the built swervectl
 * (SWERVE_BUILD) from the source tree (SWERVE_SRC, where conf/istio
 * lives) with its exit status, stdout and stderr, the key lines of one
 * section of the config it printed, and `swervectl check` of that config.
 * Each test runs in its own process.
 */
#ifndef SWERVE_TEST_IMPORT_SUPPORT_H
#define SWERVE_TEST_IMPORT_SUPPORT_H

/* One run of swervectl. */
struct imp_run {
	int status;
	char out[65536];
	char err[32768];
};

/* Makes the test's private directory; removes it again. */
void imp_setup(void);
void imp_teardown(void);

/* Writes <text> to <name> in the private directory; its absolute path
 * (static storage per call: copy it to keep two). */
const char *imp_write(const char *name, const char *text);

/*
 * Runs `swervectl ARGS` in the source tree, stdin from <stdin_path> (NULL:
 * /dev/null). <args> is a shell word list.
 */
void imp_run(struct imp_run *r, const char *args, const char *stdin_path);

/*
 * Writes <yaml> to <name> in the private directory and runs `swervectl
 * import <opts> FILE` on it; the file's path (static storage).
 */
const char *imp_import(struct imp_run *r, const char *opts, const char *name,
		       const char *yaml);

/* The text of file <rel> of the source tree (static storage). */
const char *imp_source(const char *rel);

/* The key lines ("key = value") of [<section>] of <ini>, in order, each
 * ending in a newline, comments left out (static storage). */
const char *imp_section(const char *ini, const char *section);

/* Asserts that `swervectl check` accepts the config <r> printed. */
void imp_check_ok(const struct imp_run *r);

/* Asserts that <text> holds <needle>. */
void imp_expect(const char *text, const char *needle);

/* Asserts that <text> holds the line "<file>:<line>: warning: <msg>...". */
void imp_expect_warning(const char *text, const char *file, int line,
			const char *msg);

#endif
