/*
 * httpd: a tiny HTTP/1.0 server for tests and the demo, never linked with
 * swerve. `httpd ADDR PORT BODY [MODE]` listens on ADDR:PORT and answers
 * every request with "BODY\n", or misbehaves as MODE says:
 *   ok        200 with BODY (default)
 *   503       503 with BODY
 *   reset     accept, then reset the connection (SO_LINGER 0)
 *   backlog   listen(0) and never accept, after filling the one queue slot
 *             itself: later SYNs are dropped, a blackhole without iptables
 *   hold      as backlog until SIGUSR1, then frees the slot and serves as
 *             ok: a connect in flight then succeeds with its next SYN
 *             retransmission (a slow endpoint)
 * It prints "ready" on stdout once listening and exits on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop, release;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_release(int sig)
{
	(void)sig;
	release = 1;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static void serve(int c, const char *body, const char *mode)
{
	char req[4096], resp[4400];
	struct timeval tv = { .tv_sec = 2 };
	size_t got = 0;
	ssize_t n;
	int len;

	if (strcmp(mode, "reset") == 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		return;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* Read the request head; the body of a GET is empty. */
	while (got < sizeof(req) - 1) {
		n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n"))
			break;
	}
	len = snprintf(resp, sizeof(resp),
		       "HTTP/1.0 %s\r\nContent-Type: text/plain\r\n"
		       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
		       strcmp(mode, "503") == 0 ? "503 Service Unavailable"
						: "200 OK",
		       strlen(body) + 1, body);
	if (write(c, resp, (size_t)len) < 0)
		return;
	shutdown(c, SHUT_WR);
	/* Drain so that close() sends FIN, not RST, under the client. */
	while (read(c, req, sizeof(req)) > 0)
		;
}

/*
 * backlog and hold: a zero backlog filled by a connection of our own, so
 * the kernel drops every further SYN and connects hang in SYN_SENT. hold
 * frees the slot on SIGUSR1 and returns 0 to serve; otherwise this waits
 * for SIGTERM and returns -1.
 */
static int hold_backlog(int s, const struct sockaddr_storage *ss,
			socklen_t len, int hold)
{
	struct sigaction sa;
	sigset_t block, old;
	int filler;

	if (listen(s, 0) == -1)
		return -1;
	filler = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (filler == -1 ||
	    connect(filler, (const struct sockaddr *)ss, len) == -1) {
		perror("httpd: filling the backlog");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_release;
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	printf("ready\n");
	fflush(stdout);
	while (!stop && !(hold && release))
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (stop)
		return -1;
	/* Free the slot: the next SYN retransmission is accepted. */
	close(accept(s, NULL, NULL));
	close(filler);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sigaction sa;
	const char *mode;
	socklen_t len;
	int s, one = 1;

	if (argc < 4) {
		fprintf(stderr, "usage: httpd ADDR PORT BODY "
				"[ok|503|reset|backlog|hold]\n");
		return 2;
	}
	mode = argc > 4 ? argv[4] : "ok";
	if (parse_addr(argv[1], atoi(argv[2]), &ss, &len) != 0) {
		fprintf(stderr, "httpd: bad address %s\n", argv[1]);
		return 2;
	}
	/* A test that dies mid-way must not leave its servers behind. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s == -1) {
		perror("httpd: socket");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) == -1) {
		fprintf(stderr, "httpd: bind %s:%s: %s\n", argv[1], argv[2],
			strerror(errno));
		return 1;
	}
	if (strcmp(mode, "backlog") == 0 || strcmp(mode, "hold") == 0) {
		if (hold_backlog(s, &ss, len, strcmp(mode, "hold") == 0) != 0)
			return stop ? 0 : 1;
		mode = "ok";
	} else if (listen(s, 64) == -1) {
		perror("httpd: listen");
		return 1;
	} else {
		printf("ready\n");
		fflush(stdout);
	}
	while (!stop) {
		int c = accept(s, NULL, NULL);

		if (c == -1) {
			if (errno == EINTR)
				continue;
			perror("httpd: accept");
			return 1;
		}
		serve(c, argv[3], mode);
		close(c);
	}
	return 0;
}
