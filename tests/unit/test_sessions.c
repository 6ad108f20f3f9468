/*
 * Unit tests of the TLS session store (src/table/sessions.c) in real
 * shared memory: what is stored comes back to another process, per key,
 * until it expires, under the same verification settings only; the
 * oldest of a full set goes first; a reset or a service's drop voids what
 * it must, even in a mapping attached before; what was written over is
 * refused (a slot, or the header on attach); readers never see a torn
 * slot while several processes write; and a stopped lock holder delays
 * nobody beyond a few milliseconds. Each test runs in its own process
 * with stores of its own (test_shm_support.c names them); the clock is a
 * parameter. Children leave through _exit().
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/swerve.h"
#include "table/sessions.h"
#include "table/shm_int.h"
#include "test_shm_support.h"

#define T0 1700000000   /* CLOCK_REALTIME seconds: the clock is ours */
#define NSETS (SWERVE_SESSIONS_SLOTS / SWERVE_SESSIONS_WAYS)
#define WRITERS 4      /* processes of the race: writers and readers */
#define ROUNDS 20000

TestSuite(sessions, .fini = unlink_names, .timeout = 60);

/* A fresh store of the test's own, attached (made). */
static void fresh(struct swerve_sessions *st, char *name, size_t len)
{
	char err[256] = "";
	int rc;

	cr_assert_eq(swerve_sessions_name(new_name(), name, len), 0);
	rc = swerve_sessions_attach(name, true, st, err, sizeof(err));
	cr_assert_eq(rc, 0, "%d %s", rc, err);
	cr_assert_eq(st->nslots, SWERVE_SESSIONS_SLOTS);
}

/* Key <n> of set <set> (keys of one set share h1 modulo the sets). */
static struct swerve_session_key key_in(unsigned set, unsigned n)
{
	struct swerve_session_key k = {
		.h1 = set + (uint64_t)NSETS * (n + 1),
		.h2 = 0x5eed0000u + n,
		.group = 7,
		.verify = 42,
	};

	return k;
}

/* A session's bytes: <len> of them, all <v>. */
static const unsigned char *bytes(unsigned char v, size_t len)
{
	static unsigned char b[SWERVE_SESSIONS_BLOB_MAX];

	memset(b, v, len);
	return b;
}

/* get() into a buffer of its own: its result, the bytes in <out>. */
static ssize_t get(struct swerve_sessions *st,
		   const struct swerve_session_key *k, int64_t now,
		   unsigned char *out)
{
	return swerve_sessions_get(st, k, now, out, SWERVE_SESSIONS_BLOB_MAX);
}

static void expect_bytes(const unsigned char *b, unsigned char v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		cr_assert_eq(b[i], v, "byte %zu is %#x, not %#x", i, b[i], v);
}

/* The slot holding <k>, or NULL. */
static struct swerve_session_slot *slot_of(struct swerve_sessions *st,
					   const struct swerve_session_key *k)
{
	unsigned i;

	for (i = 0; i < st->nslots; i++)
		if (st->slots[i].h1 == k->h1 && st->slots[i].h2 == k->h2)
			return &st->slots[i];
	return NULL;
}

/* A fresh store holding <k>'s session of <len> bytes <v>, expiring at
 * T0 + 60: its slot. */
static struct swerve_session_slot *
fresh_with(struct swerve_sessions *st, const struct swerve_session_key *k,
	   unsigned char v, size_t len)
{
	struct swerve_session_slot *s;
	char name[128];

	fresh(st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_put(st, k, T0 + 60, T0, bytes(v, len),
					 len), 0);
	s = slot_of(st, k);
	cr_assert_not_null(s);
	return s;
}

Test(sessions, a_stored_session_comes_back_to_another_process)
{
	struct swerve_session_key k = key_in(3, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_sessions st, other;
	char name[128], path[200], err[256];
	struct stat sb;
	pid_t pid;
	int status;

	fresh(&st, name, sizeof(name));
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
	cr_assert_eq(get(&st, &k, T0, out), -ENOENT);
	pid = fork();
	if (pid == 0) {
		/* Another process, its own attach. */
		if (swerve_sessions_attach(name, false, &other, err,
					   sizeof(err)) != 0 ||
		    swerve_sessions_put(&other, &k, T0 + 100, T0,
					bytes(0xab, 1500), 1500) != 0)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(status, 0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), 1500);
	expect_bytes(out, 0xab, 1500);
	/* Another key of the same set, or the same h1 with another h2: no. */
	k.h2++;
	cr_assert_eq(get(&st, &k, T0 + 1, out), -ENOENT);
	swerve_sessions_detach(&st);
}

Test(sessions, a_key_keeps_one_slot_and_its_last_session)
{
	struct swerve_session_key k = key_in(9, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_sessions st;
	char name[128];
	unsigned i, n = 0;

	fresh(&st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 100, T0,
					 bytes(1, 3000), 3000), 0);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 200, T0,
					 bytes(2, 100), 100), 0);
	cr_assert_eq(get(&st, &k, T0 + 150, out), 100);
	expect_bytes(out, 2, 100);
	for (i = 0; i < st.nslots; i++)
		n += st.slots[i].h1 == k.h1;
	cr_assert_eq(n, 1);
	/* The longer session before it left no byte behind. */
	for (i = 100; i < 3000; i++)
		cr_assert_eq(slot_of(&st, &k)->blob[i], 0, "byte %u", i);
	swerve_sessions_detach(&st);
}

Test(sessions, what_no_writer_of_ours_stores_is_refused)
{
	struct swerve_session_key k = key_in(1, 0), zero = { 0 };
	struct swerve_sessions st;
	const unsigned char *b = bytes(5, 10);
	char name[128];

	fresh(&st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 10, T0, b, 0), -EINVAL);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 10, T0, b,
					 SWERVE_SESSIONS_BLOB_MAX + 1),
		     -EINVAL);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0, T0, b, 10), -EINVAL);
	cr_assert_eq(swerve_sessions_put(&st, &k,
					 T0 + SWERVE_SESSIONS_MAX_LIFETIME + 1,
					 T0, b, 10),
		     -EINVAL);
	cr_assert_eq(swerve_sessions_put(&st, &zero, T0 + 10, T0, b, 10),
		     -EINVAL);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 10, T0, b,
					 SWERVE_SESSIONS_BLOB_MAX),
		     0);
	swerve_sessions_detach(&st);
}

Test(sessions, a_session_expires_and_its_bytes_are_wiped)
{
	struct swerve_session_key k = key_in(4, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_slot *s;
	struct swerve_sessions st;

	s = fresh_with(&st, &k, 0x77, 800);
	cr_assert_eq(get(&st, &k, T0 + 59, out), 800);
	cr_assert_eq(get(&st, &k, T0 + 60, out), -ESTALE);
	cr_assert_eq(get(&st, &k, T0 + 59, out), -ENOENT, "dropped");
	cr_assert_eq(s->h1, 0);
	cr_assert_eq(s->blob[0], 0);
	cr_assert_eq(s->blob[799], 0);
	swerve_sessions_detach(&st);
}

Test(sessions, other_verification_settings_find_nothing_and_drop_it)
{
	struct swerve_session_key k = key_in(5, 0), other;
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_sessions st;
	char name[128];

	fresh(&st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0,
					 bytes(0x11, 64), 64), 0);
	other = k;
	other.verify++;
	cr_assert_eq(get(&st, &other, T0 + 1, out), -EKEYREJECTED);
	/* Dropped: not even the old settings find it now. */
	cr_assert_eq(get(&st, &k, T0 + 1, out), -ENOENT);
	swerve_sessions_detach(&st);
}

Test(sessions, a_full_set_gives_up_its_oldest)
{
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_key k;
	struct swerve_sessions st;
	char name[128];
	unsigned n;

	fresh(&st, name, sizeof(name));
	for (n = 0; n <= SWERVE_SESSIONS_WAYS; n++) {
		k = key_in(11, n);
		cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0,
						 bytes((unsigned char)n, 32),
						 32), 0);
	}
	k = key_in(11, 0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), -ENOENT, "the oldest went");
	for (n = 1; n <= SWERVE_SESSIONS_WAYS; n++) {
		k = key_in(11, n);
		cr_assert_eq(get(&st, &k, T0 + 1, out), 32, "key %u", n);
		expect_bytes(out, (unsigned char)n, 32);
	}
	/* Other sets are untouched by it. */
	k = key_in(12, 0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), -ENOENT);
	swerve_sessions_detach(&st);
}

/*
 * A reset (group 0) voids every session for a mapping attached before it
 * too, and wipes them; a service's drop takes only its group.
 */
Test(sessions, drops_void_sessions_in_every_mapping)
{
	struct swerve_session_key a = key_in(20, 0), b = key_in(21, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_sessions st, early;
	char name[128], err[256];

	fresh(&st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_attach(name, false, &early, err,
					    sizeof(err)), 0, "%s", err);
	b.group = 8;
	cr_assert_eq(swerve_sessions_put(&st, &a, T0 + 60, T0, bytes(1, 9), 9),
		     0);
	cr_assert_eq(swerve_sessions_put(&st, &b, T0 + 60, T0, bytes(2, 9), 9),
		     0);
	cr_assert_eq(swerve_sessions_drop(&st, b.group), 1);
	cr_assert_eq(get(&early, &b, T0 + 1, out), -ENOENT);
	cr_assert_eq(get(&early, &a, T0 + 1, out), 9);
	cr_assert_eq(swerve_sessions_put(&st, &b, T0 + 60, T0, bytes(2, 9), 9),
		     0);
	cr_assert_eq(swerve_sessions_drop(&st, 0), 2);
	cr_assert_eq(get(&early, &a, T0 + 1, out), -ENOENT);
	cr_assert_eq(get(&early, &b, T0 + 1, out), -ENOENT);
	cr_assert_null(slot_of(&st, &a));
	/* Stored after the reset: found again. */
	cr_assert_eq(swerve_sessions_put(&early, &a, T0 + 60, T0,
					 bytes(3, 9), 9), 0);
	cr_assert_eq(get(&st, &a, T0 + 1, out), 9);
	swerve_sessions_detach(&early);
	swerve_sessions_detach(&st);
}

/*
 * A slot written over (its bytes, its length, its expiry) is refused as
 * damaged, never handed out; so is a slot of a key whose seq stays odd
 * (a writer that died mid-way) called busy, and written again by the
 * next writer once the lock's lease is over.
 */
Test(sessions, a_slot_written_over_is_refused)
{
	struct swerve_session_key k = key_in(30, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_slot *s;
	struct swerve_sessions st;

	s = fresh_with(&st, &k, 0x42, 500);
	s->blob[250] ^= 1;
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBADMSG);
	s->blob[250] ^= 1;
	cr_assert_eq(get(&st, &k, T0 + 1, out), 500);
	s->len = SWERVE_SESSIONS_BLOB_MAX + 1;
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBADMSG);
	s->len = 500;
	s->expires = T0 + 2 * SWERVE_SESSIONS_MAX_LIFETIME;
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBADMSG);
	s->expires = T0 + 60;
	s->verify ^= 1; /* the sum covers the settings too */
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBADMSG);
	s->verify ^= 1;
	/* A writer that died mid-way: busy, then rewritten after the
	 * lease (a stale lock word is taken over). */
	atomic_fetch_add(&s->seq, 1);
	atomic_store(&s->lock, 1);
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBUSY);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0,
					 bytes(0x43, 20), 20), 0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), 20);
	expect_bytes(out, 0x43, 20);
	swerve_sessions_detach(&st);
}

/* A header written over is refused on attach; a mapping attached before
 * keeps the slot count it validated. */
Test(sessions, a_header_written_over_is_refused)
{
	struct swerve_session_key k = key_in(40, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_sessions st, again;
	char name[128], err[256] = "";
	int rc;

	fresh(&st, name, sizeof(name));
	st.hdr->nslots = SWERVE_SESSIONS_SLOTS * 4;
	rc = swerve_sessions_attach(name, true, &again, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%d %s", rc, err);
	cr_assert_not_null(strstr(err, "session store"), "%s", err);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0, bytes(1, 9), 9),
		     0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), 9);
	st.hdr->nslots = SWERVE_SESSIONS_SLOTS;
	st.hdr->magic = 0x4141414141414141ull;
	rc = swerve_sessions_attach(name, false, &again, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%d %s", rc, err);
	swerve_sessions_detach(&st);
}

/*
 * One process of the race on key 50/0: writers store sessions of the
 * largest size, each filled with one byte that says which round wrote
 * it; readers look it up all the while. Exits 1 on a torn or damaged
 * read: every session handed out is one writer's, whole.
 */
static void race(const char *name, unsigned w)
{
	struct swerve_session_key k = key_in(50, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	size_t len = SWERVE_SESSIONS_BLOB_MAX;
	struct swerve_sessions st;
	char err[256];
	unsigned r;
	ssize_t n;
	size_t i;

	if (swerve_sessions_attach(name, false, &st, err, sizeof(err)) != 0)
		_exit(2);
	for (r = 0; r < ROUNDS; r++) {
		if (w % 2 == 0) {
			swerve_sessions_put(&st, &k, T0 + 60, T0,
					    bytes((unsigned char)(w + r), len),
					    len - r % 64);
			continue;
		}
		n = get(&st, &k, T0 + 1, out);
		if (n == -EBADMSG)
			_exit(1);
		for (i = 1; n > 0 && i < (size_t)n; i++)
			if (out[i] != out[0])
				_exit(1);
	}
	_exit(0);
}

Test(sessions, readers_never_see_a_torn_slot, .timeout = 120)
{
	struct swerve_session_key k = key_in(50, 0);
	struct swerve_sessions st;
	pid_t pids[WRITERS];
	char name[128];
	int i, status;

	fresh(&st, name, sizeof(name));
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0, bytes(1, 9), 9),
		     0);
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			race(name, (unsigned)i);
		cr_assert_gt(pids[i], 0);
	}
	for (i = 0; i < WRITERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "%s %d: status %#x", i % 2 == 0 ? "writer" : "reader",
			  i, status);
	}
	swerve_sessions_detach(&st);
}

static uint64_t elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * A process stopped (SIGSTOP) while it writes a slot, lock held and seq
 * odd: a reader is told at once that the slot is busy, a writer gives up
 * within its 2 ms wait, and once the lease is over a writer takes the
 * slot over. Nobody waits more than a few milliseconds for the stopped
 * process (100 ms is the house bound).
 */
Test(sessions, a_stopped_writer_delays_nobody)
{
	struct swerve_session_key k = key_in(60, 0);
	unsigned char out[SWERVE_SESSIONS_BLOB_MAX];
	struct swerve_session_slot *s;
	struct swerve_sessions st;
	struct swerve_shm_hold h;
	struct timespec t0;
	pid_t pid;
	int status;

	s = fresh_with(&st, &k, 1, 50);
	pid = fork();
	if (pid == 0) {
		/* Gone with the test, even stopped, if an assertion fails. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* A writer's first steps, the library's way; then stopped. */
		if (swerve_shm_lock(&s->lock, &h) != 0)
			_exit(1);
		atomic_fetch_add(&s->seq, 1);
		raise(SIGSTOP);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(status));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(get(&st, &k, T0 + 1, out), -EBUSY);
	cr_assert_lt(elapsed_ms(&t0), 100);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0, bytes(2, 50),
					 50), -EBUSY);
	cr_assert_lt(elapsed_ms(&t0), 100);
	usleep(250000); /* past the lock's 200 ms lease */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(swerve_sessions_put(&st, &k, T0 + 60, T0, bytes(3, 50),
					 50), 0);
	cr_assert_lt(elapsed_ms(&t0), 100);
	cr_assert_eq(get(&st, &k, T0 + 1, out), 50);
	expect_bytes(out, 3, 50);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	swerve_sessions_detach(&st);
}
