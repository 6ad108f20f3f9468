/*
 * c-ares is the system's shared library, loaded privately when a process
 * first resolves a name behind an endpoint, so that the distribution's
 * security updates reach swerve without a rebuild: a process with names
 * maps libcares.so.2, one without names never loads it, and node, which
 * exports the ares_ functions of its own bundled copy, still gets its
 * names resolved by swerve's.
 *
 * Port 15714 and addresses 127.10.174.x belong to this file.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Resolves mydb.com and prints the distinct c-ares objects mapped. */
static const char *const py_maps =
	"import socket\n"
	"socket.getaddrinfo('mydb.com', 80)\n"
	"seen = set()\n"
	"for line in open('/proc/self/maps'):\n"
	"    if 'libcares' in line:\n"
	"        seen.add(line.split()[-1])\n"
	"print('cares:', ' '.join(sorted(seen)) or 'none')\n";

/* Service mydb, its endpoint a name (dnsd on port 15714) or a literal. */
static const char *config_for(bool names)
{
	return t_write("swerve.ini", names ?
		       "[swerve]\n"
		       "vip_cidr = 127.93.0.0/16\n"
		       "dns_servers = 127.0.0.1:15714\n"
		       "[service mydb]\nhosts = mydb.com\nports = 80\n"
		       "resolution = dns\nendpoint = east.mydb.test:18080\n" :
		       "[swerve]\n"
		       "vip_cidr = 127.93.0.0/16\n"
		       "[service mydb]\nhosts = mydb.com\nports = 80\n"
		       "endpoint = 127.10.174.2:18080\n");
}

static void run_under(struct run *r, const char *config, const char *shm,
		      const char *const *argv)
{
	char cv[600], sv[128];
	const char *env[] = { cv, sv, NULL };

	snprintf(cv, sizeof(cv), "SWERVE_CONFIG=%s", config);
	snprintf(sv, sizeof(sv), "SWERVE_SHM=%s", shm);
	t_run(r, true, env, 30, argv);
}

Test(cares, a_process_with_names_maps_the_systems_library, .timeout = 60)
{
	const char *shm = t_shm();
	const char *argv[] = { "python3", "-c", py_maps, NULL };
	pid_t d;
	struct run r;

	d = t_dnsd(15714, t_write("zone", "east.mydb.test 30 A "
					  "127.10.174.2\n"), NULL);
	cr_assert(d > 0);
	run_under(&r, config_for(true), shm, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "cares: /") != NULL &&
		  strstr(r.out, "/libcares.so.2") != NULL, "%s", r.out);
	/* No name anywhere in the config: c-ares is never loaded. */
	run_under(&r, config_for(false), shm, argv);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "cares: none\n");
	t_stop(d);
	t_cleanup();
}

Test(cares, node_with_its_own_cares_gets_names_resolved, .timeout = 60)
{
	const char *shm = t_shm();
	const char *argv[] = {
		"node", "-e",
		"require('http').get('http://mydb.com/', r => {\n"
		"  let b = '';\n"
		"  r.on('data', d => b += d);\n"
		"  r.on('end', () => console.log(b.trim()));\n"
		"}).on('error', e => { console.log(e.message);"
		" process.exit(1); });\n",
		NULL
	};
	pid_t d, s;
	struct run r;

	const char *extra = getenv("SWERVE_PRELOAD_EXTRA");

	if (!t_have("node"))
		cr_skip_test("node is not installed");
	if (extra != NULL && extra[0] != '\0')
		cr_skip_test("node does not start under a preloaded ASan");
	d = t_dnsd(15714, t_write("zone", "east.mydb.test 30 A "
					  "127.10.174.2\n"), NULL);
	s = t_server("127.10.174.2", 18080, "east", "ok");
	cr_assert(d > 0 && s > 0);
	run_under(&r, config_for(true), shm, argv);
	cr_assert_eq(r.status, 0, "%s %s", r.out, r.err);
	cr_assert_str_eq(r.out, "east\n", "%s", r.err);
	t_stop(s);
	t_stop(d);
	t_cleanup();
}
