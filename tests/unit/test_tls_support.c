/*
 * test_tls_support.c: real TLS servers and non-blocking client loops for
 * test_tls_client.c (test_tls_support.h). Every wait is bounded by a
 * deadline on a condition, never a fixed sleep.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_tls_support.h"

extern char **environ;

#define WAIT_MS 5000

static pid_t server = -1;
static char log_path[256];

const char *const tls_east[1] = { "east.mydb.test" };

static const char *build_dir(void)
{
	const char *b = getenv("SWERVE_BUILD");

	cr_assert(b != NULL && b[0] != '\0',
		  "run through make: SWERVE_BUILD names the build directory");
	return b;
}

const char *tls_fixture(const char *name)
{
	static char paths[4][512];
	static int slot;
	char *p = paths[slot++ % 4];

	snprintf(p, 512, "%s/tests/tls-certs/%s", build_dir(), name);
	cr_assert_eq(access(p, R_OK), 0, "%s missing: make makes it with "
		     "scripts/tls-certs.sh", p);
	return p;
}

const char *tls_addr(void)
{
	static char addr[32];

	if (addr[0] == '\0')
		snprintf(addr, sizeof(addr), "127.12.%d.%d",
			 (int)(getpid() >> 8) & 255, (int)getpid() & 255);
	return addr;
}

const char *tls_log(void)
{
	if (log_path[0] == '\0')
		snprintf(log_path, sizeof(log_path), "/tmp/swerve-tls-%d.log",
			 (int)getpid());
	return log_path;
}

/* Reads the "ready" line of a helper on <fd> within 5 s. */
static bool ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char line[64];
	ssize_t n = 0;

	if (poll(&p, 1, WAIT_MS) == 1)
		n = read(fd, line, sizeof(line) - 1);
	return n >= 5 && strncmp(line, "ready", 5) == 0;
}

pid_t tls_server(int port, const char *cert, ...)
{
	char bin[512], listen[64], crt[512], key[512], name[64];
	char *argv[24];
	posix_spawn_file_actions_t fa;
	const char *a;
	va_list ap;
	int pfd[2], i = 0;

	snprintf(bin, sizeof(bin), "%s/tests/tlsserve", build_dir());
	snprintf(listen, sizeof(listen), "%s:%d", tls_addr(), port);
	snprintf(name, sizeof(name), "%s.pem", cert);
	snprintf(crt, sizeof(crt), "%s", tls_fixture(name));
	snprintf(name, sizeof(name), "%s.key", cert);
	snprintf(key, sizeof(key), "%s", tls_fixture(name));
	unlink(tls_log());
	argv[i++] = bin;
	argv[i++] = (char *)"--listen";
	argv[i++] = listen;
	argv[i++] = (char *)"--cert";
	argv[i++] = crt;
	argv[i++] = (char *)"--key";
	argv[i++] = key;
	argv[i++] = (char *)"--log";
	argv[i++] = log_path;
	va_start(ap, cert);
	while ((a = va_arg(ap, const char *)) != NULL && i < 23)
		argv[i++] = (char *)a;
	va_end(ap);
	argv[i] = NULL;
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	cr_assert_eq(posix_spawn(&server, bin, &fa, NULL, argv, environ), 0,
		     "cannot run %s", bin);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (!ready(pfd[0])) {
		tls_stop_server();
		cr_assert_fail("tlsserve on %s did not start", listen);
	}
	close(pfd[0]);
	return server;
}

void tls_stop_server(void)
{
	if (server <= 0)
		return;
	kill(server, SIGTERM);
	waitpid(server, NULL, 0);
	server = -1;
}

int tls_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, tls_addr(), &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		cr_assert_eq(errno, EINPROGRESS, "connect: %s",
			     strerror(errno));
	return fd;
}

struct swerve_tls_ctx *tls_ctx(enum swerve_tls_mode mode, const char *ca,
			       bool skip_verify)
{
	struct swerve_tls_cfg cfg = { .mode = mode, .ca = ca, .sni = "",
				      .cert = "", .key = "" };
	struct swerve_tls_ctx *ctx = NULL;
	char err[256] = "";
	int rc;

	cfg.skip_verify = skip_verify;
	if (mode == SWERVE_TLS_MUTUAL) {
		cfg.cert = tls_fixture("client.pem");
		cfg.key = tls_fixture("client.key");
	}
	rc = swerve_tls_ctx_new(&cfg, &ctx, err, sizeof(err));
	cr_assert_eq(rc, 0, "swerve_tls_ctx_new: %d %s", rc, err);
	return ctx;
}

/* Waits until <fd> polls <want>; asserts it does within 5 s. */
static void wait_fd(int fd, short want)
{
	struct pollfd p = { .fd = fd, .events = want };

	cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "no %s within 5 s",
		     want == POLLIN ? "POLLIN" : "POLLOUT");
}

void tls_teardown(void)
{
	tls_stop_server();
	unlink(tls_log());
}

struct swerve_tls_conn *tls_conn(struct swerve_tls_ctx *ctx, int port,
				 const char *key, const char *sni,
				 const char *const *names, unsigned nnames,
				 int *fd)
{
	struct swerve_tls_conn *c = NULL;
	char err[256] = "";
	int rc;

	*fd = tls_connect(port);
	rc = swerve_tls_conn_new(ctx, *fd, key, sni, names, nnames, &c, err,
				 sizeof(err));
	cr_assert_eq(rc, 0, "swerve_tls_conn_new: %d %s", rc, err);
	return c;
}

int tls_attempt(struct swerve_tls_ctx *ctx, int port, const char *key,
		const char *sni, const char *const *names, unsigned nnames,
		struct swerve_tls_conn **c, int *fd, char *err, size_t errlen)
{
	*c = tls_conn(ctx, port, key, sni, names, nnames, fd);
	return tls_handshake(*c, *fd, err, errlen);
}

void tls_done(struct swerve_tls_conn *c, int fd)
{
	swerve_tls_conn_close_notify(c);
	swerve_tls_conn_free(c);
	close(fd);
}

int tls_handshake(struct swerve_tls_conn *c, int fd, char *err,
		  size_t errlen)
{
	short want = 0;
	int rc;

	while ((rc = swerve_tls_conn_handshake(c, &want, err, errlen)) ==
	       -EAGAIN) {
		cr_assert(want == POLLIN || want == POLLOUT);
		wait_fd(fd, want);
	}
	return rc;
}

int tls_write_all(struct swerve_tls_conn *c, int fd, const void *buf,
		  size_t len)
{
	const char *p = buf;
	short want = 0;
	ssize_t n;

	while (len > 0) {
		n = swerve_tls_conn_write(c, p, len, &want);
		if (n == -EAGAIN) {
			wait_fd(fd, want);
			continue;
		}
		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t tls_read_some(struct swerve_tls_conn *c, int fd, char *buf,
		      size_t len, size_t want_bytes)
{
	size_t got = 0;
	short want = 0;
	ssize_t n;

	while (got < want_bytes && got < len) {
		n = swerve_tls_conn_read(c, buf + got, len - got, &want);
		if (n == -EAGAIN) {
			wait_fd(fd, want);
			continue;
		}
		if (n <= 0) {
			if (got == 0 && n < 0)
				return n;
			break;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

ssize_t tls_get(struct swerve_tls_conn *c, int fd, const char *extra,
		char *buf, size_t len)
{
	char req[256];
	size_t got = 0;
	ssize_t n;
	int rc;

	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\n%s\r\n",
		 extra != NULL ? extra : "");
	rc = tls_write_all(c, fd, req, strlen(req));
	if (rc != 0)
		return rc;
	/* The answer ends with the body's newline, after the head. */
	while (got < len) {
		char *head;

		n = tls_read_some(c, fd, buf + got, len - got, 1);
		if (n <= 0)
			return got > 0 ? (ssize_t)got : n;
		got += (size_t)n;
		head = strstr(buf, "\r\n\r\n");
		if (head != NULL && strchr(head + 4, '\n') != NULL)
			break;
	}
	return (ssize_t)got;
}

bool tls_log_has(const char *text, int wait_ms)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	char buf[8192];
	int i;

	for (i = 0; i <= wait_ms / 10; i++) {
		FILE *f = fopen(tls_log(), "r");
		size_t n = 0;

		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		if (strstr(buf, text) != NULL)
			return true;
		if (i < wait_ms / 10)
			nanosleep(&pause, NULL);
	}
	return false;
}

bool tls_one_request(struct swerve_tls_ctx *ctx, int port, const char *key)
{
	struct swerve_tls_conn *c;
	char err[256] = "", buf[1024];
	bool resumed;
	int fd, rc;

	rc = tls_attempt(ctx, port, key, "east.mydb.test", tls_east, 1, &c,
			 &fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	/* TLS 1.3 tickets come after the handshake: reading takes them. */
	cr_assert_gt(tls_get(c, fd, NULL, buf, sizeof(buf) - 1), 0);
	resumed = swerve_tls_conn_resumed(c);
	tls_done(c, fd);
	return resumed;
}
