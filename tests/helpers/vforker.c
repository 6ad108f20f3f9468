/*
 * vforker: a parent whose slow connect is in flight when a vfork() child
 * closes every descriptor before it would exec, as the JDK's launcher and
 * others do. `vforker HOST PORT SERVER_PID`: connects a non-blocking
 * socket to HOST's first IPv4 address (the server, in httpd's "hold" mode,
 * drops the SYN), waits 200 ms, vforks a child that closes fds 3 to 1023
 * and exits, then tells the server (SIGUSR1) to accept: the connect
 * succeeds with its SYN retransmission. Prints "so_error: ERROR" and the
 * response body. Exit 0 on a response.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int fetch(int fd)
{
	char buf[4096], *body;
	size_t got = 0;
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\n\r\n");
	if (write(fd, buf, (size_t)len) != len)
		return 1;
	while (got < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) != 1)
			break;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (body == NULL)
		return 1;
	fputs(body + 4, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *res;
	struct pollfd p = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int fd, err = 0, st;
	pid_t child;

	if (argc != 4) {
		fprintf(stderr, "usage: vforker HOST PORT SERVER_PID\n");
		return 2;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
		return 1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(fd, res->ai_addr, res->ai_addrlen) == 0 ||
	    errno != EINPROGRESS) {
		fprintf(stderr, "vforker: connect did not hang: %s\n",
			strerror(errno));
		return 1;
	}
	usleep(200 * 1000);
	child = vfork();
	if (child == 0) {
		int i;

		for (i = 3; i < 1024; i++)
			close(i);
		_exit(0);
	}
	if (child == -1 || waitpid(child, &st, 0) != child)
		return 1;
	kill((pid_t)atoi(argv[3]), SIGUSR1);
	p.fd = fd;
	if (poll(&p, 1, 5000) != 1) {
		fprintf(stderr, "vforker: no outcome within 5 s\n");
		return 1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("so_error: %s\n", strerror(err));
	freeaddrinfo(res);
	return err != 0 ? 1 : fetch(fd);
}
