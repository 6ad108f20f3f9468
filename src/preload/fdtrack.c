/*
 * fdtrack.c: the per-fd attempt slots. A slot records an attempt in flight
 * on a tracked fd (service, endpoint, dialled port, socket inode, start)
 * and moves between free, pending and established by compare-and-swap, so
 * that an outcome seen by two threads is reported once. It also keeps the
 * per-process counters the balancer reads (attempts pending, connections
 * active) and reports outcomes to the shared table. A connection to a
 * protocol = http service is SLOT_HTTP rather than SLOT_ESTABLISHED, so that
 * the read and write hooks feed its tracker (http.c), which asks for its
 * verdict here when the connection ends. A slot that holds an attempt or
 * a connection keeps its service's generation (gens.c), so that a reload
 * never frees what the slot's service index names.
 *
 * Thread-safety: slots are claimed with CAS (SLOT_BUSY while one thread
 * changes one, for a few microseconds; a claimer waits a bounded time for
 * it); counters are atomics; nothing here blocks.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "preload/preload.h"

/* An attempt abandoned while still in SYN_SENT after this long counts as a
 * connect timeout; younger ones were cancelled, not timed out. */
#define ABANDON_MS 100
/* The longest a claimer waits for a slot another thread holds: holders
 * keep one for microseconds, unless the scheduler preempts them (the
 * table's row locks are waited for as long). */
#define CLAIM_WAIT_NS 2000000
/* Pauses between two looks at the clock while waiting. */
#define WAIT_SPINS 64

struct fd_slot swerve_fd_slots[FD_SLOTS];

uint64_t swerve_fdtrack_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 0;
	return (uint64_t)st.st_ino;
}

int swerve_fdtrack_tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (swerve_libc_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	return ti.tcpi_state;
}

void swerve_fdtrack_record(unsigned s, unsigned ep, enum swerve_outcome outcome,
			   int http_status)
{
	swerve_fdtrack_record_at(s, ep, outcome, http_status, swerve_now_ms());
}

/*
 * Records an outcome for endpoint <ep> of service <s>, host-wide. The
 * failures of the connection itself (not HTTP statuses, which the table
 * weighs) also make this process avoid the endpoint for a while.
 */
void swerve_fdtrack_record_at(unsigned s, unsigned ep,
			      enum swerve_outcome outcome, int http_status,
			      uint64_t now)
{
	struct svc_state *ss = &swerve_services[s];
	enum swerve_outlier_event ev;

	if (outcome == SWERVE_OUTCOME_CONNECT_FAILED ||
	    outcome == SWERVE_OUTCOME_CONNECT_TIMEOUT ||
	    outcome == SWERVE_OUTCOME_HTTP_RESET ||
	    outcome == SWERVE_OUTCOME_HTTP_TIMEOUT)
		atomic_store_explicit(&ss->last_fail[ep], now,
				      memory_order_relaxed);
	ev = swerve_shm_report(&swerve_table, ss->svc_row, ss->rows,
			       ss->svc->nendpoints, ep, &ss->svc->outlier,
			       outcome, http_status, now);
	if (ev == SWERVE_OUTLIER_EJECT)
		swerve_log(SWERVE_LOG_INFO, "ejected %s of service %s",
			   ss->svc->endpoints[ep].text, ss->svc->name);
	else if (ev == SWERVE_OUTLIER_OVERFLOW)
		swerve_log(SWERVE_LOG_INFO,
			   "%s of service %s failing, but the ejection cap "
			   "keeps it in", ss->svc->endpoints[ep].text,
			   ss->svc->name);
}

enum swerve_outcome swerve_fdtrack_outcome_of(int err)
{
	return err == ETIMEDOUT ? SWERVE_OUTCOME_CONNECT_TIMEOUT
				: SWERVE_OUTCOME_CONNECT_FAILED;
}

/* Errors that say the endpoint is unhealthy (and worth failing over). */
bool swerve_fdtrack_is_failure(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
	case ECONNABORTED:
		return true;
	default:
		return false;
	}
}

static void pending_enter(struct svc_state *ss, unsigned ep, uint64_t now)
{
	if (atomic_fetch_add(&ss->pending[ep], 1) == 0)
		atomic_store_explicit(&ss->pending_since[ep], now,
				      memory_order_relaxed);
}

static void pending_leave(struct svc_state *ss, unsigned ep)
{
	uint32_t v = atomic_load(&ss->pending[ep]);

	/* Never below zero, even after a fork duplicated a slot. */
	while (v > 0 && !atomic_compare_exchange_weak(&ss->pending[ep], &v,
						      v - 1))
		;
}

static void active_leave(struct svc_state *ss, unsigned ep)
{
	uint32_t v = atomic_load(&ss->active[ep]);

	while (v > 0 && !atomic_compare_exchange_weak(&ss->active[ep], &v,
						      v - 1))
		;
}

unsigned int swerve_fdtrack_uto(unsigned s)
{
	uint64_t ms = swerve_services[s].svc->connect_timeout_ms;

	return ms > 0x7fffffff ? 0x7fffffff : (unsigned int)ms;
}

/*
 * Puts TCP_USER_TIMEOUT back to the application's 0 once the handshake is
 * over: left in place it would kill an established connection that stalls
 * longer than connect_timeout (docs/design.md 4.3). A value that is no
 * longer swerve's was set by the application meanwhile, and stays.
 */
void swerve_fdtrack_restore_uto(int fd, unsigned s)
{
	unsigned int now = 0, zero = 0;
	socklen_t len = sizeof(now);

	if (swerve_libc_getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &now,
				   &len) == 0 &&
	    now == swerve_fdtrack_uto(s))
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &zero,
			   sizeof(zero));
}

static void restore_uto(int fd, struct fd_slot *sl)
{
	if (sl->uto_set) {
		swerve_fdtrack_restore_uto(fd, sl->svc);
		sl->uto_set = 0;
	}
}

/*
 * Takes the slot of <fd> for exclusive use when it is in <from>; the caller
 * must store a new state afterwards. Returns false when someone else has it
 * or it is in another state.
 */
static bool slot_take(struct fd_slot *sl, uint32_t from)
{
	uint32_t expected = from;

	return atomic_compare_exchange_strong(&sl->state, &expected,
					      SLOT_BUSY);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool swerve_fdtrack_wait(struct swerve_fdtrack_waiter *w, uint64_t budget_ns)
{
	uint64_t t;

	if (++w->spins < WAIT_SPINS) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ __volatile__("yield");
#endif
		return true;
	}
	w->spins = 0;
	t = now_ns();
	if (w->start_ns == 0)
		w->start_ns = t;
	if (t - w->start_ns > budget_ns)
		return false;
	/* The holder may be waiting for this very CPU (two cores, many
	 * threads): let it run. */
	sched_yield();
	return true;
}

uint32_t swerve_fdtrack_claim(struct fd_slot *sl, unsigned mask)
{
	struct swerve_fdtrack_waiter w = { 0, 0 };
	uint32_t st;

	for (;;) {
		st = atomic_load_explicit(&sl->state, memory_order_acquire);
		if (st != SLOT_BUSY) {
			if (st >= 32 || !(mask & (1u << st)))
				return SLOT_FREE;
			if (slot_take(sl, st))
				return st;
			continue;
		}
		if (!swerve_fdtrack_wait(&w, CLAIM_WAIT_NS))
			break;
	}
	/*
	 * Held all along. A slot of another process's attempt was held at
	 * fork() by a thread that does not exist in this child: nobody
	 * will ever store it back, so it is freed (the attempt is the
	 * parent's). A holder of this process is left alone.
	 */
	if (__atomic_load_n(&sl->pid, __ATOMIC_RELAXED) !=
	    swerve_runtime_pid()) {
		st = SLOT_BUSY;
		if (atomic_compare_exchange_strong(&sl->state, &st, SLOT_FREE))
			return SLOT_FREE;
	}
	return SLOT_BUSY;
}

/*
 * Frees the claimed slot <sl>: its service's generation is no longer kept
 * for it (first: once free, another thread may claim it and write svc).
 */
static void slot_free(struct fd_slot *sl)
{
	swerve_gens_drop(sl->svc);
	atomic_store_explicit(&sl->state, SLOT_FREE, memory_order_release);
}

/*
 * Ends the attempt or connection of <sl>, claimed from state <st>, for a
 * socket that is going away: the application closes or disconnects it
 * (<vanished> false: <fd> still holds it) or the fd number now holds
 * another socket. An attempt still in SYN_SENT for longer than ABANDON_MS
 * was given up on: a timeout, charged to the endpoint.
 */
static void settle_claimed(int fd, struct fd_slot *sl, uint32_t st,
			   bool vanished)
{
	struct svc_state *ss = &swerve_services[sl->svc];
	uint64_t now;
	int tstate;

	if (sl->pid != swerve_runtime_pid()) {
		/* Inherited across fork(): the attempt is the parent's, and a
		 * child closing its copy says nothing about the endpoint. */
		slot_free(sl);
		return;
	}
	if (st == SLOT_ESTABLISHED || st == SLOT_HTTP) {
		if (st == SLOT_HTTP)
			swerve_http_end(fd, sl, vanished);
		active_leave(ss, sl->ep);
		slot_free(sl);
		return;
	}
	tstate = vanished ? -1 : swerve_fdtrack_tcp_state(fd);
	pending_leave(ss, sl->ep);
	now = swerve_now_ms();
	if (tstate == TCP_ESTABLISHED || tstate == TCP_CLOSE_WAIT) {
		swerve_fdtrack_report(sl->svc, sl->ep, 0);
	} else if (now - sl->started_ms >= ABANDON_MS &&
		   (tstate == TCP_SYN_SENT || tstate == TCP_CLOSE ||
		    tstate == -1)) {
		swerve_log(SWERVE_LOG_DEBUG, "attempt to %s abandoned after %llu ms",
			   ss->svc->endpoints[sl->ep].text,
			   (unsigned long long)(now - sl->started_ms));
		swerve_fdtrack_record(sl->svc, sl->ep,
				      SWERVE_OUTCOME_CONNECT_TIMEOUT, 0);
	}
	slot_free(sl);
}

/* Claims <sl> when it holds an attempt or a connection; its state then,
 * SLOT_FREE when it holds neither or stayed held by someone else. */
static uint32_t claim_any(struct fd_slot *sl)
{
	uint32_t st = swerve_fdtrack_claim(sl, 1u << SLOT_PENDING |
					       1u << SLOT_ESTABLISHED |
					       1u << SLOT_HTTP);

	return st == SLOT_BUSY ? SLOT_FREE : st;
}

void swerve_fdtrack_settle(int fd, struct fd_slot *sl)
{
	uint32_t st = claim_any(sl);

	if (st == SLOT_FREE)
		return;
	/* Whether the fd still holds the attempt's socket matters only for
	 * a pending one (is it still connecting?), so the common close of
	 * an established connection costs no fstat. */
	settle_claimed(fd, sl, st, st == SLOT_PENDING &&
			       sl->ino != swerve_fdtrack_inode(fd));
}

/*
 * The slot for <fd> when it describes the socket <fd> holds now; a slot
 * left by an earlier socket on the same fd number is settled first (the
 * check is made on the claimed slot: another thread may just have begun
 * an attempt of the new socket there).
 */
struct fd_slot *swerve_fdtrack_current(int fd, uint64_t *ino)
{
	struct fd_slot *sl;
	uint32_t st;

	if (fd < 0 || fd >= FD_SLOTS)
		return NULL;
	sl = &swerve_fd_slots[fd];
	*ino = swerve_fdtrack_inode(fd);
	/* Read unclaimed, so atomically: the common case, the same socket
	 * as before, then takes no claim. */
	if (__atomic_load_n(&sl->ino, __ATOMIC_RELAXED) == *ino)
		return sl;
	st = claim_any(sl);
	if (st == SLOT_FREE)
		return sl;
	if (sl->ino != *ino)
		settle_claimed(fd, sl, st, true);
	else
		atomic_store_explicit(&sl->state, st, memory_order_release);
	return sl;
}

bool swerve_fdtrack_snapshot(struct fd_slot *sl, uint64_t ino,
			     struct fd_slot *copy)
{
	uint32_t st = claim_any(sl);
	bool same;

	if (st == SLOT_FREE)
		return false;
	/* Field by field: the state word is only ever touched atomically,
	 * as other threads try to claim it while we hold it. */
	atomic_store_explicit(&copy->state, st, memory_order_relaxed);
	copy->svc = sl->svc;
	copy->ep = sl->ep;
	copy->port = sl->port;
	copy->family = sl->family;
	copy->uto_set = sl->uto_set;
	copy->pid = sl->pid;
	copy->ino = sl->ino;
	copy->started_ms = sl->started_ms;
	same = sl->ino == ino;
	/* The caller reads the copy's service after the slot is released:
	 * its generation is kept until swerve_gens_drop(copy->svc). */
	if (same)
		swerve_gens_hold(sl->svc);
	atomic_store_explicit(&sl->state, st, memory_order_release);
	return same;
}

/* Marks the start of an attempt on <fd> to endpoint <ep>. */
bool swerve_fdtrack_begin(struct fd_slot *sl, unsigned s, unsigned ep,
			  uint16_t port, int family, uint64_t ino,
			  bool uto_set)
{
	uint32_t st = atomic_load_explicit(&sl->state, memory_order_acquire);

	if (st == SLOT_BUSY || !slot_take(sl, st))
		return false;
	/* The slot keeps its service's generation (the caller's: counted
	 * in) while it holds an attempt or a connection. */
	swerve_gens_hold(s);
	if (st == SLOT_PENDING)
		pending_leave(&swerve_services[sl->svc], sl->ep);
	else if (st == SLOT_ESTABLISHED || st == SLOT_HTTP)
		active_leave(&swerve_services[sl->svc], sl->ep);
	if (st != SLOT_FREE)
		swerve_gens_drop(sl->svc);
	sl->svc = (uint16_t)s;
	sl->ep = (uint16_t)ep;
	sl->port = port;
	sl->family = (uint8_t)family;
	sl->uto_set = uto_set;
	__atomic_store_n(&sl->ino, ino, __ATOMIC_RELAXED); /* see _current */
	__atomic_store_n(&sl->pid, swerve_runtime_pid(), __ATOMIC_RELAXED);
	sl->started_ms = swerve_now_ms();
	pending_enter(&swerve_services[s], ep, sl->started_ms);
	atomic_store_explicit(&sl->state, SLOT_PENDING, memory_order_release);
	return true;
}

/*
 * The outcome a connect error <err> reports: success for 0, nothing for an
 * error that is not the endpoint's fault. The connect success of an http
 * service is Envoy's LocalOriginConnectSuccess, which leaves the 5xx
 * streak to the responses (whether or not this connection is followed).
 */
void swerve_fdtrack_report(unsigned s, unsigned ep, int err)
{
	if (err == 0)
		swerve_fdtrack_record(s, ep,
				      swerve_services[s].svc->protocol ==
						      SWERVE_PROTOCOL_HTTP
					      ? SWERVE_OUTCOME_HTTP_CONNECT_OK
					      : SWERVE_OUTCOME_CONNECT_OK,
				      0);
	else if (swerve_fdtrack_is_failure(err))
		swerve_fdtrack_record(s, ep, swerve_fdtrack_outcome_of(err), 0);
}

bool swerve_fdtrack_conclude(int fd, struct fd_slot *sl, uint64_t ino,
			     int err, unsigned how)
{
	struct svc_state *ss;
	unsigned s, ep;

	/* Claimed first, recorded from the claimed copy: of two threads that
	 * see the same completion, one reports it; and a slot that another
	 * socket took over on the same fd number is not this attempt. */
	if (!slot_take(sl, SLOT_PENDING))
		return false;
	if (sl->ino != ino) {
		atomic_store_explicit(&sl->state, SLOT_PENDING,
				      memory_order_release);
		return false;
	}
	s = sl->svc;
	ep = sl->ep;
	ss = &swerve_services[s];
	if (!(how & SWERVE_CONCLUDE_UNCOUNTED))
		swerve_fdtrack_report(s, ep, err);
	pending_leave(ss, ep);
	if (!(how & SWERVE_CONCLUDE_KEEP_UTO))
		restore_uto(fd, sl);
	if (err == 0) {
		uint32_t est = SLOT_ESTABLISHED;

		atomic_fetch_add(&ss->active[ep], 1);
		if (swerve_http_on(s)) {
			swerve_http_start(fd);
			est = SLOT_HTTP;
		}
		atomic_store_explicit(&sl->state, est, memory_order_release);
	} else {
		slot_free(sl);
	}
	return true;
}
