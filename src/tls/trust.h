/*
 * trust: a TLS context's trust store (tls_ca_certificates, or the
 * system's), loaded only when a full handshake first verifies a
 * certificate. A resumed handshake verifies nothing, and parsing a CA
 * bundle costs milliseconds per process (docs/design.md 2.9): a process
 * whose every handshake resumes a session never parses it.
 *
 * Where the CAs come from is decided when the context is made, and a CA
 * file that cannot be opened, or holds no PEM certificate at all, is an
 * error then, as before; only the parsing waits. A file whose
 * certificates turn out unparsable at the first verification fails that
 * verification ("unable to get local issuer certificate") and says why
 * once on stderr.
 *
 * Thread-safety: the load happens once per context, under a lock of its
 * own, from whichever connection's handshake verifies first; afterwards
 * verification only reads the store (OpenSSL locks it). After fork, the
 * child calls swerve_tls_trust_atfork_child() before using the context.
 */
#ifndef SWERVE_TLS_TRUST_H
#define SWERVE_TLS_TRUST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "tls/ossl.h"

enum swerve_tls_trust_source {
	SWERVE_TRUST_FILE,     /* tls_ca_certificates */
	SWERVE_TRUST_DIR,      /* the system's hashed directory */
	SWERVE_TRUST_DEFAULT,  /* OpenSSL's default paths */
};

struct swerve_tls_trust {
	SSL_CTX *ssl;
	enum swerve_tls_trust_source source;
	char *path;             /* the file or directory; NULL: default */
	pthread_mutex_t lock;   /* the load */
	bool loaded;            /* tried: <rc> says how it went */
	int rc;
};

/*
 * Decides where the CAs of <ssl> come from (<ca>: tls_ca_certificates,
 * "" or NULL: the system's trust store) and has every verification of
 * <ssl> load them first. The file of <ca> must open and hold a PEM
 * certificate: -ENOENT, -EACCES or -EINVAL otherwise, with a reason that
 * names it. -ENOMEM.
 */
int swerve_tls_trust_prepare(struct swerve_tls_trust *t, SSL_CTX *ssl,
			     const char *ca, char *err, size_t errlen);

/* Frees what prepare kept (not the SSL_CTX). */
void swerve_tls_trust_free(struct swerve_tls_trust *t);

/* In a forked child, before the context is used again. */
void swerve_tls_trust_atfork_child(struct swerve_tls_trust *t);

/* Whether the CAs have been loaded (parsed) yet: for the tests. */
bool swerve_tls_trust_loaded(struct swerve_tls_trust *t);

#endif
