/*
 * What the unit tests of the shared table share (test_shm*.c): table
 * names unique to the test's process, removed again (name and segment) in
 * its .fini, tables written by hand the way a foreign or broken program
 * would, the outlier config they use, and a refused connect reported into
 * a row. Criterion runs each test in its own process, so the name list
 * needs no lock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/swerve.h"

#include "base/log.h"
#include "table/sessions.h"
#include "test_shm_support.h"

static char names[8][64];
static unsigned nnames;

const char *new_name(void)
{
	char *n = names[nnames % 8];

	snprintf(n, sizeof(names[0]), "/swerve-test-%d-%u", (int)getpid(),
		 nnames);
	nnames++;
	swerve_shm_unlink(n); /* a leftover of a crashed earlier run */
	return n;
}

void unlink_names(void)
{
	char store[128];
	unsigned i;

	/* The table, and the TLS session store named after it. */
	for (i = 0; i < nnames && i < 8; i++) {
		swerve_shm_unlink(names[i]);
		if (swerve_sessions_name(names[i], store, sizeof(store)) == 0)
			swerve_sessions_unlink(store);
	}
}

struct swerve_shm_header good_header(void)
{
	struct swerve_shm_header h;

	memset(&h, 0, sizeof(h));
	h.magic = SWERVE_SHM_MAGIC;
	h.version = SWERVE_SHM_VERSION;
	h.header_size = sizeof(struct swerve_shm_header);
	h.row_size = sizeof(struct swerve_shm_row);
	h.nrows = SWERVE_SHM_ROWS;
	h.nevents = SWERVE_SHM_EVENTS;
	h.event_size = sizeof(struct swerve_shm_event);
	atomic_store(&h.ready, 1);
	h.creator_pid = (uint32_t)getpid();
	h.nonce = 0x1234567890abcdefull;
	return h;
}

size_t full_size(void)
{
	return sizeof(struct swerve_shm_header) +
	       SWERVE_SHM_ROWS * sizeof(struct swerve_shm_row) +
	       SWERVE_SHM_EVENTS * sizeof(struct swerve_shm_event);
}

pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

int capture_stderr(int *saved)
{
	char path[] = "/tmp/swerve-test-stderr-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_neq(fd, -1);
	unlink(path);
	*saved = dup(2);
	dup2(fd, 2);
	/* The log writes only to the stderr it was given: this one now. */
	swerve_log_use_stderr();
	return fd;
}

void captured(int fd, int saved, char *buf, size_t len)
{
	ssize_t n;

	dup2(saved, 2);
	swerve_log_use_stderr();
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

uint64_t link_sum(const struct test_link *l)
{
	return swerve_hash64(l, offsetof(struct test_link, sum),
			     SWERVE_HASH_SEED);
}

void write_link(const char *name, const void *bytes, size_t len)
{
	int fd;

	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_neq(fd, -1, "shm_open: %s", strerror(errno));
	if (len > 0)
		cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

struct test_link read_link(const char *name)
{
	struct test_link l;
	int fd;

	memset(&l, 0, sizeof(l));
	fd = shm_open(name, O_RDONLY, 0);
	cr_assert_neq(fd, -1, "shm_open: %s", strerror(errno));
	cr_assert_eq(pread(fd, &l, sizeof(l), 0), (ssize_t)sizeof(l));
	close(fd);
	return l;
}

int make_table(const char *name, size_t size,
	       const struct swerve_shm_header *hdr)
{
	struct test_link l;
	struct swerve_shm_row *rows;
	size_t i;
	void *map;
	int id;

	id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	cr_assert_neq(id, -1, "shmget: %s", strerror(errno));
	map = shmat(id, NULL, 0);
	cr_assert_neq(map, (void *)-1);
	if (hdr != NULL) {
		memcpy(map, hdr, size < sizeof(*hdr) ? size : sizeof(*hdr));
		rows = (struct swerve_shm_row *)((char *)map + sizeof(*hdr));
		for (i = 0; (i + 1) * sizeof(*rows) + sizeof(*hdr) <= size;
		     i++)
			rows[i].tag = SWERVE_SHM_ROW_TAG;
	}
	shmdt(map);
	memset(&l, 0, sizeof(l));
	l.magic = TEST_LINK_MAGIC;
	l.version = SWERVE_SHM_VERSION;
	l.creator_pid = (uint32_t)getpid();
	l.created_ms = swerve_now_ms();
	l.nonce = hdr != NULL ? hdr->nonce : 0;
	l.size = size;
	l.shmid = id;
	l.sum = link_sum(&l);
	write_link(name, &l, sizeof(l));
	return id;
}

struct swerve_outlier_cfg test_cfg(void)
{
	struct swerve_outlier_cfg c = {
		.enabled = true,
		.consecutive_5xx = 5,
		.consecutive_gateway = 0,
		.consecutive_local_origin = 5,
		.interval_ms = 10000,
		.base_ejection_ms = 30000,
		.max_ejection_ms = 300000,
		.max_ejection_percent = 100,
		.min_ejectable_hosts = 1,
	};

	return c;
}

/* One refused connect to <row>, events into <tab> (may be NULL). */
enum swerve_outlier_event fail_in(struct swerve_shm *tab,
				  struct swerve_shm_row *row,
				  const struct swerve_outlier_cfg *c,
				  uint64_t now)
{
	return swerve_shm_report(tab, NULL, &row, 1, 0, c,
				 SWERVE_OUTCOME_CONNECT_FAILED, 0, now);
}

enum swerve_outlier_event fail_once(struct swerve_shm_row *row,
				    const struct swerve_outlier_cfg *c,
				    uint64_t now)
{
	return fail_in(NULL, row, c, now);
}
