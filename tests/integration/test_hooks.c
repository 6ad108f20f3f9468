/*
 * The hook layer against the ways real programs use sockets and
 * processes, each case a defect once found (issue 10): a socket
 * disconnected with connect(AF_UNSPEC) and connected to another service,
 * a vfork() child that closes every descriptor while its parent connects,
 * an error swerve does not fail over on, forked workers that must not
 * pick in lockstep, a TCP_USER_TIMEOUT the application set itself, fds
 * above 65535, and several threads observing one completion. Real
 * servers, real clients under the library, real kernels' errors.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

/* Runs helper <name> of the build with <args>, under the library. */
static void run_helper(struct run *r, const char *config, const char *shm,
		       const char *name, const char *const *args)
{
	t_helper(r, config, shm, NULL, name, args);
}

/*
 * A slow endpoint at <addr> for service slow.test: httpd in hold mode
 * (SYNs dropped until SIGUSR1), its pid as text in <pid>; the config, with
 * the service's <extra> lines, in <*config>.
 */
static pid_t slow_server(const char *addr, char pid[16], const char *extra,
			 const char **config)
{
	char text[512];
	pid_t e = t_server(addr, 18080, "slow but fine", "hold");

	cr_assert(e > 0);
	snprintf(pid, 16, "%d", (int)e);
	snprintf(text, sizeof(text),
		 "[swerve]\nvip_cidr = 127.78.0.0/16\n"
		 "[service slow]\nhosts = slow.test\nports = 80\n"
		 "endpoint = %s:18080\n%s", addr, extra);
	*config = t_write("slow.ini", text);
	return e;
}

/*
 * A client that reuses its socket: connect to a.test, connect(AF_UNSPEC),
 * connect to b.test. The answer must come from b.test, and each endpoint
 * must have been counted once.
 */
Test(hooks, a_disconnected_socket_reaches_the_new_service, .timeout = 30)
{
	const char *shm = t_shm(), *config;
	const char *args[] = { "a.test", "b.test", "80", NULL };
	struct run r;
	pid_t a, b;

	a = t_server("127.10.160.2", 18080, "service a", "ok");
	b = t_server("127.10.160.3", 18080, "service b", "ok");
	cr_assert(a > 0 && b > 0);
	config = t_write("reconnect.ini",
			 "[swerve]\nvip_cidr = 127.78.0.0/16\n"
			 "[service a]\nhosts = a.test\nports = 80\n"
			 "endpoint = 127.10.160.2:18080\n"
			 "[service b]\nhosts = b.test\nports = 80\n"
			 "endpoint = 127.10.160.3:18080\n");
	run_helper(&r, config, shm, "reconnect", args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "service b\n");
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.160.2:18080",
				      "connects_ok"), 1);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.160.3:18080",
				      "connects_ok"), 1);
	t_stop(a);
	t_stop(b);
	t_cleanup();
}

/*
 * An ICMPv6 "administratively prohibited" makes the kernel fail the
 * connect with EACCES, which swerve does not fail over on. It must reach
 * the application as it is, never be consumed and replaced by a socket
 * that looks connected. The kernel produces it for real: an ip6tables
 * REJECT in a network namespace of the helper's own, with IPV6_RECVERR
 * making the error visible at once.
 */
Test(hooks, an_error_swerve_does_not_fail_over_on_reaches_the_app,
     .timeout = 30)
{
	const char *shm = t_shm(), *config;
	const char *args[] = { "rej.test", "80", "--", "ip6tables", "-A",
			       "OUTPUT", "-p", "tcp", "--dport",
			       "18461:18462", "-j", "REJECT",
			       "--reject-with", "icmp6-adm-prohibited", NULL };
	struct run r;

	if (!t_have("ip6tables"))
		cr_skip_test("ip6tables is not installed");
	config = t_write("reject.ini",
			 "[swerve]\nvip_cidr = 127.78.0.0/16\n"
			 "[service rej]\nhosts = rej.test\nports = 80\n"
			 "endpoint = [::1]:18461\nendpoint = [::1]:18462\n");
	run_helper(&r, config, shm, "sockerr", args);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "Permission denied") != NULL, "%s", r.out);
	t_cleanup();
}

/*
 * A vfork() child shares its parent's memory and runs no fork handler.
 * Closing every descriptor before exec (the JDK, other launchers) must not
 * free the parent's slots nor charge the parent's pending attempt: the
 * slow connect that then succeeds counts 1 ok, 0 failed, and the endpoint
 * stays in (one failure would eject it).
 */
Test(hooks, a_vfork_child_closing_fds_leaves_the_parent_alone,
     .timeout = 30)
{
	const char *shm = t_shm(), *config;
	char pid[16];
	const char *args[] = { "slow.test", "80", pid, NULL };
	struct run r;
	pid_t e;

	e = slow_server("127.10.161.2", pid, "consecutive_5xx_errors = 1\n",
			&config);
	run_helper(&r, config, shm, "vforker", args);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "so_error: Success\nslow but fine\n");
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.161.2:18080",
				      "connects_ok"), 1);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.161.2:18080",
				      "connects_failed"), 0);
	cr_assert_not(t_endpoint_ejected(config, shm, "127.10.161.2:18080"));
	t_stop(e);
	t_cleanup();
}

/* Runs prefork for <lb> over the endpoints 127.10.<net>.2 to .<n + 1>. */
static void run_prefork(struct run *r, const char *lb, int net, int n,
			bool pending, const char *workers)
{
	const char *shm = t_shm(), *config;
	char text[2048], addrs[8][32];
	const char *args[16];
	size_t off;
	int i, k = 0;

	off = (size_t)snprintf(text, sizeof(text),
			       "[swerve]\nvip_cidr = 127.78.0.0/16\n"
			       "[service pf]\nhosts = pf.test\nports = 80\n"
			       "lb = %s\n", lb);
	if (pending)
		args[k++] = "-p";
	args[k++] = "pf.test";
	args[k++] = "80";
	args[k++] = workers;
	args[k++] = "4";
	for (i = 0; i < n; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "127.10.%d.%d", net, i + 2);
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"endpoint = %s:18080\n", addrs[i]);
		args[k++] = addrs[i];
	}
	args[k] = NULL;
	config = t_write("prefork.ini", text);
	run_helper(r, config, shm, "prefork", args);
	cr_assert_eq(r->status, 0, "%s %s", r->out, r->err);
}

/* A policy, and the addresses 127.10.<net>.x of its own endpoints. */
struct lb_case {
	char lb[16];
	int net;
};

ParameterizedTestParameters(hooks, forked_workers_do_not_pick_in_lockstep)
{
	static struct lb_case cases[] = {
		{ "round_robin", 162 },
		{ "random", 175 },
		{ "least_request", 176 },
	};

	return cr_make_param_array(struct lb_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * A prefork server sets swerve up and forks 8 workers. Each must draw its
 * own picks: with the parent's round-robin counters and random state
 * copied as they were, every worker made the same 4 picks.
 */
ParameterizedTest(struct lb_case *c, hooks,
		  forked_workers_do_not_pick_in_lockstep, .timeout = 30)
{
	char first[256];
	struct run r;
	const char *p;
	bool differ = false;

	run_prefork(&r, c->lb, c->net, 8, false, "8");
	p = strchr(r.out, '\n');
	cr_assert(p != NULL && (size_t)(p - r.out) < sizeof(first));
	memcpy(first, r.out, (size_t)(p - r.out + 1));
	first[p - r.out + 1] = '\0';
	for (p = r.out; *p != '\0'; p = strchr(p, '\n') + 1)
		if (strncmp(p, first, strlen(first)) != 0)
			differ = true;
	cr_assert(differ, "lb %s, every worker picked %s", c->lb, first);
	t_cleanup();
}

/*
 * The parent's attempt in flight when it forks is the parent's: a worker
 * that inherited its count would avoid that endpoint for good (it never
 * sees the attempt end). Round robin over two endpoints must reach the
 * slow one in every worker.
 */
Test(hooks, forked_workers_do_not_inherit_attempts, .timeout = 30)
{
	struct run r;
	const char *p;

	run_prefork(&r, "round_robin", 163, 2, true, "4");
	for (p = r.out; *p != '\0'; p = strchr(p, '\n') + 1) {
		const char *nl = strchr(p, '\n');
		char line[256];

		cr_assert(nl != NULL && (size_t)(nl - p) < sizeof(line));
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		cr_assert(strstr(line, "pending") != NULL,
			  "a worker never picked the slow endpoint: %s", line);
	}
	t_cleanup();
}

/*
 * swerve sets TCP_USER_TIMEOUT for the handshake and puts it back to 0
 * when the connection is established; an application that set its own
 * while the handshake was in flight keeps its own.
 */
Test(hooks, a_user_timeout_set_by_the_app_is_kept, .timeout = 30)
{
	const char *shm = t_shm(), *config;
	char pid[16];
	const char *args[] = { "-u", "5000", "slow.test", "80", pid, NULL };
	struct run r;
	pid_t e;

	e = slow_server("127.10.164.2", pid, "connect_timeout = 10s\n",
			&config);
	run_helper(&r, config, shm, "slowconn", args);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "uto after connect: 10000\n"
				"so_error: Success\nuto at the end: 5000\n");
	t_stop(e);
	t_cleanup();
}

/*
 * Three threads learn how one connect ended (SO_ERROR, connect() again,
 * read()) at the same moment, 300 times: the slot is claimed before the
 * outcome is recorded, so each failure is counted once.
 */
Test(hooks, threads_observing_one_outcome_count_it_once, .timeout = 60)
{
	const char *shm = t_shm(), *config;
	const char *args[] = { "once", "once.test", "80", "300", NULL };
	struct run r;

	/* Nothing listens at 127.10.166.2: every connect is refused. */
	config = t_write("once.ini",
			 "[swerve]\nvip_cidr = 127.78.0.0/16\n"
			 "[service once]\nhosts = once.test\nports = 80\n"
			 "endpoint = 127.10.166.2:18080\n"
			 "consecutive_5xx_errors = 100000\n");
	run_helper(&r, config, shm, "observers", args);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "rounds 300\n");
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.166.2:18080",
				      "connects_failed"), 300);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.166.2:18080",
				      "connects_ok"), 0);
	t_cleanup();
}

/* connects_ok + connects_failed of <endpoint>. */
static long long outcomes(const char *config, const char *shm,
			  const char *endpoint)
{
	return t_endpoint_field(config, shm, endpoint, "connects_ok") +
	       t_endpoint_field(config, shm, endpoint, "connects_failed");
}

/*
 * One thread closes and reconnects on the same fd number (service y) while
 * another calls connect() to service x on that number: a slot read while
 * it changes could pair y with an endpoint index of x (out of bounds) or
 * count an outcome twice. Every outcome recorded belongs to one call.
 * Nothing listens: every attempt is refused at once.
 */
Test(hooks, a_reused_fd_number_never_mixes_attempts, .timeout = 60)
{
	const char *shm = t_shm(), *config;
	const char *args[] = { "reuse", "y.test", "x.test", "80", "3000",
			       NULL };
	char text[2048], ep[8][32];
	long long ny, nx, sum = 0;
	size_t off;
	struct run r;
	int i;

	off = (size_t)snprintf(text, sizeof(text),
			       "[swerve]\nvip_cidr = 127.78.0.0/16\n"
			       "[defaults]\nconsecutive_5xx_errors = 100000\n"
			       "[service y]\nhosts = y.test\nports = 80\n"
			       "endpoint = 127.10.167.2:18080\n"
			       "[service x]\nhosts = x.test\nports = 80\n");
	for (i = 0; i < 8; i++) {
		snprintf(ep[i], sizeof(ep[i]), "127.10.168.%d:18080", i + 2);
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"endpoint = %s\n", ep[i]);
	}
	config = t_write("reuse.ini", text);
	run_helper(&r, config, shm, "observers", args);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_eq(sscanf(r.out, "y %lld x %lld", &ny, &nx), 2, "%s", r.out);
	cr_assert_leq(outcomes(config, shm, "127.10.167.2:18080"), ny + nx);
	for (i = 0; i < 8; i++)
		sum += outcomes(config, shm, ep[i]);
	/* Each connect() to x makes at most connect_attempts (3). */
	cr_assert_leq(sum, 3 * nx);
	t_cleanup();
}
