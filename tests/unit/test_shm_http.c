/*
 * Unit tests of the shared table with the outcomes of an HTTP service:
 * the per-endpoint counters (connects, response classes, timeouts,
 * resets), the lock-free path of successes on quiet rows, and the cause
 * that ejections carry into the event ring. Each test runs in its own
 * process, on a private table, with the clock as a parameter.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/swerve.h"
#include "table/shm.h"
#include "test_shm_support.h"

static enum swerve_outlier_event put(struct swerve_shm *t,
				     struct swerve_shm_row *row,
				     const struct swerve_outlier_cfg *c,
				     enum swerve_outcome outcome, int status,
				     uint64_t now)
{
	return swerve_shm_report(t, NULL, &row, 1, 0, c, outcome, status, now);
}

static void expect_counters(struct swerve_shm_row *row, uint64_t ok,
			    uint64_t failed, const uint64_t classes[4],
			    uint64_t timeouts, uint64_t resets)
{
	cr_assert_eq(atomic_load(&row->connects_ok), ok);
	cr_assert_eq(atomic_load(&row->connects_failed), failed);
	cr_assert_eq(atomic_load(&row->responses_2xx), classes[0]);
	cr_assert_eq(atomic_load(&row->responses_3xx), classes[1]);
	cr_assert_eq(atomic_load(&row->responses_4xx), classes[2]);
	cr_assert_eq(atomic_load(&row->responses_5xx), classes[3]);
	cr_assert_eq(atomic_load(&row->timeouts), timeouts);
	cr_assert_eq(atomic_load(&row->resets), resets);
}

/* With and without an outlier config (NULL: counted only). */
Test(shm_http, each_outcome_has_its_counter)
{
	static const int codes[] = { 200, 204, 301, 404, 500, 503, 101, 600 };
	static const uint64_t classes[4] = { 2, 1, 1, 2 };
	static const uint64_t none[4] = { 0, 0, 0, 0 };
	struct swerve_outlier_cfg c = test_cfg();
	const struct swerve_outlier_cfg *cfgs[2] = { &c, NULL };
	struct swerve_shm_row *row;
	struct swerve_shm t;
	size_t i, k;

	c.consecutive_5xx = 100;
	cr_assert_eq(swerve_shm_private(&t), 0);
	for (k = 0; k < 2; k++) {
		row = swerve_shm_row(&t, 7 + k, true);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_HTTP_CONNECT_OK, 0, NOW);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_CONNECT_OK, 0, NOW);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_CONNECT_FAILED, 0, NOW);
		expect_counters(row, 2, 1, none, 0, 0);
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
			put(&t, row, cfgs[k], SWERVE_OUTCOME_HTTP_STATUS,
			    codes[i], NOW);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_HTTP_TIMEOUT, 0, NOW);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_HTTP_RESET, 0, NOW);
		put(&t, row, cfgs[k], SWERVE_OUTCOME_HTTP_RESET, 0, NOW);
		expect_counters(row, 2, 1, classes, 1, 2);
	}
	row = swerve_shm_row(&t, 7, false);
	cr_assert_eq(row->st.c5xx, 3, "101 and 600 end the streak of 500 and "
		     "503; timeout, reset, reset");
	cr_assert_eq(swerve_shm_reset_row(NULL, row), 0);
	expect_counters(row, 0, 0, none, 0, 0);
	swerve_shm_detach(&t);
}

/*
 * Every response is reported, so the successes of an http service take
 * the lock-free path of a quiet row too: an http connect and any status
 * below 500, in both modes. A lock held by a live holder shows it: what
 * takes no lock still stamps updated_ms; what needs it fails open.
 */
Test(shm_http, successes_on_a_quiet_row_take_no_lock)
{
	uint64_t fresh = (uint64_t)0x4242u << 32 | (uint32_t)swerve_now_ms();
	static const int codes[] = { 200, 204, 304, 404, 101 };
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *row;
	struct swerve_shm t;
	uint64_t now = NOW;
	char err[128];
	size_t i;
	int split;

	cr_assert_eq(swerve_shm_private(&t), 0);
	for (split = 0; split < 2; split++) {
		c.split_external_local_origin = split != 0;
		row = swerve_shm_row(&t, 40 + (uint64_t)split, true);
		cr_assert_eq(atomic_load(&row->quiet), 1);
		atomic_store(&row->lock, fresh);
		put(&t, row, &c, SWERVE_OUTCOME_HTTP_CONNECT_OK, 0, ++now);
		cr_assert_eq(atomic_load(&row->updated_ms), now,
			     "an http connect took no lock");
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
			put(&t, row, &c, SWERVE_OUTCOME_HTTP_STATUS, codes[i],
			    ++now);
			cr_assert_eq(atomic_load(&row->updated_ms), now,
				     "status %d took no lock", codes[i]);
		}
		/* A 5xx needs the lock: counted, but no streak. */
		put(&t, row, &c, SWERVE_OUTCOME_HTTP_STATUS, 503, ++now);
		cr_assert_eq(atomic_load(&row->responses_5xx), 1);
		cr_assert_eq(atomic_load(&row->updated_ms), now - 1);
		cr_assert_eq(row->st.c5xx, 0);
		atomic_store(&row->lock, 0);
		put(&t, row, &c, SWERVE_OUTCOME_HTTP_STATUS, 503, ++now);
		cr_assert_eq(row->st.c5xx, 1);
		cr_assert_eq(atomic_load(&row->quiet), 0);
		/* With a streak, a success needs the lock to end it. */
		atomic_store(&row->lock, fresh);
		put(&t, row, &c, SWERVE_OUTCOME_HTTP_STATUS, 200, ++now);
		cr_assert_eq(row->st.c5xx, 1, "not ended without the lock");
		atomic_store(&row->lock, 0);
		put(&t, row, &c, SWERVE_OUTCOME_HTTP_STATUS, 200, ++now);
		cr_assert_eq(row->st.c5xx, 0);
		cr_assert_eq(atomic_load(&row->quiet), 1, "quiet again");
		cr_assert_eq(atomic_load(&row->responses_2xx), 4);
	}
	cr_assert_eq(swerve_shm_check(&t, now, err, sizeof(err)), 0, "%s",
		     err);
	swerve_shm_detach(&t);
}

Test(shm_http, ejections_carry_their_cause_into_the_ring)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_event_info ev[8];
	struct swerve_shm_row *rows[2];
	struct swerve_shm t;
	size_t n;

	c.consecutive_5xx = 2;
	c.max_ejection_percent = 0; /* one ejection: the floor */
	cr_assert_eq(swerve_shm_private(&t), 0);
	rows[0] = swerve_shm_row(&t, 11, true);
	rows[1] = swerve_shm_row(&t, 22, true);
	swerve_shm_report(&t, NULL, rows, 2, 0, &c,
			  SWERVE_OUTCOME_HTTP_RESET, 0, NOW);
	cr_assert_eq(swerve_shm_report(&t, NULL, rows, 2, 0, &c,
				       SWERVE_OUTCOME_HTTP_TIMEOUT, 0, NOW),
		     SWERVE_OUTLIER_EJECT);
	swerve_shm_report(&t, NULL, rows, 2, 1, &c,
			  SWERVE_OUTCOME_HTTP_STATUS, 502, NOW + 1);
	cr_assert_eq(swerve_shm_report(&t, NULL, rows, 2, 1, &c,
				       SWERVE_OUTCOME_HTTP_STATUS, 500,
				       NOW + 1),
		     SWERVE_OUTLIER_OVERFLOW);
	cr_assert_eq(swerve_shm_eject(&t, NULL, rows[1], 1000, NOW + 2), 0);
	n = swerve_shm_events(&t, ev, 8, NULL);
	cr_assert_eq(n, 3);
	cr_assert_eq(ev[0].type, SWERVE_EVENT_EJECT);
	cr_assert_eq(ev[0].reason, SWERVE_REASON_5XX);
	cr_assert_eq(ev[0].cause, SWERVE_CAUSE_TIMEOUT);
	cr_assert_eq(ev[1].type, SWERVE_EVENT_OVERFLOW);
	cr_assert_eq(ev[1].cause, SWERVE_CAUSE_5XX);
	cr_assert_eq(ev[2].reason, SWERVE_REASON_OPERATOR);
	cr_assert_eq(ev[2].cause, SWERVE_CAUSE_NONE);

	/* Split mode: a reset is a local-origin failure. */
	c.split_external_local_origin = true;
	c.consecutive_local_origin = 1;
	c.max_ejection_percent = 100;
	rows[0] = swerve_shm_row(&t, 33, true);
	cr_assert_eq(swerve_shm_report(&t, NULL, rows, 1, 0, &c,
				       SWERVE_OUTCOME_HTTP_RESET, 0, NOW + 3),
		     SWERVE_OUTLIER_EJECT);
	n = swerve_shm_events(&t, ev, 8, NULL);
	cr_assert_eq(n, 4);
	cr_assert_eq(ev[3].reason, SWERVE_REASON_LOCAL_ORIGIN);
	cr_assert_eq(ev[3].cause, SWERVE_CAUSE_LOCAL_ORIGIN);
	swerve_shm_detach(&t);
}

/* A slot whose cause no build writes is nonsense: readers skip it. */
Test(shm_http, events_with_a_cause_out_of_range_are_skipped)
{
	struct swerve_shm_event_info in, out[4];
	struct swerve_shm t;

	cr_assert_eq(swerve_shm_private(&t), 0);
	memset(&in, 0, sizeof(in));
	in.type = SWERVE_EVENT_EJECT;
	in.reason = SWERVE_REASON_GATEWAY;
	in.cause = SWERVE_CAUSE_GATEWAY;
	cr_assert_eq(swerve_shm_event_add(&t, &in), 0);
	in.cause = (enum swerve_outlier_cause)(SWERVE_CAUSE_LOCAL_ORIGIN + 1);
	cr_assert_eq(swerve_shm_event_add(&t, &in), 0);
	cr_assert_eq(swerve_shm_events(&t, out, 4, NULL), 1);
	cr_assert_eq(out[0].cause, SWERVE_CAUSE_GATEWAY);
	swerve_shm_detach(&t);
}
