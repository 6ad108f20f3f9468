/*
 * Fault cases of a shared table that other programs damage while real
 * clients under the library connect through it: random bytes written over
 * the whole segment, and the name's file truncated, filled with junk, or
 * its segment removed. No client may crash or hang; a client that finds
 * the table written over says so once and keeps health to itself, and
 * newcomers refuse the damaged table with one line and still connect.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../integration/support.h"
#include "table/shm.h"
#include "table_faults.h"

#define CLIENTS 4

static void start_clients(const char *config, const char *shm, pid_t *pids)
{
	char tag[32];
	int i;

	for (i = 0; i < CLIENTS; i++) {
		snprintf(tag, sizeof(tag), "client%d", i);
		pids[i] = f_client(config, shm, 0, NULL, 0, tag);
	}
	/* Let every one attach and connect a while. */
	usleep(300 * 1000);
}

/* Stops the clients: each must have run clean, and said <said> (NULL:
 * nothing) exactly once. */
static void stop_clients(pid_t *pids, const char *said)
{
	const char *out;
	char tag[32];
	int i, rc;

	for (i = 0; i < CLIENTS; i++) {
		snprintf(tag, sizeof(tag), "client%d", i);
		rc = f_stop(pids[i]);
		cr_assert_eq(rc, 0, "status %d: %s", rc, f_output(tag));
		out = f_output(tag);
		if (said != NULL)
			cr_assert_eq(f_count(out, said), 1, "%s", out);
		cr_assert_eq(f_count(out, "swerve: "), said != NULL, "%s", out);
	}
}

/* A newcomer connects, and says <said> once and nothing else. */
static void newcomer(const char *config, const char *shm, const char *said)
{
	const char *out;
	pid_t c;
	int rc;

	c = f_client(config, shm, 10, NULL, 0, "newcomer");
	rc = f_reap(c, 30);
	cr_assert_eq(rc, 0, "status %d: %s", rc, f_output("newcomer"));
	out = f_output("newcomer");
	cr_assert_eq(f_count(out, said), 1, "%s", out);
	cr_assert_eq(f_count(out, "swerve: "), 1, "%s", out);
}

/*
 * Clients connect through a live table while random bytes go over it:
 * the whole segment, or (<rows_only>) every row under an intact header.
 * Newcomers then refuse it saying <refusal>.
 */
static void scribbled(const char *prefix, bool rows_only,
		      const char *refusal)
{
	const char *shm = t_shm(), *config;
	char live[32];
	unsigned char *p;
	struct swerve_shm t;
	pid_t pids[CLIENTS], srv;
	size_t i, len;

	snprintf(live, sizeof(live), "%s.3", prefix);
	srv = t_server(live, 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	config = f_config(prefix, 1000, NULL);
	f_attach(shm, &t);
	start_clients(config, shm, pids);
	p = rows_only ? (unsigned char *)t.rows : (unsigned char *)t.hdr;
	len = rows_only ? t.nrows * sizeof(*t.rows) : t.size;
	srand(7);
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)rand();
	usleep(500 * 1000);
	stop_clients(pids, "was written over");
	newcomer(config, shm, refusal);
	swerve_shm_detach(&t);
	swerve_shm_unlink(shm);
	f_stop(srv);
}

Test(table_faults, random_bytes_over_a_live_table_are_detected_and_survived,
     .fini = f_cleanup, .timeout = 120)
{
	scribbled("127.10.202", false, "is not its table");
}

Test(table_faults, rows_written_over_are_detected_and_survived,
     .fini = f_cleanup, .timeout = 120)
{
	scribbled("127.10.203", true, "was written over (row");
}

Test(table_faults, truncating_the_table_kills_nobody, .fini = f_cleanup,
     .timeout = 120)
{
	const char *prefix = "127.10.204", *shm = t_shm(), *config;
	char junk[8192];
	pid_t pids[CLIENTS], srv;
	int fd;

	srv = t_server("127.10.204.3", 18080, "live", "ok");
	f_track(srv);
	cr_assert_gt(srv, 0);
	config = f_config(prefix, 1000, NULL);
	start_clients(config, shm, pids);
	/* A real ftruncate from another process, then another program's
	 * data under the same name. */
	fd = shm_open(shm, O_RDWR, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(ftruncate(fd, 0), 0);
	usleep(300 * 1000);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	close(fd);
	usleep(300 * 1000);
	/* The table itself was never touched: they go on sharing it. */
	stop_clients(pids, NULL);
	newcomer(config, shm, "not a swerve table");
	swerve_shm_unlink(shm);
	f_stop(srv);
}
