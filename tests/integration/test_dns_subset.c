/*
 * A name with more addresses than the SWERVE_DNS_MAX_ADDRS endpoints it
 * has room for (40 A and 10 AAAA records, from a real dnsd): each host
 * keeps a subset of its own, of both families, which an address coming or
 * going changes by that address only. Hosts are played by seeds in the
 * resolver tests, and by UTS namespaces with host names of their own for
 * swervectl, which resolves as the library does.
 *
 * Ports 15710..15714 and addresses 127.10.173.x belong to this file.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/swerve.h"
#include "names/resolver.h"
#include "support.h"

#define V4 40
#define V6 10

/* The zone of big.test, leaving out address <skip> (an index, or -1). */
static const char *big_zone(int skip)
{
	static char text[4096];
	size_t len = 0;
	int i;

	for (i = 0; i < V4 + V6; i++) {
		if (i == skip)
			continue;
		if (i < V4)
			len += (size_t)snprintf(text + len, sizeof(text) - len,
						"big.test 60 A 127.10.173.%d\n",
						i + 1);
		else
			len += (size_t)snprintf(
				text + len, sizeof(text) - len,
				"big.test 60 AAAA 2001:db8::%x\n", i - V4 + 1);
	}
	return text;
}

/* The index of <ss> in big_zone()'s order. */
static int index_of(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (int)(ntohl(sin->sin_addr.s_addr) & 0xff) - 1;
	return V4 + sin6->sin6_addr.s6_addr[15] - 1;
}

/* Looks big.test up as host <seed>; fills <in> (by index) and counts. */
static void subset_of(struct swerve_resolver *r, uint64_t seed, bool *in,
		      int *n4, int *n6)
{
	struct sockaddr_storage a[SWERVE_DNS_MAX_ADDRS];
	char err[256] = "";
	uint32_t ttl;
	int n, i;

	swerve_resolver_set_subset_seed(r, seed);
	n = swerve_resolver_lookup(r, "big.test", a, SWERVE_DNS_MAX_ADDRS,
				   &ttl, err, sizeof(err));
	cr_assert_eq(n, SWERVE_DNS_MAX_ADDRS, "%d %s", n, err);
	memset(in, 0, (V4 + V6) * sizeof(*in));
	*n4 = *n6 = 0;
	for (i = 0; i < n; i++) {
		in[index_of(&a[i])] = true;
		if (a[i].ss_family == AF_INET)
			(*n4)++;
		else
			(*n6)++;
		/* Still sorted: IPv4 first, by bytes. */
		if (i > 0)
			cr_assert(a[i - 1].ss_family < a[i].ss_family ||
				  (a[i - 1].ss_family == a[i].ss_family &&
				   index_of(&a[i - 1]) < index_of(&a[i])));
	}
}

static struct swerve_resolver *resolver_on(int port)
{
	struct swerve_resolver *r = NULL;
	char servers[64], err[256] = "";

	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	cr_assert_eq(swerve_resolver_new(servers, "b", 2000, &r, err,
					 sizeof(err)), 0, "%s", err);
	return r;
}

/*
 * Each family keeps its share (40 of 50 is 12.8 of 16 places: 13 IPv4, 3
 * IPv6), not the 16 lowest IPv4 addresses, and twenty hosts between them
 * use nearly every address.
 */
Test(dns_subset, hosts_keep_subsets_of_their_own_with_both_families,
     .timeout = 30)
{
	pid_t d = t_dnsd(15710, t_write("zone", big_zone(-1)), NULL);
	struct swerve_resolver *r;
	bool in[V4 + V6], used[V4 + V6], lowest = true;
	int n4, n6, seed, i, nused = 0;

	cr_assert(d > 0);
	r = resolver_on(15710);
	memset(used, 0, sizeof(used));
	for (seed = 1; seed <= 20; seed++) {
		subset_of(r, (uint64_t)seed, in, &n4, &n6);
		cr_assert_eq(n4, 13, "seed %d: %d IPv4", seed, n4);
		cr_assert_eq(n6, 3, "seed %d: %d IPv6", seed, n6);
		for (i = 0; i < V4 + V6; i++)
			used[i] = used[i] || in[i];
		for (i = 0; i < 13; i++)
			lowest = lowest && in[i];
	}
	for (i = 0; i < V4 + V6; i++)
		nused += used[i];
	cr_assert_not(lowest, "every host kept the lowest addresses");
	cr_assert_geq(nused, 40, "twenty hosts use only %d of 50", nused);
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/* Rendezvous hashing: an address leaving the answer moves nothing else
 * out; one outside the subset leaving changes nothing at all. */
Test(dns_subset, an_address_that_goes_moves_no_other_one, .timeout = 30)
{
	const char *zone = t_write("zone", big_zone(-1));
	pid_t d = t_dnsd(15711, zone, NULL);
	struct swerve_resolver *r;
	bool before[V4 + V6], after[V4 + V6];
	int n4, n6, out = -1, kept = -1, i, lost = 0;

	cr_assert(d > 0);
	r = resolver_on(15711);
	subset_of(r, 7, before, &n4, &n6);
	for (i = 0; i < V4; i++) {
		if (!before[i] && out < 0)
			out = i;
		if (before[i] && kept < 0)
			kept = i;
	}
	t_write("zone", big_zone(out));
	subset_of(r, 7, after, &n4, &n6);
	cr_assert_arr_eq(before, after, sizeof(before));
	t_write("zone", big_zone(kept));
	subset_of(r, 7, after, &n4, &n6);
	for (i = 0; i < V4 + V6; i++)
		lost += before[i] && !after[i];
	cr_assert_eq(lost, 1);
	cr_assert_not(after[kept]);
	swerve_resolver_free(r);
	t_stop(d);
	t_cleanup();
}

/*
 * What the library routes to, per host: swervectl resolves the names as the
 * library does, in two UTS namespaces named host-a and host-b.
 */
static int endpoints_on_host(const char *host, const char *config,
			     const char *shm, struct run *r)
{
	char bin[512], sv[128], script[256];
	const char *env[] = { sv, NULL };
	const char *argv[] = { "unshare", "-u", "sh", "-c", script, bin,
			       config, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	snprintf(script, sizeof(script),
		 "hostname %s && exec \"$0\" -c \"$1\" endpoints --json",
		 host);
	t_run(r, false, env, 20, argv);
	return r->status;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

Test(dns_subset, two_hosts_route_to_different_subsets, .timeout = 60)
{
	static struct run ra, rb;
	const char *a = ra.out, *b = rb.out;
	pid_t d = t_dnsd(15712, t_write("zone", big_zone(-1)), NULL);
	const char *shm = t_shm(), *config;

	cr_assert(d > 0);
	if (!t_have("unshare"))
		cr_skip_test("no unshare(1)");
	config = t_write("swerve.ini",
			 "[swerve]\n"
			 "vip_cidr    = 127.92.0.0/16\n"
			 "dns_servers = 127.0.0.1:15712\n"
			 "[service mydb]\n"
			 "hosts      = mydb.com\n"
			 "resolution = dns\n"
			 "endpoint   = big.test:18080\n");
	if (endpoints_on_host("host-a", config, shm, &ra) != 0)
		cr_skip_test("no UTS namespace here: %s", ra.err);
	cr_assert_eq(endpoints_on_host("host-b", config, shm, &rb), 0, "%s",
		     rb.err);
	cr_assert_eq(count(a, "\"endpoint\": \"127.10.173."), 13, "%s", a);
	cr_assert_eq(count(a, "\"endpoint\": \"[2001:db8::"), 3, "%s", a);
	cr_assert_eq(count(b, "\"endpoint\": \"[2001:db8::"), 3, "%s", b);
	cr_assert_str_neq(a, b, "both hosts keep the same subset");
	t_stop(d);
	t_cleanup();
}
