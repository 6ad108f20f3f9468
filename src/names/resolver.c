/*
 * resolver.c: synchronous c-ares lookups inside a host process.
 *
 * Design. A lookup is ares_getaddrinfo(AF_UNSPEC) on a private channel,
 * driven in the caller's thread: ares_getsock() names the (at most a few)
 * sockets c-ares waits on, poll() waits on them no longer than both
 * ares_timeout() and our own deadline allow, and ares_process_fd() lets
 * c-ares read, retry and time out. When the deadline passes first,
 * ares_cancel() ends the query (its callback runs synchronously with
 * ARES_ECANCELLED). So there is no thread, no signal and no fd_set (a host
 * may have descriptors above FD_SETSIZE). Several names are looked up at
 * once on the same channel, so a batch costs one bound, not one per name.
 * c-ares itself is the system's shared library, loaded privately
 * (cares.h); every call goes through its table.
 *
 * Large answers. At most <max> addresses are kept; when an answer has
 * more, this host's subset of them (subset.h) is kept, sorted as usual.
 *
 * c-ares 1.18.1 facts this relies on (checked against the installed
 * library with a probe and tests/helpers/dnsd):
 *   - ARES_AI_NOSORT is honoured. Without it, ares__sortaddrinfo() opens
 *     and connect()s one UDP socket per address (RFC 6724 source address
 *     selection) through the channel's socket functions; with it, a lookup
 *     of A+AAAA costs one socket. We sort ourselves, by bytes.
 *   - Every ares_addrinfo_node carries ai_ttl (the record's TTL; 0 for
 *     hosts-file answers and IP literals), every CNAME link a ttl.
 *   - With socket functions set, every socket(), connect(), close(),
 *     recvfrom() and send of the channel goes through them, and c-ares
 *     leaves those sockets as they come: blocking, inherited by exec().
 *     A blocking UDP socket hangs ares_process_fd() (it reads until
 *     EAGAIN), so our socket() asks for SOCK_NONBLOCK | SOCK_CLOEXEC.
 *   - An IPv4 literal asked for with AF_UNSPEC is sent to the servers
 *     before c-ares fakes the answer, so literals are answered here.
 *   - Without ARES_FLAG_STAYOPEN the channel closes its sockets when the
 *     last query ends, so between lookups it holds no descriptor.
 *   - The per-try timeout doubles with each round over the servers, so with
 *     one server and two tries a lookup may take 3 tries' worth: the
 *     per-try value is a third of the bound, and our deadline cuts the rest.
 *
 * fork(). The channel records its socket numbers and its random query-id
 * state; a child must not reuse either. The resolver remembers the pid that
 * made its channel; a lookup in another pid replaces the channel first. The
 * old one is destroyed only when the socket functions show that it holds no
 * descriptor and no lookup was running (the normal case: fork between
 * lookups). Otherwise the parent forked while another thread was inside a
 * lookup; its sockets' numbers in the child may since belong to the child's
 * own files, so ares_destroy() could close them. The old channel is then
 * leaked on purpose (a few KiB, once per such fork).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "names/cares.h"
#include "names/resolver.h"
#include "names/subset.h"

/* c-ares' tries per server; the first try gets a third of the bound. */
#define RESOLVER_TRIES 2
#define RESOLVER_EDNS_SIZE 1232

struct swerve_resolver {
	ares_channel channel;   /* NULL after a failed re-creation */
	pid_t pid;              /* process that created <channel> */
	int open_socks;         /* descriptors <channel> holds right now */
	bool busy;              /* inside swerve_resolver_lookup */
	char *servers;          /* NULL: resolv.conf */
	char *lookups;          /* NULL: c-ares' default */
	uint64_t timeout_ms;
	uint64_t subset_seed;   /* this host's, see "Large answers" */
	const struct swerve_cares *ca;
	char source[256];       /* for messages, see swerve_resolver_source */
};

/* Result of one ares_getaddrinfo, filled by its callback. */
struct lookup_state {
	bool done;
	int status;
	struct ares_addrinfo *ai; /* owned once set */
	unsigned *pending;        /* the batch's count of lookups not done */
};

/*
 * Socket trampolines: c-ares calls these with the resolver as user data.
 * They reach libc through the door (inside the library the plain names are
 * swerve's own hooks, and c-ares' sockets must never be routed), and count
 * open descriptors, which is what makes the fork rule above decidable.
 */
static ares_socket_t call_socket(int domain, int type, int proto, void *arg)
{
	struct swerve_resolver *r = arg;
	int fd;

	/*
	 * c-ares configures only sockets it opens itself: with socket
	 * functions set it skips O_NONBLOCK and FD_CLOEXEC (configure_socket,
	 * "do not set options for user-managed sockets"). A blocking socket
	 * hangs read_udp_packets(), which reads until EAGAIN; so both are
	 * asked for here.
	 */
	type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
	fd = socket(domain, type, proto);
	if (fd != -1)
		r->open_socks++;
	return fd;
}

static int call_close(ares_socket_t fd, void *arg)
{
	struct swerve_resolver *r = arg;

	r->open_socks--;
	return swerve_libc_close(fd);
}

static int call_connect(ares_socket_t fd, const struct sockaddr *sa,
			ares_socklen_t len, void *arg)
{
	(void)arg;
	return swerve_libc_connect(fd, sa, len);
}

static ares_ssize_t call_recvfrom(ares_socket_t fd, void *buf, size_t len,
				  int flags, struct sockaddr *from,
				  ares_socklen_t *fromlen, void *arg)
{
	(void)arg;
	return swerve_libc_recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t call_sendv(ares_socket_t fd, const struct iovec *iov,
			       int iovcnt, void *arg)
{
	struct msghdr msg;

	(void)arg;
	/* writev() on a TCP socket the server closed raises SIGPIPE in the
	 * host; sendmsg() can say MSG_NOSIGNAL. */
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)iov;
	msg.msg_iovlen = (size_t)iovcnt;
	return swerve_libc_sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* c-ares keeps the pointer, so it must outlive every channel. */
static const struct ares_socket_functions socket_functions = {
	.asocket = call_socket,
	.aclose = call_close,
	.aconnect = call_connect,
	.arecvfrom = call_recvfrom,
	.asendv = call_sendv,
};

/* Appends "addr:port" of every server of <r>'s channel to <buf>. */
static void describe_servers(const struct swerve_resolver *r, char *buf,
			     size_t cap)
{
	struct ares_addr_port_node *list = NULL, *n;
	char ip[INET6_ADDRSTRLEN];
	size_t len = strlen(buf);
	int port, w;

	if (r->ca->ares_get_servers_ports(r->channel, &list) != ARES_SUCCESS)
		return;
	for (n = list; n != NULL && len < cap; n = n->next) {
		if (inet_ntop(n->family, &n->addr, ip, sizeof(ip)) == NULL)
			continue;
		port = n->udp_port != 0 ? n->udp_port : 53;
		w = snprintf(buf + len, cap - len,
			     n->family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d",
			     len > 0 ? ", " : "", ip, port);
		if (w < 0)
			break;
		len += (size_t)w;
	}
	r->ca->ares_free_data(list);
}

/* Fills r->source in lookup order: the hosts file and/or the servers. */
static void describe_source(struct swerve_resolver *r)
{
	const char *order = r->lookups != NULL ? r->lookups : "fb";
	size_t len;

	r->source[0] = '\0';
	for (; *order != '\0'; order++) {
		if (*order == 'b') {
			/* Adds its own separators. */
			describe_servers(r, r->source, sizeof(r->source));
			continue;
		}
		len = strlen(r->source);
		snprintf(r->source + len, sizeof(r->source) - len,
			 "%s/etc/hosts", len > 0 ? ", " : "");
	}
}

/* Creates r->channel from the stored settings. 0 or -errno. */
static int create_channel(struct swerve_resolver *r, char *err, size_t errlen)
{
	struct ares_options opts;
	uint64_t per_try;
	int optmask, st;

	memset(&opts, 0, sizeof(opts));
	per_try = r->timeout_ms / (RESOLVER_TRIES + 1);
	if (per_try == 0)
		per_try = 1;
	if (per_try > INT_MAX)
		per_try = INT_MAX;
	opts.timeout = (int)per_try;
	opts.tries = RESOLVER_TRIES;
	/*
	 * EDNS0 with the DNS flag day 2020 size: an answer of up to ~70 A
	 * records fits one UDP datagram instead of falling back to TCP.
	 * c-ares retries without EDNS when a server answers FORMERR.
	 */
	opts.flags = ARES_FLAG_EDNS;
	opts.ednspsz = RESOLVER_EDNS_SIZE;
	optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
		  ARES_OPT_EDNSPSZ;
	if (r->lookups != NULL) {
		opts.lookups = r->lookups; /* c-ares copies it */
		optmask |= ARES_OPT_LOOKUPS;
	}
	st = r->ca->ares_init_options(&r->channel, &opts, optmask);
	if (st != ARES_SUCCESS) {
		r->channel = NULL;
		swerve_log_reason(err, errlen, "c-ares channel: %s",
				  r->ca->ares_strerror(st));
		return st == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	r->pid = getpid();
	r->open_socks = 0;
	r->busy = false;
	if (r->servers != NULL && r->servers[0] != '\0') {
		st = r->ca->ares_set_servers_ports_csv(r->channel, r->servers);
		if (st != ARES_SUCCESS) {
			swerve_log_reason(err, errlen, "DNS servers \"%s\": %s",
				  r->servers, r->ca->ares_strerror(st));
			r->ca->ares_destroy(r->channel);
			r->channel = NULL;
			return st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
		}
	}
	r->ca->ares_set_socket_functions(r->channel, &socket_functions, r);
	describe_source(r);
	return 0;
}

/* Drops a channel made by another process, see the design comment. */
static void drop_inherited_channel(struct swerve_resolver *r)
{
	if (r->channel != NULL && r->open_socks == 0 && !r->busy)
		r->ca->ares_destroy(r->channel);
	r->channel = NULL;
}

static bool lookups_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 2 || strspn(s, "fb") != n)
		return false;
	return n == 1 || s[0] != s[1];
}

void swerve_resolver_set_subset_seed(struct swerve_resolver *r, uint64_t seed)
{
	r->subset_seed = seed;
}

int swerve_resolver_new(const char *servers, const char *lookups,
			uint64_t timeout_ms, struct swerve_resolver **out,
			char *err, size_t errlen)
{
	const struct swerve_cares *ca;
	struct swerve_resolver *r;
	int rc;

	*out = NULL;
	if (timeout_ms == 0) {
		swerve_log_reason(err, errlen, "DNS timeout must be above 0 ms");
		return -EINVAL;
	}
	if (lookups != NULL && !lookups_valid(lookups)) {
		swerve_log_reason(err, errlen,
			  "DNS lookups \"%s\": want b, f, fb or bf", lookups);
		return -EINVAL;
	}
	ca = swerve_cares(err, errlen);
	if (ca == NULL)
		return -ENOENT;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	r->ca = ca;
	r->timeout_ms = timeout_ms;
	r->subset_seed = swerve_subset_host_seed();
	if (servers != NULL && servers[0] != '\0') {
		r->servers = strdup(servers);
		if (r->servers == NULL)
			goto nomem;
	}
	if (lookups != NULL) {
		r->lookups = strdup(lookups);
		if (r->lookups == NULL)
			goto nomem;
	}
	rc = create_channel(r, err, errlen);
	if (rc != 0) {
		swerve_resolver_free(r);
		return rc;
	}
	*out = r;
	return 0;
nomem:
	swerve_log_reason(err, errlen, "out of memory");
	swerve_resolver_free(r);
	return -ENOMEM;
}

void swerve_resolver_free(struct swerve_resolver *r)
{
	if (r == NULL)
		return;
	if (r->channel != NULL) {
		if (r->pid == getpid())
			r->ca->ares_destroy(r->channel);
		else
			drop_inherited_channel(r);
		r->channel = NULL;
	}
	free(r->servers);
	free(r->lookups);
	free(r);
}

const char *swerve_resolver_source(const struct swerve_resolver *r)
{
	return r->source;
}

const char *swerve_resolver_library(const struct swerve_resolver *r)
{
	return r->ca->ares_version(NULL);
}

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *ai)
{
	struct lookup_state *ls = arg;

	(void)timeouts;
	ls->done = true;
	ls->status = status;
	ls->ai = ai;
	(*ls->pending)--;
}

/* Fills <pfd> with what c-ares waits for; returns how many. */
static int wanted_sockets(const struct swerve_resolver *r,
			  struct pollfd *pfd)
{
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	unsigned bits;
	int i, n = 0;

	/* Not ARES_GETSOCK_WRITABLE(): it shifts a signed 1 into the sign
	 * bit for the 16th socket (undefined behaviour). */
	bits = (unsigned)r->ca->ares_getsock(r->channel, socks,
					     ARES_GETSOCK_MAXNUM);
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		short ev = 0;

		if ((bits & (1u << i)) != 0)
			ev |= POLLIN;
		if ((bits & (1u << (i + ARES_GETSOCK_MAXNUM))) != 0)
			ev |= POLLOUT;
		if (ev == 0)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = ev;
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

/*
 * Drives r->channel until no lookup of the batch is <pending> or
 * <deadline_ms> passes. Returns 0, or -errno when poll() itself fails.
 */
static int drive(struct swerve_resolver *r, const unsigned *pending,
		 uint64_t deadline_ms)
{
	struct pollfd pfd[ARES_GETSOCK_MAXNUM];
	struct timeval maxtv, tv, *tvp;
	uint64_t now, wait_ms;
	int i, n, rc;
	bool any;

	while (*pending > 0) {
		now = swerve_now_ms();
		if (now >= deadline_ms)
			return 0;
		n = wanted_sockets(r, pfd);
		wait_ms = deadline_ms - now;
		maxtv.tv_sec = (time_t)(wait_ms / 1000);
		maxtv.tv_usec = (suseconds_t)(wait_ms % 1000 * 1000);
		tvp = r->ca->ares_timeout(r->channel, &maxtv, &tv);
		/* Round up: waking a millisecond early only spins. */
		wait_ms = (uint64_t)tvp->tv_sec * 1000 +
			  ((uint64_t)tvp->tv_usec + 999) / 1000;
		if (wait_ms > INT_MAX)
			wait_ms = INT_MAX;
		rc = poll(pfd, (nfds_t)n, (int)wait_ms);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		any = false;
		for (i = 0; i < n && *pending > 0; i++) {
			/* POLLERR/POLLHUP go in as "readable": the read
			 * then reports the error to c-ares. */
			short ev = pfd[i].revents;
			bool rd = (ev & (POLLIN | POLLERR | POLLHUP |
					 POLLNVAL)) != 0;
			bool wr = (ev & POLLOUT) != 0;

			if (!rd && !wr)
				continue;
			any = true;
			r->ca->ares_process_fd(
				r->channel, rd ? pfd[i].fd : ARES_SOCKET_BAD,
				wr ? pfd[i].fd : ARES_SOCKET_BAD);
		}
		/* Nothing ready: let c-ares handle its retry timeouts. */
		if (!any && *pending > 0)
			r->ca->ares_process_fd(r->channel, ARES_SOCKET_BAD,
					       ARES_SOCKET_BAD);
	}
	return 0;
}

static int compare_addrs(const void *a, const void *b)
{
	const struct sockaddr_storage *x = a, *y = b;
	const struct sockaddr_in6 *x6, *y6;
	int c;

	if (x->ss_family != y->ss_family)
		return x->ss_family == AF_INET ? -1 : 1;
	if (x->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr, 4);
	x6 = a;
	y6 = b;
	c = memcmp(&x6->sin6_addr, &y6->sin6_addr, 16);
	if (c != 0)
		return c;
	return (x6->sin6_scope_id > y6->sin6_scope_id) -
	       (x6->sin6_scope_id < y6->sin6_scope_id);
}

/* Copies address <node> into <ss> (port 0); false for other families. */
static bool copy_node(const struct ares_addrinfo_node *node,
		      struct sockaddr_storage *ss)
{
	if (node->ai_family == AF_INET &&
	    node->ai_addrlen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = ((struct sockaddr_in *)node->ai_addr)->sin_addr;
		return true;
	}
	if (node->ai_family == AF_INET6 &&
	    node->ai_addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *src = (const void *)node->ai_addr;
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = src->sin6_addr;
		sin6->sin6_scope_id = src->sin6_scope_id;
		return true;
	}
	return false;
}

/*
 * Copies the addresses of <ai> into <addrs> (sorted, unique, at most
 * <max>, chosen for this host beyond that) and the smallest TTL into
 * *<ttl_s>. Returns the count, 0 when the answer holds no address, or
 * -ENOMEM.
 */
static int collect(const struct swerve_resolver *r,
		   const struct ares_addrinfo *ai,
		   struct sockaddr_storage *addrs, unsigned max,
		   uint32_t *ttl_s)
{
	const struct ares_addrinfo_node *node;
	const struct ares_addrinfo_cname *cn;
	struct sockaddr_storage *all;
	size_t n = 0, total = 0, i, uniq;
	long long ttl = -1;
	int kept;

	for (node = ai->nodes; node != NULL; node = node->ai_next)
		total++;
	if (total == 0)
		return 0;
	all = calloc(total, sizeof(*all));
	if (all == NULL)
		return -ENOMEM;
	for (node = ai->nodes; node != NULL; node = node->ai_next) {
		if (!copy_node(node, &all[n]))
			continue;
		n++;
		if (ttl == -1 || node->ai_ttl < ttl)
			ttl = node->ai_ttl;
	}
	/* A CNAME's TTL bounds how long its target's addresses hold too. */
	for (cn = ai->cnames; cn != NULL; cn = cn->next)
		if (ttl == -1 || cn->ttl < ttl)
			ttl = cn->ttl;
	qsort(all, n, sizeof(*all), compare_addrs);
	for (i = 0, uniq = 0; i < n; i++)
		if (uniq == 0 || compare_addrs(&all[uniq - 1], &all[i]) != 0)
			all[uniq++] = all[i];
	if (uniq <= max) {
		memcpy(addrs, all, uniq * sizeof(*all));
		kept = (int)uniq;
	} else {
		kept = swerve_subset_keep(all, uniq, addrs, max,
					  r->subset_seed);
		if (kept > 0)
			qsort(addrs, (size_t)kept, sizeof(*addrs),
			      compare_addrs);
	}
	free(all);
	*ttl_s = ttl > 0 ? (uint32_t)ttl : 0;
	return kept;
}

/*
 * Answers an IPv4 or IPv6 literal itself: c-ares 1.18.1 sends an IPv4
 * literal asked for with AF_UNSPEC to the DNS servers before faking the
 * answer (seen with dnsd), which would leak a query for every endpoint
 * written as an address. Returns 1, or 0 when <name> is no literal.
 */
static int answer_literal(const char *name, struct sockaddr_storage *addr)
{
	struct sockaddr_in *sin = (void *)addr;
	struct sockaddr_in6 *sin6 = (void *)addr;

	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, name, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 1;
	}
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET6, name, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 1;
	}
	return 0;
}

/* Maps a failed lookup to -errno and a message; <bound_ms> for timeouts. */
static int explain(const struct swerve_resolver *r, const char *name,
		   int status, uint64_t bound_ms, char *err, size_t errlen)
{
	switch (status) {
	case ARES_ENOTFOUND:
		swerve_log_reason(err, errlen, "%s: no such name (NXDOMAIN) from %s",
			  name, r->source);
		return -ENOENT;
	case ARES_ENODATA:
		swerve_log_reason(err, errlen,
			  "%s: no A or AAAA records (NODATA) from %s", name,
			  r->source);
		return -ENOENT;
	case ARES_ETIMEOUT:
	case ARES_ECANCELLED:
		swerve_log_reason(err, errlen, "%s: no answer within %llu ms from %s",
			  name, (unsigned long long)bound_ms, r->source);
		return -ETIMEDOUT;
	case ARES_EREFUSED:
	case ARES_ECONNREFUSED:
		/* 1.18.1 reports a REFUSED answer as ARES_ECONNREFUSED too,
		 * so the message cannot tell the two apart. */
		swerve_log_reason(err, errlen,
			  "%s: refused by %s (REFUSED or port unreachable)",
			  name, r->source);
		return -ECONNREFUSED;
	case ARES_ESERVFAIL:
		swerve_log_reason(err, errlen, "%s: server failure (SERVFAIL) from %s",
			  name, r->source);
		return -EIO;
	case ARES_ENOMEM:
		swerve_log_reason(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	default:
		swerve_log_reason(err, errlen, "%s: %s (from %s)", name,
			  r->ca->ares_strerror(status), r->source);
		return -EIO;
	}
}

/*
 * Sets q->rc for a query answered without the channel (bad arguments, an
 * IP literal); returns false when it needs the channel.
 */
static bool answer_at_once(struct swerve_resolver_query *q)
{
	q->ttl_s = 0;
	q->err[0] = '\0';
	if (q->name == NULL || q->name[0] == '\0' || q->max == 0) {
		q->rc = -EINVAL;
		swerve_log_reason(q->err, sizeof(q->err),
				  "empty name or no room for addresses");
		return true;
	}
	q->rc = answer_literal(q->name, &q->addrs[0]);
	return q->rc == 1;
}

/* Turns the outcome <ls> of <q> into q->rc, q->ttl_s and q->err. */
static void conclude(const struct swerve_resolver *r,
		     struct swerve_resolver_query *q, struct lookup_state *ls,
		     int poll_rc, uint64_t bound_ms)
{
	if (!ls->done || ls->status != ARES_SUCCESS) {
		if (ls->ai != NULL)
			r->ca->ares_freeaddrinfo(ls->ai);
		if (poll_rc != 0) {
			swerve_log_reason(q->err, sizeof(q->err),
					  "%s: poll: %s", q->name,
					  strerror(-poll_rc));
			q->rc = -EIO;
			return;
		}
		q->rc = explain(r, q->name,
				ls->done ? ls->status : ARES_ETIMEOUT, bound_ms,
				q->err, sizeof(q->err));
		return;
	}
	if (ls->ai == NULL) {
		q->rc = explain(r, q->name, ARES_ENODATA, bound_ms, q->err,
				sizeof(q->err));
		return;
	}
	q->rc = collect(r, ls->ai, q->addrs, q->max, &q->ttl_s);
	r->ca->ares_freeaddrinfo(ls->ai);
	if (q->rc <= 0)
		q->rc = explain(r, q->name, q->rc == 0 ? ARES_ENODATA
						       : ARES_ENOMEM,
				bound_ms, q->err, sizeof(q->err));
}

/* A channel for this process, made anew after fork(). 0 or -errno. */
static int ready_channel(struct swerve_resolver *r, char *err, size_t errlen)
{
	if (r->channel != NULL && r->pid != getpid())
		drop_inherited_channel(r);
	if (r->channel == NULL)
		return create_channel(r, err, errlen);
	return 0;
}

/* Starts the lookups of <q> that need the channel; returns how many. */
static unsigned start(struct swerve_resolver *r,
		      struct swerve_resolver_query *q, unsigned n,
		      struct lookup_state *ls, unsigned *pending)
{
	struct ares_addrinfo_hints hints;
	unsigned i, started = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	/* No RFC 6724 sort: it would connect() a UDP socket per address. */
	hints.ai_flags = ARES_AI_NOSORT;
	for (i = 0; i < n; i++) {
		if (q[i].rc != -EINPROGRESS)
			continue;
		ls[i].pending = pending;
		(*pending)++;
		started++;
		/* The callback may run right here (hosts file). */
		r->ca->ares_getaddrinfo(r->channel, q[i].name, NULL, &hints,
					on_addrinfo, &ls[i]);
	}
	return started;
}

void swerve_resolver_lookup_many(struct swerve_resolver *r,
				 struct swerve_resolver_query *q, unsigned n,
				 uint64_t timeout_ms, uint64_t deadline_ms)
{
	struct lookup_state *ls;
	unsigned pending = 0, i, todo = 0;
	char why[sizeof(q->err)] = "";
	int rc;

	for (i = 0; i < n; i++) {
		if (!answer_at_once(&q[i])) {
			q[i].rc = -EINPROGRESS;
			todo++;
		}
	}
	if (todo == 0)
		return;
	if (timeout_ms == 0 || timeout_ms > r->timeout_ms)
		timeout_ms = r->timeout_ms;
	ls = calloc(n, sizeof(*ls));
	rc = ls == NULL ? -ENOMEM : ready_channel(r, why, sizeof(why));
	for (i = 0; i < n && rc != 0; i++) {
		if (q[i].rc != -EINPROGRESS)
			continue;
		q[i].rc = rc;
		swerve_log_reason(q[i].err, sizeof(q[i].err), "%s: %s",
				  q[i].name, rc == -ENOMEM ? "out of memory"
							   : why);
	}
	if (rc != 0) {
		free(ls);
		return;
	}
	r->busy = true;
	start(r, q, n, ls, &pending);
	if (deadline_ms == 0 || deadline_ms > swerve_now_ms() + timeout_ms)
		deadline_ms = swerve_now_ms() + timeout_ms;
	rc = drive(r, &pending, deadline_ms);
	if (pending > 0)
		r->ca->ares_cancel(r->channel);
	if (pending > 0) {
		/* Never seen: a callback would later write to freed memory,
		 * so the channel goes, callbacks and all. */
		r->ca->ares_destroy(r->channel);
		r->channel = NULL;
	}
	r->busy = false;
	for (i = 0; i < n; i++)
		if (q[i].rc == -EINPROGRESS)
			conclude(r, &q[i], &ls[i], rc, timeout_ms);
	free(ls);
}

int swerve_resolver_lookup(struct swerve_resolver *r, const char *name,
			   struct sockaddr_storage *addrs, unsigned max,
			   uint32_t *ttl_s, char *err, size_t errlen)
{
	struct swerve_resolver_query q;

	memset(&q, 0, sizeof(q));
	q.name = name;
	q.addrs = addrs;
	q.max = max;
	swerve_resolver_lookup_many(r, &q, 1, r->timeout_ms, 0);
	*ttl_s = q.ttl_s;
	if (q.rc < 0)
		swerve_log_reason(err, errlen, "%s", q.err);
	return q.rc;
}
