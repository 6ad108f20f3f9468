/*
 * log.c: stderr lines for a library that lives in someone else's process.
 * Formatting goes to a stack buffer and out with a single write(2), so a
 * line is never interleaved with another thread's and nothing is allocated.
 *
 * fd 2 is the host's, not swerve's, and a line written to the wrong thing
 * can do harm: into a socket (inetd, systemd Accept=yes) it lands in a
 * client's protocol stream; into a pipe whose reader is gone it raises
 * SIGPIPE, which kills a program that does not ignore it; into a file the
 * program opened after closing its stderr it corrupts the program's data.
 * So a line goes to fd 2 only while fd 2 is still the file the process
 * started with (same device and inode as when the library was loaded),
 * open for writing, and not a socket, unless that socket is systemd's
 * journal stream (JOURNAL_STREAM names it); and SIGPIPE is blocked around
 * the write, a SIGPIPE it raised consumed before it is unblocked.
 *
 * log_file, when set, gets every line too, with the time and the process:
 * opened for each line (O_APPEND, so lines of several processes do not mix)
 * and closed again, because the library keeps no descriptor open; only a
 * regular file is written to.
 *
 * Thread-safety: the level and the file are set at init (or by swervectl)
 * and read by every hook; the first look at fd 2 may race with another
 * thread's and both store the same values.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/libc.h"
#include "base/log.h"

/* Set at init (or by swervectl); read by every hook. */
static _Atomic int log_level = SWERVE_LOG_WARN;

/* What fd 2 was when the library was loaded. */
enum { STDERR_UNKNOWN = 0, STDERR_USABLE = 1, STDERR_NONE = 2 };
static _Atomic int stderr_state;
static dev_t stderr_dev;
static ino_t stderr_ino;
static bool stderr_journal; /* a socket, but systemd's journal stream */

/* log_file: written once before it is published, then only read. */
static char file_path[4096];
static _Atomic bool file_set;

void swerve_log_set_level(enum swerve_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

int swerve_log_enabled(enum swerve_log_level level)
{
	return (int)level <=
	       atomic_load_explicit(&log_level, memory_order_relaxed);
}

void swerve_log_set_file(const char *path)
{
	if (path == NULL || path[0] != '/' ||
	    strlen(path) >= sizeof(file_path)) {
		atomic_store(&file_set, false);
		return;
	}
	atomic_store(&file_set, false);
	memcpy(file_path, path, strlen(path) + 1);
	atomic_store(&file_set, true);
}

/* JOURNAL_STREAM="DEV:INODE" names fd 2 when systemd connected it to the
 * journal (systemd.exec(5)). */
static bool is_journal(const struct stat *st)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	       dev == (unsigned long long)st->st_dev &&
	       ino == (unsigned long long)st->st_ino;
}

/* Records what fd 2 is now: at load time, or at the first line if a hook
 * ran before the constructor. */
static void note_stderr(void)
{
	struct stat st;
	int saved = errno, state = STDERR_NONE;

	if (fstat(STDERR_FILENO, &st) == 0) {
		stderr_dev = st.st_dev;
		stderr_ino = st.st_ino;
		stderr_journal = S_ISSOCK(st.st_mode) && is_journal(&st);
		state = STDERR_USABLE;
	}
	atomic_store(&stderr_state, state);
	errno = saved;
}

void swerve_log_use_stderr(void)
{
	note_stderr();
}

__attribute__((constructor)) static void swerve_log_constructor(void)
{
	note_stderr();
}

/* Whether a line may go to fd 2 now (see the file comment). */
static bool stderr_usable(void)
{
	struct stat st;
	int fl;

	if (atomic_load(&stderr_state) == STDERR_UNKNOWN)
		note_stderr();
	if (atomic_load(&stderr_state) != STDERR_USABLE ||
	    fstat(STDERR_FILENO, &st) != 0 || st.st_dev != stderr_dev ||
	    st.st_ino != stderr_ino)
		return false;
	if (S_ISSOCK(st.st_mode) && !stderr_journal)
		return false;
	fl = fcntl(STDERR_FILENO, F_GETFL);
	return fl != -1 && (fl & O_ACCMODE) != O_RDONLY;
}

/*
 * write(2) with SIGPIPE blocked in this thread. A SIGPIPE the write raised
 * (EPIPE) is taken with sigtimedwait before the old mask comes back; one
 * that was pending before is left for the program.
 */
static void write_quietly(int fd, const char *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t w;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	w = swerve_libc_write(fd, buf, len);
	if (w == -1 && errno == EPIPE && !was_pending)
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Appends "<UTC time> <program>[<pid>] <line>" to log_file. */
static void write_file(const char *line, size_t len)
{
	char buf[700];
	struct timespec ts;
	struct tm tm;
	struct stat st;
	int fd, n;

	if (!atomic_load(&file_set))
		return;
	fd = open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
			     O_NOCTTY | O_NONBLOCK, 0600);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(buf, sizeof(buf),
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %.*s",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000,
			     program_invocation_short_name, (int)getpid(),
			     (int)len, line);
		if (n > 0 && (size_t)n >= sizeof(buf)) {
			n = (int)sizeof(buf) - 1;
			buf[n - 1] = '\n';
		}
		if (n > 0)
			write_quietly(fd, buf, (size_t)n);
	}
	swerve_libc_close(fd);
}

void swerve_log(enum swerve_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int saved_errno = errno;
	int n;

	if (!swerve_log_enabled(level))
		return;
	memcpy(buf, "swerve: ", 8);
	va_start(ap, fmt);
	n = vsnprintf(buf + 8, sizeof(buf) - 9, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	n += 8;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (stderr_usable())
		write_quietly(STDERR_FILENO, buf, (size_t)n);
	write_file(buf, (size_t)n);
	errno = saved_errno;
}

void swerve_log_reason(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int swerve_log_parse_level(const char *s, enum swerve_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum swerve_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}
