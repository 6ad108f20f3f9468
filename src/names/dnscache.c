/*
 * dnscache.c: expanded services and their answers.
 *
 * Layout. For a service with names, slot k of the expanded service is
 * either a static endpoint (one slot, a copy of the config's) or one of the
 * SWERVE_DNS_MAX_ADDRS slots of a name (copies of the name's endpoint, text
 * "name:port"). struct name_set holds a name's answer: n addresses sorted
 * as the resolver returns them (IPv4 first, then IPv6, by bytes), so a
 * stable answer keeps every address in the same slot across refreshes and
 * per-slot counters stay meaningful.
 *
 * Publication is a seqlock: the elected refresher makes seq odd, writes
 * the addresses, rows and deadlines, and makes it even again, with every
 * signal blocked (a handler that siglongjmps would otherwise leave seq odd
 * and readers spinning). Readers retry while seq is odd or moved, a bounded
 * number of times; past that they see the slot as absent, which fails open.
 *
 * Election: refreshing_since is 0 or the time a thread took the job with
 * compare-and-swap. A job older than twice dns_timeout was abandoned (its
 * thread was jumped out of, or killed) and may be taken over.
 *
 * One resolver (c-ares channel) serves the process; it is not thread-safe,
 * so it has its own compare-and-swap busy flag (the time the lookup began),
 * and a refresher that finds it busy waits (short sleeps, bounded by
 * dns_timeout) like one that found the name's job taken. A flag older than
 * twice the timeout means the lookup was abandoned by a siglongjmp: its
 * channel still points at that call's stack, so it is left alone (leaked)
 * and a fresh resolver takes its place.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "names/dnscache.h"
#include "base/log.h"
#include "base/swerve.h"

#define READ_TRIES 1000
#define WAIT_STEP_MS 2

struct name_set {
	unsigned ep;                     /* endpoint index in the config */
	unsigned base;                   /* its first slot */
	_Atomic uint32_t seq;            /* even: stable; odd: being written */
	unsigned n;                      /* addresses present */
	struct sockaddr_storage addr[SWERVE_DNS_MAX_ADDRS];
	bool stale;                      /* the answer is past its TTL */
	bool ever;                       /* resolved at least once */
	_Atomic uint64_t expires_ms;     /* refresh due (0: now) */
	_Atomic uint64_t refreshing_since; /* elected refresher, 0 = none */
	struct swerve_shm_row *status;   /* the name's status row */
};

struct svc_cache {
	bool has_names;
	struct swerve_service expanded;  /* copy of the config's, own array */
	struct swerve_shm_row **rows;    /* per slot; written with __atomic */
	int *set_of;                     /* per slot: name set, or -1 */
	struct name_set *sets;
	unsigned nsets;
	_Atomic uint64_t gen;            /* bumped by every new answer */
};

struct swerve_dnscache {
	const struct swerve_config *cfg;
	struct swerve_shm *tab;
	struct svc_cache *svcs;
	struct swerve_resolver *res;     /* NULL: no name anywhere */
	_Atomic uint64_t res_busy;       /* when the lookup began; 0: idle */
	uint64_t timeout_ms;             /* the longest dns_timeout */
};

static int build_service(struct swerve_dnscache *c, unsigned s)
{
	const struct swerve_service *svc = &c->cfg->services[s];
	struct svc_cache *sc = &c->svcs[s];
	unsigned i, k, slots = 0, set = 0;

	for (i = 0; i < svc->nendpoints; i++) {
		if (svc->endpoints[i].name[0] != '\0') {
			slots += SWERVE_DNS_MAX_ADDRS;
			sc->nsets++;
		} else {
			slots++;
		}
	}
	sc->has_names = sc->nsets > 0;
	if (!sc->has_names)
		return 0;
	if (slots > SWERVE_MAX_ENDPOINTS)
		return -E2BIG;
	sc->expanded = *svc;
	sc->expanded.endpoints = calloc(slots, sizeof(struct swerve_endpoint));
	sc->rows = calloc(slots, sizeof(*sc->rows));
	sc->set_of = calloc(slots, sizeof(*sc->set_of));
	sc->sets = calloc(sc->nsets, sizeof(*sc->sets));
	if (sc->expanded.endpoints == NULL || sc->rows == NULL ||
	    sc->set_of == NULL || sc->sets == NULL)
		return -ENOMEM;
	sc->expanded.nendpoints = slots;
	for (i = 0, k = 0; i < svc->nendpoints; i++) {
		const struct swerve_endpoint *ep = &svc->endpoints[i];

		if (ep->name[0] == '\0') {
			sc->expanded.endpoints[k] = *ep;
			sc->rows[k] = swerve_shm_row(
				c->tab, swerve_shm_endpoint_key(svc->name, ep->text),
				true);
			sc->set_of[k++] = -1;
			continue;
		}
		sc->sets[set].ep = i;
		sc->sets[set].base = k;
		sc->sets[set].status = swerve_shm_row(
			c->tab, swerve_shm_status_key(svc->name, ep->text), true);
		for (unsigned j = 0; j < SWERVE_DNS_MAX_ADDRS; j++) {
			sc->expanded.endpoints[k] = *ep;
			sc->set_of[k++] = (int)set;
		}
		set++;
	}
	return 0;
}

int swerve_dnscache_new(const struct swerve_config *cfg,
			struct swerve_shm *tab, struct swerve_dnscache **out,
			char *err, size_t errlen)
{
	struct swerve_dnscache *c;
	bool any = false;
	unsigned s;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->cfg = cfg;
	c->tab = tab;
	c->svcs = calloc(cfg->nservices ? cfg->nservices : 1,
			 sizeof(*c->svcs));
	if (c->svcs == NULL) {
		swerve_dnscache_free(c);
		return -ENOMEM;
	}
	for (s = 0; s < cfg->nservices; s++) {
		rc = build_service(c, s);
		if (rc != 0) {
			if (err != NULL)
				snprintf(err, errlen,
					 "service %s: %s", cfg->services[s].name,
					 rc == -E2BIG ? "too many endpoints once "
							"names are expanded"
						      : strerror(-rc));
			swerve_dnscache_free(c);
			return rc == -E2BIG ? -EINVAL : rc;
		}
		any = any || c->svcs[s].has_names;
	}
	if (any) {
		/* The longest dns_timeout bounds a lookup; each name's own
		 * bound is its service's (see refresh_set). */
		uint64_t timeout = 0;

		for (s = 0; s < cfg->nservices; s++)
			if (c->svcs[s].has_names &&
			    cfg->services[s].dns_timeout_ms > timeout)
				timeout = cfg->services[s].dns_timeout_ms;
		c->timeout_ms = timeout;
		rc = swerve_resolver_new(cfg->dns_servers, NULL, timeout,
					 &c->res, err, errlen);
		if (rc != 0) {
			swerve_dnscache_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

void swerve_dnscache_free(struct swerve_dnscache *c)
{
	unsigned s;

	if (c == NULL)
		return;
	for (s = 0; c->svcs != NULL && s < c->cfg->nservices; s++) {
		free(c->svcs[s].expanded.endpoints);
		free(c->svcs[s].rows);
		free(c->svcs[s].set_of);
		free(c->svcs[s].sets);
	}
	free(c->svcs);
	swerve_resolver_free(c->res);
	free(c);
}

const struct swerve_service *swerve_dnscache_service(
	const struct swerve_dnscache *c, unsigned s)
{
	return c->svcs[s].has_names ? &c->svcs[s].expanded
				    : &c->cfg->services[s];
}

bool swerve_dnscache_has_names(const struct swerve_dnscache *c, unsigned s)
{
	return c->svcs[s].has_names;
}

struct swerve_shm_row *const *swerve_dnscache_rows(
	const struct swerve_dnscache *c, unsigned s)
{
	return c->svcs[s].rows;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Writes a new answer (or marks the old one stale) under the seqlock. */
static void publish(struct swerve_dnscache *c, struct svc_cache *sc,
		    struct name_set *ns, const struct sockaddr_storage *addrs,
		    int n, uint64_t expires)
{
	const struct swerve_service *svc = &c->cfg->services[
		(size_t)(sc - c->svcs)];
	const struct swerve_endpoint *ep = &svc->endpoints[ns->ep];
	struct swerve_shm_row *rows[SWERVE_DNS_MAX_ADDRS];
	/* A failed lookup goes on serving the last answer, so its rows are
	 * named again: no process may take them over meanwhile. */
	const struct sockaddr_storage *named = n > 0 ? addrs : ns->addr;
	int nnamed = n > 0 ? n : (int)ns->n;
	uint64_t horizon = svc->dns_max_ttl_ms + svc->outlier.max_ejection_ms;
	sigset_t all, old;
	int k;

	if (horizon < svc->dns_max_ttl_ms)
		horizon = UINT64_MAX;
	/* Rows first, outside the seqlock: they may probe a while. */
	for (k = 0; k < nnamed; k++)
		rows[k] = swerve_shm_row_named(
			c->tab, swerve_shm_address_key(svc->name, ep->text,
						       &named[k]),
			horizon, swerve_now_ms());
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	atomic_fetch_add_explicit(&ns->seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	if (n > 0) {
		for (k = 0; k < n; k++) {
			ns->addr[k] = addrs[k];
			__atomic_store_n(&sc->rows[ns->base + (unsigned)k],
					 rows[k], __ATOMIC_RELAXED);
		}
		for (; k < SWERVE_DNS_MAX_ADDRS; k++)
			__atomic_store_n(&sc->rows[ns->base + (unsigned)k],
					 NULL, __ATOMIC_RELAXED);
		ns->n = (unsigned)n;
		ns->stale = false;
		ns->ever = true;
	} else if (ns->ever) {
		ns->stale = true;
		for (k = 0; k < nnamed; k++)
			__atomic_store_n(&sc->rows[ns->base + (unsigned)k],
					 rows[k], __ATOMIC_RELAXED);
	}
	atomic_store_explicit(&ns->expires_ms, expires, memory_order_relaxed);
	atomic_fetch_add_explicit(&ns->seq, 1, memory_order_release);
	/* After the answer: a reader that sees the new generation then
	 * reads the new addresses. */
	if (n > 0)
		atomic_fetch_add_explicit(&sc->gen, 1, memory_order_release);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

uint64_t swerve_dnscache_generation(const struct swerve_dnscache *c,
				    unsigned s)
{
	return atomic_load_explicit(&c->svcs[s].gen, memory_order_acquire);
}

/* Resolves one name now, in this thread, and publishes the outcome. */
static void refresh_set(struct swerve_dnscache *c, unsigned s,
			struct name_set *ns, uint64_t now)
{
	const struct swerve_service *svc = &c->cfg->services[s];
	const struct swerve_endpoint *ep = &svc->endpoints[ns->ep];
	struct sockaddr_storage addrs[SWERVE_DNS_MAX_ADDRS];
	uint64_t ttl_ms, deadline = now + svc->dns_timeout_ms;
	uint32_t ttl_s = 0;
	uint64_t busy = 0, t;
	char err[256];
	int n;

	/* One c-ares channel per process: wait for it, within our bound. */
	for (;;) {
		t = swerve_now_ms();
		busy = atomic_load(&c->res_busy);
		if (busy != 0 && t - busy > 2 * c->timeout_ms + 1000 &&
		    atomic_compare_exchange_strong(&c->res_busy, &busy, t)) {
			struct swerve_resolver *fresh = NULL;

			/* Abandoned mid-lookup: see the file comment. */
			if (swerve_resolver_new(c->cfg->dns_servers, NULL,
						c->timeout_ms, &fresh, NULL,
						0) == 0)
				c->res = fresh;
			break;
		}
		busy = 0;
		if (atomic_compare_exchange_strong(&c->res_busy, &busy, t))
			break;
		if (t >= deadline)
			return; /* try again on the next connect */
		sleep_ms(WAIT_STEP_MS);
	}
	n = swerve_resolver_lookup(c->res, ep->name, addrs,
				   SWERVE_DNS_MAX_ADDRS, &ttl_s, err,
				   sizeof(err));
	atomic_store(&c->res_busy, 0);
	now = swerve_now_ms();
	if (n > 0) {
		ttl_ms = (uint64_t)ttl_s * 1000u;
		if (ttl_ms < svc->dns_min_ttl_ms)
			ttl_ms = svc->dns_min_ttl_ms;
		if (ttl_ms > svc->dns_max_ttl_ms)
			ttl_ms = svc->dns_max_ttl_ms;
		publish(c, &c->svcs[s], ns, addrs, n, now + ttl_ms);
		if (ns->status != NULL) {
			atomic_fetch_add(&ns->status->connects_ok, 1);
			atomic_store(&ns->status->updated_ms, now);
		}
		swerve_log(SWERVE_LOG_DEBUG, "%s: %s has %d address%s, ttl %us",
			   svc->name, ep->name, n, n == 1 ? "" : "es", ttl_s);
		return;
	}
	/* Keep serving the last answer; ask again after dns_min_ttl. */
	publish(c, &c->svcs[s], ns, NULL, 0, now + svc->dns_min_ttl_ms);
	if (ns->status != NULL)
		atomic_fetch_add(&ns->status->connects_failed, 1);
	swerve_log(ns->ever ? SWERVE_LOG_WARN : SWERVE_LOG_ERROR,
		   "%s; %s", err,
		   ns->ever ? "using the last answer" :
			      "its endpoints are unavailable until it resolves");
}

void swerve_dnscache_refresh(struct swerve_dnscache *c, unsigned s,
			     uint64_t now_ms)
{
	struct svc_cache *sc = &c->svcs[s];
	const struct swerve_service *svc = &c->cfg->services[s];
	unsigned i;

	if (!sc->has_names)
		return;
	for (i = 0; i < sc->nsets; i++) {
		struct name_set *ns = &sc->sets[i];
		uint64_t owner, abandoned = 2 * svc->dns_timeout_ms;

		if (now_ms < atomic_load_explicit(&ns->expires_ms,
						  memory_order_relaxed))
			continue;
		owner = atomic_load(&ns->refreshing_since);
		if ((owner == 0 || now_ms - owner > abandoned) &&
		    atomic_compare_exchange_strong(&ns->refreshing_since,
						   &owner, now_ms)) {
			refresh_set(c, s, ns, now_ms);
			atomic_store(&ns->refreshing_since, 0);
			continue;
		}
		/* Someone else refreshes it. With an answer, go on with it;
		 * without one there is nothing to route to: wait, bounded. */
		while (!__atomic_load_n(&ns->ever, __ATOMIC_ACQUIRE) &&
		       atomic_load(&ns->refreshing_since) != 0 &&
		       swerve_now_ms() - now_ms < svc->dns_timeout_ms)
			sleep_ms(WAIT_STEP_MS);
	}
}

bool swerve_dnscache_address(const struct swerve_dnscache *c, unsigned s,
			     unsigned i, struct sockaddr_storage *out,
			     bool *stale)
{
	const struct svc_cache *sc = &c->svcs[s];
	const struct swerve_service *svc = swerve_dnscache_service(c, s);
	const struct swerve_endpoint *ep;
	struct name_set *ns;
	uint32_t s1, s2;
	unsigned slot, tries;
	bool present = false, was_stale = false;
	uint16_t port;

	if (stale != NULL)
		*stale = false;
	if (i >= svc->nendpoints)
		return false;
	ep = &svc->endpoints[i];
	if (!sc->has_names || sc->set_of[i] < 0) {
		memcpy(out, &ep->addr, sizeof(*out));
		return true;
	}
	ns = &sc->sets[sc->set_of[i]];
	slot = i - ns->base;
	for (tries = 0; tries < READ_TRIES; tries++) {
		s1 = atomic_load_explicit(&ns->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		present = slot < ns->n;
		if (present)
			memcpy(out, &ns->addr[slot], sizeof(*out));
		was_stale = ns->stale;
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&ns->seq, memory_order_relaxed);
		if (s1 == s2)
			break;
	}
	if (tries == READ_TRIES || !present)
		return false;
	/* The name's port (0: as dialled) on the resolved address. */
	port = htons(ep->port);
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port = port;
	else
		((struct sockaddr_in6 *)out)->sin6_port = port;
	if (stale != NULL)
		*stale = was_stale;
	return true;
}

void swerve_dnscache_note_stale(struct swerve_dnscache *c, unsigned s,
				unsigned i)
{
	const struct svc_cache *sc = &c->svcs[s];

	if (!sc->has_names || i >= sc->expanded.nendpoints ||
	    sc->set_of[i] < 0)
		return;
	if (sc->sets[sc->set_of[i]].status != NULL)
		atomic_fetch_add(&sc->sets[sc->set_of[i]].status->stale_uses,
				 1);
}
