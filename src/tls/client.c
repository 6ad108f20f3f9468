/*
 * client.c: TLS client sessions with the system's OpenSSL (client.h):
 * the per-service context, its session cache, the BIO that reaches the
 * socket through the libc door, and the mapping of OpenSSL's outcomes to
 * errno values.
 *
 * OpenSSL reports through a per-thread error queue that a call's outcome
 * is read from (SSL_get_error looks at it), so every call here clears it
 * before and after.
 *
 * Thread-safety: as client.h says; the BIO method is made once per
 * process (pthread_once) and shared, read-only, by every connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "tls/client.h"
#include "tls/ossl.h"
#include "tls/share.h"
#include "tls/trust.h"

/* A second FNV offset basis: the cache key is two hashes, 128 bits. */
#define CACHE_SEED2 0x6c62272e07bb0142ull

/* The names a mismatch message lists, cut to this. */
#define EXPECT_MAX 96

/*
 * From this OpenSSL on, SSL_free_buffers is safe on a connection that
 * waits for a record (CVE-2024-4741 was fixed in 3.0.14). An older or
 * patched-but-older-numbered OpenSSL only keeps its buffers.
 */
#define FREE_BUFFERS_SINCE 0x300000e0L

struct cache_entry {
	uint64_t h1, h2;        /* endpoint key, SNI and names; 0, 0: free */
	uint64_t stamp;         /* when stored: the oldest goes first */
	SSL_SESSION *sess;      /* one reference, owned */
};

struct swerve_tls_ctx {
	const struct swerve_ossl *o;
	SSL_CTX *ssl;
	bool verify;
	bool free_buffers;      /* SSL_free_buffers when a read waits */
	uint64_t settings;      /* swerve_tls_share_settings() */
	struct swerve_tls_trust trust;
	pthread_mutex_t lock;   /* the cache below */
	uint64_t clock;
	struct cache_entry cache[SWERVE_TLS_SESSION_CACHE];
};

struct swerve_tls_conn {
	struct swerve_tls_ctx *ctx;
	SSL *ssl;
	int fd;
	int sock_errno;         /* of the last failed recv or send */
	bool send_failed;       /* that failure was a send's */
	bool eof;               /* recv returned 0 */
	bool fatal;             /* no close_notify after a fatal error */
	struct swerve_session_key key; /* the caches' key */
	char expect[EXPECT_MAX]; /* the names, for a mismatch message */
};

static pthread_once_t bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_method;

/* ---- the BIO: the socket through the libc door ---- */

/*
 * The BIO's read (<sending> false) and write: the bytes; 0 at EOF
 * (BIO_CTRL_EOF then says so); -1 with the retry flags set for EAGAIN,
 * else -1 with the socket's errno kept for the caller. MSG_NOSIGNAL: a
 * guest never raises SIGPIPE in its host.
 */
static int bio_io(BIO *b, void *buf, int len, bool sending)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_tls_conn *c = o->BIO_get_data(b);
	ssize_t n;

	o->BIO_clear_flags(b, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
	if (len <= 0)
		return 0;
	do
		n = sending ? swerve_libc_send(c->fd, buf, (size_t)len,
					       MSG_DONTWAIT | MSG_NOSIGNAL)
			    : swerve_libc_recv(c->fd, buf, (size_t)len,
					       MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0 || (n == 0 && sending))
		return (int)n;
	if (n == 0) {
		c->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		o->BIO_set_flags(b, BIO_FLAGS_SHOULD_RETRY |
					    (sending ? BIO_FLAGS_WRITE
						     : BIO_FLAGS_READ));
		return -1;
	}
	c->sock_errno = errno;
	c->send_failed = sending;
	return -1;
}

static int bio_read(BIO *b, char *buf, int len)
{
	return bio_io(b, buf, len, false);
}

static int bio_write(BIO *b, const char *buf, int len)
{
	return bio_io(b, (void *)buf, len, true);
}

/*
 * BIO_CTRL_EOF matters: the record layer asks it after a read of 0 to
 * tell an EOF (then SSL_OP_IGNORE_UNEXPECTED_EOF makes it the end of the
 * stream) from a failure. Flushing is a no-op (nothing is buffered here).
 */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_tls_conn *c = o->BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return c != NULL && c->eof;
	default:
		return 0;
	}
}

static void make_bio_method(void)
{
	const struct swerve_ossl *o = swerve_ossl();
	BIO_METHOD *m;
	int idx = o->BIO_get_new_index();

	if (idx == -1)
		return;
	m = o->BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK, "swerve socket");
	if (m == NULL)
		return;
	if (o->BIO_meth_set_read(m, bio_read) != 1 ||
	    o->BIO_meth_set_write(m, bio_write) != 1 ||
	    o->BIO_meth_set_ctrl(m, bio_ctrl) != 1)
		return; /* left unset: the process has no TLS (never seen) */
	bio_method = m;
}

/* ---- the session cache ---- */

/* The key: the endpoint, and what decides verification besides the
 * context (SNI and names), so a session is resumed only where it was
 * verified for the same names. */
static void cache_key(struct swerve_tls_conn *c, const char *endpoint_key,
		      const char *sni, const char *const *names,
		      unsigned nnames)
{
	uint64_t h1 = SWERVE_HASH_SEED, h2 = CACHE_SEED2;
	const char *parts[2] = { endpoint_key, sni != NULL ? sni : "" };
	unsigned i;

	for (i = 0; i < 2 + nnames; i++) {
		const char *s = i < 2 ? parts[i] : names[i - 2];
		size_t len = strlen(s) + 1; /* the NUL separates */

		h1 = swerve_hash64(s, len, h1);
		h2 = swerve_hash64(s, len, h2);
	}
	c->key.h1 = h1 | 1; /* never 0, 0: the free entry */
	c->key.h2 = h2;
	c->key.group = swerve_tls_share_group(endpoint_key);
	c->key.verify = c->ctx->settings;
}

/* The entry of <h1, h2>, or NULL. Under the lock. */
static struct cache_entry *cache_find(struct swerve_tls_ctx *ctx,
				      uint64_t h1, uint64_t h2)
{
	size_t i;

	for (i = 0; i < SWERVE_TLS_SESSION_CACHE; i++)
		if (ctx->cache[i].h1 == h1 && ctx->cache[i].h2 == h2)
			return &ctx->cache[i];
	return NULL;
}

/*
 * Offers the cached session of <c>'s key to the handshake: this
 * process's, else the one another process left in the session store.
 */
static void cache_resume(struct swerve_tls_conn *c)
{
	struct swerve_tls_ctx *ctx = c->ctx;
	struct cache_entry *e;
	SSL_SESSION *shared;
	bool offered = false;

	pthread_mutex_lock(&ctx->lock);
	e = cache_find(ctx, c->key.h1, c->key.h2);
	/* SSL_set_session takes a reference of its own. */
	if (e != NULL && ctx->o->SSL_SESSION_is_resumable(e->sess) == 1)
		offered = ctx->o->SSL_set_session(c->ssl, e->sess) == 1;
	pthread_mutex_unlock(&ctx->lock);
	if (offered)
		return;
	shared = swerve_tls_share_get(&c->key);
	if (shared == NULL)
		return;
	ctx->o->SSL_set_session(c->ssl, shared);
	ctx->o->SSL_SESSION_free(shared);
	ctx->o->ERR_clear_error();
}

/* Keeps <sess> (its reference) as the last session of <c>'s endpoint,
 * in place of the previous one, or of the oldest entry when full. */
static void cache_store(struct swerve_tls_conn *c, SSL_SESSION *sess)
{
	struct swerve_tls_ctx *ctx = c->ctx;
	struct cache_entry *e;
	SSL_SESSION *old;
	size_t i;

	pthread_mutex_lock(&ctx->lock);
	e = cache_find(ctx, c->key.h1, c->key.h2);
	for (i = 0; e == NULL && i < SWERVE_TLS_SESSION_CACHE; i++)
		if (ctx->cache[i].sess == NULL)
			e = &ctx->cache[i];
	if (e == NULL) {
		e = &ctx->cache[0];
		for (i = 1; i < SWERVE_TLS_SESSION_CACHE; i++)
			if (ctx->cache[i].stamp < e->stamp)
				e = &ctx->cache[i];
	}
	old = e->sess;
	e->h1 = c->key.h1;
	e->h2 = c->key.h2;
	e->stamp = ++ctx->clock;
	e->sess = sess;
	pthread_mutex_unlock(&ctx->lock);
	if (old != NULL)
		ctx->o->SSL_SESSION_free(old);
}

/* OpenSSL's new-session callback: each session the server gives (TLS
 * 1.3 tickets arrive after the handshake, inside a read), kept for this
 * process and shared with the others. 1: kept. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_tls_conn *c = o->SSL_get_ex_data(ssl, 0);

	if (c == NULL)
		return 0;
	swerve_tls_share_put(&c->key, sess);
	cache_store(c, sess);
	return 1;
}

/* ---- the context ---- */

/* Never asks for a pass phrase: OpenSSL's default would read the
 * terminal of the host. An encrypted key fails to load instead. */
static int no_pass_phrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* "<what> <path>: <OpenSSL's reason>" into <err>; -errno of a file that
 * cannot be read, else -EINVAL. */
static int file_error(const char *what, const char *path, char *err,
		      size_t errlen)
{
	char why[160];
	int e = swerve_ossl_error(why, sizeof(why), "cannot be loaded");

	swerve_log_reason(err, errlen, "%s %s: %s", what, path, why);
	return e != 0 ? -e : -EINVAL;
}

static void configure(struct swerve_tls_ctx *ctx,
		      const struct swerve_tls_cfg *cfg)
{
	const struct swerve_ossl *o = ctx->o;
	SSL_CTX *s = ctx->ssl;

	o->SSL_CTX_ctrl(s, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION,
			NULL);
	/* Many servers close without close_notify: that is an EOF. */
	o->SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* A relay: idle connections give their buffers back, and a write
	 * takes what fits and may be retried from a moved buffer. */
	o->SSL_CTX_ctrl(s, SSL_CTRL_MODE,
			SSL_MODE_RELEASE_BUFFERS |
				SSL_MODE_ENABLE_PARTIAL_WRITE |
				SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
			NULL);
	ctx->verify = !cfg->skip_verify;
	o->SSL_CTX_set_verify(s,
			      ctx->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			      NULL);
	o->SSL_CTX_set_default_passwd_cb(s, no_pass_phrase);
	/* Sessions go to this module's cache, not OpenSSL's, whose client
	 * side would never look them up by endpoint. */
	o->SSL_CTX_ctrl(s, SSL_CTRL_SET_SESS_CACHE_MODE,
			SSL_SESS_CACHE_CLIENT |
				SSL_SESS_CACHE_NO_INTERNAL_STORE,
			NULL);
	o->SSL_CTX_sess_set_new_cb(s, on_new_session);
}

static int load_files(struct swerve_tls_ctx *ctx,
		      const struct swerve_tls_cfg *cfg, char *err,
		      size_t errlen)
{
	const struct swerve_ossl *o = ctx->o;
	SSL_CTX *s = ctx->ssl;
	int rc;

	/* The CAs wait for the first full handshake (tls/trust.h). */
	rc = swerve_tls_trust_prepare(&ctx->trust, s, cfg->ca, err, errlen);
	if (rc != 0)
		return rc;
	if (cfg->mode != SWERVE_TLS_MUTUAL)
		return 0;
	if (cfg->cert == NULL || cfg->cert[0] == '\0' || cfg->key == NULL ||
	    cfg->key[0] == '\0') {
		swerve_log_reason(err, errlen, "tls = mutual needs "
				  "tls_client_certificate and tls_private_key");
		return -EINVAL;
	}
	if (o->SSL_CTX_use_certificate_chain_file(s, cfg->cert) != 1)
		return file_error("tls_client_certificate", cfg->cert, err,
				  errlen);
	if (o->SSL_CTX_use_PrivateKey_file(s, cfg->key, SSL_FILETYPE_PEM) != 1)
		return file_error("tls_private_key", cfg->key, err, errlen);
	if (o->SSL_CTX_check_private_key(s) != 1) {
		o->ERR_clear_error();
		swerve_log_reason(err, errlen,
				  "tls_private_key %s does not match "
				  "tls_client_certificate %s", cfg->key,
				  cfg->cert);
		return -EINVAL;
	}
	return 0;
}

int swerve_tls_ctx_new(const struct swerve_tls_cfg *cfg,
		       struct swerve_tls_ctx **out, char *err, size_t errlen)
{
	struct swerve_tls_ctx *ctx;
	int rc;

	*out = NULL;
	rc = swerve_ossl_load(err, errlen);
	if (rc != 0)
		return rc;
	pthread_once(&bio_once, make_bio_method);
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL || bio_method == NULL) {
		free(ctx);
		swerve_log_reason(err, errlen, "TLS: out of memory");
		return -ENOMEM;
	}
	ctx->o = swerve_ossl();
	ctx->o->ERR_clear_error();
	ctx->ssl = ctx->o->SSL_CTX_new(ctx->o->TLS_client_method());
	if (ctx->ssl == NULL) {
		swerve_ossl_error(err, errlen, "TLS: out of memory");
		free(ctx);
		return -ENOMEM;
	}
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->free_buffers =
		ctx->o->OpenSSL_version_num() >= FREE_BUFFERS_SINCE;
	ctx->settings = swerve_tls_share_settings(cfg);
	configure(ctx, cfg);
	rc = load_files(ctx, cfg, err, errlen);
	if (rc != 0) {
		swerve_tls_ctx_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

void swerve_tls_ctx_free(struct swerve_tls_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	for (i = 0; i < SWERVE_TLS_SESSION_CACHE; i++)
		if (ctx->cache[i].sess != NULL)
			ctx->o->SSL_SESSION_free(ctx->cache[i].sess);
	ctx->o->SSL_CTX_free(ctx->ssl);
	swerve_tls_trust_free(&ctx->trust);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

void swerve_tls_ctx_atfork_child(struct swerve_tls_ctx *ctx)
{
	pthread_mutex_init(&ctx->lock, NULL);
	swerve_tls_trust_atfork_child(&ctx->trust);
}

bool swerve_tls_ctx_trust_loaded(struct swerve_tls_ctx *ctx)
{
	return swerve_tls_trust_loaded(&ctx->trust);
}

/* ---- connections ---- */

static bool is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	       inet_pton(AF_INET6, name, buf) == 1;
}

/* The names the certificate may carry (client.h), and their list for a
 * mismatch message. */
static int set_names(struct swerve_tls_conn *c, const char *const *names,
		     unsigned nnames, char *err, size_t errlen)
{
	const struct swerve_ossl *o = c->ctx->o;
	bool have_host = false, have_ip = false;
	size_t used = 0;
	unsigned i;
	int ok;

	o->SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (i = 0; i < nnames; i++) {
		if (is_ip_literal(names[i])) {
			ok = !have_ip && o->X509_VERIFY_PARAM_set1_ip_asc(
						 o->SSL_get0_param(c->ssl),
						 names[i]) == 1;
			have_ip = true;
		} else {
			ok = (have_host ? o->SSL_add1_host
					: o->SSL_set1_host)(c->ssl, names[i]) ==
			     1;
			have_host = true;
		}
		if (!ok) {
			o->ERR_clear_error();
			swerve_log_reason(err, errlen, "TLS: unusable name %s "
					  "(at most one IP address)", names[i]);
			return -EINVAL;
		}
		if (used < sizeof(c->expect))
			used += (size_t)snprintf(c->expect + used,
						 sizeof(c->expect) - used,
						 "%s%s", i > 0 ? ", " : "",
						 names[i]);
	}
	return 0;
}

static int conn_setup(struct swerve_tls_conn *c, const char *sni,
		      const char *const *names, unsigned nnames, char *err,
		      size_t errlen)
{
	const struct swerve_ossl *o = c->ctx->o;
	BIO *bio;

	bio = o->BIO_new(bio_method);
	if (bio == NULL) {
		swerve_log_reason(err, errlen, "TLS: out of memory");
		return -ENOMEM;
	}
	o->BIO_set_data(bio, c);
	o->BIO_set_init(bio, 1);
	/* One BIO both ways: SSL_set_bio takes its one reference. */
	o->SSL_set_bio(c->ssl, bio, bio);
	o->SSL_set_connect_state(c->ssl);
	o->SSL_set_ex_data(c->ssl, 0, c);
	if (sni != NULL && sni[0] != '\0' &&
	    o->SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
			TLSEXT_NAMETYPE_host_name, (void *)sni) != 1) {
		o->ERR_clear_error();
		swerve_log_reason(err, errlen, "TLS: unusable SNI %s", sni);
		return -EINVAL;
	}
	return set_names(c, names, nnames, err, errlen);
}

int swerve_tls_conn_new(struct swerve_tls_ctx *ctx, int fd,
			const char *endpoint_key, const char *sni,
			const char *const *names, unsigned nnames,
			struct swerve_tls_conn **out, char *err,
			size_t errlen)
{
	struct swerve_tls_conn *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		swerve_log_reason(err, errlen, "TLS: out of memory");
		return -ENOMEM;
	}
	c->ctx = ctx;
	c->fd = fd;
	ctx->o->ERR_clear_error();
	c->ssl = ctx->o->SSL_new(ctx->ssl);
	if (c->ssl == NULL) {
		swerve_ossl_error(err, errlen, "TLS: out of memory");
		free(c);
		return -ENOMEM;
	}
	rc = conn_setup(c, sni, names, nnames, err, errlen);
	if (rc != 0) {
		swerve_tls_conn_free(c);
		return rc;
	}
	cache_key(c, endpoint_key != NULL ? endpoint_key : "", sni, names,
		  nnames);
	cache_resume(c);
	*out = c;
	return 0;
}

/* A failed recv or send, an EOF, or neither (0). */
static int transport_failure(struct swerve_tls_conn *c, char *err,
			     size_t errlen)
{
	if (c->sock_errno != 0) {
		swerve_log_reason(err, errlen, "TLS handshake: %s: %s",
				  c->send_failed ? "send" : "recv",
				  strerror(c->sock_errno));
		return c->send_failed ? -EPIPE : -ECONNRESET;
	}
	if (c->eof) {
		swerve_log_reason(err, errlen, "TLS handshake: the server "
				  "closed the connection");
		return -ECONNRESET;
	}
	return 0;
}

static int handshake_failure(struct swerve_tls_conn *c, int e, char *err,
			     size_t errlen)
{
	const struct swerve_ossl *o = c->ctx->o;
	long v = o->SSL_get_verify_result(c->ssl);
	char why[160];
	int rc;

	c->fatal = true;
	if (c->ctx->verify && v != X509_V_OK) {
		o->ERR_clear_error();
		if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
		    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
			swerve_log_reason(err, errlen, "certificate verify "
					  "failed: %s (expected %s)",
					  o->X509_verify_cert_error_string(v),
					  c->expect);
		else
			swerve_log_reason(err, errlen, "certificate verify "
					  "failed: %s",
					  o->X509_verify_cert_error_string(v));
		return -EKEYREJECTED;
	}
	rc = transport_failure(c, err, errlen);
	if (rc != 0) {
		o->ERR_clear_error();
		return rc;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		o->ERR_clear_error();
		swerve_log_reason(err, errlen, "TLS handshake: the server "
				  "closed the session");
		return -ECONNRESET;
	}
	swerve_ossl_error(why, sizeof(why), "failed");
	swerve_log_reason(err, errlen, "TLS handshake: %s", why);
	return -EPROTO;
}

int swerve_tls_conn_handshake(struct swerve_tls_conn *c, short *want,
			      char *err, size_t errlen)
{
	const struct swerve_ossl *o = c->ctx->o;
	int r, e;

	o->ERR_clear_error();
	c->sock_errno = 0;
	r = o->SSL_do_handshake(c->ssl);
	if (r == 1)
		return 0;
	e = o->SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return -EAGAIN;
	}
	return handshake_failure(c, e, err, errlen);
}

/* The outcome of a read or write that did not move bytes (client.h). */
static ssize_t io_failure(struct swerve_tls_conn *c, int e, short *want)
{
	const struct swerve_ossl *o = c->ctx->o;

	o->ERR_clear_error();
	switch (e) {
	case SSL_ERROR_WANT_READ:
		/* An idle connection waits here. SSL_MODE_RELEASE_BUFFERS
		 * frees the read buffer only after application data, and a
		 * read that finds nothing allocates it again: given back
		 * here, an idle connection keeps half the memory. It frees
		 * only empty buffers (none while a record is half read). */
		if (c->ctx->free_buffers)
			o->SSL_free_buffers(c->ssl);
		*want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		break;
	}
	c->fatal = true;
	if (c->sock_errno != 0)
		return -c->sock_errno;
	if (e == SSL_ERROR_SYSCALL && c->eof)
		return 0;
	return -EPROTO;
}

ssize_t swerve_tls_conn_read(struct swerve_tls_conn *c, void *buf, size_t len,
			     short *want)
{
	const struct swerve_ossl *o = c->ctx->o;
	size_t n = 0;
	int r;

	if (len == 0)
		return -EINVAL;
	o->ERR_clear_error();
	c->sock_errno = 0;
	r = o->SSL_read_ex(c->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	return io_failure(c, o->SSL_get_error(c->ssl, r), want);
}

ssize_t swerve_tls_conn_write(struct swerve_tls_conn *c, const void *buf,
			      size_t len, short *want)
{
	const struct swerve_ossl *o = c->ctx->o;
	size_t n = 0;
	int r;

	if (len == 0)
		return 0;
	o->ERR_clear_error();
	c->sock_errno = 0;
	r = o->SSL_write_ex(c->ssl, buf, len, &n);
	if (r == 1)
		return (ssize_t)n;
	return io_failure(c, o->SSL_get_error(c->ssl, r), want);
}

size_t swerve_tls_conn_pending(const struct swerve_tls_conn *c)
{
	int n = c->ctx->o->SSL_pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

void swerve_tls_conn_close_notify(struct swerve_tls_conn *c)
{
	const struct swerve_ossl *o = c->ctx->o;

	/* OpenSSL forbids SSL_shutdown after a fatal error. */
	if (c->fatal)
		return;
	o->ERR_clear_error();
	o->SSL_shutdown(c->ssl);
	o->ERR_clear_error();
}

bool swerve_tls_conn_resumed(const struct swerve_tls_conn *c)
{
	return c->ctx->o->SSL_session_reused(c->ssl) == 1;
}

int swerve_tls_conn_verify_error(const struct swerve_tls_conn *c)
{
	return (int)c->ctx->o->SSL_get_verify_result(c->ssl);
}

void swerve_tls_conn_free(struct swerve_tls_conn *c)
{
	if (c == NULL)
		return;
	/* No callback may reach <c> once it is gone. */
	c->ctx->o->SSL_set_ex_data(c->ssl, 0, NULL);
	c->ctx->o->SSL_free(c->ssl);
	free(c);
}
