/*
 * sockerr: what a non-blocking connect reports when the kernel refuses it
 * with an error swerve does not fail over on. `sockerr HOST PORT [--
 * COMMAND ARGS...]` moves into a network namespace of its own (root), sets
 * its loopback up, runs COMMAND there without the library (an ip6tables
 * rule, say), then connects an AF_INET6 socket with IPV6_RECVERR to HOST's
 * first v4-mapped address, waits for the outcome with poll() and prints
 *   connect: ERROR          when connect() itself failed, or
 *   so_error: ERROR         what SO_ERROR said after poll()
 * ("Success" for none). Exit 0 when it could tell, 1 otherwise.
 */
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (s == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0)
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return rc;
}

/* Runs argv without LD_PRELOAD; its exit status, or -1. */
static int run_plain(char **argv)
{
	char *envp[64];
	int n = 0, i, st;
	pid_t pid;

	for (i = 0; environ[i] != NULL && n < 63; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			envp[n++] = environ[i];
	envp[n] = NULL;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, envp) != 0 ||
	    waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *res;
	struct pollfd p = { .events = POLLOUT };
	socklen_t len = sizeof(int);
	int fd, one = 1, err = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: sockerr HOST PORT [-- COMMAND...]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET) == -1 || loopback_up() == -1) {
		perror("sockerr: network namespace");
		return 1;
	}
	if (argc > 4 && strcmp(argv[3], "--") == 0 &&
	    run_plain(argv + 4) != 0) {
		fprintf(stderr, "sockerr: %s failed\n", argv[4]);
		return 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;
	hints.ai_flags = AI_V4MAPPED;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0) {
		fprintf(stderr, "sockerr: cannot resolve %s\n", argv[1]);
		return 1;
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	if (connect(fd, res->ai_addr, res->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		printf("connect: %s\n", strerror(errno));
		return 0;
	}
	p.fd = fd;
	if (poll(&p, 1, 3000) != 1) {
		fprintf(stderr, "sockerr: no outcome within 3 s\n");
		return 1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	printf("so_error: %s\n", strerror(err));
	freeaddrinfo(res);
	close(fd);
	return 0;
}
