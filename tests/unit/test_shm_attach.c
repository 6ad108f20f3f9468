/*
 * Unit tests of where the table lives (shm_segment.c): the file behind the
 * name and the SysV segment it names, their validation, what truncating,
 * filling or removing either does to processes that have the table
 * mapped, and the sweep of segments no name leads to. Each test runs in
 * its own process with its own tables (test_shm_support.c). A full or
 * tiny /dev/shm is a fault case (tests/faults), with real clients.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table/shm.h"
#include "test_shm_support.h"

static void expect_eproto(const char *name, const char *what)
{
	struct swerve_shm t;
	char err[256] = "";
	int rc;

	rc = swerve_shm_attach(name, false, &t, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%s: rc %d (%s)", what, rc, err);
	cr_assert_neq(err[0], '\0', "%s: no reason", what);
	cr_assert_null(t.hdr);
	/* create=true must not repair it either */
	rc = swerve_shm_attach(name, true, &t, err, sizeof(err));
	cr_assert_eq(rc, -EPROTO, "%s (create): rc %d (%s)", what, rc, err);
}

/* A table whose header is <h> and segment <size> bytes is refused. */
static void refuse_table(const struct swerve_shm_header *h, size_t size,
			 const char *what)
{
	const char *name = new_name();
	int id = make_table(name, size, h);

	expect_eproto(name, what);
	swerve_shm_unlink(name);
	shmctl(id, IPC_RMID, NULL);
}

/* A record <l> (its sum made right) naming a sound table is refused. */
static void refuse_link(struct test_link l, bool fix_sum, const char *what)
{
	struct swerve_shm_header h = good_header();
	const char *name = new_name();
	int id = make_table(name, full_size(), &h);

	l.shmid = id;
	if (fix_sum)
		l.sum = link_sum(&l);
	cr_assert_eq(shm_unlink(name), 0);
	write_link(name, &l, sizeof(l));
	expect_eproto(name, what);
	swerve_shm_unlink(name);
	shmctl(id, IPC_RMID, NULL);
}

static struct test_link good_link(void)
{
	struct test_link l;

	memset(&l, 0, sizeof(l));
	l.magic = TEST_LINK_MAGIC;
	l.version = SWERVE_SHM_VERSION;
	l.creator_pid = (uint32_t)getpid();
	l.created_ms = swerve_now_ms();
	l.nonce = good_header().nonce;
	l.size = full_size();
	return l;
}

Test(shm_attach, foreign_magic_is_refused_and_left_alone,
     .fini = unlink_names)
{
	struct test_link l = good_link();
	const char *name = new_name();

	l.magic = 0x1122334455667788ull;
	write_link(name, &l, sizeof(l));
	expect_eproto(name, "magic");
	/* refused, not rewritten */
	cr_assert_eq(read_link(name).magic, 0x1122334455667788ull);
}

Test(shm_attach, corrupt_tables_are_refused, .fini = unlink_names)
{
	struct swerve_shm_header h;

	h = good_header();
	h.version = SWERVE_SHM_VERSION + 1;
	refuse_table(&h, full_size(), "segment version");
	h = good_header();
	h.magic = 42;
	refuse_table(&h, full_size(), "segment magic");
	h = good_header();
	h.row_size = 128;
	refuse_table(&h, full_size(), "row_size");
	h = good_header();
	h.header_size = 512;
	refuse_table(&h, full_size(), "header_size");
	h = good_header();
	h.nrows = 0;
	refuse_table(&h, full_size(), "nrows 0");
	h = good_header();
	h.nrows = UINT32_MAX;
	refuse_table(&h, full_size(), "nrows huge");
	h = good_header();
	refuse_table(&h, sizeof(h) + 10 * sizeof(struct swerve_shm_row),
		     "truncated");
	h = good_header();
	refuse_table(&h, 100, "shorter than a header");
	h = good_header();
	h.event_size = 32;
	refuse_table(&h, full_size(), "event_size");
	h = good_header();
	h.nevents = UINT32_MAX;
	refuse_table(&h, full_size(), "nevents huge");
	/* rows fit, the ring does not */
	h = good_header();
	refuse_table(&h, full_size() - sizeof(struct swerve_shm_event),
		     "ring truncated");
}

Test(shm_attach, records_that_do_not_match_their_segment_are_refused,
     .fini = unlink_names)
{
	struct test_link l;

	l = good_link();
	l.version = SWERVE_SHM_VERSION + 1;
	refuse_link(l, true, "record version");
	l = good_link();
	l.nonce ^= 1;
	refuse_link(l, true, "nonce: a segment id the kernel reused");
	l = good_link();
	l.size -= 4096;
	refuse_link(l, true, "size");
	/* complete, but its checksum never adds up */
	l = good_link();
	refuse_link(l, false, "checksum");

}

Test(shm_attach, a_segment_gone_behind_its_name_is_renewed,
     .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm t, u;
	char err[256];
	int old;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	swerve_shm_detach(&t);
	/* ipcrm, or kernel.shm_rmid_forced once nobody had it mapped */
	old = read_link(name).shmid;
	cr_assert_eq(shmctl(old, IPC_RMID, NULL), 0);
	/* a viewer says so... */
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)),
		     -EPROTO);
	cr_assert_not_null(strstr(err, "no longer exists"), "%s", err);
	/* ...a user makes a new one under the same name, and others find it */
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_neq(read_link(name).shmid, old);
	cr_assert_eq(swerve_shm_attach(name, false, &u, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(u.nonce, t.nonce);
	swerve_shm_detach(&u);
	swerve_shm_detach(&t);
}

Test(shm_attach, a_row_written_over_is_refused_on_attach,
     .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm t, u;
	char err[256];

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	memset(&t.rows[17], 0xa5, sizeof(t.rows[17]));
	cr_assert_eq(swerve_shm_attach(name, false, &u, err, sizeof(err)),
		     -EPROTO);
	cr_assert_not_null(strstr(err, "row 17"), "%s", err);
	swerve_shm_detach(&t);
}

Test(shm_attach, smaller_table_of_another_build_is_used_within_its_bounds,
     .fini = unlink_names)
{
	struct swerve_shm_header h = good_header();
	const char *name = new_name();
	struct swerve_shm_row *row;
	struct swerve_shm t;
	char err[256];
	unsigned n = 0;
	uint64_t k;

	h.nrows = 8;
	/* ... in a segment larger than the header says */
	make_table(name, full_size(), &h);
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(t.size, full_size(), "the segment is mapped whole");
	cr_assert_eq(t.nrows, 8);
	cr_assert_eq((void *)t.events, (void *)(t.rows + 8),
		     "the ring follows the rows the header declares");
	for (k = 1; k < 100; k++) {
		row = swerve_shm_row(&t, k, true);
		if (row == NULL)
			continue;
		cr_assert_lt(row - t.rows, 8);
		n++;
	}
	cr_assert_eq(n, 8);
	swerve_shm_detach(&t);
}

Test(shm_attach, half_created_table_is_refused_with_its_creator,
     .fini = unlink_names)
{
	struct test_link l = good_link();
	const char *name;
	struct swerve_shm t;
	char err[256] = "", want[64];
	uint64_t t0;
	pid_t dead = dead_pid();

	l.magic = 0;
	l.creator_pid = (uint32_t)dead;
	name = new_name();
	write_link(name, &l, sizeof(l));
	t0 = swerve_now_ms();
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_lt(swerve_now_ms() - t0, 1000);
	snprintf(want, sizeof(want), "pid %d", (int)dead);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_not_null(strstr(err, "swervectl reset"), "%s", err);

	/* creator alive, but long ago */
	l.creator_pid = (uint32_t)getpid();
	l.created_ms = 1;
	name = new_name();
	write_link(name, &l, sizeof(l));
	cr_assert_eq(swerve_shm_attach(name, false, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);

	/* never even sized */
	name = new_name();
	write_link(name, NULL, 0);
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_not_null(strstr(err, "half-created"), "%s", err);
	cr_assert_null(t.hdr);
}

Test(shm_attach, table_of_another_user_is_refused, .fini = unlink_names)
{
	const char *name = new_name();
	struct shmid_ds ds;
	struct swerve_shm t;
	char err[256] = "";
	int fd, id;

	if (geteuid() != 0)
		cr_skip_test("needs root to give a table away");
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0);
	swerve_shm_detach(&t);
	/* the segment given away, the name still ours */
	id = read_link(name).shmid;
	cr_assert_eq(shmctl(id, IPC_STAT, &ds), 0);
	ds.shm_perm.uid = 65534;
	cr_assert_eq(shmctl(id, IPC_SET, &ds), 0);
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "uid 65534"), "%s", err);
	/* the name given away */
	fd = shm_open(name, O_RDWR, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(fchown(fd, 65534, 65534), 0);
	close(fd);
	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "uid 65534"), "%s", err);
	shmctl(id, IPC_RMID, NULL);
}

/* Touches every page of <t> the way the library does. */
static void use_every_row(struct swerve_shm *t)
{
	struct swerve_outlier_cfg c = test_cfg();
	struct swerve_shm_row *row;
	struct swerve_outlier_state st;
	size_t i;

	for (i = 0; i < t->nrows; i++) {
		row = &t->rows[i];
		fail_in(t, row, &c, NOW);
		cr_assert_eq(swerve_shm_snapshot(t, NULL, row, &c, NOW, &st),
			     0);
	}
}

Test(shm_attach, truncating_or_filling_the_name_costs_its_users_nothing,
     .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm t, u;
	char err[256], junk[8192];
	int fd;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_not_null(swerve_shm_row(&t, 42, true));
	/* what a stray ftruncate or a program using the same name does */
	fd = shm_open(name, O_RDWR, 0);
	cr_assert_neq(fd, -1);
	cr_assert_eq(ftruncate(fd, 0), 0);
	use_every_row(&t);
	memset(junk, 0x5a, sizeof(junk));
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	use_every_row(&t);
	close(fd);
	cr_assert(t.shared, "the table itself is whole: still shared");
	/* newcomers refuse the name, and say why */
	cr_assert_lt(swerve_shm_attach(name, true, &u, err, sizeof(err)), 0);
	cr_assert_neq(err[0], '\0');
	swerve_shm_detach(&t);
}

Test(shm_attach, a_segment_removed_while_mapped_keeps_serving,
     .fini = unlink_names)
{
	const char *name = new_name();
	struct swerve_shm t;
	char err[256];

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(swerve_shm_unlink(name), 0);
	use_every_row(&t);
	cr_assert_eq(atomic_load(&t.rows[3].connects_failed), 1);
	swerve_shm_detach(&t);
}

static bool segment_exists(int id)
{
	struct shmid_ds ds;

	return shmctl(id, IPC_STAT, &ds) == 0;
}

Test(shm_attach, segments_no_name_leads_to_are_swept, .fini = unlink_names)
{
	const char *a = new_name(), *b = new_name(), *c = new_name();
	struct swerve_shm t, kept;
	char err[256];
	int ida, idb, idc;

	cr_assert_eq(swerve_shm_attach(a, true, &t, err, sizeof(err)), 0);
	swerve_shm_detach(&t);
	ida = read_link(a).shmid;
	cr_assert_eq(swerve_shm_attach(c, true, &kept, err, sizeof(err)), 0);
	idc = read_link(c).shmid;
	/* the names removed the plain way: the segments are orphans */
	cr_assert_eq(shm_unlink(a), 0);
	cr_assert_eq(shm_unlink(c), 0);
	cr_assert(segment_exists(ida));
	/* the next creation sweeps what nobody has mapped */
	cr_assert_eq(swerve_shm_attach(b, true, &t, err, sizeof(err)), 0);
	idb = read_link(b).shmid;
	cr_assert_not(segment_exists(ida));
	cr_assert(segment_exists(idc), "still mapped here: kept");
	cr_assert(segment_exists(idb), "its name leads to it: kept");
	cr_assert(kept.shared);
	swerve_shm_detach(&kept);
	swerve_shm_detach(&t);
	cr_assert_eq(swerve_shm_unlink(b), 0);
	cr_assert_not(segment_exists(idb));
	cr_assert_not(segment_exists(idc), "swept by the unlink");
}

#define RENEWERS 8

Test(shm_attach, racing_renewers_all_end_on_one_table, .fini = unlink_names,
     .timeout = 20)
{
	const char *name = new_name();
	struct shared {
		_Atomic int go;
		_Atomic uint64_t nonce[RENEWERS];
	} *sh;
	struct swerve_shm t;
	pid_t pids[RENEWERS];
	char err[256];
	int i, status;

	cr_assert_eq(swerve_shm_attach(name, true, &t, err, sizeof(err)), 0,
		     "%s", err);
	swerve_shm_detach(&t);
	cr_assert_eq(shmctl(read_link(name).shmid, IPC_RMID, NULL), 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	for (i = 0; i < RENEWERS; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] != 0)
			continue;
		while (atomic_load(&sh->go) == 0)
			;
		if (swerve_shm_attach(name, true, &t, NULL, 0) != 0)
			_exit(1);
		atomic_store(&sh->nonce[i], t.nonce);
		/* stay attached until everyone has looked */
		while (atomic_load(&sh->go) != 2)
			usleep(1000);
		_exit(0);
	}
	atomic_store(&sh->go, 1);
	for (i = 0; i < RENEWERS; i++)
		while (atomic_load(&sh->nonce[i]) == 0 &&
		       waitpid(pids[i], &status, WNOHANG) == 0)
			usleep(1000);
	atomic_store(&sh->go, 2);
	for (i = 0; i < RENEWERS; i++) {
		waitpid(pids[i], &status, 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "renewer %d: status %#x", i, status);
		cr_assert_eq(atomic_load(&sh->nonce[i]),
			     atomic_load(&sh->nonce[0]), "renewer %d", i);
	}
	munmap(sh, sizeof(*sh));
}
