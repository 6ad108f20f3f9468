/*
 * Unit tests of the health a row keeps (shm.c): reports and ejection,
 * snapshots, the ejection cap, operator edits, and several processes on
 * one row (test_shm_lock.c has those that stop or die holding its
 * lock). Each test runs in its own process with its own tables
 * (test_shm_support.c); children leave only through _exit().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"
#include "test_shm_support.h"

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
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW + 7, &st), 0);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 1);

	/* the next report after the deadline brings it back */
	cr_assert_eq(swerve_shm_report(NULL, NULL, &row, 1, 0, &c,
				       SWERVE_OUTCOME_CONNECT_OK, 0, until),
		     SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(atomic_load(&row->ejected_until_ms), 0);
	cr_assert_eq(atomic_load(&row->connects_ok), 1);

	/* HTTP statuses count too */
	for (i = 0; i < 4; i++)
		cr_assert_eq(swerve_shm_report(NULL, NULL, &row, 1, 0, &c,
					       SWERVE_OUTCOME_HTTP_STATUS,
					       503, until + 1),
			     SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_report(NULL, NULL, &row, 1, 0, &c,
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
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, until, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, until);
	cr_assert_eq(atomic_load(&row->ejected_until_ms), 0);
	/* without a config the state is copied as it is */
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, NULL, until, &st), 0);
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
		ev = swerve_shm_report(NULL, NULL, rows, 2, 0, &c,
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
		ev = swerve_shm_report(NULL, NULL, rows, 2, 0, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	cr_assert_eq(ev, SWERVE_OUTLIER_EJECT);
	for (i = 0; i < 5; i++)
		ev = swerve_shm_report(NULL, NULL, rows, 2, 1, &c,
				       SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	cr_assert_eq(ev, SWERVE_OUTLIER_OVERFLOW);
	cr_assert(swerve_shm_is_ejected(rows[0], NOW));
	cr_assert_not(swerve_shm_is_ejected(rows[1], NOW));
	/* once the first is back, the second may go */
	ev = swerve_shm_report(NULL, NULL, rows, 2, 1, &c,
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
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW, &st), 0);
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
		cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW,
						 &st), 0);
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

Test(shm, operator_eject_uneject_and_reset)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 31337, true);
	cr_assert_eq(swerve_shm_eject(NULL, NULL, row, 0, NOW), -EINVAL);

	cr_assert_eq(swerve_shm_eject(NULL, NULL, row, 45000, NOW), 0);
	cr_assert(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(atomic_load(&row->ejected_until_ms), NOW + 45000);
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW + 1, &st), 0);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(st.ejections, 1);
	cr_assert_eq(st.ejection_ms, 45000);
	cr_assert_eq(st.backoff, 0);

	cr_assert_eq(swerve_shm_uneject(NULL, NULL, row, NOW + 100), 0);
	cr_assert_not(swerve_shm_is_ejected(row, NOW + 100));
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW + 101, &st),
		     0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.unejected_at_ms, NOW + 100);
	cr_assert_eq(st.ejections, 1);
	/* un-ejecting an endpoint in service changes nothing */
	cr_assert_eq(swerve_shm_uneject(NULL, NULL, row, NOW + 200), 0);
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, NULL, NOW + 201,
					 &st), 0);
	cr_assert_eq(st.unejected_at_ms, NOW + 100);

	fail_once(row, &c, NOW + 300);
	cr_assert_eq(swerve_shm_reset_row(NULL, row), 0);
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW + 400, &st),
		     0);
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
