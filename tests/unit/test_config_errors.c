/*
 * Unit tests of config on bad files: every class of problem with its
 * file:line, and how problems reach the caller.
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

/* Bad files: every class with its file:line ------------------------------ */

Test(config, reports_an_unknown_key_with_file_and_line)
{
	struct swerve_config *cfg = (struct swerve_config *)1;
	struct reports r;
	char path[PATH_MAX];
	char err[512];

	build_fixture_path(path, sizeof(path), "bad_unknown_key.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, false, &cfg, collect, &r, err,
					sizeof(err)),
		     -EINVAL);
	cr_assert_null(cfg);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 7, "unknown key 'foo' in [service mydb]");
	cr_assert_str_eq(err, r.msg[0]);
}

Test(config, reports_an_unknown_section_and_skips_its_keys)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_unknown_section.ini", path,
				  sizeof(path), &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 2, "unknown section [servce mydb]");
}

Test(config, reports_bad_durations_with_their_lines)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_duration.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 3);
	expect_error(&r, path, 4, "needs a unit: ms, s, m or h");
	expect_error(&r, path, 5, "base_ejection_time must be at least 1ms");
	expect_error(&r, path, 6, "'1.5s' is not a duration");
}

Test(config, rejects_endpoint_names_and_bad_endpoints)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_endpoint.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	expect_error(&r, path, 3,
		     "endpoint 'db.internal' is a host name: set resolution "
		     "= dns in [service mydb]");
	expect_error(&r, path, 4, "port must be 0 to 65535, not '99999'");
	expect_error(&r, path, 5, "weight must be a whole number from 1 to "
				  "10000, not '0'");
	expect_error(&r, path, 6, "unknown endpoint option 'zone=a'");
	expect_error(&r, path, 7, "'[::1' is not [IPv6]:PORT");
	expect_error(&r, path, 8, "locality 'us//a'");
	expect_error(&r, path, 10, "127.0.0.3:80 is listed twice in "
				   "[service mydb] (first at line 9)");
	expect_error(&r, path, 11, "'300.1.1.1' is not an IPv4 or IPv6");
	expect_error(&r, path, 12, "unspecified address");
	cr_assert_eq(r.nerrors, 9);
}

Test(config, accepts_endpoint_names_with_resolution_dns)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	const struct swerve_endpoint *ep;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("good_dns.ini", path, sizeof(path), &cfg,
				  &r),
		     0);
	cr_assert_eq(r.nerrors, 0);
	cr_assert_str_eq(cfg->dns_servers, "127.0.0.1:5353, [::1]:5353");
	cr_assert(cfg->services[0].dns);
	cr_assert_eq(cfg->services[0].dns_min_ttl_ms, 1000);
	cr_assert_eq(cfg->services[0].dns_max_ttl_ms, 60000);
	cr_assert_eq(cfg->services[0].dns_timeout_ms, 500);
	ep = &cfg->services[0].endpoints[0];
	cr_assert_str_eq(ep->name, "east.mydb.test");
	cr_assert_str_eq(ep->text, "east.mydb.test:18080");
	cr_assert_eq(ep->port, 18080);
	/* IP literals may stand beside names. */
	ep = &cfg->services[0].endpoints[1];
	cr_assert_str_eq(ep->name, "");
	cr_assert_eq(ep->port, 18081);
	/* Defaults: Envoy's dns_refresh_rate as the floor, 300s, 2s. */
	cr_assert_eq(cfg->services[1].dns, false);
	cr_assert_eq(cfg->services[1].dns_min_ttl_ms, 5000);
	cr_assert_eq(cfg->services[1].dns_max_ttl_ms, 300000);
	cr_assert_eq(cfg->services[1].dns_timeout_ms, 2000);
	swerve_config_free(cfg);
}

Test(config, rejects_bad_dns_settings)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_dns.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	expect_error(&r, path, 2, "dns_servers 'dns.example:53' must be");
	expect_error(&r, path, 6, "resolution must be static or dns");
	expect_error(&r, path, 8, "dns_min_ttl (10000ms) is longer than "
				  "dns_max_ttl (1000ms)");
	cr_assert_eq(r.nerrors, 3);
}

Test(config, rejects_a_vip_cidr_outside_127_8)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_vip_cidr.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 2, "vip_cidr must lie inside 127.0.0.0/8");
}

Test(config, rejects_malformed_vip_cidrs)
{
	static const char *const bad[] = {
		"127.77.0.0", "127.77.0.0/7", "127.77.0.0/31", "127.77.0.1/16",
		"127.77.0/16", "127.77.0.0/", "127.77.0.0/16x", "::1/64",
	};
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char text[256];
	size_t i;

	for (i = 0; i < SWERVE_ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), "[swerve]\nvip_cidr = %s\n",
			 bad[i]);
		cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r),
			     -EINVAL, "%s", bad[i]);
		expect_error(&r, path, 2, "bad vip_cidr");
	}
}

Test(config, rejects_a_vip_cidr_too_small_for_the_services)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_small_cidr.ini", path, sizeof(path),
				  &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 2, "room for 2 service addresses, but 2 "
				  "services need 4");
}

Test(config, rejects_endpoints_inside_the_vip_cidr)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service a]\n"
			       "hosts = a.example\n"
			       "endpoint = 127.77.0.9:80\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 3, "lies inside vip_cidr");
}

Test(config, rejects_max_ejection_time_below_base_once_where_it_is_set)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_max_below_base.ini", path, sizeof(path),
				  &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 3, "max_ejection_time (60000ms) is shorter "
				  "than base_ejection_time (120000ms) in "
				  "[defaults]");
	expect_error(&r, path, 17, "in [service c]");
	cr_assert_eq(r.nerrors, 2);
}

Test(config, rejects_local_origin_failures_without_split)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_local_origin.ini", path, sizeof(path),
				  &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.nerrors, 1);
	expect_error(&r, path, 4, "consecutive_local_origin_failures needs "
				  "split_external_local_origin_errors = true");
}

Test(config, requires_hosts_and_endpoints_and_good_service_names)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_service.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	expect_error(&r, path, 1, "[service nohosts] has no hosts");
	expect_error(&r, path, 4, "[service noendpoints] has no endpoint");
	expect_error(&r, path, 7, "needs a name: [service NAME]");
	expect_error(&r, path, 8, "bad service name 'bad/name'");
	expect_error(&r, path, 9, "[service nohosts] appears twice (first at "
				  "line 1)");
	cr_assert_eq(r.nerrors, 5);
}

Test(config, rejects_duplicate_hosts_bad_hosts_and_bad_ports)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_hosts.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	expect_error(&r, path, 6, "host 'mydb.com' is already served by "
				  "[service a]");
	expect_error(&r, path, 8, "names, not addresses: '10.0.0.1'");
	expect_error(&r, path, 8, "'bad host' is not a host name");
	expect_error(&r, path, 8, "'a..b' is not a host name");
	expect_error(&r, path, 9, "port must be 1 to 65535, not '0'");
	expect_error(&r, path, 9, "port 80 is listed twice");
	cr_assert_eq(r.nerrors, 6);
}

Test(config, reports_syntax_errors_with_their_lines)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("bad_syntax.ini", path, sizeof(path), &cfg,
				  &r),
		     -EINVAL);
	expect_error(&r, path, 1, "section header without ']'");
	expect_error(&r, path, 5, "expected 'key = value' or a [section]");
	expect_error(&r, path, 7, "missing key name");
	cr_assert_eq(r.nerrors, 3);
}

Test(config, collects_every_error_and_copies_the_first_to_err)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char err[512];

	build_fixture_path(path, sizeof(path), "bad_many.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, false, &cfg, collect, &r, err,
					sizeof(err)),
		     -EINVAL);
	expect_error(&r, path, 2, "log must be error, warn, info or debug");
	expect_error(&r, path, 3, "shm 'swerve' must be '/'");
	expect_error(&r, path, 4, "locality 'us east'");
	expect_error(&r, path, 9, "lb must be round_robin, least_request or "
				  "random, not 'fastest'");
	expect_error(&r, path, 10, "from 100 to 1000 (a percentage: 140 "
				   "means 1.4), not '1.4'");
	expect_error(&r, path, 11, "connect_attempts must be a whole number "
				   "from 1 to 16");
	expect_error(&r, path, 12, "max_ejection_percent must be a whole "
				   "number from 0 to 100");
	expect_error(&r, path, 14, "interval is given twice in [service mydb] "
				   "(first at line 13)");
	expect_error(&r, path, 15, "key 'locality' belongs in [swerve]");
	cr_assert_eq(r.nerrors, 9);
	cr_assert_str_eq(err, r.msg[0]);
	expect_error(&r, path, 2, "");
	cr_assert_eq(strncmp(err, path, strlen(path)), 0);
}

Test(config, works_without_report_callback_or_err_buffer)
{
	struct swerve_config *cfg = NULL;
	char path[PATH_MAX];
	char err[16];

	build_fixture_path(path, sizeof(path), "bad_many.ini");
	cr_assert_eq(swerve_config_load(path, false, &cfg, NULL, NULL, NULL, 0),
		     -EINVAL);
	/* a short buffer gets a truncated, terminated message */
	cr_assert_eq(swerve_config_load(path, false, &cfg, NULL, NULL, err,
					sizeof(err)),
		     -EINVAL);
	cr_assert_eq(strlen(err), sizeof(err) - 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	cr_assert_eq(swerve_config_load(path, false, &cfg, NULL, NULL, NULL, 0),
		     0);
	swerve_config_free(cfg);
}

Test(config, reports_a_missing_file_as_enoent)
{
	struct swerve_config *cfg = (struct swerve_config *)1;
	struct reports r;
	char err[512];
	const char *path = "/nonexistent/swerve.ini";

	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, false, &cfg, collect, &r, err,
					sizeof(err)),
		     -ENOENT);
	cr_assert_null(cfg);
	cr_assert_str_eq(err, "/nonexistent/swerve.ini: No such file or "
			      "directory");
	cr_assert_eq(r.nerrors, 1);
}

Test(config, reports_lines_longer_than_inih_reads_but_not_long_comments)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char text[1024];
	char pad[300];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "; %s\n"
		 "[service a]\n"
		 "hosts = a.example\n"
		 "endpoint = 127.0.0.2 locality=%s\n"
		 "endpoint = 127.0.0.3\n",
		 pad, pad);
	cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 4, "line is longer than 198 characters");
	cr_assert_eq(r.nerrors, 1);
}

Test(config, reports_keys_outside_sections_and_empty_values)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("locality = us\n"
			       "[swerve]\n"
			       "shm =\n"
			       "[defaults]\n"
			       "hosts = a.example\n"
			       "vip_cidr = 127.1.0.0/16\n"
			       "[swerve]\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 1, "key 'locality' comes before any [section]");
	expect_error(&r, path, 3, "key 'shm' in [swerve] needs a value");
	expect_error(&r, path, 5, "key 'hosts' belongs in a [service NAME]");
	expect_error(&r, path, 6, "key 'vip_cidr' belongs in [swerve]");
	expect_error(&r, path, 7, "[swerve] appears twice (first at line 2)");
	cr_assert_eq(r.nerrors, 5);
}

Test(config, accepts_long_service_names_beyond_inih_section_buffer)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char name[64];
	char text[512];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "[service %s]\nhosts = a.example\nendpoint = 127.0.0.2\n",
		 name);
	cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r), 0);
	cr_assert_str_eq(cfg->services[0].name, name);
	swerve_config_free(cfg);
}

Test(config, notes_several_localities_without_outlier_detection)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service mydb]\n"
			       "hosts = mydb.com\n"
			       "endpoint = 127.0.0.2 locality=us-east1\n"
			       "endpoint = 127.0.0.3 locality=us-west\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_not_null(cfg);
	cr_assert_eq(r.nerrors, 0);
	cr_assert_eq(r.nnotes, 1);
	expect_report(&r, false, path, 1,
		      "service mydb has endpoints in several localities but "
		      "no outlier detection: like Istio, swerve uses no "
		      "priority tiers without it");
	swerve_config_free(cfg);
}

Test(config, says_where_each_kind_of_key_belongs)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char all[MAX_REPORTS * 800];

	cr_assert_eq(load_text("[swerve]\n"
			       "shm = /a\n"
			       "shm = /b\n"
			       "interval = 1s\n"
			       "hosts = x.test\n"
			       "[defaults]\n"
			       "log = info\n"
			       "endpoint = 127.0.0.2\n"
			       "label.zone = a\n"
			       "[service s]\n"
			       "hosts = s.test\n"
			       "endpoint = 127.0.0.2\n"
			       "dns_servers = 127.0.0.1\n"
			       "label.zone = a\n"
			       "failover_priority = env\n"
			       "failover_priority = env\n"
			       "interval = 1s\n"
			       "interval = 2s\n"
			       "no_such_key = 1\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 3, "shm is given twice in [swerve] (first at "
		     "line 2)");
	expect_error(&r, path, 4, "key 'interval' belongs in [defaults] or a "
		     "[service NAME] section, not [swerve]");
	expect_error(&r, path, 5, "key 'hosts' belongs in a [service NAME] "
		     "section, not [swerve]");
	expect_error(&r, path, 7, "key 'log' belongs in [swerve], not "
		     "[defaults]");
	expect_error(&r, path, 8, "key 'endpoint' belongs in a [service NAME] "
		     "section, not [defaults]");
	expect_error(&r, path, 9, "key 'label.zone' belongs in [swerve] (this "
		     "host's labels), not [defaults]");
	expect_error(&r, path, 13, "key 'dns_servers' belongs in [swerve], "
		     "not [service s]");
	expect_error(&r, path, 14, "unknown key 'label.zone' in [service s]");
	expect_error(&r, path, 16, "failover_priority is given twice in "
		     "[service s] (first at line 15)");
	expect_error(&r, path, 18, "interval is given twice in [service s] "
		     "(first at line 17)");
	expect_error(&r, path, 19, "unknown key 'no_such_key' in [service s]");
	dump(&r, all, sizeof(all));
	cr_assert_eq(r.nerrors, 11, "%s", all);
}

/* Each problem's place and message come apart, and its text joins them. */
Test(config, reports_each_problem_with_its_place_and_message_apart)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char text[PATH_MAX + 600];
	const char *missing = "/nonexistent/swerve.ini";

	/* An error and a note at lines of the file. */
	cr_assert_eq(load_text("[service mydb]\n"
			       "hosts = mydb.com\n"
			       "endpoint = 127.0.0.2 locality=us-east1\n"
			       "endpoint = 127.0.0.3 locality=us-west\n"
			       "ports = 0\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	cr_assert_eq(r.n, 2);
	cr_assert(r.is_error[0]);
	cr_assert_str_eq(r.fields[0].file, path);
	cr_assert_eq(r.fields[0].line, 5);
	cr_assert_not(r.fields[0].has_env);
	cr_assert_str_eq(r.fields[0].msg, "port must be 1 to 65535, not '0'");
	snprintf(text, sizeof(text), "%s:5: %s", path, r.fields[0].msg);
	cr_assert_str_eq(r.msg[0], text);
	cr_assert_not(r.is_error[1]);
	cr_assert_eq(r.fields[1].line, 1);
	cr_assert_eq(strncmp(r.fields[1].msg, "service mydb has endpoints in "
			     "several localities", 48), 0, "%s",
		     r.fields[1].msg);

	/* The file as a whole: no line. */
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(missing, false, &cfg, collect, &r,
					NULL, 0),
		     -ENOENT);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.fields[0].file, missing);
	cr_assert_eq(r.fields[0].line, 0);
	cr_assert_not(r.fields[0].has_env);
	cr_assert_str_eq(r.fields[0].msg, "No such file or directory");
	cr_assert_str_eq(r.msg[0], "/nonexistent/swerve.ini: No such file or "
			 "directory");

	/* An environment override: the variable, no line. */
	setenv("SWERVE_LOG", "loud", 1);
	build_fixture_path(path, sizeof(path), "good.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, true, &cfg, collect, &r, NULL,
					0),
		     -EINVAL);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.fields[0].file, path);
	cr_assert_eq(r.fields[0].line, 0);
	cr_assert(r.fields[0].has_env);
	cr_assert_str_eq(r.fields[0].env, "SWERVE_LOG");
	cr_assert_str_eq(r.fields[0].msg,
			 "log must be error, warn, info or debug, not 'loud'");
	cr_assert_str_eq(r.msg[0], "SWERVE_LOG: log must be error, warn, info "
			 "or debug, not 'loud'");
}
