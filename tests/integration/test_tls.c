/*
 * TLS origination (tls = simple | mutual) with real TLS servers and real
 * clients under the library: the application speaks plain HTTP (or plain
 * bytes) to mydb.com:80, and swerve's relay thread, the pump, originates
 * TLS to the endpoints (tests/helpers/tlsserve.c, certificates from
 * scripts/tls-certs.sh). What each server logs per connection (SNI, a
 * resumption, the client certificate, whether plaintext ever reached it)
 * and the shared table, read with swervectl, show what happened.
 *
 * Addresses 127.13.N.2 (east, us-east1) and 127.13.N.3 (west, us-west) on
 * port 18443, named east.mydb.test and west.mydb.test by a dnsd on
 * 127.0.0.1:15400 + N; service addresses in 127.98.0.0/16.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define PORT 18443

/* One test's world. */
struct tw {
	char east[32], west[32], east_ep[64], west_ep[64];
	char elog[300], wlog[300], certs[300];
	const char *config, *shm;
	pid_t e, w, dns;
};

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

/*
 * The world of test <net>: a dnsd naming east and west, certificates, and
 * a service mydb with endpoints given as names (resolution = dns) on port
 * 18443, tls as <tls> says, and the service lines <extra>.
 */
static void tw_config(struct tw *t, int net, const char *tls,
		      const char *extra)
{
	char zone[256], text[2048];

	memset(t, 0, sizeof(*t));
	snprintf(t->east, sizeof(t->east), "127.13.%d.2", net);
	snprintf(t->west, sizeof(t->west), "127.13.%d.3", net);
	snprintf(t->east_ep, sizeof(t->east_ep), "%s:%d", t->east, PORT);
	snprintf(t->west_ep, sizeof(t->west_ep), "%s:%d", t->west, PORT);
	snprintf(t->elog, sizeof(t->elog), "%s/east.log", t_dir());
	snprintf(t->wlog, sizeof(t->wlog), "%s/west.log", t_dir());
	certs_make(t);
	snprintf(zone, sizeof(zone),
		 "east.mydb.test 30 A %s\nwest.mydb.test 30 A %s\n", t->east,
		 t->west);
	t->dns = t_dnsd(15400 + net, t_write("zone", zone), NULL);
	cr_assert(t->dns > 0, "dnsd did not start");
	snprintf(text, sizeof(text),
		 "[swerve]\nlocality = us-east1\nvip_cidr = 127.98.0.0/16\n"
		 "log = warn\ndns_servers = 127.0.0.1:%d\n\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "resolution = dns\n"
		 "endpoint = east.mydb.test:%d locality=us-east1\n"
		 "endpoint = west.mydb.test:%d locality=us-west\n"
		 "consecutive_5xx_errors = 1\ninterval = 15s\n"
		 "base_ejection_time = 1m\nconnect_timeout = 2s\n"
		 "%s\n%s%s%s%s",
		 15400 + net, PORT, PORT, tls,
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
static pid_t tls_server(const struct tw *t, const char *addr,
			const char *cert, const char *log,
			const char *const *opts)
{
	char listen[64], crt[400], key[400];
	char *argv[20];
	int i = 0, k;

	snprintf(listen, sizeof(listen), "%s:%d", addr, PORT);
	snprintf(crt, sizeof(crt), "%s/%s.pem", t->certs, cert);
	snprintf(key, sizeof(key), "%s/%s.key", t->certs, cert);
	argv[i++] = (char *)"tlsserve";
	argv[i++] = (char *)"--listen";
	argv[i++] = listen;
	argv[i++] = (char *)"--cert";
	argv[i++] = crt;
	argv[i++] = (char *)"--key";
	argv[i++] = key;
	argv[i++] = (char *)"--log";
	argv[i++] = (char *)log;
	for (k = 0; opts != NULL && opts[k] != NULL && k < 6; k++)
		argv[i++] = (char *)opts[k];
	argv[i] = NULL;
	return t_start(argv);
}

/* east and west, each with its own certificate and the body of its name. */
static void tw_start(struct tw *t, const char *const *east_opts)
{
	const char *wopts[] = { "--name", "west", NULL };

	t->e = tls_server(t, t->east, "east", t->elog, east_opts);
	t->w = tls_server(t, t->west, "west", t->wlog, wopts);
	cr_assert(t->e > 0 && t->w > 0, "TLS servers did not start");
}

static void tw_stop(struct tw *t)
{
	if (t->e > 0)
		kill(t->e, SIGCONT);
	t_stop(t->e);
	t_stop(t->w);
	t_stop(t->dns);
	t_cleanup();
}

/* A program from PATH under the library, with the test's config. */
static void client(struct run *r, const struct tw *t, const char *const *argv)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", t->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t->shm);
	t_run(r, true, env, 30, argv);
}

/* The httpc helper with <args> (NULL-ended). */
static void httpc(struct run *r, const struct tw *t, const char *const *args)
{
	t_helper(r, t->config, t->shm, NULL, "httpc", args);
}

/* A file's text (empty when absent). */
static const char *slurp(const char *path)
{
	return t_slurp(path);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * Waits (2 s at most: a server logs a connection when it ends, just after
 * the client's end) until the log <path> has <n> lines with <needle>; the
 * count found.
 */
static int log_count(const char *path, const char *needle, int n)
{
	int i, c = 0;

	for (i = 0; i < 200; i++) {
		c = count(slurp(path), needle);
		if (c >= n)
			break;
		usleep(10000);
	}
	return c;
}

/* One GET http://mydb.com/ on a connection of its own with httpc (which
 * runs under ASan too): its output, the status. */
static const char *get(const struct tw *t, struct run *r)
{
	const char *args[] = { "mydb.com", "80", "GET:/", NULL };

	httpc(r, t, args);
	return r->out;
}

static long long field(const struct tw *t, const char *ep, const char *key)
{
	return t_endpoint_field(t->config, t->shm, ep, key);
}

Test(tls, curl_speaks_http_and_the_endpoint_gets_verified_tls_with_sni,
     .timeout = 60)
{
	const char *argv[] = { "curl", "-sS", "-m", "10", "http://mydb.com/",
			       NULL };
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	if (t_sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	tw_config(&t, 1, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "east") != NULL, "%s", r.out);
	cr_assert(strstr(slurp(t.elog), "sni=east.mydb.test") != NULL, "%s",
		  slurp(t.elog));
	cr_assert_eq(field(&t, t.east_ep, "tls_handshakes_ok"), 1);
	cr_assert_eq(field(&t, t.east_ep, "responses_2xx"), 1);
	tw_stop(&t);
}

Test(tls, a_certificate_from_another_ca_fails_over_and_gets_no_plaintext,
     .timeout = 60)
{
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 2, "tls = simple", "protocol = http\n");
	/* east shows a certificate for its name, from the wrong CA. */
	t.e = tls_server(&t, t.east, "wrong-east", t.elog, eopts);
	t.w = tls_server(&t, t.west, "west", t.wlog,
			 (const char *const[]){ "--name", "west", NULL });
	cr_assert(t.e > 0 && t.w > 0);
	get(&t, &r);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 1), 1, "%s",
		     slurp(t.wlog));
	/* The handshake failed on east, and no byte of the request, which
	 * was already waiting in the application's socket, reached it. */
	cr_assert_eq(log_count(t.elog, "handshake-failed", 1), 1, "%s",
		     slurp(t.elog));
	cr_assert_eq(count(slurp(t.elog), "requests="), 0, "%s",
		     slurp(t.elog));
	cr_assert_eq(field(&t, t.east_ep, "tls_handshakes_failed"), 1);
	cr_assert_neq(field(&t, t.east_ep, "tls_last_verify_error"), 0);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	tw_stop(&t);
}

Test(tls, mutual_tls_presents_the_client_certificate, .timeout = 60)
{
	char opts[400], mutual[900];
	struct run r;
	struct tw t;

	/* The certificates go to <test dir>/certs (certs_make). */
	snprintf(mutual, sizeof(mutual),
		 "tls = mutual\ntls_client_certificate = %s/certs/client.pem\n"
		 "tls_private_key = %s/certs/client.key", t_dir(), t_dir());
	tw_config(&t, 3, mutual, "protocol = http\n");
	snprintf(opts, sizeof(opts), "%s/ca.pem", t.certs);
	tw_start(&t, (const char *const[]){ "--name", "east", "--ca", opts,
					    NULL });
	get(&t, &r);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.elog, "requests=1", 1), 1, "%s",
		     slurp(t.elog));
	cr_assert(strstr(slurp(t.elog), "client=CN=swerve-client") != NULL ||
		  strstr(slurp(t.elog), "client=-") == NULL, "%s",
		  slurp(t.elog));
	tw_stop(&t);
}

Test(tls, a_server_that_wants_a_client_certificate_fails_over_in_simple_mode,
     .timeout = 60)
{
	char opts[400];
	struct run r;
	struct tw t;

	tw_config(&t, 4, "tls = simple", "protocol = http\n");
	snprintf(opts, sizeof(opts), "%s/ca.pem", t.certs);
	/* Under TLS 1.2 the refusal of a missing client certificate ends
	 * the handshake (under TLS 1.3 it comes after: README, Limits). */
	tw_start(&t, (const char *const[]){ "--name", "east", "--ca", opts,
					    "--tls1.2", NULL });
	get(&t, &r);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 1), 1, "%s",
		     slurp(t.wlog));
	tw_stop(&t);
}

/* Failover before the first byte: every request of a run is answered,
 * whatever is wrong with east. */
static void no_failed_requests(struct tw *t, int n)
{
	struct run r;
	int i;

	for (i = 0; i < n; i++) {
		get(t, &r);
		cr_assert_eq(r.status, 0, "request %d: %s%s", i, r.out, r.err);
		cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	}
}

Test(tls, a_refused_endpoint_costs_no_request, .timeout = 60)
{
	struct tw t;

	tw_config(&t, 5, "tls = simple", "protocol = http\n");
	t.w = tls_server(&t, t.west, "west", t.wlog,
			 (const char *const[]){ "--name", "west", NULL });
	cr_assert(t.w > 0);
	no_failed_requests(&t, 3);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	tw_stop(&t);
}

Test(tls, a_dead_tls_server_costs_no_request, .timeout = 60)
{
	const char *eopts[] = { "--name", "east", NULL };
	struct tw t;

	tw_config(&t, 6, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	no_failed_requests(&t, 2);
	cr_assert_eq(log_count(t.elog, "requests=1", 2), 2, "%s",
		     slurp(t.elog));
	kill(t.e, SIGKILL);
	t_stop(t.e);
	t.e = 0;
	no_failed_requests(&t, 3);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	tw_stop(&t);
}

Test(tls, an_endpoint_that_does_not_speak_tls_costs_no_request, .timeout = 60)
{
	struct tw t;

	tw_config(&t, 7, "tls = simple", "protocol = http\n");
	/* east speaks plain HTTP: the handshake fails. */
	t.e = t_server(t.east, PORT, "east", "ok");
	t.w = tls_server(&t, t.west, "west", t.wlog,
			 (const char *const[]){ "--name", "west", NULL });
	cr_assert(t.e > 0 && t.w > 0);
	no_failed_requests(&t, 3);
	cr_assert_eq(field(&t, t.east_ep, "tls_handshakes_failed"), 1);
	tw_stop(&t);
}

Test(tls, a_503_primary_is_ejected_after_the_streak, .timeout = 60)
{
	struct run r;
	struct tw t;

	tw_config(&t, 8, "tls = simple", "protocol = http\n");
	tw_start(&t, (const char *const[]){ "--name", "east", "--status",
					    "503", NULL });
	get(&t, &r);
	cr_assert(strstr(r.out, "503") != NULL, "%s", r.out);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	get(&t, &r);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 1), 1, "%s",
		     slurp(t.wlog));
	tw_stop(&t);
}

Test(tls, a_frozen_primary_fails_over_within_connect_timeout, .timeout = 60)
{
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 9, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	kill(t.e, SIGSTOP);
	/* The handshake never completes: after connect_timeout (2 s) the
	 * pump moves on, and the application's request is answered. */
	get(&t, &r);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 1), 1, "%s",
		     slurp(t.wlog));
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	get(&t, &r);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 2), 2, "%s",
		     slurp(t.wlog));
	cr_assert_lt(r.seconds, 1.5, "later requests should not wait");
	tw_stop(&t);
}

Test(tls, nothing_healthy_answers_503_no_healthy_upstream, .timeout = 60)
{
	struct run r;
	struct tw t;

	tw_config(&t, 10, "tls = simple", "protocol = http\n");
	get(&t, &r);
	cr_assert(strstr(r.out, "503") != NULL, "%s%s", r.out, r.err);
	tw_stop(&t);
}

Test(tls, a_tcp_service_with_nothing_healthy_is_reset, .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import socket\n"
		"s = socket.create_connection(('mydb.com', 80), timeout=10)\n"
		"s.sendall(b'ping')\n"
		"try:\n"
		"    print('read', s.recv(100))\n"
		"except ConnectionResetError:\n"
		"    print('reset')\n",
		NULL
	};
	struct run r;
	struct tw t;

	tw_config(&t, 11, "tls = simple", "");
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "reset") != NULL, "%s", r.out);
	tw_stop(&t);
}

Test(tls, a_tcp_service_relays_bytes_both_ways, .timeout = 60)
{
	const char *args[] = { "-e", "mydb.com", "80", "GET:/", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 12, "tls = simple", "");
	tw_start(&t, (const char *const[]){ "--echo", NULL });
	httpc(&r, &t, args);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	tw_stop(&t);
}

Test(tls, getpeername_answers_the_service_address_dialled, .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import socket\n"
		"a = socket.getaddrinfo('mydb.com', 80, socket.AF_INET)[0][4]\n"
		"s = socket.create_connection(a, timeout=10)\n"
		"print(a == s.getpeername(), a, s.getpeername())\n",
		NULL
	};
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 13, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strncmp(r.out, "True", 4) == 0, "%s", r.out);
	tw_stop(&t);
}

Test(tls, a_second_connection_resumes_the_session, .timeout = 60)
{
	const char *args[] = { "-n", "mydb.com", "80", "GET:/a", "GET:/b",
			       NULL };
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 14, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	httpc(&r, &t, args);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(log_count(t.elog, "resumed=1", 1), 1, "%s",
		     slurp(t.elog));
	cr_assert_eq(field(&t, t.east_ep, "tls_resumed"), 1);
	tw_stop(&t);
}

Test(tls, non_blocking_and_forked_clients_are_relayed, .timeout = 60)
{
	const char *nb[] = { "-b", "mydb.com", "80", "GET:/a", "GET:/b",
			     NULL };
	const char *fk[] = { "-f", "mydb.com", "80", "GET:/a", "GET:/b",
			     "GET:/c", NULL };
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 15, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	httpc(&r, &t, nb);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(count(r.out, "200"), 2, "%s", r.out);
	httpc(&r, &t, fk);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_eq(count(r.out, "200"), 3, "%s", r.out);
	tw_stop(&t);
}

Test(tls, above_the_cap_connect_fails_with_enobufs, .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import socket, errno\n"
		"a = socket.getaddrinfo('mydb.com', 80, socket.AF_INET)[0][4]\n"
		"k = [socket.create_connection(a, timeout=10) for i in range(2)]\n"
		"try:\n"
		"    socket.create_connection(a, timeout=10)\n"
		"    print('connected')\n"
		"except OSError as e:\n"
		"    print(errno.errorcode[e.errno])\n",
		NULL
	};
	const char *eopts[] = { "--name", "east", NULL };
	char extra[64];
	struct run r;
	struct tw t;

	tw_config(&t, 16, "tls = simple", "protocol = http\n");
	/* tls_max_connections is a [swerve] key: a config of its own. */
	snprintf(extra, sizeof(extra), "tls_max_connections = 2\n");
	{
		char text[4096], *p;

		snprintf(text, sizeof(text), "%s", slurp(t.config));
		p = strstr(text, "[swerve]\n");
		cr_assert(p != NULL);
		memmove(p + 9 + strlen(extra), p + 9, strlen(p + 9) + 1);
		memcpy(p + 9, extra, strlen(extra));
		t.config = t_write("swerve.ini", text);
	}
	tw_start(&t, eopts);
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "ENOBUFS") != NULL, "%s %s", r.out, r.err);
	tw_stop(&t);
}

Test(tls, an_ipv6_only_socket_is_relayed_too, .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import socket\n"
		"a = socket.getaddrinfo('mydb.com', 80, socket.AF_INET)[0][4][0]\n"
		"s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n"
		"s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n"
		"s.settimeout(10)\n"
		"s.connect(('::ffff:' + a, 80))\n"
		"s.sendall(b'GET / HTTP/1.1\\r\\nHost: mydb.com\\r\\n"
		"Connection: close\\r\\n\\r\\n')\n"
		"print(s.recv(1000).split(b'\\r\\n')[0].decode())\n"
		"print(s.getpeername()[0] == '::ffff:' + a)\n",
		NULL
	};
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 17, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "HTTP/1.1 200") != NULL, "%s", r.out);
	cr_assert(strstr(r.out, "True") != NULL, "%s", r.out);
	tw_stop(&t);
}

Test(tls, an_unreadable_ca_file_answers_503_with_one_line, .timeout = 60)
{
	const char *args[] = { "-n", "mydb.com", "80", "GET:/a", "GET:/b",
			       NULL };
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	/* The file keys are checked by swervectl check, not read at load:
	 * the library finds out at the first TLS connection. */
	tw_config(&t, 18, "tls = simple\ntls_ca_certificates = /nonexistent/ca.pem",
		  "protocol = http\n");
	tw_start(&t, eopts);
	httpc(&r, &t, args);
	cr_assert_eq(count(r.out, "503"), 2, "%s%s", r.out, r.err);
	cr_assert_eq(count(r.err, "cannot originate TLS"), 1, "%s", r.err);
	cr_assert(strstr(r.err, "/nonexistent/ca.pem") != NULL, "%s", r.err);
	/* Not the endpoints' fault: nothing counted against them. */
	cr_assert_eq(field(&t, t.east_ep, "connects_failed"), 0);
	cr_assert_not(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	tw_stop(&t);
}
