/*
 * slowconn: a non-blocking connect to a slow endpoint, watched from the
 * application's side. `slowconn [-u MS] HOST PORT SERVER_PID`
 * connects a non-blocking socket to HOST's first IPv4 address (the server,
 * in httpd's "hold" mode, drops the SYN) and prints TCP_USER_TIMEOUT as
 * connect() left it; with -u sets it to MS itself while the handshake is
 * in flight; tells the server (SIGUSR1) to accept, waits with poll(),
 * reads SO_ERROR and prints TCP_USER_TIMEOUT again:
 *   uto after connect: N
 *   so_error: ERROR
 *   uto at the end: N
 * Exit 0 when the connect succeeded.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned int uto_of(int fd)
{
	unsigned int v = 12345;
	socklen_t len = sizeof(v);

	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &len);
	return v;
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *res;
	struct pollfd p = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int opt, fd, err = 0;
	unsigned int uto = 0;

	while ((opt = getopt(argc, argv, "u:")) != -1) {
		if (opt != 'u')
			return 2;
		uto = (unsigned int)atoi(optarg);
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: slowconn [-u MS] HOST PORT "
				"SERVER_PID\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[optind], argv[optind + 1], &hints, &res) != 0)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(fd, res->ai_addr, res->ai_addrlen) == 0 ||
	    errno != EINPROGRESS) {
		fprintf(stderr, "slowconn: connect did not hang: %s\n",
			strerror(errno));
		return 1;
	}
	printf("uto after connect: %u\n", uto_of(fd));
	if (uto != 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
			   sizeof(uto));
	kill((pid_t)atoi(argv[optind + 2]), SIGUSR1);
	p.fd = fd;
	if (poll(&p, 1, 5000) != 1) {
		fprintf(stderr, "slowconn: no outcome within 5 s\n");
		return 1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("so_error: %s\n", strerror(err));
	printf("uto at the end: %u\n", uto_of(fd));
	freeaddrinfo(res);
	close(fd);
	return err != 0;
}
