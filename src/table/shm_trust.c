/*
 * shm_trust.c: what happens when the shared table is written over while
 * in use. Any program of the user can write into the segment, so before
 * each change the table is looked at again: the header against what
 * attach validated, and the row's tag. A table found written over is
 * replaced, in this process, by a private copy mapped with mremap at the
 * very same addresses, so that no pointer into it changes; the rows this
 * process was given keep the keys it knows them by, every other row that
 * lost its tag is freed, every state is repaired, every epoch moves (plans
 * computed from the damage are stale), and stderr says so once. Health is
 * then kept in this process, as when the table could not be shared to
 * begin with; newcomers refuse the damaged table on attach.
 *
 * Thread-safety: swerve_shm_trust() may run in any thread at once; one of
 * them replaces the table (a compare-and-swap elects it), with every
 * signal blocked, while the others fail open until it is done. A thread
 * that is inside a row's lock meanwhile finishes on the copy, where its
 * lock word is gone: its unlock then leaves the copy alone.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "base/log.h"
#include "base/swerve.h"
#include "table/shm.h"
#include "table/shm_int.h"

/* tab->damaged: 0 trusted, 1 being replaced (or could not be), 2 done. */
#define DAMAGE_REPLACING 1
#define DAMAGE_REPLACED 2

static bool header_is_ours(const struct swerve_shm *tab)
{
	const struct swerve_shm_header *h = tab->hdr;

	return __atomic_load_n(&h->magic, __ATOMIC_RELAXED) ==
		       SWERVE_SHM_MAGIC &&
	       __atomic_load_n(&h->version, __ATOMIC_RELAXED) ==
		       SWERVE_SHM_VERSION &&
	       __atomic_load_n(&h->nrows, __ATOMIC_RELAXED) == tab->nrows &&
	       __atomic_load_n(&h->nevents, __ATOMIC_RELAXED) == tab->nevents &&
	       __atomic_load_n(&h->nonce, __ATOMIC_RELAXED) == tab->nonce;
}

static bool tag_ok(const struct swerve_shm_row *row)
{
	return atomic_load_explicit(&row->tag, memory_order_relaxed) ==
	       SWERVE_SHM_ROW_TAG;
}

/* Makes the copy at <map> of a damaged table sound again. */
static void sanitize(const struct swerve_shm *tab, void *map)
{
	struct swerve_shm_header *h = map;
	struct swerve_shm_row *rows = (struct swerve_shm_row *)(h + 1), *r;
	uint64_t now = swerve_now_ms(), key;
	size_t i;

	h->magic = SWERVE_SHM_MAGIC;
	h->version = SWERVE_SHM_VERSION;
	h->header_size = (uint32_t)sizeof(*h);
	h->row_size = (uint32_t)sizeof(*rows);
	h->nrows = (uint32_t)tab->nrows;
	h->nevents = (uint32_t)tab->nevents;
	h->event_size = (uint32_t)sizeof(struct swerve_shm_event);
	h->nonce = tab->nonce;
	atomic_store(&h->reclaim_lock, 0);
	atomic_store(&h->ready, 1);
	for (i = 0; i < tab->nrows; i++) {
		r = &rows[i];
		key = tab->mine != NULL ? tab->mine[i] : 0;
		if (!tag_ok(r)) {
			memset(r, 0, sizeof(*r));
			atomic_store(&r->tag, SWERVE_SHM_ROW_TAG);
		}
		/* The rows we were given keep the keys we know them by. */
		if (key != 0)
			atomic_store(&r->key, key);
		atomic_store(&r->lock, 0);
		(void)swerve_shm_row_repair(r, now);
		/* Plans computed from the damaged table are stale. */
		atomic_fetch_add(&r->epoch, 1);
	}
}

/* Replaces the damaged shared table <tab> by a private copy, in place. */
static void replace(struct swerve_shm *tab, const char *why)
{
	int expect = 0;
	sigset_t all, old;
	void *copy;

	if (!atomic_compare_exchange_strong(&tab->damaged, &expect,
					    DAMAGE_REPLACING))
		return;
	/* No handler may jump out of this half-way. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	copy = mmap(NULL, tab->size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (copy != MAP_FAILED) {
		memcpy(copy, tab->hdr, tab->size);
		sanitize(tab, copy);
		if (mremap(copy, tab->size, tab->size,
			   MREMAP_MAYMOVE | MREMAP_FIXED, tab->hdr) ==
		    MAP_FAILED) {
			munmap(copy, tab->size);
			copy = MAP_FAILED;
		}
	}
	if (copy != MAP_FAILED) {
		__atomic_store_n(&tab->shared, false, __ATOMIC_RELAXED);
		atomic_store(&tab->damaged, DAMAGE_REPLACED);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (copy != MAP_FAILED)
		swerve_log(SWERVE_LOG_WARN, "table %s was written over by "
			   "another program (%s); health is kept in this "
			   "process from now on", tab->name, why);
	else
		swerve_log(SWERVE_LOG_WARN, "table %s was written over by "
			   "another program (%s) and cannot be copied; health "
			   "changes are dropped in this process", tab->name,
			   why);
}

bool swerve_shm_trust(struct swerve_shm *tab, struct swerve_shm_row *row)
{
	int state;

	if (tab == NULL || tab->hdr == NULL)
		return row == NULL || tag_ok(row);
	state = atomic_load_explicit(&tab->damaged, memory_order_acquire);
	if (state == DAMAGE_REPLACING)
		return false;
	if (state == 0 && tab->shared) {
		if (!header_is_ours(tab))
			replace(tab, "its header changed");
		else if (row != NULL && !tag_ok(row))
			replace(tab, "a row lost its tag");
		if (atomic_load(&tab->damaged) == DAMAGE_REPLACING)
			return false;
	}
	return row == NULL || tag_ok(row);
}
