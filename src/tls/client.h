/*
 * client: non-blocking TLS client sessions over a TCP socket that the
 * caller connected, with the system's OpenSSL (tls/ossl.h), for the
 * relay thread of TLS origination.
 *
 * All socket I/O goes through the libc door (swerve_libc_recv and
 * swerve_libc_send, with MSG_DONTWAIT and MSG_NOSIGNAL) by a BIO of
 * swerve's own, never through libssl's socket BIO: where the host already
 * loaded libssl.so.3, swerve gets that copy, whose socket calls bind to
 * swerve's own hooks. So every call here is non-blocking whatever the
 * fd's O_NONBLOCK says, and never raises SIGPIPE.
 *
 * A context (struct swerve_tls_ctx) holds one service's settings: the
 * trust store (parsed at the first full handshake only, tls/trust.h), the
 * verification mode, the client certificate, and a cache of the last
 * session per endpoint for resumption, in front of the host-wide session
 * store that every process of the user shares (tls/share.h). A
 * connection (struct swerve_tls_conn) is one TLS session on one fd.
 *
 * Every function returns 0 (or a count) or -errno; where a person reads
 * the error, <err> (may be NULL) gets a one-line reason.
 *
 * Thread-safety: a context may be used by one thread at a time, except
 * its session cache, which has a lock of its own: connections of one
 * context may run in several threads, each connection in one thread at a
 * time. After fork, the child calls swerve_tls_ctx_atfork_child() on a
 * context it goes on using, since another thread of the parent may have
 * held the cache's lock at the fork.
 */
#ifndef SWERVE_TLS_CLIENT_H
#define SWERVE_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy/config.h"

/* Sessions kept per context for resumption (the last one per endpoint). */
#define SWERVE_TLS_SESSION_CACHE 256

/*
 * Heap memory of one idle connection (after its handshake and an
 * exchange, waiting for the next record), an upper bound of what was
 * measured with mallinfo2 over 100 TLS 1.3 connections to a P-256 server
 * with OpenSSL 3.0.19 (tests/unit/test_tls_client_io.c checks it): the
 * SSL object and its session, about 15.6 KB, and the session cached for
 * its endpoint, about 4.4 KB when each connection has an endpoint of its
 * own: 20 KB. OpenSSL's record buffers come on top while a record is in
 * flight (about 33 KB, both ways). Before OpenSSL 3.0.14 an idle
 * connection also keeps its read buffer (about 36 KB then).
 */
#define SWERVE_TLS_CONN_MEMORY 24576

struct swerve_tls_ctx;
struct swerve_tls_conn;

/*
 * A context for one service's settings <cfg> (mode SIMPLE or MUTUAL): a
 * TLS client, TLS 1.2 at least; the peer verified unless
 * cfg->skip_verify, against cfg->ca ("": the system's trust store); for
 * MUTUAL, the client certificate chain cfg->cert and its key cfg->key,
 * checked to match. The files are read here; one that cannot be read or
 * parsed is an error that names it (-ENOENT, -EACCES or -EINVAL), and a
 * key that does not match its certificate is -EINVAL. -ENOENT or -ENOSYS
 * also when OpenSSL cannot be loaded (tls/ossl.h); -ENOMEM.
 */
int swerve_tls_ctx_new(const struct swerve_tls_cfg *cfg,
		       struct swerve_tls_ctx **out, char *err, size_t errlen);

/* Frees a context and its cached sessions, after its connections. NULL:
 * nothing. */
void swerve_tls_ctx_free(struct swerve_tls_ctx *ctx);

/* In a forked child, before any other use of <ctx>: makes the session
 * cache's lock usable again (another thread may have held it). */
void swerve_tls_ctx_atfork_child(struct swerve_tls_ctx *ctx);

/* Whether <ctx> has parsed its CAs yet: a full handshake needs them, a
 * resumed one does not (tls/trust.h). */
bool swerve_tls_ctx_trust_loaded(struct swerve_tls_ctx *ctx);

/*
 * A connection over <fd>, a TCP socket the caller connected (or is
 * connecting: the handshake waits for it). <sni> NULL or "": no SNI.
 * <names> (<nnames>): the names the certificate may carry, any one will
 * do; an IP literal is checked as an IP address (at most one, and with
 * DNS names beside it both must match: OpenSSL checks an IP in addition
 * to the names). With verification on, nnames 0 verifies the chain only:
 * whether that is allowed is the caller's decision. <endpoint_key> names
 * the endpoint as "SERVICE/ENDPOINT": a session cached for it (with the
 * same SNI and names) is offered for resumption, this process's first,
 * else one that another process stored with the same verification
 * settings; new sessions are cached under it, and stored for the others
 * in the service's group (swervectl reset SERVICE drops them). The fd
 * is not owned: swerve_tls_conn_free() leaves it open. -EINVAL (an
 * unusable name), -ENOMEM.
 */
int swerve_tls_conn_new(struct swerve_tls_ctx *ctx, int fd,
			const char *endpoint_key, const char *sni,
			const char *const *names, unsigned nnames,
			struct swerve_tls_conn **out, char *err,
			size_t errlen);

/*
 * Advances the handshake. 0: done. -EAGAIN: call again when the fd polls
 * *want (POLLIN or POLLOUT). -ECONNRESET: the peer closed or reset the
 * connection, or receiving failed; -EPIPE: sending failed (<err> names
 * the socket's errno). -EKEYREJECTED: the certificate did not verify;
 * <err> says why (OpenSSL's verify error, and the names expected on a
 * mismatch). -EPROTO: any other TLS failure (an alert from the server,
 * no common version or cipher, garbage).
 * In TLS 1.3 a server that rejects the client certificate (mutual TLS)
 * says so after the client's side of the handshake is done: then this
 * returns 0 and the first read returns -EPROTO.
 */
int swerve_tls_conn_handshake(struct swerve_tls_conn *c, short *want,
			      char *err, size_t errlen);

/*
 * Reads decrypted bytes: >0 bytes; 0 at the end of the stream, which is
 * the server's close_notify or a TCP EOF without one (many servers close
 * without it: an unexpected EOF counts as the end, not as an error);
 * -EAGAIN with *want (POLLIN, or POLLOUT while OpenSSL must send first);
 * -EPROTO for a TLS failure (an alert); else the socket's -errno
 * (-ECONNRESET, -ETIMEDOUT, ...). Bytes may remain decrypted inside
 * OpenSSL after a read that filled <buf>: see swerve_tls_conn_pending().
 */
ssize_t swerve_tls_conn_read(struct swerve_tls_conn *c, void *buf, size_t len,
			     short *want);

/*
 * Encrypts and sends: >0 bytes taken (possibly fewer than <len>: partial
 * writes are on); -EAGAIN with *want, after which the call must be
 * repeated with at least the same bytes (the buffer may move); -EPROTO;
 * else the socket's -errno (-EPIPE, -ECONNRESET, ...).
 */
ssize_t swerve_tls_conn_write(struct swerve_tls_conn *c, const void *buf,
			      size_t len, short *want);

/* Decrypted bytes OpenSSL holds that the fd does not poll readable for. */
size_t swerve_tls_conn_pending(const struct swerve_tls_conn *c);

/* Sends close_notify if the socket takes it now; never waits, never
 * fails (best effort before the caller closes). */
void swerve_tls_conn_close_notify(struct swerve_tls_conn *c);

/* Whether the handshake resumed a cached session. */
bool swerve_tls_conn_resumed(const struct swerve_tls_conn *c);

/*
 * The X509_V_ERR_* of the last handshake's certificate verification, 0
 * for none. With verification skipped, what verification found anyway.
 */
int swerve_tls_conn_verify_error(const struct swerve_tls_conn *c);

/* Frees the session; leaves the fd open. NULL: nothing. */
void swerve_tls_conn_free(struct swerve_tls_conn *c);

#endif
