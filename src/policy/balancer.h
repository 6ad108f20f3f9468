/*
 * balancer: which endpoint the next connection of a service goes to. Pure:
 * Istio's priority tiers from the client locality (failover,
 * failover_priority) or its distribute weights, Envoy's priority load with
 * the overprovisioning factor (integer math), panic, Envoy's locality
 * weighting inside a tier, then round robin, least request or random,
 * honouring weights. The caller supplies health, counters and random
 * numbers, so tests are deterministic.
 *
 * Thread-safety: none needed; no global state.
 */
#ifndef SWERVE_BALANCER_H
#define SWERVE_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/config.h"

/*
 * Istio's LbPriority for an endpoint at <ep> seen from <client>: 0 same
 * region, zone and subzone; 1 same region and zone; 2 same region; 3 other.
 */
unsigned swerve_balancer_raw_priority(const struct swerve_locality *client,
				      const struct swerve_locality *ep);

/* A <prio> value for an endpoint that gets no traffic from this client
 * (a distribute rule lists no target for its locality). */
#define SWERVE_BALANCER_UNROUTED 0xff

/*
 * Fills <prio>[i] (nendpoints entries) with the compacted priority tier of
 * each endpoint of <svc> for the client described by <client> (its
 * locality and labels), and returns the number of tiers, at least 1.
 * Istio's rules: a distribute rule matching the client puts everything in
 * tier 0 and the endpoints of unlisted localities at
 * SWERVE_BALANCER_UNROUTED; otherwise tiers exist only with outlier
 * detection, from failover_priority labels (semantics.md 1.4), the locality with
 * the failover rules (semantics.md 1.2, 1.3), or both composed (label tier * 5 + locality
 * tier), compacted; tiers beyond SWERVE_MAX_PRIORITIES share the last one.
 */
unsigned swerve_balancer_priorities(const struct swerve_service *svc,
				    const struct swerve_config *client,
				    uint8_t *prio);

/*
 * True when picks of <svc> weigh localities inside a tier (Envoy's
 * locality_weighted_lb_config), which Istio turns on with distribute, or
 * with failover or failover_priority when outlier detection is on.
 */
bool swerve_balancer_locality_weighted(const struct swerve_service *svc);

/*
 * The distribute rule of <svc> that applies to <client> (the first whose
 * from matches its locality), or NULL. With one, fills <weight>[g] for each
 * of svc->nlocalities localities: ceil(own weight * target weight / sum of
 * the weights of the localities the target matches), 0 for a locality no
 * target lists (Istio's applyLocalityWeights, targets in written order).
 * Without one, <weight>[g] is the locality's own weight.
 */
const struct swerve_distribute *swerve_balancer_distribute(
	const struct swerve_service *svc, const struct swerve_config *client,
	uint32_t *weight);

/* Envoy's per-priority state for one pick. */
struct swerve_balancer_load {
	unsigned npriorities;
	uint32_t health[SWERVE_MAX_PRIORITIES]; /* min(100, of*healthy/total) */
	uint32_t load[SWERVE_MAX_PRIORITIES];   /* percent of traffic, sum 100 */
	bool panic[SWERVE_MAX_PRIORITIES];
	bool total_panic;
	bool none_routable;  /* nothing healthy and panic disabled */
};

/* Bits of swerve_balancer_panic_mask() beyond the per-priority ones. */
#define SWERVE_PANIC_TOTAL (1u << 16)
#define SWERVE_PANIC_NONE_ROUTABLE (1u << 17)

/*
 * A summary of <ld>'s panic for the event log: bit p for each priority in
 * panic, SWERVE_PANIC_TOTAL, SWERVE_PANIC_NONE_ROUTABLE (nothing healthy,
 * panic off: swerve fails open). 0 means no panic.
 */
uint32_t swerve_balancer_panic_mask(const struct swerve_balancer_load *ld);

/*
 * Computes the priority load (Envoy recalculatePerPriorityState and
 * recalculatePerPriorityPanic) for <n> endpoints with tiers <prio> and
 * health <healthy>, <overprov> in percent (140) and <panic_threshold> in
 * percent (0 disables panic). Endpoints at SWERVE_BALANCER_UNROUTED count
 * nowhere.
 */
void swerve_balancer_load(const uint8_t *prio, const bool *healthy, size_t n,
			  unsigned npriorities, uint32_t overprov,
			  uint32_t panic_threshold,
			  struct swerve_balancer_load *out);

struct swerve_balancer_input {
	size_t n;
	const uint8_t *prio;       /* tier per endpoint */
	unsigned npriorities;
	const bool *healthy;       /* not ejected */
	const bool *absent;        /* the socket cannot reach it: left out of
				    * the plan, load included (may be NULL) */
	const bool *excluded;      /* tried already in this call: never picked
				    * (may be NULL; one-shot pick only) */
	const bool *avoid;         /* failed here a moment ago, or pending for
				    * long: picked only when nothing else is
				    * left (may be NULL; one-shot pick only) */
	const uint32_t *weight;    /* >= 1 */
	const uint32_t *active;    /* in-flight connections, least_request */
	enum swerve_lb lb;
	uint32_t overprov;
	uint32_t panic_threshold;
	uint64_t rr;               /* round-robin counter, advanced by caller */
	uint64_t rand1, rand2;     /* random numbers */
	/*
	 * The service (its endpoints in the same order, n of them) and the
	 * client config, for locality weighting and distribute weights; both
	 * NULL: no locality weighting.
	 */
	const struct swerve_service *svc;
	const struct swerve_config *client;
};

/*
 * Envoy's effective locality weights inside tier <p> for the pick <in>
 * (which must carry svc): fills <eff>[g] for each of svc->nlocalities
 * localities with weight * min(1, overprov * healthy / total) in units of
 * 1/10000 of the weight (healthy and total over the endpoints not
 * absent), and returns their sum. Returns 0 and leaves <eff> alone when
 * the service does no locality weighting.
 */
uint64_t swerve_balancer_locality_weights(
	const struct swerve_balancer_input *in, unsigned p, uint64_t *eff);

#endif
