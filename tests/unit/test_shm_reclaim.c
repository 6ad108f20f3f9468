/*
 * Unit tests of row takeover (swerve_shm_row_named): with IP churn the
 * rows of addresses that no answer names any more must make room for new
 * ones once the table is full, and only those, only once their horizon
 * has passed, and never two rows for one key or two keys for one row,
 * however many processes take rows at once. Children leave only through
 * _exit().
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"
#include "table/shm_int.h"
#include "test_shm_support.h"

#define HORIZON 600000u /* dns_max_ttl 300 s + the longest ejection */

/* Keys of the addresses that fill the table, and of the new ones. */
static uint64_t old_key(size_t i)
{
	return 1000000 + i * 7919;
}

static uint64_t new_key(size_t i)
{
	return 9000000000ull + i * 104729;
}

/* Fills every row of <t> with an address named at NOW. */
static void fill_named(struct swerve_shm *t)
{
	size_t i;

	for (i = 0; i < t->nrows; i++)
		cr_assert_not_null(swerve_shm_row_named(t, old_key(i), HORIZON,
							NOW));
	cr_assert_null(swerve_shm_row(t, new_key(0), true), "full");
}

static size_t rows_with_key(const struct swerve_shm *t, uint64_t key)
{
	size_t i, n = 0;

	for (i = 0; i < t->nrows; i++)
		n += atomic_load(&t->rows[i].key) == key;
	return n;
}

Test(shm_reclaim, a_forgotten_address_makes_room_once_its_horizon_is_over)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *row;
	struct swerve_shm t;

	cr_assert_eq(swerve_shm_private(&t), 0);
	fill_named(&t);
	cr_assert_null(swerve_shm_row_named(&t, new_key(0), HORIZON,
					    NOW + HORIZON), "not yet");
	row = swerve_shm_row_named(&t, new_key(0), HORIZON,
				   NOW + HORIZON + 1);
	cr_assert_not_null(row);
	cr_assert_eq(atomic_load(&row->key), new_key(0));
	cr_assert_eq(rows_with_key(&t, new_key(0)), 1);
	cr_assert_eq(atomic_load(&row->connects_ok), 0);
	cr_assert_eq(atomic_load(&row->connects_failed), 0);
	cr_assert_eq(atomic_load(&row->named_ms), NOW + HORIZON + 1);
	cr_assert(swerve_shm_pristine(&row->st));
	/* the same key again is the same row, named anew */
	cr_assert_eq(swerve_shm_row_named(&t, new_key(0), HORIZON,
					  NOW + HORIZON + 2), row);
	cr_assert_eq(swerve_shm_row(&t, new_key(0), false), row);
	/* a fresh row behaves as one */
	fail_in(&t, row, &c, NOW + HORIZON + 3);
	cr_assert_eq(row->st.c5xx, 1);
	swerve_shm_detach(&t);
}

Test(shm_reclaim, rows_of_the_config_are_never_taken)
{
	struct swerve_shm t;
	size_t i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	/* static endpoints, services, name status rows: swerve_shm_row */
	for (i = 0; i < t.nrows; i++)
		cr_assert_not_null(swerve_shm_row(&t, old_key(i), true));
	cr_assert_null(swerve_shm_row_named(&t, new_key(0), HORIZON,
					    UINT64_MAX / 2));
	swerve_shm_detach(&t);
}

Test(shm_reclaim, naming_outcomes_and_ejections_keep_a_row)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *named, *touched, *ejected, *row;
	uint64_t later = NOW + HORIZON + 1;
	struct swerve_shm t;
	size_t i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	fill_named(&t);
	named = swerve_shm_row_named(&t, old_key(1), HORIZON, NOW + 10);
	touched = swerve_shm_row(&t, old_key(2), false);
	fail_in(&t, touched, &c, NOW + 10);
	ejected = swerve_shm_row(&t, old_key(3), false);
	cr_assert_eq(swerve_shm_eject(&t, NULL, ejected, 10 * HORIZON, NOW),
		     0);
	/* every other row goes first; these three stay */
	for (i = 0; i + 3 < t.nrows; i++) {
		row = swerve_shm_row_named(&t, new_key(i), HORIZON, later);
		cr_assert_not_null(row, "new key %zu", i);
		cr_assert(row != named && row != touched && row != ejected);
	}
	cr_assert_null(swerve_shm_row_named(&t, new_key(i), HORIZON, later));
	cr_assert_eq(atomic_load(&named->key), old_key(1));
	cr_assert_eq(atomic_load(&touched->key), old_key(2));
	cr_assert_eq(atomic_load(&ejected->key), old_key(3));
	/* and the first two go once their own horizon is over */
	cr_assert_not_null(swerve_shm_row_named(&t, new_key(i), HORIZON,
						NOW + 10 + HORIZON + 1));
	swerve_shm_detach(&t);
}

Test(shm_reclaim, a_row_whose_lock_is_held_is_passed_over)
{
	uint64_t fresh = (uint64_t)7u << 32 | (uint32_t)swerve_now_ms();
	struct swerve_shm_row *busy, *row;
	struct swerve_shm t;

	cr_assert_eq(swerve_shm_private(&t), 0);
	fill_named(&t);
	/* the home row of the new key, held by somebody */
	row = swerve_shm_row_named(&t, new_key(0), HORIZON, NOW + HORIZON + 1);
	cr_assert_not_null(row);
	busy = swerve_shm_row(&t, old_key(5), false);
	atomic_store(&busy->lock, fresh);
	row = swerve_shm_row_named(&t, new_key(1), HORIZON, NOW + HORIZON + 1);
	cr_assert_not_null(row);
	cr_assert_neq(row, busy);
	swerve_shm_detach(&t);
}

Test(shm_reclaim, rows_held_by_others_cost_no_wait_each)
{
	uint64_t fresh = (uint64_t)7u << 32 | (uint32_t)swerve_now_ms();
	struct swerve_shm_row *row, *last;
	struct swerve_shm t;
	uint64_t t0;
	size_t i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	fill_named(&t);
	/* every row held by a live holder, but one */
	for (i = 0; i < t.nrows; i++)
		atomic_store(&t.rows[i].lock, fresh);
	last = swerve_shm_row(&t, old_key(t.nrows / 2), false);
	atomic_store(&last->lock, 0);
	t0 = swerve_now_ms();
	row = swerve_shm_row_named(&t, new_key(0), HORIZON, NOW + HORIZON + 1);
	cr_assert_lt(swerve_now_ms() - t0, 100, "waited for each held row");
	cr_assert_eq(row, last);
	swerve_shm_detach(&t);
}

Test(shm_reclaim, a_still_full_table_is_said_once_on_stderr)
{
	struct swerve_shm t;
	char buf[1024];
	int fd, saved;

	fd = capture_stderr(&saved);
	cr_assert_eq(swerve_shm_private(&t), 0);
	fill_named(&t);
	cr_assert_null(swerve_shm_row_named(&t, new_key(1), HORIZON, NOW));
	cr_assert_null(swerve_shm_row_named(&t, new_key(2), HORIZON, NOW));
	captured(fd, saved, buf, sizeof(buf));
	cr_assert_not_null(strstr(buf, "is full"), "%s", buf);
	cr_assert_eq(strchr(buf, '\n'), buf + strlen(buf) - 1, "one line: %s",
		     buf);
	swerve_shm_detach(&t);
}

#define TAKERS 8
#define TAKES 64

Test(shm_reclaim, concurrent_takers_never_share_a_row_or_a_key,
     .fini = unlink_names, .timeout = 60)
{
	const char *name = new_name();
	struct swerve_shm t;
	_Atomic int *go;
	pid_t pids[TAKERS];
	char err[256];
	int i, k, status;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	fill_named(&t);
	go = mmap(NULL, sizeof(*go), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < TAKERS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] != 0)
			continue;
		while (atomic_load(go) == 0)
			;
		/* every taker wants every key: each key must end in one row
		 * (a taker that found the reclaim lock busy tries again) */
		for (k = 0; k < TAKES; k++) {
			uint64_t key = new_key((size_t)(k + i) % TAKES);
			int tries = 0;

			while (swerve_shm_row_named(&t, key, HORIZON,
						    NOW + HORIZON + 1) == NULL)
				if (++tries == 1000)
					_exit(1);
		}
		_exit(0);
	}
	atomic_store(go, 1);
	for (i = 0; i < TAKERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (k = 0; k < TAKES; k++)
		cr_assert_eq(rows_with_key(&t, new_key((size_t)k)), 1,
			     "key %d", k);
	cr_assert_eq(swerve_shm_check(&t, NOW + HORIZON + 1, err,
				      sizeof(err)), 0, "%s", err);
	swerve_shm_detach(&t);
}
