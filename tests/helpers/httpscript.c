/*
 * httpscript: a scripted HTTP/1.1 server for the tests of HTTP observation,
 * never linked with swerve. `httpscript ADDR PORT LOG SCRIPT` listens on
 * ADDR:PORT, serves each connection in a child of its own (keep-alive,
 * pipelined requests answered in order), and answers the n-th request it
 * reads, counted over all connections, as the n-th action of SCRIPT says
 * (comma separated; the last one repeats):
 *   NNN          status NNN, body "NNN\n" with Content-Length; a HEAD gets
 *                the Content-Length and no body; 1xx, 204 and 304 carry
 *                no body (304 with the Content-Length of the resource, as
 *                servers send it)
 *   NNN/chunked  the body in two chunks and a trailer
 *   NNN/close    with Connection: close, then the connection is closed
 *   1xx+NNN      an interim 1xx response first, then NNN
 *   reset        no answer: the connection is reset (SO_LINGER 0)
 *   eof          no answer: the connection is closed
 *   hang         no answer: the connection stays open until the client
 *                closes it
 * SCRIPT "echo" serves no HTTP at all: every byte comes back as it came.
 * LOG (a file, or "-") gets a line per connection ("conn") and per request
 * ("METHOD TARGET"). It prints "ready" once listening and exits on SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *log_path;
static char *script;
/* Requests read so far, over every connection (shared with the children). */
static _Atomic unsigned *served;

static void log_line(const char *fmt, const char *a, const char *b)
{
	FILE *f;

	if (strcmp(log_path, "-") == 0)
		return;
	f = fopen(log_path, "a");
	if (f == NULL)
		return;
	fprintf(f, fmt, a, b);
	fclose(f);
}

/* The <n>-th action of the script (the last one repeats). */
static void action(unsigned n, char *out, size_t cap)
{
	const char *p = script, *end;
	unsigned i;

	for (i = 0; i < n; i++) {
		end = strchr(p, ',');
		if (end == NULL)
			break;
		p = end + 1;
	}
	end = strchr(p, ',');
	snprintf(out, cap, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
}

static int write_all(int c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 404: return "Not Found";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Whatever";
	}
}

/* Answers one request with action <act>; -1 when the connection ends. */
static int answer(int c, const char *act, bool head)
{
	char out[1024], body[16];
	int status, interim = 0, len = 0;
	const char *opt;

	if (strcmp(act, "reset") == 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		return -1;
	}
	if (strcmp(act, "eof") == 0)
		return -1;
	if (strcmp(act, "hang") == 0) {
		while (read(c, out, sizeof(out)) > 0)
			;
		return -1;
	}
	if (sscanf(act, "%d+%d", &interim, &status) != 2) {
		interim = 0;
		status = atoi(act);
	}
	opt = strchr(act, '/');
	snprintf(body, sizeof(body), "%03d\n", status % 1000);
	if (interim != 0)
		len += snprintf(out + len, sizeof(out) - (size_t)len,
				"HTTP/1.1 %d %s\r\nLink: </s.css>\r\n\r\n",
				interim, reason(interim));
	len += snprintf(out + len, sizeof(out) - (size_t)len,
			"HTTP/1.1 %d %s\r\nServer: httpscript\r\n", status,
			reason(status));
	if (opt != NULL && strcmp(opt, "/close") == 0)
		len += snprintf(out + len, sizeof(out) - (size_t)len,
				"Connection: close\r\n");
	if (opt != NULL && strcmp(opt, "/chunked") == 0)
		len += snprintf(out + len, sizeof(out) - (size_t)len,
				"Transfer-Encoding: chunked\r\n\r\n%s",
				head ? "" : "2\r\n" "ab\r\n" "a;x=y\r\n"
					    "0123456789\r\n0\r\nT: v\r\n\r\n");
	else if (status == 204 || status < 200)
		len += snprintf(out + len, sizeof(out) - (size_t)len, "\r\n");
	else if (status == 304)
		len += snprintf(out + len, sizeof(out) - (size_t)len,
				"ETag: \"x\"\r\nContent-Length: 4\r\n\r\n");
	else
		len += snprintf(out + len, sizeof(out) - (size_t)len,
				"Content-Length: 4\r\n\r\n%s",
				head ? "" : body);
	if (write_all(c, out, (size_t)len) != 0)
		return -1;
	return opt != NULL && strcmp(opt, "/close") == 0 ? -1 : 0;
}

/* The Content-Length of a request head (0 without one). */
static size_t body_length(const char *head)
{
	const char *p = strcasestr(head, "\r\ncontent-length:");

	return p != NULL ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

static void echo(int c)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(c, buf, sizeof(buf))) > 0)
		if (write_all(c, buf, (size_t)n) != 0)
			return;
}

/* Serves one connection: requests in order, pipelined ones too. */
static void serve(int c)
{
	char buf[65536], act[64], method[16], target[256], *end;
	size_t got = 0, need;
	ssize_t n;

	log_line("%s%s\n", "conn", "");
	if (strcmp(script, "echo") == 0) {
		echo(c);
		return;
	}
	for (;;) {
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		need = end != NULL ? (size_t)(end + 4 - buf) + body_length(buf)
				   : sizeof(buf);
		if (end == NULL || got < need) {
			if (got >= sizeof(buf) - 1)
				return;
			n = read(c, buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				return;
			got += (size_t)n;
			continue;
		}
		if (sscanf(buf, "%15s %255s", method, target) != 2)
			return;
		log_line("%s %s\n", method, target);
		action(atomic_fetch_add(served, 1), act, sizeof(act));
		if (answer(c, act, strcmp(method, "HEAD") == 0) != 0)
			return;
		memmove(buf, buf + need, got - need);
		got -= need;
	}
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int s, one = 1;

	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -1;
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s == -1)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 64) == -1) {
		fprintf(stderr, "httpscript: %s:%d: %s\n", addr, port,
			strerror(errno));
		return -1;
	}
	return s;
}

int main(int argc, char **argv)
{
	int s;

	if (argc != 5) {
		fprintf(stderr, "usage: httpscript ADDR PORT LOG SCRIPT\n");
		return 2;
	}
	log_path = argv[3];
	script = argv[4];
	served = mmap(NULL, sizeof(*served), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (served == MAP_FAILED)
		return 1;
	/* A test that dies mid-way must not leave its servers behind, even
	 * one it stopped with SIGSTOP. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
	s = listen_on(argv[1], atoi(argv[2]));
	if (s == -1)
		return 1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c == -1) {
			if (errno == EINTR)
				continue;
			perror("httpscript: accept");
			return 1;
		}
		if (fork() == 0) {
			/* Dies with the server, which a test stops. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(s);
			serve(c);
			close(c);
			_exit(0);
		}
		close(c);
	}
}
