/*
 * connloop: one process that keeps connecting to a service, the way an
 * event loop or a connection pool does, and times every connect() call.
 *
 *   connloop [options] HOST PORT
 *     -n N          rounds (default 20)
 *     -p MS         pause between rounds (default 50)
 *     -b            blocking connect() (default: non-blocking, then poll)
 *     -r            getaddrinfo before every round (default: once, at the
 *                   start, as a pool or a program that caches answers)
 *     -s PID:SIG:K  send signal SIG to PID right after round K (1-based;
 *                   repeatable): a test acts at a point the client has
 *                   provably reached, e.g. silencing its DNS server
 *     -w MS         a connect() call may take at most MS (default: any)
 *
 * Each round connects to the first IPv4 address, waits for the outcome (at
 * most 5 s), closes, and prints "round K connect_ms MS outcome ERRNO" (0:
 * connected). At the end it prints "worst_ms MS ok N of M" and exits 0
 * when every round connected within -w, 1 when one failed, 3 when one
 * connect() call took longer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIGNALS 4

struct action {
	pid_t pid;
	int sig;
	int after;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int resolve(const char *host, const char *port, struct addrinfo **ai)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, ai);
	if (rc != 0)
		fprintf(stderr, "connloop: %s: %s\n", host, gai_strerror(rc));
	return rc;
}

/* One round: returns 0 or the errno of the outcome; *took the connect(). */
static int round_trip(const struct addrinfo *ai, int blocking, double *took)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, err = 0, rc;
	double t;

	*took = 0;
	fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
	if (fd == -1)
		return errno;
	t = now_ms();
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	*took = now_ms() - t;
	if (rc == -1)
		err = errno;
	if (err == EINPROGRESS) {
		p.fd = fd;
		p.events = POLLOUT;
		err = poll(&p, 1, 5000) == 1 &&
		      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
			      ? err : ETIMEDOUT;
	}
	close(fd);
	return err;
}

static int parse_action(const char *s, struct action *a)
{
	long pid;
	int sig, after;

	if (sscanf(s, "%ld:%d:%d", &pid, &sig, &after) != 3 || pid <= 0)
		return -1;
	a->pid = (pid_t)pid;
	a->sig = sig;
	a->after = after;
	return 0;
}

int main(int argc, char **argv)
{
	struct action acts[MAX_SIGNALS];
	struct addrinfo *ai = NULL;
	int rounds = 20, pause_ms = 50, blocking = 0, each = 0, nacts = 0;
	int opt, k, i, ok = 0, err;
	double took, worst = 0, limit = -1;

	while ((opt = getopt(argc, argv, "n:p:brs:w:")) != -1) {
		if (opt == 'n')
			rounds = atoi(optarg);
		else if (opt == 'p')
			pause_ms = atoi(optarg);
		else if (opt == 'b')
			blocking = 1;
		else if (opt == 'r')
			each = 1;
		else if (opt == 'w')
			limit = atof(optarg);
		else if (opt == 's' && nacts < MAX_SIGNALS &&
			 parse_action(optarg, &acts[nacts]) == 0)
			nacts++;
		else
			return 2;
	}
	if (optind + 2 != argc)
		return 2;
	for (k = 1; k <= rounds; k++) {
		if (each || ai == NULL) {
			if (ai != NULL)
				freeaddrinfo(ai);
			ai = NULL;
			if (resolve(argv[optind], argv[optind + 1], &ai) != 0)
				return 1;
		}
		err = round_trip(ai, blocking, &took);
		if (took > worst)
			worst = took;
		ok += err == 0;
		printf("round %d connect_ms %.1f outcome %d\n", k, took, err);
		fflush(stdout);
		for (i = 0; i < nacts; i++)
			if (acts[i].after == k)
				kill(acts[i].pid, acts[i].sig);
		usleep((useconds_t)pause_ms * 1000);
	}
	freeaddrinfo(ai);
	printf("worst_ms %.1f ok %d of %d\n", worst, ok, rounds);
	if (ok != rounds)
		return 1;
	return limit >= 0 && worst > limit ? 3 : 0;
}
