/*
 * Unit tests of config on good files: the good fixture field by field, the
 * shipped configs, service addresses, and the lookups the hooks use (names,
 * service addresses, ports). Helpers: test_config_support.c.
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

/* The good fixture ------------------------------------------------------ */

Test(config, loads_the_good_fixture_without_reports)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char all[MAX_REPORTS * 800];

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	dump(&r, all, sizeof(all));
	cr_assert_eq(r.n, 0, "unexpected reports:%s", all);
	cr_assert_not_null(cfg);
	cr_assert_str_eq(cfg->path, path);
	cr_assert_str_eq(cfg->locality.region, "us-east1");
	cr_assert_str_eq(cfg->locality.zone, "b");
	cr_assert_str_eq(cfg->locality.subzone, "");
	cr_assert_str_eq(cfg->locality_text, "us-east1/b");
	cr_assert_eq(cfg->vip_net, parse_ipv4("127.80.0.0"));
	cr_assert_eq(cfg->vip_mask, 0xffff0000u);
	cr_assert_eq(cfg->vip_prefix, 16);
	cr_assert_str_eq(cfg->shm_name, "/swerve-test");
	cr_assert_eq(cfg->log_level, SWERVE_LOG_INFO);
	cr_assert_eq(cfg->nservices, 4);
	cr_assert_str_eq(cfg->services[0].name, "mydb");
	cr_assert_str_eq(cfg->services[3].name, "catchall");
	swerve_config_free(cfg);
}

Test(config, stores_hosts_lower_case_without_trailing_dot)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	cr_assert_eq(db->line, 13);
	cr_assert_eq(db->nhosts, 2);
	cr_assert_str_eq(db->hosts[0], "mydb.com");
	cr_assert_str_eq(db->hosts[1], "db.example");
	cr_assert_eq(db->nports, 2);
	cr_assert_eq(db->ports[0], 5432);
	cr_assert_eq(db->ports[1], 5433);
	cr_assert_str_eq(find_service(cfg, "web")->hosts[0], "*.web.example");
	swerve_config_free(cfg);
}

Test(config, parses_endpoints_with_locality_weight_and_port)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db;
	const struct swerve_endpoint *ep;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	cr_assert_eq(db->nendpoints, 3);

	ep = &db->endpoints[0];
	cr_assert_str_eq(ep->text, "127.0.0.2:18080");
	cr_assert_eq(ep->addr.ss_family, AF_INET);
	cr_assert_eq(ep->addrlen, sizeof(struct sockaddr_in));
	cr_assert_eq(get_port(ep), 18080);
	cr_assert_eq(ntohl(((const struct sockaddr_in *)&ep->addr)
				   ->sin_addr.s_addr),
		     parse_ipv4("127.0.0.2"));
	cr_assert_str_eq(ep->locality.region, "us-east1");
	cr_assert_str_eq(ep->locality.zone, "b");
	cr_assert_str_eq(ep->locality_text, "us-east1/b");
	cr_assert_eq(ep->weight, 1);
	cr_assert_eq(ep->line, 16);

	ep = &db->endpoints[1];
	cr_assert_str_eq(ep->locality.region, "us-west");
	cr_assert_str_eq(ep->locality.zone, "");
	cr_assert_eq(ep->weight, 3);

	ep = &db->endpoints[2];
	cr_assert_str_eq(ep->text, "[::1]:18081");
	cr_assert_eq(ep->addr.ss_family, AF_INET6);
	cr_assert_eq(ep->addrlen, sizeof(struct sockaddr_in6));
	cr_assert_eq(get_port(ep), 18081);
	cr_assert_str_eq(ep->locality.zone, "c");

	cr_assert_eq(find_service(cfg, "web-admin")->endpoints[0].weight,
		     10000);
	swerve_config_free(cfg);
}

Test(config, keeps_port_zero_for_endpoints_without_port)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *web;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	web = find_service(cfg, "web");
	cr_assert_eq(web->nendpoints, 3);
	cr_assert_str_eq(web->endpoints[0].text, "127.0.0.4");
	cr_assert_eq(get_port(&web->endpoints[0]), 0);
	cr_assert_str_eq(web->endpoints[0].locality_text, "");
	cr_assert_str_eq(web->endpoints[1].text, "[::1]");
	cr_assert_eq(web->endpoints[1].addr.ss_family, AF_INET6);
	cr_assert_eq(get_port(&web->endpoints[1]), 0);
	swerve_config_free(cfg);
}

Test(config, treats_a_continuation_line_as_the_key_repeated)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *web;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	web = find_service(cfg, "web");
	cr_assert_str_eq(web->endpoints[2].text, "127.0.0.5:8080");
	cr_assert_eq(web->endpoints[2].line, 28);
	swerve_config_free(cfg);
}

Test(config, resolves_tuning_from_service_then_defaults_then_builtin)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db, *web, *admin;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	web = find_service(cfg, "web");
	admin = find_service(cfg, "web-admin");

	/* the service's own value beats [defaults] */
	cr_assert_eq(db->connect_timeout_ms, 500);
	cr_assert_eq(admin->lb, SWERVE_LB_RANDOM);
	/* [defaults] beats the built-in value */
	cr_assert_eq(web->connect_timeout_ms, 2000);
	cr_assert_eq(db->connect_attempts, 2);
	cr_assert_eq(db->lb, SWERVE_LB_LEAST_REQUEST);
	/* built-in values */
	cr_assert_eq(db->overprovisioning_factor, 140);

	cr_assert_eq(db->outlier.enabled, true);
	cr_assert_eq(db->outlier.consecutive_5xx, 1);
	cr_assert_eq(db->outlier.consecutive_gateway, 0);
	cr_assert_eq(db->outlier.consecutive_local_origin, 5);
	cr_assert_eq(db->outlier.split_external_local_origin, false);
	cr_assert_eq(db->outlier.interval_ms, 15000);
	cr_assert_eq(db->outlier.base_ejection_ms, 60000);
	cr_assert_eq(db->outlier.max_ejection_ms, 300000);
	cr_assert_eq(db->outlier.max_ejection_percent, 10);
	cr_assert_eq(db->outlier.min_ejectable_hosts, 1);
	cr_assert_eq(db->outlier.min_health_percent, 0);
	swerve_config_free(cfg);
}

Test(config, enables_outlier_detection_only_when_a_key_is_given)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *web;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	web = find_service(cfg, "web");
	cr_assert_eq(web->outlier.enabled, false);
	cr_assert_eq(web->outlier.consecutive_5xx, 5);
	cr_assert_eq(web->outlier.interval_ms, 10000);
	cr_assert_eq(web->outlier.base_ejection_ms, 30000);
	swerve_config_free(cfg);
}

Test(config, applies_outlier_keys_of_defaults_to_every_service)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service a]\n"
			       "hosts = a.example\n"
			       "endpoint = 127.0.0.2\n"
			       "consecutive_5xx_errors = 7\n"
			       "[defaults]\n"
			       "consecutive_5xx_errors = 3\n"
			       "split_external_local_origin_errors = true\n"
			       "[service b]\n"
			       "hosts = b.example\n"
			       "endpoint = 127.0.0.3\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(find_service(cfg, "a")->outlier.enabled, true);
	cr_assert_eq(find_service(cfg, "a")->outlier.consecutive_5xx, 7);
	cr_assert_eq(
		find_service(cfg, "a")->outlier.split_external_local_origin,
		true);
	cr_assert_eq(find_service(cfg, "b")->outlier.enabled, true);
	cr_assert_eq(find_service(cfg, "b")->outlier.consecutive_5xx, 3);
	swerve_config_free(cfg);
}

Test(config, defaults_max_ejection_time_to_base_when_base_is_longer)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service a]\n"
			       "hosts = a.example\n"
			       "endpoint = 127.0.0.2\n"
			       "base_ejection_time = 10m\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(cfg->services[0].outlier.max_ejection_ms, 600000);
	swerve_config_free(cfg);
}

Test(config, uses_builtin_values_for_an_empty_swerve_section)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service a]\n"
			       "hosts = a.example\n"
			       "endpoint = 127.0.0.2\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_str_eq(cfg->locality.region, "");
	cr_assert_str_eq(cfg->locality_text, "");
	snprintf(path, sizeof(path), "%s.%u", SWERVE_DEFAULT_SHM,
		 (unsigned)geteuid());
	cr_assert_str_eq(cfg->shm_name, path);
	cr_assert_eq(cfg->log_level, SWERVE_LOG_WARN);
	cr_assert_eq(cfg->vip_net, parse_ipv4("127.77.0.0"));
	cr_assert_eq(cfg->vip_prefix, 16);
	cr_assert_eq(cfg->services[0].nports, 0);
	cr_assert_eq(cfg->services[0].lb, SWERVE_LB_ROUND_ROBIN);
	cr_assert_eq(cfg->services[0].connect_timeout_ms, 10000);
	cr_assert_eq(cfg->services[0].connect_attempts, 3);
	swerve_config_free(cfg);
}

Test(config, loads_the_shipped_configs_without_errors)
{
	static const char *const files[] = { "conf/swerve.ini",
					     "conf/demo.ini" };
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char all[MAX_REPORTS * 800];
	size_t i;

	for (i = 0; i < SWERVE_ARRAY_LEN(files); i++) {
		build_repo_path(path, sizeof(path), files[i]);
		memset(&r, 0, sizeof(r));
		cr_assert_eq(swerve_config_load(path, false, &cfg, collect, &r,
						NULL, 0),
			     0, "%s", path);
		dump(&r, all, sizeof(all));
		cr_assert_eq(r.n, 0, "%s:%s", path, all);
		swerve_config_free(cfg);
	}
}

Test(config, loads_the_demo_as_documented)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db;

	build_repo_path(path, sizeof(path), "conf/demo.ini");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(swerve_config_load(path, false, &cfg, collect, &r, NULL,
					0),
		     0);
	cr_assert_str_eq(cfg->locality_text, "us-east1");
	cr_assert_str_eq(cfg->shm_name, "/swerve-demo");
	db = swerve_config_match_name(cfg, "mydb.com");
	cr_assert_not_null(db);
	cr_assert_eq(db->nendpoints, 2);
	/* The demo reads like the Istio example: endpoints are names. */
	cr_assert_eq(db->dns, true);
	cr_assert_str_eq(db->endpoints[0].text, "east.mydb.test:18080");
	cr_assert_str_eq(db->endpoints[0].name, "east.mydb.test");
	cr_assert_str_eq(cfg->dns_servers, "127.0.0.1:15335");
	cr_assert_str_eq(db->endpoints[1].locality.region, "us-west");
	cr_assert_eq(db->outlier.enabled, true);
	cr_assert_eq(db->outlier.consecutive_5xx, 1);
	cr_assert_eq(db->outlier.interval_ms, 15000);
	cr_assert_eq(db->outlier.base_ejection_ms, 60000);
	cr_assert_eq(db->outlier.min_ejectable_hosts, 1);
	cr_assert_eq(db->connect_timeout_ms, 10000);
	cr_assert_eq(swerve_config_serves_port(db, 80), true);
	swerve_config_free(cfg);
}

/* Service addresses --------------------------------------------------- */

Test(config, gives_every_service_distinct_vips_inside_the_cidr)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	uint32_t seen[8];
	unsigned n = 0, s, v, i;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	for (s = 0; s < cfg->nservices; s++) {
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			uint32_t a = cfg->services[s].vips[v];

			cr_assert_eq(a & cfg->vip_mask, cfg->vip_net);
			cr_assert_neq(a, cfg->vip_net, "network address");
			cr_assert_neq(a, cfg->vip_net | ~cfg->vip_mask,
				      "broadcast address");
			for (i = 0; i < n; i++)
				cr_assert_neq(seen[i], a, "vip given twice");
			seen[n++] = a;
		}
	}
	cr_assert_eq(n, 8);
	swerve_config_free(cfg);
}

Test(config, starts_vips_at_the_hash_of_the_service_name)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	uint64_t nslots = 65536 - 2;
	uint32_t start;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	/* The first service cannot collide: its addresses are the contract
	 * every process computes on its own. */
	start = (uint32_t)(swerve_hash64("mydb", 4, SWERVE_HASH_SEED) % nslots);
	cr_assert_eq(cfg->services[0].vips[0], cfg->vip_net + 1 + start);
	cr_assert_eq(cfg->services[0].vips[1],
		     cfg->vip_net + 1 + (uint32_t)((start + 1) % nslots));
	swerve_config_free(cfg);
}

Test(config, gives_the_same_vips_and_keys_in_every_load)
{
	struct swerve_config *a = NULL, *b = NULL;
	struct reports r;
	char path[PATH_MAX];
	unsigned s, e;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &a, &r), 0);
	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &b, &r), 0);
	cr_assert_eq(a->nservices, b->nservices);
	for (s = 0; s < a->nservices; s++) {
		cr_assert_eq(a->services[s].vips[0], b->services[s].vips[0]);
		cr_assert_eq(a->services[s].vips[1], b->services[s].vips[1]);
		for (e = 0; e < a->services[s].nendpoints; e++)
			cr_assert_str_eq(a->services[s].endpoints[e].text,
					 b->services[s].endpoints[e].text);
	}
	swerve_config_free(a);
	swerve_config_free(b);
}

Test(config, keeps_vips_of_earlier_services_when_one_is_appended)
{
	struct swerve_config *a = NULL, *b = NULL;
	struct reports r;
	char path[PATH_MAX];
	static const char base[] = "[service a]\n"
				   "hosts = a.example\n"
				   "endpoint = 127.0.0.2\n";
	char more[256];

	snprintf(more, sizeof(more), "%s[service b]\nhosts = b.example\n"
		 "endpoint = 127.0.0.3\n", base);
	cr_assert_eq(load_text(base, path, sizeof(path), &a, &r), 0);
	cr_assert_eq(load_text(more, path, sizeof(path), &b, &r), 0);
	cr_assert_eq(a->services[0].vips[0], b->services[0].vips[0]);
	cr_assert_eq(a->services[0].vips[1], b->services[0].vips[1]);
	swerve_config_free(a);
	swerve_config_free(b);
}

Test(config, fills_the_smallest_cidr_without_network_or_broadcast)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[swerve]\n"
			       "vip_cidr = 127.1.0.0/30\n"
			       "[service a]\n"
			       "hosts = a.example\n"
			       "endpoint = 127.0.0.2\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	cr_assert_eq(cfg->services[0].vips[0] + cfg->services[0].vips[1],
		     parse_ipv4("127.1.0.1") + parse_ipv4("127.1.0.2"));
	swerve_config_free(cfg);
}

Test(config, matches_vips_to_their_service_and_index)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	unsigned s, v, index;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	for (s = 0; s < cfg->nservices; s++) {
		for (v = 0; v < SWERVE_VIPS_PER_SERVICE; v++) {
			index = 99;
			cr_assert_eq(swerve_config_match_vip(
					     cfg, cfg->services[s].vips[v],
					     &index),
				     &cfg->services[s]);
			cr_assert_eq(index, v);
		}
	}
	swerve_config_free(cfg);
}

Test(config, matches_no_service_for_other_addresses)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	uint32_t a;
	unsigned s, index;
	bool used;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	cr_assert_null(
		swerve_config_match_vip(cfg, parse_ipv4("127.0.0.2"), &index));
	cr_assert_null(
		swerve_config_match_vip(cfg, parse_ipv4("10.80.0.1"), NULL));
	cr_assert_null(swerve_config_match_vip(cfg, cfg->vip_net, NULL));
	/* an unused address inside the cidr */
	for (a = cfg->vip_net + 1;; a++) {
		used = false;
		for (s = 0; s < cfg->nservices; s++)
			used |= cfg->services[s].vips[0] == a ||
				cfg->services[s].vips[1] == a;
		if (!used)
			break;
	}
	cr_assert_null(swerve_config_match_vip(cfg, a, &index));
	cr_assert_null(swerve_config_match_vip(NULL, a, &index));
	swerve_config_free(cfg);
}

/* Name matching --------------------------------------------------------- */

Test(config, matches_exact_names_regardless_of_case)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	cr_assert_eq(swerve_config_match_name(cfg, "mydb.com"), db);
	cr_assert_eq(swerve_config_match_name(cfg, "MYDB.Com"), db);
	cr_assert_eq(swerve_config_match_name(cfg, "db.example"), db);
	cr_assert_null(swerve_config_match_name(cfg, "mydb.co"));
	cr_assert_null(swerve_config_match_name(cfg, "xmydb.com"));
	cr_assert_null(swerve_config_match_name(cfg, "a.mydb.com"));
	swerve_config_free(cfg);
}

Test(config, ignores_one_trailing_dot_in_names)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	cr_assert_eq(swerve_config_match_name(cfg, "mydb.com."), db);
	cr_assert_null(swerve_config_match_name(cfg, "mydb.com.."));
	cr_assert_null(swerve_config_match_name(cfg, "."));
	cr_assert_null(swerve_config_match_name(cfg, ""));
	cr_assert_null(swerve_config_match_name(cfg, NULL));
	swerve_config_free(cfg);
}

Test(config, matches_wildcards_below_their_suffix_only)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *web;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	web = find_service(cfg, "web");
	cr_assert_eq(swerve_config_match_name(cfg, "www.web.example"), web);
	cr_assert_eq(swerve_config_match_name(cfg, "A.B.Web.Example."), web);
	/* "*.web.example" does not cover web.example itself ... */
	cr_assert_neq(swerve_config_match_name(cfg, "web.example"), web);
	/* ... which falls to the shorter wildcard "*.example" */
	cr_assert_eq(swerve_config_match_name(cfg, "web.example"),
		     find_service(cfg, "catchall"));
	cr_assert_null(swerve_config_match_name(cfg, "example"));
	cr_assert_null(swerve_config_match_name(cfg, "web.example.org"));
	swerve_config_free(cfg);
}

Test(config, prefers_exact_names_then_the_longest_wildcard_suffix)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	/* exact "db.example" beats "*.example" */
	cr_assert_eq(swerve_config_match_name(cfg, "db.example"),
		     find_service(cfg, "mydb"));
	/* "*.admin.web.example" beats "*.web.example" beats "*.example" */
	cr_assert_eq(swerve_config_match_name(cfg, "x.admin.web.example"),
		     find_service(cfg, "web-admin"));
	cr_assert_eq(swerve_config_match_name(cfg, "admin.web.example"),
		     find_service(cfg, "web"));
	cr_assert_eq(swerve_config_match_name(cfg, "other.example"),
		     find_service(cfg, "catchall"));
	swerve_config_free(cfg);
}

Test(config, matches_no_name_longer_than_dns_allows)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char name[400];

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	memset(name, 'a', sizeof(name));
	strcpy(name + sizeof(name) - 9, ".example");
	cr_assert_null(swerve_config_match_name(cfg, name));
	swerve_config_free(cfg);
}

Test(config, serves_listed_ports_or_every_port_when_none_are_listed)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *db, *web;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	db = find_service(cfg, "mydb");
	web = find_service(cfg, "web");
	cr_assert_eq(swerve_config_serves_port(db, 5432), true);
	cr_assert_eq(swerve_config_serves_port(db, 5433), true);
	cr_assert_eq(swerve_config_serves_port(db, 80), false);
	cr_assert_eq(swerve_config_serves_port(web, 80), true);
	cr_assert_eq(swerve_config_serves_port(web, 1), true);
	swerve_config_free(cfg);
}

Test(config, reload_is_true_unless_false_and_in_swerve_only)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[service a]\nhosts = a.example\n"
			       "endpoint = 127.0.0.2:80\n",
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert(cfg->reload);
	swerve_config_free(cfg);
	cr_assert_eq(load_text("[swerve]\nreload = false\n"
			       "[service a]\nhosts = a.example\n"
			       "endpoint = 127.0.0.2:80\n",
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert(!cfg->reload);
	swerve_config_free(cfg);
	load_bad("[swerve]\n"
		 "reload = maybe\n"
		 "reload = true\n"
		 "[defaults]\n"
		 "reload = false\n"
		 "[service a]\nhosts = a.example\nendpoint = 127.0.0.2:80\n",
		 path, &r, 3);
	expect_error(&r, path, 2, "reload must be true or false, not 'maybe'");
	expect_error(&r, path, 3, "reload is given twice in [swerve]");
	expect_error(&r, path, 5, "key 'reload' belongs in [swerve]");
}
