/*
 * Unit tests of the TLS state of the shared table's rows
 * (swerve_shm_tls_note): handshakes completed, resumed and failed, the
 * last verify error and what keeps or replaces it, that nothing of it
 * takes the row lock, that notes of several processes add up, and that
 * resets and row takeovers clear it. Each test runs in its own process,
 * with the clock as a parameter; children leave only through _exit().
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/swerve.h"
#include "table/shm.h"
#include "table/shm_int.h"
#include "test_shm_support.h"

#define NOTE_PROCS 4
#define NOTES 5000
#define HORIZON 600000u
#define HOSTNAME_MISMATCH 62 /* X509_V_ERR_HOSTNAME_MISMATCH */
#define CERT_HAS_EXPIRED 10  /* X509_V_ERR_CERT_HAS_EXPIRED */

static void expect_tls(struct swerve_shm_row *row, uint64_t ok,
		       uint64_t failed, uint64_t resumed, uint64_t verify)
{
	cr_assert_eq(atomic_load(&row->tls_ok), ok);
	cr_assert_eq(atomic_load(&row->tls_failed), failed);
	cr_assert_eq(atomic_load(&row->tls_resumed), resumed);
	cr_assert_eq(atomic_load(&row->tls_verify_error), verify);
}

/* Fills the TLS state of <row> with something of each. */
static void note_some(struct swerve_shm_row *row)
{
	swerve_shm_tls_note(row, true, true, 0);
	swerve_shm_tls_note(row, false, false, HOSTNAME_MISMATCH);
}

/*
 * The row's lock is held by a live holder throughout: a note takes no
 * lock, so it counts all the same.
 */
Test(shm_tls, notes_count_and_keep_the_last_verify_error)
{
	uint64_t fresh = (uint64_t)0x4242u << 32 | (uint32_t)swerve_now_ms();
	struct swerve_shm_row *row;
	struct swerve_shm t;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 7, true);
	atomic_store(&row->lock, fresh);
	swerve_shm_tls_note(row, true, false, 0);
	swerve_shm_tls_note(row, true, true, 0);
	expect_tls(row, 2, 0, 1, 0);
	/* Resumed means nothing for a handshake that failed. */
	swerve_shm_tls_note(row, false, true, 0);
	expect_tls(row, 2, 1, 1, 0);
	swerve_shm_tls_note(row, false, false, HOSTNAME_MISMATCH);
	expect_tls(row, 2, 2, 1, HOSTNAME_MISMATCH);
	/* Neither a failure that was no certificate's nor a handshake that
	 * completed forgets the last certificate failure. */
	swerve_shm_tls_note(row, false, false, 0);
	swerve_shm_tls_note(row, true, false, CERT_HAS_EXPIRED);
	expect_tls(row, 3, 3, 1, HOSTNAME_MISMATCH);
	swerve_shm_tls_note(row, false, false, CERT_HAS_EXPIRED);
	expect_tls(row, 3, 4, 1, CERT_HAS_EXPIRED);
	swerve_shm_tls_note(row, false, false, -1);
	expect_tls(row, 3, 5, 1, CERT_HAS_EXPIRED);
	/* Only counters: the outlier state and the connects are the
	 * caller's to report. */
	cr_assert_eq(atomic_load(&row->connects_failed), 0);
	cr_assert(swerve_shm_pristine(&row->st));
	cr_assert_eq(atomic_load(&row->lock), fresh);
	swerve_shm_tls_note(NULL, false, false, HOSTNAME_MISMATCH);
	swerve_shm_detach(&t);
}

Test(shm_tls, notes_of_several_processes_add_up, .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm_row *row;
	pid_t pids[NOTE_PROCS];
	struct swerve_shm t;
	char err[256];
	int i, k, status;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	row = swerve_shm_row(&t, 11, true);
	cr_assert_not_null(row);
	for (i = 0; i < NOTE_PROCS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] != 0)
			continue;
		for (k = 0; k < NOTES; k++) {
			swerve_shm_tls_note(row, true, k % 2 == 0, 0);
			swerve_shm_tls_note(row, false, false, 20 + i);
		}
		_exit(0);
	}
	for (i = 0; i < NOTE_PROCS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(atomic_load(&row->tls_ok), NOTE_PROCS * NOTES);
	cr_assert_eq(atomic_load(&row->tls_failed), NOTE_PROCS * NOTES);
	cr_assert_eq(atomic_load(&row->tls_resumed), NOTE_PROCS * NOTES / 2);
	/* One of the children's codes, whole. */
	cr_assert(atomic_load(&row->tls_verify_error) >= 20 &&
		  atomic_load(&row->tls_verify_error) < 20 + NOTE_PROCS);
	swerve_shm_detach(&t);
}

Test(shm_tls, reset_and_takeover_clear_it)
{
	struct swerve_shm_row *row;
	struct swerve_shm t;
	size_t i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 7, true);
	note_some(row);
	expect_tls(row, 1, 1, 1, HOSTNAME_MISMATCH);
	cr_assert_eq(swerve_shm_reset_row(NULL, row), 0);
	expect_tls(row, 0, 0, 0, 0);

	/* A full table of forgotten addresses, each with TLS state: the
	 * row a new address takes over starts fresh. */
	swerve_shm_detach(&t);
	cr_assert_eq(swerve_shm_private(&t), 0);
	for (i = 0; i < t.nrows; i++) {
		row = swerve_shm_row_named(&t, 1000 + i, HORIZON, NOW);
		cr_assert_not_null(row);
		note_some(row);
	}
	row = swerve_shm_row_named(&t, 9000000000ull, HORIZON,
				   NOW + HORIZON + 1);
	cr_assert_not_null(row);
	expect_tls(row, 0, 0, 0, 0);
	swerve_shm_detach(&t);
}
