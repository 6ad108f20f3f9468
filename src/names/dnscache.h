/*
 * dnscache: the addresses behind endpoints given as names (resolution =
 * dns), per process. Like Envoy's STRICT_DNS, every address a name resolves
 * to is an endpoint of its own with the name's locality, weight and labels,
 * and its own row (health) in the shared table.
 *
 * A service with names is routed as an "expanded" service: a private copy
 * of the config's, in which each named endpoint owns SWERVE_DNS_MAX_ADDRS
 * fixed slots (inheriting its locality, weight, labels, group), filled with
 * the current answer and marked absent beyond it. Slot positions never
 * move, so priorities, locality groups and per-slot counters are computed
 * once; only a slot's address and row change, published under a seqlock.
 * Services without names are routed as the config has them.
 *
 * Answers are refreshed when their TTL (clamped to dns_min_ttl..dns_max_ttl)
 * has passed, by whichever thread needs the service first and may wait, in
 * that thread (c-ares, all due names of the service at once, bounded by
 * its dns_timeout); others go on with the old answer. A refresh that fails
 * keeps the old answer (stale, counted in the table) and is retried after
 * dns_min_ttl, so a DNS outage costs at most one dns_timeout per service
 * per dns_min_ttl, and never takes the service down. A name that never
 * resolved leaves only its own slots absent. Each change of a name's state
 * (failing, using the last answer, resolving again) is logged once.
 *
 * Thread-safety: every function may be called from any thread; readers
 * take no lock (seqlock retries), one refresher per name is elected with
 * compare-and-swap, and a publication runs with signals blocked so that no
 * siglongjmp can leave it half-written.
 */
#ifndef SWERVE_DNSCACHE_H
#define SWERVE_DNSCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/config.h"
#include "names/resolver.h"
#include "table/shm.h"

struct swerve_dnscache;

/*
 * Builds the cache for <cfg>, whose rows live in <tab>. Resolves nothing
 * yet. Returns 0, or -ENOMEM / -EINVAL with a reason in <err>;
 * -EINVAL when the resolver cannot be set up (bad dns_servers).
 */
int swerve_dnscache_new(const struct swerve_config *cfg,
			struct swerve_shm *tab, struct swerve_dnscache **out,
			char *err, size_t errlen);

/* Frees <c>; accepts NULL. Only when no other thread can use it. */
void swerve_dnscache_free(struct swerve_dnscache *c);

/*
 * The service <s> as it is routed: the config's own when it has no names,
 * else the expanded copy (more endpoints, same order of names). Valid for
 * the life of <c>.
 */
const struct swerve_service *swerve_dnscache_service(
	const struct swerve_dnscache *c, unsigned s);

/*
 * A number that changes whenever service <s>'s answers change (routing
 * plans built from older answers are stale). Lock-free.
 */
uint64_t swerve_dnscache_generation(const struct swerve_dnscache *c,
				    unsigned s);

/* True when service <s> has endpoints given as names. */
bool swerve_dnscache_has_names(const struct swerve_dnscache *c, unsigned s);

/* How long a refresh may hold the calling thread. */
enum swerve_dnscache_wait {
	/* Up to the service's dns_timeout (getaddrinfo, a blocking
	 * connect: calls where a program expects to wait). */
	SWERVE_DNSCACHE_WAIT = 0,
	/* Only for names without any answer yet, which have nothing else to
	 * route to; names with one go on with it (a non-blocking connect). */
	SWERVE_DNSCACHE_NO_WAIT = 1,
};

/* True when a name of service <s> is due for a refresh at <now_ms>. */
bool swerve_dnscache_due(const struct swerve_dnscache *c, unsigned s,
			 uint64_t now_ms);

/*
 * Refreshes the answers of service <s> that are due at <now_ms>, those
 * <wait> allows, all at once: the call blocks for at most the service's
 * dns_timeout however many names are due, and only while this thread looks
 * names up or waits for a name without an answer that another thread is
 * resolving. Names another thread refreshes, or that the resolver is too
 * busy for, keep their last answer and stay due.
 */
void swerve_dnscache_refresh(struct swerve_dnscache *c, unsigned s,
			     uint64_t now_ms, enum swerve_dnscache_wait wait);

/*
 * Copies the address of endpoint <i> of the routed service <s> into <out>
 * (port: the endpoint's, 0 for "as dialled"). Returns false when the slot
 * holds no address now. Sets <stale> (may be NULL) when the answer is past
 * its TTL because refreshing failed. Lock-free; async-signal-safe.
 */
bool swerve_dnscache_address(const struct swerve_dnscache *c, unsigned s,
			     unsigned i, struct sockaddr_storage *out,
			     bool *stale);

/*
 * The shared-table rows of the routed service <s>, one per endpoint (NULL
 * where absent or the table is full). Entries change when answers do.
 */
struct swerve_shm_row *const *swerve_dnscache_rows(
	const struct swerve_dnscache *c, unsigned s);

/*
 * Gives the names of <c>'s service <s> the answers that <old>'s service
 * <os> has for the same names (a reload: no lookup, and no name without
 * an address while DNS is down). Due times carry over. Only while no
 * other thread uses <c>.
 */
void swerve_dnscache_adopt(struct swerve_dnscache *c, unsigned s,
			   const struct swerve_dnscache *old, unsigned os);

/*
 * Counts a connection routed on a stale answer for endpoint <i> of <s> in
 * the name's status row of the table (swervectl endpoints shows it).
 */
void swerve_dnscache_note_stale(struct swerve_dnscache *c, unsigned s,
				unsigned i);

#endif
