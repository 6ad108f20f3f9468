/*
 * plan.c: building a routing plan and picking over it (plan.h says what a
 * plan holds and the order in which avoided endpoints are replaced).
 *
 * Every step is the algorithm balancer.c documents (docs/semantics.md:
 * priority load, panic, locality weighting, policies); this file only
 * arranges their results so that a pick does not walk every endpoint:
 *   - tier lists hold, in endpoint order, the candidates of each tier (its
 *     healthy endpoints, or all of them when the tier is in panic), with
 *     cumulative weights, so round robin and random are one binary search
 *     for (counter mod total weight), exactly the walk of the weights;
 *   - with locality weighting, each tier also has per-locality lists and
 *     the cumulative effective weights of its localities, so the locality
 *     is drawn with the high bits of rand1 as before;
 *   - "every" lists every endpoint in the plan by tier, for the fallback
 *     that accepts ejected endpoints, and "fail" the lowest tier whole,
 *     where a pick fails open when nothing is healthy and panic is off.
 *
 * Thread-safety: none needed; no global state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "policy/plan.h"

/* Plans this large are mapped, so that pages never built cost nothing. */
#define PLAN_MAP_MIN ((size_t)64 << 10)

/*
 * The arrays live in one block, most aligned first: a service that a
 * process never dials costs no resident memory for its plans when the
 * block is mapped (a config of 256 services of 1,024 endpoints would
 * otherwise hold about 120 MB of plans in every process).
 */
int swerve_plan_new(struct swerve_plan *pl, uint32_t cap)
{
	size_t n, size;
	unsigned char *block;

	memset(pl, 0, sizeof(*pl));
	if (cap == 0)
		cap = 1;
	n = cap;
	size = 3 * n * sizeof(*pl->cum) +
	       SWERVE_MAX_LOCALITIES * sizeof(*pl->eff) +
	       n * sizeof(*pl->locs) + 3 * n * sizeof(*pl->idx) +
	       n * sizeof(*pl->tier);
	if (size >= PLAN_MAP_MIN) {
		block = mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (block == MAP_FAILED)
			return -ENOMEM;
		pl->mapped = size;
	} else {
		block = calloc(1, size);
		if (block == NULL)
			return -ENOMEM;
	}
	pl->cap = cap;
	pl->cum = (uint64_t *)(void *)block;
	pl->eff = pl->cum + 3 * n;
	pl->locs = (struct swerve_plan_loc *)(void *)(pl->eff +
						      SWERVE_MAX_LOCALITIES);
	pl->idx = (uint16_t *)(void *)(pl->locs + n);
	pl->tier = (uint8_t *)(pl->idx + 3 * n);
	return 0;
}

void swerve_plan_free(struct swerve_plan *pl)
{
	if (pl->mapped != 0)
		munmap(pl->cum, pl->mapped);
	else
		free(pl->cum);
	memset(pl, 0, sizeof(*pl));
}

static uint32_t weight_of(const struct swerve_balancer_input *in, size_t i)
{
	return in->weight != NULL && in->weight[i] > 0 ? in->weight[i] : 1;
}

/* Starts a list at the next free position <*pos>. */
static void list_open(struct swerve_plan_list *l, uint32_t pos)
{
	l->first = pos;
	l->count = 0;
	l->sum = 0;
	l->equal = true;
}

static void list_add(struct swerve_plan *pl, struct swerve_plan_list *l,
		     uint32_t *pos, size_t i, uint32_t w)
{
	if (l->count > 0 && pl->cum[l->first] != w)
		l->equal = false;
	l->sum += w;
	pl->idx[*pos] = (uint16_t)i;
	pl->cum[*pos] = l->sum;
	l->count++;
	(*pos)++;
}

/* Compacted tiers, and the load over the endpoints in the plan. */
static void build_tiers(struct swerve_plan *pl,
			const struct swerve_balancer_input *in)
{
	size_t i;

	pl->npri = in->npriorities == 0 ? 1 :
		   in->npriorities > SWERVE_MAX_PRIORITIES ?
		   SWERVE_MAX_PRIORITIES : in->npriorities;
	for (i = 0; i < pl->n; i++) {
		if (in->prio[i] == SWERVE_BALANCER_UNROUTED) {
			pl->tier[i] = SWERVE_BALANCER_UNROUTED;
			pl->unrouted++;
		} else if (in->absent != NULL && in->absent[i]) {
			pl->tier[i] = SWERVE_BALANCER_UNROUTED;
			pl->absent++;
		} else {
			pl->tier[i] = (uint8_t)(in->prio[i] < pl->npri ?
						in->prio[i] : pl->npri - 1);
		}
	}
	swerve_balancer_load(pl->tier, in->healthy, pl->n, pl->npri,
			     in->overprov, in->panic_threshold, &pl->ld);
}

/* Tier lists, the list of every endpoint, and the fail-open tier. */
static void build_lists(struct swerve_plan *pl,
			const struct swerve_balancer_input *in,
			uint32_t *pos)
{
	unsigned p;
	size_t i;

	pl->fail_tier = SWERVE_MAX_PRIORITIES;
	for (p = 0; p < pl->npri; p++) {
		pl->all[p] = pl->ld.panic[p] || pl->ld.total_panic;
		pl->in_tier[p] = 0;
		list_open(&pl->tiers[p], *pos);
		for (i = 0; i < pl->n; i++) {
			if (pl->tier[i] != p)
				continue;
			pl->in_tier[p]++;
			if (pl->all[p] || in->healthy[i])
				list_add(pl, &pl->tiers[p], pos, i,
					 weight_of(in, i));
		}
	}
	list_open(&pl->every, *pos);
	for (p = 0; p < pl->npri; p++) {
		for (i = 0; i < pl->n; i++) {
			if (pl->tier[i] != p)
				continue;
			if (pl->fail_tier == SWERVE_MAX_PRIORITIES)
				pl->fail_tier = p;
			list_add(pl, &pl->every, pos, i, weight_of(in, i));
		}
	}
	/* The lowest tier is the head of "every". */
	pl->fail = pl->every;
	pl->fail.count = 0;
	pl->fail.sum = 0;
	for (i = 0; i < pl->every.count; i++) {
		if (pl->tier[pl->idx[pl->every.first + i]] != pl->fail_tier)
			break;
		pl->fail.count++;
		pl->fail.sum = pl->cum[pl->every.first + i];
	}
}

/* Per-locality lists of tier <p>, when locality weighting applies. */
static void build_localities(struct swerve_plan *pl,
			     const struct swerve_balancer_input *in,
			     unsigned p, uint32_t *pos, uint32_t *nlocs)
{
	uint64_t *eff = pl->eff, sum, cum = 0;
	unsigned g, nloc;
	size_t i;

	pl->loc_first[p] = *nlocs;
	pl->loc_count[p] = 0;
	if (pl->all[p] || in->svc == NULL)
		return;
	/* Health over the endpoints in the plan, as the load sees it. */
	sum = swerve_balancer_locality_weights(in, p, eff);
	if (sum == 0)
		return;
	nloc = in->svc->nlocalities < SWERVE_MAX_LOCALITIES ?
	       in->svc->nlocalities : SWERVE_MAX_LOCALITIES;
	for (g = 0; g < nloc && *nlocs < pl->cap; g++) {
		struct swerve_plan_loc *l = &pl->locs[*nlocs];

		if (eff[g] == 0)
			continue;
		cum += eff[g];
		l->group = (uint16_t)g;
		l->cum_eff = cum;
		l->share = (uint32_t)(eff[g] * 100 / sum);
		l->in_loc = 0;
		list_open(&l->list, *pos);
		for (i = 0; i < pl->n; i++) {
			if (pl->tier[i] != p ||
			    in->svc->endpoints[i].group != g)
				continue;
			l->in_loc++;
			if (in->healthy[i])
				list_add(pl, &l->list, pos, i,
					 weight_of(in, i));
		}
		(*nlocs)++;
		pl->loc_count[p]++;
	}
}

void swerve_plan_build(struct swerve_plan *pl,
		       const struct swerve_balancer_input *in)
{
	uint32_t pos = 0, nlocs = 0;
	unsigned p;
	bool locality;

	pl->n = (uint32_t)(in->n < pl->cap ? in->n : pl->cap);
	pl->lb = in->lb;
	pl->svc = in->svc;
	pl->unrouted = 0;
	pl->absent = 0;
	memset(pl->tiers, 0, sizeof(pl->tiers));
	memset(pl->loc_count, 0, sizeof(pl->loc_count));
	build_tiers(pl, in);
	build_lists(pl, in, &pos);
	/* Locality weighting needs the service these endpoints belong to. */
	locality = in->svc != NULL && in->svc->nendpoints == pl->n &&
		   swerve_balancer_locality_weighted(in->svc);
	for (p = 0; locality && p < pl->npri; p++)
		build_localities(pl, in, p, &pos, &nlocs);
}

/* The position in <l> whose cumulative weight first exceeds <r> (< sum). */
static uint32_t find_weight(const struct swerve_plan *pl,
			    const struct swerve_plan_list *l, uint64_t r)
{
	uint32_t lo = 0, hi = l->count - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (pl->cum[l->first + mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static uint32_t active_at(const struct swerve_plan *pl,
			  const struct swerve_plan_draw *d,
			  const struct swerve_plan_list *l, uint32_t k)
{
	unsigned i = pl->idx[l->first + k];

	if (d->active != NULL)
		return d->active[i];
	if (d->active_shared != NULL)
		return atomic_load_explicit(&d->active_shared[i],
					    memory_order_relaxed);
	return 0;
}

static uint64_t weight_at(const struct swerve_plan *pl,
			  const struct swerve_plan_list *l, uint32_t k)
{
	return k == 0 ? pl->cum[l->first] :
	       pl->cum[l->first + k] - pl->cum[l->first + k - 1];
}

/*
 * Envoy's least request: with equal weights, two random choices and the
 * one with fewer active connections (ties keep the first); with unequal
 * weights, the highest weight / (active + 1), compared by cross
 * multiplication, ties to the lower index. The second case walks the
 * list; it is the one pick that grows with the endpoints.
 */
static uint32_t pick_least_request(const struct swerve_plan *pl,
				   const struct swerve_plan_draw *d,
				   const struct swerve_plan_list *l)
{
	uint32_t a, b, k, best = 0;

	if (l->equal) {
		a = (uint32_t)(d->rand2 % l->count);
		b = (uint32_t)((d->rand2 / l->count) % l->count);
		return active_at(pl, d, l, b) < active_at(pl, d, l, a) ? b : a;
	}
	for (k = 1; k < l->count; k++)
		if (weight_at(pl, l, k) * (active_at(pl, d, l, best) + 1) >
		    weight_at(pl, l, best) * (active_at(pl, d, l, k) + 1))
			best = k;
	return best;
}

/* The policy's position in <l> (count > 0). */
static uint32_t run_policy(const struct swerve_plan *pl,
			   const struct swerve_plan_draw *d,
			   const struct swerve_plan_list *l)
{
	switch (pl->lb) {
	case SWERVE_LB_LEAST_REQUEST:
		return pick_least_request(pl, d, l);
	case SWERVE_LB_RANDOM:
		return find_weight(pl, l, d->rand2 % l->sum);
	case SWERVE_LB_ROUND_ROBIN:
	default:
		return find_weight(pl, l, d->rr % l->sum);
	}
}

/* Envoy's choosePriority: h = rand % 100 + 1 over the cumulative loads. */
static unsigned choose_priority(const struct swerve_balancer_load *ld,
				uint64_t rand1)
{
	uint64_t h = rand1 % 100 + 1, cum = 0;
	unsigned p;

	for (p = 0; p < ld->npriorities; p++) {
		cum += ld->load[p];
		if (h <= cum)
			return p;
	}
	return 0; /* loads always sum to 100; never reached */
}

/*
 * The locality of tier <p> by effective weight: the high bits of rand1
 * (its low bits chose the priority), scaled to the sum. Envoy keeps an
 * EDF scheduler per priority in each long-lived worker; swerve's clients
 * are often short-lived processes that would all start at the same
 * locality, so the draw is random, exact in expectation. NULL when the
 * tier has no weighted locality.
 */
static const struct swerve_plan_loc *choose_locality(
	const struct swerve_plan *pl, unsigned p, uint64_t rand1)
{
	const struct swerve_plan_loc *l = &pl->locs[pl->loc_first[p]];
	uint32_t n = pl->loc_count[p], k;
	uint64_t r;

	if (n == 0)
		return NULL;
	r = (uint64_t)(((unsigned __int128)rand1 * l[n - 1].cum_eff) >> 64);
	for (k = 0; k < n; k++)
		if (r < l[k].cum_eff)
			return &l[k];
	return &l[n - 1];
}

/* What one pick drew, and how it went, for the reason. */
struct draw_state {
	const struct swerve_plan *pl;
	swerve_plan_verdict_fn verdict;
	void *ctx;
	unsigned p;                   /* drawn priority */
	const struct swerve_plan_loc *loc;
	const struct swerve_plan_list *set;
	bool fail_open;
	uint32_t passed;              /* candidates passed over */
	int stage;                    /* 0 drawn set ... 3 every endpoint */
};

static enum swerve_plan_verdict verdict_of(struct draw_state *st, unsigned i)
{
	return st->verdict != NULL ? st->verdict(st->ctx, i) : SWERVE_PLAN_TAKE;
}

/*
 * The first endpoint of <l>, from position <from> round, whose verdict is
 * at most <worst>; -1 when none.
 */
static long scan(struct draw_state *st, const struct swerve_plan_list *l,
		 uint32_t from, enum swerve_plan_verdict worst)
{
	uint32_t k, pos;
	unsigned i;

	for (k = 0; k < l->count; k++) {
		pos = (from + k) % l->count;
		i = st->pl->idx[l->first + pos];
		if (verdict_of(st, i) <= worst)
			return i;
		st->passed++;
	}
	return -1;
}

/* Fallback stages 1 and 2: the drawn tier, then the others in order. */
static long scan_tiers(struct draw_state *st, enum swerve_plan_verdict worst)
{
	const struct swerve_plan *pl = st->pl;
	unsigned q;
	long i;

	if (st->loc != NULL &&
	    (i = scan(st, &pl->tiers[st->p], 0, worst)) >= 0)
		return i;
	for (q = 0; q < pl->npri; q++) {
		if (q == st->p && st->loc != NULL)
			continue;
		if (&pl->tiers[q] == st->set)
			continue;
		if ((i = scan(st, &pl->tiers[q], 0, worst)) >= 0)
			return i;
	}
	return -1;
}

/*
 * A random one of the endpoints of <l> whose verdict is TAKE (<r> chooses),
 * so that the picks of the ones passed over share out evenly instead of
 * all going to a neighbour; -1 when none.
 */
static long scan_even(struct draw_state *st, const struct swerve_plan_list *l,
		      uint64_t r)
{
	uint32_t k, ok = 0, nth;
	unsigned i;

	for (k = 0; k < l->count; k++)
		ok += verdict_of(st, st->pl->idx[l->first + k]) ==
		      SWERVE_PLAN_TAKE;
	st->passed += l->count - ok;
	if (ok == 0)
		return -1;
	nth = (uint32_t)(r % ok);
	for (k = 0; k < l->count; k++) {
		i = st->pl->idx[l->first + k];
		if (verdict_of(st, i) == SWERVE_PLAN_TAKE && nth-- == 0)
			return i;
	}
	return -1; /* the verdicts changed under us: go on with the order */
}

/* The fallback order of plan.h, after the drawn endpoint at <k> of set. */
static long fall_back(struct draw_state *st, uint32_t k, uint64_t r)
{
	long i;

	st->stage = 1;
	if ((i = scan_even(st, st->set, r)) >= 0 ||
	    (i = scan_tiers(st, SWERVE_PLAN_TAKE)) >= 0)
		return i;
	st->stage = 2;
	if ((i = scan(st, st->set, k, SWERVE_PLAN_AVOID)) >= 0 ||
	    (i = scan_tiers(st, SWERVE_PLAN_AVOID)) >= 0)
		return i;
	st->stage = 3;
	return scan(st, &st->pl->every, 0, SWERVE_PLAN_AVOID);
}

/* snprintf that appends at <*off> and tolerates a full or absent buffer. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (buf == NULL || *off >= len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (w > 0)
		*off += (size_t)w;
}

/* The reason of a pick: the drawn set, then what the fallback did. */
static void explain(const struct draw_state *st, char *why, size_t whylen)
{
	const struct swerve_plan *pl = st->pl;
	const char *lb = swerve_config_lb_name(pl->lb);
	size_t off = 0;

	if (st->fail_open)
		append(why, whylen, &off, "no healthy endpoint: trying "
		       "ejected endpoints of priority %u anyway, %s over %u",
		       pl->fail_tier, lb, st->set->count);
	else if (pl->all[st->p])
		append(why, whylen, &off, "priority %u (load %u%%, %s), %s "
		       "over all %u of %u", st->p, pl->ld.load[st->p],
		       pl->ld.total_panic ? "total panic" : "panic", lb,
		       st->set->count, pl->in_tier[st->p]);
	else if (st->loc != NULL)
		append(why, whylen, &off, "priority %u (load %u%%), locality "
		       "%s (%u%% of the priority), %s over %u healthy of %u",
		       st->p, pl->ld.load[st->p],
		       pl->svc->localities[st->loc->group].text[0] != '\0' ?
		       pl->svc->localities[st->loc->group].text : "-",
		       st->loc->share, lb, st->set->count, st->loc->in_loc);
	else
		append(why, whylen, &off, "priority %u (load %u%%), %s over "
		       "%u healthy of %u", st->p, pl->ld.load[st->p], lb,
		       st->set->count, pl->in_tier[st->p]);
	if (st->stage == 1)
		append(why, whylen, &off, "; %u avoided or tried passed over",
		       st->passed);
	else if (st->stage == 2)
		append(why, whylen, &off, "; only avoided ones left");
	else if (st->stage == 3)
		append(why, whylen, &off, "; nothing healthy left untried: "
		       "an ejected one");
	if (pl->unrouted > 0)
		append(why, whylen, &off, ", %u not routed by distribute",
		       pl->unrouted);
}

/* The set the pick draws from: a locality, a tier, or the fail-open tier. */
static void draw_set(struct draw_state *st, const struct swerve_plan_draw *d)
{
	const struct swerve_plan *pl = st->pl;

	st->loc = NULL;
	st->fail_open = pl->ld.none_routable;
	if (!st->fail_open) {
		st->p = choose_priority(&pl->ld, d->rand1);
		st->set = &pl->tiers[st->p];
		st->fail_open = st->set->count == 0;
	}
	if (st->fail_open) {
		st->p = pl->fail_tier;
		st->set = &pl->fail;
		return;
	}
	st->loc = choose_locality(pl, st->p, d->rand1);
	if (st->loc != NULL && st->loc->list.count > 0)
		st->set = &st->loc->list;
	else
		st->loc = NULL;
}

int swerve_plan_pick(const struct swerve_plan *pl,
		     const struct swerve_plan_draw *d,
		     swerve_plan_verdict_fn verdict, void *ctx, char *why,
		     size_t whylen)
{
	struct draw_state st = { .pl = pl, .verdict = verdict, .ctx = ctx };
	uint32_t k;
	long i;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (pl->every.count == 0) {
		size_t off = 0;

		append(why, whylen, &off, "distribute sends this host's "
		       "traffic to none of the %u endpoints", pl->n);
		return -1;
	}
	draw_set(&st, d);
	k = run_policy(pl, d, st.set);
	i = pl->idx[st.set->first + k];
	if (verdict_of(&st, (unsigned)i) != SWERVE_PLAN_TAKE)
		i = fall_back(&st, k, (d->rand2 * 0x9e3779b97f4a7c15ull) >> 32);
	if (i < 0) {
		size_t off = 0;

		append(why, whylen, &off, "all %u endpoints already tried",
		       pl->every.count);
		return -1;
	}
	explain(&st, why, whylen);
	return (int)i;
}

/* The one-shot pick's verdicts: its input's excluded and avoid arrays. */
static enum swerve_plan_verdict input_verdict(void *ctx, unsigned i)
{
	const struct swerve_balancer_input *in = ctx;

	if (in->excluded != NULL && in->excluded[i])
		return SWERVE_PLAN_NEVER;
	if (in->avoid != NULL && in->avoid[i])
		return SWERVE_PLAN_AVOID;
	return SWERVE_PLAN_TAKE;
}

int swerve_balancer_pick(const struct swerve_balancer_input *in, char *why,
			 size_t whylen)
{
	struct swerve_plan pl;
	struct swerve_plan_draw d = { .rr = in->rr, .rand1 = in->rand1,
				      .rand2 = in->rand2,
				      .active = in->active };
	int idx;

	if (swerve_plan_new(&pl, (uint32_t)in->n) != 0)
		return -1;
	swerve_plan_build(&pl, in);
	idx = swerve_plan_pick(&pl, &d, input_verdict, (void *)in, why,
			       whylen);
	swerve_plan_free(&pl);
	return idx;
}
