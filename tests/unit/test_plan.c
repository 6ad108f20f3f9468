/*
 * Unit tests of the routing plan (policy/plan.c): built once, picked many
 * times, and the order in which avoided and tried endpoints are passed
 * over without the load changing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policy/plan.h"

#define N 8

struct fixture {
	uint8_t prio[N];
	bool healthy[N];
	bool absent[N];
	uint32_t weight[N];
	struct swerve_balancer_input in;
	struct swerve_plan pl;
	enum swerve_plan_verdict verdict[N];
};

/* <tiers>[p] endpoints in tier p, all healthy, weight 1. */
static void setup(struct fixture *f, const unsigned *tiers, unsigned npri)
{
	unsigned p, k, n = 0;

	memset(f, 0, sizeof(*f));
	for (p = 0; p < npri; p++)
		for (k = 0; k < tiers[p]; k++) {
			f->prio[n] = (uint8_t)p;
			f->healthy[n] = true;
			f->weight[n] = 1;
			n++;
		}
	f->in.n = n;
	f->in.prio = f->prio;
	f->in.npriorities = npri;
	f->in.healthy = f->healthy;
	f->in.absent = f->absent;
	f->in.weight = f->weight;
	f->in.lb = SWERVE_LB_ROUND_ROBIN;
	f->in.overprov = 140;
	cr_assert_eq(swerve_plan_new(&f->pl, n), 0);
}

static enum swerve_plan_verdict verdict(void *ctx, unsigned i)
{
	return ((struct fixture *)ctx)->verdict[i];
}

static int pick_rr(struct fixture *f, uint64_t rr, uint64_t rand1,
		   char *why, size_t whylen)
{
	struct swerve_plan_draw d = { .rr = rr, .rand1 = rand1, .rand2 = rr };

	return swerve_plan_pick(&f->pl, &d, verdict, f, why, whylen);
}

Test(plan, weights_rotate_exactly_by_binary_search)
{
	static const unsigned tiers[] = { 4 };
	static const int want[] = { 0, 1, 1, 1, 2, 2, 3, 3, 3, 3 };
	struct fixture f;
	uint64_t rr;

	setup(&f, tiers, 1);
	f.weight[0] = 1;
	f.weight[1] = 3;
	f.weight[2] = 2;
	f.weight[3] = 4;
	swerve_plan_build(&f.pl, &f.in);
	for (rr = 0; rr < 30; rr++)
		cr_assert_eq(pick_rr(&f, rr, 0, NULL, 0), want[rr % 10],
			     "rr %llu", (unsigned long long)rr);
	swerve_plan_free(&f.pl);
}

Test(plan, absent_endpoints_leave_the_load)
{
	static const unsigned tiers[] = { 2, 2 };
	struct fixture f;
	uint64_t r;

	setup(&f, tiers, 2);
	f.absent[0] = f.absent[1] = true; /* IPv6 ones on an IPv4 socket */
	swerve_plan_build(&f.pl, &f.in);
	cr_assert_eq(f.pl.ld.load[0], 0);
	cr_assert_eq(f.pl.ld.load[1], 100);
	cr_assert_eq(f.pl.absent, 2);
	for (r = 0; r < 100; r++)
		cr_assert_geq(pick_rr(&f, r, r * 7919, NULL, 0), 2);
	swerve_plan_free(&f.pl);
}

Test(plan, avoided_endpoints_leave_the_load_alone)
{
	static const unsigned tiers[] = { 4, 4 };
	struct fixture f;
	unsigned counts[N] = { 0 };
	uint64_t r;
	int i;

	setup(&f, tiers, 2);
	swerve_plan_build(&f.pl, &f.in);
	f.verdict[0] = f.verdict[1] = SWERVE_PLAN_AVOID;
	cr_assert_eq(f.pl.ld.load[0], 100);
	for (r = 0; r < 4000; r++) {
		i = pick_rr(&f, r, r * 0x9e3779b97f4a7c15ull, NULL, 0);
		cr_assert(i >= 0 && i < N);
		counts[i]++;
	}
	/* Never the avoided ones, never the other tier, and the two left
	 * share evenly (the scan starts at a random place). */
	cr_assert_eq(counts[0] + counts[1], 0);
	cr_assert_eq(counts[4] + counts[5] + counts[6] + counts[7], 0);
	cr_assert(counts[2] > 1600 && counts[3] > 1600, "%u %u", counts[2],
		  counts[3]);
	swerve_plan_free(&f.pl);
}

Test(plan, passes_over_the_tier_then_the_next_then_avoided_then_ejected)
{
	static const unsigned tiers[] = { 2, 2 };
	struct fixture f;
	char why[200];

	setup(&f, tiers, 2);
	f.healthy[3] = false;
	swerve_plan_build(&f.pl, &f.in);
	/* Tier 0 tried: tier 1's healthy one. */
	f.verdict[0] = f.verdict[1] = SWERVE_PLAN_NEVER;
	cr_assert_eq(pick_rr(&f, 0, 0, why, sizeof(why)), 2);
	cr_assert(strstr(why, "passed over") != NULL, "%s", why);
	/* That one avoided too: still it, before an ejected one. */
	f.verdict[2] = SWERVE_PLAN_AVOID;
	cr_assert_eq(pick_rr(&f, 0, 0, why, sizeof(why)), 2);
	cr_assert(strstr(why, "only avoided ones left") != NULL, "%s", why);
	/* Tried as well: the ejected one, failing open. */
	f.verdict[2] = SWERVE_PLAN_NEVER;
	cr_assert_eq(pick_rr(&f, 0, 0, why, sizeof(why)), 3);
	cr_assert(strstr(why, "an ejected one") != NULL, "%s", why);
	f.verdict[3] = SWERVE_PLAN_NEVER;
	cr_assert_eq(pick_rr(&f, 0, 0, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "all 4 endpoints already tried");
	swerve_plan_free(&f.pl);
}

Test(plan, a_plan_built_once_serves_every_pick)
{
	static const unsigned tiers[] = { 3, 1 };
	struct fixture f;
	uint64_t rr;

	setup(&f, tiers, 2);
	f.healthy[1] = false;
	swerve_plan_build(&f.pl, &f.in);
	/* Health changes after the build do not reach the plan. */
	f.healthy[1] = true;
	f.healthy[0] = false;
	for (rr = 0; rr < 40; rr++) {
		int i = pick_rr(&f, rr, 1, NULL, 0);

		cr_assert(i == 0 || i == 2, "picked %d", i);
	}
	swerve_plan_free(&f.pl);
}
