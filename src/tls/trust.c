/*
 * trust.c: a context's trust store, loaded at the first verification
 * (trust.h): where it comes from, the check of a CA file when the context
 * is made, and the verify callback that loads it.
 *
 * How it is deferred. OpenSSL verifies the server's chain through the
 * context's verify callback (SSL_CTX_set_cert_verify_callback) with an
 * X509_STORE_CTX over the context's X509_STORE. The callback loads the
 * CAs into that same store, once, and then verifies as OpenSSL would
 * (X509_verify_cert): the store looks its CAs up when it verifies, so
 * what was loaded a moment before is found. A resumed handshake sends no
 * certificate, so the callback never runs.
 *
 * Thread-safety: as trust.h says.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "tls/trust.h"

/* A CA file is read this far, at most, for its first PEM marker. */
#define PEM_SCAN_MAX (1024 * 1024)

/* Whether <dir> holds OpenSSL's hash links (8 hex digits, ".0"). */
static bool hashed_dir(const char *dir)
{
	struct dirent *e;
	bool found = false;
	DIR *d = opendir(dir);
	int i;

	while (d != NULL && !found && (e = readdir(d)) != NULL) {
		for (i = 0; i < 8 && isxdigit((unsigned char)e->d_name[i]);
		     i++)
			;
		found = i == 8 && strcmp(e->d_name + 8, ".0") == 0;
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/*
 * Whether the CA bundle <file> lies in the hashed directory <dir> (one
 * directory, not a list), as Debian's update-ca-certificates makes them:
 * then both hold the same CAs.
 */
static bool bundle_in_hashed_dir(const char *file, const char *dir)
{
	char rfile[PATH_MAX], rdir[PATH_MAX];
	size_t n;

	if (strchr(dir, ':') != NULL || realpath(file, rfile) == NULL ||
	    realpath(dir, rdir) == NULL)
		return false;
	n = strlen(rdir);
	return strncmp(rfile, rdir, n) == 0 && rfile[n] == '/' &&
	       strchr(rfile + n + 1, '/') == NULL && hashed_dir(rdir);
}

/*
 * The system's trust store. OpenSSL's default paths parse the whole CA
 * bundle (about 64 ms for Debian's 140 CAs); the hashed directory beside
 * it is read one CA at a time as verification needs it (about 1.5 ms at
 * the first verification). SSL_CERT_FILE and SSL_CERT_DIR are honoured
 * as OpenSSL does; the defaults stand unless the bundle lies in the
 * directory and the directory has hash links (some distributions ship
 * the bundle only).
 */
static void system_source(struct swerve_tls_trust *t)
{
	const struct swerve_ossl *o = swerve_ossl();
	const char *file = secure_getenv(o->X509_get_default_cert_file_env());
	const char *dir = secure_getenv(o->X509_get_default_cert_dir_env());

	if (file == NULL)
		file = o->X509_get_default_cert_file();
	if (dir == NULL)
		dir = o->X509_get_default_cert_dir();
	t->source = SWERVE_TRUST_DEFAULT;
	if (bundle_in_hashed_dir(file, dir)) {
		t->path = strdup(dir);
		if (t->path != NULL)
			t->source = SWERVE_TRUST_DIR;
	}
}

/*
 * Whether the file <path> opens and holds a PEM marker: what can be told
 * of a CA file without parsing it. 0 or -errno, with the reason.
 */
static int check_ca_file(const char *path, char *err, size_t errlen)
{
	static const char marker[] = "-----BEGIN ";
	char buf[4096 + sizeof(marker)];
	size_t have = 0, n, total = 0;
	FILE *f = fopen(path, "re");
	int e;

	if (f == NULL) {
		e = errno;
		swerve_log_reason(err, errlen, "tls_ca_certificates %s: %s",
				  path, strerror(e));
		return -e;
	}
	while (total < PEM_SCAN_MAX &&
	       (n = fread(buf + have, 1, sizeof(buf) - 1 - have, f)) > 0) {
		total += n;
		have += n;
		buf[have] = '\0';
		if (memmem(buf, have, marker, sizeof(marker) - 1) != NULL) {
			fclose(f);
			return 0;
		}
		/* Keep the tail: a marker may straddle two reads. */
		if (have >= sizeof(marker) - 1) {
			memmove(buf, buf + have - (sizeof(marker) - 1),
				sizeof(marker) - 1);
			have = sizeof(marker) - 1;
		}
	}
	e = ferror(f) ? EIO : 0;
	fclose(f);
	swerve_log_reason(err, errlen, "tls_ca_certificates %s: %s", path,
			  e != 0 ? strerror(e) : "no PEM certificate in it");
	return e != 0 ? -e : -EINVAL;
}

/* Loads the CAs into the context's store: 0, or -EINVAL with a line on
 * stderr (once per context: this runs once). */
static int load(struct swerve_tls_trust *t)
{
	const struct swerve_ossl *o = swerve_ossl();
	char why[160];
	int ok = 0;

	switch (t->source) {
	case SWERVE_TRUST_FILE:
		ok = o->SSL_CTX_load_verify_locations(t->ssl, t->path, NULL);
		break;
	case SWERVE_TRUST_DIR:
		ok = o->SSL_CTX_load_verify_dir(t->ssl, t->path);
		if (ok == 1)
			break;
		o->ERR_clear_error();
		/* The defaults, as OpenSSL would. */
		__attribute__((fallthrough));
	case SWERVE_TRUST_DEFAULT:
		ok = o->SSL_CTX_set_default_verify_paths(t->ssl);
		break;
	}
	if (ok == 1)
		return 0;
	swerve_ossl_error(why, sizeof(why), "cannot be loaded");
	swerve_log(SWERVE_LOG_WARN, "%s%s: %s; certificates do not verify",
		   t->source == SWERVE_TRUST_FILE ? "tls_ca_certificates "
						  : "the system's trust store",
		   t->source == SWERVE_TRUST_FILE ? t->path : "", why);
	return -EINVAL;
}

/* OpenSSL's verification of a chain, the CAs loaded first. */
static int verify_chain(X509_STORE_CTX *x, void *arg)
{
	const struct swerve_ossl *o = swerve_ossl();
	struct swerve_tls_trust *t = arg;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (!t->loaded) {
		t->rc = load(t);
		t->loaded = true;
	}
	rc = t->rc;
	pthread_mutex_unlock(&t->lock);
	if (rc != 0) {
		o->X509_STORE_CTX_set_error(
			x, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
		return 0;
	}
	return o->X509_verify_cert(x);
}

int swerve_tls_trust_prepare(struct swerve_tls_trust *t, SSL_CTX *ssl,
			     const char *ca, char *err, size_t errlen)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->ssl = ssl;
	pthread_mutex_init(&t->lock, NULL);
	if (ca != NULL && ca[0] != '\0') {
		rc = check_ca_file(ca, err, errlen);
		if (rc != 0)
			return rc;
		t->source = SWERVE_TRUST_FILE;
		t->path = strdup(ca);
		if (t->path == NULL) {
			swerve_log_reason(err, errlen, "TLS: out of memory");
			return -ENOMEM;
		}
	} else {
		system_source(t);
	}
	swerve_ossl()->SSL_CTX_set_cert_verify_callback(ssl, verify_chain, t);
	return 0;
}

void swerve_tls_trust_free(struct swerve_tls_trust *t)
{
	free(t->path);
	t->path = NULL;
	pthread_mutex_destroy(&t->lock);
}

void swerve_tls_trust_atfork_child(struct swerve_tls_trust *t)
{
	pthread_mutex_init(&t->lock, NULL);
}

bool swerve_tls_trust_loaded(struct swerve_tls_trust *t)
{
	bool loaded;

	pthread_mutex_lock(&t->lock);
	loaded = t->loaded;
	pthread_mutex_unlock(&t->lock);
	return loaded;
}
