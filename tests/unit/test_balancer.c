/*
 * Unit tests for balancer.c: Istio's tiers, Envoy's priority load and panic
 * (docs/semantics.md 1.2, 2 and 3, with the worked examples
 * there), and the policies inside a tier. Randomness comes from a seeded
 * xorshift so every run sees the same numbers.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_balancer_support.h"


Test(balancer, raw_priority_follows_istio_lbpriority)
{
	struct swerve_locality client, ep;

	set_locality(&client, "r1", "z1", "s1");
	set_locality(&ep, "r1", "z1", "s1");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 0);
	set_locality(&ep, "r1", "z1", "s2");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 1);
	set_locality(&ep, "r1", "z1", "");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 1);
	set_locality(&ep, "r1", "z2", "s1");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 2);
	set_locality(&ep, "r2", "z1", "s1");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 3);
	set_locality(&ep, "R1", "z1", "s1");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 3,
		     "exact compares");
	/* "" == "": a client without zone matches endpoints without one. */
	set_locality(&client, "r1", "", "");
	set_locality(&ep, "r1", "", "");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 0);
	set_locality(&ep, "r1", "z1", "");
	cr_assert_eq(swerve_balancer_raw_priority(&client, &ep), 2);
}

static void make_service(struct swerve_service *svc,
			 struct swerve_endpoint *eps, const char *const *where,
			 unsigned n, bool outlier)
{
	unsigned i;
	char r[64], z[64];

	memset(svc, 0, sizeof(*svc));
	memset(eps, 0, n * sizeof(*eps));
	for (i = 0; i < n; i++) {
		r[0] = z[0] = '\0';
		sscanf(where[i], "%63[^.].%63s", r, z);
		set_locality(&eps[i].locality, r, z, "");
		eps[i].weight = 1;
	}
	svc->endpoints = eps;
	svc->nendpoints = n;
	svc->outlier.enabled = outlier;
}

Test(balancer, priorities_compact_istio_failover_example)
{
	static const char *const where[] = {
		"region1.zone1", "region1.zone2", "region2.zone3",
		"region1.zone1", "region2.zone9",
	};
	struct swerve_endpoint eps[5];
	struct swerve_service svc;
	static struct swerve_config client;
	uint8_t prio[5];

	set_locality(&client.locality, "region1", "zone1", "");
	make_service(&svc, eps, where, 5, true);
	cr_assert_eq(swerve_balancer_raw_priority(&client.locality,
						  &eps[1].locality), 2);
	cr_assert_eq(swerve_balancer_raw_priority(&client.locality,
						  &eps[2].locality), 3);
	cr_assert_eq(swerve_balancer_priorities(&svc, &client, prio), 3);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[1], 1);
	cr_assert_eq(prio[2], 2);
	cr_assert_eq(prio[3], 0);
	cr_assert_eq(prio[4], 2);
}

Test(balancer, priorities_drop_empty_tiers)
{
	static const char *const where[] = { "region2.zone3", "region2.zone4" };
	struct swerve_endpoint eps[2];
	struct swerve_service svc;
	static struct swerve_config client;
	uint8_t prio[2];

	set_locality(&client.locality, "region1", "zone1", "");
	make_service(&svc, eps, where, 2, true);
	cr_assert_eq(swerve_balancer_priorities(&svc, &client, prio), 1);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[1], 0);
}

Test(balancer, no_outlier_detection_means_one_tier)
{
	static const char *const where[] = {
		"region1.zone1", "region1.zone2", "region2.zone3",
	};
	struct swerve_endpoint eps[3];
	struct swerve_service svc;
	static struct swerve_config client;
	uint8_t prio[3] = { 9, 9, 9 };

	set_locality(&client.locality, "region1", "zone1", "");
	make_service(&svc, eps, where, 3, false);
	cr_assert_eq(swerve_balancer_priorities(&svc, &client, prio), 1);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[1], 0);
	cr_assert_eq(prio[2], 0);
}

struct load_case {
	unsigned n0, ej0, n1, ej1;
	uint32_t load0, load1;
};

ParameterizedTestParameters(balancer, load_matches_worked_examples)
{
	/* semantics.md 2.4, overprovisioning 140, panic off. */
	static struct load_case cases[] = {
		{ 4, 2, 4, 0, 70, 30 },  /* health 70 + 100 */
		{ 3, 1, 4, 0, 93, 7 },   /* 140 * 2 / 3 = 93 */
		{ 4, 1, 4, 0, 100, 0 },  /* 105 -> 100: no spill */
		{ 4, 3, 4, 0, 35, 65 },
		{ 4, 4, 4, 0, 0, 100 },
		{ 4, 3, 4, 3, 50, 50 },  /* 35 + 35 = 70 = NTA */
		{ 4, 0, 4, 4, 100, 0 },
		{ 100, 28, 1, 0, 100, 0 }, /* 72% healthy */
		{ 100, 29, 1, 0, 99, 1 },  /* 71% healthy */
	};

	return cr_make_param_array(struct load_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct load_case *tc, balancer, load_matches_worked_examples)
{
	static struct {
		uint8_t prio[128];
		bool healthy[128];
	} a;
	struct swerve_balancer_load ld;
	unsigned i, n = 0;

	for (i = 0; i < tc->n0; i++, n++) {
		a.prio[n] = 0;
		a.healthy[n] = i >= tc->ej0;
	}
	for (i = 0; i < tc->n1; i++, n++) {
		a.prio[n] = 1;
		a.healthy[n] = i >= tc->ej1;
	}
	swerve_balancer_load(a.prio, a.healthy, n, 2, 140, 0, &ld);
	cr_assert_eq(ld.npriorities, 2);
	cr_assert_eq(ld.load[0], tc->load0, "P0 %u/%u ejected: %u", tc->ej0,
		     tc->n0, ld.load[0]);
	cr_assert_eq(ld.load[1], tc->load1, "P1 %u/%u ejected: %u", tc->ej1,
		     tc->n1, ld.load[1]);
	cr_assert_not(ld.panic[0]);
	cr_assert_not(ld.panic[1]);
	cr_assert_not(ld.total_panic);
	cr_assert_not(ld.none_routable);
}

Test(balancer, load_health_values)
{
	static const unsigned tiers[] = { 4, 3 }, ej[] = { 2, 1 };
	struct fixture f;
	struct swerve_balancer_load ld;

	fixture_init(&f, tiers, ej, 2);
	load_of(&f, &ld);
	cr_assert_eq(ld.health[0], 70);
	cr_assert_eq(ld.health[1], 93);
	cr_assert_eq(ld.load[0] + ld.load[1], 100);
}

Test(balancer, load_remainder_goes_to_first_healthy_priority)
{
	/* 25% / 25% / 20%: 35 + 35 + 28 = 98, remainder 2 to P0. */
	static const unsigned tiers[] = { 4, 4, 5 }, ej[] = { 3, 3, 4 };
	struct fixture f;
	struct swerve_balancer_load ld;

	fixture_init(&f, tiers, ej, 3);
	load_of(&f, &ld);
	cr_assert_eq(ld.health[2], 28);
	cr_assert_eq(ld.load[0], 37);
	cr_assert_eq(ld.load[1], 35);
	cr_assert_eq(ld.load[2], 28);
	cr_assert_not(ld.total_panic);

	/* The remainder skips a tier with no health at all. */
	{
		static const unsigned t2[] = { 4, 4, 4, 5 };
		static const unsigned e2[] = { 4, 3, 3, 4 };

		fixture_init(&f, t2, e2, 4);
		load_of(&f, &ld);
		cr_assert_eq(ld.load[0], 0);
		cr_assert_eq(ld.load[1], 37);
		cr_assert_eq(ld.load[2], 35);
		cr_assert_eq(ld.load[3], 28);
	}
}

Test(balancer, total_panic_splits_by_host_count)
{
	/* Threshold 50: both tiers below it and NTA < 100. */
	static const unsigned tiers[] = { 4, 6 }, ej[] = { 3, 5 };
	struct fixture f;
	struct swerve_balancer_load ld;

	fixture_init(&f, tiers, ej, 2);
	f.in.panic_threshold = 50;
	load_of(&f, &ld);
	cr_assert(ld.panic[0]);
	cr_assert(ld.panic[1]);
	cr_assert(ld.total_panic);
	cr_assert_eq(ld.load[0], 40);
	cr_assert_eq(ld.load[1], 60);

	/* semantics.md 3.4: 25%/25% with the default 50 is total panic: 50/50. */
	{
		static const unsigned t2[] = { 4, 4 }, e2[] = { 3, 3 };

		fixture_init(&f, t2, e2, 2);
		f.in.panic_threshold = 50;
		load_of(&f, &ld);
		cr_assert(ld.total_panic);
		cr_assert_eq(ld.load[0], 50);
		cr_assert_eq(ld.load[1], 50);
	}
	/* 1/3/3 hosts: 14, 42, 42 and the remainder 2 to P0. */
	{
		static const unsigned t3[] = { 1, 3, 3 }, e3[] = { 1, 3, 3 };

		fixture_init(&f, t3, e3, 3);
		f.in.panic_threshold = 50;
		load_of(&f, &ld);
		cr_assert(ld.total_panic);
		cr_assert_eq(ld.load[0], 16);
		cr_assert_eq(ld.load[1], 42);
		cr_assert_eq(ld.load[2], 42);
	}
}

Test(balancer, single_priority_panic_keeps_loads)
{
	/* P0 10% healthy (health 14), P1 50% (70): NTA 84 < 100. */
	static const unsigned tiers[] = { 10, 10 }, ej[] = { 9, 5 };
	struct fixture f;
	struct swerve_balancer_load ld;
	int i, idx;

	fixture_init(&f, tiers, ej, 2);
	f.in.panic_threshold = 50;
	load_of(&f, &ld);
	cr_assert(ld.panic[0]);
	cr_assert_not(ld.panic[1], "50%% is not below 50");
	cr_assert_not(ld.total_panic);
	cr_assert_eq(ld.load[0], 17); /* 16 + remainder 1 */
	cr_assert_eq(ld.load[1], 83);

	/* In panic, P0 routes to all of its endpoints, ejected included. */
	f.in.rand1 = 0; /* h = 1: P0 */
	for (i = 0; i < 10; i++) {
		f.in.rr = (uint64_t)i;
		idx = pick(&f);
		cr_assert_eq(idx, i);
	}
}

Test(balancer, no_panic_when_lower_tiers_absorb)
{
	static const unsigned tiers[] = { 4, 4 }, ej[] = { 4, 0 };
	struct fixture f;
	struct swerve_balancer_load ld;

	fixture_init(&f, tiers, ej, 2);
	f.in.panic_threshold = 100;
	load_of(&f, &ld);
	cr_assert_not(ld.panic[0]);
	cr_assert_not(ld.total_panic);
	cr_assert_eq(ld.load[1], 100);
}

Test(balancer, single_host_in_panic_still_gets_traffic)
{
	/* envoy#2671: Envoy's default 50 keeps a lone ejected host in use. */
	static const unsigned tiers[] = { 1 }, ej[] = { 1 };
	struct fixture f;
	struct swerve_balancer_load ld;
	char why[160];

	fixture_init(&f, tiers, ej, 1);
	f.in.panic_threshold = 50;
	load_of(&f, &ld);
	cr_assert(ld.total_panic);
	cr_assert_eq(ld.load[0], 100);
	cr_assert_eq(swerve_balancer_pick(&f.in, why, sizeof(why)), 0);
	cr_assert(strstr(why, "panic") != NULL, "%s", why);
}

Test(balancer, nothing_routable_without_panic)
{
	static const unsigned tiers[] = { 2, 3 }, ej[] = { 2, 3 };
	struct fixture f;
	struct swerve_balancer_load ld;

	fixture_init(&f, tiers, ej, 2);
	load_of(&f, &ld);
	cr_assert(ld.none_routable);
	cr_assert_eq(ld.load[0], 100);
	cr_assert_eq(ld.load[1], 0);
	cr_assert_not(ld.panic[0]);
	cr_assert_not(ld.panic[1]);
	cr_assert_not(ld.total_panic);
}

static struct swerve_config *load_ini(const char *text)
{
	char dir[] = "/tmp/swerve-balancer-XXXXXX", path[64], err[512] = "";
	struct swerve_config *cfg = NULL;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.ini", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(swerve_config_load(path, false, &cfg, NULL, NULL, err,
					sizeof(err)), 0, "%s", err);
	unlink(path);
	rmdir(dir);
	return cfg;
}

Test(balancer, failover_rule_puts_its_target_before_other_regions)
{
	/* Istio's failover task: client region1/zone1, region1 -> region2 */
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = region1/zone1\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=region1/zone1\n"
		"endpoint = 127.0.0.3:80 locality=region1/zone2\n"
		"endpoint = 127.0.0.4:80 locality=region2/zone3\n"
		"endpoint = 127.0.0.5:80 locality=region3/zone4\n"
		"failover = region1 -> region2\n"
		"failover = region2 -> region3\n"
		"consecutive_5xx_errors = 1\n");
	const struct swerve_service *svc = &cfg->services[0];
	uint8_t prio[4];

	cr_assert_eq(swerve_balancer_priorities(svc, cfg, prio), 4);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[1], 1);
	cr_assert_eq(prio[2], 2, "the failover target");
	cr_assert_eq(prio[3], 3, "everything else (raw 4)");
	cr_assert(swerve_balancer_locality_weighted(svc));

	/* Without the rule region2 and region3 share raw tier 3. */
	cfg->services[0].nfailover = 0;
	cr_assert_eq(swerve_balancer_priorities(svc, cfg, prio), 3);
	cr_assert_eq(prio[2], prio[3]);
	cr_assert_not(swerve_balancer_locality_weighted(svc));
	swerve_config_free(cfg);
}

Test(balancer, failover_priority_labels_make_tiers)
{
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = r1/z1\n"
		"label.topology.istio.io/network = n1\n"
		"label.env = prod\n"
		"[service s]\nhosts = s.internal\n"
		/* all match: 0 */
		"endpoint = 127.0.0.2:80 locality=r1/z1 "
		"label.topology.istio.io/network=n1 label.env=prod\n"
		/* network matches, env differs: N - 1 = 1 */
		"endpoint = 127.0.0.3:80 locality=r1/z1 "
		"label.topology.istio.io/network=n1 label.env=dev\n"
		/* other network, env matches: adjust N = 2 */
		"endpoint = 127.0.0.4:80 locality=r1/z1 "
		"label.topology.istio.io/network=n2 label.env=prod\n"
		/* other network, env differs: 2 + 1 = 3 */
		"endpoint = 127.0.0.5:80 locality=r1/z1 "
		"label.topology.istio.io/network=n2\n"
		"failover_priority = topology.istio.io/network, env\n"
		"consecutive_5xx_errors = 1\n");
	const struct swerve_service *svc = &cfg->services[0];
	uint8_t prio[4];

	cr_assert_eq(swerve_balancer_priorities(svc, cfg, prio), 4);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[1], 1);
	cr_assert_eq(prio[2], 2, "other networks after all same-network");
	cr_assert_eq(prio[3], 3);

	/* A key=value entry compares with the literal, not with this host. */
	cfg->services[0].failover_priority[1].has_value = true;
	snprintf(cfg->services[0].failover_priority[1].value, 64, "dev");
	swerve_balancer_priorities(svc, cfg, prio);
	cr_assert_eq(prio[0], 1);
	cr_assert_eq(prio[1], 0);
	swerve_config_free(cfg);
}

Test(balancer, failover_priority_composes_with_failover_times_five)
{
	/* label tier * 5 + locality tier, then compacted */
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = r1/z1\nlabel.env = prod\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=r2/z9 label.env=prod\n"
		"endpoint = 127.0.0.3:80 locality=r1/z1 label.env=dev\n"
		"endpoint = 127.0.0.4:80 locality=r3/z9 label.env=prod\n"
		"endpoint = 127.0.0.5:80 locality=r1/z1 label.env=prod\n"
		"failover = r1 -> r2\n"
		"failover_priority = env\n"
		"consecutive_5xx_errors = 1\n");
	uint8_t prio[4];

	/* raw: 0*5+3 = 3, 1*5+0 = 5, 0*5+4 = 4, 0 */
	cr_assert_eq(swerve_balancer_priorities(&cfg->services[0], cfg, prio),
		     4);
	cr_assert_eq(prio[3], 0);
	cr_assert_eq(prio[0], 1);
	cr_assert_eq(prio[2], 2);
	cr_assert_eq(prio[1], 3, "a label mismatch outranks any locality");
	swerve_config_free(cfg);
}

Test(balancer, distribute_weights_and_unlisted_localities)
{
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = us-east/a\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=us-east/a weight=3\n"
		"endpoint = 127.0.0.3:80 locality=us-east/b\n"
		"endpoint = 127.0.0.4:80 locality=us-west/c\n"
		"endpoint = 127.0.0.5:80 locality=eu/d\n"
		"distribute = us-east/* -> us-east/*:80, us-west:20\n"
		"consecutive_5xx_errors = 1\n");
	const struct swerve_service *svc = &cfg->services[0];
	uint32_t w[SWERVE_MAX_LOCALITIES];
	uint8_t prio[4];

	cr_assert_not_null(swerve_balancer_distribute(svc, cfg, w));
	/* us-east/a: ceil(3 * 80 / 4) = 60, us-east/b: ceil(1 * 80 / 4) */
	cr_assert_eq(w[0], 60);
	cr_assert_eq(w[1], 20);
	cr_assert_eq(w[2], 20);
	cr_assert_eq(w[3], 0, "eu is listed nowhere");
	cr_assert_eq(swerve_balancer_priorities(svc, cfg, prio), 1);
	cr_assert_eq(prio[0], 0);
	cr_assert_eq(prio[2], 0, "distribute ignores outlier tiers");
	cr_assert_eq(prio[3], SWERVE_BALANCER_UNROUTED);

	/* a client no rule matches: own weights, everything in tier 0 */
	snprintf(cfg->locality.region, sizeof(cfg->locality.region), "eu");
	cr_assert_null(swerve_balancer_distribute(svc, cfg, w));
	cr_assert_eq(w[0], 3);
	cr_assert_eq(swerve_balancer_priorities(svc, cfg, prio), 1);
	cr_assert_eq(prio[3], 0);
	swerve_config_free(cfg);
}

static bool near(unsigned got, unsigned want, unsigned slack)
{
	return got + slack >= want && got <= want + slack;
}

/* Counts picks per endpoint over <rounds> round-robin picks. */
static void count_picks(struct swerve_balancer_input *in, unsigned rounds,
			unsigned *count)
{
	uint64_t seed = 42;
	unsigned k;
	int i;

	for (k = 0; k < rounds; k++) {
		in->rr = k;
		in->rand1 = xorshift64(&seed);
		in->rand2 = xorshift64(&seed);
		i = swerve_balancer_pick(in, NULL, 0);
		cr_assert_geq(i, 0);
		count[i]++;
	}
}

Test(balancer, distribute_splits_by_weight_and_shifts_with_health)
{
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = us-east/a\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=us-east/a\n"
		"endpoint = 127.0.0.3:80 locality=us-east/a\n"
		"endpoint = 127.0.0.4:80 locality=us-west/b\n"
		"endpoint = 127.0.0.5:80 locality=eu/c\n"
		"distribute = us-east/a -> us-east:70, us-west:30\n");
	const struct swerve_service *svc = &cfg->services[0];
	bool healthy[4] = { true, true, true, true };
	uint32_t weight[4] = { 1, 1, 1, 1 };
	unsigned count[4] = { 0 };
	struct swerve_balancer_input in;
	uint8_t prio[4];
	char why[256];

	memset(&in, 0, sizeof(in));
	in.n = 4;
	in.prio = prio;
	in.npriorities = swerve_balancer_priorities(svc, cfg, prio);
	in.healthy = healthy;
	in.weight = weight;
	in.lb = SWERVE_LB_ROUND_ROBIN;
	in.overprov = 140;
	in.svc = svc;
	in.client = cfg;
	/* The locality is drawn at random: 1000 picks are within 4 standard
	 * deviations (about 14.5) of the weights. */
	count_picks(&in, 1000, count);
	cr_assert(near(count[0] + count[1], 700, 58), "%u",
		  count[0] + count[1]);
	cr_assert(near(count[2], 300, 58), "%u", count[2]);
	cr_assert_eq(count[3], 0, "unlisted: nothing, ever");
	cr_assert(near(count[0], count[1], 60),
		  "round robin inside the locality: %u %u", count[0],
		  count[1]);

	/* One of two us-east endpoints ejected: us-east's weight 70 times
	 * min(1, 1.4 * 1/2) = 49 against 30. */
	healthy[0] = false;
	memset(count, 0, sizeof(count));
	count_picks(&in, 7900, count);
	cr_assert_eq(count[0], 0);
	cr_assert(near(count[1], 4900, 175), "%u", count[1]);
	cr_assert(near(count[2], 3000, 175), "%u", count[2]);

	in.rr = 0;
	cr_assert_geq(swerve_balancer_pick(&in, why, sizeof(why)), 0);
	cr_assert(strstr(why, "locality us-east/a (62% of the priority)") !=
		  NULL, "%s", why);
	cr_assert(strstr(why, "1 not routed by distribute") != NULL, "%s",
		  why);

	/* Everything routable down: fail open, still never to eu. */
	healthy[1] = healthy[2] = false;
	memset(count, 0, sizeof(count));
	count_picks(&in, 100, count);
	cr_assert_eq(count[3], 0);
	swerve_config_free(cfg);
}

Test(balancer, locality_weights_follow_envoy_docs_example)
{
	/* X weight 1, Y weight 2 (fully healthy): X's share by its health
	 * (locality_weight.rst): 100% -> 33, 50% -> 26, 25% -> 15. */
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = x\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=x/a\n"
		"endpoint = 127.0.0.3:80 locality=x/a\n"
		"endpoint = 127.0.0.4:80 locality=x/a\n"
		"endpoint = 127.0.0.5:80 locality=x/a\n"
		"endpoint = 127.0.0.6:80 locality=y/b weight=2\n"
		"endpoint = 127.0.0.7:80 locality=y/b weight=2\n"
		"endpoint = 127.0.0.8:80 locality=y/b weight=2\n"
		"endpoint = 127.0.0.9:80 locality=y/b weight=2\n"
		"distribute = x -> x:33, y:67\n");
	static const struct {
		unsigned down;
		uint64_t share;
	} cases[] = { { 0, 33 }, { 2, 25 }, { 3, 14 }, { 4, 0 } };
	const struct swerve_service *svc = &cfg->services[0];
	bool healthy[8];
	struct swerve_balancer_input in;
	uint64_t eff[SWERVE_MAX_LOCALITIES], sum;
	uint8_t prio[8];
	unsigned c, i;

	memset(&in, 0, sizeof(in));
	in.n = 8;
	in.prio = prio;
	in.npriorities = swerve_balancer_priorities(svc, cfg, prio);
	in.healthy = healthy;
	in.overprov = 140;
	in.svc = svc;
	in.client = cfg;
	for (c = 0; c < SWERVE_ARRAY_LEN(cases); c++) {
		for (i = 0; i < 8; i++)
			healthy[i] = i >= cases[c].down;
		sum = swerve_balancer_locality_weights(&in, 0, eff);
		cr_assert_eq(eff[0] * 100 / sum, cases[c].share,
			     "%u down: %llu", cases[c].down,
			     (unsigned long long)(eff[0] * 100 / sum));
	}
	swerve_config_free(cfg);
}

Test(balancer, locality_pick_is_skipped_in_panic)
{
	/* panic threshold 50, every endpoint of the only tier ejected but
	 * one: the pick uses all endpoints of the tier, no locality. */
	struct swerve_config *cfg = load_ini(
		"[swerve]\nlocality = r1\n"
		"[service s]\nhosts = s.internal\n"
		"endpoint = 127.0.0.2:80 locality=r1/a\n"
		"endpoint = 127.0.0.3:80 locality=r1/b\n"
		"endpoint = 127.0.0.4:80 locality=r1/b\n"
		"failover = r1 -> r2\n"
		"consecutive_5xx_errors = 1\n"
		"min_health_percent = 50\n");
	const struct swerve_service *svc = &cfg->services[0];
	bool healthy[3] = { false, false, true };
	struct swerve_balancer_input in;
	struct swerve_balancer_load ld;
	unsigned count[3] = { 0 };
	uint8_t prio[3];

	memset(&in, 0, sizeof(in));
	in.n = 3;
	in.prio = prio;
	in.npriorities = swerve_balancer_priorities(svc, cfg, prio);
	cr_assert_eq(in.npriorities, 1, "r1/a and r1/b: both raw tier 2");
	in.healthy = healthy;
	in.overprov = 140;
	in.panic_threshold = 50;
	in.svc = svc;
	in.client = cfg;
	count_picks(&in, 300, count);
	swerve_balancer_load(prio, healthy, 3, in.npriorities, 140, 50, &ld);
	cr_assert_eq(count[0], 100);
	cr_assert_eq(count[1], 100);
	cr_assert_eq(count[2], 100);
	cr_assert(ld.panic[0]);
	cr_assert_eq(swerve_balancer_panic_mask(&ld), 1u | SWERVE_PANIC_TOTAL);
	swerve_config_free(cfg);
}

Test(balancer, panic_mask_summarises_the_load)
{
	struct swerve_balancer_load ld;

	memset(&ld, 0, sizeof(ld));
	ld.npriorities = 3;
	cr_assert_eq(swerve_balancer_panic_mask(&ld), 0);
	ld.panic[2] = true;
	cr_assert_eq(swerve_balancer_panic_mask(&ld), 4);
	ld.none_routable = true;
	cr_assert_eq(swerve_balancer_panic_mask(&ld),
		     SWERVE_PANIC_NONE_ROUTABLE);
}
