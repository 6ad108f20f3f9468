/*
 * Host-wide TLS session resumption: TLS sessions that one process under
 * the library stored in the session store beside the table ("<shm>.tls",
 * src/table/sessions.c) are resumed by the next process, so a program run
 * again and again pays one full handshake, not one per run; and they are
 * not resumed once expired, under other verification settings, after
 * swervectl reset, or from a store written over. Each process is a real
 * client (httpc) under the library; the server (tlsserve) logs per
 * connection whether the client offered a session (offered=1) and whether
 * it resumed one (resumed=1), and swervectl endpoints shows the resumed
 * share.
 *
 * One endpoint per test, 127.15.N.2:18443, given as an address with
 * tls_sni = east.mydb.test (the name its certificate carries), so no DNS
 * server is needed; service addresses in 127.97.0.0/16.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "tls_world.h"
#include "table/sessions.h"

#define PORT 18443

/* A test that fails half-way leaves neither its table nor its store. */
TestSuite(tls_sessions, .fini = t_cleanup);

/* One test's world. */
struct sw {
	char addr[32], ep[64], log[300], certs[300], store[96];
	const char *shm;
	char config[512];
	pid_t srv;
};

/* The config of <s> with the CA file <ca> (a path), written as the file
 * <file> of the test's directory, into s->config. */
static void sw_config(struct sw *s, const char *ca, const char *file)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.97.0.0/16\nlog = warn\n\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "protocol = http\nendpoint = %s\n"
		 "connect_timeout = 2s\ntls = simple\n"
		 "tls_sni = east.mydb.test\ntls_ca_certificates = %s\n",
		 s->ep, ca);
	snprintf(s->config, sizeof(s->config), "%s",
		 t_write(file, text));
}

/*
 * Test <net>'s world: certificates, a tlsserve on 127.15.<net>.2 with the
 * options <opts> (NULL-ended, at most 8), and a config that trusts the
 * test CA.
 */
static void sw_start(struct sw *s, int net, const char *const *opts)
{
	char cmd[900], listen[64], crt[400], key[400], ca[400];
	const char *src = getenv("SWERVE_SRC");

	memset(s, 0, sizeof(*s));
	snprintf(s->addr, sizeof(s->addr), "127.15.%d.2", net);
	snprintf(s->ep, sizeof(s->ep), "%s:%d", s->addr, PORT);
	snprintf(s->log, sizeof(s->log), "%s/east.log", t_dir());
	snprintf(s->certs, sizeof(s->certs), "%s/certs", t_dir());
	snprintf(cmd, sizeof(cmd), "%s/scripts/tls-certs.sh %s >/dev/null",
		 src != NULL ? src : ".", s->certs);
	cr_assert_eq(system(cmd), 0, "scripts/tls-certs.sh failed");
	s->shm = t_shm();
	cr_assert_eq(swerve_sessions_name(s->shm, s->store, sizeof(s->store)),
		     0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", s->certs);
	sw_config(s, ca, "swerve.ini");
	snprintf(listen, sizeof(listen), "%s:%d", s->addr, PORT);
	snprintf(crt, sizeof(crt), "%s/east.pem", s->certs);
	snprintf(key, sizeof(key), "%s/east.key", s->certs);
	s->srv = t_tlsserve(listen, crt, key, s->log, opts);
	cr_assert(s->srv > 0, "tlsserve did not start");
}

static void sw_stop(struct sw *s)
{
	t_stop(s->srv);
	t_cleanup();
}

/* The <n>th line (from 1) of the server's log, waited for as log_count
 * waits: the server logs a connection when it ends, just after the
 * client. */
static const char *conn_line(const struct sw *s, int n)
{
	static char line[512];
	const char *p;
	int k;

	cr_assert_geq(log_count(s->log, "\n", n), n,
		      "no connection %d in the log:\n%s", n, t_read(s->log));
	p = t_read(s->log);
	for (k = 1; k < n; k++)
		p = strchr(p, '\n') + 1;
	snprintf(line, sizeof(line), "%.*s", (int)(strchr(p, '\n') - p), p);
	return line;
}

/* One process under the library that GETs http://mydb.com/ once, with
 * the config <config>: must succeed. Its stderr. */
static const char *one_get(const struct sw *s, const char *config)
{
	static struct run r;
	const char *args[] = { "mydb.com", "80", "GET:/", NULL };

	t_helper(&r, config, s->shm, NULL, "httpc", args);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "200"), "%s", r.out);
	return r.err;
}

/* Connection <n> of the log offered and resumed as said. */
static void expect_conn(const struct sw *s, int n, bool offered,
			bool resumed)
{
	const char *line = conn_line(s, n);

	cr_assert_not_null(strstr(line, offered ? "offered=1" : "offered=0"),
			   "connection %d: %s", n, line);
	cr_assert_not_null(strstr(line, resumed ? "resumed=1" : "resumed=0"),
			   "connection %d: %s", n, line);
}

/* Runs swervectl -c <config> <args...> on the test's table: its output. */
static const char *ctl(const struct sw *s, const char *a1, const char *a2)
{
	static struct run r;
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[] = { bin, "-c", s->config, a1, a2, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", s->shm);
	t_run(&r, false, env, 20, argv);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	return r.out;
}

Test(tls_sessions, a_second_process_resumes_the_first_ones_session,
     .timeout = 60)
{
	char path[200];
	struct stat sb;
	const char *out;
	struct sw s;

	sw_start(&s, 1, NULL);
	one_get(&s, s.config);
	one_get(&s, s.config);
	expect_conn(&s, 1, false, false);
	expect_conn(&s, 2, true, true);
	cr_assert_eq(t_endpoint_field(s.config, s.shm, s.ep,
				      "tls_handshakes_ok"), 2);
	cr_assert_eq(t_endpoint_field(s.config, s.shm, s.ep, "tls_resumed"),
		     1);
	out = ctl(&s, "endpoints", NULL);
	cr_assert_not_null(strstr(out, "50%"), "the resumed share:\n%s", out);
	/* The secrets' store: the user's own, mode 0600. */
	snprintf(path, sizeof(path), "/dev/shm%s", s.store);
	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	cr_assert_eq(sb.st_uid, geteuid());
	cr_assert_eq(sb.st_mode & 0777, 0600, "%o", sb.st_mode & 0777);
	sw_stop(&s);
}

/*
 * The server's sessions last a few seconds. A process within that resumes;
 * one after it is not even offered the expired session by the store (the
 * server would refuse it anyway), and pays a full handshake.
 *
 * Session times are whole seconds (OpenSSL's, and the store's), so a
 * lifetime of L seconds may end after only L - 1: the second process must
 * start well within that. Under a sanitizer a process under the library
 * takes a second or more to start on a busy machine (CI failed on it with
 * L = 2), hence the longer lifetime there.
 */
Test(tls_sessions, expired_tickets_fall_back_to_a_full_handshake,
     .timeout = 60)
{
	int lifetime = t_sanitized() ? 10 : 4;
	char secs[16];
	const char *opts[] = { "--ticket-lifetime", secs, NULL };
	struct sw s;

	snprintf(secs, sizeof(secs), "%d", lifetime);
	sw_start(&s, 2, opts);
	one_get(&s, s.config);
	one_get(&s, s.config);
	expect_conn(&s, 2, true, true);
	/* Connection 2 was given a new session: wait out its lifetime. */
	sleep((unsigned)lifetime + 1);
	one_get(&s, s.config);
	expect_conn(&s, 3, false, false);
	sw_stop(&s);
}

/*
 * Another tls_ca_certificates (the same CA, copied elsewhere) is another
 * verification: the session verified under the first is neither offered
 * nor kept, and the first config's next process verifies afresh too.
 */
Test(tls_sessions, a_changed_ca_setting_does_not_resume, .timeout = 60)
{
	char cmd[900], other[400], first[512];
	struct sw s;

	sw_start(&s, 3, NULL);
	snprintf(other, sizeof(other), "%s/other-ca.pem", t_dir());
	snprintf(cmd, sizeof(cmd), "cp %s/ca.pem %s", s.certs, other);
	cr_assert_eq(system(cmd), 0);
	snprintf(first, sizeof(first), "%s", s.config);
	one_get(&s, first);
	one_get(&s, first);
	expect_conn(&s, 2, true, true);
	sw_config(&s, other, "other.ini");
	one_get(&s, s.config);
	expect_conn(&s, 3, false, false);
	one_get(&s, first);
	expect_conn(&s, 4, false, false);
	sw_stop(&s);
}

Test(tls_sessions, swervectl_reset_drops_the_sessions, .timeout = 60)
{
	char path[200];
	const char *out;
	struct stat sb;
	struct sw s;

	sw_start(&s, 4, NULL);
	one_get(&s, s.config);
	one_get(&s, s.config);
	expect_conn(&s, 2, true, true);
	/* The service's sessions go with a reset of the service... */
	out = ctl(&s, "reset", "mydb");
	cr_assert_not_null(strstr(out, "mydb: 1 TLS session dropped"), "%s",
			   out);
	one_get(&s, s.config);
	expect_conn(&s, 3, false, false);
	/* ...and every session, and the store, with the whole table. */
	out = ctl(&s, "reset", NULL);
	cr_assert_not_null(strstr(out, "removed session store"), "%s", out);
	snprintf(path, sizeof(path), "/dev/shm%s", s.store);
	cr_assert_neq(stat(path, &sb), 0, "%s is still there", path);
	one_get(&s, s.config);
	expect_conn(&s, 4, false, false);
	sw_stop(&s);
}

/*
 * A store written over: the slot of the session does not add up. The
 * next process says so once, pays a full handshake, and is served.
 */
Test(tls_sessions, a_damaged_store_costs_a_full_handshake_and_one_line,
     .timeout = 60)
{
	struct swerve_sessions st;
	char err[256] = "";
	const char *e;
	unsigned i;
	struct sw s;

	sw_start(&s, 5, NULL);
	one_get(&s, s.config);
	cr_assert_eq(swerve_sessions_attach(s.store, false, &st, err,
					    sizeof(err)), 0, "%s", err);
	for (i = 0; i < st.nslots; i++)
		if (st.slots[i].len > 0)
			st.slots[i].blob[st.slots[i].len / 2] ^= 0x5a;
	swerve_sessions_detach(&st);
	e = one_get(&s, s.config);
	expect_conn(&s, 2, false, false);
	cr_assert_not_null(strstr(e, "is damaged"), "%s", e);
	cr_assert_eq(strstr(strstr(e, "is damaged") + 1, "is damaged"), NULL,
		     "%s", e);
	sw_stop(&s);
}
