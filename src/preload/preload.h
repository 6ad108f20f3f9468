/*
 * preload.h: what the files of the hook layer share, and nothing else
 * includes. The layer is split by concern:
 *   runtime.c  init, fork, the re-entrancy guard, the random numbers,
 *              names refresh;
 *   gens.c     the generations of the config (one per load) and their
 *              per-service state, counted and freed when unused;
 *   reload.c   live reload: a stat a second, a load on a change;
 *   fdtrack.c  the per-fd attempt slots and the outcomes they report;
 *   connect.c  connect(): routing and failover inside the call;
 *   io.c       close, getsockopt and the read/write family, which observe
 *              how a pending attempt ended and what an http connection
 *              carries;
 *   http.c     HTTP observation: the per-fd trackers of connections to
 *              protocol = http services, and what they report;
 *   resolve.c  getaddrinfo and the gethostbyname family.
 *
 * State. Process-wide: the table mapping, made by init; the current generation
 * (config, names cache, per-service arrays), published by an atomic store at
 * init and at each reload and read without locks by calls that count themselves
 * in (gens.c). Per fd a slot in a fixed array records an attempt in flight;
 * slots change state by compare-and-swap, so a completion observed from another
 * thread (Java HttpClient polls in a selector thread) is reported exactly once.
 * No lock is ever held across a call into libc that can block, and a
 * thread-local guard sends calls made by swerve itself (or by a signal handler
 * that interrupted swerve) straight to libc.
 */
#ifndef SWERVE_PRELOAD_H
#define SWERVE_PRELOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/swerve.h"
#include "names/dnscache.h"
#include "policy/config.h"
#include "policy/httptrack.h"
#include "policy/outlier.h"
#include "table/shm.h"

/*
 * fds below this are tracked (65536 slots of 32 bytes: 2 MiB of zero pages,
 * touched only where used). Higher fds are still routed; only failures that
 * show after connect() returns go unobserved for them.
 */
#define FD_SLOTS 65536

enum slot_state {
	SLOT_FREE = 0,
	SLOT_PENDING = 1,     /* connect in progress */
	SLOT_ESTABLISHED = 2, /* connected; counted in `active` */
	SLOT_BUSY = 3,        /* someone is changing it */
	SLOT_HTTP = 4,        /* connected to a protocol = http service and
			       * followed by its tracker (http.c); counted
			       * in `active` like SLOT_ESTABLISHED */
};

struct fd_slot {
	_Atomic uint32_t state;
	uint16_t svc;
	uint16_t ep;
	uint16_t port;        /* dialled port, host order */
	uint8_t family;       /* socket family: AF_INET or AF_INET6 */
	uint8_t uto_set;      /* we set TCP_USER_TIMEOUT: reset it to 0 */
	pid_t pid;            /* process that made the attempt; read
	                       * unclaimed with __atomic loads */
	uint64_t ino;         /* socket inode when the attempt started; read
	                       * unclaimed with __atomic loads (fdtrack.c) */
	uint64_t started_ms;
};

/* Socket classes, each with its own routing plans (plans.c). */
enum {
	PLAN_CLASS_V4 = 0,      /* AF_INET */
	PLAN_CLASS_DUAL = 1,    /* AF_INET6, reaches v4-mapped too */
	PLAN_CLASS_V6ONLY = 2,  /* AF_INET6 with IPV6_V6ONLY (ruby) */
	PLAN_CLASSES = 3,
};
/* Plans per class: the current one and one to build the next into. */
#define PLAN_SLOTS 2

struct swerve_plans;
struct swerve_tls_ctx;

/* Per service, per process and generation: built with its generation
 * (gens.c), never resized, freed with it. */
struct svc_state {
	const struct swerve_service *svc;
	struct swerve_gen *gen;          /* the generation it belongs to */
	unsigned local;                  /* its index in gen->cfg */
	struct swerve_dnscache *dns;     /* gen->dns when it has names */
	unsigned nprio;
	uint8_t *prio;
	uint32_t *weight;
	struct swerve_shm_row **rows;
	_Atomic uint32_t *active;        /* established connections */
	_Atomic uint32_t *pending;       /* attempts in flight */
	_Atomic uint64_t *pending_since; /* when pending last left 0 */
	_Atomic uint64_t *last_fail;     /* last failure seen here */
	_Atomic uint64_t rr;
	struct swerve_shm_row *svc_row;  /* the service's own row: epoch */
	struct swerve_plans *plans;      /* PLAN_CLASSES of them */
	struct swerve_tls_ctx *tls_ctx;  /* the pump's, built on first use */
	uint64_t tls_failed_ms;          /* when building it last failed */
};

/*
 * A generation: one loaded config and what was built from it (gens.c).
 * Its services are swerve_services[base .. base + n).
 */
struct swerve_gen {
	_Atomic uint32_t refs;   /* 0: free, or retired and unreachable */
	uint32_t number;         /* 1 for init's, one more per reload */
	struct swerve_config *cfg;
	struct swerve_dnscache *dns;
	unsigned base, n;
	bool retired;            /* no longer current */
};
/* Generations a process keeps at once: the current one and those still
 * used by calls in progress and open connections. */
#define SWERVE_GENS 8
/* Services of all generations at once: each config has at most
 * SWERVE_MAX_SERVICES, so a range is always free (an fd slot names one
 * in 16 bits). */
#define SWERVE_SVC_CAP (SWERVE_GENS * SWERVE_MAX_SERVICES * 2u)

/* The process-wide index of <svc>, a service of <g>'s config. */
static inline unsigned swerve_gens_index(const struct swerve_gen *g,
					 const struct swerve_service *svc)
{
	return g->base + (unsigned)(svc - g->cfg->services);
}

/* The table mapping: made by init, kept across reloads. */
extern struct swerve_shm swerve_table;
/* gens.c: the per-service state of every live generation, indexed by
 * the process-wide service index that slots and registrations keep. */
extern struct svc_state *swerve_services;
extern struct swerve_gen swerve_gens[SWERVE_GENS];
/* Set while swerve itself runs in this thread: calls it makes into libc,
 * and hooks re-entered from a signal handler, go straight through.
 * initial-exec: no allocation on first access, safe in signal handlers. */
extern __thread int swerve_guard __attribute__((tls_model("initial-exec")));
/* Where the guard was raised from 0 (a frame address): signals.c holds
 * back signals that interrupt code below it. */
extern __thread uintptr_t swerve_guard_sp
	__attribute__((tls_model("initial-exec")));

/* fdtrack.c: one slot per fd below FD_SLOTS. */
extern struct fd_slot swerve_fd_slots[FD_SLOTS];

/* Whether swerve is on in this process, initialising it on first use. */
bool swerve_runtime_on(void);

/*
 * gens.c. The current generation, counted in for this call (a hook's
 * outermost frame only), or NULL when swerve is off; every enter is
 * followed by exit(g) on the way out of the hook. A call left by
 * siglongjmp is counted out by the next one at its signal depth.
 */
struct swerve_gen *swerve_gens_enter(void);
void swerve_gens_exit(struct swerve_gen *g);
/* One more (fewer) long-lived user of the generation of service <s>: an
 * fd slot or a TLS registration. hold only while the caller is counted
 * in already. */
void swerve_gens_hold(unsigned s);
void swerve_gens_drop(unsigned s);
/* Whether <addr> (host order) is inside the current vip_cidr: connect's
 * check of every address, without counting in. */
bool swerve_gens_in_vips(uint32_t addr);
/* The current generation, not counted in: for the reloader only. */
struct swerve_gen *swerve_gens_current(void);
/* Reserves swerve_services (address space). 0 or -ENOMEM. */
int swerve_gens_setup(void);
/* Builds a generation for <cfg> (taken by it on success). 0, or -errno
 * with a reason in <err>. Under the reloader's lock. */
int swerve_gens_build(struct swerve_config *cfg, struct swerve_gen **out,
		      char *err, size_t errlen);
/* Makes <g> current; the previous one is retired. */
void swerve_gens_publish(struct swerve_gen *g);
/* Frees retired generations nothing uses; the count of live ones. */
unsigned swerve_gens_reap(void);
/* Calls <fn> on every service of every live generation (after fork). */
void swerve_gens_foreach_service(void (*fn)(struct svc_state *ss));
/* reload.c: follows edits of the config file (at most one stat a
 * second); called on the resolve and connect paths. */
void swerve_reload_check(void);
/* In a child of fork(): forgets a load the parent had in progress. */
void swerve_reload_after_fork(void);
/* Notes the identity of the file at <path>, before init loads it. */
void swerve_reload_begin(const char *path);
/* Arms the checks (or not: reload = false) for the config init loaded. */
void swerve_reload_arm(const struct swerve_config *cfg);
/* A per-thread xorshift64 number: no locks, no libc state. */
uint64_t swerve_runtime_random(void);
/* getpid(), cached: refreshed in a forked child. */
pid_t swerve_runtime_pid(void);
/* True in a vfork() child, or before the constructor ran: pass through. */
bool swerve_runtime_foreign(void);
/*
 * Every hook that changes swerve's state does so between these two: enter
 * raises the guard and returns true, or returns false (guard untouched)
 * when the call must pass through untouched (a vfork() child).
 */
bool swerve_runtime_enter(void);
void swerve_runtime_leave(void);
/*
 * Raises the guard as enter does, without its getpid(), for leave to
 * lower: only for the reads and writes of a followed http connection,
 * whose work a vfork() child does as one more thread of its parent would
 * (http.c says why), and which a system call per call would make cost
 * more than following the connection.
 */
void swerve_runtime_raise(void);
/* Lowers the guard around a call that may block or be left by siglongjmp
 * (the real connect, a DNS lookup); signals held meanwhile are raised. */
void swerve_runtime_unguard(void);
void swerve_runtime_reguard(void);

/* signals.c: true while this thread runs a signal handler of the
 * application's. */
bool swerve_signals_in_handler(void);
/* How many handlers of the application this thread runs now, nested. */
unsigned swerve_signals_depth(void);
/* Raises again the signals held while the guard was up, once it is down. */
void swerve_signals_replay(void);
/* Brings the answers of service <s>'s names up to date when due, for a
 * connect on <fd> (-1: getaddrinfo); a non-blocking fd never waits for a
 * name that has an answer. */
void swerve_runtime_refresh_names(unsigned s, int fd);

/* connect.c: the attempts of one connection, for the plan's verdicts. */
struct swerve_attempt {
	struct svc_state *ss;
	uint64_t now;
	unsigned ntried;
	uint16_t tried[16];              /* connect_attempts is at most 16 */
};
/*
 * Picks the endpoint for the next attempt of service <s> from a socket of
 * class <cls> (PLAN_CLASS_*), passing over what <at> tried and what this
 * process avoids; -1 when nothing reachable is left. <why>: the reason,
 * for the log (NULL: none). Never blocks.
 */
int swerve_connect_pick(unsigned s, unsigned cls, struct swerve_attempt *at,
			char *why, size_t whylen);
/*
 * The address of endpoint <i> of service <s> for a socket of <family>
 * (<v6only>: refuses v4-mapped), on the endpoint's port or else <port>:
 * its length, 0 when that socket cannot reach it or a name has no address
 * now. <stale>: the answer is past its TTL because DNS failed.
 */
socklen_t swerve_connect_endpoint_addr(unsigned s, unsigned i, int family,
				       bool v6only, uint16_t port,
				       struct sockaddr_storage *out,
				       bool *stale);

/* Allocates the plans of <ss> (at init). 0 or -ENOMEM. */
int swerve_plans_new(struct svc_state *ss);
/* Frees them (the generation is unreachable). */
void swerve_plans_free(struct svc_state *ss);
/*
 * The fresh routing plan of service <s> for socket class <cls> at <now>,
 * built here when the cached one is stale; NULL only when none exists and
 * none can be built this moment. The caller reads it until it passes
 * <*token> to swerve_plans_leave(). Never blocks.
 */
const struct swerve_plan *swerve_plans_enter(unsigned s, unsigned cls,
					     uint64_t now, void **token);
void swerve_plans_leave(void *token);

/* The socket inode of <fd>, 0 when it has none. */
uint64_t swerve_fdtrack_inode(int fd);
/* The TCP state of <fd> (TCP_ESTABLISHED...), -1 when unknown. */
int swerve_fdtrack_tcp_state(int fd);
/* Records <outcome> of endpoint <ep> of service <s>, host-wide;
 * <http_status> for SWERVE_OUTCOME_HTTP_STATUS, else 0. */
void swerve_fdtrack_record(unsigned s, unsigned ep,
			   enum swerve_outcome outcome, int http_status);
/* The same at <now> (swerve_now_ms()), for a caller that has read it. */
void swerve_fdtrack_record_at(unsigned s, unsigned ep,
			      enum swerve_outcome outcome, int http_status,
			      uint64_t now);
/* The outcome a connect error <err> stands for. */
enum swerve_outcome swerve_fdtrack_outcome_of(int err);
/* The TCP_USER_TIMEOUT swerve sets for service <s>'s handshakes. */
unsigned int swerve_fdtrack_uto(unsigned s);
/* Puts TCP_USER_TIMEOUT of <fd> back to 0 when it is still swerve's. */
void swerve_fdtrack_restore_uto(int fd, unsigned s);
/* Errors that say the endpoint is unhealthy (and worth failing over). */
bool swerve_fdtrack_is_failure(int err);
/*
 * Claims <sl> for exclusive use when it is in one of the states of <mask>
 * (bits 1u << SLOT_*), waiting a bounded time (2 ms at most, yielding the
 * CPU) for another thread that holds it. Returns the state it was claimed
 * from, which the caller must store back or replace; SLOT_FREE when it is
 * in none of those states; SLOT_BUSY when it stayed held.
 */
uint32_t swerve_fdtrack_claim(struct fd_slot *sl, unsigned mask);
/* A bounded wait: spins, then yields the CPU, until its budget is spent. */
struct swerve_fdtrack_waiter {
	uint64_t start_ns;         /* 0 until the first look at the clock */
	unsigned spins;
};
/* One step of waiting with <w> (zeroed to start); false once more than
 * <budget_ns> has passed. */
bool swerve_fdtrack_wait(struct swerve_fdtrack_waiter *w, uint64_t budget_ns);
/*
 * Settles the attempt or connection in <sl> because the socket on <fd> is
 * going away or disconnects (close, connect(AF_UNSPEC)).
 */
void swerve_fdtrack_settle(int fd, struct fd_slot *sl);
/*
 * The slot of <fd> (NULL above FD_SLOTS), with the inode of the socket it
 * holds now in <*ino>; an attempt left there by an earlier socket on the
 * same fd number is settled first.
 */
struct fd_slot *swerve_fdtrack_current(int fd, uint64_t *ino);
/*
 * Copies <sl> into <copy> while holding it, so that service and endpoint
 * are one attempt's, never a mix of two. True when it holds an attempt or
 * a connection of the socket with inode <ino>; then the copy's service
 * keeps its generation until swerve_gens_drop(copy->svc).
 */
bool swerve_fdtrack_snapshot(struct fd_slot *sl, uint64_t ino,
			     struct fd_slot *copy);
/* Marks the start of an attempt on <sl> to endpoint <ep> of service <s>.
 * False when the slot is busy: the attempt goes unrecorded. */
bool swerve_fdtrack_begin(struct fd_slot *sl, unsigned s, unsigned ep,
			  uint16_t port, int family, uint64_t ino,
			  bool uto_set);
/* Records the outcome of connect error <err> (0: connected) for endpoint
 * <ep> of service <s>; nothing for an error that is not the endpoint's. */
void swerve_fdtrack_report(unsigned s, unsigned ep, int err);
/* How swerve_fdtrack_conclude() ends an attempt. */
#define SWERVE_CONCLUDE_KEEP_UTO 1u  /* another attempt follows on it */
#define SWERVE_CONCLUDE_UNCOUNTED 2u /* <err> says nothing of the endpoint */
/*
 * Concludes the pending attempt of the socket with inode <ino> on <sl>
 * with <err> (0: connected): claims the slot, reports the outcome from the
 * claimed copy, and ends it, established (counted active) or free; puts
 * TCP_USER_TIMEOUT back unless <how> says KEEP_UTO. False, doing nothing,
 * when the slot holds no pending attempt of that socket (another thread
 * concluded it first).
 */
bool swerve_fdtrack_conclude(int fd, struct fd_slot *sl, uint64_t ino,
			     int err, unsigned how);

/* What one hooked read or write call moved, for http.c. */
struct swerve_http_io {
	bool in;                   /* a read (else a write) */
	int flags;                 /* MSG_* of the recv or send family */
	const struct iovec *iov;   /* the application's buffers, in order */
	int iovcnt;
};

/*
 * Makes the trackers' storage when a service of <cfg> speaks http (at
 * init). 0, or -ENOMEM: http services are then followed like tcp ones.
 */
int swerve_http_init(const struct swerve_config *cfg);
/* True when service <s>'s connections are followed (protocol = http). */
bool swerve_http_on(unsigned s);
/* A fresh tracker for the connection on <fd>, whose slot the caller
 * holds and is about to make SLOT_HTTP. */
void swerve_http_start(int fd);
/*
 * The connection on <fd>, whose slot the caller holds (claimed from
 * SLOT_HTTP), ends: closed, disconnected, or its fd number now holds
 * another file (<vanished>). Counts a response timeout when its tracker
 * says that a request was abandoned unanswered.
 */
void swerve_http_end(int fd, const struct fd_slot *sl, bool vanished);
/*
 * A write on <fd> (slot SLOT_HTTP) <begins> (before the real call) or has
 * been fed (after swerve_http_io): readers of the connection wait for its
 * request before they feed a response. Async-signal-safe, and safe in a
 * vfork() child (a load and a store of the connection's stamp).
 */
void swerve_http_writing(int fd, bool begins);
/* Feeds what a read or write call on <fd> (slot SLOT_HTTP) moved: <rc>
 * and <err> are the call's result and errno. */
void swerve_http_io(int fd, const struct swerve_http_io *io, ssize_t rc,
		    int err);
/* Bytes went through <fd> where swerve cannot see them (sendfile,
 * splice): its tracker gives up. */
void swerve_http_unseen(int fd);


/*
 * pump.c, pump_loop.c, pump_conn.c: TLS origination through the pump,
 * the relay thread (docs/design.md 4.8).
 */
enum swerve_pump_reg_state {
	SWERVE_PUMP_REG_FREE = 0,
	SWERVE_PUMP_REG_WRITING = 1,   /* claimed by a connect() */
	SWERVE_PUMP_REG_READY = 2,     /* published, not accepted yet */
	SWERVE_PUMP_REG_TAKEN = 3,     /* the pump relays it */
	SWERVE_PUMP_REG_INHERITED = 4, /* a parent process's (fork) */
};

/* One application socket handed to the pump: who it is, what it dialled. */
struct swerve_pump_reg {
	_Atomic uint32_t state;
	uint16_t svc;
	uint16_t port;        /* dialled, host order */
	uint32_t vip;         /* dialled service address, host order */
	uint16_t lport;       /* the socket's local port... */
	uint16_t pump_port;   /* ... and the pump listener's it reached */
	pid_t pid;
	uint8_t addr[16];     /* its local address, IPv4 as ::ffff:a.b.c.d */
};

/* epoll tags of the pump's own fds; a connection's are above. */
#define SWERVE_PUMP_TAG_LISTEN 2
#define SWERVE_PUMP_TAG_LISTEN6 3
#define SWERVE_PUMP_TAG_CONN 4

struct swerve_pump {
	_Atomic pid_t pid;          /* whose pump runs; 0: none */
	int lfd, lfd6;              /* listeners: 127.0.0.1, ::1 (or -1) */
	uint16_t lport, lport6;
	int epfd;
	_Atomic bool lost;          /* the application closed one of the
				     * pump's own fds: the pump stops, and
				     * TLS connects are refused */
	uint32_t cap;               /* tls_max_connections */
	_Atomic uint32_t live;      /* registrations not yet ended */
	struct swerve_pump_reg *regs;
	unsigned nregs;
};
extern struct swerve_pump swerve_pump;

/*
 * connect() of <fd> (of <family>, <v6only>) to service <s>'s address
 * <vip>:<port>: hands the socket to the pump, starting it first if this
 * process has none. Returns what the loopback connect() returned (0 or
 * -1 with EINPROGRESS, usually), errno set; ENOBUFS above the cap.
 */
int swerve_pump_connect(int fd, unsigned s, uint32_t vip, uint16_t port,
			int family, bool v6only);
/* The registration key of a socket address: false for other families. */
bool swerve_pump_key(const struct sockaddr_storage *ss, uint8_t addr[16],
		     uint16_t *port);
struct swerve_pump_reg *swerve_pump_find(const uint8_t addr[16],
					 uint16_t lport, uint16_t pump_port);
/* The dialled service address of <r>, as a socket of <family> sees it. */
void swerve_pump_vip_sockaddr(const struct swerve_pump_reg *r, int family,
			      struct sockaddr *sa, socklen_t *len);
/* In a forked child (runtime.c's fork handler). */
void swerve_pump_after_fork(void);
/* close() of <fd> by the application (io.c): one of the pump's own? */
void swerve_pump_closing(int fd);
/* Notes that <fd> is (<mine>) or no longer is one of the pump's. */
void swerve_pump_fd_mark(int fd, bool mine);
/* pump_loop.c: the thread; and, in a forked child, closing the fds of
 * the parent's relayed connections. */
void *swerve_pump_main(void *arg);
void swerve_pump_close_inherited(void);
/* http.c: reports the tracker's events <ev> for endpoint <ep> of <s>,
 * at <now> (ms). */
void swerve_http_report(unsigned s, unsigned ep,
			const struct swerve_httptrack_event *ev, unsigned n,
			uint64_t now);

#endif
