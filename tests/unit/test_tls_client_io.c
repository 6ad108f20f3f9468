/*
 * TLS client sessions, continued (test_tls_client.c has the handshakes):
 * a non-blocking round trip both ways at once, bytes held inside OpenSSL,
 * the two ends of a stream (close_notify, a TCP EOF without it), errors
 * that name the file, the memory an idle connection keeps, and that the
 * library is not linked against OpenSSL.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_tls_support.h"
#include "tls/client.h"
#include "tls/ossl.h"

TestSuite(tls_client_io, .fini = tls_teardown, .timeout = 60);

/* A verified session with east's names to <port>, for endpoint <key>. */
static struct swerve_tls_conn *verified(struct swerve_tls_ctx *ctx, int port,
					const char *key, int *fd)
{
	struct swerve_tls_conn *c = NULL;
	char err[256] = "";
	int rc;

	rc = tls_attempt(ctx, port, key, "east.mydb.test", tls_east, 1, &c, fd,
			 err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	return c;
}

/* Sends <total> bytes to the echo server while reading them back. */
static void echo_round_trip(struct swerve_tls_conn *c, int fd, size_t total)
{
	char *src = malloc(total), *dst = malloc(total);
	short wwant = POLLOUT, rwant = POLLIN;
	size_t sent = 0, got = 0, i;
	ssize_t n;

	cr_assert(src != NULL && dst != NULL);
	for (i = 0; i < total; i++)
		src[i] = (char)(i * 7 + i / 251);
	while (got < total) {
		bool moved = false;

		if (sent < total) {
			n = swerve_tls_conn_write(c, src + sent,
						  total - sent, &wwant);
			cr_assert(n > 0 || n == -EAGAIN, "write: %zd", n);
			if (n > 0) {
				sent += (size_t)n;
				moved = true;
			}
		}
		n = swerve_tls_conn_read(c, dst + got, total - got, &rwant);
		cr_assert(n > 0 || n == -EAGAIN, "read: %zd", n);
		if (n > 0) {
			got += (size_t)n;
			moved = true;
		}
		if (!moved) {
			struct pollfd p = { .fd = fd, .events = rwant };

			if (sent < total)
				p.events |= wwant;
			cr_assert_eq(poll(&p, 1, 5000), 1, "stalled at %zu "
				     "sent, %zu read", sent, got);
		}
	}
	cr_assert_eq(memcmp(src, dst, total), 0);
	free(src);
	free(dst);
}

Test(tls_client_io, a_megabyte_both_ways_through_an_echo)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	int fd;

	tls_server(18451, "east", "--echo", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	c = verified(ctx, 18451, "east:18451", &fd);
	echo_round_trip(c, fd, 1024 * 1024);
	swerve_tls_conn_close_notify(c);
	swerve_tls_conn_free(c);
	/* The fd is the caller's: still open. */
	cr_assert_neq(fcntl(fd, F_GETFD), -1);
	close(fd);
	cr_assert(tls_log_has("requests=1048576 plain=0", 5000));
	swerve_tls_ctx_free(ctx);
}

Test(tls_client_io, a_short_read_leaves_the_rest_pending)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	char buf[16];
	int fd;

	tls_server(18452, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	c = verified(ctx, 18452, "east:18452", &fd);
	cr_assert_eq(tls_write_all(c, fd, req, strlen(req)), 0);
	cr_assert_eq(tls_read_some(c, fd, buf, 8, 8), 8);
	cr_assert_str_eq(buf, "HTTP/1.1");
	/* The rest of the record is decrypted inside OpenSSL, where poll
	 * does not see it. */
	cr_assert_gt(swerve_tls_conn_pending(c), 0);
	swerve_tls_conn_free(c);
	close(fd);
	swerve_tls_ctx_free(ctx);
}

static ssize_t read_to_end(struct swerve_tls_conn *c, int fd)
{
	char buf[4096];
	ssize_t n;

	do
		n = tls_read_some(c, fd, buf, sizeof(buf) - 1, 1);
	while (n > 0);
	return n;
}

Test(tls_client_io, close_notify_ends_the_stream_with_0)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char buf[1024];
	int fd;

	tls_server(18453, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	c = verified(ctx, 18453, "east:18453", &fd);
	cr_assert_gt(tls_get(c, fd, "Connection: close\r\n", buf,
			     sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "Connection: close") != NULL, "%s", buf);
	cr_assert_eq(read_to_end(c, fd), 0);
	swerve_tls_conn_free(c);
	close(fd);
	swerve_tls_ctx_free(ctx);
}

Test(tls_client_io, a_tcp_eof_without_close_notify_ends_the_stream_with_0)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char buf[1024];
	pid_t pid;
	int fd;

	pid = tls_server(18454, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	c = verified(ctx, 18454, "east:18454", &fd);
	cr_assert_gt(tls_get(c, fd, NULL, buf, sizeof(buf) - 1), 0);
	/* SIGKILL: the kernel closes the server's socket with a FIN, and
	 * no close_notify was sent. */
	kill(pid, SIGKILL);
	cr_assert_eq(read_to_end(c, fd), 0);
	swerve_tls_conn_free(c);
	close(fd);
	swerve_tls_ctx_free(ctx);
}

/* The server the tests rely on to tell "no plaintext reached it". */
Test(tls_client_io, tlsserve_logs_plaintext_that_reaches_it)
{
	const char req[] = "GET / HTTP/1.1\r\n\r\n";
	struct pollfd p;
	int fd;

	tls_server(18456, "east", "--max-early-plain", NULL);
	fd = tls_connect(18456);
	p.fd = fd;
	p.events = POLLOUT;
	cr_assert_eq(poll(&p, 1, 5000), 1);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	cr_assert(tls_log_has("sni=- resumed=0 client=- requests=0 plain=1 "
			      "early=\"GET / HTTP/1.1\\x0d\\x0a", 5000));
	close(fd);
}

/* swerve_tls_ctx_new's result and reason for <cfg>. */
static int ctx_error(struct swerve_tls_cfg *cfg, char *err, size_t errlen)
{
	struct swerve_tls_ctx *ctx = NULL;
	int rc;

	if (cfg->sni == NULL)
		cfg->sni = "";
	rc = swerve_tls_ctx_new(cfg, &ctx, err, errlen);
	if (rc == 0)
		swerve_tls_ctx_free(ctx);
	else
		cr_assert_null(ctx);
	return rc;
}

Test(tls_client_io, unreadable_or_bad_files_are_errors_naming_them)
{
	struct swerve_tls_cfg cfg = { .mode = SWERVE_TLS_SIMPLE };
	char err[256] = "", garbage[] = "/tmp/swerve-tls-garbage-XXXXXX";
	char ca[512], cert[512], key[512], east_key[512];
	int gfd, rc;

	/* tls_fixture's paths are reused: copies. */
	snprintf(ca, sizeof(ca), "%s", tls_fixture("ca.pem"));
	snprintf(cert, sizeof(cert), "%s", tls_fixture("client.pem"));
	snprintf(key, sizeof(key), "%s", tls_fixture("client.key"));
	snprintf(east_key, sizeof(east_key), "%s", tls_fixture("east.key"));

	cfg.ca = "/nonexistent/swerve-ca.pem";
	rc = ctx_error(&cfg, err, sizeof(err));
	cr_assert_eq(rc, -ENOENT, "%d %s", rc, err);
	cr_assert(strstr(err, "tls_ca_certificates /nonexistent/swerve-ca.pem")
			  != NULL, "%s", err);

	gfd = mkstemp(garbage);
	cr_assert_geq(gfd, 0);
	cr_assert_eq(write(gfd, "not a certificate\n", 18), 18);
	close(gfd);
	cfg.ca = garbage;
	rc = ctx_error(&cfg, err, sizeof(err));
	unlink(garbage);
	cr_assert_eq(rc, -EINVAL, "%d %s", rc, err);
	cr_assert(strstr(err, garbage) != NULL, "%s", err);

	cfg.ca = ca;
	cfg.mode = SWERVE_TLS_MUTUAL;
	cfg.cert = "/nonexistent/client.pem";
	cfg.key = key;
	rc = ctx_error(&cfg, err, sizeof(err));
	cr_assert_eq(rc, -ENOENT, "%d %s", rc, err);
	cr_assert(strstr(err, "tls_client_certificate /nonexistent/client.pem")
			  != NULL, "%s", err);

	cfg.cert = cert;
	cfg.key = east_key;
	rc = ctx_error(&cfg, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "%d %s", rc, err);
	cr_assert(strstr(err, "tls_private_key") != NULL, "%s", err);
	cr_assert(strstr(err, "east.key") != NULL, "%s", err);

	cfg.key = key;
	rc = ctx_error(&cfg, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}

/* A relay's connection at rest: a read that finds nothing. */
static void idle(struct swerve_tls_conn *c)
{
	char buf[64];
	short want = 0;

	cr_assert_eq(swerve_tls_conn_read(c, buf, sizeof(buf), &want),
		     -EAGAIN);
	cr_assert_eq(want, POLLIN);
}

/*
 * SWERVE_TLS_CONN_MEMORY holds: 100 idle connections after a full
 * handshake and one exchange each, every one for an endpoint of its own
 * (so the context caches 100 sessions as well).
 */
Test(tls_client_io, an_idle_connection_keeps_the_stated_memory)
{
	enum { N = 100 };
	struct swerve_tls_conn *c[N];
	struct swerve_tls_ctx *ctx;
	char key[32], buf[1024];
	size_t before, per;
	int fd[N], i;

#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("ASan's allocator is not glibc's: mallinfo2 sees none "
		     "of it");
#endif
	tls_server(18455, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	/* A first connection pays OpenSSL's one-time allocations. */
	c[0] = verified(ctx, 18455, "warm-up", &fd[0]);
	cr_assert_gt(tls_get(c[0], fd[0], NULL, buf, sizeof(buf) - 1), 0);
	swerve_tls_conn_free(c[0]);
	close(fd[0]);
	before = heap_in_use();
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "east-%d", i);
		c[i] = verified(ctx, 18455, key, &fd[i]);
		cr_assert_gt(tls_get(c[i], fd[i], NULL, buf, sizeof(buf) - 1),
			     0);
		idle(c[i]);
	}
	per = (heap_in_use() - before) / N;
	cr_log_info("an idle TLS connection keeps %zu bytes", per);
	cr_assert_leq(per, SWERVE_TLS_CONN_MEMORY, "%zu bytes", per);
	for (i = 0; i < N; i++) {
		swerve_tls_conn_free(c[i]);
		close(fd[i]);
	}
	swerve_tls_ctx_free(ctx);
}

Test(tls_client_io, the_library_does_not_link_openssl)
{
	char cmd[600], line[512];
	bool libc = false, ssl = false;
	const char *b = getenv("SWERVE_BUILD");
	FILE *p;

	cr_assert_not_null(b, "run through make");
	snprintf(cmd, sizeof(cmd), "readelf -d %s/libswerve.so", b);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strstr(line, "NEEDED") == NULL)
			continue;
		libc |= strstr(line, "libc.so") != NULL;
		ssl |= strstr(line, "libssl") != NULL ||
		       strstr(line, "libcrypto") != NULL;
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
	cr_assert(libc, "readelf found no NEEDED libc: wrong file?");
	cr_assert_not(ssl, "libswerve.so links OpenSSL");
	/* And loading it here is private: the runner never linked it. */
	cr_assert_eq(swerve_ossl_load(NULL, 0), 0);
	cr_assert_not_null(swerve_ossl());
}
