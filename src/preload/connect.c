/*
 * connect.c: the connect() hook, which routes a connection to a service
 * address and fails over inside the call. The whole path of one steered
 * connection, across the files of the hook layer:
 *
 * How one connection is steered
 * -----------------------------
 * 1. getaddrinfo() for a configured name answers with the service's two
 *    service addresses (VIPs): for AF_UNSPEC the first as IPv4, the second
 *    as v4-mapped IPv6 and then as IPv4, so that curl moves to the second
 *    at once instead of waiting 200 ms (shared/docs/mechanisms-measured.md,
 *    Q2) and clients with IPv6-only sockets still find an IPv4 one.
 *    Results are built by glibc itself from numeric strings, so glibc's
 *    freeaddrinfo frees them.
 * 2. connect() to a VIP picks an endpoint (balancer.c over the health in the
 *    shared table) and connects the application's own socket to it, with
 *    TCP_USER_TIMEOUT = connect_timeout as the kernel's handshake deadline
 *    (no poll inside connect, so a siglongjmp out of it leaves nothing
 *    half-done; the option is put back once the connection is established).
 * 3. A failure visible inside the call fails over on the same fd: blocking
 *    sockets return the error synchronously; on loopback a refused
 *    non-blocking connect is already visible with poll(0) right after
 *    EINPROGRESS. connect(AF_UNSPEC) re-arms the socket and the next
 *    endpoint is tried, up to connect_attempts, so the application never
 *    sees the failure.
 * 4. A failure that shows later (blackhole, remote refusal) is observed when
 *    the application reads SO_ERROR, calls connect() again, reads or writes
 *    first, abandons the socket with close(), or reuses the fd number after
 *    closing it behind our back (libuv closes with a raw syscall: the inode
 *    changed). It is
 *    charged to the endpoint, and this process avoids the endpoint for its
 *    next attempt, so a client that moves to the next address (the second
 *    VIP) lands elsewhere, like Envoy's previous_hosts retry predicate.
 *
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "policy/balancer.h"
#include "preload/preload.h"

/* An attempt pending this long makes its endpoint a poor choice for a
 * parallel attempt (curl races the second address at +200 ms). */
#define SUSPECT_PENDING_MS 100
/*
 * After a failure, this process avoids the endpoint for this long when an
 * alternative exists: long enough for the client's next attempt of the same
 * request (curl waits 1 s after a late failure), short enough that a busy
 * process soon asks the endpoint again and the outlier streak, not this
 * hint, decides on ejection.
 */
#define AVOID_MS 2000

/*
 * The IPv4 address (host order) and port of <sa> when it is AF_INET or a
 * v4-mapped AF_INET6 address; false otherwise.
 */
static bool sockaddr_v4(const struct sockaddr *sa, socklen_t len,
			uint32_t *addr, uint16_t *port)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		*addr = ntohl(sin->sin_addr.s_addr);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *b = sin6->sin6_addr.s6_addr;

		if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return false;
		*addr = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
			(uint32_t)b[14] << 8 | b[15];
		*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

/*
 * Builds in <out> the address for endpoint <ep> as a socket of <family>
 * reaches it, on the endpoint's port or else <port>. Returns its length, or
 * 0 when the socket cannot reach it: an IPv6 endpoint on an AF_INET socket,
 * an IPv4 one on an AF_INET6 socket that is <v6only> (ruby sets
 * IPV6_V6ONLY, and the kernel then refuses v4-mapped destinations).
 */
static socklen_t address_sockaddr(const struct sockaddr_storage *addr,
				  int family, bool v6only, uint16_t port,
				  struct sockaddr_storage *out)
{
	uint16_t p;

	memset(out, 0, sizeof(*out));
	if (addr->ss_family == AF_INET && family == AF_INET6 && v6only)
		return 0;
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *src = (const void *)addr;

		p = src->sin_port != 0 ? ntohs(src->sin_port) : port;
		if (family == AF_INET) {
			struct sockaddr_in *sin = (void *)out;

			sin->sin_family = AF_INET;
			sin->sin_addr = src->sin_addr;
			sin->sin_port = htons(p);
			return sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (void *)out;

			/* Java dials v4 services on AF_INET6 sockets. */
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr.s6_addr[10] = 0xff;
			sin6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sin6->sin6_addr.s6_addr[12], &src->sin_addr, 4);
			sin6->sin6_port = htons(p);
			return sizeof(*sin6);
		}
	}
	if (addr->ss_family == AF_INET6 && family == AF_INET6) {
		const struct sockaddr_in6 *src = (const void *)addr;
		struct sockaddr_in6 *sin6 = (void *)out;

		*sin6 = *src;
		p = src->sin6_port != 0 ? ntohs(src->sin6_port) : port;
		sin6->sin6_port = htons(p);
		return sizeof(*sin6);
	}
	return 0;
}

/*
 * The address of endpoint <i> of service <s> for a socket of <family>, as
 * address_sockaddr() builds it: the config's, or for a name its current
 * answer (0 when that slot holds no address now). Sets <stale> when the
 * answer is past its TTL because DNS failed.
 */
static socklen_t endpoint_sockaddr(unsigned s, unsigned i, int family,
				   bool v6only, uint16_t port,
				   struct sockaddr_storage *out, bool *stale)
{
	struct sockaddr_storage addr;

	*stale = false;
	if (swerve_dns == NULL || !swerve_dnscache_has_names(swerve_dns, s))
		return address_sockaddr(&swerve_services[s].svc->endpoints[i].addr,
					family, v6only, port, out);
	if (!swerve_dnscache_address(swerve_dns, s, i, &addr, stale))
		return 0;
	return address_sockaddr(&addr, family, v6only, port, out);
}

/* Whether a socket of <family> (<v6only>) can reach an <epfam> address. */
static bool reachable(int epfam, int family, bool v6only)
{
	if (epfam == AF_INET)
		return family == AF_INET || !v6only;
	return epfam == AF_INET6 && family == AF_INET6;
}

/*
 * The real connect() of an attempt, with the re-entrancy guard lowered: a
 * blocking connect can be left by siglongjmp (wget's SIGALRM timeout), and
 * a guard left raised would turn swerve off in this thread for good. Safe
 * because swerve holds no lock and no half-written state across it; a
 * signal handler that connects meanwhile is routed like anyone else.
 */
static int connect_unguarded(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc, err;

	swerve_guard--;
	rc = swerve_libc_connect(fd, sa, len);
	err = errno;
	swerve_guard++;
	errno = err;
	return rc;
}

/*
 * True when this process should keep away from endpoint <i> of <ss> now:
 * it failed here within AVOID_MS, or an attempt to it has been pending for
 * SUSPECT_PENDING_MS.
 */
static bool is_avoided(struct svc_state *ss, unsigned i, uint64_t now)
{
	uint64_t lf = atomic_load_explicit(&ss->last_fail[i],
					   memory_order_relaxed);
	uint64_t ps = atomic_load_explicit(&ss->pending_since[i],
					   memory_order_relaxed);

	if (lf != 0 && now - lf < AVOID_MS)
		return true;
	return atomic_load_explicit(&ss->pending[i], memory_order_relaxed) >
		       0 &&
	       now - ps >= SUSPECT_PENDING_MS;
}

/*
 * Picks the endpoint for the next attempt of service <s>, leaving out those
 * in <excluded>. Health is the shared table's; endpoints that failed in this
 * process a moment ago, or have an attempt pending for long, count as
 * unhealthy here too when anything else is healthy.
 */
static int pick_endpoint(unsigned s, int family, bool v6only, bool first,
			 const bool *excluded, char *why, size_t whylen)
{
	struct svc_state *ss = &swerve_services[s];
	const struct swerve_service *svc = ss->svc;
	unsigned n = svc->nendpoints, i;
	bool healthy[SWERVE_MAX_ENDPOINTS];
	bool excl[SWERVE_MAX_ENDPOINTS];
	bool avoided[SWERVE_MAX_ENDPOINTS];
	uint32_t active[SWERVE_MAX_ENDPOINTS];
	struct swerve_balancer_input in;
	uint64_t now = swerve_now_ms();
	bool any_fresh = false;
	bool names = swerve_dns != NULL && swerve_dnscache_has_names(swerve_dns, s);

	for (i = 0; i < n; i++) {
		struct sockaddr_storage tmp;
		bool stale;

		/* Names: whether the slot holds an address now. Literals: the
		 * family alone says it (no address to build per endpoint). */
		if (names)
			excl[i] = excluded[i] ||
				  endpoint_sockaddr(s, i, family, v6only, 1,
						    &tmp, &stale) == 0;
		else
			excl[i] = excluded[i] ||
				  !reachable(svc->endpoints[i].addr.ss_family,
					     family, v6only);
		healthy[i] = !swerve_shm_is_ejected(ss->rows[i], now);
		active[i] = atomic_load_explicit(&ss->active[i],
						 memory_order_relaxed);
	}
	/* Panic enter/exit is an event of the service, host-wide: noted on
	 * the first attempt of a call, from the table's health alone (this
	 * process's own avoidance below would make processes disagree). */
	if (first && svc->outlier.enabled) {
		struct swerve_balancer_load ld;

		swerve_balancer_load(ss->prio, healthy, n, ss->nprio,
				     svc->overprovisioning_factor,
				     svc->outlier.min_health_percent, &ld);
		swerve_shm_panic_note(&swerve_table, svc->name,
				      swerve_balancer_panic_mask(&ld), now);
	}
	/* Envoy's retries skip the hosts already tried (previous_hosts);
	 * ours skip what this process just saw failing or hanging, when
	 * anything else is healthy. */
	for (i = 0; i < n; i++) {
		avoided[i] = is_avoided(ss, i, now);
		if (!excl[i] && healthy[i] && !avoided[i])
			any_fresh = true;
	}
	for (i = 0; any_fresh && i < n; i++)
		if (avoided[i])
			healthy[i] = false;
	memset(&in, 0, sizeof(in));
	in.n = n;
	in.prio = ss->prio;
	in.npriorities = ss->nprio;
	in.healthy = healthy;
	in.excluded = excl;
	in.weight = ss->weight;
	in.active = active;
	in.lb = svc->lb;
	in.overprov = svc->overprovisioning_factor;
	in.panic_threshold = svc->outlier.min_health_percent;
	in.rr = atomic_fetch_add_explicit(&ss->rr, 1, memory_order_relaxed);
	in.rand1 = swerve_runtime_random();
	in.rand2 = swerve_runtime_random();
	in.svc = svc;
	in.client = swerve_runtime_config();
	return swerve_balancer_pick(&in, why, whylen);
}

/*
 * The application calls connect() again on a socket whose attempt swerve
 * steered (perl, ruby Net::HTTP and hiredis learn the outcome this way):
 * ask the kernel about the same endpoint, and learn the outcome too.
 */
static int connect_again(int fd, struct fd_slot *sl)
{
	struct sockaddr_storage target;
	socklen_t tlen;
	bool stale;
	int rc, err;

	tlen = endpoint_sockaddr(sl->svc, sl->ep, sl->family, false, sl->port,
				 &target, &stale);
	rc = connect_unguarded(fd, (struct sockaddr *)&target, tlen);
	err = errno;
	if (atomic_load(&sl->state) == SLOT_PENDING) {
		if (rc == 0 || err == EISCONN) {
			swerve_fdtrack_record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_OK);
			swerve_fdtrack_end(fd, sl, true);
		} else if (swerve_fdtrack_is_failure(err)) {
			swerve_fdtrack_record(sl->svc, sl->ep, swerve_fdtrack_outcome_of(err));
			swerve_fdtrack_end(fd, sl, false);
		}
	}
	errno = err;
	return rc;
}

/* True when another endpoint is left for one more attempt. */
static bool can_fail_over(unsigned s, const bool *excluded, unsigned tried)
{
	const struct swerve_service *svc = swerve_services[s].svc;
	unsigned i;

	if (tried >= svc->connect_attempts)
		return false;
	for (i = 0; i < svc->nendpoints; i++)
		if (!excluded[i])
			return true;
	return false;
}

/*
 * Connects <fd> to the best endpoint of service <s> for a VIP dialled on
 * <port> from a socket of <family>, failing over on the same fd while the
 * failure is visible inside this call. Returns what the last real connect()
 * returned, with its errno.
 */
static int route_connect(int fd, unsigned s, uint16_t port, int family,
			 unsigned int uto)
{
	struct svc_state *ss = &swerve_services[s];
	const struct swerve_service *svc = ss->svc;
	bool excluded[SWERVE_MAX_ENDPOINTS];
	struct sockaddr_storage target;
	struct fd_slot *sl, spare;
	unsigned tried = 0;
	socklen_t tlen, olen;
	uint64_t ino = 0;
	bool uto_set = false, v6only = false, stale;
	int rc, err = ENETUNREACH, idx, one = 0;
	char why[160];

	sl = swerve_fdtrack_current(fd, &ino);
	if (sl != NULL && ino != 0 && sl->ino == ino) {
		uint32_t st = atomic_load(&sl->state);

		if (st == SLOT_PENDING || st == SLOT_ESTABLISHED)
			return connect_again(fd, sl);
	}
	if (sl == NULL) {
		/* Untracked fd: route it all the same, observe less. */
		memset(&spare, 0, sizeof(spare));
		sl = &spare;
	}
	/* The kernel's handshake deadline: no timer, no poll, no signal. An
	 * application that set its own TCP_USER_TIMEOUT keeps it. */
	if (uto == 0) {
		unsigned int want = svc->connect_timeout_ms > 0x7fffffff
					    ? 0x7fffffff
					    : (unsigned int)svc->connect_timeout_ms;

		uto_set = setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &want,
				     sizeof(want)) == 0;
	}

	if (family == AF_INET6) {
		olen = sizeof(one);
		v6only = swerve_libc_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
					 &olen) == 0 && one != 0;
	}
	swerve_runtime_refresh_names(s);
	memset(excluded, 0, sizeof(bool) * svc->nendpoints);
	for (;;) {
		/* The reason costs more than the pick: only for the log. */
		why[0] = '\0';
		idx = pick_endpoint(s, family, v6only, tried == 0, excluded,
				    swerve_log_enabled(SWERVE_LOG_DEBUG) ? why
									: NULL,
				    sizeof(why));
		if (idx < 0) {
			/* Nothing this socket can reach is left: an IPv6-only
			 * socket and IPv4 endpoints (or the reverse) give
			 * what the kernel gives for a v4-mapped address on
			 * it; after attempts, the last attempt's error. */
			rc = -1;
			break;
		}
		tlen = endpoint_sockaddr(s, (unsigned)idx, family, v6only,
					 port, &target, &stale);
		if (stale)
			swerve_dnscache_note_stale(swerve_dns, s, (unsigned)idx);
		tried++;
		excluded[idx] = true;
		swerve_log(SWERVE_LOG_DEBUG, "%s:%u -> %s (%s)", svc->name, port,
			   svc->endpoints[idx].text, why);
		/* Recorded before the call: a siglongjmp out of a blocking
		 * connect (wget) must find the attempt at close(). */
		if (sl != &spare)
			swerve_fdtrack_begin(sl, s, (unsigned)idx, port, family, ino,
				   uto_set);
		rc = connect_unguarded(fd, (struct sockaddr *)&target, tlen);
		err = errno;
		if (rc == 0) {
			swerve_fdtrack_record(s, (unsigned)idx, SWERVE_OUTCOME_CONNECT_OK);
			swerve_fdtrack_end(fd, sl, true);
			break;
		}
		if (err == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int so_err = 0;
			socklen_t elen = sizeof(so_err);

			/* On loopback the kernel has already answered; a
			 * zero timeout never blocks. */
			if (poll(&pfd, 1, 0) != 1)
				break; /* still pending: the app waits */
			if (!(pfd.revents & (POLLERR | POLLHUP))) {
				/* Connected already; the app sees POLLOUT and
				 * SO_ERROR 0 as usual. */
				swerve_fdtrack_record(s, (unsigned)idx,
				       SWERVE_OUTCOME_CONNECT_OK);
				swerve_fdtrack_end(fd, sl, true);
				break;
			}
			/* Failed already. Read (and so consume) the error
			 * only when there is somewhere else to go. */
			if (!can_fail_over(s, excluded, tried))
				break;
			if (swerve_libc_getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err,
					    &elen) == -1 ||
			    !swerve_fdtrack_is_failure(so_err))
				break;
			err = so_err;
		} else if (!swerve_fdtrack_is_failure(err)) {
			/* EINTR: the attempt goes on in the kernel and the
			 * slot stays pending. Anything else (EACCES,
			 * EADDRNOTAVAIL...) is not the endpoint's fault. */
			if (err != EINTR && err != EALREADY)
				swerve_fdtrack_end(fd, sl, false);
			break;
		}
		/* The endpoint failed inside this call. */
		swerve_fdtrack_record(s, (unsigned)idx, swerve_fdtrack_outcome_of(err));
		if (!can_fail_over(s, excluded, tried)) {
			swerve_fdtrack_end(fd, sl, false);
			break;
		}
		swerve_log(SWERVE_LOG_INFO, "%s: %s failed (%s), trying the next "
			   "endpoint", svc->name, svc->endpoints[idx].text,
			   strerror(err));
		if (sl == &spare || !swerve_fdtrack_take(sl, SLOT_PENDING)) {
			/* nothing tracked */
		} else {
			swerve_fdtrack_pending_leave(ss, (unsigned)idx);
			atomic_store(&sl->state, SLOT_FREE);
		}
		/* Re-arm the socket: after a failed or timed-out attempt a
		 * bare connect() gives ECONNABORTED or EALREADY first. */
		{
			struct sockaddr unspec = { .sa_family = AF_UNSPEC };

			swerve_libc_connect(fd, &unspec, sizeof(unspec));
		}
	}
	if (uto_set && (sl == &spare || atomic_load(&sl->state) == SLOT_FREE)) {
		unsigned int zero = 0;

		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &zero,
			   sizeof(zero));
	}
	errno = err;
	return rc;
}

SWERVE_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	const struct swerve_config *cfg;
	const struct swerve_service *svc;
	uint32_t addr;
	uint16_t port;
	unsigned vip, s;
	unsigned int uto = 0;
	socklen_t ulen = sizeof(uto);
	int rc, saved;

	if (swerve_guard || sa == NULL || len < sizeof(sa_family_t))
		return swerve_libc_connect(fd, sa, len);
	cfg = swerve_runtime_config();
	if (cfg == NULL || !sockaddr_v4(sa, len, &addr, &port) ||
	    (addr & cfg->vip_mask) != cfg->vip_net) {
		/* Not a service address: a stale record for this fd number
		 * (closed behind our back) is settled, nothing else. */
		if (cfg != NULL && fd >= 0 && fd < FD_SLOTS &&
		    atomic_load_explicit(&swerve_fd_slots[fd].state,
					 memory_order_relaxed) != SLOT_FREE) {
			uint64_t ino;

			saved = errno;
			swerve_guard++;
			swerve_fdtrack_current(fd, &ino);
			swerve_guard--;
			errno = saved;
		}
		return swerve_libc_connect(fd, sa, len);
	}
	svc = swerve_config_match_vip(cfg, addr, &vip);
	if (svc == NULL || !swerve_config_serves_port(svc, port))
		return swerve_libc_connect(fd, sa, len);
	saved = errno;
	/* One call tells a TCP socket (UDP and others have no such option)
	 * and what the application set: c-ares' and glibc's UDP probes of
	 * service addresses pass through. */
	if (swerve_libc_getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
			    &ulen) == -1) {
		errno = saved;
		return swerve_libc_connect(fd, sa, len);
	}
	s = (unsigned)(svc - cfg->services);
	swerve_guard++;
	rc = route_connect(fd, s, port, sa->sa_family, uto);
	saved = errno;
	swerve_guard--;
	errno = saved;
	return rc;
}
