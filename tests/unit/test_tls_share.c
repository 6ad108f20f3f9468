/*
 * TLS sessions through the host-wide session store (src/tls/share.c) and
 * the trust store loaded at the first full handshake (src/tls/trust.c),
 * against a real TLS server (tests/helpers/tlsserve.c): a context that
 * did not make a session resumes it from the store (as another process
 * would) and never parses its CAs; other verification settings, an
 * expired session or a process without a store resume nothing; a CA file
 * that turns out unparsable fails verification, not the context. Each
 * test has its own port (test_tls_support.h) and its own store, named
 * after a table of the test's own (test_shm_support.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_shm_support.h"
#include "test_tls_support.h"
#include "tls/client.h"
#include "tls/share.h"

static void teardown(void)
{
	tls_teardown();
	unlink_names();
}

TestSuite(tls_share, .fini = teardown, .timeout = 60);

Test(tls_share, another_context_resumes_from_the_store_without_its_cas)
{
	struct swerve_tls_ctx *first, *second;

	swerve_tls_share_table(new_name());
	tls_server(18470, "east", NULL);
	first = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(swerve_tls_ctx_trust_loaded(first), "parsed too soon");
	cr_assert_not(tls_one_request(first, 18470, "db/east"));
	cr_assert(swerve_tls_ctx_trust_loaded(first));
	/* A context of its own, like another process's: its cache is empty,
	 * the store has the session. */
	second = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert(tls_one_request(second, 18470, "db/east"), "not resumed from the store");
	cr_assert(tls_one_request(second, 18470, "db/east"));
	cr_assert_not(swerve_tls_ctx_trust_loaded(second),
		      "a resumed handshake parsed the CAs");
	swerve_tls_ctx_free(first);
	swerve_tls_ctx_free(second);
}

Test(tls_share, other_settings_or_no_store_resume_nothing)
{
	struct swerve_tls_ctx *first, *skip, *again;

	swerve_tls_share_table(new_name());
	tls_server(18471, "east", NULL);
	first = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(first, 18471, "db/east"));
	/* Verification skipped is other settings. */
	skip = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), true);
	cr_assert_not(tls_one_request(skip, 18471, "db/east"));
	/* ...and it dropped the first one's: it replaced it with its own. */
	again = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(again, 18471, "db/east"));
	cr_assert_not(tls_log_has("offered=1", 1000), "a session was offered");
	swerve_tls_ctx_free(first);
	swerve_tls_ctx_free(skip);
	swerve_tls_ctx_free(again);
}

Test(tls_share, a_process_without_a_store_keeps_its_own_cache)
{
	struct swerve_tls_ctx *first, *second;

	swerve_tls_share_table("");
	tls_server(18472, "east", NULL);
	first = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(first, 18472, "db/east"));
	cr_assert(tls_one_request(first, 18472, "db/east"), "its own cache resumes");
	second = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(second, 18472, "db/east"));
	swerve_tls_ctx_free(first);
	swerve_tls_ctx_free(second);
}

Test(tls_share, an_expired_session_is_not_offered)
{
	struct swerve_tls_ctx *first, *second;

	swerve_tls_share_table(new_name());
	tls_server(18473, "east", "--ticket-lifetime", "1", NULL);
	first = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(first, 18473, "db/east"));
	sleep(2);
	second = tls_ctx(SWERVE_TLS_SIMPLE, tls_fixture("ca.pem"), false);
	cr_assert_not(tls_one_request(second, 18473, "db/east"));
	cr_assert(!tls_log_has("offered=1", 1000), "an expired one offered");
	swerve_tls_ctx_free(first);
	swerve_tls_ctx_free(second);
}

/* A CA file that looks like PEM but does not parse: the context is made
 * (nothing is parsed then), and the first verification fails. */
Test(tls_share, a_ca_file_that_does_not_parse_fails_verification)
{
	char path[] = "/tmp/swerve-tls-badca-XXXXXX", err[256] = "";
	struct swerve_tls_ctx *ctx;
	struct swerve_tls_conn *c;
	FILE *f;
	int fd, rc;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
	      "-----END CERTIFICATE-----\n", f);
	fclose(f);
	tls_server(18474, "east", NULL);
	ctx = tls_ctx(SWERVE_TLS_SIMPLE, path, false);
	rc = tls_attempt(ctx, 18474, "db/east", "east.mydb.test", tls_east, 1,
			 &c, &fd, err, sizeof(err));
	cr_assert_eq(rc, -EKEYREJECTED, "%d %s", rc, err);
	tls_done(c, fd);
	unlink(path);
	swerve_tls_ctx_free(ctx);
}
