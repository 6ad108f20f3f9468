/*
 * Unit tests of a table written over while in use (swerve_shm_trust and
 * the replacement in shm_segment.c) and of the consistency check
 * (shm_check.c). A second attachment plays the program that scribbles on
 * the segment; the first, the library, must notice before its next
 * change, keep its rows (same addresses, same keys) in a private copy,
 * say so once, and never crash or wait.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "table/shm.h"
#include "table/shm_int.h"
#include "test_shm_support.h"

#define KEYS 32

static void scribble(void *p, size_t len, unsigned seed)
{
	unsigned char *b = p;
	size_t i;

	srand(seed);
	for (i = 0; i < len; i++)
		b[i] = (unsigned char)rand();
}

/* Attaches <name> twice: <lib> the library, <other> the scribbler. */
static void two_views(const char *name, struct swerve_shm *lib,
		      struct swerve_shm *other,
		      struct swerve_shm_row *rows[KEYS])
{
	char err[256];
	size_t i;

	cr_assert_eq(swerve_shm_attach(name, true, lib, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(swerve_shm_attach(name, false, other, err, sizeof(err)),
		     0, "%s", err);
	for (i = 0; i < KEYS; i++)
		rows[i] = swerve_shm_row(lib, 100 + i, true);
}

/* After the replacement: every row this process had is still its own. */
static void expect_rows_kept(struct swerve_shm *lib,
			     struct swerve_shm_row *rows[KEYS])
{
	char err[256];
	size_t i;

	cr_assert_not(lib->shared);
	for (i = 0; i < KEYS; i++) {
		cr_assert_eq(atomic_load(&rows[i]->key), 100 + i);
		cr_assert_eq(swerve_shm_row(lib, 100 + i, false), rows[i]);
	}
	/* The copy was repaired by the real clock, so checked by it too. */
	cr_assert_eq(swerve_shm_check(lib, swerve_now_ms(), err, sizeof(err)),
		     0, "%s", err);
}

Test(shm_damage, a_header_written_over_is_replaced_by_a_private_copy,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *rows[KEYS];
	struct swerve_shm lib, other;
	char out[1024];
	int fd, saved;

	two_views(new_name(), &lib, &other, rows);
	fail_in(&lib, rows[3], &c, NOW);
	scribble(other.hdr, sizeof(*other.hdr), 1);
	fd = capture_stderr(&saved);
	fail_in(&lib, rows[3], &c, NOW);
	fail_in(&lib, rows[4], &c, NOW);
	captured(fd, saved, out, sizeof(out));
	cr_assert_not_null(strstr(out, "written over"), "%s", out);
	cr_assert_not_null(strstr(out, "kept in this process"), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "once: %s",
		     out);
	expect_rows_kept(&lib, rows);
	cr_assert_eq(rows[3]->st.c5xx, 2, "the state came along");
	/* what the scribbler does now is no longer ours */
	atomic_store(&other.rows[rows[3] - lib.rows].connects_ok, 777);
	cr_assert_eq(atomic_load(&rows[3]->connects_ok), 0);
	swerve_shm_detach(&other);
	swerve_shm_detach(&lib);
}

Test(shm_damage, rows_written_over_keep_the_keys_this_process_was_given,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *rows[KEYS];
	struct swerve_shm lib, other;
	int fd, saved;
	char out[1024];

	two_views(new_name(), &lib, &other, rows);
	scribble(other.rows, other.nrows * sizeof(*other.rows), 2);
	fd = capture_stderr(&saved);
	fail_in(&lib, rows[7], &c, NOW);
	captured(fd, saved, out, sizeof(out));
	cr_assert_not_null(strstr(out, "written over"), "%s", out);
	expect_rows_kept(&lib, rows);
	cr_assert_eq(rows[7]->st.c5xx, 1);
	cr_assert_not_null(swerve_shm_row(&lib, 5555, true),
			   "rows nobody here had are free again");
	swerve_shm_detach(&other);
	swerve_shm_detach(&lib);
}

Test(shm_damage, random_bytes_anywhere_never_crash_or_hang_a_reporter,
     .fini = unlink_names, .timeout = 60)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *rows[KEYS];
	struct swerve_outlier_state st;
	struct swerve_shm lib, other;
	size_t i, off, len;
	int fd, saved;
	char out[1024];
	unsigned r;

	two_views(new_name(), &lib, &other, rows);
	fd = capture_stderr(&saved);
	srand(3);
	for (r = 0; r < 2000; r++) {
		/* a random stretch of the segment, header and ring included */
		off = (size_t)rand() % other.size;
		len = 1 + (size_t)rand() % 4096;
		if (off + len > other.size)
			len = other.size - off;
		scribble((char *)other.hdr + off, len, r);
		for (i = 0; i < KEYS; i++) {
			fail_in(&lib, rows[i], &c, NOW + r);
			swerve_shm_report(&lib, NULL, &rows[i], 1, 0, &c,
					  SWERVE_OUTCOME_CONNECT_OK, 0,
					  NOW + r);
			swerve_shm_snapshot(&lib, NULL, rows[i], &c, NOW + r,
					    &st);
			(void)swerve_shm_is_ejected(rows[i], NOW + r);
		}
		(void)swerve_shm_row_named(&lib, 7000 + r, 1000, NOW + r);
		(void)swerve_shm_panic_note(&lib, "svc", r % 3, NOW + r);
	}
	captured(fd, saved, out, sizeof(out));
	cr_assert_not_null(strstr(out, "written over"), "%s", out);
	expect_rows_kept(&lib, rows);
	swerve_shm_detach(&other);
	swerve_shm_detach(&lib);
}

Test(shm_damage, the_check_finds_what_cannot_occur)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *row;
	struct swerve_shm t;
	char err[256];

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 9, true);
	fail_in(&t, row, &c, NOW);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 0, "%s",
		     err);

	row->st.ejected = 3;
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "cannot occur"), "%s", err);
	row->st.ejected = 0;

	atomic_store(&row->ejected_until_ms, NOW + 5);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "deadline"), "%s", err);
	atomic_store(&row->ejected_until_ms, 0);

	atomic_store(&row->quiet, 1);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "quiet"), "%s", err);
	atomic_store(&row->quiet, 0);

	atomic_store(&t.rows[77].tag, 0);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "row 77"), "%s", err);
	atomic_store(&t.rows[77].tag, SWERVE_SHM_ROW_TAG);

	t.hdr->nonce ^= 1;
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 1);
	cr_assert_not_null(strstr(err, "header"), "%s", err);
	t.hdr->nonce ^= 1;
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 0, "%s",
		     err);
	swerve_shm_detach(&t);
}
