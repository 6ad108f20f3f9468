/*
 * tls_world.c: the world of a TLS origination test (test_tls.c,
 * test_tls_retry.c): real TLS servers (tests/helpers/tlsserve.c) with
 * certificates from scripts/tls-certs.sh, a dnsd naming them, a config,
 * and the clients and views the tests use. See tls_world.h.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_world.h"

/* The test certificates, made once per test in its directory. */
static void certs_make(struct tw *t)
{
	char cmd[900];
	const char *src = getenv("SWERVE_SRC");

	snprintf(t->certs, sizeof(t->certs), "%s/certs", t_dir());
	snprintf(cmd, sizeof(cmd), "%s/scripts/tls-certs.sh %s >/dev/null",
		 src != NULL ? src : ".", t->certs);
	cr_assert_eq(system(cmd), 0, "scripts/tls-certs.sh failed");
}

void tw_config_at(struct tw *t, const char *prefix, int dns_port,
		  const char *tls, const char *extra)
{
	char zone[256], text[2048];

	memset(t, 0, sizeof(*t));
	snprintf(t->east, sizeof(t->east), "%s.2", prefix);
	snprintf(t->west, sizeof(t->west), "%s.3", prefix);
	snprintf(t->east_ep, sizeof(t->east_ep), "%s:%d", t->east, TW_PORT);
	snprintf(t->west_ep, sizeof(t->west_ep), "%s:%d", t->west, TW_PORT);
	snprintf(t->elog, sizeof(t->elog), "%s/east.log", t_dir());
	snprintf(t->wlog, sizeof(t->wlog), "%s/west.log", t_dir());
	certs_make(t);
	snprintf(zone, sizeof(zone),
		 "east.mydb.test 30 A %s\nwest.mydb.test 30 A %s\n", t->east,
		 t->west);
	t->dns = t_dnsd(dns_port, t_write("zone", zone), NULL);
	cr_assert(t->dns > 0, "dnsd did not start");
	snprintf(text, sizeof(text),
		 "[swerve]\nlocality = us-east1\nvip_cidr = 127.98.0.0/16\n"
		 "log = warn\ndns_servers = 127.0.0.1:%d\n\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "resolution = dns\n"
		 "endpoint = east.mydb.test:%d locality=us-east1\n"
		 "endpoint = west.mydb.test:%d locality=us-west\n"
		 "%sinterval = 15s\n"
		 "base_ejection_time = 1m\nconnect_timeout = 2s\n"
		 "%s\n%s%s%s%s",
		 dns_port, TW_PORT, TW_PORT,
		 strstr(extra, "consecutive_5xx_errors")
			 ? ""
			 : "consecutive_5xx_errors = 1\n",
		 tls,
		 strstr(tls, "tls_ca_certificates") ? ""
						    : "tls_ca_certificates = ",
		 strstr(tls, "tls_ca_certificates") ? "" : t->certs,
		 strstr(tls, "tls_ca_certificates") ? "" : "/ca.pem\n", extra);
	t->config = t_write("swerve.ini", text);
	t->shm = t_shm();
}

/*
 * A tlsserve on <addr> with the certificate <cert> (a base name in the
 * certificate directory) and the options <opts> (NULL-ended, at most 6),
 * logging to <log>.
 */
pid_t tls_server(const struct tw *t, const char *addr,
			const char *cert, const char *log,
			const char *const *opts)
{
	char listen[64], crt[400], key[400];

	snprintf(listen, sizeof(listen), "%s:%d", addr, TW_PORT);
	snprintf(crt, sizeof(crt), "%s/%s.pem", t->certs, cert);
	snprintf(key, sizeof(key), "%s/%s.key", t->certs, cert);
	return t_tlsserve(listen, crt, key, log, opts);
}

/* east and west, each with its own certificate and the body of its name. */
void tw_start(struct tw *t, const char *const *east_opts)
{
	const char *wopts[] = { "--name", "west", NULL };

	t->e = tls_server(t, t->east, "east", t->elog, east_opts);
	t->w = tls_server(t, t->west, "west", t->wlog, wopts);
	cr_assert(t->e > 0 && t->w > 0, "TLS servers did not start");
}

void tw_stop(struct tw *t)
{
	if (t->e > 0)
		kill(t->e, SIGCONT);
	t_stop(t->e);
	t_stop(t->w);
	t_stop(t->dns);
	t_cleanup();
}

/* A program from PATH under the library, with the test's config. */
void client(struct run *r, const struct tw *t, const char *const *argv)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", t->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t->shm);
	t_run(r, true, env, 30, argv);
}

/* The httpc helper with <args> (NULL-ended). */
void httpc(struct run *r, const struct tw *t, const char *const *args)
{
	t_helper(r, t->config, t->shm, NULL, "httpc", args);
}

int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * Waits (10 s at most: a server logs a connection when it ends, just after
 * the client's end, and under TSan on a busy machine that may be long
 * after) until the log <path> has <n> lines with <needle>; the count
 * found. No caller waits it out: each asks for the count it expects.
 */
int log_count(const char *path, const char *needle, int n)
{
	int i, c = 0;

	for (i = 0; i < 1000; i++) {
		c = count(t_read(path), needle);
		if (c >= n)
			break;
		usleep(10000);
	}
	return c;
}

/* One GET http://mydb.com/ on a connection of its own with httpc (which
 * runs under ASan too): its output, the status. */
const char *get(const struct tw *t, struct run *r)
{
	const char *args[] = { "mydb.com", "80", "GET:/", NULL };

	httpc(r, t, args);
	return r->out;
}

long long field(const struct tw *t, const char *ep, const char *key)
{
	return t_endpoint_field(t->config, t->shm, ep, key);
}
