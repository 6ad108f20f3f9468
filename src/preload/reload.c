/*
 * reload.c: running programs follow edits of their config file. On the resolve
 * and connect paths, at most once a second, one stat() of the file compares its
 * identity (device, inode) and its change times and size with what was loaded
 * last: an edit in place changes the times, an atomic rename (mv, as config
 * managers write) the inode. A changed file whose mtime is less than QUIET_MS
 * old may still be being written (a truncate, then the writes): it is looked at
 * again QUIET_MS later. A changed, quiet file is loaded as init loads it; a
 * good one becomes a new generation (gens.c), published at once, while calls in
 * progress and open connections keep the generation they started with. A file
 * that fails to load is refused: the program keeps its last good config and
 * prints one line with the file and line of the first error; the same broken
 * file is not read again until it changes. `reload = false` in [swerve] stops
 * the checks (docs/design.md 4.10).
 *
 * What a reload cannot change in a running process: the table (shm), the
 * log file and tls_max_connections stay as init set them; a changed value
 * gets one line saying so.
 *
 * Thread-safety: the second's check is claimed by compare-and-swap on the
 * time of the next one, so one thread stats and loads while the others go
 * on with the current generation; nothing waits for it. The file's last
 * identity and the state of the lines are touched only by that thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "base/swerve.h"
#include "policy/config.h"
#include "preload/preload.h"

/* How often the file is looked at, at most. */
#define CHECK_MS 1000
/* next_check_ms when reloading is off. */
#define CHECK_OFF UINT64_MAX
/* A file written less than this long ago may be half written (an editor
 * or `cat >` truncates, then writes): it is looked at again this much
 * later rather than loaded. */
#define QUIET_MS 200

/* What stat() said of the file when it was last read. */
struct file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

static _Atomic uint64_t next_check_ms = CHECK_OFF;
/* Set while a thread checks or loads: a load that takes longer than a
 * second is not joined by the next second's check. */
static atomic_flag busy = ATOMIC_FLAG_INIT;
static char path[PATH_MAX];
static struct file_id seen;
/* The last line said: the file is missing, or generations are busy. */
static bool said_missing, said_busy;

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev &&
	       a->ino == b->ino && a->size == b->size &&
	       same_time(&a->mtime, &b->mtime) &&
	       same_time(&a->ctime, &b->ctime);
}

static void file_stat(struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) != 0)
		return;
	id->exists = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	id->ctime = st.st_ctim;
}

void swerve_reload_begin(const char *cfg_path)
{
	snprintf(path, sizeof(path), "%s", cfg_path);
	file_stat(&seen);
}

void swerve_reload_after_fork(void)
{
	/* A thread of the parent may have been loading: it does not exist
	 * here, and its claim must not keep this child from reloading. */
	atomic_flag_clear(&busy);
}

void swerve_reload_arm(const struct swerve_config *cfg)
{
	atomic_store_explicit(&next_check_ms,
			      cfg->reload ? swerve_now_coarse_ms() + CHECK_MS
					  : CHECK_OFF,
			      memory_order_relaxed);
}

/* One line for each setting that only a restart changes. */
static void note_restart_only(const struct swerve_config *old,
			      const struct swerve_config *cfg)
{
	if (strcmp(old->shm_name, cfg->shm_name) != 0)
		swerve_log(SWERVE_LOG_WARN, "%s: shm changed; this process "
			   "keeps table %s until it restarts", cfg->path,
			   old->shm_name);
	if (strcmp(old->log_file, cfg->log_file) != 0)
		swerve_log(SWERVE_LOG_WARN, "%s: log_file changed; this "
			   "process keeps the old one until it restarts",
			   cfg->path);
	if (old->tls_max_connections != cfg->tls_max_connections)
		swerve_log(SWERVE_LOG_WARN, "%s: tls_max_connections changed; "
			   "this process keeps %u until it restarts",
			   cfg->path, old->tls_max_connections);
}

/*
 * Loads the file and makes it current. False when it could not be made
 * current for a reason that may pass (earlier generations still in use):
 * the next check tries again.
 */
static bool reload(void)
{
	struct swerve_gen *old = swerve_gens_current(), *g;
	struct swerve_config *cfg = NULL;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = swerve_config_load(path, true, &cfg, NULL, NULL, err,
				sizeof(err));
	if (rc != 0) {
		swerve_log(SWERVE_LOG_ERROR, "%s; the configuration loaded "
			   "before stays in use",
			   err[0] != '\0' ? err : strerror(-rc));
		return true;
	}
	swerve_gens_reap();
	rc = swerve_gens_build(cfg, &g, err, sizeof(err));
	if (rc != 0) {
		if (rc != -EBUSY || !said_busy)
			swerve_log(SWERVE_LOG_WARN, "%s: not reloaded yet: %s",
				   path, err);
		said_busy = rc == -EBUSY;
		swerve_config_free(cfg);
		return rc != -EBUSY;
	}
	said_busy = false;
	if (swerve_http_init(cfg) != 0)
		swerve_log(SWERVE_LOG_WARN,
			   "no memory to follow HTTP; protocol = http services "
			   "count connect outcomes only in this process");
	note_restart_only(old->cfg, cfg);
	swerve_log_set_level(cfg->log_level);
	swerve_gens_publish(g);
	swerve_gens_reap();
	swerve_log(SWERVE_LOG_INFO, "%s reloaded: %u services%s", path,
		   cfg->nservices,
		   cfg->reload ? "" : "; reload = false: edits are no "
				      "longer followed");
	if (!cfg->reload)
		atomic_store_explicit(&next_check_ms, CHECK_OFF,
				      memory_order_relaxed);
	return true;
}

/* Whether <t> (the file's mtime) is within QUIET_MS of the wall clock. */
static bool is_recent(const struct timespec *t)
{
	struct timespec wall;
	int64_t ms;

	clock_gettime(CLOCK_REALTIME, &wall);
	ms = (int64_t)(wall.tv_sec - t->tv_sec) * 1000 +
	     (wall.tv_nsec - t->tv_nsec) / 1000000;
	return ms > -QUIET_MS && ms < QUIET_MS;
}

/* The claimed check of a second: one stat, and a reload on a change. */
static void check(void)
{
	struct file_id now;

	file_stat(&now);
	if (!now.exists) {
		if (!said_missing)
			swerve_log(SWERVE_LOG_WARN, "%s: %s; the configuration "
				   "loaded before stays in use", path,
				   strerror(errno));
		said_missing = true;
		seen = now;
		return;
	}
	said_missing = false;
	if (same_id(&now, &seen) && !said_busy) {
		swerve_gens_reap();
		return;
	}
	if (is_recent(&now.mtime)) {
		/* Not loaded half written: looked at again once quiet. */
		atomic_store_explicit(&next_check_ms,
				      swerve_now_coarse_ms() + QUIET_MS,
				      memory_order_relaxed);
		return;
	}
	if (reload())
		seen = now;
}

void swerve_reload_check(void)
{
	uint64_t next = atomic_load_explicit(&next_check_ms,
					     memory_order_relaxed);
	uint64_t now;
	int saved;

	if (next == CHECK_OFF)
		return;
	/* Every connect() and lookup of the program asks: the coarse clock,
	 * a few ms late at most, costs no TSC read. */
	now = swerve_now_coarse_ms();
	if (now < next ||
	    !atomic_compare_exchange_strong_explicit(
		    &next_check_ms, &next, now + CHECK_MS,
		    memory_order_relaxed, memory_order_relaxed))
		return;
	saved = errno;
	/* Loading allocates and opens files: never in a signal handler,
	 * never in a vfork() child (it would build its parent's state). */
	if (!swerve_signals_in_handler() && swerve_runtime_enter()) {
		if (!atomic_flag_test_and_set(&busy)) {
			check();
			atomic_flag_clear(&busy);
		}
		swerve_runtime_leave();
	}
	errno = saved;
}
