/*
 * shm_segment.c: where the host-wide health table lives, how a process
 * finds, creates, validates and leaves it, and what happens when it turns
 * out written over.
 *
 * Why a SysV segment behind a POSIX name. A POSIX shared memory object is
 * a tmpfs file, and a mapped file is a trap for a guest library: when
 * /dev/shm is full, the first touch of a page that was never allocated
 * raises SIGBUS, and when anyone of the user truncates the file (a stray
 * ftruncate, another program that picked the same name), every process
 * that touches a page past the new end dies of SIGBUS. No check before the
 * touch can close that race, and the host's signal handlers are not ours
 * to take. A SysV segment has neither trap: its size is fixed when it is
 * created, nobody can shrink it, and its pages come from the kernel's own
 * unlimited instance of tmpfs, not from /dev/shm. So the table lives in a
 * SysV segment (IPC_PRIVATE, mode 0600), and the POSIX name ("shm" in the
 * config) is a one-page file of mode 0600 that says which segment it is:
 * the owner, the permissions and the name behave as before, and the file
 * is only ever read with pread(), never mapped, so truncating or filling
 * it costs nobody anything but the name.
 *
 * Creation races. Any process may be the first to run with swerve, so
 * every one tries shm_open(O_CREAT | O_EXCL) on the name and exactly one
 * wins. The winner reserves the file's page with posix_fallocate (no page
 * left in /dev/shm: the name is removed again and the process keeps
 * health to itself, with one line on stderr), writes its pid and the time
 * into it, creates and fills the segment, and then writes the file's
 * record completely, the magic and a checksum included. Others read the
 * record and wait, at most about 50 ms, until it is complete. A creator
 * that died half-way leaves a record that never completes: nobody can
 * tell a slow creator from a dead one without racing it, so such a table
 * is refused (-EAGAIN, with the creator's pid and "swervectl reset" in the
 * reason) and never re-initialised in place.
 *
 * Validation. An attacher checks the file (owner, size, magic, version,
 * checksum), the segment (its owner, mode 0600 and size, with IPC_STAT,
 * before mapping it) and the table inside (magic, version, sizes, the
 * nonce the file and the header share, so that a segment id reused by the
 * kernel is not mistaken for ours, and every row's tag). Afterwards only
 * the process's own copy of the sizes bounds row indices.
 *
 * Orphans. A segment lives until it is removed, and only the name leads to
 * it. A creator that died before writing the record, or a name removed by
 * shm_unlink alone, leaves a segment nobody can find. Each creation and
 * each swerve_shm_unlink() therefore removes this user's unattached
 * segments whose name (kept in their header) no longer leads to them, on
 * the same /dev/shm (a segment named from another mount namespace's
 * /dev/shm is not ours to judge).
 *
 * What happens when the table is written over later is shm_trust.c.
 *
 * Thread-safety: attach, private, detach and unlink are for one thread at
 * a time per struct swerve_shm (init, tools).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"
#include "base/swerve.h"
#include "table/shm.h"
#include "table/shm_int.h"

#define LINK_MAGIC 0x314b4e4c56525753ull /* "SWRVLNK1" */
/* The file behind the name: one page, reserved at creation. */
#define LINK_BYTES 4096
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
/* Where glibc's shm_open keeps its names. */
#define SHM_DIR "/dev/shm"

/* The record in the file behind the name, read and written with pread and
 * pwrite at offset 0. */
struct shm_link {
	uint64_t magic;       /* LINK_MAGIC once complete, 0 before */
	uint32_t version;     /* SWERVE_SHM_VERSION */
	uint32_t creator_pid;
	uint64_t created_ms;
	uint64_t nonce;       /* also in the segment's header */
	uint64_t size;        /* bytes of the segment */
	int32_t shmid;
	uint32_t pad;
	uint64_t sum;         /* of everything above: a torn read shows */
};

size_t swerve_shm_bytes(uint32_t nrows, uint32_t nevents)
{
	return sizeof(struct swerve_shm_header) +
	       (size_t)nrows * sizeof(struct swerve_shm_row) +
	       (size_t)nevents * sizeof(struct swerve_shm_event);
}

static uint64_t link_sum(const struct shm_link *l)
{
	return swerve_hash64(l, offsetof(struct shm_link, sum),
			     SWERVE_HASH_SEED);
}

static uint64_t new_nonce(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = swerve_now_ms() ^ (uint64_t)getpid() << 40 ^
		    (uint64_t)(uintptr_t)&v;
	return v != 0 ? v : 1;
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
 * Makes a new segment for the name whose file is <fd> (on device <dev>),
 * fills it, and writes the complete record into the file, last. Returns
 * 0 with <out> attached, or -errno with nothing left behind.
 */
static int make_segment(int fd, const char *name, uint64_t dev,
			struct swerve_shm *out, char *err, size_t errlen)
{
	size_t size = swerve_shm_bytes(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS);
	struct shm_link link = { 0 };
	void *map = (void *)-1;
	int id, rc;

	link.creator_pid = (uint32_t)getpid();
	link.created_ms = swerve_now_ms();
	link.nonce = new_nonce();
	link.size = size;
	link.version = SWERVE_SHM_VERSION;
	id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 || (map = shmat(id, NULL, 0)) == (void *)-1)
		goto fail;
	swerve_shm_init(map, SWERVE_SHM_ROWS, link.nonce, dev, name);
	link.shmid = id;
	link.magic = LINK_MAGIC;
	link.sum = link_sum(&link);
	if (pwrite(fd, &link, sizeof(link), 0) != (ssize_t)sizeof(link)) {
		errno = errno != 0 ? errno : EIO;
		goto fail;
	}
	swerve_shm_fill(out, map, size, SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS,
			true, name);
	return 0;
fail:
	rc = errno;
	swerve_log_reason(err, errlen, "cannot create table %s: %s", name,
			  strerror(rc));
	if (map != (void *)-1)
		shmdt(map);
	if (id != -1)
		shmctl(id, IPC_RMID, NULL);
	return -rc;
}

/*
 * Creator's half of attach: <fd> is the name we just made with O_EXCL.
 * On failure the name is removed again, since nobody else can use it.
 */
static int create_table(int fd, const char *name, struct swerve_shm *out,
			char *err, size_t errlen)
{
	struct shm_link link = { 0 };
	struct stat sb;
	int rc;

	/* The umask may have taken bits away (even ours): restate 0600. */
	if (fchmod(fd, 0600) == -1 || fstat(fd, &sb) == -1) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot set up table %s: %s",
				  name, strerror(-rc));
		goto fail;
	}
	rc = -posix_fallocate(fd, 0, LINK_BYTES);
	if (rc != 0) {
		swerve_log_reason(err, errlen,
				  "cannot reserve a page for table "
				  "%s in " SHM_DIR ": %s", name, strerror(-rc));
		goto fail;
	}
	/* Attachers show who is creating it while we work. */
	link.creator_pid = (uint32_t)getpid();
	link.created_ms = swerve_now_ms();
	if (pwrite(fd, &link, sizeof(link), 0) != (ssize_t)sizeof(link)) {
		rc = -EIO;
		swerve_log_reason(err, errlen, "cannot write table %s", name);
		goto fail;
	}
	rc = make_segment(fd, name, (uint64_t)sb.st_dev, out, err, errlen);
	if (rc == 0)
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
 * Explains a table that never finished creation, from what its creator
 * managed to write into <link> (which may be NULL: not even sized).
 */
static int refuse_unready(const struct shm_link *link, const char *name,
			  char *err, size_t errlen)
{
	uint32_t pid = link != NULL ? link->creator_pid : 0;
	uint64_t created = link != NULL ? link->created_ms : 0;
	uint64_t now = swerve_now_ms();

	if (pid == 0)
		swerve_log_reason(err, errlen, "table %s was left half-created "
				  "by an unknown process; remove it with "
				  "swervectl reset", name);
	else if (pid_is_dead(pid) || created == 0 || created > now ||
		 now - created > SHM_STALE_MS)
		swerve_log_reason(err, errlen, "table %s was left half-created "
				  "by pid %u; remove it with swervectl reset",
				  name, pid);
	else
		swerve_log_reason(err, errlen,
				  "table %s is still being created "
				  "by pid %u; try again", name, pid);
	return -EAGAIN;
}

/* Reads the file's record into <link>; 0, 1 (incomplete) or -errno. */
static int read_link(int fd, const char *name, struct shm_link *link,
		     char *err, size_t errlen)
{
	struct stat sb;
	ssize_t n;

	if (fstat(fd, &sb) == -1) {
		swerve_log_reason(err, errlen, "cannot stat table %s: %s",
				  name, strerror(errno));
		return -errno;
	}
	if (sb.st_uid != geteuid()) {
		swerve_log_reason(err, errlen,
				  "table %s belongs to uid %u, not "
				  "to us (uid %u)", name, (unsigned)sb.st_uid,
				  (unsigned)geteuid());
		return -EACCES;
	}
	memset(link, 0, sizeof(*link));
	if (sb.st_size == 0)
		return 1; /* created, not yet sized */
	n = pread(fd, link, sizeof(*link), 0);
	if (n != (ssize_t)sizeof(*link) || sb.st_size > LINK_BYTES) {
		swerve_log_reason(err, errlen, "table %s has a size of %lld "
				  "bytes: not a swerve table", name,
				  (long long)sb.st_size);
		return -EPROTO;
	}
	if (link->magic == 0)
		return 1;
	if (link->magic != LINK_MAGIC) {
		swerve_log_reason(err, errlen, "table %s is not a swerve table "
				  "(magic %#llx)", name,
				  (unsigned long long)link->magic);
		return -EPROTO;
	}
	/* A torn read of a record being written: look again, in a while. */
	return link->sum == link_sum(link) ? 0 : 1;
}

/* Waits for a complete record, as long as the creation wait allows. */
static int wait_link(int fd, const char *name, struct shm_link *link,
		     char *err, size_t errlen)
{
	uint64_t deadline = swerve_now_ms() + SHM_WAIT_MS;
	int rc;

	while ((rc = read_link(fd, name, link, err, errlen)) == 1) {
		if (wait_step(deadline))
			continue;
		if (link->magic == LINK_MAGIC) {
			swerve_log_reason(err, errlen, "table %s is damaged: "
					  "its record does not add up; remove "
					  "it with swervectl reset", name);
			return -EPROTO;
		}
		return refuse_unready(link->creator_pid != 0 ? link : NULL,
				      name, err, errlen);
	}
	if (rc == 0 && link->version != SWERVE_SHM_VERSION) {
		swerve_log_reason(err, errlen,
				  "table %s has layout version %u, "
				  "this swerve uses %u; remove it with "
				  "swervectl reset once no program uses it",
				  name, link->version, SWERVE_SHM_VERSION);
		return -EPROTO;
	}
	return rc;
}

/* Checks the segment <link> names before it is mapped: ours, 0600, its
 * size sane. Returns the size, or 0 with a reason in <err>. */
static size_t check_segment(const struct shm_link *link, const char *name,
			    int *rc, char *err, size_t errlen)
{
	struct shmid_ds ds;

	if (shmctl(link->shmid, IPC_STAT, &ds) == -1) {
		/* -EIDRM: gone, a new one may take its place (renew). */
		*rc = errno == EACCES ? -EACCES : -EIDRM;
		swerve_log_reason(err, errlen,
				  "table %s names segment %d, which "
				  "%s; remove it with swervectl reset", name,
				  link->shmid, errno == EACCES ?
				  "is not ours" : "no longer exists");
		return 0;
	}
	*rc = -EACCES;
	if (ds.shm_perm.uid != geteuid() || ds.shm_perm.cuid != geteuid() ||
	    (ds.shm_perm.mode & 0777) != 0600) {
		swerve_log_reason(err, errlen,
				  "table %s names a segment of uid "
				  "%u, mode %o, not ours", name,
				  (unsigned)ds.shm_perm.uid,
				  (unsigned)(ds.shm_perm.mode & 0777));
		return 0;
	}
	*rc = -EPROTO;
	if (ds.shm_segsz != link->size ||
	    ds.shm_segsz < sizeof(struct swerve_shm_header) ||
	    ds.shm_segsz > swerve_shm_bytes(SHM_MAX_ROWS, SHM_MAX_EVENTS)) {
		swerve_log_reason(err, errlen, "table %s has a segment of %zu "
				  "bytes: not a swerve table", name,
				  (size_t)ds.shm_segsz);
		return 0;
	}
	return ds.shm_segsz;
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

/* Maps the segment <link> names (<size> bytes) and validates it. */
static int map_table(const struct shm_link *link, size_t size,
		     const char *name, struct swerve_shm *out, char *err,
		     size_t errlen)
{
	struct swerve_shm_header *hdr;
	uint32_t nrows, nevents = 0, bad;
	int rc;

	hdr = shmat(link->shmid, NULL, 0);
	if (hdr == (void *)-1) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot map table %s: %s", name,
				  strerror(-rc));
		return rc;
	}
	nrows = check_header(hdr, size, link->nonce, name, &nevents, err,
			     errlen);
	bad = nrows != 0 ? first_bad_row((struct swerve_shm_row *)(hdr + 1),
					 nrows) : 0;
	if (nrows == 0 || bad < nrows) {
		if (nrows != 0)
			swerve_log_reason(err, errlen, "table %s was written "
					  "over (row %u); remove it with "
					  "swervectl reset", name, bad);
		shmdt(hdr);
		return -EPROTO;
	}
	swerve_shm_fill(out, hdr, size, nrows, nevents, true, name);
	return 0;
}

/*
 * The segment the record of <fd> names is gone (removed by hand, or by
 * kernel.shm_rmid_forced once nobody had it mapped), though the name is
 * still there. The process that gets the file's flock makes a new segment
 * and rewrites the record; the others wait for it. Returns 0 with <out>
 * attached, 1 when another process renews it (look again), or -errno.
 */
static int renew(int fd, const char *name, const struct shm_link *gone,
		 struct swerve_shm *out, char *err, size_t errlen)
{
	struct shm_link now;
	struct stat sb;
	int rc = 1;

	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		return 1;
	/* Renewed while we looked? Then attach that. */
	if (read_link(fd, name, &now, NULL, 0) == 0 &&
	    now.shmid == gone->shmid && now.nonce == gone->nonce &&
	    fstat(fd, &sb) == 0)
		rc = make_segment(fd, name, (uint64_t)sb.st_dev, out, err,
				  errlen);
	flock(fd, LOCK_UN);
	return rc;
}

/*
 * Attacher's half: <fd> is a name somebody else made. Waits for its
 * creator if needed, validates, and maps the segment it names; with
 * <create>, renews a segment that is gone.
 */
static int attach_table(int fd, const char *name, bool create,
			struct swerve_shm *out, char *err, size_t errlen)
{
	uint64_t deadline = swerve_now_ms() + SHM_WAIT_MS;
	struct shm_link link;
	size_t size;
	int rc;

	for (;;) {
		rc = wait_link(fd, name, &link, err, errlen);
		if (rc != 0)
			return rc;
		size = check_segment(&link, name, &rc, err, errlen);
		if (size != 0)
			return map_table(&link, size, name, out, err, errlen);
		if (rc != -EIDRM || !create)
			return rc == -EIDRM ? -EPROTO : rc;
		rc = renew(fd, name, &link, out, err, errlen);
		if (rc <= 0 || !wait_step(deadline))
			return rc <= 0 ? rc : -EAGAIN;
	}
}

static void sweep_orphans(void);

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
				if (rc == 0)
					sweep_orphans();
				return rc;
			}
			if (errno != EEXIST)
				break;
		}
		/* Read-write only to renew a segment that is gone. */
		fd = shm_open(name, (create ? O_RDWR : O_RDONLY) | O_CLOEXEC,
			      0);
		if (fd != -1) {
			rc = attach_table(fd, name, create, out, err, errlen);
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
		swerve_log_reason(err, errlen,
				  "table %s belongs to another user "
				  "and is not accessible", name);
	else
		swerve_log_reason(err, errlen, "cannot open table %s: %s", name,
				  strerror(-rc));
	return rc;
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
	swerve_shm_init(map, SWERVE_SHM_ROWS, new_nonce(), 0, "(private)");
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

/* Reads the record of the name <name>: 0, -ENOENT, or another -errno. */
static int link_of(const char *name, struct shm_link *link)
{
	int fd, rc;

	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	rc = read_link(fd, name, link, NULL, 0);
	swerve_libc_close(fd);
	return rc == 0 ? 0 : -EPROTO;
}

int swerve_shm_unlink(const char *name)
{
	struct shm_link link;
	struct shmid_ds ds;
	int rc;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	if (link_of(name, &link) == 0 &&
	    shmctl(link.shmid, IPC_STAT, &ds) == 0 &&
	    ds.shm_perm.uid == geteuid() && ds.shm_segsz == link.size)
		shmctl(link.shmid, IPC_RMID, NULL);
	rc = shm_unlink(name) == -1 ? -errno : 0;
	sweep_orphans();
	return rc;
}

/* Removes segment <id> if it is an unattached table that its name no
 * longer leads to, on the /dev/shm of device <dev>. */
static void sweep_one(int id, uint64_t dev)
{
	struct swerve_shm_header *hdr;
	struct shm_link link;
	char name[128];
	uint64_t nonce;
	bool ours;

	hdr = shmat(id, NULL, SHM_RDONLY);
	if (hdr == (void *)-1)
		return;
	ours = __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE) ==
		       SWERVE_SHM_MAGIC &&
	       hdr->version == SWERVE_SHM_VERSION && hdr->link_dev == dev;
	nonce = hdr->nonce;
	memcpy(name, hdr->name, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	shmdt(hdr);
	if (!ours || name[0] != '/')
		return;
	switch (link_of(name, &link)) {
	case 0:
		if (link.shmid == id && link.nonce == nonce)
			return;
		break;
	case -ENOENT:
		break;
	default:
		return; /* cannot tell: leave it */
	}
	shmctl(id, IPC_RMID, NULL);
}

static void sweep_orphans(void)
{
	size_t size = swerve_shm_bytes(SWERVE_SHM_ROWS, SWERVE_SHM_EVENTS);
	unsigned long nattch, segsz;
	unsigned uid, cuid, perms;
	int key, id, n;
	char line[512];
	struct stat sb;
	FILE *f;

	if (stat(SHM_DIR, &sb) == -1)
		return;
	f = fopen("/proc/sysvipc/shm", "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		n = sscanf(line, "%d %d %o %lu %*d %*d %lu %u %*u %u", &key,
			   &id, &perms, &segsz, &nattch, &uid, &cuid);
		if (n == 7 && key == IPC_PRIVATE && nattch == 0 &&
		    segsz == size && uid == geteuid() && cuid == geteuid())
			sweep_one(id, (uint64_t)sb.st_dev);
	}
	fclose(f);
}
