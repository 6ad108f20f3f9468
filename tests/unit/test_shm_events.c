/*
 * Unit tests of the event ring (shm_events.c) and of the events the table
 * adds to it (shm.c): ejections, un-ejections, overflows, operator edits
 * and panic changes. Each test runs in its own process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table/shm.h"
#include "test_shm_support.h"

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
		swerve_shm_report(&t, NULL, rows, 2, 0, &c,
				  SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
	/* row 22 reaches the threshold but the cap (1) is taken: overflow
	 * once, however many failures follow */
	for (i = 0; i < 5; i++)
		cr_assert_eq(swerve_shm_report(&t, NULL, rows, 2, 1, &c,
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
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, rows[0], &c, NOW + 45000,
					 &st), 0);
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, rows[0], &c, NOW + 46000,
					 &st), 0);
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
	cr_assert_eq(swerve_shm_eject(&t, NULL, row, 5000, NOW), 0);
	cr_assert_eq(swerve_shm_uneject(&t, NULL, row, NOW + 10), 0);
	/* un-ejecting an endpoint in service is no event */
	cr_assert_eq(swerve_shm_uneject(&t, NULL, row, NOW + 20), 0);
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
