/*
 * gens.c: the generations of this process's configuration. A generation
 * is one loaded config and what the process built from it: the names
 * cache and the per-service state, which lives in one process-wide array
 * (swerve_services) where each generation owns a range. A service is
 * named everywhere by its index in that array, so that a slot, a TLS
 * registration or a relayed connection that outlives a reload still names
 * the service it was routed for, in the generation that routed it
 * (docs/design.md 4.10).
 *
 * Lifetime. A generation is freed once nothing can reach it, counted in
 * <refs>: one for being current, one per call in progress that uses it
 * (swerve_gens_enter/exit), one per fd slot and TLS registration that
 * names one of its services (a relayed connection keeps its
 * registration), one per report made after a slot is let go. Only a
 * reload frees, and only
 * generations that are no longer current and whose count is 0; a count
 * that reached 0 in a retired generation never rises again (enter only
 * counts in from a non-zero count), so the reloader can free it without a
 * lock against readers. A call's count is kept in a per-thread record
 * indexed by signal-handler depth: a call left by siglongjmp (wget's
 * connect timeout) is counted out by the next call at the same depth,
 * which could not run while that one was still in progress. (A handler
 * installed behind swerve's back, with a raw rt_sigaction, runs at the
 * depth of the call it interrupts: one that resolves or connects while a
 * hooked call of its thread is in progress, during a reload, could see
 * that call counted out early. signals.c says why such handlers are
 * beyond swerve's sight.)
 *
 * Thread-safety: headers are read lock-free (atomic counts, fields written
 * before the count that publishes them); building, publishing and freeing
 * happen only under the reloader's lock (reload.c) or in init.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/swerve.h"
#include "policy/balancer.h"
#include "preload/preload.h"
#include "tls/client.h"

struct swerve_gen swerve_gens[SWERVE_GENS];
struct svc_state *swerve_services;
static _Atomic(struct swerve_gen *) current;
/* The service addresses of the current generation, for connect()'s
 * check of every address without counting in: net << 32 | mask. */
static _Atomic uint64_t vip_range;
/* Where the next generation's range of services is sought first. */
static unsigned next_base;
static uint32_t next_number;

/* Calls in progress, per signal-handler depth (0: none running). */
#define HELD_DEPTH 4
static __thread struct swerve_gen *held[HELD_DEPTH]
	__attribute__((tls_model("initial-exec")));

/* Counts one more user of <g>, unless its count is 0 (retired and being
 * freed, or a free header). */
static bool count_in(struct swerve_gen *g)
{
	uint32_t n = atomic_load_explicit(&g->refs, memory_order_relaxed);

	while (n != 0)
		if (atomic_compare_exchange_weak_explicit(
			    &g->refs, &n, n + 1, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	return false;
}

static void count_out(struct swerve_gen *g)
{
	atomic_fetch_sub_explicit(&g->refs, 1, memory_order_release);
}

struct swerve_gen *swerve_gens_enter(void)
{
	unsigned d = swerve_signals_depth(), k;
	struct swerve_gen *g;

	if (d >= HELD_DEPTH)
		return NULL;
	/* Records at this depth or deeper belong to calls that can no
	 * longer be running: this one could not have started meanwhile. */
	for (k = d; k < HELD_DEPTH; k++)
		if (held[k] != NULL) {
			count_out(held[k]);
			held[k] = NULL;
		}
	do {
		g = atomic_load_explicit(&current, memory_order_acquire);
		if (g == NULL)
			return NULL;
	} while (!count_in(g));
	held[d] = g;
	return g;
}

void swerve_gens_exit(struct swerve_gen *g)
{
	unsigned d = swerve_signals_depth();

	if (g == NULL || d >= HELD_DEPTH || held[d] != g)
		return;
	held[d] = NULL;
	count_out(g);
}

void swerve_gens_hold(unsigned s)
{
	atomic_fetch_add_explicit(&swerve_services[s].gen->refs, 1,
				  memory_order_relaxed);
}

void swerve_gens_drop(unsigned s)
{
	count_out(swerve_services[s].gen);
}

bool swerve_gens_in_vips(uint32_t addr)
{
	uint64_t r = atomic_load_explicit(&vip_range, memory_order_relaxed);

	return r != 0 && (addr & (uint32_t)r) == (uint32_t)(r >> 32);
}

struct swerve_gen *swerve_gens_current(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

int swerve_gens_setup(void)
{
	void *p;

	if (swerve_services != NULL)
		return 0;
	/* Address space only: pages come where services are. */
	p = mmap(NULL, (size_t)SWERVE_SVC_CAP * sizeof(struct svc_state),
		 PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	swerve_services = p;
	return 0;
}

/* Whether [base, base + n) overlaps the range of a live generation. */
static bool range_taken(unsigned base, unsigned n)
{
	unsigned k;

	for (k = 0; k < SWERVE_GENS; k++) {
		const struct swerve_gen *g = &swerve_gens[k];

		if (g->cfg != NULL && base < g->base + g->n &&
		    g->base < base + n)
			return true;
	}
	return false;
}

/* A free range of <n> services: from where the last one ended, else from
 * the start or the end of a live one. -1 when there is none. */
static long range_find(unsigned n)
{
	unsigned k, cand[SWERVE_GENS + 2];
	unsigned ncand = 0, i;

	cand[ncand++] = next_base;
	cand[ncand++] = 0;
	for (k = 0; k < SWERVE_GENS; k++)
		if (swerve_gens[k].cfg != NULL)
			cand[ncand++] = swerve_gens[k].base + swerve_gens[k].n;
	for (i = 0; i < ncand; i++)
		if ((uint64_t)cand[i] + n <= SWERVE_SVC_CAP &&
		    !range_taken(cand[i], n))
			return cand[i];
	return -1;
}

static void service_free(struct svc_state *ss)
{
	swerve_plans_free(ss);
	if (ss->dns == NULL)
		free(ss->rows);
	free(ss->prio);
	free(ss->weight);
	free(ss->active);
	free(ss->pending);
	free(ss->pending_since);
	free(ss->last_fail);
	if (ss->tls_ctx != NULL)
		swerve_tls_ctx_free(ss->tls_ctx);
	memset(ss, 0, sizeof(*ss));
}

/* Frees what <g> built, and its config when <with_cfg>. */
static void gen_free(struct swerve_gen *g, bool with_cfg)
{
	unsigned s;

	for (s = 0; s < g->n; s++)
		service_free(&swerve_services[g->base + s]);
	swerve_dnscache_free(g->dns);
	if (with_cfg)
		swerve_config_free(g->cfg);
	g->dns = NULL;
	g->n = 0;
	g->retired = false;
	/* Last: a header with a config is taken (range_taken, build). */
	g->cfg = NULL;
}

static int service_build(struct swerve_gen *g, unsigned local)
{
	const struct swerve_service *svc =
		swerve_dnscache_service(g->dns, local);
	struct svc_state *ss = &swerve_services[g->base + local];
	unsigned n = svc->nendpoints, i;

	memset(ss, 0, sizeof(*ss));
	ss->svc = svc;
	ss->gen = g;
	ss->local = local;
	ss->svc_row = swerve_shm_row(&swerve_table,
				     swerve_shm_service_key(svc->name), true);
	ss->prio = calloc(n, sizeof(*ss->prio));
	ss->weight = calloc(n, sizeof(*ss->weight));
	ss->active = calloc(n, sizeof(*ss->active));
	ss->pending = calloc(n, sizeof(*ss->pending));
	ss->pending_since = calloc(n, sizeof(*ss->pending_since));
	ss->last_fail = calloc(n, sizeof(*ss->last_fail));
	if (swerve_dnscache_has_names(g->dns, local)) {
		/* The rows follow the answers: dnscache's own. */
		ss->dns = g->dns;
		ss->rows = (struct swerve_shm_row **)swerve_dnscache_rows(
			g->dns, local);
	} else {
		ss->rows = calloc(n, sizeof(*ss->rows));
	}
	if (ss->prio == NULL || ss->weight == NULL || ss->rows == NULL ||
	    ss->active == NULL || ss->pending == NULL ||
	    ss->pending_since == NULL || ss->last_fail == NULL ||
	    swerve_plans_new(ss) != 0)
		return -ENOMEM;
	ss->nprio = swerve_balancer_priorities(svc, g->cfg, ss->prio);
	/* A fresh process must not start where every other one did:
	 * short-lived clients would all reach the same endpoint. */
	atomic_store_explicit(&ss->rr, swerve_runtime_random(),
			      memory_order_relaxed);
	for (i = 0; i < n; i++)
		ss->weight[i] = svc->endpoints[i].weight;
	if (ss->dns == NULL)
		for (i = 0; i < n; i++)
			ss->rows[i] = swerve_shm_row(
				&swerve_table,
				swerve_shm_endpoint_key(svc->name,
							svc->endpoints[i].text),
				true);
	return 0;
}

/*
 * The names of <g>'s services take the answers the current generation has
 * for them, service by service name: a reload looks nothing up. Only
 * services with names are sought (a linear search each).
 */
static void adopt_names(struct swerve_gen *g)
{
	const struct swerve_gen *prev = swerve_gens_current();
	unsigned s, o;

	if (prev == NULL)
		return;
	for (s = 0; s < g->n; s++) {
		if (swerve_services[g->base + s].dns == NULL)
			continue;
		for (o = 0; o < prev->n; o++)
			if (strcmp(prev->cfg->services[o].name,
				   g->cfg->services[s].name) == 0) {
				swerve_dnscache_adopt(g->dns, s, prev->dns, o);
				break;
			}
	}
}

int swerve_gens_build(struct swerve_config *cfg, struct swerve_gen **out,
		      char *err, size_t errlen)
{
	struct swerve_gen *g = NULL;
	unsigned k, s;
	long base;
	int rc;

	for (k = 0; k < SWERVE_GENS && g == NULL; k++)
		if (swerve_gens[k].cfg == NULL &&
		    atomic_load(&swerve_gens[k].refs) == 0)
			g = &swerve_gens[k];
	base = range_find(cfg->nservices);
	if (g == NULL || base < 0) {
		snprintf(err, errlen, "%u earlier configurations are still in "
			 "use by open connections", SWERVE_GENS - 1);
		return -EBUSY;
	}
	g->base = (unsigned)base;
	g->number = ++next_number;
	g->retired = false;
	rc = swerve_dnscache_new(cfg, &swerve_table, &g->dns, err, errlen);
	if (rc != 0)
		return rc;
	g->cfg = cfg;
	for (s = 0; s < cfg->nservices; s++) {
		g->n = s + 1;
		if (service_build(g, s) != 0) {
			snprintf(err, errlen, "no memory for %u services",
				 cfg->nservices);
			gen_free(g, false); /* the caller frees cfg */
			return -ENOMEM;
		}
	}
	adopt_names(g);
	*out = g;
	return 0;
}

void swerve_gens_publish(struct swerve_gen *g)
{
	struct swerve_gen *old;

	next_base = g->base + g->n;
	atomic_store_explicit(&g->refs, 1, memory_order_release);
	atomic_store_explicit(&vip_range,
			      (uint64_t)g->cfg->vip_net << 32 |
				      g->cfg->vip_mask,
			      memory_order_relaxed);
	old = atomic_exchange_explicit(&current, g, memory_order_acq_rel);
	if (old != NULL) {
		old->retired = true;
		count_out(old);
	}
}

unsigned swerve_gens_reap(void)
{
	unsigned k, live = 0;

	for (k = 0; k < SWERVE_GENS; k++) {
		struct swerve_gen *g = &swerve_gens[k];

		if (g->cfg == NULL)
			continue;
		if (g->retired &&
		    atomic_load_explicit(&g->refs, memory_order_acquire) == 0)
			gen_free(g, true);
		else
			live++;
	}
	return live;
}

void swerve_gens_foreach_service(void (*fn)(struct svc_state *ss))
{
	unsigned k, s;

	for (k = 0; k < SWERVE_GENS; k++) {
		struct swerve_gen *g = &swerve_gens[k];

		if (g->cfg == NULL)
			continue;
		for (s = 0; s < g->n; s++)
			fn(&swerve_services[g->base + s]);
	}
}
