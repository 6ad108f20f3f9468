/*
 * Unit tests of the TLS keys (Istio's ClientTLSSettings: tls,
 * tls_ca_certificates, tls_sni, tls_subject_alt_names,
 * tls_client_certificate, tls_private_key, tls_insecure_skip_verify) and
 * [swerve] tls_max_connections: their defaults, the values stored with
 * their lines, and every error with its exact file:line message.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/config.h"
#include "test_config_support.h"

/* The header, name and endpoint of service <n> (three lines). */
#define SERVICE(n, addr) \
	"[service " n "]\nhosts = " n ".example\nendpoint = " addr "\n"

/* Asserts that "<path>:<line>: <msg>" is, exactly, an error reported. */
static void expect_exact(const struct reports *r, const char *path, int line,
			 const char *msg)
{
	char want[PATH_MAX + 600];
	char all[MAX_REPORTS * 800];
	unsigned i;

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	for (i = 0; i < r->n; i++) {
		if (r->is_error[i] && strcmp(r->msg[i], want) == 0)
			return;
	}
	dump(r, all, sizeof(all));
	cr_assert_fail("no error \"%s\" among:%s", want, all);
}

/* expect_exact() with the message made by printf from <fmt>. */
static void expect_fmt(const struct reports *r, const char *path, int line,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void expect_fmt(const struct reports *r, const char *path, int line,
		       const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	expect_exact(r, path, line, msg);
}

Test(config_tls, defaults_are_no_tls_with_empty_strings)
{
	struct swerve_config *cfg = NULL;
	const struct swerve_tls_cfg *tls;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text(SERVICE("a", "127.0.0.2:80"), path,
			       sizeof(path), &cfg, &r), 0);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(cfg->tls_max_connections, 1024);
	tls = &cfg->services[0].tls;
	cr_assert_eq(tls->mode, SWERVE_TLS_DISABLE);
	cr_assert_eq(tls->line, 0);
	cr_assert_not_null(tls->ca, "a loaded config has no NULL strings");
	cr_assert_not_null(tls->sni);
	cr_assert_not_null(tls->cert);
	cr_assert_not_null(tls->key);
	cr_assert_str_eq(tls->ca, "");
	cr_assert_str_eq(tls->sni, "");
	cr_assert_str_eq(tls->cert, "");
	cr_assert_str_eq(tls->key, "");
	cr_assert_eq(tls->nsan, 0);
	cr_assert_eq(tls->skip_verify, false);
	cr_assert_eq(tls->ca_line + tls->sni_line + tls->san_line +
		     tls->cert_line + tls->key_line + tls->skip_verify_line, 0);
	swerve_config_free(cfg);
}

Test(config_tls, reads_every_key_with_its_line)
{
	struct swerve_config *cfg = NULL;
	const struct swerve_tls_cfg *a, *b, *c;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[swerve]\n"                        /* 1 */
			       "tls_max_connections = 65536\n"
			       "[service a]\n"
			       "hosts = a.example\n"
			       "resolution = dns\n"                 /* 5 */
			       "endpoint = East.MyDB.test:443\n"
			       "tls = simple\n"
			       "tls_ca_certificates = /etc/swerve/ca.pem\n"
			       "tls_sni = DB.Example.\n"
			       "tls_subject_alt_names = Db.Example, "  /* 10 */
			       "127.0.0.9\n"
			       "tls_subject_alt_names = ::1, other.example\n"
			       "tls_insecure_skip_verify = false\n"
			       SERVICE("b", "127.0.0.2:443")        /* 13 */
			       "tls = mutual\n"                     /* 16 */
			       "tls_client_certificate = /c/cert.pem\n"
			       "tls_private_key = /c/key.pem\n"
			       "tls_insecure_skip_verify = true\n"
			       SERVICE("c", "127.0.0.3:443")        /* 20 */
			       "tls = disable\n",                   /* 23 */
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert_eq(r.n, 0);
	cr_assert_eq(cfg->tls_max_connections, 65536);
	a = &find_service(cfg, "a")->tls;
	cr_assert_eq(a->mode, SWERVE_TLS_SIMPLE);
	cr_assert_eq(a->line, 7);
	cr_assert_str_eq(a->ca, "/etc/swerve/ca.pem");
	cr_assert_eq(a->ca_line, 8);
	cr_assert_str_eq(a->sni, "db.example", "lower case, no trailing dot");
	cr_assert_eq(a->sni_line, 9);
	cr_assert_eq(a->nsan, 4, "repeated keys add up");
	cr_assert_str_eq(a->san[0], "db.example");
	cr_assert_str_eq(a->san[1], "127.0.0.9");
	cr_assert_str_eq(a->san[2], "::1");
	cr_assert_str_eq(a->san[3], "other.example");
	cr_assert_eq(a->san_line, 10, "the first line");
	cr_assert_eq(a->skip_verify, false);
	cr_assert_eq(a->skip_verify_line, 12);
	cr_assert_str_eq(a->cert, "");
	b = &find_service(cfg, "b")->tls;
	cr_assert_eq(b->mode, SWERVE_TLS_MUTUAL);
	cr_assert_eq(b->line, 16);
	cr_assert_str_eq(b->cert, "/c/cert.pem");
	cr_assert_eq(b->cert_line, 17);
	cr_assert_str_eq(b->key, "/c/key.pem");
	cr_assert_eq(b->key_line, 18);
	cr_assert_eq(b->skip_verify, true);
	cr_assert_eq(b->skip_verify_line, 19);
	cr_assert_str_eq(b->ca, "", "the system trust store");
	cr_assert_str_eq(b->sni, "");
	c = &find_service(cfg, "c")->tls;
	cr_assert_eq(c->mode, SWERVE_TLS_DISABLE);
	cr_assert_eq(c->line, 23);
	swerve_config_free(cfg);
}

Test(config_tls, names_each_mode)
{
	cr_assert_str_eq(swerve_config_tls_mode_name(SWERVE_TLS_DISABLE),
			 "disable");
	cr_assert_str_eq(swerve_config_tls_mode_name(SWERVE_TLS_SIMPLE),
			 "simple");
	cr_assert_str_eq(swerve_config_tls_mode_name(SWERVE_TLS_MUTUAL),
			 "mutual");
	cr_assert_str_eq(swerve_config_tls_mode_name((enum swerve_tls_mode)3),
			 "?");
}

Test(config_tls, tls_max_connections_is_1_to_65536_in_swerve_only)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	cr_assert_eq(load_text("[swerve]\ntls_max_connections = 1\n"
			       SERVICE("a", "127.0.0.2:80"), path,
			       sizeof(path), &cfg, &r), 0);
	cr_assert_eq(cfg->tls_max_connections, 1);
	swerve_config_free(cfg);
	load_bad("[swerve]\n"
		 "tls_max_connections = 0\n"
		 "tls_max_connections = 65537\n"
		 "[defaults]\n"
		 "tls_max_connections = 1\n"
		 SERVICE("a", "127.0.0.2:80")
		 "tls_max_connections = 1\n", path, &r, 4);
	expect_exact(&r, path, 2, "tls_max_connections must be a whole "
		     "number from 1 to 65536, not '0'");
	expect_exact(&r, path, 3, "tls_max_connections is given twice in "
		     "[swerve] (first at line 2)");
	expect_exact(&r, path, 5, "key 'tls_max_connections' belongs in "
		     "[swerve], not [defaults]");
	expect_exact(&r, path, 9, "key 'tls_max_connections' belongs in "
		     "[swerve], not [service a]");
	load_bad("[swerve]\ntls_max_connections = 65537\n"
		 SERVICE("a", "127.0.0.2:80"), path, &r, 1);
	expect_exact(&r, path, 2, "tls_max_connections must be a whole "
		     "number from 1 to 65536, not '65537'");
}

#define SNI_IP "tls_sni '%s' is an IP address, and SNI names hosts only " \
	"(RFC 6066): to accept a certificate for this address, list it in " \
	"tls_subject_alt_names"
#define ABSOLUTE "%s '%s' must be an absolute path: programs read it " \
		 "from their own working directories"

Test(config_tls, reports_bad_values_with_file_and_line)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad(SERVICE("a", "a.example:443")                  /* 1 */
		 "resolution = dns\n"                           /* 4 */
		 "tls = SIMPLE\n"
		 "tls = istio_mutual\n"
		 "tls = simple\n"
		 "tls = mutual\n"
		 "tls_ca_certificates = ca.pem\n"               /* 9 */
		 "tls_client_certificate = ./c.pem\n"
		 "tls_private_key = ~/k.pem\n"
		 "tls_sni = 10.1.2.3\n"
		 "tls_sni = ::1\n"
		 "tls_sni = *.a.example\n"
		 "tls_sni = a..example\n"                       /* 15 */
		 "tls_sni = a.example\n"
		 "tls_sni = b.example\n"
		 "tls_insecure_skip_verify = yes\n"
		 "tls_insecure_skip_verify = false\n"
		 "tls_insecure_skip_verify = true\n"            /* 20 */
		 "tls_ca_certificates = /ca.pem\n"
		 "tls_ca_certificates = /ca2.pem\n",
		 path, &r, 14);
	expect_exact(&r, path, 5, "tls must be disable, simple or mutual, "
		     "not 'SIMPLE'");
	expect_exact(&r, path, 6, "tls must be disable, simple or mutual, "
		     "not 'istio_mutual'");
	expect_exact(&r, path, 8, "tls is given twice in [service a] (first "
		     "at line 7)");
	expect_fmt(&r, path, 9, ABSOLUTE, "tls_ca_certificates", "ca.pem");
	expect_fmt(&r, path, 10, ABSOLUTE, "tls_client_certificate",
		   "./c.pem");
	expect_fmt(&r, path, 11, ABSOLUTE, "tls_private_key", "~/k.pem");
	expect_fmt(&r, path, 12, SNI_IP, "10.1.2.3");
	expect_fmt(&r, path, 13, SNI_IP, "::1");
	expect_exact(&r, path, 14, "tls_sni '*.a.example' is not a host name "
		     "(letters, digits, '-', '_' and dots)");
	expect_exact(&r, path, 15, "tls_sni 'a..example' is not a host name "
		     "(letters, digits, '-', '_' and dots)");
	expect_exact(&r, path, 17, "tls_sni is given twice in [service a] "
		     "(first at line 16)");
	expect_exact(&r, path, 18, "tls_insecure_skip_verify must be true or "
		     "false, not 'yes'");
	expect_exact(&r, path, 20, "tls_insecure_skip_verify is given twice "
		     "in [service a] (first at line 19)");
	expect_exact(&r, path, 22, "tls_ca_certificates is given twice in "
		     "[service a] (first at line 21)");
}

Test(config_tls, subject_alt_names_are_names_or_addresses_at_most_16)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad(SERVICE("a", "a.example:443")                  /* 1 */
		 "resolution = dns\n"                           /* 4 */
		 "tls = simple\n"
		 "tls_subject_alt_names = a.example, , spiffe://x/y\n"
		 "tls_subject_alt_names = *.a.example, [::1], A.Example\n"
		 "tls_subject_alt_names = n1, n2, n3, n4, n5, n6, n7, n8\n"
		 "tls_subject_alt_names = n9, n10, n11, n12, n13, n14, "
		 "n15, n16\n",                                  /* 9 */
		 path, &r, 6);
	expect_exact(&r, path, 6, "empty name in tls_subject_alt_names");
	expect_exact(&r, path, 6, "tls_subject_alt_names: 'spiffe://x/y' is "
		     "not a host name or an IP address");
	expect_exact(&r, path, 7, "tls_subject_alt_names: '*.a.example' is "
		     "not a host name or an IP address");
	expect_exact(&r, path, 7, "tls_subject_alt_names: '[::1]' is not a "
		     "host name or an IP address");
	expect_exact(&r, path, 7, "tls_subject_alt_names lists a.example "
		     "twice in [service a]");
	/* a.example and n1..n15 make 16: n16 is one too many */
	expect_exact(&r, path, 9, "[service a] has more than 16 "
		     "tls_subject_alt_names");
}

/* Settings that would do nothing are refused, so none looks like a guard. */
Test(config_tls, tls_keys_without_tls_are_errors)
{
	static const char *const keys[] = {
		"tls_ca_certificates", "tls_sni", "tls_subject_alt_names",
		"tls_client_certificate", "tls_private_key",
		"tls_insecure_skip_verify",
	};
	struct reports r;
	char path[PATH_MAX];
	size_t i;

	load_bad(SERVICE("a", "127.0.0.2:443")                  /* 1 */
		 "tls_ca_certificates = /ca.pem\n"              /* 4 */
		 "tls_sni = a.example\n"
		 "tls_subject_alt_names = a.example\n"
		 "tls_client_certificate = /c.pem\n"
		 "tls_private_key = /k.pem\n"
		 "tls_insecure_skip_verify = true\n"            /* 9 */
		 SERVICE("b", "127.0.0.3:443")                  /* 10 */
		 "tls = disable\n"
		 "tls_sni = b.example\n",                       /* 14 */
		 path, &r, 7);
	for (i = 0; i < SWERVE_ARRAY_LEN(keys); i++)
		expect_fmt(&r, path, 4 + (int)i, "%s does nothing in [service "
			   "a] without tls = simple or mutual", keys[i]);
	expect_exact(&r, path, 14, "tls_sni does nothing in [service b] "
		     "without tls = simple or mutual");
}

Test(config_tls, tls_keys_are_per_service)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad("[swerve]\n"
		 "tls = simple\n"
		 "[defaults]\n"
		 "tls_sni = a.example\n"
		 SERVICE("a", "127.0.0.2:80"), path, &r, 2);
	expect_exact(&r, path, 2, "key 'tls' belongs in a [service NAME] "
		     "section, not [swerve]");
	expect_exact(&r, path, 4, "key 'tls_sni' belongs in a [service NAME] "
		     "section, not [defaults]");
}

Test(config_tls, mutual_needs_certificate_and_key_and_simple_takes_none)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad(SERVICE("a", "127.0.0.2:443")                  /* 1 */
		 "tls = mutual\n"                               /* 4 */
		 "tls_sni = a.example\n"
		 SERVICE("b", "127.0.0.3:443")                  /* 6 */
		 "tls = mutual\n"                               /* 9 */
		 "tls_sni = b.example\n"
		 "tls_client_certificate = /b.pem\n"
		 SERVICE("c", "127.0.0.4:443")                  /* 12 */
		 "tls = mutual\n"                               /* 15 */
		 "tls_sni = c.example\n"
		 "tls_private_key = /c.key\n"
		 SERVICE("d", "127.0.0.5:443")                  /* 18 */
		 "tls = simple\n"                               /* 21 */
		 "tls_sni = d.example\n"
		 "tls_client_certificate = /d.pem\n"
		 "tls_private_key = /d.key\n",                  /* 24 */
		 path, &r, 5);
	expect_exact(&r, path, 4, "tls = mutual in [service a] needs "
		     "tls_client_certificate and tls_private_key");
	expect_exact(&r, path, 9, "tls = mutual in [service b] needs "
		     "tls_private_key");
	expect_exact(&r, path, 15, "tls = mutual in [service c] needs "
		     "tls_client_certificate");
	expect_exact(&r, path, 23, "tls_client_certificate is for tls = "
		     "mutual, but [service d] has tls = simple");
	expect_exact(&r, path, 24, "tls_private_key is for tls = mutual, but "
		     "[service d] has tls = simple");
}

/*
 * The issue: "An IP-literal endpoint with no tls_sni or
 * tls_subject_alt_names is a config error, unless verification is
 * explicitly skipped." Name endpoints have their own name.
 */
#define NO_NAME "endpoint %s is an IP address, so tls = %s in [service %s] " \
		"has no name to verify its certificate by: set tls_sni or " \
		"tls_subject_alt_names (or tls_insecure_skip_verify = true)"

Test(config_tls, an_ip_endpoint_needs_a_name_to_verify)
{
	struct swerve_config *cfg = NULL;
	struct reports r;
	char path[PATH_MAX];

	load_bad("[service a]\n"
		 "hosts = a.example\n"
		 "resolution = dns\n"
		 "endpoint = east.a.example:443\n"
		 "endpoint = 127.0.0.2:443\n"                   /* 5 */
		 "endpoint = [::1]:443\n"
		 "tls = simple\n"
		 SERVICE("b", "127.0.0.3:443")                  /* 8 */
		 "tls = mutual\n"
		 "tls_client_certificate = /b.pem\n"
		 "tls_private_key = /b.key\n",
		 path, &r, 3);
	expect_fmt(&r, path, 5, NO_NAME, "127.0.0.2:443", "simple", "a");
	expect_fmt(&r, path, 6, NO_NAME, "[::1]:443", "simple", "a");
	expect_fmt(&r, path, 10, NO_NAME, "127.0.0.3:443", "mutual", "b");
	/* Each way out: a SNI, names to accept, or skipping on purpose. */
	cr_assert_eq(load_text(SERVICE("a", "127.0.0.2:443")
			       "tls = simple\ntls_sni = a.example\n"
			       SERVICE("b", "127.0.0.3:443")
			       "tls = simple\n"
			       "tls_subject_alt_names = 127.0.0.3\n"
			       SERVICE("c", "127.0.0.4:443")
			       "tls = simple\n"
			       "tls_insecure_skip_verify = true\n"
			       "[service d]\nhosts = d.example\n"
			       "resolution = dns\n"
			       "endpoint = d.example:443\ntls = simple\n",
			       path, sizeof(path), &cfg, &r), 0);
	cr_assert_eq(r.n, 0);
	swerve_config_free(cfg);
}

/* Keys of a section that cannot be opened are still checked. */
Test(config_tls, keys_of_a_bad_section_are_still_checked)
{
	struct reports r;
	char path[PATH_MAX];

	load_bad("[service bad name!]\n"
		 "tls = maybe\n"
		 "tls_sni = 10.0.0.1\n"
		 SERVICE("a", "127.0.0.2:80"), path, &r, 3);
	expect_exact(&r, path, 2, "tls must be disable, simple or mutual, "
		     "not 'maybe'");
	expect_fmt(&r, path, 3, SNI_IP, "10.0.0.1");
}
