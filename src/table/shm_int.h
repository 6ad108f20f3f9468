/*
 * shm_int.h: what the files of the shared table (shm.c, shm_lock.c,
 * shm_segment.c, shm_check.c) share with each other and with nothing else,
 * except the tests that hold a row lock the way the library does. The
 * table's public interface is shm.h.
 *
 * Thread-safety: as each function says.
 */
#ifndef SWERVE_SHM_INT_H
#define SWERVE_SHM_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table/shm.h"

/* No real ejection lasts this long; longer values are damage. */
#define SWERVE_SHM_MAX_EJECTION_MS (100ull * 24 * 3600 * 1000)

/* A lock taken by swerve_shm_lock(), to be given to swerve_shm_unlock(). */
struct swerve_shm_hold {
	uint64_t word;   /* what this holder stored in the lock word */
	sigset_t old;    /* the signal mask to restore */
	bool broken;     /* taken from a holder that was gone or stopped */
};

/*
 * Takes the lock word <word> (a row's, or the header's reclaim lock) with
 * every signal blocked until swerve_shm_unlock(), so that no handler runs,
 * and no siglongjmp leaves, while it is held. Waits at most a couple of
 * milliseconds for a holder; a holder older than the lease (a process
 * killed, stopped or frozen while holding it) is taken over, and <h>
 * says so, so the caller repairs what it may have left half-written.
 * Returns 0, or -ETIMEDOUT with the signal mask back as it was. Any
 * thread; async-signal-safe.
 */
int swerve_shm_lock(_Atomic uint64_t *word, struct swerve_shm_hold *h);

/* swerve_shm_lock() without the wait: -ETIMEDOUT at once when a live
 * holder has it (for loops over many rows, whose waits would add up). */
int swerve_shm_trylock(_Atomic uint64_t *word, struct swerve_shm_hold *h);

/* True while <h> still holds <word>: nobody took it over meanwhile. */
bool swerve_shm_holds(_Atomic uint64_t *word, const struct swerve_shm_hold *h);

/* Releases <word> if <h> still holds it, and restores the signal mask. */
void swerve_shm_unlock(_Atomic uint64_t *word, struct swerve_shm_hold *h);

/* Bytes of a table of <nrows> rows and <nevents> events. */
size_t swerve_shm_bytes(uint32_t nrows, uint32_t nevents);

/* True when <st> has no streak, no backoff and no ejection: a success
 * leaves such a state as it is. */
bool swerve_shm_pristine(const struct swerve_outlier_state *st);

/*
 * Makes the state of <row> one outlier.c can produce again and publishes
 * its deadline and quiet flag; the caller holds the row's lock (or owns
 * the memory). Returns true when something had to change.
 */
bool swerve_shm_row_repair(struct swerve_shm_row *row, uint64_t now_ms);

/*
 * Whether <tab> (and <row>, may be NULL) can be trusted before a change:
 * a shared table whose header no longer matches what attach validated, or
 * a row whose tag is gone, was written over by someone; it is then
 * replaced, at the same addresses, by a private copy with every row
 * repaired, and stderr says so once. Returns false when <row> cannot be
 * used (the caller fails open). <tab> may be NULL (tests): true.
 */
bool swerve_shm_trust(struct swerve_shm *tab, struct swerve_shm_row *row);

/* Fills the header and the rows of the zeroed table at <map>. */
void swerve_shm_init(void *map, uint32_t nrows, uint64_t nonce,
		     uint64_t link_dev, const char *name);

/* Points <out> at the table mapped at <map>. */
void swerve_shm_fill(struct swerve_shm *out, void *map, size_t size,
		     uint32_t nrows, uint32_t nevents, bool shared,
		     const char *name);

#endif
