/*
 * What the TLS client tests share (test_tls_support.c): a real tlsserve
 * (tests/helpers/tlsserve.c) on a loopback port of the test's own, the
 * fixtures of scripts/tls-certs.sh (made by make, in the build), and
 * loops that drive a non-blocking session with poll. Single-threaded,
 * like each test.
 */
#ifndef SWERVE_TEST_TLS_SUPPORT_H
#define SWERVE_TEST_TLS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/config.h"
#include "tls/client.h"

/*
 * Where the test's TLS server listens: 127.12.<pid>, an address of the
 * test process's own (no other test uses 127.12.0.0/16), so that unit
 * runs of several build trees at once, which take no lock, never meet.
 * Each test has a port of its own as well, in 18441..18479.
 */
const char *tls_addr(void);

/* The one name of east's certificate, as a names list. */
extern const char *const tls_east[1];

/* Stops the test's server and removes its log: the suites' .fini. */
void tls_teardown(void);

/* The path of fixture <name> (ca.pem, east.key, ...): static, 4 slots. */
const char *tls_fixture(const char *name);

/* The log file of the test's server. */
const char *tls_log(void);

/*
 * Starts tlsserve on tls_addr():<port> with --cert <cert>.pem --key
 * <cert>.key, --log tls_log() and the NULL-terminated extra arguments;
 * returns once it is listening. Stopped by tls_stop_server().
 */
pid_t tls_server(int port, const char *cert, ...);

/* Stops the test's server (SIGTERM) and waits for it. */
void tls_stop_server(void);

/* A non-blocking TCP socket connecting to tls_addr():<port>. */
int tls_connect(int port);

/* A context from a config with mode <mode>, asserted to succeed. */
struct swerve_tls_ctx *tls_ctx(enum swerve_tls_mode mode, const char *ca,
			       bool skip_verify);

/* A session for endpoint <key> over a new connection to <port>, with SNI
 * <sni> and <names>, asserted to be made; its fd in *<fd>. */
struct swerve_tls_conn *tls_conn(struct swerve_tls_ctx *ctx, int port,
				 const char *key, const char *sni,
				 const char *const *names, unsigned nnames,
				 int *fd);

/* tls_conn(), then tls_handshake(): the handshake's result. */
int tls_attempt(struct swerve_tls_ctx *ctx, int port, const char *key,
		const char *sni, const char *const *names, unsigned nnames,
		struct swerve_tls_conn **c, int *fd, char *err, size_t errlen);

/* close_notify, then the session and the fd freed. */
void tls_done(struct swerve_tls_conn *c, int fd);

/*
 * Drives the handshake of <c> to its end with poll (5 s at most per
 * wait); returns its result; <err> gets the reason.
 */
int tls_handshake(struct swerve_tls_conn *c, int fd, char *err,
		  size_t errlen);

/* Writes all of <buf>, waiting with poll: 0 or -errno. */
int tls_write_all(struct swerve_tls_conn *c, int fd, const void *buf,
		  size_t len);

/*
 * Reads into <buf> until it holds <want> bytes, the stream ends, or it
 * fails; returns the bytes read, or -errno when nothing was. <buf> is
 * NUL-terminated (it has room for <len> + 1).
 */
ssize_t tls_read_some(struct swerve_tls_conn *c, int fd, char *buf,
		      size_t len, size_t want);

/* Sends an HTTP/1.1 GET and reads the whole answer (up to the body's
 * newline) into <buf>: its length or -errno. */
ssize_t tls_get(struct swerve_tls_conn *c, int fd, const char *extra,
		char *buf, size_t len);

/* One GET to east (SNI and name east.mydb.test) on a new session of
 * <ctx> for endpoint <key>, answer read (TLS 1.3 tickets come after the
 * handshake: reading takes them); whether it resumed. */
bool tls_one_request(struct swerve_tls_ctx *ctx, int port, const char *key);

/* Whether the server's log has a line holding <text> within <wait_ms>
 * (0: now). */
bool tls_log_has(const char *text, int wait_ms);

#endif
