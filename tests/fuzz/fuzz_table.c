/*
 * fuzz_table: libFuzzer target for attaching to the shared table and using
 * what attach accepts. The table is a SysV segment found through a name
 * file in /dev/shm whose record names it (src/table/shm_segment.c); each
 * input makes both, the way a foreign program, an older swerve or a
 * scribbler could leave them:
 *   - the segment's bytes (header, rows, event ring) and its size, behind
 *     a name file whose record is valid and names it: the main case;
 *   - or, when the input's flags say so (table_input.h), the record itself
 *     from the input, in a name file of a size the input picks.
 * swerve_shm_attach() must refuse the table with a reason or accept one
 * whose sizes fit the mapping; whatever it accepts is then used as the
 * library and swervectl use it, without reading or writing outside the
 * mapping: every row looked up, the service's row claimed, then the
 * input's operations (outcomes of every kind, HTTP statuses 100..599
 * included, and TLS handshakes; snapshots; operator ejections,
 * un-ejections and resets; rows claimed for names; panic notes; time
 * passing and the consistency check), and finally the epoch and the
 * event ring read. Lock words are used as the input left them: the
 * bounded row lock copes with any word.
 *
 * Each input's segment is made IPC_PRIVATE, mode 0600, and marked removed
 * (IPC_RMID) as soon as the harness has it mapped, before swerve attaches:
 * Linux still lets the library attach it, and it is gone once both detach,
 * so not even a crash inside the library leaves it behind. The name file
 * is removed as soon as attach returns. A record whose magic is 0 is a
 * table still being created: attach would wait for its creator about
 * 50 ms (a timed path of the unit tests, test_shm.c), so such inputs are
 * skipped; for the same reason the harness always writes the record's
 * checksum itself (a wrong one reads as a torn record and waits too), and
 * a record naming any segment but the input's own is only ever one that
 * cannot exist (a negative id): another id could be a live table of this
 * host, which the fuzzer must never write to. Attach never creates: a
 * record naming a segment that is gone would then make a whole new table
 * of swerve's own (the unit tests' case), costing more than the rest of
 * an input without fuzzing anything an input holds.
 *
 * Thread-safety: libFuzzer calls the target from one thread.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "base/swerve.h"
#include "table/shm.h"
#include "fuzz.h"
#include "table_input.h"

#define broken(what) fuzz_broken("fuzz_table", what, NULL)

#define ROWS_TRIED 32   /* rows of the table used, at most */
#define EVENTS_READ 16
#define NOW_MS 1000000000ull
#define LINK_PAGE 4096

_Static_assert(sizeof(struct test_link) == 56,
	       "the unit tests' record is shm_segment.c's");

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

/* The input, read front to back; what it lacks reads as zeroes. */
struct reader {
	const uint8_t *p;
	size_t left;
};

static void take(struct reader *r, void *out, size_t n)
{
	size_t k = r->left < n ? r->left : n;

	memset(out, 0, n);
	memcpy(out, r->p, k);
	r->p += k;
	r->left -= k;
}

/* One input's table: its segment (mapped by us too) and name file. */
struct input {
	uint8_t flags;
	size_t seg_size;
	uint8_t ops[FUZZ_TABLE_OPS][FUZZ_TABLE_OP_BYTES];
	size_t nops;
	struct test_link link;
	int shmid;
	void *map;
};

static uint64_t record_sum(const struct test_link *l)
{
	return swerve_hash64(l, offsetof(struct test_link, sum),
			     SWERVE_HASH_SEED);
}

static bool link_mode(const struct input *in)
{
	return (in->flags & FUZZ_TABLE_LINK_MODE) == FUZZ_TABLE_LINK_MODE;
}

/* Reads the input's fields; false to skip it. */
static bool parse(struct input *in, struct reader *r)
{
	uint8_t le[4], nops;

	take(r, &in->flags, 1);
	take(r, le, sizeof(le));
	in->seg_size = 1 + ((uint32_t)le[0] | (uint32_t)le[1] << 8 |
			    (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24) %
				   FUZZ_TABLE_MAX;
	take(r, &nops, 1);
	in->nops = nops % (FUZZ_TABLE_OPS + 1);
	take(r, in->ops, in->nops * FUZZ_TABLE_OP_BYTES);
	if (!link_mode(in))
		return true;
	take(r, &in->link, sizeof(in->link));
	/* Magic 0: a creator half-way, whom attach would wait for. */
	return in->link.magic != 0;
}

/* Makes the segment from the rest of the input, already marked removed. */
static void make_segment(struct input *in, struct reader *r)
{
	in->map = fuzz_segment("fuzz_table", in->seg_size, r->p, r->left,
			       &in->shmid);
}

/* The record the name file holds, and the file's size. */
static size_t make_link(struct input *in)
{
	struct test_link *l = &in->link;

	if (!link_mode(in)) {
		memset(l, 0, sizeof(*l));
		l->magic = TEST_LINK_MAGIC;
		l->version = SWERVE_SHM_VERSION;
		l->creator_pid = (uint32_t)getpid();
		l->created_ms = swerve_now_ms();
		if (in->seg_size >= offsetof(struct swerve_shm_header, nonce) +
					    sizeof(l->nonce))
			memcpy(&l->nonce, (uint8_t *)in->map +
			       offsetof(struct swerve_shm_header, nonce),
			       sizeof(l->nonce));
		l->size = in->seg_size;
	}
	if (l->shmid >= 0 || !link_mode(in))
		l->shmid = in->shmid;
	l->sum = record_sum(l);
	if (!link_mode(in))
		return LINK_PAGE;
	switch ((in->flags >> FUZZ_TABLE_FILE_SHIFT) & 3) {
	case FUZZ_FILE_RECORD:
		return sizeof(*l);
	case FUZZ_FILE_SHORT:
		return sizeof(*l) - 1;
	case FUZZ_FILE_LARGE:
		return LINK_PAGE + 1;
	default:
		return LINK_PAGE;
	}
}

static void write_name(const char *name, const struct input *in,
		       size_t file_size)
{
	size_t n = file_size < sizeof(in->link) ? file_size : sizeof(in->link);
	int fd;

	fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || pwrite(fd, &in->link, n, 0) != (ssize_t)n ||
	    ftruncate(fd, (off_t)file_size) == -1) {
		perror("fuzz_table: writing the name file");
		shm_unlink(name);
		exit(1);
	}
	close(fd);
}

static bool in_table(const struct swerve_shm *tab,
		     const struct swerve_shm_row *row)
{
	return row >= tab->rows && row < tab->rows + tab->nrows;
}

static void check_claim(const struct swerve_shm *tab,
			const struct swerve_shm_row *row, uint64_t key)
{
	if (row != NULL && (!in_table(tab, row) ||
			    atomic_load(&row->key) != key))
		broken("a lookup returned a row that is not the key's");
}

/* The rows the table holds, each looked up by its key as a reader would. */
static size_t find_rows(struct swerve_shm *tab, struct swerve_shm_row **found)
{
	struct swerve_shm_row *row;
	size_t i, n = 0;
	uint64_t key;

	for (i = 0; i < tab->nrows && n < ROWS_TRIED; i++) {
		key = atomic_load(&tab->rows[i].key);
		if (key == 0)
			continue;
		row = swerve_shm_row(tab, key, false);
		check_claim(tab, row, key);
		if (row != NULL)
			found[n++] = row;
	}
	return n;
}

/* A row claimed for an address behind a name, as resolve.c claims them. */
static void claim_named(struct swerve_shm *tab, struct swerve_shm_row **rows,
			size_t *n, const uint8_t *op, uint64_t now)
{
	struct swerve_shm_row *row;
	char text[32];
	uint64_t key;

	snprintf(text, sizeof(text), "127.0.%u.%u:80", op[1], op[2]);
	key = swerve_shm_endpoint_key("fuzz", text);
	row = swerve_shm_row_named(tab, key, (uint64_t)op[2] * 1000, now);
	check_claim(tab, row, key);
	if (row != NULL && *n < ROWS_TRIED)
		rows[(*n)++] = row;
}

/* One operation of the input on the table, at *now. */
static void run_op(struct swerve_shm *tab, struct swerve_shm_row *svc,
		   struct swerve_shm_row **rows, size_t *n, const uint8_t *op,
		   uint64_t *now)
{
	struct swerve_outlier_state st;
	size_t idx = *n > 0 ? (size_t)(op[0] >> 3) % *n : 0;
	struct swerve_shm_row *row = *n > 0 ? rows[idx] : NULL;
	unsigned wide = (unsigned)op[1] << 8 | op[2];
	int status = 100 + (int)(((unsigned)(op[1] / 7) << 8 | op[2]) % 500);
	char err[128];

	switch ((enum fuzz_table_op)(op[0] & 7)) {
	case FUZZ_OP_REPORT:
		if (*n > 0)
			(void)swerve_shm_report(tab, svc, rows, *n, idx,
						&outlier_cfg,
						(enum swerve_outcome)(op[1] % 7),
						status, *now);
		/* A TLS service's pump notes the handshake as well. */
		swerve_shm_tls_note(row, op[2] & 1, op[2] & 2, op[2] >> 2);
		break;
	case FUZZ_OP_SNAPSHOT:
		(void)swerve_shm_is_ejected(row, *now);
		(void)swerve_shm_snapshot(tab, svc, row, &outlier_cfg, *now,
					  &st);
		break;
	case FUZZ_OP_EJECT:
		(void)swerve_shm_eject(tab, svc, row, wide * 1000ull, *now);
		break;
	case FUZZ_OP_UNEJECT:
		(void)swerve_shm_uneject(tab, svc, row, *now);
		break;
	case FUZZ_OP_RESET:
		(void)swerve_shm_reset_row(svc, row);
		break;
	case FUZZ_OP_NAMED:
		claim_named(tab, rows, n, op, *now);
		break;
	case FUZZ_OP_PANIC:
		(void)swerve_shm_panic_note(tab, "fuzz", op[1], *now);
		break;
	case FUZZ_OP_LATER:
		*now += wide * 100ull;
		if (swerve_shm_check(tab, *now, err, sizeof(err)) < 0)
			broken("the check failed rather than counting");
		break;
	}
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

/* Everything the library and swervectl do with an attached table. */
static void use_table(struct swerve_shm *tab, const struct input *in)
{
	struct swerve_shm_row *rows[ROWS_TRIED], *svc;
	uint64_t key = swerve_shm_service_key("fuzz"), now = NOW_MS;
	size_t n, i;

	n = find_rows(tab, rows);
	svc = swerve_shm_row(tab, key, true);
	check_claim(tab, svc, key);
	(void)swerve_shm_epoch(svc);
	for (i = 0; i < in->nops; i++)
		run_op(tab, svc, rows, &n, in->ops[i], &now);
	key = swerve_shm_endpoint_key("fuzz", "127.0.0.2:80");
	check_claim(tab, swerve_shm_row(tab, key, true), key);
	(void)swerve_shm_epoch(svc);
	read_events(tab);
}

static void check_accepted(const struct swerve_shm *tab,
			   const struct input *in)
{
	if (tab->nrows == 0 || tab->hdr == NULL || tab->rows == NULL ||
	    tab->size < sizeof(*tab->hdr) + tab->nrows * sizeof(*tab->rows) +
				tab->nevents * sizeof(*tab->events))
		broken("attached a table larger than its mapping");
	if (tab->size != in->seg_size)
		broken("attached a segment of another size");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[64];
	struct reader r = { data, size };
	struct swerve_shm tab;
	struct input in;
	char err[256];
	int rc;

	if (name[0] == '\0')
		snprintf(name, sizeof(name), "/swerve-fuzz-%d", (int)getpid());
	if (!parse(&in, &r))
		return 0;
	make_segment(&in, &r);
	write_name(name, &in, make_link(&in));
	rc = swerve_shm_attach(name, false, &tab, err, sizeof(err));
	shm_unlink(name);
	shmdt(in.map);
	if (rc != 0) {
		if (err[0] == '\0')
			broken("refused without a reason");
		return 0;
	}
	check_accepted(&tab, &in);
	use_table(&tab, &in);
	swerve_shm_detach(&tab);
	return 0;
}
