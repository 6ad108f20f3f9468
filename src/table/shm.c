/*
 * shm.c: the host-wide health table.
 *
 * Creation races. Any process may be the first to run with swerve, so every
 * one tries shm_open(O_CREAT | O_EXCL) and exactly one wins. The winner
 * sizes the segment, fills the header, initialises every row's mutex, then
 * publishes with two release stores: ready = 1, and the magic last of all.
 * The losers open the existing name and wait, at most about 50 ms, for the
 * magic to appear; with acquire loads, seeing the magic means seeing the
 * whole initialisation. A creator that died half-way leaves a segment that
 * never gets its magic: nobody can tell a slow creator from a dead one
 * without racing it, so such a table is refused (-EAGAIN, with the creator's
 * pid and "swervectl reset" in the reason) and never re-initialised in
 * place. The process then falls back to a private table: fail open.
 *
 * Trust. The segment is writable by every process of the user, and a
 * foreign program may have created a segment of the same name. Everything
 * about its shape is validated once, on attach (magic, version, header and
 * row sizes, row count, file size), and afterwards only our own copy of the
 * size is used to bound row indices, so a header rewritten later cannot
 * send us outside the mapping. Row contents are never pointers or
 * addresses: the worst a scribbler can do is eject or un-eject endpoints.
 *
 * Robust locks. Each row's outlier state is a handful of fields that must
 * change together (streaks, backoff, ejection), so it is updated under a
 * process-shared mutex. A process can be killed at any instruction,
 * including while holding it, so the mutex is robust: the next locker gets
 * EOWNERDEAD, clamps whatever the dead process may have left half-written,
 * marks the mutex consistent and carries on. The lock is held for a few
 * hundred instructions, never across a system call that can block, and
 * nothing is logged under it.
 *
 * Why readers take no lock. The connect path only asks "is this endpoint
 * ejected now?". Every update publishes the answer as a single 64-bit
 * deadline, ejected_until_ms, with a release store, so a reader needs one
 * acquire load and a comparison with its clock: no lock, no system call,
 * safe in a signal handler. An ejection whose deadline passed reads as
 * healthy at once, even before anyone refreshes the row's state.
 *
 * The epoch. The connect path will cache each service's routing plan
 * (tiers, priority load, panic) instead of recomputing it per connect, and
 * needs to know when the plan is stale without reading every row. The
 * service's row therefore keeps a counter that moves after each change of
 * an ejection (by detection, expiry noticed, or an operator) and each new
 * panic mask, and never on an outcome that changes no ejection, so a busy
 * healthy service keeps its plan. The change is published first and the
 * counter moved after, with release order, so a reader that loads the new
 * value with acquire order sees the change. Each change is decided under
 * the row lock (or by the panic mask's compare-and-swap), so however many
 * processes see it, it moves the epoch once.
 *
 * The event ring after the rows is written and read by shm_events.c; this
 * file decides which events a change of a row makes.
 *
 * The ejection cap (max_ejection_percent) is checked by counting the
 * service's ejected rows before taking the row lock. Two processes failing
 * different endpoints of one service at the same instant can therefore
 * both pass the check and exceed the cap by one, briefly; one ejection per
 * streak and per endpoint is exact, because it is decided under the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"
#include "table/shm.h"
#include "base/swerve.h"

_Static_assert(sizeof(struct swerve_shm_row) == 256,
	       "a row is 256 bytes: the layout is shared across processes");
_Static_assert(sizeof(struct swerve_shm_header) == 256,
	       "the header is 256 bytes: the layout is shared too");
_Static_assert(sizeof(((struct swerve_shm_row *)0)->pad) > 0,
	       "row padding must stay positive");
_Static_assert(sizeof(struct swerve_shm_event) == 64,
	       "an event is 64 bytes: the layout is shared too");

/* How long an attacher waits for a creator that is half-way. */
#define SHM_WAIT_MS 50
#define SHM_WAIT_STEP_NS 1000000L
/* A creator needs about a millisecond; a table this old is abandoned. */
#define SHM_STALE_MS 5000u
/*
 * Upper bound on the row count we accept from a header written by another
 * build (64 MiB of rows): anything larger is not ours.
 */
#define SHM_MAX_ROWS (SWERVE_SHM_ROWS * 64u)
/* Upper bound on the ring size we accept from another build's header. */
#define SHM_MAX_EVENTS (SWERVE_SHM_EVENTS * 64u)
/* No real ejection lasts this long; longer values are damage. */
#define SHM_MAX_EJECTION_MS (100ull * 24 * 3600 * 1000)

/* Header, rows, then the event ring. */
static size_t table_bytes(uint32_t nrows, uint32_t nevents)
{
	return sizeof(struct swerve_shm_header) +
	       (size_t)nrows * sizeof(struct swerve_shm_row) +
	       (size_t)nevents * sizeof(struct swerve_shm_event);
}

/* Rows covered by our own mapping; the shared header is not consulted. */
static size_t table_nrows(const struct swerve_shm *tab)
{
	if (tab->hdr == NULL || tab->rows == NULL)
		return 0;
	return tab->nrows;
}

/*
 * Spreads FNV keys over the rows. Part of the layout: every process must
 * probe from the same home row, so changing it means bumping
 * SWERVE_SHM_VERSION. (murmur3's 64-bit finaliser.)
 */
static uint64_t mix_key(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static int init_row_locks(struct swerve_shm_row *rows, uint32_t nrows)
{
	pthread_mutexattr_t attr;
	uint32_t i;
	int rc;

	rc = pthread_mutexattr_init(&attr);
	if (rc != 0)
		return -rc;
	rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	for (i = 0; rc == 0 && i < nrows; i++)
		rc = pthread_mutex_init(&rows[i].lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return -rc;
}

/*
 * Fills the header and the rows of a zeroed mapping of <nrows> rows, then
 * publishes it: ready first, the magic last, both with release order, so
 * that whoever sees the magic sees everything before it.
 */
static int init_table(struct swerve_shm_header *hdr, uint32_t nrows)
{
	struct swerve_shm_row *rows = (struct swerve_shm_row *)(hdr + 1);
	int rc;

	hdr->version = SWERVE_SHM_VERSION;
	hdr->header_size = (uint32_t)sizeof(struct swerve_shm_header);
	hdr->row_size = (uint32_t)sizeof(struct swerve_shm_row);
	hdr->nrows = nrows;
	hdr->nevents = SWERVE_SHM_EVENTS;
	hdr->event_size = (uint32_t)sizeof(struct swerve_shm_event);
	/* Attachers read these two while we work, to diagnose a dead us. */
	__atomic_store_n(&hdr->creator_pid, (uint32_t)getpid(),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&hdr->created_ms, swerve_now_ms(), __ATOMIC_RELAXED);
	rc = init_row_locks(rows, nrows);
	if (rc != 0)
		return rc;
	atomic_store_explicit(&hdr->ready, 1, memory_order_release);
	__atomic_store_n(&hdr->magic, SWERVE_SHM_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

static void fill_table(struct swerve_shm *out, void *map, size_t size,
		       uint32_t nrows, uint32_t nevents, bool shared,
		       const char *name)
{
	out->hdr = map;
	out->rows = (struct swerve_shm_row *)(out->hdr + 1);
	out->nrows = nrows;
	out->events = (struct swerve_shm_event *)(out->rows + nrows);
	out->nevents = nevents;
	out->size = size;
	out->shared = shared;
	snprintf(out->name, sizeof(out->name), "%s", name);
}

/*
 * Creator's half of attach: <fd> is a segment we just made with O_EXCL.
 * On failure the name is removed again, since nobody else can use it.
 */
static int create_table(int fd, const char *name, struct swerve_shm *out,
			char *err, size_t errlen)
{
	size_t size = table_bytes(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS);
	void *map;
	int rc;

	/* The umask may have taken bits away (even ours): restate 0600. */
	if (fchmod(fd, 0600) == -1 || ftruncate(fd, (off_t)size) == -1) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot size table %s: %s", name,
			   strerror(-rc));
		goto fail;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot map table %s: %s", name,
			   strerror(-rc));
		goto fail;
	}
	rc = init_table(map, SWERVE_SHM_ROWS);
	if (rc != 0) {
		munmap(map, size);
		swerve_log_reason(err, errlen, "cannot set up the locks of table %s: "
			   "%s", name, strerror(-rc));
		goto fail;
	}
	fill_table(out, map, size, SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS, true,
		   name);
	return 0;
fail:
	shm_unlink(name);
	return rc;
}

static bool pid_is_dead(uint32_t pid)
{
	if (pid == 0 || pid > (uint32_t)INT32_MAX)
		return true;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Sleeps one step of the creation wait; false once the wait is over. */
static bool wait_step(uint64_t deadline_ms)
{
	struct timespec ts = { 0, SHM_WAIT_STEP_NS };

	if (swerve_now_ms() >= deadline_ms)
		return false;
	nanosleep(&ts, NULL); /* EINTR just shortens the step */
	return true;
}

/*
 * Explains a segment that never finished creation, from what its creator
 * managed to write into <hdr> (which may be NULL: not even sized).
 */
static int refuse_unready(const struct swerve_shm_header *hdr,
			  const char *name, char *err, size_t errlen)
{
	uint32_t pid = 0;
	uint64_t created = 0, now = swerve_now_ms();

	if (hdr != NULL) {
		pid = __atomic_load_n(&hdr->creator_pid, __ATOMIC_RELAXED);
		created = __atomic_load_n(&hdr->created_ms, __ATOMIC_RELAXED);
	}
	if (pid == 0)
		swerve_log_reason(err, errlen, "table %s was left half-created by an "
			   "unknown process; remove it with swervectl reset",
			   name);
	else if (pid_is_dead(pid) || created == 0 || created > now ||
		 now - created > SHM_STALE_MS)
		swerve_log_reason(err, errlen, "table %s was left half-created by "
			   "pid %u; remove it with swervectl reset", name,
			   pid);
	else
		swerve_log_reason(err, errlen, "table %s is still being created by "
			   "pid %u; try again", name, pid);
	return -EAGAIN;
}

/*
 * Checks the shape of a published header against the <size> of the
 * segment. Returns the row count and sets <*nevents>, or returns 0 with a
 * reason in <err>.
 */
static uint32_t check_header(const struct swerve_shm_header *hdr,
			     size_t size, const char *name, uint32_t *nevents,
			     char *err, size_t errlen)
{
	uint32_t version = hdr->version, hsize = hdr->header_size;
	uint32_t rsize = hdr->row_size, nrows = hdr->nrows;
	uint32_t esize = hdr->event_size, nev = hdr->nevents;

	if (version != SWERVE_SHM_VERSION) {
		swerve_log_reason(err, errlen, "table %s has layout version %u, this "
			   "swerve uses %u; remove it with swervectl reset "
			   "once no program uses it", name, version,
			   SWERVE_SHM_VERSION);
		return 0;
	}
	if (hsize != sizeof(struct swerve_shm_header) ||
	    rsize != sizeof(struct swerve_shm_row)) {
		swerve_log_reason(err, errlen, "table %s has %u-byte header and "
			   "%u-byte rows, expected %zu and %zu", name, hsize,
			   rsize, sizeof(struct swerve_shm_header),
			   sizeof(struct swerve_shm_row));
		return 0;
	}
	if (nrows == 0 || nrows > SHM_MAX_ROWS) {
		swerve_log_reason(err, errlen, "table %s claims %u rows", name,
			   nrows);
		return 0;
	}
	if (esize != sizeof(struct swerve_shm_event) || nev == 0 ||
	    nev > SHM_MAX_EVENTS) {
		swerve_log_reason(err, errlen, "table %s has %u events of %u bytes, "
			   "expected events of %zu", name, nev, esize,
			   sizeof(struct swerve_shm_event));
		return 0;
	}
	if (size < table_bytes(nrows, nev)) {
		swerve_log_reason(err, errlen, "table %s is %zu bytes, too small for "
			   "its %u rows and %u events (%zu bytes)", name, size,
			   nrows, nev, table_bytes(nrows, nev));
		return 0;
	}
	*nevents = nev;
	return nrows;
}

/*
 * Attacher's half: <fd> is a segment somebody else made. Waits for its
 * creator if needed, validates, and maps exactly the validated size.
 */
static int attach_table(int fd, const char *name, struct swerve_shm *out,
			char *err, size_t errlen)
{
	uint64_t deadline = swerve_now_ms() + SHM_WAIT_MS;
	struct swerve_shm_header *hdr = NULL;
	struct stat sb;
	size_t size, want;
	uint64_t magic;
	uint32_t nrows, nevents = 0;
	void *map;
	int rc;

	for (;;) {
		if (fstat(fd, &sb) == -1) {
			rc = -errno;
			swerve_log_reason(err, errlen, "cannot stat table %s: %s",
				   name, strerror(-rc));
			return rc;
		}
		if (sb.st_uid != geteuid()) {
			swerve_log_reason(err, errlen, "table %s belongs to uid %u, "
				   "not to us (uid %u)", name,
				   (unsigned)sb.st_uid, (unsigned)geteuid());
			return -EACCES;
		}
		if (sb.st_size != 0)
			break;
		/* Created but not yet sized. */
		if (!wait_step(deadline))
			return refuse_unready(NULL, name, err, errlen);
	}
	if (sb.st_size < (off_t)sizeof(*hdr) ||
	    (uint64_t)sb.st_size > table_bytes(SHM_MAX_ROWS, SHM_MAX_EVENTS)) {
		swerve_log_reason(err, errlen, "table %s has a size of %lld bytes: "
			   "not a swerve table", name, (long long)sb.st_size);
		return -EPROTO;
	}
	size = (size_t)sb.st_size;

	/* The header alone first: the rest is mapped once validated. */
	hdr = mmap(NULL, sizeof(*hdr), PROT_READ, MAP_SHARED, fd, 0);
	if (hdr == MAP_FAILED) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot map table %s: %s", name,
			   strerror(-rc));
		return rc;
	}
	while ((magic = __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE)) == 0) {
		if (!wait_step(deadline)) {
			rc = refuse_unready(hdr, name, err, errlen);
			goto out;
		}
	}
	rc = -EPROTO;
	if (magic != SWERVE_SHM_MAGIC) {
		swerve_log_reason(err, errlen, "table %s is not a swerve table (magic "
			   "%#llx)", name, (unsigned long long)magic);
		goto out;
	}
	if (atomic_load_explicit(&hdr->ready, memory_order_acquire) != 1) {
		swerve_log_reason(err, errlen, "table %s has its magic but is not "
			   "marked ready: damaged", name);
		goto out;
	}
	nrows = check_header(hdr, size, name, &nevents, err, errlen);
	if (nrows == 0)
		goto out;
	want = table_bytes(nrows, nevents);
	map = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot map table %s: %s", name,
			   strerror(-rc));
		goto out;
	}
	fill_table(out, map, want, nrows, nevents, true, name);
	rc = 0;
out:
	munmap(hdr, sizeof(*hdr));
	return rc;
}

int swerve_shm_attach(const char *name, bool create, struct swerve_shm *out,
		      char *err, size_t errlen)
{
	struct swerve_shm zero = { 0 };
	int tries, fd, rc;

	if (out == NULL)
		return -EINVAL;
	*out = zero;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || name[0] == '\0' ||
	    strlen(name) >= sizeof(out->name)) {
		swerve_log_reason(err, errlen, "bad table name '%s'",
			   name != NULL ? name : "");
		return -EINVAL;
	}
	/*
	 * Create-or-open, retried because the name can vanish between our
	 * O_EXCL failure and our open (swervectl reset in between).
	 */
	for (tries = 0; tries < 3; tries++) {
		if (create) {
			fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL |
				      O_CLOEXEC, 0600);
			if (fd != -1) {
				rc = create_table(fd, name, out, err, errlen);
				swerve_libc_close(fd);
				return rc;
			}
			if (errno != EEXIST)
				break;
		}
		fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
		if (fd != -1) {
			rc = attach_table(fd, name, out, err, errlen);
			swerve_libc_close(fd);
			return rc;
		}
		if (errno != ENOENT || !create)
			break;
	}
	rc = -errno;
	if (rc == -ENOENT)
		swerve_log_reason(err, errlen, "table %s does not exist", name);
	else if (rc == -EACCES)
		swerve_log_reason(err, errlen, "table %s belongs to another user and "
			   "is not accessible", name);
	else
		swerve_log_reason(err, errlen, "cannot open table %s: %s", name,
			   strerror(-rc));
	return rc;
}

int swerve_shm_private(struct swerve_shm *out)
{
	struct swerve_shm zero = { 0 };
	size_t size = table_bytes(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS);
	void *map;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = zero;
	/* MAP_SHARED: a forked child keeps sharing health with us. */
	map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	rc = init_table(map, SWERVE_SHM_ROWS);
	if (rc != 0) {
		munmap(map, size);
		return rc;
	}
	fill_table(out, map, size, SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS, false,
		   "(private)");
	return 0;
}

void swerve_shm_detach(struct swerve_shm *tab)
{
	struct swerve_shm zero = { 0 };

	if (tab == NULL)
		return;
	if (tab->hdr != NULL && tab->size > 0)
		munmap(tab->hdr, tab->size);
	*tab = zero;
}

int swerve_shm_unlink(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	if (shm_unlink(name) == -1)
		return -errno;
	return 0;
}

struct swerve_shm_row *swerve_shm_row(struct swerve_shm *tab, uint64_t key,
				      bool insert)
{
	struct swerve_shm_row *row;
	size_t nrows, home, i;
	uint64_t cur;

	if (tab == NULL || key == 0)
		return NULL;
	nrows = table_nrows(tab);
	if (nrows == 0)
		return NULL;
	home = (size_t)(mix_key(key) % nrows);
	for (i = 0; i < nrows; i++) {
		row = &tab->rows[(home + i) % nrows];
		cur = atomic_load_explicit(&row->key, memory_order_acquire);
		if (cur == key)
			return row;
		if (cur != 0)
			continue;
		/* Rows are never freed: a free row ends the probe chain. */
		if (!insert)
			return NULL;
		if (atomic_compare_exchange_strong_explicit(
			    &row->key, &cur, key, memory_order_acq_rel,
			    memory_order_acquire))
			return row;
		/* Somebody claimed it first, maybe for the same key. */
		if (cur == key)
			return row;
	}
	return NULL;
}

/*
 * Takes <row>'s lock, repairing the row if its last holder died with it.
 * <now_ms> bounds the repair (0: skip the time checks). Returns 0 or
 * -errno; on error the lock is not held and the caller fails open.
 */
static int lock_row(struct swerve_shm_row *row, uint64_t now_ms)
{
	int rc;

	rc = pthread_mutex_lock(&row->lock);
	if (rc == 0)
		return 0;
	if (rc != EOWNERDEAD)
		return -rc;
	/* What the dead holder left half-written is made sane again. */
	swerve_outlier_repair(&row->st, SHM_MAX_EJECTION_MS, now_ms);
	rc = pthread_mutex_consistent(&row->lock);
	if (rc != 0) {
		pthread_mutex_unlock(&row->lock);
		return -rc;
	}
	return 0;
}

static void unlock_row(struct swerve_shm_row *row)
{
	pthread_mutex_unlock(&row->lock);
}

/*
 * Publishes the lock-free answer for the row's state as it now stands
 * (<cfg> may be NULL); the caller holds the row lock.
 */
static void publish_locked(struct swerve_shm_row *row,
			   const struct swerve_outlier_cfg *cfg,
			   uint64_t now_ms)
{
	atomic_store_explicit(&row->ejected_until_ms,
			      swerve_outlier_ejected_until(&row->st, cfg),
			      memory_order_release);
	atomic_store_explicit(&row->updated_ms, now_ms, memory_order_relaxed);
}

uint64_t swerve_shm_epoch(const struct swerve_shm_row *svc_row)
{
	if (svc_row == NULL)
		return 0;
	return atomic_load_explicit(&svc_row->epoch, memory_order_acquire);
}

void swerve_shm_epoch_bump(struct swerve_shm_row *svc_row)
{
	/* Release: a reader that loads the new value sees what came before. */
	if (svc_row != NULL)
		atomic_fetch_add_explicit(&svc_row->epoch, 1,
					  memory_order_release);
}

int swerve_shm_panic_note(struct swerve_shm *tab, const char *name,
			  uint32_t mask, uint64_t now_ms)
{
	struct swerve_shm_event_info ev;
	struct swerve_shm_row *row;
	uint64_t old, key;

	if (tab == NULL || name == NULL)
		return -EINVAL;
	key = swerve_shm_service_key(name);
	row = swerve_shm_row(tab, key, true);
	if (row == NULL)
		return -ENOSPC;
	old = atomic_load_explicit(&row->panic_mask, memory_order_relaxed);
	if (old == mask)
		return 0;
	/* Whoever wins the swap reports the change; the others saw it too. */
	if (!atomic_compare_exchange_strong_explicit(
		    &row->panic_mask, &old, mask, memory_order_relaxed,
		    memory_order_relaxed))
		return 0;
	swerve_shm_epoch_bump(row);
	memset(&ev, 0, sizeof(ev));
	ev.at_ms = now_ms;
	ev.key = key;
	ev.type = mask != 0 ? SWERVE_EVENT_PANIC_ENTER :
		  SWERVE_EVENT_PANIC_EXIT;
	ev.reason = SWERVE_REASON_HEALTH;
	ev.value = (uint32_t)(mask != 0 ? mask : old);
	return swerve_shm_event_add(tab, &ev);
}

/* The event a state change of <row> makes, from its state <st>. */
static void add_row_event(struct swerve_shm *tab,
			  const struct swerve_shm_row *row,
			  const struct swerve_outlier_state *st,
			  enum swerve_shm_event_type type,
			  enum swerve_outlier_reason reason, uint64_t at_ms)
{
	struct swerve_shm_event_info ev;

	if (tab == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.at_ms = at_ms;
	ev.key = atomic_load_explicit(&row->key, memory_order_relaxed);
	ev.duration_ms = st->ejection_ms;
	ev.value = st->ejections;
	if (type == SWERVE_EVENT_EJECT || type == SWERVE_EVENT_OVERFLOW)
		ev.streak = st->streak;
	(void)swerve_shm_event_add(tab, &ev);
}

enum swerve_outlier_event swerve_shm_report(
	struct swerve_shm *tab, struct swerve_shm_row *svc_row,
	struct swerve_shm_row *const *rows, size_t n, size_t idx,
	const struct swerve_outlier_cfg *cfg, enum swerve_outcome outcome,
	int http_status, uint64_t now_ms)
{
	enum swerve_outlier_event ev_refresh, ev_note;
	struct swerve_outlier_state st, st_unejected;
	struct swerve_shm_row *row;
	uint32_t nejected = 0, cap;
	bool may_eject;
	size_t i;

	/* A names cache's <rows> change with its answers: atomic loads. */
	row = rows != NULL && idx < n ? __atomic_load_n(&rows[idx],
							__ATOMIC_RELAXED) : NULL;
	if (row == NULL)
		return SWERVE_OUTLIER_NONE;
	if (outcome == SWERVE_OUTCOME_CONNECT_OK)
		atomic_fetch_add_explicit(&row->connects_ok, 1,
					  memory_order_relaxed);
	else if (outcome == SWERVE_OUTCOME_CONNECT_FAILED ||
		 outcome == SWERVE_OUTCOME_CONNECT_TIMEOUT)
		atomic_fetch_add_explicit(&row->connects_failed, 1,
					  memory_order_relaxed);
	if (cfg == NULL)
		return SWERVE_OUTLIER_NONE;

	/* The cap counts the others; this row's ejection is decided below.
	 * A success cannot eject: skip the scan (it is O(endpoints)). */
	for (i = 0; outcome != SWERVE_OUTCOME_CONNECT_OK && i < n; i++) {
		const struct swerve_shm_row *other =
			__atomic_load_n(&rows[i], __ATOMIC_RELAXED);

		if (i != idx && other != NULL &&
		    atomic_load_explicit(&other->ejected_until_ms,
					 memory_order_acquire) > now_ms)
			nejected++;
	}
	cap = swerve_outlier_max_ejected(cfg, n > UINT32_MAX ? UINT32_MAX :
					 (uint32_t)n);
	/*
	 * Without outlier detection configured the streaks are still kept
	 * (swervectl shows them) but nothing is ever ejected.
	 */
	may_eject = cfg->enabled && nejected < cap;

	if (lock_row(row, now_ms) != 0)
		return SWERVE_OUTLIER_NONE;
	ev_refresh = swerve_outlier_refresh(&row->st, cfg, now_ms);
	st_unejected = row->st; /* before note() changes it again */
	ev_note = swerve_outlier_note(&row->st, cfg, outcome, http_status,
				      may_eject, now_ms);
	publish_locked(row, cfg, now_ms);
	st = row->st;
	unlock_row(row);

	/* Published above, so whoever sees the new epoch sees the change. */
	if (ev_refresh == SWERVE_OUTLIER_UNEJECT ||
	    ev_note == SWERVE_OUTLIER_EJECT)
		swerve_shm_epoch_bump(svc_row);
	if (!cfg->enabled && ev_note == SWERVE_OUTLIER_OVERFLOW)
		ev_note = SWERVE_OUTLIER_NONE;
	/*
	 * Events are written after the unlock: the ring needs no lock, and
	 * the row lock stays as short as it was. Each is decided under the
	 * lock, so one process writes it.
	 */
	if (ev_refresh == SWERVE_OUTLIER_UNEJECT)
		add_row_event(tab, row, &st_unejected, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_EXPIRED,
			      st_unejected.unejected_at_ms);
	if (ev_note == SWERVE_OUTLIER_EJECT) {
		add_row_event(tab, row, &st, SWERVE_EVENT_EJECT,
			      (enum swerve_outlier_reason)st.reason, now_ms);
	} else if (ev_note == SWERVE_OUTLIER_OVERFLOW &&
		   st.streak == swerve_outlier_threshold(
			   cfg, (enum swerve_outlier_reason)st.reason)) {
		/* Once per streak: later failures would flood the ring. */
		add_row_event(tab, row, &st, SWERVE_EVENT_OVERFLOW,
			      (enum swerve_outlier_reason)st.reason, now_ms);
	}
	return ev_note != SWERVE_OUTLIER_NONE ? ev_note : ev_refresh;
}

bool swerve_shm_is_ejected(const struct swerve_shm_row *row, uint64_t now_ms)
{
	if (row == NULL)
		return false;
	return atomic_load_explicit(&row->ejected_until_ms,
				    memory_order_acquire) > now_ms;
}

int swerve_shm_snapshot(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
			struct swerve_shm_row *row,
			const struct swerve_outlier_cfg *cfg, uint64_t now_ms,
			struct swerve_outlier_state *out)
{
	enum swerve_outlier_event ev = SWERVE_OUTLIER_NONE;
	int rc;

	if (row == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	rc = lock_row(row, now_ms);
	if (rc != 0)
		return rc;
	/* Written back: an expired ejection is over for everyone. */
	if (cfg != NULL) {
		ev = swerve_outlier_refresh(&row->st, cfg, now_ms);
		publish_locked(row, cfg, now_ms);
	}
	*out = row->st;
	unlock_row(row);
	if (ev == SWERVE_OUTLIER_UNEJECT) {
		swerve_shm_epoch_bump(svc_row);
		add_row_event(tab, row, out, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_EXPIRED, out->unejected_at_ms);
	}
	return 0;
}

int swerve_shm_eject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		     struct swerve_shm_row *row, uint64_t duration_ms,
		     uint64_t now_ms)
{
	struct swerve_outlier_state st;
	int rc;

	if (row == NULL || duration_ms == 0 ||
	    duration_ms > SHM_MAX_EJECTION_MS)
		return -EINVAL;
	rc = lock_row(row, now_ms);
	if (rc != 0)
		return rc;
	swerve_outlier_operator_eject(&row->st, duration_ms, now_ms);
	publish_locked(row, NULL, now_ms);
	st = row->st;
	unlock_row(row);
	swerve_shm_epoch_bump(svc_row);
	add_row_event(tab, row, &st, SWERVE_EVENT_EJECT,
		      SWERVE_REASON_OPERATOR, now_ms);
	return 0;
}

int swerve_shm_uneject(struct swerve_shm *tab, struct swerve_shm_row *svc_row,
		       struct swerve_shm_row *row, uint64_t now_ms)
{
	struct swerve_outlier_state st;
	enum swerve_outlier_event ev;
	int rc;

	if (row == NULL)
		return -EINVAL;
	rc = lock_row(row, now_ms);
	if (rc != 0)
		return rc;
	ev = swerve_outlier_operator_uneject(&row->st, now_ms);
	publish_locked(row, NULL, now_ms);
	st = row->st;
	unlock_row(row);
	swerve_shm_epoch_bump(svc_row);
	if (ev == SWERVE_OUTLIER_UNEJECT)
		add_row_event(tab, row, &st, SWERVE_EVENT_UNEJECT,
			      SWERVE_REASON_OPERATOR, now_ms);
	return 0;
}

int swerve_shm_reset_row(struct swerve_shm_row *svc_row,
			 struct swerve_shm_row *row)
{
	int rc;

	if (row == NULL)
		return -EINVAL;
	rc = lock_row(row, 0);
	if (rc != 0)
		return rc;
	swerve_outlier_reset(&row->st);
	publish_locked(row, NULL, 0);
	atomic_store_explicit(&row->connects_ok, 0, memory_order_relaxed);
	atomic_store_explicit(&row->connects_failed, 0, memory_order_relaxed);
	unlock_row(row);
	swerve_shm_epoch_bump(svc_row);
	return 0;
}
