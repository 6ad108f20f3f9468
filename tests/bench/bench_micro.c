/*
 * bench_micro: in-process micro benchmarks for scripts/bench.sh. A plain
 * program, never linked with swerve: the script runs it with and without
 * LD_PRELOAD, so the measured code path is exactly the one applications get.
 *
 *   bench_micro sink ADDR N PORT
 *       listens on N consecutive IPv4 addresses from ADDR, all on PORT,
 *       accepts and closes until its parent exits; prints "ready".
 *   bench_micro gai NAME ITER
 *       getaddrinfo(NAME, "80") + freeaddrinfo, ITER times.
 *   bench_micro connect ADDR N PORT ITER THREADS
 *       socket + connect + close, ITER times in all, spread over THREADS
 *       threads; each thread cycles through the N addresses from ADDR,
 *       which may be a name (resolved once, like wrk does).
 *   bench_micro connect2 ADDR_A ADDR_B PORT ITER
 *       the same with one thread, alternating blocks to ADDR_A and ADDR_B
 *       in one process; prints "ns_per_op <a> <b> ops <n>".
 *   bench_micro stat PATH ITER
 *       stat(PATH), ITER times: what live reload's check of the config
 *       file costs, once a second.
 *
 * The measuring modes print one line: "ns_per_op <float> ops <n>"; with one
 * thread it is the fastest of BLOCKS equal blocks, with more the mean over
 * the whole run. Loopback
 * only: the script passes 127.x addresses and the program refuses others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A sink outlives no benchmark: it exits by itself after this long even if
 * the script that started it was killed without a chance to stop it. */
#define SINK_MAX_SECONDS 900
#define MAX_ADDRS 1024
#define MAX_THREADS 256
/*
 * Single-threaded runs are timed in this many blocks and the fastest block
 * is reported: on a shared 2-core VM a block that another process preempted
 * says nothing about swerve, and the fastest is the most repeatable figure.
 */
#define BLOCKS 5
/* connect2 alternates this many blocks of each address. */
#define PAIR_BLOCKS 10

struct conn_job {
	uint32_t base;      /* first address, host order */
	unsigned naddrs;
	uint16_t port;
	unsigned long iters;
	unsigned start;     /* first address index, spreads threads */
	unsigned long errors;
};

static pthread_barrier_t start_line;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_micro: %s: %s\n", what, strerror(errno));
	exit(1);
}

/*
 * The IPv4 address of <text>, a dotted quad or a name: under swerve a
 * service name resolves to its service address, as for any client.
 */
static uint32_t parse_loopback(const char *text)
{
	struct addrinfo hints, *res;
	uint32_t h;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(text, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "bench_micro: %s: %s\n", text,
			gai_strerror(rc));
		exit(2);
	}
	h = ntohl(((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr.s_addr);
	freeaddrinfo(res);
	/* The house rule: benchmarks never send a packet off the host. */
	if ((h >> 24) != 127) {
		fprintf(stderr, "bench_micro: %s is not loopback\n", text);
		exit(2);
	}
	return h;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* One listening socket per endpoint: 1000 of them need more than the
	 * usual soft limit of 1024. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int sink(uint32_t base, unsigned n, uint16_t port)
{
	struct epoll_event ev, evs[64];
	struct sockaddr_in sin;
	int ep, one = 1, i, k;
	unsigned a;
	time_t deadline = time(NULL) + SINK_MAX_SECONDS;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	raise_nofile();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1)
		die("epoll_create1");
	for (a = 0; a < n; a++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		if (fd == -1)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(base + a);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			die("bind");
		if (listen(fd, 4096) == -1)
			die("listen");
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			die("epoll_ctl");
	}
	printf("ready\n");
	fflush(stdout);
	while (time(NULL) < deadline) {
		k = epoll_wait(ep, evs, 64, 1000);
		for (i = 0; i < k; i++) {
			int c;

			while ((c = accept4(evs[i].data.fd, NULL, NULL,
					    SOCK_CLOEXEC)) != -1)
				close(c);
		}
		if (getppid() == 1)
			break;
	}
	return 0;
}

/* One call of a timed operation: 0, or -1 with the reason printed. */
typedef int op_fn(void *arg);

/*
 * Warms up with iters / 10 + 1 calls of <op> (the first call of a hooked
 * one loads the config, nss modules, files), then times BLOCKS blocks of
 * iters / BLOCKS calls and prints the fastest block's ns_per_op. 1 when a
 * call failed.
 */
static int timed_blocks(op_fn *op, void *arg, unsigned long iters)
{
	unsigned long i;
	double t0, t1, best = 0;
	int b;

	for (i = 0; i < iters / 10 + 1; i++)
		if (op(arg) != 0)
			return 1;
	for (b = 0; b < BLOCKS; b++) {
		t0 = now_ns();
		for (i = 0; i < iters / BLOCKS; i++)
			if (op(arg) != 0)
				return 1;
		t1 = now_ns();
		if (b == 0 || t1 - t0 < best)
			best = t1 - t0;
	}
	printf("ns_per_op %.1f ops %lu\n", best / (double)(iters / BLOCKS),
	       iters / BLOCKS * BLOCKS);
	return 0;
}

/* getaddrinfo(name, "80") and freeaddrinfo. */
static int gai_op(void *arg)
{
	const char *name = arg;
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, "80", &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "bench_micro: getaddrinfo(%s): %s\n", name,
			gai_strerror(rc));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

/* stat() of a path. */
static int stat_op(void *arg)
{
	struct stat st;

	if (stat(arg, &st) != 0) {
		perror("bench_micro: stat");
		return -1;
	}
	return 0;
}

static unsigned long connect_loop(struct conn_job *job, unsigned long n)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_in sin;
	unsigned long i, errors = 0;
	unsigned a = job->start % job->naddrs;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(job->port);
	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd == -1) {
			errors++;
			continue;
		}
		/* close() sends RST: no TIME_WAIT pile-up, so the ephemeral
		 * port search costs the same in the first and last round. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		sin.sin_addr.s_addr = htonl(job->base + a);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			errors++;
		close(fd);
		if (++a == job->naddrs)
			a = 0;
	}
	return errors;
}

static void *conn_thread(void *arg)
{
	struct conn_job *job = arg;

	pthread_barrier_wait(&start_line);
	job->errors = connect_loop(job, job->iters);
	return NULL;
}

static int connects(uint32_t base, unsigned n, uint16_t port,
		    unsigned long iters, unsigned threads)
{
	struct conn_job jobs[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	unsigned long errors = 0, done = 0;
	unsigned t;
	double t0, t1;

	if (threads < 1 || threads > MAX_THREADS || n < 1 || n > MAX_ADDRS) {
		fprintf(stderr, "bench_micro: bad thread or address count\n");
		return 2;
	}
	for (t = 0; t < threads; t++) {
		jobs[t].base = base;
		jobs[t].naddrs = n;
		jobs[t].port = port;
		jobs[t].iters = iters / threads;
		jobs[t].start = t * (n / threads + 1);
		jobs[t].errors = 0;
		done += jobs[t].iters;
	}
	/* Warm up in this thread: config load, shm attach, page faults. */
	jobs[0].errors = connect_loop(&jobs[0], iters / 20 + 1);
	if (jobs[0].errors != 0) {
		fprintf(stderr, "bench_micro: warm-up connects failed\n");
		return 1;
	}
	if (threads == 1) {
		double best = 0;
		unsigned b;

		for (b = 0; b < BLOCKS; b++) {
			t0 = now_ns();
			errors += connect_loop(&jobs[0], iters / BLOCKS);
			t1 = now_ns();
			if (b == 0 || t1 - t0 < best)
				best = t1 - t0;
		}
		if (errors != 0) {
			fprintf(stderr, "bench_micro: %lu connects failed\n",
				errors);
			return 1;
		}
		printf("ns_per_op %.1f ops %lu\n",
		       best / (double)(iters / BLOCKS), iters / BLOCKS * BLOCKS);
		return 0;
	}
	pthread_barrier_init(&start_line, NULL, threads + 1);
	for (t = 0; t < threads; t++)
		if (pthread_create(&tids[t], NULL, conn_thread, &jobs[t]) != 0)
			die("pthread_create");
	t0 = now_ns();
	pthread_barrier_wait(&start_line);
	for (t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		errors += jobs[t].errors;
	}
	t1 = now_ns();
	if (errors != 0) {
		fprintf(stderr, "bench_micro: %lu of %lu connects failed\n",
			errors, done);
		return 1;
	}
	printf("ns_per_op %.1f ops %lu\n", (t1 - t0) / (double)done, done);
	return 0;
}

/*
 * Blocks of connects to <a> and to <b> in turn, in one process: drift in
 * the machine's speed hits both alike, which separate processes cannot
 * promise. Prints the fastest block of each.
 */
static int connect_pair(uint32_t a, uint32_t b, uint16_t port,
			unsigned long iters)
{
	struct conn_job ja = { .base = a, .naddrs = 1, .port = port };
	struct conn_job jb = { .base = b, .naddrs = 1, .port = port };
	unsigned long per = iters / (2 * PAIR_BLOCKS), errors = 0;
	double best_a = 0, best_b = 0, t0, t1;
	unsigned k;

	errors += connect_loop(&ja, per / 2 + 1);
	errors += connect_loop(&jb, per / 2 + 1);
	for (k = 0; k < PAIR_BLOCKS; k++) {
		t0 = now_ns();
		errors += connect_loop(&ja, per);
		t1 = now_ns();
		if (k == 0 || t1 - t0 < best_a)
			best_a = t1 - t0;
		t0 = now_ns();
		errors += connect_loop(&jb, per);
		t1 = now_ns();
		if (k == 0 || t1 - t0 < best_b)
			best_b = t1 - t0;
	}
	if (errors != 0) {
		fprintf(stderr, "bench_micro: %lu connects failed\n", errors);
		return 1;
	}
	printf("ns_per_op %.1f %.1f ops %lu\n", best_a / (double)per,
	       best_b / (double)per, per * 2 * PAIR_BLOCKS);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "sink") == 0)
		return sink(parse_loopback(argv[2]),
			    (unsigned)strtoul(argv[3], NULL, 10),
			    (uint16_t)strtoul(argv[4], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "gai") == 0)
		return timed_blocks(gai_op, argv[2],
				    strtoul(argv[3], NULL, 10));
	if (argc == 7 && strcmp(argv[1], "connect") == 0)
		return connects(parse_loopback(argv[2]),
				(unsigned)strtoul(argv[3], NULL, 10),
				(uint16_t)strtoul(argv[4], NULL, 10),
				strtoul(argv[5], NULL, 10),
				(unsigned)strtoul(argv[6], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "stat") == 0)
		return timed_blocks(stat_op, argv[2],
				    strtoul(argv[3], NULL, 10));
	if (argc == 6 && strcmp(argv[1], "connect2") == 0)
		return connect_pair(parse_loopback(argv[2]),
				    parse_loopback(argv[3]),
				    (uint16_t)strtoul(argv[4], NULL, 10),
				    strtoul(argv[5], NULL, 10));
	fprintf(stderr,
		"usage: bench_micro sink ADDR N PORT\n"
		"       bench_micro gai NAME ITER\n"
		"       bench_micro connect ADDR N PORT ITER THREADS\n"
		"       bench_micro connect2 ADDR_A ADDR_B PORT ITER\n"
		"       bench_micro stat PATH ITER\n");
	return 2;
}
