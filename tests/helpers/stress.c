/*
 * stress: THREADS threads each resolve HOST and fetch "/" from it ROUNDS
 * times, alternating blocking and non-blocking connects, closing some
 * sockets with the raw close system call as libuv does. Prints
 * "ok N failed M" and exits 0 when nothing failed. With PAUSE_MS, each
 * thread sleeps that long between rounds (a long-running client).
 *   stress HOST PORT THREADS ROUNDS [PAUSE_MS]
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *host, *port;
static int rounds, pause_ms;
static atomic_int ok, failed;

static int fetch_once(int n)
{
	struct addrinfo hints, *res, *ai;
	char buf[512];
	int rc = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && rc != 0; ai = ai->ai_next) {
		int nb = n % 2;
		int fd = socket(ai->ai_family, SOCK_STREAM |
				(nb ? SOCK_NONBLOCK : 0), 0);
		int err = 0;
		socklen_t len = sizeof(err);
		ssize_t got;

		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			err = errno;
			if (nb && err == EINPROGRESS) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };

				err = poll(&p, 1, 5000) == 1 ? 0 : ETIMEDOUT;
				if (err == 0)
					getsockopt(fd, SOL_SOCKET, SO_ERROR,
						   &err, &len);
			}
		}
		if (err == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (write(fd, "GET / HTTP/1.0\r\n\r\n", 18) == 18 &&
			    poll(&p, 1, 5000) == 1 &&
			    (got = read(fd, buf, sizeof(buf))) > 0)
				rc = 0;
		}
		if (n % 3 == 0)
			syscall(SYS_close, fd); /* behind the library's back */
		else
			close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static void *worker(void *arg)
{
	int i, id = (int)(long)arg;

	for (i = 0; i < rounds; i++) {
		if (fetch_once(id + i) == 0)
			atomic_fetch_add(&ok, 1);
		else
			atomic_fetch_add(&failed, 1);
		if (pause_ms > 0)
			usleep((useconds_t)pause_ms * 1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t *t;
	int n, i;

	if (argc != 5 && argc != 6)
		return 2;
	pause_ms = argc == 6 ? atoi(argv[5]) : 0;
	host = argv[1];
	port = argv[2];
	n = atoi(argv[3]);
	rounds = atoi(argv[4]);
	t = calloc((size_t)n, sizeof(*t));
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	printf("ok %d failed %d\n", atomic_load(&ok), atomic_load(&failed));
	return atomic_load(&failed) == 0 ? 0 : 1;
}
