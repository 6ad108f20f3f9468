/*
 * swervectl on a service whose endpoint is a name (resolution = dns): a
 * real DNS responder (tests/helpers/dnsd) gives the name several loopback
 * addresses, each served by a real httpd, and a real client (the probe
 * helper) runs under the library so that every address has its row in the
 * shared table. An operator then ejects one address, and every view of
 * swervectl must tell the same story: endpoints, explain and events list
 * the addresses (never the name alone), the ejected one ejected, the others
 * healthy, and explain's next connect is a healthy address. eject, uneject
 * and reset take the addresses as endpoints shows them.
 *
 * Ports 15470..15479 and addresses 127.10.90-99.x belong to this file, one
 * port and one /24 per test.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

#define MAX_ROWS 32
#define EJECTED "\"status\": \"ejected\""

/* One endpoint as a swervectl view lists it. */
struct row {
	char endpoint[64];
	bool ejected;
};

/*
 * Starts dnsd on 127.0.0.1:<port> with three addresses for east.mydb.test
 * in <net>, an httpd on each, and writes the config; returns its path.
 */
static const char *bed(int port, const char *net, pid_t *pids)
{
	char zone[256], addr[32], text[1024];
	int i;

	snprintf(zone, sizeof(zone),
		 "east.mydb.test 30 A %s.2\n"
		 "east.mydb.test 30 A %s.3\n"
		 "east.mydb.test 30 A %s.4\n", net, net, net);
	pids[0] = t_dnsd(port, t_write("zone", zone), NULL);
	cr_assert(pids[0] > 0, "dnsd on port %d did not start", port);
	for (i = 0; i < 3; i++) {
		snprintf(addr, sizeof(addr), "%s.%d", net, i + 2);
		pids[i + 1] = t_server(addr, 18080, addr, "ok");
		cr_assert(pids[i + 1] > 0, "server on %s did not start", addr);
	}
	/* Outlier detection on, so that an ejection counts. */
	snprintf(text, sizeof(text),
		 "[swerve]\nlocality = us-east1\ndns_servers = 127.0.0.1:%d\n"
		 "[service mydb]\nhosts = mydb.com\nports = 80\n"
		 "resolution = dns\n"
		 "endpoint = east.mydb.test:18080 locality=us-east1\n"
		 "consecutive_5xx_errors = 1\nbase_ejection_time = 1m\n",
		 port);
	return t_write("swerve.ini", text);
}

/* Runs swervectl -c <config> <args...> on table <shm>. */
static void ctl_run(struct run *r, const char *config, const char *shm,
		    const char *const *args)
{
	char bin[512], sv[128];
	const char *env[] = { sv, NULL };
	const char *argv[12] = { bin, "-c", config };
	int n = 3;

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	while (*args != NULL && n < 11)
		argv[n++] = *args++;
	argv[n] = NULL;
	t_run(r, false, env, 20, argv);
}

/* The same, which must succeed. */
static void ctl(struct run *r, const char *config, const char *shm,
		const char *const *args)
{
	ctl_run(r, config, shm, args);
	cr_assert_eq(r->status, 0, "swervectl %s (%d): %s", args[0],
		     r->status, r->err);
}

/* Probe processes under the library: each address gets its row. */
static void clients(const char *config, const char *shm, int n)
{
	char cv[600], sv[128], bin[512];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = { bin, "-m", "soerror", "mydb.com", "80", NULL };
	struct run r;
	int i;

	snprintf(bin, sizeof(bin), "%s/tests/probe", t_build());
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	for (i = 0; i < n; i++) {
		t_run(&r, true, env, 30, argv);
		cr_assert_eq(r.status, 0, "probe %d (%d): %s", i + 1, r.status,
			     r.err);
	}
}

/* The rows of `endpoints --json`: each object's endpoint and status. */
static int endpoints_rows(const char *json, struct row *rows)
{
	const char *p = json, *end;
	int n = 0;

	while (n < MAX_ROWS && (p = strstr(p, "\"endpoint\": \"")) != NULL) {
		p += strlen("\"endpoint\": \"");
		end = strchr(p, '"');
		cr_assert_not_null(end);
		snprintf(rows[n].endpoint, sizeof(rows[n].endpoint), "%.*s",
			 (int)(end - p), p);
		end = strchr(p, '}');
		cr_assert_not_null(end, "%s", json);
		rows[n].ejected = memmem(p, (size_t)(end - p), EJECTED,
					 strlen(EJECTED)) != NULL;
		n++;
		p = end;
	}
	return n;
}

/*
 * The endpoint lines of explain's tiers, "  ENDPOINT LOCALITY weight W
 * healthy|ejected for D": locality lines ("  locality ...") do not have
 * "weight" third, so they do not match.
 */
static int explain_rows(const char *out, struct row *rows)
{
	const char *p = out;
	char state[16];
	int n = 0;

	while (p != NULL && *p != '\0' && n < MAX_ROWS) {
		if (strncmp(p, "  ", 2) == 0 && p[2] != ' ' &&
		    sscanf(p, "%63s %*s weight %*u %15s", rows[n].endpoint,
			   state) == 2) {
			cr_assert(strcmp(state, "healthy") == 0 ||
				  strcmp(state, "ejected") == 0,
				  "line: %.80s", p);
			rows[n].ejected = strcmp(state, "ejected") == 0;
			n++;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return n;
}

static const struct row *find_row(const struct row *rows, int n,
				   const char *endpoint)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].endpoint, endpoint) == 0)
			return &rows[i];
	return NULL;
}

static void stop_all(pid_t *pids)
{
	int i;

	for (i = 0; i < 4; i++)
		t_stop(pids[i]);
	t_cleanup();
}

/*
 * The bed of <port> and <net>, after <n> clients ran through the library
 * and an operator ejected <net>.3 by the address endpoints shows; returns
 * the config.
 */
static const char *drained(int port, const char *net, const char *shm,
			   pid_t *pids)
{
	char addr[48];
	const char *eject[] = { "eject", "mydb", addr, "--for", "1m", NULL };
	const char *config = bed(port, net, pids);
	struct run r;

	clients(config, shm, 3);
	snprintf(addr, sizeof(addr), "%s.3:18080", net);
	ctl(&r, config, shm, eject);
	cr_assert(strstr(r.out, "ejected for 1m0s") != NULL, "%s", r.out);
	return config;
}

Test(cli_dns, explain_and_endpoints_agree_on_the_addresses_of_a_name,
     .timeout = 90)
{
	const char *shm = t_shm(), *config;
	const char *json[] = { "endpoints", "--json", NULL };
	const char *explain[] = { "explain", "mydb.com", NULL };
	struct row ep[MAX_ROWS], ex[MAX_ROWS];
	const struct row *e, *x;
	char next[64] = "", *p;
	int nep, nex, i;
	pid_t pids[4];
	struct run r;

	config = drained(15470, "127.10.90", shm, pids);
	ctl(&r, config, shm, json);
	nep = endpoints_rows(r.out, ep);
	ctl(&r, config, shm, explain);
	nex = explain_rows(r.out, ex);
	p = strstr(r.out, "next connect:");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_eq(sscanf(p, "next connect: %63s", next), 1, "%s", r.out);

	cr_assert_eq(nep, 3, "endpoints lists %d rows", nep);
	cr_assert_eq(nex, nep, "explain lists %d endpoints, endpoints %d:\n%s",
		     nex, nep, r.out);
	for (i = 0; i < nep; i++) {
		x = find_row(ex, nex, ep[i].endpoint);
		cr_assert_not_null(x, "explain does not list %s:\n%s",
				   ep[i].endpoint, r.out);
		cr_assert_eq(x->ejected, ep[i].ejected, "%s: explain says %s, "
			     "endpoints %s", ep[i].endpoint,
			     x->ejected ? "ejected" : "healthy",
			     ep[i].ejected ? "ejected" : "healthy");
		cr_assert_eq(ep[i].ejected,
			     strcmp(ep[i].endpoint, "127.10.90.3:18080") == 0,
			     "%s", ep[i].endpoint);
	}
	e = find_row(ep, nep, next);
	cr_assert_not_null(e, "next connect %s is no address endpoints "
			   "lists:\n%s", next, r.out);
	cr_assert_not(e->ejected, "next connect %s is ejected", next);
	stop_all(pids);
}

Test(cli_dns, events_name_the_ejected_address_behind_a_name, .timeout = 90)
{
	const char *shm = t_shm(), *config;
	const char *table[] = { "events", NULL };
	const char *json[] = { "events", "--json", NULL };
	pid_t pids[4];
	struct run r;

	config = drained(15471, "127.10.91", shm, pids);
	ctl(&r, config, shm, table);
	cr_assert_not_null(strstr(r.out, "mydb 127.10.91.3:18080"), "%s",
			   r.out);
	ctl(&r, config, shm, json);
	cr_assert_not_null(strstr(r.out, "\"type\": \"eject\", \"service\": "
				  "\"mydb\", \"endpoint\": "
				  "\"127.10.91.3:18080\""), "%s", r.out);
	stop_all(pids);
}

/*
 * reset SERVICE forgets the rows programs use, the addresses', and a
 * name is not an endpoint one can eject: its addresses are.
 */
Test(cli_dns, reset_of_a_service_clears_its_addresses, .timeout = 90)
{
	const char *shm = t_shm(), *config;
	const char *reset[] = { "reset", "mydb", NULL };
	const char *byname[] = { "eject", "mydb", "east.mydb.test:18080",
				 NULL };
	const char *json[] = { "endpoints", "--json", NULL };
	struct row ep[MAX_ROWS];
	pid_t pids[4];
	struct run r;
	int n, i;

	config = drained(15472, "127.10.92", shm, pids);
	ctl(&r, config, shm, reset);
	cr_assert_not_null(strstr(r.out, "mydb 127.10.92.3:18080: reset"),
			   "%s", r.out);
	ctl(&r, config, shm, json);
	n = endpoints_rows(r.out, ep);
	cr_assert_eq(n, 3, "%s", r.out);
	for (i = 0; i < n; i++)
		cr_assert_not(ep[i].ejected, "%s is still ejected",
			      ep[i].endpoint);
	cr_assert_not_null(strstr(r.out, "\"ejections\": 0"), "%s", r.out);
	cr_assert_null(strstr(r.out, "\"ejections\": 1"), "%s", r.out);

	ctl_run(&r, config, shm, byname);
	cr_assert_eq(r.status, 1, "stdout: %s stderr: %s", r.out, r.err);
	cr_assert_not_null(strstr(r.err, "127.10.92.3:18080"), "%s", r.err);
	stop_all(pids);
}
