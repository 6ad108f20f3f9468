/*
 * prefork: a server that initialises its clients and then forks workers,
 * as prefork servers do. `prefork [-p] HOST PORT WORKERS PICKS ADDR...`
 * listens on each ADDR:18080 itself (the first one blackholed: listen(0),
 * its one slot filled), connects once to HOST so that swerve is set up in
 * the parent, and forks WORKERS workers. Each connects to HOST's first
 * IPv4 address PICKS times, non-blocking, and prints one line: the
 * endpoint each connect reached ("pending" for the blackholed one, whose
 * connect is still in flight). With -p the parent's own connect is left
 * in flight to the blackholed endpoint (retried until it lands there) and
 * the workers start 150 ms later. Exit 0 when every worker did its picks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct addrinfo *target;

static int listen_on(const char *addr, int port, int blackhole)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1, f;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, blackhole ? 0 : 128) == -1)
		return -1;
	if (!blackhole)
		return 0;
	f = socket(AF_INET, SOCK_STREAM, 0);
	return connect(f, (struct sockaddr *)&sin, sizeof(sin));
}

/* One non-blocking connect to the service: where it went, in <out>. */
static int pick(char *out, size_t len, int *fdp)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (connect(fd, target->ai_addr, target->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)
		return -1;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0)
		inet_ntop(AF_INET, &peer.sin_addr, out, (socklen_t)len);
	else
		snprintf(out, len, "pending");
	if (fdp != NULL)
		*fdp = fd;
	else
		close(fd);
	return 0;
}

static void worker(int picks)
{
	char line[1024], one[64];
	size_t off = 0;
	int i;

	for (i = 0; i < picks; i++) {
		if (pick(one, sizeof(one), NULL) != 0)
			_exit(1);
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s",
					i ? " " : "", one);
	}
	line[off++] = '\n';
	if (write(1, line, off) != (ssize_t)off)
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	struct addrinfo hints;
	int pending = 0, workers, picks, i, st, ok = 1, fd;
	char where[64];

	if (argc > 1 && strcmp(argv[1], "-p") == 0) {
		pending = 1;
		argv++;
		argc--;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: prefork [-p] HOST PORT WORKERS PICKS "
				"ADDR...\n");
		return 2;
	}
	workers = atoi(argv[3]);
	picks = atoi(argv[4]);
	for (i = 5; i < argc; i++)
		if (listen_on(argv[i], 18080, i == 5) != 0) {
			fprintf(stderr, "prefork: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &target) != 0)
		return 1;
	for (i = 0; i < 64; i++) {
		if (pick(where, sizeof(where), &fd) != 0)
			return 1;
		if (!pending || strcmp(where, "pending") == 0)
			break;
		close(fd);
	}
	if (pending)
		usleep(150 * 1000);
	else
		close(fd);
	fflush(stdout);
	for (i = 0; i < workers; i++)
		if (fork() == 0)
			worker(picks);
	for (i = 0; i < workers; i++)
		if (wait(&st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	return ok ? 0 : 1;
}
