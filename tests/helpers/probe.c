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
 *     -1            try only the first address (java, socat, redis-cli)
 *
 * It tries the getaddrinfo results in order, closing a failed socket and
 * moving to the next, sends "GET / HTTP/1.0" on the first that connects and
 * prints the response body. Exit 0 on a response, 1 when every address
 * failed (each failure is printed on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *mode = "block";
static int timeout_ms = 5000;

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
	char buf[8192], *body;
	size_t got = 0;
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf),
		       "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host);
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
	while ((opt = getopt(argc, argv, "m:f:t:1")) != -1) {
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
		int nb = strcmp(mode, "block") != 0;
		int fd = socket(ai->ai_family, ai->ai_socktype |
				(nb ? SOCK_NONBLOCK : 0), ai->ai_protocol);
		int err = 0;

		if (fd == -1) {
			fprintf(stderr, "probe: socket: %s\n", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
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
		close(fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	return 1;
}
