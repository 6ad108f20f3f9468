/*
 * probe: a small HTTP client that connects the ways real clients do, so the
 * tests can drive each path of the library on its own (and run under a
 * preloaded sanitizer runtime, which curl does not survive).
 *
 *   probe [options] HOST PORT
 *     -m block      blocking connect() (default)
 *     -m soerror    non-blocking, poll(POLLOUT), then getsockopt(SO_ERROR)
 *                   (curl, python with a timeout, libpq, node, java)
 *     -m again      non-blocking, poll, then a second connect() (perl,
 *                   ruby Net::HTTP, hiredis)
 *     -m early      non-blocking, SO_ERROR before polling, then poll and
 *                   SO_ERROR again (ruby TCPSocket)
 *     -f 4|6|0      getaddrinfo family (default 0, AF_UNSPEC)
 *     -t MS         per-address timeout for the non-blocking modes (5000)
 *     -m write      non-blocking, poll, then write at once: no SO_ERROR
 *                   (the first I/O tells)
 *     -m alarm      blocking connect abandoned by SIGALRM + siglongjmp
 *                   after the -t timeout (wget --connect-timeout)
 *     -1            try only the first address (java, socat, redis-cli)
 *     -o            socket hygiene: set TCP_NODELAY, SO_KEEPALIVE and
 *                   FD_CLOEXEC and bind() the source address before
 *                   connecting; after the response check they are all
 *                   still there and TCP_USER_TIMEOUT is back to 0 (exit 3
 *                   and a message otherwise)
 *
 * It tries the getaddrinfo results in order, closing a failed socket and
 * moving to the next, sends "GET / HTTP/1.0" on the first that connects and
 * prints the response body. Exit 0 on a response, 1 when every address
 * failed (each failure is printed on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *mode = "block";
static int timeout_ms = 5000;
static int hygiene;
static sigjmp_buf alarm_jmp;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(alarm_jmp, 1);
}

/*
 * wget's way: a blocking connect() under an interval timer whose SIGALRM
 * handler jumps out of it, so the connect() call never returns. 0 or an
 * errno value (ETIMEDOUT when the alarm fired).
 */
static int connect_with_alarm(int fd, const struct addrinfo *ai)
{
	struct itimerval it = { .it_value = { .tv_sec = timeout_ms / 1000,
					      .tv_usec = (timeout_ms % 1000) *
							 1000 } };
	struct itimerval off = { 0 };
	struct sigaction sa;
	volatile int err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	if (sigsetjmp(alarm_jmp, 1) != 0) {
		err = ETIMEDOUT;
		goto out;
	}
	setitimer(ITIMER_REAL, &it, NULL);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		err = errno;
out:
	setitimer(ITIMER_REAL, &off, NULL);
	return err;
}

/* Options an application sets before connecting, which swerve must keep. */
static int set_options(int fd, int family)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0x7f000001);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		sin6->sin6_addr.s6_addr[12] = 127;
		sin6->sin6_addr.s6_addr[15] = 1;
		len = sizeof(*sin6);
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1) {
		fprintf(stderr, "probe: setting options: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* True when everything set_options() did is still in place. */
static int check_options(int fd, int nonblocking)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int v = 0, uto = -1, fl;
	const unsigned char *a;

	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	if (v != 1)
		return fprintf(stderr, "probe: TCP_NODELAY lost\n"), 0;
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len);
	if (v != 1)
		return fprintf(stderr, "probe: SO_KEEPALIVE lost\n"), 0;
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		return fprintf(stderr, "probe: FD_CLOEXEC lost\n"), 0;
	fl = fcntl(fd, F_GETFL);
	if (!!(fl & O_NONBLOCK) != nonblocking)
		return fprintf(stderr, "probe: O_NONBLOCK changed\n"), 0;
	len = sizeof(uto);
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, &len);
	if (uto != 0)
		return fprintf(stderr, "probe: TCP_USER_TIMEOUT left at %d\n",
			       uto), 0;
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	a = ss.ss_family == AF_INET
		    ? (const unsigned char *)&((struct sockaddr_in *)&ss)->sin_addr
		    : ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr + 12;
	if (a[0] != 127 || a[1] != 0 || a[2] != 0 || a[3] != 1)
		return fprintf(stderr, "probe: bound source address lost\n"),
		       0;
	fprintf(stderr, "probe: options kept\n");
	return 1;
}

/* Waits for the non-blocking connect on <fd>; 0 or an errno value. */
static int finish(int fd, const struct addrinfo *ai)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0, n;

	if (strcmp(mode, "early") == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			return errno;
		if (err != 0)
			return err;
	}
	n = poll(&p, 1, timeout_ms);
	if (n == 0)
		return ETIMEDOUT;
	if (n == -1)
		return errno;
	if (strcmp(mode, "write") == 0)
		return 0; /* fetch() writes at once and learns from it */
	if (strcmp(mode, "again") == 0) {
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EISCONN)
			return 0;
		return errno;
	}
	len = sizeof(int);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static int fetch(int fd, const char *host)
{
	struct pollfd wp = { .fd = fd, .events = POLLOUT };
	char buf[8192], *body;
	size_t got = 0;
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf),
		       "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host);
	if (strcmp(mode, "write") == 0)
		poll(&wp, 1, timeout_ms);
	if (write(fd, buf, (size_t)len) != len) {
		fprintf(stderr, "probe: write: %s\n", strerror(errno));
		return 1;
	}
	while (got < sizeof(buf) - 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, timeout_ms) <= 0)
				break;
			continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (body == NULL) {
		fprintf(stderr, "probe: no HTTP response\n");
		return 1;
	}
	fputs(body + 4, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *res, *ai;
	int opt, rc, first_only = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	while ((opt = getopt(argc, argv, "m:f:t:1o")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'f':
			hints.ai_family = atoi(optarg) == 4   ? AF_INET
					  : atoi(optarg) == 6 ? AF_INET6
							      : AF_UNSPEC;
			if (hints.ai_family == AF_INET6)
				hints.ai_flags |= AI_V4MAPPED;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case '1':
			first_only = 1;
			break;
		case 'o':
			hygiene = 1;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: probe [-m MODE] [-f 4|6|0] [-t MS] [-1] "
				"HOST PORT\n");
		return 2;
	}
	rc = getaddrinfo(argv[optind], argv[optind + 1], &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "probe: %s: %s\n", argv[optind],
			gai_strerror(rc));
		return 1;
	}
	for (ai = res; ai != NULL; ai = first_only ? NULL : ai->ai_next) {
		int nb = strcmp(mode, "block") != 0 &&
			 strcmp(mode, "alarm") != 0;
		int fd = socket(ai->ai_family, ai->ai_socktype |
				(nb ? SOCK_NONBLOCK : 0), ai->ai_protocol);
		int err = 0;

		if (fd == -1) {
			fprintf(stderr, "probe: socket: %s\n", strerror(errno));
			continue;
		}
		if (hygiene && set_options(fd, ai->ai_family) != 0) {
			close(fd);
			continue;
		}
		if (strcmp(mode, "alarm") == 0) {
			err = connect_with_alarm(fd, ai);
		} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			err = errno;
			if (nb && err == EINPROGRESS)
				err = finish(fd, ai);
		}
		if (err != 0) {
			fprintf(stderr, "probe: connect: %s\n", strerror(err));
			close(fd);
			continue;
		}
		rc = fetch(fd, argv[optind]);
		if (rc == 0 && hygiene && !check_options(fd, nb))
			rc = 3;
		close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	return 1;
}
