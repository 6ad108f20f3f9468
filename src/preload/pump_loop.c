/*
 * pump_loop.c: the pump thread's loop. It accepts the connections that
 * applications' sockets make to its listeners, matches each with its
 * registration (pump.c) by the socket's address and port, and drives the
 * relayed connections (pump_conn.c) from one epoll set, with their
 * deadlines. A connection no registration claims (another program, or a
 * race with a registration not published yet) is parked, matched again
 * every millisecond, and closed after PARK_MS. (No wake-up descriptor:
 * connect() never writes to a descriptor of swerve's, whose number the
 * application might have closed and reused.)
 *
 * Thread-safety. Everything here runs on the pump thread, except
 * swerve_pump_close_inherited(), which runs in a forked child (which has
 * no pump thread) and reads only the fd table, whose entries are atomic.
 * The thread raises swerve's guard for good: every hooked call that it or
 * a library it loaded makes passes straight through to libc. Every signal
 * is blocked on it (pump.c starts it so).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "preload/preload.h"
#include "preload/pump_conn.h"

/* An unclaimed accepted connection is closed after this long. */
#define PARK_MS 1000
#define PARKED_MAX 64
/* How soon a parked connection is matched again. */
#define PARK_POLL_MS 1
/* The longest sleep with nothing due: parked connections age. */
#define IDLE_WAIT_MS 1000

struct parked {
	int fd;
	uint16_t lport;      /* the listener's port it reached */
	uint16_t port;       /* its peer: the application socket's */
	uint8_t addr[16];
	uint64_t since_ms;
};

static struct swerve_pump_conn **conns;   /* cap of them */
/* The fds of conns[i]: 2 i (application side) and 2 i + 1 (endpoint),
 * -1 when none; read by a forked child. */
static _Atomic int *fdtab;
static struct parked parked[PARKED_MAX];
static unsigned nparked;

void swerve_pump_fd_set(unsigned idx, int side, int fd)
{
	int old = atomic_exchange_explicit(&fdtab[2 * idx + (unsigned)side],
					   fd, memory_order_relaxed);

	swerve_pump_fd_mark(old, false);
	swerve_pump_fd_mark(fd, true);
}

void swerve_pump_close_inherited(void)
{
	unsigned i;
	int fd;

	if (fdtab == NULL)
		return;
	for (i = 0; i < 2 * swerve_pump.cap; i++) {
		fd = atomic_exchange(&fdtab[i], -1);
		if (fd >= 0)
			swerve_libc_close(fd);
	}
	for (i = 0; i < nparked; i++)
		swerve_libc_close(parked[i].fd);
	nparked = 0;
}

/* The connection takes registration <r>, found for accepted <fd>. */
static void adopt(int fd, struct swerve_pump_reg *r, uint64_t now)
{
	unsigned i;

	for (i = 0; i < swerve_pump.cap; i++)
		if (conns[i] == NULL)
			break;
	if (i == swerve_pump.cap) {
		/* The cap counts registrations: never, in practice. */
		swerve_pump_reg_end(r);
		swerve_libc_close(fd);
		return;
	}
	conns[i] = swerve_pump_conn_new(i, fd, r, now);
	if (conns[i] == NULL) {
		swerve_log(SWERVE_LOG_WARN, "TLS relay: out of memory");
		swerve_pump_reg_end(r);
		swerve_libc_close(fd);
		return;
	}
	swerve_pump_conn_start(conns[i], now);
}

/* Claims the published registration of a connection from <addr>:<port>
 * to listener port <lport>; NULL when there is none (yet). */
static struct swerve_pump_reg *claim(const uint8_t addr[16], uint16_t port,
				     uint16_t lport)
{
	struct swerve_pump_reg *r = swerve_pump_find(addr, port, lport);
	uint32_t st = SWERVE_PUMP_REG_READY;

	if (r == NULL || r->pid != swerve_runtime_pid() ||
	    !atomic_compare_exchange_strong(&r->state, &st,
					    SWERVE_PUMP_REG_TAKEN))
		return NULL;
	return r;
}

static void park(int fd, const uint8_t addr[16], uint16_t port,
		 uint16_t lport, uint64_t now)
{
	struct parked *p;

	if (nparked == PARKED_MAX) {
		swerve_libc_close(fd);
		return;
	}
	p = &parked[nparked++];
	p->fd = fd;
	p->lport = lport;
	p->port = port;
	memcpy(p->addr, addr, 16);
	p->since_ms = now;
}

/* Matches parked connections again; closes those parked too long. */
static void unpark(uint64_t now)
{
	struct swerve_pump_reg *r;
	unsigned i = 0;

	while (i < nparked) {
		struct parked *p = &parked[i];

		r = claim(p->addr, p->port, p->lport);
		if (r == NULL && now - p->since_ms < PARK_MS) {
			i++;
			continue;
		}
		if (r != NULL)
			adopt(p->fd, r, now);
		else
			swerve_libc_close(p->fd);
		*p = parked[--nparked];
	}
}

/* Accepts every pending connection on listener <lfd> (port <lport>). */
static void accept_all(int lfd, uint16_t lport, uint64_t now)
{
	struct sockaddr_storage ss;
	struct swerve_pump_reg *r;
	uint8_t addr[16];
	uint16_t port;
	socklen_t len;
	int fd, one = 1;

	for (;;) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!swerve_pump_key(&ss, addr, &port)) {
			swerve_libc_close(fd);
			continue;
		}
		r = claim(addr, port, lport);
		if (r != NULL)
			adopt(fd, r, now);
		else
			park(fd, addr, port, lport, now);
	}
}

/* Ends the connections whose deadline passed; returns the wait until the
 * next one (ms), for epoll_wait. */
static int deadlines(uint64_t now)
{
	uint64_t next = now + IDLE_WAIT_MS, d;
	unsigned i;

	for (i = 0; i < swerve_pump.cap; i++) {
		if (conns[i] == NULL)
			continue;
		d = swerve_pump_conn_deadline(conns[i]);
		if (d != 0 && d <= now) {
			swerve_pump_conn_expire(conns[i], now);
			if (conns[i] == NULL)
				continue;
			d = swerve_pump_conn_deadline(conns[i]);
		}
		if (d != 0 && d < next)
			next = d;
	}
	return (int)(next - now);
}

void swerve_pump_conn_gone(unsigned idx)
{
	conns[idx] = NULL;
}

/* Allocates the loop's tables, once per process image. */
static int tables_alloc(void)
{
	size_t n = swerve_pump.cap;
	unsigned i;

	if (fdtab == NULL) {
		fdtab = mmap(NULL, 2 * n * sizeof(*fdtab),
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fdtab == MAP_FAILED) {
			fdtab = NULL;
			return -ENOMEM;
		}
	}
	for (i = 0; i < 2 * n; i++)
		atomic_store(&fdtab[i], -1);
	free(conns);
	conns = calloc(n, sizeof(*conns));
	return conns == NULL ? -ENOMEM : 0;
}

static void dispatch(const struct epoll_event *ev, uint64_t now)
{
	uint64_t tag = ev->data.u64, idx;

	switch (tag) {
	case SWERVE_PUMP_TAG_LISTEN:
		accept_all(swerve_pump.lfd, swerve_pump.lport, now);
		return;
	case SWERVE_PUMP_TAG_LISTEN6:
		accept_all(atomic_load(&swerve_pump.lfd6), swerve_pump.lport6,
			   now);
		return;
	default:
		idx = (tag - SWERVE_PUMP_TAG_CONN) / 2;
		if (idx < swerve_pump.cap && conns[idx] != NULL)
			swerve_pump_conn_event(conns[idx],
					       (int)((tag - SWERVE_PUMP_TAG_CONN)
						     % 2),
					       ev->events, now);
	}
}

void *swerve_pump_main(void *arg)
{
	struct epoll_event evs[64];
	int n, i, wait_ms;
	uint64_t now;

	(void)arg;
	swerve_guard = 1;
	if (tables_alloc() != 0) {
		swerve_log(SWERVE_LOG_WARN, "TLS relay: out of memory; "
			   "connections to TLS services will hang up");
		return NULL;
	}
	wait_ms = IDLE_WAIT_MS;
	for (;;) {
		n = epoll_wait(swerve_pump.epfd, evs, 64, wait_ms);
		if (atomic_load(&swerve_pump.lost) ||
		    (n < 0 && errno != EINTR)) {
			/* Its descriptors are no longer its own: touching
			 * them could touch the application's files. */
			atomic_store(&swerve_pump.lost, true);
			return NULL;
		}
		now = swerve_now_ms();
		for (i = 0; i < n; i++)
			dispatch(&evs[i], now);
		if (nparked > 0)
			unpark(now);
		wait_ms = deadlines(now);
		/* A connection accepted before its registration was
		 * published is matched again a millisecond later. */
		if (nparked > 0 && wait_ms > PARK_POLL_MS)
			wait_ms = PARK_POLL_MS;
	}
	return NULL;
}
