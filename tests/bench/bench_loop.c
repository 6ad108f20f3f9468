/*
 * bench_loop: the steady request loop of the failover benchmark. It
 * resolves HOST once (like wrk; under swerve that yields the service
 * address), then sends one HTTP/1.0 GET per new connection every
 * INTERVAL_US microseconds for DURATION_MS, and prints one line per request:
 *
 *   <unix time in ms> ok <first word of the body>
 *   <unix time in ms> fail <reason>
 *
 * The schedule is absolute, so a slow request does not shift the ones after
 * it, and the loop ends by itself. Loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Bounds on one request: a blackholed endpoint must not stall the loop. */
#define IO_TIMEOUT_MS 2000
#define MAX_DURATION_MS 600000

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int is_loopback(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ai->ai_addr;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ai->ai_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ai->ai_addr;

		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
			s6->sin6_addr.s6_addr[12] == 127);
	}
	return 0;
}

/* One request; on success copies the first word of the body to <word>. */
static const char *request(const struct addrinfo *ai, const char *host,
			   char *word, size_t wordlen)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000,
			      .tv_usec = (IO_TIMEOUT_MS % 1000) * 1000 };
	char req[256], resp[4096];
	size_t got = 0;
	const char *why = NULL, *body;
	ssize_t n;
	int fd, len;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return "socket";
	/* SO_SNDTIMEO also bounds a blocking connect(). */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		why = errno == ECONNREFUSED ? "connect-refused" : "connect";
		goto out;
	}
	len = snprintf(req, sizeof(req),
		       "GET / HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n"
		       "\r\n", host);
	if (write(fd, req, (size_t)len) != len) {
		why = "write";
		goto out;
	}
	while (got < sizeof(resp) - 1 &&
	       (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || got < 12) {
		why = got == 0 ? "no-response" : "bad-response";
		goto out;
	}
	if (strncmp(resp + 9, "200", 3) != 0) {
		why = "status";
		goto out;
	}
	body = strstr(resp, "\r\n\r\n");
	if (body == NULL) {
		why = "no-body";
		goto out;
	}
	body += 4;
	snprintf(word, wordlen, "%.*s", (int)strcspn(body, " \r\n"), body);
out:
	close(fd);
	return why;
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *res;
	uint64_t interval, end, next;
	unsigned long duration;
	char word[64];
	const char *why;
	int rc;

	if (argc != 5) {
		fprintf(stderr,
			"usage: bench_loop HOST PORT INTERVAL_US DURATION_MS\n");
		return 2;
	}
	interval = strtoull(argv[3], NULL, 10);
	duration = strtoul(argv[4], NULL, 10);
	if (interval == 0 || duration == 0 || duration > MAX_DURATION_MS) {
		fprintf(stderr, "bench_loop: bad interval or duration\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(argv[1], argv[2], &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "bench_loop: %s: %s\n", argv[1],
			gai_strerror(rc));
		return 1;
	}
	if (!is_loopback(res)) {
		fprintf(stderr, "bench_loop: %s is not loopback\n", argv[1]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	next = mono_us();
	end = next + (uint64_t)duration * 1000u;
	while (next < end) {
		uint64_t now = mono_us();

		if (now < next)
			usleep((useconds_t)(next - now));
		word[0] = '\0';
		why = request(res, argv[1], word, sizeof(word));
		if (why == NULL)
			printf("%llu ok %s\n", (unsigned long long)wall_ms(),
			       word);
		else
			printf("%llu fail %s\n", (unsigned long long)wall_ms(),
			       why);
		next += interval;
	}
	freeaddrinfo(res);
	return 0;
}
