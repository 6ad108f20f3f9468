/*
 * tls_world: the world of a TLS origination test (test_tls.c,
 * test_tls_retry.c), on the support of support.h: two real TLS servers
 * (tests/helpers/tlsserve.c), east (us-east1, the local one) and west
 * (us-west), on port TW_PORT of two loopback addresses, named
 * east.mydb.test and west.mydb.test by a dnsd; certificates from
 * scripts/tls-certs.sh; and a service mydb (hosts mydb.com, port 80) whose
 * endpoints are those names. What each server logs per connection (SNI, a
 * resumption, the client certificate, the requests and their methods,
 * whether plaintext ever reached it) and the shared table, read with
 * swervectl, show what happened. Single-threaded, like each test.
 */
#ifndef SWERVE_TEST_TLS_WORLD_H
#define SWERVE_TEST_TLS_WORLD_H

#include <sys/types.h>

#include "support.h"

#define TW_PORT 18443

/* One test's world. */
struct tw {
	char east[32], west[32], east_ep[64], west_ep[64];
	char elog[300], wlog[300], certs[300];
	const char *config, *shm;
	pid_t e, w, dns;
};

/*
 * Makes the world: east <prefix>.2 and west <prefix>.3, a dnsd on
 * 127.0.0.1:<dns_port> naming them, certificates, and the config: mydb
 * with resolution = dns, consecutive_5xx_errors = 1 (unless <extra> sets
 * it), interval 15s, base_ejection_time 1m, connect_timeout 2s, the TLS
 * lines <tls> (tls_ca_certificates is the test CA unless <tls> sets it)
 * and the service lines <extra>.
 */
void tw_config_at(struct tw *t, const char *prefix, int dns_port,
		  const char *tls, const char *extra);

/*
 * A tlsserve on <addr> with the certificate <cert> (a base name in the
 * certificate directory) and the options <opts> (NULL-ended, at most 6),
 * logging to <log>.
 */
pid_t tls_server(const struct tw *t, const char *addr, const char *cert,
		 const char *log, const char *const *opts);

/* east (with <east_opts>) and west, each with its own certificate and the
 * body of its name. */
void tw_start(struct tw *t, const char *const *east_opts);
void tw_stop(struct tw *t);

/* A program from PATH under the library, with the test's config. */
void client(struct run *r, const struct tw *t, const char *const *argv);
/* The httpc helper with <args> (NULL-ended). */
void httpc(struct run *r, const struct tw *t, const char *const *args);
/* One GET http://mydb.com/ on a connection of its own with httpc: its
 * output, the status. */
const char *get(const struct tw *t, struct run *r);

/* How often <needle> occurs in <hay>. */
int count(const char *hay, const char *needle);
/*
 * Waits (2 s at most: a server logs a connection when it ends, just after
 * the client's end) until the log <path> has <n> lines with <needle>; the
 * count found.
 */
int log_count(const char *path, const char *needle, int n);
/* swervectl's field <key> of endpoint <ep>. */
long long field(const struct tw *t, const char *ep, const char *key);

#endif
