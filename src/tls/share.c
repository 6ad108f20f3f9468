/*
 * share.c: TLS sessions through the host-wide session store (share.h):
 * the store attached on first use, the hash of the verification
 * settings, and sessions to bytes and back.
 *
 * What is trusted. The store is the user's own (mode 0600, checked on
 * attach), and what comes out of it has been checked there (its key,
 * settings, expiry, length and checksum); the bytes are then OpenSSL's to
 * parse (d2i_SSL_SESSION), and a session that does not parse, or is not
 * resumable, is a miss. A slot that does not add up means the store was
 * written over: this process says so once and keeps its sessions to
 * itself from then on.
 *
 * Thread-safety: the attach is claimed with a compare-and-swap, so no
 * thread ever waits for another's (a forked child whose parent was
 * attaching goes without the store); the store itself is safe for any
 * thread (sessions.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/swerve.h"
#include "tls/share.h"

enum share_state {
	SHARE_UNTRIED,
	SHARE_ATTACHING,
	SHARE_READY,
	SHARE_OFF,       /* no store, or no longer trusted */
};

static char store_name[SWERVE_SEGMENT_NAME_MAX];
static struct swerve_sessions store;
static _Atomic int state;

void swerve_tls_share_table(const char *table)
{
	if (table == NULL || table[0] == '\0' ||
	    swerve_sessions_name(table, store_name, sizeof(store_name)) != 0)
		store_name[0] = '\0';
}

/* The store, attached (made if need be) on the first call; NULL: none. */
static struct swerve_sessions *the_store(void)
{
	int expect = SHARE_UNTRIED;
	char err[256];

	switch (atomic_load_explicit(&state, memory_order_acquire)) {
	case SHARE_READY:
		return &store;
	case SHARE_UNTRIED:
		break;
	default:
		return NULL;
	}
	if (!atomic_compare_exchange_strong(&state, &expect, SHARE_ATTACHING))
		return NULL;
	if (store_name[0] == '\0') {
		atomic_store(&state, SHARE_OFF);
		return NULL;
	}
	if (swerve_sessions_attach(store_name, true, &store, err,
				   sizeof(err)) != 0) {
		swerve_log(SWERVE_LOG_WARN, "%s; TLS sessions are not shared "
			   "with other processes", err);
		atomic_store(&state, SHARE_OFF);
		return NULL;
	}
	atomic_store_explicit(&state, SHARE_READY, memory_order_release);
	return &store;
}

/* The store was written over: said once, and not used again. It stays
 * mapped: another thread may be reading it. */
static void distrust(void)
{
	int expect = SHARE_READY;

	if (atomic_compare_exchange_strong(&state, &expect, SHARE_OFF))
		swerve_log(SWERVE_LOG_WARN, "session store %s is damaged; TLS "
			   "sessions are kept in this process only; remove "
			   "it with swervectl reset", store_name);
}

/* ---- what identifies the settings ---- */

static void mix(uint64_t *h, const void *p, size_t n)
{
	*h = swerve_hash64(p, n, *h);
}

/* A file's path and its identity on disk (all 0 when it cannot be
 * stat'ed): replaced or edited, it hashes differently. */
static void mix_file(uint64_t *h, const char *path)
{
	uint64_t id[5] = { 0 };
	struct stat sb;

	if (path == NULL)
		path = "";
	mix(h, path, strlen(path) + 1);
	if (path[0] != '\0' && stat(path, &sb) == 0) {
		id[0] = (uint64_t)sb.st_dev;
		id[1] = (uint64_t)sb.st_ino;
		id[2] = (uint64_t)sb.st_size;
		id[3] = (uint64_t)sb.st_mtim.tv_sec;
		id[4] = (uint64_t)sb.st_mtim.tv_nsec;
	}
	mix(h, id, sizeof(id));
}

uint64_t swerve_tls_share_settings(const struct swerve_tls_cfg *cfg)
{
	const struct swerve_ossl *o = swerve_ossl();
	uint32_t how[2] = { (uint32_t)cfg->mode, cfg->skip_verify };
	uint64_t h = SWERVE_HASH_SEED;
	const char *file, *dir;

	mix(&h, how, sizeof(how));
	if (cfg->ca != NULL && cfg->ca[0] != '\0') {
		mix_file(&h, cfg->ca);
	} else {
		file = secure_getenv(o->X509_get_default_cert_file_env());
		dir = secure_getenv(o->X509_get_default_cert_dir_env());
		mix_file(&h, file != NULL ? file
					  : o->X509_get_default_cert_file());
		mix_file(&h, dir != NULL ? dir : o->X509_get_default_cert_dir());
	}
	if (cfg->mode == SWERVE_TLS_MUTUAL) {
		mix_file(&h, cfg->cert);
		mix_file(&h, cfg->key);
	}
	return h;
}

uint64_t swerve_tls_share_group(const char *endpoint_key)
{
	const char *slash = strchr(endpoint_key, '/');
	char service[sizeof(((struct swerve_service *)0)->name)];

	if (slash == NULL || (size_t)(slash - endpoint_key) >= sizeof(service))
		return swerve_sessions_group(endpoint_key);
	memcpy(service, endpoint_key, (size_t)(slash - endpoint_key));
	service[slash - endpoint_key] = '\0';
	return swerve_sessions_group(service);
}

/* ---- sessions ---- */

/* When <s> stops being resumable: its lifetime from when it was made,
 * shortened to the server's ticket lifetime hint. 0: unknown. */
static int64_t expiry_of(const struct swerve_ossl *o, SSL_SESSION *s,
			 int64_t now)
{
	int64_t made = o->SSL_SESSION_get_time(s);
	int64_t timeout = o->SSL_SESSION_get_timeout(s);
	uint64_t hint = o->SSL_SESSION_get_ticket_lifetime_hint(s);
	int64_t end;

	if (made <= 0 || timeout <= 0)
		return 0;
	end = made + timeout;
	if (hint > 0 && hint < (uint64_t)timeout)
		end = made + (int64_t)hint;
	if (end > now + SWERVE_SESSIONS_MAX_LIFETIME)
		end = now + SWERVE_SESSIONS_MAX_LIFETIME;
	return end;
}

SSL_SESSION *swerve_tls_share_get(const struct swerve_session_key *key)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_sessions *st = the_store();
	unsigned char buf[SWERVE_SESSIONS_BLOB_MAX];
	const unsigned char *p = buf;
	SSL_SESSION *s;
	ssize_t n;

	if (st == NULL)
		return NULL;
	n = swerve_sessions_get(st, key, (int64_t)time(NULL), buf,
				sizeof(buf));
	if (n == -EBADMSG)
		distrust();
	if (n <= 0)
		return NULL;
	s = o->d2i_SSL_SESSION(NULL, &p, (long)n);
	if (s != NULL && (p != buf + n || o->SSL_SESSION_is_resumable(s) != 1)) {
		o->SSL_SESSION_free(s);
		s = NULL;
	}
	o->ERR_clear_error();
	explicit_bzero(buf, (size_t)n);
	return s;
}

void swerve_tls_share_put(const struct swerve_session_key *key,
			  SSL_SESSION *sess)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_sessions *st = the_store();
	unsigned char buf[SWERVE_SESSIONS_BLOB_MAX], *p = buf;
	int64_t now = (int64_t)time(NULL);
	int n;

	if (st == NULL || o->SSL_SESSION_is_resumable(sess) != 1)
		return;
	/* Too large for a slot: it stays in this process's cache. */
	n = o->i2d_SSL_SESSION(sess, NULL);
	if (n <= 0 || (size_t)n > sizeof(buf) ||
	    o->i2d_SSL_SESSION(sess, &p) != n) {
		o->ERR_clear_error();
		return;
	}
	swerve_sessions_put(st, key, expiry_of(o, sess, now), now, buf,
			    (size_t)n);
	explicit_bzero(buf, (size_t)n);
}
