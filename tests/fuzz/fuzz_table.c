/*
 * fuzz_table: libFuzzer target for attaching to the shared table. Each
 * input makes a POSIX shared-memory segment whose bytes and size it
 * chooses, the way a foreign program, an older swerve or a scribbler could
 * leave one; swerve_shm_attach() must refuse it or accept it, and whatever
 * it accepts the library must then use without reading or writing outside
 * the mapping: rows looked up, claimed, reported on and read back, a panic
 * noted, the event ring read.
 *
 * Input: 4 bytes (little endian) for the segment's size, then its first
 * bytes (the rest of the segment reads as zeroes; bytes beyond the size
 * are cut). The seeds (tests/fuzz/corpus/table) are tables made by
 * swerve_shm_attach() itself and used by the library's own calls.
 *
 * A segment whose size is 0 or whose magic is 0 looks half-created: attach
 * then waits about 50 ms for its creator, a timed path of the unit tests
 * (test_shm.c) that would only slow the fuzzer down, so such inputs are
 * skipped.
 *
 * The segment's name is unique to the process and unlinked as soon as
 * attach returns, so only a crash inside attach leaves it in /dev/shm.
 *
 * Thread-safety: libFuzzer calls the target from one thread.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "table/shm.h"
#include "fuzz.h"

#define broken(what) fuzz_broken("fuzz_table", what, NULL)

#define ROWS_TRIED 32  /* rows of the segment used, at most */
#define ROWS_SCANNED 64 /* an input of a few KiB holds fewer */
#define EVENTS_READ 16
#define NOW_MS 1000000000ull

static const struct swerve_outlier_cfg outlier_cfg = {
	.enabled = true,
	.consecutive_5xx = 1,
	.consecutive_gateway = 2,
	.consecutive_local_origin = 5,
	.interval_ms = 15000,
	.base_ejection_ms = 60000,
	.max_ejection_ms = 300000,
	.max_ejection_percent = 50,
	.min_ejectable_hosts = 1,
};

/* Makes the segment <name> from the input; false to skip the input. */
static bool make_segment(const char *name, const uint8_t *data, size_t size)
{
	uint32_t seg_size;
	uint64_t magic = 0;
	size_t body;
	int fd;

	if (size < 4)
		return false;
	seg_size = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
		   (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	data += 4;
	size -= 4;
	body = size < seg_size ? size : seg_size;
	memcpy(&magic, data, body < sizeof(magic) ? body : sizeof(magic));
	if (seg_size == 0 || magic == 0)
		return false;
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		perror("fuzz_table: shm_open");
		exit(1);
	}
	if (ftruncate(fd, (off_t)seg_size) == -1 ||
	    (body > 0 && pwrite(fd, data, body, 0) != (ssize_t)body)) {
		perror("fuzz_table: writing the segment");
		shm_unlink(name);
		exit(1);
	}
	close(fd);
	return true;
}

static bool in_table(const struct swerve_shm *tab,
		     const struct swerve_shm_row *row)
{
	return row >= tab->rows && row < tab->rows + tab->nrows;
}

/*
 * A lock word that an input leaves "held" by some thread blocks
 * pthread_mutex_lock() for ever: the hang of issue 10 item 1 (a corrupted
 * lock word hangs every host that reports on the row), which this target
 * found within seconds (tests/fuzz/corpus/table/regress-lock-held). The
 * fix, a bounded row lock, is the table's own change; until it is in, the
 * rows this target locks get fresh lock words so that the fuzzer explores
 * everything else. Once swerve_shm's row lock is bounded, remove this to
 * fuzz the lock words too.
 */
static void repair_locks(struct swerve_shm_row **rows, size_t n)
{
	pthread_mutexattr_t attr;
	size_t i;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	for (i = 0; i < n; i++)
		pthread_mutex_init(&rows[i]->lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

/* Lookups, outcomes and snapshots on the rows the segment holds. */
static void use_rows(struct swerve_shm *tab, const uint8_t *data,
		     size_t size)
{
	struct swerve_shm_row *found[ROWS_TRIED], *row, *svc;
	struct swerve_outlier_state st;
	size_t i, n = 0;
	uint64_t key;

	svc = swerve_shm_row(tab, swerve_shm_service_key("fuzz"), true);
	if (svc != NULL && !in_table(tab, svc))
		broken("service row outside the table");
	for (i = 0; i < tab->nrows && i < ROWS_SCANNED && n < ROWS_TRIED;
	     i++) {
		key = atomic_load(&tab->rows[i].key);
		if (key == 0)
			continue;
		row = swerve_shm_row(tab, key, false);
		if (row == NULL)
			continue;
		if (!in_table(tab, row) || atomic_load(&row->key) != key)
			broken("a lookup returned a wrong row");
		found[n++] = row;
	}
	repair_locks(found, n);
	for (i = 0; i < n; i++) {
		uint8_t b = i < size ? data[i] : 0;

		(void)swerve_shm_is_ejected(found[i], NOW_MS);
		(void)swerve_shm_report(tab, svc, found, n, i, &outlier_cfg,
					(enum swerve_outcome)(b % 4),
					500 + b % 5, NOW_MS + i * 1000);
		(void)swerve_shm_snapshot(tab, svc, found[i], &outlier_cfg,
					  NOW_MS + i * 1000, &st);
	}
	key = swerve_shm_endpoint_key("fuzz", "127.0.0.2:80");
	row = swerve_shm_row(tab, key, true);
	if (row != NULL && (!in_table(tab, row) ||
			    atomic_load(&row->key) != key))
		broken("a claimed row is not ours");
}

static void read_events(struct swerve_shm *tab)
{
	struct swerve_shm_event_info ev[EVENTS_READ];
	uint64_t lost;
	size_t n, i;

	n = swerve_shm_events(tab, ev, EVENTS_READ, &lost);
	if (n > EVENTS_READ)
		broken("more events than asked for");
	for (i = 0; i < n; i++) {
		if (ev[i].type < SWERVE_EVENT_EJECT ||
		    ev[i].type > SWERVE_EVENT_PANIC_EXIT)
			broken("an event of no known type");
		if (i > 0 && ev[i].seq < ev[i - 1].seq)
			broken("events out of order");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[64];
	struct swerve_shm tab;
	char err[256];
	int rc;

	if (name[0] == '\0')
		snprintf(name, sizeof(name), "/swerve-fuzz-%d", (int)getpid());
	if (!make_segment(name, data, size))
		return 0;
	rc = swerve_shm_attach(name, false, &tab, err, sizeof(err));
	shm_unlink(name);
	if (rc != 0) {
		if (err[0] == '\0')
			broken("refused without a reason");
		return 0;
	}
	if (tab.nrows == 0 || tab.hdr == NULL || tab.rows == NULL ||
	    tab.size < sizeof(*tab.hdr) + tab.nrows * sizeof(*tab.rows) +
				tab.nevents * sizeof(*tab.events))
		broken("attached a table larger than its mapping");
	use_rows(&tab, data + 4, size - 4);
	(void)swerve_shm_panic_note(&tab, "fuzz", size > 4 ? data[4] : 1,
				    NOW_MS);
	read_events(&tab);
	swerve_shm_detach(&tab);
	return 0;
}
