/*
 * What following HTTP costs a client in system calls: nothing per request.
 * The httpc helper makes its requests through a protocol = http service,
 * under strace, which counts the system calls that swerve makes and httpc
 * does not make per request (getpid, fstat, getsockopt): their number must
 * not grow with the requests on a keep-alive connection, and must be the
 * same as through the service as tcp when each request has a connection of
 * its own. Every such call costs more than following a response does.
 *
 * Address 127.14.7.2 on port 18387, service addresses in 127.114.0.0/16.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define PORT 18387
#define ADDR "127.14.7.2"

/* The system calls counted: swerve's own, none of them httpc's per
 * request. */
#define COUNTED "getpid,fstat,newfstatat,getsockopt"

/* A service web.test on port 80 speaking <protocol>, and a fresh table. */
static void config(const char *protocol, const char **path,
		   const char **shm)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.114.0.0/16\nlog = warn\n\n"
		 "[service web]\nhosts = web.test\nports = 80\n"
		 "endpoint = %s:%d\nprotocol = %s\n"
		 "consecutive_5xx_errors = 5\n",
		 ADDR, PORT, protocol);
	*path = t_write("web.ini", text);
	*shm = t_shm();
}

/* The lines of <text>: strace writes one per system call, httpc one per
 * response. */
static int lines(const char *text)
{
	int n = 0;

	for (; (text = strchr(text, '\n')) != NULL; text++)
		n++;
	return n;
}

/*
 * The COUNTED system calls of httpc making <reqs> GET requests (one
 * connection for all, or with <fresh> one each) through the service
 * speaking <protocol>.
 */
static int calls(const char *protocol, int reqs, bool fresh)
{
	char cv[600], sv[128], bin[512], out[512], rep[16], text[1 << 16];
	const char *env[] = { cv, sv, NULL };
	const char *argv[16] = { "strace", "-f", "-qq", "-e",
				 "trace=" COUNTED, "-o", out, bin, "-R", rep };
	const char *path, *shm;
	int i = 10;
	struct run r;
	size_t len;
	FILE *f;

	/* httpc repeats its list of requests at most 100 times. */
	snprintf(rep, sizeof(rep), "%d", reqs > 100 ? reqs / 2 : reqs);
	if (fresh)
		argv[i++] = "-n";
	argv[i++] = "web.test";
	argv[i++] = "80";
	argv[i++] = "GET:/";
	if (reqs > 100)
		argv[i++] = "GET:/";
	argv[i] = NULL;
	config(protocol, &path, &shm);
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", path);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	snprintf(bin, sizeof(bin), "%s/tests/httpc", t_build());
	snprintf(out, sizeof(out), "%s/strace.out", t_dir());
	t_run(&r, true, env, 60, argv);
	if (r.status != 0 && strstr(r.err, "ptrace") != NULL)
		cr_skip_test("strace cannot trace here: %s", r.err);
	cr_assert_eq(r.status, 0, "%s %d: %s %s", protocol, reqs, r.out,
		     r.err);
	cr_assert_eq(lines(r.out), reqs, "%s", r.out);
	f = fopen(out, "r");
	cr_assert(f != NULL);
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	return lines(text);
}

/*
 * The COUNTED system calls of two runs of calls() against one server:
 * <reqs_a> requests through the service as <proto_a>, then <reqs_b> as
 * <proto_b>, into <a> and <b>.
 */
static void two_runs(const char *proto_a, int reqs_a, const char *proto_b,
		     int reqs_b, bool fresh, int *a, int *b)
{
	pid_t srv;

	if (!t_have("strace"))
		cr_skip_test("strace is not installed");
	if (t_sanitized())
		cr_skip_test("strace under a preloaded ASan runtime");
	srv = t_httpscript(ADDR, PORT, "-", "200");
	cr_assert(srv > 0, "server did not start");
	*a = calls(proto_a, reqs_a, fresh);
	*b = calls(proto_b, reqs_b, fresh);
	t_stop(srv);
	t_cleanup();
}

Test(http_cost, a_keep_alive_request_costs_no_system_call, .timeout = 60)
{
	int few, many;

	two_runs("http", 10, "http", 200, false, &few, &many);
	/* Before: three per request (getpid in the read and the write
	 * hook, fstat per response), 570 more here. */
	cr_assert(many - few < 19, "%d system calls for 10 requests, %d for "
		  "200", few, many);
}

Test(http_cost, a_connection_per_request_costs_what_tcp_costs,
     .timeout = 60)
{
	int tcp, http;

	two_runs("tcp", 50, "http", 50, true, &tcp, &http);
	/* Before: three more per request (150). */
	cr_assert(http - tcp < 10, "%d system calls as tcp, %d as http", tcp,
		  http);
}
