/*
 * Endpoints given as names (resolution = dns) end to end: a real DNS
 * responder (tests/helpers/dnsd) on 127.0.0.1 serving a zone file the test
 * writes and rewrites, real HTTP servers on loopback answering with their
 * own address, and real clients (python3, curl, the probe helper) dialling
 * mydb.com under the library. Every config points dns_servers at the
 * test's own dnsd, so nothing is ever asked of the system resolver.
 *
 * What changes while a program runs (a record, an outage) must be seen by
 * ONE process, since answers are cached per process: those tests run a
 * python loop that logs each answer to a file, and a forked helper watches
 * that file to act mid-run at a point the client has provably reached.
 *
 * Ports 15420..15460 and addresses 127.10.80-89.x belong to this file, one
 * port and one /24 per test.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

/* One answer of a client loop: when it began, how long it took, body. */
struct answer {
	double start;
	double took;
	char body[64];
};

#define MAX_ANSWERS 256

/* curl deadlocks at start-up under a preloaded ASan runtime (see
 * test_failover.c): sanitizer runs skip the curl variants. */
static bool sanitized(void)
{
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	return extra != NULL && extra[0] != '\0';
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Starts dnsd on 127.0.0.1:<port> serving <zone>, in drop mode (a silent
 * server) when <drop>, and waits for "ready". It dies with this process.
 */
static pid_t start_dnsd(int port, const char *zone, bool drop)
{
	pid_t pid = t_dnsd(port, zone, drop ? "-n" : NULL);

	cr_assert(pid > 0, "dnsd on port %d did not start", port);
	return pid;
}

/*
 * A config serving mydb.com:80 from <endpoints> (whole "endpoint = ..."
 * lines) with names resolved by the dnsd on 127.0.0.1:<port>; <extra> are
 * more lines of the service (the dns_* keys of a test).
 */
static const char *dns_config(int port, const char *endpoints,
			      const char *extra)
{
	static char text[2048];

	snprintf(text, sizeof(text),
		 "[swerve]\n"
		 "locality    = us-east1\n"
		 "vip_cidr    = 127.78.0.0/16\n"
		 "log         = warn\n"
		 "dns_servers = 127.0.0.1:%d\n"
		 "\n"
		 "[service mydb]\n"
		 "hosts      = mydb.com\n"
		 "ports      = 80\n"
		 "resolution = dns\n"
		 "%s"
		 "consecutive_5xx_errors = 1\n"
		 "interval               = 15s\n"
		 "base_ejection_time     = 1m\n"
		 "connect_timeout        = 10s\n"
		 "%s",
		 port, endpoints, extra);
	return t_write("swerve.ini", text);
}

/* An httpd on <addr>:18080 whose body is its own address. */
static pid_t server_at(const char *addr)
{
	pid_t pid = t_server(addr, 18080, addr, "ok");

	cr_assert(pid > 0, "server on %s:18080 did not start", addr);
	return pid;
}

static void env_for(char *cv, size_t cvlen, char *sv, size_t svlen,
		    const char *config, const char *shm)
{
	snprintf(cv, cvlen, "SWERVE_CONFIG=%s", config);
	snprintf(sv, svlen, "SWERVE_SHM=%s", shm);
}

static void curl(struct run *r, const char *config, const char *shm)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { "curl", "-sS", "--max-time", "20",
			       "http://mydb.com/", NULL };

	env_for(cv, sizeof(cv), sv, sizeof(sv), config, shm);
	t_run(r, true, env, 30, argv);
}

static void probe(struct run *r, const char *config, const char *shm)
{
	char cv[600], sv[128], bin[512];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "-m", "soerror", "mydb.com", "80", NULL };

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	env_for(cv, sizeof(cv), sv, sizeof(sv), config, shm);
	t_run(r, true, env, 30, argv);
}

/*
 * One python3 process requesting http://mydb.com/ in a loop for <secs>
 * seconds, <pause> seconds apart (at most <max> requests), each answer
 * printed and appended to <log> as "START TOOK BODY" (CLOCK_MONOTONIC, the
 * clock this process reads too). urllib with a timeout connects
 * non-blocking; an exception ends the loop with a non-zero status.
 */
static void python_loop(struct run *r, const char *config, const char *shm,
			const char *log, double secs, double pause, int max)
{
	char cv[600], sv[128], sbuf[32], pbuf[32], mbuf[16];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = {
		"python3", "-c",
		"import sys, time, urllib.request\n"
		"log = open(sys.argv[1], 'a')\n"
		"end = time.monotonic() + float(sys.argv[2])\n"
		"for i in range(int(sys.argv[4])):\n"
		"    if time.monotonic() >= end:\n"
		"        break\n"
		"    t = time.monotonic()\n"
		"    body = urllib.request.urlopen('http://mydb.com/',\n"
		"                                  timeout=10).read()\n"
		"    line = '%.3f %.3f %s' % (t, time.monotonic() - t,\n"
		"                             body.decode().strip())\n"
		"    print(line, flush=True)\n"
		"    log.write(line + '\\n')\n"
		"    log.flush()\n"
		"    time.sleep(float(sys.argv[3]))\n",
		log, sbuf, pbuf, mbuf, NULL
	};

	snprintf(sbuf, sizeof(sbuf), "%.3f", secs);
	snprintf(pbuf, sizeof(pbuf), "%.3f", pause);
	snprintf(mbuf, sizeof(mbuf), "%d", max);
	env_for(cv, sizeof(cv), sv, sizeof(sv), config, shm);
	t_run(r, true, env, secs + 30, argv);
}

/* Parses python_loop's output into <a>; returns how many answers. */
static int parse_answers(const char *out, struct answer *a, int max)
{
	const char *p = out;
	int n = 0;

	while (*p != '\0' && n < max) {
		if (sscanf(p, "%lf %lf %63s", &a[n].start, &a[n].took,
			   a[n].body) == 3)
			n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

static int count_lines(const char *path)
{
	char buf[4096];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0, i;

	if (fd == -1)
		return 0;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* What a helper does mid-run: replace a file, or signal a process. */
struct action {
	const char *rename_from;  /* renamed over rename_to, atomically */
	const char *rename_to;
	pid_t signal_pid;
	int sig;
};

/*
 * Forks a helper that waits until <log> has <n> lines (the client is
 * running and has been answered <n> times), does <act>, and writes the
 * CLOCK_MONOTONIC time it did it into <stamp>. It gives up after 20 s
 * without writing <stamp>. Reap it with waitpid().
 */
static pid_t after_answers(const char *log, int n, const struct action *act,
			   const char *stamp)
{
	pid_t pid = fork();
	double start = now_s();
	FILE *f;

	cr_assert_neq(pid, -1);
	if (pid != 0)
		return pid;
	/* The child: no Criterion calls from here on. */
	while (count_lines(log) < n) {
		if (now_s() - start > 20)
			_exit(1);
		usleep(20 * 1000);
	}
	if (act->rename_from != NULL &&
	    rename(act->rename_from, act->rename_to) == -1)
		_exit(2);
	if (act->signal_pid > 0 && kill(act->signal_pid, act->sig) == -1)
		_exit(3);
	f = fopen(stamp, "w");
	if (f == NULL)
		_exit(4);
	fprintf(f, "%.3f\n", now_s());
	fclose(f);
	_exit(0);
}

/* Reaps the helper and returns the time it acted. */
static double acted_at(pid_t helper, const char *stamp)
{
	double t = -1;
	int status;
	FILE *f;

	cr_assert_eq(waitpid(helper, &status, 0), helper);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the mid-run helper failed (status %d)", status);
	f = fopen(stamp, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lf", &t), 1);
	fclose(f);
	return t;
}

/* Copies a t_write() path out of its rotating slot. */
static char *keep(const char *path)
{
	char *p = strdup(path);

	cr_assert_not_null(p);
	return p;
}

/* ------------------------------------------- (a) every address is used */

#define EAST_TWO_ADDRESSES(net)                                          \
	"east.mydb.test 30 A " net ".2\n"                                \
	"east.mydb.test 30 A " net ".4\n"

#define EAST_AND_WEST(net)                                               \
	"endpoint = east.mydb.test:18080 locality=us-east1\n"            \
	"endpoint = " net ".3:18080 locality=us-west\n"

typedef void (*client_fn)(struct run *, const char *, const char *);

/*
 * east.mydb.test has two addresses, each a real server answering with its
 * address; west is a literal in another region. <requests> separate client
 * processes (each with its own round-robin start) reach both east
 * addresses and never west, and each address has its own health row.
 */
static void every_address_per_process(client_fn client, int port,
				      const char *net)
{
	char a2[32], a3[32], a4[32], ep2[48], ep4[48], ep3[48];
	const char *shm = t_shm(), *config, *zone;
	int seen2 = 0, seen4 = 0, i;
	pid_t d, s2, s3, s4;
	struct run r;
	char endpoints[256], records[128];

	snprintf(a2, sizeof(a2), "%s.2", net);
	snprintf(a3, sizeof(a3), "%s.3", net);
	snprintf(a4, sizeof(a4), "%s.4", net);
	snprintf(ep2, sizeof(ep2), "%s:18080", a2);
	snprintf(ep3, sizeof(ep3), "%s:18080", a3);
	snprintf(ep4, sizeof(ep4), "%s:18080", a4);
	snprintf(records, sizeof(records),
		 "east.mydb.test 30 A %s\neast.mydb.test 30 A %s\n", a2, a4);
	snprintf(endpoints, sizeof(endpoints),
		 "endpoint = east.mydb.test:18080 locality=us-east1\n"
		 "endpoint = %s:18080 locality=us-west\n", a3);
	zone = t_write("zone", records);
	d = start_dnsd(port, zone, false);
	s2 = server_at(a2);
	s3 = server_at(a3);
	s4 = server_at(a4);
	config = dns_config(port, endpoints, "");

	for (i = 0; i < 20; i++) {
		client(&r, config, shm);
		cr_assert_eq(r.status, 0, "request %d failed (%d): %s", i + 1,
			     r.status, r.err);
		cr_assert_eq(r.err[0], '\0', "request %d: stderr: %s", i + 1,
			     r.err);
		if (strstr(r.out, a2) != NULL)
			seen2++;
		else if (strstr(r.out, a4) != NULL)
			seen4++;
		else
			cr_assert_fail("request %d: unexpected answer '%s'",
				       i + 1, r.out);
	}
	/* A fair coin per process: all 20 on one side is 2 in a million. */
	cr_assert(seen2 > 0 && seen4 > 0, "%s: %d, %s: %d", a2, seen2, a4,
		  seen4);
	cr_assert_eq(t_endpoint_field(config, shm, ep2, "connects_ok"), seen2);
	cr_assert_eq(t_endpoint_field(config, shm, ep4, "connects_ok"), seen4);
	cr_assert_eq(t_endpoint_field(config, shm, ep3, "connects_ok"), 0);
	t_stop(s2);
	t_stop(s3);
	t_stop(s4);
	t_stop(d);
	t_cleanup();
}

Test(dns, one_python_process_round_robins_over_every_address, .timeout = 60)
{
	const char *zone = t_write("zone", EAST_TWO_ADDRESSES("127.10.80"));
	const char *shm = t_shm(), *config, *log;
	struct answer a[MAX_ANSWERS];
	int n, i, seen2 = 0, seen4 = 0;
	pid_t d, s2, s3, s4;
	struct run r;

	d = start_dnsd(15420, zone, false);
	s2 = server_at("127.10.80.2");
	s3 = server_at("127.10.80.3");
	s4 = server_at("127.10.80.4");
	config = keep(dns_config(15420, EAST_AND_WEST("127.10.80"), ""));
	log = keep(t_write("answers", ""));

	python_loop(&r, config, shm, log, 20, 0, 20);
	cr_assert_eq(r.status, 0, "python failed (%d): %s", r.status, r.err);
	n = parse_answers(r.out, a, MAX_ANSWERS);
	cr_assert_eq(n, 20, "%d answers: %s", n, r.out);
	for (i = 0; i < n; i++) {
		if (strcmp(a[i].body, "127.10.80.2") == 0)
			seen2++;
		else if (strcmp(a[i].body, "127.10.80.4") == 0)
			seen4++;
		else
			cr_assert_fail("answer %d: '%s'", i + 1, a[i].body);
	}
	/* Round robin inside one process: an even split. */
	cr_assert_eq(seen2, 10, "127.10.80.2: %d, 127.10.80.4: %d", seen2,
		     seen4);
	cr_assert_eq(seen4, 10);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.80.2:18080",
				      "connects_ok"), 10);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.80.4:18080",
				      "connects_ok"), 10);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.80.3:18080",
				      "connects_ok"), 0);
	t_stop(s2);
	t_stop(s3);
	t_stop(s4);
	t_stop(d);
	free((char *)config);
	free((char *)log);
	t_cleanup();
}

Test(dns, curl_processes_reach_every_address_of_a_name, .timeout = 120)
{
	if (sanitized())
		cr_skip_test("curl does not start under a preloaded ASan");
	every_address_per_process(curl, 15421, "127.10.81");
}

Test(dns, probe_processes_reach_every_address_of_a_name, .timeout = 120)
{
	every_address_per_process(probe, 15422, "127.10.82");
}

/* ----------------------------------- (b) a record changes mid-program */

/*
 * east.mydb.test moves from .2 to .4 (TTL 1s, dns_min_ttl 1s) while one
 * python process keeps requesting. Both servers stay up, so only DNS can
 * move the traffic: the new address is used within the TTL of the change,
 * and the old one never again after that.
 */
Test(dns, a_changed_record_is_followed_within_its_ttl, .timeout = 60)
{
	char *zone, *next, *log, *stamp;
	const char *shm = t_shm(), *config;
	struct answer a[MAX_ANSWERS];
	struct action act = { 0 };
	int n, i, first_new = -1, old_before = 0;
	double changed;
	pid_t d, s2, s4, helper;
	struct run r;

	zone = keep(t_write("zone", "east.mydb.test 1 A 127.10.83.2\n"));
	next = keep(t_write("zone.next", "east.mydb.test 1 A 127.10.83.4\n"));
	log = keep(t_write("answers", ""));
	stamp = keep(t_write("changed", ""));
	d = start_dnsd(15423, zone, false);
	s2 = server_at("127.10.83.2");
	s4 = server_at("127.10.83.4");
	config = dns_config(15423,
			    "endpoint = east.mydb.test:18080 "
			    "locality=us-east1\n",
			    "dns_min_ttl = 1s\n");

	act.rename_from = next;
	act.rename_to = zone;
	helper = after_answers(log, 4, &act, stamp);
	python_loop(&r, config, shm, log, 5, 0.1, MAX_ANSWERS);
	changed = acted_at(helper, stamp);
	cr_assert_eq(r.status, 0, "python failed (%d): %s", r.status, r.err);
	n = parse_answers(r.out, a, MAX_ANSWERS);
	for (i = 0; i < n; i++) {
		if (strcmp(a[i].body, "127.10.83.4") == 0) {
			if (first_new < 0)
				first_new = i;
			continue;
		}
		cr_assert_str_eq(a[i].body, "127.10.83.2", "answer %d", i + 1);
		cr_assert_lt(first_new, 0,
			     "answer %d went back to the old address: %s",
			     i + 1, r.out);
		if (a[i].start < changed)
			old_before++;
	}
	cr_assert_geq(old_before, 4, "%s", r.out);
	cr_assert_geq(first_new, 0, "the new address was never used: %s",
		      r.out);
	/* The answer cached before the change expires within its 1 s TTL;
	 * 0.6 s for the 0.1 s pauses and a loaded machine. */
	cr_assert_leq(a[first_new].start - changed, 1.6,
		      "changed at %.3f, first new answer at %.3f: %s",
		      changed, a[first_new].start, r.out);
	cr_assert_geq(n - first_new, 5, "%s", r.out);
	t_stop(s2);
	t_stop(s4);
	t_stop(d);
	free(zone);
	free(next);
	free(log);
	free(stamp);
	t_cleanup();
}

/* --------------------------------------- (c) the DNS server goes away */

/*
 * The only endpoint is a name (TTL 1s, dns_min_ttl 1s, dns_timeout 500ms),
 * so nothing but the last answer can carry traffic once dnsd goes silent
 * mid-run: every request of the same process keeps succeeding for several
 * TTLs, each paying at most one dns_timeout for the failed refresh.
 */
Test(dns, a_dns_outage_keeps_traffic_on_the_last_answer, .timeout = 60)
{
	char *zone, *log, *stamp;
	const char *shm = t_shm(), *config;
	struct answer a[MAX_ANSWERS];
	struct action act = { 0 };
	int n, i, after = 0;
	double silenced, last = 0;
	long long stale_uses;
	pid_t d, s2, helper;
	struct run r, ctl;
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[] = { bin, "-c", NULL, "endpoints", "--json", NULL };

	zone = keep(t_write("zone", "east.mydb.test 1 A 127.10.84.2\n"));
	log = keep(t_write("answers", ""));
	stamp = keep(t_write("silenced", ""));
	d = start_dnsd(15424, zone, false);
	s2 = server_at("127.10.84.2");
	config = keep(dns_config(15424,
				 "endpoint = east.mydb.test:18080 "
				 "locality=us-east1\n",
				 "dns_min_ttl = 1s\n"
				 "dns_timeout = 500ms\n"));

	/* SIGUSR1: dnsd reads and drops every query from now on. */
	act.signal_pid = d;
	act.sig = SIGUSR1;
	helper = after_answers(log, 3, &act, stamp);
	python_loop(&r, config, shm, log, 6, 0.1, MAX_ANSWERS);
	silenced = acted_at(helper, stamp);
	cr_assert_eq(r.status, 0, "a request failed during the outage (%d): %s",
		     r.status, r.err);
	n = parse_answers(r.out, a, MAX_ANSWERS);
	for (i = 0; i < n; i++) {
		cr_assert_str_eq(a[i].body, "127.10.84.2", "answer %d: %s",
				 i + 1, r.out);
		/* One dns_timeout at most, plus slack for a loaded host. */
		cr_assert_leq(a[i].took, 1.1, "answer %d took %.3f s: %s",
			      i + 1, a[i].took, r.out);
		if (a[i].start > silenced) {
			after++;
			last = a[i].start;
		}
	}
	cr_assert_geq(after, 10, "%d answers after the outage began: %s",
		      after, r.out);
	cr_assert_geq(last - silenced, 3.0,
		      "served for only %.3f s of the outage: %s",
		      last - silenced, r.out);
	/* The failed refreshes are reported (warn: the last answer is used). */
	cr_assert(strstr(r.err, "east.mydb.test") != NULL, "stderr: %s", r.err);

	/* swervectl still works during the outage. */
	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	argv[2] = config;
	t_run(&ctl, false, env, 20, argv);
	cr_assert_eq(ctl.status, 0, "swervectl (%d): %s", ctl.status, ctl.err);
	cr_assert(strstr(ctl.out, "east.mydb.test") != NULL, "%s", ctl.out);
	/* The name's status row counts the connects routed on the stale
	 * answer; swervectl lists it under the address when it can resolve
	 * the name itself, else under the name. */
	stale_uses = t_endpoint_field(config, shm, "127.10.84.2:18080",
				      "stale_uses");
	if (stale_uses < 0)
		stale_uses = t_endpoint_field(config, shm,
					      "east.mydb.test:18080",
					      "stale_uses");
	cr_assert_geq(stale_uses, 1, "stale_uses %lld: %s", stale_uses,
		      ctl.out);
	t_stop(s2);
	t_stop(d);
	free(zone);
	free(log);
	free(stamp);
	free((char *)config);
	t_cleanup();
}

/* ---------------------------------- (d) a name that does not exist */

/*
 * nosuch.mydb.test gets NXDOMAIN, east.mydb.test resolves, west is a
 * literal in another region. Each program says once, on stderr, which name
 * failed; its requests go to east as if the bad name were not there, and
 * east's and west's rows show nothing but those requests.
 */
Test(dns, an_unknown_name_is_reported_once_and_the_rest_serve, .timeout = 90)
{
	const char *zone = t_write("zone", "east.mydb.test 30 A 127.10.85.2\n");
	const char *shm = t_shm(), *config;
	struct answer a[MAX_ANSWERS];
	int n, i, served = 0, lines;
	pid_t d, s2, s3;
	const char *p;
	struct run r;

	d = start_dnsd(15425, zone, false);
	s2 = server_at("127.10.85.2");
	s3 = server_at("127.10.85.3");
	/* dns_min_ttl 30s: a short program asks for the bad name once. */
	config = keep(dns_config(15425,
				 "endpoint = nosuch.mydb.test:18080 "
				 "locality=us-east1\n"
				 "endpoint = east.mydb.test:18080 "
				 "locality=us-east1\n"
				 "endpoint = 127.10.85.3:18080 "
				 "locality=us-west\n",
				 "dns_min_ttl = 30s\n"));

	python_loop(&r, config, shm, t_write("answers", ""), 20, 0, 10);
	cr_assert_eq(r.status, 0, "python failed (%d): %s", r.status, r.err);
	n = parse_answers(r.out, a, MAX_ANSWERS);
	cr_assert_eq(n, 10, "%s", r.out);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(a[i].body, "127.10.85.2", "answer %d", i + 1);
	served += n;
	lines = 0;
	for (p = r.err; (p = strstr(p, "nosuch.mydb.test")) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 1, "want one line naming the name: %s", r.err);
	cr_assert(strstr(r.err, "NXDOMAIN") != NULL, "stderr: %s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1,
		     "want a single line: %s", r.err);

	for (i = 0; i < 5; i++) {
		probe(&r, config, shm);
		cr_assert_eq(r.status, 0, "probe failed (%d): %s", r.status,
			     r.err);
		cr_assert(strstr(r.out, "127.10.85.2") != NULL, "%s", r.out);
		cr_assert(strstr(r.err, "nosuch.mydb.test: no such name "
				 "(NXDOMAIN)") != NULL, "stderr: %s", r.err);
		served++;
	}
	if (!sanitized()) {
		curl(&r, config, shm);
		cr_assert_eq(r.status, 0, "curl failed (%d): %s", r.status,
			     r.err);
		cr_assert(strstr(r.out, "127.10.85.2") != NULL, "%s", r.out);
		cr_assert(strstr(r.err, "nosuch.mydb.test") != NULL,
			  "stderr: %s", r.err);
		served++;
	}
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.85.2:18080",
				      "connects_ok"), served);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.85.2:18080",
				      "connects_failed"), 0);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.85.2:18080",
				      "ejections"), 0);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.85.3:18080",
				      "connects_ok"), 0);
	cr_assert_eq(t_endpoint_field(config, shm, "127.10.85.3:18080",
				      "connects_failed"), 0);
	cr_assert_not(t_endpoint_ejected(config, shm, "127.10.85.2:18080"));
	t_stop(s2);
	t_stop(s3);
	t_stop(d);
	free((char *)config);
	t_cleanup();
}

/* --------------------------- (e) an outage costs one dns_timeout, once */

/*
 * dnsd is silent from the start and east.mydb.test never resolves; the
 * second endpoint is an IP literal. A non-blocking client's first request
 * waits one dns_timeout (500ms) for the name, then goes to the literal; the
 * next request of the same process, within dns_min_ttl, does not wait.
 */
Test(dns, a_silent_server_costs_one_dns_timeout_per_min_ttl, .timeout = 60)
{
	const char *zone = t_write("zone", "east.mydb.test 30 A 127.10.86.2\n");
	const char *shm = t_shm(), *config;
	struct answer a[MAX_ANSWERS];
	double took, again = t_sanitized() ? 0.4 : 0.25;
	pid_t d, s3;
	struct run r;
	int n;

	d = start_dnsd(15426, zone, true);
	s3 = server_at("127.10.86.3");
	config = keep(dns_config(15426,
				 "endpoint = east.mydb.test:18080 "
				 "locality=us-east1\n"
				 "endpoint = 127.10.86.3:18080 "
				 "locality=us-west\n",
				 "dns_min_ttl = 10s\n"
				 "dns_timeout = 500ms\n"));

	python_loop(&r, config, shm, t_write("answers", ""), 20, 0, 3);
	cr_assert_eq(r.status, 0, "python failed (%d): %s", r.status, r.err);
	n = parse_answers(r.out, a, MAX_ANSWERS);
	cr_assert_eq(n, 3, "%s", r.out);
	cr_assert_str_eq(a[0].body, "127.10.86.3");
	cr_assert_leq(a[0].took, 0.5 + 0.6, "first request: %.3f s",
		      a[0].took);
	cr_assert_str_eq(a[1].body, "127.10.86.3");
	cr_assert_leq(a[1].took, again, "second request waited again: %.3f s",
		      a[1].took);
	cr_assert_str_eq(a[2].body, "127.10.86.3");
	cr_assert_leq(a[2].took, again, "third request waited again: %.3f s",
		      a[2].took);
	cr_assert(strstr(r.err, "east.mydb.test: no answer within 500 ms") !=
		  NULL, "stderr: %s", r.err);

	/* A one-request process: the whole run within one dns_timeout of
	 * the same process's run without the silent name (its start-up
	 * cost, whatever a sanitizer or the machine's load make of it). */
	probe(&r, config, shm);
	cr_assert_eq(r.status, 0, "probe failed (%d): %s", r.status, r.err);
	cr_assert(strstr(r.out, "127.10.86.3") != NULL, "%s", r.out);
	took = r.seconds;
	probe(&r, dns_config(15426, "endpoint = 127.10.86.3:18080 "
			     "locality=us-west\n", "dns_timeout = 500ms\n"),
	      shm);
	cr_assert_eq(r.status, 0, "probe failed (%d): %s", r.status, r.err);
	cr_assert_leq(took, r.seconds + 0.5 + 0.4,
		      "probe took %.3f s, without the name %.3f s", took,
		      r.seconds);
	t_stop(s3);
	t_stop(d);
	free((char *)config);
	t_cleanup();
}

/*
 * An operator drains one address behind a name: swervectl finds it by the
 * text its endpoints table shows, and programs stop using it at once.
 */
Test(dns, swervectl_ejects_one_address_behind_a_name, .timeout = 60)
{
	const char *shm = t_shm(), *config, *zone;
	char bin[512], sv[128], body[64];
	const char *env[] = { sv, NULL };
	const char *eject[] = { bin, "-c", NULL, "eject", "mydb",
				"127.10.87.2:18080", "--for", "1m", NULL };
	struct run r;
	pid_t d, a, b;
	int i;

	zone = t_write("zone", "east.mydb.test 30 A 127.10.87.2\n"
			       "east.mydb.test 30 A 127.10.87.4\n");
	d = start_dnsd(15427, zone, false);
	a = server_at("127.10.87.2");
	b = server_at("127.10.87.4");
	config = dns_config(15427, "endpoint = east.mydb.test:18080\n", "");
	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	eject[2] = config;
	t_run(&r, false, env, 20, eject);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "127.10.87.2:18080: ejected") != NULL, "%s",
		  r.out);
	cr_assert(t_endpoint_ejected(config, shm, "127.10.87.2:18080"));
	for (i = 0; i < 6; i++) {
		probe(&r, config, shm);
		cr_assert_eq(r.status, 0, "%s", r.err);
		snprintf(body, sizeof(body), "127.10.87.4\n");
		cr_assert_str_eq(r.out, body);
	}
	t_stop(a);
	t_stop(b);
	t_stop(d);
	t_cleanup();
}
