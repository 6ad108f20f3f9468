/*
 * sigconnect: signal handlers that connect and close, the ways programs
 * write them. One mode per run:
 *
 *   sigconnect vip HOST
 *     prints HOST's first IPv4 address (a service address under swerve).
 *   sigconnect stack HOST PORT
 *     runs a handler on a 64 KiB alternate stack painted with a pattern,
 *     once making a raw connect system call and once calling connect() to
 *     HOST (the first connect of the process: swerve builds its routing
 *     plan there); prints "stack: N", the bytes the second used beyond
 *     the first, and "connect: ERROR" for the routed one.
 *   sigconnect altstack HOST PORT
 *     a handler on an 8 KiB alternate stack (a guard page below it)
 *     connects to HOST, reads the answer and closes; prints "handler:
 *     ERROR" and the body.
 *   sigconnect early ADDR PORT
 *     the first call the library sees comes from a handler: connect() to
 *     ADDR; then main connects to it too. Prints "handler: ERROR" and
 *     "main: ERROR".
 *   sigconnect dns HOST PORT DNSD_PID
 *     main fetches from HOST (whose endpoints are names), silences the
 *     DNS server (SIGUSR1 toggles dnsd's drop mode), waits 1.5 s for the
 *     answer's 1 s TTL to pass, then a handler fetches from HOST; the
 *     server is made to answer again before exit. Prints "handler: ERROR"
 *     and the body.
 *   sigconnect vfork
 *     installs a SIGUSR2 handler, vforks a child that sets SIGUSR2 back
 *     to its default before it would exec (launchers do), then raises
 *     SIGUSR2 in the parent. Prints "handled: N".
 *   sigconnect jump HOST PORT MS
 *     for MS milliseconds main connects to HOST and closes in a loop while
 *     a 100 us interval timer's handler jumps out of whatever it
 *     interrupted with siglongjmp; then 20 connects without the timer.
 *     Prints "jumps N" and "after: OK of 20".
 *
 * ERROR is strerror()'s text, "Success" for none. Exit 0 unless the mode
 * could not run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct addrinfo *target;
static volatile int handler_err = -1, raw_mode;
static char body[256];

static struct addrinfo *resolve(const char *host, const char *port)
{
	struct addrinfo hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		fprintf(stderr, "sigconnect: cannot resolve %s\n", host);
		exit(1);
	}
	return res;
}

/* connect() to the target, then an HTTP/1.0 GET whose body lands in
 * body[]; 0 or an errno value. Async-signal-safe calls only. */
static int fetch(void)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[512];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;
	char *p;

	if (connect(fd, target->ai_addr, target->ai_addrlen) == -1)
		err = errno;
	else if (write(fd, req, sizeof(req) - 1) < 0)
		err = errno;
	while (err == 0 && got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	p = strstr(buf, "\r\n\r\n");
	if (err == 0 && p != NULL && strlen(p + 4) < sizeof(body))
		memcpy(body, p + 4, strlen(p + 4) + 1);
	close(fd);
	return err;
}

static void on_usr1(int sig)
{
	(void)sig;
	if (raw_mode) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		handler_err = (int)syscall(SYS_connect, fd, target->ai_addr,
					   target->ai_addrlen) == -1 ? errno : 0;
		syscall(SYS_close, fd);
		return;
	}
	handler_err = fetch();
}

/* An alternate stack of <size> bytes with a guard page below it. */
static char *alt_stack(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, size + (size_t)page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss;

	if (m == MAP_FAILED || mprotect(m, (size_t)page, PROT_NONE) == -1)
		exit(1);
	ss.ss_sp = m + page;
	ss.ss_size = size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) == -1)
		exit(1);
	return m + page;
}

static void install(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) == -1)
		exit(1);
}

/* Bytes of the painted stack <s> of <size> bytes a handler run touched. */
static size_t used(const unsigned char *s, size_t size)
{
	size_t i = 0;

	while (i < size && s[i] == 0xa5)
		i++;
	return size - i;
}

static int mode_stack(void)
{
	size_t size = 64 * 1024, raw, routed;
	unsigned char *s = (unsigned char *)alt_stack(size);

	install(SIGUSR1, on_usr1, SA_ONSTACK);
	memset(s, 0xa5, size);
	raw_mode = 1;
	raise(SIGUSR1);
	raw = used(s, size);
	memset(s, 0xa5, size);
	raw_mode = 0;
	raise(SIGUSR1);
	routed = used(s, size);
	printf("stack: %zd\nconnect: %s\n", (ssize_t)(routed - raw),
	       strerror(handler_err));
	return 0;
}

static int mode_altstack(void)
{
	alt_stack(8 * 1024);
	install(SIGUSR1, on_usr1, SA_ONSTACK);
	raise(SIGUSR1);
	printf("handler: %s\n%s", strerror(handler_err), body);
	return 0;
}

static int mode_early(void)
{
	install(SIGUSR1, on_usr1, 0);
	raise(SIGUSR1);
	printf("handler: %s\n", strerror(handler_err));
	printf("main: %s\n", strerror(fetch()));
	return 0;
}

static int mode_dns(pid_t dnsd)
{
	int err = fetch();

	if (err != 0) {
		fprintf(stderr, "sigconnect: main: %s\n", strerror(err));
		return 1;
	}
	install(SIGUSR1, on_usr1, 0);
	kill(dnsd, SIGUSR1);
	usleep(1500 * 1000);
	raise(SIGUSR1);
	kill(dnsd, SIGUSR1);
	printf("handler: %s\n%s", strerror(handler_err), body);
	return 0;
}

static volatile sig_atomic_t handled;

static void on_usr2(int sig)
{
	(void)sig;
	handled++;
}

static int mode_vfork(void)
{
	pid_t child;

	install(SIGUSR2, on_usr2, 0);
	child = vfork();
	if (child == 0) {
		signal(SIGUSR2, SIG_DFL);
		_exit(0);
	}
	if (child == -1 || waitpid(child, NULL, 0) != child)
		return 1;
	raise(SIGUSR2);
	printf("handled: %d\n", (int)handled);
	return 0;
}

static sigjmp_buf jump_env;
static volatile sig_atomic_t jumps;

static void on_alarm(int sig)
{
	(void)sig;
	jumps++;
	siglongjmp(jump_env, 1);
}

/* 20 fetches once the timer is off: routed, every one, unless a jump
 * left swerve's state behind. */
static int after_jumps(void)
{
	int ok = 0, i;

	for (i = 0; i < 20; i++)
		ok += fetch() == 0;
	printf("jumps %d\nafter: %d of 20\n", (int)jumps, ok);
	return 0;
}

static int mode_jump(long ms)
{
	struct itimerval it = { .it_interval = { .tv_usec = 100 },
				.it_value = { .tv_usec = 100 } };
	struct itimerval off = { 0 };
	struct timespec t0, t;
	static volatile int fd = -1;

	install(SIGALRM, on_alarm, SA_RESTART);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setitimer(ITIMER_REAL, &it, NULL);
	for (;;) {
		sigsetjmp(jump_env, 1);
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
			    (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			break;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		connect(fd, target->ai_addr, target->ai_addrlen);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	if (fd >= 0)
		close(fd);
	return after_jumps();
}

int main(int argc, char **argv)
{
	char addr[INET_ADDRSTRLEN];

	if (argc == 3 && strcmp(argv[1], "vip") == 0) {
		target = resolve(argv[2], "80");
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)target->ai_addr)->sin_addr,
			  addr, sizeof(addr));
		printf("%s\n", addr);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "vfork") == 0)
		return mode_vfork();
	if (argc < 4) {
		fprintf(stderr, "usage: sigconnect MODE HOST PORT [MS]\n");
		return 2;
	}
	if (strcmp(argv[1], "early") == 0) {
		struct sockaddr_in *sin = calloc(1, sizeof(*sin));
		static struct addrinfo ai;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(argv[3]));
		inet_pton(AF_INET, argv[2], &sin->sin_addr);
		ai.ai_addr = (struct sockaddr *)sin;
		ai.ai_addrlen = sizeof(*sin);
		target = &ai;
		return mode_early();
	}
	target = resolve(argv[2], argv[3]);
	if (strcmp(argv[1], "stack") == 0)
		return mode_stack();
	if (strcmp(argv[1], "altstack") == 0)
		return mode_altstack();
	if (strcmp(argv[1], "jump") == 0 && argc == 5)
		return mode_jump(atol(argv[4]));
	if (strcmp(argv[1], "dns") == 0 && argc == 5)
		return mode_dns((pid_t)atoi(argv[4]));
	return 2;
}
