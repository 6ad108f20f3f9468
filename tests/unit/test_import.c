/*
 * `swervectl import`, run as a user runs it: the reference scenario's two
 * YAML pairs (conf/istio) make the committed configs byte for byte, key by
 * key, without a warning, and check clean; multi-document files, a
 * `kind: List` and stdin; fields swerve does not take become comments and
 * warnings at their file:line; bad YAML is an error at its file:line with
 * exit 1 and nothing printed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_import_support.h"

TestSuite(import, .init = imp_setup, .fini = imp_teardown, .timeout = 30);

/*
 * Imports conf/istio/<name>.yaml for us-east1, which must make
 * conf/istio/<name>.ini as committed, byte for byte, without a warning;
 * and the committed config must check clean.
 */
static void import_reference(struct imp_run *r, const char *name)
{
	static struct imp_run c;
	char args[256], rel[64];

	snprintf(args, sizeof(args), "check conf/istio/%s.ini", name);
	imp_run(&c, args, NULL);
	cr_assert_eq(c.status, 0, "conf/istio/%s.ini does not check:\n%s",
		     name, c.err);
	snprintf(args, sizeof(args),
		 "import --locality us-east1 conf/istio/%s.yaml", name);
	imp_run(r, args, NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	snprintf(rel, sizeof(rel), "conf/istio/%s.ini", name);
	cr_assert_str_eq(r->out, imp_source(rel), "%s is not what import "
			 "makes: regenerate it", rel);
	cr_assert_str_eq(r->err, "", "a warning for the reference:\n%s",
			 r->err);
}

Test(import, the_http_reference_makes_the_committed_config_key_by_key)
{
	static struct imp_run r;

	import_reference(&r, "http");
	cr_assert_str_eq(imp_section(r.out, "swerve"),
			 "locality = us-east1\n"
			 "vip_cidr = 127.77.0.0/16\n");
	cr_assert_str_eq(
		imp_section(r.out, "service external-svc-dns"),
		"hosts = mydb.com\n"
		"ports = 80\n"
		"protocol = http\n"
		"resolution = dns\n"
		"endpoint = dynamodb.us-east-1.amazonaws.com:80 "
		"locality=us-east1\n"
		"endpoint = dynamodb.us-west-1.amazonaws.com:80 "
		"locality=us-west\n"
		"consecutive_5xx_errors = 1\n"
		"interval = 15s\n"
		"base_ejection_time = 1m\n");
	imp_check_ok(&r);
}

Test(import, the_https_reference_makes_the_committed_config_key_by_key)
{
	static struct imp_run r;

	import_reference(&r, "https");
	/* targetPort 443 is the endpoints' port; no caCertificates: the
	 * system trust store, so no key. */
	cr_assert_str_eq(
		imp_section(r.out, "service external-svc-dns"),
		"hosts = mydb.com\n"
		"ports = 80\n"
		"protocol = http\n"
		"resolution = dns\n"
		"endpoint = dynamodb.us-east-1.amazonaws.com:443 "
		"locality=us-east1\n"
		"endpoint = dynamodb.us-west-1.amazonaws.com:443 "
		"locality=us-west\n"
		"tls = simple\n"
		"lb = round_robin\n"
		"failover = us-east1 -> us-west\n"
		"consecutive_5xx_errors = 1\n"
		"interval = 15s\n"
		"base_ejection_time = 1m\n");
	imp_expect(r.out, "; no caCertificates: the system trust store");
	imp_check_ok(&r);
}

Test(import, without_locality_the_swerve_section_says_to_set_it)
{
	static struct imp_run r;

	imp_run(&r, "import --vip-cidr 127.66.0.0/16 conf/istio/http.yaml",
		NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "swerve"),
			 "vip_cidr = 127.66.0.0/16\n");
	imp_expect(r.out, "; locality = REGION[/ZONE[/SUBZONE]]\n");
	imp_expect(r.err, "no --locality: set locality in [swerve]");
	imp_check_ok(&r);
}

/* A List, a document after it, an empty one, and a rule before its
 * entry: every resource is found wherever it stands. */
static const char list_yaml[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: DestinationRule\n"
	"metadata: {name: first}\n"
	"spec:\n"
	"  host: db.test\n"
	"  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 2s}}}\n"
	"---\n"
	"apiVersion: v1\n"
	"kind: List\n"
	"items:\n"
	"- apiVersion: networking.istio.io/v1alpha3\n"
	"  kind: ServiceEntry\n"
	"  metadata: {name: db}\n"
	"  spec:\n"
	"    hosts: [db.test]\n"
	"    ports: [{number: 5432, name: tcp-pg, protocol: TCP}]\n"
	"    resolution: STATIC\n"
	"    endpoints: [{address: 10.1.0.1}, {address: 10.2.0.1}]\n"
	"---\n"
	"---\n"
	"apiVersion: networking.istio.io/v1beta1\n"
	"kind: ServiceEntry\n"
	"metadata: {name: web}\n"
	"spec:\n"
	"  hosts: [web.test]\n"
	"  ports: [{number: 8080, name: http}]\n"
	"  resolution: STATIC\n"
	"  endpoints: [{address: \"::1\", locality: eu/eu-1}]\n";

Test(import, multi_document_files_and_lists_import_every_resource)
{
	static struct imp_run r;

	imp_import(&r, "", "list.yaml", list_yaml);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service db"),
			 "hosts = db.test\n"
			 "ports = 5432\n"
			 "endpoint = 10.1.0.1:5432\n"
			 "endpoint = 10.2.0.1:5432\n"
			 "connect_timeout = 2s\n");
	/* The port name http: Istio's protocol by name prefix. */
	cr_assert_str_eq(imp_section(r.out, "service web"),
			 "hosts = web.test\n"
			 "ports = 8080\n"
			 "protocol = http\n"
			 "endpoint = [::1]:8080 locality=eu/eu-1\n");
	imp_check_ok(&r);
}

Test(import, dash_reads_stdin_and_names_it_in_warnings)
{
	static struct imp_run r;
	const char *path = imp_write("in.yaml",
				     "apiVersion: networking.istio.io/v1\n"
				     "kind: ServiceEntry\n"
				     "metadata: {name: s}\n"
				     "spec:\n"
				     "  hosts: [s.test]\n"
				     "  addresses: [10.9.9.9]\n"
				     "  resolution: STATIC\n"
				     "  endpoints: [{address: 10.1.0.1}]\n");

	imp_run(&r, "import -", path);
	cr_assert_eq(r.status, 0, "%s", r.err);
	imp_expect(r.out, ";   <stdin>\n");
	imp_expect_warning(r.err, "<stdin>", 6, "ServiceEntry s: "
			   "spec.addresses is not imported");
	cr_assert_str_eq(imp_section(r.out, "service s"),
			 "hosts = s.test\n"
			 "endpoint = 10.1.0.1\n");
	imp_check_ok(&r);
}

/* Fields swerve does not take, at known lines. */
static const char unsupported_yaml[] =
	"apiVersion: networking.istio.io/v1\n"                   /* 1 */
	"kind: ServiceEntry\n"
	"metadata: {name: api, namespace: prod}\n"
	"spec:\n"
	"  hosts: [api.test]\n"                                  /* 5 */
	"  ports: [{number: 80, name: http, protocol: HTTP}]\n"
	"  resolution: DNS\n"
	"  workloadSelector: {labels: {app: api}}\n"
	"  endpoints:\n"
	"  - address: api-1.test\n"                              /* 10 */
	"    serviceAccount: api\n"
	"    colour: blue\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: DestinationRule\n"                                /* 15 */
	"metadata: {name: api}\n"
	"spec:\n"
	"  host: api.test\n"
	"  subsets: [{name: v1, labels: {version: v1}}]\n"
	"  trafficPolicy:\n"                                     /* 20 */
	"    connectionPool:\n"
	"      http: {http1MaxPendingRequests: 10}\n"
	"    loadBalancer: {consistentHash: {httpHeaderName: x}}\n"
	"    tls: {mode: ISTIO_MUTUAL}\n"
	"---\n"                                                  /* 25 */
	"apiVersion: security.istio.io/v1\n"
	"kind: PeerAuthentication\n"
	"metadata: {name: pa}\n";

/* The warning of each line of unsupported_yaml. */
static const struct {
	int line;
	const char *msg;
} warnings[] = {
	{ 8, "ServiceEntry api: spec.workloadSelector is not imported" },
	{ 11, "ServiceEntry api: spec.endpoints.serviceAccount is not "
	      "imported" },
	{ 12, "ServiceEntry api: spec.endpoints.colour is not imported: "
	      "swerve has no such setting" },
	{ 19, "DestinationRule api: spec.subsets is not imported" },
	{ 22, "DestinationRule api: spec.trafficPolicy.connectionPool.http "
	      "is not imported" },
	{ 23, "DestinationRule api: spec.trafficPolicy.loadBalancer."
	      "consistentHash is not imported" },
	{ 24, "DestinationRule api: spec.trafficPolicy.tls.mode is not "
	      "imported" },
	{ 26, "PeerAuthentication pa: not imported" },
};

Test(import, unsupported_fields_become_comments_and_warnings_at_file_line)
{
	static struct imp_run r;
	char file[512];
	size_t i;

	snprintf(file, sizeof(file), "%s",
		 imp_import(&r, "", "unsupported.yaml", unsupported_yaml));
	cr_assert_eq(r.status, 0, "%s", r.err);
	for (i = 0; i < sizeof(warnings) / sizeof(warnings[0]); i++)
		imp_expect_warning(r.err, file, warnings[i].line,
				   warnings[i].msg);
	/* Each is a comment of the output, with its value. */
	imp_expect(r.out, "; not imported: spec.subsets: [{name: v1, labels: "
			  "{version: v1}}]");
	imp_expect(r.out, "; not imported: spec.endpoints.colour: blue");
	imp_expect(r.out, "; not imported: spec.trafficPolicy.tls.mode: "
			  "ISTIO_MUTUAL");
	imp_expect(r.out, "; PeerAuthentication pa (");
	/* A field with nothing to take says so, without a warning. */
	imp_expect(r.out, "; metadata.namespace: prod: no key needed");
	cr_assert_null(strstr(r.err, "namespace"), "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service api"),
			 "hosts = api.test\n"
			 "ports = 80\n"
			 "protocol = http\n"
			 "resolution = dns\n"
			 "endpoint = api-1.test:80\n");
	imp_check_ok(&r);
}

/* Importing <yaml> (after the http reference) fails with exit 1, prints
 * nothing, and says "<file><what>" on stderr. */
static void expect_error(const char *yaml, const char *what)
{
	static struct imp_run r;
	char want[600];
	const char *file;

	file = imp_import(&r, "conf/istio/http.yaml", "bad.yaml", yaml);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.out, "");
	snprintf(want, sizeof(want), "%s%s", file, what);
	imp_expect(r.err, want);
}

Test(import, bad_yaml_is_an_error_at_file_line_and_prints_nothing)
{
	expect_error("apiVersion: networking.istio.io/v1\n"
		     "kind: ServiceEntry\n"
		     "spec:\n"
		     "  hosts: [a.test\n"
		     "  ports: 80\n",
		     ":5:8: error: bad YAML: ");
}

Test(import, a_document_that_is_no_resource_is_an_error)
{
	expect_error("---\n- just\n- a list\n", ":2: error: not a resource");
}

Test(import, no_service_entry_is_an_error)
{
	static struct imp_run r;

	imp_import(&r, "", "dr.yaml", "apiVersion: networking.istio.io/v1\n"
				      "kind: DestinationRule\n"
				      "metadata: {name: alone}\n"
				      "spec: {host: nowhere.test}\n");
	cr_assert_eq(r.status, 1);
	imp_expect(r.err, "spec.host nowhere.test is served by no "
			  "ServiceEntry imported");
	imp_expect(r.err, "import: no ServiceEntry could be imported");
}

Test(import, usage_errors_exit_2)
{
	static struct imp_run r;

	imp_run(&r, "import", NULL);
	cr_assert_eq(r.status, 2);
	imp_run(&r, "import --locality a/b/c/d conf/istio/http.yaml", NULL);
	cr_assert_eq(r.status, 2);
	imp_run(&r, "import --json conf/istio/http.yaml", NULL);
	cr_assert_eq(r.status, 2);
	imp_run(&r, "endpoints --locality us-east1", NULL);
	cr_assert_eq(r.status, 2);
	imp_run(&r, "import - -", NULL);
	cr_assert_eq(r.status, 1);
	imp_run(&r, "import no-such-file.yaml", NULL);
	cr_assert_eq(r.status, 1);
	imp_expect(r.err, "no-such-file.yaml: No such file or directory");
}

/* A name or a value that holds line breaks stays inside its comment: it
 * cannot add a section or a key to the config. */
Test(import, line_breaks_in_names_and_values_add_no_config_line)
{
	static struct imp_run r;

	imp_import(&r, "", "evil.yaml",
		   "apiVersion: networking.istio.io/v1\n"
		   "kind: ServiceEntry\n"
		   "metadata: {name: \"a\\n[service b]\\nhosts = c.test\"}\n"
		   "spec:\n"
		   "  hosts: [a.test]\n"
		   "  resolution: STATIC\n"
		   "  endpoints:\n"
		   "  - {address: 10.1.0.1, locality: \"us\\n[service d]\"}\n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_null(strstr(r.out, "\n[service b]"), "%s", r.out);
	cr_assert_null(strstr(r.out, "\n[service d]"), "%s", r.out);
	cr_assert_str_eq(imp_section(r.out,
				     "service a--service-b--hosts---c.test"),
			 "hosts = a.test\n"
			 "endpoint = 10.1.0.1\n");
	imp_check_ok(&r);
}
