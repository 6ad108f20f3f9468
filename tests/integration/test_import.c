/*
 * Imported configs end to end: the reference scenario's YAML
 * (conf/istio/http.yaml and https.yaml) goes through `swervectl import`,
 * and the config it made, with only dns_servers added (and for TLS the
 * test CA), routes a real curl under the library: mydb.com goes to the
 * primary in this host's region (us-east1), and once the primary is
 * stopped, to us-west, with no failed request, and swervectl shows the
 * primary ejected. The endpoints keep their Istio names
 * (dynamodb.us-east-1.amazonaws.com, dynamodb.us-west-1.amazonaws.com),
 * which a dnsd of the test answers with loopback addresses, so nothing
 * leaves the host. The servers listen on the reference's own ports, 80
 * and 443 (the tests run as root).
 *
 * Addresses 127.41.N.2 (us-east-1) and 127.41.N.3 (us-west-1), dnsd on
 * 127.0.0.1:15641 + N, service addresses in 127.42.0.0/16 belong to this
 * file, one N per test.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* One test's world. */
struct iw {
	char east[32], west[32], east_ep[48];
	const char *config, *shm;
	pid_t e, w, dns;
};

/*
 * Imports conf/istio/<name>.yaml for this host (us-east1), adds the test's
 * dnsd as dns_servers and the lines <extra> at the end (the service
 * section), and checks the result.
 */
static void iw_config(struct iw *t, int net, const char *name,
		      const char *extra, int port)
{
	static struct run r;
	char bin[512], yaml[512], zone[256], text[8192], dns[64];
	const char *src = getenv("SWERVE_SRC");
	const char *at;

	memset(t, 0, sizeof(*t));
	snprintf(t->east, sizeof(t->east), "127.41.%d.2", net);
	snprintf(t->west, sizeof(t->west), "127.41.%d.3", net);
	snprintf(t->east_ep, sizeof(t->east_ep), "%s:%d", t->east, port);
	snprintf(zone, sizeof(zone),
		 "dynamodb.us-east-1.amazonaws.com 30 A %s\n"
		 "dynamodb.us-west-1.amazonaws.com 30 A %s\n", t->east,
		 t->west);
	t->dns = t_dnsd(15641 + net, t_write("zone", zone), NULL);
	cr_assert(t->dns > 0, "dnsd did not start");

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(yaml, sizeof(yaml), "%s/conf/istio/%s.yaml",
		 src != NULL ? src : ".", name);
	{
		const char *argv[] = { bin, "import", "--locality", "us-east1",
				       "--vip-cidr", "127.42.0.0/16", yaml,
				       NULL };

		t_run(&r, false, NULL, 20, argv);
	}
	cr_assert_eq(r.status, 0, "import failed: %s", r.err);
	cr_assert_str_eq(r.err, "", "import warned: %s", r.err);
	at = strstr(r.out, "[swerve]\n");
	cr_assert_not_null(at, "%s", r.out);
	at += strlen("[swerve]\n");
	snprintf(dns, sizeof(dns), "dns_servers = 127.0.0.1:%d\n",
		 15641 + net);
	snprintf(text, sizeof(text), "%.*s%s%s%s", (int)(at - r.out), r.out,
		 dns, at, extra);
	t->config = t_write("imported.ini", text);
	t->shm = t_shm();
	{
		const char *argv[] = { bin, "check", t->config, NULL };

		t_run(&r, false, NULL, 20, argv);
	}
	cr_assert_eq(r.status, 0, "the imported config does not check: %s",
		     r.err);
}

static void iw_stop(struct iw *t)
{
	t_stop(t->e);
	t_stop(t->w);
	t_stop(t->dns);
	t_cleanup();
}

/* curl http://mydb.com/ under the library; its body. */
static const char *curl(const struct iw *t)
{
	static struct run r;
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { "curl", "-sS", "-m", "10", "http://mydb.com/",
			       NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", t->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t->shm);
	t_run(&r, true, env, 30, argv);
	cr_assert_eq(r.status, 0, "curl failed (%d): %s", r.status, r.err);
	return r.out;
}

/*
 * Three requests land on the primary; the primary stops; three more land
 * on us-west, none failed; the primary shows ejected.
 */
static void primary_then_failover(struct iw *t)
{
	int i;

	for (i = 0; i < 3; i++)
		cr_assert_str_eq(curl(t), "healthy: us-east1\n");
	t_stop(t->e);
	t->e = 0;
	for (i = 0; i < 3; i++)
		cr_assert_str_eq(curl(t), "healthy: us-west\n");
	cr_assert(t_endpoint_ejected(t->config, t->shm, t->east_ep),
		  "%s is not ejected", t->east_ep);
}

Test(import_e2e, the_imported_http_reference_routes_and_fails_over,
     .timeout = 90)
{
	struct iw t;

	if (t_sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	iw_config(&t, 0, "http", "", 80);
	t.e = t_server(t.east, 80, "healthy: us-east1", "ok");
	t.w = t_server(t.west, 80, "healthy: us-west", "ok");
	cr_assert(t.e > 0 && t.w > 0, "servers did not start");
	primary_then_failover(&t);
	iw_stop(&t);
}

/*
 * A server certificate for both Istio names, signed by the test CA
 * (scripts/tls-certs.sh) in <certs>: <certs>/aws.pem and aws.key.
 */
static void aws_certificate(const char *certs)
{
	char cmd[4096];
	const char *src = getenv("SWERVE_SRC");

	snprintf(cmd, sizeof(cmd),
		 "%1$s/scripts/tls-certs.sh %2$s >/dev/null && "
		 "printf 'subjectAltName=DNS:dynamodb.us-east-1.amazonaws.com,"
		 "DNS:dynamodb.us-west-1.amazonaws.com\\n"
		 "extendedKeyUsage=serverAuth\\n' >%2$s/aws.ext && "
		 "openssl req -new -newkey ec -pkeyopt "
		 "ec_paramgen_curve:P-256 -nodes -keyout %2$s/aws.key "
		 "-subj /CN=dynamodb 2>/dev/null | "
		 "openssl x509 -req -CA %2$s/ca.pem -CAkey %2$s/ca.key "
		 "-set_serial 7 -days 30 -extfile %2$s/aws.ext "
		 "-out %2$s/aws.pem 2>/dev/null",
		 src != NULL ? src : ".", certs);
	cr_assert_eq(system(cmd), 0, "cannot make the certificate");
}

static pid_t tls_server(const char *certs, const char *addr,
			const char *name)
{
	char listen[64], crt[400], key[400];
	char *argv[] = { (char *)"tlsserve", (char *)"--listen", listen,
			 (char *)"--cert", crt, (char *)"--key", key,
			 (char *)"--name", (char *)name, NULL };

	snprintf(listen, sizeof(listen), "%s:443", addr);
	snprintf(crt, sizeof(crt), "%s/aws.pem", certs);
	snprintf(key, sizeof(key), "%s/aws.key", certs);
	return t_start(argv);
}

/* The YAML has no caCertificates: the system trust store, which knows no
 * test CA, so the run adds it, as a user would add theirs. */
Test(import_e2e, the_imported_https_reference_originates_tls_and_fails_over,
     .timeout = 90)
{
	struct iw t;
	char certs[300], ca[400];

	if (t_sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	snprintf(certs, sizeof(certs), "%s/certs", t_dir());
	aws_certificate(certs);
	snprintf(ca, sizeof(ca), "tls_ca_certificates = %s/ca.pem\n", certs);
	iw_config(&t, 1, "https", ca, 443);
	t.e = tls_server(certs, t.east, "healthy: us-east1");
	t.w = tls_server(certs, t.west, "healthy: us-west");
	cr_assert(t.e > 0 && t.w > 0, "TLS servers did not start");
	primary_then_failover(&t);
	iw_stop(&t);
}
