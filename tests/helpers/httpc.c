/*
 * httpc: a small HTTP/1.1 client for the tests of HTTP observation, never
 * linked with swerve: it moves its bytes with the call family a test asks
 * for, so that each hook is seen at work, and it runs under a preloaded
 * sanitizer runtime (curl does not).
 *
 *   httpc [options] HOST PORT REQUEST...
 *     REQUEST   METHOD:TARGET, e.g. GET:/a, HEAD:/b; POST:/c sends "hello"
 *     -a CALLS  rw (read, write; the default), rs (recv, send), to
 *               (recvfrom, sendto), msg (recvmsg, sendmsg), v (readv,
 *               writev), chk (the fortified __read_chk, __recv_chk and
 *               __recvfrom_chk in turn; write); msg and v split every
 *               buffer in two
 *     -s N      read at most N bytes a call (default 65536)
 *     -p        pipelined: every request is written before any response
 *               is read
 *     -t        two threads on the one socket: a writer writes the
 *               requests (each after the previous response, or all at
 *               once with -p) while a reader reads the responses
 *     -n        a new connection for each request
 *     -k        peeks (MSG_PEEK) at the socket before each read
 *     -w MS     gives up on a response after MS: closes the socket and
 *               exits 3, or with -r or -u asks again elsewhere
 *     -r        after -w gives up: closes the socket by a raw system call
 *               (libuv does), then dials again (the fd number is reused)
 *               and makes the request there
 *     -u        after -w gives up: disconnects the socket with
 *               connect(AF_UNSPEC) and connects it again to the first
 *               address, then makes the request there
 *     -b        non-blocking socket: reads that would block are retried
 *               every 20 ms (no poll)
 *     -F        writes each request with sendfile() from a file
 *     -R N      makes the requests N times over, on the one connection
 *     -f        forks once connected: the child makes the first request
 *               on the inherited socket and closes it, then the parent
 *               makes the others
 *     -e        no HTTP: writes bytes that are not HTTP and then bytes
 *               that look like a 503 response, reads them back from an
 *               echo server, exit 0 when they came back unchanged
 * It connects to the first address getaddrinfo gives. Prints the status
 * of each final response on a line (an interim one as "interim NNN").
 * Exit 0 when every response was read, 1 on an error, 3 after -w.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <setjmp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc declares these only for fortified builds; programs built with
 * _FORTIFY_SOURCE call them for read(), recv() and recvfrom(). */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
		       int flags, struct sockaddr *sa, socklen_t *salen);

static const char *calls = "rw";
static size_t chunk = 65536;
static int wait_ms = -1;
static bool peek, nonblocking, with_sendfile;
/* Where fill() goes when -w gives up (main decides what follows). */
static jmp_buf gave_up;

struct reader {
	int fd;
	size_t len, off;
	unsigned turn;
	char buf[65536];
};

static ssize_t call_read(int fd, char *p, size_t n, unsigned turn)
{
	struct iovec iov[2];
	struct msghdr msg;
	size_t half = n > 7 ? 7 : n / 2;

	iov[0] = (struct iovec){ p, half };
	iov[1] = (struct iovec){ p + half, n - half };
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (strcmp(calls, "rs") == 0)
		return recv(fd, p, n, 0);
	if (strcmp(calls, "to") == 0)
		return recvfrom(fd, p, n, 0, NULL, NULL);
	if (strcmp(calls, "msg") == 0)
		return recvmsg(fd, &msg, 0);
	if (strcmp(calls, "v") == 0)
		return readv(fd, iov, 2);
	if (strcmp(calls, "chk") == 0) {
		if (turn % 3 == 0)
			return __read_chk(fd, p, n, n);
		if (turn % 3 == 1)
			return __recv_chk(fd, p, n, n, 0);
		return __recvfrom_chk(fd, p, n, n, 0, NULL, NULL);
	}
	return read(fd, p, n);
}

static ssize_t call_write(int fd, const char *p, size_t n)
{
	struct iovec iov[2] = { { (void *)p, n / 2 },
				{ (void *)(p + n / 2), n - n / 2 } };
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (strcmp(calls, "rs") == 0)
		return send(fd, p, n, MSG_NOSIGNAL);
	if (strcmp(calls, "to") == 0)
		return sendto(fd, p, n, MSG_NOSIGNAL, NULL, 0);
	if (strcmp(calls, "msg") == 0)
		return sendmsg(fd, &msg, MSG_NOSIGNAL);
	if (strcmp(calls, "v") == 0)
		return writev(fd, iov, 2);
	return write(fd, p, n);
}

/* -F: the bytes go from a file to the socket by sendfile(). */
static void send_file(int fd, const char *p, size_t n)
{
	char path[] = "/tmp/httpc-XXXXXX";
	int f = mkstemp(path);
	off_t off = 0;

	if (f == -1 || write(f, p, n) != (ssize_t)n) {
		perror("httpc: temporary file");
		exit(1);
	}
	unlink(path);
	while ((size_t)off < n)
		if (sendfile(fd, f, &off, n - (size_t)off) <= 0) {
			perror("httpc: sendfile");
			exit(1);
		}
	close(f);
}

static void write_all(int fd, const char *p, size_t n)
{
	if (with_sendfile) {
		send_file(fd, p, n);
		return;
	}
	while (n > 0) {
		ssize_t w = call_write(fd, p, n);

		if (w <= 0) {
			perror("httpc: write");
			exit(1);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* More bytes into <r>; false at EOF. Gives up after -w. */
static bool fill(struct reader *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char one;
	ssize_t n;
	size_t room;
	int waited;

	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (wait_ms >= 0 && !nonblocking && poll(&pfd, 1, wait_ms) == 0)
		longjmp(gave_up, 1);
	if (peek && recv(r->fd, &one, 1, MSG_PEEK) < 0) {
		perror("httpc: peek");
		exit(1);
	}
	room = sizeof(r->buf) - r->len;
	for (waited = 0;; waited += 20) {
		n = call_read(r->fd, r->buf + r->len,
			      room < chunk ? room : chunk, r->turn++);
		if (n >= 0 || errno != EAGAIN)
			break;
		if (wait_ms >= 0 && waited >= wait_ms)
			longjmp(gave_up, 1);
		usleep(20000);
	}
	if (n < 0) {
		perror("httpc: read");
		exit(1);
	}
	r->len += (size_t)n;
	return n > 0;
}

/* The next line of <r> without its CRLF, into <out>; false at EOF. */
static bool line(struct reader *r, char *out, size_t cap)
{
	char *nl;
	size_t n;

	while ((nl = memchr(r->buf + r->off, '\n', r->len - r->off)) == NULL)
		if (!fill(r))
			return false;
	n = (size_t)(nl - (r->buf + r->off));
	snprintf(out, cap, "%.*s", (int)(n > 0 && nl[-1] == '\r' ? n - 1 : n),
		 r->buf + r->off);
	r->off += n + 1;
	return true;
}

static void skip(struct reader *r, size_t n)
{
	while (n > 0) {
		size_t have = r->len - r->off, take = have < n ? have : n;

		r->off += take;
		n -= take;
		if (n > 0 && !fill(r)) {
			fprintf(stderr, "httpc: body cut short\n");
			exit(1);
		}
	}
}

/* Reads one response to a request of <method>; its final status. */
static int response(struct reader *r, const char *method)
{
	char l[8192];
	long clen;
	int status;
	bool chunked;

	for (;;) {
		clen = -1;
		chunked = false;
		if (!line(r, l, sizeof(l)) || sscanf(l, "HTTP/1.%*d %d",
						     &status) != 1) {
			fprintf(stderr, "httpc: no status line\n");
			exit(1);
		}
		while (line(r, l, sizeof(l)) && l[0] != '\0') {
			if (strncasecmp(l, "content-length:", 15) == 0)
				clen = atol(l + 15);
			if (strncasecmp(l, "transfer-encoding:", 18) == 0)
				chunked = strstr(l, "chunked") != NULL;
		}
		if (status >= 200 || status == 101)
			break;
		printf("interim %d\n", status);
	}
	printf("%d\n", status);
	fflush(stdout);
	if (strcmp(method, "HEAD") == 0 || status == 204 || status == 304)
		return status;
	if (chunked) {
		size_t size;

		do {
			if (!line(r, l, sizeof(l)))
				exit(1);
			size = strtoul(l, NULL, 16);
			skip(r, size);
			if (size > 0 && !line(r, l, sizeof(l)))
				exit(1);
		} while (size > 0);
		while (line(r, l, sizeof(l)) && l[0] != '\0')
			;
	} else if (clen >= 0) {
		skip(r, (size_t)clen);
	} else {
		while (fill(r))
			r->off = r->len;
	}
	return status;
}

/* The first address of the service (kept for -u). */
static struct sockaddr_storage first;
static socklen_t first_len;

static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		exit(1);
	memcpy(&first, ai->ai_addr, ai->ai_addrlen);
	first_len = ai->ai_addrlen;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		perror("httpc: connect");
		exit(1);
	}
	freeaddrinfo(ai);
	if (nonblocking)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* The bytes of request <spec> ("METHOD:TARGET") into <out>. */
static size_t request(const char *spec, char *method, char *out, size_t cap)
{
	const char *colon = strchr(spec, ':');
	int n;

	snprintf(method, 16, "%.*s", colon ? (int)(colon - spec) : 3,
		 colon ? spec : "GET");
	n = snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n%s",
		     method, colon ? colon + 1 : spec,
		     strcmp(method, "POST") == 0 ? "Content-Length: 5\r\n" : "",
		     strcmp(method, "POST") == 0 ? "hello" : "");
	return (size_t)n;
}

struct run {
	int fd, nreq;
	char **reqs;
	bool pipelined;
	sem_t answered;
};

static void *writer(void *arg)
{
	struct run *w = arg;
	char method[16], req[512];
	int i;

	for (i = 0; i < w->nreq; i++) {
		if (i > 0 && !w->pipelined)
			sem_wait(&w->answered);
		write_all(w->fd, req, request(w->reqs[i], method, req,
					      sizeof(req)));
	}
	return NULL;
}

/* Requests <reqs> on the connection <fd>, as the options say. */
static void exchange(int fd, char **reqs, int n, bool pipelined,
		     bool threads)
{
	static struct reader r;
	char method[16], req[512];
	struct run w = { fd, n, reqs, pipelined, { { 0 } } };
	pthread_t t;
	int i;

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	if (threads) {
		sem_init(&w.answered, 0, 0);
		pthread_create(&t, NULL, writer, &w);
		for (i = 0; i < n; i++) {
			request(reqs[i], method, req, sizeof(req));
			response(&r, method);
			sem_post(&w.answered);
		}
		pthread_join(t, NULL);
		return;
	}
	for (i = 0; pipelined && i < n; i++)
		write_all(fd, req, request(reqs[i], method, req, sizeof(req)));
	for (i = 0; i < n; i++) {
		size_t len = request(reqs[i], method, req, sizeof(req));

		if (!pipelined)
			write_all(fd, req, len);
		response(&r, method);
	}
}

/* -e: a byte stream that is not HTTP, through an echo server. */
static int echo(int fd)
{
	static const char first[] = "\x16\x03\x01\x02\x00 not http\r\n\r\n";
	static const char second[] =
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
	static struct reader r;
	size_t want = sizeof(first) - 1 + sizeof(second) - 1;

	memset(&r, 0, sizeof(r));
	r.fd = fd;
	write_all(fd, first, sizeof(first) - 1);
	while (r.len < sizeof(first) - 1)
		if (!fill(&r))
			return 1;
	write_all(fd, second, sizeof(second) - 1);
	while (r.len < want)
		if (!fill(&r))
			return 1;
	if (r.len != want || memcmp(r.buf, first, sizeof(first) - 1) != 0 ||
	    memcmp(r.buf + sizeof(first) - 1, second, sizeof(second) - 1))
		return 1;
	printf("echo ok\n");
	return 0;
}

/* What main() knows when -w gives up (statics: longjmp keeps them). */
static struct {
	const char *host, *port;
	char **reqs;
	int nreqs, fd, again;
	bool pipelined, threads, each, forks, no_http;
} g;

/*
 * -w gave up on the connection: -r or -u ask again (once), else exit 3.
 * A second give-up comes back here too, and ends it.
 */
static int ask_again(void)
{
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	static bool asked;

	printf("gave up\n");
	fflush(stdout);
	if (asked || g.again == 0) {
		close(g.fd);
		return 3;
	}
	asked = true;
	if (g.again == 'r') {
		syscall(SYS_close, g.fd);
		g.fd = dial(g.host, g.port);
	} else if (connect(g.fd, &unspec, sizeof(unspec)) == -1 ||
		   connect(g.fd, (struct sockaddr *)&first, first_len) == -1) {
		perror("httpc: connecting again");
		return 1;
	}
	exchange(g.fd, g.reqs, 1, false, false);
	close(g.fd);
	return 0;
}

/* The requests <reqs> (<n> of them) as the options say. */
static int requests(char **reqs, int n)
{
	int i;

	if (g.forks) {
		pid_t pid = fork();

		if (pid == 0) {
			exchange(g.fd, reqs, 1, false, false);
			close(g.fd);
			_exit(0);
		}
		if (pid == -1 || waitpid(pid, &i, 0) != pid || i != 0)
			return 1;
		reqs++;
		n--;
	}
	for (i = 0; g.each && i < n; i++) {
		if (i > 0)
			g.fd = dial(g.host, g.port);
		g.reqs = reqs + i;
		exchange(g.fd, reqs + i, 1, false, false);
		close(g.fd);
	}
	if (!g.each) {
		g.reqs = reqs;
		exchange(g.fd, reqs, n, g.pipelined, g.threads);
		close(g.fd);
	}
	return 0;
}

/* The request arguments <argv> (<argc> of them), <repeat> times over,
 * into g.reqs and g.nreqs; false when that is no list. */
static bool request_list(char **argv, int argc, int repeat)
{
	int i;

	if (repeat < 1 || repeat > 100)
		return false;
	g.nreqs = argc * repeat;
	g.reqs = calloc((size_t)g.nreqs, sizeof(*g.reqs));
	for (i = 0; g.reqs != NULL && i < g.nreqs; i++)
		g.reqs[i] = argv[i % argc];
	return g.reqs != NULL;
}

int main(int argc, char **argv)
{
	int opt, rc, repeat = 1;

	while ((opt = getopt(argc, argv, "a:s:ptnkw:feruFbR:")) != -1) {
		switch (opt) {
		case 'a': calls = optarg; break;
		case 's': chunk = strtoul(optarg, NULL, 10); break;
		case 'p': g.pipelined = true; break;
		case 't': g.threads = true; break;
		case 'n': g.each = true; break;
		case 'k': peek = true; break;
		case 'w': wait_ms = atoi(optarg); break;
		case 'f': g.forks = true; break;
		case 'e': g.no_http = true; break;
		case 'r': g.again = 'r'; break;
		case 'u': g.again = 'u'; break;
		case 'b': nonblocking = true; break;
		case 'F': with_sendfile = true; break;
		case 'R': repeat = atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind < 2 + (g.no_http ? 0 : 1) ||
	    (!g.no_http &&
	     !request_list(argv + optind + 2, argc - optind - 2, repeat))) {
		fprintf(stderr, "usage: httpc [-a CALLS] [-s N] [-R N] "
				"[-ptnkfruFbe] [-w MS] HOST PORT "
				"REQUEST...\n");
		return 2;
	}
	g.host = argv[optind];
	g.port = argv[optind + 1];
	g.fd = dial(g.host, g.port);
	if (g.no_http) {
		rc = echo(g.fd);
		close(g.fd);
		return rc;
	}
	if (setjmp(gave_up) != 0)
		return ask_again();
	return requests(g.reqs, g.nreqs);
}
