/*
 * follow: a long-running client for the tests of live reload. THREADS
 * threads each, ROUNDS times, resolve HOST (getaddrinfo, every round, as
 * a program that resolves per request), connect to the first address,
 * send "GET / HTTP/1.0", read the answer, and print one line:
 *   "T MS BODY"       the first word of the answer's body
 *   "T MS FAILED WHY" what went wrong (getaddrinfo's or errno's words)
 * where MS is the wall clock in milliseconds (CLOCK_REALTIME, which the
 * test compares with the time of its edit). PAUSE_MS between rounds.
 * Exits 0 once every thread is done.
 *   follow HOST PORT ROUNDS PAUSE_MS [THREADS]
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host, *port;
static int rounds, pause_ms;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *what, const char *detail)
{
	pthread_mutex_lock(&out_lock);
	printf("T %lld %s%s%s\n", wall_ms(), what, detail[0] ? " " : "",
	       detail);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* The first word of the body of the answer in <buf>. */
static void body_word(const char *buf, char *out, size_t outlen)
{
	const char *b = strstr(buf, "\r\n\r\n");
	size_t n = 0;

	out[0] = '\0';
	if (b == NULL)
		return;
	b += 4;
	while (b[n] != '\0' && b[n] != ' ' && b[n] != '\r' && b[n] != '\n' &&
	       n + 1 < outlen)
		n++;
	memcpy(out, b, n);
	out[n] = '\0';
}

static void round_once(void)
{
	struct addrinfo hints, *res;
	char buf[2048], word[64];
	const char req[] = "GET / HTTP/1.0\r\n\r\n";
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		say("FAILED", gai_strerror(rc));
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		say("FAILED", strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return;
	}
	freeaddrinfo(res);
	while (got + 1 < sizeof(buf) &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	body_word(buf, word, sizeof(word));
	say(word[0] ? word : "FAILED", word[0] ? "" : "empty");
}

static void *run(void *arg)
{
	int r;

	(void)arg;
	for (r = 0; r < rounds; r++) {
		round_once();
		if (pause_ms > 0)
			usleep((useconds_t)pause_ms * 1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	int threads = 1, i;

	if (argc < 5) {
		fprintf(stderr, "usage: follow HOST PORT ROUNDS PAUSE_MS "
				"[THREADS]\n");
		return 2;
	}
	host = argv[1];
	port = argv[2];
	rounds = atoi(argv[3]);
	pause_ms = atoi(argv[4]);
	if (argc > 5)
		threads = atoi(argv[5]);
	if (threads < 1 || threads > 64)
		threads = 1;
	for (i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, run, NULL);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return 0;
}
