/*
 * HTTP observation, response by response: framings that a tracker must
 * follow to count each response once (HEAD, chunked, 204, 304, interim
 * 1xx, pipelining, Connection: close), every call family a client can read
 * and write with (the hooks), two threads on one socket, a forked child on
 * an inherited one, a byte stream that is not HTTP, and bytes that swerve
 * cannot see. The scripted server answers mostly 503s and the threshold is
 * out of reach, so the primary's 5xx streak (consecutive_failures) counts
 * exactly the 503s seen since the last other status.
 *
 * Addresses 127.11.N.2 on port 18281, N from 40 up, service addresses in
 * 127.97.0.0/16.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define PORT 18281

/*
 * A server that answers as <script>, and one httpc run against it. Text
 * in arrays, not pointers: Criterion hands each case to a test process of
 * its own, where the runner's pointers mean nothing.
 */
struct exchange {
	int net;                  /* the server is 127.11.<net>.2 */
	char name[64];
	char script[48];
	char args[12][16];        /* httpc's options and requests */
	char out[160];            /* what httpc must print */
	long long streak;         /* the primary's 5xx streak after it */
	int tries;                /* runs allowed to reach it (0: one) */
};

/*
 * Runs <x> with a table of its own and <env0> (may be NULL) in httpc's
 * environment; returns the streak and leaves httpc's run in <r>.
 */
static long long run_exchange(struct run *r, const struct exchange *x,
			      const char *env0)
{
	const char *env[] = { env0, NULL };
	const char *args[16];
	char addr[32], ep[48], text[512];
	const char *config, *shm = t_shm();
	long long n;
	unsigned i, k = 0;
	pid_t e;

	snprintf(addr, sizeof(addr), "127.11.%d.2", x->net);
	snprintf(ep, sizeof(ep), "%s:%d", addr, PORT);
	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.97.0.0/16\nlog = warn\n"
		 "[service web]\nhosts = web.test\nports = 80\n"
		 "protocol = http\nendpoint = %s:%d\n"
		 "consecutive_5xx_errors = 1000\n", addr, PORT);
	config = t_write("web.ini", text);
	e = t_httpscript(addr, PORT, "-", x->script);
	cr_assert(e > 0, "%s: the server did not start", x->name);
	for (i = 0; i < 12 && x->args[i][0] != '\0' && x->args[i][0] != '/';
	     i++)
		args[k++] = x->args[i];
	args[k++] = "web.test";
	args[k++] = "80";
	for (; i < 12 && x->args[i][0] != '\0'; i++)
		args[k++] = x->args[i] + 1; /* "/GET:/a" is request GET:/a */
	args[k] = NULL;
	t_helper(r, config, shm, env0 != NULL ? env : NULL, "httpc", args);
	n = t_endpoint_field(config, shm, ep, "consecutive_failures");
	t_stop(e);
	return n;
}

/*
 * Requests are written "/METHOD:TARGET" in args (after httpc's options).
 * Each case ends in 503s whose count the streak must equal: a response
 * framed wrong swallows or invents the next, and the tracker then gives up
 * (fewer) or counts a body as a response.
 */
static struct exchange framings[] = {
	{ 40, "HEAD: a Content-Length and no body", "503",
	  { "/HEAD:/1", "/GET:/2", "/HEAD:/3", "/GET:/4" },
	  "503\n503\n503\n503\n", 4, 0 },
	{ 41, "chunked bodies with extensions and trailers", "503/chunked",
	  { "/GET:/1", "/GET:/2", "/GET:/3" }, "503\n503\n503\n", 3, 0 },
	{ 42, "HEAD of a chunked response", "503/chunked",
	  { "/HEAD:/1", "/GET:/2" }, "503\n503\n", 2, 0 },
	{ 43, "204 has no body", "204,503",
	  { "/GET:/1", "/GET:/2", "/GET:/3" }, "204\n503\n503\n", 2, 0 },
	{ 44, "304 has no body despite its Content-Length", "304,503",
	  { "/GET:/1", "/GET:/2", "/GET:/3" }, "304\n503\n503\n", 2, 0 },
	{ 45, "interim 100 and 103 are not final responses",
	  "100+503,103+503",
	  { "/POST:/1", "/GET:/2", "/GET:/3" },
	  "interim 100\n503\ninterim 103\n503\ninterim 103\n503\n", 3, 0 },
	{ 46, "pipelined requests", "503",
	  { "-p", "/GET:/1", "/GET:/2", "/GET:/3", "/GET:/4", "/GET:/5" },
	  "503\n503\n503\n503\n503\n", 5, 0 },
	{ 47, "pipelined HEAD, chunked and interim responses",
	  "503,503/chunked,100+503,503",
	  { "-p", "/HEAD:/1", "/GET:/2", "/POST:/3", "/HEAD:/4" },
	  "503\n503\ninterim 100\n503\n503\n", 4, 0 },
	{ 48, "Connection: close, one connection each", "503/close",
	  { "-n", "/GET:/1", "/GET:/2", "/GET:/3" }, "503\n503\n503\n", 3, 0 },
};

ParameterizedTestParameters(http_framing, each_response_counts_once)
{
	return cr_make_param_array(struct exchange, framings,
				   sizeof(framings) / sizeof(framings[0]));
}

ParameterizedTest(struct exchange *x, http_framing, each_response_counts_once,
		  .timeout = 30)
{
	struct run r;
	long long n = run_exchange(&r, x, NULL);

	cr_assert_eq(r.status, 0, "%s: %s", x->name, r.err);
	cr_assert_str_eq(r.out, x->out, "%s", x->name);
	cr_assert_eq(n, x->streak, "%s: streak %lld, expected %lld", x->name,
		     n, x->streak);
	t_cleanup();
}

/*
 * The same exchange through every call family the hooks follow, with
 * reads cut small (-s) so that lines and bodies span calls, peeked at,
 * and split between a reading and a writing thread.
 */
#define TEN "503\n503\n503\n503\n503\n503\n503\n503\n503\n503\n"
#define THIRTY TEN TEN TEN
#define FIFTEEN TEN "503\n503\n503\n503\n503\n"

static struct exchange calls[] = {
	{ 60, "read and write", "503,503/chunked",
	  { "-a", "rw", "-s", "5", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 61, "recv and send", "503,503/chunked",
	  { "-a", "rs", "-s", "5", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 62, "recvfrom and sendto", "503,503/chunked",
	  { "-a", "to", "-s", "5", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 63, "recvmsg and sendmsg", "503,503/chunked",
	  { "-a", "msg", "-s", "9", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 64, "readv and writev", "503,503/chunked",
	  { "-a", "v", "-s", "9", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 65, "__read_chk, __recv_chk and __recvfrom_chk", "503,503/chunked",
	  { "-a", "chk", "-s", "5", "/GET:/1", "/GET:/2", "/HEAD:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 66, "recv peeking first", "503",
	  { "-a", "rs", "-k", "/GET:/1", "/GET:/2", "/GET:/3" },
	  "503\n503\n503\n", 3, 0 },
	{ 67, "a reader thread and a writer thread", "503",
	  { "-t", "-R", "30", "/GET:/1" }, THIRTY, 30, 3 },
	{ 68, "two threads, pipelined (the tracker queues 16)", "503",
	  { "-t", "-p", "-R", "15", "/GET:/1" }, FIFTEEN, 15, 3 },
	{ 69, "a forked child's exchange is not the parent's", "503",
	  { "-f", "/GET:/1", "/GET:/2", "/GET:/3" },
	  "503\n503\n503\n", 2, 0 },
};

ParameterizedTestParameters(http_framing, every_call_family_is_followed)
{
	return cr_make_param_array(struct exchange, calls,
				   sizeof(calls) / sizeof(calls[0]));
}

/*
 * Two threads: a reader waits (2 ms at most) for the writer of a request
 * to feed it before it feeds the response. A writer that the scheduler
 * keeps off the CPU for longer makes the tracker give up, never count
 * wrong: such a case may run again, and must never count more.
 */
ParameterizedTest(struct exchange *x, http_framing,
		  every_call_family_is_followed, .timeout = 60)
{
	struct run r;
	long long n = run_exchange(&r, x, NULL);
	int run;

	for (run = 1; run < x->tries && n != x->streak; run++) {
		cr_assert_leq(n, x->streak, "%s: counted %lld", x->name, n);
		n = run_exchange(&r, x, NULL);
	}

	cr_assert_eq(r.status, 0, "%s: %s", x->name, r.err);
	cr_assert_str_eq(r.out, x->out, "%s", x->name);
	cr_assert_eq(n, x->streak, "%s: streak %lld, expected %lld", x->name,
		     n, x->streak);
	t_cleanup();
}

/*
 * A byte stream that is not HTTP, on an http service, through an echo
 * server: the tracker gives up at once, so the bytes that look like a 503
 * response on their way back count nothing, and they come back unchanged.
 */
Test(http_framing, a_stream_that_is_not_http_is_left_alone, .timeout = 30)
{
	static const struct exchange x = { 80, "echo", "echo", { "-e" },
					   "echo ok\n", 0, 0 };
	struct run r;
	long long n = run_exchange(&r, &x, "SWERVE_LOG=debug");

	cr_assert_eq(r.status, 0, "the bytes changed: %s", r.err);
	cr_assert_str_eq(r.out, "echo ok\n");
	cr_assert_eq(n, 0);
	cr_assert(strstr(r.err, "no longer following") != NULL, "%s", r.err);
	t_cleanup();
}

/*
 * Bytes that sendfile() moves never pass through the application's
 * buffers: the tracker gives up on the connection (and says why) rather
 * than losing its place in the exchange.
 */
Test(http_framing, bytes_sent_by_sendfile_make_the_tracker_give_up,
     .timeout = 30)
{
	static const struct exchange x = { 81, "sendfile", "503",
					   { "-F", "/GET:/1", "/GET:/2" },
					   "503\n503\n", 0, 0 };
	struct run r;
	long long n = run_exchange(&r, &x, "SWERVE_LOG=debug");

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, x.out);
	cr_assert_eq(n, 0);
	cr_assert(strstr(r.err, "no longer following a connection to "
				"127.11.81.2:18281 (unseen)") != NULL, "%s",
		  r.err);
	t_cleanup();
}
