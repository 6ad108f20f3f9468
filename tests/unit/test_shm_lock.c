/*
 * Unit tests of the row locks (shm_lock.c) with real processes and real
 * signals: a holder stopped with SIGSTOP, a holder killed while holding,
 * garbage in the lock word, a siglongjmp from a timer signal in the middle
 * of reports, and the signal mask around a held lock. Nothing the table
 * holds may make anyone wait more than a few milliseconds; the tests
 * assert the issue's own bound of 100 ms and nothing tighter. Children
 * leave only through _exit().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "table/shm.h"
#include "table/shm_int.h"
#include "test_shm_support.h"

/* The bound: a stopped holder delays nobody by more than this. */
#define BOUND_MS 100
/* Longer than the lock's lease (shm_lock.c). */
#define PAST_LEASE_US 300000

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One failure reported into <row>, and how long the call took. */
static double timed_fail(struct swerve_shm *t, struct swerve_shm_row *row,
			 enum swerve_outlier_event *ev)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	*ev = fail_in(t, row, &c, NOW);
	return ms_since(&t0);
}

/*
 * Forks a child that attaches <name>, takes the lock of the row of <key>
 * with the library's own code, says so on a pipe and then stops itself
 * (<stop>) or dies without unlocking (<!stop>). A stopped child, once
 * continued, exits 0 when it finds its lock was taken over meanwhile.
 */
static pid_t holder(const char *name, uint64_t key, bool stop)
{
	int p[2], status;
	char c = 0;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct swerve_shm ct;
		struct swerve_shm_row *row;
		struct swerve_shm_hold h;
		bool taken;

		if (swerve_shm_attach(name, false, &ct, NULL, 0) != 0 ||
		    (row = swerve_shm_row(&ct, key, false)) == NULL ||
		    swerve_shm_lock(&row->lock, &h) != 0)
			_exit(2);
		/* half an update... */
		row->st.ejected = 7;
		row->st.ejection_ms = UINT64_MAX;
		row->st.ejected_at_ms = UINT64_MAX;
		if (write(p[1], "l", 1) != 1)
			_exit(3);
		if (!stop)
			_exit(0); /* ...then death */
		raise(SIGSTOP);
		taken = !swerve_shm_holds(&row->lock, &h);
		swerve_shm_unlock(&row->lock, &h);
		_exit(taken ? 0 : 4);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	if (stop) {
		cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
		cr_assert(WIFSTOPPED(status));
	}
	return pid;
}

/* Creates table <name> into <t> and returns the row of key 5. */
static struct swerve_shm_row *row_of(const char *name, struct swerve_shm *t)
{
	char err[256];

	cr_assert_eq(swerve_shm_attach(name, true, t, err, sizeof(err)), 0,
		     "%s", err);
	return swerve_shm_row(t, 5, true);
}

Test(shm_lock, a_stopped_holder_delays_reports_by_milliseconds_only,
     .fini = unlink_names, .timeout = 20)
{
	const char *name = new_name();
	struct swerve_outlier_cfg c = test_cfg();
	enum swerve_outlier_event ev;
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row = row_of(name, &t);
	char err[256];
	int status, i;
	pid_t pid = holder(name, 5, true);

	/* While it is stopped: every report returns at once, failing open */
	for (i = 0; i < 20; i++) {
		cr_assert_lt(timed_fail(&t, row, &ev), BOUND_MS);
		cr_assert_eq(ev, SWERVE_OUTLIER_NONE);
	}
	cr_assert_eq(atomic_load(&row->connects_failed), 20, "counted");
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, row, &c, NOW, &st),
		     -ETIMEDOUT);
	/* Past its lease the lock is taken over and the row repaired */
	usleep(PAST_LEASE_US);
	cr_assert_lt(timed_fail(&t, row, &ev), BOUND_MS);
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, row, &c, NOW, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.ejection_ms, 0);
	cr_assert_eq(st.c5xx, 1, "the report after the takeover counted");
	/* The holder resumes, sees it lost the lock, and leaves ours alone */
	kill(pid, SIGCONT);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "holder status %#x", status);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 0, "%s",
		     err);
	swerve_shm_detach(&t);
}

Test(shm_lock, a_holder_killed_holding_the_lock_costs_nothing_after_its_lease,
     .fini = unlink_names, .timeout = 20)
{
	const char *name = new_name();
	struct swerve_outlier_cfg c = test_cfg();
	enum swerve_outlier_event ev;
	struct swerve_outlier_state st;
	struct swerve_shm t;
	struct swerve_shm_row *row = row_of(name, &t);
	pid_t pid = holder(name, 5, false);
	char err[256];
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_lt(timed_fail(&t, row, &ev), BOUND_MS);
	usleep(PAST_LEASE_US);
	cr_assert_eq(timed_fail(&t, row, &ev) < BOUND_MS, true);
	cr_assert_eq(ev, SWERVE_OUTLIER_NONE);
	cr_assert_not(swerve_shm_is_ejected(row, NOW));
	cr_assert_eq(swerve_shm_snapshot(NULL, NULL, row, &c, NOW, &st), 0);
	cr_assert_eq(st.ejected, 0);
	cr_assert_eq(st.ejection_ms, 0);
	cr_assert_leq(st.ejected_at_ms, NOW);
	cr_assert_eq(swerve_shm_check(&t, NOW, err, sizeof(err)), 0, "%s",
		     err);
	swerve_shm_detach(&t);
}

Test(shm_lock, garbage_in_the_lock_word_never_makes_anyone_wait)
{
	uint64_t now = swerve_now_ms();
	const uint64_t words[] = {
		UINT64_MAX, 1, 0x00007fff12345678ull, 0xdeadbeef00000000ull,
		/* looks freshly taken: kept until its lease is over */
		(uint64_t)0x1234u << 32 | (uint32_t)now,
	};
	struct swerve_outlier_cfg c = test_cfg();
	enum swerve_outlier_event ev;
	struct swerve_outlier_state st;
	struct swerve_shm_row *row;
	struct swerve_shm t;
	size_t i;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 5, true);
	for (i = 0; i < SWERVE_ARRAY_LEN(words); i++) {
		atomic_store(&row->lock, words[i]);
		cr_assert_lt(timed_fail(&t, row, &ev), BOUND_MS,
			     "word %#llx", (unsigned long long)words[i]);
	}
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, row, &c, NOW, &st),
		     -ETIMEDOUT, "the fresh-looking word is still held");
	usleep(PAST_LEASE_US);
	cr_assert_eq(swerve_shm_snapshot(&t, NULL, row, &c, NOW, &st), 0);
	cr_assert_eq(st.c5xx, SWERVE_ARRAY_LEN(words) - 1,
		     "each taken-over word let its report through");
	swerve_shm_detach(&t);
}

static sigjmp_buf jump;
static volatile sig_atomic_t jumps;

static void jump_out(int sig)
{
	(void)sig;
	jumps++;
	siglongjmp(jump, 1);
}

/*
 * The child of the siglongjmp test: reports while a timer jumps out of
 * them, then says on <fd> whether the jumps happened, and stays alive,
 * as wget does after its connect timeout.
 */
static void report_under_a_jumping_timer(struct swerve_shm *t,
					 struct swerve_shm_row *row, int fd)
{
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, off = { 0 };
	struct swerve_outlier_cfg c = test_cfg();
	struct sigaction sa;
	volatile long i;
	char ok;

	c.consecutive_5xx = 0; /* no ejection: every report locks */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = jump_out;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (i = 0; i < 300000; i++) {
		if (sigsetjmp(jump, 1) != 0)
			continue;
		swerve_shm_report(t, NULL, &row, 1, 0, &c,
				  i % 2 ? SWERVE_OUTCOME_CONNECT_OK :
					  SWERVE_OUTCOME_CONNECT_FAILED,
				  0, NOW);
	}
	setitimer(ITIMER_REAL, &off, NULL);
	ok = jumps >= 100 ? 'y' : 'n';
	if (write(fd, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

Test(shm_lock, no_siglongjmp_leaves_a_lock_held, .fini = unlink_names,
     .timeout = 60)
{
	const char *name = new_name();
	enum swerve_outlier_event ev;
	struct swerve_shm_row *row;
	struct swerve_shm t;
	char err[256], ok = 0;
	int p[2];
	pid_t pid;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	row = swerve_shm_row(&t, 5, true);
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		report_under_a_jumping_timer(&t, row, p[1]);
	cr_assert_eq(read(p[0], &ok, 1), 1);
	cr_assert_eq(ok, 'y', "the timer never jumped out of a report");
	/* The jumper lives on: another process gets the lock at once. */
	cr_assert_lt(timed_fail(&t, row, &ev), BOUND_MS);
	cr_assert_eq(atomic_load(&row->lock), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	swerve_shm_detach(&t);
}

Test(shm_lock, every_signal_is_blocked_while_a_lock_is_held)
{
	_Atomic uint64_t word = 0;
	struct swerve_shm_hold h;
	sigset_t before, during, after;

	sigemptyset(&before);
	sigaddset(&before, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	cr_assert_eq(swerve_shm_lock(&word, &h), 0);
	pthread_sigmask(SIG_BLOCK, NULL, &during);
	cr_assert(sigismember(&during, SIGALRM));
	cr_assert(sigismember(&during, SIGINT));
	cr_assert(sigismember(&during, SIGTERM));
	cr_assert(swerve_shm_holds(&word, &h));
	swerve_shm_unlock(&word, &h);
	cr_assert_eq(atomic_load(&word), 0);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	cr_assert(sigismember(&after, SIGUSR2));
	cr_assert_not(sigismember(&after, SIGALRM));
	cr_assert_not(sigismember(&after, SIGINT));
}

Test(shm_lock, a_success_on_a_quiet_row_takes_no_lock)
{
	uint64_t fresh = (uint64_t)0x4242u << 32 | (uint32_t)swerve_now_ms();
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *row;
	struct swerve_shm t;

	cr_assert_eq(swerve_shm_private(&t), 0);
	row = swerve_shm_row(&t, 5, true);
	cr_assert_eq(atomic_load(&row->quiet), 1, "a fresh row is quiet");
	atomic_store(&row->lock, fresh);
	cr_assert_eq(swerve_shm_report(&t, NULL, &row, 1, 0, &c,
				       SWERVE_OUTCOME_CONNECT_OK, 0, NOW + 5),
		     SWERVE_OUTLIER_NONE);
	cr_assert_eq(atomic_load(&row->connects_ok), 1);
	cr_assert_eq(atomic_load(&row->updated_ms), NOW + 5,
		     "counted without the lock");
	/* a failure needs the lock: it fails open, counted only */
	fail_in(&t, row, &c, NOW + 6);
	cr_assert_eq(atomic_load(&row->connects_failed), 1);
	cr_assert_eq(atomic_load(&row->updated_ms), NOW + 5);
	atomic_store(&row->lock, 0);
	fail_in(&t, row, &c, NOW + 7);
	cr_assert_eq(atomic_load(&row->quiet), 0, "a streak is not quiet");
	/* and a success on a row with a streak needs the lock too */
	atomic_store(&row->lock, fresh);
	swerve_shm_report(&t, NULL, &row, 1, 0, &c, SWERVE_OUTCOME_CONNECT_OK,
			  0, NOW + 8);
	cr_assert_eq(atomic_load(&row->updated_ms), NOW + 7);
	atomic_store(&row->lock, 0);
	swerve_shm_report(&t, NULL, &row, 1, 0, &c, SWERVE_OUTCOME_CONNECT_OK,
			  0, NOW + 9);
	cr_assert_eq(atomic_load(&row->quiet), 1, "the streak is over");
	cr_assert_eq(row->st.c5xx, 0);
	swerve_shm_detach(&t);
}
