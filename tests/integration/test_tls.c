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
#include "tls_world.h"

/*
 * The world of test <net>: a dnsd on 127.0.0.1:15400 + <net> naming east
 * 127.13.<net>.2 and west 127.13.<net>.3, certificates, and a service mydb
 * with endpoints given as names (resolution = dns) on port 18443, tls as
 * <tls> says, and the service lines <extra>.
 */
static void tw_config(struct tw *t, int net, const char *tls,
		      const char *extra)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "127.13.%d", net);
	tw_config_at(t, prefix, 15400 + net, tls, extra);
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
	/* The server logs a connection when it ends, after curl's end. */
	cr_assert_eq(log_count(t.elog, "sni=east.mydb.test", 1), 1, "%s",
		     t_read(t.elog));
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
		     t_read(t.wlog));
	/* The handshake failed on east, and no byte of the request, which
	 * was already waiting in the application's socket, reached it. */
	cr_assert_eq(log_count(t.elog, "handshake-failed", 1), 1, "%s",
		     t_read(t.elog));
	cr_assert_eq(count(t_read(t.elog), "requests="), 0, "%s",
		     t_read(t.elog));
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
		     t_read(t.elog));
	cr_assert(strstr(t_read(t.elog), "client=CN=swerve-client") != NULL ||
		  strstr(t_read(t.elog), "client=-") == NULL, "%s",
		  t_read(t.elog));
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
		     t_read(t.wlog));
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
		     t_read(t.elog));
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
	t.e = t_server(t.east, TW_PORT, "east", "ok");
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

	/* Without retries the one 503 reaches the application
	 * (test_tls_retry.c has them). */
	tw_config(&t, 8, "tls = simple", "protocol = http\nretries = 0\n");
	tw_start(&t, (const char *const[]){ "--name", "east", "--status",
					    "503", NULL });
	get(&t, &r);
	cr_assert(strstr(r.out, "503") != NULL, "%s", r.out);
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	get(&t, &r);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 1), 1, "%s",
		     t_read(t.wlog));
	tw_stop(&t);
}

Test(tls, a_frozen_primary_fails_over_within_connect_timeout, .timeout = 60)
{
	const char *eopts[] = { "--name", "east", NULL };
	double first;
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
		     t_read(t.wlog));
	cr_assert(t_endpoint_ejected(t.config, t.shm, t.east_ep));
	first = r.seconds;
	get(&t, &r);
	cr_assert(strstr(r.out, "200") != NULL, "%s", r.out);
	cr_assert_eq(log_count(t.wlog, "requests=1", 2), 2, "%s",
		     t_read(t.wlog));
	/* The first paid the 2 s connect_timeout, the second none of it:
	 * compared with each other, however slowly the clients start. */
	cr_assert_lt(r.seconds, first - 1.0, "later requests should not wait "
		     "(%.2f s, the first %.2f s)", r.seconds, first);
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
		"try:\n"
		"    s.sendall(b'ping')\n"
		"    print('read', s.recv(100))\n"
		"except ConnectionResetError:\n"
		"    print('reset')\n",
		NULL
	};
	struct run r;
	struct tw t;

	tw_config(&t, 11, "tls = simple", "");
	/* The reset may come before the write, on a loaded machine. */
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
		     t_read(t.elog));
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

		snprintf(text, sizeof(text), "%s", t_read(t.config));
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

Test(tls, a_relay_whose_descriptor_the_application_closed_stops, .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import os, socket\n"
		"a = socket.getaddrinfo('mydb.com', 80, socket.AF_INET)[0][4]\n"
		"s = socket.create_connection(a, timeout=10)\n"
		"s.close()\n"
		"for fd in range(3, 256):\n"
		"    try:\n"
		"        os.close(fd)\n"
		"    except OSError:\n"
		"        pass\n"
		"try:\n"
		"    socket.create_connection(a, timeout=10)\n"
		"    print('connected')\n"
		"except ConnectionRefusedError:\n"
		"    print('refused')\n",
		NULL
	};
	const char *eopts[] = { "--name", "east", NULL };
	struct run r;
	struct tw t;

	tw_config(&t, 19, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	client(&r, &t, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "refused") != NULL, "%s", r.out);
	cr_assert_eq(count(r.err, "closed the TLS relay's descriptor"), 1,
		     "%s", r.err);
	tw_stop(&t);
}

/*
 * An http client that shuts its write side down after its request (nc -N,
 * socat at the end of its input) still gets the answer: the half-close
 * passes through as it does on a routed connection, where the kernel
 * carries it. The endpoint is stopped once the handshake is done and
 * until the pump has had the request and the end of input for 300 ms, so
 * that the end of input always comes before the answer (before, the pump
 * closed the connection on it, and the answer was lost).
 */
Test(tls, an_http_client_that_half_closes_still_gets_its_answer,
     .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import os, socket, sys, time\n"
		"s = socket.create_connection(('mydb.com', 80), timeout=10)\n"
		"while not os.path.exists(sys.argv[1]):\n"
		"    time.sleep(0.01)\n"
		"s.sendall(b'GET / HTTP/1.1\\r\\nHost: mydb.com\\r\\n\\r\\n')\n"
		"s.shutdown(socket.SHUT_WR)\n"
		"print(s.makefile('rb').read().decode())\n",
		NULL, NULL
	};
	const char *eopts[] = { "--name", "east", NULL };
	char cv[600], sv[128], out[400], go[400];
	const char *env[] = { cv, sv, NULL };
	const char *answer;
	struct tw t;
	pid_t c;
	int i;

	tw_config(&t, 20, "tls = simple", "protocol = http\n");
	tw_start(&t, eopts);
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", t.config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t.shm);
	snprintf(out, sizeof(out), "%s/client.out", t_dir());
	snprintf(go, sizeof(go), "%s/go", t_dir());
	argv[3] = go;
	c = t_spawn(true, env, out, argv);
	cr_assert(c > 0);
	for (i = 0; i < 500 && field(&t, t.east_ep, "tls_handshakes_ok") < 1;
	     i++)
		usleep(20 * 1000);
	cr_assert_eq(field(&t, t.east_ep, "tls_handshakes_ok"), 1);
	kill(t.e, SIGSTOP);
	t_write("go", "");
	usleep(300 * 1000);
	kill(t.e, SIGCONT);
	cr_assert_eq(t_reap(c, 20), 0, "%s", t_read(out));
	answer = t_read(out);
	cr_assert(strstr(answer, "200") != NULL &&
		  strstr(answer, "east") != NULL, "answer: [%s]", answer);
	cr_assert_eq(field(&t, t.east_ep, "responses_2xx"), 1);
	tw_stop(&t);
}
