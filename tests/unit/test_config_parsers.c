/*
 * Unit tests of config's value parsers, as tables.
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

Test(config, names_lb_policies_as_the_config_spells_them)
{
	static const enum swerve_lb all[] = { SWERVE_LB_ROUND_ROBIN,
					      SWERVE_LB_LEAST_REQUEST,
					      SWERVE_LB_RANDOM };
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	char text[256];
	size_t i;

	cr_assert_str_eq(swerve_config_lb_name(SWERVE_LB_ROUND_ROBIN),
			 "round_robin");
	cr_assert_str_eq(swerve_config_lb_name(SWERVE_LB_LEAST_REQUEST),
			 "least_request");
	cr_assert_str_eq(swerve_config_lb_name(SWERVE_LB_RANDOM), "random");
	cr_assert_str_eq(swerve_config_lb_name((enum swerve_lb)3), "?");
	/* What the name says is what the file takes, for every policy. */
	for (i = 0; i < SWERVE_ARRAY_LEN(all); i++) {
		snprintf(text, sizeof(text),
			 "[service s]\nhosts = s.test\n"
			 "endpoint = 127.0.0.2:80\nlb = %s\n",
			 swerve_config_lb_name(all[i]));
		cr_assert_eq(load_text(text, path, sizeof(path), &cfg, &r), 0,
			     "%s", text);
		cr_assert_eq(cfg->services[0].lb, all[i]);
		swerve_config_free(cfg);
	}
	cr_assert_eq(load_text("[service s]\nhosts = s.test\n"
			       "endpoint = 127.0.0.2:80\nlb = fastest\n",
			       path, sizeof(path), &cfg, &r),
		     -EINVAL);
	expect_error(&r, path, 4, "lb must be round_robin, least_request or "
		     "random, not 'fastest'");
}

struct host_case {
	char in[300];
	size_t outlen;
	int rc;
	char out[64];
};

ParameterizedTestParameters(config, normalizes_host_names)
{
	static struct host_case cases[] = {
		{ "db.example.com", 256, 14, "db.example.com" },
		{ "Db.Example.COM.", 256, 14, "db.example.com" },
		{ "*.MyDB.com", 256, 10, "*.mydb.com" },
		{ "a.", 256, 1, "a" },
		{ "a..", 256, 2, "a." },            /* one dot only */
		{ "10.0.0.1", 256, 8, "10.0.0.1" }, /* no judgement */
		{ "abc", 4, 3, "abc" },             /* exactly fits */
		{ "abcd", 4, -ENAMETOOLONG, "" },
		{ "abc.", 4, -ENAMETOOLONG, "" },   /* the dot counts */
		{ ".", 256, -EINVAL, "" },
		{ "", 256, -EINVAL, "" },
		{ "a", 0, -EINVAL, "" },
	};

	return cr_make_param_array(struct host_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct host_case *c, config, normalizes_host_names)
{
	char out[300];

	memset(out, 'x', sizeof(out));
	cr_assert_eq(swerve_config_host_normalize(c->in, out, c->outlen),
		     c->rc, "\"%s\" in %zu bytes", c->in, c->outlen);
	if (c->rc > 0)
		cr_assert_str_eq(out, c->out);
	else if (c->rc == -ENAMETOOLONG)
		cr_assert_eq(out[0], 'x', "\"%s\" wrote its output", c->in);
}

Test(config, normalizes_the_longest_names_dns_allows)
{
	char in[300], out[256];

	/* 255 bytes and a NUL fit a 256-byte buffer; one more does not. */
	memset(in, 'a', 255);
	in[255] = '\0';
	cr_assert_eq(swerve_config_host_normalize(in, out, sizeof(out)), 255);
	in[255] = 'a';
	in[256] = '\0';
	cr_assert_eq(swerve_config_host_normalize(in, out, sizeof(out)),
		     -ENAMETOOLONG);
	cr_assert_eq(swerve_config_host_normalize(NULL, out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(swerve_config_host_normalize("a", NULL, 1), -EINVAL);
}

Test(config, stores_endpoint_names_and_matches_names_normalized)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];
	const struct swerve_service *svc;

	cr_assert_eq(load_text("[service s]\nhosts = S.Test.\n"
			       "resolution = dns\n"
			       "endpoint = East.S.Example.:80\n",
			       path, sizeof(path), &cfg, &r),
		     0);
	svc = &cfg->services[0];
	cr_assert_str_eq(svc->hosts[0], "s.test");
	cr_assert_str_eq(svc->endpoints[0].name, "east.s.example");
	cr_assert_str_eq(svc->endpoints[0].text, "east.s.example:80");
	cr_assert_eq(swerve_config_match_name(cfg, "s.TEST."), svc);
	cr_assert_null(swerve_config_match_name(cfg, "."));
	cr_assert_null(swerve_config_match_name(cfg, ""));
	swerve_config_free(cfg);
}

struct endpoint_case {
	char in[64];
	char text[64];          /* or the error's words */
	int family;             /* -1: an error */
	uint16_t port;
};

ParameterizedTestParameters(config, parses_endpoint_addresses)
{
	static struct endpoint_case cases[] = {
		{ "127.0.0.2", "127.0.0.2", AF_INET, 0 },
		{ "127.0.0.2:8080", "127.0.0.2:8080", AF_INET, 8080 },
		{ "[::1]:80", "[::1]:80", AF_INET6, 80 },
		{ "[::1]", "[::1]", AF_INET6, 0 },
		{ "::1", "[::1]", AF_INET6, 0 },
		{ "[0:0::1]:5", "[::1]:5", AF_INET6, 5 },
		{ "Db.Example.:53", "db.example:53", AF_UNSPEC, 53 },
		{ "db", "db", AF_UNSPEC, 0 },
		{ "0.0.0.0:80", "endpoint '0.0.0.0' is the unspecified address",
		  -1, 0 },
		{ "[::]:80", "endpoint '::' is the unspecified address", -1,
		  0 },
		{ "::", "endpoint '::' is the unspecified address", -1, 0 },
		{ "[::1]x", "endpoint '[::1]x' is not [IPv6]:PORT", -1, 0 },
		{ "[::1", "endpoint '[::1' is not [IPv6]:PORT", -1, 0 },
		{ "127.0.0.2:70000",
		  "endpoint port must be 0 to 65535, not '70000'", -1, 0 },
		{ "db:x", "endpoint port must be 0 to 65535, not 'x'", -1, 0 },
		{ "[fe80::zz]", "endpoint 'fe80::zz' is not an IPv6 address",
		  -1, 0 },
		{ "1.2.3.4.5", "endpoint '1.2.3.4.5' is not an IPv4 or IPv6 "
		  "address", -1, 0 },
		{ "db%1:80", "endpoint 'db%1' is not an IPv4 or IPv6 address",
		  -1, 0 },
	};

	return cr_make_param_array(struct endpoint_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct endpoint_case *c, config, parses_endpoint_addresses)
{
	struct swerve_config *cfg = NULL;
	const struct swerve_endpoint *ep;
	struct reports r;
	char path[PATH_MAX];
	char text[256];
	int rc;

	snprintf(text, sizeof(text), "[service s]\nhosts = s.test\n"
		 "resolution = dns\nendpoint = %s\n", c->in);
	rc = load_text(text, path, sizeof(path), &cfg, &r);
	if (c->family < 0) {
		/* The endpoint's error, then "[service s] has no endpoint". */
		cr_assert_eq(rc, -EINVAL, "%s", c->in);
		cr_assert_eq(r.nerrors, 2, "%s", c->in);
		cr_assert_str_eq(r.fields[0].msg, c->text);
		cr_assert_eq(r.fields[0].line, 4);
		return;
	}
	cr_assert_eq(rc, 0, "%s: %s", c->in, r.msg[0]);
	ep = &cfg->services[0].endpoints[0];
	cr_assert_str_eq(ep->text, c->text);
	cr_assert_eq(ep->addr.ss_family, c->family, "%s", c->in);
	cr_assert_eq(ep->port, c->port, "%s", c->in);
	if (c->family == AF_UNSPEC)
		cr_assert_eq(ep->addrlen, 0);
	else
		cr_assert_eq(get_port(ep), c->port, "%s", c->in);
	swerve_config_free(cfg);
}
