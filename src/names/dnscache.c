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
 * Publication is a latch (a seqlock over two copies of the answer): the
 * elected refresher makes seq odd and writes copy 0, makes it even and
 * writes copy 1, with every signal blocked (a handler that siglongjmps
 * would otherwise leave the copies apart). One writer at a time: a
 * refresher that comes back from a pause while its successor writes leaves
 * the answer to it. Readers read the copy the
 * writer is not writing, copy[seq & 1], and retry only when seq moved
 * meanwhile, a bounded number of times; past that they see the slot as
 * absent, which fails open. So a reader never waits for a writer: a
 * refresher preempted half-way (or stalled by a sanitizer) costs the
 * readers nothing, where a plain seqlock made every reader give up and
 * fail the connect (ENETUNREACH, or EINVAL for an empty address). The
 * copies are read and written with relaxed atomics, word by word, and seq
 * orders them, so ThreadSanitizer sees no race in them.
 *
 * Election: refreshing_since is 0 or the claim of the thread that took the
 * job with compare-and-swap (see "Claims" below). A job older than twice
 * dns_timeout was abandoned (its thread was jumped out of, killed, or is
 * paused) and may be taken over.
 *
 * Refresh. The due names of a service are looked up together, bounded by
 * that service's own dns_timeout, so a call waits at most that long
 * however many names are due. A caller that must not wait (a non-blocking
 * connect) refreshes only names that have no answer yet: the others go on
 * with their last answer until a call that may wait (getaddrinfo, a
 * blocking connect) refreshes them.
 *
 * One resolver (c-ares channel) serves the process; it is not thread-safe,
 * so it has its own claim (res_busy). A refresher that finds it busy goes
 * on with the last answers, or, for a name without one, waits (short
 * sleeps, bounded by its deadline). A claim older than twice the longest
 * timeout plus a second means the lookup was abandoned: its channel may
 * still point at that call's state, or be driven again when a paused owner
 * resumes, so it is left alone (leaked) and a fresh resolver takes its
 * place.
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

#define ADDR_WORDS (sizeof(struct sockaddr_storage) / sizeof(uint64_t))

/* One copy of a name's answer; every field is accessed atomically. */
struct answer {
	_Atomic unsigned n;              /* addresses present */
	_Atomic bool stale;              /* the answer is past its TTL */
	uint64_t addr[SWERVE_DNS_MAX_ADDRS][ADDR_WORDS]; /* __atomic, words */
};

struct name_set {
	unsigned ep;                     /* endpoint index in the config */
	unsigned base;                   /* its first slot */
	_Atomic uint32_t seq;            /* the latch: readers use copy[seq&1] */
	_Atomic uint32_t writing;        /* a refresher is publishing */
	struct answer copy[2];
	_Atomic bool ever;               /* resolved at least once */
	_Atomic uint64_t expires_ms;     /* refresh due (0: now) */
	_Atomic uint64_t refreshing_since; /* elected refresher's token */
	struct swerve_shm_row *status;   /* the name's status row */
	_Atomic int state;               /* enum name_state, for the log */
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
	struct swerve_resolver *res;     /* NULL: no name anywhere; __atomic */
	_Atomic uint64_t res_busy;       /* the lookup's claim; 0: idle */
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

/* Writes <n> addresses (none: marks the answer stale) into copy <a>. */
static void write_answer(struct answer *a,
			 const struct sockaddr_storage *addrs, int n)
{
	uint64_t w[ADDR_WORDS];
	unsigned k, i;

	if (n == 0) {
		atomic_store_explicit(&a->stale, true, memory_order_relaxed);
		return;
	}
	for (k = 0; k < (unsigned)n; k++) {
		memcpy(w, &addrs[k], sizeof(w));
		for (i = 0; i < ADDR_WORDS; i++)
			__atomic_store_n(&a->addr[k][i], w[i],
					 __ATOMIC_RELAXED);
	}
	atomic_store_explicit(&a->n, (unsigned)n, memory_order_relaxed);
	atomic_store_explicit(&a->stale, false, memory_order_relaxed);
}

/* Reads address <k> of copy <a>; the caller checks the latch after. */
static void read_address(const struct answer *a, unsigned k,
			 struct sockaddr_storage *out)
{
	uint64_t w[ADDR_WORDS];
	unsigned i;

	for (i = 0; i < ADDR_WORDS; i++)
		w[i] = __atomic_load_n(&a->addr[k][i], __ATOMIC_RELAXED);
	memcpy(out, w, sizeof(w));
}

/* Writes a new answer (or marks the old one stale) through the latch. */
static void publish(struct swerve_dnscache *c, struct svc_cache *sc,
		    struct name_set *ns, const struct sockaddr_storage *addrs,
		    int n, uint64_t expires)
{
	const struct swerve_service *svc = &c->cfg->services[
		(size_t)(sc - c->svcs)];
	const struct swerve_endpoint *ep = &svc->endpoints[ns->ep];
	struct swerve_shm_row *rows[SWERVE_DNS_MAX_ADDRS];
	const struct answer *last =
		&ns->copy[atomic_load_explicit(&ns->seq, memory_order_acquire) & 1];
	uint64_t horizon = svc->dns_max_ttl_ms + svc->outlier.max_ejection_ms;
	sigset_t all, old;
	int k, nnamed;

	if (horizon < svc->dns_max_ttl_ms)
		horizon = UINT64_MAX;
	/* Rows first, outside the latch: they may probe a while. A failed
	 * lookup goes on serving the last answer, so its rows are named
	 * again: no process may take them over meanwhile. */
	nnamed = n > 0 ? n : (int)atomic_load_explicit(&last->n,
						       memory_order_relaxed);
	if (nnamed > SWERVE_DNS_MAX_ADDRS)
		nnamed = SWERVE_DNS_MAX_ADDRS;
	for (k = 0; k < nnamed; k++) {
		struct sockaddr_storage one;

		if (n > 0)
			one = addrs[k];
		else
			read_address(last, (unsigned)k, &one);
		rows[k] = swerve_shm_row_named(
			c->tab, swerve_shm_address_key(svc->name, ep->text, &one),
			horizon, swerve_now_ms());
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	/* One writer at a time, even when a paused refresher comes back
	 * while its successor writes: the second one leaves it. */
	if (atomic_exchange(&ns->writing, 1) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	if (n > 0 || atomic_load_explicit(&ns->ever, memory_order_relaxed)) {
		/* Odd: readers use copy 1 while copy 0 changes; even: the
		 * reverse. The fences keep the copies' stores between. */
		atomic_fetch_add_explicit(&ns->seq, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		write_answer(&ns->copy[0], addrs, n);
		atomic_fetch_add_explicit(&ns->seq, 1, memory_order_release);
		atomic_thread_fence(memory_order_release);
		write_answer(&ns->copy[1], addrs, n);
	}
	for (k = 0; k < nnamed; k++)
		__atomic_store_n(&sc->rows[ns->base + (unsigned)k], rows[k],
				 __ATOMIC_RELAXED);
	for (; n > 0 && k < SWERVE_DNS_MAX_ADDRS; k++)
		__atomic_store_n(&sc->rows[ns->base + (unsigned)k], NULL,
				 __ATOMIC_RELAXED);
	if (n > 0)
		atomic_store_explicit(&ns->ever, true, memory_order_release);
	atomic_store_explicit(&ns->expires_ms, expires, memory_order_relaxed);
	/* After the answer: a reader that sees the new generation then
	 * reads the new addresses. */
	if (n > 0)
		atomic_fetch_add_explicit(&sc->gen, 1, memory_order_release);
	atomic_store(&ns->writing, 0);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

uint64_t swerve_dnscache_generation(const struct swerve_dnscache *c,
				    unsigned s)
{
	return atomic_load_explicit(&c->svcs[s].gen, memory_order_acquire);
}

/*
 * Claims. A claim word (a name's refreshing_since, the resolver's
 * res_busy) is 0 or the token of the thread that took it: the time in the
 * high bits, a count in the low ones, so that no two claims share a token.
 * A claim older than its bound was abandoned (its thread was jumped out of
 * by siglongjmp, killed, or is paused: stopped by a debugger, held in a
 * signal handler) and may be taken over. The owner releases with a
 * compare-and-swap from its own token: one whose claim was taken over in
 * the meantime finds another token there and leaves it to its new owner.
 */
#define TOKEN_SHIFT 16

static _Atomic uint32_t claim_count;

static uint64_t token_time(uint64_t token)
{
	return token >> TOKEN_SHIFT;
}

/*
 * Claims <word> at <now> when it is free or was claimed more than
 * <abandon_ms> ago. Returns the token, or 0; sets *<took_over> (may be
 * NULL) when the claim was taken from an abandoned owner.
 */
static uint64_t claim(_Atomic uint64_t *word, uint64_t now,
		      uint64_t abandon_ms, bool *took_over)
{
	uint64_t cur = atomic_load(word), mine;

	/* A claim made after <now> was read is young, not wrapped. */
	if (cur != 0 && (token_time(cur) >= now ||
			 now - token_time(cur) <= abandon_ms))
		return 0;
	mine = now << TOKEN_SHIFT |
	       (atomic_fetch_add(&claim_count, 1) & ((1u << TOKEN_SHIFT) - 1));
	if (mine == 0)
		mine = 1;
	if (!atomic_compare_exchange_strong(word, &cur, mine))
		return 0;
	if (took_over != NULL)
		*took_over = cur != 0;
	return mine;
}

/* Releases the claim <token>; false when it had been taken over. */
static bool release(_Atomic uint64_t *word, uint64_t token)
{
	return atomic_compare_exchange_strong(word, &token, 0);
}

/* What a name's last refresh left, so that each change is told once. */
enum name_state { NAME_NEW = 0, NAME_OK, NAME_FAILING, NAME_STALE };

/*
 * One line per change of a name's state, not per refresh: a DNS outage
 * says "using the last answer" (or "unavailable" for a name that never
 * resolved) once, and "resolves again" once when it ends.
 */
static void tell(const struct swerve_service *svc, struct name_set *ns,
		 const struct swerve_resolver_query *q)
{
	int want = q->rc > 0 ? NAME_OK :
		   atomic_load_explicit(&ns->ever, memory_order_relaxed) ?
		   NAME_STALE : NAME_FAILING;
	int was = atomic_exchange(&ns->state, want);

	if (q->rc > 0) {
		if (was == NAME_FAILING || was == NAME_STALE)
			swerve_log(SWERVE_LOG_WARN, "%s: %s resolves again "
				   "(%d address%s)", svc->name, q->name, q->rc,
				   q->rc == 1 ? "" : "es");
		swerve_log(SWERVE_LOG_DEBUG, "%s: %s has %d address%s, ttl "
			   "%us", svc->name, q->name, q->rc,
			   q->rc == 1 ? "" : "es", q->ttl_s);
		return;
	}
	if (was == want)
		return;
	swerve_log(want == NAME_STALE ? SWERVE_LOG_WARN : SWERVE_LOG_ERROR,
		   "%s; %s", q->err,
		   want == NAME_STALE ? "using the last answer until it "
					"resolves again" :
					"its endpoints are unavailable until "
					"it resolves");
}

/* Publishes the outcome <q> of a refresh of <ns> (service <s>) at <now>. */
static void settle(struct swerve_dnscache *c, unsigned s, struct name_set *ns,
		   const struct swerve_resolver_query *q, uint64_t now)
{
	const struct swerve_service *svc = &c->cfg->services[s];
	uint64_t ttl_ms;

	if (q->rc > 0) {
		ttl_ms = (uint64_t)q->ttl_s * 1000u;
		if (ttl_ms < svc->dns_min_ttl_ms)
			ttl_ms = svc->dns_min_ttl_ms;
		if (ttl_ms > svc->dns_max_ttl_ms)
			ttl_ms = svc->dns_max_ttl_ms;
		publish(c, &c->svcs[s], ns, q->addrs, q->rc, now + ttl_ms);
		if (ns->status != NULL) {
			atomic_fetch_add(&ns->status->connects_ok, 1);
			atomic_store(&ns->status->updated_ms, now);
		}
	} else {
		/* Keep serving the last answer; ask again after
		 * dns_min_ttl. */
		publish(c, &c->svcs[s], ns, NULL, 0,
			now + svc->dns_min_ttl_ms);
		if (ns->status != NULL)
			atomic_fetch_add(&ns->status->connects_failed, 1);
	}
	tell(svc, ns, q);
}

/* The names of one service this thread refreshes together. */
struct job {
	unsigned n;
	bool any_new;            /* a name without an answer: worth waiting */
	struct name_set *ns[SWERVE_MAX_ENDPOINTS / SWERVE_DNS_MAX_ADDRS];
	uint64_t token[SWERVE_MAX_ENDPOINTS / SWERVE_DNS_MAX_ADDRS];
	struct swerve_resolver_query q[SWERVE_MAX_ENDPOINTS /
				       SWERVE_DNS_MAX_ADDRS];
	struct sockaddr_storage addrs[SWERVE_MAX_ENDPOINTS /
				      SWERVE_DNS_MAX_ADDRS]
				     [SWERVE_DNS_MAX_ADDRS];
};

/*
 * Claims the process's resolver for the names of <j> and returns it with
 * the claim's token in *<token>, or NULL when it is busy with another
 * thread's lookup and either every name of <j> has an answer to go on with
 * or <deadline> passed. A claim taken over from an abandoned lookup gets a
 * fresh resolver: the old channel may still be driven by its owner when
 * that resumes, so it is left to it (leaked), never shared.
 */
static struct swerve_resolver *claim_resolver(struct swerve_dnscache *c,
					      const struct job *j,
					      uint64_t deadline,
					      uint64_t *token)
{
	struct swerve_resolver *res, *fresh = NULL;
	uint64_t t;
	bool took_over = false;

	for (;;) {
		t = swerve_now_ms();
		*token = claim(&c->res_busy, t, 2 * c->timeout_ms + 1000,
			       &took_over);
		if (*token != 0)
			break;
		if (!j->any_new || t >= deadline)
			return NULL;
		sleep_ms(WAIT_STEP_MS);
	}
	if (took_over) {
		/* On failure the claim stays, so nobody shares the old
		 * channel; it is taken over again later. */
		if (swerve_resolver_new(c->cfg->dns_servers, NULL,
					c->timeout_ms, &fresh, NULL, 0) != 0)
			return NULL;
		__atomic_store_n(&c->res, fresh, __ATOMIC_RELEASE);
	}
	res = __atomic_load_n(&c->res, __ATOMIC_ACQUIRE);
	/* Paused between the claim and the load: someone else's now. */
	if (atomic_load(&c->res_busy) != *token)
		return NULL;
	return res;
}

/*
 * Looks the names of <j> up together, bounded by <deadline>, and publishes
 * what each one got, for those whose claim this thread still holds; then
 * releases every claim.
 */
static void run_job(struct swerve_dnscache *c, unsigned s, struct job *j,
		    uint64_t deadline)
{
	const struct swerve_service *svc = &c->cfg->services[s];
	struct swerve_resolver *res;
	uint64_t token, now;
	bool looked = false;
	unsigned i;

	for (i = 0; i < j->n; i++) {
		j->q[i].name = svc->endpoints[j->ns[i]->ep].name;
		j->q[i].addrs = j->addrs[i];
		j->q[i].max = SWERVE_DNS_MAX_ADDRS;
	}
	res = claim_resolver(c, j, deadline, &token);
	now = swerve_now_ms();
	if (res != NULL && now < deadline) {
		swerve_resolver_lookup_many(res, j->q, j->n,
					    svc->dns_timeout_ms, deadline);
		looked = true;
		now = swerve_now_ms();
	}
	if (res != NULL)
		release(&c->res_busy, token);
	for (i = 0; i < j->n; i++) {
		/* Taken over while this thread was away: the new owner
		 * publishes. Not looked up: still due, asked again later. */
		if (looked && atomic_load(&j->ns[i]->refreshing_since) ==
				      j->token[i])
			settle(c, s, j->ns[i], &j->q[i], now);
		release(&j->ns[i]->refreshing_since, j->token[i]);
	}
}

bool swerve_dnscache_due(const struct swerve_dnscache *c, unsigned s,
			 uint64_t now_ms)
{
	const struct svc_cache *sc = &c->svcs[s];
	unsigned i;

	for (i = 0; i < sc->nsets; i++)
		if (now_ms >= atomic_load_explicit(&sc->sets[i].expires_ms,
						   memory_order_relaxed))
			return true;
	return false;
}

/* Waits, bounded by <deadline>, while another thread refreshes a name of
 * service <s> that has no answer yet: there is nothing else to route to. */
static void wait_for_new_names(struct svc_cache *sc, uint64_t deadline)
{
	unsigned i;

	for (i = 0; i < sc->nsets; i++) {
		struct name_set *ns = &sc->sets[i];

		while (!atomic_load_explicit(&ns->ever, memory_order_acquire) &&
		       atomic_load(&ns->refreshing_since) != 0 &&
		       swerve_now_ms() < deadline)
			sleep_ms(WAIT_STEP_MS);
	}
}

/* Whether this call refreshes <ns>: due, and allowed by <wait>. */
static bool wanted(struct name_set *ns, uint64_t now_ms,
		   enum swerve_dnscache_wait wait)
{
	return now_ms >= atomic_load_explicit(&ns->expires_ms,
					      memory_order_relaxed) &&
	       (wait == SWERVE_DNSCACHE_WAIT ||
		!atomic_load_explicit(&ns->ever, memory_order_acquire));
}

void swerve_dnscache_refresh(struct swerve_dnscache *c, unsigned s,
			     uint64_t now_ms, enum swerve_dnscache_wait wait)
{
	struct svc_cache *sc = &c->svcs[s];
	const struct swerve_service *svc = &c->cfg->services[s];
	uint64_t deadline = now_ms + svc->dns_timeout_ms;
	struct job *j = NULL;
	unsigned i;

	if (!sc->has_names)
		return;
	/* Nothing to look up (the common case of a non-blocking connect
	 * while names are due): no allocation. */
	for (i = 0; i < sc->nsets && j == NULL; i++)
		if (wanted(&sc->sets[i], now_ms, wait))
			j = calloc(1, sizeof(*j));
	for (i = 0; j != NULL && i < sc->nsets; i++) {
		struct name_set *ns = &sc->sets[i];

		if (!wanted(ns, now_ms, wait))
			continue;
		j->token[j->n] = claim(&ns->refreshing_since, now_ms,
				       2 * svc->dns_timeout_ms, NULL);
		if (j->token[j->n] == 0)
			continue;
		j->any_new = j->any_new ||
			     !atomic_load_explicit(&ns->ever, memory_order_acquire);
		j->ns[j->n++] = ns;
	}
	if (j != NULL && j->n > 0)
		run_job(c, s, j, deadline);
	free(j);
	wait_for_new_names(sc, deadline);
}

bool swerve_dnscache_address(const struct swerve_dnscache *c, unsigned s,
			     unsigned i, struct sockaddr_storage *out,
			     bool *stale)
{
	const struct svc_cache *sc = &c->svcs[s];
	const struct swerve_service *svc = swerve_dnscache_service(c, s);
	const struct swerve_endpoint *ep;
	const struct answer *a;
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
		a = &ns->copy[s1 & 1];
		present = slot < atomic_load_explicit(&a->n,
						      memory_order_relaxed);
		if (present)
			read_address(a, slot, out);
		was_stale = atomic_load_explicit(&a->stale,
						 memory_order_relaxed);
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

/* The answer of name set <ns> of <c>'s service <s> into <addrs>; how many
 * addresses it has now (0: none yet). */
static int answer_of(const struct swerve_dnscache *c, unsigned s,
		     const struct name_set *ns, struct sockaddr_storage *addrs)
{
	unsigned k;
	int n = 0;

	if (!atomic_load_explicit(&ns->ever, memory_order_acquire))
		return 0;
	for (k = 0; k < SWERVE_DNS_MAX_ADDRS; k++)
		if (swerve_dnscache_address(c, s, ns->base + k, &addrs[n],
					    NULL))
			n++;
	return n;
}

void swerve_dnscache_adopt(struct swerve_dnscache *c, unsigned s,
			   const struct swerve_dnscache *old, unsigned os)
{
	struct svc_cache *sc = &c->svcs[s];
	const struct svc_cache *osc = &old->svcs[os];
	const struct swerve_service *svc = &c->cfg->services[s];
	const struct swerve_service *osvc = &old->cfg->services[os];
	struct sockaddr_storage addrs[SWERVE_DNS_MAX_ADDRS];
	unsigned i, j;
	int n;

	if (!sc->has_names || !osc->has_names)
		return;
	for (i = 0; i < sc->nsets; i++)
		for (j = 0; j < osc->nsets; j++) {
			const struct name_set *ons = &osc->sets[j];

			if (strcmp(svc->endpoints[sc->sets[i].ep].text,
				   osvc->endpoints[ons->ep].text) != 0)
				continue;
			n = answer_of(old, os, ons, addrs);
			if (n > 0)
				publish(c, sc, &sc->sets[i], addrs, n,
					atomic_load(&ons->expires_ms));
			break;
		}
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
