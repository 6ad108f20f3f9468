/*
 * The c-ares resolver against a real DNS responder (tests/helpers/dnsd) on
 * 127.0.0.1: what a lookup returns (order, duplicates, TTL), how it fails
 * (NXDOMAIN, silence, refusal), that zone changes show at once, that it
 * works after fork() and that c-ares only uses the socket calls it is
 * given. Every query goes to the test's own dnsd (lookups "b"), except
 * "localhost" from /etc/hosts and IP literals, which send nothing.
 * Ports 15353..15369 belong to this file, one or two per test.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "names/resolver.h"
#include "support.h"
#include "base/swerve.h"

extern char **environ;

/*
 * Starts dnsd on 127.0.0.1:<port> serving <zone> with option <flag> ("-n",
 * "-r" or NULL) and waits for "ready". It dies with this test process.
 */
static pid_t start_dnsd(int port, const char *zone, const char *flag)
{
	pid_t pid = t_dnsd(port, zone, flag);

	cr_assert(pid > 0, "dnsd on port %d did not start", port);
	return pid;
}

static struct swerve_resolver *
resolver_at(const char *servers, const char *lookups, uint64_t timeout_ms)
{
	struct swerve_resolver *r = NULL;
	char err[256] = "";
	int rc;

	rc = swerve_resolver_new(servers, lookups, timeout_ms, &r, err,
				 sizeof(err));
	cr_assert_eq(rc, 0, "swerve_resolver_new: %d %s", rc, err);
	cr_assert_not_null(r);
	return r;
}

/* A resolver that asks only the dnsd on 127.0.0.1:<port>. */
static struct swerve_resolver *resolver_on(int port, uint64_t timeout_ms)
{
	char servers[64];

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	return resolver_at(servers, "b", timeout_ms);
}

/* "127.0.0.1 ::1" for the <n> addresses; asserts port 0 on each. */
static const char *format(const struct sockaddr_storage *a, int n)
{
	static char buf[1024];
	char ip[INET6_ADDRSTRLEN];
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (a[i].ss_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)&a[i];

			cr_assert_eq(s->sin_port, 0);
			inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		} else {
			const struct sockaddr_in6 *s = (const void *)&a[i];

			cr_assert_eq(a[i].ss_family, AF_INET6);
			cr_assert_eq(s->sin6_port, 0);
			inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		}
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i > 0 ? " " : "", ip);
	}
	return buf;
}

/* Looks <name> up and returns "rc|addresses|ttl" or "rc|err". */
static const char *lookup(struct swerve_resolver *r, const char *name,
			  unsigned max)
{
	static char out[1400];
	struct sockaddr_storage addrs[16];
	char err[256] = "";
	uint32_t ttl = 12345;
	int rc;

	cr_assert(max <= SWERVE_ARRAY_LEN(addrs));
	rc = swerve_resolver_lookup(r, name, addrs, max, &ttl, err,
				    sizeof(err));
	if (rc > 0)
		snprintf(out, sizeof(out), "%d|%s|%u", rc, format(addrs, rc),
			 (unsigned)ttl);
	else
		snprintf(out, sizeof(out), "%d|%s", rc, err);
	return out;
}

Test(resolver, returns_every_address_v4_first_sorted_without_duplicates,
     .timeout = 30)
{
	const char *zone = t_write("zone",
				   "db.test 60 A 127.0.0.3\n"
				   "db.test 60 AAAA ::2\n"
				   "db.test 60 A 127.0.0.1\n"
				   "db.test 60 A 127.0.0.2\n"
				   "db.test 60 A 127.0.0.1\n"
				   "db.test 60 AAAA ::1\n"
				   "v6.test 60 AAAA 2001:db8::7\n");
	pid_t d = start_dnsd(15353, zone, NULL);
	struct swerve_resolver *r = resolver_on(15353, 2000);
	const char *out;

	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "5|127.0.0.1 127.0.0.2 127.0.0.3 ::1 ::2|60");
	/* Fewer places than addresses: this host's subset, one place per
	 * family (test_dns_subset.c has the rest), in the same order. */
	out = lookup(r, "db.test", 2);
	cr_assert(strncmp(out, "2|127.0.0.", 10) == 0 &&
		  strstr(out, " ::") != NULL && strstr(out, "|60") != NULL,
		  "%s", out);
	cr_assert_str_eq(lookup(r, "v6.test", 16), "1|2001:db8::7|60");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/* 60 A records (~1 KB) need EDNS0: without it the answer is truncated
 * at 512 bytes and c-ares retries over TCP, which dnsd does not serve. */
Test(resolver, sixty_records_fit_one_edns_answer, .timeout = 30)
{
	static char text[4096];
	struct sockaddr_storage addrs[64];
	const struct sockaddr_in *last;
	const char *zone;
	char err[256] = "";
	uint32_t ttl;
	size_t len = 0;
	pid_t d;
	int i, rc;
	struct swerve_resolver *r;

	for (i = 60; i >= 1; i--)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"many.test 60 A 127.0.1.%d\n", i);
	zone = t_write("zone", text);
	d = start_dnsd(15367, zone, NULL);
	r = resolver_on(15367, 2000);
	rc = swerve_resolver_lookup(r, "many.test", addrs, 64, &ttl, err,
				    sizeof(err));
	cr_assert_eq(rc, 60, "%d %s", rc, err);
	last = (const void *)&addrs[59];
	cr_assert_eq(ntohl(last->sin_addr.s_addr), 0x7f00013c);
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

Test(resolver, reports_the_smallest_ttl_and_ignores_case, .timeout = 30)
{
	const char *zone = t_write("zone",
				   "east.mydb.test 300 A 127.0.0.1\n"
				   "east.mydb.test 30 A 127.0.0.2\n"
				   "east.mydb.test 120 AAAA ::1\n"
				   "zero.test 0 A 127.0.0.9\n");
	pid_t d = start_dnsd(15354, zone, NULL);
	struct swerve_resolver *r = resolver_on(15354, 2000);

	cr_assert_str_eq(lookup(r, "East.MyDB.test.", 16),
			 "3|127.0.0.1 127.0.0.2 ::1|30");
	cr_assert_str_eq(lookup(r, "zero.test", 16), "1|127.0.0.9|0");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

Test(resolver, nxdomain_is_enoent_with_a_clear_message, .timeout = 30)
{
	const char *zone = t_write("zone", "db.test 60 A 127.0.0.1\n");
	pid_t d = start_dnsd(15355, zone, NULL);
	struct swerve_resolver *r = resolver_on(15355, 2000);
	double start = (double)swerve_now_ms();

	cr_assert_str_eq(lookup(r, "east.mydb.test", 16),
			 "-2|east.mydb.test: no such name (NXDOMAIN) from "
			 "127.0.0.1:15355");
	/* An answer, not a timeout. */
	cr_assert_lt((double)swerve_now_ms() - start, 1000);
	cr_assert_str_eq(lookup(r, "db.test", 16), "1|127.0.0.1|60");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

Test(resolver, silent_server_is_etimedout_within_the_bound, .timeout = 30)
{
	const char *zone = t_write("zone", "db.test 60 A 127.0.0.1\n");
	pid_t d = start_dnsd(15356, zone, "-n");
	struct swerve_resolver *r = resolver_on(15356, 600);
	uint64_t start = swerve_now_ms(), took;

	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "-110|db.test: no answer within 600 ms from "
			 "127.0.0.1:15356");
	took = swerve_now_ms() - start;
	cr_assert_geq(took, 550, "gave up after %llu ms",
		      (unsigned long long)took);
	cr_assert_leq(took, 900, "took %llu ms", (unsigned long long)took);
	/* The outage ends: the same resolver answers again. */
	kill(d, SIGUSR1);
	usleep(200 * 1000);
	cr_assert_str_eq(lookup(r, "db.test", 16), "1|127.0.0.1|60");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/*
 * With two silent servers c-ares alone would wait 4 tries (1.2 s here);
 * the resolver's own deadline cancels the query at the bound.
 */
Test(resolver, two_silent_servers_still_end_at_the_bound, .timeout = 30)
{
	const char *zone = t_write("zone", "db.test 60 A 127.0.0.1\n");
	pid_t d1 = start_dnsd(15357, zone, "-n");
	pid_t d2 = start_dnsd(15358, zone, "-n");
	struct swerve_resolver *r =
		resolver_at("127.0.0.1:15357,127.0.0.1:15358", "b", 600);
	uint64_t start = swerve_now_ms(), took;

	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "-110|db.test: no answer within 600 ms from "
			 "127.0.0.1:15357, 127.0.0.1:15358");
	took = swerve_now_ms() - start;
	cr_assert_geq(took, 550, "gave up after %llu ms",
		      (unsigned long long)took);
	cr_assert_leq(took, 900, "took %llu ms", (unsigned long long)took);
	/* After ares_cancel the channel is still usable. */
	kill(d2, SIGUSR1);
	usleep(200 * 1000);
	cr_assert_str_eq(lookup(r, "db.test", 16), "1|127.0.0.1|60");
	swerve_resolver_free(r);
	t_stop(d1);
	t_stop(d2);
	t_cleanup();
}

Test(resolver, refusing_server_is_econnrefused, .timeout = 30)
{
	const char *zone = t_write("zone", "db.test 60 A 127.0.0.1\n");
	pid_t d = start_dnsd(15359, zone, "-r");
	struct swerve_resolver *r = resolver_on(15359, 2000);

	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "-111|db.test: refused by 127.0.0.1:15359 (REFUSED or "
			 "port unreachable)");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/*
 * Nothing listens on the port: Linux answers with ICMP port unreachable
 * (ECONNREFUSED at once); sandboxes that drop it (gVisor) make it silence.
 * Either way the lookup ends within the bound with one of the two.
 */
Test(resolver, closed_port_is_refused_or_timed_out, .timeout = 30)
{
	struct swerve_resolver *r = resolver_on(15360, 600);
	uint64_t start = swerve_now_ms();
	const char *out = lookup(r, "db.test", 16);

	cr_assert(strcmp(out, "-111|db.test: refused by 127.0.0.1:15360 "
			  "(REFUSED or port unreachable)") == 0 ||
		  strncmp(out, "-110|db.test: no answer within 600 ms", 37) ==
			  0, "%s", out);
	cr_assert_leq(swerve_now_ms() - start, 900);
	swerve_resolver_free(r);
	t_cleanup();
}

Test(resolver, a_changed_record_is_seen_by_the_next_lookup, .timeout = 30)
{
	const char *zone = t_write("zone", "db.test 60 A 127.0.0.1\n");
	pid_t d = start_dnsd(15361, zone, NULL);
	struct swerve_resolver *r = resolver_on(15361, 2000);

	cr_assert_str_eq(lookup(r, "db.test", 16), "1|127.0.0.1|60");
	t_write("zone", "db.test 5 A 127.0.0.5\n"
			"db.test 5 AAAA ::5\n");
	cr_assert_str_eq(lookup(r, "db.test", 16), "2|127.0.0.5 ::5|5");
	t_write("zone", "other.test 5 A 127.0.0.6\n");
	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "-2|db.test: no such name (NXDOMAIN) from "
			 "127.0.0.1:15361");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/*
 * The resolver reaches connect, close, recvfrom and sendmsg through the
 * libc door (scripts/check-door.sh proves it never calls them by name), but
 * it opens its sockets with the plain socket(), which this executable
 * interposes to count them and their flags. Sockets still open are counted
 * in /proc/self/fd.
 */
static int n_socket, n_flagged;

int socket(int domain, int type, int proto)
{
	static int (*real)(int, int, int);

	if (real == NULL)
		real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	n_socket++;
	if ((type & (SOCK_CLOEXEC | SOCK_NONBLOCK)) ==
	    (SOCK_CLOEXEC | SOCK_NONBLOCK))
		n_flagged++;
	return real(domain, type, proto);
}

static int open_sockets(void)
{
	char path[300], link[64];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	ssize_t n;
	int count = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			count += strncmp(link, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return count;
}

Test(resolver, opens_one_flagged_socket_per_lookup_and_keeps_none, .timeout = 30)
{
	const char *zone = t_write("zone",
				   "db.test 60 A 127.0.0.1\n"
				   "db.test 60 A 127.0.0.2\n"
				   "db.test 60 AAAA ::1\n");
	pid_t d = start_dnsd(15362, zone, NULL);
	struct swerve_resolver *r =
		resolver_at("127.0.0.1:15362", "b", 2000);
	int open_before = open_sockets();

	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "3|127.0.0.1 127.0.0.2 ::1|60");
	/*
	 * One UDP socket for the A and AAAA queries: no RFC 6724 sort,
	 * which would connect() one more socket per address.
	 */
	cr_assert_eq(n_socket, 1);
	cr_assert_eq(n_flagged, 1); /* non-blocking, close-on-exec */
	/* Nothing stays open between lookups. */
	cr_assert_eq(open_sockets(), open_before);
	cr_assert_str_eq(lookup(r, "db.test", 16),
			 "3|127.0.0.1 127.0.0.2 ::1|60");
	cr_assert_eq(n_socket, 2);
	cr_assert_eq(open_sockets(), open_before);
	swerve_resolver_free(r);
	cr_assert_eq(open_sockets(), open_before);
	t_stop(d);
	t_cleanup();
}

Test(resolver, works_in_a_forked_child_and_after_it, .timeout = 30)
{
	const char *zone = t_write("zone",
				   "db.test 60 A 127.0.0.1\n"
				   "db.test 60 AAAA ::1\n");
	pid_t d = start_dnsd(15363, zone, NULL);
	struct swerve_resolver *r =
		resolver_at("127.0.0.1:15363", "b", 2000);
	int status, before, open_before;
	pid_t child;

	cr_assert_str_eq(lookup(r, "db.test", 16), "2|127.0.0.1 ::1|60");
	before = n_socket;
	open_before = open_sockets();
	child = fork();
	cr_assert_neq(child, -1);
	if (child == 0) {
		struct sockaddr_storage a[4];
		uint32_t ttl;
		int ok, i;

		/* Twice: the first replaces the channel, the second reuses
		 * the child's own. Criterion must not see the child. */
		for (i = 0; i < 2; i++) {
			ok = swerve_resolver_lookup(r, "db.test", a, 4, &ttl,
						    NULL, 0) == 2 &&
			     a[0].ss_family == AF_INET &&
			     a[1].ss_family == AF_INET6 && ttl == 60;
			if (!ok)
				_exit(1);
		}
		swerve_resolver_free(r);
		_exit(n_socket == before + 2 &&
		      open_sockets() == open_before ? 0 : 2);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_assert_str_eq(lookup(r, "db.test", 16), "2|127.0.0.1 ::1|60");
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/* /etc/hosts (or c-ares' RFC 6761 fallback) answers; nothing is sent. */
Test(resolver, hosts_file_answers_localhost_with_ttl_0, .timeout = 30)
{
	struct swerve_resolver *r = resolver_at("127.0.0.1:15364", "f", 2000);
	const char *out = lookup(r, "localhost", 16);

	cr_assert(strncmp(out, "1|127.0.0.1|0", 13) == 0 ||
		  strstr(out, "|127.0.0.1 ") != NULL, "%s", out);
	cr_assert_str_eq(out + strlen(out) - 2, "|0");
	cr_assert_eq(n_socket, 0);
	cr_assert_str_eq(swerve_resolver_source(r), "/etc/hosts");
	swerve_resolver_free(r);
}

Test(resolver, ip_literals_answer_themselves_without_a_query, .timeout = 30)
{
	struct swerve_resolver *r = resolver_at("127.0.0.1:15365", "b", 2000);

	cr_assert_str_eq(lookup(r, "127.0.0.7", 16), "1|127.0.0.7|0");
	cr_assert_str_eq(lookup(r, "::1", 16), "1|::1|0");
	cr_assert_eq(n_socket, 0);
	swerve_resolver_free(r);
}

Test(resolver, rejects_bad_settings_and_arguments, .timeout = 30)
{
	struct swerve_resolver *r = (void *)1;
	struct sockaddr_storage a[1];
	char err[256] = "";
	uint32_t ttl;

	cr_assert_eq(swerve_resolver_new("127.0.0.1:15366", "x", 1000,
					 &r, err, sizeof(err)), -EINVAL);
	cr_assert_null(r);
	cr_assert_str_eq(err, "DNS lookups \"x\": want b, f, fb or bf");
	cr_assert_eq(swerve_resolver_new("127.0.0.1:15366", "b", 0, &r,
					 NULL, 0), -EINVAL);
	cr_assert_eq(swerve_resolver_new("not an address", "b", 1000,
					 &r, err, sizeof(err)), -EINVAL);
	cr_assert(strncmp(err, "DNS servers \"not an address\": ", 30) == 0,
		  "%s", err);
	r = resolver_at("127.0.0.1:15366, [::1]:15366", "fb", 1000);
	cr_assert_str_eq(swerve_resolver_source(r),
			 "/etc/hosts, 127.0.0.1:15366, [::1]:15366");
	cr_assert_eq(swerve_resolver_lookup(r, "", a, 1, &ttl, err,
					    sizeof(err)), -EINVAL);
	cr_assert_eq(swerve_resolver_lookup(r, "db.test", a, 0, &ttl, NULL, 0),
		     -EINVAL);
	swerve_resolver_free(r);
	swerve_resolver_free(NULL);
}
