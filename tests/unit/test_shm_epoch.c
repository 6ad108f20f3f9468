/*
 * Unit tests of the epoch in a service's row (shm.c): it moves on every
 * change of the service's health, ejection, un-ejection (noticed late or
 * by an operator), reset and a new panic mask, and on nothing else, in
 * this process and across processes. Each test runs in its own process
 * with its own segments in real shared memory (test_shm_support.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"
#include "test_shm_support.h"

#define SVC "mydb"
#define EP_KEY 4242u

/* A fresh table with the service row of SVC and one endpoint row. */
static void open_table(struct swerve_shm *t, struct swerve_shm_row **svc,
		       struct swerve_shm_row **ep)
{
	char err[256];

	cr_assert_eq(swerve_shm_attach(new_name(), true, t, err, sizeof(err)),
		     0, "%s", err);
	*svc = swerve_shm_row(t, swerve_shm_service_key(SVC), true);
	*ep = swerve_shm_row(t, EP_KEY, true);
	cr_assert_not_null(*svc);
	cr_assert_not_null(*ep);
	cr_assert_eq(swerve_shm_epoch(*svc), 0, "a fresh row starts at 0");
}

static enum swerve_outlier_event report(struct swerve_shm *t,
					struct swerve_shm_row *svc,
					struct swerve_shm_row *ep,
					enum swerve_outcome outcome, int status,
					const struct swerve_outlier_cfg *c,
					uint64_t now)
{
	return swerve_shm_report(t, svc, &ep, 1, 0, c, outcome, status, now);
}

Test(shm_epoch, null_rows_read_zero_and_bump_nothing)
{
	cr_assert_eq(swerve_shm_epoch(NULL), 0);
	swerve_shm_epoch_bump(NULL);
}

Test(shm_epoch, bump_moves_it_by_one, .fini = unlink_names)
{
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;

	open_table(&t, &svc, &ep);
	swerve_shm_epoch_bump(svc);
	swerve_shm_epoch_bump(svc);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	cr_assert_eq(swerve_shm_epoch(ep), 0, "only the row bumped");
	swerve_shm_detach(&t);
}

Test(shm_epoch, moves_on_ejection_and_expiry_not_on_plain_outcomes,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;
	uint64_t until;
	int i;

	open_table(&t, &svc, &ep);
	for (i = 0; i < 3; i++)
		cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_OK, 0,
				    &c, NOW), SWERVE_OUTLIER_NONE);
	for (i = 0; i < 4; i++)
		cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_HTTP_STATUS,
				    503, &c, NOW), SWERVE_OUTLIER_NONE);
	cr_assert_eq(swerve_shm_epoch(svc), 0, "no ejection yet");

	cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c,
			    NOW + 1), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(swerve_shm_epoch(svc), 1);
	until = atomic_load(&ep->ejected_until_ms);

	/* failures and successes while ejected change no ejection */
	report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c, NOW + 2);
	report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_OK, 0, &c, until - 1);
	cr_assert_eq(swerve_shm_epoch(svc), 1);

	/* the first report after the deadline notices the end */
	cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_OK, 0, &c,
			    until), SWERVE_OUTLIER_UNEJECT);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_OK, 0, &c, until + 1);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	swerve_shm_detach(&t);
}

Test(shm_epoch, expiry_and_reejection_in_one_report_move_it,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;

	c.consecutive_5xx = 1;
	open_table(&t, &svc, &ep);
	cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c,
			    NOW), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c,
			    NOW + 31000), SWERVE_OUTLIER_EJECT);
	cr_assert_eq(swerve_shm_epoch(svc), 2, "one report, one move");
	swerve_shm_detach(&t);
}

Test(shm_epoch, overflow_and_disabled_detection_leave_it, .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;
	int i;

	open_table(&t, &svc, &ep);
	c.max_ejection_percent = 0;
	c.min_ejectable_hosts = 0;
	for (i = 0; i < 8; i++)
		report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c, NOW);
	cr_assert_eq(report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c,
			    NOW), SWERVE_OUTLIER_OVERFLOW);
	c = test_cfg();
	c.enabled = false;
	for (i = 0; i < 8; i++)
		report(&t, svc, ep, SWERVE_OUTCOME_CONNECT_FAILED, 0, &c, NOW);
	cr_assert_not(swerve_shm_is_ejected(ep, NOW));
	cr_assert_eq(swerve_shm_epoch(svc), 0);
	swerve_shm_detach(&t);
}

Test(shm_epoch, moves_on_operator_eject_uneject_and_reset,
     .fini = unlink_names)
{
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;

	open_table(&t, &svc, &ep);
	cr_assert_eq(swerve_shm_eject(&t, svc, ep, 5000, NOW), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 1);
	cr_assert_eq(swerve_shm_uneject(&t, svc, ep, NOW + 10), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	cr_assert_eq(swerve_shm_reset_row(svc, ep), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 3);
	/* a refused edit changes nothing */
	cr_assert_eq(swerve_shm_eject(&t, svc, ep, 0, NOW), -EINVAL);
	cr_assert_eq(swerve_shm_epoch(svc), 3);
	swerve_shm_detach(&t);
}

Test(shm_epoch, moves_when_the_panic_mask_changes, .fini = unlink_names)
{
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;

	open_table(&t, &svc, &ep);
	cr_assert_eq(swerve_shm_panic_note(&t, SVC, 0, NOW), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 0, "no panic, as before");
	cr_assert_eq(swerve_shm_panic_note(&t, SVC, 1, NOW + 1), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 1);
	cr_assert_eq(swerve_shm_panic_note(&t, SVC, 1, NOW + 2), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 1);
	cr_assert_eq(swerve_shm_panic_note(&t, SVC, 3, NOW + 3), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	cr_assert_eq(swerve_shm_panic_note(&t, SVC, 0, NOW + 4), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 3);
	swerve_shm_detach(&t);
}

Test(shm_epoch, moves_when_a_snapshot_ends_an_expired_ejection,
     .fini = unlink_names)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_outlier_state st;
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;
	uint64_t until;

	open_table(&t, &svc, &ep);
	cr_assert_eq(swerve_shm_eject(&t, svc, ep, 5000, NOW), 0);
	until = atomic_load(&ep->ejected_until_ms);
	cr_assert_eq(swerve_shm_snapshot(&t, svc, ep, &c, until - 1, &st), 0);
	cr_assert_eq(st.ejected, 1);
	cr_assert_eq(swerve_shm_epoch(svc), 1, "still ejected");
	cr_assert_eq(swerve_shm_snapshot(&t, svc, ep, &c, until, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(swerve_shm_epoch(svc), 2);
	cr_assert_eq(swerve_shm_snapshot(&t, svc, ep, &c, until + 1, &st), 0);
	cr_assert_eq(swerve_shm_epoch(svc), 2, "ended once");
	swerve_shm_detach(&t);
}

/* A child with its own mapping of the segment ejects; the parent sees it. */
Test(shm_epoch, a_forked_childs_ejection_is_a_new_epoch_in_the_parent,
     .fini = unlink_names, .timeout = 10)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *svc, *ep;
	struct swerve_shm t;
	uint64_t before;
	pid_t pid;
	int status;

	open_table(&t, &svc, &ep);
	before = swerve_shm_epoch(svc);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct swerve_shm ct;
		struct swerve_shm_row *cs, *ce;
		int i;

		if (swerve_shm_attach(t.name, false, &ct, NULL, 0) != 0)
			_exit(2);
		cs = swerve_shm_row(&ct, swerve_shm_service_key(SVC), false);
		ce = swerve_shm_row(&ct, EP_KEY, false);
		if (cs == NULL || ce == NULL)
			_exit(3);
		for (i = 0; i < 4; i++)
			report(&ct, cs, ce, SWERVE_OUTCOME_CONNECT_FAILED, 0,
			       &c, NOW);
		_exit(report(&ct, cs, ce, SWERVE_OUTCOME_CONNECT_FAILED, 0,
			     &c, NOW) == SWERVE_OUTLIER_EJECT ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status %#x", status);
	cr_assert_eq(swerve_shm_epoch(svc), before + 1);
	cr_assert(swerve_shm_is_ejected(ep, NOW));
	swerve_shm_detach(&t);
}
