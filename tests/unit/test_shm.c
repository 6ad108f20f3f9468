/*
 * Unit tests of the table itself (shm.c, shm_segment.c): creation,
 * attachment and its validation, and rows. Criterion runs every test in
 * its own process (maybe in parallel), so each test names its tables
 * "/swerve-test-<pid>-<n>" and removes them in its .fini. Tests that need
 * several processes fork children that only ever leave through _exit().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"
#include "test_shm_support.h"

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
	struct shmid_ds ds;
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
		/* the file's page is reserved, not just a size */
		cr_assert_geq(sb.st_blocks * 512, 4096);
		cr_assert_eq(shmctl(read_link(name).shmid, IPC_STAT, &ds), 0);
		cr_assert_eq(ds.shm_perm.mode & 0777, 0600, "umask %o: "
			     "segment mode %o", masks[i],
			     ds.shm_perm.mode & 0777);
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
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, NULL, &c, NOW, &st),
		     -EINVAL);
	cr_assert_eq(swerve_shm_report(NULL, NULL, &none, 1, 0, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_report(NULL, NULL, &none, 1, 3, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_eject(NULL, NULL, NULL, 1000, NOW), -EINVAL);
	cr_assert_eq(swerve_shm_uneject(NULL, NULL, NULL, NOW), -EINVAL);
	cr_assert_eq(swerve_shm_reset_row(NULL, NULL), -EINVAL);
	swerve_shm_detach(&t);
}
