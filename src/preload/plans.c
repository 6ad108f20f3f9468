/*
 * plans.c: each service's routing plans (policy/plan.h), kept per process
 * and reused until the service's health changes, so that a steered connect
 * costs the same at 1 or 1,000 endpoints.
 *
 * A plan depends on which endpoints the socket can reach, so a service has
 * one per socket class: AF_INET, dual-stack AF_INET6, IPV6_V6ONLY AF_INET6.
 * A plan is fresh while
 *   - the service's epoch in the shared table is the one it was built at
 *     (every ejection, un-ejection, operator edit and panic change bumps
 *     it, in whichever process it happens);
 *   - the earliest ejection deadline it depends on has not passed (an
 *     ejection ends lazily, by time, without a bump);
 *   - the names cache has published no new answer for the service.
 * The epoch is read before the health, so a change that lands during a
 * build leaves the plan stale, never wrongly fresh.
 *
 * Thread-safety, without locks or waits: each class has PLAN_SLOTS plans.
 * A reader counts itself in the current one (readers), checks that it is
 * still current, uses it and counts itself out. A builder claims a free
 * slot by compare-and-swap, checks that nobody reads it, builds, and
 * publishes it as current; the slot it replaces becomes free. A reader
 * that counted itself into a slot after a builder claimed it finds it is
 * not current and leaves without reading. When no slot can be claimed (all
 * in use, a moment), the current plan is used even if stale: its health
 * is a few microseconds old. Sequentially consistent atomics order the
 * count, the claim and the check.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/swerve.h"
#include "policy/balancer.h"
#include "policy/plan.h"
#include "preload/preload.h"

enum { SLOT_FREE_PLAN = 0, SLOT_BUILDING = 1, SLOT_CURRENT = 2 };

struct plan_slot {
	struct swerve_plan plan;
	/* The health read for a build, kept here rather than on the stack:
	 * a connect made in a signal handler may have 8 KiB in all. */
	bool *healthy, *absent;
	_Atomic uint32_t readers;
	_Atomic uint32_t state;
	uint64_t epoch;          /* the service's epoch when built */
	uint64_t names_gen;      /* the names cache's generation then */
	uint64_t expires_ms;     /* the earliest ejection end it read */
};

struct swerve_plans {
	struct plan_slot slot[PLAN_SLOTS];
	_Atomic(struct plan_slot *) current;
};

/* Whether a socket of <class> can reach an address of family <epfam>. */
static bool class_reaches(unsigned cls, int epfam)
{
	if (epfam == AF_INET)
		return cls != PLAN_CLASS_V6ONLY;
	return epfam == AF_INET6 && cls != PLAN_CLASS_V4;
}

static uint64_t names_gen(unsigned s)
{
	const struct svc_state *ss = &swerve_services[s];

	if (ss->dns == NULL)
		return 0;
	return swerve_dnscache_generation(ss->dns, ss->local);
}

/*
 * Reads health and reachability of service <s> for socket class <cls>
 * into the arrays, and returns the earliest ejection end among them.
 */
static uint64_t read_health(unsigned s, unsigned cls, uint64_t now,
			    bool *healthy, bool *absent)
{
	struct svc_state *ss = &swerve_services[s];
	const struct swerve_service *svc = ss->svc;
	bool names = ss->dns != NULL;
	uint64_t expires = UINT64_MAX, until;
	unsigned i;

	for (i = 0; i < svc->nendpoints; i++) {
		const struct swerve_shm_row *row =
			__atomic_load_n(&ss->rows[i], __ATOMIC_RELAXED);
		struct sockaddr_storage addr;

		if (names)
			absent[i] = !swerve_dnscache_address(ss->dns,
							     ss->local, i,
							     &addr, NULL) ||
				    !class_reaches(cls, addr.ss_family);
		else
			absent[i] = !class_reaches(
				cls, svc->endpoints[i].addr.ss_family);
		until = row != NULL ? atomic_load_explicit(
				&row->ejected_until_ms, memory_order_acquire)
				    : 0;
		healthy[i] = until <= now;
		if (!healthy[i] && until < expires)
			expires = until;
	}
	return expires;
}

/* Notes a change of the service's panic, host-wide, from table health. */
static void note_panic(unsigned s, const bool *healthy, uint64_t now)
{
	struct svc_state *ss = &swerve_services[s];
	const struct swerve_service *svc = ss->svc;
	struct swerve_balancer_load ld;

	if (!svc->outlier.enabled)
		return;
	swerve_balancer_load(ss->prio, healthy, svc->nendpoints, ss->nprio,
			     svc->overprovisioning_factor,
			     svc->outlier.min_health_percent, &ld);
	swerve_shm_panic_note(&swerve_table, svc->name,
			      swerve_balancer_panic_mask(&ld), now);
}

static void build(struct plan_slot *sl, unsigned s, unsigned cls,
		  uint64_t now)
{
	struct svc_state *ss = &swerve_services[s];
	struct swerve_balancer_input in;

	sl->epoch = swerve_shm_epoch(ss->svc_row);
	sl->names_gen = names_gen(s);
	sl->expires_ms = read_health(s, cls, now, sl->healthy, sl->absent);
	memset(&in, 0, sizeof(in));
	in.n = ss->svc->nendpoints;
	in.prio = ss->prio;
	in.npriorities = ss->nprio;
	in.healthy = sl->healthy;
	in.absent = sl->absent;
	in.weight = ss->weight;
	in.lb = ss->svc->lb;
	in.overprov = ss->svc->overprovisioning_factor;
	in.panic_threshold = ss->svc->outlier.min_health_percent;
	in.svc = ss->svc;
	in.client = ss->gen->cfg;
	swerve_plan_build(&sl->plan, &in);
	/* Any class: a Java process only ever builds the dual-stack one.
	 * The note is idempotent (the table keeps the last mask). */
	note_panic(s, sl->healthy, now);
}

static bool is_fresh(const struct plan_slot *sl, unsigned s, uint64_t now)
{
	return now < sl->expires_ms &&
	       sl->epoch == swerve_shm_epoch(swerve_services[s].svc_row) &&
	       sl->names_gen == names_gen(s);
}

/* Counts the caller in as a reader of <pc>'s current plan, or NULL. */
static struct plan_slot *enter_current(struct swerve_plans *pc)
{
	struct plan_slot *cur = atomic_load(&pc->current);

	if (cur == NULL)
		return NULL;
	atomic_fetch_add(&cur->readers, 1);
	if (atomic_load(&pc->current) == cur)
		return cur;
	atomic_fetch_sub(&cur->readers, 1);
	return NULL;
}

/* Claims a free slot nobody reads, or NULL. */
static struct plan_slot *claim(struct swerve_plans *pc)
{
	unsigned k;

	for (k = 0; k < PLAN_SLOTS; k++) {
		struct plan_slot *sl = &pc->slot[k];
		uint32_t st = SLOT_FREE_PLAN;

		if (!atomic_compare_exchange_strong(&sl->state, &st,
						    SLOT_BUILDING))
			continue;
		if (atomic_load(&sl->readers) == 0)
			return sl;
		atomic_store(&sl->state, SLOT_FREE_PLAN);
	}
	return NULL;
}

const struct swerve_plan *swerve_plans_enter(unsigned s, unsigned cls,
					     uint64_t now, void **token)
{
	struct swerve_plans *pc = &swerve_services[s].plans[cls];
	struct plan_slot *cur = enter_current(pc), *sl, *old;

	if (cur != NULL && is_fresh(cur, s, now))
		goto done;
	sl = claim(pc);
	if (sl == NULL) {
		if (cur == NULL)
			return NULL;
		goto done; /* stale for a moment: see the file comment */
	}
	if (cur != NULL)
		atomic_fetch_sub(&cur->readers, 1);
	build(sl, s, cls, now);
	atomic_fetch_add(&sl->readers, 1);
	atomic_store(&sl->state, SLOT_CURRENT);
	old = atomic_exchange(&pc->current, sl);
	if (old != NULL && old != sl)
		atomic_store(&old->state, SLOT_FREE_PLAN);
	cur = sl;
done:
	*token = cur;
	return &cur->plan;
}

void swerve_plans_leave(void *token)
{
	struct plan_slot *sl = token;

	if (sl != NULL)
		atomic_fetch_sub(&sl->readers, 1);
}

int swerve_plans_new(struct svc_state *ss)
{
	unsigned c, k;

	ss->plans = calloc(PLAN_CLASSES, sizeof(*ss->plans));
	if (ss->plans == NULL)
		return -ENOMEM;
	for (c = 0; c < PLAN_CLASSES; c++) {
		for (k = 0; k < PLAN_SLOTS; k++) {
			struct plan_slot *sl = &ss->plans[c].slot[k];
			size_t n = ss->svc->nendpoints ? ss->svc->nendpoints : 1;

			sl->healthy = calloc(n, sizeof(*sl->healthy));
			sl->absent = calloc(n, sizeof(*sl->absent));
			if (sl->healthy == NULL || sl->absent == NULL ||
			    swerve_plan_new(&sl->plan, ss->svc->nendpoints) != 0)
				return -ENOMEM;
		}
	}
	return 0;
}

void swerve_plans_free(struct svc_state *ss)
{
	unsigned c, k;

	if (ss->plans == NULL)
		return;
	for (c = 0; c < PLAN_CLASSES; c++)
		for (k = 0; k < PLAN_SLOTS; k++) {
			struct plan_slot *sl = &ss->plans[c].slot[k];

			free(sl->healthy);
			free(sl->absent);
			swerve_plan_free(&sl->plan);
		}
	free(ss->plans);
	ss->plans = NULL;
}
