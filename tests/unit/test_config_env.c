/*
 * Unit tests of config's environment overrides (SWERVE_LOCALITY,
 * SWERVE_SHM, SWERVE_LOG).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/config.h"
#include "test_config_support.h"

/* Environment overrides ------------------------------------------------- */

Test(config, applies_environment_overrides)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	setenv("SWERVE_LOCALITY", "eu/eu-west-1a/r1", 1);
	setenv("SWERVE_SHM", "/swerve-env", 1);
	setenv("SWERVE_LOG", "debug", 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, NULL, 0),
		     0);
	cr_assert_str_eq(cfg->locality.region, "eu");
	cr_assert_str_eq(cfg->locality.zone, "eu-west-1a");
	cr_assert_str_eq(cfg->locality.subzone, "r1");
	cr_assert_str_eq(cfg->locality_text, "eu/eu-west-1a/r1");
	cr_assert_str_eq(cfg->shm_name, "/swerve-env");
	cr_assert_eq(cfg->log_level, SWERVE_LOG_DEBUG);
	swerve_config_free(cfg);
}

Test(config, ignores_the_environment_unless_asked)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	setenv("SWERVE_LOCALITY", "eu", 1);
	setenv("SWERVE_SHM", "bad", 1);
	setenv("SWERVE_LOG", "loud", 1);
	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	cr_assert_str_eq(cfg->locality_text, "us-east1/b");
	cr_assert_str_eq(cfg->shm_name, "/swerve-test");
	cr_assert_eq(cfg->log_level, SWERVE_LOG_INFO);
	swerve_config_free(cfg);
}

Test(config, names_the_variable_of_a_bad_override)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char err[512];

	setenv("SWERVE_LOCALITY", "a//b", 1);
	setenv("SWERVE_SHM", "/a/b", 1);
	setenv("SWERVE_LOG", "loud", 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, err,
					sizeof(err)),
		     -EINVAL);
	cr_assert_null(cfg);
	cr_assert_eq(r.nerrors, 3);
	cr_assert_str_eq(r.msg[0], "SWERVE_LOCALITY: locality 'a//b' is not "
			 "region[/zone[/subzone]] (parts of 1 to 63 "
			 "characters, no spaces)");
	cr_assert_str_eq(r.msg[1], "SWERVE_SHM: shm '/a/b' must be '/' and a "
			 "name without '/', at most 100 characters in all");
	cr_assert_str_eq(r.msg[2], "SWERVE_LOG: log must be error, warn, info "
			 "or debug, not 'loud'");
	cr_assert_str_eq(err, r.msg[0]);
}

struct override_case {
	char var[32];
	char key[32];
	char value[32];
};

ParameterizedTestParameters(config, reports_an_override_as_the_same_key)
{
	static struct override_case cases[] = {
		{ "SWERVE_LOCALITY", "locality", "a//b" },
		{ "SWERVE_LOCALITY", "locality", "us east" },
		{ "SWERVE_SHM", "shm", "/a/b" },
		{ "SWERVE_SHM", "shm", "noslash" },
		{ "SWERVE_LOG", "log", "loud" },
	};

	return cr_make_param_array(struct override_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * A bad value says the same in the environment as in the file: only the
 * place differs, the variable's name instead of file:line.
 */
ParameterizedTest(struct override_case *c, config,
		  reports_an_override_as_the_same_key)
{
	struct swerve_config *cfg = NULL;
	struct reports file, env;
	char path[PATH_MAX];
	char text[128];
	const char *msg;

	snprintf(text, sizeof(text), "[swerve]\n%s = %s\n", c->key, c->value);
	cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &file),
		     -EINVAL);
	cr_assert_eq(file.nerrors, 1);
	msg = strstr(file.msg[0], ":2: ");
	cr_assert_not_null(msg, "%s", file.msg[0]);
	msg += 4;

	setenv(c->var, c->value, 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	memset(&env, 0, sizeof(env));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &env, NULL,
					0),
		     -EINVAL);
	unsetenv(c->var);
	cr_assert_eq(env.nerrors, 1);
	snprintf(text, sizeof(text), "%s: ", c->var);
	cr_assert_eq(strncmp(env.msg[0], text, strlen(text)), 0, "%s",
		     env.msg[0]);
	cr_assert_str_eq(env.msg[0] + strlen(text), msg);
}

Test(config, treats_empty_environment_variables_as_unset)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	setenv("SWERVE_LOCALITY", "", 1);
	setenv("SWERVE_LOG", "", 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, NULL, 0),
		     0);
	cr_assert_str_eq(cfg->locality_text, "us-east1/b");
	cr_assert_eq(cfg->log_level, SWERVE_LOG_INFO);
	swerve_config_free(cfg);
}

Test(config, frees_null)
{
	swerve_config_free(NULL);
}
