/*
 * balancer.c: which endpoint a connection goes to, in steps that are each
 * Envoy's or Istio's own algorithm (docs/semantics.md 1 to 4).
 *
 * Tiers. With outlier detection configured, Istio gives every endpoint a
 * priority from the client's locality: 0 for the same region, zone and
 * subzone, 1 for the same zone only, 2 for the same region only, 3 for
 * anything else. Distinct values are then compacted to 0..K-1, so empty tiers
 * vanish. Without outlier detection nothing would ever make a tier unhealthy,
 * so Istio puts everything in tier 0, and so do we. A failover rule
 * FROM -> TO (FROM the client's region) puts TO's endpoints at raw tier 3
 * and every other region behind it at 4. failover_priority ranks by labels
 * instead: N - j for the first of N labels j that differs from the
 * client's (0 when all match; a different network as the first label goes
 * behind every same-network tier); with failover rules too, Istio composes
 * the two as label tier * 5 + locality tier. distribute is the other
 * mechanism: everything in tier 0, the localities weighted as its first
 * matching rule says, and localities it does not list left out entirely,
 * as Istio removes their endpoints.
 *
 * Load. Each tier offers health = min(100, overprov * healthy / total), in
 * integer percent (overprov is 140 by default: a tier with 72% of its
 * endpoints healthy is assumed to carry all of its traffic). The sum of the
 * healths, capped at 100, is the normalized total availability (NTA). Tiers
 * take health * 100 / NTA of the traffic in order, each capped by what is
 * left, and the rounding remainder goes to the first tier with any health.
 * Counts, not weights, as with Envoy's default weighted_priority_health off.
 *
 * Panic. A tier is in panic when fewer than panic_threshold percent of its
 * endpoints are healthy (plain percent, no overprovisioning) and NTA is
 * below 100, i.e. when the lower tiers cannot absorb its loss. A tier in
 * panic routes to all of its endpoints, ejected ones included. When every
 * non-empty tier is in panic ("total panic") the load is split by endpoint
 * count instead. Envoy also counts empty tiers as panicking; they carry no
 * load either way, and leaving them out keeps a compacted config and one
 * with gaps equivalent. With panic disabled (threshold 0, Istio's default
 * when outlier detection is on) and nothing healthy, Envoy answers 503 "no
 * healthy upstream"; swerve fails open instead and tries the ejected
 * endpoints of the lowest tier, because refusing the connection ourselves
 * can only be worse than letting the program try.
 *
 * Localities. With distribute, or with failover rules and outlier
 * detection (when Istio sets locality_weighted_lb_config), a locality of the
 * chosen tier is picked first by Envoy's effective weight, weight *
 * min(1, overprov * healthy / total), so a locality losing endpoints sheds
 * its share to the others of the same tier before the tier spills.
 *
 * Policy. Inside the chosen tier (and locality), round robin and random
 * walk the cumulative weights with the caller's counter or random number,
 * so equal weights rotate plainly and 1:3 weights give exactly 1:3 over
 * every four picks. Least request uses Envoy's power of two choices when
 * the weights are equal and otherwise the endpoint with the highest
 * weight / (active + 1). The steps of a pick are arranged in a routing plan
 * that is computed once per health change (plan.c), which is also where
 * avoided endpoints and those already tried are passed over.
 *
 * Everything is integer math on caller-supplied arrays and stack copies of
 * at most SWERVE_MAX_LOCALITIES entries: no allocation, no global state.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/balancer.h"

/*
 * Raw tier values before compaction: a label tier of at most
 * 2 * SWERVE_MAX_LABELS (other networks add N), times 5, plus a locality
 * tier of at most 4.
 */
#define RAW_PRIORITIES ((2 * SWERVE_MAX_LABELS) * 5 + 4 + 1)

unsigned swerve_balancer_raw_priority(const struct swerve_locality *client,
				      const struct swerve_locality *ep)
{
	if (strcmp(client->region, ep->region) != 0)
		return 3;
	if (strcmp(client->zone, ep->zone) != 0)
		return 2;
	if (strcmp(client->subzone, ep->subzone) != 0)
		return 1;
	return 0;
}

/*
 * Istio's applyLocalityFailover for one endpoint: another region is 3,
 * unless the first failover rule from the client's region names a region
 * other than the endpoint's, which makes it 4 (behind the failover target).
 */
static unsigned failover_priority_of(const struct swerve_service *svc,
				     const struct swerve_locality *client,
				     const struct swerve_locality *ep)
{
	unsigned p = swerve_balancer_raw_priority(client, ep), i;

	if (p != 3)
		return p;
	for (i = 0; i < svc->nfailover; i++) {
		if (strcmp(svc->failover[i].from, client->region) != 0)
			continue;
		if (strcmp(ep->region, svc->failover[i].to) != 0)
			p = 4;
		break;
	}
	return p;
}

/*
 * Istio's applyFailoverPriorityPerLocality for one endpoint: N - j for the
 * first label j that differs from the client's (or from the literal of a
 * key=value entry), 0 when all match; a different network (only as the
 * first label) sends the endpoint behind every same-network tier.
 */
static unsigned label_priority_of(const struct swerve_service *svc,
				  const struct swerve_config *client,
				  const struct swerve_endpoint *ep)
{
	unsigned n = svc->nfailover_priority, j, adjust = 0;
	const struct swerve_failover_label *fl;
	const char *want, *have;

	for (j = 0; j < n && j < SWERVE_MAX_LABELS; j++) {
		fl = &svc->failover_priority[j];
		want = fl->has_value ? fl->value :
		       swerve_config_label(client->labels, client->nlabels,
					   &client->locality, fl->key);
		have = swerve_config_label(ep->labels, ep->nlabels,
					   &ep->locality, fl->key);
		if (strcmp(want, have) == 0)
			continue;
		if (j == 0 && strcmp(fl->key, SWERVE_LABEL_NETWORK) == 0) {
			adjust = n;
			continue;
		}
		return n - j + adjust;
	}
	return adjust;
}

bool swerve_balancer_locality_weighted(const struct swerve_service *svc)
{
	if (svc->ndistribute > 0)
		return true;
	return svc->outlier.enabled &&
	       (svc->nfailover > 0 || svc->nfailover_priority > 0);
}

const struct swerve_distribute *swerve_balancer_distribute(
	const struct swerve_service *svc, const struct swerve_config *client,
	uint32_t *weight)
{
	const struct swerve_distribute *d = NULL;
	const struct swerve_locality_group *g;
	uint64_t total, w;
	unsigned i, j;
	bool taken[SWERVE_MAX_LOCALITIES] = { false };
	unsigned nloc = svc->nlocalities < SWERVE_MAX_LOCALITIES ?
			svc->nlocalities : SWERVE_MAX_LOCALITIES;

	for (i = 0; i < svc->ndistribute && d == NULL; i++) {
		if (swerve_config_locality_match(&client->locality,
						 &svc->distribute[i].from))
			d = &svc->distribute[i];
	}
	for (i = 0; i < nloc; i++)
		weight[i] = d == NULL ? svc->localities[i].weight : 0;
	if (d == NULL)
		return NULL;
	/*
	 * Istio walks a Go map, so overlapping targets would be resolved in
	 * random order; config.c refuses overlaps, so written order is as
	 * good as any and stable.
	 */
	for (j = 0; j < d->nto; j++) {
		total = 0;
		for (i = 0; i < nloc; i++) {
			g = &svc->localities[i];
			if (!taken[i] && swerve_config_locality_match(
					&g->locality, &d->to[j].pattern))
				total += g->weight > 0 ? g->weight : 1;
		}
		if (total == 0)
			continue;
		for (i = 0; i < nloc; i++) {
			g = &svc->localities[i];
			if (taken[i] || !swerve_config_locality_match(
					&g->locality, &d->to[j].pattern))
				continue;
			taken[i] = true;
			w = (uint64_t)(g->weight > 0 ? g->weight : 1) *
			    d->to[j].weight;
			weight[i] = (uint32_t)((w + total - 1) / total);
		}
	}
	return d;
}

/*
 * Returns at least 1 even for a service without endpoints, so callers can
 * always index tier 0.
 */
unsigned swerve_balancer_priorities(const struct swerve_service *svc,
				    const struct swerve_config *client,
				    uint8_t *prio)
{
	static const struct swerve_config nobody;
	uint32_t weight[SWERVE_MAX_LOCALITIES];
	bool seen[RAW_PRIORITIES] = { false };
	uint8_t rank[RAW_PRIORITIES] = { 0 };
	unsigned i, k = 0, raw, g;

	if (client == NULL)
		client = &nobody;
	if (svc->ndistribute > 0 &&
	    swerve_balancer_distribute(svc, client, weight) != NULL) {
		/* Everything in tier 0; unlisted localities get nothing. */
		for (i = 0; i < svc->nendpoints; i++) {
			g = svc->endpoints[i].group;
			prio[i] = g < SWERVE_MAX_LOCALITIES &&
				  g < svc->nlocalities && weight[g] > 0 ?
				  0 : SWERVE_BALANCER_UNROUTED;
		}
		return 1;
	}
	if (!svc->outlier.enabled || svc->ndistribute > 0) {
		for (i = 0; i < svc->nendpoints; i++)
			prio[i] = 0;
		return 1;
	}
	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		if (svc->nfailover_priority > 0) {
			raw = label_priority_of(svc, client, ep);
			/* Istio composes a failover pass after the labels */
			if (svc->nfailover > 0)
				raw = raw * 5 + failover_priority_of(
					svc, &client->locality, &ep->locality);
		} else {
			raw = failover_priority_of(svc, &client->locality,
						   &ep->locality);
		}
		if (raw >= RAW_PRIORITIES)
			raw = RAW_PRIORITIES - 1;
		prio[i] = (uint8_t)raw;
		seen[raw] = true;
	}
	for (i = 0; i < RAW_PRIORITIES; i++) {
		if (!seen[i])
			continue;
		rank[i] = (uint8_t)(k < SWERVE_MAX_PRIORITIES ?
				    k : SWERVE_MAX_PRIORITIES - 1);
		k++;
	}
	for (i = 0; i < svc->nendpoints; i++)
		prio[i] = rank[prio[i]];
	if (k > SWERVE_MAX_PRIORITIES)
		k = SWERVE_MAX_PRIORITIES;
	return k > 0 ? k : 1;
}

uint32_t swerve_balancer_panic_mask(const struct swerve_balancer_load *ld)
{
	uint32_t mask = 0;
	unsigned p;

	if (ld->none_routable)
		return SWERVE_PANIC_NONE_ROUTABLE;
	for (p = 0; p < ld->npriorities && p < SWERVE_MAX_PRIORITIES; p++) {
		if (ld->panic[p])
			mask |= 1u << p;
	}
	if (ld->total_panic)
		mask |= SWERVE_PANIC_TOTAL;
	return mask;
}

static unsigned clamp_npriorities(unsigned npriorities)
{
	if (npriorities == 0)
		return 1;
	if (npriorities > SWERVE_MAX_PRIORITIES)
		return SWERVE_MAX_PRIORITIES;
	return npriorities;
}

/* A tier beyond the declared count is folded into the last one. */
static unsigned tier_of(uint8_t prio, unsigned npriorities)
{
	return prio < npriorities ? prio : npriorities - 1;
}

/* Envoy's recalculateLoadInTotalPanic: load by endpoint count. */
static void split_by_count(const uint32_t *total, uint64_t all,
			   struct swerve_balancer_load *out)
{
	uint32_t remaining = 100;
	unsigned p;
	int first = -1;

	for (p = 0; p < out->npriorities; p++) {
		if (first < 0 && total[p] > 0)
			first = (int)p;
		out->load[p] = (uint32_t)(100u * (uint64_t)total[p] / all);
		remaining -= out->load[p];
	}
	out->load[first] += remaining;
}

void swerve_balancer_load(const uint8_t *prio, const bool *healthy, size_t n,
			  unsigned npriorities, uint32_t overprov,
			  uint32_t panic_threshold,
			  struct swerve_balancer_load *out)
{
	uint32_t total[SWERVE_MAX_PRIORITIES] = { 0 };
	uint32_t good[SWERVE_MAX_PRIORITIES] = { 0 };
	uint64_t sum = 0, all = 0, nta, h, threshold;
	uint32_t remaining, l;
	unsigned npri = clamp_npriorities(npriorities);
	unsigned p;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->npriorities = npri;
	/* Validation rejects 0; without a factor nothing would be healthy. */
	if (overprov == 0)
		overprov = 100;
	for (i = 0; i < n; i++) {
		if (prio[i] == SWERVE_BALANCER_UNROUTED)
			continue;
		p = tier_of(prio[i], npri);
		total[p]++;
		if (healthy[i])
			good[p]++;
	}
	for (p = 0; p < npri; p++) {
		if (total[p] == 0)
			continue;
		h = (uint64_t)overprov * good[p] / total[p];
		out->health[p] = (uint32_t)(h < 100 ? h : 100);
		sum += out->health[p];
		all += total[p];
	}
	nta = sum < 100 ? sum : 100;

	if (nta > 0) {
		remaining = 100;
		for (p = 0; p < npri; p++) {
			l = (uint32_t)(out->health[p] * 100u / nta);
			out->load[p] = l < remaining ? l : remaining;
			remaining -= out->load[p];
		}
		for (p = 0; p < npri && remaining > 0; p++) {
			if (out->health[p] > 0) {
				out->load[p] += remaining;
				remaining = 0;
			}
		}
	}

	/*
	 * Envoy puts 100% on tier 0 when nothing is routable so that the
	 * loads still sum to 100; the pick then finds nothing healthy.
	 */
	threshold = panic_threshold < 100 ? panic_threshold : 100;
	if (all == 0 || (threshold == 0 && nta == 0)) {
		out->none_routable = true;
		memset(out->load, 0, sizeof(out->load));
		out->load[0] = 100;
		return;
	}
	if (nta < 100) {
		out->total_panic = true;
		for (p = 0; p < npri; p++) {
			if (total[p] == 0)
				continue;
			/* 100 * good / total < threshold, without rounding */
			out->panic[p] = 100u * (uint64_t)good[p] <
					threshold * total[p];
			if (!out->panic[p])
				out->total_panic = false;
		}
	}
	if (out->total_panic) {
		split_by_count(total, all, out);
	} else if (nta == 0) {
		/* Unreachable: nta 0 means nothing healthy, so all panic. */
		out->none_routable = true;
		out->load[0] = 100;
	}
}

uint64_t swerve_balancer_locality_weights(
	const struct swerve_balancer_input *in, unsigned p, uint64_t *eff)
{
	const struct swerve_service *svc = in->svc;
	/*
	 * Small on purpose (a connect may run on an 8 KiB signal stack): the
	 * configured weight of each locality is summed in eff[] itself, and
	 * its endpoints' count and healthy count share one word (n is at
	 * most SWERVE_MAX_ENDPOINTS, below 1 << 16).
	 */
	uint32_t dweight[SWERVE_MAX_LOCALITIES];
	uint32_t count[SWERVE_MAX_LOCALITIES] = { 0 };
	uint64_t of = in->overprov > 0 ? in->overprov : 100;
	uint64_t sum = 0, h, w, total, good;
	unsigned nloc, g, npri = clamp_npriorities(in->npriorities);
	size_t i, n = in->n < SWERVE_MAX_ENDPOINTS ? in->n :
		      SWERVE_MAX_ENDPOINTS;
	bool distribute;

	if (svc == NULL || svc->nendpoints != in->n ||
	    !swerve_balancer_locality_weighted(svc))
		return 0;
	nloc = svc->nlocalities < SWERVE_MAX_LOCALITIES ? svc->nlocalities :
	       SWERVE_MAX_LOCALITIES;
	for (g = 0; g < nloc; g++)
		eff[g] = 0;
	distribute = svc->ndistribute > 0 && in->client != NULL &&
		     swerve_balancer_distribute(svc, in->client,
						dweight) != NULL;
	for (i = 0; i < n; i++) {
		g = svc->endpoints[i].group;
		if (in->prio[i] == SWERVE_BALANCER_UNROUTED || g >= nloc ||
		    tier_of(in->prio[i], npri) != p)
			continue;
		/* The weight is configuration: every endpoint counts. */
		eff[g] += in->weight != NULL && in->weight[i] > 0 ?
			  in->weight[i] : 1;
		/* Health leaves out what the socket cannot reach, like the
		 * load does. */
		if (in->absent != NULL && in->absent[i])
			continue;
		count[g] += 1u + ((uint32_t)in->healthy[i] << 16);
	}
	for (g = 0; g < nloc; g++) {
		total = count[g] & 0xffff;
		good = count[g] >> 16;
		if (total == 0) {
			eff[g] = 0;
			continue;
		}
		w = distribute ? dweight[g] : eff[g];
		h = of * good * 100 / total;
		eff[g] = w * (h < 10000 ? h : 10000);
		sum += eff[g];
	}
	return sum;
}
