/*
 * Unit tests of config's locality rules (failover, failover_priority,
 * distribute) and labels.
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

/* Locality rules: failover, failover_priority, distribute, labels ------- */

Test(config, locality_rules_and_labels_load)
{
	static const char text[] =
		"[swerve]\n"
		"locality = us-east/a\n"
		"label.topology.istio.io/network = net1\n"
		"label.env = prod\n"
		"[service db]\n"
		"hosts = db.internal\n"
		"endpoint = 127.0.0.2:80 locality=us-east/a label.env=prod "
		"label.topology.istio.io/network=net1 weight=3\n"
		"endpoint = 127.0.0.3:80 locality=us-east/b label.env=dev\n"
		"endpoint = 127.0.0.4:80 locality=us-east/a\n"
		"endpoint = 127.0.0.5:80 locality=eu/c\n"
		"failover = us-east -> eu\n"
		"failover = eu -> us-east\n"
		"failover_priority = topology.istio.io/network, env=prod\n"
		"consecutive_5xx_errors = 1\n"
		"[service web]\n"
		"hosts = web.internal\n"
		"endpoint = 127.0.0.6:80 locality=us-east/a\n"
		"endpoint = 127.0.0.7:80 locality=us-west/b\n"
		"distribute = us-east/* -> us-east/*:80, us-west:20\n"
		"distribute = * -> us-west/b:100\n";
	const struct swerve_service *db, *web;
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX], all[MAX_REPORTS * 800];

	cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r), 0);
	dump(&r, all, sizeof(all));
	cr_assert_eq(r.n, 0, "%s", all);
	cr_assert_eq(cfg->nlabels, 2);
	cr_assert_str_eq(cfg->labels[0].key, "topology.istio.io/network");
	cr_assert_str_eq(cfg->labels[0].value, "net1");
	cr_assert_str_eq(swerve_config_label(cfg->labels, cfg->nlabels,
					     &cfg->locality, "env"), "prod");
	cr_assert_str_eq(swerve_config_label(cfg->labels, cfg->nlabels,
					     &cfg->locality,
					     SWERVE_LABEL_ZONE), "a");
	cr_assert_str_eq(swerve_config_label(cfg->labels, cfg->nlabels,
					     &cfg->locality, "nope"), "");

	db = find_service(cfg, "db");
	cr_assert_eq(db->endpoints[0].nlabels, 2);
	cr_assert_str_eq(db->endpoints[0].labels[1].value, "net1");
	cr_assert_eq(db->endpoints[0].weight, 3);
	cr_assert_eq(db->nlocalities, 3);
	cr_assert_eq(db->endpoints[2].group, 0, "same locality, same group");
	cr_assert_eq(db->endpoints[1].group, 1);
	cr_assert_eq(db->endpoints[3].group, 2);
	cr_assert_eq(db->localities[0].weight, 4, "3 + 1");
	cr_assert_eq(db->localities[0].nendpoints, 2);
	cr_assert_str_eq(db->localities[2].text, "eu/c");
	cr_assert_eq(db->nfailover, 2);
	cr_assert_str_eq(db->failover[0].from, "us-east");
	cr_assert_str_eq(db->failover[0].to, "eu");
	cr_assert_eq(db->nfailover_priority, 2);
	cr_assert_not(db->failover_priority[0].has_value);
	cr_assert_str_eq(db->failover_priority[1].key, "env");
	cr_assert(db->failover_priority[1].has_value);
	cr_assert_str_eq(db->failover_priority[1].value, "prod");

	web = find_service(cfg, "web");
	cr_assert_eq(web->ndistribute, 2);
	cr_assert_str_eq(web->distribute[0].from.region, "us-east");
	cr_assert_str_eq(web->distribute[0].from.zone, "*");
	cr_assert_eq(web->distribute[0].nto, 2);
	cr_assert_str_eq(web->distribute[0].to[1].pattern.region, "us-west");
	cr_assert_str_eq(web->distribute[0].to[1].pattern.zone, "");
	cr_assert_eq(web->distribute[0].to[1].weight, 20);
	cr_assert_str_eq(web->distribute[1].from.region, "*");
	swerve_config_free(cfg);
}

struct rule_case {
	char line[200];     /* the rule lines of [service s] */
	char needle[120];   /* the error expected on line 7 */
};

ParameterizedTestParameters(config, bad_locality_rules)
{
	static struct rule_case cases[] = {
		{ "failover = us-east\n", "FROM_REGION -> TO_REGION" },
		{ "failover = us-east -> us-east\n", "to itself" },
		{ "failover = us-east/a -> eu\n", "regions, without '/'" },
		{ "failover = * -> eu\n", "regions, without '/'" },
		{ "failover = a -> b -> c\n", "FROM_REGION -> TO_REGION" },
		{ "failover_priority = env, env\n", "lists env twice" },
		{ "failover_priority = bad key\n", "not a label key" },
		{ "distribute = us-east -> eu:50, us-west:40\n",
		  "sum to 90, not 100" },
		{ "distribute = us-east -> eu:0, us-west:100\n",
		  "must be 1 to 100" },
		{ "distribute = us-east -> eu:101\n", "must be 1 to 100" },
		{ "distribute = us-east -> eu\n", "needs a weight" },
		{ "distribute = us-east -> eu/*:50, eu/a:50\n",
		  "targets eu/* and eu/a overlap" },
		{ "distribute = us-east -> *:50, eu:50\n",
		  "targets * and eu overlap" },
		{ "distribute = us-east -> eu:50, eu/b:50\n", "overlap" },
		{ "distribute = us-* -> eu:100\n", "not region[/zone" },
		{ "distribute = us-east\n", "FROM -> TO:WEIGHT" },
		{ "endpoint = 127.0.0.9:80 label.env=a label.env=b\n",
		  "label env is given twice" },
		{ "endpoint = 127.0.0.9:80 "
		  "label.topology.kubernetes.io/zone=a\n",
		  "comes from the locality" },
		{ "endpoint = 127.0.0.9:80 label.e%v=a\n", "bad label key" },
	};

	return cr_make_param_array(struct rule_case, cases,
				   SWERVE_ARRAY_LEN(cases));
}

ParameterizedTest(struct rule_case *c, config, bad_locality_rules)
{
	char text[1024], path[PATH_MAX];
	struct swerve_config *cfg = NULL;
	struct reports r;

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality = us-east/a\n"
		 "[service s]\n"
		 "hosts = s.internal\n"
		 "endpoint = 127.0.0.2:80 locality=us-east/a\n"
		 "consecutive_5xx_errors = 1\n"
		 "%s", c->line);
	cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r), -EINVAL);
	cr_assert_null(cfg);
	expect_error(&r, path, 7, c->needle);
}

Test(config, locality_rule_combinations_follow_istio)
{
	char path[PATH_MAX];
	struct swerve_config *cfg = NULL;
	struct reports r;

	/* distribute + failover: refused, as Istio does */
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "distribute = a -> a:100\n"
			       "failover = a -> b\n"
			       "consecutive_5xx_errors = 1\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 4, "both distribute and failover");

	/* distribute + failover_priority: Istio ignores one, swerve refuses */
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "distribute = a -> a:100\n"
			       "failover_priority = env\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 5, "both distribute and failover_priority");

	/* failover + locality labels in failover_priority */
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "failover = a -> b\n"
			       "failover_priority = env, "
			       "topology.kubernetes.io/region\n"
			       "consecutive_5xx_errors = 1\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 5, "uses topology.kubernetes.io/region");

	/* the same rule twice */
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "failover = a -> b\n"
			       "failover = a -> c\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 5, "failover from a is given twice");
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "distribute = a/* -> a:100\n"
			       "distribute = a/* -> b:100\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 5, "distribute from a/* is given twice");

	/* label keys belong in [swerve] and rules in a service */
	cr_assert_eq(load_text("[defaults]\n"
			       "label.env = prod\n"
			       "failover = a -> b\n",
			       path, sizeof(path), &cfg, &r), -EINVAL);
	expect_error(&r, path, 2, "belongs in [swerve]");
	expect_error(&r, path, 3, "belongs in a [service NAME] section");
}

Test(config, notes_for_rules_that_cannot_act)
{
	char path[PATH_MAX];
	struct swerve_config *cfg = NULL;
	struct reports r;

	/* failover without outlier detection: Istio warns, so do we */
	cr_assert_eq(load_text("[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a\n"
			       "endpoint = 127.0.0.3:80 locality=b\n"
			       "failover = a -> b\n",
			       path, sizeof(path), &cfg, &r), 0);
	expect_report(&r, false, path, 5, "no outlier detection");
	expect_report(&r, false, path, 1, "several localities");
	swerve_config_free(cfg);

	/* a distribute rule that leaves a locality out */
	cr_assert_eq(load_text("[swerve]\n"
			       "locality = a/x\n"
			       "[service s]\n"
			       "hosts = s.internal\n"
			       "endpoint = 127.0.0.2:80 locality=a/x\n"
			       "endpoint = 127.0.0.3:80 locality=b/y\n"
			       "distribute = a -> a:100\n",
			       path, sizeof(path), &cfg, &r), 0);
	expect_report(&r, false, path, 7, "no target for locality 'b/y'");
	cr_assert_eq(r.nnotes, 1, "no 'several localities' note: "
		     "distribute weighs them");
	swerve_config_free(cfg);
}

Test(config, locality_patterns_match_like_istio)
{
	struct swerve_locality loc, pat;

	cr_assert_eq(swerve_config_parse_locality("r1/z1/s1", &loc), 0);
	cr_assert_eq(swerve_config_parse_pattern("r1", &pat), 0);
	cr_assert(swerve_config_locality_match(&loc, &pat));
	cr_assert_eq(swerve_config_parse_pattern("*", &pat), 0);
	cr_assert(swerve_config_locality_match(&loc, &pat));
	cr_assert_eq(swerve_config_parse_pattern("r1/*/s1", &pat), 0);
	cr_assert(swerve_config_locality_match(&loc, &pat));
	cr_assert_eq(swerve_config_parse_pattern("r1/z2", &pat), 0);
	cr_assert_not(swerve_config_locality_match(&loc, &pat));
	cr_assert_eq(swerve_config_parse_pattern("r2/*", &pat), 0);
	cr_assert_not(swerve_config_locality_match(&loc, &pat));
	cr_assert_eq(swerve_config_parse_pattern("r*", &pat), -EINVAL);
	cr_assert_eq(swerve_config_parse_pattern("", &pat), -EINVAL);
}
