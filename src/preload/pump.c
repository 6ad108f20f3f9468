/*
 * pump.c: the application's side of TLS origination. A connect() to a
 * service with `tls` set is not routed to an endpoint: the application's
 * own socket is connected over loopback to a listener of the pump, the
 * one thread swerve starts (pump_loop.c), which picks the endpoint, makes
 * the TLS handshake and relays. The socket stays a real kernel TCP socket,
 * so its options, flags, readiness and lifetime are the kernel's
 * (docs/design.md 4.8). This file owns:
 *   - starting the pump: its listeners and its epoll set,
 *     and the thread, on the first such connect of a process (and of each
 *     forked child: a child's connections are its own pump's);
 *   - the registrations: which application socket (by its local address
 *     and port) dialled which service address, so that the pump knows a
 *     connection it accepts, and getpeername() answers the service
 *     address the application dialled, never the pump's;
 *   - the connection cap (tls_max_connections): above it connect() fails
 *     with ENOBUFS at once.
 *
 * Thread-safety. Start-up runs once per process under a mutex. A
 * registration is claimed by compare-and-swap on its state word, filled,
 * then published with a release store; the pump and getpeername() read
 * only published ones. The pump alone frees them. Nothing here blocks:
 * the loopback connect completes in the kernel (the backlog is larger
 * than the cap). fork(): the child's pump starts afresh; the parent's
 * registrations stay readable for getpeername() (marked inherited: the
 * parent's pump serves them while the parent lives) and are reused only
 * when no free one is left. A vfork() child never gets here
 * (swerve_runtime_enter() refuses).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "preload/preload.h"
#include "preload/pump_conn.h"

struct swerve_pump swerve_pump;

/* Which fds below FD_SLOTS are the pump's: its listeners, its epoll set
 * and its connections' sockets. A close() by the application of one of
 * them (a close-every-fd loop) stops the pump: one bit test per close. */
static _Atomic uint64_t fd_bits[FD_SLOTS / 64];

void swerve_pump_fd_mark(int fd, bool mine)
{
	uint64_t bit;

	if (fd < 0 || fd >= FD_SLOTS)
		return;
	bit = 1ull << (fd % 64);
	if (mine)
		atomic_fetch_or_explicit(&fd_bits[fd / 64], bit,
					 memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&fd_bits[fd / 64], ~bit,
					  memory_order_relaxed);
}

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

/* A listener of the pump on the loopback address of <family>, port
 * chosen by the kernel: its fd, or -1. */
static int listener_open(int family, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		swerve_libc_close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Adds <fd> to the pump's epoll set, for reading, tagged <tag>. */
static int watch(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(swerve_pump.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The thread, started with every signal blocked: it inherits the mask,
 * so no signal of the application's is ever run on it. */
static int thread_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, swerve_pump_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_setname_np(t, "swerve-pump");
	return -rc;
}

/* Allocates what the registrations need; once per process image (a
 * forked child keeps the parent's array). */
static int regs_alloc(uint32_t cap)
{
	void *p;

	if (swerve_pump.regs != NULL)
		return 0;
	p = mmap(NULL, (size_t)cap * sizeof(struct swerve_pump_reg),
		 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	swerve_pump.nregs = cap;
	swerve_pump.regs = p;
	return 0;
}

/* Opens the IPv6 listener, for IPv6-only sockets, when first needed. */
static int listener6_ensure(void)
{
	int fd;

	if (swerve_pump.lfd6 >= 0)
		return 0;
	fd = listener_open(AF_INET6, &swerve_pump.lport6);
	if (fd < 0)
		return -errno;
	if (watch(fd, SWERVE_PUMP_TAG_LISTEN6) != 0) {
		swerve_libc_close(fd);
		return -errno;
	}
	swerve_pump_fd_mark(fd, true);
	atomic_store_explicit(&swerve_pump.lfd6, fd, memory_order_release);
	return 0;
}

/* Starts the pump of this process (and its IPv6 listener if <v6>). */
static int pump_start(const struct swerve_config *cfg, bool v6)
{
	int rc = 0;

	/* Running, with what this socket needs: no lock. */
	if (atomic_load_explicit(&swerve_pump.pid, memory_order_acquire) ==
		    swerve_runtime_pid() &&
	    (!v6 || __atomic_load_n(&swerve_pump.lfd6, __ATOMIC_ACQUIRE) >= 0))
		return 0;
	pthread_mutex_lock(&start_lock);
	if (swerve_pump.pid == swerve_runtime_pid())
		goto v6;
	rc = regs_alloc(cfg->tls_max_connections);
	if (rc != 0)
		goto out;
	swerve_pump.cap = cfg->tls_max_connections;
	swerve_pump.lfd6 = -1;
	swerve_pump.epfd = epoll_create1(EPOLL_CLOEXEC);
	swerve_pump.lfd = listener_open(AF_INET, &swerve_pump.lport);
	if (swerve_pump.epfd < 0 || swerve_pump.lfd < 0 ||
	    watch(swerve_pump.lfd, SWERVE_PUMP_TAG_LISTEN) != 0) {
		rc = -errno;
		goto out;
	}
	swerve_pump_fd_mark(swerve_pump.epfd, true);
	swerve_pump_fd_mark(swerve_pump.lfd, true);
	rc = thread_start();
	if (rc != 0)
		goto out;
	atomic_store_explicit(&swerve_pump.pid, swerve_runtime_pid(),
			      memory_order_release);
v6:
	if (v6)
		rc = listener6_ensure();
out:
	pthread_mutex_unlock(&start_lock);
	return rc;
}

/* Claims a free registration (or, with none left, one inherited from a
 * parent process); NULL when all are in use. */
static struct swerve_pump_reg *reg_claim(void)
{
	uint32_t want[2] = { SWERVE_PUMP_REG_FREE, SWERVE_PUMP_REG_INHERITED };
	unsigned pass, i, n = swerve_pump.nregs;
	unsigned start = (unsigned)(swerve_runtime_random() % n);

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			struct swerve_pump_reg *r =
				&swerve_pump.regs[(start + i) % n];
			uint32_t st = want[pass];

			if (atomic_compare_exchange_strong(
				    &r->state, &st, SWERVE_PUMP_REG_WRITING))
				return r;
		}
	return NULL;
}

/* The pump's address for a socket of <family> (<v6only>). */
static socklen_t pump_addr(int family, bool v6only,
			   struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)out;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(swerve_pump.lport);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (void *)out;

	sin6->sin6_family = AF_INET6;
	if (v6only) {
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(swerve_pump.lport6);
	} else {
		/* ::ffff:127.0.0.1 */
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		sin6->sin6_addr.s6_addr[12] = 127;
		sin6->sin6_addr.s6_addr[15] = 1;
		sin6->sin6_port = htons(swerve_pump.lport);
	}
	return sizeof(*sin6);
}

/* Fills <r>'s key from <fd>'s local address; false when unknown. */
static bool reg_key(struct swerve_pump_reg *r, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	return swerve_pump_key(&ss, r->addr, &r->lport);
}

bool swerve_pump_key(const struct sockaddr_storage *ss, uint8_t addr[16],
		     uint16_t *port)
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		/* As ::ffff:a.b.c.d, so that a dual-stack socket's
		 * v4-mapped address and the accepted IPv4 peer match. */
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		memcpy(addr, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
		return true;
	}
	return false;
}

/* Logs, once per change, that the cap turned connects away. */
static void note_full(bool full)
{
	static _Atomic int was_full;

	if (atomic_exchange(&was_full, full) == full)
		return;
	if (full)
		swerve_log(SWERVE_LOG_WARN, "TLS relay full (tls_max_connections"
			   " = %u): new connections to TLS services fail "
			   "with ENOBUFS", swerve_pump.cap);
	else
		swerve_log(SWERVE_LOG_WARN, "TLS relay has room again");
}

/* The loopback connect of <fd> to the pump, and the registration behind
 * it. Returns the real connect()'s result; errno set. */
static int hand_over(int fd, struct swerve_pump_reg *r, int family,
		     bool v6only)
{
	struct sockaddr_storage pa;
	socklen_t plen = pump_addr(family, v6only, &pa);
	int rc, err;

	swerve_runtime_unguard();
	rc = swerve_libc_connect(fd, (struct sockaddr *)&pa, plen);
	err = errno;
	swerve_runtime_reguard();
	if ((rc == 0 || err == EINPROGRESS) && reg_key(r, fd)) {
		r->pid = swerve_runtime_pid();
		r->pump_port = v6only ? swerve_pump.lport6 : swerve_pump.lport;
		/* Published: the pump, which may have accepted the
		 * connection already, finds it within a millisecond. */
		atomic_store_explicit(&r->state, SWERVE_PUMP_REG_READY,
				      memory_order_release);
	} else {
		atomic_fetch_sub(&swerve_pump.live, 1);
		swerve_gens_drop(r->svc);
		atomic_store(&r->state, SWERVE_PUMP_REG_FREE);
		if (rc == 0 || err == EINPROGRESS) {
			/* Connected, but unknown to the pump: it will close
			 * it. Say so rather than hand over a dead socket. */
			rc = -1;
			err = ECONNABORTED;
		}
	}
	errno = err;
	return rc;
}

/*
 * connect() again on a socket already handed to the pump (perl, ruby and
 * hiredis learn a non-blocking connect's outcome so): the kernel answers
 * for the same pump address. False when <fd> is not such a socket.
 */
static bool again(int fd, int family, int *rc)
{
	struct swerve_pump_reg *r = NULL;
	struct sockaddr_storage ss, pa;
	socklen_t len = sizeof(ss), plen;
	uint8_t addr[16];
	uint16_t lport;
	unsigned i;

	if (swerve_pump.regs == NULL ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    !swerve_pump_key(&ss, addr, &lport) || lport == 0)
		return false;
	for (i = 0; i < swerve_pump.nregs && r == NULL; i++) {
		struct swerve_pump_reg *x = &swerve_pump.regs[i];
		uint32_t st = atomic_load_explicit(&x->state,
						   memory_order_acquire);

		if ((st == SWERVE_PUMP_REG_READY ||
		     st == SWERVE_PUMP_REG_TAKEN) &&
		    x->pid == swerve_runtime_pid() && x->lport == lport &&
		    memcmp(x->addr, addr, 16) == 0)
			r = x;
	}
	if (r == NULL)
		return false;
	plen = pump_addr(family, r->pump_port == swerve_pump.lport6 &&
					 r->pump_port != swerve_pump.lport,
			 &pa);
	if (family == AF_INET)
		((struct sockaddr_in *)&pa)->sin_port = htons(r->pump_port);
	else
		((struct sockaddr_in6 *)&pa)->sin6_port = htons(r->pump_port);
	*rc = swerve_libc_connect(fd, (struct sockaddr *)&pa, plen);
	return true;
}

int swerve_pump_connect(int fd, unsigned s, uint32_t vip, uint16_t port,
			int family, bool v6only)
{
	const struct swerve_config *cfg = swerve_services[s].gen->cfg;
	struct swerve_pump_reg *r;
	int rc;

	if (again(fd, family, &rc))
		return rc;
	if (atomic_load_explicit(&swerve_pump.lost, memory_order_relaxed)) {
		/* As if swerve were not there: nothing listens on a
		 * service address. */
		errno = ECONNREFUSED;
		return -1;
	}

	if (swerve_pump.pid != swerve_runtime_pid() &&
	    swerve_signals_in_handler()) {
		/* Starting a thread is not async-signal-safe. */
		errno = ENOBUFS;
		return -1;
	}
	rc = pump_start(cfg, family == AF_INET6 && v6only);
	if (rc != 0) {
		swerve_log(SWERVE_LOG_WARN, "cannot start the TLS relay: %s",
			   strerror(-rc));
		errno = -rc;
		return -1;
	}
	if (atomic_fetch_add(&swerve_pump.live, 1) >= swerve_pump.cap ||
	    (r = reg_claim()) == NULL) {
		atomic_fetch_sub(&swerve_pump.live, 1);
		note_full(true);
		errno = ENOBUFS;
		return -1;
	}
	note_full(false);
	/* The registration, and the relayed connection that takes it over,
	 * keep the service's generation: a reload must not free it. */
	swerve_gens_hold(s);
	r->svc = (uint16_t)s;
	r->vip = vip;
	r->port = port;
	/* Names due for a refresh are refreshed here, in the application's
	 * call, as for a routed connect (blocking sockets may wait up to
	 * dns_timeout; an event loop's never waits): the pump must never
	 * wait on DNS. */
	swerve_runtime_refresh_names(s, fd);
	return hand_over(fd, r, family, v6only);
}

/* The published registration of the socket at local <addr>:<lport>
 * connected to the pump's <pump_port>; NULL when none. */
struct swerve_pump_reg *swerve_pump_find(const uint8_t addr[16],
					 uint16_t lport, uint16_t pump_port)
{
	unsigned i;

	if (swerve_pump.regs == NULL)
		return NULL;
	for (i = 0; i < swerve_pump.nregs; i++) {
		struct swerve_pump_reg *r = &swerve_pump.regs[i];
		uint32_t st = atomic_load_explicit(&r->state,
						   memory_order_acquire);

		if ((st == SWERVE_PUMP_REG_READY ||
		     st == SWERVE_PUMP_REG_TAKEN ||
		     st == SWERVE_PUMP_REG_INHERITED) &&
		    r->lport == lport && r->pump_port == pump_port &&
		    memcmp(r->addr, addr, 16) == 0)
			return r;
	}
	return NULL;
}

/*
 * getpeername() of a socket connected to a pump answers the service
 * address and port that the application dialled, as it would for a
 * routed connection's endpoint... but the application dialled the
 * service address, and that is what it expects back (curl prints it).
 */
/* True for 127.0.0.0/8 (as ::ffff:127.x.y.z) and ::1: where the pump's
 * listeners are. */
static bool is_loopback_key(const uint8_t addr[16])
{
	static const uint8_t one[16] = { [15] = 1 };

	return (addr[10] == 0xff && addr[11] == 0xff && addr[12] == 127 &&
		memcmp(addr, one, 10) == 0) ||
	       memcmp(addr, one, 16) == 0;
}

SWERVE_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage peer, local;
	socklen_t given = len != NULL ? *len : 0, llen = sizeof(local);
	const struct swerve_pump_reg *r;
	uint8_t paddr[16], laddr[16];
	uint16_t pport, lport;
	int rc = swerve_libc_getpeername(fd, sa, len), saved = errno;

	if (rc != 0 || swerve_guard || swerve_pump.regs == NULL ||
	    sa == NULL || len == NULL)
		return rc;
	/* The kernel's answer, whole in <sa> unless the buffer was short:
	 * only a loopback peer can be a pump, so other sockets (a server's
	 * accepted clients) pay no more system calls. */
	memset(&peer, 0, sizeof(peer));
	if (*len <= given && *len <= sizeof(peer))
		memcpy(&peer, sa, *len);
	else if (swerve_libc_getpeername(fd, (struct sockaddr *)&peer,
					 &llen) != 0)
		peer.ss_family = AF_UNSPEC; /* no key: as libc answered */
	llen = sizeof(local);
	if (!swerve_pump_key(&peer, paddr, &pport) ||
	    !is_loopback_key(paddr) ||
	    getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
	    !swerve_pump_key(&local, laddr, &lport) ||
	    (r = swerve_pump_find(laddr, lport, pport)) == NULL) {
		errno = saved;
		return rc;
	}
	swerve_pump_vip_sockaddr(r, peer.ss_family, sa, &given);
	*len = given;
	errno = saved;
	return 0;
}

void swerve_pump_vip_sockaddr(const struct swerve_pump_reg *r, int family,
			      struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage out;
	socklen_t olen;

	memset(&out, 0, sizeof(out));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&out;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(r->vip);
		sin->sin_port = htons(r->port);
		olen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&out;
		uint32_t v = htonl(r->vip);

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], &v, 4);
		sin6->sin6_port = htons(r->port);
		olen = sizeof(*sin6);
	}
	memcpy(sa, &out, *len < olen ? *len : olen);
	*len = olen;
}

/*
 * In a child of fork(): the pump thread was not copied. Everything the
 * child inherited of the parent's pump is closed here, or the child's
 * copies of the relayed sockets would keep them open after the parent's
 * pump ends them. The parent's registrations stay, marked inherited, for
 * getpeername() of the sockets the child inherited.
 */
void swerve_pump_after_fork(void)
{
	unsigned i;

	if (swerve_pump.pid == 0)
		return;
	swerve_pump_close_inherited();
	swerve_pump_conn_after_fork();
	for (i = 0; i < swerve_pump.nregs; i++) {
		struct swerve_pump_reg *r = &swerve_pump.regs[i];
		uint32_t st = atomic_load(&r->state);

		/* The parent's relayed connections are not this child's: the
		 * generations they kept are not kept here. A registration
		 * being written may not have counted its own yet: left. */
		if (st == SWERVE_PUMP_REG_READY ||
		    st == SWERVE_PUMP_REG_TAKEN) {
			swerve_gens_drop(r->svc);
			atomic_store(&r->state, SWERVE_PUMP_REG_INHERITED);
		} else if (st == SWERVE_PUMP_REG_WRITING)
			atomic_store(&r->state, SWERVE_PUMP_REG_FREE);
	}
	if (swerve_pump.lfd >= 0)
		swerve_libc_close(swerve_pump.lfd);
	if (swerve_pump.lfd6 >= 0)
		swerve_libc_close(swerve_pump.lfd6);
	if (swerve_pump.epfd >= 0)
		swerve_libc_close(swerve_pump.epfd);
	swerve_pump.lfd = swerve_pump.lfd6 = -1;
	swerve_pump.epfd = -1;
	atomic_store(&swerve_pump.live, 0);
	atomic_store(&swerve_pump.pid, 0);
	memset(fd_bits, 0, sizeof(fd_bits));
	pthread_mutex_init(&start_lock, NULL);
}

void swerve_pump_reg_end(struct swerve_pump_reg *r)
{
	swerve_gens_drop(r->svc);
	atomic_store_explicit(&r->state, SWERVE_PUMP_REG_FREE,
			      memory_order_release);
	atomic_fetch_sub(&swerve_pump.live, 1);
}

/*
 * The application closes one of the pump's own descriptors (a loop over
 * every fd, a daemon's start; a relayed connection's sockets count too):
 * the pump must never use that number again,
 * since it may soon name a file of the application's. It stops for good,
 * and connects to TLS services are refused from then on, with one line.
 */
void swerve_pump_closing(int fd)
{
	if (fd >= FD_SLOTS || swerve_pump.pid != swerve_runtime_pid() ||
	    !(atomic_load_explicit(&fd_bits[fd / 64], memory_order_relaxed) &
	      (1ull << (fd % 64))) ||
	    atomic_exchange(&swerve_pump.lost, true))
		return;
	swerve_log(SWERVE_LOG_WARN, "the application closed the TLS relay's "
		   "descriptor %d: connections to TLS services are refused "
		   "from now on", fd);
}
