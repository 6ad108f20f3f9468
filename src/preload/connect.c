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
 *    at once instead of waiting 200 ms (docs/design.md 4.4)
 *    and clients with IPv6-only sockets still find an IPv4 one.
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
#include "policy/plan.h"
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

/* As address_sockaddr() builds it: the config's, or for a name its
 * current answer. */
socklen_t swerve_connect_endpoint_addr(unsigned s, unsigned i, int family,
				       bool v6only, uint16_t port,
				       struct sockaddr_storage *out, bool *stale)
{
	const struct svc_state *ss = &swerve_services[s];
	struct sockaddr_storage addr;

	*stale = false;
	if (ss->dns == NULL)
		return address_sockaddr(&ss->svc->endpoints[i].addr, family,
					v6only, port, out);
	if (!swerve_dnscache_address(ss->dns, ss->local, i, &addr, stale))
		return 0;
	return address_sockaddr(&addr, family, v6only, port, out);
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

	swerve_runtime_unguard();
	rc = swerve_libc_connect(fd, sa, len);
	err = errno;
	swerve_runtime_reguard();
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
 * Envoy's retries skip the hosts already tried (previous_hosts); ours
 * never take one tried in this call again, and keep away from what this
 * process just saw failing or hanging while anything else is left.
 */
static enum swerve_plan_verdict attempt_verdict(void *ctx, unsigned i)
{
	const struct swerve_attempt *at = ctx;
	unsigned k;

	for (k = 0; k < at->ntried; k++)
		if (at->tried[k] == i)
			return SWERVE_PLAN_NEVER;
	return is_avoided(at->ss, i, at->now) ? SWERVE_PLAN_AVOID
					      : SWERVE_PLAN_TAKE;
}

/* Over the service's routing plan (plans.c): health is the shared
 * table's. */
int swerve_connect_pick(unsigned s, unsigned cls, struct swerve_attempt *at,
			char *why, size_t whylen)
{
	struct svc_state *ss = &swerve_services[s];
	struct swerve_plan_draw d;
	const struct swerve_plan *pl;
	void *token;
	int idx;

	at->now = swerve_now_ms();
	pl = swerve_plans_enter(s, cls, at->now, &token);
	if (pl == NULL)
		return -1;
	memset(&d, 0, sizeof(d));
	d.rr = atomic_fetch_add_explicit(&ss->rr, 1, memory_order_relaxed);
	d.rand1 = swerve_runtime_random();
	d.rand2 = swerve_runtime_random();
	d.active_shared = ss->active;
	idx = swerve_plan_pick(pl, &d, attempt_verdict, at, why, whylen);
	swerve_plans_leave(token);
	return idx;
}

/*
 * swerve_connect_pick() with its reason logged. Apart, so that the reason's
 * buffer is on the stack only when debug lines are wanted: a connect may
 * run in a signal handler on an 8 KiB stack.
 */
__attribute__((noinline)) static int pick_logged(unsigned s, unsigned cls,
						  struct swerve_attempt *at,
						  uint16_t port)
{
	const struct swerve_service *svc = swerve_services[s].svc;
	char why[160];
	int idx;

	why[0] = '\0';
	idx = swerve_connect_pick(s, cls, at, why, sizeof(why));
	if (idx >= 0)
		swerve_log(SWERVE_LOG_DEBUG, "%s:%u -> %s (%s)", svc->name,
			   port, svc->endpoints[idx].text, why);
	return idx;
}

/*
 * The application calls connect() again on a socket whose attempt swerve
 * steered (perl, ruby Net::HTTP and hiredis learn the outcome this way):
 * ask the kernel about the same endpoint, and learn the outcome too. <at>
 * is the attempt as swerve_fdtrack_snapshot() copied it, so that its
 * service and endpoint belong together even if the slot changes meanwhile.
 */
static int connect_again(int fd, struct fd_slot *sl, const struct fd_slot *at,
			 uint64_t ino)
{
	struct sockaddr_storage target;
	socklen_t tlen;
	bool stale;
	int rc, err;

	tlen = swerve_connect_endpoint_addr(at->svc, at->ep, at->family, false,
					    at->port, &target, &stale);
	rc = connect_unguarded(fd, (struct sockaddr *)&target, tlen);
	err = errno;
	if (rc == 0 || err == EISCONN)
		swerve_fdtrack_conclude(fd, sl, ino, 0, 0);
	else if (swerve_fdtrack_is_failure(err))
		swerve_fdtrack_conclude(fd, sl, ino, err, 0);
	swerve_gens_drop(at->svc); /* kept by swerve_fdtrack_snapshot() */
	errno = err;
	return rc;
}

/* One connect() call to a service address. */
struct route {
	int fd;
	unsigned s;
	uint16_t port;           /* dialled */
	int family;              /* of the socket */
	unsigned cls;            /* its PLAN_CLASS_* */
	bool v6only;
	bool uto_set;            /* we set TCP_USER_TIMEOUT */
	bool tracked;            /* the attempt is recorded in sl */
	uint64_t ino;
	struct fd_slot *sl;      /* the fd's slot; NULL above FD_SLOTS */
	struct swerve_attempt at;
};

/*
 * Concludes attempt <idx> of <r> with <err> (0: connected), <how> as for
 * swerve_fdtrack_conclude(). An attempt without a slot (an fd above
 * FD_SLOTS, or a slot busy at the start) has only its outcome reported.
 */
static void conclude(struct route *r, unsigned idx, int err, unsigned how)
{
	if (r->tracked)
		swerve_fdtrack_conclude(r->fd, r->sl, r->ino, err, how);
	else if (!(how & SWERVE_CONCLUDE_UNCOUNTED))
		swerve_fdtrack_report(r->s, idx, err);
}

/* True when another endpoint is left for one more attempt. */
static bool can_fail_over(const struct route *r)
{
	const struct swerve_service *svc = swerve_services[r->s].svc;

	return r->at.ntried < svc->connect_attempts &&
	       r->at.ntried < svc->nendpoints;
}

/*
 * The kernel's handshake deadline: no timer, no poll, no signal. An
 * application that set its own TCP_USER_TIMEOUT (<uto>) keeps it. Also
 * learns the socket class.
 */
static void prepare_socket(struct route *r, unsigned int uto)
{
	socklen_t olen;
	int one = 0;

	if (uto == 0) {
		unsigned int want = swerve_fdtrack_uto(r->s);

		r->uto_set = setsockopt(r->fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
					&want, sizeof(want)) == 0;
	}
	r->cls = PLAN_CLASS_V4;
	if (r->family == AF_INET6) {
		olen = sizeof(one);
		r->v6only = swerve_libc_getsockopt(r->fd, IPPROTO_IPV6,
						   IPV6_V6ONLY, &one,
						   &olen) == 0 && one != 0;
		r->cls = r->v6only ? PLAN_CLASS_V6ONLY : PLAN_CLASS_DUAL;
	}
}

/* What poll(0) right after EINPROGRESS tells about an attempt. */
enum early {
	EARLY_PENDING,   /* still connecting, or connected: the app goes on */
	EARLY_FAIL_OVER, /* an endpoint failure, with somewhere else to go */
	EARLY_ERROR,     /* an error read from SO_ERROR that is not the
			  * endpoint's: it reaches the app from connect() */
};

/*
 * After a real connect() to <idx> failed with EINPROGRESS: on loopback the
 * kernel has already answered, and a zero timeout never blocks. Reading
 * SO_ERROR clears it, so an error swerve does not fail over on (EACCES
 * from an ICMPv6 "administratively prohibited", EHOSTDOWN, ENONET) is
 * handed to the application by connect() itself, never lost.
 */
static enum early failed_at_once(struct route *r, unsigned idx, int *err)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int so_err = 0;

	if (poll(&pfd, 1, 0) != 1)
		return EARLY_PENDING; /* still pending: the app waits */
	if (!(pfd.revents & (POLLERR | POLLHUP))) {
		/* Connected already; the app sees POLLOUT and SO_ERROR 0. */
		conclude(r, idx, 0, 0);
		return EARLY_PENDING;
	}
	/* Failed already. Read (and so consume) the error only when there
	 * is somewhere else to go. */
	if (!can_fail_over(r))
		return EARLY_PENDING;
	if (swerve_libc_getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &so_err,
				   &elen) == -1 || so_err == 0)
		return EARLY_PENDING;
	*err = so_err;
	return swerve_fdtrack_is_failure(so_err) ? EARLY_FAIL_OVER
						 : EARLY_ERROR;
}

/* Re-arms the socket for the next attempt: after a failed or timed-out
 * attempt a bare connect() gives ECONNABORTED or EALREADY first. */
static void rearm(struct route *r)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };

	swerve_libc_connect(r->fd, &unspec, sizeof(unspec));
}

/*
 * One attempt to endpoint <idx>. Returns true when the call should fail
 * over to another endpoint; false when it is over, with the real
 * connect()'s result in <*rc> and <*err>.
 */
static bool attempt(struct route *r, unsigned idx, int *rc, int *err)
{
	const struct swerve_service *svc = swerve_services[r->s].svc;
	struct sockaddr_storage target;
	socklen_t tlen;
	bool stale;

	tlen = swerve_connect_endpoint_addr(r->s, idx, r->family, r->v6only,
					    r->port, &target, &stale);
	if (stale)
		swerve_dnscache_note_stale(swerve_services[r->s].dns,
					   swerve_services[r->s].local, idx);
	r->at.tried[r->at.ntried++] = (uint16_t)idx;
	/* Recorded before the call: a siglongjmp out of a blocking connect
	 * (wget) must find the attempt at close(). */
	r->tracked = r->sl != NULL &&
		     swerve_fdtrack_begin(r->sl, r->s, idx, r->port, r->family,
					  r->ino, r->uto_set);
	*rc = connect_unguarded(r->fd, (struct sockaddr *)&target, tlen);
	*err = errno;
	if (*rc == 0) {
		conclude(r, idx, 0, 0);
		return false;
	}
	if (*err == EINPROGRESS) {
		enum early e = failed_at_once(r, idx, err);

		if (e == EARLY_PENDING)
			return false;
		if (e == EARLY_ERROR) {
			*rc = -1;
			conclude(r, idx, *err, 0);
			return false;
		}
	} else if (*err == ECONNABORTED) {
		/* Nothing was dialled: an earlier attempt on this socket
		 * failed and its error was read, which the kernel reports
		 * first (docs/design.md 8.1); that outcome was counted when
		 * it was read. The application learns it as it would. */
		conclude(r, idx, *err, SWERVE_CONCLUDE_UNCOUNTED);
		return false;
	} else if (!swerve_fdtrack_is_failure(*err)) {
		/* EINTR: the attempt goes on in the kernel and the slot stays
		 * pending. Anything else (EACCES, EADDRNOTAVAIL...) is not
		 * the endpoint's fault. */
		if (*err != EINTR && *err != EALREADY)
			conclude(r, idx, *err, 0);
		return false;
	}
	/* The endpoint failed inside this call. */
	if (!can_fail_over(r)) {
		conclude(r, idx, *err, 0);
		return false;
	}
	conclude(r, idx, *err, SWERVE_CONCLUDE_KEEP_UTO);
	swerve_log(SWERVE_LOG_INFO, "%s: %s failed (%s), trying the next "
		   "endpoint", svc->name, svc->endpoints[idx].text,
		   strerror(*err));
	rearm(r);
	return true;
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
	struct route r;
	int rc = -1, err = ENETUNREACH, idx;

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.s = s;
	r.port = port;
	r.family = family;
	r.at.ss = &swerve_services[s];
	r.sl = swerve_fdtrack_current(fd, &r.ino);
	if (r.sl != NULL && r.ino != 0) {
		struct fd_slot again;

		if (swerve_fdtrack_snapshot(r.sl, r.ino, &again))
			return connect_again(fd, r.sl, &again, r.ino);
	}
	prepare_socket(&r, uto);
	swerve_runtime_refresh_names(s, fd);
	do {
		/* The reason costs more than the pick: only for the log. */
		idx = swerve_log_enabled(SWERVE_LOG_DEBUG)
			      ? pick_logged(s, r.cls, &r.at, port)
			      : swerve_connect_pick(s, r.cls, &r.at, NULL, 0);
		if (idx < 0) {
			/* Nothing this socket can reach is left: an IPv6-only
			 * socket and IPv4 endpoints (or the reverse) give
			 * what the kernel gives for a v4-mapped address on
			 * it; after attempts, the last attempt's error. */
			rc = -1;
			break;
		}
	} while (attempt(&r, (unsigned)idx, &rc, &err));
	if (r.uto_set &&
	    (!r.tracked || atomic_load(&r.sl->state) == SLOT_FREE))
		swerve_fdtrack_restore_uto(fd, s);
	errno = err;
	return rc;
}

/*
 * A connect() to a service with TLS: the socket goes to the pump
 * (pump.c), which originates TLS to the endpoint it picks.
 */
static int pump_route(int fd, unsigned s, uint32_t vip, uint16_t port,
		      int family)
{
	socklen_t olen = sizeof(int);
	int one = 0;

	if (family == AF_INET6 &&
	    (swerve_libc_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				    &olen) != 0))
		one = 0;
	return swerve_pump_connect(fd, s, vip, port, family, one != 0);
}

/*
 * connect() to an address that is no service address: a stale record for
 * this fd number (closed behind our back) is settled; and
 * connect(AF_UNSPEC) ends the socket's own attempt or connection, as
 * close() would, so that the next connect() is routed afresh.
 */
static int connect_other(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fd_slot *sl;
	uint64_t ino;
	int saved;

	if (fd >= 0 && fd < FD_SLOTS &&
	    atomic_load_explicit(&swerve_fd_slots[fd].state,
				 memory_order_relaxed) != SLOT_FREE) {
		saved = errno;
		if (swerve_runtime_enter()) {
			sl = swerve_fdtrack_current(fd, &ino);
			if (sa->sa_family == AF_UNSPEC && sl != NULL)
				swerve_fdtrack_settle(fd, sl);
			swerve_runtime_leave();
		}
		errno = saved;
	}
	return swerve_libc_connect(fd, sa, len);
}

/* connect() to service address <addr>:<port> in generation <g>, which
 * the caller counted in. */
static int connect_service(struct swerve_gen *g, int fd,
			   const struct sockaddr *sa, socklen_t len,
			   uint32_t addr, uint16_t port)
{
	const struct swerve_service *svc;
	unsigned vip, s;
	unsigned int uto = 0;
	socklen_t ulen = sizeof(uto);
	int rc, saved;

	svc = swerve_config_match_vip(g->cfg, addr, &vip);
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
	s = swerve_gens_index(g, svc);
	if (!swerve_runtime_enter()) {
		errno = saved;
		return swerve_libc_connect(fd, sa, len);
	}
	if (svc->tls.mode != SWERVE_TLS_DISABLE)
		rc = pump_route(fd, s, addr, port, sa->sa_family);
	else
		rc = route_connect(fd, s, port, sa->sa_family, uto);
	saved = errno;
	swerve_runtime_leave();
	errno = saved;
	return rc;
}

SWERVE_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct swerve_gen *g;
	uint32_t addr;
	uint16_t port;
	int rc, saved;

	if (swerve_guard || sa == NULL || len < sizeof(sa_family_t))
		return swerve_libc_connect(fd, sa, len);
	/* A local socket (syslog, nscd, D-Bus) never sets swerve up: in
	 * host-wide mode most programs only ever connect those. */
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 &&
	    sa->sa_family != AF_UNSPEC)
		return swerve_libc_connect(fd, sa, len);
	if (!swerve_runtime_on())
		return swerve_libc_connect(fd, sa, len);
	swerve_reload_check();
	if (!sockaddr_v4(sa, len, &addr, &port) || !swerve_gens_in_vips(addr))
		return connect_other(fd, sa, len);
	g = swerve_gens_enter();
	if (g == NULL)
		return swerve_libc_connect(fd, sa, len);
	rc = connect_service(g, fd, sa, len, addr, port);
	saved = errno;
	swerve_gens_exit(g);
	errno = saved;
	return rc;
}
