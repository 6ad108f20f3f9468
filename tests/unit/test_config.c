/*
 * Unit tests of config: the good fixture field by field, every class of bad
 * file with its file:line, value parsers as tables, environment overrides,
 * and the lookups the hooks use (names, service addresses, ports).
 * Fixtures live in tests/fixtures/ under $SWERVE_SRC (default "."); small
 * variations are written to a temporary directory by load_text().
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

#define MAX_REPORTS 32

struct reports {
	char msg[MAX_REPORTS][768];
	bool is_error[MAX_REPORTS];
	unsigned n;
	unsigned nerrors;
	unsigned nnotes;
};

static void collect(void *ctx, bool is_error, const char *msg)
{
	struct reports *r = ctx;

	if (is_error)
		r->nerrors++;
	else
		r->nnotes++;
	if (r->n == MAX_REPORTS)
		return;
	snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", msg);
	r->is_error[r->n] = is_error;
	r->n++;
}

static void build_fixture_path(char *buf, size_t size, const char *name)
{
	const char *root = getenv("SWERVE_SRC");

	snprintf(buf, size, "%s/tests/fixtures/%s",
		 root != NULL && *root != '\0' ? root : ".", name);
}

static void build_repo_path(char *buf, size_t size, const char *name)
{
	const char *root = getenv("SWERVE_SRC");

	snprintf(buf, size, "%s/%s", root != NULL && *root != '\0' ? root : ".",
		 name);
}

static int load_fixture(const char *name, char *path, size_t size,
			struct swerve_config **cfg, struct reports *r)
{
	build_fixture_path(path, size, name);
	memset(r, 0, sizeof(*r));
	return swerve_config_load(path, false, cfg, collect, r, NULL, 0);
}

/* Writes <text> to a fresh file, loads it and removes it again. */
static int load_text(const char *text, char *path, size_t size,
		     struct swerve_config **cfg, struct reports *r)
{
	char dir[] = "/tmp/swerve-config-XXXXXX";
	FILE *f;
	int rc;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, size, "%s/test.ini", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	memset(r, 0, sizeof(*r));
	rc = swerve_config_load(path, false, cfg, collect, r, NULL, 0);
	unlink(path);
	rmdir(dir);
	return rc;
}

static void dump(const struct reports *r, char *out, size_t size)
{
	size_t used = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < r->n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "\n  %s %s",
					 r->is_error[i] ? "error" : "note",
					 r->msg[i]);
}

/* Asserts a report "<path>:<line>: ..." containing <needle>. */
static void expect_report(const struct reports *r, bool is_error,
			  const char *path, int line, const char *needle)
{
	char prefix[PATH_MAX + 32];
	char all[MAX_REPORTS * 800];
	size_t plen;
	unsigned i;

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", path);
	plen = strlen(prefix);
	for (i = 0; i < r->n; i++) {
		if (r->is_error[i] == is_error &&
		    strncmp(r->msg[i], prefix, plen) == 0 &&
		    strstr(r->msg[i] + plen, needle) != NULL)
			return;
	}
	dump(r, all, sizeof(all));
	cr_assert_fail("no %s \"%s...%s\" among:%s",
		       is_error ? "error" : "note", prefix, needle, all);
}

static void expect_error(const struct reports *r, const char *path, int line,
			 const char *needle)
{
	expect_report(r, true, path, line, needle);
}

static const struct swerve_service *find_service(
	const struct swerve_config *cfg, const char *name)
{
	unsigned i;

	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	}
	cr_assert_fail("no service %s", name);
	return NULL;
}

static uint16_t get_port(const struct swerve_endpoint *ep)
{
	if (ep->addr.ss_family == AF_INET6)
		return ntohs(
			((const struct sockaddr_in6 *)&ep->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&ep->addr)->sin_port);
}

static uint32_t parse_ipv4(const char *s)
{
	struct in_addr in;

	cr_assert_eq(inet_pton(AF_INET, s, &in), 1);
	return ntohl(in.s_addr);
}

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

Test(config, derives_endpoint_keys_from_service_and_text)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *svc;
	uint64_t h;
	unsigned s, e;

	cr_assert_eq(load_fixture("good.ini", path, sizeof(path), &cfg, &r), 0);
	for (s = 0; s < cfg->nservices; s++) {
		svc = &cfg->services[s];
		for (e = 0; e < svc->nendpoints; e++) {
			const char *text = svc->endpoints[e].text;

			h = swerve_hash64(svc->name, strlen(svc->name),
					  SWERVE_HASH_SEED);
			h = swerve_hash64("", 1, h);
			h = swerve_hash64(text, strlen(text), h);
			cr_assert_neq(svc->endpoints[e].key, 0);
			cr_assert_eq(svc->endpoints[e].key, h != 0 ? h : 1,
				     "key of %s/%s", svc->name, text);
		}
	}
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
	cr_assert_str_eq(cfg->shm_name, SWERVE_DEFAULT_SHM);
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
			cr_assert_eq(a->services[s].endpoints[e].key,
				     b->services[s].endpoints[e].key);
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

/* Value parsers as tables ----------------------------------------------- */

struct duration_case {
	char text[32];
	int rc;
	uint64_t ms;
};

ParameterizedTestParameters(config, parses_durations)
{
	static struct duration_case cases[] = {
		{ "0ms", 0, 0 },
		{ "1ms", 0, 1 },
		{ "250ms", 0, 250 },
		{ "15s", 0, 15000 },
		{ "1m", 0, 60000 },
		{ "2h", 0, 7200000 },
		{ "007s", 0, 7000 },
		{ "", -EINVAL, 0 },
		{ "15", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "+1s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1S", -EINVAL, 0 },
		{ "1d", -EINVAL, 0 },
		{ "1us", -EINVAL, 0 },
		{ "1mss", -EINVAL, 0 },
		{ "18446744073709551616ms", -EINVAL, 0 },
		{ "5124095576030432h", -EINVAL, 0 },
	};

	return cr_make_param_array(struct duration_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct duration_case *c, config, parses_durations)
{
	uint64_t ms = 12345;

	cr_assert_eq(swerve_config_parse_duration(c->text, &ms), c->rc,
		     "\"%s\"", c->text);
	if (c->rc == 0)
		cr_assert_eq(ms, c->ms, "\"%s\"", c->text);
	else
		cr_assert_eq(ms, 12345, "\"%s\" wrote its output", c->text);
}

#define A21 "aaaaaaaaaaaaaaaaaaaaa"

struct locality_case {
	char text[200];
	int rc;
	char region[64];
	char zone[64];
	char subzone[64];
};

ParameterizedTestParameters(config, parses_localities)
{
	static struct locality_case cases[] = {
		{ "us-east1", 0, "us-east1", "", "" },
		{ "us-east1/b", 0, "us-east1", "b", "" },
		{ "eu/eu-west-1a/rack7", 0, "eu", "eu-west-1a", "rack7" },
		{ "Region_1/Z", 0, "Region_1", "Z", "" },
		{ "", -EINVAL, "", "", "" },
		{ "/b", -EINVAL, "", "", "" },
		{ "a/", -EINVAL, "", "", "" },
		{ "a//c", -EINVAL, "", "", "" },
		{ "a/b/c/d", -EINVAL, "", "", "" },
		{ "us east", -EINVAL, "", "", "" },
		{ "a\tb", -EINVAL, "", "", "" },
		{ A21 A21 A21, 0, A21 A21 A21, "", "" },      /* 63 bytes */
		{ "a/" A21 A21 A21 "a", -EINVAL, "", "", "" }, /* 64 bytes */
	};

	return cr_make_param_array(struct locality_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct locality_case *c, config, parses_localities)
{
	struct swerve_locality loc;

	memset(&loc, 'x', sizeof(loc));
	loc.region[sizeof(loc.region) - 1] = '\0';
	cr_assert_eq(swerve_config_parse_locality(c->text, &loc), c->rc,
		     "\"%s\"", c->text);
	if (c->rc != 0) {
		cr_assert_eq(loc.region[0], 'x', "\"%s\" wrote its output",
			     c->text);
		return;
	}
	cr_assert_str_eq(loc.region, c->region);
	cr_assert_str_eq(loc.zone, c->zone);
	cr_assert_str_eq(loc.subzone, c->subzone);
}

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
