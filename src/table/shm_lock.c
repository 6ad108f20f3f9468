/*
 * shm_lock.c: the lock words of the shared table: one per row, guarding
 * its outlier state, and one in the header for row takeovers.
 *
 * Why not a process-shared mutex. Any process of the user maps the table,
 * and any of them can be stopped (Ctrl-Z, a debugger, a frozen cgroup)
 * while holding a lock, jump out of it with siglongjmp, or write over it.
 * A robust pthread mutex covers only death: a stopped holder makes every
 * other process that reports on that endpoint wait inside connect() for
 * as long as it stays stopped, a garbage lock word makes them wait
 * forever, and the mutex's robust-list pointers live in the shared page,
 * where a scribbler turns our unlock into a wild write. Nothing the table
 * holds may make a host wait more than a few milliseconds.
 *
 * The lock word. 0 is free; a holder stores its token (32 random bits)
 * and the low 32 bits of CLOCK_MONOTONIC in milliseconds when it took the
 * lock, with one compare-and-swap. A waiter spins, then yields, for at
 * most LOCK_WAIT_NS and then gives up (-ETIMEDOUT): the caller fails open
 * and the outcome stays in its own process. A word older than
 * LOCK_LEASE_MS belongs to a holder that is dead, stopped or hopelessly
 * descheduled, since the lock is held for a few hundred instructions with
 * every signal blocked: the waiter takes it over with a compare-and-swap
 * and repairs the row, as the robust mutex's EOWNERDEAD did. A garbage
 * word looks like a stamp from another time and is taken over at once
 * (with odds of 1 in 10 million it looks fresh: then after the lease).
 *
 * A holder taken over while stopped finds out when it resumes: it writes
 * its result back only while swerve_shm_holds() says the word is still
 * its own, and its unlock then leaves the new holder's word alone. What
 * remains is the few instructions between that check and the write-back;
 * a holder stopped exactly there can leave a mixture of two valid states,
 * which the next locker's repair makes sane: a degraded streak at worst.
 *
 * Signals are blocked from lock to unlock: no handler runs while a lock
 * is held, so no siglongjmp can leave one behind and no handler can
 * re-enter and wait for its own thread.
 *
 * Thread- and process-safety: lock-free compare-and-swap on shared words;
 * every function is async-signal-safe (clock_gettime, sched_yield and
 * pthread_sigmask are).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "base/swerve.h"
#include "table/shm_int.h"

/* How long a waiter waits for a live holder, in all. */
#define LOCK_WAIT_NS 2000000L
/* A holder this old is gone: dead, stopped, or frozen. */
#define LOCK_LEASE_MS 200u
/* Busy waits before each look at the clock and yield. */
#define LOCK_SPINS 64

static __thread uint32_t token_state
	__attribute__((tls_model("initial-exec")));

/* A non-zero token per lock taken: xorshift32, seeded per thread. */
static uint32_t next_token(uint64_t now_ns)
{
	uint32_t x = token_state;

	if (x == 0)
		x = (uint32_t)(now_ns ^ (now_ns >> 32) ^
			       (uintptr_t)&token_state) | 1u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	token_state = x;
	return x != 0 ? x : 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when the holder of <word> took it more than the lease ago, or at a
 * time that is not a time at all. A stamp a little after <now_ms> is a
 * holder that read the clock after we did: held. */
static bool word_is_stale(uint64_t word, uint64_t now_ms)
{
	int32_t age = (int32_t)((uint32_t)now_ms - (uint32_t)word);

	return age > (int32_t)LOCK_LEASE_MS || age < -(int32_t)LOCK_LEASE_MS;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Takes <word>, waiting at most <budget_ns> for a live holder. */
static int lock_within(_Atomic uint64_t *word, struct swerve_shm_hold *h,
		       uint64_t budget_ns)
{
	uint64_t start = now_ns(), t = start, cur, mine;
	unsigned spins = 0;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &h->old);
	for (;;) {
		cur = atomic_load_explicit(word, memory_order_relaxed);
		/* A stale look is confirmed with a fresh clock first. */
		if (cur != 0 && word_is_stale(cur, t / 1000000u))
			t = now_ns();
		if (cur == 0 || word_is_stale(cur, t / 1000000u)) {
			mine = (uint64_t)next_token(t) << 32 |
			       (uint32_t)(t / 1000000u);
			if (atomic_compare_exchange_strong_explicit(
				    word, &cur, mine, memory_order_acquire,
				    memory_order_relaxed)) {
				h->word = mine;
				h->broken = cur != 0;
				return 0;
			}
			continue;
		}
		if (budget_ns == 0)
			break;
		if (++spins < LOCK_SPINS) {
			relax();
			continue;
		}
		spins = 0;
		t = now_ns();
		if (t - start > budget_ns)
			break;
		sched_yield();
	}
	pthread_sigmask(SIG_SETMASK, &h->old, NULL);
	return -ETIMEDOUT;
}

int swerve_shm_lock(_Atomic uint64_t *word, struct swerve_shm_hold *h)
{
	return lock_within(word, h, LOCK_WAIT_NS);
}

int swerve_shm_trylock(_Atomic uint64_t *word, struct swerve_shm_hold *h)
{
	return lock_within(word, h, 0);
}

bool swerve_shm_holds(_Atomic uint64_t *word, const struct swerve_shm_hold *h)
{
	return atomic_load_explicit(word, memory_order_acquire) == h->word;
}

void swerve_shm_unlock(_Atomic uint64_t *word, struct swerve_shm_hold *h)
{
	uint64_t mine = h->word;

	/* Fails only when someone took the lock over: theirs now. */
	atomic_compare_exchange_strong_explicit(word, &mine, 0,
						memory_order_release,
						memory_order_relaxed);
	pthread_sigmask(SIG_SETMASK, &h->old, NULL);
}
