/*
 * Config and resource bounds as real processes meet them: `swervectl
 * check` reports every limit the library enforces (a file it accepts must
 * never turn swerve off in a process), and the largest valid config costs
 * a process what its endpoints need, not hundreds of megabytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/swerve.h"
#include "support.h"

static void check(struct run *r, const char *config)
{
	char bin[512];
	const char *argv[] = { bin, "check", config, NULL };

	snprintf(bin, sizeof(bin), "%s/swervectl", t_build());
	t_run(r, false, NULL, 30, argv);
}

/*
 * <nservices> services of <neps> endpoints each, written to the test's
 * directory; with <names>, the endpoints are host names.
 */
static const char *big_config(unsigned nservices, unsigned neps, bool names)
{
	char path[512];
	unsigned s, e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/big.ini", t_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "[swerve]\nvip_cidr = 127.94.0.0/16\n"
		   "dns_servers = 127.0.0.1:15719\n");
	for (s = 0; s < nservices; s++) {
		fprintf(f, "\n[service s%u]\nhosts = s%u.test\nports = 80\n%s",
			s, s, names ? "resolution = dns\n"
				    : "consecutive_5xx_errors = 5\n");
		for (e = 0; e < neps; e++) {
			if (names)
				fprintf(f, "endpoint = n%u.s%u.test:80\n", e,
					s);
			else
				fprintf(f, "endpoint = 10.%u.%u.%u:80 "
					   "locality=r1/z%u\n", s % 250 + 1,
					e / 250, e % 250 + 1, e % 4);
		}
	}
	cr_assert_eq(fclose(f), 0);
	return strdup(path);
}

/* 65 names are 1,040 endpoints to the library, which used to turn swerve
 * off in every process after check had passed the file. */
Test(limits, check_counts_names_as_the_library_does, .timeout = 30)
{
	const char *config = big_config(1, 65, true);
	struct run r;

	check(&r, config);
	cr_assert_eq(r.status, 1, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, ":73: service s0 has more than 1024 endpoints "
			 "once each name counts as the 16 addresses") != NULL,
		  "%s", r.err);
	free((void *)config);
	t_cleanup();
}

/* 256 services of 16 endpoints need 4,352 rows: the table has 4,096. */
Test(limits, check_notes_a_config_larger_than_the_table, .timeout = 30)
{
	const char *config = big_config(256, 16, false);
	struct run r;

	check(&r, config);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert(strstr(r.err, "note: the config takes up to 4352 rows of "
			 "the shared table, which has 4096") != NULL,
		  "%s", r.err);
	free((void *)config);
	t_cleanup();
}

/*
 * The largest config swerve accepts, 256 services of 1,024 endpoints,
 * loaded by a real program: it used to cost about 620 MB in every process
 * (1.9 KB per endpoint, and every service's routing plans filled in).
 */
Test(limits, the_largest_config_costs_what_it_uses, .timeout = 120)
{
	const char *config = big_config(SWERVE_MAX_SERVICES,
					SWERVE_MAX_ENDPOINTS, false);
	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };
	const char *argv[] = {
		"python3", "-c",
		"import socket\n"
		"def rss():\n"
		"    for l in open('/proc/self/status'):\n"
		"        if l.startswith('VmRSS'):\n"
		"            return int(l.split()[1])\n"
		"before = rss()\n"
		"socket.getaddrinfo('s1.test', 80)\n"
		"s = socket.socket()\n"
		"s.setblocking(False)\n"
		"s.connect_ex(('s1.test', 80))\n"
		"print((rss() - before) // 1024)\n",
		NULL
	};
	struct run r;
	long mib;

	if (extra != NULL && extra[0] != '\0')
		cr_skip_test("ASan's shadow memory is no measure here");
	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", t_shm());
	t_run(&r, true, env, 100, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	mib = strtol(r.out, NULL, 10);
	/* 262,144 endpoints of about 450 bytes, their per-process state,
	 * and one service's plan: about 145 MiB. */
	cr_assert_lt(mib, 256, "the config costs %ld MiB: %s", mib, r.err);
	free((void *)config);
	t_cleanup();
}
