/*
 * log: one line per message on stderr, prefixed "swerve: ", filtered by level,
 * and, when a log file is set, appended to it. Never stdout; preserves
 * errno; formats into a stack buffer and writes it with one write(2)
 * through the libc door (never swerve's own write hook). Never writes to a
 * socket (but systemd's journal stream), to an fd 2 that is no longer the
 * process's original stderr, or with SIGPIPE deliverable (log.c).
 * It is not async-signal-safe: formatting uses vsnprintf, which POSIX does
 * not list as safe (glibc's does not allocate for the integer and string
 * conversions swerve uses, but takes no such promise).
 * The level is a process-wide atomic set once at init.
 */
#ifndef SWERVE_LOG_H
#define SWERVE_LOG_H

#include <stddef.h>

enum swerve_log_level {
	SWERVE_LOG_ERROR = 0,
	SWERVE_LOG_WARN = 1,
	SWERVE_LOG_INFO = 2,
	SWERVE_LOG_DEBUG = 3,
};

/* Sets the level below which messages are dropped. Any thread. */
void swerve_log_set_level(enum swerve_log_level level);

/* True when a message at <level> would be written. */
int swerve_log_enabled(enum swerve_log_level level);

/*
 * Writes "swerve: <message>\n" to stderr when <level> is enabled. Lines are
 * cut at 512 bytes. errno is preserved.
 */
void swerve_log(enum swerve_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Formats a human reason into the caller's message buffer <err> of <errlen>
 * bytes (the "char *err, size_t errlen" pair of every function a person
 * reads the error of); does nothing when <err> is NULL or <errlen> 0.
 */
void swerve_log_reason(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Appends every line from now on to <path> as well (an absolute path; NULL,
 * "" or a relative path: none), with the UTC time and the program's name
 * and pid in front. Only a regular file is written; it is opened for each
 * line and closed again. Called at init, before other threads log.
 */
void swerve_log_set_file(const char *path);

/*
 * Takes what fd 2 is now as the process's own stderr: for a program that
 * sets its stderr up deliberately after start (a test capturing it), not
 * for the library, which only trusts the fd 2 the process started with.
 */
void swerve_log_use_stderr(void);

/* Parses "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int swerve_log_parse_level(const char *s, enum swerve_log_level *out);

#endif
