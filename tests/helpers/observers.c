/*
 * observers: several threads learning how one connect ended, as programs
 * with a selector thread do. Two modes:
 *
 *   observers once HOST PORT ROUNDS
 *     ROUNDS times: a non-blocking connect to HOST's first IPv4 address
 *     (an endpoint that refuses), then three threads released at once:
 *     one reads SO_ERROR, one calls connect() again, one calls read().
 *     Prints "rounds N".
 *   observers reuse HOST_Y HOST_X PORT ROUNDS
 *     One thread connects a fresh socket to HOST_Y and closes it, ROUNDS
 *     times, so that the fd number keeps coming back; another calls
 *     connect() to HOST_X on that fd number all the while (connect again
 *     on a socket it does not own, or a new attempt on a new socket).
 *     Prints "y N x M": the connect() calls each made.
 *
 * Exit 0 when every round ran.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct addrinfo *ai_y, *ai_x;
static pthread_barrier_t start, done;
static _Atomic int cur_fd = -1, stop;
static int rounds;

static struct addrinfo *resolve(const char *host, const char *port)
{
	struct addrinfo hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		fprintf(stderr, "observers: cannot resolve %s\n", host);
		exit(1);
	}
	return res;
}

static void *observer(void *arg)
{
	long kind = (long)arg;
	socklen_t len = sizeof(int);
	int i, err;
	char c;

	for (i = 0; i < rounds; i++) {
		pthread_barrier_wait(&start);
		if (kind == 0)
			getsockopt(cur_fd, SOL_SOCKET, SO_ERROR, &err, &len);
		else if (kind == 1)
			connect(cur_fd, ai_y->ai_addr, ai_y->ai_addrlen);
		else if (read(cur_fd, &c, 1) < 0)
			err = errno;
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static int once(void)
{
	pthread_t t[3];
	long k;
	int i;

	pthread_barrier_init(&start, NULL, 4);
	pthread_barrier_init(&done, NULL, 4);
	for (k = 0; k < 3; k++)
		pthread_create(&t[k], NULL, observer, (void *)k);
	for (i = 0; i < rounds; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (connect(fd, ai_y->ai_addr, ai_y->ai_addrlen) == 0 ||
		    errno != EINPROGRESS)
			return 1;
		cur_fd = fd;
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		close(fd);
	}
	for (k = 0; k < 3; k++)
		pthread_join(t[k], NULL);
	printf("rounds %d\n", rounds);
	return 0;
}

static void *intruder(void *arg)
{
	long *n = arg;

	while (!stop) {
		int fd = cur_fd;

		if (fd >= 0) {
			connect(fd, ai_x->ai_addr, ai_x->ai_addrlen);
			(*n)++;
		}
	}
	return NULL;
}

static int reuse(void)
{
	pthread_t t;
	long nx = 0;
	int i;

	pthread_create(&t, NULL, intruder, &nx);
	for (i = 0; i < rounds; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		cur_fd = fd;
		connect(fd, ai_y->ai_addr, ai_y->ai_addrlen);
		close(fd);
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("y %d x %ld\n", rounds, nx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "once") == 0) {
		ai_y = resolve(argv[2], argv[3]);
		rounds = atoi(argv[4]);
		return once();
	}
	if (argc == 6 && strcmp(argv[1], "reuse") == 0) {
		ai_y = resolve(argv[2], argv[4]);
		ai_x = resolve(argv[3], argv[4]);
		rounds = atoi(argv[5]);
		return reuse();
	}
	fprintf(stderr, "usage: observers once HOST PORT ROUNDS\n"
			"       observers reuse HOST_Y HOST_X PORT ROUNDS\n");
	return 2;
}
