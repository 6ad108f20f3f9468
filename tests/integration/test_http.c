/*
 * HTTP observation (protocol = http) with real servers and real clients
 * under the library: the scripted HTTP/1.1 server (tests/helpers/
 * httpscript.c) answers with the statuses, framings and failures a test
 * asks for, and curl, python and the httpc helper (tests/helpers/httpc.c,
 * which moves its bytes with whichever call family it is told) read the
 * answers. The shared table, read with swervectl, shows what was counted:
 * the streak of each endpoint (consecutive_failures: the 5xx streak, or
 * the local-origin one in split mode) and its ejection.
 *
 * Addresses 127.11.N.2 (the primary, us-east1) and 127.11.N.3 (the
 * failover, us-west) on port 18280, service addresses in 127.97.0.0/16.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define PORT 18280

/* One test's world: addresses, config, table, the servers' log. */
struct web {
	char east[32], west[32], east_ep[48], log[300];
	const char *config, *shm;
	pid_t e, w;
};

/*
 * A service web.test on port 80 with endpoints 127.11.<net>.2 and .3, the
 * service lines <extra> (protocol, thresholds...), and a fresh table.
 */
static void web_config(struct web *w, int net, const char *extra)
{
	char text[1024];

	memset(w, 0, sizeof(*w));
	snprintf(w->east, sizeof(w->east), "127.11.%d.2", net);
	snprintf(w->west, sizeof(w->west), "127.11.%d.3", net);
	snprintf(w->east_ep, sizeof(w->east_ep), "%s:%d", w->east, PORT);
	snprintf(w->log, sizeof(w->log), "%s/east.log", t_dir());
	snprintf(text, sizeof(text),
		 "[swerve]\nlocality = us-east1\nvip_cidr = 127.97.0.0/16\n"
		 "log = warn\n\n[service web]\nhosts = web.test\nports = 80\n"
		 "endpoint = %s:%d locality=us-east1\n"
		 "endpoint = %s:%d locality=us-west\n"
		 "interval = 15s\nbase_ejection_time = 1m\n%s",
		 w->east, PORT, w->west, PORT, extra);
	w->config = t_write("web.ini", text);
	w->shm = t_shm();
}

/* The primary answers as <script> says (logged), the failover 200. */
static void web_start(struct web *w, const char *script)
{
	w->e = t_httpscript(w->east, PORT, w->log, script);
	w->w = t_httpscript(w->west, PORT, "-", "200");
	cr_assert(w->e > 0 && w->w > 0, "servers did not start");
}

static void web_stop(struct web *w)
{
	kill(w->e, SIGCONT);
	t_stop(w->e);
	t_stop(w->w);
	t_cleanup();
}

static long long streak(const struct web *w)
{
	return t_endpoint_field(w->config, w->shm, w->east_ep,
				"consecutive_failures");
}

static bool ejected(const struct web *w)
{
	return t_endpoint_ejected(w->config, w->shm, w->east_ep);
}

/* How many times <needle> occurs in <hay>. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Connections the primary accepted (its log has a line for each). */
static int connections(const struct web *w)
{
	char text[8192] = "";
	FILE *f = fopen(w->log, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return count(text, "conn\n");
}

/* The httpc helper with <args> (NULL-ended). */
static void httpc(struct run *r, const struct web *w, const char *const *args)
{
	t_helper(r, w->config, w->shm, NULL, "httpc", args);
}

/* A program from PATH under the library, with the test's config. */
static void client(struct run *r, const struct web *w, const char *const *argv)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", w->config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", w->shm);
	t_run(r, true, env, 30, argv);
}

/* One request on a connection of its own: curl, or httpc where curl
 * does not start (a preloaded ASan runtime). Its status, or -1. */
static int one_request(const struct web *w)
{
	const char *curl[] = { "curl", "-sS", "-m", "10", "-o", "/dev/null",
			       "-w", "code=%{http_code}\n",
			       "http://web.test/", NULL };
	const char *args[] = { "web.test", "80", "GET:/", NULL };
	struct run r;
	const char *p;

	if (t_sanitized())
		httpc(&r, w, args);
	else
		client(&r, w, curl);
	if (r.status != 0)
		return -1;
	p = strstr(r.out, "code=");
	return atoi(p != NULL ? p + 5 : r.out);
}

Test(http, a_503_endpoint_is_ejected_after_the_streak_one_connection_each,
     .timeout = 60)
{
	struct web w;
	int i;

	web_config(&w, 1, "protocol = http\nconsecutive_5xx_errors = 3\n");
	web_start(&w, "503");
	for (i = 1; i <= 2; i++) {
		cr_assert_eq(one_request(&w), 503);
		cr_assert_eq(streak(&w), i, "after %d responses", i);
		cr_assert_not(ejected(&w));
	}
	cr_assert_eq(one_request(&w), 503);
	cr_assert(ejected(&w), "three 503s in a row must eject");
	cr_assert_eq(connections(&w), 3);
	/* Later requests go to the failover. */
	cr_assert_eq(one_request(&w), 200);
	cr_assert_eq(connections(&w), 3);
	web_stop(&w);
}

Test(http, a_503_endpoint_is_ejected_within_one_keep_alive_connection_curl,
     .timeout = 60)
{
	const char *argv[] = { "curl", "-sS", "-m", "10", "-w",
			       "code=%{http_code}\n", "http://web.test/1",
			       "http://web.test/2", "http://web.test/3", NULL };
	struct run r;
	struct web w;

	if (t_sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	web_config(&w, 2, "protocol = http\nconsecutive_5xx_errors = 3\n");
	web_start(&w, "503");
	client(&r, &w, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(count(r.out, "code=503"), 3, "%s", r.out);
	cr_assert_eq(connections(&w), 1, "curl should reuse its connection");
	cr_assert(ejected(&w));
	cr_assert_eq(one_request(&w), 200);
	web_stop(&w);
}

Test(http, a_503_endpoint_is_ejected_within_one_keep_alive_connection_python,
     .timeout = 60)
{
	const char *argv[] = {
		"python3", "-c",
		"import http.client\n"
		"c = http.client.HTTPConnection('web.test', 80, timeout=10)\n"
		"for i in range(4):\n"
		"    c.request('GET', '/%d' % i)\n"
		"    r = c.getresponse()\n"
		"    r.read()\n"
		"    print(r.status)\n"
		"c.close()\n",
		NULL
	};
	struct run r;
	struct web w;

	web_config(&w, 3, "protocol = http\nconsecutive_5xx_errors = 4\n");
	web_start(&w, "503");
	client(&r, &w, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(count(r.out, "503"), 4, "%s", r.out);
	cr_assert_eq(connections(&w), 1);
	cr_assert(ejected(&w));
	cr_assert_eq(one_request(&w), 200);
	web_stop(&w);
}

/* The config of the frozen-endpoint tests: one timeout ejects. */
static const char frozen[] = "protocol = http\nresponse_timeout = 1s\n"
			     "consecutive_5xx_errors = 1\n";

/*
 * A primary stopped by SIGSTOP accepts (the kernel completes handshakes)
 * and never answers. A client that gives up after 2 s ejects it; every
 * later client goes straight to the failover.
 */
static void frozen_primary(int net, void (*give_up)(const struct web *))
{
	struct web w;
	int i;

	web_config(&w, net, frozen);
	web_start(&w, "200");
	kill(w.e, SIGSTOP);
	give_up(&w);
	cr_assert(ejected(&w), "the frozen primary should be ejected");
	for (i = 0; i < 3; i++)
		cr_assert_eq(one_request(&w), 200);
	cr_assert_eq(connections(&w), 0);
	web_stop(&w);
}

static void curl_gives_up(const struct web *w)
{
	const char *argv[] = { "curl", "-sS", "-m", "2", "http://web.test/",
			       NULL };
	struct run r;

	client(&r, w, argv);
	cr_assert_eq(r.status, 28, "curl should time out: %s", r.err);
}

static void python_gives_up(const struct web *w)
{
	const char *argv[] = {
		"python3", "-c",
		"import urllib.request\n"
		"try:\n"
		"    urllib.request.urlopen('http://web.test/', timeout=2)\n"
		"except Exception as e:\n"
		"    print('gave up:', e)\n",
		NULL
	};
	struct run r;

	client(&r, w, argv);
	cr_assert(strstr(r.out, "gave up") != NULL, "%s %s", r.out, r.err);
}

static void httpc_gives_up(const struct web *w)
{
	const char *args[] = { "-w", "2000", "web.test", "80", "GET:/", NULL };
	struct run r;

	httpc(&r, w, args);
	cr_assert_eq(r.status, 3, "%s %s", r.out, r.err);
}

Test(http, a_frozen_primary_is_ejected_when_curl_gives_up, .timeout = 60)
{
	if (t_sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	frozen_primary(4, curl_gives_up);
}

Test(http, a_frozen_primary_is_ejected_when_python_gives_up, .timeout = 60)
{
	frozen_primary(5, python_gives_up);
}

Test(http, a_frozen_primary_is_ejected_when_a_poll_client_gives_up,
     .timeout = 60)
{
	frozen_primary(6, httpc_gives_up);
}

/*
 * A client that closes its socket by a raw system call (libuv) and dials
 * again gets the same fd number: the abandoned request is counted then,
 * and the new connection already goes to the failover. connect(AF_UNSPEC)
 * and a new connect() on the same socket (moving to another address) also
 * count it.
 */
Test(http, an_abandoned_request_counts_when_its_fd_is_reused_or_redialled,
     .timeout = 60)
{
	static const char *const how[] = { "-r", "-u" };
	struct run r;
	struct web w;
	unsigned i;

	for (i = 0; i < 2; i++) {
		const char *args[] = { "-w", "1500", how[i], "web.test", "80",
				       "GET:/", NULL };

		web_config(&w, 7 + (int)i, frozen);
		web_start(&w, "200");
		kill(w.e, SIGSTOP);
		httpc(&r, &w, args);
		cr_assert_eq(r.status, 0, "%s: %s", how[i], r.err);
		cr_assert(strstr(r.out, "gave up\n200\n") != NULL, "%s: %s",
			  how[i], r.out);
		cr_assert(ejected(&w), "%s", how[i]);
		web_stop(&w);
	}
}

/*
 * Not every client that gives up waited response_timeout: one that gives
 * up after 1 s of a 3 s response_timeout counts nothing.
 */
Test(http, a_request_abandoned_sooner_than_response_timeout_counts_nothing,
     .timeout = 60)
{
	const char *args[] = { "-w", "1000", "web.test", "80", "GET:/", NULL };
	struct run r;
	struct web w;

	web_config(&w, 9, "protocol = http\nresponse_timeout = 3s\n"
			  "consecutive_5xx_errors = 1\n");
	web_start(&w, "200");
	kill(w.e, SIGSTOP);
	httpc(&r, &w, args);
	cr_assert_eq(r.status, 3, "%s", r.err);
	cr_assert_not(ejected(&w));
	cr_assert_eq(streak(&w), 0);
	web_stop(&w);
}

/*
 * Reads that would block are no abandonment: a non-blocking client reads
 * EAGAIN for 1.5 s (past response_timeout) until the primary wakes up and
 * answers. Nothing is counted against it.
 */
Test(http, reads_that_would_block_are_not_abandonment, .timeout = 60)
{
	char cv[600], sv[128], bin[512], out[512];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "-b", "web.test", "80", "GET:/", NULL };
	struct web w;
	pid_t c;

	web_config(&w, 10, frozen);
	web_start(&w, "200");
	snprintf(bin, sizeof(bin), "%s/tests/httpc", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", w.config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", w.shm);
	snprintf(out, sizeof(out), "%s/client.out", t_dir());
	kill(w.e, SIGSTOP);
	c = t_spawn(true, env, out, argv);
	cr_assert(c > 0);
	usleep(1500 * 1000);
	kill(w.e, SIGCONT);
	cr_assert_eq(t_reap(c, 20), 0, "the client should get its answer");
	cr_assert_not(ejected(&w));
	cr_assert_eq(streak(&w), 0);
	cr_assert_eq(connections(&w), 1);
	web_stop(&w);
}

/* Three requests on one connection, by httpc; its output in <r>. */
static void three_requests(struct run *r, const struct web *w)
{
	const char *args[] = { "web.test", "80", "GET:/1", "GET:/2", "GET:/3",
			       NULL };

	httpc(r, w, args);
}

/*
 * Only 5xx count: 404s never eject and reset the streak, and so does a
 * 200. The script's responses go out in order over the requests of
 * three connections.
 */
Test(http, statuses_other_than_5xx_never_eject_and_reset_the_streak,
     .timeout = 60)
{
	struct run r;
	struct web w;

	web_config(&w, 11, "protocol = http\nconsecutive_5xx_errors = 2\n");
	web_start(&w, "404,503,404,503,200,503,404,404,404");
	three_requests(&r, &w);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "404\n503\n404\n");
	cr_assert_eq(streak(&w), 0);
	three_requests(&r, &w);
	cr_assert_str_eq(r.out, "503\n200\n503\n");
	cr_assert_eq(streak(&w), 1, "the 200 should have reset the streak");
	cr_assert_not(ejected(&w));
	three_requests(&r, &w);
	cr_assert_eq(streak(&w), 0);
	three_requests(&r, &w);
	cr_assert_str_eq(r.out, "404\n404\n404\n");
	cr_assert_not(ejected(&w));
	web_stop(&w);
}

/*
 * Resets and ends of the stream before a response's headers count as
 * 503s (non-split mode); after a complete response that closes the
 * connection, the end counts nothing.
 */
Test(http, a_reset_or_an_end_before_the_response_counts, .timeout = 60)
{
	const char *one[] = { "web.test", "80", "GET:/", NULL };
	struct run r;
	struct web w;

	web_config(&w, 12, "protocol = http\nconsecutive_5xx_errors = 5\n");
	web_start(&w, "reset,eof,503/close,200/close,eof");
	httpc(&r, &w, one);
	cr_assert_neq(r.status, 0);
	cr_assert_eq(streak(&w), 1, "a reset");
	httpc(&r, &w, one);
	cr_assert_neq(r.status, 0);
	cr_assert_eq(streak(&w), 2, "an end of the stream");
	httpc(&r, &w, one);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(streak(&w), 3, "a 503, then the end: one failure");
	httpc(&r, &w, one);
	cr_assert_eq(streak(&w), 0);
	web_stop(&w);
}

/*
 * Split mode (split_external_local_origin_errors): a reset is a
 * local-origin failure, counted apart from the 5xx streak. The same
 * 503-then-reset ejects in non-split mode, where the reset is a 503.
 */
Test(http, split_mode_counts_local_origin_failures_apart, .timeout = 60)
{
	const char *one[] = { "web.test", "80", "GET:/", NULL };
	struct run r;
	struct web w;

	web_config(&w, 13, "protocol = http\nconsecutive_5xx_errors = 2\n"
			   "consecutive_local_origin_failures = 2\n"
			   "split_external_local_origin_errors = true\n");
	web_start(&w, "503,reset,503");
	httpc(&r, &w, one);
	cr_assert_str_eq(r.out, "503\n");
	cr_assert_eq(streak(&w), 0, "a 503 is no local-origin failure");
	httpc(&r, &w, one);
	cr_assert_eq(streak(&w), 1, "a reset is a local-origin failure");
	cr_assert_not(ejected(&w), "one 503 and one reset: two streaks");
	httpc(&r, &w, one);
	cr_assert(ejected(&w), "the second 503 completes the 5xx streak");
	web_stop(&w);

	web_config(&w, 14, "protocol = http\nconsecutive_5xx_errors = 2\n");
	web_start(&w, "503,reset,503");
	httpc(&r, &w, one);
	httpc(&r, &w, one);
	cr_assert(ejected(&w), "non-split: the reset is the second 503");
	web_stop(&w);
}

/* Today's behaviour for tcp services: a 503 is just bytes. */
Test(http, a_tcp_service_with_a_503_primary_is_not_ejected, .timeout = 60)
{
	struct run r;
	struct web w;
	int i;

	web_config(&w, 15, "consecutive_5xx_errors = 1\n");
	web_start(&w, "503");
	three_requests(&r, &w);
	cr_assert_str_eq(r.out, "503\n503\n503\n");
	for (i = 0; i < 2; i++)
		cr_assert_eq(one_request(&w), 503);
	cr_assert_not(ejected(&w));
	cr_assert_eq(streak(&w), 0);
	cr_assert_eq(t_endpoint_field(w.config, w.shm, w.east_ep,
				      "connects_ok"), 3);
	web_stop(&w);
}
