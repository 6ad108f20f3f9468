/*
 * TLS client sessions (src/tls/client.c) against a real TLS server
 * (tests/helpers/tlsserve.c) with the fixtures of scripts/tls-certs.sh:
 * verification (CA, names, IP, skip), mutual TLS, resumption by endpoint,
 * non-blocking handshakes and I/O, the end of the stream, file errors,
 * the memory a connection keeps, and that the library does not link
 * OpenSSL. Nothing is preloaded: the library's modules are linked in.
 * Each test has its own port (test_tls_support.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_tls_support.h"
#include "tls/client.h"
#include "tls/ossl.h"

TestSuite(tls_client, .fini = tls_teardown, .timeout = 60);

/* A session to <port> with east's SNI and name, handshake done: its
 * result. */
static int to_east(struct swerve_tls_ctx *ctx, int port,
		   struct swerve_tls_conn **c, int *fd, char *err,
		   size_t errlen)
{
	return tls_attempt(ctx, port, "east", "east.mydb.test", tls_east, 1,
			   c, fd, err, errlen);
}

Test(tls_client, verified_handshake_with_sni_and_name_non_blocking)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "", buf[1024];
	short want = 0;
	pid_t pid;
	int fd, rc;

	pid = tls_server(18441, "east", "--name", "hello east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	/* A stopped server cannot answer the ClientHello (the kernel still
	 * accepts the connection): the handshake must not wait for it. */
	kill(pid, SIGSTOP);
	cr_assert_eq(waitpid(pid, NULL, WUNTRACED), pid);
	c = tls_conn(ctx, 18441, "east", "east.mydb.test", tls_east, 1, &fd);
	rc = swerve_tls_conn_handshake(c, &want, err, sizeof(err));
	cr_assert_eq(rc, -EAGAIN, "%d %s", rc, err);
	cr_assert(want == POLLIN || want == POLLOUT);
	kill(pid, SIGCONT);
	rc = tls_handshake(c, fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "handshake: %d %s", rc, err);
	cr_assert_eq(swerve_tls_conn_verify_error(c), 0);
	cr_assert_not(swerve_tls_conn_resumed(c));
	cr_assert_gt(tls_get(c, fd, NULL, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "HTTP/1.1 200 OK") != NULL, "%s", buf);
	cr_assert(strstr(buf, "hello east\n") != NULL, "%s", buf);
	tls_done(c, fd);
	cr_assert(tls_log_has("sni=east.mydb.test resumed=0 client=- "
			      "requests=1 plain=0", 5000));
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, wrong_ca_is_rejected_with_the_verify_error)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "";
	int fd, rc;

	tls_server(18442, "wrong-east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	rc = to_east(ctx, 18442, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, -EKEYREJECTED, "%d %s", rc, err);
	cr_assert(strstr(err, "unable to get local issuer certificate") !=
			  NULL,
		  "%s", err);
	cr_assert_eq(swerve_tls_conn_verify_error(c),
		     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	tls_done(c, fd);
	cr_assert(tls_log_has("handshake-failed reason=", 5000));
	cr_assert_not(tls_log_has("plain=1", 0));
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, name_mismatch_is_rejected_naming_the_names)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "";
	int fd, rc;

	/* west's certificate, from the right CA, for the wrong name. */
	tls_server(18443, "west", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	rc = to_east(ctx, 18443, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, -EKEYREJECTED, "%d %s", rc, err);
	cr_assert(strstr(err, "hostname mismatch") != NULL, "%s", err);
	cr_assert(strstr(err, "east.mydb.test") != NULL, "%s", err);
	cr_assert_eq(swerve_tls_conn_verify_error(c),
		     X509_V_ERR_HOSTNAME_MISMATCH);
	tls_done(c, fd);
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, any_of_several_names_and_chain_only_verification)
{
	static const char *const names[] = { "other.mydb.test",
					     "west.mydb.test" };
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "";
	int fd, rc;

	tls_server(18444, "west", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	rc = tls_attempt(ctx, 18444, "west", "west.mydb.test", names, 2, &c,
			 &fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	tls_done(c, fd);
	/* No names and no SNI: the chain alone is verified. */
	rc = tls_attempt(ctx, 18444, "west", NULL, NULL, 0, &c, &fd, err,
			 sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	tls_done(c, fd);
	cr_assert(tls_log_has("sni=- ", 5000));
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, an_ip_name_is_checked_as_an_ip_address)
{
	static const char *const good[] = { "127.0.0.1" };
	static const char *const bad[] = { "127.0.0.2" };
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "";
	int fd, rc;

	tls_server(18445, "ip", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	rc = tls_attempt(ctx, 18445, "ip", NULL, good, 1, &c, &fd, err,
			 sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	tls_done(c, fd);
	rc = tls_attempt(ctx, 18445, "ip", NULL, bad, 1, &c, &fd, err,
			 sizeof(err));
	cr_assert_eq(rc, -EKEYREJECTED, "%d %s", rc, err);
	cr_assert(strstr(err, "IP address mismatch (expected 127.0.0.2)") !=
			  NULL,
		  "%s", err);
	tls_done(c, fd);
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, skip_verify_accepts_the_wrong_ca_and_reports_it)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "", buf[1024];
	int fd, rc;

	tls_server(18446, "wrong-east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), true);
	rc = to_east(ctx, 18446, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	cr_assert_eq(swerve_tls_conn_verify_error(c),
		     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	cr_assert_gt(tls_get(c, fd, NULL, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "200 OK") != NULL, "%s", buf);
	tls_done(c, fd);
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, mutual_tls_presents_the_client_certificate)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "", buf[1024];
	int fd, rc;

	tls_server(18447, "east", "--ca", tls_fixture("ca.pem"), NULL);
	ctx = tls_ctx(SWERVE_TLS_MUTUAL, tls_fixture("ca.pem"), false);
	rc = to_east(ctx, 18447, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	cr_assert_gt(tls_get(c, fd, NULL, buf, sizeof(buf) - 1), 0);
	cr_assert(strstr(buf, "200 OK") != NULL, "%s", buf);
	tls_done(c, fd);
	cr_assert(tls_log_has("client=/CN=swerve-client requests=1", 5000));
	swerve_tls_ctx_free(ctx);
}

/*
 * Without a client certificate: in TLS 1.3 the client's handshake ends
 * before the server has looked at the (empty) certificate, so the
 * server's alert comes with the first read: -EPROTO there. In TLS 1.2
 * the handshake itself fails: -EPROTO.
 */
Test(tls_client, mutual_tls_without_a_certificate_fails_with_eproto)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	char err[256] = "", buf[64];
	short want = 0;
	ssize_t n;
	int fd, rc;

	tls_server(18448, "east", "--ca", tls_fixture("ca.pem"), NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	rc = to_east(ctx, 18448, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, 0, "TLS 1.3: %d %s", rc, err);
	while ((n = swerve_tls_conn_read(c, buf, sizeof(buf), &want)) ==
	       -EAGAIN) {
		struct pollfd p = { .fd = fd, .events = want };

		cr_assert_eq(poll(&p, 1, 5000), 1);
	}
	cr_assert_eq(n, -EPROTO, "TLS 1.3 read: %zd", n);
	tls_done(c, fd);
	cr_assert(tls_log_has("handshake-failed reason=", 5000));
	tls_stop_server();

	tls_server(18448, "east", "--ca", tls_fixture("ca.pem"), "--tls1.2",
		   NULL);
	rc = to_east(ctx, 18448, &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "TLS 1.2: %d %s", rc, err);
	cr_assert(strstr(err, "alert") != NULL, "%s", err);
	tls_done(c, fd);
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, the_next_connection_to_an_endpoint_resumes)
{
	struct swerve_tls_ctx *ctx;

	tls_server(18449, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(ctx, 18449, "east:18449"));
	cr_assert(tls_one_request(ctx, 18449, "east:18449"));
	cr_assert(tls_log_has("resumed=1", 5000));
	/* Another endpoint key has no session of its own yet. */
	cr_assert_not(tls_one_request(ctx, 18449, "elsewhere:18449"));
	cr_assert(tls_one_request(ctx, 18449, "east:18449"));
	swerve_tls_ctx_free(ctx);
}

Test(tls_client, mutual_tls_resumes_too)
{
	struct swerve_tls_ctx *ctx;

	tls_server(18450, "east", "--ca", tls_fixture("ca.pem"), NULL);
	ctx = tls_ctx(SWERVE_TLS_MUTUAL, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(ctx, 18450, "east:18450"));
	cr_assert(tls_one_request(ctx, 18450, "east:18450"));
	cr_assert(tls_log_has("resumed=1 client=/CN=swerve-client", 5000));
	swerve_tls_ctx_free(ctx);
}

/* A handshake to east on <port> with the system's trust store. */
static int system_trust_handshake(int port, char *err, size_t errlen)
{
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	int fd, rc;

	ctx = tls_ctx(SWERVE_TLS_SIMPLE, "", false);
	rc = to_east(ctx, port, &c, &fd, err, errlen);
	tls_done(c, fd);
	swerve_tls_ctx_free(ctx);
	return rc;
}

/* Runs a shell command, asserting that it succeeds. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/*
 * The system's trust store (tls_ca_certificates = "") is read from the
 * hashed directory, one CA at a time, when the CA bundle lies in it (as
 * Debian has them); here the environment names a store of the test's
 * own, as OpenSSL allows. A bundle that disagrees with its directory
 * shows which one is read.
 */
Test(tls_client, the_system_trust_store_is_read_from_its_hashed_directory)
{
	char dir[] = "/tmp/swerve-tls-store-XXXXXX", inside[300];
	char outside[300], err[256] = "";
	int rc;

	tls_server(18457, "east", NULL);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(inside, sizeof(inside), "%s/bundle.txt", dir);
	snprintf(outside, sizeof(outside), "%s.bundle", dir);
	/* The directory's hash links name the wrong CA only; both bundles
	 * hold the right one (rehash skips a .txt). */
	sh("cp %s %s/wrong.pem && openssl rehash %s",
	   tls_fixture("wrong-ca.pem"), dir, dir);
	sh("cp %s %s", tls_fixture("ca.pem"), inside);
	sh("cp %s %s", tls_fixture("ca.pem"), outside);
	setenv("SSL_CERT_DIR", dir, 1);

	setenv("SSL_CERT_FILE", inside, 1);
	rc = system_trust_handshake(18457, err, sizeof(err));
	cr_assert_eq(rc, -EKEYREJECTED, "the directory is read: %d %s", rc,
		     err);

	setenv("SSL_CERT_FILE", outside, 1);
	rc = system_trust_handshake(18457, err, sizeof(err));
	cr_assert_eq(rc, 0, "a bundle elsewhere is read: %d %s", rc, err);

	sh("cp %s %s/test-ca.pem && openssl rehash %s", tls_fixture("ca.pem"),
	   dir, dir);
	setenv("SSL_CERT_FILE", inside, 1);
	rc = system_trust_handshake(18457, err, sizeof(err));
	cr_assert_eq(rc, 0, "the directory holds the CA: %d %s", rc, err);
	sh("rm -rf %s %s", dir, outside);
}
