/*
 * tlsserve: a real TLS server for the tests, the demo and the bench,
 * linked with OpenSSL the ordinary way (never with swerve).
 *
 *   tlsserve --listen ADDR:PORT --cert FILE --key FILE [--ca FILE]
 *            [--status N] [--name TEXT] [--echo] [--log FILE]
 *            [--max-early-plain] [--tls1.2] [--reset-after-request]
 *            [--ticket-lifetime SECONDS]
 *
 * --listen     where to listen: 127.0.0.1:8443 or [::1]:8443
 * --cert/--key the server's certificate chain and key (PEM)
 * --ca         require a client certificate and verify it against FILE
 * --status     the HTTP status of every answer (default 200)
 * --name       the body of every answer, followed by a newline
 *              (default "tlsserve")
 * --echo       a TLS echo server (for tcp services) instead of HTTP
 * --log        appends one line per connection to FILE (O_APPEND):
 *                sni=NAME|- resumed=0|1 client=SUBJECT|- requests=N plain=0|1
 *                methods=GET,POST...|- offered=0|1
 *              where offered=1 when the client offered a session to
 *              resume (a TLS 1.3 pre_shared_key, or a TLS 1.2 ticket),
 *              requests counts the HTTP requests answered (with
 *              --echo, the bytes echoed), client is the client
 *              certificate's subject (spaces as '_'), and plain=1 when
 *              the first byte on the TCP connection did not begin a TLS
 *              handshake record (so a test can assert that no plaintext
 *              reached the server), methods lists the methods of the
 *              requests read, answered or not (at most 60 bytes of them,
 *              plain=0 only); a connection whose handshake failed
 *              logs instead
 *                handshake-failed reason=TEXT
 * --max-early-plain  on a plain connection, also logs up to 64 of the
 *              plaintext bytes that arrived, escaped, as early="..."
 * --tls1.2     at most TLS 1.2 (a rejected client certificate then fails
 *              the client's handshake, not its first read)
 * --reset-after-request  reads each connection's first request whole, then
 *              resets the connection (RST) without answering
 * --ticket-lifetime  sessions (and the lifetime its tickets announce)
 *              last SECONDS (OpenSSL's default: 7200); an older ticket
 *              is not resumed
 *
 * HTTP/1.1: every request is answered "HTTP/1.1 N ..." with
 * Content-Length and the body, keep-alive unless the request says
 * Connection: close (or is HTTP/1.0 without keep-alive); HEAD gets the
 * head only. Session tickets are on, so clients can resume. One process,
 * one poll loop, non-blocking: a SIGSTOP freezes every connection. It
 * prints "ready" on stdout once listening and nothing else there; it exits
 * on SIGTERM or SIGINT, and when its parent dies.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_CONNS 512
#define BUF 16384

enum phase { PEEK, HANDSHAKE, SERVE };

struct conn {
	int fd;
	SSL *ssl;
	enum phase phase;
	short want;
	bool closing;          /* close once <out> is sent */
	bool offered;          /* the ClientHello offered a session */
	unsigned long requests;
	char methods[64];      /* of the requests read, comma separated */
	size_t inlen, outlen, outoff;
	char in[BUF];
	char out[BUF];
};

static struct {
	int status;
	const char *name;
	bool echo;
	bool early;
	bool reset;            /* --reset-after-request */
	int log_fd;
} opt = { .status = 200, .name = "tlsserve", .log_fd = -1 };

static volatile sig_atomic_t stop;
static struct conn *conns[MAX_CONNS];
static int nconns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "tlsserve: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* One line into the log, with one write (O_APPEND keeps lines whole). */
static void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (opt.log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(opt.log_fd, line, (size_t)n) < 0)
		perror("tlsserve: log");
}

/* Spaces and controls as '_', so that a log field stays one word. */
static void one_word(char *s)
{
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			*s = '_';
}

static void log_conn(struct conn *c)
{
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	char subject[256] = "-";

	if (peer != NULL)
		X509_NAME_oneline(X509_get_subject_name(peer), subject,
				  sizeof(subject));
	one_word(subject);
	log_line("sni=%s resumed=%d client=%s requests=%lu plain=0 methods=%s "
		 "offered=%d", sni != NULL ? sni : "-",
		 SSL_session_reused(c->ssl), subject, c->requests,
		 c->methods[0] != '\0' ? c->methods : "-", c->offered);
}

/* The reason of a failed handshake or read, for the log. */
static void reason(struct conn *c, int e, char *buf, size_t len)
{
	unsigned long err = ERR_peek_error();

	if (err != 0)
		ERR_error_string_n(err, buf, len);
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "%s", errno != 0 ? strerror(errno) : "eof");
	else
		snprintf(buf, len, "ssl error %d", e);
	ERR_clear_error();
	(void)c;
}

/* The first bytes were not TLS: logged (and, asked, shown). */
static void log_plain(struct conn *c)
{
	unsigned char b[64];
	char early[300] = "";
	ssize_t n;
	size_t i, o = 0;

	if (opt.early) {
		n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
		o = (size_t)snprintf(early, sizeof(early), " early=\"");
		for (i = 0; n > 0 && i < (size_t)n; i++)
			o += (size_t)snprintf(early + o, sizeof(early) - o,
					      isprint(b[i]) && b[i] != '"' &&
							      b[i] != '\\'
						      ? "%c"
						      : "\\x%02x",
					      b[i]);
		snprintf(early + o, sizeof(early) - o, "\"");
	}
	log_line("sni=- resumed=0 client=- requests=0 plain=1%s", early);
}

/* A request head in <in>: its length with the body, or 0 (incomplete). */
static size_t request_size(struct conn *c, bool *head, bool *close)
{
	char *end, *p, *line;
	size_t hlen, blen = 0;

	c->in[c->inlen] = '\0';
	end = strstr(c->in, "\r\n\r\n");
	if (end == NULL)
		return 0;
	hlen = (size_t)(end - c->in) + 4;
	*head = strncmp(c->in, "HEAD ", 5) == 0;
	line = strstr(c->in, "\r\n");
	/* HTTP/1.0 closes unless it asks to be kept. */
	*close = line != NULL && line - c->in >= 8 &&
		 strncmp(line - 8, "HTTP/1.0", 8) == 0;
	for (p = line; p != NULL && p < end; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "connection:", 11) == 0) {
			char *v = p + 13;

			while (*v == ' ')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				*close = true;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				*close = false;
		} else if (strncasecmp(p + 2, "content-length:", 15) == 0) {
			blen = strtoul(p + 17, NULL, 10);
		}
	}
	if (c->inlen < hlen + blen)
		return 0;
	return hlen + blen;
}

/* Adds the method of the request at the start of <in> to the list. */
static void note_method(struct conn *c)
{
	size_t have = strlen(c->methods), n = strcspn(c->in, " \r\n");

	if (have + n + 2 > sizeof(c->methods) - 4)
		return;
	if (have > 0)
		c->methods[have++] = ',';
	memcpy(c->methods + have, c->in, n);
	c->methods[have + n] = '\0';
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* Answers the requests in <in> while <out> is empty; false on a head
 * that does not fit the buffer. */
static bool take_requests(struct conn *c)
{
	bool head = false, close = false;
	size_t size;
	int n;

	if (opt.echo) {
		memcpy(c->out, c->in, c->inlen);
		c->outlen = c->inlen;
		c->outoff = 0;
		c->requests += c->inlen;
		c->inlen = 0;
		return true;
	}
	size = request_size(c, &head, &close);
	if (size == 0)
		return c->inlen < BUF - 1;
	note_method(c);
	if (opt.reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		/* Closed as the connection ends (false): a reset. */
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		return false;
	}
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\n%s\r\n%s%s",
		     opt.status, status_text(opt.status), strlen(opt.name) + 1,
		     close ? "Connection: close\r\n" : "",
		     head ? "" : opt.name, head ? "" : "\n");
	c->outlen = n < 0 ? 0 : (size_t)n < sizeof(c->out) ? (size_t)n
							   : sizeof(c->out);
	c->outoff = 0;
	c->requests++;
	c->closing = close;
	memmove(c->in, c->in + size, c->inlen - size);
	c->inlen -= size;
	return true;
}

/* The wait an SSL call asked for: POLLIN or POLLOUT, 0 for neither. */
static short want_of(int e)
{
	return e == SSL_ERROR_WANT_READ ? POLLIN
	       : e == SSL_ERROR_WANT_WRITE ? POLLOUT
					   : 0;
}

/* PEEK: a TLS record begins with 22 (handshake). */
static int step_peek(struct conn *c)
{
	unsigned char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return POLLIN;
	if (n <= 0) {
		log_line("handshake-failed reason=closed before any byte");
		return -1;
	}
	if (b != 22) {
		log_plain(c);
		return -1;
	}
	c->phase = HANDSHAKE;
	return 0;
}

static int step_handshake(struct conn *c)
{
	char why[256];
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_accept(c->ssl);
	if (r == 1) {
		c->phase = SERVE;
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (want_of(e) != 0)
		return want_of(e);
	reason(c, e, why, sizeof(why));
	log_line("handshake-failed reason=%s", why);
	return -1;
}

/* SERVE: sends what is pending, then reads and answers. */
static int step_serve(struct conn *c)
{
	size_t n = 0;
	int r, e;

	ERR_clear_error();
	if (c->outoff < c->outlen) {
		r = SSL_write_ex(c->ssl, c->out + c->outoff,
				 c->outlen - c->outoff, &n);
		if (r == 1) {
			c->outoff += n;
			return 0;
		}
		e = SSL_get_error(c->ssl, r);
		return want_of(e) != 0 ? want_of(e) : -2;
	}
	if (c->closing) {
		SSL_shutdown(c->ssl);
		return -2;
	}
	if (c->inlen > 0 && !take_requests(c))
		return -2;
	if (c->outoff < c->outlen || c->closing)
		return 0;
	r = SSL_read_ex(c->ssl, c->in + c->inlen, BUF - 1 - c->inlen, &n);
	if (r == 1) {
		c->inlen += n;
		return take_requests(c) ? 0 : -2;
	}
	e = SSL_get_error(c->ssl, r);
	if (want_of(e) != 0)
		return want_of(e);
	if (e == SSL_ERROR_ZERO_RETURN)
		SSL_shutdown(c->ssl);
	return -2;
}

/* Runs a connection until it must wait: its poll events, or -1 when it
 * is over (-2 inside: over after a handshake, so logged here). */
static int advance(struct conn *c)
{
	int r;

	for (;;) {
		switch (c->phase) {
		case PEEK:
			r = step_peek(c);
			break;
		case HANDSHAKE:
			r = step_handshake(c);
			break;
		default:
			r = step_serve(c);
			break;
		}
		if (r == -2) {
			log_conn(c);
			return -1;
		}
		if (r != 0)
			return r;
	}
}

static void conn_free(int i)
{
	struct conn *c = conns[i];

	SSL_free(c->ssl);
	close(c->fd);
	free(c);
	conns[i] = conns[--nconns];
}

static void accept_all(int s, SSL_CTX *ctx)
{
	struct conn *c;
	int fd, one = 1;

	while (nconns < MAX_CONNS) {
		fd = accept4(s, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->ssl = SSL_new(ctx)) == NULL)
			die("out of memory");
		/* Tickets, then the answer: small writes that Nagle would
		 * hold for the client's delayed ACK (40 ms each). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		SSL_set_fd(c->ssl, fd);
		SSL_set_app_data(c->ssl, c);
		conns[nconns++] = c;
		c->want = (short)advance(c);
		if (c->want < 0)
			conn_free(nconns - 1);
	}
}

static void serve(int s, SSL_CTX *ctx)
{
	static struct pollfd p[MAX_CONNS + 1];
	int i, n;

	while (!stop) {
		p[0].fd = nconns < MAX_CONNS ? s : -1;
		p[0].events = POLLIN;
		for (i = 0; i < nconns; i++) {
			p[i + 1].fd = conns[i]->fd;
			p[i + 1].events = conns[i]->want;
		}
		n = nconns;
		if (poll(p, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* From the end: conn_free moves the last one into i. */
		for (i = n - 1; i >= 0; i--) {
			if (p[i + 1].revents == 0)
				continue;
			conns[i]->want = (short)advance(conns[i]);
			if (conns[i]->want < 0)
				conn_free(i);
		}
		if (p[0].revents != 0)
			accept_all(s, ctx);
	}
}

/* Notes whether the client offers a session: a TLS 1.3 pre_shared_key,
 * or a TLS 1.2 session ticket that is not empty. */
static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
	struct conn *c = SSL_get_app_data(ssl);
	const unsigned char *ext;
	size_t len;

	(void)alert;
	(void)arg;
	if (c != NULL)
		c->offered = SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk,
						       &ext, &len) == 1 ||
			     (SSL_client_hello_get0_ext(
				      ssl, TLSEXT_TYPE_session_ticket, &ext,
				      &len) == 1 &&
			      len > 0);
	return SSL_CLIENT_HELLO_SUCCESS;
}

static SSL_CTX *make_ctx(const char *cert, const char *key, const char *ca,
			 bool tls12, long lifetime)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		die("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die(cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die(key);
	if (tls12)
		SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	/* Resumption with a verified client needs a session id context. */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tlsserve",
				       8);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_client_hello_cb(ctx, on_client_hello, NULL);
	if (lifetime > 0)
		SSL_CTX_set_timeout(ctx, lifetime);
	if (ca != NULL) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);

		if (names == NULL ||
		    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
			die(ca);
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
}

static int listen_on(const char *spec)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	char host[128];
	const char *colon = strrchr(spec, ':');
	socklen_t len;
	int s, one = 1, port;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		die("--listen ADDR:PORT");
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	port = atoi(colon + 1);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (host[0] == '[' && strlen(host) > 2 &&
		   (host[strlen(host) - 1] = '\0',
		    inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1)) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		die("--listen: not an address");
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   0);
	if (s == -1)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) == -1) {
		fprintf(stderr, "tlsserve: bind %s: %s\n", spec,
			strerror(errno));
		exit(1);
	}
	if (listen(s, 128) == -1)
		die("listen");
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: tlsserve --listen ADDR:PORT --cert F --key F "
		"[--ca F] [--status N] [--name TEXT] [--echo] [--log F] "
		"[--max-early-plain] [--tls1.2] [--reset-after-request] "
		"[--ticket-lifetime SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "status", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "echo", no_argument, NULL, 'e' },
		{ "log", required_argument, NULL, 'L' },
		{ "max-early-plain", no_argument, NULL, 'p' },
		{ "tls1.2", no_argument, NULL, '2' },
		{ "reset-after-request", no_argument, NULL, 'R' },
		{ "ticket-lifetime", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_spec = NULL, *cert = NULL, *key = NULL, *ca = NULL;
	struct sigaction sa;
	bool tls12 = false;
	long lifetime = 0;
	SSL_CTX *ctx;
	int ch, s;

	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_spec = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': ca = optarg; break;
		case 's': opt.status = atoi(optarg); break;
		case 'n': opt.name = optarg; break;
		case 'e': opt.echo = true; break;
		case 'p': opt.early = true; break;
		case '2': tls12 = true; break;
		case 'R': opt.reset = true; break;
		case 't': lifetime = atol(optarg); break;
		case 'L':
			opt.log_fd = open(optarg, O_WRONLY | O_APPEND |
					  O_CREAT | O_CLOEXEC, 0644);
			if (opt.log_fd < 0)
				die(optarg);
			break;
		default: usage();
		}
	}
	if (listen_spec == NULL || cert == NULL || key == NULL ||
	    optind != argc)
		usage();
	/* A test that dies mid-way must not leave its servers behind. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ctx = make_ctx(cert, key, ca, tls12, lifetime);
	s = listen_on(listen_spec);
	printf("ready\n");
	fflush(stdout);
	serve(s, ctx);
	/* Connections still open are logged too, so that a test can stop
	 * the server and read a complete log. */
	for (int i = 0; i < nconns; i++)
		if (conns[i]->phase == SERVE)
			log_conn(conns[i]);
	return 0;
}
