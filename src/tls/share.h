/*
 * share: TLS sessions shared by every process of the user on this host,
 * through the session store (table/sessions.h), so that a short-lived
 * program resumes a session another process made (docs/design.md 2.10).
 * client.c keeps its per-process cache in front of it and falls back to
 * that cache alone when the store cannot be had or turns out damaged.
 *
 * The store is named after the health table ("<table>.tls") and attached,
 * or made, by the first connection that looks a session up. A session is
 * stored under its key (the endpoint, the SNI and the names, as the
 * per-process cache keys it), the service it belongs to, and a hash of
 * the context's verification settings (swerve_tls_share_settings());
 * looked up, it is handed out only to a context with the same settings,
 * before it expires, and when its bytes parse as a session.
 *
 * Thread-safety: any thread; the attach happens once per process, and a
 * thread that finds it under way goes without the store meanwhile.
 */
#ifndef SWERVE_TLS_SHARE_H
#define SWERVE_TLS_SHARE_H

#include <stdint.h>

#include "policy/config.h"
#include "table/sessions.h"
#include "tls/ossl.h"

/*
 * Names the health table <table> whose session store this process uses
 * ("" or NULL, or never called: none, sessions stay in the process).
 * Attaches nothing: the store is attached at its first use. Called once,
 * before any TLS context is made (init).
 */
void swerve_tls_share_table(const char *table);

/*
 * A hash of what decides whether a session of <cfg>'s contexts was
 * verified as a new one would be: the mode, tls_insecure_skip_verify, the
 * CA file (its path and its identity on disk: device, inode, size and
 * modification time) or the system's trust store (where it lies), and the
 * client certificate and key (likewise). A change of any drops the
 * sessions stored with the old settings. Needs OpenSSL loaded.
 */
uint64_t swerve_tls_share_settings(const struct swerve_tls_cfg *cfg);

/*
 * The group of sessions of an endpoint key "SERVICE/ENDPOINT": the
 * service's (swerve_sessions_group()), which swervectl reset SERVICE
 * drops. A key without '/' is a group of its own.
 */
uint64_t swerve_tls_share_group(const char *endpoint_key);

/* The session stored under <key>, parsed (owned by the caller), or NULL. */
SSL_SESSION *swerve_tls_share_get(const struct swerve_session_key *key);

/* Stores <sess> under <key>, when it fits and has not expired. */
void swerve_tls_share_put(const struct swerve_session_key *key,
			  SSL_SESSION *sess);

#endif
