/*
 * metrics_serve.c: `swervectl metrics --listen`, a small blocking HTTP/1.1
 * server for a Prometheus server to scrape. It answers GET (and HEAD)
 * /metrics with the table read anew for that scrape, 404 for any other
 * path, one request per connection (Connection: close), one connection at
 * a time: a scrape every few seconds needs no more. It lives in the tool,
 * never in the library, which opens no socket of its own in a host
 * program.
 *
 * Loopback only unless the operator asks: the metrics name every service
 * and endpoint of the host, so exposing them is a decision, made with
 * --allow-remote. SIGTERM and SIGINT end the server between requests:
 * they are blocked except while it waits for a connection (ppoll), so a
 * scrape in progress is answered whole, and no signal is lost between the
 * check and the wait. Each connection has a deadline, so a client that
 * stops sending or reading cannot hold the server.
 *
 * Single-threaded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/swerve.h"
#include "tools/swervectl/cli.h"
#include "tools/swervectl/metrics.h"
#include "tools/swervectl/print.h"

#define REQUEST_MAX 8192
#define CLIENT_DEADLINE_MS 10000
#define IO_TIMEOUT_S 5

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* <host> of "host:port" (brackets removed) into <ss>; 0 or -EINVAL. */
static int parse_host(const char *host, bool bracketed,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!bracketed && inet_pton(AF_INET, host[0] != '\0' ? host :
				    "127.0.0.1", &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		*len = sizeof(*in4);
		return 0;
	}
	if (bracketed && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

/*
 * "PORT", ":PORT", "ADDR:PORT" or "[V6]:PORT" into <ss>: numeric
 * addresses only (a name could resolve anywhere), port 1 to 65535.
 */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2] = "";
	const char *colon = strrchr(s, ':'), *port = s, *end;
	bool bracketed = s[0] == '[';
	unsigned long v;
	char *stop;

	if (colon != NULL) {
		port = colon + 1;
		end = bracketed ? colon - 1 : colon;
		if (bracketed && (colon == s || *end != ']'))
			return -EINVAL;
		if (bracketed)
			s++;
		if ((size_t)(end - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(end - s));
		host[end - s] = '\0';
	}
	if (port[0] < '0' || port[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(port, &stop, 10);
	if (errno != 0 || *stop != '\0' || v == 0 || v > 65535)
		return -EINVAL;
	if (parse_host(host, bracketed, ss, len) != 0)
		return -EINVAL;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)v);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)v);
	return 0;
}

/* 127.0.0.0/8, ::1, or 127/8 mapped into IPv6. */
static bool is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr
			      .s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		in6->sin6_addr.s6_addr[12] == 127);
}

/* A listening socket on <ss>; the descriptor, or -1 with the error
 * printed. Non-blocking, so that a connection gone before accept()
 * cannot block the server. */
static int open_listener(const struct sockaddr_storage *ss, socklen_t len,
			 const char *text)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		print_error("socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				 sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, 16) != 0) {
		print_error("listening on %s: %s", text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One response; <body> is left out for HEAD. */
static void respond(int fd, const char *status, const char *type,
		    const char *extra, const char *body, size_t blen,
		    bool head)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
		     status, type, blen, extra);
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    send_all(fd, hdr, (size_t)n) != 0 || head)
		return;
	(void)send_all(fd, body, blen);
}

static void respond_text(int fd, const char *status, const char *extra,
			 const char *body, bool head)
{
	respond(fd, status, "text/plain; charset=utf-8", extra, body,
		strlen(body), head);
}

/* The table now, in the exposition format; 200, or 500 when the config
 * or the table cannot be read (the reason is on stderr). */
static void respond_metrics(int fd, const char *config, bool head)
{
	struct metrics m;
	char *body = NULL;
	size_t blen = 0;
	FILE *f;
	int rc;

	f = open_memstream(&body, &blen);
	rc = metrics_read(&m, config);
	if (f != NULL && rc == 0)
		metrics_write(&m, f);
	metrics_free(&m);
	if (f == NULL || fclose(f) != 0 || rc != 0) {
		respond_text(fd, "500 Internal Server Error", "",
			     "swervectl could not read the config or the "
			     "table: see its stderr\n", head);
	} else {
		respond(fd, "200 OK", METRICS_CONTENT_TYPE, "", body, blen,
			head);
	}
	free(body);
}

static uint64_t elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * Reads the request head (through the blank line) into <buf>; its length,
 * or -1 when the client went away, stalled or sent more than fits.
 */
static ssize_t read_head(int fd, char *buf, size_t len)
{
	struct timespec t0;
	size_t n = 0;
	ssize_t r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n + 1 < len && elapsed_ms(&t0) < CLIENT_DEADLINE_MS) {
		r = recv(fd, buf + n, len - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL ||
		    strstr(buf, "\n\n") != NULL)
			return (ssize_t)n;
	}
	return -1;
}

/* Answers the one request of connection <fd>. */
static void serve_client(int fd, const char *config)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char buf[REQUEST_MAX], method[16], target[1024], version[16];
	size_t plen;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_head(fd, buf, sizeof(buf)) < 0)
		return;
	if (sscanf(buf, "%15s %1023s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		respond_text(fd, "400 Bad Request", "", "bad request\n",
			     false);
		return;
	}
	/* A query string changes nothing: there is one answer. */
	plen = strcspn(target, "?");
	if (plen != strlen("/metrics") ||
	    strncmp(target, "/metrics", plen) != 0) {
		respond_text(fd, "404 Not Found", "",
			     "not found: the metrics are at /metrics\n",
			     strcmp(method, "HEAD") == 0);
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond_text(fd, "405 Method Not Allowed",
			     "Allow: GET, HEAD\r\n", "use GET\n", false);
		return;
	}
	respond_metrics(fd, config, strcmp(method, "HEAD") == 0);
}

/* SIGTERM and SIGINT set stop_signal; they stay blocked outside ppoll
 * (<*wait> is the mask that lets them in). */
static void catch_stop(sigset_t *wait)
{
	struct sigaction sa;
	sigset_t stop;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, wait);
	sigdelset(wait, SIGTERM);
	sigdelset(wait, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Accepts and answers connections on <lfd> until a stop signal. */
static int serve_loop(int lfd, const char *config)
{
	struct timespec pause = { .tv_nsec = 100 * 1000000L };
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	sigset_t wait;
	int c;

	catch_stop(&wait);
	while (stop_signal == 0) {
		if (ppoll(&p, 1, NULL, &wait) < 0) {
			if (errno == EINTR)
				continue;
			print_error("poll: %s", strerror(errno));
			return CLI_EXIT_FAIL;
		}
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			/* Out of descriptors: wait rather than spin. */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				nanosleep(&pause, NULL);
			continue;
		}
		serve_client(c, config);
		close(c);
	}
	fprintf(stderr, "swervectl: %s: stopped serving metrics\n",
		stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	return CLI_EXIT_OK;
}

int metrics_serve(const char *listen_arg, bool allow_remote,
		  const char *config)
{
	struct sockaddr_storage ss;
	struct metrics m;
	char text[INET6_ADDRSTRLEN + 16];
	socklen_t len;
	int fd, rc;

	if (parse_listen(listen_arg, &ss, &len) != 0)
		return fail_usage("--listen %s: not PORT, ADDR:PORT or "
				  "[ADDR]:PORT with a numeric address and a "
				  "port from 1 to 65535", listen_arg);
	format_address(&ss, text, sizeof(text));
	if (!is_loopback(&ss) && !allow_remote)
		return fail_usage("--listen %s: %s is not a loopback address; "
				  "add --allow-remote to serve the metrics "
				  "beyond this host", listen_arg, text);
	/* A config that cannot be read now is a mistake to report now, not
	 * at the first scrape. */
	rc = metrics_read(&m, config);
	metrics_free(&m);
	if (rc != 0)
		return CLI_EXIT_FAIL;
	fd = open_listener(&ss, len, text);
	if (fd < 0)
		return CLI_EXIT_FAIL;
	fprintf(stderr, "swervectl: serving metrics on http://%s/metrics\n",
		text);
	rc = serve_loop(fd, config);
	close(fd);
	return rc;
}
