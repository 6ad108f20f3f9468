/*
 * balancer: which endpoint the next connection of a service goes to. Pure:
 * Istio's priority tiers from the client locality, Envoy's priority load with
 * the overprovisioning factor (integer math), panic, then round robin, least
 * request or random inside the chosen tier, honouring weights. The caller
 * supplies health, counters and random numbers, so tests are deterministic.
 *
 * Thread-safety: none needed; no global state.
 */
#ifndef SWERVE_BALANCER_H
#define SWERVE_BALANCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Istio's LbPriority for an endpoint at <ep> seen from <client>: 0 same
 * region, zone and subzone; 1 same region and zone; 2 same region; 3 other.
 */
unsigned swerve_balancer_raw_priority(const struct swerve_locality *client,
				      const struct swerve_locality *ep);

/*
 * Fills <prio>[i] (nendpoints entries) with the compacted priority tier of
 * each endpoint of <svc> for a client at <client>, and returns the number of
 * tiers. Tiers exist only when outlier detection is configured, as in Istio;
 * otherwise every endpoint is in tier 0 and 1 is returned.
 */
unsigned swerve_balancer_priorities(const struct swerve_service *svc,
				    const struct swerve_locality *client,
				    uint8_t *prio);

/* Envoy's per-priority state for one pick. */
struct swerve_balancer_load {
	unsigned npriorities;
	uint32_t health[SWERVE_MAX_PRIORITIES]; /* min(100, of*healthy/total) */
	uint32_t load[SWERVE_MAX_PRIORITIES];   /* percent of traffic, sum 100 */
	bool panic[SWERVE_MAX_PRIORITIES];
	bool total_panic;
	bool none_routable;  /* nothing healthy and panic disabled */
};

/*
 * Computes the priority load (Envoy recalculatePerPriorityState and
 * recalculatePerPriorityPanic) for <n> endpoints with tiers <prio> and
 * health <healthy>, <overprov> in percent (140) and <panic_threshold> in
 * percent (0 disables panic).
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
	const bool *excluded;      /* tried already in this call: never picked
				    * (may be NULL) */
	const bool *suspect;       /* an attempt to it is pending for long in
				    * this process: picked only when nothing
				    * else is left in its tier (may be NULL) */
	const uint32_t *weight;    /* >= 1 */
	const uint32_t *active;    /* in-flight connections, least_request */
	enum swerve_lb lb;
	uint32_t overprov;
	uint32_t panic_threshold;
	uint64_t rr;               /* round-robin counter, advanced by caller */
	uint64_t rand1, rand2;     /* random numbers */
};

/*
 * Picks an endpoint: the priority by load (rand1 % 100 + 1 over the
 * cumulative loads), then inside it the policy over its healthy, not
 * excluded endpoints (all of them when that priority is in panic). When
 * nothing is healthy and panic is off, picks the not-excluded endpoint whose
 * <healthy> is false with the lowest tier (swerve fails open where Envoy
 * answers 503). Writes a one-line human reason to <why> (may be NULL).
 * Returns the index, or -1 when every endpoint is excluded.
 */
int swerve_balancer_pick(const struct swerve_balancer_input *in, char *why,
			 size_t whylen);

#endif
