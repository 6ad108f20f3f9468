/*
 * faultloop: a client that connects in a loop, for the fault-injection
 * suite (tests/faults). Each round resolves HOST, connects a blocking TCP
 * socket to the first address that takes it, sends "GET / HTTP/1.0",
 * reads the answer and closes.
 *
 *   faultloop HOST PORT ROUNDS [COUNTERS SLOT]
 *
 * ROUNDS 0 loops until SIGTERM (a round it interrupts is not counted as
 * failed). It prints "ready" once before the first round and
 * "ok N failed M max_ms X" at the end, where X is the longest
 * single connect() call in milliseconds (a hang would show there, or as no
 * end at all). With COUNTERS, a file of at least 64 * (SLOT + 1) bytes,
 * the loop keeps three counters of its own in slot SLOT of that file,
 * mapped shared, so that they survive a kill -9 at any instruction:
 * rounds started (raised before connect), connects that succeeded (raised
 * after connect returned 0) and connects that failed. Exit 0 when no
 * round failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct counters {
	_Atomic uint64_t started;
	_Atomic uint64_t ok;
	_Atomic uint64_t failed;
	uint64_t pad[5];
};

static volatile sig_atomic_t stop;
static struct counters scratch, *cnt = &scratch;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void map_counters(const char *path, int slot)
{
	void *map;
	int fd;

	fd = open(path, O_RDWR);
	if (fd == -1 || slot < 0) {
		perror("faultloop: counters");
		exit(2);
	}
	map = mmap(NULL, 64 * (size_t)(slot + 1), PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		perror("faultloop: mmap");
		exit(2);
	}
	cnt = (struct counters *)map + slot;
}

/* One request; 0 when an answer came back. <*max> grows to the longest
 * connect() seen. */
static int round_trip(const char *host, const char *port, double *max)
{
	struct addrinfo hints, *res, *ai;
	char buf[512];
	int rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && rc != 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM, 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double t0;
		int c;

		if (fd == -1)
			continue;
		atomic_fetch_add(&cnt->started, 1);
		t0 = now_ms();
		c = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (now_ms() - t0 > *max)
			*max = now_ms() - t0;
		atomic_fetch_add(c == 0 ? &cnt->ok : &cnt->failed, 1);
		if (c == 0 &&
		    write(fd, "GET / HTTP/1.0\r\n\r\n", 18) == 18 &&
		    poll(&p, 1, 5000) == 1 && read(fd, buf, sizeof(buf)) > 0)
			rc = 0;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	long rounds, i, ok = 0, failed = 0;
	double max = 0;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: faultloop HOST PORT ROUNDS "
				"[COUNTERS SLOT]\n");
		return 2;
	}
	rounds = atol(argv[3]);
	if (argc == 6)
		map_counters(argv[4], atoi(argv[5]));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	for (i = 0; !stop && (rounds == 0 || i < rounds); i++) {
		if (round_trip(argv[1], argv[2], &max) == 0)
			ok++;
		else if (!stop) /* SIGTERM interrupts the last round */
			failed++;
	}
	printf("ok %ld failed %ld max_ms %.1f\n", ok, failed, max);
	return failed == 0 ? 0 : 1;
}
