/*
 * shm_segment.c: the health table as a kind of shared segment
 * (segment.h): its size, how a new one is filled, what an attacher
 * validates inside it, how the orphan sweep recognises one; and the
 * process-private table of the same layout that a process falls back to.
 *
 * Where the table lives, and why a SysV segment behind a POSIX name, is
 * segment.c. Inside, an attacher checks the header (magic, version,
 * sizes, the nonce the name's record and the header share, so that a
 * segment id reused by the kernel is not mistaken for ours) and every
 * row's tag. Afterwards only the process's own copy of the sizes bounds
 * row indices. What happens when the table is written over later is
 * shm_trust.c.
 *
 * Thread-safety: attach, private, detach and unlink are for one thread at
 * a time per struct swerve_shm (init, tools).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "base/swerve.h"
#include "table/segment.h"
#include "table/shm.h"
#include "table/shm_int.h"

#define LINK_MAGIC 0x314b4e4c56525753ull /* "SWRVLNK1" */
/*
 * Upper bound on the row count we accept from a header written by another
 * build (64 MiB of rows): anything larger is not ours.
 */
#define SHM_MAX_ROWS (SWERVE_SHM_ROWS * 64u)
/* Upper bound on the ring size we accept from another build's header. */
#define SHM_MAX_EVENTS (SWERVE_SHM_EVENTS * 64u)

size_t swerve_shm_bytes(uint32_t nrows, uint32_t nevents)
{
	return sizeof(struct swerve_shm_header) +
	       (size_t)nrows * sizeof(struct swerve_shm_row) +
	       (size_t)nevents * sizeof(struct swerve_shm_event);
}

void swerve_shm_init(void *map, uint32_t nrows, uint64_t nonce,
		     uint64_t link_dev, const char *name)
{
	struct swerve_shm_header *hdr = map;
	struct swerve_shm_row *rows = (struct swerve_shm_row *)(hdr + 1);
	uint32_t i;

	hdr->version = SWERVE_SHM_VERSION;
	hdr->header_size = (uint32_t)sizeof(struct swerve_shm_header);
	hdr->row_size = (uint32_t)sizeof(struct swerve_shm_row);
	hdr->nrows = nrows;
	hdr->nevents = SWERVE_SHM_EVENTS;
	hdr->event_size = (uint32_t)sizeof(struct swerve_shm_event);
	hdr->nonce = nonce;
	hdr->link_dev = link_dev;
	snprintf(hdr->name, sizeof(hdr->name), "%s", name);
	hdr->creator_pid = (uint32_t)getpid();
	hdr->created_ms = swerve_now_ms();
	/* A zero lock word is free; a zero state is quiet. */
	for (i = 0; i < nrows; i++) {
		atomic_store_explicit(&rows[i].tag, SWERVE_SHM_ROW_TAG,
				      memory_order_relaxed);
		atomic_store_explicit(&rows[i].quiet, 1, memory_order_relaxed);
	}
	/* Whoever sees the magic sees everything before it. */
	atomic_store_explicit(&hdr->ready, 1, memory_order_release);
	__atomic_store_n(&hdr->magic, SWERVE_SHM_MAGIC, __ATOMIC_RELEASE);
}

void swerve_shm_fill(struct swerve_shm *out, void *map, size_t size,
		     uint32_t nrows, uint32_t nevents, bool shared,
		     const char *name)
{
	void *mine;

	out->hdr = map;
	out->rows = (struct swerve_shm_row *)(out->hdr + 1);
	out->nrows = nrows;
	out->events = (struct swerve_shm_event *)(out->rows + nrows);
	out->nevents = nevents;
	out->size = size;
	out->shared = shared;
	out->nonce = out->hdr->nonce;
	atomic_store(&out->damaged, 0);
	snprintf(out->name, sizeof(out->name), "%s", name);
	/* Zero pages until this process is given rows; none is fine too. */
	mine = mmap(NULL, (size_t)nrows * sizeof(uint64_t),
		    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	out->mine = mine != MAP_FAILED ? mine : NULL;
}

/*
 * Checks the shape of a published header against the <size> of the
 * segment and the <nonce> of its record. Returns the row count and sets
 * <*nevents>, or returns 0 with a reason in <err>.
 */
static uint32_t check_header(const struct swerve_shm_header *hdr,
			     size_t size, uint64_t nonce, const char *name,
			     uint32_t *nevents, char *err, size_t errlen)
{
	uint32_t hsize = hdr->header_size, rsize = hdr->row_size;
	uint32_t nrows = hdr->nrows, esize = hdr->event_size;
	uint32_t nev = hdr->nevents;

	if (__atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) !=
		    SWERVE_SHM_MAGIC ||
	    atomic_load_explicit(&hdr->ready, memory_order_acquire) != 1 ||
	    hdr->version != SWERVE_SHM_VERSION || hdr->nonce != nonce) {
		swerve_log_reason(err, errlen, "table %s names a segment that "
				  "is not its table; remove it with swervectl "
				  "reset", name);
		return 0;
	}
	if (hsize != sizeof(struct swerve_shm_header) ||
	    rsize != sizeof(struct swerve_shm_row)) {
		swerve_log_reason(err, errlen,
				  "table %s has %u-byte header and "
				  "%u-byte rows, expected %zu and %zu", name,
				  hsize, rsize,
				  sizeof(struct swerve_shm_header),
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
		swerve_log_reason(err, errlen, "table %s has %u events of %u "
				  "bytes, expected events of %zu", name, nev,
				  esize, sizeof(struct swerve_shm_event));
		return 0;
	}
	if (size < swerve_shm_bytes(nrows, nev)) {
		swerve_log_reason(err, errlen,
				  "table %s is %zu bytes, too small "
				  "for its %u rows and %u events (%zu bytes)",
				  name, size, nrows, nev,
				  swerve_shm_bytes(nrows, nev));
		return 0;
	}
	*nevents = nev;
	return nrows;
}

/* The first of <nrows> rows whose tag is gone, or <nrows>. */
static uint32_t first_bad_row(const struct swerve_shm_row *rows,
			      uint32_t nrows)
{
	uint32_t i;

	for (i = 0; i < nrows; i++)
		if (atomic_load_explicit(&rows[i].tag, memory_order_relaxed) !=
		    SWERVE_SHM_ROW_TAG)
			break;
	return i;
}

/* The table kind's check: the header, then every row's tag. */
static int table_check(const void *map, size_t size, uint64_t nonce,
		       const char *name, uint32_t shape[2], char *err,
		       size_t errlen)
{
	const struct swerve_shm_header *hdr = map;
	uint32_t nrows, nevents = 0, bad;

	nrows = check_header(hdr, size, nonce, name, &nevents, err, errlen);
	if (nrows == 0)
		return -EPROTO;
	bad = first_bad_row((const struct swerve_shm_row *)(hdr + 1), nrows);
	if (bad < nrows) {
		swerve_log_reason(err, errlen, "table %s was written over "
				  "(row %u); remove it with swervectl reset",
				  name, bad);
		return -EPROTO;
	}
	shape[0] = nrows;
	shape[1] = nevents;
	return 0;
}

static void table_init(void *map, uint64_t nonce, uint64_t dev,
		       const char *name)
{
	swerve_shm_init(map, SWERVE_SHM_ROWS, nonce, dev, name);
}

static bool table_owner(const void *map, uint64_t dev, char *name,
			size_t len, uint64_t *nonce)
{
	const struct swerve_shm_header *hdr = map;

	snprintf(name, len, "%.*s", (int)sizeof(hdr->name) - 1, hdr->name);
	*nonce = hdr->nonce;
	return __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) ==
		       SWERVE_SHM_MAGIC &&
	       hdr->version == SWERVE_SHM_VERSION && hdr->link_dev == dev;
}

static const struct swerve_segment_kind table_kind = {
	.what = "table",
	.link_magic = LINK_MAGIC,
	.version = SWERVE_SHM_VERSION,
	.size = sizeof(struct swerve_shm_header) +
		(size_t)SWERVE_SHM_ROWS * sizeof(struct swerve_shm_row) +
		(size_t)SWERVE_SHM_EVENTS * sizeof(struct swerve_shm_event),
	.min_size = sizeof(struct swerve_shm_header),
	.max_size = sizeof(struct swerve_shm_header) +
		    (size_t)SHM_MAX_ROWS * sizeof(struct swerve_shm_row) +
		    (size_t)SHM_MAX_EVENTS * sizeof(struct swerve_shm_event),
	.init = table_init,
	.check = table_check,
	.owner = table_owner,
};

int swerve_shm_attach(const char *name, bool create, struct swerve_shm *out,
		      char *err, size_t errlen)
{
	struct swerve_shm zero = { 0 };
	struct swerve_segment seg;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = zero;
	if (name != NULL && strlen(name) >= sizeof(out->name)) {
		swerve_log_reason(err, errlen, "bad table name '%s'", name);
		return -EINVAL;
	}
	rc = swerve_segment_attach(&table_kind, name, create, &seg, err,
				   errlen);
	if (rc != 0)
		return rc;
	swerve_shm_fill(out, seg.map, seg.size, seg.shape[0], seg.shape[1],
			true, name);
	return 0;
}

int swerve_shm_private(struct swerve_shm *out)
{
	struct swerve_shm zero = { 0 };
	size_t size = swerve_shm_bytes(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS);
	void *map;

	if (out == NULL)
		return -EINVAL;
	*out = zero;
	/* MAP_SHARED: a forked child keeps sharing health with us. */
	map = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	swerve_shm_init(map, SWERVE_SHM_ROWS, swerve_segment_nonce(), 0, "(private)");
	swerve_shm_fill(out, map, size, SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS,
			false, "(private)");
	return 0;
}

void swerve_shm_detach(struct swerve_shm *tab)
{
	struct swerve_shm zero = { 0 };

	if (tab == NULL)
		return;
	/* munmap detaches a SysV segment as shmdt would. */
	if (tab->hdr != NULL && tab->size > 0)
		munmap(tab->hdr, tab->size);
	if (tab->mine != NULL)
		munmap(tab->mine, tab->nrows * sizeof(uint64_t));
	*tab = zero;
}

int swerve_shm_unlink(const char *name)
{
	return swerve_segment_unlink(&table_kind, name);
}
