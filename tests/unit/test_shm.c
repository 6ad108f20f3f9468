/*
 * Unit tests of shm.c. Criterion runs every test in its own process (maybe
 * in parallel), so each test names its segments "/swerve-test-<pid>-<n>"
 * and removes them in its .fini. Tests that need several processes fork
 * children that only ever leave through _exit().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"

#define NOW 1000000u /* any fixed time: the clock is a parameter */

static char names[8][64];
static unsigned nnames;

static const char *new_name(void)
{
	char *n = names[nnames % 8];

	snprintf(n, sizeof(names[0]), "/swerve-test-%d-%u", (int)getpid(),
		 nnames);
	nnames++;
	shm_unlink(n); /* a leftover of a crashed earlier run */
	return n;
}

static void unlink_names(void)
{
	unsigned i;

	for (i = 0; i < nnames && i < 8; i++)
		shm_unlink(names[i]);
}

static struct swerve_outlier_cfg test_cfg(void)
{
	struct swerve_outlier_cfg c = {
		.enabled = true,
		.consecutive_5xx = 5,
		.consecutive_gateway = 0,
		.consecutive_local_origin = 5,
		.interval_ms = 10000,
		.base_ejection_ms = 30000,
		.max_ejection_ms = 300000,
		.max_ejection_percent = 100,
		.min_ejectable_hosts = 1,
	};

	return c;
}

/* One refused connect to <row>, events into <tab> (may be NULL). */
static enum swerve_outlier_event fail_in(struct swerve_shm *tab,
					 struct swerve_shm_row *row,
					 const struct swerve_outlier_cfg *c,
					 uint64_t now)
{
	return swerve_shm_report(tab, &row, 1, 0, c,
				 SWERVE_OUTCOME_CONNECT_FAILED, 0, now);
}

static enum swerve_outlier_event fail_once(struct swerve_shm_row *row,
					   const struct swerve_outlier_cfg *c,
					   uint64_t now)
{
	return fail_in(NULL, row, c, now);
}

/* Writes a segment by hand, the way a foreign or broken program would. */
static void make_segment(const char *name, size_t size,
			 const struct swerve_shm_header *hdr)
{
	void *map;
	int fd;

	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_neq(fd, -1, "shm_open: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (hdr != NULL && size > 0) {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   0);
		cr_assert_neq(map, MAP_FAILED);
		memcpy(map, hdr, size < sizeof(*hdr) ? size : sizeof(*hdr));
		munmap(map, size);
	}
	close(fd);
}

static struct swerve_shm_header good_header(void)
{
	struct swerve_shm_header h;

	memset(&h, 0, sizeof(h));
	h.magic = SWERVE_SHM_MAGIC;
	h.version = SWERVE_SHM_VERSION;
	h.header_size = sizeof(struct swerve_shm_header);
	h.row_size = sizeof(struct swerve_shm_row);
	h.nrows = SWERVE_SHM_ROWS;
	h.nevents = SWERVE_SHM_EVENTS;
	h.event_size = sizeof(struct swerve_shm_event);
	atomic_store(&h.ready, 1);
	h.creator_pid = (uint32_t)getpid();
	return h;
}

static size_t full_size(void)
{
	return sizeof(struct swerve_shm_header) +
	       SWERVE_SHM_ROWS * sizeof(struct swerve_shm_row) +
	       SWERVE_SHM_EVENTS * sizeof(struct swerve_shm_event);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/* The row of <key> in an empty table, found by inserting and undoing it. */
static size_t home_of(struct swerve_shm *tab, uint64_t key)
{
	struct swerve_shm_row *row = swerve_shm_row(tab, key, true);

	cr_assert_not_null(row);
	atomic_store(&row->key, 0);
	return (size_t)(row - tab->rows);
}

Test(shm, created_table_is_seen_by_a_second_attach, .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm a, b, c;
	struct swerve_shm_row *ra, *rb;
	char err[256];

	cr_assert_eq(swerve_shm_attach(name, true, &a, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert(a.shared);
	cr_assert_str_eq(a.name, name);
	cr_assert_eq(swerve_shm_attach(name, false, &b, err, sizeof(err)), 0,
		     "%s", err);
	/* create=true on an existing table attaches, it does not re-create */
	cr_assert_eq(swerve_shm_attach(name, true, &c, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_neq((void *)a.hdr, (void *)b.hdr);

	ra = swerve_shm_row(&a, 42, true);
	cr_assert_not_null(ra);
	atomic_store(&ra->connects_ok, 7);
	rb = swerve_shm_row(&b, 42, false);
	cr_assert_not_null(rb);
	cr_assert_eq(rb - b.rows, ra - a.rows);
	cr_assert_eq(atomic_load(&rb->connects_ok), 7);
	cr_assert_eq(swerve_shm_row(&c, 42, false) - c.rows, ra - a.rows);
	cr_assert_null(swerve_shm_row(&b, 43, false));

	swerve_shm_detach(&a);
	swerve_shm_detach(&b);
	swerve_shm_detach(&c);
	cr_assert_null(a.hdr);
}

#define RACERS 8

/* Every racer creates-or-attaches at once: all must end on one table. */
Test(shm, racing_creators_all_attach_to_one_table, .fini = unlink_names,
     .timeout = 10)
{
	const char *name = new_name();
	_Atomic int *go;
	struct swerve_shm t;
	pid_t pids[RACERS];
	char err[256];
	int i, status;

	go = mmap(NULL, sizeof(*go), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(go, MAP_FAILED);
	for (i = 0; i < RACERS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] != 0)
			continue;
		while (atomic_load(go) == 0)
			;
		if (swerve_shm_attach(name, true, &t, err, sizeof(err)) != 0)
			_exit(1);
		if (swerve_shm_row(&t, 100 + (uint64_t)i, true) == NULL ||
		    swerve_shm_row(&t, 7, true) == NULL)
			_exit(2);
		_exit(0);
	}
	atomic_store(go, 1);
	for (i = 0; i < RACERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "racer %d: status %#x", i, status);
	}
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)), 0,
		     "%s", err);
	for (i = 0; i < RACERS; i++)
		cr_assert_not_null(swerve_shm_row(&t, 100 + (uint64_t)i,
						  false));
	cr_assert_not_null(swerve_shm_row(&t, 7, false));
	munmap((void *)go, sizeof(*go));
	swerve_shm_detach(&t);
}

Test(shm, attach_without_create_of_missing_table_is_enoent,
     .fini = unlink_names)
{
	struct swerve_shm t;
	char err[256] = "";

	cr_assert_eq(swerve_shm_attach(new_name(), false, &t, err,
				       sizeof(err)), -ENOENT);
	cr_assert_neq(err[0], '\0');
	cr_assert_null(t.hdr);
	/* the reason is optional */
	cr_assert_eq(swerve_shm_attach(new_name(), false, &t, NULL, 0),
		     -ENOENT);
	cr_assert_eq(swerve_shm_attach("", true, &t, err, sizeof(err)),
		     -EINVAL);
}

Test(shm, created_segment_has_mode_0600_whatever_the_umask,
     .fini = unlink_names)
{
	static const mode_t masks[] = { 0, 022, 0777 };
	char path[128], err[256];
	struct swerve_shm t;
	struct stat sb;
	mode_t old;
	unsigned i;

	for (i = 0; i < 3; i++) {
		const char *name = new_name();

		old = umask(masks[i]);
		cr_assert_eq(swerve_shm_attach(name, true, &t, err,
					       sizeof(err)), 0, "%s", err);
		umask(old);
		snprintf(path, sizeof(path), "/dev/shm%s", name);
		cr_assert_eq(stat(path, &sb), 0);
		cr_assert_eq(sb.st_mode & 07777, 0600, "umask %o: mode %o",
			     masks[i], sb.st_mode & 07777);
		swerve_shm_detach(&t);
	}
}

Test(shm, rows_collide_into_the_next_free_row)
{
	struct swerve_shm t;
	struct swerve_shm_row *ra, *rb;
	size_t nrows = SWERVE_SHM_ROWS, homes[64];
	uint64_t a = 0, b = 0, c = 0, k, last_a = 0, last_b = 0;
	unsigned i, j;

	cr_assert_eq(swerve_shm_private(&t), 0);
	cr_assert_not(t.shared);
	/* Three keys with one home row (birthday search over small keys). */
	for (k = 1; k < 64 && c == 0; k++) {
		homes[k] = home_of(&t, k);
		for (j = 1; j < k; j++) {
			if (homes[j] != homes[k])
				continue;
			if (a == 0) {
				a = j;
				b = k;
			} else if (homes[j] == homes[a] && j != b) {
				c = k;
			}
			break;
		}
	}
	for (k = 64; c == 0 && k < 100000; k++)
		if (a != 0 && home_of(&t, k) == homes[a])
			c = k;
	cr_assert_neq(a, 0);
	cr_assert_neq(c, 0);

	ra = swerve_shm_row(&t, a, true);
	rb = swerve_shm_row(&t, b, true);
	cr_assert_eq((size_t)(ra - t.rows), homes[a]);
	cr_assert_eq((size_t)(rb - t.rows), (homes[a] + 1) % nrows);
	cr_assert_eq(swerve_shm_row(&t, a, false), ra);
	cr_assert_eq(swerve_shm_row(&t, b, false), rb);
	cr_assert_eq(swerve_shm_row(&t, b, true), rb, "no second row");
	cr_assert_null(swerve_shm_row(&t, c, false));
	cr_assert_eq(swerve_shm_row(&t, c, true) - t.rows,
		     (long)((homes[a] + 2) % nrows));

	/* Probing wraps from the last row to the first. */
	for (k = 100000; last_b == 0 && k < 10000000; k++) {
		if (home_of(&t, k) != nrows - 1)
			continue;
		if (last_a == 0)
			last_a = k;
		else
			last_b = k;
	}
	cr_assert_neq(last_b, 0);
	for (i = 0; i < nrows; i++)
		atomic_store(&t.rows[i].key, 0);
	cr_assert_eq(swerve_shm_row(&t, last_a, true) - t.rows,
		     (long)(nrows - 1));
	cr_assert_eq(swerve_shm_row(&t, last_b, true) - t.rows, 0);
	cr_assert_eq(swerve_shm_row(&t, last_b, false) - t.rows, 0);
	swerve_shm_detach(&t);
}

Test(shm, full_table_has_no_row_for_one_more_key, .fini = unlink_names)
{
	struct swerve_shm t;
	struct swerve_shm_row *row;
	static unsigned char seen[SWERVE_SHM_ROWS];
	char err[256];
	uint64_t k;

	cr_assert_eq(swerve_shm_attach(new_name(), true, &t, err,
				       sizeof(err)), 0, "%s", err);
	for (k = 1; k <= SWERVE_SHM_ROWS; k++) {
		row = swerve_shm_row(&t, k * 7919, true);
		cr_assert_not_null(row, "key %llu", (unsigned long long)k);
		cr_assert_eq(seen[row - t.rows], 0);
		seen[row - t.rows] = 1;
	}
	cr_assert_null(swerve_shm_row(&t, 1, true));
	cr_assert_null(swerve_shm_row(&t, 1, false));
	cr_assert_not_null(swerve_shm_row(&t, 7919 * 77, false));
	cr_assert_not_null(swerve_shm_row(&t, 7919 * 77, true));
	swerve_shm_detach(&t);
}

Test(shm, zero_key_null_and_zeroed_tables_are_harmless)
{
	struct swerve_shm zero, t;
	struct swerve_outlier_state st;
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *none = NULL;

	memset(&zero, 0, sizeof(zero));
	cr_assert_null(swerve_shm_row(&zero, 5, true));
	cr_assert_null(swerve_shm_row(NULL, 5, true));
	swerve_shm_detach(&zero);
	swerve_shm_detach(NULL);
	cr_assert_eq(swerve_shm_private(&t), 0);
	cr_assert_null(swerve_shm_row(&t, 0, true));
	cr_assert_not(swerve_shm_is_ejected(NULL, NOW));
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, &c, NOW, &st), -EINVAL);
	cr_assert_eq(swerve_shm_report(NULL, &none, 1, 0, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_report(NULL, &none, 1, 3, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_eject(NULL, NULL, 1000, NOW), -EINVAL);
	cr_assert_eq(swerve_shm_uneject(NULL, NULL, NOW), -EINVAL);
	cr_assert_eq(swerve_shm_reset_row(NULL), -EINVAL);
	swerve_shm_detach(&t);
}

Test(shm, report_ejects_at_threshold_and_publishes_the_deadline,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;
	char err[256];
	uint64_t until;
	int i;

	cr_assert_eq(swerve_shm_attach(new_name(), true, &t, err,
				       sizeof(err)), 0, "%s", err);
	row = swerve_shm_row(&t, 99, true);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fail_once(row, &c, NOW + (uint64_t)i),
			     SWERVE_OUTLIER_NONE);
	cr_assert_not(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(fail_once(row, &c, NOW + 4), SWERVE_OUTLIER_EJECT);
	until = atomic_load(&row->ejected_until_ms);
	cr_assert_eq(until, NOW + 4 + 30000);
	cr_assert(swerve_shm_is_ejected(row, NOW + 5));
	cr_assert(swerve_shm_is_ejected(row, until - 1));
	cr_assert_not(swerve_shm_is_ejected(row, until));
	cr_assert_eq(atomic_load(&row->connects_failed), 5);
	cr_assert_eq(atomic_load(&row->updated_ms), NOW + 4);

	/* more failures while ejected: no second ejection */
	cr_assert_eq(fail_once(row, &c, NOW + 6), SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW + 7, &st), 0);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 1);

	/* the next report after the deadline brings it back */
	cr_assert_eq(swerve_shm_report(NULL, &row, 1, 0, &c,
				       SWERVE_OUTCOME_CONNECT_OK, 0, until),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(atomic_load(&row->ejected_until_ms), 0);
	cr_assert_eq(atomic_load(&row->connects_ok), 1);

	/* HTTP statuses count too */
	for (i = 0; i < 4; i++)
		cr_assert_eq(swerve_shm_report(NULL, &row, 1, 0, &c,
					       SWERVE_OUTCOME_HTTP_STATUS,
					       503, until + 1),
			     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_report(NULL, &row, 1, 0, &c,
				       SWERVE_OUTCOME_HTTP_STATUS, 500,
				       until + 1),
		     SWERVE_OUTLIER_EJECT);
	cr_assert_eq(atomic_load(&row->connects_failed), 6);
	swerve_shm_detach(&t);
}

Test(shm, snapshot_shows_an_expired_ejection_as_over)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;
	uint64_t until;
	int i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 1234, true);
	for (i = 0; i < 5; i++)
		fail_once(row, &c, NOW);
	until = atomic_load(&row->ejected_until_ms);
	cr_assert_gt(until, NOW);
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, until, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, until);
	cr_assert_eq(atomic_load(&row->ejected_until_ms), 0);
	/* without a config the state is copied as it is */
	cr_assert_eq(swerve_shm_snapshot(NULL, row, NULL, until, &st), 0);
	cr_assert_eq(st.ejections, 1);
	swerve_shm_detach(&t);
}

Test(shm, cap_of_zero_never_ejects)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm t;
	struct swerve_shm_row *rows[2];
	enum swerve_outlier_event ev;
	int i;

	c.max_ejection_percent = 10;
	c.min_ejectable_hosts = 0;
	cr_assert_eq(swerve_shm_private(&t), 0);
	rows[0] = swerve_shm_row(&t, 1, true);
	rows[1] = swerve_shm_row(&t, 2, true);
	for (i = 0; i < 10; i++) {
		ev = swerve_shm_report(NULL, rows, 2, 0, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
		cr_assert_neq(ev, SWERVE_OUTLIER_EJECT);
		if (i >= 4)
			cr_assert_eq(ev, SWERVE_OUTLIER_OVERFLOW);
	}
	cr_assert_not(swerve_shm_is_ejected(rows[0], NOW));
	swerve_shm_detach(&t);
}

Test(shm, cap_of_one_ejects_only_one_of_two)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm t;
	struct swerve_shm_row *rows[2];
	enum swerve_outlier_event ev = SWERVE_OUTLIER_NONE;
	int i;

	c.max_ejection_percent = 10;
	c.min_ejectable_hosts = 1;
	cr_assert_eq(swerve_shm_private(&t), 0);
	rows[0] = swerve_shm_row(&t, 1, true);
	rows[1] = swerve_shm_row(&t, 2, true);
	for (i = 0; i < 5; i++)
		ev = swerve_shm_report(NULL, rows, 2, 0, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	cr_assert_eq(ev, SWERVE_OUTLIER_EJECT);
	for (i = 0; i < 5; i++)
		ev = swerve_shm_report(NULL, rows, 2, 1, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	cr_assert_eq(ev, SWERVE_OUTLIER_OVERFLOW);
	cr_assert(swerve_shm_is_ejected(rows[0], NOW));
	cr_assert_not(swerve_shm_is_ejected(rows[1], NOW));
	/* once the first is back, the second may go */
	ev = swerve_shm_report(NULL, rows, 2, 1, &c,
			       SWERVE_OUTCOME_CONNECT_FAILED,
			       0, atomic_load(&rows[0]->ejected_until_ms));
	cr_assert_eq(ev, SWERVE_OUTLIER_EJECT);
	swerve_shm_detach(&t);
}

Test(shm, disabled_detection_counts_streaks_but_never_ejects)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;
	int i;

	c.enabled = false;
	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 77, true);
	for (i = 0; i < 12; i++)
		cr_assert_eq(fail_once(row, &c, NOW), SWERVE_OUTLIER_NONE);
	cr_assert_not(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW, &st), 0);
	cr_assert_eq(st.c5xx, 12);
	cr_assert_eq(st.ejections, 0);
	swerve_shm_detach(&t);
}

#define HAMMER_PROCS 2
#define HAMMER_ROWS 16
#define HAMMER_REPORTS 200

struct hammer_shared {
	_Atomic int go;
	_Atomic int ejects[HAMMER_ROWS];
};

static void hammer_child(const char *name, struct hammer_shared *sh)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm t;
	struct swerve_shm_row *row;
	int i, r;

	if (swerve_shm_attach(name, false, &t, NULL, 0) != 0)
		_exit(2);
	while (atomic_load(&sh->go) == 0)
		;
	for (i = 0; i < HAMMER_REPORTS; i++) {
		for (r = 0; r < HAMMER_ROWS; r++) {
			row = swerve_shm_row(&t, 1000 + (uint64_t)r, true);
			if (row == NULL)
				_exit(3);
			if (fail_in(&t, row, &c, NOW) == SWERVE_OUTLIER_EJECT)
				atomic_fetch_add(&sh->ejects[r], 1);
		}
	}
	swerve_shm_detach(&t);
	_exit(0);
}

Test(shm, two_processes_failing_at_once_eject_once_per_streak,
     .fini = unlink_names, .timeout = 30)
{
	const char *name = new_name();
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct hammer_shared *sh;
	struct swerve_shm t;
	struct swerve_shm_row *row;
	struct swerve_shm_event_info *evs;
	pid_t pids[HAMMER_PROCS];
	char err[256];
	int i, status;
	size_t n, k;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	for (i = 0; i < HAMMER_PROCS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0)
			hammer_child(name, sh);
	}
	atomic_store(&sh->go, 1);
	for (i = 0; i < HAMMER_PROCS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "child status %#x", status);
	}
	for (i = 0; i < HAMMER_ROWS; i++) {
		row = swerve_shm_row(&t, 1000 + (uint64_t)i, false);
		cr_assert_not_null(row);
		cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW, &st), 0);
		cr_assert_eq(st.ejected, 1);
		cr_assert_eq(st.ejections, 1, "row %d: %u ejections", i,
			     st.ejections);
		cr_assert_eq(atomic_load(&sh->ejects[i]), 1);
		cr_assert_eq(atomic_load(&row->connects_failed),
			     HAMMER_PROCS * HAMMER_REPORTS);
	}
	/* The event log agrees: one EJECT per row, whoever wrote it. */
	evs = calloc(SWERVE_SHM_EVENTS, sizeof(*evs));
	cr_assert_not_null(evs);
	n = swerve_shm_events(&t, evs, SWERVE_SHM_EVENTS, NULL);
	for (i = 0; i < HAMMER_ROWS; i++) {
		unsigned ejects = 0;

		for (k = 0; k < n; k++)
			if (evs[k].key == 1000 + (uint64_t)i &&
			    evs[k].type == SWERVE_EVENT_EJECT)
				ejects++;
		cr_assert_eq(ejects, 1, "row %d: %u EJECT events", i, ejects);
	}
	free(evs);
	munmap(sh, sizeof(*sh));
	swerve_shm_detach(&t);
}

Test(shm, lock_holder_dying_does_not_hang_the_next_report,
     .fini = unlink_names, .timeout = 10)
{
	const char *name = new_name();
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;
	char err[256];
	pid_t pid;
	int status;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	row = swerve_shm_row(&t, 5, true);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct swerve_shm ct;
		struct swerve_shm_row *cr;

		if (swerve_shm_attach(name, false, &ct, NULL, 0) != 0)
			_exit(2);
		cr = swerve_shm_row(&ct, 5, false);
		if (cr == NULL || pthread_mutex_lock(&cr->lock) != 0)
			_exit(3);
		/* half an update, then death */
		cr->st.ejected = 7;
		cr->st.ejection_ms = UINT64_MAX;
		cr->st.ejected_at_ms = UINT64_MAX;
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(fail_once(row, &c, NOW), SWERVE_OUTLIER_NONE);
	cr_assert_not(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.ejection_ms, 0);
	cr_assert_leq(st.ejected_at_ms, NOW);
	/* the mutex is consistent again: plain locking works */
	cr_assert_eq(pthread_mutex_trylock(&row->lock), 0);
	pthread_mutex_unlock(&row->lock);
	cr_assert_eq(fail_once(row, &c, NOW), SWERVE_OUTLIER_NONE);
	swerve_shm_detach(&t);
}

static void expect_eproto(const char *name, const char *what)
{
	struct swerve_shm t;
	char err[256] = "";
	int rc;

	rc = swerve_shm_attach(name, false, &t, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%s: rc %d (%s)", what, rc, err);
	cr_assert_neq(err[0], '\0', "%s: no reason", what);
	cr_assert_null(t.hdr);
	/* create=true must not repair it either */
	rc = swerve_shm_attach(name, true, &t, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%s (create): rc %d (%s)", what, rc, err);
}

Test(shm, foreign_or_corrupt_segments_are_refused, .fini = unlink_names)
{
	struct swerve_shm_header h;
	const char *name;
	uint64_t magic = 0;
	void *map;
	int fd;

	h = good_header();
	h.magic = 0x1122334455667788ull;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "magic");
	/* refused, not rewritten */
	fd = shm_open(name, O_RDONLY, 0);
	cr_assert_neq(fd, -1);
	map = mmap(NULL, sizeof(h), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(map, MAP_FAILED);
	memcpy(&magic, map, sizeof(magic));
	munmap(map, sizeof(h));
	cr_assert_eq(magic, 0x1122334455667788ull);
	shm_unlink(name);

	h = good_header();
	h.version = SWERVE_SHM_VERSION + 1;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "version");
	shm_unlink(name);

	h = good_header();
	h.row_size = 128;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "row_size");
	shm_unlink(name);

	h = good_header();
	h.header_size = 512;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "header_size");
	shm_unlink(name);

	h = good_header();
	h.nrows = 0;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "nrows 0");
	shm_unlink(name);

	h = good_header();
	h.nrows = UINT32_MAX;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "nrows huge");
	shm_unlink(name);

	h = good_header();
	name = new_name();
	make_segment(name, sizeof(h) + 10 * sizeof(struct swerve_shm_row),
		     &h);
	expect_eproto(name, "truncated");
	shm_unlink(name);

	h = good_header();
	name = new_name();
	make_segment(name, 100, &h);
	expect_eproto(name, "shorter than a header");
	shm_unlink(name);

	h = good_header();
	h.event_size = 32;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "event_size");
	shm_unlink(name);

	h = good_header();
	h.nevents = UINT32_MAX;
	name = new_name();
	make_segment(name, full_size(), &h);
	expect_eproto(name, "nevents huge");
	shm_unlink(name);

	/* rows fit, the ring does not */
	h = good_header();
	name = new_name();
	make_segment(name, full_size() - sizeof(struct swerve_shm_event), &h);
	expect_eproto(name, "ring truncated");
	shm_unlink(name);
}

Test(shm, smaller_table_of_another_build_is_used_within_its_bounds,
     .fini = unlink_names)
{
	struct swerve_shm_header h = good_header();
	const char *name = new_name();
	struct swerve_shm t;
	struct swerve_shm_row *row;
	char err[256];
	uint64_t k;
	unsigned n = 0;

	h.nrows = 8;
	/* ... in a segment larger than the header says */
	make_segment(name, full_size(), &h);
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(t.size, sizeof(h) + 8 * sizeof(struct swerve_shm_row) +
		     SWERVE_SHM_EVENTS * sizeof(struct swerve_shm_event));
	cr_assert_eq(t.nrows, 8);
	cr_assert_eq((void *)t.events, (void *)(t.rows + 8),
		     "the ring follows the rows the header declares");
	for (k = 1; k < 100; k++) {
		row = swerve_shm_row(&t, k, true);
		if (row == NULL)
			continue;
		cr_assert_lt(row - t.rows, 8);
		n++;
	}
	cr_assert_eq(n, 8);
	swerve_shm_detach(&t);
}

Test(shm, half_created_table_is_refused_with_its_creator,
     .fini = unlink_names)
{
	struct swerve_shm_header h;
	const char *name;
	struct swerve_shm t;
	char err[256] = "", want[64];
	uint64_t t0;
	pid_t dead = dead_pid();

	memset(&h, 0, sizeof(h));
	h.creator_pid = (uint32_t)dead;
	h.created_ms = swerve_now_ms();
	name = new_name();
	make_segment(name, full_size(), &h);
	t0 = swerve_now_ms();
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_lt(swerve_now_ms() - t0, 1000);
	snprintf(want, sizeof(want), "pid %d", (int)dead);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_not_null(strstr(err, "swervectl reset"), "%s", err);
	shm_unlink(name);

	/* creator alive, but long ago */
	h.creator_pid = (uint32_t)getpid();
	h.created_ms = 1;
	name = new_name();
	make_segment(name, full_size(), &h);
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);
	shm_unlink(name);

	/* never even sized */
	name = new_name();
	make_segment(name, 0, NULL);
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);
	cr_assert_null(t.hdr);
	shm_unlink(name);
}

Test(shm, segment_of_another_user_is_refused, .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm t;
	char err[256] = "";
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to give a segment away");
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0);
	swerve_shm_detach(&t);
	fd = shm_open(name, O_RDWR, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(fchown(fd, 65534, 65534), 0);
	close(fd);
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "uid 65534"), "%s", err);
}

Test(shm, operator_eject_uneject_and_reset)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 31337, true);
	cr_assert_eq(swerve_shm_eject(NULL, row, 0, NOW), -EINVAL);

	cr_assert_eq(swerve_shm_eject(NULL, row, 45000, NOW), 0);
	cr_assert(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(atomic_load(&row->ejected_until_ms), NOW + 45000);
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW + 1, &st), 0);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.ejection_ms, 45000);
	cr_assert_eq(st.backoff, 0);

	cr_assert_eq(swerve_shm_uneject(NULL, row, NOW + 100), 0);
	cr_assert_not(swerve_shm_is_ejected(row, NOW + 100));
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW + 101, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, NOW + 100);
	cr_assert_eq(st.ejections, 1);
	/* un-ejecting an endpoint in service changes nothing */
	cr_assert_eq(swerve_shm_uneject(NULL, row, NOW + 200), 0);
	cr_assert_eq(swerve_shm_snapshot(NULL, row, NULL, NOW + 201, &st), 0);
	cr_assert_eq(st.unejected_at_ms, NOW + 100);

	fail_once(row, &c, NOW + 300);
	cr_assert_eq(swerve_shm_reset_row(row), 0);
	cr_assert_eq(swerve_shm_snapshot(NULL, row, &c, NOW + 400, &st), 0);
	cr_assert_eq(st.ejections, 0);
	cr_assert_eq(st.c5xx, 0);
	cr_assert_eq(st.unejected_at_ms, 0);
	cr_assert_eq(atomic_load(&row->connects_failed), 0);
	cr_assert_eq(atomic_load(&row->ejected_until_ms), 0);
	cr_assert_eq(atomic_load(&row->key), 31337, "the row stays claimed");
	swerve_shm_detach(&t);
}

Test(shm, private_table_works_and_is_shared_with_a_forked_child)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm t;
	struct swerve_shm_row *row;
	pid_t pid;
	int i, status;

	cr_assert_eq(swerve_shm_private(&t), 0);
	cr_assert_not(t.shared);
	row = swerve_shm_row(&t, 4242, true);
	cr_assert_not_null(row);
	for (i = 0; i < 4; i++)
		fail_once(row, &c, NOW);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(fail_once(row, &c, NOW) == SWERVE_OUTLIER_EJECT ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert(swerve_shm_is_ejected(row, NOW));
	swerve_shm_detach(&t);
}

/* The event ring ------------------------------------------------------- */

Test(shm, ring_records_eject_uneject_and_one_overflow_per_streak)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_event_info ev[16];
	struct swerve_shm_row *rows[2];
	struct swerve_outlier_state st;
	struct swerve_shm t;
	uint64_t lost = 7;
	size_t n;
	int i;

	c.consecutive_5xx = 2;
	c.max_ejection_percent = 0;
	c.min_ejectable_hosts = 1;
	cr_assert_eq(swerve_shm_private(&t), 0);
	rows[0] = swerve_shm_row(&t, 11, true);
	rows[1] = swerve_shm_row(&t, 22, true);
	cr_assert_eq(swerve_shm_events(&t, ev, 16, &lost), 0);
	cr_assert_eq(lost, 0);

	/* row 11 ejected by its second refusal */
	for (i = 0; i < 2; i++)
		swerve_shm_report(&t, rows, 2, 0, &c,
				  SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	/* row 22 reaches the threshold but the cap (1) is taken: overflow
	 * once, however many failures follow */
	for (i = 0; i < 5; i++)
		cr_assert_eq(swerve_shm_report(&t, rows, 2, 1, &c,
					       SWERVE_OUTCOME_CONNECT_FAILED,
					       0, NOW + 1),
			     i < 1 ? SWERVE_OUTLIER_NONE :
			     SWERVE_OUTLIER_OVERFLOW);
	n = swerve_shm_events(&t, ev, 16, NULL);
	cr_assert_eq(n, 2);
	cr_assert_eq(ev[0].type, SWERVE_EVENT_EJECT);
	cr_assert_eq(ev[0].key, 11);
	cr_assert_eq(ev[0].reason, SWERVE_REASON_5XX);
	cr_assert_eq(ev[0].streak, 2);
	cr_assert_eq(ev[0].value, 1, "first ejection");
	cr_assert_eq(ev[0].duration_ms, 30000);
	cr_assert_eq(ev[0].at_ms, NOW);
	cr_assert_eq(ev[0].pid, (uint32_t)getpid());
	cr_assert_eq(ev[1].type, SWERVE_EVENT_OVERFLOW);
	cr_assert_eq(ev[1].key, 22);
	cr_assert_eq(ev[1].streak, 2);
	cr_assert_lt(ev[0].seq, ev[1].seq);

	/* A snapshot after the ejection time writes the UNEJECT, stamped at
	 * the virtual tick, once. */
	cr_assert_eq(swerve_shm_snapshot(&t, rows[0], &c, NOW + 45000, &st),
		     0);
	cr_assert_eq(swerve_shm_snapshot(&t, rows[0], &c, NOW + 46000, &st),
		     0);
	n = swerve_shm_events(&t, ev, 16, NULL);
	cr_assert_eq(n, 3);
	cr_assert_eq(ev[2].type, SWERVE_EVENT_UNEJECT);
	cr_assert_eq(ev[2].reason, SWERVE_REASON_EXPIRED);
	cr_assert_eq(ev[2].at_ms, NOW + 30000);
	cr_assert_eq(ev[2].duration_ms, 30000);
	swerve_shm_detach(&t);
}

Test(shm, ring_uneject_and_reeject_in_one_report_are_two_events)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_event_info ev[8];
	struct swerve_shm_row *row;
	struct swerve_shm t;
	size_t n;

	c.consecutive_5xx = 1;
	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 5, true);
	cr_assert_eq(fail_in(&t, row, &c, NOW), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(fail_in(&t, row, &c, NOW + 31000), SWERVE_OUTLIER_EJECT);
	n = swerve_shm_events(&t, ev, 8, NULL);
	cr_assert_eq(n, 3);
	cr_assert_eq(ev[1].type, SWERVE_EVENT_UNEJECT);
	cr_assert_eq(ev[1].duration_ms, 30000, "the ejection that ended");
	cr_assert_eq(ev[2].type, SWERVE_EVENT_EJECT);
	cr_assert_eq(ev[2].value, 2);
	cr_assert_eq(ev[2].duration_ms, 60000, "backoff 2");
	swerve_shm_detach(&t);
}

Test(shm, ring_keeps_the_newest_and_counts_the_lost)
{
	struct swerve_shm_event_info in, *out;
	struct swerve_shm t;
	uint64_t lost = 0;
	size_t n, i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	memset(&in, 0, sizeof(in));
	in.type = SWERVE_EVENT_EJECT;
	in.reason = SWERVE_REASON_OPERATOR;
	for (i = 0; i < SWERVE_SHM_EVENTS + 500; i++) {
		in.at_ms = i;
		cr_assert_eq(swerve_shm_event_add(&t, &in), 0);
	}
	out = calloc(SWERVE_SHM_EVENTS, sizeof(*out));
	cr_assert_not_null(out);
	n = swerve_shm_events(&t, out, SWERVE_SHM_EVENTS, &lost);
	cr_assert_eq(n, SWERVE_SHM_EVENTS);
	cr_assert_eq(lost, 500);
	for (i = 0; i < n; i++)
		cr_assert_eq(out[i].at_ms, 500 + i, "oldest first");
	/* a smaller buffer gets the newest */
	n = swerve_shm_events(&t, out, 10, &lost);
	cr_assert_eq(n, 10);
	cr_assert_eq(out[0].at_ms, SWERVE_SHM_EVENTS + 490);
	cr_assert_eq(out[9].at_ms, SWERVE_SHM_EVENTS + 499);

	/* a slot left half-written (seq 0) or scribbled on is skipped */
	atomic_store(&t.events[3].seq, 0);
	t.events[4].type = 99;
	n = swerve_shm_events(&t, out, SWERVE_SHM_EVENTS, NULL);
	cr_assert_eq(n, SWERVE_SHM_EVENTS - 2);
	cr_assert_eq(swerve_shm_event_add(NULL, &in), -EINVAL);
	free(out);
	swerve_shm_detach(&t);
}

Test(shm, operator_edits_are_events)
{
	struct swerve_shm_event_info ev[8];
	struct swerve_shm_row *row;
	struct swerve_shm t;
	size_t n;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 77, true);
	cr_assert_eq(swerve_shm_eject(&t, row, 5000, NOW), 0);
	cr_assert_eq(swerve_shm_uneject(&t, row, NOW + 10), 0);
	/* un-ejecting an endpoint in service is no event */
	cr_assert_eq(swerve_shm_uneject(&t, row, NOW + 20), 0);
	n = swerve_shm_events(&t, ev, 8, NULL);
	cr_assert_eq(n, 2);
	cr_assert_eq(ev[0].type, SWERVE_EVENT_EJECT);
	cr_assert_eq(ev[0].reason, SWERVE_REASON_OPERATOR);
	cr_assert_eq(ev[0].duration_ms, 5000);
	cr_assert_eq(ev[1].type, SWERVE_EVENT_UNEJECT);
	cr_assert_eq(ev[1].reason, SWERVE_REASON_OPERATOR);
	cr_assert_eq(ev[1].at_ms, NOW + 10);
	swerve_shm_detach(&t);
}

Test(shm, panic_changes_are_reported_once)
{
	struct swerve_shm_event_info ev[8];
	struct swerve_shm t;
	uint64_t key = swerve_shm_service_key("mydb");
	size_t n;

	cr_assert_eq(swerve_shm_private(&t), 0);
	cr_assert_neq(key, 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 0, NOW), 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 1, NOW + 1), 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 1, NOW + 2), 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 3, NOW + 3), 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 0, NOW + 4), 0);
	cr_assert_eq(swerve_shm_panic_note(&t, "mydb", 0, NOW + 5), 0);
	n = swerve_shm_events(&t, ev, 8, NULL);
	cr_assert_eq(n, 3);
	cr_assert_eq(ev[0].type, SWERVE_EVENT_PANIC_ENTER);
	cr_assert_eq(ev[0].value, 1);
	cr_assert_eq(ev[0].key, key);
	cr_assert_eq(ev[0].at_ms, NOW + 1);
	cr_assert_eq(ev[1].type, SWERVE_EVENT_PANIC_ENTER);
	cr_assert_eq(ev[1].value, 3, "a change of tiers is reported");
	cr_assert_eq(ev[2].type, SWERVE_EVENT_PANIC_EXIT);
	cr_assert_eq(ev[2].value, 3, "what it left");
	cr_assert_eq(ev[2].reason, SWERVE_REASON_HEALTH);
	/* the service row is no endpoint: never ejected */
	cr_assert_not(swerve_shm_is_ejected(swerve_shm_row(&t, key, false),
					    NOW));
	cr_assert_eq(swerve_shm_panic_note(NULL, "mydb", 1, NOW), -EINVAL);
	swerve_shm_detach(&t);
}
