/*
 * swervectl on TLS services: `check` reads every certificate, key and CA
 * file a TLS service names (the library reads them only at first use) and
 * reports each unusable one at its file:line, and warns loudly, without
 * failing, about a service that skips verification; `explain` shows the
 * TLS settings in force. The built swervectl runs on configs and PEM files
 * written into the test's private directory; no server is needed.
 *
 * The endpoint names of this file resolve through 127.0.0.1:15890, where
 * nothing listens, so that they stay unresolved without leaving the host.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

/* What check looks for: a "-----BEGIN" line, text before it allowed. */
#define PEM "Certificate:\n    Data: ...\n-----BEGIN CERTIFICATE-----\n" \
	    "MIIB\n-----END CERTIFICATE-----\n"

/* Runs swervectl -c <config> <a1> [<a2>] on a table of its own. */
static void ctl(struct run *r, const char *config, const char *a1,
		const char *a2)
{
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[] = { bin, "-c", config, a1, a2, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t_shm());
	t_run(r, false, env, 20, argv);
}

/* Writes the file <name> with <text> and returns its path in <out>. */
static void put(const char *name, const char *text, char *out, size_t len)
{
	snprintf(out, len, "%s", t_write(name, text));
}

/* Asserts that <text> holds the line "<config>:<line>: <msg>". */
static void expect_line(const char *text, const char *config, int line,
			const char *msg)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d: %s\n", config, line, msg);
	cr_assert_not_null(strstr(text, want), "no \"%s\" in:\n%s", want,
			   text);
}

/* Runs explain <name>, which must succeed; returns its stdout. */
static const char *explain(struct run *r, const char *config,
			   const char *name)
{
	ctl(r, config, "explain", name);
	cr_assert_eq(r->status, 0, "stderr: %s", r->err);
	return r->out;
}

static void expect_in(const char *text, const char *want)
{
	cr_assert_not_null(strstr(text, want), "no \"%s\" in:\n%s", want,
			   text);
}

Test(cli_tls, check_accepts_files_that_look_like_pem)
{
	static struct run r;
	char ca[512], cert[512], key[512], text[2048], config[512];

	put("ca.pem", PEM, ca, sizeof(ca));
	put("cert.pem", PEM, cert, sizeof(cert));
	put("key.pem", "-----BEGIN PRIVATE KEY-----\nMIGH\n"
	    "-----END PRIVATE KEY-----\n", key, sizeof(key));
	snprintf(text, sizeof(text),
		 "[service db]\nhosts = db.test\n"
		 "endpoint = 127.0.0.2:443\n"
		 "tls = mutual\ntls_sni = db.test\n"
		 "tls_ca_certificates = %s\n"
		 "tls_client_certificate = %s\n"
		 "tls_private_key = %s\n", ca, cert, key);
	put("swerve.ini", text, config, sizeof(config));
	ctl(&r, config, "check", NULL);
	cr_assert_eq(r.status, 0, "stderr: %s", r.err);
	cr_assert_not_null(strstr(r.out, ": ok (1 service, 1 endpoint)"),
			   "%s", r.out);
	cr_assert_null(strstr(r.err, "WARNING"), "%s", r.err);
	t_cleanup();
}

Test(cli_tls, check_reports_each_unusable_file_at_its_line)
{
	static struct run r;
	char junk[512], text[2048], config[512], want[1024];

	put("junk.pem", "not a certificate\n", junk, sizeof(junk));
	snprintf(text, sizeof(text),
		 "[service db]\n"                               /* 1 */
		 "hosts = db.test\n"
		 "endpoint = 127.0.0.2:443\n"
		 "tls = mutual\n"
		 "tls_sni = db.test\n"                          /* 5 */
		 "tls_ca_certificates = %s/missing.pem\n"
		 "tls_client_certificate = %s\n"
		 "tls_private_key = %s\n", t_dir(), junk, t_dir());
	put("swerve.ini", text, config, sizeof(config));
	ctl(&r, config, "check", NULL);
	cr_assert_eq(r.status, 1, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert_null(strstr(r.out, "ok"), "%s", r.out);
	snprintf(want, sizeof(want), "tls_ca_certificates %s/missing.pem: "
		 "No such file or directory", t_dir());
	expect_line(r.err, config, 6, want);
	snprintf(want, sizeof(want), "tls_client_certificate %s: not a PEM "
		 "file (no -----BEGIN line)", junk);
	expect_line(r.err, config, 7, want);
	snprintf(want, sizeof(want), "tls_private_key %s: not a regular file",
		 t_dir());
	expect_line(r.err, config, 8, want);
	t_cleanup();
}

/* A FIFO without a writer must not hang the check: it is no file. */
Test(cli_tls, check_refuses_a_fifo_without_waiting)
{
	static struct run r;
	char fifo[512], text[2048], config[512], want[1024];

	snprintf(fifo, sizeof(fifo), "%s/ca.fifo", t_dir());
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	snprintf(text, sizeof(text),
		 "[service db]\nhosts = db.test\n"
		 "endpoint = 127.0.0.2:443\n"
		 "tls = simple\ntls_sni = db.test\n"
		 "tls_ca_certificates = %s\n", fifo);            /* 6 */
	put("swerve.ini", text, config, sizeof(config));
	ctl(&r, config, "check", NULL);
	cr_assert_eq(r.status, 1, "stdout: %s stderr: %s", r.out, r.err);
	snprintf(want, sizeof(want), "tls_ca_certificates %s: not a regular "
		 "file", fifo);
	expect_line(r.err, config, 6, want);
	t_cleanup();
}

Test(cli_tls, check_warns_loudly_when_verification_is_skipped)
{
	static struct run r;
	char config[512];

	put("swerve.ini",
	    "[service db]\nhosts = db.test\n"
	    "endpoint = 127.0.0.2:443\n"
	    "tls = simple\n"
	    "tls_insecure_skip_verify = true\n",                /* 5 */
	    config, sizeof(config));
	ctl(&r, config, "check", NULL);
	cr_assert_eq(r.status, 0, "a warning does not fail: %s", r.err);
	cr_assert_not_null(strstr(r.out, ": ok (1 service, 1 endpoint)"),
			   "%s", r.out);
	expect_line(r.err, config, 5, "WARNING: service db does NOT verify "
		    "its endpoints' certificates (tls_insecure_skip_verify = "
		    "true): anyone who can answer for an endpoint gets its "
		    "traffic");
	t_cleanup();
}

Test(cli_tls, explain_shows_the_tls_settings_in_force)
{
	static struct run r;
	char config[512];
	const char *out;

	put("swerve.ini",
	    "[swerve]\ndns_servers = 127.0.0.1:15890\n"
	    "[service db]\n"                                    /* 3 */
	    "hosts = db.test\nports = 80\nresolution = dns\n"
	    "dns_timeout = 500ms\n"
	    "endpoint = east.db.test:443\n"
	    "endpoint = 127.0.0.2:443\n"
	    "tls = simple\n"                                    /* 10 */
	    "tls_ca_certificates = /etc/swerve/ca.pem\n"
	    "tls_subject_alt_names = db.test, 127.0.0.2\n"
	    "[service plain]\nhosts = plain.test\n"
	    "endpoint = 127.0.0.3:80\n",
	    config, sizeof(config));
	out = explain(&r, config, "db.test");
	expect_in(out,
		"tls:                simple: swerve originates TLS to the "
		"endpoints (line 10)\n"
		"tls trust:          /etc/swerve/ca.pem (tls_ca_certificates, "
		"line 11)\n"
		"tls sni:            east.db.test:443       east.db.test (the "
		"endpoint's name)\n"
		"                    127.0.0.2:443          none (an IP "
		"address)\n"
		"tls names accepted: db.test, 127.0.0.2 "
		"(tls_subject_alt_names, line 12)\n");
	cr_assert_null(strstr(out, "WARNING"), "%s", out);
	cr_assert_null(strstr(out, "client cert"), "%s", out);
	expect_in(explain(&r, config, "plain.test"), "tls:                "
		  "disable (the application's bytes go to the endpoints as "
		  "they are)\n");
	t_cleanup();
}

Test(cli_tls, explain_shows_mutual_and_skipped_verification_loudly)
{
	static struct run r;
	char config[512];

	put("swerve.ini",
	    "[service db]\nhosts = db.test\n"
	    "endpoint = 127.0.0.2:443\n"
	    "tls = mutual\n"                                    /* 4 */
	    "tls_sni = DB.internal\n"
	    "tls_client_certificate = /c/cert.pem\n"
	    "tls_private_key = /c/key.pem\n"
	    "tls_insecure_skip_verify = true\n",                /* 8 */
	    config, sizeof(config));
	expect_in(explain(&r, config, "db.test"),
		"tls:                mutual: swerve originates TLS to the "
		"endpoints (line 4)\n"
		"tls trust:          the system trust store\n"
		"tls sni:            db.internal to every endpoint (tls_sni, "
		"line 5)\n"
		"tls names accepted: any: verification is skipped\n"
		"tls client cert:    /c/cert.pem (line 6), key /c/key.pem "
		"(line 7)\n"
		"WARNING:            certificates are NOT verified "
		"(tls_insecure_skip_verify = true,\n"
		"                    line 8): anyone who can answer for an "
		"endpoint gets its traffic\n");
	t_cleanup();
}

/* explain says which requests the TLS relay sends again, and that a plain
 * http service's are never resent (a test failed before: no such line). */
Test(cli_tls, explain_shows_the_retry_policy)
{
	static struct run r;
	char config[512];

	put("swerve.ini",
	    "[service db]\nhosts = db.test\n"
	    "endpoint = 127.0.0.2:443\nprotocol = http\n"
	    "tls = simple\ntls_sni = db.test\n"
	    "[service web]\nhosts = web.test\n"
	    "endpoint = 127.0.0.2:443\nprotocol = http\n"
	    "tls = simple\ntls_sni = web.test\n"
	    "retries = 3\nretry_on = 5xx, reset\n"
	    "[service plain]\nhosts = plain.test\n"
	    "endpoint = 127.0.0.3:80\nprotocol = http\n",
	    config, sizeof(config));
	expect_in(explain(&r, config, "db.test"),
		  "retries:            2, on connect-failure, reset, "
		  "retriable-status-codes (503): idempotent requests of up to "
		  "64 KiB, on endpoints not tried for them\n");
	expect_in(explain(&r, config, "web.test"),
		  "retries:            3, on reset, 5xx: idempotent requests "
		  "of up to 64 KiB, on endpoints not tried for them\n");
	expect_in(explain(&r, config, "plain.test"),
		  "retries:            none (swerve observes the application's "
		  "own connection: it cannot resend)\n");
	t_cleanup();
}
