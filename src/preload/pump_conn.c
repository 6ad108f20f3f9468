/*
 * pump_conn.c: one connection relayed by the pump, from the application's
 * plaintext to an endpoint's TLS. Its life:
 *   1. attempts: pick an endpoint with the same plan, table and verdicts as
 *      a routed connect (connect.c), connect without blocking, make the TLS
 *      handshake and verify the certificate, all within connect_timeout. A
 *      TCP failure, a handshake failure or a certificate that does not
 *      verify is the endpoint's failure (Envoy counts a TLS handshake
 *      failure as a connect failure), and the next endpoint is tried, up to
 *      connect_attempts. The application's request waits in its socket
 *      meanwhile: nothing of it is read before a handshake has verified,
 *      so plaintext never reaches an endpoint whose certificate failed.
 *   2. relay: two fixed buffers, one per direction, and the TLS state. A
 *      protocol = http service's plaintext is fed to the HTTP tracker, so
 *      5xx, gateway errors, resets before a response and requests abandoned
 *      after response_timeout count as they do on a routed connection.
 *   3. retries (pump_retry.c decides): an http service's idempotent
 *      request that met a retriable status or a reset before its response
 *      goes to another endpoint (not one tried for it), after Envoy's
 *      back-off, and the application sees only the answer of the last
 *      attempt.
 *   4. the end: half-closes pass through; a reset by the endpoint resets
 *      the application's connection. When every attempt failed, an http
 *      service answers Envoy's `503 no healthy upstream`, a tcp service
 *      resets the connection.
 *
 * Thread-safety: only the pump thread touches a connection.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "policy/httptrack.h"
#include "policy/retry.h"
#include "preload/preload.h"
#include "preload/pump_conn.h"
#include "preload/pump_retry.h"
#include "tls/client.h"
#include "tls/ossl.h"

/* Per direction: one TLS record's worth of plaintext. */
#define PUMP_BUF 16384
/* After the application closed its side of a connection, the endpoint
 * has this long to close its own. */
#define HALF_CLOSED_MS 60000
/* The 503 is left this long for the application to read. */
#define DRAIN_MS 5000
/* A service whose TLS settings failed to load is tried again after. */
#define CTX_RETRY_MS 5000

static const char no_upstream[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"content-length: 19\r\n"
	"content-type: text/plain\r\n"
	"connection: close\r\n"
	"\r\n"
	"no healthy upstream";

enum phase {
	PH_CONNECT,     /* TCP connect to the endpoint in progress */
	PH_HANDSHAKE,   /* TLS handshake in progress */
	PH_RELAY,
	PH_DRAIN,       /* answered 503: let the application read it */
	PH_BACKOFF,     /* a retry waits for its turn (Envoy's back-off) */
};

struct swerve_pump_conn {
	unsigned idx;
	int app, up;
	unsigned s;
	int ep;                  /* current endpoint, -1: none */
	struct swerve_pump_reg *reg;
	enum phase ph;
	uint64_t deadline;       /* attempt, drain or half-close; 0: none */
	struct swerve_attempt at;     /* tried[]: for the current request */
	unsigned nconn;          /* attempts of the current connect sequence */
	int retry_ep;            /* PH_BACKOFF: the endpoint picked next */
	struct swerve_tls_conn *tls;
	short want_rd, want_wr;  /* what TLS waits for, per direction */
	bool app_eof, up_eof, app_shut, up_shut, http;
	bool pending, active;    /* counted in the service's pending/active */
	uint32_t app_ev, up_ev;  /* epoll interest now */
	uint32_t ulen, uoff;     /* application -> endpoint */
	uint32_t dlen, doff;     /* endpoint -> application */
	struct swerve_pump_retry rt;
	struct swerve_httptrack t;
	unsigned char ubuf[PUMP_BUF];
	unsigned char dbuf[PUMP_BUF];
};

static void ctx_after_fork(struct svc_state *ss)
{
	if (ss->tls_ctx != NULL)
		swerve_tls_ctx_atfork_child(ss->tls_ctx);
}

/* Each service's TLS context is in its svc_state: built on first use by
 * the pump, freed with its generation. */
void swerve_pump_conn_after_fork(void)
{
	swerve_gens_foreach_service(ctx_after_fork);
}

static const struct swerve_service *svc_of(const struct swerve_pump_conn *c)
{
	return swerve_services[c->s].svc;
}

/* Sets the epoll interest of one side. */
static void interest(struct swerve_pump_conn *c, int side, uint32_t ev)
{
	uint32_t *cur = side == 0 ? &c->app_ev : &c->up_ev;
	struct epoll_event e = {
		.events = ev,
		.data.u64 = SWERVE_PUMP_TAG_CONN + 2u * c->idx + (unsigned)side,
	};

	if (*cur == ev)
		return;
	epoll_ctl(swerve_pump.epfd, EPOLL_CTL_MOD, side == 0 ? c->app : c->up,
		  &e);
	*cur = ev;
}

static uint32_t ev_of(short want)
{
	return want == POLLOUT ? EPOLLOUT : EPOLLIN;
}

/* The TLS context of service <s>, built on first use; NULL (and a line
 * on stderr) when its settings cannot be loaded. */
static struct swerve_tls_ctx *ctx_of(unsigned s, uint64_t now)
{
	struct svc_state *ss = &swerve_services[s];
	const struct swerve_service *svc = ss->svc;
	char err[256];
	int rc;

	if (ss->tls_ctx != NULL)
		return ss->tls_ctx;
	if (ss->tls_failed_ms != 0 && now - ss->tls_failed_ms < CTX_RETRY_MS)
		return NULL;
	rc = swerve_ossl_load(err, sizeof(err));
	if (rc == 0)
		rc = swerve_tls_ctx_new(&svc->tls, &ss->tls_ctx, err,
					sizeof(err));
	if (rc != 0) {
		if (ss->tls_failed_ms == 0)
			swerve_log(SWERVE_LOG_WARN, "%s: cannot originate TLS:"
				   " %s", svc->name, err);
		ss->tls_failed_ms = now;
		return NULL;
	}
	if (ss->tls_failed_ms != 0)
		swerve_log(SWERVE_LOG_WARN, "%s: TLS settings loaded",
			   svc->name);
	ss->tls_failed_ms = 0;
	return ss->tls_ctx;
}

/* The endpoint's count of attempts in flight (the balancer's and the
 * avoidance's) no longer has this one. */
static void counters_leave_pending(struct swerve_pump_conn *c)
{
	struct svc_state *ss = &swerve_services[c->s];

	if (c->pending)
		atomic_fetch_sub(&ss->pending[c->ep], 1);
	c->pending = false;
}

/* Closes the endpoint side of the current attempt. */
static void up_close(struct swerve_pump_conn *c)
{
	if (c->tls != NULL) {
		/* OpenSSL makes a session freed without a close_notify
		 * unresumable: the next connection would pay a full
		 * handshake. */
		if (c->active && !c->up_shut)
			swerve_tls_conn_close_notify(c->tls);
		swerve_tls_conn_free(c->tls);
		c->tls = NULL;
	}
	if (c->up >= 0) {
		swerve_pump_fd_set(c->idx, 1, -1);
		swerve_libc_close(c->up);
		c->up = -1;
	}
	c->up_ev = 0;
	c->want_rd = c->want_wr = 0;
}

/* Closes the application's side, with a reset when <reset>. */
static void app_close(struct swerve_pump_conn *c, bool reset)
{
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->app, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	swerve_pump_fd_set(c->idx, 0, -1);
	swerve_libc_close(c->app);
	c->app = -1;
}

/* The end of the connection: everything closed and freed. */
static void finish(struct swerve_pump_conn *c, bool reset_app)
{
	struct svc_state *ss = &swerve_services[c->s];

	counters_leave_pending(c);
	if (c->active)
		atomic_fetch_sub(&ss->active[c->ep], 1);
	up_close(c);
	app_close(c, reset_app);
	swerve_pump_retry_free(&c->rt);
	swerve_pump_reg_end(c->reg);
	swerve_pump_conn_gone(c->idx);
	free(c);
}

/* Every attempt failed: Envoy's answer for an http service, a reset for
 * a tcp one. */
static void give_up(struct swerve_pump_conn *c, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);

	swerve_log(SWERVE_LOG_INFO, "%s: no healthy upstream", svc->name);
	if (svc->protocol != SWERVE_PROTOCOL_HTTP) {
		finish(c, true);
		return;
	}
	counters_leave_pending(c);
	c->ep = -1;
	c->ph = PH_DRAIN;
	memcpy(c->dbuf, no_upstream, sizeof(no_upstream) - 1);
	c->dlen = sizeof(no_upstream) - 1;
	c->doff = 0;
	c->up_eof = true;
	c->deadline = now + DRAIN_MS;
	swerve_pump_conn_event(c, 0, EPOLLOUT, now);
}

static void attempt_next(struct swerve_pump_conn *c, uint64_t now);
static bool app_gone(struct swerve_pump_conn *c, uint64_t now);

/*
 * The current attempt failed with <err> (a TCP error, or -EPROTO /
 * -EKEYREJECTED for the handshake, <verify> the certificate's error):
 * counted against the endpoint, and the next one is tried.
 */
static void attempt_failed(struct swerve_pump_conn *c, int err, int verify,
			   const char *why, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	struct svc_state *ss = &swerve_services[c->s];
	bool tls_fail = c->ph == PH_HANDSHAKE;

	if (tls_fail)
		swerve_shm_tls_note(ss->rows[c->ep], false, false, verify);
	swerve_fdtrack_record(c->s, (unsigned)c->ep,
			      err == ETIMEDOUT ? SWERVE_OUTCOME_CONNECT_TIMEOUT
					       : SWERVE_OUTCOME_CONNECT_FAILED,
			      0);
	swerve_log(tls_fail && verify != 0 ? SWERVE_LOG_WARN : SWERVE_LOG_INFO,
		   "%s: %s failed (%s)%s", svc->name,
		   svc->endpoints[c->ep].text, why,
		   c->nconn < svc->connect_attempts ? ", trying the next "
						      "endpoint" : "");
	counters_leave_pending(c);
	up_close(c);
	c->ph = PH_CONNECT;
	attempt_next(c, now);
}

/* The names the endpoint's certificate may carry, and the SNI. */
static unsigned names_of(const struct swerve_pump_conn *c, const char **sni,
			 const char *const **names)
{
	const struct swerve_service *svc = svc_of(c);
	const struct swerve_endpoint *e = &svc->endpoints[c->ep];

	*sni = svc->tls.sni != NULL && svc->tls.sni[0] != '\0' ? svc->tls.sni
							       : e->name;
	if (*sni != NULL && (*sni)[0] == '\0')
		*sni = NULL;
	if (svc->tls.nsan > 0) {
		*names = svc->tls.san;
		return svc->tls.nsan;
	}
	*names = sni;
	return *sni != NULL ? 1 : 0;
}

static void handshake_step(struct swerve_pump_conn *c, uint64_t now);

/* TCP is up: the TLS handshake begins. */
static void handshake_begin(struct swerve_pump_conn *c, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	struct swerve_tls_ctx *ctx = ctx_of(c->s, now);
	const char *const *names;
	const char *sni;
	char key[200], err[256];
	unsigned n;

	if (ctx == NULL) {
		/* Our settings, not the endpoint's fault: nothing to count,
		 * and no other endpoint would do better. */
		counters_leave_pending(c);
		up_close(c);
		give_up(c, now);
		return;
	}
	n = names_of(c, &sni, &names);
	snprintf(key, sizeof(key), "%s/%s", svc->name,
		 svc->endpoints[c->ep].text);
	if (swerve_tls_conn_new(ctx, c->up, key, sni, names, n, &c->tls, err,
				sizeof(err)) != 0) {
		c->ph = PH_HANDSHAKE;
		attempt_failed(c, EPROTO, 0, err, now);
		return;
	}
	c->ph = PH_HANDSHAKE;
	handshake_step(c, now);
}

/* The endpoint is ours: counted, and the relay starts. */
static void established(struct swerve_pump_conn *c, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	struct svc_state *ss = &swerve_services[c->s];

	counters_leave_pending(c);
	atomic_fetch_add(&ss->active[c->ep], 1);
	c->active = true;
	swerve_shm_tls_note(ss->rows[c->ep], true,
			    swerve_tls_conn_resumed(c->tls), 0);
	c->http = svc->protocol == SWERVE_PROTOCOL_HTTP;
	swerve_fdtrack_record(c->s, (unsigned)c->ep,
			      c->http ? SWERVE_OUTCOME_HTTP_CONNECT_OK
				      : SWERVE_OUTCOME_CONNECT_OK, 0);
	if (c->http)
		swerve_httptrack_init(&c->t);
	c->ph = PH_RELAY;
	c->deadline = 0;
	swerve_log(SWERVE_LOG_DEBUG, "%s: relaying to %s (TLS%s)", svc->name,
		   svc->endpoints[c->ep].text,
		   swerve_tls_conn_resumed(c->tls) ? ", resumed" : "");
	swerve_pump_conn_event(c, 0, EPOLLIN, now);
}

static void handshake_step(struct swerve_pump_conn *c, uint64_t now)
{
	char err[256];
	short want = 0;
	int rc;

	err[0] = '\0';
	rc = swerve_tls_conn_handshake(c->tls, &want, err, sizeof(err));
	if (rc == 0) {
		established(c, now);
	} else if (rc == -EAGAIN) {
		interest(c, 1, ev_of(want));
	} else {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "TLS handshake: %s",
				 strerror(-rc));
		attempt_failed(c, -rc == ECONNRESET || -rc == EPIPE
					  ? ECONNRESET : EPROTO,
			       swerve_tls_conn_verify_error(c->tls), err, now);
	}
}

/* A non-blocking connect to endpoint <c->ep>: false when it failed at
 * once (<*err>). */
static bool dial(struct swerve_pump_conn *c, int *err)
{
	struct sockaddr_storage sa;
	struct epoll_event e;
	socklen_t len;
	bool stale = false;
	int family = AF_INET, one = 1;

	len = swerve_connect_endpoint_addr(c->s, (unsigned)c->ep, AF_INET,
					   false, c->reg->port, &sa, &stale);
	if (len == 0) {
		family = AF_INET6;
		len = swerve_connect_endpoint_addr(c->s, (unsigned)c->ep,
						   AF_INET6, false,
						   c->reg->port, &sa, &stale);
	}
	if (stale)
		swerve_dnscache_note_stale(swerve_services[c->s].dns,
					   swerve_services[c->s].local,
					   (unsigned)c->ep);
	*err = EHOSTUNREACH;
	if (len == 0)
		return false;
	c->up = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->up < 0) {
		*err = errno;
		return false;
	}
	swerve_pump_fd_set(c->idx, 1, c->up);
	setsockopt(c->up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	e.events = EPOLLOUT;
	e.data.u64 = SWERVE_PUMP_TAG_CONN + 2u * c->idx + 1;
	c->up_ev = EPOLLOUT;
	if (epoll_ctl(swerve_pump.epfd, EPOLL_CTL_ADD, c->up, &e) != 0) {
		*err = errno;
		return false;
	}
	if (swerve_libc_connect(c->up, (struct sockaddr *)&sa, len) == 0 ||
	    errno == EINPROGRESS)
		return true;
	*err = errno;
	return false;
}

/* The next attempt goes to endpoint <idx>. */
static void attempt_to(struct swerve_pump_conn *c, int idx, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	struct svc_state *ss = &swerve_services[c->s];
	int err;

	c->at.tried[c->at.ntried++] = (uint16_t)idx;
	c->nconn++;
	c->ep = idx;
	if (atomic_fetch_add(&ss->pending[idx], 1) == 0)
		atomic_store_explicit(&ss->pending_since[idx], now,
				      memory_order_relaxed);
	c->pending = true;
	c->ph = PH_CONNECT;
	c->deadline = now + svc->connect_timeout_ms;
	if (!dial(c, &err))
		attempt_failed(c, err, 0, strerror(err), now);
}

/* The next attempt, or the end when none is left. */
static void attempt_next(struct swerve_pump_conn *c, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	int idx;

	if (c->nconn >= svc->connect_attempts ||
	    c->at.ntried >= svc->nendpoints ||
	    c->at.ntried >= SWERVE_ARRAY_LEN(c->at.tried) ||
	    (idx = swerve_connect_pick(c->s, PLAN_CLASS_DUAL, &c->at, NULL,
				       0)) < 0) {
		c->ep = -1;
		give_up(c, now);
		return;
	}
	attempt_to(c, idx, now);
}

struct swerve_pump_conn *swerve_pump_conn_new(unsigned idx, int fd,
					      struct swerve_pump_reg *r,
					      uint64_t now)
{
	struct swerve_pump_conn *c = malloc(sizeof(*c));
	struct epoll_event e = { .events = 0 };

	if (c == NULL)
		return NULL;
	memset(c, 0, offsetof(struct swerve_pump_conn, t));
	c->idx = idx;
	c->app = fd;
	c->up = -1;
	c->ep = -1;
	c->reg = r;
	c->s = r->svc;
	c->at.ss = &swerve_services[c->s];
	swerve_pump_fd_set(idx, 0, fd);
	e.data.u64 = SWERVE_PUMP_TAG_CONN + 2u * idx;
	if (epoll_ctl(swerve_pump.epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
		swerve_pump_fd_set(idx, 0, -1);
		free(c);
		return NULL;
	}
	(void)now;
	return c;
}

void swerve_pump_conn_start(struct swerve_pump_conn *c, uint64_t now)
{
	attempt_next(c, now);
}

uint64_t swerve_pump_conn_deadline(const struct swerve_pump_conn *c)
{
	return c->deadline;
}

void swerve_pump_conn_expire(struct swerve_pump_conn *c, uint64_t now)
{
	if (c->ph == PH_CONNECT || c->ph == PH_HANDSHAKE) {
		attempt_failed(c, ETIMEDOUT, 0, "connect_timeout", now);
		return;
	}
	if (c->ph == PH_BACKOFF) {
		attempt_to(c, c->retry_ep, now);
		return;
	}
	/* A half-closed http client whose request is still unanswered
	 * after HALF_CLOSED_MS has waited response_timeout too. */
	if (c->ph == PH_RELAY)
		app_gone(c, now);
	finish(c, c->ph == PH_RELAY);
}

/* Events of the HTTP tracker, gathered for one report. */
struct batch {
	unsigned n;
	struct swerve_httptrack_event ev[SWERVE_HTTPTRACK_QUEUE + 2];
};

static void collect(void *arg, const struct swerve_httptrack_event *ev)
{
	struct batch *b = arg;

	if (b->n < sizeof(b->ev) / sizeof(b->ev[0]))
		b->ev[b->n++] = *ev;
}

/* What one direction moved, or its end (<n> 0), told to the tracker;
 * what it found, in <seen> (NULL: not wanted). */
static void observe(struct swerve_pump_conn *c, bool response,
		    const void *buf, size_t n, uint64_t now,
		    struct swerve_pump_seen *seen)
{
	struct batch b = { .n = 0 };

	if (!c->http || c->ep < 0)
		return;
	if (n == 0)
		swerve_httptrack_eof(&c->t, collect, &b);
	else if (response)
		swerve_httptrack_read(&c->t, buf, n, now, collect, &b);
	else
		swerve_httptrack_write(&c->t, buf, n, now, collect, &b);
	if (b.n > 0)
		swerve_http_report(c->s, (unsigned)c->ep, b.ev, b.n, now);
	if (seen != NULL)
		swerve_pump_retry_note(seen, b.ev, b.n);
}

/* The application is gone: a request it left unanswered for
 * response_timeout is the endpoint's timeout (as on a routed socket).
 * True when it counted one. */
static bool app_gone(struct swerve_pump_conn *c, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);

	if (c->http && c->ep >= 0 &&
	    swerve_httptrack_abandoned(&c->t, now, svc->response_timeout_ms)) {
		swerve_fdtrack_record(c->s, (unsigned)c->ep,
				      SWERVE_OUTCOME_HTTP_TIMEOUT, 0);
		return true;
	}
	return false;
}

/* A new request: the endpoints tried for the previous one are tried
 * again if need be (Envoy's previous_hosts is per request). */
static void forget_tried(struct swerve_pump_conn *c)
{
	c->at.tried[0] = (uint16_t)c->ep;
	c->at.ntried = 1;
}

/* Buffer -> endpoint: the kept request while it is being sent again,
 * then the application's bytes. -1: the connection ended. */
static int write_up(struct swerve_pump_conn *c, uint64_t now)
{
	const unsigned char *p = NULL;
	size_t len = swerve_pump_retry_resend(&c->rt, &p);
	bool resend = len > 0;
	short want = 0;
	ssize_t n;

	if (!resend) {
		p = c->ubuf + c->uoff;
		len = c->ulen - c->uoff;
	}
	if (len == 0 || c->want_wr != 0)
		return 0;
	n = swerve_tls_conn_write(c->tls, p, len, &want);
	if (n == -EAGAIN) {
		c->want_wr = want;
		return 0;
	}
	if (n <= 0) {
		observe(c, true, NULL, 0, now, NULL);
		finish(c, true);
		return -1;
	}
	if (resend)
		swerve_pump_retry_resent(&c->rt, (size_t)n);
	else if (swerve_pump_retry_sent(&c->rt, svc_of(c), &c->t, p,
					(size_t)n))
		forget_tried(c);
	observe(c, false, p, (size_t)n, now, NULL);
	if (!resend) {
		c->uoff += (uint32_t)n;
		if (c->uoff == c->ulen)
			c->uoff = c->ulen = 0;
	}
	return 1;
}

/* Application -> buffer -> endpoint. -1: the connection ended. */
static int pump_up(struct swerve_pump_conn *c, uint64_t now)
{
	bool moved = false;
	ssize_t n;

	if (!c->app_eof && c->ulen < PUMP_BUF) {
		n = swerve_libc_recv(c->app, c->ubuf + c->ulen,
				     PUMP_BUF - c->ulen, MSG_DONTWAIT);
		if (n > 0) {
			c->ulen += (uint32_t)n;
			moved = true;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->app_eof = true;
			/* An end of input is a half-close, passed on as the
			 * kernel does on a routed socket: an http client that
			 * shuts its side down after its request (nc -N,
			 * socat) still reads the answer. A reset, or an end
			 * after the request waited response_timeout unanswered
			 * (a client that gave up), ends the connection. */
			if (app_gone(c, now) || n < 0) {
				finish(c, false);
				return -1;
			}
			c->deadline = now + HALF_CLOSED_MS;
		}
	}
	n = write_up(c, now);
	if (n < 0)
		return -1;
	return moved || n > 0;
}

/*
 * The kept request goes to another endpoint, one not tried for it yet,
 * after Envoy's back-off; <seen> says why. False when none is left: what
 * was held then goes to the application as it is.
 */
static bool retry(struct swerve_pump_conn *c,
		  const struct swerve_pump_seen *seen, uint64_t now)
{
	const struct swerve_service *svc = svc_of(c);
	struct svc_state *ss = &swerve_services[c->s];
	char why[64];
	int idx = -1;

	if (c->at.ntried < SWERVE_ARRAY_LEN(c->at.tried))
		idx = swerve_connect_pick(c->s, PLAN_CLASS_DUAL, &c->at, NULL,
					  0);
	if (idx < 0) {
		swerve_pump_retry_pass(&c->rt);
		return false;
	}
	if (seen->status != 0 && seen->status_req == c->rt.seq)
		snprintf(why, sizeof(why), "answered %d", seen->status);
	else
		snprintf(why, sizeof(why), "ended the connection first");
	swerve_log(SWERVE_LOG_INFO, "%s: %s %s: retrying on %s (retry %u of "
		   "%u)", svc->name, svc->endpoints[c->ep].text, why,
		   svc->endpoints[idx].text, c->rt.used + 1,
		   svc->retry.attempts);
	up_close(c);
	atomic_fetch_sub(&ss->active[c->ep], 1);
	c->active = false;
	/* The held start of the answer is dropped: it never happened. */
	c->dlen = c->doff = 0;
	c->up_eof = c->up_shut = false;
	c->ep = -1;
	c->nconn = 0;
	c->retry_ep = idx;
	swerve_pump_retry_begin(&c->rt);
	interest(c, 0, 0);
	/* The pump never sleeps: the back-off is the connection's deadline
	 * (it may be now, then the loop's deadline pass starts it). */
	c->ph = PH_BACKOFF;
	c->deadline = now + swerve_retry_backoff_ms(c->rt.used,
						    swerve_runtime_random());
	return true;
}

/* Endpoint -> buffer. -1: the relay stops here (the connection ended, or
 * its request went to another endpoint). */
static int read_down(struct swerve_pump_conn *c, uint64_t now)
{
	struct swerve_pump_seen seen = { .status = 0 };
	enum swerve_pump_verdict v;
	ssize_t n;
	short want = 0;

	if (c->up_eof || c->dlen >= PUMP_BUF || c->want_rd != 0)
		return 0;
	n = swerve_tls_conn_read(c->tls, c->dbuf + c->dlen,
				 PUMP_BUF - c->dlen, &want);
	if (n == -EAGAIN) {
		c->want_rd = want;
		return 0;
	}
	if (n > 0) {
		if (c->http)
			swerve_pump_retry_response(&c->rt, svc_of(c), &c->t,
						   c->dlen - c->doff, c->ulen);
		observe(c, true, c->dbuf + c->dlen, (size_t)n, now, &seen);
		c->dlen += (uint32_t)n;
	} else {
		c->up_eof = true;
		/* An end that follows the application's own is the
		 * endpoint's answer to it (a server may drop a request whose
		 * client went away), not a reset. */
		if (!c->app_eof)
			observe(c, true, NULL, 0, now, &seen);
	}
	v = c->http ? swerve_pump_retry_judge(&c->rt, svc_of(c), &c->t,
					      &seen, c->ulen,
					      c->dlen >= PUMP_BUF)
		    : SWERVE_PUMP_GO_ON;
	if (v == SWERVE_PUMP_RETRY && retry(c, &seen, now))
		return -1;
	if (n < 0 && c->dlen == c->doff) {
		/* Reset by the endpoint: so is the app. */
		finish(c, true);
		return -1;
	}
	return n > 0;
}

/* Endpoint -> buffer -> application. -1: the relay stops here. */
static int pump_down(struct swerve_pump_conn *c, uint64_t now)
{
	ssize_t n;
	int moved = read_down(c, now);

	if (moved < 0)
		return -1;
	/* The held start of a response waits for its status. */
	if (c->dlen > c->doff && !c->rt.holding) {
		n = swerve_libc_send(c->app, c->dbuf + c->doff,
				     c->dlen - c->doff,
				     MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			c->doff += (uint32_t)n;
			if (c->doff == c->dlen)
				c->doff = c->dlen = 0;
			moved = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			app_gone(c, now);
			finish(c, false);
			return -1;
		}
	}
	return moved;
}

/* Half-closes that are due, and the end when both sides are done. */
static bool closes(struct swerve_pump_conn *c)
{
	if (c->app_eof && c->ulen == 0 && !c->up_shut && c->tls != NULL) {
		swerve_tls_conn_close_notify(c->tls);
		shutdown(c->up, SHUT_WR);
		c->up_shut = true;
	}
	if (c->up_eof && c->dlen == 0 && !c->app_shut) {
		shutdown(c->app, SHUT_WR);
		c->app_shut = true;
	}
	if (c->app_shut && (c->up_shut || c->ph == PH_DRAIN) &&
	    (c->app_eof || c->ph != PH_DRAIN)) {
		finish(c, false);
		return true;
	}
	return false;
}

/* Moves what can move, then waits for what blocks. */
static void relay(struct swerve_pump_conn *c, uint64_t now)
{
	int up, down;
	uint32_t ev;

	do {
		up = c->ph == PH_RELAY ? pump_up(c, now) : 0;
		if (up < 0)
			return;
		down = pump_down(c, now);
		if (down < 0)
			return;
	} while (up > 0 || down > 0);
	if (closes(c))
		return;
	ev = (!c->app_eof && c->ulen < PUMP_BUF) ? EPOLLIN : 0;
	if (c->dlen > c->doff && !c->rt.holding)
		ev |= EPOLLOUT;
	interest(c, 0, ev);
	if (c->tls == NULL)
		return;
	ev = 0;
	if (c->want_wr != 0)
		ev |= ev_of(c->want_wr);
	if (!c->up_eof && c->dlen < PUMP_BUF)
		ev |= c->want_rd != 0 ? ev_of(c->want_rd) : EPOLLIN;
	interest(c, 1, ev);
}

/* In the drain after a 503: the application's bytes are read and
 * dropped, so that closing never resets what it has not read yet. */
static void drain(struct swerve_pump_conn *c, uint64_t now)
{
	char junk[4096];
	ssize_t n;

	while ((n = swerve_libc_recv(c->app, junk, sizeof(junk),
				     MSG_DONTWAIT)) > 0) {
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		c->app_eof = true;
	relay(c, now);
}

/* TCP connect to the endpoint finished, one way or the other. */
static void connected(struct swerve_pump_conn *c, uint64_t now)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (swerve_libc_getsockopt(c->up, SOL_SOCKET, SO_ERROR, &err,
				   &len) != 0)
		err = errno;
	if (err != 0)
		attempt_failed(c, err, 0, strerror(err), now);
	else
		handshake_begin(c, now);
}

void swerve_pump_conn_event(struct swerve_pump_conn *c, int side,
			    uint32_t events, uint64_t now)
{
	switch (c->ph) {
	case PH_CONNECT:
		if (side == 1)
			connected(c, now);
		else if (events & (EPOLLERR | EPOLLHUP))
			finish(c, false);
		return;
	case PH_HANDSHAKE:
		if (side == 1)
			handshake_step(c, now);
		else if (events & (EPOLLERR | EPOLLHUP))
			finish(c, false);
		return;
	case PH_RELAY:
		if (side == 1) {
			/* Whatever TLS waited for may have come. */
			c->want_rd = c->want_wr = 0;
		}
		relay(c, now);
		return;
	case PH_DRAIN:
		drain(c, now);
		return;
	case PH_BACKOFF:
		if (side == 0 && (events & (EPOLLERR | EPOLLHUP)))
			finish(c, false);
		return;
	}
}
