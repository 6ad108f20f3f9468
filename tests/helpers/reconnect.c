/*
 * reconnect: one socket, two services. `reconnect HOST_A HOST_B PORT`
 * connects a blocking TCP socket to HOST_A, disconnects it with
 * connect(AF_UNSPEC) as a client that reuses its socket does, connects the
 * same socket to HOST_B, sends "GET / HTTP/1.0" and prints the response
 * body. Exit 0 on a response, 1 otherwise (the reason on stderr).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* connect() to the first IPv4 address of <host>; 0 or an errno value. */
static int dial(int fd, const char *host, const char *port)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return EHOSTUNREACH;
	rc = connect(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0 : errno;
	freeaddrinfo(res);
	return rc;
}

int main(int argc, char **argv)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	char buf[4096], *body;
	size_t got = 0;
	ssize_t n;
	int fd, err, len;

	if (argc != 4) {
		fprintf(stderr, "usage: reconnect HOST_A HOST_B PORT\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1) {
		perror("reconnect: socket");
		return 1;
	}
	if ((err = dial(fd, argv[1], argv[3])) != 0) {
		fprintf(stderr, "reconnect: %s: %s\n", argv[1], strerror(err));
		return 1;
	}
	if (connect(fd, &unspec, sizeof(unspec)) == -1) {
		fprintf(stderr, "reconnect: AF_UNSPEC: %s\n", strerror(errno));
		return 1;
	}
	if ((err = dial(fd, argv[2], argv[3])) != 0) {
		fprintf(stderr, "reconnect: %s: %s\n", argv[2], strerror(err));
		return 1;
	}
	len = snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n",
		       argv[2]);
	if (write(fd, buf, (size_t)len) != len)
		return 1;
	while (got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	if (body == NULL) {
		fprintf(stderr, "reconnect: no HTTP response\n");
		return 1;
	}
	fputs(body + 4, stdout);
	close(fd);
	return 0;
}
