/*
 * `swervectl import`, field by field: every outlierDetection field, the
 * load balancer and locality rules, connectTimeout, tls, the endpoints'
 * ports, labels, network and weight, DNS entries without endpoints, and a
 * VirtualService's timeout and retries. Each config made is checked with
 * `swervectl check` as well.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_import_support.h"

TestSuite(import_rules, .init = imp_setup, .fini = imp_teardown,
	  .timeout = 30);

/* A ServiceEntry db (db.test, port 5432, two static endpoints in two
 * regions) and a DestinationRule for it with <policy> (indented 4). */
static void import_policy(struct imp_run *r, const char *policy,
			  const char *file)
{
	char yaml[8192];

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: networking.istio.io/v1beta1\n"
		 "kind: ServiceEntry\n"
		 "metadata: {name: db}\n"
		 "spec:\n"
		 "  hosts: [db.test]\n"
		 "  ports: [{number: 5432, name: tcp-pg, protocol: TCP}]\n"
		 "  resolution: STATIC\n"
		 "  endpoints:\n"
		 "  - {address: 10.1.0.1, locality: us-east1/us-east1-b}\n"
		 "  - {address: 10.2.0.1, locality: us-west/us-west-a}\n"
		 "---\n"
		 "apiVersion: networking.istio.io/v1beta1\n"
		 "kind: DestinationRule\n"
		 "metadata: {name: db}\n"
		 "spec:\n"
		 "  host: db.test\n"
		 "  trafficPolicy:\n"
		 "%s",
		 policy);
	imp_import(r, "--locality us-east1", file, yaml);
	cr_assert_eq(r->status, 0, "%s", r->err);
	imp_check_ok(r);
}

/* The keys the DestinationRule added: those after the endpoints. */
static const char *rule_keys(const struct imp_run *r)
{
	const char *keys = imp_section(r->out, "service db");
	const char *p = strstr(keys, "endpoint = 10.2.0.1:5432 "
				     "locality=us-west/us-west-a\n");

	cr_assert_not_null(p, "%s", keys);
	return strchr(p, '\n') + 1;
}

Test(import_rules, every_outlier_detection_field_has_its_key)
{
	static struct imp_run r;

	import_policy(&r,
		      "    outlierDetection:\n"
		      "      consecutive5xxErrors: 3\n"
		      "      consecutiveGatewayErrors: 2\n"
		      "      splitExternalLocalOriginErrors: true\n"
		      "      consecutiveLocalOriginFailures: 4\n"
		      "      interval: 1m30s\n"
		      "      baseEjectionTime: 1.5s\n"
		      "      maxEjectionPercent: 50\n"
		      "      minHealthPercent: 20\n",
		      "od.yaml");
	cr_assert_str_eq(rule_keys(&r),
			 "consecutive_5xx_errors = 3\n"
			 "consecutive_gateway_errors = 2\n"
			 "split_external_local_origin_errors = true\n"
			 "consecutive_local_origin_failures = 4\n"
			 "interval = 90s\n"
			 "base_ejection_time = 1500ms\n"
			 "max_ejection_percent = 50\n"
			 "min_health_percent = 20\n");
	cr_assert_str_eq(r.err, "");
}

/* Istio's deprecated consecutiveErrors counts gateway errors only; a 0
 * maxEjectionPercent is ignored by Istio; a part of a millisecond is
 * rounded up. */
Test(import_rules, outlier_detection_as_istio_reads_its_odd_values)
{
	static struct imp_run r;

	import_policy(&r,
		      "    outlierDetection:\n"
		      "      consecutiveErrors: 7\n"
		      "      maxEjectionPercent: 0\n"
		      "      interval: 2500us\n",
		      "odd.yaml");
	cr_assert_str_eq(rule_keys(&r),
			 "interval = 3ms\n"
			 "consecutive_gateway_errors = 7\n"
			 "consecutive_5xx_errors = 0\n");
	imp_expect(r.out, "outlierDetection.maxEjectionPercent: 0: no key "
			  "needed");
	imp_expect(r.err, "interval: 2500us is rounded up to 3ms");
}

/* An empty block turns outlier detection on in Istio, with defaults. */
Test(import_rules, an_empty_outlier_detection_block_turns_it_on)
{
	static struct imp_run r;

	import_policy(&r, "    outlierDetection: {}\n", "empty.yaml");
	cr_assert_str_eq(rule_keys(&r), "consecutive_5xx_errors = 5\n");
}

Test(import_rules, load_balancer_locality_rules_and_connect_timeout)
{
	static struct imp_run r;

	import_policy(&r,
		      "    connectionPool: {tcp: {connectTimeout: 250ms}}\n"
		      "    loadBalancer:\n"
		      "      simple: LEAST_CONN\n"
		      "      localityLbSetting:\n"
		      "        failoverPriority: [topology.istio.io/network,"
		      " \"app=db\"]\n"
		      "        failover:\n"
		      "        - {from: us-east1, to: us-west}\n"
		      "    outlierDetection: {consecutive5xxErrors: 1}\n",
		      "lb.yaml");
	cr_assert_str_eq(rule_keys(&r),
			 "connect_timeout = 250ms\n"
			 "lb = least_request\n"
			 "failover_priority = topology.istio.io/network, "
			 "app=db\n"
			 "failover = us-east1 -> us-west\n"
			 "consecutive_5xx_errors = 1\n");
}

Test(import_rules, distribute_keeps_its_targets_in_order)
{
	static struct imp_run r;

	import_policy(&r,
		      "    loadBalancer:\n"
		      "      localityLbSetting:\n"
		      "        distribute:\n"
		      "        - from: us-east1/*\n"
		      "          to: {\"us-east1/*\": 80, \"us-west/*\": 20}\n",
		      "dist.yaml");
	cr_assert_str_eq(rule_keys(&r), "distribute = us-east1/* -> "
					"us-east1/*:80, us-west/*:20\n");
}

Test(import_rules, locality_rules_with_enabled_false_are_comments)
{
	static struct imp_run r;

	import_policy(&r,
		      "    loadBalancer:\n"
		      "      localityLbSetting:\n"
		      "        enabled: false\n"
		      "        failover: [{from: us-east1, to: us-west}]\n",
		      "off.yaml");
	cr_assert_str_eq(rule_keys(&r), "");
	imp_expect(r.err, "localityLbSetting.enabled: false is not imported");
	imp_expect(r.out, "; spec.trafficPolicy.loadBalancer.localityLbSetting."
			  "failover: [{from:\n");
}

/* IP endpoints have no name: the service's host is sent and verified. */
Test(import_rules, tls_with_files_and_ip_endpoints)
{
	static struct imp_run r;
	char policy[2048], ca[512], crt[512], key[512];

	snprintf(ca, sizeof(ca), "%s", imp_write("ca.pem", "-----BEGIN\n"));
	snprintf(crt, sizeof(crt), "%s", imp_write("c.pem", "-----BEGIN\n"));
	snprintf(key, sizeof(key), "%s", imp_write("c.key", "-----BEGIN\n"));
	snprintf(policy, sizeof(policy),
		 "    tls:\n"
		 "      mode: MUTUAL\n"
		 "      caCertificates: %s\n"
		 "      clientCertificate: %s\n"
		 "      privateKey: %s\n"
		 "      credentialName: db-secret\n",
		 ca, crt, key);
	import_policy(&r, policy, "tls.yaml");
	snprintf(policy, sizeof(policy),
		 "tls = mutual\n"
		 "tls_ca_certificates = %s\n"
		 "tls_sni = db.test\n"
		 "tls_client_certificate = %s\n"
		 "tls_private_key = %s\n",
		 ca, crt, key);
	cr_assert_str_eq(rule_keys(&r), policy);
	imp_expect(r.err, "spec.trafficPolicy.tls.credentialName is not "
			  "imported");
}

Test(import_rules, tls_sni_names_and_skipped_verification)
{
	static struct imp_run r;

	import_policy(&r,
		      "    tls:\n"
		      "      mode: SIMPLE\n"
		      "      sni: db.example.com\n"
		      "      subjectAltNames: [db.example.com, 10.1.0.1]\n"
		      "      insecureSkipVerify: true\n"
		      "      caCertificates: relative/ca.pem\n",
		      "sni.yaml");
	cr_assert_str_eq(rule_keys(&r),
			 "tls = simple\n"
			 "tls_insecure_skip_verify = true\n"
			 "tls_sni = db.example.com\n"
			 "tls_subject_alt_names = db.example.com, 10.1.0.1\n");
	imp_expect(r.err, "tls.caCertificates is not imported: swerve takes "
			  "an absolute path");
}

/* targetPort and the endpoints' own ports, labels, network, weight. */
Test(import_rules, endpoint_ports_labels_network_and_weight)
{
	static struct imp_run r;

	imp_import(&r, "", "ep.yaml",
		   "apiVersion: networking.istio.io/v1\n"
		   "kind: ServiceEntry\n"
		   "metadata: {name: web}\n"
		   "spec:\n"
		   "  hosts: [web.test, \"*.web.test\"]\n"
		   "  ports: [{number: 80, name: web, protocol: HTTP,"
		   " targetPort: 8080}]\n"
		   "  resolution: DNS\n"
		   "  endpoints:\n"
		   "  - address: 10.1.0.1\n"
		   "    ports: {web: 9090}\n"
		   "    labels: {app: web, version: v2}\n"
		   "    network: net-1\n"
		   "    weight: 3\n"
		   "  - {address: west.web.test, weight: 0}\n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service web"),
			 "hosts = web.test, *.web.test\n"
			 "ports = 80\n"
			 "protocol = http\n"
			 "resolution = dns\n"
			 "endpoint = 10.1.0.1:9090 weight=3 label.app=web "
			 "label.version=v2 "
			 "label.topology.istio.io/network=net-1\n"
			 "endpoint = west.web.test:8080\n");
	imp_expect(r.out, "spec.endpoints.weight: 0: no key needed: Istio "
			  "takes 0 as 1");
	imp_check_ok(&r);
}

/* Istio resolves each host of a DNS entry without endpoints on its own. */
Test(import_rules, dns_without_endpoints_is_a_section_per_host)
{
	static struct imp_run r;

	imp_import(&r, "", "hosts.yaml",
		   "apiVersion: networking.istio.io/v1\n"
		   "kind: ServiceEntry\n"
		   "metadata: {name: ext}\n"
		   "spec:\n"
		   "  hosts: [a.ext.test, b.ext.test, \"*.ext.test\"]\n"
		   "  ports: [{number: 443, name: tls, protocol: TLS}]\n"
		   "  resolution: DNS\n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service ext.a.ext.test"),
			 "hosts = a.ext.test\n"
			 "ports = 443\n"
			 "resolution = dns\n"
			 "endpoint = a.ext.test:443\n");
	cr_assert_str_eq(imp_section(r.out, "service ext.b.ext.test"),
			 "hosts = b.ext.test\n"
			 "ports = 443\n"
			 "resolution = dns\n"
			 "endpoint = b.ext.test:443\n");
	imp_expect(r.err, "host *.ext.test is not imported");
	imp_check_ok(&r);
}

/* A ServiceEntry web on port 80 (HTTP) with two hosts and a
 * VirtualService for both with <http> (its http routes, indented 2). */
static void import_route(struct imp_run *r, const char *http)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: ServiceEntry\n"
		 "metadata: {name: web}\n"
		 "spec:\n"
		 "  hosts: [web.test, www.web.test]\n"
		 "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
		 "  resolution: STATIC\n"
		 "  endpoints: [{address: 10.1.0.1}]\n"
		 "---\n"
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: VirtualService\n"
		 "metadata: {name: web}\n"
		 "spec:\n"
		 "  hosts: [web.test, www.web.test]\n"
		 "  http:\n"
		 "%s",
		 http);
	imp_import(r, "", "vs.yaml", yaml);
}

Test(import_rules, a_route_timeout_is_the_response_timeout)
{
	static struct imp_run r;

	import_route(&r, "  - timeout: 2.5s\n"
			 "    route: [{destination: {host: web.test}}]\n"
			 "  - match: [{uri: {prefix: /b}}]\n"
			 "    timeout: 9s\n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service web"),
			 "hosts = web.test, www.web.test\n"
			 "ports = 80\n"
			 "protocol = http\n"
			 "endpoint = 10.1.0.1:80\n"
			 "response_timeout = 2500ms\n");
	imp_expect(r.out, "; timeout 2.5s: the nearest equivalent");
	imp_expect(r.err, "spec.http is not imported: swerve has one route "
			  "per service");
	/* Both hosts are the one section's: the rule applies once. */
	cr_assert_null(strstr(r.err, "already"), "%s", r.err);
	imp_check_ok(&r);
}

/*
 * Retries: attempts, the retryOn conditions swerve has and the status
 * codes among them. The keys belong to swerve's request retries; until
 * the config knows them, the check of this config fails.
 */
Test(import_rules, route_retries_become_the_retry_keys)
{
	static struct imp_run r;

	import_route(&r, "  - retries:\n"
			 "      attempts: 3\n"
			 "      retryOn: 5xx,connect-failure,refused-stream,"
			 "503,504\n"
			 "      perTryTimeout: 1s\n");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(imp_section(r.out, "service web"),
			 "hosts = web.test, www.web.test\n"
			 "ports = 80\n"
			 "protocol = http\n"
			 "endpoint = 10.1.0.1:80\n"
			 "retries = 3\n"
			 "retry_on = 5xx, connect-failure, "
			 "retriable-status-codes\n"
			 "retriable_status_codes = 503, 504\n");
	imp_expect(r.err, "retryOn: refused-stream is not imported: swerve "
			  "retries on");
	imp_expect(r.err, "perTryTimeout is not imported");
	imp_check_ok(&r);
}
