/*
 * http.c: HTTP observation on the connections swerve routed to a service
 * with protocol = http. Such a connection's slot is SLOT_HTTP rather than
 * SLOT_ESTABLISHED; the read and write hooks (io.c) hand what each call
 * moved to the connection's tracker (policy/httptrack.h), and this file
 * reports what the tracker finds: each response's status, a reset before
 * a response's header block, and, when the connection ends, a request
 * abandoned unanswered for response_timeout. It only observes: bytes,
 * return values and errno stay the application's.
 *
 * Storage. One struct http_conn per fd below FD_SLOTS (152 bytes), indexed
 * by fd like the slots, in one anonymous private mapping made at init, and
 * only when some service speaks http: 9.5 MiB of address space reserved
 * with MAP_NORESERVE, whose pages the kernel provides only where an fd
 * carries an http connection (32 fds a page). Every call is O(1); nothing
 * is claimed from a pool, so nothing can run out or leak, and a tracker is
 * made fresh when its fd's connection is established.
 *
 * Verdicts that end a connection (a reset, a timeout) are checked against
 * the kernel first: the fd must still hold the socket the slot recorded,
 * and the kernel must have received exactly the bytes the application was
 * seen reading (TCP_INFO). Bytes read where swerve cannot see them (a
 * duplicated fd, stdio on the socket, io_uring, recvmmsg) then never
 * count as a reset or a timeout; the tracker, which missed them, usually
 * gives up on what follows.
 *
 * Thread-safety. The slot's state word is the lock: a thread feeds a
 * tracker or judges a connection only while it holds the slot (claimed
 * from SLOT_HTTP), with the guard raised (signals held, see signals.c) and
 * never across a call that can block. A thread that cannot claim it within
 * the bounded wait of swerve_fdtrack_claim() notes that it missed bytes,
 * and the tracker gives up. Statuses that are no 5xx are counted while
 * the slot is held (a lock-free count on a healthy row); other reports,
 * which may take a row's lock, go to the table once it is released. A
 * response can be read in one thread before the thread that
 * wrote its request has fed that request: the kernel wakes the server as
 * the request goes out, and the writer is often preempted right there. A
 * write on a followed connection therefore stamps the connection before
 * it calls the kernel and clears the stamp once it has fed its bytes; a
 * reader that finds a stamp waits for it (a bounded time, yielding the
 * CPU). A stamp that outlasts the wait (a write blocked for long, or one a
 * handler jumped out of) is cleared by that reader and waited for by no
 * other. A slot inherited across fork() is the parent's: it is dropped,
 * never reported.
 *
 * Cost. A followed connection's read or write pays, on top of the call:
 * the tracker, one claim of the slot, one clock read (shared by the
 * tracker and the table), and for a response a lock-free count in the
 * table. No system call: the guard is raised without asking getpid()
 * whether this is a vfork() child (a child that reads or writes a
 * followed connection moves its bytes as one more thread of the parent
 * would, and is followed as one), and a response that is no 5xx is
 * reported without asking the kernel whether the fd still holds the
 * socket (see check_events).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/tcp.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "policy/httptrack.h"
#include "preload/preload.h"

/* A reader waits at most this long for a writer to feed its request. */
#define WRITER_WAIT_NS 2000000
/* http_conn.writing: the low bit says a write is in flight; the rest
 * counts writes, so that a reader tells the next write from this one. */
#define WRITE_IN_FLIGHT 1u
/* Events of one call: a read completes at most QUEUE responses, then
 * maybe gives up; a write or an end gives one. */
#define MAX_EVENTS (SWERVE_HTTPTRACK_QUEUE + 2)

struct http_conn {
	struct swerve_httptrack t;
	uint64_t rx;               /* bytes the application was seen reading */
	_Atomic uint32_t writing;  /* writes begun, times 2, plus
				    * WRITE_IN_FLIGHT while one is */
	_Atomic uint32_t missed;   /* a thread could not feed: give up */
};

/*
 * FD_SLOTS of them, or NULL (no http service, or no memory). Stored by
 * init before the config is published, then only read: atomically, as a
 * hook finds a connection's slot with a relaxed load, which orders
 * nothing.
 */
static struct http_conn *_Atomic conns;

/* The tracker storage of <fd>, NULL when there is none. */
static struct http_conn *conn_of(int fd)
{
	struct http_conn *all = atomic_load_explicit(&conns,
						     memory_order_relaxed);

	return all != NULL ? &all[fd] : NULL;
}

struct batch {
	unsigned n;
	struct swerve_httptrack_event ev[MAX_EVENTS];
};

static void collect(void *arg, const struct swerve_httptrack_event *ev)
{
	struct batch *b = arg;

	if (b->n < MAX_EVENTS)
		b->ev[b->n++] = *ev;
}

int swerve_http_init(const struct swerve_config *cfg)
{
	size_t size = (size_t)FD_SLOTS * sizeof(struct http_conn);
	void *p;
	unsigned s;

	/* Once per process: a reload that adds the first http service
	 * makes it then. */
	if (atomic_load_explicit(&conns, memory_order_acquire) != NULL)
		return 0;
	for (s = 0; s < cfg->nservices; s++)
		if (cfg->services[s].protocol == SWERVE_PROTOCOL_HTTP)
			break;
	if (s == cfg->nservices)
		return 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	atomic_store_explicit(&conns, p, memory_order_release);
	return 0;
}

bool swerve_http_on(unsigned s)
{
	return atomic_load_explicit(&conns, memory_order_relaxed) != NULL &&
	       swerve_services[s].svc->protocol == SWERVE_PROTOCOL_HTTP;
}

void swerve_http_start(int fd)
{
	struct http_conn *c = conn_of(fd);

	/* The memo of repeated messages stays: the next connection on this
	 * fd number is often the same client's same request again. */
	swerve_httptrack_restart(&c->t);
	c->rx = 0;
	atomic_store_explicit(&c->missed, 0, memory_order_relaxed);
	atomic_store_explicit(&c->writing, 0, memory_order_relaxed);
}

/* True when <fd> still holds the socket with inode <ino>. */
static bool same_socket(int fd, uint64_t ino)
{
	return swerve_fdtrack_inode(fd) == ino;
}

/*
 * True when the kernel received exactly the <rx> bytes the application was
 * seen reading on <fd> (plus one for a FIN the application read as the
 * end: the kernel counts it as a byte): none arrived unread, none was read
 * unseen. False when the kernel cannot say (before Linux 4.1).
 */
static bool all_seen(int fd, uint64_t rx)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (swerve_libc_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) +
			  sizeof(ti.tcpi_bytes_received))
		return false;
	return ti.tcpi_bytes_received == rx;
}

void swerve_http_end(int fd, const struct fd_slot *sl, bool vanished)
{
	const struct swerve_service *svc = swerve_services[sl->svc].svc;
	struct http_conn *c = conn_of(fd);

	if (atomic_load_explicit(&c->missed, memory_order_relaxed) ||
	    !swerve_httptrack_abandoned(&c->t, swerve_now_ms(),
					svc->response_timeout_ms))
		return;
	/* A socket closed behind swerve's back (libuv closes with a raw
	 * system call) can no longer be asked; it is judged on what was
	 * seen, with the wait counted up to now. */
	if (!vanished && !(same_socket(fd, sl->ino) && all_seen(fd, c->rx)))
		return;
	swerve_log(SWERVE_LOG_DEBUG, "%s: a request to %s went unanswered "
		   "for response_timeout: a timeout", svc->name,
		   svc->endpoints[sl->ep].text);
	swerve_fdtrack_record(sl->svc, sl->ep, SWERVE_OUTCOME_HTTP_TIMEOUT, 0);
}

void swerve_http_writing(int fd, bool begins)
{
	struct http_conn *c = conn_of(fd);
	uint32_t v;

	/* Two writes at once on one socket may share a count: a reader
	 * then waits for the later one too, as long as WRITER_WAIT_NS. */
	if (c == NULL)
		return;
	v = atomic_load_explicit(&c->writing, memory_order_relaxed);
	v = begins ? ((v | WRITE_IN_FLIGHT) + 1) | WRITE_IN_FLIGHT
		   : v & ~WRITE_IN_FLIGHT;
	atomic_store_explicit(&c->writing, v, memory_order_release);
}

/* Waits, a bounded time, for a write in flight to feed its bytes. */
static void wait_for_writer(struct http_conn *c)
{
	struct swerve_fdtrack_waiter w = { 0, 0 };
	uint32_t since = atomic_load_explicit(&c->writing,
					      memory_order_acquire);

	if (!(since & WRITE_IN_FLIGHT))
		return;
	while (atomic_load_explicit(&c->writing, memory_order_acquire) ==
	       since)
		if (!swerve_fdtrack_wait(&w, WRITER_WAIT_NS)) {
			/* Blocked for long, or jumped out of: no other
			 * reader waits for this write. */
			atomic_compare_exchange_strong(
				&c->writing, &since,
				since & ~WRITE_IN_FLIGHT);
			return;
		}
}

/* The first <rc> bytes of <io>'s buffers, in order, to the tracker. */
static void feed_bytes(struct http_conn *c, const struct swerve_http_io *io,
		       size_t rc, uint64_t now, struct batch *b)
{
	int i;

	/* read, write, recv, send...: one buffer, all of it moved. */
	if (io->iovcnt == 1 && rc <= io->iov[0].iov_len) {
		if (io->in)
			swerve_httptrack_read(&c->t, io->iov[0].iov_base, rc,
					      now, collect, b);
		else
			swerve_httptrack_write(&c->t, io->iov[0].iov_base, rc,
					       now, collect, b);
		return;
	}
	for (i = 0; i < io->iovcnt && rc > 0; i++) {
		size_t n = io->iov[i].iov_len < rc ? io->iov[i].iov_len : rc;

		if (io->in)
			swerve_httptrack_read(&c->t, io->iov[i].iov_base, n,
					      now, collect, b);
		else
			swerve_httptrack_write(&c->t, io->iov[i].iov_base, n,
					       now, collect, b);
		rc -= n;
	}
}

/* Errors after which the connection carries nothing more. */
static bool ends_connection(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
}

/* What the call tells the tracker, under the claimed slot, at <now>. */
static void feed(struct http_conn *c, const struct swerve_http_io *io,
		 ssize_t rc, uint64_t now, struct batch *b)
{
	/* A load first: the exchange, a locked instruction, only when
	 * another thread missed bytes. */
	if (atomic_load_explicit(&c->missed, memory_order_relaxed) &&
	    atomic_exchange_explicit(&c->missed, 0, memory_order_relaxed))
		swerve_httptrack_give_up(&c->t, SWERVE_HTTPTRACK_WHY_UNSEEN,
					 collect, b);
	if (rc <= 0) {
		swerve_httptrack_eof(&c->t, collect, b);
		return;
	}
	if (io->in)
		c->rx += (uint64_t)rc;
	/* TCP discards what MSG_TRUNC reads; MSG_OOB sends a byte the
	 * server does not read in line. */
	if ((io->in && (io->flags & MSG_TRUNC)) ||
	    (!io->in && (io->flags & MSG_OOB)))
		swerve_httptrack_give_up(&c->t, SWERVE_HTTPTRACK_WHY_UNSEEN,
					 collect, b);
	else
		feed_bytes(c, io, (size_t)rc, now, b);
}

/* True when the events of <b> are all statuses that are no 5xx. */
static bool all_fine(const struct batch *b)
{
	unsigned i;

	for (i = 0; i < b->n; i++)
		if (b->ev[i].kind != SWERVE_HTTPTRACK_STATUS ||
		    (b->ev[i].status >= 500 && b->ev[i].status <= 599))
			return false;
	return true;
}

/*
 * Checks the events of <b> against the kernel, under the claimed slot of
 * <fd>, after a call that returned <rc>. False when the fd holds another
 * socket now (closed behind our back and reused): the tracker was fed
 * another file's bytes, so it gives up and nothing is reported. A reset
 * is dropped unless every byte that arrived was seen. <*fine>: what is
 * left to report is statuses that are no 5xx, and there are some.
 *
 * Statuses that are no 5xx, the common case, are reported unchecked: an
 * fstat() per response would cost more than all the rest of following
 * it. They cannot eject; a wrong one could only end a streak, and needs a
 * socket closed by a raw system call whose fd number went, without a
 * connect() through swerve (which settles the old record), to another
 * HTTP connection read and written through the hooks.
 */
static bool check_events(int fd, const struct fd_slot *sl,
			 struct http_conn *c, ssize_t rc, struct batch *b,
			 bool *fine)
{
	unsigned i, k;

	*fine = b->n > 0;
	if (b->n == 0 || all_fine(b))
		return true;
	*fine = false;
	if (!same_socket(fd, sl->ino)) {
		swerve_httptrack_give_up(&c->t, SWERVE_HTTPTRACK_WHY_UNSEEN,
					 NULL, NULL);
		b->n = 0;
		return false;
	}
	for (i = k = 0; i < b->n; i++)
		if (b->ev[i].kind != SWERVE_HTTPTRACK_RESET ||
		    all_seen(fd, c->rx + (rc == 0 ? 1 : 0)))
			b->ev[k++] = b->ev[i];
	b->n = k;
	*fine = k > 0 && all_fine(b);
	return true;
}

/* Passes the events <evs> on for endpoint <ep> of service <s>, at
 * <now>; the pump reports what it observes the same way. */
void swerve_http_report(unsigned s, unsigned ep,
			const struct swerve_httptrack_event *evs, unsigned n,
			uint64_t now)
{
	const struct swerve_service *svc = swerve_services[s].svc;
	const struct swerve_httptrack_event *ev;
	unsigned i;

	for (i = 0; i < n; i++) {
		ev = &evs[i];
		if (ev->kind == SWERVE_HTTPTRACK_STATUS) {
			swerve_fdtrack_record_at(s, ep,
						 SWERVE_OUTCOME_HTTP_STATUS,
						 ev->status, now);
		} else if (ev->kind == SWERVE_HTTPTRACK_RESET) {
			swerve_log(SWERVE_LOG_DEBUG, "%s: %s ended the "
				   "connection before answering request %u",
				   svc->name, svc->endpoints[ep].text,
				   (unsigned)ev->request);
			swerve_fdtrack_record_at(s, ep,
						 SWERVE_OUTCOME_HTTP_RESET, 0,
						 now);
		} else {
			swerve_log(SWERVE_LOG_DEBUG, "%s: no longer following "
				   "a connection to %s (%s)", svc->name,
				   svc->endpoints[ep].text,
				   swerve_httptrack_why_name(ev->why));
		}
	}
}

/* True when the call moved bytes of the stream, or saw it end. */
static bool worth_feeding(const struct swerve_http_io *io, ssize_t rc, int err)
{
	size_t want = 0;
	int i;

	/* Peeked, urgent and error-queue bytes are not the stream's. */
	if (io->in && (io->flags & (MSG_PEEK | MSG_OOB | MSG_ERRQUEUE)))
		return false;
	if (rc > 0)
		return true;
	if (rc == -1)
		return ends_connection(err);
	/* 0: the end of the stream, unless nothing was asked for. */
	for (i = 0; io->in && i < io->iovcnt && want == 0; i++)
		want = io->iov[i].iov_len;
	return want > 0;
}

void swerve_http_io(int fd, const struct swerve_http_io *io, ssize_t rc,
		    int err)
{
	struct fd_slot *sl = &swerve_fd_slots[fd];
	struct http_conn *c;
	struct batch b;
	unsigned s, ep;
	uint32_t st;
	bool same, fine;

	c = conn_of(fd);
	if (c == NULL || !worth_feeding(io, rc, err))
		return;
	if (io->in)
		wait_for_writer(c);
	/* The common case in one compare-and-swap: nobody else has it. */
	st = SLOT_HTTP;
	if (!atomic_compare_exchange_strong_explicit(&sl->state, &st, SLOT_BUSY,
						     memory_order_acquire,
						     memory_order_relaxed))
		st = swerve_fdtrack_claim(sl, 1u << SLOT_HTTP);
	if (st == SLOT_BUSY)
		atomic_store_explicit(&c->missed, 1, memory_order_relaxed);
	if (st != SLOT_HTTP)
		return;
	if (sl->pid != swerve_runtime_pid()) {
		/* Inherited across fork(): the parent's connection. */
		swerve_gens_drop(sl->svc);
		atomic_store_explicit(&sl->state, SLOT_FREE,
				      memory_order_release);
		return;
	}
	b.n = 0;
	/* The tracker's time stamps are only ever subtracted from a later
	 * swerve_now_ms(): the coarse clock serves, at a quarter of the
	 * cost, on every call. */
	feed(c, io, rc, swerve_now_coarse_ms(), &b);
	same = check_events(fd, sl, c, rc, &b, &fine);
	s = sl->svc;
	ep = sl->ep;
	/* Statuses that are no 5xx, the common case, are counted while the
	 * slot is held: on a healthy row a lock-free count, and the slot's
	 * own hold on the generation covers it. Anything else may take a
	 * row's lock: it is reported once the slot is released, the
	 * generation kept for it (a close in another thread may free the
	 * slot). Both on the clock that ejections are timed by. */
	if (fine)
		swerve_http_report(s, ep, b.ev, b.n, swerve_now_ms());
	else if (b.n > 0)
		swerve_gens_hold(s);
	/* A tracker that stopped costs nothing more: the slot becomes a
	 * plain connection, which the hooks pass by after one load. */
	atomic_store_explicit(&sl->state,
			      swerve_httptrack_active(&c->t) ? SLOT_HTTP
							     : SLOT_ESTABLISHED,
			      memory_order_release);
	if (!same) {
		uint64_t ino;

		/* Settles the stale connection (its tracker has stopped, so
		 * no verdict) and leaves the slot to the fd's new file. */
		swerve_fdtrack_current(fd, &ino);
	}
	if (b.n > 0 && !fine) {
		swerve_http_report(s, ep, b.ev, b.n, swerve_now_ms());
		swerve_gens_drop(s);
	}
}

void swerve_http_unseen(int fd)
{
	struct fd_slot *sl = &swerve_fd_slots[fd];
	struct http_conn *c = conn_of(fd);
	unsigned s, ep;
	struct batch b;
	uint32_t st;

	if (c == NULL)
		return;
	b.n = 0;
	st = swerve_fdtrack_claim(sl, 1u << SLOT_HTTP);
	if (st == SLOT_BUSY)
		atomic_store_explicit(&c->missed, 1, memory_order_relaxed);
	if (st != SLOT_HTTP)
		return;
	s = sl->svc;
	ep = sl->ep;
	if (sl->pid == swerve_runtime_pid()) {
		swerve_httptrack_give_up(&c->t, SWERVE_HTTPTRACK_WHY_UNSEEN,
					 collect, &b);
		st = SLOT_ESTABLISHED;
		swerve_gens_hold(s); /* for the report, as in the io path */
	} else {
		st = SLOT_FREE; /* inherited across fork(): the parent's */
		swerve_gens_drop(s);
	}
	atomic_store_explicit(&sl->state, st, memory_order_release);
	if (st == SLOT_ESTABLISHED) {
		swerve_http_report(s, ep, b.ev, b.n, swerve_now_ms());
		swerve_gens_drop(s);
	}
}
