/*
 * Unit tests of the balancer's picks (through the one-shot
 * swerve_balancer_pick, which builds a routing plan): fail-open, the
 * distribution, the policies, and endpoints tried or avoided.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_balancer_support.h"

Test(balancer, pick_fails_open_to_lowest_tier)
{
	static const unsigned tiers[] = { 2, 3 }, ej[] = { 2, 3 };
	struct fixture f;
	char why[160];
	int i, idx;

	fixture_init(&f, tiers, ej, 2);
	for (i = 0; i < 6; i++) {
		f.in.rr = (uint64_t)i;
		f.in.rand1 = (uint64_t)i * 37;
		idx = swerve_balancer_pick(&f.in, why, sizeof(why));
		cr_assert_eq(idx, i % 2);
	}
	cr_assert(strncmp(why, "no healthy endpoint: trying ejected", 35) == 0,
		  "%s", why);
	/* Tier 0 tried already: the next lowest. */
	f.excluded[0] = f.excluded[1] = true;
	f.in.rr = 0;
	cr_assert_eq(pick(&f), 2);
}

Test(balancer, pick_distribution_follows_load)
{
	static const unsigned tiers[] = { 4, 4 }, ej[] = { 2, 0 };
	struct fixture f;
	unsigned count[8] = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned i, p0;
	int idx;

	fixture_init(&f, tiers, ej, 2);
	for (i = 0; i < 10000; i++) {
		f.in.rr = i;
		f.in.rand1 = xorshift64(&seed);
		f.in.rand2 = xorshift64(&seed);
		idx = pick(&f);
		cr_assert_geq(idx, 0);
		count[idx]++;
	}
	cr_assert_eq(count[0], 0, "ejected");
	cr_assert_eq(count[1], 0, "ejected");
	p0 = count[2] + count[3];
	cr_assert(p0 >= 6700 && p0 <= 7300, "P0 got %u of 10000", p0);
	for (i = 4; i < 8; i++)
		cr_assert(count[i] >= 500 && count[i] <= 1000,
			  "P1 endpoint %u got %u", i, count[i]);
}

Test(balancer, round_robin_rotates_exactly)
{
	static const unsigned tiers[] = { 4 }, ej[] = { 0 };
	static const int want[] = { 0, 1, 3 };
	struct fixture f;
	char why[160];
	int i;

	fixture_init(&f, tiers, ej, 1);
	f.healthy[2] = false;
	for (i = 0; i < 9; i++) {
		f.in.rr = (uint64_t)i;
		f.in.rand1 = (uint64_t)i * 7919;
		cr_assert_eq(swerve_balancer_pick(&f.in, why, sizeof(why)),
			     want[i % 3]);
	}
	cr_assert_str_eq(why,
			 "priority 0 (load 100%), round_robin over 3 healthy "
			 "of 4");
}

Test(balancer, why_reads_as_one_line)
{
	static const unsigned tiers[] = { 1 }, ej[] = { 0 };
	struct fixture f;
	char why[160];
	char tiny[8];

	fixture_init(&f, tiers, ej, 1);
	cr_assert_eq(swerve_balancer_pick(&f.in, why, sizeof(why)), 0);
	cr_assert_str_eq(why,
			 "priority 0 (load 100%), round_robin over 1 healthy "
			 "of 1");
	cr_assert_eq(swerve_balancer_pick(&f.in, tiny, sizeof(tiny)), 0);
	cr_assert_str_eq(tiny, "priorit");
}

Test(balancer, round_robin_honours_weights_exactly)
{
	static const unsigned tiers[] = { 2 }, ej[] = { 0 };
	struct fixture f;
	unsigned count[2] = { 0 };
	unsigned i, k = 25;
	int idx;

	fixture_init(&f, tiers, ej, 1);
	f.weight[0] = 1;
	f.weight[1] = 3;
	for (i = 0; i < 4 * k; i++) {
		f.in.rr = 1000 + i;
		idx = pick(&f);
		count[idx]++;
	}
	cr_assert_eq(count[0], k);
	cr_assert_eq(count[1], 3 * k);
}

Test(balancer, random_honours_weights)
{
	static const unsigned tiers[] = { 2 }, ej[] = { 0 };
	struct fixture f;
	unsigned count[2] = { 0 };
	uint64_t seed = 42;
	unsigned i;

	fixture_init(&f, tiers, ej, 1);
	f.in.lb = SWERVE_LB_RANDOM;
	f.weight[0] = 1;
	f.weight[1] = 3;
	for (i = 0; i < 10000; i++) {
		f.in.rand1 = xorshift64(&seed);
		f.in.rand2 = xorshift64(&seed);
		count[pick(&f)]++;
	}
	cr_assert(count[0] >= 2200 && count[0] <= 2800, "got %u", count[0]);
}

Test(balancer, excluded_endpoints_are_never_picked)
{
	static const unsigned tiers[] = { 3, 2 }, ej[] = { 0, 0 };
	struct fixture f;
	uint64_t seed = 7;
	char why[160];
	int i, idx;

	fixture_init(&f, tiers, ej, 2);
	f.excluded[0] = true;
	f.excluded[3] = true;
	for (i = 0; i < 1000; i++) {
		f.in.rr = (uint64_t)i;
		f.in.rand1 = xorshift64(&seed);
		f.in.rand2 = xorshift64(&seed);
		f.in.lb = (enum swerve_lb)(i % 3);
		idx = pick(&f);
		cr_assert(idx == 1 || idx == 2 || idx == 4, "picked %d", idx);
	}
	for (i = 0; i < 5; i++)
		f.excluded[i] = true;
	cr_assert_eq(swerve_balancer_pick(&f.in, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "all 5 endpoints already tried");
}

Test(balancer, excluded_endpoints_are_passed_over_without_changing_the_load)
{
	/*
	 * P0: one ejected, one tried already. The load still gives P0 its
	 * share (70%); its drawn endpoint was tried, so the pick moves on to
	 * the next tier, as Envoy's host reselection does.
	 */
	static const unsigned tiers[] = { 2, 2 }, ej[] = { 1, 0 };
	struct fixture f;
	char why[160];
	int i, idx;

	fixture_init(&f, tiers, ej, 2);
	f.excluded[1] = true;
	for (i = 0; i < 100; i++) {
		f.in.rr = (uint64_t)i;
		f.in.rand1 = (uint64_t)i;
		idx = swerve_balancer_pick(&f.in, why, sizeof(why));
		cr_assert(idx == 2 || idx == 3, "picked %d", idx);
	}
	cr_assert(strstr(why, "load 70%") != NULL ||
		  strstr(why, "load 30%") != NULL, "%s", why);
}

Test(balancer, avoided_skipped_when_alternative_exists)
{
	static const unsigned tiers[] = { 3 }, ej[] = { 0 };
	struct fixture f;
	char why[160];
	int i, idx;

	fixture_init(&f, tiers, ej, 1);
	f.avoid[0] = true;
	for (i = 0; i < 10; i++) {
		f.in.rr = (uint64_t)i;
		idx = swerve_balancer_pick(&f.in, why, sizeof(why));
		cr_assert_neq(idx, 0);
	}
	cr_assert(strstr(why, "avoided or tried passed over") != NULL ||
		  strstr(why, "passed over") == NULL, "%s", why);
	f.avoid[1] = f.avoid[2] = true;
	f.in.rr = 0;
	cr_assert_eq(swerve_balancer_pick(&f.in, why, sizeof(why)), 0);
	cr_assert(strstr(why, "only avoided ones left") != NULL, "%s", why);
	/* Avoided but not excluded beats nothing: the others were tried. */
	f.avoid[1] = f.avoid[2] = false;
	f.excluded[1] = f.excluded[2] = true;
	cr_assert_eq(pick(&f), 0);
}

Test(balancer, avoided_in_another_tier_does_not_matter)
{
	static const unsigned tiers[] = { 1, 1 }, ej[] = { 0, 0 };
	struct fixture f;

	fixture_init(&f, tiers, ej, 2);
	f.avoid[1] = true;
	f.in.rand1 = 0;
	cr_assert_eq(pick(&f), 0);
}

Test(balancer, least_request_prefers_fewer_active)
{
	static const unsigned tiers[] = { 2 }, ej[] = { 0 };
	struct fixture f;

	fixture_init(&f, tiers, ej, 1);
	f.in.lb = SWERVE_LB_LEAST_REQUEST;
	f.active[0] = 5;
	f.active[1] = 1;
	f.in.rand2 = 0 + 1 * 2; /* choices 0 and 1 */
	cr_assert_eq(pick(&f), 1);
	f.in.rand2 = 1 + 0 * 2; /* choices 1 and 0 */
	cr_assert_eq(pick(&f), 1);
	f.in.rand2 = 0 + 0 * 2; /* both 0: no choice */
	cr_assert_eq(pick(&f), 0);
	f.active[0] = 1;
	f.in.rand2 = 1 + 0 * 2; /* tie: the first choice */
	cr_assert_eq(pick(&f), 1);
}

Test(balancer, least_request_two_choices_distribution)
{
	static const unsigned tiers[] = { 3 }, ej[] = { 0 };
	struct fixture f;
	unsigned idle = 0, i;
	uint64_t seed = 99;

	fixture_init(&f, tiers, ej, 1);
	f.in.lb = SWERVE_LB_LEAST_REQUEST;
	f.active[1] = 10;
	f.active[2] = 10;
	/* The idle one wins whenever drawn: 1 - (2/3)^2 = 5/9. */
	for (i = 0; i < 9000; i++) {
		f.in.rand2 = xorshift64(&seed);
		idle += pick(&f) == 0;
	}
	cr_assert(idle >= 4700 && idle <= 5300, "idle picked %u", idle);
}

Test(balancer, least_request_weighted_uses_weight_per_active)
{
	static const unsigned tiers[] = { 2 }, ej[] = { 0 };
	struct fixture f;

	fixture_init(&f, tiers, ej, 1);
	f.in.lb = SWERVE_LB_LEAST_REQUEST;
	f.weight[0] = 2;
	f.weight[1] = 1;
	f.active[0] = 3; /* 2/4 */
	f.active[1] = 0; /* 1/1 */
	cr_assert_eq(pick(&f), 1);
	f.active[0] = 1; /* 2/2 == 1/1: lower index */
	cr_assert_eq(pick(&f), 0);
	f.active[0] = 0;
	f.active[1] = 0;
	cr_assert_eq(pick(&f), 0);
}

Test(balancer, null_optional_arrays_are_accepted)
{
	static const unsigned tiers[] = { 3 }, ej[] = { 1 };
	struct fixture f;
	int i;

	fixture_init(&f, tiers, ej, 1);
	f.in.excluded = NULL;
	f.in.avoid = NULL;
	for (i = 0; i < 4; i++) {
		f.in.rr = (uint64_t)i;
		cr_assert_eq(pick(&f), 1 + i % 2);
	}
}

Test(balancer, many_endpoints_at_the_limit)
{
	static uint8_t prio[SWERVE_MAX_ENDPOINTS];
	static bool healthy[SWERVE_MAX_ENDPOINTS];
	static uint32_t weight[SWERVE_MAX_ENDPOINTS];
	struct swerve_balancer_input in;
	size_t i;

	for (i = 0; i < SWERVE_MAX_ENDPOINTS; i++) {
		prio[i] = (uint8_t)(i % 4);
		healthy[i] = i % 4 != 0;
		weight[i] = 1;
	}
	memset(&in, 0, sizeof(in));
	in.n = SWERVE_MAX_ENDPOINTS;
	in.prio = prio;
	in.npriorities = 4;
	in.healthy = healthy;
	in.weight = weight;
	in.lb = SWERVE_LB_ROUND_ROBIN;
	in.overprov = 140;
	in.rand1 = 0;
	in.rr = SWERVE_MAX_ENDPOINTS / 4 - 1;
	/* P0 fully ejected: tier 1's last endpoint. */
	cr_assert_eq(swerve_balancer_pick(&in, NULL, 0),
		     SWERVE_MAX_ENDPOINTS - 3);
}

/* Locality rules, loaded from INI text as the library loads them ------- */
