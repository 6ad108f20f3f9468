/*
 * shm_check.c: the consistency check of a whole table, for the fault
 * tests (after kill -9 storms, stopped lock holders, truncation) and for
 * operators. It says what a sound table looks like, in one place: the
 * header as attach validated it, and for every claimed row its tag, a lock
 * that is free or whose holder is gone, an outlier state outlier.c can
 * produce, the published deadline of that state, and a quiet flag that
 * tells the truth. A lock whose holder is gone is taken and the row
 * repaired first, exactly as the next locker would; that is the table's
 * own recovery, not a problem.
 *
 * Thread- and process-safety: may run while other processes use the
 * table; it takes each row's lock as they do, and skips rows whose lock a
 * live holder keeps.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "table/shm.h"
#include "table/shm_int.h"

struct findings {
	int n;
	char *err;
	size_t errlen;
};

static void found(struct findings *f, size_t i, const char *what)
{
	if (f->n++ == 0)
		swerve_log_reason(f->err, f->errlen, "row %zu: %s", i, what);
}

/* The problem of the row <r> (locked by us), or NULL. */
static const char *row_problem(struct swerve_shm_row *r, uint64_t now_ms)
{
	struct swerve_outlier_state st = r->st;

	swerve_outlier_repair(&st, SWERVE_SHM_MAX_EJECTION_MS, now_ms);
	if (memcmp(&st, &r->st, sizeof(st)) != 0)
		return "an outlier state that cannot occur";
	if (atomic_load(&r->ejected_until_ms) !=
	    swerve_outlier_ejected_until(&st, NULL))
		return "a published deadline that is not its state's";
	if (atomic_load(&r->quiet) != 0 && !swerve_shm_pristine(&st))
		return "marked quiet with a streak, backoff or ejection";
	if (atomic_load(&r->quiet) > 1)
		return "a quiet flag that is neither 0 nor 1";
	return NULL;
}

int swerve_shm_check(struct swerve_shm *tab, uint64_t now_ms, char *err,
		     size_t errlen)
{
	struct findings f = { 0, err, errlen };
	struct swerve_shm_hold h;
	struct swerve_shm_row *r;
	const char *why;
	size_t i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (tab == NULL || tab->hdr == NULL) {
		swerve_log_reason(err, errlen, "no table");
		return 1;
	}
	if (tab->hdr->magic != SWERVE_SHM_MAGIC ||
	    tab->hdr->version != SWERVE_SHM_VERSION ||
	    tab->hdr->nrows != tab->nrows ||
	    tab->hdr->nevents != tab->nevents ||
	    tab->hdr->nonce != tab->nonce) {
		swerve_log_reason(err, errlen,
				  "the header changed since attach");
		return 1;
	}
	for (i = 0; i < tab->nrows; i++) {
		r = &tab->rows[i];
		if (atomic_load(&r->tag) != SWERVE_SHM_ROW_TAG) {
			found(&f, i, "its tag is gone");
			continue;
		}
		if (atomic_load(&r->key) == 0)
			continue;
		if (swerve_shm_trylock(&r->lock, &h) != 0)
			continue; /* a live holder is changing it */
		if (h.broken)
			(void)swerve_shm_row_repair(r, now_ms);
		why = row_problem(r, now_ms);
		swerve_shm_unlock(&r->lock, &h);
		if (why != NULL)
			found(&f, i, why);
	}
	return f.n;
}
