/*
 * test_balancer_support.c: the balancer tests' shared fixture (see the
 * header).
 */
#include <stdio.h>
#include <string.h>

#include "test_balancer_support.h"
uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

void set_locality(struct swerve_locality *l, const char *region,
			 const char *zone, const char *subzone)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->region, sizeof(l->region), "%s", region);
	snprintf(l->zone, sizeof(l->zone), "%s", zone);
	snprintf(l->subzone, sizeof(l->subzone), "%s", subzone);
}



void fixture_init(struct fixture *f, const unsigned *tiers,
			 const unsigned *ejected, unsigned npri)
{
	unsigned p, k;
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	for (p = 0; p < npri; p++) {
		for (k = 0; k < tiers[p]; k++) {
			f->prio[n] = (uint8_t)p;
			f->healthy[n] = k >= ejected[p];
			f->weight[n] = 1;
			n++;
		}
	}
	f->in.n = n;
	f->in.prio = f->prio;
	f->in.npriorities = npri;
	f->in.healthy = f->healthy;
	f->in.excluded = f->excluded;
	f->in.avoid = f->avoid;
	f->in.weight = f->weight;
	f->in.active = f->active;
	f->in.lb = SWERVE_LB_ROUND_ROBIN;
	f->in.overprov = 140;
	f->in.panic_threshold = 0;
}

void load_of(const struct fixture *f, struct swerve_balancer_load *ld)
{
	swerve_balancer_load(f->in.prio, f->in.healthy, f->in.n,
			     f->in.npriorities, f->in.overprov,
			     f->in.panic_threshold, ld);
}

int pick(struct fixture *f)
{
	return swerve_balancer_pick(&f->in, NULL, 0);
}
