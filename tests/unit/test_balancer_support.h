/*
 * The balancer tests' shared fixture: a pick input over fixed arrays that
 * each test fills in, and a deterministic random sequence.
 */
#ifndef TEST_BALANCER_SUPPORT_H
#define TEST_BALANCER_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/balancer.h"
#include "policy/plan.h"

#define MAXN 32

/* A pick input over fixed arrays the tests fill in. */
struct fixture {
	uint8_t prio[MAXN];
	bool healthy[MAXN];
	bool excluded[MAXN];
	bool avoid[MAXN];
	uint32_t weight[MAXN];
	uint32_t active[MAXN];
	struct swerve_balancer_input in;
};

uint64_t xorshift64(uint64_t *s);
void set_locality(struct swerve_locality *l, const char *region,
		  const char *zone, const char *subzone);
/*
 * <tiers> lists how many endpoints each tier has, <ejected> how many of
 * them (the first ones of the tier) are unhealthy.
 */
void fixture_init(struct fixture *f, const unsigned *tiers,
		  const unsigned *ejected, unsigned npri);
void load_of(const struct fixture *f, struct swerve_balancer_load *ld);
int pick(struct fixture *f);

#endif
