/*
 * plan: a service's routing plan, and the pick over it. Pure.
 *
 * Everything a pick needs that depends only on the health the shared table
 * reports (the compacted tiers, Envoy's priority load and panic, the
 * effective locality weights, and per tier and per locality the list of
 * candidates with their cumulative weights) is computed once by
 * swerve_plan_build() in O(endpoints). The library keeps the plan until the
 * service's health changes; a pick over it draws a priority, a locality and
 * an endpoint in O(log endpoints), so a connect costs the same at 1 or
 * 1,000 endpoints.
 *
 * Avoiding an endpoint is done here and only here, at pick time, and never
 * changes the load or panic maths (Envoy's host reselection, the
 * previous_hosts retry predicate, leaves the priority load alone too). The
 * caller says per endpoint whether to avoid it (failed in this process a
 * moment ago, an attempt pending for long) or never to take it (tried
 * already in this call). A drawn endpoint that is avoided or never to be
 * taken is replaced by the first one acceptable in this order: the rest of
 * the drawn set (its locality, or its tier), the rest of its tier, the
 * other tiers in order (healthy ones, or all in panic); then the same
 * again accepting avoided endpoints; then any endpoint in the plan,
 * ejected ones included (swerve fails open). -1 only when every endpoint
 * is never to be taken.
 *
 * Thread-safety: a plan is plain memory; building writes it, picking only
 * reads it. The caller publishes built plans to other threads.
 */
#ifndef SWERVE_PLAN_H
#define SWERVE_PLAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/balancer.h"

/* A run of candidates in the plan's idx[]/cum[] arrays. */
struct swerve_plan_list {
	uint32_t first;
	uint32_t count;
	uint64_t sum;            /* total weight */
	bool equal;              /* every weight the same (least request) */
};

/* One locality of one tier, with the effective weights up to it. */
struct swerve_plan_loc {
	uint16_t group;          /* index in the service's localities[] */
	uint64_t cum_eff;        /* effective weights of this and earlier */
	uint32_t share;          /* percent of the tier, for the reason */
	uint32_t in_loc;         /* its endpoints in the tier, healthy or not */
	struct swerve_plan_list list; /* its healthy endpoints */
};

struct swerve_plan {
	/* Storage, sized by swerve_plan_new(). */
	uint32_t cap;            /* endpoints */
	uint16_t *idx;           /* 3 * cap: tier lists, locality lists, all */
	uint64_t *cum;           /* 3 * cap: cumulative weight in its list */
	uint8_t *tier;           /* cap: compacted tier, UNROUTED when out */
	struct swerve_plan_loc *locs; /* cap */
	uint64_t *eff;           /* SWERVE_MAX_LOCALITIES: a build's scratch,
				  * off the stack (a connect may run on an
				  * 8 KiB signal stack) */
	size_t mapped;           /* bytes of the block when mmap()ed, or 0 */

	/* Content, written by swerve_plan_build(). */
	uint32_t n;              /* endpoints of the service */
	unsigned npri;
	struct swerve_balancer_load ld;
	enum swerve_lb lb;
	const struct swerve_service *svc; /* for locality names; may be NULL */
	/* Tier p's candidates: its healthy endpoints, or all in panic. */
	struct swerve_plan_list tiers[SWERVE_MAX_PRIORITIES];
	bool all[SWERVE_MAX_PRIORITIES]; /* tier p picks ejected ones too */
	uint32_t in_tier[SWERVE_MAX_PRIORITIES]; /* its endpoints, for reasons */
	/* Tier p's localities (with weighting, outside panic): locs[]. */
	uint32_t loc_first[SWERVE_MAX_PRIORITIES];
	uint32_t loc_count[SWERVE_MAX_PRIORITIES];
	/* Every endpoint in the plan, by tier then index: the last resort. */
	struct swerve_plan_list every;
	/* The lowest tier, whole: where a pick fails open. */
	struct swerve_plan_list fail;
	unsigned fail_tier;
	uint32_t unrouted;       /* left out by distribute */
	uint32_t absent;         /* left out by the caller (<absent>) */
};

/*
 * Sizes <pl> for services of up to <cap> endpoints (the only allocation).
 * Returns 0 or -ENOMEM; free with swerve_plan_free().
 */
int swerve_plan_new(struct swerve_plan *pl, uint32_t cap);

/* Frees what swerve_plan_new() allocated; accepts a zeroed plan. */
void swerve_plan_free(struct swerve_plan *pl);

/*
 * Builds the plan for <in> (n <= pl->cap): tiers from in->prio, health
 * from in->healthy, weights, policy, overprovisioning and panic threshold,
 * locality weighting from in->svc and in->client. Endpoints whose
 * in->absent entry is true (the socket cannot reach them) are left out as
 * if the service did not have them. in->excluded, in->avoid, in->rr and the
 * random numbers are not read. O(n).
 */
void swerve_plan_build(struct swerve_plan *pl,
		       const struct swerve_balancer_input *in);

/* What a caller says of endpoint <i> for one pick. */
enum swerve_plan_verdict {
	SWERVE_PLAN_TAKE = 0,    /* fine */
	SWERVE_PLAN_AVOID = 1,   /* only when nothing else is left */
	SWERVE_PLAN_NEVER = 2,   /* never (tried already in this call) */
};
typedef enum swerve_plan_verdict (*swerve_plan_verdict_fn)(void *ctx,
							   unsigned i);

/* The numbers one pick draws with. */
struct swerve_plan_draw {
	uint64_t rr;             /* round-robin counter, advanced by caller */
	uint64_t rand1, rand2;   /* random numbers */
	const uint32_t *active;  /* connections per endpoint (least request;
				  * may be NULL) */
	const _Atomic uint32_t *active_shared; /* the same, kept by other
				  * threads (used when active is NULL) */
};

/*
 * Picks an endpoint from <pl>: the priority by load (rand1 % 100 + 1 over
 * the cumulative loads), then with locality weighting a locality by
 * effective weight (the high bits of rand1), then the policy: round robin
 * and random walk the cumulative weights (a binary search), least request
 * takes Envoy's two random choices with equal weights and the highest
 * weight / (active + 1) otherwise. <verdict> (may be NULL) is asked about
 * the drawn endpoint and, only when it is not taken, about the others in
 * the fallback order of the file comment. Writes a one-line human reason
 * to <why> (may be NULL). Returns the endpoint index, or -1.
 */
int swerve_plan_pick(const struct swerve_plan *pl,
		     const struct swerve_plan_draw *d,
		     swerve_plan_verdict_fn verdict, void *ctx, char *why,
		     size_t whylen);

/*
 * One pick without keeping a plan (swervectl, tests): builds a plan for
 * <in> on the heap and picks with in->excluded as never and in->avoid as
 * avoid. Returns the index, or -1 (also when out of memory).
 */
int swerve_balancer_pick(const struct swerve_balancer_input *in, char *why,
			 size_t whylen);

#endif
