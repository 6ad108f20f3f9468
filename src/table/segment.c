/*
 * segment.c: where a host-wide shared segment lives (segment.h), for
 * every kind: how a process finds, creates, validates, renews and removes
 * it, and the sweep of segments that no name leads to.
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
 * unlimited instance of tmpfs, not from /dev/shm. So each segment is a
 * SysV segment (IPC_PRIVATE, mode 0600), and the POSIX name is a one-page
 * file of mode 0600 that says which segment it is: the owner, the
 * permissions and the name behave as a POSIX object's would, and the file
 * is only ever read with pread(), never mapped, so truncating or filling
 * it costs nobody anything but the name.
 *
 * Creation races. Any process may be the first to run with swerve, so
 * every one tries shm_open(O_CREAT | O_EXCL) on the name and exactly one
 * wins. The winner reserves the file's page with posix_fallocate (no page
 * left in /dev/shm: the name is removed again and the caller falls back,
 * with one line on stderr), writes its pid and the time into it, creates
 * and fills the segment, and then writes the file's record completely,
 * the magic and a checksum included. Others read the record and wait, at
 * most about 50 ms, until it is complete. A creator that died half-way
 * leaves a record that never completes: nobody can tell a slow creator
 * from a dead one without racing it, so such a segment is refused
 * (-EAGAIN, with the creator's pid and "swervectl reset" in the reason)
 * and never re-initialised in place.
 *
 * Validation. An attacher checks the file (owner, size, magic, version,
 * checksum), the segment (its owner, mode 0600 and size, with IPC_STAT,
 * before mapping it) and, through its kind, what is inside (the nonce the
 * file and the segment share, so that a segment id reused by the kernel
 * is not mistaken for ours, and the kind's own shape).
 *
 * Orphans. A segment lives until it is removed, and only the name leads to
 * it. A creator that died before writing the record, or a name removed by
 * shm_unlink alone, leaves a segment nobody can find. Each creation and
 * each swerve_segment_unlink() therefore removes this user's unattached
 * segments of the kind whose name (kept in their header) no longer leads
 * to them, on the same /dev/shm (a segment named from another mount
 * namespace's /dev/shm is not ours to judge).
 *
 * Thread-safety: as segment.h says.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "table/segment.h"

/* The file behind the name: one page, reserved at creation. */
#define LINK_BYTES 4096
/* How long an attacher waits for a creator that is half-way. */
#define SEG_WAIT_MS 50
#define SEG_WAIT_STEP_NS 1000000L
/* A creator needs about a millisecond; a segment this old is abandoned. */
#define SEG_STALE_MS 5000u
/* Where glibc's shm_open keeps its names. */
#define SHM_DIR "/dev/shm"

/* The record in the file behind the name, read and written with pread and
 * pwrite at offset 0. */
struct seg_link {
	uint64_t magic;       /* the kind's link magic once complete, 0 before */
	uint32_t version;     /* the kind's layout version */
	uint32_t creator_pid;
	uint64_t created_ms;
	uint64_t nonce;       /* also in the segment's header */
	uint64_t size;        /* bytes of the segment */
	int32_t shmid;
	uint32_t pad;
	uint64_t sum;         /* of everything above: a torn read shows */
};

static uint64_t link_sum(const struct seg_link *l)
{
	return swerve_hash64(l, offsetof(struct seg_link, sum),
			     SWERVE_HASH_SEED);
}

uint64_t swerve_segment_nonce(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = swerve_now_ms() ^ (uint64_t)getpid() << 40 ^
		    (uint64_t)(uintptr_t)&v;
	return v != 0 ? v : 1;
}

/* Validates the segment mapped at <map> and fills <out> with it. */
static int adopt(const struct swerve_segment_kind *k, void *map, size_t size,
		 uint64_t nonce, const char *name, struct swerve_segment *out,
		 char *err, size_t errlen)
{
	int rc = k->check(map, size, nonce, name, out->shape, err, errlen);

	if (rc != 0)
		return rc;
	out->map = map;
	out->size = size;
	out->nonce = nonce;
	return 0;
}

/*
 * Makes a new segment for the name whose file is <fd> (on device <dev>),
 * fills it, and writes the complete record into the file, last. Returns
 * 0 with <out> attached, or -errno with nothing left behind.
 */
static int make_segment(const struct swerve_segment_kind *k, int fd,
			const char *name, uint64_t dev,
			struct swerve_segment *out, char *err, size_t errlen)
{
	struct seg_link link = { 0 };
	void *map = (void *)-1;
	int id, rc;

	link.creator_pid = (uint32_t)getpid();
	link.created_ms = swerve_now_ms();
	link.nonce = swerve_segment_nonce();
	link.size = k->size;
	link.version = k->version;
	id = shmget(IPC_PRIVATE, k->size, IPC_CREAT | IPC_EXCL | 0600);
	if (id == -1 || (map = shmat(id, NULL, 0)) == (void *)-1)
		goto fail;
	k->init(map, link.nonce, dev, name);
	rc = adopt(k, map, k->size, link.nonce, name, out, err, errlen);
	if (rc != 0) {
		errno = -rc;
		goto fail;
	}
	link.shmid = id;
	link.magic = k->link_magic;
	link.sum = link_sum(&link);
	if (pwrite(fd, &link, sizeof(link), 0) == (ssize_t)sizeof(link))
		return 0;
	errno = errno != 0 ? errno : EIO;
	memset(out, 0, sizeof(*out));
fail:
	rc = errno;
	swerve_log_reason(err, errlen, "cannot create %s %s: %s", k->what,
			  name, strerror(rc));
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
static int create_segment(const struct swerve_segment_kind *k, int fd,
			  const char *name, struct swerve_segment *out,
			  char *err, size_t errlen)
{
	struct seg_link link = { 0 };
	struct stat sb;
	int rc;

	/* The umask may have taken bits away (even ours): restate 0600. */
	if (fchmod(fd, 0600) == -1 || fstat(fd, &sb) == -1) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot set up %s %s: %s",
				  k->what, name, strerror(-rc));
		goto fail;
	}
	rc = -posix_fallocate(fd, 0, LINK_BYTES);
	if (rc != 0) {
		swerve_log_reason(err, errlen,
				  "cannot reserve a page for %s "
				  "%s in " SHM_DIR ": %s", k->what, name,
				  strerror(-rc));
		goto fail;
	}
	/* Attachers show who is creating it while we work. */
	link.creator_pid = (uint32_t)getpid();
	link.created_ms = swerve_now_ms();
	if (pwrite(fd, &link, sizeof(link), 0) != (ssize_t)sizeof(link)) {
		rc = -EIO;
		swerve_log_reason(err, errlen, "cannot write %s %s", k->what,
				  name);
		goto fail;
	}
	rc = make_segment(k, fd, name, (uint64_t)sb.st_dev, out, err,
			  errlen);
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
	struct timespec ts = { 0, SEG_WAIT_STEP_NS };

	if (swerve_now_ms() >= deadline_ms)
		return false;
	nanosleep(&ts, NULL); /* EINTR just shortens the step */
	return true;
}

/*
 * Explains a segment that never finished creation, from what its creator
 * managed to write into <link> (which may be NULL: not even sized).
 */
static int refuse_unready(const struct swerve_segment_kind *k,
			  const struct seg_link *link, const char *name,
			  char *err, size_t errlen)
{
	uint32_t pid = link != NULL ? link->creator_pid : 0;
	uint64_t created = link != NULL ? link->created_ms : 0;
	uint64_t now = swerve_now_ms();

	if (pid == 0)
		swerve_log_reason(err, errlen, "%s %s was left half-created "
				  "by an unknown process; remove it with "
				  "swervectl reset", k->what, name);
	else if (pid_is_dead(pid) || created == 0 || created > now ||
		 now - created > SEG_STALE_MS)
		swerve_log_reason(err, errlen, "%s %s was left half-created "
				  "by pid %u; remove it with swervectl reset",
				  k->what, name, pid);
	else
		swerve_log_reason(err, errlen,
				  "%s %s is still being created "
				  "by pid %u; try again", k->what, name, pid);
	return -EAGAIN;
}

/* Reads the file's record into <link>; 0, 1 (incomplete) or -errno. */
static int read_link(const struct swerve_segment_kind *k, int fd,
		     const char *name, struct seg_link *link, char *err,
		     size_t errlen)
{
	struct stat sb;
	ssize_t n;

	if (fstat(fd, &sb) == -1) {
		swerve_log_reason(err, errlen, "cannot stat %s %s: %s",
				  k->what, name, strerror(errno));
		return -errno;
	}
	if (sb.st_uid != geteuid()) {
		swerve_log_reason(err, errlen,
				  "%s %s belongs to uid %u, not "
				  "to us (uid %u)", k->what, name,
				  (unsigned)sb.st_uid, (unsigned)geteuid());
		return -EACCES;
	}
	memset(link, 0, sizeof(*link));
	if (sb.st_size == 0)
		return 1; /* created, not yet sized */
	n = pread(fd, link, sizeof(*link), 0);
	if (n != (ssize_t)sizeof(*link) || sb.st_size > LINK_BYTES) {
		swerve_log_reason(err, errlen, "%s %s has a size of %lld "
				  "bytes: not a swerve %s", k->what, name,
				  (long long)sb.st_size, k->what);
		return -EPROTO;
	}
	if (link->magic == 0)
		return 1;
	if (link->magic != k->link_magic) {
		swerve_log_reason(err, errlen, "%s %s is not a swerve %s "
				  "(magic %#llx)", k->what, name, k->what,
				  (unsigned long long)link->magic);
		return -EPROTO;
	}
	/* A torn read of a record being written: look again, in a while. */
	return link->sum == link_sum(link) ? 0 : 1;
}

/* Waits for a complete record, as long as the creation wait allows. */
static int wait_link(const struct swerve_segment_kind *k, int fd,
		     const char *name, struct seg_link *link, char *err,
		     size_t errlen)
{
	uint64_t deadline = swerve_now_ms() + SEG_WAIT_MS;
	int rc;

	while ((rc = read_link(k, fd, name, link, err, errlen)) == 1) {
		if (wait_step(deadline))
			continue;
		if (link->magic == k->link_magic) {
			swerve_log_reason(err, errlen, "%s %s is damaged: "
					  "its record does not add up; remove "
					  "it with swervectl reset", k->what,
					  name);
			return -EPROTO;
		}
		return refuse_unready(k, link->creator_pid != 0 ? link : NULL,
				      name, err, errlen);
	}
	if (rc == 0 && link->version != k->version) {
		swerve_log_reason(err, errlen,
				  "%s %s has layout version %u, "
				  "this swerve uses %u; remove it with "
				  "swervectl reset once no program uses it",
				  k->what, name, link->version, k->version);
		return -EPROTO;
	}
	return rc;
}

/* Checks the segment <link> names before it is mapped: ours, 0600, its
 * size sane. Returns the size, or 0 with a reason in <err>. */
static size_t check_segment(const struct swerve_segment_kind *k,
			    const struct seg_link *link, const char *name,
			    int *rc, char *err, size_t errlen)
{
	struct shmid_ds ds;

	if (shmctl(link->shmid, IPC_STAT, &ds) == -1) {
		/* -EIDRM: gone, a new one may take its place (renew). */
		*rc = errno == EACCES ? -EACCES : -EIDRM;
		swerve_log_reason(err, errlen,
				  "%s %s names segment %d, which "
				  "%s; remove it with swervectl reset",
				  k->what, name, link->shmid,
				  errno == EACCES ? "is not ours"
						  : "no longer exists");
		return 0;
	}
	*rc = -EACCES;
	if (ds.shm_perm.uid != geteuid() || ds.shm_perm.cuid != geteuid() ||
	    (ds.shm_perm.mode & 0777) != 0600) {
		swerve_log_reason(err, errlen,
				  "%s %s names a segment of uid "
				  "%u, mode %o, not ours", k->what, name,
				  (unsigned)ds.shm_perm.uid,
				  (unsigned)(ds.shm_perm.mode & 0777));
		return 0;
	}
	*rc = -EPROTO;
	if (ds.shm_segsz != link->size || ds.shm_segsz < k->min_size ||
	    ds.shm_segsz > k->max_size) {
		swerve_log_reason(err, errlen, "%s %s has a segment of %zu "
				  "bytes: not a swerve %s", k->what, name,
				  (size_t)ds.shm_segsz, k->what);
		return 0;
	}
	return ds.shm_segsz;
}

/* Maps the segment <link> names (<size> bytes) and validates it. */
static int map_segment(const struct swerve_segment_kind *k,
		       const struct seg_link *link, size_t size,
		       const char *name, struct swerve_segment *out,
		       char *err, size_t errlen)
{
	void *map;
	int rc;

	map = shmat(link->shmid, NULL, 0);
	if (map == (void *)-1) {
		rc = -errno;
		swerve_log_reason(err, errlen, "cannot map %s %s: %s",
				  k->what, name, strerror(-rc));
		return rc;
	}
	rc = adopt(k, map, size, link->nonce, name, out, err, errlen);
	if (rc != 0)
		shmdt(map);
	return rc;
}

/*
 * The segment the record of <fd> names is gone (removed by hand, or by
 * kernel.shm_rmid_forced once nobody had it mapped), though the name is
 * still there. The process that gets the file's flock makes a new segment
 * and rewrites the record; the others wait for it. Returns 0 with <out>
 * attached, 1 when another process renews it (look again), or -errno.
 */
static int renew(const struct swerve_segment_kind *k, int fd,
		 const char *name, const struct seg_link *gone,
		 struct swerve_segment *out, char *err, size_t errlen)
{
	struct seg_link now;
	struct stat sb;
	int rc = 1;

	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		return 1;
	/* Renewed while we looked? Then attach that. */
	if (read_link(k, fd, name, &now, NULL, 0) == 0 &&
	    now.shmid == gone->shmid && now.nonce == gone->nonce &&
	    fstat(fd, &sb) == 0)
		rc = make_segment(k, fd, name, (uint64_t)sb.st_dev, out, err,
				  errlen);
	flock(fd, LOCK_UN);
	return rc;
}

/*
 * Attacher's half: <fd> is a name somebody else made. Waits for its
 * creator if needed, validates, and maps the segment it names; with
 * <create>, renews a segment that is gone.
 */
static int attach_segment(const struct swerve_segment_kind *k, int fd,
			  const char *name, bool create,
			  struct swerve_segment *out, char *err,
			  size_t errlen)
{
	uint64_t deadline = swerve_now_ms() + SEG_WAIT_MS;
	struct seg_link link;
	size_t size;
	int rc;

	for (;;) {
		rc = wait_link(k, fd, name, &link, err, errlen);
		if (rc != 0)
			return rc;
		size = check_segment(k, &link, name, &rc, err, errlen);
		if (size != 0)
			return map_segment(k, &link, size, name, out, err,
					   errlen);
		if (rc != -EIDRM || !create)
			return rc == -EIDRM ? -EPROTO : rc;
		rc = renew(k, fd, name, &link, out, err, errlen);
		if (rc <= 0 || !wait_step(deadline))
			return rc <= 0 ? rc : -EAGAIN;
	}
}

static void sweep_orphans(const struct swerve_segment_kind *k);

/* Why the name could not be opened (<rc>), into <err>. */
static int open_failed(const struct swerve_segment_kind *k, const char *name,
		       int rc, char *err, size_t errlen)
{
	if (rc == -ENOENT)
		swerve_log_reason(err, errlen, "%s %s does not exist", k->what,
				  name);
	else if (rc == -EACCES)
		swerve_log_reason(err, errlen,
				  "%s %s belongs to another user "
				  "and is not accessible", k->what, name);
	else
		swerve_log_reason(err, errlen, "cannot open %s %s: %s",
				  k->what, name, strerror(-rc));
	return rc;
}

int swerve_segment_attach(const struct swerve_segment_kind *k,
			  const char *name, bool create,
			  struct swerve_segment *out, char *err,
			  size_t errlen)
{
	int tries, fd, rc;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || name[0] == '\0' ||
	    strlen(name) >= SWERVE_SEGMENT_NAME_MAX) {
		swerve_log_reason(err, errlen, "bad %s name '%s'", k->what,
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
				rc = create_segment(k, fd, name, out, err,
						    errlen);
				swerve_libc_close(fd);
				if (rc == 0)
					sweep_orphans(k);
				return rc;
			}
			if (errno != EEXIST)
				break;
		}
		/* Read-write only to renew a segment that is gone. */
		fd = shm_open(name, (create ? O_RDWR : O_RDONLY) | O_CLOEXEC,
			      0);
		if (fd != -1) {
			rc = attach_segment(k, fd, name, create, out, err,
					    errlen);
			swerve_libc_close(fd);
			return rc;
		}
		if (errno != ENOENT || !create)
			break;
	}
	return open_failed(k, name, -errno, err, errlen);
}

/* Reads the record of the name <name>: 0, -ENOENT, or another -errno. */
static int link_of(const struct swerve_segment_kind *k, const char *name,
		   struct seg_link *link)
{
	int fd, rc;

	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	rc = read_link(k, fd, name, link, NULL, 0);
	swerve_libc_close(fd);
	return rc == 0 ? 0 : -EPROTO;
}

int swerve_segment_unlink(const struct swerve_segment_kind *k,
			  const char *name)
{
	struct seg_link link;
	struct shmid_ds ds;
	int rc;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	if (link_of(k, name, &link) == 0 &&
	    shmctl(link.shmid, IPC_STAT, &ds) == 0 &&
	    ds.shm_perm.uid == geteuid() && ds.shm_segsz == link.size)
		shmctl(link.shmid, IPC_RMID, NULL);
	rc = shm_unlink(name) == -1 ? -errno : 0;
	sweep_orphans(k);
	return rc;
}

/* Removes segment <id> if it is an unattached segment of kind <k> that
 * its name no longer leads to, on the /dev/shm of device <dev>. */
static void sweep_one(const struct swerve_segment_kind *k, int id,
		      uint64_t dev)
{
	char name[SWERVE_SEGMENT_NAME_MAX];
	struct seg_link link;
	uint64_t nonce = 0;
	void *map;
	bool ours;

	map = shmat(id, NULL, SHM_RDONLY);
	if (map == (void *)-1)
		return;
	ours = k->owner(map, dev, name, sizeof(name), &nonce);
	shmdt(map);
	if (!ours || name[0] != '/')
		return;
	switch (link_of(k, name, &link)) {
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

static void sweep_orphans(const struct swerve_segment_kind *k)
{
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
		    segsz == k->size && uid == geteuid() && cuid == geteuid())
			sweep_one(k, id, (uint64_t)sb.st_dev);
	}
	fclose(f);
}
