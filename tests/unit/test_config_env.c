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
	cr_assert_eq(strncmp(r.msg[0], "SWERVE_LOCALITY: 'a//b'", 23), 0,
		     "%s", r.msg[0]);
	cr_assert_eq(strncmp(r.msg[1], "SWERVE_SHM: '/a/b'", 18), 0, "%s",
		     r.msg[1]);
	cr_assert_eq(strncmp(r.msg[2], "SWERVE_LOG: 'loud' is not a log level",
			     37),
		     0, "%s", r.msg[2]);
	cr_assert_str_eq(err, r.msg[0]);
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
