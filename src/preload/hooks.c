/*
 * hooks.c: the only file that exports anything. It interposes getaddrinfo,
 * the gethostbyname family, connect, getsockopt, close and the socket
 * read/write calls, and glues the pure modules (config, balancer, outlier),
 * the names cache (dnscache) and the shared table together.
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
 * State
 * -----
 * Process-wide, published once by init (release store of `cfg`), then read
 * without locks: the config, the table mapping, per-service arrays. Per fd a
 * slot in a fixed array records an attempt in flight; slots change state by
 * compare-and-swap, so a completion observed from another thread (Java
 * HttpClient polls in a selector thread) is reported exactly once. No lock
 * is ever held across a call into libc that can block, and a thread-local
 * flag sends calls made by swerve itself (or by a signal handler that
 * interrupted swerve) straight to libc.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/balancer.h"
#include "policy/config.h"
#include "names/dnscache.h"
#include "base/exe.h"
#include "base/log.h"
#include "policy/outlier.h"
#include "table/shm.h"
#include "base/swerve.h"

/*
 * fds below this are tracked (65536 slots of 32 bytes: 2 MiB of zero pages,
 * touched only where used). Higher fds are still routed; only failures that
 * show after connect() returns go unobserved for them.
 */
#define FD_SLOTS 65536
/* An attempt pending this long makes its endpoint a poor choice for a
 * parallel attempt (curl races the second address at +200 ms). */
#define SUSPECT_PENDING_MS 100
/* An attempt abandoned while still in SYN_SENT after this long counts as a
 * connect timeout; younger ones were cancelled, not timed out. */
#define ABANDON_MS 100
/*
 * After a failure, this process avoids the endpoint for this long when an
 * alternative exists: long enough for the client's next attempt of the same
 * request (curl waits 1 s after a late failure), short enough that a busy
 * process soon asks the endpoint again and the outlier streak, not this
 * hint, decides on ejection.
 */
#define AVOID_MS 2000

enum slot_state {
	SLOT_FREE = 0,
	SLOT_PENDING = 1,     /* connect in progress */
	SLOT_ESTABLISHED = 2, /* connected; counted in `active` */
	SLOT_BUSY = 3,        /* someone is changing it */
};

struct fd_slot {
	_Atomic uint32_t state;
	uint16_t svc;
	uint16_t ep;
	uint16_t port;        /* dialled port, host order */
	uint8_t family;       /* socket family: AF_INET or AF_INET6 */
	uint8_t uto_set;      /* we set TCP_USER_TIMEOUT: reset it to 0 */
	pid_t pid;            /* process that made the attempt */
	uint64_t ino;         /* socket inode when the attempt started */
	uint64_t started_ms;
};

/* Per service, per process: built by init, never resized. */
struct svc_state {
	const struct swerve_service *svc;
	unsigned nprio;
	uint8_t *prio;
	uint32_t *weight;
	struct swerve_shm_row **rows;
	struct swerve_shm_row *svc_row;  /* the service's own (epoch) */
	_Atomic uint32_t *active;        /* established connections */
	_Atomic uint32_t *pending;       /* attempts in flight */
	_Atomic uint64_t *pending_since; /* when pending last left 0 */
	_Atomic uint64_t *last_fail;     /* last failure seen here */
	_Atomic uint64_t rr;
};

struct real_libc {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*close)(int);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	struct hostent *(*gethostbyname)(const char *);
	struct hostent *(*gethostbyname2)(const char *, int);
	int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t,
			       struct hostent **, int *);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *,
				size_t, struct hostent **, int *);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
};

/* Filled by resolve_libc() from the constructor or the first hook; each
 * pointer is written with the same value by whoever gets there. */
static struct real_libc libc;
/* Published by init with a release store once everything below is built;
 * NULL means "swerve is off in this process": every hook passes through. */
static _Atomic(const struct swerve_config *) active_cfg;
static struct swerve_shm table;
static struct svc_state *services;
/* The addresses behind endpoints given as names; NULL when swerve is off. */
static struct swerve_dnscache *dns;
static struct fd_slot fd_slots[FD_SLOTS];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* getpid() is a system call: cached at init, refreshed in a forked child. */
static pid_t self_pid;

/* Set while swerve itself runs in this thread: calls it makes into libc,
 * and hooks re-entered from a signal handler, go straight through.
 * initial-exec: no allocation on first access, safe in signal handlers. */
static __thread int in_swerve __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

static void resolve_libc(void)
{
	/* glibc >= 2.34 has dlsym in libc itself; RTLD_NEXT finds the next
	 * interposer if there is one, so swerve composes with others. */
	if (libc.connect == NULL)
		libc.connect = dlsym(RTLD_NEXT, "connect");
	if (libc.close == NULL)
		libc.close = dlsym(RTLD_NEXT, "close");
	if (libc.getsockopt == NULL)
		libc.getsockopt = dlsym(RTLD_NEXT, "getsockopt");
	if (libc.getaddrinfo == NULL)
		libc.getaddrinfo = dlsym(RTLD_NEXT, "getaddrinfo");
	if (libc.gethostbyname == NULL)
		libc.gethostbyname = dlsym(RTLD_NEXT, "gethostbyname");
	if (libc.gethostbyname2 == NULL)
		libc.gethostbyname2 = dlsym(RTLD_NEXT, "gethostbyname2");
	if (libc.gethostbyname_r == NULL)
		libc.gethostbyname_r = dlsym(RTLD_NEXT, "gethostbyname_r");
	if (libc.gethostbyname2_r == NULL)
		libc.gethostbyname2_r = dlsym(RTLD_NEXT, "gethostbyname2_r");
	if (libc.read == NULL)
		libc.read = dlsym(RTLD_NEXT, "read");
	if (libc.write == NULL)
		libc.write = dlsym(RTLD_NEXT, "write");
	if (libc.recv == NULL)
		libc.recv = dlsym(RTLD_NEXT, "recv");
	if (libc.send == NULL)
		libc.send = dlsym(RTLD_NEXT, "send");
	if (libc.recvfrom == NULL)
		libc.recvfrom = dlsym(RTLD_NEXT, "recvfrom");
	if (libc.sendto == NULL)
		libc.sendto = dlsym(RTLD_NEXT, "sendto");
	if (libc.recvmsg == NULL)
		libc.recvmsg = dlsym(RTLD_NEXT, "recvmsg");
	if (libc.sendmsg == NULL)
		libc.sendmsg = dlsym(RTLD_NEXT, "sendmsg");
}

static int real_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (libc.connect == NULL)
		return (int)syscall(SYS_connect, fd, sa, len);
	return libc.connect(fd, sa, len);
}

static int real_getsockopt(int fd, int level, int opt, void *val,
			   socklen_t *len)
{
	if (libc.getsockopt == NULL)
		return (int)syscall(SYS_getsockopt, fd, level, opt, val, len);
	return libc.getsockopt(fd, level, opt, val, len);
}

static uint64_t next_random(void)
{
	uint64_t x = rng_state;

	if (x == 0) {
		x = swerve_now_ms() ^ ((uint64_t)(uintptr_t)&rng_state << 16) ^
		    (uint64_t)getpid() << 32 ^ 0x9e3779b97f4a7c15ull;
		if (x == 0)
			x = 1;
	}
	/* xorshift64: plenty for spreading load, no locks, no libc state. */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* ------------------------------------------------------------------ init */

static void after_fork_child(void)
{
	self_pid = getpid();
}

static pid_t current_pid(void)
{
	return self_pid != 0 ? self_pid : getpid();
}

/*
 * c-ares' sockets go straight to libc: inside this library the names
 * connect, close and recvfrom are swerve's own hooks.
 */
static int resolver_close(int fd)
{
	if (libc.close == NULL)
		return (int)syscall(SYS_close, fd);
	return libc.close(fd);
}

static ssize_t resolver_recvfrom(int fd, void *buf, size_t len, int flags,
				 struct sockaddr *sa, socklen_t *salen)
{
	if (libc.recvfrom == NULL)
		return syscall(SYS_recvfrom, fd, buf, len, flags, sa, salen);
	return libc.recvfrom(fd, buf, len, flags, sa, salen);
}

static ssize_t resolver_sendv(int fd, const struct iovec *iov, int n)
{
	struct msghdr msg = { .msg_iov = (struct iovec *)iov,
			      .msg_iovlen = (size_t)n };

	/* MSG_NOSIGNAL: a DNS server closing a TCP connection must not kill
	 * the host with SIGPIPE. */
	if (libc.sendmsg == NULL)
		return syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL);
	return libc.sendmsg(fd, &msg, MSG_NOSIGNAL);
}

static const struct swerve_resolver_sockets resolver_sockets = {
	.socket = socket,
	.connect = real_connect,
	.close = resolver_close,
	.recvfrom = resolver_recvfrom,
	.sendv = resolver_sendv,
};

static bool is_go_program(void)
{
	struct swerve_exe_info info;

	return swerve_exe_inspect("/proc/self/exe", &info) == 0 && info.is_go;
}

static int build_services(const struct swerve_config *cfg)
{
	unsigned s, i;

	services = calloc(cfg->nservices ? cfg->nservices : 1,
			  sizeof(*services));
	if (services == NULL)
		return -ENOMEM;
	for (s = 0; s < cfg->nservices; s++) {
		const struct swerve_service *svc =
			swerve_dnscache_service(dns, s);
		struct svc_state *ss = &services[s];
		unsigned n = svc->nendpoints;

		ss->svc = svc;
		ss->svc_row = swerve_shm_row(&table,
					     swerve_shm_service_key(svc->name),
					     true);
		ss->prio = calloc(n, sizeof(*ss->prio));
		ss->weight = calloc(n, sizeof(*ss->weight));
		ss->rows = calloc(n, sizeof(*ss->rows));
		ss->active = calloc(n, sizeof(*ss->active));
		ss->pending = calloc(n, sizeof(*ss->pending));
		ss->pending_since = calloc(n, sizeof(*ss->pending_since));
		ss->last_fail = calloc(n, sizeof(*ss->last_fail));
		if (ss->prio == NULL || ss->weight == NULL || ss->rows == NULL ||
		    ss->active == NULL || ss->pending == NULL ||
		    ss->pending_since == NULL || ss->last_fail == NULL)
			return -ENOMEM;
		ss->nprio = swerve_balancer_priorities(svc, cfg, ss->prio);
		/* A fresh process must not start where every other one did:
		 * short-lived clients would all reach the same endpoint. */
		atomic_store_explicit(&ss->rr, next_random(),
				      memory_order_relaxed);
		for (i = 0; i < n; i++)
			ss->weight[i] = svc->endpoints[i].weight;
		if (swerve_dnscache_has_names(dns, s)) {
			/* The rows follow the answers: dnscache's own. */
			free(ss->rows);
			ss->rows = (struct swerve_shm_row **)
				swerve_dnscache_rows(dns, s);
			continue;
		}
		for (i = 0; i < n; i++)
			ss->rows[i] = swerve_shm_row(&table,
						     svc->endpoints[i].key,
						     true);
	}
	return 0;
}

static void init(void)
{
	struct swerve_config *cfg = NULL;
	const char *path, *lvl;
	enum swerve_log_level level;
	char err[512];
	int rc;
	bool explicit_path;

	in_swerve++;
	resolve_libc();
	self_pid = getpid();
	pthread_atfork(NULL, NULL, after_fork_child);
	lvl = secure_getenv("SWERVE_LOG");
	if (lvl != NULL && swerve_log_parse_level(lvl, &level) == 0)
		swerve_log_set_level(level);
	path = secure_getenv("SWERVE_CONFIG");
	explicit_path = path != NULL && path[0] != '\0';
	if (is_go_program()) {
		/* Go connects with raw system calls: a service address handed
		 * to it (cgo calls getaddrinfo) would lead nowhere. */
		if (explicit_path)
			swerve_log(SWERVE_LOG_WARN,
				   "a Go program connects behind swerve's back; "
				   "swerve stays out of its way");
		goto out;
	}
	if (!explicit_path)
		path = SWERVE_DEFAULT_CONFIG;

	/* The first error is enough for the one line a host program gets;
	 * swervectl check lists them all. */
	err[0] = '\0';
	rc = swerve_config_load(path, true, &cfg, NULL, NULL, err,
				sizeof(err));
	if (rc == -ENOENT && !explicit_path)
		goto out; /* no config on this host: silent pass-through */
	if (rc != 0) {
		swerve_log(SWERVE_LOG_ERROR, "%s; swerve is off in this process",
			   err[0] != '\0' ? err : strerror(-rc));
		goto out;
	}
	swerve_log_set_level(cfg->log_level);

	rc = swerve_shm_attach(cfg->shm_name, true, &table, err, sizeof(err));
	if (rc != 0) {
		/* Fail open, but keep outlier detection inside this process. */
		swerve_log(SWERVE_LOG_WARN,
			   "%s; health is not shared with other processes", err);
		if (swerve_shm_private(&table) != 0) {
			swerve_log(SWERVE_LOG_ERROR,
				   "no memory for the health table; swerve is "
				   "off in this process");
			goto fail;
		}
	}
	rc = swerve_dnscache_new(cfg, &table, &resolver_sockets, &dns, err,
				 sizeof(err));
	if (rc != 0) {
		swerve_log(SWERVE_LOG_ERROR, "%s; swerve is off in this process",
			   err);
		goto fail;
	}
	if (build_services(cfg) != 0) {
		swerve_log(SWERVE_LOG_ERROR,
			   "no memory for %u services; swerve is off in this "
			   "process", cfg->nservices);
		goto fail;
	}
	swerve_log(SWERVE_LOG_INFO, "%s: %u services, locality '%s', table %s",
		   cfg->path, cfg->nservices, cfg->locality_text,
		   table.shared ? table.name : "(private)");
	atomic_store_explicit(&active_cfg, cfg, memory_order_release);
	goto out;
fail:
	/* Nothing was published, so no other thread can be reading it; the
	 * per-service arrays are left behind (a few bytes, once). */
	swerve_config_free(cfg);
out:
	in_swerve--;
}

__attribute__((constructor)) static void swerve_constructor(void)
{
	resolve_libc();
}

/* The config when swerve is on in this process, else NULL. */
static const struct swerve_config *config(void)
{
	const struct swerve_config *cfg;

	cfg = atomic_load_explicit(&active_cfg, memory_order_acquire);
	if (cfg != NULL)
		return cfg;
	pthread_once(&init_once, init);
	return atomic_load_explicit(&active_cfg, memory_order_acquire);
}

/* ----------------------------------------------------------- addresses */

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
	if (dns == NULL || !swerve_dnscache_has_names(dns, s))
		return address_sockaddr(&services[s].svc->endpoints[i].addr,
					family, v6only, port, out);
	if (!swerve_dnscache_address(dns, s, i, &addr, stale))
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

/* -------------------------------------------------------- bookkeeping */

static uint64_t fd_inode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 0;
	return (uint64_t)st.st_ino;
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (real_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	return ti.tcpi_state;
}

/* Records an outcome for endpoint <ep> of service <s>, host-wide. */
static void record(unsigned s, unsigned ep, enum swerve_outcome outcome)
{
	struct svc_state *ss = &services[s];
	uint64_t now = swerve_now_ms();
	enum swerve_outlier_event ev;

	if (outcome != SWERVE_OUTCOME_CONNECT_OK)
		atomic_store_explicit(&ss->last_fail[ep], now,
				      memory_order_relaxed);
	ev = swerve_shm_report(&table, ss->svc_row, ss->rows,
			       ss->svc->nendpoints, ep, &ss->svc->outlier,
			       outcome, 0, now);
	if (ev == SWERVE_OUTLIER_EJECT)
		swerve_log(SWERVE_LOG_INFO, "ejected %s of service %s",
			   ss->svc->endpoints[ep].text, ss->svc->name);
	else if (ev == SWERVE_OUTLIER_OVERFLOW)
		swerve_log(SWERVE_LOG_INFO,
			   "%s of service %s failing, but the ejection cap "
			   "keeps it in", ss->svc->endpoints[ep].text,
			   ss->svc->name);
}

static enum swerve_outcome outcome_of(int err)
{
	return err == ETIMEDOUT ? SWERVE_OUTCOME_CONNECT_TIMEOUT
				: SWERVE_OUTCOME_CONNECT_FAILED;
}

/* Errors that say the endpoint is unhealthy (and worth failing over). */
static bool is_endpoint_failure(int err)
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

/* Puts TCP_USER_TIMEOUT back to the application's 0 once the handshake is
 * over: left in place it would kill an established connection that stalls
 * longer than connect_timeout (mechanisms-measured.md Q3b). */
static void restore_uto(int fd, struct fd_slot *sl)
{
	unsigned int zero = 0;

	if (sl->uto_set) {
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &zero,
			   sizeof(zero));
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

/*
 * Settles the attempt recorded in <sl> for a socket that is going away or
 * was replaced: the application closed it (<fd> still valid) or the fd now
 * holds another socket (<fd> -1). An attempt still in SYN_SENT for longer
 * than ABANDON_MS was given up on: a timeout, charged to the endpoint.
 */
static void slot_settle(int fd, struct fd_slot *sl, bool vanished)
{
	uint32_t st = atomic_load_explicit(&sl->state, memory_order_acquire);
	struct svc_state *ss;
	uint64_t now;

	if (st != SLOT_PENDING && st != SLOT_ESTABLISHED)
		return;
	if (!slot_take(sl, st))
		return;
	ss = &services[sl->svc];
	if (sl->pid != current_pid()) {
		/* Inherited across fork(): the attempt is the parent's, and a
		 * child closing its copy says nothing about the endpoint. */
		atomic_store_explicit(&sl->state, SLOT_FREE,
				      memory_order_release);
		return;
	}
	if (st == SLOT_ESTABLISHED) {
		active_leave(ss, sl->ep);
	} else {
		int tstate = vanished ? -1 : tcp_state(fd);

		pending_leave(ss, sl->ep);
		now = swerve_now_ms();
		if (tstate == TCP_ESTABLISHED || tstate == TCP_CLOSE_WAIT) {
			record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_OK);
		} else if (now - sl->started_ms >= ABANDON_MS &&
			   (tstate == TCP_SYN_SENT || tstate == TCP_CLOSE ||
			    tstate == -1)) {
			swerve_log(SWERVE_LOG_DEBUG,
				   "attempt to %s abandoned after %llu ms",
				   ss->svc->endpoints[sl->ep].text,
				   (unsigned long long)(now - sl->started_ms));
			record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_TIMEOUT);
		}
	}
	atomic_store_explicit(&sl->state, SLOT_FREE, memory_order_release);
}

/*
 * The slot for <fd> when it describes the socket <fd> holds now; a slot
 * left by an earlier socket on the same fd number is settled first.
 */
static struct fd_slot *slot_current(int fd, uint64_t *ino)
{
	struct fd_slot *sl;
	uint32_t st;

	if (fd < 0 || fd >= FD_SLOTS)
		return NULL;
	sl = &fd_slots[fd];
	*ino = fd_inode(fd);
	st = atomic_load_explicit(&sl->state, memory_order_acquire);
	if (st == SLOT_FREE || st == SLOT_BUSY)
		return sl;
	if (sl->ino != *ino)
		slot_settle(fd, sl, true);
	return sl;
}

/* ----------------------------------------------------------- routing */

/*
 * Brings the answers of service <s>'s names up to date when they are due
 * (at most one lookup bounded by dns_timeout, see dnscache.h). The guard is
 * lowered as for the real connect(): c-ares' sockets use libc directly,
 * and a siglongjmp out of the lookup must not leave swerve off.
 */
static void refresh_names(unsigned s)
{
	if (dns == NULL || !swerve_dnscache_has_names(dns, s))
		return;
	in_swerve--;
	swerve_dnscache_refresh(dns, s, swerve_now_ms());
	in_swerve++;
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

	in_swerve--;
	rc = real_connect(fd, sa, len);
	err = errno;
	in_swerve++;
	errno = err;
	return rc;
}

/*
 * Picks the endpoint for the next attempt of service <s>, leaving out those
 * in <excluded>. Health is the shared table's; endpoints that failed in this
 * process a moment ago, or have an attempt pending for long, count as
 * unhealthy here too when anything else is healthy.
 */
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

static int pick_endpoint(unsigned s, int family, bool v6only, bool first,
			 const bool *excluded, char *why, size_t whylen)
{
	struct svc_state *ss = &services[s];
	const struct swerve_service *svc = ss->svc;
	unsigned n = svc->nendpoints, i;
	bool healthy[SWERVE_MAX_ENDPOINTS];
	bool excl[SWERVE_MAX_ENDPOINTS];
	bool avoided[SWERVE_MAX_ENDPOINTS];
	uint32_t active[SWERVE_MAX_ENDPOINTS];
	struct swerve_balancer_input in;
	uint64_t now = swerve_now_ms();
	bool any_fresh = false;
	bool names = dns != NULL && swerve_dnscache_has_names(dns, s);

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
		swerve_shm_panic_note(&table, svc->name,
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
	in.rand1 = next_random();
	in.rand2 = next_random();
	in.svc = svc;
	in.client = config();
	return swerve_balancer_pick(&in, why, whylen);
}

/* Marks the start of an attempt on <fd> to endpoint <ep>. */
static void slot_begin(struct fd_slot *sl, unsigned s, unsigned ep,
		       uint16_t port, int family, uint64_t ino, bool uto_set)
{
	uint32_t st = atomic_load_explicit(&sl->state, memory_order_acquire);

	if (st == SLOT_BUSY || !slot_take(sl, st))
		return;
	if (st == SLOT_PENDING)
		pending_leave(&services[sl->svc], sl->ep);
	else if (st == SLOT_ESTABLISHED)
		active_leave(&services[sl->svc], sl->ep);
	sl->svc = (uint16_t)s;
	sl->ep = (uint16_t)ep;
	sl->port = port;
	sl->family = (uint8_t)family;
	sl->uto_set = uto_set;
	sl->ino = ino;
	sl->pid = current_pid();
	sl->started_ms = swerve_now_ms();
	pending_enter(&services[s], ep, sl->started_ms);
	atomic_store_explicit(&sl->state, SLOT_PENDING, memory_order_release);
}

/* Ends the attempt on <sl>: established (counted active) or gone. */
static void slot_end(int fd, struct fd_slot *sl, bool established)
{
	struct svc_state *ss;

	if (!slot_take(sl, SLOT_PENDING))
		return;
	ss = &services[sl->svc];
	pending_leave(ss, sl->ep);
	restore_uto(fd, sl);
	if (established) {
		atomic_fetch_add(&ss->active[sl->ep], 1);
		atomic_store_explicit(&sl->state, SLOT_ESTABLISHED,
				      memory_order_release);
	} else {
		atomic_store_explicit(&sl->state, SLOT_FREE,
				      memory_order_release);
	}
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
			record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_OK);
			slot_end(fd, sl, true);
		} else if (is_endpoint_failure(err)) {
			record(sl->svc, sl->ep, outcome_of(err));
			slot_end(fd, sl, false);
		}
	}
	errno = err;
	return rc;
}

/* True when another endpoint is left for one more attempt. */
static bool can_fail_over(unsigned s, const bool *excluded, unsigned tried)
{
	const struct swerve_service *svc = services[s].svc;
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
	struct svc_state *ss = &services[s];
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

	sl = slot_current(fd, &ino);
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
		v6only = real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
					 &olen) == 0 && one != 0;
	}
	refresh_names(s);
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
			swerve_dnscache_note_stale(dns, s, (unsigned)idx);
		tried++;
		excluded[idx] = true;
		swerve_log(SWERVE_LOG_DEBUG, "%s:%u -> %s (%s)", svc->name, port,
			   svc->endpoints[idx].text, why);
		/* Recorded before the call: a siglongjmp out of a blocking
		 * connect (wget) must find the attempt at close(). */
		if (sl != &spare)
			slot_begin(sl, s, (unsigned)idx, port, family, ino,
				   uto_set);
		rc = connect_unguarded(fd, (struct sockaddr *)&target, tlen);
		err = errno;
		if (rc == 0) {
			record(s, (unsigned)idx, SWERVE_OUTCOME_CONNECT_OK);
			slot_end(fd, sl, true);
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
				record(s, (unsigned)idx,
				       SWERVE_OUTCOME_CONNECT_OK);
				slot_end(fd, sl, true);
				break;
			}
			/* Failed already. Read (and so consume) the error
			 * only when there is somewhere else to go. */
			if (!can_fail_over(s, excluded, tried))
				break;
			if (real_getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err,
					    &elen) == -1 ||
			    !is_endpoint_failure(so_err))
				break;
			err = so_err;
		} else if (!is_endpoint_failure(err)) {
			/* EINTR: the attempt goes on in the kernel and the
			 * slot stays pending. Anything else (EACCES,
			 * EADDRNOTAVAIL...) is not the endpoint's fault. */
			if (err != EINTR && err != EALREADY)
				slot_end(fd, sl, false);
			break;
		}
		/* The endpoint failed inside this call. */
		record(s, (unsigned)idx, outcome_of(err));
		if (!can_fail_over(s, excluded, tried)) {
			slot_end(fd, sl, false);
			break;
		}
		swerve_log(SWERVE_LOG_INFO, "%s: %s failed (%s), trying the next "
			   "endpoint", svc->name, svc->endpoints[idx].text,
			   strerror(err));
		if (sl == &spare || !slot_take(sl, SLOT_PENDING)) {
			/* nothing tracked */
		} else {
			pending_leave(ss, (unsigned)idx);
			atomic_store(&sl->state, SLOT_FREE);
		}
		/* Re-arm the socket: after a failed or timed-out attempt a
		 * bare connect() gives ECONNABORTED or EALREADY first. */
		{
			struct sockaddr unspec = { .sa_family = AF_UNSPEC };

			real_connect(fd, &unspec, sizeof(unspec));
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

/* ---------------------------------------------------------- the hooks */

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

	if (in_swerve || sa == NULL || len < sizeof(sa_family_t))
		return real_connect(fd, sa, len);
	cfg = config();
	if (cfg == NULL || !sockaddr_v4(sa, len, &addr, &port) ||
	    (addr & cfg->vip_mask) != cfg->vip_net) {
		/* Not a service address: a stale record for this fd number
		 * (closed behind our back) is settled, nothing else. */
		if (cfg != NULL && fd >= 0 && fd < FD_SLOTS &&
		    atomic_load_explicit(&fd_slots[fd].state,
					 memory_order_relaxed) != SLOT_FREE) {
			uint64_t ino;

			saved = errno;
			in_swerve++;
			slot_current(fd, &ino);
			in_swerve--;
			errno = saved;
		}
		return real_connect(fd, sa, len);
	}
	svc = swerve_config_match_vip(cfg, addr, &vip);
	if (svc == NULL || !swerve_config_serves_port(svc, port))
		return real_connect(fd, sa, len);
	saved = errno;
	/* One call tells a TCP socket (UDP and others have no such option)
	 * and what the application set: c-ares' and glibc's UDP probes of
	 * service addresses pass through. */
	if (real_getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
			    &ulen) == -1) {
		errno = saved;
		return real_connect(fd, sa, len);
	}
	s = (unsigned)(svc - cfg->services);
	in_swerve++;
	rc = route_connect(fd, s, port, sa->sa_family, uto);
	saved = errno;
	in_swerve--;
	errno = saved;
	return rc;
}

SWERVE_EXPORT int getsockopt(int fd, int level, int opt, void *val,
			     socklen_t *len)
{
	struct fd_slot *sl;
	int rc, saved, so_err;
	uint64_t ino;

	rc = real_getsockopt(fd, level, opt, val, len);
	if (rc != 0 || level != SOL_SOCKET || opt != SO_ERROR || in_swerve ||
	    fd < 0 || fd >= FD_SLOTS || val == NULL || len == NULL ||
	    *len < sizeof(int))
		return rc;
	sl = &fd_slots[fd];
	if (atomic_load_explicit(&sl->state, memory_order_acquire) !=
	    SLOT_PENDING)
		return rc;
	saved = errno;
	in_swerve++;
	memcpy(&so_err, val, sizeof(so_err));
	sl = slot_current(fd, &ino);
	if (sl != NULL && atomic_load(&sl->state) == SLOT_PENDING &&
	    sl->ino == ino) {
		if (so_err != 0) {
			/* The application sees the error and moves on; the
			 * endpoint is charged, and avoided by the next try. */
			if (is_endpoint_failure(so_err))
				record(sl->svc, sl->ep, outcome_of(so_err));
			slot_end(fd, sl, false);
		} else if (tcp_state(fd) == TCP_ESTABLISHED) {
			record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_OK);
			slot_end(fd, sl, true);
		}
		/* 0 while still in SYN_SENT: ruby asks before polling. */
	}
	in_swerve--;
	errno = saved;
	return rc;
}

SWERVE_EXPORT int close(int fd)
{
	if (!in_swerve && fd >= 0 && fd < FD_SLOTS &&
	    atomic_load_explicit(&fd_slots[fd].state, memory_order_relaxed) !=
		    SLOT_FREE) {
		int saved = errno;
		uint64_t ino = fd_inode(fd);
		struct fd_slot *sl = &fd_slots[fd];

		in_swerve++;
		if (sl->ino == ino)
			slot_settle(fd, sl, false);
		else
			slot_settle(fd, sl, true);
		in_swerve--;
		errno = saved;
	}
	if (libc.close == NULL)
		return (int)syscall(SYS_close, fd);
	return libc.close(fd);
}

/* --------------------------------------------------- first read/write */

/*
 * Some clients learn that a non-blocking connect finished by writing or
 * reading straight away. The first I/O on a socket whose attempt is pending
 * settles it: data moved or the socket is established means connected (and
 * TCP_USER_TIMEOUT goes back to the application's 0); an endpoint error
 * means it failed. Everything else on every other fd costs one load.
 */
static inline bool io_pending(int fd)
{
	return fd >= 0 && fd < FD_SLOTS && !in_swerve &&
	       atomic_load_explicit(&fd_slots[fd].state,
				    memory_order_relaxed) == SLOT_PENDING;
}

static void io_observe(int fd, ssize_t rc, int err)
{
	struct fd_slot *sl;
	uint64_t ino;

	in_swerve++;
	sl = slot_current(fd, &ino);
	if (sl != NULL && atomic_load(&sl->state) == SLOT_PENDING &&
	    sl->ino == ino) {
		if (rc > 0 || tcp_state(fd) == TCP_ESTABLISHED) {
			record(sl->svc, sl->ep, SWERVE_OUTCOME_CONNECT_OK);
			slot_end(fd, sl, true);
		} else if (rc == -1 && is_endpoint_failure(err)) {
			record(sl->svc, sl->ep, outcome_of(err));
			slot_end(fd, sl, false);
		}
	}
	in_swerve--;
	errno = err;
}

/* Calls the real <fn>, then settles a pending attempt on <fd>. */
#define IO_HOOK(fd, call)                                                  \
	do {                                                               \
		ssize_t rc_;                                               \
		bool pending_ = io_pending(fd);                            \
									   \
		rc_ = (call);                                              \
		if (__builtin_expect(pending_, 0))                         \
			io_observe((fd), rc_, errno);                      \
		return rc_;                                                \
	} while (0)

SWERVE_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (libc.read == NULL)
		return syscall(SYS_read, fd, buf, len);
	IO_HOOK(fd, libc.read(fd, buf, len));
}

SWERVE_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (libc.write == NULL)
		return syscall(SYS_write, fd, buf, len);
	IO_HOOK(fd, libc.write(fd, buf, len));
}

SWERVE_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (libc.recv == NULL)
		return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
	IO_HOOK(fd, libc.recv(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (libc.send == NULL)
		return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
	IO_HOOK(fd, libc.send(fd, buf, len, flags));
}

SWERVE_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			       struct sockaddr *sa, socklen_t *salen)
{
	if (libc.recvfrom == NULL)
		return syscall(SYS_recvfrom, fd, buf, len, flags, sa, salen);
	IO_HOOK(fd, libc.recvfrom(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			     const struct sockaddr *sa, socklen_t salen)
{
	if (libc.sendto == NULL)
		return syscall(SYS_sendto, fd, buf, len, flags, sa, salen);
	IO_HOOK(fd, libc.sendto(fd, buf, len, flags, sa, salen));
}

SWERVE_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (libc.recvmsg == NULL)
		return syscall(SYS_recvmsg, fd, msg, flags);
	IO_HOOK(fd, libc.recvmsg(fd, msg, flags));
}

SWERVE_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (libc.sendmsg == NULL)
		return syscall(SYS_sendmsg, fd, msg, flags);
	IO_HOOK(fd, libc.sendmsg(fd, msg, flags));
}

/* ------------------------------------------------------- getaddrinfo */

/* The canonical name to report: the configured host when it is exact,
 * else the name asked, lower case, without a trailing dot. */
static char *canonical_name(const struct swerve_service *svc,
			    const char *node)
{
	size_t len = strlen(node), i;
	char *out;

	if (len > 0 && node[len - 1] == '.')
		len--;
	for (i = 0; i < svc->nhosts; i++)
		if (strlen(svc->hosts[i]) == len &&
		    strncasecmp(svc->hosts[i], node, len) == 0)
			return strdup(svc->hosts[i]);
	out = strndup(node, len);
	for (i = 0; out != NULL && out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return out;
}

/*
 * "a.b.c.d" or "::ffff:a.b.c.d" for <vip> into <buf> (at least 24 bytes).
 * By hand: snprintf was half the cost of a served getaddrinfo.
 */
static void vip_text(uint32_t vip, bool mapped, char *buf)
{
	char *p = buf;
	int shift, v;

	if (mapped) {
		memcpy(p, "::ffff:", 7);
		p += 7;
	}
	for (shift = 24; shift >= 0; shift -= 8) {
		v = (int)((vip >> shift) & 0xff);
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		if (shift > 0)
			*p++ = '.';
	}
	*p = '\0';
}

struct vip_pick {
	int vip;      /* index in svc->vips */
	bool mapped;  /* as ::ffff:a.b.c.d */
};

static void freeaddrinfo_list(struct addrinfo *ai)
{
	if (ai != NULL)
		freeaddrinfo(ai);
}

/*
 * Answers <node> for service <svc> like glibc answers a name whose only
 * records are the service addresses: one glibc call per address on a
 * numeric string (so socktype fan-out, service names, errors and memory are
 * glibc's own), chained, with glibc's flags and canonical name put back.
 */
static int service_getaddrinfo(const struct swerve_service *svc,
			       const char *node, const char *service,
			       const struct addrinfo *hints,
			       struct addrinfo **res)
{
	struct addrinfo h, *head = NULL, **tail = &head, *part, *p;
	struct vip_pick order[3];
	int family, flags, rc, i, n;
	char num[64];

	memset(&h, 0, sizeof(h));
	if (hints != NULL) {
		h = *hints;
		h.ai_addrlen = 0;
		h.ai_addr = NULL;
		h.ai_canonname = NULL;
		h.ai_next = NULL;
	} else {
		/* glibc's default hints (getaddrinfo(3)). */
		h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;
	}
	family = h.ai_family;
	flags = h.ai_flags;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return EAI_FAMILY;
	if (flags & ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST |
		      AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_NUMERICSERV |
		      AI_IDN | AI_CANONIDN))
		return EAI_BADFLAGS;
	/* A name with only IPv4 records asked for AF_INET6 without
	 * AI_V4MAPPED: glibc says it does not know it. */
	if (family == AF_INET6 && !(flags & AI_V4MAPPED))
		return EAI_NONAME;

	/*
	 * Which addresses, in which order. AF_UNSPEC: IPv4, v4-mapped IPv6,
	 * IPv4 again (the second address): curl moves to the other family at
	 * once and races it after 200 ms, and a client whose IPv6 sockets are
	 * IPv6-only (ruby) still has an IPv4 address to move on to.
	 */
	if (family == AF_INET) {
		n = 2;
		order[0] = (struct vip_pick){ 0, false };
		order[1] = (struct vip_pick){ 1, false };
	} else if (family == AF_INET6) {
		n = 2;
		order[0] = (struct vip_pick){ 0, true };
		order[1] = (struct vip_pick){ 1, true };
	} else {
		n = 3;
		order[0] = (struct vip_pick){ 0, false };
		order[1] = (struct vip_pick){ 1, true };
		order[2] = (struct vip_pick){ 1, false };
	}
	h.ai_flags = (flags & AI_NUMERICSERV) | AI_NUMERICHOST;
	for (i = 0; i < n; i++) {
		vip_text(svc->vips[order[i].vip], order[i].mapped, num);
		h.ai_family = order[i].mapped ? AF_INET6 : AF_INET;
		rc = libc.getaddrinfo(num, service, &h, &part);
		if (rc != 0) {
			freeaddrinfo_list(head);
			return rc;
		}
		*tail = part;
		while (*tail != NULL)
			tail = &(*tail)->ai_next;
	}
	for (p = head; p != NULL; p = p->ai_next)
		p->ai_flags = flags;
	if ((flags & AI_CANONNAME) && head != NULL) {
		char *canon = canonical_name(svc, node);

		if (canon == NULL) {
			freeaddrinfo_list(head);
			return EAI_MEMORY;
		}
		free(head->ai_canonname);
		head->ai_canonname = canon;
	}
	*res = head;
	return 0;
}

SWERVE_EXPORT int getaddrinfo(const char *node, const char *service,
			      const struct addrinfo *hints,
			      struct addrinfo **res)
{
	const struct swerve_config *cfg;
	const struct swerve_service *svc;
	int rc, saved;

	if (libc.getaddrinfo == NULL)
		resolve_libc();
	if (libc.getaddrinfo == NULL)
		return EAI_SYSTEM;
	if (in_swerve || node == NULL || res == NULL ||
	    (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)))
		return libc.getaddrinfo(node, service, hints, res);
	cfg = config();
	if (cfg == NULL)
		return libc.getaddrinfo(node, service, hints, res);
	svc = swerve_config_match_name(cfg, node);
	if (svc == NULL)
		return libc.getaddrinfo(node, service, hints, res);
	saved = errno;
	in_swerve++;
	/* Resolving is what a caller of getaddrinfo expects to wait for: the
	 * names behind the service are brought up to date here, so that the
	 * connect() that follows rarely has to. */
	refresh_names((unsigned)(svc - cfg->services));
	rc = service_getaddrinfo(svc, node, service, hints, res);
	in_swerve--;
	errno = saved;
	swerve_log(SWERVE_LOG_DEBUG, "getaddrinfo(%s) -> service %s: %s", node,
		   svc->name, rc == 0 ? "ok" : gai_strerror(rc));
	return rc;
}

/* ---------------------------------------------------- gethostbyname */

/*
 * Fills <ret> in <buf> with the service addresses of <svc> for <name>, like
 * glibc's hosts-file answer: the name, no aliases, the IPv4 addresses.
 * Returns 0 or ERANGE when <buflen> is too small (callers grow and retry).
 */
static int fill_hostent(const struct swerve_service *svc, const char *name,
			struct hostent *ret, char *buf, size_t buflen)
{
	size_t nlen = strlen(name), need, off;
	char **aliases, **list;
	uintptr_t a;
	int i;

	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	/* pointer-aligned: aliases[1], addr_list[N + 1], then addresses,
	 * then the name. */
	a = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	off = (size_t)(a - (uintptr_t)buf);
	need = off + sizeof(char *) * (1 + SWERVE_VIPS_PER_SERVICE + 1) +
	       4 * SWERVE_VIPS_PER_SERVICE + nlen + 1;
	if (buflen < need)
		return ERANGE;
	aliases = (char **)(void *)(buf + off);
	list = aliases + 1;
	aliases[0] = NULL;
	off += sizeof(char *) * (2 + SWERVE_VIPS_PER_SERVICE);
	for (i = 0; i < SWERVE_VIPS_PER_SERVICE; i++) {
		uint32_t be = htonl(svc->vips[i]);

		list[i] = buf + off;
		memcpy(buf + off, &be, 4);
		off += 4;
	}
	list[SWERVE_VIPS_PER_SERVICE] = NULL;
	memcpy(buf + off, name, nlen);
	buf[off + nlen] = '\0';
	ret->h_name = buf + off;
	ret->h_aliases = aliases;
	ret->h_addrtype = AF_INET;
	ret->h_length = 4;
	ret->h_addr_list = list;
	return 0;
}

/* The service serving <name>, or NULL when swerve should not answer. */
static const struct swerve_service *hostent_service(const char *name)
{
	const struct swerve_config *cfg;

	if (in_swerve || name == NULL)
		return NULL;
	cfg = config();
	if (cfg == NULL)
		return NULL;
	return swerve_config_match_name(cfg, name);
}

SWERVE_EXPORT int gethostbyname2_r(const char *name, int af,
				   struct hostent *ret, char *buf,
				   size_t buflen, struct hostent **result,
				   int *h_errnop)
{
	const struct swerve_service *svc;
	int rc;

	if (libc.gethostbyname2_r == NULL)
		resolve_libc();
	svc = hostent_service(name);
	if (svc == NULL)
		return libc.gethostbyname2_r(name, af, ret, buf, buflen, result,
					     h_errnop);
	*result = NULL;
	if (af != AF_INET) {
		/* Only IPv4 records, as glibc answers such a name. */
		*h_errnop = HOST_NOT_FOUND;
		return 0;
	}
	rc = fill_hostent(svc, name, ret, buf, buflen);
	if (rc != 0) {
		*h_errnop = NETDB_INTERNAL;
		errno = rc;
		return rc;
	}
	*h_errnop = 0;
	*result = ret;
	return 0;
}

SWERVE_EXPORT int gethostbyname_r(const char *name, struct hostent *ret,
				  char *buf, size_t buflen,
				  struct hostent **result, int *h_errnop)
{
	if (libc.gethostbyname_r == NULL)
		resolve_libc();
	if (hostent_service(name) == NULL)
		return libc.gethostbyname_r(name, ret, buf, buflen, result,
					    h_errnop);
	return gethostbyname2_r(name, AF_INET, ret, buf, buflen, result,
				h_errnop);
}

/* Like glibc's, the non-reentrant forms share one static result. */
static struct hostent static_hostent;
static char static_hostbuf[1024];

SWERVE_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *result = NULL;
	int herr = 0;

	if (libc.gethostbyname2 == NULL)
		resolve_libc();
	if (hostent_service(name) == NULL)
		return libc.gethostbyname2(name, af);
	gethostbyname2_r(name, af, &static_hostent, static_hostbuf,
			 sizeof(static_hostbuf), &result, &herr);
	h_errno = herr;
	return result;
}

SWERVE_EXPORT struct hostent *gethostbyname(const char *name)
{
	if (libc.gethostbyname == NULL)
		resolve_libc();
	if (hostent_service(name) == NULL)
		return libc.gethostbyname(name);
	return gethostbyname2(name, AF_INET);
}
