/*
 * resolver: turns an endpoint's host name into its addresses with c-ares,
 * inside the host process, the way Envoy's STRICT_DNS does (every A and AAAA
 * address is an endpoint of its own). It owns one c-ares channel per
 * struct swerve_resolver; with cares.c, which loads the system's c-ares,
 * it is the only module that sees ares.h.
 *
 * Thread-safety: none per resolver. The caller serializes every call on one
 * resolver (a mutex held only around swerve_resolver_lookup, or one resolver
 * per thread); different resolvers may be used concurrently. A lookup runs
 * in the calling thread: no helper thread, no signal, no timer.
 */
#ifndef SWERVE_RESOLVER_H
#define SWERVE_RESOLVER_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct swerve_resolver; /* opaque */

/*
 * Creates a resolver. <servers> is a c-ares server list such as
 * "127.0.0.1:5353, [::1]:5353", or NULL/"" for the nameservers of
 * /etc/resolv.conf. <lookups> is "b" (DNS only), "f" (hosts file only),
 * "fb" or "bf", or NULL for c-ares' default (nsswitch.conf, else "fb").
 * <timeout_ms> (> 0) bounds a whole lookup; c-ares gets two tries per
 * server within it. Its sockets reach libc through the libc door, never
 * swerve's hooks, and are always non-blocking and close-on-exec.
 * The search list, ndots and other options still come from resolv.conf
 * and LOCALDOMAIN/RES_OPTIONS, as for Envoy's c-ares resolver.
 * Returns 0 and sets *<out>, or -EINVAL (bad servers, lookups or timeout),
 * -ENOENT (the system's c-ares cannot be loaded, cares.h), -ENOMEM or
 * -EIO, with *<out> NULL and a reason in <err> (may be NULL). Answers
 * larger than a lookup keeps are cut to this host's subset (subset.h).
 * The caller owns *<out> and frees it with swerve_resolver_free().
 * Reads resolv.conf, nsswitch.conf and /dev/urandom; sends nothing.
 */
int swerve_resolver_new(const char *servers, const char *lookups,
			uint64_t timeout_ms, struct swerve_resolver **out,
			char *err, size_t errlen);

/*
 * Frees <r> and its channel (NULL is fine). In a process other than the one
 * that last used the channel (after fork), a channel that may still hold
 * sockets is left alone rather than destroyed: see resolver.c.
 */
void swerve_resolver_free(struct swerve_resolver *r);

/*
 * Resolves <name> for A and AAAA (AF_UNSPEC) synchronously, driving the
 * channel with poll() on its sockets for at most the resolver's timeout.
 * Fills up to <max> (>= 1) addresses (sockaddr_in / sockaddr_in6, port 0)
 * into <addrs>, in a stable order (IPv4 first, then IPv6, each sorted by
 * address bytes) with duplicates removed (this host's subset of them when
 * there are more than <max>, subset.h), and sets *<ttl_s> to the smallest
 * TTL of the answer (0 when unknown; hosts-file answers and IP literals: 0).
 * Returns the number of addresses (>= 1), or -ENOENT (no such name, or no
 * A/AAAA record), -ETIMEDOUT (no answer within the timeout), -ECONNREFUSED
 * (servers refuse: REFUSED, or ICMP port unreachable), -EIO (anything
 * else), -EINVAL (empty <name>, <max> 0) or -ENOMEM, with a human reason in
 * <err> such as "east.mydb.test: no such name (NXDOMAIN) from
 * 127.0.0.1:5353". In a child after fork() the channel is first replaced
 * by a fresh one (new sockets, new query ids). The caller serializes calls
 * on <r>; nothing is kept between calls but the channel.
 */
int swerve_resolver_lookup(struct swerve_resolver *r, const char *name,
			   struct sockaddr_storage *addrs, unsigned max,
			   uint32_t *ttl_s, char *err, size_t errlen);

/* One name of a batch (swerve_resolver_lookup_many). */
struct swerve_resolver_query {
	const char *name;                 /* in */
	struct sockaddr_storage *addrs;   /* in: room for <max> addresses */
	unsigned max;                     /* in, >= 1 */
	int rc;                           /* out: as swerve_resolver_lookup */
	uint32_t ttl_s;                   /* out */
	char err[256];                    /* out: the reason when rc < 0 */
};

/*
 * Looks the <n> names of <q> up at once on <r>'s channel, for at most
 * <timeout_ms> in all (0, or more than the resolver's timeout: the
 * resolver's), so a batch costs one bound, not one per name; it ends at
 * <deadline_ms> (CLOCK_MONOTONIC milliseconds, 0: none) if that comes
 * first. Messages name <timeout_ms> as the bound. Each query gets the
 * result swerve_resolver_lookup() would return, in q->rc, q->ttl_s,
 * q->addrs and q->err. The caller serializes calls on <r>.
 */
void swerve_resolver_lookup_many(struct swerve_resolver *r,
				 struct swerve_resolver_query *q, unsigned n,
				 uint64_t timeout_ms, uint64_t deadline_ms);

/*
 * Sets the seed that chooses this host's subset of a large answer (see
 * subset.h; swerve_resolver_new() takes the host's own). For tests, which
 * play several hosts in one process.
 */
void swerve_resolver_set_subset_seed(struct swerve_resolver *r,
				     uint64_t seed);

/* The version of the c-ares library loaded, like "1.18.1". */
const char *swerve_resolver_library(const struct swerve_resolver *r);

/*
 * Where <r>'s answers come from, for messages: "127.0.0.1:5353",
 * "/etc/hosts, 10.0.0.2:53"... Valid until swerve_resolver_free().
 */
const char *swerve_resolver_source(const struct swerve_resolver *r);

#endif
